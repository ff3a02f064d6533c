/* inputs.c — graph inputs bound to a constant: a model's inputs other than its image take
 * one fixed value on every run (--input NAME=FILE.npy), held by the input's tensor, so that
 * every executor, every pass over images and every graph derived from this one feeds it. */
#include <stdlib.h>
#include <string.h>

#include "graph-impl.h"

static bool is_bound(const qc_graph *g, int t)
{
    return g->tensors[t].value.data != NULL;
}

qc_status qc_input_fits(const qc_graph *g, const qc_tensor *t, const qc_value *v, const char *what, qc_error *err)
{
    char want[96], got[96];
    if (t->value.dtype != QC_UNDEFINED && v->dtype != t->value.dtype)
        return qc_fail(err, QC_ERR_INPUT, "input '%s' of '%s' is %s, %s%s given", t->name, g->name,
                       qc_dtype_name(t->value.dtype), what, qc_dtype_name(v->dtype));
    /* fixed dimensions must match; a symbolic one (a dynamic batch, a length) takes any size */
    bool fits = t->value.rank < 0 || t->value.rank == v->rank;
    for (int d = 0; fits && t->value.rank >= 0 && d < v->rank; d++)
        fits = (t->symbolic >> d & 1) || t->value.dims[d] == v->dims[d];
    if (!fits)
        return qc_fail(err, QC_ERR_INPUT, "input '%s' of '%s' has shape %s, %s%s given", t->name, g->name,
                       qc_shape_str(&t->value, want, sizeof want), what, qc_shape_str(v, got, sizeof got));
    return QC_OK;
}

qc_status qc_graph_bind_input(qc_graph *g, int tensor, const qc_value *v, qc_error *err)
{
    qc_tensor *t = tensor >= 0 && tensor < g->n_tensors ? &g->tensors[tensor] : NULL;
    if (!t || !t->is_input)
        return qc_fail(err, QC_ERR_USAGE, "'%s' is not an input of '%s'", t ? t->name : "?", g->name);
    qc_status st = qc_input_fits(g, t, v, "the value ", err);
    if (st != QC_OK)
        return st;
    size_t bytes = qc_value_bytes(v);
    void *data = malloc(bytes ? bytes : 1);
    if (!data)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    memcpy(data, v->data, bytes);
    free(t->value.data);
    t->value = *v;
    t->value.data = data;
    return QC_OK;
}

int qc_graph_fed_count(const qc_graph *g)
{
    int n = 0;
    for (int i = 0; i < g->n_inputs; i++)
        n += !is_bound(g, g->inputs[i]);
    return n;
}

int qc_graph_fed_input(const qc_graph *g, int k)
{
    for (int i = 0; i < g->n_inputs; i++)
        if (!is_bound(g, g->inputs[i]) && k-- == 0)
            return g->inputs[i];
    return -1;
}

qc_status qc_graph_copy_bindings(qc_graph *dst, const qc_graph *src, qc_error *err)
{
    for (int i = 0; i < src->n_inputs; i++) {
        const qc_tensor *t = &src->tensors[src->inputs[i]];
        int d = is_bound(src, src->inputs[i]) ? qc_graph_find_tensor(dst, t->name) : -1;
        if (d < 0 || !dst->tensors[d].is_input)
            continue;
        qc_status st = qc_graph_bind_input(dst, d, &t->value, err);
        if (st != QC_OK)
            return st;
    }
    return QC_OK;
}
