/* compare.c — `qcal compare MODEL… CALIB VAL`: statistics once per model, then each variant
 * (scheme × granularity × method × bits) quantized, run on qcal's executor and evaluated
 * against FP32 in one table: top-1 and its drop, agreement with FP32, KL of the logits,
 * INT8 speed-up, per-layer error on a sample of images; JSON, accuracy gates and an HTML page.
 *
 * Everything reported except the speed-up comes from per-image results stored by image index
 * (logits) or from a single-threaded per-layer pass, so the JSON does not depend on --threads.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../calib/calib.h"
#include "../stats/stats.h"
#include "cli.h"

#define MAX_MODELS 16
#define MAX_VARIANTS QC_COMPARE_MAX_VARIANTS
#define MAX_LIST 8
#define COMPARE_FORMAT "qcal-compare"
#define COMPARE_VERSION 2 /* 2: a signed "delta" (a fraction) for version 1's "drop" */

typedef qc_compare_spec variant_spec;

typedef struct {
    variant_spec v[MAX_VARIANTS];
    int n;
    const char *schemes, *grans, *methods, *bits; /* the lists given */
    const char *gate;
    float max_drop, min_sqnr; /* NAN when not given */
    int64_t calib_limit, layer_images;
    const char *html;
    const char *stats_file; /* --stats: the statistics instead of a pass over CALIB */
    cli_list exclude;       /* --exclude: nodes kept FP32 in every variant */
    bool sensitivity;
    int64_t sensitivity_images;
    cli_image_select select;
    cli_skipped *calib_skipped, val_skipped; /* --skip-bad: the first model's CALIB, and VAL */
    cli_pp_flags pp;
    cli_common common;
} compare_options;

typedef qc_compare_result variant_result;
typedef qc_compare_model model_result;

/* ---- one model ------------------------------------------------------------------------------- */

/* The bar of each run over VAL, named by the run and the model. */
typedef struct {
    cli_progress bar;
    const char *model;
    bool quiet;
} run_bar;

static void bar_begin(void *ctx, const char *what, int64_t total)
{
    run_bar *b = ctx;
    cli_progress_start(&b->bar, what, b->model, total, b->quiet);
}

static void bar_draw(void *ctx, int64_t done, int64_t total)
{
    cli_progress_draw(&((run_bar *)ctx)->bar, done, total);
}

static void bar_end(void *ctx)
{
    cli_progress_end(&((run_bar *)ctx)->bar);
}

/* The model, its input, its preprocessing and its statistics over calib: once, per channel
 * and with histograms, so every variant and the page can use them. */
static int model_setup(const char *path, const char *calib, const compare_options *o, model_result *m,
                       qc_preprocess *pp)
{
    qc_error err;
    uint64_t hash = 0;
    qc_model_card card = {0};
    m->path = path;
    int status = cli_load_model(path, false, &m->g, &hash);
    if (status == QC_OK)
        status = cli_refuse_quantized(m->g, path, "compare");
    if (status != QC_OK)
        return status;
    qc_image_input in = {0};
    if ((status = cli_status(qc_image_input_of(m->g, m->path, "compare", true, &in, &err), &err)) != QC_OK)
        return status;
    qc_compare_model_input(m, &in);
    m->output = cli_scored_output(m->g, &in);
    if (o->stats_file) /* the model card and preprocessing resolved there, checked against the file */
        status = cli_load_stats(o->stats_file, m->g, hash, path, &o->pp, false, o->common.quiet, &card, pp, &m->stats);
    else
        status = cli_model_setup(path, m->g, m->channels, &o->pp, o->common.quiet, &card, pp);
    qc_model_card_free(&card);
    if (status != QC_OK || o->stats_file)
        return status;
    double seconds;
    cli_gather_options go = {.limit = o->calib_limit, .batch = 64, .shard_i = 0, .shard_n = 1,
                             .per_channel = true, .histograms = true, .pp = &o->pp,
                             .threads = o->common.threads, .quiet = o->common.quiet,
                             .select = &o->select, .skipped = o->calib_skipped,
                             .groups = o->html ? &m->groups : NULL};
    status = cli_stats_gather(path, calib, &go, m->g, hash, &m->stats, &seconds);
    if (status != QC_OK || !m->groups)
        return status;
    /* the page's adequacy section: the first variant's scale, stats --adequacy's defaults
     * otherwise; CALIB of one group has nothing to resample, and the page says nothing */
    cli_adequacy_flags f = CLI_ADEQUACY_DEFAULT;
    f.method = o->v[0].method;
    f.scheme = o->v[0].scheme;
    f.bits = o->v[0].bits;
    qc_range_params params;
    qc_range_params_default(&params);
    if (m->stats->images <= QC_STATS_GROUP) {
        qc_group_table_destroy(m->groups);
        m->groups = NULL;
        return QC_OK;
    }
    return cli_adequacy_run(m->stats, m->groups, &f, &params, &m->adequacy);
}

