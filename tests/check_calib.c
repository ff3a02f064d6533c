/* check_calib.c — quantization parameters: GemmLowP nudging, SymLowP ranges, bit widths 2..8,
 * reduce_range, round modes, saturation, per-channel weights, degenerate tensors, biases and
 * fixed-point requantization multipliers, each against hand-computed values or exact math. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "calib/calib.h"
#include "tests/check-util.h"

/* Float slack, in steps of the scale, for checks on ranges: x / s and (q − z) · s each round
 * once in single precision, |q| ≤ 255, so the error is below 255 · 2^-24 · 2 ≈ 3e-5 steps. */
#define RANGE_SLACK_STEPS 1e-4

/* splitmix64: a fixed sequence, so that failures reproduce */
static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
    rng_state = seed;
}

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* uniform in [0, 1) with 53 random bits */
static double rng_unit(void)
{
    return (double)(rng_next() >> 11) * 0x1p-53;
}

static qc_qparams act(float min, float max, qc_scheme scheme, int bits, bool is_signed)
{
    qc_qparams p;
    qc_error err = {{0}};
    qc_status st = qc_qparams_activation(min, max, scheme, bits, is_signed, "t", &p, &err);
    ck_assert_msg(st == QC_OK, "[%g, %g] %d bits: %s", (double)min, (double)max, bits, err.msg);
    return p;
}

static void assert_qparams(qc_qparams p, float scale, int32_t zero_point, int32_t qmin,
                           int32_t qmax)
{
    ck_assert_msg(p.scale == scale, "scale %.9g, expected %.9g", (double)p.scale, (double)scale);
    ck_assert_int_eq(p.zero_point, zero_point);
    ck_assert_int_eq(p.qmin, qmin);
    ck_assert_int_eq(p.qmax, qmax);
}

/* ---- 1. GemmLowP ------------------------------------------------------------------------- */

START_TEST(gemmlowp_nudges_minus_one_to_three_onto_zero_point_64)
{
    /* [−1, 3] on [0, 255]: s = 4/255 = 0.0156862745…;
     * zero_point_from_min = 0 − (−1)/s = 255/4 = 63.75 → nudged to 64.
     * Nudged range: s·(0 − 64) = −256/255 = −1.00392157…, s·(255 − 64) = 764/255 = 2.99607843… */
    qc_qparams p = act(-1.0f, 3.0f, QC_SCHEME_GEMMLOWP, 8, false);
    assert_qparams(p, (float)(4.0 / 255.0), 64, 0, 255);
    const float lo = qc_dequantize_value(0, &p), hi = qc_dequantize_value(255, &p);
    ck_assert_float_eq(lo, -64.0f * p.scale); /* −64 · s is exact: a power-of-two multiple */
    ck_assert_double_eq_tol(lo, -256.0 / 255.0, 1e-6);
    ck_assert_double_eq_tol(hi, 764.0 / 255.0, 1e-6);
    ck_assert_float_eq(qc_dequantize_value(64, &p), 0.0f);
    ck_assert_int_eq(qc_quantize_value(0.0f, &p, QC_ROUND_HALF_EVEN), 64);
    /* 3 / s = 191.25 → 191, + 64 = 255; −1 / s = −63.75 → −64, + 64 = 0 */
    ck_assert_int_eq(qc_quantize_value(3.0f, &p, QC_ROUND_HALF_EVEN), 255);
    ck_assert_int_eq(qc_quantize_value(-1.0f, &p, QC_ROUND_HALF_EVEN), 0);
}
END_TEST

START_TEST(gemmlowp_widens_one_sided_ranges_to_contain_zero)
{
    /* [2, 6] → [0, 6]: s = 6/255, z = 0 − 0/s = 0 */
    assert_qparams(act(2.0f, 6.0f, QC_SCHEME_GEMMLOWP, 8, false), (float)(6.0 / 255.0), 0, 0,
                   255);
    /* [−6, −2] → [−6, 0]: s = 6/255, z = 0 + 6/s = 255 */
    assert_qparams(act(-6.0f, -2.0f, QC_SCHEME_GEMMLOWP, 8, false), (float)(6.0 / 255.0), 255,
                   0, 255);
}
END_TEST

START_TEST(gemmlowp_with_the_signed_hint_nudges_within_int8)
{
    /* [−1, 3] on [−128, 127]: s = 4/255, z = −128 + 63.75 = −64.25 → −64 */
    assert_qparams(act(-1.0f, 3.0f, QC_SCHEME_GEMMLOWP, 8, true), (float)(4.0 / 255.0), -64,
                   -128, 127);
    /* [−1, 1]: s = 2/255, z = −128 + 127.5 = −0.5 → −1 (ties away from zero, as gemmlowp) */
    assert_qparams(act(-1.0f, 1.0f, QC_SCHEME_GEMMLOWP, 8, true), (float)(2.0 / 255.0), -1,
                   -128, 127);
}
END_TEST

START_TEST(real_zero_quantizes_exactly_to_the_zero_point_for_random_ranges)
{
    rng_seed(1);
    for (int i = 0; i < 20000; i++) {
        /* magnitudes from 1e-6 to 1e6, with all-positive and all-negative ranges too */
        const double mag = pow(10.0, -6.0 + 12.0 * rng_unit());
        float a = (float)(mag * (2.0 * rng_unit() - 1.0));
        float b = (float)(mag * (2.0 * rng_unit() - 1.0));
        const float min = fminf(a, b), max = fmaxf(a, b);
        const qc_scheme scheme = (qc_scheme)(i % 2);
        const int bits = 2 + (i / 2) % 7;
        const bool is_signed = (i / 14) % 2;
        const qc_qparams p = act(min, max, scheme, bits, is_signed);

        ck_assert(p.qmin <= p.zero_point && p.zero_point <= p.qmax);
        for (int r = 0; r < 5; r++)
            ck_assert_int_eq(qc_quantize_value(0.0f, &p, (qc_round_mode)r), p.zero_point);
        ck_assert_float_eq(qc_dequantize_value(p.zero_point, &p), 0.0f);
        ck_assert_float_eq(qc_fake_quantize(0.0f, &p, QC_ROUND_HALF_EVEN), 0.0f);
        if (scheme == QC_SCHEME_SYMLOWP)
            ck_assert_int_eq(p.zero_point, 0);

        /* the range (widened to contain 0) is represented to within half a step at each end */
        const double tol = p.scale * (0.5 + RANGE_SLACK_STEPS);
        const double lo = fmin(min, 0.0), hi = fmax(max, 0.0);
        ck_assert_msg(qc_dequantize_value(p.qmin, &p) <= lo + tol, "[%g, %g]", lo, hi);
        ck_assert_msg(qc_dequantize_value(p.qmax, &p) >= hi - tol, "[%g, %g]", lo, hi);
        ck_assert(fabs(qc_fake_quantize(min, &p, QC_ROUND_HALF_EVEN) - min) <= tol);
        ck_assert(fabs(qc_fake_quantize(max, &p, QC_ROUND_HALF_EVEN) - max) <= tol);
    }
}
END_TEST

