/* sgemm.c — the convolution GEMM y = W·B (+ bias): W packed once into row panels, B filled
 * block by block into column panels (by im2col, straight from the input), tiles computed by the
 * chosen ISA's kernel; and that kernel's scalar twin, which defines the bits. */
#include "fp32-impl.h"

#include <math.h>
#include <string.h>

/* Depth steps per block, at most: a column panel (KC × NR floats, 24 KiB) stays in a 32 KiB
 * L1 while every weight panel passes over it. Blocking leaves each output's chain of
 * multiply-adds whole. */
#define GEMM_KC 128
#define GEMM_NC QC_F32_CONV_BLOCK_COLS /* KC × NC floats: 144 KiB, in L2 */

static int64_t row_panels(int64_t m)
{
    return (m + QC_F32_GEMM_MR - 1) / QC_F32_GEMM_MR;
}

size_t qc_f32_gemm_packed_size(int64_t m, int64_t k)
{
    return m > 0 && k > 0 ? (size_t)(row_panels(m) * QC_F32_GEMM_MR * k) * sizeof(float) : 0;
}

/* The depth block: blocks of equal size, none above GEMM_KC (147 is 74 + 73, not 128 + 19);
 * the last one may be shorter. */
static int64_t depth_block(int64_t k)
{
    int64_t blocks = (k + GEMM_KC - 1) / GEMM_KC;
    return (k + blocks - 1) / blocks;
}

/* Depth block by depth block (k0, kc), panel p holds rows p·MR .. p·MR + MR − 1, depth step by
 * depth step: packed[k0·P·MR + p·kc·MR + t·MR + r] = w[p·MR + r][k0 + t] with P panels, 0
 * past the last row. A block's panels follow one another: the GEMM streams them in order. */
void qc_f32_gemm_pack(int64_t m, int64_t k, const float *w, float *packed)
{
    int64_t kc_max = k > 0 ? depth_block(k) : 1;
    for (int64_t k0 = 0; k0 < k; k0 += kc_max) {
        int64_t kc = k - k0 < kc_max ? k - k0 : kc_max;
        for (int64_t p = 0; p < row_panels(m); p++)
            for (int64_t t = k0; t < k0 + kc; t++)
                for (int64_t r = 0; r < QC_F32_GEMM_MR; r++) {
                    int64_t row = p * QC_F32_GEMM_MR + r;
                    *packed++ = row < m ? w[row * k + t] : 0.0f;
                }
    }
}

void qc_f32_gemm_tile__scalar(const qc_f32_gemm_tile *t)
{
    for (int64_t r = 0; r < t->rows; r++)
        for (int64_t j = 0; j < t->cols; j++) {
            float *out = t->y + r * t->ldy + j;
            float acc = t->accumulate ? *out : 0.0f;
            for (int64_t k = 0; k < t->kc; k++)
                acc = fmaf(t->w[k * QC_F32_GEMM_MR + r], t->b[k * t->ldb + j], acc);
            acc = t->bias ? acc + t->bias[r] : acc;
            *out = t->clamp.on ? qc_f32_clamp1(acc, t->clamp.lo, t->clamp.hi) : acc;
        }
}

size_t qc_f32_gemm_block_size(void)
{
    return (size_t)GEMM_KC * GEMM_NC * sizeof(float);
}

/* Row by row, each row's nc floats read in one run; the row FILL_AHEAD below is fetched
 * meanwhile (rows of a large B lie 4 KiB or more apart, too far for the prefetchers to
 * follow). */
