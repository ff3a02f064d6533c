/* common.c — what every subcommand shares: messages, option values, preprocessing flags,
 * the progress bar and JSON strings. */
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

void cli_warning(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fprintf(stderr, "%s", usage);
    return QC_ERR_USAGE;
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

const char *cli_option_value(const char *name, int argc, char **argv, int *i, bool *bad,
                             const char *usage)
{
    const char *arg = argv[*i];
    size_t len = strlen(name);
    if (strncmp(arg, name, len))
        return NULL;
    if (arg[len] == '=')
        return arg + len + 1;
    if (arg[len])
        return NULL;
    if (*i + 1 >= argc) {
        cli_usage_error(usage, "option '%s' needs a value", name);
        *bad = true;
        return NULL;
    }
    return argv[++*i];
}

int cli_common_option(cli_common *c, int argc, char **argv, int *i, const char *usage)
{
    const char *arg = argv[*i];
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
        c->help = true;
        return 1;
    }
    if (!strcmp(arg, "--json")) {
        c->json = true;
        return 1;
    }
    if (!strcmp(arg, "--quiet") || !strcmp(arg, "-q")) {
        c->quiet = true;
        return 1;
    }
    bool bad = false;
    const char *v = cli_option_value("--threads", argc, argv, i, &bad, usage);
    if (bad)
        return -1;
    if (v) {
        int64_t n;
        if (!cli_parse_int(v, 1, 256, &n)) {
            cli_usage_error(usage, "--threads takes a number from 1 to 256, not '%s'", v);
            return -1;
        }
        c->threads = (int)n;
        return 1;
    }
    v = cli_option_value("--max-memory", argc, argv, i, &bad, usage);
    if (bad)
        return -1;
    if (v) {
        int64_t mib;
        if (!cli_parse_int(v, 16, (int64_t)1 << 30, &mib)) {
            cli_usage_error(usage, "--max-memory takes MiB from 16 to 2^30, not '%s'", v);
            return -1;
        }
        qc_set_memory_limit((size_t)mib << 20);
        return 1;
    }
    return 0;
}

static bool parse_hw(const char *s, int *h, int *w)
{
    char *end;
    long a = strtol(s, &end, 10), b = a;
    if (end == s || (*end && *end != 'x' && *end != 'X'))
        return false;
    const char *rest = end + 1; /* "N" alone is N x N */
    if (*end)
        b = strtol(rest, &end, 10);
    else
        rest = s;
    if (end == rest || *end || a < 1 || b < 1 || a > 16384 || b > 16384)
        return false;
    *h = (int)a;
    *w = (int)b;
    return true;
}

static int parse_list(const char *s, float *out)
{
    int n = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (n == 3 || !cli_parse_float(tok, &out[n]))
            return -1;
        n++;
    }
    return n == 1 || n == 3 ? n : -1;
}

int cli_images_option(int64_t *limit, int64_t *batch, int argc, char **argv, int *i,
                      const char *usage)
{
    bool bad = false;
    const char *v;
    if ((v = cli_option_value("--limit", argc, argv, i, &bad, usage))) {
        if (!cli_parse_int(v, 1, INT64_MAX, limit))
            return cli_usage_error(usage, "--limit takes a positive number, not '%s'", v), -1;
    } else if (batch && (v = cli_option_value("--batch", argc, argv, i, &bad, usage))) {
        if (!cli_parse_int(v, 1, 4096, batch))
            return cli_usage_error(usage, "--batch takes a number from 1 to 4096, not '%s'", v), -1;
    }
    if (bad)
        return -1;
    return v ? 1 : 0;
}

