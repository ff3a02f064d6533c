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

/* nr ≤ 32 rows × nc ≤ 32 columns: the lanes of r[i] are row i and row 16 + i of columns
 * 0..15, then the same rows of columns 16..31; after the lane transposes, the low half of r[c]
 * is column c's 32 rows and the high half column 16 + c's, 32-byte stores each. */
static inline __attribute__((always_inline)) void block32x32(const uint8_t *x, size_t xs,
                                                             uint8_t *y, size_t ys, size_t nr,
                                                             size_t nc)
{
    const __mmask16 lo = (__mmask16)low_bits(nc < 16 ? nc : 16);
    const __mmask16 hi = (__mmask16)low_bits(nc > 16 ? nc - 16 : 0);
    const __mmask32 rows = (__mmask32)low_bits(nr);
    __m512i r[16];
    for (size_t i = 0; i < 16; i++) {
        /* rows past nr are not read: their lanes stay zero */
        const uint8_t *a = x + (i < nr ? i : 0) * xs, *b = x + (i + 16 < nr ? i + 16 : 0) * xs;
        const __mmask16 ma = i < nr ? 0xffff : 0, mb = i + 16 < nr ? 0xffff : 0;
        __m512i v = _mm512_castsi128_si512(_mm_maskz_loadu_epi8(lo & ma, a));
        v = _mm512_inserti32x4(v, _mm_maskz_loadu_epi8(lo & mb, b), 1);
        v = _mm512_inserti32x4(v, _mm_maskz_loadu_epi8(hi & ma, a + 16), 2);
        r[i] = _mm512_inserti32x4(v, _mm_maskz_loadu_epi8(hi & mb, b + 16), 3);
    }
    lanes16x16(r);
    for (size_t c = 0; c < 16 && c < nc; c++) {
        _mm256_mask_storeu_epi8(y + c * ys, rows, _mm512_castsi512_si256(r[c]));
        if (c + 16 < nc)
            _mm256_mask_storeu_epi8(y + (c + 16) * ys, rows, _mm512_extracti64x4_epi64(r[c], 1));
    }
}

/* nr ≤ 16 rows × nc ≤ 64 columns: r[i] is row i's 64 bytes, lane L its columns
 * 16L..16L+15; after the lane transposes, lane L of r[c] is column 16L + c's 16 rows. */
static inline __attribute__((always_inline)) void block16x64(const uint8_t *x, size_t xs,
                                                             uint8_t *y, size_t ys, size_t nr,
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

/* Matrices of 32 rows or more in 32×32 blocks: the GEMM's 96-pixel tiles back to NCHW are
 * three of them (64-row blocks left a half-empty one, and their 64-byte stores straddled
 * cache lines where a tile starts mid-line; 32-byte stores at 32-byte steps never do), and
 * NCHW images of 32 channels or more into NHWC; fewer rows (NCHW images of few channels) in
 * 16×64 blocks, so that little of each block is padding. */
QC_TRANSPOSE_U8(qc_transpose_u8__avx512)
{
    if (rows == 1) { /* a strided copy: the byte loop is quicker than a block of 1 row */
        qc_transpose_u8__scalar(rows, cols, x, x_stride, y, y_stride);
    } else if (rows >= 32) {
        TRANSPOSE_BLOCKS(block32x32, 32, 32)
    } else {
        TRANSPOSE_BLOCKS(block16x64, 16, 64)
    }
}
