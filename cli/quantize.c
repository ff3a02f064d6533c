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
    "                  [--percentile P] [--per-channel] [--bits N | --weight-bits N --act-bits N]\n" \
    "                  [--reduce-range] [--round MODE] [--format qdq|qoperator|fakequant]\n"        \
    "                  [--input-compensation] [--allow-partial]\n"                                   \
    "                  [--exclude NAME,...] [--json] [--quiet] [--threads N]\n"                       \
    "                  [--limit N] [--sample N [--seed S]] [--skip-bad] [--batch N]\n"             \
    "                  [--size HxW] [--crop HxW] [--scale S]\n"                                     \
    "                  [--mean M[,M,M]] [--std S[,S,S]] [--color gray|rgb|bgr] [--layout nchw|nhwc]\n"                    \
    "  Quantizes MODEL with the statistics of S.json (from 'qcal stats') or of the PNG or JPEG\n"\
    "  under IMAGES, writes OUT.onnx (MODEL's card inside it, and as OUT.json) and prints each\n" \
    "  quantized tensor's range and parameters. The statistics must match MODEL: its hash and\n"  \
    "  tensors, the preprocessing it takes now (card and flags), and all shards of a split.\n"   \
    "  --scheme       gemmlowp (asymmetric uint8, default) or symlowp (zero point 0)\n"             \
    "  --method       how activation ranges are chosen (default minmax)\n"                          \
    "  --n N          avgstd and meanstd: mean +- N std (default 3)\n"                              \
    "  --percentile P percentile: P in (50, 100] (default 99.99)\n"                                 \
    "  --per-channel  one scale per output channel for weights\n"                                   \
    "  --bits N       weights and activations N bits, 2 to 8 (default 8)\n"                         \
    "  --reduce-range 7-bit weights, as ONNX Runtime does for CPUs without VNNI\n"                 \
    "  --round MODE   half-even (default), half-away, toward-zero, up, down, for weights\n"  \
    "  --format       qdq (QuantizeLinear/DequantizeLinear around FP32 ops, default), qoperator\n"  \
    "                 (QLinearConv, QLinearMatMul, com.microsoft QLinear*), fakequant (FP32\n"      \
    "                 with quantize-dequantize, any bit width)\n"                                   \
    "  --exclude      nodes kept FP32 (comma-separated names; an unknown name is exit 2)\n"         \
    "  --input-compensation  activations read by Conv/Gemm/MatMul get a scale per channel, folded\n" \
    "                 into those layers' weights (needs per-channel statistics; qdq or fakequant)\n"  \
    "  --allow-partial with --stats: use a partial merge of shards (a warning instead of exit 3)\n" \
    "  --limit N      with IMAGES: the first N images in sorted order (default all; on an\n"      \
    "                 ImageFolder the first classes only: --sample N is the balanced subset)\n"   \
    "  --sample N     with IMAGES: a reproducible class-balanced random subset (--seed S)\n"     \
    "  --skip-bad     with IMAGES: report an unreadable image and leave it out\n"

