/* conv.c — N-d convolution: im2col + GEMM, a plain GEMM for 1x1 kernels, direct depthwise. */
#include "fp32-impl.h"

#include <cblas.h>
#include <string.h>

static int64_t span(const window3 *g, int i)
{
    return (g->out[i] - 1) * g->stride[i] + (g->kernel[i] - 1) * g->dilation[i] + 1;
}

qc_f32_conv_algo qc_f32_conv_choose(const qc_f32_conv_params *p)
{
    const qc_f32_window *w = &p->win;
    bool pointwise = true;
    for (int i = 0; i < w->spatial; i++)
        pointwise = pointwise && w->kernel[i] == 1 && w->stride[i] == 1 && w->pad_begin[i] == 0 &&
                    w->out[i] == w->in[i];
    if (pointwise)
        return QC_F32_CONV_GEMM;
    /* One input channel per group; a single-group single-channel conv (a grayscale first
     * layer, often with many maps) is left to the GEMM, which is faster there. */
    if (w->spatial == 2 && p->in_channels == p->groups && p->groups > 1)
        return QC_F32_CONV_DEPTHWISE;
    return QC_F32_CONV_IM2COL;
}

size_t qc_f32_conv_scratch_size(const qc_f32_conv_params *p)
{
    qc_f32_conv_algo algo = qc_f32_conv_choose(p);
    window3 g = qc_f32_window3(&p->win);
    if (algo == QC_F32_CONV_GEMM)
        return 0;
    if (algo == QC_F32_CONV_DEPTHWISE) /* one padded input plane */
        return (size_t)(span(&g, 1) * span(&g, 2)) * sizeof(float);
    int64_t group_channels = p->groups > 0 ? p->in_channels / p->groups : 0;
    return (size_t)(group_channels * g.taps * g.out_plane) * sizeof(float);
}

/* The scalar gather row: the valid range [lo, hi) is computed by the caller so that the copy
 * itself has no branch. */
void qc_f32_gather_row__scalar(float *y, int64_t n, const float *row, int64_t offset,
                               int64_t stride, int64_t lo, int64_t hi)
{
    memset(y, 0, (size_t)lo * sizeof(float));
    if (stride == 1) {
        memcpy(y + lo, row + lo + offset, (size_t)(hi - lo) * sizeof(float));
    } else {
        for (int64_t o = lo; o < hi; o++)
            y[o] = row[o * stride + offset];
    }
    memset(y + hi, 0, (size_t)(n - hi) * sizeof(float));
}

/* col[channels * taps][out_plane]: row (c, kd, kh, kw) holds, for every output position, the
 * input that this tap multiplies, so that the convolution becomes weights x col. */
static void im2col(const window3 *g, int64_t channels, const float *x, float *col)
{
    qc_f32_gather_row_fn gather = qc_f32_kernels()->gather_row;
    int64_t row_len = g->out[1] * g->out[2];
    for (int64_t c = 0; c < channels; c++) {
        const float *xc = x + c * g->in_plane;
        for (int64_t kd = 0; kd < g->kernel[0]; kd++)
            for (int64_t kh = 0; kh < g->kernel[1]; kh++)
                for (int64_t kw = 0; kw < g->kernel[2]; kw++) {
                    int64_t offset = kw * g->dilation[2] - g->pad[2], lo, hi;
                    qc_f32_window_inside(g->out[2], g->in[2], g->stride[2], offset, &lo, &hi);
                    for (int64_t od = 0; od < g->out[0]; od++) {
                        float *dst = col + od * row_len;
                        int64_t id = od * g->stride[0] - g->pad[0] + kd * g->dilation[0];
                        if (id < 0 || id >= g->in[0]) {
                            memset(dst, 0, (size_t)row_len * sizeof(float));
                            continue;
                        }
                        for (int64_t oh = 0; oh < g->out[1]; oh++) {
                            int64_t ih = oh * g->stride[1] - g->pad[1] + kh * g->dilation[1];
                            float *drow = dst + oh * g->out[2];
                            if (ih < 0 || ih >= g->in[1]) {
                                memset(drow, 0, (size_t)g->out[2] * sizeof(float));
                                continue;
                            }
                            gather(drow, g->out[2], xc + (id * g->in[1] + ih) * g->in[2],
                                   offset, g->stride[2], lo, hi);
                        }
                    }
                    col += g->out_plane;
                }
    }
}

/* padded[r][q] = x[r - pad_h][q - pad_w], 0 outside x: the plane with its zero border made
 * explicit, so that the depthwise loops need no bounds test. */
static void pad_plane(const window3 *g, const float *x, float *padded)
{
    int64_t rows = span(g, 1), cols = span(g, 2), in_h = g->in[1], in_w = g->in[2], lo, hi;
    qc_f32_gather_row_fn gather = qc_f32_kernels()->gather_row;
    qc_f32_window_inside(cols, in_w, 1, -g->pad[2], &lo, &hi);
    for (int64_t r = 0; r < rows; r++) {
        float *dst = padded + r * cols;
        int64_t ih = r - g->pad[1];
        if (ih < 0 || ih >= in_h) {
            memset(dst, 0, (size_t)cols * sizeof(float));
            continue;
        }
        gather(dst, cols, x + ih * in_w, -g->pad[2], 1, lo, hi);
    }
}

#define DEPTHWISE_BLOCK 8

