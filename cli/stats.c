/* stats.c — `qcal stats MODEL IMAGES -o STATS.json`: one FP32 pass over the calibration images
 * recording what every range method needs (stats/), then a table of each tensor's range per
 * method. As in eval, each image runs alone (batch 1), one executor and one accumulator per
 * thread; a worker takes whole groups of QC_STATS_GROUP images, fixed by index in the sorted
 * list, and flushes its sums after each, so the file does not depend on --threads, --batch or
 * how the groups were sharded. `qcal stats MODEL --stats FILE` prints the table from a saved
 * file (the calibration cache) after checking that it belongs to MODEL. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../calib/calib.h"
#include "../stats/stats.h"
#include "cli.h"

typedef struct {
    const char *out, *stats_file;
    struct {
        int i, n;
    } shard;
    qc_granularity granularity; /* tensor or channel */
    bool methods[QC_RANGE_COUNT];
    bool methods_given, allow_partial;
    qc_range_params params;
    cli_pp_flags pp;
    cli_image_select select;
    cli_skipped skipped; /* filled by the run: the images --skip-bad left out */
    struct {
        bool on; /* --adequacy */
        qc_adequacy_settings s;
    } adequacy;
    cli_common common;
} stats_options;

static bool parse_shard(const char *v, void *shard);
static bool parse_methods(const char *v, void *options);

#define FIELD(f) .offset = offsetof(stats_options, f)
static const cli_option rows[] = {
    {"--output", "-o", CLI_STRING, FIELD(out), .usage = "[-o STATS.json]"},
    {"--shard", .kind = CLI_CUSTOM, FIELD(shard), .arg = "I/N", .parse = parse_shard,
     .expects = "I/N with 0 <= I < N",
     .help = "only the groups of 16 images (by index in the sorted list) whose number is I modulo N "
             "(0 <= I < N); combine the N files with 'qcal merge'"},
    {"--granularity", .kind = CLI_ENUM, FIELD(granularity), .arg = "tensor|channel",
     .names = (const char *const[]){"tensor", "channel", NULL},
     .values = (const int[]){QC_GRANULARITY_TENSOR, QC_GRANULARITY_CHANNEL}},
    {"--method", .kind = CLI_CUSTOM, .arg = "LIST", .parse = parse_methods,
     .expects = "a list of minmax, avg, avgstd, meanstd, percentile, entropy, mse or all",
     .help = "minmax,avg,avgstd,meanstd,percentile,entropy,mse or all (default); without percentile, "
             "entropy or mse no histograms are recorded"},
    {.kind = CLI_GROUP, .rows = cli_range_rows, FIELD(params)},
    {"--n", .kind = CLI_DOC, .arg = "N", .help = "avgstd and meanstd: mean ± N std (default 3)"},
    {"--percentile", .kind = CLI_DOC, .arg = "P", .help = "percentile: P in (50, 100] (default 99.99)"},
    {"--bits", .kind = CLI_INT, FIELD(params.bits), .arg = "B", .min = 2, .max = 8,
     .help = "entropy and mse: the target bit width, 2 to 8 (default 8)"},
    {.kind = CLI_GROUP, .rows = cli_select_rows, FIELD(select)},
    {"--limit", .kind = CLI_DOC, .arg = "N", .help = "only the first N images in sorted order (on an "
     "ImageFolder, the first classes only: --sample N is the balanced subset)"},
    {"--sample", .kind = CLI_DOC, .arg = "N", .help = "a reproducible class-balanced random subset of N "
     "images (--seed S, default 0; README, \"Choosing images\")"},
    {"--skip-bad", .kind = CLI_DOC, .help = "report an image that cannot be read and leave it out (not with --shard)"},
    {.kind = CLI_GROUP, .rows = cli_batch_rows, FIELD(select)},
    {"--batch", .kind = CLI_DOC, .arg = "N", .help = "images in flight per step, rounded up to a multiple of 16 (default 32)"},
    {.kind = CLI_GROUP, .rows = cli_common_rows, FIELD(common)},
    {.kind = CLI_GROUP, .rows = cli_pp_rows, FIELD(pp)},
    {.kind = CLI_GROUP, .rows = cli_input_rows, FIELD(pp)},
    {"--stats", .kind = CLI_STRING, FIELD(stats_file), .arg = "FILE", .usage = "",
     .help = "print the ranges from a saved statistics file instead of running; it must match MODEL (hash, "
             "tensors, the preprocessing of its card and the flags) and hold all shards of a split"},
    {"--allow-partial", .kind = CLI_FLAG, FIELD(allow_partial), .usage = "",
     .help = "with --stats: accept a partial merge of shards (a warning)"},
    {"--adequacy", .kind = CLI_FLAG, FIELD(adequacy.on),
     .help = "is the set big enough? A bootstrap over the groups of 16 images estimates, per activation, "
             "how much the scale of its range would move with another set of as many images; lists the "
             "tensors uncertain by more than the tolerance and the images that would bring each within it "
             "(printed, not stored: the file is the same)"},
    {"--adequacy-tolerance", .kind = CLI_FLOAT, FIELD(adequacy.s.tolerance_pct), .arg = "PCT", .min = 0, .max = 100,
     .expects = "a percentage above 0",
     .help = "the relative standard deviation of a scale allowed, in percent (default 5)"},
    {"--adequacy-method", .kind = CLI_CUSTOM, FIELD(adequacy.s.method), .parse = cli_parse_method,
     .arg = "minmax|avg|avgstd|meanstd|percentile|entropy|mse",
     .help = "the range method whose scale is judged (default minmax, as quantize); a histogram method is "
             "judged by avg (per-group histograms are not kept), and avgstd/meanstd take --n"},
    {"--adequacy-scheme", .kind = CLI_CUSTOM, FIELD(adequacy.s.scheme), .parse = cli_parse_scheme,
     .arg = "gemmlowp|symlowp|mixed", .help = "the scheme of the scale (default mixed, as quantize)"},
    {"--adequacy-bits", .kind = CLI_INT, FIELD(adequacy.s.bits), .arg = "B", .min = 2, .max = 8,
     .help = "the activation bits of the scale (default 8)"},
    {"--adequacy-resamples", .kind = CLI_INT, FIELD(adequacy.s.resamples), .arg = "N", .min = 2, .max = 100000,
     .help = "bootstrap resamples (default 200; the seed is fixed: the same images give the same result)"},
    {0},
};

