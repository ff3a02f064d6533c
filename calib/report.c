/* report.c — the figures of qcal compare's HTML page that come from the graphs: each
 * statistics tensor in network order with its layer, its role and, per variant, its error,
 * its range (per channel too) or why the variant has none; and the binomial interval that
 * tells a change of top-1 from the noise of a finite set of images.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"

void qc_report_wilson(int64_t successes, int64_t n, double *lo, double *hi)
{
    if (n <= 0) {
        *lo = *hi = NAN;
        return;
    }
    /* Wilson's score interval: it stays inside [0, 1] and is not degenerate near 0 or 1,
     * where the normal approximation p ± z·sqrt(p(1 − p)/n) is */
    const double z = 1.959963984540054; /* 97.5 % quantile of the standard normal */
    const double p = (double)successes / (double)n, nn = (double)n, z2 = z * z;
    const double centre = (p + z2 / (2.0 * nn)) / (1.0 + z2 / nn);
    const double half = z / (1.0 + z2 / nn) * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));
    *lo = centre - half;
    *hi = centre + half;
}

/* The first node of g that reads tensor t (as input `slot`, or any input when slot < 0). */
static const qc_node *first_reader(const qc_graph *g, int t, int slot)
{
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_inputs; j++)
            if (g->nodes[i].inputs[j] == t && (slot < 0 || slot == j))
                return &g->nodes[i];
    return NULL;
}

static const qc_quantized_tensor *quantized(const qc_quantize_report *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->tensors[i].role, "bias") && !strcmp(r->tensors[i].tensor, name))
            return &r->tensors[i];
    return NULL;
}

/* Channel c's range: the reals of the codes qmin … qmax (eq. P1). */
static void channel_range(const qc_qparams *p, float *lo, float *hi)
{
    *lo = p->scale * (float)(p->qmin - p->zero_point);
    *hi = p->scale * (float)(p->qmax - p->zero_point);
}

/* Why tensor ts has no figures in variant v: it is not in v's graph (fused or left out),
 * compensated, or no image was run. */
static qc_report_why why_missing(const qc_tensor_stats *ts, const qc_eval_variant *v,
                                 const qc_quantized_tensor *qt, int64_t layer_images)
{
    if (qt && qt->compensated && ts->role == QC_ROLE_WEIGHT)
        return QC_REPORT_COMPENSATED;
    if (ts->role != QC_ROLE_WEIGHT && layer_images == 0)
        return QC_REPORT_NO_IMAGES;
    if (!qt && ts->role != QC_ROLE_WEIGHT && qc_graph_find_tensor(v->g, ts->name) < 0)
        return QC_REPORT_FUSED;
    return qt ? QC_REPORT_NOT_MEASURED : QC_REPORT_NOT_QUANTIZED;
}

static void fill_layer(const qc_tensor_stats *ts, const qc_eval_variant *v, int si, int64_t layer_images,
                       qc_report_layer *out)
{
    const qc_layer_error *l = &v->layers[si];
    const qc_quantized_tensor *qt = quantized(&v->report, ts->name);
    *out = (qc_report_layer){.why = QC_REPORT_MEASURED, .sqnr_db = NAN, .cosine = NAN, .max_abs_err = NAN,
                             .clipped = NAN, .codes_used = NAN};
    if (l->acc.samples) {
        qc_error_metrics e;
        qc_error_acc_finish(&l->acc, &e);
        out->sqnr_db = e.sqnr_db;
        out->cosine = e.cosine;
        out->max_abs_err = e.max_abs_err;
    } else {
        out->why = why_missing(ts, v, qt, layer_images);
    }
    if (l->has_codes) {
        out->clipped = qc_code_hist_clipped(&l->codes);
        out->codes_used = qc_code_hist_used(&l->codes);
    }
    if (!l->has_range)
        return;
    out->has_range = true;
    out->lo = l->lo;
    out->hi = l->hi;
    if (!qt || qt->n_channels < 1)
        return;
    /* what the codes represent: the report's min and max are the method's range before the
     * scheme widens it (symmetric) and nudges it (zero point), and channel 0's per channel */
    for (int c = 0; c < qt->n_channels; c++) {
        float lo, hi;
        channel_range(&qt->params[c], &lo, &hi);
        if (c == 0) {
            out->lo_band[0] = out->lo_band[1] = lo;
            out->hi_band[0] = out->hi_band[1] = hi;
        }
        out->lo_band[0] = fminf(out->lo_band[0], lo);
        out->lo_band[1] = fmaxf(out->lo_band[1], lo);
        out->hi_band[0] = fminf(out->hi_band[0], hi);
        out->hi_band[1] = fmaxf(out->hi_band[1], hi);
    }
    out->lo = out->lo_band[0];
    out->hi = out->hi_band[1];
    out->n_channels = qt->n_channels > 1 ? qt->n_channels : 0;
}

qc_status qc_report_tensors_create(const qc_graph *fp32, const qc_stats *s, const qc_eval_variant *v,
                                   int n_variants, int64_t layer_images, qc_report_tensor **out,
                                   qc_error *err)
{
    const size_t nt = (size_t)s->n_tensors, nv = (size_t)n_variants;
    qc_report_tensor *t = calloc(1, nt * sizeof *t + nt * nv * sizeof(qc_report_layer) + 1);
    *out = t;
    if (!t)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    qc_report_layer *layers = (qc_report_layer *)(t + nt);
    for (int i = 0; i < s->n_tensors; i++) {
        const qc_tensor_stats *ts = &s->tensors[i];
        int gt = qc_graph_find_tensor(fp32, ts->name);
        const qc_node *reader = gt >= 0 ? first_reader(fp32, gt, ts->role == QC_ROLE_WEIGHT ? 1 : -1) : NULL;
        t[i] = (qc_report_tensor){.name = ts->name, .role = ts->role, .min = ts->t.min, .max = ts->t.max,
                                  .hist = ts->hist.counts ? &ts->hist : NULL, .layers = layers + (size_t)i * nv};
        t[i].layer = reader && ts->role == QC_ROLE_WEIGHT ? reader->name : NULL;
        t[i].reader = reader ? reader->op_type : NULL;
        for (int o = 0; o < fp32->n_outputs; o++)
            t[i].output |= fp32->outputs[o] == gt && gt >= 0;
        for (int k = 0; k < n_variants; k++)
            fill_layer(ts, &v[k], i, layer_images, &layers[(size_t)i * nv + (size_t)k]);
    }
    return QC_OK;
}