int cli_granularity_option(qc_granularity *weights, qc_granularity *activations, int argc, char **argv,
                           int *i, const char *usage)
{
    bool bad = false;
    const char *v = cli_option_value("--granularity", argc, argv, i, &bad, usage);
    qc_granularity g;
    if (bad)
        return -1;
    if (v && !qc_granularity_parse(v, &g))
        return cli_usage_error(usage, "--granularity takes tensor, channel or compensated, not '%s'", v), -1;
    if (!v && !strcmp(argv[*i], "--per-channel"))
        g = QC_GRANULARITY_CHANNEL;
    else if (!v && !strcmp(argv[*i], "--per-tensor"))
        g = QC_GRANULARITY_TENSOR;
    else if (!v && !strcmp(argv[*i], "--input-compensation")) {
        *activations = QC_GRANULARITY_COMPENSATED; /* with the weights as they are given */
        return 1;
    } else if (!v)
        return 0;
    *weights = g == QC_GRANULARITY_TENSOR ? QC_GRANULARITY_TENSOR : QC_GRANULARITY_CHANNEL;
    *activations = g == QC_GRANULARITY_COMPENSATED ? QC_GRANULARITY_COMPENSATED : QC_GRANULARITY_TENSOR;
    return 1;
}

int cli_select_option(cli_image_select *s, int argc, char **argv, int *i, const char *usage)
{
    bool bad = false;
    const char *v;
    if (!strcmp(argv[*i], "--skip-bad")) {
        s->skip_bad = true;
        return 1;
    }
    if ((v = cli_option_value("--sample", argc, argv, i, &bad, usage))) {
        if (!cli_parse_int(v, 1, INT64_MAX, &s->sample))
            return cli_usage_error(usage, "--sample takes a positive number, not '%s'", v), -1;
    } else if (!bad && (v = cli_option_value("--seed", argc, argv, i, &bad, usage))) {
        char *end;
        errno = 0;
        unsigned long long seed = strtoull(v, &end, 10);
        if (errno || end == v || *end || v[0] == '-' || v[0] == '+')
            return cli_usage_error(usage, "--seed takes a number from 0 to 2^64-1, not '%s'", v), -1;
        s->seed = seed;
        s->has_seed = true;
    }
    if (bad)
        return -1;
    return v ? 1 : 0;
}

int cli_select_check(const cli_image_select *s, const char *usage)
{
    if (s->has_seed && !s->sample)
        return cli_usage_error(usage, "--seed goes with --sample N");
    return QC_OK;
}

int cli_open_images(qc_image_set *set, const char *root, const char *labels_file,
                    const cli_image_select *s)
{
    qc_error err;
    qc_status st = qc_image_set_open(set, root, labels_file, &err);
    if (st == QC_OK && s && s->sample)
        st = qc_image_set_sample(set, s->sample, s->seed, &err);
    if (st != QC_OK) {
        cli_error("%s", err.msg);
        qc_image_set_free(set);
    }
    return st;
}

void cli_report_skip(void *ctx, const char *msg)
{
    cli_skipped *s = ctx;
    s->count++;
    if (!s->quiet)
        cli_warning("skipping: %s", msg);
}

int cli_range_option(qc_range_params *p, int argc, char **argv, int *i, const char *usage)
{
    bool bad = false;
    const char *v;
    if ((v = cli_option_value("--n", argc, argv, i, &bad, usage))) {
        float f;
        if (!cli_parse_float(v, &f) || f < 0)
            return cli_usage_error(usage, "--n takes a number >= 0, not '%s'", v), -1;
        p->n_std = f;
    } else if ((v = cli_option_value("--percentile", argc, argv, i, &bad, usage))) {
        char *end;
        double pc = strtod(v, &end);
        if (end == v || *end || !(pc > 50 && pc <= 100))
            return cli_usage_error(usage, "--percentile takes a number above 50 and at most 100, not '%s'", v), -1;
        p->percentile = pc;
    }
    if (bad)
        return -1;
    return v ? 1 : 0;
}

