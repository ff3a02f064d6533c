/* bench.c — `qcal bench MODEL`: latency and throughput of an FP32 model and of its INT8
 * version on qcal's executor, and their ratio. The INT8 version is a file the user gives, or
 * MODEL quantized here from statistics of random inputs: the kernels' time does not depend on
 * the values, so no images are needed. Inputs are random too, from a fixed seed. */
#include <stddef.h>
#include <string.h>

#include "../calib/calib.h"
#include "../stats/stats.h"
#include "cli.h"

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
    {"--scheme", .kind = CLI_CUSTOM, FIELD(scheme), .arg = "gemmlowp|symlowp|mixed", .parse = cli_parse_scheme,
     .expects = "gemmlowp, symlowp or mixed", .help = "gemmlowp, symlowp or mixed (default, as quantize), when MODEL is quantized here"},
    {.kind = CLI_GROUP, .rows = cli_granularity_rows, FIELD(granularity), .usage = "[--granularity tensor|channel]"},
    {"--granularity", .kind = CLI_DOC,
     .help = "channel (default): one weight scale per output channel; tensor: one per tensor (--per-tensor)"},
    {"--batch", .kind = CLI_INT64, FIELD(batch), .arg = "N", .min = 1, .max = 4096,
     .help = "inputs per run for the throughput (default 32)"},
    {"--runs", .kind = CLI_INT64, FIELD(runs), .arg = "N", .min = 1, .max = 100000,
     .help = "timed runs for each figure, after 3 untimed ones (default 20)"},
    {.kind = CLI_GROUP, .rows = cli_common_rows, FIELD(common), .usage = "[--json] [--quiet] [--threads N]"},
    {.kind = CLI_GROUP, .rows = cli_input_rows, FIELD(common)},
    {0},
};

static const cli_command command = {
    "bench", "MODEL", NULL,
    "Times MODEL (FP32) and its INT8 version on qcal's executor: the latency of one input on --threads "
    "threads, which share its operators (min, mean, median, p90 and p99 of --runs runs, by the wall clock "
    "and by the CPU time: the thread's, or the process's with several; percentiles by nearest rank), and the throughput of --batch inputs per run on --threads threads, "
    "each with its own runs (images/s and CPU time per image). Inputs are random: the time does not "
    "depend on the values.",
    rows, 1, "bench takes one MODEL"};

typedef qc_bench_timing timing;

static void print_spread_row(const char *label, const qc_spread *s)
{
    printf("%-22s %8.3f %8.3f %8.3f %8.3f %8.3f\n", label, 1e3 * s->min, 1e3 * s->mean, 1e3 * s->median,
           1e3 * s->p90, 1e3 * s->p99);
}

static void print_table(const char *model, const char *int8, const bench_options *o, const timing *f,
                        const timing *q)
{
    char head[64];
    printf("fp32: %s\nint8: %s\n", model, int8);
    snprintf(head, sizeof head, "latency, batch %lld (ms)", (long long)o->one);
    printf("%-22s %8s %8s %8s %8s %8s\n", head, "min", "mean", "median", "p90", "p99");
    print_spread_row("fp32 wall", &f->wall);
    const bool one = o->common.threads == 1; /* else the CPU time is the process's */
    print_spread_row(one ? "fp32 thread CPU" : "fp32 CPU", &f->cpu);
    print_spread_row("int8 wall", &q->wall);
    print_spread_row(one ? "int8 thread CPU" : "int8 CPU", &q->cpu);
    printf("%-22s %7.2fx wall, %.2fx %sCPU (medians)\n", "int8/fp32", f->wall.median / q->wall.median,
           f->cpu.median / q->cpu.median, one ? "thread " : "");
    snprintf(head, sizeof head, "batch %lld, %d thread%s", (long long)o->batch, o->common.threads,
             o->common.threads == 1 ? "" : "s");
    printf("%-22s %14s %14s\n", head, "images/s", "CPU ms/image");
    printf("%-22s %14.1f %14.3f\n", "fp32", f->throughput, 1e3 * f->cpu_per_input);
    printf("%-22s %14.1f %14.3f\n", "int8", q->throughput, 1e3 * q->cpu_per_input);
    printf("%-22s %13.2fx\n", "int8/fp32", q->throughput / f->throughput);
    printf("%lld timed runs after %d warm-up runs for each figure; percentiles by nearest rank\n",
           (long long)o->runs, WARMUP_RUNS);
}

