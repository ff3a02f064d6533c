/* ops-math.c — the FP32 executor's elementwise math, reductions and normalizations:
 * activations (Tanh, Erf, Gelu, HardSwish, Elu, Selu, Mish, PRelu, ...), libm maps (Exp, Log,
 * Sqrt, ...), Pow, Min, Max, Sum, Mean, comparisons and logic, Where, the Reduce* family,
 * ArgMax/ArgMin, LayerNormalization, InstanceNormalization, GroupNormalization and Einsum,
 * with ONNX's semantics from opset 11 to 21 (attributes that became inputs are read in both
 * forms). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph-impl.h"

/* ---- helpers shared with the other op files ---------------------------------------------- */

qc_status qc_node_need_inputs(const qc_node *n, const qc_value *const *in, int count,
                              qc_error *err)
{
    if (n->n_inputs < count)
        return qc_node_fail(err, n, "takes at least %d inputs, %d given", count, n->n_inputs);
    for (int k = 0; k < count; k++)
        if (!in[k])
            return qc_node_fail(err, n, "input %d is required", k);
    return QC_OK;
}

qc_status qc_node_int(const qc_node *n, const char *name, int64_t fallback, int64_t *v,
                      qc_error *err)
{
    const qc_attr *a = qc_node_attr(n, name);
    *v = a && a->type == QC_ATTR_INT ? a->i : fallback;
    if (a && a->type != QC_ATTR_INT)
        return qc_node_fail(err, n, "attribute '%s' must be an int", name);
    return QC_OK;
}

qc_status qc_node_flag(const qc_node *n, const char *name, bool fallback, bool *v, qc_error *err)
{
    int64_t i;
    qc_status s = qc_node_int(n, name, fallback, &i, err);
    if (s == QC_OK && i != 0 && i != 1)
        return qc_node_fail(err, n, "attribute '%s' must be 0 or 1, not %lld", name,
                            (long long)i);
    *v = i == 1;
    return s;
}

qc_status qc_node_float(const qc_node *n, const char *name, float fallback, float *v,
                        qc_error *err)
{
    const qc_attr *a = qc_node_attr(n, name);
    *v = a && a->type == QC_ATTR_FLOAT ? a->f : fallback;
    if (a && a->type != QC_ATTR_FLOAT)
        return qc_node_fail(err, n, "attribute '%s' must be a float", name);
    return QC_OK;
}

qc_status qc_node_keep_state(qc_node *n, const void *parsed, size_t size, qc_error *err)
{
    void *copy = malloc(size);
    if (!copy)
        return qc_fail(err, QC_ERR_IO, "out of memory checking node '%s'", n->name);
    memcpy(copy, parsed, size);
    free(n->state);
    n->state = copy;
    return QC_OK;
}

void qc_node_release_state(qc_node *n)
{
    free(n->state);
    n->state = NULL;
}

bool qc_elem_of(qc_dtype t, qc_f32_elem *e)
{
    switch (t) {
    case QC_FLOAT: *e = QC_F32_ELEM_FLOAT; return true;
    case QC_UINT8: *e = QC_F32_ELEM_UINT8; return true;
    case QC_INT8: *e = QC_F32_ELEM_INT8; return true;
    case QC_INT32: *e = QC_F32_ELEM_INT32; return true;
    case QC_INT64: *e = QC_F32_ELEM_INT64; return true;
    default: *e = QC_F32_ELEM_FLOAT; return false;
    }
}

static void copy_shape(qc_value *out, const qc_value *in)
{
    out->dtype = in->dtype;
    out->rank = in->rank;
    memcpy(out->dims, in->dims, sizeof out->dims);
}

static qc_status need_type(const qc_node *n, const qc_value *v, int index, qc_dtype want,
                           qc_error *err)
{
    if (v->dtype != want)
        return qc_node_fail(err, n, "input %d is %s; %s is expected", index,
                            qc_dtype_name(v->dtype), qc_dtype_name(want));
    return QC_OK;
}

static qc_status broadcast_fail(const qc_node *n, const qc_value *a, const qc_value *b,
                                qc_error *err)
{
    char sa[96], sb[96];
    return qc_node_fail(err, n, "shapes %s and %s do not broadcast", qc_shape_str(a, sa, sizeof sa),
                        qc_shape_str(b, sb, sizeof sb));
}

static qc_status unary_arity(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    return qc_node_check_arity(n, 1, 1, 1, err);
}

/* ---- float activations and maps ---------------------------------------------------------- */

typedef struct {
    qc_f32_unary_op op;
    qc_f32_unary_params p;
} unary_state;

static const struct {
    const char *name;
    qc_f32_unary_op op;
} unary_ops[] = {
    {"Tanh", QC_F32_TANH},         {"Erf", QC_F32_ERF},
    {"Sqrt", QC_F32_SQRT},         {"Reciprocal", QC_F32_RECIPROCAL},
    {"Exp", QC_F32_EXP},           {"Log", QC_F32_LOG},
    {"Neg", QC_F32_NEG},           {"Abs", QC_F32_ABS},
    {"Floor", QC_F32_FLOOR},       {"Ceil", QC_F32_CEIL},
    {"Sin", QC_F32_SIN},           {"Cos", QC_F32_COS},
    {"Softsign", QC_F32_SOFTSIGN}, {"Softplus", QC_F32_SOFTPLUS},
    {"Mish", QC_F32_MISH},         {"Gelu", QC_F32_GELU},
    {"HardSigmoid", QC_F32_HARD_SIGMOID}, {"HardSwish", QC_F32_HARD_SWISH},
    {"Elu", QC_F32_ELU},           {"Selu", QC_F32_SELU},
    {"Celu", QC_F32_CELU},         {"ThresholdedRelu", QC_F32_THRESHOLDED_RELU},
};

