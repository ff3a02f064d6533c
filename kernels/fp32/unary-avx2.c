/* unary-avx2.c — Relu, Clip and the bias add, 8 floats per ymm register. vmaxps/vminps
 * return their second operand unless the first compares greater/less, which is the scalar
 * "x < 0 ? 0 : x" exactly: NaN and -0 pass through as they do there. */
#include "fp32-impl.h"

#include "avx2-impl.h"

void qc_f32_relu__avx2(int64_t n, const float *x, float *y)
{
    const __m256 zero = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_max_ps(zero, _mm256_loadu_ps(x + i)));
    if (i < n) {
        __m256i m = qc_f32_lanes8(n - i);
        _mm256_maskstore_ps(y + i, m, _mm256_max_ps(zero, _mm256_maskload_ps(x + i, m)));
    }
}

void qc_f32_clip__avx2(int64_t n, float lo, float hi, const float *x, float *y)
{
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_min_ps(vhi, _mm256_max_ps(vlo, _mm256_loadu_ps(x + i))));
    if (i < n) {
        __m256i m = qc_f32_lanes8(n - i);
        __m256 v = _mm256_max_ps(vlo, _mm256_maskload_ps(x + i, m));
        _mm256_maskstore_ps(y + i, m, _mm256_min_ps(vhi, v));
    }
}

void qc_f32_add_bias__avx2(int64_t n, float bias, float *y)
{
    const __m256 b = _mm256_set1_ps(bias);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), b));
    if (i < n) {
        __m256i m = qc_f32_lanes8(n - i);
        _mm256_maskstore_ps(y + i, m, _mm256_add_ps(_mm256_maskload_ps(y + i, m), b));
    }
}
