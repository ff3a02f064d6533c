/* gather-avx2.c — padded-plane rows, 8 floats per ymm store: zeros, whole copies, zeros, each a
 * straight loop of unaligned stores (a masked store is slow on AMD Zen), the last vector
 * overlapping the one before rather than masked; pure copies, the same values as the scalar
 * row. */
#include "fp32-impl.h"

#include "avx2-impl.h"

void qc_f32_gather_row__avx2(float *y, int64_t n, const float *row, int64_t offset,
                             int64_t stride, int64_t lo, int64_t hi)
{
    if (n < 8) {
        _mm256_maskstore_ps(y, qc_f32_lanes8(n), qc_f32_window8(row, offset, stride, 0, lo, hi));
        return;
    }
    /* each phase writes its positions' values (a copy vector rewrites the zeros written past
     * lo); the vector at n − 8 writes whatever the phases left */
    const __m256 zero = _mm256_setzero_ps();
    int64_t last = n - 8, o = 0;
    for (; o < lo && o <= last; o += 8)
        _mm256_storeu_ps(y + o, zero);
    o = lo;
    if (stride == 1)
        for (; o + 8 <= hi && o <= last; o += 8)
            _mm256_storeu_ps(y + o, _mm256_loadu_ps(row + offset + o));
    for (; o < hi && o <= last; o += 8)
        _mm256_storeu_ps(y + o, qc_f32_window8(row, offset, stride, o, lo, hi));
    for (o = hi; o <= last; o += 8)
        _mm256_storeu_ps(y + o, zero);
    _mm256_storeu_ps(y + last, qc_f32_window8(row, offset, stride, last, lo, hi));
}
