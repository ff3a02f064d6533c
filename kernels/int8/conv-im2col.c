/* conv-im2col.c — im2col for u8 convolution: one row of K = C·kh·kw taps per output pixel. */
#include "int8.h"

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

/* From channels-last input: every tap of a pixel is C contiguous bytes, one memcpy (the
 * NCHW version above moves one byte at a time). */
void qc_im2col_nhwc_u8(size_t channels, const qc_pool2d *p, const uint8_t *x, size_t x_stride,
                       uint8_t pad_value, uint8_t *cols, size_t ld)
{
    for (size_t oh = 0; oh < p->out_h; oh++)
        for (size_t ow = 0; ow < p->out_w; ow++) {
            uint8_t *dst = cols + (oh * p->out_w + ow) * ld;
            for (size_t kh = 0; kh < p->kernel_h; kh++) {
                const size_t ih = oh * p->stride_h + kh * p->dilation_h;
                const int row_inside = ih >= p->pad_top && ih - p->pad_top < p->in_h;
                for (size_t kw = 0; kw < p->kernel_w; kw++, dst += channels) {
                    const size_t iw = ow * p->stride_w + kw * p->dilation_w;
                    if (row_inside && iw >= p->pad_left && iw - p->pad_left < p->in_w)
                        memcpy(dst, x + ((ih - p->pad_top) * p->in_w + iw - p->pad_left) * x_stride,
                               channels);
                    else
                        memset(dst, pad_value, channels);
                }
            }
        }
}

/* A 1×1, stride-1, unpadded window: each pixel's row is the column of the C planes. */
void qc_transpose_u8(size_t rows, size_t cols, const uint8_t *x, size_t x_stride, uint8_t *y,
                     size_t y_stride)
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
