/* check_graph.c — the IR, the ONNX loader, graph preparation (unsupported ops, cycles,
 * constant and shape-subgraph folding), the BatchNorm fold, the executor and the thread pool,
 * and every integer op against the ONNX definition over scale ratios 2^-20..2^20, on small
 * models built here with the protobuf-c bindings. */
#include <ctype.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph-impl.h"
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

static void b_attr_str(builder *b, Onnx__NodeProto *n, char *name, char *v)
{
    Onnx__AttributeProto *a = &b->attrs[b->n_attrs];
    onnx__attribute_proto__init(a);
    a->name = name;
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    a->has_s = 1;
    a->s.len = strlen(v);
    a->s.data = (uint8_t *)v;
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

START_TEST(tensors_are_found_by_name_among_thousands)
{
    /* names that share long prefixes and differ in one character, as exporters write them;
     * enough of them that the name table grows several times */
    enum { N = 5000 };
    qc_graph *g = qc_graph_create("names");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(qc_graph_find_tensor(g, "x"), -1);
    char name[64];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "/features/features.%d/conv/Conv_output_0", i);
        ck_assert_int_eq(qc_graph_tensor(g, name), i);
    }
    ck_assert_int_eq(g->n_tensors, N);
    for (int i = N - 1; i >= 0; i--) {
        snprintf(name, sizeof name, "/features/features.%d/conv/Conv_output_0", i);
        ck_assert_int_eq(qc_graph_find_tensor(g, name), i);
        ck_assert_int_eq(qc_graph_tensor(g, name), i); /* found, not added again */
        ck_assert_str_eq(g->tensors[i].name, name);
    }
    ck_assert_int_eq(g->n_tensors, N);
    ck_assert_int_eq(qc_graph_find_tensor(g, "/features/features.5000/conv/Conv_output_0"), -1);
    ck_assert_int_eq(qc_graph_find_tensor(g, ""), -1);
    ck_assert_int_eq(qc_graph_tensor(g, ""), N); /* the empty name is a name like any other */
    ck_assert_int_eq(qc_graph_find_tensor(g, ""), N);
    /* a renamed tensor is found by its new name only; its old name is free for a new one */
    ck_assert_int_eq(qc_graph_rename_tensor(g, 7, "y_QuantizeLinear_Input"), 0);
    ck_assert_int_eq(qc_graph_find_tensor(g, "y_QuantizeLinear_Input"), 7);
    ck_assert_int_eq(qc_graph_find_tensor(g, "/features/features.7/conv/Conv_output_0"), -1);
    ck_assert_int_eq(qc_graph_tensor(g, "/features/features.7/conv/Conv_output_0"), N + 1);
    ck_assert_int_eq(qc_graph_find_tensor(g, "/features/features.8/conv/Conv_output_0"), 8);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(unsupported_ops_are_all_listed_with_a_node_name)
{
    builder b;
    b_init(&b, 13);
    int64_t dims[2] = {1, 4};
    b_input(&b, "x", 2, dims);
    char *x[] = {"x"}, *a[] = {"a"}, *c[] = {"c"}, *d[] = {"d"};
    b_node(&b, "Det", "first_det", 1, x, 1, a);
    b_node(&b, "Relu", "relu", 1, a, 1, c);
    b_node(&b, "Multinomial", "the_draw", 1, c, 1, d);
    b_output(&b, "d");
    qc_graph *g;
    qc_error err;
    ck_assert_int_eq(b_load(&b, true, &g, &err), QC_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "Det (node 'first_det')"), "message: %s", err.msg);
    ck_assert_msg(strstr(err.msg, "Multinomial (node 'the_draw')"), "message: %s", err.msg);
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

/* x [N,4,2,2] → Reshape(x, Concat(Unsqueeze(Gather(Shape(x), axis)), [-1])): the subgraph
 * PyTorch exports for x.view(x.size(axis), -1); [N,16] for axis 0, [4,4N] for axis 1. */
static void build_view_model_of_axis(builder *b, int64_t batch, int64_t axis)
{
    static int64_t one[1] = {1}, minus_one[1] = {-1}, zero_idx_dims[1] = {1}, zero_idx[1];
    zero_idx[0] = axis;
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

static void build_view_model(builder *b, int64_t batch)
{
    build_view_model_of_axis(b, batch, 0);
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

/* Runs the view model on x = 0, 1, 2, … at this batch; the output is rank 2. */
static const qc_value *run_view_model(qc_exec *x, int64_t batch)
{
    static float data[3 * 16];
    qc_error err;
    for (int i = 0; i < 3 * 16; i++)
        data[i] = (float)i;
    int64_t dims[4] = {batch, 4, 2, 2};
    qc_value in = qc_value_f32(4, dims, data);
    ck_assert_msg(qc_exec_run(x, &in, 1, &err) == QC_OK, "%s", err.msg);
    const qc_value *y = qc_exec_output(x, 0);
    ck_assert_int_eq(y->rank, 2);
    return y;
}

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
        const qc_value *y = run_view_model(x, batch);
        ck_assert_int_eq(y->dims[0], batch);
        ck_assert_int_eq(y->dims[1], 16);
        ck_assert_float_eq(((const float *)y->data)[batch * 16 - 1], (float)(batch * 16 - 1));
    }
    qc_exec_destroy(x);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(a_shape_subgraph_that_ignores_a_dynamic_batch_folds_away_at_load)
{
    builder b;
    build_view_model_of_axis(&b, -1, 1); /* reads the channels, not the batch */
    qc_graph *g;
    qc_error err;
    LOAD_OK(&b, &g, &err);
    ck_assert_int_eq(g->n_nodes, 1);
    ck_assert_str_eq(g->nodes[0].op_type, "Reshape");
    ck_assert(g->tensors[g->nodes[0].inputs[1]].is_const);
    qc_exec *x = qc_exec_create(g);
    for (int64_t batch = 1; batch <= 3; batch++) {
        const qc_value *y = run_view_model(x, batch);
        ck_assert_int_eq(y->dims[0], 4);
        ck_assert_int_eq(y->dims[1], 4 * batch);
    }
    qc_exec_destroy(x);
    qc_graph_destroy(g);
}
END_TEST

/* TensorFlow "same" pads computed from x.shape (tools/make-test-models.py, same-pad-tiny):
 * every Pad reads constant pads after load; only the two x.view(x.size(0), -1) chains, which
 * depend on the batch, keep a Shape. */
START_TEST(same_padding_from_a_dynamic_shape_folds_to_constant_pads)
{
    qc_graph *g;
    qc_error err;
    ck_assert_msg(qc_onnx_load("tests/data/pytorch/same-pad-tiny/model.onnx", &g, &err) == QC_OK, "%s",
                  err.msg);
    int pads = 0, shapes = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const qc_node *n = &g->nodes[i];
        if (!strcmp(n->op_type, "Pad")) {
            pads++;
            ck_assert_msg(g->tensors[n->inputs[1]].is_const, "node '%s' reads pads at run time", n->name);
        }
        shapes += !strcmp(n->op_type, "Shape");
    }
    ck_assert_int_eq(pads, 3);
    ck_assert_int_eq(shapes, 2);
    qc_graph_destroy(g);
}
END_TEST

/* x = 0..5 as 1x1x2x3 through Pad(x, pads[, constant, axes]) at opset 19; out is NumPy's np.pad
 * of the 2x3 matrix with the same widths and mode. */
static void check_pad(char *mode, int64_t *pads, size_t n_pads, int64_t *axes, size_t n_axes,
                      const float *want, int64_t want_h, int64_t want_w)
{
    static int64_t pads_dims[1], axes_dims[1];
    static char *in3[] = {"x", "pads", "", "axes"}, *in2[] = {"x", "pads"}, *y[] = {"y"};
    builder b;
    qc_graph *g;
    qc_error err;
    b_init(&b, 19);
    int64_t dims[4] = {1, 1, 2, 3};
    b_input(&b, "x", 4, dims);
    pads_dims[0] = (int64_t)n_pads;
    b_init_i64(&b, "pads", pads_dims, pads, n_pads);
    if (n_axes) {
        axes_dims[0] = (int64_t)n_axes;
        b_init_i64(&b, "axes", axes_dims, axes, n_axes);
    }
    Onnx__NodeProto *pad = b_node(&b, "Pad", "pad", n_axes ? 4 : 2, n_axes ? in3 : in2, 1, y);
    b_attr_str(&b, pad, "mode", mode);
    b_output(&b, "y");
    LOAD_OK(&b, &g, &err);
    qc_exec *x = qc_exec_create(g);
    float data[6] = {0, 1, 2, 3, 4, 5};
    qc_value in = qc_value_f32(4, dims, data);
    ck_assert_msg(qc_exec_run(x, &in, 1, &err) == QC_OK, "%s", err.msg);
    const qc_value *out = qc_exec_output(x, 0);
    ck_assert_int_eq(out->dims[2], want_h);
    ck_assert_int_eq(out->dims[3], want_w);
    for (int64_t i = 0; i < want_h * want_w; i++)
        ck_assert_msg(((const float *)out->data)[i] == want[i], "%s: element %lld is %g, NumPy gives %g", mode,
                      (long long)i, ((const float *)out->data)[i], want[i]);
    qc_exec_destroy(x);
    qc_graph_destroy(g);
}

START_TEST(pad_wrap_edge_and_reflect_match_numpy)
{
    static int64_t wrap_pads[8] = {0, 0, 1, 2, 0, 0, 1, 1};
    static const float wrap[24] = {4, 5, 3, 4, 5, 3, 1, 2, 0, 1, 2, 0, 4, 5, 3, 4, 5, 3, 1, 2, 0, 1, 2, 0};
    check_pad("wrap", wrap_pads, 8, NULL, 0, wrap, 4, 6);
    static int64_t edge_pads[2] = {2, 1}, last_axis[1] = {-1}; /* opset 18's axes input */
    static const float edge[12] = {0, 0, 0, 1, 2, 2, 3, 3, 3, 4, 5, 5};
    check_pad("edge", edge_pads, 2, last_axis, 1, edge, 2, 6);
    static int64_t reflect_pads[8] = {0, 0, 0, 2, 0, 0, 0, 2};
    static const float reflect[14] = {2, 1, 0, 1, 2, 1, 0, 5, 4, 3, 4, 5, 4, 3};
    check_pad("reflect", reflect_pads, 8, NULL, 0, reflect, 2, 7);
}
END_TEST

/* Split's num_outputs (opset 18): 7 into ceil(7/3) = 3, 3 and the 1 left. */
START_TEST(split_num_outputs_leaves_the_remainder_to_the_last_part)
{
    static char *in[] = {"x"}, *outs[] = {"a", "b", "c"};
    builder b;
    qc_graph *g;
    qc_error err;
    b_init(&b, 18);
    int64_t dims[2] = {1, 7};
    b_input(&b, "x", 2, dims);
    Onnx__NodeProto *split = b_node(&b, "Split", "split", 1, in, 3, outs);
    b_attr_int(&b, split, "axis", 1);
    b_attr_int(&b, split, "num_outputs", 3);
    b_output(&b, "a");
    b_output(&b, "b");
    b_output(&b, "c");
    LOAD_OK(&b, &g, &err);
    qc_exec *x = qc_exec_create(g);
    float data[7] = {0, 1, 2, 3, 4, 5, 6};
    qc_value v = qc_value_f32(2, dims, data);
    ck_assert_msg(qc_exec_run(x, &v, 1, &err) == QC_OK, "%s", err.msg);
    const int64_t want_len[3] = {3, 3, 1};
    for (int k = 0, first = 0; k < 3; first += (int)want_len[k], k++) {
        const qc_value *o = qc_exec_output(x, k);
        ck_assert_int_eq(o->dims[1], want_len[k]);
        ck_assert_float_eq(((const float *)o->data)[0], (float)first);
    }
    qc_exec_destroy(x);
    qc_graph_destroy(g);
}
END_TEST

/* Cast from float to an integer type truncates toward zero (C's conversion, NumPy's astype). */
START_TEST(cast_to_an_integer_truncates_toward_zero)
{
    static char *in[] = {"x"}, *y[] = {"y"};
    builder b;
    qc_graph *g;
    qc_error err;
    b_init(&b, 13);
    int64_t dims[1] = {4};
    b_input(&b, "x", 1, dims);
    Onnx__NodeProto *cast = b_node(&b, "Cast", "cast", 1, in, 1, y);
    b_attr_int(&b, cast, "to", 6); /* INT32 */
    b_output(&b, "y");
    LOAD_OK(&b, &g, &err);
    qc_exec *x = qc_exec_create(g);
    float data[4] = {-1.7f, 2.5f, -0.5f, 7.99f};
    qc_value v = qc_value_f32(1, dims, data);
    ck_assert_msg(qc_exec_run(x, &v, 1, &err) == QC_OK, "%s", err.msg);
    const qc_value *o = qc_exec_output(x, 0);
    ck_assert_int_eq(o->dtype, QC_INT32);
    const int32_t want[4] = {-1, 2, 0, 7};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(((const int32_t *)o->data)[i], want[i]);
    qc_exec_destroy(x);
    qc_graph_destroy(g);
}
END_TEST

/* Steps beyond any axis take one element (the length once overflowed): x = 0..4 sliced from the
 * end with step INT64_MIN, and from the start with step INT64_MAX. */
