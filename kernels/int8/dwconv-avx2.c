/* dwconv-avx2.c — AVX2 depthwise convolutions u8 × s8 → int32, bit-exact with dwconv-scalar.c. */
#include "dwconv-impl.h"

#include <immintrin.h>

/* Same loops as the reference; along a row the taps of 8 consecutive outputs are 8
 * consecutive inputs when stride_w = 1, so they are widened to int32 and multiplied
 * exactly (|(x − z_x)·(w − z_w)| ≤ 255² fits 32 bits, and vpmulld keeps the low 32 bits of
 * an exact product). Other strides take the reference's inner loop. */
QC_DWCONV_U8S8(qc_dwconv_u8s8__avx2)
{
    const size_t plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const size_t taps = p->kernel_h * p->kernel_w;
    /* the output range of each column tap is the same for every row and channel: computed
     * once (it costs two divisions) */
    size_t lo_kw[QC_DWCONV_MAX_KW], hi_kw[QC_DWCONV_MAX_KW];
    for (size_t kw = 0; kw < p->kernel_w && kw < QC_DWCONV_MAX_KW; kw++)
        qc_dwconv_inside(p->out_w, p->in_w, p->stride_w, kw * p->dilation_w, p->pad_left,
                         &lo_kw[kw], &hi_kw[kw]);
    const __m256i vzx = _mm256_set1_epi32(x_zero_point);
    for (size_t c = 0; c < channels; c++) {
        const uint8_t *xp = x + c * plane;
        const int32_t zw = w_zero_point ? w_zero_point[c] : 0;
        int32_t *ap = acc + c * out_plane;
        for (size_t i = 0; i < out_plane; i++)
            ap[i] = 0;
        for (size_t oh = 0; oh < p->out_h; oh++) {
            int32_t *arow = ap + oh * p->out_w;
            for (size_t kh = 0; kh < p->kernel_h; kh++) {
                const size_t ih = oh * p->stride_h + kh * p->dilation_h;
                if (ih < p->pad_top || ih - p->pad_top >= p->in_h)
                    continue;
                const uint8_t *xrow = xp + (ih - p->pad_top) * p->in_w;
                for (size_t kw = 0; kw < p->kernel_w; kw++) {
                    const int32_t wv = (int32_t)w[c * taps + kh * p->kernel_w + kw] - zw;
                    size_t lo, hi, ow;
                    if (kw < QC_DWCONV_MAX_KW) {
                        lo = lo_kw[kw];
                        hi = hi_kw[kw];
                    } else {
                        qc_dwconv_inside(p->out_w, p->in_w, p->stride_w, kw * p->dilation_w,
                                         p->pad_left, &lo, &hi);
                    }
                    ow = lo;
                    if (p->stride_w == 1) {
                        const __m256i vw = _mm256_set1_epi32(wv);
                        const uint8_t *src = xrow + kw * p->dilation_w - p->pad_left;
                        for (; ow + 8 <= hi; ow += 8) {
                            const __m128i b = _mm_loadl_epi64((const __m128i *)(src + ow));
                            const __m256i d = _mm256_sub_epi32(_mm256_cvtepu8_epi32(b), vzx);
                            __m256i *dst = (__m256i *)(arow + ow);
                            _mm256_storeu_si256(dst, _mm256_add_epi32(_mm256_loadu_si256(dst),
                                                                      _mm256_mullo_epi32(d, vw)));
                        }
                    }
                    for (; ow < hi; ow++) {
                        const size_t iw = ow * p->stride_w + kw * p->dilation_w - p->pad_left;
                        arow[ow] += ((int32_t)xrow[iw] - x_zero_point) * wv;
                    }
                }
            }
        }
    }
}

/* One output pixel of the channels-last kernel with every tap checked against the padding
 * (windows the row path does not take, weights beyond the pixel path's stack buffers): 8
 * channels per vector, their sums kept in a register across all taps; products exact as
 * above. Channels beyond a multiple of 8 take the reference's loop. */
