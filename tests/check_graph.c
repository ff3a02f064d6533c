/* check_graph.c — the IR, the ONNX loader, graph preparation (unsupported ops, cycles,
 * constant and shape-subgraph folding), the BatchNorm fold, the executor and the thread pool,
 * on small models built here with the protobuf-c bindings. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "io/io.h"
#include "onnx.pb-c.h"
#include "tests/check-util.h"

/* ---- a tiny model builder ----------------------------------------------------------------- */

#define MAX_ITEMS 16

typedef struct {
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset;
    Onnx__OperatorSetIdProto *opsets[1];
    Onnx__NodeProto nodes[MAX_ITEMS];
    Onnx__NodeProto *node_ptrs[MAX_ITEMS];
    Onnx__AttributeProto attrs[MAX_ITEMS];
    Onnx__AttributeProto *attr_ptrs[MAX_ITEMS];
    int n_attrs;
    Onnx__TensorProto inits[MAX_ITEMS];
    Onnx__TensorProto *init_ptrs[MAX_ITEMS];
    Onnx__ValueInfoProto io[MAX_ITEMS];
    Onnx__ValueInfoProto *input_ptrs[MAX_ITEMS], *output_ptrs[MAX_ITEMS];
    Onnx__TypeProto types[MAX_ITEMS];
    Onnx__TypeProto__Tensor tensor_types[MAX_ITEMS];
    Onnx__TensorShapeProto shapes[MAX_ITEMS];
    Onnx__TensorShapeProto__Dimension dims[MAX_ITEMS][4];
    Onnx__TensorShapeProto__Dimension *dim_ptrs[MAX_ITEMS][4];
    int n_io;
} builder;

static void b_init(builder *b, int64_t opset)
{
    memset(b, 0, sizeof *b);
    onnx__model_proto__init(&b->model);
    onnx__graph_proto__init(&b->graph);
    onnx__operator_set_id_proto__init(&b->opset);
    b->opset.domain = "";
    b->opset.has_version = 1;
    b->opset.version = opset;
    b->opsets[0] = &b->opset;
    b->model.n_opset_import = 1;
    b->model.opset_import = b->opsets;
    b->model.has_ir_version = 1;
    b->model.ir_version = 7;
    b->model.graph = &b->graph;
    b->graph.name = "test";
    b->graph.node = b->node_ptrs;
    b->graph.initializer = b->init_ptrs;
    b->graph.input = b->input_ptrs;
    b->graph.output = b->output_ptrs;
}

/* dims: -1 marks a symbolic dimension ("N"). */
static Onnx__ValueInfoProto *b_value(builder *b, char *name, int rank, const int64_t *dims)
{
    int i = b->n_io++;
    Onnx__ValueInfoProto *vi = &b->io[i];
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(&b->types[i]);
    onnx__type_proto__tensor__init(&b->tensor_types[i]);
    onnx__tensor_shape_proto__init(&b->shapes[i]);
    vi->name = name;
    vi->type = &b->types[i];
    b->types[i].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    b->types[i].tensor_type = &b->tensor_types[i];
    b->tensor_types[i].has_elem_type = 1;
    b->tensor_types[i].elem_type = 1;
    b->tensor_types[i].shape = &b->shapes[i];
    for (int d = 0; d < rank; d++) {
        Onnx__TensorShapeProto__Dimension *dim = &b->dims[i][d];
        onnx__tensor_shape_proto__dimension__init(dim);
        if (dims[d] < 0) {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim->dim_param = "N";
        } else {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim->dim_value = dims[d];
        }
        b->dim_ptrs[i][d] = dim;
    }
    b->shapes[i].n_dim = (size_t)rank;
    b->shapes[i].dim = b->dim_ptrs[i];
    return vi;
}

static void b_input(builder *b, char *name, int rank, const int64_t *dims)
{
    b->input_ptrs[b->graph.n_input++] = b_value(b, name, rank, dims);
}

static void b_output(builder *b, char *name)
{
    b->output_ptrs[b->graph.n_output++] = b_value(b, name, 0, NULL);
    b->output_ptrs[b->graph.n_output - 1]->type->tensor_type->shape = NULL;
}

static void b_init_f32(builder *b, char *name, int rank, int64_t *dims, float *data, size_t n)
{
    Onnx__TensorProto *t = &b->inits[b->graph.n_initializer];
    onnx__tensor_proto__init(t);
    t->name = name;
    t->has_data_type = 1;
    t->data_type = 1;
    t->n_dims = (size_t)rank;
    t->dims = dims;
    t->n_float_data = n;
    t->float_data = data;
    b->init_ptrs[b->graph.n_initializer++] = t;
}

static void b_init_i64(builder *b, char *name, int64_t *dims, int64_t *data, size_t n)
{
    Onnx__TensorProto *t = &b->inits[b->graph.n_initializer];
    onnx__tensor_proto__init(t);
    t->name = name;
    t->has_data_type = 1;
    t->data_type = 7;
    t->n_dims = 1;
    t->dims = dims;
    t->n_int64_data = n;
    t->int64_data = data;
    b->init_ptrs[b->graph.n_initializer++] = t;
}

static Onnx__NodeProto *b_node(builder *b, char *op, char *name, size_t n_in, char **in,
                               size_t n_out, char **out)
{
    Onnx__NodeProto *n = &b->nodes[b->graph.n_node];
    onnx__node_proto__init(n);
    n->op_type = op;
    n->name = name;
    n->n_input = n_in;
    n->input = in;
    n->n_output = n_out;
    n->output = out;
    b->node_ptrs[b->graph.n_node++] = n;
    return n;
}

