/* file.c — the statistics file (JSON, "format": "qcal-stats", "version": 1; described in
 * docs/statistics.md): written with a fixed key order and fixed number formats so that the
 * same statistics always give the same bytes, read back with cJSON. */
#include <cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats-impl.h"

/* ---- writing ------------------------------------------------------------------------------ */

const char *qc_role_name(qc_role r)
{
    return r == QC_ROLE_INPUT ? "input" : r == QC_ROLE_WEIGHT ? "weight" : "activation";
}

static const char *color_name(qc_color c)
{
    return c == QC_COLOR_GRAY ? "gray" : c == QC_COLOR_BGR ? "bgr" : "rgb";
}

/* %.9g round-trips every float; the extremes of an empty tensor are null. */
static void put_float(FILE *f, float v)
{
    if (isfinite(v))
        fprintf(f, "%.9g", (double)v);
    else
        fputs("null", f);
}

static void put_double(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}

static void put_fix(FILE *f, const qc_fix *x)
{
    char buf[QC_FIX_STR + 2];
    buf[0] = '"';
    size_t n = strlen(qc_fix_str(x, buf + 1)) + 1;
    buf[n++] = '"';
    fwrite(buf, 1, n, f);
}

/* ", " (unless first) and v in decimal, as PRId64 writes it: the histograms' thousands of
 * counts without a format string each. */
static void put_count(FILE *f, int64_t v, bool first)
{
    char buf[24], *p = buf + sizeof buf;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    if (!first) {
        *--p = ' ';
        *--p = ',';
    }
    fwrite(p, 1, (size_t)(buf + sizeof buf - p), f);
}

/* One per-channel field as an array: kind 0 min, 1 max, 2.. the sums. */
static void put_channel_array(FILE *f, const char *key, const qc_tensor_stats *t, int kind)
{
    fprintf(f, "%s\n      \"%s\": [", kind ? "," : "", key);
    for (int c = 0; c < t->channels; c++) {
        const qc_moments *m = &t->ch[c];
        if (c)
            fputs(", ", f);
        switch (kind) {
        case 0: put_float(f, m->min); break;
        case 1: put_float(f, m->max); break;
        case 2: put_fix(f, &m->sum); break;
        case 3: put_fix(f, &m->sumsq); break;
        case 4: put_fix(f, &m->smin); break;
        case 5: put_fix(f, &m->smin2); break;
        case 6: put_fix(f, &m->smax); break;
        default: put_fix(f, &m->smax2); break;
        }
    }
    fputc(']', f);
}

static void put_tensor(FILE *f, const qc_tensor_stats *t)
{
    fputs("    {\"name\": ", f);
    qc_json_put_string(f, t->name);
    fprintf(f, ", \"role\": \"%s\", \"shape\": [", qc_role_name(t->role));
    for (int d = 0; d < t->rank; d++)
        fprintf(f, "%s%" PRId64, d ? ", " : "", t->dims[d]);
    fprintf(f, "], \"axis\": %d, \"channels\": %d,\n", t->axis, t->channels);
    fprintf(f, "     \"samples\": %" PRId64 ", \"count\": %" PRId64 ", \"min\": ", t->samples,
            t->samples * t->numel);
    put_float(f, t->t.min);
    fputs(", \"max\": ", f);
    put_float(f, t->t.max);
    double mean, std;
    bool any = qc_stats_mean_std(t, -1, &mean, &std);
    fputs(", \"mean\": ", f);
    put_double(f, any ? mean : NAN);
    fputs(", \"std\": ", f);
    put_double(f, any ? std : NAN);
    fputs(",\n     \"sum\": ", f);
    put_fix(f, &t->t.sum);
    fputs(", \"sumsq\": ", f);
    put_fix(f, &t->t.sumsq);
    fputs(",\n     \"sample_min\": [", f);
    put_fix(f, &t->t.smin);
    fputs(", ", f);
    put_fix(f, &t->t.smin2);
    fputs("], \"sample_max\": [", f);
    put_fix(f, &t->t.smax);
    fputs(", ", f);
    put_fix(f, &t->t.smax2);
    fputc(']', f);
    if (t->hist.counts) {
        const qc_hist *h = &t->hist;
        int first = 0, last = -1;
        for (int b = 0; b < QC_HIST_BINS; b++)
            if (h->counts[b]) {
                if (last < 0)
                    first = b;
                last = b;
            }
        fprintf(f, ",\n     \"histogram\": {\"log2_range\": %d, \"total\": %" PRId64
                   ", \"first\": %d, \"counts\": [",
                h->total ? h->log2_range : QC_HIST_LOG2_MIN, h->total, last < 0 ? 0 : first);
        for (int b = first; b <= last; b++)
            put_count(f, h->counts[b], b == first);
        fputs("]}", f);
    }
    if (t->ch) {
        fputs(",\n     \"channel\": {", f);
        put_channel_array(f, "min", t, 0);
        put_channel_array(f, "max", t, 1);
        put_channel_array(f, "sum", t, 2);
        put_channel_array(f, "sumsq", t, 3);
        put_channel_array(f, "sample_min", t, 4);
        put_channel_array(f, "sample_min2", t, 5);
        put_channel_array(f, "sample_max", t, 6);
        put_channel_array(f, "sample_max2", t, 7);
        fputs("}", f);
    }
    fputs("}", f);
}

