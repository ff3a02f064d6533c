/* passes.c — graph rewrites: BatchNormalization folded into the Conv or Gemm before it; shape
 * sub-graphs folded under a symbolic batch. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph-impl.h"

static int count_readers(const qc_graph *g, int tensor)
{
    int readers = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            readers += g->nodes[i].inputs[k] == tensor;
    return readers;
}

static const float *const_f32(const qc_graph *g, const qc_node *n, int k, int64_t count)
{
    if (k >= n->n_inputs || n->inputs[k] < 0)
        return NULL;
    const qc_tensor *t = &g->tensors[n->inputs[k]];
    if (!t->is_const || t->value.dtype != QC_FLOAT || qc_value_count(&t->value) != count)
        return NULL;
    return t->value.data;
}

/* Adds a constant float tensor named after base; takes ownership of data. */
static int add_const(qc_graph *g, const char *base, const char *suffix, float *data, int rank,
                     const int64_t *dims)
{
    char name[512];
    int attempt = 0;
    do
        snprintf(name, sizeof name, "%s%s%s", base, suffix, attempt++ ? "_" : "");
    while (qc_graph_find_tensor(g, name) >= 0 && attempt < 100);
    int ti = qc_graph_tensor(g, name);
    if (ti < 0)
        return -1;
    qc_tensor *t = &g->tensors[ti];
    t->value = qc_value_f32(rank, dims, data);
    t->is_const = true;
    return ti;
}

/* Folds BN node bn_index into producer node p when p is a Conv, or a Gemm with alpha = beta = 1
 * and transA = 0, whose weights are constant. Returns QC_OK with *folded false when the
 * pattern does not apply. */
static qc_status fold_one(qc_graph *g, int p_index, int bn_index, bool *folded, qc_error *err)
{
    *folded = false;
    qc_node *p = &g->nodes[p_index];
    qc_node *bn = &g->nodes[bn_index];
    bool conv = !strcmp(p->op_type, "Conv");
    bool gemm = !strcmp(p->op_type, "Gemm");
    if ((!conv && !gemm) || p->domain[0] || p->n_inputs < 2 || p->inputs[1] < 0)
        return QC_OK;
    if (gemm && (qc_node_attr_float(p, "alpha", 1) != 1 || qc_node_attr_float(p, "beta", 1) != 1 ||
                 qc_node_attr_int(p, "transA", 0) != 0))
        return QC_OK;
    const qc_tensor *wt = &g->tensors[p->inputs[1]];
    if (!wt->is_const || wt->value.dtype != QC_FLOAT || wt->value.rank < 2)
        return QC_OK;
    bool trans_b = gemm && qc_node_attr_int(p, "transB", 0) != 0;
    int64_t channels = gemm && !trans_b ? wt->value.dims[1] : wt->value.dims[0];
    int64_t per_channel = qc_value_count(&wt->value) / channels;
    const float *scale = const_f32(g, bn, 1, channels), *shift = const_f32(g, bn, 2, channels);
    const float *mean = const_f32(g, bn, 3, channels), *var = const_f32(g, bn, 4, channels);
    const float *bias = p->n_inputs > 2 ? const_f32(g, p, 2, channels) : NULL;
    if (!scale || !shift || !mean || !var || (p->n_inputs > 2 && p->inputs[2] >= 0 && !bias))
        return QC_OK;
    float eps = qc_node_attr_float(bn, "epsilon", 1e-5f);

    int64_t wcount = qc_value_count(&wt->value);
    float *w = malloc((size_t)wcount * sizeof *w);
    float *b = malloc((size_t)channels * sizeof *b);
    if (!w || !b) {
        free(w);
        free(b);
        return qc_fail(err, QC_ERR_IO, "out of memory folding node '%s'", bn->name);
    }
    const float *w0 = wt->value.data;
    for (int64_t c = 0; c < channels; c++) {
        /* y = (x - mean)·scale/sqrt(var + eps) + shift, computed in double then rounded once */
        double f = scale[c] / sqrt((double)var[c] + eps);
        b[c] = (float)(((bias ? bias[c] : 0.0) - mean[c]) * f + shift[c]);
        if (gemm && !trans_b) {
            for (int64_t k = 0; k < per_channel; k++) /* B is K x M: channel c is column c */
                w[k * channels + c] = (float)(w0[k * channels + c] * f);
        } else {
            for (int64_t k = 0; k < per_channel; k++)
                w[c * per_channel + k] = (float)(w0[c * per_channel + k] * f);
        }
    }
    int64_t wdims[QC_MAX_RANK];
    int wrank = wt->value.rank;
    memcpy(wdims, wt->value.dims, sizeof wdims);
    char base[256];
    snprintf(base, sizeof base, "%s", p->name);
    int wi = add_const(g, base, ".weight_bn", w, wrank, wdims);
    if (wi < 0) {
        free(w);
        free(b);
        return qc_fail(err, QC_ERR_IO, "out of memory folding node '%s'", base);
    }
    int bi = add_const(g, base, ".bias_bn", b, 1, &channels);
    if (bi < 0) {
        free(b);
        return qc_fail(err, QC_ERR_IO, "out of memory folding node '%s'", base);
    }
    if (p->n_inputs < 3) {
        int *grown = realloc(p->inputs, 3 * sizeof *grown);
        if (!grown)
            return qc_fail(err, QC_ERR_IO, "out of memory folding node '%s'", p->name);
        p->inputs = grown;
        p->n_inputs = 3;
    }
    p->inputs[1] = wi;
    p->inputs[2] = bi;
    /* The producer now writes the BN output directly. */
    int bn_out = bn->outputs[0];
    p->outputs[0] = bn_out;
    if (p->op->release)
        p->op->release(p);
    p->state = NULL;
    if (p->op->check) {
        qc_status s = p->op->check(g, p, err);
        if (s != QC_OK)
            return s;
    }
    qc_node_free(bn);
    memmove(bn, bn + 1, (size_t)(g->n_nodes - bn_index - 1) * sizeof *bn);
    g->n_nodes--;
    qc_graph_index_producers(g);
    *folded = true;
    return QC_OK;
}

