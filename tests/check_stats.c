/* check_stats.c — focus: stats/ records exactly what the range methods need and merges it
 * exactly: fixed-point sums, SIMD kernels against their scalar references, each range method
 * against values worked out by hand (per tensor and per channel) or by a direct reference,
 * histogram growth, pending counts and merging, the JSON file round trip and its errors, shards, and the
 * tensors recorded for a bundled model. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check-util.h"
#include "stats/stats-impl.h"

/* Float paths with a documented tolerance: sums converted back from fixed point are within a
 * few ulp of the exact value. */
#define RANGE_TOLERANCE 1e-5

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static float frand(float lo, float hi)
{
    return lo + (hi - lo) * (float)((rng() >> 11) * 0x1p-53);
}

static qc_stats *empty_stats(bool per_channel, bool hist)
{
    qc_stats_options o = {.per_channel = per_channel, .histograms = hist, .model_hash = 42,
                          .model_file = "synthetic.onnx"};
    qc_stats *s = qc_stats_create_empty(&o);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* Feeds one sample (image) of tensor i and flushes: exact per-image sums. */
static void feed(qc_stats *s, int i, const float *data, int rank, const int64_t *dims)
{
    qc_value v = qc_value_f32(rank, dims, (float *)data);
    qc_stats_observe(s, i, &v);
    qc_stats_flush(s);
    ck_assert_msg(s->status == QC_OK, "%s", s->err.msg);
}

static void range(const qc_tensor_stats *t, qc_range_method m, double n_std, int channel, float *lo,
                  float *hi)
{
    qc_range_params p;
    qc_range_params_default(&p);
    p.n_std = n_std;
    qc_error err;
    ck_assert_msg(qc_stats_range(t, m, &p, channel, lo, hi, &err) == QC_OK, "%s", err.msg);
}

#define ck_assert_close(x, y) \
    ck_assert_msg(fabs((double)(x) - (double)(y)) <= RANGE_TOLERANCE * (1 + fabs((double)(y))), \
                  "%s = %.9g, expected %.9g", #x, (double)(x), (double)(y))

/* ---- 1. fixed point ----------------------------------------------------------------------- */

START_TEST(fixed_point_holds_doubles_exactly)
{
    const double v[] = {1.0, -1.0, 0.5, 3.25, -1234.0625, 0x1p-70, -0x1p100, 0x1.fffffffffffffp126, 1e-300};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        qc_fix f;
        ck_assert(qc_fix_from_double(v[k], &f));
        double back = qc_fix_to_double(&f);
        if (fabs(v[k]) >= 0x1p-76)
            ck_assert_msg(back == v[k], "%a came back as %a", v[k], back);
        else
            ck_assert(back == 0); /* below 2^-128: truncated */
        char buf[QC_FIX_STR];
        qc_fix g;
        ck_assert(qc_fix_parse(qc_fix_str(&f, buf), &g));
        ck_assert(qc_fix_equal(&f, &g));
    }
    qc_fix f;
    char buf[QC_FIX_STR];
    ck_assert(qc_fix_from_double(1.0, &f));
    ck_assert_str_eq(qc_fix_str(&f, buf), "100000000000000000000000000000000");
    ck_assert(qc_fix_from_double(-2.5, &f));
    ck_assert_str_eq(qc_fix_str(&f, buf), "-280000000000000000000000000000000");
    ck_assert(!qc_fix_from_double(0x1p127, &f));
    ck_assert(!qc_fix_from_double(NAN, &f));
    ck_assert(!qc_fix_from_double(-INFINITY, &f));
    ck_assert(!qc_fix_parse("12x", &f));
    ck_assert(!qc_fix_parse("", &f));
    ck_assert(!qc_fix_parse("8000000000000000000000000000000000000000000000000000000000000000", &f));
}
END_TEST

/* The text of a fixed-point value digit by digit, as docs/statistics.md defines it: "-" for a
 * negative value, then the 64 hex digits of its magnitude without leading zeros ("0"). */
static void fix_text_reference(const qc_fix *f, char *buf)
{
    qc_fix m = *f;
    bool neg = m.w[3] >> 63;
    if (neg) { /* two's complement magnitude */
        unsigned carry = 1;
        for (int w = 0; w < 4; w++) {
            m.w[w] = ~m.w[w] + carry;
            carry = carry && m.w[w] == 0;
        }
        *buf++ = '-';
    }
    bool started = false;
    for (int i = 63; i >= 0; i--) {
        unsigned d = (unsigned)(m.w[i / 16] >> (4 * (i % 16)) & 0xf);
        if (d || started || i == 0) {
            *buf++ = "0123456789abcdef"[d];
            started = true;
        }
    }
    *buf = 0;
}

START_TEST(fixed_point_text_is_every_digit_without_leading_zeros)
{
    char got[QC_FIX_STR], want[QC_FIX_STR];
    for (int k = 0; k < 4000; k++) {
        qc_fix f = {{0, 0, 0, 0}};
        for (int w = 0; w < 4; w++) /* words of every kind: zero, a few low bits, full */
            f.w[w] = rng() % 3 == 0 ? 0 : rng() >> (rng() % 64);
        if (k % 4 == 0)
            f.w[3] = f.w[2] = 0;
        if (k == 0)
            f.w[0] = f.w[1] = 0;
        fix_text_reference(&f, want);
        ck_assert_str_eq(qc_fix_str(&f, got), want);
    }
}
END_TEST

START_TEST(fixed_point_sums_do_not_depend_on_order)
{
    enum { N = 1000 };
    double v[N];
    for (int i = 0; i < N; i++)
        v[i] = ldexp(frand(-1, 1), (int)(rng() % 80) - 40);
    qc_fix a = {{0}}, b = {{0}}, parts[3] = {{{0}}};
    for (int i = 0; i < N; i++)
        ck_assert(qc_fix_add_double(&a, v[i]));
    for (int i = N - 1; i >= 0; i--)
        ck_assert(qc_fix_add_double(&b, v[i]));
    ck_assert(qc_fix_equal(&a, &b));
    for (int i = 0; i < N; i++) /* three "shards", merged */
        qc_fix_add_double(&parts[rng() % 3], v[i]);
    qc_fix_add(&parts[2], &parts[0]);
    qc_fix_add(&parts[2], &parts[1]);
    ck_assert(qc_fix_equal(&a, &parts[2]));
    /* a value and its negation cancel exactly */
    qc_fix z = {{0}};
    for (int i = 0; i < N; i++)
        qc_fix_add_double(&z, v[i]);
    for (int i = 0; i < N; i++)
        qc_fix_add_double(&z, -v[i]);
    ck_assert(qc_fix_is_zero(&z));
}
END_TEST

/* ---- 2. kernels against their references ------------------------------------------------------ */

START_TEST(span_kernels_match_the_scalar_reference_bit_for_bit)
{
    float x[300];
    for (int n = 0; n <= 200; n++) {
        for (int i = 0; i < n + 3; i++)
            x[i] = (rng() % 5 == 0) ? 0.0f : frand(-100, 100);
        for (int off = 0; off < 3; off++) {
            qc_span r, a;
            qc_span_stats__scalar(x + off, n, &r);
            if (__builtin_cpu_supports("avx2")) {
                qc_span_stats__avx2(x + off, n, &a);
                ck_assert_msg(!memcmp(&r, &a, sizeof r), "avx2 differs at n=%d", n);
            }
            if (__builtin_cpu_supports("avx512f")) {
                qc_span_stats__avx512(x + off, n, &a);
                ck_assert_msg(!memcmp(&r, &a, sizeof r), "avx512 differs at n=%d", n);
            }
        }
    }
}
END_TEST

/* The per-channel kernel, on channels of every tail length and of the 7×7 and 14×14 maps of
 * the bundled models, with values whose squares need every bit of a double. */
START_TEST(channel_span_kernels_match_the_scalar_reference_bit_for_bit)
{
    static float x[4 * 200 + 3];
    static const int64_t inners[] = {1, 2, 7, 15, 16, 17, 31, 33, 49, 64, 196, 200};
    for (size_t k = 0; k < sizeof inners / sizeof inners[0]; k++)
        for (int64_t channels = 1; channels <= 4; channels++) {
            int64_t inner = inners[k];
            for (int64_t i = 0; i < channels * inner + 3; i++) {
                int kind = (int)(rng() % 6);
                x[i] = kind == 0 ? 0.0f
                     : kind == 1 ? ldexpf(frand(-1, 1), (int)(rng() % 200) - 100)
                                 : frand(-100, 100);
            }
            for (int off = 0; off < 3; off++) {
                qc_span r[4], a[4], one;
                qc_span_channels__scalar(x + off, channels, inner, r);
                for (int64_t c = 0; c < channels; c++) {
                    qc_span_stats__scalar(x + off + c * inner, inner, &one);
                    ck_assert(!memcmp(&one, &r[c], sizeof one));
                }
                if (__builtin_cpu_supports("avx2")) {
                    qc_span_channels__avx2(x + off, channels, inner, a);
                    ck_assert_msg(!memcmp(r, a, (size_t)channels * sizeof *r),
                                  "avx2 differs at %lld channels of %lld", (long long)channels,
                                  (long long)inner);
                }
                if (__builtin_cpu_supports("avx512f")) {
                    qc_span_channels__avx512(x + off, channels, inner, a);
                    ck_assert_msg(!memcmp(r, a, (size_t)channels * sizeof *r),
                                  "avx512 differs at %lld channels of %lld", (long long)channels,
                                  (long long)inner);
                }
            }
        }
}
END_TEST

START_TEST(histogram_index_kernel_matches_the_scalar_reference)
{
    float x[1000];
    int32_t a[1015], b[1015];
    const bool avx512 = __builtin_cpu_supports("avx512f");
    for (int i = 0; i < 1000; i++) {
        int kind = (int)(rng() % 4);
        /* bin edges exactly, zeros of both signs, values just below an edge, random */
        x[i] = kind == 0 ? (float)((int)(rng() % 4096) - 2048) / 1024.0f
             : kind == 1 ? (rng() % 2 ? 0.0f : -0.0f)
             : kind == 2 ? nextafterf((float)((int)(rng() % 4096) - 2048) / 1024.0f, -INFINITY)
                         : frand(-1.99f, 1.99f);
    }
    double scale = 1024.0; /* R = 2 */
    int64_t m = qc_hist_index__scalar(x, 1000, scale, a), k = 0;
    for (int i = 0; i < 1000; i++)
        if (x[i] != 0)
            ck_assert_int_eq(a[k++], (int)floor((double)x[i] * scale) + QC_HIST_HALF);
    ck_assert_int_eq(m, k);
    /* tiny values with R = 2^20 (scale 2^-9): products underflow, some to -0 */
    float tiny[64];
    for (int i = 0; i < 64; i++)
        tiny[i] = (i % 2 ? -1.0f : 1.0f) * ldexpf(1.0f, -149 + i % 30) * (float)(1 + i % 3);
    m = qc_hist_index__scalar(tiny, 64, 0x1p-9, a);
    ck_assert_int_eq(m, 64);
    for (int i = 0; i < 64; i++)
        ck_assert_int_eq(a[i], QC_HIST_HALF - (i % 2));
    if (__builtin_cpu_supports("avx2")) {
        ck_assert_int_eq(qc_hist_index__avx2(tiny, 64, 0x1p-9, b), 64);
        ck_assert(!memcmp(a, b, 64 * sizeof *a));
    }
    if (avx512) {
        ck_assert_int_eq(qc_hist_index__avx512(tiny, 64, 0x1p-9, b), 64);
        ck_assert(!memcmp(a, b, 64 * sizeof *a));
    }
    /* and with R = 2^-130 (scale 2^141, beyond float): the same bins */
    for (int i = 0; i < 64; i++)
        tiny[i] = (i % 2 ? -1.0f : 1.0f) * ldexpf((float)(1 + i), -140);
    m = qc_hist_index__scalar(tiny, 64, 0x1p141, a);
    for (int i = 0; i < 64; i++)
        ck_assert_int_eq(a[i], (int)floor(ldexp(tiny[i], 141)) + QC_HIST_HALF);
    if (__builtin_cpu_supports("avx2")) {
        ck_assert_int_eq(qc_hist_index__avx2(tiny, 64, 0x1p141, b), m);
        ck_assert(!memcmp(a, b, (size_t)m * sizeof *a));
    }
    if (avx512) {
        ck_assert_int_eq(qc_hist_index__avx512(tiny, 64, 0x1p141, b), m);
        ck_assert(!memcmp(a, b, (size_t)m * sizeof *a));
    }
    if (__builtin_cpu_supports("avx2"))
        for (int n = 0; n <= 1000; n += n < 40 ? 1 : 97) {
            int64_t ma = qc_hist_index__scalar(x, n, scale, a), mb = qc_hist_index__avx2(x, n, scale, b);
            ck_assert_int_eq(ma, mb);
            ck_assert_msg(!memcmp(a, b, (size_t)ma * sizeof *a), "avx2 differs at n=%d", n);
        }
    if (avx512)
        for (int n = 0; n <= 1000; n += n < 40 ? 1 : 97) {
            int64_t ma = qc_hist_index__scalar(x, n, scale, a), mb = qc_hist_index__avx512(x, n, scale, b);
            ck_assert_int_eq(ma, mb);
            ck_assert_msg(!memcmp(a, b, (size_t)ma * sizeof *a), "avx512 differs at n=%d", n);
        }
}
END_TEST

/* The MSE error kernels on bin centres of histograms of every width, with counts up to 2^40
 * and steps where many centres round half-way: the same bits as the reference on every path
 * present, and the reference is its sixteen in-order lanes. */
START_TEST(mse_error_kernels_match_the_scalar_reference_bit_for_bit)
{
    static double x[400], a[400];
    static const int qmaxes[] = {1, 3, 127, 255};
    for (int trial = 0; trial < 200; trial++) {
        double w = ldexp(1.0, (int)(rng() % 40) - 30);
        int qmax = qmaxes[trial % 4], m = (int)(rng() % 320);
        for (int k = 0; k < m + 3; k++) {
            x[k] = ((double)(k * (1 + trial % 3)) + 0.5) * w;
            a[k] = (double)(1 + rng() % (trial % 2 ? 5 : (UINT64_C(1) << 40)));
        }
        double c = (double)(1 + rng() % (uint64_t)(m + 3)) * w, s = c / qmax, inv = qmax / c;
        for (int off = 0; off < 3; off++) {
            double r = qc_mse_error__scalar(x + off, a + off, m, s, inv, qmax), lanes[QC_MSE_LANES] = {0};
            for (int k = 0; k < m; k++) {
                double q = nearbyint(x[off + k] * inv);
                double d = x[off + k] - (q < qmax ? q : qmax) * s;
                lanes[k % QC_MSE_LANES] += a[off + k] * d * d;
            }
            for (int wd = QC_MSE_LANES / 2; wd >= 1; wd /= 2)
                for (int j = 0; j < wd; j++)
                    lanes[j] += lanes[j + wd];
            ck_assert_msg(r == lanes[0], "the reference is %.17g, its lanes %.17g (m=%d)", r, lanes[0], m);
            if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
                double v = qc_mse_error__avx2(x + off, a + off, m, s, inv, qmax);
                ck_assert_msg(!memcmp(&r, &v, sizeof r), "avx2 %.17g, reference %.17g (m=%d)", v, r, m);
            }
            if (__builtin_cpu_supports("avx512f")) {
                double v = qc_mse_error__avx512(x + off, a + off, m, s, inv, qmax);
                ck_assert_msg(!memcmp(&r, &v, sizeof r), "avx512 %.17g, reference %.17g (m=%d)", v, r, m);
            }
        }
    }
}
END_TEST

