/* quantize.c — the quantizer: an FP32 graph and its statistics become a QDQ, QOperator or
 * FakeQuantize graph (docs/qparams.md, "The quantizer", rules Q1–Q14).
 *
 * Two passes over the FP32 nodes in topological order. The plan decides which nodes are
 * quantized, which Relu/Clip are fused into the node before them, and which tensors share
 * quantization parameters (MaxPool, Flatten and Reshape pass their input's through, Concat
 * gives its output's to every input). The emission then builds a new graph: in QDQ and
 * FakeQuantize every quantized activation is followed by QuantizeLinear → DequantizeLinear
 * and every reader sees the dequantized value; in QOperator quantized nodes exchange the
 * integer tensors, and QuantizeLinear / DequantizeLinear appear only where an FP32 part of
 * the graph meets a quantized one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib-impl.h"

#define MS_DOMAIN "com.microsoft"

typedef enum {
    K_FP32 = 0, /* left as it is */
    K_CONV,
    K_GEMM,
    K_MATMUL,
    K_ADD,
    K_CONCAT,
    K_MAXPOOL,
    K_AVGPOOL,
    K_GAP,
    K_PASS, /* Flatten, Reshape */
} node_kind;

typedef struct {
    const qc_graph *g;
    const qc_stats *s;
    const qc_quantize_options *o;
    qc_range_params range; /* o->range, with the bits of entropy and mse = act_bits (Q3) */
    qc_error *err;
    qc_graph *ng;
    /* per FP32 tensor */
    int *src;          /* whose parameters it uses (follow to the root); -1: not quantized */
    bool *has_p;
    qc_qparams *p;     /* activation parameters of roots */
    float *lo, *hi;    /* the range they came from */
    int *fname, *qname; /* tensor index in ng of the float / quantized version, -1 */
    int *sname, *zname; /* scale and zero point constants in ng, -1 */
    int *wq;           /* quantized (or fake-quantized) weight in ng, -1 */
    qc_qparams **wp;   /* weight parameters of wq (owned), NULL */
    int *wch;          /* their channel count */
    /* per FP32 node */
    node_kind *kind;
    int *fused;        /* the Relu/Clip node fused into this one, -1 */
    bool *int_clip;    /* the fused Relu/Clip becomes an integer Clip at the zero point */
    bool signed_act;   /* all activations int8 (QOperator with SymLowP, rule Q9) */
    bool *absorbed;    /* a Relu/Clip fused into the node before it */
    bool *comp_node;   /* reads a compensated input: its weights carry the input's scales */
    /* input compensation (rule Q14), per FP32 tensor */
    qc_qparams **cp;   /* per-channel parameters of a compensated root (owned), NULL */
    int *cch;          /* their channel count */
    int *divisor;      /* per root: the constant of its per-channel scales in ng, -1 */
    qc_quantize_report *rep;
} qz;

/* ---- options and names ---------------------------------------------------------------------- */

void qc_quantize_options_default(qc_quantize_options *o)
{
    memset(o, 0, sizeof *o);
    o->scheme = QC_SCHEME_GEMMLOWP;
    o->weight_bits = 8;
    o->act_bits = 8;
    o->round = QC_ROUND_HALF_EVEN;
    o->act_round = QC_ROUND_HALF_EVEN;
    o->method = QC_RANGE_MINMAX;
    qc_range_params_default(&o->range);
    o->format = QC_FORMAT_QDQ;
}

static const char *const format_names[] = {"qdq", "qoperator", "fakequant"};

const char *qc_qformat_name(qc_qformat f)
{
    return (unsigned)f < 3 ? format_names[f] : "?";
}

bool qc_qformat_parse(const char *name, qc_qformat *out)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, format_names[i])) {
            *out = (qc_qformat)i;
            return true;
        }
    return false;
}

void qc_quantize_report_free(qc_quantize_report *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n; i++) {
        free(r->tensors[i].tensor);
        free(r->tensors[i].params);
    }
    free(r->tensors);
    r->n = 0;
    r->tensors = NULL;
}

static qc_status report_add(qz *q, const char *tensor, const char *role, int n_channels, float lo,
                            float hi, const qc_qparams *params, int bits)
{
    if (!q->rep)
        return QC_OK;
    qc_quantize_report *r = q->rep;
    qc_quantized_tensor *grown = realloc(r->tensors, (size_t)(r->n + 1) * sizeof *grown);
    if (!grown)
        return qc_fail(q->err, QC_ERR_IO, "out of memory");
    r->tensors = grown;
    qc_quantized_tensor *e = &r->tensors[r->n];
    e->tensor = strdup(tensor);
    e->params = malloc((size_t)n_channels * sizeof *e->params);
    if (!e->tensor || !e->params) {
        free(e->tensor);
        free(e->params);
        return qc_fail(q->err, QC_ERR_IO, "out of memory");
    }
    memcpy(e->params, params, (size_t)n_channels * sizeof *params);
    e->role = role;
    e->n_channels = n_channels;
    e->min = lo;
    e->max = hi;
    e->bits = bits;
    e->compensated = false;
    e->axis = -1;
    r->n++;
    return QC_OK;
}

/* ---- the plan ---------------------------------------------------------------------------------- */

static bool is_op(const qc_node *n, const char *op)
{
    return !n->domain[0] && !strcmp(n->op_type, op);
}

static bool excluded(const qz *q, const qc_node *n)
{
    for (int i = 0; i < q->o->n_exclude; i++)
        if (!strcmp(q->o->exclude[i], n->name))
            return true;
    return false;
}

/* A float tensor computed at run time (not a constant, not an integer shape tensor). */
static bool is_activation(const qc_graph *g, int t)
{
    return t >= 0 && !g->tensors[t].is_const && g->tensors[t].value.dtype == QC_FLOAT;
}

static bool is_float_const(const qc_graph *g, int t)
{
    return t >= 0 && g->tensors[t].is_const && g->tensors[t].value.dtype == QC_FLOAT &&
           g->tensors[t].value.data;
}

static int readers(const qc_graph *g, int t, int *only)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] == t) {
                n++;
                *only = i;
            }
    return n;
}

static int root(const qz *q, int t)
{
    for (int guard = 0; t >= 0 && q->src[t] != t && guard < q->g->n_tensors; guard++)
        t = q->src[t];
    return t;
}

/* The range the method gives tensor t from its own statistics. */
static qc_status stats_range(const qz *q, int t, float *lo, float *hi)
{
    const char *name = q->g->tensors[t].name;
    int si = qc_stats_find(q->s, name);
    if (si < 0)
        return qc_fail(q->err, QC_ERR_INPUT, "the statistics have no tensor '%s'", name);
    return qc_stats_range(&q->s->tensors[si], q->o->method, &q->range, -1, lo, hi, q->err);
}

/* Activation parameters of tensor t from its own statistics. */
static qc_status stats_params(const qz *q, int t, qc_qparams *p, float *lo, float *hi)
{
    qc_status st = stats_range(q, t, lo, hi);
    if (st != QC_OK)
        return st;
    return qc_qparams_activation(*lo, *hi, q->o->scheme, q->o->act_bits, q->signed_act, q->g->tensors[t].name, p,
                                 q->err);
}

/* Node i's kind when it can be quantized, K_FP32 otherwise (rules Q1–Q3). */
static node_kind classify(const qz *q, int i)
{
    const qc_graph *g = q->g;
    const qc_node *n = &g->nodes[i];
    if (n->domain[0] || excluded(q, n) || n->n_outputs < 1 || !is_activation(g, n->outputs[0]))
        return K_FP32;
    int x = n->n_inputs > 0 ? n->inputs[0] : -1;
    if (!is_activation(g, x))
        return K_FP32;
    if (is_op(n, "Conv") || is_op(n, "Gemm") || is_op(n, "MatMul")) {
        if (n->n_inputs < 2 || !is_float_const(g, n->inputs[1]) || g->tensors[n->inputs[1]].value.rank != 2 + 2 * is_op(n, "Conv"))
            return K_FP32;
        const qc_value *w = &g->tensors[n->inputs[1]].value;
        if (is_op(n, "Gemm") && (qc_node_attr_float(n, "alpha", 1) != 1 || qc_node_attr_float(n, "beta", 1) != 1 ||
                                 qc_node_attr_int(n, "transA", 0) != 0))
            return K_FP32;
        if (n->n_inputs > 2 && n->inputs[2] >= 0) {
            int64_t m = is_op(n, "Gemm") && !qc_node_attr_int(n, "transB", 0) ? w->dims[1] : w->dims[0];
            if (!is_float_const(g, n->inputs[2]) || qc_value_count(&g->tensors[n->inputs[2]].value) != m)
                return K_FP32;
        }
        if (is_op(n, "MatMul") && n->n_inputs != 2)
            return K_FP32;
        return is_op(n, "Conv") ? K_CONV : is_op(n, "Gemm") ? K_GEMM : K_MATMUL;
    }
    if (is_op(n, "Add"))
        return n->n_inputs == 2 && is_activation(g, n->inputs[1]) &&
                       qc_same_shape(&g->tensors[n->inputs[0]].value, &g->tensors[n->inputs[1]].value)
                   ? K_ADD
                   : K_FP32;
    if (is_op(n, "Concat")) {
        for (int k = 0; k < n->n_inputs; k++)
            if (!is_activation(g, n->inputs[k]))
                return K_FP32;
        return K_CONCAT;
    }
    if (is_op(n, "AveragePool"))
        return n->n_outputs == 1 ? K_AVGPOOL : K_FP32;
    if (is_op(n, "GlobalAveragePool"))
        return K_GAP;
    /* These only move values: worth it when the input is already quantized (rule Q4). */
    bool in_q = q->src[x] >= 0;
    if (is_op(n, "MaxPool"))
        return in_q && (n->n_outputs == 1 || n->outputs[1] < 0) ? K_MAXPOOL : K_FP32;
    if (is_op(n, "Flatten") || is_op(n, "Reshape"))
        return in_q ? K_PASS : K_FP32;
    return K_FP32;
}

