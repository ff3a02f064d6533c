/* meta.c — what a model's metadata and ops say about it: its metadata by key, whether it is
 * already quantized, and the FP32 model a qcal file was quantized from. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

const char *qc_graph_meta(const qc_graph *g, const char *key)
{
    for (int i = 0; i < g->n_meta; i++)
        if (!strcmp(g->meta_keys[i], key))
            return g->meta_values[i];
    return NULL;
}

/* an op that only a quantized model has */
static bool is_quantized_op(const char *op)
{
    size_t n = strlen(op);
    return strstr(op, "QuantizeLinear") || !strcmp(op, "DequantizeLinear") || !strncmp(op, "QLinear", 7) ||
           !strcmp(op, "QGemm") || (n > 7 && !strcmp(op + n - 7, "Integer"));
}

bool qc_graph_is_quantized(const qc_graph *g)
{
    return qc_graph_meta(g, "qcal.format") || qc_graph_quantized_op(g);
}

const char *qc_graph_quantized_op(const qc_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (is_quantized_op(g->nodes[i].op_type))
            return g->nodes[i].op_type;
    return NULL;
}

bool qc_graph_source_hash(const qc_graph *g, uint64_t *hash)
{
    const char *v = qc_graph_meta(g, "qcal.source_model_hash");
    char *end;
    if (!v || strlen(v) != 16)
        return false;
    errno = 0;
    *hash = strtoull(v, &end, 16);
    return !errno && !*end;
}