/* ---- 2. SymLowP, bit widths, reduce_range ------------------------------------------------ */

START_TEST(symlowp_activations_are_unsigned_from_zero_after_relu_and_signed_otherwise)
{
    /* [0.5, 5.1] non-negative, default: [0, 255], s = 5.1/255 = 0.02, z = 0 */
    assert_qparams(act(0.5f, 5.1f, QC_SCHEME_SYMLOWP, 8, false), (float)(5.1f / 255.0), 0, 0,
                   255);
    /* the same range with the signed hint: [−128, 127], s = 5.1/127 */
    assert_qparams(act(0.5f, 5.1f, QC_SCHEME_SYMLOWP, 8, true), (float)(5.1f / 127.0), 0, -128,
                   127);
    /* [−2.54, 1] has negatives: signed whatever the hint, a = 2.54, s = 2.54/127 = 0.02 */
    qc_qparams p = act(-2.54f, 1.0f, QC_SCHEME_SYMLOWP, 8, false);
    assert_qparams(p, (float)(2.54f / 127.0), 0, -128, 127);
    /* −a maps onto −127, a onto 127: −128 is reached only by saturation */
    ck_assert_int_eq(qc_quantize_value(-2.54f, &p, QC_ROUND_HALF_EVEN), -127);
    ck_assert_int_eq(qc_quantize_value(2.54f, &p, QC_ROUND_HALF_EVEN), 127);
    ck_assert_int_eq(qc_quantize_value(-2.6f, &p, QC_ROUND_HALF_EVEN), -128); /* −130 → −128 */
}
END_TEST

START_TEST(symlowp_weights_use_the_narrow_signed_range)
{
    /* a = max(|−1|, |1.27|) = 1.27 on [−127, 127]: s = 1.27/127 = 0.01 */
    const float w[4] = {-1.0f, 0.25f, 1.27f, -0.5f};
    qc_qparams p;
    qc_error err = {{0}};
    ck_assert_int_eq(qc_qparams_weights(w, 1, 1, 4, false, QC_SCHEME_SYMLOWP, 8, false, "w", &p,
                                        &err),
                     QC_OK);
    assert_qparams(p, (float)(1.27f / 127.0), 0, -127, 127);
    int32_t q[4];
    qc_quantize_array(1, 1, 4, w, &p, QC_ROUND_HALF_EVEN, q);
    /* −1/0.01 = −100, 0.25/0.01 = 25, 127, −50 */
    ck_assert_int_eq(q[0], -100);
    ck_assert_int_eq(q[1], 25);
    ck_assert_int_eq(q[2], 127);
    ck_assert_int_eq(q[3], -50);
    /* −a is −127, never −128 */
    ck_assert_int_eq(qc_quantize_value(-1.27f, &p, QC_ROUND_HALF_EVEN), -127);
    ck_assert_int_eq(qc_quantize_value(-5.0f, &p, QC_ROUND_HALF_EVEN), -127);
}
END_TEST

START_TEST(every_bit_width_from_2_to_8_has_its_integer_range_and_scale)
{
    /* b, 2^b − 1, 2^(b−1), 2^(b−1) − 1, written out by hand */
    static const int table[7][4] = {
        {2, 3, 2, 1},     {3, 7, 4, 3},     {4, 15, 8, 7},     {5, 31, 16, 15},
        {6, 63, 32, 31}, {7, 127, 64, 63}, {8, 255, 128, 127},
    };
    for (int i = 0; i < 7; i++) {
        const int b = table[i][0], u = table[i][1], h = table[i][2], n = table[i][3];
        /* GemmLowP [0, 6]: [0, 2^b − 1], s = 6 / (2^b − 1), z = 0 */
        assert_qparams(act(0.0f, 6.0f, QC_SCHEME_GEMMLOWP, b, false), (float)(6.0 / u), 0, 0, u);
        /* GemmLowP signed [−6, 0]: [−2^(b−1), 2^(b−1) − 1], z = qmax */
        assert_qparams(act(-6.0f, 0.0f, QC_SCHEME_GEMMLOWP, b, true), (float)(6.0 / u), h - 1,
                       -h, h - 1);
        /* SymLowP unsigned [0, 6]: s = 6 / (2^b − 1) */
        assert_qparams(act(0.0f, 6.0f, QC_SCHEME_SYMLOWP, b, false), (float)(6.0 / u), 0, 0, u);
        /* SymLowP signed [−4, 2]: a = 4, s = 4 / (2^(b−1) − 1) */
        assert_qparams(act(-4.0f, 2.0f, QC_SCHEME_SYMLOWP, b, false), (float)(4.0 / n), 0, -h,
                       n);
        /* SymLowP weights {−4, 2}: narrow [−(2^(b−1) − 1), 2^(b−1) − 1] */
        const float w[2] = {-4.0f, 2.0f};
        qc_qparams p;
        ck_assert_int_eq(qc_qparams_weights(w, 1, 1, 2, false, QC_SCHEME_SYMLOWP, b, false, "w",
                                            &p, NULL),
                         QC_OK);
        assert_qparams(p, (float)(4.0 / n), 0, -n, n);
        ck_assert_int_eq(qc_quantize_value(-4.0f, &p, QC_ROUND_HALF_EVEN), -n);
    }
    /* 2 bits, hand-checked once more: weights {−1, 0, 1} · s with s = 4, so 2.0 / 4 = 0.5 → 0 */
    const float w2[2] = {-4.0f, 2.0f};
    qc_qparams p2;
    qc_qparams_weights(w2, 1, 1, 2, false, QC_SCHEME_SYMLOWP, 2, false, "w", &p2, NULL);
    ck_assert_float_eq(p2.scale, 4.0f);
    ck_assert_int_eq(qc_quantize_value(2.0f, &p2, QC_ROUND_HALF_EVEN), 0);
    ck_assert_int_eq(qc_quantize_value(6.0f, &p2, QC_ROUND_HALF_EVEN), 1);
}
END_TEST

