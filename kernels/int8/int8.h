/* int8.h — qcal's own INT8 kernels: exact u8×s8 GEMM, requantization, (de)quantization.
 *
 * Every function here is pure: sizes, pointers, strides and a const parameter block in,
 * results out; nothing allocates, nothing fails, nothing prints. Each has a scalar reference
 * (which defines the bits) and an AVX2 twin that matches it exactly; the twin is chosen once
 * at run time, and QCAL_FORCE_SCALAR=1 in the environment forces the references. The
 * arithmetic is written as numbered equations in docs/quantization.md.
 *
 * A quantized layer, in order:
 *
 *     size_t bytes = qc_q8gemm_packed_size(k, n);      // weights: once per layer
 *     void *w = aligned_alloc(64, bytes);             // (bytes is a multiple of 64)
 *     qc_q8gemm_pack(k, n, weights, n, 1, NULL, w);   // K×N row-major, zero point 0
 *
 *     qc_q8gemm(m, n, k, act, k, za, w, acc, n);       // acc = Σ (a − za)(b − zb), exact
 *     qc_requantize_u8(m, n, acc, n, bias, &rq, out, n);
 *
 * Strides are in elements, never bytes. */
#ifndef QCAL_KERNELS_INT8_H
#define QCAL_KERNELS_INT8_H

#include <stddef.h>
#include <stdint.h>

/* ---- qgemm: C[m][n] = Σ_k (A[m][k] − za)·(B[k][n] − zb[n]), u8 × s8 → int32 ----
 *
 * Exact for every uint8 activation and every int8 weight (−128 included): the AVX2 kernel
 * cannot saturate by construction (docs/quantization.md, eq. G4). qcal's quantizer writes
 * weights in the narrow range [−127, 127] anyway (symmetric, docs/qparams.md).
 *
 * C is exact whenever the true value fits int32; every intermediate sum is taken mod 2^32,
 * so this holds for any K with 255·255·K < 2^31 (K ≤ 33 025). */

/* bytes needed by qc_q8gemm_pack for a K×N weight matrix (a multiple of 64) */
size_t qc_q8gemm_packed_size(size_t k, size_t n);

/* Packs B into `packed` (qc_q8gemm_packed_size bytes, 64-byte aligned for best speed), with
 * its column sums. B[k][n] = b[k * b_stride_k + n * b_stride_n]: strides (n, 1) for a K×N
 * row-major matrix, (1, k) for N×K (ONNX Conv weights, Gemm with transB). zb: N weight zero
 * points, or NULL for all zero (symmetric weights). */
void qc_q8gemm_pack(size_t k, size_t n, const int8_t *b, size_t b_stride_k, size_t b_stride_n,
                    const int8_t *zb, void *packed);

/* C (m×n int32, row stride c_stride) = (A − za)·(B − zb) with A m×k u8 (row stride a_stride)
 * and B packed by qc_q8gemm_pack for the same k and n. m, n or k may be 0 (k = 0 gives zeros).
 * Single-threaded; row blocks of A and C may be given to different threads, and the result
 * does not depend on how. Uses about 64 KiB of stack. */
void qc_q8gemm(size_t m, size_t n, size_t k, const uint8_t *a, size_t a_stride, uint8_t za,
               const void *packed, int32_t *c, size_t c_stride);

/* ---- requantize: int32 accumulators (+ int32 bias) → u8 / s8 ----
 *
 * y = clamp(round_half_even((acc + bias)·multiplier / 2^shift), qmin − z, qmax − z) + z
 * computed exactly in integers (docs/quantization.md, eqs. R1–R5); the real multiplier
 * s_in·s_w / s_out equals multiplier · 2^-shift. */
enum {
    QC_PER_TENSOR = 0,  /* one multiplier, shift (and bias) for all */
    QC_PER_COLUMN = 1,  /* channel = column j: n values (NHWC, GEMM output channels) */
    QC_PER_ROW = 2      /* channel = row i: m values (NCHW) */
};

typedef struct qc_requant {
    const int32_t *multiplier; /* in [2^30, 2^31): 1 value, or one per channel */
    const int32_t *shift;      /* total right shift in [1, 62]: 1 value, or one per channel */
    int granularity;           /* QC_PER_TENSOR, QC_PER_COLUMN or QC_PER_ROW */
    int32_t zero_point;        /* output zero point z */
    int32_t qmin, qmax;        /* clamp, within the output type (fused Relu/Clip narrow it) */
} qc_requant;

