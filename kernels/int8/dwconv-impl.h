/* dwconv-impl.h — private to kernels/int8: the depthwise convolution kernels and their twins. */
#ifndef QCAL_KERNELS_INT8_DWCONV_IMPL_H
#define QCAL_KERNELS_INT8_DWCONV_IMPL_H

#include "int8.h"

/* kernel widths up to this have their column ranges precomputed (on the stack) */
#define QC_DWCONV_MAX_KW 32

#define QC_DWCONV_U8S8(fn)                                                                     \
    void fn(size_t channels, const qc_pool2d *p, const uint8_t *x, int32_t x_zero_point,      \
            const int8_t *w, const int32_t *w_zero_point, int32_t *acc)
typedef QC_DWCONV_U8S8((*qc_dwconv_u8s8_fn));
QC_DWCONV_U8S8(qc_dwconv_u8s8__scalar);
QC_DWCONV_U8S8(qc_dwconv_u8s8__avx2);

#define QC_DWCONV_NHWC_U8S8(fn)                                                                \
    void fn(size_t channels, const qc_pool2d *p, const uint8_t *x, int32_t x_zero_point,      \
            const int8_t *w, const int32_t *w_zero_point, int32_t *acc)
typedef QC_DWCONV_NHWC_U8S8((*qc_dwconv_nhwc_u8s8_fn));
QC_DWCONV_NHWC_U8S8(qc_dwconv_nhwc_u8s8__scalar);
QC_DWCONV_NHWC_U8S8(qc_dwconv_nhwc_u8s8__avx2);

/* The output positions [*lo, *hi) of a row whose tap o·stride + offset − pad falls inside
 * [0, in): computed once per tap, so the inner loops need no bounds checks. */
static inline void qc_dwconv_inside(size_t out, size_t in, size_t stride, size_t offset,
                                    size_t pad, size_t *lo, size_t *hi)
{
    /* o·stride + offset ≥ pad  ⇔  o ≥ ceil((pad − offset) / stride) */
    size_t l = offset >= pad ? 0 : (pad - offset + stride - 1) / stride;
    /* o·stride + offset − pad < in  ⇔  o·stride < in + pad − offset */
    size_t h = in + pad <= offset ? 0 : (in + pad - offset + stride - 1) / stride;
    h = h < out ? h : out;
    *lo = l < h ? l : h;
    *hi = h;
}

#endif
