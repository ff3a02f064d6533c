/* bench.c — `qcal bench MODEL`: latency and throughput of an FP32 model and of its INT8
 * version on qcal's executor, and their ratio. The INT8 version is a file the user gives, or
 * MODEL quantized here from statistics of random inputs: the kernels' time does not depend on
 * the values, so no images are needed. Inputs are random too, from a fixed seed. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../calib/calib.h"
#include "../stats/stats.h"
#include "cli.h"

#define CALIB_SAMPLES 8
#define WARMUP_RUNS 3

typedef struct {
    const char *int8_path;
    qc_scheme scheme;
    cli_granularity granularity; /* tensor or channel (default) */
    int64_t batch, runs;
    int64_t one;       /* inputs of a latency run: 1, or the model's fixed batch */
    cli_common common;
} bench_options;

#define FIELD(f) .offset = offsetof(bench_options, f)
static const cli_option rows[] = {
    {"--int8", .kind = CLI_STRING, FIELD(int8_path), .arg = "Q.onnx",
     .help = "the INT8 model to time (QDQ or QOperator, the same input as MODEL; one from 'qcal quantize' "
             "must have been quantized from MODEL); by default MODEL quantized here: QDQ, weights per "
             "channel, statistics of 8 random inputs"},
    {"--scheme", .kind = CLI_CUSTOM, FIELD(scheme), .arg = "gemmlowp|symlowp", .parse = cli_parse_scheme,
     .expects = "gemmlowp or symlowp", .help = "gemmlowp (default) or symlowp, when MODEL is quantized here"},
    {.kind = CLI_GROUP, .rows = cli_granularity_rows, FIELD(granularity), .usage = "[--granularity tensor|channel]"},
    {"--granularity", .kind = CLI_DOC,
     .help = "channel (default): one weight scale per output channel; tensor: one per tensor (--per-tensor)"},
    {"--batch", .kind = CLI_INT64, FIELD(batch), .arg = "N", .min = 1, .max = 4096,
     .help = "inputs per run for the throughput (default 32)"},
    {"--runs", .kind = CLI_INT64, FIELD(runs), .arg = "N", .min = 1, .max = 100000,
     .help = "timed runs for each figure, after 3 untimed ones (default 20)"},
    {.kind = CLI_GROUP, .rows = cli_common_rows, FIELD(common)},
    {0},
};

static const cli_command command = {
    "bench", "MODEL", NULL,
    "Times MODEL (FP32) and its INT8 version on qcal's executor: the latency of one input on one thread "
    "(the median of --runs runs), and the throughput of --batch inputs per run on --threads threads, "
    "each with its own runs. Inputs are random: the time does not depend on the values.",
    rows, 1, "bench takes one MODEL"};

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
        qo.weights = o->granularity.weights;
        st = qc_quantize(fp32, s, &qo, out, NULL, err);
    }
    if (st == QC_OK)
        st = qc_pass_fuse_qdq(*out, err);
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
    cli_json_field(model, "{\"model\": ");
    cli_json_field(o->int8_path ? int8 : NULL, ", \"int8_model\": ");
    printf(", \"scheme\": ");
    if (o->int8_path)
        printf("null, \"per_channel\": null");
    else
        printf("\"%s\", \"per_channel\": %s", qc_scheme_name(o->scheme), o->granularity.weights == QC_GRANULARITY_CHANNEL ? "true" : "false");
    printf(", \"batch\": %lld, \"threads\": %d, \"runs\": %lld,\n", (long long)o->batch, o->common.threads,
           (long long)o->runs);
    printf(" \"fp32\": {\"latency_ms\": %.6g, \"images_per_s\": %.6g},\n", 1e3 * f->latency, f->throughput);
    printf(" \"int8\": {\"latency_ms\": %.6g, \"images_per_s\": %.6g},\n", 1e3 * q->latency, q->throughput);
    printf(" \"speedup\": {\"latency\": %.4g, \"throughput\": %.4g}}\n", f->latency / q->latency,
           q->throughput / f->throughput);
}

int cmd_bench(int argc, char **argv)
{
    bench_options o = {.scheme = QC_SCHEME_GEMMLOWP, .granularity = {QC_GRANULARITY_CHANNEL, QC_GRANULARITY_TENSOR},
                       .batch = 32, .runs = 20, .common = {.threads = 1}};
    const char *model = NULL;
    qc_graph *g = NULL, *q = NULL;
    qc_error err;
    int n = 0, status;
    if (!cli_parse(&command, &o, argc, argv, &model, &n, &status))
        return status;
    if (o.granularity.activations == QC_GRANULARITY_COMPENSATED)
        return cli_usage_error(&command, "bench quantizes per tensor or per channel, not compensated");
    if (!model)
        return cli_usage_error(&command, "bench needs a MODEL");
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
    if (cli_status(status, &err) == QC_OK) {
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
