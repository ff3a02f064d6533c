/* modelcard.c — the JSON model card beside a model: preprocessing, classes, reference accuracy. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "image-impl.h"

/* models/NAME.onnx → models/NAME.json (a name without extension gets ".json" appended). */
static char *card_path(const char *model_path)
{
    const char *slash = strrchr(model_path, '/');
    const char *base = slash ? slash + 1 : model_path;
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot > base ? (size_t)(dot - model_path) : strlen(model_path);
    char *path = malloc(stem + 6);
    if (path)
        snprintf(path, stem + 6, "%.*s.json", (int)stem, model_path);
    return path;
}

static bool is_integer(const cJSON *item, double lo, double hi)
{
    return cJSON_IsNumber(item) && item->valuedouble == floor(item->valuedouble) &&
           item->valuedouble >= lo && item->valuedouble <= hi;
}

/* "size" and "crop": [height, width], or one number for a square. */
static bool read_size(const cJSON *item, int *h, int *w)
{
    if (is_integer(item, 1, QC_IMAGE_MAX_SIDE)) {
        *h = *w = (int)item->valuedouble;
        return true;
    }
    if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) != 2)
        return false;
    const cJSON *a = cJSON_GetArrayItem(item, 0), *b = cJSON_GetArrayItem(item, 1);
    if (!is_integer(a, 1, QC_IMAGE_MAX_SIDE) || !is_integer(b, 1, QC_IMAGE_MAX_SIDE))
        return false;
    *h = (int)a->valuedouble;
    *w = (int)b->valuedouble;
    return true;
}

/* "mean" and "std": one number per channel, or one for all. */
static bool read_channels(const cJSON *item, int channels, float out[3])
{
    int n = cJSON_IsArray(item) ? cJSON_GetArraySize(item) : 0;
    if (n != 1 && n != channels)
        return false;
    for (int c = 0; c < channels; c++) {
        const cJSON *v = cJSON_GetArrayItem(item, n == 1 ? 0 : c);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            return false;
        out[c] = (float)v->valuedouble;
    }
    return true;
}

static qc_status bad_key(qc_error *err, const char *path, const char *key, const char *what)
{
    return qc_fail(err, QC_ERR_INPUT, "bad model card '%s': \"%s\" must be %s", path, key, what);
}

static qc_status read_preprocess(const cJSON *pre, const char *path, int channels,
                                 qc_preprocess *pp, qc_error *err)
{
    if (!cJSON_IsObject(pre))
        return bad_key(err, path, "preprocess", "an object");
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(pre, "color");
    if (item) {
        const char *s = cJSON_GetStringValue(item);
        if (!s || (strcmp(s, "gray") && strcmp(s, "rgb") && strcmp(s, "bgr")))
            return bad_key(err, path, "preprocess.color", "\"gray\", \"rgb\" or \"bgr\"");
        pp->color = s[0] == 'g' ? QC_COLOR_GRAY : s[0] == 'r' ? QC_COLOR_RGB : QC_COLOR_BGR;
    }
    int pp_channels = pp->color == QC_COLOR_GRAY ? 1 : 3;
    if (channels > 0 && pp_channels != channels)
        return qc_fail(err, QC_ERR_INPUT,
                       "bad model card '%s': \"preprocess.color\" gives %d channel%s but the "
                       "model takes %d",
                       path, pp_channels, pp_channels == 1 ? "" : "s", channels);
    if ((item = cJSON_GetObjectItemCaseSensitive(pre, "size")) &&
        !read_size(item, &pp->resize_h, &pp->resize_w))
        return bad_key(err, path, "preprocess.size", "[height, width] in 1..16384");
    if ((item = cJSON_GetObjectItemCaseSensitive(pre, "resize"))) {
        if (!is_integer(item, 1, QC_IMAGE_MAX_SIDE))
            return bad_key(err, path, "preprocess.resize", "the shorter side's length in 1..16384");
        if (cJSON_GetObjectItemCaseSensitive(pre, "size"))
            return bad_key(err, path, "preprocess.resize", "absent when \"size\" is given");
        pp->resize_short = (int)item->valuedouble;
        pp->resize_h = pp->resize_w = 0;
    }
    if ((item = cJSON_GetObjectItemCaseSensitive(pre, "crop")) &&
        !read_size(item, &pp->crop_h, &pp->crop_w))
        return bad_key(err, path, "preprocess.crop", "[height, width] in 1..16384");
    if ((item = cJSON_GetObjectItemCaseSensitive(pre, "scale"))) {
        if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
            return bad_key(err, path, "preprocess.scale", "a number");
        pp->scale = (float)item->valuedouble;
    }
    if ((item = cJSON_GetObjectItemCaseSensitive(pre, "mean")) &&
        !read_channels(item, pp_channels, pp->mean))
        return bad_key(err, path, "preprocess.mean", pp_channels == 1 ? "[number]"
                                                      : "an array of 1 or 3 numbers");
    if ((item = cJSON_GetObjectItemCaseSensitive(pre, "std"))) {
        bool ok = read_channels(item, pp_channels, pp->std);
        for (int c = 0; ok && c < pp_channels; c++)
            ok = pp->std[c] != 0.0f;
        if (!ok)
            return bad_key(err, path, "preprocess.std",
                           pp_channels == 1 ? "[number] and not zero"
                                            : "an array of 1 or 3 numbers, none zero");
    }
    /* One value for all channels counts for the unused ones too, so that mean[c] and
     * std[c] are meaningful whatever c the caller reads. */
    for (int c = pp_channels; c < 3; c++) {
        pp->mean[c] = pp->mean[0];
        pp->std[c] = pp->std[0];
    }
    return QC_OK;
}