static const cli_command command = {
    "stats", "MODEL IMAGES",
    "       qcal stats MODEL --stats STATS.json [--method LIST] [--n N] [--percentile P]\n"
    "                  [--bits B] [--allow-partial] [--json]\n",
    "Runs the FP32 model over the PNG and JPEG images and records, for its input, every activation and "
    "the Conv/Gemm/MatMul weights, what the range methods need: extremes, exact sums, per-channel values "
    "(--granularity channel, the default) and histograms. Writes them to STATS.json (-o) and prints each "
    "tensor's range per method.",
    rows, 2, "stats takes one MODEL and one IMAGES"};

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ---- the summary -------------------------------------------------------------------------- */

static void print_summary_table(const qc_stats *s, const stats_options *o)
{
    /* left out first when the terminal is narrow: the channel range, then the shape, then
     * the methods from the right */
    cli_column cols[CLI_TABLE_MAX_COLS] = {{"tensor", true, 0, true}, {"role", true, 0, false},
                                           {"shape", true, 5, false}, {"min", false, 0, false},
                                           {"max", false, 0, false}};
    int n = 5;
    for (int m = 0; m < QC_RANGE_COUNT; m++)
        if (o->methods[m])
            cols[n++] = (cli_column){qc_range_method_name(m), true, 4, false};
    if (s->per_channel)
        cols[n++] = (cli_column){"channel range (smallest..largest)", true, 6, false};
    cli_table tab;
    cli_table_init(&tab, cols, n);
    for (int i = 0; i < s->n_tensors; i++) {
        const qc_tensor_stats *t = &s->tensors[i];
        char shape[64];
        cli_table_cell(&tab, "%s", t->name);
        cli_table_cell(&tab, "%s", qc_role_name(t->role));
        cli_table_cell(&tab, "%s", qc_stats_shape_text(t, shape, sizeof shape));
        bool seen = t->samples && t->t.min <= t->t.max;
        cli_table_cell(&tab, seen ? "%.4g" : "-", (double)t->t.min);
        cli_table_cell(&tab, seen ? "%.4g" : "-", (double)t->t.max);
        for (int m = 0; m < QC_RANGE_COUNT; m++) {
            float lo, hi;
            if (!o->methods[m])
                continue;
            if (seen && qc_stats_range(t, m, &o->params, -1, &lo, &hi, NULL) == QC_OK)
                cli_table_cell(&tab, "%.4g..%.4g", (double)lo, (double)hi);
            else
                cli_table_cell(&tab, "-");
        }
        double sl, sh;
        if (s->per_channel && seen && qc_stats_channel_spread(t, &sl, &sh))
            cli_table_cell(&tab, "%.4g..%.4g", sl, sh);
        else if (s->per_channel)
            cli_table_cell(&tab, "-");
    }
    cli_table_print(&tab, cli_table_width(o->common.wide));
    printf("%lld images, granularity %s, histograms %s; avgstd/meanstd n = %g, percentile %g, bits %d\n",
           (long long)s->images, s->per_channel ? "channel" : "tensor", s->histograms ? "yes" : "no",
           o->params.n_std, o->params.percentile, o->params.bits);
    if (o->select.skip_bad)
        printf("%lld unreadable images skipped (--skip-bad)\n", (long long)o->skipped.count);
}

