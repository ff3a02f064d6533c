/* conv-transpose.c — transposed convolution: a GEMM to columns (W^T · x), then col2im adds each
 * column entry to the output position it lands on. */
#include "fp32-impl.h"

#include <cblas.h>
#include <string.h>

static int64_t kernel_size(const qc_f32_window *w)
{
    int64_t k = 1;
    for (int i = 0; i < w->spatial; i++)
        k *= w->kernel[i];
    return k;
}

static int64_t spatial_size(const int64_t *dims, int spatial)
{
    int64_t n = 1;
    for (int i = 0; i < spatial; i++)
        n *= dims[i];
    return n;
}

size_t qc_f32_conv_transpose_scratch_size(const qc_f32_conv_transpose_params *p)
{
    int64_t rows = p->out_channels / p->groups * kernel_size(&p->win);
    return (size_t)(rows * spatial_size(p->win.in, p->win.spatial)) * sizeof(float);
}

/* Adds the columns of one output channel (kernel x input positions) into its output plane. The
 * dimensions are padded to three with size 1 so that one loop nest serves 1-d to 3-d. */
static void col2im_add(const qc_f32_window *w, const float *col, float *plane)
{
    int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1};
    int64_t d[3] = {1, 1, 1}, pad[3] = {0, 0, 0};
    int off = 3 - w->spatial;
    for (int i = 0; i < w->spatial; i++) {
        in[off + i] = w->in[i];
        out[off + i] = w->out[i];
        k[off + i] = w->kernel[i];
        s[off + i] = w->stride[i];
        d[off + i] = w->dilation[i];
        pad[off + i] = w->pad_begin[i];
    }
    int64_t n_in = in[0] * in[1] * in[2];
    for (int64_t k0 = 0; k0 < k[0]; k0++)
        for (int64_t k1 = 0; k1 < k[1]; k1++)
            for (int64_t k2 = 0; k2 < k[2]; k2++, col += n_in)
                for (int64_t i0 = 0; i0 < in[0]; i0++) {
                    int64_t o0 = i0 * s[0] - pad[0] + k0 * d[0];
                    if (o0 < 0 || o0 >= out[0])
                        continue;
                    for (int64_t i1 = 0; i1 < in[1]; i1++) {
                        int64_t o1 = i1 * s[1] - pad[1] + k1 * d[1];
                        if (o1 < 0 || o1 >= out[1])
                            continue;
                        const float *src = col + (i0 * in[1] + i1) * in[2];
                        float *dst = plane + (o0 * out[1] + o1) * out[2];
                        for (int64_t i2 = 0; i2 < in[2]; i2++) {
                            int64_t o2 = i2 * s[2] - pad[2] + k2 * d[2];
                            if (o2 >= 0 && o2 < out[2])
                                dst[o2] += src[i2];
                        }
                    }
                }
}

void qc_f32_conv_transpose(const qc_f32_conv_transpose_params *p, int64_t batch, const float *x,
                           const float *w, const float *bias, float *y, void *scratch)
{
    const qc_f32_window *win = &p->win;
    int64_t cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
    int64_t kernel = kernel_size(win), n_in = spatial_size(win->in, win->spatial);
    int64_t n_out = spatial_size(win->out, win->spatial), rows = cout_g * kernel;
    float *col = scratch;
    for (int64_t b = 0; b < batch; b++) {
        float *yb = y + b * p->out_channels * n_out;
        for (int64_t c = 0; c < p->out_channels; c++)
            for (int64_t i = 0; i < n_out; i++)
                yb[c * n_out + i] = bias ? bias[c] : 0;
        for (int64_t g = 0; g < p->groups; g++) {
            const float *xg = x + (b * p->in_channels + g * cin_g) * n_in;
            const float *wg = w + g * cin_g * rows;
            /* col (cout_g·kernel x n_in) = Wgᵀ (rows x cin_g) · xg (cin_g x n_in) */
            if (rows == 0 || n_in == 0)
                continue;
            if (cin_g == 0)
                memset(col, 0, (size_t)(rows * n_in) * sizeof *col);
            else
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows, (int)n_in, (int)cin_g, 1.0f,
                            wg, (int)rows, xg, (int)n_in, 0.0f, col, (int)n_in);
            for (int64_t oc = 0; oc < cout_g; oc++)
                col2im_add(win, col + oc * kernel * n_in, yb + (g * cout_g + oc) * n_out);
        }
    }
}
