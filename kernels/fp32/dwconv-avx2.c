/* dwconv-avx2.c — the depthwise kernel with 8 output pixels per ymm register: each lane does
 * the scalar kernel's operations in its order (product rounded, then added; no FMA), so the
 * bits are the same. */
#include "fp32-impl.h"

#include "avx2-impl.h"

#include <stdbool.h>

/* the bias and the clamp's bounds broadcast once per plane: a store through y could alias the
 * row description's floats, so read there they would be loaded again after every store */
typedef struct {
    bool has_bias, clamp;
    __m256 bias, lo, hi;
} finish_v;

static inline finish_v finish_of(const qc_f32_dwrows *r)
{
    return (finish_v){r->has_bias, r->clamp.on, _mm256_set1_ps(r->bias),
                      _mm256_set1_ps(r->clamp.lo), _mm256_set1_ps(r->clamp.hi)};
}

/* the sum + bias, then the clamp: vmaxps/vminps with the bound first are the scalar clamp's
 * comparisons (unary-avx2.c) */
static inline __m256 finish8(const finish_v *f, __m256 acc)
{
    if (f->has_bias)
        acc = _mm256_add_ps(acc, f->bias);
    if (f->clamp)
        acc = _mm256_min_ps(f->hi, _mm256_max_ps(f->lo, acc));
    return acc;
}

/* nv (1 to 4) vectors of outputs at once, vector v read from src[v] (the plane at its first
 * tap) and stored to y[v] under m[v]: nv independent chains of adds per weight broadcast, so
 * that the adds' latency overlaps. Inlined with nv constant. */
static inline __attribute__((always_inline)) void vectors8(const qc_f32_dwrows *r,
                                                           const float *const *src,
                                                           float *const *y, const __m256i *m,
                                                           int nv)
{
    int64_t cols = r->cols, sw = r->stride_w, dh = r->dilation_h, dw = r->dilation_w;
    const finish_v f = finish_of(r);
    __m256 acc[4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        acc[v] = _mm256_setzero_ps();
    for (int64_t kh = 0; kh < r->kernel_h; kh++)
        for (int64_t kw = 0; kw < r->kernel_w; kw++) {
            __m256 wv = _mm256_set1_ps(r->w[kh * r->kernel_w + kw]);
            int64_t tap = kh * dh * cols + kw * dw;
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[v] = _mm256_add_ps(
                    acc[v], _mm256_mul_ps(wv, qc_f32_load_strided8(src[v] + tap, sw, m[v])));
        }
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        _mm256_maskstore_ps(y[v], m[v], finish8(&f, acc[v]));
}

static void some_vectors8(const qc_f32_dwrows *r, const float *const *src, float *const *y,
                          const __m256i *m, int nv)
{
    if (nv >= 4)
        vectors8(r, src, y, m, 4);
    else if (nv == 3)
        vectors8(r, src, y, m, 3);
    else if (nv == 2)
        vectors8(r, src, y, m, 2);
    else
        vectors8(r, src, y, m, 1);
}

/* Any kernel: narrow rows up to 4 at once (a vector each), wide ones up to 4 vectors of a row
 * at once. */
static void rows8(const qc_f32_dwrows *r, float *y)
{
    const float *src[4];
    float *dst[4];
    __m256i m[4];
    if (r->out_w <= 8) {
        for (int64_t oh = 0; oh < r->out_h; oh += 4) {
            int nv = r->out_h - oh < 4 ? (int)(r->out_h - oh) : 4;
            for (int v = 0; v < nv; v++) {
                src[v] = r->base + (oh + v) * r->row_step;
                dst[v] = y + (oh + v) * r->out_w;
                m[v] = qc_f32_lanes8(r->out_w);
            }
            some_vectors8(r, src, dst, m, nv);
        }
        return;
    }
    for (int64_t oh = 0; oh < r->out_h; oh++)
        for (int64_t ow = 0; ow < r->out_w; ow += 32) {
            int64_t left = r->out_w - ow;
            int nv = left > 24 ? 4 : (int)((left + 7) / 8);
            for (int v = 0; v < nv; v++) {
                src[v] = r->base + oh * r->row_step + (ow + 8 * v) * r->stride_w;
                dst[v] = y + oh * r->out_w + ow + 8 * v;
                m[v] = qc_f32_lanes8(left - 8 * v);
            }
            some_vectors8(r, src, dst, m, nv);
        }
}

/* y[0..8) of a 3x3 kernel at stride 1, src at the first output's first tap; with full false
 * only the lanes of m are read and meant. */
static inline __attribute__((always_inline)) __m256 k3_stride1(const __m256 *w, const float *src,
                                                               int64_t cols, __m256i m, bool full)
{
    __m256 acc = _mm256_setzero_ps();
#pragma GCC unroll 3
    for (int kh = 0; kh < 3; kh++)
#pragma GCC unroll 3
        for (int kw = 0; kw < 3; kw++) {
            const float *p = src + kh * cols + kw;
            __m256 x = full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
            acc = _mm256_add_ps(acc, _mm256_mul_ps(w[kh * 3 + kw], x));
        }
    return acc;
}

/* k3_stride1 for two output rows one input row apart: the 4 input rows loaded once each */
static inline __attribute__((always_inline)) void k3_stride1_x2(const __m256 *w, const float *src,
                                                                int64_t cols, __m256i m,
                                                                bool full, __m256 *acc)
{
    acc[0] = acc[1] = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int ih = 0; ih < 4; ih++)
#pragma GCC unroll 3
        for (int kw = 0; kw < 3; kw++) {
            const float *p = src + ih * cols + kw;
            __m256 x = full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
            if (ih < 3)
                acc[0] = _mm256_add_ps(acc[0], _mm256_mul_ps(w[ih * 3 + kw], x));
            if (ih > 0)
                acc[1] = _mm256_add_ps(acc[1], _mm256_mul_ps(w[(ih - 1) * 3 + kw], x));
        }
}

