/* ops-int8.c — the integer ops: ONNX's QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
 * QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger, and ONNX Runtime's com.microsoft
 * QLinearAdd, QLinearGlobalAveragePool, QLinearConcat, QLinearAveragePool, QGemm,
 * QLinearMul, QLinearSigmoid and QLinearLeakyRelu, run on
 * kernels/int8 (docs/quantization.md, section 7). The "qcal" domain holds the same ops with
 * a fused activation clamp, and the activations by table ONNX Runtime has no op for
 * (QLinearHardSwish, QLinearHardSigmoid, QLinearTanh), written by qc_pass_fuse_qdq. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph-impl.h"
#include "kernels/kernels.h"

/* ---- messages, arity, attributes --------------------------------------------------------- */

/* Input k, or NULL when omitted or beyond the node's inputs. */
static const qc_value *input(const qc_node *n, const qc_value *const *in, int k)
{
    return k >= 0 && k < n->n_inputs ? in[k] : NULL;
}

static qc_status need(const qc_node *n, const qc_value *const *in, int k, const char *what,
                      qc_error *err)
{
    if (!input(n, in, k))
        return qc_node_fail(err, n, "input %d (%s) is required", k, what);
    return QC_OK;
}

static int64_t product(const int64_t *dims, int from, int to)
{
    int64_t p = 1;
    for (int d = from; d < to; d++)
        p *= dims[d];
    return p;
}

static bool is_8bit(qc_dtype t)
{
    return t == QC_UINT8 || t == QC_INT8;
}

static void release_state(qc_node *n)
{
    free(n->state);
    n->state = NULL;
}

/* Scratch carved into 64-byte-aligned pieces: one qc_exec_scratch call per run. */
typedef struct {
    uint8_t *base;
    size_t used;
} carver;

static size_t round64(size_t b)
{
    return (b + 63) & ~(size_t)63;
}

static void *carve(carver *c, size_t bytes)
{
    void *p = c->base + c->used;
    c->used += round64(bytes);
    return p;
}

/* ---- quantization parameters ------------------------------------------------------------- */

/* A scale input: positive finite floats, one or `want` values (want 0: any count). */
static qc_status read_scales(const qc_node *n, const qc_value *v, const char *what, int64_t want,
                             qc_error *err)
{
    if (v->dtype != QC_FLOAT)
        return qc_node_fail(err, n, "%s is %s; float32 expected", what, qc_dtype_name(v->dtype));
    if (v->rank > 1)
        return qc_node_fail(err, n, "%s has rank %d; a scalar or a 1-d tensor expected", what, v->rank);
    int64_t count = qc_value_count(v);
    if (want && count != 1 && count != want)
        return qc_node_fail(err, n, "%s has %lld values; 1 or %lld expected", what, (long long)count,
                         (long long)want);
    if (!v->data)
        return QC_OK;
    for (int64_t i = 0; i < count; i++) {
        float s = ((const float *)v->data)[i];
        if (!(s > 0.0f) || !isfinite(s))
            return qc_node_fail(err, n, "%s[%lld] is %g; scales must be positive and finite", what,
                             (long long)i, s);
    }
    return QC_OK;
}

static float scale_at(const qc_value *v, int64_t i)
{
    return ((const float *)v->data)[qc_value_count(v) == 1 ? 0 : i];
}

/* A zero point, or 0 when the input is omitted. */
static int32_t zp_at(const qc_value *v, int64_t i)
{
    if (!v)
        return 0;
    return (int32_t)qc_read_scalar(v, qc_value_count(v) == 1 ? 0 : i);
}

static qc_status check_zp(const qc_node *n, const qc_value *zp, const char *what, int64_t want,
                          qc_error *err)
{
    if (!zp)
        return QC_OK;
    if (!is_8bit(zp->dtype) && zp->dtype != QC_INT32)
        return qc_node_fail(err, n, "%s is %s; uint8, int8 or int32 expected", what,
                         qc_dtype_name(zp->dtype));
    int64_t count = qc_value_count(zp);
    if (zp->rank > 1 || (want && count != 1 && count != want) || (!want && count != 1))
        return qc_node_fail(err, n, "%s has %lld values; 1%s expected", what, (long long)count,
                         want ? " or one per channel" : "");
    return QC_OK;
}

static void type_range(qc_dtype t, int32_t *lo, int32_t *hi)
{
    *lo = t == QC_INT8 ? -128 : 0;
    *hi = t == QC_INT8 ? 127 : 255;
}

/* M (> 0) as the fields of qc_requant (docs/quantization.md, R0). M below 2^−32 maps every
 * int32 accumulator to 0 (|acc · M| < 1/2), as the substitute multiplier 2^30 and shift 62
 * also do, so it is no error here. */
static qc_status real_multiplier(const qc_node *n, double m, int32_t *multiplier, int32_t *shift,
                                 qc_error *err)
{
    switch (qc_requant_multiplier(m, multiplier, shift)) {
    case QC_MULTIPLIER_NOT_POSITIVE:
        return qc_node_fail(err, n, "requantization multiplier %g is not a positive number", m);
    case QC_MULTIPLIER_TOO_LARGE:
        return qc_node_fail(err, n,
                            "requantization multiplier %g is too large (it must be below 2^30)", m);
    default:
        return QC_OK;
    }
}

/* Optional clamp in output codes written by the QDQ fusion (a fused Relu or Clip). */
typedef struct {
    int32_t act_min, act_max;
} act_clamp;

static qc_status parse_clamp(const qc_node *n, act_clamp *c, qc_error *err)
{
    const qc_attr *lo = qc_node_attr(n, "activation_min"), *hi = qc_node_attr(n, "activation_max");
    c->act_min = INT32_MIN;
    c->act_max = INT32_MAX;
    if ((lo && lo->type != QC_ATTR_INT) || (hi && hi->type != QC_ATTR_INT))
        return qc_node_fail(err, n, "activation_min and activation_max must be ints");
    if (lo)
        c->act_min = (int32_t)(lo->i < INT32_MIN ? INT32_MIN : lo->i > INT32_MAX ? INT32_MAX : lo->i);
    if (hi)
        c->act_max = (int32_t)(hi->i < INT32_MIN ? INT32_MIN : hi->i > INT32_MAX ? INT32_MAX : hi->i);
    return QC_OK;
}

static void clamp_range(const act_clamp *c, qc_dtype t, int32_t *qmin, int32_t *qmax)
{
    type_range(t, qmin, qmax);
    if (c->act_min > *qmin)
        *qmin = c->act_min < *qmax ? c->act_min : *qmax;
    if (c->act_max < *qmax)
        *qmax = c->act_max > *qmin ? c->act_max : *qmin;
}

/* int8 activations run as uint8: a + 128 = a XOR 0x80, with the zero point moved by 128. */
static void s8_to_u8(size_t count, const void *src, uint8_t *dst)
{
    const uint8_t *s = src;
    for (size_t i = 0; i < count; i++)
        dst[i] = s[i] ^ 0x80;
}

/* Eq. R1' (docs/quantization.md): the int32 accumulators are exact, and adding the bias in
 * int32 does not wrap, only while every possible |Σ_k (x − z_x)(w − z_w) + bias| fits int32.
 * With x in 0..255 (int8 activations are mapped first), |x − z_x| ≤ max(z_x, 255 − z_x), so
 * wabs[c] · that + |bias[c]| bounds channel c for every input; wabs[c] = Σ_k |w − z_w| comes
 * from the weights. Otherwise the op refuses the node instead of wrapping silently. */
static qc_status check_acc_bound(const qc_node *n, int64_t channels, const int64_t *wabs,
                                 int32_t zx_u8, const int32_t *bias, int64_t k, qc_error *err)
{
    const int64_t amax = zx_u8 > 255 - zx_u8 ? zx_u8 : 255 - zx_u8;
    for (int64_t c = 0; c < channels; c++) {
        const int64_t b = bias ? bias[c] : 0;
        const int64_t bound = wabs[c] * amax + (b < 0 ? -b : b);
        if (bound > INT32_MAX)
            return qc_node_fail(err, n,
                                "output channel %lld: accumulators of K = %lld products reach "
                                "%lld in magnitude, which with the bias %lld overflows int32",
                                (long long)c, (long long)k, (long long)(wabs[c] * amax),
                                (long long)b);
    }
    return QC_OK;
}

/* ---- QuantizeLinear, DequantizeLinear ---------------------------------------------------- */

typedef struct {
    int64_t axis;
    qc_dtype out_type; /* QuantizeLinear: output_dtype attribute, QC_UNDEFINED when absent */
} qdq_state;

static qc_status qdq_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    qdq_state st = {1, QC_UNDEFINED};
    qc_status s = qc_node_check_arity(n, 2, 3, 1, err);
    if (s != QC_OK)
        return s;
    st.axis = qc_node_attr_int(n, "axis", 1);
    if (qc_node_attr_int(n, "block_size", 0) != 0)
        return qc_node_fail(err, n, "blocked quantization (block_size) is not supported");
    int64_t od = qc_node_attr_int(n, "output_dtype", 0);
    if (od && od != QC_UINT8 && od != QC_INT8)
        return qc_node_fail(err, n, "output_dtype %lld is not supported (uint8 and int8 are)",
                         (long long)od);
    st.out_type = (qc_dtype)od;
    qdq_state *p = malloc(sizeof *p);
    if (!p)
        return qc_fail(err, QC_ERR_IO, "out of memory checking node '%s'", n->name);
    *p = st;
    n->state = p;
    return QC_OK;
}

/* outer × channels × inner of x for a scale of `count` values along the axis. */
static qc_status qdq_layout(const qc_node *n, const qc_value *x, const qc_value *scale,
                            const qc_value *zp, size_t *outer, size_t *channels, size_t *inner,
                            qc_error *err)
{
    const qdq_state *st = n->state;
    int64_t count = qc_value_count(scale);
    *outer = 1;
    *channels = 1;
    *inner = (size_t)qc_value_count(x);
    qc_status s = read_scales(n, scale, "the scale", 0, err);
    if (s != QC_OK)
        return s;
    if (scale->rank == 1 && count > 1) {
        int axis;
        if (!qc_axis(st->axis, x->rank, &axis))
            return qc_node_fail(err, n, "axis %lld is out of range for rank %d", (long long)st->axis,
                             x->rank);
        if (x->dims[axis] != count)
            return qc_node_fail(err, n, "%lld scales for an axis of %lld", (long long)count,
                             (long long)x->dims[axis]);
        *outer = (size_t)product(x->dims, 0, axis);
        *channels = (size_t)count;
        *inner = (size_t)product(x->dims, axis + 1, x->rank);
    }
    if (zp && qc_value_count(zp) != count)
        return qc_node_fail(err, n, "the zero point has %lld values and the scale %lld",
                         (long long)qc_value_count(zp), (long long)count);
    return check_zp(n, zp, "the zero point", count, err);
}

static qc_status quantize_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                                qc_error *err)
{
    const qdq_state *st = n->state;
    const qc_value *x = in[0], *zp = input(n, in, 2);
    if (x->dtype != QC_FLOAT)
        return qc_node_fail(err, n, "input x is %s; float32 expected", qc_dtype_name(x->dtype));
    size_t o, c, i;
    qc_status s = qdq_layout(n, x, in[1], zp, &o, &c, &i, err);
    if (s != QC_OK)
        return s;
    qc_dtype t = zp ? zp->dtype : st->out_type ? st->out_type : QC_UINT8;
    if (!is_8bit(t))
        return qc_node_fail(err, n, "output type %s is not supported (uint8 and int8 are)",
                         qc_dtype_name(t));
    out[0] = *x;
    out[0].data = NULL;
    out[0].dtype = t;
    return QC_OK;
}

/* What QuantizeLinear and DequantizeLinear share at run time: the [outer][channels][inner]
 * view and the zero points as int32, one per channel, in scratch memory. */
static qc_status qdq_run_layout(qc_exec *x, const qc_node *n, const qc_value *const *in,
                                size_t *outer, size_t *channels, size_t *inner, int32_t **z,
                                qc_error *err)
{
    const qc_value *zp = input(n, in, 2);
    qc_status s = qdq_layout(n, in[0], in[1], zp, outer, channels, inner, err);
    if (s != QC_OK)
        return s;
    if (!(*z = qc_exec_scratch(x, *channels * sizeof **z)))
        return qc_fail(err, QC_ERR_IO, "out of memory running node '%s'", n->name);
    for (size_t c = 0; c < *channels; c++)
        (*z)[c] = zp_at(zp, (int64_t)c);
    return QC_OK;
}

static qc_status quantize_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                              qc_value *out, qc_error *err)
{
    size_t outer, channels, inner;
    int32_t *z;
    qc_status s = qdq_run_layout(x, n, in, &outer, &channels, &inner, &z, err);
    if (s != QC_OK)
        return s;
    qc_quant q = {in[1]->data, z, 0, 0};
    type_range(out[0].dtype, &q.qmin, &q.qmax);
    qc_split_quantize(x, out[0].dtype == QC_UINT8, outer, channels, inner, in[0]->data, &q,
                      out[0].data);
    return QC_OK;
}

