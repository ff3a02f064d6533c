/* q8gemm-6x16c4-avx2.c — AVX2 qgemm micro-kernel (xor form of the sign trick, eq. G4) and A
 * packing; bit-exact with q8gemm-6x16c4-scalar.c. It takes one or two 16-column panels per
 * call (the table's q8gemm_nr is 2·NR): against two, each broadcast of A serves four steps. */
#include "int8-impl.h"
#include "q8gemm-avx2-impl.h"

#include <immintrin.h>
#include <string.h>

#define MR QC_Q8GEMM_MR
#define NR QC_Q8GEMM_NR
#define KB QC_Q8GEMM_KB

_Static_assert(MR == 6 && NR == 16 && KB == 8, "the assembly below is written for 6x16c4");

/* One chunk of 32 k of a row (bytes past the row's end are 128, a' = 0): m and u computed in
 * one go, then their 4-byte groups interleaved (m0 u0 m1 u1 …) into its 2·32 bytes, of which
 * the first `bytes` (16, 32, 48 or 64) are stored. The input's quarters are put in the order
 * 0 2 1 3 first, so that the in-lane unpacks give groups 0-3 and 4-7 as they are (three
 * shuffles, not four). Adds Σ m·u to neg. */
static inline __attribute__((always_inline)) void pack_chunk(__m256i x, uint8_t *p, size_t bytes,
                                                             __m256i *neg)
{
    const __m256i bias = _mm256_set1_epi8((char)0x80), zero = _mm256_setzero_si256();
    const __m256i s = _mm256_xor_si256(_mm256_permute4x64_epi64(x, 0xd8), bias);
    const __m256i m = _mm256_cmpgt_epi8(zero, s);
    const __m256i u = _mm256_abs_epi8(s);
    const __m256i out0 = _mm256_unpacklo_epi32(m, u), out1 = _mm256_unpackhi_epi32(m, u);
    if (bytes >= 32)
        _mm256_storeu_si256((__m256i *)p, out0);
    else
        _mm_storeu_si128((__m128i *)p, _mm256_castsi256_si128(out0));
    if (bytes == 64)
        _mm256_storeu_si256((__m256i *)(p + 32), out1);
    else if (bytes == 48)
        _mm_storeu_si128((__m128i *)(p + 32), _mm256_castsi256_si128(out1));
    *neg = _mm256_add_epi64(*neg, _mm256_sad_epu8(_mm256_and_si256(u, m), zero));
}

/* the r < 32 bytes of a row at src (the bytes of the row's last partial chunk) in the low
 * bytes, zero above; no byte past src + r is read: whole dwords by a masked load, the last
 * r % 4 bytes by the dword that ends at src + r when the chunk is not the row's start (k0),
 * else one at a time */
static inline __attribute__((always_inline)) __m256i load_tail(const uint8_t *src, size_t r,
                                                               size_t k0)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i nd = _mm256_set1_epi32((int)(r / 4));
    __m256i x = _mm256_maskload_epi32((const int *)src, _mm256_cmpgt_epi32(nd, lane));
    const size_t rem = r % 4;
    if (rem != 0) {
        uint32_t w = 0;
        if (r >= 4 || k0 >= 4) {
            memcpy(&w, src + r - 4, 4);
            w >>= 8 * (4 - rem);
        } else {
            for (size_t b = 0; b < rem; b++)
                w |= (uint32_t)src[b] << (8 * b);
        }
        x = _mm256_or_si256(x, _mm256_and_si256(_mm256_set1_epi32((int)w),
                                                _mm256_cmpeq_epi32(nd, lane)));
    }
    return x;
}

/* 2·n bytes of zeros at p (n a multiple of 8): packed padding, a' = 0 */
static inline void zero_bytes(uint8_t *p, size_t n)
{
    const __m256i zero = _mm256_setzero_si256();
    size_t b = 0;
    for (; b + 32 <= 2 * n; b += 32)
        _mm256_storeu_si256((__m256i *)(p + b), zero);
    if (b < 2 * n)
        _mm_storeu_si128((__m128i *)(p + b), _mm256_castsi256_si128(zero));
}

