/* check_adequacy.c — focus: stats/adequacy.c. The per-group summaries kept while gathering add
 * up to exactly the statistics of the whole set (and keeping them changes no byte of the file);
 * the bootstrap of a constant tensor has no spread; on synthetic data of a known distribution
 * the bootstrap's spread of the minmax and avgstd scales is within a stated factor of the
 * spread measured over many independent sets (computed here from the definitions); the result
 * is the same for any --threads and --batch. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calib/calib.h"
#include "check-util.h"
#include "stats/stats-impl.h"

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A standard normal value (Box-Muller). */
static double normal(void)
{
    double u = ((rng() >> 11) + 0.5) * 0x1p-53, v = ((rng() >> 11) + 0.5) * 0x1p-53;
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* The test's scale: an asymmetric 8-bit range with 0 inside, written from the definition. */
static double scale_255(void *ctx, float lo, float hi)
{
    (void)ctx;
    double l = lo < 0 ? lo : 0, h = hi > 0 ? hi : 0;
    return h > l ? (h - l) / 255.0 : 1.0;
}

static char *write_text(const qc_stats *s)
{
    char *text = NULL;
    size_t size = 0;
    qc_error err;
    FILE *f = open_memstream(&text, &size);
    ck_assert_int_eq(qc_stats_write(s, f, &err), QC_OK);
    fclose(f);
    return text;
}

/* ---- groups recombine exactly; the file and the result do not depend on the split ---------- */

typedef struct {
    qc_graph *g;
    qc_image_set set;
    qc_preprocess pp;
} lenet;

static void lenet_open(lenet *l)
{
    qc_error err;
    ck_assert_int_eq(qc_onnx_load("models/lenet.onnx", &l->g, &err), QC_OK);
    ck_assert_int_eq(qc_pass_fold_batchnorm(l->g, &err), QC_OK);
    ck_assert_int_eq(qc_image_set_open(&l->set, "data/calib", NULL, &err), QC_OK);
    qc_preprocess_default(&l->pp, 1);
}

static void lenet_close(lenet *l)
{
    qc_image_set_free(&l->set);
    qc_graph_destroy(l->g);
}

/* 100 images: 6 groups of 16 and one of 4. */
static qc_stats *gather(lenet *l, int threads, int64_t batch, qc_group_table **groups)
{
    qc_error err;
    qc_stats_options so = {.per_channel = true, .pp = &l->pp};
    qc_gather_options go = {.limit = 100, .batch = batch, .shard_n = 1, .threads = threads, .groups = groups};
    qc_stats *s;
    ck_assert_msg(qc_stats_gather(l->g, &l->set, &l->pp, &so, &go, &s, &err) == QC_OK, "%s", err.msg);
    return s;
}

START_TEST(group_summaries_add_up_to_exactly_the_whole_set)
{
    lenet l;
    lenet_open(&l);
    qc_group_table *groups;
    qc_stats *s = gather(&l, 2, 32, &groups), *plain = gather(&l, 1, 16, NULL);
    ck_assert_int_eq(groups->n_groups, 7);
    ck_assert_int_eq(groups->images[6], 4);
    char *a = write_text(s), *b = write_text(plain);
    ck_assert_str_eq(a, b); /* keeping the groups changes no byte */
    int checked = 0;
    for (int i = 0; i < s->n_tensors; i++) {
        const qc_tensor_stats *t = &s->tensors[i];
        if (t->role == QC_ROLE_WEIGHT)
            continue;
        qc_tensor_stats c;
        qc_group_table_combine(groups, s, i, NULL, &c);
        ck_assert_int_eq(c.samples, t->samples);
        ck_assert(c.t.min == t->t.min && c.t.max == t->t.max);
        ck_assert_msg(qc_fix_equal(&c.t.sum, &t->t.sum) && qc_fix_equal(&c.t.sumsq, &t->t.sumsq) &&
                          qc_fix_equal(&c.t.smin, &t->t.smin) && qc_fix_equal(&c.t.smin2, &t->t.smin2) &&
                          qc_fix_equal(&c.t.smax, &t->t.smax) && qc_fix_equal(&c.t.smax2, &t->t.smax2),
                      "the sums of '%s' differ", t->name);
        checked++;
    }
    ck_assert_int_eq(checked, 11);
    free(a);
    free(b);
    qc_group_table_destroy(groups);
    qc_stats_destroy(s);
    qc_stats_destroy(plain);
    lenet_close(&l);
}
END_TEST

static void adequacy_of(const qc_stats *s, const qc_group_table *g, qc_range_method m, qc_adequacy *a)
{
    qc_adequacy_options o;
    qc_adequacy_options_default(&o);
    o.method = m;
    o.scale = scale_255;
    qc_error err;
    ck_assert_msg(qc_adequacy_run(s, g, &o, a, &err) == QC_OK, "%s", err.msg);
}

START_TEST(adequacy_is_the_same_for_any_threads_and_batch)
{
    lenet l;
    lenet_open(&l);
    qc_group_table *g1, *g3;
    qc_stats *s1 = gather(&l, 1, 16, &g1), *s3 = gather(&l, 3, 48, &g3);
    ck_assert(!memcmp(g1->images, g3->images, (size_t)g1->n_groups * sizeof *g1->images));
    ck_assert(!memcmp(g1->sums, g3->sums, (size_t)(g1->n_groups * g1->n_tensors) * sizeof *g1->sums));
    for (int m = QC_RANGE_MINMAX; m <= QC_RANGE_MEANSTD; m++) {
        qc_adequacy a, b;
        adequacy_of(s1, g1, m, &a);
        adequacy_of(s3, g3, m, &b);
        ck_assert_int_eq(a.n, 11);
        ck_assert_int_eq(a.groups, 7);
        ck_assert_int_eq(a.images, 100);
        ck_assert(a.n == b.n && !memcmp(a.tensors, b.tensors, (size_t)a.n * sizeof *a.tensors));
        /* the scale from every group is the scale of the file's range */
        for (int j = 0; j < a.n; j++) {
            qc_range_params p;
            qc_range_params_default(&p);
            float lo, hi;
            ck_assert_int_eq(qc_stats_range(&s1->tensors[a.tensors[j].tensor], m, &p, -1, &lo, &hi, NULL), QC_OK);
            ck_assert(a.tensors[j].scale == scale_255(NULL, lo, hi));
            ck_assert(a.tensors[j].lo90 <= a.tensors[j].hi90 && a.tensors[j].rsd >= 0);
        }
        qc_adequacy_free(&a);
        qc_adequacy_free(&b);
    }
    qc_group_table_destroy(g1);
    qc_group_table_destroy(g3);
    qc_stats_destroy(s1);
    qc_stats_destroy(s3);
    lenet_close(&l);
}
END_TEST

/* quantize's scales (calib/): GemmLowP at 8 bits is the asymmetric 8-bit scale of the
 * definition (float precision); at 4 bits, 255 / 15 times it */
START_TEST(adequacy_of_activations_judges_the_scales_quantize_writes)
{
    lenet l;
    lenet_open(&l);
    qc_group_table *g;
    qc_stats *s = gather(&l, 1, 16, &g);
    qc_adequacy want, got8, got4;
    adequacy_of(s, g, QC_RANGE_MINMAX, &want);
    qc_adequacy_options o;
    qc_adequacy_options_default(&o);
    qc_error err;
    ck_assert_msg(qc_adequacy_of_activations(s, g, &o, QC_SCHEME_GEMMLOWP, 8, &got8, &err) == QC_OK, "%s", err.msg);
    ck_assert_msg(qc_adequacy_of_activations(s, g, &o, QC_SCHEME_GEMMLOWP, 4, &got4, &err) == QC_OK, "%s", err.msg);
    ck_assert(got8.n == want.n && got8.groups == want.groups && got8.images == want.images);
    for (int j = 0; j < want.n; j++) {
        double w = want.tensors[j].scale;
        ck_assert_msg(fabs(got8.tensors[j].scale - w) <= 1e-6 * w, "%.9g against %.9g", got8.tensors[j].scale, w);
        ck_assert_msg(fabs(got4.tensors[j].scale - w * 17) <= 1e-6 * w * 17, "%.9g against %.9g",
                      got4.tensors[j].scale, w * 17);
        ck_assert(fabs(got8.tensors[j].rsd - want.tensors[j].rsd) <= 1e-5);
    }
    qc_adequacy_free(&want);
    qc_adequacy_free(&got8);
    qc_adequacy_free(&got4);
    qc_group_table_destroy(g);
    qc_stats_destroy(s);
    lenet_close(&l);
}
END_TEST

/* ---- synthetic data -------------------------------------------------------------------------- */

#define VALUES 64 /* per image */

/* A one-tensor statistics and its group table, filled as gathering fills them: each group's
 * pending sums kept, then flushed. fill(k, x) gives the values of image k. */
static qc_stats *synthetic(int groups, void (*fill)(int64_t k, float *x), qc_group_table **table)
{
    qc_stats_options so = {0};
    qc_stats *s = qc_stats_create_empty(&so);
    const int64_t dims[] = {1, VALUES};
    ck_assert_int_eq(qc_stats_add_tensor(s, "x", QC_ROLE_ACTIVATION, 2, dims, -1), 0);
    *table = qc_group_table_create(s, (int64_t)groups * QC_STATS_GROUP);
    float x[VALUES];
    for (int k = 0; k < groups; k++) {
        for (int i = 0; i < QC_STATS_GROUP; i++) {
            fill((int64_t)k * QC_STATS_GROUP + i, x);
            qc_value v = qc_value_f32(2, dims, x);
            qc_stats_observe(s, 0, &v);
            qc_stats_add_image(s, "synthetic");
        }
        (*table)->sums[k] = s->tensors[0].pend[0];
        (*table)->images[k] = QC_STATS_GROUP;
        qc_stats_flush(s);
        ck_assert_int_eq(s->status, QC_OK);
    }
    return s;
}

static void constant(int64_t k, float *x)
{
    (void)k;
    for (int i = 0; i < VALUES; i++)
        x[i] = i % 2 ? 1.5f : -0.25f;
}

START_TEST(a_constant_tensor_has_no_spread)
{
    qc_group_table *g;
    qc_stats *s = synthetic(8, constant, &g);
    for (int m = QC_RANGE_MINMAX; m < QC_RANGE_COUNT; m++) {
        qc_adequacy a;
        adequacy_of(s, g, m, &a);
        ck_assert_int_eq(a.n, 1);
        const qc_adequacy_tensor *r = &a.tensors[0];
        ck_assert_msg(r->rsd < 1e-9, "%s: spread %g", qc_range_method_name(m), r->rsd);
        ck_assert(!r->uncertain && r->images_needed == 8 * QC_STATS_GROUP);
        ck_assert(fabs(r->lo90 - r->scale) <= 1e-9 * r->scale && fabs(r->hi90 - r->scale) <= 1e-9 * r->scale);
        qc_adequacy_free(&a);
    }
    qc_group_table_destroy(g);
    qc_stats_destroy(s);
}
END_TEST

static void gaussian(int64_t k, float *x)
{
    (void)k;
    for (int i = 0; i < VALUES; i++)
        x[i] = (float)normal();
}

/* The minmax and avgstd (n = 1) ranges of a set of images, from the definitions (R1, R3). */
static void reference_ranges(const float *img_min, const float *img_max, int n, double *mm_lo, double *mm_hi,
                             double *as_lo, double *as_hi)
{
    double lo = INFINITY, hi = -INFINITY, s1 = 0, s2 = 0, t1 = 0, t2 = 0;
    for (int i = 0; i < n; i++) {
        lo = fmin(lo, img_min[i]);
        hi = fmax(hi, img_max[i]);
        s1 += img_min[i];
        s2 += (double)img_min[i] * img_min[i];
        t1 += img_max[i];
        t2 += (double)img_max[i] * img_max[i];
    }
    double mmin = s1 / n, mmax = t1 / n;
    *mm_lo = lo;
    *mm_hi = hi;
    *as_lo = fmax(lo, mmin - sqrt(fmax(s2 / n - mmin * mmin, 0)));
    *as_hi = fmin(hi, mmax + sqrt(fmax(t2 / n - mmax * mmax, 0)));
}

static double rel_std(const double *v, int n)
{
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++)
        mean += v[i];
    mean /= n;
    for (int i = 0; i < n; i++)
        var += (v[i] - mean) * (v[i] - mean);
    return sqrt(var / (n - 1)) / mean;
}

