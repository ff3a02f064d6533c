/* check_evaluate.c — the pass over inputs (stats/gather.c) and what calib/evaluate*.c builds on
 * it: statistics of tensors in memory, logits delivered in order, unreadable images, timing
 * steps, top-k, and the per-layer error of weights. Results must not depend on the threads,
 * the batch or the shards; references are a plain loop over one executor, or hand values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calib/calib.h"
#include "check-util.h"
#include "graph/graph.h"
#include "io/io.h"
#include "onnx.pb-c.h"
#include "stats/stats.h"

#define N_IMAGES 40
#define CLASSES 10

static qc_graph *load_lenet(void)
{
    qc_graph *g;
    qc_error err;
    ck_assert_msg(qc_onnx_load("models/lenet.onnx", &g, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(qc_pass_fold_batchnorm(g, &err), QC_OK);
    return g;
}

static char *stats_text(const qc_stats *s)
{
    char *text = NULL;
    size_t size = 0;
    qc_error err;
    FILE *f = open_memstream(&text, &size);
    ck_assert_int_eq(qc_stats_write(s, f, &err), QC_OK);
    fclose(f);
    return text;
}

/* The first N_IMAGES images of data/calib decoded for lenet, and their names. */
static float *decode(const qc_image_set *set, const qc_preprocess *pp, int threads)
{
    float *px = malloc(sizeof(float) * 28 * 28 * N_IMAGES);
    qc_error err;
    ck_assert_msg(qc_eval_load_images(set, pp, N_IMAGES, &(qc_image_input){.channels = 1, .height = 28, .width = 28, .dims = {1, 1, 28, 28}}, threads, px, &err) == QC_OK, "%s",
                  err.msg);
    return px;
}

/* lenet's statistics over the first `limit` images of data/calib (per channel, histograms,
 * the default preprocessing pp of one channel), the image set left open in *set. */
static qc_stats *calib_stats(const qc_graph *g, int64_t limit, int threads, qc_image_set *set, qc_preprocess *pp)
{
    qc_error err;
    ck_assert_int_eq(qc_image_set_open(set, "data/calib", NULL, &err), QC_OK);
    qc_preprocess_default(pp, 1);
    qc_stats_options so = {.per_channel = true, .histograms = true, .pp = pp};
    qc_gather_options go = {.limit = limit, .batch = 16, .shard_n = 1, .threads = threads};
    qc_stats *s = NULL;
    ck_assert_msg(qc_stats_gather(g, set, pp, &so, &go, &s, &err) == QC_OK, "%s", err.msg);
    return s;
}

/* Statistics of tensors in memory: the same bytes as of the images they were decoded from,
 * whatever the threads, the batch and the shards. */
START_TEST(statistics_of_tensors_are_those_of_their_images_for_any_threads_batch_and_shards)
{
    qc_graph *g = load_lenet();
    qc_error err;
    qc_image_set set;
    qc_preprocess pp;
    qc_stats *s = calib_stats(g, N_IMAGES, 1, &set, &pp);
    qc_stats_options so = {.per_channel = true, .histograms = true, .pp = &pp};
    qc_gather_options go;
    char *want = stats_text(s);
    qc_stats_destroy(s);

    float *px = decode(&set, &pp, 2);
    const char *names[N_IMAGES];
    for (int i = 0; i < N_IMAGES; i++)
        names[i] = set.items[i].rel;
    qc_pass_inputs in = {.tensors = px, .n = N_IMAGES, .stride = 28 * 28, .names = names};
    const struct {
        int threads;
        int64_t batch;
    } runs[] = {{1, 1}, {2, 5}, {3, 64}, {2, 48}};
    for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
        go = (qc_gather_options){.limit = INT64_MAX, .batch = runs[r].batch, .shard_n = 1,
                                 .threads = runs[r].threads};
        ck_assert_msg(qc_stats_gather_inputs(g, &in, &so, &go, &s, &err) == QC_OK, "%s", err.msg);
        char *got = stats_text(s);
        ck_assert_msg(!strcmp(got, want), "threads %d, batch %lld", runs[r].threads, (long long)runs[r].batch);
        free(got);
        qc_stats_destroy(s);
    }
    /* three shards (groups 0, 1 and 2 of 16), merged */
    qc_stats *part[3];
    for (int k = 0; k < 3; k++) {
        go = (qc_gather_options){.limit = INT64_MAX, .batch = 16, .shard_i = k, .shard_n = 3, .threads = 2};
        ck_assert_int_eq(qc_stats_gather_inputs(g, &in, &so, &go, &part[k], &err), QC_OK);
    }
    ck_assert_int_eq(part[0]->images + part[1]->images + part[2]->images, N_IMAGES);
    ck_assert_int_eq(qc_stats_merge(part[2], part[0], &err), QC_OK);
    ck_assert_int_eq(qc_stats_merge(part[2], part[1], &err), QC_OK);
    char *merged = stats_text(part[2]);
    ck_assert_str_eq(merged, want);
    free(merged);
    for (int k = 0; k < 3; k++)
        qc_stats_destroy(part[k]);
    free(px);
    free(want);
    qc_image_set_free(&set);
    qc_graph_destroy(g);
}
END_TEST

