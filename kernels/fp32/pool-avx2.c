/* pool-avx2.c — the MaxPool row kernel with 8 outputs per ymm register: each lane keeps the
 * scalar kernel's choice (the first tap, then a greater one or the first NaN), taps in its
 * order, so the bits are the same (-0 before +0 stays -0). */
#include "fp32-impl.h"

#include <math.h>

#include "avx2-impl.h"

/* The 8 outputs at o under m. Without NaN, vmaxps(v, best) is the scalar choice (v when
 * greater, else best: an equal -0 or +0 stays the first), one operation on the chain a tap;
 * with a NaN among the taps (seen in unord), the lanes go again through the scalar kernel's
 * whole comparison, which also takes a NaN v over a number. */
static inline __attribute__((always_inline)) __m256 window_max(const qc_f32_maxrow *r, int64_t o,
                                                               __m256i m, int64_t stride,
                                                               bool exact, __m256 *unord)
{
    __m256 best = _mm256_set1_ps(-INFINITY);
    bool first = true;
    for (int64_t j = 0; j < r->n_rows; j++) {
        const float *src = r->rows[j] + r->offset + o * stride;
        for (int64_t kw = 0; kw < r->kernel_w; kw++) {
            __m256 v = qc_f32_load_strided8(src + kw * r->dilation_w, stride, m);
            if (exact) {
                __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),
                                           _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q),
                                                         _mm256_cmp_ps(best, best, _CMP_ORD_Q)));
                best = first ? v : _mm256_blendv_ps(best, v, take);
            } else {
                *unord = _mm256_or_ps(*unord, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                best = first ? v : _mm256_max_ps(v, best);
            }
            first = false;
        }
    }
    return best;
}

/* inlined with stride constant: 1 and 2 (a strided load's kind chosen once, not per tap) */
static inline __attribute__((always_inline)) void row_max(const qc_f32_maxrow *r, int64_t stride,
                                                          float *y)
{
    for (int64_t o = 0; o < r->count; o += 8) {
        __m256i m = qc_f32_lanes8(r->count - o);
        __m256 unord = _mm256_setzero_ps();
        __m256 best = window_max(r, o, m, stride, false, &unord);
        if (!_mm256_testz_ps(unord, unord))
            best = window_max(r, o, m, stride, true, &unord);
        if (r->count - o >= 8) /* a plain store: AMD's masked one also holds up the loads after */
            _mm256_storeu_ps(y + o, best);
        else
            _mm256_maskstore_ps(y + o, m, best);
    }
}

void qc_f32_maxpool_row__avx2(const qc_f32_maxrow *r, float *y)
{
    if (r->stride_w == 1)
        row_max(r, 1, y);
    else if (r->stride_w == 2)
        row_max(r, 2, y);
    else
        row_max(r, r->stride_w, y);
}
