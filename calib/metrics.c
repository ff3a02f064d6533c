/* metrics.c — how far a quantized tensor is from its FP32 reference: SQNR, cosine, max error,
 * clipping and code usage, and the KL divergence of two logit vectors' softmax.
 *
 * Every sum is a double accumulated in element order, one sample at a time, and samples are
 * added to the totals in the order the caller gives them: the same samples in the same order
 * give the same bits on any machine, whatever the thread count of the caller (which keeps
 * one accumulator per image and adds them up in image order).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"

void qc_error_acc_init(qc_error_acc *a)
{
    memset(a, 0, sizeof *a);
}

void qc_error_acc_add(qc_error_acc *a, const float *ref, const float *q, int64_t n)
{
    /* One sample's sums first, then added to the totals: a sample contributes the same
     * doubles whether it is added directly or through qc_error_acc_merge. */
    double r2 = 0.0, q2 = 0.0, e2 = 0.0, rq = 0.0, max_abs = 0.0;
    int64_t nonfinite = 0;
    for (int64_t i = 0; i < n; i++) {
        const double r = ref[i], v = q[i];
        if (!isfinite(r) || !isfinite(v)) {
            nonfinite++;
            continue;
        }
        const double e = r - v; /* exact: both are floats */
        r2 += r * r;
        q2 += v * v;
        e2 += e * e;
        rq += r * v;
        if (fabs(e) > max_abs)
            max_abs = fabs(e);
    }
    a->count += n - nonfinite;
    a->nonfinite += nonfinite;
    a->sum_ref2 += r2;
    a->sum_q2 += q2;
    a->sum_err2 += e2;
    a->sum_dot += rq;
    if (max_abs > a->max_abs_err)
        a->max_abs_err = max_abs;
    a->samples++;
}

void qc_error_acc_merge(qc_error_acc *dst, const qc_error_acc *src)
{
    dst->count += src->count;
    dst->nonfinite += src->nonfinite;
    dst->samples += src->samples;
    dst->sum_ref2 += src->sum_ref2;
    dst->sum_q2 += src->sum_q2;
    dst->sum_err2 += src->sum_err2;
    dst->sum_dot += src->sum_dot;
    if (src->max_abs_err > dst->max_abs_err)
        dst->max_abs_err = src->max_abs_err;
}

double qc_sqnr_db(double signal, double noise)
{
    if (noise == 0.0)
        return INFINITY; /* equal tensors, the all-zero pair included */
    if (signal == 0.0)
        return -INFINITY; /* only noise */
    return 10.0 * log10(signal / noise);
}

void qc_error_acc_finish(const qc_error_acc *a, qc_error_metrics *m)
{
    m->count = a->count;
    m->nonfinite = a->nonfinite;
    m->sqnr_db = qc_sqnr_db(a->sum_ref2, a->sum_err2);
    if (a->sum_ref2 == 0.0 && a->sum_q2 == 0.0)
        m->cosine = 1.0; /* two zero vectors point the same (no) way */
    else if (a->sum_ref2 == 0.0 || a->sum_q2 == 0.0)
        m->cosine = 0.0;
    else {
        double c = a->sum_dot / (sqrt(a->sum_ref2) * sqrt(a->sum_q2));
        m->cosine = c > 1.0 ? 1.0 : c < -1.0 ? -1.0 : c; /* rounding may step past ±1 */
    }
    m->max_abs_err = a->max_abs_err;
    m->mse = a->count > 0 ? a->sum_err2 / (double)a->count : 0.0;
}

/* ---- integer codes ------------------------------------------------------------------------ */

qc_status qc_code_hist_init(qc_code_hist *h, int32_t qmin, int32_t qmax, const char *tensor,
                            qc_error *err)
{
    memset(h, 0, sizeof *h);
    if (qmin > qmax || (int64_t)qmax - qmin >= QC_CODE_HIST_MAX)
        return qc_fail(err, QC_ERR_INPUT,
                       "tensor '%s': cannot count codes of the range [%d, %d]", tensor,
                       (int)qmin, (int)qmax);
    h->codes = calloc((size_t)((int64_t)qmax - qmin + 1), sizeof *h->codes);
    if (!h->codes)
        return qc_fail(err, QC_ERR_IO, "tensor '%s': out of memory", tensor);
    h->qmin = qmin;
    h->qmax = qmax;
    return QC_OK;
}

void qc_code_hist_free(qc_code_hist *h)
{
    free(h->codes);
    h->codes = NULL;
}

void qc_code_hist_add(qc_code_hist *h, int64_t outer, int64_t channels, int64_t inner,
                      const float *x, const qc_qparams *p, qc_round_mode mode)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < channels; c++) {
            const qc_qparams *pc = &p[c];
            const float *xc = x + (o * channels + c) * inner;
            for (int64_t i = 0; i < inner; i++) {
                int32_t code;
                if (isnan(xc[i]))
                    code = pc->zero_point; /* as qc_quantize_value */
                else {
                    /* the unclamped code, computed as qc_quantize_value does (eq. P12) */
                    const double v = (double)qc_round(xc[i] / pc->scale, mode) + pc->zero_point;
                    if (v < pc->qmin) {
                        h->clipped_low++;
                        code = pc->qmin;
                    } else if (v > pc->qmax) {
                        h->clipped_high++;
                        code = pc->qmax;
                    } else
                        code = (int32_t)v;
                }
                /* a channel with a wider range than the histogram's counts at its ends */
                if (code < h->qmin)
                    code = h->qmin;
                if (code > h->qmax)
                    code = h->qmax;
                h->codes[code - h->qmin]++;
                h->count++;
            }
        }
}

