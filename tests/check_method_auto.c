/* check_method_auto.c — `--method auto` (calib/method-auto.c): on a one-Conv graph fed a
 * heavy-tailed input, the chooser's error of every candidate equals a scalar reference written
 * here (fake-quantized input and weights, a direct convolution in double, Σ(y − ŷ)² / Σ y²
 * over the images), it picks the smallest, the result does not depend on the threads, and
 * qc_quantize takes the chosen range for the tensor. The label-free score (top-1 agreement
 * with FP32, the KL of the logits) equals a reference computed here. The rule at the output
 * lets agreement decide only where McNemar's statistic, checked against one counted here on
 * a table of per-image agreements, is significant, and the greedy pass also asks for a
 * significant paired KL decrease (its z against a reference). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calib/calib.h"
#include "check-util.h"
#include "graph/graph.h"
#include "stats/stats.h"

#define SIDE 8
#define PIXELS (SIDE * SIDE)
#define OUT_CH 2
#define IMAGES 40
#define BITS 4
/* the chooser runs the Conv in float; the reference in double */
#define MAX_ERROR_REL_DIFF 1e-4

static const float weights[OUT_CH * 9] = {0.5f, -0.25f, 0.125f, 0.75f, 1.0f, -0.5f, 0.25f, 0.0f, -0.75f,
                                          -0.3f, 0.6f,  0.2f,   -0.9f, 0.1f, 0.4f,  0.7f,  -0.2f, 0.05f};
static const float bias[OUT_CH] = {0.1f, -0.2f};

static int tensor(qc_graph *g, const char *name, int rank, const int64_t *dims, const float *data)
{
    int t = qc_graph_tensor(g, name);
    ck_assert_int_ge(t, 0);
    qc_value *v = &g->tensors[t].value;
    v->dtype = QC_FLOAT;
    v->rank = rank;
    memcpy(v->dims, dims, (size_t)rank * sizeof *dims);
    if (data) {
        size_t bytes = qc_value_bytes(v);
        v->data = malloc(bytes);
        ck_assert_ptr_nonnull(v->data);
        memcpy(v->data, data, bytes);
        g->tensors[t].is_const = true;
    }
    return t;
}

/* x [1,1,8,8] → Conv(w [2,1,3,3], b, pads 1) → y [1,2,8,8] */
static qc_graph *conv_graph(void)
{
    qc_graph *g = qc_graph_create("conv");
    ck_assert_ptr_nonnull(g);
    g->opset = 13;
    const int64_t xd[] = {1, 1, SIDE, SIDE}, wd[] = {OUT_CH, 1, 3, 3}, bd[] = {OUT_CH}, yd[] = {1, OUT_CH, SIDE, SIDE};
    int x = tensor(g, "x", 4, xd, NULL), w = tensor(g, "w", 4, wd, weights), b = tensor(g, "b", 1, bd, bias);
    int y = tensor(g, "y", 4, yd, NULL);
    int ni = qc_graph_add_node(g, "conv", "Conv", "");
    ck_assert_int_ge(ni, 0);
    qc_node *n = &g->nodes[ni];
    n->inputs = malloc(3 * sizeof *n->inputs);
    n->outputs = malloc(sizeof *n->outputs);
    n->attrs = calloc(1, sizeof *n->attrs);
    ck_assert(n->inputs && n->outputs && n->attrs);
    n->inputs[0] = x, n->inputs[1] = w, n->inputs[2] = b, n->n_inputs = 3;
    n->outputs[0] = y, n->n_outputs = 1;
    n->attrs[0] = (qc_attr){.name = strdup("pads"), .type = QC_ATTR_INTS, .n = 4, .ints = malloc(4 * sizeof(int64_t))};
    for (int k = 0; k < 4; k++)
        n->attrs[0].ints[k] = 1;
    n->n_attrs = 1;
    g->inputs = malloc(sizeof *g->inputs);
    g->outputs = malloc(sizeof *g->outputs);
    g->inputs[0] = x, g->outputs[0] = y, g->n_inputs = g->n_outputs = 1;
    g->tensors[x].is_input = g->tensors[y].is_output = true;
    qc_error err;
    ck_assert_msg(qc_graph_prepare(g, &err) == QC_OK, "%s", err.msg);
    return g;
}

/* Mostly uniform in [-1, 1], with rare outliers up to ±8: the candidates clip differently. */
static void heavy_tailed(float *x, int64_t n)
{
    uint32_t s = 12345u;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        float u = (float)(s >> 8) / 16777216.0f * 2.0f - 1.0f;
        x[i] = i % 97 == 5 ? 8.0f * u : u;
    }
}

