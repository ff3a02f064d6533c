/* check_kernels_fp32.c — every FP32 kernel against a straightforward scalar reference, on
 * random shapes and on the edge shapes (size 1, odd sizes, asymmetric pads, groups, dilation). */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-util.h"
#include "kernels/fp32/fp32-impl.h"
#include "kernels/kernels.h"

/* Float paths are compared with the reference (computed in double) relative to the sum of the
 * magnitudes of the terms, which bounds the rounding error of any summation order. */
#define CONV_REL_TOL 1e-5
#define GEMM_REL_TOL 1e-5
#define POOL_AVG_REL_TOL 1e-6
#define BATCHNORM_REL_TOL 1e-5
#define SIGMOID_ABS_TOL 1e-6
#define SOFTMAX_ABS_TOL 1e-6

/* ---- helpers ----------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng_next(void)
{
    /* xorshift64*: deterministic, so that a failure replays. */
    rng_state ^= rng_state >> 12;
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

static float *rand_floats(int64_t n)
{
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (int64_t i = 0; i < n; i++)
        v[i] = rand_float(-1.0f, 1.0f);
    return v;
}

static double *new_doubles(int64_t n)
{
    double *v = calloc((size_t)(n > 0 ? n : 1), sizeof *v);
    ck_assert_ptr_nonnull(v);
    return v;
}

static int64_t product(const int64_t *d, int n)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        p *= d[i];
    return p;
}

/* Fails, with the position and both values, unless |got - want| <= tol * scale. */
static void assert_close(const char *what, int64_t i, float got, double want, double scale,
                         double tol)
{
    double diff = fabs((double)got - want);
    if (!(diff <= tol * scale + 1e-30))
        ck_abort_msg("%s: element %lld is %.9g, the reference %.9g (error %.3g, allowed %.3g)",
                     what, (long long)i, (double)got, want, diff, tol * scale);
}

/* "in 7x5 out 4x2 kernel 3x3 ..." for failure messages. */
static const char *describe_window(char *buf, size_t size, const qc_f32_window *w)
{
    static const char *const labels[] = {"in",       "out",       "kernel", "stride",
                                         "dilation", "pad_begin", "pad_end"};
    const int64_t *rows[] = {w->in,       w->out,       w->kernel, w->stride,
                             w->dilation, w->pad_begin, w->pad_end};
    size_t at = 0;
    buf[0] = '\0';
    for (int r = 0; r < 7 && at < size; r++) {
        at += (size_t)snprintf(buf + at, size - at, "%s%s ", r ? " " : "", labels[r]);
        for (int i = 0; i < w->spatial && at < size; i++)
            at += (size_t)snprintf(buf + at, size - at, "%s%lld", i ? "x" : "",
                                   (long long)rows[r][i]);
    }
    return buf;
}

/* A window over spatial dims with the output size from the explicit-pad formula. */
static qc_f32_window make_window(int spatial, const int64_t *in, const int64_t *kernel,
                                 const int64_t *stride, const int64_t *dilation,
                                 const int64_t *pad_begin, const int64_t *pad_end, bool ceil_mode)
{
    qc_f32_window w;
    memset(&w, 0, sizeof w);
    w.spatial = spatial;
    for (int i = 0; i < spatial; i++) {
        w.in[i] = in[i];
        w.kernel[i] = kernel[i];
        w.stride[i] = stride[i];
        w.dilation[i] = dilation[i];
        w.pad_begin[i] = pad_begin[i];
        w.pad_end[i] = pad_end[i];
        w.out[i] = qc_f32_window_out_size(in[i], kernel[i], stride[i], dilation[i], pad_begin[i],
                                          pad_end[i], ceil_mode);
    }
    return w;
}

/* A random window whose output is at least 1 in every dimension. */
static qc_f32_window random_window(int spatial, int64_t max_in, bool dilate, bool ceil_mode)
{
    for (;;) {
        int64_t in[3] = {0}, k[3] = {0}, s[3] = {0}, d[3] = {0}, pb[3] = {0}, pe[3] = {0};
        for (int i = 0; i < spatial; i++) {
            in[i] = rand_int(1, max_in);
            k[i] = rand_int(1, 4);
            s[i] = rand_int(1, 3);
            d[i] = dilate ? rand_int(1, 3) : 1;
            pb[i] = rand_int(0, k[i] - 1);
            pe[i] = rand_int(0, k[i] - 1);
        }
        qc_f32_window w = make_window(spatial, in, k, s, d, pb, pe, ceil_mode);
        bool fits = true;
        for (int i = 0; i < spatial; i++)
            fits = fits && w.out[i] >= 1;
        if (fits)
            return w;
    }
}

/* Spatial sizes of a window as exactly 3 dimensions, the leading ones 1: the references
 * loop over 3 dimensions whatever the rank. */
typedef struct {
    int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
} dims3;

static dims3 dims3_of(const qc_f32_window *w)
{
    dims3 g;
    int lead = 3 - w->spatial;
    for (int i = 0; i < 3; i++) {
        int j = i - lead;
        g.in[i] = j >= 0 ? w->in[j] : 1;
        g.out[i] = j >= 0 ? w->out[j] : 1;
        g.k[i] = j >= 0 ? w->kernel[j] : 1;
        g.s[i] = j >= 0 ? w->stride[j] : 1;
        g.d[i] = j >= 0 ? w->dilation[j] : 1;
        g.pb[i] = j >= 0 ? w->pad_begin[j] : 0;
        g.pe[i] = j >= 0 ? w->pad_end[j] : 0;
    }
    return g;
}

/* ---- window arithmetic ------------------------------------------------------------------- */

START_TEST(test_window_out_size_follows_the_onnx_formula)
{
    /* floor((in + pads - dilation*(k-1) - 1) / stride) + 1 */
    ck_assert_int_eq(qc_f32_window_out_size(32, 2, 1, 1, 0, 0, false), 31);
    ck_assert_int_eq(qc_f32_window_out_size(32, 5, 3, 1, 0, 0, false), 10);
    ck_assert_int_eq(qc_f32_window_out_size(28, 3, 1, 1, 2, 2, false), 30);
    ck_assert_int_eq(qc_f32_window_out_size(4, 2, 1, 2, 0, 0, false), 2);
    ck_assert_int_eq(qc_f32_window_out_size(1, 3, 1, 1, 1, 1, false), 1);
    /* test_maxpool_2d_ceil: 4 wide, kernel 3, stride 2 gives 1 rounded down, 2 rounded up */
    ck_assert_int_eq(qc_f32_window_out_size(4, 3, 2, 1, 0, 0, false), 1);
    ck_assert_int_eq(qc_f32_window_out_size(4, 3, 2, 1, 0, 0, true), 2);
}
END_TEST

START_TEST(test_ceil_mode_drops_a_window_that_starts_in_the_end_padding)
{
    /* in 4, kernel 2, stride 3, end pad 2: ceil((4+2-2)/3)+1 = 3 windows, but the third
     * would start at 6, past the input: PyTorch and ONNX Runtime give 2. */
    ck_assert_int_eq(qc_f32_window_out_size(4, 2, 3, 1, 0, 2, true), 2);
    ck_assert_int_eq(qc_f32_window_out_size(4, 2, 3, 1, 0, 2, false), 2);
}
END_TEST

START_TEST(test_window_out_size_is_below_one_when_the_kernel_does_not_fit)
{
    ck_assert_int_lt(qc_f32_window_out_size(2, 5, 1, 1, 0, 0, false), 1);
    ck_assert_int_lt(qc_f32_window_out_size(3, 2, 1, 3, 0, 0, false), 1);
    ck_assert_int_eq(qc_f32_window_out_size(3, 2, 1, 3, 1, 0, false), 1);
}
END_TEST

START_TEST(test_window_inside_gives_the_positions_that_read_real_input)
{
    for (int trial = 0; trial < 2000; trial++) {
        int64_t n = rand_int(0, 12), in = rand_int(0, 12), stride = rand_int(1, 4);
        int64_t offset = rand_int(-15, 15), lo, hi;
        qc_f32_window_inside(n, in, stride, offset, &lo, &hi);
        ck_assert_int_le(lo, hi);
        for (int64_t o = 0; o < n; o++) {
            int64_t pos = o * stride + offset;
            bool inside = pos >= 0 && pos < in;
            ck_assert_msg(inside == (o >= lo && o < hi),
                          "n %lld in %lld stride %lld offset %lld: position %lld", (long long)n,
                          (long long)in, (long long)stride, (long long)offset, (long long)o);
        }
    }
}
END_TEST

/* ---- convolution ------------------------------------------------------------------------- */

/* Direct loops over every output and tap, in double; mag receives the sum of the magnitudes
 * of the terms for the tolerance. */
static void conv_ref(const qc_f32_conv_params *p, int64_t batch, const float *x, const float *w,
                     const float *bias, double *y, double *mag)
{
    dims3 g = dims3_of(&p->win);
    int64_t in_plane = product(g.in, 3), out_plane = product(g.out, 3), taps = product(g.k, 3);
    int64_t cg = p->in_channels / p->groups, mg = p->out_channels / p->groups;
    for (int64_t n = 0; n < batch; n++)
        for (int64_t m = 0; m < p->out_channels; m++)
            for (int64_t o0 = 0; o0 < g.out[0]; o0++)
                for (int64_t o1 = 0; o1 < g.out[1]; o1++)
                    for (int64_t o2 = 0; o2 < g.out[2]; o2++) {
                        double sum = bias ? bias[m] : 0.0, abs_sum = bias ? fabs(bias[m]) : 0.0;
                        for (int64_t c = 0; c < cg; c++) {
                            int64_t ic = (m / mg) * cg + c;
                            for (int64_t k0 = 0; k0 < g.k[0]; k0++)
                                for (int64_t k1 = 0; k1 < g.k[1]; k1++)
                                    for (int64_t k2 = 0; k2 < g.k[2]; k2++) {
                                        int64_t i0 = o0 * g.s[0] - g.pb[0] + k0 * g.d[0];
                                        int64_t i1 = o1 * g.s[1] - g.pb[1] + k1 * g.d[1];
                                        int64_t i2 = o2 * g.s[2] - g.pb[2] + k2 * g.d[2];
                                        if (i0 < 0 || i0 >= g.in[0] || i1 < 0 || i1 >= g.in[1] ||
                                            i2 < 0 || i2 >= g.in[2])
                                            continue;
                                        double xv = x[(n * p->in_channels + ic) * in_plane +
                                                      (i0 * g.in[1] + i1) * g.in[2] + i2];
                                        double wv = w[(m * cg + c) * taps +
                                                      (k0 * g.k[1] + k1) * g.k[2] + k2];
                                        sum += xv * wv;
                                        abs_sum += fabs(xv * wv);
                                    }
                        }
                        int64_t at = (n * p->out_channels + m) * out_plane +
                                     (o0 * g.out[1] + o1) * g.out[2] + o2;
                        y[at] = sum;
                        mag[at] = abs_sum;
                    }
}

/* Runs the kernel and the reference on random data; returns the algorithm used. */
static qc_f32_conv_algo check_conv(const qc_f32_conv_params *p, int64_t batch, bool with_bias)
{
    int64_t taps = product(p->win.kernel, p->win.spatial);
    int64_t x_n = batch * p->in_channels * product(p->win.in, p->win.spatial);
    int64_t w_n = p->out_channels * (p->in_channels / p->groups) * taps;
    int64_t y_n = batch * p->out_channels * product(p->win.out, p->win.spatial);
    float *x = rand_floats(x_n), *w = rand_floats(w_n), *b = rand_floats(p->out_channels);
    float *y = rand_floats(y_n); /* garbage: the kernel must overwrite every element */
    double *ref = new_doubles(y_n), *mag = new_doubles(y_n);
    size_t scratch_bytes = qc_f32_conv_scratch_size(p, false);
    void *scratch = malloc(scratch_bytes ? scratch_bytes : 1);
    ck_assert_ptr_nonnull(scratch);

    qc_f32_conv(p, batch, x, w, NULL, with_bias ? b : NULL, y, scratch);
    conv_ref(p, batch, x, w, with_bias ? b : NULL, ref, mag);
    char geometry[400], what[512];
    snprintf(what, sizeof what, "conv C %lld M %lld groups %lld batch %lld %s",
             (long long)p->in_channels, (long long)p->out_channels, (long long)p->groups,
             (long long)batch, describe_window(geometry, sizeof geometry, &p->win));
    for (int64_t i = 0; i < y_n; i++)
        assert_close(what, i, y[i], ref[i], mag[i], CONV_REL_TOL);

    qc_f32_conv_algo algo = qc_f32_conv_choose(p);
    free(x), free(w), free(b), free(y), free(ref), free(mag), free(scratch);
    return algo;
}