START_TEST(bit_widths_outside_2_to_8_are_rejected)
{
    qc_qparams p;
    qc_error err = {{0}};
    const int bad[] = {-1, 0, 1, 9, 16};
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(qc_qparams_activation(0.0f, 1.0f, QC_SCHEME_GEMMLOWP, bad[i], false,
                                               "x7", &p, &err),
                         QC_ERR_INPUT);
        ck_assert_ptr_nonnull(strstr(err.msg, "'x7'"));
        const float w = 1.0f;
        ck_assert_int_eq(qc_qparams_weights(&w, 1, 1, 1, false, QC_SCHEME_SYMLOWP, bad[i], false,
                                            "w7", &p, &err),
                         QC_ERR_INPUT);
        ck_assert_ptr_nonnull(strstr(err.msg, "'w7'"));
    }
    ck_assert_int_eq(qc_qparams_activation(0.0f, 1.0f, (qc_scheme)7, 8, false, "x7", &p, &err),
                     QC_ERR_INPUT);
}
END_TEST

START_TEST(reduce_range_restricts_weights_as_onnx_runtime_does)
{
    const float w[3] = {-1.28f, 0.5f, 0.64f};
    qc_qparams p;
    /* SymLowP 8 bits: [−64, 64], s = 1.28/64 = 0.02 */
    qc_qparams_weights(w, 1, 1, 3, false, QC_SCHEME_SYMLOWP, 8, true, "w", &p, NULL);
    assert_qparams(p, (float)(1.28f / 64.0), 0, -64, 64);
    ck_assert_int_eq(qc_quantize_value(-1.28f, &p, QC_ROUND_HALF_EVEN), -64);
    ck_assert_int_eq(qc_quantize_value(0.64f, &p, QC_ROUND_HALF_EVEN), 32);
    /* GemmLowP 8 bits: [0, 127], range [−1.28, 0.64]: s = 1.92/127, z = 1.28/s = 84.67 → 85 */
    qc_qparams_weights(w, 1, 1, 3, false, QC_SCHEME_GEMMLOWP, 8, true, "w", &p, NULL);
    ck_assert_int_eq(p.qmin, 0);
    ck_assert_int_eq(p.qmax, 127);
    ck_assert_double_eq_tol(p.scale, 1.92 / 127.0, 1e-8);
    ck_assert_int_eq(p.zero_point, 85);
    /* 4 bits: SymLowP [−4, 4], GemmLowP [0, 7] */
    qc_qparams_weights(w, 1, 1, 3, false, QC_SCHEME_SYMLOWP, 4, true, "w", &p, NULL);
    assert_qparams(p, (float)(1.28f / 4.0), 0, -4, 4);
    qc_qparams_weights(w, 1, 1, 3, false, QC_SCHEME_GEMMLOWP, 4, true, "w", &p, NULL);
    ck_assert_int_eq(p.qmax, 7);
}
END_TEST

/* ---- 3. rounding, quantize, dequantize ------------------------------------------------------ */

START_TEST(each_round_mode_breaks_ties_as_documented)
{
    static const float x[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f};
    /* columns: half-even, half-away, toward-zero, up, down */
    static const float want[6][5] = {
        {0, 1, 0, 1, 0},       {2, 2, 1, 2, 1},       {2, 3, 2, 3, 2},
        {0, -1, 0, 0, -1},     {-2, -2, -1, -1, -2},  {-2, -3, -2, -2, -3},
    };
    /* scale 0.5: the same ties arise from x / 0.5 */
    const qc_qparams unit = {1.0f, 0, -128, 127}, half = {0.5f, 10, 0, 255};
    for (int i = 0; i < 6; i++)
        for (int r = 0; r < 5; r++) {
            ck_assert_msg(qc_round(x[i], (qc_round_mode)r) == want[i][r], "round(%g) mode %s",
                          (double)x[i], qc_round_mode_name((qc_round_mode)r));
            ck_assert_int_eq(qc_quantize_value(x[i], &unit, (qc_round_mode)r), (int)want[i][r]);
            ck_assert_int_eq(qc_quantize_value(x[i] * 0.5f, &half, (qc_round_mode)r),
                             (int)want[i][r] + 10);
        }
    /* just below a tie: 0.49999997 is nearest to 0 for both nearest modes */
    const float below = nextafterf(0.5f, 0.0f);
    ck_assert_float_eq(qc_round(below, QC_ROUND_HALF_EVEN), 0.0f);
    ck_assert_float_eq(qc_round(below, QC_ROUND_HALF_AWAY), 0.0f);
    ck_assert_float_eq(qc_round(-below, QC_ROUND_HALF_AWAY), 0.0f);
    ck_assert_float_eq(qc_round(below, QC_ROUND_UP), 1.0f);
    /* large integers and non-finite values pass through */
    ck_assert_float_eq(qc_round(16777216.0f, QC_ROUND_HALF_EVEN), 16777216.0f);
    ck_assert(isinf(qc_round(-INFINITY, QC_ROUND_DOWN)));
    ck_assert(isnan(qc_round(NAN, QC_ROUND_UP)));
}
END_TEST

START_TEST(half_even_rounding_agrees_with_rintf_on_random_floats)
{
    rng_seed(2);
    for (int i = 0; i < 100000; i++) {
        /* halves and quarters hit ties; the rest are arbitrary floats below 2^24 */
        float x;
        if (i % 3 == 0)
            x = (float)((int)(rng_next() % 2001) - 1000) * 0.5f;
        else if (i % 3 == 1)
            x = (float)((int)(rng_next() % 2001) - 1000) * 0.25f;
        else
            x = (float)((2.0 * rng_unit() - 1.0) * ldexp(1.0, (int)(rng_next() % 25)));
        ck_assert_msg(qc_round(x, QC_ROUND_HALF_EVEN) == rintf(x), "x = %.9g", (double)x);
    }
}
END_TEST

