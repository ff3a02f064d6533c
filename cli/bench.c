/* bench.c — `qcal bench MODEL`: latency and throughput of an FP32 model and of its INT8
 * version on qcal's executor, and their ratio. The INT8 version is a file the user gives, or
 * MODEL quantized here from statistics of random inputs: the kernels' time does not depend on
 * the values, so no images are needed. Inputs are random too, from a fixed seed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../calib/calib.h"
#include "../stats/stats.h"
#include "cli.h"

#define BENCH_USAGE                                                                                 \
    "usage: qcal bench MODEL [--int8 Q.onnx] [--scheme gemmlowp|symlowp] [--granularity tensor|channel]\n" \
    "                  [--batch N] [--runs N] [--json] [--quiet] [--threads N]\n"                   \
    "                  [--input NAME=FILE.npy]...\n"                                                \
    "  Times MODEL (FP32) and its INT8 version on qcal's executor: the latency of one input on\n"  \
    "  one thread (the median of --runs runs), and the throughput of --batch inputs per run on\n"  \
    "  --threads threads, each with its own runs. Inputs are random: the time does not depend on\n" \
    "  the values.\n"                                                                               \
    "  --int8 Q.onnx  the INT8 model to time (QDQ or QOperator, the same input as MODEL; one from\n" \
    "                 'qcal quantize' must have been quantized from MODEL); by\n"                 \
    "                 default MODEL quantized here: QDQ, weights per channel, statistics of 8\n"    \
    "                 random inputs\n"                                                              \
    "  --scheme S     gemmlowp (default) or symlowp, when MODEL is quantized here\n"                \
    "  --granularity  channel (default): one weight scale per output channel; tensor: one per\n"  \
    "                 tensor (--per-tensor)\n"                                                   \
    "  --batch N      inputs per run for the throughput (default 32)\n"                              \
    "  --runs N       timed runs for each figure, after 3 untimed ones (default 20)\n"              \
    "  --input NAME=FILE.npy  the constant a model input other than the timed one takes\n"

#define CALIB_SAMPLES 8
#define WARMUP_RUNS 3

typedef struct {
    const char *int8_path;
    qc_scheme scheme;
    qc_granularity weights, activations; /* --granularity: tensor or channel (default) */
    int64_t batch, runs;
    int64_t one;       /* inputs of a latency run: 1, or the model's fixed batch */
    cli_common common;
} bench_options;

typedef struct {
    double latency;    /* seconds: median of the batch-1 runs */
    double throughput; /* inputs per second */
} timing;

/* ---- the models -------------------------------------------------------------------------------- */

/* fp32 quantized here: statistics of CALIB_SAMPLES random inputs, then QDQ, fused. */
static qc_status quantize_here(const qc_graph *fp32, const bench_options *o, int rank, const int64_t *dims,
                               int64_t per_sample, qc_graph **out, qc_error *err)
{
    const int64_t size = per_sample * o->one;
    float *buf = malloc(sizeof(float) * (size_t)(size * CALIB_SAMPLES));
    if (!buf)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    char names[CALIB_SAMPLES][32];
    const char *name_of[CALIB_SAMPLES];
    for (int i = 0; i < CALIB_SAMPLES; i++) {
        qc_eval_random(buf + i * size, size, 1000u + (uint32_t)i);
        snprintf(names[i], sizeof names[i], "random-%d", i);
        name_of[i] = names[i];
    }
    int64_t d1[QC_MAX_RANK];
    memcpy(d1, dims, sizeof(int64_t) * (size_t)rank);
    d1[0] = o->one;
    qc_pass_inputs in = {.tensors = buf, .n = CALIB_SAMPLES, .stride = size, .rank = rank, .dims = d1,
                         .names = name_of};
    qc_stats_options so = {.per_channel = false, .histograms = false};
    qc_gather_options go = {.limit = CALIB_SAMPLES, .batch = CALIB_SAMPLES, .shard_n = 1, .threads = 1};
    qc_stats *s = NULL;
    qc_status st = qc_stats_gather_inputs(fp32, &in, &so, &go, &s, err);
    if (st == QC_OK) {
        qc_quantize_options qo;
        qc_quantize_options_default(&qo);
        qo.scheme = o->scheme;
        qo.weights = o->weights;
        st = qc_quantize(fp32, s, &qo, out, NULL, err);
    }
    if (st == QC_OK)
        st = qc_pass_fuse_qdq(*out, err);
    if (st == QC_OK) /* --input's constants, as MODEL's */
        st = qc_graph_copy_bindings(*out, fp32, err);
    qc_stats_destroy(s);
    free(buf);
    return st;
}

/* ---- timing ------------------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* g's median latency of o->one inputs on this thread, and its throughput at o->batch inputs
 * per run on o->threads threads (o->runs runs each, after WARMUP_RUNS). */