static qc_f32_conv_params conv_params(int64_t c, int64_t m, int64_t groups, qc_f32_window win)
{
    qc_f32_conv_params p = {.win = win, .in_channels = c, .out_channels = m, .groups = groups};
    return p;
}

START_TEST(test_conv_matches_direct_loops_on_edge_shapes)
{
    struct {
        const char *name;
        int spatial;
        int64_t c, m, groups, in[3], k[3], s[3], d[3], pb[3], pe[3];
        qc_f32_conv_algo algo;
    } cases[] = {
        {"3x3 same", 2, 3, 4, 1, {7, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, QC_F32_CONV_IM2COL},
        {"strided asymmetric pads", 2, 1, 1, 1, {7, 5}, {3, 3}, {2, 2}, {1, 1}, {1, 0}, {1, 0}, QC_F32_CONV_IM2COL},
        {"one channel to many", 2, 1, 6, 1, {12, 12}, {5, 5}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, QC_F32_CONV_IM2COL},
        {"1x1 grouped", 2, 4, 6, 2, {5, 3}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, QC_F32_CONV_GEMM},
        {"1x1 strided", 2, 3, 2, 1, {6, 5}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, QC_F32_CONV_IM2COL},
        {"1x1 padded", 2, 2, 2, 1, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 0}, {0, 2}, QC_F32_CONV_IM2COL},
        {"depthwise", 2, 4, 4, 4, {6, 6}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, QC_F32_CONV_DEPTHWISE},
        {"depthwise x2 strided dilated", 2, 3, 6, 3, {9, 7}, {3, 2}, {2, 1}, {2, 3}, {2, 0}, {0, 1}, QC_F32_CONV_DEPTHWISE},
        {"depthwise wide rows", 2, 4, 8, 4, {5, 21}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, QC_F32_CONV_DEPTHWISE},
        {"depthwise wide strided rows", 2, 2, 2, 2, {4, 40}, {3, 5}, {1, 2}, {1, 2}, {0, 2}, {2, 3}, QC_F32_CONV_DEPTHWISE},
        {"depthwise 3x3 stride 2 padded at the end only", 2, 3, 3, 3, {9, 17}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {1, 1}, QC_F32_CONV_DEPTHWISE},
        {"depthwise 3x3 stride 2 leaving the last row and column unread", 2, 3, 3, 3, {16, 16}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, QC_F32_CONV_DEPTHWISE},
        {"dilated", 2, 3, 2, 1, {8, 8}, {3, 3}, {2, 2}, {2, 2}, {1, 1}, {1, 1}, QC_F32_CONV_IM2COL},
        {"kernel wider than input", 1, 4, 4, 1, {1}, {5}, {1}, {1}, {2}, {2}, QC_F32_CONV_IM2COL},
        {"1-d grouped", 1, 4, 6, 2, {6}, {3}, {1}, {1}, {0}, {0}, QC_F32_CONV_IM2COL},
        {"1-d depthwise", 1, 3, 3, 3, {10}, {3}, {2}, {1}, {1}, {1}, QC_F32_CONV_IM2COL},
        {"3-d strided padded", 3, 3, 4, 1, {5, 5, 5}, {2, 2, 2}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, QC_F32_CONV_IM2COL},
        {"3-d grouped dilated", 3, 4, 6, 2, {4, 5, 4}, {3, 2, 2}, {1, 1, 1}, {1, 2, 1}, {1, 0, 0}, {0, 0, 1}, QC_F32_CONV_IM2COL},
        {"3-d pointwise", 3, 3, 2, 1, {2, 3, 4}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, QC_F32_CONV_GEMM},
        {"one pixel", 2, 1, 1, 1, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, QC_F32_CONV_GEMM},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qc_f32_window win = make_window(cases[i].spatial, cases[i].in, cases[i].k, cases[i].s,
                                        cases[i].d, cases[i].pb, cases[i].pe, false);
        qc_f32_conv_params p = conv_params(cases[i].c, cases[i].m, cases[i].groups, win);
        ck_assert_msg(qc_f32_conv_choose(&p) == cases[i].algo, "%s: unexpected algorithm",
                      cases[i].name);
        check_conv(&p, 2, true);
        check_conv(&p, 1, false);
    }
}
END_TEST

START_TEST(test_conv_matches_direct_loops_on_random_shapes)
{
    int used[3] = {0, 0, 0};
    for (int trial = 0; trial < 300; trial++) {
        int spatial = (int)rand_int(1, 3);
        qc_f32_window win = random_window(spatial, spatial == 3 ? 5 : 9, true, false);
        int64_t groups = rand_int(1, 3);
        int64_t c = groups * rand_int(1, 3), m = groups * rand_int(1, 3);
        if (trial % 4 == 0) { /* pointwise: 1x1, stride 1, no padding */
            for (int i = 0; i < spatial; i++) {
                win.kernel[i] = win.stride[i] = 1;
                win.pad_begin[i] = win.pad_end[i] = 0;
                win.out[i] = win.in[i];
            }
        } else if (trial % 4 == 1) { /* depthwise, with a channel multiplier at times */
            groups = c;
            m = c * rand_int(1, 2);
        }
        qc_f32_conv_params p = conv_params(c, m, groups, win);
        used[check_conv(&p, rand_int(1, 3), trial % 2 == 0)]++;
    }
    ck_assert_msg(used[QC_F32_CONV_GEMM] > 0 && used[QC_F32_CONV_DEPTHWISE] > 0 &&
                      used[QC_F32_CONV_IM2COL] > 0,
                  "algorithms used: gemm %d, depthwise %d, im2col %d", used[0], used[1], used[2]);
}
END_TEST

START_TEST(test_conv_gives_an_image_the_same_bits_whatever_the_batch)
{
    const int64_t in[2] = {13, 11}, k[2] = {3, 3}, s[2] = {1, 1}, d[2] = {1, 1}, pad[2] = {1, 1};
    const int64_t k1[2] = {1, 1}, pad0[2] = {0, 0};
    qc_f32_conv_params cases[] = {
        conv_params(16, 24, 1, make_window(2, in, k, s, d, pad, pad, false)),
        conv_params(16, 24, 1, make_window(2, in, k1, s, d, pad0, pad0, false)),
        conv_params(16, 16, 16, make_window(2, in, k, s, d, pad, pad, false)),
    };
    const int64_t batch = 5;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const qc_f32_conv_params *p = &cases[c];
        int64_t x_img = p->in_channels * in[0] * in[1];
        int64_t y_img = p->out_channels * p->win.out[0] * p->win.out[1];
        float *x = rand_floats(batch * x_img), *w = rand_floats(p->out_channels * 16 * 9);
        float *b = rand_floats(p->out_channels);
        float *all = rand_floats(batch * y_img), *one = rand_floats(y_img);
        void *scratch = malloc(qc_f32_conv_scratch_size(p, false) + 1);
        qc_f32_conv(p, batch, x, w, NULL, b, all, scratch);
        for (int64_t n = 0; n < batch; n++) {
            qc_f32_conv(p, 1, x + n * x_img, w, NULL, b, one, scratch);
            ck_assert_msg(memcmp(one, all + n * y_img, (size_t)y_img * sizeof(float)) == 0,
                          "case %zu: image %lld differs alone and in a batch", c, (long long)n);
        }
        free(x), free(w), free(b), free(all), free(one), free(scratch);
    }
}
END_TEST

/* ---- GEMM and MatMul --------------------------------------------------------------------- */

START_TEST(test_gemm_matches_the_definition_with_every_bias_shape)
{
    for (int trial = 0; trial < 400; trial++) {
        int64_t m = rand_int(1, 33), n = rand_int(1, 33), k = rand_int(trial < 10 ? 0 : 1, 40);
        bool ta = rng_next() & 1, tb = rng_next() & 1;
        float alpha = trial % 3 ? rand_float(-2, 2) : 1.0f, beta = rand_float(-2, 2);
        int form = (int)rand_int(0, 4); /* none, 1x1, 1xn, mx1, mxn */
        int64_t c_rows = form == 3 || form == 4 ? m : 1, c_cols = form == 2 || form == 4 ? n : 1;
        float *a = rand_floats(m * k), *b = rand_floats(k * n), *c = rand_floats(m * n);
        float *y = rand_floats(m * n), *scratch = rand_floats(k);
        qc_f32_gemm(m, n, k, ta, tb, alpha, a, b, beta, form ? c : NULL, c_rows, c_cols, y,
                    scratch);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double sum = 0, mag = 0;
                for (int64_t t = 0; t < k; t++) {
                    double av = ta ? a[t * m + i] : a[i * k + t];
                    double bv = tb ? b[j * k + t] : b[t * n + j];
                    sum += av * bv;
                    mag += fabs(av * bv);
                }
                double want = alpha * sum, scale = fabs(alpha) * mag;
                if (form) {
                    double cv = c[(c_rows == 1 ? 0 : i) * c_cols + (c_cols == 1 ? 0 : j)];
                    want += beta * cv;
                    scale += fabs(beta * cv);
                }
                assert_close("gemm", i * n + j, y[i * n + j], want, scale, GEMM_REL_TOL);
            }
        free(a), free(b), free(c), free(y), free(scratch);
    }
}
END_TEST

START_TEST(test_gemm_row_results_do_not_depend_on_the_row_count)
{
    const int64_t m = 37, n = 300, k = 257;
    for (int form = 0; form < 4; form++) {
        bool ta = form & 1, tb = form & 2;
        float *a = rand_floats(m * k), *b = rand_floats(k * n), *c = rand_floats(n);
        float *all = rand_floats(m * n), *row = rand_floats(n), *a_row = rand_floats(k);
        float *scratch = rand_floats(k);
        qc_f32_gemm(m, n, k, ta, tb, 1.0f, a, b, 1.0f, c, 1, n, all, scratch);
        for (int64_t i = 0; i < m; i++) {
            for (int64_t t = 0; t < k; t++)
                a_row[t] = ta ? a[t * m + i] : a[i * k + t];
            qc_f32_gemm(1, n, k, false, tb, 1.0f, a_row, b, 1.0f, c, 1, n, row, NULL);
            ck_assert_msg(memcmp(row, all + i * n, (size_t)n * sizeof(float)) == 0,
                          "transA %d transB %d: row %lld differs alone", ta, tb, (long long)i);
        }
        free(a), free(b), free(c), free(all), free(row), free(a_row), free(scratch);
    }
}
END_TEST

START_TEST(test_matmul_broadcasts_batch_dimensions_like_numpy)
{
    struct {
        int a_rank, b_rank;
        int64_t a[5], b[5];
    } cases[] = {
        {2, 2, {3, 4}, {4, 3}},
        {3, 3, {2, 3, 4}, {2, 4, 3}},
        {4, 3, {2, 1, 3, 4}, {5, 4, 6}},
        {3, 2, {7, 1, 5}, {5, 2}},
        {2, 4, {3, 5}, {2, 3, 5, 1}},
        {4, 4, {1, 2, 3, 4}, {3, 1, 4, 2}},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        int ar = cases[ci].a_rank, br = cases[ci].b_rank;
        const int64_t *ad = cases[ci].a, *bd = cases[ci].b;
        int64_t m = ad[ar - 2], k = ad[ar - 1], n = bd[br - 1];
        int rank = (ar > br ? ar : br) - 2;
        int64_t batch[QC_F32_MAX_RANK], as[QC_F32_MAX_RANK], bs[QC_F32_MAX_RANK];
        int64_t a_step = m * k, b_step = k * n;
        for (int d = rank - 1; d >= 0; d--) {
            int ia = d - (rank - (ar - 2)), ib = d - (rank - (br - 2));
            int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
            batch[d] = da > db ? da : db;
            as[d] = da == 1 ? 0 : a_step;
            bs[d] = db == 1 ? 0 : b_step;
            a_step *= da;
            b_step *= db;
        }
        int64_t batches = product(batch, rank);
        float *a = rand_floats(product(ad, ar)), *b = rand_floats(product(bd, br));
        float *y = rand_floats(batches * m * n);
        qc_f32_matmul(rank, batch, as, bs, m, n, k, a, b, y);
        for (int64_t t = 0; t < batches; t++) {
            /* Unravel t and pick each operand's matrix by its own (broadcast) index. */
            int64_t rest = t, a_off = 0, b_off = 0;
            for (int d = rank - 1; d >= 0; d--) {
                int64_t idx = rest % batch[d];
                rest /= batch[d];
                a_off += idx * as[d];
                b_off += idx * bs[d];
            }
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) {
                    double sum = 0, mag = 0;
                    for (int64_t q = 0; q < k; q++) {
                        double p = (double)a[a_off + i * k + q] * b[b_off + q * n + j];
                        sum += p;
                        mag += fabs(p);
                    }
                    int64_t at = (t * m + i) * n + j;
                    assert_close("matmul", at, y[at], sum, mag, GEMM_REL_TOL);
                }
        }
        free(a), free(b), free(y);
    }
}
END_TEST

