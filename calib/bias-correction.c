/* bias-correction.c — the bias of a quantized Conv or Gemm corrected for the mean error its
 * quantized weights add (docs/qparams.md Q15).
 *
 * A layer computes y_c = Σ_{j,k} w_{c,j,k} · x_{j,k} + b_c over input channels j and kernel
 * taps k. With the weights quantized, ŵ = dequantize(quantize(w)), the output moves by
 * Σ ŵ·x − Σ w·x, whose mean over the calibration images and output positions is
 *     e_c = Σ_{j,k} (ŵ_{c,j,k} − w_{c,j,k}) · m_{j,k}
 * where m_{j,k} is the mean of what tap k of input channel j reads (zero in the padding).
 * The corrected bias b_c − e_c makes the quantized layer's mean output the FP32 one.
 *   analytic:  m_{j,k} = μ_j · v_k, μ_j the FP32 input's channel mean (the statistics' exact
 *              per-channel sums), v_k the share of output positions where tap k reads inside
 *              the input rather than padding;
 *   empirical: m_{j,k} measured on the quantized network's own input to the layer
 *              (bias-empirical.c), so the errors of the layers before are included. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quantize-impl.h"

static const char *const bias_mode_names[] = {"none", "analytic", "empirical"};

const char *qc_bias_mode_name(qc_bias_mode m)
{
    return (unsigned)m < 3 ? bias_mode_names[m] : "?";
}

bool qc_bias_mode_parse(const char *name, qc_bias_mode *out)
{
    for (int m = 0; m < 3; m++)
        if (!strcmp(name, bias_mode_names[m])) {
            *out = (qc_bias_mode)m;
            return true;
        }
    return false;
}

/* The geometry of one spatial dimension of a Conv: where its padding begins. */
static int64_t pad_begin(const qc_node *n, int d, int sp, int64_t in, int64_t out, int64_t kd, int64_t s,
                         int64_t di)
{
    const qc_attr *pads = qc_node_attr(n, "pads"), *ap = qc_node_attr(n, "auto_pad");
    const char *auto_pad = ap && ap->type == QC_ATTR_STRING ? ap->s : "NOTSET";
    if (!strcmp(auto_pad, "SAME_UPPER") || !strcmp(auto_pad, "SAME_LOWER")) {
        int64_t total = (out - 1) * s + (kd - 1) * di + 1 - in;
        total = total > 0 ? total : 0;
        return !strcmp(auto_pad, "SAME_UPPER") ? total / 2 : total - total / 2;
    }
    if (!strcmp(auto_pad, "VALID"))
        return 0;
    return pads && pads->n == 2 * sp ? pads->ints[d] : 0;
}

bool qz_bias_layer_of(const qc_graph *g, const qc_node *n, qz_bias_layer *l)
{
    *l = (qz_bias_layer){.conv = qz_is_op(n, "Conv")};
    if (n->n_inputs < 2 || n->inputs[1] < 0 || n->n_outputs < 1)
        return false;
    const qc_value *w = &g->tensors[n->inputs[1]].value, *x = &g->tensors[n->inputs[0]].value,
                   *y = &g->tensors[n->outputs[0]].value;
    if (!l->conv && !qz_is_op(n, "Gemm"))
        return false;
    if (w->dtype != QC_FLOAT || !w->data || (l->conv ? w->rank < 3 || w->rank > 2 + QZ_BIAS_MAX_DIMS : w->rank != 2))
        return false;
    const qc_attr *alpha = qc_node_attr(n, "alpha"), *beta = qc_node_attr(n, "beta");
    if (!l->conv && (x->rank != 2 || qc_node_attr_int(n, "transA", 0) || (alpha && alpha->f != 1.0f) ||
                     (beta && beta->f != 1.0f))) /* Gemm's transposed or scaled forms */
        return false;
    l->trans = l->conv || qc_node_attr_int(n, "transB", 0); /* w[c][j…] rather than w[j][c] */
    l->cout = l->trans ? w->dims[0] : w->dims[1];
    l->cin_g = l->trans ? w->dims[1] : w->dims[0];
    l->group = l->conv ? qc_node_attr_int(n, "group", 1) : 1;
    l->cin = l->cin_g * l->group;
    l->taps = 1;
    if (l->group < 1 || l->cout % l->group || x->rank < 2 || x->dims[1] != l->cin)
        return false;
    if (!l->conv)
        return true;
    const qc_attr *strides = qc_node_attr(n, "strides"), *dil = qc_node_attr(n, "dilations");
    l->sp = w->rank - 2;
    if (x->rank != w->rank || y->rank != w->rank)
        return false;
    for (int d = 0; d < l->sp; d++) {
        l->in[d] = x->dims[2 + d];
        l->out[d] = y->dims[2 + d];
        l->k[d] = w->dims[2 + d];
        l->stride[d] = strides && strides->n == l->sp ? strides->ints[d] : 1;
        l->dil[d] = dil && dil->n == l->sp ? dil->ints[d] : 1;
        if (l->out[d] < 1 || l->in[d] < 1 || l->stride[d] < 1 || l->dil[d] < 1)
            return false;
        l->begin[d] = pad_begin(n, d, l->sp, l->in[d], l->out[d], l->k[d], l->stride[d], l->dil[d]);
        l->taps *= l->k[d];
    }
    return true;
}

