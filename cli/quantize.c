/* quantize.c — `qcal quantize MODEL (--stats S.json | IMAGES) -o OUT.onnx`: statistics (from a
 * file, or gathered here as `qcal stats` does) and the quantizer (calib/) give an INT8 ONNX
 * model in the QDQ, QOperator or FakeQuantize layout, written atomically, and a table (or
 * JSON) of every quantized tensor's range, scale, zero point and bits. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../calib/calib.h"
#include "../stats/stats.h"
#include "cli.h"

typedef struct {
    const char *out, *stats_file;
    const char *trt_cache, *ort_overrides, *write_config; /* NULL when not asked for */
    const char *config_path, *preset, *target;            /* read first, by apply_config */
    qc_config config;                                     /* --config's, empty without */
    cli_image_select select;
    cli_skipped skipped; /* filled by the run: the images --skip-bad left out */
    qc_quantize_options q;
    cli_granularity granularity;
    int bits, weight_bits, act_bits; /* 0 when not given */
    cli_list exclude;
    bool allow_partial;
    float max_drop, min_agreement; /* accuracy-aware budgets; < 0 when not given */
    const char *aa_val;            /* VAL: the operand after MODEL and IMAGES */
    qc_aa_metric aa_metric;
    double aa_budget;
    int64_t aa_images, aa_max_layers;
    int64_t bias_images; /* empirical bias correction's images; 0 when not given (64) */
    double bias_seconds;
    qc_bias_measurement bias;
    int method;                    /* a qc_range_method, or METHOD_AUTO */
    int64_t auto_images;           /* --method auto: the class-balanced subset of IMAGES run */
    qc_auto_result auto_result;    /* --method auto's choices, empty without */
    cli_pp_flags pp;
    cli_common common;
} quantize_options;

#define METHOD_AUTO (-1)

/* A range method, or auto (chosen per tensor) */
static bool parse_method(const char *v, void *method)
{
    qc_range_method m;
    if (!strcmp(v, "auto")) {
        *(int *)method = METHOD_AUTO;
        return true;
    }
    if (!cli_parse_method(v, &m))
        return false;
    *(int *)method = (int)m;
    return true;
}

static bool parse_format(const char *v, void *format)
{
    return qc_qformat_parse(v, format);
}

static bool parse_bias_mode(const char *v, void *mode)
{
    return qc_bias_mode_parse(v, mode);
}

static bool parse_round(const char *v, void *mode)
{
    return qc_round_mode_parse(v, mode);
}

#define FIELD(f) .offset = offsetof(quantize_options, f)
#define BITS_ROW(name, field, usage_text, help_text)                                                   \
    {name, .kind = CLI_INT, FIELD(field), .arg = "N", .usage = usage_text, .help = help_text,          \
     .min = QC_BITS_MIN, .max = QC_BITS_MAX}
