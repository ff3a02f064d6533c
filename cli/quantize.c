/* quantize.c — `qcal quantize MODEL (--stats S.json | IMAGES) -o OUT.onnx`: statistics (from a
 * file, or gathered here as `qcal stats` does) and the quantizer (calib/) give an INT8 ONNX
 * model in the QDQ, QOperator or FakeQuantize layout, written atomically, and a table (or
 * JSON) of every quantized tensor's range, scale, zero point and bits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../calib/calib.h"
#include "../stats/stats.h"
#include "cli.h"

#define QUANTIZE_USAGE                                                                              \
    "usage: qcal quantize MODEL (--stats S.json | IMAGES) -o OUT.onnx [--scheme gemmlowp|symlowp]\n" \
    "                  [--method minmax|avg|avgstd|meanstd|percentile|entropy|mse] [--n N]\n"       \
    "                  [--percentile P] [--granularity tensor|channel|compensated]\n"              \
    "                  [--bits N | --weight-bits N --act-bits N]\n"                                 \
    "                  [--reduce-range] [--round MODE] [--act-round MODE]\n"                        \
    "                  [--format qdq|qoperator|fakequant]\n"                                        \
    "                  [--bias-correction] [--allow-partial]\n"                                      \
    "                  [--write-trt-cache FILE] [--write-ort-overrides FILE]\n"                      \
    "                  [--exclude NAME,...] [--json] [--quiet] [--threads N]\n"                       \
    "                  [--limit N] [--sample N [--seed S]] [--skip-bad] [--batch N]\n"             \
    "                  [--size HxW | --resize S] [--crop HxW] [--scale S]\n"                       \
    "                  [--mean M[,M,M]] [--std S[,S,S]] [--color gray|rgb|bgr] [--layout nchw|nhwc]\n"                    \
    "  Quantizes MODEL with the statistics of S.json (from 'qcal stats') or of the PNG or JPEG\n"\
    "  under IMAGES, writes OUT.onnx (MODEL's card inside it, and as OUT.json) and prints each\n" \
    "  quantized tensor's range and parameters. The statistics must match MODEL: its hash and\n"  \
    "  tensors, the preprocessing it takes now (card and flags), and all shards of a split.\n"   \
    "  --scheme       gemmlowp (asymmetric uint8, default) or symlowp (zero point 0)\n"             \
    "  --method       how activation ranges are chosen (default minmax)\n"                          \
    "  --n N          avgstd and meanstd: mean +- N std (default 3)\n"                              \
    "  --percentile P percentile: P in (50, 100] (default 99.99)\n"                                 \
    "  --granularity  tensor (default): one scale per weight tensor; channel: one per output\n"   \
    "                 channel (--per-channel); compensated: per channel, and activations read\n"  \
    "                 by Conv/Gemm/MatMul get a scale per channel, folded into those layers'\n"   \
    "                 weights (--per-channel --input-compensation; needs per-channel\n"          \
    "                 statistics; qdq or fakequant)\n"                                           \
    "  --bits N       weights and activations N bits, 2 to 8 (default 8)\n"                         \
    "  --reduce-range 7-bit weights, as ONNX Runtime does for CPUs without VNNI\n"                 \
    "  --round MODE   rounding of the weights: half-even (default), half-away, toward-zero, up,\n" \
    "                 down, half-toward-zero, half-up, half-down, away-from-zero (or nGraph's\n"   \
    "                 names: ROUND_NEAREST_TOWARD_EVEN, ...)\n"                                     \
    "  --act-round MODE  rounding of the activations: half-even (default, QuantizeLinear's);\n"   \
    "                 the others with --format fakequant only\n"                                   \
    "  --format       qdq (QuantizeLinear/DequantizeLinear around FP32 ops, default), qoperator\n"  \
    "                 (QLinearConv, QLinearMatMul, com.microsoft QLinear*), fakequant (FP32\n"      \
    "                 with quantize-dequantize, any bit width)\n"                                   \
    "  --exclude      nodes kept FP32 (comma-separated names; an unknown name is exit 2)\n"         \
    "  --bias-correction  Conv and Gemm biases less the mean error their quantized weights add,\n" \
    "                 from the statistics (per-channel input means)\n"                             \
    "  --allow-partial with --stats: use a partial merge of shards (a warning instead of exit 3)\n" \
    "  --write-trt-cache FILE  also write the activation scales as a TensorRT INT8 calibration\n" \
    "                 cache (amax / 127, 8-bit activations)\n"                                     \
    "  --write-ort-overrides FILE  also write every scale and zero point as ONNX Runtime's\n"    \
    "                 TensorQuantOverrides JSON (8-bit weights and activations)\n"                \
    "  --limit N      with IMAGES: the first N images in sorted order (default all; on an\n"      \
    "                 ImageFolder the first classes only: --sample N is the balanced subset)\n"   \
    "  --sample N     with IMAGES: a reproducible class-balanced random subset (--seed S)\n"     \
    "  --skip-bad     with IMAGES: report an unreadable image and leave it out\n"

typedef struct {
    const char *out, *stats_file;
    const char *trt_cache, *ort_overrides; /* NULL when not asked for */
    cli_image_select select;
    cli_skipped skipped; /* filled by the run: the images --skip-bad left out */
    qc_quantize_options q;
    int bits, weight_bits, act_bits; /* 0 when not given */
    int64_t limit, batch;
    char **exclude;
    int n_exclude;
    bool allow_partial;
    cli_pp_flags pp;
    cli_common common;
} quantize_options;

