/* im2col-avx2.c — the im2col rows of a column panel, 8 floats per ymm store: whole unaligned
 * stores that may run past a piece (the next piece, or the next row, overwrites them), a
 * stride-2 row de-interleaved from two loads; the last row through a buffer, so that nothing
 * past the panel's rows is written. Pure copies: the scalar twin's values. */
#include "fp32-impl.h"

#include <string.h>

#include "avx2-impl.h"

#define NR QC_F32_GEMM_NR

/* y[q] = x[at + q·stride] for q in [a, b), 0 for the other q < len; up to 7 floats past len
 * written. Zeros, whole copies, one masked vector where the copy ends, zeros. */
static inline void piece(float *y, int64_t len, const float *x, int64_t at, int64_t stride,
                         int64_t a, int64_t b)
{
    const __m256 zero = _mm256_setzero_ps();
    for (int64_t q = 0; q < a; q += 8)
        _mm256_storeu_ps(y + q, zero);
    int64_t q = a;
    if (stride == 1)
        for (; q + 8 <= b; q += 8)
            _mm256_storeu_ps(y + q, _mm256_loadu_ps(x + at + q));
    else if (stride == 2) /* the odd float after the last position read too: inside */
        for (; q + 8 < b; q += 8) {
            const float *src = x + at + 2 * q;
            _mm256_storeu_ps(y + q, qc_f32_evens8(_mm256_loadu_ps(src), _mm256_loadu_ps(src + 8)));
        }
    for (; q < b; q += 8)
        _mm256_storeu_ps(y + q, qc_f32_window8(x, at, stride, q, a, b));
    for (q = b; q < len; q += 8)
        _mm256_storeu_ps(y + q, zero);
}

/* row t's pieces into y (the row's first column), up to 7 floats past each piece */
static void panel_row(const qc_f32_im2col_panel *p, const qc_f32_im2col_tap *tap, float *y)
{
    int64_t in_d = p->in_d, in_h = p->in_h, in_w = p->in_w, s = p->stride_w;
    int64_t shift = tap->channel + (tap->dz * in_h + tap->dy) * in_w + tap->offset;
    for (int64_t i = 0; i < p->count; i++) {
        const qc_f32_im2col_piece *pc = &p->pieces[i];
        int64_t iz = pc->id + tap->dz, iy = pc->ih + tap->dy, len = pc->len;
        int64_t a = tap->lo - pc->ow, b = tap->hi - pc->ow;
        a = a < 0 ? 0 : a > len ? len : a;
        b = b < a ? a : b > len ? len : b;
        if (iz < 0 || iz >= in_d || iy < 0 || iy >= in_h)
            a = b = len;
        piece(y + pc->j, len, p->x, (pc->id * in_h + pc->ih) * in_w + pc->ow * s + shift, s, a,
              b);
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