/* The attributes of the parameterised activations, with the spec's defaults. */
static qc_status unary_params(const qc_node *n, unary_state *st, qc_error *err)
{
    qc_f32_unary_params *p = &st->p;
    switch (st->op) {
    case QC_F32_HARD_SIGMOID: {
        qc_status s = qc_node_float(n, "alpha", 0.2f, &p->alpha, err);
        return s == QC_OK ? qc_node_float(n, "beta", 0.5f, &p->beta, err) : s;
    }
    case QC_F32_ELU:
    case QC_F32_THRESHOLDED_RELU:
        return qc_node_float(n, "alpha", 1.0f, &p->alpha, err);
    case QC_F32_SELU: {
        qc_status s = qc_node_float(n, "alpha", 1.67326319217681884765625f, &p->alpha, err);
        return s == QC_OK ? qc_node_float(n, "gamma", 1.05070102214813232421875f, &p->gamma, err)
                          : s;
    }
    case QC_F32_CELU: {
        qc_status s = qc_node_float(n, "alpha", 1.0f, &p->alpha, err);
        if (s == QC_OK && p->alpha == 0.0f)
            return qc_node_fail(err, n, "attribute 'alpha' must not be 0 (Celu divides by it)");
        return s;
    }
    case QC_F32_GELU: {
        const qc_attr *a = qc_node_attr(n, "approximate");
        if (!a)
            return QC_OK;
        if (a->type != QC_ATTR_STRING || (strcmp(a->s, "none") && strcmp(a->s, "tanh")))
            return qc_node_fail(err, n, "attribute 'approximate' must be \"none\" or \"tanh\"");
        if (!strcmp(a->s, "tanh"))
            st->op = QC_F32_GELU_TANH;
        return QC_OK;
    }
    default:
        return QC_OK;
    }
}

static qc_status unary_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    unary_state st = {0};
    for (size_t i = 0; i < sizeof unary_ops / sizeof unary_ops[0]; i++)
        if (!strcmp(n->op_type, unary_ops[i].name))
            st.op = unary_ops[i].op;
    qc_status s = qc_node_check_arity(n, 1, 1, 1, err);
    if (s == QC_OK)
        s = unary_params(n, &st, err);
    return s == QC_OK ? qc_node_keep_state(n, &st, sizeof st, err) : s;
}

static qc_status float_same_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                                  qc_error *err)
{
    qc_status s = qc_node_need_inputs(n, in, 1, err);
    if (s == QC_OK)
        s = need_type(n, in[0], 0, QC_FLOAT, err);
    if (s == QC_OK)
        copy_shape(&out[0], in[0]);
    return s;
}

static qc_status unary_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                           qc_error *err)
{
    (void)x, (void)err;
    const unary_state *st = n->state;
    qc_f32_unary(st->op, &st->p, qc_value_count(in[0]), in[0]->data, out[0].data);
    return QC_OK;
}

/* Neg and Abs take the signed integer types too: shape arithmetic (LayerNormalization's
 * function body negates an int64 axis). Two's complement wraps, as ONNX Runtime's does. */
static qc_status signed_same_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                                   qc_error *err)
{
    qc_status s = qc_node_need_inputs(n, in, 1, err);
    if (s != QC_OK)
        return s;
    qc_dtype t = in[0]->dtype;
    if (t != QC_FLOAT && t != QC_INT8 && t != QC_INT32 && t != QC_INT64)
        return qc_node_fail(err, n, "input 0 is %s; float32, int8, int32 or int64 is expected",
                            qc_dtype_name(t));
    copy_shape(&out[0], in[0]);
    return QC_OK;
}

static int64_t neg_or_abs(int64_t v, bool neg)
{
    uint64_t m = (uint64_t)0 - (uint64_t)v;
    return neg || v < 0 ? (int64_t)m : v;
}

static qc_status signed_unary_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                                  qc_value *out, qc_error *err)
{
    const unary_state *st = n->state;
    const bool neg = st->op == QC_F32_NEG;
    const int64_t count = qc_value_count(in[0]);
    switch (in[0]->dtype) {
    case QC_INT64:
        for (int64_t i = 0; i < count; i++)
            ((int64_t *)out[0].data)[i] = neg_or_abs(((const int64_t *)in[0]->data)[i], neg);
        return QC_OK;
    case QC_INT32:
        for (int64_t i = 0; i < count; i++)
            ((int32_t *)out[0].data)[i] = (int32_t)(uint32_t)neg_or_abs(((const int32_t *)in[0]->data)[i], neg);
        return QC_OK;
    case QC_INT8:
        for (int64_t i = 0; i < count; i++)
            ((int8_t *)out[0].data)[i] = (int8_t)(uint8_t)neg_or_abs(((const int8_t *)in[0]->data)[i], neg);
        return QC_OK;
    default:
        return unary_run(x, n, in, out, err);
    }
}

/* ---- PRelu ------------------------------------------------------------------------------- */

static qc_status prelu_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    return qc_node_check_arity(n, 2, 2, 1, err);
}

static qc_status prelu_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                             qc_error *err)
{
    qc_status s = qc_node_need_inputs(n, in, 2, err);
    if (s == QC_OK)
        s = need_type(n, in[0], 0, QC_FLOAT, err);
    if (s == QC_OK)
        s = need_type(n, in[1], 1, QC_FLOAT, err);
    if (s != QC_OK)
        return s;
    /* slope broadcasts to X, never the other way */
    qc_value both;
    if (!qc_broadcast_shape(in[0], in[1], &both) || !qc_same_shape(&both, in[0]))
        return qc_node_fail(err, n, "slope does not broadcast to the shape of X");
    copy_shape(&out[0], in[0]);
    return QC_OK;
}

static qc_status prelu_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                           qc_error *err)
{
    (void)x, (void)n, (void)err;
    qc_f32_prelu(in[0]->data, in[0]->rank, in[0]->dims, in[1]->data, in[1]->rank, in[1]->dims,
                 out[0].data);
    return QC_OK;
}

/* ---- comparisons, logic, Not ------------------------------------------------------------- */

static const char *const compare_names[] = {
    [QC_F32_EQUAL] = "Equal", [QC_F32_LESS] = "Less", [QC_F32_GREATER] = "Greater",
    [QC_F32_LESS_EQUAL] = "LessOrEqual", [QC_F32_GREATER_EQUAL] = "GreaterOrEqual",
};
static const char *const logic_names[] = {[QC_F32_AND] = "And", [QC_F32_OR] = "Or",
                                          [QC_F32_XOR] = "Xor"};

static int name_index(const char *const *names, int count, const char *name)
{
    for (int i = 0; i < count; i++)
        if (!strcmp(names[i], name))
            return i;
    return -1;
}

static bool is_logic(const qc_node *n)
{
    return name_index(logic_names, 3, n->op_type) >= 0;
}