static qc_status dequantize_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                                  qc_error *err)
{
    const qc_value *x = in[0], *zp = input(n, in, 2);
    if (!is_8bit(x->dtype) && x->dtype != QC_INT32)
        return qc_node_fail(err, n, "input x is %s; uint8, int8 or int32 expected",
                         qc_dtype_name(x->dtype));
    if (zp && zp->dtype != x->dtype)
        return qc_node_fail(err, n, "the zero point is %s but x is %s", qc_dtype_name(zp->dtype),
                         qc_dtype_name(x->dtype));
    size_t o, c, i;
    qc_status s = qdq_layout(n, x, in[1], zp, &o, &c, &i, err);
    if (s != QC_OK)
        return s;
    out[0] = *x;
    out[0].data = NULL;
    out[0].dtype = QC_FLOAT;
    return QC_OK;
}

static qc_status dequantize_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                                qc_value *out, qc_error *err)
{
    size_t outer, channels, inner;
    int32_t *z;
    qc_status s = qdq_run_layout(x, n, in, &outer, &channels, &inner, &z, err);
    if (s != QC_OK)
        return s;
    const float *scale = in[1]->data;
    switch (in[0]->dtype) {
    case QC_UINT8: qc_dequantize_u8(outer, channels, inner, in[0]->data, scale, z, out[0].data); break;
    case QC_INT8: qc_dequantize_s8(outer, channels, inner, in[0]->data, scale, z, out[0].data); break;
    default: qc_dequantize_s32(outer, channels, inner, in[0]->data, scale, z, out[0].data); break;
    }
    return QC_OK;
}

/* ---- DynamicQuantizeLinear --------------------------------------------------------------- */

static qc_status dynq_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    return qc_node_check_arity(n, 1, 1, 3, err);
}

static qc_status dynq_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                            qc_error *err)
{
    if (in[0]->dtype != QC_FLOAT)
        return qc_node_fail(err, n, "input x is %s; float32 expected", qc_dtype_name(in[0]->dtype));
    out[0] = *in[0];
    out[0].data = NULL;
    out[0].dtype = QC_UINT8;
    out[1] = (qc_value){.dtype = QC_FLOAT, .rank = 0};
    out[2] = (qc_value){.dtype = QC_UINT8, .rank = 0};
    return QC_OK;
}

/* ONNX's definition, in single precision as its reference: the range widened to include 0,
 * scale = (max − min) / 255, zero point = saturate(rint(0 − min / scale)), then
 * QuantizeLinear. An all-zero (or empty) x has range 0, where the formula would divide 0 by 0:
 * ONNX's reference implementation and ONNX Runtime take the range as 1 (scale 1/255, zero
 * point 0, every output 0), and so does qcal. */
static qc_status dynq_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                          qc_error *err)
{
    (void)x, (void)n, (void)err;
    const float *v = in[0]->data;
    int64_t count = qc_value_count(in[0]);
    float lo = 0.0f, hi = 0.0f;
    for (int64_t i = 0; i < count; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    volatile float range = hi == lo ? 1.0f : hi - lo; /* single precision whatever the FPU */
    float scale = range / 255.0f;
    float z = 0.0f - lo / scale;
    z = z < 0.0f ? 0.0f : z > 255.0f ? 255.0f : z;
    int32_t zp = (int32_t)rintf(z);
    if (out[1].data)
        *(float *)out[1].data = scale;
    if (out[2].data)
        *(uint8_t *)out[2].data = (uint8_t)zp;
    qc_quant q = {&scale, &zp, 0, 255};
    qc_quantize_u8(1, 1, (size_t)count, v, &q, out[0].data);
    return QC_OK;
}

/* A 1-d or 2-d window as the int8 kernels' 2-d geometry (1-d: height 1). */
static void to_pool2d(const qc_f32_window *w, qc_pool2d *p)
{
    int h = w->spatial == 2 ? 0 : -1, v = w->spatial - 1;
    p->in_h = h < 0 ? 1 : (size_t)w->in[h];
    p->out_h = h < 0 ? 1 : (size_t)w->out[h];
    p->kernel_h = h < 0 ? 1 : (size_t)w->kernel[h];
    p->stride_h = h < 0 ? 1 : (size_t)w->stride[h];
    p->dilation_h = h < 0 ? 1 : (size_t)w->dilation[h];
    p->pad_top = h < 0 ? 0 : (size_t)w->pad_begin[h];
    p->in_w = (size_t)w->in[v];
    p->out_w = (size_t)w->out[v];
    p->kernel_w = (size_t)w->kernel[v];
    p->stride_w = (size_t)w->stride[v];
    p->dilation_w = (size_t)w->dilation[v];
    p->pad_left = (size_t)w->pad_begin[v];
}

/* ---- QLinearConv, ConvInteger ------------------------------------------------------------ */

/* Input positions of the conv family; -1 when the op has no such input. */
typedef struct {
    int x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias;
} conv_inputs;

static const conv_inputs qlinear_conv_inputs = {0, 1, 2, 3, 4, 5, 6, 7, 8};
static const conv_inputs conv_integer_inputs = {0, -1, 2, 1, -1, 3, -1, -1, -1};

/* Weights ready for the kernels: int8 (uint8 ones shifted by −128 with their zero point),
 * packed per group for qc_q8gemm, or kept whole for the depthwise kernel. */
typedef struct {
    int8_t *w;          /* M × K */
    int32_t *zw;        /* M zero points */
    int8_t *zw8;        /* the same as int8, for qc_q8gemm_pack */
    uint8_t *packed;    /* groups × group_bytes; NULL for the depthwise path */
    int8_t *w_tc;       /* depthwise: the weights [taps][C], for the channels-last kernel */
    qc_dwconv_weights dw; /* depthwise: w_tc prepared for qc_dwconv_nhwc_u8s8 */
    int64_t *wabs;      /* M sums Σ_k |w − z_w| (the accumulator bound of check_acc_bound) */
    size_t group_bytes;
} conv_weights;

typedef struct {
    qc_window_attrs win;
    int64_t group;
    act_clamp clamp;
    bool is_qlinear;
    bool has_weights;   /* W and its zero point were constants: weights below are ready */
    conv_weights weights;
    void *owned;        /* the one allocation behind weights */
    int32_t *multipliers; /* owned, or NULL: M multipliers then M shifts (constant scales) */
} conv_state;

typedef struct {
    qc_f32_window win;
    qc_pool2d p;
    int64_t batch, channels, maps, groups, cg, mg, k, pixels;
    bool depthwise, pointwise;
    qc_dtype x_type, w_type, y_type;
} conv_geom;

static int32_t *constant_multipliers(const qc_graph *g, const qc_node *n, int xs, int ws, int ys,
                                     int64_t channels);

static const conv_inputs *conv_ix(const qc_node *n)
{
    return strcmp(n->op_type, "ConvInteger") ? &qlinear_conv_inputs : &conv_integer_inputs;
}

static qc_status conv_geometry(const qc_node *n, const qc_value *const *in, conv_geom *cg,
                               qc_error *err)
{
    const conv_state *st = n->state;
    const conv_inputs *ix = conv_ix(n);
    qc_status s;
    if ((s = need(n, in, ix->x, "x", err)) != QC_OK || (s = need(n, in, ix->w, "w", err)) != QC_OK)
        return s;
    const qc_value *x = in[ix->x], *w = in[ix->w];
    if (!is_8bit(x->dtype) || !is_8bit(w->dtype))
        return qc_node_fail(err, n, "x is %s and w %s; uint8 or int8 expected",
                         qc_dtype_name(x->dtype), qc_dtype_name(w->dtype));
    if (x->rank < 3 || x->rank > 4 || w->rank != x->rank)
        return qc_node_fail(err, n, "x has rank %d and w rank %d; 1-d and 2-d convolutions are supported",
                         x->rank, w->rank);
    int spatial = x->rank - 2;
    if (st->win.spatial && st->win.spatial != spatial)
        return qc_node_fail(err, n, "the attributes give %d spatial dimensions but x has %d",
                         st->win.spatial, spatial);
    for (int i = 0; st->win.has_kernel && i < spatial; i++)
        if (st->win.kernel[i] != w->dims[2 + i])
            return qc_node_fail(err, n, "kernel_shape does not match the weights");
    memset(cg, 0, sizeof *cg);
    cg->batch = x->dims[0];
    cg->channels = x->dims[1];
    cg->maps = w->dims[0];
    cg->groups = st->group;
    if (w->dims[1] * st->group != cg->channels || cg->maps % st->group)
        return qc_node_fail(err, n, "x has %lld channels and w %lld x %lld: not %lld groups",
                         (long long)cg->channels, (long long)cg->maps, (long long)w->dims[1],
                         (long long)st->group);
    cg->cg = w->dims[1];
    cg->mg = cg->maps / st->group;
    cg->k = product(w->dims, 1, w->rank);
    s = qc_window_geometry(n, &st->win, x, w->dims + 2, &cg->win, err);
    if (s != QC_OK)
        return s;
    to_pool2d(&cg->win, &cg->p);
    cg->pixels = (int64_t)(cg->p.out_h * cg->p.out_w);
    cg->depthwise = cg->cg == 1 && cg->mg == 1 && cg->groups > 1;
    cg->pointwise = cg->p.kernel_h == 1 && cg->p.kernel_w == 1 && cg->p.stride_h == 1 &&
                    cg->p.stride_w == 1 && cg->p.pad_top == 0 && cg->p.pad_left == 0 &&
                    cg->p.out_h == cg->p.in_h && cg->p.out_w == cg->p.in_w;
    cg->x_type = x->dtype;
    cg->w_type = w->dtype;
    const qc_value *wz = ix->w_zp >= 0 ? input(n, in, ix->w_zp) : NULL;
    const qc_value *xz = input(n, in, ix->x_zp);
    if ((s = check_zp(n, xz, "x_zero_point", 1, err)) != QC_OK ||
        (s = check_zp(n, wz, "w_zero_point", cg->maps, err)) != QC_OK)
        return s;
    if ((xz && xz->dtype != x->dtype) || (wz && wz->dtype != w->dtype))
        return qc_node_fail(err, n, "a zero point's type differs from its tensor's");
    if (st->is_qlinear) {
        for (int k = 1; k <= 7; k++)
            if ((s = need(n, in, k, "a scale or zero point", err)) != QC_OK)
                return s;
        if ((s = read_scales(n, in[ix->x_scale], "x_scale", 1, err)) != QC_OK ||
            (s = read_scales(n, in[ix->w_scale], "w_scale", cg->maps, err)) != QC_OK ||
            (s = read_scales(n, in[ix->y_scale], "y_scale", cg->maps, err)) != QC_OK ||
            (s = check_zp(n, in[ix->y_zp], "y_zero_point", 1, err)) != QC_OK)
            return s;
        cg->y_type = in[ix->y_zp]->dtype;
        if (!is_8bit(cg->y_type))
            return qc_node_fail(err, n, "y_zero_point is %s; uint8 or int8 expected",
                             qc_dtype_name(cg->y_type));
        const qc_value *b = input(n, in, ix->bias);
        if (b && (b->dtype != QC_INT32 || b->rank != 1 || b->dims[0] != cg->maps))
            return qc_node_fail(err, n, "bias B must be %lld int32 values", (long long)cg->maps);
    } else {
        cg->y_type = QC_INT32;
    }
    return QC_OK;
}

static size_t weights_bytes(const conv_geom *cg)
{
    size_t m = (size_t)cg->maps, k = (size_t)cg->k;
    size_t b = round64(m * k) + round64(m * sizeof(int32_t)) + round64(m) +
               round64(m * sizeof(int64_t));
    if (!cg->depthwise)
        b += (size_t)cg->groups * round64(qc_q8gemm_packed_size(k, (size_t)cg->mg));
    else
        b += round64(m * k) + round64(qc_dwconv_nhwc_pack_size(m, cg->p.kernel_h, cg->p.kernel_w));
    return b;
}

/* Fills cw (carving from c) from the weights w and their zero point wz (NULL for 0). */
static void prepare_weights(const conv_geom *cg, const qc_value *w, const qc_value *wz, carver *c,
                            conv_weights *cw)
{
    size_t m = (size_t)cg->maps, k = (size_t)cg->k;
    cw->w = carve(c, m * k);
    cw->zw = carve(c, m * sizeof(int32_t));
    cw->zw8 = carve(c, m);
    const int shift = w->dtype == QC_UINT8 ? 128 : 0; /* uint8 weights: w − 128 and z − 128 */
    const uint8_t *src = w->data;
    /* ONNX's [M][C][kh][kw] becomes [M][kh][kw][C], the tap order of qc_im2col_nhwc_u8 (the
     * same for depthwise, where C = 1), and Σ_k |w − z_w| per map is taken on the way (one
     * pass, written in the new order: two passes cost ~24 instructions per weight at load) */
    const size_t cgs = (size_t)cg->cg, taps = k / cgs;
    cw->wabs = carve(c, m * sizeof(int64_t));
    for (size_t mm = 0; mm < m; mm++) {
        const int32_t z = zp_at(wz, (int64_t)mm) - shift;
        cw->zw[mm] = z;
        cw->zw8[mm] = (int8_t)z;
        const uint8_t *row = src + mm * k;
        int8_t *dst = cw->w + mm * k;
        int64_t sum = 0;
        for (size_t t = 0; t < taps; t++) {
            int32_t part = 0; /* ≤ 255 per channel: a tap's channels fit int32 */
            for (size_t ch = 0; ch < cgs; ch++) {
                const int8_t v = (int8_t)(row[ch * taps + t] ^ shift);
                dst[t * cgs + ch] = v;
                part += abs(v - z);
            }
            sum += part;
        }
        cw->wabs[mm] = sum;
    }
    cw->packed = NULL;
    cw->w_tc = NULL;
    if (cg->depthwise) {
        cw->w_tc = carve(c, m * k);
        for (size_t ch = 0; ch < m; ch++)
            for (size_t t = 0; t < k; t++)
                cw->w_tc[t * m + ch] = cw->w[ch * k + t];
        const size_t kh = cg->p.kernel_h, kw = cg->p.kernel_w;
        qc_dwconv_nhwc_pack(m, kh, kw, cw->w_tc, cw->zw,
                            carve(c, qc_dwconv_nhwc_pack_size(m, kh, kw)), &cw->dw);
        return;
    }
    cw->group_bytes = round64(qc_q8gemm_packed_size(k, (size_t)cg->mg));
    cw->packed = carve(c, (size_t)cg->groups * cw->group_bytes);
    for (int64_t g = 0; g < cg->groups; g++) {
        size_t m0 = (size_t)(g * cg->mg);
        /* the weights are [M][K]: B[k][n] = w[n·K + k] */
        qc_q8gemm_pack(k, (size_t)cg->mg, cw->w + m0 * k, 1, k, cw->zw8 + m0,
                       cw->packed + (size_t)g * cw->group_bytes);
    }
}

static qc_status conv_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    bool qlinear = strcmp(n->op_type, "ConvInteger") != 0;
    qc_status s = qlinear ? qc_node_check_arity(n, 8, 9, 1, err) : qc_node_check_arity(n, 2, 4, 1, err);
    conv_state *st = calloc(1, sizeof *st);
    if (!st)
        return qc_fail(err, QC_ERR_IO, "out of memory checking node '%s'", n->name);
    st->is_qlinear = qlinear;
    st->group = qc_node_attr_int(n, "group", 1);
    if (s == QC_OK)
        s = qc_window_parse(n, &st->win, err);
    if (s == QC_OK)
        s = parse_clamp(n, &st->clamp, err);
    if (s == QC_OK && st->group < 1)
        s = qc_node_fail(err, n, "group must be positive");
    if (s != QC_OK) {
        free(st);
        return s;
    }
    free(n->state);
    n->state = st;
    const conv_inputs *ix = conv_ix(n);
    const qc_tensor *wt = &g->tensors[n->inputs[ix->w]];
    if (st->is_qlinear && wt->is_const && wt->value.data && wt->value.rank >= 1)
        st->multipliers = constant_multipliers(g, n, ix->x_scale, ix->w_scale, ix->y_scale,
                                               wt->value.dims[0]);
    /* Constant weights (the usual case) are converted and packed once, here, from their own
     * shape: x's is not known yet when the node comes from the file (QOperator), and
     * infer checks it against the weights' groups and channels. Weights fed at run time
     * are packed at every run. */
    int wzi = ix->w_zp < n->n_inputs ? n->inputs[ix->w_zp] : -1;
    const qc_tensor *wzt = wzi >= 0 ? &g->tensors[wzi] : NULL;
    if (!wt->is_const || !wt->value.data || (wzt && (!wzt->is_const || !wzt->value.data)) ||
        wt->value.rank < 3 || wt->value.rank > 4 || !is_8bit(wt->value.dtype))
        return QC_OK;
    conv_geom cg = {0};
    cg.maps = wt->value.dims[0];
    cg.groups = st->group;
    if (cg.maps % st->group)
        return QC_OK; /* reported with the shapes at infer */
    cg.cg = wt->value.dims[1];
    cg.mg = cg.maps / st->group;
    cg.k = product(wt->value.dims, 1, wt->value.rank);
    cg.depthwise = cg.cg == 1 && cg.mg == 1 && cg.groups > 1;
    /* the window the depthwise packing is for (a 1-d one is one row) */
    cg.p.kernel_h = wt->value.rank == 4 ? (size_t)wt->value.dims[2] : 1;
    cg.p.kernel_w = (size_t)wt->value.dims[wt->value.rank - 1];
    if (wzt && (wzt->value.rank > 1 || (qc_value_count(&wzt->value) != 1 &&
                                        qc_value_count(&wzt->value) != cg.maps)))
        return QC_OK;
    size_t bytes = weights_bytes(&cg);
    st->owned = aligned_alloc(64, round64(bytes));
    if (!st->owned)
        return qc_fail(err, QC_ERR_IO, "out of memory packing the weights of node '%s'", n->name);
    carver c = {st->owned, 0};
    prepare_weights(&cg, &wt->value, wzt ? &wzt->value : NULL, &c, &st->weights);
    st->has_weights = true;
    return QC_OK;
}