/* The constant bound k (1 min, 2 max) of a Clip, or the fallback. */
static float clip_bound(const qc_graph *g, const qc_node *n, int k, float fallback)
{
    if (g->opset < 11)
        return qc_node_attr_float(n, k == 1 ? "min" : "max", fallback);
    if (k >= n->n_inputs || n->inputs[k] < 0)
        return fallback;
    const qc_tensor *t = &g->tensors[n->inputs[k]];
    if (!t->is_const || !t->value.data || qc_value_count(&t->value) != 1)
        return NAN;
    return (float)qc_read_scalar(&t->value, 0);
}

/* The bounds [cmin, cmax] a Relu or Clip node a lets through; false for another op or a
 * Clip whose bounds are not constants. */
static bool activation_bounds(const qc_graph *g, const qc_node *a, float *cmin, float *cmax)
{
    if (is_op(a, "Relu")) {
        *cmin = 0;
        *cmax = INFINITY;
        return true;
    }
    if (!is_op(a, "Clip"))
        return false;
    *cmin = clip_bound(g, a, 1, -INFINITY);
    *cmax = clip_bound(g, a, 2, INFINITY);
    return !isnan(*cmin) && !isnan(*cmax);
}

/* Does clamping to [qmin, qmax] under p do what activation a does (to half a step)? With
 * signed symmetric outputs a Relu is left to an integer clamp at the zero point (*int_clip). */
static bool clamp_does_activation(const qz *q, const qc_node *a, const qc_qparams *p, bool *int_clip)
{
    float cmin, cmax;
    if (!activation_bounds(q->g, a, &cmin, &cmax))
        return false;
    double qlo = (double)qc_dequantize_value(p->qmin, p), qhi = (double)qc_dequantize_value(p->qmax, p);
    *int_clip = qlo < cmin - 0.5 * p->scale;
    return qhi <= cmax + 0.5 * p->scale && (!*int_clip || (q->signed_act && cmin == 0));
}

/* Rule Q5: a Relu or Clip that alone reads the output of node i is dropped when the output's
 * quantized range lies inside what it lets through (to half a step), since then clamping to
 * [qmin, qmax] does its work. Checked again once shared parameters are known (recheck_fusion). */
static qc_status plan_fusion(qz *q, int i)
{
    const qc_graph *g = q->g;
    int t = g->nodes[i].outputs[0], r = -1;
    if (g->tensors[t].is_output || readers(g, t, &r) != 1)
        return QC_OK;
    const qc_node *a = &g->nodes[r];
    float cmin, cmax;
    if (excluded(q, a) || a->n_outputs != 1 || !is_activation(g, a->outputs[0]) ||
        !activation_bounds(g, a, &cmin, &cmax))
        return QC_OK;
    qc_qparams p;
    float lo, hi;
    qc_status st = stats_params(q, a->outputs[0], &p, &lo, &hi);
    if (st != QC_OK)
        return st;
    if (clamp_does_activation(q, a, &p, &q->int_clip[i])) {
        q->fused[i] = r;
        q->absorbed[r] = true;
    } else {
        q->int_clip[i] = false;
    }
    return QC_OK;
}

/* The tensor node i writes in the quantized graph (the fused activation's output). */
static int node_output(const qz *q, int i)
{
    return q->fused[i] >= 0 ? q->g->nodes[q->fused[i]].outputs[0] : q->g->nodes[i].outputs[0];
}

/* Parameters of every root from its statistics (Q3). The root's range is widened by that of
 * every other Concat output sharing it: a tensor read by two Concats links both, and each
 * must hold its own inputs (Q6). */
