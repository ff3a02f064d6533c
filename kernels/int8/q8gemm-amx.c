/* q8gemm-amx.c — qgemm on AMX-INT8 tiles (tdpbusd): u8 activations × s8 weights → int32, the
 * products summed as they are (eq. G7), with its own blocking around 32 × 32 blocks of C. */
#include "int8-impl.h"

/* AMX is not implied by any other flag: the Makefile gives *-amx.c files -mamx-tile
 * -mamx-int8 and the AVX-512 ones; they run only when kernels/cpu.c found AMX usable (CPUID,
 * XCR0 and Linux's permission for the tile data). */
#include <immintrin.h>
#include <string.h>

#define NR QC_Q8GEMM_NR
/* a tile row is 64 bytes: 64 k of one row of A, or 4 k of 16 columns of B (one c4 group of a
 * panel, as qc_q8gemm_pack writes it: a panel's 16 rows from K row k0/4 are one B tile) */
#define TILE_K 64
#define TILE_ROWS 16
#define BLOCK 32 /* rows and columns of C per block: 2 × 2 tiles of 16 × 16 int32 */
/* the columns whose panels one sweep of the row blocks reuses: their nc·kp bytes stay in L2
 * (2 MiB on the CPUs that have AMX) while the blocks of 32 rows go by */
#define NC_BYTES (1024 * 1024)
/* at most this many columns per sweep: their column terms are computed once per sweep */
#define NC_MAX 1024

_Static_assert(NR * 4 == TILE_K && TILE_K % QC_Q8GEMM_KB == 0,
               "a c4 group of a panel is a tile row");
_Static_assert(QC_Q8GEMM_SLACK >= (TILE_ROWS - QC_Q8GEMM_KB / 4) * TILE_K,
               "a tile of B read at the last K rows stays in the packed buffer");

/* the tiles: C[r][c] for row half r and column half c, A for each row half, B for each panel.
 * GCC's tile intrinsics paste their tile numbers into the assembly as written, so the names
 * go through one more macro, which expands them to numbers first. */
#define C00 0
#define C01 1
#define C10 2
#define C11 3
#define TA0 4
#define TA1 5
#define TB0 6
#define TB1 7
#define TILE_ZERO(t) _tile_zero(t)
#define TILE_LOAD(t, p, stride) _tile_loadd(t, p, stride)
#define TILE_STREAM(t, p, stride) _tile_stream_loadd(t, p, stride) /* a hint: used once */
#define TILE_STORE(t, p, stride) _tile_stored(t, p, stride)
#define TILE_DPBUSD(c, a, b) _tile_dpbusd(c, a, b)

/* LDTILECFG's 64-byte operand (palette 1) */
typedef struct tile_config {
    uint8_t palette;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;
_Static_assert(sizeof(tile_config) == 64, "LDTILECFG reads 64 bytes");

/* every tile 64 bytes wide; the A and C tiles of each row half have as many rows as the block
 * has there (rows1 = rows0 when a block has one half: it is computed twice, stored once) */
static void configure(size_t rows0, size_t rows1)
{
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = C00; t <= TB1; t++) {
        cfg.colsb[t] = TILE_K;
        cfg.rows[t] = TILE_ROWS;
    }
    cfg.rows[C00] = cfg.rows[C01] = cfg.rows[TA0] = (uint8_t)rows0;
    cfg.rows[C10] = cfg.rows[C11] = cfg.rows[TA1] = (uint8_t)rows1;
    _tile_loadconfig(&cfg);
}

/* A block of up to 32 rows: the full 64-k steps read in place (rows a_stride apart, each half
 * at a0 and a1), the last partial step from `tail` (32 rows of 64 bytes, zero past k) */
typedef struct arows {
    const uint8_t *a0, *a1;
    size_t a_stride, steps;
    const uint8_t *tail0, *tail1; /* NULL when k is a multiple of 64 */
} arows;

/* What one call shares between its blocks */
typedef struct amx_plan {
    const qc_q8gemm_view *b;
    uint32_t minus_za, kza; /* eq. G5's column term with offset 0: −za·colsum[n] + k·za·zb[n] */
    size_t c_stride;
} amx_plan;

/* A block whose sums wait in a buffer for the epilogue (rows = 0: none) */
typedef struct pending_block {
    size_t rows, j0, cols;
    int32_t *c;              /* C's row of the block's first row */
    int32_t (*out)[BLOCK];   /* its sums */
    const int32_t *rowsum;   /* its rows' sums of A, NULL without weight zero points */
    const int32_t (*term)[TILE_ROWS]; /* the column terms of its two panels */
} pending_block;