static void nhwc_pixel(size_t channels, const qc_pool2d *p, const uint8_t *x, int32_t x_zero_point,
                       const int8_t *w, const int32_t *w_zero_point, size_t oh, size_t ow,
                       int32_t *a)
{
    const __m256i vzx = _mm256_set1_epi32(x_zero_point);
    const size_t c8 = channels & ~(size_t)7;
    for (size_t c0 = 0; c0 < channels; c0 += 8) {
        const int vec = c0 < c8;
        __m256i sum = _mm256_setzero_si256();
        const __m256i vzw = vec && w_zero_point
                                ? _mm256_loadu_si256((const __m256i *)(w_zero_point + c0))
                                : _mm256_setzero_si256();
        int32_t tail[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (size_t kh = 0; kh < p->kernel_h; kh++) {
            const size_t ih = oh * p->stride_h + kh * p->dilation_h;
            if (ih < p->pad_top || ih - p->pad_top >= p->in_h)
                continue;
            for (size_t kw = 0; kw < p->kernel_w; kw++) {
                const size_t iw = ow * p->stride_w + kw * p->dilation_w;
                if (iw < p->pad_left || iw - p->pad_left >= p->in_w)
                    continue;
                const uint8_t *xr =
                    x + ((ih - p->pad_top) * p->in_w + iw - p->pad_left) * channels + c0;
                const int8_t *wr = w + (kh * p->kernel_w + kw) * channels + c0;
                if (vec) {
                    const __m256i xv = _mm256_sub_epi32(
                        _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)xr)), vzx);
                    const __m256i wv = _mm256_sub_epi32(
                        _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)wr)), vzw);
                    sum = _mm256_add_epi32(sum, _mm256_mullo_epi32(xv, wv));
                } else {
                    for (size_t c = 0; c < channels - c0; c++)
                        tail[c] += ((int32_t)xr[c] - x_zero_point) *
                                   ((int32_t)wr[c] - (w_zero_point ? w_zero_point[c0 + c] : 0));
                }
            }
        }
        if (vec)
            _mm256_storeu_si256((__m256i *)(a + c0), sum);
        else
            for (size_t c = 0; c < channels - c0; c++)
                a[c0 + c] = tail[c];
    }
}

/* ---- channels last, the row path: input columns interleaved once per strip of pixels ---- */

/* Two window rows of a column at a time with vpmaddwd: each 32-bit lane holds x of rows 2g and
 * 2g + 1 (0..255 each, as int16) and the weights w − z_w of both (dw->colpairs, |·| ≤ 383),
 * so it gets two exact products (|·| ≤ 2·255·383, and vpmaddwd only wraps for two products
 * of −2^15·−2^15). A tap in the padding reads z_x: Σ (x − z_x)·w' = Σ x·w' − z_x·Σ w', the
 * second term once per channel, cancels its product (the reference's skipped tap exactly).
 * int32 sums wrap modulo 2^32 and the true sum fits, so any order gives the reference's bits. */

/* output pixels whose input columns are interleaved at once; the columns and row pairs that
 * interleaving keeps (kernel_h ≤ 8, (kernel_w − 1)·dilation_w < MAX_COLS) */
#define STRIP 16
#define MAX_COLS 48
#define MAX_GROUPS 4

static int row_path_fits(const qc_pool2d *p)
{
    return p->kernel_h <= 2 * MAX_GROUPS && (p->kernel_w - 1) * p->dilation_w < MAX_COLS;
}

/* 8·nv channels of a row (NULL: the padding, z_x); a partial block (n < 8·nv) is copied so
 * that no byte past the channels is read */
static inline __attribute__((always_inline)) __m128i load_x(const uint8_t *r, __m128i vzx8,
                                                            int nv, int full, size_t n)
{
    if (!r)
        return vzx8;
    if (full)
        return nv == 2 ? _mm_loadu_si128((const __m128i *)r) : _mm_loadl_epi64((const __m128i *)r);
    uint8_t t[16] = {0};
    for (size_t i = 0; i < n; i++)
        t[i] = r[i];
    return _mm_loadu_si128((const __m128i *)t);
}

/* rows ra, rb (rb past the kernel when single) of one column as vpmaddwd's int16 pairs */
static inline __attribute__((always_inline)) void pair_rows(const uint8_t *ra, const uint8_t *rb,
                                                            int single, __m128i vzx8, int nv,
                                                            int full, size_t n, __m256i *v)
{
    if (single && full && ra) { /* the partner's weight is 0: x alone, zero-extended */
        v[0] = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)ra));
        if (nv == 2)
            v[1] = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(ra + 8)));
        return;
    }
    const __m128i a = load_x(ra, vzx8, nv, full, n);
    const __m128i b = single ? a : load_x(rb, vzx8, nv, full, n);
    v[0] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(a, b));
    if (nv == 2)
        v[1] = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(a, b));
}