static qc_status binary_arity(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    return qc_node_check_arity(n, 2, 2, 1, err);
}

/* Comparisons take two numbers of one type (Equal bools too), logic ops two bools; both give
 * bools of the broadcast shape. */
static qc_status compare_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                               qc_error *err)
{
    qc_status s = qc_node_need_inputs(n, in, 2, err);
    if (s != QC_OK)
        return s;
    const qc_value *a = in[0], *b = in[1];
    qc_f32_elem e;
    if (a->dtype != b->dtype)
        return qc_node_fail(err, n, "inputs are %s and %s; they must have the same type",
                            qc_dtype_name(a->dtype), qc_dtype_name(b->dtype));
    if (is_logic(n) && a->dtype != QC_BOOL)
        return qc_node_fail(err, n, "%s inputs are not supported (bool is)",
                            qc_dtype_name(a->dtype));
    bool bool_equal = a->dtype == QC_BOOL && !strcmp(n->op_type, "Equal");
    if (!is_logic(n) && !bool_equal && !qc_elem_of(a->dtype, &e))
        return qc_node_fail(err, n, "%s inputs are not supported", qc_dtype_name(a->dtype));
    if (!qc_broadcast_shape(a, b, &out[0]))
        return broadcast_fail(n, a, b, err);
    out[0].dtype = QC_BOOL;
    return QC_OK;
}

static qc_status compare_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                             qc_value *out, qc_error *err)
{
    (void)x, (void)err;
    const qc_value *a = in[0], *b = in[1];
    int logic = name_index(logic_names, 3, n->op_type);
    if (logic >= 0) {
        qc_f32_logic((qc_f32_logic_op)logic, a->data, a->rank, a->dims, b->data, b->rank,
                     b->dims, out[0].data, out[0].rank, out[0].dims);
        return QC_OK;
    }
    qc_f32_elem e;
    if (!qc_elem_of(a->dtype, &e))
        e = QC_F32_ELEM_UINT8; /* bool, for Equal: compared as bytes */
    int op = name_index(compare_names, 5, n->op_type);
    qc_f32_compare((qc_f32_compare_op)op, e, a->data, a->rank, a->dims, b->data, b->rank, b->dims,
                   out[0].data, out[0].rank, out[0].dims);
    return QC_OK;
}

static qc_status not_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                           qc_error *err)
{
    qc_status s = qc_node_need_inputs(n, in, 1, err);
    if (s == QC_OK)
        s = need_type(n, in[0], 0, QC_BOOL, err);
    if (s == QC_OK)
        copy_shape(&out[0], in[0]);
    return s;
}

static qc_status not_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                         qc_error *err)
{
    (void)x, (void)n, (void)err;
    qc_f32_not(qc_value_count(in[0]), in[0]->data, out[0].data);
    return QC_OK;
}

/* ---- Where ------------------------------------------------------------------------------- */

static qc_status where_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    return qc_node_check_arity(n, 3, 3, 1, err);
}

static qc_status where_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                             qc_error *err)
{
    qc_status s = qc_node_need_inputs(n, in, 3, err);
    if (s == QC_OK)
        s = need_type(n, in[0], 0, QC_BOOL, err);
    if (s != QC_OK)
        return s;
    qc_f32_elem e;
    if (in[1]->dtype != in[2]->dtype)
        return qc_node_fail(err, n, "X is %s but Y is %s; they must have the same type",
                            qc_dtype_name(in[1]->dtype), qc_dtype_name(in[2]->dtype));
    if (in[1]->dtype != QC_BOOL && !qc_elem_of(in[1]->dtype, &e))
        return qc_node_fail(err, n, "%s inputs are not supported", qc_dtype_name(in[1]->dtype));
    qc_value xy;
    if (!qc_broadcast_shape(in[1], in[2], &xy))
        return broadcast_fail(n, in[1], in[2], err);
    if (!qc_broadcast_shape(in[0], &xy, &out[0]))
        return broadcast_fail(n, in[0], &xy, err);
    out[0].dtype = in[1]->dtype;
    return QC_OK;
}

static qc_status where_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                           qc_error *err)
{
    (void)x, (void)n, (void)err;
    qc_f32_elem e;
    if (!qc_elem_of(in[1]->dtype, &e))
        e = QC_F32_ELEM_UINT8; /* bool: any one-byte type copies the same */
    qc_f32_where(e, in[0]->data, in[0]->rank, in[0]->dims, in[1]->data, in[1]->rank, in[1]->dims,
                 in[2]->data, in[2]->rank, in[2]->dims, out[0].data, out[0].rank, out[0].dims);
    return QC_OK;
}

/* ---- Pow --------------------------------------------------------------------------------- */

static bool pow_type(qc_dtype t)
{
    return t == QC_FLOAT || t == QC_INT32 || t == QC_INT64;
}

static qc_status pow_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                           qc_error *err)
{
    qc_status s = qc_node_need_inputs(n, in, 2, err);
    if (s != QC_OK)
        return s;
    for (int k = 0; k < 2; k++)
        if (!pow_type(in[k]->dtype))
            return qc_node_fail(err, n, "input %d is %s; float32, int32 and int64 are supported", k,
                                qc_dtype_name(in[k]->dtype));
    if (!qc_broadcast_shape(in[0], in[1], &out[0]))
        return broadcast_fail(n, in[0], in[1], err);
    out[0].dtype = in[0]->dtype;
    return QC_OK;
}

static qc_status pow_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                         qc_error *err)
{
    (void)x, (void)n, (void)err;
    qc_f32_elem eb, ee;
    qc_elem_of(in[0]->dtype, &eb);
    qc_elem_of(in[1]->dtype, &ee);
    qc_f32_pow(eb, in[0]->data, in[0]->rank, in[0]->dims, ee, in[1]->data, in[1]->rank,
               in[1]->dims, out[0].data, out[0].rank, out[0].dims);
    return QC_OK;
}

/* ---- Min, Max, Sum, Mean ----------------------------------------------------------------- */

#define MAX_VARIADIC 16 /* the executor passes at most 16 inputs */

static qc_status variadic_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    qc_status s = qc_node_check_arity(n, 1, MAX_VARIADIC, 1, err);
    for (int k = 1; s == QC_OK && k < n->n_inputs; k++)
        if (n->inputs[k] < 0)
            s = qc_node_fail(err, n, "input %d is required", k);
    return s;
}

