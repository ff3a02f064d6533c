/* im2col-avx2.c — the im2col rows of a column panel from the padded input, 8 floats per ymm
 * store: whole unaligned stores that may run past a piece (the next piece, or the next row,
 * overwrites them), a stride-2 row de-interleaved from two loads; the last row through a
 * buffer, so that nothing past the panel's rows is written. Pure copies: the scalar twin's
 * values. */
#include "fp32-impl.h"

#include <string.h>

#include "avx2-impl.h"

#define NR QC_F32_GEMM_NR

/* floats a whole-vector copy of len positions reads from the first one */
static int64_t vector_reach(int64_t len, int64_t stride)
{
    int64_t vectors = (len + 7) / 8;
    return stride == 1 ? 8 * vectors : stride == 2 ? 16 * vectors : (len - 1) * stride + 1;
}

/* one row of pieces in whole vectors, up to 7 floats past each piece written; inlined with
 * stride constant. Strides above 2 (rare) copy float by float. */
static inline __attribute__((always_inline)) void vector_row(const float *x,
                                                             const qc_f32_im2col_piece *pc,
                                                             int64_t count, int64_t stride,
                                                             float *y)
{
    for (int64_t i = 0; i < count; i++) {
        const float *src = x + pc[i].at;
        float *dst = y + pc[i].j;
        int64_t len = pc[i].len;
        if (stride == 1)
            for (int64_t q = 0; q < len; q += 8)
                _mm256_storeu_ps(dst + q, _mm256_loadu_ps(src + q));
        else if (stride == 2)
            for (int64_t q = 0; q < len; q += 8)
                _mm256_storeu_ps(dst + q, qc_f32_evens8(_mm256_loadu_ps(src + 2 * q),
                                                        _mm256_loadu_ps(src + 2 * q + 8)));
        else
            for (int64_t q = 0; q < len; q++)
                dst[q] = src[q * stride];
    }
}

/* a row whose whole vectors would read past x_len: float by float */
static void exact_row(const float *x, const qc_f32_im2col_piece *pc, int64_t count,
                      int64_t stride, float *y)
{
    for (int64_t i = 0; i < count; i++)
        for (int64_t q = 0; q < pc[i].len; q++)
            y[pc[i].j + q] = x[pc[i].at + q * stride];
}

void qc_f32_im2col_panel__avx2(const qc_f32_im2col_panel *p, float *y)
{
    if (p->rows <= 0 || p->count <= 0)
        return;
    const qc_f32_im2col_piece *pc = p->pieces;
    int64_t count = p->count, stride = p->stride, reach = 0;
    for (int64_t i = 0; i < count; i++) {
        int64_t r = pc[i].at + vector_reach(pc[i].len, stride);
        reach = r > reach ? r : reach;
    }
    float last[NR + 8];
    for (int64_t t = 0; t < p->rows; t++) {
        float *dst = t + 1 < p->rows ? y + t * NR : last;
        const float *x = p->x + p->taps[t];
        if (p->taps[t] + reach > p->x_len)
            exact_row(x, pc, count, stride, dst);
        else if (stride == 1)
            vector_row(x, pc, count, 1, dst);
        else if (stride == 2)
            vector_row(x, pc, count, 2, dst);
        else
            vector_row(x, pc, count, stride, dst);
    }
    const qc_f32_im2col_piece *end = &pc[count - 1];
    memcpy(y + (p->rows - 1) * NR, last, (size_t)(end->j + end->len) * sizeof(float));
}
