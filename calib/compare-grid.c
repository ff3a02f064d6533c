/* compare-grid.c — what qcal compare compares and judges: the grid of variants built from
 * its lists (scheme x granularity x method x bits, each variant named), and the accuracy
 * gates read off the results (which variants are gated, what fails). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"

static bool parse_scheme_item(const char *v, void *scheme)
{
    return qc_scheme_parse(v, scheme);
}

static bool parse_granularity_item(const char *v, void *granularity)
{
    return qc_granularity_parse(v, granularity);
}

/* A range method, or auto */
static bool parse_method_item(const char *v, void *method)
{
    if (!strcmp(v, "auto")) {
        *(qc_range_method *)method = QC_METHOD_AUTO;
        return true;
    }
    int m = qc_range_method_parse(v);
    if (m >= 0)
        *(qc_range_method *)method = (qc_range_method)m;
    return m >= 0;
}

static bool parse_bits_item(const char *v, void *bits)
{
    char *end;
    long b = strtol(v, &end, 10);
    if (end == v || *end || b < QC_BITS_MIN || b > QC_BITS_MAX)
        return false;
    *(int *)bits = (int)b;
    return true;
}

/* The items of the list option's value (every value when it is "all", as stats --method all),
 * each read by parse into items (size bytes each); the count, or -1 (err set, QC_ERR_USAGE). */
static int parse_list(const char *option, const char *list, const char *every, const char *expects,
                      bool (*parse)(const char *, void *), void *items, size_t size, qc_error *err)
{
    char buf[256];
    int n = 0;
    bool fits = snprintf(buf, sizeof buf, "%s", strcmp(list, "all") ? list : every) < (int)sizeof buf;
    for (char *save = NULL, *t = fits ? strtok_r(buf, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save), n++) {
        if (n == QC_COMPARE_MAX_LIST)
            return qc_fail(err, QC_ERR_USAGE, "%s takes at most %d items, not '%s'", option, QC_COMPARE_MAX_LIST,
                           list), -1;
        if (!parse(t, (char *)items + (size_t)n * size))
            return qc_fail(err, QC_ERR_USAGE, "%s takes a list of %s, not '%s'", option, expects, t), -1;
    }
    if (n == 0)
        return qc_fail(err, QC_ERR_USAGE, "%s takes a list of %s, not '%s'", option, expects, list), -1;
    return n;
}

/* "scheme/granularity", then "/method" and "/Nbit" when the grid names them. */
static void name_variant(qc_compare_spec *v, bool name_method, bool name_bits)
{
    int len = snprintf(v->name, sizeof v->name, "%s/%s", qc_scheme_name(v->scheme),
                       qc_granularity_name(v->granularity));
    if (name_method)
        len += snprintf(v->name + len, sizeof v->name - (size_t)len, "/%s", qc_method_name(v->method));
    if (name_bits)
        snprintf(v->name + len, sizeof v->name - (size_t)len, "/%dbit", v->bits);
}