/* eq. G5's column term with offset 0, (−za·colsum + k·za·zb)[j], for the 16 columns of the
 * panel at column j */
static void column_term(const amx_plan *pl, size_t j, int32_t term[TILE_ROWS])
{
    _mm512_store_si512(term, _mm512_add_epi32(
                                 _mm512_mullo_epi32(_mm512_set1_epi32((int32_t)pl->minus_za),
                                                    _mm512_loadu_si512(pl->b->colsum + j)),
                                 _mm512_mullo_epi32(_mm512_set1_epi32((int32_t)pl->kza),
                                                    _mm512_loadu_si512(pl->b->zb + j))));
}

/* rows i0..i1 of a pending block into C: c[i][j0 + j] = out[i][j] + term[j] −
 * zb[j]·rowsum[i], j < cols */
static void store_rows(const amx_plan *pl, const pending_block *p, size_t i0, size_t i1)
{
    for (size_t h = 0; h * NR < p->cols; h++) {
        const size_t jh = p->j0 + h * NR, ch = p->cols - h * NR < NR ? p->cols - h * NR : NR;
        const __mmask16 mask = (__mmask16)((1u << ch) - 1);
        const __m512i zb = _mm512_loadu_si512(pl->b->zb + jh);
        const __m512i term = _mm512_load_si512(p->term[h]);
        for (size_t i = i0; i < i1; i++) {
            __m512i r = _mm512_add_epi32(_mm512_loadu_si512(&p->out[i][h * NR]), term);
            if (p->rowsum != NULL)
                r = _mm512_sub_epi32(r, _mm512_mullo_epi32(zb, _mm512_set1_epi32(p->rowsum[i])));
            _mm512_mask_storeu_epi32(p->c + i * pl->c_stride + jh, mask, r);
        }
    }
}

/* the 32 × 32 sums Σ_k a·w of one block into C's tiles, which start from 0 or (start not
 * NULL) from the column terms of the two panels, one row 16 times by a stride-0 load (terms
 * computed just before the block cost 5-10 %: the tile loads waited for those stores, so
 * they are computed once per sweep): 4 tdpbusd per 64 k, each A tile serving two, each B
 * tile two. w0, w1: the two panels (the same one when nr ≤ 16). B comes
 * by TILELOADDT1 (data used once): the panels stream through while the block's rows of A,
 * reused by every column block of the sweep, stay in L1 (a loop of only these loads and
 * tdpbusd ran 1.25–1.3× faster so at K = 1024, the whole kernel 1.1–1.4× on bench_qgemm's
 * large shapes; the prefetch of B into L1 that stood here cost 0–10 % beside it).
 * The previous block's epilogue (pend) is spread over the steps, a few rows after each, so
 * that the vector unit writes C while the tile unit runs: placed after the whole block's
 * tile instructions, it mostly waited for them to retire (leaving the epilogue out ran
 * 1.2–1.7× faster; spreading it gained 1.02–1.11×, medians of 5 interleaved runs). */
static void block_products(const amx_plan *pl, const arows *ar, const int8_t *w0,
                           const int8_t *w1, const int32_t (*start)[TILE_ROWS],
                           const pending_block *pend)
{
    const size_t per_step = ar->steps > 0 ? (pend->rows + ar->steps - 1) / ar->steps : 0;
    size_t done = 0; /* rows of pend written */
    if (start != NULL) {
        TILE_LOAD(C00, start[0], 0);
        TILE_LOAD(C01, start[1], 0);
        TILE_LOAD(C10, start[0], 0);
        TILE_LOAD(C11, start[1], 0);
    } else {
        TILE_ZERO(C00);
        TILE_ZERO(C01);
        TILE_ZERO(C10);
        TILE_ZERO(C11);
    }
    for (size_t s = 0; s < ar->steps; s++) {
        TILE_LOAD(TA0, ar->a0 + s * TILE_K, ar->a_stride);
        TILE_STREAM(TB0, w0 + s * TILE_ROWS * TILE_K, TILE_K);
        TILE_STREAM(TB1, w1 + s * TILE_ROWS * TILE_K, TILE_K);
        TILE_DPBUSD(C00, TA0, TB0);
        TILE_LOAD(TA1, ar->a1 + s * TILE_K, ar->a_stride);
        TILE_DPBUSD(C01, TA0, TB1);
        TILE_DPBUSD(C10, TA1, TB0);
        TILE_DPBUSD(C11, TA1, TB1);
        if (done < pend->rows) {
            const size_t next = pend->rows - done < per_step ? pend->rows : done + per_step;
            store_rows(pl, pend, done, next);
            done = next;
        }
    }
    if (ar->tail0 != NULL) {
        const size_t s = ar->steps;
        TILE_LOAD(TA0, ar->tail0, TILE_K);
        TILE_STREAM(TB0, w0 + s * TILE_ROWS * TILE_K, TILE_K);
        TILE_STREAM(TB1, w1 + s * TILE_ROWS * TILE_K, TILE_K);
        TILE_DPBUSD(C00, TA0, TB0);
        TILE_LOAD(TA1, ar->tail1, TILE_K);
        TILE_DPBUSD(C01, TA0, TB1);
        TILE_DPBUSD(C10, TA1, TB0);
        TILE_DPBUSD(C11, TA1, TB1);
    }
    store_rows(pl, pend, done, pend->rows);
}