START_TEST(slice_with_the_largest_steps_takes_one_element)
{
    static int64_t one[1] = {1}, starts[1] = {INT64_MAX}, ends[1] = {INT64_MIN}, axes[1] = {0};
    static int64_t steps[1] = {INT64_MIN}, starts2[1] = {0}, ends2[1] = {INT64_MAX}, steps2[1] = {INT64_MAX};
    static char *in1[] = {"x", "s", "e", "a", "st"}, *in2[] = {"x", "s2", "e2", "a", "st2"};
    static char *y1[] = {"y1"}, *y2[] = {"y2"};
    builder b;
    qc_graph *g;
    qc_error err;
    b_init(&b, 13);
    int64_t dims[1] = {5};
    b_input(&b, "x", 1, dims);
    b_init_i64(&b, "s", one, starts, 1);
    b_init_i64(&b, "e", one, ends, 1);
    b_init_i64(&b, "a", one, axes, 1);
    b_init_i64(&b, "st", one, steps, 1);
    b_init_i64(&b, "s2", one, starts2, 1);
    b_init_i64(&b, "e2", one, ends2, 1);
    b_init_i64(&b, "st2", one, steps2, 1);
    b_node(&b, "Slice", "back", 5, in1, 1, y1);
    b_node(&b, "Slice", "forth", 5, in2, 1, y2);
    b_output(&b, "y1");
    b_output(&b, "y2");
    LOAD_OK(&b, &g, &err);
    qc_exec *x = qc_exec_create(g);
    float data[5] = {0, 1, 2, 3, 4};
    qc_value v = qc_value_f32(1, dims, data);
    ck_assert_msg(qc_exec_run(x, &v, 1, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(qc_exec_output(x, 0)->dims[0], 1);
    ck_assert_float_eq(((const float *)qc_exec_output(x, 0)->data)[0], 4);
    ck_assert_int_eq(qc_exec_output(x, 1)->dims[0], 1);
    ck_assert_float_eq(((const float *)qc_exec_output(x, 1)->data)[0], 0);
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

/* A dynamic batch is sized at run time: a batch whose activations exceed the memory limit is
 * refused by name before its buffers are allocated, and a smaller one still runs after it. */
START_TEST(a_run_beyond_the_memory_limit_is_refused_naming_the_model)
{
    builder b;
    build_view_model(&b, -1);
    qc_graph *g;
    qc_error err;
    LOAD_OK(&b, &g, &err);
    qc_exec *x = qc_exec_create(g);
    static float data[4096 * 16];
    int64_t dims[4] = {4096, 4, 2, 2};
    qc_value in = qc_value_f32(4, dims, data);
    qc_set_memory_limit(64 * 1024); /* a 256 KiB output does not fit */
    ck_assert_int_eq(qc_exec_run(x, &in, 1, &err), QC_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "memory limit"), "message: %s", err.msg);
    dims[0] = 2;
    in = qc_value_f32(4, dims, data);
    ck_assert_int_eq(qc_exec_run(x, &in, 1, &err), QC_OK);
    qc_set_memory_limit(QC_DEFAULT_MEMORY_LIMIT);
    qc_exec_destroy(x);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(sizes_are_checked_without_overflow)
{
    int64_t p = -1;
    qc_error err;
    ck_assert(qc_mul_dims(1 << 20, 1 << 20, &p) && p == (int64_t)1 << 40);
    ck_assert(!qc_mul_dims((int64_t)1 << 20, ((int64_t)1 << 20) + 1, &p));
    ck_assert(!qc_mul_dims(16, ((int64_t)1 << 60) + 49, &p)); /* once wrapped to 784 */
    ck_assert(!qc_mul_dims(-1, 4, &p));
    ck_assert(qc_mul_dims(0, (int64_t)1 << 40, &p) && p == 0);
    qc_value v = {.dtype = QC_FLOAT, .rank = 3, .dims = {0, (int64_t)1 << 30, (int64_t)1 << 30}};
    ck_assert_int_eq(qc_value_check(&v, "value 'v'", &err), QC_ERR_INPUT); /* zeros count as 1 */
    ck_assert_msg(strstr(err.msg, "value 'v'") && strstr(err.msg, "2^40"), "message: %s", err.msg);
    v = (qc_value){.dtype = QC_FLOAT, .rank = 2, .dims = {1, -3}};
    ck_assert_int_eq(qc_value_check(&v, "value 'v'", &err), QC_ERR_INPUT);
    v = (qc_value){.dtype = QC_FLOAT, .rank = 2, .dims = {1 << 16, 1 << 14}}; /* 4 GiB */
    ck_assert_int_eq(qc_value_check(&v, "value 'v'", &err), QC_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "memory limit"), "message: %s", err.msg);
    v.dims[1] = 1 << 12; /* 256 MiB */
    ck_assert_int_eq(qc_value_check(&v, "value 'v'", &err), QC_OK);
    v = (qc_value){.dtype = QC_FLOAT, .rank = 2, .dims = {(int64_t)1 << 62, 4}};
    ck_assert(qc_value_count(&v) == INT64_MAX && qc_value_bytes(&v) == SIZE_MAX); /* saturate */
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
    /* the Conv fuses, and the Sigmoid becomes a table of 256 codes (eq. L1); ONNX Runtime
     * builds its table from its own float sigmoid, where one code may round the other way */
    {"qdq-conv-sigmoid", "QLinearSigmoid", "Sigmoid", 1},
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
    /* ONNX Runtime multiplies in float: (a − z_a)·(b − z_b)·fl(s_a·s_b/s_y) (eqs. M1–M3) */
    {"qdq-mul", "QLinearMul", "Mul", 1},
    {"qdq-mul-gate", "QLinearMul", "Mul", 1},
    /* x · k with k stored as uint8 codes, as qcal quantize writes a Mul by a constant */
    {"qdq-mul-const", "QLinearMul", "Mul", 1},
    {"qop-mul", "QLinearMul", NULL, 1},
    {"qop-mul-s8", "QLinearMul", NULL, 1},
    /* the activations by table: exact against DQ → op → Q in qcal's float kernels; ONNX
     * Runtime computes them in its own (Tanh and Sigmoid approximated) */
    {"qdq-sigmoid-s8", "QLinearSigmoid", "Sigmoid", 1},
    {"qdq-hardswish", "QLinearHardSwish", "HardSwish", 1},
    {"qdq-hardsigmoid-s8", "QLinearHardSigmoid", "HardSigmoid", 1},
    {"qdq-tanh", "QLinearTanh", "Tanh", 1},
    {"qdq-leakyrelu-s8", "QLinearLeakyRelu", "LeakyRelu", 1},
    {"qop-lookup-s8", "QLinearSigmoid", NULL, 1},
    /* Slice and Pad on the codes, the Q's parameters the DQ's (F4, F13): exact */
    {"qdq-slice-s8", "Slice", "DequantizeLinear", 0},
    {"qdq-pad", "Pad", "DequantizeLinear", 0},
    {"qdq-pad-reflect-s8", "Pad", "DequantizeLinear", 0},
    {"qdq-resize", "Resize", "DequantizeLinear", 0},
    {"qdq-resize-sizes-s8", "Resize", "DequantizeLinear", 0},
    /* MatMul of two activations (F14): ONNX Runtime requantizes in float (one code) */
    {"qdq-matmul-act", "QLinearMatMul", "MatMul", 1},
    {"qdq-matmul-act-s8", "QLinearMatMul", "MatMul", 1},
    {"qop-matmul-act", "QLinearMatMul", NULL, 1},
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
    enum { MAXB = 1 << 20 }; /* a depthwise 72 × 100 × 100 */
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
    /* 1 thread, then 2 and 3 with the op split however small: the pieces of the image start
     * mid-row, read overlapping input rows, or outnumber the rows */
    for (int threads = 1; threads <= 3; threads++) {
        qc_exec *ex = qc_exec_create(g);
        ck_assert_ptr_nonnull(ex);
        ck_assert_msg(qc_exec_set_threads(ex, threads, &err) == QC_OK, "%s", err.msg);
        qc_exec_set_split_work(ex, 0);
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
                              "QLinearConv %lldx%lldx%lld -> %lld k%lld s%lld g%lld, %d threads: map "
                              "%lld pixel %lld: %d, want %lld", (long long)c_in, (long long)hw, (long long)hw,
                              (long long)c_out, (long long)k, (long long)stride, (long long)group,
                              threads, (long long)m, (long long)p, yu[m * pixels + p], (long long)want);
            }
        ck_assert_msg(inside * 4 >= c_out * pixels * 3, "only %lld of %lld outputs unsaturated",
                      (long long)inside, (long long)(c_out * pixels));
        qc_exec_destroy(ex);
    }
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
    /* depthwise rows wider than a tile (summed a row at a time, requantized in two tiles),
     * channels beyond a 64-channel block; strided 3×3 and 5×5 rows (20, 21 pixels) wider than
     * the AVX2 kernel's strips, with 8-channel and ragged channel tails */
    qconv_tiles_case(72, 72, 100, 3, 1, 1, 72, 8);
    qconv_tiles_case(70, 70, 40, 3, 2, 1, 70, 9);
    qconv_tiles_case(40, 40, 41, 5, 2, 2, 40, 10);
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

START_TEST(qlinearconv_split_over_threads_matches_int64_reference_on_odd_shapes)
{
    /* fewer output rows than threads (2×2, 1×1, depthwise 2×2), 1×1 of stride 2 (im2col),
     * stride 2 with a last row in the padding, grouped 5×5 on 7×7 (pieces start mid-row) */
    qconv_tiles_case(8, 16, 2, 3, 1, 1, 1, 21);
    qconv_tiles_case(8, 8, 1, 3, 1, 1, 1, 22);
    qconv_tiles_case(16, 16, 3, 3, 2, 1, 16, 23);
    qconv_tiles_case(8, 12, 9, 1, 2, 0, 1, 24);
    qconv_tiles_case(8, 12, 6, 3, 2, 2, 1, 25);
    qconv_tiles_case(4, 8, 7, 5, 1, 2, 2, 26);
}
END_TEST

/* ---- channels-last activations between integer ops ---- */

static void b_attr_ints(builder *b, Onnx__NodeProto *n, char *name, int64_t *v, size_t count)
{
    Onnx__AttributeProto *a = &b->attrs[b->n_attrs];
    onnx__attribute_proto__init(a);
    a->name = name;
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    a->n_ints = count;
    a->ints = v;
    b->attr_ptrs[b->n_attrs] = a;
    if (!n->attribute)
        n->attribute = &b->attr_ptrs[b->n_attrs];
    n->n_attribute++;
    b->n_attrs++;
}

/* a QLinearConv of k×k, padding k/2, with weights of small random codes, named `name` with
 * constants "<name>_w", "<name>_b", "<name>_ws"; scale and zero point names are shared */
typedef struct {
    int8_t w[24 * 16 * 9];
    int32_t bias[24];
    float ws[24];
    int64_t wd[4], md[1], pads[4];
    char names[3][16];
    char *in[9], *out[1];
} layout_conv;

static void add_layout_conv(builder *b, layout_conv *c, char *name, char *x, char *y,
                            int64_t c_in, int64_t c_out, int64_t k, int64_t group, uint32_t seed)
{
    const int64_t cg = c_in / group;
    ck_assert(c_out * cg * k * k <= (int64_t)sizeof c->w && c_out <= 24);
    for (int64_t i = 0; i < c_out * cg * k * k; i++)
        c->w[i] = (int8_t)((int)((seed = seed * 1664525u + 1013904223u) >> 28) - 8);
    for (int64_t m = 0; m < c_out; m++) {
        c->bias[m] = (int32_t)((seed = seed * 1664525u + 1013904223u) >> 24) - 128;
        c->ws[m] = 1.0f / 64.0f;
    }
    c->wd[0] = c->md[0] = c_out;
    c->wd[1] = cg;
    c->wd[2] = c->wd[3] = k;
    c->pads[0] = c->pads[1] = c->pads[2] = c->pads[3] = k / 2;
    snprintf(c->names[0], sizeof c->names[0], "%s_w", name);
    snprintf(c->names[1], sizeof c->names[1], "%s_b", name);
    snprintf(c->names[2], sizeof c->names[2], "%s_ws", name);
    b_init_raw(b, c->names[0], 3, 4, c->wd, c->w, (size_t)(c_out * cg * k * k));
    b_init_raw(b, c->names[1], 6, 1, c->md, c->bias, (size_t)c_out * 4);
    b_init_raw(b, c->names[2], 1, 1, c->md, c->ws, (size_t)c_out * 4);
    char *in[9] = {x, "s", "z", c->names[0], c->names[2], "wz", "s", "z", c->names[1]};
    memcpy(c->in, in, sizeof in);
    c->out[0] = y;
    Onnx__NodeProto *n = b_node(b, "QLinearConv", name, 9, c->in, 1, c->out);
    b_attr_int(b, n, "group", group);
    b_attr_ints(b, n, "pads", c->pads, 4);
}

/* x (8×10×10) → conv 3×3 → t1 → depthwise 3×3 → t2; t1 + t2 → t3 → MaxPool 2×2 → t4 →
 * conv 1×1 → t5 → QLinearGlobalAveragePool → y */
static void build_layout_model(builder *b)
{
    static layout_conv convs[3];
    static float s = 0.5f;
    static uint8_t z = 128;
    static int8_t wz = 0;
    static int64_t xd[4] = {1, 8, 10, 10}, kernel[2] = {2, 2}, strides[2] = {2, 2};
    static char *add_in[] = {"t1", "s", "z", "t2", "s", "z", "s", "z"}, *add_out[] = {"t3"};
    static char *mp_in[] = {"t3"}, *mp_out[] = {"t4"};
    static char *gap_in[] = {"t5", "s", "z", "s", "z"}, *gap_out[] = {"y"};
    b_init(b, 13);
    b_input(b, "x", 4, xd);
    b->tensor_types[b->n_io - 1].elem_type = 2; /* uint8 */
    b_init_raw(b, "s", 1, 0, NULL, &s, 4);
    b_init_raw(b, "z", 2, 0, NULL, &z, 1);
    b_init_raw(b, "wz", 3, 0, NULL, &wz, 1);
    add_layout_conv(b, &convs[0], "conv", "x", "t1", 8, 16, 3, 1, 1);
    add_layout_conv(b, &convs[1], "dw", "t1", "t2", 16, 16, 3, 16, 2);
    b_node(b, "QLinearAdd", "add", 8, add_in, 1, add_out)->domain = "com.microsoft";
    Onnx__NodeProto *mp = b_node(b, "MaxPool", "pool", 1, mp_in, 1, mp_out);
    b_attr_ints(b, mp, "kernel_shape", kernel, 2);
    b_attr_ints(b, mp, "strides", strides, 2);
    add_layout_conv(b, &convs[2], "pw", "t4", "t5", 16, 24, 1, 1, 3);
    b_node(b, "QLinearGlobalAveragePool", "gap", 5, gap_in, 1, gap_out)->domain = "com.microsoft";
    b_output(b, "y");
}

/* every 8-bit tensor an observer sees, by tensor index */
typedef struct {
    uint8_t *bytes[64];
    size_t size[64];
} seen_tensors;

static void keep_tensor(void *ctx, const qc_graph *g, int tensor, const qc_value *value)
{
    (void)g;
    seen_tensors *seen = ctx;
    ck_assert(tensor < 64 && value->layout == QC_LAYOUT_ONNX);
    free(seen->bytes[tensor]);
    seen->size[tensor] = qc_value_bytes(value);
    seen->bytes[tensor] = malloc(seen->size[tensor]);
    memcpy(seen->bytes[tensor], value->data, seen->size[tensor]);
}

static void run_layout_model(const qc_graph *g, int threads, const uint8_t *x, seen_tensors *seen)
{
    qc_error err;
    qc_exec *ex = qc_exec_create(g);
    ck_assert_ptr_nonnull(ex);
    ck_assert_msg(qc_exec_set_threads(ex, threads, &err) == QC_OK, "%s", err.msg);
    qc_exec_set_split_work(ex, 0);
    qc_exec_set_observer(ex, keep_tensor, seen);
    qc_value v = {.dtype = QC_UINT8, .rank = 4, .dims = {1, 8, 10, 10}, .data = (void *)x};
    ck_assert_msg(qc_exec_run(ex, &v, 1, &err) == QC_OK, "%s", err.msg);
    const qc_value *y = qc_exec_output(ex, 0);
    ck_assert_int_eq(y->layout, QC_LAYOUT_ONNX);
    ck_assert_mem_eq(y->data, seen->bytes[g->outputs[0]], 24);
    qc_exec_destroy(ex);
}

START_TEST(integer_activations_stay_channels_last_and_equal_the_onnx_layout_run)
{
    builder b;
    build_layout_model(&b);
    qc_graph *g;
    qc_error err;
    LOAD_OK(&b, &g, &err);
    /* between the integer ops, channels last; the graph's input and output, ONNX's */
    static const char *const channels_last[] = {"t1", "t2", "t3", "t4", "t5"};
    for (size_t i = 0; i < sizeof channels_last / sizeof *channels_last; i++)
        ck_assert_msg(g->tensors[qc_graph_find_tensor(g, channels_last[i])].value.layout ==
                          QC_LAYOUT_CHANNELS_LAST,
                      "%s is not channels last", channels_last[i]);
    ck_assert_int_eq(g->tensors[qc_graph_find_tensor(g, "x")].value.layout, QC_LAYOUT_ONNX);
    ck_assert_int_eq(g->tensors[qc_graph_find_tensor(g, "y")].value.layout, QC_LAYOUT_ONNX);
    ck_assert(g->n_tensors <= 64);
    static uint8_t x[800];
    uint32_t r = 7;
    for (size_t i = 0; i < sizeof x; i++)
        x[i] = (uint8_t)((r = r * 1664525u + 1013904223u) >> 24);
    seen_tensors cl[3], onnx;
    memset(cl, 0, sizeof cl);
    memset(&onnx, 0, sizeof onnx);
    for (int threads = 1; threads <= 3; threads++)
        run_layout_model(g, threads, x, &cl[threads - 1]);
    /* the reference: the same graph with every tensor in ONNX's layout */
    for (int t = 0; t < g->n_tensors; t++)
        g->tensors[t].value.layout = QC_LAYOUT_ONNX;
    run_layout_model(g, 1, x, &onnx);
    int seen = 0;
    for (int t = 0; t < g->n_tensors; t++) {
        if (!onnx.bytes[t])
            continue;
        seen++;
        int distinct = 0; /* a tensor of one repeated code would compare equal in any order */
        for (size_t i = 1; i < onnx.size[t]; i++)
            distinct += onnx.bytes[t][i] != onnx.bytes[t][0];
        ck_assert_msg(distinct > 0 || onnx.size[t] == 24, "%s is constant", g->tensors[t].name);
        for (int k = 0; k < 3; k++) {
            ck_assert_int_eq(cl[k].size[t], onnx.size[t]);
            ck_assert_msg(!memcmp(cl[k].bytes[t], onnx.bytes[t], onnx.size[t]),
                          "%s differs from the ONNX-layout run (%d threads)", g->tensors[t].name,
                          k + 1);
        }
    }
    ck_assert_int_eq(seen, 6);
    for (int t = 0; t < 64; t++) {
        free(onnx.bytes[t]);
        for (int k = 0; k < 3; k++)
            free(cl[k].bytes[t]);
    }
    qc_graph_destroy(g);
}
END_TEST

START_TEST(qlinearconv_refuses_a_y_scale_of_another_length_naming_it)
{
    qconv_tiles_case_y(8, 12, 6, 3, 1, 1, 1, 15, 5);
}
END_TEST

/* ---- integer ops one node at a time, over scale ratios from 2^-20 to 2^20 ----------------
 *
 * Each test builds one node with random shapes, zero points and scales whose ratio (the real
 * multiplier of the op) is drawn log-uniformly from 2^-20 to 2^20, runs it on every kernel path
 * the CPU has (scalar, AVX2, AVX2 with the AVX-VNNI qgemm micro-kernel) and checks every output
 * against the ONNX definition computed in double, e.g. y = saturate(rint((acc + bias) · s_x ·
 * s_w / s_y) + z_y). An output may differ only where the real value lies within the op's
 * documented representation error of a rounding tie (a fixed-point multiplier is within
 * 2^-31 of M relatively; QLinearConcat and QLinearAveragePool compute in float). Ratios the op
 * cannot represent must be refused with an error naming the node. */

#include "kernels/int8/int8-impl.h"

static uint64_t qrng_state;

static uint32_t qrng(void)
{
    uint64_t z = (qrng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static int qrange(int lo, int hi)
{
    return lo + (int)(qrng() % (uint32_t)(hi - lo + 1));
}

static double qunit(void)
{
    return (double)qrng() / 4294967296.0;
}

static double qlog_uniform(double lo_exp, double hi_exp)
{
    return exp2(lo_exp + (hi_exp - lo_exp) * qunit());
}

/* the kernel tables this CPU can run, and their names */
static int qisa_list(int *isas)
{
    int n = 0;
    isas[n++] = QC_INT8_ISA_SCALAR;
    if (qc_int8_select(QC_INT8_ISA_AVX2) == 0)
        isas[n++] = QC_INT8_ISA_AVX2;
    if (qc_int8_select(QC_INT8_ISA_AVXVNNI) == 0)
        isas[n++] = QC_INT8_ISA_AVXVNNI;
    if (qc_int8_select(QC_INT8_ISA_AVX512VNNI) == 0)
        isas[n++] = QC_INT8_ISA_AVX512VNNI;
    if (qc_int8_select(QC_INT8_ISA_AMX) == 0)
        isas[n++] = QC_INT8_ISA_AMX;
    return n;
}

static const char *qisa_name(int isa)
{
    return isa == QC_INT8_ISA_AMX          ? "amx"
           : isa == QC_INT8_ISA_AVX512VNNI ? "avx512vnni"
           : isa == QC_INT8_ISA_AVXVNNI  ? "avxvnni"
           : isa == QC_INT8_ISA_AVX2     ? "avx2"
                                         : "scalar";
}

/* ONNX element types */
enum { E_FLOAT = 1, E_UINT8 = 2, E_INT8 = 3, E_INT32 = 6 };

typedef struct {
    char *name;    /* "" for an omitted optional input */
    int elem;      /* E_* */
    int rank;
    int64_t dims[4];
    void *data;
    bool fed;      /* a graph input given at run time; otherwise an initializer */
} qarg;

typedef struct {
    char *name;
    int n_ints;    /* 0: an int attribute (value i) */
    int64_t i;
    int64_t ints[4];
} qattr;

static size_t qarg_bytes(const qarg *a)
{
    size_t count = 1;
    for (int d = 0; d < a->rank; d++)
        count *= (size_t)a->dims[d];
    return count * (a->elem == E_UINT8 || a->elem == E_INT8 ? 1 : 4);
}

/* Builds the model of one node "node_under_test" (output y), loads and runs it. On success y
 * holds a copy of the output (free y->data). Otherwise the status of the load or the run. */
static qc_status run_qnode(const char *op, const char *domain, qarg *args, int n_args,
                           const qattr *attrs, int n_attrs, qc_value *y, qc_error *err)
{
    builder b;
    b_init(&b, 13);
    Onnx__OperatorSetIdProto ms;
    onnx__operator_set_id_proto__init(&ms);
    ms.domain = "com.microsoft";
    ms.has_version = 1;
    ms.version = 1;
    Onnx__OperatorSetIdProto *opsets[2] = {&b.opset, &ms};
    b.model.opset_import = opsets;
    b.model.n_opset_import = 2;
    char *names[MAX_ITEMS], *out[] = {"y"};
    qc_value fed[MAX_ITEMS];
    int n_fed = 0;
    ck_assert_int_le(n_args, MAX_ITEMS);
    for (int i = 0; i < n_args; i++) {
        qarg *a = &args[i];
        names[i] = a->name;
        if (!a->name[0])
            continue;
        if (a->fed) {
            b_input(&b, a->name, a->rank, a->dims);
            b.tensor_types[b.n_io - 1].elem_type = a->elem;
            qc_value *v = &fed[n_fed++];
            memset(v, 0, sizeof *v);
            v->dtype = a->elem == E_FLOAT ? QC_FLOAT : a->elem == E_UINT8 ? QC_UINT8
                       : a->elem == E_INT8 ? QC_INT8 : QC_INT32;
            v->rank = a->rank;
            memcpy(v->dims, a->dims, sizeof a->dims);
            v->data = a->data;
        } else {
            b_init_raw(&b, a->name, a->elem, a->rank, a->dims, a->data, qarg_bytes(a));
        }
    }
    Onnx__NodeProto *n = b_node(&b, (char *)op, "node_under_test", (size_t)n_args, names, 1, out);
    n->domain = (char *)domain;
    for (int i = 0; i < n_attrs; i++) {
        if (!attrs[i].n_ints) {
            b_attr_int(&b, n, attrs[i].name, attrs[i].i);
            continue;
        }
        Onnx__AttributeProto *a = &b.attrs[b.n_attrs];
        onnx__attribute_proto__init(a);
        a->name = attrs[i].name;
        a->has_type = 1;
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        a->n_ints = (size_t)attrs[i].n_ints;
        a->ints = (int64_t *)attrs[i].ints;
        b.attr_ptrs[b.n_attrs++] = a;
        if (!n->attribute)
            n->attribute = &b.attr_ptrs[b.n_attrs - 1];
        n->n_attribute++;
    }
    b_output(&b, "y");
    qc_graph *g;
    qc_status s = b_load(&b, true, &g, err);
    if (s != QC_OK)
        return s;
    qc_exec *x = qc_exec_create(g);
    ck_assert_ptr_nonnull(x);
    s = qc_exec_run(x, fed, n_fed, err);
    if (s == QC_OK) {
        *y = *qc_exec_output(x, 0);
        y->data = malloc(qc_value_bytes(y) + 1);
        ck_assert_ptr_nonnull(y->data);
        memcpy(y->data, qc_exec_output(x, 0)->data, qc_value_bytes(y));
    }
    qc_exec_destroy(x);
    qc_graph_destroy(g);
    return s;
}

#define RUN_QNODE_OK(op, domain, args, n_args, attrs, n_attrs, y, isa)                          \
    do {                                                                                       \
        qc_error e_;                                                                           \
        ck_assert_int_eq(qc_int8_select(isa), 0);                                              \
        ck_assert_msg(run_qnode(op, domain, args, n_args, attrs, n_attrs, y, &e_) == QC_OK,    \
                      "%s on %s: %s", op, qisa_name(isa), e_.msg);                             \
    } while (0)

/* a code of the type: uint8 or int8 */
static int32_t qcode(int is_u8, int32_t v)
{
    const int32_t lo = is_u8 ? 0 : -128, hi = is_u8 ? 255 : 127;
    return v < lo ? lo : v > hi ? hi : v;
}

static int32_t qget(const void *data, int is_u8, size_t i)
{
    return is_u8 ? ((const uint8_t *)data)[i] : ((const int8_t *)data)[i];
}

static void qput(void *data, int is_u8, size_t i, int32_t v)
{
    if (is_u8)
        ((uint8_t *)data)[i] = (uint8_t)qcode(1, v);
    else
        ((int8_t *)data)[i] = (int8_t)qcode(0, v);
}

/* saturate(rint(v) + z), and whether v lies within slack of a tie of rint */
static int32_t qround_ref(double v, int32_t z, int is_u8)
{
    const double r = rint(v) + z;
    const double lo = is_u8 ? 0 : -128, hi = is_u8 ? 255 : 127;
    return (int32_t)(r < lo ? lo : r > hi ? hi : r);
}

static bool qnear_tie(double v, double slack)
{
    return fabs(v - floor(v) - 0.5) < slack; /* slack 0: never, exact ties included */
}

/* How far the fixed-point multiplier of R0 is from M, as qc_requant_multiplier makes it (0
 * when M is a power of two) */
static double requant_error(double m, int32_t *mult, int32_t *shift)
{
    ck_assert_int_eq(qc_requant_multiplier(m, mult, shift), QC_MULTIPLIER_OK);
    return fabs(ldexp(*mult, -*shift) - m);
}

/* the slack of a value v = t · M against a tie: the multiplier's error, plus double rounding
 * unless M is exact */
static double requant_slack(double t, double v, double err, bool m_exact)
{
    return fabs(t) * err + (m_exact && err == 0.0 ? 0.0 : fabs(v) * 0x1p-50 + 1e-12);
}

/* ---- QLinearConv ---- */

/* One random QLinearConv: x [batch, c_in, h, w] uint8 or int8, w int8 or uint8 with per-channel
 * scales and zero points, bias, y_scale per tensor or per output channel; the multipliers
 * M[m] = s_x·s_w[m]/s_y[m] spread by up to 2^±3 around a centre drawn from 2^-20..2^20.
 * Returns the number of outputs checked. */
static int64_t qconv_property_case(int trial, int64_t *unsaturated)
{
    enum { MAXX = 2 * 16 * 9 * 9, MAXW = 16 * 16 * 9, MAXY = 2 * 16 * 13 * 13 };
    static uint8_t x[MAXX], w[MAXW], xz_b[1], wz_b[16], yz_b[1];
    static int32_t bias[16];
    static float xs[1], ws[16], ys[16];
    int isas[5];
    const int nisa = qisa_list(isas);
    const int kind = trial % 5; /* 0 dense, 1 grouped, 2 depthwise < 8, 3 depthwise ≥ 8, 4 1×1 */
    const int64_t groups = kind == 1 ? 2 : kind == 2 ? qrange(2, 7) : kind == 3 ? qrange(8, 16) : 1;
    const int64_t cg = kind >= 2 && kind <= 3 ? 1 : qrange(1, 4);
    const int64_t mg = kind >= 2 && kind <= 3 ? 1 : qrange(1, 16 / groups);
    const int64_t c_in = cg * groups, c_out = mg * groups;
    /* 1-d now and then (height 1); kernels, strides, dilations and pads per dimension, the
     * pads asymmetric */
    const int one_d = kind != 4 && (qrng() % 5) == 0;
    const int64_t kh = kind == 4 || one_d ? 1 : qrange(1, 3), kw = kind == 4 ? 1 : qrange(1, 3);
    const int64_t sh = kind == 4 || one_d ? 1 : qrange(1, 2), sw = kind == 4 ? 1 : qrange(1, 2);
    const int64_t dh = kh > 1 && (qrng() % 3) == 0 ? 2 : 1, dw = kw > 1 && (qrng() % 3) == 0 ? 2 : 1;
    const int64_t pt = qrange(0, (int)kh - 1), pb = qrange(0, (int)kh - 1);
    const int64_t pl = qrange(0, (int)kw - 1), pr = qrange(0, (int)kw - 1);
    const int64_t eh = (kh - 1) * dh + 1, ew = (kw - 1) * dw + 1;
    const int64_t h = one_d ? 1 : qrange((int)eh, 9), wd = qrange((int)ew, 9), batch = qrange(1, 2);
    const int64_t oh = (h + pt + pb - eh) / sh + 1, ow = (wd + pl + pr - ew) / sw + 1;
    const int x_u8 = qrng() & 1, w_u8 = (qrng() % 4) == 0, y_u8 = qrng() & 1;
    const int per_channel_y = (qrng() % 3) == 0, with_bias = (qrng() % 4) != 0;
    const int64_t kk = cg * kh * kw;
    const int32_t xz = x_u8 ? qrange(0, 255) : qrange(-128, 127);
    const int32_t yz = y_u8 ? qrange(0, 255) : qrange(-128, 127);
    int32_t wz[16];
    double real[16];
    /* a quarter of the trials with powers of two: M exact, and ties exact (they round to
     * even, with no slack) */
    const int pow2 = (qrng() % 4) == 0;
    const double centre = pow2 ? ldexp(1.0, qrange(-20, 20)) : qlog_uniform(-20.0, 20.0);
    xs[0] = pow2 ? ldexpf(1.0f, qrange(-12, 4)) : (float)qlog_uniform(-12.0, 4.0);
    const float ys0 = pow2 ? ldexpf(1.0f, qrange(-12, 4)) : (float)qlog_uniform(-12.0, 4.0);
    double err[16];
    int32_t mult[16], shift[16];
    for (int64_t m = 0; m < c_out; m++) {
        ys[m] = !per_channel_y ? ys0
                : pow2         ? ldexpf(ys0, qrange(-2, 2))
                               : (float)(ys0 * qlog_uniform(-2.0, 2.0));
        double r = centre * (pow2 ? ldexp(1.0, qrange(-3, 3)) : qlog_uniform(-3.0, 3.0));
        r = r < 0x1p-20 ? 0x1p-20 : r > 0x1p20 ? 0x1p20 : r;
        ws[m] = (float)(r * ys[m] / xs[0]);
        real[m] = (double)xs[0] * ws[m] / ys[m];
        err[m] = requant_error(real[m], &mult[m], &shift[m]);
        wz[m] = (qrng() % 3) == 0 ? (w_u8 ? qrange(0, 255) : qrange(-128, 127)) : (w_u8 ? 128 : 0);
        /* a bias worth up to ±150 codes */
        bias[m] = (int32_t)((2.0 * qunit() - 1.0) * fmin(0x1p28, 150.0 / real[m]));
    }
    /* activations around the zero point: about 300 codes of output at the centre's M */
    const double spread = fmin(255.0, fmax(0.0, 300.0 / (centre * (double)kk * 64.0)));
    const int64_t x_count = batch * c_in * h * wd, w_count = c_out * kk;
    ck_assert(x_count <= MAXX && w_count <= MAXW && batch * c_out * oh * ow <= MAXY);
    for (int64_t i = 0; i < x_count; i++) {
        const int32_t v = (qrng() % 16) == 0 ? qrange(-255, 255)
                                             : xz + (int32_t)lrint((2.0 * qunit() - 1.0) * spread);
        qput(x, x_u8, (size_t)i, v);
    }
    for (int64_t i = 0; i < w_count; i++)
        qput(w, w_u8, (size_t)i, qrange(-128, 255));
    qput(xz_b, x_u8, 0, xz);
    qput(yz_b, y_u8, 0, yz);
    for (int64_t m = 0; m < c_out; m++)
        qput(wz_b, w_u8, (size_t)m, wz[m]);
    qarg args[9] = {
        one_d ? (qarg){"x", x_u8 ? E_UINT8 : E_INT8, 3, {batch, c_in, wd}, x, true}
              : (qarg){"x", x_u8 ? E_UINT8 : E_INT8, 4, {batch, c_in, h, wd}, x, true},
        {"x_scale", E_FLOAT, 0, {0}, xs, false},
        {"x_zero_point", x_u8 ? E_UINT8 : E_INT8, 0, {0}, xz_b, false},
        one_d ? (qarg){"w", w_u8 ? E_UINT8 : E_INT8, 3, {c_out, cg, kw}, w, false}
              : (qarg){"w", w_u8 ? E_UINT8 : E_INT8, 4, {c_out, cg, kh, kw}, w, false},
        {"w_scale", E_FLOAT, 1, {c_out}, ws, false},
        {"w_zero_point", w_u8 ? E_UINT8 : E_INT8, 1, {c_out}, wz_b, false},
        {"y_scale", E_FLOAT, per_channel_y ? 1 : 0, {c_out}, ys, false},
        {"y_zero_point", y_u8 ? E_UINT8 : E_INT8, 0, {0}, yz_b, false},
        {"B", E_INT32, 1, {c_out}, bias, false},
    };
    /* now and then a fused Relu or Clip (qcal's domain): the clamp of R5, in output codes */
    const int fused = (qrng() % 4) == 0;
    const int32_t act_lo = fused ? yz : INT32_MIN;
    const int32_t act_hi = fused && (qrng() & 1) ? qrange(yz, y_u8 ? 255 : 127) : INT32_MAX;
    const qattr attrs[7] = {
        {"group", 0, groups, {0}},
        one_d ? (qattr){"strides", 1, 0, {sw}} : (qattr){"strides", 2, 0, {sh, sw}},
        one_d ? (qattr){"pads", 2, 0, {pl, pr}} : (qattr){"pads", 4, 0, {pt, pl, pb, pr}},
        one_d ? (qattr){"kernel_shape", 1, 0, {kw}} : (qattr){"kernel_shape", 2, 0, {kh, kw}},
        one_d ? (qattr){"dilations", 1, 0, {dw}} : (qattr){"dilations", 2, 0, {dh, dw}},
        {"activation_min", 0, act_lo, {0}},
        {"activation_max", 0, act_hi, {0}},
    };
    int64_t checked = 0;
    for (int s = 0; s < nisa; s++) {
        qc_value y;
        RUN_QNODE_OK("QLinearConv", fused ? "qcal" : "", args, with_bias ? 9 : 8, attrs,
                     fused ? 7 : 5, &y, isas[s]);
        ck_assert_int_eq(qc_value_count(&y), batch * c_out * oh * ow);
        for (int64_t bb = 0; bb < batch; bb++)
            for (int64_t m = 0; m < c_out; m++)
                for (int64_t py = 0; py < oh; py++)
                    for (int64_t px = 0; px < ow; px++) {
                        const int64_t grp = m / mg;
                        int64_t acc = with_bias ? bias[m] : 0;
                        for (int64_t c = 0; c < cg; c++)
                            for (int64_t i = 0; i < kh; i++)
                                for (int64_t j = 0; j < kw; j++) {
                                    const int64_t ih = py * sh + i * dh - pt,
                                                  iw = px * sw + j * dw - pl;
                                    if (ih < 0 || iw < 0 || ih >= h || iw >= wd)
                                        continue;
                                    const size_t xi =
                                        (size_t)((((bb * c_in) + grp * cg + c) * h + ih) * wd + iw);
                                    const size_t wi = (size_t)(((m * cg + c) * kh + i) * kw + j);
                                    acc += (int64_t)(qget(x, x_u8, xi) - xz) *
                                           (qget(w, w_u8, wi) - wz[m]);
                                }
                        const double v = (double)acc * real[m];
                        int32_t want = qround_ref(v, yz, y_u8);
                        want = want < act_lo ? act_lo : want > act_hi ? act_hi : want;
                        const size_t yi = (size_t)(((bb * c_out + m) * oh + py) * ow + px);
                        const int32_t got = qget(y.data, y_u8, yi);
                        if (got != want &&
                            qnear_tie(v, requant_slack((double)acc, v, err[m], pow2)))
                            continue;
                        ck_assert_msg(
                            got == want,
                            "QLinearConv on %s: x %s %lldx%lldx%lldx%lld, w %s %lldx%lldx%lldx%lld "
                            "group %lld strides %lld,%lld dilations %lld,%lld pads %lld,%lld,%lld,"
                            "%lld, y %s%s; at (%lld, %lld, %lld, %lld): "
                            "s_x=%a s_w=%a s_y=%a M=%a (2^%.2f) multiplier=%d shift=%d z=%d,%d,%d "
                            "acc+bias=%lld: got %d, want %d",
                            qisa_name(isas[s]), x_u8 ? "u8" : "s8", (long long)batch,
                            (long long)c_in, (long long)h, (long long)wd, w_u8 ? "u8" : "s8",
                            (long long)c_out, (long long)cg, (long long)kh, (long long)kw,
                            (long long)groups, (long long)sh, (long long)sw, (long long)dh,
                            (long long)dw, (long long)pt, (long long)pl, (long long)pb,
                            (long long)pr,
                            y_u8 ? "u8" : "s8", fused ? " clamped" : "", (long long)bb, (long long)m, (long long)py,
                            (long long)px, xs[0], ws[m], ys[m], real[m], log2(real[m]), mult[m],
                            shift[m], xz, wz[m], yz, (long long)acc, got, want);
                        checked++;
                        *unsaturated += want > (y_u8 ? 0 : -128) && want < (y_u8 ? 255 : 127);
                    }
        free(y.data);
    }
    return checked;
}

START_TEST(qlinearconv_exact_for_multipliers_2e_minus20_to_2e20_on_every_kernel_path)
{
    qrng_state = 41;
    int64_t checked = 0, unsaturated = 0;
    for (int trial = 0; trial < 150; trial++)
        checked += qconv_property_case(trial, &unsaturated);
    ck_assert_int_gt(checked, 20000);
    ck_assert_int_gt(unsaturated * 4, checked);
}
END_TEST

/* ---- QLinearMatMul and QGemm ---- */

/* A [batch.., m, k] fed, B [k, n] (QGemm: [n, k] with transB sometimes) constant or fed
 * (QLinearMatMul), b_scale and y_scale per tensor or per column, QGemm's bias C per column or
 * one value. */
static int64_t qmm_property_case(int trial, int64_t *unsaturated)
{
    enum { MAXA = 3 * 7 * 40, MAXB = 3 * 40 * 24 };
    static uint8_t a[MAXA], bm[MAXB], az_b[1], bz_b[24], yz_b[1];
    static int32_t bias[24];
    static float as[1], bs[24], ys[24];
    int isas[5];
    const int nisa = qisa_list(isas);
    const int is_gemm = trial % 2, trans_b = is_gemm && (qrng() & 1);
    const int64_t batch = is_gemm ? 1 : qrange(1, 3), m = qrange(1, 7), k = qrange(1, 40),
                  n = qrange(1, 24);
    const int a_u8 = qrng() & 1, b_u8 = (qrng() % 4) == 0, y_u8 = qrng() & 1;
    const int per_col_b = qrng() & 1, per_col_y = (qrng() % 3) == 0;
    const int b_fed = !is_gemm && (qrng() % 4) == 0, bias_count = (qrng() % 4) == 0 ? 1 : (int)n;
    const int32_t az = a_u8 ? qrange(0, 255) : qrange(-128, 127);
    const int32_t yz = y_u8 ? qrange(0, 255) : qrange(-128, 127);
    int32_t bz[24];
    double real[24];
    const int pow2 = (qrng() % 4) == 0; /* M exact, ties exact */
    const double centre = pow2 ? ldexp(1.0, qrange(-20, 20)) : qlog_uniform(-20.0, 20.0);
    as[0] = pow2 ? ldexpf(1.0f, qrange(-12, 4)) : (float)qlog_uniform(-12.0, 4.0);
    const float ys0 = pow2 ? ldexpf(1.0f, qrange(-12, 4)) : (float)qlog_uniform(-12.0, 4.0);
    const float bs0 = (float)(centre * ys0 / as[0]);
    double err[24];
    int32_t mult[24], shift[24];
    for (int64_t j = 0; j < n; j++) {
        ys[j] = !per_col_y ? ys0
                : pow2     ? ldexpf(ys0, qrange(-2, 2))
                           : (float)(ys0 * qlog_uniform(-2.0, 2.0));
        double r = centre * (pow2 ? ldexp(1.0, qrange(-3, 3)) : qlog_uniform(-3.0, 3.0));
        r = r < 0x1p-20 ? 0x1p-20 : r > 0x1p20 ? 0x1p20 : r;
        bs[j] = per_col_b ? (float)(r * ys[j] / as[0]) : bs0;
        real[j] = (double)as[0] * (per_col_b ? bs[j] : bs0) / ys[j];
        err[j] = requant_error(real[j], &mult[j], &shift[j]);
        bz[j] = per_col_b && (qrng() % 3) == 0 ? (b_u8 ? qrange(0, 255) : qrange(-128, 127))
                                               : (b_u8 ? 128 : 0);
    }
    if (!per_col_b)
        for (int64_t j = 0; j < n; j++)
            bz[j] = bz[0];
    for (int64_t j = 0; j < n; j++)
        bias[j] = (int32_t)((2.0 * qunit() - 1.0) * fmin(0x1p28, 150.0 / real[j]));
    if (bias_count == 1)
        for (int64_t j = 1; j < n; j++)
            bias[j] = bias[0];
    const double spread = fmin(255.0, fmax(0.0, 300.0 / (centre * (double)k * 64.0)));
    /* QLinearMatMul may batch B too ([batch, k, n], packed per run), with A batched or not */
    const int b_batched = !is_gemm && batch > 1 && (qrng() % 3) == 0;
    const int a_batched = batch > 1 && !(b_batched && (qrng() & 1));
    const int64_t b_count = (b_batched ? batch : 1) * k * n;
    ck_assert(batch * m * k <= MAXA && b_count <= MAXB);
    for (int64_t i = 0; i < batch * m * k; i++)
        qput(a, a_u8, (size_t)i,
             (qrng() % 16) == 0 ? qrange(-255, 255)
                                : az + (int32_t)lrint((2.0 * qunit() - 1.0) * spread));
    for (int64_t i = 0; i < b_count; i++)
        qput(bm, b_u8, (size_t)i, qrange(-128, 255));
    qput(az_b, a_u8, 0, az);
    qput(yz_b, y_u8, 0, yz);
    for (int64_t j = 0; j < n; j++)
        qput(bz_b, b_u8, (size_t)j, bz[j]);
    const int ea = a_u8 ? E_UINT8 : E_INT8, eb = b_u8 ? E_UINT8 : E_INT8,
              ey = y_u8 ? E_UINT8 : E_INT8;
    qarg a_arg = {"A", ea, a_batched ? 3 : 2, {0}, a, true};
    if (a_batched) {
        a_arg.dims[0] = batch;
        a_arg.dims[1] = m;
        a_arg.dims[2] = k;
    } else {
        a_arg.dims[0] = m;
        a_arg.dims[1] = k;
    }
    qarg b_arg = {"B", eb, 2, {trans_b ? n : k, trans_b ? k : n}, bm, b_fed};
    if (b_batched)
        b_arg = (qarg){"B", eb, 3, {batch, k, n}, bm, b_fed};
    qarg bsc = {"b_scale", E_FLOAT, per_col_b ? 1 : 0, {n}, bs, false};
    qarg bzp = {"b_zero_point", eb, per_col_b ? 1 : 0, {n}, bz_b, false};
    qarg ysc = {"y_scale", E_FLOAT, per_col_y ? 1 : 0, {n}, ys, false};
    qarg yzp = {"y_zero_point", ey, 0, {0}, yz_b, false};
    if (!per_col_b)
        bs[0] = bs0;
    qarg args[9];
    int n_args = 0;
    args[n_args++] = a_arg;
    args[n_args++] = (qarg){"a_scale", E_FLOAT, 0, {0}, as, false};
    args[n_args++] = (qarg){"a_zero_point", ea, 0, {0}, az_b, false};
    args[n_args++] = b_arg;
    args[n_args++] = bsc;
    args[n_args++] = bzp;
    if (is_gemm)
        args[n_args++] = (qarg){"C", E_INT32, 1, {bias_count}, bias, false};
    args[n_args++] = ysc;
    args[n_args++] = yzp;
    const int fused = (qrng() % 4) == 0;
    const int32_t act_lo = fused ? yz : INT32_MIN;
    const int32_t act_hi = fused && (qrng() & 1) ? qrange(yz, y_u8 ? 255 : 127) : INT32_MAX;
    qattr attrs[3];
    int n_attrs = 0;
    if (trans_b)
        attrs[n_attrs++] = (qattr){"transB", 0, 1, {0}};
    if (fused) {
        attrs[n_attrs++] = (qattr){"activation_min", 0, act_lo, {0}};
        attrs[n_attrs++] = (qattr){"activation_max", 0, act_hi, {0}};
    }
    const char *op = is_gemm ? "QGemm" : "QLinearMatMul";
    int64_t checked = 0;
    for (int s = 0; s < nisa; s++) {
        qc_value y;
        RUN_QNODE_OK(op, fused ? "qcal" : is_gemm ? "com.microsoft" : "", args, n_args, attrs,
                     n_attrs, &y, isas[s]);
        ck_assert_int_eq(qc_value_count(&y), batch * m * n);
        for (int64_t bb = 0; bb < batch; bb++)
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) {
                    int64_t acc = is_gemm ? bias[j] : 0;
                    for (int64_t kk = 0; kk < k; kk++) {
                        const size_t bi = (size_t)((b_batched ? bb * k * n : 0) +
                                                   (trans_b ? j * k + kk : kk * n + j));
                        const size_t ai = (size_t)(((a_batched ? bb : 0) * m + i) * k + kk);
                        acc += (int64_t)(qget(a, a_u8, ai) - az) *
                               (qget(bm, b_u8, bi) - bz[j]);
                    }
                    const double v = (double)acc * real[j];
                    int32_t want = qround_ref(v, yz, y_u8);
                    want = want < act_lo ? act_lo : want > act_hi ? act_hi : want;
                    const int32_t got = qget(y.data, y_u8, (size_t)((bb * m + i) * n + j));
                    if (got != want && qnear_tie(v, requant_slack((double)acc, v, err[j], pow2)))
                        continue;
                    ck_assert_msg(got == want,
                                  "%s on %s: A %s %lldx%lldx%lld, B %s %lldx%lldx%lld%s%s, y %s%s; at "
                                  "(%lld, %lld, %lld): s_a=%a s_b=%a s_y=%a M=%a (2^%.2f) "
                                  "multiplier=%d shift=%d z=%d,%d,%d acc+bias=%lld: got %d, "
                                  "want %d",
                                  op, qisa_name(isas[s]), a_u8 ? "u8" : "s8",
                                  (long long)(a_batched ? batch : 1), (long long)m, (long long)k,
                                  b_u8 ? "u8" : "s8", (long long)(b_batched ? batch : 1),
                                  (long long)k,
                                  (long long)n, trans_b ? " transposed" : "",
                                  b_fed ? " fed" : "", y_u8 ? "u8" : "s8",
                                  fused ? " clamped" : "", (long long)bb,
                                  (long long)i, (long long)j, as[0], per_col_b ? bs[j] : bs0,
                                  ys[j], real[j], log2(real[j]), mult[j], shift[j], az, bz[j], yz,
                                  (long long)acc, got, want);
                    checked++;
                    *unsaturated += want > (y_u8 ? 0 : -128) && want < (y_u8 ? 255 : 127);
                }
        free(y.data);
    }
    return checked;
}

START_TEST(qlinearmatmul_and_qgemm_exact_for_multipliers_2e_minus20_to_2e20_on_every_kernel_path)
{
    qrng_state = 42;
    int64_t checked = 0, unsaturated = 0;
    for (int trial = 0; trial < 200; trial++)
        checked += qmm_property_case(trial, &unsaturated);
    ck_assert_int_gt(checked, 20000);
    ck_assert_int_gt(unsaturated * 4, checked);
}
END_TEST

/* A multiplier of 2^30 or more cannot be written as R0 asks: refused by name at run time. */
START_TEST(qlinearconv_and_qlinearmatmul_refuse_a_multiplier_of_2e30_naming_the_node)
{
    static uint8_t x[4] = {1, 2, 3, 4}, zx[1] = {0};
    static int8_t w[4] = {1, -1, 2, 3}, zw[1] = {0};
    static float one[1] = {1.0f}, big[1] = {0x1p30f}, bigger[1] = {0x1p34f};
    for (int which = 0; which < 2; which++) {
        float *ws = which == 0 ? big : bigger;
        qarg conv[8] = {
            {"x", E_UINT8, 4, {1, 1, 2, 2}, x, true}, {"x_scale", E_FLOAT, 0, {0}, one, false},
            {"x_zero_point", E_UINT8, 0, {0}, zx, false},
            {"w", E_INT8, 4, {1, 1, 2, 2}, w, false}, {"w_scale", E_FLOAT, 0, {0}, ws, false},
            {"w_zero_point", E_INT8, 0, {0}, zw, false}, {"y_scale", E_FLOAT, 0, {0}, one, false},
            {"y_zero_point", E_UINT8, 0, {0}, zx, false},
        };
        qarg mm[8] = {
            {"A", E_UINT8, 2, {2, 2}, x, true}, {"a_scale", E_FLOAT, 0, {0}, one, false},
            {"a_zero_point", E_UINT8, 0, {0}, zx, false}, {"B", E_INT8, 2, {2, 2}, w, false},
            {"b_scale", E_FLOAT, 0, {0}, ws, false}, {"b_zero_point", E_INT8, 0, {0}, zw, false},
            {"y_scale", E_FLOAT, 0, {0}, one, false}, {"y_zero_point", E_UINT8, 0, {0}, zx, false},
        };
        for (int op = 0; op < 2; op++) {
            qc_value y;
            qc_error err;
            qc_status s = run_qnode(op ? "QLinearMatMul" : "QLinearConv", "", op ? mm : conv, 8,
                                    NULL, 0, &y, &err);
            ck_assert_int_eq(s, QC_ERR_INPUT);
            ck_assert_msg(strstr(err.msg, "'node_under_test'") && strstr(err.msg, "too large") &&
                              strstr(err.msg, "output channel 0"),
                          "message: %s", err.msg);
        }
    }
}
END_TEST

/* ---- QLinearAdd ---- */

/* A and B of random shapes that broadcast (B sometimes a constant), uint8 or int8, s_a/s_y
 * and s_b/s_y drawn from 2^-20 to 2^20: ratios of 2^15 and more are refused by name. */
START_TEST(qlinearadd_exact_for_ratios_2e_minus20_to_2e20_with_broadcasting_on_every_kernel_path)
{
    enum { MAXN = 3 * 4 * 5 * 6 };
    static uint8_t a[MAXN], b[MAXN], za_b[1], zb_b[1], zy_b[1];
    static float sa[1], sb[1], sy[1];
    int isas[5];
    const int nisa = qisa_list(isas);
    qrng_state = 43;
    int64_t checked = 0, refused = 0, unsaturated = 0;
    for (int trial = 0; trial < 400; trial++) {
        const int is_u8 = trial & 1, e = is_u8 ? E_UINT8 : E_INT8;
        const int rank = qrange(1, 4);
        int64_t yd[4], ad[4], bd[4];
        for (int d = 0; d < rank; d++)
            yd[d] = qrange(1, 3 + d);
        /* A full or broadcast, B broadcast or full; B may have fewer dimensions */
        const int b_rank = qrange(1, rank);
        for (int d = 0; d < rank; d++)
            ad[d] = (trial % 3) == 0 && (qrng() & 1) ? 1 : yd[d];
        for (int d = 0; d < b_rank; d++)
            bd[d] = (qrng() & 1) ? 1 : yd[rank - b_rank + d];
        /* the output shape is the broadcast one */
        int64_t count = 1;
        for (int d = 0; d < rank; d++) {
            const int db = d - (rank - b_rank);
            const int64_t eb = db >= 0 ? bd[db] : 1;
            yd[d] = ad[d] > eb ? ad[d] : eb;
            count *= yd[d];
        }
        int64_t a_count = 1, b_count = 1;
        for (int d = 0; d < rank; d++)
            a_count *= ad[d];
        for (int d = 0; d < b_rank; d++)
            b_count *= bd[d];
        const int pow2 = (qrng() % 4) == 0; /* ratios exact, ties exact */
        const double ra = pow2 ? ldexp(1.0, qrange(-20, 20)) : qlog_uniform(-20.0, 20.0);
        const double rb = (trial % 4) == 0 ? ra
                          : pow2           ? ldexp(1.0, qrange(-20, 20))
                                           : qlog_uniform(-20.0, 20.0);
        sy[0] = pow2 ? ldexpf(1.0f, qrange(-10, 2)) : (float)qlog_uniform(-10.0, 2.0);
        sa[0] = (float)(ra * sy[0]);
        sb[0] = (float)(rb * sy[0]);
        const double rra = (double)sa[0] / sy[0], rrb = (double)sb[0] / sy[0];
        const int32_t za = is_u8 ? qrange(0, 255) : qrange(-128, 127);
        const int32_t zb = is_u8 ? qrange(0, 255) : qrange(-128, 127);
        const int32_t zy = is_u8 ? qrange(0, 255) : qrange(-128, 127);
        const double spread_a = fmin(255.0, 150.0 / rra), spread_b = fmin(255.0, 150.0 / rrb);
        for (int64_t i = 0; i < a_count; i++)
            qput(a, is_u8, (size_t)i, za + (int32_t)lrint((2.0 * qunit() - 1.0) * spread_a));
        for (int64_t i = 0; i < b_count; i++)
            qput(b, is_u8, (size_t)i, zb + (int32_t)lrint((2.0 * qunit() - 1.0) * spread_b));
        qput(za_b, is_u8, 0, za);
        qput(zb_b, is_u8, 0, zb);
        qput(zy_b, is_u8, 0, zy);
        qarg args[8] = {
            {"A", e, rank, {ad[0], ad[1], ad[2], ad[3]}, a, true},
            {"A_scale", E_FLOAT, 0, {0}, sa, false},
            {"A_zero_point", e, 0, {0}, za_b, false},
            {"B", e, b_rank, {bd[0], bd[1], bd[2], bd[3]}, b, (trial % 5) != 0},
            {"B_scale", E_FLOAT, 0, {0}, sb, false},
            {"B_zero_point", e, 0, {0}, zb_b, false},
            {"C_scale", E_FLOAT, 0, {0}, sy, false},
            {"C_zero_point", e, 0, {0}, zy_b, false},
        };
        const double big = rra > rrb ? rra : rrb;
        /* the multipliers' own errors, as qc_qadd_multipliers makes them */
        qc_qadd mp = {0};
        double ea = 0.0, eb = 0.0;
        if (qc_qadd_multipliers(rra, rrb, &mp) == QC_MULTIPLIER_OK) {
            ea = fabs(ldexp(mp.a_multiplier, -mp.shift) - rra);
            eb = fabs(ldexp(mp.b_multiplier, -mp.shift) - rrb);
        }
        /* now and then a fused Relu or Clip (qcal's domain) */
        const int fused = (qrng() % 4) == 0;
        const int32_t act_lo = fused ? zy : INT32_MIN;
        const int32_t act_hi = fused && (qrng() & 1) ? qrange(zy, is_u8 ? 255 : 127) : INT32_MAX;
        const qattr attrs[2] = {{"activation_min", 0, act_lo, {0}},
                                {"activation_max", 0, act_hi, {0}}};
        for (int s = 0; s < nisa; s++) {
            qc_value y;
            qc_error err;
            ck_assert_int_eq(qc_int8_select(isas[s]), 0);
            const qc_status st = run_qnode("QLinearAdd", fused ? "qcal" : "com.microsoft", args, 8,
                                           attrs, fused ? 2 : 0, &y, &err);
            if (big >= 32768.0) {
                ck_assert_msg(st == QC_ERR_INPUT && strstr(err.msg, "'node_under_test'"),
                              "QLinearAdd ratio %a: status %d, %s", big, st,
                              st == QC_OK ? "accepted" : err.msg);
                refused++;
                if (st == QC_OK)
                    free(y.data);
                continue;
            }
            ck_assert_msg(st == QC_OK, "QLinearAdd on %s, ratios %a %a: %s", qisa_name(isas[s]),
                          rra, rrb, err.msg);
            ck_assert_int_eq(qc_value_count(&y), count);
            for (int64_t i = 0; i < count; i++) {
                /* the broadcast indices of A and B */
                int64_t rest = i, ai = 0, bi = 0, as_ = 1, bs_ = 1;
                for (int d = rank - 1; d >= 0; d--) {
                    const int64_t idx = rest % yd[d];
                    rest /= yd[d];
                    ai += (ad[d] == 1 ? 0 : idx) * as_;
                    as_ *= ad[d];
                    const int db = d - (rank - b_rank);
                    if (db >= 0) {
                        bi += (bd[db] == 1 ? 0 : idx) * bs_;
                        bs_ *= bd[db];
                    }
                }
                const double da = qget(a, is_u8, (size_t)ai) - za, db = qget(b, is_u8, (size_t)bi) - zb;
                const double v = rra * da + rrb * db;
                int32_t want = qround_ref(v, zy, is_u8);
                want = want < act_lo ? act_lo : want > act_hi ? act_hi : want;
                const int32_t got = qget(y.data, is_u8, (size_t)i);
                const double slack = fabs(da) * ea + fabs(db) * eb +
                                     (pow2 && ea == 0.0 && eb == 0.0 ? 0.0 : fabs(v) * 0x1p-50 + 1e-12);
                if (got != want && qnear_tie(v, slack))
                    continue;
                ck_assert_msg(got == want,
                              "QLinearAdd on %s: %s%s A rank %d B rank %d at %lld: s_a/s_y=%a "
                              "(2^%.2f) s_b/s_y=%a (2^%.2f) a=%g b=%g (after zero points) z_y=%d "
                              "(multipliers %d, %d, shift %d): got %d, want %d",
                              qisa_name(isas[s]), is_u8 ? "u8" : "s8", fused ? " clamped" : "",
                              rank, b_rank, (long long)i,
                              rra, log2(rra), rrb, log2(rrb), da, db, zy, mp.a_multiplier,
                              mp.b_multiplier, mp.shift, got, want);
                checked++;
                unsaturated += want > (is_u8 ? 0 : -128) && want < (is_u8 ? 255 : 127);
            }
            free(y.data);
        }
    }
    /* per kernel path: each checks the same 400 trials (about 4,100 outputs, 11 refusals) */
    ck_assert_int_gt(checked, 3000 * nisa);
    ck_assert_int_gt(refused, 8 * nisa);
    ck_assert_int_gt(unsaturated * 4, checked);
}
END_TEST

/* ---- QLinearConcat (T1), QLinearAveragePool, QLinearGlobalAveragePool, MaxPool ---- */

/* Two or three inputs of their own scales and zero points, s_x/s_y from 2^-20 to 2^20, along a
 * random axis: each code is T1, QuantizeLinear(DequantizeLinear(q)) in single precision, and
 * within float rounding of a tie of the exact saturate(rint((q − z_x)·s_x/s_y) + z_y). */
START_TEST(qlinearconcat_exact_for_ratios_2e_minus20_to_2e20_on_every_kernel_path)
{
    enum { MAXN = 4 * 5 * 6 };
    static uint8_t xin[3][MAXN], zx_b[3][1], zy_b[1];
    static float sx[3][1], sy[1];
    int isas[5];
    const int nisa = qisa_list(isas);
    qrng_state = 44;
    int64_t checked = 0, unsaturated = 0;
    for (int trial = 0; trial < 300; trial++) {
        const int is_u8 = trial & 1, e = is_u8 ? E_UINT8 : E_INT8;
        const int rank = qrange(1, 3), inputs = qrange(2, 3);
        const int axis = qrange(-rank, rank - 1), ax = axis < 0 ? axis + rank : axis;
        int64_t dims[3][4], yd[4];
        for (int d = 0; d < rank; d++)
            yd[d] = qrange(1, 4);
        yd[ax] = 0;
        sy[0] = (float)qlog_uniform(-10.0, 2.0);
        const int32_t zy = is_u8 ? qrange(0, 255) : qrange(-128, 127);
        qput(zy_b, is_u8, 0, zy);
        qarg args[11] = {{"Y_scale", E_FLOAT, 0, {0}, sy, false},
                         {"Y_zero_point", e, 0, {0}, zy_b, false}};
        static char names[3][3][8];
        double ratio[3];
        int32_t zx[3];
        int pow2[3];
        const int all_pow2 = (qrng() % 3) == 0;
        if (all_pow2)
            sy[0] = ldexpf(1.0f, qrange(-10, 2));
        for (int i = 0; i < inputs; i++) {
            for (int d = 0; d < rank; d++)
                dims[i][d] = d == ax ? qrange(1, 4) : yd[d];
            yd[ax] += dims[i][ax];
            int64_t count = 1;
            for (int d = 0; d < rank; d++)
                count *= dims[i][d];
            /* now and then the output's own parameters: an exact copy */
            const int same = (qrng() % 6) == 0;
            /* T1 is exact when both scales are powers of two: ties exact */
            pow2[i] = all_pow2 || (qrng() % 4) == 0;
            sx[i][0] = same   ? sy[0]
                       : pow2[i] ? ldexpf(sy[0], qrange(-20, 20))
                                 : (float)(qlog_uniform(-20.0, 20.0) * sy[0]);
            pow2[i] = all_pow2 && pow2[i];
            ratio[i] = (double)sx[i][0] / sy[0];
            zx[i] = same ? zy : is_u8 ? qrange(0, 255) : qrange(-128, 127);
            qput(zx_b[i], is_u8, 0, zx[i]);
            const double spread = fmin(255.0, 300.0 / ratio[i]);
            for (int64_t j = 0; j < count; j++)
                qput(xin[i], is_u8, (size_t)j,
                     zx[i] + (int32_t)lrint((2.0 * qunit() - 1.0) * spread));
            snprintf(names[i][0], 8, "x%d", i);
            snprintf(names[i][1], 8, "s%d", i);
            snprintf(names[i][2], 8, "z%d", i);
            args[2 + 3 * i] = (qarg){names[i][0], e, rank, {dims[i][0], dims[i][1], dims[i][2]},
                                     xin[i], true};
            args[3 + 3 * i] = (qarg){names[i][1], E_FLOAT, 0, {0}, sx[i], false};
            args[4 + 3 * i] = (qarg){names[i][2], e, 0, {0}, zx_b[i], false};
        }
        const qattr attrs[1] = {{"axis", 0, axis, {0}}};
        int64_t outer = 1, inner = 1;
        for (int d = 0; d < ax; d++)
            outer *= yd[d];
        for (int d = ax + 1; d < rank; d++)
            inner *= yd[d];
        for (int s = 0; s < nisa; s++) {
            qc_value y;
            RUN_QNODE_OK("QLinearConcat", "com.microsoft", args, 2 + 3 * inputs, attrs, 1, &y,
                         isas[s]);
            ck_assert_int_eq(qc_value_count(&y), outer * yd[ax] * inner);
            for (int64_t o = 0; o < outer; o++) {
                int64_t off = 0;
                for (int i = 0; i < inputs; i++) {
                    const int64_t row = dims[i][ax] * inner;
                    for (int64_t j = 0; j < row; j++) {
                        const int32_t q = qget(xin[i], is_u8, (size_t)(o * row + j));
                        /* T1 in single precision, as documented */
                        volatile float d = (float)(q - zx[i]) * sx[i][0];
                        volatile float f = d / sy[0];
                        const int32_t t1 = qround_ref((double)f, zy, is_u8);
                        const double v = (double)(q - zx[i]) * ratio[i];
                        const int32_t want = qround_ref(v, zy, is_u8);
                        const int32_t got =
                            qget(y.data, is_u8, (size_t)(o * yd[ax] * inner + off + j));
                        const int near = qnear_tie(v, pow2[i] ? 0.0 : fabs(v) * 0x1p-22);
                        ck_assert_msg(got == t1 && (near || got == want),
                                      "QLinearConcat on %s: %s rank %d axis %d input %d: "
                                      "s_x=%a s_y=%a s_x/s_y=%a (2^%.2f) z=%d,%d q=%d: got %d, "
                                      "T1 %d, real %d",
                                      qisa_name(isas[s]), is_u8 ? "u8" : "s8", rank, axis, i,
                                      sx[i][0], sy[0], ratio[i], log2(ratio[i]), zx[i], zy, q, got,
                                      t1, want);
                        checked++;
                        unsaturated += want > (is_u8 ? 0 : -128) && want < (is_u8 ? 255 : 127);
                    }
                    off += row;
                }
            }
            free(y.data);
        }
    }
    ck_assert_int_gt(checked, 10000);
    ck_assert_int_gt(unsaturated * 4, checked);
}
END_TEST

/* QLinearAveragePool (dequantize, average, quantize, in float as ONNX Runtime) and
 * QLinearGlobalAveragePool (eqs. A1–A3, the exact ratio rounded half to even), with
 * s_x/s_y from 2^-20 to 2^20; the global pool refuses s_x/(s_y·n) ≥ 2^30 by name. */
START_TEST(qlinear_average_pools_exact_for_ratios_2e_minus20_to_2e20_on_every_kernel_path)
{
    enum { MAXN = 2 * 3 * 12 * 12 };
    static uint8_t x[MAXN], zx_b[1], zy_b[1];
    static float sx[1], sy[1];
    int isas[5];
    const int nisa = qisa_list(isas);
    qrng_state = 45;
    int64_t checked = 0, unsaturated = 0;
    for (int trial = 0; trial < 300; trial++) {
        const int is_u8 = trial & 1, e = is_u8 ? E_UINT8 : E_INT8, global = (trial / 2) % 2;
        /* powers of two now and then (ratio, and a global plane of 2^j values): exact ties */
        const int pow2 = (qrng() % 4) == 0;
        const int64_t n = qrange(1, 2), c = qrange(1, 3);
        const int64_t h = pow2 && global ? 1 << qrange(0, 3) : qrange(1, 12);
        const int64_t w = pow2 && global ? 1 << qrange(0, 3) : qrange(1, 12);
        const double ratio = pow2 ? ldexp(1.0, qrange(-20, 20)) : qlog_uniform(-20.0, 20.0);
        sy[0] = pow2 ? ldexpf(1.0f, qrange(-10, 2)) : (float)qlog_uniform(-10.0, 2.0);
        sx[0] = (float)(ratio * sy[0]);
        const double r = (double)sx[0] / sy[0];
        const int32_t zx = is_u8 ? qrange(0, 255) : qrange(-128, 127);
        const int32_t zy = is_u8 ? qrange(0, 255) : qrange(-128, 127);
        qput(zx_b, is_u8, 0, zx);
        qput(zy_b, is_u8, 0, zy);
        const double spread = fmin(255.0, 200.0 / r);
        for (int64_t i = 0; i < n * c * h * w; i++)
            qput(x, is_u8, (size_t)i, zx + (int32_t)lrint((2.0 * qunit() - 1.0) * spread));
        qarg args[5] = {{"X", e, 4, {n, c, h, w}, x, true},
                        {"x_scale", E_FLOAT, 0, {0}, sx, false},
                        {"x_zero_point", e, 0, {0}, zx_b, false},
                        {"y_scale", E_FLOAT, 0, {0}, sy, false},
                        {"y_zero_point", e, 0, {0}, zy_b, false}};
        const int64_t kh = qrange(1, (int)h), kw = qrange(1, (int)w), st = qrange(1, 2);
        const int64_t ph = qrange(0, (int)kh - 1), pw = qrange(0, (int)kw - 1);
        const int include_pad = qrng() & 1;
        const qattr attrs[4] = {{"kernel_shape", 2, 0, {kh, kw}},
                                {"strides", 2, 0, {st, st}},
                                {"pads", 4, 0, {ph, pw, ph, pw}},
                                {"count_include_pad", 0, include_pad, {0}}};
        const int64_t oh = global ? 1 : (h + 2 * ph - kh) / st + 1;
        const int64_t ow = global ? 1 : (w + 2 * pw - kw) / st + 1;
        for (int s = 0; s < nisa; s++) {
            qc_value y;
            if (global)
                RUN_QNODE_OK("QLinearGlobalAveragePool", "com.microsoft", args, 5, NULL, 0, &y,
                             isas[s]);
            else
                RUN_QNODE_OK("QLinearAveragePool", "com.microsoft", args, 5, attrs, 4, &y, isas[s]);
            ck_assert_int_eq(qc_value_count(&y), n * c * oh * ow);
            for (int64_t p = 0; p < n * c; p++)
                for (int64_t i = 0; i < oh; i++)
                    for (int64_t j = 0; j < ow; j++) {
                        int64_t sum = 0, count = 0, abs_sum = 0;
                        for (int64_t a = 0; a < (global ? h : kh); a++)
                            for (int64_t b = 0; b < (global ? w : kw); b++) {
                                const int64_t ih = global ? a : i * st + a - ph;
                                const int64_t iw = global ? b : j * st + b - pw;
                                if (ih < 0 || iw < 0 || ih >= h || iw >= w) {
                                    count += include_pad;
                                    continue;
                                }
                                const int32_t q = qget(x, is_u8, (size_t)((p * h + ih) * w + iw));
                                sum += q - zx;
                                abs_sum += q > zx ? q - zx : zx - q;
                                count++;
                            }
                        const double v = (double)sum * r / (double)count;
                        const int32_t got = qget(y.data, is_u8, (size_t)((p * oh + i) * ow + j));
                        int32_t want, mult = 0, shift = 0;
                        int near;
                        if (global) { /* A2: half to even, multiplier within 2^-31 */
                            const double rr = nearbyint(v) + zy, lo = is_u8 ? 0 : -128,
                                         hi = is_u8 ? 255 : 127;
                            want = (int32_t)(rr < lo ? lo : rr > hi ? hi : rr);
                            const double m = r / (double)(h * w);
                            near = qnear_tie(fabs(v), requant_slack((double)sum, v,
                                                                    requant_error(m, &mult, &shift),
                                                                    pow2));
                        } else { /* float dequantization, average and division */
                            want = qround_ref(v, zy, is_u8);
                            near = qnear_tie(v, (fabs(v) + (double)abs_sum * r / (double)count) *
                                                    0x1p-20);
                        }
                        if (got != want && near)
                            continue;
                        ck_assert_msg(got == want,
                                      "%s on %s: %s %lldx%lldx%lldx%lld kernel %lldx%lld stride "
                                      "%lld pads %lld,%lld%s at (%lld, %lld, %lld): s_x=%a s_y=%a "
                                      "s_x/s_y=%a (2^%.2f) z=%d,%d sum(x - z)=%lld over %lld "
                                      "(multiplier %d, shift %d): got %d, want %d",
                                      global ? "QLinearGlobalAveragePool" : "QLinearAveragePool",
                                      qisa_name(isas[s]), is_u8 ? "u8" : "s8", (long long)n,
                                      (long long)c, (long long)h, (long long)w, (long long)kh,
                                      (long long)kw, (long long)st, (long long)ph, (long long)pw,
                                      include_pad ? " counting the pads" : "", (long long)p,
                                      (long long)i, (long long)j, sx[0], sy[0], r, log2(r), zx, zy,
                                      (long long)sum, (long long)count, mult, shift, got, want);
                        checked++;
                        unsaturated += want > (is_u8 ? 0 : -128) && want < (is_u8 ? 255 : 127);
                    }
            free(y.data);
        }
    }
    ck_assert_int_gt(checked, 10000);
    ck_assert_int_gt(unsaturated * 4, checked);
    /* s_x / (s_y · n) of 2^30 has no multiplier in [2^30, 2^31) with a shift ≥ 1 */
    static uint8_t four[4] = {1, 2, 3, 4};
    static float big[1] = {0x1p32f}, one[1] = {1.0f};
    static uint8_t z0[1] = {0};
    qarg args[5] = {{"X", E_UINT8, 4, {1, 1, 2, 2}, four, true},
                    {"x_scale", E_FLOAT, 0, {0}, big, false},
                    {"x_zero_point", E_UINT8, 0, {0}, z0, false},
                    {"y_scale", E_FLOAT, 0, {0}, one, false},
                    {"y_zero_point", E_UINT8, 0, {0}, z0, false}};
    qc_value y;
    qc_error err;
    ck_assert_int_eq(run_qnode("QLinearGlobalAveragePool", "com.microsoft", args, 5, NULL, 0, &y,
                               &err),
                     QC_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "'node_under_test'") && strstr(err.msg, "too large"),
                  "message: %s", err.msg);
}
END_TEST

START_TEST(maxpool_on_uint8_and_int8_matches_the_definition_on_every_kernel_path)
{
    enum { MAXN = 2 * 3 * 40 * 40 };
    static uint8_t x[MAXN];
    int isas[5];
    const int nisa = qisa_list(isas);
    qrng_state = 46;
    int64_t checked = 0;
    for (int trial = 0; trial < 150; trial++) {
        const int is_u8 = trial & 1, e = is_u8 ? E_UINT8 : E_INT8;
        const int64_t n = qrange(1, 2), c = qrange(1, 3), h = qrange(1, 40), w = qrange(1, 40);
        const int64_t kh = qrange(1, (int)(h < 3 ? h : 3)), kw = qrange(1, (int)(w < 3 ? w : 3));
        const int64_t sh = qrange(1, 2), sw = qrange(1, 2);
        const int64_t ph = qrange(0, (int)kh - 1), pw = qrange(0, (int)kw - 1);
        const int64_t dh = h >= 2 * kh ? qrange(1, 2) : 1, dw = w >= 2 * kw ? qrange(1, 2) : 1;
        for (int64_t i = 0; i < n * c * h * w; i++)
            x[i] = (uint8_t)((trial % 5) == 0 ? (is_u8 ? qrange(0, 3) : 128 + qrange(0, 3)) : (int)(qrng() & 255));
        qarg args[1] = {{"x", e, 4, {n, c, h, w}, x, true}};
        const int ceil_mode = (qrng() % 3) == 0;
        const qattr attrs[5] = {{"kernel_shape", 2, 0, {kh, kw}},
                                {"strides", 2, 0, {sh, sw}},
                                {"pads", 4, 0, {ph, pw, ph, pw}},
                                {"dilations", 2, 0, {dh, dw}},
                                {"ceil_mode", 0, ceil_mode, {0}}};
        const int64_t fh = h + 2 * ph - ((kh - 1) * dh + 1), fw = w + 2 * pw - ((kw - 1) * dw + 1);
        for (int s = 0; s < nisa; s++) {
            qc_value y;
            RUN_QNODE_OK("MaxPool", "", args, 1, attrs, 5, &y, isas[s]);
            ck_assert_int_eq(y.dtype, is_u8 ? QC_UINT8 : QC_INT8);
            /* ceil_mode: one more window where the stride does not divide, unless it would
             * start in the right padding */
            const int64_t oh = y.dims[2], ow = y.dims[3];
            ck_assert_int_eq(y.dims[0], n);
            ck_assert_int_eq(y.dims[1], c);
            ck_assert(oh == fh / sh + 1 || (ceil_mode && oh == (fh + sh - 1) / sh + 1));
            ck_assert(ow == fw / sw + 1 || (ceil_mode && ow == (fw + sw - 1) / sw + 1));
            for (int64_t p = 0; p < n * c; p++)
                for (int64_t i = 0; i < oh; i++)
                    for (int64_t j = 0; j < ow; j++) {
                        int32_t want = INT32_MIN;
                        for (int64_t a = 0; a < kh; a++)
                            for (int64_t b = 0; b < kw; b++) {
                                const int64_t ih = i * sh + a * dh - ph, iw = j * sw + b * dw - pw;
                                if (ih < 0 || iw < 0 || ih >= h || iw >= w)
                                    continue;
                                const int32_t v = qget(x, is_u8, (size_t)((p * h + ih) * w + iw));
                                want = v > want ? v : want;
                            }
                        if (want == INT32_MIN)
                            continue; /* a window of padding only */
                        const int32_t got = qget(y.data, is_u8, (size_t)((p * oh + i) * ow + j));
                        ck_assert_msg(got == want,
                                      "MaxPool on %s: %s %lldx%lldx%lldx%lld kernel %lldx%lld "
                                      "strides %lld,%lld pads %lld,%lld dilations %lld,%lld at "
                                      "(%lld, %lld, %lld): got %d, want %d",
                                      qisa_name(isas[s]), is_u8 ? "u8" : "s8", (long long)n,
                                      (long long)c, (long long)h, (long long)w, (long long)kh,
                                      (long long)kw, (long long)sh, (long long)sw, (long long)ph,
                                      (long long)pw, (long long)dh, (long long)dw, (long long)p,
                                      (long long)i, (long long)j, got, want);
                        checked++;
                    }
            free(y.data);
        }
    }
    ck_assert_int_gt(checked, 10000);
}
END_TEST

/* ---- QuantizeLinear and DequantizeLinear, per tensor and per axis ---- */

/* ONNX QuantizeLinear: saturate(rint(x / s) + z), x / s the IEEE single division (which the
 * double quotient rounded once to float is), NaN giving z */
static int32_t quantize_ref(float x, float s, int32_t z, int is_u8)
{
    if (isnan(x))
        return z;
    return qround_ref((double)(float)((double)x / (double)s), z, is_u8);
}

START_TEST(quantize_and_dequantize_linear_per_tensor_and_per_axis_match_onnx_on_every_kernel_path)
{
    enum { MAXN = 3 * 4 * 5 * 6 };
    static float x[MAXN], scale[6];
    static uint8_t q[MAXN], zp[6];
    static int32_t q32[MAXN], zp32[6];
    int isas[5];
    const int nisa = qisa_list(isas);
    qrng_state = 47;
    int64_t checked = 0;
    for (int trial = 0; trial < 300; trial++) {
        const int kind = trial % 3; /* the 8-bit type, or int32 for DequantizeLinear */
        const int is_u8 = kind == 0, e = kind == 0 ? E_UINT8 : E_INT8;
        const int rank = qrange(1, 4);
        int64_t dims[4] = {1, 1, 1, 1}, count = 1;
        for (int d = 0; d < rank; d++)
            count *= dims[d] = qrange(1, 3 + d);
        const int per_axis = qrng() & 1;
        const int axis = qrange(-rank, rank - 1), ax = axis < 0 ? axis + rank : axis;
        const int64_t channels = per_axis ? dims[ax] : 1;
        int64_t inner = 1;
        for (int d = ax + 1; d < rank; d++)
            inner *= dims[d];
        for (int64_t ch = 0; ch < channels; ch++) {
            scale[ch] = (float)qlog_uniform(-20.0, 20.0);
            const int32_t z = is_u8 ? qrange(0, 255) : qrange(-128, 127);
            zp[ch] = is_u8 ? (uint8_t)z : (uint8_t)(int8_t)z;
            zp32[ch] = (int32_t)qrng();
        }
        const qattr attrs[1] = {{"axis", 0, axis, {0}}};
        const qarg sc = {"scale", E_FLOAT, per_axis ? 1 : 0, {channels}, scale, false};
        /* QuantizeLinear */
        for (int64_t i = 0; i < count; i++) {
            const int64_t ch = per_axis ? (i / inner) % channels : 0;
            const int r = qrange(0, 40);
            x[i] = r == 0 ? NAN : r == 1 ? INFINITY : r == 2 ? -INFINITY
                 : r == 3 ? (float)((qrange(-300, 300) + 0.5) * scale[ch]) /* near a tie */
                          : (float)((2.0 * qunit() - 1.0) * 300.0 * scale[ch]);
        }
        if (kind != 2) {
            qarg args[3] = {{"x", E_FLOAT, rank, {dims[0], dims[1], dims[2], dims[3]}, x, true},
                            sc,
                            {"zero_point", e, per_axis ? 1 : 0, {channels}, zp, false}};
            for (int s = 0; s < nisa; s++) {
                qc_value y;
                RUN_QNODE_OK("QuantizeLinear", "", args, 3, attrs, per_axis, &y, isas[s]);
                ck_assert_int_eq(qc_value_count(&y), count);
                for (int64_t i = 0; i < count; i++) {
                    const int64_t ch = per_axis ? (i / inner) % channels : 0;
                    const int32_t z = qget(zp, is_u8, (size_t)ch);
                    const int32_t want = quantize_ref(x[i], scale[ch], z, is_u8);
                    const int32_t got = qget(y.data, is_u8, (size_t)i);
                    ck_assert_msg(got == want,
                                  "QuantizeLinear on %s: %s rank %d axis %d%s at %lld: x=%a "
                                  "scale=%a (2^%.2f) z=%d: got %d, want %d",
                                  qisa_name(isas[s]), is_u8 ? "u8" : "s8", rank, axis,
                                  per_axis ? " per axis" : "", (long long)i, x[i], scale[ch],
                                  log2(scale[ch]), z, got, want);
                    checked++;
                }
                if (s == 0)
                    memcpy(q, y.data, (size_t)count);
                free(y.data);
            }
        } else {
            for (int64_t i = 0; i < count; i++)
                q32[i] = (int32_t)qrng() >> qrange(0, 31);
        }
        /* DequantizeLinear of those codes (or of int32 values): fl((q − z) · s) exactly */
        qarg dargs[3] = {{"x", kind == 2 ? E_INT32 : e, rank, {dims[0], dims[1], dims[2], dims[3]},
                          kind == 2 ? (void *)q32 : (void *)q, true},
                         sc,
                         {"zero_point", kind == 2 ? E_INT32 : e, per_axis ? 1 : 0, {channels},
                          kind == 2 ? (void *)zp32 : (void *)zp, false}};
        for (int s = 0; s < nisa; s++) {
            qc_value y;
            RUN_QNODE_OK("DequantizeLinear", "", dargs, 3, attrs, per_axis, &y, isas[s]);
            ck_assert_int_eq(qc_value_count(&y), count);
            for (int64_t i = 0; i < count; i++) {
                const int64_t ch = per_axis ? (i / inner) % channels : 0;
                const int32_t d = kind == 2 ? (int32_t)((uint32_t)q32[i] - (uint32_t)zp32[ch])
                                            : qget(q, is_u8, (size_t)i) - qget(zp, is_u8, (size_t)ch);
                const float want = (float)d * scale[ch];
                const float got = ((const float *)y.data)[i];
                ck_assert_msg(memcmp(&got, &want, sizeof got) == 0,
                              "DequantizeLinear on %s: %s rank %d axis %d%s at %lld: q - z = %d "
                              "scale=%a: got %a, want %a",
                              qisa_name(isas[s]), kind == 2 ? "int32" : is_u8 ? "u8" : "s8", rank,
                              axis, per_axis ? " per axis" : "", (long long)i, d, scale[ch], got,
                              want);
                checked++;
            }
            free(y.data);
        }
    }
    ck_assert_int_gt(checked, 10000);
}
END_TEST

/* DynamicQuantizeLinear against ONNX's reference implementation, in single precision:
 * scale = (max(0, max x) − min(0, min x)) / 255, or 1 / 255 when that range is 0 (an all-zero
 * input: ONNX's reference and ONNX Runtime both take 1, where the formula divides 0 by 0),
 * zero point = rint(saturate(0 − min / scale)), y = saturate(rint(x / scale) + zero point).
 * Ranges from 2^-20 to 2^20, all positive, all negative, mixed, and all zero. */
START_TEST(dynamicquantizelinear_matches_the_onnx_reference_including_an_all_zero_input)
{
    enum { MAXN = 64 };
    static float x[MAXN];
    int isas[5];
    const int nisa = qisa_list(isas);
    qrng_state = 49;
    for (int trial = 0; trial < 200; trial++) {
        const int64_t count = qrange(1, MAXN), sign = trial % 4; /* mixed, ≥ 0, ≤ 0, zero */
        const double mag = qlog_uniform(-20.0, 20.0);
        for (int64_t i = 0; i < count; i++) {
            const double u = sign == 1 ? qunit() : sign == 2 ? -qunit() : 2.0 * qunit() - 1.0;
            x[i] = sign == 3 ? 0.0f : (float)(u * mag);
        }
        volatile float hi = 0.0f, lo = 0.0f;
        for (int64_t i = 0; i < count; i++) {
            hi = x[i] > hi ? x[i] : hi;
            lo = x[i] < lo ? x[i] : lo;
        }
        volatile float range = hi == lo ? 1.0f : hi - lo;
        volatile float scale = range / 255.0f;
        volatile float zf = 0.0f - lo / scale;
        zf = zf < 0.0f ? 0.0f : zf > 255.0f ? 255.0f : zf;
        const int32_t zp = (int32_t)rintf(zf);
        qarg args[1] = {{"x", E_FLOAT, 1, {count}, x, true}};
        for (int s = 0; s < nisa; s++) {
            ck_assert_int_eq(qc_int8_select(isas[s]), 0);
            /* three outputs: run the model by hand to read all of them */
            builder b;
            b_init(&b, 13);
            b_input(&b, "x", 1, args[0].dims);
            char *in[] = {"x"}, *out[] = {"y", "y_scale", "y_zero_point"};
            b_node(&b, "DynamicQuantizeLinear", "node_under_test", 1, in, 3, out);
            b_output(&b, "y");
            b_output(&b, "y_scale");
            b_output(&b, "y_zero_point");
            qc_graph *g;
            qc_error err;
            LOAD_OK(&b, &g, &err);
            qc_exec *ex = qc_exec_create(g);
            qc_value v = qc_value_f32(1, args[0].dims, x);
            ck_assert_msg(qc_exec_run(ex, &v, 1, &err) == QC_OK, "%s", err.msg);
            const float got_scale = *(const float *)qc_exec_output(ex, 1)->data;
            const int32_t got_zp = *(const uint8_t *)qc_exec_output(ex, 2)->data;
            ck_assert_msg(got_scale == scale && got_zp == zp,
                          "DynamicQuantizeLinear on %s: %lld values in [%a, %a]: scale %a, zero "
                          "point %d; want %a, %d",
                          qisa_name(isas[s]), (long long)count, (double)lo, (double)hi,
                          (double)got_scale, got_zp, (double)scale, zp);
            const uint8_t *y = qc_exec_output(ex, 0)->data;
            for (int64_t i = 0; i < count; i++) {
                const int32_t want = quantize_ref(x[i], scale, zp, 1);
                ck_assert_msg(y[i] == want,
                              "DynamicQuantizeLinear on %s: x=%a scale=%a zero point %d: got %d, "
                              "want %d",
                              qisa_name(isas[s]), (double)x[i], (double)scale, zp, y[i], want);
            }
            qc_exec_destroy(ex);
            qc_graph_destroy(g);
        }
    }
}
END_TEST

/* ConvInteger and MatMulInteger: the int32 accumulators of G1 / C1 exactly, uint8 or int8
 * activations and weights, per-channel weight zero points, on every kernel path. */
START_TEST(convinteger_and_matmulinteger_equal_the_int64_definition_on_every_kernel_path)
{
    enum { MAXN = 2 * 12 * 7 * 7 };
    static uint8_t x[MAXN], w[MAXN], xz_b[1], wz_b[12];
    int isas[5];
    const int nisa = qisa_list(isas);
    qrng_state = 48;
    int64_t checked = 0;
    for (int trial = 0; trial < 120; trial++) {
        const int is_conv = trial & 1, x_u8 = (trial / 2) & 1, w_u8 = (qrng() % 3) == 0;
        const int64_t groups = is_conv ? qrange(1, 3) : 1, cg = qrange(1, 4), mg = qrange(1, 4);
        const int64_t c_in = cg * groups, c_out = mg * groups, k = is_conv ? qrange(1, 3) : 1;
        const int64_t h = qrange((int)k, 7), wd = qrange((int)k, 7), batch = qrange(1, 2);
        const int64_t oh = is_conv ? h - k + 1 : 1, ow = is_conv ? wd - k + 1 : 1;
        /* MatMulInteger: A [batch·h, c_in] × B [c_in, c_out] */
        const int64_t rows = batch * h, kk = cg * k * k;
        const int32_t xz = x_u8 ? qrange(0, 255) : qrange(-128, 127);
        int32_t wz[12];
        const int per_channel = qrng() & 1;
        for (int64_t m = 0; m < c_out; m++)
            wz[m] = per_channel || m == 0 ? (w_u8 ? qrange(0, 255) : qrange(-128, 127)) : wz[0];
        const int64_t x_count = is_conv ? batch * c_in * h * wd : rows * c_in;
        const int64_t w_count = is_conv ? c_out * kk : c_in * c_out;
        for (int64_t i = 0; i < x_count; i++)
            qput(x, x_u8, (size_t)i, qrange(-128, 255));
        for (int64_t i = 0; i < w_count; i++)
            qput(w, w_u8, (size_t)i, qrange(-128, 255));
        qput(xz_b, x_u8, 0, xz);
        for (int64_t m = 0; m < c_out; m++)
            qput(wz_b, w_u8, (size_t)m, wz[m]);
        const int ex = x_u8 ? E_UINT8 : E_INT8, ew = w_u8 ? E_UINT8 : E_INT8;
        qarg args[4] = {
            is_conv ? (qarg){"x", ex, 4, {batch, c_in, h, wd}, x, true}
                    : (qarg){"A", ex, 2, {rows, c_in}, x, true},
            is_conv ? (qarg){"w", ew, 4, {c_out, cg, k, k}, w, (qrng() % 4) == 0}
                    : (qarg){"B", ew, 2, {c_in, c_out}, w, (qrng() % 4) == 0},
            {"x_zero_point", ex, 0, {0}, xz_b, false},
            {"w_zero_point", ew, per_channel ? 1 : 0, {c_out}, wz_b, false},
        };
        const qattr attrs[1] = {{"group", 0, groups, {0}}};
        for (int s = 0; s < nisa; s++) {
            qc_value y;
            RUN_QNODE_OK(is_conv ? "ConvInteger" : "MatMulInteger", "", args, 4, attrs, is_conv,
                         &y, isas[s]);
            ck_assert_int_eq(y.dtype, QC_INT32);
            const int64_t count = is_conv ? batch * c_out * oh * ow : rows * c_out;
            ck_assert_int_eq(qc_value_count(&y), count);
            for (int64_t o = 0; o < count; o++) {
                int64_t acc = 0, m;
                if (is_conv) {
                    const int64_t px = o % ow, py = (o / ow) % oh, bb = o / (ow * oh * c_out);
                    m = (o / (ow * oh)) % c_out;
                    const int64_t grp = m / mg;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t i = 0; i < k; i++)
                            for (int64_t j = 0; j < k; j++)
                                acc += (int64_t)(qget(x, x_u8, (size_t)(((bb * c_in + grp * cg + c) *
                                                                           h + py + i) * wd + px + j)) -
                                                 xz) *
                                       (qget(w, w_u8, (size_t)(((m * cg + c) * k + i) * k + j)) -
                                        wz[m]);
                } else {
                    const int64_t r = o / c_out;
                    m = o % c_out;
                    for (int64_t c = 0; c < c_in; c++)
                        acc += (int64_t)(qget(x, x_u8, (size_t)(r * c_in + c)) - xz) *
                               (qget(w, w_u8, (size_t)(c * c_out + m)) - wz[m]);
                }
                const int32_t got = ((const int32_t *)y.data)[o];
                ck_assert_msg(got == acc,
                              "%s on %s: x %s w %s%s, %lld channels in, %lld out, group %lld, "
                              "kernel %lld, at %lld (channel %lld): got %d, want %lld",
                              is_conv ? "ConvInteger" : "MatMulInteger", qisa_name(isas[s]),
                              x_u8 ? "u8" : "s8", w_u8 ? "u8" : "s8",
                              per_channel ? " per channel" : "", (long long)c_in,
                              (long long)c_out, (long long)groups, (long long)k, (long long)o,
                              (long long)m, got, (long long)acc);
                checked++;
            }
            free(y.data);
        }
    }
    ck_assert_int_gt(checked, 5000);
}
END_TEST

