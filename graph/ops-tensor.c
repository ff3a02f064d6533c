/* ops-tensor.c — ops that only move or reshape data, of any element type: Concat, Flatten,
 * Reshape, Transpose, Squeeze, Unsqueeze, Identity, Dropout, Constant, Shape, Gather. */
#include <stdlib.h>
#include <string.h>

#include "graph-impl.h"

static qc_status need_inputs(const qc_node *n, const qc_value *const *in, int min, int max,
                             qc_error *err)
{
    int given = 0;
    for (int k = 0; k < n->n_inputs; k++)
        if (in[k])
            given = k + 1;
    if (given < min || n->n_inputs > max)
        return qc_fail(err, QC_ERR_INPUT, "node '%s' (%s) takes %d to %d inputs, %d given", n->name,
                       n->op_type, min, max, n->n_inputs);
    for (int k = 0; k < min; k++)
        if (!in[k])
            return qc_fail(err, QC_ERR_INPUT, "node '%s' (%s): input %d is required", n->name,
                           n->op_type, k);
    return QC_OK;
}

static void copy_meta(qc_value *out, const qc_value *in)
{
    out->dtype = in->dtype;
    out->rank = in->rank;
    memcpy(out->dims, in->dims, sizeof out->dims);
}

static qc_status run_copy(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                          qc_error *err)
{
    (void)x, (void)n, (void)err;
    if (out[0].data != in[0]->data)
        memcpy(out[0].data, in[0]->data, qc_value_bytes(in[0]));
    return QC_OK;
}

/* ---- Identity ----------------------------------------------------------------------- */

static qc_status identity_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                                qc_error *err)
{
    qc_status s = need_inputs(n, in, 1, 1, err);
    if (s == QC_OK)
        copy_meta(&out[0], in[0]);
    return s;
}

/* ---- Dropout (inference: the identity, and an all-true mask) ------------------------ */

static qc_status dropout_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    if (n->n_inputs >= 3 && n->inputs[2] >= 0) {
        const qc_tensor *mode = &g->tensors[n->inputs[2]];
        if (!mode->is_const || !mode->value.data || qc_read_scalar(&mode->value, 0) != 0)
            return qc_fail(err, QC_ERR_INPUT, "node '%s' (Dropout): training_mode is not supported (qcal runs inference only)",
                           n->name);
    }
    if (qc_node_attr_int(n, "is_test", 1) == 0)
        return qc_fail(err, QC_ERR_INPUT, "node '%s' (Dropout): is_test=0 (training) is not supported", n->name);
    return QC_OK;
}

static qc_status dropout_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                               qc_error *err)
{
    qc_status s = need_inputs(n, in, 1, 3, err);
    if (s != QC_OK)
        return s;
    copy_meta(&out[0], in[0]);
    if (n->n_outputs > 1) {
        copy_meta(&out[1], in[0]);
        out[1].dtype = QC_BOOL;
    }
    return QC_OK;
}

static qc_status dropout_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                             qc_error *err)
{
    run_copy(x, n, in, out, err);
    if (n->n_outputs > 1 && out[1].data)
        memset(out[1].data, 1, (size_t)qc_value_count(&out[1]));
    return QC_OK;
}

/* ---- Constant ------------------------------------------------------------------------ */

static qc_status constant_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    static const char *const forms[] = {"value", "value_float", "value_floats", "value_int",
                                        "value_ints"};
    qc_status s = qc_node_check_arity(n, 0, 0, 1, err);
    if (s != QC_OK)
        return s;
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        if (qc_node_attr(n, forms[i]))
            return QC_OK;
    return qc_fail(err, QC_ERR_INPUT, "node '%s' (Constant): only value, value_float(s) and value_int(s) are supported",
                   n->name);
}

static qc_status constant_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                                qc_error *err)
{
    (void)in, (void)err;
    const qc_attr *a;
    memset(&out[0], 0, sizeof out[0]);
    if ((a = qc_node_attr(n, "value")) && a->type == QC_ATTR_TENSOR) {
        copy_meta(&out[0], &a->t);
    } else if ((a = qc_node_attr(n, "value_float"))) {
        out[0].dtype = QC_FLOAT;
    } else if ((a = qc_node_attr(n, "value_int"))) {
        out[0].dtype = QC_INT64;
    } else if ((a = qc_node_attr(n, "value_floats"))) {
        out[0] = (qc_value){.dtype = QC_FLOAT, .rank = 1, .dims = {a->n}};
    } else if ((a = qc_node_attr(n, "value_ints"))) {
        out[0] = (qc_value){.dtype = QC_INT64, .rank = 1, .dims = {a->n}};
    } else {
        return qc_fail(err, QC_ERR_INPUT, "node '%s' (Constant) has no value", n->name);
    }
    return QC_OK;
}

