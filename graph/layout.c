/* layout.c — which activations the executor keeps channels last (N x H x W x C) between integer
 * ops, chosen once when a graph is prepared, and the ONNX view of such a value for everything
 * that reads tensors from outside the executor. */
#include <stdlib.h>
#include <string.h>

#include "graph-impl.h"

static bool is_8bit(qc_dtype t)
{
    return t == QC_UINT8 || t == QC_INT8;
}

/* The 4-d 8-bit activation tensor t, or NULL when t is anything else. */
static const qc_value *activation_4d(const qc_graph *g, int t)
{
    if (t < 0)
        return NULL;
    const qc_tensor *tt = &g->tensors[t];
    if (tt->is_const || tt->is_input || tt->is_output || tt->producer < 0)
        return NULL;
    return tt->value.rank == 4 && is_8bit(tt->value.dtype) ? &tt->value : NULL;
}

/* How node n may treat channels-last activations. */
static qc_layout_rule rule_of(const qc_graph *g, const qc_node *n)
{
    qc_layout_rule r = {{-1, -1}, false, false};
    const bool contrib_op = !strcmp(n->domain, "com.microsoft") || !strcmp(n->domain, "qcal");
    if (!strcmp(n->op_type, "QLinearConv") && qc_conv_channels_last(g, n)) {
        r.inputs[0] = 0; /* x: either layout; W, scales and zero points are constants */
        r.output = true;
    } else if (!strcmp(n->op_type, "QLinearAdd") && contrib_op && n->n_inputs >= 4) {
        /* elementwise on operands of one shape: the layout is the operands' and the result's */
        const qc_value *a = activation_4d(g, n->inputs[0]), *b = activation_4d(g, n->inputs[3]);
        const qc_value *y = activation_4d(g, n->outputs[0]);
        if (a && b && y && qc_same_shape(a, y) && qc_same_shape(b, y)) {
            r.inputs[0] = 0;
            r.inputs[1] = 3;
            r.output = r.tied = true;
        }
    } else if (!strcmp(n->op_type, "MaxPool") && !n->domain[0] && n->n_outputs == 1 &&
               activation_4d(g, n->inputs[0])) {
        r.inputs[0] = 0; /* per channel: the input's layout is the output's */
        r.output = r.tied = true;
    } else if (!strcmp(n->op_type, "QLinearGlobalAveragePool") && contrib_op) {
        r.inputs[0] = 0; /* reads either; its output, N x C x 1 x 1, stays ONNX's */
    }
    return r;
}

static bool rule_takes(const qc_layout_rule *r, int k)
{
    return r->inputs[0] == k || r->inputs[1] == k;
}

/* Demotes to ONNX's layout every tensor node n does not take or give channels last, and all
 * of a tied node's tensors when one of them is demoted; whether anything changed. */
static bool demote(const qc_graph *g, const qc_node *n, bool *cl)
{
    const qc_layout_rule r = rule_of(g, n);
    bool changed = false, any_onnx = false;
    for (int k = 0; k < n->n_inputs; k++) {
        const int t = n->inputs[k];
        if (t >= 0 && cl[t] && !rule_takes(&r, k)) {
            cl[t] = false;
            changed = true;
        }
        any_onnx |= rule_takes(&r, k) && t >= 0 && !cl[t];
    }
    for (int k = 0; k < n->n_outputs; k++) {
        const int t = n->outputs[k];
        if (t >= 0 && cl[t] && !(k == 0 && r.output)) {
            cl[t] = false;
            changed = true;
        }
    }
    any_onnx |= n->outputs[0] >= 0 && !cl[n->outputs[0]];
    if (!r.tied || !any_onnx)
        return changed;
    for (int i = 0; i < 2; i++)
        if (r.inputs[i] >= 0 && n->inputs[r.inputs[i]] >= 0 && cl[n->inputs[r.inputs[i]]]) {
            cl[n->inputs[r.inputs[i]]] = false;
            changed = true;
        }
    if (n->outputs[0] >= 0 && cl[n->outputs[0]]) {
        cl[n->outputs[0]] = false;
        changed = true;
    }
    return changed;
}

/* Every 4-d 8-bit activation starts channels last; nodes demote what they cannot take or
 * give until nothing changes. Only demotions happen, so the result is the largest choice
 * every node accepts, the same whatever the order of the sweeps. */
qc_status qc_pass_choose_layouts(qc_graph *g, qc_error *err)
{
    bool *cl = calloc((size_t)g->n_tensors + 1, sizeof *cl);
    if (!cl)
        return qc_fail(err, QC_ERR_IO, "out of memory choosing the layouts of '%s'", g->name);
    for (int t = 0; t < g->n_tensors; t++)
        cl[t] = activation_4d(g, t) != NULL;
    for (bool changed = true; changed;) {
        changed = false;
        for (int i = 0; i < g->n_nodes; i++)
            changed |= demote(g, &g->nodes[i], cl);
    }
    for (int t = 0; t < g->n_tensors; t++)
        g->tensors[t].value.layout = cl[t] ? QC_LAYOUT_CHANNELS_LAST : QC_LAYOUT_ONNX;
    free(cl);
    return QC_OK;
}

void qc_value_copy_onnx(const qc_value *v, void *dst)
{
    const size_t bytes = qc_value_bytes(v);
    if (v->layout != QC_LAYOUT_CHANNELS_LAST) {
        if (bytes)
            memcpy(dst, v->data, bytes);
        return;
    }
    /* only 4-d 8-bit activations are kept channels last: [H·W][C] → [C][H·W] per image */
    const size_t images = (size_t)v->dims[0], channels = (size_t)v->dims[1];
    const size_t plane = (size_t)v->dims[2] * (size_t)v->dims[3];
    for (size_t b = 0; b < images; b++)
        qc_transpose_u8(plane, channels, (const uint8_t *)v->data + b * plane * channels, channels,
                        (uint8_t *)dst + b * plane * channels, plane);
}