static bool float_only(const qc_node *n)
{
    return !strcmp(n->op_type, "Sum") || !strcmp(n->op_type, "Mean");
}

static qc_status variadic_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                                qc_error *err)
{
    qc_status s = qc_node_need_inputs(n, in, n->n_inputs, err);
    if (s != QC_OK)
        return s;
    qc_f32_elem e;
    qc_dtype t = in[0]->dtype;
    if (float_only(n) ? t != QC_FLOAT : !qc_elem_of(t, &e))
        return qc_node_fail(err, n, "%s inputs are not supported", qc_dtype_name(t));
    copy_shape(&out[0], in[0]);
    for (int k = 1; k < n->n_inputs; k++) {
        if (in[k]->dtype != t)
            return qc_node_fail(err, n, "input %d is %s but input 0 is %s", k,
                                qc_dtype_name(in[k]->dtype), qc_dtype_name(t));
        qc_value prev = out[0];
        if (!qc_broadcast_shape(&prev, in[k], &out[0]))
            return broadcast_fail(n, &prev, in[k], err);
    }
    out[0].dtype = t;
    return QC_OK;
}

static qc_status variadic_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                              qc_value *out, qc_error *err)
{
    (void)x, (void)err;
    qc_f32_elem e;
    qc_elem_of(in[0]->dtype, &e);
    qc_value *y = &out[0];
    if (n->n_inputs == 1) {
        memcpy(y->data, in[0]->data, qc_value_bytes(y));
        return QC_OK;
    }
    qc_f32_binary_op op = !strcmp(n->op_type, "Min")   ? QC_F32_MIN
                          : !strcmp(n->op_type, "Max") ? QC_F32_MAX
                                                       : QC_F32_ADD;
    /* y = in0 op in1 at the full output shape, then y = y op in_k in place */
    qc_f32_binary(op, e, in[0]->data, in[0]->rank, in[0]->dims, in[1]->data, in[1]->rank,
                  in[1]->dims, y->data, y->rank, y->dims);
    for (int k = 2; k < n->n_inputs; k++)
        qc_f32_binary(op, e, y->data, y->rank, y->dims, in[k]->data, in[k]->rank, in[k]->dims,
                      y->data, y->rank, y->dims);
    if (!strcmp(n->op_type, "Mean")) {
        float *v = y->data, count = (float)n->n_inputs;
        for (int64_t i = 0, size = qc_value_count(y); i < size; i++)
            v[i] /= count;
    }
    return QC_OK;
}

/* ---- ReduceSum, ReduceMean, ReduceMax, ... ----------------------------------------------- */

typedef struct {
    qc_f32_reduce_op op;
    bool keepdims;
    bool noop_with_empty_axes;
    bool axes_input; /* opset 18 on (ReduceSum: 13): axes is the optional second input */
    int n_axes;
    int64_t axes[QC_MAX_RANK];
} reduce_state;

static const struct {
    const char *name;
    qc_f32_reduce_op op;
} reduce_ops[] = {
    {"ReduceSum", QC_F32_REDUCE_SUM},       {"ReduceMean", QC_F32_REDUCE_MEAN},
    {"ReduceMax", QC_F32_REDUCE_MAX},       {"ReduceMin", QC_F32_REDUCE_MIN},
    {"ReduceProd", QC_F32_REDUCE_PROD},     {"ReduceL1", QC_F32_REDUCE_L1},
    {"ReduceL2", QC_F32_REDUCE_L2},         {"ReduceSumSquare", QC_F32_REDUCE_SUM_SQUARE},
    {"ReduceLogSum", QC_F32_REDUCE_LOG_SUM}, {"ReduceLogSumExp", QC_F32_REDUCE_LOG_SUM_EXP},
};

static qc_status reduce_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    reduce_state st = {0};
    for (size_t i = 0; i < sizeof reduce_ops / sizeof reduce_ops[0]; i++)
        if (!strcmp(n->op_type, reduce_ops[i].name))
            st.op = reduce_ops[i].op;
    st.axes_input = g->opset >= (st.op == QC_F32_REDUCE_SUM ? 13 : 18);
    qc_status s = qc_node_check_arity(n, 1, st.axes_input ? 2 : 1, 1, err);
    if (s == QC_OK)
        s = qc_node_flag(n, "keepdims", true, &st.keepdims, err);
    if (s == QC_OK)
        s = qc_node_flag(n, "noop_with_empty_axes", false, &st.noop_with_empty_axes, err);
    if (s != QC_OK)
        return s;
    const qc_attr *axes = qc_node_attr(n, "axes");
    if (axes && st.axes_input)
        return qc_node_fail(err, n, "attribute 'axes' is an input from opset %d on",
                            st.op == QC_F32_REDUCE_SUM ? 13 : 18);
    if (axes && (axes->type != QC_ATTR_INTS || axes->n > QC_MAX_RANK))
        return qc_node_fail(err, n, "attribute 'axes' must be at most %d ints", QC_MAX_RANK);
    if (axes) {
        st.n_axes = axes->n;
        memcpy(st.axes, axes->ints, (size_t)axes->n * sizeof(int64_t));
    }
    return qc_node_keep_state(n, &st, sizeof st, err);
}

/* The dimensions reduced, from the attribute or the axes input; *noop when the input is
 * passed through (empty axes with noop_with_empty_axes). QC_OK with *known false when the
 * axes input has no data yet (static inference of a computed axes tensor). */
static qc_status reduce_mask(const qc_node *n, const qc_value *const *in, bool *reduced,
                             bool *noop, bool *known, qc_error *err)
{
    const reduce_state *st = n->state;
    const qc_value *x = in[0];
    int64_t axes[QC_MAX_RANK];
    int count = st->n_axes;
    memcpy(axes, st->axes, sizeof axes);
    const qc_value *axes_in = st->axes_input && n->n_inputs > 1 ? in[1] : NULL;
    *known = true;
    if (axes_in) {
        if (axes_in->dtype != QC_INT64 || axes_in->rank != 1)
            return qc_node_fail(err, n, "input 'axes' must be a 1-d int64 tensor");
        if (!axes_in->data) {
            *known = false;
            return QC_OK;
        }
        count = qc_read_ints(axes_in, axes, QC_MAX_RANK);
        if (count < 0)
            return qc_node_fail(err, n, "input 'axes' has more than %d values", QC_MAX_RANK);
    }
    *noop = count == 0 && st->noop_with_empty_axes;
    for (int d = 0; d < x->rank; d++)
        reduced[d] = count == 0;
    for (int i = 0; i < count; i++) {
        int axis;
        if (!qc_axis(axes[i], x->rank, &axis))
            return qc_node_fail(err, n, "axis %lld is out of range for an input of rank %d",
                                (long long)axes[i], x->rank);
        if (reduced[axis])
            return qc_node_fail(err, n, "axis %lld is given twice", (long long)axes[i]);
        reduced[axis] = true;
    }
    return QC_OK;
}

