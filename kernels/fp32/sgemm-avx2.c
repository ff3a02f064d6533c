/* sgemm-avx2.c — the packed GEMM tile in sub-tiles of 4 rows × up to 3 ymm registers (24
 * columns): one vfmadd per output and depth step, in depth order, as the scalar twin's fmaf
 * chain. */
#include "fp32-impl.h"

#include "avx2-impl.h"

#define MR QC_F32_GEMM_MR
#define NR QC_F32_GEMM_NR

/* 8·nv columns at p: all of them when full (plain moves: AMD's vmaskmovps costs more than a
 * load, and its store far more), else the lanes of m */
static inline __attribute__((always_inline)) __m256 load8(const float *p, __m256i m, bool full)
{
    return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}

static inline __attribute__((always_inline)) void store8(float *p, __m256i m, bool full, __m256 v)
{
    if (full)
        _mm256_storeu_ps(p, v);
    else
        _mm256_maskstore_ps(p, m, v);
}

/* rows r0 .. r0 + nr − 1 (those below t->rows stored), columns c0 .. c0 + 8·nv − 1 (those
 * below t->cols; all of them when full); inlined with nr, nv and full constant so that the
 * nr·nv ≤ 12 accumulators stay in registers. */
static inline __attribute__((always_inline)) void subtile(const qc_f32_gemm_tile *t, int64_t r0,
                                                          int nr, int64_t c0, int nv, bool full)
{
    __m256i mask[3];
    __m256 acc[MR][3];
    for (int v = 0; v < nv; v++)
        mask[v] = full ? _mm256_setzero_si256() : qc_f32_lanes8(t->cols - c0 - 8 * v);
#pragma GCC unroll 8
    for (int r = 0; r < nr; r++)
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++)
            acc[r][v] = t->accumulate && r0 + r < t->rows
                            ? load8(t->y + (r0 + r) * t->ldy + c0 + 8 * v, mask[v], full)
                            : _mm256_setzero_ps();
    const float *w = t->w + r0, *b = t->b + c0;
    const int64_t kc = t->kc, ldb = t->ldb;
#pragma GCC unroll 2 /* measured: 4 gains nothing more */
    for (int64_t k = 0; k < kc; k++, w += MR, b += ldb) {
        __m256 col[3];
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++)
            col[v] = load8(b + 8 * v, mask[v], full);
#pragma GCC unroll 8
        for (int r = 0; r < nr; r++) {
            __m256 wr = _mm256_broadcast_ss(w + r);
#pragma GCC unroll 3
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm256_fmadd_ps(wr, col[v], acc[r][v]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < nr; r++) {
        if (r0 + r >= t->rows)
            break;
        float *out = t->y + (r0 + r) * t->ldy + c0;
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) {
            __m256 o = acc[r][v];
            if (t->bias)
                o = _mm256_add_ps(o, _mm256_set1_ps(t->bias[r0 + r]));
            if (t->clamp.on) /* the bound first: the scalar clamp's comparisons (unary-avx2.c) */
                o = _mm256_min_ps(_mm256_set1_ps(t->clamp.hi),
                                  _mm256_max_ps(_mm256_set1_ps(t->clamp.lo), o));
            store8(out + 8 * v, mask[v], full, o);
        }
    }
}

/* 4 × 24 sub-tiles: 12 chains, 3 loads and 4 broadcasts per depth step. A last 8 columns or
 * fewer take all 8 rows at once: 8 chains, enough to cover the fma latency on both pipes. */
void qc_f32_gemm_tile__avx2(const qc_f32_gemm_tile *t)
{
    for (int64_t c0 = 0; c0 < t->cols; c0 += 24) {
        int64_t left = t->cols - c0;
        if (left <= 8) {
            subtile(t, 0, MR, c0, 1, false);
            continue;
        }
        for (int64_t r0 = 0; r0 < t->rows; r0 += 4)
            if (left >= 24)
                subtile(t, r0, 4, c0, 3, true);
            else if (left > 16)
                subtile(t, r0, 4, c0, 3, false);
            else
                subtile(t, r0, 4, c0, 2, false);
    }
}
