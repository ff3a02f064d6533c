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
/* taps per window the tap pointers are kept for; wider windows go to the AVX2 twin */
#define MAX_SLOTS 64

/* 64 bytes of a tap (z_x for a padding tap; an interior pixel has none) */
static inline __m512i tap64(const uint8_t *tp, size_t c0, __mmask64 mask, __m512i vzx,
                            int interior)
{
    return interior || tp ? _mm512_maskz_loadu_epi8(mask, tp + c0) : vzx;
}

/* the same for 32 channels */
static inline __m256i tap32(const uint8_t *tp, size_t c0, __mmask32 mask, __m256i vzx,
                            int interior)
{
    return interior || tp ? _mm256_maskz_loadu_epi8(mask, tp + c0) : vzx;
}

/* One pixel × 64 channels (those of mask), four taps per vpdpbusd: u8 x times s8 w', four
 * products of at most 255·128 summed exactly into each int32 lane. The byte and word unpacks
 * interleave four taps' bytes per channel within each 128-bit lane, so vector j holds channels
 * 16l + 4j + i (lane l, dword i): the weights are packed in that order, and a 4×4 transpose of
 * 128-bit lanes restores the channels' order at the end. acc starts at −z_x·Σ w' (in the
 * unpacks' order). */
static inline __attribute__((always_inline)) void
quads64(size_t quads, const uint8_t *const *tp, size_t c0, __mmask64 mask, __m512i vzx,
        const int8_t *wq, const int32_t *negc, int32_t *a, int interior)
{
    __m512i s0 = _mm512_loadu_si512(negc), s1 = _mm512_loadu_si512(negc + 16);
    __m512i s2 = _mm512_loadu_si512(negc + 32), s3 = _mm512_loadu_si512(negc + 48);
    for (size_t q = 0; q < quads; q++, tp += 4, wq += 256) {
        const __m512i x0 = tap64(tp[0], c0, mask, vzx, interior);
        const __m512i x1 = tap64(tp[1], c0, mask, vzx, interior);
        const __m512i x2 = tap64(tp[2], c0, mask, vzx, interior);
        const __m512i x3 = tap64(tp[3], c0, mask, vzx, interior);
        const __m512i lo01 = _mm512_unpacklo_epi8(x0, x1), hi01 = _mm512_unpackhi_epi8(x0, x1);
        const __m512i lo23 = _mm512_unpacklo_epi8(x2, x3), hi23 = _mm512_unpackhi_epi8(x2, x3);
        s0 = _mm512_dpbusd_epi32(s0, _mm512_unpacklo_epi16(lo01, lo23), _mm512_loadu_si512(wq));
        s1 = _mm512_dpbusd_epi32(s1, _mm512_unpackhi_epi16(lo01, lo23),
                                 _mm512_loadu_si512(wq + 64));
        s2 = _mm512_dpbusd_epi32(s2, _mm512_unpacklo_epi16(hi01, hi23),
                                 _mm512_loadu_si512(wq + 128));
        s3 = _mm512_dpbusd_epi32(s3, _mm512_unpackhi_epi16(hi01, hi23),
                                 _mm512_loadu_si512(wq + 192));
    }
    /* lane l of s_j holds channels 16l + 4j .. 16l + 4j + 3: gather lane l of each into o_l */
    const __m512i t0 = _mm512_shuffle_i32x4(s0, s1, 0x44), t1 = _mm512_shuffle_i32x4(s2, s3, 0x44);
    const __m512i t2 = _mm512_shuffle_i32x4(s0, s1, 0xee), t3 = _mm512_shuffle_i32x4(s2, s3, 0xee);
    const __m512i o[4] = {_mm512_shuffle_i32x4(t0, t1, 0x88), _mm512_shuffle_i32x4(t0, t1, 0xdd),
                          _mm512_shuffle_i32x4(t2, t3, 0x88), _mm512_shuffle_i32x4(t2, t3, 0xdd)};
    if (mask == ~(__mmask64)0) {
        for (int l = 0; l < 4; l++)
            _mm512_storeu_si512(a + 16 * l, o[l]);
        return;
    }
    /* mask has one bit per channel (byte), the first n set */
    const unsigned n = (unsigned)__builtin_popcountll(mask);
    for (unsigned l = 0; l < 4 && 16 * l < n; l++) {
        const unsigned k = n - 16 * l < 16 ? n - 16 * l : 16;
        _mm512_mask_storeu_epi32(a + 16 * l, (__mmask16)((1u << k) - 1), o[l]);
    }
}

