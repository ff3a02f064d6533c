/* check_model_files.c — what qcal reads about a model before it runs it: its metadata and
 * whether it is already quantized (graph/meta.c), its model card beside it or inside it
 * (io/modelcard.c), an --input array bound to it (io/npy.c), and a statistics file checked
 * against it (stats/file.c). Hand-built graphs and files with known answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check-util.h"
#include "graph/graph.h"
#include "io/io.h"
#include "stats/stats.h"

/* A graph of the op types given (no tensors: the queries read op types and metadata). */
static qc_graph *graph_of(const char *const *ops, int n)
{
    qc_graph *g = qc_graph_create("hand");
    ck_assert_ptr_nonnull(g);
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "n%d", i);
        ck_assert_int_ge(qc_graph_add_node(g, name, ops[i], ""), 0);
    }
    return g;
}

START_TEST(a_quantized_model_is_told_by_its_ops_or_qcal_metadata)
{
    static const struct {
        const char *ops[2];
        bool quantized;
        const char *op; /* the op a message names */
    } cases[] = {
        {{"Conv", "Relu"}, false, NULL},
        {{"Conv", "QuantizeLinear"}, true, "QuantizeLinear"},
        {{"Relu", "DequantizeLinear"}, true, "DequantizeLinear"},
        {{"DynamicQuantizeLinear", "MatMulInteger"}, true, "DynamicQuantizeLinear"},
        {{"Relu", "QLinearConv"}, true, "QLinearConv"},
        {{"QGemm", "Relu"}, true, "QGemm"},
        {{"Relu", "ConvInteger"}, true, "ConvInteger"},
        {{"Relu", "Integer"}, false, NULL}, /* no op before the suffix */
        {{"Relu", "IntegerRelu"}, false, NULL},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        qc_graph *g = graph_of(cases[c].ops, 2);
        ck_assert_msg(qc_graph_is_quantized(g) == cases[c].quantized, "case %zu", c);
        const char *op = qc_graph_quantized_op(g);
        if (cases[c].op)
            ck_assert_str_eq(op, cases[c].op);
        else
            ck_assert_ptr_null(op);
        qc_graph_destroy(g);
    }
    qc_graph *g = graph_of((const char *const[]){"Conv"}, 1);
    ck_assert_ptr_null(qc_graph_meta(g, "qcal.format"));
    ck_assert_int_eq(qc_graph_set_meta(g, "qcal.format", "qdq"), QC_OK);
    ck_assert_str_eq(qc_graph_meta(g, "qcal.format"), "qdq");
    ck_assert(qc_graph_is_quantized(g));
    ck_assert_ptr_null(qc_graph_quantized_op(g));
    qc_graph_destroy(g);
}
END_TEST

