/* ops-convtranspose.c — ConvTranspose on float tensors, 1 to 3 spatial dimensions (kernels/fp32
 * qc_f32_conv_transpose): group, pads or auto_pad, output_padding, output_shape, dilations. */
#include <stdlib.h>
#include <string.h>

#include "graph-impl.h"

typedef struct {
    qc_window_attrs win;
    int64_t group;
    int n_output_padding, n_output_shape;
    int64_t output_padding[QC_F32_MAX_SPATIAL];
    int64_t output_shape[QC_F32_MAX_SPATIAL + 2];
} conv_transpose_state;

/* An INTS attribute of at most max values into dst; *count 0 when absent. */
static qc_status read_ints_attr(const qc_node *n, const char *name, int max, int64_t *dst, int *count,
                                qc_error *err)
{
    const qc_attr *a = qc_node_attr(n, name);
    *count = 0;
    if (!a)
        return QC_OK;
    if (a->type != QC_ATTR_INTS || a->n > max)
        return qc_node_fail(err, n, "attribute %s must list at most %d integers", name, max);
    *count = a->n;
    memcpy(dst, a->ints, (size_t)a->n * sizeof *dst);
    return QC_OK;
}

static qc_status conv_transpose_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    conv_transpose_state st;
    memset(&st, 0, sizeof st);
    qc_status s = qc_node_check_arity(n, 2, 3, 1, err);
    if (s == QC_OK)
        s = qc_window_parse(n, &st.win, err);
    if (s == QC_OK)
        s = read_ints_attr(n, "output_padding", QC_F32_MAX_SPATIAL, st.output_padding, &st.n_output_padding, err);
    if (s == QC_OK)
        s = read_ints_attr(n, "output_shape", QC_F32_MAX_SPATIAL + 2, st.output_shape, &st.n_output_shape, err);
    if (s != QC_OK)
        return s;
    st.group = qc_node_attr_int(n, "group", 1);
    if (st.group < 1 || st.group > QC_MAX_DIM)
        return qc_node_fail(err, n, "attribute group must be positive, not %lld", (long long)st.group);
    for (int i = 0; i < st.n_output_padding; i++)
        if (st.output_padding[i] < 0 || st.output_padding[i] > QC_MAX_WINDOW)
            return qc_node_fail(err, n, "attribute output_padding must be in [0, 2^20]");
    for (int i = 0; i < st.n_output_shape; i++)
        if (st.output_shape[i] < 0 || st.output_shape[i] > QC_MAX_DIM)
            return qc_node_fail(err, n, "attribute output_shape has a negative or huge size");
    conv_transpose_state *copy = malloc(sizeof *copy);
    if (!copy)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    *copy = st;
    n->state = copy;
    return QC_OK;
}

static void conv_transpose_release(qc_node *n)
{
    free(n->state);
    n->state = NULL;
}

/* The pads (from output_shape or auto_pad, else the attribute) and the output size of spatial
 * dimension i, as the ONNX operator's equations give them. */
static void dimension(const conv_transpose_state *st, int i, int spatial, int64_t in, int64_t kernel,
                      qc_f32_window *w)
{
    const qc_window_attrs *wa = &st->win;
    int64_t adj = i < st->n_output_padding ? st->output_padding[i] : 0;
    int64_t full = wa->stride[i] * (in - 1) + adj + (kernel - 1) * wa->dilation[i] + 1;
    bool given = st->n_output_shape > 0;
    bool same = wa->auto_pad == QC_PAD_SAME_UPPER || wa->auto_pad == QC_PAD_SAME_LOWER;
    w->pad_begin[i] = wa->pad_begin[i];
    w->pad_end[i] = wa->pad_end[i];
    if (given || same) {
        int64_t out = given ? st->output_shape[st->n_output_shape - spatial + i] : in * wa->stride[i];
        int64_t total = full - out;
        /* an odd total pads more at the end, except with SAME_LOWER (as ONNX Runtime) */
        w->pad_begin[i] = wa->auto_pad == QC_PAD_SAME_LOWER ? total - total / 2 : total / 2;
        w->pad_end[i] = total - w->pad_begin[i];
    } else if (wa->auto_pad == QC_PAD_VALID) {
        w->pad_begin[i] = w->pad_end[i] = 0;
    }
    w->out[i] = full - w->pad_begin[i] - w->pad_end[i];
}