/* The true spread of the scale over SETS independent sets of GROUPS groups of Gaussian images,
 * against the mean bootstrap estimate from TRIALS of those sets. The bootstrap of a mean-like
 * statistic (avgstd) is close; of an extreme (minmax) it is optimistic, as the bootstrap of a
 * maximum is: a resample cannot exceed the maximum it resamples. Stated factors: avgstd within
 * 1.5× either way (measured: 0.93×), minmax below the truth but above a third of it (measured:
 * 0.56×). */
#define GROUPS 16
#define SETS 300
#define TRIALS 20
START_TEST(bootstrap_spread_is_near_the_spread_of_independent_sets)
{
    const int n = GROUPS * QC_STATS_GROUP;
    float *img_min = malloc(sizeof(float) * n), *img_max = malloc(sizeof(float) * n);
    double *mm = malloc(sizeof(double) * SETS), *as = malloc(sizeof(double) * SETS);
    float x[VALUES];
    for (int set = 0; set < SETS; set++) {
        for (int i = 0; i < n; i++) {
            gaussian(i, x);
            img_min[i] = img_max[i] = x[0];
            for (int j = 1; j < VALUES; j++) {
                img_min[i] = fminf(img_min[i], x[j]);
                img_max[i] = fmaxf(img_max[i], x[j]);
            }
        }
        double a, b, c, d;
        reference_ranges(img_min, img_max, n, &a, &b, &c, &d);
        mm[set] = scale_255(NULL, (float)a, (float)b);
        as[set] = scale_255(NULL, (float)c, (float)d);
    }
    const double true_mm = rel_std(mm, SETS), true_as = rel_std(as, SETS);
    double est_mm = 0, est_as = 0;
    for (int trial = 0; trial < TRIALS; trial++) {
        qc_group_table *g;
        qc_stats *s = synthetic(GROUPS, gaussian, &g);
        qc_adequacy a;
        qc_adequacy_options o;
        qc_adequacy_options_default(&o);
        o.scale = scale_255;
        o.params.n_std = 1;
        qc_error err;
        ck_assert_int_eq(qc_adequacy_run(s, g, &o, &a, &err), QC_OK);
        est_mm += a.tensors[0].rsd / TRIALS;
        qc_adequacy_free(&a);
        o.method = QC_RANGE_AVGSTD;
        ck_assert_int_eq(qc_adequacy_run(s, g, &o, &a, &err), QC_OK);
        est_as += a.tensors[0].rsd / TRIALS;
        qc_adequacy_free(&a);
        qc_group_table_destroy(g);
        qc_stats_destroy(s);
    }
    ck_assert_msg(est_as > true_as / 1.5 && est_as < true_as * 1.5, "avgstd: bootstrap %g, true %g", est_as, true_as);
    ck_assert_msg(est_mm > true_mm / 3 && est_mm < true_mm, "minmax: bootstrap %g, true %g", est_mm, true_mm);
    free(img_min);
    free(img_max);
    free(mm);
    free(as);
}
END_TEST