static qc_status root_params(qz *q)
{
    const qc_graph *g = q->g;
    for (int t = 0; t < g->n_tensors; t++) {
        if (q->src[t] < 0)
            continue;
        int r = root(q, t);
        if (!q->has_p[r]) {
            qc_status st = stats_range(q, r, &q->lo[r], &q->hi[r]);
            if (st != QC_OK)
                return st;
            q->has_p[r] = true;
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        int y = q->kind[i] == K_CONCAT ? node_output(q, i) : -1, r = y >= 0 ? root(q, y) : -1;
        if (y < 0 || r == y)
            continue;
        float lo, hi;
        qc_status st = stats_range(q, y, &lo, &hi);
        if (st != QC_OK)
            return st;
        q->lo[r] = fminf(q->lo[r], lo);
        q->hi[r] = fmaxf(q->hi[r], hi);
    }
    for (int r = 0; r < g->n_tensors; r++)
        if (q->src[r] == r) {
            qc_status st = qc_qparams_activation(q->lo[r], q->hi[r], q->o->scheme, q->o->act_bits, q->signed_act,
                                                 g->tensors[r].name, &q->p[r], q->err);
            if (st != QC_OK)
                return st;
        }
    return QC_OK;
}

/* Rule Q5 once more with the parameters the output finally shares: a Concat can widen them
 * below what a fused Relu lets through. Then the activation stays a node of its own, and the
 * layer's own output is quantized by its statistics. */
static qc_status recheck_fusion(qz *q)
{
    const qc_graph *g = q->g;
    for (int i = 0; i < g->n_nodes; i++) {
        if (q->fused[i] < 0)
            continue;
        const qc_node *a = &g->nodes[q->fused[i]];
        if (clamp_does_activation(q, a, &q->p[root(q, a->outputs[0])], &q->int_clip[i]))
            continue;
        q->absorbed[q->fused[i]] = false;
        q->fused[i] = -1;
        q->int_clip[i] = false;
        int t = g->nodes[i].outputs[0];
        q->src[t] = t;
        qc_status st = stats_params(q, t, &q->p[t], &q->lo[t], &q->hi[t]);
        if (st != QC_OK)
            return st;
        q->has_p[t] = true;
    }
    return QC_OK;
}

static qc_status plan_compensation(qz *q);

static qc_status plan(qz *q)
{
    const qc_graph *g = q->g;
    for (int i = 0; i < g->n_nodes; i++) {
        if (q->absorbed[i])
            continue;
        node_kind k = classify(q, i);
        q->kind[i] = k;
        if (k == K_FP32)
            continue;
        const qc_node *n = &g->nodes[i];
        if (k == K_CONV || k == K_GEMM || k == K_MATMUL || k == K_ADD) {
            qc_status st = plan_fusion(q, i);
            if (st != QC_OK)
                return st;
        }
        int x = n->inputs[0], y = node_output(q, i);
        switch (k) {
        case K_MAXPOOL:
        case K_PASS:
            q->src[y] = x; /* same scale and zero point as the input (Q4) */
            break;
        case K_CONCAT:
            q->src[y] = y;
            for (int j = 0; j < n->n_inputs; j++) { /* one scale for all inputs (Q6) */
                int in = n->inputs[j], r = q->src[in] >= 0 ? root(q, in) : in;
                if (r != y)
                    q->src[r] = y;
                if (q->src[in] < 0)
                    q->src[in] = y;
            }
            break;
        case K_ADD:
            if (q->src[n->inputs[1]] < 0)
                q->src[n->inputs[1]] = n->inputs[1];
            /* fall through */
        default:
            if (q->src[x] < 0)
                q->src[x] = x;
            q->src[y] = y;
            break;
        }
    }
    qc_status st = root_params(q);
    if (st == QC_OK)
        st = recheck_fusion(q);
    if (st == QC_OK && q->o->input_compensation)
        st = plan_compensation(q);
    for (int t = 0; t < g->n_tensors && st == QC_OK; t++) {
        if (q->src[t] < 0)
            continue;
        int r = root(q, t);
        st = report_add(q, g->tensors[t].name, g->tensors[t].is_input ? "input" : "activation",
                                  q->cp[r] ? q->cch[r] : 1, q->lo[r], q->hi[r], q->cp[r] ? q->cp[r] : &q->p[r],
                                  q->o->act_bits);
    }
    return st;
}

/* ---- input compensation (rule Q14) --------------------------------------------------------------
 *
 * A compensated activation is quantized per channel c with its own scale s_c and the zero
 * point z of the whole tensor: q_c = round(x_c / s_c) + z. In the file that is Div(x, s) →
 * QuantizeLinear(1, z) → DequantizeLinear(1, z), every quantization parameter a scalar as all
 * runtimes accept; the family of tensors sharing the parameters (MaxPool, Flatten) carries
 * q − z. The Conv, Gemm or MatMul reading it has weights w'[o][c] = w[o][c] · s_c, quantized
 * as any weights, so Σ_c w'·(q − z) ≈ Σ_c w·x: the input's scales live in the weights. One
 * zero point for all channels keeps the integer convolution as it is (one input zero point,
 * the padding value z). */

/* Can node i take t, one of a compensated family of C channels? A quantized Conv, Gemm or
 * MatMul reading t as its input alone (the weights then carry the scales; *linear set), or a
 * MaxPool, Flatten or Reshape that keeps each channel on axis 1 (its output is in the family). */
static bool compensable_reader(const qz *q, int i, int t, int64_t C, bool *linear)
{
    const qc_graph *g = q->g;
    const qc_node *n = &g->nodes[i];
    int only;
    *linear = false;
    for (int k = 1; k < n->n_inputs; k++)
        if (n->inputs[k] == t)
            return false;
    switch (q->kind[i]) {
    case K_CONV:
    case K_GEMM:
    case K_MATMUL:
        /* a weight shared with another node cannot carry this input's scales; a MatMul over
         * a batch of rows has its features on the last axis, not on axis 1 */
        if (readers(g, n->inputs[1], &only) != 1 || (q->kind[i] != K_CONV && g->tensors[t].value.rank != 2))
            return false;
        *linear = true;
        return true;
    case K_MAXPOOL:
        return true;
    case K_PASS: {
        const qc_value *x = &g->tensors[t].value, *y = &g->tensors[n->outputs[0]].value;
        int64_t xs = 1, ys = 1;
        for (int d = 2; d < x->rank; d++)
            xs *= x->dims[d];
        for (int d = 2; d < y->rank; d++)
            ys *= y->dims[d];
        return y->rank >= 2 && y->dims[1] == C && xs == ys;
    }
    default:
        return false;
    }
}

/* Channel c of root r: the method's range for the channel (histogram methods, which are per
 * tensor, take the channel's extremes inside the tensor's range), widened to contain 0. */
static qc_status channel_range(const qz *q, int r, const qc_tensor_stats *ts, int c, float *lo, float *hi)
{
    if (qc_range_method_uses_histogram(q->o->method)) {
        *lo = fmaxf(ts->ch[c].min, q->lo[r]);
        *hi = fminf(ts->ch[c].max, q->hi[r]);
        if (!(*lo <= *hi))
            *lo = *hi = 0;
    } else {
        qc_status st = qc_stats_range(ts, q->o->method, &q->range, c, lo, hi, q->err);
        if (st != QC_OK)
            return st;
    }
    *lo = fminf(*lo, 0);
    *hi = fmaxf(*hi, 0);
    return QC_OK;
}

/* The parameters of channel c: qmin, qmax and z of the tensor's, and the smallest scale that
 * holds the channel's range (eq. P18). A channel without a range (all zero) keeps the
 * tensor's scale; none goes below 2^−16 of it, so that the requantization multipliers of the
 * layer writing it stay representable. */
static qc_qparams channel_params(const qc_qparams *t, float lo, float hi)
{
    qc_qparams p = *t;
    double s = 0;
    if (t->zero_point == 0 && t->qmin < 0) /* SymLowP signed: a / qmax (eq. P9a) */
        s = fmax(-(double)lo, (double)hi) / t->qmax;
    else {
        if (t->qmax > t->zero_point)
            s = (double)hi / (t->qmax - t->zero_point);
        if (t->qmin < t->zero_point)
            s = fmax(s, (double)lo / (t->qmin - t->zero_point));
    }
    if (s == 0)
        s = t->scale;
    p.scale = (float)fmin(fmax(s, ldexp(t->scale, -16)), t->scale);
    return p;
}

/* Rule Q5 again, channel by channel: a Relu or Clip fused into the node writing r must still
 * be done by the clamp to [qmin, qmax] under every channel's scale. */
static bool fusion_holds(const qz *q, int r, const qc_qparams *cp, int64_t C)
{
    int a = q->g->tensors[r].producer;
    if (a < 0 || !q->absorbed[a])
        return true;
    for (int64_t c = 0; c < C; c++) {
        bool int_clip;
        if (!clamp_does_activation(q, &q->g->nodes[a], &cp[c], &int_clip) || int_clip)
            return false;
    }
    return true;
}

/* Which roots are quantized per channel: every tensor sharing the root's parameters is read
 * only by nodes that can take it (compensable_reader), at least one of them a Conv, Gemm or
 * MatMul, none is a graph output, and the statistics have the root's channels. */
static qc_status plan_compensation(qz *q)
{
    const qc_graph *g = q->g;
    for (int r = 0; r < g->n_tensors; r++) {
        if (q->src[r] != r)
            continue;
        const qc_value *v = &g->tensors[r].value;
        int si = qc_stats_find(q->s, g->tensors[r].name);
        if (v->rank < 2 || v->dims[1] < 2 || v->dims[1] > INT32_MAX || si < 0)
            continue;
        int64_t C = v->dims[1];
        const qc_tensor_stats *ts = &q->s->tensors[si];
        if (!ts->ch || ts->axis != 1 || ts->channels != C)
            continue;
        bool ok = true;
        int linear = 0;
        for (int t = 0; t < g->n_tensors && ok; t++) {
            if (q->src[t] < 0 || root(q, t) != r)
                continue;
            ok = !g->tensors[t].is_output;
            for (int i = 0; i < g->n_nodes && ok; i++)
                for (int k = 0; k < g->nodes[i].n_inputs && ok; k++)
                    if (g->nodes[i].inputs[k] == t) {
                        bool lin;
                        ok = compensable_reader(q, i, t, C, &lin);
                        linear += lin;
                    }
        }
        if (!ok || !linear)
            continue;
        qc_qparams *cp = malloc((size_t)C * sizeof *cp);
        if (!cp)
            return qc_fail(q->err, QC_ERR_IO, "out of memory");
        for (int64_t c = 0; c < C; c++) {
            float lo, hi;
            qc_status st = channel_range(q, r, ts, (int)c, &lo, &hi);
            if (st != QC_OK) {
                free(cp);
                return st;
            }
            cp[c] = channel_params(&q->p[r], lo, hi);
        }
        if (!fusion_holds(q, r, cp, C)) {
            free(cp);
            continue;
        }
        q->cp[r] = cp;
        q->cch[r] = (int)C;
        q->p[r].scale = 1.0f; /* the family is quantized as x / s_c: in units of its own step */
        for (int t = 0; t < g->n_tensors; t++)
            if (q->src[t] >= 0 && root(q, t) == r)
                for (int i = 0; i < g->n_nodes; i++)
                    if (g->nodes[i].n_inputs > 0 && g->nodes[i].inputs[0] == t &&
                        (q->kind[i] == K_CONV || q->kind[i] == K_GEMM || q->kind[i] == K_MATMUL))
                        q->comp_node[i] = true;
    }
    return QC_OK;
}

/* ---- building the new graph ------------------------------------------------------------------ */

static qc_status oom(qz *q)
{
    return qc_fail(q->err, QC_ERR_IO, "out of memory building the quantized graph");
}

/* A new tensor in ng named base+suffix (made unique against both graphs); data is owned by
 * it (may be NULL for an activation). Returns its index or -1. */
static int new_tensor(qz *q, const char *base, const char *suffix, qc_dtype dtype, int rank,
                      const int64_t *dims, void *data)
{
    char name[600];
    int attempt = 0;
    do {
        if (attempt)
            snprintf(name, sizeof name, "%s%s_%d", base, suffix, attempt);
        else
            snprintf(name, sizeof name, "%s%s", base, suffix);
        attempt++;
    } while ((qc_graph_find_tensor(q->ng, name) >= 0 || (suffix[0] && qc_graph_find_tensor(q->g, name) >= 0)) &&
             attempt < 1000);
    int ti = qc_graph_tensor(q->ng, name);
    if (ti < 0) {
        free(data);
        return -1;
    }
    qc_tensor *t = &q->ng->tensors[ti];
    t->value.dtype = dtype;
    t->value.rank = rank;
    for (int d = 0; d < rank; d++)
        t->value.dims[d] = dims[d];
    t->value.data = data;
    t->is_const = data != NULL;
    t->producer = -1;
    return ti;
}

static int new_scalar(qz *q, const char *base, const char *suffix, qc_dtype dtype, double v)
{
    void *data = malloc(8);
    if (!data)
        return -1;
    switch (dtype) {
    case QC_FLOAT: *(float *)data = (float)v; break;
    case QC_UINT8: *(uint8_t *)data = (uint8_t)v; break;
    case QC_INT8: *(int8_t *)data = (int8_t)v; break;
    default: *(int32_t *)data = (int32_t)v; break;
    }
    return new_tensor(q, base, suffix, dtype, 0, NULL, data);
}

static qc_dtype qdtype(const qc_qparams *p)
{
    return p->qmin < 0 ? QC_INT8 : QC_UINT8;
}

static qc_status add_attr(qc_node *n, const qc_attr *src)
{
    qc_attr *grown = realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *grown);
    if (!grown)
        return QC_ERR_IO;
    n->attrs = grown;
    qc_attr *a = &n->attrs[n->n_attrs];
    *a = *src;
    a->name = strdup(src->name);
    a->s = src->s ? strdup(src->s) : NULL;
    a->floats = src->n && src->floats ? malloc((size_t)src->n * sizeof *a->floats) : NULL;
    a->ints = src->n && src->ints ? malloc((size_t)src->n * sizeof *a->ints) : NULL;
    a->t.data = NULL;
    n->n_attrs++;
    if (!a->name || (src->s && !a->s) || (src->n && src->floats && !a->floats) || (src->n && src->ints && !a->ints))
        return QC_ERR_IO;
    if (a->floats)
        memcpy(a->floats, src->floats, (size_t)src->n * sizeof *a->floats);
    if (a->ints)
        memcpy(a->ints, src->ints, (size_t)src->n * sizeof *a->ints);
    if (src->type == QC_ATTR_TENSOR && src->t.data) {
        size_t bytes = qc_value_bytes(&src->t);
        a->t.data = malloc(bytes ? bytes : 1);
        if (!a->t.data)
            return QC_ERR_IO;
        memcpy(a->t.data, src->t.data, bytes);
    }
    return QC_OK;
}

