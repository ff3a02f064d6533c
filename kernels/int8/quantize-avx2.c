/* quantize-avx2.c — AVX2 f32 ⇄ u8/s8/int32, bit-exact with the scalar reference. */
#include "int8-impl.h"
#include "avx2-impl.h"

#include <immintrin.h>
#include <string.h>

/* Q1–Q3 on 8 lanes: vdivps is the IEEE division, vroundps(nearest) rounds half to even */
static inline __m256i quantize8(__m256 x, __m256 s, __m256 z, __m256 qmin, __m256 qmax)
{
    __m256 v = _mm256_round_ps(_mm256_div_ps(x, s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
    v = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v, z), qmin), qmax);
    return _mm256_cvtps_epi32(v);
}

static inline __m256 loadf(const float *p, size_t n)
{
    if (n >= 8)
        return _mm256_loadu_ps(p);
    float tmp[8] = {0};
    memcpy(tmp, p, n * sizeof *p);
    return _mm256_loadu_ps(tmp);
}

static inline __m256 loadz(const int32_t *p, size_t n)
{
    if (p == NULL)
        return _mm256_setzero_ps();
    if (n >= 8)
        return _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)p));
    int32_t tmp[8] = {0};
    memcpy(tmp, p, n * sizeof *p);
    return _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)tmp));
}

static inline void store8(void *dst, __m128i q, size_t n)
{
    if (n >= 8) {
        _mm_storel_epi64((__m128i *)dst, q);
    } else {
        uint8_t tmp[16];
        _mm_storeu_si128((__m128i *)tmp, q);
        memcpy(dst, tmp, n);
    }
}

/* [outer][channels][inner]: inner runs share a scale (broadcast); with inner == 1 the
 * channels are contiguous and the scales are loaded as a vector */
#define QUANTIZE_BODY(PACK)                                                                    \
    const __m256 qmin = _mm256_set1_ps((float)q->qmin), qmax = _mm256_set1_ps((float)q->qmax); \
    if (inner == 1) {                                                                          \
        for (size_t o = 0; o < outer; o++)                                                     \
            for (size_t c = 0; c < channels; c += 8) {                                         \
                const size_t nn = channels - c < 8 ? channels - c : 8;                         \
                const __m256 s = nn == 8 ? _mm256_loadu_ps(q->scale + c)                       \
                                         : _mm256_blendv_ps(_mm256_set1_ps(1.0f),              \
                                               loadf(q->scale + c, nn),                        \
                                               _mm256_castsi256_ps(_mm256_cmpgt_epi32(        \
                                                   _mm256_set1_epi32((int)nn),                 \
                                                   _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)))); \
                const __m256 z = loadz(q->zero_point != NULL ? q->zero_point + c : NULL, nn);  \
                const __m256i r = quantize8(loadf(x + o * channels + c, nn), s, z, qmin, qmax); \
                store8(y + o * channels + c, PACK(r), nn);                                     \
            }                                                                                  \
        return;                                                                                \
    }                                                                                          \
    for (size_t o = 0; o < outer; o++)                                                         \
        for (size_t c = 0; c < channels; c++) {                                                \
            const __m256 s = _mm256_set1_ps(q->scale[c]);                                      \
            const float zc = q->zero_point != NULL ? (float)q->zero_point[c] : 0.0f;           \
            const __m256 z = _mm256_set1_ps(zc);                                               \
            const size_t base = (o * channels + c) * inner;                                    \
            for (size_t i = 0; i < inner; i += 8) {                                            \
                const size_t nn = inner - i < 8 ? inner - i : 8;                               \
                const __m256i r = quantize8(loadf(x + base + i, nn), s, z, qmin, qmax);        \
                store8(y + base + i, PACK(r), nn);                                             \
            }                                                                                  \
        }

QC_QUANTIZE(qc_quantize_u8__avx2, uint8_t)
{
    QUANTIZE_BODY(qc_pack8_u8)
}

QC_QUANTIZE(qc_quantize_s8__avx2, int8_t)
{
    QUANTIZE_BODY(qc_pack8_s8)
}

/* D1 on 8 lanes */
static inline void dequantize8(__m256i q, __m256i z, __m256 s, float *y, size_t n)
{
    const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, z)), s);
    if (n >= 8) {
        _mm256_storeu_ps(y, v);
    } else {
        float tmp[8];
        _mm256_storeu_ps(tmp, v);
        memcpy(y, tmp, n * sizeof *y);
    }
}

static inline __m256i load_u8(const uint8_t *p, size_t n)
{
    uint8_t tmp[8] = {0};
    if (n >= 8)
        return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
    memcpy(tmp, p, n);
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)tmp));
}

static inline __m256i load_s8(const int8_t *p, size_t n)
{
    int8_t tmp[8] = {0};
    if (n >= 8)
        return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p));
    memcpy(tmp, p, n);
    return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)tmp));
}

static inline __m256i load_s32(const int32_t *p, size_t n)
{
    int32_t tmp[8] = {0};
    if (n >= 8)
        return _mm256_loadu_si256((const __m256i *)p);
    memcpy(tmp, p, n * sizeof *p);
    return _mm256_loadu_si256((const __m256i *)tmp);
}

static inline __m256i load_i32(const int32_t *p, size_t n)
{
    return p == NULL ? _mm256_setzero_si256() : load_s32(p, n);
}

#define DEQUANTIZE_BODY(LOAD)                                                                  \
    if (inner == 1) {                                                                          \
        for (size_t o = 0; o < outer; o++)                                                     \
            for (size_t c = 0; c < channels; c += 8) {                                         \
                const size_t nn = channels - c < 8 ? channels - c : 8;                         \
                const __m256 s = loadf(scale + c, nn);                                         \
                const __m256i z = load_i32(zero_point != NULL ? zero_point + c : NULL, nn);    \
                dequantize8(LOAD(x + o * channels + c, nn), z, s, y + o * channels + c, nn);  \
            }                                                                                  \
        return;                                                                                \
    }                                                                                          \
    for (size_t o = 0; o < outer; o++)                                                         \
        for (size_t c = 0; c < channels; c++) {                                                \
            const __m256 s = _mm256_set1_ps(scale[c]);                                         \
            const __m256i z = _mm256_set1_epi32(zero_point != NULL ? zero_point[c] : 0);       \
            const size_t base = (o * channels + c) * inner;                                    \
            for (size_t i = 0; i < inner; i += 8) {                                            \
                const size_t nn = inner - i < 8 ? inner - i : 8;                               \
                dequantize8(LOAD(x + base + i, nn), z, s, y + base + i, nn);                   \
            }                                                                                  \
        }

QC_DEQUANTIZE(qc_dequantize_u8__avx2, uint8_t)
{
    DEQUANTIZE_BODY(load_u8)
}

QC_DEQUANTIZE(qc_dequantize_s8__avx2, int8_t)
{
    DEQUANTIZE_BODY(load_s8)
}

QC_DEQUANTIZE(qc_dequantize_s32__avx2, int32_t)
{
    DEQUANTIZE_BODY(load_s32)
}