typedef struct {
    const qc_dwconv_weights *dw;
    const qc_pool2d *p;
    const uint8_t *const *rows; /* the output row's window rows, NULL in the padding */
    size_t groups;
    __m128i vzx8;  /* z_x in every byte */
    __m256i vzx16; /* z_x in every word: a column in the padding */
    int32_t zx;
    size_t ow_lo, ow_hi; /* the output columns whose every tap is inside */
} row_ctx;

/* il[(col·groups + g)·2 + j] for input columns [ic0, ic0 + ncol) (ic counts the left
 * padding), channels c0 .. c0 + n of the block */
static inline __attribute__((always_inline)) void
interleave_columns(const row_ctx *k, size_t ic0, size_t ncol, size_t c0, size_t n, int nv,
                   int full, __m256i *il)
{
    const qc_pool2d *p = k->p;
    const size_t channels = k->dw->channels, kernel_h = p->kernel_h;
    for (size_t col = 0; col < ncol; col++) {
        const size_t ic = ic0 + col;
        __m256i *v = il + col * k->groups * 2;
        if (ic < p->pad_left || ic - p->pad_left >= p->in_w) {
            for (size_t i = 0; i < 2 * k->groups; i++)
                v[i] = k->vzx16;
            continue;
        }
        const size_t off = (ic - p->pad_left) * channels + c0;
        for (size_t g = 0; g < k->groups; g++) {
            const uint8_t *ra = k->rows[2 * g], *rb = k->rows[2 * g + 1];
            const int single = 2 * g + 1 >= kernel_h;
            pair_rows(ra ? ra + off : NULL, rb ? rb + off : NULL, single, k->vzx8, nv, full, n,
                      v + 2 * g);
        }
    }
}

static inline __attribute__((always_inline)) void store_sums(__m256i s0, __m256i s1, int nv,
                                                             int full, size_t n, int32_t *a)
{
    if (full) {
        _mm256_storeu_si256((__m256i *)a, s0);
        if (nv == 2)
            _mm256_storeu_si256((__m256i *)(a + 8), s1);
        return;
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i n0 = _mm256_set1_epi32((int32_t)n);
    _mm256_maskstore_epi32(a, _mm256_cmpgt_epi32(n0, lane), s0);
    if (nv == 2)
        _mm256_maskstore_epi32(a + 8, _mm256_cmpgt_epi32(_mm256_sub_epi32(n0, _mm256_set1_epi32(8)),
                                                         lane),
                               s1);
}

/* the block's −z_x·Σ w', 8 channels per vector */
static inline __attribute__((always_inline)) void negc_of(const row_ctx *k, size_t c0, size_t n,
                                                          __m256i *negc0, __m256i *negc1)
{
    int32_t sums[16] = {0};
    for (size_t i = 0; i < n; i++)
        sums[i] = k->dw->sum[c0 + i];
    const __m256i vnz = _mm256_set1_epi32(-k->zx);
    *negc0 = _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)sums), vnz);
    *negc1 = _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)(sums + 8)), vnz);
}

/* the strip's width so that its columns fit il */
static size_t strip_of(const qc_pool2d *p)
{
    const size_t span = (p->kernel_w - 1) * p->dilation_w + 1;
    const size_t most = (MAX_COLS - span) / p->stride_w + 1;
    return most < STRIP ? most : STRIP;
}

/* rows 0, 1 of input column ic interleaved (*pv) and row 2 widened (*sv), 8 channels c0..;
 * a row or column in the padding reads z_x */
static inline __attribute__((always_inline)) void column3(const row_ctx *k, size_t ic, size_t c0,
                                                          __m256i *pv, __m256i *sv)
{
    const qc_pool2d *p = k->p;
    if (ic - p->pad_left >= p->in_w) { /* wraps below pad_left */
        *pv = *sv = k->vzx16;
        return;
    }
    const size_t off = (ic - p->pad_left) * k->dw->channels + c0;
    const uint8_t *r0 = k->rows[0], *r1 = k->rows[1], *r2 = k->rows[2];
    const __m128i x0 = r0 ? _mm_loadl_epi64((const __m128i *)(r0 + off)) : k->vzx8;
    const __m128i x1 = r1 ? _mm_loadl_epi64((const __m128i *)(r1 + off)) : k->vzx8;
    *pv = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(x0, x1));
    *sv = r2 ? _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(r2 + off))) : k->vzx16;
}

