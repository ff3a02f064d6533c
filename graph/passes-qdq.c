/* passes-qdq.c — QDQ fusion: DequantizeLinear → op → QuantizeLinear patterns become integer ops.
 *
 * A QDQ model (ONNX Runtime's format) carries every quantized tensor as uint8/int8 and wraps
 * each float op in DequantizeLinear ... QuantizeLinear. The pass rewrites, as ONNX Runtime's
 * QDQ transformer does (docs/quantization.md, section 7, rules F1–F9):
 *
 *   DQ(x), DQ(w) [, DQ(b int32)] → Conv [→ Relu|Clip] → Q     QLinearConv
 *   DQ(a), DQ(b) [, DQ(c int32)] → Gemm [→ Relu|Clip] → Q     QGemm
 *   DQ(a), DQ(b) → MatMul [→ Relu|Clip] → Q                   QLinearMatMul (b weights or
 *                                                             an activation)
 *   DQ(a), DQ(b) → Add [→ Relu|Clip] → Q                      QLinearAdd
 *   DQ(a), DQ(b) → Mul → Q                                    QLinearMul
 *   DQ(x) → MaxPool | Reshape | Flatten | Transpose | (Un)Squeeze | Slice | Pad |
 *           Resize (nearest) → Q
 *                                                             the op on the 8-bit x, when
 *                                                             Q's parameters are DQ's
 *   DQ(x) → GlobalAveragePool | AveragePool → Q               QLinear(Global)AveragePool
 *   DQ(x_i) → Concat → Q                                      QLinearConcat
 *   DQ(x) → Sigmoid | LeakyRelu | HardSwish | HardSigmoid | Tanh → Q
 *                                                             a table of 256 codes
 *   QLinearConv | QGemm | QLinearMatMul | QLinearAdd → Clip   the same, with the clamp
 *
 * Q is per tensor, with two exceptions along axis 1 (the channels): after Conv, Gemm or
 * MatMul [→ Relu], a Q with one scale per output channel and equal zero points gives the
 * fused op a per-channel y_scale and a scalar y_zero_point (F9), and so does a Div by a
 * constant of one positive value per channel followed by a per-tensor Q, y_scale[c] =
 * S[c] · s_q (F10, the form of qcal's input compensation); and MaxPool, Flatten, Reshape,
 * Squeeze and Unsqueeze fuse with per-channel DQ and Q parameters that are identical when
 * every element keeps its channel.
 *
 * The Q node becomes the fused node (it already sits after all of the pattern's inputs, so
 * the order stays topological) and the float nodes it replaces fall out in the final prune.
 * A fused Relu or Clip becomes the clamp of the requantization; with an activation clamp the
 * node goes to the private "qcal" domain (attributes activation_min, activation_max). What
 * does not match stays float between its DQ and Q, which is still correct. DequantizeLinear
 * of constants is not folded at load (prepare.c) so that this pass sees the integer
 * weights; the pass folds those that are left. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph-impl.h"
#include "kernels/kernels.h"

static bool is_op(const qc_node *n, const char *op_type)
{
    return !strcmp(n->op_type, op_type) && (!n->domain[0] || !strcmp(n->domain, "ai.onnx"));
}

static int count_readers(const qc_graph *g, int tensor)
{
    int readers = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            readers += g->nodes[i].inputs[k] == tensor;
    return readers;
}

/* The node producing tensor t when t is read by exactly one node and is not a graph output
 * (so that the node may disappear into a fusion), else NULL. */
static qc_node *sole_producer(qc_graph *g, int t)
{
    if (t < 0 || g->tensors[t].producer < 0 || g->tensors[t].is_output || count_readers(g, t) != 1)
        return NULL;
    return &g->nodes[g->tensors[t].producer];
}

static qc_node *producer(qc_graph *g, int t)
{
    return t >= 0 && g->tensors[t].producer >= 0 ? &g->nodes[g->tensors[t].producer] : NULL;
}

static int in_at(const qc_node *n, int k)
{
    return k < n->n_inputs ? n->inputs[k] : -1;
}

static const qc_value *const_value(const qc_graph *g, int t)
{
    return t >= 0 && g->tensors[t].is_const && g->tensors[t].value.data ? &g->tensors[t].value : NULL;
}

/* Quantization parameters of a DQ or Q node, all constant. */
typedef struct {
    const qc_node *node;
    int q;                  /* the integer tensor: DQ's input, Q's output */
    int scale, zp;          /* tensors; zp -1 when omitted */
    const qc_value *s, *z;
    int64_t count;          /* 1 per tensor, else per channel along axis */
    int64_t axis;
    qc_dtype type;
} qparams;