/* C's tiles into out[32][32] */
static void block_store(int32_t out[BLOCK][BLOCK])
{
    TILE_STORE(C00, &out[0][0], BLOCK * sizeof(int32_t));
    TILE_STORE(C01, &out[0][TILE_ROWS], BLOCK * sizeof(int32_t));
    TILE_STORE(C10, &out[TILE_ROWS][0], BLOCK * sizeof(int32_t));
    TILE_STORE(C11, &out[TILE_ROWS][TILE_ROWS], BLOCK * sizeof(int32_t));
}

/* Σ_k a[i][k] for each of the rows (the zero-point term's row sums): vpdpbusd with weights
 * of 1, four rows at a time so that four sums are in flight (for 32 rows of K = 576 it ran
 * 1.06-1.15× faster than a psadbw and a 64-bit add per 64 bytes, one row after the other) */
static void row_sums(size_t rows, size_t k, const uint8_t *a, size_t a_stride, int32_t *sum)
{
    const __m512i ones = _mm512_set1_epi8(1);
    size_t i = 0;
    for (; i + 4 <= rows; i += 4) {
        __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
        const uint8_t *r = a + i * a_stride;
        for (size_t k0 = 0; k0 < k; k0 += 64) {
            const size_t have = k - k0;
            const __mmask64 load = have >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << have) - 1;
            s0 = _mm512_dpbusd_epi32(s0, _mm512_maskz_loadu_epi8(load, r + k0), ones);
            s1 = _mm512_dpbusd_epi32(s1, _mm512_maskz_loadu_epi8(load, r + a_stride + k0), ones);
            s2 = _mm512_dpbusd_epi32(s2, _mm512_maskz_loadu_epi8(load, r + 2 * a_stride + k0),
                                     ones);
            s3 = _mm512_dpbusd_epi32(s3, _mm512_maskz_loadu_epi8(load, r + 3 * a_stride + k0),
                                     ones);
        }
        sum[i] = _mm512_reduce_add_epi32(s0);
        sum[i + 1] = _mm512_reduce_add_epi32(s1);
        sum[i + 2] = _mm512_reduce_add_epi32(s2);
        sum[i + 3] = _mm512_reduce_add_epi32(s3);
    }
    for (; i < rows; i++) {
        __m512i s0 = _mm512_setzero_si512();
        for (size_t k0 = 0; k0 < k; k0 += 64) {
            const size_t have = k - k0;
            const __mmask64 load = have >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << have) - 1;
            s0 = _mm512_dpbusd_epi32(s0, _mm512_maskz_loadu_epi8(load, a + i * a_stride + k0),
                                     ones);
        }
        sum[i] = _mm512_reduce_add_epi32(s0);
    }
}

/* the rows of the block at a (rows ≤ 32): in place, the partial last step copied to `tail`
 * with zeros past k; a half the block lacks repeats the first */
static void prepare_rows(size_t rows, size_t k, const uint8_t *a, size_t a_stride,
                         uint8_t tail[BLOCK][TILE_K], arows *ar)
{
    const size_t steps = k / TILE_K, rest = k % TILE_K;
    ar->a0 = a;
    ar->a1 = rows > TILE_ROWS ? a + TILE_ROWS * a_stride : a;
    ar->a_stride = a_stride;
    ar->steps = steps;
    ar->tail0 = ar->tail1 = NULL;
    if (rest == 0)
        return;
    memset(tail, 0, BLOCK * TILE_K);
    for (size_t i = 0; i < rows; i++)
        memcpy(tail[i], a + i * a_stride + steps * TILE_K, rest);
    ar->tail0 = tail[0];
    ar->tail1 = rows > TILE_ROWS ? tail[TILE_ROWS] : tail[0];
}

