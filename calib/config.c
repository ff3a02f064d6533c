/* config.c — quantization configs: presets, a JSON file of global settings and per-node
 * overrides read strictly with cJSON, the options of one node, and the options written back
 * as a config that reads back to the same options (README "Quantization configs"). */
#include <cJSON.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "io/io.h"

/* ---- targets and presets -------------------------------------------------------------------- */

static const char *const target_names[QC_TARGET_COUNT] = {"generic", "tensorrt"};

const char *qc_target_name(qc_target t)
{
    return (unsigned)t < QC_TARGET_COUNT ? target_names[t] : "?";
}

bool qc_target_parse(const char *name, qc_target *out)
{
    for (int i = 0; i < QC_TARGET_COUNT; i++)
        if (!strcmp(name, target_names[i])) {
            *out = (qc_target)i;
            return true;
        }
    return false;
}

static const struct {
    const char *name;
    qc_scheme scheme;
    qc_granularity weights;
    qc_target target;
} presets[] = {
    {"performance", QC_SCHEME_SYMLOWP, QC_GRANULARITY_CHANNEL, QC_TARGET_GENERIC},
    {"mixed", QC_SCHEME_MIXED, QC_GRANULARITY_CHANNEL, QC_TARGET_GENERIC},
    {"gemmlowp", QC_SCHEME_GEMMLOWP, QC_GRANULARITY_TENSOR, QC_TARGET_GENERIC},
    {"symlowp", QC_SCHEME_SYMLOWP, QC_GRANULARITY_TENSOR, QC_TARGET_GENERIC},
    {"tensorrt", QC_SCHEME_SYMLOWP, QC_GRANULARITY_CHANNEL, QC_TARGET_TENSORRT},
};

bool qc_preset_apply(const char *name, qc_quantize_options *o)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (!strcmp(name, presets[i].name)) {
            o->scheme = presets[i].scheme;
            o->weights = presets[i].weights;
            o->target = presets[i].target;
            return true;
        }
    return false;
}

/* ---- the options of one node ---------------------------------------------------------------- */

static void apply_override(const qc_node_override *v, qc_quantize_options *o)
{
    if (v->set & QC_SET_SCHEME)
        o->scheme = v->scheme;
    if (v->set & QC_SET_WEIGHT_BITS)
        o->weight_bits = v->weight_bits;
    if (v->set & QC_SET_ACT_BITS)
        o->act_bits = v->act_bits;
    if (v->set & QC_SET_GRANULARITY)
        o->weights = v->weights;
    if (v->set & QC_SET_ROUND)
        o->round = v->round;
    if (v->set & QC_SET_ACT_ROUND)
        o->act_round = v->act_round;
    if (v->set & QC_SET_METHOD)
        o->method = v->method;
    if (v->set & QC_SET_N_STD)
        o->range.n_std = v->n_std;
    if (v->set & QC_SET_PERCENTILE)
        o->range.percentile = v->percentile;
    if (v->set & QC_SET_REDUCE_RANGE)
        o->reduce_range = v->reduce_range;
}

static bool override_matches(const qc_node_override *v, const qc_node *n)
{
    switch (v->match) {
    case QC_MATCH_OP:
        return !n->domain[0] && !strcmp(v->value, n->op_type);
    case QC_MATCH_PATTERN:
        return fnmatch(v->value, n->name, 0) == 0;
    case QC_MATCH_NAME:
        return !strcmp(v->value, n->name);
    }
    return false;
}

void qc_quantize_options_for_node(const qc_quantize_options *o, const qc_node *n, qc_quantize_options *out)
{
    *out = *o;
    out->overrides = NULL;
    out->n_overrides = 0;
    bool exclude = false;
    for (int kind = QC_MATCH_OP; kind <= QC_MATCH_NAME; kind++)
        for (int i = 0; i < o->n_overrides; i++) {
            const qc_node_override *v = &o->overrides[i];
            if ((int)v->match != kind || !override_matches(v, n))
                continue;
            apply_override(v, out);
            if (v->set & QC_SET_EXCLUDE)
                exclude = v->exclude;
        }
    if (exclude) { /* the node alone, as --exclude NAME */
        out->exclude = (const char *const *)&n->name;
        out->n_exclude = 1;
    } else {
        out->exclude = NULL;
        out->n_exclude = 0;
    }
}

