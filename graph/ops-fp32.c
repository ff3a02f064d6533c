/* ops-fp32.c — the FP32 math ops of the reference executor: convolution, products, pooling.
 * Conv, Gemm, MatMul, Add/Sub/Mul/Div, Relu, LeakyRelu, Clip, Sigmoid, MaxPool, AveragePool,
 * GlobalAveragePool, GlobalMaxPool, BatchNormalization, Softmax, LogSoftmax and Hardmax, with
 * ONNX's semantics from opset 7 on, plus the older forms still met in the wild: Clip's min/max
 * attributes, broadcasting with an axis, the softmaxes' 2-d coercion. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph-impl.h"
#include "kernels/kernels.h"

/* ---- messages, arity, attributes --------------------------------------------------------- */

static qc_status need_float(const qc_node *n, const qc_value *v, int index, qc_error *err)
{
    if (v->dtype != QC_FLOAT)
        return qc_node_fail(err, n, "input %d is %s; only float32 is supported", index,
                         qc_dtype_name(v->dtype));
    return QC_OK;
}

static int64_t product(const int64_t *dims, int from, int to)
{
    int64_t p = 1;
    for (int d = from; d < to; d++)
        p *= dims[d];
    return p;
}

static void copy_shape(qc_value *out, const qc_value *in)
{
    out->dtype = in->dtype;
    out->rank = in->rank;
    memcpy(out->dims, in->dims, sizeof out->dims);
}

/* ---- Conv -------------------------------------------------------------------------------- */

typedef struct {
    qc_window_attrs win;
    int64_t group;
    float *packed; /* owned: constant weights packed by qc_f32_conv_pack_weights, or NULL */
    const void *packed_from;          /* the constant's data and shape they were packed from */
    int packed_rank;
    int64_t packed_dims[QC_MAX_RANK];
} conv_state;

/* Constant float weights of a convolution that runs on the GEMM (not depthwise) are packed
 * once, here, from their own shape; infer checks it against x's. */
static qc_status conv_pack(const qc_graph *g, const qc_node *n, conv_state *st, qc_error *err)
{
    const qc_tensor *wt = &g->tensors[n->inputs[1]];
    const qc_value *w = &wt->value;
    if (!wt->is_const || !w->data || w->dtype != QC_FLOAT || w->rank < 3 ||
        w->dims[0] % st->group || (w->dims[1] == 1 && st->group > 1))
        return QC_OK;
    int64_t depth = product(w->dims, 1, w->rank);
    size_t bytes = qc_f32_conv_weights_size(w->dims[0], st->group, depth);
    if (bytes == 0)
        return QC_OK;
    st->packed = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!st->packed)
        return qc_fail(err, QC_ERR_IO, "out of memory packing the weights of node '%s'", n->name);
    qc_f32_conv_pack_weights(w->dims[0], st->group, depth, w->data, st->packed);
    st->packed_from = w->data;
    st->packed_rank = w->rank;
    memcpy(st->packed_dims, w->dims, (size_t)w->rank * sizeof *w->dims);
    return QC_OK;
}

static void conv_release(qc_node *n)
{
    conv_state *st = n->state;
    if (st)
        free(st->packed);
    qc_node_release_state(n);
}

static qc_status conv_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    conv_state st = {0};
    qc_status s = qc_node_check_arity(n, 2, 3, 1, err);
    if (s == QC_OK)
        s = qc_window_parse(n, &st.win, err);
    if (s == QC_OK)
        s = qc_node_int(n, "group", 1, &st.group, err);
    if (s == QC_OK && st.group < 1)
        s = qc_node_fail(err, n, "group must be positive, not %lld", (long long)st.group);
    if (s != QC_OK)
        return s;
    st.win.ceil_mode = false; /* a pooling attribute: Conv's output size always rounds down */
    if ((s = conv_pack(g, n, &st, err)) != QC_OK)
        return s;
    if ((s = qc_node_keep_state(n, &st, sizeof st, err)) != QC_OK)
        free(st.packed);
    return s;
}

/* Everything Conv needs from its inputs' shapes, shared by infer and run (run may not store
 * anything in the node: several executors run one graph at once). */
