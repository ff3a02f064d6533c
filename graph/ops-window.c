/* ops-window.c — what the op files share: node messages, arity checks, and the window
 * attributes of Conv and the pools (kernel_shape, strides, dilations, pads, auto_pad), FP32 and
 * quantized alike. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "graph-impl.h"

qc_status qc_node_fail(qc_error *err, const qc_node *n, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qc_fail(err, QC_ERR_INPUT, "node '%s' (%s): %s", n->name, n->op_type, msg);
}

qc_status qc_node_check_arity(const qc_node *n, int min_in, int max_in, int max_out, qc_error *err)
{
    if (n->n_inputs < min_in || n->n_inputs > max_in) {
        if (min_in == max_in)
            return qc_node_fail(err, n, "takes %d input%s, %d given", min_in, min_in == 1 ? "" : "s",
                             n->n_inputs);
        return qc_node_fail(err, n, "takes %d to %d inputs, %d given", min_in, max_in, n->n_inputs);
    }
    for (int k = 0; k < min_in; k++)
        if (n->inputs[k] < 0)
            return qc_node_fail(err, n, "input %d is required", k);
    if (n->n_outputs < 1 || n->n_outputs > max_out)
        return qc_node_fail(err, n, "has %d outputs, %d supported at most", n->n_outputs, max_out);
    return QC_OK;
}

qc_status qc_node_check_outputs(const qc_graph *g, const qc_node *n, const qc_value *out,
                                qc_error *err)
{
    for (int k = 0; k < n->n_outputs; k++) {
        char what[512];
        const int t = n->outputs[k];
        snprintf(what, sizeof what, "output '%s' of node '%s' (%s)", t >= 0 ? g->tensors[t].name : "",
                 n->name, n->op_type);
        qc_status s = qc_value_check(&out[k], what, err);
        if (s != QC_OK)
            return s;
    }
    return QC_OK;
}

/* ---- window attributes ------------------------------------------------------------------- */

/* Reads an ints attribute of at most max values into dst; *count is 0 when it is absent. */
static qc_status attr_ints(const qc_node *n, const char *name, int max, int64_t *dst, int *count,
                           qc_error *err)
{
    const qc_attr *a = qc_node_attr(n, name);
    *count = 0;
    if (!a)
        return QC_OK;
    if (a->type != QC_ATTR_INTS)
        return qc_node_fail(err, n, "attribute '%s' must be a list of ints", name);
    if (a->n > max)
        return qc_node_fail(err, n, "%s has %d values; 1 to %d spatial dimensions are supported", name,
                         a->n, QC_F32_MAX_SPATIAL);
    if (a->n > 0)
        memcpy(dst, a->ints, (size_t)a->n * sizeof *dst);
    *count = a->n;
    return QC_OK;
}

/* A 0/1 int attribute (ceil_mode). */
static qc_status int_flag(const qc_node *n, const char *name, bool *v, qc_error *err)
{
    const qc_attr *a = qc_node_attr(n, name);
    *v = false;
    if (!a)
        return QC_OK;
    if (a->type != QC_ATTR_INT)
        return qc_node_fail(err, n, "attribute '%s' must be an int", name);
    if (a->i != 0 && a->i != 1)
        return qc_node_fail(err, n, "%s must be 0 or 1, not %lld", name, (long long)a->i);
    *v = a->i == 1;
    return QC_OK;
}

static qc_status parse_auto_pad(const qc_node *n, qc_auto_pad *mode, qc_error *err)
{
    const qc_attr *a = qc_node_attr(n, "auto_pad");
    *mode = QC_PAD_NOTSET;
    if (!a)
        return QC_OK;
    if (a->type != QC_ATTR_STRING || !a->s)
        return qc_node_fail(err, n, "attribute 'auto_pad' must be a string");
    if (!strcmp(a->s, "NOTSET") || !a->s[0])
        *mode = QC_PAD_NOTSET;
    else if (!strcmp(a->s, "VALID"))
        *mode = QC_PAD_VALID;
    else if (!strcmp(a->s, "SAME_UPPER"))
        *mode = QC_PAD_SAME_UPPER;
    else if (!strcmp(a->s, "SAME_LOWER"))
        *mode = QC_PAD_SAME_LOWER;
    else
        return qc_node_fail(err, n, "auto_pad '%s' is not supported", a->s);
    return QC_OK;
}

/* Agrees the spatial rank implied by one list attribute with the one found so far. */
static qc_status agree_spatial(const qc_node *n, const char *name, int count, int *spatial,
                               qc_error *err)
{
    if (count == 0)
        return QC_OK;
    if (*spatial && *spatial != count)
        return qc_node_fail(err, n, "%s has %d values where other attributes give %d spatial dimensions",
                         name, count, *spatial);
    *spatial = count;
    return QC_OK;
}

