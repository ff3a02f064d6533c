/* transpose-avx512.c — u8 matrix transpose (NCHW ↔ NHWC) on 512-bit vectors (AVX512 F + BW);
 * a permutation, so bit-exact with the scalar reference qc_transpose_u8__scalar by
 * construction. The ragged edges go to the AVX2 twin. */
#include "int8-impl.h"

#include <immintrin.h>

/* The 16×16 byte transpose of each 128-bit lane of r[0..15] (lane bytes = 16 columns of one
 * row): four rounds of in-lane unpacks double the run of consecutive rows that sits together
 * (1 → 2 → 4 → 8 → 16 bytes). Afterwards r[k] holds, in each lane, the column col_of(k). */
static inline void lanes16x16(__m512i r[16])
{
    __m512i b[16];
    /* b[2q + h]: rows 2q, 2q+1 as 16-bit units, columns 8h..8h+7 */
    for (int q = 0; q < 8; q++) {
        b[2 * q] = _mm512_unpacklo_epi8(r[2 * q], r[2 * q + 1]);
        b[2 * q + 1] = _mm512_unpackhi_epi8(r[2 * q], r[2 * q + 1]);
    }
    /* r[4p + g]: rows 4p..4p+3 as 32-bit units, columns 4g..4g+3 */
    for (int p = 0; p < 4; p++)
        for (int h = 0; h < 2; h++) {
            r[4 * p + 2 * h] = _mm512_unpacklo_epi16(b[4 * p + h], b[4 * p + 2 + h]);
            r[4 * p + 2 * h + 1] = _mm512_unpackhi_epi16(b[4 * p + h], b[4 * p + 2 + h]);
        }
    /* b[8s + f]: rows 8s..8s+7 as 64-bit units, columns 2f, 2f+1 */
    for (int s = 0; s < 2; s++)
        for (int g = 0; g < 4; g++) {
            b[8 * s + 2 * g] = _mm512_unpacklo_epi32(r[8 * s + g], r[8 * s + 4 + g]);
            b[8 * s + 2 * g + 1] = _mm512_unpackhi_epi32(r[8 * s + g], r[8 * s + 4 + g]);
        }
    /* r[2f + l]: rows 0..15, column 2f + l */
    for (int f = 0; f < 8; f++) {
        r[2 * f] = _mm512_unpacklo_epi64(b[f], b[8 + f]);
        r[2 * f + 1] = _mm512_unpackhi_epi64(b[f], b[8 + f]);
    }
}

/* 64 rows × 16 columns: lane L of r[i] is row 16L + i, so after the lane transposes r[c] is
 * column c's 64 rows, one whole 64-byte store each (full cache lines into y). */
static inline void block64x16(const uint8_t *x, size_t xs, uint8_t *y, size_t ys)
{
    __m512i r[16];
    for (size_t i = 0; i < 16; i++) {
        __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(x + i * xs)));
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(x + (i + 16) * xs)), 1);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(x + (i + 32) * xs)), 2);
        r[i] = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(x + (i + 48) * xs)), 3);
    }
    lanes16x16(r);
    for (size_t c = 0; c < 16; c++)
        _mm512_storeu_si512(y + c * ys, r[c]);
}

/* 16 rows × 64 columns: r[i] is row i's 64 bytes, lane L its columns 16L..16L+15; after the
 * lane transposes, lane L of r[c] is column 16L + c's 16 rows. */
static inline void block16x64(const uint8_t *x, size_t xs, uint8_t *y, size_t ys)
{
    __m512i r[16];
    for (size_t i = 0; i < 16; i++)
        r[i] = _mm512_loadu_si512(x + i * xs);
    lanes16x16(r);
    for (size_t c = 0; c < 16; c++) {
        _mm_storeu_si128((__m128i *)(y + c * ys), _mm512_castsi512_si128(r[c]));
        _mm_storeu_si128((__m128i *)(y + (c + 16) * ys), _mm512_extracti32x4_epi32(r[c], 1));
        _mm_storeu_si128((__m128i *)(y + (c + 32) * ys), _mm512_extracti32x4_epi32(r[c], 2));
        _mm_storeu_si128((__m128i *)(y + (c + 48) * ys), _mm512_extracti32x4_epi32(r[c], 3));
    }
}

/* Tall matrices (the GEMM's [pixels][channels] tiles back to NCHW, and NCHW images of 64
 * channels or more) in 64×16 blocks; wide ones of 16 to 63 rows (NCHW images of few
 * channels) in 16×64 blocks; the strips left over by the AVX2 twin. */
QC_TRANSPOSE_U8(qc_transpose_u8__avx512)
{
    size_t rb, cb;
    if (rows >= 64 && cols >= 16) {
        rb = rows & ~(size_t)63;
        cb = cols & ~(size_t)15;
        for (size_t i0 = 0; i0 < rb; i0 += 64)
            for (size_t j0 = 0; j0 < cb; j0 += 16)
                block64x16(x + i0 * x_stride + j0, x_stride, y + j0 * y_stride + i0, y_stride);
    } else if (rows >= 16 && cols >= 64) {
        rb = rows & ~(size_t)15;
        cb = cols & ~(size_t)63;
        for (size_t i0 = 0; i0 < rb; i0 += 16)
            for (size_t j0 = 0; j0 < cb; j0 += 64)
                block16x64(x + i0 * x_stride + j0, x_stride, y + j0 * y_stride + i0, y_stride);
    } else {
        qc_transpose_u8__avx2(rows, cols, x, x_stride, y, y_stride);
        return;
    }
    if (cb < cols)
        qc_transpose_u8__avx2(rb, cols - cb, x + cb, x_stride, y + cb * y_stride, y_stride);
    if (rb < rows)
        qc_transpose_u8__avx512(rows - rb, cols, x + rb * x_stride, x_stride, y + rb, y_stride);
}