static qc_status conv_geometry(const qc_node *n, const qc_value *const *in, qc_f32_conv_params *p,
                               qc_error *err)
{
    const conv_state *st = n->state;
    *p = (qc_f32_conv_params){0};
    qc_status s = qc_node_need_inputs(n, in, 2, err);
    if (s != QC_OK)
        return s;
    const qc_value *x = in[0], *w = in[1];
    const qc_value *b = n->n_inputs > 2 ? in[2] : NULL;
    if ((s = need_float(n, x, 0, err)) != QC_OK || (s = need_float(n, w, 1, err)) != QC_OK ||
        (b && (s = need_float(n, b, 2, err)) != QC_OK))
        return s;
    if (x->rank < 3 || x->rank > 2 + QC_F32_MAX_SPATIAL)
        return qc_node_fail(err, n, "input X has rank %d; 1 to %d spatial dimensions (rank 3 to %d) are supported",
                         x->rank, QC_F32_MAX_SPATIAL, 2 + QC_F32_MAX_SPATIAL);
    if (w->rank != x->rank)
        return qc_node_fail(err, n, "weights W have rank %d but input X has rank %d", w->rank, x->rank);
    int spatial = x->rank - 2;
    if (st->win.spatial && st->win.spatial != spatial)
        return qc_node_fail(err, n, "the attributes give %d spatial dimensions but input X has %d",
                         st->win.spatial, spatial);
    for (int i = 0; st->win.has_kernel && i < spatial; i++)
        if (st->win.kernel[i] != w->dims[2 + i]) {
            char shape[96];
            return qc_node_fail(err, n, "kernel_shape does not match the weights W of shape %s",
                             qc_shape_str(w, shape, sizeof shape));
        }
    int64_t channels = x->dims[1], maps = w->dims[0];
    if (w->dims[1] * st->group != channels)
        return qc_node_fail(err, n, "input X has %lld channels but W expects %lld x group %lld",
                         (long long)channels, (long long)w->dims[1], (long long)st->group);
    if (maps % st->group)
        return qc_node_fail(err, n, "%lld output channels do not split into %lld groups",
                         (long long)maps, (long long)st->group);
    if (b && (b->rank != 1 || b->dims[0] != maps))
        return qc_node_fail(err, n, "bias B must have %lld values (one per output channel)",
                         (long long)maps);
    p->in_channels = channels;
    p->out_channels = maps;
    p->groups = st->group;
    return qc_window_geometry(n, &st->win, x, w->dims + 2, &p->win, err);
}

static qc_status conv_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                            qc_error *err)
{
    qc_f32_conv_params p;
    qc_status s = conv_geometry(n, in, &p, err);
    if (s != QC_OK)
        return s;
    out[0].dtype = QC_FLOAT;
    out[0].rank = in[0]->rank;
    out[0].dims[0] = in[0]->dims[0];
    out[0].dims[1] = p.out_channels;
    for (int i = 0; i < p.win.spatial; i++)
        out[0].dims[2 + i] = p.win.out[i];
    return QC_OK;
}

static qc_status conv_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                          qc_error *err)
{
    qc_f32_conv_params p;
    qc_status s = conv_geometry(n, in, &p, err);
    if (s != QC_OK)
        return s;
    const conv_state *st = n->state;
    /* the packed weights, when W is still the constant they came from */
    const float *packed =
        st->packed && in[1]->data == st->packed_from && in[1]->rank == st->packed_rank &&
                !memcmp(in[1]->dims, st->packed_dims, (size_t)st->packed_rank * sizeof *st->packed_dims)
            ? st->packed
            : NULL;
    size_t bytes = qc_f32_conv_scratch_size(&p, packed != NULL);
    void *scratch = bytes ? qc_exec_scratch(x, bytes) : NULL;
    if (bytes && !scratch)
        return qc_fail(err, QC_ERR_IO, "out of memory running node '%s'", n->name);
    const qc_value *b = n->n_inputs > 2 ? in[2] : NULL;
    p.clamp.on = qc_exec_fused_clamp(x, n, &p.clamp.lo, &p.clamp.hi);
    qc_f32_conv(&p, in[0]->dims[0], in[0]->data, in[1]->data, packed, b ? b->data : NULL,
                out[0].data, scratch);
    return QC_OK;
}

/* ---- Gemm -------------------------------------------------------------------------------- */

typedef struct {
    bool trans_a, trans_b;
    float alpha, beta;
} gemm_state;

typedef struct {
    int64_t m, n, k, c_rows, c_cols;
} gemm_shape;

static qc_status gemm_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    gemm_state st = {0};
    int64_t ta, tb;
    /* C is optional from opset 11; older models always give it, accepting both is harmless. */
    qc_status s = qc_node_check_arity(n, 2, 3, 1, err);
    if (s == QC_OK)
        s = qc_node_int(n, "transA", 0, &ta, err);
    if (s == QC_OK)
        s = qc_node_int(n, "transB", 0, &tb, err);
    if (s == QC_OK)
        s = qc_node_float(n, "alpha", 1.0f, &st.alpha, err);
    if (s == QC_OK)
        s = qc_node_float(n, "beta", 1.0f, &st.beta, err);
    if (s != QC_OK)
        return s;
    st.trans_a = ta != 0;
    st.trans_b = tb != 0;
    return qc_node_keep_state(n, &st, sizeof st, err);
}