static qc_status add_int_attr(qc_node *n, const char *name, int64_t v)
{
    qc_attr a = {.name = (char *)name, .type = QC_ATTR_INT, .i = v};
    return add_attr(n, &a);
}

/* Appends node op_type (domain) reading in[0..n_in) and writing out[0..n_out) (indices in
 * ng, -1 for an omitted input); the node is named after base. Returns its index or -1. */
static int emit(qz *q, const char *base, const char *op_type, const char *domain, const int *in, int n_in,
                const int *out, int n_out)
{
    char name[600];
    int attempt = 0;
    bool taken;
    do {
        if (attempt)
            snprintf(name, sizeof name, "%s_%d", base, attempt);
        else
            snprintf(name, sizeof name, "%s", base);
        taken = false;
        for (int i = 0; i < q->ng->n_nodes && !taken; i++)
            taken = !strcmp(q->ng->nodes[i].name, name);
        attempt++;
    } while (taken && attempt < 1000);
    int ni = qc_graph_add_node(q->ng, name, op_type, domain);
    if (ni < 0)
        return -1;
    qc_node *n = &q->ng->nodes[ni];
    n->inputs = malloc((size_t)(n_in ? n_in : 1) * sizeof *n->inputs);
    n->outputs = malloc((size_t)(n_out ? n_out : 1) * sizeof *n->outputs);
    if (!n->inputs || !n->outputs)
        return -1;
    memcpy(n->inputs, in, (size_t)n_in * sizeof *in);
    memcpy(n->outputs, out, (size_t)n_out * sizeof *out);
    n->n_inputs = n_in;
    n->n_outputs = n_out;
    for (int k = 0; k < n_out; k++)
        if (out[k] >= 0)
            q->ng->tensors[out[k]].producer = ni;
    return ni;
}

/* The plain copy of FP32 tensor t in ng (a constant copied on first use). */
static int plain(qz *q, int t)
{
    if (t < 0)
        return -1;
    if (q->fname[t] >= 0)
        return q->fname[t];
    const qc_tensor *src = &q->g->tensors[t];
    void *data = NULL;
    if (src->is_const && src->value.data) {
        size_t bytes = qc_value_bytes(&src->value);
        data = malloc(bytes ? bytes : 1);
        if (!data)
            return -1;
        memcpy(data, src->value.data, bytes);
    }
    int ti = new_tensor(q, src->name, "", src->value.dtype, src->value.rank, src->value.dims, data);
    if (ti >= 0)
        q->ng->tensors[ti].is_const = src->is_const;
    q->fname[t] = ti;
    return ti;
}

/* Scale and zero point constants of activation t (its root's parameters); a compensated
 * root (Q14) also gets the constant of its channel scales. */
static qc_status act_consts(qz *q, int t, int *s, int *z)
{
    int r = root(q, t);
    if (q->sname[r] < 0) {
        const qc_qparams *p = &q->p[r];
        const char *name = q->g->tensors[r].name;
        q->sname[r] = new_scalar(q, name, "_scale", QC_FLOAT, p->scale);
        q->zname[r] = new_scalar(q, name, "_zero_point", qdtype(p), p->zero_point);
        if (q->sname[r] < 0 || q->zname[r] < 0)
            return oom(q);
        if (q->cp[r]) { /* [1, C, 1, …]: broadcasts over the tensor's channels */
            const qc_value *v = &q->g->tensors[r].value;
            int64_t dims[QC_MAX_RANK], C = q->cch[r];
            for (int d = 0; d < v->rank; d++)
                dims[d] = d == 1 ? C : 1;
            float *sc = malloc((size_t)C * sizeof *sc);
            if (!sc)
                return oom(q);
            for (int64_t c = 0; c < C; c++)
                sc[c] = q->cp[r][c].scale;
            if ((q->divisor[r] = new_tensor(q, name, "_channel_scale", QC_FLOAT, v->rank, dims, sc)) < 0)
                return oom(q);
        }
    }
    *s = q->sname[r];
    *z = q->zname[r];
    return QC_OK;
}

/* FakeQuantize in another round mode than QuantizeLinear's (calib/round-graph.c): the
 * builder's tensors and nodes are named after activation t. */
typedef struct {
    qz *q;
    const qc_tensor *ft;
} round_builder;

static int rb_constant(void *ctx, const char *suffix, float v)
{
    round_builder *b = ctx;
    return new_scalar(b->q, b->ft->name, suffix, QC_FLOAT, v);
}

static int rb_tensor(void *ctx, const char *suffix, qc_dtype dtype)
{
    round_builder *b = ctx;
    return new_tensor(b->q, b->ft->name, suffix, dtype, b->ft->value.rank, b->ft->value.dims, NULL);
}

static int rb_node(void *ctx, const char *suffix, const char *op_type, const int *in, int n_in, int out)
{
    round_builder *b = ctx;
    char name[600];
    snprintf(name, sizeof name, "%s%s", b->ft->name, suffix);
    return emit(b->q, name, op_type, "", in, n_in, &out, 1);
}

static qc_status emit_rounded_qdq(qz *q, int t, int x, int s, int z)
{
    const qc_tensor *ft = &q->g->tensors[t];
    round_builder rb = {q, ft};
    const qc_graph_builder b = {&rb, rb_constant, rb_tensor, rb_node};
    int dq = rb_tensor(&rb, ft->is_output ? "" : "_FakeQuantize_Output", QC_FLOAT);
    if (dq < 0 || qc_emit_rounded_fake_quantize(&b, x, s, z, &q->p[root(q, t)], q->o->act_round, dq) != QC_OK)
        return oom(q);
    q->fname[t] = dq;
    return QC_OK;
}

/* QDQ and FakeQuantize: after activation t is computed (fname[t]), QuantizeLinear →
 * DequantizeLinear (with a Clip before for fewer than 8 bits, Q8); readers get the
 * dequantized tensor. A graph output keeps its name on the DequantizeLinear. A compensated
 * root (Q14) is first divided by its channel scales, then quantized with scale 1: readers get
 * q − z. */
static qc_status emit_qdq(qz *q, int t)
{
    const qc_tensor *ft = &q->g->tensors[t];
    int r = root(q, t);
    const qc_qparams *p = &q->p[r];
    int x = q->fname[t], s, z;
    qc_status st = act_consts(q, t, &s, &z);
    if (st != QC_OK)
        return st;
    if (ft->is_output) {
        char renamed[600];
        snprintf(renamed, sizeof renamed, "%s_QuantizeLinear_Input", ft->name);
        char *copy = strdup(renamed);
        if (!copy)
            return oom(q);
        free(q->ng->tensors[x].name);
        q->ng->tensors[x].name = copy;
    }
    const int64_t *dims = ft->value.dims;
    int rank = ft->value.rank;
    if (t == r && q->cp[r]) {
        int d = new_tensor(q, ft->name, "_Div_Output", QC_FLOAT, rank, dims, NULL);
        char nn[600];
        snprintf(nn, sizeof nn, "%s_Div", ft->name);
        if (d < 0 || emit(q, nn, "Div", "", (int[]){x, q->divisor[r]}, 2, &d, 1) < 0)
            return oom(q);
        x = d;
    }
    if (q->o->act_round != QC_ROUND_HALF_EVEN) /* its own Clip, in steps of the scale */
        return emit_rounded_qdq(q, t, x, s, z);
    if (q->o->act_bits < 8) {
        int lo = new_scalar(q, ft->name, "_clip_min", QC_FLOAT, qc_dequantize_value(p->qmin, p));
        int hi = new_scalar(q, ft->name, "_clip_max", QC_FLOAT, qc_dequantize_value(p->qmax, p));
        int c = new_tensor(q, ft->name, "_Clip_Output", QC_FLOAT, rank, dims, NULL);
        char nn[600];
        snprintf(nn, sizeof nn, "%s_Clip", ft->name);
        if (lo < 0 || hi < 0 || c < 0 || emit(q, nn, "Clip", "", (int[]){x, lo, hi}, 3, &c, 1) < 0)
            return oom(q);
        x = c;
    }
    int qt = new_tensor(q, ft->name, "_QuantizeLinear_Output", qdtype(p), rank, dims, NULL);
    int dq = ft->is_output ? new_tensor(q, ft->name, "", QC_FLOAT, rank, dims, NULL)
                           : new_tensor(q, ft->name, "_DequantizeLinear_Output", QC_FLOAT, rank, dims, NULL);
    char nq[600], nd[600];
    snprintf(nq, sizeof nq, "%s_QuantizeLinear", ft->name);
    snprintf(nd, sizeof nd, "%s_DequantizeLinear", ft->name);
    if (qt < 0 || dq < 0 || emit(q, nq, "QuantizeLinear", "", (int[]){x, s, z}, 3, &qt, 1) < 0 ||
        emit(q, nd, "DequantizeLinear", "", (int[]){qt, s, z}, 3, &dq, 1) < 0)
        return oom(q);
    q->fname[t] = dq;
    q->qname[t] = qt;
    return QC_OK;
}

