/* check_kernels_math.c — the FP32 math kernels (math.c, compare.c, reduce.c, norm.c, the
 * softmaxes) against scalar references written from the ONNX specs, computed in double: on
 * random broadcasting shapes, random reduction axes, extreme arguments and long reductions. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-util.h"
#include "kernels/kernels.h"

/* ---- helpers ----------------------------------------------------------------------------- */

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12; /* xorshift64*: deterministic, so that a failure replays */
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static int64_t rand_int(int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

static float rand_float(float lo, float hi)
{
    return lo + (hi - lo) * (float)(rng_next() >> 40) / (float)(1 << 24);
}

static void *alloc(size_t bytes)
{
    void *p = calloc(bytes ? bytes : 1, 1);
    ck_assert_ptr_nonnull(p);
    return p;
}

static float *rand_floats(int64_t n, float lo, float hi)
{
    float *v = alloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++)
        v[i] = rand_float(lo, hi);
    return v;
}

static int64_t count_of(int rank, const int64_t *dims)
{
    int64_t c = 1;
    for (int d = 0; d < rank; d++)
        c *= dims[d];
    return c;
}

static void assert_near(const char *what, int64_t i, double got, double want, double rel,
                        double abs_tol)
{
    if ((isnan(want) && isnan(got)) || got == want) /* NaN, or infinities of one sign */
        return;
    ck_assert_msg(fabs(got - want) <= abs_tol + rel * fabs(want),
                  "%s: element %lld is %.9g, the reference %.9g", what, (long long)i, got, want);
}

/* A random output shape of rank 1..5 and an operand shape that broadcasts to it: a suffix
 * of it, some dimensions set to 1. */
static void random_broadcast(int y_rank, const int64_t *y_dims, int *rank, int64_t *dims)
{
    *rank = (int)rand_int(0, y_rank);
    for (int d = 0; d < *rank; d++) {
        int64_t size = y_dims[y_rank - *rank + d];
        dims[d] = rand_int(0, 2) == 0 ? 1 : size;
    }
}

/* The flat index in an operand (rank, dims) of output element i (numpy broadcasting). */
static int64_t source_index(int y_rank, const int64_t *y_dims, int64_t i, int rank,
                            const int64_t *dims)
{
    int64_t src = 0, step = 1;
    for (int d = y_rank - 1; d >= 0; d--) {
        int64_t coord = i % y_dims[d];
        i /= y_dims[d];
        int s = d - (y_rank - rank);
        if (s >= 0) {
            src += (dims[s] == 1 ? 0 : coord) * step;
            step *= dims[s];
        }
    }
    return src;
}

static void random_shape(int *rank, int64_t *dims)
{
    *rank = (int)rand_int(1, 5);
    for (int d = 0; d < *rank; d++)
        dims[d] = rand_int(1, 4);
}

/* ---- elementwise ------------------------------------------------------------------------- */

static double ref_unary(qc_f32_unary_op op, const qc_f32_unary_params *p, double x)
{
    double softplus = x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
    double hs = x / 6 + 0.5;
    switch (op) {
    case QC_F32_TANH: return tanh(x);
    case QC_F32_ERF: return erf(x);
    case QC_F32_SQRT: return sqrt(x);
    case QC_F32_RECIPROCAL: return 1 / x;
    case QC_F32_EXP: return exp(x);
    case QC_F32_LOG: return log(x);
    case QC_F32_NEG: return -x;
    case QC_F32_ABS: return fabs(x);
    case QC_F32_FLOOR: return floor(x);
    case QC_F32_CEIL: return ceil(x);
    case QC_F32_SIN: return sin(x);
    case QC_F32_COS: return cos(x);
    case QC_F32_SOFTSIGN: return x / (1 + fabs(x));
    case QC_F32_SOFTPLUS: return softplus;
    case QC_F32_MISH: return x * tanh(softplus);
    case QC_F32_GELU: return 0.5 * x * erfc(-x / sqrt(2.0));
    case QC_F32_GELU_TANH: {
        /* 1 + tanh(u) = 2 e^2u / (1 + e^2u), in long double: the spec's form cancels to 0
         * in double below x = -6 while the true value is still far above FLT_MIN */
        long double u = sqrtl(2 / (long double)M_PI) * (x + 0.044715L * x * x * x);
        return (double)(x * expl(2 * u) / (1 + expl(2 * u)));
    }
    case QC_F32_HARD_SIGMOID: return fmax(0, fmin(1, p->alpha * x + p->beta));
    case QC_F32_HARD_SWISH: return x * fmax(0, fmin(1, hs));
    case QC_F32_ELU: return x >= 0 ? x : p->alpha * (exp(x) - 1);
    case QC_F32_SELU: return p->gamma * (x > 0 ? x : p->alpha * (exp(x) - 1));
    case QC_F32_CELU: return fmax(0, x) + fmin(0, p->alpha * (exp(x / p->alpha) - 1));
    case QC_F32_THRESHOLDED_RELU: return x > p->alpha ? x : 0;
    }
    return NAN;
}

