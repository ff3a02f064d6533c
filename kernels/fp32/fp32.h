/* fp32.h — FP32 kernels of the reference executor: pure functions over NCHW buffers.
 *
 * Every kernel takes sizes (int64_t, in elements), pointers and parameters; none allocates,
 * prints or fails. Shapes are the caller's business: a kernel trusts the sizes it is given
 * (the ops in graph/ check them). Kernels that need working memory expose a *_scratch_size
 * function; the caller passes a buffer of at least that many bytes.
 *
 * Results for one image (batch element, matrix row) never depend on how many images share a
 * call: convolution runs image by image and the GEMM kernels row by row, so a tensor's values
 * are the same whatever the batch size or the way a batch is split across threads.
 *
 * Convolutions run on qcal's packed GEMM (qc_f32_gemm_packed); Gemm, MatMul and ConvTranspose
 * go through OpenBLAS's CBLAS with 32-bit integer sizes: every matrix dimension must stay below
 * 2^31. The caller sets OpenBLAS to one thread.
 */
#ifndef QCAL_KERNELS_FP32_H
#define QCAL_KERNELS_FP32_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QC_F32_MAX_RANK 8 /* the most dimensions a broadcasting kernel takes */

/* ---- element types of the type-generic kernels ------------------------------------------- */

typedef enum {
    QC_F32_ELEM_FLOAT,
    QC_F32_ELEM_UINT8,
    QC_F32_ELEM_INT8,
    QC_F32_ELEM_INT32,
    QC_F32_ELEM_INT64,
} qc_f32_elem;

/* ---- sliding windows (convolution and pooling) ------------------------------------------- */

#define QC_F32_MAX_SPATIAL 3

/* The geometry of a window sliding over 1 to 3 spatial dimensions. Position o of dimension i
 * reads inputs o*stride[i] - pad_begin[i] + k*dilation[i] for k in [0, kernel[i]); positions
 * outside [0, in[i]) are padding. out[i] is given by the caller (qc_f32_window_out_size for
 * explicit pads); pad_end only matters to AveragePool's count_include_pad. */
typedef struct {
    int spatial;                             /* number of spatial dimensions: 1, 2 or 3 */
    int64_t in[QC_F32_MAX_SPATIAL];          /* input size */
    int64_t out[QC_F32_MAX_SPATIAL];         /* output size */
    int64_t kernel[QC_F32_MAX_SPATIAL];      /* window size, before dilation */
    int64_t stride[QC_F32_MAX_SPATIAL];
    int64_t dilation[QC_F32_MAX_SPATIAL];
    int64_t pad_begin[QC_F32_MAX_SPATIAL];
    int64_t pad_end[QC_F32_MAX_SPATIAL];
} qc_f32_window;

/* Output size of one dimension with explicit pads: floor (or ceil) of
 * (in + pad_begin + pad_end - dilation*(kernel-1) - 1) / stride, plus 1. With ceil_mode, a last
 * window that would start in the end padding is dropped (as PyTorch and ONNX Runtime do).
 * Returns a value < 1 when the dilated kernel does not fit in the padded input. */
int64_t qc_f32_window_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                               int64_t pad_begin, int64_t pad_end, bool ceil_mode);

/* The positions o in [0, n) whose input o*stride + offset falls inside [0, in), as the range
 * [*lo, *hi) (empty when *lo == *hi). stride >= 1. Used both over output positions (which
 * outputs of a row see real input) and over kernel taps (stride = dilation). */
void qc_f32_window_inside(int64_t n, int64_t in, int64_t stride, int64_t offset, int64_t *lo,
                          int64_t *hi);

/* ---- convolution ------------------------------------------------------------------------- */

/* An activation fused into the op that computes its input: each output v becomes
 * min(hi, max(lo, v)) as qc_f32_clip computes it, while it is still in cache. Relu is [0, +inf]
 * (the same bits as qc_f32_relu: NaN and -0 pass through). Off unless on. */