static bool parse_bits(const char *v, int *out)
{
    int64_t b;
    if (!cli_parse_int(v, QC_BITS_MIN, QC_BITS_MAX, &b))
        return false;
    *out = (int)b;
    return true;
}

/* Adds the comma-separated names of v to the exclude list; false when out of memory. */
static bool add_excludes(quantize_options *o, const char *v)
{
    char *copy = strdup(v);
    if (!copy)
        return false;
    bool ok = true;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok && ok; tok = strtok_r(NULL, ",", &save)) {
        char **grown = realloc(o->exclude, (size_t)(o->n_exclude + 1) * sizeof *grown);
        ok = grown != NULL;
        if (ok) {
            o->exclude = grown;
            ok = (o->exclude[o->n_exclude] = strdup(tok)) != NULL;
            o->n_exclude += ok;
        }
    }
    free(copy);
    return ok;
}

static int parse_options(int argc, char **argv, quantize_options *o, const char **pos, int *n_pos)
{
    for (int i = 1; i < argc; i++) {
        bool bad = false;
        const char *v;
        int r = cli_common_option(&o->common, argc, argv, &i, QUANTIZE_USAGE);
        if (r == 0)
            r = cli_pp_option(&o->pp, argc, argv, &i, QUANTIZE_USAGE);
        if (r == 0)
            r = cli_images_option(&o->limit, &o->batch, argc, argv, &i, QUANTIZE_USAGE);
        if (r == 0)
            r = cli_select_option(&o->select, argc, argv, &i, QUANTIZE_USAGE);
        if (r == 0)
            r = cli_range_option(&o->q.range, argc, argv, &i, QUANTIZE_USAGE);
        if (r == 0)
            r = cli_granularity_option(&o->q.weights, &o->q.activations, argc, argv, &i, QUANTIZE_USAGE);
        if (r < 0)
            return QC_ERR_USAGE;
        if (r > 0)
            continue;
        if (!strcmp(argv[i], "--reduce-range")) {
            o->q.reduce_range = true;
        } else if (!strcmp(argv[i], "--bias-correction")) {
            o->q.bias_correction = true;
        } else if (!strcmp(argv[i], "--allow-partial")) {
            o->allow_partial = true;
        } else if ((v = cli_option_value("-o", argc, argv, &i, &bad, QUANTIZE_USAGE)) ||
                   (!bad && (v = cli_option_value("--output", argc, argv, &i, &bad, QUANTIZE_USAGE)))) {
            o->out = v;
        } else if (!bad && (v = cli_option_value("--write-trt-cache", argc, argv, &i, &bad, QUANTIZE_USAGE))) {
            o->trt_cache = v;
        } else if (!bad && (v = cli_option_value("--write-ort-overrides", argc, argv, &i, &bad, QUANTIZE_USAGE))) {
            o->ort_overrides = v;
        } else if (!bad && (v = cli_option_value("--stats", argc, argv, &i, &bad, QUANTIZE_USAGE))) {
            o->stats_file = v;
        } else if (!bad && (v = cli_option_value("--scheme", argc, argv, &i, &bad, QUANTIZE_USAGE))) {
            if (!qc_scheme_parse(v, &o->q.scheme))
                return cli_usage_error(QUANTIZE_USAGE, "--scheme takes gemmlowp or symlowp, not '%s'", v);
        } else if (!bad && (v = cli_option_value("--method", argc, argv, &i, &bad, QUANTIZE_USAGE))) {
            int m = qc_range_method_parse(v);
            if (m < 0)
                return cli_usage_error(QUANTIZE_USAGE,
                                       "--method takes minmax, avg, avgstd, meanstd, percentile, entropy or mse, not '%s'", v);
            o->q.method = (qc_range_method)m;
        } else if (!bad && (v = cli_option_value("--bits", argc, argv, &i, &bad, QUANTIZE_USAGE))) {
            if (!parse_bits(v, &o->bits))
                return cli_usage_error(QUANTIZE_USAGE, "--bits takes a number from 2 to 8, not '%s'", v);
        } else if (!bad && (v = cli_option_value("--weight-bits", argc, argv, &i, &bad, QUANTIZE_USAGE))) {
            if (!parse_bits(v, &o->weight_bits))
                return cli_usage_error(QUANTIZE_USAGE, "--weight-bits takes a number from 2 to 8, not '%s'", v);
        } else if (!bad && (v = cli_option_value("--act-bits", argc, argv, &i, &bad, QUANTIZE_USAGE))) {
            if (!parse_bits(v, &o->act_bits))
                return cli_usage_error(QUANTIZE_USAGE, "--act-bits takes a number from 2 to 8, not '%s'", v);
        } else if (!bad && (v = cli_option_value("--round", argc, argv, &i, &bad, QUANTIZE_USAGE))) {
            if (!qc_round_mode_parse(v, &o->q.round))
                return cli_usage_error(QUANTIZE_USAGE,
                                       "--round takes " QC_ROUND_MODE_LIST ", not '%s'", v);
        } else if (!bad && (v = cli_option_value("--act-round", argc, argv, &i, &bad, QUANTIZE_USAGE))) {
            if (!qc_round_mode_parse(v, &o->q.act_round))
                return cli_usage_error(QUANTIZE_USAGE, "--act-round takes " QC_ROUND_MODE_LIST ", not '%s'", v);
        } else if (!bad && (v = cli_option_value("--format", argc, argv, &i, &bad, QUANTIZE_USAGE))) {
            if (!qc_qformat_parse(v, &o->q.format))
                return cli_usage_error(QUANTIZE_USAGE, "--format takes qdq, qoperator or fakequant, not '%s'", v);
        } else if (!bad && (v = cli_option_value("--exclude", argc, argv, &i, &bad, QUANTIZE_USAGE))) {
            if (!add_excludes(o, v)) {
                cli_error("out of memory");
                return QC_ERR_IO;
            }
        } else if (bad) {
            return QC_ERR_USAGE;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error(QUANTIZE_USAGE, "unknown option '%s'", argv[i]);
        } else if (*n_pos == 2) {
            return cli_usage_error(QUANTIZE_USAGE, "quantize takes one MODEL and at most one IMAGES");
        } else {
            pos[(*n_pos)++] = argv[i];
        }
        if (bad)
            return QC_ERR_USAGE;
    }
    return QC_OK;
}

