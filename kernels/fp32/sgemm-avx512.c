/* sgemm-avx512.c — the packed GEMM tile, 8 rows × up to 3 zmm registers (48 columns): one
 * vfmadd per output and depth step, in depth order, as the scalar twin's fmaf chain. */
#include "fp32-impl.h"

#include "avx512-impl.h"

#define MR QC_F32_GEMM_MR
#define NR QC_F32_GEMM_NR

/* nv (1 to 3) registers of 16 columns per row; inlined with nv constant so that the 8·nv
 * accumulators stay in registers. */
static inline __attribute__((always_inline)) void tile_rows8(const qc_f32_gemm_tile *t, int nv)
{
    __mmask16 mask[3];
    __m512 acc[MR][3];
    for (int v = 0; v < nv; v++)
        mask[v] = qc_f32_lanes16(t->cols - 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++)
            acc[r][v] = t->accumulate && r < t->rows
                            ? _mm512_maskz_loadu_ps(mask[v], t->y + r * t->ldy + 16 * v)
                            : _mm512_setzero_ps();
    const float *w = t->w, *b = t->b;
    for (int64_t k = 0; k < t->kc; k++, w += MR, b += t->ldb) {
        __m512 col[3];
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++)
            col[v] = _mm512_maskz_loadu_ps(mask[v], b + 16 * v);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            __m512 wr = _mm512_set1_ps(w[r]);
#pragma GCC unroll 3
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm512_fmadd_ps(wr, col[v], acc[r][v]);
        }
    }
    /* vmaxps/vminps with the bound first: the scalar clamp's comparisons (unary-avx512.c) */
    const __m512 lo = _mm512_set1_ps(t->clamp.lo), hi = _mm512_set1_ps(t->clamp.hi);
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
        if (r >= t->rows)
            break;
        __m512 add = t->bias ? _mm512_set1_ps(t->bias[r]) : _mm512_setzero_ps();
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) {
            __m512 out = t->bias ? _mm512_add_ps(acc[r][v], add) : acc[r][v];
            if (t->clamp.on)
                out = _mm512_min_ps(hi, _mm512_max_ps(lo, out));
            _mm512_mask_storeu_ps(t->y + r * t->ldy + 16 * v, mask[v], out);
        }
    }
}

void qc_f32_gemm_tile__avx512(const qc_f32_gemm_tile *t)
{
    if (t->cols > 32)
        tile_rows8(t, 3);
    else if (t->cols > 16)
        tile_rows8(t, 2);
    else
        tile_rows8(t, 1);
}
