/* onnx.c — ONNX ModelProto and TensorProto files into qcal's IR, through protoc-c bindings. */
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "onnx.pb-c.h"

/* Refuse tensors larger than this many bytes: a hostile file must not make qcal allocate
 * absurd amounts of memory before it notices the data is not there. */
#define MAX_TENSOR_BYTES ((int64_t)1 << 32)

static qc_dtype dtype_from_onnx(int32_t t)
{
    switch (t) {
    case QC_FLOAT: case QC_UINT8: case QC_INT8: case QC_INT32: case QC_INT64: case QC_BOOL:
        return (qc_dtype)t;
    default:
        return QC_UNDEFINED;
    }
}

/* Converts a TensorProto (raw_data or typed fields) into a value with malloc'ed data. */
static qc_status tensor_from_proto(const Onnx__TensorProto *tp, const char *file,
                                   const char *what, qc_value *out, qc_error *err)
{
    memset(out, 0, sizeof *out);
    const char *name = tp->name && tp->name[0] ? tp->name : what;
    qc_dtype dtype = dtype_from_onnx(tp->data_type);
    if (dtype == QC_UNDEFINED)
        return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': tensor '%s' has type %s, which qcal does not support",
                       file, name, qc_onnx_type_name(tp->data_type));
    if (tp->n_dims > QC_MAX_RANK)
        return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': tensor '%s' has rank %zu (at most %d supported)",
                       file, name, tp->n_dims, QC_MAX_RANK);
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': tensor '%s' uses external data, which qcal does not support",
                       file, name);
    out->dtype = dtype;
    out->rank = (int)tp->n_dims;
    int64_t count = 1;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': tensor '%s' has a negative dimension",
                           file, name);
        out->dims[i] = tp->dims[i];
        if (tp->dims[i] && count > MAX_TENSOR_BYTES / tp->dims[i])
            return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': tensor '%s' is too large", file, name);
        count *= tp->dims[i];
    }
    size_t esize = qc_dtype_size(dtype);
    if (count * (int64_t)esize > MAX_TENSOR_BYTES)
        return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': tensor '%s' is too large", file, name);
    size_t bytes = (size_t)count * esize;
    size_t have;
    if (tp->has_raw_data) {
        have = tp->raw_data.len / esize;
        if (tp->raw_data.len != bytes)
            goto size_mismatch;
    } else if (dtype == QC_FLOAT) {
        have = tp->n_float_data;
    } else if (dtype == QC_INT64) {
        have = tp->n_int64_data;
    } else {
        have = tp->n_int32_data;
    }
    if (have != (size_t)count)
        goto size_mismatch;
    out->data = malloc(bytes ? bytes : 1);
    if (!out->data)
        return qc_fail(err, QC_ERR_IO, "out of memory reading '%s'", file);
    if (bytes == 0) {
        /* an empty tensor: nothing to copy (and the source pointers may be NULL) */
    } else if (tp->has_raw_data) {
        memcpy(out->data, tp->raw_data.data, bytes); /* ONNX raw data is little-endian, as x86 */
    } else if (dtype == QC_FLOAT) {
        memcpy(out->data, tp->float_data, bytes);
    } else if (dtype == QC_INT64) {
        memcpy(out->data, tp->int64_data, bytes);
    } else {
        for (int64_t i = 0; i < count; i++) {
            int32_t v = tp->int32_data[i];
            switch (dtype) {
            case QC_INT32: ((int32_t *)out->data)[i] = v; break;
            case QC_INT8: ((int8_t *)out->data)[i] = (int8_t)v; break;
            default: ((uint8_t *)out->data)[i] = (uint8_t)v; break;
            }
        }
    }
    return QC_OK;

size_mismatch:
    return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': tensor '%s' holds %zu values where its shape needs %lld",
                   file, name, have, (long long)count);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static qc_status convert_attr(const Onnx__AttributeProto *ap, const char *file, const char *node,
                              qc_attr *a, qc_error *err)
{
    memset(a, 0, sizeof *a);
    a->name = dup_or_empty(ap->name);
    if (!a->name)
        return qc_fail(err, QC_ERR_IO, "out of memory reading '%s'", file);
    a->type = (qc_attr_type)ap->type;
    switch (ap->type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        a->f = ap->f;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        a->i = ap->i;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
        a->s = malloc(ap->s.len + 1);
        if (!a->s)
            return qc_fail(err, QC_ERR_IO, "out of memory reading '%s'", file);
        if (ap->s.len)
            memcpy(a->s, ap->s.data, ap->s.len);
        a->s[ap->s.len] = '\0';
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
        if (!ap->t)
            return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': node '%s' attribute '%s' has no tensor",
                           file, node, a->name);
        return tensor_from_proto(ap->t, file, a->name, &a->t, err);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        a->n = (int)ap->n_floats;
        a->floats = malloc((ap->n_floats ? ap->n_floats : 1) * sizeof(float));
        if (!a->floats)
            return qc_fail(err, QC_ERR_IO, "out of memory reading '%s'", file);
        if (ap->n_floats)
            memcpy(a->floats, ap->floats, ap->n_floats * sizeof(float));
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        a->n = (int)ap->n_ints;
        a->ints = malloc((ap->n_ints ? ap->n_ints : 1) * sizeof(int64_t));
        if (!a->ints)
            return qc_fail(err, QC_ERR_IO, "out of memory reading '%s'", file);
        if (ap->n_ints)
            memcpy(a->ints, ap->ints, ap->n_ints * sizeof(int64_t));
        break;
    default:
        /* Graph, sparse-tensor and string-list attributes belong to ops qcal does not
         * support; keep the attribute name so the op check can name it. */
        a->type = 0;
        break;
    }
    return QC_OK;
}