/* The loads of a row's last masked vector of n < 8 outputs at stride 2 (split3's a, b, c, d):
 * the same for every row of a plane, so made once. */
static inline void split3_masks(int64_t n, __m256i *tm)
{
    tm[0] = qc_f32_lanes8(2 * n + 1), tm[1] = qc_f32_lanes8(2 * n - 7);
    tm[2] = qc_f32_lanes8(2 * n), tm[3] = qc_f32_lanes8(2 * n - 8);
}

/* The three taps of one input row at stride 2 for 8 outputs (or n under split3_masks' tm when
 * not full), p at the first output's first tap: two vectors of the row split by vshufps into
 * its even and odd columns, the third tap the even columns of the row one float on; output
 * lanes in the order 0 1 4 5 2 3 6 7 (one vpermpd at the end puts them back), no gather.
 * Reads p[0 .. 2n] only. */
static inline __attribute__((always_inline)) void split3(const float *p, const __m256i *tm,
                                                         bool full, __m256 *x)
{
    __m256 a = full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, tm[0]);
    __m256 b = full ? _mm256_loadu_ps(p + 8) : _mm256_maskload_ps(p + 8, tm[1]);
    __m256 c = full ? _mm256_loadu_ps(p + 1) : _mm256_maskload_ps(p + 1, tm[2]);
    __m256 d = full ? _mm256_loadu_ps(p + 9) : _mm256_maskload_ps(p + 9, tm[3]);
    x[0] = _mm256_shuffle_ps(a, b, 0x88);
    x[1] = _mm256_shuffle_ps(a, b, 0xdd);
    x[2] = _mm256_shuffle_ps(c, d, 0xdd);
}

/* the lanes of split3's order back in output order */
static inline __m256 unsplit(__m256 acc)
{
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(acc), 0xd8));
}

/* y[0..8) of a 3x3 kernel at stride 2 (the lanes of tm when not full), src at the first
 * output's first tap */
static inline __attribute__((always_inline)) __m256 k3_stride2(const __m256 *w, const float *src,
                                                               int64_t cols, const __m256i *tm,
                                                               bool full)
{
    __m256 acc = _mm256_setzero_ps(), x[3];
#pragma GCC unroll 3
    for (int kh = 0; kh < 3; kh++) {
        split3(src + kh * cols, tm, full, x);
#pragma GCC unroll 3
        for (int kw = 0; kw < 3; kw++)
            acc = _mm256_add_ps(acc, _mm256_mul_ps(w[kh * 3 + kw], x[kw]));
    }
    return unsplit(acc);
}

/* k3_stride2 for two output rows two input rows apart: the row they share split once */
static inline __attribute__((always_inline)) void k3_stride2_x2(const __m256 *w, const float *src,
                                                                int64_t cols, const __m256i *tm,
                                                                bool full, __m256 *acc)
{
    __m256 x[3];
    acc[0] = acc[1] = _mm256_setzero_ps();
#pragma GCC unroll 5
    for (int ih = 0; ih < 5; ih++) {
        split3(src + ih * cols, tm, full, x);
#pragma GCC unroll 3
        for (int kw = 0; kw < 3; kw++) {
            if (ih < 3)
                acc[0] = _mm256_add_ps(acc[0], _mm256_mul_ps(w[ih * 3 + kw], x[kw]));
            if (ih > 1)
                acc[1] = _mm256_add_ps(acc[1], _mm256_mul_ps(w[(ih - 2) * 3 + kw], x[kw]));
        }
    }
    acc[0] = unsplit(acc[0]);
    acc[1] = unsplit(acc[1]);
}