qc_status qc_code_hist_merge(qc_code_hist *dst, const qc_code_hist *src, qc_error *err)
{
    if (dst->qmin != src->qmin || dst->qmax != src->qmax)
        return qc_fail(err, QC_ERR_INPUT, "cannot merge code counts of [%d, %d] into [%d, %d]",
                       (int)src->qmin, (int)src->qmax, (int)dst->qmin, (int)dst->qmax);
    for (int64_t k = 0; k <= (int64_t)dst->qmax - dst->qmin; k++)
        dst->codes[k] += src->codes[k];
    dst->count += src->count;
    dst->clipped_low += src->clipped_low;
    dst->clipped_high += src->clipped_high;
    return QC_OK;
}

double qc_code_hist_clipped(const qc_code_hist *h)
{
    return h->count > 0 ? (double)(h->clipped_low + h->clipped_high) / (double)h->count : 0.0;
}

int64_t qc_code_hist_distinct(const qc_code_hist *h)
{
    int64_t used = 0;
    for (int64_t k = 0; k <= (int64_t)h->qmax - h->qmin; k++)
        used += h->codes[k] != 0;
    return used;
}

double qc_code_hist_used(const qc_code_hist *h)
{
    return (double)qc_code_hist_distinct(h) / (double)((int64_t)h->qmax - h->qmin + 1);
}

/* ---- logits ------------------------------------------------------------------------------- */

/* log softmax(x)_i = x_i − m − log Σ_j exp(x_j − m), m = max x: no overflow for any finite x */
static double log_sum_exp_shift(const float *x, int n, double *max_out)
{
    double m = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > m)
            m = x[i];
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += exp((double)x[i] - m);
    *max_out = m;
    return log(s);
}

double qc_kl_softmax(const float *ref, const float *q, int n)
{
    if (n < 1)
        return 0.0;
    for (int i = 0; i < n; i++)
        if (!isfinite(ref[i]) || !isfinite(q[i]))
            return NAN;
    double mr, mq;
    const double lr = log_sum_exp_shift(ref, n, &mr), lq = log_sum_exp_shift(q, n, &mq);
    double kl = 0.0;
    for (int i = 0; i < n; i++) {
        const double log_p = (double)ref[i] - mr - lr, log_q = (double)q[i] - mq - lq;
        kl += exp(log_p) * (log_p - log_q);
    }
    return kl > 0.0 ? kl : 0.0; /* KL ≥ 0; rounding may leave −1e-17 for equal vectors */
}

/* Sum of max(x_i, floor), for the renormalisation; NaN when a value is not finite or < 0. */
static double floored_sum(const float *x, int n)
{
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || x[i] < 0.0f)
            return NAN;
        s += x[i] > QC_KL_FLOOR ? (double)x[i] : QC_KL_FLOOR;
    }
    return s;
}

double qc_kl_probabilities(const float *ref, const float *q, int n)
{
    if (n < 1)
        return 0.0;
    const double sp = floored_sum(ref, n), sq = floored_sum(q, n);
    if (isnan(sp) || isnan(sq))
        return NAN;
    double kl = 0.0;
    for (int i = 0; i < n; i++) {
        const double p = (ref[i] > QC_KL_FLOOR ? (double)ref[i] : QC_KL_FLOOR) / sp;
        const double qi = (q[i] > QC_KL_FLOOR ? (double)q[i] : QC_KL_FLOOR) / sq;
        kl += p * log(p / qi);
    }
    return kl > 0.0 ? kl : 0.0;
}

bool qc_output_is_probabilities(const qc_graph *g, int output)
{
    if (output < 0 || output >= g->n_outputs)
        return false;
    const int producer = g->tensors[g->outputs[output]].producer;
    return producer >= 0 && !strcmp(g->nodes[producer].op_type, "Softmax") &&
           !g->nodes[producer].domain[0];
}

/* ---- the spread of timings ----------------------------------------------------------------- */

double qc_percentile_nearest_rank(const double *sorted, int64_t n, double p)
{
    /* rank ceil(p·n/100), 1-based; p·n is formed first so that whole products stay exact
     * (90 % of 20 runs is rank 18, not 19) */
    double rank = ceil(p * (double)n / 100.0);
    int64_t r = rank < 1 ? 1 : rank > (double)n ? n : (int64_t)rank;
    return sorted[r - 1];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void qc_spread_of(const double *x, int64_t n, qc_spread *out)
{
    double *s = malloc(sizeof *s * (size_t)n);
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += x[i];
    out->mean = sum / (double)n;
    if (!s) { /* no sorted copy: what needs no order */
        out->min = out->max = out->median = out->p90 = out->p99 = out->mean;
        return;
    }
    memcpy(s, x, sizeof *s * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    out->min = s[0];
    out->max = s[n - 1];
    out->median = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    out->p90 = qc_percentile_nearest_rank(s, n, 90);
    out->p99 = qc_percentile_nearest_rank(s, n, 99);
    free(s);
}
