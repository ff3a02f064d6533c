/* check_intra_op.c — the persistent pool (every item once, failures propagated, many jobs on
 * one pool, a pool of one, jobs handed to sleeping and to spinning workers, holding wakes the
 * sleepers, stop while they spin) and intra-op threads: the split integer kernels give the bytes of one call, and every
 * tensor a model produces is the same bytes with 1, 2 and 3 threads, FP32 and INT8 (QDQ and
 * QOperator), bundled models, the quantized test models and, when built, zoo models. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calib/calib.h"
#include "graph/graph-impl.h"
#include "io/io.h"
#include "stats/stats.h"
#include "tests/check-util.h"

/* ---- the pool ---- */

enum { ITEMS = 1000, MAX_WORKERS = 8 };

typedef struct {
    atomic_int runs[ITEMS];
    atomic_int by_worker[MAX_WORKERS];
    atomic_int bad_worker;
    int workers;
    int64_t fail_at; /* the item that fails, or -1 */
} count_ctx;

static int count_item(void *ctx, int worker, int64_t item)
{
    count_ctx *c = ctx;
    if (worker < 0 || worker >= c->workers)
        atomic_fetch_add(&c->bad_worker, 1);
    else
        atomic_fetch_add(&c->by_worker[worker], 1);
    atomic_fetch_add(&c->runs[item], 1);
    return item == c->fail_at ? 7 : 0;
}

static count_ctx *count_new(int workers, int64_t fail_at)
{
    count_ctx *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    c->workers = workers;
    c->fail_at = fail_at;
    return c;
}

START_TEST(pool_runs_every_item_once)
{
    for (int n = 1; n <= 4; n++) {
        qc_pool *p = qc_pool_create(n);
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(qc_pool_threads(p), n);
        count_ctx *c = count_new(n, -1);
        ck_assert_int_eq(qc_pool_run(p, ITEMS, count_item, c), 0);
        int total = 0;
        for (int i = 0; i < ITEMS; i++)
            ck_assert_msg(atomic_load(&c->runs[i]) == 1, "%d threads: item %d ran %d times", n, i,
                          atomic_load(&c->runs[i]));
        for (int w = 0; w < n; w++)
            total += atomic_load(&c->by_worker[w]);
        ck_assert_int_eq(total, ITEMS);
        ck_assert_int_eq(atomic_load(&c->bad_worker), 0);
        free(c);
        qc_pool_destroy(p);
    }
}
END_TEST

START_TEST(pool_of_one_runs_on_the_caller)
{
    qc_pool *p = qc_pool_create(1);
    ck_assert_ptr_nonnull(p);
    count_ctx *c = count_new(1, -1);
    ck_assert_int_eq(qc_pool_run(p, ITEMS, count_item, c), 0);
    ck_assert_int_eq(atomic_load(&c->by_worker[0]), ITEMS);
    free(c);
    qc_pool_destroy(p);
    c = count_new(1, -1); /* and no pool at all */
    ck_assert_int_eq(qc_pool_run(NULL, 10, count_item, c), 0);
    ck_assert_int_eq(atomic_load(&c->by_worker[0]), 10);
    free(c);
}
END_TEST

START_TEST(pool_returns_a_failing_items_result)
{
    qc_pool *p = qc_pool_create(3);
    ck_assert_ptr_nonnull(p);
    for (int64_t at = 0; at < ITEMS; at += 333) {
        count_ctx *c = count_new(3, at);
        ck_assert_int_eq(qc_pool_run(p, ITEMS, count_item, c), 7);
        ck_assert_int_eq(atomic_load(&c->runs[at]), 1);
        free(c);
    }
    /* the pool still works after a failed job */
    count_ctx *c = count_new(3, -1);
    ck_assert_int_eq(qc_pool_run(p, ITEMS, count_item, c), 0);
    free(c);
    qc_pool_destroy(p);
}
END_TEST

typedef struct {
    int64_t *slots;
    int64_t job;
} seq_ctx;

static int write_item(void *ctx, int worker, int64_t item)
{
    seq_ctx *c = ctx;
    (void)worker;
    c->slots[item] = c->job * 1000 + item;
    return 0;
}