/* Each real row 32 k at a time from A, then its last partial chunk from load_tail with 128
 * blended into the bytes past k_real, then zeros up to kc; the rows past mr zeros. */
QC_Q8GEMM_PACKA(qc_q8gemm_packa_6x16c4__avx2)
{
    const __m256i bias = _mm256_set1_epi8((char)0x80), zero = _mm256_setzero_si256();
    const __m256i byte_index = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                                                15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
                                                27, 28, 29, 30, 31);
    const size_t real = k_real < kc ? k_real : kc, whole = real / 32 * 32, r = real - whole;
    const __m256i in_row = _mm256_cmpgt_epi8(_mm256_set1_epi8((char)r), byte_index);
    int32_t negsum[MR];
    for (size_t i = 0; i < MR; i++) {
        uint8_t *p = packed + i * 2 * kc;
        if (i >= mr) {
            zero_bytes(p, kc);
            rowsum[i] = negsum[i] = 0;
            continue;
        }
        const uint8_t *src = a + i * a_stride;
        __m256i sum = zero, neg = zero;
        for (size_t k0 = 0; k0 < whole; k0 += 32) {
            const __m256i x = _mm256_loadu_si256((const __m256i *)(src + k0));
            pack_chunk(x, p + 2 * k0, 64, &neg);
            sum = _mm256_add_epi64(sum, _mm256_sad_epu8(x, zero));
        }
        size_t k0 = whole;
        if (r != 0) {
            const __m256i x = load_tail(src + k0, r, k0);
            const size_t left = kc - k0 < 32 ? kc - k0 : 32;
            pack_chunk(_mm256_blendv_epi8(bias, x, in_row), p + 2 * k0, 2 * left, &neg);
            sum = _mm256_add_epi64(sum, _mm256_sad_epu8(x, zero));
            k0 += left;
        }
        zero_bytes(p + 2 * k0, kc - k0);
        __m256i v = _mm256_unpacklo_epi64(sum, neg);
        v = _mm256_add_epi64(v, _mm256_unpackhi_epi64(sum, neg));
        const __m128i t = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        rowsum[i] = (int32_t)_mm_cvtsi128_si64(t);
        negsum[i] = (int32_t)_mm_extract_epi64(t, 1);
    }
    memcpy(packed + MR * 2 * kc, negsum, sizeof negsum);
}

/* m_i and u_i of row i, group g of 4 k (eq. G4), each broadcast to every lane */
static inline __attribute__((always_inline)) void
row_group(const uint8_t *a, size_t kc, size_t i, size_t g, __m256i *m, __m256i *u)
{
    int32_t mi, ui;
    memcpy(&mi, a + i * 2 * kc + g * 8, 4);
    memcpy(&ui, a + i * 2 * kc + g * 8 + 4, 4);
    *m = _mm256_set1_epi32(mi);
    *u = _mm256_set1_epi32(ui);
}

/* acc plus one group of 4 k for 8 columns (eq. G4): vpmaddubsw(u, w XOR m), widened by
 * vpmaddwd(·, 1) */
static inline __attribute__((always_inline)) __m256i g4_step(__m256i acc, __m256i u, __m256i m,
                                                             __m256i w, __m256i ones)
{
    return _mm256_add_epi32(
        acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_xor_si256(w, m)), ones));
}

/* 1 to 4 rows (M remainders, and the one-row GEMV of a fully connected layer at batch 1): the
 * same steps in intrinsics, unrolled for a constant number of rows, so that no work is spent on
 * padding rows. */