static const cli_option rows[] = {
    {"--output", "-o", CLI_STRING, FIELD(out), .usage = ""},
    {"--stats", .kind = CLI_STRING, FIELD(stats_file), .usage = ""},
    {"--scheme", .kind = CLI_CUSTOM, FIELD(q.scheme), .arg = "gemmlowp|symlowp|mixed", .parse = cli_parse_scheme,
     .expects = "gemmlowp, symlowp or mixed", .help = "gemmlowp (asymmetric uint8), symlowp (zero point 0) "
     "or mixed (int8 symmetric weights, uint8 asymmetric activations; the default)"},
    {"--method", .kind = CLI_CUSTOM, FIELD(method), .arg = "minmax|avg|avgstd|meanstd|percentile|entropy|mse|auto",
     .parse = parse_method, .expects = "minmax, avg, avgstd, meanstd, percentile, entropy, mse or auto",
     .help = "how activation ranges are chosen (default minmax); auto: one of 11 candidates per tensor, "
             "chosen so that the model's top-1 agrees best with FP32's on IMAGES, then its logits' KL is "
             "lowest (needs histograms; with --stats, IMAGES too)"},
    {"--auto-images", .kind = CLI_INT64, FIELD(auto_images), .arg = "K", .min = 1, .max = INT64_MAX,
     .expects = "a positive count", .help = "--method auto: the class-balanced subset of IMAGES it runs (default 512)"},
    {.kind = CLI_GROUP, .rows = cli_range_rows, FIELD(q.range)},
    {"--n", .kind = CLI_DOC, .arg = "N", .help = "avgstd and meanstd: mean +- N std (default 3)"},
    {"--percentile", .kind = CLI_DOC, .arg = "P", .help = "percentile: P in (50, 100] (default 99.99)"},
    {.kind = CLI_GROUP, .rows = cli_granularity_rows, FIELD(granularity)},
    {"--granularity", .kind = CLI_DOC,
     .help = "tensor: one scale per weight tensor (--per-tensor); channel (default): one per output channel "
             "(--per-channel); "
             "compensated: per channel, and activations read by Conv/Gemm/MatMul get a scale per channel, "
             "folded into those layers' weights (--per-channel --input-compensation; needs per-channel "
             "statistics; qdq or fakequant)"},
    BITS_ROW("--bits", bits, "[--bits N | --weight-bits N --act-bits N]",
             "weights and activations N bits, 2 to 8 (default 8)"),
    BITS_ROW("--weight-bits", weight_bits, "", NULL),
    BITS_ROW("--act-bits", act_bits, "", NULL),
    {"--reduce-range", .kind = CLI_FLAG, FIELD(q.reduce_range),
     .help = "7-bit weights, as ONNX Runtime does for CPUs without VNNI"},
    {"--round", .kind = CLI_CUSTOM, FIELD(q.round), .arg = "MODE", .parse = parse_round,
     .expects = QC_ROUND_MODE_LIST,
     .help = "rounding of the weights: half-even (default), half-away, toward-zero, up, down, "
             "half-toward-zero, half-up, half-down, away-from-zero (or nGraph's names: "
             "ROUND_NEAREST_TOWARD_EVEN, ...)"},
    {"--act-round", .kind = CLI_CUSTOM, FIELD(q.act_round), .arg = "MODE", .parse = parse_round,
     .expects = QC_ROUND_MODE_LIST,
     .help = "rounding of the activations: half-even (default, QuantizeLinear's); the others with "
             "--format fakequant only"},
    {"--format", .kind = CLI_CUSTOM, FIELD(q.format), .arg = "qdq|qoperator|fakequant", .parse = parse_format,
     .expects = "qdq, qoperator or fakequant",
     .help = "qdq (QuantizeLinear/DequantizeLinear around FP32 ops, default), qoperator (QLinearConv, "
             "QLinearMatMul, com.microsoft QLinear*), fakequant (FP32 with quantize-dequantize, any bit width)"},
    {"--bias-correction", .kind = CLI_CUSTOM, FIELD(q.bias_correction), .arg = "analytic|empirical",
     .parse = parse_bias_mode, .expects = "none, analytic or empirical",
     .help = "Conv and Gemm biases less the mean error their quantized weights add: empirical measures it "
             "layer by layer on the quantized model's own inputs over IMAGES (not with --stats); analytic "
             "from the statistics' FP32 input means"},
    {"--bias-images", .kind = CLI_INT64, FIELD(bias_images), .arg = "N", .min = 1, .max = INT64_MAX,
     .expects = "a positive count",
     .help = "empirical bias correction: the first N calibration images (default 64)"},
    {"--allow-partial", .kind = CLI_FLAG, FIELD(allow_partial),
     .help = "with --stats: use a partial merge of shards (a warning instead of exit 3)"},
    {"--config", .kind = CLI_STRING, FIELD(config_path), .arg = "FILE",
     .help = "settings and per-node overrides from a JSON config (README \"Quantization configs\"); flags "
             "given override its globals"},
    {"--preset", .kind = CLI_STRING, FIELD(preset), .arg = "NAME",
     .help = "performance, mixed, gemmlowp, symlowp or tensorrt: scheme and granularity (over --config's, "
             "under the other flags)"},
    {"--target", .kind = CLI_STRING, FIELD(target), .arg = "generic|tensorrt",
     .help = "generic (default) or tensorrt: int8 zero point 0, per-channel weights, QDQ only on the inputs of "
             "Conv, Gemm and MatMul (as --preset tensorrt)"},
    {"--write-config", .kind = CLI_STRING, FIELD(write_config), .arg = "FILE",
     .help = "also write the settings used as a config (--json prints it too)"},
    {"--write-trt-cache", .kind = CLI_STRING, FIELD(trt_cache), .arg = "FILE",
     .help = "also write the activation scales as a TensorRT INT8 calibration cache (amax / 127, 8-bit "
             "activations)"},
    {"--write-ort-overrides", .kind = CLI_STRING, FIELD(ort_overrides), .arg = "FILE",
     .help = "also write every scale and zero point as ONNX Runtime's TensorQuantOverrides JSON (8-bit "
             "weights and activations)"},
    {"--exclude", .kind = CLI_LIST, FIELD(exclude), .arg = "NAME,...",
     .help = "nodes kept FP32 (comma-separated names, the option repeated adds more; an unknown name is exit 2)"},
    {"--max-drop", .kind = CLI_FLOAT, FIELD(max_drop), .arg = "P VAL", .min = 0, .max = INT32_MAX,
     .usage = "[--max-drop P VAL | --min-agreement A VAL]", .expects = "points of top-1 (>= 0)",
     .help = "accuracy-aware: while top-1 on the labelled images of VAL (ImageFolder) drops more than P points "
             "below FP32's, return the most sensitive quantized node to FP32 (each measured alone in FP32), one at "
             "a time; exit 1 when the budget is still missed (the model is written all the same)"},
    {"--min-agreement", .kind = CLI_FLOAT, FIELD(min_agreement), .arg = "A VAL", .min = 0, .max = 100, .usage = "",
     .expects = "a percentage (0 to 100)", .help = "the same without labels: top-1 agreement with FP32 at least A %"},
    {"--sensitivity-images", .kind = CLI_INT64, FIELD(aa_images), .arg = "K", .min = 1, .max = INT64_MAX,
     .expects = "a positive count", .help = "the class-balanced subset of VAL the ranking runs (default 256)"},
    {"--max-fp32-layers", .kind = CLI_INT64, FIELD(aa_max_layers), .arg = "N", .min = 0, .max = INT32_MAX,
     .expects = "a count", .help = "return at most N nodes to FP32 (default: as many as it takes)"},
    {.kind = CLI_GROUP, .rows = cli_common_rows, FIELD(common)},
    {.kind = CLI_GROUP, .rows = cli_select_rows, FIELD(select)},
    {"--limit", .kind = CLI_DOC, .arg = "N", .help = "with IMAGES: the first N images in sorted order "
     "(default all; on an ImageFolder the first classes only: --sample N is the balanced subset)"},
    {"--sample", .kind = CLI_DOC, .arg = "N",
     .help = "with IMAGES: a reproducible class-balanced random subset (--seed S)"},
    {"--skip-bad", .kind = CLI_DOC, .help = "with IMAGES: report an unreadable image and leave it out"},
    {.kind = CLI_GROUP, .rows = cli_batch_rows, FIELD(select)},
    {.kind = CLI_GROUP, .rows = cli_pp_rows, FIELD(pp)},
    {.kind = CLI_GROUP, .rows = cli_input_rows, FIELD(pp)},
    {0},
};

