/* onnx-write.c — qcal's IR back into an ONNX ModelProto, through protoc-c bindings.
 *
 * What the file holds, and why:
 *   - IR version 8, producer "qcal" with qcal's version. opset_import: the default domain at
 *     g->opset, then every other domain a node uses, sorted by name, at version 1 (the only
 *     version of com.microsoft, where ONNX Runtime keeps its contrib ops).
 *   - Only live tensors: the ones a node reads or writes and the graph inputs and outputs.
 *     The IR keeps pruned tensors in its array (rank -1, no data); they are left out.
 *   - Constants become initializers with raw_data (little-endian, as x86), in tensor order;
 *     they are not listed as graph inputs (IR version 4 and later).
 *   - Graph inputs carry their dtype and shape. A dimension whose qc_tensor.symbolic bit is
 *     set is written as a dim_param: "N" for dimension 0, "<tensor>_dim<i>" for the others,
 *     so that only the batch is shared between inputs. Graph outputs carry their dtype and
 *     static shape; the IR infers shapes with symbolic dimensions taken as 1, so when an
 *     input has a symbolic batch, an output whose dimension 0 is 1 gets "N" there (the
 *     models qcal handles are batch-major), unless the output's own symbolic bits say more.
 *   - No value_info for intermediate tensors: their static shapes are batch-1 shapes that
 *     would contradict a symbolic batch; readers infer them.
 *   - Deterministic: everything follows the IR's arrays (tensors, nodes, attributes and
 *     metadata in their order); no time, no addresses, no hash order. The graph is named
 *     after the IR's name without folder and ".onnx", so saving a loaded saved model gives
 *     the same bytes again.
 *
 * The protobuf messages point into the graph (names, constant data) and into small blocks
 * this file allocates; packing copies everything into one buffer, then the blocks go. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "onnx.pb-c.h"

#define PRODUCER_NAME "qcal"
/* Equal to QCAL_VERSION in cli/cli.h, which io/ cannot include (tests/check_onnx_write.c
 * checks that the two agree). */
#define PRODUCER_VERSION "0.1.0"
#define ONNX_IR_VERSION 8
/* A protobuf message cannot exceed 2 GiB; larger models would need ONNX external data. */
#define MAX_MODEL_BYTES ((size_t)0x7fffffff)

typedef struct {
    const qc_graph *g;
    const char *what;    /* the file (or graph) named in messages */
    qc_error *err;
    void **blocks;       /* every allocation, freed together */
    size_t n_blocks, cap_blocks;
} writer;

static uint8_t empty_bytes[1]; /* data of zero-length raw_data: never NULL */