/* ---- logits ------------------------------------------------------------------------------- */

typedef struct {
    float logits[N_IMAGES][CLASSES];
    int64_t next; /* the index the sink expects next */
    bool out_of_order;
} collected;

static qc_status collect(void *ctx, const qc_eval_result *r, qc_error *err)
{
    collected *c = ctx;
    (void)err;
    c->out_of_order |= r->index != c->next++;
    if (r->status == QC_OK)
        memcpy(c->logits[r->index], r->logits, sizeof c->logits[0]);
    return QC_OK;
}

/* The reference: each image decoded and run alone on one executor, in a plain loop. */
static void reference_logits(const qc_graph *g, const qc_image_set *set, const qc_preprocess *pp,
                             float want[N_IMAGES][CLASSES])
{
    qc_exec *x = qc_exec_create(g);
    float px[28 * 28];
    qc_error err;
    for (int i = 0; i < N_IMAGES; i++) {
        ck_assert_int_eq(qc_image_load(set->items[i].path, pp, 1, 28, 28, px, &err), QC_OK);
        qc_value in = qc_value_f32(4, (int64_t[]){1, 1, 28, 28}, px);
        ck_assert_int_eq(qc_exec_run(x, &in, 1, &err), QC_OK);
        memcpy(want[i], qc_exec_output(x, 0)->data, sizeof(float) * CLASSES);
    }
    qc_exec_destroy(x);
}

START_TEST(logits_come_in_order_and_equal_one_executor_for_any_threads_and_batch)
{
    qc_graph *g = load_lenet();
    qc_error err;
    qc_image_set set;
    ck_assert_int_eq(qc_image_set_open(&set, "data/val", NULL, &err), QC_OK);
    qc_preprocess pp;
    qc_preprocess_default(&pp, 1);
    static float want[N_IMAGES][CLASSES];
    reference_logits(g, &set, &pp, want);
    float *px = decode(&set, &pp, 3);
    const struct {
        int threads;
        int64_t batch;
        bool preloaded;
    } runs[] = {{1, 1, false}, {2, 5, false}, {3, 64, false}, {2, 7, true}, {1, 512, true}};
    for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
        static collected c;
        memset(&c, 0, sizeof c);
        qc_pass_inputs in = runs[r].preloaded ? (qc_pass_inputs){.tensors = px, .n = N_IMAGES, .stride = 28 * 28}
                                              : (qc_pass_inputs){.set = &set, .pp = &pp};
        qc_eval_options o = {.run = {.limit = N_IMAGES, .batch = runs[r].batch, .threads = runs[r].threads},
                             .sink = collect, .sink_ctx = &c};
        ck_assert_msg(qc_eval_logits(g, &in, CLASSES, &o, &err) == QC_OK, "%s", err.msg);
        ck_assert_int_eq(c.next, N_IMAGES);
        ck_assert(!c.out_of_order);
        ck_assert_msg(!memcmp(c.logits, want, sizeof want), "threads %d, batch %lld", runs[r].threads,
                      (long long)runs[r].batch);
    }
    free(px);
    qc_image_set_free(&set);
    qc_graph_destroy(g);
}
END_TEST

/* ---- a fixed batch ------------------------------------------------------------------------- */

