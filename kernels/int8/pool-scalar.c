/* pool-scalar.c — reference u8 MaxPool and GlobalAveragePool (eqs. A1–A3); define the bits. */
#include "int8-impl.h"

#include <string.h>

QC_MAXPOOL_U8(qc_maxpool_u8__scalar)
{
    const size_t plane = p->in_h * p->in_w;
    for (size_t c = 0; c < planes; c++) {
        const uint8_t *xp = x + c * plane;
        for (size_t oh = 0; oh < p->out_h; oh++)
            for (size_t ow = 0; ow < p->out_w; ow++) {
                uint8_t m = 0; /* padding never wins: every input is ≥ 0 */
                for (size_t kh = 0; kh < p->kernel_h; kh++) {
                    const size_t ih = oh * p->stride_h + kh * p->dilation_h; /* + pad_top */
                    if (ih < p->pad_top || ih - p->pad_top >= p->in_h)
                        continue;
                    for (size_t kw = 0; kw < p->kernel_w; kw++) {
                        const size_t iw = ow * p->stride_w + kw * p->dilation_w;
                        if (iw < p->pad_left || iw - p->pad_left >= p->in_w)
                            continue;
                        const uint8_t v = xp[(ih - p->pad_top) * p->in_w + iw - p->pad_left];
                        m = v > m ? v : m;
                    }
                }
                y[(c * p->out_h + oh) * p->out_w + ow] = m;
            }
    }
}

/* floor(p / 2^s) without relying on the sign behaviour of >> */
static int64_t floor_shift(int64_t v, int s)
{
    return v >= 0 ? v >> s : -((-(v + 1)) >> s) - 1;
}

int32_t qc_gavgpool_round(int32_t t, int32_t multiplier, int32_t shift)
{
    /* A2 (bounding as R2: with a multiplier ≥ 1/2, |t| > 2^shift saturates anyway) */
    if (shift < 31) {
        const int32_t bound = (int32_t)1 << shift;
        t = t < -bound ? -bound : t > bound ? bound : t;
    }
    const int64_t v = (int64_t)t * multiplier; /* |v| < 2^62 */
    const int64_t half = (int64_t)1 << (shift - 1);
    /* round half to even, as QuantizeLinear does with the same value */
    int64_t q = floor_shift(v, shift);
    const int64_t rem = v - q * ((int64_t)1 << shift); /* in [0, 2^shift) */
    if (rem > half || (rem == half && (q & 1)))
        q++;
    return (int32_t)q;
}

QC_GAVGPOOL_U8(qc_global_avgpool_u8__scalar)
{
    const int32_t lo = p->qmin - p->out_zero_point, hi = p->qmax - p->out_zero_point;
    for (size_t c = 0; c < planes; c++) {
        /* A1: the sum is exact (n·255 < 2^31) */
        int64_t sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += x[c * n + i];
        const int32_t t = (int32_t)(sum - (int64_t)n * p->in_zero_point);
        const int32_t r = qc_gavgpool_round(t, p->multiplier, p->shift);
        /* A3 */
        y[c] = (uint8_t)((r < lo ? lo : r > hi ? hi : r) + p->out_zero_point);
    }
}

/* channels last: the window's taps are whole vectors of channels, each one's max kept apart */
QC_MAXPOOL_CL_U8(qc_maxpool_cl_u8__scalar)
{
    const size_t taps = p->kernel_h * p->kernel_w, out_pixels = p->out_h * p->out_w;
    for (size_t b = 0; b < images; b++)
        for (size_t o = 0; o < out_pixels; o++) {
            uint8_t *dst = y + (b * out_pixels + o) * channels;
            memset(dst, 0, channels); /* padding never wins: every input is ≥ 0 */
            for (size_t t = 0, pixel; t < taps; t++) {
                if (!qc_pool2d_tap(p, o / p->out_w, o % p->out_w, t, &pixel))
                    continue;
                const uint8_t *src = x + (b * p->in_h * p->in_w + pixel) * channels;
                for (size_t c = 0; c < channels; c++)
                    dst[c] = src[c] > dst[c] ? src[c] : dst[c];
            }
        }
}