/* ---- 3. range methods by hand ---------------------------------------------------------------------- */

/* Two images of a 1x2x2 tensor (channels on axis 1):
 *   image A: channel 0 = {1, 3},  channel 1 = {-2, 4}
 *   image B: channel 0 = {5, -1}, channel 1 = {0, 2}                                          */
static qc_stats *two_images(bool per_channel)
{
    static const float a[4] = {1, 3, -2, 4}, b[4] = {5, -1, 0, 2};
    int64_t dims[3] = {1, 2, 2};
    qc_stats *s = empty_stats(per_channel, true);
    int i = qc_stats_add_tensor(s, "t", QC_ROLE_ACTIVATION, 3, dims, 1);
    ck_assert_int_eq(i, 0);
    feed(s, i, a, 3, dims);
    feed(s, i, b, 3, dims);
    return s;
}

START_TEST(minmax_and_avg_per_tensor_are_the_hand_values)
{
    qc_stats *s = two_images(false);
    const qc_tensor_stats *t = &s->tensors[0];
    float lo, hi;
    ck_assert_int_eq(t->samples, 2);
    range(t, QC_RANGE_MINMAX, 3, -1, &lo, &hi);
    ck_assert(lo == -2.0f && hi == 5.0f);
    range(t, QC_RANGE_AVG, 3, -1, &lo, &hi); /* mins -2, -1; maxes 4, 5 */
    ck_assert(lo == -1.5f && hi == 4.5f);
    double mean, std;
    ck_assert(qc_stats_mean_std(t, -1, &mean, &std)); /* Σx = 12, Σx² = 60, n = 8 */
    ck_assert(mean == 1.5);
    ck_assert_close(std, sqrt(5.25));
    qc_stats_destroy(s);
}
END_TEST