/* lenet with the batch of its input and output fixed to n (its twin: nothing else changed). */
static qc_graph *load_lenet_fixed(int64_t n)
{
    char *data;
    size_t size;
    qc_error err;
    ck_assert_int_eq(qc_read_file("models/lenet.onnx", &data, &size, &err), QC_OK);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, (const uint8_t *)data);
    ck_assert_ptr_nonnull(m);
    Onnx__ValueInfoProto *io[2] = {m->graph->input[0], m->graph->output[0]};
    for (int k = 0; k < 2; k++) {
        Onnx__TensorShapeProto__Dimension *d = io[k]->type->tensor_type->shape->dim[0];
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
            free(d->dim_param); /* "N", in a union with dim_value (protobuf-c's default allocator) */
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d->dim_value = n;
    }
    size_t packed = onnx__model_proto__get_packed_size(m);
    uint8_t *buf = malloc(packed);
    onnx__model_proto__pack(m, buf);
    qc_graph *g;
    ck_assert_msg(qc_onnx_parse(buf, packed, "lenet-fixed.onnx", &g, &err) == QC_OK, "%s", err.msg);
    ck_assert_msg(qc_graph_prepare(g, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(qc_pass_fold_batchnorm(g, &err), QC_OK);
    ck_assert_int_eq(qc_input_batch(g), n);
    free(buf);
    onnx__model_proto__free_unpacked(m, NULL);
    free(data);
    return g;
}

/* Batches of 4 and 3 with padding (37 images): the statistics and logits of the dynamic model,
 * whatever the threads and the batch in flight, from images or preloaded tensors. */
START_TEST(a_fixed_batch_gives_the_statistics_and_logits_of_the_dynamic_model)
{
    enum { N = 37 };
    qc_graph *g = load_lenet();
    qc_error err;
    qc_image_set set;
    qc_preprocess pp;
    qc_stats *s = calib_stats(g, N, 1, &set, &pp);
    char *want = stats_text(s);
    qc_stats_destroy(s);
    static float want_logits[N_IMAGES][CLASSES];
    reference_logits(g, &set, &pp, want_logits);
    float *px = decode(&set, &pp, 2);
    const struct {
        int64_t fixed;
        int threads;
        int64_t batch;
        bool preloaded;
    } runs[] = {{4, 1, 16, false}, {4, 2, 48, true}, {3, 2, 5, false}, {3, 1, 64, true}};
    for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
        qc_graph *f = load_lenet_fixed(runs[r].fixed);
        qc_pass_inputs in = runs[r].preloaded ? (qc_pass_inputs){.tensors = px, .n = N_IMAGES, .stride = 28 * 28}
                                              : (qc_pass_inputs){.set = &set, .pp = &pp};
        const char *names[N_IMAGES];
        for (int i = 0; i < N_IMAGES; i++)
            names[i] = set.items[i].rel;
        in.names = runs[r].preloaded ? names : NULL;
        qc_stats_options so = {.per_channel = true, .histograms = true, .pp = &pp};
        qc_gather_options go = {.limit = N, .batch = runs[r].batch, .shard_n = 1, .threads = runs[r].threads};
        ck_assert_msg(qc_stats_gather_inputs(f, &in, &so, &go, &s, &err) == QC_OK, "%s", err.msg);
        char *got = stats_text(s);
        ck_assert_msg(!strcmp(got, want), "statistics, batch of %lld, threads %d, batch in flight %lld",
                      (long long)runs[r].fixed, runs[r].threads, (long long)runs[r].batch);
        free(got);
        qc_stats_destroy(s);
        static collected c;
        memset(&c, 0, sizeof c);
        qc_eval_options o = {.run = go, .sink = collect, .sink_ctx = &c};
        ck_assert_msg(qc_eval_logits(f, &in, CLASSES, &o, &err) == QC_OK, "%s", err.msg);
        ck_assert_int_eq(c.next, N);
        ck_assert(!c.out_of_order);
        ck_assert_msg(!memcmp(c.logits, want_logits, sizeof(float) * CLASSES * N), "logits, batch of %lld",
                      (long long)runs[r].fixed);
        qc_graph_destroy(f);
    }
    free(px);
    free(want);
    qc_image_set_free(&set);
    qc_graph_destroy(g);
}
END_TEST

/* ---- the pass in shards ------------------------------------------------------------------- */

typedef struct {
    int seen[N_IMAGES];
    int64_t last;     /* the last index a step ended with */
    bool descending;  /* a step's indices not in increasing order */
} shard_seen;

static qc_status count_input(void *ctx, int worker, int64_t slot, int64_t index, int64_t row, qc_exec *x,
                             qc_error *err)
{
    shard_seen *c = ctx;
    (void)worker;
    (void)slot;
    (void)row;
    (void)x;
    (void)err;
    __atomic_add_fetch(&c->seen[index], 1, __ATOMIC_RELAXED);
    return QC_OK;
}

static qc_status check_step(void *ctx, const int64_t *indices, int64_t count, qc_error *err)
{
    shard_seen *c = ctx;
    (void)err;
    for (int64_t i = 0; i < count; i++) {
        c->descending |= indices[i] <= c->last;
        c->last = indices[i];
    }
    return QC_OK;
}

START_TEST(a_pass_in_shards_runs_each_input_once_by_groups)
{
    qc_graph *g = load_lenet();
    qc_error err;
    float *px = calloc(28 * 28, sizeof(float));
    qc_pass_inputs in = {.tensors = px, .n = N_IMAGES, .stride = 0};
    int total[N_IMAGES] = {0};
    for (int k = 0; k < 3; k++) {
        shard_seen c = {.last = -1};
        qc_pass_hooks h = {.ctx = &c, .after = count_input, .step_end = check_step, .group = 4};
        qc_gather_options o = {.limit = INT64_MAX, .batch = 6, .shard_i = k, .shard_n = 3, .threads = 2};
        ck_assert_msg(qc_pass_run(g, &in, &o, &h, &err) == QC_OK, "%s", err.msg);
        ck_assert(!c.descending);
        for (int i = 0; i < N_IMAGES; i++) {
            /* group i / 4 belongs to shard (i / 4) mod 3 */
            ck_assert_int_eq(c.seen[i], (i / 4) % 3 == k);
            total[i] += c.seen[i];
        }
    }
    for (int i = 0; i < N_IMAGES; i++)
        ck_assert_int_eq(total[i], 1);
    free(px);
    qc_graph_destroy(g);
}
END_TEST