START_TEST(quantization_saturates_at_qmin_and_qmax_and_maps_nan_to_the_zero_point)
{
    const qc_qparams u = {0.5f, 100, 0, 255}, s = {0.5f, 0, -7, 7};
    for (int r = 0; r < 5; r++) {
        const qc_round_mode m = (qc_round_mode)r;
        ck_assert_int_eq(qc_quantize_value(1e6f, &u, m), 255);
        ck_assert_int_eq(qc_quantize_value(-1e6f, &u, m), 0);
        ck_assert_int_eq(qc_quantize_value(INFINITY, &u, m), 255);
        ck_assert_int_eq(qc_quantize_value(-INFINITY, &u, m), 0);
        ck_assert_int_eq(qc_quantize_value(NAN, &u, m), 100);
        ck_assert_int_eq(qc_quantize_value(FLT_MAX, &s, m), 7);
        ck_assert_int_eq(qc_quantize_value(-FLT_MAX, &s, m), -7);
    }
    /* 3.6 / 0.5 = 7.2: up gives 8, one past qmax → 7; down of −7.2 gives −8 → −7 */
    ck_assert_int_eq(qc_quantize_value(3.6f, &s, QC_ROUND_UP), 7);
    ck_assert_int_eq(qc_quantize_value(-3.6f, &s, QC_ROUND_DOWN), -7);
    /* 77.4 / 0.5 = 154.8 → 155, + 100 = 255 exactly; 77.6 → 155.2 → 155 → 255 too;
     * 78 → 156 → 256 → saturates to 255 */
    ck_assert_int_eq(qc_quantize_value(77.4f, &u, QC_ROUND_HALF_EVEN), 255);
    ck_assert_int_eq(qc_quantize_value(78.0f, &u, QC_ROUND_HALF_EVEN), 255);
    ck_assert_int_eq(qc_quantize_value(77.0f, &u, QC_ROUND_HALF_EVEN), 254);
}
END_TEST

START_TEST(dequantize_and_fake_quantize_follow_the_affine_map)
{
    /* GemmLowP [−1, 3]: s = 4/255, z = 64 */
    const qc_qparams p = act(-1.0f, 3.0f, QC_SCHEME_GEMMLOWP, 8, false);
    /* (q − z) · s in single precision */
    ck_assert_float_eq(qc_dequantize_value(192, &p), 128.0f * p.scale);
    ck_assert_float_eq(qc_dequantize_value(0, &p), -64.0f * p.scale);
    /* 1.0 / s = 63.75 → 64 → q = 128 → (128 − 64) · s = 256/255 */
    ck_assert_double_eq_tol(qc_fake_quantize(1.0f, &p, QC_ROUND_HALF_EVEN), 256.0 / 255.0, 1e-6);
    /* toward zero: 63.75 → 63 → 252/255 */
    ck_assert_double_eq_tol(qc_fake_quantize(1.0f, &p, QC_ROUND_TOWARD_ZERO), 252.0 / 255.0,
                            1e-6);
    /* 5.0 saturates at q = 255: 191 · 4/255 = 764/255 */
    ck_assert_double_eq_tol(qc_fake_quantize(5.0f, &p, QC_ROUND_HALF_EVEN), 764.0 / 255.0, 1e-6);
    ck_assert_float_eq(qc_fake_quantize(NAN, &p, QC_ROUND_HALF_EVEN), 0.0f);
    /* x / s is one single-precision division, as ONNX (not x · (1/s)): for
     * x = −0x1.818182p-6, x / fl(4/255) is exactly −1.5 → −2 (even), + 64 = 62, whereas
     * x · fl(1 / fl(4/255)) would give −1.49999988 → −1 and q = 63 */
    ck_assert_int_eq(qc_quantize_value(-0x1.818182p-6f, &p, QC_ROUND_HALF_EVEN), 62);
    /* int32 extremes: q − z is exact (−2^31 − 1, which rounds to −2^31 in float) */
    const qc_qparams b = {1.0f, 1, INT32_MIN, INT32_MAX};
    ck_assert_float_eq(qc_dequantize_value(INT32_MIN, &b), -2147483648.0f);
}
END_TEST

START_TEST(array_quantization_uses_each_channels_parameters)
{
    /* [outer 2][channels 3][inner 2] */
    const qc_qparams p[3] = {{1.0f, 0, -128, 127}, {0.5f, 10, 0, 255}, {2.0f, -3, -8, 7}};
    const float x[12] = {1, 2, 1, 2, 1, 2, -1, 30, 3, -4, 7, 100};
    const int32_t want[12] = {
        1,  2,  /* o0 c0: x / 1 */
        12, 14, /* o0 c1: x / 0.5 + 10 */
        -3, -2, /* o0 c2: 1 / 2 = 0.5 → 0 (even), 2 / 2 = 1; − 3 */
        -1, 30, /* o1 c0 */
        16, 2,  /* o1 c1: 6 + 10, −8 + 10 */
        1,  7,  /* o1 c2: 7 / 2 = 3.5 → 4 (even) − 3 = 1; 100 / 2 = 50 − 3 = 47 → saturates at 7 */
    };
    int32_t q[12];
    float back[12];
    qc_quantize_array(2, 3, 2, x, p, QC_ROUND_HALF_EVEN, q);
    for (int i = 0; i < 12; i++)
        ck_assert_msg(q[i] == want[i], "q[%d] = %d, expected %d", i, q[i], want[i]);
    qc_dequantize_array(2, 3, 2, q, p, back);
    ck_assert_float_eq(back[2], 1.0f);   /* (12 − 10) · 0.5 */
    ck_assert_float_eq(back[10], 8.0f);  /* (1 + 3) · 2 */
    ck_assert_float_eq(back[11], 20.0f); /* (7 + 3) · 2 */
}
END_TEST

/* ---- 4. per-channel weights ------------------------------------------------------------------ */

