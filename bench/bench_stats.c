/* bench_stats.c — what gathering statistics costs: for each bundled model, the time of plain
 * FP32 inference over the calibration images against the same inference with the statistics
 * observer (per-channel moments; then with histograms too), as `qcal stats` runs it (the
 * pass of qc_pass_run with the hooks of qc_stats_gather: one executor and one accumulator per
 * thread, flushed after each group of images, merged at the end). Images are decoded once beforehand, so only inference and statistics are timed, in
 * CPU time. Each run times the three modes interleaved by blocks of BLOCK_GROUPS groups, so
 * that whatever else a shared machine does in the meantime slows every mode alike; set-up and
 * merging are timed too. Prints the medians of several runs and the median of the runs'
 * ratios to the plain mode; the targets are 1.15 without histograms and 1.5 with them. Other
 * work only ever adds time, so the ratio of the fastest runs is printed too. Ends with the
 * process's peak resident memory: the decoded images the bench holds, plus what statistics
 * need, which does not grow with the number of images.
 *
 * usage: bench_stats [--json] [--runs N] [--threads N] [--images DIR] [MODEL…]
 *        (default: every models/NAME.onnx over data/calib) */
#include <glob.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench-util.h"
#include "graph/graph.h"
#include "io/io.h"
#include "stats/stats.h"

#define MAX_THREADS 16
#define MAX_RUNS 64
#define BLOCK_GROUPS 4 /* 64 images: tens of milliseconds per mode and block */

typedef enum { MODE_PLAIN, MODE_MOMENTS, MODE_HIST, N_MODES } bench_mode;

static const char *const mode_names[N_MODES] = {"fp32", "stats", "stats_hist"};
static const double targets[N_MODES] = {1.0, 1.15, 1.5};

typedef struct {
    const qc_graph *g;
    qc_exec *execs[MAX_THREADS];
    qc_stats *acc[N_MODES][MAX_THREADS]; /* per mode (none for the plain one) and worker */
    const float *images;
    int64_t image_size, dims[4], n;
    int threads;
    qc_error err;
} bench_ctx;

/* The plain mode: no observer on the executors. */
static qc_status plain_start(void *ctx, int worker, qc_exec *x, qc_error *err)
{
    (void)ctx;
    (void)worker;
    (void)err;
    qc_exec_set_observer(x, NULL, NULL);
    return QC_OK;
}

/* Images [first, first + n) in one mode, as qcal stats runs them (qc_pass_run: groups of
 * QC_STATS_GROUP images on the threads, each worker's accumulator flushed after each group);
 * returns the process CPU time it took, or -1. */
static double run_images(bench_ctx *c, bench_mode mode, int64_t first, int64_t n)
{
    qc_pass_inputs in = {.tensors = c->images + first * c->image_size, .n = n, .stride = c->image_size,
                         .rank = 4, .dims = c->dims};
    qc_stats_pass sp = {.g = c->g, .in = &in, .workers = c->acc[mode]};
    qc_pass_hooks h = mode == MODE_PLAIN ? (qc_pass_hooks){.start = plain_start, .group = QC_STATS_GROUP}
                                         : qc_stats_hooks(&sp);
    h.execs = c->execs;
    qc_gather_options o = {.limit = INT64_MAX, .batch = n, .shard_n = 1, .threads = c->threads};
    /* CPU time of the process (every thread): on a busy machine it moves far less than wall time */
    double t0 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
    qc_status st = qc_pass_run(c->g, &in, &o, &h, &c->err);
    return st == QC_OK ? bench_seconds(CLOCK_PROCESS_CPUTIME_ID) - t0 : -1;
}

/* The statistics modes' root and per-worker accumulators; seconds[k] gets the time. */
static int setup_modes(bench_ctx *c, qc_stats **root, double *seconds)
{
    int r = 0;
    memset(c->acc, 0, sizeof c->acc);
    for (int k = 0; k < N_MODES; k++) {
        double t0 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
        if (k != MODE_PLAIN) {
            qc_stats_options o = {.per_channel = true, .histograms = k == MODE_HIST};
            if (qc_stats_create(c->g, &o, &root[k], &c->err) != QC_OK)
                r = 1;
            for (int t = 0; !r && t < c->threads; t++)
                if (!(c->acc[k][t] = qc_stats_clone_empty(root[k])))
                    r = 1;
        }
        seconds[k] = bench_seconds(CLOCK_PROCESS_CPUTIME_ID) - t0;
    }
    return r;
}

