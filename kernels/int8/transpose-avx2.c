/* transpose-avx2.c — u8 matrix transpose (NCHW ↔ NHWC) in 16×16 byte blocks; a permutation, so
 * bit-exact with the scalar reference qc_transpose_u8__scalar by construction. */
#include "int8-impl.h"

#include <immintrin.h>

/* y[j][i] = x[i][j] for one 16×16 block. Each ymm register holds row i in its low lane and
 * row i + 8 in its high lane, so the 8 registers stay in registers; three rounds of in-lane
 * unpacks double the run of consecutive rows that sits together (1 → 2 → 4 → 8 bytes), and a
 * final 64-bit permute joins rows 0..7 and 8..15 of a column. */
static inline void block16(const uint8_t *x, size_t xs, uint8_t *y, size_t ys)
{
    __m256i r[8], b[8], c[8], d[8];
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(x + (size_t)i * xs))),
            _mm_loadu_si128((const __m128i *)(x + (size_t)(i + 8) * xs)), 1);
    /* b[2q + h]: rows 2q, 2q+1 (and +8) as 16-bit units, columns 8h..8h+7 */
    for (int q = 0; q < 4; q++) {
        b[2 * q] = _mm256_unpacklo_epi8(r[2 * q], r[2 * q + 1]);
        b[2 * q + 1] = _mm256_unpackhi_epi8(r[2 * q], r[2 * q + 1]);
    }
    /* c[4h' + 2h + l]: rows 4h'..4h'+3 as 32-bit units, columns 4(2h + l)..+3 */
    for (int hh = 0; hh < 2; hh++)
        for (int h = 0; h < 2; h++) {
            c[4 * hh + 2 * h] = _mm256_unpacklo_epi16(b[4 * hh + h], b[4 * hh + 2 + h]);
            c[4 * hh + 2 * h + 1] = _mm256_unpackhi_epi16(b[4 * hh + h], b[4 * hh + 2 + h]);
        }
    /* d[2q + l]: rows 0..7 (low lane) and 8..15 (high lane) as 64-bit units, columns
     * 2(2q + l) and the next */
    for (int q = 0; q < 4; q++) {
        d[2 * q] = _mm256_unpacklo_epi32(c[q], c[4 + q]);
        d[2 * q + 1] = _mm256_unpackhi_epi32(c[q], c[4 + q]);
    }
    /* 64-bit units 0, 2, 1, 3: column 2o's 16 rows, then column 2o+1's */
    for (int o = 0; o < 8; o++) {
        const __m256i e = _mm256_permute4x64_epi64(d[o], 0xd8);
        _mm_storeu_si128((__m128i *)(y + (size_t)(2 * o) * ys), _mm256_castsi256_si128(e));
        _mm_storeu_si128((__m128i *)(y + (size_t)(2 * o + 1) * ys), _mm256_extracti128_si256(e, 1));
    }
}

QC_TRANSPOSE_U8(qc_transpose_u8__avx2)
{
    const size_t r16 = rows & ~(size_t)15, c16 = cols & ~(size_t)15;
    for (size_t i0 = 0; i0 < r16; i0 += 16)
        for (size_t j0 = 0; j0 < c16; j0 += 16)
            block16(x + i0 * x_stride + j0, x_stride, y + j0 * y_stride + i0, y_stride);
    /* the ragged right and bottom edges: the reference's loop */
    if (c16 < cols)
        qc_transpose_u8__scalar(rows, cols - c16, x + c16, x_stride, y + c16 * y_stride, y_stride);
    if (r16 < rows)
        qc_transpose_u8__scalar(rows - r16, c16, x + r16 * x_stride, x_stride, y + r16, y_stride);
}
