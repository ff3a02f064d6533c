/* quantize-ops.c — the quantizer's op table: one row per op it quantizes, as graph/'s
 * qc_op tables are one row per op the runtime runs (docs/qparams.md, rules Q1–Q11).
 *
 * A row says where the op's output takes its parameters from (its own statistics, its input's,
 * or one set shared with its inputs), which inputs get parameters of their own, whether it has
 * weights and how their channels lie, whether a Relu/Clip after it can be fused, how it takes
 * an input compensated per channel, the conditions beyond the common ones, and the integer
 * operator QOperator writes for it. An op may have several rows (MatMul by weights, MatMul of
 * two activations): the first whose conditions hold is its. QDQ and FakeQuantize need nothing more: they copy the
 * node, replace its weights and bias, and quantize its output as the row says. An op without
 * a row stays FP32. */
#include <string.h>

#include "quantize-impl.h"

/* ---- conditions ------------------------------------------------------------------------------ */

/* A constant float weight of rank `rank` at input 1, and an optional constant bias at input 2
 * with one value per output channel (m: where the weight's dims hold that count). */
static bool weights_fit(const qz *q, const qc_node *n, int rank, int bias_dim)
{
    const qc_graph *g = q->g;
    if (n->n_inputs < 2 || !qz_is_float_const(g, n->inputs[1]) || g->tensors[n->inputs[1]].value.rank != rank)
        return false;
    if (n->n_inputs > 2 && n->inputs[2] >= 0) {
        int64_t m = g->tensors[n->inputs[1]].value.dims[bias_dim];
        if (!qz_is_float_const(g, n->inputs[2]) || qc_value_count(&g->tensors[n->inputs[2]].value) != m)
            return false;
    }
    return true;
}

static bool conv_accepts(const qz *q, const qc_node *n)
{
    return weights_fit(q, n, 4, 0);
}

/* Y = A·B + C only: alpha and beta 1, A not transposed */
static bool gemm_accepts(const qz *q, const qc_node *n)
{
    if (qc_node_attr_float(n, "alpha", 1) != 1 || qc_node_attr_float(n, "beta", 1) != 1 ||
        qc_node_attr_int(n, "transA", 0) != 0)
        return false;
    return weights_fit(q, n, 2, qc_node_attr_int(n, "transB", 0) ? 0 : 1);
}

static bool matmul_accepts(const qz *q, const qc_node *n)
{
    return n->n_inputs == 2 && weights_fit(q, n, 2, 0);
}

/* two activations (attention: Q·Kᵀ, softmax·V), batched as the FP32 graph runs them */
static bool matmul_activations_accept(const qz *q, const qc_node *n)
{
    return n->n_inputs == 2 && qz_is_activation(q->g, n->inputs[1]);
}

/* two activations of the same shape (QLinearAdd does not broadcast here) */
static bool add_accepts(const qz *q, const qc_node *n)
{
    const qc_graph *g = q->g;
    return n->n_inputs == 2 && qz_is_activation(g, n->inputs[1]) &&
           qc_same_shape(&g->tensors[n->inputs[0]].value, &g->tensors[n->inputs[1]].value);
}

/* x · y of two activations (a squeeze-excitation gate) or x · constant: any shapes that
 * broadcast, as the FP32 graph already runs them */
static bool mul_accepts(const qz *q, const qc_node *n)
{
    return n->n_inputs == 2 && (qz_is_activation(q->g, n->inputs[1]) || qz_is_float_const(q->g, n->inputs[1]));
}

static bool concat_accepts(const qz *q, const qc_node *n)
{
    for (int k = 0; k < n->n_inputs; k++)
        if (!qz_is_activation(q->g, n->inputs[k]))
            return false;
    return true;
}

static bool one_output(const qz *q, const qc_node *n)
{
    (void)q;
    return n->n_outputs == 1;
}

/* MaxPool without its Indices output */
static bool no_indices(const qz *q, const qc_node *n)
{
    (void)q;
    return n->n_outputs == 1 || n->outputs[1] < 0;
}

/* Squeeze and Unsqueeze of opset 13, their axes an input: an older node's "axes" attribute
 * would have to become an input, which the integer form (the node copied) does not do */
static bool axes_as_input(const qz *q, const qc_node *n)
{
    (void)q;
    return !qc_node_attr(n, "axes");
}