/* The page's variant k: compare's granularity split into the weights' and the activations'. */
static qc_report_variant page_variant(const qc_compare_spec *v)
{
    return (qc_report_variant){v->name, v->scheme, qc_granularity_weights(v->granularity),
                               qc_granularity_activations(v->granularity), v->method, v->bits};
}

/* Variant k of m as the page shows it. */
static qc_report_result page_result(const qc_compare_model *m, const qc_compare_page *p, int k)
{
    int which;
    double sq = qc_compare_min_sqnr(m, k, &which);
    return (qc_report_result){
        .correct = m->var[k].correct, .top1 = qc_compare_top1(m, k), .agreement = qc_compare_agreement(m, k),
        .kl = m->n ? m->var[k].kl_sum / (double)m->n : 0.0,
        .speedup = m->var[k].seconds > 0 ? m->fp32_seconds / m->var[k].seconds : NAN,
        .drop = qc_compare_drop(m, k), .min_sqnr = sq,
        .min_sqnr_tensor = which >= 0 ? m->stats->tensors[which].name : NULL,
        .gated = qc_compare_gated(m, p->v, p->n, k, p->gates->gate)};
}

qc_status qc_compare_html_write(const qc_compare_model *ms, int n_models, const qc_compare_page *p, const char *path,
                                qc_error *err)
{
    qc_status status = QC_OK;
    qc_report_variant variants[QC_COMPARE_MAX_VARIANTS];
    qc_report_model *rm = calloc((size_t)n_models, sizeof *rm);
    qc_report_result *results = calloc((size_t)n_models * (size_t)(p->n > 0 ? p->n : 1), sizeof *results);
    if (!rm || !results)
        status = qc_fail(err, QC_ERR_IO, "out of memory");
    for (int k = 0; k < p->n; k++)
        variants[k] = page_variant(&p->v[k]);
    for (int mi = 0; mi < n_models && status == QC_OK; mi++) {
        const qc_compare_model *m = &ms[mi];
        const int64_t layer_images = p->layer_images < m->n ? p->layer_images : m->n;
        for (int k = 0; k < p->n; k++)
            results[mi * p->n + k] = page_result(m, p, k);
        qc_report_tensor *tensors = NULL;
        status = qc_report_tensors_create(m->g, m->stats, m->ev, p->n, layer_images, &tensors, err);
        rm[mi] = (qc_report_model){.name = m->path, .images = m->n, .labelled = m->labelled,
                                    .layer_images = layer_images, .fp32_top1 = qc_compare_fp32_top1(m),
                                    .results = &results[mi * p->n], .n_tensors = m->stats->n_tensors,
                                    .tensors = tensors, .sensitivity = p->sensitivity ? m->sens : NULL,
                                    .adequacy = m->groups ? &m->adequacy : NULL};
    }
    qc_report r = {.title = p->title, .version = p->version, .calib = p->calib, .val = p->val,
                   .n_variants = p->n, .variants = variants, .n_models = n_models, .models = rm,
                   .has_max_drop = !isnan(p->gates->max_drop), .max_drop = p->gates->max_drop,
                   .has_min_sqnr = !isnan(p->gates->min_sqnr), .min_sqnr = p->gates->min_sqnr,
                   .gate = p->gates->gate, .n_failures = p->n_failures, .failures = p->failures};
    if (status == QC_OK)
        status = qc_report_html_write(&r, path, err);
    for (int mi = 0; rm && mi < n_models; mi++)
        free((void *)rm[mi].tensors);
    free(rm);
    free(results);
    return status;
}

qc_status qc_compare_adequacy(qc_compare_model *m, const qc_compare_spec *v, qc_error *err)
{
    /* CALIB of one group has nothing to resample, and the page says nothing */
    if (m->stats->images <= QC_STATS_GROUP) {
        qc_group_table_destroy(m->groups);
        m->groups = NULL;
        return QC_OK;
    }
    qc_adequacy_settings a = QC_ADEQUACY_DEFAULT;
    a.method = v->method;
    a.scheme = v->scheme;
    a.bits = v->bits;
    qc_range_params params;
    qc_range_params_default(&params);
    return qc_adequacy_judge(m->stats, m->groups, &a, &params, &m->adequacy, err);
}

void qc_quantized_spread(const qc_quantized_tensor *t, float *scale_lo, float *scale_hi, int32_t *zero_lo,
                         int32_t *zero_hi)
{
    *scale_lo = *scale_hi = t->params[0].scale;
    *zero_lo = *zero_hi = t->params[0].zero_point;
    for (int c = 1; c < t->n_channels; c++) {
        *scale_lo = fminf(*scale_lo, t->params[c].scale);
        *scale_hi = fmaxf(*scale_hi, t->params[c].scale);
        *zero_lo = t->params[c].zero_point < *zero_lo ? t->params[c].zero_point : *zero_lo;
        *zero_hi = t->params[c].zero_point > *zero_hi ? t->params[c].zero_point : *zero_hi;
    }
}