START_TEST(pool_runs_many_jobs_in_sequence)
{
    qc_pool *p = qc_pool_create(2);
    ck_assert_ptr_nonnull(p);
    int64_t slots[64];
    for (int64_t job = 0; job < 5000; job++) {
        seq_ctx c = {slots, job};
        const int64_t n = 1 + job % 64; /* 1 item too: the caller alone */
        ck_assert_int_eq(qc_pool_run(p, n, write_item, &c), 0);
        for (int64_t i = 0; i < n; i++) /* the job was over when run returned */
            ck_assert_int_eq(slots[i], job * 1000 + i);
    }
    qc_pool_destroy(p);
}
END_TEST

START_TEST(a_held_pool_runs_many_jobs_in_sequence)
{
    qc_pool *p = qc_pool_create(3);
    ck_assert_ptr_nonnull(p);
    qc_pool_hold(p, true); /* workers spin between the jobs, as in an executor's run */
    int64_t slots[64];
    for (int64_t job = 0; job < 5000; job++) {
        seq_ctx c = {slots, job};
        const int64_t n = 1 + job % 64;
        ck_assert_int_eq(qc_pool_run(p, n, write_item, &c), 0);
        for (int64_t i = 0; i < n; i++)
            ck_assert_int_eq(slots[i], job * 1000 + i);
    }
    qc_pool_hold(p, false);
    qc_pool_destroy(p);
}
END_TEST

/* A job whose items each wait, inside, until every worker has one: it ends only if all the
 * pool's threads joined it. A worker that never comes makes the item give up after about 20
 * seconds (a failure, not a hang). */
typedef struct {
    atomic_int arrived;
    atomic_int by_worker[MAX_WORKERS];
    int workers;
} meet_ctx;

static void nap(void)
{
    nanosleep(&(struct timespec){0, 100000}, NULL);
}

static int meet_item(void *ctx, int worker, int64_t item)
{
    meet_ctx *m = ctx;
    (void)item;
    atomic_fetch_add(&m->by_worker[worker], 1);
    atomic_fetch_add(&m->arrived, 1);
    for (int i = 0; atomic_load(&m->arrived) < m->workers; i++)
        if (i > 200000)
            return 9;
        else
            nap();
    return 0;
}

static void meet_all(qc_pool *p, int workers)
{
    meet_ctx m = {.workers = workers};
    ck_assert_int_eq(qc_pool_run(p, workers, meet_item, &m), 0);
    for (int w = 0; w < workers; w++)
        ck_assert_int_eq(atomic_load(&m.by_worker[w]), 1);
}

/* Waits (at most ~20 s) until `sleepers` workers of p sleep; says whether they did. */
static bool await_sleepers(qc_pool *p, int sleepers)
{
    for (int i = 0; i < 200000; i++) {
        if (qc_pool_sleepers(p) == sleepers)
            return true;
        nap();
    }
    return false;
}

START_TEST(a_job_wakes_sleeping_workers)
{
    qc_pool *p = qc_pool_create(3);
    ck_assert_ptr_nonnull(p);
    ck_assert(await_sleepers(p, 2)); /* not held: asleep from the start */
    meet_all(p, 3);
    qc_pool_hold(p, true);
    qc_pool_set_spin(p, 0); /* held, but no spinning: asleep again after each job */
    for (int round = 0; round < 20; round++) {
        ck_assert(await_sleepers(p, 2));
        meet_all(p, 3);
    }
    qc_pool_hold(p, false);
    qc_pool_destroy(p);
}
END_TEST

START_TEST(spinning_workers_take_jobs_and_stop)
{
    for (int ending = 0; ending < 2; ending++) {
        qc_pool *p = qc_pool_create(3);
        ck_assert_ptr_nonnull(p);
        qc_pool_set_spin(p, 600 * 1000000000LL); /* no worker sleeps while the pool is held */
        ck_assert(await_sleepers(p, 2));
        qc_pool_hold(p, true); /* wakes them to spin before the first job */
        ck_assert(await_sleepers(p, 0));
        for (int round = 0; round < 200; round++) {
            meet_all(p, 3);
            ck_assert_int_eq(qc_pool_sleepers(p), 0);
        }
        if (ending == 1) { /* released: they sleep at once, spin time left or not */
            qc_pool_hold(p, false);
            ck_assert(await_sleepers(p, 2));
            meet_all(p, 3); /* and wake for the next job */
        }
        qc_pool_destroy(p); /* stops workers spinning (0) or asleep (1) */
    }
}
END_TEST