static void b_attr_int(builder *b, Onnx__NodeProto *n, char *name, int64_t v)
{
    Onnx__AttributeProto *a = &b->attrs[b->n_attrs];
    onnx__attribute_proto__init(a);
    a->name = name;
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    a->has_i = 1;
    a->i = v;
    b->attr_ptrs[b->n_attrs] = a;
    if (!n->attribute)
        n->attribute = &b->attr_ptrs[b->n_attrs];
    n->n_attribute++;
    b->n_attrs++;
}

/* Packs the model and parses it back through qcal's loader (prepared when asked). */
static qc_status b_load(builder *b, bool prepare, qc_graph **g, qc_error *err)
{
    size_t size = onnx__model_proto__get_packed_size(&b->model);
    uint8_t *buf = malloc(size);
    onnx__model_proto__pack(&b->model, buf);
    qc_status s = qc_onnx_parse(buf, size, "test.onnx", g, err);
    free(buf);
    if (s == QC_OK && prepare) {
        s = qc_graph_prepare(*g, err);
        if (s != QC_OK) {
            qc_graph_destroy(*g);
            *g = NULL;
        }
    }
    return s;
}

#define LOAD_OK(b, g, err) \
    ck_assert_msg(b_load(b, true, g, err) == QC_OK, "load failed: %s", (err)->msg)

/* ---- tests ---------------------------------------------------------------------------------- */

START_TEST(unsupported_ops_are_all_listed_with_a_node_name)
{
    builder b;
    b_init(&b, 13);
    int64_t dims[2] = {1, 4};
    b_input(&b, "x", 2, dims);
    char *x[] = {"x"}, *a[] = {"a"}, *c[] = {"c"}, *d[] = {"d"};
    b_node(&b, "Tanh", "first_tanh", 1, x, 1, a);
    b_node(&b, "Relu", "relu", 1, a, 1, c);
    b_node(&b, "Erf", "the_erf", 1, c, 1, d);
    b_output(&b, "d");
    qc_graph *g;
    qc_error err;
    ck_assert_int_eq(b_load(&b, true, &g, &err), QC_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "Tanh (node 'first_tanh')"), "message: %s", err.msg);
    ck_assert_msg(strstr(err.msg, "Erf (node 'the_erf')"), "message: %s", err.msg);
    ck_assert_msg(!strstr(err.msg, "Relu"), "message: %s", err.msg);
}
END_TEST

START_TEST(a_truncated_or_garbage_file_is_bad_input_naming_it)
{
    static const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x34};
    qc_graph *g;
    qc_error err;
    ck_assert_int_eq(qc_onnx_parse(garbage, sizeof garbage, "bad.onnx", &g, &err), QC_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "'bad.onnx'"), "message: %s", err.msg);
    ck_assert_ptr_null(g);
    ck_assert_int_eq(qc_onnx_load("/nonexistent/model.onnx", &g, &err), QC_ERR_IO);
    ck_assert_msg(strstr(err.msg, "/nonexistent/model.onnx"), "message: %s", err.msg);
}
END_TEST

START_TEST(a_cycle_is_reported_with_a_node_name)
{
    builder b;
    b_init(&b, 13);
    int64_t dims[2] = {1, 4};
    b_input(&b, "x", 2, dims);
    char *in1[] = {"x", "q"}, *p[] = {"p"}, *in2[] = {"p"}, *q[] = {"q"};
    b_node(&b, "Add", "add", 2, in1, 1, p);
    b_node(&b, "Relu", "relu", 1, in2, 1, q);
    b_output(&b, "q");
    qc_graph *g;
    qc_error err;
    ck_assert_int_eq(b_load(&b, true, &g, &err), QC_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "cycle"), "message: %s", err.msg);
}
END_TEST

/* x [N,4,2,2] → Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])) = [N,16]: the
 * subgraph PyTorch exports for x.view(x.size(0), -1). */
static void build_view_model(builder *b, int64_t batch)
{
    static int64_t one[1] = {1}, minus_one[1] = {-1}, zero_idx_dims[1] = {1}, zero_idx[1] = {0};
    static int64_t axes_dims[1] = {1}, axes[1] = {0};
    b_init(b, 13);
    int64_t dims[4] = {batch, 4, 2, 2};
    b_input(b, "x", 4, dims);
    b_init_i64(b, "minus_one", one, minus_one, 1);
    b_init_i64(b, "idx", zero_idx_dims, zero_idx, 1);
    b->inits[b->graph.n_initializer - 1].n_dims = 0; /* a scalar index, as PyTorch exports */
    b_init_i64(b, "axes", axes_dims, axes, 1);
    static char *x[] = {"x"}, *s[] = {"s"}, *gin[] = {"s", "idx"}, *gout[] = {"n"};
    static char *uin[] = {"n", "axes"}, *uout[] = {"n1"}, *cin[] = {"n1", "minus_one"};
    static char *cout[] = {"shape"}, *rin[] = {"x", "shape"}, *y[] = {"y"};
    b_node(b, "Shape", "shape", 1, x, 1, s);
    b_node(b, "Gather", "gather", 2, gin, 1, gout);
    b_node(b, "Unsqueeze", "unsqueeze", 2, uin, 1, uout);
    Onnx__NodeProto *concat = b_node(b, "Concat", "concat", 2, cin, 1, cout);
    b_attr_int(b, concat, "axis", 0);
    b_node(b, "Reshape", "reshape", 2, rin, 1, y);
    b_output(b, "y");
}