/* y[o][i][j] = b[o] + Σ w[o][di][dj] · x[i + di − 1][j + dj − 1] (zero padding), in double. */
static void conv_ref(const float *x, const float *w, double *y)
{
    for (int o = 0; o < OUT_CH; o++)
        for (int i = 0; i < SIDE; i++)
            for (int j = 0; j < SIDE; j++) {
                double acc = bias[o];
                for (int di = 0; di < 3; di++)
                    for (int dj = 0; dj < 3; dj++) {
                        int r = i + di - 1, c = j + dj - 1;
                        if (r >= 0 && r < SIDE && c >= 0 && c < SIDE)
                            acc += (double)w[o * 9 + di * 3 + dj] * (double)x[r * SIDE + c];
                    }
                y[(o * SIDE + i) * SIDE + j] = acc;
            }
}

/* The reference error of candidate c: Σ over images of Σ(y − ŷ)², over Σ y². */
static double reference_error(const qc_stats *s, const qc_quantize_options *o, const float *images, int c)
{
    const qc_auto_candidate *cand = &qc_auto_candidates()[c];
    qc_range_params range = cand->range;
    range.bits = BITS;
    float lo, hi;
    qc_error err;
    ck_assert_int_eq(qc_stats_range(&s->tensors[qc_stats_find(s, "x")], cand->method, &range, -1, &lo, &hi, &err), QC_OK);
    qc_qparams px, pw;
    ck_assert_int_eq(qc_qparams_activation(lo, hi, o->scheme, BITS, false, "x", &px, &err), QC_OK);
    ck_assert_int_eq(qc_qparams_weights(weights, 1, 1, OUT_CH * 9, QC_GRANULARITY_TENSOR, o->scheme, BITS, false, "w",
                                        &pw, &err),
                     QC_OK);
    float wq[OUT_CH * 9], xq[PIXELS];
    for (int k = 0; k < OUT_CH * 9; k++)
        wq[k] = qc_fake_quantize(weights[k], &pw, QC_ROUND_HALF_EVEN);
    double num = 0, den = 0, y[OUT_CH * PIXELS], yq[OUT_CH * PIXELS];
    for (int img = 0; img < IMAGES; img++) {
        const float *x = images + img * PIXELS;
        for (int k = 0; k < PIXELS; k++)
            xq[k] = qc_fake_quantize(x[k], &px, QC_ROUND_HALF_EVEN);
        conv_ref(x, weights, y);
        conv_ref(xq, wq, yq);
        for (int k = 0; k < OUT_CH * PIXELS; k++) {
            num += (y[k] - yq[k]) * (y[k] - yq[k]);
            den += y[k] * y[k];
        }
    }
    return num / den;
}

typedef struct {
    qc_graph *g;
    qc_stats *s;
    float images[IMAGES * PIXELS];
    qc_quantize_options q;
} conv_case;

static void conv_setup(conv_case *c)
{
    c->g = conv_graph();
    heavy_tailed(c->images, IMAGES * PIXELS);
    const int64_t dims[] = {1, 1, SIDE, SIDE};
    qc_pass_inputs in = {.tensors = c->images, .n = IMAGES, .stride = PIXELS, .rank = 4, .dims = dims};
    qc_stats_options so = {.histograms = true};
    qc_gather_options go = {.limit = IMAGES, .batch = 16, .shard_n = 1, .threads = 1};
    qc_error err;
    ck_assert_msg(qc_stats_gather_inputs(c->g, &in, &so, &go, &c->s, &err) == QC_OK, "%s", err.msg);
    qc_quantize_options_default(&c->q);
    c->q.scheme = QC_SCHEME_GEMMLOWP; /* reference_error quantizes the weights per tensor */
    c->q.weights = QC_GRANULARITY_TENSOR;
    c->q.weight_bits = c->q.act_bits = BITS;
}

static void conv_teardown(conv_case *c)
{
    qc_stats_destroy(c->s);
    qc_graph_destroy(c->g);
}