static const cli_command command = {
    "quantize", "MODEL (--stats S.json | IMAGES) -o OUT.onnx", NULL,
    "Quantizes MODEL with the statistics of S.json (from 'qcal stats') or of the PNG or JPEG under IMAGES, "
    "writes OUT.onnx (MODEL's card inside it, and as OUT.json) and prints each quantized tensor's range and "
    "parameters. The statistics must match MODEL: its hash and tensors, the preprocessing it takes now (card "
    "and flags), and all shards of a split.",
    rows, 3, "quantize takes one MODEL, at most one IMAGES and, after --max-drop or --min-agreement, VAL"};

/* ---- output ---------------------------------------------------------------------------------- */

static void print_table(const quantize_options *o, const qc_quantize_report *r, const char *out, int width)
{
    static const cli_column cols[] = {{"tensor", true, 0, true},       {"role", true, 0, false},
                                      {"range", false, 1, false},      {"scale", false, 0, false},
                                      {"zero point", false, 0, false}, {"bits", false, 0, false},
                                      {"method", true, 2, false}};
    const bool method_auto = o->auto_result.n > 0;
    cli_table tab;
    cli_table_init(&tab, cols, method_auto ? 7 : 6);
    for (int i = 0; i < r->n; i++) {
        const qc_quantized_tensor *t = &r->tensors[i];
        float smin, smax;
        int32_t zmin, zmax;
        qc_quantized_spread(t, &smin, &smax, &zmin, &zmax);
        cli_table_cell(&tab, "%s", t->tensor);
        cli_table_cell(&tab, "%s", t->role);
        cli_table_cell(&tab, "%.5g..%.5g", (double)t->min, (double)t->max);
        if (t->n_channels > 1)
            cli_table_cell(&tab, "%.4g..%.4g (%d ch)", (double)smin, (double)smax, t->n_channels);
        else
            cli_table_cell(&tab, "%.6g", (double)smin);
        if (zmin != zmax)
            cli_table_cell(&tab, "%d..%d", (int)zmin, (int)zmax);
        else
            cli_table_cell(&tab, "%d", (int)zmin);
        cli_table_cell(&tab, "%d", t->bits);
        char name[48];
        if (method_auto)
            cli_table_cell(&tab, "%s", t->range_of ? qc_auto_method_of(&o->auto_result, t->range_of, name, sizeof name) : "");
    }
    cli_table_print(&tab, width);
    printf("%d tensors quantized; wrote %s\n", r->n, out);
    if (method_auto) {
        const qc_auto_result *a = &o->auto_result;
        char name[48];
        printf("method auto on %lld images: agreement with FP32 %lld, KL of the logits %.3g with each tensor's local "
               "choice; %lld, %.3g from %s for all, %d local choices kept\n",
               (long long)a->images, (long long)a->agree_local, a->kl_local / (double)a->images, (long long)a->agree,
               a->kl / (double)a->images, qc_auto_start_name(a, "its local choice", name, sizeof name), a->kept);
    }
}