START_TEST(a_static_shape_subgraph_folds_away_at_load)
{
    builder b;
    build_view_model(&b, 2);
    qc_graph *g;
    qc_error err;
    LOAD_OK(&b, &g, &err);
    ck_assert_int_eq(g->n_nodes, 1);
    ck_assert_str_eq(g->nodes[0].op_type, "Reshape");
    const qc_tensor *y = &g->tensors[g->outputs[0]];
    ck_assert_int_eq(y->value.rank, 2);
    ck_assert_int_eq(y->value.dims[0], 2);
    ck_assert_int_eq(y->value.dims[1], 16);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(a_dynamic_batch_shape_subgraph_runs_for_any_batch)
{
    builder b;
    build_view_model(&b, -1);
    qc_graph *g;
    qc_error err;
    LOAD_OK(&b, &g, &err);
    ck_assert_int_gt(g->n_nodes, 1); /* Shape depends on the batch: kept */
    qc_exec *x = qc_exec_create(g);
    for (int64_t batch = 1; batch <= 3; batch++) {
        float data[3 * 16];
        for (int i = 0; i < 3 * 16; i++)
            data[i] = (float)i;
        int64_t dims[4] = {batch, 4, 2, 2};
        qc_value in = qc_value_f32(4, dims, data);
        ck_assert_int_eq(qc_exec_run(x, &in, 1, &err), QC_OK);
        const qc_value *y = qc_exec_output(x, 0);
        ck_assert_int_eq(y->rank, 2);
        ck_assert_int_eq(y->dims[0], batch);
        ck_assert_int_eq(y->dims[1], 16);
        ck_assert_float_eq(((const float *)y->data)[batch * 16 - 1], (float)(batch * 16 - 1));
    }
    qc_exec_destroy(x);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(an_input_of_the_wrong_shape_is_named)
{
    builder b;
    build_view_model(&b, -1);
    qc_graph *g;
    qc_error err;
    LOAD_OK(&b, &g, &err);
    qc_exec *x = qc_exec_create(g);
    float data[48] = {0};
    int64_t dims[4] = {1, 3, 4, 4};
    qc_value in = qc_value_f32(4, dims, data);
    ck_assert_int_eq(qc_exec_run(x, &in, 1, &err), QC_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "input 'x'") && strstr(err.msg, "1x3x4x4"), "message: %s", err.msg);
    qc_exec_destroy(x);
    qc_graph_destroy(g);
}
END_TEST

/* Conv 1x1 (2 → 2 channels, bias) followed by BatchNormalization: the fold must equal
 * y = (conv(x) - mean)·scale/sqrt(var + eps) + shift, computed here in double. */
START_TEST(batchnorm_folds_into_the_conv_before_it)
{
    static float w[4] = {0.5f, -1.0f, 2.0f, 0.25f}, bias[2] = {0.1f, -0.2f};
    static float scale[2] = {1.5f, 0.5f}, shift[2] = {0.3f, -0.4f};
    static float mean[2] = {0.2f, -0.1f}, var[2] = {4.0f, 0.25f};
    static int64_t wdims[4] = {2, 2, 1, 1}, cdims[1] = {2};
    builder b;
    b_init(&b, 13);
    int64_t dims[4] = {1, 2, 1, 3};
    b_input(&b, "x", 4, dims);
    b_init_f32(&b, "w", 4, wdims, w, 4);
    b_init_f32(&b, "b", 1, cdims, bias, 2);
    b_init_f32(&b, "scale", 1, cdims, scale, 2);
    b_init_f32(&b, "shift", 1, cdims, shift, 2);
    b_init_f32(&b, "mean", 1, cdims, mean, 2);
    b_init_f32(&b, "var", 1, cdims, var, 2);
    char *cin[] = {"x", "w", "b"}, *c[] = {"c"}, *bin[] = {"c", "scale", "shift", "mean", "var"};
    char *y[] = {"y"};
    b_node(&b, "Conv", "conv", 3, cin, 1, c);
    b_node(&b, "BatchNormalization", "bn", 5, bin, 1, y);
    b_output(&b, "y");
    qc_graph *g;
    qc_error err;
    LOAD_OK(&b, &g, &err);
    ck_assert_int_eq(qc_pass_fold_batchnorm(g, &err), QC_OK);
    ck_assert_int_eq(g->n_nodes, 1);
    ck_assert_str_eq(g->nodes[0].op_type, "Conv");
    float xs[6] = {1.0f, -2.0f, 0.5f, 3.0f, 0.0f, -1.5f};
    qc_value in = qc_value_f32(4, dims, xs);
    qc_exec *x = qc_exec_create(g);
    ck_assert_int_eq(qc_exec_run(x, &in, 1, &err), QC_OK);
    const float *out = qc_exec_output(x, 0)->data;
    for (int oc = 0; oc < 2; oc++)
        for (int p = 0; p < 3; p++) {
            double conv = (double)w[oc * 2] * xs[p] + (double)w[oc * 2 + 1] * xs[3 + p] + bias[oc];
            double want = (conv - mean[oc]) * scale[oc] / sqrt((double)var[oc] + 1e-5) + shift[oc];
            ck_assert_msg(fabs(out[oc * 3 + p] - want) < 1e-5, "channel %d pixel %d: %g, expected %g",
                          oc, p, out[oc * 3 + p], want);
        }
    qc_exec_destroy(x);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(raw_and_typed_initializers_load_the_same_values)
{
    static float values[3] = {1.5f, -2.25f, 3.0f};
    static int64_t vdims[1] = {3};
    builder b;
    b_init(&b, 13);
    int64_t dims[1] = {3};
    b_input(&b, "x", 1, dims);
    b_init_f32(&b, "typed", 1, vdims, values, 3);
    Onnx__TensorProto *raw = &b.inits[b.graph.n_initializer];
    onnx__tensor_proto__init(raw);
    raw->name = "raw";
    raw->has_data_type = 1;
    raw->data_type = 1;
    raw->n_dims = 1;
    raw->dims = vdims;
    raw->has_raw_data = 1;
    raw->raw_data.len = sizeof values;
    raw->raw_data.data = (uint8_t *)values;
    b.init_ptrs[b.graph.n_initializer++] = raw;
    char *in1[] = {"x", "typed"}, *s1[] = {"s1"}, *in2[] = {"s1", "raw"}, *y[] = {"y"};
    b_node(&b, "Add", "add1", 2, in1, 1, s1);
    b_node(&b, "Sub", "sub", 2, in2, 1, y);
    b_output(&b, "y");
    qc_graph *g;
    qc_error err;
    LOAD_OK(&b, &g, &err);
    float xs[3] = {10.0f, 20.0f, 30.0f};
    qc_value in = qc_value_f32(1, dims, xs);
    qc_exec *x = qc_exec_create(g);
    ck_assert_int_eq(qc_exec_run(x, &in, 1, &err), QC_OK);
    const float *out = qc_exec_output(x, 0)->data;
    for (int i = 0; i < 3; i++)
        ck_assert_float_eq(out[i], xs[i]); /* (x + v) - v is exact for these values */
    qc_exec_destroy(x);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(an_initializer_whose_data_does_not_fill_its_shape_is_rejected)
{
    static float values[2] = {1.0f, 2.0f};
    static int64_t vdims[1] = {3};
    builder b;
    b_init(&b, 13);
    int64_t dims[1] = {3};
    b_input(&b, "x", 1, dims);
    b_init_f32(&b, "short", 1, vdims, values, 2);
    char *in1[] = {"x", "short"}, *y[] = {"y"};
    b_node(&b, "Add", "add", 2, in1, 1, y);
    b_output(&b, "y");
    qc_graph *g;
    qc_error err;
    ck_assert_int_eq(b_load(&b, false, &g, &err), QC_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "'short'"), "message: %s", err.msg);
}
END_TEST

static atomic_int visits[1000];

static int visit(void *ctx, int worker, int64_t item)
{
    (void)ctx, (void)worker;
    atomic_fetch_add(&visits[item], 1);
    return 0;
}

START_TEST(parallel_for_visits_every_item_exactly_once)
{
    for (int threads = 1; threads <= 4; threads++) {
        for (int i = 0; i < 1000; i++)
            atomic_store(&visits[i], 0);
        ck_assert_int_eq(qc_parallel_for(threads, 1000, visit, NULL), 0);
        for (int i = 0; i < 1000; i++)
            ck_assert_msg(atomic_load(&visits[i]) == 1, "threads %d item %d visited %d times",
                          threads, i, atomic_load(&visits[i]));
    }
}
END_TEST

/* ---- QDQ fusion and the integer ops, against ONNX Runtime --------------------------------
 *
 * tests/data/qdq/ (tools/make-qdq-tests.py) holds small QDQ and QOperator models with ONNX
 * Runtime's outputs: quantized codes, so that the comparison is in integers. Every case
 * must match exactly, except where ONNX Runtime computes in float what qcal computes
 * exactly (docs/quantization.md, section 7): there a code may differ by one, on at most a
 * quarter of the elements (a systematic error would move most of them). */

typedef struct {
    const char *name;
    const char *fused_op;   /* op type that must be in the fused graph; NULL: none checked */
    const char *float_op;   /* op type that must be gone after fusion; NULL: none checked */
    int tolerance;          /* 0: exact; 1: one code, on at most 1/4 of the elements */
} qdq_case;

static const qdq_case qdq_cases[] = {
    {"qdq-conv-relu", "QLinearConv", "Conv", 0},
    {"qdq-conv-relu-zp", "QLinearConv", "Relu", 0},
    {"qdq-conv-clip", "QLinearConv", "Clip", 0},
    {"qdq-conv-stride2", "QLinearConv", "Conv", 0},
    {"qdq-conv-pointwise", "QLinearConv", "Conv", 0},
    {"qdq-conv-depthwise", "QLinearConv", "Conv", 0},
    {"qdq-conv-depthwise-s2", "QLinearConv", "Conv", 0},
    {"qdq-conv-group-dilated", "QLinearConv", "Conv", 0},
    {"qdq-conv-s8", "QLinearConv", "Conv", 0},
    {"qdq-conv-per-tensor", "QLinearConv", "Conv", 0},
    {"qdq-gemm", "QGemm", "Gemm", 0},
    {"qdq-gemm-relu", "QGemm", "Gemm", 0},
    {"qdq-matmul", "QLinearMatMul", "MatMul", 0},
    /* ONNX Runtime adds in float: (a − z_a)·fl(s_a/s_y) + (b − z_b)·fl(s_b/s_y) */
    {"qdq-add-relu", "QLinearAdd", "Add", 1},
    /* input scales 2x and 3.5x the output's: the multipliers once overflowed to 0 */
    {"qdq-add-wide-ratio", "QLinearAdd", "Add", 1},
    {"qdq-concat", "QLinearConcat", "Concat", 0},
    {"qdq-maxpool", "MaxPool", "DequantizeLinear", 0},
    /* ONNX Runtime averages dequantized floats; qcal too, in another summation order */
    {"qdq-avgpool", "QLinearAveragePool", "AveragePool", 1},
    /* ONNX Runtime rounds fl(s_in / (s_out · n)) · Σ; qcal rounds the exact ratio (eq. A2) */
    {"qdq-globalavgpool", "QLinearGlobalAveragePool", "GlobalAveragePool", 1},
    /* the input's parameters kept, 4 values a plane: exact ties, rounded to even (eq. A2) */
    {"qdq-globalavgpool-ties", "QLinearGlobalAveragePool", "GlobalAveragePool", 0},
    {"qop-conv", "QLinearConv", NULL, 0},
    {"qop-conv-u8w", "QLinearConv", NULL, 0},
    {"qop-conv-depthwise", "QLinearConv", NULL, 0},
    {"qop-matmul-u8w", "QLinearMatMul", NULL, 0},
    {"qop-conv1d-same", "QLinearConv", NULL, 0},
    {"qop-conv-clip", "QLinearConv", "Clip", 0},
    /* the Conv fuses, the Sigmoid stays float (ONNX Runtime makes it a lookup table) */
    {"qdq-unfused-sigmoid", "Sigmoid", "Conv", 1},
    {"qdq-maxpool-s8", "MaxPool", "DequantizeLinear", 0},
    {"qop-contrib", "QLinearAdd", NULL, 1},
    {"qop-contrib-s8", "QLinearConcat", NULL, 1},
    /* outputs quantized per channel along axis 1 with one zero point (input compensation):
     * ONNX Runtime runs these unoptimized, every Conv, Gemm and MatMul in float, where
     * qcal's fused ops are exact; the next layer reads the codes through DQ(1.0, z) */
    {"qdq-conv-perchannel-out", "QLinearConv", "Conv", 1},
    /* int8; MaxPool between a per-channel DQ and Q with the same parameters */
    {"qdq-maxpool-perchannel", "MaxPool", "DequantizeLinear", 1},
    /* GlobalAveragePool stays float (pools need per-tensor parameters), the Flatten and the
     * Gemm fuse, the Gemm with a per-channel y_scale */
    {"qdq-gemm-perchannel", "QGemm", "Gemm", 1},
    {"qdq-matmul-perchannel-out", "QLinearMatMul", "MatMul", 1},
    /* per-channel zero points that differ: no scalar y_zero_point, the Conv stays float */
    {"qdq-conv-perchannel-zps", "Conv", "QLinearConv", 1},
    /* a Clip's bounds in codes would differ per channel: the Conv stays float too */
    {"qdq-conv-perchannel-clip", "Clip", "QLinearConv", 1},
    /* qcal's own form (F10): Div by [1, C, 1, 1] channel scales, then Q of scale 1; ONNX
     * Runtime runs it optimized, the Conv and the Div in float */
    {"qdq-conv-div-out", "QLinearConv", "Div", 1},
    {"qdq-gemm-div-out", "QGemm", "Div", 1},
};

static bool graph_has_op(const qc_graph *g, const char *op_type)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].op_type, op_type))
            return true;
    return false;
}