/* ---- reading ---------------------------------------------------------------------------------- */

typedef struct {
    const char *file;
    qc_error *err;
} reader;

static qc_status bad_key(const reader *r, const char *where, const char *key, const char *what)
{
    return qc_fail(r->err, QC_ERR_INPUT, "%s: %s'%s' %s", r->file, where, key, what);
}

static qc_status get_string(const reader *r, const char *where, const cJSON *v, const char **out)
{
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > QC_CONFIG_MAX_STRING)
        return bad_key(r, where, v->string, "takes a non-empty string (at most 1024 bytes)");
    *out = v->valuestring;
    return QC_OK;
}

static qc_status get_bool(const reader *r, const char *where, const cJSON *v, bool *out)
{
    if (!cJSON_IsBool(v))
        return bad_key(r, where, v->string, "takes true or false");
    *out = cJSON_IsTrue(v);
    return QC_OK;
}

/* "none", "analytic" or "empirical"; true and false as the files before the modes wrote them
 * (true: analytic). */
static qc_status get_bias_mode(const reader *r, const cJSON *v, qc_bias_mode *out)
{
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v) ? QC_BIAS_ANALYTIC : QC_BIAS_NONE;
        return QC_OK;
    }
    if (!cJSON_IsString(v) || !qc_bias_mode_parse(v->valuestring, out))
        return bad_key(r, "", v->string, "takes none, analytic or empirical");
    return QC_OK;
}

static qc_status get_bits(const reader *r, const char *where, const cJSON *v, int *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < QC_BITS_MIN ||
        v->valuedouble > QC_BITS_MAX)
        return bad_key(r, where, v->string, "takes a whole number from 2 to 8");
    *out = (int)v->valuedouble;
    return QC_OK;
}

/* n (avgstd, meanstd) in [0, 1000], percentile in (50, 100], as the flags take them */
static qc_status get_number(const reader *r, const char *where, const cJSON *v, bool percentile, double *out)
{
    double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (percentile ? !(x > 50 && x <= 100) : !(x >= 0 && x <= 1000))
        return bad_key(r, where, v->string, percentile ? "takes a number above 50 and at most 100"
                                                       : "takes a number from 0 to 1000");
    *out = x;
    return QC_OK;
}

/* Is it's key the key of an entry before it in the same object? */
static bool given_before(const cJSON *obj, const cJSON *it)
{
    for (const cJSON *before = obj->child; before != it; before = before->next)
        if (!strcmp(before->string, it->string))
            return true;
    return false;
}

/* A named value: the parser returns false for an unknown name. */
static qc_status get_named(const reader *r, const char *where, const cJSON *v, const char *names, int *out,
                           int (*parse)(const char *))
{
    const char *s;
    qc_status st = get_string(r, where, v, &s);
    if (st != QC_OK)
        return st;
    if ((*out = parse(s)) < 0)
        return qc_fail(r->err, QC_ERR_INPUT, "%s: %s'%s' takes %s, not '%s'", r->file, where, v->string, names, s);
    return QC_OK;
}

static int parse_scheme(const char *s)
{
    qc_scheme x;
    return qc_scheme_parse(s, &x) ? (int)x : -1;
}

static int parse_round(const char *s)
{
    qc_round_mode x;
    return qc_round_mode_parse(s, &x) ? (int)x : -1;
}

static int parse_gran(const char *s)
{
    qc_granularity x;
    return qc_granularity_parse(s, &x) ? (int)x : -1;
}

static int parse_format(const char *s)
{
    qc_qformat x;
    return qc_qformat_parse(s, &x) ? (int)x : -1;
}

static int parse_target(const char *s)
{
    qc_target x;
    return qc_target_parse(s, &x) ? (int)x : -1;
}

