/* bench_models.c — FP32 images/s of each bundled model at batch 1 and 32, with 1 and 2
 * threads, as qcal eval runs them (one executor per thread, images split across threads).
 * Prints medians of several runs and the 2-thread/1-thread ratio measured in the same run.
 *
 * usage: bench_models [--json] [--runs N] [MODEL…]   (default: every .onnx file in models/) */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph/graph.h"
#include "io/io.h"

#define MAX_THREADS 2

typedef struct {
    const qc_graph *g;
    qc_exec *execs[MAX_THREADS];
    float *input;
    int64_t dims[4];
    qc_error err;
} bench_ctx;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int run_one(void *arg, int worker, int64_t item)
{
    (void)item;
    bench_ctx *c = arg;
    qc_value in = qc_value_f32(4, c->dims, c->input);
    return qc_exec_run(c->execs[worker], &in, 1, &c->err) != QC_OK;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Images/s over `runs` timed runs of `batch` images on `threads` threads: median, min, max. */
static int measure(bench_ctx *c, int threads, int batch, int runs, double *stats)
{
    double rates[64];
    if (qc_parallel_for(threads, batch, run_one, c)) /* warm-up: buffers, caches */
        return -1;
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        if (qc_parallel_for(threads, batch, run_one, c))
            return -1;
        rates[r] = batch / (now() - t0);
    }
    qsort(rates, (size_t)runs, sizeof rates[0], compare_double);
    stats[0] = rates[runs / 2];
    stats[1] = rates[0];
    stats[2] = rates[runs - 1];
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

int main(int argc, char **argv)
{
    bool json = false;
    int runs = 7;
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (!strcmp(argv[first], "--json"))
            json = true;
        else if (!strcmp(argv[first], "--runs") && first + 1 < argc)
            runs = atoi(argv[++first]);
        else {
            fprintf(stderr, "usage: bench_models [--json] [--runs N] [MODEL...]\n");
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
        for (int i = 0; i < MAX_THREADS; i++)
            c.execs[i] = qc_exec_create(g);
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
        for (int i = 0; i < MAX_THREADS; i++)
            qc_exec_destroy(c.execs[i]);
        free(c.input);
        qc_graph_destroy(g);
    }
    globfree(&found);
    return status;
}