qc_status qc_stats_write(const qc_stats *s, FILE *f, qc_error *err)
{
    if (s->pending)
        return qc_fail(err, QC_ERR_IO, "internal error: statistics written before qc_stats_flush");
    fprintf(f, "{\"format\": \"%s\", \"version\": %d,\n", QC_STATS_FORMAT, QC_STATS_VERSION);
    fputs(" \"model\": {\"file\": ", f);
    qc_json_put_string(f, s->model_file);
    fprintf(f, ", \"hash\": \"%016" PRIx64 "\"},\n", s->model_hash);
    if (s->has_pp) {
        const qc_preprocess *p = &s->pp;
        fprintf(f, " \"preprocess\": {\"color\": \"%s\", \"resize\": [%d, %d], \"crop\": [%d, %d]",
                color_name(p->color), p->resize_h, p->resize_w, p->crop_h, p->crop_w);
        if (p->resize_short > 0) /* only then, so files without it keep their bytes */
            fprintf(f, ", \"resize_short\": %d", p->resize_short);
        fputs(", \"scale\": ", f);
        put_float(f, p->scale);
        for (int k = 0; k < 2; k++) {
            fputs(k ? ", \"std\": [" : ", \"mean\": [", f);
            for (int c = 0; c < 3; c++) {
                if (c)
                    fputs(", ", f);
                put_float(f, k ? p->std[c] : p->mean[c]);
            }
            fputc(']', f);
        }
        fputs("},\n", f);
    }
    fprintf(f, " \"granularity\": \"%s\", \"histograms\": %s,\n", s->per_channel ? "channel" : "tensor",
            s->histograms ? "true" : "false");
    fprintf(f, " \"images\": %" PRId64 ", \"images_digest\": \"%016" PRIx64 "\",\n", s->images,
            s->images_digest);
    if (s->shard_count) {
        fprintf(f, " \"shard\": {\"count\": %d, \"images\": %" PRId64 ", \"digest\": \"%016" PRIx64
                   "\", \"indices\": [",
                s->shard_count, s->shard_images, s->shard_digest);
        for (int i = 0; i < s->n_shards; i++)
            fprintf(f, "%s%d", i ? ", " : "", s->shards[i]);
        fputs("]},\n", f);
    }
    fputs(" \"tensors\": [\n", f);
    for (int i = 0; i < s->n_tensors; i++) {
        put_tensor(f, &s->tensors[i]);
        fputs(i + 1 < s->n_tensors ? ",\n" : "\n", f);
    }
    fputs(" ]}\n", f);
    if (ferror(f))
        return qc_fail(err, QC_ERR_IO, "cannot write the statistics");
    return QC_OK;
}

qc_status qc_stats_save(const qc_stats *s, const char *path, qc_error *err)
{
    qc_file file;
    qc_status st = qc_file_begin(&file, path, err);
    if (st != QC_OK)
        return st;
    st = qc_stats_write(s, file.f, err);
    if (st != QC_OK) {
        qc_fail(err, st, "cannot write '%s'", path);
        qc_file_abort(&file);
        return st;
    }
    return qc_file_commit(&file, err);
}