/* ---- output ---------------------------------------------------------------------------------- */

static void print_table(const qc_quantize_report *r, const char *out)
{
    int name_w = 6;
    for (int i = 0; i < r->n; i++) {
        int n = (int)strlen(r->tensors[i].tensor);
        name_w = n > name_w ? n : name_w;
    }
    name_w = name_w > 48 ? 48 : name_w;
    printf("%-*s %-10s %23s %25s %11s %4s\n", name_w, "tensor", "role", "range", "scale", "zero point", "bits");
    for (int i = 0; i < r->n; i++) {
        const qc_quantized_tensor *t = &r->tensors[i];
        char range[64], scale[64], zp[64];
        snprintf(range, sizeof range, "%.5g..%.5g", (double)t->min, (double)t->max);
        float smin = t->params[0].scale, smax = smin;
        int32_t zmin = t->params[0].zero_point, zmax = zmin;
        for (int c = 1; c < t->n_channels; c++) {
            smin = fminf(smin, t->params[c].scale);
            smax = fmaxf(smax, t->params[c].scale);
            zmin = t->params[c].zero_point < zmin ? t->params[c].zero_point : zmin;
            zmax = t->params[c].zero_point > zmax ? t->params[c].zero_point : zmax;
        }
        if (t->n_channels > 1)
            snprintf(scale, sizeof scale, "%.4g..%.4g (%d ch)", (double)smin, (double)smax, t->n_channels);
        else
            snprintf(scale, sizeof scale, "%.6g", (double)smin);
        if (zmin != zmax)
            snprintf(zp, sizeof zp, "%d..%d", (int)zmin, (int)zmax);
        else
            snprintf(zp, sizeof zp, "%d", (int)zmin);
        printf("%-*.*s %-10s %23s %25s %11s %4d\n", name_w, name_w, t->tensor, t->role, range, scale, zp, t->bits);
    }
    printf("%d tensors quantized; wrote %s\n", r->n, out);
}