/* ---- unreadable images ---------------------------------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    ck_assert(a && b);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0)
        fwrite(buf, 1, n, b);
    fclose(a);
    fclose(b);
}

typedef struct {
    int64_t n;
    qc_status status[4];
    char msg[4][256];
} kept;

static qc_status keep_result(void *ctx, const qc_eval_result *r, qc_error *err)
{
    kept *k = ctx;
    (void)err;
    ck_assert_int_eq(r->index, k->n);
    k->status[k->n] = r->status;
    snprintf(k->msg[k->n], sizeof k->msg[0], "%s", r->status == QC_OK ? "" : r->err->msg);
    k->n++;
    return QC_OK;
}

START_TEST(an_unreadable_image_goes_to_the_sink_in_its_place_or_stops_the_run)
{
    char dir[] = "/tmp/qcal-evaluate.XXXXXX", path[4][300];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    qc_image_set val;
    qc_error err;
    ck_assert_int_eq(qc_image_set_open(&val, "data/val", NULL, &err), QC_OK);
    const char *names[4] = {"a.png", "b.png", "c-bad.png", "d.png"};
    for (int i = 0; i < 4; i++) {
        snprintf(path[i], sizeof path[i], "%s/%s", dir, names[i]);
        if (i == 2) {
            FILE *f = fopen(path[i], "w");
            fputs("not a png", f);
            fclose(f);
        } else {
            copy_file(val.items[i].path, path[i]);
        }
    }
    qc_image_set set;
    ck_assert_int_eq(qc_image_set_open(&set, dir, NULL, &err), QC_OK);
    qc_graph *g = load_lenet();
    qc_preprocess pp;
    qc_preprocess_default(&pp, 1);
    qc_pass_inputs in = {.set = &set, .pp = &pp};
    kept k = {0};
    qc_eval_options o = {.run = {.limit = INT64_MAX, .batch = 3, .threads = 2}, .keep_unreadable = true,
                         .sink = keep_result, .sink_ctx = &k};
    ck_assert_msg(qc_eval_logits(g, &in, CLASSES, &o, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(k.n, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(k.status[i], i == 2 ? QC_ERR_INPUT : QC_OK);
    ck_assert_msg(strstr(k.msg[2], "c-bad.png"), "%s", k.msg[2]);
    /* without keep_unreadable: bad input, named, and the sink has seen only what came before */
    k = (kept){0};
    o.keep_unreadable = false;
    ck_assert_int_eq(qc_eval_logits(g, &in, CLASSES, &o, &err), QC_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "c-bad.png"), "%s", err.msg);
    ck_assert_int_eq(k.n, 0); /* the first step (images 0 to 2) holds the bad one */
    for (int i = 0; i < 4; i++)
        unlink(path[i]);
    rmdir(dir);
    qc_graph_destroy(g);
    qc_image_set_free(&set);
    qc_image_set_free(&val);
}
END_TEST

/* ---- timing, top-k -------------------------------------------------------------------------- */

static double ticks;
static double tick_clock(void)
{
    return ticks++;
}

START_TEST(timing_gives_one_figure_per_run_of_the_clock_given)
{
    qc_graph *g = load_lenet();
    qc_error err;
    float px[28 * 28] = {0};
    qc_pass_inputs in = {.tensors = px, .cycle = 1};
    double seconds[5] = {0};
    ticks = 0;
    ck_assert_msg(qc_eval_time(g, &in, 2, 4, 3, 5, tick_clock, seconds, &err) == QC_OK, "%s", err.msg);
    /* the clock is read once before the first run and once after each: one tick a run */
    for (int r = 0; r < 5; r++)
        ck_assert(seconds[r] == 1.0);
    ck_assert(ticks == 6.0 + 1.0); /* plus the start hook of the second worker */
    ck_assert_int_eq(qc_eval_time(g, &in, 0, 4, 3, 5, tick_clock, seconds, &err), QC_ERR_USAGE);
    qc_graph_destroy(g);
}
END_TEST

static double tocks;
static double tock_clock(void)
{
    return tocks += 2;
}