/* bias: NULL, or int32 per channel (one value with QC_PER_TENSOR) in the accumulator's scale */
/* The real multiplier M (e.g. s_in·s_w / s_out) as multiplier · 2^−shift, the fields above
 * (docs/quantization.md, R0): frexp, the mantissa rounded half away from zero to 31 bits, and
 * the carry when it rounds up to 1, as TFLite's QuantizeMultiplier — so the value is within
 * 2^−31·M of M. Returns QC_MULTIPLIER_OK, or why M is not representable:
 * QC_MULTIPLIER_NOT_POSITIVE (NaN, ±Inf, M ≤ 0), QC_MULTIPLIER_TOO_LARGE (rounded M ≥ 2^30),
 * QC_MULTIPLIER_TOO_SMALL (M < 2^−32; multiplier 2^30 and shift 62 are still written: they
 * too map every int32 accumulator to 0, as M itself does). */
enum {
    QC_MULTIPLIER_OK = 0,
    QC_MULTIPLIER_NOT_POSITIVE = 1,
    QC_MULTIPLIER_TOO_LARGE = 2,
    QC_MULTIPLIER_TOO_SMALL = 3
};
int qc_requant_multiplier(double m, int32_t *multiplier, int32_t *shift);

void qc_requantize_u8(size_t m, size_t n, const int32_t *acc, size_t acc_stride,
                      const int32_t *bias, const qc_requant *rq, uint8_t *y, size_t y_stride);
void qc_requantize_s8(size_t m, size_t n, const int32_t *acc, size_t acc_stride,
                      const int32_t *bias, const qc_requant *rq, int8_t *y, size_t y_stride);

/* ---- quantize f32 → u8/s8, dequantize u8/s8/int32 → f32 (ONNX QuantizeLinear and
 * DequantizeLinear semantics) ----
 *
 * Tensors are seen as [outer][channels][inner], contiguous; channel c uses scale[c] and
 * zero_point[c]. Per tensor: channels = 1 (outer = 1, inner = count). Per axis: outer =
 * product of the dimensions before the axis, inner = product of those after.
 *
 * quantize:   q = clamp(rint(x / scale) + z, qmin, qmax), rint rounding half to even, x / scale
 *             an IEEE single-precision division (as ONNX: not x · (1/scale)); NaN gives z.
 * dequantize: x = (float)(q − z) · scale (int32: q − z taken mod 2^32). */
typedef struct qc_quant {
    const float *scale;         /* > 0: one per channel */
    const int32_t *zero_point;  /* one per channel, or NULL for 0 */
    int32_t qmin, qmax;         /* saturation: the type's range for ONNX; narrower for b bits */
} qc_quant;

void qc_quantize_u8(size_t outer, size_t channels, size_t inner, const float *x,
                    const qc_quant *q, uint8_t *y);
void qc_quantize_s8(size_t outer, size_t channels, size_t inner, const float *x,
                    const qc_quant *q, int8_t *y);
void qc_dequantize_u8(size_t outer, size_t channels, size_t inner, const uint8_t *x,
                      const float *scale, const int32_t *zero_point, float *y);
void qc_dequantize_s8(size_t outer, size_t channels, size_t inner, const int8_t *x,
                      const float *scale, const int32_t *zero_point, float *y);
void qc_dequantize_s32(size_t outer, size_t channels, size_t inner, const int32_t *x,
                       const float *scale, const int32_t *zero_point, float *y);

/* ---- pooling and addition on quantized tensors (NCHW planes) ---- */

/* 2-d window over each of `planes` contiguous in_h × in_w planes; output o reads inputs
 * o·stride − pad + t·dilation for t < kernel, and positions outside the plane are padding. */
typedef struct qc_pool2d {
    size_t in_h, in_w, out_h, out_w;
    size_t kernel_h, kernel_w;
    size_t stride_h, stride_w;     /* ≥ 1 */
    size_t dilation_h, dilation_w; /* ≥ 1 */
    size_t pad_top, pad_left;
} qc_pool2d;

/* MaxPool: the largest input of each window, padding ignored (0 for a window with no input);
 * exact, and the output keeps the input's scale and zero point. */
void qc_maxpool_u8(size_t planes, const qc_pool2d *p, const uint8_t *x, uint8_t *y);
/* The same over `images` images stored channels last (in_h × in_w × channels each, output
 * out_h × out_w × channels): per channel the same bytes as qc_maxpool_u8. */