static bool read_qparams(const qc_graph *g, const qc_node *n, bool dq, qparams *p)
{
    memset(p, 0, sizeof *p);
    if (n->n_inputs < 2 || n->n_outputs != 1)
        return false;
    p->node = n;
    p->q = dq ? n->inputs[0] : n->outputs[0];
    p->scale = n->inputs[1];
    p->zp = in_at(n, 2);
    p->s = const_value(g, p->scale);
    p->z = p->zp >= 0 ? const_value(g, p->zp) : NULL;
    if (!p->s || p->s->dtype != QC_FLOAT || (p->zp >= 0 && !p->z) ||
        qc_node_attr_int(n, "block_size", 0) != 0)
        return false;
    p->count = qc_value_count(p->s);
    p->axis = qc_node_attr_int(n, "axis", 1);
    p->type = g->tensors[p->q].value.dtype;
    return p->count >= 1 && (p->type == QC_UINT8 || p->type == QC_INT8 || p->type == QC_INT32);
}

static bool per_tensor(const qparams *p)
{
    return p->count == 1 && p->type != QC_INT32;
}

static float scale0(const qparams *p, int64_t i)
{
    return ((const float *)p->s->data)[p->count == 1 ? 0 : i];
}

static int32_t zp0(const qparams *p)
{
    return p->z ? (int32_t)qc_read_scalar(p->z, 0) : 0;
}

/* Zero point i of per-channel parameters (0 when omitted). */
static int32_t zp_i(const qparams *p, int64_t i)
{
    return p->z ? (int32_t)qc_read_scalar(p->z, qc_value_count(p->z) == 1 ? 0 : i) : 0;
}

/* Per channel along axis 1 of the 8-bit tensor p->q (the axis normalised against its rank),
 * with as many zero points as scales. */
static bool per_channel_axis1(const qc_graph *g, const qparams *p)
{
    int axis;
    return p->count > 1 && p->type != QC_INT32 && (!p->z || qc_value_count(p->z) == p->count) &&
           qc_axis(p->axis, g->tensors[p->q].value.rank, &axis) && axis == 1;
}

/* The DQ node producing tensor t (any number of readers), with constant parameters. */
static bool dq_of(qc_graph *g, int t, qparams *p)
{
    qc_node *n = producer(g, t);
    return n && is_op(n, "DequantizeLinear") && read_qparams(g, n, true, p);
}

/* ---- rewriting a node ---------------------------------------------------------------------- */

/* Adds a scalar constant holding p's first zero point, in p's type, named after the node;
 * returns its index or -1 when out of memory. */
static int add_scalar_zp(qc_graph *g, const qparams *p, const char *node_name)
{
    const qc_dtype type = p->type;
    const int32_t z = zp0(p);
    char name[512];
    snprintf(name, sizeof name, "%s_y_zero_point", node_name);
    for (int i = 1; qc_graph_find_tensor(g, name) >= 0 && i < 1000; i++)
        snprintf(name, sizeof name, "%s_y_zero_point_%d", node_name, i);
    void *data = malloc(1);
    int ti = data && qc_graph_find_tensor(g, name) < 0 ? qc_graph_tensor(g, name) : -1;
    if (ti < 0) {
        free(data);
        return -1;
    }
    if (type == QC_INT8)
        *(int8_t *)data = (int8_t)z;
    else
        *(uint8_t *)data = (uint8_t)z;
    qc_tensor *t = &g->tensors[ti];
    t->value = (qc_value){.dtype = type, .rank = 0, .data = data};
    t->is_const = true;
    return ti;
}

typedef struct {
    const char *name;
    int64_t value;
} int_attr;

static void free_attrs(qc_node *n)
{
    for (int i = 0; i < n->n_attrs; i++) {
        free(n->attrs[i].name);
        free(n->attrs[i].s);
        free(n->attrs[i].floats);
        free(n->attrs[i].ints);
        free(n->attrs[i].t.data);
    }
    free(n->attrs);
    n->attrs = NULL;
    n->n_attrs = 0;
}

/* Deep copy of the attributes of src whose names are listed (NULL-terminated), then the
 * int attributes extra (n_extra of them). */
static bool build_attrs(const qc_node *src, const char *const *names, const int_attr *extra,
                        int n_extra, qc_attr **out, int *n_out)
{
    int cap = (src ? src->n_attrs : 0) + n_extra, n = 0;
    qc_attr *a = calloc((size_t)(cap ? cap : 1), sizeof *a);
    if (!a)
        return false;
    for (int i = 0; src && i < src->n_attrs; i++) {
        const qc_attr *s = &src->attrs[i];
        bool wanted = false;
        for (int k = 0; names && names[k]; k++)
            wanted |= !strcmp(names[k], s->name);
        if (!wanted || s->type == QC_ATTR_TENSOR)
            continue;
        qc_attr *d = &a[n++];
        *d = *s;
        d->name = strdup(s->name);
        d->s = s->s ? strdup(s->s) : NULL;
        d->floats = s->n && s->floats ? malloc((size_t)s->n * sizeof(float)) : NULL;
        d->ints = s->n && s->ints ? malloc((size_t)s->n * sizeof(int64_t)) : NULL;
        memset(&d->t, 0, sizeof d->t);
        if (!d->name || (s->s && !d->s) || (s->n && s->floats && !d->floats) ||
            (s->n && s->ints && !d->ints))
            goto fail;
        if (d->floats)
            memcpy(d->floats, s->floats, (size_t)s->n * sizeof(float));
        if (d->ints)
            memcpy(d->ints, s->ints, (size_t)s->n * sizeof(int64_t));
    }
    for (int i = 0; i < n_extra; i++) {
        qc_attr *d = &a[n++];
        d->name = strdup(extra[i].name);
        d->type = QC_ATTR_INT;
        d->i = extra[i].value;
        if (!d->name)
            goto fail;
    }
    *out = a;
    *n_out = n;
    return true;
fail: {
    qc_node tmp = {.attrs = a, .n_attrs = n};
    free_attrs(&tmp);
    return false;
}
}

