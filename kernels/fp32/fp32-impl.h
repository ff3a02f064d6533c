/* fp32-impl.h — private to kernels/fp32/: the window geometry convolution and pooling share. */
#ifndef QCAL_KERNELS_FP32_IMPL_H
#define QCAL_KERNELS_FP32_IMPL_H

#include "fp32.h"

/* The window with 1 to 3 spatial dimensions seen as exactly 3: leading dimensions of size 1
 * (kernel 1, stride 1, no padding) change no result and let one loop nest serve every rank. */
typedef struct {
    int64_t in[3], out[3], kernel[3], stride[3], dilation[3], pad[3], pad_end[3];
    int64_t in_plane, out_plane, taps; /* products of in, out, kernel */
} window3;

window3 qc_f32_window3(const qc_f32_window *w);

/* Operands of a broadcasting elementwise kernel (broadcast.c): up to three, each with its
 * own rank, dims and element size. */
#define QC_F32_MAX_OPERANDS 3
typedef struct {
    int count;
    const void *data[QC_F32_MAX_OPERANDS];
    int rank[QC_F32_MAX_OPERANDS];
    const int64_t *dims[QC_F32_MAX_OPERANDS];
    size_t size[QC_F32_MAX_OPERANDS];
} qc_f32_operands;

/* Computes n outputs at y from the operands at src[k], each advancing step[k] elements (0
 * when it broadcasts along the row, else 1). */
typedef void (*qc_f32_row_fn)(const void *ctx, int64_t n, const char *const *src,
                              const int64_t *step, void *y);

/* Walks y (y_rank dims, elements of y_size bytes) row by row, calling row on the operands
 * broadcast numpy-style to y_dims (a shape each operand broadcasts to). */
void qc_f32_broadcast_walk(const qc_f32_operands *ops, void *y, size_t y_size, int y_rank,
                           const int64_t *y_dims, qc_f32_row_fn row, const void *ctx);

size_t qc_f32_elem_size(qc_f32_elem type);

/* ---- kernels with SIMD twins (dispatch.c picks one table per process) --------------------- */

/* Output rows of a depthwise convolution: y[oh][ow] = Σ w[kh][kw]·base[oh·row_step + kh·dh·cols
 * + kw·dw + ow·sw] over (kh, kw) in that order from 0, each product rounded, then + bias when
 * has_bias, then the clamp when clamp.on; oh < out_h, ow < out_w, y's rows out_w apart. base
 * is the zero-padded input plane at the first row's first tap. */
typedef struct {
    const float *base, *w;
    int64_t kernel_h, kernel_w, cols, stride_w, dilation_h, dilation_w, out_w, out_h, row_step;
    bool has_bias;
    float bias;
    qc_f32_clamp clamp;
} qc_f32_dwrows;

/* The same outputs read from the unpadded input plane x (in_h rows of in_w): r's base, cols and
 * row_step are unused; input row oh·stride_h + kh·dilation_h − pad_top and column ow·stride_w +
 * kw·dilation_w − pad_left, a tap outside the plane read as 0 (its product w·0 added as on the
 * padded plane, so the bits are qc_f32_dwrows's). zeros: in_w zeros, for the rows in the
 * padding. The SIMD twins take 3x3 windows without dilation at stride_w 1 or 2 only. */
typedef struct {
    qc_f32_dwrows r;
    const float *x, *zeros;
    int64_t in_h, in_w, stride_h, pad_top, pad_left;
} qc_f32_dwplane;

/* count outputs of one MaxPool row: y[o] = the max of rows[j][offset + o·stride_w +
 * kw·dilation_w] over j, then kw from 0 (in that order); the first tap is taken as is, a
 * later one when it is greater or the first NaN; -inf without taps. */
typedef struct {
    const float *const *rows;
    int64_t n_rows, offset, kernel_w, stride_w, dilation_w, count;
} qc_f32_maxrow;

/* A block of the im2col matrix cut where an output row or a column panel ends: piece i covers
 * columns j .. j + len − 1 of its panel; at is where its first column reads, tap (0, 0, 0) of
 * channel 0, in the input with its padding made explicit. */
typedef struct {
    int64_t j, len, at;
} qc_f32_im2col_piece;

/* rows im2col rows of one column panel (its pieces, in column order), on an input whose zero
 * padding is stored, so that every read is inside: y[t·NR + j + q] = x[taps[t] + at + q·stride]
 * for q < len; taps[t] is where row t's tap (c, kd, kh, kw) moves the reads. Only the rows × NR
 * floats at y are written (past the pieces: anything); x is read only in [0, x_len), which
 * holds every position the formula reads. */
typedef struct {
    const float *x;
    int64_t x_len, stride;
    const int64_t *taps;
    int64_t rows;
    const qc_f32_im2col_piece *pieces;
    int64_t count;
} qc_f32_im2col_panel;

