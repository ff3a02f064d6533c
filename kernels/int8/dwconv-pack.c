/* dwconv-pack.c — the depthwise weights in the layouts the channels-last kernels multiply,
 * prepared once per node (portable code: every table reads the same buffer). */
#include "dwconv-impl.h"

#include <string.h>

static size_t round64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

static size_t quads_bytes(size_t channels, size_t kernel_h, size_t kernel_w)
{
    const size_t blocks = (channels + QC_DWCONV_BLOCK - 1) / QC_DWCONV_BLOCK;
    return blocks * qc_dwconv_quads(kernel_h, kernel_w) * 4 * QC_DWCONV_BLOCK;
}

static size_t colpairs_bytes(size_t channels, size_t kernel_h, size_t kernel_w)
{
    const size_t blocks = (channels + QC_DWCONV_COLBLOCK - 1) / QC_DWCONV_COLBLOCK;
    return blocks * qc_dwconv_colpairs(kernel_h, kernel_w) * QC_DWCONV_COLBLOCK * 2 *
           sizeof(int16_t);
}

size_t qc_dwconv_nhwc_pack_size(size_t channels, size_t kernel_h, size_t kernel_w)
{
    const size_t taps = kernel_h * kernel_w;
    return round64(channels * sizeof(int32_t)) +
           round64((taps + 1) / 2 * channels * 2 * sizeof(int16_t)) +
           round64(quads_bytes(channels, kernel_h, kernel_w)) +
           round64(colpairs_bytes(channels, kernel_h, kernel_w));
}

/* w − z_w of tap t and channel c */
static int32_t centred(const int8_t *w, const int32_t *w_zero_point, size_t channels, size_t t,
                       size_t c)
{
    return (int32_t)w[t * channels + c] - (w_zero_point ? w_zero_point[c] : 0);
}

void qc_dwconv_nhwc_pack(size_t channels, size_t kernel_h, size_t kernel_w, const int8_t *w,
                         const int32_t *w_zero_point, void *buf, qc_dwconv_weights *dw)
{
    const size_t taps = kernel_h * kernel_w;
    uint8_t *b = buf;
    int32_t *sum = (int32_t *)b;
    int16_t *pairs = (int16_t *)(b + round64(channels * sizeof(int32_t)));
    int8_t *quads = (int8_t *)((uint8_t *)pairs +
                               round64((taps + 1) / 2 * channels * 2 * sizeof(int16_t)));
    int16_t *colpairs = (int16_t *)((uint8_t *)quads +
                                    round64(quads_bytes(channels, kernel_h, kernel_w)));
    const size_t npairs = (taps + 1) / 2;
    int fits = 1;
    for (size_t c = 0; c < channels; c++) {
        int32_t s = 0;
        for (size_t t = 0; t < 2 * npairs; t++) {
            const int32_t v = t < taps ? centred(w, w_zero_point, channels, t, c) : 0;
            pairs[((t / 2) * channels + c) * 2 + t % 2] = (int16_t)v;
            s += v;
            fits &= v >= -128 && v <= 127;
        }
        sum[c] = s;
    }
    memset(quads, 0, quads_bytes(channels, kernel_h, kernel_w));
    for (size_t c = 0; c < channels && fits; c++)
        for (size_t t = 0; t < taps; t++)
            quads[qc_dwconv_quad_byte(kernel_h, kernel_w, t / kernel_w, t % kernel_w, c)] =
                (int8_t)centred(w, w_zero_point, channels, t, c);
    memset(colpairs, 0, colpairs_bytes(channels, kernel_h, kernel_w));
    for (size_t c = 0; c < channels; c++)
        for (size_t t = 0; t < taps; t++)
            colpairs[qc_dwconv_colpair_index(kernel_h, kernel_w, t / kernel_w, t % kernel_w, c)] =
                (int16_t)centred(w, w_zero_point, channels, t, c);
    *dw = (qc_dwconv_weights){channels, kernel_h,     kernel_w, taps, w, w_zero_point, sum,
                              pairs,    fits ? quads : NULL, colpairs};
}
