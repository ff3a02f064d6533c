/* avx2-impl.h — private to the AVX2 kernel files: masks and strided loads for kernels that put
 * 8 output positions in a ymm register. */
#ifndef QCAL_KERNELS_FP32_AVX2_IMPL_H
#define QCAL_KERNELS_FP32_AVX2_IMPL_H

#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>

/* all ones in the first n lanes (none when n ≤ 0) */
static inline __m256i qc_f32_lanes8(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 0 ? 0 : n < 8 ? n : 8)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* the even elements of lo then hi: a stride-2 row's 8 values from the 16 floats they span */
static inline __m256 qc_f32_evens8(__m256 lo, __m256 hi)
{
    __m256 pairs = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)); /* lo0 lo2 hi0 hi2 | ... */
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(pairs),
                                                  _MM_SHUFFLE(3, 1, 2, 0)));
}

/* src[t·stride] for the lanes of m, 0 elsewhere; masked-off lanes read no memory. Stride 2
 * (windows that halve the plane) as two masked loads of the even floats, the odd ones unread
 * (the last may lie past the row's end): on AMD Zen 3, ResNet-18's MaxPool (3x3, stride 2,
 * 64 × 112²) took 1.2 ms with the gather, 0.7 ms with the loads. */
static inline __m256 qc_f32_load_strided8(const float *src, int64_t stride, __m256i m)
{
    if (stride == 1)
        return _mm256_maskload_ps(src, m);
    if (stride == 2) {
        const __m256i even = _mm256_setr_epi32(-1, 0, -1, 0, -1, 0, -1, 0);
        __m256i lo = _mm256_permutevar8x32_epi32(m, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
        __m256i hi = _mm256_permutevar8x32_epi32(m, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7));
        return qc_f32_evens8(_mm256_maskload_ps(src, _mm256_and_si256(even, lo)),
                             _mm256_maskload_ps(src + 8, _mm256_and_si256(even, hi)));
    }
    __m256i index = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                       _mm256_set1_epi32((int)stride));
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), src, index, _mm256_castsi256_ps(m), 4);
}

#endif
