/* bench_models.c — FP32 images/s of each bundled model at batch 1 and 32, with 1 and 2
 * threads, as qcal eval runs them (one executor per thread, images split across threads).
 * Prints medians of several runs and the 2-thread/1-thread ratio measured in the same run.
 *
 * With --bench-models DIR (or QCAL_BENCH_MODELS=DIR), also the 224×224 benchmark models that
 * tools/make-bench-models.py writes there (resnet18.onnx, mobilenet_v2.onnx; absent files are
 * skipped): FP32 latency at batch 1 (one thread) and throughput at batch 32 (all threads), and
 * the same for the INT8 model qcal makes of it (default quantizer options, statistics from
 * random inputs, QDQ fused into integer ops), with the INT8/FP32 speed ratios (in --json, an
 * int8 figure's "ratio" is its speed over FP32's: FP32 latency / INT8 latency, INT8 images/s /
 * FP32 images/s), and the SQNR of the INT8 logits against FP32's.
 *
 * usage: bench_models [--json] [--runs N] [--bench-models DIR] [MODEL…]
 *        (default: every .onnx file in models/) */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench-util.h"
#include "calib/calib.h"
#include "graph/graph.h"
#include "io/io.h"
#include "stats/stats.h"

#define MAX_THREADS 2

typedef struct {
    const qc_graph *g;
    float *input;
    int64_t dims[4];
    qc_error err;
} bench_ctx;

static double wall_seconds(void)
{
    return bench_seconds(CLOCK_MONOTONIC);
}

/* median, min, max of rates[0..runs) into stats[0..2] */
static void spread(double *rates, int runs, double *stats)
{
    qsort(rates, (size_t)runs, sizeof rates[0], bench_cmp_double);
    stats[0] = rates[runs / 2];
    stats[1] = rates[0];
    stats[2] = rates[runs - 1];
}

/* Images/s over `runs` timed runs of `batch` images on `threads` threads (qc_eval_time, one
 * input again and again, after one untimed run): median, min, max. */
static int measure(bench_ctx *c, int threads, int batch, int runs, double *stats)
{
    double seconds[64];
    qc_pass_inputs in = {.tensors = c->input, .cycle = 1, .rank = 4, .dims = c->dims};
    if (qc_eval_time(c->g, &in, threads, batch, batch, runs, wall_seconds, seconds, &c->err) != QC_OK)
        return -1;
    for (int r = 0; r < runs; r++)
        seconds[r] = batch / seconds[r];
    spread(seconds, runs, stats);
    return 0;
}

static void print_figure(bool json, const char *model, int batch, int threads, const double *s,
                         double ratio)
{
    if (json)
        printf("{\"name\": \"fp32_images_per_s\", \"model\": \"%s\", \"batch\": %d, \"threads\": %d, "
               "\"median\": %.1f, \"min\": %.1f, \"max\": %.1f, \"unit\": \"images/s\", \"ratio\": %.3f}\n",
               model, batch, threads, s[0], s[1], s[2], ratio);
    else
        printf("%-28s batch %2d  threads %d  %9.1f images/s  (min %.1f, max %.1f)  x%.2f vs 1 thread\n",
               model, batch, threads, s[0], s[1], s[2], ratio);
}

/* ---- the 224×224 benchmark models: FP32 and INT8 ---- */

#define BIG_BATCH 32
#define BIG_CALIB 16 /* random calibration inputs: one statistics group */

typedef struct {
    qc_graph *g;
    float *inputs; /* BIG_BATCH random images */
    int64_t dims[4];
    qc_error err;
} big_ctx;

/* The BIG_BATCH inputs of c, cycling. */
static qc_pass_inputs big_inputs(const big_ctx *c)
{
    return (qc_pass_inputs){.tensors = c->inputs, .n = BIG_BATCH, .cycle = BIG_BATCH,
                            .stride = c->dims[1] * c->dims[2] * c->dims[3], .rank = 4, .dims = c->dims};
}


/* stats[0..2]: median, min, max of images/s over `runs` runs of `batch` images; one thread
 * (qc_parallel_for then runs in the calling thread) is timed by its CPU time, several threads
 * by the wall clock */