/* One tile of the packed GEMM (sgemm.c): y[r][j] for r < rows ≤ QC_F32_GEMM_MR and j < cols ≤
 * QC_F32_GEMM_NR, over kc steps of the depth. w is a packed weight panel (kc × MR, the MR rows
 * of one depth step side by side, rows past the matrix zero), b a packed column panel (kc ×
 * NR; only the first cols of a step are read). Each output is one chain of fused multiply-adds
 * in depth order, acc = fma(w[k][r], b[k][j], acc), from 0 or, when accumulate, from y (the
 * previous depth block's float result, so blocking does not change the chain); then, when bias
 * is not NULL, acc + bias[r] (one rounding); then, when clamp.on (the last depth block only),
 * min(hi, max(lo, ·)) as qc_f32_clip computes it. */
#define QC_F32_GEMM_MR 8
#define QC_F32_GEMM_NR 48
typedef struct {
    const float *w, *b, *bias;
    float *y;
    int64_t kc, ldy, rows, cols;
    int64_t ldb; /* floats from one depth step of b to the next: NR in a column panel */
    bool accumulate;
    qc_f32_clamp clamp;
} qc_f32_gemm_tile;

/* A column panel of at most QC_F32_GEMM_NARROW columns (the last one of a GEMM whose width is
 * 1 to 4 past a multiple of the panel's, as 49 and 196 are) is computed over every row at
 * once: the same tile, with rows the matrix's height, w the depth block's first weight panel
 * and panel p at w + p·kc·MR, bias and y those of row 0. */
#define QC_F32_GEMM_NARROW 4

/* The same function for every instruction set: each SIMD lane does the scalar operations in
 * the scalar order (no reassociation; a fused multiply-add only where the scalar twin calls
 * fmaf), so every path gives the same bits. */
typedef struct {
    const char *isa;
    void (*dwconv_rows)(const qc_f32_dwrows *r, float *y);
    void (*dwconv_plane)(const qc_f32_dwplane *r, float *y); /* NULL: pad, then dwconv_rows */
    void (*relu)(int64_t n, const float *x, float *y);
    void (*clip)(int64_t n, float lo, float hi, const float *x, float *y);
    void (*maxpool_row)(const qc_f32_maxrow *r, float *y);
    void (*im2col_panel)(const qc_f32_im2col_panel *p, float *y);
    void (*add_bias)(int64_t n, float bias, float *y); /* y[i] += bias */
    void (*gemm_tile)(const qc_f32_gemm_tile *t);
    void (*gemm_narrow)(const qc_f32_gemm_tile *t); /* NULL: gemm_tile on each row panel */
} qc_f32_table;

const qc_f32_table *qc_f32_kernels(void);

/* v clamped as qc_f32_clip__scalar does: the reference the fused activations match */
static inline float qc_f32_clamp1(float v, float lo, float hi)
{
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}
/* the table in use: "scalar", "avx2" or "avx512" */
const char *qc_f32_isa(void);
/* Tests and benchmarks: use the table of isa (a qc_isa) from now on, only when the CPU runs
 * it (qc_cpu_has); returns 0, or -1 and leaves the table unchanged. Not thread-safe. */
int qc_f32_select(int isa);

void qc_f32_dwconv_rows__scalar(const qc_f32_dwrows *r, float *y);
void qc_f32_dwconv_rows__avx2(const qc_f32_dwrows *r, float *y);
void qc_f32_dwconv_rows__avx512(const qc_f32_dwrows *r, float *y);
void qc_f32_dwconv_plane__scalar(const qc_f32_dwplane *r, float *y);
void qc_f32_dwconv_plane__avx2(const qc_f32_dwplane *r, float *y);
void qc_f32_maxpool_row__scalar(const qc_f32_maxrow *r, float *y);
void qc_f32_maxpool_row__avx2(const qc_f32_maxrow *r, float *y);
void qc_f32_maxpool_row__avx512(const qc_f32_maxrow *r, float *y);
void qc_f32_im2col_panel__scalar(const qc_f32_im2col_panel *p, float *y);
void qc_f32_im2col_panel__avx2(const qc_f32_im2col_panel *p, float *y);
void qc_f32_add_bias__scalar(int64_t n, float bias, float *y);
void qc_f32_add_bias__avx2(int64_t n, float bias, float *y);
void qc_f32_add_bias__avx512(int64_t n, float bias, float *y);
void qc_f32_gemm_tile__scalar(const qc_f32_gemm_tile *t);
void qc_f32_gemm_tile__avx2(const qc_f32_gemm_tile *t);
void qc_f32_gemm_tile__avx512(const qc_f32_gemm_tile *t);
void qc_f32_gemm_narrow__avx2(const qc_f32_gemm_tile *t);
void qc_f32_relu__scalar(int64_t n, const float *x, float *y);
void qc_f32_relu__avx2(int64_t n, const float *x, float *y);
void qc_f32_relu__avx512(int64_t n, const float *x, float *y);
void qc_f32_clip__scalar(int64_t n, float lo, float hi, const float *x, float *y);
void qc_f32_clip__avx2(int64_t n, float lo, float hi, const float *x, float *y);
void qc_f32_clip__avx512(int64_t n, float lo, float hi, const float *x, float *y);

#endif
