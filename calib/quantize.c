/* quantize.c — the quantizer: an FP32 graph and its statistics become a QDQ, QOperator or
 * FakeQuantize graph (docs/qparams.md, "The quantizer", rules Q1–Q17).
 *
 * Two passes over the FP32 nodes in topological order. The plan (this file) decides which
 * nodes are quantized, from the op table (quantize-ops.c: one row per op), which Relu/Clip
 * are fused into the node before them, and which tensors share quantization parameters
 * (MaxPool, Flatten and Reshape pass their input's through, Concat gives its output's to
 * every input). The emission (quantize-graph.c) then builds a new graph: in QDQ and
 * FakeQuantize every quantized activation is followed by QuantizeLinear → DequantizeLinear
 * and every reader sees the dequantized value; in QOperator quantized nodes exchange the
 * integer tensors, and QuantizeLinear / DequantizeLinear appear only where an FP32 part of
 * the graph meets a quantized one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quantize-impl.h"

/* ---- options and names ---------------------------------------------------------------------- */

void qc_quantize_options_default(qc_quantize_options *o)
{
    memset(o, 0, sizeof *o);
    o->scheme = QC_SCHEME_MIXED; /* int8 weights: the files ONNX Runtime runs fastest (README) */
    o->weight_bits = 8;
    o->act_bits = 8;
    o->round = QC_ROUND_HALF_EVEN;
    o->act_round = QC_ROUND_HALF_EVEN;
    o->method = QC_RANGE_MINMAX;
    qc_range_params_default(&o->range);
    o->format = QC_FORMAT_QDQ;
    o->weights = QC_GRANULARITY_CHANNEL;
    o->activations = QC_GRANULARITY_TENSOR;
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
        free(r->tensors[i].range_of);
    }
    free(r->tensors);
    for (int i = 0; i < r->n_nodes; i++)
        free(r->nodes[i]);
    free(r->nodes);
    *r = (qc_quantize_report){0};
}

qc_status qz_report_add(qz *q, const char *tensor, const char *role, int n_channels, float lo,
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
    e->range_of = NULL;
    r->n++;
    return QC_OK;
}

/* ---- the plan ---------------------------------------------------------------------------------- */

bool qz_is_op(const qc_node *n, const char *op)
{
    return !n->domain[0] && !strcmp(n->op_type, op);
}

static bool excluded(const qz *q, const qc_node *n)
{
    for (int i = 0; i < q->o->n_exclude; i++)
        if (!strcmp(q->o->exclude[i], n->name))
            return true;
    return qz_node_options(q, (int)(n - q->g->nodes))->n_exclude > 0;
}

const qc_quantize_options *qz_node_options(const qz *q, int i)
{
    return i >= 0 ? &q->node_o[i] : q->o;
}

const qc_quantize_options *qz_tensor_options(const qz *q, int t)
{
    int p = t >= 0 ? q->g->tensors[t].producer : -1;
    if (p >= 0 && q->nodes[p].absorbed)
        for (int i = 0; i < q->g->n_nodes; i++)
            if (q->nodes[i].fused == p)
                return qz_node_options(q, i);
    return qz_node_options(q, p);
}

/* The range parameters of tensor t's options: entropy and mse take its activation bits. */
static qc_range_params tensor_range(const qz *q, int t)
{
    qc_range_params r = qz_tensor_options(q, t)->range;
    r.bits = qz_tensor_options(q, t)->act_bits;
    return r;
}

/* A float tensor computed at run time (not a constant, not an integer shape tensor). */
bool qz_is_activation(const qc_graph *g, int t)
{
    return t >= 0 && !g->tensors[t].is_const && g->tensors[t].value.dtype == QC_FLOAT;
}

bool qz_is_float_const(const qc_graph *g, int t)
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

int qz_root(const qz *q, int t)
{
    for (int guard = 0; t >= 0 && q->tens[t].src != t && guard < q->g->n_tensors; guard++)
        t = q->tens[t].src;
    return t;
}

