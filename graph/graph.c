/* graph.c — the IR: tensors, nodes, attributes, values and errors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph-impl.h"

qc_status qc_fail(qc_error *err, qc_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

size_t qc_dtype_size(qc_dtype t)
{
    switch (t) {
    case QC_FLOAT: return 4;
    case QC_UINT8: return 1;
    case QC_INT8: return 1;
    case QC_INT32: return 4;
    case QC_INT64: return 8;
    case QC_BOOL: return 1;
    default: return 0;
    }
}

const char *qc_onnx_type_name(int64_t code)
{
    static const char *const names[] = {"undefined", "float",   "uint8",  "int8",   "uint16",
                                        "int16",     "int32",   "int64",  "string", "bool",
                                        "float16",   "double",  "uint32", "uint64", "complex64",
                                        "complex128", "bfloat16"};
    return code >= 0 && code < (int64_t)(sizeof names / sizeof names[0]) ? names[code] : "an unknown type";
}

const char *qc_dtype_name(qc_dtype t)
{
    switch (t) {
    case QC_FLOAT: return "float32";
    case QC_UINT8: return "uint8";
    case QC_INT8: return "int8";
    case QC_INT32: return "int32";
    case QC_INT64: return "int64";
    case QC_BOOL: return "bool";
    default: return "unsupported";
    }
}

int64_t qc_value_count(const qc_value *v)
{
    int64_t n = 1;
    for (int i = 0; i < v->rank; i++)
        if (__builtin_mul_overflow(n, v->dims[i], &n))
            return INT64_MAX; /* only for values not yet checked: qc_value_check refuses them */
    return n;
}

bool qc_mul_dims(int64_t a, int64_t b, int64_t *product)
{
    int64_t p;
    if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &p) || p > QC_MAX_ELEMENTS)
        return false;
    *product = p;
    return true;
}

static size_t memory_limit = QC_DEFAULT_MEMORY_LIMIT;

void qc_set_memory_limit(size_t bytes)
{
    memory_limit = bytes;
}

size_t qc_memory_limit(void)
{
    return memory_limit;
}

qc_status qc_value_check(const qc_value *v, const char *what, qc_error *err)
{
    char shape[160];
    if (v->rank < 0)
        return QC_OK; /* not known yet */
    if (v->rank > QC_MAX_RANK)
        return qc_fail(err, QC_ERR_INPUT, "%s has rank %d; at most %d is supported", what, v->rank,
                       QC_MAX_RANK);
    int64_t nonzero = 1;
    for (int i = 0; i < v->rank; i++) {
        if (v->dims[i] < 0 || v->dims[i] > QC_MAX_DIM)
            return qc_fail(err, QC_ERR_INPUT, "%s has dimension %lld; each must be in 0..2^40", what,
                           (long long)v->dims[i]);
        if (!qc_mul_dims(nonzero, v->dims[i] ? v->dims[i] : 1, &nonzero))
            return qc_fail(err, QC_ERR_INPUT, "%s has shape %s: more than 2^40 elements", what,
                           qc_shape_str(v, shape, sizeof shape));
    }
    size_t bytes = qc_value_bytes(v);
    if (bytes > memory_limit)
        return qc_fail(err, QC_ERR_INPUT,
                       "%s has shape %s: %.1f MiB, more than the memory limit of %.1f MiB",
                       what, qc_shape_str(v, shape, sizeof shape), (double)bytes / 1048576.0,
                       (double)memory_limit / 1048576.0);
    return QC_OK;
}

size_t qc_value_bytes(const qc_value *v)
{
    size_t bytes;
    if (__builtin_mul_overflow((size_t)qc_value_count(v), qc_dtype_size(v->dtype), &bytes))
        return SIZE_MAX;
    return bytes;
}

qc_value qc_value_f32(int rank, const int64_t *dims, float *data)
{
    qc_value v = {.dtype = QC_FLOAT, .rank = rank, .data = data};
    for (int i = 0; i < rank && i < QC_MAX_RANK; i++)
        v.dims[i] = dims[i];
    return v;
}