static void conv_release(qc_node *n)
{
    conv_state *st = n->state;
    if (st) {
        free(st->owned);
        free(st->multipliers);
    }
    release_state(n);
}

static qc_status conv_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                          qc_error *err);

bool qc_conv_channels_last(const qc_graph *g, const qc_node *n)
{
    const conv_state *st = n->state;
    if (!n->op || n->op->run != conv_run || !st || !st->is_qlinear || !st->has_weights)
        return false;
    const qc_value *w = &g->tensors[n->inputs[conv_ix(n)->w]].value;
    const bool depthwise = w->dims[1] == 1 && w->dims[0] == st->group && st->group > 1;
    return w->rank == 4 && !(depthwise && w->dims[0] < 8);
}

static qc_status conv_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                            qc_error *err)
{
    conv_geom cg;
    qc_status s = conv_geometry(n, in, &cg, err);
    if (s != QC_OK)
        return s;
    const qc_value *x = in[conv_ix(n)->x];
    out[0].dtype = cg.y_type;
    out[0].rank = x->rank;
    out[0].dims[0] = cg.batch;
    out[0].dims[1] = cg.maps;
    for (int i = 0; i < cg.win.spatial; i++)
        out[0].dims[2 + i] = cg.win.out[i];
    return QC_OK;
}

/* Per output channel multipliers and shifts for M = s_x · s_w[c] / s_y[c], computed in double
 * from the float scales. ONNX gives QLinearConv, QLinearMatMul and QGemm one y_scale; qcal
 * also takes one per output channel (its zero point stays one value), which the QDQ fusion
 * writes for an output quantized per channel along axis 1. */
static qc_status channel_multipliers(const qc_node *n, const qc_value *xs, const qc_value *ws,
                                     const qc_value *ys, int64_t channels, int32_t *mult,
                                     int32_t *shift, qc_error *err)
{
    for (int64_t c = 0; c < channels; c++) {
        double m = (double)scale_at(xs, 0) * (double)scale_at(ws, c) / (double)scale_at(ys, c);
        if (qc_requant_multiplier(m, &mult[c], &shift[c]) == QC_MULTIPLIER_TOO_LARGE)
            return qc_node_fail(err, n,
                                "output channel %lld: the requantization multiplier s_x·s_w/s_y "
                                "= %g·%g/%g = %g is too large (it must be below 2^30)",
                                (long long)c, scale_at(xs, 0), scale_at(ws, c), scale_at(ys, c),
                                m);
        qc_status s = real_multiplier(n, m, &mult[c], &shift[c], err);
        if (s != QC_OK)
            return s;
    }
    return QC_OK;
}

/* The multipliers and shifts (2·channels values) of a node whose three scales (inputs xs, ws,
 * ys) are constants, computed once when the graph is prepared. NULL when a scale is fed at
 * run time, is invalid or gives a multiplier the op refuses: the run then computes them, or
 * reports what is wrong, as before. */
static int32_t *constant_multipliers(const qc_graph *g, const qc_node *n, int xs, int ws, int ys,
                                     int64_t channels)
{
    const int at[3] = {xs, ws, ys};
    const int64_t want[3] = {1, channels, channels};
    const qc_value *v[3];
    qc_error ignored;
    if (channels < 1)
        return NULL;
    for (int i = 0; i < 3; i++) {
        if (at[i] < 0 || at[i] >= n->n_inputs || n->inputs[at[i]] < 0)
            return NULL;
        const qc_tensor *t = &g->tensors[n->inputs[at[i]]];
        if (!t->is_const || !t->value.data ||
            read_scales(n, &t->value, "scale", want[i], &ignored) != QC_OK)
            return NULL;
        v[i] = &t->value;
    }
    int32_t *m = malloc(2 * (size_t)channels * sizeof *m);
    if (m && channel_multipliers(n, v[0], v[1], v[2], channels, m, m + channels, &ignored) !=
                 QC_OK) {
        free(m);
        m = NULL;
    }
    return m;
}

/* pixels per GEMM / requantization / transpose tile on one thread: a multiple of qgemm's 6
 * rows and of the transpose's 16; 96 × 512 maps of int32 is 192 KiB, within L2 */
#define CONV_TILE 96

/* pieces of an image per thread: 1 keeps the halo rows each piece transposes again fewest */
#define CONV_PIECES_PER_THREAD 1

static size_t ceil_div(size_t a, size_t b)
{
    return (a + b - 1) / b;
}

/* the size of each of n pieces of total (at least 1, so an empty total is 0 pieces) */
static size_t piece_of(size_t total, size_t n)
{
    return total > n ? ceil_div(total, n) : 1;
}

/* Output rows [r0, r1) of window p as a window of their own over the input rows they read,
 * [*x_row, *x_row + in_h of the result): the padding above shrinks, or the first input row
 * moves down, and the rows below the last one read are left out. */
static qc_pool2d window_rows(const qc_pool2d *p, size_t r0, size_t r1, size_t *x_row)
{
    qc_pool2d s = *p;
    const size_t top = r0 * p->stride_h, skip = top > p->pad_top ? top - p->pad_top : 0;
    const size_t reach = (r1 - 1) * p->stride_h + (p->kernel_h - 1) * p->dilation_h + 1;
    const size_t end = reach > p->pad_top ? reach - p->pad_top : 0;
    s.pad_top = top > p->pad_top ? 0 : p->pad_top - top;
    /* rows all in the padding below read nothing of the input: an empty one will do */
    *x_row = skip < p->in_h ? skip : p->in_h;
    s.in_h = (end < p->in_h ? end : p->in_h) - *x_row;
    if (end <= *x_row)
        s.in_h = 0;
    s.out_h = r1 - r0;
    return s;
}

/* One image of a convolution as pieces of its output pixels, one hand-off to the threads:
 * each piece transposes into channels last the input rows its windows read (unless x is
 * channels last already), runs im2col or the depthwise kernel, then the GEMM and the
 * requantization a tile at a time, written channels last or transposed into NCHW, all in the
 * scratch of the worker running it. Pieces write disjoint bytes of y and
 * integer sums are exact, so the bytes are the same however the pieces are shared out. */
typedef struct {
    const conv_geom *cg;
    const conv_weights *cw;
    const qc_requant *rq;
    const int32_t *bias;
    int32_t zx;
    const uint8_t *xi;    /* the image, NCHW or channels last (x_cl) */
    void *y;              /* the image's output, NCHW or channels last (y_cl) */
    uint8_t *scratch;     /* worker_bytes for each worker */
    size_t worker_bytes;
    size_t piece;         /* output pixels per piece */
    size_t span;          /* output rows a piece covers at most */
    size_t band;          /* input rows the transposed band of a piece holds at most */
    bool dw;
    bool x_cl, y_cl;      /* x, y channels last: no transpose on that side */
} conv_job;

/* a worker's scratch: the NHWC band, the im2col rows, the int32 and byte tiles */
typedef struct {
    uint8_t *xn, *cols, *tmp;
    int32_t *acc;
} conv_scratch;

/* depthwise output rows summed at a time: about a tile's pixels, requantized while in cache */
static size_t conv_dw_rows(const conv_job *j)
{
    const size_t out_w = j->cg->p.out_w;
    return out_w < CONV_TILE ? CONV_TILE / out_w : 1;
}

