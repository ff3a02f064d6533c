/* q8gemm-6x16c4-avxvnni.c — qgemm micro-kernel with AVX-VNNI dot products (xor form, eq. G4'),
 * on the AVX2 kernel's packed panels; bit-exact with q8gemm-6x16c4-scalar.c. */
#include "int8-impl.h"

/* AVX-VNNI (VEX vpdpbusd) is not implied by -mavx2: the Makefile gives *-avxvnni.c files
 * -mavxvnni; it runs only when the CPU reports it (kernels/int8/dispatch.c). */
#include "q8gemm-avx2-impl.h"

#include <immintrin.h>
#include <string.h>

#define MR QC_Q8GEMM_MR
#define NR QC_Q8GEMM_NR
#define KB QC_Q8GEMM_KB

_Static_assert(MR == 6 && NR == 16 && KB == 8, "the assembly below is written for 6x16c4");

/* one group of 4 k (g) for `rows` rows: vpdpbusd multiplies 4 unsigned u by 4 signed
 * t = w XOR m and adds the 4 products to an int32 lane at once: no int16 intermediate, so
 * nothing can saturate (eq. G4') */
static inline __attribute__((always_inline)) void
group(size_t rows, size_t g, size_t kc, const uint8_t *a, const int8_t *w, __m256i acc[][2])
{
    const __m256i w0 = _mm256_loadu_si256((const __m256i *)(w + g * 64));
    const __m256i w1 = _mm256_loadu_si256((const __m256i *)(w + g * 64 + 32));
#pragma GCC unroll 6
    for (size_t i = 0; i < rows; i++) {
        int32_t mi, ui;
        memcpy(&mi, a + i * 2 * kc + g * 8, 4);
        memcpy(&ui, a + i * 2 * kc + g * 8 + 4, 4);
        const __m256i m = _mm256_set1_epi32(mi), u = _mm256_set1_epi32(ui);
        acc[i][0] = _mm256_dpbusd_avx_epi32(acc[i][0], u, _mm256_xor_si256(w0, m));
        acc[i][1] = _mm256_dpbusd_avx_epi32(acc[i][1], u, _mm256_xor_si256(w1, m));
    }
}

/* 1 to 4 rows: intrinsics, rows unrolled (see q8gemm-6x16c4-avx2.c). With 1 or 2 rows the
 * odd groups of 4 k go to a second set of accumulators: each vpdpbusd waits 5 cycles for the
 * previous one on its accumulator, and 2 or 4 chains alone would leave the multipliers idle
 * (one row measured 40 GMAC/s with one set, below the AVX2 kernel's 60). */
static inline __attribute__((always_inline)) void
rows_kernel(size_t rows, size_t nr, size_t kc, const uint8_t *a, const int8_t *w, int32_t *c,
            size_t c_stride, const qc_q8gemm_ukernel_params *params)
{
    __m256i acc[MR][2], odd[2][2];
#pragma GCC unroll 6
    for (size_t i = 0; i < rows; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    if (rows <= 2) {
#pragma GCC unroll 2
        for (size_t i = 0; i < rows; i++)
            odd[i][0] = odd[i][1] = _mm256_setzero_si256();
    }
    for (size_t g = 0; g < kc / 4; g += 2) { /* kc / 4 is even: kc is a multiple of KB */
        group(rows, g, kc, a, w, acc);
        group(rows, g + 1, kc, a, w, rows <= 2 ? odd : acc);
    }
    if (rows <= 2) {
#pragma GCC unroll 2
        for (size_t i = 0; i < rows; i++) {
            acc[i][0] = _mm256_add_epi32(acc[i][0], odd[i][0]);
            acc[i][1] = _mm256_add_epi32(acc[i][1], odd[i][1]);
        }
    }
    int32_t negsum[MR];
    memcpy(negsum, a + MR * 2 * kc, sizeof negsum);
    qc_q8gemm_epilogue_avx2(rows, acc, nr, negsum, c, c_stride, params);
}

/* One row of one group of 4 k, both 8-column halves: t = w XOR m, acc += vpdpbusd(u, t).
 * Registers: ymm0-ymm11 the accumulators, ymm12 m, ymm13 u, ymm14 temporary, ymm15 the first
 * half of w (loaded once per group: one load less per row than reading it in each vpxor). */
#define QC_ROW(MADDR, UADDR, WOFF, C0, C1)                                                     \
    "vpbroadcastd " MADDR ", %%ymm12\n\t"                                                      \
    "vpbroadcastd " UADDR ", %%ymm13\n\t"                                                      \
    "vpxor %%ymm15, %%ymm12, %%ymm14\n\t"                                                      \
    "%{vex%} vpdpbusd %%ymm14, %%ymm13, %%ymm" C0 "\n\t"                                       \
    "vpxor " #WOFF "+32(%[w]), %%ymm12, %%ymm14\n\t"                                           \
    "%{vex%} vpdpbusd %%ymm14, %%ymm13, %%ymm" C1 "\n\t"

#define QC_GROUP(G, W)                                                                         \
    "vmovdqu " #W "(%[w]), %%ymm15\n\t"                                                        \
    QC_ROW(#G "(%[a0])", #G "+4(%[a0])", W, "0", "1")                                          \
    QC_ROW(#G "(%[a0],%[p])", #G "+4(%[a0],%[p])", W, "2", "3")                                \
    QC_ROW(#G "(%[a0],%[p],2)", #G "+4(%[a0],%[p],2)", W, "4", "5")                            \
    QC_ROW(#G "(%[a3])", #G "+4(%[a3])", W, "6", "7")                                          \
    QC_ROW(#G "(%[a3],%[p])", #G "+4(%[a3],%[p])", W, "8", "9")                                \
    QC_ROW(#G "(%[a3],%[p],2)", #G "+4(%[a3],%[p],2)", W, "10", "11")

QC_Q8GEMM_UKERNEL(qc_q8gemm_ukernel_6x16c4__avxvnni)
{
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
    default: /* 5 rows run as 6 (the packed padding row is zero) */
        break;
    }
    __m256i acc[MR][2];

    /* assembly for the same reason as the AVX2 kernel: 12 accumulators in ymm0-ymm11 */
    const uint8_t *a0 = a, *a3 = a + 3 * 2 * kc;
    const int8_t *pw = w;
    const size_t pitch = 2 * kc;
    size_t k = kc;
    __asm__ volatile("vpxor %%xmm0, %%xmm0, %%xmm0\n\t"
                     "vmovdqa %%ymm0, %%ymm1\n\t"
                     "vmovdqa %%ymm0, %%ymm2\n\t"
                     "vmovdqa %%ymm0, %%ymm3\n\t"
                     "vmovdqa %%ymm0, %%ymm4\n\t"
                     "vmovdqa %%ymm0, %%ymm5\n\t"
                     "vmovdqa %%ymm0, %%ymm6\n\t"
                     "vmovdqa %%ymm0, %%ymm7\n\t"
                     "vmovdqa %%ymm0, %%ymm8\n\t"
                     "vmovdqa %%ymm0, %%ymm9\n\t"
                     "vmovdqa %%ymm0, %%ymm10\n\t"
                     "vmovdqa %%ymm0, %%ymm11\n\t"
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