START_TEST(timing_by_two_clocks_gives_each_its_figure_of_the_same_runs)
{
    qc_graph *g = load_lenet();
    qc_error err;
    float px[28 * 28] = {0};
    qc_pass_inputs in = {.tensors = px, .cycle = 1};
    double a[4] = {0}, b[4] = {0};
    qc_eval_clock clocks[2] = {{tick_clock, a}, {tock_clock, b}};
    ticks = tocks = 0;
    ck_assert_msg(qc_eval_time_clocks(g, &in, 1, 2, 1, 4, clocks, 2, &err) == QC_OK, "%s", err.msg);
    for (int r = 0; r < 4; r++)
        ck_assert(a[r] == 1.0 && b[r] == 2.0);
    ck_assert_int_eq(qc_eval_time_clocks(g, &in, 1, 2, 1, 4, clocks, 0, &err), QC_ERR_USAGE);
    qc_graph_destroy(g);
}
END_TEST

/* bench's INT8 model: the one quantized from statistics of the same random inputs gathered
 * another way (other batch and threads); its figures: every run timed, in order. */
START_TEST(bench_quantizes_from_random_inputs_and_times_every_run)
{
    qc_graph *g = load_lenet();
    qc_error err;
    int rank;
    int64_t dims[QC_MAX_RANK], per_sample;
    bool fixed;
    ck_assert_int_eq(qc_eval_batch_input(g, "lenet", &rank, dims, &per_sample, &fixed, &err), QC_OK);
    qc_quantize_options qo;
    qc_quantize_options_default(&qo);
    qo.scheme = QC_SCHEME_SYMLOWP;
    qc_graph *q = NULL, *want = NULL;
    ck_assert_msg(qc_bench_quantize_random(g, &qo, 1, rank, dims, per_sample, &q, &err) == QC_OK, "%s", err.msg);
    static float buf[QC_BENCH_CALIB_SAMPLES][28 * 28];
    for (int i = 0; i < QC_BENCH_CALIB_SAMPLES; i++)
        qc_eval_random(buf[i], 28 * 28, 1000u + (uint32_t)i);
    qc_pass_inputs in = {.tensors = buf[0], .n = QC_BENCH_CALIB_SAMPLES, .stride = 28 * 28};
    qc_stats_options so = {0};
    qc_gather_options go = {.limit = INT64_MAX, .batch = 3, .shard_n = 1, .threads = 2};
    qc_stats *s = NULL;
    ck_assert_int_eq(qc_stats_gather_inputs(g, &in, &so, &go, &s, &err), QC_OK);
    ck_assert_int_eq(qc_quantize(g, s, &qo, &want, NULL, &err), QC_OK);
    ck_assert_int_eq(qc_pass_fuse_qdq(want, &err), QC_OK);
    qc_exec *xq = qc_exec_create(q), *xw = qc_exec_create(want);
    qc_value v = qc_value_f32(4, (int64_t[]){1, 1, 28, 28}, buf[5]);
    ck_assert_int_eq(qc_exec_run(xq, &v, 1, &err), QC_OK);
    ck_assert_int_eq(qc_exec_run(xw, &v, 1, &err), QC_OK);
    ck_assert(!memcmp(qc_exec_output(xq, 0)->data, qc_exec_output(xw, 0)->data, sizeof(float) * CLASSES));
    qc_bench_options bo = {.one = 1, .batch = 2, .runs = 3, .warmup = 1, .threads = 2};
    qc_bench_timing t = {0};
    ck_assert_msg(qc_bench_time(q, &bo, rank, dims, per_sample, &t, &err) == QC_OK, "%s", err.msg);
    ck_assert(t.wall.min <= t.wall.median && t.wall.median <= t.wall.max && t.wall.min >= 0);
    ck_assert(t.cpu.min <= t.cpu.max && t.throughput > 0 && t.cpu_per_input >= 0);
    qc_exec_destroy(xq);
    qc_exec_destroy(xw);
    qc_stats_destroy(s);
    qc_graph_destroy(want);
    qc_graph_destroy(q);
    qc_graph_destroy(g);
}
END_TEST

/* bench's input: lenet's shape and values per sample, a latency run of one input, or of the
 * fixed batch; an INT8 model of another fixed batch or another input is refused naming both */
