/* bias-correction.c — the bias of a quantized Conv or Gemm corrected for the mean error its
 * quantized weights add (docs/qparams.md Q15), from the statistics alone.
 *
 * A layer computes y_c = Σ_{j,k} w_{c,j,k} · x_{j,k} + b_c over input channels j and kernel
 * taps k. With the weights quantized, ŵ = dequantize(quantize(w)), the output moves by
 * Σ ŵ·x − Σ w·x, whose mean over the calibration images is
 *     e_c = Σ_{j,k} (ŵ_{c,j,k} − w_{c,j,k}) · μ_j · v_k
 * where μ_j is the mean of input channel j (the statistics' exact per-channel sums) and v_k
 * the share of output positions where tap k reads inside the input rather than zero padding.
 * The corrected bias b_c − e_c makes the quantized layer's mean output the FP32 one. The
 * means are those of the FP32 input: the input's own quantization error has mean ≈ 0 with
 * round-to-nearest, so this is the correction measured on the quantized input up to that. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quantize-impl.h"

/* Mean of each of the n input channels of tensor x over the calibration images: per channel
 * when the statistics have channels along axis 1, else the tensor's mean for all. false when
 * the statistics do not hold x. */
static bool input_means(const qz *q, int x, int64_t n, double *mu)
{
    int si = qc_stats_find(q->s, q->g->tensors[x].name);
    if (si < 0)
        return false;
    const qc_tensor_stats *ts = &q->s->tensors[si];
    if (ts->samples < 1 || ts->numel < 1)
        return false;
    if (ts->ch && ts->axis == 1 && ts->channels == n) {
        const double per = (double)ts->samples * (double)(ts->numel / ts->channels);
        for (int64_t j = 0; j < n; j++)
            mu[j] = qc_fix_to_double(&ts->ch[j].sum) / per;
    } else {
        const double m = qc_fix_to_double(&ts->t.sum) / ((double)ts->samples * (double)ts->numel);
        for (int64_t j = 0; j < n; j++)
            mu[j] = m;
    }
    return true;
}

/* For a Conv: v[k] over the taps of one kernel (row-major over the spatial dims), the share
 * of output positions whose tap k lands inside the input. false for a geometry it cannot
 * read (then every v_k is taken as 1). */
static bool tap_shares(const qc_node *n, const qc_value *x, const qc_value *y, const qc_value *w, double *v)
{
    const int sp = w->rank - 2;
    int64_t taps = 1;
    for (int d = 0; d < sp; d++)
        taps *= w->dims[2 + d];
    for (int64_t k = 0; k < taps; k++)
        v[k] = 1.0;
    if (x->rank != w->rank || y->rank != w->rank)
        return false;
    const qc_attr *pads = qc_node_attr(n, "pads"), *strides = qc_node_attr(n, "strides"),
                  *dil = qc_node_attr(n, "dilations"), *ap = qc_node_attr(n, "auto_pad");
    const char *auto_pad = ap && ap->type == QC_ATTR_STRING ? ap->s : "NOTSET";
    for (int d = 0; d < sp; d++) {
        const int64_t in = x->dims[2 + d], out = y->dims[2 + d], kd = w->dims[2 + d];
        const int64_t s = strides && strides->n == sp ? strides->ints[d] : 1;
        const int64_t di = dil && dil->n == sp ? dil->ints[d] : 1;
        int64_t begin = 0;
        if (!strcmp(auto_pad, "SAME_UPPER") || !strcmp(auto_pad, "SAME_LOWER")) {
            int64_t total = (out - 1) * s + (kd - 1) * di + 1 - in;
            total = total > 0 ? total : 0;
            begin = !strcmp(auto_pad, "SAME_UPPER") ? total / 2 : total - total / 2;
        } else if (strcmp(auto_pad, "VALID")) {
            begin = pads && pads->n == 2 * sp ? pads->ints[d] : 0;
        }
        if (out < 1 || s < 1 || di < 1)
            return false;
        /* the stride of dimension d in the flattened taps */
        int64_t inner = 1;
        for (int e = d + 1; e < sp; e++)
            inner *= w->dims[2 + e];
        for (int64_t t = 0; t < kd; t++) {
            int64_t inside = 0;
            for (int64_t o = 0; o < out; o++) {
                const int64_t i = o * s + t * di - begin;
                inside += i >= 0 && i < in;
            }
            const double share = (double)inside / (double)out;
            for (int64_t k = 0; k < taps; k++)
                if ((k / inner) % kd == t)
                    v[k] *= share;
        }
    }
    return true;
}