static bool pad_accepts(const qz *q, const qc_node *n)
{
    return qc_pad_on_codes(q->g, n);
}

static bool resize_accepts(const qz *q, const qc_node *n)
{
    (void)q;
    return qc_resize_on_codes(n);
}

/* ---- QOperator forms (Q11) ------------------------------------------------------------------- */

static void push(qz_qop *e, const int *v, int n)
{
    memcpy(e->in + e->n_in, v, (size_t)n * sizeof *v);
    e->n_in += n;
}

/* x, s, z, w, ws, wz: the head all three weighted forms share; *bias the int32 bias or -1 */
static qc_status weighted_head(qz *q, const qc_node *n, qz_weights k, int x, int s, int z, qz_qop *e, int *bias)
{
    int wi, ws, wz;
    qc_status st = qz_quantize_weight(q, n, k, &wi, &ws, &wz);
    if (st == QC_OK)
        st = qz_quantize_bias(q, n, n->inputs[0], n->inputs[1], bias);
    if (st != QC_OK)
        return st;
    push(e, (int[]){x, s, z, wi, ws, wz}, 6);
    return QC_OK;
}

/* QLinearConv and QLinearMatMul: the output's parameters, then the bias when there is one
 * (a MatMul has none) */
static qc_status linear_qop(qz *q, const qc_node *n, qz_weights k, int x, int s, int z, int ys, int yz, qz_qop *e)
{
    int bi;
    qc_status st = weighted_head(q, n, k, x, s, z, e, &bi);
    if (st != QC_OK)
        return st;
    e->op_type = k == QZ_WEIGHTS_CONV ? "QLinearConv" : "QLinearMatMul";
    push(e, (int[]){ys, yz}, 2);
    if (bi >= 0)
        push(e, &bi, 1);
    return QC_OK;
}

static qc_status conv_qop(qz *q, const qc_node *n, int x, int s, int z, int ys, int yz, qz_qop *e)
{
    return linear_qop(q, n, QZ_WEIGHTS_CONV, x, s, z, ys, yz, e);
}

static qc_status matmul_qop(qz *q, const qc_node *n, int x, int s, int z, int ys, int yz, qz_qop *e)
{
    return linear_qop(q, n, QZ_WEIGHTS_MATMUL, x, s, z, ys, yz, e);
}

/* as ONNX Runtime writes a Gemm: com.microsoft QGemm, the bias before the output's parameters */
static qc_status gemm_qop(qz *q, const qc_node *n, int x, int s, int z, int ys, int yz, qz_qop *e)
{
    int bi;
    qc_status st = weighted_head(q, n, QZ_WEIGHTS_GEMM, x, s, z, e, &bi);
    if (st != QC_OK)
        return st;
    e->op_type = "QGemm";
    e->domain = QZ_MS_DOMAIN;
    e->skip_attr = "beta";
    push(e, (int[]){bi, ys, yz}, 3);
    return QC_OK;
}

/* a, its parameters, b, its parameters, the output's: QLinearAdd's and QLinearMul's inputs */
static qc_status binary_inputs(qz *q, const qc_node *n, int x, int s, int z, int ys, int yz, qz_qop *e)
{
    int b, bs, bz;
    if (qz_is_float_const(q->g, n->inputs[1])) { /* a constant operand (Mul) */
        qc_status st = qz_quantize_operand(q, n->inputs[1], &b, &bs, &bz);
        if (st != QC_OK)
            return st;
    } else if ((b = qz_q_of(q, n->inputs[1])) < 0 || qz_act_consts(q, n->inputs[1], &bs, &bz) != QC_OK)
        return qz_oom(q);
    push(e, (int[]){x, s, z, b, bs, bz, ys, yz}, 8);
    e->domain = QZ_MS_DOMAIN;
    return QC_OK;
}

/* QLinearMatMul of two activations: the inputs in QLinearAdd's order, the default domain */
static qc_status matmul_activations_qop(qz *q, const qc_node *n, int x, int s, int z, int ys, int yz, qz_qop *e)
{
    qc_status st = binary_inputs(q, n, x, s, z, ys, yz, e);
    e->op_type = "QLinearMatMul";
    e->domain = "";
    return st;
}

