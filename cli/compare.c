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

typedef struct {
    qc_compare_spec v[QC_COMPARE_MAX_VARIANTS];
    int n;
    qc_compare_lists lists;
    qc_compare_gates gates;   /* max_drop, min_sqnr NAN when not given */
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
static int model_setup(const char *path, const char *calib, const compare_options *o, qc_compare_model *m,
                       qc_preprocess *pp)
{
    qc_error err;
    uint64_t hash = 0;
    qc_model_card card = {0};
    m->path = path;
    int status = cli_load_fp32_model(path, "compare", &m->g, &hash);
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
    /* the page's adequacy section, on the first variant's scale */
    return cli_status(qc_compare_adequacy(m, &o->v[0], &err), &err);
}

/* The ranges of each variant of method auto, chosen on CALIB's images the statistics were
 * gathered on (as quantize --method auto does). */
static int choose_auto_ranges(qc_compare_model *m, const char *calib, const compare_options *o,
                              const qc_compare_options *co, const qc_preprocess *pp)
{
    bool any = false;
    for (int k = 0; k < o->n; k++)
        any |= o->v[k].method == QC_METHOD_AUTO;
    qc_image_set set = {0};
    int status = any ? cli_open_images(&set, calib, NULL, &(cli_image_select){0}) : QC_OK;
    if (!any || status != QC_OK)
        return status;
    int n_items = set.n_items; /* every item freed, not only those the statistics read */
    if (set.n_items > o->calib_limit)
        set.n_items = (int)o->calib_limit;
    qc_error err;
    status = cli_status(qc_compare_choose_auto(m, &set, pp, co, &err), &err);
    set.n_items = n_items;
    qc_image_set_free(&set);
    return status;
}

static int run_model(const char *path, const char *calib, const qc_image_set *val,
                     const compare_options *o, qc_compare_model *m)
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

/* The score of --sensitivity, in % (top-1 with labels, else agreement with FP32). */
static double sens_value(const qc_compare_model *m, const qc_aa_score *sc)
{
    return qc_aa_value(m->labelled ? QC_AA_TOP1 : QC_AA_AGREEMENT, sc);
}

#define SENSITIVITY_ROWS 10 /* nodes per variant in the table; all of them in the JSON */

static void print_sensitivity(const qc_compare_model *m, int k, const compare_options *o)
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

static void print_table(const qc_compare_model *ms, int n_models, const compare_options *o)
{
    static const cli_column cols[] = {{"model", true, 0, true},     {"variant", true, 0, false},
                                      {"top-1", false, 0, false},   {"delta", false, 0, false},
                                      {"agree", false, 0, false},   {"KL", false, 2, false},
                                      {"speed-up", false, 3, false}, {"min SQNR", true, 1, true}};
    cli_table tab;
    cli_table_init(&tab, cols, 8);
    for (int mi = 0; mi < n_models; mi++) {
        const qc_compare_model *m = &ms[mi];
        const char *base = strrchr(m->path, '/') ? strrchr(m->path, '/') + 1 : m->path;
        cli_table_cell(&tab, "%s", base);
        cli_table_cell(&tab, "fp32");
        cli_table_cell(&tab, m->labelled ? "%.2f%%" : "-", 100.0 * qc_compare_fp32_top1(m));
        for (int c = 3; c < 8; c++)
            cli_table_cell(&tab, "%s", "");
        for (int k = 0; k < o->n; k++) {
            const qc_compare_result *v = &m->var[k];
            int which;
            double ms_db = qc_compare_min_sqnr(m, k, &which);
            cli_table_cell(&tab, "%s", "");
            cli_table_cell(&tab, "%s", o->v[k].name);
            cli_table_cell(&tab, m->labelled ? "%.2f%%" : "-", 100.0 * qc_compare_top1(m, k));
            /* + 0.0: no "-0.00" */
            cli_table_cell(&tab, m->labelled ? "%+.2f" : "-", 100.0 * qc_compare_delta(m, k) + 0.0);
            cli_table_cell(&tab, "%.2f%%", 100.0 * qc_compare_agreement(m, k));
            cli_table_cell(&tab, "%.2e", qc_compare_kl(m, k));
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
    for (int mi = 0; mi < n_models && (!isnan(o->gates.max_drop) || !isnan(o->gates.min_sqnr)); mi++)
        for (int k = 0; k < o->n; k++)
            if (qc_compare_gated(&ms[mi], o->v, o->n, k, o->gates.gate))
                printf("gated: %s of %s%s\n", o->v[k].name, ms[mi].path,
                       o->gates.gate ? "" : " (the most faithful to FP32: agreement, then KL)");
    for (int mi = 0; mi < n_models && o->sensitivity; mi++)
        for (int k = 0; k < o->n; k++)
            print_sensitivity(&ms[mi], k, o);
}

/* ---- the command -------------------------------------------------------------------------------- */

#define FIELD(f) .offset = offsetof(compare_options, f)
static const cli_option rows[] = {
    {"--schemes", .kind = CLI_STRING, FIELD(lists.schemes), .arg = "LIST"},
    {"--granularity", .kind = CLI_STRING, FIELD(lists.granularities), .arg = "LIST",
     .help = "tensor, channel (weights per output channel) or compensated (per-channel weights and input "
             "compensation, as quantize --input-compensation)"},
    {"--methods", .kind = CLI_STRING, FIELD(lists.methods), .arg = "LIST",
     .help = "minmax, avg, avgstd, meanstd, percentile, entropy, mse, or auto (per tensor, as quantize --method "
             "auto, chosen on CALIB; not with --stats)"},
    {"--bits", .kind = CLI_STRING, FIELD(lists.bits), .arg = "LIST"},
    {.kind = CLI_GROUP, .rows = cli_select_rows, FIELD(select), .usage = "[--limit N] [--sample N [--seed S]] [--skip-bad]"},
    {"--calib-limit", .kind = CLI_INT64, FIELD(calib_limit), .arg = "N", .min = 1, .max = INT64_MAX,
     .expects = "a positive number"},
    {"--layer-images", .kind = CLI_INT64, FIELD(layer_images), .arg = "N", .min = 0, .max = INT64_MAX,
     .expects = "a number >= 0"},
    {"--max-drop", .kind = CLI_FLOAT, FIELD(gates.max_drop), .arg = "P", .min = 0, .max = INT64_MAX,
     .expects = "points, a number >= 0",
     .help = "exit 1 when a gated variant loses more than P points of top-1 (of agreement with FP32 when VAL "
             "has no labels)"},
    {"--min-sqnr", .kind = CLI_FLOAT, FIELD(gates.min_sqnr), .arg = "DB", .expects = "dB, a number",
     .help = "exit 1 when a gated variant has an activation below DB dB of SQNR"},
    {"--gate", .kind = CLI_STRING, FIELD(gates.gate), .arg = "VARIANT",
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

static int build_variants(compare_options *o)
{
    qc_error err;
    if (qc_compare_grid(&o->lists, o->v, &o->n, &err) != QC_OK)
        return cli_usage_error(&command, "%s", err.msg);
    for (int k = 0; k < o->n; k++)
        if (o->v[k].method == QC_METHOD_AUTO && o->stats_file)
            return cli_usage_error(&command, "--methods auto measures its candidates on the CALIB images: give CALIB, "
                                             "not --stats");
    return QC_OK;
}

/* The options and operands: the variants built, --gate checked. False when the command stops
 * here (*status: after --help QC_OK, else the usage error's). */
static bool parse_options(int argc, char **argv, compare_options *o, const char **pos, int *n_pos, int *status)
{
    *o = (compare_options){.lists = {"gemmlowp,symlowp,mixed", "tensor,channel", "minmax", "8"},
                           .gates = {.max_drop = NAN, .min_sqnr = NAN}, .select = CLI_SELECT_DEFAULT,
                           .calib_limit = INT64_MAX,
                           .layer_images = 64, .sensitivity_images = 256, .common = {.threads = 1}};
    if (!cli_parse(&command, o, argc, argv, pos, n_pos, status))
        return false;
    const int n_models = o->stats_file ? 1 : *n_pos - 2; /* then VAL, or CALIB and VAL */
    const char *synopsis = o->stats_file ? "qcal compare MODEL --stats S.json VAL" : "qcal compare MODEL... CALIB VAL";
    if (o->stats_file && *n_pos != 2)
        *status = cli_usage_error(&command, "compare --stats takes one MODEL and VAL (the statistics stand for CALIB)");
    else if (!o->stats_file && *n_pos < 3)
        *status = cli_usage_error(&command, "compare needs MODEL, CALIB and VAL");
    else if (cli_check_positionals(&command, synopsis, pos, n_models, pos + n_models, *n_pos - n_models) != QC_OK ||
             cli_select_check(&o->select, &command) != QC_OK)
        *status = QC_ERR_USAGE;
    else
        *status = build_variants(o);
    if (*status == QC_OK && !qc_compare_gate_known(o->v, o->n, o->gates.gate))
        *status = cli_usage_error(&command, "--gate: no variant is named '%s'", o->gates.gate);
    return *status == QC_OK;
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
    qc_error err;
    if (!parse_options(argc, argv, &o, pos, &n_pos, &status) ||
        (o.html && (status = cli_status(qc_check_output_paths(o.html, "--html", pos, n_pos, &err), &err)) != QC_OK)) {
        cli_list_free(&o.exclude);
        return status;
    }
    const int n_models = o.stats_file ? 1 : n_pos - 2;
    const char *calib = o.stats_file ? NULL : pos[n_pos - 2], *val = pos[n_pos - 1];
    if (calib && qc_same_file(calib, val) && !o.common.quiet)
        cli_warning("CALIB and VAL are the same folder '%s': every variant is measured on the images its "
                    "ranges were fitted to, which flatters it", val);
    qc_image_set set = {0};
    qc_compare_model *ms = NULL;
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

    char **failures = NULL;
    int n_fail = 0;
    if (status == QC_OK && !qc_compare_failures(ms, n_models, o.v, o.n, &o.gates, &failures, &n_fail))
        status = cli_out_of_memory();
    qc_compare_page page = {.title = "qcal compare", .version = QCAL_VERSION, .calib = calib, .val = val,
                            .v = o.v, .n = o.n, .gates = &o.gates, .layer_images = o.layer_images,
                            .sensitivity = o.sensitivity, .failures = (const char *const *)failures, .n_failures = n_fail,
                            .calib_skipped = calib_skipped.count, .val_skipped = o.val_skipped.count};
    if (status == QC_OK) {
        if (o.common.json)
            qc_compare_json_write(stdout, ms, n_models, &page);
        else
            print_table(ms, n_models, &o);
        if (o.select.skip_bad && !o.common.json)
            printf("unreadable images skipped (--skip-bad): %lld of CALIB, %lld of VAL\n",
                   (long long)calib_skipped.count, (long long)o.val_skipped.count);
        if (o.html)
            status = cli_status(qc_compare_html_write(ms, n_models, &page, o.html, &err), &err);
    }
    if (status == QC_OK && n_fail) {
        for (int i = 0; i < n_fail; i++)
            cli_error("%s", failures[i]);
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