/* Sets a graph input's or output's declared type and shape. */
static qc_status apply_value_info(const Onnx__ValueInfoProto *vi, const char *file, qc_tensor *t,
                                  qc_error *err)
{
    if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        !vi->type->tensor_type)
        return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': '%s' is not a tensor, which qcal does not support",
                       file, t->name);
    const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    if (tt->has_elem_type) {
        t->value.dtype = dtype_from_onnx(tt->elem_type);
        if (t->value.dtype == QC_UNDEFINED)
            return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': '%s' has type %s, which qcal does not support",
                           file, t->name, qc_onnx_type_name(tt->elem_type));
    }
    if (!tt->shape)
        return QC_OK;
    if (tt->shape->n_dim > QC_MAX_RANK)
        return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': '%s' has rank %zu (at most %d supported)",
                       file, t->name, tt->shape->n_dim, QC_MAX_RANK);
    t->value.rank = (int)tt->shape->n_dim;
    for (size_t i = 0; i < tt->shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value >= 0) {
            t->value.dims[i] = d->dim_value;
        } else {
            t->value.dims[i] = 1;
            t->symbolic |= 1u << i;
        }
    }
    return QC_OK;
}

static int *int_array(size_t n)
{
    return malloc((n ? n : 1) * sizeof(int));
}

static qc_status convert_model(const Onnx__ModelProto *mp, const char *file, qc_graph *g,
                               qc_error *err)
{
    const Onnx__GraphProto *gp = mp->graph;
    if (!gp)
        return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': the model has no graph", file);
    g->opset = 1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (!o->domain || !o->domain[0] || strcmp(o->domain, "ai.onnx") == 0)
            g->opset = o->version;
    }
    if (mp->n_metadata_props) {
        g->meta_keys = calloc(mp->n_metadata_props, sizeof(char *));
        g->meta_values = calloc(mp->n_metadata_props, sizeof(char *));
        if (!g->meta_keys || !g->meta_values)
            return qc_fail(err, QC_ERR_IO, "out of memory reading '%s'", file);
        for (size_t i = 0; i < mp->n_metadata_props; i++) {
            g->meta_keys[i] = dup_or_empty(mp->metadata_props[i]->key);
            g->meta_values[i] = dup_or_empty(mp->metadata_props[i]->value);
            g->n_meta++;
            if (!g->meta_keys[i] || !g->meta_values[i])
                return qc_fail(err, QC_ERR_IO, "out of memory reading '%s'", file);
        }
    }

    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !tp->name[0])
            return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': initializer %zu has no name", file, i);
        int ti = qc_graph_tensor(g, tp->name);
        if (ti < 0)
            return qc_fail(err, QC_ERR_IO, "out of memory reading '%s'", file);
        qc_tensor *t = &g->tensors[ti];
        if (t->is_const)
            return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': initializer '%s' appears twice", file, tp->name);
        qc_status s = tensor_from_proto(tp, file, tp->name, &t->value, err);
        if (s != QC_OK)
            return s;
        t->is_const = true;
    }

    g->inputs = int_array(gp->n_input);
    g->outputs = int_array(gp->n_output);
    if (!g->inputs || !g->outputs)
        return qc_fail(err, QC_ERR_IO, "out of memory reading '%s'", file);
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || !vi->name[0])
            return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': graph input %zu has no name", file, i);
        int ti = qc_graph_tensor(g, vi->name);
        if (ti < 0)
            return qc_fail(err, QC_ERR_IO, "out of memory reading '%s'", file);
        if (g->tensors[ti].is_const)
            continue; /* an initializer listed as an input (IR < 4): a constant */
        qc_status s = apply_value_info(vi, file, &g->tensors[ti], err);
        if (s != QC_OK)
            return s;
        g->tensors[ti].is_input = true;
        g->inputs[g->n_inputs++] = ti;
    }

    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        char fallback[64];
        const char *op_type = np->op_type ? np->op_type : "";
        snprintf(fallback, sizeof fallback, "%.40s_%zu", op_type[0] ? op_type : "node", i);
        const char *name = np->name && np->name[0] ? np->name : fallback;
        if (!op_type[0])
            return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': node '%s' has no op_type", file, name);
        /* "ai.onnx" is another spelling of the default domain: graph/ and calib/ see "" only */
        const char *domain = np->domain && strcmp(np->domain, "ai.onnx") ? np->domain : "";
        int ni = qc_graph_add_node(g, name, op_type, domain);
        if (ni < 0)
            return qc_fail(err, QC_ERR_IO, "out of memory reading '%s'", file);
        qc_node *n = &g->nodes[ni];
        n->inputs = int_array(np->n_input);
        n->outputs = int_array(np->n_output);
        n->attrs = calloc(np->n_attribute ? np->n_attribute : 1, sizeof(qc_attr));
        if (!n->inputs || !n->outputs || !n->attrs)
            return qc_fail(err, QC_ERR_IO, "out of memory reading '%s'", file);
        for (size_t k = 0; k < np->n_input; k++) {
            const char *in = np->input[k];
            n->inputs[k] = in && in[0] ? qc_graph_tensor(g, in) : -1;
            n->n_inputs++;
            if (in && in[0] && n->inputs[k] < 0)
                return qc_fail(err, QC_ERR_IO, "out of memory reading '%s'", file);
        }
        for (size_t k = 0; k < np->n_output; k++) {
            const char *o = np->output[k];
            int ti = o && o[0] ? qc_graph_tensor(g, o) : -1;
            n->outputs[k] = ti;
            n->n_outputs++;
            if (ti < 0)
                continue;
            qc_tensor *t = &g->tensors[ti];
            if (t->producer >= 0 || t->is_const || t->is_input)
                return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': tensor '%s' is produced twice (node '%s')",
                               file, o, name);
            t->producer = ni;
        }
        for (size_t k = 0; k < np->n_attribute; k++) {
            qc_status s = convert_attr(np->attribute[k], file, name, &n->attrs[k], err);
            n->n_attrs++;
            if (s != QC_OK)
                return s;
        }
    }

    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        int ti = vi->name && vi->name[0] ? qc_graph_find_tensor(g, vi->name) : -1;
        if (ti < 0)
            return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': graph output '%s' is produced by no node",
                           file, vi->name ? vi->name : "");
        g->tensors[ti].is_output = true;
        g->outputs[g->n_outputs++] = ti;
        /* the declared dynamic dimensions, for inspect and the writer (shapes are inferred) */
        const Onnx__TypeProto__Tensor *tt = vi->type && vi->type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
                                                ? vi->type->tensor_type : NULL;
        for (size_t d = 0; tt && tt->shape && d < tt->shape->n_dim && d < QC_MAX_RANK; d++)
            if (tt->shape->dim[d]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
                g->tensors[ti].symbolic |= 1u << d;
    }
    /* Every node input must be a graph input, a constant or some node's output. */
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++) {
            int ti = g->nodes[i].inputs[k];
            if (ti < 0)
                continue;
            const qc_tensor *t = &g->tensors[ti];
            if (!t->is_const && !t->is_input && t->producer < 0)
                return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': node '%s' reads '%s', which nothing produces",
                               file, g->nodes[i].name, t->name);
        }
    return QC_OK;
}