/* quads64 for at most 32 channels (the first half of a block: lanes 0 and 1 of its vectors) on
 * 256-bit vectors, so a narrow layer or tail does not pay for 64 */
static inline __attribute__((always_inline)) void
quads32(size_t quads, const uint8_t *const *tp, size_t c0, __mmask32 mask, __m256i vzx,
        const int8_t *wq, const int32_t *negc, int32_t *a, int interior)
{
    __m256i s0 = _mm256_loadu_si256((const __m256i *)negc);
    __m256i s1 = _mm256_loadu_si256((const __m256i *)(negc + 16));
    __m256i s2 = _mm256_loadu_si256((const __m256i *)(negc + 32));
    __m256i s3 = _mm256_loadu_si256((const __m256i *)(negc + 48));
    for (size_t q = 0; q < quads; q++, tp += 4, wq += 256) {
        const __m256i x0 = tap32(tp[0], c0, mask, vzx, interior);
        const __m256i x1 = tap32(tp[1], c0, mask, vzx, interior);
        const __m256i x2 = tap32(tp[2], c0, mask, vzx, interior);
        const __m256i x3 = tap32(tp[3], c0, mask, vzx, interior);
        const __m256i lo01 = _mm256_unpacklo_epi8(x0, x1), hi01 = _mm256_unpackhi_epi8(x0, x1);
        const __m256i lo23 = _mm256_unpacklo_epi8(x2, x3), hi23 = _mm256_unpackhi_epi8(x2, x3);
        s0 = _mm256_dpbusd_epi32(s0, _mm256_unpacklo_epi16(lo01, lo23),
                                 _mm256_loadu_si256((const __m256i *)wq));
        s1 = _mm256_dpbusd_epi32(s1, _mm256_unpackhi_epi16(lo01, lo23),
                                 _mm256_loadu_si256((const __m256i *)(wq + 64)));
        s2 = _mm256_dpbusd_epi32(s2, _mm256_unpacklo_epi16(hi01, hi23),
                                 _mm256_loadu_si256((const __m256i *)(wq + 128)));
        s3 = _mm256_dpbusd_epi32(s3, _mm256_unpackhi_epi16(hi01, hi23),
                                 _mm256_loadu_si256((const __m256i *)(wq + 192)));
    }
    /* lane l of s_j holds channels 16l + 4j .. 16l + 4j + 3 */
    const __m256i o[4] = {_mm256_permute2x128_si256(s0, s1, 0x20),
                          _mm256_permute2x128_si256(s2, s3, 0x20),
                          _mm256_permute2x128_si256(s0, s1, 0x31),
                          _mm256_permute2x128_si256(s2, s3, 0x31)};
    const unsigned n = (unsigned)__builtin_popcount(mask);
    for (unsigned l = 0; l < 4 && 8 * l < n; l++) {
        const unsigned k = n - 8 * l < 8 ? n - 8 * l : 8;
        _mm256_mask_storeu_epi32(a + 8 * l, (__mmask8)((1u << k) - 1), o[l]);
    }
}

/* One pixel × 16 channels (those of mask), two taps per vpdpwssd for weights beyond int8: each
 * 32-bit lane holds x of taps 2q (low half) and 2q + 1 (high half), 0..255 each, times w' of
 * both (|w'| ≤ 383), two exact products per lane. */
static inline __attribute__((always_inline)) __m512i
pairs16(size_t pairs, const uint8_t *const *tp, size_t channels, size_t c0, __mmask16 mask,
        __m512i vzx32, const int16_t *wp, const int32_t *negc, int interior)
{
    __m512i sum = _mm512_loadu_si512(negc);
    for (size_t q = 0; q < pairs; q++) {
        const uint8_t *pa = tp[2 * q], *pb = tp[2 * q + 1];
        const __m512i xa = interior || pa
                               ? _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, pa + c0))
                               : vzx32;
        const __m512i xb = interior || pb
                               ? _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, pb + c0))
                               : vzx32;
        const __m512i xv = _mm512_or_si512(xa, _mm512_slli_epi32(xb, 16));
        const __m512i wv = _mm512_maskz_loadu_epi32(mask, wp + (q * channels + c0) * 2);
        sum = _mm512_dpwssd_epi32(sum, xv, wv);
    }
    return sum;
}

/* what one chunk's pixels share */
typedef struct {
    const qc_dwconv_weights *dw;
    size_t c_lo, n; /* the chunk's first channel and channel count */
    const int32_t *negc;
    __m512i vzx, vzx32;
} chunk_ctx;

