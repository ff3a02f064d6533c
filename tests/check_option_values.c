/* check_option_values.c — the library's readers of the values qcal's options take and the
 * lists the commands derive (stats --shard, --method, --n, --percentile, --granularity,
 * --input, compare --gate and its failures, accuracy-aware exclusions, the preprocessing
 * sizes and per-channel values), against hand values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../calib/calib.h"
#include "check-util.h"

START_TEST(shards_methods_and_range_parameters_read_as_the_options_say)
{
    int i = -1, n = -1;
    ck_assert(qc_shard_parse("2/5", &i, &n) && i == 2 && n == 5);
    const char *bad_shards[] = {"5/5", "-1/3", "1/0", "1", "1/", "/2", "1/2x", "0/2097152"};
    for (size_t k = 0; k < sizeof bad_shards / sizeof *bad_shards; k++)
        ck_assert_msg(!qc_shard_parse(bad_shards[k], &i, &n), "%s", bad_shards[k]);

    bool m[QC_RANGE_COUNT];
    ck_assert(qc_range_methods_parse("entropy,minmax", m));
    for (int k = 0; k < QC_RANGE_COUNT; k++)
        ck_assert_int_eq(m[k], k == QC_RANGE_ENTROPY || k == QC_RANGE_MINMAX);
    ck_assert(qc_range_methods_parse("all", m));
    for (int k = 0; k < QC_RANGE_COUNT; k++)
        ck_assert(m[k]);
    ck_assert(!qc_range_methods_parse("minmax,bogus", m));
    ck_assert(!qc_range_methods_parse("", m));

    double x = -1;
    ck_assert(qc_range_n_std_parse("2.5", &x) && x == 2.5);
    ck_assert(qc_range_n_std_parse("0", &x) && x == 0);
    ck_assert(!qc_range_n_std_parse("-1", &x) && !qc_range_n_std_parse("inf", &x) && !qc_range_n_std_parse("2x", &x));
    ck_assert(qc_range_percentile_parse("99.99", &x) && x == 99.99);
    ck_assert(qc_range_percentile_parse("100", &x) && x == 100);
    ck_assert(!qc_range_percentile_parse("50", &x) && !qc_range_percentile_parse("100.5", &x));
}
END_TEST

START_TEST(preprocessing_sizes_and_channel_values_read_as_the_options_say)
{
    int h = -1, w = -1;
    ck_assert(qc_pp_parse_hw("224x200", &h, &w) && h == 224 && w == 200);
    ck_assert(qc_pp_parse_hw("32X16", &h, &w) && h == 32 && w == 16);
    ck_assert(qc_pp_parse_hw("28", &h, &w) && h == 28 && w == 28);
    ck_assert(qc_pp_parse_hw("16384x1", &h, &w) && h == 16384 && w == 1);
    const char *bad_sizes[] = {"", "x", "0x5", "5x0", "16385", "5x", "x5", "5x5x", "5y5", "-3x3", "5x5 "};
    for (size_t k = 0; k < sizeof bad_sizes / sizeof *bad_sizes; k++)
        ck_assert_msg(!qc_pp_parse_hw(bad_sizes[k], &h, &w), "%s", bad_sizes[k]);

    float v[3] = {0};
    ck_assert_int_eq(qc_pp_parse_channel_values("0.5", v, true), 1);
    ck_assert(v[0] == 0.5f);
    ck_assert_int_eq(qc_pp_parse_channel_values("0.485,0.456,-0.406", v, false), 3);
    ck_assert(v[0] == 0.485f && v[1] == 0.456f && v[2] == -0.406f);
    ck_assert_int_eq(qc_pp_parse_channel_values("0,1,2", v, false), 3);
    const char *bad_values[] = {"", "1,2", "1,2,3,4", "1,,", "a", "1,2,x", "inf", "nan,1,1", "1e999"};
    for (size_t k = 0; k < sizeof bad_values / sizeof *bad_values; k++)
        ck_assert_msg(qc_pp_parse_channel_values(bad_values[k], v, false) == -1, "%s", bad_values[k]);
    ck_assert_int_eq(qc_pp_parse_channel_values("0,1,2", v, true), -1); /* --std: no 0 */
    ck_assert_int_eq(qc_pp_parse_channel_values("0", v, true), -1);
}
END_TEST