static int big_measure(big_ctx *c, int threads, int batch, int runs, double *stats)
{
    double seconds[64];
    qc_pass_inputs in = big_inputs(c);
    if (qc_eval_time(c->g, &in, threads, batch, batch, runs, threads == 1 ? bench_thread_seconds : wall_seconds, seconds,
                     &c->err) != QC_OK)
        return -1;
    for (int r = 0; r < runs; r++)
        seconds[r] = batch / seconds[r];
    spread(seconds, runs, stats);
    return 0;
}

/* The INT8 model qcal makes of g: statistics of BIG_CALIB random inputs, qc_quantize with
 * the default options (QDQ), then QDQ fused into integer ops. */
static qc_status big_quantize(big_ctx *c, qc_graph **out)
{
    const char *names[BIG_CALIB];
    for (int i = 0; i < BIG_CALIB; i++)
        names[i] = "random";
    qc_pass_inputs in = big_inputs(c);
    in.n = BIG_CALIB;
    in.cycle = 0;
    in.names = names;
    qc_stats_options so = {0};
    qc_gather_options go = {.limit = BIG_CALIB, .batch = BIG_CALIB, .shard_n = 1, .threads = 1};
    qc_stats *s = NULL;
    qc_status st = qc_stats_gather_inputs(c->g, &in, &so, &go, &s, &c->err);
    qc_graph *q = NULL;
    if (st == QC_OK) {
        qc_quantize_options o;
        qc_quantize_options_default(&o);
        st = qc_quantize(c->g, s, &o, &q, NULL, &c->err);
    }
    if (st == QC_OK)
        st = qc_pass_fuse_qdq(q, &c->err);
    qc_stats_destroy(s);
    if (st != QC_OK) {
        if (q != NULL)
            qc_graph_destroy(q);
        return st;
    }
    *out = q;
    return QC_OK;
}

typedef struct {
    float *out;
    int n;
} first_output;

static qc_status keep_output(void *ctx, const qc_eval_result *r, qc_error *err)
{
    first_output *o = ctx;
    (void)err;
    memcpy(o->out, r->logits, sizeof(float) * (size_t)o->n);
    return QC_OK;
}

/* The first output of g on the first input: n values into out. */
static qc_status big_output(const big_ctx *c, const qc_graph *g, float *out, int n, qc_error *err)
{
    qc_pass_inputs in = big_inputs(c);
    in.n = 1;
    first_output fo = {out, n};
    qc_eval_options eo = {.run = {.limit = 1, .batch = 1, .shard_n = 1, .threads = 1},
                          .sink = keep_output, .sink_ctx = &fo};
    return qc_eval_logits(g, &in, n, &eo, err);
}

/* SQNR in dB of the INT8 model's first output against FP32's, on the first input */
static double big_sqnr(big_ctx *fp, big_ctx *q8)
{
    const qc_tensor *t = &fp->g->tensors[fp->g->outputs[0]];
    const int64_t n = qc_value_count(&t->value);
    float *r = malloc(sizeof(float) * (size_t)(n > 0 ? 2 * n : 1)), *x = r + n;
    double sqnr = 0.0 / 0.0;
    if (r && n > 0 && t->value.dtype == QC_FLOAT && big_output(fp, fp->g, r, (int)n, &fp->err) == QC_OK &&
        big_output(q8, q8->g, x, (int)n, &q8->err) == QC_OK) {
        qc_error_acc a;
        qc_error_metrics m;
        qc_error_acc_init(&a);
        qc_error_acc_add(&a, r, x, n);
        qc_error_acc_finish(&a, &m);
        sqnr = m.sqnr_db;
    }
    free(r);
    return sqnr;
}