/* e_c of eq. Q15 for every output channel of node n (Conv, or Gemm / MatMul on a 2-D input),
 * added into e (m channels). false when it does not apply (then e is untouched). */
static bool mean_error(const qz *q, const qc_node *n, int wt, int64_t m, double *e)
{
    const qc_graph *g = q->g;
    const qc_value *w = &g->tensors[wt].value, *x = &g->tensors[n->inputs[0]].value;
    const qz_tensor *r = &q->tens[wt];
    const qc_round_mode round = qz_node_options(q, (int)(n - g->nodes))->round;
    const bool conv = qz_is_op(n, "Conv");
    const bool trans = conv || qc_node_attr_int(n, "transB", 0); /* w[c][j…] rather than w[j][c] */
    if (!r->wp || w->dtype != QC_FLOAT || !w->data || (conv ? w->rank < 3 : w->rank != 2) ||
        (!conv && x->rank != 2))
        return false;
    const qc_attr *alpha = qc_node_attr(n, "alpha"), *beta = qc_node_attr(n, "beta");
    if ((alpha && alpha->f != 1.0f) || (beta && beta->f != 1.0f)) /* Gemm's scaled forms */
        return false;
    const int64_t cout = trans ? w->dims[0] : w->dims[1], cin_g = trans ? w->dims[1] : w->dims[0];
    if (cout != m)
        return false;
    const int64_t group = conv ? qc_node_attr_int(n, "group", 1) : 1;
    const int64_t cin = cin_g * group, per_group = group > 0 ? cout / group : 0;
    int64_t taps = 1;
    for (int d = 2; conv && d < w->rank; d++)
        taps *= w->dims[d];
    double *mu = malloc((size_t)cin * sizeof *mu), *v = malloc((size_t)taps * sizeof *v);
    bool ok = mu && v && per_group > 0 && input_means(q, n->inputs[0], cin, mu);
    if (ok && conv)
        tap_shares(n, x, &g->tensors[n->outputs[0]].value, w, v);
    else if (ok)
        v[0] = 1.0;
    const float *wf = w->data;
    for (int64_t c = 0; ok && c < cout; c++) {
        const qc_qparams *p = &r->wp[r->wgran == QC_GRANULARITY_TENSOR ? 0 : c];
        const int64_t first = conv ? (c / per_group) * cin_g : 0;
        double sum = 0.0;
        for (int64_t j = 0; j < cin_g; j++)
            for (int64_t k = 0; k < taps; k++) {
                const int64_t at = trans ? (c * cin_g + j) * taps + k : j * cout + c;
                const double dw = (double)qc_fake_quantize(wf[at], p, round) - (double)wf[at];
                sum += dw * mu[first + j] * v[k];
            }
        e[c] += sum;
    }
    free(mu);
    free(v);
    return ok;
}

bool qz_correct_bias(const qz *q, const qc_node *n, int wt, const float *bias, int64_t m, float *out)
{
    double *e = calloc((size_t)(m ? m : 1), sizeof *e);
    bool ok = e && mean_error(q, n, wt, m, e);
    for (int64_t c = 0; ok && c < m; c++)
        out[c] = (float)((double)bias[c] - e[c]);
    free(e);
    return ok;
}