/* ---- reading ------------------------------------------------------------------------------ */

typedef struct {
    const char *name; /* the file, for messages */
    qc_error *err;
    qc_status status;
    size_t bytes; /* what the tensors read so far hold in memory */
} reader;

static bool bad(reader *r, const char *what)
{
    if (r->status == QC_OK)
        r->status = qc_fail(r->err, QC_ERR_INPUT, "'%s' is not a valid statistics file: %s", r->name, what);
    return false;
}

static const cJSON *item(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static bool get_int(reader *r, const cJSON *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
    const cJSON *v = item(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)min ||
        v->valuedouble > (double)max || fabs(v->valuedouble) > 9007199254740992.0) {
        char msg[160];
        snprintf(msg, sizeof msg, "\"%s\" must be an integer from %lld to %lld", key, (long long)min,
                 (long long)max);
        return bad(r, msg);
    }
    *out = (int64_t)v->valuedouble;
    return true;
}

static bool float_of(reader *r, const cJSON *v, bool allow_null, float *out, const char *key)
{
    if (allow_null && cJSON_IsNull(v)) {
        *out = NAN;
        return true;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > 3.4028234663852886e38) {
        char msg[160];
        snprintf(msg, sizeof msg, "\"%s\" must be a number", key);
        return bad(r, msg);
    }
    *out = (float)v->valuedouble;
    return true;
}

static bool fix_of(reader *r, const cJSON *v, qc_fix *out, const char *key)
{
    if (!cJSON_IsString(v) || !qc_fix_parse(v->valuestring, out)) {
        char msg[160];
        snprintf(msg, sizeof msg, "\"%s\" must be a hexadecimal fixed-point string", key);
        return bad(r, msg);
    }
    return true;
}

static bool hash_of(reader *r, const cJSON *v, uint64_t *out, const char *key)
{
    char *end;
    if (cJSON_IsString(v) && strlen(v->valuestring) == 16) {
        *out = strtoull(v->valuestring, &end, 16);
        if (!*end)
            return true;
    }
    char msg[160];
    snprintf(msg, sizeof msg, "\"%s\" must be 16 hexadecimal digits", key);
    return bad(r, msg);
}

static bool bool_of(reader *r, const cJSON *o, const char *key, bool *out)
{
    const cJSON *v = item(o, key);
    if (!cJSON_IsBool(v)) {
        char msg[160];
        snprintf(msg, sizeof msg, "\"%s\" must be true or false", key);
        return bad(r, msg);
    }
    *out = cJSON_IsTrue(v);
    return true;
}

/* An array of exactly n elements. */
static const cJSON *array_of(reader *r, const cJSON *o, const char *key, int n)
{
    const cJSON *a = item(o, key);
    if (!cJSON_IsArray(a) || (n >= 0 && cJSON_GetArraySize(a) != n)) {
        char msg[160];
        if (n >= 0)
            snprintf(msg, sizeof msg, "\"%s\" must be an array of %d elements", key, n);
        else
            snprintf(msg, sizeof msg, "\"%s\" must be an array", key);
        bad(r, msg);
        return NULL;
    }
    return a;
}