/* The ranges of each variant of method auto, chosen on a class-balanced subset of CALIB (as
 * quantize --method auto does). */
static int choose_auto_ranges(model_result *m, const char *calib, const compare_options *o,
                              const qc_compare_options *co, const qc_preprocess *pp)
{
    int k = 0;
    while (k < o->n && o->v[k].method != QC_METHOD_AUTO)
        k++;
    if (k == o->n)
        return QC_OK;
    qc_error err;
    qc_image_set set = {0};
    float *pixels = NULL;
    int64_t n = 0;
    int status = cli_open_images(&set, calib, NULL, &(cli_image_select){0});
    if (status == QC_OK && set.n_items > o->calib_limit)
        set.n_items = (int)o->calib_limit; /* the images the statistics were gathered on */
    if (status == QC_OK)
        status = cli_status(qc_auto_load_images(&set, pp, &m->in, QC_AUTO_IMAGES, o->common.threads, &pixels, &n, &err),
                            &err);
    for (; k < o->n && status == QC_OK; k++) {
        if (o->v[k].method != QC_METHOD_AUTO)
            continue;
        qc_quantize_options qo;
        qc_compare_quantize_options(co, k, &qo);
        qo.method = QC_RANGE_MINMAX;
        qc_auto_options ao = {.fp32 = m->g, .stats = m->stats, .q = &qo, .inputs = pixels, .n = n,
                              .stride = (int64_t)m->channels * m->height * m->width, .threads = o->common.threads};
        if ((status = qc_method_auto(&ao, &m->autos[k], &err)) != QC_OK)
            cli_error("%s (%s): %s", m->path, o->v[k].name, err.msg);
    }
    free(pixels);
    qc_image_set_free(&set);
    return status;
}

static int run_model(const char *path, const char *calib, const qc_image_set *val,
                     const compare_options *o, model_result *m)
{
    qc_preprocess pp;
    int status = model_setup(path, calib, o, m, &pp);
    if (status != QC_OK)
        return status;
    run_bar bar = {.model = path, .quiet = o->common.quiet};
    qc_compare_options co = {.v = o->v, .n = o->n, .exclude = (const char *const *)o->exclude.items,
                             .n_exclude = o->exclude.n, .limit = o->select.limit, .layer_images = o->layer_images,
                             .sensitivity = o->sensitivity, .sensitivity_images = o->sensitivity_images,
                             .threads = o->common.threads, .show = {bar_begin, bar_draw, bar_end, &bar}};
    if ((status = choose_auto_ranges(m, calib, o, &co, &pp)) != QC_OK)
        return status;
    qc_error err;
    return cli_status(qc_compare_run(m, val, &pp, &co, &err), &err);
}

/* ---- results ----------------------------------------------------------------------------------- */

/* Whether the gates apply to variant k of m: --gate NAME or all, else the most faithful. */
static bool gated(const model_result *m, int k, const compare_options *o)
{
    if (o->gate)
        return !strcmp(o->gate, "all") || !strcmp(o->gate, o->v[k].name);
    for (int j = 0; j < o->n; j++)
        if (j != k && (qc_compare_more_faithful(m, j, k) || (j < k && !qc_compare_more_faithful(m, k, j))))
            return false;
    return true;
}

/* The lowest activation SQNR of variant k and its tensor (-1: none measured). */
static double min_sqnr(const model_result *m, int k, int *which)
{
    return qc_eval_min_sqnr(m->stats, m->ev[k].layers, which);
}

static const char *role_name(qc_role r)
{
    return r == QC_ROLE_INPUT ? "input" : r == QC_ROLE_WEIGHT ? "weight" : "activation";
}

/* The score of --sensitivity, in % (top-1 with labels, else agreement with FP32). */
static double sens_value(const model_result *m, const qc_aa_score *sc)
{
    return qc_aa_value(m->labelled ? QC_AA_TOP1 : QC_AA_AGREEMENT, sc);
}

#define SENSITIVITY_ROWS 10 /* nodes per variant in the table; all of them in the JSON */

static void print_sensitivity(const model_result *m, int k, const compare_options *o)
{
    const qc_aa_result *r = &m->sens[k];
    const char *what = m->labelled ? "top-1" : "agreement";
    printf("sensitivity of %s, %s, on %lld images: %s with each node alone in FP32 (all quantized %.2f%%)\n",
           m->path, o->v[k].name, (long long)r->subset, what, sens_value(m, &r->subset_quantized));
    for (int i = 0; i < r->n_ranked && i < SENSITIVITY_ROWS; i++)
        printf("  %4d  %-40s %7.2f%%  %+.2f\n", i + 1, r->ranking[i].node, sens_value(m, &r->ranking[i].score),
               sens_value(m, &r->ranking[i].score) - sens_value(m, &r->subset_quantized));
    if (r->n_ranked > SENSITIVITY_ROWS)
        printf("        (%d more in --json)\n", r->n_ranked - SENSITIVITY_ROWS);
}