START_TEST(avgstd_and_meanstd_per_tensor_are_the_hand_values)
{
    qc_stats *s = two_images(false);
    const qc_tensor_stats *t = &s->tensors[0];
    float lo, hi;
    range(t, QC_RANGE_AVGSTD, 0.5, -1, &lo, &hi); /* mean -1.5 ± 0.5·0.5, 4.5 ± 0.5·0.5 */
    ck_assert(lo == -1.75f && hi == 4.75f);
    range(t, QC_RANGE_AVGSTD, 3, -1, &lo, &hi); /* -3 and 6, clamped to the extremes */
    ck_assert(lo == -2.0f && hi == 5.0f);
    range(t, QC_RANGE_MEANSTD, 1, -1, &lo, &hi); /* 1.5 ± sqrt(5.25) */
    ck_assert_close(lo, 1.5 - sqrt(5.25));
    ck_assert_close(hi, 1.5 + sqrt(5.25));
    range(t, QC_RANGE_MEANSTD, 3, -1, &lo, &hi); /* 1.5 ± 6.87: clamped */
    ck_assert(lo == -2.0f && hi == 5.0f);
    qc_stats_destroy(s);
}
END_TEST

START_TEST(every_method_per_channel_is_the_hand_value)
{
    qc_stats *s = two_images(true);
    const qc_tensor_stats *t = &s->tensors[0];
    float lo, hi;
    /* channel 0: values {1, 3, 5, -1}; image mins 1, -1; image maxes 3, 5 */
    range(t, QC_RANGE_MINMAX, 3, 0, &lo, &hi);
    ck_assert(lo == -1.0f && hi == 5.0f);
    range(t, QC_RANGE_AVG, 3, 0, &lo, &hi);
    ck_assert(lo == 0.0f && hi == 4.0f);
    range(t, QC_RANGE_AVGSTD, 0.5, 0, &lo, &hi); /* 0 - 0.5·1, 4 + 0.5·1 */
    ck_assert(lo == -0.5f && hi == 4.5f);
    range(t, QC_RANGE_MEANSTD, 1, 0, &lo, &hi); /* mean 2, E[x²] 9, std √5 */
    ck_assert_close(lo, 2 - sqrt(5.0));
    ck_assert_close(hi, 2 + sqrt(5.0));
    /* channel 1: values {-2, 4, 0, 2}; image mins -2, 0; image maxes 4, 2 */
    range(t, QC_RANGE_MINMAX, 3, 1, &lo, &hi);
    ck_assert(lo == -2.0f && hi == 4.0f);
    range(t, QC_RANGE_AVG, 3, 1, &lo, &hi);
    ck_assert(lo == -1.0f && hi == 3.0f);
    range(t, QC_RANGE_AVGSTD, 1, 1, &lo, &hi); /* -1 - 1, 3 + 1 */
    ck_assert(lo == -2.0f && hi == 4.0f);
    range(t, QC_RANGE_MEANSTD, 1, 1, &lo, &hi); /* mean 1, E[x²] 6, std √5 */
    ck_assert_close(lo, 1 - sqrt(5.0));
    ck_assert_close(hi, 1 + sqrt(5.0));
    /* histogram methods are per tensor */
    qc_range_params p;
    qc_range_params_default(&p);
    qc_error err;
    ck_assert_int_eq(qc_stats_range(t, QC_RANGE_ENTROPY, &p, 0, &lo, &hi, &err), QC_ERR_INPUT);
    ck_assert_int_eq(qc_stats_range(t, QC_RANGE_MINMAX, &p, 2, &lo, &hi, &err), QC_ERR_INPUT);
    qc_stats_destroy(s);
}
END_TEST

/* 0, 1, …, 99 in one image of a 1x100 tensor: R = 128, bins of 1/16, value v in bin 2048 + 16v. */
static qc_stats *ramp(void)
{
    float x[100];
    int64_t dims[2] = {1, 100};
    for (int i = 0; i < 100; i++)
        x[i] = (float)i;
    qc_stats *s = empty_stats(false, true);
    qc_stats_add_tensor(s, "ramp", QC_ROLE_ACTIVATION, 2, dims, 1);
    feed(s, 0, x, 2, dims);
    return s;
}

/* the spread of per-channel ranges: three channels of ranges 2, 7 and 0.5; none per tensor */
START_TEST(channel_spread_is_the_smallest_and_largest_channel_range)
{
    static const float a[3] = {1, -2, 0.25f}, b[3] = {3, 5, -0.25f};
    int64_t dims[2] = {1, 3};
    for (int per_channel = 0; per_channel < 2; per_channel++) {
        qc_stats *s = empty_stats(per_channel, false);
        int i = qc_stats_add_tensor(s, "t", QC_ROLE_ACTIVATION, 2, dims, 1);
        double lo = -1, hi = -1;
        ck_assert(!qc_stats_channel_spread(&s->tensors[i], &lo, &hi)); /* nothing recorded yet */
        feed(s, i, a, 2, dims);
        feed(s, i, b, 2, dims);
        ck_assert(qc_stats_channel_spread(&s->tensors[i], &lo, &hi) == (per_channel == 1));
        if (per_channel)
            ck_assert(lo == 0.5 && hi == 7.0);
        qc_stats_destroy(s);
    }
}
END_TEST

/* a choice of methods: minmax and avg read no histogram; percentile and mse do */
START_TEST(histogram_methods_of_a_choice_are_found_and_dropped)
{
    bool methods[QC_RANGE_COUNT] = {0};
    methods[QC_RANGE_MINMAX] = methods[QC_RANGE_AVG] = true;
    ck_assert(!qc_range_methods_use_histograms(methods));
    ck_assert_int_eq(qc_range_methods_drop_histograms(methods), 0);
    ck_assert(methods[QC_RANGE_MINMAX] && methods[QC_RANGE_AVG]);
    methods[QC_RANGE_PERCENTILE] = methods[QC_RANGE_MSE] = true;
    ck_assert(qc_range_methods_use_histograms(methods));
    ck_assert_int_eq(qc_range_methods_drop_histograms(methods), 2);
    ck_assert(!methods[QC_RANGE_PERCENTILE] && !methods[QC_RANGE_MSE] && !methods[QC_RANGE_ENTROPY]);
    ck_assert(methods[QC_RANGE_MINMAX] && methods[QC_RANGE_AVG] && !qc_range_methods_use_histograms(methods));
}
END_TEST

/* a shard's images: groups of 16 numbered i modulo n, within the limit */
START_TEST(a_gather_counts_the_images_of_its_shard)
{
    qc_gather_options o = {.limit = INT64_MAX, .shard_i = 0, .shard_n = 1};
    ck_assert_int_eq(qc_gather_count(&o, 100), 100);
    o.shard_n = 3; /* groups 0..6 (the last of 4 images): 0, 3, 6 are shard 0; 1, 4 shard 1 */
    ck_assert_int_eq(qc_gather_count(&o, 100), 16 + 16 + 4);
    o.shard_i = 1;
    ck_assert_int_eq(qc_gather_count(&o, 100), 32);
    o.limit = 20; /* images 16..19 of group 1 */
    ck_assert_int_eq(qc_gather_count(&o, 100), 4);
    o.shard_i = 2;
    ck_assert_int_eq(qc_gather_count(&o, 100), 0);
}
END_TEST