static qc_status gemm_geometry(const qc_node *n, const qc_value *const *in, gemm_shape *sh,
                               qc_error *err)
{
    const gemm_state *st = n->state;
    qc_status s = qc_node_need_inputs(n, in, 2, err);
    if (s != QC_OK)
        return s;
    const qc_value *a = in[0], *b = in[1];
    const qc_value *c = n->n_inputs > 2 ? in[2] : NULL;
    if ((s = need_float(n, a, 0, err)) != QC_OK || (s = need_float(n, b, 1, err)) != QC_OK ||
        (c && (s = need_float(n, c, 2, err)) != QC_OK))
        return s;
    if (a->rank != 2 || b->rank != 2)
        return qc_node_fail(err, n, "A and B must be matrices, not of rank %d and %d", a->rank,
                         b->rank);
    sh->m = st->trans_a ? a->dims[1] : a->dims[0];
    sh->k = st->trans_a ? a->dims[0] : a->dims[1];
    int64_t k2 = st->trans_b ? b->dims[1] : b->dims[0];
    sh->n = st->trans_b ? b->dims[0] : b->dims[1];
    if (k2 != sh->k)
        return qc_node_fail(err, n, "op(A) is %lldx%lld and op(B) is %lldx%lld: inner sizes differ",
                         (long long)sh->m, (long long)sh->k, (long long)k2, (long long)sh->n);
    sh->c_rows = sh->c_cols = 1;
    if (c) {
        if (c->rank > 2)
            return qc_node_fail(err, n, "C has rank %d; at most 2 is supported", c->rank);
        if (c->rank >= 1)
            sh->c_cols = c->dims[c->rank - 1];
        if (c->rank == 2)
            sh->c_rows = c->dims[0];
        if ((sh->c_rows != 1 && sh->c_rows != sh->m) || (sh->c_cols != 1 && sh->c_cols != sh->n))
            return qc_node_fail(err, n, "C (%lldx%lld) does not broadcast to %lldx%lld",
                             (long long)sh->c_rows, (long long)sh->c_cols, (long long)sh->m,
                             (long long)sh->n);
    }
    return QC_OK;
}

static qc_status gemm_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                            qc_error *err)
{
    gemm_shape sh;
    qc_status s = gemm_geometry(n, in, &sh, err);
    if (s != QC_OK)
        return s;
    out[0].dtype = QC_FLOAT;
    out[0].rank = 2;
    out[0].dims[0] = sh.m;
    out[0].dims[1] = sh.n;
    return QC_OK;
}

static qc_status gemm_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                          qc_error *err)
{
    const gemm_state *st = n->state;
    gemm_shape sh;
    qc_status s = gemm_geometry(n, in, &sh, err);
    if (s != QC_OK)
        return s;
    size_t bytes = qc_f32_gemm_scratch_size(sh.k, st->trans_a);
    void *scratch = bytes ? qc_exec_scratch(x, bytes) : NULL;
    if (bytes && !scratch)
        return qc_fail(err, QC_ERR_IO, "out of memory running node '%s'", n->name);
    const qc_value *c = n->n_inputs > 2 ? in[2] : NULL;
    qc_f32_gemm(sh.m, sh.n, sh.k, st->trans_a, st->trans_b, st->alpha, in[0]->data, in[1]->data,
                st->beta, c ? c->data : NULL, sh.c_rows, sh.c_cols, out[0].data, scratch);
    return QC_OK;
}

/* ---- MatMul ------------------------------------------------------------------------------ */

typedef struct {
    int batch_rank;
    int64_t batch[QC_MAX_RANK], a_stride[QC_MAX_RANK], b_stride[QC_MAX_RANK];
    int64_t m, n, k;
    qc_value out; /* dtype, rank and dims of Y */
} matmul_shape;

/* numpy matmul: a 1-d A is a row (its dimension dropped from Y), a 1-d B a column; the
 * dimensions before the last two broadcast. */
static qc_status matmul_geometry(const qc_node *n, const qc_value *const *in, matmul_shape *sh,
                                 qc_error *err)
{
    qc_status s = qc_node_need_inputs(n, in, 2, err);
    if (s != QC_OK)
        return s;
    const qc_value *a = in[0], *b = in[1];
    if ((s = need_float(n, a, 0, err)) != QC_OK || (s = need_float(n, b, 1, err)) != QC_OK)
        return s;
    if (a->rank < 1 || b->rank < 1)
        return qc_node_fail(err, n, "MatMul needs inputs of rank 1 or more");
    int a_batch = a->rank >= 2 ? a->rank - 2 : 0, b_batch = b->rank >= 2 ? b->rank - 2 : 0;
    sh->m = a->rank >= 2 ? a->dims[a->rank - 2] : 1;
    sh->k = a->dims[a->rank - 1];
    int64_t k2 = b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0];
    sh->n = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
    if (k2 != sh->k)
        return qc_node_fail(err, n, "A has %lld columns but B has %lld rows", (long long)sh->k,
                         (long long)k2);
    sh->batch_rank = a_batch > b_batch ? a_batch : b_batch;
    int64_t a_step = sh->m * sh->k, b_step = sh->k * sh->n;
    for (int d = sh->batch_rank - 1; d >= 0; d--) {
        int ia = d - (sh->batch_rank - a_batch), ib = d - (sh->batch_rank - b_batch);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return qc_node_fail(err, n, "batch dimensions %lld and %lld do not broadcast",
                             (long long)da, (long long)db);
        sh->batch[d] = da == 1 ? db : da;
        sh->a_stride[d] = da == 1 ? 0 : a_step;
        sh->b_stride[d] = db == 1 ? 0 : b_step;
        a_step *= da;
        b_step *= db;
    }
    qc_value *y = &sh->out;
    y->dtype = QC_FLOAT;
    y->rank = sh->batch_rank;
    memcpy(y->dims, sh->batch, (size_t)sh->batch_rank * sizeof(int64_t));
    if (a->rank >= 2)
        y->dims[y->rank++] = sh->m;
    if (b->rank >= 2)
        y->dims[y->rank++] = sh->n;
    return QC_OK;
}