typedef struct {
    const char *out, *stats_file;
    qc_quantize_options q;
    int bits, weight_bits, act_bits; /* 0 when not given */
    int64_t limit, batch;
    char **exclude;
    int n_exclude;
    bool allow_partial;
    cli_pp_flags pp;
    cli_image_select select;
    cli_skipped skipped; /* filled by the run: the images --skip-bad left out */
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
        if (r < 0)
            return QC_ERR_USAGE;
        if (r > 0)
            continue;
        if (!strcmp(argv[i], "--per-channel")) {
            o->q.per_channel = true;
        } else if (!strcmp(argv[i], "--reduce-range")) {
            o->q.reduce_range = true;
        } else if (!strcmp(argv[i], "--input-compensation")) {
            o->q.input_compensation = true;
        } else if (!strcmp(argv[i], "--allow-partial")) {
            o->allow_partial = true;
        } else if ((v = cli_option_value("-o", argc, argv, &i, &bad, QUANTIZE_USAGE)) ||
                   (!bad && (v = cli_option_value("--output", argc, argv, &i, &bad, QUANTIZE_USAGE)))) {
            o->out = v;
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
                                       "--round takes half-even, half-away, toward-zero, up or down, not '%s'", v);
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
           "\"weight_bits\": %d, \"act_bits\": %d, \"reduce_range\": %s, \"round\": \"%s\", "
           "\"input_compensation\": %s, \"calibration_images\": %lld, \"calibration_skipped\": %lld, "
           "\"runnable_by_qcal\": %s, \"tensors\": [",
           qc_qformat_name(o->q.format), qc_scheme_name(o->q.scheme), qc_range_method_name(o->q.method),
           o->q.per_channel ? "true" : "false", o->q.weight_bits, o->q.act_bits,
           o->q.reduce_range ? "true" : "false", qc_round_mode_name(o->q.round),
           o->q.input_compensation ? "true" : "false", (long long)s->images,
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
    if (n_pos < 1 || (o.stats_file ? n_pos != 1 : n_pos != 2)) {
        status = cli_usage_error(QUANTIZE_USAGE, o.stats_file ? "quantize --stats FILE takes a MODEL and no IMAGES"
                                                              : "quantize needs a MODEL and IMAGES (or --stats FILE)");
        goto end;
    }
    if (!o.out) {
        status = cli_usage_error(QUANTIZE_USAGE, "quantize needs -o OUT.onnx");
        goto end;
    }
    if (o.bits && (o.weight_bits || o.act_bits)) {
        status = cli_usage_error(QUANTIZE_USAGE, "--bits and --weight-bits/--act-bits exclude each other");
        goto end;
    }
    o.q.weight_bits = o.bits ? o.bits : o.weight_bits ? o.weight_bits : 8;
    o.q.act_bits = o.bits ? o.bits : o.act_bits ? o.act_bits : 8;
    o.q.exclude = (const char *const *)o.exclude;
    o.q.n_exclude = o.n_exclude;

    if (o.allow_partial && !o.stats_file) {
        status = cli_usage_error(QUANTIZE_USAGE, "--allow-partial goes with --stats FILE");
        goto end;
    }
    if ((status = cli_select_check(&o.select, QUANTIZE_USAGE)) != QC_OK)
        goto end;
    if (o.stats_file && (o.select.sample || o.select.skip_bad)) {
        status = cli_usage_error(QUANTIZE_USAGE, "--sample and --skip-bad need IMAGES, not --stats");
        goto end;
    }
    o.skipped.quiet = o.common.quiet;
    cli_file inputs[] = {{pos[0], "model"}, {o.stats_file, "statistics file"},
                         {n_pos > 1 ? pos[1] : NULL, "image folder"}};
    if ((status = cli_check_output(o.out, "-o", inputs, 3)) != QC_OK)
        goto end;

    uint64_t hash = 0;
    if ((status = cli_load_model(pos[0], false, &g, &hash)) != QC_OK)
        goto end;
    /* The preprocessing the statistics must have been gathered with, and that the quantized
     * model takes: MODEL's card (or the default), the flags laid over. */
    int channels = cli_model_channels(g);
    qc_preprocess pp = {0};
    if (o.stats_file) {
        if (channels > 0 &&
            (status = cli_model_setup(pos[0], g, channels, &o.pp, o.common.quiet, &card, &pp)) != QC_OK)
            goto end;
        if ((status = cli_load_stats(o.stats_file, g, hash, pos[0], channels > 0 ? &pp : NULL,
                                     o.allow_partial, o.common.quiet, &s)) != QC_OK)
            goto end;
    } else {
        double seconds;
        cli_gather_options go = {.limit = o.limit, .batch = o.batch, .shard_i = 0, .shard_n = 1,
                                 .per_channel = o.q.input_compensation,
                                 .histograms = qc_range_method_uses_histogram(o.q.method), .pp = &o.pp,
                                 .threads = o.common.threads, .quiet = o.common.quiet,
                                 .select = &o.select, .skipped = &o.skipped};
        status = cli_stats_gather(pos[0], pos[1], &go, g, hash, &s, &seconds);
        if (status != QC_OK)
            goto end;
        if (channels > 0 && (status = qc_model_card_load(pos[0], channels, &card, NULL, 0, &err)) != QC_OK) {
            cli_error("%s", err.msg);
            goto end;
        }
        pp = s->pp;
    }
    status = qc_quantize(g, s, &o.q, &qg, &report, &err);
    if (status == QC_OK && (status = qc_graph_set_meta(qg, "qcal.version", QCAL_VERSION)) != QC_OK)
        snprintf(err.msg, sizeof err.msg, "out of memory");
    /* The card travels inside the model, with the preprocessing the statistics were gathered
     * with, so the file describes itself wherever it goes. */
    if (status == QC_OK && channels > 0 && (status = qc_model_card_json(&card, &pp, &card_json, &err)) == QC_OK &&
        (status = qc_graph_set_meta(qg, "qcal.model_card", card_json)) != QC_OK)
        snprintf(err.msg, sizeof err.msg, "out of memory");
    if (status == QC_OK)
        status = qc_onnx_save(qg, o.out, &err);
    /* The quantized model takes the same images as MODEL: its card goes with it. */
    qc_card_copy copied = QC_CARD_NONE;
    char card_target[4096] = "";
    if (status == QC_OK && (status = qc_model_card_copy(pos[0], o.out, cli_pp_given(&o.pp) ? card_json : NULL,
                                                        &copied, card_target, sizeof card_target, &err)) != QC_OK)
        remove(o.out);
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
    if (copied == QC_CARD_COPIED && !o.common.json && !o.common.quiet)
        printf("copied the model card of %s beside %s\n", pos[0], o.out);
    if (o.select.skip_bad && !o.common.json && !o.common.quiet)
        printf("%lld unreadable calibration images skipped (--skip-bad)\n", (long long)o.skipped.count);
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