START_TEST(percentile_is_the_hand_value)
{
    qc_stats *s = ramp();
    const qc_tensor_stats *t = &s->tensors[0];
    ck_assert_int_eq(t->hist.log2_range, 7);
    ck_assert_int_eq(t->hist.counts[QC_HIST_HALF + 16 * 37], 1);
    qc_range_params p;
    qc_range_params_default(&p);
    p.percentile = 99;
    float lo, hi;
    qc_error err;
    /* 99 values reach up to 98: the upper edge of its bin is 98 + 1/16; from above, 99 values
     * reach down to 1: the lower edge of its bin is 1 */
    ck_assert(qc_stats_range(t, QC_RANGE_PERCENTILE, &p, -1, &lo, &hi, &err) == QC_OK);
    ck_assert(lo == 1.0f && hi == 98.0625f);
    p.percentile = 100;
    ck_assert(qc_stats_range(t, QC_RANGE_PERCENTILE, &p, -1, &lo, &hi, &err) == QC_OK);
    ck_assert(lo == 0.0f && hi == 99.0f); /* 99 + 1/16 clamped to the max */
    qc_stats_destroy(s);
}
END_TEST

/* The direct reference of TensorRT's entropy calibration (docs/statistics.md, R6): build P and
 * Q bin by bin, normalise, sum p log(p/q). Returns the best number of bins. */
static int entropy_reference(const double *a, int n, int levels, double *best_kl)
{
    int best = n;
    *best_kl = INFINITY;
    double *P = malloc((size_t)n * sizeof *P), *Q = malloc((size_t)n * sizeof *Q);
    for (int i = levels; i <= n; i++) {
        double out = 0, tp = 0, tq = 0;
        for (int k = i; k < n; k++)
            out += a[k];
        for (int k = 0; k < i; k++)
            P[k] = a[k];
        P[i - 1] += out;
        for (int g = 0; g < levels; g++) {
            int s = (int)((int64_t)i * g / levels), e = (int)((int64_t)i * (g + 1) / levels), nz = 0;
            double G = 0;
            for (int k = s; k < e; k++) {
                G += a[k];
                nz += a[k] > 0;
            }
            for (int k = s; k < e; k++)
                Q[k] = a[k] > 0 ? G / nz : 0;
        }
        for (int k = 0; k < i; k++) {
            tp += P[k];
            tq += Q[k];
        }
        double kl = 0;
        for (int k = 0; k < i; k++)
            if (P[k] > 0)
                kl += Q[k] > 0 ? P[k] / tp * log((P[k] / tp) / (Q[k] / tq)) : INFINITY;
        if (kl < *best_kl - 1e-12) {
            *best_kl = kl;
            best = i;
        }
    }
    free(P);
    free(Q);
    return best;
}

/* A ReLU-like activation: many values near 0, a long tail, a few outliers. */
static qc_stats *long_tail(int images)
{
    enum { N = 4096 };
    float x[N];
    int64_t dims[2] = {1, N};
    qc_stats *s = empty_stats(false, true);
    qc_stats_add_tensor(s, "tail", QC_ROLE_ACTIVATION, 2, dims, 1);
    for (int im = 0; im < images; im++) {
        for (int i = 0; i < N; i++) {
            float u = frand(0.0001f, 1);
            x[i] = rng() % 3 == 0 ? 0.0f : -logf(u); /* exponential */
        }
        x[0] = 20.0f + (float)im;
        feed(s, 0, x, 2, dims);
    }
    return s;
}

START_TEST(entropy_matches_a_direct_kl_reference)
{
    qc_stats *s = long_tail(4);
    const qc_tensor_stats *t = &s->tensors[0];
    double a[QC_HIST_HALF];
    int n = 0;
    for (int j = 0; j < QC_HIST_HALF; j++) {
        a[j] = (double)(t->hist.counts[QC_HIST_HALF + j] + t->hist.counts[QC_HIST_HALF - 1 - j]);
        if (a[j] > 0)
            n = j + 1;
    }
    a[0] = a[1]; /* R6a: bin 0's spike of zeros counts as its neighbour */
    double kl;
    int want = entropy_reference(a, n, 256, &kl); /* unsigned tensor: 2^8 levels */
    double w = ldexp(1.0, t->hist.log2_range - QC_HIST_HALF_LOG2);
    float lo, hi;
    range(t, QC_RANGE_ENTROPY, 3, -1, &lo, &hi);
    ck_assert(lo == 0.0f);
    ck_assert_msg(hi == (float)(want * w), "entropy clips at %g, the reference at %g", (double)hi, want * w);
    ck_assert(hi < 20.0f); /* the outliers are clipped */
    qc_stats_destroy(s);
}
END_TEST

/* One value at the centre of each of the 2048 |x| bins of width 1/1024 (R = 2), after `zeros`
 * exact zeros: a ReLU output whose non-zero values are uniform. */
static qc_stats *uniform_after_zeros(int zeros, qc_role role)
{
    enum { N = 2048 };
    static float x[N + 9 * N];
    int64_t dims[2] = {1, N + zeros};
    for (int i = 0; i < zeros; i++)
        x[i] = 0.0f;
    for (int j = 0; j < N; j++)
        x[zeros + j] = (j + 0.5f) / 1024;
    qc_stats *s = empty_stats(false, true);
    qc_stats_add_tensor(s, "relu", role, 2, dims, 1);
    feed(s, 0, x, 2, dims);
    return s;
}

START_TEST(entropy_of_a_relu_output_is_not_pulled_in_by_its_zeros)
{
    /* R6a: bin 0 counts as bin 1, so the 18432 zeros (90 % of the values, as deep in a ReLU
     * network) leave a uniform |x| histogram of one value
     * per bin. At i = 2048 (no clipping) P is uniform, and so is Q (each of the 256 groups holds
     * 8 values over its 8 bins): KL = 0, the smallest there is; any smaller i piles the
     * clipped values into bin i − 1, where Q does not follow (KL > 0). The clip is 2048/1024,
     * clamped to the maximum 2047.5/1024. With the zeros counted in bin 0 the search clips at
     * 511/1024, a quarter of the values: group 0 spreads the spike evenly over its bins, and the
     * narrower the groups, the less it costs. */
    qc_stats *s = uniform_after_zeros(9 * 2048, QC_ROLE_ACTIVATION);
    const qc_tensor_stats *t = &s->tensors[0];
    ck_assert_int_eq(t->hist.log2_range, 1);
    ck_assert_int_eq(t->hist.counts[QC_HIST_HALF], 9 * 2048 + 1);
    float lo, hi;
    range(t, QC_RANGE_ENTROPY, 3, -1, &lo, &hi);
    ck_assert_msg(lo == 0.0f && hi == 2047.5f / 1024, "entropy gives [%g, %g]", (double)lo, (double)hi);
    qc_stats_destroy(s);
}
END_TEST

/* One image of the long tail of long_tail(), then `top` values at 24, above all of it. */
static qc_stats *tail_saturating_at_24(int top)
{
    enum { N = 4096 };
    float x[N + 64];
    int64_t dims[2] = {1, N + top};
    for (int i = 0; i < N; i++) {
        float u = frand(0.0001f, 1);
        x[i] = rng() % 3 == 0 ? 0.0f : -logf(u);
    }
    x[0] = 20.0f;
    for (int i = 0; i < top; i++)
        x[N + i] = 24.0f;
    qc_stats *s = empty_stats(false, true);
    qc_stats_add_tensor(s, "relu6", QC_ROLE_ACTIVATION, 2, dims, 1);
    feed(s, 0, x, 2, dims);
    return s;
}

START_TEST(entropy_keeps_the_bound_of_a_saturating_activation)
{
    /* R6b: R = 32, bins of 1/64; 24 falls in |x| bin 1536, and the 8 bins below it
     * ([23.875, 24)) are empty. 16 values there are a bound the activation saturates at
     * (a ReLU6 or Clip): the range is [0, 24]. 15 are a tail like the outlier at 20, which
     * the search clips. */
    qc_stats *s = tail_saturating_at_24(16);
    float lo, hi;
    range(&s->tensors[0], QC_RANGE_ENTROPY, 3, -1, &lo, &hi);
    ck_assert_msg(lo == 0.0f && hi == 24.0f, "16 values at the top: entropy gives [%g, %g]", (double)lo, (double)hi);
    qc_stats_destroy(s);
    s = tail_saturating_at_24(15);
    range(&s->tensors[0], QC_RANGE_ENTROPY, 3, -1, &lo, &hi);
    ck_assert_msg(lo == 0.0f && hi < 20.0f, "15 values at the top: entropy gives [%g, %g]", (double)lo, (double)hi);
    qc_stats_destroy(s);
}
END_TEST

