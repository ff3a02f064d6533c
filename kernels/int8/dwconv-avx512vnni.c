/* dwconv-avx512vnni.c — channels-last depthwise convolution u8 × s8 → int32 on 16 channels per
 * 512-bit vector, bit-exact with dwconv-scalar.c. */
#include "dwconv-impl.h"

#include <immintrin.h>

/* Σ over the tap pairs of 16 channels (those of mask): each 32-bit lane holds x of taps 2q
 * (low half) and 2q + 1 (high half), 0..255 each, and vpdpwssd adds x_2q·w'_2q + x_2q+1·w'_2q+1
 * exactly (|·| ≤ 2·255²; it wraps modulo 2^32 like the reference's int32 sum, and the true sum
 * fits). Then corr = z_x·Σ w' turns Σ x·w' into Σ (x − z_x)·w'. */
static inline __m512i pairs16(size_t pairs, size_t channels, size_t c0, __mmask16 mask,
                              const uint8_t *const *tp, const int16_t *wp, const int32_t *corr)
{
    __m512i sum = _mm512_setzero_si512();
    for (size_t q = 0; q < pairs; q++) {
        const __m512i xa = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, tp[2 * q] + c0));
        const __m512i xb = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, tp[2 * q + 1] + c0));
        const __m512i xv = _mm512_or_si512(xa, _mm512_slli_epi32(xb, 16));
        const __m512i wv = _mm512_maskz_loadu_epi32(mask, wp + (q * channels + c0) * 2);
        sum = _mm512_dpwssd_epi32(sum, xv, wv);
    }
    return _mm512_sub_epi32(sum, _mm512_maskz_loadu_epi32(mask, corr + c0));
}

/* The AVX2 twin's scheme (dwconv-avx2.c) on zmm vectors, the last channels under a mask;
 * shapes whose weights do not fit the stack buffers go to the AVX2 twin. */
QC_DWCONV_NHWC_U8S8(qc_dwconv_nhwc_u8s8__avx512vnni)
{
    const size_t taps = p->kernel_h * p->kernel_w, pairs = (taps + 1) / 2;
    if (!qc_dwconv_nhwc_fits(channels, taps)) {
        qc_dwconv_nhwc_u8s8__avx2(channels, p, x, x_zero_point, w, w_zero_point, acc);
        return;
    }
    qc_dwconv_nhwc_plan pl;
    const uint8_t *tp[2 * QC_DWCONV_NHWC_MAX_TAPS];
    qc_dwconv_nhwc_plan_init(&pl, channels, p, w, w_zero_point, x_zero_point);
    const int16_t *wp = pl.wp;
    const int32_t *corr = pl.corr;
    const size_t c16 = channels & ~(size_t)15;
    const __mmask16 tail = (__mmask16)((1u << (channels - c16)) - 1);
    for (size_t oh = 0; oh < p->out_h; oh++)
        for (size_t ow = 0; ow < p->out_w; ow++) {
            int32_t *a = acc + (oh * p->out_w + ow) * channels;
            qc_dwconv_nhwc_taps(p, channels, x, pl.zrow, &pl.in, oh, ow, tp);
            for (size_t c0 = 0; c0 < c16; c0 += 16)
                _mm512_storeu_si512(a + c0, pairs16(pairs, channels, c0, 0xffff, tp, wp, corr));
            if (tail)
                _mm512_mask_storeu_epi32(a + c16, tail,
                                         pairs16(pairs, channels, c16, tail, tp, wp, corr));
        }
}