bool qc_same_shape(const qc_value *a, const qc_value *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

char *qc_shape_str(const qc_value *v, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    if (v->rank < 0) {
        snprintf(buf, size, "?");
        return buf;
    }
    if (v->rank == 0) {
        snprintf(buf, size, "scalar");
        return buf;
    }
    for (int i = 0; i < v->rank && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%lld", i ? "x" : "", (long long)v->dims[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}

/* ---- graph construction ---------------------------------------------------------------- */

qc_graph *qc_graph_create(const char *name)
{
    qc_graph *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->name = strdup(name ? name : "model");
    if (!g->name) {
        free(g);
        return NULL;
    }
    return g;
}

static void attr_free(qc_attr *a)
{
    free(a->name);
    free(a->s);
    free(a->floats);
    free(a->ints);
    free(a->t.data);
}

void qc_node_free(qc_node *n)
{
    if (n->op && n->op->release)
        n->op->release(n);
    free(n->name);
    free(n->op_type);
    free(n->domain);
    free(n->inputs);
    free(n->outputs);
    for (int a = 0; a < n->n_attrs; a++)
        attr_free(&n->attrs[a]);
    free(n->attrs);
}

void qc_graph_destroy(qc_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_nodes; i++)
        qc_node_free(&g->nodes[i]);
    for (int i = 0; i < g->n_tensors; i++) {
        free(g->tensors[i].name);
        free(g->tensors[i].value.data);
    }
    for (int i = 0; i < g->n_meta; i++) {
        free(g->meta_keys[i]);
        free(g->meta_values[i]);
    }
    free(g->meta_keys);
    free(g->meta_values);
    free(g->nodes);
    free(g->tensors);
    free(g->slots);
    free(g->inputs);
    free(g->outputs);
    free(g->name);
    free(g);
}

/* Tensors are found by name through an open-addressed table (linear probing): searching the
 * list took time quadratic in the tensors while a model was read (20 M instructions for
 * MobileNetV2's ~1,000, far more for larger models). Tensors are never removed, so the table
 * only grows; a name changes only through qc_graph_rename_tensor. */
static uint32_t name_hash(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        h = (h ^ *c) * 16777619u;
    return h;
}

int qc_graph_find_tensor(const qc_graph *g, const char *name)
{
    if (g->n_slots == 0)
        return -1;
    const uint32_t mask = (uint32_t)g->n_slots - 1;
    for (uint32_t s = name_hash(name) & mask;; s = (s + 1) & mask) {
        int i = g->slots[s] - 1;
        if (i < 0)
            return -1;
        if (strcmp(g->tensors[i].name, name) == 0)
            return i;
    }
}

static void slot_insert(int *slots, int n_slots, const char *name, int index)
{
    const uint32_t mask = (uint32_t)n_slots - 1;
    uint32_t s = name_hash(name) & mask;
    while (slots[s] != 0)
        s = (s + 1) & mask;
    slots[s] = index + 1;
}

/* room for one more name: the table rebuilt at twice the size before it is half full */
static bool reserve_slot(qc_graph *g)
{
    if (2 * (g->n_tensors + 1) <= g->n_slots)
        return true;
    int n = g->n_slots ? 2 * g->n_slots : 128;
    int *slots = calloc((size_t)n, sizeof *slots);
    if (!slots)
        return false;
    for (int i = 0; i < g->n_tensors; i++)
        slot_insert(slots, n, g->tensors[i].name, i);
    free(g->slots);
    g->slots = slots;
    g->n_slots = n;
    return true;
}

int qc_graph_rename_tensor(qc_graph *g, int t, const char *name)
{
    char *copy = strdup(name);
    if (!copy)
        return -1;
    free(g->tensors[t].name);
    g->tensors[t].name = copy;
    /* rebuilt in index order, so that of two tensors with one name the first is found */
    memset(g->slots, 0, (size_t)g->n_slots * sizeof *g->slots);
    for (int i = 0; i < g->n_tensors; i++)
        slot_insert(g->slots, g->n_slots, g->tensors[i].name, i);
    return 0;
}

int qc_graph_tensor(qc_graph *g, const char *name)
{
    int found = qc_graph_find_tensor(g, name);
    if (found >= 0)
        return found;
    if (!reserve_slot(g))
        return -1;
    if (g->n_tensors == g->cap_tensors) {
        int cap = g->cap_tensors ? 2 * g->cap_tensors : 64;
        qc_tensor *grown = realloc(g->tensors, (size_t)cap * sizeof *grown);
        if (!grown)
            return -1;
        g->tensors = grown;
        g->cap_tensors = cap;
    }
    qc_tensor *t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name)
        return -1;
    t->value.rank = -1;
    t->producer = -1;
    slot_insert(g->slots, g->n_slots, t->name, g->n_tensors);
    return g->n_tensors++;
}

int qc_graph_add_node(qc_graph *g, const char *name, const char *op_type, const char *domain)
{
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 32;
        qc_node *grown = realloc(g->nodes, (size_t)cap * sizeof *grown);
        if (!grown)
            return -1;
        g->nodes = grown;
        g->cap_nodes = cap;
    }
    qc_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->name = strdup(name);
    n->op_type = strdup(op_type);
    n->domain = strdup(domain ? domain : "");
    if (!n->name || !n->op_type || !n->domain) {
        free(n->name);
        free(n->op_type);
        free(n->domain);
        return -1;
    }
    return g->n_nodes++;
}

qc_status qc_graph_set_meta(qc_graph *g, const char *key, const char *value)
{
    char *v = strdup(value);
    if (!v)
        return QC_ERR_IO;
    for (int i = 0; i < g->n_meta; i++)
        if (strcmp(g->meta_keys[i], key) == 0) {
            free(g->meta_values[i]);
            g->meta_values[i] = v;
            return QC_OK;
        }
    char *k = strdup(key);
    char **keys = k ? realloc(g->meta_keys, (size_t)(g->n_meta + 1) * sizeof *keys) : NULL;
    if (keys)
        g->meta_keys = keys; /* a larger array is harmless if the next realloc fails */
    char **values = keys ? realloc(g->meta_values, (size_t)(g->n_meta + 1) * sizeof *values) : NULL;
    if (!values) {
        free(k);
        free(v);
        return QC_ERR_IO;
    }
    g->meta_values = values;
    g->meta_keys[g->n_meta] = k;
    g->meta_values[g->n_meta] = v;
    g->n_meta++;
    return QC_OK;
}

