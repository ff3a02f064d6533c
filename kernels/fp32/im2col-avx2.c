/* im2col-avx2.c — the im2col rows of a column panel, 8 floats per ymm store: whole unaligned
 * stores that may run past a piece (the next piece, or the next row, overwrites them), a
 * stride-2 row de-interleaved from two loads; the last row through a buffer, so that nothing
 * past the panel's rows is written. Pure copies: the scalar twin's values. */
#include "fp32-impl.h"

#include <string.h>

#include "avx2-impl.h"

#define NR QC_F32_GEMM_NR

/* row t's pieces into y (the row's first column), up to 7 floats past each piece */
static void panel_row(const qc_f32_im2col_panel *p, const qc_f32_im2col_tap *tap, float *y)
{
    int64_t in_w = p->in_w, s = p->stride_w;
    for (int64_t i = 0; i < p->count; i++) {
        const qc_f32_im2col_piece *pc = &p->pieces[i];
        float *dst = y + pc->j;
        int64_t iz = pc->id + tap->dz, iy = pc->ih + tap->dy, len = pc->len;
        if (iz < 0 || iz >= p->in_d || iy < 0 || iy >= p->in_h) {
            for (int64_t q = 0; q < len; q += 8)
                _mm256_storeu_ps(dst + q, _mm256_setzero_ps());
            continue;
        }
        int64_t a = tap->lo - pc->ow, b = tap->hi - pc->ow;
        a = a < 0 ? 0 : a > len ? len : a;
        b = b < a ? a : b > len ? len : b;
        int64_t at = tap->channel + (iz * p->in_h + iy) * in_w + pc->ow * s + tap->offset;
        for (int64_t q = 0; q < len; q += 8)
            _mm256_storeu_ps(dst + q, qc_f32_window8(p->x, at, s, q, a, b));
    }
}

void qc_f32_im2col_panel__avx2(const qc_f32_im2col_panel *p, float *y)
{
    if (p->rows <= 0 || p->count <= 0)
        return;
    for (int64_t t = 0; t + 1 < p->rows; t++)
        panel_row(p, &p->taps[t], y + t * NR);
    float last[NR + 8];
    const qc_f32_im2col_piece *end = &p->pieces[p->count - 1];
    panel_row(p, &p->taps[p->rows - 1], last);
    memcpy(y + (p->rows - 1) * NR, last, (size_t)(end->j + end->len) * sizeof(float));
}
