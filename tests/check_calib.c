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
        for (int r = 0; r < QC_ROUND_COUNT; r++)
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
    ck_assert_int_eq(qc_qparams_weights(w, 1, 1, 4, QC_GRANULARITY_TENSOR, QC_SCHEME_SYMLOWP, 8, false, "w", &p,
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

START_TEST(mixed_quantizes_weights_as_symlowp_and_activations_as_gemmlowp)
{
    /* activations: [−1, 3] on [0, 255] as GemmLowP, s = 4/255, z = 63.75 → 64 */
    assert_qparams(act(-1.0f, 3.0f, QC_SCHEME_MIXED, 8, false), (float)(4.0 / 255.0), 64, 0, 255);
    /* after a ReLU, [0, 5.1]: s = 5.1/255, z = 0, unsigned */
    assert_qparams(act(0.0f, 5.1f, QC_SCHEME_MIXED, 8, false), (float)(5.1f / 255.0), 0, 0, 255);
    /* weights: a = 1.27 on the narrow int8 range [−127, 127], s = 1.27/127, z = 0; per
     * channel, each channel its own a: channel 1 has a = 0.635, s = 0.005 */
    const float w[6] = {-1.0f, 0.25f, 1.27f, -0.635f, 0.5f, 0.1f};
    qc_qparams p[2], t;
    qc_error err = {{0}};
    ck_assert_int_eq(qc_qparams_weights(w, 1, 1, 6, QC_GRANULARITY_TENSOR, QC_SCHEME_MIXED, 8, false, "w", &t, &err),
                     QC_OK);
    assert_qparams(t, (float)(1.27f / 127.0), 0, -127, 127);
    ck_assert_int_eq(qc_qparams_weights(w, 1, 2, 3, QC_GRANULARITY_CHANNEL, QC_SCHEME_MIXED, 8, false, "w", p, &err),
                     QC_OK);
    assert_qparams(p[0], (float)(1.27f / 127.0), 0, -127, 127);
    assert_qparams(p[1], (float)(0.635f / 127.0), 0, -127, 127);
    /* reduce_range as SymLowP's: [−64, 64] */
    ck_assert_int_eq(qc_qparams_weights(w, 1, 1, 6, QC_GRANULARITY_TENSOR, QC_SCHEME_MIXED, 8, true, "w", &t, &err),
                     QC_OK);
    assert_qparams(t, (float)(1.27f / 64.0), 0, -64, 64);
    ck_assert_int_eq(qc_scheme_for_weights(QC_SCHEME_MIXED), QC_SCHEME_SYMLOWP);
    ck_assert_int_eq(qc_scheme_for_activations(QC_SCHEME_MIXED), QC_SCHEME_GEMMLOWP);
    ck_assert_int_eq(qc_scheme_for_weights(QC_SCHEME_GEMMLOWP), QC_SCHEME_GEMMLOWP);
    ck_assert_int_eq(qc_scheme_for_activations(QC_SCHEME_SYMLOWP), QC_SCHEME_SYMLOWP);
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
        ck_assert_int_eq(qc_qparams_weights(w, 1, 1, 2, QC_GRANULARITY_TENSOR, QC_SCHEME_SYMLOWP, b, false, "w",
                                            &p, NULL),
                         QC_OK);
        assert_qparams(p, (float)(4.0 / n), 0, -n, n);
        ck_assert_int_eq(qc_quantize_value(-4.0f, &p, QC_ROUND_HALF_EVEN), -n);
    }
    /* 2 bits, hand-checked once more: weights {−1, 0, 1} · s with s = 4, so 2.0 / 4 = 0.5 → 0 */
    const float w2[2] = {-4.0f, 2.0f};
    qc_qparams p2;
    qc_qparams_weights(w2, 1, 1, 2, QC_GRANULARITY_TENSOR, QC_SCHEME_SYMLOWP, 2, false, "w", &p2, NULL);
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
        ck_assert_int_eq(qc_qparams_weights(&w, 1, 1, 1, QC_GRANULARITY_TENSOR, QC_SCHEME_SYMLOWP, bad[i], false,
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
    qc_qparams_weights(w, 1, 1, 3, QC_GRANULARITY_TENSOR, QC_SCHEME_SYMLOWP, 8, true, "w", &p, NULL);
    assert_qparams(p, (float)(1.28f / 64.0), 0, -64, 64);
    ck_assert_int_eq(qc_quantize_value(-1.28f, &p, QC_ROUND_HALF_EVEN), -64);
    ck_assert_int_eq(qc_quantize_value(0.64f, &p, QC_ROUND_HALF_EVEN), 32);
    /* GemmLowP 8 bits: [0, 127], range [−1.28, 0.64]: s = 1.92/127, z = 1.28/s = 84.67 → 85 */
    qc_qparams_weights(w, 1, 1, 3, QC_GRANULARITY_TENSOR, QC_SCHEME_GEMMLOWP, 8, true, "w", &p, NULL);
    ck_assert_int_eq(p.qmin, 0);
    ck_assert_int_eq(p.qmax, 127);
    ck_assert_double_eq_tol(p.scale, 1.92 / 127.0, 1e-8);
    ck_assert_int_eq(p.zero_point, 85);
    /* 4 bits: SymLowP [−4, 4], GemmLowP [0, 7] */
    qc_qparams_weights(w, 1, 1, 3, QC_GRANULARITY_TENSOR, QC_SCHEME_SYMLOWP, 4, true, "w", &p, NULL);
    assert_qparams(p, (float)(1.28f / 4.0), 0, -4, 4);
    qc_qparams_weights(w, 1, 1, 3, QC_GRANULARITY_TENSOR, QC_SCHEME_GEMMLOWP, 4, true, "w", &p, NULL);
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

/* tests/data/rounding/round-table.txt (tools/make-round-table.py): x and its rounding in each
 * mode, computed by Python's decimal in exact arithmetic; ties, their float neighbours, ±0,
 * large and non-finite values. Each also goes through qc_quantize_value with scale 1. */
START_TEST(every_round_mode_agrees_with_the_decimal_module_table)
{
    FILE *f = fopen("tests/data/rounding/round-table.txt", "r");
    ck_assert_msg(f != NULL, "cannot read tests/data/rounding/round-table.txt");
    const qc_qparams unit = {1.0f, 3, -1000000, 1000000};
    char line[1024];
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        char *p = line, *end;
        const float x = strtof(p, &end);
        ck_assert_msg(end != p, "bad row: %s", line);
        for (int r = 0; r < QC_ROUND_COUNT; r++) {
            p = end;
            const float want = strtof(p, &end);
            ck_assert_msg(end != p, "bad row: %s", line);
            const qc_round_mode m = (qc_round_mode)r;
            const float got = qc_round(x, m);
            ck_assert_msg(got == want || (isnan(got) && isnan(want)), "round(%a) %s: %a, decimal says %a",
                          (double)x, qc_round_mode_name(m), (double)got, (double)want);
            const double code = isnan(want) ? unit.zero_point : fmin(fmax((double)want + unit.zero_point,
                                                                          unit.qmin), unit.qmax);
            ck_assert_int_eq(qc_quantize_value(x, &unit, m), (int32_t)code);
        }
        rows++;
    }
    fclose(f);
    ck_assert_int_ge(rows, 400);
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
    for (int r = 0; r < QC_ROUND_COUNT; r++) {
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
    ck_assert_int_eq(qc_qparams_weights(w, 1, 3, 2, QC_GRANULARITY_CHANNEL, QC_SCHEME_SYMLOWP, 8, false, "w", p,
                                        &err),
                     QC_OK);
    assert_qparams(p[0], (float)(1.0 / 127.0), 0, -127, 127);      /* a = 1 */
    assert_qparams(p[1], (float)(2.54f / 127.0), 0, -127, 127);    /* a = 2.54 */
    assert_qparams(p[2], 1.0f, 0, -127, 127);                      /* all zero: fallback */

    ck_assert_int_eq(qc_qparams_weights(w, 1, 3, 2, QC_GRANULARITY_CHANNEL, QC_SCHEME_GEMMLOWP, 8, false, "w", p,
                                        &err),
                     QC_OK);
    /* {−1, 0.5}: s = 1.5/255, z = 1/s = 170 */
    assert_qparams(p[0], (float)(1.5 / 255.0), 170, 0, 255);
    assert_qparams(p[1], (float)(2.54f / 255.0), 0, 0, 255);
    assert_qparams(p[2], 1.0f, 0, 0, 255);

    /* per tensor: one scale from all of them, a = 2.54 */
    qc_qparams t;
    qc_qparams_weights(w, 1, 3, 2, QC_GRANULARITY_TENSOR, QC_SCHEME_SYMLOWP, 8, false, "w", &t, &err);
    assert_qparams(t, (float)(2.54f / 127.0), 0, -127, 127);

    /* MatMul-like [K = 2][N = 2], channel = column: {1, −2} and {−4, 3} */
    const float m[4] = {1.0f, -4.0f, -2.0f, 3.0f};
    qc_qparams_weights(m, 2, 2, 1, QC_GRANULARITY_CHANNEL, QC_SCHEME_SYMLOWP, 8, false, "m", p, &err);
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
    qc_qparams_weights(w, 1, 1, 3, QC_GRANULARITY_TENSOR, QC_SCHEME_SYMLOWP, 8, false, "w", &p, NULL);
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
    ck_assert_int_eq(qc_qparams_weights(w, 1, 2, 2, QC_GRANULARITY_CHANNEL, QC_SCHEME_GEMMLOWP, 8, false, "w", q,
                                        NULL),
                     QC_OK);
    assert_qparams(q[0], 1.0f, 0, 0, 255);
    assert_qparams(q[1], 1.0f, 0, 0, 255);
    ck_assert_int_eq(qc_qparams_weights(w, 1, 2, 0, QC_GRANULARITY_CHANNEL, QC_SCHEME_SYMLOWP, 8, false, "w", q,
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
                ck_assert_int_eq(qc_qparams_weights(w, 1, 3, 2, (qc_granularity)pc, (qc_scheme)s, 8, false,
                                                    "conv2.weight", p, &err),
                                 QC_ERR_INPUT);
                ck_assert_msg(strstr(err.msg, "'conv2.weight'") != NULL, "message: %s", err.msg);
                ck_assert_msg(strstr(err.msg, "weight 4 (channel 2)") != NULL, "message: %s",
                              err.msg);
            }
    w[4] = NAN;
    qc_qparams_weights(w, 1, 3, 2, QC_GRANULARITY_CHANNEL, QC_SCHEME_SYMLOWP, 8, false, "c", p, &err);
    ck_assert_str_eq(err.msg, "tensor 'c': weight 4 (channel 2) is nan");
    /* bad layouts */
    ck_assert_int_eq(qc_qparams_weights(w, 1, -1, 2, QC_GRANULARITY_TENSOR, QC_SCHEME_SYMLOWP, 8, false, "c", p,
                                        &err),
                     QC_ERR_INPUT);
    ck_assert_int_eq(qc_qparams_weights(w, 1, 0, 2, QC_GRANULARITY_CHANNEL, QC_SCHEME_SYMLOWP, 8, false, "c", p,
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
    ck_assert_int_eq(qc_qparams_weights(w, 1, 1, 2, QC_GRANULARITY_TENSOR, QC_SCHEME_GEMMLOWP, 2, true, "wide",
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
    qc_bias_quantize_array(2, b, 2.0f, w, QC_GRANULARITY_CHANNEL, q);
    ck_assert_int_eq(q[0], 3);
    ck_assert_int_eq(q[1], 6);
    /* per tensor: both use w[0], s_b = 1 */
    qc_bias_quantize_array(2, b, 2.0f, w, QC_GRANULARITY_TENSOR, q);
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
    for (int s = 0; s < QC_SCHEME_COUNT; s++) {
        qc_scheme back = (qc_scheme)-1;
        ck_assert(qc_scheme_parse(qc_scheme_name((qc_scheme)s), &back));
        ck_assert_int_eq(back, s);
    }
    for (int r = 0; r < QC_ROUND_COUNT; r++) {
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
    /* nGraph's names, in any case, are aliases */
    ck_assert(qc_round_mode_parse("ROUND_NEAREST_UPWARD", &r) && r == QC_ROUND_HALF_UP);
    ck_assert(qc_round_mode_parse("round_toward_infinity", &r) && r == QC_ROUND_AWAY_FROM_ZERO);
    ck_assert(qc_round_mode_parse("ROUND_NEAREST_TOWARD_ZERO", &r) && r == QC_ROUND_HALF_TOWARD_ZERO);
    ck_assert_str_eq(qc_round_mode_ngraph_name(QC_ROUND_HALF_DOWN), "ROUND_NEAREST_DOWNWARD");
    ck_assert(!qc_round_mode_parse("ROUND_NEAREST", &r));
}
END_TEST

START_TEST(granularity_names_round_trip)
{
    static const char *const names[] = {"tensor", "channel", "compensated"};
    for (int g = 0; g < 3; g++) {
        qc_granularity back = (qc_granularity)-1;
        ck_assert_str_eq(qc_granularity_name((qc_granularity)g), names[g]);
        ck_assert(qc_granularity_parse(names[g], &back));
        ck_assert_int_eq(back, g);
    }
    qc_granularity g;
    ck_assert(!qc_granularity_parse("per-channel", &g));
    ck_assert(!qc_granularity_parse("Tensor", &g));
    ck_assert_str_eq(qc_granularity_name((qc_granularity)3), "unknown");
}
END_TEST

/* ---- error metrics (calib/metrics.c): values computed by hand ----------------------------- */

/* Hand values: r = (1, 2, 3, 4), q = (1, 2, 3, 5): Σr² = 30, Σ(r−q)² = 1, Σrq = 34, Σq² = 39. */
#define METRIC_EPS 1e-12

START_TEST(sqnr_cosine_and_max_error_match_hand_computed_values)
{
    const float r[] = {1, 2, 3, 4}, q[] = {1, 2, 3, 5};
    qc_error_acc a;
    qc_error_acc_init(&a);
    qc_error_acc_add(&a, r, q, 4);
    qc_error_metrics m;
    qc_error_acc_finish(&a, &m);
    ck_assert_int_eq(m.count, 4);
    ck_assert_double_eq_tol(m.sqnr_db, 14.771212547196624, METRIC_EPS); /* 10·log10(30) */
    ck_assert_double_eq_tol(m.cosine, 0.9939990885479664, METRIC_EPS);  /* 34/√(30·39) */
    ck_assert_double_eq(m.max_abs_err, 1.0);
    ck_assert_double_eq(m.mse, 0.25);
}
END_TEST

START_TEST(samples_accumulate_into_the_same_sums_as_one_tensor)
{
    const float r[] = {1, 2, 3, 4}, q[] = {1, 2, 3, 5};
    qc_error_acc a, b, c;
    qc_error_acc_init(&a);
    qc_error_acc_add(&a, r, q, 2);
    qc_error_acc_add(&a, r + 2, q + 2, 2);
    qc_error_acc_init(&b);
    qc_error_acc_add(&b, r, q, 2);
    qc_error_acc_init(&c);
    qc_error_acc_add(&c, r + 2, q + 2, 2);
    qc_error_acc_merge(&b, &c);
    qc_error_metrics ma, mb;
    qc_error_acc_finish(&a, &ma);
    qc_error_acc_finish(&b, &mb);
    ck_assert_int_eq(a.samples, 2);
    ck_assert_int_eq(b.samples, 2);
    ck_assert_double_eq_tol(ma.sqnr_db, 14.771212547196624, METRIC_EPS);
    ck_assert(memcmp(&ma, &mb, sizeof ma) == 0);
    ck_assert_double_eq(ma.max_abs_err, 1.0);
}
END_TEST

START_TEST(equal_zero_and_pure_noise_tensors_have_defined_metrics)
{
    const float z[] = {0, 0, 0}, x[] = {1, -2, 0.5f};
    qc_error_metrics m;
    qc_error_acc a;
    qc_error_acc_init(&a);
    qc_error_acc_add(&a, x, x, 3); /* equal */
    qc_error_acc_finish(&a, &m);
    ck_assert(isinf(m.sqnr_db) && m.sqnr_db > 0);
    ck_assert_double_eq(m.cosine, 1.0);
    ck_assert_double_eq(m.max_abs_err, 0.0);

    qc_error_acc_init(&a);
    qc_error_acc_add(&a, z, z, 3); /* all zero: equal too */
    qc_error_acc_finish(&a, &m);
    ck_assert(isinf(m.sqnr_db) && m.sqnr_db > 0);
    ck_assert_double_eq(m.cosine, 1.0);

    qc_error_acc_init(&a);
    qc_error_acc_add(&a, z, x, 3); /* the reference is zero: only noise */
    qc_error_acc_finish(&a, &m);
    ck_assert(isinf(m.sqnr_db) && m.sqnr_db < 0);
    ck_assert_double_eq(m.cosine, 0.0);
    ck_assert_double_eq(m.max_abs_err, 2.0);

    qc_error_acc_init(&a);
    qc_error_acc_finish(&a, &m); /* nothing added */
    ck_assert_int_eq(m.count, 0);
    ck_assert(isinf(m.sqnr_db) && m.sqnr_db > 0);
    ck_assert_double_eq(m.mse, 0.0);

    const float neg[] = {-1, 2, -0.5f};
    qc_error_acc_init(&a);
    qc_error_acc_add(&a, x, neg, 3); /* q = −r: cosine −1, Σ(r−q)² = 4Σr² */
    qc_error_acc_finish(&a, &m);
    ck_assert_double_eq_tol(m.cosine, -1.0, METRIC_EPS);
    ck_assert_double_eq_tol(m.sqnr_db, -10.0 * log10(4.0), METRIC_EPS);
}
END_TEST

START_TEST(nonfinite_pairs_are_counted_apart)
{
    const float r[] = {1, NAN, 3, 4}, q[] = {1, 2, INFINITY, 4};
    qc_error_acc a;
    qc_error_acc_init(&a);
    qc_error_acc_add(&a, r, q, 4);
    qc_error_metrics m;
    qc_error_acc_finish(&a, &m);
    ck_assert_int_eq(m.count, 2);
    ck_assert_int_eq(m.nonfinite, 2);
    ck_assert(isinf(m.sqnr_db) && m.sqnr_db > 0);
}
END_TEST

/* scale 0.5, zero point 0, codes [−4, 3]: x/s = −6 (clipped), −4.2, −2, 0, 0.48, 0.5 (a tie:
 * half-even 0), 0.52, 2.8, 3.2 (→ 3, not clipped: 3.2 rounds to 3), 10 (clipped) */
START_TEST(code_counts_and_clipping_match_hand_quantization)
{
    const qc_qparams p = {.scale = 0.5f, .zero_point = 0, .qmin = -4, .qmax = 3};
    const float x[] = {-3.0f, -2.1f, -1.0f, 0.0f, 0.24f, 0.25f, 0.26f, 1.4f, 1.6f, 5.0f};
    qc_code_hist h;
    ck_assert_int_eq(qc_code_hist_init(&h, -4, 3, "t", NULL), QC_OK);
    qc_code_hist_add(&h, 1, 1, 10, x, &p, QC_ROUND_HALF_EVEN);
    const int64_t expect[8] = {2, 0, 1, 0, 3, 1, 0, 3}; /* codes −4 … 3 */
    for (int k = 0; k < 8; k++)
        ck_assert_msg(h.codes[k] == expect[k], "code %d: %lld, expected %lld", k - 4,
                      (long long)h.codes[k], (long long)expect[k]);
    ck_assert_int_eq(h.count, 10);
    ck_assert_int_eq(h.clipped_low, 1);
    ck_assert_int_eq(h.clipped_high, 1);
    ck_assert_double_eq(qc_code_hist_clipped(&h), 0.2);
    ck_assert_int_eq(qc_code_hist_distinct(&h), 5);
    ck_assert_double_eq(qc_code_hist_used(&h), 5.0 / 8.0);

    /* the same values rounded half away: 0.25 / 0.5 = 0.5 goes to code 1 */
    qc_code_hist h2;
    ck_assert_int_eq(qc_code_hist_init(&h2, -4, 3, "t", NULL), QC_OK);
    qc_code_hist_add(&h2, 1, 1, 10, x, &p, QC_ROUND_HALF_AWAY);
    ck_assert_int_eq(h2.codes[4], 2);
    ck_assert_int_eq(h2.codes[5], 2);
    ck_assert_int_eq(qc_code_hist_merge(&h, &h2, NULL), QC_OK);
    ck_assert_int_eq(h.count, 20);
    ck_assert_int_eq(h.clipped_low + h.clipped_high, 4);
    qc_code_hist_free(&h);
    qc_code_hist_free(&h2);
}
END_TEST

START_TEST(code_counts_use_each_channels_parameters)
{
    /* [outer 2][channels 2][inner 1]: channel 0 scale 1, channel 1 scale 0.25 zero point 2 */
    const qc_qparams p[2] = {{.scale = 1.0f, .zero_point = 0, .qmin = 0, .qmax = 15},
                             {.scale = 0.25f, .zero_point = 2, .qmin = 0, .qmax = 15}};
    const float x[] = {3.0f, 1.0f, 20.0f, -1.0f}; /* codes 3, 6; 15 (clipped), 0 (clipped) */
    qc_code_hist h;
    ck_assert_int_eq(qc_code_hist_init(&h, 0, 15, "t", NULL), QC_OK);
    qc_code_hist_add(&h, 2, 2, 1, x, p, QC_ROUND_HALF_EVEN);
    ck_assert_int_eq(h.codes[3], 1);
    ck_assert_int_eq(h.codes[6], 1);
    ck_assert_int_eq(h.codes[15], 1);
    ck_assert_int_eq(h.codes[0], 1);
    ck_assert_int_eq(h.clipped_high, 1);
    ck_assert_int_eq(h.clipped_low, 1);
    qc_code_hist_free(&h);

    qc_error err;
    ck_assert_int_eq(qc_code_hist_init(&h, INT32_MIN, INT32_MAX, "conv1.bias", &err),
                     QC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "'conv1.bias'"));
    ck_assert_int_eq(qc_code_hist_init(&h, 3, 2, "t", &err), QC_ERR_INPUT);
}
END_TEST

START_TEST(kl_divergence_of_softmax_matches_hand_computed_values)
{
    /* softmax(0, ln 3) = (1/4, 3/4), softmax(0, 0) = (1/2, 1/2):
     * KL = 1/4·ln(1/2) + 3/4·ln(3/2) = 0.13081203594113697 */
    const float p[] = {0.0f, (float)log(3.0)};
    const float q[] = {0.0f, 0.0f}, q5[] = {5.0f, 5.0f};
    const float big[] = {1000.0f, 1000.0f + (float)log(3.0)};
    const double hand = 0.13081203594113697;
    const double tol = 1e-7; /* ln 3 rounded to a float moves the value by ~1e-8 */
    ck_assert_double_eq_tol(qc_kl_softmax(p, q, 2), hand, tol);
    ck_assert_double_eq_tol(qc_kl_softmax(p, q5, 2), hand, tol); /* shift invariant */
    ck_assert_double_eq_tol(qc_kl_softmax(big, q, 2), hand, 1e-4); /* no overflow */
    ck_assert_double_eq(qc_kl_softmax(p, p, 2), 0.0);
    ck_assert_double_eq(qc_kl_softmax(p, q, 0), 0.0);
    const float bad[] = {0.0f, NAN};
    ck_assert(isnan(qc_kl_softmax(p, bad, 2)));
}
END_TEST

START_TEST(kl_divergence_of_probabilities_matches_hand_computed_values)
{
    /* (1/4, 3/4) against (1/2, 1/2): the same 0.1308… as softmax(0, ln 3) against softmax(0, 0) */
    const float p[] = {0.25f, 0.75f}, q[] = {0.5f, 0.5f};
    const double hand = 0.13081203594113697;
    ck_assert_double_eq_tol(qc_kl_probabilities(p, q, 2), hand, 1e-7);
    ck_assert_double_eq(qc_kl_probabilities(p, p, 2), 0.0);
    ck_assert_double_eq(qc_kl_probabilities(p, q, 0), 0.0);
    /* a class quantized to 0: floored at 1e-8, renormalised; p·ln(p/q) by hand */
    const float z[] = {0.0f, 1.0f};
    const double q0 = 1e-8 / (1.0 + 1e-8), q1 = 1.0 / (1.0 + 1e-8);
    ck_assert_double_eq_tol(qc_kl_probabilities(p, z, 2), 0.25 * log(0.25 / q0) + 0.75 * log(0.75 / q1), 1e-6);
    const float neg[] = {-0.5f, 1.5f}, bad[] = {0.5f, NAN};
    ck_assert(isnan(qc_kl_probabilities(p, neg, 2)));
    ck_assert(isnan(qc_kl_probabilities(bad, q, 2)));
}
END_TEST

static TCase *metrics_tcase(void)
{
    TCase *t = tcase_create("error metrics");
    tcase_add_test(t, sqnr_cosine_and_max_error_match_hand_computed_values);
    tcase_add_test(t, samples_accumulate_into_the_same_sums_as_one_tensor);
    tcase_add_test(t, equal_zero_and_pure_noise_tensors_have_defined_metrics);
    tcase_add_test(t, nonfinite_pairs_are_counted_apart);
    tcase_add_test(t, code_counts_and_clipping_match_hand_quantization);
    tcase_add_test(t, code_counts_use_each_channels_parameters);
    tcase_add_test(t, kl_divergence_of_softmax_matches_hand_computed_values);
    tcase_add_test(t, kl_divergence_of_probabilities_matches_hand_computed_values);
    return t;
}

/* ---- quantizer (calib/quantize.c): small graphs built in the IR ------------------------------ */

/* A float tensor named name, constant when data is given (copied). */
static int qz_tensor(qc_graph *g, const char *name, int rank, const int64_t *dims, const float *data)
{
    int t = qc_graph_tensor(g, name);
    ck_assert_int_ge(t, 0);
    qc_value *v = &g->tensors[t].value;
    v->dtype = QC_FLOAT;
    v->rank = rank;
    for (int d = 0; d < rank; d++)
        v->dims[d] = dims[d];
    if (data) {
        size_t bytes = qc_value_bytes(v);
        v->data = malloc(bytes);
        ck_assert_ptr_nonnull(v->data);
        memcpy(v->data, data, bytes);
        g->tensors[t].is_const = true;
    }
    return t;
}

/* Node op reading the tensors named in `in` (NULL-terminated) and writing `out`. */
static qc_node *qz_node(qc_graph *g, const char *name, const char *op, const char *const *in, const char *out)
{
    int ni = qc_graph_add_node(g, name, op, "");
    ck_assert_int_ge(ni, 0);
    qc_node *n = &g->nodes[ni];
    int k = 0;
    while (in[k])
        k++;
    n->inputs = malloc((size_t)k * sizeof *n->inputs);
    n->outputs = malloc(sizeof *n->outputs);
    ck_assert(n->inputs && n->outputs);
    for (int j = 0; j < k; j++)
        n->inputs[j] = qc_graph_tensor(g, in[j]);
    n->n_inputs = k;
    n->outputs[0] = qc_graph_tensor(g, out);
    n->n_outputs = 1;
    return n;
}

static void qz_attr_ints(qc_node *n, const char *name, int count, const int64_t *v)
{
    n->attrs = realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *n->attrs);
    ck_assert_ptr_nonnull(n->attrs);
    qc_attr *a = &n->attrs[n->n_attrs++];
    memset(a, 0, sizeof *a);
    a->name = strdup(name);
    a->type = count ? QC_ATTR_INTS : QC_ATTR_INT;
    if (count) {
        a->n = count;
        a->ints = malloc((size_t)count * sizeof *a->ints);
        memcpy(a->ints, v, (size_t)count * sizeof *v);
    } else {
        a->i = v[0];
    }
}

static void qz_io(qc_graph *g, const char *in, const char *out)
{
    g->inputs = malloc(sizeof *g->inputs);
    g->outputs = malloc(sizeof *g->outputs);
    g->inputs[0] = qc_graph_find_tensor(g, in);
    g->outputs[0] = qc_graph_find_tensor(g, out);
    g->n_inputs = g->n_outputs = 1;
    g->tensors[g->inputs[0]].is_input = true;
    g->tensors[g->outputs[0]].is_output = true;
}

static void qz_fill(float *x, int n, float lo, float hi)
{
    for (int i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)rng_unit();
}

/* Graph A: x[1,2,4,4] → Conv(3×2×3×3, pad 1, bias) → Relu → MaxPool 2×2 → Flatten →
 * Gemm(transB, 4×12, bias) → y. */
static qc_graph *qz_graph_a(void)
{
    rng_seed(11);
    qc_graph *g = qc_graph_create("a.onnx");
    g->opset = 13;
    float w[54], b[3], w2[48], b2[4];
    qz_fill(w, 54, -0.7f, 0.5f);
    qz_fill(b, 3, -0.2f, 0.3f);
    qz_fill(w2, 48, -0.4f, 0.6f);
    qz_fill(b2, 4, -0.1f, 0.1f);
    qz_tensor(g, "x", 4, (int64_t[]){1, 2, 4, 4}, NULL);
    qz_tensor(g, "w", 4, (int64_t[]){3, 2, 3, 3}, w);
    qz_tensor(g, "b", 1, (int64_t[]){3}, b);
    qz_tensor(g, "w2", 2, (int64_t[]){4, 12}, w2);
    qz_tensor(g, "b2", 1, (int64_t[]){4}, b2);
    qc_node *c = qz_node(g, "conv", "Conv", (const char *[]){"x", "w", "b", NULL}, "c");
    qz_attr_ints(c, "pads", 4, (int64_t[]){1, 1, 1, 1});
    qz_node(g, "relu", "Relu", (const char *[]){"c", NULL}, "r");
    qc_node *p = qz_node(g, "pool", "MaxPool", (const char *[]){"r", NULL}, "p");
    qz_attr_ints(p, "kernel_shape", 2, (int64_t[]){2, 2});
    qz_attr_ints(p, "strides", 2, (int64_t[]){2, 2});
    qz_node(g, "flat", "Flatten", (const char *[]){"p", NULL}, "f");
    qc_node *m = qz_node(g, "fc", "Gemm", (const char *[]){"f", "w2", "b2", NULL}, "y");
    qz_attr_ints(m, "transB", 0, (int64_t[]){1});
    qz_io(g, "x", "y");
    qc_error err;
    ck_assert_msg(qc_graph_prepare(g, &err) == QC_OK, "%s", err.msg);
    return g;
}

/* Graph B: x[1,2,3,3] → Conv a (1×1) → ya; → Conv b (1×1) → yb; Add(ya, yb) → z;
 * Concat(ya, z) → k; GlobalAveragePool → y. */
static qc_graph *qz_graph_b(void)
{
    rng_seed(12);
    qc_graph *g = qc_graph_create("b.onnx");
    g->opset = 13;
    float wa[4], wb[4];
    qz_fill(wa, 4, -1.0f, 1.0f);
    qz_fill(wb, 4, -2.0f, 2.0f);
    qz_tensor(g, "x", 4, (int64_t[]){1, 2, 3, 3}, NULL);
    qz_tensor(g, "wa", 4, (int64_t[]){2, 2, 1, 1}, wa);
    qz_tensor(g, "wb", 4, (int64_t[]){2, 2, 1, 1}, wb);
    qz_node(g, "conv_a", "Conv", (const char *[]){"x", "wa", NULL}, "ya");
    qz_node(g, "conv_b", "Conv", (const char *[]){"x", "wb", NULL}, "yb");
    qz_node(g, "add", "Add", (const char *[]){"ya", "yb", NULL}, "z");
    qc_node *k = qz_node(g, "cat", "Concat", (const char *[]){"ya", "z", NULL}, "k");
    qz_attr_ints(k, "axis", 0, (int64_t[]){1});
    qz_node(g, "gap", "GlobalAveragePool", (const char *[]){"k", NULL}, "y");
    qz_io(g, "x", "y");
    qc_error err;
    ck_assert_msg(qc_graph_prepare(g, &err) == QC_OK, "%s", err.msg);
    return g;
}

/* Statistics of g over 20 random inputs in [lo, hi), as qcal stats gathers them. */
static qc_stats *qz_stats_opts(const qc_graph *g, float lo, float hi, bool per_channel, bool histograms)
{
    qc_stats_options so = {.per_channel = per_channel, .histograms = histograms};
    qc_stats *s;
    qc_error err;
    ck_assert_msg(qc_stats_create(g, &so, &s, &err) == QC_OK, "%s", err.msg);
    qc_exec *x = qc_exec_create(g);
    ck_assert_ptr_nonnull(x);
    qc_exec_set_observer(x, qc_stats_observer, s);
    const qc_value *iv = &g->tensors[g->inputs[0]].value;
    int n = (int)qc_value_count(iv);
    float *buf = malloc((size_t)n * sizeof *buf);
    for (int i = 0; i < 20; i++) {
        qz_fill(buf, n, lo, hi);
        qc_value in = qc_value_f32(iv->rank, iv->dims, buf);
        qc_stats_observe_inputs(s, g, &in, 1);
        ck_assert_msg(qc_exec_run(x, &in, 1, &err) == QC_OK, "%s", err.msg);
        qc_stats_add_image(s, "img.png");
    }
    qc_stats_flush(s);
    ck_assert_int_eq(s->status, QC_OK);
    free(buf);
    qc_exec_destroy(x);
    return s;
}

static qc_stats *qz_stats_gran(const qc_graph *g, float lo, float hi, bool per_channel)
{
    return qz_stats_opts(g, lo, hi, per_channel, false);
}

static qc_stats *qz_stats(const qc_graph *g, float lo, float hi)
{
    return qz_stats_gran(g, lo, hi, false);
}

/* The parameters the quantizer should give activation `name`: qc_qparams_activation of the
 * tensor's minmax range in the statistics. */
static qc_qparams qz_expected_act(const qc_stats *s, const char *name, qc_scheme scheme, bool is_signed)
{
    int i = qc_stats_find(s, name);
    ck_assert_msg(i >= 0, "no statistics for '%s'", name);
    return act(s->tensors[i].t.min, s->tensors[i].t.max, scheme, 8, is_signed);
}

/* The options these tests were written for: the seeds' GemmLowP with one weight scale per
 * tensor (qcal's default before `mixed` per channel), the rest as qc_quantize_options_default. */
static void qz_options_gemmlowp_per_tensor(qc_quantize_options *o)
{
    qc_quantize_options_default(o);
    o->scheme = QC_SCHEME_GEMMLOWP;
    o->weights = QC_GRANULARITY_TENSOR;
}

static const qc_node *qz_find(const qc_graph *g, const char *op, int nth)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].op_type, op) && nth-- == 0)
            return &g->nodes[i];
    return NULL;
}

/* The node that writes tensor t in g, or NULL. */
static const qc_node *qz_producer(const qc_graph *g, int t)
{
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_outputs; k++)
            if (g->nodes[i].outputs[k] == t)
                return &g->nodes[i];
    return NULL;
}

static float qz_scalar_f(const qc_graph *g, int t, int i)
{
    ck_assert(g->tensors[t].is_const && g->tensors[t].value.dtype == QC_FLOAT);
    return ((const float *)g->tensors[t].value.data)[i];
}

/* The QuantizeLinear that reads tensor `name` (the activation as computed) */
static const qc_node *qz_quantizer_of(const qc_graph *g, const char *name)
{
    int t = qc_graph_find_tensor(g, name);
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].op_type, "QuantizeLinear") && g->nodes[i].inputs[0] == t)
            return &g->nodes[i];
    return NULL;
}