/* ---- elementwise binary ------------------------------------------------------------------ */

/* Random shapes that broadcast: y dims 1..4, each operand taking the dim, or 1, or dropping
 * leading dims. */
static int random_broadcast(int64_t *y, int *a_rank, int64_t *a, int *b_rank, int64_t *b)
{
    int rank = (int)rand_int(0, 5);
    for (int d = 0; d < rank; d++)
        y[d] = rand_int(1, 4);
    *a_rank = (int)rand_int(0, rank);
    *b_rank = (int)rand_int(0, rank);
    if (rng_next() & 1)
        *a_rank = rank;
    else
        *b_rank = rank;
    for (int d = 0; d < *a_rank; d++)
        a[d] = rng_next() % 3 ? y[rank - *a_rank + d] : 1;
    for (int d = 0; d < *b_rank; d++)
        b[d] = rng_next() % 3 ? y[rank - *b_rank + d] : 1;
    /* y is the broadcast of a and b: a dimension neither operand has becomes 1 */
    for (int d = 0; d < rank; d++) {
        int ia = d - (rank - *a_rank), ib = d - (rank - *b_rank);
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        y[d] = da > db ? da : db;
    }
    return rank;
}

/* The flat index into an operand of the element of y at flat index i. */
static int64_t source_index(int64_t i, int rank, const int64_t *y, int src_rank, const int64_t *src)
{
    int64_t at = 0, step = 1;
    for (int d = rank - 1; d >= 0; d--) {
        int64_t idx = i % y[d];
        i /= y[d];
        int s = d - (rank - src_rank);
        if (s >= 0) {
            at += (src[s] == 1 ? 0 : idx) * step;
            step *= src[s];
        }
    }
    return at;
}

START_TEST(test_float_binary_ops_broadcast_exactly_like_numpy)
{
    for (int trial = 0; trial < 500; trial++) {
        int64_t y_dims[8], a_dims[8], b_dims[8];
        int ar, br, rank = random_broadcast(y_dims, &ar, a_dims, &br, b_dims);
        int64_t yn = product(y_dims, rank);
        float *a = rand_floats(product(a_dims, ar)), *b = rand_floats(product(b_dims, br));
        float *y = rand_floats(yn);
        for (int64_t i = 0; i < product(b_dims, br); i++)
            b[i] = b[i] == 0.0f ? 0.5f : b[i];
        qc_f32_binary_op op = (qc_f32_binary_op)(trial % 4);
        qc_f32_binary(op, QC_F32_ELEM_FLOAT, a, ar, a_dims, b, br, b_dims, y, rank, y_dims);
        for (int64_t i = 0; i < yn; i++) {
            float p = a[source_index(i, rank, y_dims, ar, a_dims)];
            float q = b[source_index(i, rank, y_dims, br, b_dims)];
            float want = op == QC_F32_ADD ? p + q : op == QC_F32_SUB ? p - q
                       : op == QC_F32_MUL ? p * q : p / q;
            ck_assert_msg(y[i] == want, "op %d trial %d element %lld: %.9g, not %.9g", op, trial,
                          (long long)i, (double)y[i], (double)want);
        }
        free(a), free(b), free(y);
    }
}
END_TEST

START_TEST(test_integer_binary_ops_wrap_around_in_their_type)
{
    int64_t one = 1;
    uint8_t u8a = 200, u8b = 100, u8y;
    qc_f32_binary(QC_F32_ADD, QC_F32_ELEM_UINT8, &u8a, 1, &one, &u8b, 1, &one, &u8y, 1, &one);
    ck_assert_int_eq(u8y, 44);
    qc_f32_binary(QC_F32_SUB, QC_F32_ELEM_UINT8, &u8b, 1, &one, &u8a, 1, &one, &u8y, 1, &one);
    ck_assert_int_eq(u8y, 156);
    qc_f32_binary(QC_F32_MUL, QC_F32_ELEM_UINT8, &u8a, 1, &one, &u8b, 1, &one, &u8y, 1, &one);
    ck_assert_int_eq(u8y, (200 * 100) % 256);

    int8_t i8a = 100, i8b = 100, i8y;
    qc_f32_binary(QC_F32_ADD, QC_F32_ELEM_INT8, &i8a, 1, &one, &i8b, 1, &one, &i8y, 1, &one);
    ck_assert_int_eq(i8y, -56);
    i8a = -128, i8b = 2;
    qc_f32_binary(QC_F32_MUL, QC_F32_ELEM_INT8, &i8a, 1, &one, &i8b, 1, &one, &i8y, 1, &one);
    ck_assert_int_eq(i8y, 0);

    int32_t i32a = INT32_MAX, i32b = 1, i32y;
    qc_f32_binary(QC_F32_ADD, QC_F32_ELEM_INT32, &i32a, 1, &one, &i32b, 1, &one, &i32y, 1, &one);
    ck_assert_int_eq(i32y, INT32_MIN);
    i32a = 65536, i32b = 65537;
    qc_f32_binary(QC_F32_MUL, QC_F32_ELEM_INT32, &i32a, 1, &one, &i32b, 1, &one, &i32y, 1, &one);
    ck_assert_int_eq(i32y, 65536);

    int64_t i64a = INT64_MIN, i64b = 1, i64y;
    qc_f32_binary(QC_F32_SUB, QC_F32_ELEM_INT64, &i64a, 1, &one, &i64b, 1, &one, &i64y, 1, &one);
    ck_assert(i64y == INT64_MAX);
}
END_TEST

START_TEST(test_integer_division_truncates_toward_zero_and_never_traps)
{
    int64_t four = 4;
    int8_t i8a[4] = {-7, 7, -128, 5}, i8b[4] = {2, -2, -1, 0}, i8y[4];
    qc_f32_binary(QC_F32_DIV, QC_F32_ELEM_INT8, i8a, 1, &four, i8b, 1, &four, i8y, 1, &four);
    ck_assert_int_eq(i8y[0], -3);
    ck_assert_int_eq(i8y[1], -3);
    ck_assert_int_eq(i8y[2], -128);
    ck_assert_int_eq(i8y[3], 0);

    int32_t i32a[4] = {-7, 7, INT32_MIN, 5}, i32b[4] = {2, -2, -1, 0}, i32y[4];
    qc_f32_binary(QC_F32_DIV, QC_F32_ELEM_INT32, i32a, 1, &four, i32b, 1, &four, i32y, 1, &four);
    ck_assert_int_eq(i32y[0], -3);
    ck_assert_int_eq(i32y[1], -3);
    ck_assert_int_eq(i32y[2], INT32_MIN);
    ck_assert_int_eq(i32y[3], 0);

    int64_t i64a[4] = {-7, 7, INT64_MIN, 5}, i64b[4] = {2, -2, -1, 0}, i64y[4];
    qc_f32_binary(QC_F32_DIV, QC_F32_ELEM_INT64, i64a, 1, &four, i64b, 1, &four, i64y, 1, &four);
    ck_assert(i64y[0] == -3 && i64y[1] == -3 && i64y[2] == INT64_MIN && i64y[3] == 0);

    uint8_t u8a[4] = {255, 7, 0, 9}, u8b[4] = {2, 7, 3, 0}, u8y[4];
    qc_f32_binary(QC_F32_DIV, QC_F32_ELEM_UINT8, u8a, 1, &four, u8b, 1, &four, u8y, 1, &four);
    ck_assert(u8y[0] == 127 && u8y[1] == 1 && u8y[2] == 0 && u8y[3] == 0);
}
END_TEST

START_TEST(test_integer_binary_ops_broadcast_like_the_float_ones)
{
    for (int trial = 0; trial < 300; trial++) {
        int64_t y_dims[8], a_dims[8], b_dims[8];
        int ar, br, rank = random_broadcast(y_dims, &ar, a_dims, &br, b_dims);
        int64_t an = product(a_dims, ar), bn = product(b_dims, br), yn = product(y_dims, rank);
        int32_t *a = malloc((size_t)an * 4), *b = malloc((size_t)bn * 4), *y = malloc((size_t)yn * 4);
        uint8_t *a8 = malloc((size_t)an), *b8 = malloc((size_t)bn), *y8 = malloc((size_t)yn);
        for (int64_t i = 0; i < an; i++)
            a8[i] = (uint8_t)(a[i] = (int32_t)rand_int(-1000000, 1000000));
        for (int64_t i = 0; i < bn; i++)
            b8[i] = (uint8_t)(b[i] = (int32_t)rand_int(-3000, 3000));
        qc_f32_binary_op op = (qc_f32_binary_op)(trial % 4);
        qc_f32_binary(op, QC_F32_ELEM_INT32, a, ar, a_dims, b, br, b_dims, y, rank, y_dims);
        qc_f32_binary(op, QC_F32_ELEM_UINT8, a8, ar, a_dims, b8, br, b_dims, y8, rank, y_dims);
        for (int64_t i = 0; i < yn; i++) {
            int64_t p = a[source_index(i, rank, y_dims, ar, a_dims)];
            int64_t q = b[source_index(i, rank, y_dims, br, b_dims)];
            int64_t p8 = a8[source_index(i, rank, y_dims, ar, a_dims)];
            int64_t q8 = b8[source_index(i, rank, y_dims, br, b_dims)];
            int64_t want = op == QC_F32_ADD ? p + q : op == QC_F32_SUB ? p - q
                         : op == QC_F32_MUL ? p * q : q ? p / q : 0;
            int64_t want8 = op == QC_F32_ADD ? p8 + q8 : op == QC_F32_SUB ? p8 - q8
                          : op == QC_F32_MUL ? p8 * q8 : q8 ? p8 / q8 : 0;
            ck_assert_int_eq(y[i], (int32_t)(uint32_t)(uint64_t)want);
            ck_assert_int_eq(y8[i], (uint8_t)(uint64_t)want8);
        }
        free(a), free(b), free(y), free(a8), free(b8), free(y8);
    }
}
END_TEST

/* ---- elementwise unary ------------------------------------------------------------------- */

START_TEST(test_relu_leaky_relu_and_clip_are_exact)
{
    enum { N = 1001 };
    float x[N], y[N];
    for (int i = 0; i < N; i++)
        x[i] = rand_float(-5, 5);
    x[0] = -0.0f, x[1] = 0.0f, x[2] = -INFINITY, x[3] = INFINITY, x[4] = FLT_MIN;
    qc_f32_relu(N, x, y);
    for (int i = 0; i < N; i++)
        ck_assert_float_eq(y[i], x[i] < 0 ? 0.0f : x[i]);
    qc_f32_leaky_relu(N, 0.1f, x, y);
    for (int i = 0; i < N; i++)
        ck_assert_float_eq(y[i], x[i] < 0 ? 0.1f * x[i] : x[i]);
    qc_f32_clip(N, -1.5f, 2.25f, x, y);
    for (int i = 0; i < N; i++)
        ck_assert_float_eq(y[i], x[i] < -1.5f ? -1.5f : x[i] > 2.25f ? 2.25f : x[i]);
}
END_TEST