/* ---- accuracy-aware quantization ------------------------------------------------------------- */

/* VAL decoded as the quantized model takes it (pp), then qc_accuracy_aware; the nodes it
 * returned to FP32 join o's exclusions. Prints what goes wrong; returns the exit status. */
static int run_accuracy_aware(quantize_options *o, const char *model, const qc_graph *g, const qc_stats *s,
                              const qc_preprocess *pp, qc_aa_result *r, qc_aa_doc *out)
{
    qc_error err;
    qc_image_set set = {0};
    int status = cli_open_images(&set, o->aa_val, NULL, &(cli_image_select){0});
    if (status != QC_OK)
        return status;
    qc_aa_options ao = {.fp32 = g, .stats = s, .q = &o->q, .metric = o->aa_metric, .budget = o->aa_budget,
                        .sensitivity_images = o->aa_images, .max_layers = (int)o->aa_max_layers,
                        .threads = o->common.threads};
    *out = (qc_aa_doc){.r = r, .metric = o->aa_metric, .budget = o->aa_budget, .val = o->aa_val,
                       .images = set.n_items};
    double start = cli_now();
    status = cli_status(qc_accuracy_aware_images(&ao, model, &set, pp, r, &err), &err);
    out->seconds = cli_now() - start;
    qc_image_set_free(&set);
    if (status == QC_OK && !qc_aa_exclude_steps(r, &o->exclude.items, &o->exclude.n))
        status = cli_out_of_memory();
    o->q.exclude = (const char *const *)o->exclude.items;
    o->q.n_exclude = o->exclude.n;
    return status;
}

static const char *aa_metric_name(qc_aa_metric m)
{
    return m == QC_AA_TOP1 ? "top-1" : "agreement";
}

/* "top-1 88.20 %, agreement 97.45 %, KL 1.2e-03" of a score */
static void aa_print_score(const qc_aa_score *sc)
{
    if (sc->labelled)
        printf("top-1 %6.2f %%, ", qc_aa_value(QC_AA_TOP1, sc));
    printf("agreement %6.2f %%, KL %.3g", qc_aa_value(QC_AA_AGREEMENT, sc), qc_aa_kl(sc));
}

