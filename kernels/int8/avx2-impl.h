/* avx2-impl.h — AVX2 building blocks shared by the *-avx2.c files of kernels/int8 only. */
#ifndef QCAL_KERNELS_INT8_AVX2_IMPL_H
#define QCAL_KERNELS_INT8_AVX2_IMPL_H

#include <immintrin.h>

/* Eq. R4 on four 64-bit lanes, shift s in [1, 62] per lane: rint(p / 2^s), ties to even, for
 * |p| < 2^62. p + 2^63 is non-negative, so logical shifts floor it; 2^63 is a multiple of
 * 2^s, so neither the parity nor the rounding changes; the bias is subtracted at the end. */
static inline __m256i qc_round64_half_even(__m256i p, __m256i s)
{
    const __m256i one = _mm256_set1_epi64x(1);
    const __m256i u = _mm256_xor_si256(p, _mm256_set1_epi64x(INT64_MIN));
    const __m256i par = _mm256_and_si256(_mm256_srlv_epi64(u, s), one);
    const __m256i half_m1 = _mm256_sub_epi64(_mm256_sllv_epi64(one, _mm256_sub_epi64(s, one)), one);
    const __m256i u2 = _mm256_add_epi64(_mm256_add_epi64(u, half_m1), par);
    return _mm256_sub_epi64(_mm256_srlv_epi64(u2, s),
                            _mm256_sllv_epi64(one, _mm256_sub_epi64(_mm256_set1_epi64x(63), s)));
}

/* eight int32 lanes → eight uint8 in the low 8 bytes (values already within 0..255) */
static inline __m128i qc_pack8_u8(__m256i r)
{
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    return _mm_packus_epi16(w, w);
}

/* eight int32 lanes → eight int8 in the low 8 bytes (values already within -128..127) */
static inline __m128i qc_pack8_s8(__m256i r)
{
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    return _mm_packs_epi16(w, w);
}

#endif