/* ---- accumulators that cannot fit int32 ----
 *
 * R1 adds the bias in int32 and qgemm is exact only while the sum fits int32: a bias near
 * 2^31, or a reduction long enough (K above 33 025 with extreme codes), once wrapped around
 * silently — an output of 0 where 255 was due, or the reverse. The ops now refuse such
 * weights and biases by name, before running. */
START_TEST(qgemm_with_a_bias_near_2e31_is_refused_by_name_instead_of_wrapping)
{
    static uint8_t a[64], z0[1] = {0};
    static int8_t b[64], bz[1] = {0};
    static int32_t c[1] = {INT32_MAX - 100};
    static float one[1] = {1.0f}, small[1] = {0x1p-20f};
    for (int i = 0; i < 64; i++) {
        a[i] = 255;
        b[i] = 1;
    }
    qarg args[9] = {{"A", E_UINT8, 2, {1, 64}, a, true},   {"a_scale", E_FLOAT, 0, {0}, one, false},
                    {"a_zero_point", E_UINT8, 0, {0}, z0, false},
                    {"B", E_INT8, 2, {64, 1}, b, false},   {"b_scale", E_FLOAT, 0, {0}, small, false},
                    {"b_zero_point", E_INT8, 0, {0}, bz, false},
                    {"C", E_INT32, 1, {1}, c, false},      {"y_scale", E_FLOAT, 0, {0}, one, false},
                    {"y_zero_point", E_UINT8, 0, {0}, z0, false}};
    int isas[5];
    const int nisa = qisa_list(isas);
    for (int s = 0; s < nisa; s++) {
        qc_value y;
        qc_error err;
        ck_assert_int_eq(qc_int8_select(isas[s]), 0);
        const qc_status st = run_qnode("QGemm", "com.microsoft", args, 9, NULL, 0, &y, &err);
        if (st == QC_OK) /* (2^31 − 100 + 16 320) · 2^-20 ≈ 2048: 255, never 0 */
            ck_assert_msg(0, "QGemm on %s: bias %d + 16320 accepted, output %d", qisa_name(isas[s]),
                          c[0], ((uint8_t *)y.data)[0]);
        ck_assert_int_eq(st, QC_ERR_INPUT);
        ck_assert_msg(strstr(err.msg, "'node_under_test'") && strstr(err.msg, "int32"),
                      "message: %s", err.msg);
    }
    /* a bias that fits with every accumulator still runs */
    c[0] = INT32_MAX - 64 * 255;
    qc_value y;
    RUN_QNODE_OK("QGemm", "com.microsoft", args, 9, NULL, 0, &y, QC_INT8_ISA_SCALAR);
    ck_assert_int_eq(((uint8_t *)y.data)[0], 255);
    free(y.data);
}
END_TEST