/* ---- the split integer kernels give the bytes of one call ---- */

static void fill_bytes(uint8_t *b, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        b[i] = (uint8_t)(seed >> 24);
    }
}

/* an executor of a small model with `threads` threads that splits every op */
static qc_exec *splitting_exec(const qc_graph *g, int threads)
{
    qc_error err;
    qc_exec *x = qc_exec_create(g);
    ck_assert_ptr_nonnull(x);
    ck_assert_msg(qc_exec_set_threads(x, threads, &err) == QC_OK, "%s", err.msg);
    qc_exec_set_split_work(x, 0);
    return x;
}

START_TEST(split_kernels_give_the_bytes_of_one_call)
{
    qc_error err;
    qc_graph *g = NULL;
    ck_assert_msg(qc_onnx_load("models/lenet.onnx", &g, &err) == QC_OK, "%s", err.msg);
    enum { N = 100003, PLANES = 7, H = 37, W = 29 };
    uint8_t *a = malloc(N), *b = malloc(N), *want = malloc(N), *got = malloc(N);
    float *f = malloc(N * sizeof(float));
    ck_assert(a && b && want && got && f);
    fill_bytes(a, N, 1);
    fill_bytes(b, N, 2);
    qc_eval_random(f, N, 3);
    const qc_qadd add = {1u << 29, 3u << 28, 31, 120, 131, 7, 0, 255};
    const float scales[PLANES] = {0.01f, 0.02f, 0.003f, 0.5f, 0.07f, 0.011f, 0.9f};
    const int32_t zeros[PLANES] = {0, 3, 128, 255, 17, 64, 200};
    const qc_quant q1 = {scales, zeros + 2, 0, 255}, q7 = {scales, zeros, -128, 127};
    const qc_pool2d pool = {H, W, 18, 14, 3, 3, 2, 2, 1, 1, 1, 1};
    const size_t pooled = PLANES * 18 * 14;
    for (int threads = 2; threads <= 3; threads++) {
        qc_exec *x = splitting_exec(g, threads);
        qc_qadd_u8(N, a, b, &add, want);
        qc_split_qadd_u8(x, N, a, b, &add, got);
        ck_assert(memcmp(want, got, N) == 0);
        qc_quantize_u8(1, 1, N, f, &q1, want); /* one scale: split anywhere */
        qc_split_quantize(x, true, 1, 1, N, f, &q1, got);
        ck_assert(memcmp(want, got, N) == 0);
        qc_quantize_s8(N / (PLANES * 11), PLANES, 11, f, &q7, (int8_t *)want); /* per axis */
        qc_split_quantize(x, false, N / (PLANES * 11), PLANES, 11, f, &q7, got);
        ck_assert(memcmp(want, got, N / (PLANES * 11) * PLANES * 11) == 0);
        qc_maxpool_u8(PLANES, &pool, a, want);
        qc_split_maxpool_u8(x, PLANES, &pool, a, got);
        ck_assert(memcmp(want, got, pooled) == 0);
        /* channels last, split by output rows: padding above, a tail of channels past 32,
         * and (the second window) output rows that lie wholly below the input */
        const qc_pool2d windows[] = {{H, W, 19, 15, 3, 3, 2, 2, 1, 1, 2, 1},
                                     {7, 6, 4, 2, 2, 2, 3, 3, 1, 1, 0, 0}};
        for (size_t k = 0; k < sizeof windows / sizeof *windows; k++) {
            const qc_pool2d *wp = &windows[k];
            enum { IMAGES = 2, CHANNELS = 37 };
            const size_t out = IMAGES * wp->out_h * wp->out_w * CHANNELS;
            ck_assert(IMAGES * wp->in_h * wp->in_w * CHANNELS <= N && out <= N);
            qc_maxpool_cl_u8(IMAGES, CHANNELS, wp, a, want);
            memset(got, 0xa5, out);
            qc_split_maxpool_cl_u8(x, IMAGES, CHANNELS, wp, a, got);
            ck_assert_msg(memcmp(want, got, out) == 0, "window %zu, %d threads", k, threads);
        }
        qc_exec_destroy(x);
    }
    free(a);
    free(b);
    free(want);
    free(got);
    free(f);
    qc_graph_destroy(g);
}
END_TEST

/* ---- intra-op threads give the same bytes ---- */