/* Turns node q (a QuantizeLinear) into op_type/domain with the given inputs and attributes
 * (copied from attr_src when listed in names), keeping its output. */
static qc_status rewrite(qc_node *q, const char *op_type, const char *domain, const int *inputs,
                         int n_inputs, const qc_node *attr_src, const char *const *names,
                         const int_attr *extra, int n_extra, qc_error *err)
{
    qc_attr *attrs;
    int n_attrs;
    int *ins = malloc((size_t)n_inputs * sizeof *ins);
    char *t = strdup(op_type), *d = strdup(domain);
    if (!ins || !t || !d || !build_attrs(attr_src, names, extra, n_extra, &attrs, &n_attrs)) {
        free(ins);
        free(t);
        free(d);
        return qc_fail(err, QC_ERR_IO, "out of memory fusing node '%s'", q->name);
    }
    memcpy(ins, inputs, (size_t)n_inputs * sizeof *ins);
    if (q->op && q->op->release)
        q->op->release(q);
    q->state = NULL;
    q->op = NULL;
    free(q->op_type);
    free(q->domain);
    free(q->inputs);
    free_attrs(q);
    q->op_type = t;
    q->domain = d;
    q->inputs = ins;
    q->n_inputs = n_inputs;
    q->attrs = attrs;
    q->n_attrs = n_attrs;
    return QC_OK;
}

/* ---- fused activations ------------------------------------------------------------------- */

/* Output code of the real value v under Q's parameters: the library's QuantizeLinear. */
static int32_t quantize_value(const qparams *y, float v)
{
    float s = scale0(y, 0);
    int32_t z = zp0(y);
    if (y->type == QC_UINT8) {
        uint8_t q;
        qc_quant p = {&s, &z, 0, 255};
        qc_quantize_u8(1, 1, 1, &v, &p, &q);
        return q;
    }
    int8_t q;
    qc_quant p = {&s, &z, -128, 127};
    qc_quantize_s8(1, 1, 1, &v, &p, &q);
    return q;
}

/* Relu or Clip between the op and Q: its clamp in output codes. Q is increasing, so
 * Q(clip(v, lo, hi)) = clamp(Q(v), Q(lo), Q(hi)) exactly (rule F2). */
static bool act_clamp(const qc_graph *g, const qc_node *act, const qparams *y, int32_t *lo,
                      int32_t *hi)
{
    float fl = -INFINITY, fh = INFINITY;
    if (is_op(act, "Relu")) {
        fl = 0.0f;
    } else if (is_op(act, "Clip")) {
        const qc_attr *amin = qc_node_attr(act, "min"), *amax = qc_node_attr(act, "max");
        if (amin)
            fl = amin->f;
        if (amax)
            fh = amax->f;
        for (int k = 1; k <= 2; k++) {
            int t = in_at(act, k);
            if (t < 0)
                continue;
            const qc_value *v = const_value(g, t);
            if (!v || v->dtype != QC_FLOAT || qc_value_count(v) != 1)
                return false;
            *(k == 1 ? &fl : &fh) = *(const float *)v->data;
        }
    } else {
        return false;
    }
    *lo = isinf(fl) ? INT32_MIN : quantize_value(y, fl);
    *hi = isinf(fh) ? INT32_MAX : quantize_value(y, fh);
    return true;
}

/* ---- the patterns ------------------------------------------------------------------------ */

static const char *const conv_attrs[] = {"auto_pad", "dilations", "group", "kernel_shape", "pads",
                                         "strides", NULL};
static const char *const gemm_attrs[] = {"transB", NULL};
static const char *const avgpool_attrs[] = {"auto_pad", "ceil_mode", "count_include_pad",
                                            "kernel_shape", "pads", "strides", NULL};

/* Is a DQ'd int32 bias in the scale s_x·s_w of the accumulator (as quantizers write it)? */
static bool bias_matches(const qparams *b, const qparams *x, const qparams *w, int64_t channels)
{
    if (b->type != QC_INT32 || zp0(b) != 0 || (b->count != 1 && b->count != channels))
        return false;
    for (int64_t c = 0; c < channels; c++) {
        double want = (double)scale0(x, 0) * scale0(w, c), got = scale0(b, c);
        if (fabs(got - want) > 1e-6 * want)
            return false;
    }
    return true;
}

