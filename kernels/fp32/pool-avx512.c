/* pool-avx512.c — the MaxPool row kernel with 16 outputs per zmm register: each lane keeps the
 * scalar kernel's choice (the first tap, then a greater one or the first NaN), taps in its
 * order, so the bits are the same (-0 before +0 stays -0). */
#include "fp32-impl.h"

#include <math.h>

#include "avx512-impl.h"

void qc_f32_maxpool_row__avx512(const qc_f32_maxrow *r, float *y)
{
    for (int64_t o = 0; o < r->count; o += 16) {
        __mmask16 m = qc_f32_lanes16(r->count - o);
        __m512 best = _mm512_set1_ps(-INFINITY);
        bool first = true;
        for (int64_t j = 0; j < r->n_rows; j++) {
            const float *src = r->rows[j] + r->offset + o * r->stride_w;
            for (int64_t kw = 0; kw < r->kernel_w; kw++) {
                __m512 v = qc_f32_load_strided16(src + kw * r->dilation_w, r->stride_w, m);
                __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
                                 (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) &
                                  _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q));
                best = first ? v : _mm512_mask_mov_ps(best, take, v);
                first = false;
            }
        }
        _mm512_mask_storeu_ps(y + o, m, best);
    }
}