qc_status qc_pass_fold_batchnorm(qc_graph *g, qc_error *err)
{
    bool any = false;
    for (int i = 0; i < g->n_nodes; i++) {
        qc_node *bn = &g->nodes[i];
        if (strcmp(bn->op_type, "BatchNormalization") || bn->domain[0] || bn->n_outputs != 1 ||
            bn->n_inputs != 5 || bn->inputs[0] < 0)
            continue;
        int x = bn->inputs[0];
        int p = g->tensors[x].producer;
        if (p < 0 || g->tensors[x].is_output || count_readers(g, x) != 1)
            continue;
        bool folded;
        qc_status s = fold_one(g, p, i, &folded, err);
        if (s != QC_OK)
            return s;
        if (folded) {
            any = true;
            i--;
        }
    }
    if (any)
        qc_pass_prune(g);
    return QC_OK;
}

/* ---- activations fused into the FP32 convolution ------------------------------------------ */

/* A Relu's or Clip's bounds as qc_f32_clip takes them, when they are constant (Relu is [0, +inf]:
 * the same bits). */
static bool constant_clamp(const qc_graph *g, const qc_node *act, float *lo, float *hi)
{
    if (act->domain[0] || act->n_inputs < 1 || act->n_outputs != 1 || act->outputs[0] < 0)
        return false;
    if (!strcmp(act->op_type, "Relu")) {
        *lo = 0.0f, *hi = INFINITY;
        return true;
    }
    if (strcmp(act->op_type, "Clip"))
        return false;
    if (g->opset < 11) { /* attributes, with clip_check's defaults */
        *lo = qc_node_attr_float(act, "min", -FLT_MAX);
        *hi = qc_node_attr_float(act, "max", FLT_MAX);
        return true;
    }
    const float *bound[2] = {NULL, NULL};
    for (int k = 1; k < act->n_inputs; k++)
        if (act->inputs[k] >= 0 && !(bound[k - 1] = const_f32(g, act, k, 1)))
            return false; /* a bound computed at run time, or not a float scalar */
    *lo = bound[0] ? *bound[0] : -INFINITY;
    *hi = bound[1] ? *bound[1] : INFINITY;
    return true;
}

int qc_pass_fusable_activation(const qc_graph *g, int producer, float *lo, float *hi)
{
    const qc_node *p = &g->nodes[producer];
    if (strcmp(p->op_type, "Conv") || p->domain[0] || p->n_outputs != 1 || p->outputs[0] < 0)
        return -1;
    int t = p->outputs[0];
    const qc_tensor *y = &g->tensors[t];
    if (y->is_output || y->value.layout != QC_LAYOUT_ONNX || count_readers(g, t) != 1)
        return -1;
    for (int i = producer + 1; i < g->n_nodes; i++) {
        const qc_node *act = &g->nodes[i];
        if (act->n_inputs < 1 || act->inputs[0] != t)
            continue; /* the one reader: fused when it is an activation with constant bounds */
        bool same_layout = act->n_outputs == 1 && act->outputs[0] >= 0 &&
                           g->tensors[act->outputs[0]].value.layout == QC_LAYOUT_ONNX;
        return same_layout && constant_clamp(g, act, lo, hi) ? i : -1;
    }
    return -1;
}