static qc_status reduce_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                              qc_error *err)
{
    const reduce_state *st = n->state;
    bool reduced[QC_MAX_RANK], noop, known;
    qc_status s = qc_node_need_inputs(n, in, 1, err);
    if (s == QC_OK)
        s = need_type(n, in[0], 0, QC_FLOAT, err);
    if (s == QC_OK)
        s = reduce_mask(n, in, reduced, &noop, &known, err);
    if (s != QC_OK)
        return s;
    out[0].dtype = QC_FLOAT;
    if (!known) {
        out[0].rank = -1;
        return QC_OK;
    }
    if (noop) {
        copy_shape(&out[0], in[0]);
        return QC_OK;
    }
    out[0].rank = 0;
    for (int d = 0; d < in[0]->rank; d++)
        if (!reduced[d])
            out[0].dims[out[0].rank++] = in[0]->dims[d];
        else if (st->keepdims)
            out[0].dims[out[0].rank++] = 1;
    return QC_OK;
}

static qc_status reduce_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                            qc_value *out, qc_error *err)
{
    const reduce_state *st = n->state;
    bool reduced[QC_MAX_RANK], noop, known;
    qc_status s = reduce_mask(n, in, reduced, &noop, &known, err);
    if (s != QC_OK)
        return s;
    if (noop) {
        memcpy(out[0].data, in[0]->data, qc_value_bytes(in[0]));
        return QC_OK;
    }
    void *scratch = qc_exec_scratch(x, qc_f32_reduce_scratch_size(qc_value_count(&out[0])));
    if (!scratch)
        return qc_fail(err, QC_ERR_IO, "out of memory running node '%s'", n->name);
    qc_f32_reduce(st->op, in[0]->rank, in[0]->dims, reduced, in[0]->data, out[0].data, scratch);
    return QC_OK;
}

/* ---- ArgMax, ArgMin ---------------------------------------------------------------------- */

typedef struct {
    int64_t axis;
    bool keepdims, last_index;
} arg_state;

static qc_status arg_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    arg_state st = {0};
    qc_status s = qc_node_check_arity(n, 1, 1, 1, err);
    if (s == QC_OK)
        s = qc_node_int(n, "axis", 0, &st.axis, err);
    if (s == QC_OK)
        s = qc_node_flag(n, "keepdims", true, &st.keepdims, err);
    if (s == QC_OK)
        s = qc_node_flag(n, "select_last_index", false, &st.last_index, err);
    return s == QC_OK ? qc_node_keep_state(n, &st, sizeof st, err) : s;
}

static qc_status arg_axis(const qc_node *n, const qc_value *v, int *axis, qc_error *err)
{
    const arg_state *st = n->state;
    if (!qc_axis(st->axis, v->rank, axis))
        return qc_node_fail(err, n, "axis %lld is out of range for an input of rank %d",
                            (long long)st->axis, v->rank);
    return QC_OK;
}

static int64_t dims_product(const int64_t *dims, int from, int to)
{
    int64_t p = 1;
    for (int d = from; d < to; d++)
        p *= dims[d];
    return p;
}

static qc_status arg_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                           qc_error *err)
{
    const arg_state *st = n->state;
    int axis;
    qc_status s = float_same_infer(n, in, out, err);
    if (s == QC_OK)
        s = arg_axis(n, in[0], &axis, err);
    if (s != QC_OK)
        return s;
    out[0].dtype = QC_INT64;
    if (st->keepdims) {
        out[0].dims[axis] = 1;
    } else {
        memmove(out[0].dims + axis, out[0].dims + axis + 1,
                (size_t)(out[0].rank - axis - 1) * sizeof(int64_t));
        out[0].rank--;
    }
    return QC_OK;
}

static qc_status arg_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                         qc_error *err)
{
    (void)x;
    const arg_state *st = n->state;
    const qc_value *v = in[0];
    int axis;
    qc_status s = arg_axis(n, v, &axis, err);
    if (s != QC_OK)
        return s;
    if (v->dims[axis] == 0)
        return qc_node_fail(err, n, "cannot take the %s of an empty axis", n->op_type);
    qc_f32_arg_extreme(!strcmp(n->op_type, "ArgMin"), st->last_index,
                       dims_product(v->dims, 0, axis), v->dims[axis],
                       dims_product(v->dims, axis + 1, v->rank), v->data, out[0].data);
    return QC_OK;
}

/* ---- LayerNormalization ------------------------------------------------------------------ */

typedef struct {
    int64_t axis;
    float epsilon;
    int64_t groups; /* GroupNormalization */
    bool per_group; /* GroupNormalization before opset 21: scale and bias per group */
} norm_state;

/* stash_type names the precision of the statistics; qcal computes them in double, as precise
 * as any of the allowed types. */
static qc_status stash_check(const qc_node *n, qc_error *err)
{
    int64_t stash;
    qc_status s = qc_node_int(n, "stash_type", 1, &stash, err);
    if (s == QC_OK && stash != 1 && stash != 10 && stash != 11 && stash != 16)
        return qc_node_fail(err, n, "attribute 'stash_type' must be a float type "
                                    "(1, 10, 11 or 16), not %lld", (long long)stash);
    return s;
}

static qc_status layernorm_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    norm_state st = {0};
    qc_status s = qc_node_check_arity(n, 2, 3, 3, err);
    if (s == QC_OK)
        s = qc_node_int(n, "axis", -1, &st.axis, err);
    if (s == QC_OK)
        s = qc_node_float(n, "epsilon", 1e-5f, &st.epsilon, err);
    if (s == QC_OK)
        s = stash_check(n, err);
    return s == QC_OK ? qc_node_keep_state(n, &st, sizeof st, err) : s;
}