START_TEST(test_unary_ops_match_the_spec_formulas_in_double_far_into_the_tails)
{
    qc_f32_unary_params p = {.alpha = 0.7f, .beta = 0.4f, .gamma = 1.3f};
    enum { N = 4001 };
    float x[N], y[N];
    for (int op = QC_F32_TANH; op <= QC_F32_THRESHOLDED_RELU; op++) {
        bool positive = op == QC_F32_SQRT || op == QC_F32_LOG;
        for (int i = 0; i < N; i++) /* -20..20, or 0.0001..40 */
            x[i] = positive ? 1e-4f + (float)i * 0.01f : -20.0f + (float)i * 0.01f;
        x[0] = positive ? 1e-30f : -90.0f; /* far tails: exp underflows, gelu is tiny */
        qc_f32_unary((qc_f32_unary_op)op, &p, N, x, y);
        for (int i = 0; i < N; i++) {
            double want = ref_unary((qc_f32_unary_op)op, &p, x[i]);
            if (op == QC_F32_SIN || op == QC_F32_COS || op == QC_F32_RECIPROCAL)
                assert_near("sin/cos/reciprocal", i, y[i], want, 1e-6, 1e-6);
            else
                assert_near("unary", op * 100000 + i, y[i], want, 1e-5, 1e-37);
        }
    }
}
END_TEST

START_TEST(test_where_pow_compare_and_minmax_broadcast_like_numpy)
{
    for (int iter = 0; iter < 300; iter++) {
        int y_rank, ra, rb, rc;
        int64_t y_dims[8], da[8], db[8], dc[8];
        random_shape(&y_rank, y_dims);
        random_broadcast(y_rank, y_dims, &ra, da);
        random_broadcast(y_rank, y_dims, &rb, db);
        random_broadcast(y_rank, y_dims, &rc, dc);
        /* the output is the broadcast of the operands: put the full shape into one of them */
        ra = y_rank;
        memcpy(da, y_dims, sizeof da);
        if (iter % 2) { /* or spread it over two */
            for (int d = 0; d < y_rank; d++)
                da[d] = d % 2 ? 1 : y_dims[d];
            rb = y_rank;
            for (int d = 0; d < y_rank; d++)
                db[d] = d % 2 ? y_dims[d] : 1;
        }
        int64_t n = count_of(y_rank, y_dims);
        float *a = rand_floats(count_of(ra, da), 0.1f, 3.0f);
        float *b = rand_floats(count_of(rb, db), -2, 2);
        uint8_t *c = alloc((size_t)count_of(rc, dc));
        for (int64_t i = 0; i < count_of(rc, dc); i++)
            c[i] = rng_next() & 1;
        float *y = alloc((size_t)n * sizeof *y);
        uint8_t *yb = alloc((size_t)n);
        qc_f32_where(QC_F32_ELEM_FLOAT, c, rc, dc, a, ra, da, b, rb, db, y, y_rank, y_dims);
        for (int64_t i = 0; i < n; i++) {
            float want = c[source_index(y_rank, y_dims, i, rc, dc)]
                             ? a[source_index(y_rank, y_dims, i, ra, da)]
                             : b[source_index(y_rank, y_dims, i, rb, db)];
            ck_assert_msg(y[i] == want, "where: element %lld", (long long)i);
        }
        qc_f32_pow(QC_F32_ELEM_FLOAT, a, ra, da, QC_F32_ELEM_FLOAT, b, rb, db, y, y_rank, y_dims);
        for (int64_t i = 0; i < n; i++)
            assert_near("pow", i, y[i],
                        pow(a[source_index(y_rank, y_dims, i, ra, da)],
                            b[source_index(y_rank, y_dims, i, rb, db)]),
                        1e-6, 0);
        qc_f32_compare(QC_F32_LESS_EQUAL, QC_F32_ELEM_FLOAT, a, ra, da, b, rb, db, yb, y_rank,
                       y_dims);
        for (int64_t i = 0; i < n; i++)
            ck_assert_int_eq(yb[i], a[source_index(y_rank, y_dims, i, ra, da)] <=
                                        b[source_index(y_rank, y_dims, i, rb, db)]);
        qc_f32_binary(QC_F32_MAX, QC_F32_ELEM_FLOAT, a, ra, da, b, rb, db, y, y_rank, y_dims);
        for (int64_t i = 0; i < n; i++)
            ck_assert(y[i] == fmaxf(a[source_index(y_rank, y_dims, i, ra, da)],
                                    b[source_index(y_rank, y_dims, i, rb, db)]));
        free(a), free(b), free(c), free(y), free(yb);
    }
}
END_TEST