START_TEST(histogram_methods_leave_the_model_input_unclipped)
{
    /* R8: the same long tail that entropy, mse and percentile clip as an activation is kept
     * whole as the model input: [0, 23], the extremes of its four images (values ≥ 0, the
     * outliers 20 … 23) */
    qc_stats *s = long_tail(4);
    const qc_tensor_stats *t = &s->tensors[0];
    float lo, hi;
    qc_range_method m[3] = {QC_RANGE_PERCENTILE, QC_RANGE_ENTROPY, QC_RANGE_MSE};
    for (int k = 0; k < 3; k++) {
        range(t, m[k], 3, -1, &lo, &hi);
        ck_assert_msg(hi < 23.0f, "%s clips the activation", qc_range_method_name(m[k]));
    }
    s->tensors[0].role = QC_ROLE_INPUT;
    for (int k = 0; k < 3; k++) {
        range(t, m[k], 3, -1, &lo, &hi);
        ck_assert_msg(lo == 0.0f && hi == 23.0f, "%s gives the input [%g, %g]", qc_range_method_name(m[k]), (double)lo,
                      (double)hi);
    }
    qc_stats_destroy(s);
}
END_TEST

/* R7 directly: fake-quantize every bin centre for every clip. */
static int mse_reference(const double *a, int n, double w, int qmax)
{
    int best = n;
    double best_err = INFINITY;
    for (int i = 1; i <= n; i++) {
        double c = i * w, s = c / qmax, err = 0;
        for (int j = 0; j < n; j++) {
            double x = (j + 0.5) * w, q = nearbyint(x / s);
            if (q > qmax)
                q = qmax;
            err += a[j] * (x - q * s) * (x - q * s);
        }
        if (err < best_err * (1 - 1e-12)) {
            best_err = err;
            best = i;
        }
    }
    return best;
}

START_TEST(mse_matches_a_direct_reference)
{
    qc_stats *s = long_tail(2);
    const qc_tensor_stats *t = &s->tensors[0];
    double a[QC_HIST_HALF];
    int n = 0;
    for (int j = 0; j < QC_HIST_HALF; j++) {
        a[j] = (double)(t->hist.counts[QC_HIST_HALF + j] + t->hist.counts[QC_HIST_HALF - 1 - j]);
        if (a[j] > 0)
            n = j + 1;
    }
    double w = ldexp(1.0, t->hist.log2_range - QC_HIST_HALF_LOG2);
    qc_range_params p;
    qc_range_params_default(&p);
    qc_error err;
    for (int bits = 2; bits <= 8; bits += 3) {
        p.bits = bits;
        int want = mse_reference(a, n, w, (1 << bits) - 1);
        float lo, hi;
        ck_assert(qc_stats_range(t, QC_RANGE_MSE, &p, -1, &lo, &hi, &err) == QC_OK);
        ck_assert_msg(hi == (float)(want * w), "%d bits: mse clips at %g, the reference at %g", bits,
                      (double)hi, want * w);
    }
    qc_stats_destroy(s);
}
END_TEST

/* R7 as its formula reads: every candidate's error summed over the bins in order, the first
 * smallest kept. */
static int mse_in_order_reference(const double *a, int n, double w, int qmax)
{
    int best = n;
    double best_err = INFINITY;
    for (int i = 1; i <= n; i++) {
        double c = i * w, s = c / qmax, inv = qmax / c, err = 0;
        for (int j = 0; j < n; j++) {
            if (!(a[j] > 0))
                continue;
            double x = (j + 0.5) * w, q = nearbyint(x * inv);
            double d = x - (q < qmax ? q : qmax) * s;
            err += a[j] * d * d;
        }
        if (err < best_err) {
            best_err = err;
            best = i;
        }
    }
    return best;
}

/* A tensor of one sample whose |x| histogram (non-negative values: bins HALF + j) is a. */
static qc_stats *hand_histogram(const double *a, int n, int log2_range)
{
    int64_t dims[2] = {1, 1};
    qc_stats *s = empty_stats(false, true);
    qc_stats_add_tensor(s, "h", QC_ROLE_ACTIVATION, 2, dims, 1);
    qc_tensor_stats *t = &s->tensors[0];
    t->hist.log2_range = log2_range;
    for (int j = 0; j < n; j++) {
        t->hist.counts[QC_HIST_HALF + j] = (int64_t)a[j];
        t->hist.total += (int64_t)a[j];
    }
    t->samples = 1;
    t->t.min = 0;
    t->t.max = (float)ldexp(1.0, log2_range);
    return s;
}

/* The search sums most candidates in lanes and only close calls in order: its clip must be
 * the in-order search's on histograms whose best clip is the top (every candidate better
 * than the last), the middle, and a spike that several clips quantize without error (a
 * tie, the first kept), at every bit width. */
START_TEST(mse_is_the_in_order_search_exactly)
{
    static double a[QC_HIST_HALF];
    for (int kind = 0; kind < 5; kind++)
        for (int bits = 2; bits <= 8; bits += 2) {
            int n = kind == 3 ? 41 : 300 + (int)(rng() % 1700);
            for (int j = 0; j < n; j++) {
                switch (kind) {
                case 0: a[j] = (double)(1 + rng() % 1000); break;                        /* flat: clip at the top */
                case 1: a[j] = floor(1e6 * exp(-j / 40.0)) + (rng() % 50 == 0); break;   /* a long tail */
                case 2: a[j] = rng() % 7 ? 0 : (double)(rng() % (UINT64_C(1) << 36)); /* sparse, heavy */
                    break;
                case 3: a[j] = j == 40 ? 1000 : 0; break;                              /* one spike */
                default: a[j] = (double)(j < n / 2 ? 1 + rng() % 3 : rng() % 2) * 1e3; /* a step */
                }
            }
            a[n - 1] = a[n - 1] > 0 ? a[n - 1] : 1;
            int log2_range = (int)(rng() % 20) - 10;
            qc_stats *s = hand_histogram(a, n, log2_range);
            double w = ldexp(1.0, log2_range - QC_HIST_HALF_LOG2);
            int want = mse_in_order_reference(a, n, w, (1 << bits) - 1);
            qc_range_params p;
            qc_range_params_default(&p);
            p.bits = bits;
            qc_error err;
            float lo, hi;
            ck_assert(qc_stats_range(&s->tensors[0], QC_RANGE_MSE, &p, -1, &lo, &hi, &err) == QC_OK);
            ck_assert_msg(hi == (float)(want * w), "kind %d, %d bits: mse clips at bin %g, the in-order search at %d",
                          kind, bits, hi / w, want);
            qc_stats_destroy(s);
        }
}
END_TEST

/* A histogram where summing in lanes and summing in order disagree on the best clip (bin 37
 * against 38 at 3 bits, errors equal but for rounding): the search must decide it in order. */