static qc_status time_graph(const qc_graph *g, const bench_options *o, int rank, const int64_t *dims,
                            int64_t per_sample, timing *t, qc_error *err)
{
    const int threads = o->common.threads;
    float *buf = malloc(sizeof(float) * (size_t)(per_sample * o->batch));
    double *lat = malloc(sizeof(double) * (size_t)o->runs);
    if (!buf || !lat) {
        free(buf);
        free(lat);
        return qc_fail(err, QC_ERR_IO, "out of memory");
    }
    qc_eval_random(buf, per_sample * o->batch, 7u);
    int64_t d[QC_MAX_RANK];
    memcpy(d, dims, sizeof(int64_t) * (size_t)rank);
    d[0] = o->one;
    /* one input, run again and again */
    qc_pass_inputs one = {.tensors = buf, .cycle = 1, .rank = rank, .dims = d};
    qc_status st = qc_eval_time(g, &one, 1, WARMUP_RUNS, 1, o->runs, cli_now, lat, err);
    if (st == QC_OK) {
        qsort(lat, (size_t)o->runs, sizeof *lat, cmp_double);
        t->latency = o->runs % 2 ? lat[o->runs / 2] : 0.5 * (lat[o->runs / 2 - 1] + lat[o->runs / 2]);
    }
    d[0] = o->batch;
    qc_pass_inputs many = one;
    double seconds = 0;
    if (st == QC_OK)
        st = qc_eval_time(g, &many, threads, (int64_t)threads * WARMUP_RUNS, (int64_t)threads * o->runs, 1,
                          cli_now, &seconds, err);
    if (st == QC_OK)
        t->throughput = (double)threads * (double)o->runs * (double)o->batch / seconds;
    free(lat);
    free(buf);
    return st;
}

/* ---- the command ---------------------------------------------------------------------------------- */

static int parse_options(int argc, char **argv, bench_options *o, const char **model)
{
    for (int i = 1; i < argc; i++) {
        bool bad = false;
        const char *v;
        int r = cli_common_option(&o->common, argc, argv, &i, BENCH_USAGE);
        if (r == 0)
            r = cli_model_io_option(false, argc, argv, &i, BENCH_USAGE);
        if (r < 0)
            return QC_ERR_USAGE;
        if (r > 0)
            continue;
        if ((r = cli_granularity_option(&o->weights, &o->activations, argc, argv, &i, BENCH_USAGE)) != 0) {
            if (r < 0)
                return QC_ERR_USAGE;
            if (o->activations == QC_GRANULARITY_COMPENSATED)
                return cli_usage_error(BENCH_USAGE, "bench quantizes per tensor or per channel, not compensated");
        } else if ((v = cli_option_value("--int8", argc, argv, &i, &bad, BENCH_USAGE))) {
            o->int8_path = v;
        } else if (!bad && (v = cli_option_value("--scheme", argc, argv, &i, &bad, BENCH_USAGE))) {
            if (!qc_scheme_parse(v, &o->scheme))
                return cli_usage_error(BENCH_USAGE, "--scheme takes gemmlowp or symlowp, not '%s'", v);
        } else if (!bad && (v = cli_option_value("--batch", argc, argv, &i, &bad, BENCH_USAGE))) {
            if (!cli_parse_int(v, 1, 4096, &o->batch))
                return cli_usage_error(BENCH_USAGE, "--batch takes a number from 1 to 4096, not '%s'", v);
        } else if (!bad && (v = cli_option_value("--runs", argc, argv, &i, &bad, BENCH_USAGE))) {
            if (!cli_parse_int(v, 1, 100000, &o->runs))
                return cli_usage_error(BENCH_USAGE, "--runs takes a number from 1 to 100000, not '%s'", v);
        } else if (bad) {
            return QC_ERR_USAGE;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error(BENCH_USAGE, "unknown option '%s'", argv[i]);
        } else if (*model) {
            return cli_usage_error(BENCH_USAGE, "bench takes one MODEL");
        } else {
            *model = argv[i];
        }
        if (bad)
            return QC_ERR_USAGE;
    }
    return QC_OK;
}

static void print_table(const char *model, const char *int8, const bench_options *o, const timing *f,
                        const timing *q)
{
    char head[64], lat[64];
    snprintf(head, sizeof head, "batch %lld, %d thread%s", (long long)o->batch, o->common.threads,
             o->common.threads == 1 ? "" : "s");
    snprintf(lat, sizeof lat, "latency (batch %lld)", (long long)o->one);
    printf("%-10s %24s %28s\n", "", lat, head);
    printf("%-10s %21.3f ms %21.1f images/s   %s\n", "fp32", 1e3 * f->latency, f->throughput, model);
    printf("%-10s %21.3f ms %21.1f images/s   %s\n", "int8", 1e3 * q->latency, q->throughput, int8);
    printf("%-10s %23.2fx %28.2fx\n", "int8/fp32", f->latency / q->latency, q->throughput / f->throughput);
}