/* C's tiles straight into C's 32 × 32 block at cb (rows c_stride apart) */
static void block_store_c(int32_t *cb, size_t c_stride)
{
    const size_t bytes = c_stride * sizeof(int32_t);
    TILE_STORE(C00, cb, bytes);
    TILE_STORE(C01, cb + TILE_ROWS, bytes);
    TILE_STORE(C10, cb + TILE_ROWS * c_stride, bytes);
    TILE_STORE(C11, cb + TILE_ROWS * c_stride + TILE_ROWS, bytes);
}

/* Loop order: for each block of columns whose panels fit in L2 (NC_BYTES, at most NC_MAX),
 * for each block of 32 rows of A (read in place: tile loads take a stride), for each pair of
 * panels, the whole K in the tiles. Without weight zero points a C needs no more than the
 * column term, so its whole blocks start from it and are stored from the tiles into C (with
 * no vector epilogue the kernel ran 1.06-1.3× faster on bench_qgemm's shapes and 96-row
 * convolution tiles, medians of 7 interleaved runs). Otherwise the sums go to one of two
 * 4 KiB buffers that stay in L1, and their epilogue is done between the next block's steps:
 * the tile unit runs those while the vector unit adds the zero-point terms and writes C. */
QC_Q8GEMM_WHOLE(qc_q8gemm__amx)
{
    const amx_plan pl = {b, 0u - za, (uint32_t)k * za, c_stride};
    const size_t panel_bytes = NR * b->kp;
    size_t nc = NC_BYTES / panel_bytes * NR;
    nc = nc < BLOCK ? BLOCK : nc > NC_MAX ? NC_MAX : nc / BLOCK * BLOCK;
    _Alignas(64) int32_t out[2][BLOCK][BLOCK];
    _Alignas(64) int32_t term[NC_MAX / NR][TILE_ROWS]; /* the sweep's column terms */
    _Alignas(64) uint8_t tail[BLOCK][TILE_K];
    int32_t rowsum[2][BLOCK]; /* the current row block's and the pending block's */
    pending_block pend = {0, 0, 0, NULL, NULL, NULL, NULL};
    size_t configured = 0, row_blocks = 0; /* configured: the tiles' rows (0: none yet) */

    for (size_t n0 = 0; n0 < n; n0 += nc) {
        const size_t n1 = n - n0 < nc ? n : n0 + nc;
        store_rows(&pl, &pend, 0, pend.rows); /* it reads the terms about to be replaced */
        pend.rows = 0;
        for (size_t j = n0; j < n1; j += NR)
            column_term(&pl, j, term[(j - n0) / NR]);
        for (size_t m0 = 0; m0 < m; m0 += BLOCK) {
            const size_t rows = m - m0 < BLOCK ? m - m0 : BLOCK;
            if (rows != configured) {
                const size_t rows0 = rows < TILE_ROWS ? rows : TILE_ROWS;
                configure(rows0, rows > TILE_ROWS ? rows - TILE_ROWS : rows0);
                configured = rows;
            }
            arows ar;
            prepare_rows(rows, k, a + m0 * a_stride, a_stride, tail, &ar);
            int32_t *rs = b->has_zb ? rowsum[row_blocks++ % 2] : NULL;
            if (rs != NULL)
                row_sums(rows, k, a + m0 * a_stride, a_stride, rs);
            for (size_t j0 = n0; j0 < n1; j0 += BLOCK) {
                const size_t cols = n1 - j0 < BLOCK ? n1 - j0 : BLOCK;
                const int8_t *w0 = b->panels + j0 * b->kp;
                const int32_t(*t)[TILE_ROWS] = &term[(j0 - n0) / NR];
                const int to_c = !b->has_zb && rows == BLOCK && cols == BLOCK;
                block_products(&pl, &ar, w0, cols > NR ? w0 + panel_bytes : w0,
                               to_c ? t : NULL, &pend);
                if (to_c) {
                    block_store_c(c + m0 * c_stride + j0, c_stride);
                    pend.rows = 0;
                    continue;
                }
                int32_t(*buf)[BLOCK] = pend.out == out[0] ? out[1] : out[0];
                block_store(buf);
                pend = (pending_block){rows, j0, cols, c + m0 * c_stride, buf, rs, t};
            }
        }
    }
    store_rows(&pl, &pend, 0, pend.rows);
    _tile_release();
}
