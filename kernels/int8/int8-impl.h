/* int8-impl.h — private to kernels/int8: micro-kernel signatures, layouts, dispatch table. */
#ifndef QCAL_KERNELS_INT8_IMPL_H
#define QCAL_KERNELS_INT8_IMPL_H

#include "../kernels.h" /* qc_isa, the CPU's instruction sets */
#include "dwconv-impl.h"
#include "int8.h"

/* qgemm tile: MR rows of A × NR columns of B per micro-kernel call ("6x16c4"): 12 256-bit
 * accumulators, each 8 columns of one row; the reduction dimension goes in groups of 4
 * consecutive k ("c4"), so one broadcast 32-bit value of A meets a 256-bit vector of B (8
 * columns × 4 k) and the products land in the right column without horizontal sums. K is
 * padded to KB = 8 (the kernel's loop takes two groups at a time). */
#define QC_Q8GEMM_MR 6
#define QC_Q8GEMM_NR 16
#define QC_Q8GEMM_KB 8
/* the AVX512-VNNI tile: 12 rows × two panels (24 zmm accumulators, "12x32c4") */
#define QC_Q8GEMM_MR512 12
#define QC_Q8GEMM_MR_MAX 12
/* cache blocking: at most KC k (a multiple of KB) per micro-kernel call; a panel of B is then
 * at most NR·KC = 24 KiB and stays in L1 while the micro-kernel runs down the packed rows */
#define QC_Q8GEMM_KC 1536

/* Packed B, as written by qc_q8gemm_pack (all offsets from the start of the buffer):
 *   qc_q8gemm_header                                   64 bytes
 *   int32 colsum[np]   Σ_k b[k][n] over the real k      np = n rounded up to NR
 *   int32 zb[np]       weight zero points (0 when none)
 *   int8  panels[np / NR][kp / 4][NR][4]                kp = k rounded up to KB; zero padding
 * The sizes of the two int32 arrays are rounded up to 64 bytes so panels start 64-aligned. */
typedef struct qc_q8gemm_header {
    uint32_t k;        /* reduction size */
    uint32_t n;        /* columns */
    uint32_t kp;       /* k rounded up to QC_Q8GEMM_KB */
    uint32_t np;       /* n rounded up to QC_Q8GEMM_NR */
    uint32_t flags;    /* QC_Q8GEMM_HAS_ZB */
    uint32_t reserved[11];
} qc_q8gemm_header;

/* zero bytes after the panels: a kernel may read a whole 64-k tile of B (16 rows of 64 bytes)
 * from a panel's last K rows, past the end of the last panel; A's zero padding cancels them */
#define QC_Q8GEMM_SLACK 1024

/* where the parts of a packed B are (qc_q8gemm_view_of) */
typedef struct qc_q8gemm_view {
    const int32_t *colsum, *zb; /* np each */
    const int8_t *panels;      /* np / NR panels of NR·kp bytes */
    size_t kp, np;
    int has_zb; /* some zb[n] != 0 */
} qc_q8gemm_view;
void qc_q8gemm_view_of(const void *packed, qc_q8gemm_view *v);

#define QC_Q8GEMM_HAS_ZB 1u /* some zb[n] != 0: the rank-1 term zb[n]·rowsum[m] is needed */

/* Packed A micro-panel for one call of kc k (eqs. G2, G4 of docs/quantization.md): MR rows of
 * 2·kc bytes; for each group of 4 k, a row holds m = (a < 128 ? 0xff : 0) for the 4 k, then
 * u = |a − 128| (0..128) for the same 4 k, so that a' = a − 128 = (m ? −u : u); after the
 * rows, MR int32 negsum[i] = Σ_k m·u (the row correction of G4). Padding (rows past mr, k past
 * k_real) is a' = 0: m = u = 0. */
#define QC_Q8GEMM_PACKA_BYTES(kc) (2 * QC_Q8GEMM_MR * (kc) + QC_Q8GEMM_MR * sizeof(int32_t))
#define QC_Q8GEMM_PACKA(fn)                                                                    \
    void fn(size_t mr, size_t kc, size_t k_real, const uint8_t *a, size_t a_stride,            \
            uint8_t *packed, int32_t *rowsum)
typedef QC_Q8GEMM_PACKA((*qc_q8gemm_packa_fn));
QC_Q8GEMM_PACKA(qc_q8gemm_packa_6x16c4__scalar);
QC_Q8GEMM_PACKA(qc_q8gemm_packa_6x16c4__avx2);
/* AVX512-VNNI: 12 rows of kc bytes, a as it is (eq. G7); at most QC_Q8GEMM_PACKA_BYTES(kc) */
QC_Q8GEMM_PACKA(qc_q8gemm_packa_12x32c4__avx512vnni);