START_TEST(granularity_words_and_input_bindings)
{
    ck_assert_int_eq(qc_granularity_weights(QC_GRANULARITY_TENSOR), QC_GRANULARITY_TENSOR);
    ck_assert_int_eq(qc_granularity_activations(QC_GRANULARITY_TENSOR), QC_GRANULARITY_TENSOR);
    ck_assert_int_eq(qc_granularity_weights(QC_GRANULARITY_CHANNEL), QC_GRANULARITY_CHANNEL);
    ck_assert_int_eq(qc_granularity_activations(QC_GRANULARITY_CHANNEL), QC_GRANULARITY_TENSOR);
    ck_assert_int_eq(qc_granularity_weights(QC_GRANULARITY_COMPENSATED), QC_GRANULARITY_CHANNEL);
    ck_assert_int_eq(qc_granularity_activations(QC_GRANULARITY_COMPENSATED), QC_GRANULARITY_COMPENSATED);

    qc_input_binding list[2];
    int n = 0;
    ck_assert(qc_input_binding_add(list, &n, 2, "mask=m.npy"));
    ck_assert_int_eq(n, 1);
    ck_assert(list[0].name_len == 4 && !strncmp(list[0].name, "mask", 4) && !strcmp(list[0].file, "m.npy"));
    ck_assert(!qc_input_binding_add(list, &n, 2, "mask=other.npy")); /* each name once */
    ck_assert(!qc_input_binding_add(list, &n, 2, "=x.npy") && !qc_input_binding_add(list, &n, 2, "a=") &&
              !qc_input_binding_add(list, &n, 2, "noequals"));
    ck_assert(qc_input_binding_add(list, &n, 2, "masks=n.npy")); /* a longer name is another name */
    ck_assert(!qc_input_binding_add(list, &n, 2, "third=t.npy")); /* full */
    ck_assert_int_eq(n, 2);
}
END_TEST

/* Two variants of a model of 4 labelled images: variant 0 drops 25 points, variant 1 none. */
START_TEST(gates_list_every_failure_and_know_their_variants)
{
    static qc_compare_model m[2];
    m[0] = (qc_compare_model){.path = "a.onnx", .n = 4, .labelled = 4, .fp32_correct = 3};
    m[0].var[0] = (qc_compare_result){.correct = 2, .agree = 3};
    m[0].var[1] = (qc_compare_result){.correct = 3, .agree = 4};
    m[0].stats = qc_stats_create_empty(&(qc_stats_options){0}); /* no tensor measured: no SQNR */
    m[1] = m[0];
    m[1].path = "b.onnx";
    qc_compare_spec v[2] = {{.name = "gemmlowp/tensor"}, {.name = "symlowp/tensor"}};
    ck_assert(qc_compare_gate_known(v, 2, NULL) && qc_compare_gate_known(v, 2, "all"));
    ck_assert(qc_compare_gate_known(v, 2, "symlowp/tensor") && !qc_compare_gate_known(v, 2, "mixed/tensor"));
    qc_compare_gates gates = {.gate = "all", .max_drop = 10, .min_sqnr = NAN};
    char **failures = NULL;
    int n = -1;
    ck_assert(qc_compare_failures(m, 2, v, 2, &gates, &failures, &n));
    ck_assert_int_eq(n, 2); /* variant 0 of each model */
    ck_assert_ptr_nonnull(strstr(failures[0], "'gemmlowp/tensor' of 'a.onnx' drops top-1 by 25.00 points"));
    ck_assert_ptr_nonnull(strstr(failures[1], "of 'b.onnx'"));
    free(failures);
    gates.max_drop = 30;
    ck_assert(qc_compare_failures(m, 2, v, 2, &gates, &failures, &n));
    ck_assert_int_eq(n, 0);
    free(failures);
    qc_stats_destroy(m[0].stats);
}
END_TEST

START_TEST(accuracy_aware_steps_join_the_exclusions_in_order)
{
    qc_aa_layer steps[] = {{.node = "conv1"}, {.node = "fc"}};
    qc_aa_result r = {.n_steps = 2, .steps = steps};
    char **items = malloc(sizeof *items);
    ck_assert_ptr_nonnull(items);
    items[0] = strdup("given");
    int n = 1;
    ck_assert(qc_aa_exclude_steps(&r, &items, &n));
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(items[0], "given");
    ck_assert_str_eq(items[1], "conv1");
    ck_assert_str_eq(items[2], "fc");
    ck_assert(items[2] != steps[1].node); /* copies */
    for (int i = 0; i < n; i++)
        free(items[i]);
    free(items);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("option_values");
    TCase *tc = tcase_create("values");
    tcase_add_test(tc, shards_methods_and_range_parameters_read_as_the_options_say);
    tcase_add_test(tc, preprocessing_sizes_and_channel_values_read_as_the_options_say);
    tcase_add_test(tc, granularity_words_and_input_bindings);
    tcase_add_test(tc, gates_list_every_failure_and_know_their_variants);
    tcase_add_test(tc, accuracy_aware_steps_join_the_exclusions_in_order);
    suite_add_tcase(s, tc);
    return qc_check_run("check_option_values", s);
}
