/* gather-avx512.c — im2col and padded-plane rows, 16 floats per zmm store: the in-range lanes
 * loaded (masked, so nothing outside [lo, hi) is read), the others 0; pure copies, the same
 * values as the scalar row. */
#include "fp32-impl.h"

#include "avx512-impl.h"

void qc_f32_gather_row__avx512(float *y, int64_t n, const float *row, int64_t offset,
                               int64_t stride, int64_t lo, int64_t hi)
{
    for (int64_t o = 0; o < n; o += 16) {
        __mmask16 valid = qc_f32_lanes16(hi - o) & (__mmask16)~qc_f32_lanes16(lo - o);
        __m512 v = _mm512_setzero_ps();
        if (valid) /* the address is formed only when some lane is in the row */
            v = qc_f32_load_strided16(row + o * stride + offset, stride, valid);
        _mm512_mask_storeu_ps(y + o, qc_f32_lanes16(n - o), v);
    }
}