qc_status qc_compare_grid(const qc_compare_lists *l, qc_compare_spec *v, int *n, qc_error *err)
{
    char every_method[256] = "";
    for (int m = 0; m < QC_RANGE_COUNT; m++)
        snprintf(every_method + strlen(every_method), sizeof every_method - strlen(every_method), "%s%s",
                 m ? "," : "", qc_range_method_name((qc_range_method)m));
    qc_scheme schemes[QC_COMPARE_MAX_LIST];
    qc_granularity grans[QC_COMPARE_MAX_LIST];
    qc_range_method methods[QC_COMPARE_MAX_LIST];
    int bits[QC_COMPARE_MAX_LIST];
    int ns = parse_list("--schemes", l->schemes, "gemmlowp,symlowp,mixed", "gemmlowp, symlowp, mixed or all",
                        parse_scheme_item, schemes, sizeof *schemes, err);
    int ng = ns < 0 ? -1 : parse_list("--granularity", l->granularities, "tensor,channel,compensated",
                                      "tensor, channel, compensated or all", parse_granularity_item, grans,
                                      sizeof *grans, err);
    int nm = ng < 0 ? -1 : parse_list("--methods", l->methods, every_method,
                                      "minmax, avg, avgstd, meanstd, percentile, entropy, mse, auto or all",
                                      parse_method_item, methods, sizeof *methods, err);
    int nb = nm < 0 ? -1 : parse_list("--bits", l->bits, "", "bit widths from 2 to 8", parse_bits_item, bits,
                                      sizeof *bits, err);
    if (nb < 0)
        return QC_ERR_USAGE;
    if (ns * ng * nm * nb > QC_COMPARE_MAX_VARIANTS)
        return qc_fail(err, QC_ERR_USAGE, "at most %d variants", QC_COMPARE_MAX_VARIANTS);
    /* the method and the width are in the name only when the grid has more than the default */
    bool name_method = nm > 1 || methods[0] != QC_RANGE_MINMAX, name_bits = nb > 1 || bits[0] != 8;
    *n = 0;
    for (int a = 0; a < nm; a++)
        for (int b = 0; b < nb; b++)
            for (int c = 0; c < ns; c++)
                for (int d = 0; d < ng; d++) {
                    v[*n] = (qc_compare_spec){schemes[c], grans[d], methods[a], bits[b], ""};
                    name_variant(&v[(*n)++], name_method, name_bits);
                }
    for (int i = 0; i < *n; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(v[i].name, v[j].name))
                return qc_fail(err, QC_ERR_USAGE, "variant '%s' is listed twice", v[i].name);
    return QC_OK;
}

bool qc_compare_gated(const qc_compare_model *m, const qc_compare_spec *v, int n, int k, const char *gate)
{
    if (gate)
        return !strcmp(gate, "all") || !strcmp(gate, v[k].name);
    for (int j = 0; j < n; j++)
        if (j != k && (qc_compare_more_faithful(m, j, k) || (j < k && !qc_compare_more_faithful(m, k, j))))
            return false;
    return true;
}

double qc_compare_min_sqnr(const qc_compare_model *m, int k, int *which)
{
    return qc_eval_min_sqnr(m->stats, m->ev[k].layers, which);
}

int qc_compare_gate_failures(const qc_compare_model *m, const qc_compare_spec *v, int n, const qc_compare_gates *g,
                             char (*failures)[256], int n_fail)
{
    for (int k = 0; k < n; k++) {
        if (!qc_compare_gated(m, v, n, k, g->gate))
            continue;
        double drop = qc_compare_drop(m, k);
        if (drop > g->max_drop)
            snprintf(failures[n_fail++], sizeof *failures,
                     "variant '%s' of '%s' drops %s by %.2f points (--max-drop %g)", v[k].name, m->path,
                     m->labelled ? "top-1" : "agreement with FP32", drop, g->max_drop);
        int which;
        double sq = qc_compare_min_sqnr(m, k, &which);
        if (which >= 0 && sq < g->min_sqnr)
            snprintf(failures[n_fail++], sizeof *failures,
                     "variant '%s' of '%s': tensor '%s' has an SQNR of %.2f dB (--min-sqnr %g)", v[k].name, m->path,
                     m->stats->tensors[which].name, sq, g->min_sqnr);
    }
    return n_fail;
}

bool qc_compare_failures(const qc_compare_model *ms, int n_models, const qc_compare_spec *v, int n,
                         const qc_compare_gates *g, char ***out, int *n_out)
{
    /* two sentences at most per variant: the pointers, then the sentences, in one block */
    size_t room = (size_t)n_models * (size_t)n * 2;
    char **list = calloc(room ? room : 1, sizeof(char *) + 256);
    *out = list;
    *n_out = 0;
    if (!list)
        return false;
    char (*text)[256] = (char (*)[256])(list + room);
    for (int mi = 0; mi < n_models; mi++)
        *n_out = qc_compare_gate_failures(&ms[mi], v, n, g, text, *n_out);
    for (int i = 0; i < *n_out; i++)
        list[i] = text[i];
    return true;
}

bool qc_compare_gate_known(const qc_compare_spec *v, int n, const char *gate)
{
    bool found = !gate || !strcmp(gate, "all");
    for (int k = 0; k < n && !found; k++)
        found = !strcmp(v[k].name, gate);
    return found;
}