typedef struct {
    bool on;
    float lo, hi;
} qc_f32_clamp;

typedef struct {
    qc_f32_window win;
    int64_t in_channels;  /* C: input channels, a multiple of groups */
    int64_t out_channels; /* M: output channels, a multiple of groups */
    int64_t groups;
    qc_f32_clamp clamp; /* applied to every output after the bias */
} qc_f32_conv_params;

typedef enum {
    QC_F32_CONV_GEMM,      /* 1x1 kernel, stride 1, no padding: the input already is the matrix */
    QC_F32_CONV_DEPTHWISE, /* 2-d, one input channel per group, groups > 1: direct loops */
    QC_F32_CONV_IM2COL,    /* everything else: im2col, then one GEMM per group */
} qc_f32_conv_algo;

/* The algorithm qc_f32_conv uses for these parameters. */
qc_f32_conv_algo qc_f32_conv_choose(const qc_f32_conv_params *p);
/* The GEMM algorithms' weights packed for qc_f32_gemm_packed, group by group: depth is
 * C/groups · taps (the product of W's dims after the first). Constant weights are packed once,
 * when the graph is prepared. */
size_t qc_f32_conv_weights_size(int64_t out_channels, int64_t groups, int64_t depth);
void qc_f32_conv_pack_weights(int64_t out_channels, int64_t groups, int64_t depth,
                              const float *w, float *packed);
/* Bytes of scratch qc_f32_conv needs: a block of the im2col matrix, a zero-padded copy of one
 * group's input when a window reaches past the input and, unless weights_packed, the packed
 * weights; or one zero-padded input plane for the depthwise algorithm. */
size_t qc_f32_conv_scratch_size(const qc_f32_conv_params *p, bool weights_packed);
/* y[batch][M][out...] = conv(x[batch][C][in...], w[M][C/groups][kernel...]) + bias[M]: each
 * output one chain of fused multiply-adds over (c, kernel taps) in order, then + bias[m].
 * packed_w is w packed by qc_f32_conv_pack_weights, or NULL (packed into scratch here); bias
 * may be NULL. scratch holds qc_f32_conv_scratch_size(p, packed_w != NULL) bytes. */
void qc_f32_conv(const qc_f32_conv_params *p, int64_t batch, const float *x, const float *w,
                 const float *packed_w, const float *bias, float *y, void *scratch);

/* ---- the packed GEMM of convolutions ------------------------------------------------------ */

/* y[i][j] = Σ_t w[i][t]·b[t][j] (+ bias[i]) for i < m, j < n, t < k: each output one chain of
 * fused multiply-adds in t order from 0, then + bias[i] (bias may be NULL), then the clamp
 * (NULL: none; qc_f32_clamp). The bits depend on
 * nothing else: not on the instruction set, the blocking or the other rows and columns.
 * w (m × k, row-major) is packed once by qc_f32_gemm_pack into qc_f32_gemm_packed_size(m, k)
 * bytes. B is never stored whole: fill(ctx, k0, kc, j0, nc, block) writes its rows k0 .. k0 +
 * kc − 1, columns j0 .. j0 + nc − 1 into block as column panels of QC_F32_GEMM_NR:
 * block[p·kc·NR + t·NR + j] = b[k0 + t][j0 + p·NR + j] (past nc: anything).
 * qc_f32_gemm_fill_rows fills from a row-major matrix (ctx: a qc_f32_gemm_rows); given it, the
 * GEMM reads that matrix where it is instead (a 1x1 convolution's input: no copy). block is
 * scratch of qc_f32_gemm_block_size() bytes; y has row stride ldy. */
#define QC_F32_CONV_BLOCK_COLS 288 /* the most columns fill is asked for: 6 panels of 48 */
typedef void (*qc_f32_gemm_fill_fn)(const void *ctx, int64_t k0, int64_t kc, int64_t j0,
                                    int64_t nc, float *block);