START_TEST(the_source_hash_is_sixteen_hex_digits_or_none)
{
    static const struct {
        const char *value;
        bool found;
        uint64_t hash;
    } cases[] = {
        {"00000000000000ff", true, 0xff},
        {"cbf29ce484222325", true, 0xcbf29ce484222325u},
        {"0xff", false, 0},
        {"00000000000000fff", false, 0},
        {"zzzzzzzzzzzzzzzz", false, 0},
        {NULL, false, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        qc_graph *g = graph_of(NULL, 0);
        if (cases[c].value)
            ck_assert_int_eq(qc_graph_set_meta(g, "qcal.source_model_hash", cases[c].value), QC_OK);
        uint64_t h = 0;
        ck_assert_msg(qc_graph_source_hash(g, &h) == cases[c].found, "case %zu", c);
        if (cases[c].found)
            ck_assert_uint_eq(h, cases[c].hash);
        qc_graph_destroy(g);
    }
}
END_TEST

/* ---- files ---------------------------------------------------------------------------------- */

static char tmp[256];

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/qcal-check-model-files-XXXXXX", base && base[0] ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static const char *at(const char *name)
{
    static char bufs[4][512];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", tmp, name);
    return b;
}

static void teardown(void)
{
    static const char *const names[] = {"m.onnx", "m.json", "s.json", "part.json"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        unlink(at(names[i]));
    rmdir(tmp);
}

#define CARD "{\"qcal\": 1, \"preprocess\": {\"color\": \"gray\", \"scale\": 0.5, \"mean\": [0.25], \"std\": [2]}}"

START_TEST(the_card_beside_the_model_wins_then_the_one_inside_it)
{
    qc_error err;
    char warning[256] = "";
    qc_model_card card = {0};
    const char *model = at("m.onnx");
    qc_graph *fp32 = graph_of((const char *const[]){"Conv"}, 1);
    qc_graph *q = graph_of((const char *const[]){"QLinearConv"}, 1);
    /* no card anywhere: an FP32 model takes the defaults, a quantized one is refused */
    ck_assert_int_eq(qc_model_card_of(model, fp32, 1, false, &card, warning, sizeof warning, &err), QC_OK);
    ck_assert(!card.found);
    qc_model_card_free(&card);
    ck_assert_int_eq(qc_model_card_of(model, q, 1, false, &card, warning, sizeof warning, &err), QC_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "the preprocessing of '") && strstr(err.msg, "m.json"), "%s", err.msg);
    qc_model_card_free(&card);
    ck_assert_int_eq(qc_model_card_of(model, q, 1, true, &card, warning, sizeof warning, &err), QC_OK);
    ck_assert(!card.found);
    qc_model_card_free(&card);
    /* inside it */
    ck_assert_int_eq(qc_graph_set_meta(q, "qcal.model_card", CARD), QC_OK);
    ck_assert_int_eq(qc_model_card_of(model, q, 1, false, &card, warning, sizeof warning, &err), QC_OK);
    ck_assert(card.found);
    ck_assert_float_eq(card.pp.scale, 0.5f);
    ck_assert_float_eq(card.pp.std[0], 2.0f);
    qc_model_card_free(&card);
    /* beside it, over the one inside */
    FILE *f = fopen(at("m.json"), "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"qcal\": 1, \"preprocess\": {\"color\": \"gray\", \"scale\": 0.25}}", f);
    fclose(f);
    ck_assert_int_eq(qc_model_card_of(model, q, 1, false, &card, warning, sizeof warning, &err), QC_OK);
    ck_assert(card.found);
    ck_assert_float_eq(card.pp.scale, 0.25f);
    qc_model_card_free(&card);
    qc_graph_destroy(q);
    qc_graph_destroy(fp32);
}
END_TEST

START_TEST(an_input_array_names_the_inputs_or_the_file_it_cannot_read)
{
    qc_error err;
    qc_graph *g;
    ck_assert_int_eq(qc_onnx_load("models/lenet.onnx", &g, &err), QC_OK);
    ck_assert_int_eq(qc_npy_bind_input(g, "lenet.onnx", "nope", "x.npy", &err), QC_ERR_USAGE);
    char want[300];
    snprintf(want, sizeof want, "'lenet.onnx' has no input 'nope' (its inputs: '%s')", g->tensors[g->inputs[0]].name);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(qc_npy_bind_input(g, "lenet.onnx", g->tensors[g->inputs[0]].name, at("none.npy"), &err),
                     QC_ERR_IO);
    ck_assert_msg(strstr(err.msg, "none.npy"), "%s", err.msg);
    qc_graph_destroy(g);
}
END_TEST

/* lenet's statistics of 8 images of data/calib with pp, as shard shard of n, saved to path. */
static void save_stats(const qc_graph *g, const qc_preprocess *pp, int shard, int n, const char *path)
{
    qc_error err;
    qc_image_set set;
    ck_assert_int_eq(qc_image_set_open(&set, "data/calib", NULL, &err), QC_OK);
    qc_stats_options so = {.pp = pp};
    qc_gather_options go = {.limit = 8, .batch = 4, .shard_i = shard, .shard_n = n, .threads = 1};
    qc_stats *s = NULL;
    ck_assert_msg(qc_stats_gather(g, &set, pp, &so, &go, &s, &err) == QC_OK, "%s", err.msg);
    s->model_hash = 42;
    ck_assert_int_eq(qc_stats_save(s, path, &err), QC_OK);
    qc_stats_destroy(s);
    qc_image_set_free(&set);
}

START_TEST(statistics_load_only_for_their_model_preprocessing_and_whole_split)
{
    qc_error err;
    qc_graph *g;
    ck_assert_int_eq(qc_onnx_load("models/lenet.onnx", &g, &err), QC_OK);
    qc_preprocess pp, other;
    qc_preprocess_default(&pp, 1);
    other = pp;
    other.scale = 1.0f;
    save_stats(g, &pp, 0, 1, at("s.json"));
    save_stats(g, &pp, 1, 2, at("part.json"));
    qc_stats *s = NULL;
    bool partial = true;
    ck_assert_msg(qc_stats_load_checked(at("s.json"), g, 42, "lenet", &pp, false, &partial, &s, &err) == QC_OK, "%s",
                  err.msg);
    ck_assert(s && !partial);
    qc_stats_destroy(s);
    ck_assert_int_eq(qc_stats_load_checked(at("s.json"), g, 42, "lenet", NULL, false, &partial, &s, &err), QC_OK);
    qc_stats_destroy(s);
    ck_assert_int_eq(qc_stats_load_checked(at("s.json"), g, 42, "lenet", &other, false, &partial, &s, &err),
                     QC_ERR_INPUT);
    ck_assert_ptr_null(s);
    ck_assert_int_ne(qc_stats_load_checked(at("s.json"), g, 43, "lenet", &pp, false, &partial, &s, &err), QC_OK);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(qc_stats_load_checked(at("part.json"), g, 42, "lenet", &pp, false, &partial, &s, &err),
                     QC_ERR_INPUT);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(qc_stats_load_checked(at("part.json"), g, 42, "lenet", &pp, true, &partial, &s, &err), QC_OK);
    ck_assert(s && partial);
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model files");
    TCase *meta = tcase_create("metadata");
    tcase_add_test(meta, a_quantized_model_is_told_by_its_ops_or_qcal_metadata);
    tcase_add_test(meta, the_source_hash_is_sixteen_hex_digits_or_none);
    suite_add_tcase(s, meta);
    TCase *files = tcase_create("files");
    tcase_set_timeout(files, 120);
    tcase_add_checked_fixture(files, setup, teardown);
    tcase_add_test(files, the_card_beside_the_model_wins_then_the_one_inside_it);
    tcase_add_test(files, an_input_array_names_the_inputs_or_the_file_it_cannot_read);
    tcase_add_test(files, statistics_load_only_for_their_model_preprocessing_and_whole_split);
    suite_add_tcase(s, files);
    return qc_check_run("check_model_files", s);
}