int cli_pp_option(cli_pp_flags *f, int argc, char **argv, int *i, const char *usage)
{
    bool bad = false;
    const char *v;
    if ((v = cli_option_value("--size", argc, argv, i, &bad, usage))) {
        if (!parse_hw(v, &f->size_h, &f->size_w))
            return cli_usage_error(usage, "--size takes HxW, e.g. 224x224, not '%s'", v), -1;
        f->has_size = true;
    } else if ((v = cli_option_value("--resize", argc, argv, i, &bad, usage))) {
        int64_t s;
        if (!cli_parse_int(v, 1, 16384, &s))
            return cli_usage_error(usage, "--resize takes the shorter side in pixels, e.g. 256, not '%s'", v), -1;
        f->resize_short = (int)s;
    } else if ((v = cli_option_value("--crop", argc, argv, i, &bad, usage))) {
        if (!parse_hw(v, &f->crop_h, &f->crop_w))
            return cli_usage_error(usage, "--crop takes HxW, e.g. 224x224, not '%s'", v), -1;
        f->has_crop = true;
    } else if ((v = cli_option_value("--scale", argc, argv, i, &bad, usage))) {
        if (!cli_parse_float(v, &f->scale))
            return cli_usage_error(usage, "--scale takes a number, not '%s'", v), -1;
        f->has_scale = true;
    } else if ((v = cli_option_value("--mean", argc, argv, i, &bad, usage))) {
        if ((f->n_mean = parse_list(v, f->mean)) < 0)
            return cli_usage_error(usage, "--mean takes M or M,M,M, not '%s'", v), -1;
        f->has_mean = true;
    } else if ((v = cli_option_value("--std", argc, argv, i, &bad, usage))) {
        if ((f->n_std = parse_list(v, f->std)) < 0)
            return cli_usage_error(usage, "--std takes S or S,S,S, not '%s'", v), -1;
        for (int k = 0; k < f->n_std; k++)
            if (f->std[k] == 0)
                return cli_usage_error(usage, "--std must not be 0"), -1;
        f->has_std = true;
    } else if ((v = cli_option_value("--layout", argc, argv, i, &bad, usage))) {
        /* how the model's input reads, not how the image is prepared: set for the whole run */
        if (strcmp(v, "nchw") && strcmp(v, "nhwc"))
            return cli_usage_error(usage, "--layout takes nchw or nhwc, not '%s'", v), -1;
        qc_set_image_layout(!strcmp(v, "nhwc") ? QC_LAYOUT_NHWC : QC_LAYOUT_NCHW);
    } else if (!bad && (v = cli_option_value("--color", argc, argv, i, &bad, usage))) {
        if (!strcmp(v, "gray"))
            f->color = QC_COLOR_GRAY;
        else if (!strcmp(v, "rgb"))
            f->color = QC_COLOR_RGB;
        else if (!strcmp(v, "bgr"))
            f->color = QC_COLOR_BGR;
        else
            return cli_usage_error(usage, "--color takes gray, rgb or bgr, not '%s'", v), -1;
        f->has_color = true;
    }
    if (bad)
        return -1;
    if (v && f->has_size && f->resize_short)
        return cli_usage_error(usage, "--resize S and --size HxW both say how to resize: give one"), -1;
    return v ? 1 : 0;
}

int cli_load_model(const char *path, bool fuse, qc_graph **g, uint64_t *hash)
{
    qc_error err;
    qc_status st = qc_onnx_load(path, g, &err);
    if (st == QC_OK)
        st = qc_pass_fold_batchnorm(*g, &err);
    if (st == QC_OK && fuse)
        st = qc_pass_fuse_qdq(*g, &err);
    if (st == QC_OK && hash)
        st = qc_stats_hash_file(path, hash, &err);
    if (st != QC_OK)
        cli_error("%s", err.msg);
    return st;
}

/* ---- file safety: what a command reads and writes ------------------------------------------ */

/* path made absolute without following its last component: realpath of the folder, then the
 * name; a copy of path when the folder does not resolve. malloc'ed. */
static char *resolve_path(const char *path)
{
    char *r = realpath(path, NULL);
    if (r)
        return r;
    char *a = strdup(path), *b = strdup(path);
    char *dir = a ? realpath(dirname(a), NULL) : NULL;
    const char *base = b ? basename(b) : NULL;
    size_t size = dir && base ? strlen(dir) + strlen(base) + 2 : 0;
    r = size ? malloc(size) : NULL;
    if (r)
        snprintf(r, size, "%s/%s", dir, base);
    else
        r = strdup(path);
    free(dir);
    free(a);
    free(b);
    return r;
}

bool cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char *ra = resolve_path(a), *rb = resolve_path(b);
    bool same = ra && rb ? !strcmp(ra, rb) : !strcmp(a, b);
    free(ra);
    free(rb);
    return same;
}