static void print_table(const model_result *ms, int n_models, const compare_options *o)
{
    static const cli_column cols[] = {{"model", true, 0, true},     {"variant", true, 0, false},
                                      {"top-1", false, 0, false},   {"delta", false, 0, false},
                                      {"agree", false, 0, false},   {"KL", false, 2, false},
                                      {"speed-up", false, 3, false}, {"min SQNR", true, 1, true}};
    cli_table tab;
    cli_table_init(&tab, cols, 8);
    for (int mi = 0; mi < n_models; mi++) {
        const model_result *m = &ms[mi];
        const char *base = strrchr(m->path, '/') ? strrchr(m->path, '/') + 1 : m->path;
        cli_table_cell(&tab, "%s", base);
        cli_table_cell(&tab, "fp32");
        cli_table_cell(&tab, m->labelled ? "%.2f%%" : "-", 100.0 * qc_compare_fp32_top1(m));
        for (int c = 3; c < 8; c++)
            cli_table_cell(&tab, "%s", "");
        for (int k = 0; k < o->n; k++) {
            const variant_result *v = &m->var[k];
            int which;
            double ms_db = min_sqnr(m, k, &which);
            cli_table_cell(&tab, "%s", "");
            cli_table_cell(&tab, "%s", o->v[k].name);
            cli_table_cell(&tab, m->labelled ? "%.2f%%" : "-", 100.0 * qc_compare_top1(m, k));
            /* + 0.0: no "-0.00" */
            cli_table_cell(&tab, m->labelled ? "%+.2f" : "-", 100.0 * (qc_compare_top1(m, k) - qc_compare_fp32_top1(m)) + 0.0);
            cli_table_cell(&tab, "%.2f%%", 100.0 * qc_compare_agreement(m, k));
            cli_table_cell(&tab, "%.2e", m->n ? v->kl_sum / (double)m->n : 0.0);
            cli_table_cell(&tab, "%.2fx", v->seconds > 0 ? m->fp32_seconds / v->seconds : 0.0);
            const char *node = which >= 0 ? qc_compare_node_of(m, k, m->stats->tensors[which].name) : NULL;
            if (which >= 0)
                cli_table_cell(&tab, "%.1f dB (%s%s%s)", ms_db, node ? node : "", node ? ", tensor " : "",
                               m->stats->tensors[which].name);
            else
                cli_table_cell(&tab, "-");
        }
    }
    cli_table_print(&tab, cli_table_width(o->common.wide));
    for (int mi = 0; mi < n_models && (!isnan(o->max_drop) || !isnan(o->min_sqnr)); mi++)
        for (int k = 0; k < o->n; k++)
            if (gated(&ms[mi], k, o))
                printf("gated: %s of %s%s\n", o->v[k].name, ms[mi].path,
                       o->gate ? "" : " (the most faithful to FP32: agreement, then KL)");
    for (int mi = 0; mi < n_models && o->sensitivity; mi++)
        for (int k = 0; k < o->n; k++)
            print_sensitivity(&ms[mi], k, o);
}

/* A JSON number; null for what JSON cannot write (±inf, NaN). */
static void json_num(double x)
{
    if (isfinite(x))
        printf("%.10g", x);
    else
        printf("null");
}

/* The "layers" of variant k of m: every tensor measured. */
static void print_layers_json(const model_result *m, int k)
{
    bool first = true;
    for (int i = 0; i < m->stats->n_tensors; i++) {
        const qc_layer_error *l = &m->ev[k].layers[i];
        if (l->acc.samples == 0 && !l->has_codes)
            continue;
        qc_error_metrics e;
        qc_error_acc_finish(&l->acc, &e);
        cli_json_field(m->stats->tensors[i].name, "%s\n      {\"tensor\": ", first ? "" : ",");
        first = false;
        cli_json_field(qc_compare_node_of(m, k, m->stats->tensors[i].name), ", \"node\": ");
        printf(", \"role\": \"%s\", \"values\": %lld, \"sqnr_db\": ",
               role_name(m->stats->tensors[i].role), (long long)e.count);
        json_num(l->acc.samples ? e.sqnr_db : NAN);
        printf(", \"identical\": %s, \"cosine\": ",
               l->acc.samples && isinf(e.sqnr_db) && e.sqnr_db > 0 ? "true" : "false");
        json_num(l->acc.samples ? e.cosine : NAN);
        printf(", \"max_abs_err\": ");
        json_num(l->acc.samples ? e.max_abs_err : NAN);
        printf(", \"clipped\": ");
        json_num(l->has_codes ? qc_code_hist_clipped(&l->codes) : NAN);
        printf(", \"codes_used\": ");
        json_num(l->has_codes ? qc_code_hist_used(&l->codes) : NAN);
        printf(", \"range\": ");
        if (l->has_range) {
            printf("[");
            json_num(l->lo);
            printf(", ");
            json_num(l->hi);
            printf("]");
        } else
            printf("null");
        printf("}");
    }
}