void qc_maxpool_cl_u8(size_t images, size_t channels, const qc_pool2d *p, const uint8_t *x,
                      uint8_t *y);

/* GlobalAveragePool of `planes` planes of n values (docs/quantization.md, eqs. A1–A3):
 *   y = clamp(round_half_away((Σ x − n·z_in) · multiplier / 2^shift) + z_out, qmin, qmax)
 * where multiplier · 2^−shift = s_in / (s_out · n) (multiplier in [2^30, 2^31), shift in
 * [1, 62]) and n·255 < 2^31. */
typedef struct qc_gavgpool {
    int32_t multiplier, shift;
    int32_t in_zero_point, out_zero_point;
    int32_t qmin, qmax;
} qc_gavgpool;
void qc_global_avgpool_u8(size_t planes, size_t n, const uint8_t *x, const qc_gavgpool *p,
                          uint8_t *y);

/* QLinearAdd of two same-sized u8 tensors with their own scales (eqs. S1–S3):
 *   y = clamp(rint(((a − z_a)·a_multiplier + (b − z_b)·b_multiplier) / 2^shift) + z_y,
 *             qmin, qmax)
 * where a_multiplier · 2^−shift = s_a / s_y and b_multiplier · 2^−shift = s_b / s_y, both
 * multipliers in [0, 2^31) and shift in [16, 62] (so s_a / s_y and s_b / s_y < 2^15). */
typedef struct qc_qadd {
    int32_t a_multiplier, b_multiplier, shift;
    int32_t a_zero_point, b_zero_point, y_zero_point;
    int32_t qmin, qmax;
} qc_qadd;
void qc_qadd_u8(size_t n, const uint8_t *a, const uint8_t *b, const qc_qadd *p, uint8_t *y);

/* The multipliers and common shift of QLinearAdd for ra = s_a / s_y and rb = s_b / s_y
 * (docs/quantization.md, S0): the largest shift in [16, 62] that keeps both multipliers below
 * 2^31, found from the exponent of max(ra, rb) (never by converting an out-of-range double),
 * each multiplier rounded half away from zero. Returns QC_MULTIPLIER_OK, or
 * QC_MULTIPLIER_NOT_POSITIVE (NaN, ±Inf, a ratio ≤ 0) or QC_MULTIPLIER_TOO_LARGE (a ratio that
 * rounds to 2^15 or more), leaving p unchanged. */
int qc_qadd_multipliers(double ra, double rb, qc_qadd *p);

/* QLinearMul of two same-sized u8 tensors with their own scales (eqs. M1–M3):
 *   y = clamp(rint((a − z_a)·(b − z_b)·multiplier / 2^shift) + z_y, qmin, qmax)
 * where multiplier · 2^−shift = s_a·s_b / s_y as qc_requant_multiplier gives it (multiplier
 * in [2^30, 2^31), shift in [1, 62]). Scalar only: the reference, called directly. */
typedef struct qc_qmul {
    int32_t multiplier, shift;
    int32_t a_zero_point, b_zero_point, y_zero_point;
    int32_t qmin, qmax;
} qc_qmul;
void qc_qmul_u8__scalar(size_t n, const uint8_t *a, const uint8_t *b, const qc_qmul *p,
                        uint8_t *y);

/* An elementwise function of one 8-bit code as a table of its 256 results (eq. L1):
 * y[i] = table[x[i]]. int8 codes index by their byte (x & 0xff), so one kernel serves both
 * types; y may be x. Scalar only: the reference, called directly. */
void qc_lut_u8__scalar(size_t n, const uint8_t *x, const uint8_t table[256], uint8_t *y);

/* Nearest-neighbour resize of one axis of uint8 or int8 codes: x is outer × in_len × inner,
 * y outer × out_len × inner, row j of each outer block the input row index[j] (in range). */
void qc_resize_nearest_axis_u8(const uint8_t *x, uint8_t *y, int64_t outer, int64_t in_len,
                               int64_t out_len, int64_t inner, const int64_t *index);

/* ---- convolution (NCHW planes; the window geometry is a qc_pool2d) ----
 *
 * General convolution is im2col + qc_q8gemm: one row of K = C·kernel_h·kernel_w taps per
 * output pixel (tap k = (c·kernel_h + i)·kernel_w + j, the order of ONNX's weights
 * [M][C][kh][kw], so the weights pack as N×K with strides (1, K)); the GEMM gives
 * [pixels][out channels], which is requantized per column and transposed into NCHW.
 * Depthwise convolution (one input channel per group) is direct (docs/quantization.md,
 * eq. C3). */