void qc_graph_index_producers(qc_graph *g)
{
    for (int t = 0; t < g->n_tensors; t++)
        g->tensors[t].producer = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_outputs; k++)
            if (g->nodes[i].outputs[k] >= 0)
                g->tensors[g->nodes[i].outputs[k]].producer = i;
}

const qc_attr *qc_node_attr(const qc_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

int64_t qc_node_attr_int(const qc_node *n, const char *name, int64_t fallback)
{
    const qc_attr *a = qc_node_attr(n, name);
    return a && a->type == QC_ATTR_INT ? a->i : fallback;
}

float qc_node_attr_float(const qc_node *n, const char *name, float fallback)
{
    const qc_attr *a = qc_node_attr(n, name);
    return a && a->type == QC_ATTR_FLOAT ? a->f : fallback;
}

/* The inputs of quantized ops that hold weights or biases (their scales and zero points are
 * not parameters): a bit per input index. Every other op's float constant inputs count. */
static unsigned quantized_param_inputs(const char *op_type)
{
    static const struct {
        const char *op;
        unsigned inputs;
    } table[] = {
        {"QuantizeLinear", 1u << 0},     {"DequantizeLinear", 1u << 0},   {"DynamicQuantizeLinear", 1u << 0},
        {"QLinearConv", 1u << 3 | 1u << 8}, {"QLinearMatMul", 1u << 0 | 1u << 3},
        {"QGemm", 1u << 0 | 1u << 3 | 1u << 6}, {"QLinearAdd", 1u << 0 | 1u << 3},
        {"QLinearMul", 1u << 0 | 1u << 3}, {"ConvInteger", 1u << 0 | 1u << 1},
        {"MatMulInteger", 1u << 0 | 1u << 1},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(table[i].op, op_type))
            return table[i].inputs;
    return 0;
}

int64_t qc_graph_param_count(const qc_graph *g)
{
    bool *counted = calloc((size_t)g->n_tensors + 1, sizeof *counted);
    if (!counted)
        return -1;
    int64_t count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const qc_node *n = &g->nodes[i];
        unsigned q = quantized_param_inputs(n->op_type);
        for (int k = 0; k < n->n_inputs; k++) {
            int x = n->inputs[k];
            if (x < 0 || counted[x] || !g->tensors[x].is_const || !g->tensors[x].value.data)
                continue;
            qc_dtype t = g->tensors[x].value.dtype;
            bool weight = q ? (k < 32 && (q >> k & 1u) && (t == QC_FLOAT || t == QC_INT8 || t == QC_UINT8 || t == QC_INT32))
                            : t == QC_FLOAT;
            if (weight) {
                counted[x] = true;
                count += qc_value_count(&g->tensors[x].value);
            }
        }
    }
    free(counted);
    return count;
}

/* ---- helpers for ops ------------------------------------------------------------------- */

bool qc_axis(int64_t axis, int rank, int *out)
{
    if (axis < -rank || axis >= rank)
        return false;
    *out = (int)(axis < 0 ? axis + rank : axis);
    return true;
}

bool qc_broadcast_shape(const qc_value *a, const qc_value *b, qc_value *out)
{
    int rank = a->rank > b->rank ? a->rank : b->rank;
    if (rank > QC_MAX_RANK)
        return false;
    for (int i = 0; i < rank; i++) {
        int ia = a->rank - rank + i, ib = b->rank - rank + i;
        int64_t da = ia >= 0 ? a->dims[ia] : 1;
        int64_t db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return false;
        out->dims[i] = da == 1 ? db : da;
    }
    out->rank = rank;
    return true;
}

double qc_read_scalar(const qc_value *v, int64_t index)
{
    switch (v->dtype) {
    case QC_FLOAT: return ((const float *)v->data)[index];
    case QC_UINT8: return ((const uint8_t *)v->data)[index];
    case QC_INT8: return ((const int8_t *)v->data)[index];
    case QC_INT32: return ((const int32_t *)v->data)[index];
    case QC_INT64: return (double)((const int64_t *)v->data)[index];
    case QC_BOOL: return ((const uint8_t *)v->data)[index];
    default: return 0;
    }
}

int qc_read_ints(const qc_value *v, int64_t *dst, int max)
{
    if (!v || !v->data || (v->dtype != QC_INT64 && v->dtype != QC_INT32))
        return -1;
    int64_t count = qc_value_count(v);
    if (count > max)
        return -1;
    for (int64_t i = 0; i < count; i++)
        dst[i] = v->dtype == QC_INT64 ? ((const int64_t *)v->data)[i]
                                      : ((const int32_t *)v->data)[i];
    return (int)count;
}
