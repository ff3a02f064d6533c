/* gather-avx2.c — im2col and padded-plane rows, 8 floats per ymm store: the in-range lanes
 * loaded (masked, so nothing outside [lo, hi) is read), the others 0; pure copies, the same
 * values as the scalar row. */
#include "fp32-impl.h"

#include "avx2-impl.h"

void qc_f32_gather_row__avx2(float *y, int64_t n, const float *row, int64_t offset,
                             int64_t stride, int64_t lo, int64_t hi)
{
    for (int64_t o = 0; o < n; o += 8) {
        __m256i valid = _mm256_andnot_si256(qc_f32_lanes8(lo - o), qc_f32_lanes8(hi - o));
        __m256 v = _mm256_setzero_ps();
        if (!_mm256_testz_si256(valid, valid)) /* the address is formed only when needed */
            v = qc_f32_load_strided8(row + o * stride + offset, stride, valid);
        _mm256_maskstore_ps(y + o, qc_f32_lanes8(n - o), v);
    }
}
