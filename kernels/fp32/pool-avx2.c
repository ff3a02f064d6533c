/* pool-avx2.c — the MaxPool row kernel with 8 outputs per ymm register: each lane keeps the
 * scalar kernel's choice (the first tap, then a greater one or the first NaN), taps in its
 * order, so the bits are the same (-0 before +0 stays -0). */
#include "fp32-impl.h"

#include <math.h>

#include "avx2-impl.h"

void qc_f32_maxpool_row__avx2(const qc_f32_maxrow *r, float *y)
{
    for (int64_t o = 0; o < r->count; o += 8) {
        __m256i m = qc_f32_lanes8(r->count - o);
        __m256 best = _mm256_set1_ps(-INFINITY);
        bool first = true;
        for (int64_t j = 0; j < r->n_rows; j++) {
            const float *src = r->rows[j] + r->offset + o * r->stride_w;
            for (int64_t kw = 0; kw < r->kernel_w; kw++) {
                __m256 v = qc_f32_load_strided8(src + kw * r->dilation_w, r->stride_w, m);
                __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),
                                           _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q),
                                                         _mm256_cmp_ps(best, best, _CMP_ORD_Q)));
                best = first ? v : _mm256_blendv_ps(best, v, take);
                first = false;
            }
        }
        _mm256_maskstore_ps(y + o, m, best);
    }
}
