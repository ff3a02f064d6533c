/* check_compare.c — qcal compare's engine (calib/compare.c): each variant's scores equal its
 * quantized graph run image by image on one executor, the counts and KL equal a plain recount,
 * nothing but the seconds depends on the threads, and the gate's figures are the hand values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calib/calib.h"
#include "check-util.h"
#include "graph/graph.h"
#include "io/io.h"
#include "stats/stats.h"

#define N_IMAGES 24
#define CLASSES 10

static const qc_compare_spec specs[] = {
    {QC_SCHEME_GEMMLOWP, QC_GRANULARITY_TENSOR, QC_RANGE_MINMAX, 8, "gemmlowp/tensor"},
    {QC_SCHEME_SYMLOWP, QC_GRANULARITY_CHANNEL, QC_RANGE_ENTROPY, 8, "symlowp/channel/entropy"},
    {QC_SCHEME_GEMMLOWP, QC_GRANULARITY_COMPENSATED, QC_RANGE_MINMAX, 6, "gemmlowp/compensated/6bit"},
};
#define N_SPECS ((int)(sizeof specs / sizeof *specs))

typedef struct {
    int begun, ended;
    char names[8][64];
} shown;

static void show_begin(void *ctx, const char *what, int64_t total)
{
    shown *s = ctx;
    ck_assert_int_eq(total, N_IMAGES);
    snprintf(s->names[s->begun++ % 8], sizeof s->names[0], "%s", what);
}

static void show_end(void *ctx)
{
    ((shown *)ctx)->ended++;
}

/* lenet (BatchNorm folded) with its statistics over data/calib, per channel with histograms,
 * and its image input: what compare's command sets before qc_compare_run. */
