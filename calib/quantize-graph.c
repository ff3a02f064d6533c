/* quantize-graph.c — the quantizer's second pass: building the new graph from the plan
 * (docs/qparams.md, "The quantizer"): tensors and nodes appended to it, QuantizeLinear →
 * DequantizeLinear pairs, weights and biases, FP32 nodes copied (in their opset-13 form) and
 * QOperator nodes written from the op table's rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quantize-impl.h"

/* ---- building the new graph ------------------------------------------------------------------ */

qc_status qz_oom(qz *q)
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
int qz_plain(qz *q, int t)
{
    if (t < 0)
        return -1;
    if (q->tens[t].fname >= 0)
        return q->tens[t].fname;
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
    q->tens[t].fname = ti;
    return ti;
}

/* Scale and zero point constants of activation t (its root's parameters); a compensated
 * root (Q14) also gets the constant of its channel scales. */
qc_status qz_act_consts(qz *q, int t, int *s, int *z)
{
    int r = qz_root(q, t);
    if (q->tens[r].sname < 0) {
        const qc_qparams *p = &q->tens[r].p;
        const char *name = q->g->tensors[r].name;
        q->tens[r].sname = new_scalar(q, name, "_scale", QC_FLOAT, p->scale);
        q->tens[r].zname = new_scalar(q, name, "_zero_point", qdtype(p), p->zero_point);
        if (q->tens[r].sname < 0 || q->tens[r].zname < 0)
            return qz_oom(q);
        if (q->tens[r].cp) { /* [1, C, 1, …]: broadcasts over the tensor's channels */
            const qc_value *v = &q->g->tensors[r].value;
            int64_t dims[QC_MAX_RANK], C = q->tens[r].cch;
            for (int d = 0; d < v->rank; d++)
                dims[d] = d == 1 ? C : 1;
            float *sc = malloc((size_t)C * sizeof *sc);
            if (!sc)
                return qz_oom(q);
            for (int64_t c = 0; c < C; c++)
                sc[c] = q->tens[r].cp[c].scale;
            if ((q->tens[r].divisor = new_tensor(q, name, "_channel_scale", QC_FLOAT, v->rank, dims, sc)) < 0)
                return qz_oom(q);
        }
    }
    *s = q->tens[r].sname;
    *z = q->tens[r].zname;
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
    if (dq < 0 ||
        qc_emit_rounded_fake_quantize(&b, x, s, z, &q->tens[qz_root(q, t)].p,
                                      qz_tensor_options(q, qz_root(q, t))->act_round, dq) != QC_OK)
        return qz_oom(q);
    q->tens[t].fname = dq;
    return QC_OK;
}

/* QDQ and FakeQuantize: after activation t is computed (fname[t]), QuantizeLinear →
 * DequantizeLinear (with a Clip before for fewer than 8 bits, Q8); readers get the
 * dequantized tensor. A graph output keeps its name on the DequantizeLinear. A compensated
 * root (Q14) is first divided by its channel scales, then quantized with scale 1: readers get
 * q − z. */