START_TEST(test_min_max_propagate_nan_and_integer_pow_is_exact)
{
    float a[4] = {1, NAN, 3, -1}, b[4] = {NAN, 2, 1, -2}, y[4];
    int64_t d4[1] = {4};
    qc_f32_binary(QC_F32_MIN, QC_F32_ELEM_FLOAT, a, 1, d4, b, 1, d4, y, 1, d4);
    ck_assert(isnan(y[0]) && isnan(y[1]) && y[2] == 1 && y[3] == -2);
    qc_f32_binary(QC_F32_MAX, QC_F32_ELEM_FLOAT, a, 1, d4, b, 1, d4, y, 1, d4);
    ck_assert(isnan(y[0]) && isnan(y[1]) && y[2] == 3 && y[3] == -1);
    int64_t base[4] = {3, -2, 7, 2}, e[4] = {39, 5, -1, 62}, got[4];
    qc_f32_pow(QC_F32_ELEM_INT64, base, 1, d4, QC_F32_ELEM_INT64, e, 1, d4, got, 1, d4);
    ck_assert(got[0] == 4052555153018976267LL); /* 3^39, beyond double's 53 bits */
    ck_assert(got[1] == -32 && got[2] == 0 && got[3] == (int64_t)1 << 62);
}
END_TEST

/* ---- reductions -------------------------------------------------------------------------- */

static double ref_reduce(qc_f32_reduce_op op, const float *x, const int64_t *idx, int64_t n)
{
    double acc = op == QC_F32_REDUCE_PROD ? 1 : op == QC_F32_REDUCE_MAX ? -INFINITY
                 : op == QC_F32_REDUCE_MIN ? INFINITY : 0;
    double max = -INFINITY;
    for (int64_t k = 0; k < n; k++)
        max = fmax(max, x[idx[k]]);
    for (int64_t k = 0; k < n; k++) {
        double v = x[idx[k]];
        switch (op) {
        case QC_F32_REDUCE_SUM:
        case QC_F32_REDUCE_MEAN:
        case QC_F32_REDUCE_LOG_SUM: acc += v; break;
        case QC_F32_REDUCE_MAX: acc = fmax(acc, v); break;
        case QC_F32_REDUCE_MIN: acc = fmin(acc, v); break;
        case QC_F32_REDUCE_PROD: acc *= v; break;
        case QC_F32_REDUCE_L1: acc += fabs(v); break;
        case QC_F32_REDUCE_L2: case QC_F32_REDUCE_SUM_SQUARE: acc += v * v; break;
        case QC_F32_REDUCE_LOG_SUM_EXP: acc += exp(v - max); break;
        }
    }
    switch (op) {
    case QC_F32_REDUCE_MEAN: return acc / (double)n;
    case QC_F32_REDUCE_L2: return sqrt(acc);
    case QC_F32_REDUCE_LOG_SUM: return log(acc);
    case QC_F32_REDUCE_LOG_SUM_EXP: return max + log(acc);
    default: return acc;
    }
}