#define FILL_AHEAD 4
void qc_f32_gemm_fill_rows(const void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                           float *block)
{
    const qc_f32_gemm_rows *b = ctx;
    for (int64_t t = 0; t < kc; t++) {
        const float *src = b->data + (k0 + t) * b->ld + j0;
        if (t + FILL_AHEAD < kc)
            for (int64_t j = 0; j < nc; j += 16)
                __builtin_prefetch(src + FILL_AHEAD * b->ld + j);
        float *dst = block + t * QC_F32_GEMM_NR;
        int64_t p = 0;
        for (; p + QC_F32_GEMM_NR <= nc; p += QC_F32_GEMM_NR) /* a fixed size: inlined */
            memcpy(dst + p * kc, src + p, QC_F32_GEMM_NR * sizeof(float));
        if (p < nc)
            memcpy(dst + p * kc, src + p, (size_t)(nc - p) * sizeof(float));
    }
}

/* Columns in chunks of GEMM_NC (the outputs of a chunk stay in L2 over the whole depth), the
 * depth in blocks of at most GEMM_KC: B's block is filled (in L2), then every weight panel
 * (streamed from L2) passes over each of its column panels (in L1). */
void qc_f32_gemm_packed(int64_t m, int64_t n, int64_t k, const float *packed_w,
                        qc_f32_gemm_fill_fn fill, const void *ctx, const float *bias,
                        const qc_f32_clamp *clamp, float *y, int64_t ldy, float *block)
{
    void (*tile)(const qc_f32_gemm_tile *) = qc_f32_kernels()->gemm_tile;
    void (*narrow)(const qc_f32_gemm_tile *) = qc_f32_kernels()->gemm_narrow;
    if (m <= 0 || n <= 0)
        return;
    qc_f32_clamp off = {0}, last_clamp = clamp ? *clamp : off;
    if (k <= 0) { /* an empty sum: 0, then the bias and the clamp */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                float v = bias ? 0.0f + bias[i] : 0.0f;
                y[i * ldy + j] = last_clamp.on ? qc_f32_clamp1(v, last_clamp.lo, last_clamp.hi) : v;
            }
        return;
    }
    int64_t kc_max = depth_block(k);
    for (int64_t c0 = 0; c0 < n; c0 += GEMM_NC) {
        int64_t nc = n - c0 < GEMM_NC ? n - c0 : GEMM_NC;
        for (int64_t k0 = 0; k0 < k; k0 += kc_max) {
            qc_f32_gemm_tile t = {.kc = k - k0 < kc_max ? k - k0 : kc_max, .ldy = ldy,
                                  .accumulate = k0 > 0};
            bool last = k0 + t.kc == k;
            /* a row-major B is read where it is, without a copy */
            bool in_place = fill == qc_f32_gemm_fill_rows;
            const qc_f32_gemm_rows *rows = ctx;
            t.ldb = in_place ? rows->ld : QC_F32_GEMM_NR;
            if (!in_place)
                fill(ctx, k0, t.kc, c0, nc, block);
            t.clamp = last ? last_clamp : off;
            /* each column panel (in L1) meets every weight panel (streamed from L2) */
            for (int64_t j = 0; j < nc; j += QC_F32_GEMM_NR) {
                t.cols = nc - j < QC_F32_GEMM_NR ? nc - j : QC_F32_GEMM_NR;
                t.b = in_place ? rows->data + k0 * rows->ld + c0 + j : block + j * t.kc;
                if (narrow && t.cols <= QC_F32_GEMM_NARROW) { /* every row panel at once */
                    t.rows = m;
                    t.w = packed_w + k0 * row_panels(m) * QC_F32_GEMM_MR;
                    t.bias = last ? bias : NULL;
                    t.y = y + c0 + j;
                    narrow(&t);
                    continue;
                }
                for (int64_t p = 0; p < row_panels(m); p++) {
                    int64_t i0 = p * QC_F32_GEMM_MR;
                    t.rows = m - i0 < QC_F32_GEMM_MR ? m - i0 : QC_F32_GEMM_MR;
                    t.w = packed_w + (k0 * row_panels(m) + p * t.kc) * QC_F32_GEMM_MR;
                    t.bias = last && bias ? bias + i0 : NULL;
                    t.y = y + i0 * ldy + c0 + j;
                    tile(&t);
                }
            }
        }
    }
}
