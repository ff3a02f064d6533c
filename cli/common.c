/* common.c — what every subcommand shares: messages, option values, preprocessing flags,
 * and the progress bar. */
#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_status(int st, const qc_error *err)
{
    if (st != QC_OK)
        cli_error("%s", err->msg);
    return st;
}

int cli_out_of_memory(void)
{
    cli_error("out of memory");
    return QC_ERR_IO;
}

void cli_warning(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool cli_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool cli_parse_float(const char *s, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* ---- the shared option rows (cli.h) --------------------------------------------------------- */

static bool parse_memory_limit(const char *v, void *unused)
{
    int64_t mib;
    (void)unused;
    if (!cli_parse_int(v, 16, (int64_t)1 << 30, &mib))
        return false;
    qc_set_memory_limit((size_t)mib << 20);
    return true;
}

const cli_option cli_common_rows[] = {
    {"--json", .kind = CLI_FLAG, .offset = offsetof(cli_common, json)},
    {"--quiet", "-q", CLI_FLAG, .offset = offsetof(cli_common, quiet)},
    {"--wide", .kind = CLI_FLAG, .offset = offsetof(cli_common, wide),
     .help = "tables with every column and full names, whatever the terminal's width"},
    {"--threads", .kind = CLI_INT, .offset = offsetof(cli_common, threads), .arg = "N", .min = 1, .max = 256},
    {"--max-memory", .kind = CLI_CUSTOM, .arg = "MIB", .usage = "", .parse = parse_memory_limit,
     .expects = "MiB from 16 to 2^30"},
    {"--help", "-h", CLI_HELP, .usage = ""},
    {0},
};

static bool parse_size(const char *v, void *pp)
{
    cli_pp_flags *f = pp;
    return f->has_size = qc_pp_parse_hw(v, &f->size_h, &f->size_w);
}

static bool parse_crop(const char *v, void *pp)
{
    cli_pp_flags *f = pp;
    return f->has_crop = qc_pp_parse_hw(v, &f->crop_h, &f->crop_w);
}

static bool parse_scale(const char *v, void *pp)
{
    cli_pp_flags *f = pp;
    return f->has_scale = cli_parse_float(v, &f->scale);
}

static bool parse_mean(const char *v, void *pp)
{
    cli_pp_flags *f = pp;
    return (f->n_mean = qc_pp_parse_channel_values(v, f->mean, false)) > 0;
}

static bool parse_std(const char *v, void *pp)
{
    cli_pp_flags *f = pp;
    return (f->n_std = qc_pp_parse_channel_values(v, f->std, true)) > 0;
}

/* how the model's input reads, not how the image is prepared: set for the whole run */
static bool parse_layout(const char *v, void *unused)
{
    (void)unused;
    if (strcmp(v, "nchw") && strcmp(v, "nhwc"))
        return false;
    qc_set_image_layout(!strcmp(v, "nhwc") ? QC_LAYOUT_NHWC : QC_LAYOUT_NCHW);
    return true;
}

const cli_option cli_pp_rows[] = {
    {"--size", .kind = CLI_CUSTOM, .arg = "HxW", .usage = "[--size HxW | --resize S]", .parse = parse_size,
     .expects = "HxW, e.g. 224x224"},
    {"--resize", .kind = CLI_INT, .offset = offsetof(cli_pp_flags, resize_short), .arg = "S", .usage = "", .min = 1,
     .max = 16384, .expects = "the shorter side in pixels, e.g. 256"},
    {"--crop", .kind = CLI_CUSTOM, .arg = "HxW", .parse = parse_crop, .expects = "HxW or N, e.g. 224x224"},
    {"--scale", .kind = CLI_CUSTOM, .arg = "S", .parse = parse_scale, .expects = "a number"},
    {"--mean", .kind = CLI_CUSTOM, .arg = "M[,M,M]", .parse = parse_mean, .expects = "M or M,M,M"},
    {"--std", .kind = CLI_CUSTOM, .arg = "S[,S,S]", .parse = parse_std, .expects = "S or S,S,S, none of them 0"},
    {"--color", .kind = CLI_ENUM, .offset = offsetof(cli_pp_flags, color), .arg = "gray|rgb|bgr",
     .names = (const char *const[]){"gray", "rgb", "bgr", NULL},
     .values = (const int[]){QC_COLOR_GRAY, QC_COLOR_RGB, QC_COLOR_BGR}},
    {"--layout", .kind = CLI_CUSTOM, .arg = "nchw|nhwc", .parse = parse_layout, .expects = "nchw or nhwc"},
    {0},
};

static bool parse_seed(const char *v, void *select)
{
    cli_image_select *s = select;
    char *end;
    errno = 0;
    unsigned long long seed = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || v[0] == '+')
        return false;
    s->seed = seed;
    return s->has_seed = true;
}

const cli_option cli_select_rows[] = {
    {"--limit", .kind = CLI_INT64, .offset = offsetof(cli_image_select, limit), .arg = "N", .min = 1,
     .max = INT64_MAX, .expects = "a positive number"},
    {"--sample", .kind = CLI_INT64, .offset = offsetof(cli_image_select, sample), .arg = "N",
     .usage = "[--sample N [--seed S]]", .min = 1, .max = INT64_MAX, .expects = "a positive number"},
    {"--seed", .kind = CLI_CUSTOM, .arg = "S", .usage = "", .parse = parse_seed, .expects = "a number from 0 to 2^64-1"},
    {"--skip-bad", .kind = CLI_FLAG, .offset = offsetof(cli_image_select, skip_bad)},
    {0},
};

const cli_option cli_batch_rows[] = {
    {"--batch", .kind = CLI_INT64, .offset = offsetof(cli_image_select, batch), .arg = "N", .min = 1, .max = 4096},
    {0},
};

static bool parse_n_std(const char *v, void *n_std)
{
    return qc_range_n_std_parse(v, n_std);
}

static bool parse_percentile(const char *v, void *percentile)
{
    return qc_range_percentile_parse(v, percentile);
}

const cli_option cli_range_rows[] = {
    {"--n", .kind = CLI_CUSTOM, .offset = offsetof(qc_range_params, n_std), .arg = "N", .parse = parse_n_std,
     .expects = "a number >= 0"},
    {"--percentile", .kind = CLI_CUSTOM, .offset = offsetof(qc_range_params, percentile), .arg = "P",
     .parse = parse_percentile, .expects = "a number above 50 and at most 100"},
    {0},
};

static bool parse_granularity(const char *v, void *granularity)
{
    cli_granularity *g = granularity;
    qc_granularity k;
    if (!qc_granularity_parse(v, &k))
        return false;
    g->weights = qc_granularity_weights(k);
    g->activations = qc_granularity_activations(k);
    return true;
}

const cli_option cli_granularity_rows[] = {
    {"--granularity", .kind = CLI_CUSTOM, .arg = "tensor|channel|compensated", .parse = parse_granularity,
     .expects = "tensor, channel or compensated"},
    {"--per-channel", .kind = CLI_ALIAS, .usage = "", .alias_of = "--granularity", .alias_value = "channel"},
    {"--per-tensor", .kind = CLI_ALIAS, .usage = "", .alias_of = "--granularity", .alias_value = "tensor"},
    /* activations compensated, with the weights as they are given */
    {"--input-compensation", .kind = CLI_SET, .offset = offsetof(cli_granularity, activations), .usage = "",
     .set = QC_GRANULARITY_COMPENSATED},
    {0},
};

bool cli_parse_scheme(const char *v, void *scheme)
{
    return qc_scheme_parse(v, scheme);
}

bool cli_parse_method(const char *v, void *method)
{
    int m = qc_range_method_parse(v);
    if (m >= 0)
        *(qc_range_method *)method = (qc_range_method)m;
    return m >= 0;
}

int cli_select_check(const cli_image_select *s, const cli_command *cmd)
{
    if (s->has_seed && !s->sample)
        return cli_usage_error(cmd, "--seed goes with --sample N");
    return QC_OK;
}

int cli_check_stats_file(const cli_command *cmd, const char *stats_file, bool allow_partial,
                         const cli_image_select *s)
{
    if (allow_partial && !stats_file)
        return cli_usage_error(cmd, "--allow-partial goes with --stats FILE");
    int status = cli_select_check(s, cmd);
    if (status == QC_OK && stats_file && (s->sample || s->skip_bad))
        status = cli_usage_error(cmd, "--sample and --skip-bad need IMAGES, not --stats");
    return status;
}

int cli_open_images(qc_image_set *set, const char *root, const char *labels_file,
                    const cli_image_select *s)
{
    qc_error err;
    qc_status st = qc_image_set_open(set, root, labels_file, &err);
    if (st == QC_OK && s && s->sample)
        st = qc_image_set_sample(set, s->sample, s->seed, &err);
    if (cli_status(st, &err) != QC_OK)
        qc_image_set_free(set);
    return st;
}

void cli_report_skip(void *ctx, const char *msg)
{
    cli_skipped *s = ctx;
    s->count++;
    if (!s->quiet)
        cli_warning("skipping: %s", msg);
}

/* ---- a model's other inputs and its scored output: --input NAME=FILE.npy, --output NAME ---- */

#define MAX_BOUND_INPUTS 16
static qc_input_binding bound_inputs[MAX_BOUND_INPUTS]; /* point into argv */
static int n_bound_inputs;
static const char *scored_output;

/* NAME=FILE.npy, each NAME once; the process's list, bound by cli_load_model. */
static bool parse_bound_input(const char *v, void *field)
{
    (void)field;
    return qc_input_binding_add(bound_inputs, &n_bound_inputs, MAX_BOUND_INPUTS, v);
}

static bool parse_scored_output(const char *v, void *field)
{
    (void)field;
    qc_set_scored_output(scored_output = v);
    return true;
}

const cli_option cli_input_rows[] = {
    {"--input", .kind = CLI_CUSTOM, .parse = parse_bound_input, .arg = "NAME=FILE.npy",
     .usage = "[--input NAME=FILE.npy]...",
     .help = "the constant (a NumPy .npy file) fed on every run to model input NAME, one other than the image; "
             "repeatable",
     .expects = "NAME=FILE.npy, each NAME once (at most 16)"},
    {0},
};
const cli_option cli_output_rows[] = {
    {"--output", .kind = CLI_CUSTOM, .parse = parse_scored_output, .arg = "NAME",
     .help = "the model output whose scores are used (default: the first); recorded in JSON"},
    {0},
};

const char *cli_scored_output(const qc_graph *g, const qc_image_input *in)
{
    return scored_output || g->n_outputs > 1 ? g->tensors[g->outputs[in->output]].name : NULL;
}

int cli_load_model(const char *path, bool fuse, qc_graph **g, uint64_t *hash)
{
    qc_error err;
    return cli_status(qc_model_load(path, fuse, bound_inputs, n_bound_inputs, g, hash, &err), &err);
}

/* ---- file safety: what a command reads and writes ------------------------------------------ */

int cli_check_output(const char *out, const char *option, const cli_file *inputs, int n)
{
    qc_error err;
    return cli_status(qc_check_output(out, option, inputs, n, &err), &err);
}

int cli_check_positionals(const cli_command *cmd, const char *synopsis, const char *const *models, int n_models,
                          const char *const *folders, int n_folders)
{
    qc_error err;
    if (qc_check_operands(synopsis, models, n_models, folders, n_folders, &err) != QC_OK)
        return cli_usage_error(cmd, "%s", err.msg);
    return QC_OK;
}

int cli_load_fp32_model(const char *path, const char *command, qc_graph **g, uint64_t *hash)
{
    qc_error err;
    int status = cli_load_model(path, false, g, hash);
    return status == QC_OK ? cli_status(qc_check_not_quantized(*g, path, command, &err), &err) : status;
}

int cli_model_channels(const qc_graph *g)
{
    qc_image_input in;
    return qc_image_input_of(g, g->name, "", false, &in, NULL) == QC_OK ? in.channels : 0;
}

int cli_load_stats(const char *stats_path, const qc_graph *g, uint64_t hash, const char *model_path,
                   const cli_pp_flags *flags, bool allow_partial, bool quiet, qc_model_card *card,
                   qc_preprocess *pp, qc_stats **s)
{
    qc_error err;
    int channels = cli_model_channels(g);
    qc_status st = channels > 0 ? cli_model_setup(model_path, g, channels, flags, quiet, card, pp) : QC_OK;
    if (st != QC_OK)
        return st;
    bool partial;
    st = qc_stats_load_checked(stats_path, g, hash, model_path, channels > 0 ? pp : NULL, allow_partial, &partial, s,
                               &err);
    if (partial && !quiet)
        cli_warning("using '%s', a partial merge of %d of %d shards (%lld of %lld images), as "
                    "--allow-partial says", stats_path, (*s)->n_shards, (*s)->shard_count,
                    (long long)(*s)->images, (long long)(*s)->shard_images);
    return cli_status(st, &err);
}

int cli_model_setup(const char *model_path, const qc_graph *g, int channels, const cli_pp_flags *f,
                    bool quiet, qc_model_card *card, qc_preprocess *pp)
{
    qc_error err;
    char warning[512] = "";
    qc_status st = qc_preprocess_resolve(model_path, g, channels, f, card, pp, warning, sizeof warning, &err);
    if (warning[0] && !quiet)
        cli_warning("%s", warning);
    return cli_status(st, &err);
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_progress_start(cli_progress *p, const char *label, const char *model, int64_t total, bool quiet)
{
    p->on = !quiet && isatty(STDERR_FILENO);
    const char *base = model && strrchr(model, '/') ? strrchr(model, '/') + 1 : model;
    snprintf(p->label, sizeof p->label, "%s%s%s", label, base ? " " : "", base ? base : "");
    p->total = total;
    p->done = 0;
    p->start = cli_now();
    p->last_draw = 0;
}

static void progress_update(cli_progress *p, int64_t done)
{
    p->done = done;
    if (!p->on)
        return;
    double now = cli_now();
    if (now - p->last_draw < 0.1 && done < p->total)
        return;
    p->last_draw = now;
    int width = 30, filled = p->total ? (int)(width * done / p->total) : width;
    double elapsed = now - p->start;
    double eta = done ? elapsed * (double)(p->total - done) / (double)done : 0;
    fprintf(stderr, "\r%s [", p->label);
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %lld/%lld  ETA %.0fs ", (long long)done, (long long)p->total, eta);
    fflush(stderr);
}

void cli_progress_draw(void *ctx, int64_t done, int64_t total)
{
    (void)total;
    progress_update(ctx, done);
}

void cli_progress_end(cli_progress *p)
{
    if (p->on)
        fprintf(stderr, "\r%*s\r", 80, "");
}