START_TEST(mse_close_calls_are_decided_in_order)
{
    static const double counts[38] = {4, 3, 0, 0, 0, 0, 3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                      0, 2, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const int n = 38, qmax = 7;
    const double w = 0x1p-11;
    double x[38], a[38], best_lanes = INFINITY;
    int m = 0, by_lanes = n;
    for (int j = 0; j < n; j++)
        if (counts[j] > 0) {
            x[m] = (j + 0.5) * w;
            a[m++] = counts[j];
        }
    for (int i = 1; i <= n; i++) {
        double e = qc_mse_error__scalar(x, a, m, i * w / qmax, qmax / (i * w), qmax);
        if (e < best_lanes) {
            best_lanes = e;
            by_lanes = i;
        }
    }
    int want = mse_in_order_reference(counts, n, w, qmax);
    ck_assert_msg(by_lanes != want, "not a close call: lanes and order agree on %d", want);
    qc_stats *st = hand_histogram(counts, n, 0);
    qc_range_params p;
    qc_range_params_default(&p);
    p.bits = 3;
    qc_error err;
    float lo, hi;
    ck_assert(qc_stats_range(&st->tensors[0], QC_RANGE_MSE, &p, -1, &lo, &hi, &err) == QC_OK);
    ck_assert_msg(hi == (float)(want * w), "mse clips at bin %g, the in-order search at %d", hi / w, want);
    qc_stats_destroy(st);
}
END_TEST

START_TEST(histogram_methods_of_two_spikes_are_the_hand_values)
{
    /* 0.5 five times, 1.5 three times: R = 2, bins of 1/1024, |x| bins 512 and 1536 */
    float x[8] = {0.5f, 1.5f, 0.5f, 1.5f, 0.5f, 0.5f, 1.5f, 0.5f};
    int64_t dims[2] = {1, 8};
    qc_stats *s = empty_stats(false, true);
    qc_stats_add_tensor(s, "two", QC_ROLE_ACTIVATION, 2, dims, 1);
    feed(s, 0, x, 2, dims);
    float lo, hi;
    range(&s->tensors[0], QC_RANGE_PERCENTILE, 3, -1, &lo, &hi);
    ck_assert(lo == 0.5f && hi == 1.5f);
    /* entropy: i = 513 folds the 1.5s into bin 512, where Q (from the unclipped bins) also has
     * all its mass, so KL = 0; every i from 514 to 1536 but the last has an empty bin i - 1
     * taking the outliers (infinite KL), and i = 1537 has KL > 0 */
    range(&s->tensors[0], QC_RANGE_ENTROPY, 3, -1, &lo, &hi);
    ck_assert(lo == 0.5f && hi == 513.0f / 1024.0f);
    /* mse at 8 bits: a clip of 1.5 + 1/1024 keeps both spikes at a small rounding error */
    range(&s->tensors[0], QC_RANGE_MSE, 3, -1, &lo, &hi);
    ck_assert(lo == 0.5f && hi == 1.5f);
    qc_stats_destroy(s);
}
END_TEST

/* ---- 4. histograms ------------------------------------------------------------------------------ */

START_TEST(histogram_growth_is_exact_whatever_the_order)
{
    enum { N = 500 };
    float small[N], big[N];
    int64_t dims[2] = {1, N};
    for (int i = 0; i < N; i++) {
        small[i] = frand(-0.3f, 0.3f);
        big[i] = frand(-37, 50);
    }
    qc_stats *a = empty_stats(false, true), *b = empty_stats(false, true), *c = empty_stats(false, true);
    qc_stats *d = empty_stats(false, true);
    for (qc_stats **p = (qc_stats *[]){a, b, c, d}, **e = p + 4; p < e; p++)
        qc_stats_add_tensor(*p, "h", QC_ROLE_ACTIVATION, 2, dims, 1);
    feed(a, 0, small, 2, dims); /* grows from 0.5 to 64 */
    feed(a, 0, big, 2, dims);
    feed(b, 0, big, 2, dims);
    feed(b, 0, small, 2, dims);
    feed(c, 0, small, 2, dims); /* two accumulators, merged */
    feed(d, 0, big, 2, dims);
    qc_error err;
    ck_assert(qc_stats_merge(c, d, &err) == QC_OK);
    ck_assert_int_eq(a->tensors[0].hist.log2_range, 6);
    ck_assert_int_eq(b->tensors[0].hist.log2_range, 6);
    ck_assert_int_eq(c->tensors[0].hist.log2_range, 6);
    ck_assert(!memcmp(a->tensors[0].hist.counts, b->tensors[0].hist.counts, QC_HIST_BINS * sizeof(int64_t)));
    ck_assert(!memcmp(a->tensors[0].hist.counts, c->tensors[0].hist.counts, QC_HIST_BINS * sizeof(int64_t)));
    ck_assert_int_eq(a->tensors[0].hist.total, 2 * N);
    /* every value is in the bin of floor(x · 2048 / 64) */
    int64_t want[QC_HIST_BINS] = {0};
    for (int i = 0; i < N; i++) {
        want[QC_HIST_HALF + (int)floor(small[i] * 32.0)]++;
        want[QC_HIST_HALF + (int)floor(big[i] * 32.0)]++;
    }
    ck_assert(!memcmp(a->tensors[0].hist.counts, want, sizeof want));
    qc_stats_destroy(a);
    qc_stats_destroy(b);
    qc_stats_destroy(c);
    qc_stats_destroy(d);
}
END_TEST

/* Counts are kept pending between flushes; a group of images whose range grows in the middle
 * must give the counts of floor(x · 2048 / R) for the final R, the same as flushing after
 * every image. */
START_TEST(histogram_counts_pending_within_a_group_are_exact)
{
    enum { N = 3 * 67, IMAGES = 20 };
    static float img[IMAGES][N];
    int64_t dims[3] = {1, 3, 67};
    float absmax = 0;
    for (int im = 0; im < IMAGES; im++)
        for (int i = 0; i < N; i++) {
            float v = rng() % 3 == 0 ? 0.0f : frand(-1, 1) * (float)(1 << (im / 4));
            if (i % 50 == 7) /* runs of one value, as a ReLU6 clips them */
                v = 6.0f;
            img[im][i] = v;
            absmax = fabsf(v) > absmax ? fabsf(v) : absmax;
        }
    int e;
    frexp(absmax, &e); /* R = 2^e, the smallest power of two above the absolute maximum */
    int64_t want[QC_HIST_BINS] = {0};
    for (int im = 0; im < IMAGES; im++)
        for (int i = 0; i < N; i++)
            want[QC_HIST_HALF + (int)floor(ldexp(img[im][i], QC_HIST_HALF_LOG2 - e))]++;
    qc_stats *a = empty_stats(true, true), *b = empty_stats(true, true);
    qc_stats_add_tensor(a, "h", QC_ROLE_ACTIVATION, 3, dims, 1);
    qc_stats_add_tensor(b, "h", QC_ROLE_ACTIVATION, 3, dims, 1);
    for (int im = 0; im < IMAGES; im++) {
        qc_value v = qc_value_f32(3, dims, img[im]);
        qc_stats_observe(a, 0, &v); /* one group: no flush until the end */
        feed(b, 0, img[im], 3, dims);
    }
    qc_stats_flush(a);
    ck_assert_int_eq(a->status, QC_OK);
    ck_assert_int_eq(a->tensors[0].hist.log2_range, e);
    ck_assert_int_eq(a->tensors[0].hist.total, IMAGES * N);
    ck_assert(!memcmp(a->tensors[0].hist.counts, want, sizeof want));
    ck_assert(!memcmp(b->tensors[0].hist.counts, want, sizeof want));
    qc_stats_destroy(a);
    qc_stats_destroy(b);
}
END_TEST

/* ---- 5. merging and the file -------------------------------------------------------------------- */

/* Statistics of 40 random images of a 1x3x4x5 tensor and of a 4x3 weight, with the images
 * taken in groups of QC_STATS_GROUP: those whose group number is k mod n go to part k. */
static qc_stats *synthetic(int k, int n)
{
    int64_t dims[4] = {1, 3, 4, 5}, wdims[2] = {4, 3};
    float img[60], w[12];
    qc_stats *s = empty_stats(true, true);
    qc_stats_add_tensor(s, "input", QC_ROLE_INPUT, 4, dims, 1);
    qc_stats_add_tensor(s, "fc.weight", QC_ROLE_WEIGHT, 2, wdims, 0);
    for (int i = 0; i < 12; i++)
        w[i] = (float)(i - 6) / 8.0f;
    feed(s, 1, w, 2, wdims);
    uint64_t saved = rng_state;
    rng_state = 12345;
    for (int im = 0; im < 40; im++) {
        for (int i = 0; i < 60; i++)
            img[i] = frand(-2, 2) * (float)(1 + im % 7);
        if ((im / QC_STATS_GROUP) % n != k)
            continue;
        qc_value v = qc_value_f32(4, dims, img);
        qc_stats_observe(s, 0, &v);
        char rel[32];
        snprintf(rel, sizeof rel, "img%02d.png", im);
        qc_stats_add_image(s, rel);
        if (im % QC_STATS_GROUP == QC_STATS_GROUP - 1)
            qc_stats_flush(s);
    }
    qc_stats_flush(s);
    rng_state = saved;
    return s;
}

static char *to_text(const qc_stats *s, size_t *size)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, size);
    qc_error err;
    ck_assert(qc_stats_write(s, f, &err) == QC_OK);
    fclose(f);
    return buf;
}

START_TEST(merged_parts_write_the_same_bytes_as_one_run)
{
    qc_stats *all = synthetic(0, 1);
    size_t n_all;
    char *one = to_text(all, &n_all);
    for (int parts = 2; parts <= 4; parts++) {
        qc_stats *m = synthetic(parts - 1, parts);
        qc_error err;
        for (int k = 0; k < parts - 1; k++) {
            qc_stats *p = synthetic(k, parts);
            ck_assert_msg(qc_stats_merge(m, p, &err) == QC_OK, "%s", err.msg);
            qc_stats_destroy(p);
        }
        size_t n_m;
        char *text = to_text(m, &n_m);
        ck_assert_msg(n_m == n_all && !memcmp(text, one, n_all), "%d parts differ from one run", parts);
        free(text);
        qc_stats_destroy(m);
    }
    free(one);
    qc_stats_destroy(all);
}
END_TEST

