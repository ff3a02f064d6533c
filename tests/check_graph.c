/* check_graph.c — the IR, the ONNX loader, graph preparation (unsupported ops, cycles,
 * constant and shape-subgraph folding), the BatchNorm fold, the executor and the thread pool,
 * on small models built here with the protobuf-c bindings. */
#include <math.h>
#include <stdatomic.h>
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
    return s;
}

int main(void)
{
    return qc_check_run("check_graph", suite());
}