static qc_status read_card(const cJSON *root, qc_model_card *card, int channels, qc_error *err)
{
    const char *path = card->path;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, "qcal");
    if (!cJSON_IsNumber(item))
        return bad_key(err, path, "qcal", "a number (the card format version, 1)");
    if (item->valuedouble != 1)
        return qc_fail(err, QC_ERR_INPUT,
                       "bad model card '%s': format version %g is not supported (only 1)", path,
                       item->valuedouble);
    if ((item = cJSON_GetObjectItemCaseSensitive(root, "name"))) {
        if (!cJSON_IsString(item))
            return bad_key(err, path, "name", "a string");
        if (!(card->name = strdup(item->valuestring)))
            return qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", path);
    }
    if ((item = cJSON_GetObjectItemCaseSensitive(root, "preprocess"))) {
        qc_status st = read_preprocess(item, path, channels, &card->pp, err);
        if (st != QC_OK)
            return st;
    }
    if ((item = cJSON_GetObjectItemCaseSensitive(root, "classes"))) {
        int n = cJSON_IsArray(item) ? cJSON_GetArraySize(item) : -1;
        for (int i = 0; i < n; i++)
            if (!cJSON_IsString(cJSON_GetArrayItem(item, i)))
                n = -1;
        if (n < 0)
            return bad_key(err, path, "classes", "an array of strings");
        if (n > 0 && !(card->classes = calloc((size_t)n, sizeof *card->classes)))
            return qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", path);
        card->n_classes = n;
        const cJSON *c;
        int i = 0;
        cJSON_ArrayForEach(c, item) {
            if (!(card->classes[i++] = strdup(c->valuestring)))
                return qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", path);
        }
    }
    if ((item = cJSON_GetObjectItemCaseSensitive(root, "fp32_top1"))) {
        const cJSON *correct = cJSON_GetObjectItemCaseSensitive(item, "correct");
        const cJSON *images = cJSON_GetObjectItemCaseSensitive(item, "images");
        /* 2^53: every integer up to it is exact in the double cJSON keeps. */
        if (!cJSON_IsObject(item) || !is_integer(correct, 0, 9007199254740992.0) ||
            !is_integer(images, 1, 9007199254740992.0) ||
            correct->valuedouble > images->valuedouble)
            return bad_key(err, path, "fp32_top1",
                           "{\"correct\": C, \"images\": N} with integers 0 <= C <= N, N > 0");
        card->top1_correct = (int64_t)correct->valuedouble;
        card->top1_images = (int64_t)images->valuedouble;
    }
    return QC_OK;
}

/* The line of a position in text, for messages. */
static int line_of(const char *text, const char *pos)
{
    int line = 1;
    for (const char *p = text; p < pos; p++)
        line += *p == '\n';
    return line;
}

