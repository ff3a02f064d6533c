/* dwconv-avx512vnni.c — channels-last depthwise convolution u8 × s8 → int32 on 512-bit vectors,
 * bit-exact with dwconv-scalar.c.
 *
 * Σ (x − z_x)·w' = Σ x·w' − z_x·Σ w' (w' = w − z_w): the first sum over every tap of the
 * window, a tap in the padding reading z_x (its product then cancels against the second term:
 * the reference's skipped tap exactly), the second prepared per channel. Integer sums wrap
 * modulo 2^32 like the reference's and the true sum fits, so any order gives the same bits. */
#include "dwconv-impl.h"

#include <immintrin.h>

/* channels whose corrections −z_x·Σ w' one pass keeps on the stack */
#define CHUNK 2048
/* tap slots per window the pixel-wise paths keep pointers for; wider windows go to the AVX2
 * twin */
#define MAX_SLOTS 64
/* the row path: output pixels whose input columns are interleaved at once, and the windows it
 * takes (stride_w ≤ 2, (kernel_w − 1)·dilation_w ≤ 12, kernel_h ≤ 8) */
#define STRIP 16
#define MAX_SPAN 12
#define MAX_COLS (2 * (STRIP - 1) + MAX_SPAN + 1)
#define MAX_GROUPS 2

/* ---- int8 weights: four taps per vpdpbusd ------------------------------------------------ */

/* 64 bytes of a tap (channels c0.. of mask), their dwords transposed 4×4 across the 128-bit
 * lanes (lane l, dword m ← lane m, dword l): the byte and word unpacks below then leave 16
 * consecutive channels in each vector. A tap in the padding (NULL) reads z_x. */
static inline __m512i tap64(const uint8_t *tp, size_t c0, __mmask64 mask, __m512i vzx)
{
    const __m512i idx = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
    return tp ? _mm512_permutexvar_epi32(idx, _mm512_maskz_loadu_epi8(mask, tp + c0)) : vzx;
}

/* Four taps' bytes interleaved per channel, for vpdpbusd: v[j] holds channels 16j..16j + 15
 * (of tap64's vectors), four bytes each; only the first nv vectors (1, 2 or 4) are made. */
static inline __attribute__((always_inline)) void interleave4(__m512i x0, __m512i x1, __m512i x2,
                                                              __m512i x3, __m512i *v, int nv)
{
    const __m512i lo01 = _mm512_unpacklo_epi8(x0, x1), lo23 = _mm512_unpacklo_epi8(x2, x3);
    v[0] = _mm512_unpacklo_epi16(lo01, lo23);
    if (nv > 1)
        v[1] = _mm512_unpackhi_epi16(lo01, lo23);
    if (nv > 2) {
        const __m512i hi01 = _mm512_unpackhi_epi8(x0, x1), hi23 = _mm512_unpackhi_epi8(x2, x3);
        v[2] = _mm512_unpacklo_epi16(hi01, hi23);
        v[3] = _mm512_unpackhi_epi16(hi01, hi23);
    }
}

/* four sums of 16 channels, named (not indexed) so that they stay in registers */
typedef struct {
    __m512i s0, s1, s2, s3;
} sums4;

static inline sums4 start4(const int32_t *negc, int nv)
{
    const __m512i z = _mm512_setzero_si512();
    return (sums4){_mm512_loadu_si512(negc), nv > 1 ? _mm512_loadu_si512(negc + 16) : z,
                   nv > 2 ? _mm512_loadu_si512(negc + 32) : z,
                   nv > 2 ? _mm512_loadu_si512(negc + 48) : z};
}

