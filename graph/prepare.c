/* prepare.c — makes a loaded graph runnable: resolves ops, orders nodes, checks attributes,
 * folds constants and shape subgraphs, and infers static shapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph-impl.h"

/* Every op table of the runtime, in lookup order: the one list that both finding an op and
 * naming the supported ones read. */
static const qc_op *const op_tables[] = {qc_ops_tensor, qc_ops_fp32, qc_ops_int8, qc_ops_math,
                                         qc_ops_shape, qc_ops_resize, qc_ops_conv_transpose};
#define N_OP_TABLES (sizeof op_tables / sizeof op_tables[0])

const qc_op *qc_op_find(const char *op_type, const char *domain)
{
    bool default_domain = !domain || !domain[0] || strcmp(domain, "ai.onnx") == 0;
    for (size_t t = 0; t < N_OP_TABLES; t++)
        for (const qc_op *op = op_tables[t]; op->op_type; op++) {
            bool op_default = !op->domain[0];
            bool same_domain = op_default ? default_domain : domain && !strcmp(domain, op->domain);
            if (same_domain && strcmp(op->op_type, op_type) == 0)
                return op;
        }
    return NULL;
}

bool qc_op_supported(const char *op_type, const char *domain)
{
    return qc_op_find(op_type, domain) != NULL;
}

const char *const *qc_supported_ops(void)
{
    static const char *names[256];
    if (!names[0]) {
        int n = 0;
        for (size_t t = 0; t < N_OP_TABLES; t++)
            for (const qc_op *op = op_tables[t]; op->op_type && n < 255; op++) {
                /* each type once; the private "qcal" domain only holds fused forms */
                bool seen = !strcmp(op->domain, "qcal");
                for (int i = 0; i < n && !seen; i++)
                    seen = !strcmp(names[i], op->op_type);
                if (!seen)
                    names[n++] = op->op_type;
            }
    }
    return names;
}

/* Lists every unsupported op type once, with the nodes that use it. */
static qc_status resolve_ops(qc_graph *g, qc_error *err)
{
    char msg[sizeof err->msg];
    size_t used = 0;
    int unsupported = 0;
    msg[0] = '\0';
    for (int i = 0; i < g->n_nodes; i++) {
        qc_node *n = &g->nodes[i];
        n->op = qc_op_find(n->op_type, n->domain);
        if (n->op)
            continue;
        bool seen = false;
        for (int j = 0; j < i; j++)
            if (!g->nodes[j].op && !strcmp(g->nodes[j].op_type, n->op_type) &&
                !strcmp(g->nodes[j].domain, n->domain))
                seen = true;
        if (seen)
            continue;
        unsupported++;
        int users = 0;
        for (int j = i; j < g->n_nodes; j++)
            if (!strcmp(g->nodes[j].op_type, n->op_type) && !strcmp(g->nodes[j].domain, n->domain))
                users++;
        int w = snprintf(msg + used, sizeof msg - used, "%s%s%s%s (node '%s'%s)",
                         unsupported > 1 ? ", " : "", n->domain, n->domain[0] ? "." : "",
                         n->op_type, n->name, users > 1 ? " and others" : "");
        if (w > 0 && (size_t)w < sizeof msg - used)
            used += (size_t)w;
    }
    if (unsupported)
        return qc_fail(err, QC_ERR_INPUT, "unsupported op%s: %s", unsupported > 1 ? "s" : "", msg);
    return QC_OK;
}