/* "sensitivity": {"images", "quantized", "ranking": [{"node", "top1", "agreement", "kl"}]} */
static void print_sensitivity_json(const model_result *m, int k)
{
    const qc_aa_result *r = &m->sens[k];
    printf(",\n     \"sensitivity\": {\"images\": %lld, \"quantized\": ", (long long)r->subset);
    for (int i = -1; i < r->n_ranked; i++) {
        const qc_aa_score *sc = i < 0 ? &r->subset_quantized : &r->ranking[i].score;
        if (i >= 0) {
            printf("%s\n      {\"node\": ", i ? "," : ", \"ranking\": [");
            qc_json_put_string(stdout, r->ranking[i].node);
            printf(", ");
        } else
            printf("{");
        printf("\"top1\": "); /* fractions, as every rate of the JSON */
        json_num(qc_aa_value(QC_AA_TOP1, sc) / 100);
        printf(", \"agreement\": ");
        json_num(qc_aa_value(QC_AA_AGREEMENT, sc) / 100);
        printf(", \"kl\": ");
        json_num(sc->images ? sc->kl / (double)sc->images : NAN);
        printf("}");
    }
    printf("%s}", r->n_ranked ? "]" : ", \"ranking\": []");
}

static void print_json(const model_result *ms, int n_models, const compare_options *o,
                       const char *calib, const char *val, const char *const *failures, int n_fail)
{
    cli_json_field(calib, "{\"format\": \"%s\", \"version\": %d, \"qcal\": \"%s\",\n \"calib\": ", COMPARE_FORMAT,
                   COMPARE_VERSION, QCAL_VERSION);
    cli_json_field(val, ", \"val\": ");
    printf(", \"layer_images\": %lld, \"skipped\": {\"calib\": %lld, \"val\": %lld},\n \"variants\": [",
           (long long)o->layer_images, (long long)(o->calib_skipped ? o->calib_skipped->count : 0),
           (long long)o->val_skipped.count);
    for (int k = 0; k < o->n; k++) {
        cli_json_field(o->v[k].name, "%s\n  {\"name\": ", k ? "," : "");
        printf(", \"scheme\": \"%s\", \"granularity\": \"%s\", \"method\": \"%s\", \"bits\": %d}",
               qc_scheme_name(o->v[k].scheme),
               qc_granularity_name(o->v[k].granularity),
               qc_method_name(o->v[k].method), o->v[k].bits);
    }
    printf("],\n \"models\": [");
    for (int mi = 0; mi < n_models; mi++) {
        const model_result *m = &ms[mi];
        cli_json_field(m->path, "%s\n  {\"model\": ", mi ? "," : "");
        if (m->output)
            cli_json_field(m->output, ", \"output\": ");
        printf(", \"images\": %lld, \"labelled\": %lld, \"calib_images\": %lld,\n   \"fp32\": {\"correct\": %lld, \"top1\": ",
               (long long)m->n, (long long)m->labelled, (long long)m->stats->images,
               (long long)m->fp32_correct);
        json_num(qc_compare_fp32_top1(m));
        printf("},\n   \"variants\": [");
        for (int k = 0; k < o->n; k++) {
            const variant_result *v = &m->var[k];
            cli_json_field(o->v[k].name, "%s\n    {\"name\": ", k ? "," : "");
            printf(", \"correct\": %lld, \"top1\": ", (long long)v->correct);
            json_num(qc_compare_top1(m, k));
            printf(", \"delta\": ");
            json_num(qc_compare_top1(m, k) - qc_compare_fp32_top1(m));
            printf(", \"agreement\": ");
            json_num(qc_compare_agreement(m, k));
            printf(", \"kl\": ");
            json_num(m->n ? v->kl_sum / (double)m->n : 0.0);
            printf(", \"gated\": %s", gated(m, k, o) ? "true" : "false");
            if (o->sensitivity)
                print_sensitivity_json(m, k);
            printf(",\n     \"layers\": [");
            print_layers_json(m, k);
            printf("]}");
        }
        printf("]}");
    }
    printf("],\n \"gates\": {\"max_drop\": ");
    json_num(o->max_drop);
    printf(", \"min_sqnr\": ");
    json_num(o->min_sqnr);
    cli_json_field(o->gate, ", \"gate\": ");
    printf(", \"passed\": %s, \"failures\": [", n_fail ? "false" : "true");
    for (int i = 0; i < n_fail; i++)
        cli_json_field(failures[i], "%s", i ? ", " : "");
    printf("]}}\n");
}