static void print_json(const char *model, const quantize_options *o, const qc_stats *s,
                       const qc_quantize_report *r, bool runnable)
{
    printf("{\"model\": ");
    cli_json_string(stdout, model);
    printf(", \"output\": ");
    cli_json_string(stdout, o->out);
    printf(", \"format\": \"%s\", \"scheme\": \"%s\", \"method\": \"%s\", \"per_channel\": %s, "
           "\"weight_bits\": %d, \"act_bits\": %d, \"reduce_range\": %s, \"round\": \"%s\", \"act_round\": \"%s\", "
           "\"input_compensation\": %s, \"calibration_images\": %lld, \"calibration_skipped\": %lld, "
           "\"runnable_by_qcal\": %s, \"tensors\": [",
           qc_qformat_name(o->q.format), qc_scheme_name(o->q.scheme), qc_range_method_name(o->q.method),
           o->q.weights == QC_GRANULARITY_CHANNEL ? "true" : "false", o->q.weight_bits, o->q.act_bits,
           o->q.reduce_range ? "true" : "false", qc_round_mode_name(o->q.round), qc_round_mode_name(o->q.act_round),
           o->q.activations == QC_GRANULARITY_COMPENSATED ? "true" : "false", (long long)s->images,
           (long long)o->skipped.count, runnable ? "true" : "false");
    for (int i = 0; i < r->n; i++) {
        const qc_quantized_tensor *t = &r->tensors[i];
        printf("%s\n  {\"name\": ", i ? "," : "");
        cli_json_string(stdout, t->tensor);
        printf(", \"role\": \"%s\", \"bits\": %d, \"min\": %.9g, \"max\": %.9g, \"qmin\": %lld, \"qmax\": %lld, "
               "\"scale\": [",
               t->role, t->bits, (double)t->min, (double)t->max, (long long)t->params[0].qmin,
               (long long)t->params[0].qmax);
        for (int c = 0; c < t->n_channels; c++)
            printf("%s%.9g", c ? ", " : "", (double)t->params[c].scale);
        printf("], \"zero_point\": [");
        for (int c = 0; c < t->n_channels; c++)
            printf("%s%d", c ? ", " : "", (int)t->params[c].zero_point);
        printf("]}");
    }
    printf("\n]}\n");
}

/* ---- the command -------------------------------------------------------------------------------- */

/* --write-trt-cache and --write-ort-overrides: formats that can carry the options, and paths
 * that are no input (model, statistics, images), nor -o, its model card, or each other. */
static int check_range_files(const quantize_options *o, const cli_file *inputs)
{
    const char *why;
    if (o->trt_cache && (why = qc_trt_cache_unsupported(&o->q)))
        return cli_usage_error(QUANTIZE_USAGE, "--write-trt-cache: %s", why);
    if (o->ort_overrides && (why = qc_ort_overrides_unsupported(&o->q)))
        return cli_usage_error(QUANTIZE_USAGE, "--write-ort-overrides: %s", why);
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
            if (taken[k] && cli_same_file(files[f].path, taken[k]))
                status = cli_usage_error(QUANTIZE_USAGE, "%s '%s' is also %s", files[f].flag, files[f].path,
                                         option[k]);
    }
    free(card);
    return status;
}

/* The range files, then the model, then its card beside it: a failure removes what this run
 * wrote (never a file it did not write), so that a run leaves all its outputs or none. */