static bool read_pp(reader *r, const cJSON *o, qc_preprocess *p)
{
    if (!cJSON_IsObject(o))
        return bad(r, "\"preprocess\" must be an object");
    const cJSON *c = item(o, "color");
    if (!cJSON_IsString(c))
        return bad(r, "\"preprocess\".\"color\" must be a string");
    if (!strcmp(c->valuestring, "gray"))
        p->color = QC_COLOR_GRAY;
    else if (!strcmp(c->valuestring, "rgb"))
        p->color = QC_COLOR_RGB;
    else if (!strcmp(c->valuestring, "bgr"))
        p->color = QC_COLOR_BGR;
    else
        return bad(r, "\"preprocess\".\"color\" must be gray, rgb or bgr");
    const cJSON *rs = array_of(r, o, "resize", 2), *cr = array_of(r, o, "crop", 2);
    const cJSON *mean = array_of(r, o, "mean", 3), *std = array_of(r, o, "std", 3);
    if (!rs || !cr || !mean || !std)
        return false;
    int *dims[4] = {&p->resize_h, &p->resize_w, &p->crop_h, &p->crop_w};
    for (int k = 0; k < 4; k++) {
        const cJSON *v = cJSON_GetArrayItem(k < 2 ? rs : cr, k % 2);
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 65536 ||
            v->valuedouble != floor(v->valuedouble))
            return bad(r, "\"preprocess\" sizes must be integers");
        *dims[k] = (int)v->valuedouble;
    }
    const cJSON *shorter = item(o, "resize_short"); /* absent in files before it */
    if (shorter && (!cJSON_IsNumber(shorter) || shorter->valuedouble < 1 || shorter->valuedouble > 65536 ||
                    shorter->valuedouble != floor(shorter->valuedouble) || p->resize_h || p->resize_w))
        return bad(r, "\"preprocess\".\"resize_short\" must be a positive integer, with \"resize\" [0, 0]");
    p->resize_short = shorter ? (int)shorter->valuedouble : 0;
    if (!float_of(r, item(o, "scale"), false, &p->scale, "scale"))
        return false;
    for (int k = 0; k < 3; k++)
        if (!float_of(r, cJSON_GetArrayItem(mean, k), false, &p->mean[k], "mean") ||
            !float_of(r, cJSON_GetArrayItem(std, k), false, &p->std[k], "std"))
            return false;
    return true;
}

static bool read_channels(reader *r, const cJSON *o, qc_tensor_stats *t)
{
    static const char *keys[8] = {"min", "max", "sum", "sumsq", "sample_min", "sample_min2",
                                  "sample_max", "sample_max2"};
    if (!cJSON_IsObject(o))
        return bad(r, "\"channel\" must be an object");
    for (int k = 0; k < 8; k++) {
        const cJSON *a = array_of(r, o, keys[k], t->channels);
        if (!a)
            return false;
        int c = 0;
        for (const cJSON *v = a->child; v; v = v->next, c++) {
            qc_moments *m = &t->ch[c];
            bool ok;
            switch (k) {
            case 0: ok = float_of(r, v, true, &m->min, keys[k]); break;
            case 1: ok = float_of(r, v, true, &m->max, keys[k]); break;
            case 2: ok = fix_of(r, v, &m->sum, keys[k]); break;
            case 3: ok = fix_of(r, v, &m->sumsq, keys[k]); break;
            case 4: ok = fix_of(r, v, &m->smin, keys[k]); break;
            case 5: ok = fix_of(r, v, &m->smin2, keys[k]); break;
            case 6: ok = fix_of(r, v, &m->smax, keys[k]); break;
            default: ok = fix_of(r, v, &m->smax2, keys[k]); break;
            }
            if (!ok)
                return false;
        }
    }
    for (int c = 0; c < t->channels; c++) {
        if (isnan(t->ch[c].min))
            t->ch[c].min = INFINITY;
        if (isnan(t->ch[c].max))
            t->ch[c].max = -INFINITY;
    }
    return true;
}

static bool read_hist(reader *r, const cJSON *o, qc_hist *h)
{
    int64_t log2, total, first;
    if (!cJSON_IsObject(o))
        return bad(r, "\"histogram\" must be an object");
    if (!get_int(r, o, "log2_range", QC_HIST_LOG2_MIN, 128, &log2) ||
        !get_int(r, o, "total", 0, INT64_MAX, &total) ||
        !get_int(r, o, "first", 0, QC_HIST_BINS - 1, &first))
        return false;
    const cJSON *a = array_of(r, o, "counts", -1);
    if (!a)
        return false;
    int n = cJSON_GetArraySize(a);
    if (first + n > QC_HIST_BINS)
        return bad(r, "\"histogram\" has more than 4096 bins");
    int64_t sum = 0;
    int b = (int)first;
    for (const cJSON *v = a->child; v; v = v->next, b++) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble) ||
            v->valuedouble > 9007199254740992.0)
            return bad(r, "histogram counts must be non-negative integers");
        h->counts[b] = (int64_t)v->valuedouble;
        sum += h->counts[b];
    }
    if (sum != total)
        return bad(r, "histogram counts do not add up to its \"total\"");
    h->log2_range = (int)log2;
    h->total = total;
    return true;
}

