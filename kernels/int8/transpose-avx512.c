/* transpose-avx512.c — u8 matrix transpose (NCHW ↔ NHWC) on 512-bit vectors (AVX512 F + BW);
 * a permutation, so bit-exact with the scalar reference qc_transpose_u8__scalar by
 * construction. Masked loads and stores take the ragged edges (24 channels, 3-channel
 * images) inside the same blocks. */
#include "int8-impl.h"

#include <immintrin.h>

/* The 16×16 byte transpose of each 128-bit lane of r[0..15] (lane bytes = 16 columns of one
 * row): four rounds of in-lane unpacks double the run of consecutive rows that sits together
 * (1 → 2 → 4 → 8 → 16 bytes). Afterwards lane L of r[c] is column c of lane L's 16 rows. */
static inline __attribute__((always_inline)) void lanes16x16(__m512i r[16])
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

/* the low n bits set, n ≤ 64 */
static inline uint64_t low_bits(size_t n)
{
    return n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1;
}

/* nr ≤ 64 rows × nc ≤ 16 columns: lane L of r[i] is row 16L + i (zero past nr), so after the
 * lane transposes r[c] is column c's 64 rows, one 64-byte store each (whole cache lines into
 * y when nr = 64). Rows past nr are neither read nor written. */
static inline __attribute__((always_inline)) void block64x16(const uint8_t *x, size_t xs, uint8_t *y, size_t ys, size_t nr,
                              size_t nc)
{
    const __mmask16 cols = (__mmask16)low_bits(nc);
    const __mmask64 rows = (__mmask64)low_bits(nr);
    __m512i r[16];
    for (size_t i = 0; i < 16; i++) {
        __m512i v = _mm512_setzero_si512();
        for (size_t l = 0; l < 4; l++) {
            const size_t row = 16 * l + i;
            const __m128i part = row < nr ? _mm_maskz_loadu_epi8(cols, x + row * xs)
                                          : _mm_setzero_si128();
            v = l == 0 ? _mm512_castsi128_si512(part)
                       : l == 1 ? _mm512_inserti32x4(v, part, 1)
                                : l == 2 ? _mm512_inserti32x4(v, part, 2)
                                         : _mm512_inserti32x4(v, part, 3);
        }
        r[i] = v;
    }
    lanes16x16(r);
    for (size_t c = 0; c < nc; c++)
        _mm512_mask_storeu_epi8(y + c * ys, rows, r[c]);
}

/* nr ≤ 16 rows × nc ≤ 64 columns: r[i] is row i's 64 bytes, lane L its columns
 * 16L..16L+15; after the lane transposes, lane L of r[c] is column 16L + c's 16 rows. */
static inline __attribute__((always_inline)) void block16x64(const uint8_t *x, size_t xs, uint8_t *y, size_t ys, size_t nr,
                              size_t nc)
{
    const __mmask64 cols = (__mmask64)low_bits(nc);
    const __mmask16 rows = (__mmask16)low_bits(nr);
    __m512i r[16];
    for (size_t i = 0; i < 16; i++)
        r[i] = i < nr ? _mm512_maskz_loadu_epi8(cols, x + i * xs) : _mm512_setzero_si512();
    lanes16x16(r);
    for (size_t c = 0; c < 16 && c < nc; c++) {
        _mm_mask_storeu_epi8(y + c * ys, rows, _mm512_castsi512_si128(r[c]));
        if (c + 16 < nc)
            _mm_mask_storeu_epi8(y + (c + 16) * ys, rows, _mm512_extracti32x4_epi32(r[c], 1));
        if (c + 32 < nc)
            _mm_mask_storeu_epi8(y + (c + 32) * ys, rows, _mm512_extracti32x4_epi32(r[c], 2));
        if (c + 48 < nc)
            _mm_mask_storeu_epi8(y + (c + 48) * ys, rows, _mm512_extracti32x4_epi32(r[c], 3));
    }
}

/* whole blocks (the sizes constants, so the masks fold away), then the ragged right column of
 * blocks and the bottom row of blocks */
#define TRANSPOSE_BLOCKS(BLOCK, BR, BC)                                                        \
    const size_t rb = rows / (BR) * (BR), cb = cols / (BC) * (BC);                             \
    for (size_t i0 = 0; i0 < rb; i0 += (BR)) {                                                 \
        for (size_t j0 = 0; j0 < cb; j0 += (BC))                                               \
            BLOCK(x + i0 * x_stride + j0, x_stride, y + j0 * y_stride + i0, y_stride, BR, BC);  \
        if (cb < cols)                                                                         \
            BLOCK(x + i0 * x_stride + cb, x_stride, y + cb * y_stride + i0, y_stride, BR,      \
                  cols - cb);                                                                  \
    }                                                                                          \
    for (size_t j0 = 0; rb < rows && j0 < cols; j0 += (BC))                                    \
        BLOCK(x + rb * x_stride + j0, x_stride, y + j0 * y_stride + rb, y_stride, rows - rb,    \
              cols - j0 < (BC) ? cols - j0 : (BC));

/* Matrices of 64 rows or more (the GEMM's [pixels][channels] tiles back to NCHW, NCHW images
 * of 64 channels or more) in 64×16 blocks; fewer rows (NCHW images of few channels) in 16×64
 * blocks, so that little of each block is padding. */
QC_TRANSPOSE_U8(qc_transpose_u8__avx512)
{
    if (rows == 1) { /* a strided copy: the byte loop is quicker than a block of 1 row */
        qc_transpose_u8__scalar(rows, cols, x, x_stride, y, y_stride);
    } else if (rows >= 64) {
        TRANSPOSE_BLOCKS(block64x16, 64, 16)
    } else {
        TRANSPOSE_BLOCKS(block16x64, 16, 64)
    }
}