static void card_clear(qc_model_card *card, int channels)
{
    memset(card, 0, sizeof *card);
    qc_preprocess_default(&card->pp, channels);
    card->top1_correct = card->top1_images = -1;
}

/* The card in text (NUL-terminated, size excluding the NUL), card->path already set. */
static qc_status card_parse(const char *text, size_t size, int channels, qc_model_card *card,
                            char *warning, size_t warning_size, qc_error *err)
{
    cJSON *root = NULL;
    qc_status st = QC_OK;
    /* size + 1 takes in the terminating NUL, which is how cJSON checks that nothing
     * follows the value. */
    const char *parse_end = NULL;
    root = cJSON_ParseWithLengthOpts(text, size + 1, &parse_end, true);
    if (!root) {
        st = qc_fail(err, QC_ERR_INPUT, "bad model card '%s': not valid JSON (line %d)",
                     card->path, line_of(text, parse_end ? parse_end : text));
        goto end;
    }
    if (!cJSON_GetObjectItemCaseSensitive(root, "qcal")) {
        /* Some other JSON file that happens to share the model's name. */
        if (warning && warning_size > 0)
            snprintf(warning, warning_size,
                     "ignoring '%s': not a qcal model card (no \"qcal\" key)", card->path);
        goto end;
    }
    if ((st = read_card(root, card, channels, err)) != QC_OK)
        goto end;
    card->found = true;
end:
    cJSON_Delete(root);
    return st;
}

qc_status qc_model_card_load(const char *model_path, int channels, qc_model_card *card,
                             char *warning, size_t warning_size, qc_error *err)
{
    card_clear(card, channels);
    if (warning && warning_size > 0)
        warning[0] = '\0';
    if (!(card->path = card_path(model_path)))
        return qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", model_path);
    char *text = NULL;
    size_t size;
    struct stat file_stat;
    if (stat(card->path, &file_stat) != 0 && errno == ENOENT)
        return QC_OK; /* no card: the defaults */
    qc_status st = qc_read_file(card->path, &text, &size, err);
    if (st == QC_OK)
        st = card_parse(text, size, channels, card, warning, warning_size, err);
    free(text);
    if (st != QC_OK)
        qc_model_card_free(card);
    return st;
}

qc_status qc_model_card_parse(const char *text, const char *name, int channels,
                              qc_model_card *card, qc_error *err)
{
    card_clear(card, channels);
    if (!(card->path = strdup(name)))
        return qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", name);
    char warning[512] = "";
    qc_status st = card_parse(text, strlen(text), channels, card, warning, sizeof warning, err);
    if (st == QC_OK && !card->found)
        st = qc_fail(err, QC_ERR_INPUT, "bad model card '%s': no \"qcal\" key", name);
    if (st != QC_OK)
        qc_model_card_free(card);
    return st;
}

char *qc_model_card_path(const char *model_path)
{
    return card_path(model_path);
}

/* ---- the canonical text of a card --------------------------------------------------------- */

const char *qc_float_text(float v, char *buf, size_t size)
{
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, size, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v)
            break;
    }
    return buf;
}


void qc_json_put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c < 0x20)
            fprintf(f, "\\u%04x", *c);
        else
            fputc(*c, f);
    }
    fputc('"', f);
}