static int write_html(const model_result *ms, int n_models, const compare_options *o, const char *calib,
                      const char *val, const char *const *failures, int n_fail)
{
    qc_error err;
    int status = QC_OK;
    qc_report_variant variants[MAX_VARIANTS];
    qc_report_model rm[MAX_MODELS];
    qc_report_tensor *tensors[MAX_MODELS] = {0};
    qc_report_result results[MAX_MODELS][MAX_VARIANTS];
    for (int k = 0; k < o->n; k++)
        variants[k] = (qc_report_variant){o->v[k].name, o->v[k].scheme,
                                          o->v[k].granularity == QC_GRANULARITY_TENSOR ? QC_GRANULARITY_TENSOR
                                                                                       : QC_GRANULARITY_CHANNEL,
                                          o->v[k].granularity == QC_GRANULARITY_COMPENSATED ? QC_GRANULARITY_COMPENSATED
                                                                                            : QC_GRANULARITY_TENSOR,
                                          o->v[k].method, o->v[k].bits};
    for (int mi = 0; mi < n_models && status == QC_OK; mi++) {
        const model_result *m = &ms[mi];
        const int64_t layer_images = o->layer_images < m->n ? o->layer_images : m->n;
        for (int k = 0; k < o->n; k++) {
            int which;
            double sq = min_sqnr(m, k, &which);
            results[mi][k] = (qc_report_result){
                .correct = m->var[k].correct, .top1 = qc_compare_top1(m, k), .agreement = qc_compare_agreement(m, k),
                .kl = m->n ? m->var[k].kl_sum / (double)m->n : 0.0,
                .speedup = m->var[k].seconds > 0 ? m->fp32_seconds / m->var[k].seconds : NAN,
                .drop = qc_compare_drop(m, k), .min_sqnr = sq,
                .min_sqnr_tensor = which >= 0 ? m->stats->tensors[which].name : NULL, .gated = gated(m, k, o)};
        }
        status = cli_status(qc_report_tensors_create(m->g, m->stats, m->ev, o->n, layer_images, &tensors[mi], &err),
                            &err);
        rm[mi] = (qc_report_model){.name = m->path, .images = m->n, .labelled = m->labelled,
                                    .layer_images = layer_images, .fp32_top1 = qc_compare_fp32_top1(m),
                                    .results = results[mi], .n_tensors = m->stats->n_tensors, .tensors = tensors[mi],
                                    .sensitivity = o->sensitivity ? m->sens : NULL,
                                    .adequacy = m->groups ? &m->adequacy : NULL};
    }
    qc_report r = {.title = "qcal compare", .version = QCAL_VERSION, .calib = calib, .val = val,
                   .n_variants = o->n, .variants = variants, .n_models = n_models, .models = rm,
                   .has_max_drop = !isnan(o->max_drop), .max_drop = o->max_drop, .has_min_sqnr = !isnan(o->min_sqnr),
                   .min_sqnr = o->min_sqnr, .gate = o->gate, .n_failures = n_fail, .failures = failures};
    if (status == QC_OK)
        status = cli_status(qc_report_html_write(&r, o->html, &err), &err);
    for (int mi = 0; mi < n_models; mi++)
        free(tensors[mi]);
    return status;
}

/* ---- the command -------------------------------------------------------------------------------- */

