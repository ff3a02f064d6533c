/* conv-im2col.c — im2col for u8 convolution: one row of K = C·kh·kw taps per output pixel. */
#include "int8-impl.h"

#include <emmintrin.h> /* SSE2: part of x86-64 itself */
#include <string.h>

/* Padding taps take the input zero point, so that they add (z − z)·w = 0 to the
 * accumulator: qc_q8gemm subtracts z from every tap, padding included. */
void qc_im2col_u8(size_t channels, const qc_pool2d *p, const uint8_t *x, uint8_t pad_value,
                  uint8_t *cols, size_t ld)
{
    const size_t plane = p->in_h * p->in_w;
    const size_t taps = p->kernel_h * p->kernel_w;
    for (size_t oh = 0; oh < p->out_h; oh++)
        for (size_t ow = 0; ow < p->out_w; ow++) {
            uint8_t *row = cols + (oh * p->out_w + ow) * ld;
            for (size_t kh = 0; kh < p->kernel_h; kh++) {
                /* ih + pad_top: unsigned, so "above the plane" is ih < pad_top */
                const size_t ih = oh * p->stride_h + kh * p->dilation_h;
                const int row_inside = ih >= p->pad_top && ih - p->pad_top < p->in_h;
                for (size_t kw = 0; kw < p->kernel_w; kw++) {
                    const size_t iw = ow * p->stride_w + kw * p->dilation_w;
                    const int inside = row_inside && iw >= p->pad_left && iw - p->pad_left < p->in_w;
                    const size_t src = inside ? (ih - p->pad_top) * p->in_w + iw - p->pad_left : 0;
                    uint8_t *dst = row + kh * p->kernel_w + kw;
                    for (size_t c = 0; c < channels; c++)
                        dst[c * taps] = inside ? x[c * plane + src] : pad_value;
                }
            }
        }
}

/* n bytes from src to dst (not overlapping) without a libc call: im2col copies millions of
 * runs of a few dozen bytes per image, and the call costs more than the copy. */
static inline void copy_run(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n >= 16) {
        size_t i = 0;
        for (; i + 16 <= n; i += 16)
            _mm_storeu_si128((__m128i *)(dst + i), _mm_loadu_si128((const __m128i *)(src + i)));
        if (i < n) /* the last 16 bytes again, overlapping what is already copied */
            _mm_storeu_si128((__m128i *)(dst + n - 16),
                             _mm_loadu_si128((const __m128i *)(src + n - 16)));
        return;
    }
    if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + n - 8, &b, 8);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i];
}

/* From channels-last input: every tap of a pixel is C contiguous bytes, one copy (the
 * NCHW version above moves one byte at a time). With a dense tensor (x_stride = C) and
 * dilation_w = 1, the kernel_w taps of a window row are kernel_w·C contiguous bytes: one
 * copy for the row when it lies inside the image. Only the rows of pixels first..first +
 * count − 1, so that a caller can fill a tile's rows while they fit in cache. */
void qc_im2col_nhwc_u8(size_t channels, const qc_pool2d *p, const uint8_t *x, size_t x_stride,
                       uint8_t pad_value, size_t first, size_t count, uint8_t *cols, size_t ld)
{
    const int rows_dense = x_stride == channels && p->dilation_w == 1;
    const size_t run = p->kernel_w * channels;
    size_t oh = p->out_w ? first / p->out_w : 0, ow = p->out_w ? first % p->out_w : 0;
    for (size_t q = 0; q < count; q++) {
        uint8_t *dst = cols + q * ld;
        const size_t iw0 = ow * p->stride_w; /* + pad_left: unsigned, as below */
        const int cols_inside = iw0 >= p->pad_left && iw0 - p->pad_left + p->kernel_w <= p->in_w;
        for (size_t kh = 0; kh < p->kernel_h; kh++) {
            const size_t ih = oh * p->stride_h + kh * p->dilation_h;
            const int row_inside = ih >= p->pad_top && ih - p->pad_top < p->in_h;
            if (rows_dense && row_inside && cols_inside) {
                copy_run(dst, x + ((ih - p->pad_top) * p->in_w + iw0 - p->pad_left) * channels,
                         run);
                dst += run;
                continue;
            }
            for (size_t kw = 0; kw < p->kernel_w; kw++, dst += channels) {
                const size_t iw = iw0 + kw * p->dilation_w;
                if (row_inside && iw >= p->pad_left && iw - p->pad_left < p->in_w)
                    copy_run(dst, x + ((ih - p->pad_top) * p->in_w + iw - p->pad_left) * x_stride,
                             channels);
                else
                    memset(dst, pad_value, channels);
            }
        }
        if (++ow == p->out_w) {
            ow = 0;
            oh++;
        }
    }
}

/* A 1×1, stride-1, unpadded window: each pixel's row is the column of the C planes. The
 * scalar reference of qc_transpose_u8 (dispatched in dispatch.c). */
QC_TRANSPOSE_U8(qc_transpose_u8__scalar)
{
    /* 8×8 blocks keep both sides within a few cache lines */
    for (size_t i0 = 0; i0 < rows; i0 += 8)
        for (size_t j0 = 0; j0 < cols; j0 += 8) {
            const size_t i1 = i0 + 8 < rows ? i0 + 8 : rows, j1 = j0 + 8 < cols ? j0 + 8 : cols;
            for (size_t i = i0; i < i1; i++)
                for (size_t j = j0; j < j1; j++)
                    y[j * y_stride + i] = x[i * x_stride + j];
        }
}

void qc_transpose_s32(size_t rows, size_t cols, const int32_t *x, size_t x_stride, int32_t *y,
                      size_t y_stride)
{
    for (size_t i0 = 0; i0 < rows; i0 += 8)
        for (size_t j0 = 0; j0 < cols; j0 += 8) {
            const size_t i1 = i0 + 8 < rows ? i0 + 8 : rows, j1 = j0 + 8 < cols ? j0 + 8 : cols;
            for (size_t i = i0; i < i1; i++)
                for (size_t j = j0; j < j1; j++)
                    y[j * y_stride + i] = x[i * x_stride + j];
        }
}