/* s += the products of interleaved taps v[0..nv) and their weights wq */
static inline __attribute__((always_inline)) sums4 dot4(sums4 s, const __m512i *v,
                                                        const int8_t *wq, int nv)
{
    s.s0 = _mm512_dpbusd_epi32(s.s0, v[0], _mm512_loadu_si512(wq));
    if (nv > 1)
        s.s1 = _mm512_dpbusd_epi32(s.s1, v[1], _mm512_loadu_si512(wq + 64));
    if (nv > 2) {
        s.s2 = _mm512_dpbusd_epi32(s.s2, v[2], _mm512_loadu_si512(wq + 128));
        s.s3 = _mm512_dpbusd_epi32(s.s3, v[3], _mm512_loadu_si512(wq + 192));
    }
    return s;
}

/* the same with a quad's weights in registers (the first nv of them loaded by load4) */
static inline __attribute__((always_inline)) sums4 dot4w(sums4 s, const __m512i *v, sums4 w,
                                                         int nv)
{
    s.s0 = _mm512_dpbusd_epi32(s.s0, v[0], w.s0);
    if (nv > 1)
        s.s1 = _mm512_dpbusd_epi32(s.s1, v[1], w.s1);
    if (nv > 2) {
        s.s2 = _mm512_dpbusd_epi32(s.s2, v[2], w.s2);
        s.s3 = _mm512_dpbusd_epi32(s.s3, v[3], w.s3);
    }
    return s;
}

static inline sums4 load4(const int8_t *wq, int nv)
{
    const __m512i z = _mm512_setzero_si512();
    return (sums4){_mm512_loadu_si512(wq), nv > 1 ? _mm512_loadu_si512(wq + 64) : z,
                   nv > 2 ? _mm512_loadu_si512(wq + 128) : z,
                   nv > 2 ? _mm512_loadu_si512(wq + 192) : z};
}

/* stores the first n ≤ 64 channels' sums */
static inline void store4(sums4 s, size_t n, int32_t *a)
{
    if (n >= 64) {
        _mm512_storeu_si512(a, s.s0);
        _mm512_storeu_si512(a + 16, s.s1);
        _mm512_storeu_si512(a + 32, s.s2);
        _mm512_storeu_si512(a + 48, s.s3);
        return;
    }
    const __m512i o[4] = {s.s0, s.s1, s.s2, s.s3};
    for (size_t l = 0; l < 4 && 16 * l < n; l++) {
        const size_t k = n - 16 * l < 16 ? n - 16 * l : 16;
        _mm512_mask_storeu_epi32(a + 16 * l, (__mmask16)((1u << k) - 1), o[l]);
    }
}

/* what one call's chunk of channels shares */
typedef struct {
    const qc_dwconv_weights *dw;
    const qc_pool2d *p;
    const uint8_t *x;
    size_t c_lo, n;       /* the chunk's first channel and channel count */
    const int32_t *negc;  /* −z_x·Σ w' of the chunk's channels */
    __m512i vzx, vzx32;   /* z_x in every byte, in every int32 */
} chunk_ctx;

static inline __mmask64 block_mask(size_t left)
{
    return left >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << left) - 1;
}

/* ---- the row path: input columns interleaved once per strip of output pixels ------------- */

static int row_path_fits(const qc_pool2d *p)
{
    return p->stride_w <= 2 && (p->kernel_w - 1) * p->dilation_w <= MAX_SPAN &&
           p->kernel_h <= 4 * MAX_GROUPS;
}

/* The interleaved window rows of input columns [ic0, ic0 + ncol) (ic counts the left padding),
 * channels c0.. of mask: il[(col·groups + g)·4 + j]; rows: the output row's window rows, NULL
 * in the padding (and past the kernel), where z_x stands in, as for the columns outside. */