qc_status qz_emit_qdq(qz *q, int t)
{
    const qc_tensor *ft = &q->g->tensors[t];
    int r = qz_root(q, t);
    const qc_qparams *p = &q->tens[r].p;
    int x = q->tens[t].fname, s, z;
    qc_status st = qz_act_consts(q, t, &s, &z);
    if (st != QC_OK)
        return st;
    if (ft->is_output) {
        char renamed[600];
        snprintf(renamed, sizeof renamed, "%s_QuantizeLinear_Input", ft->name);
        if (qc_graph_rename_tensor(q->ng, x, renamed) != 0)
            return qz_oom(q);
    }
    const int64_t *dims = ft->value.dims;
    int rank = ft->value.rank;
    if (t == r && q->tens[r].cp) {
        int d = new_tensor(q, ft->name, "_Div_Output", QC_FLOAT, rank, dims, NULL);
        char nn[600];
        snprintf(nn, sizeof nn, "%s_Div", ft->name);
        if (d < 0 || emit(q, nn, "Div", "", (int[]){x, q->tens[r].divisor}, 2, &d, 1) < 0)
            return qz_oom(q);
        x = d;
    }
    const qc_quantize_options *ro = qz_tensor_options(q, r);
    if (ro->act_round != QC_ROUND_HALF_EVEN) /* its own Clip, in steps of the scale */
        return emit_rounded_qdq(q, t, x, s, z);
    if (ro->act_bits < 8) {
        int lo = new_scalar(q, ft->name, "_clip_min", QC_FLOAT, qc_dequantize_value(p->qmin, p));
        int hi = new_scalar(q, ft->name, "_clip_max", QC_FLOAT, qc_dequantize_value(p->qmax, p));
        int c = new_tensor(q, ft->name, "_Clip_Output", QC_FLOAT, rank, dims, NULL);
        char nn[600];
        snprintf(nn, sizeof nn, "%s_Clip", ft->name);
        if (lo < 0 || hi < 0 || c < 0 || emit(q, nn, "Clip", "", (int[]){x, lo, hi}, 3, &c, 1) < 0)
            return qz_oom(q);
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
        return qz_oom(q);
    q->tens[t].fname = dq;
    q->tens[t].qname = qt;
    return QC_OK;
}

/* QOperator: the integer version of activation t, quantizing its float one on first use. */
int qz_q_of(qz *q, int t)
{
    if (q->tens[t].qname >= 0)
        return q->tens[t].qname;
    int x = qz_plain(q, t), s, z;
    if (x < 0 || qz_act_consts(q, t, &s, &z) != QC_OK)
        return -1;
    const qc_tensor *ft = &q->g->tensors[t];
    int qt = new_tensor(q, ft->name, "_quantized", qdtype(&q->tens[qz_root(q, t)].p), ft->value.rank, ft->value.dims, NULL);
    char nq[600];
    snprintf(nq, sizeof nq, "%s_QuantizeLinear", ft->name);
    if (qt < 0 || emit(q, nq, "QuantizeLinear", "", (int[]){x, s, z}, 3, &qt, 1) < 0)
        return -1;
    q->tens[t].qname = qt;
    return qt;
}

/* The float version of FP32 tensor t: in QOperator, an integer tensor is dequantized on
 * first use into a tensor of the original name. */
static int f_of(qz *q, int t)
{
    if (t < 0 || q->tens[t].fname >= 0 || q->tens[t].qname < 0)
        return qz_plain(q, t);
    const qc_tensor *ft = &q->g->tensors[t];
    int s, z;
    if (qz_act_consts(q, t, &s, &z) != QC_OK)
        return -1;
    int f = new_tensor(q, ft->name, "", QC_FLOAT, ft->value.rank, ft->value.dims, NULL);
    char nd[600];
    snprintf(nd, sizeof nd, "%s_DequantizeLinear", ft->name);
    if (f < 0 || emit(q, nd, "DequantizeLinear", "", (int[]){q->tens[t].qname, s, z}, 3, &f, 1) < 0)
        return -1;
    q->tens[t].fname = f;
    return f;
}

/* ---- weights and biases ------------------------------------------------------------------------ */

/* Weight tensor w of node n seen as [outer][channels][inner] with its channel axis (Q7). */
static void weight_layout(const qc_graph *g, const qc_node *n, qz_weights k, int64_t *outer, int64_t *ch,
                          int64_t *inner, int *axis)
{
    const qc_value *w = &g->tensors[n->inputs[1]].value;
    int64_t count = qc_value_count(w);
    if (k == QZ_WEIGHTS_CONV || (k == QZ_WEIGHTS_GEMM && qc_node_attr_int(n, "transB", 0))) {
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

void qz_weight_shape(const qc_graph *g, const qc_node *n, int64_t *outer, int64_t *ch, int64_t *inner)
{
    int axis;
    qz_weights k = qz_is_op(n, "Conv") ? QZ_WEIGHTS_CONV : qz_is_op(n, "Gemm") ? QZ_WEIGHTS_GEMM : QZ_WEIGHTS_MATMUL;
    weight_layout(g, n, k, outer, ch, inner, &axis);
}

/* The input-compensated weights of node n (weights k) reading compensated x (Q14): every weight
 * times the scale of the input channel it multiplies. Conv [M][C/g][kH][kW] (output channel
 * m of group m / (M/g) reads input channels from (m / (M/g)) · C/g), Gemm with transB
 * [N][K], Gemm without it and MatMul [K][N]. NULL when out of memory. */
static float *compensated_weights(const qz *q, const qc_node *n, qz_weights k, const qc_qparams *cp)
{
    const qc_value *w = &q->g->tensors[n->inputs[1]].value;
    const float *wf = w->data;
    int64_t count = qc_value_count(w);
    float *out = malloc((size_t)(count ? count : 1) * sizeof *out);
    if (!out)
        return NULL;
    if (k == QZ_WEIGHTS_CONV) {
        int64_t M = w->dims[0], cg = w->dims[1], group = qc_node_attr_int(n, "group", 1);
        int64_t per_group = group > 0 && M % group == 0 ? M / group : M, inner = M ? count / M / (cg ? cg : 1) : 0;
        for (int64_t m = 0; m < M; m++)
            for (int64_t j = 0; j < cg; j++) {
                float sc = cp[(m / per_group) * cg + j].scale;
                for (int64_t e = (m * cg + j) * inner; e < (m * cg + j + 1) * inner; e++)
                    out[e] = wf[e] * sc;
            }
    } else if (k == QZ_WEIGHTS_GEMM && qc_node_attr_int(n, "transB", 0)) {
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
qc_status qz_quantize_weight(qz *q, const qc_node *n, qz_weights k, int *wi, int *ws, int *wz)
{
    const qc_graph *g = q->g;
    int t = n->inputs[1];
    const qc_tensor *wt = &g->tensors[t];
    const qc_quantize_options *no = qz_node_options(q, (int)(n - g->nodes));
    int64_t outer, ch, inner;
    int axis;
    weight_layout(g, n, k, &outer, &ch, &inner, &axis);
    qc_granularity gran =
        no->weights != QC_GRANULARITY_TENSOR && ch > 1 ? QC_GRANULARITY_CHANNEL : QC_GRANULARITY_TENSOR;
    bool per_channel = gran != QC_GRANULARITY_TENSOR;
    int nch = per_channel ? (int)ch : 1;
    if (!q->tens[t].wp) {
        float *compensated = NULL;
        const float *wf = wt->value.data;
        if (q->nodes[n - g->nodes].comp_node) {
            if (!(compensated = compensated_weights(q, n, k, q->tens[qz_root(q, n->inputs[0])].cp)))
                return qz_oom(q);
            wf = compensated;
        }
        qc_scheme scheme = no->scheme;
        /* ONNX Runtime's QLinearConv takes one weight zero point for all channels: per-channel
         * QOperator weights are symmetric (Q9). */
        if (q->o->format == QC_FORMAT_QOPERATOR && per_channel)
            scheme = QC_SCHEME_SYMLOWP;
        q->tens[t].wp = malloc((size_t)nch * sizeof *q->tens[t].wp);
        if (!q->tens[t].wp) {
            free(compensated);
            return qz_oom(q);
        }
        q->tens[t].wch = nch;
        q->tens[t].wgran = gran;
        qc_status st = qc_qparams_weights(wf, outer, ch, inner, gran, scheme, no->weight_bits,
                                          no->reduce_range, wt->name, q->tens[t].wp, q->err);
        int64_t count = qc_value_count(&wt->value);
        int32_t *qi = st == QC_OK ? malloc((size_t)(count ? count : 1) * sizeof *qi) : NULL;
        if (st != QC_OK || !qi) {
            free(compensated);
            return st != QC_OK ? st : qz_oom(q);
        }
        qc_quantize_array(per_channel ? outer : 1, per_channel ? ch : 1, per_channel ? inner : count, wf,
                          q->tens[t].wp, no->round, qi);
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
                return qz_oom(q);
            }
            qc_dequantize_array(per_channel ? outer : 1, per_channel ? ch : 1, per_channel ? inner : count, qi,
                                q->tens[t].wp, fq);
            free(qi);
            q->tens[t].wq = new_tensor(q, wt->name, "_fakequant", QC_FLOAT, wt->value.rank, wt->value.dims, fq);
        } else {
            qc_dtype dt = qdtype(&q->tens[t].wp[0]);
            void *data = malloc((size_t)(count ? count : 1));
            if (!data) {
                free(qi);
                return qz_oom(q);
            }
            for (int64_t e = 0; e < count; e++) {
                if (dt == QC_INT8)
                    ((int8_t *)data)[e] = (int8_t)qi[e];
                else
                    ((uint8_t *)data)[e] = (uint8_t)qi[e];
            }
            free(qi);
            q->tens[t].wq = new_tensor(q, wt->name, "_quantized", dt, wt->value.rank, wt->value.dims, data);
            /* scale and zero point: scalars per tensor, 1-D per channel */
            float *sc = malloc((size_t)nch * sizeof *sc);
            void *zp = malloc((size_t)nch);
            if (!sc || !zp) {
                free(sc);
                free(zp);
                return qz_oom(q);
            }
            for (int c = 0; c < nch; c++) {
                sc[c] = q->tens[t].wp[c].scale;
                if (dt == QC_INT8)
                    ((int8_t *)zp)[c] = (int8_t)q->tens[t].wp[c].zero_point;
                else
                    ((uint8_t *)zp)[c] = (uint8_t)q->tens[t].wp[c].zero_point;
            }
            int64_t d1 = nch;
            q->tens[t].sname = new_tensor(q, wt->name, "_scale", QC_FLOAT, per_channel, &d1, sc);
            q->tens[t].zname = new_tensor(q, wt->name, "_zero_point", dt, per_channel, &d1, zp);
            if (q->tens[t].sname < 0 || q->tens[t].zname < 0)
                return qz_oom(q);
        }
        if (q->tens[t].wq < 0)
            return qz_oom(q);
        qc_status rs = qz_report_add(q, wt->name, "weight", nch, wlo, whi, q->tens[t].wp, no->weight_bits);
        if (rs != QC_OK)
            return rs;
        if (q->rep) {
            q->rep->tensors[q->rep->n - 1].compensated = q->nodes[n - g->nodes].comp_node;
            q->rep->tensors[q->rep->n - 1].axis = per_channel ? axis : -1;
        }
        if (q->o->format == QC_FORMAT_QDQ) {
            int dq = new_tensor(q, wt->name, "_DequantizeLinear_Output", QC_FLOAT, wt->value.rank, wt->value.dims, NULL);
            char nd[600];
            snprintf(nd, sizeof nd, "%s_DequantizeLinear", wt->name);
            int ni = dq < 0 ? -1 : emit(q, nd, "DequantizeLinear", "", (int[]){q->tens[t].wq, q->tens[t].sname, q->tens[t].zname}, 3, &dq, 1);
            if (ni < 0 || (per_channel && add_int_attr(&q->ng->nodes[ni], "axis", axis) != QC_OK))
                return qz_oom(q);
            q->tens[t].fname = dq;
        }
    }
    *wi = q->o->format == QC_FORMAT_QDQ ? q->tens[t].fname : q->tens[t].wq;
    *ws = q->tens[t].sname;
    *wz = q->tens[t].zname;
    return QC_OK;
}

/* The codes of constant t under p, in t's shape: fake-quantized floats in FakeQuantize, else
 * uint8 / int8 values (its scale and zero point scalars beside it, and in QDQ its
 * DequantizeLinear). */
static qc_status operand_tensors(qz *q, int t, const qc_qparams *p)
{
    const qc_tensor *ct = &q->g->tensors[t];
    int64_t count = qc_value_count(&ct->value);
    int32_t *qi = malloc((size_t)(count ? count : 1) * sizeof *qi);
    void *data = malloc((size_t)(count ? count : 1) * (q->o->format == QC_FORMAT_FAKEQUANT ? sizeof(float) : 1));
    if (!qi || !data) {
        free(qi);
        free(data);
        return qz_oom(q);
    }
    qc_quantize_array(1, 1, count, ct->value.data, p, q->o->round, qi);
    qc_dtype dt = qdtype(p);
    for (int64_t e = 0; e < count; e++) {
        if (q->o->format == QC_FORMAT_FAKEQUANT)
            ((float *)data)[e] = qc_dequantize_value(qi[e], p);
        else if (dt == QC_INT8)
            ((int8_t *)data)[e] = (int8_t)qi[e];
        else
            ((uint8_t *)data)[e] = (uint8_t)qi[e];
    }
    free(qi);
    qz_tensor *r = &q->tens[t];
    if (q->o->format == QC_FORMAT_FAKEQUANT) {
        r->wq = new_tensor(q, ct->name, "_fakequant", QC_FLOAT, ct->value.rank, ct->value.dims, data);
        return r->wq < 0 ? qz_oom(q) : QC_OK;
    }
    r->wq = new_tensor(q, ct->name, "_quantized", dt, ct->value.rank, ct->value.dims, data);
    r->sname = new_scalar(q, ct->name, "_scale", QC_FLOAT, p->scale);
    r->zname = new_scalar(q, ct->name, "_zero_point", dt, p->zero_point);
    if (r->wq < 0 || r->sname < 0 || r->zname < 0)
        return qz_oom(q);
    if (q->o->format == QC_FORMAT_QDQ) {
        int dq = new_tensor(q, ct->name, "_DequantizeLinear_Output", QC_FLOAT, ct->value.rank, ct->value.dims, NULL);
        char nd[600];
        snprintf(nd, sizeof nd, "%s_DequantizeLinear", ct->name);
        if (dq < 0 || emit(q, nd, "DequantizeLinear", "", (int[]){r->wq, r->sname, r->zname}, 3, &dq, 1) < 0)
            return qz_oom(q);
        r->fname = dq;
    }
    return QC_OK;
}

qc_status qz_quantize_operand(qz *q, int t, int *ti, int *s, int *z)
{
    qz_tensor *r = &q->tens[t];
    if (!r->wp) {
        const qc_tensor *ct = &q->g->tensors[t];
        const float *v = ct->value.data;
        int64_t count = qc_value_count(&ct->value);
        float lo = INFINITY, hi = -INFINITY;
        for (int64_t e = 0; e < count; e++) {
            if (!isfinite(v[e]))
                return qc_fail(q->err, QC_ERR_INPUT, "tensor '%s': value %lld is %s", ct->name, (long long)e,
                               isnan(v[e]) ? "nan" : "infinite");
            lo = fminf(lo, v[e]);
            hi = fmaxf(hi, v[e]);
        }
        if (!count)
            lo = hi = 0;
        if (!(r->wp = malloc(sizeof *r->wp)))
            return qz_oom(q);
        r->wch = 1;
        r->wgran = QC_GRANULARITY_TENSOR;
        qc_status st = qc_qparams_activation(lo, hi, q->o->scheme, q->o->act_bits, q->signed_act, ct->name, r->wp,
                                             q->err);
        if (st == QC_OK)
            st = operand_tensors(q, t, r->wp);
        if (st == QC_OK)
            st = qz_report_add(q, ct->name, "weight", 1, lo, hi, r->wp, q->o->act_bits);
        if (st != QC_OK)
            return st;
    }
    *ti = q->o->format == QC_FORMAT_QDQ ? r->fname : r->wq;
    *s = r->sname;
    *z = r->zname;
    return QC_OK;
}

/* The bias of node n as int32 with scale s_x · s_w (Q10): the tensor to read in ng (its
 * DequantizeLinear in QDQ, the int32 values in QOperator, the dequantized floats in
 * FakeQuantize), or -1 without a bias. */
qc_status qz_quantize_bias(qz *q, const qc_node *n, int x, int wt, int *bi)
{
    *bi = -1;
    if (n->n_inputs < 3 || n->inputs[2] < 0)
        return QC_OK;
    const qc_tensor *bt = &q->g->tensors[n->inputs[2]];
    int64_t m = qc_value_count(&bt->value);
    float sx = q->tens[qz_root(q, x)].p.scale;
    const qc_qparams *wp = q->tens[wt].wp;
    qc_granularity gran = q->tens[wt].wgran;
    bool per_channel = gran != QC_GRANULARITY_TENSOR;
    int32_t *qb = malloc((size_t)(m ? m : 1) * sizeof *qb);
    qc_qparams *bp = malloc((size_t)(m ? m : 1) * sizeof *bp);
    if (!qb || !bp) {
        free(qb);
        free(bp);
        return qz_oom(q);
    }
    const float *bf = bt->value.data;
    float *corrected = NULL;
    if (q->o->bias_correction && !q->nodes[n - q->g->nodes].comp_node) {
        if (!(corrected = malloc((size_t)(m ? m : 1) * sizeof *corrected))) {
            free(qb);
            free(bp);
            return qz_oom(q);
        }
        if (qz_correct_bias(q, n, wt, bf, m, corrected))
            bf = corrected;
    }
    for (int64_t c = 0; c < m; c++)
        if (!isfinite(bf[c])) {
            free(qb);
            free(bp);
            free(corrected);
            return qc_fail(q->err, QC_ERR_INPUT, "tensor '%s': bias %lld is %s", bt->name, (long long)c,
                           isnan(bf[c]) ? "nan" : "infinite");
        }
    qc_bias_quantize_array(m, bf, sx, wp, gran, qb);
    float blo = INFINITY, bhi = -INFINITY;
    for (int64_t c = 0; c < m; c++) {
        bp[c] = qc_qparams_bias(sx, wp[per_channel ? c : 0].scale);
        blo = fminf(blo, bf[c]);
        bhi = fmaxf(bhi, bf[c]);
    }
    free(corrected);
    int nb = per_channel ? (int)m : 1;
    qc_status st = qz_report_add(q, bt->name, "bias", nb, blo, bhi, bp, 32);
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
        return *bi < 0 ? qz_oom(q) : QC_OK;
    }
    int qi = new_tensor(q, bt->name, "_quantized", QC_INT32, 1, &m, qb);
    if (qi < 0) {
        free(bp);
        return qz_oom(q);
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
        return qz_oom(q);
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
        return qz_oom(q);
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

qc_status qz_copy_node_attrs(qc_node *dst, const qc_node *src)
{
    return copy_attrs(dst, src, NULL);
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
        if (qz_is_op(n, legacy[i][0]))
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
    if (qz_is_op(n, "Clip") && opset < 11) {
        const qc_attr *lo = qc_node_attr(n, "min"), *hi = qc_node_attr(n, "max");
        in[1] = lo ? new_scalar(q, n->name, "_min", QC_FLOAT, lo->f) : -1;
        in[2] = hi ? new_scalar(q, n->name, "_max", QC_FLOAT, hi->f) : -1;
        if ((lo && in[1] < 0) || (hi && in[2] < 0))
            return qz_oom(q);
        *n_in = hi ? 3 : lo ? 2 : 1;
    } else if ((qz_is_op(n, "Squeeze") || qz_is_op(n, "Unsqueeze")) && qc_node_attr(n, "axes")) {
        const qc_attr *a = qc_node_attr(n, "axes");
        int64_t *data = malloc((size_t)(a->n ? a->n : 1) * sizeof *data), dims[1] = {a->n};
        if (!data)
            return qz_oom(q);
        for (int k = 0; k < a->n; k++)
            data[k] = a->ints[k];
        if ((in[1] = new_tensor(q, n->name, "_axes", QC_INT64, 1, dims, data)) < 0)
            return qz_oom(q);
        *n_in = 2;
    } else if (qz_is_op(n, "Softmax")) {
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
qc_status qz_emit_float_node(qz *q, int i)
{
    const qc_node *n = &q->g->nodes[i];
    int in[QZ_MAX_INPUTS], out[8];
    if (n->n_inputs > QZ_MAX_INPUTS || n->n_outputs > 8)
        return qc_fail(q->err, QC_ERR_INPUT, "node '%s' has too many inputs or outputs", n->name);
    qz_weights k = q->nodes[i].op ? q->nodes[i].op->weights : QZ_WEIGHTS_NONE;
    bool operand = k == QZ_WEIGHTS_OPERAND && qz_is_float_const(q->g, n->inputs[1]);
    bool weighted = q->o->format != QC_FORMAT_QOPERATOR &&
                    ((k != QZ_WEIGHTS_NONE && k != QZ_WEIGHTS_OPERAND) || operand);
    for (int j = 0; j < n->n_inputs; j++) {
        if (weighted && j > 0) /* replaced below */
            continue;
        in[j] = n->inputs[j] < 0 ? -1 : q->o->format == QC_FORMAT_QOPERATOR ? f_of(q, n->inputs[j]) : qz_plain(q, n->inputs[j]);
        if (n->inputs[j] >= 0 && in[j] < 0)
            return qz_oom(q);
    }
    if (weighted && operand) {
        int s, z;
        qc_status st = qz_quantize_operand(q, n->inputs[1], &in[1], &s, &z);
        if (st != QC_OK)
            return st;
    } else if (weighted) {
        int ws, wz;
        qc_status st = qz_quantize_weight(q, n, k, &in[1], &ws, &wz);
        if (st == QC_OK && n->n_inputs > 2)
            st = qz_quantize_bias(q, n, n->inputs[0], n->inputs[1], &in[2]);
        if (st != QC_OK)
            return st;
    }
    for (int j = 0; j < n->n_outputs; j++) {
        int t = j == 0 ? qz_node_output(q, i) : n->outputs[j];
        if (t < 0) {
            out[j] = -1;
            continue;
        }
        const qc_tensor *ft = &q->g->tensors[t];
        out[j] = new_tensor(q, ft->name, "", ft->value.dtype, ft->value.rank, ft->value.dims, NULL);
        if (out[j] < 0)
            return qz_oom(q);
        q->tens[t].fname = out[j];
    }
    int n_in = n->n_inputs;
    int64_t axis;
    qc_status up = upgrade_inputs(q, n, in, &n_in, &axis);
    if (up != QC_OK)
        return up;
    int ni = emit(q, n->name, n->op_type, n->domain, in, n_in, out, n->n_outputs);
    if (ni < 0)
        return qz_oom(q);
    qc_node *nn = &q->ng->nodes[ni];
    for (int a = 0; a < n->n_attrs; a++)
        if (!(q->g->opset < 13 && legacy_attr(n, n->attrs[a].name)) && add_attr(nn, &n->attrs[a]) != QC_OK)
            return qz_oom(q);
    if (axis != -2 && add_int_attr(nn, "axis", axis) != QC_OK)
        return qz_oom(q);
    if (q->o->format != QC_FORMAT_QOPERATOR)
        for (int j = 0; j < n->n_outputs; j++) {
            int t = j == 0 ? qz_node_output(q, i) : n->outputs[j];
            if (t >= 0 && q->tens[t].src >= 0) {
                qc_status st = qz_emit_qdq(q, t);
                if (st != QC_OK)
                    return st;
            }
        }
    return QC_OK;
}

/* QOperator: node i as its integer operator (Q11), which its row's qop function spells out;
 * a fused Relu that the clamp alone does not do follows as an integer Clip. */
qc_status qz_emit_qop_node(qz *q, int i)
{
    const qc_node *n = &q->g->nodes[i];
    int y = qz_node_output(q, i);
    const qc_tensor *yt = &q->g->tensors[y];
    int ys, yz, s, z;
    qc_status st = qz_act_consts(q, y, &ys, &yz);
    if (st != QC_OK)
        return st;
    int x = qz_q_of(q, n->inputs[0]);
    if (x < 0 || qz_act_consts(q, n->inputs[0], &s, &z) != QC_OK)
        return qz_oom(q);
    qz_qop e = {.n_in = 0, .op_type = n->op_type, .domain = ""};
    if ((st = q->nodes[i].op->qop(q, n, x, s, z, ys, yz, &e)) != QC_OK)
        return st;
    const qc_qparams *yp = &q->tens[qz_root(q, y)].p;
    int out = new_tensor(q, yt->name, q->nodes[i].int_clip ? "_preclip" : "_quantized", qdtype(yp), yt->value.rank,
                         yt->value.dims, NULL);
    if (out < 0)
        return qz_oom(q);
    int ni = emit(q, n->name, e.op_type, e.domain, e.in, e.n_in, &out, 1);
    if (ni < 0 || copy_attrs(&q->ng->nodes[ni], n, e.skip_attr) != QC_OK ||
        (e.int_attr && add_int_attr(&q->ng->nodes[ni], e.int_attr, e.int_attr_value) != QC_OK))
        return qz_oom(q);
    if (q->nodes[i].int_clip) { /* the fused Relu on the integers: max(q, z) */
        int lo = new_scalar(q, yt->name, "_clip_min", qdtype(yp), yp->zero_point);
        int clipped = new_tensor(q, yt->name, "_quantized", qdtype(yp), yt->value.rank, yt->value.dims, NULL);
        char nn[600];
        snprintf(nn, sizeof nn, "%s_Clip", yt->name);
        if (lo < 0 || clipped < 0 || emit(q, nn, "Clip", "", (int[]){out, lo}, 2, &clipped, 1) < 0)
            return qz_oom(q);
        out = clipped;
    }
    q->tens[y].qname = out;
    return QC_OK;
}

/* Input t of the FP32 graph: an input of ng, followed by its QuantizeLinear →
 * DequantizeLinear in QDQ and FakeQuantize when quantized. */
qc_status qz_emit_input(qz *q, int t)
{
    int ti = qz_plain(q, t);
    if (ti < 0)
        return qz_oom(q);
    q->ng->tensors[ti].is_input = true;
    q->ng->tensors[ti].symbolic = q->g->tensors[t].symbolic;
    q->ng->inputs[q->ng->n_inputs++] = ti;
    if (q->o->format != QC_FORMAT_QOPERATOR && q->tens[t].src >= 0)
        return qz_emit_qdq(q, t);
    return QC_OK;
}

/* Output t of the FP32 graph: its float version (dequantized in QOperator). */
qc_status qz_emit_output(qz *q, int t)
{
    int ti = q->o->format == QC_FORMAT_QOPERATOR ? f_of(q, t) : qz_plain(q, t);
    if (ti < 0)
        return qz_oom(q);
    q->ng->tensors[ti].is_output = true;
    q->ng->outputs[q->ng->n_outputs++] = ti;
    return QC_OK;
}