int cli_check_output(const char *out, const char *option, const cli_file *inputs, int n)
{
    for (int i = 0; i < n; i++) {
        const cli_file *in = &inputs[i];
        if (!in->path)
            continue;
        if (cli_same_file(out, in->path)) {
            cli_error("cannot write '%s': it is the %s '%s', which the command reads (%s must name "
                      "another file)", out, in->what, in->path, option);
            return QC_ERR_USAGE;
        }
        if (strcmp(in->what, "model"))
            continue;
        char *card = qc_model_card_path(in->path);
        struct stat st;
        bool hit = card && stat(card, &st) == 0 && cli_same_file(out, card);
        if (hit)
            cli_error("cannot write '%s': it is the model card of '%s' (%s must name another file)",
                      out, in->path, option);
        free(card);
        if (hit)
            return QC_ERR_USAGE;
    }
    return QC_OK;
}

int cli_check_output_paths(const char *out, const char *option, const char *const *paths, int n)
{
    for (int i = 0; i < n; i++) {
        size_t len = strlen(paths[i]);
        bool model = len > 5 && !strcmp(paths[i] + len - 5, ".onnx");
        cli_file in = {paths[i], model ? "model" : "input"};
        int st = cli_check_output(out, option, &in, 1);
        if (st != QC_OK)
            return st;
    }
    return QC_OK;
}

const char *cli_graph_meta(const qc_graph *g, const char *key)
{
    for (int i = 0; i < g->n_meta; i++)
        if (!strcmp(g->meta_keys[i], key))
            return g->meta_values[i];
    return NULL;
}

bool cli_model_is_quantized(const qc_graph *g)
{
    if (cli_graph_meta(g, "qcal.format"))
        return true;
    for (int i = 0; i < g->n_nodes; i++) {
        const char *op = g->nodes[i].op_type;
        size_t n = strlen(op);
        if (strstr(op, "QuantizeLinear") || !strcmp(op, "DequantizeLinear") || !strncmp(op, "QLinear", 7) ||
            !strcmp(op, "QGemm") ||
            (n > 7 && !strcmp(op + n - 7, "Integer")))
            return true;
    }
    return false;
}

int cli_model_channels(const qc_graph *g)
{
    if (g->n_inputs != 1)
        return 0;
    const qc_tensor *t = &g->tensors[g->inputs[0]];
    if (t->value.dtype != QC_FLOAT || t->value.rank != 4 || (t->symbolic & 0xe))
        return 0;
    int64_t c = t->value.dims[qc_is_channels_last(t->value.dims) ? 3 : 1];
    return c >= 1 && c <= INT32_MAX ? (int)c : 0;
}

bool cli_pp_given(const cli_pp_flags *f)
{
    return f->has_size || f->resize_short || f->has_crop || f->has_scale || f->has_mean || f->has_std || f->has_color;
}

bool cli_source_hash(const qc_graph *q, uint64_t *hash)
{
    const char *v = cli_graph_meta(q, "qcal.source_model_hash");
    char *end;
    if (!v || strlen(v) != 16)
        return false;
    errno = 0;
    *hash = strtoull(v, &end, 16);
    return !errno && !*end;
}

int cli_check_source(const qc_graph *q, const char *q_path, uint64_t fp32_hash, const char *fp32_path)
{
    uint64_t h;
    if (!cli_source_hash(q, &h) || h == fp32_hash)
        return QC_OK;
    cli_error("'%s' was quantized from another model than '%s': it records the source hash %016llx "
              "(qcal.source_model_hash), '%s' has %016llx",
              q_path, fp32_path, (unsigned long long)h, fp32_path, (unsigned long long)fp32_hash);
    return QC_ERR_INPUT;
}