static inline __attribute__((always_inline)) void
interleave_columns(const chunk_ctx *k, const uint8_t *const *rows, size_t groups, size_t ic0,
                   size_t ncol, size_t c0, __mmask64 mask, __m512i *il, int nv)
{
    const qc_pool2d *p = k->p;
    const size_t channels = k->dw->channels;
    for (size_t col = 0; col < ncol; col++) {
        const size_t ic = ic0 + col;
        const int inside = ic >= p->pad_left && ic - p->pad_left < p->in_w;
        const size_t off = inside ? (ic - p->pad_left) * channels : 0;
        for (size_t g = 0; g < groups; g++) {
            __m512i *v = il + (col * groups + g) * 4;
            if (!inside) {
                v[0] = v[1] = v[2] = v[3] = k->vzx;
                continue;
            }
            const uint8_t *const *r = rows + 4 * g;
            interleave4(tap64(r[0] ? r[0] + off : NULL, c0, mask, k->vzx),
                        tap64(r[1] ? r[1] + off : NULL, c0, mask, k->vzx),
                        tap64(r[2] ? r[2] + off : NULL, c0, mask, k->vzx),
                        tap64(r[3] ? r[3] + off : NULL, c0, mask, k->vzx), v, nv);
        }
    }
}

/* One output row of a block of 64 channels (c: its first, chunk-relative; nv of its 16-channel
 * vectors hold channels): per strip of pixels, the columns their windows cover are interleaved
 * once, and each pixel takes kernel_w·groups quads of them. */
static inline __attribute__((always_inline)) void
row_block(const chunk_ctx *k, const uint8_t *const *rows, size_t c, int32_t *arow, int nv)
{
    const qc_pool2d *p = k->p;
    const size_t groups = (p->kernel_h + 3) / 4, quads = groups * p->kernel_w;
    const size_t c0 = k->c_lo + c, left = k->n - c;
    const __mmask64 mask = block_mask(left);
    const int8_t *wq = k->dw->quads + c0 / 64 * quads * 256;
    __m512i il[MAX_COLS * MAX_GROUPS * 4];
    /* three quads (kernel_w = 3, kernel_h ≤ 4: 3×3 windows) keep their weights in registers */
    const int three = groups == 1 && p->kernel_w == 3;
    const sums4 w0 = load4(wq, three ? nv : 1), w1 = load4(wq + (three ? 256 : 0), three ? nv : 1),
                w2 = load4(wq + (three ? 512 : 0), three ? nv : 1);
    const size_t sw = p->stride_w, dw = p->dilation_w;
    for (size_t ow0 = 0; ow0 < p->out_w; ow0 += STRIP) {
        const size_t ns = p->out_w - ow0 < STRIP ? p->out_w - ow0 : STRIP;
        const size_t ncol = (ns - 1) * p->stride_w + (p->kernel_w - 1) * p->dilation_w + 1;
        interleave_columns(k, rows, groups, ow0 * p->stride_w, ncol, c0, mask, il, nv);
        for (size_t i = 0; three && i < ns; i++) {
            sums4 s = start4(k->negc + c, nv);
            s = dot4w(s, il + i * sw * 4, w0, nv);
            s = dot4w(s, il + (i * sw + dw) * 4, w1, nv);
            s = dot4w(s, il + (i * sw + 2 * dw) * 4, w2, nv);
            store4(s, left, arow + (ow0 + i) * k->dw->channels + c0);
        }
        for (size_t i = 0; !three && i < ns; i++) {
            sums4 s = start4(k->negc + c, nv);
            for (size_t g = 0; g < groups; g++)
                for (size_t kw = 0; kw < p->kernel_w; kw++) {
                    const size_t col = i * p->stride_w + kw * p->dilation_w;
                    s = dot4(s, il + (col * groups + g) * 4, wq + (g * p->kernel_w + kw) * 256,
                             nv);
                }
            store4(s, left, arow + (ow0 + i) * k->dw->channels + c0);
        }
    }
}

