/* gather-avx2.c — padded-plane rows, 8 floats per ymm store: whole unaligned stores (a masked
 * store is slow on AMD Zen), the last one overlapping the one before rather than masked; pure
 * copies, the same values as the scalar row. */
#include "fp32-impl.h"

#include "avx2-impl.h"

void qc_f32_gather_row__avx2(float *y, int64_t n, const float *row, int64_t offset,
                             int64_t stride, int64_t lo, int64_t hi)
{
    int64_t o = 0;
    for (; o + 8 <= n; o += 8)
        _mm256_storeu_ps(y + o, qc_f32_window8(row, offset, stride, o, lo, hi));
    if (o == n)
        return;
    if (n >= 8) /* the last 8 again: the same values where they overlap */
        _mm256_storeu_ps(y + n - 8, qc_f32_window8(row, offset, stride, n - 8, lo, hi));
    else
        _mm256_maskstore_ps(y, qc_f32_lanes8(n), qc_f32_window8(row, offset, stride, 0, lo, hi));
}