static bool weights_per_channel_ok(const qparams *w, int axis_wanted, int rank, int64_t channels)
{
    if (w->type == QC_INT32)
        return false;
    if (w->count == 1)
        return true;
    int axis;
    return qc_axis(w->axis, rank, &axis) && axis == axis_wanted && w->count == channels;
}

/* The scales S[c] of Div(op's output, S) before a Q of scale s_q, as one scale per output
 * channel fl(S[c] · s_q) in out: S is constant, positive and finite, with `channels` values
 * on the channel axis of the rank-`rank` output (1; Gemm and MatMul have rank 2) and 1 on
 * every other. */
static bool divisor_scales(const qc_graph *g, int divisor, int rank, int64_t channels, float s_q,
                           float *out)
{
    const qc_value *d = const_value(g, divisor);
    if (!d || d->dtype != QC_FLOAT || d->rank > rank || qc_value_count(d) != channels)
        return false;
    for (int k = 0; k < d->rank; k++) /* aligned to the right, as broadcasting does */
        if (d->dims[k] != (rank - d->rank + k == 1 ? channels : 1))
            return false;
    for (int64_t c = 0; c < channels; c++) {
        float v = ((const float *)d->data)[c];
        out[c] = v * s_q;
        if (!(v > 0) || !isfinite(v) || !(out[c] > 0) || !isfinite(out[c]))
            return false;
    }
    return true;
}

/* A new constant float tensor of n values [n] named after the node; its index or -1. */
static int add_scales(qc_graph *g, const float *v, int64_t n, const char *node_name)
{
    char name[512];
    snprintf(name, sizeof name, "%s_y_scale", node_name);
    for (int i = 1; qc_graph_find_tensor(g, name) >= 0 && i < 1000; i++)
        snprintf(name, sizeof name, "%s_y_scale_%d", node_name, i);
    float *data = malloc((size_t)n * sizeof *data);
    int ti = data && qc_graph_find_tensor(g, name) < 0 ? qc_graph_tensor(g, name) : -1;
    if (ti < 0) {
        free(data);
        return -1;
    }
    memcpy(data, v, (size_t)n * sizeof *data);
    qc_tensor *t = &g->tensors[ti];
    t->value = (qc_value){.dtype = QC_FLOAT, .rank = 1, .dims = {n}, .data = data};
    t->is_const = true;
    return ti;
}

/* F14: DQ(a), DQ(b) → MatMul [→ act] → Q with b an activation (attention), all per tensor:
 * QLinearMatMul, its B packed on each run. */
static qc_status fuse_matmul_activations(qc_node *q, const qparams *y, const qparams *a,
                                         const qparams *b, int32_t lo, int32_t hi, bool has_act,
                                         bool *done, qc_error *err)
{
    if (!per_tensor(b) || !per_tensor(y) || a->zp < 0 || b->zp < 0 || y->zp < 0)
        return QC_OK;
    int ins[8] = {a->q, a->scale, a->zp, b->q, b->scale, b->zp, y->scale, y->zp};
    int_attr extra[2] = {{"activation_min", lo}, {"activation_max", hi}};
    qc_status s = rewrite(q, "QLinearMatMul", has_act ? "qcal" : "", ins, 8, NULL, NULL, extra,
                          has_act ? 2 : 0, err);
    *done = s == QC_OK;
    return s;
}