/* cols[(oh·out_w + ow)·ld + k] for `channels` contiguous in_h × in_w planes; taps in the
 * padding get pad_value (the input zero point, so they add nothing). ld ≥ K. */
void qc_im2col_u8(size_t channels, const qc_pool2d *p, const uint8_t *x, uint8_t pad_value,
                  uint8_t *cols, size_t ld);

/* The same from channels-last input (pixel (h, w) of channel c at x[(h·in_w + w)·x_stride + c],
 * x_stride ≥ channels: a group's channels inside a wider NHWC tensor), with the taps ordered
 * k = (i·kernel_w + j)·channels + c; weights must be packed in that order. This is the one
 * the runtime uses: each tap is `channels` contiguous bytes. Only the rows of output pixels
 * first..first + count − 1 (pixel oh·out_w + ow), row q of them at cols + q·ld. */
void qc_im2col_nhwc_u8(size_t channels, const qc_pool2d *p, const uint8_t *x, size_t x_stride,
                       uint8_t pad_value, size_t first, size_t count, uint8_t *cols, size_t ld);

/* y[j][i] = x[i][j] for a rows × cols matrix (NHWC ↔ NCHW) */
void qc_transpose_u8(size_t rows, size_t cols, const uint8_t *x, size_t x_stride, uint8_t *y,
                     size_t y_stride);
void qc_transpose_s32(size_t rows, size_t cols, const int32_t *x, size_t x_stride, int32_t *y,
                      size_t y_stride);

/* Depthwise: acc[c][oh][ow] = Σ_taps (x[c][ih][iw] − x_zero_point)·(w[c][tap] − zw[c]),
 * taps in the padding skipped (they would add 0); w is [channels][kernel_h][kernel_w] int8,
 * w_zero_point one int32 per channel (each in −255..255) or NULL for 0. Exact for fewer
 * than 33 025 taps. */
void qc_dwconv_u8s8(size_t channels, const qc_pool2d *p, const uint8_t *x, int32_t x_zero_point,
                    const int8_t *w, const int32_t *w_zero_point, int32_t *acc);
/* Depthwise weights prepared once for the channels-last kernel (qc_dwconv_nhwc_pack): the
 * weights as given, and the layouts the SIMD kernels multiply, all in the caller's buffer. */
typedef struct {
    size_t channels, kernel_h, kernel_w, taps; /* taps = kernel_h·kernel_w */
    const int8_t *w;              /* [taps][channels] */
    const int32_t *w_zero_point;  /* channels, or NULL for 0 */
    const int32_t *sum;           /* Σ_t (w − z_w) per channel */
    const int16_t *pairs;         /* [(taps + 1) / 2][channels][2]: w − z_w of taps 2q, 2q + 1 */
    const int8_t *quads;          /* NULL unless every w − z_w fits int8: four rows of a window
                                   * column, 64 channels in vpdpbusd order (dwconv-impl.h) */
    const int16_t *colpairs;      /* two rows of a window column, 16 channels in vpmaddwd
                                   * order (dwconv-impl.h) */
} qc_dwconv_weights;

/* bytes of the buffer qc_dwconv_nhwc_pack fills (64-byte aligned) */
size_t qc_dwconv_nhwc_pack_size(size_t channels, size_t kernel_h, size_t kernel_w);
/* w [taps][channels] int8 (tap = i·kernel_w + j), w_zero_point as for qc_dwconv_u8s8; dw keeps
 * pointers to w, w_zero_point and buf, which must outlive it */
void qc_dwconv_nhwc_pack(size_t channels, size_t kernel_h, size_t kernel_w, const int8_t *w,
                         const int32_t *w_zero_point, void *buf, qc_dwconv_weights *dw);
/* The same sum as qc_dwconv_u8s8 channels last: x[ih][iw][c], acc[pixel][c]; p's kernel is
 * dw's. Fastest where the weights fit int8 (four taps per instruction). */
void qc_dwconv_nhwc_u8s8(const qc_dwconv_weights *dw, const qc_pool2d *p, const uint8_t *x,
                         int32_t x_zero_point, int32_t *acc);

/* the kernel table in use, for reports and benchmarks: "scalar", "avx2", "avxvnni" or
 * "avx512vnni" (the last two: AVX2 with a VNNI qgemm) */
const char *qc_int8_isa(void);

#endif