/* the two columns a 3×3 window keeps from one output pixel to the next (stride 1: kw = 1, 2;
 * stride 2: kw = 2 only, in c0) as column3's pairs and singles */
typedef struct {
    __m256i p0, s0, p1, s1;
} slide3;

/* rows 0, 1 interleaved and row 2 widened at byte off of the three rows, all inside */
static inline __attribute__((always_inline)) void column3_at(const uint8_t *const *rows,
                                                             size_t off, __m256i *pv, __m256i *sv)
{
    const __m128i x0 = _mm_loadl_epi64((const __m128i *)(rows[0] + off));
    const __m128i x1 = _mm_loadl_epi64((const __m128i *)(rows[1] + off));
    *pv = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(x0, x1));
    *sv = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(rows[2] + off)));
}

/* output pixel ow of row3x3_block8: its new columns read (with check: column3 by column;
 * without: column3_at from byte off, the next column channels on), the sum of its nine taps
 * stored at a, the window slid on */
static inline __attribute__((always_inline)) void pixel3x3(const row_ctx *k, const __m256i *w,
                                                           __m256i negc, size_t c0, size_t sw,
                                                           int check, size_t ow, size_t off,
                                                           slide3 *c, int32_t *a)
{
    __m256i p1 = c->p1, s1 = c->s1, p2, s2;
    if (!check && sw == 1) {
        column3_at(k->rows, off, &p2, &s2);
    } else if (!check) {
        column3_at(k->rows, off, &p1, &s1);
        column3_at(k->rows, off + k->dw->channels, &p2, &s2);
    } else if (sw == 1) {
        column3(k, ow + 2, c0, &p2, &s2);
    } else {
        column3(k, 2 * ow + 1, c0, &p1, &s1);
        column3(k, 2 * ow + 2, c0, &p2, &s2);
    }
    const __m256i t0 =
        _mm256_add_epi32(_mm256_madd_epi16(c->p0, w[0]), _mm256_madd_epi16(c->s0, w[3]));
    const __m256i t1 = _mm256_add_epi32(_mm256_madd_epi16(p1, w[1]), _mm256_madd_epi16(s1, w[4]));
    const __m256i t2 = _mm256_add_epi32(_mm256_madd_epi16(p2, w[2]), _mm256_madd_epi16(s2, w[5]));
    _mm256_storeu_si256((__m256i *)a,
                        _mm256_add_epi32(_mm256_add_epi32(negc, t0), _mm256_add_epi32(t1, t2)));
    if (sw == 1) {
        c->p0 = p1;
        c->s0 = s1;
        c->p1 = p2;
        c->s1 = s2;
    } else {
        c->p0 = p2;
        c->s0 = s2;
    }
}

/* One output row of a 3×3 window (dilation_w 1, stride_w 1 or 2) on 8 channels c0..: the
 * columns slide through registers, each interleaved once (stride 1: one new column per
 * pixel, stride 2: two), and the six weight vectors stay in registers. When the three rows
 * are inside, the pixels whose columns are all inside (ow_lo .. ow_hi) go without padding
 * tests. */
static inline __attribute__((always_inline)) void row3x3_block8(const row_ctx *k, size_t c0,
                                                                size_t sw, int32_t *arow)
{
    const qc_pool2d *p = k->p;
    const size_t channels = k->dw->channels;
    const __m256i *wv = (const __m256i *)(k->dw->colpairs + c0 / 16 * 6 * 32 + c0 % 16 * 2);
    const __m256i w[6] = {_mm256_loadu_si256(wv),     _mm256_loadu_si256(wv + 2),
                          _mm256_loadu_si256(wv + 4), _mm256_loadu_si256(wv + 6),
                          _mm256_loadu_si256(wv + 8), _mm256_loadu_si256(wv + 10)};
    int32_t sums[8];
    for (size_t i = 0; i < 8; i++)
        sums[i] = k->dw->sum[c0 + i];
    const __m256i negc =
        _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)sums), _mm256_set1_epi32(-k->zx));
    slide3 c;
    column3(k, 0, c0, &c.p0, &c.s0);
    c.p1 = c.s1 = c.p0; /* stride 2 reads both afresh */
    if (sw == 1)
        column3(k, 1, c0, &c.p1, &c.s1);
    const int rows_in = k->rows[0] && k->rows[1] && k->rows[2];
    const size_t lo = rows_in ? k->ow_lo : p->out_w, hi = rows_in ? k->ow_hi : p->out_w;
    size_t ow = 0;
    for (; ow < lo; ow++)
        pixel3x3(k, w, negc, c0, sw, 1, ow, 0, &c, arow + ow * channels + c0);
    /* the first new column of pixel ow: ow + 2 (stride 1) or 2·ow + 1 (stride 2), inside */
    size_t off = (ow * sw + (sw == 1 ? 2 : 1) - p->pad_left) * channels + c0;
    for (; ow < hi; ow++, off += sw * channels)
        pixel3x3(k, w, negc, c0, sw, 0, ow, off, &c, arow + ow * channels + c0);
    for (; ow < p->out_w; ow++)
        pixel3x3(k, w, negc, c0, sw, 1, ow, 0, &c, arow + ow * channels + c0);
}