static qc_status constant_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                              qc_error *err)
{
    (void)x, (void)in, (void)err;
    const qc_attr *a;
    if ((a = qc_node_attr(n, "value")) && a->type == QC_ATTR_TENSOR) {
        if (qc_value_bytes(&a->t))
            memcpy(out[0].data, a->t.data, qc_value_bytes(&a->t));
    }
    else if ((a = qc_node_attr(n, "value_float")))
        *(float *)out[0].data = a->f;
    else if ((a = qc_node_attr(n, "value_int")))
        *(int64_t *)out[0].data = a->i;
    else if ((a = qc_node_attr(n, "value_floats")) && a->n > 0)
        memcpy(out[0].data, a->floats, (size_t)a->n * sizeof(float));
    else if ((a = qc_node_attr(n, "value_ints")) && a->n > 0)
        memcpy(out[0].data, a->ints, (size_t)a->n * sizeof(int64_t));
    return QC_OK;
}

/* ---- Shape ----------------------------------------------------------------------------- */

static void shape_range(const qc_node *n, int rank, int *start, int *end)
{
    int64_t s = qc_node_attr_int(n, "start", 0), e = qc_node_attr_int(n, "end", rank);
    if (s < 0)
        s += rank;
    if (e < 0)
        e += rank;
    s = s < 0 ? 0 : s > rank ? rank : s;
    e = e < 0 ? 0 : e > rank ? rank : e;
    *start = (int)s;
    *end = (int)(e > s ? e : s);
}

static qc_status shape_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                             qc_error *err)
{
    qc_status s = need_inputs(n, in, 1, 1, err);
    if (s != QC_OK)
        return s;
    int start, end;
    shape_range(n, in[0]->rank, &start, &end);
    out[0] = (qc_value){.dtype = QC_INT64, .rank = 1, .dims = {end - start}};
    return QC_OK;
}

static qc_status shape_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                           qc_error *err)
{
    (void)x, (void)err;
    int start, end;
    shape_range(n, in[0]->rank, &start, &end);
    for (int i = start; i < end; i++)
        ((int64_t *)out[0].data)[i - start] = in[0]->dims[i];
    return QC_OK;
}

/* ---- Flatten ------------------------------------------------------------------------------- */

static qc_status flatten_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                               qc_error *err)
{
    qc_status s = need_inputs(n, in, 1, 1, err);
    if (s != QC_OK)
        return s;
    int64_t axis = qc_node_attr_int(n, "axis", 1);
    int rank = in[0]->rank;
    if (axis < -rank || axis > rank)
        return qc_fail(err, QC_ERR_INPUT, "node '%s' (Flatten): axis %lld is out of range for rank %d",
                       n->name, (long long)axis, rank);
    if (axis < 0)
        axis += rank;
    int64_t outer = 1, inner = 1; /* within QC_MAX_ELEMENTS: the input was checked */
    for (int i = 0; i < rank; i++) {
        int64_t *side = i < axis ? &outer : &inner;
        if (!qc_mul_dims(*side, in[0]->dims[i], side))
            return qc_fail(err, QC_ERR_INPUT, "node '%s' (Flatten): more than 2^40 elements", n->name);
    }
    out[0] = (qc_value){.dtype = in[0]->dtype, .rank = 2, .dims = {outer, inner}};
    return QC_OK;
}

/* ---- Reshape ---------------------------------------------------------------------------------- */