/* QOperator: the integer version of activation t, quantizing its float one on first use. */
static int q_of(qz *q, int t)
{
    if (q->qname[t] >= 0)
        return q->qname[t];
    int x = plain(q, t), s, z;
    if (x < 0 || act_consts(q, t, &s, &z) != QC_OK)
        return -1;
    const qc_tensor *ft = &q->g->tensors[t];
    int qt = new_tensor(q, ft->name, "_quantized", qdtype(&q->p[root(q, t)]), ft->value.rank, ft->value.dims, NULL);
    char nq[600];
    snprintf(nq, sizeof nq, "%s_QuantizeLinear", ft->name);
    if (qt < 0 || emit(q, nq, "QuantizeLinear", "", (int[]){x, s, z}, 3, &qt, 1) < 0)
        return -1;
    q->qname[t] = qt;
    return qt;
}

/* The float version of FP32 tensor t: in QOperator, an integer tensor is dequantized on
 * first use into a tensor of the original name. */
static int f_of(qz *q, int t)
{
    if (t < 0 || q->fname[t] >= 0 || q->qname[t] < 0)
        return plain(q, t);
    const qc_tensor *ft = &q->g->tensors[t];
    int s, z;
    if (act_consts(q, t, &s, &z) != QC_OK)
        return -1;
    int f = new_tensor(q, ft->name, "", QC_FLOAT, ft->value.rank, ft->value.dims, NULL);
    char nd[600];
    snprintf(nd, sizeof nd, "%s_DequantizeLinear", ft->name);
    if (f < 0 || emit(q, nd, "DequantizeLinear", "", (int[]){q->qname[t], s, z}, 3, &f, 1) < 0)
        return -1;
    q->fname[t] = f;
    return f;
}

/* ---- weights and biases ------------------------------------------------------------------------ */

/* Weight tensor w of node n seen as [outer][channels][inner] with its channel axis (Q7). */
static void weight_layout(const qc_graph *g, const qc_node *n, node_kind k, int64_t *outer, int64_t *ch,
                          int64_t *inner, int *axis)
{
    const qc_value *w = &g->tensors[n->inputs[1]].value;
    int64_t count = qc_value_count(w);
    if (k == K_CONV || (k == K_GEMM && qc_node_attr_int(n, "transB", 0))) {
        *outer = 1;
        *ch = w->dims[0];
        *inner = w->dims[0] ? count / w->dims[0] : 0;
        *axis = 0;
    } else { /* [K][N]: the output channel is the column */
        *outer = w->dims[0];
        *ch = w->dims[1];
        *inner = 1;
        *axis = 1;
    }
}

/* The input-compensated weights of node n (kind k) reading compensated x (Q14): every weight
 * times the scale of the input channel it multiplies. Conv [M][C/g][kH][kW] (output channel
 * m of group m / (M/g) reads input channels from (m / (M/g)) · C/g), Gemm with transB
 * [N][K], Gemm without it and MatMul [K][N]. NULL when out of memory. */
static float *compensated_weights(const qz *q, const qc_node *n, node_kind k, const qc_qparams *cp)
{
    const qc_value *w = &q->g->tensors[n->inputs[1]].value;
    const float *wf = w->data;
    int64_t count = qc_value_count(w);
    float *out = malloc((size_t)(count ? count : 1) * sizeof *out);
    if (!out)
        return NULL;
    if (k == K_CONV) {
        int64_t M = w->dims[0], cg = w->dims[1], group = qc_node_attr_int(n, "group", 1);
        int64_t per_group = group > 0 && M % group == 0 ? M / group : M, inner = M ? count / M / (cg ? cg : 1) : 0;
        for (int64_t m = 0; m < M; m++)
            for (int64_t j = 0; j < cg; j++) {
                float sc = cp[(m / per_group) * cg + j].scale;
                for (int64_t e = (m * cg + j) * inner; e < (m * cg + j + 1) * inner; e++)
                    out[e] = wf[e] * sc;
            }
    } else if (k == K_GEMM && qc_node_attr_int(n, "transB", 0)) {
        for (int64_t e = 0; e < count; e++)
            out[e] = wf[e] * cp[e % w->dims[1]].scale;
    } else {
        for (int64_t e = 0; e < count; e++)
            out[e] = wf[e] * cp[e / w->dims[1]].scale;
    }
    return out;
}

/* Quantizes the weight of node n (once per weight tensor); *wi gets the tensor to read in ng:
 * the integer weight (QDQ reads it through a DequantizeLinear, emitted here), or in
 * FakeQuantize the dequantized float values. A node with a compensated input quantizes its
 * compensated weights (Q14); such a weight has no other reader. */
static qc_status quantize_weight(qz *q, const qc_node *n, node_kind k, int *wi, int *ws, int *wz)
{
    const qc_graph *g = q->g;
    int t = n->inputs[1];
    const qc_tensor *wt = &g->tensors[t];
    int64_t outer, ch, inner;
    int axis;
    weight_layout(g, n, k, &outer, &ch, &inner, &axis);
    bool per_channel = q->o->per_channel && ch > 1;
    int nch = per_channel ? (int)ch : 1;
    if (!q->wp[t]) {
        float *compensated = NULL;
        const float *wf = wt->value.data;
        if (q->comp_node[n - g->nodes]) {
            if (!(compensated = compensated_weights(q, n, k, q->cp[root(q, n->inputs[0])])))
                return oom(q);
            wf = compensated;
        }
        qc_scheme scheme = q->o->scheme;
        /* ONNX Runtime's QLinearConv takes one weight zero point for all channels: per-channel
         * QOperator weights are symmetric (Q9). */
        if (q->o->format == QC_FORMAT_QOPERATOR && per_channel)
            scheme = QC_SCHEME_SYMLOWP;
        q->wp[t] = malloc((size_t)nch * sizeof *q->wp[t]);
        if (!q->wp[t]) {
            free(compensated);
            return oom(q);
        }
        q->wch[t] = nch;
        qc_status st = qc_qparams_weights(wf, outer, ch, inner, per_channel, scheme, q->o->weight_bits,
                                          q->o->reduce_range, wt->name, q->wp[t], q->err);
        int64_t count = qc_value_count(&wt->value);
        int32_t *qi = st == QC_OK ? malloc((size_t)(count ? count : 1) * sizeof *qi) : NULL;
        if (st != QC_OK || !qi) {
            free(compensated);
            return st != QC_OK ? st : oom(q);
        }
        qc_quantize_array(per_channel ? outer : 1, per_channel ? ch : 1, per_channel ? inner : count, wf,
                          q->wp[t], q->o->round, qi);
        float wlo = INFINITY, whi = -INFINITY;
        for (int64_t e = 0; e < count; e++) {
            wlo = fminf(wlo, wf[e]);
            whi = fmaxf(whi, wf[e]);
        }
        free(compensated);
        if (q->o->format == QC_FORMAT_FAKEQUANT) {
            float *fq = malloc((size_t)(count ? count : 1) * sizeof *fq);
            if (!fq) {
                free(qi);
                return oom(q);
            }
            qc_dequantize_array(per_channel ? outer : 1, per_channel ? ch : 1, per_channel ? inner : count, qi,
                                q->wp[t], fq);
            free(qi);
            q->wq[t] = new_tensor(q, wt->name, "_fakequant", QC_FLOAT, wt->value.rank, wt->value.dims, fq);
        } else {
            qc_dtype dt = qdtype(&q->wp[t][0]);
            void *data = malloc((size_t)(count ? count : 1));
            if (!data) {
                free(qi);
                return oom(q);
            }
            for (int64_t e = 0; e < count; e++) {
                if (dt == QC_INT8)
                    ((int8_t *)data)[e] = (int8_t)qi[e];
                else
                    ((uint8_t *)data)[e] = (uint8_t)qi[e];
            }
            free(qi);
            q->wq[t] = new_tensor(q, wt->name, "_quantized", dt, wt->value.rank, wt->value.dims, data);
            /* scale and zero point: scalars per tensor, 1-D per channel */
            float *sc = malloc((size_t)nch * sizeof *sc);
            void *zp = malloc((size_t)nch);
            if (!sc || !zp) {
                free(sc);
                free(zp);
                return oom(q);
            }
            for (int c = 0; c < nch; c++) {
                sc[c] = q->wp[t][c].scale;
                if (dt == QC_INT8)
                    ((int8_t *)zp)[c] = (int8_t)q->wp[t][c].zero_point;
                else
                    ((uint8_t *)zp)[c] = (uint8_t)q->wp[t][c].zero_point;
            }
            int64_t d1 = nch;
            q->sname[t] = new_tensor(q, wt->name, "_scale", QC_FLOAT, per_channel, &d1, sc);
            q->zname[t] = new_tensor(q, wt->name, "_zero_point", dt, per_channel, &d1, zp);
            if (q->sname[t] < 0 || q->zname[t] < 0)
                return oom(q);
        }
        if (q->wq[t] < 0)
            return oom(q);
        qc_status rs = report_add(q, wt->name, "weight", nch, wlo, whi, q->wp[t], q->o->weight_bits);
        if (rs != QC_OK)
            return rs;
        if (q->rep) {
            q->rep->tensors[q->rep->n - 1].compensated = q->comp_node[n - g->nodes];
            q->rep->tensors[q->rep->n - 1].axis = per_channel ? axis : -1;
        }
        if (q->o->format == QC_FORMAT_QDQ) {
            int dq = new_tensor(q, wt->name, "_DequantizeLinear_Output", QC_FLOAT, wt->value.rank, wt->value.dims, NULL);
            char nd[600];
            snprintf(nd, sizeof nd, "%s_DequantizeLinear", wt->name);
            int ni = dq < 0 ? -1 : emit(q, nd, "DequantizeLinear", "", (int[]){q->wq[t], q->sname[t], q->zname[t]}, 3, &dq, 1);
            if (ni < 0 || (per_channel && add_int_attr(&q->ng->nodes[ni], "axis", axis) != QC_OK))
                return oom(q);
            q->fname[t] = dq;
        }
    }
    *wi = q->o->format == QC_FORMAT_QDQ ? q->fname[t] : q->wq[t];
    *ws = q->sname[t];
    *wz = q->zname[t];
    return QC_OK;
}