static bool read_tensor(reader *r, qc_stats *s, const cJSON *o)
{
    if (!cJSON_IsObject(o))
        return bad(r, "\"tensors\" must hold objects");
    const cJSON *name = item(o, "name"), *role = item(o, "role");
    const cJSON *shape = array_of(r, o, "shape", -1);
    if (!cJSON_IsString(name) || !cJSON_IsString(role))
        return bad(r, "a tensor needs a \"name\" and a \"role\"");
    if (!shape)
        return false;
    qc_role rl;
    if (!strcmp(role->valuestring, "input"))
        rl = QC_ROLE_INPUT;
    else if (!strcmp(role->valuestring, "activation"))
        rl = QC_ROLE_ACTIVATION;
    else if (!strcmp(role->valuestring, "weight"))
        rl = QC_ROLE_WEIGHT;
    else
        return bad(r, "a tensor's \"role\" must be input, activation or weight");
    int rank = cJSON_GetArraySize(shape);
    if (rank > QC_MAX_RANK)
        return bad(r, "a tensor's \"shape\" has too many dimensions");
    int64_t dims[QC_MAX_RANK], numel = 1;
    int d = 0;
    for (const cJSON *v = shape->child; v; v = v->next, d++) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 2147483647.0 ||
            v->valuedouble != floor(v->valuedouble))
            return bad(r, "a tensor's \"shape\" must hold non-negative integers");
        dims[d] = (int64_t)v->valuedouble;
        if (!qc_mul_dims(numel, dims[d], &numel))
            return bad(r, "a tensor's \"shape\" is too large");
    }
    int64_t axis, channels, samples;
    if (!get_int(r, o, "axis", -1, rank - 1, &axis) || !get_int(r, o, "channels", 1, INT32_MAX, &channels) ||
        !get_int(r, o, "samples", 0, INT64_MAX, &samples))
        return false;
    if (channels != (axis >= 0 ? dims[axis] : 1))
        return bad(r, "a tensor's \"channels\" must be its size along \"axis\"");
    /* samples · numel values were recorded: it must fit, with room for merges */
    if (numel > 0 && samples > (INT64_C(1) << 62) / numel)
        return bad(r, "a tensor's \"samples\" times its size is too large");
    /* What the tensor will hold, before it is allocated: the file must carry the per-channel
     * arrays it claims, and all tensors together fit the memory limit. */
    bool per_channel = s->per_channel || rl == QC_ROLE_WEIGHT;
    const cJSON *ch = item(o, "channel");
    if (per_channel && channels > 1 &&
        (!cJSON_IsObject(ch) || cJSON_GetArraySize(item(ch, "min")) != channels))
        return bad(r, "a tensor's \"channel\" arrays must hold \"channels\" values");
    r->bytes += (size_t)(s->histograms ? QC_HIST_BINS * sizeof(uint64_t) : 0) +
                (size_t)(1 + (per_channel ? channels : 0)) * (sizeof(qc_moments) + 64);
    if (r->bytes > qc_memory_limit()) {
        if (r->status == QC_OK)
            r->status = qc_fail(r->err, QC_ERR_INPUT,
                                "'%s' needs more than the memory limit of %.1f MiB to hold",
                                r->name, (double)qc_memory_limit() / 1048576.0);
        return false;
    }
    int i = qc_stats_add_tensor(s, name->valuestring, rl, rank, dims, (int)axis);
    if (i < 0) {
        if (r->status == QC_OK)
            r->status = qc_fail(r->err, QC_ERR_IO, "out of memory reading '%s'", r->name);
        return false;
    }
    qc_tensor_stats *t = &s->tensors[i];
    if (t->axis != axis)
        return bad(r, "a tensor's \"axis\" must name a non-empty dimension");
    t->samples = samples;
    const cJSON *smin = array_of(r, o, "sample_min", 2), *smax = array_of(r, o, "sample_max", 2);
    if (!smin || !smax || !float_of(r, item(o, "min"), true, &t->t.min, "min") ||
        !float_of(r, item(o, "max"), true, &t->t.max, "max") || !fix_of(r, item(o, "sum"), &t->t.sum, "sum") ||
        !fix_of(r, item(o, "sumsq"), &t->t.sumsq, "sumsq") ||
        !fix_of(r, cJSON_GetArrayItem(smin, 0), &t->t.smin, "sample_min") ||
        !fix_of(r, cJSON_GetArrayItem(smin, 1), &t->t.smin2, "sample_min") ||
        !fix_of(r, cJSON_GetArrayItem(smax, 0), &t->t.smax, "sample_max") ||
        !fix_of(r, cJSON_GetArrayItem(smax, 1), &t->t.smax2, "sample_max"))
        return false;
    if (isnan(t->t.min))
        t->t.min = INFINITY;
    if (isnan(t->t.max))
        t->t.max = -INFINITY;
    if ((samples > 0 && t->numel > 0) != (t->t.min <= t->t.max))
        return bad(r, "a tensor's \"min\" and \"max\" do not fit its samples");
    if (s->histograms && !read_hist(r, item(o, "histogram"), &t->hist))
        return false;
    if (t->ch && !read_channels(r, item(o, "channel"), t))
        return false;
    return true;
}