START_TEST(qlinearconv_and_qlinearmatmul_with_k_above_33025_extreme_codes_are_refused_not_wrapped)
{
    enum { K = 34000 };
    static uint8_t a[K], z0[1] = {0}, zy[1] = {128};
    static int8_t b[K], bz[1] = {127};
    static float one[1] = {1.0f}, tiny[1] = {0x1p-24f};
    for (int i = 0; i < K; i++) {
        a[i] = 255;
        b[i] = -128; /* b − z_b = −255: Σ = −34000 · 255 · 255 < −2^31 */
    }
    qarg mm[8] = {{"A", E_UINT8, 2, {1, K}, a, true},     {"a_scale", E_FLOAT, 0, {0}, one, false},
                  {"a_zero_point", E_UINT8, 0, {0}, z0, false},
                  {"B", E_INT8, 2, {K, 1}, b, false},      {"b_scale", E_FLOAT, 0, {0}, tiny, false},
                  {"b_zero_point", E_INT8, 0, {0}, bz, false},
                  {"y_scale", E_FLOAT, 0, {0}, one, false}, {"y_zero_point", E_UINT8, 0, {0}, zy, false}};
    qarg conv[8] = {{"x", E_UINT8, 4, {1, K, 1, 1}, a, true}, {"x_scale", E_FLOAT, 0, {0}, one, false},
                    {"x_zero_point", E_UINT8, 0, {0}, z0, false},
                    {"w", E_INT8, 4, {1, K, 1, 1}, b, false}, {"w_scale", E_FLOAT, 0, {0}, tiny, false},
                    {"w_zero_point", E_INT8, 0, {0}, bz, false},
                    {"y_scale", E_FLOAT, 0, {0}, one, false}, {"y_zero_point", E_UINT8, 0, {0}, zy, false}};
    int isas[5];
    const int nisa = qisa_list(isas);
    for (int op = 0; op < 2; op++)
        for (int s = 0; s < nisa; s++) {
            qc_value y;
            qc_error err;
            ck_assert_int_eq(qc_int8_select(isas[s]), 0);
            const qc_status st = run_qnode(op ? "QLinearConv" : "QLinearMatMul", "", op ? conv : mm,
                                           8, NULL, 0, &y, &err);
            if (st == QC_OK) /* −2 210 850 000 · 2^-24 ≈ −132 + 128: 0, not 255 */
                ck_assert_msg(0, "%s on %s: K = %d accepted, output %d",
                              op ? "QLinearConv" : "QLinearMatMul", qisa_name(isas[s]), K,
                              ((uint8_t *)y.data)[0]);
            ck_assert_int_eq(st, QC_ERR_INPUT);
            ck_assert_msg(strstr(err.msg, "'node_under_test'") && strstr(err.msg, "int32"),
                          "message: %s", err.msg);
        }
}
END_TEST