/* Reorders g->nodes topologically (Kahn), keeping the file's order among ready nodes. */
static qc_status sort_nodes(qc_graph *g, qc_error *err)
{
    int n = g->n_nodes;
    if (n == 0)
        return QC_OK;
    bool *ready_tensor = calloc((size_t)g->n_tensors, sizeof(bool));
    bool *done = calloc((size_t)n, sizeof(bool));
    qc_node *sorted = malloc((size_t)n * sizeof *sorted);
    qc_status s = QC_OK;
    if (!ready_tensor || !done || !sorted) {
        s = qc_fail(err, QC_ERR_IO, "out of memory");
        goto end;
    }
    for (int t = 0; t < g->n_tensors; t++)
        ready_tensor[t] = g->tensors[t].is_const || g->tensors[t].is_input;
    int placed = 0;
    while (placed < n) {
        bool progress = false;
        for (int i = 0; i < n; i++) {
            if (done[i])
                continue;
            const qc_node *node = &g->nodes[i];
            bool ready = true;
            for (int k = 0; k < node->n_inputs && ready; k++)
                ready = node->inputs[k] < 0 || ready_tensor[node->inputs[k]];
            if (!ready)
                continue;
            for (int k = 0; k < node->n_outputs; k++)
                if (node->outputs[k] >= 0)
                    ready_tensor[node->outputs[k]] = true;
            sorted[placed++] = *node;
            done[i] = true;
            progress = true;
        }
        if (!progress) {
            for (int i = 0; i < n; i++)
                if (!done[i]) {
                    s = qc_fail(err, QC_ERR_INPUT, "the graph has a cycle through node '%s'",
                                g->nodes[i].name);
                    break;
                }
            goto end;
        }
    }
    memcpy(g->nodes, sorted, (size_t)n * sizeof *sorted);
    qc_graph_index_producers(g);
end:
    free(ready_tensor);
    free(done);
    free(sorted);
    return s;
}

static bool graph_has_symbolic_input(const qc_graph *g)
{
    for (int i = 0; i < g->n_inputs; i++)
        if (g->tensors[g->inputs[i]].symbolic)
            return true;
    return false;
}

/* A node can be computed now when all its inputs are constants, or when it is a Shape
 * whose input's shape is fully static (no symbolic input dimension anywhere). */
static bool foldable(const qc_graph *g, const qc_node *n, bool symbolic)
{
    /* DequantizeLinear of integer weights stays a node until qc_pass_fuse_qdq has seen the
     * integer tensors (that pass folds the ones it leaves). */
    if (!strcmp(n->op_type, "DequantizeLinear") && !n->domain[0])
        return false;
    if (!strcmp(n->op_type, "Shape") && !n->domain[0])
        return !symbolic && n->n_inputs == 1 && n->inputs[0] >= 0 &&
               g->tensors[n->inputs[0]].value.rank >= 0;
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0 && !g->tensors[n->inputs[k]].is_const)
            return false;
    return true;
}

/* Runs node i on its constant inputs and turns its outputs into constants. */
static qc_status fold_node(qc_graph *g, int i, qc_exec *x, qc_error *err)
{
    qc_node *n = &g->nodes[i];
    const qc_value *in[QC_MAX_NODE_INPUTS];
    qc_value out[QC_MAX_NODE_OUTPUTS];
    if (n->n_inputs > QC_MAX_NODE_INPUTS || n->n_outputs > QC_MAX_NODE_OUTPUTS)
        return qc_fail(err, QC_ERR_INPUT, "node '%s' (%s) has too many inputs or outputs", n->name, n->op_type);
    for (int k = 0; k < n->n_inputs; k++)
        in[k] = n->inputs[k] >= 0 ? &g->tensors[n->inputs[k]].value : NULL;
    memset(out, 0, sizeof out);
    qc_status s = n->op->infer(n, in, out, err);
    if (s == QC_OK)
        s = qc_node_check_outputs(g, n, out, err);
    if (s != QC_OK)
        return s;
    for (int k = 0; k < n->n_outputs; k++) {
        if (out[k].rank < 0)
            return qc_fail(err, QC_ERR_INPUT, "node '%s' (%s): cannot infer the shape of a constant output",
                           n->name, n->op_type);
        size_t bytes = qc_value_bytes(&out[k]);
        out[k].data = malloc(bytes ? bytes : 1);
        if (!out[k].data) {
            s = qc_fail(err, QC_ERR_IO, "out of memory");
            goto fail;
        }
    }
    s = n->op->run(x, n, in, out, err);
    if (s != QC_OK)
        goto fail;
    for (int k = 0; k < n->n_outputs; k++) {
        int ti = n->outputs[k];
        if (ti < 0) {
            free(out[k].data);
            continue;
        }
        qc_tensor *t = &g->tensors[ti];
        t->value = out[k];
        t->is_const = true;
        t->producer = -1;
    }
    qc_node_free(n);
    memmove(&g->nodes[i], &g->nodes[i + 1], (size_t)(g->n_nodes - i - 1) * sizeof *n);
    g->n_nodes--;
    return QC_OK;
fail:
    for (int k = 0; k < n->n_outputs; k++)
        free(out[k].data);
    return s;
}