static void aa_print_table(const qc_aa_doc *a)
{
    const qc_aa_result *r = a->r;
    printf("accuracy-aware: %s %s %g%s on %lld images of %s\n  fp32       ", aa_metric_name(a->metric),
           a->metric == QC_AA_TOP1 ? "at most" : "at least", a->budget,
           a->metric == QC_AA_TOP1 ? " points below FP32" : " %", (long long)a->images, a->val);
    aa_print_score(&r->fp32);
    printf("\n  quantized  ");
    aa_print_score(&r->quantized);
    printf("\n");
    if (r->n_ranked) {
        printf("  ranking on %lld images, each node alone in FP32 (all quantized: ", (long long)r->subset);
        aa_print_score(&r->subset_quantized);
        printf("):\n");
    }
    for (int i = 0; i < r->n_ranked; i++) {
        printf("  %4d  %-32s ", i + 1, r->ranking[i].node);
        aa_print_score(&r->ranking[i].score);
        printf("\n");
    }
    if (r->n_steps)
        printf("  steps on all %lld images, nodes returned to FP32 in ranking order:\n", (long long)a->images);
    for (int i = 0; i < r->n_steps; i++) {
        printf("  %4d  %-32s ", i + 1, r->steps[i].node);
        aa_print_score(&r->steps[i].score);
        printf("\n");
    }
    printf("  %s after %d node%s returned to FP32", r->met ? "within budget" : "budget missed", r->n_steps,
           r->n_steps == 1 ? "" : "s");
    for (int i = 0; i < r->n_steps; i++)
        printf("%s%s", i ? "," : " (--exclude ", r->steps[i].node);
    printf("%s; %.1f s\n", r->n_steps ? ")" : "", a->seconds);
}

/* ---- --method auto ------------------------------------------------------------------------------ */

/* The class-balanced first o->auto_images of IMAGES decoded as the statistics were (pp), then
 * qc_method_auto; its choices go into o->q. Prints what goes wrong; returns the exit status. */
static int run_method_auto(quantize_options *o, const char *model, const char *images, const qc_graph *g,
                           const qc_stats *s, const qc_preprocess *pp)
{
    if (!s->histograms)
        return cli_usage_error(&command, "--method auto needs statistics with histograms: gather them with 'qcal stats "
                                         "--method percentile' (or entropy, mse), or give IMAGES without --stats");
    qc_error err;
    qc_image_set set = {0};
    int status = cli_open_images(&set, images, NULL, &o->select);
    if (status != QC_OK)
        return status;
    qc_auto_options ao = {.fp32 = g, .stats = s, .q = &o->q, .threads = o->common.threads};
    status = cli_status(qc_method_auto_images(&ao, model, &set, pp, o->auto_images, &o->auto_result, &err), &err);
    o->q.auto_choices = o->auto_result.choices;
    o->q.n_auto_choices = o->auto_result.n;
    qc_image_set_free(&set);
    return status;
}

/* ---- the command -------------------------------------------------------------------------------- */

/* --write-trt-cache and --write-ort-overrides: formats that can carry the options, and paths
 * that are no input (model, statistics, images), nor -o, its model card, or each other. */
static int check_range_files(const quantize_options *o, const cli_file *inputs)
{
    const char *why;
    if (o->trt_cache && (why = qc_trt_cache_unsupported(&o->q)))
        return cli_usage_error(&command, "--write-trt-cache: %s", why);
    if (o->ort_overrides && (why = qc_ort_overrides_unsupported(&o->q)))
        return cli_usage_error(&command, "--write-ort-overrides: %s", why);
    char *card = qc_model_card_path(o->out);
    const char *taken[] = {o->out, card ? card : o->out, o->trt_cache};
    const char *option[] = {"-o", "the model card written beside -o", "--write-trt-cache"};
    const struct {
        const char *path, *flag;
        int n_taken;
    } files[] = {{o->trt_cache, "--write-trt-cache", 2}, {o->ort_overrides, "--write-ort-overrides", 3}};
    int status = QC_OK;
    for (int f = 0; f < 2 && status == QC_OK; f++) {
        if (!files[f].path)
            continue;
        status = cli_check_output(files[f].path, files[f].flag, inputs, 3);
        for (int k = 0; k < files[f].n_taken && status == QC_OK; k++)
            if (taken[k] && qc_same_file(files[f].path, taken[k]))
                status = cli_usage_error(&command, "%s '%s' is also %s", files[f].flag, files[f].path,
                                         option[k]);
    }
    free(card);
    return status;
}

/* The positional arguments and the options that go together; fills o->q's bits and
 * exclusions. Prints what is wrong; returns the exit status. */