static void print_json(const char *model, const char *int8, const bench_options *o, const timing *f,
                       const timing *q)
{
    printf("{\"model\": ");
    cli_json_string(stdout, model);
    printf(", \"int8_model\": ");
    if (o->int8_path)
        cli_json_string(stdout, int8);
    else
        printf("null");
    printf(", \"scheme\": ");
    if (o->int8_path)
        printf("null, \"per_channel\": null");
    else
        printf("\"%s\", \"per_channel\": %s", qc_scheme_name(o->scheme), o->weights == QC_GRANULARITY_CHANNEL ? "true" : "false");
    printf(", \"batch\": %lld, \"threads\": %d, \"runs\": %lld,\n", (long long)o->batch, o->common.threads,
           (long long)o->runs);
    printf(" \"fp32\": {\"latency_ms\": %.6g, \"images_per_s\": %.6g},\n", 1e3 * f->latency, f->throughput);
    printf(" \"int8\": {\"latency_ms\": %.6g, \"images_per_s\": %.6g},\n", 1e3 * q->latency, q->throughput);
    printf(" \"speedup\": {\"latency\": %.4g, \"throughput\": %.4g}}\n", f->latency / q->latency,
           q->throughput / f->throughput);
}

int cmd_bench(int argc, char **argv)
{
    bench_options o = {.scheme = QC_SCHEME_GEMMLOWP, .weights = QC_GRANULARITY_CHANNEL, .batch = 32, .runs = 20, .common = {.threads = 1}};
    const char *model = NULL;
    qc_graph *g = NULL, *q = NULL;
    qc_error err;
    int status = parse_options(argc, argv, &o, &model);
    if (status != QC_OK)
        return status;
    if (o.common.help) {
        printf("%s", BENCH_USAGE);
        return QC_OK;
    }
    if (!model)
        return cli_usage_error(BENCH_USAGE, "bench needs a MODEL");
    int rank, qrank;
    int64_t dims[QC_MAX_RANK], qdims[QC_MAX_RANK], per_sample, qper_sample;
    bool fixed = false, qfixed = false;
    uint64_t hash = 0;
    status = cli_load_model(model, true, &g, o.int8_path ? &hash : NULL);
    if (status == QC_OK && o.int8_path)
        status = cli_load_model(o.int8_path, true, &q, NULL);
    /* an INT8 file that records its source must come from MODEL: the speed-up of another
     * network of the same input size means nothing */
    if (status == QC_OK && o.int8_path)
        status = cli_check_source(q, o.int8_path, hash, model);
    if (status != QC_OK) {
        qc_graph_destroy(q);
        qc_graph_destroy(g);
        return status;
    }
    status = qc_eval_batch_input(g, model, &rank, dims, &per_sample, &fixed, &err);
    /* a model exported with a fixed batch runs that batch, for both figures */
    o.one = status == QC_OK && fixed ? dims[0] : 1;
    if (status == QC_OK && fixed)
        o.batch = dims[0];
    if (status == QC_OK && o.int8_path) {
        status = qc_eval_batch_input(q, o.int8_path, &qrank, qdims, &qper_sample, &qfixed, &err);
        if (status == QC_OK && qfixed && (!fixed || qdims[0] != dims[0]))
            status = qc_fail(&err, QC_ERR_INPUT, "'%s' has a fixed batch of %lld; '%s' does not", o.int8_path,
                             (long long)qdims[0], model);
        if (status == QC_OK && (qrank != rank || qper_sample != per_sample))
            status = qc_fail(&err, QC_ERR_INPUT, "'%s' takes another input than '%s' (%lld values a sample, not %lld)",
                             o.int8_path, model, (long long)qper_sample, (long long)per_sample);
    } else if (status == QC_OK) {
        status = quantize_here(g, &o, rank, dims, per_sample, &q, &err);
    }
    timing f = {0}, t = {0};
    if (status == QC_OK)
        status = time_graph(g, &o, rank, dims, per_sample, &f, &err);
    if (status == QC_OK)
        status = time_graph(q, &o, rank, dims, per_sample, &t, &err);
    if (status != QC_OK) {
        cli_error("%s", err.msg);
    } else {
        const char *int8 = o.int8_path ? o.int8_path : "(quantized here)";
        if (o.common.json)
            print_json(model, int8, &o, &f, &t);
        else if (!o.common.quiet)
            print_table(model, int8, &o, &f, &t);
    }
    qc_graph_destroy(q);
    qc_graph_destroy(g);
    return status;
}
