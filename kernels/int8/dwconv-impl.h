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
    void fn(const qc_dwconv_weights *dw, const qc_pool2d *p, const uint8_t *x,                \
            int32_t x_zero_point, int32_t *acc)
typedef QC_DWCONV_NHWC_U8S8((*qc_dwconv_nhwc_u8s8_fn));
QC_DWCONV_NHWC_U8S8(qc_dwconv_nhwc_u8s8__scalar);
QC_DWCONV_NHWC_U8S8(qc_dwconv_nhwc_u8s8__avx2);
/* the same on 64 channels, four taps per vpdpbusd where the weights fit int8, else 16 channels
 * and two taps per vpdpwssd (AVX512-VNNI) */
QC_DWCONV_NHWC_U8S8(qc_dwconv_nhwc_u8s8__avx512vnni);

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

/* The channels-last SIMD kernels take two taps at a time: the weights w − z_w as int16 pairs
 * [pair][channel][2] (an odd last tap paired with a zero weight), prepared on the stack up to
 * these sizes; larger shapes go pixel by pixel. */
#define QC_DWCONV_NHWC_MAX_PAIRS_BY_C 8192 /* tap pairs × channels */
#define QC_DWCONV_NHWC_MAX_C 2048
#define QC_DWCONV_NHWC_MAX_TAPS 64

static inline int qc_dwconv_nhwc_fits(size_t channels, size_t taps)
{
    return channels <= QC_DWCONV_NHWC_MAX_C && taps <= QC_DWCONV_NHWC_MAX_TAPS &&
           (taps + 1) / 2 * channels <= QC_DWCONV_NHWC_MAX_PAIRS_BY_C;
}

/* wp[pair][c][2] = w − z_w of taps 2·pair and 2·pair + 1, and corr[c] = z_x · Σ_t (w − z_w):
 * Σ (x − z_x)·w' = Σ x·w' − corr, the second term once per channel */
static inline void qc_dwconv_nhwc_pairs(size_t channels, size_t taps, const int8_t *w,
                                        const int32_t *w_zero_point, int32_t x_zero_point,
                                        int16_t *wp, int32_t *corr)
{
    const size_t pairs = (taps + 1) / 2;
    for (size_t c = 0; c < channels; c++) {
        const int32_t zw = w_zero_point ? w_zero_point[c] : 0;
        int32_t sw = 0;
        for (size_t t = 0; t < 2 * pairs; t++) {
            const int32_t v = t < taps ? (int32_t)w[t * channels + c] - zw : 0;
            wp[((t / 2) * channels + c) * 2 + t % 2] = (int16_t)v;
            sw += v;
        }
        corr[c] = x_zero_point * sw;
    }
}

/* the output rows [oh_lo, oh_hi) and columns [ow_lo, ow_hi) whose every tap is inside */
typedef struct {
    size_t oh_lo, oh_hi, ow_lo, ow_hi;
} qc_dwconv_interior;

static inline qc_dwconv_interior qc_dwconv_interior_of(const qc_pool2d *p)
{
    qc_dwconv_interior in;
    size_t unused;
    qc_dwconv_inside(p->out_h, p->in_h, p->stride_h, 0, p->pad_top, &in.oh_lo, &unused);
    qc_dwconv_inside(p->out_h, p->in_h, p->stride_h, (p->kernel_h - 1) * p->dilation_h,
                     p->pad_top, &unused, &in.oh_hi);
    qc_dwconv_inside(p->out_w, p->in_w, p->stride_w, 0, p->pad_left, &in.ow_lo, &unused);
    qc_dwconv_inside(p->out_w, p->in_w, p->stride_w, (p->kernel_w - 1) * p->dilation_w,
                     p->pad_left, &unused, &in.ow_hi);
    return in;
}

/* what the pair-wise kernels prepare once per call (on the stack: about 26 KiB) */
typedef struct {
    int16_t wp[2 * QC_DWCONV_NHWC_MAX_PAIRS_BY_C];
    int32_t corr[QC_DWCONV_NHWC_MAX_C];
    uint8_t zrow[QC_DWCONV_NHWC_MAX_C]; /* z_x, the padding taps' pixel */
    qc_dwconv_interior in;
} qc_dwconv_nhwc_plan;

static inline void qc_dwconv_nhwc_plan_init(qc_dwconv_nhwc_plan *pl, size_t channels,
                                            const qc_pool2d *p, const int8_t *w,
                                            const int32_t *w_zero_point, int32_t x_zero_point)
{
    qc_dwconv_nhwc_pairs(channels, p->kernel_h * p->kernel_w, w, w_zero_point, x_zero_point,
                         pl->wp, pl->corr);
    pl->in = qc_dwconv_interior_of(p);
    for (size_t c = 0; c < channels; c++)
        pl->zrow[c] = (uint8_t)x_zero_point;
}

/* tp[t] for the 2·pairs taps of output pixel (oh, ow): the tap's input pixel, or zrow (the
 * channels' z_x) for a tap in the padding and for an odd last tap's partner. A padding tap adds
 * z_x·w' to Σ x·w', which corr takes away again: the reference's skipped tap exactly. */