START_TEST(per_channel_weights_get_one_scale_per_output_channel)
{
    /* Conv-like [3 channels][2]: {−1, 0.5}, {0, 2.54}, {0, 0} */
    const float w[6] = {-1.0f, 0.5f, 0.0f, 2.54f, 0.0f, 0.0f};
    qc_qparams p[3];
    qc_error err = {{0}};
    ck_assert_int_eq(qc_qparams_weights(w, 1, 3, 2, true, QC_SCHEME_SYMLOWP, 8, false, "w", p,
                                        &err),
                     QC_OK);
    assert_qparams(p[0], (float)(1.0 / 127.0), 0, -127, 127);      /* a = 1 */
    assert_qparams(p[1], (float)(2.54f / 127.0), 0, -127, 127);    /* a = 2.54 */
    assert_qparams(p[2], 1.0f, 0, -127, 127);                      /* all zero: fallback */

    ck_assert_int_eq(qc_qparams_weights(w, 1, 3, 2, true, QC_SCHEME_GEMMLOWP, 8, false, "w", p,
                                        &err),
                     QC_OK);
    /* {−1, 0.5}: s = 1.5/255, z = 1/s = 170 */
    assert_qparams(p[0], (float)(1.5 / 255.0), 170, 0, 255);
    assert_qparams(p[1], (float)(2.54f / 255.0), 0, 0, 255);
    assert_qparams(p[2], 1.0f, 0, 0, 255);

    /* per tensor: one scale from all of them, a = 2.54 */
    qc_qparams t;
    qc_qparams_weights(w, 1, 3, 2, false, QC_SCHEME_SYMLOWP, 8, false, "w", &t, &err);
    assert_qparams(t, (float)(2.54f / 127.0), 0, -127, 127);

    /* MatMul-like [K = 2][N = 2], channel = column: {1, −2} and {−4, 3} */
    const float m[4] = {1.0f, -4.0f, -2.0f, 3.0f};
    qc_qparams_weights(m, 2, 2, 1, true, QC_SCHEME_SYMLOWP, 8, false, "m", p, &err);
    assert_qparams(p[0], (float)(2.0 / 127.0), 0, -127, 127);
    assert_qparams(p[1], (float)(4.0 / 127.0), 0, -127, 127);

    /* quantizing with them: the largest weight of each channel maps to ±127 */
    int32_t q[4];
    qc_quantize_array(2, 2, 1, m, p, QC_ROUND_HALF_EVEN, q);
    ck_assert_int_eq(q[0], 64); /* 1 / fl(2/127) = 63.5 in single precision → 64 (even) */
    ck_assert_int_eq(q[1], -127);
    ck_assert_int_eq(q[2], -127);
    ck_assert_int_eq(q[3], 95); /* 3 / (4/127) = 95.25 → 95 */
}
END_TEST

/* ---- 5. degenerate tensors ------------------------------------------------------------------- */

START_TEST(constant_tensors_still_get_a_usable_range)
{
    /* min = max = 2: widened to [0, 2], s = 2/255, and 2 quantizes to 255 */
    qc_qparams p = act(2.0f, 2.0f, QC_SCHEME_GEMMLOWP, 8, false);
    assert_qparams(p, (float)(2.0 / 255.0), 0, 0, 255);
    ck_assert_int_eq(qc_quantize_value(2.0f, &p, QC_ROUND_HALF_EVEN), 255);
    /* min = max = −3: [−3, 0], z = 255 */
    p = act(-3.0f, -3.0f, QC_SCHEME_GEMMLOWP, 8, false);
    assert_qparams(p, (float)(3.0 / 255.0), 255, 0, 255);
    ck_assert_int_eq(qc_quantize_value(-3.0f, &p, QC_ROUND_HALF_EVEN), 0);
    /* SymLowP constant 5: unsigned s = 5/255; signed s = 5/127 */
    assert_qparams(act(5.0f, 5.0f, QC_SCHEME_SYMLOWP, 8, false), (float)(5.0 / 255.0), 0, 0, 255);
    assert_qparams(act(5.0f, 5.0f, QC_SCHEME_SYMLOWP, 8, true), (float)(5.0 / 127.0), 0, -128,
                   127);
    /* constant weights, one channel of {0.7, 0.7, 0.7} */
    const float w[3] = {0.7f, 0.7f, 0.7f};
    qc_qparams_weights(w, 1, 1, 3, false, QC_SCHEME_SYMLOWP, 8, false, "w", &p, NULL);
    assert_qparams(p, (float)(0.7f / 127.0), 0, -127, 127);
}
END_TEST

START_TEST(all_zero_and_vanishing_ranges_fall_back_to_scale_one)
{
    for (int s = 0; s < 2; s++)
        for (int sign = 0; sign < 2; sign++) {
            qc_qparams p = act(0.0f, 0.0f, (qc_scheme)s, 8, sign);
            ck_assert_float_eq(p.scale, 1.0f);
            ck_assert_int_eq(p.zero_point, 0);
            ck_assert_int_eq(qc_quantize_value(0.0f, &p, QC_ROUND_HALF_EVEN), 0);
            /* −0.0 is zero too */
            p = act(-0.0f, 0.0f, (qc_scheme)s, 8, sign);
            ck_assert_float_eq(p.scale, 1.0f);
        }
    /* 1e-37 / 255 ≈ 3.9e-40 is subnormal: not a usable scale */
    qc_qparams p = act(0.0f, 1e-37f, QC_SCHEME_GEMMLOWP, 8, false);
    assert_qparams(p, 1.0f, 0, 0, 255);
    p = act(-1e-38f, 1e-38f, QC_SCHEME_SYMLOWP, 8, false);
    assert_qparams(p, 1.0f, 0, -128, 127);
    /* 1e-30 / 255 is a normal float: kept */
    p = act(0.0f, 1e-30f, QC_SCHEME_GEMMLOWP, 8, false);
    ck_assert_double_eq_tol(p.scale, 1e-30 / 255.0, 1e-38);
    /* all-zero and empty weights */
    const float w[4] = {0, 0, 0, 0};
    qc_qparams q[2];
    ck_assert_int_eq(qc_qparams_weights(w, 1, 2, 2, true, QC_SCHEME_GEMMLOWP, 8, false, "w", q,
                                        NULL),
                     QC_OK);
    assert_qparams(q[0], 1.0f, 0, 0, 255);
    assert_qparams(q[1], 1.0f, 0, 0, 255);
    ck_assert_int_eq(qc_qparams_weights(w, 1, 2, 0, true, QC_SCHEME_SYMLOWP, 8, false, "w", q,
                                        NULL),
                     QC_OK);
    assert_qparams(q[1], 1.0f, 0, -127, 127);
}
END_TEST