/* Shape arithmetic (Shape → Gather → Unsqueeze → Concat → Reshape) that cannot be folded
 * because the batch is symbolic is still evaluated at batch 1 during static inference, so
 * that the shapes after the Reshape are known. Such sample values are dropped afterwards. */
#define MAX_SAMPLE_ELEMENTS 64

static bool wants_sample(const qc_graph *g, const qc_node *n, const qc_value *out)
{
    if (out[0].dtype != QC_INT64 || out[0].rank < 0 || qc_value_count(&out[0]) > MAX_SAMPLE_ELEMENTS)
        return false;
    if (!strcmp(n->op_type, "Shape"))
        return true;
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0 && !g->tensors[n->inputs[k]].value.data)
            return false;
    return true;
}

static qc_status infer_static(qc_graph *g, const qc_node *n, qc_exec *x, bool *sampled,
                              qc_error *err)
{
    const qc_value *in[QC_MAX_NODE_INPUTS];
    qc_value out[QC_MAX_NODE_OUTPUTS];
    if (n->n_inputs > QC_MAX_NODE_INPUTS || n->n_outputs > QC_MAX_NODE_OUTPUTS)
        return qc_fail(err, QC_ERR_INPUT, "node '%s' (%s) has too many inputs or outputs", n->name, n->op_type);
    bool unknown = false;
    for (int k = 0; k < n->n_inputs; k++) {
        in[k] = n->inputs[k] >= 0 ? &g->tensors[n->inputs[k]].value : NULL;
        if (in[k] && in[k]->rank < 0)
            unknown = true;
    }
    memset(out, 0, sizeof out);
    if (unknown) {
        for (int k = 0; k < n->n_outputs; k++)
            out[k].rank = -1;
    } else {
        qc_status s = n->op->infer(n, in, out, err);
        if (s == QC_OK)
            s = qc_node_check_outputs(g, n, out, err);
        if (s != QC_OK)
            return s;
    }
    for (int k = 0; k < n->n_outputs; k++) {
        if (n->outputs[k] < 0)
            continue;
        qc_value *v = &g->tensors[n->outputs[k]].value;
        v->dtype = out[k].dtype;
        v->rank = out[k].rank;
        memcpy(v->dims, out[k].dims, sizeof v->dims);
    }
    if (!unknown && n->n_outputs == 1 && n->outputs[0] >= 0 && wants_sample(g, n, out)) {
        out[0].data = malloc(qc_value_bytes(&out[0]) + 1);
        if (!out[0].data)
            return qc_fail(err, QC_ERR_IO, "out of memory");
        if (n->op->run(x, n, in, out, err) != QC_OK) {
            free(out[0].data); /* a sample is a convenience: without it the shape stays unknown */
            return QC_OK;
        }
        g->tensors[n->outputs[0]].value.data = out[0].data;
        sampled[n->outputs[0]] = true;
    }
    return QC_OK;
}

/* Folds what is constant and infers the static shape of everything else, in node order. */
static qc_status fold_and_infer(qc_graph *g, qc_error *err)
{
    qc_status s = QC_OK;
    qc_exec *x = qc_exec_create(g);
    if (!x)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    bool symbolic = graph_has_symbolic_input(g);
    bool *sampled = calloc((size_t)g->n_tensors + 1, sizeof(bool));
    if (!sampled) {
        qc_exec_destroy(x);
        return qc_fail(err, QC_ERR_IO, "out of memory");
    }
    for (int i = 0; i < g->n_nodes;) {
        qc_node *n = &g->nodes[i];
        if (foldable(g, n, symbolic)) {
            s = fold_node(g, i, x, err);
            if (s != QC_OK)
                break;
            continue; /* node i is now the next one */
        }
        s = infer_static(g, n, x, sampled, err);
        if (s != QC_OK)
            break;
        i++;
    }
    for (int t = 0; t < g->n_tensors; t++)
        if (sampled[t]) {
            free(g->tensors[t].value.data);
            g->tensors[t].value.data = NULL;
        }
    free(sampled);
    qc_exec_destroy(x);
    return s;
}