static size_t conv_acc_pixels(const conv_job *j)
{
    return j->dw ? conv_dw_rows(j) * j->cg->p.out_w : CONV_TILE;
}

/* bytes of one worker's scratch, and its parts when base is not NULL */
static size_t conv_scratch_of(const conv_job *j, uint8_t *base, conv_scratch *sc)
{
    const conv_geom *cg = j->cg;
    const size_t m = (size_t)cg->maps;
    const size_t xn =
        j->x_cl ? 0 : (cg->pointwise ? j->piece : j->band * cg->p.in_w) * (size_t)cg->channels;
    const size_t cols =
        j->dw || cg->pointwise ? 0 : (size_t)cg->groups * CONV_TILE * (size_t)cg->k;
    const size_t acc = conv_acc_pixels(j) * m * sizeof(int32_t), tmp = (size_t)CONV_TILE * m;
    if (base) {
        carver c = {base, 0};
        sc->xn = xn ? carve(&c, xn) : NULL;
        sc->cols = cols ? carve(&c, cols) : NULL;
        sc->acc = carve(&c, acc);
        sc->tmp = carve(&c, tmp);
    }
    return round64(xn) + round64(cols) + round64(acc) + round64(tmp);
}

/* GEMM (not for depthwise), requantization and transpose into NCHW (or channels last, in
 * place) of pixels [p0, p0 + np)
 * of the image; a: the first pixel's GEMM row, rows a_stride apart, one group after another
 * group_stride bytes on; acc: the tile's int32 (depthwise: already summed) */
static void conv_tile(const conv_job *j, const uint8_t *a, size_t a_stride, size_t group_stride,
                      size_t p0, size_t np, int32_t *acc, uint8_t *tmp)
{
    const conv_geom *cg = j->cg;
    const size_t m = (size_t)cg->maps, mg = (size_t)cg->mg, pixels = (size_t)cg->pixels;
    for (int64_t g = 0; g < cg->groups && !j->dw; g++)
        qc_q8gemm(np, mg, (size_t)cg->k, a + (size_t)g * group_stride, a_stride, (uint8_t)j->zx,
                  j->cw->packed + (size_t)g * j->cw->group_bytes, acc + (size_t)g * mg, m);
    /* acc is [pixels][M]: requantize per column, then transpose into NCHW */
    if (cg->y_type == QC_INT32) {
        qc_transpose_s32(np, m, acc, m, (int32_t *)j->y + p0, pixels);
        return;
    }
    uint8_t *dst = j->y_cl ? (uint8_t *)j->y + p0 * m : tmp;
    if (cg->y_type == QC_UINT8)
        qc_requantize_u8(np, m, acc, m, j->bias, j->rq, dst, m);
    else
        qc_requantize_s8(np, m, acc, m, j->bias, j->rq, (int8_t *)dst, m);
    if (!j->y_cl)
        qc_transpose_u8(np, m, tmp, m, (uint8_t *)j->y + p0, pixels);
}

/* a 1×1 window of stride 1: output pixels are input pixels, so a piece transposes its own
 * (or reads them where they are, channels last) */
static void conv_piece_pointwise(const conv_job *j, const conv_scratch *sc, size_t p0, size_t np)
{
    const conv_geom *cg = j->cg;
    const size_t c_all = (size_t)cg->channels, plane = cg->p.in_h * cg->p.in_w;
    const uint8_t *xn = j->xi + p0 * c_all;
    if (!j->x_cl) {
        qc_transpose_u8(c_all, np, j->xi + p0, plane, sc->xn, c_all);
        xn = sc->xn;
    }
    for (size_t t = 0; t < np; t += CONV_TILE) {
        const size_t nt = np - t < CONV_TILE ? np - t : CONV_TILE;
        conv_tile(j, xn + t * c_all, c_all, (size_t)cg->cg, p0 + t, nt, sc->acc, sc->tmp);
    }
}

/* depthwise: output rows [r0, r1) of the piece's pixels [p0, p0 + np), a few rows at a time
 * summed and requantized while they are in cache; band holds input rows from x_row on */
static void conv_piece_depthwise(const conv_job *j, const conv_scratch *sc, const uint8_t *band,
                                 size_t x_row, size_t r0, size_t r1, size_t p0, size_t np)
{
    const conv_geom *cg = j->cg;
    const size_t out_w = cg->p.out_w, m = (size_t)cg->maps, step = conv_dw_rows(j);
    const size_t row_bytes = cg->p.in_w * (size_t)cg->channels;
    for (size_t ra = r0; ra < r1; ra += step) {
        const size_t rb = r1 - ra < step ? r1 : ra + step;
        size_t xr;
        const qc_pool2d s = window_rows(&cg->p, ra, rb, &xr);
        qc_dwconv_nhwc_u8s8(&j->cw->dw, &s, band + (xr - x_row) * row_bytes, j->zx, sc->acc);
        const size_t q0 = p0 > ra * out_w ? p0 : ra * out_w;
        const size_t q1 = p0 + np < rb * out_w ? p0 + np : rb * out_w;
        for (size_t q = q0; q < q1; q += CONV_TILE) {
            const size_t nt = q1 - q < CONV_TILE ? q1 - q : CONV_TILE;
            conv_tile(j, NULL, 0, 0, q, nt, sc->acc + (q - ra * out_w) * m, sc->tmp);
        }
    }
}

static int conv_piece(void *ctx, int worker, int64_t item)
{
    const conv_job *j = ctx;
    const conv_geom *cg = j->cg;
    const size_t out_w = cg->p.out_w, pixels = (size_t)cg->pixels;
    const size_t c_all = (size_t)cg->channels, plane = cg->p.in_h * cg->p.in_w;
    const size_t p0 = (size_t)item * j->piece, np = pixels - p0 < j->piece ? pixels - p0 : j->piece;
    conv_scratch sc;
    conv_scratch_of(j, j->scratch + (size_t)worker * j->worker_bytes, &sc);
    if (cg->pointwise && !j->dw) {
        conv_piece_pointwise(j, &sc, p0, np);
        return 0;
    }
    /* the output rows the piece's pixels lie on, and the input rows their windows read */
    const size_t r0 = p0 / out_w, r1 = (p0 + np + out_w - 1) / out_w, first = r0 * out_w;
    size_t x_row;
    const qc_pool2d s = window_rows(&cg->p, r0, r1, &x_row);
    const uint8_t *band = j->xi + x_row * cg->p.in_w * c_all;
    if (!j->x_cl) {
        qc_transpose_u8(c_all, s.in_h * cg->p.in_w, j->xi + x_row * cg->p.in_w, plane, sc.xn,
                        c_all);
        band = sc.xn;
    }
    if (j->dw) {
        conv_piece_depthwise(j, &sc, band, x_row, r0, r1, p0, np);
        return 0;
    }
    /* im2col a tile at a time: its rows are still in L2 when the GEMM packs them (a whole
     * piece's rows are megabytes) */
    const size_t skip = p0 - first, k = (size_t)cg->k, group_bytes = CONV_TILE * k;
    for (size_t t = 0; t < np; t += CONV_TILE) {
        const size_t nt = np - t < CONV_TILE ? np - t : CONV_TILE;
        for (int64_t g = 0; g < cg->groups; g++)
            qc_im2col_nhwc_u8((size_t)cg->cg, &s, band + (size_t)g * (size_t)cg->cg, c_all,
                              (uint8_t)j->zx, skip + t, nt, sc.cols + (size_t)g * group_bytes, k);
        conv_tile(j, sc.cols, k, group_bytes, p0 + t, nt, sc.acc, sc.tmp);
    }
    return 0;
}

/* The split decision's work: an op's time on one thread, in multiply-adds of a GEMM on
 * AVX512-VNNI (the executor's unit). Measured layer by layer on one thread, INT8 ResNet-18
 * and MobileNetV2 at 224² on the Xeon with AMX: a GEMM multiply-add takes ~4.7 ps on
 * AVX512-VNNI and about half on AMX; each output value ~0.9 ns more (requantization, the
 * transposes around it), ~2 ns where the depthwise kernel makes it. Multiply-adds alone
 * missed the slowest layers: a 1×1 convolution 16 → 96 maps over 112² pixels (19 M, 1 ms)
 * or a depthwise 3×3 over 112² (3.6 M, 0.85 ms). */
#define WORK_PER_OUTPUT 200.0
#define WORK_PER_DEPTHWISE_OUTPUT 430.0

static double gemm_work(double macs, double outputs)
{
    return macs * (qc_cpu_isa() >= QC_ISA_AMX ? 0.5 : 1.0) + outputs * WORK_PER_OUTPUT;
}

/* the threads one image of a convolution splits over */
static int conv_threads(qc_exec *x, const conv_geom *cg)
{
    const double outputs = (double)cg->pixels * (double)cg->maps;
    if (cg->depthwise)
        return qc_exec_op_threads(x, outputs * WORK_PER_DEPTHWISE_OUTPUT);
    return qc_exec_op_threads(x, gemm_work(outputs * (double)cg->k, outputs));
}

/* Shapes the pieces of one image for `threads` workers: whole output rows for depthwise
 * (its kernel sums a row at a time), any pixel range otherwise; returns a worker's bytes. */
static size_t conv_plan(conv_job *j, int threads)
{
    const conv_geom *cg = j->cg;
    const size_t out_w = cg->p.out_w, out_h = cg->p.out_h;
    const size_t pieces = (size_t)threads * CONV_PIECES_PER_THREAD;
    if (j->dw)
        j->piece = piece_of(out_h, threads > 1 ? pieces : 1) * out_w;
    else
        j->piece = piece_of((size_t)cg->pixels, threads > 1 ? pieces : 1);
    /* a range of pixels not starting a row may end on the row after its last whole one */
    j->span = j->piece / out_w + (j->dw ? 0 : 2);
    if (j->span > out_h)
        j->span = out_h;
    /* the most input rows a span reads: one away from the padding */
    const size_t reach = (j->span - 1) * cg->p.stride_h + (cg->p.kernel_h - 1) * cg->p.dilation_h;
    j->band = reach < cg->p.in_h ? reach + 1 : cg->p.in_h;
    j->worker_bytes = conv_scratch_of(j, NULL, NULL);
    return j->worker_bytes;
}

static qc_status conv_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                          qc_error *err)
{
    const conv_state *st = n->state;
    const conv_inputs *ix = conv_ix(n);
    conv_geom cg;
    qc_status s = conv_geometry(n, in, &cg, err);
    if (s != QC_OK)
        return s;
    const size_t plane = cg.p.in_h * cg.p.in_w, pixels = (size_t)cg.pixels;
    const size_t m = (size_t)cg.maps;
    const size_t x_count = (size_t)qc_value_count(in[ix->x]);
    const bool map_x = cg.x_type == QC_INT8;
    /* depthwise: channels last (8 channels per vector) unless there are fewer than 8 */
    const bool dw_nchw = cg.depthwise && m < 8, dw_nhwc = cg.depthwise && !dw_nchw;
    const int threads = dw_nchw ? 1 : conv_threads(x, &cg);
    conv_job j = {&cg, NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, 0, 0, 0, dw_nhwc, false, false};
    j.x_cl = in[ix->x]->layout == QC_LAYOUT_CHANNELS_LAST;
    j.y_cl = out[0].layout == QC_LAYOUT_CHANNELS_LAST;
    if ((j.x_cl || j.y_cl) && (dw_nchw || cg.y_type == QC_INT32))
        return qc_node_fail(err, n, "this convolution runs in NCHW only, not channels last");
    const size_t per_worker = dw_nchw || pixels == 0 ? 0 : conv_plan(&j, threads);
    size_t bytes = (map_x ? round64(x_count) : 0) + (st->has_weights ? 0 : weights_bytes(&cg)) +
                   2 * round64(m * sizeof(int32_t)) + (size_t)threads * per_worker +
                   (dw_nchw ? round64(pixels * m * sizeof(int32_t)) : 0);
    carver c = {qc_exec_scratch(x, bytes), 0};
    if (!c.base)
        return qc_fail(err, QC_ERR_IO, "out of memory running node '%s'", n->name);
    const uint8_t *xu = in[ix->x]->data;
    int32_t zx = zp_at(input(n, in, ix->x_zp), 0);
    if (map_x) {
        uint8_t *t = carve(&c, x_count);
        s8_to_u8(x_count, xu, t);
        xu = t;
        zx += 128;
    }
    conv_weights cw;
    if (st->has_weights)
        cw = st->weights;
    else
        prepare_weights(&cg, in[ix->w], ix->w_zp >= 0 ? input(n, in, ix->w_zp) : NULL, &c, &cw);
    int32_t *mult = carve(&c, m * sizeof(int32_t)), *shift = carve(&c, m * sizeof(int32_t));
    int32_t *acc = dw_nchw ? carve(&c, pixels * m * sizeof(int32_t)) : NULL;
    j.scratch = per_worker ? carve(&c, (size_t)threads * per_worker) : NULL;
    qc_requant rq = {mult, shift, dw_nchw ? QC_PER_ROW : QC_PER_COLUMN, 0, 0, 0};
    const int32_t *bias = NULL;
    if (st->is_qlinear && st->multipliers != NULL) {
        rq.multiplier = st->multipliers;
        rq.shift = st->multipliers + m;
    } else if (st->is_qlinear) {
        s = channel_multipliers(n, in[ix->x_scale], in[ix->w_scale], in[ix->y_scale], cg.maps,
                                mult, shift, err);
        if (s != QC_OK)
            return s;
    }
    if (st->is_qlinear) {
        rq.zero_point = zp_at(in[ix->y_zp], 0);
        clamp_range(&st->clamp, cg.y_type, &rq.qmin, &rq.qmax);
        const qc_value *b = input(n, in, ix->bias);
        bias = b ? b->data : NULL;
    }
    s = check_acc_bound(n, cg.maps, cw.wabs, zx, bias, cg.k, err);
    if (s != QC_OK)
        return s;
    j.cw = &cw;
    j.rq = &rq;
    j.bias = bias;
    j.zx = zx;
    const size_t y_image = m * pixels, y_size = qc_dtype_size(cg.y_type);
    for (int64_t b = 0; b < cg.batch; b++) {
        const uint8_t *xi = xu + (size_t)b * (size_t)cg.channels * plane;
        if (dw_nchw) {
            /* acc is [M][pixels]: NCHW already */
            int32_t *dst = cg.y_type == QC_INT32 ? (int32_t *)out[0].data + b * y_image : acc;
            qc_dwconv_u8s8(m, &cg.p, xi, zx, cw.w, cw.zw, dst);
            if (cg.y_type == QC_UINT8)
                qc_requantize_u8(m, pixels, acc, pixels, bias, &rq,
                                 (uint8_t *)out[0].data + b * y_image, pixels);
            else if (cg.y_type == QC_INT8)
                qc_requantize_s8(m, pixels, acc, pixels, bias, &rq,
                                 (int8_t *)out[0].data + b * y_image, pixels);
            continue;
        }
        j.xi = xi;
        j.y = (uint8_t *)out[0].data + (size_t)b * y_image * y_size;
        if (pixels > 0)
            qc_exec_parallel(x, threads, (int64_t)ceil_div(pixels, j.piece), conv_piece, &j);
    }
    return QC_OK;
}