/* The reference row kernel: outputs go DEPTHWISE_BLOCK at a time, their sums kept in
 * registers; every output adds its taps in (kh, kw) order from 0, padding as zeros. */
void qc_f32_dwconv_row__scalar(const qc_f32_dwrow *r, float *y)
{
    int64_t cols = r->cols, sw = r->stride_w, dh = r->dilation_h, dw = r->dilation_w;
    int64_t ow = 0;
    for (; ow + DEPTHWISE_BLOCK <= r->out_w; ow += DEPTHWISE_BLOCK) {
        float acc[DEPTHWISE_BLOCK] = {0};
        for (int64_t kh = 0; kh < r->kernel_h; kh++)
            for (int64_t kw = 0; kw < r->kernel_w; kw++) {
                float wv = r->w[kh * r->kernel_w + kw];
                const float *src = r->base + kh * dh * cols + kw * dw + ow * sw;
                for (int t = 0; t < DEPTHWISE_BLOCK; t++)
                    acc[t] += wv * src[t * sw];
            }
        for (int t = 0; t < DEPTHWISE_BLOCK; t++)
            y[ow + t] = r->has_bias ? acc[t] + r->bias : acc[t];
    }
    for (; ow < r->out_w; ow++) {
        float acc = 0.0f;
        for (int64_t kh = 0; kh < r->kernel_h; kh++)
            for (int64_t kw = 0; kw < r->kernel_w; kw++)
                acc += r->w[kh * r->kernel_w + kw] * r->base[kh * dh * cols + kw * dw + ow * sw];
        y[ow] = r->has_bias ? acc + r->bias : acc;
    }
}

/* Direct 2-d convolution with one input channel per group (mult output channels each): a
 * GEMM with K = taps would be mostly overhead. The bias is added as each row is written (the
 * same sum + bias as a separate pass would compute). */
static void depthwise2d(const window3 *g, int64_t in_channels, int64_t mult, const float *x,
                        const float *w, const float *bias, float *y, float *padded)
{
    void (*row)(const qc_f32_dwrow *, float *) = qc_f32_kernels()->dwconv_row;
    qc_f32_dwrow r = {.kernel_h = g->kernel[1], .kernel_w = g->kernel[2], .cols = span(g, 2),
                      .stride_w = g->stride[2], .dilation_h = g->dilation[1],
                      .dilation_w = g->dilation[2], .out_w = g->out[2],
                      .has_bias = bias != NULL};
    for (int64_t c = 0; c < in_channels; c++) {
        pad_plane(g, x + c * g->in_plane, padded);
        for (int64_t m = c * mult; m < (c + 1) * mult; m++) {
            float *ym = y + m * g->out_plane;
            r.w = w + m * g->taps;
            r.bias = bias ? bias[m] : 0.0f;
            for (int64_t oh = 0; oh < g->out[1]; oh++) {
                r.base = padded + oh * g->stride[1] * r.cols;
                row(&r, ym + oh * r.out_w);
            }
        }
    }
}

void qc_f32_add_bias__scalar(int64_t n, float bias, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += bias;
}

static void add_bias(int64_t channels, int64_t plane, const float *bias, float *y)
{
    void (*add)(int64_t, float, float *) = qc_f32_kernels()->add_bias;
    for (int64_t c = 0; c < channels; c++)
        add(plane, bias[c], y + c * plane);
}

void qc_f32_conv(const qc_f32_conv_params *p, int64_t batch, const float *x, const float *w,
                 const float *bias, float *y, void *scratch)
{
    window3 g = qc_f32_window3(&p->win);
    int64_t groups = p->groups;
    if (batch <= 0 || p->out_channels <= 0 || g.out_plane <= 0 || groups <= 0)
        return;
    int64_t group_in = p->in_channels / groups;  /* input channels per group */
    int64_t group_out = p->out_channels / groups; /* output channels per group */
    int64_t depth = group_in * g.taps;            /* GEMM inner dimension */
    qc_f32_conv_algo algo = qc_f32_conv_choose(p);
    float *col = scratch;

    /* One image at a time: every GEMM has the same sizes whatever the batch, so an image's
     * result does not depend on the images around it. */
    for (int64_t n = 0; n < batch; n++) {
        const float *xn = x + n * p->in_channels * g.in_plane;
        float *yn = y + n * p->out_channels * g.out_plane;
        if (depth == 0) {
            memset(yn, 0, (size_t)(p->out_channels * g.out_plane) * sizeof(float));
        } else if (algo == QC_F32_CONV_DEPTHWISE) {
            depthwise2d(&g, p->in_channels, group_out, xn, w, bias, yn, col);
            continue; /* the bias is in */
        } else {
            for (int64_t gi = 0; gi < groups; gi++) {
                const float *xg = xn + gi * group_in * g.in_plane;
                const float *b = xg;
                if (algo == QC_F32_CONV_IM2COL) {
                    im2col(&g, group_in, xg, col);
                    b = col;
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)group_out,
                            (int)g.out_plane, (int)depth, 1.0f, w + gi * group_out * depth,
                            (int)depth, b, (int)g.out_plane, 0.0f,
                            yn + gi * group_out * g.out_plane, (int)g.out_plane);
            }
        }
        if (bias)
            add_bias(p->out_channels, g.out_plane, bias, yn);
    }
}