START_TEST(bench_takes_the_fixed_batch_and_refuses_another_input)
{
    qc_graph *g = load_lenet(), *f4 = load_lenet_fixed(4), *f2 = load_lenet_fixed(2), *other = NULL;
    qc_error err;
    /* a batch of 2 as lenet-fixed(2), of 3 x 9 x 9 values */
    ck_assert_msg(qc_onnx_load("tests/data/qdq/qdq-conv-relu/model.onnx", &other, &err) == QC_OK, "%s", err.msg);
    qc_bench_input in;
    ck_assert_int_eq(qc_bench_input_of(g, "lenet", NULL, NULL, &in, &err), QC_OK);
    ck_assert(in.rank == 4 && in.per_sample == 28 * 28 && !in.fixed && in.one == 1);
    ck_assert_int_eq(qc_bench_input_of(f4, "lenet4", f4, "q4", &in, &err), QC_OK);
    ck_assert(in.fixed && in.one == 4 && in.dims[0] == 4 && in.per_sample == 28 * 28);
    ck_assert_int_eq(qc_bench_input_of(g, "lenet", f4, "q4", &in, &err), QC_ERR_INPUT);
    ck_assert_str_eq(err.msg, "'q4' has a fixed batch of 4; 'lenet' does not");
    ck_assert_int_eq(qc_bench_input_of(f2, "lenet2", f4, "q4", &in, &err), QC_ERR_INPUT);
    ck_assert_int_eq(qc_bench_input_of(f4, "lenet4", g, "q", &in, &err), QC_OK); /* a dynamic one runs any batch */
    ck_assert_int_eq(qc_bench_input_of(f2, "lenet2", other, "m", &in, &err), QC_ERR_INPUT);
    ck_assert_str_eq(err.msg, "'m' takes another input than 'lenet2' (243 values a sample, not 784)");
    qc_graph_destroy(other);
    qc_graph_destroy(f2);
    qc_graph_destroy(f4);
    qc_graph_destroy(g);
}
END_TEST

/* The scalar reference of the spread, from the definitions without sorting: the nearest-rank
 * p-th percentile is the smallest x[i] with at least p·n/100 of the numbers <= x[i]; the
 * median the smallest x[i] with at least half the numbers <= it, averaged for an even n with
 * the smallest x[j] with more than half <= it. */
static double count_at_most(const double *x, int n, double v)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += x[i] <= v;
    return c;
}
static double smallest_with_count(const double *x, int n, double need)
{
    double best = INFINITY;
    for (int i = 0; i < n; i++)
        if (count_at_most(x, n, x[i]) >= need && x[i] < best)
            best = x[i];
    return best;
}

START_TEST(spread_matches_the_definitions_on_given_numbers)
{
    /* by hand: 15 20 35 40 50 — p90 is rank ceil(4.5) = 5, p99 rank 5, median 35 */
    const double hand[5] = {50, 15, 40, 20, 35};
    qc_spread s;
    qc_spread_of(hand, 5, &s);
    ck_assert(s.min == 15 && s.max == 50 && s.median == 35 && s.mean == 32 && s.p90 == 50 && s.p99 == 50);
    const double sorted[5] = {15, 20, 35, 40, 50};
    ck_assert(qc_percentile_nearest_rank(sorted, 5, 30) == 20); /* rank ceil(1.5) = 2 */
    ck_assert(qc_percentile_nearest_rank(sorted, 5, 40) == 20); /* rank 2 exactly */
    ck_assert(qc_percentile_nearest_rank(sorted, 5, 100) == 50);
    /* 90 % of 20 runs is rank 18 exactly, not 19 */
    double twenty[20];
    for (int i = 0; i < 20; i++)
        twenty[i] = 20 - i;
    qc_spread_of(twenty, 20, &s);
    ck_assert(s.p90 == 18 && s.p99 == 20 && s.median == 10.5 && s.min == 1 && s.max == 20);
    /* every size from 1 to 60 of pseudo-random numbers, with repeats, against the reference */
    uint32_t state = 12345;
    for (int n = 1; n <= 60; n++) {
        double x[60], sum = 0;
        for (int i = 0; i < n; i++) {
            state = state * 1664525u + 1013904223u;
            x[i] = (double)(state >> 24) / 8.0; /* 32 values: repeats happen */
            sum += x[i];
        }
        qc_spread_of(x, n, &s);
        double lo = smallest_with_count(x, n, n / 2.0), hi = smallest_with_count(x, n, n / 2 + 1);
        double median = n % 2 ? smallest_with_count(x, n, (n + 1) / 2) : 0.5 * (lo + hi);
        ck_assert_msg(s.median == median, "n %d: median %g, reference %g", n, s.median, median);
        ck_assert_msg(s.p90 == smallest_with_count(x, n, 90.0 * n / 100.0), "n %d: p90 %g", n, s.p90);
        ck_assert_msg(s.p99 == smallest_with_count(x, n, 99.0 * n / 100.0), "n %d: p99 %g", n, s.p99);
        ck_assert(s.min == smallest_with_count(x, n, 1) && s.max == smallest_with_count(x, n, n));
        ck_assert(s.mean == sum / n);
    }
}
END_TEST

START_TEST(top_k_and_argmax_are_the_hand_values)
{
    const float x[6] = {0.5f, 2.0f, -1.0f, 2.0f, 1.5f, NAN};
    int top[4];
    qc_top_k(x, 5, 4, top);
    ck_assert_int_eq(top[0], 1); /* a tie goes to the lower index */
    ck_assert_int_eq(top[1], 3);
    ck_assert_int_eq(top[2], 4);
    ck_assert_int_eq(top[3], 0);
    ck_assert_int_eq(qc_argmax(x, 5), 1);
    ck_assert_int_eq(qc_argmax(x + 2, 1), 0);
}
END_TEST