START_TEST(test_reductions_over_random_axes_match_the_definition)
{
    for (int iter = 0; iter < 400; iter++) {
        int rank;
        int64_t dims[8];
        bool reduced[8];
        random_shape(&rank, dims);
        for (int d = 0; d < rank; d++)
            reduced[d] = rng_next() & 1;
        qc_f32_reduce_op op = (qc_f32_reduce_op)(iter % 10);
        int64_t n = count_of(rank, dims), out = 1;
        for (int d = 0; d < rank; d++)
            out *= reduced[d] ? 1 : dims[d];
        float lo = op == QC_F32_REDUCE_LOG_SUM ? 0.1f : op == QC_F32_REDUCE_PROD ? -2.0f : -40.0f;
        float *x = rand_floats(n, lo, op == QC_F32_REDUCE_PROD ? 2.0f : 40.0f);
        float *y = alloc((size_t)out * sizeof *y);
        void *scratch = alloc(qc_f32_reduce_scratch_size(out));
        qc_f32_reduce(op, rank, dims, reduced, x, y, scratch);
        /* group input elements by output position, walking the input in row-major order */
        int64_t *idx = alloc((size_t)n * sizeof *idx), *counts = alloc((size_t)out * sizeof *idx);
        for (int64_t o = 0; o < out; o++) {
            int64_t k = 0;
            for (int64_t i = 0; i < n; i++) {
                int64_t rest = i, flat = 0, step = 1;
                for (int d = rank - 1; d >= 0; d--) {
                    int64_t coord = rest % dims[d];
                    rest /= dims[d];
                    if (!reduced[d]) {
                        flat += coord * step;
                        step *= dims[d];
                    }
                }
                if (flat == o)
                    idx[k++] = i;
            }
            counts[o] = k;
            double want = ref_reduce(op, x, idx, k);
            assert_near("reduce", op * 1000 + o, y[o], want, 2e-6, 1e-6);
        }
        free(x), free(y), free(scratch), free(idx), free(counts);
    }
}
END_TEST

START_TEST(test_a_long_sum_and_mean_stay_exact_where_float_accumulation_drifts)
{
    /* 2^23 values of 0.1f: a float running sum stalls near 2^21 (its spacing there passes
     * 0.2) and would be wrong by 20% or more. */
    int64_t n = (int64_t)1 << 23, dims[2] = {1, n};
    bool reduced[2] = {false, true};
    float *x = alloc((size_t)n * sizeof *x), y[1];
    for (int64_t i = 0; i < n; i++)
        x[i] = 0.1f;
    void *scratch = alloc(qc_f32_reduce_scratch_size(1));
    qc_f32_reduce(QC_F32_REDUCE_SUM, 2, dims, reduced, x, y, scratch);
    assert_near("long sum", 0, y[0], (double)0.1f * (double)n, 1e-7, 0);
    qc_f32_reduce(QC_F32_REDUCE_MEAN, 2, dims, reduced, x, y, scratch);
    assert_near("long mean", 0, y[0], 0.1f, 1e-7, 0);
    free(x), free(scratch);
}
END_TEST

START_TEST(test_arg_extreme_takes_first_or_last_ties_and_lets_nan_win)
{
    float x[2][5] = {{1, 3, 3, 0, 0}, {2, NAN, 5, NAN, 9}};
    int64_t y[2];
    qc_f32_arg_extreme(false, false, 2, 5, 1, &x[0][0], y);
    ck_assert(y[0] == 1 && y[1] == 1);
    qc_f32_arg_extreme(false, true, 2, 5, 1, &x[0][0], y);
    ck_assert(y[0] == 2 && y[1] == 1);
    qc_f32_arg_extreme(true, true, 2, 5, 1, &x[0][0], y);
    ck_assert(y[0] == 4 && y[1] == 1);
}
END_TEST

/* ---- normalization and softmaxes --------------------------------------------------------- */