static void qz_assert_q(const qc_graph *g, const char *name, qc_qparams p)
{
    const qc_node *q = qz_quantizer_of(g, name);
    ck_assert_msg(q != NULL, "no QuantizeLinear after '%s'", name);
    const qc_tensor *z = &g->tensors[q->inputs[2]];
    ck_assert_msg(qz_scalar_f(g, q->inputs[1], 0) == p.scale, "'%s': scale %.9g, expected %.9g", name,
                  (double)qz_scalar_f(g, q->inputs[1], 0), (double)p.scale);
    ck_assert_int_eq(z->value.dtype, p.qmin < 0 ? QC_INT8 : QC_UINT8);
    ck_assert_int_eq(p.qmin < 0 ? ((const int8_t *)z->value.data)[0] : ((const uint8_t *)z->value.data)[0],
                     p.zero_point);
}

START_TEST(qdq_conv_relu_pool_gemm_gets_the_parameters_of_its_statistics)
{
    qc_graph *g = qz_graph_a();
    qc_stats *s = qz_stats(g, -1.0f, 2.0f);
    qc_quantize_options o;
    qz_options_gemmlowp_per_tensor(&o);
    qc_graph *q = NULL;
    qc_quantize_report rep;
    qc_error err;
    ck_assert_msg(qc_quantize(g, s, &o, &q, &rep, &err) == QC_OK, "%s", err.msg);

    /* the input, the Relu output (fused: the Conv writes it) and the logits are quantized */
    qc_qparams px = qz_expected_act(s, "x", QC_SCHEME_GEMMLOWP, false);
    qc_qparams pr = qz_expected_act(s, "r", QC_SCHEME_GEMMLOWP, false);
    qz_assert_q(q, "x", px);
    qz_assert_q(q, "r", pr);
    qz_assert_q(q, "y_QuantizeLinear_Input", qz_expected_act(s, "y", QC_SCHEME_GEMMLOWP, false));
    ck_assert_ptr_null(qz_find(q, "Relu", 0)); /* Q5: [0, max] quantized clamps at 0 */
    ck_assert_int_eq(pr.zero_point, 0);
    /* Q4: MaxPool and Flatten pass the input's parameters through: same constants */
    const qc_node *qp = qz_quantizer_of(q, "p"), *qr = qz_quantizer_of(q, "r");
    ck_assert_ptr_nonnull(qp);
    ck_assert_int_eq(qp->inputs[1], qr->inputs[1]);
    ck_assert_int_eq(qp->inputs[2], qr->inputs[2]);

    /* the Conv reads w through a DequantizeLinear of uint8 values quantized independently */
    const qc_node *conv = qz_find(q, "Conv", 0);
    ck_assert_ptr_nonnull(conv);
    ck_assert_int_eq(conv->outputs[0], qc_graph_find_tensor(q, "r"));
    const qc_node *dqw = qz_producer(q, conv->inputs[1]);
    ck_assert_str_eq(dqw->op_type, "DequantizeLinear");
    const qc_tensor *wq = &q->tensors[dqw->inputs[0]];
    ck_assert_int_eq(wq->value.dtype, QC_UINT8);
    const float *w = g->tensors[qc_graph_find_tensor(g, "w")].value.data;
    qc_qparams pw;
    ck_assert(qc_qparams_weights(w, 1, 1, 54, QC_GRANULARITY_TENSOR, QC_SCHEME_GEMMLOWP, 8, false, "w", &pw, &err) == QC_OK);
    int32_t expect_w[54];
    qc_quantize_array(1, 1, 54, w, &pw, QC_ROUND_HALF_EVEN, expect_w);
    for (int i = 0; i < 54; i++)
        ck_assert_int_eq(((const uint8_t *)wq->value.data)[i], expect_w[i]);
    ck_assert(qz_scalar_f(q, dqw->inputs[1], 0) == pw.scale);

    /* the bias: int32 b / fl(s_x · s_w) through a DequantizeLinear of scale fl(s_x · s_w) */
    const qc_node *dqb = qz_producer(q, conv->inputs[2]);
    ck_assert_str_eq(dqb->op_type, "DequantizeLinear");
    const qc_tensor *bq = &q->tensors[dqb->inputs[0]];
    ck_assert_int_eq(bq->value.dtype, QC_INT32);
    const float *b = g->tensors[qc_graph_find_tensor(g, "b")].value.data;
    float sb = px.scale * pw.scale;
    ck_assert(qz_scalar_f(q, dqb->inputs[1], 0) == sb);
    for (int c = 0; c < 3; c++) {
        int32_t want = (int32_t)rint((double)b[c] / sb);
        ck_assert_int_eq(((const int32_t *)bq->value.data)[c], want);
    }
    /* the report lists the tensors with their roles */
    bool seen_bias = false, seen_input = false;
    for (int i = 0; i < rep.n; i++) {
        seen_bias |= !strcmp(rep.tensors[i].tensor, "b") && !strcmp(rep.tensors[i].role, "bias");
        seen_input |= !strcmp(rep.tensors[i].tensor, "x") && !strcmp(rep.tensors[i].role, "input");
    }
    ck_assert(seen_bias && seen_input);
    qc_quantize_report_free(&rep);
    qc_graph_destroy(q);
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(per_channel_weights_get_one_scale_and_bias_scale_per_channel)
{
    qc_graph *g = qz_graph_a();
    qc_stats *s = qz_stats(g, -1.0f, 2.0f);
    qc_quantize_options o;
    qz_options_gemmlowp_per_tensor(&o);
    o.weights = QC_GRANULARITY_CHANNEL;
    o.scheme = QC_SCHEME_SYMLOWP;
    qc_graph *q = NULL;
    qc_error err;
    ck_assert_msg(qc_quantize(g, s, &o, &q, NULL, &err) == QC_OK, "%s", err.msg);
    const float *w = g->tensors[qc_graph_find_tensor(g, "w")].value.data;
    const float *b = g->tensors[qc_graph_find_tensor(g, "b")].value.data;
    qc_qparams pw[3];
    ck_assert(qc_qparams_weights(w, 1, 3, 18, QC_GRANULARITY_CHANNEL, QC_SCHEME_SYMLOWP, 8, false, "w", pw, &err) == QC_OK);
    qc_qparams px = qz_expected_act(s, "x", QC_SCHEME_SYMLOWP, false);
    const qc_node *conv = qz_find(q, "Conv", 0);
    const qc_node *dqw = qz_producer(q, conv->inputs[1]), *dqb = qz_producer(q, conv->inputs[2]);
    const qc_attr *axis = qc_node_attr(dqw, "axis");
    ck_assert(axis && axis->i == 0);
    ck_assert_int_eq(q->tensors[dqw->inputs[0]].value.dtype, QC_INT8);
    ck_assert_int_eq(q->tensors[dqw->inputs[1]].value.rank, 1);
    for (int c = 0; c < 3; c++) {
        ck_assert(qz_scalar_f(q, dqw->inputs[1], c) == pw[c].scale);
        ck_assert(qz_scalar_f(q, dqb->inputs[1], c) == px.scale * pw[c].scale);
        int32_t want = (int32_t)rint((double)b[c] / (double)(px.scale * pw[c].scale));
        ck_assert_int_eq(((const int32_t *)q->tensors[dqb->inputs[0]].value.data)[c], want);
    }
    /* the Gemm's weight [4][12] with transB: channel axis 0 as well */
    const qc_node *gemm = qz_find(q, "Gemm", 0);
    const qc_attr *gaxis = qc_node_attr(qz_producer(q, gemm->inputs[1]), "axis");
    ck_assert(gaxis && gaxis->i == 0);
    qc_graph_destroy(q);
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

/* qcal's default (README "Choosing the default scheme"): `mixed` with per-channel weights —
 * int8 weights, zero point 0, one scale per output channel (largest |w| / 127, the narrow
 * symmetric range); uint8 activations with GemmLowP's asymmetric parameters. */
START_TEST(the_default_is_mixed_int8_weights_per_channel_and_uint8_activations)
{
    qc_quantize_options o, preset;
    qc_quantize_options_default(&o);
    ck_assert_int_eq(o.scheme, QC_SCHEME_MIXED);
    ck_assert_int_eq(o.weights, QC_GRANULARITY_CHANNEL);
    ck_assert_int_eq(o.activations, QC_GRANULARITY_TENSOR);
    ck_assert_int_eq(o.format, QC_FORMAT_QDQ);
    qz_options_gemmlowp_per_tensor(&preset);
    ck_assert(qc_preset_apply("mixed", &preset));
    ck_assert(preset.scheme == o.scheme && preset.weights == o.weights && preset.target == o.target);

    qc_graph *g = qz_graph_a();
    qc_stats *s = qz_stats(g, -1.0f, 2.0f);
    qc_graph *q = NULL;
    qc_error err;
    ck_assert_msg(qc_quantize(g, s, &o, &q, NULL, &err) == QC_OK, "%s", err.msg);
    qz_assert_q(q, "x", qz_expected_act(s, "x", QC_SCHEME_GEMMLOWP, false));
    ck_assert_int_eq(q->tensors[qz_quantizer_of(q, "x")->inputs[2]].value.dtype, QC_UINT8);
    ck_assert_int_ne(qz_expected_act(s, "x", QC_SCHEME_GEMMLOWP, false).zero_point, 0);

    const float *w = g->tensors[qc_graph_find_tensor(g, "w")].value.data;
    const qc_node *dqw = qz_producer(q, qz_find(q, "Conv", 0)->inputs[1]);
    const qc_attr *axis = qc_node_attr(dqw, "axis");
    ck_assert(axis && axis->i == 0);
    const qc_value *wq = &q->tensors[dqw->inputs[0]].value, *zw = &q->tensors[dqw->inputs[2]].value;
    ck_assert_int_eq(wq->dtype, QC_INT8);
    ck_assert_int_eq(zw->dtype, QC_INT8);
    ck_assert_int_eq(qc_value_count(zw), 3);
    for (int c = 0; c < 3; c++) {
        float max_abs = 0.0f;
        for (int i = 0; i < 18; i++)
            max_abs = fmaxf(max_abs, fabsf(w[c * 18 + i]));
        double scale = qz_scalar_f(q, dqw->inputs[1], c);
        ck_assert_int_eq(((const int8_t *)zw->data)[c], 0);
        ck_assert_msg(fabs(scale - max_abs / 127.0) <= 1e-6 * scale, "channel %d: scale %.9g, |w| %.9g", c, scale,
                      (double)max_abs);
        for (int i = 0; i < 18; i++) { /* w / scale rounded half to even, within [-127, 127] */
            int8_t v = ((const int8_t *)wq->data)[c * 18 + i];
            ck_assert(v >= -127 && fabs(v - (double)w[c * 18 + i] / scale) <= 0.5 + 1e-4);
        }
    }
    const qc_node *dqg = qz_producer(q, qz_find(q, "Gemm", 0)->inputs[1]);
    ck_assert_int_eq(q->tensors[dqg->inputs[0]].value.dtype, QC_INT8);
    ck_assert_int_eq(q->tensors[dqg->inputs[1]].value.rank, 1);
    qc_graph_destroy(q);
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(concat_inputs_share_one_scale_and_add_is_quantized)
{
    qc_graph *g = qz_graph_b();
    qc_stats *s = qz_stats(g, -1.0f, 1.0f);
    qc_quantize_options o;
    qz_options_gemmlowp_per_tensor(&o);
    qc_graph *q = NULL;
    qc_error err;
    ck_assert_msg(qc_quantize(g, s, &o, &q, NULL, &err) == QC_OK, "%s", err.msg);
    /* Q6: ya and z carry k's parameters (the union of their ranges) */
    qc_qparams pk = qz_expected_act(s, "k", QC_SCHEME_GEMMLOWP, false);
    qz_assert_q(q, "ya", pk);
    qz_assert_q(q, "z", pk);
    qz_assert_q(q, "k", pk);
    /* yb is read by the Add only: its own range */
    qz_assert_q(q, "yb", qz_expected_act(s, "yb", QC_SCHEME_GEMMLOWP, false));
    qz_assert_q(q, "y_QuantizeLinear_Input", qz_expected_act(s, "y", QC_SCHEME_GEMMLOWP, false));
    /* the Add reads both inputs dequantized */
    const qc_node *add = qz_find(q, "Add", 0);
    ck_assert_str_eq(qz_producer(q, add->inputs[0])->op_type, "DequantizeLinear");
    ck_assert_str_eq(qz_producer(q, add->inputs[1])->op_type, "DequantizeLinear");
    qc_graph_destroy(q);

    /* QOperator: the com.microsoft integer operators, with the shared scale */
    o.format = QC_FORMAT_QOPERATOR;
    ck_assert_msg(qc_quantize(g, s, &o, &q, NULL, &err) == QC_OK, "%s", err.msg);
    const char *ms[] = {"QLinearAdd", "QLinearConcat", "QLinearGlobalAveragePool"};
    for (int i = 0; i < 3; i++) {
        const qc_node *n = qz_find(q, ms[i], 0);
        ck_assert_msg(n != NULL, "no %s", ms[i]);
        ck_assert_str_eq(n->domain, "com.microsoft");
    }
    const qc_node *cat = qz_find(q, "QLinearConcat", 0);
    ck_assert_int_eq(cat->n_inputs, 2 + 3 * 2);
    ck_assert(qz_scalar_f(q, cat->inputs[0], 0) == pk.scale);
    ck_assert(qz_scalar_f(q, cat->inputs[3], 0) == pk.scale);
    ck_assert(qz_scalar_f(q, cat->inputs[6], 0) == pk.scale);
    const qc_node *qconv = qz_find(q, "QLinearConv", 0);
    ck_assert_ptr_nonnull(qconv);
    ck_assert_int_eq(qconv->n_inputs, 8); /* no bias */
    ck_assert_ptr_null(qz_find(q, "Conv", 0));
    qc_graph_destroy(q);
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

/* Weights are per tensor or channel, activations per tensor or compensated: the other two
 * pairings are usage errors that name both granularities. */
START_TEST(granularities_a_tensor_kind_cannot_have_are_usage_errors)
{
    qc_graph *g = qz_graph_b();
    qc_stats *s = qz_stats(g, -1.0f, 1.0f);
    qc_quantize_options o;
    qz_options_gemmlowp_per_tensor(&o);
    ck_assert_int_eq(o.weights, QC_GRANULARITY_TENSOR);
    ck_assert_int_eq(o.activations, QC_GRANULARITY_TENSOR);
    qc_graph *q = NULL;
    qc_error err;
    o.weights = QC_GRANULARITY_COMPENSATED;
    ck_assert_int_eq(qc_quantize(g, s, &o, &q, NULL, &err), QC_ERR_USAGE);
    ck_assert_ptr_null(q);
    ck_assert_ptr_nonnull(strstr(err.msg, "not compensated and tensor"));
    o.weights = QC_GRANULARITY_CHANNEL;
    o.activations = QC_GRANULARITY_CHANNEL;
    ck_assert_int_eq(qc_quantize(g, s, &o, &q, NULL, &err), QC_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "not channel and channel"));
    o.activations = QC_GRANULARITY_TENSOR;
    ck_assert_msg(qc_quantize(g, s, &o, &q, NULL, &err) == QC_OK, "%s", err.msg);
    qc_graph_destroy(q);
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(excluded_nodes_stay_fp32_and_unknown_names_are_usage_errors)
{
    qc_graph *g = qz_graph_b();
    qc_stats *s = qz_stats(g, -1.0f, 1.0f);
    qc_quantize_options o;
    qz_options_gemmlowp_per_tensor(&o);
    const char *ex[] = {"conv_a"};
    o.exclude = ex;
    o.n_exclude = 1;
    qc_graph *q = NULL;
    qc_error err;
    ck_assert_msg(qc_quantize(g, s, &o, &q, NULL, &err) == QC_OK, "%s", err.msg);
    const qc_node *ca = NULL;
    for (int i = 0; i < q->n_nodes; i++)
        if (!strcmp(q->nodes[i].name, "conv_a"))
            ca = &q->nodes[i];
    ck_assert_ptr_nonnull(ca);
    ck_assert_str_eq(q->tensors[ca->inputs[1]].name, "wa"); /* the float weight itself */
    ck_assert_int_eq(q->tensors[ca->inputs[1]].value.dtype, QC_FLOAT);
    qc_graph_destroy(q);

    const char *unknown[] = {"conv_a", "conv_c"};
    o.exclude = unknown;
    o.n_exclude = 2;
    q = NULL;
    ck_assert_int_eq(qc_quantize(g, s, &o, &q, NULL, &err), QC_ERR_USAGE);
    ck_assert_ptr_null(q);
    ck_assert_ptr_nonnull(strstr(err.msg, "'conv_c'"));
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(nan_weights_bad_bits_and_foreign_statistics_are_rejected)
{
    qc_graph *g = qz_graph_a();
    qc_stats *s = qz_stats(g, -1.0f, 2.0f);
    qc_quantize_options o;
    qz_options_gemmlowp_per_tensor(&o);
    qc_graph *q = NULL;
    qc_error err;
    o.weight_bits = 9;
    ck_assert_int_eq(qc_quantize(g, s, &o, &q, NULL, &err), QC_ERR_USAGE);
    o.weight_bits = 8;
    o.act_bits = 4;
    o.format = QC_FORMAT_QOPERATOR;
    ck_assert_int_eq(qc_quantize(g, s, &o, &q, NULL, &err), QC_ERR_USAGE);
    qz_options_gemmlowp_per_tensor(&o);
    qc_graph *gb = qz_graph_b();
    qc_stats *other = qz_stats(gb, -1.0f, 1.0f);
    ck_assert_int_eq(qc_quantize(g, other, &o, &q, NULL, &err), QC_ERR_INPUT); /* tensor names differ */
    qc_stats_destroy(other);
    qc_graph_destroy(gb);
    float *w2 = g->tensors[qc_graph_find_tensor(g, "w2")].value.data;
    w2[7] = NAN;
    qc_quantize_report rep;
    ck_assert_int_eq(qc_quantize(g, s, &o, &q, &rep, &err), QC_ERR_INPUT);
    ck_assert_ptr_null(q);
    ck_assert_int_eq(rep.n, 0);
    ck_assert_msg(strstr(err.msg, "'w2'") != NULL, "%s", err.msg);
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

/* Every produced tensor of one run, copied by the observer (tensor index → values). */
typedef struct {
    float **values;
    int64_t *count;
} qz_capture;

static void qz_capture_observer(void *ctx, const qc_graph *g, int t, const qc_value *v)
{
    qz_capture *c = ctx;
    (void)g;
    if (v->dtype != QC_FLOAT)
        return;
    int64_t n = qc_value_count(v);
    free(c->values[t]);
    c->values[t] = malloc((size_t)(n ? n : 1) * sizeof(float));
    memcpy(c->values[t], v->data, (size_t)n * sizeof(float));
    c->count[t] = n;
}

/* Runs fake-quantized graph q (prepared) on x and checks every activation's FakeQuantize
 * subgraph (from the Div named "<tensor>_round_Div_0" to "<tensor>_FakeQuantize_Output", or
 * the output "<tensor>") against qc_fake_quantize with the report's parameters. Returns how
 * many values were exact ties x / s = k + 1/2. */
static int64_t qz_check_rounded_fakequant(const qc_graph *q, const qc_quantize_report *rep, float *x,
                                          qc_round_mode mode)
{
    qz_capture c = {calloc((size_t)q->n_tensors, sizeof(float *)), calloc((size_t)q->n_tensors, sizeof(int64_t))};
    qc_exec *ex = qc_exec_create(q);
    ck_assert_ptr_nonnull(ex);
    qc_exec_set_observer(ex, qz_capture_observer, &c);
    const qc_value *iv = &q->tensors[q->inputs[0]].value;
    qc_value in = qc_value_f32(iv->rank, iv->dims, x);
    qc_error err;
    ck_assert_msg(qc_exec_run(ex, &in, 1, &err) == QC_OK, "%s", err.msg);
    int64_t ties = 0;
    int checked = 0;
    for (int i = 0; i < q->n_nodes; i++) {
        const qc_node *n = &q->nodes[i];
        const char *tag = strstr(n->name, "_round_Div_0");
        if (!tag || strcmp(tag, "_round_Div_0") != 0)
            continue;
        char name[256], out[300];
        snprintf(name, sizeof name, "%.*s", (int)(tag - n->name), n->name);
        snprintf(out, sizeof out, "%s_FakeQuantize_Output", name);
        int to = qc_graph_find_tensor(q, out);
        if (to < 0)
            to = qc_graph_find_tensor(q, name);
        const qc_quantized_tensor *qt = NULL;
        for (int k = 0; k < rep->n; k++)
            if (!strcmp(rep->tensors[k].tensor, name))
                qt = &rep->tensors[k];
        ck_assert_msg(to >= 0 && qt != NULL, "no output or parameters for '%s'", name);
        const int ti = n->inputs[0];
        const float *pre = ti == q->inputs[0] ? x : c.values[ti], *post = c.values[to];
        ck_assert_msg(pre && post && c.count[to] == (ti == q->inputs[0] ? qc_value_count(iv) : c.count[ti]),
                      "'%s' not captured", name);
        for (int64_t e = 0; e < c.count[to]; e++) {
            const float want = qc_fake_quantize(pre[e], &qt->params[0], mode), t = pre[e] / qt->params[0].scale;
            ck_assert_msg(post[e] == want, "%s '%s'[%lld]: x = %a, x / s = %a: %a, expected %a",
                          qc_round_mode_name(mode), name, (long long)e, (double)pre[e], (double)t,
                          (double)post[e], (double)want);
            ties += t - floorf(t) == 0.5f;
        }
        checked++;
    }
    ck_assert_int_ge(checked, 3);
    for (int t = 0; t < q->n_tensors; t++)
        free(c.values[t]);
    free(c.values);
    free(c.count);
    qc_exec_destroy(ex);
    return ties;
}

/* --act-round in the fakequant format (P14a): the Div/Clip/QuantizeLinear/… subgraph that
 * calib/round-graph.c writes gives exactly the scalar reference qc_fake_quantize in every
 * mode, for every activation, with ties, values beyond the range, ±0 and tiny values at the
 * input; 8 and 5 bits; SymLowP and GemmLowP. Other formats refuse any mode but half-even. */
START_TEST(fakequant_activations_round_in_every_mode_as_the_scalar_reference)
{
    qc_graph *graphs[2] = {qz_graph_a(), qz_graph_b()};
    for (int gi = 0; gi < 2; gi++) {
        qc_graph *g = graphs[gi];
        qc_stats *s = qz_stats(g, -1.0f, 2.0f);
        const int64_t n = qc_value_count(&g->tensors[g->inputs[0]].value);
        float *x = malloc((size_t)n * sizeof *x);
        for (int v = 0; v < 4; v++) {
            for (int r = 1; r < QC_ROUND_COUNT; r++) { /* 0, half-even: QuantizeLinear itself */
                qc_quantize_options o;
                qz_options_gemmlowp_per_tensor(&o);
                o.format = QC_FORMAT_FAKEQUANT;
                o.act_round = (qc_round_mode)r;
                o.scheme = v % 2 ? QC_SCHEME_SYMLOWP : QC_SCHEME_GEMMLOWP;
                o.act_bits = v < 2 ? 8 : 5;
                qc_graph *q = NULL;
                qc_quantize_report rep;
                qc_error err;
                ck_assert_msg(qc_quantize(g, s, &o, &q, &rep, &err) == QC_OK, "%s", err.msg);
                ck_assert_msg(qc_graph_prepare(q, &err) == QC_OK, "%s", err.msg);
                const qc_qparams *px = NULL;
                for (int k = 0; k < rep.n; k++)
                    if (!strcmp(rep.tensors[k].role, "input"))
                        px = &rep.tensors[k].params[0];
                ck_assert_ptr_nonnull(px);
                /* ties (k + 1/2)·s, their float neighbours, values past both ends, ±0, tiny */
                rng_seed(40 + (uint64_t)r);
                for (int64_t i = 0; i < n; i++) {
                    const float k = (float)((int)(rng_next() % 41) - 20) + 0.5f;
                    switch (i % 8) {
                    case 0: case 1: case 2: x[i] = k * px->scale; break;
                    case 3: x[i] = nextafterf(k * px->scale, 0.0f); break;
                    case 4: x[i] = (float)(rng_unit() * 6.0 - 3.0); break;
                    case 5: x[i] = i % 16 == 5 ? -0.0f : 0x1p-140f; break;
                    case 6: x[i] = (float)((int)(rng_next() % 700) - 350) * px->scale; break;
                    default: x[i] = -k * px->scale; break;
                    }
                }
                int64_t ties = qz_check_rounded_fakequant(q, &rep, x, (qc_round_mode)r);
                ck_assert_msg(ties >= n / 4, "%s: only %lld ties", qc_round_mode_name((qc_round_mode)r),
                              (long long)ties);
                qc_quantize_report_free(&rep);
                qc_graph_destroy(q);
            }
        }
        /* QuantizeLinear rounds half to even: qdq and qoperator refuse the others by name */
        qc_quantize_options o;
        qz_options_gemmlowp_per_tensor(&o);
        o.act_round = QC_ROUND_HALF_UP;
        qc_graph *q = NULL;
        qc_error err;
        ck_assert_int_eq(qc_quantize(g, s, &o, &q, NULL, &err), QC_ERR_USAGE);
        ck_assert_msg(strstr(err.msg, "half-up (ROUND_NEAREST_UPWARD) needs the fakequant format") != NULL, "%s",
                      err.msg);
        o.format = QC_FORMAT_QOPERATOR;
        ck_assert_int_eq(qc_quantize(g, s, &o, &q, NULL, &err), QC_ERR_USAGE);
        free(x);
        qc_stats_destroy(s);
        qc_graph_destroy(g);
    }
}
END_TEST

START_TEST(fakequant_stores_fake_quantized_weights_and_clips_below_8_bits)
{
    qc_graph *g = qz_graph_a();
    qc_stats *s = qz_stats(g, -1.0f, 2.0f);
    qc_quantize_options o;
    qz_options_gemmlowp_per_tensor(&o);
    o.format = QC_FORMAT_FAKEQUANT;
    o.weight_bits = 4;
    o.act_bits = 3;
    qc_graph *q = NULL;
    qc_error err;
    ck_assert_msg(qc_quantize(g, s, &o, &q, NULL, &err) == QC_OK, "%s", err.msg);
    const qc_node *conv = qz_find(q, "Conv", 0);
    const qc_tensor *wf = &q->tensors[conv->inputs[1]];
    ck_assert(wf->is_const && wf->value.dtype == QC_FLOAT);
    const float *w = g->tensors[qc_graph_find_tensor(g, "w")].value.data;
    qc_qparams pw;
    ck_assert(qc_qparams_weights(w, 1, 1, 54, QC_GRANULARITY_TENSOR, QC_SCHEME_GEMMLOWP, 4, false, "w", &pw, &err) == QC_OK);
    ck_assert_int_eq(pw.qmax, 15);
    for (int i = 0; i < 54; i++)
        ck_assert(((const float *)wf->value.data)[i] == qc_fake_quantize(w[i], &pw, QC_ROUND_HALF_EVEN));
    /* 3-bit activations: a Clip to [s·(0 − z), s·(7 − z)] before each QuantizeLinear */
    int i = qc_stats_find(s, "x");
    qc_qparams px = act(s->tensors[i].t.min, s->tensors[i].t.max, QC_SCHEME_GEMMLOWP, 3, false);
    const qc_node *q0 = qz_quantizer_of(q, "x_Clip_Output");
    ck_assert_ptr_nonnull(q0);
    const qc_node *clip = qz_producer(q, q0->inputs[0]);
    ck_assert_str_eq(clip->op_type, "Clip");
    ck_assert(qz_scalar_f(q, clip->inputs[1], 0) == qc_dequantize_value(0, &px));
    ck_assert(qz_scalar_f(q, clip->inputs[2], 0) == qc_dequantize_value(7, &px));
    ck_assert(qz_scalar_f(q, q0->inputs[1], 0) == px.scale);
    qc_graph_destroy(q);
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(entropy_and_mse_ranges_are_computed_at_the_activation_bits)
{
    /* Q3: the clip of entropy and mse depends on the bit width it is for, and the quantizer
     * asks for act_bits (the old code asked for 8 whatever act_bits). The Relu output r and
     * the logits y get the ranges qc_stats_range gives at 4 bits; the model input keeps its
     * extremes (R8). */
    qc_graph *g = qz_graph_a();
    qc_stats *s = qz_stats_opts(g, -1.0f, 2.0f, false, true);
    qc_range_method methods[2] = {QC_RANGE_ENTROPY, QC_RANGE_MSE};
    for (int k = 0; k < 2; k++) {
        qc_quantize_options o;
        qz_options_gemmlowp_per_tensor(&o);
        o.format = QC_FORMAT_FAKEQUANT;
        o.method = methods[k];
        o.act_bits = 4;
        qc_graph *q = NULL;
        qc_quantize_report rep;
        qc_error err;
        ck_assert_msg(qc_quantize(g, s, &o, &q, &rep, &err) == QC_OK, "%s", err.msg);
        qc_range_params p4, p8;
        qc_range_params_default(&p4);
        qc_range_params_default(&p8);
        p4.bits = 4;
        int checked = 0, differ = 0;
        for (int i = 0; i < rep.n; i++) {
            const qc_quantized_tensor *e = &rep.tensors[i];
            int si = qc_stats_find(s, e->tensor);
            if (si < 0 || (strcmp(e->tensor, "r") && strcmp(e->tensor, "y")))
                continue; /* p and f pass r's parameters through (Q4) */
            float lo4, hi4, lo8, hi8;
            ck_assert(qc_stats_range(&s->tensors[si], methods[k], &p4, -1, &lo4, &hi4, &err) == QC_OK);
            ck_assert(qc_stats_range(&s->tensors[si], methods[k], &p8, -1, &lo8, &hi8, &err) == QC_OK);
            ck_assert_msg(e->min == lo4 && e->max == hi4, "%s: '%s' quantized over [%g, %g], its 4-bit range is [%g, %g]",
                          qc_range_method_name(methods[k]), e->tensor, (double)e->min, (double)e->max, (double)lo4,
                          (double)hi4);
            checked++;
            differ += lo4 != lo8 || hi4 != hi8;
        }
        ck_assert_int_eq(checked, 2);
        ck_assert_msg(differ > 0, "%s: the 4-bit and 8-bit ranges should differ somewhere", qc_range_method_name(methods[k]));
        int xi = qc_stats_find(s, "x");
        qz_assert_q(q, "x_Clip_Output", act(s->tensors[xi].t.min, s->tensors[xi].t.max, QC_SCHEME_GEMMLOWP, 4, false));
        qc_quantize_report_free(&rep);
        qc_graph_destroy(q);
    }
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

/* Graph C: x[1,3,6,6] → Conv 1 (4×3×3×3, pad 1, bias; output channel o's weights times
 * 1, 0.01, 0.1, 1) → Relu → r → Conv 2 (group 2, 4×2×3×3, pad 1, bias; weights on input
 * channel c divided by the same factor, so that every channel counts alike) → y. The channels
 * of r span 100× in range: one scale for all of them leaves channel 1 a few codes. */
static const float qz_c_gain[4] = {1.0f, 0.01f, 0.1f, 1.0f};

static qc_graph *qz_graph_c(void)
{
    rng_seed(13);
    qc_graph *g = qc_graph_create("c.onnx");
    g->opset = 13;
    float w1[108], b1[4], w2[72], b2[4];
    qz_fill(w1, 108, -0.5f, 0.5f);
    qz_fill(b1, 4, 0.0f, 0.3f);
    qz_fill(w2, 72, -0.5f, 0.5f);
    qz_fill(b2, 4, -0.1f, 0.1f);
    for (int o = 0; o < 4; o++) {
        b1[o] *= qz_c_gain[o];
        for (int e = 0; e < 27; e++)
            w1[o * 27 + e] *= qz_c_gain[o];
        for (int j = 0; j < 2; j++) /* output o of group o/2 reads channel (o/2)·2 + j */
            for (int e = 0; e < 9; e++)
                w2[(o * 2 + j) * 9 + e] /= qz_c_gain[(o / 2) * 2 + j];
    }
    qz_tensor(g, "x", 4, (int64_t[]){1, 3, 6, 6}, NULL);
    qz_tensor(g, "w1", 4, (int64_t[]){4, 3, 3, 3}, w1);
    qz_tensor(g, "b1", 1, (int64_t[]){4}, b1);
    qz_tensor(g, "w2", 4, (int64_t[]){4, 2, 3, 3}, w2);
    qz_tensor(g, "b2", 1, (int64_t[]){4}, b2);
    qc_node *c1 = qz_node(g, "conv1", "Conv", (const char *[]){"x", "w1", "b1", NULL}, "c");
    qz_attr_ints(c1, "pads", 4, (int64_t[]){1, 1, 1, 1});
    qz_node(g, "relu", "Relu", (const char *[]){"c", NULL}, "r");
    qc_node *c2 = qz_node(g, "conv2", "Conv", (const char *[]){"r", "w2", "b2", NULL}, "y");
    qz_attr_ints(c2, "pads", 4, (int64_t[]){1, 1, 1, 1});
    qz_attr_ints(c2, "group", 0, (int64_t[]){2});
    qz_io(g, "x", "y");
    qc_error err;
    ck_assert_msg(qc_graph_prepare(g, &err) == QC_OK, "%s", err.msg);
    return g;
}

/* SQNR (dB) of quantized graph q's output against g's over 8 random inputs in [-1, 2). */
static double qz_output_sqnr(qc_graph *g, qc_graph *q)
{
    qc_error err;
    ck_assert_msg(qc_graph_prepare(q, &err) == QC_OK, "%s", err.msg);
    qc_exec *xg = qc_exec_create(g), *xq = qc_exec_create(q);
    ck_assert(xg && xq);
    const qc_value *iv = &g->tensors[g->inputs[0]].value;
    int n = (int)qc_value_count(iv);
    float *buf = malloc((size_t)n * sizeof *buf);
    ck_assert_ptr_nonnull(buf);
    qc_error_acc acc;
    qc_error_acc_init(&acc);
    rng_seed(99);
    for (int i = 0; i < 8; i++) {
        qz_fill(buf, n, -1.0f, 2.0f);
        qc_value in = qc_value_f32(iv->rank, iv->dims, buf);
        ck_assert_msg(qc_exec_run(xg, &in, 1, &err) == QC_OK, "%s", err.msg);
        ck_assert_msg(qc_exec_run(xq, &in, 1, &err) == QC_OK, "%s", err.msg);
        const qc_value *a = qc_exec_output(xg, 0), *b = qc_exec_output(xq, 0);
        ck_assert_int_eq(qc_value_count(a), qc_value_count(b));
        qc_error_acc_add(&acc, a->data, b->data, qc_value_count(a));
    }
    qc_error_metrics m;
    qc_error_acc_finish(&acc, &m);
    free(buf);
    qc_exec_destroy(xg);
    qc_exec_destroy(xq);
    return m.sqnr_db;
}

/* Graph D: x[1,2,4,4] → Conv a (1×1) → Relu → ra; → Conv b (1×1, 3× the weights) → yb;
 * Concat(ra, yb) → k. yb reaches below 0, so the shared range of ra and k does too. */
static qc_graph *qz_graph_d(void)
{
    rng_seed(14);
    qc_graph *g = qc_graph_create("d.onnx");
    g->opset = 13;
    float wa[4], wb[4];
    qz_fill(wa, 4, -1.0f, 1.0f);
    qz_fill(wb, 4, -3.0f, 3.0f);
    qz_tensor(g, "x", 4, (int64_t[]){1, 2, 4, 4}, NULL);
    qz_tensor(g, "wa", 4, (int64_t[]){2, 2, 1, 1}, wa);
    qz_tensor(g, "wb", 4, (int64_t[]){2, 2, 1, 1}, wb);
    qz_node(g, "conv_a", "Conv", (const char *[]){"x", "wa", NULL}, "ya");
    qz_node(g, "relu", "Relu", (const char *[]){"ya", NULL}, "ra");
    qz_node(g, "conv_b", "Conv", (const char *[]){"x", "wb", NULL}, "yb");
    qc_node *k = qz_node(g, "cat", "Concat", (const char *[]){"ra", "yb", NULL}, "k");
    qz_attr_ints(k, "axis", 0, (int64_t[]){1});
    qz_io(g, "x", "k");
    qc_error err;
    ck_assert_msg(qc_graph_prepare(g, &err) == QC_OK, "%s", err.msg);
    return g;
}

/* Graph E: x[1,2,4,4] → Conv t, Conv u (10× the weights), Conv v (1×1 each); Concat(t, u)
 * → k1, Concat(t, v) → k2; Add(k1, k2) → y. t links both Concats: one scale for all. */
static qc_graph *qz_graph_e(void)
{
    rng_seed(15);
    qc_graph *g = qc_graph_create("e.onnx");
    g->opset = 13;
    float wt[4], wu[4], wv[4];
    qz_fill(wt, 4, -1.0f, 1.0f);
    qz_fill(wu, 4, -10.0f, 10.0f);
    qz_fill(wv, 4, -1.0f, 1.0f);
    qz_tensor(g, "x", 4, (int64_t[]){1, 2, 4, 4}, NULL);
    qz_tensor(g, "wt", 4, (int64_t[]){2, 2, 1, 1}, wt);
    qz_tensor(g, "wu", 4, (int64_t[]){2, 2, 1, 1}, wu);
    qz_tensor(g, "wv", 4, (int64_t[]){2, 2, 1, 1}, wv);
    qz_node(g, "conv_t", "Conv", (const char *[]){"x", "wt", NULL}, "t");
    qz_node(g, "conv_u", "Conv", (const char *[]){"x", "wu", NULL}, "u");
    qz_node(g, "conv_v", "Conv", (const char *[]){"x", "wv", NULL}, "v");
    const char *cats[][4] = {{"cat1", "t", "u", "k1"}, {"cat2", "t", "v", "k2"}};
    for (int i = 0; i < 2; i++) {
        qc_node *c = qz_node(g, cats[i][0], "Concat", (const char *[]){cats[i][1], cats[i][2], NULL}, cats[i][3]);
        qz_attr_ints(c, "axis", 0, (int64_t[]){1});
    }
    qz_node(g, "add", "Add", (const char *[]){"k1", "k2", NULL}, "y");
    qz_io(g, "x", "y");
    qc_error err;
    ck_assert_msg(qc_graph_prepare(g, &err) == QC_OK, "%s", err.msg);
    return g;
}

START_TEST(a_relu_whose_concat_reaches_below_zero_stays_a_node)
{
    qc_graph *g = qz_graph_d();
    qc_stats *s = qz_stats(g, -1.0f, 2.0f);
    ck_assert(s->tensors[qc_stats_find(s, "yb")].t.min < 0);
    for (int f = 0; f < 2; f++) {
        qc_quantize_options o;
        qz_options_gemmlowp_per_tensor(&o);
        o.format = f ? QC_FORMAT_QOPERATOR : QC_FORMAT_QDQ;
        qc_graph *q = NULL;
        qc_error err;
        ck_assert_msg(qc_quantize(g, s, &o, &q, NULL, &err) == QC_OK, "%s", err.msg);
        /* the shared parameters of ra hold negative values: only the Relu can zero them */
        ck_assert_ptr_nonnull(qz_find(q, "Relu", 0));
        double sqnr = qz_output_sqnr(g, q);
        ck_assert_msg(sqnr > 30.0, "%s: SQNR %.2f dB", f ? "qoperator" : "qdq", sqnr);
        qc_graph_destroy(q);
    }
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(concats_linked_by_a_shared_input_take_the_union_of_their_ranges)
{
    qc_graph *g = qz_graph_e();
    qc_stats *s = qz_stats(g, -1.0f, 2.0f);
    qc_quantize_options o;
    qz_options_gemmlowp_per_tensor(&o);
    qc_graph *q = NULL;
    qc_error err;
    ck_assert_msg(qc_quantize(g, s, &o, &q, NULL, &err) == QC_OK, "%s", err.msg);
    /* u (10× the weights) must fit the scale it shares with k1, k2, t and v */
    const qc_tensor_stats *u = &s->tensors[qc_stats_find(s, "u")];
    const qc_node *qu = qz_quantizer_of(q, "u");
    ck_assert_ptr_nonnull(qu);
    qc_qparams p = act(u->t.min, u->t.max, QC_SCHEME_GEMMLOWP, 8, false);
    ck_assert_msg(qz_scalar_f(q, qu->inputs[1], 0) >= p.scale, "u's scale %.9g, its own range needs %.9g",
                  (double)qz_scalar_f(q, qu->inputs[1], 0), (double)p.scale);
    ck_assert_int_eq(qu->inputs[1], qz_quantizer_of(q, "v")->inputs[1]); /* one scale */
    double sqnr = qz_output_sqnr(g, q);
    ck_assert_msg(sqnr > 30.0, "SQNR %.2f dB", sqnr);
    qc_graph_destroy(q);
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

/* Bias correction (Q16) against the error measured by brute force: conv1 of graph c (pads 1)
 * over inputs constant within each channel, its weights swapped for the fake-quantized ones
 * the quantizer wrote, the output's mean shift per channel summed over every image and
 * position, zero padding included. The corrected bias must be the FP32 one less that shift
 * (up to the bias's own quantization step); without the option it stays the FP32 one. */
START_TEST(bias_correction_removes_the_mean_error_of_quantized_weights)
{
    qc_graph *g = qz_graph_c();
    enum { N = 24, C = 3, H = 6, W = 6, M = 4 };
    static float xs[N * C * H * W];
    float a[N][C];
    rng_seed(29);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < C; j++) {
            a[i][j] = (float)rng_unit() * 2.0f - 0.5f;
            for (int k = 0; k < H * W; k++)
                xs[(i * C + j) * H * W + k] = a[i][j];
        }
    qc_pass_inputs in = {.tensors = xs, .n = N, .stride = C * H * W};
    qc_stats_options so = {.per_channel = true};
    qc_gather_options go = {.limit = N, .batch = 16, .shard_n = 1, .threads = 1};
    qc_stats *s = NULL;
    qc_error err;
    ck_assert_msg(qc_stats_gather_inputs(g, &in, &so, &go, &s, &err) == QC_OK, "%s", err.msg);
    const float *b1 = g->tensors[qc_graph_find_tensor(g, "b1")].value.data;
    const float *w1 = g->tensors[qc_graph_find_tensor(g, "w1")].value.data;
    for (int corrected = 0; corrected < 2; corrected++) {
        qc_quantize_options o;
        qz_options_gemmlowp_per_tensor(&o);
        o.format = QC_FORMAT_FAKEQUANT;
        o.weights = QC_GRANULARITY_CHANNEL;
        o.weight_bits = 4;
        o.bias_correction = corrected;
        qc_graph *q = NULL;
        qc_quantize_report rep = {0};
        ck_assert_msg(qc_quantize(g, s, &o, &q, &rep, &err) == QC_OK, "%s", err.msg);
        const qc_node *conv = qz_find(q, "Conv", 0);
        const float *wq = q->tensors[conv->inputs[1]].value.data, *bq = q->tensors[conv->inputs[2]].value.data;
        float sx = NAN;
        for (int r = 0; r < rep.n; r++)
            if (!strcmp(rep.tensors[r].tensor, "x"))
                sx = rep.tensors[r].params[0].scale;
        for (int c = 0; c < M; c++) {
            double shift = 0.0, sw = NAN;
            for (int r = 0; r < rep.n; r++)
                if (!strcmp(rep.tensors[r].tensor, "w1"))
                    sw = rep.tensors[r].params[c].scale;
            for (int i = 0; i < N; i++)
                for (int oh = 0; oh < H; oh++)
                    for (int ow = 0; ow < W; ow++)
                        for (int j = 0; j < C; j++)
                            for (int kh = 0; kh < 3; kh++)
                                for (int kw = 0; kw < 3; kw++) {
                                    int ih = oh + kh - 1, iw = ow + kw - 1, e = ((c * C + j) * 3 + kh) * 3 + kw;
                                    if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                        shift += ((double)wq[e] - (double)w1[e]) * a[i][j];
                                }
            shift /= (double)N * H * W;
            double want = corrected ? (double)b1[c] - shift : (double)b1[c];
            ck_assert_msg(fabs(bq[c] - want) <= 0.5 * (double)sx * sw + 1e-6,
                          "corrected %d, channel %d: bias %.9g, expected %.9g (shift %.3g)", corrected, c,
                          (double)bq[c], want, shift);
            if (corrected)
                ck_assert_msg(fabs(shift) > 2.0 * (double)sx * sw, "channel %d: a shift too small to test", c);
        }
        qc_quantize_report_free(&rep);
        qc_graph_destroy(q);
    }
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

/* ---- empirical bias correction (calib/bias-empirical.c, eq. Q15b) ---- */

/* The input and output of one node of a quantized graph, as one run computed them. */
typedef struct {
    int x, y;
    float *xv, *yv;
    qc_value xs, ys;
} layer_capture;

static void capture_layer_io(void *ctx, const qc_graph *g, int t, const qc_value *v)
{
    (void)g;
    layer_capture *c = ctx;
    if (t != c->x && t != c->y)
        return;
    float **dst = t == c->x ? &c->xv : &c->yv;
    size_t bytes = qc_value_bytes(v);
    *dst = realloc(*dst, bytes);
    ck_assert_ptr_nonnull(*dst);
    memcpy(*dst, v->data, bytes);
    *(t == c->x ? &c->xs : &c->ys) = *v;
}

/* The FP32 layer of node fn recomputed in double from the captured quantized input: Conv
 * (pads, strides, groups; no dilation) or Gemm (transB), minus the quantized layer's output,
 * summed per output channel into err. */
static void add_layer_error(const qc_graph *fp32, const qc_node *fn, const layer_capture *c, double *err)
{
    const qc_value *wv = &fp32->tensors[fn->inputs[1]].value;
    const float *w = wv->data, *b = fp32->tensors[fn->inputs[2]].value.data;
    if (wv->rank == 2) { /* Gemm on a [1][K] input */
        const bool trans = qc_node_attr_int(fn, "transB", 0);
        const int64_t cout = trans ? wv->dims[0] : wv->dims[1], k = trans ? wv->dims[1] : wv->dims[0];
        for (int64_t o = 0; o < cout; o++) {
            double acc = b[o];
            for (int64_t j = 0; j < k; j++)
                acc += (double)w[trans ? o * k + j : j * cout + o] * c->xv[j];
            err[o] += acc - c->yv[o];
        }
        return;
    }
    const qc_attr *pads = qc_node_attr(fn, "pads"), *strides = qc_node_attr(fn, "strides");
    const int64_t ph = pads ? pads->ints[0] : 0, pw = pads ? pads->ints[1] : 0;
    const int64_t sh = strides ? strides->ints[0] : 1, sw = strides ? strides->ints[1] : 1;
    const int64_t group = qc_node_attr_int(fn, "group", 1), cout = wv->dims[0], cin_g = wv->dims[1];
    const int64_t kh = wv->dims[2], kw = wv->dims[3], h = c->xs.dims[2], wd = c->xs.dims[3];
    const int64_t oh = c->ys.dims[2], ow = c->ys.dims[3];
    for (int64_t o = 0; o < cout; o++)
        for (int64_t y = 0; y < oh; y++)
            for (int64_t x = 0; x < ow; x++) {
                double acc = b[o];
                for (int64_t j = 0; j < cin_g; j++)
                    for (int64_t u = 0; u < kh; u++)
                        for (int64_t v = 0; v < kw; v++) {
                            const int64_t iy = y * sh - ph + u, ix = x * sw - pw + v;
                            const int64_t ch = (o / (cout / group)) * cin_g + j;
                            if (iy >= 0 && iy < h && ix >= 0 && ix < wd)
                                acc += (double)w[((o * cin_g + j) * kh + u) * kw + v] * c->xv[(ch * h + iy) * wd + ix];
                        }
                err[o] += acc - c->yv[(o * oh + y) * ow + x];
            }
}

/* Per output channel of node `name`: the mean over n inputs (each [1]+dims, one after the
 * other in xs) and output positions of the FP32 layer's output minus the quantized layer's,
 * both fed the input the quantized graph q gives that layer. Returns the channels. */
static int64_t layer_mean_error(const qc_graph *fp32, qc_graph *q, const char *name, const float *xs, int n,
                                int rank, const int64_t *dims, double *err)
{
    const qc_node *fn = NULL, *qn = NULL;
    for (int i = 0; i < fp32->n_nodes; i++)
        fn = !strcmp(fp32->nodes[i].name, name) ? &fp32->nodes[i] : fn;
    for (int i = 0; i < q->n_nodes; i++)
        qn = !strcmp(q->nodes[i].name, name) ? &q->nodes[i] : qn;
    ck_assert(fn && qn);
    layer_capture c = {.x = qn->inputs[0], .y = qn->outputs[0]};
    qc_exec *ex = qc_exec_create(q);
    qc_exec_set_observer(ex, capture_layer_io, &c);
    int64_t per = 1;
    for (int d = 0; d < rank; d++)
        per *= dims[d];
    const qc_value *wv = &fp32->tensors[fn->inputs[1]].value;
    const int64_t cout = wv->rank == 2 && !qc_node_attr_int(fn, "transB", 0) ? wv->dims[1] : wv->dims[0];
    for (int64_t o = 0; o < cout; o++)
        err[o] = 0.0;
    qc_error e;
    int64_t positions = 1;
    for (int i = 0; i < n; i++) {
        qc_value in = qc_value_f32(rank, dims, (float *)xs + i * per);
        ck_assert_msg(qc_exec_run(ex, &in, 1, &e) == QC_OK, "%s", e.msg);
        ck_assert(c.xv && c.yv);
        add_layer_error(fp32, fn, &c, err);
        positions = qc_value_count(&c.ys) / cout;
    }
    for (int64_t o = 0; o < cout; o++)
        err[o] /= (double)n * (double)positions;
    qc_exec_destroy(ex);
    free(c.xv);
    free(c.yv);
    return cout;
}

/* The bias scale of tensor `bias` in a quantize report, for channel c. */
static double bias_scale(const qc_quantize_report *r, const char *bias, int64_t c)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->tensors[i].tensor, bias))
            return r->tensors[i].params[r->tensors[i].n_channels > 1 ? c : 0].scale;
    ck_abort_msg("no bias '%s' in the report", bias);
    return NAN;
}

/* Quantizes g with o (fakequant) and measures, on the n inputs, each layer's mean error per
 * channel; with the empirical correction every channel's is within half the bias step (the
 * corrected bias's own rounding). Returns Σ |mean error| of each layer into total. */
static void check_layer_errors(const qc_graph *g, const qc_stats *s, const qc_quantize_options *o,
                               const char *const *layers, const char *const *biases, const float *xs, int n,
                               int rank, const int64_t *dims, double *total)
{
    qc_graph *q = NULL;
    qc_quantize_report rep = {0};
    qc_error err;
    ck_assert_msg(qc_quantize(g, s, o, &q, &rep, &err) == QC_OK, "%s", err.msg);
    ck_assert_msg(qc_graph_prepare(q, &err) == QC_OK, "%s", err.msg);
    for (int l = 0; layers[l]; l++) {
        double e[512];
        int64_t m = layer_mean_error(g, q, layers[l], xs, n, rank, dims, e);
        total[l] = 0.0;
        for (int64_t c = 0; c < m; c++) {
            total[l] += fabs(e[c]);
            if (o->bias_correction == QC_BIAS_EMPIRICAL)
                ck_assert_msg(fabs(e[c]) <= 0.5 * bias_scale(&rep, biases[l], c) + 1e-5,
                              "%s channel %lld: mean error %.3g after empirical correction", layers[l],
                              (long long)c, e[c]);
        }
    }
    qc_quantize_report_free(&rep);
    qc_graph_destroy(q);
}

/* Graph c (conv1 with padding, ReLU, conv2 in two groups) over random inputs: the empirical
 * correction leaves each layer a mean error per channel within the bias's rounding, where
 * without it the 4-bit weights leave more; conv2 is measured after conv1 is corrected. The
 * measurement is the same for 1 and 2 threads and any batch. */
START_TEST(empirical_bias_correction_zeroes_each_layers_mean_error)
{
    qc_graph *g = qz_graph_c();
    enum { N = 24, PER = 3 * 6 * 6 };
    static float xs[N * PER];
    rng_seed(31);
    qz_fill(xs, N * PER, -0.5f, 1.5f);
    qc_pass_inputs in = {.tensors = xs, .n = N, .stride = PER};
    qc_stats_options so = {.per_channel = true};
    qc_gather_options go = {.limit = N, .batch = 16, .shard_n = 1, .threads = 1};
    qc_stats *s = NULL;
    qc_error err;
    ck_assert_msg(qc_stats_gather_inputs(g, &in, &so, &go, &s, &err) == QC_OK, "%s", err.msg);
    qc_quantize_options o;
    qz_options_gemmlowp_per_tensor(&o);
    o.format = QC_FORMAT_FAKEQUANT;
    o.weights = QC_GRANULARITY_CHANNEL;
    o.weight_bits = 4;
    qc_bias_measurement one, two;
    o.bias_correction = QC_BIAS_EMPIRICAL;
    ck_assert_msg(qc_bias_measure(g, s, &o, &in, &(qc_gather_options){.limit = N, .batch = 1, .shard_n = 1,
                                                                      .threads = 1}, &one, &err) == QC_OK, "%s", err.msg);
    ck_assert_msg(qc_bias_measure(g, s, &o, &in, &(qc_gather_options){.limit = N, .batch = 7, .shard_n = 1,
                                                                      .threads = 2}, &two, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(one.passes, 2); /* conv1, then conv2 */
    ck_assert_int_eq(one.images, N);
    for (int i = 0; i < g->n_nodes; i++) {
        ck_assert_int_eq(one.tap_means[i] != NULL, !strcmp(g->nodes[i].op_type, "Conv"));
        if (one.tap_means[i])
            ck_assert(!memcmp(one.tap_means[i], two.tap_means[i],
                              sizeof(double) * (size_t)(g->tensors[g->nodes[i].inputs[0]].value.dims[1] * 9))); /* C_in × 3×3 */
    }
    const char *layers[] = {"conv1", "conv2", NULL}, *biases[] = {"b1", "b2"};
    const int64_t dims[] = {1, 3, 6, 6};
    double with[2], without[2];
    o.bias_measured = &one;
    check_layer_errors(g, s, &o, layers, biases, xs, N, 4, dims, with);
    o.bias_correction = QC_BIAS_NONE;
    check_layer_errors(g, s, &o, layers, biases, xs, N, 4, dims, without);
    for (int l = 0; l < 2; l++)
        ck_assert_msg(with[l] < 0.25 * without[l], "%s: sum of |mean error| %.3g corrected, %.3g not", layers[l],
                      with[l], without[l]);
    /* the modes' names, and the empirical mode refused without its measurement */
    qc_bias_mode m;
    ck_assert(qc_bias_mode_parse("empirical", &m) && m == QC_BIAS_EMPIRICAL);
    ck_assert(!qc_bias_mode_parse("true", &m));
    ck_assert_str_eq(qc_bias_mode_name(QC_BIAS_ANALYTIC), "analytic");
    o.bias_correction = QC_BIAS_EMPIRICAL;
    o.bias_measured = NULL;
    qc_graph *q = NULL;
    ck_assert_int_eq(qc_quantize(g, s, &o, &q, NULL, &err), QC_ERR_USAGE);
    qc_bias_measurement_free(&one);
    qc_bias_measurement_free(&two);
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

/* lenet at 4 bits per tensor, 32 calibration images: every layer's mean error per channel on
 * those images is smaller with the empirical correction than without (it fails if the sign
 * is wrong or a layer is skipped). */
START_TEST(empirical_bias_correction_reduces_lenets_layer_errors)
{
    enum { N = 32, PIX = 28 * 28 };
    qc_graph *g = NULL;
    qc_error err;
    qc_image_set set;
    qc_preprocess pp;
    ck_assert_msg(qc_onnx_load("models/lenet.onnx", &g, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(qc_image_set_open(&set, "data/calib", NULL, &err), QC_OK);
    qc_preprocess_default(&pp, 1);
    float *px = malloc(sizeof(float) * N * PIX);
    qc_image_input ii = {.channels = 1, .height = 28, .width = 28, .dims = {1, 1, 28, 28}};
    ck_assert_int_eq(qc_eval_load_images(&set, &pp, N, &ii, 1, px, &err), QC_OK);
    qc_pass_inputs in = {.tensors = px, .n = N, .stride = PIX};
    qc_stats *s = NULL;
    ck_assert_msg(qc_stats_gather_inputs(g, &in, &(qc_stats_options){0},
                                         &(qc_gather_options){.limit = N, .batch = 16, .shard_n = 1, .threads = 1},
                                         &s, &err) == QC_OK, "%s", err.msg);
    qc_quantize_options o;
    qz_options_gemmlowp_per_tensor(&o);
    o.format = QC_FORMAT_FAKEQUANT;
    o.weight_bits = o.act_bits = 4;
    o.bias_correction = QC_BIAS_EMPIRICAL;
    qc_bias_measurement bm;
    ck_assert_msg(qc_bias_measure(g, s, &o, &in, &(qc_gather_options){.limit = N, .batch = 8, .shard_n = 1,
                                                                      .threads = 2}, &bm, &err) == QC_OK, "%s", err.msg);
    const char *layers[5] = {NULL}, *biases[4];
    int n_layers = 0;
    for (int i = 0; i < g->n_nodes && n_layers < 4; i++)
        if (bm.tap_means[i]) {
            layers[n_layers] = g->nodes[i].name;
            biases[n_layers++] = g->tensors[g->nodes[i].inputs[2]].name;
        }
    ck_assert_int_eq(n_layers, 4); /* two Conv, two Gemm */
    ck_assert_int_eq(bm.passes, 4);
    const int64_t dims[] = {1, 1, 28, 28};
    double with[4], without[4];
    o.bias_measured = &bm;
    check_layer_errors(g, s, &o, layers, biases, px, N, 4, dims, with);
    o.bias_correction = QC_BIAS_NONE;
    check_layer_errors(g, s, &o, layers, biases, px, N, 4, dims, without);
    for (int l = 0; l < n_layers; l++)
        ck_assert_msg(with[l] < without[l], "%s: sum of |mean error| %.3g corrected, %.3g not", layers[l], with[l],
                      without[l]);
    qc_bias_measurement_free(&bm);
    qc_stats_destroy(s);
    qc_image_set_free(&set);
    free(px);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(input_compensation_moves_channel_scales_into_the_next_weights)
{
    qc_graph *g = qz_graph_c();
    qc_stats *s = qz_stats_gran(g, -1.0f, 2.0f, true);
    qc_quantize_options o;
    qz_options_gemmlowp_per_tensor(&o);
    o.weights = QC_GRANULARITY_CHANNEL;
    o.activations = QC_GRANULARITY_COMPENSATED;
    qc_graph *q = NULL;
    qc_error err;
    ck_assert_msg(qc_quantize(g, s, &o, &q, NULL, &err) == QC_OK, "%s", err.msg);

    /* r: one scale per channel, max_c / 255 (after a Relu z = 0: eq. P18), as a Div by a
     * [1, 4, 1, 1] constant before a QuantizeLinear of scale 1 */
    int ri = qc_stats_find(s, "r");
    const qc_node *div = qz_find(q, "Div", 1); /* the input's comes first */
    ck_assert_ptr_nonnull(div);
    ck_assert_int_eq(div->inputs[0], qc_graph_find_tensor(q, "r"));
    const qc_value *dv = &q->tensors[div->inputs[1]].value;
    ck_assert(dv->rank == 4 && dv->dims[0] == 1 && dv->dims[1] == 4 && dv->dims[2] == 1 && dv->dims[3] == 1);
    float sc[4];
    for (int c = 0; c < 4; c++) {
        sc[c] = (float)((double)s->tensors[ri].ch[c].max / 255.0);
        ck_assert_msg(qz_scalar_f(q, div->inputs[1], c) == sc[c], "channel %d: scale %.9g, expected %.9g", c,
                      (double)qz_scalar_f(q, div->inputs[1], c), (double)sc[c]);
    }
    ck_assert(sc[1] < 0.05f * sc[0]);
    const qc_node *qr = qz_quantizer_of(q, "r_Div_Output");
    ck_assert_ptr_nonnull(qr);
    ck_assert(qz_scalar_f(q, qr->inputs[1], 0) == 1.0f);
    ck_assert_int_eq(((const uint8_t *)q->tensors[qr->inputs[2]].value.data)[0], 0);

    /* conv2 reads q − z: the DequantizeLinear of scale 1 and the zero point */
    const qc_node *conv2 = qz_find(q, "Conv", 1);
    ck_assert_ptr_nonnull(conv2);
    const qc_node *dqx = qz_producer(q, conv2->inputs[0]);
    ck_assert_str_eq(dqx->op_type, "DequantizeLinear");
    ck_assert_int_eq(dqx->inputs[0], qr->outputs[0]);
    ck_assert(qz_scalar_f(q, dqx->inputs[1], 0) == 1.0f);

    /* its weights: w2[o][j] · s_c, c = (o / 2) · 2 + j, quantized per output channel */
    const float *w2 = g->tensors[qc_graph_find_tensor(g, "w2")].value.data;
    const float *b2 = g->tensors[qc_graph_find_tensor(g, "b2")].value.data;
    float wc[72];
    for (int m = 0; m < 4; m++)
        for (int j = 0; j < 2; j++)
            for (int e = 0; e < 9; e++)
                wc[(m * 2 + j) * 9 + e] = w2[(m * 2 + j) * 9 + e] * sc[(m / 2) * 2 + j];
    qc_qparams pw[4];
    ck_assert(qc_qparams_weights(wc, 1, 4, 18, QC_GRANULARITY_CHANNEL, QC_SCHEME_GEMMLOWP, 8, false, "w2", pw, &err) == QC_OK);
    int32_t want[72];
    qc_quantize_array(1, 4, 18, wc, pw, QC_ROUND_HALF_EVEN, want);
    const qc_node *dqw = qz_producer(q, conv2->inputs[1]), *dqb = qz_producer(q, conv2->inputs[2]);
    const qc_tensor *wq = &q->tensors[dqw->inputs[0]];
    for (int e = 0; e < 72; e++)
        ck_assert_int_eq(((const uint8_t *)wq->value.data)[e], want[e]);
    for (int m = 0; m < 4; m++) {
        ck_assert(qz_scalar_f(q, dqw->inputs[1], m) == pw[m].scale);
        /* the bias in the accumulator's scale 1 · s_w'[m] */
        ck_assert(qz_scalar_f(q, dqb->inputs[1], m) == pw[m].scale);
        ck_assert_int_eq(((const int32_t *)q->tensors[dqb->inputs[0]].value.data)[m],
                         (int32_t)rint((double)b2[m] / pw[m].scale));
    }
    /* the input x is read by conv1 alone: compensated too */
    ck_assert_ptr_nonnull(qz_quantizer_of(q, "x_Div_Output"));
    bool meta = false;
    for (int i = 0; i < q->n_meta; i++)
        meta |= !strcmp(q->meta_keys[i], "qcal.input_compensation") && !strcmp(q->meta_values[i], "true");
    ck_assert(meta);

    /* and it pays: the output against FP32, with and without compensation (measured 31.2 dB
     * against 12.4 dB) */
    double sqnr_ic = qz_output_sqnr(g, q);
    qc_graph_destroy(q);
    o.activations = QC_GRANULARITY_TENSOR;
    ck_assert_msg(qc_quantize(g, s, &o, &q, NULL, &err) == QC_OK, "%s", err.msg);
    double sqnr = qz_output_sqnr(g, q);
    ck_assert_msg(sqnr_ic > sqnr + 10.0 && sqnr_ic > 25.0, "SQNR %.2f dB compensated, %.2f dB without", sqnr_ic,
                  sqnr);
    qc_graph_destroy(q);

    /* the FakeQuantize twin computes the same sums in float with the dequantized weights */
    o.activations = QC_GRANULARITY_COMPENSATED;
    o.format = QC_FORMAT_FAKEQUANT;
    ck_assert_msg(qc_quantize(g, s, &o, &q, NULL, &err) == QC_OK, "%s", err.msg);
    const qc_tensor *wf = &q->tensors[qz_find(q, "Conv", 1)->inputs[1]];
    ck_assert(wf->is_const && wf->value.dtype == QC_FLOAT);
    for (int e = 0; e < 72; e++)
        ck_assert(((const float *)wf->value.data)[e] == qc_dequantize_value(want[e], &pw[e / 18]));
    double sqnr_fq = qz_output_sqnr(g, q);
    ck_assert_msg(fabs(sqnr_fq - sqnr_ic) < 1.0, "FakeQuantize %.2f dB, integer %.2f dB", sqnr_fq, sqnr_ic);
    qc_graph_destroy(q);
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(input_compensation_skips_tensors_read_by_other_ops_and_needs_channel_statistics)
{
    /* graph B: x feeds two Convs (compensated); ya feeds the Add and the Concat (not) */
    qc_graph *g = qz_graph_b();
    qc_stats *s = qz_stats_gran(g, -1.0f, 1.0f, true);
    qc_quantize_options o;
    qz_options_gemmlowp_per_tensor(&o);
    o.activations = QC_GRANULARITY_COMPENSATED;
    qc_graph *q = NULL;
    qc_error err;
    ck_assert_msg(qc_quantize(g, s, &o, &q, NULL, &err) == QC_OK, "%s", err.msg);
    ck_assert_ptr_nonnull(qz_quantizer_of(q, "x_Div_Output"));
    const qc_node *qa = qz_quantizer_of(q, "ya");
    ck_assert_ptr_nonnull(qa);
    ck_assert(qz_scalar_f(q, qa->inputs[1], 0) != 1.0f); /* its own scale: not divided first */
    qc_graph_destroy(q);
    q = NULL;
    /* below 8 bits the Clip before the QuantizeLinear is in steps: [qmin − z, qmax − z] */
    o.act_bits = 6;
    ck_assert_msg(qc_quantize(g, s, &o, &q, NULL, &err) == QC_OK, "%s", err.msg);
    const qc_node *clip = qz_producer(q, qz_quantizer_of(q, "x_Clip_Output")->inputs[0]);
    ck_assert_str_eq(clip->op_type, "Clip");
    qc_qparams px = act(s->tensors[qc_stats_find(s, "x")].t.min, s->tensors[qc_stats_find(s, "x")].t.max, QC_SCHEME_GEMMLOWP, 6,
             false);
    ck_assert(qz_scalar_f(q, clip->inputs[1], 0) == (float)-px.zero_point);
    ck_assert(qz_scalar_f(q, clip->inputs[2], 0) == (float)(63 - px.zero_point));
    qc_graph_destroy(q);
    q = NULL;
    o.act_bits = 8;
    /* QOperator and per-tensor statistics: usage errors */
    o.format = QC_FORMAT_QOPERATOR;
    ck_assert_int_eq(qc_quantize(g, s, &o, &q, NULL, &err), QC_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "qdq"));
    o.format = QC_FORMAT_QDQ;
    qc_stats *st = qz_stats(g, -1.0f, 1.0f);
    ck_assert_int_eq(qc_quantize(g, st, &o, &q, NULL, &err), QC_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "per-channel statistics"));
    ck_assert_ptr_null(q);
    qc_stats_destroy(st);
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

static TCase *quantize_tcase(void)
{
    TCase *t = tcase_create("quantizer");
    tcase_add_test(t, qdq_conv_relu_pool_gemm_gets_the_parameters_of_its_statistics);
    tcase_add_test(t, per_channel_weights_get_one_scale_and_bias_scale_per_channel);
    tcase_add_test(t, the_default_is_mixed_int8_weights_per_channel_and_uint8_activations);
    tcase_add_test(t, concat_inputs_share_one_scale_and_add_is_quantized);
    tcase_add_test(t, excluded_nodes_stay_fp32_and_unknown_names_are_usage_errors);
    tcase_add_test(t, granularities_a_tensor_kind_cannot_have_are_usage_errors);
    tcase_add_test(t, nan_weights_bad_bits_and_foreign_statistics_are_rejected);
    tcase_add_test(t, fakequant_stores_fake_quantized_weights_and_clips_below_8_bits);
    tcase_add_test(t, fakequant_activations_round_in_every_mode_as_the_scalar_reference);
    tcase_add_test(t, entropy_and_mse_ranges_are_computed_at_the_activation_bits);
    tcase_add_test(t, a_relu_whose_concat_reaches_below_zero_stays_a_node);
    tcase_add_test(t, concats_linked_by_a_shared_input_take_the_union_of_their_ranges);
    tcase_add_test(t, input_compensation_moves_channel_scales_into_the_next_weights);
    tcase_add_test(t, bias_correction_removes_the_mean_error_of_quantized_weights);
    tcase_add_test(t, input_compensation_skips_tensors_read_by_other_ops_and_needs_channel_statistics);
    return t;
}

/* ---- quantization configs (calib/config.c) ------------------------------------------------ */

static const qc_quantized_tensor *report_entry(const qc_quantize_report *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->tensors[i].tensor, name))
            return &r->tensors[i];
    return NULL;
}

static void parse_config_ok(const char *text, qc_config *c)
{
    qc_quantize_options base;
    qz_options_gemmlowp_per_tensor(&base);
    qc_error err;
    ck_assert_msg(qc_config_parse(text, strlen(text), "c.json", &base, c, &err) == QC_OK, "%s", err.msg);
}

START_TEST(a_config_sets_globals_over_its_preset)
{
    qc_config c;
    parse_config_ok("{\"method\": \"percentile\", \"percentile\": 99.9, \"bits\": 6, \"preset\": \"mixed\","
                    " \"exclude\": [\"fc\"], \"bias_correction\": true}", &c);
    ck_assert_int_eq(c.options.scheme, QC_SCHEME_MIXED); /* the preset, wherever it stands */
    ck_assert_int_eq(c.options.weights, QC_GRANULARITY_CHANNEL);
    ck_assert_int_eq(c.options.method, QC_RANGE_PERCENTILE);
    ck_assert(c.options.range.percentile == 99.9);
    ck_assert_int_eq(c.options.weight_bits, 6);
    ck_assert_int_eq(c.options.act_bits, 6);
    ck_assert(c.options.bias_correction);
    ck_assert_int_eq(c.options.n_exclude, 1);
    ck_assert_str_eq(c.options.exclude[0], "fc");
    qc_config_free(&c);
    /* a preset after a setting does not undo it: the file's scheme wins over its preset */
    parse_config_ok("{\"scheme\": \"gemmlowp\", \"preset\": \"performance\"}", &c);
    ck_assert_int_eq(c.options.scheme, QC_SCHEME_GEMMLOWP);
    ck_assert_int_eq(c.options.weights, QC_GRANULARITY_CHANNEL);
    qc_config_free(&c);
    qc_quantize_options o;
    qz_options_gemmlowp_per_tensor(&o);
    ck_assert(qc_preset_apply("tensorrt", &o));
    ck_assert(o.scheme == QC_SCHEME_SYMLOWP && o.weights == QC_GRANULARITY_CHANNEL && o.target == QC_TARGET_TENSORRT);
    ck_assert(qc_preset_apply("symlowp", &o));
    ck_assert(o.scheme == QC_SCHEME_SYMLOWP && o.weights == QC_GRANULARITY_TENSOR && o.target == QC_TARGET_GENERIC);
    ck_assert(!qc_preset_apply("fast", &o));
}
END_TEST

START_TEST(overrides_take_name_over_pattern_over_op_and_the_later_row_among_equals)
{
    qc_config c;
    parse_config_ok("{\"overrides\": ["
                    "{\"match\": {\"name\": \"layer1.0.conv\"}, \"weight_bits\": 6},"
                    "{\"match\": {\"pattern\": \"layer1.*\"}, \"weight_bits\": 5, \"act_bits\": 7},"
                    "{\"match\": {\"op\": \"Conv\"}, \"weight_bits\": 4, \"scheme\": \"symlowp\"},"
                    "{\"match\": {\"op\": \"Conv\"}, \"weight_bits\": 3},"
                    "{\"match\": {\"name\": \"fc\"}, \"exclude\": true}]}", &c);
    char n1[] = "layer1.0.conv", n2[] = "layer1.1.conv", n3[] = "conv1", n4[] = "fc", conv[] = "Conv",
         gemm[] = "Gemm", dom[] = "";
    const struct {
        char *name, *op;
        int weight_bits, act_bits;
        qc_scheme scheme;
        int n_exclude;
    } want[] = {{n1, conv, 6, 7, QC_SCHEME_SYMLOWP, 0}, /* name; pattern's act_bits; op's scheme */
                {n2, conv, 5, 7, QC_SCHEME_SYMLOWP, 0}, /* pattern over op */
                {n3, conv, 3, 8, QC_SCHEME_SYMLOWP, 0}, /* the later Conv row */
                {n4, gemm, 8, 8, QC_SCHEME_GEMMLOWP, 1}}; /* globals, excluded */
    for (int i = 0; i < 4; i++) {
        qc_node n = {.name = want[i].name, .op_type = want[i].op, .domain = dom};
        qc_quantize_options o;
        qc_quantize_options_for_node(&c.options, &n, &o);
        ck_assert_msg(o.weight_bits == want[i].weight_bits && o.act_bits == want[i].act_bits &&
                          o.scheme == want[i].scheme && o.n_exclude == want[i].n_exclude,
                      "%s: %d/%d bits, %s, %d excluded", want[i].name, o.weight_bits, o.act_bits,
                      qc_scheme_name(o.scheme), o.n_exclude);
        ck_assert_int_eq(o.n_overrides, 0);
    }
    qc_config_free(&c);
}
END_TEST

START_TEST(config_errors_name_the_file_and_the_key)
{
    const struct {
        const char *text, *needle;
    } bad[] = {
        {"{\"bitz\": 8}", "'bitz'"},
        {"{\"bits\": 9}", "'bits' takes a whole number from 2 to 8"},
        {"{\"bits\": 8, \"bits\": 6}", "'bits' is given twice"},
        {"{\"scheme\": \"u8s8\"}", "not 'u8s8'"},
        {"{\"preset\": \"fast\"}", "not 'fast'"},
        {"{\"percentile\": 40}", "'percentile'"},
        {"{\"overrides\": [{\"match\": {\"op\": \"Conv\"}}, {\"match\": {\"op\": \"Conv\"}, \"format\": \"qdq\"}]}",
         "overrides[1]: 'format' is not a setting a node can override"},
        {"{\"overrides\": [{\"bits\": 6}]}", "overrides[0] has no \"match\""},
        {"{\"overrides\": [{\"match\": {\"op\": \"Conv\", \"name\": \"a\"}}]}", "'match'"},
        {"{\"overrides\": [{\"match\": {\"type\": \"Conv\"}}]}", "'type' is not a match"},
        {"{\"overrides\": [{\"match\": {\"op\": \"Conv\"}, \"granularity\": \"compensated\"}]}", "global"},
        {"{\"exclude\": [3]}", "'exclude'"},
        {"[1, 2]", "a config is a JSON object"},
        {"{\"bits\": ", "not JSON"},
    };
    qc_quantize_options base;
    qz_options_gemmlowp_per_tensor(&base);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        qc_config c;
        qc_error err = {{0}};
        ck_assert_int_eq(qc_config_parse(bad[i].text, strlen(bad[i].text), "my.json", &base, &c, &err), QC_ERR_INPUT);
        ck_assert_msg(strstr(err.msg, "my.json") && strstr(err.msg, bad[i].needle), "%s: %s", bad[i].text, err.msg);
        ck_assert_int_eq(c.options.n_overrides, 0);
    }
}
END_TEST

START_TEST(a_written_config_reads_back_to_the_same_options)
{
    qc_config c, back;
    parse_config_ok("{\"preset\": \"mixed\", \"method\": \"avgstd\", \"n\": 2.7, \"round\": \"half-away\","
                    " \"granularity\": \"compensated\", \"format\": \"fakequant\", \"act_round\": \"up\","
                    " \"exclude\": [\"a\", \"b\\\"c\"], \"overrides\": [{\"match\": {\"pattern\": \"x[0-9]*\"},"
                    " \"bits\": 5, \"reduce_range\": true, \"exclude\": false}]}", &c);
    char *text = qc_config_json(&c.options);
    ck_assert_ptr_nonnull(text);
    parse_config_ok(text, &back);
    const qc_quantize_options *a = &c.options, *b = &back.options;
    ck_assert(a->scheme == b->scheme && a->weights == b->weights && a->activations == QC_GRANULARITY_COMPENSATED &&
              b->activations == a->activations && a->method == b->method && a->range.n_std == b->range.n_std &&
              a->round == b->round && a->act_round == b->act_round && a->format == b->format &&
              a->weight_bits == b->weight_bits && b->n_exclude == 2 && !strcmp(b->exclude[1], "b\"c"));
    ck_assert_int_eq(b->n_overrides, 1);
    ck_assert(b->overrides[0].match == QC_MATCH_PATTERN && !strcmp(b->overrides[0].value, "x[0-9]*") &&
              b->overrides[0].act_bits == 5 && b->overrides[0].weight_bits == 5 && b->overrides[0].reduce_range &&
              b->overrides[0].set == a->overrides[0].set);
    char *again = qc_config_json(b);
    ck_assert_str_eq(text, again);
    free(text);
    free(again);
    qc_config_free(&c);
    qc_config_free(&back);
}
END_TEST

START_TEST(per_node_settings_reach_the_quantizer_and_formats_refuse_what_they_cannot_carry)
{
    qc_graph *g = qz_graph_a();
    qc_stats *s = qz_stats(g, -1.0f, 1.0f);
    qc_config c;
    parse_config_ok("{\"overrides\": [{\"match\": {\"op\": \"Conv\"}, \"weight_bits\": 4, \"act_bits\": 6},"
                    "{\"match\": {\"name\": \"fc\"}, \"granularity\": \"channel\", \"scheme\": \"mixed\"}]}", &c);
    qc_graph *q = NULL;
    qc_quantize_report rep;
    qc_error err;
    ck_assert_msg(qc_quantize(g, s, &c.options, &q, &rep, &err) == QC_OK, "%s", err.msg);
    const qc_quantized_tensor *w = report_entry(&rep, "w"), *w2 = report_entry(&rep, "w2"), *r = report_entry(&rep, "r"),
                              *x = report_entry(&rep, "x");
    ck_assert(w && w2 && r && x);
    /* Conv: 4-bit GemmLowP weights per tensor; its output (the fused Relu's) 6 bits */
    ck_assert(w->bits == 4 && w->n_channels == 1 && w->params[0].qmax == 15);
    ck_assert(r->bits == 6 && r->params[0].qmax == 63);
    /* fc: int8 symmetric weights per channel (mixed); the graph input keeps the globals */
    ck_assert(w2->bits == 8 && w2->n_channels == 4 && w2->params[0].qmin == -127 && w2->params[1].zero_point == 0);
    ck_assert(x->bits == 8 && x->params[0].qmax == 255);
    qc_quantize_report_free(&rep);
    qc_graph_destroy(q);

    c.options.format = QC_FORMAT_QOPERATOR; /* 6-bit activations do not fit QLinearConv */
    q = NULL;
    ck_assert_int_eq(qc_quantize(g, s, &c.options, &q, NULL, &err), QC_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "node 'conv'") && strstr(err.msg, "act_bits 6"), "%s", err.msg);
    ck_assert_ptr_null(q);
    qc_config_free(&c);

    parse_config_ok("{\"overrides\": [{\"match\": {\"name\": \"conv_z\"}, \"bits\": 6}]}", &c);
    ck_assert_int_eq(qc_quantize(g, s, &c.options, &q, NULL, &err), QC_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "'conv_z'"), "%s", err.msg);
    qc_config_free(&c);
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

START_TEST(the_tensorrt_target_quantizes_only_the_inputs_of_weighted_layers_in_int8)
{
    qc_graph *g = qz_graph_a();
    qc_stats *s = qz_stats(g, -1.0f, 1.0f);
    qc_quantize_options o;
    qz_options_gemmlowp_per_tensor(&o);
    qc_preset_apply("tensorrt", &o);
    qc_graph *q = NULL;
    qc_quantize_report rep;
    qc_error err;
    ck_assert_msg(qc_quantize(g, s, &o, &q, &rep, &err) == QC_OK, "%s", err.msg);
    /* x (Conv's input) and f (Gemm's): int8, zero point 0, even f which is non-negative;
     * the Conv and Gemm outputs and the pooled tensor stay float */
    ck_assert_ptr_null(report_entry(&rep, "c"));
    ck_assert_ptr_null(report_entry(&rep, "r"));
    ck_assert_ptr_null(report_entry(&rep, "p"));
    ck_assert_ptr_null(report_entry(&rep, "y"));
    const char *acts[] = {"x", "f"};
    for (int i = 0; i < 2; i++) {
        const qc_quantized_tensor *t = report_entry(&rep, acts[i]);
        ck_assert_msg(t && t->params[0].qmin == -128 && t->params[0].zero_point == 0, "%s", acts[i]);
    }
    const qc_quantized_tensor *w = report_entry(&rep, "w");
    ck_assert(w && w->n_channels == 3 && w->params[2].qmin == -127 && w->params[2].zero_point == 0);
    int q_nodes = 0;
    for (int i = 0; i < q->n_nodes; i++)
        q_nodes += !strcmp(q->nodes[i].op_type, "QuantizeLinear");
    ck_assert_int_eq(q_nodes, 2);
    qc_quantize_report_free(&rep);
    qc_graph_destroy(q);

    o.scheme = QC_SCHEME_MIXED; /* uint8 activations: not TensorRT's */
    ck_assert_int_eq(qc_quantize(g, s, &o, &q, NULL, &err), QC_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "tensorrt"));
    o.scheme = QC_SCHEME_SYMLOWP;
    o.format = QC_FORMAT_QOPERATOR;
    ck_assert_int_eq(qc_quantize(g, s, &o, &q, NULL, &err), QC_ERR_USAGE);
    qc_stats_destroy(s);
    qc_graph_destroy(g);
}
END_TEST

static TCase *config_tcase(void)
{
    TCase *t = tcase_create("configs");
    tcase_add_test(t, a_config_sets_globals_over_its_preset);
    tcase_add_test(t, overrides_take_name_over_pattern_over_op_and_the_later_row_among_equals);
    tcase_add_test(t, config_errors_name_the_file_and_the_key);
    tcase_add_test(t, a_written_config_reads_back_to_the_same_options);
    tcase_add_test(t, per_node_settings_reach_the_quantizer_and_formats_refuse_what_they_cannot_carry);
    tcase_add_test(t, the_tensorrt_target_quantizes_only_the_inputs_of_weighted_layers_in_int8);
    return t;
}

/* Textbook values of the 95 % Wilson score interval: 0 of 10 is [0, z²/(n + z²)], 50 of
 * 100 is [0.4038, 0.5962], n + z² in the denominator keeping it inside [0, 1]. */
START_TEST(the_report_interval_is_wilsons_score_interval)
{
    const double z2 = 1.959963984540054 * 1.959963984540054;
    double lo, hi;
    qc_report_wilson(0, 10, &lo, &hi);
    ck_assert_msg(fabs(lo) < 1e-12 && fabs(hi - z2 / (10.0 + z2)) < 1e-12, "0/10: [%g, %g]", lo, hi);
    qc_report_wilson(10, 10, &lo, &hi);
    ck_assert_msg(fabs(hi - 1.0) < 1e-12 && fabs(lo - 10.0 / (10.0 + z2)) < 1e-12, "10/10: [%g, %g]", lo, hi);
    qc_report_wilson(50, 100, &lo, &hi);
    ck_assert_msg(fabs(lo - 0.4038) < 5e-5 && fabs(hi - 0.5962) < 5e-5, "50/100: [%g, %g]", lo, hi);
    /* 90 % of 2,000 images: ±0.1 point is far inside the interval, noise */
    qc_report_wilson(1800, 2000, &lo, &hi);
    ck_assert_msg(hi - lo > 0.02 && lo < 0.899 && hi > 0.901, "1800/2000: [%g, %g]", lo, hi);
    qc_report_wilson(0, 0, &lo, &hi);
    ck_assert(isnan(lo) && isnan(hi));
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
    tcase_add_test(t, mixed_quantizes_weights_as_symlowp_and_activations_as_gemmlowp);
    tcase_add_test(t, every_bit_width_from_2_to_8_has_its_integer_range_and_scale);
    tcase_add_test(t, bit_widths_outside_2_to_8_are_rejected);
    tcase_add_test(t, reduce_range_restricts_weights_as_onnx_runtime_does);
    suite_add_tcase(s, t);

    t = tcase_create("rounding");
    tcase_add_test(t, each_round_mode_breaks_ties_as_documented);
    tcase_add_test(t, half_even_rounding_agrees_with_rintf_on_random_floats);
    tcase_add_test(t, every_round_mode_agrees_with_the_decimal_module_table);
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
    tcase_add_test(t, granularity_names_round_trip);
    suite_add_tcase(s, t);
    suite_add_tcase(s, metrics_tcase());
    suite_add_tcase(s, quantize_tcase());
    suite_add_tcase(s, config_tcase());
    t = tcase_create("report");
    tcase_add_test(t, the_report_interval_is_wilsons_score_interval);
    suite_add_tcase(s, t);
    t = tcase_create("bias-correction"); /* runs lenet over images: a loaded machine takes seconds */
    tcase_add_test(t, empirical_bias_correction_zeroes_each_layers_mean_error);
    tcase_add_test(t, empirical_bias_correction_reduces_lenets_layer_errors);
    tcase_set_timeout(t, 300);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return qc_check_run("check_calib", suite());
}