START_TEST(the_file_reads_back_to_the_same_bytes)
{
    qc_stats *s = synthetic(0, 1), *r;
    size_t n;
    char *text = to_text(s, &n);
    qc_error err;
    ck_assert_msg(qc_stats_parse(text, n, "mem.json", &r, &err) == QC_OK, "%s", err.msg);
    size_t n2;
    char *again = to_text(r, &n2);
    ck_assert(n == n2 && !memcmp(text, again, n));
    ck_assert_int_eq(r->images, 40);
    ck_assert_int_eq(r->tensors[1].role, QC_ROLE_WEIGHT);
    ck_assert_ptr_nonnull(r->tensors[1].ch); /* weights always have per-channel values */
    float lo, hi;
    range(&r->tensors[1], QC_RANGE_MINMAX, 3, 3, &lo, &hi); /* row 3: (9..11 − 6) / 8 */
    ck_assert(lo == 0.375f && hi == 0.625f);
    free(again);
    free(text);
    qc_stats_destroy(r);
    qc_stats_destroy(s);
}
END_TEST

static qc_status parse_edited(const char *text, const char *from, const char *to, qc_error *err)
{
    char *edited = malloc(strlen(text) + strlen(to) + 1);
    const char *at = strstr(text, from);
    ck_assert_ptr_nonnull(at);
    size_t pre = (size_t)(at - text);
    memcpy(edited, text, pre);
    strcpy(edited + pre, to);
    strcat(edited, at + strlen(from));
    qc_stats *s = NULL;
    qc_status st = qc_stats_parse(edited, strlen(edited), "bad.json", &s, err);
    qc_stats_destroy(s);
    free(edited);
    return st;
}

START_TEST(a_bad_file_is_bad_input_named_in_the_message)
{
    qc_stats *s = synthetic(0, 1);
    size_t n;
    char *text = to_text(s, &n);
    qc_error err;
    ck_assert_int_eq(parse_edited(text, "\"version\": 1", "\"version\": 2", &err), QC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad.json"));
    ck_assert_ptr_nonnull(strstr(err.msg, "version 2"));
    ck_assert_int_eq(parse_edited(text, "qcal-stats", "something", &err), QC_ERR_INPUT);
    ck_assert_int_eq(parse_edited(text, "\"images\": 40", "\"images\": -1", &err), QC_ERR_INPUT);
    ck_assert_int_eq(parse_edited(text, "\"sum\": \"", "\"sum\": \"zz", &err), QC_ERR_INPUT);
    ck_assert_int_eq(parse_edited(text, "\"total\": 2400", "\"total\": 2401", &err), QC_ERR_INPUT);
    ck_assert_int_eq(parse_edited(text, "\"channels\": 3", "\"channels\": 4", &err), QC_ERR_INPUT);
    qc_stats *r = NULL;
    for (size_t cut = 0; cut < n; cut += n / 13 + 1) { /* truncated anywhere */
        ck_assert_int_eq(qc_stats_parse(text, cut, "cut.json", &r, &err), QC_ERR_INPUT);
        ck_assert_ptr_null(r);
    }
    free(text);
    qc_stats_destroy(s);
}
END_TEST

START_TEST(shards_merge_only_when_they_belong_together)
{
    qc_stats *a = synthetic(0, 3), *b = synthetic(1, 3), *c = synthetic(2, 3), *all = synthetic(0, 1);
    for (int k = 0; k < 3; k++) {
        qc_stats *p = k == 0 ? a : k == 1 ? b : c;
        p->shard_count = 3;
        p->shards = malloc(sizeof(int));
        p->shards[0] = k;
        p->n_shards = 1;
        p->shard_images = all->images;
        p->shard_digest = all->images_digest;
    }
    qc_error err;
    qc_stats *dup = synthetic(1, 3);
    dup->shard_count = 3;
    dup->shards = malloc(sizeof(int));
    dup->shards[0] = 1;
    dup->n_shards = 1;
    dup->shard_images = all->images;
    dup->shard_digest = all->images_digest;
    ck_assert(qc_stats_merge(a, b, &err) == QC_OK);
    ck_assert_int_eq(a->n_shards, 2);
    ck_assert_int_eq(qc_stats_merge(a, dup, &err), QC_ERR_INPUT); /* shard 1 twice */
    ck_assert_ptr_nonnull(strstr(err.msg, "shard 1/3"));
    ck_assert_int_eq(qc_stats_merge(all, c, &err), QC_ERR_INPUT); /* a shard into a whole run */
    ck_assert(qc_stats_merge(a, c, &err) == QC_OK);
    ck_assert_int_eq(a->shard_count, 0); /* complete: the statistics of the whole list */
    size_t n1, n2;
    char *t1 = to_text(a, &n1), *t2 = to_text(all, &n2);
    ck_assert(n1 == n2 && !memcmp(t1, t2, n1));
    free(t1);
    free(t2);
    qc_stats *other = synthetic(0, 1);
    other->model_hash = 7;
    ck_assert_int_eq(qc_stats_merge(all, other, &err), QC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "different models"));
    qc_stats_destroy(other);
    qc_stats_destroy(dup);
    qc_stats_destroy(a);
    qc_stats_destroy(b);
    qc_stats_destroy(c);
    qc_stats_destroy(all);
}
END_TEST

START_TEST(non_finite_values_are_refused_with_the_tensor_name)
{
    float x[5] = {1, 2, NAN, 4, 5};
    int64_t dims[2] = {1, 5};
    qc_stats *s = empty_stats(false, true);
    qc_stats_add_tensor(s, "bad_tensor", QC_ROLE_ACTIVATION, 2, dims, 1);
    qc_value v = qc_value_f32(2, dims, x);
    qc_stats_observe(s, 0, &v);
    ck_assert_int_eq(s->status, QC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(s->err.msg, "bad_tensor"));
    qc_stats_destroy(s);
}
END_TEST

/* ---- 6. a bundled model ------------------------------------------------------------------------ */

START_TEST(lenet_records_its_input_activations_and_weights)
{
    if (access("models/lenet.onnx", F_OK) != 0)
        return;
    qc_graph *g;
    qc_error err;
    ck_assert(qc_onnx_load("models/lenet.onnx", &g, &err) == QC_OK);
    ck_assert(qc_pass_fold_batchnorm(g, &err) == QC_OK);
    qc_stats_options o = {.per_channel = true, .histograms = true, .model_hash = 1};
    qc_stats *s;
    ck_assert_msg(qc_stats_create(g, &o, &s, &err) == QC_OK, "%s", err.msg);
    ck_assert_str_eq(s->tensors[0].name, "input");
    ck_assert_int_eq(s->tensors[0].role, QC_ROLE_INPUT);
    int w = qc_stats_find(s, "fc1.weight"), conv = qc_stats_find(s, "conv1.weight");
    ck_assert_int_ge(w, 0);
    ck_assert_int_eq(s->tensors[w].axis, 0); /* Gemm with transB: [N, K] */
    ck_assert_int_eq(s->tensors[w].channels, 128);
    ck_assert_int_eq(s->tensors[w].samples, 1);
    ck_assert_int_eq(s->tensors[conv].channels, 16);
    for (int i = 0; i < s->n_tensors; i++) /* no Shape/Gather integers */
        ck_assert_str_ne(s->tensors[i].name, "/Shape_output_0");
    ck_assert(qc_stats_check_model(s, g, 1, "s.json", "lenet.onnx", &err) == QC_OK);
    ck_assert_int_eq(qc_stats_check_model(s, g, 2, "s.json", "lenet.onnx", &err), QC_ERR_INPUT);
    free(s->tensors[3].name);
    s->tensors[3].name = strdup("renamed");
    ck_assert_int_eq(qc_stats_check_model(s, g, 1, "s.json", "lenet.onnx", &err), QC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "renamed"));
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

/* ---- qc_stats_gather: one pass over an image set -------------------------------------------- */