/* The bias of node n as int32 with scale s_x · s_w (Q10): the tensor to read in ng (its
 * DequantizeLinear in QDQ, the int32 values in QOperator, the dequantized floats in
 * FakeQuantize), or -1 without a bias. */
static qc_status quantize_bias(qz *q, const qc_node *n, int x, int wt, int *bi)
{
    *bi = -1;
    if (n->n_inputs < 3 || n->inputs[2] < 0)
        return QC_OK;
    const qc_tensor *bt = &q->g->tensors[n->inputs[2]];
    int64_t m = qc_value_count(&bt->value);
    float sx = q->p[root(q, x)].scale;
    const qc_qparams *wp = q->wp[wt];
    bool per_channel = q->wch[wt] > 1;
    int32_t *qb = malloc((size_t)(m ? m : 1) * sizeof *qb);
    qc_qparams *bp = malloc((size_t)(m ? m : 1) * sizeof *bp);
    if (!qb || !bp) {
        free(qb);
        free(bp);
        return oom(q);
    }
    const float *bf = bt->value.data;
    for (int64_t c = 0; c < m; c++)
        if (!isfinite(bf[c])) {
            free(qb);
            free(bp);
            return qc_fail(q->err, QC_ERR_INPUT, "tensor '%s': bias %lld is %s", bt->name, (long long)c,
                           isnan(bf[c]) ? "nan" : "infinite");
        }
    qc_bias_quantize_array(m, bt->value.data, sx, wp, per_channel, qb);
    float blo = INFINITY, bhi = -INFINITY;
    for (int64_t c = 0; c < m; c++) {
        bp[c] = qc_qparams_bias(sx, wp[per_channel ? c : 0].scale);
        blo = fminf(blo, bf[c]);
        bhi = fmaxf(bhi, bf[c]);
    }
    int nb = per_channel ? (int)m : 1;
    qc_status st = report_add(q, bt->name, "bias", nb, blo, bhi, bp, 32);
    if (st != QC_OK) {
        free(qb);
        free(bp);
        return st;
    }
    if (q->o->format == QC_FORMAT_FAKEQUANT) {
        float *fb = malloc((size_t)(m ? m : 1) * sizeof *fb);
        if (fb)
            for (int64_t c = 0; c < m; c++)
                fb[c] = qc_dequantize_value(qb[c], &bp[c]);
        free(qb);
        free(bp);
        *bi = fb ? new_tensor(q, bt->name, "_fakequant", QC_FLOAT, bt->value.rank, bt->value.dims, fb) : -1;
        return *bi < 0 ? oom(q) : QC_OK;
    }
    int qi = new_tensor(q, bt->name, "_quantized", QC_INT32, 1, &m, qb);
    if (qi < 0) {
        free(bp);
        return oom(q);
    }
    if (q->o->format == QC_FORMAT_QOPERATOR) {
        free(bp);
        *bi = qi;
        return QC_OK;
    }
    float *sc = malloc((size_t)nb * sizeof *sc);
    int32_t *zp = calloc((size_t)nb, sizeof *zp);
    if (!sc || !zp) {
        free(sc);
        free(zp);
        free(bp);
        return oom(q);
    }
    for (int c = 0; c < nb; c++)
        sc[c] = bp[c].scale;
    free(bp);
    int64_t d1 = nb;
    int s = new_tensor(q, bt->name, "_scale", QC_FLOAT, per_channel, &d1, sc);
    int z = new_tensor(q, bt->name, "_zero_point", QC_INT32, per_channel, &d1, zp);
    int dq = new_tensor(q, bt->name, "_DequantizeLinear_Output", QC_FLOAT, bt->value.rank, bt->value.dims, NULL);
    char nd[600];
    snprintf(nd, sizeof nd, "%s_DequantizeLinear", bt->name);
    int ni = s < 0 || z < 0 || dq < 0 ? -1 : emit(q, nd, "DequantizeLinear", "", (int[]){qi, s, z}, 3, &dq, 1);
    if (ni < 0 || (per_channel && add_int_attr(&q->ng->nodes[ni], "axis", 0) != QC_OK))
        return oom(q);
    *bi = dq;
    return QC_OK;
}

/* ---- emitting nodes ------------------------------------------------------------------------------ */

static qc_status copy_attrs(qc_node *dst, const qc_node *src, const char *skip)
{
    for (int a = 0; a < src->n_attrs; a++)
        if ((!skip || strcmp(src->attrs[a].name, skip)) && add_attr(dst, &src->attrs[a]) != QC_OK)
            return QC_ERR_IO;
    return QC_OK;
}

/* ---- nodes of older opsets in the opset-13 form the output declares (Q13) ---------------- */

/* Attributes that opset 13 no longer has on op (they became inputs, or are gone). */
static bool legacy_attr(const qc_node *n, const char *name)
{
    static const char *const legacy[][4] = {
        {"Clip", "min", "max", NULL},
        {"Squeeze", "axes", NULL, NULL},
        {"Unsqueeze", "axes", NULL, NULL},
        {"Softmax", "axis", NULL, NULL},
        {"Dropout", "ratio", "is_test", NULL},
        {"BatchNormalization", "spatial", "is_test", "consumed_inputs"},
    };
    for (size_t i = 0; i < sizeof legacy / sizeof legacy[0]; i++)
        if (is_op(n, legacy[i][0]))
            for (int j = 1; j < 4 && legacy[i][j]; j++)
                if (!strcmp(name, legacy[i][j]))
                    return true;
    return false;
}

/* For a model below opset 13: the inputs that replace n's legacy attributes (Clip's min and
 * max, Squeeze/Unsqueeze's axes), and Softmax's axis under opset 13's meaning in *axis (-2
 * when there is nothing to set). */
static qc_status upgrade_inputs(qz *q, const qc_node *n, int *in, int *n_in, int64_t *axis)
{
    const int64_t opset = q->g->opset;
    *axis = -2;
    if (opset >= 13)
        return QC_OK;
    if (is_op(n, "Clip") && opset < 11) {
        const qc_attr *lo = qc_node_attr(n, "min"), *hi = qc_node_attr(n, "max");
        in[1] = lo ? new_scalar(q, n->name, "_min", QC_FLOAT, lo->f) : -1;
        in[2] = hi ? new_scalar(q, n->name, "_max", QC_FLOAT, hi->f) : -1;
        if ((lo && in[1] < 0) || (hi && in[2] < 0))
            return oom(q);
        *n_in = hi ? 3 : lo ? 2 : 1;
    } else if ((is_op(n, "Squeeze") || is_op(n, "Unsqueeze")) && qc_node_attr(n, "axes")) {
        const qc_attr *a = qc_node_attr(n, "axes");
        int64_t *data = malloc((size_t)(a->n ? a->n : 1) * sizeof *data), dims[1] = {a->n};
        if (!data)
            return oom(q);
        for (int k = 0; k < a->n; k++)
            data[k] = a->ints[k];
        if ((in[1] = new_tensor(q, n->name, "_axes", QC_INT64, 1, dims, data)) < 0)
            return oom(q);
        *n_in = 2;
    } else if (is_op(n, "Softmax")) {
        /* Before 13, Softmax ran over the input flattened to 2-d at axis (default 1); from 13
         * over one axis (default -1). The same whenever at most one dimension from axis on is
         * larger than 1: that one (or the last) is the axis. */
        const qc_value *x = &q->g->tensors[n->inputs[0]].value;
        int64_t a = qc_node_attr_int(n, "axis", 1);
        if (a < 0)
            a += x->rank;
        int wide = -1, count = 0;
        for (int d = (int)a; d < x->rank; d++)
            if (x->dims[d] > 1) {
                wide = d;
                count++;
            }
        if (count > 1)
            return qc_fail(q->err, QC_ERR_INPUT,
                           "node '%s': Softmax over several dimensions (opset %lld) has no "
                           "single-axis form in opset 13; keep the model at opset 13 or newer",
                           n->name, (long long)opset);
        *axis = wide >= 0 ? wide : x->rank - 1;
    }
    return QC_OK;
}

/* Node i as it is (QDQ / FakeQuantize: also the quantized ones, with their weight and bias
 * replaced); its outputs quantized and dequantized when planned. */