/* ---- prepared ops: what prepare computed is all a run reads ---- */

/* Runs x through a prepared graph and returns a copy of output 0. */
static qc_value run_copy(const qc_graph *g, const qc_value *x)
{
    qc_error err;
    qc_exec *e = qc_exec_create(g);
    ck_assert_ptr_nonnull(e);
    ck_assert_msg(qc_exec_run(e, x, 1, &err) == QC_OK, "run failed: %s", err.msg);
    qc_value y = *qc_exec_output(e, 0);
    y.data = malloc(qc_value_bytes(&y) + 1);
    ck_assert_ptr_nonnull(y.data);
    memcpy(y.data, qc_exec_output(e, 0)->data, qc_value_bytes(&y));
    qc_exec_destroy(e);
    return y;
}

/* A QOperator chain as a file has it (QuantizeLinear → QLinearConv → QLinearMatMul): the
 * convolution's x is an intermediate, whose shape is unknown when prepare checks the node.
 * Its weights must still be packed, and the multipliers of both nodes computed, at prepare:
 * after the constants are overwritten, a run gives the same bits. (The weights were packed
 * again at every run before, and the multipliers recomputed.) */
START_TEST(qoperator_weights_and_multipliers_are_prepared_once)
{
    builder b;
    b_init(&b, 13);
    int64_t xd[4] = {1, 2, 4, 4}, wd[4] = {3, 2, 3, 3}, bd[2] = {4, 5}, one[1] = {1};
    int64_t three[1] = {3};
    static int8_t w[54], bm[20];
    static float xs = 0.05f, ws[3] = {0.02f, 0.03f, 0.025f}, ys = 0.1f, bs = 0.04f, zs = 0.2f;
    static uint8_t xz = 128, yz = 100, zz = 90;
    static int8_t wz[3] = {0, 0, 0}, bz = 0;
    for (int i = 0; i < 54; i++)
        w[i] = (int8_t)((i * 37) % 255 - 127);
    for (int i = 0; i < 20; i++)
        bm[i] = (int8_t)((i * 53) % 201 - 100);
    b_input(&b, "x", 4, xd);
    b_init_raw(&b, "xs", E_FLOAT, 0, one, &xs, 4);
    b_init_raw(&b, "xz", E_UINT8, 0, one, &xz, 1);
    b_init_raw(&b, "w", E_INT8, 4, wd, w, sizeof w);
    b_init_raw(&b, "ws", E_FLOAT, 1, three, ws, sizeof ws);
    b_init_raw(&b, "wz", E_INT8, 1, three, wz, sizeof wz);
    b_init_raw(&b, "ys", E_FLOAT, 0, one, &ys, 4);
    b_init_raw(&b, "yz", E_UINT8, 0, one, &yz, 1);
    b_init_raw(&b, "b", E_INT8, 2, bd, bm, sizeof bm);
    b_init_raw(&b, "bs", E_FLOAT, 0, one, &bs, 4);
    b_init_raw(&b, "bz", E_INT8, 0, one, &bz, 1);
    b_init_raw(&b, "zs", E_FLOAT, 0, one, &zs, 4);
    b_init_raw(&b, "zz", E_UINT8, 0, one, &zz, 1);
    char *q_in[] = {"x", "xs", "xz"}, *q_out[] = {"xq"};
    char *c_in[] = {"xq", "xs", "xz", "w", "ws", "wz", "ys", "yz"}, *c_out[] = {"yq"};
    char *m_in[] = {"yq", "ys", "yz", "b", "bs", "bz", "zs", "zz"}, *m_out[] = {"z"};
    b_node(&b, "QuantizeLinear", "quant", 3, q_in, 1, q_out);
    Onnx__NodeProto *conv = b_node(&b, "QLinearConv", "conv", 8, c_in, 1, c_out);
    b_node(&b, "QLinearMatMul", "matmul", 8, m_in, 1, m_out);
    static int64_t pads[4] = {1, 1, 1, 1};
    Onnx__AttributeProto *a = &b.attrs[b.n_attrs];
    onnx__attribute_proto__init(a);
    a->name = "pads";
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    a->n_ints = 4;
    a->ints = pads;
    b.attr_ptrs[b.n_attrs++] = a;
    conv->attribute = &b.attr_ptrs[b.n_attrs - 1];
    conv->n_attribute = 1;
    b_output(&b, "z");
    qc_graph *g;
    qc_error err;
    LOAD_OK(&b, &g, &err);

    float xf[32];
    for (int i = 0; i < 32; i++)
        xf[i] = (float)((i * 29) % 64 - 32) * 0.1f;
    qc_value x = {0};
    x.dtype = QC_FLOAT;
    x.rank = 4;
    memcpy(x.dims, xd, sizeof xd);
    x.data = xf;
    qc_value before = run_copy(g, &x);
    static const char *const consts[] = {"w", "ws", "b", "bs"};
    for (size_t i = 0; i < sizeof consts / sizeof *consts; i++) {
        const int t = qc_graph_find_tensor(g, consts[i]);
        ck_assert_int_ge(t, 0);
        qc_value *v = &g->tensors[t].value;
        if (v->dtype == QC_FLOAT)
            for (int64_t e = 0; e < qc_value_count(v); e++)
                ((float *)v->data)[e] *= 3.0f; /* valid scales, other multipliers */
        else
            memset(v->data, 0x41, qc_value_bytes(v));
    }
    qc_value after = run_copy(g, &x);
    ck_assert_int_eq(qc_value_bytes(&before), 60);
    ck_assert_int_eq(qc_value_bytes(&after), qc_value_bytes(&before));
    for (size_t i = 0; i < qc_value_bytes(&before); i++)
        ck_assert_msg(((uint8_t *)before.data)[i] == ((uint8_t *)after.data)[i],
                      "output %zu: %u before, %u after the constants changed", i,
                      ((uint8_t *)before.data)[i], ((uint8_t *)after.data)[i]);
    free(before.data);
    free(after.data);
    qc_graph_destroy(g);
}
END_TEST