typedef struct qc_q8gemm_ukernel_params {
    const int32_t *init;   /* nr start values per column; NULL: accumulate onto c */
    const int32_t *zb;     /* nr weight zero points; NULL: all zero */
    const int32_t *rowsum; /* mr sums of this block's activations a (used only with zb) */
    size_t panel_stride;   /* bytes from one NR-column panel of w to the next (nr > NR) */
    size_t a_stride;       /* 0: a is packed; else bytes between rows of A read as it is
                            * (only for a table with q8gemm_direct_a, only with mr full) */
} qc_q8gemm_ukernel_params;

/* c[i][j] = (init ? init[j] : c[i][j]) + Σ_k a'[i][k]·w[k][j] − zb[j]·rowsum[i]
 * for i < mr, j < nr, with a' from the packed A panel and w the panel [kc / 4][NR][4]; kc is
 * a positive multiple of KB; c_stride in elements; all arithmetic mod 2^32. nr is at most the
 * table's q8gemm_nr: NR, or 2·NR for a kernel that takes two panels (the second at
 * w + panel_stride). */
#define QC_Q8GEMM_UKERNEL(fn)                                                                  \
    void fn(size_t mr, size_t nr, size_t kc, const uint8_t *a, const int8_t *w, int32_t *c,    \
            size_t c_stride, const qc_q8gemm_ukernel_params *params)
typedef QC_Q8GEMM_UKERNEL((*qc_q8gemm_ukernel_fn));
QC_Q8GEMM_UKERNEL(qc_q8gemm_ukernel_6x16c4__scalar);
QC_Q8GEMM_UKERNEL(qc_q8gemm_ukernel_6x16c4__avx2);
/* the same with AVX-VNNI's vpdpbusd (CPUs that have it; packs A with the AVX2 packa) */
QC_Q8GEMM_UKERNEL(qc_q8gemm_ukernel_6x16c4__avxvnni);
/* 512-bit vpdpbusd, 12 rows × two panels, one zmm per row and panel; unlike the others it
 * sums a·w, not a'·w (the table's q8gemm_a_offset is 0; packs A with its own packa) */
QC_Q8GEMM_UKERNEL(qc_q8gemm_ukernel_12x32c4__avx512vnni);

/* A whole qgemm (qc_q8gemm's contract, B seen through its view) for kernels that block it
 * their own way */
#define QC_Q8GEMM_WHOLE(fn)                                                                    \
    void fn(size_t m, size_t n, size_t k, const uint8_t *a, size_t a_stride, uint8_t za,       \
            const qc_q8gemm_view *b, int32_t *c, size_t c_stride)
typedef QC_Q8GEMM_WHOLE((*qc_q8gemm_whole_fn));
/* fewer rows than this go to the table's micro-kernel instead */
#define QC_Q8GEMM_WHOLE_MIN_M 4
/* AMX-INT8: tdpbusd on 16×64-byte tiles, 32 rows × 32 columns per block (q8gemm-amx.c) */
QC_Q8GEMM_WHOLE(qc_q8gemm__amx);

/* requantize m × n int32 → u8/s8 (see qc_requantize_u8) */
#define QC_REQUANTIZE_U8(fn)                                                                   \
    void fn(size_t m, size_t n, const int32_t *acc, size_t acc_stride, const int32_t *bias,    \
            const qc_requant *rq, uint8_t *y, size_t y_stride)
#define QC_REQUANTIZE_S8(fn)                                                                   \
    void fn(size_t m, size_t n, const int32_t *acc, size_t acc_stride, const int32_t *bias,    \
            const qc_requant *rq, int8_t *y, size_t y_stride)
typedef QC_REQUANTIZE_U8((*qc_requantize_u8_fn));
typedef QC_REQUANTIZE_S8((*qc_requantize_s8_fn));
QC_REQUANTIZE_U8(qc_requantize_u8__scalar);
QC_REQUANTIZE_U8(qc_requantize_u8__avx2);
QC_REQUANTIZE_S8(qc_requantize_s8__scalar);
QC_REQUANTIZE_S8(qc_requantize_s8__avx2);
/* the same, faster per column (each column's constants derived once per call); the other
 * granularities go to the two above */