static bool read_shard(reader *r, qc_stats *s, const cJSON *o)
{
    int64_t count, images;
    if (!cJSON_IsObject(o))
        return bad(r, "\"shard\" must be an object");
    if (!get_int(r, o, "count", 2, 1 << 20, &count) || !get_int(r, o, "images", 0, INT64_MAX, &images) ||
        !hash_of(r, item(o, "digest"), &s->shard_digest, "digest"))
        return false;
    const cJSON *a = array_of(r, o, "indices", -1);
    if (!a)
        return false;
    int n = cJSON_GetArraySize(a);
    if (n < 1 || n >= count)
        return bad(r, "\"shard\".\"indices\" must list from 1 to count − 1 shards");
    s->shards = malloc((size_t)n * sizeof *s->shards);
    if (!s->shards)
        return bad(r, "out of memory");
    int k = 0;
    for (const cJSON *v = a->child; v; v = v->next, k++) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= (double)count ||
            v->valuedouble != floor(v->valuedouble) || (k && v->valuedouble <= s->shards[k - 1]))
            return bad(r, "\"shard\".\"indices\" must be increasing shard numbers below \"count\"");
        s->shards[k] = (int)v->valuedouble;
    }
    s->n_shards = n;
    s->shard_count = (int)count;
    s->shard_images = images;
    return true;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Are the tensor names distinct? Sorted, so that 20,000 tensors take milliseconds. */
static bool names_unique(const qc_stats *s)
{
    if (s->n_tensors < 2)
        return true;
    char **names = malloc((size_t)s->n_tensors * sizeof *names);
    if (!names)
        return false;
    for (int i = 0; i < s->n_tensors; i++)
        names[i] = s->tensors[i].name;
    qsort(names, (size_t)s->n_tensors, sizeof *names, compare_names);
    bool unique = true;
    for (int i = 1; i < s->n_tensors && unique; i++)
        unique = strcmp(names[i - 1], names[i]) != 0;
    free(names);
    return unique;
}