/* Scale or bias: broadcast to the normalized dimensions X[axis:]. qcal takes those of the
 * same element count (the normal form, possibly with leading ones) or a single value. */
static qc_status norm_param(const qc_node *n, const qc_value *x, int axis, const qc_value *p,
                            int index, qc_error *err)
{
    qc_status s = need_type(n, p, index, QC_FLOAT, err);
    if (s != QC_OK)
        return s;
    qc_value tail = {.rank = x->rank - axis};
    memcpy(tail.dims, x->dims + axis, (size_t)tail.rank * sizeof(int64_t));
    qc_value both;
    bool fits = qc_broadcast_shape(&tail, p, &both) && qc_same_shape(&both, &tail) &&
                (qc_value_count(p) == qc_value_count(&tail) || qc_value_count(p) == 1);
    if (!fits) {
        char sp[96], st[96];
        return qc_node_fail(err, n, "input %d of shape %s does not match the normalized shape %s",
                            index, qc_shape_str(p, sp, sizeof sp),
                            qc_shape_str(&tail, st, sizeof st));
    }
    return QC_OK;
}

static qc_status layernorm_geometry(const qc_node *n, const qc_value *const *in, int *axis,
                                    qc_error *err)
{
    const norm_state *st = n->state;
    qc_status s = qc_node_need_inputs(n, in, 2, err);
    if (s == QC_OK)
        s = need_type(n, in[0], 0, QC_FLOAT, err);
    if (s != QC_OK)
        return s;
    if (!qc_axis(st->axis, in[0]->rank, axis))
        return qc_node_fail(err, n, "axis %lld is out of range for an input of rank %d",
                            (long long)st->axis, in[0]->rank);
    s = norm_param(n, in[0], *axis, in[1], 1, err);
    if (s == QC_OK && n->n_inputs > 2 && in[2])
        s = norm_param(n, in[0], *axis, in[2], 2, err);
    return s;
}

static qc_status layernorm_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                                 qc_error *err)
{
    int axis;
    qc_status s = layernorm_geometry(n, in, &axis, err);
    if (s != QC_OK)
        return s;
    copy_shape(&out[0], in[0]);
    for (int k = 1; k < n->n_outputs; k++) { /* Mean, InvStdDev: X's shape, ones from axis */
        copy_shape(&out[k], in[0]);
        for (int d = axis; d < in[0]->rank; d++)
            out[k].dims[d] = 1;
    }
    return QC_OK;
}

static qc_status layernorm_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                               qc_value *out, qc_error *err)
{
    (void)x;
    const norm_state *st = n->state;
    int axis;
    qc_status s = layernorm_geometry(n, in, &axis, err);
    if (s != QC_OK)
        return s;
    const qc_value *v = in[0], *scale = in[1], *bias = n->n_inputs > 2 ? in[2] : NULL;
    int64_t size = dims_product(v->dims, axis, v->rank);
    qc_f32_layernorm(dims_product(v->dims, 0, axis), size, v->data, scale->data,
                     qc_value_count(scale) == size, bias ? bias->data : NULL,
                     bias && qc_value_count(bias) == size, st->epsilon, out[0].data,
                     n->n_outputs > 1 ? out[1].data : NULL, n->n_outputs > 2 ? out[2].data : NULL);
    return QC_OK;
}

/* ---- InstanceNormalization, GroupNormalization ------------------------------------------- */

static qc_status groupnorm_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    bool instance = !strcmp(n->op_type, "InstanceNormalization");
    norm_state st = {.per_group = g->opset < 21};
    qc_status s = qc_node_check_arity(n, 3, 3, 1, err);
    if (s == QC_OK)
        s = qc_node_float(n, "epsilon", 1e-5f, &st.epsilon, err);
    if (s == QC_OK && !instance)
        s = qc_node_int(n, "num_groups", 0, &st.groups, err);
    if (s == QC_OK && !instance && st.groups < 1)
        s = qc_node_fail(err, n, "attribute 'num_groups' is required and must be positive");
    if (s == QC_OK && !instance)
        s = stash_check(n, err);
    return s == QC_OK ? qc_node_keep_state(n, &st, sizeof st, err) : s;
}

/* Channels per group of scale and bias: one value per channel, or per group for
 * GroupNormalization before opset 21. */
static qc_status groupnorm_geometry(const qc_node *n, const qc_value *const *in,
                                    int64_t *groups, bool *per_group, qc_error *err)
{
    const norm_state *st = n->state;
    bool instance = !strcmp(n->op_type, "InstanceNormalization");
    qc_status s = qc_node_need_inputs(n, in, 3, err);
    for (int k = 0; s == QC_OK && k < 3; k++)
        s = need_type(n, in[k], k, QC_FLOAT, err);
    if (s != QC_OK)
        return s;
    if (in[0]->rank < 3)
        return qc_node_fail(err, n, "input X has rank %d; N x C x D1... expected", in[0]->rank);
    int64_t channels = in[0]->dims[1];
    *groups = instance ? channels : st->groups;
    *per_group = !instance && st->per_group;
    if (channels % *groups)
        return qc_node_fail(err, n, "%lld channels do not split into %lld groups",
                            (long long)channels, (long long)*groups);
    int64_t want = *per_group ? *groups : channels;
    for (int k = 1; k < 3; k++)
        if (in[k]->rank != 1 || in[k]->dims[0] != want)
            return qc_node_fail(err, n, "%s must have %lld values (one per %s)",
                                k == 1 ? "scale" : "bias", (long long)want,
                                *per_group ? "group" : "channel");
    return QC_OK;
}

static qc_status groupnorm_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                                 qc_error *err)
{
    int64_t groups;
    bool per_group;
    qc_status s = groupnorm_geometry(n, in, &groups, &per_group, err);
    if (s == QC_OK)
        copy_shape(&out[0], in[0]);
    return s;
}

static qc_status groupnorm_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                               qc_value *out, qc_error *err)
{
    (void)x;
    const norm_state *st = n->state;
    int64_t groups;
    bool per_group;
    qc_status s = groupnorm_geometry(n, in, &groups, &per_group, err);
    if (s != QC_OK)
        return s;
    const qc_value *v = in[0];
    qc_f32_groupnorm(v->dims[0], v->dims[1], groups, dims_product(v->dims, 2, v->rank), v->data,
                     in[1]->data, in[2]->data, per_group, st->epsilon, out[0].data);
    return QC_OK;
}