/* ---- QLinearMatMul, MatMulInteger, QGemm ------------------------------------------------- */

typedef struct {
    int a, a_scale, a_zp, b, b_scale, b_zp, bias, y_scale, y_zp;
} mm_inputs;

static const mm_inputs qlinear_mm_inputs = {0, 1, 2, 3, 4, 5, -1, 6, 7};
static const mm_inputs mm_integer_inputs = {0, -1, 2, 1, -1, 3, -1, -1, -1};
static const mm_inputs qgemm_inputs = {0, 1, 2, 3, 4, 5, 6, 7, 8};

typedef struct {
    int kind; /* 0 QLinearMatMul, 1 MatMulInteger, 2 QGemm */
    bool trans_b;
    act_clamp clamp;
    bool has_weights; /* B (2-d) and its zero point were constants: packed below */
    uint8_t *packed;  /* owned */
    int64_t *wabs;    /* owned with has_weights: N sums Σ_k |b − z_b| (check_acc_bound) */
    int32_t *multipliers; /* owned, or NULL: N multipliers then N shifts (constant scales) */
} mm_state;

static const mm_inputs *mm_ix(const mm_state *st)
{
    return st->kind == 0 ? &qlinear_mm_inputs : st->kind == 1 ? &mm_integer_inputs : &qgemm_inputs;
}

typedef struct {
    int batch_rank;
    int64_t batch_dims[QC_MAX_RANK], a_stride[QC_MAX_RANK], b_stride[QC_MAX_RANK];
    int64_t batches, b_batches, m, n, k;
    qc_dtype y_type;
} mm_geom;

static qc_status mm_geometry(const qc_node *n, const qc_value *const *in, mm_geom *mg,
                             qc_error *err)
{
    const mm_state *st = n->state;
    const mm_inputs *ix = mm_ix(st);
    const qc_value *a = in[ix->a], *b = in[ix->b];
    if (!is_8bit(a->dtype) || !is_8bit(b->dtype))
        return qc_node_fail(err, n, "A is %s and B %s; uint8 or int8 expected",
                         qc_dtype_name(a->dtype), qc_dtype_name(b->dtype));
    if (a->rank < 2 || b->rank < 2 || (st->trans_b && b->rank != 2))
        return qc_node_fail(err, n, "A has rank %d and B rank %d; matrices (rank 2 or more) expected",
                         a->rank, b->rank);
    memset(mg, 0, sizeof *mg);
    mg->m = a->dims[a->rank - 2];
    mg->k = a->dims[a->rank - 1];
    int64_t bk = b->dims[b->rank - (st->trans_b ? 1 : 2)];
    mg->n = b->dims[b->rank - (st->trans_b ? 2 : 1)];
    if (bk != mg->k)
        return qc_node_fail(err, n, "A has %lld columns but B %lld rows", (long long)mg->k,
                         (long long)bk);
    int ar = a->rank - 2, br = b->rank - 2;
    mg->batch_rank = ar > br ? ar : br;
    mg->batches = 1;
    mg->b_batches = product(b->dims, 0, br);
    int64_t as = mg->m * mg->k, bs = mg->k * mg->n;
    for (int d = mg->batch_rank - 1; d >= 0; d--) {
        int da = d - (mg->batch_rank - ar), db = d - (mg->batch_rank - br);
        int64_t ea = da >= 0 ? a->dims[da] : 1, eb = db >= 0 ? b->dims[db] : 1;
        if (ea != eb && ea != 1 && eb != 1)
            return qc_node_fail(err, n, "batch dimensions %lld and %lld do not broadcast",
                             (long long)ea, (long long)eb);
        mg->batch_dims[d] = ea > eb ? ea : eb;
        mg->a_stride[d] = ea == 1 ? 0 : as;
        mg->b_stride[d] = eb == 1 ? 0 : bs;
        as *= ea;
        bs *= eb;
        mg->batches *= mg->batch_dims[d];
    }
    const qc_value *az = input(n, in, ix->a_zp), *bz = input(n, in, ix->b_zp);
    qc_status s;
    if ((s = check_zp(n, az, "a_zero_point", 1, err)) != QC_OK ||
        (s = check_zp(n, bz, "b_zero_point", mg->n, err)) != QC_OK)
        return s;
    if ((az && az->dtype != a->dtype) || (bz && bz->dtype != b->dtype))
        return qc_node_fail(err, n, "a zero point's type differs from its tensor's");
    if (st->kind == 1) {
        mg->y_type = QC_INT32;
        return QC_OK;
    }
    if ((s = need(n, in, ix->a_scale, "a_scale", err)) != QC_OK ||
        (s = need(n, in, ix->b_scale, "b_scale", err)) != QC_OK ||
        (s = need(n, in, ix->y_scale, "y_scale", err)) != QC_OK ||
        (s = need(n, in, ix->y_zp, "y_zero_point", err)) != QC_OK)
        return s;
    if ((s = read_scales(n, in[ix->a_scale], "a_scale", 1, err)) != QC_OK ||
        (s = read_scales(n, in[ix->b_scale], "b_scale", mg->n, err)) != QC_OK ||
        (s = read_scales(n, in[ix->y_scale], "y_scale", mg->n, err)) != QC_OK ||
        (s = check_zp(n, in[ix->y_zp], "y_zero_point", 1, err)) != QC_OK)
        return s;
    mg->y_type = in[ix->y_zp]->dtype;
    if (!is_8bit(mg->y_type))
        return qc_node_fail(err, n, "y_zero_point is %s; uint8 or int8 expected",
                         qc_dtype_name(mg->y_type));
    const qc_value *c = input(n, in, ix->bias);
    if (c && (c->dtype != QC_INT32 || c->rank > 1 ||
              (qc_value_count(c) != 1 && qc_value_count(c) != mg->n)))
        return qc_node_fail(err, n, "bias C must be 1 or %lld int32 values", (long long)mg->n);
    return QC_OK;
}

/* Packs b_batches matrices of B (int8, uint8 ones shifted) into dst, one packed_size each. */
static void mm_pack(const mm_geom *mg, bool trans_b, const qc_value *b, const qc_value *bz,
                    int8_t *tmp_w, int8_t *tmp_z, uint8_t *dst, int64_t *wabs)
{
    size_t k = (size_t)mg->k, n = (size_t)mg->n, per = round64(qc_q8gemm_packed_size(k, n));
    const int shift = b->dtype == QC_UINT8 ? 128 : 0;
    for (size_t j = 0; j < n; j++) {
        tmp_z[j] = (int8_t)(zp_at(bz, (int64_t)j) - shift);
        wabs[j] = 0;
    }
    for (int64_t i = 0; i < mg->b_batches; i++) {
        const uint8_t *src = (const uint8_t *)b->data + (size_t)i * k * n;
        for (size_t e = 0; e < k * n; e++)
            tmp_w[e] = (int8_t)(shift ? src[e] ^ 0x80 : src[e]);
        /* Σ_k |b − z_b| per column, the largest over the batches (check_acc_bound) */
        for (size_t j = 0; j < n; j++) {
            int64_t sum = 0;
            for (size_t kk = 0; kk < k; kk++) {
                const int32_t d = tmp_w[trans_b ? j * k + kk : kk * n + j] - tmp_z[j];
                sum += d < 0 ? -d : d;
            }
            wabs[j] = sum > wabs[j] ? sum : wabs[j];
        }
        if (trans_b)
            qc_q8gemm_pack(k, n, tmp_w, 1, k, tmp_z, dst + (size_t)i * per);
        else
            qc_q8gemm_pack(k, n, tmp_w, n, 1, tmp_z, dst + (size_t)i * per);
    }
}

static qc_status mm_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    mm_state *st = calloc(1, sizeof *st);
    if (!st)
        return qc_fail(err, QC_ERR_IO, "out of memory checking node '%s'", n->name);
    st->kind = !strcmp(n->op_type, "QLinearMatMul") ? 0 : !strcmp(n->op_type, "MatMulInteger") ? 1 : 2;
    qc_status s = st->kind == 0 ? qc_node_check_arity(n, 8, 8, 1, err)
                  : st->kind == 1 ? qc_node_check_arity(n, 2, 4, 1, err)
                                  : qc_node_check_arity(n, 6, 9, 1, err);
    if (s == QC_OK)
        s = parse_clamp(n, &st->clamp, err);
    if (s == QC_OK && st->kind == 2) {
        st->trans_b = qc_node_attr_int(n, "transB", 0) != 0;
        if (qc_node_attr_int(n, "transA", 0) != 0 || qc_node_attr_float(n, "alpha", 1.0f) != 1.0f)
            s = qc_node_fail(err, n, "transA and alpha other than 1 are not supported");
        if (s == QC_OK && (n->n_inputs < 9 || n->inputs[7] < 0 || n->inputs[8] < 0))
            s = qc_node_fail(err, n, "a float output (no y_scale) is not supported");
    }
    if (s != QC_OK) {
        free(st);
        return s;
    }
    free(n->state);
    n->state = st;
    const mm_inputs *ix = mm_ix(st);
    const qc_tensor *bt = &g->tensors[n->inputs[ix->b]];
    int bzi = ix->b_zp < n->n_inputs ? n->inputs[ix->b_zp] : -1;
    const qc_tensor *bzt = bzi >= 0 ? &g->tensors[bzi] : NULL;
    if (!bt->is_const || !bt->value.data || bt->value.rank != 2 || !is_8bit(bt->value.dtype) ||
        (bzt && (!bzt->is_const || !bzt->value.data || bzt->value.rank > 1)))
        return QC_OK;
    mm_geom mg = {0};
    mg.b_batches = 1;
    mg.k = bt->value.dims[st->trans_b ? 1 : 0];
    mg.n = bt->value.dims[st->trans_b ? 0 : 1];
    if (st->kind != 1)
        st->multipliers = constant_multipliers(g, n, ix->a_scale, ix->b_scale, ix->y_scale, mg.n);
    if (bzt && qc_value_count(&bzt->value) != 1 && qc_value_count(&bzt->value) != mg.n)
        return QC_OK;
    size_t kn = (size_t)(mg.k * mg.n);
    st->packed = aligned_alloc(64, round64(qc_q8gemm_packed_size((size_t)mg.k, (size_t)mg.n)));
    st->wabs = malloc((size_t)mg.n * sizeof *st->wabs + 1);
    int8_t *tw = malloc(kn + (size_t)mg.n + 1);
    if (!st->packed || !st->wabs || !tw) {
        free(tw);
        return qc_fail(err, QC_ERR_IO, "out of memory packing the weights of node '%s'", n->name);
    }
    mm_pack(&mg, st->trans_b, &bt->value, bzt ? &bzt->value : NULL, tw, tw + kn, st->packed,
            st->wabs);
    free(tw);
    st->has_weights = true;
    return QC_OK;
}