static qc_status reshape_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                               qc_error *err)
{
    qc_status s = need_inputs(n, in, 2, 2, err);
    if (s != QC_OK)
        return s;
    int64_t shape[QC_MAX_RANK];
    if (!in[1]->data) {
        out[0].rank = -1; /* the shape arrives at run time */
        return QC_OK;
    }
    int rank = qc_read_ints(in[1], shape, QC_MAX_RANK);
    if (rank < 0)
        return qc_fail(err, QC_ERR_INPUT, "node '%s' (Reshape): the shape must be an int64 vector of at most %d values",
                       n->name, QC_MAX_RANK);
    bool allowzero = qc_node_attr_int(n, "allowzero", 0) != 0;
    int64_t total = qc_value_count(in[0]), known = 1;
    int unknown = -1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] == 0 && !allowzero) {
            if (i >= in[0]->rank)
                return qc_fail(err, QC_ERR_INPUT, "node '%s' (Reshape): dimension %d is 0 (copy) but the input has rank %d",
                               n->name, i, in[0]->rank);
            shape[i] = in[0]->dims[i];
        }
        if (shape[i] == -1) {
            if (unknown >= 0)
                return qc_fail(err, QC_ERR_INPUT, "node '%s' (Reshape): more than one -1 in the shape", n->name);
            unknown = i;
        } else if (shape[i] < 0) {
            return qc_fail(err, QC_ERR_INPUT, "node '%s' (Reshape): negative dimension %lld", n->name,
                           (long long)shape[i]);
        } else if (!qc_mul_dims(known, shape[i], &known)) {
            return qc_fail(err, QC_ERR_INPUT, "node '%s' (Reshape): the shape has more than 2^40 elements",
                           n->name);
        }
    }
    if (unknown >= 0) {
        if (known == 0 || total % known)
            return qc_fail(err, QC_ERR_INPUT, "node '%s' (Reshape): cannot reshape %lld values with a -1 dimension",
                           n->name, (long long)total);
        shape[unknown] = total / known;
        known = total;
    }
    if (known != total)
        return qc_fail(err, QC_ERR_INPUT, "node '%s' (Reshape): cannot reshape %lld values into %lld",
                       n->name, (long long)total, (long long)known);
    out[0].dtype = in[0]->dtype;
    out[0].rank = rank;
    memcpy(out[0].dims, shape, (size_t)rank * sizeof shape[0]);
    return QC_OK;
}

/* ---- Squeeze / Unsqueeze ------------------------------------------------------------------- */

/* Axes come from the attribute (opset < 13) or the second input (opset >= 13). Returns the
 * count, 0 when none are given, -1 when given but not readable (a run-time input). */
static int read_axes(const qc_node *n, const qc_value *const *in, int64_t *axes)
{
    const qc_attr *a = qc_node_attr(n, "axes");
    if (a && a->type == QC_ATTR_INTS) {
        int count = a->n < QC_MAX_RANK ? a->n : QC_MAX_RANK;
        memcpy(axes, a->ints, (size_t)count * sizeof *axes);
        return count;
    }
    if (n->n_inputs > 1 && in[1])
        return in[1]->data ? qc_read_ints(in[1], axes, QC_MAX_RANK) : -1;
    return 0;
}

static qc_status squeeze_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                               qc_error *err)
{
    qc_status s = need_inputs(n, in, 1, 2, err);
    if (s != QC_OK)
        return s;
    int64_t axes[QC_MAX_RANK];
    int count = read_axes(n, in, axes);
    if (count < 0) {
        out[0].rank = -1;
        return QC_OK;
    }
    bool drop[QC_MAX_RANK] = {false};
    for (int i = 0; i < count; i++) {
        int axis;
        if (!qc_axis(axes[i], in[0]->rank, &axis) || in[0]->dims[axis] != 1)
            return qc_fail(err, QC_ERR_INPUT, "node '%s' (Squeeze): axis %lld is not a dimension of size 1",
                           n->name, (long long)axes[i]);
        drop[axis] = true;
    }
    out[0].dtype = in[0]->dtype;
    out[0].rank = 0;
    for (int i = 0; i < in[0]->rank; i++)
        if (!(count ? drop[i] : in[0]->dims[i] == 1))
            out[0].dims[out[0].rank++] = in[0]->dims[i];
    return QC_OK;
}

static qc_status unsqueeze_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                                 qc_error *err)
{
    qc_status s = need_inputs(n, in, 1, 2, err);
    if (s != QC_OK)
        return s;
    int64_t axes[QC_MAX_RANK];
    int count = read_axes(n, in, axes);
    if (count < 0) {
        out[0].rank = -1;
        return QC_OK;
    }
    int rank = in[0]->rank + count;
    if (count == 0 || rank > QC_MAX_RANK)
        return qc_fail(err, QC_ERR_INPUT, "node '%s' (Unsqueeze): needs 1 to %d axes", n->name,
                       QC_MAX_RANK - in[0]->rank);
    bool added[QC_MAX_RANK] = {false};
    for (int i = 0; i < count; i++) {
        int axis;
        if (!qc_axis(axes[i], rank, &axis) || added[axis])
            return qc_fail(err, QC_ERR_INPUT, "node '%s' (Unsqueeze): axis %lld is out of range or repeated",
                           n->name, (long long)axes[i]);
        added[axis] = true;
    }
    out[0].dtype = in[0]->dtype;
    out[0].rank = rank;
    for (int i = 0, j = 0; i < rank; i++)
        out[0].dims[i] = added[i] ? 1 : in[0]->dims[j++];
    return QC_OK;
}