typedef struct {
    uint64_t *hash; /* per tensor */
    int *seen;
} trace;

static uint64_t fnv1a(const void *data, size_t n)
{
    const unsigned char *b = data;
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211u;
    return h;
}

static void record(void *ctx, const qc_graph *g, int tensor, const qc_value *v)
{
    trace *t = ctx;
    (void)g;
    t->hash[tensor] = fnv1a(v->data, qc_value_bytes(v));
    t->seen[tensor]++;
}

/* Random inputs of g's fed inputs, batch `batch` where the batch is symbolic. */
static void make_inputs(const qc_graph *g, int64_t batch, qc_value *in, int n)
{
    for (int k = 0; k < n; k++) {
        const qc_tensor *t = &g->tensors[qc_graph_fed_input(g, k)];
        in[k] = t->value;
        if (t->symbolic & 1u)
            in[k].dims[0] = batch;
        const size_t count = (size_t)qc_value_count(&in[k]), bytes = qc_value_bytes(&in[k]);
        in[k].data = malloc(bytes ? bytes : 1);
        ck_assert_ptr_nonnull(in[k].data);
        if (in[k].dtype == QC_FLOAT) {
            qc_eval_random(in[k].data, (int64_t)count, 11u + (uint32_t)k);
            continue;
        }
        uint32_t s = 12345u + (uint32_t)k;
        for (size_t i = 0; i < bytes; i++) {
            s = s * 1664525u + 1013904223u;
            ((unsigned char *)in[k].data)[i] = (unsigned char)(s >> 24);
        }
    }
}

/* Runs g with `threads` intra-op threads, recording every tensor's bytes; split_work: the least
 * work an op splits (negative: the executor's default). */