static int check_arguments(quantize_options *o, const char *const *pos, int n_pos)
{
    if (o->max_drop >= 0 && o->min_agreement >= 0)
        return cli_usage_error(&command, "--max-drop and --min-agreement are given once, not both");
    if (o->max_drop >= 0 || o->min_agreement >= 0) { /* VAL is the last operand */
        bool drop = o->max_drop >= 0;
        if (n_pos < 2)
            return cli_usage_error(&command, "%s needs VAL, the validation images", drop ? "--max-drop" : "--min-agreement");
        o->aa_val = pos[--n_pos];
        o->aa_metric = drop ? QC_AA_TOP1 : QC_AA_AGREEMENT;
        o->aa_budget = drop ? o->max_drop : o->min_agreement;
    }
    bool method_auto = o->method == METHOD_AUTO;
    if (method_auto && o->stats_file && n_pos != 2)
        return cli_usage_error(&command, "quantize --stats FILE --method auto takes a MODEL and IMAGES, the "
                                         "calibration images it measures the candidates on");
    if (n_pos < 1 || (o->stats_file && !method_auto ? n_pos != 1 : n_pos != 2))
        return cli_usage_error(&command, o->stats_file ? "quantize --stats FILE takes a MODEL and no IMAGES"
                                                             : "quantize needs a MODEL and IMAGES (or --stats FILE)");
    if (!method_auto)
        o->q.method = (qc_range_method)o->method;
    if (method_auto && o->write_config)
        return cli_usage_error(&command, "--write-config: a config holds no per-tensor methods, so --method auto's "
                                         "choices cannot be written in one");
    if (cli_check_positionals(&command, "qcal quantize MODEL IMAGES -o OUT.onnx", pos, 1, pos + 1, n_pos - 1) != QC_OK)
        return QC_ERR_USAGE;
    if (!o->out)
        return cli_usage_error(&command, "quantize needs -o OUT.onnx");
    if (o->bits && (o->weight_bits || o->act_bits))
        return cli_usage_error(&command, "--bits and --weight-bits/--act-bits exclude each other");
    o->q.weight_bits = o->bits ? o->bits : o->weight_bits ? o->weight_bits : o->q.weight_bits;
    o->q.act_bits = o->bits ? o->bits : o->act_bits ? o->act_bits : o->q.act_bits;
    if (o->exclude.n) {
        o->q.exclude = (const char *const *)o->exclude.items;
        o->q.n_exclude = o->exclude.n;
    }
    o->q.weights = o->granularity.weights;
    o->q.activations = o->granularity.activations;
    if (o->q.act_round != QC_ROUND_HALF_EVEN && o->q.format != QC_FORMAT_FAKEQUANT)
        return cli_usage_error(&command,
                               "--act-round %s: the %s format quantizes activations with ONNX QuantizeLinear, "
                               "which rounds half to even; only --format fakequant carries another rounding",
                               qc_round_mode_name(o->q.act_round), qc_qformat_name(o->q.format));
    if (o->q.bias_correction == QC_BIAS_EMPIRICAL && o->stats_file)
        return cli_usage_error(&command, "--bias-correction empirical measures the error on the calibration images: "
                               "give IMAGES rather than --stats FILE (or --bias-correction analytic, which the "
                               "statistics alone give)");
    if (o->bias_images && o->q.bias_correction != QC_BIAS_EMPIRICAL)
        return cli_usage_error(&command, "--bias-images goes with --bias-correction empirical");
    if (!o->bias_images)
        o->bias_images = 64;
    if (o->q.bias_correction == QC_BIAS_EMPIRICAL && o->aa_val)
        return cli_usage_error(&command, "--bias-correction empirical does not go with --max-drop or --min-agreement "
                               "(its measurement is of one set of quantized layers); use analytic");
    int status = cli_check_stats_file(&command, o->stats_file, o->allow_partial, &o->select);
    if (status != QC_OK)
        return status;
    o->skipped.quiet = o->common.quiet;
    cli_file inputs[] = {{pos[0], "model"}, {o->stats_file, "statistics file"},
                         {n_pos > 1 ? pos[1] : NULL, "image folder"}};
    status = cli_check_output(o->out, "-o", inputs, 3);
    if (status == QC_OK && o->write_config && qc_same_file(o->write_config, o->out))
        status = cli_usage_error(&command, "--write-config '%s' is also -o", o->write_config);
    if (status == QC_OK && o->write_config)
        status = cli_check_output(o->write_config, "--write-config", inputs, 3);
    return status != QC_OK ? status : check_range_files(o, inputs);
}