static void big_print(bool json, const char *model, const char *precision, const double *lat,
                      const double *thr, int threads, const double *fp32_lat,
                      const double *fp32_thr)
{
    /* latency from the images/s of single-image runs: 1000 / rate ms */
    const double ms = 1000.0 / lat[0], ms_lo = 1000.0 / lat[2], ms_hi = 1000.0 / lat[1];
    const double speed_lat = fp32_lat != NULL ? lat[0] / fp32_lat[0] : 1.0;
    const double speed_thr = fp32_thr != NULL ? thr[0] / fp32_thr[0] : 1.0;
    if (json) {
        printf("{\"name\": \"%s_latency_batch1\", \"model\": \"%s\", \"batch\": 1, \"threads\": 1, "
               "\"median\": %.2f, \"min\": %.2f, \"max\": %.2f, \"unit\": \"ms\", "
               "\"ratio\": %.3f}\n",
               precision, model, ms, ms_lo, ms_hi, speed_lat);
        printf("{\"name\": \"%s_throughput_batch%d\", \"model\": \"%s\", \"batch\": %d, "
               "\"threads\": %d, \"median\": %.2f, \"min\": %.2f, \"max\": %.2f, "
               "\"unit\": \"images/s\", \"ratio\": %.3f}\n",
               precision, BIG_BATCH, model, BIG_BATCH, threads, thr[0], thr[1], thr[2], speed_thr);
    } else {
        printf("%-14s %-5s latency %7.1f ms (%.1f-%.1f)  batch %d on %d threads %7.1f images/s "
               "(%.1f-%.1f)",
               model, precision, ms, ms_lo, ms_hi, BIG_BATCH, threads, thr[0], thr[1], thr[2]);
        if (fp32_lat != NULL)
            printf("  INT8/FP32 x%.2f, x%.2f", speed_lat, speed_thr);
        printf("\n");
    }
}

static void big_ctx_init(big_ctx *c, qc_graph *g, const float *inputs, const int64_t *dims)
{
    c->g = g;
    memcpy(c->dims, dims, sizeof c->dims);
    c->inputs = (float *)inputs;
}

static void big_ctx_free(big_ctx *c)
{
    if (c->g != NULL)
        qc_graph_destroy(c->g);
}

static int bench_big_model(const char *path, const char *model, int runs, bool json)
{
    big_ctx fp = {0}, q8 = {0};
    qc_graph *g = NULL, *q = NULL;
    float *inputs = NULL;
    int status = 1;
    double fl[3], ft[3], ql[3], qt[3];
    if (qc_onnx_load(path, &g, &fp.err) != QC_OK || qc_pass_fold_batchnorm(g, &fp.err) != QC_OK) {
        fprintf(stderr, "error: %s\n", fp.err.msg);
        if (g != NULL)
            qc_graph_destroy(g);
        return 1;
    }
    const qc_tensor *t = &g->tensors[g->inputs[0]];
    int64_t dims[4] = {1, t->value.dims[1], t->value.dims[2], t->value.dims[3]};
    const int64_t count = dims[1] * dims[2] * dims[3];
    inputs = malloc((size_t)(BIG_BATCH * count) * sizeof *inputs);
    if (inputs == NULL) {
        fprintf(stderr, "error: %s: out of memory\n", path);
        qc_graph_destroy(g);
        free(inputs);
        return 1;
    }
    big_ctx_init(&fp, g, inputs, dims);
    uint32_t x = 12345; /* inputs like normalized images: roughly N(0, 1) */
    for (int64_t i = 0; i < BIG_BATCH * count; i++) {
        float sum = 0;
        for (int k = 0; k < 4; k++) {
            x = x * 1664525u + 1013904223u;
            sum += (float)(x >> 8) * (1.0f / 16777216.0f);
        }
        inputs[i] = (sum - 2.0f) * 1.7320508f;
    }
    if (big_measure(&fp, 1, 1, runs, fl) || big_measure(&fp, MAX_THREADS, BIG_BATCH, runs, ft)) {
        fprintf(stderr, "error: %s\n", fp.err.msg);
        goto end;
    }
    big_print(json, model, "fp32", fl, ft, MAX_THREADS, NULL, NULL);
    status = 0;
    if (big_quantize(&fp, &q) != QC_OK) {
        if (!json)
            printf("%-14s int8  unavailable: %s\n", model, fp.err.msg);
        goto end;
    }
    big_ctx_init(&q8, q, inputs, dims);
    if (big_measure(&q8, 1, 1, runs, ql) || big_measure(&q8, MAX_THREADS, BIG_BATCH, runs, qt)) {
        if (!json)
            printf("%-14s int8  unavailable: %s\n", model, q8.err.msg);
        goto end;
    }
    big_print(json, model, "int8", ql, qt, MAX_THREADS, fl, ft);
    const double sqnr = big_sqnr(&fp, &q8);
    if (json)
        printf("{\"name\": \"int8_output_sqnr\", \"model\": \"%s\", \"median\": %.2f, "
               "\"unit\": \"dB\"}\n",
               model, sqnr);
    else
        printf("%-14s int8  output SQNR against FP32 on one random input: %.1f dB\n", model,
               sqnr);
end:
    big_ctx_free(&q8);
    big_ctx_free(&fp);
    free(inputs);
    return status;
}

