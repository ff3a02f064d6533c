/* dwconv-avx512.c — the depthwise row kernel with 16 output pixels per zmm register: each lane
 * does the scalar kernel's operations in its order (product rounded, then added; no FMA), so
 * the bits are the same. */
#include "fp32-impl.h"

#include <immintrin.h>

/* the first n lanes */
static __mmask16 lanes(int64_t n)
{
    return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

/* src[t·stride] for the lanes of m, 0 elsewhere; masked-off lanes read no memory */
static __m512 load_strided(const float *src, int64_t stride, __mmask16 m)
{
    if (stride == 1)
        return _mm512_maskz_loadu_ps(m, src);
    if (stride == 2) {
        /* elements 0..2n-2 of src, then the even ones */
        uint32_t wide = 0;
        for (int t = 0; t < 16; t++)
            wide |= ((m >> t) & 1u) << (2 * t);
        __m512 lo = _mm512_maskz_loadu_ps((__mmask16)wide, src);
        __m512 hi = _mm512_maskz_loadu_ps((__mmask16)(wide >> 16), src + 16);
        const __m512i even =
            _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        return _mm512_permutex2var_ps(lo, even, hi);
    }
    __m512i index = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32((int)stride));
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, index, src, 4);
}

void qc_f32_dwconv_row__avx512(const qc_f32_dwrow *r, float *y)
{
    int64_t cols = r->cols, sw = r->stride_w, dh = r->dilation_h, dw = r->dilation_w;
    for (int64_t ow = 0; ow < r->out_w; ow += 16) {
        __mmask16 m = lanes(r->out_w - ow);
        __m512 acc = _mm512_setzero_ps();
        for (int64_t kh = 0; kh < r->kernel_h; kh++)
            for (int64_t kw = 0; kw < r->kernel_w; kw++) {
                __m512 wv = _mm512_set1_ps(r->w[kh * r->kernel_w + kw]);
                const float *src = r->base + kh * dh * cols + kw * dw + ow * sw;
                acc = _mm512_add_ps(acc, _mm512_mul_ps(wv, load_strided(src, sw, m)));
            }
        if (r->has_bias)
            acc = _mm512_add_ps(acc, _mm512_set1_ps(r->bias));
        _mm512_mask_storeu_ps(y + ow, m, acc);
    }
}