START_TEST(test_relu_and_clip_let_nan_through)
{
    float x = NAN, y = 0;
    qc_f32_relu(1, &x, &y);
    ck_assert(isnan(y));
    qc_f32_clip(1, -1, 1, &x, &y);
    ck_assert(isnan(y));
}
END_TEST

START_TEST(test_clip_with_min_above_max_gives_max_like_numpy)
{
    float x[3] = {-3, 0.5f, 3}, y[3];
    qc_f32_clip(3, 2, 1, x, y);
    for (int i = 0; i < 3; i++)
        ck_assert_float_eq(y[i], 1.0f);
}
END_TEST

START_TEST(test_integer_clip_saturates_bounds_to_the_type)
{
    int8_t i8[5] = {-128, -5, 0, 5, 127}, i8y[5];
    qc_f32_clip_int(QC_F32_ELEM_INT8, 5, INT64_MIN, 4, i8, i8y);
    const int8_t want8[5] = {-128, -5, 0, 4, 4};
    ck_assert_mem_eq(i8y, want8, sizeof want8);
    qc_f32_clip_int(QC_F32_ELEM_INT8, 5, -1000, 1000, i8, i8y);
    ck_assert_mem_eq(i8y, i8, sizeof i8);

    uint8_t u8[4] = {0, 9, 200, 255}, u8y[4];
    qc_f32_clip_int(QC_F32_ELEM_UINT8, 4, 10, 254, u8, u8y);
    const uint8_t want_u8[4] = {10, 10, 200, 254};
    ck_assert_mem_eq(u8y, want_u8, sizeof want_u8);

    int32_t i32[3] = {INT32_MIN, 0, INT32_MAX}, i32y[3];
    qc_f32_clip_int(QC_F32_ELEM_INT32, 3, 0, INT64_MAX, i32, i32y);
    const int32_t want32[3] = {0, 0, INT32_MAX};
    ck_assert_mem_eq(i32y, want32, sizeof want32);

    int64_t i64[3] = {INT64_MIN, -1, INT64_MAX}, i64y[3];
    qc_f32_clip_int(QC_F32_ELEM_INT64, 3, -1, INT64_MAX - 1, i64, i64y);
    const int64_t want64[3] = {-1, -1, INT64_MAX - 1};
    ck_assert_mem_eq(i64y, want64, sizeof want64);
}
END_TEST

START_TEST(test_sigmoid_is_accurate_and_finite_at_extremes)
{
    enum { N = 2001 };
    float x[N], y[N];
    for (int i = 0; i < N; i++)
        x[i] = -20.0f + 40.0f * (float)i / (N - 1);
    qc_f32_sigmoid(N, x, y);
    for (int i = 0; i < N; i++)
        assert_close("sigmoid", i, y[i], 1.0 / (1.0 + exp(-(double)x[i])), 1.0, SIGMOID_ABS_TOL);
    float big[4] = {-1000, -100, 100, 1000}, out[4];
    qc_f32_sigmoid(4, big, out);
    ck_assert_float_eq(out[0], 0.0f);
    ck_assert_float_eq(out[3], 1.0f);
    for (int i = 0; i < 4; i++)
        ck_assert(isfinite(out[i]) && out[i] >= 0.0f && out[i] <= 1.0f);
}
END_TEST

/* ---- pooling ----------------------------------------------------------------------------- */

/* Naive max pool over every tap (float), with the first maximum's row-major and column-major
 * positions. */
static void maxpool_ref(const qc_f32_window *w, int64_t planes, const float *x, float *y,
                        int64_t *row_idx, int64_t *col_idx)
{
    dims3 g = dims3_of(w);
    int64_t in_plane = product(g.in, 3);
    int64_t at = 0;
    for (int64_t p = 0; p < planes; p++)
        for (int64_t o0 = 0; o0 < g.out[0]; o0++)
            for (int64_t o1 = 0; o1 < g.out[1]; o1++)
                for (int64_t o2 = 0; o2 < g.out[2]; o2++, at++) {
                    float best = -INFINITY;
                    int64_t bi = -1, bc = -1;
                    for (int64_t k0 = 0; k0 < g.k[0]; k0++)
                        for (int64_t k1 = 0; k1 < g.k[1]; k1++)
                            for (int64_t k2 = 0; k2 < g.k[2]; k2++) {
                                int64_t i0 = o0 * g.s[0] - g.pb[0] + k0 * g.d[0];
                                int64_t i1 = o1 * g.s[1] - g.pb[1] + k1 * g.d[1];
                                int64_t i2 = o2 * g.s[2] - g.pb[2] + k2 * g.d[2];
                                if (i0 < 0 || i0 >= g.in[0] || i1 < 0 || i1 >= g.in[1] ||
                                    i2 < 0 || i2 >= g.in[2])
                                    continue;
                                int64_t pos = (i0 * g.in[1] + i1) * g.in[2] + i2;
                                float v = x[p * in_plane + pos];
                                if (bi < 0 || v > best) {
                                    best = v;
                                    bi = p * in_plane + pos;
                                    bc = p * in_plane + i0 + g.in[0] * (i1 + g.in[1] * i2);
                                }
                            }
                    y[at] = best;
                    row_idx[at] = bi;
                    col_idx[at] = bc;
                }
}

START_TEST(test_maxpool_matches_naive_loops_exactly_with_indices)
{
    for (int trial = 0; trial < 300; trial++) {
        int spatial = (int)rand_int(1, 3);
        qc_f32_window w = random_window(spatial, spatial == 3 ? 6 : 11, true, trial % 2 == 0);
        int64_t planes = rand_int(1, 4);
        int64_t xn = planes * product(w.in, spatial), yn = planes * product(w.out, spatial);
        float *x = rand_floats(xn), *y = rand_floats(yn), *ref = rand_floats(yn);
        /* few distinct values, so that ties happen and the first one must win */
        for (int64_t i = 0; i < xn; i++)
            x[i] = (float)(int)(x[i] * 4);
        int64_t *idx = malloc((size_t)yn * 8), *ridx = malloc((size_t)yn * 8),
                *cidx = malloc((size_t)yn * 8);
        bool column_major = trial % 3 == 0;
        qc_f32_maxpool(QC_F32_ELEM_FLOAT, &w, planes, x, y, idx, column_major);
        maxpool_ref(&w, planes, x, ref, ridx, cidx);
        char geometry[400];
        describe_window(geometry, sizeof geometry, &w);
        for (int64_t i = 0; i < yn; i++) {
            ck_assert_msg(y[i] == ref[i], "maxpool %s: element %lld is %g, not %g", geometry,
                          (long long)i, (double)y[i], (double)ref[i]);
            ck_assert_msg(idx[i] == (column_major ? cidx[i] : ridx[i]),
                          "maxpool %s: index %lld is %lld, not %lld", geometry, (long long)i,
                          (long long)idx[i], (long long)(column_major ? cidx[i] : ridx[i]));
        }

        /* The integer versions see the same values and give the same maxima. */
        uint8_t *xu = malloc((size_t)xn), *yu = malloc((size_t)yn);
        int8_t *xs = malloc((size_t)xn), *ys = malloc((size_t)yn);
        for (int64_t i = 0; i < xn; i++) {
            xu[i] = (uint8_t)(x[i] + 4);
            xs[i] = (int8_t)x[i];
        }
        qc_f32_maxpool(QC_F32_ELEM_UINT8, &w, planes, xu, yu, NULL, false);
        qc_f32_maxpool(QC_F32_ELEM_INT8, &w, planes, xs, ys, NULL, false);
        for (int64_t i = 0; i < yn; i++) {
            /* a window that only sees padding gives the type's lowest value */
            bool empty = ref[i] == -INFINITY;
            ck_assert_int_eq(yu[i], empty ? 0 : (int)ref[i] + 4);
            ck_assert_int_eq(ys[i], empty ? INT8_MIN : (int)ref[i]);
        }
        free(x), free(y), free(ref), free(idx), free(ridx), free(cidx);
        free(xu), free(yu), free(xs), free(ys);
    }
}
END_TEST

START_TEST(test_maxpool_reproduces_the_onnx_argmax_example)
{
    /* test_maxpool_with_argmax_2d_precomputed_strides: 5x5 of 1..25, kernel 2, stride 2,
     * storage_order 1 */
    float x[25], y[4];
    int64_t idx[4];
    for (int i = 0; i < 25; i++)
        x[i] = (float)(i + 1);
    const int64_t in[2] = {5, 5}, k[2] = {2, 2}, s[2] = {2, 2}, d[2] = {1, 1}, p[2] = {0, 0};
    qc_f32_window w = make_window(2, in, k, s, d, p, p, false);
    qc_f32_maxpool(QC_F32_ELEM_FLOAT, &w, 1, x, y, idx, true);
    const float want_y[4] = {7, 9, 17, 19};
    const int64_t want_idx[4] = {6, 16, 8, 18};
    ck_assert_mem_eq(y, want_y, sizeof want_y);
    ck_assert_mem_eq(idx, want_idx, sizeof want_idx);
}
END_TEST

START_TEST(test_maxpool_propagates_nan)
{
    float x[4] = {1, NAN, 3, 2}, y[2];
    const int64_t in[1] = {4}, k[1] = {2}, s[1] = {2}, d[1] = {1}, p[1] = {0};
    qc_f32_window w = make_window(1, in, k, s, d, p, p, false);
    qc_f32_maxpool(QC_F32_ELEM_FLOAT, &w, 1, x, y, NULL, false);
    ck_assert(isnan(y[0]));
    ck_assert_float_eq(y[1], 3.0f);
    qc_f32_global_maxpool(1, 4, x, y);
    ck_assert(isnan(y[0]));
}
END_TEST

static void avgpool_ref(const qc_f32_window *w, int64_t planes, bool include_pad, const float *x,
                        double *y, double *mag)
{
    dims3 g = dims3_of(w);
    int64_t in_plane = product(g.in, 3), at = 0;
    for (int64_t p = 0; p < planes; p++)
        for (int64_t o0 = 0; o0 < g.out[0]; o0++)
            for (int64_t o1 = 0; o1 < g.out[1]; o1++)
                for (int64_t o2 = 0; o2 < g.out[2]; o2++, at++) {
                    double sum = 0, abs_sum = 0;
                    int64_t inside = 0, padded = 0;
                    for (int64_t k0 = 0; k0 < g.k[0]; k0++)
                        for (int64_t k1 = 0; k1 < g.k[1]; k1++)
                            for (int64_t k2 = 0; k2 < g.k[2]; k2++) {
                                int64_t i[3] = {o0 * g.s[0] - g.pb[0] + k0 * g.d[0],
                                                o1 * g.s[1] - g.pb[1] + k1 * g.d[1],
                                                o2 * g.s[2] - g.pb[2] + k2 * g.d[2]};
                                bool real = true, in_padded = true;
                                for (int t = 0; t < 3; t++) {
                                    real = real && i[t] >= 0 && i[t] < g.in[t];
                                    in_padded = in_padded && i[t] >= -g.pb[t] &&
                                                i[t] < g.in[t] + g.pe[t];
                                }
                                padded += in_padded;
                                if (!real)
                                    continue;
                                double v = x[p * in_plane + (i[0] * g.in[1] + i[1]) * g.in[2] + i[2]];
                                sum += v;
                                abs_sum += fabs(v);
                                inside++;
                            }
                    int64_t count = include_pad ? padded : inside;
                    y[at] = count ? sum / (double)count : 0.0;
                    mag[at] = count ? abs_sum / (double)count : 0.0;
                }
}

START_TEST(test_avgpool_matches_naive_loops_with_and_without_padding_counted)
{
    for (int trial = 0; trial < 300; trial++) {
        int spatial = (int)rand_int(1, 3);
        qc_f32_window w = random_window(spatial, spatial == 3 ? 6 : 11, trial % 4 == 0,
                                        trial % 2 == 0);
        int64_t planes = rand_int(1, 3);
        int64_t xn = planes * product(w.in, spatial), yn = planes * product(w.out, spatial);
        bool include_pad = trial % 3 == 0;
        float *x = rand_floats(xn), *y = rand_floats(yn);
        double *ref = new_doubles(yn), *mag = new_doubles(yn);
        qc_f32_avgpool(&w, planes, include_pad, x, y);
        avgpool_ref(&w, planes, include_pad, x, ref, mag);
        char geometry[400], what[480];
        snprintf(what, sizeof what, "avgpool%s %s", include_pad ? " counting pads" : "",
                 describe_window(geometry, sizeof geometry, &w));
        for (int64_t i = 0; i < yn; i++)
            assert_close(what, i, y[i], ref[i], mag[i], POOL_AVG_REL_TOL);
        free(x), free(y), free(ref), free(mag);
    }
}
END_TEST