#define FIELD(f) .offset = offsetof(compare_options, f)
static const cli_option rows[] = {
    {"--schemes", .kind = CLI_STRING, FIELD(schemes), .arg = "LIST"},
    {"--granularity", .kind = CLI_STRING, FIELD(grans), .arg = "LIST",
     .help = "tensor, channel (weights per output channel) or compensated (per-channel weights and input "
             "compensation, as quantize --input-compensation)"},
    {"--methods", .kind = CLI_STRING, FIELD(methods), .arg = "LIST",
     .help = "minmax, avg, avgstd, meanstd, percentile, entropy, mse, or auto (per tensor, as quantize --method "
             "auto, chosen on CALIB; not with --stats)"},
    {"--bits", .kind = CLI_STRING, FIELD(bits), .arg = "LIST"},
    {.kind = CLI_GROUP, .rows = cli_select_rows, FIELD(select), .usage = "[--limit N] [--sample N [--seed S]] [--skip-bad]"},
    {"--calib-limit", .kind = CLI_INT64, FIELD(calib_limit), .arg = "N", .min = 1, .max = INT64_MAX,
     .expects = "a positive number"},
    {"--layer-images", .kind = CLI_INT64, FIELD(layer_images), .arg = "N", .min = 0, .max = INT64_MAX,
     .expects = "a number >= 0"},
    {"--max-drop", .kind = CLI_FLOAT, FIELD(max_drop), .arg = "P", .min = 0, .max = INT64_MAX,
     .expects = "points, a number >= 0",
     .help = "exit 1 when a gated variant loses more than P points of top-1 (of agreement with FP32 when VAL "
             "has no labels)"},
    {"--min-sqnr", .kind = CLI_FLOAT, FIELD(min_sqnr), .arg = "DB", .expects = "dB, a number",
     .help = "exit 1 when a gated variant has an activation below DB dB of SQNR"},
    {"--gate", .kind = CLI_STRING, FIELD(gate), .arg = "VARIANT",
     .help = "the variant the gates apply to: a name, 'all', or by default the most faithful variant of each "
             "model (highest top-1 agreement with FP32, then lowest KL, then smallest drop), named under the table"},
    {"--html", .kind = CLI_STRING, FIELD(html), .arg = "FILE",
     .help = "a self-contained HTML report (table, charts, histograms, ranges)"},
    {"--stats", .kind = CLI_STRING, FIELD(stats_file), .arg = "S.json", .usage = "",
     .help = "the statistics of 'qcal stats MODEL CALIB' instead of a pass over CALIB: one MODEL, then VAL "
             "alone (qcal compare MODEL --stats S.json VAL); checked to belong to MODEL and its preprocessing"},
    {"--exclude", .kind = CLI_LIST, FIELD(exclude), .arg = "NAME,...",
     .help = "nodes kept FP32 in every variant (the names --sensitivity ranks; an unknown name is exit 2)"},
    {"--sensitivity", .kind = CLI_FLAG, FIELD(sensitivity), .usage = "[--sensitivity [--sensitivity-images K]]",
     .help = "rank each variant's quantized nodes by the score with that node alone in FP32 on K class-balanced "
             "images of VAL (default 256), as quantize --max-drop/--min-agreement ranks them; the names --exclude "
             "takes"},
    {"--sensitivity-images", .kind = CLI_INT64, FIELD(sensitivity_images), .arg = "K", .usage = "", .min = 1,
     .max = INT64_MAX, .expects = "a positive number"},
    {.kind = CLI_GROUP, .rows = cli_common_rows, FIELD(common)},
    {"--sample", .kind = CLI_DOC, .arg = "N",
     .help = "a reproducible class-balanced random subset of CALIB and of VAL (--seed S)"},
    {"--skip-bad", .kind = CLI_DOC, .help = "report an unreadable image of CALIB or VAL and leave it out"},
    {.kind = CLI_GROUP, .rows = cli_pp_rows, FIELD(pp)},
    {.kind = CLI_GROUP, .rows = cli_input_rows, FIELD(pp)},
    {.kind = CLI_GROUP, .rows = cli_output_rows, FIELD(pp)},
    {0},
};

static const cli_command command = {
    "compare", "MODEL... CALIB VAL",
    "       qcal compare MODEL --stats S.json VAL [the options above]\n",
    "Gathers statistics of each MODEL over CALIB once, quantizes it in every variant (scheme x granularity x "
    "method x bits; default gemmlowp,symlowp,mixed x tensor,channel, minmax, 8 bits), runs each on qcal's executor "
    "over VAL and prints FP32 and each variant's top-1, the drop, agreement with FP32 and the INT8 speed-up, "
    "with per-layer SQNR on the first --layer-images images (default 64). Each LIST may be 'all' (every "
    "scheme, granularity or method).",
    rows, MAX_MODELS + 2, "compare takes at most 16 models"};

static bool parse_granularity_item(const char *v, void *granularity)
{
    return qc_granularity_parse(v, granularity);
}

static bool parse_bits(const char *v, void *bits)
{
    int64_t b;
    if (!cli_parse_int(v, QC_BITS_MIN, QC_BITS_MAX, &b))
        return false;
    *(int *)bits = (int)b;
    return true;
}

/* The items of the list option's value (every value when it is "all", as stats --method all),
 * each read by parse into items (size bytes each); the count, or -1 after a usage error. */
static int parse_list(const char *option, const char *list, const char *every, const char *expects,
                      bool (*parse)(const char *, void *), void *items, size_t size)
{
    char buf[256];
    int n = 0;
    bool fits = snprintf(buf, sizeof buf, "%s", strcmp(list, "all") ? list : every) < (int)sizeof buf;
    for (char *save = NULL, *t = fits ? strtok_r(buf, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save), n++) {
        if (n == MAX_LIST)
            return cli_usage_error(&command, "%s takes at most %d items, not '%s'", option, MAX_LIST, list), -1;
        if (!parse(t, (char *)items + (size_t)n * size))
            return cli_usage_error(&command, "%s takes a list of %s, not '%s'", option, expects, t), -1;
    }
    if (n == 0)
        return cli_usage_error(&command, "%s takes a list of %s, not '%s'", option, expects, list), -1;
    return n;
}

/* A range method, or auto */
static bool parse_method_item(const char *v, void *method)
{
    if (strcmp(v, "auto"))
        return cli_parse_method(v, method);
    *(qc_range_method *)method = QC_METHOD_AUTO;
    return true;
}