static qc_status matmul_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                              qc_error *err)
{
    matmul_shape sh;
    qc_status s = matmul_geometry(n, in, &sh, err);
    if (s == QC_OK)
        copy_shape(&out[0], &sh.out);
    return s;
}

static qc_status matmul_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                            qc_value *out, qc_error *err)
{
    (void)x;
    matmul_shape sh;
    qc_status s = matmul_geometry(n, in, &sh, err);
    if (s != QC_OK)
        return s;
    qc_f32_matmul(sh.batch_rank, sh.batch, sh.a_stride, sh.b_stride, sh.m, sh.n, sh.k,
                  in[0]->data, in[1]->data, out[0].data);
    return QC_OK;
}

static qc_status matmul_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    return qc_node_check_arity(n, 2, 2, 1, err);
}

/* ---- Add, Sub, Mul, Div ------------------------------------------------------------------ */

typedef struct {
    qc_f32_binary_op op;
    bool legacy;        /* opset < 7 with broadcast=1 and an axis: B aligned at axis */
    int64_t axis;
} binary_state;

static qc_status binary_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    binary_state st = {.op = QC_F32_ADD};
    if (!strcmp(n->op_type, "Sub"))
        st.op = QC_F32_SUB;
    else if (!strcmp(n->op_type, "Mul"))
        st.op = QC_F32_MUL;
    else if (!strcmp(n->op_type, "Div"))
        st.op = QC_F32_DIV;
    qc_status s = qc_node_check_arity(n, 2, 2, 1, err);
    if (s != QC_OK)
        return s;
    /* Before opset 7, broadcasting was opt-in (broadcast=1) and B's dimensions could be
     * aligned with A's from a given axis instead of from the right. Without an axis it is
     * numpy's suffix alignment, which also serves broadcast=0 (equal shapes). */
    if (g->opset < 7 && qc_node_attr(n, "axis")) {
        int64_t broadcast;
        if ((s = qc_node_int(n, "broadcast", 0, &broadcast, err)) != QC_OK ||
            (s = qc_node_int(n, "axis", 0, &st.axis, err)) != QC_OK)
            return s;
        st.legacy = broadcast != 0;
    }
    return qc_node_keep_state(n, &st, sizeof st, err);
}

/* B's shape as broadcasting sees it: with a legacy axis, trailing ones are appended so that
 * B's first dimension lines up with A's dimension axis. */
static qc_status binary_b_shape(const qc_node *n, const qc_value *a, const qc_value *b,
                                qc_value *shape, qc_error *err)
{
    const binary_state *st = n->state;
    copy_shape(shape, b);
    if (!st->legacy)
        return QC_OK;
    int axis;
    if (!qc_axis(st->axis, a->rank, &axis) || b->rank > a->rank - axis)
        return qc_node_fail(err, n, "B of rank %d cannot be aligned with A of rank %d at axis %lld",
                         b->rank, a->rank, (long long)st->axis);
    while (shape->rank < a->rank - axis)
        shape->dims[shape->rank++] = 1;
    return QC_OK;
}

static qc_status binary_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                              qc_error *err)
{
    qc_status s = qc_node_need_inputs(n, in, 2, err);
    if (s != QC_OK)
        return s;
    const qc_value *a = in[0], *b = in[1];
    qc_f32_elem e;
    if (a->dtype != b->dtype)
        return qc_node_fail(err, n, "inputs are %s and %s; they must have the same type",
                         qc_dtype_name(a->dtype), qc_dtype_name(b->dtype));
    if (!qc_elem_of(a->dtype, &e))
        return qc_node_fail(err, n, "%s inputs are not supported (float32, uint8, int8, int32, int64 are)",
                         qc_dtype_name(a->dtype));
    qc_value bshape;
    if ((s = binary_b_shape(n, a, b, &bshape, err)) != QC_OK)
        return s;
    if (!qc_broadcast_shape(a, &bshape, &out[0])) {
        char sa[96], sb[96];
        return qc_node_fail(err, n, "shapes %s and %s do not broadcast", qc_shape_str(a, sa, sizeof sa),
                         qc_shape_str(b, sb, sizeof sb));
    }
    out[0].dtype = a->dtype;
    return QC_OK;
}

static qc_status binary_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                            qc_value *out, qc_error *err)
{
    (void)x;
    const binary_state *st = n->state;
    const qc_value *a = in[0], *b = in[1];
    qc_f32_elem e;
    qc_value bshape;
    qc_status s = binary_b_shape(n, a, b, &bshape, err);
    if (s != QC_OK)
        return s;
    if (!qc_elem_of(a->dtype, &e))
        return qc_node_fail(err, n, "%s inputs are not supported", qc_dtype_name(a->dtype));
    qc_f32_binary(st->op, e, a->data, a->rank, a->dims, b->data, bshape.rank, bshape.dims,
                  out[0].data, out[0].rank, out[0].dims);
    return QC_OK;
}