typedef struct {
    const float *data;
    int64_t ld; /* row stride */
} qc_f32_gemm_rows;
size_t qc_f32_gemm_packed_size(int64_t m, int64_t k);
void qc_f32_gemm_pack(int64_t m, int64_t k, const float *w, float *packed);
size_t qc_f32_gemm_block_size(void);
void qc_f32_gemm_fill_rows(const void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                           float *block);
void qc_f32_gemm_packed(int64_t m, int64_t n, int64_t k, const float *packed_w,
                        qc_f32_gemm_fill_fn fill, const void *ctx, const float *bias,
                        const qc_f32_clamp *clamp, float *y, int64_t ldy, float *block);

/* ---- matrix products --------------------------------------------------------------------- */

/* Bytes of scratch qc_f32_gemm needs (k floats when trans_a, else 0). */
size_t qc_f32_gemm_scratch_size(int64_t k, bool trans_a);
/* ONNX Gemm: y[m][n] = alpha * op(a) * op(b) + beta * c. op(a) is m x k (a is k x m when
 * trans_a), op(b) is k x n (b is n x k when trans_b). c, when not NULL, is c_rows x c_cols with
 * c_rows in {1, m} and c_cols in {1, n}, broadcast to m x n. Row by row: see the top. */
void qc_f32_gemm(int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b, float alpha,
                 const float *a, const float *b, float beta, const float *c, int64_t c_rows,
                 int64_t c_cols, float *y, void *scratch);

/* Batched matrix product with broadcast batch dimensions (ONNX MatMul once 1-d operands are
 * promoted to matrices): for every index i of batch_dims (row-major), y[i] = a[i] x b[i]
 * where a[i] is m x k and starts at a + sum(i[d] * a_batch_stride[d]), likewise b[i] (k x n);
 * a stride of 0 broadcasts. y is contiguous: batch_dims..., m, n. batch_rank <=
 * QC_F32_MAX_RANK. */
void qc_f32_matmul(int batch_rank, const int64_t *batch_dims, const int64_t *a_batch_stride,
                   const int64_t *b_batch_stride, int64_t m, int64_t n, int64_t k, const float *a,
                   const float *b, float *y);

/* Einsum over letters 0..n_letters-1 of the given sizes: y[out...] = sum over the letters not
 * in the output of the product of the operands. Operand k reads element sum over letters l of
 * index[l] * stride[l] (0 for a letter it lacks; a letter repeated in one operand, its
 * diagonal, has the sum of those dimensions' strides). y is contiguous in out_letters' order.
 * Accumulates in double; a plain loop nest, meant for the small contractions models use. */
#define QC_F32_EINSUM_LETTERS 60 /* 52 letters and up to 8 dimensions under an ellipsis */
typedef struct {
    const float *data;
    int64_t stride[QC_F32_EINSUM_LETTERS];
} qc_f32_einsum_operand;
void qc_f32_einsum(int n_ops, const qc_f32_einsum_operand *ops, int n_letters,
                   const int64_t *sizes, int n_out, const int *out_letters, float *y);

/* ---- elementwise ------------------------------------------------------------------------- */

typedef enum {
    QC_F32_ADD,
    QC_F32_SUB,
    QC_F32_MUL,
    QC_F32_DIV,
    QC_F32_MIN, /* float: NaN in either operand gives NaN */
    QC_F32_MAX,
} qc_f32_binary_op;

/* y = a op b with numpy broadcasting (ranks up to QC_F32_MAX_RANK; y_dims is a shape both
 * a_dims and b_dims broadcast to, which the caller has checked; y may be a). Integer types
 * wrap around in the type;
 * integer division truncates toward zero, x / 0 gives 0 and INT_MIN / -1 wraps to INT_MIN. */
void qc_f32_binary(qc_f32_binary_op op, qc_f32_elem type, const void *a, int a_rank,
                   const int64_t *a_dims, const void *b, int b_rank, const int64_t *b_dims, void *y,
                   int y_rank, const int64_t *y_dims);