static qc_status add_qop(qz *q, const qc_node *n, int x, int s, int z, int ys, int yz, qz_qop *e)
{
    e->op_type = "QLinearAdd";
    return binary_inputs(q, n, x, s, z, ys, yz, e);
}

static qc_status mul_qop(qz *q, const qc_node *n, int x, int s, int z, int ys, int yz, qz_qop *e)
{
    e->op_type = "QLinearMul";
    return binary_inputs(q, n, x, s, z, ys, yz, e);
}

static qc_status concat_qop(qz *q, const qc_node *n, int x, int s, int z, int ys, int yz, qz_qop *e)
{
    (void)x, (void)s, (void)z;
    if (n->n_inputs > QZ_MAX_INPUTS)
        return qc_fail(q->err, QC_ERR_INPUT, "node '%s' has too many inputs", n->name);
    push(e, (int[]){ys, yz}, 2);
    for (int j = 0; j < n->n_inputs; j++) {
        int xj = qz_q_of(q, n->inputs[j]), sj, zj;
        if (xj < 0 || qz_act_consts(q, n->inputs[j], &sj, &zj) != QC_OK)
            return qz_oom(q);
        push(e, (int[]){xj, sj, zj}, 3);
    }
    e->op_type = "QLinearConcat";
    e->domain = QZ_MS_DOMAIN;
    return QC_OK;
}

static qc_status avgpool_qop(qz *q, const qc_node *n, int x, int s, int z, int ys, int yz, qz_qop *e)
{
    (void)q, (void)n;
    push(e, (int[]){x, s, z, ys, yz}, 5);
    e->op_type = "QLinearAveragePool";
    e->domain = QZ_MS_DOMAIN;
    return QC_OK;
}

static qc_status gap_qop(qz *q, const qc_node *n, int x, int s, int z, int ys, int yz, qz_qop *e)
{
    (void)q, (void)n;
    push(e, (int[]){x, s, z, ys, yz}, 5);
    e->op_type = "QLinearGlobalAveragePool";
    e->domain = QZ_MS_DOMAIN;
    e->int_attr = "channels_last";
    e->int_attr_value = 0;
    return QC_OK;
}

/* ONNX Runtime's activations by table: x, its parameters, the output's; attributes copied */
static qc_status lookup_qop(qz *q, const qc_node *n, int x, int s, int z, int ys, int yz, qz_qop *e)
{
    (void)q;
    push(e, (int[]){x, s, z, ys, yz}, 5);
    e->op_type = qz_is_op(n, "Sigmoid") ? "QLinearSigmoid" : "QLinearLeakyRelu";
    e->domain = QZ_MS_DOMAIN;
    return QC_OK;
}

/* the op itself on the integers, its other inputs (shapes, axes) as they are */
static qc_status pass_qop(qz *q, const qc_node *n, int x, int s, int z, int ys, int yz, qz_qop *e)
{
    (void)s, (void)z, (void)ys, (void)yz;
    if (n->n_inputs > QZ_MAX_INPUTS)
        return qc_fail(q->err, QC_ERR_INPUT, "node '%s' has too many inputs", n->name);
    e->in[e->n_in++] = x;
    for (int j = 1; j < n->n_inputs; j++)
        if ((e->in[e->n_in++] = qz_plain(q, n->inputs[j])) < 0 && n->inputs[j] >= 0)
            return qz_oom(q);
    return QC_OK;
}

/* Pad on the codes: its padding value the input's zero point */
static qc_status pad_qop(qz *q, const qc_node *n, int x, int s, int z, int ys, int yz, qz_qop *e)
{
    qc_status st = pass_qop(q, n, x, s, z, ys, yz, e);
    if (st == QC_OK && e->n_in < 3)
        e->n_in = 3;
    e->in[2] = z;
    return st;
}

/* ---- the table ------------------------------------------------------------------------------- */