/* ---- shape sub-graphs under a symbolic batch ----------------------------------------------- *
 *
 * Exporters compute reshape targets and "same" pads from x.shape at run time: Shape → Gather →
 * Unsqueeze → Concat → Reshape, or Shape → ConstantOfShape → Slice → Cast → Pad. When an input
 * dimension is symbolic, qc_graph_prepare cannot fold Shape. Such a sub-graph (nodes fed only
 * by constants and by the shapes of activations) is evaluated here with every symbolic
 * dimension set to each of PROBES in turn; a value that comes out the same every time does not
 * depend on them (the reshape targets and pads of image models depend on the batch through
 * copies, sums and products, which tell 1, 2, 3 and 97 apart) and becomes a constant. */
static const int64_t PROBES[] = {1, 2, 3, 97};
#define N_PROBES ((int)(sizeof PROBES / sizeof PROBES[0]))
#define PROBE_MAX_ELEMENTS 4096

typedef struct {
    qc_graph *g;
    bool *shape_only;  /* per tensor: computed from constants and activation shapes only */
    qc_value *values;  /* per tensor, this probe: dims (rank -1: unknown), data for shape_only */
    bool *owned;       /* values[t].data allocated by this probe */
    qc_value *first;   /* per tensor: the first probe's shape_only values (owned data) */
    bool *stable;      /* per tensor: the same at every probe so far */
} shape_probe;

/* The tensor that stands for node n's outputs (its first present one); -1 when none is. */
static int main_output(const qc_node *n)
{
    for (int k = 0; k < n->n_outputs; k++)
        if (n->outputs[k] >= 0)
            return n->outputs[k];
    return -1;
}

static bool is_shape_reader(const qc_node *n)
{
    return !n->domain[0] && (!strcmp(n->op_type, "Shape") || !strcmp(n->op_type, "Size"));
}

/* shape_only[t]: t is computed from the shape of an activation, and otherwise from constants
 * only. Constant sub-graphs alone are prepare's (DequantizeLinear waits there for the QDQ
 * pass). */
static void mark_shape_only(const qc_graph *g, bool *shape_only)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const qc_node *n = &g->nodes[i];
        bool only = is_shape_reader(n), any = only;
        if (!only) {
            only = n->n_inputs > 0;
            for (int k = 0; k < n->n_inputs && only; k++) {
                int t = n->inputs[k];
                only = t < 0 || g->tensors[t].is_const || shape_only[t];
                any |= t >= 0 && shape_only[t];
            }
        }
        for (int k = 0; k < n->n_outputs; k++)
            if (n->outputs[k] >= 0)
                shape_only[n->outputs[k]] = only && any;
    }
}

/* Runs node n of the probe: shapes always, values when the node is shape_only. false when the
 * node cannot be evaluated (its outputs are then unknown). */
static bool probe_node(shape_probe *p, qc_exec *x, const qc_node *n)
{
    const qc_value *in[QC_MAX_NODE_INPUTS];
    qc_value out[QC_MAX_NODE_OUTPUTS];
    qc_error err;
    if (n->n_inputs > QC_MAX_NODE_INPUTS || n->n_outputs > QC_MAX_NODE_OUTPUTS || main_output(n) < 0)
        return false;
    bool value = p->shape_only[main_output(n)];
    memset(out, 0, sizeof out);
    for (int k = 0; k < n->n_inputs; k++) {
        in[k] = n->inputs[k] >= 0 ? &p->values[n->inputs[k]] : NULL;
        if (in[k] && (in[k]->rank < 0 || (value && !is_shape_reader(n) && !in[k]->data)))
            return false;
    }
    if (n->op->infer(n, in, out, &err) != QC_OK || qc_node_check_outputs(p->g, n, out, &err) != QC_OK)
        return false;
    for (int k = 0; k < n->n_outputs; k++) {
        if (out[k].rank < 0)
            return false;
        if (value && qc_value_count(&out[k]) > PROBE_MAX_ELEMENTS)
            value = false;
    }
    for (int k = 0; value && k < n->n_outputs; k++) {
        out[k].data = malloc(qc_value_bytes(&out[k]) + 1);
        if (!out[k].data)
            value = false;
    }
    if (value && n->op->run(x, n, in, out, &err) != QC_OK)
        value = false;
    for (int k = 0; k < n->n_outputs; k++) {
        int t = n->outputs[k];
        if (!value) {
            free(out[k].data);
            out[k].data = NULL;
        }
        if (t < 0) {
            free(out[k].data);
            continue;
        }
        p->values[t] = out[k];
        p->owned[t] = out[k].data != NULL;
    }
    return true;
}

