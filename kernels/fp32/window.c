/* window.c — the sliding-window arithmetic shared by convolution and pooling. */
#include "fp32-impl.h"

int64_t qc_f32_window_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                               int64_t pad_begin, int64_t pad_end, bool ceil_mode)
{
    int64_t span = in + pad_begin + pad_end - dilation * (kernel - 1) - 1;
    if (span < 0 || stride < 1)
        return 0;
    if (!ceil_mode)
        return span / stride + 1;
    int64_t out = (span + stride - 1) / stride + 1;
    /* Ceil mode may add a window that starts past the input, in the end padding: it would
     * see no input element at all, so PyTorch and ONNX Runtime drop it. */
    if ((out - 1) * stride >= in + pad_begin)
        out--;
    return out;
}

void qc_f32_window_inside(int64_t n, int64_t in, int64_t stride, int64_t offset, int64_t *lo,
                          int64_t *hi)
{
    /* o*stride + offset >= 0  <=>  o >= ceil(-offset / stride);
     * o*stride + offset < in  <=>  o < ceil((in - offset) / stride). */
    int64_t first = offset < 0 ? (-offset + stride - 1) / stride : 0;
    int64_t last = in - offset <= 0 ? 0 : (in - offset + stride - 1) / stride;
    if (last > n)
        last = n;
    if (first > last)
        first = last;
    *lo = first;
    *hi = last;
}

window3 qc_f32_window3(const qc_f32_window *w)
{
    window3 g;
    int lead = 3 - w->spatial;
    for (int i = 0; i < 3; i++) {
        int j = i - lead;
        bool real = j >= 0;
        g.in[i] = real ? w->in[j] : 1;
        g.out[i] = real ? w->out[j] : 1;
        g.kernel[i] = real ? w->kernel[j] : 1;
        g.stride[i] = real ? w->stride[j] : 1;
        g.dilation[i] = real ? w->dilation[j] : 1;
        g.pad[i] = real ? w->pad_begin[j] : 0;
        g.pad_end[i] = real ? w->pad_end[j] : 0;
    }
    g.in_plane = g.in[0] * g.in[1] * g.in[2];
    g.out_plane = g.out[0] * g.out[1] * g.out[2];
    g.taps = g.kernel[0] * g.kernel[1] * g.kernel[2];
    return g;
}