static int build_variants(compare_options *o)
{
    char every_method[256] = "";
    for (int m = 0; m < QC_RANGE_COUNT; m++)
        snprintf(every_method + strlen(every_method), sizeof every_method - strlen(every_method), "%s%s",
                 m ? "," : "", qc_range_method_name((qc_range_method)m));
    qc_scheme schemes[MAX_LIST];
    qc_granularity grans[MAX_LIST];
    qc_range_method methods[MAX_LIST];
    int bits[MAX_LIST];
    int ns = parse_list("--schemes", o->schemes, "gemmlowp,symlowp,mixed", "gemmlowp, symlowp, mixed or all", cli_parse_scheme,
                        schemes, sizeof *schemes);
    int ng = ns < 0 ? -1 : parse_list("--granularity", o->grans, "tensor,channel,compensated",
                                      "tensor, channel, compensated or all", parse_granularity_item, grans,
                                      sizeof *grans);
    int nm = ng < 0 ? -1 : parse_list("--methods", o->methods, every_method,
                                      "minmax, avg, avgstd, meanstd, percentile, entropy, mse, auto or all",
                                      parse_method_item, methods, sizeof *methods);
    int nb = nm < 0 ? -1 : parse_list("--bits", o->bits, "", "bit widths from 2 to 8", parse_bits, bits, sizeof *bits);
    if (nb < 0)
        return QC_ERR_USAGE;
    for (int a = 0; a < nm; a++)
        if (methods[a] == QC_METHOD_AUTO && o->stats_file)
            return cli_usage_error(&command, "--methods auto measures its candidates on the CALIB images: give CALIB, "
                                             "not --stats");
    if (ns * ng * nm * nb > MAX_VARIANTS)
        return cli_usage_error(&command, "at most %d variants", MAX_VARIANTS);
    /* the method and the width are in the name only when the grid has more than the default */
    bool name_method = nm > 1 || methods[0] != QC_RANGE_MINMAX, name_bits = nb > 1 || bits[0] != 8;
    o->n = 0;
    for (int a = 0; a < nm; a++)
        for (int b = 0; b < nb; b++)
            for (int c = 0; c < ns; c++)
                for (int d = 0; d < ng; d++) {
                    variant_spec *v = &o->v[o->n++];
                    *v = (variant_spec){schemes[c], grans[d], methods[a], bits[b], ""};
                    int len = snprintf(v->name, sizeof v->name, "%s/%s", qc_scheme_name(v->scheme),
                                       qc_granularity_name(v->granularity));
                    if (name_method)
                        len += snprintf(v->name + len, sizeof v->name - (size_t)len, "/%s",
                                        qc_method_name(v->method));
                    if (name_bits)
                        snprintf(v->name + len, sizeof v->name - (size_t)len, "/%dbit", v->bits);
                }
    for (int i = 0; i < o->n; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(o->v[i].name, o->v[j].name))
                return cli_usage_error(&command, "variant '%s' is listed twice", o->v[i].name);
    return QC_OK;
}

/* The options and operands: the variants built, --gate checked. False when the command stops
 * here (*status: after --help QC_OK, else the usage error's). */
static bool parse_options(int argc, char **argv, compare_options *o, const char **pos, int *n_pos, int *status)
{
    *o = (compare_options){.schemes = "gemmlowp,symlowp,mixed", .grans = "tensor,channel", .methods = "minmax",
                           .bits = "8", .max_drop = NAN, .min_sqnr = NAN, .select = CLI_SELECT_DEFAULT,
                           .calib_limit = INT64_MAX,
                           .layer_images = 64, .sensitivity_images = 256, .common = {.threads = 1}};
    if (!cli_parse(&command, o, argc, argv, pos, n_pos, status))
        return false;
    if (o->stats_file && *n_pos != 2)
        *status = cli_usage_error(&command, "compare --stats takes one MODEL and VAL (the statistics stand for CALIB)");
    else if (o->stats_file)
        *status = cli_check_positionals(&command, "qcal compare MODEL --stats S.json VAL", pos, 1, pos + 1, 1) != QC_OK
                      ? QC_ERR_USAGE
                      : cli_select_check(&o->select, &command) != QC_OK ? QC_ERR_USAGE : build_variants(o);
    else if (*n_pos < 3)
        *status = cli_usage_error(&command, "compare needs MODEL, CALIB and VAL");
    else if (cli_check_positionals(&command, "qcal compare MODEL... CALIB VAL", pos, *n_pos - 2, pos + *n_pos - 2, 2) != QC_OK)
        *status = QC_ERR_USAGE;
    else if (cli_select_check(&o->select, &command) != QC_OK)
        *status = QC_ERR_USAGE;
    else
        *status = build_variants(o);
    bool found = !o->gate || !strcmp(o->gate, "all");
    for (int k = 0; k < o->n && !found; k++)
        found = !strcmp(o->v[k].name, o->gate);
    if (*status == QC_OK && !found)
        *status = cli_usage_error(&command, "--gate: no variant is named '%s'", o->gate);
    return *status == QC_OK;
}