/* One setting that globals and overrides share, into v; false (st untouched) for another key. */
static bool read_setting(const reader *r, const char *where, const cJSON *it, qc_node_override *v, qc_status *st)
{
    const char *k = it->string;
    int x = 0;
    if (!strcmp(k, "scheme")) {
        *st = get_named(r, where, it, "gemmlowp, symlowp or mixed", &x, parse_scheme);
        v->scheme = (qc_scheme)x, v->set |= QC_SET_SCHEME;
    } else if (!strcmp(k, "bits")) {
        *st = get_bits(r, where, it, &v->weight_bits);
        v->act_bits = v->weight_bits, v->set |= QC_SET_WEIGHT_BITS | QC_SET_ACT_BITS;
    } else if (!strcmp(k, "weight_bits")) {
        *st = get_bits(r, where, it, &v->weight_bits), v->set |= QC_SET_WEIGHT_BITS;
    } else if (!strcmp(k, "act_bits")) {
        *st = get_bits(r, where, it, &v->act_bits), v->set |= QC_SET_ACT_BITS;
    } else if (!strcmp(k, "round")) {
        *st = get_named(r, where, it, QC_ROUND_MODE_LIST, &x, parse_round);
        v->round = (qc_round_mode)x, v->set |= QC_SET_ROUND;
    } else if (!strcmp(k, "act_round")) {
        *st = get_named(r, where, it, QC_ROUND_MODE_LIST, &x, parse_round);
        v->act_round = (qc_round_mode)x, v->set |= QC_SET_ACT_ROUND;
    } else if (!strcmp(k, "method")) {
        *st = get_named(r, where, it, "minmax, avg, avgstd, meanstd, percentile, entropy or mse", &x,
                        qc_range_method_parse);
        v->method = (qc_range_method)x, v->set |= QC_SET_METHOD;
    } else if (!strcmp(k, "n")) {
        *st = get_number(r, where, it, false, &v->n_std), v->set |= QC_SET_N_STD;
    } else if (!strcmp(k, "percentile")) {
        *st = get_number(r, where, it, true, &v->percentile), v->set |= QC_SET_PERCENTILE;
    } else if (!strcmp(k, "reduce_range")) {
        *st = get_bool(r, where, it, &v->reduce_range), v->set |= QC_SET_REDUCE_RANGE;
    } else {
        return false;
    }
    return true;
}

static qc_status read_match(const reader *r, const char *where, const cJSON *m, qc_node_override *v)
{
    static const char *const kinds[] = {"op", "pattern", "name"};
    if (!cJSON_IsObject(m) || cJSON_GetArraySize(m) != 1)
        return bad_key(r, where, "match", "takes an object with one of \"op\", \"pattern\" or \"name\"");
    for (int k = 0; k < 3; k++)
        if (!strcmp(m->child->string, kinds[k])) {
            v->match = (qc_match_kind)k;
            return get_string(r, where, m->child, &v->value);
        }
    return bad_key(r, where, m->child->string, "is not a match: use \"op\", \"pattern\" or \"name\"");
}

/* Override i: a match and at least one setting. Granularity per node is of the weights. */
static qc_status read_override(const reader *r, const cJSON *o, int i, qc_node_override *v)
{
    char where[64];
    snprintf(where, sizeof where, "overrides[%d]: ", i);
    if (!cJSON_IsObject(o))
        return qc_fail(r->err, QC_ERR_INPUT, "%s: overrides[%d] is not an object", r->file, i);
    bool matched = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        qc_status st = QC_OK;
        int x = 0;
        if (given_before(o, it)) {
            st = bad_key(r, where, it->string, "is given twice");
        } else if (!strcmp(it->string, "match")) {
            st = read_match(r, where, it, v);
            matched = true;
        } else if (!strcmp(it->string, "granularity")) {
            st = get_named(r, where, it, "tensor or channel", &x, parse_gran);
            if (st == QC_OK && x == QC_GRANULARITY_COMPENSATED)
                st = bad_key(r, where, "granularity", "cannot be compensated per node (input compensation is global)");
            v->weights = (qc_granularity)x, v->set |= QC_SET_GRANULARITY;
        } else if (!strcmp(it->string, "exclude")) {
            st = get_bool(r, where, it, &v->exclude), v->set |= QC_SET_EXCLUDE;
        } else if (!read_setting(r, where, it, v, &st)) {
            st = bad_key(r, where, it->string, "is not a setting a node can override");
        }
        if (st != QC_OK)
            return st;
    }
    if (!matched)
        return qc_fail(r->err, QC_ERR_INPUT, "%s: overrides[%d] has no \"match\"", r->file, i);
    return QC_OK;
}