/* ---- Relu, LeakyRelu, Sigmoid ------------------------------------------------------------ */

static qc_status unary_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    return qc_node_check_arity(n, 1, 1, 1, err);
}

/* Same type and shape as the input; float only unless ints_too. */
static qc_status unary_infer_typed(const qc_node *n, const qc_value *const *in, qc_value *out,
                                   bool ints_too, qc_error *err)
{
    qc_status s = qc_node_need_inputs(n, in, 1, err);
    if (s != QC_OK)
        return s;
    qc_f32_elem e;
    bool ok = ints_too ? qc_elem_of(in[0]->dtype, &e) && e != QC_F32_ELEM_UINT8
                       : in[0]->dtype == QC_FLOAT;
    if (!ok)
        return qc_node_fail(err, n, "%s input is not supported", qc_dtype_name(in[0]->dtype));
    copy_shape(&out[0], in[0]);
    return QC_OK;
}

static qc_status float_unary_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                                   qc_error *err)
{
    return unary_infer_typed(n, in, out, false, err);
}

/* Relu is defined for signed integer types too (opset 14). */
static qc_status relu_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                            qc_error *err)
{
    return unary_infer_typed(n, in, out, true, err);
}

static qc_status relu_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                          qc_error *err)
{
    (void)x, (void)n, (void)err;
    qc_f32_elem e;
    int64_t count = qc_value_count(in[0]);
    if (!qc_elem_of(in[0]->dtype, &e) || e == QC_F32_ELEM_FLOAT)
        qc_f32_relu(count, in[0]->data, out[0].data);
    else
        qc_f32_clip_int(e, count, 0, INT64_MAX, in[0]->data, out[0].data);
    return QC_OK;
}

static qc_status sigmoid_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                             qc_value *out, qc_error *err)
{
    (void)x, (void)n, (void)err;
    qc_f32_sigmoid(qc_value_count(in[0]), in[0]->data, out[0].data);
    return QC_OK;
}

typedef struct {
    float alpha;
} leaky_state;

static qc_status leaky_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    leaky_state st = {0};
    qc_status s = qc_node_check_arity(n, 1, 1, 1, err);
    if (s == QC_OK)
        s = qc_node_float(n, "alpha", 0.01f, &st.alpha, err);
    if (s != QC_OK)
        return s;
    return qc_node_keep_state(n, &st, sizeof st, err);
}

static qc_status leaky_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                           qc_error *err)
{
    (void)x, (void)err;
    const leaky_state *st = n->state;
    qc_f32_leaky_relu(qc_value_count(in[0]), st->alpha, in[0]->data, out[0].data);
    return QC_OK;
}

/* ---- Clip -------------------------------------------------------------------------------- */

typedef struct {
    bool from_attrs; /* before opset 11, min and max are attributes; then optional inputs */
    float min, max;
} clip_state;

static qc_status clip_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    clip_state st = {.from_attrs = g->opset < 11};
    qc_status s = qc_node_check_arity(n, 1, st.from_attrs ? 1 : 3, 1, err);
    if (s == QC_OK && st.from_attrs)
        s = qc_node_float(n, "min", -FLT_MAX, &st.min, err);
    if (s == QC_OK && st.from_attrs)
        s = qc_node_float(n, "max", FLT_MAX, &st.max, err);
    if (s != QC_OK)
        return s;
    return qc_node_keep_state(n, &st, sizeof st, err);
}

static qc_status clip_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                            qc_error *err)
{
    qc_status s = qc_node_need_inputs(n, in, 1, err);
    if (s != QC_OK)
        return s;
    qc_f32_elem e;
    if (!qc_elem_of(in[0]->dtype, &e))
        return qc_node_fail(err, n, "%s input is not supported", qc_dtype_name(in[0]->dtype));
    for (int k = 1; k < n->n_inputs && k < 3; k++) {
        const qc_value *bound = in[k];
        if (!bound)
            continue;
        if (bound->dtype != in[0]->dtype)
            return qc_node_fail(err, n, "%s is %s but the input is %s", k == 1 ? "min" : "max",
                             qc_dtype_name(bound->dtype), qc_dtype_name(in[0]->dtype));
        if (qc_value_count(bound) != 1)
            return qc_node_fail(err, n, "%s must be a scalar", k == 1 ? "min" : "max");
    }
    copy_shape(&out[0], in[0]);
    return QC_OK;
}

/* An integer bound read in its own type (int64 bounds would lose bits through a double). */
static int64_t int_bound(const qc_value *v)
{
    return v->dtype == QC_INT64 ? *(const int64_t *)v->data : (int64_t)qc_read_scalar(v, 0);
}