static qc_status w_fail(writer *w, qc_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static qc_status w_fail(writer *w, qc_status status, const char *fmt, ...)
{
    char msg[sizeof w->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qc_fail(w->err, status, "cannot write '%s': %s", w->what, msg);
}

static qc_status w_oom(writer *w)
{
    return w_fail(w, QC_ERR_IO, "out of memory");
}

/* Zeroed memory for count items, owned by the writer; NULL when out of memory. */
static void *w_alloc(writer *w, size_t count, size_t size)
{
    if (w->n_blocks == w->cap_blocks) {
        size_t cap = w->cap_blocks ? 2 * w->cap_blocks : 256;
        void **grown = realloc(w->blocks, cap * sizeof *grown);
        if (!grown)
            return NULL;
        w->blocks = grown;
        w->cap_blocks = cap;
    }
    void *p = calloc(count ? count : 1, size);
    if (p)
        w->blocks[w->n_blocks++] = p;
    return p;
}

static char *w_printf(writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *w_printf(writer *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = w_alloc(w, (size_t)n + 1, 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void w_release(writer *w)
{
    for (size_t i = 0; i < w->n_blocks; i++)
        free(w->blocks[i]);
    free(w->blocks);
    w->blocks = NULL;
    w->n_blocks = w->cap_blocks = 0;
}

/* A TensorProto with raw_data pointing at v's data. label names the tensor in messages. */
static qc_status tensor_proto(writer *w, const qc_value *v, char *name, const char *label,
                              Onnx__TensorProto **out)
{
    size_t esize = qc_dtype_size(v->dtype);
    if (!esize)
        return w_fail(w, QC_ERR_INPUT, "constant '%s' has type %s, which qcal cannot write",
                      label, qc_dtype_name(v->dtype));
    if (v->rank < 0 || v->rank > QC_MAX_RANK)
        return w_fail(w, QC_ERR_INPUT, "constant '%s' has no shape", label);
    Onnx__TensorProto *tp = w_alloc(w, 1, sizeof *tp);
    int64_t *dims = w_alloc(w, (size_t)v->rank, sizeof *dims);
    if (!tp || !dims)
        return w_oom(w);
    onnx__tensor_proto__init(tp);
    tp->name = name;
    tp->has_data_type = 1;
    tp->data_type = (int32_t)v->dtype;
    tp->n_dims = (size_t)v->rank;
    tp->dims = dims;
    for (int i = 0; i < v->rank; i++) {
        if (v->dims[i] < 0)
            return w_fail(w, QC_ERR_INPUT, "constant '%s' has a negative dimension", label);
        dims[i] = v->dims[i];
    }
    size_t bytes = qc_value_bytes(v);
    if (bytes && !v->data)
        return w_fail(w, QC_ERR_INPUT, "constant '%s' has no data", label);
    tp->has_raw_data = 1;
    tp->raw_data.len = bytes;
    tp->raw_data.data = bytes ? v->data : empty_bytes;
    *out = tp;
    return QC_OK;
}

/* A TensorShapeProto of t's static shape; bit i of symbolic makes dimension i a dim_param. */
static qc_status shape_proto(writer *w, const qc_tensor *t, uint32_t symbolic,
                             Onnx__TensorShapeProto **out)
{
    int rank = t->value.rank;
    Onnx__TensorShapeProto *shape = w_alloc(w, 1, sizeof *shape);
    Onnx__TensorShapeProto__Dimension *dims = w_alloc(w, (size_t)rank, sizeof *dims);
    Onnx__TensorShapeProto__Dimension **dim_ptrs = w_alloc(w, (size_t)rank, sizeof *dim_ptrs);
    if (!shape || !dims || !dim_ptrs)
        return w_oom(w);
    onnx__tensor_shape_proto__init(shape);
    shape->n_dim = (size_t)rank;
    shape->dim = dim_ptrs;
    for (int i = 0; i < rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = &dims[i];
        onnx__tensor_shape_proto__dimension__init(d);
        dim_ptrs[i] = d;
        if (symbolic & (1u << i)) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = i == 0 ? "N" : w_printf(w, "%s_dim%d", t->name, i);
            if (!d->dim_param)
                return w_oom(w);
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = t->value.dims[i];
        }
    }
    *out = shape;
    return QC_OK;
}

/* A tensor-typed ValueInfoProto: elem_type unless undefined, the shape unless unknown. */
static qc_status value_info(writer *w, const qc_tensor *t, uint32_t symbolic,
                            Onnx__ValueInfoProto **out)
{
    Onnx__ValueInfoProto *vi = w_alloc(w, 1, sizeof *vi);
    Onnx__TypeProto *type = w_alloc(w, 1, sizeof *type);
    Onnx__TypeProto__Tensor *tt = w_alloc(w, 1, sizeof *tt);
    if (!vi || !type || !tt)
        return w_oom(w);
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(type);
    onnx__type_proto__tensor__init(tt);
    vi->name = t->name;
    vi->type = type;
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tt;
    if (t->value.dtype != QC_UNDEFINED) {
        tt->has_elem_type = 1;
        tt->elem_type = (int32_t)t->value.dtype;
    }
    if (t->value.rank >= 0 && t->value.rank <= QC_MAX_RANK) {
        qc_status s = shape_proto(w, t, symbolic, &tt->shape);
        if (s != QC_OK)
            return s;
    }
    *out = vi;
    return QC_OK;
}

static qc_status attr_proto(writer *w, const qc_node *n, const qc_attr *a,
                            Onnx__AttributeProto **out)
{
    Onnx__AttributeProto *ap = w_alloc(w, 1, sizeof *ap);
    if (!ap)
        return w_oom(w);
    onnx__attribute_proto__init(ap);
    ap->name = a->name;
    ap->has_type = 1;
    ap->type = (Onnx__AttributeProto__AttributeType)a->type;
    switch (a->type) {
    case QC_ATTR_FLOAT:
        ap->has_f = 1;
        ap->f = a->f;
        break;
    case QC_ATTR_INT:
        ap->has_i = 1;
        ap->i = a->i;
        break;
    case QC_ATTR_STRING:
        ap->has_s = 1;
        ap->s.len = a->s ? strlen(a->s) : 0;
        ap->s.data = a->s ? (uint8_t *)a->s : empty_bytes;
        break;
    case QC_ATTR_TENSOR: {
        char label[512];
        snprintf(label, sizeof label, "%s' (attribute of node '%s", a->name, n->name);
        qc_status s = tensor_proto(w, &a->t, NULL, label, &ap->t);
        if (s != QC_OK)
            return s;
        break;
    }
    case QC_ATTR_FLOATS:
        if (a->n < 0 || (a->n && !a->floats))
            return w_fail(w, QC_ERR_INPUT, "node '%s' attribute '%s' has no values", n->name, a->name);
        ap->n_floats = (size_t)a->n;
        ap->floats = a->floats;
        break;
    case QC_ATTR_INTS:
        if (a->n < 0 || (a->n && !a->ints))
            return w_fail(w, QC_ERR_INPUT, "node '%s' attribute '%s' has no values", n->name, a->name);
        ap->n_ints = (size_t)a->n;
        ap->ints = a->ints;
        break;
    default:
        return w_fail(w, QC_ERR_INPUT, "node '%s' attribute '%s' has a type qcal cannot write",
                      n->name, a->name);
    }
    *out = ap;
    return QC_OK;
}

/* Tensor names of a node's inputs or outputs; "" for an omitted optional one. */
static char **name_list(writer *w, const int *tensors, int count)
{
    char **names = w_alloc(w, (size_t)count, sizeof *names);
    if (!names)
        return NULL;
    for (int k = 0; k < count; k++)
        names[k] = tensors[k] >= 0 ? w->g->tensors[tensors[k]].name : "";
    return names;
}

static qc_status node_proto(writer *w, const qc_node *n, Onnx__NodeProto **out)
{
    Onnx__NodeProto *np = w_alloc(w, 1, sizeof *np);
    Onnx__AttributeProto **attrs = w_alloc(w, (size_t)n->n_attrs, sizeof *attrs);
    if (!np || !attrs)
        return w_oom(w);
    onnx__node_proto__init(np);
    np->name = n->name;
    np->op_type = n->op_type;
    np->domain = n->domain && n->domain[0] ? n->domain : NULL;
    np->n_input = (size_t)n->n_inputs;
    np->input = name_list(w, n->inputs, n->n_inputs);
    np->n_output = (size_t)n->n_outputs;
    np->output = name_list(w, n->outputs, n->n_outputs);
    if (!np->input || !np->output)
        return w_oom(w);
    np->n_attribute = (size_t)n->n_attrs;
    np->attribute = attrs;
    for (int a = 0; a < n->n_attrs; a++) {
        qc_status s = attr_proto(w, n, &n->attrs[a], &attrs[a]);
        if (s != QC_OK)
            return s;
    }
    *out = np;
    return QC_OK;
}

/* The default domain is "" (also spelt "ai.onnx"). */
static bool default_domain(const char *domain)
{
    return !domain || !domain[0] || strcmp(domain, "ai.onnx") == 0;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* opset_import: the default domain first, then the other node domains in sorted order. */
static qc_status opset_imports(writer *w, Onnx__ModelProto *mp)
{
    const qc_graph *g = w->g;
    char **domains = w_alloc(w, (size_t)g->n_nodes + 1, sizeof *domains);
    if (!domains)
        return w_oom(w);
    size_t n_domains = 0;
    domains[n_domains++] = "";
    for (int i = 0; i < g->n_nodes; i++) {
        char *d = g->nodes[i].domain;
        if (default_domain(d))
            continue;
        bool seen = false;
        for (size_t k = 1; k < n_domains && !seen; k++)
            seen = strcmp(domains[k], d) == 0;
        if (!seen)
            domains[n_domains++] = d;
    }
    qsort(domains + 1, n_domains - 1, sizeof *domains, compare_strings);
    Onnx__OperatorSetIdProto *ids = w_alloc(w, n_domains, sizeof *ids);
    Onnx__OperatorSetIdProto **id_ptrs = w_alloc(w, n_domains, sizeof *id_ptrs);
    if (!ids || !id_ptrs)
        return w_oom(w);
    for (size_t k = 0; k < n_domains; k++) {
        onnx__operator_set_id_proto__init(&ids[k]);
        ids[k].domain = domains[k];
        ids[k].has_version = 1;
        ids[k].version = k == 0 ? g->opset : 1;
        id_ptrs[k] = &ids[k];
    }
    mp->n_opset_import = n_domains;
    mp->opset_import = id_ptrs;
    return QC_OK;
}

/* The graph's name: the IR's name without its folder and ".onnx". */
static char *graph_name(writer *w)
{
    const char *name = w->g->name ? w->g->name : "";
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    size_t len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".onnx") == 0)
        len -= 5;
    if (len == 0)
        return PRODUCER_NAME;
    return w_printf(w, "%.*s", (int)len, base);
}

static bool valid_tensor(const qc_graph *g, int t)
{
    return t >= 0 && t < g->n_tensors;
}

/* Checks that every tensor index is valid and that every tensor read has a source, and
 * marks the live tensors, the produced ones and the graph inputs. */
static qc_status check_graph(writer *w, bool *live, bool *produced, bool *input)
{
    const qc_graph *g = w->g;
    for (int i = 0; i < g->n_inputs; i++) {
        if (!valid_tensor(g, g->inputs[i]))
            return w_fail(w, QC_ERR_IO, "internal error: graph input %d is not a tensor", i);
        live[g->inputs[i]] = input[g->inputs[i]] = true;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const qc_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_outputs; k++) {
            int t = n->outputs[k];
            if (t < 0)
                continue;
            if (!valid_tensor(g, t))
                return w_fail(w, QC_ERR_IO, "internal error: node '%s' output %d is not a tensor", n->name, k);
            if (produced[t] || input[t] || g->tensors[t].is_const)
                return w_fail(w, QC_ERR_INPUT, "tensor '%s' is produced twice (node '%s')",
                              g->tensors[t].name, n->name);
            live[t] = produced[t] = true;
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const qc_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t < 0)
                continue;
            if (!valid_tensor(g, t))
                return w_fail(w, QC_ERR_IO, "internal error: node '%s' input %d is not a tensor", n->name, k);
            if (!produced[t] && !input[t] && !g->tensors[t].is_const)
                return w_fail(w, QC_ERR_INPUT, "node '%s' reads '%s', which nothing produces",
                              n->name, g->tensors[t].name);
            live[t] = true;
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int t = g->outputs[i];
        if (!valid_tensor(g, t))
            return w_fail(w, QC_ERR_IO, "internal error: graph output %d is not a tensor", i);
        if (!produced[t] && !input[t] && !g->tensors[t].is_const)
            return w_fail(w, QC_ERR_INPUT, "graph output '%s' is produced by no node", g->tensors[t].name);
        live[t] = true;
    }
    return QC_OK;
}

static qc_status build_model(writer *w, Onnx__ModelProto *mp)
{
    const qc_graph *g = w->g;
    size_t nt = (size_t)g->n_tensors;
    bool *live = w_alloc(w, nt, sizeof *live);
    bool *produced = w_alloc(w, nt, sizeof *produced);
    bool *input = w_alloc(w, nt, sizeof *input);
    Onnx__GraphProto *gp = w_alloc(w, 1, sizeof *gp);
    if (!live || !produced || !input || !gp)
        return w_oom(w);
    qc_status s = check_graph(w, live, produced, input);
    if (s != QC_OK)
        return s;

    onnx__model_proto__init(mp);
    onnx__graph_proto__init(gp);
    mp->has_ir_version = 1;
    mp->ir_version = ONNX_IR_VERSION;
    mp->producer_name = PRODUCER_NAME;
    mp->producer_version = PRODUCER_VERSION;
    mp->graph = gp;
    gp->name = graph_name(w);
    if (!gp->name)
        return w_oom(w);
    s = opset_imports(w, mp);
    if (s != QC_OK)
        return s;

    size_t n_init = 0;
    for (size_t t = 0; t < nt; t++)
        n_init += live[t] && g->tensors[t].is_const && !input[t] && !produced[t];
    gp->initializer = w_alloc(w, n_init, sizeof *gp->initializer);
    if (!gp->initializer)
        return w_oom(w);
    for (size_t t = 0; t < nt; t++) {
        const qc_tensor *tensor = &g->tensors[t];
        if (!live[t] || !tensor->is_const || input[t] || produced[t])
            continue;
        s = tensor_proto(w, &tensor->value, tensor->name, tensor->name,
                         &gp->initializer[gp->n_initializer]);
        if (s != QC_OK)
            return s;
        gp->n_initializer++;
    }

    bool symbolic_batch = false;
    gp->input = w_alloc(w, (size_t)g->n_inputs, sizeof *gp->input);
    gp->output = w_alloc(w, (size_t)g->n_outputs, sizeof *gp->output);
    gp->node = w_alloc(w, (size_t)g->n_nodes, sizeof *gp->node);
    if (!gp->input || !gp->output || !gp->node)
        return w_oom(w);
    for (int i = 0; i < g->n_inputs; i++) {
        const qc_tensor *t = &g->tensors[g->inputs[i]];
        if (t->value.dtype == QC_UNDEFINED || !qc_dtype_size(t->value.dtype))
            return w_fail(w, QC_ERR_INPUT, "graph input '%s' has no supported type", t->name);
        symbolic_batch |= (t->symbolic & 1u) != 0;
        s = value_info(w, t, t->symbolic, &gp->input[gp->n_input]);
        if (s != QC_OK)
            return s;
        gp->n_input++;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        const qc_tensor *t = &g->tensors[g->outputs[i]];
        uint32_t symbolic = t->symbolic;
        if (!symbolic && symbolic_batch && !t->is_const && t->value.rank >= 1 && t->value.dims[0] == 1)
            symbolic = 1;
        s = value_info(w, t, symbolic, &gp->output[gp->n_output]);
        if (s != QC_OK)
            return s;
        gp->n_output++;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        s = node_proto(w, &g->nodes[i], &gp->node[gp->n_node]);
        if (s != QC_OK)
            return s;
        gp->n_node++;
    }

    if (g->n_meta > 0) {
        size_t nm = (size_t)g->n_meta;
        Onnx__StringStringEntryProto *entries = w_alloc(w, nm, sizeof *entries);
        mp->metadata_props = w_alloc(w, nm, sizeof *mp->metadata_props);
        if (!entries || !mp->metadata_props)
            return w_oom(w);
        for (size_t i = 0; i < nm; i++) {
            onnx__string_string_entry_proto__init(&entries[i]);
            entries[i].key = g->meta_keys[i];
            entries[i].value = g->meta_values[i];
            mp->metadata_props[i] = &entries[i];
        }
        mp->n_metadata_props = nm;
    }
    return QC_OK;
}

/* Serializes g; what names the file (or graph) in messages. */
static qc_status serialize(const qc_graph *g, const char *what, void **data, size_t *size,
                           qc_error *err)
{
    *data = NULL;
    *size = 0;
    writer w = {.g = g, .what = what, .err = err};
    Onnx__ModelProto mp;
    qc_status s = build_model(&w, &mp);
    if (s == QC_OK) {
        size_t bytes = onnx__model_proto__get_packed_size(&mp);
        uint8_t *buf = bytes <= MAX_MODEL_BYTES ? malloc(bytes ? bytes : 1) : NULL;
        if (bytes > MAX_MODEL_BYTES) {
            s = w_fail(&w, QC_ERR_INPUT, "the model needs %zu bytes; ONNX files hold at most 2 GiB without external data, which qcal does not write",
                       bytes);
        } else if (!buf) {
            s = w_oom(&w);
        } else if (onnx__model_proto__pack(&mp, buf) != bytes) {
            free(buf);
            s = w_fail(&w, QC_ERR_IO, "internal error: protobuf packing gave a different size");
        } else {
            *data = buf;
            *size = bytes;
        }
    }
    w_release(&w);
    return s;
}

qc_status qc_onnx_serialize(const qc_graph *g, void **data, size_t *size, qc_error *err)
{
    return serialize(g, g->name ? g->name : "model", data, size, err);
}

qc_status qc_onnx_save(const qc_graph *g, const char *path, qc_error *err)
{
    void *data;
    size_t size;
    qc_status s = serialize(g, path, &data, &size, err);
    if (s != QC_OK)
        return s;
    qc_file file;
    s = qc_file_begin(&file, path, err);
    if (s == QC_OK) {
        /* A short write leaves the stream's error flag set: qc_file_commit reports it,
         * removes the temporary file and leaves path untouched. */
        fwrite(data, 1, size, file.f);
        s = qc_file_commit(&file, err);
    }
    free(data);
    return s;
}