static const qz_op ops[] = {
    /* op_type, weights, own_inputs, out, needs_quantized_input, fuses_activation,
     * compensation, accepts, qop */
    {"Conv", QZ_WEIGHTS_CONV, 1, QZ_OUT_OWN, false, true, QZ_COMP_LINEAR, conv_accepts, conv_qop},
    {"Gemm", QZ_WEIGHTS_GEMM, 1, QZ_OUT_OWN, false, true, QZ_COMP_LINEAR, gemm_accepts, gemm_qop},
    {"MatMul", QZ_WEIGHTS_MATMUL, 1, QZ_OUT_OWN, false, true, QZ_COMP_LINEAR, matmul_accepts, matmul_qop},
    {"MatMul", QZ_WEIGHTS_NONE, 2, QZ_OUT_OWN, false, false, QZ_COMP_NONE, matmul_activations_accept,
     matmul_activations_qop},
    {"Add", QZ_WEIGHTS_NONE, 2, QZ_OUT_OWN, false, true, QZ_COMP_NONE, add_accepts, add_qop},
    {"Mul", QZ_WEIGHTS_OPERAND, 2, QZ_OUT_OWN, false, false, QZ_COMP_NONE, mul_accepts, mul_qop},
    {"Concat", QZ_WEIGHTS_NONE, 0, QZ_OUT_SHARED, false, false, QZ_COMP_NONE, concat_accepts, concat_qop},
    {"AveragePool", QZ_WEIGHTS_NONE, 1, QZ_OUT_OWN, false, false, QZ_COMP_NONE, one_output, avgpool_qop},
    {"GlobalAveragePool", QZ_WEIGHTS_NONE, 1, QZ_OUT_OWN, false, false, QZ_COMP_NONE, NULL, gap_qop},
    /* a table of 256 codes in the runtime (eq. L1), worth it on a quantized input; the last
     * three have no QOperator op: DQ → op → Q there */
    {"Sigmoid", QZ_WEIGHTS_NONE, 1, QZ_OUT_OWN, true, false, QZ_COMP_NONE, NULL, lookup_qop},
    {"LeakyRelu", QZ_WEIGHTS_NONE, 1, QZ_OUT_OWN, true, false, QZ_COMP_NONE, NULL, lookup_qop},
    {"HardSwish", QZ_WEIGHTS_NONE, 1, QZ_OUT_OWN, true, false, QZ_COMP_NONE, NULL, NULL},
    {"HardSigmoid", QZ_WEIGHTS_NONE, 1, QZ_OUT_OWN, true, false, QZ_COMP_NONE, NULL, NULL},
    {"Tanh", QZ_WEIGHTS_NONE, 1, QZ_OUT_OWN, true, false, QZ_COMP_NONE, NULL, NULL},
    /* these only move values: worth it when the input is already quantized (Q4) */
    {"MaxPool", QZ_WEIGHTS_NONE, 0, QZ_OUT_PASS, true, false, QZ_COMP_KEEPS, no_indices, pass_qop},
    {"Flatten", QZ_WEIGHTS_NONE, 0, QZ_OUT_PASS, true, false, QZ_COMP_RESHAPES, NULL, pass_qop},
    {"Reshape", QZ_WEIGHTS_NONE, 0, QZ_OUT_PASS, true, false, QZ_COMP_RESHAPES, NULL, pass_qop},
    {"Transpose", QZ_WEIGHTS_NONE, 0, QZ_OUT_PASS, true, false, QZ_COMP_NONE, NULL, pass_qop},
    {"Squeeze", QZ_WEIGHTS_NONE, 0, QZ_OUT_PASS, true, false, QZ_COMP_RESHAPES, axes_as_input, pass_qop},
    {"Unsqueeze", QZ_WEIGHTS_NONE, 0, QZ_OUT_PASS, true, false, QZ_COMP_RESHAPES, axes_as_input, pass_qop},
    {"Slice", QZ_WEIGHTS_NONE, 0, QZ_OUT_PASS, true, false, QZ_COMP_NONE, NULL, pass_qop},
    {"Pad", QZ_WEIGHTS_NONE, 0, QZ_OUT_PASS, true, false, QZ_COMP_NONE, pad_accepts, pad_qop},
    {"Resize", QZ_WEIGHTS_NONE, 0, QZ_OUT_PASS, true, false, QZ_COMP_NONE, resize_accepts, pass_qop},
};

const qz_op *qz_op_find(const qz *q, const qc_node *n)
{
    if (n->domain[0])
        return NULL;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(ops[i].op_type, n->op_type) && (!ops[i].accepts || ops[i].accepts(q, n)))
            return &ops[i];
    return NULL;
}