static void mm_release(qc_node *n)
{
    mm_state *st = n->state;
    if (st) {
        free(st->packed);
        free(st->wabs);
        free(st->multipliers);
    }
    release_state(n);
}

static qc_status mm_infer(const qc_node *n, const qc_value *const *in, qc_value *out, qc_error *err)
{
    mm_geom mg;
    qc_status s = mm_geometry(n, in, &mg, err);
    if (s != QC_OK)
        return s;
    out[0].dtype = mg.y_type;
    out[0].rank = mg.batch_rank + 2;
    memcpy(out[0].dims, mg.batch_dims, (size_t)mg.batch_rank * sizeof(int64_t));
    out[0].dims[mg.batch_rank] = mg.m;
    out[0].dims[mg.batch_rank + 1] = mg.n;
    return QC_OK;
}

/* One product of a batch of them, as blocks of rows that threads take in turn (each writes
 * its own rows of acc and y). */
typedef struct {
    const mm_geom *mg;
    const uint8_t *a;
    uint8_t za;
    const uint8_t *packed;
    size_t per;          /* bytes of one packed B */
    int32_t *acc;        /* rows × N for each worker */
    const int32_t *bias; /* N, or NULL */
    const qc_requant *rq;
    void *y;
    size_t rows;         /* rows per block */
    int64_t blocks;      /* blocks per product: item i is block i % blocks of product i / blocks */
} mm_job;

static int mm_rows(void *ctx, int worker, int64_t item)
{
    const mm_job *j = ctx;
    const mm_geom *mg = j->mg;
    const size_t m = (size_t)mg->m, nn = (size_t)mg->n, k = (size_t)mg->k;
    const int64_t batch = item / j->blocks;
    const size_t r0 = (size_t)(item % j->blocks) * j->rows;
    const size_t rows = m - r0 < j->rows ? m - r0 : j->rows;
    int64_t ao = 0, bo = 0, rest = batch;
    for (int d = mg->batch_rank - 1; d >= 0; d--) {
        int64_t idx = rest % mg->batch_dims[d];
        rest /= mg->batch_dims[d];
        ao += idx * mg->a_stride[d];
        bo += idx * mg->b_stride[d];
    }
    const uint8_t *a = j->a + ao + r0 * k, *pb = j->packed + (size_t)(bo / (mg->k * mg->n)) * j->per;
    const size_t yo = (size_t)batch * m * nn + r0 * nn;
    if (mg->y_type == QC_INT32) {
        qc_q8gemm(rows, nn, k, a, k, j->za, pb, (int32_t *)j->y + yo, nn);
        return 0;
    }
    int32_t *acc = j->acc + (size_t)worker * j->rows * nn;
    qc_q8gemm(rows, nn, k, a, k, j->za, pb, acc, nn);
    if (mg->y_type == QC_UINT8)
        qc_requantize_u8(rows, nn, acc, nn, j->bias, j->rq, (uint8_t *)j->y + yo, nn);
    else
        qc_requantize_s8(rows, nn, acc, nn, j->bias, j->rq, (int8_t *)j->y + yo, nn);
    return 0;
}

static qc_status mm_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                        qc_error *err)
{
    const mm_state *st = n->state;
    const mm_inputs *ix = mm_ix(st);
    mm_geom mg;
    qc_status s = mm_geometry(n, in, &mg, err);
    if (s != QC_OK)
        return s;
    const qc_value *a = in[ix->a];
    const size_t m = (size_t)mg.m, nn = (size_t)mg.n, k = (size_t)mg.k;
    const size_t a_count = (size_t)qc_value_count(a);
    const size_t per = round64(qc_q8gemm_packed_size(k, nn));
    const bool map_a = a->dtype == QC_INT8;
    const double outputs = (double)mg.batches * (double)(m * nn);
    const int threads = qc_exec_op_threads(x, gemm_work(outputs * (double)k, outputs));
    const size_t block_rows = piece_of(m, threads > 1 ? 2 * (size_t)threads : 1);
    /* an int32 block for each worker: blocks of several products run at once */
    const size_t acc_count = (size_t)threads * block_rows * nn;
    size_t bytes = (map_a ? round64(a_count) : 0) + round64(acc_count * sizeof(int32_t)) +
                   2 * round64(nn * sizeof(int32_t)) + round64(nn * sizeof(int32_t));
    if (!st->has_weights)
        bytes += (size_t)mg.b_batches * per + round64(k * nn) + round64(nn) +
                 round64(nn * sizeof(int64_t));
    carver c = {qc_exec_scratch(x, bytes), 0};
    if (!c.base)
        return qc_fail(err, QC_ERR_IO, "out of memory running node '%s'", n->name);
    const uint8_t *au = a->data;
    int32_t za = zp_at(input(n, in, ix->a_zp), 0);
    if (map_a) {
        uint8_t *t = carve(&c, a_count);
        s8_to_u8(a_count, au, t);
        au = t;
        za += 128;
    }
    const uint8_t *packed = st->packed;
    const int64_t *wabs = st->wabs;
    if (!st->has_weights) {
        uint8_t *p = carve(&c, (size_t)mg.b_batches * per);
        int8_t *tw = carve(&c, k * nn), *tz = carve(&c, nn);
        int64_t *wa = carve(&c, nn * sizeof(int64_t));
        mm_pack(&mg, st->trans_b, in[ix->b], input(n, in, ix->b_zp), tw, tz, p, wa);
        packed = p;
        wabs = wa;
    }
    int32_t *acc = carve(&c, acc_count * sizeof(int32_t));
    int32_t *mult = carve(&c, nn * sizeof(int32_t)), *shift = carve(&c, nn * sizeof(int32_t));
    int32_t *bias = carve(&c, nn * sizeof(int32_t));
    qc_requant rq = {mult, shift, QC_PER_COLUMN, 0, 0, 0};
    bool has_bias = false;
    if (st->kind != 1 && st->multipliers != NULL) {
        rq.multiplier = st->multipliers;
        rq.shift = st->multipliers + nn;
    } else if (st->kind != 1) {
        s = channel_multipliers(n, in[ix->a_scale], in[ix->b_scale], in[ix->y_scale], mg.n, mult,
                                shift, err);
        if (s != QC_OK)
            return s;
    }
    if (st->kind != 1) {
        rq.zero_point = zp_at(in[ix->y_zp], 0);
        clamp_range(&st->clamp, mg.y_type, &rq.qmin, &rq.qmax);
        const qc_value *cb = input(n, in, ix->bias);
        if (cb) {
            for (size_t j = 0; j < nn; j++)
                bias[j] = ((const int32_t *)cb->data)[qc_value_count(cb) == 1 ? 0 : j];
            has_bias = true;
        }
    }
    s = check_acc_bound(n, mg.n, wabs, za, has_bias ? bias : NULL, mg.k, err);
    if (s != QC_OK)
        return s;
    /* every product's row blocks in one hand-off to the threads */
    mm_job j = {&mg, au, (uint8_t)za, packed, per, acc, has_bias ? bias : NULL, &rq, out[0].data,
                block_rows, 0};
    j.blocks = (int64_t)ceil_div(m, j.rows);
    if (m > 0)
        qc_exec_parallel(x, threads, mg.batches * j.blocks, mm_rows, &j);
    return QC_OK;
}

/* ---- com.microsoft QLinearAdd ------------------------------------------------------------ */

static qc_status qadd_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    act_clamp cl;
    qc_status s = qc_node_check_arity(n, 7, 8, 1, err);
    if (s == QC_OK && (n->inputs[0] < 0 || n->inputs[1] < 0 || n->inputs[3] < 0 ||
                       n->inputs[4] < 0 || n->inputs[6] < 0))
        s = qc_node_fail(err, n, "A, B and the scales are required");
    if (s == QC_OK)
        s = parse_clamp(n, &cl, err);
    if (s != QC_OK)
        return s;
    act_clamp *p = malloc(sizeof *p);
    if (!p)
        return qc_fail(err, QC_ERR_IO, "out of memory checking node '%s'", n->name);
    *p = cl;
    free(n->state);
    n->state = p;
    return QC_OK;
}

static qc_status qadd_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                            qc_error *err)
{
    const qc_value *a = in[0], *b = in[3];
    if (!is_8bit(a->dtype) || b->dtype != a->dtype)
        return qc_node_fail(err, n, "A is %s and B %s; both uint8 or both int8 expected",
                         qc_dtype_name(a->dtype), qc_dtype_name(b->dtype));
    qc_status s;
    if ((s = read_scales(n, in[1], "A_scale", 1, err)) != QC_OK ||
        (s = read_scales(n, in[4], "B_scale", 1, err)) != QC_OK ||
        (s = read_scales(n, in[6], "C_scale", 1, err)) != QC_OK ||
        (s = check_zp(n, input(n, in, 2), "A_zero_point", 1, err)) != QC_OK ||
        (s = check_zp(n, input(n, in, 5), "B_zero_point", 1, err)) != QC_OK ||
        (s = check_zp(n, input(n, in, 7), "C_zero_point", 1, err)) != QC_OK)
        return s;
    if (!qc_broadcast_shape(a, b, &out[0]))
        return qc_node_fail(err, n, "A and B do not broadcast");
    out[0].dtype = a->dtype;
    return QC_OK;
}

/* v's dims in the order its bytes are stored: a channels-last value's channels last. */
static qc_value stored_shape(const qc_value *v)
{
    qc_value s = *v;
    if (v->layout == QC_LAYOUT_CHANNELS_LAST && v->rank >= 3) {
        for (int d = 1; d + 1 < v->rank; d++)
            s.dims[d] = v->dims[d + 1];
        s.dims[v->rank - 1] = v->dims[1];
    }
    return s;
}

/* Broadcasts v (bytes) into the shape of y: the index of every output element, unravelled.
 * v and y share one layout (layout.c ties them), so their stored shapes broadcast alike. */
static void broadcast_u8(const qc_value *value, const qc_value *result, uint8_t *dst)
{
    const qc_value vs = stored_shape(value), ys = stored_shape(result);
    const qc_value *v = &vs, *y = &ys;
    int64_t count = qc_value_count(y), stride[QC_MAX_RANK];
    int64_t s = 1;
    for (int d = y->rank - 1; d >= 0; d--) {
        int dv = d - (y->rank - v->rank);
        int64_t e = dv >= 0 ? v->dims[dv] : 1;
        stride[d] = e == 1 ? 0 : s;
        s *= e;
    }
    const uint8_t *src = v->data;
    for (int64_t i = 0; i < count; i++) {
        int64_t rest = i, o = 0;
        for (int d = y->rank - 1; d >= 0; d--) {
            o += (rest % y->dims[d]) * stride[d];
            rest /= y->dims[d];
        }
        dst[i] = src[o];
    }
}

/* s_a / s_y and s_b / s_y as multipliers over one shift (eq. S0), or the op refuses them. */
static qc_status qadd_params(const qc_node *n, double ra, double rb, qc_qadd *p, qc_error *err)
{
    switch (qc_qadd_multipliers(ra, rb, p)) {
    case QC_MULTIPLIER_OK:
        return QC_OK;
    case QC_MULTIPLIER_TOO_LARGE:
        return qc_node_fail(err, n, "input to output scale ratio %g is too large (2^15 at most)",
                            ra > rb ? ra : rb);
    default:
        return qc_node_fail(err, n, "input to output scale ratios %g and %g are not positive",
                            ra, rb);
    }
}

