/* check_accuracy_aware.c — accuracy-aware quantization (calib/accuracy-aware.c): the subset, the
 * budget test and the ranking's order against hand values; the algorithm on lenet at 4 bits
 * against a reference that quantizes with the same exclusions and runs each image alone on one
 * executor: ranking scores, steps in ranking order, every node returned gives FP32 exactly,
 * the same result for 1 and 2 threads, the stop at max_layers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calib/calib.h"
#include "check-util.h"
#include "graph/graph.h"
#include "io/io.h"
#include "stats/stats.h"

#define CLASSES 10
#define PIXELS (28 * 28)
#define N_VAL 120
#define SUBSET 40

START_TEST(the_subset_takes_each_class_in_turn_and_keeps_input_order)
{
    /* round 1: unlabelled (7), class 0 (1), class 1 (3), class 2 (0); round 2: class 0 (2) */
    const int labels[] = {2, 0, 0, 1, 2, 0, 1, -1};
    int64_t idx[8];
    ck_assert_int_eq(qc_aa_subset(labels, 8, 5, idx), 5);
    const int64_t want[] = {0, 1, 2, 3, 7};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(idx[i], want[i]);
    /* without labels: the first k; k at or above n: all */
    ck_assert_int_eq(qc_aa_subset(NULL, 8, 3, idx), 3);
    ck_assert(idx[0] == 0 && idx[1] == 1 && idx[2] == 2);
    ck_assert_int_eq(qc_aa_subset(labels, 8, 100, idx), 8);
    ck_assert(idx[7] == 7);
}
END_TEST

START_TEST(the_budget_and_the_order_are_the_hand_values)
{
    qc_aa_score fp32 = {.images = 200, .labelled = 200, .correct = 180, .agree = 200};
    qc_aa_score q = {.images = 200, .labelled = 200, .correct = 178, .agree = 190, .kl = 2.0};
    /* 90 % against 89 %: a drop of exactly 1 point holds a budget of 1, not of 0.99 */
    ck_assert(qc_aa_within(QC_AA_TOP1, 1.0, &fp32, &q));
    ck_assert(!qc_aa_within(QC_AA_TOP1, 0.99, &fp32, &q));
    ck_assert(qc_aa_within(QC_AA_AGREEMENT, 95.0, &fp32, &q));
    ck_assert(!qc_aa_within(QC_AA_AGREEMENT, 95.5, &fp32, &q));
    qc_aa_score none = {.images = 10};
    ck_assert(isnan(qc_aa_value(QC_AA_TOP1, &none)) && !qc_aa_within(QC_AA_TOP1, 100.0, &fp32, &none));
    /* top-1 first, then agreement, then KL; a NaN KL is the worst; equal is not better */
    qc_aa_score a = q, b = q;
    b.correct--;
    ck_assert(qc_aa_better(QC_AA_TOP1, &a, &b) && !qc_aa_better(QC_AA_TOP1, &b, &a));
    b.agree += 5; /* more agreement does not beat more correct under top-1, does under agreement */
    ck_assert(qc_aa_better(QC_AA_TOP1, &a, &b) && qc_aa_better(QC_AA_AGREEMENT, &b, &a));
    b = a;
    b.kl = 1.0;
    ck_assert(qc_aa_better(QC_AA_AGREEMENT, &b, &a) && qc_aa_better(QC_AA_TOP1, &b, &a));
    b.kl = NAN;
    ck_assert(qc_aa_better(QC_AA_AGREEMENT, &a, &b) && !qc_aa_better(QC_AA_AGREEMENT, &b, &a));
    ck_assert(!qc_aa_better(QC_AA_AGREEMENT, &a, &a));
}
END_TEST

/* lenet, its statistics over 100 calibration images, N_VAL validation images and labels */
typedef struct {
    qc_graph *g;
    qc_stats *s;
    float *px;
    int labels[N_VAL];
    qc_quantize_options q;
} lenet_case;

