/* q8gemm-2x4c32-avx2.c — AVX2 qgemm micro-kernel (xor form of the sign trick, eq. G4) and A
 * packing; bit-exact with q8gemm-2x4c32-scalar.c. */
#include "int8-impl.h"

#include <immintrin.h>
#include <string.h>

#define MR QC_Q8GEMM_MR
#define NR QC_Q8GEMM_NR
#define KB QC_Q8GEMM_KB

_Static_assert(MR == 2 && NR == 4 && KB == 32, "the assembly below is written for 2x4c32");

QC_Q8GEMM_PACKA(qc_q8gemm_packa_2x4c32__avx2)
{
    const __m256i bias = _mm256_set1_epi8((char)0x80), zero = _mm256_setzero_si256();
    __m256i sum[MR], neg[MR];
    for (size_t i = 0; i < MR; i++)
        sum[i] = neg[i] = zero;
    uint8_t *p = packed;
    for (size_t k0 = 0; k0 < kc; k0 += KB) {
        for (size_t i = 0; i < MR; i++) {
            __m256i x = bias; /* a = 128: a' = 0 */
            if (i < mr) {
                const uint8_t *src = a + i * a_stride + k0;
                if (k0 + KB <= k_real) {
                    x = _mm256_loadu_si256((const __m256i *)src);
                } else if (k0 < k_real) {
                    uint8_t tmp[KB];
                    memset(tmp, 0x80, sizeof tmp);
                    memcpy(tmp, src, k_real - k0);
                    x = _mm256_loadu_si256((const __m256i *)tmp);
                }
            }
            const __m256i s = _mm256_xor_si256(x, bias);
            const __m256i m = _mm256_cmpgt_epi8(zero, s);
            const __m256i u = _mm256_abs_epi8(s);
            _mm256_storeu_si256((__m256i *)(p + i * KB), m);
            _mm256_storeu_si256((__m256i *)(p + (MR + i) * KB), u);
            sum[i] = _mm256_add_epi64(sum[i], _mm256_sad_epu8(x, zero));
            neg[i] = _mm256_add_epi64(neg[i], _mm256_sad_epu8(_mm256_and_si256(u, m), zero));
        }
        p += 2 * MR * KB;
    }
    /* padding was counted as 128 per element in sum: take it back */
    const int64_t pad = (int64_t)128 * (int64_t)(kc - (k_real < kc ? k_real : kc));
    int32_t negsum[MR];
    for (size_t i = 0; i < MR; i++) {
        __m256i v = _mm256_unpacklo_epi64(sum[i], neg[i]);
        v = _mm256_add_epi64(v, _mm256_unpackhi_epi64(sum[i], neg[i]));
        const __m128i t = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        rowsum[i] = i < mr ? (int32_t)(_mm_cvtsi128_si64(t) - pad) : 0;
        negsum[i] = (int32_t)_mm_extract_epi64(t, 1);
    }
    memcpy(p, negsum, sizeof negsum);
}

static inline __m128i hsum4(__m256i x0, __m256i x1, __m256i x2, __m256i x3)
{
    const __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(x0, x1), _mm256_hadd_epi32(x2, x3));
    return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

/* One step for rows 0 and 1 and column OFF / 32 (eq. G4): t = w XOR m; vpmaddubsw(u, t) adds
 * pairs of u·t ∈ [−16384, 16256] into int16 without saturating (|pair| ≤ 32768 = 2·128·128,
 * and the only sum reaching it is −32768, representable); vpmaddwd(·, 1) adds the pairs into
 * int32; vpaddd accumulates mod 2^32. Registers: ymm9/ymm10 m0/m1, ymm11/ymm12 u0/u1,
 * ymm13/ymm14 temporaries. The xor takes w straight from memory. */