static void run_qdq_case(const qdq_case *c)
{
    char path[512];
    qc_error err;
    qc_graph *g = NULL;
    snprintf(path, sizeof path, "tests/data/qdq/%s/model.onnx", c->name);
    ck_assert_msg(qc_onnx_load(path, &g, &err) == QC_OK, "%s: %s", c->name, err.msg);
    ck_assert_msg(qc_pass_fuse_qdq(g, &err) == QC_OK, "%s: %s", c->name, err.msg);
    if (c->fused_op)
        ck_assert_msg(graph_has_op(g, c->fused_op), "%s: no %s after fusion", c->name, c->fused_op);
    if (c->float_op)
        ck_assert_msg(!graph_has_op(g, c->float_op), "%s: %s left after fusion", c->name,
                      c->float_op);
    qc_value in[4], want;
    int n_in = 0;
    for (; n_in < 4; n_in++) {
        snprintf(path, sizeof path, "tests/data/qdq/%s/test_data_set_0/input_%d.pb", c->name, n_in);
        FILE *f = fopen(path, "rb");
        if (!f)
            break;
        fclose(f);
        ck_assert_msg(qc_onnx_load_tensor(path, &in[n_in], NULL, &err) == QC_OK, "%s", err.msg);
    }
    snprintf(path, sizeof path, "tests/data/qdq/%s/test_data_set_0/output_0.pb", c->name);
    ck_assert_msg(qc_onnx_load_tensor(path, &want, NULL, &err) == QC_OK, "%s", err.msg);
    qc_exec *x = qc_exec_create(g);
    ck_assert_ptr_nonnull(x);
    ck_assert_msg(qc_exec_run(x, in, n_in, &err) == QC_OK, "%s: %s", c->name, err.msg);
    const qc_value *got = qc_exec_output(x, 0);
    ck_assert_msg(got->dtype == want.dtype && qc_same_shape(got, &want), "%s: type or shape",
                  c->name);
    int64_t count = qc_value_count(&want), off = 0, worst = 0;
    for (int64_t i = 0; i < count; i++) {
        int64_t d = (int64_t)fabs(qc_read_scalar(got, i) - qc_read_scalar(&want, i));
        off += d != 0;
        worst = d > worst ? d : worst;
    }
    ck_assert_msg(worst <= c->tolerance && off * 4 <= count * c->tolerance,
                  "%s: %lld of %lld codes differ from ONNX Runtime's, by up to %lld (allowed %d)",
                  c->name, (long long)off, (long long)count, (long long)worst, c->tolerance);
    qc_exec_destroy(x);
    for (int i = 0; i < n_in; i++)
        free(in[i].data);
    free(want.data);
    qc_graph_destroy(g);
}

