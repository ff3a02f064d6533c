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

/* Panels p0 .. p0 + np − 1 (8·np rows) × columns 0 .. nc − 1 of a narrow column panel: the
 * rows in the vector (a packed weight step is 8 rows side by side), each column's b broadcast,
 * so that np·nc chains run with np + nc loads per step where the 8 × 1 sub-tile above needs 9
 * loads for 8 chains of a single column. The vectors hold a column, so they go to y one float
 * at a time, with the scalar twin's bias and clamp. */
static inline __attribute__((always_inline)) void narrow_panels(const qc_f32_gemm_tile *t,
                                                                int64_t p0, int np, int nc)
{
    __m256 acc[8][QC_F32_GEMM_NARROW];
    float lane[MR];
#pragma GCC unroll 8
    for (int p = 0; p < np; p++)
#pragma GCC unroll 4
        for (int j = 0; j < nc; j++) {
            for (int r = 0; r < MR; r++) {
                int64_t row = (p0 + p) * MR + r;
                lane[r] = t->accumulate && row < t->rows ? t->y[row * t->ldy + j] : 0.0f;
            }
            acc[p][j] = _mm256_loadu_ps(lane);
        }
    const int64_t kc = t->kc, ldb = t->ldb, panel = kc * MR;
    const float *w = t->w + p0 * panel, *b = t->b;
    for (int64_t k = 0; k < kc; k++, w += MR, b += ldb)
#pragma GCC unroll 4
        for (int j = 0; j < nc; j++) {
            __m256 bj = _mm256_broadcast_ss(b + j);
#pragma GCC unroll 8
            for (int p = 0; p < np; p++)
                acc[p][j] = _mm256_fmadd_ps(_mm256_loadu_ps(w + p * panel), bj, acc[p][j]);
        }
#pragma GCC unroll 8
    for (int p = 0; p < np; p++)
#pragma GCC unroll 4
        for (int j = 0; j < nc; j++) {
            _mm256_storeu_ps(lane, acc[p][j]);
            for (int r = 0; r < MR; r++) {
                int64_t row = (p0 + p) * MR + r;
                if (row >= t->rows)
                    break;
                float v = t->bias ? lane[r] + t->bias[row] : lane[r];
                v = t->clamp.on ? qc_f32_clamp1(v, t->clamp.lo, t->clamp.hi) : v;
                t->y[row * t->ldy + j] = v;
            }
        }
}

/* nc columns: groups of the most panels that keep np·nc ≤ 12 chains (8 for one column: 9
 * loads a step already), then single panels */
static inline __attribute__((always_inline)) void narrow_columns(const qc_f32_gemm_tile *t, int nc)
{
    const int np = nc == 1 ? 8 : 12 / nc;
    int64_t panels = (t->rows + MR - 1) / MR, p0 = 0;
    for (; p0 + np <= panels; p0 += np)
        narrow_panels(t, p0, np, nc);
    for (; p0 < panels; p0++)
        narrow_panels(t, p0, 1, nc);
}

/* 1 to QC_F32_GEMM_NARROW columns */
void qc_f32_gemm_narrow__avx2(const qc_f32_gemm_tile *t)
{
    switch (t->cols) {
    case 1: narrow_columns(t, 1); break;
    case 2: narrow_columns(t, 2); break;
    case 3: narrow_columns(t, 3); break;
    default: narrow_columns(t, 4); break;
    }
}
