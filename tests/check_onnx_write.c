/* check_onnx_write.c — the ONNX writer: every bundled and PyTorch-exported model survives
 * save → load with bit-identical outputs, writing is deterministic and a fixed point of
 * load, attributes of every type, metadata and extra opset domains round-trip, and a failed
 * write leaves no file behind.
 *
 * With QCAL_ONNX_WRITE_DIR set, the re-saved models are also left in that folder as
 * NAME.onnx with the input used (NAME.in.npy) and qcal's output (NAME.out.npy), for
 * tests/onnx-write-test.sh to check them with onnx.checker and ONNX Runtime. */
#include <dirent.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "graph/graph.h"
#include "io/io.h"
#include "onnx.pb-c.h"
#include "tests/check-util.h"

#define MAX_MODELS 64
#define RANDOM_BATCH 3 /* a symbolic batch runs at 3: the written "N" must stay dynamic */
#define QUICKGELU_ALPHA 1.702f

static char *models[MAX_MODELS];
static int n_models;
static int n_bundled;

/* ---- helpers ------------------------------------------------------------------------------ */

static char *make_tmp_dir(void)
{
    char *dir = strdup("/tmp/qcal-onnx-write.XXXXXX");
    ck_assert_ptr_nonnull(dir);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

/* Removes dir and what it holds (files and empty folders). */
static void remove_dir(char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (unlink(path) != 0)
                rmdir(path);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* "models/lenet.onnx" → "lenet"; "tests/data/pytorch/bn-kept/model.onnx" → "pytorch-bn-kept". */
static void model_label(const char *path, char *label, size_t size)
{
    if (!strncmp(path, "tests/data/pytorch/", 19)) {
        const char *name = path + 19;
        snprintf(label, size, "pytorch-%.*s", (int)strcspn(name, "/"), name);
    } else {
        const char *b = base_name(path);
        snprintf(label, size, "%.*s", (int)(strlen(b) - 5), b);
    }
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The input of graph g: the PyTorch case's input_0.pb next to the model, otherwise uniform
 * random floats in [-2, 2) of the input's static shape with a symbolic batch at RANDOM_BATCH. */
static qc_value model_input(const qc_graph *g, const char *model_path)
{
    qc_value v;
    qc_error err;
    ck_assert_int_eq(g->n_inputs, 1);
    if (!strncmp(model_path, "tests/data/pytorch/", 19)) {
        char pb[512];
        snprintf(pb, sizeof pb, "%.*stest_data_set_0/input_0.pb",
                 (int)(base_name(model_path) - model_path), model_path);
        ck_assert_msg(qc_onnx_load_tensor(pb, &v, NULL, &err) == QC_OK, "%s", err.msg);
        return v;
    }
    const qc_tensor *t = &g->tensors[g->inputs[0]];
    ck_assert_int_eq(t->value.dtype, QC_FLOAT);
    v = t->value;
    if (t->symbolic & 1u)
        v.dims[0] = RANDOM_BATCH;
    int64_t count = qc_value_count(&v);
    float *data = malloc((size_t)count * sizeof *data);
    ck_assert_ptr_nonnull(data);
    uint64_t state = 0x9e3779b97f4a7c15u;
    for (int64_t i = 0; i < count; i++)
        data[i] = (float)((rng_next(&state) >> 40) / (double)(1u << 24) * 4.0 - 2.0);
    v.data = data;
    return v;
}

/* Runs g on in and returns a copy of output 0 (data malloc'ed). */
static qc_value run_graph(const qc_graph *g, const qc_value *in)
{
    qc_error err;
    qc_exec *x = qc_exec_create(g);
    ck_assert_ptr_nonnull(x);
    ck_assert_msg(qc_exec_run(x, in, 1, &err) == QC_OK, "%s", err.msg);
    qc_value out = *qc_exec_output(x, 0);
    size_t bytes = qc_value_bytes(&out);
    out.data = malloc(bytes ? bytes : 1);
    ck_assert_ptr_nonnull(out.data);
    memcpy(out.data, qc_exec_output(x, 0)->data, bytes);
    qc_exec_destroy(x);
    return out;
}

/* Writes a float32 array as a NumPy .npy file (format 1.0). */
static void write_npy(const char *path, const qc_value *v)
{
    ck_assert_int_eq(v->dtype, QC_FLOAT);
    char header[256];
    int n = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < v->rank; i++)
        n += snprintf(header + n, sizeof header - (size_t)n, "%lld,%s", (long long)v->dims[i],
                      i + 1 < v->rank ? " " : "");
    n += snprintf(header + n, sizeof header - (size_t)n, "), }");
    while ((10 + n + 1) % 64)
        header[n++] = ' ';
    header[n++] = '\n';
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    unsigned char prefix[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(n & 0xff),
                                (unsigned char)(n >> 8)};
    fwrite(prefix, 1, sizeof prefix, f);
    fwrite(header, 1, (size_t)n, f);
    fwrite(v->data, 1, qc_value_bytes(v), f);
    ck_assert_int_eq(fclose(f), 0);
}

/* Leaves g, its input and qcal's output in $QCAL_ONNX_WRITE_DIR for the interop script. */
static void export_for_interop(const qc_graph *g, const char *label, const qc_value *in,
                               const qc_value *out)
{
    const char *dir = getenv("QCAL_ONNX_WRITE_DIR");
    if (!dir || !dir[0])
        return;
    char path[1024];
    qc_error err;
    snprintf(path, sizeof path, "%s/%s.onnx", dir, label);
    ck_assert_msg(qc_onnx_save(g, path, &err) == QC_OK, "%s", err.msg);
    if (in) {
        snprintf(path, sizeof path, "%s/%s.in.npy", dir, label);
        write_npy(path, in);
    }
    if (out) {
        snprintf(path, sizeof path, "%s/%s.out.npy", dir, label);
        write_npy(path, out);
    }
}

static Onnx__ModelProto *unpack(const void *data, size_t size)
{
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, size, data);
    ck_assert_ptr_nonnull(mp);
    return mp;
}

static void *serialize(const qc_graph *g, size_t *size)
{
    void *data;
    qc_error err;
    ck_assert_msg(qc_onnx_serialize(g, &data, size, &err) == QC_OK, "%s", err.msg);
    return data;
}

static void free_value(qc_value *v)
{
    free(v->data);
    v->data = NULL;
}

/* ---- every model: save, load, run ---------------------------------------------------------- */

/* Loop index i: model i / 2, with BatchNormalization folded when i is odd (what eval runs). */
START_TEST(every_model_round_trips_with_bit_identical_outputs)
{
    const char *path = models[_i / 2];
    bool fold = _i % 2;
    char label[256], tmp_model[1024];
    model_label(path, label, sizeof label);
    if (fold)
        strcat(label, "-folded");
    qc_error err;
    qc_graph *g1;
    ck_assert_msg(qc_onnx_load(path, &g1, &err) == QC_OK, "%s", err.msg);
    if (fold)
        ck_assert_msg(qc_pass_fold_batchnorm(g1, &err) == QC_OK, "%s", err.msg);

    size_t size_a, size_b;
    void *a = serialize(g1, &size_a), *b = serialize(g1, &size_b);
    ck_assert_msg(size_a == size_b && !memcmp(a, b, size_a), "%s: two serializations differ", label);

    char *dir = make_tmp_dir();
    snprintf(tmp_model, sizeof tmp_model, "%s/%s", dir, base_name(path));
    ck_assert_msg(qc_onnx_save(g1, tmp_model, &err) == QC_OK, "%s", err.msg);
    char *file;
    size_t file_size;
    ck_assert_msg(qc_read_file(tmp_model, &file, &file_size, &err) == QC_OK, "%s", err.msg);
    ck_assert_msg(file_size == size_a && !memcmp(file, a, size_a), "%s: the file differs from the buffer", label);
    free(file);

    qc_graph *g2;
    ck_assert_msg(qc_onnx_load(tmp_model, &g2, &err) == QC_OK, "%s: %s", label, err.msg);
    ck_assert_int_eq(g2->opset, g1->opset);
    ck_assert_int_eq(g2->n_nodes, g1->n_nodes);
    ck_assert_int_eq(g2->n_inputs, g1->n_inputs);
    ck_assert_int_eq(g2->n_outputs, g1->n_outputs);
    for (int i = 0; i < g1->n_inputs; i++) {
        const qc_tensor *t1 = &g1->tensors[g1->inputs[i]], *t2 = &g2->tensors[g2->inputs[i]];
        ck_assert_str_eq(t2->name, t1->name);
        ck_assert_int_eq(t2->value.dtype, t1->value.dtype);
        ck_assert(qc_same_shape(&t2->value, &t1->value));
        ck_assert_uint_eq(t2->symbolic, t1->symbolic);
    }
    for (int i = 0; i < g1->n_nodes; i++) {
        ck_assert_str_eq(g2->nodes[i].name, g1->nodes[i].name);
        ck_assert_str_eq(g2->nodes[i].op_type, g1->nodes[i].op_type);
    }
    ck_assert_int_eq(qc_graph_param_count(g2), qc_graph_param_count(g1));

    /* Loading what was written and writing it again gives the same bytes. */
    size_t size_c;
    void *c = serialize(g2, &size_c);
    ck_assert_msg(size_c == size_a && !memcmp(c, a, size_a), "%s: save(load(save(g))) differs from save(g)", label);

    qc_value in = model_input(g1, path);
    qc_value out1 = run_graph(g1, &in), out2 = run_graph(g2, &in);
    ck_assert_int_eq(out2.dtype, out1.dtype);
    ck_assert(qc_same_shape(&out1, &out2));
    ck_assert_msg(!memcmp(out1.data, out2.data, qc_value_bytes(&out1)), "%s: outputs differ after the round trip", label);
    export_for_interop(g1, label, &in, &out1);

    free_value(&in);
    free_value(&out1);
    free_value(&out2);
    free(a);
    free(b);
    free(c);
    qc_graph_destroy(g1);
    qc_graph_destroy(g2);
    remove_dir(dir);
}
END_TEST

START_TEST(the_model_list_holds_the_bundled_and_pytorch_models)
{
    ck_assert_int_ge(n_bundled, 4);
    ck_assert_int_ge(n_models - n_bundled, 10);
    bool lenet = false;
    for (int i = 0; i < n_models; i++)
        lenet |= !strcmp(models[i], "models/lenet.onnx");
    ck_assert(lenet);
}
END_TEST

START_TEST(the_header_says_ir_8_qcal_and_its_version_and_keeps_the_opset)
{
    qc_error err;
    qc_graph *g;
    ck_assert_msg(qc_onnx_load("tests/data/pytorch/simple-opset7/model.onnx", &g, &err) == QC_OK, "%s", err.msg);
    size_t size;
    void *data = serialize(g, &size);
    Onnx__ModelProto *mp = unpack(data, size);
    ck_assert(mp->has_ir_version);
    ck_assert_int_eq(mp->ir_version, 8);
    ck_assert_str_eq(mp->producer_name, "qcal");
    ck_assert_str_eq(mp->producer_version, QCAL_VERSION);
    ck_assert_uint_eq(mp->n_opset_import, 1);
    ck_assert_str_eq(mp->opset_import[0]->domain, "");
    ck_assert_int_eq(mp->opset_import[0]->version, 7);
    ck_assert_str_eq(mp->graph->name, "model");
    /* The symbolic batch is "N" on the input and on the output. */
    const Onnx__TensorShapeProto *in = mp->graph->input[0]->type->tensor_type->shape;
    const Onnx__TensorShapeProto *out = mp->graph->output[0]->type->tensor_type->shape;
    ck_assert_uint_eq(in->n_dim, 4);
    ck_assert_int_eq(in->dim[0]->value_case, ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM);
    ck_assert_str_eq(in->dim[0]->dim_param, "N");
    ck_assert_int_eq(in->dim[1]->value_case, ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE);
    ck_assert_int_eq(in->dim[1]->dim_value, 1);
    ck_assert_int_eq(in->dim[3]->dim_value, 12);
    ck_assert_uint_eq(out->n_dim, 2);
    ck_assert_int_eq(out->dim[0]->value_case, ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM);
    ck_assert_str_eq(out->dim[0]->dim_param, "N");
    ck_assert_int_eq(out->dim[1]->dim_value, 10);
    ck_assert_int_eq(mp->graph->output[0]->type->tensor_type->elem_type, QC_FLOAT);
    ck_assert_uint_eq(mp->graph->n_value_info, 0);
    onnx__model_proto__free_unpacked(mp, NULL);
    free(data);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(pruned_tensors_are_not_written)
{
    qc_error err;
    qc_graph *g;
    ck_assert_msg(qc_onnx_load("models/resnet-bn.onnx", &g, &err) == QC_OK, "%s", err.msg);
    int before = 0;
    for (int t = 0; t < g->n_tensors; t++)
        before += g->tensors[t].is_const;
    ck_assert_msg(qc_pass_fold_batchnorm(g, &err) == QC_OK, "%s", err.msg);
    int consts = 0, dead = 0;
    for (int t = 0; t < g->n_tensors; t++) {
        consts += g->tensors[t].is_const;
        dead += g->tensors[t].value.rank < 0 && !g->tensors[t].is_const;
    }
    ck_assert_int_lt(consts, before); /* BatchNorm parameters are gone … */
    ck_assert_int_gt(dead, 0);        /* … but still in the IR's tensor array */
    size_t size;
    void *data = serialize(g, &size);
    Onnx__ModelProto *mp = unpack(data, size);
    const Onnx__GraphProto *gp = mp->graph;
    ck_assert_int_eq((int)gp->n_initializer, consts);
    for (size_t i = 0; i < gp->n_initializer; i++) {
        int t = qc_graph_find_tensor(g, gp->initializer[i]->name);
        ck_assert_int_ge(t, 0);
        ck_assert_msg(g->tensors[t].is_const, "'%s' written as an initializer", gp->initializer[i]->name);
        bool read = false;
        for (size_t n = 0; n < gp->n_node && !read; n++)
            for (size_t k = 0; k < gp->node[n]->n_input; k++)
                read |= !strcmp(gp->node[n]->input[k], gp->initializer[i]->name);
        ck_assert_msg(read, "initializer '%s' is read by no node", gp->initializer[i]->name);
    }
    for (size_t n = 0; n < gp->n_node; n++)
        ck_assert_str_ne(gp->node[n]->op_type, "BatchNormalization");
    onnx__model_proto__free_unpacked(mp, NULL);
    free(data);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(metadata_round_trips_in_order_and_set_meta_replaces_a_value)
{
    qc_error err;
    qc_graph *g;
    ck_assert_msg(qc_onnx_load("models/lenet.onnx", &g, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(g->n_meta, 0);
    ck_assert_int_eq(qc_graph_set_meta(g, "qcal.scheme", "gemmlowp"), QC_OK);
    ck_assert_int_eq(qc_graph_set_meta(g, "qcal.bits", "8"), QC_OK);
    ck_assert_int_eq(qc_graph_set_meta(g, "qcal.note", ""), QC_OK);
    ck_assert_int_eq(qc_graph_set_meta(g, "qcal.scheme", "symlowp"), QC_OK);
    ck_assert_int_eq(g->n_meta, 3);
    char *dir = make_tmp_dir(), path[1024];
    snprintf(path, sizeof path, "%s/lenet.onnx", dir);
    ck_assert_msg(qc_onnx_save(g, path, &err) == QC_OK, "%s", err.msg);
    qc_graph *g2;
    ck_assert_msg(qc_onnx_load(path, &g2, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(g2->n_meta, 3);
    ck_assert_str_eq(g2->meta_keys[0], "qcal.scheme");
    ck_assert_str_eq(g2->meta_values[0], "symlowp");
    ck_assert_str_eq(g2->meta_keys[1], "qcal.bits");
    ck_assert_str_eq(g2->meta_values[1], "8");
    ck_assert_str_eq(g2->meta_keys[2], "qcal.note");
    ck_assert_str_eq(g2->meta_values[2], "");
    qc_graph_destroy(g2);
    qc_graph_destroy(g);
    remove_dir(dir);
}
END_TEST

/* ---- graphs built by hand ------------------------------------------------------------------ */

static int add_tensor(qc_graph *g, const char *name, qc_dtype dtype, int rank, const int64_t *dims)
{
    int t = qc_graph_tensor(g, name);
    ck_assert_int_ge(t, 0);
    g->tensors[t].value.dtype = dtype;
    g->tensors[t].value.rank = rank;
    for (int i = 0; i < rank; i++)
        g->tensors[t].value.dims[i] = dims[i];
    return t;
}

static void set_io(qc_graph *g, int input, int output)
{
    g->inputs = malloc(sizeof(int));
    g->outputs = malloc(sizeof(int));
    ck_assert(g->inputs && g->outputs);
    g->inputs[0] = input;
    g->outputs[0] = output;
    g->n_inputs = g->n_outputs = 1;
    g->tensors[input].is_input = true;
    g->tensors[output].is_output = true;
}

/* Appends node op_type (domain) reading in and writing out, with room for n_attrs. */
static qc_node *add_node(qc_graph *g, const char *name, const char *op_type, const char *domain,
                         int in, int out, int n_attrs)
{
    int i = qc_graph_add_node(g, name, op_type, domain);
    ck_assert_int_ge(i, 0);
    qc_node *n = &g->nodes[i];
    n->inputs = malloc(sizeof(int));
    n->outputs = malloc(sizeof(int));
    n->attrs = calloc((size_t)n_attrs + 1, sizeof(qc_attr));
    ck_assert(n->inputs && n->outputs && n->attrs);
    n->inputs[0] = in;
    n->outputs[0] = out;
    n->n_inputs = n->n_outputs = 1;
    g->tensors[out].producer = i;
    return n;
}

static qc_attr *add_attr(qc_node *n, const char *name, qc_attr_type type)
{
    qc_attr *a = &n->attrs[n->n_attrs++];
    a->name = strdup(name);
    ck_assert_ptr_nonnull(a->name);
    a->type = type;
    return a;
}

/* x [N, 8] → com.microsoft QuickGelu (alpha) → Relu → y. */
static qc_graph *contrib_graph(void)
{
    qc_graph *g = qc_graph_create("models/contrib.onnx");
    ck_assert_ptr_nonnull(g);
    g->opset = 13;
    int64_t dims[2] = {1, 8};
    int x = add_tensor(g, "x", QC_FLOAT, 2, dims);
    int h = add_tensor(g, "h", QC_FLOAT, 2, dims);
    int y = add_tensor(g, "y", QC_FLOAT, 2, dims);
    g->tensors[x].symbolic = 1;
    set_io(g, x, y);
    qc_node *n = add_node(g, "gelu", "QuickGelu", "com.microsoft", x, h, 1);
    add_attr(n, "alpha", QC_ATTR_FLOAT)->f = QUICKGELU_ALPHA;
    add_node(g, "relu", "Relu", "", h, y, 0);
    return g;
}

START_TEST(a_com_microsoft_node_gets_its_opset_import)
{
    qc_graph *g = contrib_graph();
    size_t size;
    void *data = serialize(g, &size);
    Onnx__ModelProto *mp = unpack(data, size);
    ck_assert_uint_eq(mp->n_opset_import, 2);
    ck_assert_str_eq(mp->opset_import[0]->domain, "");
    ck_assert_int_eq(mp->opset_import[0]->version, 13);
    ck_assert_str_eq(mp->opset_import[1]->domain, "com.microsoft");
    ck_assert_int_eq(mp->opset_import[1]->version, 1);
    ck_assert_str_eq(mp->graph->node[0]->domain, "com.microsoft");
    ck_assert_ptr_null(mp->graph->node[1]->domain); /* the default domain is left out */
    ck_assert_str_eq(mp->graph->name, "contrib");
    onnx__model_proto__free_unpacked(mp, NULL);

    qc_error err;
    qc_graph *g2;
    ck_assert_msg(qc_onnx_parse(data, size, "contrib.onnx", &g2, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(g2->n_nodes, 2);
    ck_assert_str_eq(g2->nodes[0].domain, "com.microsoft");
    ck_assert_str_eq(g2->nodes[0].op_type, "QuickGelu");
    ck_assert(qc_node_attr_float(&g2->nodes[0], "alpha", 0) == QUICKGELU_ALPHA);
    ck_assert_uint_eq(g2->tensors[g2->inputs[0]].symbolic, 1);
    /* qcal itself does not run the contrib op: preparing names it. */
    ck_assert_int_eq(qc_graph_prepare(g2, &err), QC_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "com.microsoft.QuickGelu") != NULL, "%s", err.msg);
    qc_graph_destroy(g2);

    /* ONNX Runtime has QuickGelu: y = relu(x · sigmoid(alpha · x)). */
    int64_t dims[2] = {2, 8};
    float xs[16], ys[16];
    for (int i = 0; i < 16; i++) {
        xs[i] = (float)(i - 8) * 0.375f;
        double v = xs[i] / (1.0 + exp(-(double)QUICKGELU_ALPHA * xs[i]));
        ys[i] = (float)(v > 0 ? v : 0);
    }
    qc_value in = qc_value_f32(2, dims, xs), out = qc_value_f32(2, dims, ys);
    export_for_interop(g, "contrib-quickgelu", &in, &out);
    free(data);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(domains_are_imported_once_each_in_sorted_order)
{
    qc_graph *g = qc_graph_create("domains");
    g->opset = 17;
    int64_t dims[1] = {4};
    int t[5];
    for (int i = 0; i < 5; i++) {
        char name[8];
        snprintf(name, sizeof name, "t%d", i);
        t[i] = add_tensor(g, name, QC_FLOAT, 1, dims);
    }
    set_io(g, t[0], t[4]);
    add_node(g, "a", "A", "org.example", t[0], t[1], 0);
    add_node(g, "b", "B", "com.microsoft", t[1], t[2], 0);
    add_node(g, "c", "C", "org.example", t[2], t[3], 0);
    add_node(g, "d", "Relu", "ai.onnx", t[3], t[4], 0);
    size_t size;
    void *data = serialize(g, &size);
    Onnx__ModelProto *mp = unpack(data, size);
    ck_assert_uint_eq(mp->n_opset_import, 3);
    ck_assert_str_eq(mp->opset_import[0]->domain, "");
    ck_assert_int_eq(mp->opset_import[0]->version, 17);
    ck_assert_str_eq(mp->opset_import[1]->domain, "com.microsoft");
    ck_assert_str_eq(mp->opset_import[2]->domain, "org.example");
    onnx__model_proto__free_unpacked(mp, NULL);
    free(data);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(attributes_of_every_type_round_trip_exactly)
{
    qc_graph *g = qc_graph_create("attrs");
    g->opset = 13;
    int64_t dims[2] = {2, 3};
    int x = add_tensor(g, "x", QC_INT8, 2, dims);
    int y = add_tensor(g, "y", QC_INT8, 2, dims);
    set_io(g, x, y);
    qc_node *n = add_node(g, "all", "AllAttributes", "org.example", x, y, 10);
    add_attr(n, "f", QC_ATTR_FLOAT)->f = -0.0f;
    add_attr(n, "tiny", QC_ATTR_FLOAT)->f = 1e-45f; /* a denormal */
    add_attr(n, "i", QC_ATTR_INT)->i = INT64_MIN;
    add_attr(n, "s", QC_ATTR_STRING)->s = strdup("NOTSET");
    add_attr(n, "empty", QC_ATTR_STRING)->s = strdup("");
    qc_attr *ta = add_attr(n, "t", QC_ATTR_TENSOR);
    ta->t.dtype = QC_INT8;
    ta->t.rank = 2;
    ta->t.dims[0] = 2;
    ta->t.dims[1] = 3;
    ta->t.data = malloc(6);
    memcpy(ta->t.data, (int8_t[]){-128, -1, 0, 1, 2, 127}, 6);
    qc_attr *fa = add_attr(n, "fs", QC_ATTR_FLOATS);
    fa->n = 3;
    fa->floats = malloc(3 * sizeof(float));
    memcpy(fa->floats, (float[]){1.5f, -2.0f, NAN}, 3 * sizeof(float));
    qc_attr *ia = add_attr(n, "is", QC_ATTR_INTS);
    ia->n = 3;
    ia->ints = malloc(3 * sizeof(int64_t));
    memcpy(ia->ints, (int64_t[]){-1, 0, (int64_t)1 << 40}, 3 * sizeof(int64_t));
    qc_attr *none = add_attr(n, "none", QC_ATTR_INTS); /* an empty list keeps its type */
    none->n = 0;
    qc_attr *scalar = add_attr(n, "scalar", QC_ATTR_TENSOR);
    scalar->t.dtype = QC_INT64;
    scalar->t.rank = 0;
    scalar->t.data = malloc(8);
    *(int64_t *)scalar->t.data = -7;

    size_t size;
    void *data = serialize(g, &size);
    qc_error err;
    qc_graph *g2;
    ck_assert_msg(qc_onnx_parse(data, size, "attrs.onnx", &g2, &err) == QC_OK, "%s", err.msg);
    const qc_node *m = &g2->nodes[0];
    ck_assert_int_eq(m->n_attrs, n->n_attrs);
    for (int k = 0; k < n->n_attrs; k++) {
        const qc_attr *a = &n->attrs[k], *b = &m->attrs[k];
        ck_assert_str_eq(b->name, a->name);
        ck_assert_int_eq(b->type, a->type);
        switch (a->type) {
        case QC_ATTR_FLOAT: ck_assert(!memcmp(&a->f, &b->f, sizeof a->f)); break;
        case QC_ATTR_INT: ck_assert(a->i == b->i); break;
        case QC_ATTR_STRING: ck_assert_str_eq(b->s, a->s); break;
        case QC_ATTR_TENSOR:
            ck_assert_int_eq(b->t.dtype, a->t.dtype);
            ck_assert(qc_same_shape(&a->t, &b->t));
            ck_assert(!memcmp(a->t.data, b->t.data, qc_value_bytes(&a->t)));
            break;
        case QC_ATTR_FLOATS:
            ck_assert_int_eq(b->n, a->n);
            ck_assert(!memcmp(a->floats, b->floats, (size_t)a->n * sizeof(float)));
            break;
        case QC_ATTR_INTS:
            ck_assert_int_eq(b->n, a->n);
            ck_assert(!a->n || !memcmp(a->ints, b->ints, (size_t)a->n * sizeof(int64_t)));
            break;
        }
    }
    /* The graph input and output keep dtype int8 and their static shape. */
    ck_assert_int_eq(g2->tensors[g2->inputs[0]].value.dtype, QC_INT8);
    ck_assert(qc_same_shape(&g2->tensors[g2->inputs[0]].value, &g->tensors[x].value));
    ck_assert_uint_eq(g2->tensors[g2->inputs[0]].symbolic, 0);
    qc_graph_destroy(g2);
    free(data);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(constants_of_every_dtype_and_an_empty_one_round_trip)
{
    static const qc_dtype types[] = {QC_FLOAT, QC_UINT8, QC_INT8, QC_INT32, QC_INT64, QC_BOOL};
    qc_graph *g = qc_graph_create("consts");
    g->opset = 13;
    int64_t dims[2] = {2, 3};
    int x = add_tensor(g, "x", QC_FLOAT, 2, dims);
    int y = add_tensor(g, "y", QC_FLOAT, 2, dims);
    set_io(g, x, y);
    qc_node *n = add_node(g, "many", "Many", "org.example", x, y, 0);
    int n_types = (int)(sizeof types / sizeof types[0]);
    n->inputs = realloc(n->inputs, (size_t)(n_types + 3) * sizeof(int));
    ck_assert_ptr_nonnull(n->inputs);
    for (int k = 0; k <= n_types; k++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", k);
        bool empty = k == n_types;
        int64_t cdims[2] = {2, empty ? 0 : 3};
        int c = add_tensor(g, name, empty ? QC_FLOAT : types[k], 2, cdims);
        qc_value *v = &g->tensors[c].value;
        size_t bytes = qc_value_bytes(v);
        v->data = malloc(bytes ? bytes : 1);
        for (size_t b = 0; b < bytes; b++)
            ((uint8_t *)v->data)[b] = types[k % n_types] == QC_BOOL ? (uint8_t)(b & 1) : (uint8_t)(b * 37 + 11);
        g->tensors[c].is_const = true;
        n->inputs[n->n_inputs++] = c;
    }
    n->inputs[n->n_inputs++] = -1; /* an omitted optional input stays omitted */
    size_t size;
    void *data = serialize(g, &size);
    qc_error err;
    qc_graph *g2;
    ck_assert_msg(qc_onnx_parse(data, size, "consts.onnx", &g2, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(g2->nodes[0].n_inputs, n->n_inputs);
    ck_assert_int_eq(g2->nodes[0].inputs[n->n_inputs - 1], -1);
    for (int k = 1; k < n->n_inputs - 1; k++) {
        const qc_value *a = &g->tensors[n->inputs[k]].value;
        const qc_tensor *t = &g2->tensors[g2->nodes[0].inputs[k]];
        ck_assert_str_eq(t->name, g->tensors[n->inputs[k]].name);
        ck_assert(t->is_const);
        ck_assert_int_eq(t->value.dtype, a->dtype);
        ck_assert(qc_same_shape(&t->value, a));
        ck_assert(!memcmp(t->value.data, a->data, qc_value_bytes(a)));
    }
    qc_graph_destroy(g2);
    free(data);
    qc_graph_destroy(g);
}
END_TEST

/* ---- failures ------------------------------------------------------------------------------ */

START_TEST(an_unwritable_path_is_an_io_error_and_leaves_no_file)
{
    qc_error err;
    qc_graph *g;
    ck_assert_msg(qc_onnx_load("models/lenet.onnx", &g, &err) == QC_OK, "%s", err.msg);
    char *dir = make_tmp_dir(), path[1024];
    /* The target is a folder: the temporary file is written, the rename fails. */
    snprintf(path, sizeof path, "%s/out.onnx", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(qc_onnx_save(g, path, &err), QC_ERR_IO);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
    ck_assert_int_eq(count_entries(dir), 1);
    /* The folder does not exist. */
    snprintf(path, sizeof path, "%s/missing/out.onnx", dir);
    ck_assert_int_eq(qc_onnx_save(g, path, &err), QC_ERR_IO);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
    ck_assert_int_eq(count_entries(dir), 1);
    qc_graph_destroy(g);
    remove_dir(dir);
}
END_TEST

START_TEST(a_tensor_nothing_produces_is_a_bad_input_and_nothing_is_written)
{
    qc_graph *g = qc_graph_create("broken");
    int64_t dims[1] = {4};
    int x = add_tensor(g, "x", QC_FLOAT, 1, dims);
    int lost = add_tensor(g, "lost", QC_FLOAT, 1, dims);
    int y = add_tensor(g, "y", QC_FLOAT, 1, dims);
    set_io(g, x, y);
    add_node(g, "relu", "Relu", "", lost, y, 0);
    char *dir = make_tmp_dir(), path[1024];
    snprintf(path, sizeof path, "%s/broken.onnx", dir);
    qc_error err;
    ck_assert_int_eq(qc_onnx_save(g, path, &err), QC_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "'relu' reads 'lost'") && strstr(err.msg, path), "%s", err.msg);
    ck_assert_int_eq(count_entries(dir), 0);
    qc_graph_destroy(g);
    remove_dir(dir);
}
END_TEST

START_TEST(an_attribute_of_unknown_type_is_refused_by_name)
{
    qc_graph *g = qc_graph_create("graphattr");
    int64_t dims[1] = {4};
    int x = add_tensor(g, "x", QC_FLOAT, 1, dims);
    int y = add_tensor(g, "y", QC_FLOAT, 1, dims);
    set_io(g, x, y);
    qc_node *n = add_node(g, "loop", "Loop", "", x, y, 1);
    add_attr(n, "body", 0); /* a graph attribute the loader kept by name only */
    void *data;
    size_t size;
    qc_error err;
    ck_assert_int_eq(qc_onnx_serialize(g, &data, &size, &err), QC_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "'loop' attribute 'body'"), "%s", err.msg);
    ck_assert_ptr_null(data);
    qc_graph_destroy(g);
}
END_TEST

/* ---- suite --------------------------------------------------------------------------------- */

static void list_models(void)
{
    static const char *const patterns[] = {"models/*.onnx", "tests/data/pytorch/*/model.onnx"};
    for (int p = 0; p < 2; p++) {
        glob_t gl;
        if (glob(patterns[p], 0, NULL, &gl) == 0) {
            for (size_t i = 0; i < gl.gl_pathc && n_models < MAX_MODELS; i++)
                models[n_models++] = strdup(gl.gl_pathv[i]);
            globfree(&gl);
        }
        if (p == 0)
            n_bundled = n_models;
    }
}

static Suite *suite(void)
{
    list_models();
    Suite *s = suite_create("onnx_write");
    TCase *models_tc = tcase_create("models");
    tcase_set_timeout(models_tc, 60);
    tcase_add_test(models_tc, the_model_list_holds_the_bundled_and_pytorch_models);
    tcase_add_loop_test(models_tc, every_model_round_trips_with_bit_identical_outputs, 0, 2 * n_models);
    tcase_add_test(models_tc, the_header_says_ir_8_qcal_and_its_version_and_keeps_the_opset);
    tcase_add_test(models_tc, pruned_tensors_are_not_written);
    tcase_add_test(models_tc, metadata_round_trips_in_order_and_set_meta_replaces_a_value);
    suite_add_tcase(s, models_tc);
    TCase *built = tcase_create("built");
    tcase_add_test(built, a_com_microsoft_node_gets_its_opset_import);
    tcase_add_test(built, domains_are_imported_once_each_in_sorted_order);
    tcase_add_test(built, attributes_of_every_type_round_trip_exactly);
    tcase_add_test(built, constants_of_every_dtype_and_an_empty_one_round_trip);
    suite_add_tcase(s, built);
    TCase *fail = tcase_create("failures");
    tcase_add_test(fail, an_unwritable_path_is_an_io_error_and_leaves_no_file);
    tcase_add_test(fail, a_tensor_nothing_produces_is_a_bad_input_and_nothing_is_written);
    tcase_add_test(fail, an_attribute_of_unknown_type_is_refused_by_name);
    suite_add_tcase(s, fail);
    return s;
}

int main(void)
{
    return qc_check_run("check_onnx_write", suite());
}