/* Top-1 and top-5 counted image by image: an unlabelled image counts only as an image; with
 * fewer than five classes, top-5 is top-k of them all. */
START_TEST(top_k_counts_are_the_hand_values)
{
    const float a[6] = {0.1f, 0.9f, 0.3f, 0.8f, 0.2f, 0.7f}; /* order: 1 3 5 2 4 0 */
    qc_topk_counts c = {0};
    ck_assert_int_eq(qc_topk_count(&c, a, 6, 1), 1); /* top-1 and top-5 */
    ck_assert_int_eq(qc_topk_count(&c, a, 6, 4), 1); /* top-5 only */
    ck_assert_int_eq(qc_topk_count(&c, a, 6, 0), 1); /* neither */
    ck_assert_int_eq(qc_topk_count(&c, a, 6, -1), 1); /* no label */
    ck_assert_int_eq(c.images, 4);
    ck_assert_int_eq(c.labelled, 3);
    ck_assert_int_eq(c.top1, 1);
    ck_assert_int_eq(c.top5, 2);
    qc_topk_counts three = {0};
    ck_assert_int_eq(qc_topk_count(&three, a, 3, 0), 1);
    ck_assert_int_eq(three.top5, 1); /* class 0 is the third of three */
}
END_TEST

/* A model loads with its BatchNorm folded into the convolutions and the hash of its file; a
 * constant bound to an input it does not have is a usage error naming the input. */
START_TEST(a_model_loads_folded_with_its_hash_and_its_bound_inputs)
{
    qc_error err;
    qc_graph *g = NULL;
    uint64_t hash, want;
    int bn = 0;
    ck_assert_int_eq(qc_onnx_load("models/resnet-bn.onnx", &g, &err), QC_OK);
    for (int i = 0; i < g->n_nodes; i++)
        bn += !strcmp(g->nodes[i].op_type, "BatchNormalization");
    ck_assert_int_gt(bn, 0);
    qc_graph_destroy(g);
    ck_assert_msg(qc_model_load("models/resnet-bn.onnx", false, NULL, 0, &g, &hash, &err) == QC_OK, "%s", err.msg);
    for (int i = 0; i < g->n_nodes; i++)
        ck_assert_str_ne(g->nodes[i].op_type, "BatchNormalization");
    ck_assert_int_eq(qc_stats_hash_file("models/resnet-bn.onnx", &want, &err), QC_OK);
    ck_assert(hash == want);
    qc_graph_destroy(g);
    g = NULL;
    qc_input_binding bad = {"mask=x.npy", 4, "x.npy"};
    ck_assert_int_eq(qc_model_load("models/lenet.onnx", false, &bad, 1, &g, NULL, &err), QC_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "'mask'"), "%s", err.msg);
    qc_graph_destroy(g);
}
END_TEST

/* A quantized lenet records lenet's hash: it passes beside lenet (or alone), not beside
 * another FP32 model, and the message names both. */