qc_status qc_model_card_json(const qc_model_card *card, const qc_preprocess *pp, char **out,
                             qc_error *err)
{
    *out = NULL;
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    int channels = pp->color == QC_COLOR_GRAY ? 1 : 3;
    fputs("{\"qcal\": 1", f);
    if (card && card->found && card->name) {
        fputs(", \"name\": ", f);
        qc_json_put_string(f, card->name);
    }
    fprintf(f, ", \"preprocess\": {\"color\": \"%s\"",
            pp->color == QC_COLOR_GRAY ? "gray" : pp->color == QC_COLOR_BGR ? "bgr" : "rgb");
    if (pp->resize_h > 0 && pp->resize_w > 0)
        fprintf(f, ", \"size\": [%d, %d]", pp->resize_h, pp->resize_w);
    if (pp->resize_short > 0)
        fprintf(f, ", \"resize\": %d", pp->resize_short);
    if (pp->crop_h > 0 && pp->crop_w > 0)
        fprintf(f, ", \"crop\": [%d, %d]", pp->crop_h, pp->crop_w);
    /* each float in the fewest digits that read back exactly, so the card read again is the
     * same preprocessing */
    char num[32];
    fprintf(f, ", \"scale\": %s", qc_float_text(pp->scale, num, sizeof num));
    for (int k = 0; k < 2; k++) {
        fputs(k ? ", \"std\": [" : ", \"mean\": [", f);
        for (int c = 0; c < channels; c++)
            fprintf(f, "%s%s", c ? ", " : "", qc_float_text(k ? pp->std[c] : pp->mean[c], num, sizeof num));
        fputc(']', f);
    }
    fputc('}', f);
    if (card && card->found && card->n_classes > 0) {
        fputs(", \"classes\": [", f);
        for (int i = 0; i < card->n_classes; i++) {
            if (i)
                fputs(", ", f);
            qc_json_put_string(f, card->classes[i]);
        }
        fputc(']', f);
    }
    if (card && card->found && card->top1_images > 0)
        fprintf(f, ", \"fp32_top1\": {\"correct\": %lld, \"images\": %lld}",
                (long long)card->top1_correct, (long long)card->top1_images);
    fputc('}', f);
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0 || failed) {
        free(text);
        return qc_fail(err, QC_ERR_IO, "out of memory");
    }
    *out = text;
    return QC_OK;
}

void qc_model_card_free(qc_model_card *card)
{
    free(card->path);
    free(card->name);
    for (int i = 0; i < card->n_classes; i++)
        free(card->classes[i]);
    free(card->classes);
    card->path = card->name = NULL;
    card->classes = NULL;
    card->n_classes = 0;
    card->found = false;
}

/* Is the file at path a JSON object with the "qcal" key? */
static bool is_model_card(const char *path)
{
    char *text = NULL;
    size_t size = 0;
    qc_error ignored;
    if (qc_read_file(path, &text, &size, &ignored) != QC_OK)
        return false;
    cJSON *root = cJSON_ParseWithLength(text, size);
    bool card = cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "qcal");
    cJSON_Delete(root);
    free(text);
    return card;
}

qc_status qc_model_card_copy(const char *model_path, const char *out_model_path, const char *text,
                             qc_card_copy *result, char *target, size_t target_size,
                             qc_error *err)
{
    *result = QC_CARD_NONE;
    char *from = card_path(model_path), *to = card_path(out_model_path), *data = NULL;
    size_t size = 0;
    qc_file out = {0};
    qc_status status = QC_OK;
    struct stat st;
    if (!from || !to) {
        status = qc_fail(err, QC_ERR_IO, "out of memory");
        goto end;
    }
    snprintf(target, target_size, "%s", to);
    if (stat(from, &st) != 0 || !S_ISREG(st.st_mode) || !strcmp(from, to))
        goto end;
    struct stat to_st;
    if (stat(to, &to_st) == 0 && to_st.st_dev == st.st_dev && to_st.st_ino == st.st_ino)
        goto end; /* the same file by another path: it is already the card */
    if (stat(to, &st) == 0 && !is_model_card(to)) {
        *result = QC_CARD_KEPT_OTHER;
        goto end;
    }
    if (text) {
        if (!(data = malloc(strlen(text) + 2))) {
            status = qc_fail(err, QC_ERR_IO, "out of memory");
            goto end;
        }
        size = (size_t)sprintf(data, "%s\n", text);
    } else if ((status = qc_read_file(from, &data, &size, err)) != QC_OK) {
        goto end;
    }
    if ((status = qc_file_begin(&out, to, err)) != QC_OK)
        goto end;
    if (fwrite(data, 1, size, out.f) != size) {
        qc_file_abort(&out);
        status = qc_fail(err, QC_ERR_IO, "cannot write '%s': %s", to, strerror(errno));
        goto end;
    }
    if ((status = qc_file_commit(&out, err)) == QC_OK)
        *result = QC_CARD_COPIED;
end:
    free(data);
    free(from);
    free(to);
    return status;
}

