/* requantize-avx2.c — AVX2 int32 → u8/s8 requantization, bit-exact with the scalar reference. */
#include "int8-impl.h"
#include "avx2-impl.h"

#include <immintrin.h>
#include <string.h>

/* R1–R4 for 8 lanes; returns the rounded value r before the clamp of R5 */
static inline __m256i requantize8(__m256i acc, __m256i bias, __m256i mult, __m256i shift)
{
    __m256i t = _mm256_add_epi32(acc, bias);
    const __m256i s31 = _mm256_min_epu32(shift, _mm256_set1_epi32(31));
    const __m256i pw = _mm256_sllv_epi32(_mm256_set1_epi32(1), s31);
    const __m256i hi = _mm256_add_epi32(pw, _mm256_cmpeq_epi32(s31, _mm256_set1_epi32(31)));
    const __m256i lo = _mm256_sub_epi32(_mm256_setzero_si256(), pw);
    t = _mm256_max_epi32(_mm256_min_epi32(t, hi), lo);
    const __m256i pe = _mm256_mul_epi32(t, mult);
    const __m256i po = _mm256_mul_epi32(_mm256_srli_epi64(t, 32), _mm256_srli_epi64(mult, 32));
    const __m256i se = _mm256_and_si256(shift, _mm256_set1_epi64x(0xffffffff));
    const __m256i so = _mm256_srli_epi64(shift, 32);
    const __m256i re = qc_round64_half_even(pe, se);
    const __m256i ro = qc_round64_half_even(po, so);
    return _mm256_blend_epi32(re, _mm256_slli_epi64(ro, 32), 0xaa);
}

static inline __m256i loadn(const int32_t *p, size_t n)
{
    if (n >= 8)
        return _mm256_loadu_si256((const __m256i *)p);
    int32_t tmp[8] = {0};
    memcpy(tmp, p, n * sizeof *p);
    return _mm256_loadu_si256((const __m256i *)tmp);
}

/* R5: clamp then add z; the result fits the output type, so the packs do not saturate */
static inline __m128i finish(__m256i r, __m256i lo, __m256i hi, __m256i z)
{
    r = _mm256_add_epi32(_mm256_max_epi32(_mm256_min_epi32(r, hi), lo), z);
    return _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

#define REQUANTIZE_BODY(PACK)                                                                  \
    const int g = rq->granularity;                                                             \
    const int32_t z = rq->zero_point;                                                          \
    const __m256i vz = _mm256_set1_epi32(z);                                                   \
    const __m256i vlo = _mm256_set1_epi32(rq->qmin - z), vhi = _mm256_set1_epi32(rq->qmax - z); \
    for (size_t i = 0; i < m; i++) {                                                           \
        const size_t ch = g == QC_PER_ROW ? i : 0;                                             \
        __m256i vb = _mm256_set1_epi32(bias != NULL ? bias[ch] : 0);                           \
        __m256i vm = _mm256_set1_epi32(rq->multiplier[ch]);                                    \
        __m256i vs = _mm256_set1_epi32(rq->shift[ch]);                                         \
        const int32_t *src = acc + i * acc_stride;                                             \
        for (size_t j = 0; j < n; j += 8) {                                                    \
            const size_t nn = n - j < 8 ? n - j : 8;                                           \
            if (g == QC_PER_COLUMN) {                                                          \
                vb = bias != NULL ? loadn(bias + j, nn) : _mm256_setzero_si256();              \
                vm = loadn(rq->multiplier + j, nn);                                            \
                vs = loadn(rq->shift + j, nn);                                                 \
                if (nn < 8) /* keep the unused lanes' shift in range */                        \
                    vs = _mm256_max_epi32(vs, _mm256_set1_epi32(1));                           \
            }                                                                                  \
            const __m256i r = requantize8(loadn(src + j, nn), vb, vm, vs);                     \
            const __m128i q = PACK(finish(r, vlo, vhi, vz));                                   \
            if (nn == 8) {                                                                     \
                _mm_storel_epi64((__m128i *)(y + i * y_stride + j), q);                        \
            } else {                                                                           \
                uint8_t tmp[16];                                                               \
                _mm_storeu_si128((__m128i *)tmp, q);                                           \
                memcpy(y + i * y_stride + j, tmp, nn);                                         \
            }                                                                                  \
        }                                                                                      \
    }

#define PACK_U8(x) _mm_packus_epi16(x, x)
#define PACK_S8(x) _mm_packs_epi16(x, x)

QC_REQUANTIZE_U8(qc_requantize_u8__avx2)
{
    REQUANTIZE_BODY(PACK_U8)
}

QC_REQUANTIZE_S8(qc_requantize_s8__avx2)
{
    REQUANTIZE_BODY(PACK_S8)
}
