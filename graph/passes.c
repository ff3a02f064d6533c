/* passes.c — graph rewrites: BatchNormalization folded into the Conv or Gemm before it. */
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