/* ---- Einsum ------------------------------------------------------------------------------ */

#define EINSUM_MAX_INPUTS 4
#define EINSUM_ELLIPSIS (-1)
#define EINSUM_TERMS (QC_MAX_RANK + 1)

/* The equation, parsed once: each operand's and the output's terms, a letter (0..51) or the
 * ellipsis. Without "->", the output is the ellipsis then the letters used once, sorted. */
typedef struct {
    int n_inputs;
    int n_terms[EINSUM_MAX_INPUTS + 1]; /* the output last */
    int terms[EINSUM_MAX_INPUTS + 1][EINSUM_TERMS];
    bool explicit_output;
} einsum_state;

static int letter_id(char c)
{
    return c >= 'a' && c <= 'z' ? c - 'a' : c >= 'A' && c <= 'Z' ? 26 + c - 'A' : -2;
}

/* Parses one side's subscripts (up to ',' or '-' or the end); returns the characters read or
 * -1 on an error. */
static int einsum_subscripts(const char *p, int *terms, int *n_terms)
{
    const char *start = p;
    bool ellipsis = false;
    *n_terms = 0;
    for (; *p && *p != ',' && *p != '-'; p++) {
        if (*p == ' ')
            continue;
        int id = EINSUM_ELLIPSIS;
        if (!strncmp(p, "...", 3) && !ellipsis) {
            ellipsis = true;
            p += 2;
        } else if ((id = letter_id(*p)) < 0) {
            return -1;
        }
        if (*n_terms == EINSUM_TERMS)
            return -1;
        terms[(*n_terms)++] = id;
    }
    return (int)(p - start);
}

/* The implicit output: the ellipsis (when an input has one), then letters used once, in
 * alphabetical order (ONNX's rule, numpy's too). */
static void einsum_implicit_output(einsum_state *st)
{
    int uses[52] = {0};
    bool ellipsis = false;
    for (int k = 0; k < st->n_inputs; k++)
        for (int t = 0; t < st->n_terms[k]; t++)
            if (st->terms[k][t] == EINSUM_ELLIPSIS)
                ellipsis = true;
            else
                uses[st->terms[k][t]]++;
    int *out = st->terms[st->n_inputs], *n = &st->n_terms[st->n_inputs];
    *n = 0;
    if (ellipsis)
        out[(*n)++] = EINSUM_ELLIPSIS;
    for (int l = 0; l < 52 && *n < EINSUM_TERMS; l++) /* 'a'..'z' sort before 'A'..'Z' in ids */
        if (uses[l] == 1)
            out[(*n)++] = l;
}

static qc_status einsum_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    einsum_state st = {.n_inputs = n->n_inputs};
    qc_status s = qc_node_check_arity(n, 1, EINSUM_MAX_INPUTS, 1, err);
    if (s != QC_OK)
        return s;
    const qc_attr *a = qc_node_attr(n, "equation");
    if (!a || a->type != QC_ATTR_STRING)
        return qc_node_fail(err, n, "attribute 'equation' is required (a string)");
    const char *p = a->s;
    for (int k = 0; k < n->n_inputs; k++) {
        int used = einsum_subscripts(p, st.terms[k], &st.n_terms[k]);
        if (used < 0)
            return qc_node_fail(err, n, "attribute 'equation' \"%s\" is not valid", a->s);
        p += used;
        bool last = k == n->n_inputs - 1;
        if (last ? *p == ',' : *p != ',')
            return qc_node_fail(err, n, "attribute 'equation' \"%s\" does not name %d inputs",
                                a->s, n->n_inputs);
        p += !last;
    }
    st.explicit_output = !strncmp(p, "->", 2);
    if (st.explicit_output) {
        int used = einsum_subscripts(p + 2, st.terms[n->n_inputs], &st.n_terms[n->n_inputs]);
        if (used < 0 || p[2 + used])
            return qc_node_fail(err, n, "attribute 'equation' \"%s\" is not valid", a->s);
    } else if (*p) {
        return qc_node_fail(err, n, "attribute 'equation' \"%s\" is not valid", a->s);
    } else {
        einsum_implicit_output(&st);
    }
    return qc_node_keep_state(n, &st, sizeof st, err);
}

/* Letter sizes and operand strides from the input shapes. Ellipsis dimensions take ids 52..,
 * right-aligned and broadcast (a dimension of 1 reads with stride 0). */
typedef struct {
    int n_letters;
    int64_t sizes[QC_F32_EINSUM_LETTERS];
    qc_f32_einsum_operand ops[EINSUM_MAX_INPUTS];
    int n_out;
    int out_letters[QC_MAX_RANK];
} einsum_plan;

/* Records a subscript's size: letters must agree; ellipsis dimensions broadcast (1 against
 * any size). */
static qc_status einsum_letter(const qc_node *n, einsum_plan *p, int id, int64_t size,
                               qc_error *err)
{
    int64_t known = p->sizes[id];
    bool broadcast = id >= 52 && (known == 1 || size == 1);
    if (known < 0 || (broadcast && known == 1))
        p->sizes[id] = size;
    else if (known != size && !broadcast)
        return qc_node_fail(err, n, "subscript '%c' has sizes %lld and %lld",
                            id < 26 ? 'a' + id : 'A' + id - 26, (long long)known,
                            (long long)size);
    return QC_OK;
}

