/* dwconv-avx2.c — the depthwise row kernel with 8 output pixels per ymm register: each lane
 * does the scalar kernel's operations in its order (product rounded, then added; no FMA), so
 * the bits are the same. */
#include "fp32-impl.h"

#include "avx2-impl.h"

void qc_f32_dwconv_row__avx2(const qc_f32_dwrow *r, float *y)
{
    int64_t cols = r->cols, sw = r->stride_w, dh = r->dilation_h, dw = r->dilation_w;
    for (int64_t ow = 0; ow < r->out_w; ow += 8) {
        __m256i m = qc_f32_lanes8(r->out_w - ow);
        __m256 acc = _mm256_setzero_ps();
        for (int64_t kh = 0; kh < r->kernel_h; kh++)
            for (int64_t kw = 0; kw < r->kernel_w; kw++) {
                __m256 wv = _mm256_set1_ps(r->w[kh * r->kernel_w + kw]);
                const float *src = r->base + kh * dh * cols + kw * dw + ow * sw;
                acc = _mm256_add_ps(acc, _mm256_mul_ps(wv, qc_f32_load_strided8(src, sw, m)));
            }
        if (r->has_bias)
            acc = _mm256_add_ps(acc, _mm256_set1_ps(r->bias));
        _mm256_maskstore_ps(y + ow, m, acc);
    }
}