static void rows_of_chunk(const chunk_ctx *k, int32_t *acc)
{
    const qc_pool2d *p = k->p;
    const size_t channels = k->dw->channels, groups = (p->kernel_h + 3) / 4;
    const uint8_t *rows[4 * MAX_GROUPS];
    for (size_t oh = 0; oh < p->out_h; oh++) {
        for (size_t kh = 0; kh < 4 * groups; kh++) {
            const size_t ih = oh * p->stride_h + kh * p->dilation_h;
            rows[kh] = kh < p->kernel_h && ih >= p->pad_top && ih - p->pad_top < p->in_h
                           ? k->x + (ih - p->pad_top) * p->in_w * channels
                           : NULL;
        }
        int32_t *arow = acc + oh * p->out_w * channels;
        /* a block of 32 or 16 channels makes only the vectors that hold them */
        for (size_t c = 0; c < k->n; c += 64) {
            if (k->n - c > 32)
                row_block(k, rows, c, arow, 4);
            else if (k->n - c > 16)
                row_block(k, rows, c, arow, 2);
            else
                row_block(k, rows, c, arow, 1);
        }
    }
}

/* ---- pixel by pixel: int8 weights of windows the row path does not take, and the pairs ---- */

/* One pixel × 64 channels of int8 weights; tp: the taps in the quads' order (NULL in the
 * padding and past the kernel). */
static void quads_pixel(const chunk_ctx *k, const uint8_t *const *tp, size_t c, int32_t *a)
{
    const qc_pool2d *p = k->p;
    const size_t quads = qc_dwconv_quads(p->kernel_h, p->kernel_w), c0 = k->c_lo + c;
    const __mmask64 mask = block_mask(k->n - c);
    const int8_t *wq = k->dw->quads + c0 / 64 * quads * 256;
    sums4 s = start4(k->negc + c, 4);
    __m512i v[4];
    for (size_t q = 0; q < quads; q++, tp += 4, wq += 256) {
        interleave4(tap64(tp[0], c0, mask, k->vzx), tap64(tp[1], c0, mask, k->vzx),
                    tap64(tp[2], c0, mask, k->vzx), tap64(tp[3], c0, mask, k->vzx), v, 4);
        s = dot4(s, v, wq, 4);
    }
    store4(s, k->n - c, a);
}

/* the tap pointers of output pixel (oh, ow) in the quads' order: window rows 4g..4g + 3 of
 * column kw in quad g·kernel_w + kw */
static void quad_taps(const chunk_ctx *k, size_t oh, size_t ow, const uint8_t **tp)
{
    const qc_pool2d *p = k->p;
    const size_t groups = (p->kernel_h + 3) / 4, channels = k->dw->channels;
    for (size_t g = 0; g < groups; g++)
        for (size_t kw = 0; kw < p->kernel_w; kw++)
            for (size_t t = 0; t < 4; t++) {
                const size_t kh = 4 * g + t, ih = oh * p->stride_h + kh * p->dilation_h;
                const size_t iw = ow * p->stride_w + kw * p->dilation_w;
                const int inside = kh < p->kernel_h && ih >= p->pad_top &&
                                   ih - p->pad_top < p->in_h && iw >= p->pad_left &&
                                   iw - p->pad_left < p->in_w;
                tp[(g * p->kernel_w + kw) * 4 + t] =
                    inside ? k->x + ((ih - p->pad_top) * p->in_w + iw - p->pad_left) * channels
                           : NULL;
            }
}

/* One pixel × 16 channels (those of mask), two taps per vpdpwssd for weights beyond int8: each
 * 32-bit lane holds x of taps 2q (low half) and 2q + 1 (high half), 0..255 each, times w' of
 * both (|w'| ≤ 383), two exact products per lane. tp: the taps in order, NULL in the padding
 * (never when interior). */