/* Tensor t's range method and parameters: --method auto's choice for it, else its options'. */
static qc_range_method tensor_method(const qz *q, int t, qc_range_params *range)
{
    const qc_auto_choice *c = qc_auto_find(q->o->auto_choices, q->o->n_auto_choices, q->g->tensors[t].name);
    *range = c ? c->range : tensor_range(q, t);
    return c ? c->method : qz_tensor_options(q, t)->method;
}

/* The range the method gives tensor t from its own statistics. */
static qc_status stats_range(const qz *q, int t, float *lo, float *hi)
{
    const char *name = q->g->tensors[t].name;
    int si = qc_stats_find(q->s, name);
    if (si < 0)
        return qc_fail(q->err, QC_ERR_INPUT, "the statistics have no tensor '%s'", name);
    qc_range_params range;
    qc_range_method method = tensor_method(q, t, &range);
    return qc_stats_range(&q->s->tensors[si], method, &range, -1, lo, hi, q->err);
}

/* Activation parameters of tensor t from its own statistics. */
static qc_status stats_params(const qz *q, int t, qc_qparams *p, float *lo, float *hi)
{
    qc_status st = stats_range(q, t, lo, hi);
    if (st != QC_OK)
        return st;
    const qc_quantize_options *o = qz_tensor_options(q, t);
    return qc_qparams_activation(*lo, *hi, o->scheme, o->act_bits, q->signed_act, q->g->tensors[t].name, p, q->err);
}

/* Node i's row in the op table when it can be quantized, NULL otherwise (rules Q1–Q4): a
 * node of the default domain, not excluded, from a float activation to a float activation,
 * whose op has a row whose conditions hold. */
static const qz_op *classify(const qz *q, int i)
{
    const qc_graph *g = q->g;
    const qc_node *n = &g->nodes[i];
    if (n->domain[0] || excluded(q, n) || n->n_outputs < 1 || !qz_is_activation(g, n->outputs[0]))
        return NULL;
    int x = n->n_inputs > 0 ? n->inputs[0] : -1;
    if (!qz_is_activation(g, x))
        return NULL;
    const qz_op *op = qz_op_find(q, n);
    /* TensorRT: QDQ on the inputs of the layers with weights only (Q16) */
    if (op && q->o->target == QC_TARGET_TENSORRT && (op->weights == QZ_WEIGHTS_NONE || op->weights == QZ_WEIGHTS_OPERAND))
        return NULL;
    if (!op || (op->needs_quantized_input && q->tens[x].src < 0))
        return NULL;
    return op;
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
    if (qz_is_op(a, "Relu")) {
        *cmin = 0;
        *cmax = INFINITY;
        return true;
    }
    if (!qz_is_op(a, "Clip"))
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
    if (excluded(q, a) || a->n_outputs != 1 || !qz_is_activation(g, a->outputs[0]) ||
        !activation_bounds(g, a, &cmin, &cmax))
        return QC_OK;
    qc_qparams p;
    float lo, hi;
    qc_status st = stats_params(q, a->outputs[0], &p, &lo, &hi);
    if (st != QC_OK)
        return st;
    if (clamp_does_activation(q, a, &p, &q->nodes[i].int_clip)) {
        q->nodes[i].fused = r;
        q->nodes[r].absorbed = true;
    } else {
        q->nodes[i].int_clip = false;
    }
    return QC_OK;
}

/* The tensor node i writes in the quantized graph (the fused activation's output). */
int qz_node_output(const qz *q, int i)
{
    return q->nodes[i].fused >= 0 ? q->g->nodes[q->nodes[i].fused].outputs[0] : q->g->nodes[i].outputs[0];
}

/* Parameters of every root from its statistics (Q3). The root's range is widened by that of
 * every other Concat output sharing it: a tensor read by two Concats links both, and each
 * must hold its own inputs (Q6). */