qc_status qc_window_parse(const qc_node *n, qc_window_attrs *wa, qc_error *err)
{
    int n_kernel, n_stride, n_dilation, n_pads;
    int64_t pads[2 * QC_F32_MAX_SPATIAL];
    memset(wa, 0, sizeof *wa);
    qc_status s = parse_auto_pad(n, &wa->auto_pad, err);
    if (s == QC_OK)
        s = attr_ints(n, "kernel_shape", QC_F32_MAX_SPATIAL, wa->kernel, &n_kernel, err);
    if (s == QC_OK)
        s = attr_ints(n, "strides", QC_F32_MAX_SPATIAL, wa->stride, &n_stride, err);
    if (s == QC_OK)
        s = attr_ints(n, "dilations", QC_F32_MAX_SPATIAL, wa->dilation, &n_dilation, err);
    if (s == QC_OK)
        s = attr_ints(n, "pads", 2 * QC_F32_MAX_SPATIAL, pads, &n_pads, err);
    if (s == QC_OK && n_pads % 2)
        s = qc_node_fail(err, n, "pads has %d values; it needs a begin and an end per dimension",
                      n_pads);
    if (s == QC_OK)
        s = agree_spatial(n, "kernel_shape", n_kernel, &wa->spatial, err);
    if (s == QC_OK)
        s = agree_spatial(n, "strides", n_stride, &wa->spatial, err);
    if (s == QC_OK)
        s = agree_spatial(n, "dilations", n_dilation, &wa->spatial, err);
    if (s == QC_OK)
        s = agree_spatial(n, "pads", n_pads / 2, &wa->spatial, err);
    if (s == QC_OK)
        s = int_flag(n, "ceil_mode", &wa->ceil_mode, err);
    if (s != QC_OK)
        return s;
    wa->has_kernel = n_kernel > 0;
    for (int i = 0; i < QC_F32_MAX_SPATIAL; i++) {
        if (i >= n_stride)
            wa->stride[i] = 1;
        if (i >= n_dilation)
            wa->dilation[i] = 1;
        /* Explicit pads only count without auto_pad: ONNX forbids both at once, and exporters
         * that write zero pads next to an auto_pad mean nothing by them. */
        bool explicit_pads = i < n_pads / 2 && wa->auto_pad == QC_PAD_NOTSET;
        wa->pad_begin[i] = explicit_pads ? pads[i] : 0;
        wa->pad_end[i] = explicit_pads ? pads[i + n_pads / 2] : 0;
        if ((i < n_kernel && wa->kernel[i] < 1) || wa->stride[i] < 1 || wa->dilation[i] < 1)
            return qc_node_fail(err, n, "kernel_shape, strides and dilations must be positive");
        if (wa->pad_begin[i] < 0 || wa->pad_end[i] < 0)
            return qc_node_fail(err, n, "negative pads are not supported");
        /* bounds that keep every window sum below 2^62 with dimensions of up to 2^40 */
        if ((i < n_kernel && wa->kernel[i] > QC_MAX_WINDOW) || wa->stride[i] > QC_MAX_WINDOW ||
            wa->dilation[i] > QC_MAX_WINDOW || wa->pad_begin[i] > QC_MAX_WINDOW ||
            wa->pad_end[i] > QC_MAX_WINDOW)
            return qc_node_fail(err, n,
                                "kernel_shape, strides, dilations and pads must be at most 2^20");
        /* as ONNX Runtime: a pool's padding is smaller than its window, so that every window
         * sees the input (larger pads only make outputs of padding) */
        int64_t span = i < n_kernel ? (wa->kernel[i] - 1) * wa->dilation[i] + 1 : 0;
        if (strstr(n->op_type, "Pool") && i < n_kernel &&
            (wa->pad_begin[i] >= span || wa->pad_end[i] >= span))
            return qc_node_fail(err, n, "pads %lld+%lld are not smaller than the window of %lld",
                                (long long)wa->pad_begin[i], (long long)wa->pad_end[i],
                                (long long)span);
    }
    return QC_OK;
}

qc_status qc_window_geometry(const qc_node *n, const qc_window_attrs *wa, const qc_value *x,
                                 const int64_t *kernel, qc_f32_window *win, qc_error *err)
{
    int spatial = x->rank - 2;
    memset(win, 0, sizeof *win);
    win->spatial = spatial;
    for (int i = 0; i < spatial; i++) {
        int64_t in = x->dims[2 + i], k = kernel[i], s = wa->stride[i], d = wa->dilation[i];
        int64_t pb = 0, pe = 0, out;
        if (wa->auto_pad == QC_PAD_SAME_UPPER || wa->auto_pad == QC_PAD_SAME_LOWER) {
            /* ONNX: output ceil(in / stride), the padding needed split evenly, the odd one
             * at the end (SAME_UPPER) or at the beginning (SAME_LOWER). */
            out = (in + s - 1) / s;
            int64_t total = (out - 1) * s + (k - 1) * d + 1 - in;
            if (total < 0)
                total = 0;
            pb = wa->auto_pad == QC_PAD_SAME_UPPER ? total / 2 : total - total / 2;
            pe = total - pb;
        } else {
            if (wa->auto_pad == QC_PAD_NOTSET) {
                pb = wa->pad_begin[i];
                pe = wa->pad_end[i];
            }
            out = qc_f32_window_out_size(in, k, s, d, pb, pe, wa->ceil_mode);
        }
        if (out < 1)
            return qc_node_fail(err, n,
                             "a kernel of %lld (dilation %lld) does not fit an input of %lld with pads %lld+%lld",
                             (long long)k, (long long)d, (long long)in, (long long)pb,
                             (long long)pe);
        win->in[i] = in;
        win->out[i] = out;
        win->kernel[i] = k;
        win->stride[i] = s;
        win->dilation[i] = d;
        win->pad_begin[i] = pb;
        win->pad_end[i] = pe;
    }
    return QC_OK;
}