static qc_status einsum_geometry(const qc_node *n, const qc_value *const *in, einsum_plan *p,
                                 qc_error *err)
{
    const einsum_state *st = n->state;
    memset(p, 0, sizeof *p);
    for (int l = 0; l < QC_F32_EINSUM_LETTERS; l++)
        p->sizes[l] = -1;
    int ell_rank = 0, ell_of[EINSUM_MAX_INPUTS];
    qc_status s = qc_node_need_inputs(n, in, st->n_inputs, err);
    for (int k = 0; s == QC_OK && k < st->n_inputs; k++) {
        s = need_type(n, in[k], k, QC_FLOAT, err);
        bool has_ellipsis = false;
        for (int t = 0; t < st->n_terms[k]; t++)
            has_ellipsis |= st->terms[k][t] == EINSUM_ELLIPSIS;
        ell_of[k] = in[k]->rank - (st->n_terms[k] - has_ellipsis);
        if (s == QC_OK && (ell_of[k] < 0 || (!has_ellipsis && ell_of[k] != 0)))
            return qc_node_fail(err, n, "input %d has rank %d, which its subscripts do not match",
                                k, in[k]->rank);
        ell_rank = ell_of[k] > ell_rank ? ell_of[k] : ell_rank;
    }
    if (s != QC_OK)
        return s;
    p->n_letters = 52 + ell_rank;
    for (int k = 0; k < st->n_inputs; k++) {
        const qc_value *v = in[k];
        p->ops[k].data = v->data;
        int64_t step = 1;
        for (int d = v->rank - 1, t = st->n_terms[k] - 1; d >= 0; t--) {
            int count = st->terms[k][t] == EINSUM_ELLIPSIS ? ell_of[k] : 1;
            for (int e = count - 1; e >= 0; e--, d--) {
                int id = st->terms[k][t] == EINSUM_ELLIPSIS ? 52 + ell_rank - ell_of[k] + e
                                                            : st->terms[k][t];
                if ((s = einsum_letter(n, p, id, v->dims[d], err)) != QC_OK)
                    return s;
                p->ops[k].stride[id] += v->dims[d] == 1 && id >= 52 ? 0 : step;
                step *= v->dims[d];
            }
        }
    }
    const int *out = st->terms[st->n_inputs];
    for (int t = 0; t < st->n_terms[st->n_inputs]; t++)
        if (out[t] != EINSUM_ELLIPSIS && p->sizes[out[t]] < 0)
            return qc_node_fail(err, n, "output subscript '%c' is in no input",
                                out[t] < 26 ? 'a' + out[t] : 'A' + out[t] - 26);
    for (int l = 0; l < p->n_letters; l++)
        p->sizes[l] = p->sizes[l] < 0 ? 1 : p->sizes[l];
    for (int t = 0; t < st->n_terms[st->n_inputs]; t++) {
        int count = out[t] == EINSUM_ELLIPSIS ? ell_rank : 1;
        for (int e = 0; e < count; e++) {
            if (p->n_out == QC_MAX_RANK)
                return qc_node_fail(err, n, "the output has more than %d dimensions", QC_MAX_RANK);
            p->out_letters[p->n_out++] = out[t] == EINSUM_ELLIPSIS ? 52 + e : out[t];
        }
    }
    return QC_OK;
}

static qc_status einsum_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                              qc_error *err)
{
    einsum_plan p;
    qc_status s = einsum_geometry(n, in, &p, err);
    if (s != QC_OK)
        return s;
    out[0].dtype = QC_FLOAT;
    out[0].rank = p.n_out;
    for (int i = 0; i < p.n_out; i++)
        out[0].dims[i] = p.sizes[p.out_letters[i]];
    return QC_OK;
}

static qc_status einsum_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                            qc_value *out, qc_error *err)
{
    (void)x;
    einsum_plan p;
    qc_status s = einsum_geometry(n, in, &p, err);
    if (s == QC_OK)
        qc_f32_einsum(((const einsum_state *)n->state)->n_inputs, p.ops, p.n_letters, p.sizes,
                      p.n_out, p.out_letters, out[0].data);
    return s;
}

/* ---- the table --------------------------------------------------------------------------- */

#define UNARY(NAME) {NAME, "", unary_check, float_same_infer, unary_run, qc_node_release_state}
#define COMPARE(NAME) {NAME, "", binary_arity, compare_infer, compare_run, NULL}
#define REDUCE(NAME) {NAME, "", reduce_check, reduce_infer, reduce_run, qc_node_release_state}
#define VARIADIC(NAME) {NAME, "", variadic_check, variadic_infer, variadic_run, NULL}

const qc_op qc_ops_math[] = {
    UNARY("Tanh"), UNARY("Erf"), UNARY("Sqrt"), UNARY("Reciprocal"), UNARY("Exp"), UNARY("Log"),
    {"Neg", "", unary_check, signed_same_infer, signed_unary_run, qc_node_release_state},
    {"Abs", "", unary_check, signed_same_infer, signed_unary_run, qc_node_release_state}, UNARY("Floor"), UNARY("Ceil"), UNARY("Sin"), UNARY("Cos"),
    UNARY("Softsign"), UNARY("Softplus"), UNARY("Mish"), UNARY("Gelu"), UNARY("HardSigmoid"),
    UNARY("HardSwish"), UNARY("Elu"), UNARY("Selu"), UNARY("Celu"), UNARY("ThresholdedRelu"),
    {"PRelu", "", prelu_check, prelu_infer, prelu_run, NULL},
    COMPARE("Equal"), COMPARE("Less"), COMPARE("Greater"), COMPARE("LessOrEqual"),
    COMPARE("GreaterOrEqual"), COMPARE("And"), COMPARE("Or"), COMPARE("Xor"),
    {"Not", "", unary_arity, not_infer, not_run, NULL},
    {"Where", "", where_check, where_infer, where_run, NULL},
    {"Pow", "", binary_arity, pow_infer, pow_run, NULL},
    VARIADIC("Min"), VARIADIC("Max"), VARIADIC("Sum"), VARIADIC("Mean"),
    REDUCE("ReduceSum"), REDUCE("ReduceMean"), REDUCE("ReduceMax"), REDUCE("ReduceMin"),
    REDUCE("ReduceProd"), REDUCE("ReduceL1"), REDUCE("ReduceL2"), REDUCE("ReduceSumSquare"),
    REDUCE("ReduceLogSum"), REDUCE("ReduceLogSumExp"),
    {"ArgMax", "", arg_check, arg_infer, arg_run, qc_node_release_state},
    {"ArgMin", "", arg_check, arg_infer, arg_run, qc_node_release_state},
    {"LayerNormalization", "", layernorm_check, layernorm_infer, layernorm_run,
     qc_node_release_state},
    {"InstanceNormalization", "", groupnorm_check, groupnorm_infer, groupnorm_run,
     qc_node_release_state},
    {"GroupNormalization", "", groupnorm_check, groupnorm_infer, groupnorm_run,
     qc_node_release_state},
    {"Einsum", "", einsum_check, einsum_infer, einsum_run, qc_node_release_state},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
