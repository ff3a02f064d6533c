/* check_quantize_steps.c — the quantizer's steps over images and its files
 * (calib/quantize-images.c, calib/quantize-write.c): accuracy-aware quantization and method
 * auto on an image set give what the algorithms give on the same images decoded by hand, with
 * the labels of the set's classes; their errors name the images or the model; the files of a
 * quantization are all written, or none when one fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calib/calib.h"
#include "check-util.h"
#include "graph/graph.h"
#include "io/io.h"
#include "stats/stats.h"

#define PIXELS (28 * 28)
#define N_VAL 60

/* lenet, statistics (with histograms) over 64 calibration images, 4-bit options */
typedef struct {
    qc_graph *g;
    qc_stats *s;
    qc_preprocess pp;
    qc_quantize_options q;
} lenet_case;

static void lenet_setup(lenet_case *c)
{
    qc_error err;
    qc_image_set calib;
    ck_assert_msg(qc_onnx_load("models/lenet.onnx", &c->g, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(qc_pass_fold_batchnorm(c->g, &err), QC_OK);
    ck_assert_int_eq(qc_image_set_open(&calib, "data/calib", NULL, &err), QC_OK);
    qc_preprocess_default(&c->pp, 1);
    c->pp.mean[0] = 0.286f; /* models/lenet.json's normalisation */
    c->pp.std[0] = 0.353f;
    qc_stats_options so = {.pp = &c->pp, .histograms = true};
    qc_gather_options go = {.limit = 64, .batch = 32, .shard_n = 1, .threads = 1};
    ck_assert_msg(qc_stats_gather(c->g, &calib, &c->pp, &so, &go, &c->s, &err) == QC_OK, "%s", err.msg);
    qc_image_set_free(&calib);
    qc_quantize_options_default(&c->q);
    c->q.weight_bits = c->q.act_bits = 4;
}

static void lenet_free(lenet_case *c)
{
    qc_stats_destroy(c->s);
    qc_graph_destroy(c->g);
}

static void same_score(const qc_aa_score *a, const qc_aa_score *b)
{
    ck_assert(a->images == b->images && a->labelled == b->labelled && a->correct == b->correct &&
              a->agree == b->agree && a->kl == b->kl);
}

START_TEST(accuracy_aware_on_a_set_is_the_algorithm_on_its_images_and_class_labels)
{
    lenet_case c;
    lenet_setup(&c);
    qc_error err;
    qc_image_set val;
    ck_assert_int_eq(qc_image_set_open(&val, "data/val", NULL, &err), QC_OK);
    ck_assert_int_eq(qc_image_set_sample(&val, N_VAL, 3, &err), QC_OK);
    /* the reference: every image read alone, its label the number of its class folder */
    float *px = malloc(sizeof(float) * PIXELS * N_VAL);
    int labels[N_VAL];
    for (int i = 0; i < N_VAL; i++) {
        ck_assert_msg(qc_image_load(val.items[i].path, &c.pp, 1, 28, 28, px + i * PIXELS, &err) == QC_OK, "%s",
                      err.msg);
        labels[i] = atoi(val.items[i].rel); /* "3_dress/test-00042.png": class 3 of the sorted folders */
    }
    qc_aa_options o = {.fp32 = c.g, .stats = c.s, .q = &c.q, .metric = QC_AA_AGREEMENT, .budget = 100.0,
                       .sensitivity_images = 20, .max_layers = 1, .threads = 2};
    qc_aa_options ref = o;
    ref.inputs = px;
    ref.n = N_VAL;
    ref.stride = PIXELS;
    ref.labels = labels;
    ref.classes = 10;
    ref.threads = 1;
    qc_aa_result got, want;
    ck_assert_msg(qc_accuracy_aware_images(&o, "models/lenet.onnx", &val, &c.pp, &got, &err) == QC_OK, "%s",
                  err.msg);
    ck_assert_msg(qc_accuracy_aware(&ref, &want, &err) == QC_OK, "%s", err.msg);
    ck_assert_msg(got.fp32.labelled == N_VAL && got.fp32.correct > N_VAL / 2, "%lld labelled, %lld correct",
                  (long long)got.fp32.labelled, (long long)got.fp32.correct);
    same_score(&got.fp32, &want.fp32);
    same_score(&got.quantized, &want.quantized);
    ck_assert_int_eq(got.n_steps, 1);
    ck_assert_int_eq(got.n_ranked, want.n_ranked);
    ck_assert_str_eq(got.steps[0].node, want.steps[0].node);
    same_score(&got.steps[0].score, &want.steps[0].score);
    qc_aa_result_free(&got);
    qc_aa_result_free(&want);
    free(px);
    qc_image_set_free(&val);
    lenet_free(&c);
}
END_TEST

START_TEST(a_top1_budget_on_unlabelled_images_is_refused_naming_them)
{
    lenet_case c;
    lenet_setup(&c);
    qc_error err;
    qc_image_set flat;
    ck_assert_int_eq(qc_image_set_open(&flat, "data/val/3_dress", NULL, &err), QC_OK);
    ck_assert(flat.n_items > 0 && flat.items[0].label == -1);
    qc_aa_options o = {.fp32 = c.g, .stats = c.s, .q = &c.q, .metric = QC_AA_TOP1, .budget = 1.0,
                       .sensitivity_images = 20, .max_layers = -1, .threads = 1};
    qc_aa_result r;
    ck_assert_int_eq(qc_accuracy_aware_images(&o, "models/lenet.onnx", &flat, &c.pp, &r, &err), QC_ERR_USAGE);
    ck_assert_msg(!strncmp(err.msg, "data/val/3_dress: ", 18), "%s", err.msg);
    qc_aa_result_free(&r);
    qc_image_set_free(&flat);
    lenet_free(&c);
}
END_TEST

START_TEST(method_auto_on_a_set_is_the_chooser_on_its_balanced_subset)
{
    lenet_case c;
    lenet_setup(&c);
    qc_error err;
    qc_image_set calib;
    ck_assert_int_eq(qc_image_set_open(&calib, "data/calib", NULL, &err), QC_OK);
    qc_image_input in = {.channels = 1, .height = 28, .width = 28, .dims = {1, 1, 28, 28}};
    float *px = NULL;
    int64_t n = 0;
    ck_assert_int_eq(qc_auto_load_images(&calib, &c.pp, &in, 40, 1, &px, &n, &err), QC_OK);
    ck_assert_int_eq(n, 40);
    qc_auto_options o = {.fp32 = c.g, .stats = c.s, .q = &c.q, .threads = 2};
    qc_auto_options ref = o;
    ref.inputs = px;
    ref.n = n;
    ref.stride = PIXELS;
    qc_auto_result got, want;
    ck_assert_msg(qc_method_auto_images(&o, "models/lenet.onnx", &calib, &c.pp, 40, &got, &err) == QC_OK, "%s",
                  err.msg);
    ck_assert_msg(qc_method_auto(&ref, &want, &err) == QC_OK, "%s", err.msg);
    ck_assert(got.n > 0 && got.n == want.n && got.images == want.images && got.images == 40);
    for (int i = 0; i < got.n; i++)
        ck_assert(got.choices[i].choice == want.choices[i].choice && got.choices[i].local == want.choices[i].local);
    ck_assert(got.kl == want.kl && got.kl_local == want.kl_local);
    qc_auto_result_free(&got);
    qc_auto_result_free(&want);
    /* statistics without histograms: the chooser's refusal, named by the model */
    qc_stats *plain = NULL;
    qc_stats_options so = {.pp = &c.pp};
    qc_gather_options go = {.limit = 16, .batch = 16, .shard_n = 1, .threads = 1};
    ck_assert_int_eq(qc_stats_gather(c.g, &calib, &c.pp, &so, &go, &plain, &err), QC_OK);
    o.stats = plain;
    ck_assert_int_eq(qc_method_auto_images(&o, "models/lenet.onnx", &calib, &c.pp, 40, &got, &err), QC_ERR_USAGE);
    ck_assert_msg(!strncmp(err.msg, "models/lenet.onnx: ", 19), "%s", err.msg);
    qc_auto_result_free(&got);
    qc_stats_destroy(plain);
    free(px);
    qc_image_set_free(&calib);
    lenet_free(&c);
}
END_TEST

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

START_TEST(the_files_of_a_quantization_are_all_written_or_none)
{
    lenet_case c;
    lenet_setup(&c);
    c.q.weight_bits = c.q.act_bits = 8;
    qc_error err;
    qc_graph *qg = NULL;
    qc_quantize_report report = {0};
    ck_assert_msg(qc_quantize(c.g, c.s, &c.q, &qg, &report, &err) == QC_OK, "%s", err.msg);
    char dir[] = "/tmp/qcal-write-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char model[256], trt[256], ort[256], config[256], card[256], missing[256];
    snprintf(model, sizeof model, "%s/q.onnx", dir);
    snprintf(card, sizeof card, "%s/q.json", dir);
    snprintf(trt, sizeof trt, "%s/q.cache", dir);
    snprintf(ort, sizeof ort, "%s/overrides.json", dir);
    snprintf(config, sizeof config, "%s/config.json", dir);
    snprintf(missing, sizeof missing, "%s/no-such-folder/q.onnx", dir);
    /* the model cannot be written: the range files and config written before it are removed */
    qc_quantize_files f = {.model = missing, .source = "models/lenet.onnx", .version = "0.1-test",
                           .trt_cache = trt, .ort_overrides = ort, .config = config};
    qc_card_copy copied;
    char target[512];
    ck_assert_int_ne(qc_quantize_write(qg, &report, &c.q, &f, &copied, target, sizeof target, &err), QC_OK);
    ck_assert(!exists(trt) && !exists(ort) && !exists(config) && !exists(missing));
    /* all written: the model reads back with as many nodes, lenet's card copied beside it */
    f.model = model;
    ck_assert_msg(qc_quantize_write(qg, &report, &c.q, &f, &copied, target, sizeof target, &err) == QC_OK, "%s",
                  err.msg);
    ck_assert(exists(trt) && exists(ort) && exists(config) && exists(model));
    ck_assert_int_eq(copied, exists("models/lenet.json") ? QC_CARD_COPIED : QC_CARD_NONE);
    ck_assert_str_eq(target, card);
    qc_graph *back = NULL;
    ck_assert_msg(qc_onnx_load(model, &back, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(back->n_nodes, qg->n_nodes);
    ck_assert_str_eq(qc_graph_meta(back, "qcal.version"), "0.1-test");
    ck_assert_ptr_null(qc_graph_meta(back, "qcal.model_card"));
    qc_graph_destroy(back);
    /* with a card and the preprocessing flags given: the card inside, and written beside */
    qc_model_card lenet_card = {0};
    ck_assert_int_eq(qc_model_card_load("models/lenet.onnx", 1, &lenet_card, NULL, 0, &err), QC_OK);
    c.pp.mean[0] = 0.5f;
    f.card = &lenet_card;
    f.pp = &c.pp;
    f.card_changed = true;
    f.trt_cache = f.ort_overrides = f.config = NULL;
    ck_assert_msg(qc_quantize_write(qg, &report, &c.q, &f, &copied, target, sizeof target, &err) == QC_OK, "%s",
                  err.msg);
    char *want_json = NULL, *beside = NULL;
    size_t size;
    ck_assert_int_eq(qc_model_card_json(&lenet_card, &c.pp, &want_json, &err), QC_OK);
    ck_assert_int_eq(qc_onnx_load(model, &back, &err), QC_OK);
    ck_assert_str_eq(qc_graph_meta(back, "qcal.model_card"), want_json);
    ck_assert_int_eq(qc_read_file(card, &beside, &size, &err), QC_OK);
    ck_assert(size == strlen(want_json) + 1 && !memcmp(beside, want_json, size - 1));
    free(beside);
    free(want_json);
    qc_model_card_free(&lenet_card);
    qc_graph_destroy(back);
    remove(model);
    remove(card);
    remove(trt);
    remove(ort);
    remove(config);
    ck_assert_int_eq(rmdir(dir), 0);
    qc_quantize_report_free(&report);
    qc_graph_destroy(qg);
    lenet_free(&c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("quantize_steps");
    TCase *t = tcase_create("lenet");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, accuracy_aware_on_a_set_is_the_algorithm_on_its_images_and_class_labels);
    tcase_add_test(t, a_top1_budget_on_unlabelled_images_is_refused_naming_them);
    tcase_add_test(t, method_auto_on_a_set_is_the_chooser_on_its_balanced_subset);
    tcase_add_test(t, the_files_of_a_quantization_are_all_written_or_none);
    suite_add_tcase(s, t);
    return qc_check_run("check_quantize_steps", s);
}