/* A 3x3 kernel without dilation: the 9 weights stay in registers over the whole plane, full
 * vectors with plain loads, the masked one at a row's end. */
static inline __attribute__((always_inline)) void rows8_k3(const qc_f32_dwrows *r, float *y,
                                                           int64_t stride)
{
    __m256 w[9];
    for (int t = 0; t < 9; t++)
        w[t] = _mm256_set1_ps(r->w[t]);
    int64_t cols = r->cols, out_w = r->out_w, oh = 0;
    const finish_v f = finish_of(r);
    __m256i tm[4];
    split3_masks(out_w % 8, tm);
    if (stride == 1 && r->row_step == cols) /* two rows at once where they share input rows */
        for (; oh + 2 <= r->out_h; oh += 2) {
            const float *row = r->base + oh * cols;
            float *yo = y + oh * out_w;
            __m256 acc[2];
            int64_t ow = 0;
            for (; ow + 8 <= out_w; ow += 8) {
                k3_stride1_x2(w, row + ow, cols, _mm256_set1_epi32(-1), true, acc);
                _mm256_storeu_ps(yo + ow, finish8(&f, acc[0]));
                _mm256_storeu_ps(yo + out_w + ow, finish8(&f, acc[1]));
            }
            if (ow < out_w) {
                __m256i m = qc_f32_lanes8(out_w - ow);
                k3_stride1_x2(w, row + ow, cols, m, false, acc);
                _mm256_maskstore_ps(yo + ow, m, finish8(&f, acc[0]));
                _mm256_maskstore_ps(yo + out_w + ow, m, finish8(&f, acc[1]));
            }
        }
    if (stride == 2 && r->row_step == 2 * cols)
        for (; oh + 2 <= r->out_h; oh += 2) {
            const float *row = r->base + oh * 2 * cols;
            float *yo = y + oh * out_w;
            __m256 acc[2];
            int64_t ow = 0;
            for (; ow + 8 <= out_w; ow += 8) {
                k3_stride2_x2(w, row + 2 * ow, cols, tm, true, acc);
                _mm256_storeu_ps(yo + ow, finish8(&f, acc[0]));
                _mm256_storeu_ps(yo + out_w + ow, finish8(&f, acc[1]));
            }
            if (ow < out_w) {
                __m256i m = qc_f32_lanes8(out_w - ow);
                k3_stride2_x2(w, row + 2 * ow, cols, tm, false, acc);
                _mm256_maskstore_ps(yo + ow, m, finish8(&f, acc[0]));
                _mm256_maskstore_ps(yo + out_w + ow, m, finish8(&f, acc[1]));
            }
        }
    for (; oh < r->out_h; oh++) {
        const float *row = r->base + oh * r->row_step;
        float *yo = y + oh * out_w;
        int64_t ow = 0;
        for (; ow + 8 <= out_w; ow += 8) {
            __m256 acc = stride == 1 ? k3_stride1(w, row + ow, cols, _mm256_set1_epi32(-1), true)
                                     : k3_stride2(w, row + 2 * ow, cols, tm, true);
            _mm256_storeu_ps(yo + ow, finish8(&f, acc));
        }
        if (ow < out_w) {
            __m256i m = qc_f32_lanes8(out_w - ow);
            __m256 acc = stride == 1 ? k3_stride1(w, row + ow, cols, m, false)
                                     : k3_stride2(w, row + 2 * ow, cols, tm, false);
            _mm256_maskstore_ps(yo + ow, m, finish8(&f, acc));
        }
    }
}

/* MobileNet's 3x3 kernels at stride 1 and 2 get their own code */
void qc_f32_dwconv_rows__avx2(const qc_f32_dwrows *r, float *y)
{
    bool k3 = r->kernel_h == 3 && r->kernel_w == 3 && r->dilation_h == 1 && r->dilation_w == 1;
    if (k3 && r->stride_w == 1)
        rows8_k3(r, y, 1);
    else if (k3 && r->stride_w == 2)
        rows8_k3(r, y, 2);
    else
        rows8(r, y);
}

/* ---- the unpadded plane (qc_f32_dwplane): 3x3 windows, no padded copy -------------------- */