static qc_status write_outputs(const quantize_options *o, const char *model, const qc_graph *qg,
                               const qc_quantize_report *report, const char *card_json, qc_card_copy *copied,
                               char *card_target, size_t target_size, qc_error *err)
{
    const char *written[3] = {NULL, NULL, NULL};
    int n = 0;
    qc_status st = QC_OK;
    if (o->trt_cache && (st = qc_trt_cache_write(report, o->q.method, o->trt_cache, err)) == QC_OK)
        written[n++] = o->trt_cache;
    if (st == QC_OK && o->ort_overrides && (st = qc_ort_overrides_write(report, o->ort_overrides, err)) == QC_OK)
        written[n++] = o->ort_overrides;
    if (st == QC_OK && (st = qc_onnx_save(qg, o->out, err)) == QC_OK)
        written[n++] = o->out;
    if (st == QC_OK)
        st = qc_model_card_copy(model, o->out, cli_pp_given(&o->pp) ? card_json : NULL, copied, card_target,
                                target_size, err);
    for (int i = 0; st != QC_OK && i < n; i++)
        remove(written[i]);
    return st;
}

/* The positional arguments and the options that go together; fills o->q's bits and
 * exclusions. Prints what is wrong; returns the exit status. */
static int check_arguments(quantize_options *o, const char *const *pos, int n_pos)
{
    if (n_pos < 1 || (o->stats_file ? n_pos != 1 : n_pos != 2))
        return cli_usage_error(QUANTIZE_USAGE, o->stats_file ? "quantize --stats FILE takes a MODEL and no IMAGES"
                                                             : "quantize needs a MODEL and IMAGES (or --stats FILE)");
    if (!o->out)
        return cli_usage_error(QUANTIZE_USAGE, "quantize needs -o OUT.onnx");
    if (o->bits && (o->weight_bits || o->act_bits))
        return cli_usage_error(QUANTIZE_USAGE, "--bits and --weight-bits/--act-bits exclude each other");
    o->q.weight_bits = o->bits ? o->bits : o->weight_bits ? o->weight_bits : 8;
    o->q.act_bits = o->bits ? o->bits : o->act_bits ? o->act_bits : 8;
    o->q.exclude = (const char *const *)o->exclude;
    o->q.n_exclude = o->n_exclude;
    if (o->q.act_round != QC_ROUND_HALF_EVEN && o->q.format != QC_FORMAT_FAKEQUANT)
        return cli_usage_error(QUANTIZE_USAGE,
                               "--act-round %s: the %s format quantizes activations with ONNX QuantizeLinear, "
                               "which rounds half to even; only --format fakequant carries another rounding",
                               qc_round_mode_name(o->q.act_round), qc_qformat_name(o->q.format));
    if (o->allow_partial && !o->stats_file)
        return cli_usage_error(QUANTIZE_USAGE, "--allow-partial goes with --stats FILE");
    int status = cli_select_check(&o->select, QUANTIZE_USAGE);
    if (status != QC_OK)
        return status;
    if (o->stats_file && (o->select.sample || o->select.skip_bad))
        return cli_usage_error(QUANTIZE_USAGE, "--sample and --skip-bad need IMAGES, not --stats");
    o->skipped.quiet = o->common.quiet;
    cli_file inputs[] = {{pos[0], "model"}, {o->stats_file, "statistics file"},
                         {n_pos > 1 ? pos[1] : NULL, "image folder"}};
    status = cli_check_output(o->out, "-o", inputs, 3);
    return status != QC_OK ? status : check_range_files(o, inputs);
}

/* The statistics: the --stats file, checked, or gathered over IMAGES; and the preprocessing
 * they were gathered with (*pp), MODEL's card in *card. Prints what goes wrong. */