static void model_init(qc_compare_model *m, const qc_preprocess *pp)
{
    qc_error err;
    *m = (qc_compare_model){.path = "models/lenet.onnx"};
    ck_assert_msg(qc_onnx_load(m->path, &m->g, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(qc_pass_fold_batchnorm(m->g, &err), QC_OK);
    qc_image_set calib;
    ck_assert_int_eq(qc_image_set_open(&calib, "data/calib", NULL, &err), QC_OK);
    qc_stats_options so = {.per_channel = true, .histograms = true, .pp = pp};
    qc_gather_options go = {.limit = 32, .batch = 16, .shard_n = 1, .threads = 2};
    ck_assert_msg(qc_stats_gather(m->g, &calib, pp, &so, &go, &m->stats, &err) == QC_OK, "%s", err.msg);
    qc_image_set_free(&calib);
    qc_image_input in;
    ck_assert_int_eq(qc_image_input_of(m->g, m->path, "compare", true, &in, &err), QC_OK);
    qc_compare_model_input(m, &in);
    ck_assert_int_eq(m->classes, CLASSES);
}

/* The reference of variant k (k = -1: FP32): its graph quantized and fused here, each image
 * run alone on one executor; the counts and KL summed in image order. */
static void reference(const qc_compare_model *m, const qc_compare_options *o, int k, float *logits,
                      qc_compare_result *want)
{
    qc_error err;
    qc_graph *q = NULL;
    if (k >= 0) {
        qc_quantize_options qo;
        qc_compare_quantize_options(o, k, &qo);
        ck_assert_msg(qc_quantize(m->g, m->stats, &qo, &q, NULL, &err) == QC_OK, "%s", err.msg);
        ck_assert_int_eq(qc_pass_fuse_qdq(q, &err), QC_OK);
    }
    qc_exec *x = qc_exec_create(q ? q : m->g);
    *want = (qc_compare_result){0};
    for (int64_t i = 0; i < m->n; i++) {
        qc_value in = qc_value_f32(4, (int64_t[]){1, 1, 28, 28}, m->pixels + i * 28 * 28);
        ck_assert_int_eq(qc_exec_run(x, &in, 1, &err), QC_OK);
        float *l = logits + i * CLASSES;
        memcpy(l, qc_exec_output(x, 0)->data, sizeof(float) * CLASSES);
        int p = qc_argmax(l, CLASSES);
        want->correct += m->labels[i] >= 0 && p == m->labels[i];
        want->agree += p == qc_argmax(m->fp32_logits + i * CLASSES, CLASSES);
        want->kl_sum += qc_kl_softmax(m->fp32_logits + i * CLASSES, l, CLASSES);
    }
    qc_exec_destroy(x);
    qc_graph_destroy(q);
}

/* On the variants of m: a --min-sqnr above every activation's SQNR fails each variant once,
 * naming its lowest tensor; the page of the results is written and names every variant. */
static void sqnr_gate_and_page(const qc_compare_model *m)
{
    char failures[2 * N_SPECS][256];
    qc_compare_gates g = {.gate = "all", .max_drop = NAN, .min_sqnr = 1000};
    ck_assert_int_eq(qc_compare_gate_failures(m, specs, N_SPECS, &g, failures, 0), N_SPECS);
    for (int k = 0; k < N_SPECS; k++) {
        int which;
        double db = qc_compare_min_sqnr(m, k, &which);
        ck_assert_int_ge(which, 0);
        ck_assert(m->stats->tensors[which].role != QC_ROLE_WEIGHT && db < 1000);
        char want[256];
        snprintf(want, sizeof want, "variant '%s' of '%s': tensor '%s' has an SQNR of %.2f dB (--min-sqnr 1000)",
                 specs[k].name, m->path, m->stats->tensors[which].name, db);
        ck_assert_str_eq(failures[k], want);
    }
    char path[] = "/tmp/qcal-check-compare-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    const char *fail_ptrs[] = {failures[0]};
    qc_compare_page page = {.title = "qcal compare", .version = "test", .calib = "data/calib", .val = "data/val",
                            .v = specs, .n = N_SPECS, .gates = &g, .layer_images = 4, .failures = fail_ptrs,
                            .n_failures = 1};
    qc_error err;
    ck_assert_msg(qc_compare_html_write(m, 1, &page, path, &err) == QC_OK, "%s", err.msg);
    char *html;
    size_t size;
    ck_assert_int_eq(qc_read_file(path, &html, &size, &err), QC_OK);
    for (int k = 0; k < N_SPECS; k++)
        ck_assert_msg(strstr(html, specs[k].name), "%s", specs[k].name);
    ck_assert_ptr_nonnull(strstr(html, "data/calib"));
    free(html);
    unlink(path);
}

START_TEST(variants_equal_their_graph_on_one_executor_for_any_threads)
{
    qc_error err;
    qc_image_set val;
    ck_assert_int_eq(qc_image_set_open(&val, "data/val", NULL, &err), QC_OK);
    ck_assert_int_ge(val.n_items, N_IMAGES);
    qc_preprocess pp;
    qc_preprocess_default(&pp, 1);
    static qc_compare_model m[2];
    shown show[2] = {{0}};
    for (int r = 0; r < 2; r++) {
        model_init(&m[r], &pp);
        qc_compare_options o = {.v = specs, .n = N_SPECS, .limit = N_IMAGES, .layer_images = 4,
                                .threads = r + 1, .show = {show_begin, NULL, show_end, &show[r]}};
        ck_assert_msg(qc_compare_run(&m[r], &val, &pp, &o, &err) == QC_OK, "%s", err.msg);
        ck_assert_int_eq(show[r].begun, 1 + N_SPECS);
        ck_assert_int_eq(show[r].ended, 1 + N_SPECS);
        ck_assert_str_eq(show[r].names[0], "fp32");
        ck_assert_str_eq(show[r].names[N_SPECS], specs[N_SPECS - 1].name);
    }
    const int64_t n = N_IMAGES;
    ck_assert_int_eq(m[0].n, n);
    ck_assert_int_eq(m[0].labelled, n);
    ck_assert(!memcmp(m[0].fp32_logits, m[1].fp32_logits, sizeof(float) * (size_t)(n * CLASSES)));
    ck_assert_int_eq(m[0].fp32_correct, m[1].fp32_correct);
    qc_compare_options o = {.v = specs, .n = N_SPECS};
    static float want_logits[N_IMAGES * CLASSES];
    qc_compare_result want;
    reference(&m[0], &o, -1, want_logits, &want);
    ck_assert(!memcmp(want_logits, m[0].fp32_logits, sizeof want_logits));
    ck_assert_int_eq(want.correct, m[0].fp32_correct);
    for (int k = 0; k < N_SPECS; k++) {
        reference(&m[0], &o, k, want_logits, &want);
        for (int r = 0; r < 2; r++) {
            const qc_compare_result *v = &m[r].var[k];
            ck_assert_msg(!memcmp(want_logits, v->logits, sizeof want_logits), "%s, threads %d", specs[k].name, r + 1);
            ck_assert_int_eq(v->correct, want.correct);
            ck_assert_int_eq(v->agree, want.agree);
            ck_assert(v->kl_sum == want.kl_sum);
            /* the per-layer error runs on one thread: the same sums */
            for (int t = 0; t < m[r].stats->n_tensors; t++) {
                const qc_layer_error *a = &m[0].ev[k].layers[t], *b = &m[r].ev[k].layers[t];
                ck_assert_int_eq(a->acc.samples, b->acc.samples);
                qc_error_metrics ea, eb;
                qc_error_acc_finish(&a->acc, &ea);
                qc_error_acc_finish(&b->acc, &eb);
                ck_assert(a->acc.samples == 0 || !memcmp(&ea, &eb, sizeof ea));
            }
        }
        ck_assert_double_eq(qc_compare_top1(&m[0], k), (double)want.correct / (double)n);
        ck_assert_double_eq(qc_compare_agreement(&m[0], k), (double)want.agree / (double)n);
    }
    sqnr_gate_and_page(&m[0]);
    for (int r = 0; r < 2; r++)
        qc_compare_model_free(&m[r], N_SPECS);
    qc_image_set_free(&val);
}
END_TEST

/* A weight's node is the quantized node that reads it; an activation's, the node that writes
 * it; a tensor of no quantized node has none. */
START_TEST(a_tensor_maps_to_the_node_exclude_takes)
{
    qc_error err;
    qc_preprocess pp;
    qc_preprocess_default(&pp, 1);
    static qc_compare_model m;
    model_init(&m, &pp);
    qc_compare_options o = {.v = specs, .n = 1};
    qc_quantize_options qo;
    qc_compare_quantize_options(&o, 0, &qo);
    ck_assert_int_eq(qc_eval_variant_create(m.g, m.stats, &qo, specs[0].name, &m.ev[0], &err), QC_OK);
    int conv = -1;
    for (int i = 0; i < m.g->n_nodes && conv < 0; i++)
        if (!strcmp(m.g->nodes[i].op_type, "Conv"))
            conv = i;
    ck_assert_int_ge(conv, 0);
    const qc_node *c = &m.g->nodes[conv];
    ck_assert_str_eq(qc_compare_node_of(&m, 0, m.g->tensors[c->inputs[1]].name), c->name);
    ck_assert_str_eq(qc_compare_node_of(&m, 0, m.g->tensors[c->outputs[0]].name), c->name);
    ck_assert_ptr_null(qc_compare_node_of(&m, 0, "no such tensor"));
    qc_compare_model_free(&m, 1);
}
END_TEST

/* The gate's figures on hand counts: 4 labelled images, FP32 right on 3. */
START_TEST(drop_and_faithfulness_are_the_hand_values)
{
    static qc_compare_model m;
    m = (qc_compare_model){.n = 4, .labelled = 4, .fp32_correct = 3};
    m.var[0] = (qc_compare_result){.correct = 2, .agree = 3, .kl_sum = 0.5};
    m.var[1] = (qc_compare_result){.correct = 3, .agree = 3, .kl_sum = 0.25};
    m.var[2] = (qc_compare_result){.correct = 1, .agree = 4, .kl_sum = 0.75};
    ck_assert_double_eq(qc_compare_fp32_top1(&m), 0.75);
    ck_assert_double_eq(qc_compare_top1(&m, 0), 0.5);
    ck_assert_double_eq(qc_compare_agreement(&m, 0), 0.75);
    ck_assert_double_eq(qc_compare_drop(&m, 0), 25.0);
    ck_assert_double_eq(qc_compare_drop(&m, 1), 0.0);
    ck_assert(qc_compare_more_faithful(&m, 1, 0));  /* same agreement, lower KL */
    ck_assert(!qc_compare_more_faithful(&m, 0, 1));
    ck_assert(qc_compare_more_faithful(&m, 2, 1));  /* agreement first, whatever its top-1 */
    m.labelled = 0;                                 /* without labels: agreement's drop */
    ck_assert(isnan(qc_compare_top1(&m, 0)));
    ck_assert_double_eq(qc_compare_drop(&m, 0), 25.0);
    ck_assert_double_eq(qc_compare_drop(&m, 2), 0.0);
}
END_TEST

/* The grid: method by bits by scheme by granularity, "all" for every name, the method and
 * the width named only past minmax at 8 bits; bad lists are usage errors naming the option. */
START_TEST(the_grid_names_its_variants_in_order_and_refuses_bad_lists)
{
    static qc_compare_spec v[QC_COMPARE_MAX_VARIANTS];
    int n;
    qc_error err;
    qc_compare_lists plain = {"gemmlowp,symlowp", "tensor,compensated", "minmax", "8"};
    ck_assert_int_eq(qc_compare_grid(&plain, v, &n, &err), QC_OK);
    ck_assert_int_eq(n, 4);
    const char *want[] = {"gemmlowp/tensor", "gemmlowp/compensated", "symlowp/tensor", "symlowp/compensated"};
    for (int k = 0; k < n; k++)
        ck_assert_str_eq(v[k].name, want[k]);
    ck_assert(v[3].scheme == QC_SCHEME_SYMLOWP && v[3].granularity == QC_GRANULARITY_COMPENSATED);
    ck_assert(v[3].method == QC_RANGE_MINMAX && v[3].bits == 8);
    qc_compare_lists named = {"mixed", "channel", "entropy,auto", "4,8"};
    ck_assert_int_eq(qc_compare_grid(&named, v, &n, &err), QC_OK);
    const char *want2[] = {"mixed/channel/entropy/4bit", "mixed/channel/entropy/8bit", "mixed/channel/auto/4bit",
                           "mixed/channel/auto/8bit"};
    ck_assert_int_eq(n, 4);
    for (int k = 0; k < n; k++)
        ck_assert_str_eq(v[k].name, want2[k]);
    ck_assert(v[2].method == QC_METHOD_AUTO && v[2].bits == 4);
    qc_compare_lists every = {"all", "all", "all", "6"};
    ck_assert_int_eq(qc_compare_grid(&every, v, &n, &err), QC_OK);
    ck_assert_int_eq(n, 3 * 3 * QC_RANGE_COUNT);
    ck_assert_str_eq(v[0].name, "gemmlowp/tensor/minmax/6bit");
    ck_assert_int_eq(v[n - 1].method, QC_RANGE_COUNT - 1);
    struct {
        qc_compare_lists l;
        const char *msg;
    } bad[] = {
        {{"gemmlowp", "tensor", "minmax", "9"}, "--bits takes a list of bit widths from 2 to 8, not '9'"},
        {{"tflite", "tensor", "minmax", "8"}, "--schemes takes a list of gemmlowp, symlowp, mixed or all, not 'tflite'"},
        {{"gemmlowp", "layer", "minmax", "8"}, "--granularity takes a list of tensor, channel, compensated or all, "
                                                "not 'layer'"},
        {{"gemmlowp", "tensor", "kl", "8"}, "--methods takes a list of minmax, avg, avgstd, meanstd, percentile, "
                                            "entropy, mse, auto or all, not 'kl'"},
        {{"gemmlowp", "tensor", "minmax", ","}, "--bits takes a list of bit widths from 2 to 8, not ','"},
        {{"gemmlowp", "tensor", "minmax", "2,3,4,5,6,7,8,2,3"}, "--bits takes at most 8 items, not '2,3,4,5,6,7,8,2,3'"},
        {{"all", "all", "all", "7,8"}, "at most 64 variants"},
        {{"gemmlowp", "tensor,tensor", "minmax", "8"}, "variant 'gemmlowp/tensor' is listed twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(qc_compare_grid(&bad[i].l, v, &n, &err), QC_ERR_USAGE);
        ck_assert_str_eq(err.msg, bad[i].msg);
    }
}
END_TEST

/* The gates on hand counts: by default only the most faithful variant is gated, --gate all
 * every variant, a name that one; each drop past the gate is a sentence naming both. */
START_TEST(gates_apply_to_the_most_faithful_variant_or_the_named_ones)
{
    static qc_compare_model m;
    static qc_stats none; /* no tensor measured: no SQNR gate */
    m = (qc_compare_model){.path = "x.onnx", .stats = &none, .n = 4, .labelled = 4, .fp32_correct = 3};
    m.var[0] = (qc_compare_result){.correct = 2, .agree = 3, .kl_sum = 0.5};
    m.var[1] = (qc_compare_result){.correct = 3, .agree = 3, .kl_sum = 0.25};
    m.var[2] = (qc_compare_result){.correct = 1, .agree = 4, .kl_sum = 0.75};
    qc_compare_spec v[3] = {{.name = "a"}, {.name = "b"}, {.name = "c"}};
    for (int k = 0; k < 3; k++) {
        ck_assert(qc_compare_gated(&m, v, 3, k, NULL) == (k == 2)); /* the highest agreement */
        ck_assert(qc_compare_gated(&m, v, 3, k, "all"));
        ck_assert(qc_compare_gated(&m, v, 3, k, "b") == (k == 1));
    }
    m.var[2].agree = 3, m.var[2].kl_sum = 0.25; /* a tie with b: the first of them */
    ck_assert(qc_compare_gated(&m, v, 3, 1, NULL) && !qc_compare_gated(&m, v, 3, 2, NULL));
    m.var[2].agree = 4;
    char failures[6][256];
    qc_compare_gates g = {.max_drop = 10, .min_sqnr = NAN};
    ck_assert_int_eq(qc_compare_gate_failures(&m, v, 3, &g, failures, 0), 1);
    ck_assert_str_eq(failures[0], "variant 'c' of 'x.onnx' drops top-1 by 50.00 points (--max-drop 10)");
    g.gate = "all";
    ck_assert_int_eq(qc_compare_gate_failures(&m, v, 3, &g, failures, 1), 3); /* a and c, after the first */
    ck_assert_str_eq(failures[1], "variant 'a' of 'x.onnx' drops top-1 by 25.00 points (--max-drop 10)");
    g.max_drop = NAN;
    ck_assert_int_eq(qc_compare_gate_failures(&m, v, 3, &g, failures, 0), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("compare");
    TCase *tc = tcase_create("compare");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, variants_equal_their_graph_on_one_executor_for_any_threads);
    tcase_add_test(tc, a_tensor_maps_to_the_node_exclude_takes);
    tcase_add_test(tc, drop_and_faithfulness_are_the_hand_values);
    tcase_add_test(tc, the_grid_names_its_variants_in_order_and_refuses_bad_lists);
    tcase_add_test(tc, gates_apply_to_the_most_faithful_variant_or_the_named_ones);
    suite_add_tcase(s, tc);
    return qc_check_run("check_compare", s);
}