START_TEST(test_avgpool_reproduces_the_onnx_ceil_example)
{
    /* test_averagepool_2d_ceil: 4x4 of 1..16, kernel 3, stride 2, ceil_mode */
    float x[16], y[4];
    for (int i = 0; i < 16; i++)
        x[i] = (float)(i + 1);
    const int64_t in[2] = {4, 4}, k[2] = {3, 3}, s[2] = {2, 2}, d[2] = {1, 1}, p[2] = {0, 0};
    qc_f32_window w = make_window(2, in, k, s, d, p, p, true);
    ck_assert_int_eq(w.out[0], 2);
    qc_f32_avgpool(&w, 1, false, x, y);
    const float want[4] = {6, 7.5f, 12, 13.5f};
    ck_assert_mem_eq(y, want, sizeof want);
}
END_TEST

START_TEST(test_global_pools_reduce_each_plane)
{
    for (int trial = 0; trial < 50; trial++) {
        int64_t planes = rand_int(1, 6), size = rand_int(1, 300);
        float *x = rand_floats(planes * size), *avg = rand_floats(planes),
              *max = rand_floats(planes);
        qc_f32_global_avgpool(planes, size, x, avg);
        qc_f32_global_maxpool(planes, size, x, max);
        for (int64_t p = 0; p < planes; p++) {
            double sum = 0, abs_sum = 0;
            float best = -INFINITY;
            for (int64_t i = 0; i < size; i++) {
                sum += x[p * size + i];
                abs_sum += fabs(x[p * size + i]);
                best = x[p * size + i] > best ? x[p * size + i] : best;
            }
            assert_close("global avgpool", p, avg[p], sum / (double)size,
                         abs_sum / (double)size, POOL_AVG_REL_TOL);
            ck_assert_float_eq(max[p], best);
        }
        free(x), free(avg), free(max);
    }
}
END_TEST

/* ---- normalization ----------------------------------------------------------------------- */

START_TEST(test_batchnorm_matches_the_formula)
{
    for (int trial = 0; trial < 50; trial++) {
        int64_t batch = rand_int(1, 3), channels = rand_int(1, 7), plane = rand_int(1, 50);
        int64_t n = batch * channels * plane;
        float *x = rand_floats(n), *y = rand_floats(n), *scale = rand_floats(channels),
              *bias = rand_floats(channels), *mean = rand_floats(channels),
              *var = rand_floats(channels);
        for (int64_t c = 0; c < channels; c++)
            var[c] = fabsf(var[c]) * 3;
        float eps = trial % 2 ? 1e-5f : 1e-2f;
        qc_f32_batchnorm(batch, channels, plane, x, scale, bias, mean, var, eps, y);
        for (int64_t i = 0; i < n; i++) {
            int64_t c = (i / plane) % channels;
            double inv = 1.0 / sqrt((double)var[c] + eps);
            double t = ((double)x[i] - mean[c]) * inv * scale[c];
            double scl = (fabs(x[i]) + fabs(mean[c])) * inv * fabs(scale[c]) + fabs(bias[c]);
            assert_close("batchnorm", i, y[i], t + bias[c], scl, BATCHNORM_REL_TOL);
        }
        free(x), free(y), free(scale), free(bias), free(mean), free(var);
    }
}
END_TEST

START_TEST(test_softmax_matches_the_definition_along_any_axis)
{
    for (int trial = 0; trial < 100; trial++) {
        int64_t outer = rand_int(1, 5), axis = rand_int(1, 20), inner = rand_int(1, 6);
        int64_t n = outer * axis * inner;
        float *x = rand_floats(n), *y = rand_floats(n);
        for (int64_t i = 0; i < n; i++)
            x[i] *= 10;
        qc_f32_softmax(outer, axis, inner, x, y);
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++) {
                double sum = 0;
                for (int64_t j = 0; j < axis; j++)
                    sum += exp((double)x[(o * axis + j) * inner + i]);
                double total = 0;
                for (int64_t j = 0; j < axis; j++) {
                    int64_t at = (o * axis + j) * inner + i;
                    assert_close("softmax", at, y[at], exp((double)x[at]) / sum, 1.0,
                                 SOFTMAX_ABS_TOL);
                    total += y[at];
                }
                ck_assert_double_eq_tol(total, 1.0, SOFTMAX_ABS_TOL * (double)axis);
            }
        free(x), free(y);
    }
}
END_TEST

START_TEST(test_softmax_of_large_numbers_does_not_overflow)
{
    /* test_softmax_large_number: the same result as for the inputs minus their maximum */
    float x[4] = {10000, 10001, 10002, 10003}, shifted[4] = {0, 1, 2, 3}, y[4], want[4];
    qc_f32_softmax(1, 4, 1, x, y);
    qc_f32_softmax(1, 4, 1, shifted, want);
    for (int i = 0; i < 4; i++) {
        ck_assert(isfinite(y[i]));
        ck_assert_float_eq(y[i], want[i]);
    }
    assert_close("softmax", 3, y[3], 0.643914213228014, 1.0, SOFTMAX_ABS_TOL);
}
END_TEST

/* ---- SIMD twins: the same bits on every instruction set ----------------------------------- */

/* Every FP32 kernel table the CPU can run (a qc_isa each), the scalar one first; a table the
 * CPU lacks is skipped, and said so once. The caller restores the default with
 * restore_default_isa. */
static int f32_isa_list(int *isas)
{
    static int told;
    int n = 0;
    for (int isa = QC_ISA_SCALAR; isa < QC_ISA_COUNT; isa++) {
        if (qc_f32_select(isa) == 0)
            isas[n++] = isa;
        else if (!told)
            fprintf(stderr, "check_kernels_fp32: skipping ISA level %d: this CPU lacks it\n", isa);
    }
    told = 1;
    return n;
}

static void restore_default_isa(void)
{
    ck_assert_int_eq(qc_f32_select(qc_cpu_isa()), 0);
}

/* Floats with the awkward values mixed in: signed zeros, infinities, NaN, subnormals. */
static void fill_special(int64_t n, float *v)
{
    static const float special[] = {-0.0f, 0.0f, INFINITY, -INFINITY, NAN, -NAN, FLT_MIN,
                                    -FLT_MIN / 4, FLT_MAX, -FLT_MAX, 1.0f, -1.0f};
    for (int64_t i = 0; i < n; i++)
        v[i] = rng_next() % 4 == 0 ? special[rng_next() % (sizeof special / sizeof special[0])]
                                   : rand_float(-4.0f, 4.0f);
}

/* Whether got and want hold the same n floats bit for bit, any NaN matching any NaN: x86
 * returns the first operand's NaN when both are NaN, and a compiler may swap a + b, so NaN
 * payloads are no property of the C source. */
static bool same_floats(const float *got, const float *want, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof got[i]) != 0 && !(isnan(got[i]) && isnan(want[i])))
            return false;
    return true;
}

START_TEST(test_relu_clip_and_bias_add_give_the_definition_bits_on_every_isa)
{
    int isas[QC_ISA_COUNT], n_isas = f32_isa_list(isas);
    enum { MAX_N = 133 };
    static const float bounds[][2] = {{0.0f, 6.0f}, {-1.5f, 2.25f}, {-0.0f, 0.0f}, {2.0f, 1.0f}};
    for (int64_t n = 0; n <= MAX_N; n += n < 40 ? 1 : 31) {
        float *x = malloc((size_t)(n + 1) * sizeof *x), *want = malloc((size_t)(n + 1) * sizeof *x);
        float *got = malloc((size_t)(n + 1) * sizeof *x);
        ck_assert(x && want && got);
        fill_special(n, x);
        for (int i = 0; i < n_isas; i++) {
            ck_assert_int_eq(qc_f32_select(isas[i]), 0);
            for (int64_t k = 0; k < n; k++) /* the definition, NaN passing through */
                want[k] = x[k] < 0.0f ? 0.0f : x[k];
            got[n] = 12345.0f; /* a sentinel: nothing is written past n */
            qc_f32_relu(n, x, got);
            ck_assert_msg(same_floats(got, want, n) && got[n] == 12345.0f,
                          "relu, n = %lld, %s", (long long)n, qc_f32_isa());
            for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
                float lo = bounds[b][0], hi = bounds[b][1];
                for (int64_t k = 0; k < n; k++) {
                    float v = x[k] < lo ? lo : x[k];
                    want[k] = v > hi ? hi : v;
                }
                qc_f32_clip(n, lo, hi, x, got);
                ck_assert_msg(same_floats(got, want, n) &&
                                  got[n] == 12345.0f,
                              "clip [%g, %g], n = %lld, %s", lo, hi, (long long)n, qc_f32_isa());
            }
            memcpy(got, x, (size_t)n * sizeof *got);
            for (int64_t k = 0; k < n; k++)
                want[k] = x[k] + 0.375f;
            qc_f32_kernels()->add_bias(n, 0.375f, got);
            ck_assert_msg(same_floats(got, want, n) && got[n] == 12345.0f,
                          "bias add, n = %lld, %s", (long long)n, qc_f32_isa());
        }
        free(x), free(want), free(got);
    }
    restore_default_isa();
}
END_TEST

/* Depthwise rows straight from their definition: taps in (kh, kw) order from 0, each product
 * rounded to float before it is added (the file is built without FMA contraction). */
static void dwconv_rows_reference(const qc_f32_dwrows *r, float *y)
{
    for (int64_t oh = 0; oh < r->out_h; oh++)
        for (int64_t ow = 0; ow < r->out_w; ow++) {
            float acc = 0.0f;
            for (int64_t kh = 0; kh < r->kernel_h; kh++)
                for (int64_t kw = 0; kw < r->kernel_w; kw++) {
                    float product = r->w[kh * r->kernel_w + kw] *
                                    r->base[oh * r->row_step + kh * r->dilation_h * r->cols +
                                            kw * r->dilation_w + ow * r->stride_w];
                    acc = acc + product;
                }
            float v = r->has_bias ? acc + r->bias : acc;
            if (r->clamp.on) {
                v = v < r->clamp.lo ? r->clamp.lo : v;
                v = v > r->clamp.hi ? r->clamp.hi : v;
            }
            y[oh * r->out_w + ow] = v;
        }
}

/* The activations fused into convolutions: none, Relu, ReLU6 and a bound below zero */
static qc_f32_clamp some_clamp(int trial)
{
    static const qc_f32_clamp clamps[] = {
        {false, 0, 0}, {true, 0.0f, INFINITY}, {true, 0.0f, 6.0f}, {true, -0.5f, 0.25f}};
    return clamps[trial % 4];
}