static qc_status emit_float_node(qz *q, int i)
{
    const qc_node *n = &q->g->nodes[i];
    int in[16], out[8];
    if (n->n_inputs > 16 || n->n_outputs > 8)
        return qc_fail(q->err, QC_ERR_INPUT, "node '%s' has too many inputs or outputs", n->name);
    node_kind k = q->kind[i];
    bool weighted = q->o->format != QC_FORMAT_QOPERATOR && (k == K_CONV || k == K_GEMM || k == K_MATMUL);
    for (int j = 0; j < n->n_inputs; j++) {
        if (weighted && j > 0) /* replaced below */
            continue;
        in[j] = n->inputs[j] < 0 ? -1 : q->o->format == QC_FORMAT_QOPERATOR ? f_of(q, n->inputs[j]) : plain(q, n->inputs[j]);
        if (n->inputs[j] >= 0 && in[j] < 0)
            return oom(q);
    }
    if (weighted) {
        int ws, wz;
        qc_status st = quantize_weight(q, n, k, &in[1], &ws, &wz);
        if (st == QC_OK && n->n_inputs > 2)
            st = quantize_bias(q, n, n->inputs[0], n->inputs[1], &in[2]);
        if (st != QC_OK)
            return st;
    }
    for (int j = 0; j < n->n_outputs; j++) {
        int t = j == 0 ? node_output(q, i) : n->outputs[j];
        if (t < 0) {
            out[j] = -1;
            continue;
        }
        const qc_tensor *ft = &q->g->tensors[t];
        out[j] = new_tensor(q, ft->name, "", ft->value.dtype, ft->value.rank, ft->value.dims, NULL);
        if (out[j] < 0)
            return oom(q);
        q->fname[t] = out[j];
    }
    int n_in = n->n_inputs;
    int64_t axis;
    qc_status up = upgrade_inputs(q, n, in, &n_in, &axis);
    if (up != QC_OK)
        return up;
    int ni = emit(q, n->name, n->op_type, n->domain, in, n_in, out, n->n_outputs);
    if (ni < 0)
        return oom(q);
    qc_node *nn = &q->ng->nodes[ni];
    for (int a = 0; a < n->n_attrs; a++)
        if (!(q->g->opset < 13 && legacy_attr(n, n->attrs[a].name)) && add_attr(nn, &n->attrs[a]) != QC_OK)
            return oom(q);
    if (axis != -2 && add_int_attr(nn, "axis", axis) != QC_OK)
        return oom(q);
    if (q->o->format != QC_FORMAT_QOPERATOR)
        for (int j = 0; j < n->n_outputs; j++) {
            int t = j == 0 ? node_output(q, i) : n->outputs[j];
            if (t >= 0 && q->src[t] >= 0) {
                qc_status st = emit_qdq(q, t);
                if (st != QC_OK)
                    return st;
            }
        }
    return QC_OK;
}

/* QOperator: node i as its integer operator (Q11). */
static qc_status emit_qop_node(qz *q, int i)
{
    const qc_node *n = &q->g->nodes[i];
    node_kind k = q->kind[i];
    int y = node_output(q, i);
    const qc_tensor *yt = &q->g->tensors[y];
    int in[48], n_in = 0, ys, yz, s, z;
    qc_status st = act_consts(q, y, &ys, &yz);
    if (st != QC_OK)
        return st;
    const char *op = n->op_type, *domain = "", *skip_attr = NULL;
    int x = q_of(q, n->inputs[0]);
    if (x < 0 || act_consts(q, n->inputs[0], &s, &z) != QC_OK)
        return oom(q);
    switch (k) {
    case K_CONV:
    case K_GEMM:
    case K_MATMUL: {
        int wi, ws, wz, bi;
        st = quantize_weight(q, n, k, &wi, &ws, &wz);
        if (st == QC_OK)
            st = quantize_bias(q, n, n->inputs[0], n->inputs[1], &bi);
        if (st != QC_OK)
            return st;
        int base[] = {x, s, z, wi, ws, wz};
        memcpy(in, base, sizeof base);
        n_in = 6;
        if (k == K_CONV) {
            op = "QLinearConv";
            in[n_in++] = ys;
            in[n_in++] = yz;
            if (bi >= 0)
                in[n_in++] = bi;
        } else if (k == K_GEMM) { /* as ONNX Runtime writes a Gemm: com.microsoft QGemm */
            op = "QGemm";
            domain = MS_DOMAIN;
            skip_attr = "beta";
            in[n_in++] = bi;
            in[n_in++] = ys;
            in[n_in++] = yz;
        } else {
            op = "QLinearMatMul";
            in[n_in++] = ys;
            in[n_in++] = yz;
        }
        break;
    }
    case K_ADD: {
        int b = q_of(q, n->inputs[1]), bs, bz;
        if (b < 0 || act_consts(q, n->inputs[1], &bs, &bz) != QC_OK)
            return oom(q);
        int v[] = {x, s, z, b, bs, bz, ys, yz};
        memcpy(in, v, sizeof v);
        n_in = 8;
        op = "QLinearAdd";
        domain = MS_DOMAIN;
        break;
    }
    case K_CONCAT:
        if (n->n_inputs > 15)
            return qc_fail(q->err, QC_ERR_INPUT, "node '%s' has too many inputs", n->name);
        in[n_in++] = ys;
        in[n_in++] = yz;
        for (int j = 0; j < n->n_inputs; j++) {
            int xj = q_of(q, n->inputs[j]), sj, zj;
            if (xj < 0 || act_consts(q, n->inputs[j], &sj, &zj) != QC_OK)
                return oom(q);
            in[n_in++] = xj;
            in[n_in++] = sj;
            in[n_in++] = zj;
        }
        op = "QLinearConcat";
        domain = MS_DOMAIN;
        break;
    case K_AVGPOOL:
    case K_GAP: {
        int v[] = {x, s, z, ys, yz};
        memcpy(in, v, sizeof v);
        n_in = 5;
        op = k == K_GAP ? "QLinearGlobalAveragePool" : "QLinearAveragePool";
        domain = MS_DOMAIN;
        break;
    }
    default: /* MaxPool, Flatten, Reshape on the integers, parameters passed through */
        in[n_in++] = x;
        for (int j = 1; j < n->n_inputs; j++)
            if ((in[n_in++] = plain(q, n->inputs[j])) < 0 && n->inputs[j] >= 0)
                return oom(q);
        break;
    }
    const qc_qparams *yp = &q->p[root(q, y)];
    int out = new_tensor(q, yt->name, q->int_clip[i] ? "_preclip" : "_quantized", qdtype(yp), yt->value.rank,
                         yt->value.dims, NULL);
    if (out < 0)
        return oom(q);
    int ni = emit(q, n->name, op, domain, in, n_in, &out, 1);
    if (ni < 0 || copy_attrs(&q->ng->nodes[ni], n, skip_attr) != QC_OK ||
        (k == K_GAP && add_int_attr(&q->ng->nodes[ni], "channels_last", 0) != QC_OK))
        return oom(q);
    if (q->int_clip[i]) { /* the fused Relu on the integers: max(q, z) */
        int lo = new_scalar(q, yt->name, "_clip_min", qdtype(yp), yp->zero_point);
        int clipped = new_tensor(q, yt->name, "_quantized", qdtype(yp), yt->value.rank, yt->value.dims, NULL);
        char nn[600];
        snprintf(nn, sizeof nn, "%s_Clip", yt->name);
        if (lo < 0 || clipped < 0 || emit(q, nn, "Clip", "", (int[]){out, lo}, 2, &clipped, 1) < 0)
            return oom(q);
        out = clipped;
    }
    q->qname[y] = out;
    return QC_OK;
}

/* ---- metadata and the entry point ---------------------------------------------------------------- */

static qc_status set_metadata(qz *q)
{
    const qc_quantize_options *o = q->o;
    char buf[64];
    qc_status st = QC_OK;
#define META(k, v) \
    if (st == QC_OK) \
        st = qc_graph_set_meta(q->ng, k, v)
    META("qcal.format", qc_qformat_name(o->format));
    META("qcal.scheme", qc_scheme_name(o->scheme));
    META("qcal.method", qc_range_method_name(o->method));
    snprintf(buf, sizeof buf, "%d", o->weight_bits);
    META("qcal.weight_bits", buf);
    snprintf(buf, sizeof buf, "%d", o->act_bits);
    META("qcal.act_bits", buf);
    META("qcal.per_channel", o->per_channel ? "true" : "false");
    META("qcal.reduce_range", o->reduce_range ? "true" : "false");
    META("qcal.round", qc_round_mode_name(o->round));
    if (o->act_round != QC_ROUND_HALF_EVEN)
        META("qcal.act_round", qc_round_mode_name(o->act_round));
    if (o->input_compensation)
        META("qcal.input_compensation", "true");
    if (o->method == QC_RANGE_AVGSTD || o->method == QC_RANGE_MEANSTD) {
        snprintf(buf, sizeof buf, "%.9g", o->range.n_std);
        META("qcal.n_std", buf);
    } else if (o->method == QC_RANGE_PERCENTILE) {
        snprintf(buf, sizeof buf, "%.9g", o->range.percentile);
        META("qcal.percentile", buf);
    } else if (o->method == QC_RANGE_ENTROPY || o->method == QC_RANGE_MSE) {
        snprintf(buf, sizeof buf, "%d", q->range.bits);
        META("qcal.range_bits", buf);
    }
    snprintf(buf, sizeof buf, "%lld", (long long)q->s->images);
    META("qcal.calibration_images", buf);
    snprintf(buf, sizeof buf, "%016llx", (unsigned long long)q->s->images_digest);
    META("qcal.calibration_digest", buf);
    /* the FP32 model the statistics were gathered on (the statistics file's model hash), so
     * that a quantized file can be matched with its source */
    if (q->s->model_hash) {
        snprintf(buf, sizeof buf, "%016llx", (unsigned long long)q->s->model_hash);
        META("qcal.source_model_hash", buf);
    }
#undef META
    return st == QC_OK ? QC_OK : oom(q);
}

