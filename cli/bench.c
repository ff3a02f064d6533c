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

static void print_table(const char *model, const char *int8, const qc_bench_options *o, const timing *f,
                        const timing *q)
{
    char head[64];
    printf("fp32: %s\nint8: %s\n", model, int8);
    snprintf(head, sizeof head, "latency, batch %lld (ms)", (long long)o->one);
    printf("%-22s %8s %8s %8s %8s %8s\n", head, "min", "mean", "median", "p90", "p99");
    print_spread_row("fp32 wall", &f->wall);
    const bool one = o->threads == 1; /* else the CPU time is the process's */
    print_spread_row(one ? "fp32 thread CPU" : "fp32 CPU", &f->cpu);
    print_spread_row("int8 wall", &q->wall);
    print_spread_row(one ? "int8 thread CPU" : "int8 CPU", &q->cpu);
    printf("%-22s %7.2fx wall, %.2fx %sCPU (medians)\n", "int8/fp32", f->wall.median / q->wall.median,
           f->cpu.median / q->cpu.median, one ? "thread " : "");
    snprintf(head, sizeof head, "batch %lld, %d thread%s", (long long)o->batch, o->threads,
             o->threads == 1 ? "" : "s");
    printf("%-22s %14s %14s\n", head, "images/s", "CPU ms/image");
    printf("%-22s %14.1f %14.3f\n", "fp32", f->throughput, 1e3 * f->cpu_per_input);
    printf("%-22s %14.1f %14.3f\n", "int8", q->throughput, 1e3 * q->cpu_per_input);
    printf("%-22s %13.2fx\n", "int8/fp32", q->throughput / f->throughput);
    printf("%lld timed runs after %d warm-up runs for each figure; percentiles by nearest rank\n",
           (long long)o->runs, (int)o->warmup);
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
        status = cli_status(qc_check_source(q, o.int8_path, hash, model, &err), &err);
    if (status != QC_OK) {
        qc_graph_destroy(q);
        qc_graph_destroy(g);
        return status;
    }
    qc_quantize_options qo;
    qc_quantize_options_default(&qo);
    qo.scheme = o.scheme;
    qo.weights = o.granularity.weights;
    qc_graph *made = NULL;
    timing f = {0}, t = {0};
    qc_bench_options bo = {.batch = o.batch, .runs = o.runs, .warmup = WARMUP_RUNS, .threads = o.common.threads};
    status = qc_bench_pair(g, model, q, o.int8_path, &qo, &bo, &made, &f, &t, &err);
    if (cli_status(status, &err) == QC_OK) {
        const char *int8 = o.int8_path ? o.int8_path : "(quantized here)";
        qc_bench_doc doc = {.model = model, .int8_model = o.int8_path, .scheme = o.scheme,
                            .weights = o.granularity.weights, .o = &bo};
        if (o.common.json)
            qc_bench_json_write(stdout, &doc, &f, &t);
        else
            print_table(model, int8, &bo, &f, &t);
    }
    qc_graph_destroy(made);
    qc_graph_destroy(q);
    qc_graph_destroy(g);
    return status;
}