START_TEST(test_depthwise_rows_give_the_reference_bits_on_every_isa)
{
    int isas[QC_ISA_COUNT], n_isas = f32_isa_list(isas);
    static const int64_t widths[] = {1, 3, 7, 8, 15, 16, 17, 31, 33, 56, 65, 112};
    for (int trial = 0; trial < 400; trial++) {
        qc_f32_dwrows r = {.kernel_h = rand_int(1, 5), .kernel_w = rand_int(1, 5),
                          .stride_w = trial % 3 == 2 ? rand_int(3, 4) : 1 + trial % 3,
                          .dilation_h = rand_int(1, 2), .dilation_w = rand_int(1, 2),
                          .out_w = widths[trial % (sizeof widths / sizeof widths[0])],
                          .has_bias = trial % 2 == 0, .bias = rand_float(-1, 1),
                          .clamp = some_clamp(trial / 2), .out_h = rand_int(1, 6)};
        if (trial % 4 == 1) /* MobileNet's kernels, which have their own code */
            r.kernel_h = r.kernel_w = 3, r.dilation_h = r.dilation_w = 1,
            r.stride_w = 1 + trial / 4 % 2;
        int64_t stride_h = rand_int(1, 2);
        /* exactly the plane the rows read, so that any read past it is caught by ASan */
        r.cols = (r.out_w - 1) * r.stride_w + (r.kernel_w - 1) * r.dilation_w + 1;
        r.row_step = stride_h * r.cols;
        int64_t rows = (r.out_h - 1) * stride_h + (r.kernel_h - 1) * r.dilation_h + 1;
        int64_t taps = r.kernel_h * r.kernel_w, n_out = r.out_h * r.out_w;
        float *plane = malloc((size_t)(rows * r.cols) * sizeof *plane);
        float *w = malloc((size_t)taps * sizeof *w);
        float *want = malloc((size_t)n_out * sizeof *want);
        float *got = malloc((size_t)(n_out + 1) * sizeof *got);
        ck_assert(plane && w && want && got);
        fill_special(rows * r.cols, plane);
        if (trial % 5 != 0) /* mostly finite inputs, so that the sums carry real rounding */
            for (int64_t i = 0; i < rows * r.cols; i++)
                plane[i] = rand_float(-2, 2);
        for (int64_t i = 0; i < taps; i++)
            w[i] = rand_float(-1, 1);
        r.base = plane, r.w = w;
        dwconv_rows_reference(&r, want);
        for (int i = 0; i < n_isas; i++) {
            ck_assert_int_eq(qc_f32_select(isas[i]), 0);
            got[n_out] = 12345.0f;
            qc_f32_kernels()->dwconv_rows(&r, got);
            ck_assert_msg(same_floats(got, want, n_out) && got[n_out] == 12345.0f,
                          "%s: %lld rows of width %lld kernel %lldx%lld stride %lld dilation %lldx%lld bias %d "
                          "clamp %d",
                          qc_f32_isa(), (long long)r.out_h, (long long)r.out_w,
                          (long long)r.kernel_h,
                          (long long)r.kernel_w, (long long)r.stride_w, (long long)r.dilation_h,
                          (long long)r.dilation_w, r.has_bias, r.clamp.on);
        }
        free(plane), free(w), free(want), free(got);
    }
    restore_default_isa();
}
END_TEST

/* The unpadded plane's 3x3 kernels against the definition on the plane padded by hand: every
 * width up to 20 and 112, paddings 0 to 2 on each side, strides 1 and 2 across and down; x
 * and the zero row allocated to their size, so that a read outside them is caught by ASan */
START_TEST(test_depthwise_plane_gives_the_padded_reference_bits_on_every_isa)
{
    int isas[QC_ISA_COUNT], n_isas = f32_isa_list(isas);
    int trial = 0, planes = 0;
    for (int64_t s = 1; s <= 2; s++)
        for (int64_t pad = 0; pad <= 2; pad++)
            for (int64_t wi = 1; wi <= 21; wi++)
                for (int pick = 0; pick < 3; pick++, trial++) {
                    int64_t in_w = wi <= 20 ? wi : 112, in_h = rand_int(1, 6);
                    int64_t pad_top = pick == 0 ? pad : rand_int(0, 2);
                    int64_t pad_right = pick == 1 ? pad : rand_int(0, 2);
                    int64_t pad_bottom = rand_int(0, 2), stride_h = pick == 2 ? 3 - s : s;
                    int64_t out_w = (in_w + pad + pad_right - 3) / s + 1;
                    int64_t out_h = (in_h + pad_top + pad_bottom - 3) / stride_h + 1;
                    if (in_w + pad + pad_right < 3 || in_h + pad_top + pad_bottom < 3)
                        continue;
                    qc_f32_dwrows r = {.kernel_h = 3, .kernel_w = 3, .stride_w = s,
                                       .dilation_h = 1, .dilation_w = 1, .out_w = out_w,
                                       .out_h = out_h, .has_bias = trial % 2 == 0,
                                       .bias = rand_float(-1, 1), .clamp = some_clamp(trial / 2)};
                    r.cols = (out_w - 1) * s + 3;
                    r.row_step = stride_h * r.cols;
                    int64_t rows = (out_h - 1) * stride_h + 3, n_out = out_h * out_w;
                    float *x = malloc((size_t)(in_h * in_w) * sizeof *x);
                    float *zeros = calloc((size_t)in_w, sizeof *zeros);
                    float *padded = calloc((size_t)(rows * r.cols), sizeof *padded);
                    float w[9], *want = malloc((size_t)n_out * sizeof *want);
                    float *got = malloc((size_t)(n_out + 1) * sizeof *got);
                    ck_assert(x && zeros && padded && want && got);
                    fill_special(in_h * in_w, x);
                    if (trial % 5 != 0)
                        for (int64_t i = 0; i < in_h * in_w; i++)
                            x[i] = rand_float(-2, 2);
                    for (int t = 0; t < 9; t++)
                        w[t] = rand_float(-1, 1);
                    for (int64_t i = 0; i < rows; i++)
                        for (int64_t j = 0; j < r.cols; j++)
                            if (i >= pad_top && i - pad_top < in_h && j >= pad && j - pad < in_w)
                                padded[i * r.cols + j] = x[(i - pad_top) * in_w + j - pad];
                    r.base = padded, r.w = w;
                    dwconv_rows_reference(&r, want);
                    qc_f32_dwplane pl = {.r = r, .x = x, .zeros = zeros, .in_h = in_h,
                                         .in_w = in_w, .stride_h = stride_h,
                                         .pad_top = pad_top, .pad_left = pad};
                    for (int i = 0; i < n_isas; i++) {
                        ck_assert_int_eq(qc_f32_select(isas[i]), 0);
                        if (!qc_f32_kernels()->dwconv_plane)
                            continue;
                        got[n_out] = 12345.0f;
                        qc_f32_kernels()->dwconv_plane(&pl, got);
                        planes++;
                        ck_assert_msg(same_floats(got, want, n_out) && got[n_out] == 12345.0f,
                                      "%s: plane %lldx%lld pads %lld,%lld,%lld,%lld strides "
                                      "%lld,%lld bias %d clamp %d",
                                      qc_f32_isa(), (long long)in_h, (long long)in_w,
                                      (long long)pad_top, (long long)pad, (long long)pad_bottom,
                                      (long long)pad_right, (long long)stride_h, (long long)s,
                                      r.has_bias, r.clamp.on);
                    }
                    free(x), free(zeros), free(padded), free(want), free(got);
                }
    ck_assert_int_gt(planes, 300);
    restore_default_isa();
}
END_TEST

/* Whole depthwise and im2col convolutions (padding, strides, dilations, channel
 * multipliers, batches): every table gives the scalar table's bits. */
START_TEST(test_conv_gives_the_same_bits_on_every_isa)
{
    int isas[QC_ISA_COUNT], n_isas = f32_isa_list(isas);
    static const int64_t channels[] = {1, 3, 15, 16, 17, 33, 65};
    int used[3] = {0, 0, 0};
    for (int trial = 0; trial < 80; trial++) {
        int64_t c = channels[trial % 7], batch = 1 + trial % 2;
        bool depthwise = trial % 2 == 0 && c > 1; /* one group is the GEMM's */
        int64_t m = depthwise ? c * (trial % 5 == 4 ? 2 : 1) : rand_int(1, 9);
        int64_t in[2] = {rand_int(1, 20), rand_int(1, 40)}, k[2] = {3, 3};
        int64_t st[2] = {1 + trial % 3, 1 + trial % 3}, d[2] = {1, 1 + (trial % 7 == 3)};
        int64_t pb[2] = {rand_int(0, 2), rand_int(0, 2)}, pe[2] = {rand_int(0, 2), rand_int(0, 2)};
        if (trial % 4 == 3)
            k[0] = rand_int(1, 5), k[1] = rand_int(1, 5);
        qc_f32_window win = make_window(2, in, k, st, d, pb, pe, false);
        if (win.out[0] < 1 || win.out[1] < 1)
            continue;
        qc_f32_conv_params p = conv_params(c, m, depthwise ? c : 1, win);
        used[qc_f32_conv_choose(&p)]++;
        int64_t taps = k[0] * k[1], x_n = batch * c * in[0] * in[1];
        int64_t y_n = batch * m * win.out[0] * win.out[1];
        float *x = rand_floats(x_n), *w = rand_floats(m * (depthwise ? 1 : c) * taps);
        float *b = rand_floats(m), *want = malloc((size_t)y_n * sizeof *want);
        float *got = malloc((size_t)y_n * sizeof *got);
        void *scratch = malloc(qc_f32_conv_scratch_size(&p, false) + 1);
        /* the weights packed beforehand (as a prepared graph has them) on odd trials */
        int64_t depth = (depthwise ? 1 : c) * taps;
        float *packed = malloc(qc_f32_conv_weights_size(m, 1, depth) + 1);
        ck_assert(want && got && scratch && packed);
        if (!depthwise)
            qc_f32_conv_pack_weights(m, 1, depth, w, packed);
        for (int i = 0; i < n_isas; i++) {
            ck_assert_int_eq(qc_f32_select(isas[i]), 0);
            qc_f32_conv(&p, batch, x, w, trial % 2 && !depthwise ? packed : NULL,
                        trial % 3 ? b : NULL, i == 0 ? want : got, scratch);
            if (i > 0)
                ck_assert_msg(same_floats(got, want, y_n),
                              "%s: %lld channels to %lld, %s, in %lldx%lld, stride %lld",
                              qc_f32_isa(), (long long)c, (long long)m,
                              depthwise ? "depthwise" : "im2col", (long long)in[0],
                              (long long)in[1], (long long)st[0]);
        }
        free(x), free(w), free(b), free(want), free(got), free(scratch), free(packed);
    }
    ck_assert(used[QC_F32_CONV_DEPTHWISE] > 0 && used[QC_F32_CONV_IM2COL] > 0);
    restore_default_isa();
}
END_TEST

/* A convolution with a fused clamp gives the bytes of the convolution followed by
 * qc_f32_clip (as the unfused Conv and Relu or Clip nodes compute them), on every table and
 * algorithm; inputs with zeros of both signs, infinities and NaN. */
START_TEST(test_conv_with_a_fused_clamp_gives_the_bytes_of_conv_then_clip)
{
    int isas[QC_ISA_COUNT], n_isas = f32_isa_list(isas);
    int used[3] = {0, 0, 0};
    for (int trial = 0; trial < 48; trial++) {
        int algo = trial % 3; /* pointwise, depthwise, im2col */
        int64_t c = 1 + trial % 17, in[2] = {rand_int(1, 12), rand_int(1, 70)};
        int64_t m = algo == 1 ? c : rand_int(1, 20), groups = algo == 1 ? c : 1;
        int64_t k[2] = {algo == 0 ? 1 : 3, algo == 0 ? 1 : 3}, st[2] = {1, 1 + (algo == 2)};
        int64_t d[2] = {1, 1}, pad[2] = {algo == 0 ? 0 : 1, algo == 0 ? 0 : 1};
        qc_f32_window win = make_window(2, in, k, st, d, pad, pad, false);
        if (win.out[0] < 1 || win.out[1] < 1 || (algo == 1 && c == 1))
            continue;
        qc_f32_conv_params p = conv_params(c, m, groups, win);
        qc_f32_conv_params fused = p;
        fused.clamp = some_clamp(1 + trial / 3 % 3);
        used[qc_f32_conv_choose(&p)]++;
        int64_t x_n = c * in[0] * in[1], y_n = m * win.out[0] * win.out[1];
        float *x = malloc((size_t)x_n * sizeof *x), *w = rand_floats(m * (c / groups) * 9);
        float *b = rand_floats(m), *want = malloc((size_t)y_n * sizeof *want);
        float *got = malloc((size_t)y_n * sizeof *got);
        void *scratch = malloc(qc_f32_conv_scratch_size(&p, false) + 1);
        ck_assert(x && want && got && scratch);
        fill_special(x_n, x);
        for (int i = 0; i < n_isas; i++) {
            ck_assert_int_eq(qc_f32_select(isas[i]), 0);
            qc_f32_conv(&p, 1, x, w, NULL, trial % 2 ? b : NULL, want, scratch);
            qc_f32_clip(y_n, fused.clamp.lo, fused.clamp.hi, want, want);
            qc_f32_conv(&fused, 1, x, w, NULL, trial % 2 ? b : NULL, got, scratch);
            ck_assert_msg(!memcmp(got, want, (size_t)y_n * sizeof *got),
                          "%s: %lld channels to %lld, algorithm %d, clamp [%g, %g]", qc_f32_isa(),
                          (long long)c, (long long)m, algo, (double)fused.clamp.lo,
                          (double)fused.clamp.hi);
        }
        free(x), free(w), free(b), free(want), free(got), free(scratch);
    }
    ck_assert(used[QC_F32_CONV_GEMM] && used[QC_F32_CONV_DEPTHWISE] && used[QC_F32_CONV_IM2COL]);
    restore_default_isa();
}
END_TEST