static qc_status geometry(const qc_node *n, const qc_value *const *in, qc_f32_conv_transpose_params *p,
                          qc_error *err)
{
    const conv_transpose_state *st = n->state;
    const qc_value *x = in[0], *w = in[1], *b = n->n_inputs > 2 ? in[2] : NULL;
    if (x->dtype != QC_FLOAT || w->dtype != QC_FLOAT || (b && b->dtype != QC_FLOAT))
        return qc_node_fail(err, n, "takes float32 inputs");
    if (x->rank < 3 || x->rank > 2 + QC_F32_MAX_SPATIAL || w->rank != x->rank)
        return qc_node_fail(err, n, "X and W must have one rank in [3, %d]", 2 + QC_F32_MAX_SPATIAL);
    int spatial = x->rank - 2;
    if ((st->win.spatial && st->win.spatial != spatial) ||
        (st->n_output_shape && st->n_output_shape != spatial && st->n_output_shape != spatial + 2) ||
        (st->n_output_padding && st->n_output_padding != spatial))
        return qc_node_fail(err, n, "the attributes do not give %d spatial dimensions", spatial);
    memset(p, 0, sizeof *p);
    p->in_channels = x->dims[1];
    p->groups = st->group;
    if (w->dims[0] != p->in_channels || p->in_channels % p->groups)
        return qc_node_fail(err, n, "W has %lld input channels, X %lld, in %lld groups", (long long)w->dims[0],
                            (long long)p->in_channels, (long long)p->groups);
    if (!qc_mul_dims(w->dims[1], p->groups, &p->out_channels))
        return qc_node_fail(err, n, "too many output channels");
    if (b && (b->rank != 1 || b->dims[0] != p->out_channels))
        return qc_node_fail(err, n, "B must hold %lld values", (long long)p->out_channels);
    p->win.spatial = spatial;
    for (int i = 0; i < spatial; i++) {
        int64_t k = w->dims[2 + i];
        if (st->win.has_kernel && st->win.kernel[i] != k)
            return qc_node_fail(err, n, "kernel_shape does not match W");
        p->win.in[i] = x->dims[2 + i];
        p->win.kernel[i] = k;
        p->win.stride[i] = st->win.stride[i];
        p->win.dilation[i] = st->win.dilation[i];
        if (k < 1 || p->win.in[i] < 1 || k > QC_MAX_WINDOW)
            return qc_node_fail(err, n, "spatial dimension %d is empty or its kernel too large", i);
        dimension(st, i, spatial, p->win.in[i], k, &p->win);
        if (p->win.out[i] < 0)
            return qc_node_fail(err, n, "the pads leave no output in spatial dimension %d", i);
    }
    /* the GEMM to columns takes 32-bit sizes (kernels/fp32/fp32.h) */
    int64_t columns = 1, rows = w->dims[1];
    for (int i = 0; i < spatial; i++) {
        columns *= p->win.in[i];
        rows *= p->win.kernel[i];
    }
    if (columns >= INT32_MAX || rows >= INT32_MAX || p->in_channels >= INT32_MAX)
        return qc_node_fail(err, n, "a GEMM dimension reaches 2^31");
    return QC_OK;
}

static qc_status conv_transpose_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                                      qc_error *err)
{
    qc_f32_conv_transpose_params p;
    qc_status s = geometry(n, in, &p, err);
    if (s != QC_OK)
        return s;
    out[0] = (qc_value){.dtype = QC_FLOAT, .rank = in[0]->rank, .dims = {in[0]->dims[0], p.out_channels}};
    for (int i = 0; i < p.win.spatial; i++)
        out[0].dims[2 + i] = p.win.out[i];
    return QC_OK;
}

static qc_status conv_transpose_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                                    qc_value *out, qc_error *err)
{
    qc_f32_conv_transpose_params p;
    qc_status s = geometry(n, in, &p, err);
    if (s != QC_OK)
        return s;
    void *scratch = qc_exec_scratch(x, qc_f32_conv_transpose_scratch_size(&p) + 64);
    if (!scratch)
        return qc_node_fail(err, n, "out of memory");
    const qc_value *b = n->n_inputs > 2 ? in[2] : NULL;
    qc_f32_conv_transpose(&p, in[0]->dims[0], in[0]->data, in[1]->data, b ? b->data : NULL, out[0].data,
                          scratch);
    return QC_OK;
}

const qc_op qc_ops_conv_transpose[] = {
    {"ConvTranspose", "", conv_transpose_check, conv_transpose_infer, conv_transpose_run,
     conv_transpose_release},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