static qc_status qadd_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                          qc_error *err)
{
    const act_clamp *cl = n->state;
    const qc_value *a = in[0], *b = in[3];
    size_t count = (size_t)qc_value_count(&out[0]);
    if (!count) /* an empty output: no scratch to carve, nothing to add */
        return QC_OK;
    bool is_s8 = a->dtype == QC_INT8;
    bool a_full = (size_t)qc_value_count(a) == count && a->rank == out[0].rank;
    bool b_full = (size_t)qc_value_count(b) == count && b->rank == out[0].rank;
    size_t bytes = (is_s8 || !a_full ? round64(count) : 0) + (is_s8 || !b_full ? round64(count) : 0);
    carver c = {bytes ? qc_exec_scratch(x, bytes) : NULL, 0};
    if (bytes && !c.base)
        return qc_fail(err, QC_ERR_IO, "out of memory running node '%s'", n->name);
    const uint8_t *pa = a->data, *pb = b->data;
    if (is_s8 || !a_full) {
        uint8_t *t = carve(&c, count);
        if (a_full)
            memcpy(t, pa, count);
        else
            broadcast_u8(a, &out[0], t);
        if (is_s8)
            s8_to_u8(count, t, t);
        pa = t;
    }
    if (is_s8 || !b_full) {
        uint8_t *t = carve(&c, count);
        if (b_full)
            memcpy(t, pb, count);
        else
            broadcast_u8(b, &out[0], t);
        if (is_s8)
            s8_to_u8(count, t, t);
        pb = t;
    }
    const int32_t off = is_s8 ? 128 : 0;
    qc_qadd p = {0};
    double sy = scale_at(in[6], 0);
    qc_status s = qadd_params(n, scale_at(in[1], 0) / sy, scale_at(in[4], 0) / sy, &p, err);
    if (s != QC_OK)
        return s;
    p.a_zero_point = zp_at(input(n, in, 2), 0) + off;
    p.b_zero_point = zp_at(input(n, in, 5), 0) + off;
    p.y_zero_point = zp_at(input(n, in, 7), 0) + off;
    clamp_range(cl, a->dtype, &p.qmin, &p.qmax);
    p.qmin += off;
    p.qmax += off;
    qc_split_qadd_u8(x, count, pa, pb, &p, out[0].data);
    if (is_s8)
        s8_to_u8(count, out[0].data, out[0].data);
    return QC_OK;
}

/* ---- com.microsoft QLinearGlobalAveragePool ---------------------------------------------- */

static qc_status qgap_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    qc_status s = qc_node_check_arity(n, 5, 5, 1, err);
    if (s == QC_OK && qc_node_attr_int(n, "channels_last", 0) != 0)
        s = qc_node_fail(err, n, "channels_last=1 is not supported (NCHW only)");
    return s;
}

static qc_status qgap_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                            qc_error *err)
{
    const qc_value *x = in[0];
    qc_status s;
    if (!is_8bit(x->dtype) || x->rank < 3)
        return qc_node_fail(err, n, "X must be uint8 or int8 N x C x spatial");
    if ((s = read_scales(n, in[1], "x_scale", 1, err)) != QC_OK ||
        (s = read_scales(n, in[3], "y_scale", 1, err)) != QC_OK ||
        (s = check_zp(n, in[2], "x_zero_point", 1, err)) != QC_OK ||
        (s = check_zp(n, in[4], "y_zero_point", 1, err)) != QC_OK)
        return s;
    out[0] = *x;
    out[0].data = NULL;
    for (int d = 2; d < x->rank; d++)
        out[0].dims[d] = 1;
    return QC_OK;
}

static qc_status qgap_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                          qc_error *err)
{
    const qc_value *v = in[0];
    size_t planes = (size_t)(v->dims[0] * v->dims[1]), plane = (size_t)product(v->dims, 2, v->rank);
    bool is_s8 = v->dtype == QC_INT8;
    const int32_t off = is_s8 ? 128 : 0;
    if (plane == 0 || plane > (size_t)INT32_MAX / 255)
        return qc_node_fail(err, n, "planes of %zu values are not supported", plane);
    qc_gavgpool p = {0};
    double m = (double)scale_at(in[1], 0) / ((double)scale_at(in[3], 0) * (double)plane);
    if (qc_requant_multiplier(m, &p.multiplier, &p.shift) == QC_MULTIPLIER_TOO_LARGE)
        return qc_node_fail(err, n,
                            "the multiplier x_scale/(y_scale·n) = %g/(%g·%zu) = %g is too large "
                            "(it must be below 2^30)",
                            scale_at(in[1], 0), scale_at(in[3], 0), plane, m);
    qc_status s = real_multiplier(n, m, &p.multiplier, &p.shift, err);
    if (s != QC_OK)
        return s;
    p.in_zero_point = zp_at(in[2], 0) + off;
    p.out_zero_point = zp_at(in[4], 0) + off;
    type_range(v->dtype, &p.qmin, &p.qmax);
    p.qmin += off;
    p.qmax += off;
    const uint8_t *src = v->data;
    if (is_s8 || v->layout == QC_LAYOUT_CHANNELS_LAST) {
        uint8_t *t = qc_exec_scratch(x, planes * plane);
        if (!t)
            return qc_fail(err, QC_ERR_IO, "out of memory running node '%s'", n->name);
        /* channels last: the last layer's few pixels per channel, transposed into planes */
        qc_value_copy_onnx(v, t);
        if (is_s8)
            s8_to_u8(planes * plane, t, t);
        src = t;
    }
    qc_global_avgpool_u8(planes, plane, src, &p, out[0].data);
    if (is_s8)
        s8_to_u8(planes, out[0].data, out[0].data);
    return QC_OK;
}

/* ---- com.microsoft QLinearConcat --------------------------------------------------------- */

typedef struct {
    int64_t axis;
} concat_state;

static qc_status qconcat_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    qc_status s = qc_node_check_arity(n, 5, 2 + 3 * 64, 1, err);
    if (s == QC_OK && (n->n_inputs - 2) % 3)
        s = qc_node_fail(err, n, "inputs must be Y_scale, Y_zero_point, then (X, scale, zero point) triples");
    if (s != QC_OK)
        return s;
    concat_state *p = malloc(sizeof *p);
    if (!p)
        return qc_fail(err, QC_ERR_IO, "out of memory checking node '%s'", n->name);
    p->axis = qc_node_attr_int(n, "axis", 0);
    free(n->state);
    n->state = p;
    return QC_OK;
}

static qc_status qconcat_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                               qc_error *err)
{
    const concat_state *st = n->state;
    const qc_value *first = in[2];
    int axis;
    qc_status s;
    if ((s = read_scales(n, in[0], "Y_scale", 1, err)) != QC_OK ||
        (s = check_zp(n, in[1], "Y_zero_point", 1, err)) != QC_OK)
        return s;
    if (!is_8bit(first->dtype) || in[1]->dtype != first->dtype)
        return qc_node_fail(err, n, "inputs must be uint8 or int8 like Y_zero_point");
    if (!qc_axis(st->axis, first->rank, &axis))
        return qc_node_fail(err, n, "axis %lld is out of range", (long long)st->axis);
    out[0] = *first;
    out[0].data = NULL;
    out[0].dims[axis] = 0;
    for (int i = 2; i < n->n_inputs; i += 3) {
        const qc_value *v = in[i];
        if (!v || !in[i + 1] || !in[i + 2])
            return qc_node_fail(err, n, "input %d and its scale and zero point are required", i);
        if (v->dtype != first->dtype || v->rank != first->rank)
            return qc_node_fail(err, n, "input %d differs in type or rank from the first", i);
        for (int d = 0; d < v->rank; d++)
            if (d != axis && v->dims[d] != first->dims[d])
                return qc_node_fail(err, n, "input %d differs in shape outside the axis", i);
        if ((s = read_scales(n, in[i + 1], "a scale", 1, err)) != QC_OK ||
            (s = check_zp(n, in[i + 2], "a zero point", 1, err)) != QC_OK)
            return s;
        out[0].dims[axis] += v->dims[axis];
    }
    return QC_OK;
}

/* Each input is requantized to Y's parameters through a 256-entry table built with the
 * library's own DequantizeLinear and QuantizeLinear (as ONNX Runtime does): y =
 * saturate(rint(fl(fl((x − z_x)·s_x) / s_y)) + z_y), exact copies when they are equal. */
static qc_status qconcat_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                             qc_value *out, qc_error *err)
{
    (void)x, (void)err;
    const concat_state *st = n->state;
    int axis;
    qc_axis(st->axis, out[0].rank, &axis);
    int64_t outer = product(out[0].dims, 0, axis), inner = product(out[0].dims, axis + 1, out[0].rank);
    int64_t out_row = out[0].dims[axis] * inner, offset = 0;
    bool is_s8 = out[0].dtype == QC_INT8;
    float sy = scale_at(in[0], 0);
    int32_t zy = zp_at(in[1], 0);
    for (int i = 2; i < n->n_inputs; i += 3) {
        const qc_value *v = in[i];
        float sx = scale_at(in[i + 1], 0);
        int32_t zx = zp_at(in[i + 2], 0);
        uint8_t table[256];
        float real[256];
        uint8_t codes[256];
        for (int q = 0; q < 256; q++)
            codes[q] = (uint8_t)q; /* byte q: uint8 q, or int8 (int8_t)q */
        if (is_s8) {
            qc_dequantize_s8(1, 1, 256, (const int8_t *)codes, &sx, &zx, real);
            qc_quant qq = {&sy, &zy, -128, 127};
            qc_quantize_s8(1, 1, 256, real, &qq, (int8_t *)table);
        } else {
            qc_dequantize_u8(1, 1, 256, codes, &sx, &zx, real);
            qc_quant qq = {&sy, &zy, 0, 255};
            qc_quantize_u8(1, 1, 256, real, &qq, table);
        }
        bool identity = sx == sy && zx == zy;
        int64_t row = v->dims[axis] * inner;
        const uint8_t *src = v->data;
        uint8_t *dst = out[0].data;
        for (int64_t o = 0; o < outer; o++) {
            const uint8_t *s = src + o * row;
            uint8_t *d = dst + o * out_row + offset;
            if (identity)
                memcpy(d, s, (size_t)row);
            else
                for (int64_t e = 0; e < row; e++)
                    d[e] = table[s[e]];
        }
        offset += row;
    }
    return QC_OK;
}

/* ---- com.microsoft QLinearAveragePool ---------------------------------------------------- */

typedef struct {
    qc_window_attrs win;
    bool count_include_pad;
} qavg_state;

static qc_status qavg_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    qavg_state st = {0};
    qc_status s = qc_node_check_arity(n, 4, 5, 1, err);
    if (s == QC_OK)
        s = qc_window_parse(n, &st.win, err);
    if (s == QC_OK && !st.win.has_kernel)
        s = qc_node_fail(err, n, "kernel_shape is required");
    if (s == QC_OK && qc_node_attr_int(n, "channels_last", 0) != 0)
        s = qc_node_fail(err, n, "channels_last=1 is not supported (NCHW only)");
    if (s != QC_OK)
        return s;
    st.count_include_pad = qc_node_attr_int(n, "count_include_pad", 0) != 0;
    qavg_state *p = malloc(sizeof *p);
    if (!p)
        return qc_fail(err, QC_ERR_IO, "out of memory checking node '%s'", n->name);
    *p = st;
    free(n->state);
    n->state = p;
    return QC_OK;
}

static qc_status qavg_geometry(const qc_node *n, const qc_value *const *in, qc_f32_window *win,
                               qc_error *err)
{
    const qavg_state *st = n->state;
    const qc_value *x = in[0];
    qc_status s;
    if (!is_8bit(x->dtype) || x->rank != st->win.spatial + 2)
        return qc_node_fail(err, n, "X must be uint8 or int8 with %d spatial dimensions", st->win.spatial);
    if ((s = read_scales(n, in[1], "x_scale", 1, err)) != QC_OK ||
        (s = read_scales(n, in[3], "y_scale", 1, err)) != QC_OK ||
        (s = check_zp(n, in[2], "x_zero_point", 1, err)) != QC_OK ||
        (s = check_zp(n, input(n, in, 4), "y_zero_point", 1, err)) != QC_OK)
        return s;
    return qc_window_geometry(n, &st->win, x, st->win.kernel, win, err);
}

static qc_status qavg_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                            qc_error *err)
{
    qc_f32_window win;
    qc_status s = qavg_geometry(n, in, &win, err);
    if (s != QC_OK)
        return s;
    out[0] = *in[0];
    out[0].data = NULL;
    for (int i = 0; i < win.spatial; i++)
        out[0].dims[2 + i] = win.out[i];
    return QC_OK;
}

/* As ONNX Runtime: dequantize, average in float, quantize (docs/quantization.md, A4). */
static qc_status qavg_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                          qc_error *err)
{
    const qavg_state *st = n->state;
    qc_f32_window win;
    qc_status s = qavg_geometry(n, in, &win, err);
    if (s != QC_OK)
        return s;
    size_t in_count = (size_t)qc_value_count(in[0]), out_count = (size_t)qc_value_count(&out[0]);
    carver c = {qc_exec_scratch(x, round64(in_count * 4) + round64(out_count * 4)), 0};
    if (!c.base)
        return qc_fail(err, QC_ERR_IO, "out of memory running node '%s'", n->name);
    float *xf = carve(&c, in_count * 4), *yf = carve(&c, out_count * 4);
    float sx = scale_at(in[1], 0), sy = scale_at(in[3], 0);
    int32_t zx = zp_at(in[2], 0), zy = zp_at(input(n, in, 4), 0);
    if (in[0]->dtype == QC_UINT8)
        qc_dequantize_u8(1, 1, in_count, in[0]->data, &sx, &zx, xf);
    else
        qc_dequantize_s8(1, 1, in_count, in[0]->data, &sx, &zx, xf);
    qc_f32_avgpool(&win, in[0]->dims[0] * in[0]->dims[1], st->count_include_pad, xf, yf);
    qc_quant q = {&sy, &zy, 0, 0};
    type_range(in[0]->dtype, &q.qmin, &q.qmax);
    if (in[0]->dtype == QC_UINT8)
        qc_quantize_u8(1, 1, out_count, yf, &q, out[0].data);
    else
        qc_quantize_s8(1, 1, out_count, yf, &q, out[0].data);
    return QC_OK;
}

