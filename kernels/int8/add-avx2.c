/* add-avx2.c — AVX2 u8 QLinearAdd, bit-exact with add-scalar.c. */
#include "int8-impl.h"
#include "avx2-impl.h"

#include <immintrin.h>
#include <string.h>

QC_QADD_U8(qc_qadd_u8__avx2)
{
    const __m256i za = _mm256_set1_epi32(p->a_zero_point), zb = _mm256_set1_epi32(p->b_zero_point);
    const __m256i ma = _mm256_set1_epi64x(p->a_multiplier),
                  mb = _mm256_set1_epi64x(p->b_multiplier);
    const __m256i s = _mm256_set1_epi64x(p->shift);
    const __m256i lo = _mm256_set1_epi32(p->qmin - p->y_zero_point);
    const __m256i hi = _mm256_set1_epi32(p->qmax - p->y_zero_point);
    const __m256i zy = _mm256_set1_epi32(p->y_zero_point);
    for (size_t i = 0; i < n; i += 8) {
        const size_t nn = n - i < 8 ? n - i : 8;
        uint8_t ta[8] = {0}, tb[8] = {0};
        const uint8_t *pa = a + i, *pb = b + i;
        if (nn < 8) {
            memcpy(ta, pa, nn);
            memcpy(tb, pb, nn);
            pa = ta;
            pb = tb;
        }
        const __m256i da =
            _mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)pa)), za);
        const __m256i db =
            _mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)pb)), zb);
        /* S1 on even and odd lanes (vpmuldq reads the low, signed half of each 64-bit lane) */
        const __m256i ve = _mm256_add_epi64(_mm256_mul_epi32(da, ma), _mm256_mul_epi32(db, mb));
        const __m256i vo = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(da, 32), ma),
                                            _mm256_mul_epi32(_mm256_srli_epi64(db, 32), mb));
        /* S2; |r| < 2^25 for shift ≥ 16, so the low halves hold r */
        const __m256i re = qc_round64_half_even(ve, s), ro = qc_round64_half_even(vo, s);
        __m256i r = _mm256_blend_epi32(re, _mm256_slli_epi64(ro, 32), 0xaa);
        /* S3 */
        r = _mm256_add_epi32(_mm256_max_epi32(_mm256_min_epi32(r, hi), lo), zy);
        const __m128i q = qc_pack8_u8(r);
        if (nn == 8) {
            _mm_storel_epi64((__m128i *)(y + i), q);
        } else {
            uint8_t tmp[16];
            _mm_storeu_si128((__m128i *)tmp, q);
            memcpy(y + i, tmp, nn);
        }
    }
}