int cli_load_stats(const char *stats_path, const qc_graph *g, uint64_t hash, const char *model_path,
                   const qc_preprocess *pp, bool allow_partial, bool quiet, qc_stats **s)
{
    qc_error err;
    qc_status st = qc_stats_load(stats_path, s, &err);
    if (st == QC_OK)
        st = qc_stats_check_model(*s, g, hash, stats_path, model_path, &err);
    if (st == QC_OK && pp)
        st = qc_stats_check_preprocess(*s, pp, stats_path, model_path, &err);
    if (st == QC_OK && (st = qc_stats_check_complete(*s, stats_path, &err)) != QC_OK && allow_partial) {
        if (!quiet)
            cli_warning("using '%s', a partial merge of %d of %d shards (%lld of %lld images), as "
                        "--allow-partial says", stats_path, (*s)->n_shards, (*s)->shard_count,
                        (long long)(*s)->images, (long long)(*s)->shard_images);
        st = QC_OK;
    }
    if (st != QC_OK) {
        cli_error("%s", err.msg);
        qc_stats_destroy(*s);
        *s = NULL;
    }
    return st;
}

int cli_model_setup(const char *model_path, const qc_graph *g, int channels, const cli_pp_flags *f,
                    bool quiet, qc_model_card *card, qc_preprocess *pp)
{
    qc_error err;
    char warning[512] = "";
    int status = qc_model_card_load(model_path, channels, card, warning, sizeof warning, &err);
    if (status != QC_OK) {
        cli_error("%s", err.msg);
        return status;
    }
    if (warning[0] && !quiet)
        cli_warning("%s", warning);
    /* The card beside the model wins; a quantized file carries its own inside. */
    const char *embedded = !card->found && g ? cli_graph_meta(g, "qcal.model_card") : NULL;
    if (embedded) {
        char name[4096];
        snprintf(name, sizeof name, "%s (qcal.model_card)", model_path);
        qc_model_card_free(card);
        if ((status = qc_model_card_parse(embedded, name, channels, card, &err)) != QC_OK) {
            cli_error("%s", err.msg);
            return status;
        }
    } else if (!card->found && g && !cli_pp_given(f) && cli_model_is_quantized(g)) {
        char *beside = qc_model_card_path(model_path);
        cli_error("the preprocessing of '%s' is unknown: it is a quantized model with no model card "
                  "beside it ('%s') and none inside it (metadata qcal.model_card); give the flags "
                  "(--size or --resize, --crop, --scale, --mean, --std, --color) or copy the FP32 model's card to '%s'",
                  model_path, beside ? beside : "?", beside ? beside : "?");
        free(beside);
        return QC_ERR_INPUT;
    }
    if (card->found)
        *pp = card->pp;
    else
        qc_preprocess_default(pp, channels);
    return cli_pp_apply(f, pp, channels) ? QC_OK : QC_ERR_USAGE;
}

bool cli_pp_apply(const cli_pp_flags *f, qc_preprocess *pp, int channels)
{
    if (f->has_size || f->resize_short) {
        pp->resize_h = f->has_size ? f->size_h : 0;
        pp->resize_w = f->has_size ? f->size_w : 0;
        pp->resize_short = f->resize_short;
    }
    if (f->has_crop) {
        pp->crop_h = f->crop_h;
        pp->crop_w = f->crop_w;
    }
    if (f->has_scale)
        pp->scale = f->scale;
    if (f->has_color)
        pp->color = f->color;
    for (int c = 0; c < 3; c++) {
        if (f->has_mean)
            pp->mean[c] = f->mean[f->n_mean == 1 ? 0 : c];
        if (f->has_std)
            pp->std[c] = f->std[f->n_std == 1 ? 0 : c];
    }
    int color_channels = pp->color == QC_COLOR_GRAY ? 1 : 3;
    if (color_channels != channels) {
        cli_error("the model takes %d channel%s but the colour is %s (use --color)", channels,
                  channels == 1 ? "" : "s", pp->color == QC_COLOR_GRAY ? "gray" : "rgb/bgr");
        return false;
    }
    return true;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_progress_start(cli_progress *p, const char *label, int64_t total, bool quiet)
{
    p->on = !quiet && isatty(STDERR_FILENO);
    p->label = label;
    p->total = total;
    p->done = 0;
    p->start = cli_now();
    p->last_draw = 0;
}

void cli_progress_update(cli_progress *p, int64_t done)
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
    cli_progress_update(ctx, done);
}

void cli_progress_end(cli_progress *p)
{
    if (p->on)
        fprintf(stderr, "\r%*s\r", 80, "");
}

void cli_json_string(FILE *f, const char *s)
{
    qc_json_put_string(f, s);
}