/* ---- com.microsoft QLinearMul (A, B and their parameters as QLinearAdd's) -------------- */

/* v as `count` u8 bytes in y's shape: broadcast when smaller, mapped from int8 (a + 128)
 * when is_s8; points into scratch from c, or at v's data when nothing is needed. */
static const uint8_t *u8_operand(const qc_value *v, const qc_value *y, size_t count, bool is_s8,
                                 carver *c)
{
    bool full = (size_t)qc_value_count(v) == count && v->rank == y->rank;
    if (!is_s8 && full)
        return v->data;
    uint8_t *t = carve(c, count);
    if (full)
        memcpy(t, v->data, count);
    else
        broadcast_u8(v, y, t);
    if (is_s8)
        s8_to_u8(count, t, t);
    return t;
}

/* y = clamp(rint((a − z_a)(b − z_b) · s_a·s_b / s_y) + z_y) with the multiplier of R0 (eqs.
 * M1–M3); int8 runs on the u8 kernel with every zero point moved by 128. */
static qc_status qmul_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                          qc_error *err)
{
    const act_clamp *cl = n->state;
    size_t count = (size_t)qc_value_count(&out[0]);
    bool is_s8 = in[0]->dtype == QC_INT8;
    carver c = {qc_exec_scratch(x, 2 * round64(count ? count : 1)), 0};
    if (!c.base)
        return qc_fail(err, QC_ERR_IO, "out of memory running node '%s'", n->name);
    const uint8_t *pa = u8_operand(in[0], &out[0], count, is_s8, &c);
    const uint8_t *pb = u8_operand(in[3], &out[0], count, is_s8, &c);
    const int32_t off = is_s8 ? 128 : 0;
    qc_qmul p = {0};
    double m = (double)scale_at(in[1], 0) * scale_at(in[4], 0) / scale_at(in[6], 0);
    qc_status s = real_multiplier(n, m, &p.multiplier, &p.shift, err);
    if (s != QC_OK)
        return s;
    p.a_zero_point = zp_at(input(n, in, 2), 0) + off;
    p.b_zero_point = zp_at(input(n, in, 5), 0) + off;
    p.y_zero_point = zp_at(input(n, in, 7), 0) + off;
    clamp_range(cl, in[0]->dtype, &p.qmin, &p.qmax);
    p.qmin += off;
    p.qmax += off;
    qc_qmul_u8__scalar(count, pa, pb, &p, out[0].data);
    if (is_s8)
        s8_to_u8(count, out[0].data, out[0].data);
    return QC_OK;
}

/* ---- activations by table: com.microsoft QLinearSigmoid, QLinearLeakyRelu; qcal
 * QLinearHardSwish, QLinearHardSigmoid, QLinearTanh (X, X_scale, X_zero_point, Y_scale,
 * Y_zero_point, the float op's attributes) ------------------------------------------------- */

typedef enum { LUT_SIGMOID, LUT_LEAKY_RELU, LUT_UNARY } lut_kind;

static const struct {
    const char *op_type;
    lut_kind kind;
    qc_f32_unary_op op; /* LUT_UNARY */
} lut_ops[] = {
    {"QLinearSigmoid", LUT_SIGMOID, QC_F32_TANH},
    {"QLinearLeakyRelu", LUT_LEAKY_RELU, QC_F32_TANH},
    {"QLinearHardSwish", LUT_UNARY, QC_F32_HARD_SWISH},
    {"QLinearHardSigmoid", LUT_UNARY, QC_F32_HARD_SIGMOID},
    {"QLinearTanh", LUT_UNARY, QC_F32_TANH},
};

typedef struct {
    lut_kind kind;
    qc_f32_unary_op op;
    qc_f32_unary_params p; /* alpha: LeakyRelu and HardSigmoid; beta: HardSigmoid */
    qc_dtype type;         /* of the codes the table was built for; QC_UNDEFINED: not built */
    uint8_t table[256];
} lut_state;

/* The float op on n values, with the kernel its FP32 row runs (ops-fp32.c, ops-math.c). */
static void lut_apply(const lut_state *st, size_t n, const float *x, float *y)
{
    if (st->kind == LUT_SIGMOID)
        qc_f32_sigmoid((int64_t)n, x, y);
    else if (st->kind == LUT_LEAKY_RELU)
        qc_f32_leaky_relu((int64_t)n, st->p.alpha, x, y);
    else
        qc_f32_unary(st->op, &st->p, (int64_t)n, x, y);
}

/* Eq. L1: table[c] = Q_y(f(D_x(c))) for each of the 256 codes c of type t (an int8 code at
 * the index of its byte), through the DequantizeLinear, float and QuantizeLinear kernels that
 * DQ → op → Q runs, so the lookup gives that graph's output bit for bit. */
static void lut_build(const lut_state *st, qc_dtype t, float xs, int32_t xz, float ys, int32_t yz,
                      uint8_t table[256])
{
    uint8_t codes[256];
    float xf[256], yf[256];
    for (int i = 0; i < 256; i++)
        codes[i] = (uint8_t)i;
    qc_quant q = {&ys, &yz, 0, 0};
    type_range(t, &q.qmin, &q.qmax);
    if (t == QC_UINT8)
        qc_dequantize_u8(1, 1, 256, codes, &xs, &xz, xf);
    else
        qc_dequantize_s8(1, 1, 256, (const int8_t *)codes, &xs, &xz, xf);
    lut_apply(st, 256, xf, yf);
    if (t == QC_UINT8)
        qc_quantize_u8(1, 1, 256, yf, &q, table);
    else
        qc_quantize_s8(1, 1, 256, yf, &q, (int8_t *)table);
}

static qc_status lut_attrs(const qc_node *n, lut_state *st, qc_error *err)
{
    for (size_t i = 0; i < sizeof lut_ops / sizeof lut_ops[0]; i++)
        if (!strcmp(n->op_type, lut_ops[i].op_type)) {
            st->kind = lut_ops[i].kind;
            st->op = lut_ops[i].op;
        }
    if (st->kind == LUT_LEAKY_RELU)
        return qc_node_float(n, "alpha", 0.01f, &st->p.alpha, err);
    if (st->kind == LUT_UNARY && st->op == QC_F32_HARD_SIGMOID) {
        qc_status s = qc_node_float(n, "alpha", 0.2f, &st->p.alpha, err);
        return s == QC_OK ? qc_node_float(n, "beta", 0.5f, &st->p.beta, err) : s;
    }
    return QC_OK;
}

/* A constant 8-bit scalar zero point of graph g (input k of n), or NULL. */
static const qc_value *const_zp(const qc_graph *g, const qc_node *n, int k)
{
    int t = k < n->n_inputs ? n->inputs[k] : -1;
    const qc_value *v = t >= 0 && g->tensors[t].is_const ? &g->tensors[t].value : NULL;
    return v && v->data && is_8bit(v->dtype) && qc_value_count(v) == 1 ? v : NULL;
}

static float const_scale(const qc_graph *g, const qc_node *n, int k)
{
    int t = n->inputs[k];
    const qc_value *v = g->tensors[t].is_const ? &g->tensors[t].value : NULL;
    bool ok = v && v->data && v->dtype == QC_FLOAT && qc_value_count(v) == 1;
    return ok ? *(const float *)v->data : NAN;
}

/* The table is built here when the parameters are constants with both zero points given
 * (they tell the type), else on each run. */
static qc_status lut_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    lut_state st = {.type = QC_UNDEFINED};
    qc_status s = qc_node_check_arity(n, 4, 5, 1, err);
    if (s == QC_OK && (n->inputs[0] < 0 || n->inputs[1] < 0 || n->inputs[3] < 0))
        s = qc_node_fail(err, n, "X, X_scale and Y_scale are required");
    if (s == QC_OK)
        s = lut_attrs(n, &st, err);
    if (s != QC_OK)
        return s;
    const qc_value *xz = const_zp(g, n, 2), *yz = const_zp(g, n, 4);
    float xs = const_scale(g, n, 1), ys = const_scale(g, n, 3);
    if (xz && yz && xz->dtype == yz->dtype && xs > 0 && ys > 0 && isfinite(xs) && isfinite(ys)) {
        st.type = xz->dtype;
        lut_build(&st, st.type, xs, zp_at(xz, 0), ys, zp_at(yz, 0), st.table);
    }
    return qc_node_keep_state(n, &st, sizeof st, err);
}

static qc_status lut_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                           qc_error *err)
{
    const qc_value *x = in[0], *xz = input(n, in, 2), *yz = input(n, in, 4);
    if (!is_8bit(x->dtype))
        return qc_node_fail(err, n, "X is %s; uint8 or int8 expected", qc_dtype_name(x->dtype));
    if ((xz && xz->dtype != x->dtype) || (yz && yz->dtype != x->dtype))
        return qc_node_fail(err, n, "the zero points must have X's type %s", qc_dtype_name(x->dtype));
    qc_status s;
    if ((s = read_scales(n, in[1], "X_scale", 1, err)) != QC_OK ||
        (s = read_scales(n, in[3], "Y_scale", 1, err)) != QC_OK ||
        (s = check_zp(n, xz, "X_zero_point", 1, err)) != QC_OK ||
        (s = check_zp(n, yz, "Y_zero_point", 1, err)) != QC_OK)
        return s;
    out[0] = *x;
    out[0].data = NULL;
    return QC_OK;
}

static qc_status lut_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                         qc_error *err)
{
    (void)x, (void)err;
    const lut_state *st = n->state;
    const qc_value *v = in[0];
    uint8_t own[256];
    const uint8_t *table = st->table;
    if (st->type != v->dtype) {
        lut_build(st, v->dtype, scale_at(in[1], 0), zp_at(input(n, in, 2), 0), scale_at(in[3], 0),
                  zp_at(input(n, in, 4), 0), own);
        table = own;
    }
    qc_lut_u8__scalar((size_t)qc_value_count(v), v->data, table, out[0].data);
    return QC_OK;
}

/* ---- the table --------------------------------------------------------------------------- */

const qc_op qc_ops_int8[] = {
    {"QuantizeLinear", "", qdq_check, quantize_infer, quantize_run, release_state},
    {"DequantizeLinear", "", qdq_check, dequantize_infer, dequantize_run, release_state},
    {"DynamicQuantizeLinear", "", dynq_check, dynq_infer, dynq_run, NULL},
    {"QLinearConv", "", conv_check, conv_infer, conv_run, conv_release},
    {"ConvInteger", "", conv_check, conv_infer, conv_run, conv_release},
    {"QLinearMatMul", "", mm_check, mm_infer, mm_run, mm_release},
    {"MatMulInteger", "", mm_check, mm_infer, mm_run, mm_release},
    {"QLinearAdd", "com.microsoft", qadd_check, qadd_infer, qadd_run, release_state},
    {"QLinearGlobalAveragePool", "com.microsoft", qgap_check, qgap_infer, qgap_run, NULL},
    {"QLinearConcat", "com.microsoft", qconcat_check, qconcat_infer, qconcat_run, release_state},
    {"QLinearAveragePool", "com.microsoft", qavg_check, qavg_infer, qavg_run, release_state},
    {"QGemm", "com.microsoft", mm_check, mm_infer, mm_run, mm_release},
    /* written by qc_pass_fuse_qdq: the same ops with activation_min / activation_max */
    {"QLinearConv", "qcal", conv_check, conv_infer, conv_run, conv_release},
    {"QGemm", "qcal", mm_check, mm_infer, mm_run, mm_release},
    {"QLinearMatMul", "qcal", mm_check, mm_infer, mm_run, mm_release},
    {"QLinearAdd", "qcal", qadd_check, qadd_infer, qadd_run, release_state},
    {"QLinearMul", "com.microsoft", qadd_check, qadd_infer, qmul_run, release_state},
    {"QLinearSigmoid", "com.microsoft", lut_check, lut_infer, lut_run, qc_node_release_state},
    {"QLinearLeakyRelu", "com.microsoft", lut_check, lut_infer, lut_run, qc_node_release_state},
    /* written by qc_pass_fuse_qdq: activations ONNX Runtime has no integer op for */
    {"QLinearHardSwish", "qcal", lut_check, lut_infer, lut_run, qc_node_release_state},
    {"QLinearHardSigmoid", "qcal", lut_check, lut_infer, lut_run, qc_node_release_state},
    {"QLinearTanh", "qcal", lut_check, lut_infer, lut_run, qc_node_release_state},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