START_TEST(nan_infinite_or_inverted_ranges_are_rejected_naming_the_tensor)
{
    const float bad[][2] = {
        {NAN, 1.0f}, {0.0f, NAN}, {-INFINITY, 1.0f}, {0.0f, INFINITY}, {INFINITY, -INFINITY},
        {2.0f, 1.0f},
    };
    for (int i = 0; i < 6; i++)
        for (int s = 0; s < 2; s++) {
            qc_qparams p = {7.0f, 7, 7, 7};
            qc_error err = {{0}};
            ck_assert_int_eq(qc_qparams_activation(bad[i][0], bad[i][1], (qc_scheme)s, 8, false,
                                                   "relu_3:0", &p, &err),
                             QC_ERR_INPUT);
            ck_assert_msg(strstr(err.msg, "'relu_3:0'") != NULL, "message: %s", err.msg);
            ck_assert_float_eq(p.scale, 7.0f); /* out untouched on error */
        }
    qc_error err = {{0}};
    qc_qparams p;
    qc_qparams_activation(2.0f, 1.0f, QC_SCHEME_GEMMLOWP, 8, false, "x", &p, &err);
    ck_assert_str_eq(err.msg, "tensor 'x': range min 2 is greater than max 1");
    qc_qparams_activation(NAN, 1.0f, QC_SCHEME_GEMMLOWP, 8, false, "x", &p, &err);
    ck_assert_str_eq(err.msg, "tensor 'x': range [nan, 1] is not finite");
}
END_TEST

START_TEST(nan_or_infinite_weights_are_rejected_naming_the_tensor_and_element)
{
    float w[6] = {1, 2, 3, 4, 5, 6};
    qc_qparams p[3];
    qc_error err = {{0}};
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++)
        for (int pc = 0; pc < 2; pc++)
            for (int s = 0; s < 2; s++) {
                w[4] = bad[i];
                ck_assert_int_eq(qc_qparams_weights(w, 1, 3, 2, pc, (qc_scheme)s, 8, false,
                                                    "conv2.weight", p, &err),
                                 QC_ERR_INPUT);
                ck_assert_msg(strstr(err.msg, "'conv2.weight'") != NULL, "message: %s", err.msg);
                ck_assert_msg(strstr(err.msg, "weight 4 (channel 2)") != NULL, "message: %s",
                              err.msg);
            }
    w[4] = NAN;
    qc_qparams_weights(w, 1, 3, 2, true, QC_SCHEME_SYMLOWP, 8, false, "c", p, &err);
    ck_assert_str_eq(err.msg, "tensor 'c': weight 4 (channel 2) is nan");
    /* bad layouts */
    ck_assert_int_eq(qc_qparams_weights(w, 1, -1, 2, false, QC_SCHEME_SYMLOWP, 8, false, "c", p,
                                        &err),
                     QC_ERR_INPUT);
    ck_assert_int_eq(qc_qparams_weights(w, 1, 0, 2, true, QC_SCHEME_SYMLOWP, 8, false, "c", p,
                                        &err),
                     QC_ERR_INPUT);
}
END_TEST

START_TEST(ranges_too_wide_for_a_finite_scale_are_rejected)
{
    qc_qparams p;
    qc_error err = {{0}};
    /* 8 bits: 2·FLT_MAX / 255 fits a float */
    ck_assert_int_eq(qc_qparams_activation(-FLT_MAX, FLT_MAX, QC_SCHEME_GEMMLOWP, 8, false, "x",
                                           &p, &err),
                     QC_OK);
    ck_assert(isfinite(p.scale));
    /* 2-bit GemmLowP weights with reduce_range have qmax − qmin = 1: 2·FLT_MAX overflows */
    const float w[2] = {-FLT_MAX, FLT_MAX};
    ck_assert_int_eq(qc_qparams_weights(w, 1, 1, 2, false, QC_SCHEME_GEMMLOWP, 2, true, "wide",
                                        &p, &err),
                     QC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "'wide'"));
    /* activations always span at least 3 steps: 2·FLT_MAX / 3 still fits */
    ck_assert_int_eq(qc_qparams_activation(-FLT_MAX, FLT_MAX, QC_SCHEME_GEMMLOWP, 2, false, "x",
                                           &p, &err),
                     QC_OK);
    ck_assert_double_eq_tol(p.scale, 2.0 * FLT_MAX / 3.0, 1e32);
}
END_TEST

/* ---- 6. biases ---------------------------------------------------------------------------- */

START_TEST(biases_are_int32_in_the_product_scale_rounded_half_even)
{
    /* s_b = 0.5 · 0.25 = 0.125 */
    ck_assert_int_eq(qc_bias_quantize(1.0f, 0.5f, 0.25f), 8);
    ck_assert_int_eq(qc_bias_quantize(-0.3f, 0.5f, 0.25f), -2);     /* −2.4 */
    ck_assert_int_eq(qc_bias_quantize(0.0625f, 0.5f, 0.25f), 0);    /* 0.5 → 0 */
    ck_assert_int_eq(qc_bias_quantize(0.1875f, 0.5f, 0.25f), 2);    /* 1.5 → 2 */
    ck_assert_int_eq(qc_bias_quantize(-0.3125f, 0.5f, 0.25f), -2);  /* −2.5 → −2 */
    ck_assert_int_eq(qc_bias_quantize(0.0f, 0.5f, 0.25f), 0);
    /* a non-power-of-two scale, s_b = fl(0.1f · 0.1f) = 0.0100000007:
     * 1000 / s_b = 99999.993 → 100000;
     * 200000 / s_b = 19999998.58 → 19999999, the division in double (a single-precision
     * quotient would be 19999998, its float neighbours being 2 apart) */
    ck_assert_int_eq(qc_bias_quantize(1000.0f, 0.1f, 0.1f), 100000);
    ck_assert_int_eq(qc_bias_quantize(200000.0f, 0.1f, 0.1f), 19999999);

    const qc_qparams b = qc_qparams_bias(2.0f, 0.25f);
    assert_qparams(b, 0.5f, 0, INT32_MIN, INT32_MAX);
    ck_assert_float_eq(qc_dequantize_value(qc_bias_quantize(3.0f, 2.0f, 0.25f), &b), 3.0f);
}
END_TEST