START_TEST(the_chooser_picks_the_candidate_with_the_smallest_reference_error)
{
    static conv_case c;
    conv_setup(&c);
    qc_auto_result r;
    qc_error err;
    qc_auto_options ao = {.fp32 = c.g, .stats = c.s, .q = &c.q, .inputs = c.images, .n = IMAGES, .stride = PIXELS,
                          .threads = 1};
    ck_assert_msg(qc_method_auto(&ao, &r, &err) == QC_OK, "%s", err.msg);
    const qc_auto_choice *x = qc_auto_find(r.choices, r.n, "x");
    ck_assert_ptr_nonnull(x);
    int best = 0;
    double ref[QC_AUTO_CANDIDATES], highest = 0;
    for (int k = 0; k < QC_AUTO_CANDIDATES; k++) {
        ref[k] = reference_error(c.s, &c.q, c.images, k);
        ck_assert_msg(fabs(x->error[k] - ref[k]) <= MAX_ERROR_REL_DIFF * ref[k], "candidate %d: %.9g against %.9g", k,
                      x->error[k], ref[k]);
        if (ref[k] < ref[best])
            best = k;
        highest = fmax(highest, ref[k]);
    }
    /* the best is ahead of every other range by far more than the tolerance (candidates with
     * the very same range tie exactly, and the first is taken) */
    for (int k = 0; k < QC_AUTO_CANDIDATES; k++)
        ck_assert(ref[k] == ref[best] || ref[k] > ref[best] * (1 + 10 * MAX_ERROR_REL_DIFF));
    ck_assert_msg(highest > 1.5 * ref[best], "candidates too alike: %g..%g", ref[best], highest);
    ck_assert_int_eq(x->local, best);

    /* the same bits on 2 threads */
    qc_auto_result r2;
    ao.threads = 2;
    ck_assert_int_eq(qc_method_auto(&ao, &r2, &err), QC_OK);
    ck_assert_int_eq(r2.n, r.n);
    for (int i = 0; i < r.n; i++) {
        ck_assert_str_eq(r2.choices[i].tensor, r.choices[i].tensor);
        ck_assert_int_eq(memcmp(r2.choices[i].error, r.choices[i].error, sizeof r.choices[i].error), 0);
    }

    /* qc_quantize takes the chosen candidate's range for x (after the check at the output) */
    int chosen = x->choice;
    ck_assert_int_eq(x->method, qc_auto_candidates()[chosen].method);
    c.q.auto_choices = r.choices;
    c.q.n_auto_choices = r.n;
    qc_graph *qg = NULL;
    qc_quantize_report rep = {0};
    ck_assert_msg(qc_quantize(c.g, c.s, &c.q, &qg, &rep, &err) == QC_OK, "%s", err.msg);
    int found = 0;
    for (int i = 0; i < rep.n; i++)
        if (!strcmp(rep.tensors[i].tensor, "x")) {
            ck_assert_float_eq(rep.tensors[i].min, x->lo[chosen]);
            ck_assert_float_eq(rep.tensors[i].max, x->hi[chosen]);
            found++;
        }
    ck_assert_int_eq(found, 1);
    qc_quantize_report_free(&rep);
    qc_graph_destroy(qg);
    qc_auto_result_free(&r);
    qc_auto_result_free(&r2);
    conv_teardown(&c);
}
END_TEST

START_TEST(statistics_without_histograms_are_refused_naming_the_fix)
{
    static conv_case c;
    c.g = conv_graph();
    heavy_tailed(c.images, IMAGES * PIXELS);
    const int64_t dims[] = {1, 1, SIDE, SIDE};
    qc_pass_inputs in = {.tensors = c.images, .n = IMAGES, .stride = PIXELS, .rank = 4, .dims = dims};
    qc_stats_options so = {.histograms = false};
    qc_gather_options go = {.limit = IMAGES, .batch = 16, .shard_n = 1, .threads = 1};
    qc_error err;
    ck_assert_int_eq(qc_stats_gather_inputs(c.g, &in, &so, &go, &c.s, &err), QC_OK);
    qc_quantize_options_default(&c.q);
    qc_auto_result r;
    qc_auto_options ao = {.fp32 = c.g, .stats = c.s, .q = &c.q, .inputs = c.images, .n = IMAGES, .stride = PIXELS,
                          .threads = 1};
    ck_assert_int_eq(qc_method_auto(&ao, &r, &err), QC_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "histograms"));
    ck_assert_int_eq(r.n, 0);
    conv_teardown(&c);
}
END_TEST

/* KL(softmax(ref) ‖ softmax(q)) in double, written from the definition. */
static double reference_kl(const float *ref, const float *q, int n)
{
    double zr = 0, zq = 0, kl = 0;
    for (int k = 0; k < n; k++)
        zr += exp(ref[k]), zq += exp(q[k]);
    for (int k = 0; k < n; k++) {
        double p = exp(ref[k]) / zr, pq = exp(q[k]) / zq;
        kl += p * log(p / pq);
    }
    return kl;
}

