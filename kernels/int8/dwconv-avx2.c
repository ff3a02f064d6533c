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
 * (when the weights do not fit the fast path's stack buffers): 8 channels per vector, their sums kept in a register across all taps; products exact as
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

/* Channels last. Two taps at a time with vpmaddwd: the 16-bit lanes hold x of taps t and t+1 (0..255) and
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