/* ---- math ops (ops-math.c) ------------------------------------------------------------- */

static void b_attr_float(builder *b, Onnx__NodeProto *n, char *name, float v)
{
    b_attr_int(b, n, name, 0);
    Onnx__AttributeProto *a = &b->attrs[b->n_attrs - 1];
    a->has_i = 0;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    a->has_f = 1;
    a->f = v;
}

/* Loads x -> op -> y (opset 18) with one attribute, expecting an error naming the node. x is
 * given as every input (the normalizations take 3): attributes are checked before shapes. */
static void expect_attr_error(const char *op, int n_in, char *attr, int64_t int_value,
                              bool as_float, const char *words)
{
    builder b;
    b_init(&b, 18);
    int64_t dims[2] = {2, 4};
    b_input(&b, "x", 2, dims);
    char *x[] = {"x", "x", "x"}, *y[] = {"y"};
    Onnx__NodeProto *n = b_node(&b, (char *)op, "the_node", (size_t)n_in, x, 1, y);
    if (as_float)
        b_attr_float(&b, n, attr, (float)int_value);
    else
        b_attr_int(&b, n, attr, int_value);
    b_output(&b, "y");
    qc_graph *g;
    qc_error err;
    ck_assert_int_eq(b_load(&b, true, &g, &err), QC_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "'the_node'") && strstr(err.msg, attr) && strstr(err.msg, words),
                  "%s: message: %s", op, err.msg);
}