/* lenet over the first 40 images of data/calib (groups of 16, 16 and 8), written to memory. */
static char *gather_text(const qc_graph *g, const qc_image_set *set, int threads, int64_t batch,
                         int shard_i, int shard_n, qc_stats **keep)
{
    qc_preprocess pp;
    qc_preprocess_default(&pp, 1);
    qc_stats_options so = {.per_channel = true, .histograms = true, .model_hash = 7,
                           .model_file = "lenet.onnx", .pp = &pp};
    qc_gather_options go = {.limit = 40, .batch = batch, .shard_i = shard_i, .shard_n = shard_n,
                            .threads = threads};
    qc_stats *s = NULL;
    qc_error err;
    ck_assert_msg(qc_stats_gather(g, set, &pp, &so, &go, &s, &err) == QC_OK, "%s", err.msg);
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    ck_assert_int_eq(qc_stats_write(s, f, &err), QC_OK);
    fclose(f);
    if (keep)
        *keep = s;
    else
        qc_stats_destroy(s);
    return text;
}

START_TEST(gathering_gives_the_same_bytes_for_any_threads_batch_and_shards)
{
    qc_graph *g;
    qc_error err;
    qc_image_set set;
    ck_assert_int_eq(qc_onnx_load("models/lenet.onnx", &g, &err), QC_OK);
    ck_assert_int_eq(qc_pass_fold_batchnorm(g, &err), QC_OK);
    ck_assert_int_eq(qc_image_set_open(&set, "data/calib", NULL, &err), QC_OK);
    qc_stats *one;
    char *want = gather_text(g, &set, 1, 16, 0, 1, &one);
    ck_assert_int_eq(one->images, 40);
    ck_assert_int_eq(one->tensors[0].samples, 40); /* the input, once per image */
    qc_stats_destroy(one);
    char *threads2 = gather_text(g, &set, 2, 48, 0, 1, NULL);
    ck_assert_str_eq(threads2, want);
    char *threads3 = gather_text(g, &set, 3, 1, 0, 1, NULL);
    ck_assert_str_eq(threads3, want);
    /* shards 0/2 (groups 0 and 2) and 1/2 (group 1), merged in either order */
    qc_stats *a, *b;
    free(gather_text(g, &set, 2, 32, 0, 2, &a));
    free(gather_text(g, &set, 1, 16, 1, 2, &b));
    ck_assert_int_eq(a->images, 24);
    ck_assert_int_eq(b->images, 16);
    ck_assert_int_eq(qc_stats_merge(b, a, &err), QC_OK);
    char *merged = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&merged, &size);
    ck_assert_int_eq(qc_stats_write(b, f, &err), QC_OK);
    fclose(f);
    ck_assert_str_eq(merged, want);
    free(merged);
    qc_stats_destroy(a);
    qc_stats_destroy(b);
    free(threads2);
    free(threads3);
    free(want);
    qc_image_set_free(&set);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(gathering_names_the_bad_image_and_returns_nothing)
{
    char dir[] = "/tmp/qcal-gather.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/bad.png", dir);
    FILE *f = fopen(path, "w");
    fputs("not a png", f);
    fclose(f);
    qc_graph *g;
    qc_error err;
    qc_image_set set;
    ck_assert_int_eq(qc_onnx_load("models/lenet.onnx", &g, &err), QC_OK);
    ck_assert_int_eq(qc_image_set_open(&set, dir, NULL, &err), QC_OK);
    qc_preprocess pp;
    qc_preprocess_default(&pp, 1);
    qc_stats_options so = {.per_channel = true, .pp = &pp};
    qc_gather_options go = {.limit = 10, .batch = 16, .shard_n = 1, .threads = 2};
    qc_stats *s = (qc_stats *)1;
    ck_assert_int_eq(qc_stats_gather(g, &set, &pp, &so, &go, &s, &err), QC_ERR_INPUT);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(err.msg, "bad.png"), "%s", err.msg);
    unlink(path);
    rmdir(dir);
    qc_image_set_free(&set);
    qc_graph_destroy(g);
}
END_TEST

/* The model hash is FNV-1a 64 of the file's bytes (written here from its definition, over the
 * file read whole) however the file is read: lenet.onnx is larger than one 256 KiB piece. */
START_TEST(model_hash_is_fnv1a_of_the_whole_file)
{
    FILE *f = fopen("models/lenet.onnx", "rb");
    ck_assert_ptr_nonnull(f);
    uint64_t want = 0xcbf29ce484222325ull;
    size_t size = 0;
    for (int c; (c = fgetc(f)) != EOF; size++) {
        want ^= (unsigned char)c;
        want *= 0x100000001b3ull;
    }
    fclose(f);
    ck_assert_uint_gt(size, 1 << 18);
    qc_error err;
    uint64_t got = 0;
    ck_assert_int_eq(qc_stats_hash_file("models/lenet.onnx", &got, &err), QC_OK);
    ck_assert_msg(got == want, "hash %016llx, FNV-1a of the bytes %016llx", (unsigned long long)got,
                  (unsigned long long)want);
    got = 7;
    ck_assert_int_eq(qc_stats_hash_file("models/no-such-model.onnx", &got, &err), QC_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "no-such-model.onnx"));
    ck_assert_int_eq(qc_stats_hash_file("/dev/zero", &got, &err), QC_ERR_INPUT);
    ck_assert_uint_eq(got, 7);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stats");
    TCase *fix = tcase_create("fixed point");
    tcase_add_test(fix, fixed_point_holds_doubles_exactly);
    tcase_add_test(fix, fixed_point_sums_do_not_depend_on_order);
    tcase_add_test(fix, fixed_point_text_is_every_digit_without_leading_zeros);
    tcase_add_test(fix, model_hash_is_fnv1a_of_the_whole_file);
    suite_add_tcase(s, fix);
    TCase *kern = tcase_create("kernels");
    tcase_add_test(kern, span_kernels_match_the_scalar_reference_bit_for_bit);
    tcase_add_test(kern, channel_span_kernels_match_the_scalar_reference_bit_for_bit);
    tcase_add_test(kern, histogram_index_kernel_matches_the_scalar_reference);
    tcase_add_test(kern, mse_error_kernels_match_the_scalar_reference_bit_for_bit);
    suite_add_tcase(s, kern);
    TCase *meth = tcase_create("range methods");
    tcase_add_test(meth, minmax_and_avg_per_tensor_are_the_hand_values);
    tcase_add_test(meth, avgstd_and_meanstd_per_tensor_are_the_hand_values);
    tcase_add_test(meth, every_method_per_channel_is_the_hand_value);
    tcase_add_test(meth, percentile_is_the_hand_value);
    tcase_add_test(meth, channel_spread_is_the_smallest_and_largest_channel_range);
    tcase_add_test(meth, a_gather_counts_the_images_of_its_shard);
    tcase_add_test(meth, histogram_methods_of_a_choice_are_found_and_dropped);
    tcase_add_test(meth, entropy_matches_a_direct_kl_reference);
    tcase_add_test(meth, entropy_of_a_relu_output_is_not_pulled_in_by_its_zeros);
    tcase_add_test(meth, entropy_keeps_the_bound_of_a_saturating_activation);
    tcase_add_test(meth, histogram_methods_leave_the_model_input_unclipped);
    tcase_add_test(meth, mse_matches_a_direct_reference);
    tcase_add_test(meth, mse_is_the_in_order_search_exactly);
    tcase_add_test(meth, mse_close_calls_are_decided_in_order);
    tcase_add_test(meth, histogram_methods_of_two_spikes_are_the_hand_values);
    suite_add_tcase(s, meth);
    TCase *hist = tcase_create("histograms");
    tcase_add_test(hist, histogram_growth_is_exact_whatever_the_order);
    tcase_add_test(hist, histogram_counts_pending_within_a_group_are_exact);
    suite_add_tcase(s, hist);
    TCase *file = tcase_create("merge and file");
    tcase_add_test(file, merged_parts_write_the_same_bytes_as_one_run);
    tcase_add_test(file, the_file_reads_back_to_the_same_bytes);
    tcase_add_test(file, a_bad_file_is_bad_input_named_in_the_message);
    tcase_add_test(file, shards_merge_only_when_they_belong_together);
    tcase_add_test(file, non_finite_values_are_refused_with_the_tensor_name);
    suite_add_tcase(s, file);
    TCase *model = tcase_create("model");
    tcase_set_timeout(model, 30);
    tcase_add_test(model, lenet_records_its_input_activations_and_weights);
    tcase_add_test(model, gathering_gives_the_same_bytes_for_any_threads_batch_and_shards);
    tcase_add_test(model, gathering_names_the_bad_image_and_returns_nothing);
    suite_add_tcase(s, model);
    return qc_check_run("check_stats", s);
}