/* the chunk's channels of one output pixel from its tap pointers (tp: 4·quads of them, none
 * NULL when interior) */
static inline __attribute__((always_inline)) void pixel(const chunk_ctx *k,
                                                        const uint8_t *const *tp, int32_t *a,
                                                        int interior)
{
    const qc_dwconv_weights *dw = k->dw;
    const size_t quads = (dw->taps + 3) / 4, pairs = (dw->taps + 1) / 2, n = k->n;
    if (dw->quads) {
        size_t c = 0;
        for (; c + 64 <= n; c += 64)
            quads64(quads, tp, k->c_lo + c, ~(__mmask64)0, k->vzx,
                    dw->quads + (k->c_lo + c) / 64 * quads * 256, k->negc + c, a + c, interior);
        if (c + 32 < n)
            quads64(quads, tp, k->c_lo + c, ((__mmask64)1 << (n - c)) - 1, k->vzx,
                    dw->quads + (k->c_lo + c) / 64 * quads * 256, k->negc + c, a + c, interior);
        else if (c < n)
            quads32(quads, tp, k->c_lo + c, (__mmask32)(((uint64_t)1 << (n - c)) - 1),
                    _mm512_castsi512_si256(k->vzx),
                    dw->quads + (k->c_lo + c) / 64 * quads * 256, k->negc + c, a + c, interior);
        return;
    }
    for (size_t c = 0; c < n; c += 16) {
        const __mmask16 mask = n - c >= 16 ? 0xffff : (__mmask16)((1u << (n - c)) - 1);
        _mm512_mask_storeu_epi32(a + c, mask,
                                 pairs16(pairs, tp, dw->channels, k->c_lo + c, mask, k->vzx32,
                                         dw->pairs, k->negc + c, interior));
    }
}

/* the channels [c_lo, c_hi) of every output pixel, the corrections of their chunk on the stack */
static void chunk(const qc_dwconv_weights *dw, const qc_pool2d *p, const uint8_t *x,
                  int32_t x_zero_point, size_t c_lo, size_t c_hi, int32_t *acc)
{
    const size_t channels = dw->channels, taps = dw->taps;
    const size_t quads = (taps + 3) / 4, n = c_hi - c_lo;
    _Alignas(64) int32_t negc[CHUNK];
    ptrdiff_t off[MAX_SLOTS];
    const uint8_t *tp[MAX_SLOTS];
    /* −z_x·Σ w' per channel: in the unpacks' order for quads64, as is for pairs16 */
    for (size_t c = 0; c < (n + 63) / 64 * 64; c++) {
        const size_t from = dw->quads ? c / 64 * 64 + c % 16 / 4 * 16 + c / 16 % 4 * 4 + c % 4 : c;
        negc[c] = from < n ? -x_zero_point * dw->sum[c_lo + from] : 0;
    }
    qc_dwconv_tap_offsets(p, channels, off);
    const qc_dwconv_interior in = qc_dwconv_interior_of(p);
    const chunk_ctx k = {dw, c_lo, n, negc, _mm512_set1_epi8((char)x_zero_point),
                         _mm512_set1_epi32(x_zero_point)};
    for (size_t oh = 0; oh < p->out_h; oh++)
        for (size_t ow = 0; ow < p->out_w; ow++) {
            const int interior =
                oh >= in.oh_lo && oh < in.oh_hi && ow >= in.ow_lo && ow < in.ow_hi;
            qc_dwconv_pixel_taps(p, channels, x, oh, ow, interior, off, 4 * quads, tp);
            int32_t *a = acc + (oh * p->out_w + ow) * channels + c_lo;
            if (interior)
                pixel(&k, tp, a, 1);
            else
                pixel(&k, tp, a, 0);
        }
}

/* Pixels outer, 64 channels inner; the channels in chunks of CHUNK (a multiple of 64) so their
 * corrections stay on the stack. */
QC_DWCONV_NHWC_U8S8(qc_dwconv_nhwc_u8s8__avx512vnni)
{
    if (dw->taps > MAX_SLOTS - 3) {
        qc_dwconv_nhwc_u8s8__avx2(dw, p, x, x_zero_point, acc);
        return;
    }
    for (size_t c = 0; c < dw->channels; c += CHUNK)
        chunk(dw, p, x, x_zero_point, c, dw->channels - c < CHUNK ? dw->channels : c + CHUNK, acc);
}