/* Graph outputs that became constants stay outputs; everything else unused by a node or an
 * output is dropped from the node list by qc_pass_prune. */
qc_status qc_graph_prepare(qc_graph *g, qc_error *err)
{
    qc_status s = resolve_ops(g, err);
    if (s != QC_OK)
        return s;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].n_outputs < 1)
            return qc_fail(err, QC_ERR_INPUT, "node '%s' (%s) has no output", g->nodes[i].name,
                           g->nodes[i].op_type);
    for (int i = 0; i < g->n_tensors; i++) {
        char what[512];
        const qc_tensor *t = &g->tensors[i];
        snprintf(what, sizeof what, "tensor '%s' of '%s'", t->name, g->name);
        if (t->is_const && (s = qc_value_check(&t->value, what, err)) != QC_OK)
            return s;
    }
    for (int i = 0; i < g->n_inputs; i++) {
        char what[512];
        const qc_tensor *t = &g->tensors[g->inputs[i]];
        snprintf(what, sizeof what, "input '%s' of '%s'", t->name, g->name);
        if ((s = qc_value_check(&t->value, what, err)) != QC_OK)
            return s;
    }
    s = sort_nodes(g, err);
    if (s != QC_OK)
        return s;
    for (int i = 0; i < g->n_nodes; i++) {
        qc_node *n = &g->nodes[i];
        if (n->op->check && n->state == NULL) {
            s = n->op->check(g, n, err);
            if (s != QC_OK)
                return s;
        }
    }
    for (int i = 0; i < g->n_tensors; i++) /* chosen again below, once the graph is final */
        g->tensors[i].value.layout = QC_LAYOUT_ONNX;
    s = fold_and_infer(g, err);
    if (s == QC_OK && graph_has_symbolic_input(g)) {
        bool folded;
        s = qc_pass_fold_shape_subgraphs(g, &folded, err);
        if (s == QC_OK && folded)
            s = fold_and_infer(g, err); /* the new constants fold further and fix shapes */
    }
    if (s != QC_OK)
        return s;
    qc_graph_index_producers(g);
    qc_pass_prune(g);
    return qc_pass_choose_layouts(g, err);
}

void qc_pass_prune(qc_graph *g)
{
    if (g->n_tensors == 0)
        return;
    bool *needed = calloc((size_t)g->n_tensors, sizeof(bool));
    if (!needed)
        return; /* pruning is an optimisation: skipping it is safe */
    for (int i = 0; i < g->n_outputs; i++)
        needed[g->outputs[i]] = true;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        qc_node *n = &g->nodes[i];
        bool used = false;
        for (int k = 0; k < n->n_outputs; k++)
            used |= n->outputs[k] >= 0 && needed[n->outputs[k]];
        if (!used) {
            qc_node_free(n);
            memmove(&g->nodes[i], &g->nodes[i + 1], (size_t)(g->n_nodes - i - 1) * sizeof *n);
            g->n_nodes--;
            continue;
        }
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0)
                needed[n->inputs[k]] = true;
    }
    /* Constants nothing reads any more (folded shape subgraphs, folded BatchNorm
     * parameters) give their memory back. */
    for (int t = 0; t < g->n_tensors; t++) {
        qc_tensor *tensor = &g->tensors[t];
        if (!needed[t] && tensor->is_const && !tensor->is_output) {
            free(tensor->value.data);
            tensor->value.data = NULL;
            tensor->is_const = false;
            tensor->value.rank = -1;
        }
    }
    qc_graph_index_producers(g);
    free(needed);
}