/* the lanes of 8 floats from column q that lie inside [0, in_w) */
static inline __m256i cols_inside(int64_t q, int64_t in_w)
{
    const __m256i i = _mm256_add_epi32(_mm256_set1_epi32((int32_t)q),
                                       _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), i),
                               _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)in_w), i));
}

/* the column offsets of plane3's loads from q: stride 1 the three taps, stride 2 split3's a,
 * b, c, d */
static const int64_t load_at[2][4] = {{0, 1, 2, 0}, {0, 8, 1, 9}};

/* 8 outputs of one output row, or of two (two: the second's window s input rows lower), the
 * first output's first tap at column q of rows[0]; rows[i] the window's input rows (zeros in
 * the padding). Full: plain loads; else load k under m[k] (cols_inside: the padding's zeros,
 * and masked-off lanes read no memory). Each output's taps in (kh, kw) order from 0 as
 * k3_stride1 and k3_stride2 add them; stride 2 splits even and odd columns as split3 does. */
static inline __attribute__((always_inline)) void plane3(const __m256 *w,
                                                         const float *const *rows, int two,
                                                         int64_t s, int64_t q, const __m256i *m,
                                                         bool full, __m256 *acc)
{
    acc[0] = acc[1] = _mm256_setzero_ps();
    const int n = two ? 3 + (int)s : 3;
#pragma GCC unroll 5
    for (int ih = 0; ih < n; ih++) {
        __m256 v[4], x[3];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            const float *p = rows[ih] + q + load_at[s - 1][k];
            if (s == 2 || k < 3)
                v[k] = full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m[k]);
        }
        if (s == 1) {
            x[0] = v[0], x[1] = v[1], x[2] = v[2];
        } else {
            x[0] = _mm256_shuffle_ps(v[0], v[1], 0x88);
            x[1] = _mm256_shuffle_ps(v[0], v[1], 0xdd);
            x[2] = _mm256_shuffle_ps(v[2], v[3], 0xdd);
        }
#pragma GCC unroll 3
        for (int kw = 0; kw < 3; kw++) {
            if (ih < 3)
                acc[0] = _mm256_add_ps(acc[0], _mm256_mul_ps(w[ih * 3 + kw], x[kw]));
            if (two && ih >= s)
                acc[1] = _mm256_add_ps(acc[1], _mm256_mul_ps(w[(ih - s) * 3 + kw], x[kw]));
        }
    }
    if (s == 2) {
        acc[0] = unsplit(acc[0]);
        acc[1] = unsplit(acc[1]);
    }
}

/* Where a plane's vectors of 8 outputs read: the first full one (its loads all inside the row
 * and its outputs all meant) and the end of the full ones; the others' load masks, the same
 * on every row, made once (edge[0] for the vector at 0, edge[1] and edge[2] for the last two,
 * where the others fall with pads up to 8). */
typedef struct {
    int64_t full_lo, full_hi, n;
    __m256i edge[3][4];
} plane_cols;

static inline __attribute__((always_inline)) plane_cols plane_cols_of(const qc_f32_dwplane *pl,
                                                                      int64_t s)
{
    plane_cols pc;
    const int64_t out_w = pl->r.out_w, last = s == 1 ? 9 : 16;
    pc.n = (out_w + 7) / 8;
    pc.full_lo = pc.n, pc.full_hi = 0;
    for (int64_t v = 0; v < pc.n; v++) {
        const int64_t q = 8 * v * s - pl->pad_left;
        if (8 * v + 8 <= out_w && q >= 0 && q + last < pl->in_w) {
            pc.full_lo = v < pc.full_lo ? v : pc.full_lo;
            pc.full_hi = v + 1;
        }
    }
    for (int e = 0; e < 3; e++) {
        const int64_t v = e == 0 ? 0 : pc.n - 3 + e, q = 8 * v * s - pl->pad_left;
        for (int k = 0; k < 4; k++)
            pc.edge[e][k] = cols_inside(q + load_at[s - 1][k], pl->in_w);
    }
    return pc;
}