START_TEST(biases_saturate_to_int32)
{
    ck_assert_int_eq(qc_bias_quantize(1e30f, 0.5f, 0.25f), INT32_MAX);
    ck_assert_int_eq(qc_bias_quantize(-1e30f, 0.5f, 0.25f), INT32_MIN);
    /* 2^31 · 0.125 = 268435456 → 2^31: one past INT32_MAX */
    ck_assert_int_eq(qc_bias_quantize(268435456.0f, 0.5f, 0.25f), INT32_MAX);
    /* −2^31 is representable */
    ck_assert_int_eq(qc_bias_quantize(-268435456.0f, 0.5f, 0.25f), INT32_MIN);
    /* 2^30 · 0.125 fits */
    ck_assert_int_eq(qc_bias_quantize(134217728.0f, 0.5f, 0.25f), 1 << 30);
    ck_assert_int_eq(qc_bias_quantize(INFINITY, 0.5f, 0.25f), INT32_MAX);
    ck_assert_int_eq(qc_bias_quantize(-INFINITY, 0.5f, 0.25f), INT32_MIN);
    ck_assert_int_eq(qc_bias_quantize(NAN, 0.5f, 0.25f), 0);
    /* s_x · s_w underflows to 0: saturate by sign */
    ck_assert_int_eq(qc_bias_quantize(1.0f, 1e-30f, 1e-30f), INT32_MAX);
    ck_assert_int_eq(qc_bias_quantize(-1.0f, 1e-30f, 1e-30f), INT32_MIN);
}
END_TEST

START_TEST(per_channel_biases_use_each_channels_weight_scale)
{
    const qc_qparams w[2] = {{0.5f, 0, -127, 127}, {0.25f, 0, -127, 127}};
    const float b[2] = {3.0f, 3.0f};
    int32_t q[2];
    /* s_x = 2: s_b = 1 and 0.5 */
    qc_bias_quantize_array(2, b, 2.0f, w, true, q);
    ck_assert_int_eq(q[0], 3);
    ck_assert_int_eq(q[1], 6);
    /* per tensor: both use w[0], s_b = 1 */
    qc_bias_quantize_array(2, b, 2.0f, w, false, q);
    ck_assert_int_eq(q[0], 3);
    ck_assert_int_eq(q[1], 3);
}
END_TEST

/* ---- 7. requantization multipliers ------------------------------------------------------ */

/* the multiplier of m: in range, and within 2^-31 · m of it (eq. P17) */
static void assert_multiplier(double m)
{
    int32_t mult = 0, shift = 0;
    qc_error err = {{0}};
    ck_assert_msg(qc_quantize_multiplier(m, &mult, &shift, &err) == QC_OK, "%a: %s", m, err.msg);
    ck_assert_msg(mult >= (1 << 30), "m = %a: multiplier %d", m, mult);
    ck_assert_msg(shift >= 1 && shift <= 62, "m = %a: shift %d", m, shift);
    /* exact in double: mult has 31 bits, the scaling is by a power of two, and the two
     * values are within a factor of 2 of each other (Sterbenz) */
    const double rep = ldexp((double)mult, -shift);
    ck_assert_msg(fabs(rep - m) <= ldexp(m, -31), "m = %a: represented %a", m, rep);
    /* the multiplier is the nearest integer to m · 2^shift (after a carry, too) */
    const double exact = ldexp(m, shift);
    ck_assert_msg(fabs((double)mult - exact) <= 0.5, "m = %a: multiplier %d for %.3f", m, mult,
                  exact);
}

START_TEST(the_fixed_point_multiplier_matches_double_math_on_random_values)
{
    rng_seed(3);
    for (int i = 0; i < 20000; i++) {
        double m;
        if (i % 2 == 0)
            m = ldexp(1.0, -32) * pow(2.0, 32.0 * rng_unit()); /* log-uniform in [2^-32, 1) */
        else
            m = rng_unit(); /* uniform in (0, 1) */
        if (m < 0x1p-32 || m >= 1.0)
            continue;
        assert_multiplier(m);
    }
    /* and some above 1: M = s_x · s_w / s_y may exceed 1 */
    for (int i = 0; i < 2000; i++)
        assert_multiplier(1.0 + 1000.0 * rng_unit());
}
END_TEST