START_TEST(math_op_attributes_are_checked_naming_node_and_attribute)
{
    expect_attr_error("Elu", 1, "alpha", 1, false, "must be a float");
    expect_attr_error("Celu", 1, "alpha", 0, true, "must not be 0");
    expect_attr_error("ReduceMean", 1, "keepdims", 2, false, "0 or 1");
    expect_attr_error("ReduceMax", 1, "noop_with_empty_axes", 1, true, "must be an int");
    expect_attr_error("ArgMax", 1, "axis", 2, false, "out of range");
    expect_attr_error("LayerNormalization", 3, "stash_type", 7, false, "float type");
    expect_attr_error("GroupNormalization", 3, "num_groups", 0, false, "positive");
    expect_attr_error("LogSoftmax", 1, "axis", -3, false, "out of range");
}
END_TEST

/* ReduceMean over axes given as an input (opset 18) keeps its meaning as the batch changes;
 * Mean of three broadcast operands and Where on a comparison run in the same graph. */
START_TEST(reductions_and_variadic_ops_run_for_any_batch)
{
    builder b;
    b_init(&b, 18);
    int64_t in_dims[3] = {-1, 3, 4};
    b_input(&b, "x", 3, in_dims);
    int64_t axes_dims[1] = {2}, axes[2] = {-1, 1};
    b_init_i64(&b, "axes", axes_dims, axes, 2);
    int64_t row_dims[1] = {4}, col_dims[2] = {3, 1};
    float row[4] = {1, 2, 3, 4}, col[3] = {10, 20, 30};
    b_init_f32(&b, "row", 1, row_dims, row, 4);
    b_init_f32(&b, "col", 2, col_dims, col, 3);
    char *red_in[] = {"x", "axes"}, *red_out[] = {"m"};
    Onnx__NodeProto *r = b_node(&b, "ReduceMean", "mean_over", 2, red_in, 1, red_out);
    b_attr_int(&b, r, "keepdims", 0);
    char *mean_in[] = {"x", "row", "col"}, *mean_out[] = {"avg"};
    b_node(&b, "Mean", "avg3", 3, mean_in, 1, mean_out);
    char *less_in[] = {"x", "row"}, *less_out[] = {"small"};
    b_node(&b, "Less", "is_small", 2, less_in, 1, less_out);
    char *where_in[] = {"small", "x", "avg"}, *where_out[] = {"w"};
    b_node(&b, "Where", "pick", 3, where_in, 1, where_out);
    b_output(&b, "m");
    b_output(&b, "w");
    qc_graph *g;
    qc_error err;
    LOAD_OK(&b, &g, &err);
    qc_exec *x = qc_exec_create(g);
    for (int64_t batch = 1; batch <= 3; batch++) {
        float data[3 * 12];
        for (int i = 0; i < 3 * 12; i++)
            data[i] = (float)((i * 7) % 11) - 3.0f;
        int64_t dims[3] = {batch, 3, 4};
        qc_value in = qc_value_f32(3, dims, data);
        ck_assert_int_eq(qc_exec_run(x, &in, 1, &err), QC_OK);
        const qc_value *m = qc_exec_output(x, 0), *w = qc_exec_output(x, 1);
        ck_assert_int_eq(m->rank, 1);
        ck_assert_int_eq(m->dims[0], batch);
        for (int64_t n = 0; n < batch; n++) {
            double sum = 0;
            for (int i = 0; i < 12; i++)
                sum += data[n * 12 + i];
            ck_assert_float_eq_tol(((const float *)m->data)[n], sum / 12, 1e-6);
            for (int i = 0; i < 12; i++) {
                float v = data[n * 12 + i], avg = (v + row[i % 4] + col[i / 4]) / 3;
                float want = v < row[i % 4] ? v : avg;
                ck_assert_float_eq_tol(((const float *)w->data)[n * 12 + i], want, 1e-6);
            }
        }
    }
    qc_exec_destroy(x);
    qc_graph_destroy(g);
}
END_TEST

/* README's "Supported ops" paragraph and the runtime's op tables name the same ops: every op
 * the paragraph names is registered (the conformance runner skips unsupported ops silently, so
 * a listed op that lost its table would pass unnoticed), and every registered op is listed. */
#define README_OPS_START "Supported ops (FP32 unless noted):"
#define README_OPS_END "**Images:"
static char *readme_ops_paragraph(void)
{
    FILE *f = fopen("README.md", "rb");
    ck_assert_msg(f != NULL, "README.md not found (tests run from the project's root)");
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *start = strstr(text, README_OPS_START);
    ck_assert_msg(start != NULL, "README has no '%s' paragraph", README_OPS_START);
    char *end = strstr(start, README_OPS_END);
    ck_assert_msg(end != NULL, "README's ops paragraph has no end ('%s')", README_OPS_END);
    *end = '\0';
    return start + strlen(README_OPS_START);
}

/* Capitalised words of the paragraph that are not op names. */
static bool readme_word_is_prose(const char *w)
{
    static const char *const prose[] = {"CRD", "DCR", "FP32", "InvStdDev", "ONNX", "QDQ", "Quantized",
                                        "Runtime", "Supported", NULL};
    for (int i = 0; prose[i]; i++)
        if (!strcmp(w, prose[i]))
            return true;
    return false;
}

static bool word_in(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        bool left = p == text || !isalnum((unsigned char)p[-1]);
        bool right = !isalnum((unsigned char)p[n]);
        if (left && right)
            return true;
    }
    return false;
}

START_TEST(readme_lists_exactly_the_registered_ops)
{
    const char *para = readme_ops_paragraph();
    int listed = 0;
    for (const char *p = para; *p;) {
        if (isupper((unsigned char)*p) && (p == para || (!isalnum((unsigned char)p[-1]) && p[-1] != '_'))) {
            char w[64];
            size_t n = 0;
            while (isalnum((unsigned char)p[n]) && n < sizeof w - 1)
                w[n] = p[n], n++;
            w[n] = '\0';
            p += n;
            if (n < 2 || readme_word_is_prose(w))
                continue;
            ck_assert_msg(qc_op_supported(w, "") || qc_op_supported(w, "com.microsoft"),
                          "README lists op '%s', which no op table registers", w);
            listed++;
        } else {
            p++;
        }
    }
    ck_assert_int_gt(listed, 50);
    for (const char *const *op = qc_supported_ops(); *op; op++)
        ck_assert_msg(word_in(para, *op), "op '%s' is registered but README's ops paragraph does not list it", *op);
}
END_TEST

/* ---- activations by table (eq. L1) ------------------------------------------------------- */

/* Runs x (the 256 codes of the type) through DQ → op → Q, as loaded or after qc_pass_fuse_qdq
 * (which must then have made it fused_op); y gets the 256 output codes. */