QC_REQUANTIZE_U8(qc_requantize_u8__avx2_cols);
QC_REQUANTIZE_S8(qc_requantize_s8__avx2_cols);
/* the same on 16 columns per 512-bit vector (AVX512 F + BW + VL) */
QC_REQUANTIZE_U8(qc_requantize_u8__avx512_cols);
QC_REQUANTIZE_S8(qc_requantize_s8__avx512_cols);
/* The per-column kernels compute R3–R4 in doubles, after R1 and R2 as the reference does.
 * Then |v| ≤ 2^31 − 1 for v = t · multiplier · 2^−s (|t| ≤ 2^s for s < 31, |t| ≤ 2^31 else),
 * and fl(t) = t and fl(multiplier · 2^−s) (31 bits) are exact. A fused multiply-add rounds
 * v + 3·2^51 once, to nearest, ties to even; the doubles of [2^52, 2^53) are exactly the
 * integers, and 3·2^51 is even, so the result is 3·2^51 + rint(v) = 3·2^51 + r (R4), whose bit
 * pattern holds r in its low 32 bits (docs/quantization.md, "R3–R4 in doubles"). */
#define QC_REQUANT_ROUNDER 0x1.8p52
/* the kernels before that formulation (64-bit integer products and shifts), kept as the
 * benchmark's baseline and a second reference for the tests */
QC_REQUANTIZE_U8(qc_requantize_u8__avx2_cols_int64);
QC_REQUANTIZE_S8(qc_requantize_s8__avx2_cols_int64);
QC_REQUANTIZE_U8(qc_requantize_u8__avx512_cols_int64);
QC_REQUANTIZE_S8(qc_requantize_s8__avx512_cols_int64);

/* f32 → u8/s8 (see qc_quantize_u8) and u8/s8/int32 → f32 */
#define QC_QUANTIZE(fn, T)                                                                     \
    void fn(size_t outer, size_t channels, size_t inner, const float *x, const qc_quant *q, T *y)
#define QC_DEQUANTIZE(fn, T)                                                                   \
    void fn(size_t outer, size_t channels, size_t inner, const T *x, const float *scale,       \
            const int32_t *zero_point, float *y)
typedef QC_QUANTIZE((*qc_quantize_u8_fn), uint8_t);
typedef QC_QUANTIZE((*qc_quantize_s8_fn), int8_t);
typedef QC_DEQUANTIZE((*qc_dequantize_u8_fn), uint8_t);
typedef QC_DEQUANTIZE((*qc_dequantize_s8_fn), int8_t);
typedef QC_DEQUANTIZE((*qc_dequantize_s32_fn), int32_t);
QC_QUANTIZE(qc_quantize_u8__scalar, uint8_t);
QC_QUANTIZE(qc_quantize_u8__avx2, uint8_t);
QC_QUANTIZE(qc_quantize_s8__scalar, int8_t);
QC_QUANTIZE(qc_quantize_s8__avx2, int8_t);
QC_DEQUANTIZE(qc_dequantize_u8__scalar, uint8_t);
QC_DEQUANTIZE(qc_dequantize_u8__avx2, uint8_t);
QC_DEQUANTIZE(qc_dequantize_s8__scalar, int8_t);
QC_DEQUANTIZE(qc_dequantize_s8__avx2, int8_t);
QC_DEQUANTIZE(qc_dequantize_s32__scalar, int32_t);
QC_DEQUANTIZE(qc_dequantize_s32__avx2, int32_t);

#define QC_MAXPOOL_U8(fn) void fn(size_t planes, const qc_pool2d *p, const uint8_t *x, uint8_t *y)
#define QC_GAVGPOOL_U8(fn)                                                                     \
    void fn(size_t planes, size_t n, const uint8_t *x, const qc_gavgpool *p, uint8_t *y)
#define QC_QADD_U8(fn)                                                                         \
    void fn(size_t n, const uint8_t *a, const uint8_t *b, const qc_qadd *p, uint8_t *y)
typedef QC_MAXPOOL_U8((*qc_maxpool_u8_fn));
typedef QC_GAVGPOOL_U8((*qc_gavgpool_u8_fn));
typedef QC_QADD_U8((*qc_qadd_u8_fn));
QC_MAXPOOL_U8(qc_maxpool_u8__scalar);
QC_MAXPOOL_U8(qc_maxpool_u8__avx2);
/* Tap t (row-major over kernel_h × kernel_w) of output pixel (oh, ow) of window p: false in
 * the padding, else true with *pixel the input pixel it reads (row-major over in_h × in_w). */
static inline bool qc_pool2d_tap(const qc_pool2d *p, size_t oh, size_t ow, size_t t,
                                 size_t *pixel)
{
    const size_t ih = oh * p->stride_h + t / p->kernel_w * p->dilation_h; /* + pad_top */
    const size_t iw = ow * p->stride_w + t % p->kernel_w * p->dilation_w; /* + pad_left */
    if (ih < p->pad_top || ih - p->pad_top >= p->in_h || iw < p->pad_left ||
        iw - p->pad_left >= p->in_w)
        return false;
    *pixel = (ih - p->pad_top) * p->in_w + iw - p->pad_left;
    return true;
}
#define QC_MAXPOOL_CL_U8(fn)                                                                   \
    void fn(size_t images, size_t channels, const qc_pool2d *p, const uint8_t *x, uint8_t *y)