/* The statistics: the --stats file, checked, or gathered over IMAGES; and the preprocessing
 * they were gathered with (*pp), MODEL's card in *card. Prints what goes wrong. */
static int load_statistics(quantize_options *o, const char *const *pos, const qc_graph *g, uint64_t hash,
                           int channels, qc_model_card *card, qc_preprocess *pp, qc_stats **s)
{
    qc_error err;
    int status;
    if (o->stats_file)
        return cli_load_stats(o->stats_file, g, hash, pos[0], &o->pp, o->allow_partial, o->common.quiet, card, pp, s);
    double seconds;
    cli_gather_options go = {.limit = o->select.limit, .batch = o->select.batch, .shard_i = 0, .shard_n = 1,
                             .per_channel = o->q.activations == QC_GRANULARITY_COMPENSATED,
                             .histograms = qc_range_method_uses_histogram(o->q.method) || o->method == METHOD_AUTO,
                             .pp = &o->pp,
                             .threads = o->common.threads, .quiet = o->common.quiet,
                             .select = &o->select, .skipped = &o->skipped};
    if ((status = cli_stats_gather(pos[0], pos[1], &go, g, hash, s, &seconds)) != QC_OK)
        return status;
    if (channels > 0 && (status = cli_status(qc_model_card_load(pos[0], channels, card, NULL, 0, &err), &err)) != QC_OK)
        return status;
    *pp = (*s)->pp;
    return QC_OK;
}

/* Empirical bias correction: the first --bias-images of IMAGES as selected, preprocessed as
 * the statistics were (pp), measured layer by layer; o->q carries the result. Prints what
 * goes wrong; returns the exit status. */
static int measure_bias(quantize_options *o, const char *images, const qc_graph *g, const qc_stats *s,
                        const qc_preprocess *pp)
{
    qc_image_set set = {0};
    int status = cli_open_images(&set, images, NULL, &o->select);
    if (status != QC_OK)
        return status;
    qc_error err;
    qc_pass_inputs in = {.set = &set, .pp = pp};
    qc_gather_options run = {.limit = o->select.limit < o->bias_images ? o->select.limit : o->bias_images,
                             .batch = o->select.batch, .shard_n = 1, .threads = o->common.threads,
                             .skip_bad = o->select.skip_bad};
    double start = cli_now();
    status = cli_status(qc_bias_measure(g, s, &o->q, &in, &run, &o->bias, &err), &err);
    o->bias_seconds = cli_now() - start;
    qc_image_set_free(&set);
    o->q.bias_measured = &o->bias;
    if (status == QC_OK && !o->common.quiet && !o->common.json)
        fprintf(stderr, "bias correction: measured on %lld images, %d passes over them (%.1f s)\n",
                (long long)o->bias.images, o->bias.passes, o->bias_seconds);
    return status;
}

/* The value of option name in argv (its last), as "--name VALUE" or "--name=VALUE"; NULL. */
static const char *prescan(int argc, char **argv, const char *name)
{
    const char *v = NULL;
    size_t len = strlen(name);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], name, len) && argv[i][len] == '=')
            v = argv[i] + len + 1;
        else if (!strcmp(argv[i], name) && i + 1 < argc)
            v = argv[++i];
    return v;
}

/* --config FILE, then --preset NAME, then --target T, wherever they stand: the other flags
 * are parsed after them and override what they set. */
static int apply_config(int argc, char **argv, quantize_options *o)
{
    qc_error err;
    qc_status st = qc_config_apply(prescan(argc, argv, "--config"), prescan(argc, argv, "--preset"),
                                   prescan(argc, argv, "--target"), &o->q, &o->config, &err);
    return st == QC_ERR_USAGE ? cli_usage_error(&command, "%s", err.msg) : cli_status(st, &err);
}