/* One output row of the block of channels c0 .. c0 + n (8·nv of them in vectors): per strip of
 * pixels the columns their windows cover are interleaved once, then each pixel takes
 * groups·kernel_w pairs of them. */
static inline __attribute__((always_inline)) void row_block(const row_ctx *k, size_t c0, size_t n,
                                                            int nv, int full, int32_t *arow)
{
    const qc_pool2d *p = k->p;
    const size_t channels = k->dw->channels, groups = k->groups, kw_n = p->kernel_w;
    const size_t sw = p->stride_w, dil = p->dilation_w, span = (kw_n - 1) * dil + 1;
    /* c0 is a multiple of 8, of 16 when nv = 2 */
    const int16_t *wc = k->dw->colpairs + c0 / 16 * groups * kw_n * 32 + c0 % 16 * 2;
    __m256i negc0, negc1;
    negc_of(k, c0, n, &negc0, &negc1);
    const size_t strip = strip_of(p);
    __m256i il[MAX_COLS * MAX_GROUPS * 2];
    for (size_t ow0 = 0; ow0 < p->out_w; ow0 += strip) {
        const size_t ns = p->out_w - ow0 < strip ? p->out_w - ow0 : strip;
        interleave_columns(k, ow0 * sw, (ns - 1) * sw + span, c0, n, nv, full, il);
        for (size_t i = 0; i < ns; i++) {
            __m256i s0 = negc0, s1 = negc1;
            for (size_t g = 0; g < groups; g++)
                for (size_t kw = 0; kw < kw_n; kw++) {
                    const __m256i *v = il + ((i * sw + kw * dil) * groups + g) * 2;
                    const int16_t *wq = wc + (g * kw_n + kw) * 32;
                    s0 = _mm256_add_epi32(
                        s0, _mm256_madd_epi16(v[0], _mm256_loadu_si256((const __m256i *)wq)));
                    if (nv == 2)
                        s1 = _mm256_add_epi32(
                            s1, _mm256_madd_epi16(
                                    v[1], _mm256_loadu_si256((const __m256i *)(wq + 16))));
                }
            store_sums(s0, s1, nv, full, n, arow + (ow0 + i) * channels + c0);
        }
    }
}

static void rows_path(const qc_dwconv_weights *dw, const qc_pool2d *p, const uint8_t *x,
                      int32_t x_zero_point, int32_t *acc)
{
    const size_t channels = dw->channels, groups = (p->kernel_h + 1) / 2;
    const int three = p->kernel_h == 3 && p->kernel_w == 3 && p->dilation_w == 1 &&
                      p->stride_w <= 2;
    const uint8_t *rows[2 * MAX_GROUPS];
    row_ctx k = {dw,
                 p,
                 rows,
                 groups,
                 _mm_set1_epi8((char)x_zero_point),
                 _mm256_set1_epi16((int16_t)x_zero_point),
                 x_zero_point,
                 0,
                 0};
    const qc_dwconv_interior in = qc_dwconv_interior_of(p);
    k.ow_lo = in.ow_lo;
    k.ow_hi = in.ow_hi;
    for (size_t oh = 0; oh < p->out_h; oh++) {
        for (size_t kh = 0; kh < 2 * groups; kh++) {
            const size_t ih = oh * p->stride_h + kh * p->dilation_h;
            rows[kh] = kh < p->kernel_h && ih >= p->pad_top && ih - p->pad_top < p->in_h
                           ? x + (ih - p->pad_top) * p->in_w * channels
                           : NULL;
        }
        int32_t *arow = acc + oh * p->out_w * channels;
        size_t c0 = 0;
        if (three && p->stride_w == 1)
            for (; c0 + 8 <= channels; c0 += 8)
                row3x3_block8(&k, c0, 1, arow);
        else if (three)
            for (; c0 + 8 <= channels; c0 += 8)
                row3x3_block8(&k, c0, 2, arow);
        for (; c0 + 16 <= channels; c0 += 16)
            row_block(&k, c0, 16, 2, 1, arow);
        const size_t left = channels - c0;
        if (left == 8)
            row_block(&k, c0, 8, 1, 1, arow);
        else if (left > 8)
            row_block(&k, c0, left, 2, 0, arow);
        else if (left > 0)
            row_block(&k, c0, left, 1, 0, arow);
    }
}