qc_status qc_onnx_parse(const void *data, size_t size, const char *name, qc_graph **out,
                        qc_error *err)
{
    *out = NULL;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, size, data);
    if (!mp)
        return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': not an ONNX model (malformed or truncated protobuf)",
                       name);
    qc_graph *g = qc_graph_create(name);
    qc_status s = g ? convert_model(mp, name, g, err)
                    : qc_fail(err, QC_ERR_IO, "out of memory reading '%s'", name);
    onnx__model_proto__free_unpacked(mp, NULL);
    if (s != QC_OK) {
        qc_graph_destroy(g);
        return s;
    }
    *out = g;
    return QC_OK;
}

qc_status qc_onnx_load(const char *path, qc_graph **out, qc_error *err)
{
    qc_file_bytes bytes;
    *out = NULL;
    qc_status s = qc_map_file(path, &bytes, err);
    if (s != QC_OK)
        return s;
    qc_graph *g;
    s = qc_onnx_parse(bytes.data, bytes.size, path, &g, err);
    qc_unmap_file(&bytes);
    if (s != QC_OK)
        return s;
    s = qc_graph_prepare(g, err);
    if (s != QC_OK) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        qc_fail(err, s, "cannot load '%s': %s", path, msg);
        qc_graph_destroy(g);
        return s;
    }
    *out = g;
    return QC_OK;
}

qc_status qc_onnx_load_tensor(const char *path, qc_value *value, char **name, qc_error *err)
{
    char *data;
    size_t size;
    memset(value, 0, sizeof *value);
    if (name)
        *name = NULL;
    qc_status s = qc_read_file(path, &data, &size, err);
    if (s != QC_OK)
        return s;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, size, (const uint8_t *)data);
    free(data);
    if (!tp)
        return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': not an ONNX tensor (malformed protobuf)", path);
    s = tensor_from_proto(tp, path, "tensor", value, err);
    if (s == QC_OK && name && tp->name) {
        *name = strdup(tp->name);
        if (!*name) {
            free(value->data);
            value->data = NULL;
            s = qc_fail(err, QC_ERR_IO, "out of memory reading '%s'", path);
        }
    }
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return s;
}