/* Merges each mode's accumulators into its root and frees them all; seconds[k] += the time. */
static int merge_modes(bench_ctx *c, qc_stats **root, int r, double *seconds)
{
    for (int k = 0; k < N_MODES; k++) {
        double t0 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
        for (int t = 0; t < c->threads; t++) {
            if (!r && root[k] && qc_stats_merge(root[k], c->acc[k][t], &c->err) != QC_OK)
                r = 1;
            qc_stats_destroy(c->acc[k][t]);
            c->acc[k][t] = NULL;
        }
        qc_stats_destroy(root[k]);
        seconds[k] += bench_seconds(CLOCK_PROCESS_CPUTIME_ID) - t0;
    }
    return r;
}

/* One run of the three modes over the n images, interleaved by blocks of BLOCK_GROUPS groups
 * (the first mode changing from block to block); seconds[k] is mode k's CPU time, set-up and
 * merging included. Returns 0 on success. */
static int run_interleaved(bench_ctx *c, int64_t n, double *seconds)
{
    qc_stats *root[N_MODES] = {NULL};
    int r = setup_modes(c, root, seconds);
    const int64_t block = (int64_t)BLOCK_GROUPS * QC_STATS_GROUP;
    for (int64_t b = 0; !r && b * block < n; b++)
        for (int j = 0; j < N_MODES && !r; j++) {
            int k = (int)((b + j) % N_MODES);
            double t = run_images(c, (bench_mode)k, b * block, n - b * block < block ? n - b * block : block);
            r = t < 0;
            seconds[k] += t;
        }
    return merge_modes(c, root, r, seconds);
}

/* Seconds (process CPU time) to run n images in one mode, set-up and merging included: --only,
 * to profile one mode. */