/* The packed GEMM's definition, written out: each output one fmaf chain over t in order from
 * 0, then + bias[i]. */
static void gemm_chain_ref(int64_t m, int64_t n, int64_t k, const float *w, const float *b,
                           const float *bias, qc_f32_clamp clamp, float *y)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float acc = 0.0f;
            for (int64_t t = 0; t < k; t++)
                acc = fmaf(w[i * k + t], b[t * n + j], acc);
            acc = bias ? acc + bias[i] : acc;
            if (clamp.on) {
                acc = acc < clamp.lo ? clamp.lo : acc;
                acc = acc > clamp.hi ? clamp.hi : acc;
            }
            y[i * n + j] = acc;
        }
}

/* qc_f32_gemm_fill_rows under another name: the GEMM then fills column panels from it, as it
 * does from im2col, instead of reading the rows in place */
static void fill_rows_into_panels(const void *ctx, int64_t k0, int64_t kc, int64_t j0,
                                  int64_t nc, float *block)
{
    qc_f32_gemm_fill_rows(ctx, k0, kc, j0, nc, block);
}

/* One shape on every table against the definition: random operands, a bias when use_bias, the
 * clamp of clamp_trial, B filled into column panels when panels (read in place otherwise),
 * the output's row stride ldy ≥ n; every output written, nothing past column n. */
static void check_packed_gemm_on_every_isa(int64_t m, int64_t n, int64_t k, int64_t ldy,
                                           bool use_bias, int clamp_trial, bool panels)
{
    int isas[QC_ISA_COUNT], n_isas = f32_isa_list(isas);
    float *w = rand_floats(m * k), *b = rand_floats(k * n), *bias = rand_floats(m);
    float *want = rand_floats(m * n), *got = rand_floats(m * ldy);
    float *packed = malloc(qc_f32_gemm_packed_size(m, k)), *block = malloc(qc_f32_gemm_block_size());
    ck_assert(packed && block);
    qc_f32_clamp clamp = some_clamp(clamp_trial);
    gemm_chain_ref(m, n, k, w, b, use_bias ? bias : NULL, clamp, want);
    qc_f32_gemm_pack(m, k, w, packed);
    qc_f32_gemm_rows rows = {b, n};
    for (int i = 0; i < n_isas; i++) {
        ck_assert_int_eq(qc_f32_select(isas[i]), 0);
        const float guard = 12345.0f; /* everywhere: an output left unwritten shows, not the
                                         previous table's */
        for (int64_t j = 0; j < m * ldy; j++)
            got[j] = guard;
        qc_f32_gemm_packed(m, n, k, packed, panels ? fill_rows_into_panels : qc_f32_gemm_fill_rows,
                           &rows, use_bias ? bias : NULL, clamp.on ? &clamp : NULL, got, ldy,
                           block);
        for (int64_t r = 0; r < m; r++) {
            ck_assert_msg(same_floats(got + r * ldy, want + r * n, n),
                          "%s: m %lld n %lld k %lld clamp %d panels %d, row %lld differs from "
                          "the fmaf chain",
                          qc_f32_isa(), (long long)m, (long long)n, (long long)k, clamp.on,
                          panels, (long long)r);
            for (int64_t j = n; j < ldy; j++)
                ck_assert_msg(got[r * ldy + j] == guard, "%s: wrote past column n",
                              qc_f32_isa());
        }
    }
    free(w), free(b), free(bias), free(want), free(got), free(packed), free(block);
    restore_default_isa();
}

/* Every table's packed GEMM gives the definition's bits exactly, on shapes around the tile
 * (rows 1 .. 2·MR + 1, columns around the 24-column sub-tile, NR and the fill block) and
 * depths across the depth block (128: blocks split evenly, so 257 is three); the output's row
 * stride wider than n. */
START_TEST(test_packed_gemm_gives_the_fma_chain_bits_on_every_isa)
{
    static const int64_t cols[] = {1, 15, 16, 17, 24, 47, 48, 49, 97, 287, 288, 289, 700};
    static const int64_t depths[] = {1, 2, 9, 127, 128, 129, 257, 600};
    for (int trial = 0; trial < 104; trial++) { /* both fills on every depth */
        int64_t m = 1 + trial % (2 * QC_F32_GEMM_MR + 1), n = cols[trial % 13];
        check_packed_gemm_on_every_isa(m, n, depths[trial / 2 % 8], n + trial % 3, trial % 4,
                                       trial / 4, trial % 2);
    }
}
END_TEST

/* A last column panel of 1 to QC_F32_GEMM_NARROW columns is computed over all rows at once
 * (groups of up to 8 row panels, then single ones): heights across the groups and their
 * remainders, every narrow width after full panels (49, 196) and after a full fill block
 * (289), depths of one and of several blocks; the definition's bits on every table. */
START_TEST(test_packed_gemm_narrow_last_columns_over_many_row_panels)
{
    static const int64_t heights[] = {1, 9, 24, 25, 57, 64, 71, 100, 512};
    static const int64_t cols[] = {1, 2, 3, 4, 5, 49, 50, 51, 52, 196, 289};
    static const int64_t depths[] = {3, 129, 300};
    for (int trial = 0; trial < 66; trial++) {
        int64_t n = cols[trial % 11];
        check_packed_gemm_on_every_isa(heights[trial % 9], n, depths[trial % 3], n + trial % 2,
                                       trial % 4, trial / 3, trial % 2);
    }
}
END_TEST

/* A fused multiply-add rounds once: with w·b exact only in the wider format, the chain keeps
 * the low bits a separate multiply would drop (the test fails if a path multiplies and adds). */
START_TEST(test_packed_gemm_rounds_each_multiply_add_once)
{
    int isas[QC_ISA_COUNT], n_isas = f32_isa_list(isas);
    const float e = ldexpf(1.0f, -13);
    /* acc = fma(1 + e, 1 - e, -1) = -e² = -2^-26 exactly; a product rounded to float is 1
     * (1 - 2^-26 is not a float), and 1 - 1 = 0 */
    float w[2] = {1.0f, 1.0f + e}, b[2 * 16], bias = 0.0f;
    for (int j = 0; j < 16; j++)
        b[j] = -1.0f, b[16 + j] = 1.0f - e;
    float *packed = malloc(qc_f32_gemm_packed_size(1, 2)), *block = malloc(qc_f32_gemm_block_size());
    ck_assert(packed && block);
    qc_f32_gemm_pack(1, 2, w, packed);
    qc_f32_gemm_rows rows = {b, 16};
    for (int i = 0; i < n_isas; i++) {
        float y[16];
        ck_assert_int_eq(qc_f32_select(isas[i]), 0);
        qc_f32_gemm_packed(1, 16, 2, packed, qc_f32_gemm_fill_rows, &rows, &bias, NULL, y, 16,
                           block);
        for (int j = 0; j < 16; j++)
            ck_assert_msg(y[j] == -e * e, "%s: column %d is %a, not -2^-26", qc_f32_isa(), j,
                          (double)y[j]);
    }
    free(packed), free(block);
    restore_default_isa();
}
END_TEST

/* im2col panels on every table against their definition: pieces of every length across the
 * panel, strides 1 to 4, rows moved anywhere; the input exactly as long as the formula reads
 * on some trials (the last rows then cannot read whole vectors: ASan catches a read past it)
 * and sentinels after the panel's rows. */
START_TEST(test_im2col_panels_give_the_definition_on_every_isa)
{
    enum { NR = QC_F32_GEMM_NR, MAX_ROWS = 9, SLACK = 8 };
    int isas[QC_ISA_COUNT], n_isas = f32_isa_list(isas);
    for (int trial = 0; trial < 1000; trial++) {
        int64_t stride = rand_int(1, 4), rows = rand_int(1, MAX_ROWS), reads = 1;
        int64_t taps[MAX_ROWS];
        for (int64_t t = 0; t < rows; t++)
            taps[t] = rand_int(0, 200);
        qc_f32_im2col_piece pieces[NR];
        int64_t count = 0, width = rand_int(1, NR), max_len = rand_int(1, NR);
        for (int64_t j = 0; j < width; count++) {
            int64_t len = rand_int(1, width - j < max_len ? width - j : max_len);
            pieces[count] = (qc_f32_im2col_piece){.j = j, .len = len, .at = rand_int(0, 150)};
            for (int64_t t = 0; t < rows; t++) {
                int64_t end = taps[t] + pieces[count].at + (len - 1) * stride + 1;
                reads = end > reads ? end : reads;
            }
            j += len;
        }
        int64_t x_len = reads + (trial % 2 ? 0 : rand_int(0, 20));
        float *x = malloc((size_t)x_len * sizeof *x);
        float *got = malloc((size_t)(rows * NR + SLACK) * sizeof *got);
        ck_assert(x && got);
        fill_special(x_len, x);
        qc_f32_im2col_panel panel = {.x = x, .x_len = x_len, .stride = stride, .taps = taps,
                                     .rows = rows, .pieces = pieces, .count = count};
        for (int i = 0; i < n_isas; i++) {
            ck_assert_int_eq(qc_f32_select(isas[i]), 0);
            for (int64_t k = 0; k < rows * NR + SLACK; k++)
                got[k] = 12345.0f;
            qc_f32_kernels()->im2col_panel(&panel, got);
            for (int64_t t = 0; t < rows; t++)
                for (int64_t p = 0; p < count; p++)
                    for (int64_t q = 0; q < pieces[p].len; q++) {
                        const qc_f32_im2col_piece *pc = &pieces[p];
                        float want = x[taps[t] + pc->at + q * stride];
                        float have = got[t * NR + pc->j + q];
                        ck_assert_msg(memcmp(&have, &want, sizeof want) == 0,
                                      "%s: row %lld column %lld: %g, not %g (stride %lld, "
                                      "piece of %lld)",
                                      qc_f32_isa(), (long long)t, (long long)(pc->j + q),
                                      (double)have, (double)want, (long long)stride,
                                      (long long)pc->len);
                    }
            for (int64_t k = rows * NR; k < rows * NR + SLACK; k++)
                ck_assert_msg(got[k] == 12345.0f, "%s: wrote past the panel's rows",
                              qc_f32_isa());
        }
        free(x), free(got);
    }
    restore_default_isa();
}
END_TEST

/* im2col convolutions of every kernel width 1 to 7 with strides 1 to 3, dilations 1 and 2 and
 * every pair of pads below the kernel: every table gives the scalar table's bits (depths past
 * the rows described at once and the GEMM's depth block, outputs past a column block). */
