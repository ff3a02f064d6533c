/* add-avx512.c — u8 QLinearAdd on 16 elements per 512-bit vector (AVX512 F + BW), bit-exact
 * with add-scalar.c (eqs. S1–S3); the steps of add-avx2.c, masks in place of the tail copies. */
#include "int8-impl.h"

#include <immintrin.h>

/* Eq. R4 on eight 64-bit lanes, one shift s in [1, 62]: rint(p / 2^s), ties to even, for
 * |p| < 2^62 (qc_round64_half_even of avx2-impl.h: p + 2^63 is non-negative, so logical
 * shifts floor it, and 2^63, a multiple of 2^s, changes neither parity nor rounding) */
static inline __m512i round64_half_even(__m512i p, __m512i s, __m512i half_m1, __m512i bias)
{
    const __m512i u = _mm512_xor_si512(p, _mm512_set1_epi64(INT64_MIN));
    const __m512i par = _mm512_and_si512(_mm512_srlv_epi64(u, s), _mm512_set1_epi64(1));
    const __m512i u2 = _mm512_add_epi64(_mm512_add_epi64(u, half_m1), par);
    return _mm512_sub_epi64(_mm512_srlv_epi64(u2, s), bias);
}

QC_QADD_U8(qc_qadd_u8__avx512)
{
    const __m512i za = _mm512_set1_epi32(p->a_zero_point), zb = _mm512_set1_epi32(p->b_zero_point);
    const __m512i ma = _mm512_set1_epi64(p->a_multiplier), mb = _mm512_set1_epi64(p->b_multiplier);
    const __m512i s = _mm512_set1_epi64(p->shift);
    const __m512i half_m1 = _mm512_set1_epi64(((int64_t)1 << (p->shift - 1)) - 1);
    const __m512i bias = _mm512_set1_epi64((int64_t)((uint64_t)1 << (63 - p->shift)));
    const __m512i lo = _mm512_set1_epi32(p->qmin - p->y_zero_point);
    const __m512i hi = _mm512_set1_epi32(p->qmax - p->y_zero_point);
    const __m512i zy = _mm512_set1_epi32(p->y_zero_point);
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i < 16 ? (__mmask16)((1u << (n - i)) - 1) : 0xffff;
        const __m512i da =
            _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, a + i)), za);
        const __m512i db =
            _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, b + i)), zb);
        /* S1 on even and odd lanes (vpmuldq reads the low, signed half of each 64-bit lane) */
        const __m512i ve = _mm512_add_epi64(_mm512_mul_epi32(da, ma), _mm512_mul_epi32(db, mb));
        const __m512i vo = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(da, 32), ma),
                                            _mm512_mul_epi32(_mm512_srli_epi64(db, 32), mb));
        /* S2; |r| < 2^25 for shift ≥ 16, so the low halves hold r */
        const __m512i re = round64_half_even(ve, s, half_m1, bias);
        const __m512i ro = round64_half_even(vo, s, half_m1, bias);
        __m512i r = _mm512_mask_blend_epi32(0xaaaa, re, _mm512_slli_epi64(ro, 32));
        /* S3: within 0..255, so the narrowing store never saturates */
        r = _mm512_add_epi32(_mm512_max_epi32(_mm512_min_epi32(r, hi), lo), zy);
        _mm512_mask_cvtusepi32_storeu_epi8(y + i, m, r);
    }
}