qc_status qc_stats_parse(const char *text, size_t size, const char *name, qc_stats **out,
                         qc_error *err)
{
    *out = NULL;
    reader r = {.name = name, .err = err, .status = QC_OK};
    qc_stats *s = NULL;
    cJSON *root = cJSON_ParseWithLength(text, size);
    if (!root) {
        qc_fail(err, QC_ERR_INPUT, "'%s' is not valid JSON", name);
        r.status = QC_ERR_INPUT;
        goto end;
    }
    const cJSON *format = item(root, "format");
    if (!cJSON_IsObject(root) || !cJSON_IsString(format) || strcmp(format->valuestring, QC_STATS_FORMAT)) {
        bad(&r, "\"format\" is not \"" QC_STATS_FORMAT "\"");
        goto end;
    }
    int64_t version;
    if (!get_int(&r, root, "version", 0, INT32_MAX, &version))
        goto end;
    if (version != QC_STATS_VERSION) {
        r.status = qc_fail(err, QC_ERR_INPUT, "'%s' is a statistics file of version %lld; this qcal reads version %d",
                           name, (long long)version, QC_STATS_VERSION);
        goto end;
    }
    const cJSON *model = item(root, "model"), *gran = item(root, "granularity");
    if (!cJSON_IsObject(model) || !cJSON_IsString(item(model, "file"))) {
        bad(&r, "\"model\" must be an object with a \"file\" and a \"hash\"");
        goto end;
    }
    if (!cJSON_IsString(gran) || (strcmp(gran->valuestring, "tensor") && strcmp(gran->valuestring, "channel"))) {
        bad(&r, "\"granularity\" must be tensor or channel");
        goto end;
    }
    bool histograms;
    if (!bool_of(&r, root, "histograms", &histograms))
        goto end;
    qc_preprocess pp;
    const cJSON *ppj = item(root, "preprocess");
    if (ppj && !read_pp(&r, ppj, &pp))
        goto end;
    qc_stats_options o = {.per_channel = !strcmp(gran->valuestring, "channel"),
                          .histograms = histograms,
                          .model_file = item(model, "file")->valuestring,
                          .pp = ppj ? &pp : NULL};
    s = qc_stats_create_empty(&o);
    if (!s) {
        r.status = qc_fail(err, QC_ERR_IO, "out of memory reading '%s'", name);
        goto end;
    }
    if (!hash_of(&r, item(model, "hash"), &s->model_hash, "hash") ||
        !get_int(&r, root, "images", 0, INT64_MAX, &s->images) ||
        !hash_of(&r, item(root, "images_digest"), &s->images_digest, "images_digest"))
        goto end;
    const cJSON *shard = item(root, "shard");
    if (shard && !read_shard(&r, s, shard))
        goto end;
    const cJSON *tensors = array_of(&r, root, "tensors", -1);
    if (!tensors)
        goto end;
    for (const cJSON *t = tensors->child; t; t = t->next)
        if (!read_tensor(&r, s, t))
            goto end;
    if (!names_unique(s)) {
        bad(&r, "two tensors have the same name");
        goto end;
    }
end:
    cJSON_Delete(root);
    if (r.status != QC_OK) {
        qc_stats_destroy(s);
        return r.status;
    }
    *out = s;
    return QC_OK;
}

qc_status qc_stats_load(const char *path, qc_stats **out, qc_error *err)
{
    char *text;
    size_t size;
    *out = NULL;
    qc_status st = qc_read_file(path, &text, &size, err);
    if (st != QC_OK)
        return st;
    st = qc_stats_parse(text, size, path, out, err);
    free(text);
    return st;
}

/* ---- checks of a file against its use ------------------------------------------------------ */

/* "a" or "a,b,c": one value per channel of the colour model. */
static void channels_text(const float *v, qc_color color, char *buf, size_t size)
{
    char a[32], b[32], c[32];
    if (color == QC_COLOR_GRAY)
        snprintf(buf, size, "%s", qc_float_text(v[0], a, sizeof a));
    else
        snprintf(buf, size, "%s,%s,%s", qc_float_text(v[0], a, sizeof a), qc_float_text(v[1], b, sizeof b),
                 qc_float_text(v[2], c, sizeof c));
}

/* "HxW" (--size), or "shorter side S" (--resize) */
static void resize_text(const qc_preprocess *p, char *buf, size_t size)
{
    if (p->resize_short > 0)
        snprintf(buf, size, "shorter side %d", p->resize_short);
    else
        snprintf(buf, size, "%dx%d", p->resize_h, p->resize_w);
}