/* max(x, 0); NaN stays NaN. */
void qc_f32_relu(int64_t n, const float *x, float *y);
/* x when x >= 0, alpha * x otherwise. */
void qc_f32_leaky_relu(int64_t n, float alpha, const float *x, float *y);
/* 1 / (1 + exp(-x)), without overflow for large |x|. */
void qc_f32_sigmoid(int64_t n, const float *x, float *y);
/* min(max(x, lo), hi): hi wins when lo > hi (numpy's clip); NaN stays NaN. */
void qc_f32_clip(int64_t n, float lo, float hi, const float *x, float *y);
/* The same for integer types; lo and hi are clamped to the type's range first. */
void qc_f32_clip_int(qc_f32_elem type, int64_t n, int64_t lo, int64_t hi, const void *x, void *y);

/* Activations and other elementwise maps of one float (math.c). */
typedef enum {
    QC_F32_TANH,
    QC_F32_ERF,
    QC_F32_SQRT,
    QC_F32_RECIPROCAL,
    QC_F32_EXP,
    QC_F32_LOG,
    QC_F32_NEG,
    QC_F32_ABS,
    QC_F32_FLOOR,
    QC_F32_CEIL,
    QC_F32_SIN,
    QC_F32_COS,
    QC_F32_SOFTSIGN,         /* x / (1 + |x|) */
    QC_F32_SOFTPLUS,         /* log(1 + e^x) */
    QC_F32_MISH,             /* x * tanh(softplus(x)) */
    QC_F32_GELU,             /* x/2 * (1 + erf(x / sqrt 2)) */
    QC_F32_GELU_TANH,        /* x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) */
    QC_F32_HARD_SIGMOID,     /* max(0, min(1, alpha x + beta)) */
    QC_F32_HARD_SWISH,       /* x * max(0, min(1, x/6 + 1/2)) */
    QC_F32_ELU,              /* x >= 0 ? x : alpha (e^x - 1) */
    QC_F32_SELU,             /* gamma * (x > 0 ? x : alpha (e^x - 1)) */
    QC_F32_CELU,             /* max(0, x) + min(0, alpha (e^(x/alpha) - 1)) */
    QC_F32_THRESHOLDED_RELU, /* x > alpha ? x : 0 */
} qc_f32_unary_op;

typedef struct {
    float alpha, beta, gamma; /* the op's parameters, as above; unused ones are ignored */
} qc_f32_unary_params;

/* y[i] = op(x[i]) for i < n, computed in float with libm (erff for Erf, erfcf for Gelu), Gelu's
 * tanh form in double; y may be x. */
void qc_f32_unary(qc_f32_unary_op op, const qc_f32_unary_params *p, int64_t n, const float *x,
                  float *y);

/* Comparisons of two operands of one type, broadcast as qc_f32_binary; y is bool (0 or 1). */
typedef enum {
    QC_F32_EQUAL,
    QC_F32_LESS,
    QC_F32_GREATER,
    QC_F32_LESS_EQUAL,
    QC_F32_GREATER_EQUAL,
} qc_f32_compare_op;
void qc_f32_compare(qc_f32_compare_op op, qc_f32_elem type, const void *a, int a_rank,
                    const int64_t *a_dims, const void *b, int b_rank, const int64_t *b_dims,
                    uint8_t *y, int y_rank, const int64_t *y_dims);

/* Logic on bools (any non-zero byte is true), broadcast as qc_f32_binary; y is 0 or 1. */
typedef enum { QC_F32_AND, QC_F32_OR, QC_F32_XOR } qc_f32_logic_op;
void qc_f32_logic(qc_f32_logic_op op, const uint8_t *a, int a_rank, const int64_t *a_dims,
                  const uint8_t *b, int b_rank, const int64_t *b_dims, uint8_t *y, int y_rank,
                  const int64_t *y_dims);
/* y = !x over n bools. */
void qc_f32_not(int64_t n, const uint8_t *x, uint8_t *y);