static double run_mode(bench_ctx *c, bench_mode mode, int64_t n)
{
    double t0 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
    if (mode == MODE_PLAIN)
        return run_images(c, mode, 0, n) < 0 ? -1 : bench_seconds(CLOCK_PROCESS_CPUTIME_ID) - t0;
    qc_pass_inputs in = {.tensors = c->images, .n = n, .stride = c->image_size, .rank = 4, .dims = c->dims};
    qc_stats_options so = {.per_channel = true, .histograms = mode == MODE_HIST};
    qc_gather_options o = {.limit = INT64_MAX, .batch = n, .shard_n = 1, .threads = c->threads};
    qc_stats *s = NULL;
    qc_status st = qc_stats_gather_inputs(c->g, &in, &so, &o, &s, &c->err);
    qc_stats_destroy(s);
    return st == QC_OK ? bench_seconds(CLOCK_PROCESS_CPUTIME_ID) - t0 : -1;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Loads up to the set's images into one buffer of NCHW floats. */
static float *load_images(const char *model, const char *dir, int ch, int h, int w, int64_t *n,
                          qc_error *err)
{
    qc_image_set set;
    qc_model_card card = {0};
    if (qc_model_card_load(model, ch, &card, NULL, 0, err) != QC_OK ||
        qc_image_set_open(&set, dir, NULL, err) != QC_OK) {
        qc_model_card_free(&card);
        return NULL;
    }
    qc_preprocess pp;
    if (card.found)
        pp = card.pp;
    else
        qc_preprocess_default(&pp, ch);
    int64_t size = (int64_t)ch * h * w;
    float *buf = malloc((size_t)(set.n_items * size) * sizeof *buf);
    for (int i = 0; buf && i < set.n_items; i++)
        if (qc_image_load(set.items[i].path, &pp, ch, h, w, buf + i * size, err) != QC_OK) {
            free(buf);
            buf = NULL;
        }
    *n = set.n_items;
    qc_image_set_free(&set);
    qc_model_card_free(&card);
    return buf;
}

int main(int argc, char **argv)
{
    bool json = false;
    int runs = 5, threads = 1;
    const char *images = "data/calib";
    int only = -1; /* --only MODE: time that mode alone (for profilers) */
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (!strcmp(argv[first], "--json"))
            json = true;
        else if (!strcmp(argv[first], "--runs") && first + 1 < argc)
            runs = atoi(argv[++first]);
        else if (!strcmp(argv[first], "--threads") && first + 1 < argc)
            threads = atoi(argv[++first]);
        else if (!strcmp(argv[first], "--images") && first + 1 < argc)
            images = argv[++first];
        else if (!strcmp(argv[first], "--only") && first + 1 < argc)
            only = atoi(argv[++first]);
        else {
            fprintf(stderr, "usage: bench_stats [--json] [--runs N] [--threads N] [--images DIR] [--only 0|1|2] [MODEL...]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > MAX_RUNS)
        runs = 5;
    if (threads < 1 || threads > MAX_THREADS)
        threads = 1;
    glob_t found = {0};
    char **models = argv + first;
    int n_models = argc - first;
    if (n_models == 0) {
        glob("models/*.onnx", 0, NULL, &found);
        models = found.gl_pathv;
        n_models = (int)found.gl_pathc;
    }
    if (!json)
        printf("statistics cost over %s, %d thread%s: median of %d runs (targets: stats x%.2f, with histograms x%.2f)\n",
               images, threads, threads == 1 ? "" : "s", runs, targets[MODE_MOMENTS], targets[MODE_HIST]);
    int status = 0;
    double images_mib = 0; /* the largest decoded image set held at once */
    for (int m = 0; m < n_models; m++) {
        bench_ctx c = {0};
        qc_graph *g = NULL;
        float *buf = NULL;
        int64_t n = 0;
        if (qc_onnx_load(models[m], &g, &c.err) != QC_OK || qc_pass_fold_batchnorm(g, &c.err) != QC_OK)
            goto fail;
        const qc_tensor *in = &g->tensors[g->inputs[0]];
        c.g = g;
        c.dims[0] = 1;
        for (int d = 1; d < 4; d++)
            c.dims[d] = in->value.dims[d];
        c.image_size = c.dims[1] * c.dims[2] * c.dims[3];
        c.threads = threads;
        buf = load_images(models[m], images, (int)c.dims[1], (int)c.dims[2], (int)c.dims[3], &n, &c.err);
        if (!buf)
            goto fail;
        c.images = buf;
        double mib = (double)(n * c.image_size) * sizeof *buf / (1 << 20);
        images_mib = mib > images_mib ? mib : images_mib;
        for (int t = 0; t < threads; t++)
            c.execs[t] = qc_exec_create(g);
        if (only >= 0 && only < N_MODES) {
            for (int r = 0; r < runs; r++)
                if (run_mode(&c, (bench_mode)only, n) < 0)
                    goto fail;
            goto next;
        }
        double times[N_MODES][MAX_RUNS], seconds[N_MODES];
        if (run_interleaved(&c, n, seconds)) /* warm-up: buffers, caches */
            goto fail;
        for (int r = 0; r < runs; r++) {
            if (run_interleaved(&c, n, seconds))
                goto fail;
            for (int k = 0; k < N_MODES; k++)
                times[k][r] = seconds[k];
        }
        /* The ratio of each mode to the plain one in the same run, then the median. */
        double ratios[N_MODES][MAX_RUNS], best[N_MODES];
        for (int k = 0; k < N_MODES; k++) {
            for (int r = 0; r < runs; r++)
                ratios[k][r] = times[k][r] / times[MODE_PLAIN][r];
            qsort(ratios[k], (size_t)runs, sizeof ratios[k][0], compare_double);
            qsort(times[k], (size_t)runs, sizeof times[k][0], compare_double);
            best[k] = times[k][0] / times[MODE_PLAIN][0];
        }
        for (int k = 0; k < N_MODES; k++) {
            double med = times[k][runs / 2], ratio = ratios[k][runs / 2];
            if (json)
                printf("{\"name\": \"%s_ms\", \"model\": \"%s\", \"threads\": %d, \"median\": %.2f, \"min\": %.2f, "
                       "\"max\": %.2f, \"unit\": \"ms\", \"ratio\": %.3f, \"ratio_of_min\": %.3f}\n",
                       mode_names[k], models[m], threads, med * 1e3, times[k][0] * 1e3,
                       times[k][runs - 1] * 1e3, ratio, best[k]);
            else
                printf("%-26s %-10s %8.1f ms for %lld images (min %.1f, max %.1f)  x%.3f (fastest x%.3f)%s\n",
                       models[m], mode_names[k], med * 1e3, (long long)n, times[k][0] * 1e3,
                       times[k][runs - 1] * 1e3, ratio, best[k],
                       k == MODE_PLAIN ? "" : ratio <= targets[k] ? "  ok" : "  OVER TARGET");
        }
        goto next;
    fail:
        fprintf(stderr, "error: %s: %s\n", models[m], c.err.msg);
        status = 1;
    next:
        for (int t = 0; t < threads; t++)
            qc_exec_destroy(c.execs[t]);
        free(buf);
        qc_graph_destroy(g);
    }
    globfree(&found);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double peak = (double)ru.ru_maxrss / 1024; /* Linux: KiB */
        if (json)
            printf("{\"name\": \"peak_rss\", \"images\": \"%s\", \"value\": %.1f, \"unit\": \"MiB\", "
                   "\"decoded_images\": %.1f}\n", images, peak, images_mib);
        else
            printf("peak RSS %.1f MiB, of which up to %.1f MiB are the decoded images the bench holds\n",
                   peak, images_mib);
    }
    return status;
}