static qc_status check_options(const qc_graph *g, const qc_quantize_options *o, qc_error *err)
{
    if (o->weight_bits < QC_BITS_MIN || o->weight_bits > QC_BITS_MAX || o->act_bits < QC_BITS_MIN ||
        o->act_bits > QC_BITS_MAX)
        return qc_fail(err, QC_ERR_USAGE, "bit widths must be from %d to %d (weights %d, activations %d)",
                       QC_BITS_MIN, QC_BITS_MAX, o->weight_bits, o->act_bits);
    if ((unsigned)o->format > QC_FORMAT_FAKEQUANT || (unsigned)o->scheme > QC_SCHEME_SYMLOWP ||
        (unsigned)o->method >= QC_RANGE_COUNT)
        return qc_fail(err, QC_ERR_USAGE, "unknown format, scheme or method");
    if (o->format == QC_FORMAT_QOPERATOR && o->act_bits != 8)
        return qc_fail(err, QC_ERR_USAGE,
                       "the qoperator format needs 8-bit activations (its operators clamp to 8 bits); "
                       "use qdq or fakequant for %d bits", o->act_bits);
    if ((unsigned)o->round >= QC_ROUND_COUNT || (unsigned)o->act_round >= QC_ROUND_COUNT)
        return qc_fail(err, QC_ERR_USAGE, "unknown round mode");
    if (o->act_round != QC_ROUND_HALF_EVEN && o->format != QC_FORMAT_FAKEQUANT)
        return qc_fail(err, QC_ERR_USAGE,
                       "activation rounding %s (%s) needs the fakequant format: %s quantizes activations with "
                       "QuantizeLinear, which rounds half to even", qc_round_mode_name(o->act_round),
                       qc_round_mode_ngraph_name(o->act_round), qc_qformat_name(o->format));
    if (o->input_compensation && o->format == QC_FORMAT_QOPERATOR)
        return qc_fail(err, QC_ERR_USAGE,
                       "input compensation needs the qdq or fakequant format: its activations have a scale "
                       "per channel, and the QOperator ops pass one scale per tensor between them");
    for (int i = 0; i < o->n_exclude; i++) {
        bool found = false;
        for (int j = 0; j < g->n_nodes && !found; j++)
            found = !strcmp(g->nodes[j].name, o->exclude[i]);
        if (!found)
            return qc_fail(err, QC_ERR_USAGE, "--exclude: no node is named '%s' in '%s'", o->exclude[i], g->name);
    }
    return QC_OK;
}

qc_status qc_quantize(const qc_graph *fp32, const qc_stats *stats, const qc_quantize_options *o,
                      qc_graph **out, qc_quantize_report *report, qc_error *err)
{
    *out = NULL;
    if (report) {
        report->n = 0;
        report->tensors = NULL;
    }
    qc_status st = check_options(fp32, o, err);
    if (st != QC_OK)
        return st;
    st = qc_stats_check_model(stats, fp32, 0, "the statistics", fp32->name, err);
    if (st != QC_OK)
        return st;
    if (o->input_compensation && !stats->per_channel)
        return qc_fail(err, QC_ERR_USAGE,
                       "input compensation needs per-channel statistics; these were gathered per tensor "
                       "(qcal stats --granularity channel gathers them)");
    qz q = {.g = fp32, .s = stats, .o = o, .range = o->range, .err = err, .rep = report};
    q.range.bits = o->act_bits;
    size_t nt = (size_t)fp32->n_tensors + 1, nn = (size_t)fp32->n_nodes + 1;
    q.src = malloc(nt * sizeof *q.src);
    q.has_p = calloc(nt, sizeof *q.has_p);
    q.p = calloc(nt, sizeof *q.p);
    q.lo = calloc(nt, sizeof *q.lo);
    q.hi = calloc(nt, sizeof *q.hi);
    q.fname = malloc(nt * sizeof *q.fname);
    q.qname = malloc(nt * sizeof *q.qname);
    q.sname = malloc(nt * sizeof *q.sname);
    q.zname = malloc(nt * sizeof *q.zname);
    q.wq = malloc(nt * sizeof *q.wq);
    q.wp = calloc(nt, sizeof *q.wp);
    q.wch = calloc(nt, sizeof *q.wch);
    q.kind = calloc(nn, sizeof *q.kind);
    q.fused = malloc(nn * sizeof *q.fused);
    q.int_clip = calloc(nn, sizeof *q.int_clip);
    q.signed_act = o->format == QC_FORMAT_QOPERATOR && o->scheme == QC_SCHEME_SYMLOWP;
    q.absorbed = calloc(nn, sizeof *q.absorbed);
    q.comp_node = calloc(nn, sizeof *q.comp_node);
    q.cp = calloc(nt, sizeof *q.cp);
    q.cch = calloc(nt, sizeof *q.cch);
    q.divisor = malloc(nt * sizeof *q.divisor);
    q.ng = qc_graph_create(fp32->name);
    if (!q.src || !q.has_p || !q.p || !q.lo || !q.hi || !q.fname || !q.qname || !q.sname || !q.zname || !q.wq ||
        !q.wp || !q.wch || !q.kind || !q.fused || !q.int_clip || !q.absorbed || !q.comp_node || !q.cp || !q.cch ||
        !q.divisor || !q.ng) {
        st = oom(&q);
        goto end;
    }
    for (size_t t = 0; t < nt; t++)
        q.src[t] = q.fname[t] = q.qname[t] = q.sname[t] = q.zname[t] = q.wq[t] = q.divisor[t] = -1;
    for (size_t i = 0; i < nn; i++)
        q.fused[i] = -1;
    if ((st = plan(&q)) != QC_OK)
        goto end;

    qc_graph *ng = q.ng;
    ng->opset = fp32->opset > 13 ? fp32->opset : 13; /* per-axis QuantizeLinear needs 13 */
    for (int i = 0; i < fp32->n_meta && st == QC_OK; i++)
        st = qc_graph_set_meta(ng, fp32->meta_keys[i], fp32->meta_values[i]);
    if (st == QC_OK)
        st = set_metadata(&q);
    if (st != QC_OK)
        goto end;
    ng->inputs = malloc((size_t)(fp32->n_inputs + 1) * sizeof *ng->inputs);
    ng->outputs = malloc((size_t)(fp32->n_outputs + 1) * sizeof *ng->outputs);
    if (!ng->inputs || !ng->outputs) {
        st = oom(&q);
        goto end;
    }
    for (int i = 0; i < fp32->n_inputs; i++) {
        int t = fp32->inputs[i];
        int ti = plain(&q, t);
        if (ti < 0) {
            st = oom(&q);
            goto end;
        }
        ng->tensors[ti].is_input = true;
        ng->tensors[ti].symbolic = fp32->tensors[t].symbolic;
        ng->inputs[ng->n_inputs++] = ti;
        if (o->format != QC_FORMAT_QOPERATOR && q.src[t] >= 0 && (st = emit_qdq(&q, t)) != QC_OK)
            goto end;
    }
    for (int i = 0; i < fp32->n_nodes && st == QC_OK; i++) {
        if (q.absorbed[i])
            continue;
        if (o->format == QC_FORMAT_QOPERATOR && q.kind[i] != K_FP32)
            st = emit_qop_node(&q, i);
        else
            st = emit_float_node(&q, i);
    }
    if (st != QC_OK)
        goto end;
    for (int i = 0; i < fp32->n_outputs; i++) {
        int t = fp32->outputs[i];
        int ti = o->format == QC_FORMAT_QOPERATOR ? f_of(&q, t) : plain(&q, t);
        if (ti < 0) {
            st = oom(&q);
            goto end;
        }
        ng->tensors[ti].is_output = true;
        ng->outputs[ng->n_outputs++] = ti;
    }
    /* Not prepared: qc_graph_prepare folds constant subgraphs, and a DequantizeLinear of a
     * constant weight is one, so preparing would store the weights as floats again. */
    *out = ng;
    q.ng = NULL;

end:
    for (size_t t = 0; t < nt; t++) {
        if (q.wp)
            free(q.wp[t]);
        if (q.cp)
            free(q.cp[t]);
    }
    free(q.src);
    free(q.has_p);
    free(q.p);
    free(q.lo);
    free(q.hi);
    free(q.fname);
    free(q.qname);
    free(q.sname);
    free(q.zname);
    free(q.wq);
    free(q.wp);
    free(q.wch);
    free(q.kind);
    free(q.fused);
    free(q.int_clip);
    free(q.absorbed);
    free(q.comp_node);
    free(q.cp);
    free(q.cch);
    free(q.divisor);
    qc_graph_destroy(q.ng);
    if (st != QC_OK && report)
        qc_quantize_report_free(report);
    return st;
}