/* F1: DQ(x), DQ(w) [, DQ(b)] → Conv | Gemm | MatMul [→ act] [→ Div(S)] → Q. divisor: S, or -1. */
static qc_status fuse_linear(qc_graph *g, qc_node *q, const qparams *y, qc_node *op, int32_t lo,
                             int32_t hi, bool has_act, int divisor, bool *done, qc_error *err)
{
    bool conv = is_op(op, "Conv"), gemm = is_op(op, "Gemm"), matmul = is_op(op, "MatMul");
    qparams x, w, b;
    int bias = in_at(op, 2);
    if (!dq_of(g, in_at(op, 0), &x) || !dq_of(g, in_at(op, 1), &w) || !per_tensor(&x) ||
        (x.type != QC_UINT8 && x.type != QC_INT8))
        return QC_OK;
    const qc_value *wv = &g->tensors[w.q].value;
    if (matmul && !const_value(g, w.q) && divisor < 0)
        return fuse_matmul_activations(q, y, &x, &w, lo, hi, has_act, done, err);
    if (!const_value(g, w.q) || wv->rank < 2)
        return QC_OK;
    int64_t channels;
    bool trans_b = gemm && qc_node_attr_int(op, "transB", 0) != 0;
    if (conv) {
        channels = wv->dims[0];
        if (!weights_per_channel_ok(&w, 0, wv->rank, channels))
            return QC_OK;
    } else {
        if (wv->rank != 2 && gemm)
            return QC_OK;
        if (gemm && (qc_node_attr_int(op, "transA", 0) || qc_node_attr_float(op, "alpha", 1) != 1 ||
                     qc_node_attr_float(op, "beta", 1) != 1))
            return QC_OK;
        channels = trans_b ? wv->dims[0] : wv->dims[wv->rank - 1];
        if (!weights_per_channel_ok(&w, trans_b ? 0 : wv->rank - 1, wv->rank, channels))
            return QC_OK;
        if (matmul && (wv->rank != 2 || bias >= 0))
            return QC_OK;
    }
    if (bias >= 0) {
        if (!dq_of(g, bias, &b) || !const_value(g, b.q) || !bias_matches(&b, &x, &w, channels))
            return QC_OK;
        const qc_value *bv = &g->tensors[b.q].value;
        if (bv->rank != 1 || bv->dims[0] != channels)
            return QC_OK;
    }
    int y_scale = y->scale, y_zp = y->zp;
    if (y_zp < 0)
        return QC_OK; /* the fused ops take the output type from the zero point */
    if ((conv || matmul) && (x.zp < 0 || w.zp < 0))
        return QC_OK; /* QLinearConv and QLinearMatMul require the zero points */
    if (divisor >= 0) {
        /* F10: Div by channel scales, then Q of one scale: y_scale[c] = S[c] · s_q */
        int rank = g->tensors[op->outputs[0]].value.rank;
        float *sc = channels > 0 ? malloc((size_t)channels * sizeof *sc) : NULL;
        if (!sc)
            return channels > 0 ? qc_fail(err, QC_ERR_IO, "out of memory fusing node '%s'", q->name) : QC_OK;
        bool ok = (conv || rank == 2) && divisor_scales(g, divisor, rank, channels, scale0(y, 0), sc);
        y_scale = ok ? add_scales(g, sc, channels, q->name) : -1;
        free(sc);
        if (!ok)
            return QC_OK;
        if (y_scale < 0)
            return qc_fail(err, QC_ERR_IO, "out of memory fusing node '%s'", q->name);
    } else if (!per_tensor(y)) {
        /* y per output channel: the channel axis of Conv's output is 1, that of Gemm's and
         * MatMul's the last; it must be axis 1 of Q */
        if (!per_channel_axis1(g, y) || y->count != channels ||
            (!conv && g->tensors[y->q].value.rank != 2))
            return QC_OK;
        for (int64_t c = 1; c < channels; c++)
            if (zp_i(y, c) != zp_i(y, 0))
                return QC_OK;
        /* the fused op takes one zero point; adding it may move the tensors that y's
         * values point into, so y is not read after this */
        if ((y_zp = add_scalar_zp(g, y, q->name)) < 0)
            return qc_fail(err, QC_ERR_IO, "out of memory fusing node '%s'", q->name);
    }
    int_attr extra[2] = {{"activation_min", lo}, {"activation_max", hi}};
    int n_extra = has_act ? 2 : 0;
    qc_status s;
    if (conv) {
        int ins[9] = {x.q, x.scale, x.zp, w.q, w.scale, w.zp, y_scale, y_zp, bias >= 0 ? b.q : -1};
        s = rewrite(q, "QLinearConv", has_act ? "qcal" : "", ins, bias >= 0 ? 9 : 8, op, conv_attrs,
                    extra, n_extra, err);
    } else if (gemm) {
        int ins[9] = {x.q, x.scale, x.zp, w.q, w.scale, w.zp, bias >= 0 ? b.q : -1, y_scale, y_zp};
        s = rewrite(q, "QGemm", has_act ? "qcal" : "com.microsoft", ins, 9, op, gemm_attrs, extra,
                    n_extra, err);
    } else {
        int ins[8] = {x.q, x.scale, x.zp, w.q, w.scale, w.zp, y_scale, y_zp};
        s = rewrite(q, "QLinearMatMul", has_act ? "qcal" : "", ins, 8, NULL, NULL, extra, n_extra,
                    err);
    }
    *done = s == QC_OK;
    return s;
}

/* F3: DQ(a), DQ(b) → Add [→ act] → Q; F11: DQ(a), DQ(b) → Mul → Q (qop_type QLinearMul). */
static qc_status fuse_binary(qc_graph *g, qc_node *q, const qparams *y, qc_node *op,
                             const char *qop_type, int32_t lo, int32_t hi, bool has_act, bool *done,
                             qc_error *err)
{
    qparams a, b;
    if (!per_tensor(y) || !dq_of(g, in_at(op, 0), &a) || !dq_of(g, in_at(op, 1), &b) ||
        !per_tensor(&a) || !per_tensor(&b) || a.type != y->type || b.type != y->type)
        return QC_OK;
    int ins[8] = {a.q, a.scale, a.zp, b.q, b.scale, b.zp, y->scale, y->zp};
    int_attr extra[2] = {{"activation_min", lo}, {"activation_max", hi}};
    qc_status s = rewrite(q, qop_type, has_act ? "qcal" : "com.microsoft", ins,
                          y->zp >= 0 ? 8 : 7, NULL, NULL, extra, has_act ? 2 : 0, err);
    *done = s == QC_OK;
    return s;
}