/* ---- adequacy ------------------------------------------------------------------------------ */

static void print_adequacy_table(const qc_stats *s, const qc_adequacy *a, const stats_options *o)
{
    const qc_adequacy_settings *f = &o->adequacy.s;
    printf("\nadequacy: %lld images in %lld groups of up to %d, %d bootstrap resamples; scale of %s",
           (long long)a->images, (long long)a->groups, QC_STATS_GROUP, f->resamples, qc_range_method_name(a->method));
    if (a->evaluated != a->method)
        printf(" (judged by %s: per-group histograms are not kept)", qc_range_method_name(a->evaluated));
    printf(", %s %d bits\n", qc_scheme_name(f->scheme), f->bits);
    if (!a->n_uncertain) {
        printf("every scale within %g%% (relative standard deviation) of %d tensors\n", (double)f->tolerance_pct, a->n);
        return;
    }
    cli_column cols[] = {{"tensor", true, 0, true},         {"scale", false, 0, false},
                         {"rel. std", false, 0, false},     {"90% interval", false, 2, false},
                         {"images needed", false, 0, false}};
    cli_table tab;
    cli_table_init(&tab, cols, 5);
    for (int j = 0; j < a->n; j++) {
        const qc_adequacy_tensor *r = &a->tensors[j];
        if (!r->uncertain)
            continue;
        cli_table_cell(&tab, "%s", s->tensors[r->tensor].name);
        cli_table_cell(&tab, "%.4g", r->scale);
        cli_table_cell(&tab, "%.1f%%", 100 * r->rsd);
        cli_table_cell(&tab, "%.4g..%.4g", r->lo90, r->hi90);
        cli_table_cell(&tab, "%lld", (long long)r->images_needed);
    }
    cli_table_print(&tab, cli_table_width(o->common.wide));
    printf("%d of %d tensors uncertain by more than %g%%\n", a->n_uncertain, a->n, (double)f->tolerance_pct);
}

/* ---- running -------------------------------------------------------------------------------- */