static inline void qc_dwconv_nhwc_taps(const qc_pool2d *p, size_t channels, const uint8_t *x,
                                       const uint8_t *zrow, const qc_dwconv_interior *in,
                                       size_t oh, size_t ow, const uint8_t **tp)
{
    const size_t taps = p->kernel_h * p->kernel_w, pairs = (taps + 1) / 2;
    const int interior = oh >= in->oh_lo && oh < in->oh_hi && ow >= in->ow_lo && ow < in->ow_hi;
    for (size_t t = 0; t < 2 * pairs; t++) {
        const size_t ih = oh * p->stride_h + (t / p->kernel_w) * p->dilation_h;
        const size_t iw = ow * p->stride_w + (t % p->kernel_w) * p->dilation_w;
        const int inside = interior || (ih >= p->pad_top && ih - p->pad_top < p->in_h &&
                                        iw >= p->pad_left && iw - p->pad_left < p->in_w);
        tp[t] = t < taps && inside
                    ? x + ((ih - p->pad_top) * p->in_w + iw - p->pad_left) * channels
                    : zrow;
    }
}

/* The layout of qc_dwconv_weights.quads: channels in blocks of 64 (the last one padded with
 * zero weights), taps in quads of four window rows 4g..4g + 3 of one column kw (rows past the
 * kernel padded likewise), quad q = g·kernel_w + kw: four input rows' bytes of one column,
 * interleaved once, serve every output pixel whose window covers that column. For block b and
 * quad q, four vectors of 64 bytes, vector j for channels 64b + 16j .. 64b + 16j + 15: byte t
 * of dword d holds window row 4g + t of channel 64b + 16j + d (vpdpbusd's four bytes). */
#define QC_DWCONV_BLOCK 64
static inline size_t qc_dwconv_quads(size_t kernel_h, size_t kernel_w)
{
    return (kernel_h + 3) / 4 * kernel_w;
}

static inline size_t qc_dwconv_quad_byte(size_t kernel_h, size_t kernel_w, size_t kh, size_t kw,
                                         size_t c)
{
    const size_t q = kh / 4 * kernel_w + kw;
    return ((c / 64 * qc_dwconv_quads(kernel_h, kernel_w) + q) * 64 + c % 64) * 4 + kh % 4;
}

/* The layout of qc_dwconv_weights.colpairs: channels in blocks of 16 (the last one padded with
 * zero weights), window rows in pairs 2g, 2g + 1 (an odd last row paired with a zero weight),
 * pair q = g·kernel_w + kw: two input rows of one column, interleaved once, serve every output
 * pixel whose window covers that column. For block b and pair q, 32 int16: channel
 * 16b + i holds w − z_w of rows 2g and 2g + 1 at 2i and 2i + 1 (vpmaddwd's two words). */
#define QC_DWCONV_COLBLOCK 16
static inline size_t qc_dwconv_colpairs(size_t kernel_h, size_t kernel_w)
{
    return (kernel_h + 1) / 2 * kernel_w;
}

static inline size_t qc_dwconv_colpair_index(size_t kernel_h, size_t kernel_w, size_t kh,
                                             size_t kw, size_t c)
{
    const size_t q = kh / 2 * kernel_w + kw;
    return ((c / 16 * qc_dwconv_colpairs(kernel_h, kernel_w) + q) * 16 + c % 16) * 2 + kh % 2;
}

/* The tap pointers of output pixel (oh, ow), slots of them: the tap's input pixel, NULL for a
 * tap in the padding. The slots past the last tap (zero weights) hold the first tap's pixel
 * when interior says every tap is inside (then none is NULL), else NULL. off: the taps'
 * offsets from the window's top-left pixel (channels-last bytes). */
static inline void qc_dwconv_pixel_taps(const qc_pool2d *p, size_t channels, const uint8_t *x,
                                        size_t oh, size_t ow, int interior,
                                        const ptrdiff_t *off, size_t slots, const uint8_t **tp)
{
    const size_t taps = p->kernel_h * p->kernel_w;
    const size_t ih0 = oh * p->stride_h, iw0 = ow * p->stride_w;
    if (interior) {
        const uint8_t *base =
            x + ((ih0 - p->pad_top) * p->in_w + iw0 - p->pad_left) * channels;
        for (size_t t = 0; t < taps; t++)
            tp[t] = base + off[t];
    } else {
        size_t t = 0;
        for (size_t kh = 0; kh < p->kernel_h; kh++) {
            const size_t ih = ih0 + kh * p->dilation_h;
            const int row_in = ih >= p->pad_top && ih - p->pad_top < p->in_h;
            for (size_t kw = 0; kw < p->kernel_w; kw++, t++) {
                const size_t iw = iw0 + kw * p->dilation_w;
                tp[t] = row_in && iw >= p->pad_left && iw - p->pad_left < p->in_w
                            ? x + ((ih - p->pad_top) * p->in_w + iw - p->pad_left) * channels
                            : NULL;
            }
        }
    }
    for (size_t t = taps; t < slots; t++)
        tp[t] = interior ? tp[0] : NULL;
}

/* off[t] for qc_dwconv_pixel_taps */
static inline void qc_dwconv_tap_offsets(const qc_pool2d *p, size_t channels, ptrdiff_t *off)
{
    for (size_t kh = 0; kh < p->kernel_h; kh++)
        for (size_t kw = 0; kw < p->kernel_w; kw++)
            off[kh * p->kernel_w + kw] =
                (ptrdiff_t)((kh * p->dilation_h * p->in_w + kw * p->dilation_w) * channels);
}

#endif