START_TEST(quantized_models_run_on_integer_ops_and_match_onnx_runtime)
{
    run_qdq_case(&qdq_cases[_i]);
}
END_TEST

START_TEST(qdq_fusion_leaves_no_float_op_in_a_quantized_lenet)
{
    qc_error err;
    qc_graph *g = NULL;
    ck_assert_msg(qc_onnx_load("tests/data/qdq/lenet-qdq.onnx", &g, &err) == QC_OK, "%s", err.msg);
    ck_assert_msg(qc_pass_fuse_qdq(g, &err) == QC_OK, "%s", err.msg);
    /* the input's QuantizeLinear and the logits' DequantizeLinear stay; nothing else float */
    int q = 0, dq = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const char *t = g->nodes[i].op_type;
        q += !strcmp(t, "QuantizeLinear");
        dq += !strcmp(t, "DequantizeLinear");
        ck_assert_msg(strcmp(t, "Conv") && strcmp(t, "Gemm") && strcmp(t, "Relu"),
                      "node '%s' (%s) was not fused", g->nodes[i].name, t);
    }
    ck_assert_int_eq(q, 1);
    ck_assert_int_eq(dq, 1);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(fused_and_unfused_qdq_lenet_agree_within_one_code_of_the_logits)
{
    /* the unfused graph runs float ops between DQ and Q: the same model, computed in float */
    qc_error err;
    qc_graph *fused = NULL, *plain = NULL;
    ck_assert(qc_onnx_load("tests/data/qdq/lenet-qdq.onnx", &fused, &err) == QC_OK);
    ck_assert(qc_onnx_load("tests/data/qdq/lenet-qdq.onnx", &plain, &err) == QC_OK);
    ck_assert_msg(qc_pass_fuse_qdq(fused, &err) == QC_OK, "%s", err.msg);
    float pixels[2 * 28 * 28];
    uint32_t seed = 12345;
    for (int i = 0; i < 2 * 28 * 28; i++) {
        seed = seed * 1664525u + 1013904223u;
        pixels[i] = (float)(seed >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
    }
    qc_value in = qc_value_f32(4, (int64_t[]){2, 1, 28, 28}, pixels);
    qc_exec *xf = qc_exec_create(fused), *xp = qc_exec_create(plain);
    ck_assert_msg(qc_exec_run(xf, &in, 1, &err) == QC_OK, "%s", err.msg);
    ck_assert_msg(qc_exec_run(xp, &in, 1, &err) == QC_OK, "%s", err.msg);
    const qc_value *a = qc_exec_output(xf, 0), *b = qc_exec_output(xp, 0);
    ck_assert(qc_same_shape(a, b));
    /* one code of the logits is the scale of their DequantizeLinear; the layers before may
     * each move a code by one, which the last layers can amplify: a few codes at most */
    float step = 0.0f;
    for (int i = 0; i < fused->n_nodes; i++)
        if (!strcmp(fused->nodes[i].op_type, "DequantizeLinear"))
            step = *(const float *)fused->tensors[fused->nodes[i].inputs[1]].value.data;
    ck_assert(step > 0.0f);
    for (int64_t i = 0; i < qc_value_count(a); i++)
        ck_assert_msg(fabsf(((float *)a->data)[i] - ((float *)b->data)[i]) <= 4 * step + 1e-5f,
                      "logit %lld: fused %g, float %g", (long long)i, ((float *)a->data)[i],
                      ((float *)b->data)[i]);
    qc_exec_destroy(xf);
    qc_exec_destroy(xp);
    qc_graph_destroy(fused);
    qc_graph_destroy(plain);
}
END_TEST

/* ---- QLinearConv over many pixel tiles, against an int64 reference ---- */

/* an initializer from raw little-endian bytes (uint8, int8, int32, float), rank 0..4 */
static void b_init_raw(builder *b, char *name, int32_t data_type, int rank, int64_t *dims,
                       void *data, size_t bytes)
{
    Onnx__TensorProto *t = &b->inits[b->graph.n_initializer];
    onnx__tensor_proto__init(t);
    t->name = name;
    t->has_data_type = 1;
    t->data_type = data_type;
    t->n_dims = (size_t)rank;
    t->dims = dims;
    t->has_raw_data = 1;
    t->raw_data.len = bytes;
    t->raw_data.data = data;
    b->init_ptrs[b->graph.n_initializer++] = t;
}

/* y = clamp(rint((acc + bias) · M[m]) + z_y) with M[m] = s_x·s_w[m]/s_y[m] a power of two, so
 * that the real multiplier is exact and the definition needs no fixed-point argument. y_count
 * is the number of y_scale values: 1, c_out (qcal's per-channel extension, s_y[m] = 2^(1 +
 * m%2)), or another count, which must be refused at load. */
static void qconv_tiles_case_y(int64_t c_in, int64_t c_out, int64_t hw, int64_t k, int64_t stride,
                               int64_t pad, int64_t group, uint32_t seed, int64_t y_count)
{
    enum { MAXB = 70000 };
    static uint8_t x[MAXB], yu[MAXB];
    static int8_t w[MAXB];
    static int32_t bias[256];
    static float ws[256];
    static uint8_t xz = 0, yz = 0;
    static float xs = 0.5f, ys = 2.0f, ysc[256];
    static int64_t yd[1];
    uint32_t r = seed;
    const int64_t cg = c_in / group, mg = c_out / group;
    const int64_t oh = (hw + 2 * pad - k) / stride + 1;
    const int64_t pixels = oh * oh;
    ck_assert(c_in * hw * hw <= MAXB && c_out * cg * k * k <= MAXB && c_out <= 256 &&
              y_count <= 256);
    for (int64_t i = 0; i < c_in * hw * hw; i++)
        x[i] = (uint8_t)((r = r * 1664525u + 1013904223u) >> 24);
    for (int64_t i = 0; i < c_out * cg * k * k; i++)
        w[i] = (int8_t)((r = r * 1664525u + 1013904223u) >> 24);
    for (int64_t m = 0; m < c_out; m++) {
        bias[m] = (int32_t)((r = r * 1664525u + 1013904223u) >> 20) - 2048;
        ws[m] = ldexpf(1.0f, -(int)(m % 5) - 6); /* M = 2^-(m%5 + 8): few saturate */
    }
    xz = 117;
    yz = 101;
    builder b;
    b_init(&b, 13);
    int64_t xd[4] = {1, c_in, hw, hw};
    b_input(&b, "x", 4, xd);
    b.tensor_types[b.n_io - 1].elem_type = 2; /* uint8 */
    static int64_t wd[4], md[1];
    wd[0] = c_out;
    wd[1] = cg;
    wd[2] = wd[3] = k;
    md[0] = c_out;
    b_init_raw(&b, "x_scale", 1, 0, NULL, &xs, 4);
    b_init_raw(&b, "x_zp", 2, 0, NULL, &xz, 1);
    b_init_raw(&b, "w", 3, 4, wd, w, (size_t)(c_out * cg * k * k));
    b_init_raw(&b, "w_scale", 1, 1, md, ws, (size_t)c_out * 4);
    yd[0] = y_count;
    for (int64_t m = 0; m < y_count; m++)
        ysc[m] = (float)(2 << (m % 2));
    if (y_count == 1)
        b_init_raw(&b, "y_scale", 1, 0, NULL, &ys, 4);
    else
        b_init_raw(&b, "y_scale", 1, 1, yd, ysc, (size_t)y_count * 4);
    b_init_raw(&b, "y_zp", 2, 0, NULL, &yz, 1);
    b_init_raw(&b, "bias", 6, 1, md, bias, (size_t)c_out * 4);
    char *in[] = {"x", "x_scale", "x_zp", "w", "w_scale", "w_zp", "y_scale", "y_zp", "bias"};
    char *out[] = {"y"};
    /* w's zero point: none (int8 weights, 0); the inputs list names it, so it is given */
    static int8_t wz = 0;
    b_init_raw(&b, "w_zp", 3, 0, NULL, &wz, 1);
    Onnx__NodeProto *n = b_node(&b, "QLinearConv", "conv", 9, in, 1, out);
    b_attr_int(&b, n, "group", group);
    b_output(&b, "y");
    /* strides and pads as ints attributes */
    static int64_t strides[2], pads[4];
    strides[0] = strides[1] = stride;
    pads[0] = pads[1] = pads[2] = pads[3] = pad;
    Onnx__AttributeProto *a = &b.attrs[b.n_attrs];
    onnx__attribute_proto__init(a);
    a->name = "strides";
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    a->n_ints = 2;
    a->ints = strides;
    b.attr_ptrs[b.n_attrs++] = a;
    n->n_attribute++;
    a = &b.attrs[b.n_attrs];
    onnx__attribute_proto__init(a);
    a->name = "pads";
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    a->n_ints = 4;
    a->ints = pads;
    b.attr_ptrs[b.n_attrs++] = a;
    n->n_attribute++;
    qc_graph *g;
    qc_error err;
    if (y_count != 1 && y_count != c_out) {
        ck_assert_int_eq(b_load(&b, true, &g, &err), QC_ERR_INPUT);
        ck_assert_msg(strstr(err.msg, "y_scale"), "the error does not name y_scale: %s", err.msg);
        return;
    }
    LOAD_OK(&b, &g, &err);
    qc_exec *ex = qc_exec_create(g);
    ck_assert_ptr_nonnull(ex);
    qc_value v = {0};
    v.dtype = QC_UINT8;
    v.rank = 4;
    memcpy(v.dims, xd, sizeof xd);
    v.data = x;
    ck_assert_msg(qc_exec_run(ex, &v, 1, &err) == QC_OK, "%s", err.msg);
    const qc_value *y = qc_exec_output(ex, 0);
    ck_assert_int_eq(y->dtype, QC_UINT8);
    ck_assert_int_eq(qc_value_count(y), c_out * pixels);
    memcpy(yu, y->data, (size_t)(c_out * pixels));
    int64_t inside = 0; /* outputs not saturated: most of them, or the test says little */
    for (int64_t m = 0; m < c_out; m++)
        for (int64_t p = 0; p < pixels; p++) {
            const int64_t py = p / oh, px = p % oh, grp = m / mg;
            int64_t acc = bias[m];
            for (int64_t c = 0; c < cg; c++)
                for (int64_t i = 0; i < k; i++)
                    for (int64_t j = 0; j < k; j++) {
                        const int64_t ih = py * stride + i - pad, iw = px * stride + j - pad;
                        if (ih < 0 || iw < 0 || ih >= hw || iw >= hw)
                            continue;
                        acc += ((int64_t)x[((grp * cg + c) * hw + ih) * hw + iw] - xz) *
                               w[((m * cg + c) * k + i) * k + j];
                    }
            /* M = 0.5 · 2^-(m%5+6) / s_y[m] with s_y[m] = 2 or 2^(1 + m%2), exact in double:
             * rint ties to even */
            const int y_shift = y_count == 1 ? 1 : 1 + (int)(m % 2);
            const double q = nearbyint(ldexp((double)acc, -(int)(m % 5) - 7 - y_shift)) + yz;
            const int64_t want = q < 0 ? 0 : q > 255 ? 255 : (int64_t)q;
            inside += want > 0 && want < 255;
            ck_assert_msg(yu[m * pixels + p] == want,
                          "QLinearConv %lldx%lldx%lld -> %lld k%lld s%lld g%lld: map %lld pixel "
                          "%lld: %d, want %lld", (long long)c_in, (long long)hw, (long long)hw,
                          (long long)c_out, (long long)k, (long long)stride, (long long)group,
                          (long long)m, (long long)p, yu[m * pixels + p], (long long)want);
        }
    ck_assert_msg(inside * 4 >= c_out * pixels * 3, "only %lld of %lld outputs unsaturated",
                  (long long)inside, (long long)(c_out * pixels));
    qc_exec_destroy(ex);
    qc_graph_destroy(g);
}

static void qconv_tiles_case(int64_t c_in, int64_t c_out, int64_t hw, int64_t k, int64_t stride,
                             int64_t pad, int64_t group, uint32_t seed)
{
    qconv_tiles_case_y(c_in, c_out, hw, k, stride, pad, group, seed, 1);
}

START_TEST(qlinearconv_over_many_pixel_tiles_matches_int64_reference)
{
    /* 400 and 361 pixels: several 96-pixel tiles and a ragged last one; pointwise (the NHWC
     * image is the GEMM's A), 3×3 padded, grouped, strided, and depthwise */
    qconv_tiles_case(8, 16, 20, 1, 1, 0, 1, 1);
    qconv_tiles_case(8, 12, 20, 3, 1, 1, 1, 2);
    qconv_tiles_case(8, 12, 20, 3, 1, 1, 2, 3);
    qconv_tiles_case(6, 9, 19, 3, 1, 1, 3, 4);
    qconv_tiles_case(16, 24, 37, 3, 2, 1, 1, 5);
    qconv_tiles_case(24, 24, 20, 3, 1, 1, 24, 6);
    qconv_tiles_case(20, 20, 21, 5, 2, 2, 20, 7);
}
END_TEST

START_TEST(qlinearconv_with_a_y_scale_per_output_channel_matches_int64_reference)
{
    /* the extension F9 relies on: pointwise, 3×3, grouped, depthwise channels last and NCHW
     * (fewer than 8 channels: requantized per row) */
    qconv_tiles_case_y(8, 16, 20, 1, 1, 0, 1, 11, 16);
    qconv_tiles_case_y(8, 12, 20, 3, 1, 1, 2, 12, 12);
    qconv_tiles_case_y(24, 24, 20, 3, 1, 1, 24, 13, 24);
    qconv_tiles_case_y(6, 6, 19, 3, 2, 1, 6, 14, 6);
}
END_TEST

START_TEST(qlinearconv_refuses_a_y_scale_of_another_length_naming_it)
{
    qconv_tiles_case_y(8, 12, 6, 3, 1, 1, 1, 15, 5);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("graph");
    TCase *load = tcase_create("load");
    tcase_add_test(load, unsupported_ops_are_all_listed_with_a_node_name);
    tcase_add_test(load, a_truncated_or_garbage_file_is_bad_input_naming_it);
    tcase_add_test(load, a_cycle_is_reported_with_a_node_name);
    tcase_add_test(load, raw_and_typed_initializers_load_the_same_values);
    tcase_add_test(load, an_initializer_whose_data_does_not_fill_its_shape_is_rejected);
    suite_add_tcase(s, load);
    TCase *fold = tcase_create("fold");
    tcase_add_test(fold, a_static_shape_subgraph_folds_away_at_load);
    tcase_add_test(fold, a_dynamic_batch_shape_subgraph_runs_for_any_batch);
    tcase_add_test(fold, batchnorm_folds_into_the_conv_before_it);
    suite_add_tcase(s, fold);
    TCase *exec = tcase_create("exec");
    tcase_add_test(exec, an_input_of_the_wrong_shape_is_named);
    tcase_add_test(exec, parallel_for_visits_every_item_exactly_once);
    suite_add_tcase(s, exec);
    TCase *qdq = tcase_create("qdq");
    tcase_add_loop_test(qdq, quantized_models_run_on_integer_ops_and_match_onnx_runtime, 0,
                        (int)(sizeof qdq_cases / sizeof qdq_cases[0]));
    tcase_add_test(qdq, qdq_fusion_leaves_no_float_op_in_a_quantized_lenet);
    tcase_add_test(qdq, fused_and_unfused_qdq_lenet_agree_within_one_code_of_the_logits);
    tcase_add_test(qdq, qlinearconv_over_many_pixel_tiles_matches_int64_reference);
    tcase_add_test(qdq, qlinearconv_with_a_y_scale_per_output_channel_matches_int64_reference);
    tcase_add_test(qdq, qlinearconv_refuses_a_y_scale_of_another_length_naming_it);
    suite_add_tcase(s, qdq);
    return s;
}

int main(void)
{
    return qc_check_run("check_graph", suite());
}