/* DQ's a and Q's b: the same scales and zero points, per tensor or per channel along axis 1. */
static bool same_params(const qc_graph *g, const qparams *a, const qparams *b)
{
    if (a->type != b->type || a->type == QC_INT32 || a->count != b->count ||
        (a->count > 1 && (!per_channel_axis1(g, a) || !per_channel_axis1(g, b))))
        return false;
    for (int64_t i = 0; i < a->count; i++)
        if (scale0(a, i) != scale0(b, i) || zp_i(a, i) != zp_i(b, i))
            return false;
    return true;
}

/* Does every element of op's output sit in the channel (dimension 1) it had in the input?
 * MaxPool works within channels; a row-major move keeps the channel of every element when
 * dimensions 0 and 1 are unchanged (the rest then holds the same count per channel). */
static bool keeps_channels(const qc_graph *g, const qc_node *op)
{
    if (is_op(op, "MaxPool"))
        return true;
    if (is_op(op, "Transpose"))
        return false;
    const qc_value *in = &g->tensors[op->inputs[0]].value, *out = &g->tensors[op->outputs[0]].value;
    return in->rank >= 2 && out->rank >= 2 && in->dims[0] == out->dims[0] &&
           in->dims[1] == out->dims[1];
}

/* F12: the activations whose integer form is a table of 256 codes (eq. L1), and its name. */
typedef struct {
    const char *op_type, *qop_type, *domain;
} lookup;

