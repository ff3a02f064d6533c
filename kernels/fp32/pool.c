/* pool.c — MaxPool (float, uint8, int8, with argmax indices), AveragePool and the global pools. */
#include "fp32-impl.h"

#include <float.h>
#include <math.h>

/* The taps [lo, hi) of dimension i that read real input for output position o, and the
 * input position of tap 0. */
typedef struct {
    int64_t start, lo, hi;
} taps;

static taps taps_at(const window3 *g, int i, int64_t o)
{
    taps t;
    t.start = o * g->stride[i] - g->pad[i];
    qc_f32_window_inside(g->kernel[i], g->in[i], g->dilation[i], t.start, &t.lo, &t.hi);
    return t;
}

/* Max over the window, the maximum's position kept for the indices. NaN wins and stays (as
 * in PyTorch): "v != v" is only true for NaN, and nothing compares greater than NaN after. */
#define DEFINE_MAXPOOL(NAME, T, LOWEST)                                                       \
    static void NAME(const window3 *g, int64_t planes, const T *x, T *y, int64_t *indices,    \
                     bool column_major)                                                       \
    {                                                                                         \
        for (int64_t p = 0; p < planes; p++) {                                                \
            const T *xp = x + p * g->in_plane;                                                \
            for (int64_t od = 0; od < g->out[0]; od++) {                                      \
                taps td = taps_at(g, 0, od);                                                  \
                for (int64_t oh = 0; oh < g->out[1]; oh++) {                                  \
                    taps th = taps_at(g, 1, oh);                                              \
                    for (int64_t ow = 0; ow < g->out[2]; ow++) {                              \
                        taps tw = taps_at(g, 2, ow);                                          \
                        T best = LOWEST;                                                      \
                        int64_t bd = -1, bh = 0, bw = 0;                                      \
                        for (int64_t kd = td.lo; kd < td.hi; kd++) {                          \
                            int64_t id = td.start + kd * g->dilation[0];                      \
                            for (int64_t kh = th.lo; kh < th.hi; kh++) {                      \
                                int64_t ih = th.start + kh * g->dilation[1];                  \
                                const T *row = xp + (id * g->in[1] + ih) * g->in[2];          \
                                for (int64_t kw = tw.lo; kw < tw.hi; kw++) {                  \
                                    int64_t iw = tw.start + kw * g->dilation[2];              \
                                    T v = row[iw];                                            \
                                    if (bd < 0 || v > best || (v != v && best == best)) {     \
                                        best = v;                                             \
                                        bd = id;                                              \
                                        bh = ih;                                              \
                                        bw = iw;                                              \
                                    }                                                         \
                                }                                                             \
                            }                                                                 \
                        }                                                                     \
                        *y++ = best;                                                          \
                        if (indices)                                                          \
                            *indices++ = bd < 0 ? -1 : position(g, p, bd, bh, bw,            \
                                                                 column_major);               \
                    }                                                                         \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
    }

/* ONNX MaxPool's Indices: the flat offset in the whole input tensor; column-major order
 * only reorders the spatial dimensions (the first varies fastest), planes stay row-major. */
static int64_t position(const window3 *g, int64_t plane, int64_t d, int64_t h, int64_t w,
                        bool column_major)
{
    int64_t spatial = column_major ? d + g->in[0] * (h + g->in[1] * w)
                                   : (d * g->in[1] + h) * g->in[2] + w;
    return plane * g->in_plane + spatial;
}

DEFINE_MAXPOOL(maxpool_f32, float, -INFINITY)

void qc_f32_maxpool_row__scalar(const qc_f32_maxrow *r, float *y)
{
    for (int64_t o = 0; o < r->count; o++) {
        float best = -INFINITY;
        bool first = true;
        for (int64_t j = 0; j < r->n_rows; j++) {
            const float *src = r->rows[j] + r->offset + o * r->stride_w;
            for (int64_t kw = 0; kw < r->kernel_w; kw++) {
                float v = src[kw * r->dilation_w];
                if (first || v > best || (v != v && best == best))
                    best = v;
                first = false;
            }
        }
        y[o] = best;
    }
}

#define MAXPOOL_MAX_ROWS 64 /* kernel rows (depth × height) the row kernels take */

/* One output row: the pixels whose window lies inside the input along the row in one call
 * of the row kernel, the others one by one with their taps clipped; the same taps in the same
 * order as maxpool_f32. */
static void maxpool_f32_row(const window3 *g, const float *const *rows, int64_t n_rows,
                            float *y)
{
    void (*row)(const qc_f32_maxrow *, float *) = qc_f32_kernels()->maxpool_row;
    int64_t lo, hi, reach = (g->kernel[2] - 1) * g->dilation[2];
    qc_f32_window_inside(g->out[2], g->in[2] - reach, g->stride[2], -g->pad[2], &lo, &hi);
    qc_f32_maxrow r = {.rows = rows, .n_rows = n_rows, .kernel_w = g->kernel[2],
                       .stride_w = g->stride[2], .dilation_w = g->dilation[2]};
    for (int64_t ow = 0; ow < g->out[2]; ow++) {
        if (ow == lo && lo < hi) {
            r.offset = lo * g->stride[2] - g->pad[2];
            r.kernel_w = g->kernel[2];
            r.count = hi - lo;
            row(&r, y + lo);
            ow = hi - 1;
            continue;
        }
        taps tw = taps_at(g, 2, ow);
        r.offset = tw.start + tw.lo * g->dilation[2];
        r.kernel_w = tw.hi - tw.lo;
        r.count = 1;
        row(&r, y + ow);
    }
}

/* maxpool_f32 without indices, a row of outputs at a time through the kernel table */
static void maxpool_f32_rows(const window3 *g, int64_t planes, const float *x, float *y)
{
    const float *rows[MAXPOOL_MAX_ROWS];
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * g->in_plane;
        for (int64_t od = 0; od < g->out[0]; od++) {
            taps td = taps_at(g, 0, od);
            for (int64_t oh = 0; oh < g->out[1]; oh++) {
                taps th = taps_at(g, 1, oh);
                int64_t n = 0;
                for (int64_t kd = td.lo; kd < td.hi; kd++)
                    for (int64_t kh = th.lo; kh < th.hi; kh++) {
                        int64_t id = td.start + kd * g->dilation[0];
                        int64_t ih = th.start + kh * g->dilation[1];
                        rows[n++] = xp + (id * g->in[1] + ih) * g->in[2];
                    }
                maxpool_f32_row(g, rows, n, y);
                y += g->out[2];
            }
        }
    }
}
DEFINE_MAXPOOL(maxpool_u8, uint8_t, 0)
DEFINE_MAXPOOL(maxpool_i8, int8_t, INT8_MIN)

void qc_f32_maxpool(qc_f32_elem type, const qc_f32_window *win, int64_t planes, const void *x,
                    void *y, int64_t *indices, bool column_major)
{
    window3 g = qc_f32_window3(win);
    switch (type) {
    case QC_F32_ELEM_UINT8:
        maxpool_u8(&g, planes, x, y, indices, column_major);
        break;
    case QC_F32_ELEM_INT8:
        maxpool_i8(&g, planes, x, y, indices, column_major);
        break;
    default:
        if (!indices && g.kernel[0] * g.kernel[1] <= MAXPOOL_MAX_ROWS)
            maxpool_f32_rows(&g, planes, x, y);
        else
            maxpool_f32(&g, planes, x, y, indices, column_major);
        break;
    }
}

void qc_f32_avgpool(const qc_f32_window *win, int64_t planes, bool count_include_pad,
                    const float *x, float *y)
{
    window3 g = qc_f32_window3(win);
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * g.in_plane;
        for (int64_t od = 0; od < g.out[0]; od++) {
            taps td = taps_at(&g, 0, od);
            for (int64_t oh = 0; oh < g.out[1]; oh++) {
                taps th = taps_at(&g, 1, oh);
                for (int64_t ow = 0; ow < g.out[2]; ow++) {
                    taps tw = taps_at(&g, 2, ow);
                    /* The sum in double: it is as cheap here and keeps large windows exact
                     * to float precision. */
                    double sum = 0.0;
                    for (int64_t kd = td.lo; kd < td.hi; kd++) {
                        int64_t id = td.start + kd * g.dilation[0];
                        for (int64_t kh = th.lo; kh < th.hi; kh++) {
                            int64_t ih = th.start + kh * g.dilation[1];
                            const float *row = xp + (id * g.in[1] + ih) * g.in[2] + tw.start;
                            for (int64_t kw = tw.lo; kw < tw.hi; kw++)
                                sum += row[kw * g.dilation[2]];
                        }
                    }
                    int64_t count;
                    if (count_include_pad) {
                        /* Taps inside the padded input [-pad, in + pad_end): the same
                         * range computation, shifted by the begin padding. */
                        count = 1;
                        for (int i = 0; i < 3; i++) {
                            int64_t o = i == 0 ? od : i == 1 ? oh : ow;
                            int64_t lo, hi;
                            qc_f32_window_inside(g.kernel[i], g.in[i] + g.pad[i] + g.pad_end[i],
                                                 g.dilation[i], o * g.stride[i], &lo, &hi);
                            count *= hi - lo;
                        }
                    } else {
                        count = (td.hi - td.lo) * (th.hi - th.lo) * (tw.hi - tw.lo);
                    }
                    *y++ = count > 0 ? (float)(sum / (double)count) : 0.0f;
                }
            }
        }
    }
}

void qc_f32_global_avgpool(int64_t planes, int64_t plane_size, const float *x, float *y)
{
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * plane_size;
        double sum = 0.0;
        for (int64_t i = 0; i < plane_size; i++)
            sum += xp[i];
        y[p] = plane_size > 0 ? (float)(sum / (double)plane_size) : 0.0f;
    }
}

void qc_f32_global_maxpool(int64_t planes, int64_t plane_size, const float *x, float *y)
{
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * plane_size;
        float best = -INFINITY;
        for (int64_t i = 0; i < plane_size; i++) {
            float v = xp[i];
            if (v > best || (v != v && best == best))
                best = v;
        }
        y[p] = best;
    }
}
