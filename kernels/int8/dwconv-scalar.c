/* dwconv-scalar.c — reference depthwise convolutions u8 × s8 → int32 (eq. C3), NCHW and NHWC;
 * define the bits. */
#include "dwconv-impl.h"

/* acc[c][oh][ow] = Σ over the taps inside the plane of (x − z_x)·(w[c][tap] − z_w[c]).
 * Taps in the padding are skipped: they hold the zero point, (z_x − z_x)·w = 0. Each product
 * is at most 255·255 in magnitude, so the sum is exact for fewer than 33 025 taps. */
QC_DWCONV_U8S8(qc_dwconv_u8s8__scalar)
{
    const size_t plane = p->in_h * p->in_w, out_plane = p->out_h * p->out_w;
    const size_t taps = p->kernel_h * p->kernel_w;
    /* the output range of each column tap is the same for every row and channel: computed
     * once (it costs two divisions) */
    size_t lo_kw[QC_DWCONV_MAX_KW], hi_kw[QC_DWCONV_MAX_KW];
    for (size_t kw = 0; kw < p->kernel_w && kw < QC_DWCONV_MAX_KW; kw++)
        qc_dwconv_inside(p->out_w, p->in_w, p->stride_w, kw * p->dilation_w, p->pad_left,
                         &lo_kw[kw], &hi_kw[kw]);
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
                    size_t lo, hi;
                    if (kw < QC_DWCONV_MAX_KW) {
                        lo = lo_kw[kw];
                        hi = hi_kw[kw];
                    } else {
                        qc_dwconv_inside(p->out_w, p->in_w, p->stride_w, kw * p->dilation_w,
                                         p->pad_left, &lo, &hi);
                    }
                    for (size_t ow = lo; ow < hi; ow++) {
                        const size_t iw = ow * p->stride_w + kw * p->dilation_w - p->pad_left;
                        arow[ow] += ((int32_t)xrow[iw] - x_zero_point) * wv;
                    }
                }
            }
        }
    }
}

/* Channels last: acc[pixel][c], x[ih][iw][c], w[tap][c]; the same sum as above. */
QC_DWCONV_NHWC_U8S8(qc_dwconv_nhwc_u8s8__scalar)
{
    const size_t channels = dw->channels;
    const int8_t *w = dw->w;
    const int32_t *w_zero_point = dw->w_zero_point;
    for (size_t oh = 0; oh < p->out_h; oh++)
        for (size_t ow = 0; ow < p->out_w; ow++) {
            int32_t *a = acc + (oh * p->out_w + ow) * channels;
            for (size_t c = 0; c < channels; c++)
                a[c] = 0;
            for (size_t kh = 0; kh < p->kernel_h; kh++) {
                const size_t ih = oh * p->stride_h + kh * p->dilation_h;
                if (ih < p->pad_top || ih - p->pad_top >= p->in_h)
                    continue;
                for (size_t kw = 0; kw < p->kernel_w; kw++) {
                    const size_t iw = ow * p->stride_w + kw * p->dilation_w;
                    if (iw < p->pad_left || iw - p->pad_left >= p->in_w)
                        continue;
                    const uint8_t *xr = x + ((ih - p->pad_top) * p->in_w + iw - p->pad_left) * channels;
                    const int8_t *wr = w + (kh * p->kernel_w + kw) * channels;
                    for (size_t c = 0; c < channels; c++)
                        a[c] += ((int32_t)xr[c] - x_zero_point) *
                                ((int32_t)wr[c] - (w_zero_point ? w_zero_point[c] : 0));
                }
            }
        }
}