/* ---- Transpose ----------------------------------------------------------------------------- */

static qc_status transpose_perm(const qc_node *n, int rank, int *perm, qc_error *err)
{
    const qc_attr *a = qc_node_attr(n, "perm");
    if (!a) {
        for (int i = 0; i < rank; i++)
            perm[i] = rank - 1 - i;
        return QC_OK;
    }
    bool used[QC_MAX_RANK] = {false};
    if (a->type != QC_ATTR_INTS || a->n != rank)
        return qc_fail(err, QC_ERR_INPUT, "node '%s' (Transpose): perm must list %d axes", n->name, rank);
    for (int i = 0; i < rank; i++) {
        if (a->ints[i] < 0 || a->ints[i] >= rank || used[a->ints[i]])
            return qc_fail(err, QC_ERR_INPUT, "node '%s' (Transpose): perm is not a permutation", n->name);
        used[a->ints[i]] = true;
        perm[i] = (int)a->ints[i];
    }
    return QC_OK;
}

static qc_status transpose_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                                 qc_error *err)
{
    qc_status s = need_inputs(n, in, 1, 1, err);
    if (s != QC_OK)
        return s;
    int perm[QC_MAX_RANK];
    s = transpose_perm(n, in[0]->rank, perm, err);
    if (s != QC_OK)
        return s;
    out[0].dtype = in[0]->dtype;
    out[0].rank = in[0]->rank;
    for (int i = 0; i < in[0]->rank; i++)
        out[0].dims[i] = in[0]->dims[perm[i]];
    return QC_OK;
}

static qc_status transpose_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                               qc_value *out, qc_error *err)
{
    (void)x;
    int rank = in[0]->rank, perm[QC_MAX_RANK];
    qc_status s = transpose_perm(n, rank, perm, err);
    if (s != QC_OK)
        return s;
    size_t esize = qc_dtype_size(in[0]->dtype);
    int64_t in_stride[QC_MAX_RANK], stride[QC_MAX_RANK], index[QC_MAX_RANK] = {0};
    int64_t acc = 1;
    for (int i = rank - 1; i >= 0; i--) {
        in_stride[i] = acc;
        acc *= in[0]->dims[i];
    }
    for (int i = 0; i < rank; i++)
        stride[i] = in_stride[perm[i]]; /* input stride of output axis i */
    int64_t count = qc_value_count(in[0]);
    const char *src = in[0]->data;
    char *dst = out[0].data;
    for (int64_t o = 0; o < count; o++) {
        int64_t offset = 0;
        for (int i = 0; i < rank; i++)
            offset += index[i] * stride[i];
        memcpy(dst + (size_t)o * esize, src + (size_t)offset * esize, esize);
        for (int i = rank - 1; i >= 0; i--) {
            if (++index[i] < out[0].dims[i])
                break;
            index[i] = 0;
        }
    }
    return QC_OK;
}

/* ---- Concat ----------------------------------------------------------------------------------- */

static qc_status concat_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                              qc_error *err)
{
    if (n->n_inputs < 1 || !in[0])
        return qc_fail(err, QC_ERR_INPUT, "node '%s' (Concat) has no inputs", n->name);
    const qc_attr *a = qc_node_attr(n, "axis");
    int axis;
    if (!a || !qc_axis(a->i, in[0]->rank, &axis))
        return qc_fail(err, QC_ERR_INPUT, "node '%s' (Concat): axis is missing or out of range", n->name);
    copy_meta(&out[0], in[0]);
    out[0].dims[axis] = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        const qc_value *v = in[k];
        bool fits = v && v->dtype == in[0]->dtype && v->rank == in[0]->rank;
        for (int d = 0; fits && d < v->rank; d++)
            fits = d == axis || v->dims[d] == in[0]->dims[d];
        if (!fits)
            return qc_fail(err, QC_ERR_INPUT, "node '%s' (Concat): input %d does not match input 0 off the axis",
                           n->name, k);
        out[0].dims[axis] += v->dims[axis];
    }
    return QC_OK;
}