static qc_status root_params(qz *q)
{
    const qc_graph *g = q->g;
    for (int t = 0; t < g->n_tensors; t++) {
        if (q->tens[t].src < 0)
            continue;
        int r = qz_root(q, t);
        if (!q->tens[r].has_p) {
            qc_status st = stats_range(q, r, &q->tens[r].lo, &q->tens[r].hi);
            if (st != QC_OK)
                return st;
            q->tens[r].has_p = true;
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const qz_op *op = q->nodes[i].op;
        int y = op && op->out == QZ_OUT_SHARED ? qz_node_output(q, i) : -1, r = y >= 0 ? qz_root(q, y) : -1;
        if (y < 0 || r == y)
            continue;
        float lo, hi;
        qc_status st = stats_range(q, y, &lo, &hi);
        if (st != QC_OK)
            return st;
        q->tens[r].lo = fminf(q->tens[r].lo, lo);
        q->tens[r].hi = fmaxf(q->tens[r].hi, hi);
    }
    for (int r = 0; r < g->n_tensors; r++)
        if (q->tens[r].src == r) {
            const qc_quantize_options *o = qz_tensor_options(q, r);
            qc_status st = qc_qparams_activation(q->tens[r].lo, q->tens[r].hi, o->scheme, o->act_bits, q->signed_act,
                                                 g->tensors[r].name, &q->tens[r].p, q->err);
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
        if (q->nodes[i].fused < 0)
            continue;
        const qc_node *a = &g->nodes[q->nodes[i].fused];
        if (clamp_does_activation(q, a, &q->tens[qz_root(q, a->outputs[0])].p, &q->nodes[i].int_clip))
            continue;
        q->nodes[q->nodes[i].fused].absorbed = false;
        q->nodes[i].fused = -1;
        q->nodes[i].int_clip = false;
        int t = g->nodes[i].outputs[0];
        q->tens[t].src = t;
        qc_status st = stats_params(q, t, &q->tens[t].p, &q->tens[t].lo, &q->tens[t].hi);
        if (st != QC_OK)
            return st;
        q->tens[t].has_p = true;
    }
    return QC_OK;
}

static qc_status plan_compensation(qz *q);

/* The names of the nodes quantized, for the report: what --exclude can return to FP32. */
static qc_status report_nodes(qz *q)
{
    qc_quantize_report *r = q->rep;
    if (!r)
        return QC_OK;
    if (!(r->nodes = calloc((size_t)q->g->n_nodes + 1, sizeof *r->nodes)))
        return qz_oom(q);
    for (int i = 0; i < q->g->n_nodes; i++)
        if (q->nodes[i].op && !(r->nodes[r->n_nodes++] = strdup(q->g->nodes[i].name)))
            return qz_oom(q);
    return QC_OK;
}

static qc_status plan(qz *q)
{
    const qc_graph *g = q->g;
    for (int i = 0; i < g->n_nodes; i++) {
        if (q->nodes[i].absorbed)
            continue;
        const qz_op *op = classify(q, i);
        q->nodes[i].op = op;
        if (!op)
            continue;
        const qc_node *n = &g->nodes[i];
        if (op->fuses_activation && q->o->target != QC_TARGET_TENSORRT) {
            qc_status st = plan_fusion(q, i);
            if (st != QC_OK)
                return st;
        }
        int x = n->inputs[0], y = qz_node_output(q, i);
        switch (op->out) {
        case QZ_OUT_PASS:
            q->tens[y].src = x; /* same scale and zero point as the input (Q4) */
            break;
        case QZ_OUT_SHARED:
            q->tens[y].src = y;
            for (int j = 0; j < n->n_inputs; j++) { /* one scale for all inputs (Q6) */
                int in = n->inputs[j], r = q->tens[in].src >= 0 ? qz_root(q, in) : in;
                if (r != y)
                    q->tens[r].src = y;
                if (q->tens[in].src < 0)
                    q->tens[in].src = y;
            }
            break;
        case QZ_OUT_OWN:
            for (int j = op->own_inputs - 1; j >= 0; j--)
                if (qz_is_activation(g, n->inputs[j]) && q->tens[n->inputs[j]].src < 0)
                    q->tens[n->inputs[j]].src = n->inputs[j];
            if (q->o->target != QC_TARGET_TENSORRT) /* TensorRT: outputs stay float (Q16) */
                q->tens[y].src = y;
            break;
        }
    }
    qc_status st = root_params(q);
    if (st == QC_OK)
        st = recheck_fusion(q);
    if (st == QC_OK)
        st = report_nodes(q);
    if (st == QC_OK && q->o->activations == QC_GRANULARITY_COMPENSATED)
        st = plan_compensation(q);
    for (int t = 0; t < g->n_tensors && st == QC_OK; t++) {
        if (q->tens[t].src < 0)
            continue;
        int r = qz_root(q, t);
        st = qz_report_add(q, g->tensors[t].name, g->tensors[t].is_input ? "input" : "activation",
                                  q->tens[r].cp ? q->tens[r].cch : 1, q->tens[r].lo, q->tens[r].hi, q->tens[r].cp ? q->tens[r].cp : &q->tens[r].p,
                                  qz_tensor_options(q, r)->act_bits);
        if (st == QC_OK && q->rep && !(q->rep->tensors[q->rep->n - 1].range_of = strdup(g->tensors[r].name)))
            st = qz_oom(q);
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
    const qz_op *op = q->nodes[i].op;
    switch (op ? op->compensation : QZ_COMP_NONE) {
    case QZ_COMP_LINEAR:
        /* a weight shared with another node cannot carry this input's scales; a MatMul over
         * a batch of rows has its features on the last axis, not on axis 1 */
        if (readers(g, n->inputs[1], &only) != 1 || (op->weights != QZ_WEIGHTS_CONV && g->tensors[t].value.rank != 2))
            return false;
        *linear = true;
        return true;
    case QZ_COMP_KEEPS:
        return true;
    case QZ_COMP_RESHAPES: {
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
    qc_range_params range;
    qc_range_method method = tensor_method(q, r, &range);
    if (qc_range_method_uses_histogram(method)) {
        *lo = fmaxf(ts->ch[c].min, q->tens[r].lo);
        *hi = fminf(ts->ch[c].max, q->tens[r].hi);
        if (!(*lo <= *hi))
            *lo = *hi = 0;
    } else {
        qc_status st = qc_stats_range(ts, method, &range, c, lo, hi, q->err);
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
    if (a < 0 || !q->nodes[a].absorbed)
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
        if (q->tens[r].src != r)
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
            if (q->tens[t].src < 0 || qz_root(q, t) != r)
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
            cp[c] = channel_params(&q->tens[r].p, lo, hi);
        }
        if (!fusion_holds(q, r, cp, C)) {
            free(cp);
            continue;
        }
        q->tens[r].cp = cp;
        q->tens[r].cch = (int)C;
        q->tens[r].p.scale = 1.0f; /* the family is quantized as x / s_c: in units of its own step */
        for (int t = 0; t < g->n_tensors; t++)
            if (q->tens[t].src >= 0 && qz_root(q, t) == r)
                for (int i = 0; i < g->n_nodes; i++)
                    if (g->nodes[i].n_inputs > 0 && g->nodes[i].inputs[0] == t &&
                        q->nodes[i].op && q->nodes[i].op->compensation == QZ_COMP_LINEAR)
                        q->nodes[i].comp_node = true;
    }
    return QC_OK;
}

/* ---- metadata and the entry point ---------------------------------------------------------------- */

static int by_tensor_name(const void *a, const void *b)
{
    return strcmp((*(const qc_auto_choice *const *)a)->tensor, (*(const qc_auto_choice *const *)b)->tensor);
}

/* "tensor=method(param);…" of --method auto's choices, sorted by tensor name (bytewise), so
 * the same choices give the same text; NULL out of memory. */
static char *auto_methods(const qz *q)
{
    const qc_quantize_options *o = q->o;
    const qc_auto_choice **sorted = malloc((size_t)o->n_auto_choices * sizeof *sorted);
    size_t cap = 1, len = 0;
    int n = 0;
    for (int i = 0; i < o->n_auto_choices; i++)
        cap += strlen(o->auto_choices[i].tensor) + 48;
    char *out = sorted ? malloc(cap) : NULL;
    if (!out) {
        free(sorted);
        return NULL;
    }
    for (int t = 0; t < q->g->n_tensors; t++) /* the tensors whose statistics gave a range */
        if (q->tens[t].src == t && q->tens[t].has_p &&
            (sorted[n] = qc_auto_find(o->auto_choices, o->n_auto_choices, q->g->tensors[t].name)))
            n++;
    qsort(sorted, (size_t)n, sizeof *sorted, by_tensor_name);
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        char name[48];
        qc_auto_candidate_name(&qc_auto_candidates()[sorted[i]->choice], name, sizeof name);
        len += (size_t)snprintf(out + len, cap - len, "%s%s=%s", i ? ";" : "", sorted[i]->tensor, name);
    }
    free(sorted);
    return out;
}

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
    META("qcal.method", o->n_auto_choices ? "auto" : qc_range_method_name(o->method));
    snprintf(buf, sizeof buf, "%d", o->weight_bits);
    META("qcal.weight_bits", buf);
    snprintf(buf, sizeof buf, "%d", o->act_bits);
    META("qcal.act_bits", buf);
    META("qcal.per_channel", o->weights == QC_GRANULARITY_CHANNEL ? "true" : "false");
    META("qcal.reduce_range", o->reduce_range ? "true" : "false");
    META("qcal.round", qc_round_mode_name(o->round));
    if (o->bias_correction != QC_BIAS_NONE)
        META("qcal.bias_correction", qc_bias_mode_name(o->bias_correction));
    if (o->act_round != QC_ROUND_HALF_EVEN)
        META("qcal.act_round", qc_round_mode_name(o->act_round));
    if (o->activations == QC_GRANULARITY_COMPENSATED)
        META("qcal.input_compensation", "true");
    if (o->target != QC_TARGET_GENERIC)
        META("qcal.target", qc_target_name(o->target));
    if (o->n_overrides) {
        snprintf(buf, sizeof buf, "%d", o->n_overrides);
        META("qcal.overrides", buf);
    }
    if (o->n_auto_choices) {
        char *list = auto_methods(q);
        if (!list)
            return qz_oom(q);
        META("qcal.auto_methods", list);
        free(list);
    } else if (o->method == QC_RANGE_AVGSTD || o->method == QC_RANGE_MEANSTD) {
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
    return st == QC_OK ? QC_OK : qz_oom(q);
}

/* What format and target can carry of node n's options o (overrides included); g the
 * global options. */
static qc_status check_node_options(const qc_node *n, const qc_quantize_options *o, const qc_quantize_options *g,
                                    qc_error *err)
{
    const char *fmt = qc_qformat_name(g->format);
    if (g->format == QC_FORMAT_QOPERATOR && o->act_bits != 8)
        return qc_fail(err, QC_ERR_USAGE, "node '%s': act_bits %d: the qoperator format needs 8-bit activations "
                       "(its operators clamp to 8 bits); use qdq or fakequant", n->name, o->act_bits);
    if (g->format == QC_FORMAT_QOPERATOR && o->scheme != g->scheme)
        return qc_fail(err, QC_ERR_USAGE, "node '%s': scheme %s: the qoperator format takes one scheme (%s) for "
                       "every node; use qdq or fakequant", n->name, qc_scheme_name(o->scheme), qc_scheme_name(g->scheme));
    if (o->act_round != QC_ROUND_HALF_EVEN && g->format != QC_FORMAT_FAKEQUANT)
        return qc_fail(err, QC_ERR_USAGE, "node '%s': act_round %s needs the fakequant format: %s quantizes "
                       "activations with QuantizeLinear, which rounds half to even", n->name,
                       qc_round_mode_name(o->act_round), fmt);
    if (g->target == QC_TARGET_TENSORRT && (o->scheme != QC_SCHEME_SYMLOWP || o->act_bits != 8 || o->weight_bits != 8))
        return qc_fail(err, QC_ERR_USAGE, "node '%s': the tensorrt target takes 8-bit symlowp (int8, zero point 0), "
                       "not %d/%d-bit %s", n->name, o->weight_bits, o->act_bits, qc_scheme_name(o->scheme));
    return QC_OK;
}

/* Every override by name names a node of g. */
static qc_status check_override_names(const qc_graph *g, const qc_quantize_options *o, qc_error *err)
{
    for (int i = 0; i < o->n_overrides; i++) {
        if (o->overrides[i].match != QC_MATCH_NAME)
            continue;
        bool found = false;
        for (int j = 0; j < g->n_nodes && !found; j++)
            found = !strcmp(g->nodes[j].name, o->overrides[i].value);
        if (!found)
            return qc_fail(err, QC_ERR_USAGE, "override %d: no node is named '%s' in '%s'", i, o->overrides[i].value,
                           g->name);
    }
    return QC_OK;
}

static qc_status check_options(const qc_graph *g, const qc_quantize_options *o, qc_error *err)
{
    if (o->weight_bits < QC_BITS_MIN || o->weight_bits > QC_BITS_MAX || o->act_bits < QC_BITS_MIN ||
        o->act_bits > QC_BITS_MAX)
        return qc_fail(err, QC_ERR_USAGE, "bit widths must be from %d to %d (weights %d, activations %d)",
                       QC_BITS_MIN, QC_BITS_MAX, o->weight_bits, o->act_bits);
    if ((unsigned)o->format > QC_FORMAT_FAKEQUANT || (unsigned)o->scheme >= QC_SCHEME_COUNT ||
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
    if ((o->weights != QC_GRANULARITY_TENSOR && o->weights != QC_GRANULARITY_CHANNEL) ||
        (o->activations != QC_GRANULARITY_TENSOR && o->activations != QC_GRANULARITY_COMPENSATED))
        return qc_fail(err, QC_ERR_USAGE, "weights are quantized per tensor or channel, activations per tensor "
                       "or compensated, not %s and %s", qc_granularity_name(o->weights),
                       qc_granularity_name(o->activations));
    if ((unsigned)o->target >= QC_TARGET_COUNT)
        return qc_fail(err, QC_ERR_USAGE, "unknown target");
    if (o->target == QC_TARGET_TENSORRT && (o->scheme != QC_SCHEME_SYMLOWP || o->act_bits != 8 || o->weight_bits != 8))
        return qc_fail(err, QC_ERR_USAGE, "the tensorrt target takes 8-bit symlowp (int8, zero point 0), not %d/%d-bit %s",
                       o->weight_bits, o->act_bits, qc_scheme_name(o->scheme));
    if (o->target == QC_TARGET_TENSORRT && (o->format != QC_FORMAT_QDQ || o->activations != QC_GRANULARITY_TENSOR))
        return qc_fail(err, QC_ERR_USAGE, "the tensorrt target takes the qdq format with one scale per activation "
                       "(TensorRT's explicit quantization), not %s%s", qc_qformat_name(o->format),
                       o->activations != QC_GRANULARITY_TENSOR ? " with input compensation" : "");
    if ((unsigned)o->bias_correction > QC_BIAS_EMPIRICAL)
        return qc_fail(err, QC_ERR_USAGE, "unknown bias correction");
    if (o->bias_correction == QC_BIAS_EMPIRICAL && o->activations == QC_GRANULARITY_COMPENSATED)
        return qc_fail(err, QC_ERR_USAGE, "empirical bias correction does not go with input compensation "
                       "(the compensated layers' weights carry their input's scales); use analytic");
    if (o->bias_correction == QC_BIAS_EMPIRICAL && (!o->bias_measured || o->bias_measured->n_nodes != g->n_nodes))
        return qc_fail(err, QC_ERR_USAGE, "empirical bias correction needs its measurement on the calibration "
                       "images (qc_bias_measure) of this model");
    if (o->activations == QC_GRANULARITY_COMPENSATED && o->format == QC_FORMAT_QOPERATOR)
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
    return check_override_names(g, o, err);
}

/* The second pass: the graph's inputs, its nodes in order (a quantized node as its integer
 * operator in QOperator, else as it is), its outputs. */
static qc_status emit_graph(qz *q)
{
    const qc_graph *g = q->g;
    qc_graph *ng = q->ng;
    ng->inputs = malloc((size_t)(g->n_inputs + 1) * sizeof *ng->inputs);
    ng->outputs = malloc((size_t)(g->n_outputs + 1) * sizeof *ng->outputs);
    if (!ng->inputs || !ng->outputs)
        return qz_oom(q);
    qc_status st = QC_OK;
    for (int i = 0; i < g->n_inputs && st == QC_OK; i++)
        st = qz_emit_input(q, g->inputs[i]);
    for (int i = 0; i < g->n_nodes && st == QC_OK; i++) {
        if (q->nodes[i].absorbed)
            continue;
        if (q->o->format == QC_FORMAT_QOPERATOR && q->nodes[i].op && q->nodes[i].op->qop)
            st = qz_emit_qop_node(q, i);
        else
            st = qz_emit_float_node(q, i);
    }
    for (int i = 0; i < g->n_outputs && st == QC_OK; i++)
        st = qz_emit_output(q, g->outputs[i]);
    return st;
}

qc_status qc_quantize(const qc_graph *fp32, const qc_stats *stats, const qc_quantize_options *o,
                      qc_graph **out, qc_quantize_report *report, qc_error *err)
{
    *out = NULL;
    if (report)
        *report = (qc_quantize_report){0};
    qc_status st = check_options(fp32, o, err);
    if (st != QC_OK)
        return st;
    st = qc_stats_check_model(stats, fp32, 0, "the statistics", fp32->name, err);
    if (st != QC_OK)
        return st;
    if (o->activations == QC_GRANULARITY_COMPENSATED && !stats->per_channel)
        return qc_fail(err, QC_ERR_USAGE,
                       "input compensation needs per-channel statistics; these were gathered per tensor "
                       "(qcal stats --granularity channel gathers them)");
    qz q = {.g = fp32, .s = stats, .o = o, .range = o->range, .err = err, .rep = report};
    q.range.bits = o->act_bits;
    q.signed_act = (o->format == QC_FORMAT_QOPERATOR && o->scheme == QC_SCHEME_SYMLOWP) ||
                   o->target == QC_TARGET_TENSORRT;
    q.tens = malloc(((size_t)fp32->n_tensors + 1) * sizeof *q.tens);
    q.nodes = malloc(((size_t)fp32->n_nodes + 1) * sizeof *q.nodes);
    q.node_o = malloc(((size_t)fp32->n_nodes + 1) * sizeof *q.node_o);
    q.ng = qc_graph_create(fp32->name);
    if (!q.tens || !q.nodes || !q.node_o || !q.ng) {
        st = qz_oom(&q);
        goto end;
    }
    for (int t = 0; t < fp32->n_tensors; t++)
        q.tens[t] = (qz_tensor){.src = -1, .fname = -1, .qname = -1, .sname = -1, .zname = -1, .wq = -1,
                                .divisor = -1};
    for (int i = 0; i < fp32->n_nodes; i++)
        q.nodes[i] = (qz_node){.fused = -1};
    for (int i = 0; i < fp32->n_nodes && st == QC_OK; i++) {
        qc_quantize_options_for_node(o, &fp32->nodes[i], &q.node_o[i]);
        st = check_node_options(&fp32->nodes[i], &q.node_o[i], o, err);
    }
    if (st != QC_OK)
        goto end;
    if ((st = plan(&q)) != QC_OK)
        goto end;
    q.ng->opset = fp32->opset > 13 ? fp32->opset : 13; /* per-axis QuantizeLinear needs 13 */
    for (int i = 0; i < fp32->n_meta && st == QC_OK; i++)
        st = qc_graph_set_meta(q.ng, fp32->meta_keys[i], fp32->meta_values[i]);
    if (st == QC_OK)
        st = set_metadata(&q);
    if (st == QC_OK)
        st = emit_graph(&q);
    if (st != QC_OK)
        goto end;
    /* Not prepared: qc_graph_prepare folds constant subgraphs, and a DequantizeLinear of a
     * constant weight is one, so preparing would store the weights as floats again. */
    *out = q.ng;
    q.ng = NULL;

end:
    for (int t = 0; q.tens && t < fp32->n_tensors; t++) {
        free(q.tens[t].wp);
        free(q.tens[t].cp);
    }
    free(q.tens);
    free(q.nodes);
    free(q.node_o);
    qc_graph_destroy(q.ng);
    if (st != QC_OK && report)
        qc_quantize_report_free(report);
    return st;
}
