/* q8gemm-avx2-impl.h — the qgemm micro-kernels' shared AVX2 epilogue (the AVX2 and AVX-VNNI
 * twins of 6x16c4 store alike); private to kernels/int8, included by those files only. */
#ifndef QCAL_KERNELS_INT8_Q8GEMM_AVX2_IMPL_H
#define QCAL_KERNELS_INT8_Q8GEMM_AVX2_IMPL_H

#include <immintrin.h>

#include "int8-impl.h"

/* negsum (eq. G4), the start values or C, the rank-1 zero-point term, and the stores, for the
 * first `rows` rows (rows ≤ mr) of the 2×rows accumulators */
static inline __attribute__((always_inline)) void
qc_q8gemm_epilogue_avx2(size_t rows, __m256i acc[][2], size_t nr, const int32_t *negsum,
                        int32_t *c, size_t c_stride, const qc_q8gemm_ukernel_params *params)
{
    const __m256i n = _mm256_set1_epi32((int)nr);
    const __m256i mask0 = _mm256_cmpgt_epi32(n, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i mask1 =
        _mm256_cmpgt_epi32(n, _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15));
    __m256i init0 = _mm256_setzero_si256(), init1 = init0, zb0 = init0, zb1 = init0;
    if (params->init != NULL) {
        init0 = _mm256_loadu_si256((const __m256i *)params->init);
        init1 = _mm256_loadu_si256((const __m256i *)(params->init + 8));
    }
    if (params->zb != NULL) {
        zb0 = _mm256_loadu_si256((const __m256i *)params->zb);
        zb1 = _mm256_loadu_si256((const __m256i *)(params->zb + 8));
    }
#pragma GCC unroll 6
    for (size_t i = 0; i < rows; i++) {
        int32_t *ci = c + i * c_stride;
        const __m256i ns = _mm256_set1_epi32(negsum[i]);
        __m256i r0 = _mm256_add_epi32(acc[i][0], ns), r1 = _mm256_add_epi32(acc[i][1], ns);
        if (params->init != NULL) {
            r0 = _mm256_add_epi32(r0, init0);
            r1 = _mm256_add_epi32(r1, init1);
        } else {
            r0 = _mm256_add_epi32(r0, _mm256_maskload_epi32(ci, mask0));
            r1 = _mm256_add_epi32(r1, _mm256_maskload_epi32(ci + 8, mask1));
        }
        if (params->zb != NULL) {
            const __m256i rs = _mm256_set1_epi32(params->rowsum[i]);
            r0 = _mm256_sub_epi32(r0, _mm256_mullo_epi32(zb0, rs));
            r1 = _mm256_sub_epi32(r1, _mm256_mullo_epi32(zb1, rs));
        }
        if (nr == QC_Q8GEMM_NR) {
            _mm256_storeu_si256((__m256i *)ci, r0);
            _mm256_storeu_si256((__m256i *)(ci + 8), r1);
        } else {
            _mm256_maskstore_epi32(ci, mask0, r0);
            _mm256_maskstore_epi32(ci + 8, mask1, r1);
        }
    }
}

#endif