/* The output criterion: agreement with FP32's top-1 decides, the KL only breaks its ties. */
START_TEST(agreement_with_fp32_wins_over_a_lower_kl)
{
    enum { N = 4, C = 3 };
    static const float fp32[N * C] = {2, 0, 0, 0, 1.5f, 0, 0, 0, 1, 0.2f, 0.1f, 0};
    /* a: the same top-1 as FP32 on 3 images of 4, but far logits */
    static const float a[N * C] = {4, -2, 0, -1, 3, 0, 0, 1, 0.5f, 0.5f, -1, -1};
    /* b: logits near FP32's everywhere, but its top-1 differs on 2 images */
    static const float b[N * C] = {1.9f, 0.1f, 0, 0.1f, 1.4f, 0, 0, 0.55f, 0.5f, 0.1f, 0.15f, 0};
    qc_aa_score sa, sb;
    qc_aa_score_logits(fp32, a, NULL, N, C, false, &sa);
    qc_aa_score_logits(fp32, b, NULL, N, C, false, &sb);
    int64_t agree_a = 0, agree_b = 0;
    double kl_a = 0, kl_b = 0;
    for (int i = 0; i < N; i++) {
        int top = 0, top_a = 0, top_b = 0;
        for (int k = 1; k < C; k++) {
            top = fp32[i * C + k] > fp32[i * C + top] ? k : top;
            top_a = a[i * C + k] > a[i * C + top_a] ? k : top_a;
            top_b = b[i * C + k] > b[i * C + top_b] ? k : top_b;
        }
        agree_a += top_a == top, agree_b += top_b == top;
        kl_a += reference_kl(fp32 + i * C, a + i * C, C);
        kl_b += reference_kl(fp32 + i * C, b + i * C, C);
    }
    ck_assert_int_eq(agree_a, 3);
    ck_assert_int_eq(agree_b, 2);
    ck_assert(kl_a > 5 * kl_b);
    ck_assert_int_eq(sa.agree, agree_a);
    ck_assert_int_eq(sb.agree, agree_b);
    ck_assert_int_eq(sa.images, N);
    ck_assert_int_eq(sa.labelled, 0);
    ck_assert_double_eq_tol(sa.kl, kl_a, 1e-9 * kl_a);
    ck_assert_double_eq_tol(sb.kl, kl_b, 1e-9 * kl_b);
    ck_assert(qc_aa_better(QC_AA_AGREEMENT, &sa, &sb));
    ck_assert(!qc_aa_better(QC_AA_AGREEMENT, &sb, &sa));
    /* as much agreement: the lower KL wins; an equal score is no improvement */
    qc_aa_score tie = sa;
    tie.kl = sb.kl;
    ck_assert(qc_aa_better(QC_AA_AGREEMENT, &tie, &sa));
    ck_assert(!qc_aa_better(QC_AA_AGREEMENT, &sa, &tie));
    ck_assert(!qc_aa_better(QC_AA_AGREEMENT, &sa, &sa));
}
END_TEST

/* A table of per-image outcomes: image i agrees with FP32 when bit i of `agree` is set. */
#define TABLE 40
static void table(const char *agree, double kl_each, qc_auto_outcome *o, unsigned char *a, double *kl)
{
    for (int i = 0; i < TABLE; i++)
        a[i] = agree[i] == '1', kl[i] = kl_each;
    *o = (qc_auto_outcome){.n = TABLE, .agree = a, .kl = kl};
}

/* McNemar's statistic from its definition: the discordant pairs counted here. */
static double reference_mcnemar(const unsigned char *a, const unsigned char *b, int n)
{
    int only_a = 0, only_b = 0;
    for (int i = 0; i < n; i++)
        only_a += a[i] > b[i], only_b += b[i] > a[i];
    double chi2 = only_a + only_b ? (only_a - only_b) * (double)(only_a - only_b) / (only_a + only_b) : 0;
    return only_a >= only_b ? chi2 : -chi2;
}

/* The rule at the output: agreement decides only where McNemar's test finds the difference
 * significant, the KL otherwise; a refinement needs a significant KL decrease too. */