START_TEST(images_needed_follow_the_square_root_law_in_whole_groups)
{
    qc_group_table *g;
    qc_stats *s = synthetic(4, gaussian, &g);
    qc_adequacy a;
    qc_adequacy_options o;
    qc_adequacy_options_default(&o);
    o.scale = scale_255;
    o.tolerance = 1e-4; /* every tensor uncertain */
    qc_error err;
    ck_assert_int_eq(qc_adequacy_run(s, g, &o, &a, &err), QC_OK);
    const qc_adequacy_tensor *r = &a.tensors[0];
    ck_assert(r->uncertain);
    double want = 64.0 * (r->rsd / 1e-4) * (r->rsd / 1e-4);
    ck_assert_int_eq(r->images_needed % QC_STATS_GROUP, 0);
    ck_assert(r->images_needed >= want && r->images_needed < want + QC_STATS_GROUP);
    qc_adequacy_free(&a);
    /* one group cannot be resampled; bad options are usage errors */
    g->images[1] = g->images[2] = g->images[3] = 0;
    ck_assert_int_eq(qc_adequacy_run(s, g, &o, &a, &err), QC_ERR_INPUT);
    o.tolerance = 0;
    ck_assert_int_eq(qc_adequacy_run(s, g, &o, &a, &err), QC_ERR_USAGE);
    qc_group_table_destroy(g);
    qc_stats_destroy(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("adequacy");
    TCase *model = tcase_create("model");
    tcase_set_timeout(model, 60);
    tcase_add_test(model, group_summaries_add_up_to_exactly_the_whole_set);
    tcase_add_test(model, adequacy_is_the_same_for_any_threads_and_batch);
    tcase_add_test(model, adequacy_of_activations_judges_the_scales_quantize_writes);
    suite_add_tcase(s, model);
    TCase *syn = tcase_create("synthetic");
    tcase_set_timeout(syn, 60);
    tcase_add_test(syn, a_constant_tensor_has_no_spread);
    tcase_add_test(syn, bootstrap_spread_is_near_the_spread_of_independent_sets);
    tcase_add_test(syn, images_needed_follow_the_square_root_law_in_whole_groups);
    suite_add_tcase(s, syn);
    return qc_check_run("check_adequacy", s);
}