/* y = cond ? a : b, the three broadcast to y_dims; a, b and y hold elements of type. */
void qc_f32_where(qc_f32_elem type, const uint8_t *cond, int c_rank, const int64_t *c_dims,
                  const void *a, int a_rank, const int64_t *a_dims, const void *b, int b_rank,
                  const int64_t *b_dims, void *y, int y_rank, const int64_t *y_dims);

/* y = base ^ exponent, broadcast; y has the base's type. Float bases use powf (a float
 * exponent) or pow (an integer one); integer bases raise exactly for integer exponents
 * (wrapping around in int64; a negative exponent gives 0 unless the base is 1 or -1) and
 * truncate pow(base, exponent) toward zero for float ones. */
void qc_f32_pow(qc_f32_elem base_type, const void *base, int b_rank, const int64_t *b_dims,
                qc_f32_elem exp_type, const void *exponent, int e_rank, const int64_t *e_dims,
                void *y, int y_rank, const int64_t *y_dims);

/* y = x < 0 ? slope * x : x, slope broadcast to x's shape (y_dims = x_dims). */
void qc_f32_prelu(const float *x, int x_rank, const int64_t *x_dims, const float *slope,
                  int s_rank, const int64_t *s_dims, float *y);

/* ---- reductions (reduce.c) --------------------------------------------------------------- */

typedef enum {
    QC_F32_REDUCE_SUM,
    QC_F32_REDUCE_MEAN,
    QC_F32_REDUCE_MAX,
    QC_F32_REDUCE_MIN,
    QC_F32_REDUCE_PROD,
    QC_F32_REDUCE_L1,
    QC_F32_REDUCE_L2,
    QC_F32_REDUCE_SUM_SQUARE,
    QC_F32_REDUCE_LOG_SUM,
    QC_F32_REDUCE_LOG_SUM_EXP,
} qc_f32_reduce_op;

/* Bytes of scratch qc_f32_reduce needs for out_count outputs (two doubles each). */
size_t qc_f32_reduce_scratch_size(int64_t out_count);
/* Reduces x (rank dims) over the dimensions whose reduced[d] is true; y holds the kept
 * dimensions in order (keepdims only changes the shape, not the layout). Sums and products
 * accumulate in double; LogSumExp subtracts each output's maximum first. An empty reduction
 * gives the operation's identity (0, 1, -inf for Max, +inf for Min; Mean gives NaN). */
void qc_f32_reduce(qc_f32_reduce_op op, int rank, const int64_t *dims, const bool *reduced,
                   const float *x, float *y, void *scratch);

/* Index of the maximum (or minimum) along the middle dimension of x[outer][axis_size][inner]:
 * the first one, or the last with last_index. NaN wins, as in numpy. */
void qc_f32_arg_extreme(bool minimum, bool last_index, int64_t outer, int64_t axis_size,
                        int64_t inner, const float *x, int64_t *y);

/* ---- pooling ----------------------------------------------------------------------------- */

/* Max over each window of planes planes (N*C). type is float, uint8 or int8; padding never
 * wins (a window with no input element gives the type's lowest value). indices, when not
 * NULL, receives each maximum's flat position in the whole input (ONNX MaxPool's second
 * output): plane * plane_size + the spatial offset, row-major or, when column_major, with the
 * first spatial dimension varying fastest. Ties keep the first position in row-major order;
 * NaN wins and stays, as in PyTorch. */
void qc_f32_maxpool(qc_f32_elem type, const qc_f32_window *win, int64_t planes, const void *x,
                    void *y, int64_t *indices, bool column_major);

/* Mean over each window. Without count_include_pad, the divisor counts input elements only;
 * with it, positions of the padded input [-pad_begin, in + pad_end) count too (positions past
 * the end padding, reached in ceil mode, never do). An empty window gives 0. */
void qc_f32_avgpool(const qc_f32_window *win, int64_t planes, bool count_include_pad,
                    const float *x, float *y);

/* Mean and max of each of planes contiguous planes of plane_size elements. */
void qc_f32_global_avgpool(int64_t planes, int64_t plane_size, const float *x, float *y);
void qc_f32_global_maxpool(int64_t planes, int64_t plane_size, const float *x, float *y);