START_TEST(agreement_decides_only_where_the_paired_difference_is_significant)
{
    /* b agrees on 32 of 40; a on 35 (5 images only a agrees on, 2 only b): χ² = 9/7 */
    static const char agree_b[] = "1111111111111111111111111111111100000000";
    static const char agree_a[] = "1111111111111111111111111111110011111000";
    /* c on 40 of 40: 8 only c, 0 only b: χ² = 8 */
    static const char agree_c[] = "1111111111111111111111111111111111111111";
    unsigned char fa[TABLE], fb[TABLE], fc[TABLE];
    double ka[TABLE], kb[TABLE], kc[TABLE];
    qc_auto_outcome a, b, c;
    table(agree_a, 0.02, &a, fa, ka);
    table(agree_b, 0.01, &b, fb, kb);
    table(agree_c, 0.05, &c, fc, kc);
    double ref_ab = reference_mcnemar(fa, fb, TABLE), ref_cb = reference_mcnemar(fc, fb, TABLE);
    ck_assert_double_eq_tol(ref_ab, 9.0 / 7.0, 1e-12);
    ck_assert_double_eq_tol(ref_cb, 8.0, 1e-12);
    ck_assert_double_eq_tol(qc_auto_mcnemar(fa, fb, TABLE), ref_ab, 1e-12);
    ck_assert_double_eq_tol(qc_auto_mcnemar(fb, fa, TABLE), -ref_ab, 1e-12);
    ck_assert_double_eq_tol(qc_auto_mcnemar(fc, fb, TABLE), ref_cb, 1e-12);
    ck_assert(qc_auto_mcnemar(fa, fa, TABLE) == 0);
    /* a agrees on 3 more images, not significantly (9/7 < 3.841): b's lower KL wins, where
     * agreement first (qc_aa_better) takes a */
    qc_aa_score sa = {.images = TABLE, .agree = 35, .kl = 0.02 * TABLE}, sb = {.images = TABLE, .agree = 32, .kl = 0.01 * TABLE};
    ck_assert(qc_aa_better(QC_AA_AGREEMENT, &sa, &sb));
    ck_assert(fabs(ref_ab) <= QC_AUTO_MCNEMAR);
    ck_assert(qc_auto_better(&b, &a) && !qc_auto_better(&a, &b));
    /* c's 8 more are significant (8 > 3.841): c wins over b despite a KL five times b's */
    ck_assert(ref_cb > QC_AUTO_MCNEMAR);
    ck_assert(qc_auto_better(&c, &b) && !qc_auto_better(&b, &c));
    ck_assert(!qc_auto_better(&b, &b));

    /* the refinement's test: d is b with one image's KL 0.39 lower, a lower Σ KL but a paired
     * z of 1 (one decrease x among n: mean x/n, standard error x/n); e is b with every
     * image's KL 0.002 lower (z far above 1.96) */
    unsigned char fd[TABLE], fe[TABLE];
    double kd[TABLE], ke[TABLE];
    qc_auto_outcome d, e;
    kb[7] = 0.4;
    table(agree_b, 0.01, &d, fd, kd);
    table(agree_b, 0, &e, fe, ke);
    for (int i = 0; i < TABLE; i++)
        ke[i] = kb[i] - 0.002;
    double mean = 0, ss = 0;
    for (int i = 0; i < TABLE; i++)
        mean += (kb[i] - kd[i]) / TABLE;
    for (int i = 0; i < TABLE; i++)
        ss += (kb[i] - kd[i] - mean) * (kb[i] - kd[i] - mean);
    double ref_z = mean / sqrt(ss / (TABLE - 1) / TABLE);
    ck_assert_double_eq_tol(ref_z, 1.0, 1e-9);
    ck_assert_double_eq_tol(qc_auto_kl_z(&d, &b), ref_z, 1e-9);
    ck_assert(qc_auto_better(&d, &b) && !qc_auto_improves(&d, &b));
    ck_assert(qc_auto_kl_z(&e, &b) > 100);
    ck_assert(qc_auto_better(&e, &b) && qc_auto_improves(&e, &b));
    ck_assert(!qc_auto_improves(&b, &e));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("method-auto");
    TCase *t = tcase_create("chooser");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, the_chooser_picks_the_candidate_with_the_smallest_reference_error);
    tcase_add_test(t, statistics_without_histograms_are_refused_naming_the_fix);
    tcase_add_test(t, agreement_with_fp32_wins_over_a_lower_kl);
    tcase_add_test(t, agreement_decides_only_where_the_paired_difference_is_significant);
    suite_add_tcase(s, t);
    return qc_check_run("check_method_auto", s);
}
