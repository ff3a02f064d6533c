/* avx512-impl.h — private to the AVX-512 kernel files: masks and strided loads for kernels
 * that put 16 output positions in a zmm register. */
#ifndef QCAL_KERNELS_FP32_AVX512_IMPL_H
#define QCAL_KERNELS_FP32_AVX512_IMPL_H

#include <immintrin.h>
#include <stdint.h>

/* the first n lanes (none when n ≤ 0) */
static inline __mmask16 qc_f32_lanes16(int64_t n)
{
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* src[t·stride] for the lanes of m, 0 elsewhere; masked-off lanes read no memory */
static inline __m512 qc_f32_load_strided16(const float *src, int64_t stride, __mmask16 m)
{
    if (stride == 1)
        return _mm512_maskz_loadu_ps(m, src);
    if (stride == 2) {
        /* elements 0..2n-2 of src, then the even ones */
        uint32_t wide = m; /* bit t moved to bit 2t, by halves */
        wide = (wide | wide << 8) & 0x00ff00ffu;
        wide = (wide | wide << 4) & 0x0f0f0f0fu;
        wide = (wide | wide << 2) & 0x33333333u;
        wide = (wide | wide << 1) & 0x55555555u;
        __m512 lo = _mm512_maskz_loadu_ps((__mmask16)wide, src);
        __m512 hi = _mm512_maskz_loadu_ps((__mmask16)(wide >> 16), src + 16);
        const __m512i even =
            _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        return _mm512_permutex2var_ps(lo, even, hi);
    }
    __m512i index = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32((int)stride));
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, index, src, 4);
}

#endif