static int bench_big_models(const char *dir, int runs, bool json)
{
    static const char *const names[] = {"resnet18", "mobilenet_v2"};
    int status = 0;
    if (runs > 5)
        runs = 5; /* a batch of 32 takes seconds on these models */
    if (!json)
        printf("\n224x224 models in %s: FP32 and INT8 executors (median of %d runs; latency is\n"
               "one thread's CPU time per image, throughput the wall clock)\n",
               dir, runs);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.onnx", dir, names[i]);
        FILE *f = fopen(path, "rb");
        if (f == NULL) {
            if (!json)
                printf("%-14s skipped (no %s)\n", names[i], path);
            continue;
        }
        fclose(f);
        status |= bench_big_model(path, names[i], runs, json);
    }
    return status;
}

int main(int argc, char **argv)
{
    bool json = false;
    int runs = 7;
    int first = 1;
    const char *big_dir = getenv("QCAL_BENCH_MODELS");
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (!strcmp(argv[first], "--json"))
            json = true;
        else if (!strcmp(argv[first], "--runs") && first + 1 < argc)
            runs = atoi(argv[++first]);
        else if (!strcmp(argv[first], "--bench-models") && first + 1 < argc)
            big_dir = argv[++first];
        else {
            fprintf(stderr,
                    "usage: bench_models [--json] [--runs N] [--bench-models DIR] [MODEL...]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 64)
        runs = 7;
    glob_t found = {0};
    char **models = argv + first;
    int n_models = argc - first;
    if (n_models == 0) {
        glob("models/*.onnx", 0, NULL, &found);
        models = found.gl_pathv;
        n_models = (int)found.gl_pathc;
    }
    if (!json)
        printf("FP32 executor, images/s (median of %d runs); batch 32 = 32 images split over the threads\n", runs);
    int status = 0;
    for (int m = 0; m < n_models; m++) {
        bench_ctx c = {0};
        qc_graph *g;
        if (qc_onnx_load(models[m], &g, &c.err) != QC_OK || qc_pass_fold_batchnorm(g, &c.err) != QC_OK) {
            fprintf(stderr, "error: %s\n", c.err.msg);
            status = 1;
            continue;
        }
        const qc_tensor *t = &g->tensors[g->inputs[0]];
        c.g = g;
        c.dims[0] = 1;
        for (int d = 1; d < 4; d++)
            c.dims[d] = t->value.dims[d];
        int64_t count = c.dims[1] * c.dims[2] * c.dims[3];
        c.input = malloc((size_t)count * sizeof(float));
        srand(1);
        for (int64_t i = 0; i < count; i++)
            c.input[i] = (float)rand() / RAND_MAX * 2.0f - 1.0f;
        for (int batch = 1; batch <= 32; batch += 31) {
            double one[3], two[3];
            if (measure(&c, 1, batch, runs, one) || measure(&c, 2, batch, runs, two)) {
                fprintf(stderr, "error: %s\n", c.err.msg);
                status = 1;
                break;
            }
            print_figure(json, models[m], batch, 1, one, 1.0);
            print_figure(json, models[m], batch, 2, two, two[0] / one[0]);
        }
        free(c.input);
        qc_graph_destroy(g);
    }
    globfree(&found);
    if (big_dir != NULL && big_dir[0] != '\0')
        status |= bench_big_models(big_dir, runs, json);
    return status;
}