qc_status qc_model_card_of(const char *model_path, const qc_graph *g, int channels, bool flags_given,
                           qc_model_card *card, char *warning, size_t warning_size, qc_error *err)
{
    qc_status st = qc_model_card_load(model_path, channels, card, warning, warning_size, err);
    if (st != QC_OK)
        return st;
    /* The card beside the model wins; a quantized file carries its own inside. */
    const char *embedded = !card->found && g ? qc_graph_meta(g, "qcal.model_card") : NULL;
    if (embedded) {
        char name[4096];
        snprintf(name, sizeof name, "%s (qcal.model_card)", model_path);
        qc_model_card_free(card);
        return qc_model_card_parse(embedded, name, channels, card, err);
    }
    if (!card->found && g && !flags_given && qc_graph_is_quantized(g)) {
        char *beside = qc_model_card_path(model_path);
        st = qc_fail(err, QC_ERR_INPUT,
                     "the preprocessing of '%s' is unknown: it is a quantized model with no model card "
                     "beside it ('%s') and none inside it (metadata qcal.model_card); give the flags "
                     "(--size or --resize, --crop, --scale, --mean, --std, --color) or copy the FP32 model's card to '%s'",
                     model_path, beside ? beside : "?", beside ? beside : "?");
        free(beside);
    }
    return st;
}

bool qc_pp_overrides_given(const qc_pp_overrides *f)
{
    return f->has_size || f->resize_short || f->has_crop || f->has_scale || f->n_mean || f->n_std || f->color;
}

bool qc_pp_parse_hw(const char *text, int *h, int *w)
{
    char *end;
    long a = strtol(text, &end, 10), b = a;
    if (end == text || (*end && *end != 'x' && *end != 'X'))
        return false;
    const char *rest = end + 1; /* "N" alone is N x N */
    if (*end)
        b = strtol(rest, &end, 10);
    else
        rest = text;
    if (end == rest || *end || a < 1 || b < 1 || a > 16384 || b > 16384)
        return false;
    *h = (int)a;
    *w = (int)b;
    return true;
}

int qc_pp_parse_channel_values(const char *text, float out[3], bool nonzero)
{
    int n = 0;
    for (const char *p = text;; p++) { /* each value ends at a comma or at the end */
        char *end;
        errno = 0;
        float v = strtof(p, &end);
        if (n == 3 || errno || end == p || (*end && *end != ',') || !isfinite(v) || (nonzero && v == 0) ||
            isspace((unsigned char)*p))
            return -1;
        out[n++] = v;
        if (!*end)
            break;
        p = end;
    }
    return n == 1 || n == 3 ? n : -1;
}

/* f laid over pp; QC_ERR_USAGE when the result does not fit the model's channels. */
static qc_status apply_overrides(const qc_pp_overrides *f, qc_preprocess *pp, int channels, qc_error *err)
{
    if (f->has_size && f->resize_short)
        return qc_fail(err, QC_ERR_USAGE, "--resize S and --size HxW both say how to resize: give one");
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
    if (f->color)
        pp->color = f->color;
    for (int c = 0; c < 3; c++) {
        if (f->n_mean)
            pp->mean[c] = f->mean[f->n_mean == 1 ? 0 : c];
        if (f->n_std)
            pp->std[c] = f->std[f->n_std == 1 ? 0 : c];
    }
    int color_channels = pp->color == QC_COLOR_GRAY ? 1 : 3;
    if (color_channels != channels)
        return qc_fail(err, QC_ERR_USAGE, "the model takes %d channel%s but the colour is %s (use --color)", channels,
                       channels == 1 ? "" : "s", pp->color == QC_COLOR_GRAY ? "gray" : "rgb/bgr");
    return QC_OK;
}

qc_status qc_preprocess_resolve(const char *model_path, const qc_graph *g, int channels, const qc_pp_overrides *f,
                                qc_model_card *card, qc_preprocess *pp, char *warning, size_t warning_size,
                                qc_error *err)
{
    qc_status st = qc_model_card_of(model_path, g, channels, qc_pp_overrides_given(f), card, warning, warning_size,
                                    err);
    if (st != QC_OK)
        return st;
    if (card->found)
        *pp = card->pp;
    else
        qc_preprocess_default(pp, channels);
    return apply_overrides(f, pp, channels, err);
}