/* ---- channels last, pixel by pixel: windows the row path does not take ------------------ */

/* Channels last: the row path above where the window fits it, else pixel by pixel, two taps
 * at a time with vpmaddwd: the 16-bit lanes hold x of taps t and t+1 (0..255) and
 * w − z_w of the same taps (−255..255, prepared once per call), so each 32-bit lane gets
 * x_t·w'_t + x_t+1·w'_t+1 exactly (|·| ≤ 2·255², and vpmaddwd only wraps for two products of
 * −2^15·−2^15). Then Σ (x − z_x)·w' = Σ x·w' − z_x·Σ w', the second term computed once per
 * channel; int32 arithmetic is exact modulo 2^32 and the true sum fits, so the result is the
 * reference's bit for bit. Border pixels read z_x for their padding taps (below). */
QC_DWCONV_NHWC_U8S8(qc_dwconv_nhwc_u8s8__avx2)
{
    const size_t channels = dw->channels;
    const int8_t *w = dw->w;
    const int32_t *w_zero_point = dw->w_zero_point;
    const size_t taps = p->kernel_h * p->kernel_w, pairs = (taps + 1) / 2;
    const size_t c8 = channels & ~(size_t)7;
    if (row_path_fits(p)) {
        rows_path(dw, p, x, x_zero_point, acc);
        return;
    }
    if (c8 == 0 || !qc_dwconv_nhwc_fits(channels, taps)) {
        for (size_t oh = 0; oh < p->out_h; oh++)
            for (size_t ow = 0; ow < p->out_w; ow++)
                nhwc_pixel(channels, p, x, x_zero_point, w, w_zero_point, oh, ow,
                           acc + (oh * p->out_w + ow) * channels);
        return;
    }
    qc_dwconv_nhwc_plan pl;
    const uint8_t *tp[2 * QC_DWCONV_NHWC_MAX_TAPS];
    qc_dwconv_nhwc_plan_init(&pl, channels, p, w, w_zero_point, x_zero_point);
    const int16_t *wp = pl.wp;
    const int32_t *corr = pl.corr;
    for (size_t oh = 0; oh < p->out_h; oh++)
        for (size_t ow = 0; ow < p->out_w; ow++) {
            int32_t *a = acc + (oh * p->out_w + ow) * channels;
            qc_dwconv_nhwc_taps(p, channels, x, pl.zrow, &pl.in, oh, ow, tp);
            for (size_t c0 = 0; c0 < c8; c0 += 8) {
                __m256i sum = _mm256_setzero_si256();
                for (size_t q = 0; q < pairs; q++) {
                    const __m128i xa = _mm_loadl_epi64((const __m128i *)(tp[2 * q] + c0));
                    const __m128i xb = _mm_loadl_epi64((const __m128i *)(tp[2 * q + 1] + c0));
                    const __m256i xv = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(xa, xb));
                    const __m256i wv =
                        _mm256_loadu_si256((const __m256i *)(wp + (q * channels + c0) * 2));
                    sum = _mm256_add_epi32(sum, _mm256_madd_epi16(xv, wv));
                }
                sum = _mm256_sub_epi32(sum, _mm256_loadu_si256((const __m256i *)(corr + c0)));
                _mm256_storeu_si256((__m256i *)(a + c0), sum);
            }
            for (size_t c = c8; c < channels; c++) {
                int32_t s = 0;
                for (size_t t = 0; t < taps; t++)
                    s += ((int32_t)tp[t][c] - x_zero_point) *
                         ((int32_t)w[t * channels + c] - (w_zero_point ? w_zero_point[c] : 0));
                a[c] = s;
            }
        }
}