static void lenet_setup(lenet_case *c)
{
    qc_error err;
    qc_image_set calib, val;
    qc_preprocess pp;
    ck_assert_msg(qc_onnx_load("models/lenet.onnx", &c->g, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(qc_pass_fold_batchnorm(c->g, &err), QC_OK);
    ck_assert_int_eq(qc_image_set_open(&calib, "data/calib", NULL, &err), QC_OK);
    ck_assert_int_eq(qc_image_set_open(&val, "data/val", NULL, &err), QC_OK);
    ck_assert_int_eq(qc_image_set_sample(&val, N_VAL, 1, &err), QC_OK);
    qc_preprocess_default(&pp, 1);
    qc_stats_options so = {.pp = &pp};
    qc_gather_options go = {.limit = 100, .batch = 20, .shard_n = 1, .threads = 1};
    ck_assert_msg(qc_stats_gather(c->g, &calib, &pp, &so, &go, &c->s, &err) == QC_OK, "%s", err.msg);
    c->px = malloc(sizeof(float) * PIXELS * N_VAL);
    qc_image_input in = {.channels = 1, .height = 28, .width = 28, .dims = {1, 1, 28, 28}};
    ck_assert_int_eq(qc_eval_load_images(&val, &pp, N_VAL, &in, 1, c->px, &err), QC_OK);
    for (int i = 0; i < N_VAL; i++)
        c->labels[i] = val.items[i].label;
    qc_quantize_options_default(&c->q);
    c->q.weight_bits = c->q.act_bits = 4;
    qc_image_set_free(&calib);
    qc_image_set_free(&val);
}

static void lenet_free(lenet_case *c)
{
    free(c->px);
    qc_stats_destroy(c->s);
    qc_graph_destroy(c->g);
}

/* The reference score: lenet quantized with `excluded` in FP32 (or FP32 itself when q is
 * NULL), fused, each image of idx run alone on one executor, counted against FP32's argmax
 * and the labels. */
static qc_aa_score reference_score(const lenet_case *c, const qc_quantize_options *q, const char **excluded, int n_ex,
                                   const int64_t *idx, int64_t n)
{
    qc_error err;
    qc_graph *qg = NULL;
    if (q) {
        qc_quantize_options o = *q;
        o.exclude = excluded;
        o.n_exclude = n_ex;
        ck_assert_msg(qc_quantize(c->g, c->s, &o, &qg, NULL, &err) == QC_OK, "%s", err.msg);
        ck_assert_int_eq(qc_pass_fuse_qdq(qg, &err), QC_OK);
    }
    qc_exec *xf = qc_exec_create(c->g), *xq = qc_exec_create(qg ? qg : c->g);
    qc_aa_score sc = {.images = n};
    for (int64_t j = 0; j < n; j++) {
        qc_value in = qc_value_f32(4, (int64_t[]){1, 1, 28, 28}, c->px + idx[j] * PIXELS);
        ck_assert_int_eq(qc_exec_run(xf, &in, 1, &err), QC_OK);
        ck_assert_int_eq(qc_exec_run(xq, &in, 1, &err), QC_OK);
        int want = qc_argmax(qc_exec_output(xf, 0)->data, CLASSES), got = qc_argmax(qc_exec_output(xq, 0)->data, CLASSES);
        sc.labelled++;
        sc.correct += got == c->labels[idx[j]];
        sc.agree += got == want;
    }
    qc_exec_destroy(xf);
    qc_exec_destroy(xq);
    qc_graph_destroy(qg);
    return sc;
}

static void options_for(const lenet_case *c, qc_aa_metric m, double budget, int threads, qc_aa_options *o)
{
    *o = (qc_aa_options){.fp32 = c->g, .stats = c->s, .q = &c->q, .inputs = c->px, .n = N_VAL, .stride = PIXELS,
                         .labels = c->labels, .classes = CLASSES, .metric = m, .budget = budget,
                         .sensitivity_images = SUBSET, .max_layers = -1, .threads = threads};
}

static void same_score(const qc_aa_score *a, const qc_aa_score *b)
{
    ck_assert(a->images == b->images && a->labelled == b->labelled && a->correct == b->correct && a->agree == b->agree);
}

START_TEST(every_node_returned_gives_fp32_and_the_steps_follow_the_ranking)
{
    lenet_case c;
    lenet_setup(&c);
    qc_aa_options o;
    qc_error err;
    options_for(&c, QC_AA_AGREEMENT, 100.0, 2, &o);
    qc_aa_result r, r1;
    ck_assert_msg(qc_accuracy_aware(&o, &r, &err) == QC_OK, "%s", err.msg);
    int64_t all[N_VAL], sub[SUBSET];
    for (int i = 0; i < N_VAL; i++)
        all[i] = i;
    ck_assert_int_eq(qc_aa_subset(c.labels, N_VAL, SUBSET, sub), SUBSET);
    /* plain 4-bit quantization misses 100 % agreement, and the fully quantized score is the
     * reference's */
    qc_aa_score ref = reference_score(&c, &c.q, NULL, 0, all, N_VAL);
    same_score(&r.quantized, &ref);
    ck_assert_int_lt(r.quantized.agree, N_VAL);
    ck_assert_int_gt(r.n_ranked, 3);
    /* each ranked node's score is the reference's with it alone in FP32, best first */
    for (int i = 0; i < r.n_ranked; i++) {
        const char *one[] = {r.ranking[i].node};
        ref = reference_score(&c, &c.q, one, 1, sub, SUBSET);
        ck_assert(r.ranking[i].score.agree == ref.agree && r.ranking[i].score.correct == ref.correct);
        ck_assert(i == 0 || !qc_aa_better(QC_AA_AGREEMENT, &r.ranking[i].score, &r.ranking[i - 1].score));
    }
    /* the steps return the ranking's nodes in its order, each step but the last misses the
     * budget, and the last (every node in FP32) is FP32 itself: full agreement, KL 0 */
    ck_assert(r.met);
    ck_assert_int_eq(r.n_steps, r.n_ranked);
    const char *returned[64];
    for (int i = 0; i < r.n_steps; i++) {
        ck_assert_str_eq(r.steps[i].node, r.ranking[i].node);
        ck_assert(i == r.n_steps - 1 || !qc_aa_within(QC_AA_AGREEMENT, 100.0, &r.fp32, &r.steps[i].score));
        returned[i] = r.steps[i].node;
    }
    ref = reference_score(&c, &c.q, returned, r.n_steps, all, N_VAL);
    same_score(&r.steps[r.n_steps - 1].score, &ref);
    ck_assert_int_eq(r.steps[r.n_steps - 1].score.agree, N_VAL);
    ck_assert_int_eq(r.steps[r.n_steps - 1].score.correct, r.fp32.correct);
    ck_assert(r.steps[r.n_steps - 1].score.kl == 0.0);
    ref = reference_score(&c, NULL, NULL, 0, all, N_VAL);
    ck_assert_int_eq(r.fp32.correct, ref.correct);
    /* one thread: the same result, to the bit */
    options_for(&c, QC_AA_AGREEMENT, 100.0, 1, &o);
    ck_assert_int_eq(qc_accuracy_aware(&o, &r1, &err), QC_OK);
    ck_assert_int_eq(r1.n_ranked, r.n_ranked);
    ck_assert_int_eq(r1.n_steps, r.n_steps);
    for (int i = 0; i < r.n_ranked; i++) {
        ck_assert_str_eq(r1.ranking[i].node, r.ranking[i].node);
        ck_assert(memcmp(&r1.ranking[i].score, &r.ranking[i].score, sizeof r.ranking[i].score) == 0);
    }
    for (int i = 0; i < r.n_steps; i++)
        ck_assert(memcmp(&r1.steps[i].score, &r.steps[i].score, sizeof r.steps[i].score) == 0);
    qc_aa_result_free(&r1);
    /* qc_aa_rank alone: the same ranking */
    ck_assert_int_eq(qc_aa_rank(&o, &r1, &err), QC_OK);
    ck_assert_int_eq(r1.n_ranked, r.n_ranked);
    for (int i = 0; i < r.n_ranked; i++)
        ck_assert_str_eq(r1.ranking[i].node, r.ranking[i].node);
    qc_aa_result_free(&r1);
    qc_aa_result_free(&r);
    lenet_free(&c);
}
END_TEST

START_TEST(a_budget_met_at_once_ranks_nothing_and_max_layers_stops_the_steps)
{
    lenet_case c;
    lenet_setup(&c);
    qc_aa_options o;
    qc_error err;
    qc_aa_result r;
    /* agreement of at least 0 %: met by the quantized model, nothing ranked or returned */
    options_for(&c, QC_AA_AGREEMENT, 0.0, 1, &o);
    ck_assert_int_eq(qc_accuracy_aware(&o, &r, &err), QC_OK);
    ck_assert(r.met && r.n_ranked == 0 && r.n_steps == 0);
    qc_aa_result_free(&r);
    /* full agreement at 4 bits (it takes every node, above) with at most one node returned:
     * missed after one step */
    options_for(&c, QC_AA_AGREEMENT, 100.0, 1, &o);
    o.max_layers = 1;
    ck_assert_int_eq(qc_accuracy_aware(&o, &r, &err), QC_OK);
    ck_assert(!qc_aa_within(QC_AA_AGREEMENT, 100.0, &r.fp32, &r.quantized));
    ck_assert(!r.met && r.n_steps == 1 && r.n_ranked > 1);
    ck_assert_str_eq(r.steps[0].node, r.ranking[0].node);
    qc_aa_result_free(&r);
    /* a top-1 budget without labels is a usage error */
    o.metric = QC_AA_TOP1;
    o.labels = NULL;
    ck_assert_int_eq(qc_accuracy_aware(&o, &r, &err), QC_ERR_USAGE);
    qc_aa_result_free(&r);
    lenet_free(&c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("accuracy_aware");
    TCase *logic = tcase_create("logic");
    tcase_add_test(logic, the_subset_takes_each_class_in_turn_and_keeps_input_order);
    tcase_add_test(logic, the_budget_and_the_order_are_the_hand_values);
    suite_add_tcase(s, logic);
    TCase *lenet = tcase_create("lenet");
    tcase_set_timeout(lenet, 600);
    tcase_add_test(lenet, every_node_returned_gives_fp32_and_the_steps_follow_the_ranking);
    tcase_add_test(lenet, a_budget_met_at_once_ranks_nothing_and_max_layers_stops_the_steps);
    suite_add_tcase(s, lenet);
    return qc_check_run("check_accuracy_aware", s);
}