static qc_status clip_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                          qc_error *err)
{
    (void)x, (void)err;
    const clip_state *st = n->state;
    const qc_value *lo = n->n_inputs > 1 ? in[1] : NULL;
    const qc_value *hi = n->n_inputs > 2 ? in[2] : NULL;
    int64_t count = qc_value_count(in[0]);
    qc_f32_elem e;
    qc_elem_of(in[0]->dtype, &e);
    if (e == QC_F32_ELEM_FLOAT) {
        float fl = st->from_attrs ? st->min : lo ? *(const float *)lo->data : -INFINITY;
        float fh = st->from_attrs ? st->max : hi ? *(const float *)hi->data : INFINITY;
        qc_f32_clip(count, fl, fh, in[0]->data, out[0].data);
    } else {
        int64_t il = lo ? int_bound(lo) : INT64_MIN, ih = hi ? int_bound(hi) : INT64_MAX;
        if (st->from_attrs) {
            /* Float attributes on an integer input (not valid ONNX before opset 11, but
             * cheap to honour): rounded inward, saturated to int64. */
            il = st->min <= -9.2e18f ? INT64_MIN : (int64_t)ceilf(st->min);
            ih = st->max >= 9.2e18f ? INT64_MAX : (int64_t)floorf(st->max);
        }
        qc_f32_clip_int(e, count, il, ih, in[0]->data, out[0].data);
    }
    return QC_OK;
}

/* ---- MaxPool, AveragePool ---------------------------------------------------------------- */

typedef struct {
    qc_window_attrs win;
    bool column_major;      /* MaxPool storage_order=1: indices in column-major order */
    bool count_include_pad; /* AveragePool */
} pool_state;

static qc_status pool_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    bool is_max = !strcmp(n->op_type, "MaxPool");
    pool_state st = {0};
    int64_t order = 0;
    qc_status s = qc_node_check_arity(n, 1, 1, is_max ? 2 : 1, err);
    if (s == QC_OK)
        s = qc_window_parse(n, &st.win, err);
    if (s == QC_OK && !st.win.has_kernel)
        s = qc_node_fail(err, n, "kernel_shape is required");
    if (s == QC_OK && is_max)
        s = qc_node_int(n, "storage_order", 0, &order, err);
    if (s == QC_OK && order != 0 && order != 1)
        s = qc_node_fail(err, n, "storage_order must be 0 or 1, not %lld", (long long)order);
    if (s == QC_OK && !is_max)
        s = qc_node_flag(n, "count_include_pad", false, &st.count_include_pad, err);
    if (s != QC_OK)
        return s;
    st.column_major = order == 1;
    return qc_node_keep_state(n, &st, sizeof st, err);
}

static qc_status pool_geometry(const qc_node *n, const qc_value *const *in, qc_f32_window *win,
                               qc_error *err)
{
    const pool_state *st = n->state;
    bool is_max = !strcmp(n->op_type, "MaxPool");
    qc_status s = qc_node_need_inputs(n, in, 1, err);
    if (s != QC_OK)
        return s;
    const qc_value *x = in[0];
    qc_dtype t = x->dtype;
    if (t != QC_FLOAT && !(is_max && (t == QC_UINT8 || t == QC_INT8)))
        return qc_node_fail(err, n, "%s input is not supported (float32%s)", qc_dtype_name(t),
                         is_max ? ", uint8 and int8 are" : " is");
    if (x->rank != st->win.spatial + 2)
        return qc_node_fail(err, n, "input X has rank %d but kernel_shape has %d values", x->rank,
                         st->win.spatial);
    return qc_window_geometry(n, &st->win, x, st->win.kernel, win, err);
}

static qc_status pool_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                            qc_error *err)
{
    qc_f32_window win;
    qc_status s = pool_geometry(n, in, &win, err);
    if (s != QC_OK)
        return s;
    copy_shape(&out[0], in[0]);
    for (int i = 0; i < win.spatial; i++)
        out[0].dims[2 + i] = win.out[i];
    if (n->n_outputs > 1) {
        copy_shape(&out[1], &out[0]);
        out[1].dtype = QC_INT64;
    }
    return QC_OK;
}

/* 8-bit MaxPool on the int8 kernel (exact: max commutes with dequantization). int8 runs as
 * uint8 through x XOR 0x80 = x + 128, an increasing map, and back. */
static qc_status maxpool_8bit(qc_exec *x, const qc_node *n, const qc_f32_window *win,
                              int64_t planes, const qc_value *in, qc_value *out, qc_error *err)
{
    int h = win->spatial == 2 ? 0 : -1, w = win->spatial - 1;
    qc_pool2d p = {
        .in_h = h < 0 ? 1 : (size_t)win->in[h], .in_w = (size_t)win->in[w],
        .out_h = h < 0 ? 1 : (size_t)win->out[h], .out_w = (size_t)win->out[w],
        .kernel_h = h < 0 ? 1 : (size_t)win->kernel[h], .kernel_w = (size_t)win->kernel[w],
        .stride_h = h < 0 ? 1 : (size_t)win->stride[h], .stride_w = (size_t)win->stride[w],
        .dilation_h = h < 0 ? 1 : (size_t)win->dilation[h], .dilation_w = (size_t)win->dilation[w],
        .pad_top = h < 0 ? 0 : (size_t)win->pad_begin[h], .pad_left = (size_t)win->pad_begin[w],
    };
    const uint8_t *src = in->data;
    size_t count = (size_t)qc_value_count(in), out_count = (size_t)qc_value_count(out);
    if (in->dtype == QC_INT8) {
        uint8_t *t = qc_exec_scratch(x, count ? count : 1);
        if (!t)
            return qc_fail(err, QC_ERR_IO, "out of memory running node '%s'", n->name);
        for (size_t i = 0; i < count; i++)
            t[i] = src[i] ^ 0x80;
        src = t;
    }
    if (in->layout == QC_LAYOUT_CHANNELS_LAST) /* layout.c gives out the same layout */
        qc_split_maxpool_cl_u8(x, (size_t)in->dims[0], (size_t)in->dims[1], &p, src, out->data);
    else
        qc_split_maxpool_u8(x, (size_t)planes, &p, src, out->data);
    if (in->dtype == QC_INT8)
        for (size_t i = 0; i < out_count; i++)
            ((uint8_t *)out->data)[i] ^= 0x80;
    return QC_OK;
}

