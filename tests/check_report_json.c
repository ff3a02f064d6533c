/* check_report_json.c — the JSON documents of calib/report-json.c: a small result built in
 * memory, written to a temporary file, parsed back with cJSON, and its keys and values
 * checked against the hand values (NaN and ±inf written as null). */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../calib/calib.h"
#include "check-util.h"

/* What a writer put in f, parsed; fails the test when it is not one JSON document. */
static cJSON *parse_written(FILE *f)
{
    long size = ftell(f);
    ck_assert(size > 0);
    char *text = calloc((size_t)size + 1, 1);
    ck_assert_ptr_nonnull(text);
    rewind(f);
    ck_assert_uint_eq(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    ck_assert_msg(text[size - 1] == '\n', "a document ends its line");
    cJSON *doc = cJSON_Parse(text);
    ck_assert_msg(doc != NULL, "not JSON: %s", text);
    free(text);
    return doc;
}

static cJSON *at(const cJSON *o, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(v != NULL, "no key '%s'", key);
    return v;
}

static double num(const cJSON *o, const char *key)
{
    cJSON *v = at(o, key);
    ck_assert_msg(cJSON_IsNumber(v), "'%s' is not a number", key);
    return v->valuedouble;
}

static const char *str(const cJSON *o, const char *key)
{
    cJSON *v = at(o, key);
    ck_assert_msg(cJSON_IsString(v), "'%s' is not a string", key);
    return v->valuestring;
}

static bool is_null(const cJSON *o, const char *key)
{
    return cJSON_IsNull(at(o, key));
}

static bool is_true(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(at(o, key));
}

/* A model of two variants over 4 labelled images: FP32 3 right; variant 0 2 right, agreeing
 * 3 times, KL 0.5 in all; a weight never measured and an activation quantized losslessly. */
START_TEST(compare_writes_each_variants_figures_and_null_for_what_is_not_finite)
{
    static qc_compare_model m;
    m = (qc_compare_model){.path = "m\"odel.onnx", .n = 4, .labelled = 4, .fp32_correct = 3};
    m.g = qc_graph_create("m");
    m.stats = qc_stats_create_empty(&(qc_stats_options){0});
    int64_t dims[] = {1, 2};
    ck_assert_int_eq(qc_stats_add_tensor(m.stats, "w", QC_ROLE_WEIGHT, 2, dims, -1), 0);
    ck_assert_int_eq(qc_stats_add_tensor(m.stats, "act", QC_ROLE_ACTIVATION, 2, dims, -1), 1);
    m.var[0] = (qc_compare_result){.correct = 2, .agree = 3, .kl_sum = 0.5};
    m.var[1] = (qc_compare_result){.correct = 3, .agree = 4, .kl_sum = 0.0};
    static qc_layer_error layers[2][2];
    const float x[] = {1.0f, -2.0f};
    for (int k = 0; k < 2; k++) {
        qc_error_acc_init(&layers[k][1].acc);
        qc_error_acc_add(&layers[k][1].acc, x, x, 2);
        layers[k][1].has_range = true;
        layers[k][1].lo = -2.0f;
        layers[k][1].hi = 1.0f;
        m.ev[k].layers = layers[k];
    }
    qc_compare_spec v[2] = {{QC_SCHEME_GEMMLOWP, QC_GRANULARITY_TENSOR, QC_RANGE_MINMAX, 8, "gemmlowp/tensor"},
                            {QC_SCHEME_SYMLOWP, QC_GRANULARITY_CHANNEL, QC_RANGE_ENTROPY, 4, "symlowp/channel"}};
    qc_compare_gates gates = {.gate = NULL, .max_drop = NAN, .min_sqnr = 20};
    const char *failures[] = {"a failure"};
    qc_compare_page p = {.version = "9.9", .calib = NULL, .val = "val", .v = v, .n = 2, .gates = &gates,
                         .layer_images = 4, .failures = failures, .n_failures = 1, .calib_skipped = 1,
                         .val_skipped = 2};
    FILE *f = tmpfile();
    qc_compare_json_write(f, &m, 1, &p);
    cJSON *doc = parse_written(f);
    ck_assert_str_eq(str(doc, "format"), "qcal-compare");
    ck_assert_int_eq((int)num(doc, "version"), QC_COMPARE_VERSION);
    ck_assert_str_eq(str(doc, "qcal"), "9.9");
    ck_assert(is_null(doc, "calib"));
    ck_assert_int_eq((int)num(at(doc, "skipped"), "val"), 2);
    cJSON *variants = at(doc, "variants");
    ck_assert_int_eq(cJSON_GetArraySize(variants), 2);
    ck_assert_str_eq(str(cJSON_GetArrayItem(variants, 1), "method"), "entropy");
    ck_assert_str_eq(str(cJSON_GetArrayItem(variants, 1), "granularity"), "channel");
    cJSON *model = cJSON_GetArrayItem(at(doc, "models"), 0);
    ck_assert_str_eq(str(model, "model"), "m\"odel.onnx");
    ck_assert_double_eq(num(at(model, "fp32"), "top1"), 0.75);
    cJSON *v0 = cJSON_GetArrayItem(at(model, "variants"), 0), *v1 = cJSON_GetArrayItem(at(model, "variants"), 1);
    ck_assert_double_eq(num(v0, "top1"), 0.5);
    ck_assert_double_eq(num(v0, "delta"), -0.25);
    ck_assert_double_eq(num(v0, "agreement"), 0.75);
    ck_assert_double_eq(num(v0, "kl"), 0.125);
    ck_assert_double_eq(num(v1, "delta"), 0.0);
    ck_assert(!is_true(v0, "gated") && is_true(v1, "gated")); /* the most faithful: full agreement */
    cJSON *l = at(v0, "layers");
    ck_assert_int_eq(cJSON_GetArraySize(l), 1); /* the weight was not measured */
    cJSON *act = cJSON_GetArrayItem(l, 0);
    ck_assert_str_eq(str(act, "tensor"), "act");
    ck_assert_str_eq(str(act, "role"), "activation");
    ck_assert(is_null(act, "node") && is_null(act, "sqnr_db") && is_true(act, "identical"));
    ck_assert(is_null(act, "clipped"));
    ck_assert_double_eq(cJSON_GetArrayItem(at(act, "range"), 0)->valuedouble, -2.0);
    cJSON *g = at(doc, "gates");
    ck_assert(is_null(g, "max_drop"));
    ck_assert_double_eq(num(g, "min_sqnr"), 20);
    ck_assert(!is_true(g, "passed"));
    ck_assert_str_eq(cJSON_GetArrayItem(at(g, "failures"), 0)->valuestring, "a failure");
    cJSON_Delete(doc);
    qc_stats_destroy(m.stats);
    qc_graph_destroy(m.g);
}
END_TEST

static qc_aa_score score(int64_t images, int64_t labelled, int64_t correct, int64_t agree, double kl)
{
    return (qc_aa_score){.images = images, .labelled = labelled, .correct = correct, .agree = agree, .kl = kl};
}

/* One per-channel weight of two channels; accuracy-aware quantization returned one node. */
START_TEST(quantize_writes_settings_tensors_and_the_accuracy_aware_steps)
{
    qc_quantize_options q;
    qc_quantize_options_default(&q);
    q.weights = QC_GRANULARITY_CHANNEL;
    qc_qparams params[2] = {{.scale = 0.5f, .zero_point = 0, .qmin = -127, .qmax = 127},
                            {.scale = 0.25f, .zero_point = 3, .qmin = -127, .qmax = 127}};
    qc_quantized_tensor t = {.tensor = "conv.weight", .role = "weight", .n_channels = 2, .min = -1.0f,
                             .max = 2.0f, .params = params, .bits = 8, .axis = 0};
    qc_quantize_report report = {.n = 1, .tensors = &t};
    qc_aa_layer steps[] = {{"conv", score(10, 0, 0, 9, 0.0)}};
    qc_aa_result r = {.fp32 = score(10, 10, 8, 10, 0.0), .quantized = score(10, 10, 6, 7, 2.0), .subset = 4,
                      .subset_quantized = score(0, 0, 0, 0, 0.0), .n_ranked = 1, .ranking = steps,
                      .n_steps = 1, .steps = steps, .met = true};
    qc_aa_doc aa = {.r = &r, .metric = QC_AA_AGREEMENT, .budget = 90, .val = "val", .images = 10, .seconds = 1.5};
    qc_graph *written = qc_graph_create("q");
    qc_quantize_doc d = {.model = "m.onnx", .output = "q.onnx", .q = &q, .calibration_images = 32,
                         .calibration_skipped = 1, .written = written, .aa = &aa};
    FILE *f = tmpfile();
    qc_quantize_json_write(f, &report, &d);
    cJSON *doc = parse_written(f);
    ck_assert_str_eq(str(doc, "output"), "q.onnx");
    ck_assert_str_eq(str(doc, "method"), "minmax");
    ck_assert(is_true(doc, "runnable_by_qcal"));
    ck_assert(is_true(doc, "per_channel") && !is_true(doc, "input_compensation"));
    ck_assert_str_eq(str(doc, "bias_correction"), "none");
    ck_assert(cJSON_IsObject(at(doc, "config")));
    ck_assert_int_eq((int)num(doc, "calibration_images"), 32);
    cJSON *t0 = cJSON_GetArrayItem(at(doc, "tensors"), 0);
    ck_assert_str_eq(str(t0, "name"), "conv.weight");
    ck_assert_double_eq(cJSON_GetArrayItem(at(t0, "scale"), 1)->valuedouble, 0.25);
    ck_assert_int_eq(cJSON_GetArrayItem(at(t0, "zero_point"), 1)->valueint, 3);
    ck_assert_int_eq((int)num(t0, "qmin"), -127);
    ck_assert(cJSON_GetObjectItemCaseSensitive(t0, "auto") == NULL);
    ck_assert(cJSON_GetObjectItemCaseSensitive(doc, "auto") == NULL);
    cJSON *a = at(doc, "accuracy_aware");
    ck_assert_str_eq(str(a, "metric"), "agreement");
    ck_assert(is_true(a, "met"));
    ck_assert_double_eq(num(at(a, "quantized"), "top1"), 0.6);
    ck_assert_double_eq(num(at(a, "quantized"), "kl"), 0.2);
    ck_assert(is_null(at(a, "final"), "top1"));              /* the step's score has no labels */
    ck_assert_double_eq(num(at(a, "final"), "agreement"), 0.9);
    ck_assert(is_null(at(a, "ranking_quantized"), "kl"));   /* no images: NaN, null */
    ck_assert_str_eq(cJSON_GetArrayItem(at(a, "fp32_nodes"), 0)->valuestring, "conv");
    cJSON_Delete(doc);
    qc_graph_destroy(written);
}
END_TEST

/* Two tensors, one never seen; the adequacy of the activation. */
START_TEST(stats_writes_ranges_per_method_and_the_adequacy)
{
    qc_stats *s = qc_stats_create_empty(&(qc_stats_options){0});
    int64_t dims[] = {1, 3};
    ck_assert_int_eq(qc_stats_add_tensor(s, "in", QC_ROLE_INPUT, 2, dims, -1), 0);
    ck_assert_int_eq(qc_stats_add_tensor(s, "act", QC_ROLE_ACTIVATION, 2, dims, -1), 1);
    s->images = 16;
    s->tensors[1].samples = 1;
    s->tensors[1].t.min = -1.0f;
    s->tensors[1].t.max = 3.0f;
    qc_range_params params;
    qc_range_params_default(&params);
    bool methods[QC_RANGE_COUNT] = {[QC_RANGE_MINMAX] = true};
    qc_adequacy_tensor at1 = {.tensor = 1, .scale = 0.5, .rsd = 0.25, .uncertain = true, .images_needed = 32};
    qc_adequacy adequacy = {.method = QC_RANGE_MINMAX, .evaluated = QC_RANGE_MINMAX, .images = 16, .groups = 1,
                            .n = 1, .tensors = &at1, .n_uncertain = 1};
    qc_adequacy_settings settings = QC_ADEQUACY_DEFAULT;
    settings.scheme = QC_SCHEME_SYMLOWP; /* not the default: the document names the scheme it was given */
    qc_stats_doc d = {.model = "m.onnx", .stats = NULL, .seconds = -1, .params = &params, .methods = methods,
                      .adequacy = &adequacy, .adequacy_settings = &settings};
    FILE *f = tmpfile();
    qc_stats_json_write(f, s, &d);
    cJSON *doc = parse_written(f);
    ck_assert(is_null(doc, "stats"));
    ck_assert(cJSON_GetObjectItemCaseSensitive(doc, "seconds") == NULL); /* read, not run */
    ck_assert(cJSON_GetObjectItemCaseSensitive(doc, "skipped") == NULL);
    ck_assert_str_eq(str(doc, "granularity"), "tensor");
    cJSON *in = cJSON_GetArrayItem(at(doc, "tensors"), 0), *act = cJSON_GetArrayItem(at(doc, "tensors"), 1);
    ck_assert_str_eq(str(in, "role"), "input");
    ck_assert(is_null(in, "min") && is_null(in, "channel_range"));
    ck_assert_int_eq(cJSON_GetArraySize(at(act, "shape")), 2);
    ck_assert_double_eq(num(act, "max"), 3.0);
    cJSON *ranges = at(act, "ranges");
    ck_assert_int_eq(cJSON_GetArraySize(ranges), 1);
    ck_assert_double_eq(cJSON_GetArrayItem(at(ranges, "minmax"), 0)->valuedouble, -1.0);
    cJSON *a = at(doc, "adequacy");
    ck_assert_str_eq(str(a, "scheme"), "symlowp");
    ck_assert_double_eq(num(a, "tolerance"), 0.05);
    ck_assert_str_eq(str(cJSON_GetArrayItem(at(a, "tensors"), 0), "name"), "act");
    ck_assert_int_eq((int)num(cJSON_GetArrayItem(at(a, "tensors"), 0), "images_needed"), 32);
    cJSON_Delete(doc);
    qc_stats_destroy(s);
}
END_TEST

START_TEST(eval_bench_and_merge_write_their_figures)
{
    qc_eval_summary r[2] = {{.path = "a.onnx", .counts = {.images = 10, .labelled = 8, .top1 = 6, .top5 = 8},
                             .seconds = 2.0},
                            {.path = "b.onnx", .output = "logits", .counts = {.images = 10}}};
    FILE *f = tmpfile();
    qc_eval_json_write(f, r, 1, 2, 32);
    cJSON *doc = parse_written(f);
    ck_assert_double_eq(num(doc, "top1"), 0.75);
    ck_assert_double_eq(num(doc, "images_per_s"), 5.0);
    ck_assert(cJSON_GetObjectItemCaseSensitive(doc, "output") == NULL);
    cJSON_Delete(doc);
    f = tmpfile();
    qc_eval_json_write(f, r, 2, 1, 1);
    doc = parse_written(f);
    cJSON *b = cJSON_GetArrayItem(at(doc, "models"), 1);
    ck_assert(is_null(b, "top1") && is_null(b, "top1_correct"));
    ck_assert_str_eq(str(b, "output"), "logits");
    ck_assert_double_eq(num(b, "images_per_s"), 0.0);
    cJSON_Delete(doc);

    qc_bench_options o = {.one = 1, .batch = 8, .runs = 5, .warmup = 3, .threads = 2};
    qc_bench_timing fp32 = {.wall = {.median = 0.004}, .cpu = {.median = 0.004}, .throughput = 100},
                    int8 = {.wall = {.median = 0.001}, .cpu = {.median = 0.002}, .throughput = 250};
    qc_bench_doc d = {.model = "m.onnx", .scheme = QC_SCHEME_SYMLOWP, .weights = QC_GRANULARITY_CHANNEL, .o = &o};
    f = tmpfile();
    qc_bench_json_write(f, &d, &fp32, &int8);
    doc = parse_written(f);
    ck_assert(is_null(doc, "int8_model"));
    ck_assert_str_eq(str(doc, "scheme"), "symlowp");
    ck_assert_int_eq((int)num(doc, "warmup_runs"), 3);
    ck_assert_double_eq(num(at(doc, "fp32"), "latency_ms"), 4.0);
    ck_assert_double_eq(num(at(doc, "speedup"), "latency"), 4.0);
    ck_assert_double_eq(num(at(doc, "speedup"), "latency_thread_cpu"), 2.0);
    ck_assert_double_eq(num(at(doc, "speedup"), "throughput"), 2.5);
    cJSON_Delete(doc);

    qc_stats *s = qc_stats_create_empty(&(qc_stats_options){0});
    s->images = 48;
    s->shard_count = 3;
    f = tmpfile();
    qc_merge_json_write(f, "all.json", 2, s);
    doc = parse_written(f);
    ck_assert_str_eq(str(doc, "output"), "all.json");
    ck_assert_int_eq((int)num(doc, "images"), 48);
    ck_assert(!is_true(doc, "complete"));
    cJSON_Delete(doc);
    qc_stats_destroy(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report_json");
    TCase *tc = tcase_create("writers");
    tcase_add_test(tc, compare_writes_each_variants_figures_and_null_for_what_is_not_finite);
    tcase_add_test(tc, quantize_writes_settings_tensors_and_the_accuracy_aware_steps);
    tcase_add_test(tc, stats_writes_ranges_per_method_and_the_adequacy);
    tcase_add_test(tc, eval_bench_and_merge_write_their_figures);
    suite_add_tcase(s, tc);
    return qc_check_run("check_report_json", s);
}