static void run_traced(const qc_graph *g, int threads, double split_work, const qc_value *in, int n,
                       trace *t)
{
    qc_error err;
    qc_exec *x = qc_exec_create(g);
    ck_assert_ptr_nonnull(x);
    ck_assert_msg(qc_exec_set_threads(x, threads, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(qc_exec_threads(x), threads);
    if (split_work >= 0) /* else the default */
        qc_exec_set_split_work(x, split_work);
    qc_exec_set_observer(x, record, t);
    for (int round = 0; round < 2; round++) /* a second run on the buffers of the first */
        ck_assert_msg(qc_exec_run(x, in, n, &err) == QC_OK, "%s", err.msg);
    qc_exec_destroy(x);
}

static void check_same_bytes(const char *name, const qc_graph *g, double split_work)
{
    const int n = qc_graph_fed_count(g);
    qc_value in[8];
    ck_assert_int_le(n, 8);
    make_inputs(g, 2, in, n);
    const size_t nt = (size_t)g->n_tensors;
    trace ref = {calloc(nt, sizeof(uint64_t)), calloc(nt, sizeof(int))};
    trace got = {calloc(nt, sizeof(uint64_t)), calloc(nt, sizeof(int))};
    ck_assert(ref.hash && ref.seen && got.hash && got.seen);
    run_traced(g, 1, split_work, in, n, &ref);
    for (int threads = 2; threads <= 3; threads++) {
        memset(got.seen, 0, nt * sizeof(int));
        run_traced(g, threads, split_work, in, n, &got);
        for (size_t i = 0; i < nt; i++) {
            ck_assert_int_eq(got.seen[i], ref.seen[i]);
            ck_assert_msg(!ref.seen[i] || got.hash[i] == ref.hash[i],
                          "%s: tensor '%s' differs with %d threads", name, g->tensors[i].name, threads);
        }
    }
    for (int k = 0; k < n; k++)
        free(in[k].data);
    free(ref.hash);
    free(ref.seen);
    free(got.hash);
    free(got.seen);
}

static qc_graph *load(const char *path)
{
    qc_error err;
    qc_graph *g = NULL;
    ck_assert_msg(qc_onnx_load(path, &g, &err) == QC_OK, "%s", err.msg);
    ck_assert_msg(qc_pass_fold_batchnorm(g, &err) == QC_OK, "%s", err.msg);
    ck_assert_msg(qc_pass_fuse_qdq(g, &err) == QC_OK, "%s", err.msg);
    return g;
}

/* fp32 quantized from random inputs as qcal bench does, in the given format */
static qc_graph *quantized(const qc_graph *fp32, const char *path, qc_qformat format)
{
    qc_error err;
    int rank;
    int64_t dims[QC_MAX_RANK], per_sample;
    bool fixed;
    ck_assert_msg(qc_eval_batch_input(fp32, path, &rank, dims, &per_sample, &fixed, &err) == QC_OK, "%s",
                  err.msg);
    qc_quantize_options qo;
    qc_quantize_options_default(&qo);
    qo.format = format;
    qc_graph *q = NULL;
    ck_assert_msg(qc_bench_quantize_random(fp32, &qo, fixed ? dims[0] : 1, rank, dims, per_sample, &q, &err) ==
                      QC_OK,
                  "%s", err.msg);
    return q;
}

/* the model, and its INT8 versions in both formats: every op split however small */
static void check_model_and_int8(const char *path, double split_work)
{
    qc_graph *g = load(path);
    check_same_bytes(path, g, split_work);
    for (int f = 0; f < 2; f++) {
        qc_graph *q = quantized(g, path, f == 0 ? QC_FORMAT_QDQ : QC_FORMAT_QOPERATOR);
        check_same_bytes(path, q, split_work);
        qc_graph_destroy(q);
    }
    qc_graph_destroy(g);
}

START_TEST(bundled_models_give_the_same_bytes_on_any_threads)
{
    static const char *const models[] = {"models/lenet.onnx", "models/mobilenet.onnx", "models/resnet.onnx",
                                         "models/resnet-bn.onnx"};
    for (size_t i = 0; i < sizeof models / sizeof *models; i++)
        check_model_and_int8(models[i], 0);
}
END_TEST

START_TEST(quantized_test_models_give_the_same_bytes_on_any_threads)
{
    static const char *const models[] = {
        "tests/data/qdq/lenet-qdq.onnx",                    "tests/data/qdq/lenet-qop.onnx",
        "tests/data/qdq/qdq-conv-depthwise/model.onnx",     "tests/data/qdq/qdq-conv-depthwise-s2/model.onnx",
        "tests/data/qdq/qdq-conv-group-dilated/model.onnx", "tests/data/qdq/qdq-conv-pointwise/model.onnx",
        "tests/data/qdq/qdq-conv-s8/model.onnx",            "tests/data/qdq/qdq-conv-stride2/model.onnx",
        "tests/data/qdq/qdq-conv-perchannel-zps/model.onnx", "tests/data/qdq/qdq-matmul-act/model.onnx",
        "tests/data/qdq/qdq-matmul-act-s8/model.onnx",      "tests/data/qdq/qdq-gemm-perchannel/model.onnx",
        "tests/data/qdq/qop-conv/model.onnx",               "tests/data/qdq/qop-conv-depthwise/model.onnx",
        "tests/data/qdq/qop-conv-u8w/model.onnx",           "tests/data/qdq/qop-conv1d-same/model.onnx",
        "tests/data/qdq/qop-matmul-act/model.onnx",         "tests/data/qdq/qop-matmul-u8w/model.onnx",
    };
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        qc_graph *g = load(models[i]);
        check_same_bytes(models[i], g, 0);
        qc_graph_destroy(g);
    }
}
END_TEST

/* Zoo models at 224², INT8, with the default threshold: the split the benchmarks run. */
START_TEST(zoo_models_give_the_same_bytes_on_any_threads)
{
    static const char *const models[] = {"build/zoo/resnet18.onnx", "build/zoo/mobilenet_v2.onnx"};
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        if (access(models[i], R_OK) != 0) {
            fprintf(stderr, "check_intra_op: %s not built (make zoo), not checked\n", models[i]);
            continue;
        }
        qc_graph *g = load(models[i]);
        qc_graph *q = quantized(g, models[i], QC_FORMAT_QDQ);
        check_same_bytes(models[i], q, -1);
        qc_graph_destroy(q);
        qc_graph_destroy(g);
    }
}
END_TEST

START_TEST(an_executor_refuses_zero_threads)
{
    qc_error err;
    qc_graph *g = load("models/lenet.onnx");
    qc_exec *x = qc_exec_create(g);
    ck_assert_int_eq(qc_exec_set_threads(x, 0, &err), QC_ERR_USAGE);
    ck_assert_int_eq(qc_exec_threads(x), 1);
    ck_assert_int_eq(qc_exec_set_threads(x, 2, &err), QC_OK);
    ck_assert_int_eq(qc_exec_set_threads(x, 1, &err), QC_OK); /* and back */
    ck_assert_int_eq(qc_exec_threads(x), 1);
    qc_exec_destroy(x);
    qc_graph_destroy(g);
}
END_TEST