/* An array of at most QC_CONFIG_MAX_ENTRIES entries under key k. */
static qc_status get_array(const reader *r, const cJSON *it, int *n)
{
    if (!cJSON_IsArray(it) || (*n = cJSON_GetArraySize(it)) > QC_CONFIG_MAX_ENTRIES)
        return bad_key(r, "", it->string, "takes an array of at most 4096 entries");
    return QC_OK;
}

static qc_status read_excludes(const reader *r, const cJSON *it, qc_config *c)
{
    int n = 0;
    qc_status st = get_array(r, it, &n);
    if (st != QC_OK)
        return st;
    if (!(c->exclude = calloc((size_t)n + 1, sizeof *c->exclude)))
        return qc_fail(r->err, QC_ERR_IO, "out of memory");
    const cJSON *e;
    cJSON_ArrayForEach(e, it)
    {
        if (!cJSON_IsString(e) || !e->valuestring[0] || strlen(e->valuestring) > QC_CONFIG_MAX_STRING)
            return bad_key(r, "", "exclude", "takes an array of node names (non-empty, at most 1024 bytes)");
        if (!(c->exclude[c->options.n_exclude] = strdup(e->valuestring)))
            return qc_fail(r->err, QC_ERR_IO, "out of memory");
        c->options.n_exclude++;
    }
    c->options.exclude = (const char *const *)c->exclude;
    return QC_OK;
}

static qc_status read_overrides(const reader *r, const cJSON *it, qc_config *c)
{
    int n = 0;
    qc_status st = get_array(r, it, &n);
    if (st != QC_OK)
        return st;
    if (!(c->overrides = calloc((size_t)n + 1, sizeof *c->overrides)))
        return qc_fail(r->err, QC_ERR_IO, "out of memory");
    const cJSON *e;
    cJSON_ArrayForEach(e, it)
    {
        qc_node_override *v = &c->overrides[c->options.n_overrides];
        if ((st = read_override(r, e, c->options.n_overrides, v)) != QC_OK)
            return st;
        if (!(v->value = strdup(v->value))) /* it pointed into the parsed tree */
            return qc_fail(r->err, QC_ERR_IO, "out of memory");
        c->options.n_overrides++;
    }
    c->options.overrides = c->overrides;
    return QC_OK;
}

/* A global key other than the shared settings. */
static qc_status read_global(const reader *r, const cJSON *it, qc_config *c)
{
    qc_quantize_options *o = &c->options;
    const char *k = it->string;
    int x = 0;
    qc_status st;
    if (!strcmp(k, "granularity")) {
        st = get_named(r, "", it, "tensor, channel or compensated", &x, parse_gran);
        o->weights = qc_granularity_weights((qc_granularity)x);
        if (x == QC_GRANULARITY_COMPENSATED)
            o->activations = QC_GRANULARITY_COMPENSATED;
    } else if (!strcmp(k, "input_compensation")) {
        bool b = false;
        st = get_bool(r, "", it, &b);
        o->activations = b ? QC_GRANULARITY_COMPENSATED : QC_GRANULARITY_TENSOR;
    } else if (!strcmp(k, "format")) {
        st = get_named(r, "", it, "qdq, qoperator or fakequant", &x, parse_format);
        o->format = (qc_qformat)x;
    } else if (!strcmp(k, "target")) {
        st = get_named(r, "", it, "generic or tensorrt", &x, parse_target);
        o->target = (qc_target)x;
    } else if (!strcmp(k, "bias_correction")) {
        st = get_bias_mode(r, it, &o->bias_correction);
    } else if (!strcmp(k, "exclude")) {
        st = read_excludes(r, it, c);
    } else if (!strcmp(k, "overrides")) {
        st = read_overrides(r, it, c);
    } else if (!strcmp(k, "preset")) {
        st = QC_OK; /* applied first, by parse_root */
    } else {
        st = bad_key(r, "", k, "is not a quantization setting");
    }
    return st;
}