static qc_status pool_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                          qc_error *err)
{
    const pool_state *st = n->state;
    qc_f32_window win;
    qc_status s = pool_geometry(n, in, &win, err);
    if (s != QC_OK)
        return s;
    int64_t planes = in[0]->dims[0] * in[0]->dims[1];
    bool is_max = !strcmp(n->op_type, "MaxPool");
    if (is_max && (in[0]->dtype == QC_UINT8 || in[0]->dtype == QC_INT8) && win.spatial <= 2 &&
        n->n_outputs == 1)
        return maxpool_8bit(x, n, &win, planes, in[0], &out[0], err);
    if (is_max) {
        qc_f32_elem e;
        qc_elem_of(in[0]->dtype, &e);
        int64_t *indices = n->n_outputs > 1 ? out[1].data : NULL;
        qc_f32_maxpool(e, &win, planes, in[0]->data, out[0].data, indices, st->column_major);
    } else {
        qc_f32_avgpool(&win, planes, st->count_include_pad, in[0]->data, out[0].data);
    }
    return QC_OK;
}

/* ---- GlobalAveragePool, GlobalMaxPool ---------------------------------------------------- */

static qc_status global_pool_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                                   qc_error *err)
{
    qc_status s = qc_node_need_inputs(n, in, 1, err);
    if (s == QC_OK)
        s = need_float(n, in[0], 0, err);
    if (s != QC_OK)
        return s;
    if (in[0]->rank < 3)
        return qc_node_fail(err, n, "input X has rank %d; N x C x spatial dimensions expected",
                         in[0]->rank);
    copy_shape(&out[0], in[0]);
    for (int d = 2; d < in[0]->rank; d++)
        out[0].dims[d] = 1;
    return QC_OK;
}

static qc_status global_pool_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                                 qc_value *out, qc_error *err)
{
    (void)x, (void)err;
    const qc_value *v = in[0];
    int64_t planes = v->dims[0] * v->dims[1], plane = product(v->dims, 2, v->rank);
    if (!strcmp(n->op_type, "GlobalMaxPool"))
        qc_f32_global_maxpool(planes, plane, v->data, out[0].data);
    else
        qc_f32_global_avgpool(planes, plane, v->data, out[0].data);
    return QC_OK;
}

/* ---- BatchNormalization ------------------------------------------------------------------ */

typedef struct {
    float epsilon;
} batchnorm_state;

static qc_status batchnorm_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    batchnorm_state st = {0};
    int64_t training, spatial;
    int outputs = 0;
    for (int k = 0; k < n->n_outputs; k++)
        outputs += n->outputs[k] >= 0;
    qc_status s = qc_node_check_arity(n, 5, 5, 5, err);
    if (s == QC_OK)
        s = qc_node_int(n, "training_mode", 0, &training, err);
    if (s == QC_OK && training != 0)
        s = qc_node_fail(err, n, "training_mode=1 is not supported (qcal runs inference only)");
    /* The extra outputs (running or saved mean and variance) only exist in training. */
    if (s == QC_OK && outputs > 1)
        s = qc_node_fail(err, n, "%d outputs are not supported: only the inference form, with the single output Y",
                      outputs);
    if (s == QC_OK)
        s = qc_node_int(n, "spatial", 1, &spatial, err);
    if (s == QC_OK && spatial != 1)
        s = qc_node_fail(err, n, "spatial=0 (per-activation statistics) is not supported");
    if (s == QC_OK)
        s = qc_node_float(n, "epsilon", 1e-5f, &st.epsilon, err);
    if (s != QC_OK)
        return s;
    return qc_node_keep_state(n, &st, sizeof st, err);
}

static qc_status batchnorm_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                                 qc_error *err)
{
    static const char *const names[] = {"X", "scale", "B", "mean", "var"};
    qc_status s = qc_node_need_inputs(n, in, 5, err);
    for (int k = 0; s == QC_OK && k < 5; k++)
        s = need_float(n, in[k], k, err);
    if (s != QC_OK)
        return s;
    if (in[0]->rank < 2)
        return qc_node_fail(err, n, "input X has rank %d; N x C x ... expected", in[0]->rank);
    int64_t channels = in[0]->dims[1];
    for (int k = 1; k < 5; k++)
        if (in[k]->rank != 1 || in[k]->dims[0] != channels)
            return qc_node_fail(err, n, "%s must have %lld values (one per channel)", names[k],
                             (long long)channels);
    copy_shape(&out[0], in[0]);
    for (int k = 1; k < n->n_outputs; k++)
        copy_shape(&out[k], in[1]);
    return QC_OK;
}

