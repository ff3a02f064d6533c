/* dwconv-avx2.c — the depthwise row kernel with 8 output pixels per ymm register: each lane
 * does the scalar kernel's operations in its order (product rounded, then added; no FMA), so
 * the bits are the same. */
#include "fp32-impl.h"

#include <immintrin.h>

/* all ones in the first n lanes */
static __m256i lanes(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 8 ? n : 8)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* src[t·stride] for the lanes of m, 0 elsewhere; masked-off lanes read no memory */
static __m256 load_strided(const float *src, int64_t stride, __m256i m)
{
    if (stride == 1)
        return _mm256_maskload_ps(src, m);
    __m256i index = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                       _mm256_set1_epi32((int)stride));
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), src, index, _mm256_castsi256_ps(m), 4);
}

void qc_f32_dwconv_row__avx2(const qc_f32_dwrow *r, float *y)
{
    int64_t cols = r->cols, sw = r->stride_w, dh = r->dilation_h, dw = r->dilation_w;
    for (int64_t ow = 0; ow < r->out_w; ow += 8) {
        __m256i m = lanes(r->out_w - ow);
        __m256 acc = _mm256_setzero_ps();
        for (int64_t kh = 0; kh < r->kernel_h; kh++)
            for (int64_t kw = 0; kw < r->kernel_w; kw++) {
                __m256 wv = _mm256_set1_ps(r->w[kh * r->kernel_w + kw]);
                const float *src = r->base + kh * dh * cols + kw * dw + ow * sw;
                acc = _mm256_add_ps(acc, _mm256_mul_ps(wv, load_strided(src, sw, m)));
            }
        if (r->has_bias)
            acc = _mm256_add_ps(acc, _mm256_set1_ps(r->bias));
        _mm256_maskstore_ps(y + ow, m, acc);
    }
}