/* The gates on the gated variants of m: each failure appended to failures[n]; the new n. */
static int gate_failures(const model_result *m, const compare_options *o, char (*failures)[256], int n)
{
    for (int k = 0; k < o->n; k++) {
        if (!gated(m, k, o))
            continue;
        double drop = qc_compare_drop(m, k);
        if (drop > o->max_drop)
            snprintf(failures[n++], sizeof *failures, "variant '%s' of '%s' drops %s by %.2f points (--max-drop %g)",
                     o->v[k].name, m->path, m->labelled ? "top-1" : "agreement with FP32", drop, o->max_drop);
        int which;
        double sq = min_sqnr(m, k, &which);
        if (which >= 0 && sq < o->min_sqnr)
            snprintf(failures[n++], sizeof *failures,
                     "variant '%s' of '%s': tensor '%s' has an SQNR of %.2f dB (--min-sqnr %g)", o->v[k].name,
                     m->path, m->stats->tensors[which].name, sq, o->min_sqnr);
    }
    return n;
}

/* VAL, as --sample picks it; with --skip-bad, the unreadable images told and left out. */
static int open_val(const char *val, compare_options *o, qc_image_set *set)
{
    int status = cli_open_images(set, val, NULL, &o->select);
    if (status != QC_OK)
        return status;
    o->val_skipped.quiet = o->common.quiet;
    qc_error err;
    if (o->select.skip_bad &&
        (status = qc_image_set_keep_readable(set, QC_COLOR_RGB, o->select.limit, o->common.threads, cli_report_skip,
                                             &o->val_skipped, &err)) != QC_OK) {
        cli_error("%s", err.msg);
        qc_image_set_free(set);
    }
    return status;
}

int cmd_compare(int argc, char **argv)
{
    compare_options o;
    const char *pos[MAX_MODELS + 2];
    int n_pos, status;
    if (!parse_options(argc, argv, &o, pos, &n_pos, &status) ||
        (o.html && (status = cli_check_output_paths(o.html, "--html", pos, n_pos)) != QC_OK)) {
        cli_list_free(&o.exclude);
        return status;
    }
    const int n_models = o.stats_file ? 1 : n_pos - 2;
    const char *calib = o.stats_file ? NULL : pos[n_pos - 2], *val = pos[n_pos - 1];
    if (calib && qc_same_file(calib, val) && !o.common.quiet)
        cli_warning("CALIB and VAL are the same folder '%s': every variant is measured on the images its "
                    "ranges were fitted to, which flatters it", val);
    qc_image_set set = {0};
    model_result *ms = NULL;
    if ((status = open_val(val, &o, &set)) != QC_OK || !(ms = calloc((size_t)n_models, sizeof *ms))) {
        qc_image_set_free(&set);
        cli_list_free(&o.exclude);
        return status != QC_OK ? status : cli_out_of_memory();
    }
    /* Every model reads the same images: the unreadable ones are told once. */
    cli_skipped calib_skipped = {.quiet = o.common.quiet}, again = {.quiet = true};
    for (int mi = 0; mi < n_models && status == QC_OK; mi++) {
        o.calib_skipped = mi == 0 ? &calib_skipped : &again;
        status = run_model(pos[mi], calib, &set, &o, &ms[mi]);
    }
    o.calib_skipped = &calib_skipped;

    char (*failures)[256] = NULL;
    const char *fail_ptrs[MAX_MODELS * MAX_VARIANTS * 2];
    int n_fail = 0;
    if (status == QC_OK && !(failures = calloc(MAX_MODELS * MAX_VARIANTS * 2, sizeof *failures)))
        status = cli_out_of_memory();
    for (int mi = 0; mi < n_models && status == QC_OK; mi++)
        n_fail = gate_failures(&ms[mi], &o, failures, n_fail);
    for (int i = 0; i < n_fail; i++)
        fail_ptrs[i] = failures[i];
    if (status == QC_OK) {
        if (o.common.json)
            print_json(ms, n_models, &o, calib, val, fail_ptrs, n_fail);
        else
            print_table(ms, n_models, &o);
        if (o.select.skip_bad && !o.common.json)
            printf("unreadable images skipped (--skip-bad): %lld of CALIB, %lld of VAL\n",
                   (long long)calib_skipped.count, (long long)o.val_skipped.count);
        if (o.html)
            status = write_html(ms, n_models, &o, calib, val, fail_ptrs, n_fail);
    }
    if (status == QC_OK && n_fail) {
        for (int i = 0; i < n_fail; i++)
            cli_error("%s", fail_ptrs[i]);
        status = CLI_GATE_FAILED;
    }
    free(failures);
    for (int mi = 0; mi < n_models; mi++)
        if (ms[mi].stats || ms[mi].g)
            qc_compare_model_free(&ms[mi], o.n);
    free(ms);
    qc_image_set_free(&set);
    cli_list_free(&o.exclude);
    return status;
}