qc_status qc_stats_check_preprocess(const qc_stats *s, const qc_preprocess *pp, const char *stats_name,
                                    const char *model_name, qc_error *err)
{
    if (!s->has_pp)
        return QC_OK;
    const qc_preprocess *a = &s->pp;
    const char *field = NULL;
    char was[128], now[128];
    if (a->color != pp->color) {
        field = "color";
        snprintf(was, sizeof was, "%s", color_name(a->color));
        snprintf(now, sizeof now, "%s", color_name(pp->color));
    } else if (a->resize_h != pp->resize_h || a->resize_w != pp->resize_w || a->resize_short != pp->resize_short) {
        field = "size";
        resize_text(a, was, sizeof was);
        resize_text(pp, now, sizeof now);
    } else if (a->crop_h != pp->crop_h || a->crop_w != pp->crop_w) {
        field = "crop";
        snprintf(was, sizeof was, "%dx%d", a->crop_h, a->crop_w);
        snprintf(now, sizeof now, "%dx%d", pp->crop_h, pp->crop_w);
    } else if (a->scale != pp->scale) {
        field = "scale";
        qc_float_text(a->scale, was, sizeof was);
        qc_float_text(pp->scale, now, sizeof now);
    } else {
        int n = a->color == QC_COLOR_GRAY ? 1 : 3;
        for (int k = 0; k < 2 && !field; k++)
            for (int c = 0; c < n && !field; c++)
                if (k ? a->std[c] != pp->std[c] : a->mean[c] != pp->mean[c]) {
                    field = k ? "std" : "mean";
                    channels_text(k ? a->std : a->mean, a->color, was, sizeof was);
                    channels_text(k ? pp->std : pp->mean, pp->color, now, sizeof now);
                }
    }
    if (!field)
        return QC_OK;
    char hint[160] = "";
    if (!strcmp(field, "size") && a->resize_short > 0)
        snprintf(hint, sizeof hint, " or give --resize %d", a->resize_short);
    else if (strcmp(was, "0x0"))
        snprintf(hint, sizeof hint, " or give --%s %s", field, was);
    return qc_fail(err, QC_ERR_INPUT,
                   "'%s' does not match the preprocessing of '%s': its images had %s %s, the model now "
                   "takes %s %s (model card, then flags); gather the statistics again%s",
                   stats_name, model_name, field, was, field, now, hint);
}

qc_status qc_stats_check_complete(const qc_stats *s, const char *stats_name, qc_error *err)
{
    if (!s->shard_count)
        return QC_OK;
    char held[256] = "";
    size_t n = 0;
    for (int i = 0; i < s->n_shards && n + 16 < sizeof held; i++)
        n += (size_t)snprintf(held + n, sizeof held - n, "%s%d", i ? ", " : "", s->shards[i]);
    return qc_fail(err, QC_ERR_INPUT,
                   "'%s' is a partial merge: it holds %d of %d shards (%s), %lld of %lld images; merge "
                   "the others into it, or give --allow-partial",
                   stats_name, s->n_shards, s->shard_count, held, (long long)s->images,
                   (long long)s->shard_images);
}

qc_status qc_stats_load_checked(const char *path, const qc_graph *g, uint64_t hash, const char *model_path,
                                const qc_preprocess *pp, bool allow_partial, bool *partial, qc_stats **s,
                                qc_error *err)
{
    *partial = false;
    qc_status st = qc_stats_load(path, s, err);
    if (st == QC_OK)
        st = qc_stats_check_model(*s, g, hash, path, model_path, err);
    if (st == QC_OK && pp)
        st = qc_stats_check_preprocess(*s, pp, path, model_path, err);
    if (st == QC_OK && (st = qc_stats_check_complete(*s, path, err)) != QC_OK && allow_partial) {
        *partial = true;
        st = QC_OK;
    }
    if (st != QC_OK) {
        qc_stats_destroy(*s);
        *s = NULL;
    }
    return st;
}

char *qc_stats_shape_text(const qc_tensor_stats *t, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = 0;
    for (int d = 0; d < t->rank && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", d ? "x" : "", (long long)t->dims[d]);
    if (t->rank == 0)
        snprintf(buf, size, "scalar");
    return buf;
}

qc_status qc_stats_merge_files(const char *const *paths, int n, qc_stats **out, qc_error *err)
{
    qc_status st = qc_stats_load(paths[0], out, err);
    for (int k = 1; k < n && st == QC_OK; k++) {
        qc_stats *s = NULL;
        if ((st = qc_stats_load(paths[k], &s, err)) == QC_OK && (st = qc_stats_merge(*out, s, err)) != QC_OK) {
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err->msg);
            qc_fail(err, st, "cannot merge '%s' with '%s': %s", paths[k], paths[0], why);
        }
        qc_stats_destroy(s);
    }
    return st;
}