START_TEST(test_im2col_conv_gives_the_same_bits_on_every_isa_for_every_width_stride_and_pad)
{
    int isas[QC_ISA_COUNT], n_isas = f32_isa_list(isas);
    int trials = 0;
    for (int64_t kw = 1; kw <= 7; kw++)
        for (int64_t st = 1; st <= 3; st++)
            for (int64_t dil = 1; dil <= 2; dil++)
                for (int64_t pb = 0; pb < kw; pb++)
                    for (int64_t pe = 0; pe < kw; pe += pb % 2 + 1) {
                        int64_t c = rand_int(1, 40), m = rand_int(1, 10), kh = rand_int(1, 3);
                        int64_t in[2] = {rand_int(kh, 12), rand_int(1, 90)}, k[2] = {kh, kw};
                        int64_t s[2] = {rand_int(1, 2), st}, d[2] = {1, dil};
                        int64_t pad_b[2] = {rand_int(0, kh - 1), pb}, pad_e[2] = {0, pe};
                        qc_f32_window win = make_window(2, in, k, s, d, pad_b, pad_e, false);
                        if (win.out[0] < 1 || win.out[1] < 1)
                            continue;
                        qc_f32_conv_params p = conv_params(c, m, 1, win);
                        ck_assert(qc_f32_conv_choose(&p) == QC_F32_CONV_IM2COL || kw == 1);
                        int64_t y_n = m * win.out[0] * win.out[1], x_n = c * in[0] * in[1];
                        float *x = malloc((size_t)x_n * sizeof *x), *w = rand_floats(m * c * kh * kw);
                        float *want = malloc((size_t)y_n * sizeof *want);
                        float *got = malloc((size_t)y_n * sizeof *got);
                        void *scratch = malloc(qc_f32_conv_scratch_size(&p, false) + 1);
                        ck_assert(x && want && got && scratch);
                        fill_special(x_n, x);
                        for (int i = 0; i < n_isas; i++) {
                            ck_assert_int_eq(qc_f32_select(isas[i]), 0);
                            qc_f32_conv(&p, 1, x, w, NULL, NULL, i == 0 ? want : got, scratch);
                            ck_assert_msg(i == 0 || same_floats(got, want, y_n),
                                          "%s: kernel %lldx%lld stride %lld dilation %lld pads "
                                          "%lld %lld, in %lldx%lld, %lld channels",
                                          qc_f32_isa(), (long long)kh, (long long)kw,
                                          (long long)st, (long long)dil, (long long)pb,
                                          (long long)pe, (long long)in[0], (long long)in[1],
                                          (long long)c);
                        }
                        trials++;
                        free(x), free(w), free(want), free(got), free(scratch);
                    }
    ck_assert_int_gt(trials, 200);
    restore_default_isa();
}
END_TEST

/* One im2col convolution on every table: the scalar table's result near the direct loops
 * (conv_ref), every other table's its bits. */
static void check_im2col_conv_on_every_isa(const qc_f32_conv_params *p, const int *isas,
                                           int n_isas)
{
    int spatial = p->win.spatial;
    int64_t c = p->in_channels, m = p->out_channels, taps = product(p->win.kernel, spatial);
    int64_t x_n = c * product(p->win.in, spatial), y_n = m * product(p->win.out, spatial);
    float *x = rand_floats(x_n), *w = rand_floats(m * c * taps), *b = rand_floats(m);
    float *want = malloc((size_t)y_n * sizeof *want), *got = malloc((size_t)y_n * sizeof *got);
    double *ref = new_doubles(y_n), *mag = new_doubles(y_n);
    void *scratch = malloc(qc_f32_conv_scratch_size(p, false) + 1);
    ck_assert(want && got && scratch);
    char geometry[400], what[512];
    snprintf(what, sizeof what, "im2col conv C %lld M %lld %s", (long long)c, (long long)m,
             describe_window(geometry, sizeof geometry, &p->win));
    ck_assert_msg(qc_f32_conv_choose(p) == QC_F32_CONV_IM2COL, "%s: not im2col", what);
    conv_ref(p, 1, x, w, b, ref, mag);
    for (int i = 0; i < n_isas; i++) {
        ck_assert_int_eq(qc_f32_select(isas[i]), 0);
        qc_f32_conv(p, 1, x, w, NULL, b, i == 0 ? want : got, scratch);
        if (i == 0)
            for (int64_t k = 0; k < y_n; k++)
                assert_close(what, k, want[k], ref[k], mag[k], CONV_REL_TOL);
        else
            ck_assert_msg(same_floats(got, want, y_n), "%s: %s differs from %s", what,
                          qc_f32_isa(), "scalar");
    }
    free(x), free(w), free(b), free(want), free(got), free(ref), free(mag), free(scratch);
}

/* Square 2-d kernels 1, 3, 5 and 7 with strides 1 and 2, dilations 1 and 2 and pads 0 to 3
 * on rows 1 to 20 and 56 wide (pieces shorter than, as long as and longer than a vector; rows
 * cut by the column panels), and 3-d kernels padded and strided: every table gives the scalar
 * table's bits, and the scalar table the direct loops' values. */
START_TEST(test_im2col_conv_gives_the_scalar_bits_on_rows_1_to_20_and_56_wide)
{
    int isas[QC_ISA_COUNT], n_isas = f32_isa_list(isas);
    ck_assert_int_eq(isas[0], QC_ISA_SCALAR);
    int trials = 0;
    for (int64_t k = 1; k <= 7; k += 2)
        for (int64_t st = 1; st <= 2; st++)
            for (int64_t pad = 0; pad <= 3; pad++)
                for (int64_t width = 1; width <= 21; width++) {
                    int64_t in[2] = {rand_int(1, 9), width <= 20 ? width : 56};
                    int64_t kk[2] = {k, k}, s[2] = {st, st}, d[2] = {1, 1 + (width + k) % 2};
                    int64_t pb[2] = {pad, pad}, pe[2] = {rand_int(0, pad), pad};
                    qc_f32_window win = make_window(2, in, kk, s, d, pb, pe, false);
                    if (win.out[0] < 1 || win.out[1] < 1 || (k == 1 && st == 1 && pad == 0))
                        continue;
                    qc_f32_conv_params p = conv_params(rand_int(1, k == 1 ? 70 : 4),
                                                       rand_int(1, 9), 1, win);
                    check_im2col_conv_on_every_isa(&p, isas, n_isas);
                    trials++;
                }
    for (int trial = 0; trial < 40; trial++) {
        int64_t in[3] = {rand_int(1, 6), rand_int(1, 7), rand_int(1, 20)};
        int64_t k[3] = {rand_int(1, 3), 3, 3};
        int64_t s[3] = {rand_int(1, 2), trial % 2 + 1, trial % 2 + 1};
        int64_t d[3] = {1, 1, rand_int(1, 2)}, pb[3] = {rand_int(0, 1), 1, rand_int(0, 3)};
        int64_t pe[3] = {rand_int(0, 1), rand_int(0, 1), 1};
        qc_f32_window win = make_window(3, in, k, s, d, pb, pe, false);
        if (win.out[0] < 1 || win.out[1] < 1 || win.out[2] < 1)
            continue;
        qc_f32_conv_params p = conv_params(rand_int(1, 5), rand_int(1, 9), 1, win);
        check_im2col_conv_on_every_isa(&p, isas, n_isas);
        trials++;
    }
    ck_assert_int_gt(trials, 500);
    restore_default_isa();
}
END_TEST

/* MaxPool without indices goes through the row kernels; with indices it keeps the per-pixel
 * loop, the reference here: every table gives its bits (ties of -0 and +0, NaN, padding). */
START_TEST(test_maxpool_rows_give_the_indexed_loop_bits_on_every_isa)
{
    int isas[QC_ISA_COUNT], n_isas = f32_isa_list(isas);
    for (int trial = 0; trial < 300; trial++) {
        int spatial = (int)rand_int(1, 3);
        int64_t max_in = spatial == 3 ? 6 : trial % 2 ? 40 : 11;
        qc_f32_window w = random_window(spatial, max_in, true, trial % 3 == 0);
        int64_t planes = rand_int(1, 3);
        int64_t xn = planes * product(w.in, spatial), yn = planes * product(w.out, spatial);
        float *x = rand_floats(xn), *want = rand_floats(yn), *got = rand_floats(yn + 1);
        int64_t *idx = malloc((size_t)yn * sizeof *idx);
        ck_assert_ptr_nonnull(idx);
        if (trial % 4 == 0)
            fill_special(xn, x);
        else if (trial % 4 == 1) /* few values, signed zeros among them: ties */
            for (int64_t i = 0; i < xn; i++)
                x[i] = rng_next() % 3 == 0 ? (rng_next() % 2 ? -0.0f : 0.0f) : (float)(int)(x[i] * 2);
        qc_f32_maxpool(QC_F32_ELEM_FLOAT, &w, planes, x, want, idx, false);
        char geometry[400];
        describe_window(geometry, sizeof geometry, &w);
        for (int i = 0; i < n_isas; i++) {
            ck_assert_int_eq(qc_f32_select(isas[i]), 0);
            got[yn] = 12345.0f;
            qc_f32_maxpool(QC_F32_ELEM_FLOAT, &w, planes, x, got, NULL, false);
            ck_assert_msg(same_floats(got, want, yn) && got[yn] == 12345.0f, "%s: maxpool %s",
                          qc_f32_isa(), geometry);
        }
        free(x), free(want), free(got), free(idx);
    }
    restore_default_isa();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kernels_fp32");
    TCase *tc = tcase_create("fp32");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_window_out_size_follows_the_onnx_formula);
    tcase_add_test(tc, test_ceil_mode_drops_a_window_that_starts_in_the_end_padding);
    tcase_add_test(tc, test_window_out_size_is_below_one_when_the_kernel_does_not_fit);
    tcase_add_test(tc, test_window_inside_gives_the_positions_that_read_real_input);
    tcase_add_test(tc, test_conv_matches_direct_loops_on_edge_shapes);
    tcase_add_test(tc, test_conv_matches_direct_loops_on_random_shapes);
    tcase_add_test(tc, test_conv_gives_an_image_the_same_bits_whatever_the_batch);
    tcase_add_test(tc, test_gemm_matches_the_definition_with_every_bias_shape);
    tcase_add_test(tc, test_gemm_row_results_do_not_depend_on_the_row_count);
    tcase_add_test(tc, test_matmul_broadcasts_batch_dimensions_like_numpy);
    tcase_add_test(tc, test_float_binary_ops_broadcast_exactly_like_numpy);
    tcase_add_test(tc, test_integer_binary_ops_wrap_around_in_their_type);
    tcase_add_test(tc, test_integer_division_truncates_toward_zero_and_never_traps);
    tcase_add_test(tc, test_integer_binary_ops_broadcast_like_the_float_ones);
    tcase_add_test(tc, test_relu_leaky_relu_and_clip_are_exact);
    tcase_add_test(tc, test_relu_and_clip_let_nan_through);
    tcase_add_test(tc, test_clip_with_min_above_max_gives_max_like_numpy);
    tcase_add_test(tc, test_integer_clip_saturates_bounds_to_the_type);
    tcase_add_test(tc, test_sigmoid_is_accurate_and_finite_at_extremes);
    tcase_add_test(tc, test_maxpool_matches_naive_loops_exactly_with_indices);
    tcase_add_test(tc, test_maxpool_reproduces_the_onnx_argmax_example);
    tcase_add_test(tc, test_maxpool_propagates_nan);
    tcase_add_test(tc, test_avgpool_matches_naive_loops_with_and_without_padding_counted);
    tcase_add_test(tc, test_avgpool_reproduces_the_onnx_ceil_example);
    tcase_add_test(tc, test_global_pools_reduce_each_plane);
    tcase_add_test(tc, test_batchnorm_matches_the_formula);
    tcase_add_test(tc, test_softmax_matches_the_definition_along_any_axis);
    tcase_add_test(tc, test_softmax_of_large_numbers_does_not_overflow);
    tcase_add_test(tc, test_relu_clip_and_bias_add_give_the_definition_bits_on_every_isa);
    tcase_add_test(tc, test_depthwise_rows_give_the_reference_bits_on_every_isa);
    tcase_add_test(tc, test_depthwise_plane_gives_the_padded_reference_bits_on_every_isa);
    tcase_add_test(tc, test_conv_gives_the_same_bits_on_every_isa);
    tcase_add_test(tc, test_conv_with_a_fused_clamp_gives_the_bytes_of_conv_then_clip);
    tcase_add_test(tc, test_packed_gemm_gives_the_fma_chain_bits_on_every_isa);
    tcase_add_test(tc, test_packed_gemm_narrow_last_columns_over_many_row_panels);
    tcase_add_test(tc, test_packed_gemm_rounds_each_multiply_add_once);
    tcase_add_test(tc, test_maxpool_rows_give_the_indexed_loop_bits_on_every_isa);
    tcase_add_test(tc, test_im2col_panels_give_the_definition_on_every_isa);
    tcase_add_test(tc, test_im2col_conv_gives_the_same_bits_on_every_isa_for_every_width_stride_and_pad);
    tcase_add_test(tc, test_im2col_conv_gives_the_scalar_bits_on_rows_1_to_20_and_56_wide);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    openblas_set_num_threads(1); /* as the executor runs the kernels */
    return qc_check_run("check_kernels_fp32", suite());
}