static void print_spread_json(const char *key, const qc_spread *s)
{
    printf("\"%s\": {\"min\": %.6g, \"mean\": %.6g, \"median\": %.6g, \"p90\": %.6g, \"p99\": %.6g}", key,
           1e3 * s->min, 1e3 * s->mean, 1e3 * s->median, 1e3 * s->p90, 1e3 * s->p99);
}

static void print_timing_json(const char *key, const timing *t)
{
    printf(" \"%s\": {\"latency_ms\": %.6g, \"images_per_s\": %.6g, \"cpu_ms_per_image\": %.6g,\n  ", key,
           1e3 * t->wall.median, t->throughput, 1e3 * t->cpu_per_input);
    print_spread_json("wall_ms", &t->wall);
    printf(",\n  ");
    print_spread_json("thread_cpu_ms", &t->cpu);
    printf("},\n");
}

static void print_json(const char *model, const char *int8, const bench_options *o, const timing *f,
                       const timing *q)
{
    cli_json_field(model, "{\"model\": ");
    cli_json_field(o->int8_path ? int8 : NULL, ", \"int8_model\": ");
    printf(", \"scheme\": ");
    if (o->int8_path)
        printf("null, \"granularity\": null");
    else
        printf("\"%s\", \"granularity\": \"%s\"", qc_scheme_name(o->scheme),
               o->granularity.weights == QC_GRANULARITY_CHANNEL ? "channel" : "tensor");
    printf(", \"batch\": %lld, \"threads\": %d, \"runs\": %lld, \"warmup_runs\": %d,"
           " \"percentiles\": \"nearest-rank\",\n", (long long)o->batch, o->common.threads, (long long)o->runs,
           WARMUP_RUNS);
    print_timing_json("fp32", f);
    print_timing_json("int8", q);
    printf(" \"speedup\": {\"latency\": %.4g, \"latency_thread_cpu\": %.4g, \"throughput\": %.4g}}\n",
           f->wall.median / q->wall.median, f->cpu.median / q->cpu.median, q->throughput / f->throughput);
}

int cmd_bench(int argc, char **argv)
{
    bench_options o = {.scheme = QC_SCHEME_MIXED, .granularity = {QC_GRANULARITY_CHANNEL, QC_GRANULARITY_TENSOR},
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
    qc_bench_input in;
    status = qc_bench_input_of(g, model, q, o.int8_path, &in, &err);
    o.one = status == QC_OK ? in.one : 1;
    if (status == QC_OK && in.fixed)
        o.batch = in.dims[0];
    if (status == QC_OK && !o.int8_path) { /* QDQ, from statistics of random inputs */
        qc_quantize_options qo;
        qc_quantize_options_default(&qo);
        qo.scheme = o.scheme;
        qo.weights = o.granularity.weights;
        status = qc_bench_quantize_random(g, &qo, o.one, in.rank, in.dims, in.per_sample, &q, &err);
    }
    timing f = {0}, t = {0};
    qc_bench_options bo = {.one = o.one, .batch = o.batch, .runs = o.runs, .warmup = WARMUP_RUNS,
                           .threads = o.common.threads};
    if (status == QC_OK)
        status = qc_bench_time(g, &bo, in.rank, in.dims, in.per_sample, &f, &err);
    if (status == QC_OK)
        status = qc_bench_time(q, &bo, in.rank, in.dims, in.per_sample, &t, &err);
    if (cli_status(status, &err) == QC_OK) {
        const char *int8 = o.int8_path ? o.int8_path : "(quantized here)";
        if (o.common.json)
            print_json(model, int8, &o, &f, &t);
        else
            print_table(model, int8, &o, &f, &t);
    }
    qc_graph_destroy(q);
    qc_graph_destroy(g);
    return status;
}