/* One probe over the whole graph, comparing shape_only values with the first probe's. */
static void run_probe(shape_probe *p, qc_exec *x, int64_t size, bool first)
{
    qc_graph *g = p->g;
    for (int t = 0; t < g->n_tensors; t++) {
        p->values[t] = g->tensors[t].is_const || g->tensors[t].is_input ? g->tensors[t].value
                                                                         : (qc_value){.rank = -1};
        p->owned[t] = false;
        if (g->tensors[t].is_input)
            for (int d = 0; d < p->values[t].rank; d++)
                if (g->tensors[t].symbolic >> d & 1)
                    p->values[t].dims[d] = size;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const qc_node *n = &g->nodes[i];
        if (!probe_node(p, x, n))
            for (int k = 0; k < n->n_outputs; k++)
                if (n->outputs[k] >= 0)
                    p->values[n->outputs[k]] = (qc_value){.rank = -1};
    }
    for (int t = 0; t < g->n_tensors; t++) {
        qc_value *v = &p->values[t];
        if (first) {
            p->first[t] = *v; /* owned data moves to first */
            p->stable[t] = p->owned[t];
            if (!p->owned[t])
                p->first[t].data = NULL;
            continue;
        }
        const qc_value *f = &p->first[t];
        if (p->stable[t] && !(v->data && v->dtype == f->dtype && v->rank == f->rank &&
                              qc_same_shape(v, f) && !memcmp(v->data, f->data, qc_value_bytes(f))))
            p->stable[t] = false;
        if (p->owned[t])
            free(v->data);
    }
}

/* Node i's outputs become the constants the probes found, and node i goes. */
static void fold_stable_node(shape_probe *p, int i)
{
    qc_graph *g = p->g;
    qc_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_outputs; k++) {
        int t = n->outputs[k];
        if (t < 0)
            continue;
        qc_tensor *tensor = &g->tensors[t];
        tensor->value = p->first[t];
        tensor->is_const = true;
        tensor->producer = -1;
        p->first[t].data = NULL;
        p->stable[t] = false;
    }
    qc_node_free(n);
    memmove(n, n + 1, (size_t)(g->n_nodes - i - 1) * sizeof *n);
    g->n_nodes--;
}

/* Only values a probe computed can be stable: constants and activations never are. */
static bool node_is_stable(const shape_probe *p, const qc_node *n)
{
    bool stable = main_output(n) >= 0;
    for (int k = 0; k < n->n_outputs && stable; k++)
        stable = n->outputs[k] < 0 || p->stable[n->outputs[k]];
    return stable;
}

qc_status qc_pass_fold_shape_subgraphs(qc_graph *g, bool *folded, qc_error *err)
{
    *folded = false;
    size_t n = g->n_tensors ? (size_t)g->n_tensors : 1;
    shape_probe p = {.g = g};
    p.shape_only = calloc(n, sizeof *p.shape_only);
    p.values = calloc(n, sizeof *p.values);
    p.owned = calloc(n, sizeof *p.owned);
    p.first = calloc(n, sizeof *p.first);
    p.stable = calloc(n, sizeof *p.stable);
    qc_exec *x = qc_exec_create(g);
    qc_status s = QC_OK;
    if (!p.shape_only || !p.values || !p.owned || !p.first || !p.stable || !x) {
        s = qc_fail(err, QC_ERR_IO, "out of memory");
        goto end;
    }
    mark_shape_only(g, p.shape_only);
    for (int k = 0; k < N_PROBES; k++)
        run_probe(&p, x, PROBES[k], k == 0);
    for (int i = 0; i < g->n_nodes;) {
        if (node_is_stable(&p, &g->nodes[i])) {
            fold_stable_node(&p, i);
            *folded = true;
            continue;
        }
        i++;
    }
    if (*folded) {
        qc_graph_index_producers(g);
        qc_pass_prune(g);
    }
end:
    if (p.first)
        for (size_t t = 0; t < n; t++)
            free(p.first[t].data);
    qc_exec_destroy(x);
    free(p.shape_only);
    free(p.values);
    free(p.owned);
    free(p.first);
    free(p.stable);
    return s;
}