static inline __attribute__((always_inline)) __m512i
pairs16(const chunk_ctx *k, const uint8_t *const *tp, size_t c, __mmask16 mask, int interior)
{
    const size_t pairs = (k->dw->taps + 1) / 2, c0 = k->c_lo + c, channels = k->dw->channels;
    __m512i sum = _mm512_loadu_si512(k->negc + c);
    for (size_t q = 0; q < pairs; q++) {
        const uint8_t *pa = tp[2 * q], *pb = tp[2 * q + 1];
        const __m512i xa = interior || pa
                               ? _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, pa + c0))
                               : k->vzx32;
        const __m512i xb = interior || pb
                               ? _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, pb + c0))
                               : k->vzx32;
        const __m512i xv = _mm512_or_si512(xa, _mm512_slli_epi32(xb, 16));
        const __m512i wv = _mm512_maskz_loadu_epi32(mask, k->dw->pairs + (q * channels + c0) * 2);
        sum = _mm512_dpwssd_epi32(sum, xv, wv);
    }
    return sum;
}

static inline __attribute__((always_inline)) void pairs_pixel(const chunk_ctx *k,
                                                              const uint8_t *const *tp,
                                                              int32_t *a, int interior)
{
    for (size_t c = 0; c < k->n; c += 16) {
        const __mmask16 mask = k->n - c >= 16 ? 0xffff : (__mmask16)((1u << (k->n - c)) - 1);
        _mm512_mask_storeu_epi32(a + c, mask, pairs16(k, tp, c, mask, interior));
    }
}

static void pixels_of_chunk(const chunk_ctx *k, int32_t *acc)
{
    const qc_pool2d *p = k->p;
    const size_t channels = k->dw->channels, taps = k->dw->taps;
    ptrdiff_t off[MAX_SLOTS];
    const uint8_t *tp[MAX_SLOTS];
    qc_dwconv_tap_offsets(p, channels, off);
    const qc_dwconv_interior in = qc_dwconv_interior_of(p);
    for (size_t oh = 0; oh < p->out_h; oh++)
        for (size_t ow = 0; ow < p->out_w; ow++) {
            int32_t *a = acc + (oh * p->out_w + ow) * channels + k->c_lo;
            if (k->dw->quads) {
                quad_taps(k, oh, ow, tp);
                for (size_t c = 0; c < k->n; c += 64)
                    quads_pixel(k, tp, c, a + c);
                continue;
            }
            const int interior =
                oh >= in.oh_lo && oh < in.oh_hi && ow >= in.ow_lo && ow < in.ow_hi;
            qc_dwconv_pixel_taps(p, channels, k->x, oh, ow, interior, off, 2 * ((taps + 1) / 2),
                                 tp);
            if (interior)
                pairs_pixel(k, tp, a, 1);
            else
                pairs_pixel(k, tp, a, 0);
        }
}

/* the channels [c_lo, c_hi) of every output pixel, their corrections on the stack */
static void chunk(const qc_dwconv_weights *dw, const qc_pool2d *p, const uint8_t *x,
                  int32_t x_zero_point, size_t c_lo, size_t c_hi, int32_t *acc)
{
    const size_t n = c_hi - c_lo;
    _Alignas(64) int32_t negc[CHUNK];
    for (size_t c = 0; c < (n + 63) / 64 * 64; c++)
        negc[c] = c < n ? -x_zero_point * dw->sum[c_lo + c] : 0;
    const chunk_ctx k = {dw,   p, x, c_lo, n, negc, _mm512_set1_epi8((char)x_zero_point),
                         _mm512_set1_epi32(x_zero_point)};
    if (dw->quads && row_path_fits(p))
        rows_of_chunk(&k, acc);
    else
        pixels_of_chunk(&k, acc);
}

/* Channels in chunks of CHUNK (a multiple of 64) so their corrections stay on the stack. */
QC_DWCONV_NHWC_U8S8(qc_dwconv_nhwc_u8s8__avx512vnni)
{
    if (4 * qc_dwconv_quads(p->kernel_h, p->kernel_w) > MAX_SLOTS) {
        qc_dwconv_nhwc_u8s8__avx2(dw, p, x, x_zero_point, acc);
        return;
    }
    for (size_t c = 0; c < dw->channels; c += CHUNK)
        chunk(dw, p, x, x_zero_point, c, dw->channels - c < CHUNK ? dw->channels : c + CHUNK, acc);
}