static qc_status parse_root(const reader *r, const cJSON *root, qc_config *c)
{
    if (!cJSON_IsObject(root))
        return qc_fail(r->err, QC_ERR_INPUT, "%s: a config is a JSON object", r->file);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "preset");
    if (p) {
        const char *name;
        qc_status st = get_string(r, "", p, &name);
        if (st != QC_OK)
            return st;
        if (!qc_preset_apply(name, &c->options))
            return qc_fail(r->err, QC_ERR_INPUT, "%s: 'preset' takes " QC_PRESET_LIST ", not '%s'", r->file, name);
    }
    qc_node_override globals = {0};
    const cJSON *it;
    cJSON_ArrayForEach(it, root)
    {
        qc_status st = QC_OK;
        if (given_before(root, it))
            return bad_key(r, "", it->string, "is given twice");
        if (!read_setting(r, "", it, &globals, &st))
            st = read_global(r, it, c);
        if (st != QC_OK)
            return st;
    }
    apply_override(&globals, &c->options);
    return QC_OK;
}

qc_status qc_config_parse(const char *text, size_t len, const char *name, const qc_quantize_options *base,
                          qc_config *out, qc_error *err)
{
    memset(out, 0, sizeof *out);
    out->options = *base;
    out->options.exclude = NULL;
    out->options.n_exclude = 0;
    out->options.overrides = NULL;
    out->options.n_overrides = 0;
    reader r = {name, err};
    if (len > QC_CONFIG_MAX_BYTES)
        return qc_fail(err, QC_ERR_INPUT, "%s: a config is at most %d bytes", name, QC_CONFIG_MAX_BYTES);
    cJSON *root = cJSON_ParseWithLength(text, len);
    qc_status st = root ? parse_root(&r, root, out) : qc_fail(err, QC_ERR_INPUT, "%s: not JSON", name);
    cJSON_Delete(root);
    if (st != QC_OK)
        qc_config_free(out);
    return st;
}

qc_status qc_config_load(const char *path, const qc_quantize_options *base, qc_config *out, qc_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return qc_fail(err, QC_ERR_IO, "cannot read '%s'", path);
    char *text = malloc(QC_CONFIG_MAX_BYTES + 1);
    size_t len = text ? fread(text, 1, QC_CONFIG_MAX_BYTES + 1, f) : 0;
    bool failed = !text || ferror(f);
    fclose(f);
    qc_status st = failed ? qc_fail(err, QC_ERR_IO, "cannot read '%s'", path)
                          : qc_config_parse(text, len, path, base, out, err);
    free(text);
    return st;
}

void qc_config_free(qc_config *c)
{
    for (int i = 0; c->exclude && i < c->options.n_exclude; i++)
        free(c->exclude[i]);
    for (int i = 0; c->overrides && i < c->options.n_overrides; i++)
        free((char *)c->overrides[i].value);
    free(c->exclude);
    free(c->overrides);
    memset(c, 0, sizeof *c);
}

/* ---- writing ------------------------------------------------------------------------------------ */

/* The settings of v that are set (all of them for the globals), into obj. */
static bool put_settings(cJSON *obj, const qc_node_override *v)
{
    bool ok = true;
    if (v->set & QC_SET_SCHEME)
        ok &= cJSON_AddStringToObject(obj, "scheme", qc_scheme_name(v->scheme)) != NULL;
    if (v->set & QC_SET_WEIGHT_BITS)
        ok &= cJSON_AddNumberToObject(obj, "weight_bits", v->weight_bits) != NULL;
    if (v->set & QC_SET_ACT_BITS)
        ok &= cJSON_AddNumberToObject(obj, "act_bits", v->act_bits) != NULL;
    if (v->set & QC_SET_GRANULARITY)
        ok &= cJSON_AddStringToObject(obj, "granularity", qc_granularity_name(v->weights)) != NULL;
    if (v->set & QC_SET_METHOD)
        ok &= cJSON_AddStringToObject(obj, "method", qc_range_method_name(v->method)) != NULL;
    if (v->set & QC_SET_N_STD)
        ok &= cJSON_AddNumberToObject(obj, "n", v->n_std) != NULL;
    if (v->set & QC_SET_PERCENTILE)
        ok &= cJSON_AddNumberToObject(obj, "percentile", v->percentile) != NULL;
    if (v->set & QC_SET_ROUND)
        ok &= cJSON_AddStringToObject(obj, "round", qc_round_mode_name(v->round)) != NULL;
    if (v->set & QC_SET_ACT_ROUND)
        ok &= cJSON_AddStringToObject(obj, "act_round", qc_round_mode_name(v->act_round)) != NULL;
    if (v->set & QC_SET_REDUCE_RANGE)
        ok &= cJSON_AddBoolToObject(obj, "reduce_range", v->reduce_range) != NULL;
    if (v->set & QC_SET_EXCLUDE)
        ok &= cJSON_AddBoolToObject(obj, "exclude", v->exclude) != NULL;
    return ok;
}

