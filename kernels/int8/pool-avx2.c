/* pool-avx2.c — AVX2 u8 MaxPool and GlobalAveragePool, bit-exact with pool-scalar.c. */
#include "int8-impl.h"

#include <immintrin.h>
#include <string.h>

#define ROW_MAX 8192 /* widest padded row handled here; wider planes use the scalar kernel */

/* Separable: the max over the kernel_h rows of an output row first (contiguous, 32 bytes at
 * a time), into a row buffer padded with zeros, then the max over kernel_w taps of that
 * buffer. Zero padding equals ignoring padding, since every input is ≥ 0. */
QC_MAXPOOL_U8(qc_maxpool_u8__avx2)
{
    const size_t span = (p->out_w - 1) * p->stride_w + (p->kernel_w - 1) * p->dilation_w + 1;
    const size_t width = span > p->pad_left + p->in_w ? span : p->pad_left + p->in_w;
    if (p->out_w == 0 || p->out_h == 0 || width + 32 > ROW_MAX) {
        qc_maxpool_u8__scalar(planes, p, x, y);
        return;
    }
    _Alignas(32) uint8_t buf[ROW_MAX];
    memset(buf, 0, width + 32);
    uint8_t *row = buf + p->pad_left; /* row[iw] for iw in [0, in_w) */
    const size_t plane = p->in_h * p->in_w;
    for (size_t c = 0; c < planes; c++) {
        const uint8_t *xp = x + c * plane;
        for (size_t oh = 0; oh < p->out_h; oh++) {
            memset(row, 0, p->in_w);
            for (size_t kh = 0; kh < p->kernel_h; kh++) {
                const size_t ih = oh * p->stride_h + kh * p->dilation_h;
                if (ih < p->pad_top || ih - p->pad_top >= p->in_h)
                    continue;
                const uint8_t *src = xp + (ih - p->pad_top) * p->in_w;
                size_t i = 0;
                for (; i + 32 <= p->in_w; i += 32) {
                    const __m256i v = _mm256_loadu_si256((const __m256i *)(src + i));
                    const __m256i r = _mm256_loadu_si256((const __m256i *)(row + i));
                    _mm256_storeu_si256((__m256i *)(row + i), _mm256_max_epu8(v, r));
                }
                for (; i < p->in_w; i++)
                    row[i] = src[i] > row[i] ? src[i] : row[i];
            }
            uint8_t *dst = y + (c * p->out_h + oh) * p->out_w;
            size_t ow = 0;
            if (p->stride_w == 1) {
                for (; ow + 32 <= p->out_w; ow += 32) {
                    __m256i m = _mm256_setzero_si256();
                    for (size_t kw = 0; kw < p->kernel_w; kw++)
                        m = _mm256_max_epu8(
                            m,
                            _mm256_loadu_si256((const __m256i *)(buf + ow + kw * p->dilation_w)));
                    _mm256_storeu_si256((__m256i *)(dst + ow), m);
                }
            }
            for (; ow < p->out_w; ow++) {
                uint8_t m = 0;
                for (size_t kw = 0; kw < p->kernel_w; kw++) {
                    const uint8_t v = buf[ow * p->stride_w + kw * p->dilation_w];
                    m = v > m ? v : m;
                }
                dst[ow] = m;
            }
        }
    }
}

QC_GAVGPOOL_U8(qc_global_avgpool_u8__avx2)
{
    const int32_t lo = p->qmin - p->out_zero_point, hi = p->qmax - p->out_zero_point;
    for (size_t c = 0; c < planes; c++) {
        const uint8_t *src = x + c * n;
        __m256i acc = _mm256_setzero_si256();
        size_t i = 0;
        for (; i + 32 <= n; i += 32)
            acc = _mm256_add_epi64(acc,
                                   _mm256_sad_epu8(_mm256_loadu_si256((const __m256i *)(src + i)),
                                                   _mm256_setzero_si256()));
        __m128i s = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        s = _mm_add_epi64(s, _mm_unpackhi_epi64(s, s));
        int64_t sum = _mm_cvtsi128_si64(s);
        for (; i < n; i++)
            sum += src[i];
        const int32_t t = (int32_t)(sum - (int64_t)n * p->in_zero_point);
        const int32_t r = qc_gavgpool_round(t, p->multiplier, p->shift);
        y[c] = (uint8_t)((r < lo ? lo : r > hi ? hi : r) + p->out_zero_point);
    }
}

/* channels last: 32 channels of an output pixel at a time, the max over the window's taps
 * kept in a register; the channels past the last 32 as the scalar kernel does them */
QC_MAXPOOL_CL_U8(qc_maxpool_cl_u8__avx2)
{
    const size_t taps = p->kernel_h * p->kernel_w, out_pixels = p->out_h * p->out_w;
    for (size_t b = 0; b < images; b++)
        for (size_t o = 0; o < out_pixels; o++) {
            uint8_t *dst = y + (b * out_pixels + o) * channels;
            size_t c = 0;
            for (; c + 32 <= channels; c += 32) {
                __m256i m = _mm256_setzero_si256(); /* padding never wins */
                for (size_t t = 0, pixel; t < taps; t++)
                    if (qc_pool2d_tap(p, o / p->out_w, o % p->out_w, t, &pixel))
                        m = _mm256_max_epu8(m, _mm256_loadu_si256((const __m256i *)(
                                                   x + (b * p->in_h * p->in_w + pixel) * channels + c)));
                _mm256_storeu_si256((__m256i *)(dst + c), m);
            }
            if (c == channels)
                continue;
            memset(dst + c, 0, channels - c);
            for (size_t t = 0, pixel; t < taps; t++) {
                if (!qc_pool2d_tap(p, o / p->out_w, o % p->out_w, t, &pixel))
                    continue;
                const uint8_t *src = x + (b * p->in_h * p->in_w + pixel) * channels;
                for (size_t i = c; i < channels; i++)
                    dst[i] = src[i] > dst[i] ? src[i] : dst[i];
            }
        }
}