/* ---- normalization ----------------------------------------------------------------------- */

/* Inference batch normalization over x[batch][channels][plane]:
 * y = (x - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + bias[c], computed as
 * (x - mean[c]) * gain[c] + bias[c] with gain = scale / sqrt(var + epsilon) per channel. */
void qc_f32_batchnorm(int64_t batch, int64_t channels, int64_t plane, const float *x,
                      const float *scale, const float *bias, const float *mean, const float *var,
                      float epsilon, float *y);

/* Softmax over the middle dimension of x[outer][axis_size][inner], the maximum subtracted
 * first so that large inputs do not overflow. */
void qc_f32_softmax(int64_t outer, int64_t axis_size, int64_t inner, const float *x, float *y);
/* log(softmax) over the same dimension, as x - max - log(sum(exp(x - max))). */
void qc_f32_log_softmax(int64_t outer, int64_t axis_size, int64_t inner, const float *x,
                        float *y);
/* 1 at the first maximum along the same dimension, 0 elsewhere. */
void qc_f32_hardmax(int64_t outer, int64_t axis_size, int64_t inner, const float *x, float *y);

/* Normalizes each of rows rows of size elements: y = (x - mean) / sqrt(var + epsilon) *
 * scale + bias, mean and (biased) variance computed in double over the row. scale and bias
 * (bias may be NULL) hold size elements, or 1 when scale_step (bias_step) is 0. mean and
 * inv_std, when not NULL, receive each row's mean and 1 / sqrt(var + epsilon). */
void qc_f32_layernorm(int64_t rows, int64_t size, const float *x, const float *scale,
                      int64_t scale_step, const float *bias, int64_t bias_step, float epsilon,
                      float *y, float *mean, float *inv_std);
/* Instance and group normalization of x[batch][channels][plane]: statistics over each group
 * of channels / groups consecutive channels of one image (InstanceNormalization is
 * groups = channels), then y = normalized * scale + bias with scale and bias per channel,
 * or per group when per_group (GroupNormalization before opset 21). */
void qc_f32_groupnorm(int64_t batch, int64_t channels, int64_t groups, int64_t plane,
                      const float *x, const float *scale, const float *bias, bool per_group,
                      float epsilon, float *y);

/* ---- resizing (Resize, Upsample) ----------------------------------------------------------- */

/* One axis of a separable resize: x is outer x in_len x inner, y is outer x out_len x inner, and
 * y[o, j, i] = sum over t < taps of weight[j*taps + t] * x[o, index[j*taps + t], i]; an index of
 * -1 in the first tap makes the whole output row j the value fill (extrapolation). */
void qc_f32_resize_axis(const float *x, float *y, int64_t outer, int64_t in_len, int64_t out_len,
                        int64_t inner, int taps, const int64_t *index, const float *weight,
                        float fill);

/* ---- transposed convolution (ConvTranspose) --------------------------------------------------- */

/* The geometry of a transposed convolution, the adjoint of a qc_f32_window: input position i of
 * dimension d writes outputs i*stride[d] - pad_begin[d] + k*dilation[d] for k in [0, kernel[d]);
 * those outside [0, out[d]) are dropped. W is in_channels x (out_channels / groups) x kernel. */
typedef struct {
    qc_f32_window win;      /* in = the input size, out = the output size */
    int64_t in_channels, out_channels, groups;
} qc_f32_conv_transpose_params;

/* Bytes of scratch qc_f32_conv_transpose needs: the column matrix of one group. */
size_t qc_f32_conv_transpose_scratch_size(const qc_f32_conv_transpose_params *p);
/* y = ConvTranspose(x, w) + bias over batch images (GEMM to columns, then a scatter-add to the
 * output); bias may be NULL. */
void qc_f32_conv_transpose(const qc_f32_conv_transpose_params *p, int64_t batch, const float *x,
                           const float *w, const float *bias, float *y, void *scratch);

#endif