typedef QC_MAXPOOL_CL_U8((*qc_maxpool_cl_u8_fn));
QC_MAXPOOL_CL_U8(qc_maxpool_cl_u8__scalar);
QC_MAXPOOL_CL_U8(qc_maxpool_cl_u8__avx2);
QC_GAVGPOOL_U8(qc_global_avgpool_u8__scalar);
QC_GAVGPOOL_U8(qc_global_avgpool_u8__avx2);
QC_QADD_U8(qc_qadd_u8__scalar);
QC_QADD_U8(qc_qadd_u8__avx2);
/* the same on 16 elements per 512-bit vector (AVX512 F + BW) */
QC_QADD_U8(qc_qadd_u8__avx512);

#define QC_TRANSPOSE_U8(fn)                                                                    \
    void fn(size_t rows, size_t cols, const uint8_t *x, size_t x_stride, uint8_t *y,             \
            size_t y_stride)
typedef QC_TRANSPOSE_U8((*qc_transpose_u8_fn));
QC_TRANSPOSE_U8(qc_transpose_u8__scalar);
QC_TRANSPOSE_U8(qc_transpose_u8__avx2);
/* the same in 32×32 and 16×64 blocks of 512-bit vectors (AVX512 F + BW), masked edges */
QC_TRANSPOSE_U8(qc_transpose_u8__avx512);

/* A2: round_half_away(t · multiplier / 2^shift) for the global average pool, shared by both
 * twins (one value per plane; the AVX2 twin vectorizes the sum) */
int32_t qc_gavgpool_round(int32_t t, int32_t multiplier, int32_t shift);

/* One table of kernels per qc_isa (dispatch.c), the widest the CPU runs chosen once (see
 * qc_cpu_isa): the AVX-VNNI table is the AVX2 one with its own qgemm micro-kernel; the
 * AVX512-VNNI and AMX ones add their own A packing, requantization, transpose,
 * channels-last depthwise and qadd. */
typedef struct qc_int8_table {
    const char *isa;
    qc_q8gemm_packa_fn q8gemm_packa;
    qc_q8gemm_ukernel_fn q8gemm_ukernel;
    size_t q8gemm_mr; /* rows per micro-kernel call: QC_Q8GEMM_MR or QC_Q8GEMM_MR512 */
    size_t q8gemm_nr; /* columns per micro-kernel call: QC_Q8GEMM_NR or 2·QC_Q8GEMM_NR */
    uint32_t q8gemm_a_offset; /* the kernel sums (a − offset)·w: 128 (a', eq. G3) or 0 */
    int q8gemm_direct_a;      /* its micro-kernel can read full row groups of A unpacked */
    qc_q8gemm_whole_fn q8gemm; /* NULL, or the whole qgemm in place of the micro-kernel */
    qc_requantize_u8_fn requantize_u8;
    qc_requantize_s8_fn requantize_s8;
    qc_quantize_u8_fn quantize_u8;
    qc_quantize_s8_fn quantize_s8;
    qc_dequantize_u8_fn dequantize_u8;
    qc_dequantize_s8_fn dequantize_s8;
    qc_dequantize_s32_fn dequantize_s32;
    qc_maxpool_u8_fn maxpool_u8;
    qc_maxpool_cl_u8_fn maxpool_cl_u8;
    qc_gavgpool_u8_fn global_avgpool_u8;
    qc_qadd_u8_fn qadd_u8;
    qc_transpose_u8_fn transpose_u8;
    qc_dwconv_u8s8_fn dwconv_u8s8;
    qc_dwconv_nhwc_u8s8_fn dwconv_nhwc_u8s8;
} qc_int8_table;

const qc_int8_table *qc_int8_kernels(void);

/* Tests and benchmarks: use the table of isa (a qc_isa) from now on, only when the CPU runs
 * it (qc_cpu_has); returns 0, or -1 and leaves the table unchanged. Not thread-safe. */
#define QC_INT8_ISA_SCALAR QC_ISA_SCALAR
#define QC_INT8_ISA_AVX2 QC_ISA_AVX2
#define QC_INT8_ISA_AVXVNNI QC_ISA_AVXVNNI
#define QC_INT8_ISA_AVX512VNNI QC_ISA_AVX512VNNI
#define QC_INT8_ISA_AMX QC_ISA_AMX
int qc_int8_select(int isa);

#endif