START_TEST(a_quantized_model_must_come_from_the_fp32_models_given)
{
    qc_error err;
    qc_graph *g = load_lenet();
    qc_image_set set;
    qc_preprocess pp;
    qc_stats *s = calib_stats(g, 16, 1, &set, &pp);
    uint64_t lenet_hash, resnet_hash;
    ck_assert_int_eq(qc_stats_hash_file("models/lenet.onnx", &lenet_hash, &err), QC_OK);
    ck_assert_int_eq(qc_stats_hash_file("models/resnet.onnx", &resnet_hash, &err), QC_OK);
    s->model_hash = lenet_hash;
    qc_quantize_options qo;
    qc_quantize_options_default(&qo);
    qc_graph *q = NULL;
    ck_assert_msg(qc_quantize(g, s, &qo, &q, NULL, &err) == QC_OK, "%s", err.msg);
    char path[] = "/tmp/qcal-check-sources-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_msg(qc_onnx_save(q, path, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(qc_check_source(q, "q.onnx", lenet_hash, "models/lenet.onnx", &err), QC_OK);
    ck_assert_int_eq(qc_check_source(q, "q.onnx", resnet_hash, "models/resnet.onnx", &err), QC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "'q.onnx' was quantized from another model than 'models/resnet.onnx'"));
    const char *beside_lenet[] = {"models/resnet.onnx", path, "models/lenet.onnx"};
    ck_assert_msg(qc_check_sources(beside_lenet, 3, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(qc_check_sources(beside_lenet + 1, 1, &err), QC_OK); /* no FP32 model given */
    const char *beside_resnet[] = {path, "models/resnet.onnx"};
    ck_assert_int_eq(qc_check_sources(beside_resnet, 2, &err), QC_ERR_INPUT);
    char want[512];
    snprintf(want, sizeof want, "'%s' was quantized from another model than the FP32 model given "
             "('models/resnet.onnx'): it records the source hash %016llx", path, (unsigned long long)lenet_hash);
    ck_assert_msg(strstr(err.msg, want), "%s", err.msg);
    const char *missing[] = {"models/lenet.onnx", "models/none.onnx"};
    ck_assert_int_eq(qc_check_sources(missing, 2, &err), QC_ERR_IO);
    unlink(path);
    qc_graph_destroy(q);
    qc_stats_destroy(s);
    qc_image_set_free(&set);
    qc_graph_destroy(g);
}
END_TEST

/* ---- per-layer error -------------------------------------------------------------------------- */

/* With no image, qc_eval_layers measures the weights alone: each against its fake-quantized
 * self under the report's parameters, summed here in a plain loop. */
START_TEST(weight_errors_are_those_of_fake_quantization_by_hand)
{
    qc_graph *g = load_lenet();
    qc_error err;
    qc_image_set set;
    qc_preprocess pp;
    qc_stats *s = calib_stats(g, 16, 2, &set, &pp);
    qc_quantize_options qo;
    qc_quantize_options_default(&qo);
    qo.scheme = QC_SCHEME_SYMLOWP;
    qo.weights = QC_GRANULARITY_TENSOR;
    qo.format = QC_FORMAT_QDQ;
    qc_eval_variant v;
    ck_assert_msg(qc_eval_variant_create(g, s, &qo, "symlowp/tensor", &v, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_gt(v.n_maps, 0);
    ck_assert_int_eq(qc_eval_layers("lenet", g, s, NULL, 0, &v, 1, &err), QC_OK);
    int checked = 0;
    for (int r = 0; r < v.report.n; r++) {
        const qc_quantized_tensor *qt = &v.report.tensors[r];
        if (strcmp(qt->role, "weight"))
            continue;
        const qc_value *w = &g->tensors[qc_graph_find_tensor(g, qt->tensor)].value;
        const float *x = w->data;
        double err2 = 0, ref2 = 0;
        for (int64_t i = 0; i < qc_value_count(w); i++) {
            double q = qc_fake_quantize(x[i], &qt->params[0], QC_ROUND_HALF_EVEN);
            err2 += (x[i] - q) * (x[i] - q);
            ref2 += (double)x[i] * x[i];
        }
        const qc_layer_error *l = &v.layers[qc_stats_find(s, qt->tensor)];
        ck_assert_int_eq(l->acc.count, qc_value_count(w));
        ck_assert_msg(fabs(l->acc.sum_err2 - err2) <= 1e-12 * ref2, "%s: %g, by hand %g", qt->tensor,
                      l->acc.sum_err2, err2);
        ck_assert(l->has_codes && l->codes.count == qc_value_count(w));
        checked++;
    }
    ck_assert_int_gt(checked, 1);
    /* no image: no activation measured */
    int which;
    ck_assert(isinf(qc_eval_min_sqnr(s, v.layers, &which)) && which == -1);
    qc_eval_variant_free(&v);
    qc_stats_destroy(s);
    qc_image_set_free(&set);
    qc_graph_destroy(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("evaluate");
    TCase *pass = tcase_create("pass");
    tcase_set_timeout(pass, 120);
    tcase_add_test(pass, statistics_of_tensors_are_those_of_their_images_for_any_threads_batch_and_shards);
    tcase_add_test(pass, a_pass_in_shards_runs_each_input_once_by_groups);
    suite_add_tcase(s, pass);
    TCase *eval = tcase_create("eval");
    tcase_set_timeout(eval, 120);
    tcase_add_test(eval, logits_come_in_order_and_equal_one_executor_for_any_threads_and_batch);
    tcase_add_test(eval, a_fixed_batch_gives_the_statistics_and_logits_of_the_dynamic_model);
    tcase_add_test(eval, an_unreadable_image_goes_to_the_sink_in_its_place_or_stops_the_run);
    tcase_add_test(eval, timing_gives_one_figure_per_run_of_the_clock_given);
    tcase_add_test(eval, timing_by_two_clocks_gives_each_its_figure_of_the_same_runs);
    tcase_add_test(eval, bench_quantizes_from_random_inputs_and_times_every_run);
    tcase_add_test(eval, bench_takes_the_fixed_batch_and_refuses_another_input);
    tcase_add_test(eval, spread_matches_the_definitions_on_given_numbers);
    tcase_add_test(eval, top_k_and_argmax_are_the_hand_values);
    tcase_add_test(eval, top_k_counts_are_the_hand_values);
    tcase_add_test(eval, a_model_loads_folded_with_its_hash_and_its_bound_inputs);
    tcase_add_test(eval, a_quantized_model_must_come_from_the_fp32_models_given);
    tcase_add_test(eval, weight_errors_are_those_of_fake_quantization_by_hand);
    suite_add_tcase(s, eval);
    return qc_check_run("check_evaluate", s);
}
