/* dwconv-avx512.c — the depthwise row kernel with 16 output pixels per zmm register: each lane
 * does the scalar kernel's operations in its order (product rounded, then added; no FMA), so
 * the bits are the same. */
#include "fp32-impl.h"

#include "avx512-impl.h"

void qc_f32_dwconv_row__avx512(const qc_f32_dwrow *r, float *y)
{
    int64_t cols = r->cols, sw = r->stride_w, dh = r->dilation_h, dw = r->dilation_w;
    for (int64_t ow = 0; ow < r->out_w; ow += 16) {
        __mmask16 m = qc_f32_lanes16(r->out_w - ow);
        __m512 acc = _mm512_setzero_ps();
        for (int64_t kh = 0; kh < r->kernel_h; kh++)
            for (int64_t kw = 0; kw < r->kernel_w; kw++) {
                __m512 wv = _mm512_set1_ps(r->w[kh * r->kernel_w + kw]);
                const float *src = r->base + kh * dh * cols + kw * dw + ow * sw;
                acc = _mm512_add_ps(acc, _mm512_mul_ps(wv, qc_f32_load_strided16(src, sw, m)));
            }
        if (r->has_bias)
            acc = _mm512_add_ps(acc, _mm512_set1_ps(r->bias));
        _mm512_mask_storeu_ps(y + ow, m, acc);
    }
}