START_TEST(the_fixed_point_multiplier_handles_edge_values)
{
    int32_t mult, shift;
    qc_error err = {{0}};
    /* 0.5 = 2^30 · 2^-31 */
    ck_assert_int_eq(qc_quantize_multiplier(0.5, &mult, &shift, &err), QC_OK);
    ck_assert_int_eq(mult, 1 << 30);
    ck_assert_int_eq(shift, 31);
    /* 0.75 = 3 · 2^29 · 2^-31 = 1610612736 · 2^-31 */
    qc_quantize_multiplier(0.75, &mult, &shift, &err);
    ck_assert_int_eq(mult, 1610612736);
    ck_assert_int_eq(shift, 31);
    /* just below 1: f · 2^31 rounds to 2^31, carried: 2^30 · 2^-30 = 1 */
    qc_quantize_multiplier(nextafter(1.0, 0.0), &mult, &shift, &err);
    ck_assert_int_eq(mult, 1 << 30);
    ck_assert_int_eq(shift, 30);
    assert_multiplier(nextafter(1.0, 0.0));
    /* 1 and 1.5 · 2^29 (shift 1, the largest power range) */
    qc_quantize_multiplier(1.0, &mult, &shift, &err);
    ck_assert_int_eq(mult, 1 << 30);
    ck_assert_int_eq(shift, 30);
    qc_quantize_multiplier(1.5 * 0x1p29, &mult, &shift, &err);
    ck_assert_int_eq(mult, 1610612736);
    ck_assert_int_eq(shift, 1);
    /* powers of two 2^-k, k = 0..32: 2^30 · 2^-(30 + k) */
    for (int k = 0; k <= 32; k++) {
        ck_assert_int_eq(qc_quantize_multiplier(ldexp(1.0, -k), &mult, &shift, &err), QC_OK);
        ck_assert_int_eq(mult, 1 << 30);
        ck_assert_int_eq(shift, 30 + k);
    }
    /* a tie in f · 2^31: 0.5 + 2^-32 → 2^30 + 0.5 → 2^30 + 1 (away from zero, as TFLite) */
    qc_quantize_multiplier(0.5 + 0x1p-32, &mult, &shift, &err);
    ck_assert_int_eq(mult, (1 << 30) + 1);
    ck_assert_int_eq(shift, 31);
    /* tiny: the smallest accepted is 2^-32 (shift 62); below it every output would be z */
    assert_multiplier(0x1p-32);
    assert_multiplier(nextafter(0x1p-31, 0.0)); /* carries to 2^30 · 2^-61 */
    ck_assert_int_eq(qc_quantize_multiplier(0.75 * 0x1p-32, &mult, &shift, &err), QC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "too small"));
    ck_assert_int_eq(qc_quantize_multiplier(1e-300, &mult, &shift, &err), QC_ERR_INPUT);
    ck_assert_int_eq(qc_quantize_multiplier(5e-324, &mult, &shift, &err), QC_ERR_INPUT);
    /* large: 2^30 and anything rounding up to it are rejected */
    ck_assert_int_eq(qc_quantize_multiplier(0x1p30, &mult, &shift, &err), QC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "too large"));
    ck_assert_int_eq(qc_quantize_multiplier(nextafter(0x1p30, 0.0), &mult, &shift, &err),
                     QC_ERR_INPUT);
    assert_multiplier(0x1p30 * (1.0 - 0x1p-30)); /* rounds to 2^31 − 2: still fine */
    /* not positive numbers */
    const double bad[] = {0.0, -0.0, -0.5, NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(qc_quantize_multiplier(bad[i], &mult, &shift, &err), QC_ERR_INPUT);
}
END_TEST

/* ---- 8. names ----------------------------------------------------------------------------- */

START_TEST(scheme_and_round_mode_names_round_trip)
{
    for (int s = 0; s < 2; s++) {
        qc_scheme back = (qc_scheme)-1;
        ck_assert(qc_scheme_parse(qc_scheme_name((qc_scheme)s), &back));
        ck_assert_int_eq(back, s);
    }
    for (int r = 0; r < 5; r++) {
        qc_round_mode back = (qc_round_mode)-1;
        ck_assert(qc_round_mode_parse(qc_round_mode_name((qc_round_mode)r), &back));
        ck_assert_int_eq(back, r);
    }
    ck_assert_str_eq(qc_scheme_name(QC_SCHEME_GEMMLOWP), "gemmlowp");
    ck_assert_str_eq(qc_round_mode_name(QC_ROUND_HALF_EVEN), "half-even");
    qc_scheme s;
    qc_round_mode r;
    ck_assert(!qc_scheme_parse("GemmLowP ", &s));
    ck_assert(!qc_round_mode_parse("nearest", &r));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("calib");
    TCase *t = tcase_create("gemmlowp");
    tcase_add_test(t, gemmlowp_nudges_minus_one_to_three_onto_zero_point_64);
    tcase_add_test(t, gemmlowp_widens_one_sided_ranges_to_contain_zero);
    tcase_add_test(t, gemmlowp_with_the_signed_hint_nudges_within_int8);
    tcase_add_test(t, real_zero_quantizes_exactly_to_the_zero_point_for_random_ranges);
    suite_add_tcase(s, t);

    t = tcase_create("symlowp and bits");
    tcase_add_test(t, symlowp_activations_are_unsigned_from_zero_after_relu_and_signed_otherwise);
    tcase_add_test(t, symlowp_weights_use_the_narrow_signed_range);
    tcase_add_test(t, every_bit_width_from_2_to_8_has_its_integer_range_and_scale);
    tcase_add_test(t, bit_widths_outside_2_to_8_are_rejected);
    tcase_add_test(t, reduce_range_restricts_weights_as_onnx_runtime_does);
    suite_add_tcase(s, t);

    t = tcase_create("rounding");
    tcase_add_test(t, each_round_mode_breaks_ties_as_documented);
    tcase_add_test(t, half_even_rounding_agrees_with_rintf_on_random_floats);
    tcase_add_test(t, quantization_saturates_at_qmin_and_qmax_and_maps_nan_to_the_zero_point);
    tcase_add_test(t, dequantize_and_fake_quantize_follow_the_affine_map);
    tcase_add_test(t, array_quantization_uses_each_channels_parameters);
    suite_add_tcase(s, t);

    t = tcase_create("weights");
    tcase_add_test(t, per_channel_weights_get_one_scale_per_output_channel);
    suite_add_tcase(s, t);

    t = tcase_create("degenerate");
    tcase_add_test(t, constant_tensors_still_get_a_usable_range);
    tcase_add_test(t, all_zero_and_vanishing_ranges_fall_back_to_scale_one);
    tcase_add_test(t, nan_infinite_or_inverted_ranges_are_rejected_naming_the_tensor);
    tcase_add_test(t, nan_or_infinite_weights_are_rejected_naming_the_tensor_and_element);
    tcase_add_test(t, ranges_too_wide_for_a_finite_scale_are_rejected);
    suite_add_tcase(s, t);

    t = tcase_create("bias");
    tcase_add_test(t, biases_are_int32_in_the_product_scale_rounded_half_even);
    tcase_add_test(t, biases_saturate_to_int32);
    tcase_add_test(t, per_channel_biases_use_each_channels_weight_scale);
    suite_add_tcase(s, t);

    t = tcase_create("multiplier");
    tcase_add_test(t, the_fixed_point_multiplier_matches_double_math_on_random_values);
    tcase_add_test(t, the_fixed_point_multiplier_handles_edge_values);
    suite_add_tcase(s, t);

    t = tcase_create("names");
    tcase_add_test(t, scheme_and_round_mode_names_round_trip);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return qc_check_run("check_calib", suite());
}