static qc_status concat_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                            qc_error *err)
{
    (void)x, (void)err;
    int axis;
    qc_axis(qc_node_attr(n, "axis")->i, in[0]->rank, &axis);
    size_t esize = qc_dtype_size(in[0]->dtype);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= in[0]->dims[d];
    for (int d = axis + 1; d < in[0]->rank; d++)
        inner *= in[0]->dims[d];
    size_t out_row = (size_t)(out[0].dims[axis] * inner) * esize, offset = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        size_t row = (size_t)(in[k]->dims[axis] * inner) * esize;
        for (int64_t o = 0; o < outer; o++)
            memcpy((char *)out[0].data + (size_t)o * out_row + offset,
                   (const char *)in[k]->data + (size_t)o * row, row);
        offset += row;
    }
    return QC_OK;
}

/* ---- Gather --------------------------------------------------------------------------------------- */

static qc_status gather_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                              qc_error *err)
{
    qc_status s = need_inputs(n, in, 2, 2, err);
    if (s != QC_OK)
        return s;
    int axis;
    if (!qc_axis(qc_node_attr_int(n, "axis", 0), in[0]->rank, &axis))
        return qc_fail(err, QC_ERR_INPUT, "node '%s' (Gather): axis is out of range", n->name);
    if (in[1]->dtype != QC_INT64 && in[1]->dtype != QC_INT32)
        return qc_fail(err, QC_ERR_INPUT, "node '%s' (Gather): indices must be int32 or int64", n->name);
    int rank = in[0]->rank - 1 + in[1]->rank;
    if (rank > QC_MAX_RANK)
        return qc_fail(err, QC_ERR_INPUT, "node '%s' (Gather): output rank %d is too large", n->name, rank);
    out[0].dtype = in[0]->dtype;
    out[0].rank = 0;
    for (int d = 0; d < axis; d++)
        out[0].dims[out[0].rank++] = in[0]->dims[d];
    for (int d = 0; d < in[1]->rank; d++)
        out[0].dims[out[0].rank++] = in[1]->dims[d];
    for (int d = axis + 1; d < in[0]->rank; d++)
        out[0].dims[out[0].rank++] = in[0]->dims[d];
    return QC_OK;
}

static qc_status gather_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                            qc_error *err)
{
    (void)x;
    int axis;
    qc_axis(qc_node_attr_int(n, "axis", 0), in[0]->rank, &axis);
    size_t esize = qc_dtype_size(in[0]->dtype);
    int64_t outer = 1, inner = 1, len = in[0]->dims[axis], n_index = qc_value_count(in[1]);
    for (int d = 0; d < axis; d++)
        outer *= in[0]->dims[d];
    for (int d = axis + 1; d < in[0]->rank; d++)
        inner *= in[0]->dims[d];
    size_t block = (size_t)inner * esize;
    char *dst = out[0].data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < n_index; i++) {
            int64_t idx = (int64_t)qc_read_scalar(in[1], i);
            if (idx < 0)
                idx += len;
            if (idx < 0 || idx >= len)
                return qc_fail(err, QC_ERR_INPUT, "node '%s' (Gather): index %lld is out of range [0, %lld)",
                               n->name, (long long)qc_read_scalar(in[1], i), (long long)len);
            memcpy(dst, (const char *)in[0]->data + ((size_t)(o * len + idx)) * block, block);
            dst += block;
        }
    return QC_OK;
}

const qc_op qc_ops_tensor[] = {
    {"Identity", "", NULL, identity_infer, run_copy, NULL},
    {"Dropout", "", dropout_check, dropout_infer, dropout_run, NULL},
    {"Constant", "", constant_check, constant_infer, constant_run, NULL},
    {"Shape", "", NULL, shape_infer, shape_run, NULL},
    {"Flatten", "", NULL, flatten_infer, run_copy, NULL},
    {"Reshape", "", NULL, reshape_infer, run_copy, NULL},
    {"Squeeze", "", NULL, squeeze_infer, run_copy, NULL},
    {"Unsqueeze", "", NULL, unsqueeze_infer, run_copy, NULL},
    {"Transpose", "", NULL, transpose_infer, transpose_run, NULL},
    {"Concat", "", NULL, concat_infer, concat_run, NULL},
    {"Gather", "", NULL, gather_infer, gather_run, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