START_TEST(test_layer_and_group_norm_keep_precision_on_a_large_offset)
{
    /* values 1000 + N(0, 0.01): a one-pass float variance (E[x^2] - E[x]^2) loses every digit */
    enum { C = 6, P = 50, G = 3 };
    float *x = rand_floats(2 * C * P, 999.99f, 1000.01f), y[2 * C * P];
    float scale[C], bias[C];
    for (int c = 0; c < C; c++)
        scale[c] = 0.5f + (float)c, bias[c] = (float)c - 2.0f;
    for (int per_group = 0; per_group < 2; per_group++) {
        qc_f32_groupnorm(2, C, G, P, x, scale, bias, per_group, 1e-5f, y);
        for (int b = 0; b < 2; b++)
            for (int g = 0; g < G; g++) {
                const float *xg = x + (b * G + g) * (C / G) * P;
                double m = 0, v = 0;
                for (int i = 0; i < C / G * P; i++)
                    m += xg[i];
                m /= C / G * P;
                for (int i = 0; i < C / G * P; i++)
                    v += (xg[i] - m) * (xg[i] - m);
                v /= C / G * P;
                for (int i = 0; i < C / G * P; i++) {
                    int p = per_group ? g : g * (C / G) + i / P;
                    double want = (xg[i] - m) / sqrt(v + 1e-5) * scale[p] + bias[p];
                    int64_t at = (b * G + g) * (C / G) * P + i;
                    assert_near("groupnorm", at, y[at], want, 1e-5, 1e-5);
                }
            }
    }
    float mean[2 * C], inv[2 * C];
    qc_f32_layernorm(2 * C, P, x, scale, 0, NULL, 0, 1e-5f, y, mean, inv);
    for (int r = 0; r < 2 * C; r++) {
        double m = 0, v = 0;
        for (int i = 0; i < P; i++)
            m += x[r * P + i];
        m /= P;
        for (int i = 0; i < P; i++)
            v += (x[r * P + i] - m) * (x[r * P + i] - m);
        v /= P;
        assert_near("layernorm mean", r, mean[r], m, 1e-7, 0);
        assert_near("layernorm inv_std", r, inv[r], 1 / sqrt(v + 1e-5), 1e-5, 0);
        for (int i = 0; i < P; i++)
            assert_near("layernorm", r * P + i, y[r * P + i],
                        (x[r * P + i] - m) / sqrt(v + 1e-5) * scale[0], 1e-5, 1e-5);
    }
    free(x);
}
END_TEST

START_TEST(test_log_softmax_and_hardmax_match_the_definition_along_a_middle_axis)
{
    enum { O = 3, A = 7, I = 4 };
    float *x = rand_floats(O * A * I, -50, 50), y[O * A * I], h[O * A * I];
    x[0 * I + 1] = 1e4f; /* one huge logit: exp would overflow without the max shift */
    qc_f32_log_softmax(O, A, I, x, y);
    qc_f32_hardmax(O, A, I, x, h);
    for (int o = 0; o < O; o++)
        for (int i = 0; i < I; i++) {
            double max = -INFINITY, sum = 0;
            int best = 0;
            for (int a = 0; a < A; a++) {
                float v = x[(o * A + a) * I + i];
                if (v > max)
                    max = v, best = a;
            }
            for (int a = 0; a < A; a++)
                sum += exp(x[(o * A + a) * I + i] - max);
            for (int a = 0; a < A; a++) {
                int at = (o * A + a) * I + i;
                assert_near("log_softmax", at, y[at], x[at] - max - log(sum), 1e-6, 1e-5);
                ck_assert(h[at] == (a == best ? 1.0f : 0.0f));
            }
        }
    free(x);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kernels_math");
    TCase *tc = tcase_create("math");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_unary_ops_match_the_spec_formulas_in_double_far_into_the_tails);
    tcase_add_test(tc, test_where_pow_compare_and_minmax_broadcast_like_numpy);
    tcase_add_test(tc, test_min_max_propagate_nan_and_integer_pow_is_exact);
    tcase_add_test(tc, test_reductions_over_random_axes_match_the_definition);
    tcase_add_test(tc, test_a_long_sum_and_mean_stay_exact_where_float_accumulation_drifts);
    tcase_add_test(tc, test_arg_extreme_takes_first_or_last_ties_and_lets_nan_win);
    tcase_add_test(tc, test_layer_and_group_norm_keep_precision_on_a_large_offset);
    tcase_add_test(tc, test_log_softmax_and_hardmax_match_the_definition_along_a_middle_axis);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return qc_check_run("check_kernels_math", suite());
}