/* Runs the model over the shard's images (qc_stats_gather); *out gets the merged statistics. */
int cli_stats_gather(const char *model_path, const char *images, const cli_gather_options *o, const qc_graph *g,
                     uint64_t hash, qc_stats **out, double *seconds)
{
    qc_error err;
    qc_image_set set = {0};
    qc_model_card card = {0};
    qc_image_input in = {0};
    int status = cli_status(qc_image_input_of(g, model_path, "stats", false, &in, &err), &err);
    if (status != QC_OK)
        goto end;
    qc_preprocess pp;
    status = cli_model_setup(model_path, g, in.channels, o->pp, o->quiet, &card, &pp);
    if (status == QC_OK)
        status = cli_open_images(&set, images, NULL, o->select);
    if (status != QC_OK)
        goto end;
    cli_progress progress;
    qc_stats_options so = {.per_channel = o->per_channel, .histograms = o->histograms,
                           .model_hash = hash, .model_file = base_name(model_path), .pp = &pp};
    qc_gather_options go = {.limit = o->limit, .batch = o->batch, .shard_i = o->shard_i,
                            .shard_n = o->shard_n, .threads = o->threads,
                            .progress = cli_progress_draw, .progress_ctx = &progress,
                            .skip_bad = o->select && o->select->skip_bad,
                            .on_skip = o->skipped ? cli_report_skip : NULL, .skip_ctx = o->skipped,
                            .groups = o->groups};
    cli_progress_start(&progress, "stats", model_path, qc_gather_count(&go, set.n_items), o->quiet);
    double start = cli_now();
    status = qc_stats_gather(g, &set, &pp, &so, &go, out, &err);
    *seconds = cli_now() - start;
    cli_progress_end(&progress);
    cli_status(status, &err);
end:
    qc_model_card_free(&card);
    qc_image_set_free(&set);
    return status;
}

static bool parse_shard(const char *v, void *shard)
{
    stats_options *o = (stats_options *)((char *)shard - offsetof(stats_options, shard));
    return qc_shard_parse(v, &o->shard.i, &o->shard.n);
}

static bool parse_methods(const char *v, void *options)
{
    stats_options *o = options;
    o->methods_given = true;
    return qc_range_methods_parse(v, o->methods);
}

/* The positional arguments and the options that go together, and -o against the inputs.
 * Prints what is wrong; returns the exit status. */
static int check_arguments(stats_options *o, const char *const *pos, int n_pos)
{
    if (o->stats_file ? n_pos != 1 : n_pos != 2)
        return cli_usage_error(&command, o->stats_file ? "stats --stats FILE takes a MODEL and no IMAGES"
                                                         : "stats needs a MODEL and IMAGES");
    if (cli_check_positionals(&command, "qcal stats MODEL IMAGES", pos, 1, pos + 1, n_pos - 1) != QC_OK)
        return QC_ERR_USAGE;
    if (o->stats_file && o->shard.n > 1)
        return cli_usage_error(&command, "--shard needs IMAGES, not --stats");
    int status = cli_check_stats_file(&command, o->stats_file, o->allow_partial, &o->select);
    if (status != QC_OK)
        return status;
    if (o->select.skip_bad && o->shard.n > 1)
        return cli_usage_error(&command, "--skip-bad does not work with --shard: a shard cannot "
                                            "know which images the others left out");
    if (!o->adequacy.on && !qc_adequacy_settings_are_default(&o->adequacy.s))
        return cli_usage_error(&command, "--adequacy-tolerance, -method, -scheme, -bits and -resamples go with --adequacy");
    if (o->adequacy.on && o->stats_file)
        return cli_usage_error(&command, "--adequacy needs IMAGES: the statistics file keeps no per-group summaries");
    if (o->adequacy.on && !(o->adequacy.s.tolerance_pct > 0))
        return cli_usage_error(&command, "--adequacy-tolerance takes a percentage above 0");
    o->skipped.quiet = o->common.quiet;
    cli_file inputs[] = {{pos[0], "model"}, {o->stats_file, "statistics file"},
                         {n_pos > 1 ? pos[1] : NULL, "image folder"}};
    return o->out ? cli_check_output(o->out, "-o", inputs, 3) : QC_OK;
}