int cmd_quantize(int argc, char **argv)
{
    quantize_options o = {.select = CLI_SELECT_DEFAULT, .max_drop = -1, .min_agreement = -1, .aa_images = 256,
                          .aa_max_layers = -1, .auto_images = QC_AUTO_IMAGES, .common = {.threads = 1}};
    qc_aa_result aa_result = {0};
    qc_aa_doc aa = {0};
    qc_quantize_options_default(&o.q);
    int status = apply_config(argc, argv, &o);
    o.granularity = (cli_granularity){o.q.weights, o.q.activations};
    o.method = (int)o.q.method;
    const char *pos[3];
    int n_pos = 0;
    qc_error err;
    qc_graph *g = NULL, *qg = NULL;
    qc_stats *s = NULL;
    qc_quantize_report report = {0};
    qc_model_card card = {0};
    if (status != QC_OK || !cli_parse(&command, &o, argc, argv, pos, &n_pos, &status))
        goto end;
    if ((status = check_arguments(&o, pos, n_pos)) != QC_OK)
        goto end;

    uint64_t hash = 0;
    if ((status = cli_load_fp32_model(pos[0], "quantize", &g, &hash)) != QC_OK)
        goto end;
    /* The preprocessing the statistics must have been gathered with, and that the quantized
     * model takes: MODEL's card (or the default), the flags laid over. */
    int channels = cli_model_channels(g);
    qc_preprocess pp = {0};
    if ((status = load_statistics(&o, pos, g, hash, channels, &card, &pp, &s)) != QC_OK)
        goto end;
    if (o.method == METHOD_AUTO && (status = run_method_auto(&o, pos[0], pos[1], g, s, &pp)) != QC_OK)
        goto end;
    if (o.aa_val && (status = run_accuracy_aware(&o, pos[0], g, s, &pp, &aa_result, &aa)) != QC_OK)
        goto end;
    if (o.q.bias_correction == QC_BIAS_EMPIRICAL && (status = measure_bias(&o, pos[1], g, s, &pp)) != QC_OK)
        goto end;
    status = qc_quantize(g, s, &o.q, &qg, &report, &err);
    /* The quantized model takes the same images as MODEL: its card goes inside it and beside it. */
    qc_card_copy copied = QC_CARD_NONE;
    char card_target[4096] = "";
    qc_quantize_files files = {.model = o.out, .source = pos[0], .version = QCAL_VERSION,
                               .card = channels > 0 ? &card : NULL, .pp = &pp, .card_changed = qc_pp_overrides_given(&o.pp),
                               .trt_cache = o.trt_cache, .ort_overrides = o.ort_overrides, .config = o.write_config};
    if (status == QC_OK)
        status = qc_quantize_write(qg, &report, &o.q, &files, &copied, card_target, sizeof card_target, &err);
    if (cli_status(status, &err) != QC_OK)
        goto end;
    qc_quantize_doc doc = {.model = pos[0], .output = o.out, .q = &o.q, .method_auto = o.method == METHOD_AUTO,
                           .calibration_images = s->images, .calibration_skipped = o.skipped.count,
                           .written = qg, .bias = &o.bias, .bias_seconds = o.bias_seconds,
                           .auto_result = &o.auto_result, .aa = o.aa_val ? &aa : NULL};
    if (o.common.json)
        qc_quantize_json_write(stdout, &report, &doc);
    else
        print_table(&o, &report, o.out, cli_table_width(o.common.wide));
    if (o.aa_val && !o.common.json)
        aa_print_table(&aa);
    if (o.aa_val && !aa_result.met) {
        cli_error("the budget (%s %g) is missed with %d nodes returned to FP32; %s holds that model",
                  o.aa_metric == QC_AA_TOP1 ? "--max-drop" : "--min-agreement", o.aa_budget, aa_result.n_steps, o.out);
        status = CLI_GATE_FAILED;
    }
    if (o.select.skip_bad && !o.common.json)
        printf("%lld unreadable calibration images skipped (--skip-bad)\n", (long long)o.skipped.count);
    if (copied == QC_CARD_COPIED && !o.common.quiet) /* a note: stderr, as warnings */
        fprintf(stderr, "note: copied the model card of %s beside %s\n", pos[0], o.out);
    if (copied == QC_CARD_KEPT_OTHER && !o.common.quiet)
        cli_warning("'%s' is not a model card: left as it is; %s carries its card inside "
                    "(qcal.model_card)", card_target, o.out);

end:
    cli_list_free(&o.exclude);
    qc_config_free(&o.config);
    qc_auto_result_free(&o.auto_result);
    qc_quantize_report_free(&report);
    qc_aa_result_free(&aa_result);
    qc_bias_measurement_free(&o.bias);
    qc_model_card_free(&card);
    qc_graph_destroy(qg);
    qc_stats_destroy(s);
    qc_graph_destroy(g);
    return status;
}