static inline __attribute__((always_inline)) void
rows_kernel(size_t rows, size_t nr, size_t kc, const uint8_t *a, const int8_t *w, int32_t *c,
            size_t c_stride, const qc_q8gemm_ukernel_params *params)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[MR][2];
    /* the row loops unrolled, so that the accumulators live in registers */
#pragma GCC unroll 6
    for (size_t i = 0; i < rows; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    for (size_t g = 0; g < kc / 4; g++) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)(w + g * 64));
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(w + g * 64 + 32));
#pragma GCC unroll 6
        for (size_t i = 0; i < rows; i++) {
            __m256i m, u;
            row_group(a, kc, i, g, &m, &u);
            acc[i][0] = g4_step(acc[i][0], u, m, w0, ones);
            acc[i][1] = g4_step(acc[i][1], u, m, w1, ones);
        }
    }
    int32_t negsum[MR];
    memcpy(negsum, a + MR * 2 * kc, sizeof negsum);
    qc_q8gemm_epilogue_avx2(rows, acc, nr, negsum, c, c_stride, params);
}

/* the parameters of the second panel's 16 columns */
static inline qc_q8gemm_ukernel_params second_panel(const qc_q8gemm_ukernel_params *params)
{
    qc_q8gemm_ukernel_params p = *params;
    if (p.init != NULL)
        p.init += NR;
    if (p.zb != NULL)
        p.zb += NR;
    return p;
}

/* 1 to 3 rows against two panels (nr > NR): the same steps with four accumulators a row, so
 * that a row's broadcasts serve four 8-column steps */
static inline __attribute__((always_inline)) void
rows_kernel32(size_t rows, size_t nr, size_t kc, const uint8_t *a, const int8_t *w, int32_t *c,
              size_t c_stride, const qc_q8gemm_ukernel_params *params)
{
    const __m256i ones = _mm256_set1_epi16(1);
    const int8_t *w2 = w + params->panel_stride;
    __m256i lo[3][2], hi[3][2];
#pragma GCC unroll 3
    for (size_t i = 0; i < rows; i++)
        lo[i][0] = lo[i][1] = hi[i][0] = hi[i][1] = _mm256_setzero_si256();
    for (size_t g = 0; g < kc / 4; g++) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)(w + g * 64));
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(w + g * 64 + 32));
        const __m256i w2a = _mm256_loadu_si256((const __m256i *)(w2 + g * 64));
        const __m256i w2b = _mm256_loadu_si256((const __m256i *)(w2 + g * 64 + 32));
#pragma GCC unroll 3
        for (size_t i = 0; i < rows; i++) {
            __m256i m, u;
            row_group(a, kc, i, g, &m, &u);
            lo[i][0] = g4_step(lo[i][0], u, m, w0, ones);
            lo[i][1] = g4_step(lo[i][1], u, m, w1, ones);
            hi[i][0] = g4_step(hi[i][0], u, m, w2a, ones);
            hi[i][1] = g4_step(hi[i][1], u, m, w2b, ones);
        }
    }
    int32_t negsum[MR];
    memcpy(negsum, a + MR * 2 * kc, sizeof negsum);
    qc_q8gemm_epilogue_avx2(rows, lo, NR, negsum, c, c_stride, params);
    const qc_q8gemm_ukernel_params p = second_panel(params);
    qc_q8gemm_epilogue_avx2(rows, hi, nr - NR, negsum, c + NR, c_stride, &p);
}

/* One row i of one group of 4 k (eq. G4), both 8-column halves: broadcast m_i and u_i (4 k
 * each), t = w XOR m; vpmaddubsw(u, t) adds pairs of products u·t (each in [−16384, 16256])
 * into int16 without saturating (a pair is in [−32768, 32512]); vpmaddwd(·, 1) adds the pairs into int32; vpaddd accumulates mod 2^32.
 * Registers: ymm0-ymm11 the accumulators, ymm12 m, ymm13 u, ymm14 temporary, ymm15 the int16
 * ones. */