/* Analytic m_{j,k} = μ_j · v_k: μ the FP32 input's channel means from the statistics (the
 * tensor's mean for all when it has none per channel). false without statistics of x. */
static bool analytic_tap_means(const qz *q, const qc_node *n, const qz_bias_layer *l, double *m)
{
    int si = qc_stats_find(q->s, q->g->tensors[n->inputs[0]].name);
    if (si < 0)
        return false;
    const qc_tensor_stats *ts = &q->s->tensors[si];
    if (ts->samples < 1 || ts->numel < 1)
        return false;
    double *v = malloc((size_t)l->taps * sizeof *v);
    if (!v)
        return false;
    for (int64_t k = 0; k < l->taps; k++)
        v[k] = 1.0;
    int64_t inner = l->taps; /* the stride of dimension d in the flattened taps */
    for (int d = 0; d < l->sp; d++) {
        inner /= l->k[d];
        for (int64_t t = 0; t < l->k[d]; t++) {
            int64_t inside = 0;
            for (int64_t o = 0; o < l->out[d]; o++) {
                const int64_t i = o * l->stride[d] + t * l->dil[d] - l->begin[d];
                inside += i >= 0 && i < l->in[d];
            }
            const double share = (double)inside / (double)l->out[d];
            for (int64_t k = 0; k < l->taps; k++)
                if ((k / inner) % l->k[d] == t)
                    v[k] *= share;
        }
    }
    const bool per_channel = ts->ch && ts->axis == 1 && ts->channels == l->cin;
    const double all = qc_fix_to_double(&ts->t.sum) / ((double)ts->samples * (double)ts->numel);
    for (int64_t j = 0; j < l->cin; j++) {
        const double mu = per_channel ? qc_fix_to_double(&ts->ch[j].sum) /
                                            ((double)ts->samples * (double)(ts->numel / ts->channels))
                                      : all;
        for (int64_t k = 0; k < l->taps; k++)
            m[j * l->taps + k] = mu * v[k];
    }
    free(v);
    return true;
}

/* e_c for every output channel of node n with weights wt, from the tap means m. */
static void mean_error(const qz *q, const qc_node *n, const qz_bias_layer *l, int wt, const double *m, double *e)
{
    const qz_tensor *r = &q->tens[wt];
    const qc_round_mode round = qz_node_options(q, (int)(n - q->g->nodes))->round;
    const float *wf = q->g->tensors[wt].value.data;
    const int64_t per_group = l->cout / l->group;
    for (int64_t c = 0; c < l->cout; c++) {
        const qc_qparams *p = &r->wp[r->wgran == QC_GRANULARITY_TENSOR ? 0 : c];
        const int64_t first = (c / per_group) * l->cin_g;
        double sum = 0.0;
        for (int64_t j = 0; j < l->cin_g; j++)
            for (int64_t k = 0; k < l->taps; k++) {
                const int64_t at = l->trans ? (c * l->cin_g + j) * l->taps + k : j * l->cout + c;
                const double dw = (double)qc_fake_quantize(wf[at], p, round) - (double)wf[at];
                sum += dw * m[(first + j) * l->taps + k];
            }
        e[c] = sum;
    }
}

bool qz_correct_bias(const qz *q, const qc_node *n, int wt, const float *bias, int64_t m, float *out)
{
    qz_bias_layer l;
    const qc_bias_measurement *bm = q->o->bias_measured;
    const int i = (int)(n - q->g->nodes);
    if (!q->tens[wt].wp || !qz_bias_layer_of(q->g, n, &l) || l.cout != m)
        return false;
    const double *measured = q->o->bias_correction == QC_BIAS_EMPIRICAL && bm && i < bm->n_nodes
                                 ? bm->tap_means[i] : NULL;
    if (q->o->bias_correction == QC_BIAS_EMPIRICAL && !measured)
        return false; /* not measured (yet): the FP32 bias */
    double *e = malloc((size_t)(m ? m : 1) * sizeof *e);
    double *means = measured ? NULL : malloc((size_t)(l.cin * l.taps) * sizeof *means);
    bool ok = e && (measured || (means && analytic_tap_means(q, n, &l, means)));
    if (ok)
        mean_error(q, n, &l, wt, measured ? measured : means, e);
    for (int64_t c = 0; ok && c < m; c++)
        out[c] = (float)((double)bias[c] - e[c]);
    free(e);
    free(means);
    return ok;
}