static int load_statistics(quantize_options *o, const char *const *pos, const qc_graph *g, uint64_t hash,
                           int channels, qc_model_card *card, qc_preprocess *pp, qc_stats **s)
{
    qc_error err;
    int status;
    if (o->stats_file) {
        if (channels > 0 &&
            (status = cli_model_setup(pos[0], g, channels, &o->pp, o->common.quiet, card, pp)) != QC_OK)
            return status;
        return cli_load_stats(o->stats_file, g, hash, pos[0], channels > 0 ? pp : NULL, o->allow_partial,
                              o->common.quiet, s);
    }
    double seconds;
    cli_gather_options go = {.limit = o->limit, .batch = o->batch, .shard_i = 0, .shard_n = 1,
                             .per_channel = o->q.activations == QC_GRANULARITY_COMPENSATED,
                             .histograms = qc_range_method_uses_histogram(o->q.method), .pp = &o->pp,
                             .threads = o->common.threads, .quiet = o->common.quiet,
                             .select = &o->select, .skipped = &o->skipped};
    if ((status = cli_stats_gather(pos[0], pos[1], &go, g, hash, s, &seconds)) != QC_OK)
        return status;
    if (channels > 0 && (status = qc_model_card_load(pos[0], channels, card, NULL, 0, &err)) != QC_OK) {
        cli_error("%s", err.msg);
        return status;
    }
    *pp = (*s)->pp;
    return QC_OK;
}

int cmd_quantize(int argc, char **argv)
{
    quantize_options o = {.limit = INT64_MAX, .batch = 32, .common = {.threads = 1}};
    qc_quantize_options_default(&o.q);
    const char *pos[2];
    int n_pos = 0;
    qc_error err;
    qc_graph *g = NULL, *qg = NULL;
    qc_stats *s = NULL;
    qc_quantize_report report = {0};
    qc_model_card card = {0};
    char *card_json = NULL;
    int status = parse_options(argc, argv, &o, pos, &n_pos);
    if (status != QC_OK)
        goto end;
    if (o.common.help) {
        printf("%s", QUANTIZE_USAGE);
        goto end;
    }
    if ((status = check_arguments(&o, pos, n_pos)) != QC_OK)
        goto end;

    uint64_t hash = 0;
    if ((status = cli_load_model(pos[0], false, &g, &hash)) != QC_OK)
        goto end;
    /* The preprocessing the statistics must have been gathered with, and that the quantized
     * model takes: MODEL's card (or the default), the flags laid over. */
    int channels = cli_model_channels(g);
    qc_preprocess pp = {0};
    if ((status = load_statistics(&o, pos, g, hash, channels, &card, &pp, &s)) != QC_OK)
        goto end;
    status = qc_quantize(g, s, &o.q, &qg, &report, &err);
    if (status == QC_OK && (status = qc_graph_set_meta(qg, "qcal.version", QCAL_VERSION)) != QC_OK)
        snprintf(err.msg, sizeof err.msg, "out of memory");
    /* The card travels inside the model, with the preprocessing the statistics were gathered
     * with, so the file describes itself wherever it goes. */
    if (status == QC_OK && channels > 0 && (status = qc_model_card_json(&card, &pp, &card_json, &err)) == QC_OK &&
        (status = qc_graph_set_meta(qg, "qcal.model_card", card_json)) != QC_OK)
        snprintf(err.msg, sizeof err.msg, "out of memory");
    /* The quantized model takes the same images as MODEL: its card goes with it. */
    qc_card_copy copied = QC_CARD_NONE;
    char card_target[4096] = "";
    if (status == QC_OK)
        status = write_outputs(&o, pos[0], qg, &report, card_json, &copied, card_target, sizeof card_target, &err);
    if (status != QC_OK) {
        cli_error("%s", err.msg);
        goto end;
    }
    bool runnable = true;
    for (int i = 0; i < qg->n_nodes; i++)
        runnable &= qc_op_supported(qg->nodes[i].op_type, qg->nodes[i].domain);
    if (o.common.json)
        print_json(pos[0], &o, s, &report, runnable);
    else if (!o.common.quiet)
        print_table(&report, o.out);
    if (o.select.skip_bad && !o.common.json && !o.common.quiet)
        printf("%lld unreadable calibration images skipped (--skip-bad)\n", (long long)o.skipped.count);
    if (copied == QC_CARD_COPIED && !o.common.json && !o.common.quiet)
        printf("copied the model card of %s beside %s\n", pos[0], o.out);
    if (copied == QC_CARD_KEPT_OTHER && !o.common.quiet)
        cli_warning("'%s' is not a model card: left as it is; %s carries its card inside "
                    "(qcal.model_card)", card_target, o.out);

end:
    for (int i = 0; i < o.n_exclude; i++)
        free(o.exclude[i]);
    free(o.exclude);
    qc_quantize_report_free(&report);
    qc_model_card_free(&card);
    free(card_json);
    qc_graph_destroy(qg);
    qc_stats_destroy(s);
    qc_graph_destroy(g);
    return status;
}