int cmd_stats(int argc, char **argv)
{
    stats_options o = {.select = CLI_SELECT_DEFAULT, .shard = {0, 1}, .granularity = QC_GRANULARITY_CHANNEL,
                       .adequacy = {.s = QC_ADEQUACY_DEFAULT}, .common = {.threads = 1}};
    qc_range_params_default(&o.params);
    for (int m = 0; m < QC_RANGE_COUNT; m++)
        o.methods[m] = true;
    const char *pos[2];
    int n_pos = 0, status;
    if (!cli_parse(&command, &o, argc, argv, pos, &n_pos, &status))
        return status;
    if ((status = check_arguments(&o, pos, n_pos)) != QC_OK)
        return status;

    qc_error err;
    qc_graph *g = NULL;
    qc_stats *s = NULL;
    qc_group_table *groups = NULL;
    qc_adequacy adequacy = {0};
    uint64_t hash = 0;
    double seconds = -1;
    if ((status = cli_load_fp32_model(pos[0], "stats", &g, &hash)) != QC_OK)
        goto end;
    if (o.stats_file) {
        /* the file must have been gathered with the preprocessing MODEL takes now */
        qc_model_card card = {0};
        qc_preprocess pp;
        status = cli_load_stats(o.stats_file, g, hash, pos[0], &o.pp, o.allow_partial, o.common.quiet, &card, &pp, &s);
        qc_model_card_free(&card);
        if (status != QC_OK)
            goto end;
        /* without histograms the table leaves their methods out, unless --method asked for one */
        if (!s->histograms && qc_range_methods_drop_histograms(o.methods) && o.methods_given) {
            cli_error("'%s' has no histograms: gather it with percentile, entropy or mse in --method", o.stats_file);
            status = QC_ERR_INPUT;
            goto end;
        }
    } else {
        cli_gather_options go = {.limit = o.select.limit, .batch = o.select.batch, .shard_i = o.shard.i, .shard_n = o.shard.n,
                                 .per_channel = o.granularity == QC_GRANULARITY_CHANNEL, .histograms = qc_range_methods_use_histograms(o.methods),
                                 .pp = &o.pp, .threads = o.common.threads, .quiet = o.common.quiet,
                                 .select = &o.select, .skipped = &o.skipped,
                                 .groups = o.adequacy.on ? &groups : NULL};
        status = cli_stats_gather(pos[0], pos[1], &go, g, hash, &s, &seconds);
        if (status != QC_OK)
            goto end;
        if (o.out && (status = cli_status(qc_stats_save(s, o.out, &err), &err)) != QC_OK)
            goto end;
        if (o.adequacy.on &&
            (status = cli_status(qc_adequacy_judge(s, groups, &o.adequacy.s, &o.params, &adequacy, &err), &err)) != QC_OK)
            goto end;
    }
    if (o.common.json) {
        qc_stats_doc doc = {.model = pos[0], .stats = o.out ? o.out : o.stats_file, .seconds = seconds,
                            .skipped = o.skipped.count, .batch = o.select.batch, .threads = o.common.threads,
                            .params = &o.params, .methods = o.methods, .adequacy = o.adequacy.on ? &adequacy : NULL,
                            .adequacy_settings = &o.adequacy.s};
        qc_stats_json_write(stdout, s, &doc);
    } else {
        print_summary_table(s, &o);
        if (o.adequacy.on)
            print_adequacy_table(s, &adequacy, &o);
    }

end:
    qc_adequacy_free(&adequacy);
    qc_group_table_destroy(groups);
    qc_stats_destroy(s);
    qc_graph_destroy(g);
    return status;
}