static bool put_overrides(cJSON *root, const qc_quantize_options *o)
{
    static const char *const kinds[] = {"op", "pattern", "name"};
    cJSON *arr = cJSON_AddArrayToObject(root, "overrides");
    bool ok = arr != NULL;
    for (int i = 0; ok && i < o->n_overrides; i++) {
        const qc_node_override *v = &o->overrides[i];
        cJSON *e = cJSON_CreateObject(), *m = NULL;
        ok = e && cJSON_AddItemToArray(arr, e) && (m = cJSON_AddObjectToObject(e, "match")) &&
             cJSON_AddStringToObject(m, kinds[v->match], v->value) && put_settings(e, v);
    }
    return ok;
}

char *qc_config_json(const qc_quantize_options *o)
{
    qc_node_override globals = {.set = ~(unsigned)QC_SET_EXCLUDE, .scheme = o->scheme, .weight_bits = o->weight_bits,
                                .act_bits = o->act_bits, .weights = o->weights, .round = o->round,
                                .act_round = o->act_round, .method = o->method, .n_std = o->range.n_std,
                                .percentile = o->range.percentile, .reduce_range = o->reduce_range};
    cJSON *root = cJSON_CreateObject(), *ex = NULL;
    bool ok = root && put_settings(root, &globals) &&
              cJSON_AddBoolToObject(root, "input_compensation", o->activations == QC_GRANULARITY_COMPENSATED) &&
              cJSON_AddStringToObject(root, "format", qc_qformat_name(o->format)) &&
              cJSON_AddStringToObject(root, "target", qc_target_name(o->target)) &&
              cJSON_AddStringToObject(root, "bias_correction", qc_bias_mode_name(o->bias_correction)) &&
              (ex = cJSON_AddArrayToObject(root, "exclude"));
    for (int i = 0; ok && i < o->n_exclude; i++) {
        cJSON *s = cJSON_CreateString(o->exclude[i]);
        ok = s && cJSON_AddItemToArray(ex, s);
    }
    ok = ok && put_overrides(root, o);
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return text;
}

qc_status qc_config_write(const qc_quantize_options *o, const char *path, qc_error *err)
{
    char *text = qc_config_json(o);
    if (!text)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    qc_file file;
    qc_status st = qc_file_begin(&file, path, err);
    if (st == QC_OK) {
        fprintf(file.f, "%s\n", text);
        if (ferror(file.f)) {
            qc_file_abort(&file);
            st = qc_fail(err, QC_ERR_IO, "cannot write '%s'", path);
        } else {
            st = qc_file_commit(&file, err);
        }
    }
    free(text);
    return st;
}

qc_status qc_config_apply(const char *path, const char *preset, const char *target, qc_quantize_options *q,
                          qc_config *config, qc_error *err)
{
    if (path) {
        qc_status st = qc_config_load(path, q, config, err);
        if (st != QC_OK)
            return st;
        *q = config->options;
    }
    if (preset && !qc_preset_apply(preset, q))
        return qc_fail(err, QC_ERR_USAGE, "--preset takes " QC_PRESET_LIST ", not '%s'", preset);
    if (target && !qc_target_parse(target, &q->target))
        return qc_fail(err, QC_ERR_USAGE, "--target takes generic or tensorrt, not '%s'", target);
    if (target && q->target == QC_TARGET_TENSORRT)
        qc_preset_apply("tensorrt", q);
    return QC_OK;
}
