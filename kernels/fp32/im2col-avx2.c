/* im2col-avx2.c — the im2col rows of a column panel from the padded input, 8 floats per ymm
 * store: the panel's pieces cut into whole-vector moves once, every row then a list of moves
 * (unaligned stores that may run past a piece: the next piece, or the next row, overwrites
 * them; a stride-2 vector de-interleaved from two loads); the last row through a buffer, so
 * that nothing past the panel's rows is written. Pure copies: the scalar twin's values. */
#include "fp32-impl.h"

#include <string.h>

#include "avx2-impl.h"

#define NR QC_F32_GEMM_NR

/* 8 positions of a piece: read from x + from (stride apart), written at y + to */
typedef struct {
    int64_t from, to;
} move8;

/* a row in moves, inlined with stride 1 or 2 constant */
static inline __attribute__((always_inline)) void move_row(const float *x, const move8 *m,
                                                           int64_t moves, int64_t stride,
                                                           float *y)
{
    for (int64_t v = 0; v < moves; v++) {
        const float *src = x + m[v].from;
        __m256 r = stride == 1 ? _mm256_loadu_ps(src)
                               : qc_f32_evens8(_mm256_loadu_ps(src), _mm256_loadu_ps(src + 8));
        _mm256_storeu_ps(y + m[v].to, r);
    }
}

/* a row float by float: strides above 2 (rare), and rows whose vectors would read past x_len */
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
    /* at most NR / 8 + count moves: a piece of len takes len / 8 rounded up */
    move8 m[NR / 8 + NR];
    const qc_f32_im2col_piece *pc = p->pieces;
    int64_t count = p->count, stride = p->stride, moves = 0, reach = 0;
    for (int64_t i = 0; i < count; i++)
        for (int64_t q = 0; q < pc[i].len; q += 8) {
            m[moves++] = (move8){pc[i].at + q * stride, pc[i].j + q};
            int64_t end = pc[i].at + (stride <= 2 ? (q + 8) * stride : pc[i].len * stride);
            reach = end > reach ? end : reach;
        }
    float last[NR + 8];
    for (int64_t t = 0; t < p->rows; t++) {
        float *dst = t + 1 < p->rows ? y + t * NR : last;
        const float *x = p->x + p->taps[t];
        if (stride > 2 || p->taps[t] + reach > p->x_len)
            exact_row(x, pc, count, stride, dst);
        else if (stride == 1)
            move_row(x, m, moves, 1, dst);
        else
            move_row(x, m, moves, 2, dst);
    }
    const qc_f32_im2col_piece *end = &pc[count - 1];
    memcpy(y + (p->rows - 1) * NR, last, (size_t)(end->j + end->len) * sizeof(float));
}