#define QC_ROW(MADDR, UADDR, WOFF, C0, C1)                                                     \
    "vpbroadcastd " MADDR ", %%ymm12\n\t"                                                      \
    "vpbroadcastd " UADDR ", %%ymm13\n\t"                                                      \
    "vpxor " #WOFF "(%[w]), %%ymm12, %%ymm14\n\t"                                              \
    "vpmaddubsw %%ymm14, %%ymm13, %%ymm14\n\t"                                                 \
    "vpmaddwd %%ymm15, %%ymm14, %%ymm14\n\t"                                                   \
    "vpaddd %%ymm14, %%ymm" C0 ", %%ymm" C0 "\n\t"                                             \
    "vpxor " #WOFF "+32(%[w]), %%ymm12, %%ymm14\n\t"                                           \
    "vpmaddubsw %%ymm14, %%ymm13, %%ymm14\n\t"                                                 \
    "vpmaddwd %%ymm15, %%ymm14, %%ymm14\n\t"                                                   \
    "vpaddd %%ymm14, %%ymm" C1 ", %%ymm" C1 "\n\t"

/* the six rows of one group of 4 k at byte offset G of each row (rows 0-2 from a0, 3-5 from
 * a3, the row pitch in p) and byte offset W of the panel */
#define QC_GROUP(G, W)                                                                         \
    QC_ROW(#G "(%[a0])", #G "+4(%[a0])", W, "0", "1")                                          \
    QC_ROW(#G "(%[a0],%[p])", #G "+4(%[a0],%[p])", W, "2", "3")                                \
    QC_ROW(#G "(%[a0],%[p],2)", #G "+4(%[a0],%[p],2)", W, "4", "5")                            \
    QC_ROW(#G "(%[a3])", #G "+4(%[a3])", W, "6", "7")                                          \
    QC_ROW(#G "(%[a3],%[p])", #G "+4(%[a3],%[p])", W, "8", "9")                                \
    QC_ROW(#G "(%[a3],%[p],2)", #G "+4(%[a3],%[p],2)", W, "10", "11")

/* the loops' start: the int16 ones in ymm15, the 12 accumulators ymm0-ymm11 zero */
#define QC_START                                                                               \
    "vpcmpeqw %%ymm15, %%ymm15, %%ymm15\n\t"                                                    \
    "vpabsw %%ymm15, %%ymm15\n\t"                                                               \
    "vpxor %%xmm0, %%xmm0, %%xmm0\n\t"                                                          \
    "vmovdqa %%ymm0, %%ymm1\n\tvmovdqa %%ymm0, %%ymm2\n\tvmovdqa %%ymm0, %%ymm3\n\t"              \
    "vmovdqa %%ymm0, %%ymm4\n\tvmovdqa %%ymm0, %%ymm5\n\tvmovdqa %%ymm0, %%ymm6\n\t"              \
    "vmovdqa %%ymm0, %%ymm7\n\tvmovdqa %%ymm0, %%ymm8\n\tvmovdqa %%ymm0, %%ymm9\n\t"              \
    "vmovdqa %%ymm0, %%ymm10\n\tvmovdqa %%ymm0, %%ymm11\n\t"

/* One row of one group of 4 k against two panels (32 columns): the broadcasts of m and u
 * serve four 8-column steps instead of two */
#define QC_ROW32(MADDR, UADDR, WOFF, C0, C1, C2, C3)                                           \
    QC_ROW(MADDR, UADDR, WOFF, C0, C1)                                                         \
    "vpxor " #WOFF "(%[w],%[ps]), %%ymm12, %%ymm14\n\t"                                        \
    "vpmaddubsw %%ymm14, %%ymm13, %%ymm14\n\t"                                                 \
    "vpmaddwd %%ymm15, %%ymm14, %%ymm14\n\t"                                                   \
    "vpaddd %%ymm14, %%ymm" C2 ", %%ymm" C2 "\n\t"                                             \
    "vpxor " #WOFF "+32(%[w],%[ps]), %%ymm12, %%ymm14\n\t"                                     \
    "vpmaddubsw %%ymm14, %%ymm13, %%ymm14\n\t"                                                 \
    "vpmaddwd %%ymm15, %%ymm14, %%ymm14\n\t"                                                   \
    "vpaddd %%ymm14, %%ymm" C3 ", %%ymm" C3 "\n\t"

#define QC_GROUP32(G, W)                                                                       \
    QC_ROW32(#G "(%[a0])", #G "+4(%[a0])", W, "0", "1", "2", "3")                              \
    QC_ROW32(#G "(%[a0],%[p])", #G "+4(%[a0],%[p])", W, "4", "5", "6", "7")                    \
    QC_ROW32(#G "(%[a0],%[p],2)", #G "+4(%[a0],%[p],2)", W, "8", "9", "10", "11")

/* three packed rows at a against the panels at w and w + ps; the first panel's sums to lo, the
 * second's to hi */
static void rows3x32(size_t kc, const uint8_t *a, const int8_t *w, size_t ps, __m256i lo[][2],
                     __m256i hi[][2])
{
    const uint8_t *a0 = a;
    const int8_t *pw = w;
    const size_t pitch = 2 * kc;
    size_t k = kc;
    __asm__ volatile(QC_START
                     "1:\n\t"
                     QC_GROUP32(0, 0)
                     QC_GROUP32(8, 64)
                     "add $16, %[a0]\n\t"
                     "sub $-128, %[w]\n\t"
                     "sub $8, %[k]\n\t"
                     "jnz 1b\n\t"
                     "vmovdqu %%ymm0, 0(%[lo])\n\t"
                     "vmovdqu %%ymm1, 32(%[lo])\n\t"
                     "vmovdqu %%ymm2, 0(%[hi])\n\t"
                     "vmovdqu %%ymm3, 32(%[hi])\n\t"
                     "vmovdqu %%ymm4, 64(%[lo])\n\t"
                     "vmovdqu %%ymm5, 96(%[lo])\n\t"
                     "vmovdqu %%ymm6, 64(%[hi])\n\t"
                     "vmovdqu %%ymm7, 96(%[hi])\n\t"
                     "vmovdqu %%ymm8, 128(%[lo])\n\t"
                     "vmovdqu %%ymm9, 160(%[lo])\n\t"
                     "vmovdqu %%ymm10, 128(%[hi])\n\t"
                     "vmovdqu %%ymm11, 160(%[hi])\n\t"
                     : [a0] "+r"(a0), [w] "+r"(pw), [k] "+r"(k)
                     : [p] "r"(pitch), [ps] "r"(ps), [lo] "r"(lo), [hi] "r"(hi)
                     : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
                       "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
                       "xmm15");
}

/* 5 or 6 rows against 17 to 32 columns: rows 0-2 then 3-5, each against both panels */
static void rows6x32(size_t mr, size_t nr, size_t kc, const uint8_t *a, const int8_t *w,
                     int32_t *c, size_t c_stride, const qc_q8gemm_ukernel_params *params)
{
    int32_t negsum[MR];
    memcpy(negsum, a + MR * 2 * kc, sizeof negsum);
    for (size_t r0 = 0; r0 < mr; r0 += 3) {
        __m256i lo[3][2], hi[3][2];
        rows3x32(kc, a + r0 * 2 * kc, w, params->panel_stride, lo, hi);
        const size_t rows = mr - r0 < 3 ? mr - r0 : 3;
        qc_q8gemm_ukernel_params p = *params;
        p.rowsum = params->rowsum + r0;
        qc_q8gemm_epilogue_avx2(rows, lo, NR, negsum + r0, c + r0 * c_stride, c_stride, &p);
        p = second_panel(&p);
        qc_q8gemm_epilogue_avx2(rows, hi, nr - NR, negsum + r0, c + r0 * c_stride + NR,
                                c_stride, &p);
    }
}

QC_Q8GEMM_UKERNEL(qc_q8gemm_ukernel_6x16c4__avx2)
{
    if (nr > NR) {
        switch (mr) {
        case 1:
            rows_kernel32(1, nr, kc, a, w, c, c_stride, params);
            return;
        case 2:
            rows_kernel32(2, nr, kc, a, w, c, c_stride, params);
            return;
        case 3:
            rows_kernel32(3, nr, kc, a, w, c, c_stride, params);
            return;
        case 4: { /* one panel at a time: as 3 + 3 rows two would be padding */
            rows_kernel(4, NR, kc, a, w, c, c_stride, params);
            const qc_q8gemm_ukernel_params p = second_panel(params);
            rows_kernel(4, nr - NR, kc, a, w + params->panel_stride, c + NR, c_stride, &p);
            return;
        }
        default: /* 5 or 6 rows: rows 0-2, then 3-5 (5 run as 6) */
            rows6x32(mr, nr, kc, a, w, c, c_stride, params);
            return;
        }
    }
    switch (mr) {
    case 1:
        rows_kernel(1, nr, kc, a, w, c, c_stride, params);
        return;
    case 2:
        rows_kernel(2, nr, kc, a, w, c, c_stride, params);
        return;
    case 3:
        rows_kernel(3, nr, kc, a, w, c, c_stride, params);
        return;
    case 4:
        rows_kernel(4, nr, kc, a, w, c, c_stride, params);
        return;
    default: /* 5 rows run as 6 (the packed padding row is zero): 10 accumulators in C spill */
        break;
    }
    __m256i acc[MR][2];

    /* Written in assembly because the 12 accumulators (ymm0-ymm11), m, u, a temporary and the
     * ones take all 16 registers, and GCC spills in this loop; two groups of 4 k per
     * iteration. The accumulators go to `acc` at the end. */
    const uint8_t *a0 = a, *a3 = a + 3 * 2 * kc;
    const int8_t *pw = w;
    const size_t pitch = 2 * kc;
    size_t k = kc;
    __asm__ volatile(QC_START
                     "1:\n\t"
                     QC_GROUP(0, 0)
                     QC_GROUP(8, 64)
                     "add $16, %[a0]\n\t"
                     "add $16, %[a3]\n\t"
                     "sub $-128, %[w]\n\t"
                     "sub $8, %[k]\n\t"
                     "jnz 1b\n\t"
                     "vmovdqu %%ymm0, 0(%[acc])\n\t"
                     "vmovdqu %%ymm1, 32(%[acc])\n\t"
                     "vmovdqu %%ymm2, 64(%[acc])\n\t"
                     "vmovdqu %%ymm3, 96(%[acc])\n\t"
                     "vmovdqu %%ymm4, 128(%[acc])\n\t"
                     "vmovdqu %%ymm5, 160(%[acc])\n\t"
                     "vmovdqu %%ymm6, 192(%[acc])\n\t"
                     "vmovdqu %%ymm7, 224(%[acc])\n\t"
                     "vmovdqu %%ymm8, 256(%[acc])\n\t"
                     "vmovdqu %%ymm9, 288(%[acc])\n\t"
                     "vmovdqu %%ymm10, 320(%[acc])\n\t"
                     "vmovdqu %%ymm11, 352(%[acc])\n\t"
                     : [a0] "+r"(a0), [a3] "+r"(a3), [w] "+r"(pw), [k] "+r"(k)
                     : [p] "r"(pitch), [acc] "r"(acc)
                     : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
                       "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
                       "xmm15");

    int32_t negsum[MR];
    memcpy(negsum, a + MR * 2 * kc, sizeof negsum);
    qc_q8gemm_epilogue_avx2(mr, acc, nr, negsum, c, c_stride, params);
}