static void run_lut_model(const char *op, const char *attr, float alpha, bool is_u8, float xs,
                          int32_t xz, float ys, int32_t yz, bool fuse, const char *fused_op,
                          uint8_t *y)
{
    builder b;
    b_init(&b, 17);
    uint8_t codes[256], xzb = (uint8_t)xz, yzb = (uint8_t)yz;
    for (int i = 0; i < 256; i++)
        codes[i] = (uint8_t)i;
    const int e = is_u8 ? E_UINT8 : E_INT8;
    int64_t dims[1] = {256};
    b_input(&b, "x", 1, dims);
    b.tensor_types[b.n_io - 1].elem_type = e;
    b_init_raw(&b, "xs", E_FLOAT, 0, NULL, &xs, 4);
    b_init_raw(&b, "xz", e, 0, NULL, &xzb, 1);
    b_init_raw(&b, "ys", E_FLOAT, 0, NULL, &ys, 4);
    b_init_raw(&b, "yz", e, 0, NULL, &yzb, 1);
    char *dq_in[] = {"x", "xs", "xz"}, *dq_out[] = {"xf"}, *op_in[] = {"xf"}, *op_out[] = {"yf"};
    char *q_in[] = {"yf", "ys", "yz"}, *q_out[] = {"y"};
    b_node(&b, "DequantizeLinear", "dq", 3, dq_in, 1, dq_out);
    Onnx__NodeProto *n = b_node(&b, (char *)op, "act", 1, op_in, 1, op_out);
    if (attr)
        b_attr_float(&b, n, (char *)attr, alpha);
    b_node(&b, "QuantizeLinear", "q", 3, q_in, 1, q_out);
    b_output(&b, "y");
    qc_graph *g;
    qc_error err;
    LOAD_OK(&b, &g, &err);
    if (fuse) {
        ck_assert_msg(qc_pass_fuse_qdq(g, &err) == QC_OK, "%s: %s", op, err.msg);
        ck_assert_msg(graph_has_op(g, fused_op) && !graph_has_op(g, op), "%s: not fused to %s", op,
                      fused_op);
    }
    qc_value in = {.dtype = is_u8 ? QC_UINT8 : QC_INT8, .rank = 1, .dims = {256}, .data = codes};
    qc_exec *x = qc_exec_create(g);
    ck_assert_ptr_nonnull(x);
    ck_assert_msg(qc_exec_run(x, &in, 1, &err) == QC_OK, "%s: %s", op, err.msg);
    memcpy(y, qc_exec_output(x, 0)->data, 256);
    qc_exec_destroy(x);
    qc_graph_destroy(g);
}

/* The fused lookup equals DequantizeLinear → the FP32 op → QuantizeLinear on all 256 codes,
 * bit for bit, for uint8 and int8 and scales and zero points from 2^-10 to 2^3. */
START_TEST(activations_by_table_equal_dq_op_q_on_every_code_and_kernel_path)
{
    static const struct {
        const char *op, *fused, *attr;
        float alpha;
    } ops[] = {
        {"Sigmoid", "QLinearSigmoid", NULL, 0},   {"HardSwish", "QLinearHardSwish", NULL, 0},
        {"HardSigmoid", "QLinearHardSigmoid", "alpha", 0.1666667f},
        {"Tanh", "QLinearTanh", NULL, 0},         {"LeakyRelu", "QLinearLeakyRelu", "alpha", 0.1f},
    };
    int isas[5];
    const int nisa = qisa_list(isas);
    qrng_state = 71;
    int64_t checked = 0, moved = 0;
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
        for (int trial = 0; trial < 12; trial++) {
            const bool is_u8 = trial % 2 == 0;
            const float xs = (float)qlog_uniform(-10.0, 3.0), ys = (float)qlog_uniform(-10.0, 0.0);
            const int32_t xz = is_u8 ? qrange(0, 255) : qrange(-128, 127);
            const int32_t yz = is_u8 ? qrange(0, 255) : qrange(-128, 127);
            for (int s = 0; s < nisa; s++) {
                uint8_t want[256], got[256];
                ck_assert_int_eq(qc_int8_select(isas[s]), 0);
                run_lut_model(ops[o].op, ops[o].attr, ops[o].alpha, is_u8, xs, xz, ys, yz, false, NULL, want);
                run_lut_model(ops[o].op, ops[o].attr, ops[o].alpha, is_u8, xs, xz, ys, yz, true, ops[o].fused, got);
                for (int i = 0; i < 256; i++) {
                    ck_assert_msg(got[i] == want[i],
                                  "%s on %s, %s, x_scale %a z %d, y_scale %a z %d: code %d gives "
                                  "%d, DQ -> op -> Q %d",
                                  ops[o].op, qisa_name(isas[s]), is_u8 ? "u8" : "s8", xs, xz, ys, yz,
                                  i, got[i], want[i]);
                    moved += want[i] != want[0];
                }
                checked += 256;
            }
        }
    ck_assert_int_ge(checked, 5 * 12 * 256);
    ck_assert_int_gt(moved, checked / 4); /* the outputs are not one constant code */
}
END_TEST

/* ---- Conv + Relu/Clip fusion on the FP32 path --------------------------------------------- */

static float fusion_rand(uint32_t *seed, float lo, float hi)
{
    *seed = *seed * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)(*seed >> 8) / (float)(1u << 24);
}

/* x (4×6×7) → conv 3×3 → a → Relu → ra → depthwise 3×3 stride 2 → d → Clip(0, 6) → cd →
 * conv 1×1 → c → Clip(max 0.5) → y */
static void build_fusion_model(builder *b)
{
    static float wa[5 * 4 * 9], ba[5], wd[5 * 9], bd[5], wc[3 * 5], zero = 0.0f, six = 6.0f,
                 half = 0.5f;
    static int64_t wad[4] = {5, 4, 3, 3}, wdd[4] = {5, 1, 3, 3}, wcd[4] = {3, 5, 1, 1};
    static int64_t five[1] = {5}, pads[4] = {1, 1, 1, 1}, strides[2] = {2, 2};
    static char *in_a[] = {"x", "wa", "ba"}, *a[] = {"a"}, *ra[] = {"ra"};
    static char *in_d[] = {"ra", "wd", "bd"}, *d[] = {"d"}, *in_clip[] = {"d", "zero", "six"};
    static char *cd[] = {"cd"}, *in_c[] = {"cd", "wc"}, *c[] = {"c"};
    static char *in_clip2[] = {"c", "", "half"}, *y[] = {"y"};
    uint32_t seed = 7;
    for (size_t i = 0; i < sizeof wa / sizeof *wa; i++)
        wa[i] = fusion_rand(&seed, -1, 1);
    for (size_t i = 0; i < sizeof wd / sizeof *wd; i++)
        wd[i] = fusion_rand(&seed, -1.5f, 1.5f);
    for (size_t i = 0; i < sizeof wc / sizeof *wc; i++)
        wc[i] = fusion_rand(&seed, -0.5f, 0.5f);
    for (int i = 0; i < 5; i++)
        ba[i] = fusion_rand(&seed, -1, 1), bd[i] = fusion_rand(&seed, -1, 1);
    b_init(b, 13);
    int64_t dims[4] = {1, 4, 6, 7};
    b_input(b, "x", 4, dims);
    b_init_f32(b, "wa", 4, wad, wa, sizeof wa / sizeof *wa);
    b_init_f32(b, "ba", 1, five, ba, 5);
    b_init_f32(b, "wd", 4, wdd, wd, sizeof wd / sizeof *wd);
    b_init_f32(b, "bd", 1, five, bd, 5);
    b_init_f32(b, "wc", 4, wcd, wc, sizeof wc / sizeof *wc);
    b_init_f32(b, "zero", 0, NULL, &zero, 1);
    b_init_f32(b, "six", 0, NULL, &six, 1);
    b_init_f32(b, "half", 0, NULL, &half, 1);
    b_attr_ints(b, b_node(b, "Conv", "conv_a", 3, in_a, 1, a), "pads", pads, 4);
    b_node(b, "Relu", "relu", 1, a, 1, ra);
    Onnx__NodeProto *dw = b_node(b, "Conv", "conv_d", 3, in_d, 1, d);
    b_attr_int(b, dw, "group", 5);
    b_attr_ints(b, dw, "pads", pads, 4);
    b_attr_ints(b, dw, "strides", strides, 2);
    b_node(b, "Clip", "relu6", 3, in_clip, 1, cd);
    b_node(b, "Conv", "conv_c", 2, in_c, 1, c);
    b_node(b, "Clip", "clip_max", 3, in_clip2, 1, y);
    b_output(b, "y");
}

static const qc_node *node_named(const qc_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, name))
            return &g->nodes[i];
    ck_abort_msg("no node %s", name);
    return NULL;
}

static void assert_clamp(const qc_exec *ex, const qc_graph *g, const char *name, bool on,
                         float want_lo, float want_hi)
{
    float lo = 0, hi = 0;
    bool fused = qc_exec_fused_clamp(ex, node_named(g, name), &lo, &hi);
    ck_assert_msg(fused == on, "%s: fused %d, expected %d", name, fused, on);
    ck_assert_msg(!on || (lo == want_lo && hi == want_hi), "%s clamps to [%g, %g], not [%g, %g]",
                  name, (double)lo, (double)hi, (double)want_lo, (double)want_hi);
}

/* Without an observer each Conv applies the Relu or Clip after it and the output keeps the
 * unfused run's bytes; with one, every tensor is ONNX's (the Conv's own output unclamped). */
START_TEST(conv_with_relu_or_clip_fused_gives_the_unfused_bytes_and_observers_see_every_tensor)
{
    builder b;
    build_fusion_model(&b);
    qc_graph *g;
    qc_error err;
    LOAD_OK(&b, &g, &err);
    float xs[4 * 6 * 7];
    uint32_t seed = 11;
    for (int i = 0; i < 4 * 6 * 7; i++)
        xs[i] = fusion_rand(&seed, -4, 4);
    qc_value in = qc_value_f32(4, (int64_t[]){1, 4, 6, 7}, xs);
    qc_exec *ex = qc_exec_create(g);
    ck_assert_ptr_nonnull(ex);
    assert_clamp(ex, g, "conv_a", true, 0.0f, INFINITY);
    assert_clamp(ex, g, "conv_d", true, 0.0f, 6.0f);
    assert_clamp(ex, g, "conv_c", true, -INFINITY, 0.5f);
    assert_clamp(ex, g, "relu", false, 0, 0);
    float fused[3 * 3 * 4], unfused[3 * 3 * 4];
    ck_assert_msg(qc_exec_run(ex, &in, 1, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(qc_value_bytes(qc_exec_output(ex, 0)), sizeof fused);
    memcpy(fused, qc_exec_output(ex, 0)->data, sizeof fused);

    seen_tensors seen = {0};
    qc_exec_set_observer(ex, keep_tensor, &seen);
    assert_clamp(ex, g, "conv_a", false, 0, 0);
    ck_assert_msg(qc_exec_run(ex, &in, 1, &err) == QC_OK, "%s", err.msg);
    memcpy(unfused, qc_exec_output(ex, 0)->data, sizeof unfused);
    ck_assert_mem_eq(fused, unfused, sizeof fused);
    /* the bounds were reached, so a wrong bound changes bytes; the observer saw the Conv
     * outputs before their activations */
    const float *a = (const float *)seen.bytes[qc_graph_find_tensor(g, "a")];
    const float *d = (const float *)seen.bytes[qc_graph_find_tensor(g, "d")];
    const float *cd = (const float *)seen.bytes[qc_graph_find_tensor(g, "cd")];
    bool a_negative = false, d_above = false, cd_six = false, cd_zero = false, y_half = false;
    for (int i = 0; i < 5 * 6 * 7; i++)
        a_negative |= a[i] < 0;
    for (int i = 0; i < 5 * 3 * 4; i++) {
        d_above |= d[i] > 6, cd_six |= cd[i] == 6.0f, cd_zero |= cd[i] == 0.0f;
    }
    for (int i = 0; i < 3 * 3 * 4; i++) {
        ck_assert(unfused[i] <= 0.5f);
        y_half |= unfused[i] == 0.5f;
    }
    ck_assert(a_negative && d_above && cd_six && cd_zero && y_half);

    qc_exec_set_observer(ex, NULL, NULL); /* fused again, after a run that owned the buffers */
    ck_assert_msg(qc_exec_run(ex, &in, 1, &err) == QC_OK, "%s", err.msg);
    ck_assert_mem_eq(qc_exec_output(ex, 0)->data, unfused, sizeof unfused);
    for (int i = 0; i < 64; i++)
        free(seen.bytes[i]);
    qc_exec_destroy(ex);
    qc_graph_destroy(g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("graph");
    TCase *load = tcase_create("load");
    tcase_add_test(load, tensors_are_found_by_name_among_thousands);
    tcase_add_test(load, unsupported_ops_are_all_listed_with_a_node_name);
    tcase_add_test(load, readme_lists_exactly_the_registered_ops);
    tcase_add_test(load, a_truncated_or_garbage_file_is_bad_input_naming_it);
    tcase_add_test(load, math_op_attributes_are_checked_naming_node_and_attribute);
    tcase_add_test(load, a_cycle_is_reported_with_a_node_name);
    tcase_add_test(load, raw_and_typed_initializers_load_the_same_values);
    tcase_add_test(load, an_initializer_whose_data_does_not_fill_its_shape_is_rejected);
    suite_add_tcase(s, load);
    TCase *fold = tcase_create("fold");
    tcase_add_test(fold, a_static_shape_subgraph_folds_away_at_load);
    tcase_add_test(fold, a_dynamic_batch_shape_subgraph_runs_for_any_batch);
    tcase_add_test(fold, a_shape_subgraph_that_ignores_a_dynamic_batch_folds_away_at_load);
    tcase_add_test(fold, same_padding_from_a_dynamic_shape_folds_to_constant_pads);
    tcase_add_test(fold, batchnorm_folds_into_the_conv_before_it);
    suite_add_tcase(s, fold);
    TCase *shape_ops = tcase_create("shape ops");
    tcase_add_test(shape_ops, pad_wrap_edge_and_reflect_match_numpy);
    tcase_add_test(shape_ops, split_num_outputs_leaves_the_remainder_to_the_last_part);
    tcase_add_test(shape_ops, cast_to_an_integer_truncates_toward_zero);
    tcase_add_test(shape_ops, slice_with_the_largest_steps_takes_one_element);
    suite_add_tcase(s, shape_ops);
    TCase *exec = tcase_create("exec");
    tcase_add_test(exec, conv_with_relu_or_clip_fused_gives_the_unfused_bytes_and_observers_see_every_tensor);
    tcase_add_test(exec, an_input_of_the_wrong_shape_is_named);
    tcase_add_test(exec, a_run_beyond_the_memory_limit_is_refused_naming_the_model);
    tcase_add_test(exec, sizes_are_checked_without_overflow);
    tcase_add_test(exec, parallel_for_visits_every_item_exactly_once);
    tcase_add_test(exec, reductions_and_variadic_ops_run_for_any_batch);
    suite_add_tcase(s, exec);
    TCase *qdq = tcase_create("qdq");
    tcase_set_timeout(qdq, 60); /* the many-tile convolutions take seconds on a loaded machine */
    tcase_add_loop_test(qdq, quantized_models_run_on_integer_ops_and_match_onnx_runtime, 0,
                        (int)(sizeof qdq_cases / sizeof qdq_cases[0]));
    tcase_add_test(qdq, qdq_fusion_leaves_no_float_op_in_a_quantized_lenet);
    tcase_add_test(qdq, fused_and_unfused_qdq_lenet_agree_within_one_code_of_the_logits);
    tcase_add_test(qdq, qlinearconv_over_many_pixel_tiles_matches_int64_reference);
    tcase_add_test(qdq, qlinearconv_with_a_y_scale_per_output_channel_matches_int64_reference);
    tcase_add_test(qdq, qlinearconv_split_over_threads_matches_int64_reference_on_odd_shapes);
    tcase_add_test(qdq, qlinearconv_refuses_a_y_scale_of_another_length_naming_it);
    suite_add_tcase(s, qdq);
    TCase *props = tcase_create("int8-props");
    tcase_set_timeout(props, 60);
    tcase_add_test(props, qlinearconv_exact_for_multipliers_2e_minus20_to_2e20_on_every_kernel_path);
    tcase_add_test(props, qlinearmatmul_and_qgemm_exact_for_multipliers_2e_minus20_to_2e20_on_every_kernel_path);
    tcase_add_test(props, qlinearconv_and_qlinearmatmul_refuse_a_multiplier_of_2e30_naming_the_node);
    tcase_add_test(props, qlinearadd_exact_for_ratios_2e_minus20_to_2e20_with_broadcasting_on_every_kernel_path);
    tcase_add_test(props, qlinearconcat_exact_for_ratios_2e_minus20_to_2e20_on_every_kernel_path);
    tcase_add_test(props, qlinear_average_pools_exact_for_ratios_2e_minus20_to_2e20_on_every_kernel_path);
    tcase_add_test(props, maxpool_on_uint8_and_int8_matches_the_definition_on_every_kernel_path);
    tcase_add_test(props, quantize_and_dequantize_linear_per_tensor_and_per_axis_match_onnx_on_every_kernel_path);
    tcase_add_test(props, dynamicquantizelinear_matches_the_onnx_reference_including_an_all_zero_input);
    tcase_add_test(props, convinteger_and_matmulinteger_equal_the_int64_definition_on_every_kernel_path);
    tcase_add_test(props, qgemm_with_a_bias_near_2e31_is_refused_by_name_instead_of_wrapping);
    tcase_add_test(props, qlinearconv_and_qlinearmatmul_with_k_above_33025_extreme_codes_are_refused_not_wrapped);
    tcase_add_test(props, qoperator_weights_and_multipliers_are_prepared_once);
    tcase_add_test(props, activations_by_table_equal_dq_op_q_on_every_code_and_kernel_path);
    tcase_add_test(props, integer_activations_stay_channels_last_and_equal_the_onnx_layout_run);
    suite_add_tcase(s, props);
    return s;
}

int main(void)
{
    return qc_check_run("check_graph", suite());
}