static qc_status batchnorm_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                               qc_value *out, qc_error *err)
{
    (void)x, (void)err;
    const batchnorm_state *st = n->state;
    const qc_value *v = in[0];
    qc_f32_batchnorm(v->dims[0], v->dims[1], product(v->dims, 2, v->rank), v->data, in[1]->data,
                     in[2]->data, in[3]->data, in[4]->data, st->epsilon, out[0].data);
    return QC_OK;
}

/* ---- Softmax, LogSoftmax, Hardmax ----------------------------------------------------------------------------- */

typedef struct {
    int64_t axis;
    bool coerce_2d; /* opset < 13: over the flattened dimensions from axis on */
} softmax_state;

static qc_status softmax_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    softmax_state st = {.coerce_2d = g->opset < 13};
    qc_status s = qc_node_check_arity(n, 1, 1, 1, err);
    if (s == QC_OK)
        s = qc_node_int(n, "axis", st.coerce_2d ? 1 : -1, &st.axis, err);
    if (s != QC_OK)
        return s;
    return qc_node_keep_state(n, &st, sizeof st, err);
}

static qc_status softmax_axis(const qc_node *n, const qc_value *v, int *axis, qc_error *err)
{
    const softmax_state *st = n->state;
    if (!qc_axis(st->axis, v->rank, axis))
        return qc_node_fail(err, n, "axis %lld is out of range for an input of rank %d",
                         (long long)st->axis, v->rank);
    return QC_OK;
}

static qc_status softmax_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                               qc_error *err)
{
    int axis;
    qc_status s = qc_node_need_inputs(n, in, 1, err);
    if (s == QC_OK)
        s = need_float(n, in[0], 0, err);
    if (s == QC_OK)
        s = softmax_axis(n, in[0], &axis, err);
    if (s == QC_OK)
        copy_shape(&out[0], in[0]);
    return s;
}

static qc_status softmax_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                             qc_value *out, qc_error *err)
{
    (void)x;
    const softmax_state *st = n->state;
    const qc_value *v = in[0];
    int axis;
    qc_status s = softmax_axis(n, v, &axis, err);
    if (s != QC_OK)
        return s;
    void (*kernel)(int64_t, int64_t, int64_t, const float *, float *) =
        !strcmp(n->op_type, "LogSoftmax") ? qc_f32_log_softmax
        : !strcmp(n->op_type, "Hardmax") ? qc_f32_hardmax
                                          : qc_f32_softmax;
    int64_t outer = product(v->dims, 0, axis);
    if (st->coerce_2d)
        kernel(outer, product(v->dims, axis, v->rank), 1, v->data, out[0].data);
    else
        kernel(outer, v->dims[axis], product(v->dims, axis + 1, v->rank), v->data, out[0].data);
    return QC_OK;
}

/* ---- the table --------------------------------------------------------------------------- */

const qc_op qc_ops_fp32[] = {
    {"Conv", "", conv_check, conv_infer, conv_run, conv_release},
    {"Gemm", "", gemm_check, gemm_infer, gemm_run, qc_node_release_state},
    {"MatMul", "", matmul_check, matmul_infer, matmul_run, NULL},
    {"Add", "", binary_check, binary_infer, binary_run, qc_node_release_state},
    {"Sub", "", binary_check, binary_infer, binary_run, qc_node_release_state},
    {"Mul", "", binary_check, binary_infer, binary_run, qc_node_release_state},
    {"Div", "", binary_check, binary_infer, binary_run, qc_node_release_state},
    {"Relu", "", unary_check, relu_infer, relu_run, NULL},
    {"LeakyRelu", "", leaky_check, float_unary_infer, leaky_run, qc_node_release_state},
    {"Sigmoid", "", unary_check, float_unary_infer, sigmoid_run, NULL},
    {"Clip", "", clip_check, clip_infer, clip_run, qc_node_release_state},
    {"MaxPool", "", pool_check, pool_infer, pool_run, qc_node_release_state},
    {"AveragePool", "", pool_check, pool_infer, pool_run, qc_node_release_state},
    {"GlobalAveragePool", "", unary_check, global_pool_infer, global_pool_run, NULL},
    {"GlobalMaxPool", "", unary_check, global_pool_infer, global_pool_run, NULL},
    {"BatchNormalization", "", batchnorm_check, batchnorm_infer, batchnorm_run, qc_node_release_state},
    {"Softmax", "", softmax_check, softmax_infer, softmax_run, qc_node_release_state},
    {"LogSoftmax", "", softmax_check, softmax_infer, softmax_run, qc_node_release_state},
    {"Hardmax", "", softmax_check, softmax_infer, softmax_run, qc_node_release_state},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