static const lookup *lookup_op(const qc_node *op)
{
    static const lookup ops[] = {
        {"Sigmoid", "QLinearSigmoid", "com.microsoft"},
        {"LeakyRelu", "QLinearLeakyRelu", "com.microsoft"},
        {"HardSwish", "QLinearHardSwish", "qcal"},
        {"HardSigmoid", "QLinearHardSigmoid", "qcal"},
        {"Tanh", "QLinearTanh", "qcal"},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (is_op(op, ops[i].op_type))
            return &ops[i];
    return NULL;
}

bool qc_pad_on_codes(const qc_graph *g, const qc_node *op)
{
    const qc_attr *mode = qc_node_attr(op, "mode");
    if (op->n_inputs < 2 || (mode && mode->s && strcmp(mode->s, "constant")))
        return op->n_inputs >= 2;
    const qc_value *v = const_value(g, in_at(op, 2));
    return in_at(op, 2) < 0 || (v && v->dtype == QC_FLOAT && qc_value_count(v) == 1 && *(const float *)v->data == 0.0f);
}

bool qc_resize_on_codes(const qc_node *n)
{
    const qc_attr *mode = qc_node_attr(n, "mode"), *coord = qc_node_attr(n, "coordinate_transformation_mode");
    return is_op(n, "Resize") && (!mode || (mode->s && !strcmp(mode->s, "nearest"))) &&
           !(coord && coord->s && !strcmp(coord->s, "tf_crop_and_resize"));
}

/* F4–F6, F12, F13: single-input ops. */
static qc_status fuse_unary(qc_graph *g, qc_node *q, const qparams *y, qc_node *op, bool *done,
                            qc_error *err)
{
    qparams x;
    if (!dq_of(g, in_at(op, 0), &x) || x.type != y->type)
        return QC_OK;
    qc_status s = QC_OK;
    bool moves = is_op(op, "Reshape") || is_op(op, "Flatten") || is_op(op, "Transpose") ||
                 is_op(op, "Squeeze") || is_op(op, "Unsqueeze") || is_op(op, "Slice") ||
                 (is_op(op, "Pad") && x.count == 1 && qc_pad_on_codes(g, op)) || qc_resize_on_codes(op);
    if ((moves || is_op(op, "MaxPool")) && op->n_outputs == 1) {
        if (!same_params(g, &x, y) || (x.count > 1 && !keeps_channels(g, op)))
            return QC_OK;
        static const char *const all_attrs[] = {"allowzero", "auto_pad", "axes", "axis",
                                                "ceil_mode", "coordinate_transformation_mode",
                                                "dilations", "ends", "keep_aspect_ratio_policy",
                                                "kernel_shape", "mode", "nearest_mode", "pads",
                                                "perm", "starts", "storage_order", "strides", NULL};
        int ins[8], n_ins = op->n_inputs < 8 ? op->n_inputs : 8;
        for (int k = 0; k < n_ins; k++)
            ins[k] = op->inputs[k];
        ins[0] = x.q;
        if (is_op(op, "Pad")) { /* the real 0 of the padding is the zero point's code */
            ins[2] = x.zp;
            n_ins = n_ins > 3 ? n_ins : 3;
        }
        s = rewrite(q, op->op_type, "", ins, n_ins, op, all_attrs, NULL, 0, err);
    } else if (!per_tensor(&x) || !per_tensor(y)) {
        return QC_OK;
    } else if (lookup_op(op)) {
        static const char *const names[] = {"alpha", "beta", NULL};
        const lookup *l = lookup_op(op);
        int ins[5] = {x.q, x.scale, x.zp, y->scale, y->zp};
        s = rewrite(q, l->qop_type, l->domain, ins, 5, op, names, NULL, 0, err);
    } else if (is_op(op, "GlobalAveragePool")) {
        int ins[5] = {x.q, x.scale, x.zp, y->scale, y->zp};
        if (x.zp < 0 || y->zp < 0)
            return QC_OK;
        s = rewrite(q, "QLinearGlobalAveragePool", "com.microsoft", ins, 5, NULL, NULL, NULL, 0, err);
    } else if (is_op(op, "AveragePool")) {
        const qc_attr *dil = qc_node_attr(op, "dilations");
        for (int i = 0; dil && i < dil->n; i++)
            if (dil->ints[i] != 1)
                return QC_OK;
        if (x.zp < 0 || y->zp < 0)
            return QC_OK;
        int ins[5] = {x.q, x.scale, x.zp, y->scale, y->zp};
        s = rewrite(q, "QLinearAveragePool", "com.microsoft", ins, 5, op, avgpool_attrs, NULL, 0, err);
    } else {
        return QC_OK;
    }
    *done = s == QC_OK;
    return s;
}

/* F7: DQ(x_i) → Concat → Q. */
static qc_status fuse_concat(qc_graph *g, qc_node *q, const qparams *y, qc_node *op, bool *done,
                             qc_error *err)
{
    if (op->n_inputs < 1 || op->n_inputs > 64 || y->zp < 0 || !per_tensor(y))
        return QC_OK;
    int ins[2 + 3 * 64];
    ins[0] = y->scale;
    ins[1] = y->zp;
    for (int k = 0; k < op->n_inputs; k++) {
        qparams x;
        if (!dq_of(g, op->inputs[k], &x) || !per_tensor(&x) || x.type != y->type || x.zp < 0)
            return QC_OK;
        ins[2 + 3 * k] = x.q;
        ins[3 + 3 * k] = x.scale;
        ins[4 + 3 * k] = x.zp;
    }
    static const char *const names[] = {"axis", NULL};
    qc_status s = rewrite(q, "QLinearConcat", "com.microsoft", ins, 2 + 3 * op->n_inputs, op, names,
                          NULL, 0, err);
    *done = s == QC_OK;
    return s;
}

static qc_status fuse_one(qc_graph *g, int qi, bool *done, qc_error *err)
{
    qc_node *q = &g->nodes[qi];
    qparams y;
    *done = false;
    if (!read_qparams(g, q, false, &y) || y.type == QC_INT32)
        return QC_OK;
    qc_node *op = sole_producer(g, q->inputs[0]);
    if (!op || op->n_outputs != 1)
        return QC_OK;
    int divisor = -1; /* Div(v, S) before Q: S divides per channel (F10) */
    if (is_op(op, "Div") && op->n_inputs == 2 && per_tensor(&y) && const_value(g, op->inputs[1])) {
        divisor = op->inputs[1];
        op = sole_producer(g, op->inputs[0]);
        if (!op || op->n_outputs != 1)
            return QC_OK;
    }
    int32_t lo = INT32_MIN, hi = INT32_MAX;
    bool has_act = false;
    if (is_op(op, "Relu") || is_op(op, "Clip")) {
        qc_node *inner = sole_producer(g, op->inputs[0]);
        /* Relu's clamp is Q(0) = z in every channel; a Clip's bounds would differ per channel */
        if (!inner || inner->n_outputs != 1 || ((!per_tensor(&y) || divisor >= 0) && !is_op(op, "Relu")) ||
            !act_clamp(g, op, &y, &lo, &hi))
            return QC_OK;
        if (!is_op(inner, "Conv") && !is_op(inner, "Gemm") && !is_op(inner, "MatMul") &&
            !is_op(inner, "Add"))
            return QC_OK;
        op = inner;
        has_act = true;
    }
    if (is_op(op, "Conv") || is_op(op, "Gemm") || is_op(op, "MatMul"))
        return fuse_linear(g, q, &y, op, lo, hi, has_act, divisor, done, err);
    if (divisor >= 0)
        return QC_OK;
    if (is_op(op, "Add"))
        return fuse_binary(g, q, &y, op, "QLinearAdd", lo, hi, has_act, done, err);
    if (has_act)
        return QC_OK;
    if (is_op(op, "Mul"))
        return fuse_binary(g, q, &y, op, "QLinearMul", lo, hi, false, done, err);
    if (is_op(op, "Concat"))
        return fuse_concat(g, q, &y, op, done, err);
    return fuse_unary(g, q, &y, op, done, err);
}

/* F8: a Clip on the 8-bit output of QLinearConv, QGemm, QLinearMatMul or QLinearAdd (the
 * QOperator format writes ReLU6 so, with integer bounds) becomes the requantization's clamp:
 * clamp(clamp(v, qmin, qmax), lo, hi) = clamp(v, max(qmin, lo), min(qmax, hi)). */
static bool clamps_integer_op(const qc_node *n)
{
    static const char *const types[] = {"QLinearConv", "QGemm", "QLinearMatMul", "QLinearAdd"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(n->op_type, types[i]))
            return true;
    return false;
}

static qc_status fuse_integer_clip(qc_graph *g, int ci, bool *done, qc_error *err)
{
    qc_node *clip = &g->nodes[ci];
    *done = false;
    if (!is_op(clip, "Clip") || clip->n_inputs < 1 || clip->n_outputs != 1)
        return QC_OK;
    qc_node *p = sole_producer(g, clip->inputs[0]);
    if (!p || p->n_outputs != 1 || !clamps_integer_op(p))
        return QC_OK;
    qc_dtype t = g->tensors[clip->inputs[0]].value.dtype;
    if (t != QC_UINT8 && t != QC_INT8)
        return QC_OK;
    int64_t lo = qc_node_attr_int(p, "activation_min", INT32_MIN);
    int64_t hi = qc_node_attr_int(p, "activation_max", INT32_MAX);
    for (int k = 1; k <= 2; k++) {
        int ti = in_at(clip, k);
        if (ti < 0)
            continue;
        const qc_value *v = const_value(g, ti);
        if (!v || v->dtype != t || qc_value_count(v) != 1)
            return QC_OK;
        int64_t b = (int64_t)qc_read_scalar(v, 0);
        if (k == 1)
            lo = b > lo ? b : lo;
        else
            hi = b < hi ? b : hi;
    }
    if (lo > hi)
        return QC_OK;
    /* p keeps its inputs and attributes, gains the clamp, and writes the Clip's output */
    static const char *const all[] = {"auto_pad", "dilations", "group", "kernel_shape", "pads",
                                      "strides", "transA", "transB", "alpha", NULL};
    int_attr extra[2] = {{"activation_min", lo}, {"activation_max", hi}};
    /* rewrite copies the op type, the inputs and the listed attributes before freeing p's */
    qc_status s = rewrite(p, p->op_type, "qcal", p->inputs, p->n_inputs, p, all, extra, 2, err);
    if (s != QC_OK)
        return s;
    p->outputs[0] = clip->outputs[0];
    qc_node_free(clip);
    memmove(clip, clip + 1, (size_t)(g->n_nodes - ci - 1) * sizeof *clip);
    g->n_nodes--;
    qc_graph_index_producers(g);
    *done = true;
    return QC_OK;
}

/* DequantizeLinear of constants left after fusion (weights of unfused float ops) is folded
 * here, as qc_graph_prepare folds every other constant expression. */
static qc_status fold_constant_dq(qc_graph *g, qc_error *err)
{
    qc_exec *x = NULL;
    qc_status s = QC_OK;
    for (int i = 0; i < g->n_nodes;) {
        qc_node *n = &g->nodes[i];
        bool all_const = is_op(n, "DequantizeLinear") && n->op && n->n_outputs == 1 &&
                         n->outputs[0] >= 0 && !g->tensors[n->outputs[0]].is_output;
        for (int k = 0; all_const && k < n->n_inputs; k++)
            all_const = n->inputs[k] < 0 || const_value(g, n->inputs[k]);
        if (!all_const) {
            i++;
            continue;
        }
        if (!x && !(x = qc_exec_create(g))) {
            s = qc_fail(err, QC_ERR_IO, "out of memory");
            break;
        }
        const qc_value *in[3] = {NULL, NULL, NULL};
        for (int k = 0; k < n->n_inputs && k < 3; k++)
            in[k] = n->inputs[k] >= 0 ? &g->tensors[n->inputs[k]].value : NULL;
        qc_value out;
        memset(&out, 0, sizeof out);
        if ((s = n->op->infer(n, in, &out, err)) != QC_OK)
            break;
        out.data = malloc(qc_value_bytes(&out) + 1);
        if (!out.data) {
            s = qc_fail(err, QC_ERR_IO, "out of memory");
            break;
        }
        if ((s = n->op->run(x, n, in, &out, err)) != QC_OK) {
            free(out.data);
            break;
        }
        qc_tensor *t = &g->tensors[n->outputs[0]];
        free(t->value.data);
        t->value = out;
        t->is_const = true;
        t->producer = -1;
        qc_node_free(n);
        memmove(n, n + 1, (size_t)(g->n_nodes - i - 1) * sizeof *n);
        g->n_nodes--;
        qc_graph_index_producers(g);
    }
    qc_exec_destroy(x);
    return s;
}

qc_status qc_pass_fuse_qdq(qc_graph *g, qc_error *err)
{
    qc_graph_index_producers(g);
    for (int i = 0; i < g->n_nodes; i++) {
        if (!is_op(&g->nodes[i], "QuantizeLinear"))
            continue;
        bool done;
        qc_status s = fuse_one(g, i, &done, err);
        if (s != QC_OK)
            return s;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        bool done;
        qc_status s = fuse_integer_clip(g, i, &done, err);
        if (s != QC_OK)
            return s;
        i -= done; /* node i is now the next one */
    }
    /* the replaced float nodes have no readers left: drop them before folding, so that the
     * DQ nodes of fused weights go too instead of being folded into float copies */
    qc_pass_prune(g);
    qc_status s = fold_constant_dq(g, err);
    if (s == QC_OK)
        s = qc_graph_prepare(g, err);
    return s;
}