/* ---- which threads a pass gives to the operators ---- */

typedef struct {
    atomic_int workers;
    atomic_int op_threads[MAX_WORKERS];
} start_ctx;

static qc_status note_start(void *ctx, int worker, qc_exec *x, qc_error *err)
{
    start_ctx *c = ctx;
    (void)err;
    atomic_fetch_add(&c->workers, 1);
    if (worker >= 0 && worker < MAX_WORKERS)
        atomic_store(&c->op_threads[worker], qc_exec_threads(x));
    return QC_OK;
}

/* A pass of n inputs, batch in flight, on threads: how its executors were made. */
static void pass_threads(const qc_graph *g, int64_t n, int64_t batch, int threads, start_ctx *c)
{
    float *x = calloc((size_t)n, 28 * 28 * sizeof(float));
    ck_assert_ptr_nonnull(x);
    const int64_t dims[4] = {1, 1, 28, 28};
    qc_pass_inputs in = {.tensors = x, .n = n, .stride = 28 * 28, .rank = 4, .dims = dims};
    qc_gather_options o = {.limit = n, .batch = batch, .shard_n = 1, .threads = threads};
    qc_pass_hooks h = {.ctx = c, .start = note_start, .group = 1};
    qc_error err;
    memset(c, 0, sizeof *c);
    ck_assert_msg(qc_pass_run(g, &in, &o, &h, &err) == QC_OK, "%s", err.msg);
    free(x);
}

START_TEST(a_pass_gives_spare_threads_to_the_operators)
{
    qc_graph *g = load("models/lenet.onnx");
    start_ctx c;
    pass_threads(g, 1, 1, 2, &c); /* one image, two threads: one executor with both */
    ck_assert_int_eq(atomic_load(&c.workers), 1);
    ck_assert_int_eq(atomic_load(&c.op_threads[0]), 2);
    pass_threads(g, 8, 8, 2, &c); /* images enough: a thread each, none to the operators */
    ck_assert_int_eq(atomic_load(&c.workers), 2);
    ck_assert_int_eq(atomic_load(&c.op_threads[0]), 1);
    ck_assert_int_eq(atomic_load(&c.op_threads[1]), 1);
    pass_threads(g, 8, 2, 3, &c); /* 2 in flight, 3 threads: the third to the first's ops */
    ck_assert_int_eq(atomic_load(&c.workers), 2);
    ck_assert_int_eq(atomic_load(&c.op_threads[0]), 2);
    ck_assert_int_eq(atomic_load(&c.op_threads[1]), 1);
    qc_graph_destroy(g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("intra_op");
    TCase *pool = tcase_create("pool");
    tcase_set_timeout(pool, 120); /* a loaded machine: the waits for workers are bounded at 20 s */
    tcase_add_test(pool, pool_runs_every_item_once);
    tcase_add_test(pool, pool_of_one_runs_on_the_caller);
    tcase_add_test(pool, pool_returns_a_failing_items_result);
    tcase_add_test(pool, pool_runs_many_jobs_in_sequence);
    tcase_add_test(pool, a_held_pool_runs_many_jobs_in_sequence);
    tcase_add_test(pool, a_job_wakes_sleeping_workers);
    tcase_add_test(pool, spinning_workers_take_jobs_and_stop);
    tcase_add_test(pool, split_kernels_give_the_bytes_of_one_call);
    suite_add_tcase(s, pool);
    TCase *models = tcase_create("models");
    tcase_set_timeout(models, 600);
    tcase_add_test(models, an_executor_refuses_zero_threads);
    tcase_add_test(models, a_pass_gives_spare_threads_to_the_operators);
    tcase_add_test(models, bundled_models_give_the_same_bytes_on_any_threads);
    tcase_add_test(models, quantized_test_models_give_the_same_bytes_on_any_threads);
    tcase_add_test(models, zoo_models_give_the_same_bytes_on_any_threads);
    suite_add_tcase(s, models);
    return s;
}

int main(void)
{
    return qc_check_run("check_intra_op", suite());
}