#define QC_STEP(OFF, C0, C1)                                                                   \
    "vpxor " #OFF "(%[w]), %%ymm9, %%ymm13\n\t"                                                \
    "vpxor " #OFF "(%[w]), %%ymm10, %%ymm14\n\t"                                               \
    "vpmaddubsw %%ymm13, %%ymm11, %%ymm13\n\t"                                                 \
    "vpmaddubsw %%ymm14, %%ymm12, %%ymm14\n\t"                                                 \
    "vpmaddwd %[ones], %%ymm13, %%ymm13\n\t"                                                   \
    "vpmaddwd %[ones], %%ymm14, %%ymm14\n\t"                                                   \
    "vpaddd %%ymm13, %[" C0 "], %[" C0 "]\n\t"                                                 \
    "vpaddd %%ymm14, %[" C1 "], %[" C1 "]\n\t"

QC_Q8GEMM_UKERNEL(qc_q8gemm_ukernel_2x4c32__avx2)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c02 = c00, c03 = c00;
    __m256i c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    int32_t negsum[MR];
    memcpy(negsum, a + 2 * MR * kc, sizeof negsum);

    /* Written in assembly because GCC spills accumulators and reloads w in this loop; the
     * four instructions per 32 MACs must all stay in registers to approach the peak. */
    const uint8_t *pa = a;
    const int8_t *pw = w;
    size_t k = kc;
    __asm__ volatile("1:\n\t"
                     "vmovdqu (%[a]), %%ymm9\n\t"
                     "vmovdqu 32(%[a]), %%ymm10\n\t"
                     "vmovdqu 64(%[a]), %%ymm11\n\t"
                     "vmovdqu 96(%[a]), %%ymm12\n\t"
                     QC_STEP(0, "c00", "c10")
                     QC_STEP(32, "c01", "c11")
                     QC_STEP(64, "c02", "c12")
                     QC_STEP(96, "c03", "c13")
                     "add $128, %[a]\n\t"
                     "add $128, %[w]\n\t"
                     "sub $32, %[k]\n\t"
                     "jnz 1b\n\t"
                     : [a] "+r"(pa), [w] "+r"(pw), [k] "+r"(k), [c00] "+x"(c00), [c01] "+x"(c01),
                       [c02] "+x"(c02), [c03] "+x"(c03), [c10] "+x"(c10), [c11] "+x"(c11),
                       [c12] "+x"(c12), [c13] "+x"(c13)
                     : [ones] "x"(ones)
                     : "cc", "memory", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14");

    __m128i r0 = _mm_add_epi32(hsum4(c00, c01, c02, c03), _mm_set1_epi32(negsum[0]));
    __m128i r1 = _mm_add_epi32(hsum4(c10, c11, c12, c13), _mm_set1_epi32(negsum[1]));

    const __m128i mask = _mm_cmpgt_epi32(_mm_set1_epi32((int)nr), _mm_setr_epi32(0, 1, 2, 3));
    int32_t *c1 = mr > 1 ? c + c_stride : c;
    if (params->init != NULL) {
        const __m128i init = _mm_maskload_epi32(params->init, mask);
        r0 = _mm_add_epi32(r0, init);
        r1 = _mm_add_epi32(r1, init);
    } else {
        r0 = _mm_add_epi32(r0, _mm_maskload_epi32(c, mask));
        r1 = _mm_add_epi32(r1, _mm_maskload_epi32(c1, mask));
    }
    if (params->zb != NULL) {
        const __m128i zb = _mm_maskload_epi32(params->zb, mask);
        r0 = _mm_sub_epi32(r0, _mm_mullo_epi32(zb, _mm_set1_epi32(params->rowsum[0])));
        r1 = _mm_sub_epi32(r1, _mm_mullo_epi32(zb, _mm_set1_epi32(params->rowsum[1])));
    }
    if (nr == NR) {
        if (mr > 1)
            _mm_storeu_si128((__m128i *)c1, r1);
        _mm_storeu_si128((__m128i *)c, r0);
    } else {
        if (mr > 1)
            _mm_maskstore_epi32(c1, mask, r1);
        _mm_maskstore_epi32(c, mask, r0);
    }
}
