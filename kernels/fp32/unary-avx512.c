/* unary-avx512.c — Relu, Clip and the bias add, 16 floats per zmm register. vmaxps/vminps
 * return their second operand unless the first compares greater/less, which is the scalar
 * "x < 0 ? 0 : x" exactly: NaN and -0 pass through as they do there. */
#include "fp32-impl.h"

#include "avx512-impl.h"

void qc_f32_relu__avx512(int64_t n, const float *x, float *y)
{
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = qc_f32_lanes16(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_max_ps(zero, v)); /* 0 > v ? 0 : v */
    }
}

void qc_f32_clip__avx512(int64_t n, float lo, float hi, const float *x, float *y)
{
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = qc_f32_lanes16(n - i);
        __m512 v = _mm512_max_ps(vlo, _mm512_maskz_loadu_ps(m, x + i)); /* lo > v ? lo : v */
        _mm512_mask_storeu_ps(y + i, m, _mm512_min_ps(vhi, v));         /* hi < v ? hi : v */
    }
}

void qc_f32_add_bias__avx512(int64_t n, float bias, float *y)
{
    const __m512 b = _mm512_set1_ps(bias);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = qc_f32_lanes16(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), b));
    }
}