/* vector v of 8 outputs that reaches outside the row: plane3 under masks */
static inline __attribute__((always_inline)) void edge_vector(const qc_f32_dwplane *pl,
                                                              const plane_cols *pc,
                                                              const finish_v *f,
                                                              const __m256 *w,
                                                              const float *const *rows, int two,
                                                              int64_t s, int64_t v, float *y)
{
    const qc_f32_dwrows *r = &pl->r;
    const int64_t ow = 8 * v, q = ow * s - pl->pad_left;
    __m256i own[4];
    const __m256i *m = own;
    if (v == 0)
        m = pc->edge[0];
    else if (v + 2 >= pc->n)
        m = pc->edge[v + 3 - pc->n];
    else
        for (int k = 0; k < 4; k++)
            own[k] = cols_inside(q + load_at[s - 1][k], pl->in_w);
    const __m256i keep = qc_f32_lanes8(r->out_w - ow);
    __m256 acc[2];
    plane3(w, rows, two, s, q, m, false, acc);
    _mm256_maskstore_ps(y + ow, keep, finish8(f, acc[0]));
    if (two)
        _mm256_maskstore_ps(y + r->out_w + ow, keep, finish8(f, acc[1]));
}

/* One output row (two rows with two) of the plane: the edge vectors under masks; the full
 * ones with plain loads, through k3_stride1 and k3_stride2 (one row pointer, the rows in_w
 * apart) when the window's rows are all inside, else plane3 on the rows (zeros among them). */
static inline __attribute__((always_inline)) void plane_rows(const qc_f32_dwplane *pl,
                                                             const plane_cols *pc,
                                                             const finish_v *f,
                                                             const __m256 *w,
                                                             const float *const *rows, int two,
                                                             int inside, int64_t s, float *y)
{
    const int64_t out_w = pl->r.out_w, in_w = pl->in_w;
    const int64_t lo = pc->full_lo < pc->n ? pc->full_lo : pc->n;
    const int64_t hi = pc->full_hi > lo ? pc->full_hi : lo;
    const __m256i all = _mm256_set1_epi32(-1);
    for (int64_t v = 0; v < lo; v++)
        edge_vector(pl, pc, f, w, rows, two, s, v, y);
    const float *src = rows[0] - pl->pad_left;
    for (int64_t ow = 8 * lo; ow < 8 * hi; ow += 8) {
        __m256 acc[2];
        if (!inside)
            plane3(w, rows, two, s, ow * s - pl->pad_left, NULL, true, acc);
        else if (two && s == 1)
            k3_stride1_x2(w, src + ow, in_w, all, true, acc);
        else if (two)
            k3_stride2_x2(w, src + 2 * ow, in_w, NULL, true, acc);
        else
            acc[0] = s == 1 ? k3_stride1(w, src + ow, in_w, all, true)
                            : k3_stride2(w, src + 2 * ow, in_w, NULL, true);
        _mm256_storeu_ps(y + ow, finish8(f, acc[0]));
        if (two)
            _mm256_storeu_ps(y + out_w + ow, finish8(f, acc[1]));
    }
    for (int64_t v = hi; v < pc->n; v++)
        edge_vector(pl, pc, f, w, rows, two, s, v, y);
}

static inline __attribute__((always_inline)) void plane_k3(const qc_f32_dwplane *pl, float *y,
                                                           int64_t s)
{
    const qc_f32_dwrows *r = &pl->r;
    __m256 w[9];
    for (int t = 0; t < 9; t++)
        w[t] = _mm256_set1_ps(r->w[t]);
    const plane_cols pc = plane_cols_of(pl, s);
    const finish_v f = finish_of(r);
    const int pairs = pl->stride_h == s; /* two output rows share 3 − s input rows */
    for (int64_t oh = 0; oh < r->out_h;) {
        const int two = pairs && oh + 1 < r->out_h;
        const int64_t ih0 = oh * pl->stride_h - pl->pad_top, n = two ? 3 + s : 3;
        const int inside = ih0 >= 0 && ih0 + n <= pl->in_h;
        const float *rows[5];
        for (int64_t i = 0; i < 5; i++)
            rows[i] = ih0 + i >= 0 && ih0 + i < pl->in_h ? pl->x + (ih0 + i) * pl->in_w
                                                         : pl->zeros;
        float *yo = y + oh * r->out_w;
        if (two && inside)
            plane_rows(pl, &pc, &f, w, rows, 1, 1, s, yo);
        else if (two)
            plane_rows(pl, &pc, &f, w, rows, 1, 0, s, yo);
        else if (inside)
            plane_rows(pl, &pc, &f, w, rows, 0, 1, s, yo);
        else
            plane_rows(pl, &pc, &f, w, rows, 0, 0, s, yo);
        oh += two ? 2 : 1;
    }
}

void qc_f32_dwconv_plane__avx2(const qc_f32_dwplane *pl, float *y)
{
    if (pl->r.stride_w == 1)
        plane_k3(pl, y, 1);
    else
        plane_k3(pl, y, 2);
}
