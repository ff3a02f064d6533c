/* graph-impl.h — private to graph/: the operator table and helpers that op files share. */
#ifndef QCAL_GRAPH_IMPL_H
#define QCAL_GRAPH_IMPL_H

#include "graph.h"
#include "kernels/kernels.h"

/* One operator implementation. Every function receives the node, and values for its
 * inputs in node order (NULL for an omitted optional input).
 *
 * check:  validates attributes and input count once, at load; names the node and the
 *         attribute on error. May set n->state (freed by release).
 * infer:  sets each output's dtype, rank and dims from the inputs. An input's data is
 *         non-NULL when it is a constant or at run time; when infer needs data that is
 *         not there (a Reshape fed a shape at run time), it sets the output rank to -1.
 * run:    computes the outputs, whose buffers the executor has already sized from infer
 *         (an omitted optional output has data NULL: skip it).
 *         Scratch memory comes from qc_exec_scratch. Pure of global state, so it may run
 *         concurrently on different qc_exec objects. */
typedef struct qc_op {
    const char *op_type;
    const char *domain; /* "" for ONNX's default domain */
    qc_status (*check)(const qc_graph *g, qc_node *n, qc_error *err);
    qc_status (*infer)(const qc_node *n, const qc_value *const *in, qc_value *out, qc_error *err);
    qc_status (*run)(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                     qc_error *err);
    void (*release)(qc_node *n);
} qc_op;

/* The inputs and outputs one node may have (DenseNet-121 concatenates 25 tensors). */
#define QC_MAX_NODE_INPUTS 256 /* QLinearConcat of DenseNet-121: 2 + 3 × 25 */
#define QC_MAX_NODE_OUTPUTS 8

/* Op tables, each ended by an entry whose op_type is NULL. */
extern const qc_op qc_ops_tensor[]; /* ops-tensor.c: shape and data movement */
extern const qc_op qc_ops_fp32[];   /* ops-fp32.c: FP32 math */
extern const qc_op qc_ops_int8[];   /* ops-int8.c: quantized ops on kernels/int8 */
extern const qc_op qc_ops_math[];   /* ops-math.c: FP32 elementwise math, reductions, norms */
extern const qc_op qc_ops_shape[];  /* ops-shape.c: slicing, padding, tiling, casts */
extern const qc_op qc_ops_resize[]; /* ops-resize.c: Resize, Upsample */
extern const qc_op qc_ops_conv_transpose[]; /* ops-convtranspose.c */

const qc_op *qc_op_find(const char *op_type, const char *domain);

/* Scratch memory owned by the executor, valid until the next call; NULL when out of
 * memory. Aligned to 64 bytes. */
void *qc_exec_scratch(qc_exec *x, size_t bytes);
/* Intra-op threads: how many an op of the given work (multiply-adds, or bytes it moves)
 * splits over (1 for small ops, where waking workers would cost more than it saves), and a job
 * on them (the executor's pool when n_threads > 1, else the calling thread; workers numbered
 * 0..n_threads − 1, so that each may take its own piece of scratch). */
int qc_exec_op_threads(const qc_exec *x, double work);
int qc_exec_parallel(qc_exec *x, int n_threads, int64_t n_items, qc_task_fn fn, void *ctx);
/* [0, count) in one contiguous range per thread that an op of this work splits over (ranges
 * start at multiples of grain, so pieces share no cache line when grain covers one); fn(ctx,
 * begin, end) runs once per range. For ops whose outputs are each their own computation. */
typedef void (*qc_range_fn)(void *ctx, size_t begin, size_t end);
void qc_exec_split_range(qc_exec *x, double work, size_t count, size_t grain, qc_range_fn fn,
                         void *ctx);

/* Conv + Relu/Clip fusion (passes.c, exec.c). The node after producer that it may absorb: a
 * Relu, or a Clip with constant bounds, that alone reads producer's output (an FP32 Conv's,
 * not a graph output); -1 when none. *lo, *hi: the bounds qc_f32_clip would apply. */
int qc_pass_fusable_activation(const qc_graph *g, int producer, float *lo, float *hi);
/* Whether node n applies its activation's clamp [*lo, *hi] itself in this run: only when
 * the executor has no observer, which must see every tensor as ONNX defines it. */
bool qc_exec_fused_clamp(const qc_exec *x, const qc_node *n, float *lo, float *hi);

/* Sets every tensor's producer from the node list (after nodes moved). */
void qc_graph_index_producers(qc_graph *g);

/* Under a symbolic input dimension, evaluates what depends only on constants and activation
 * shapes at several sizes of it, and makes constants of the values that do not change
 * (passes.c); *folded says whether any node went. */
qc_status qc_pass_fold_shape_subgraphs(qc_graph *g, bool *folded, qc_error *err);

/* Frees what a node owns (not the node itself), calling its op's release. */
void qc_node_free(qc_node *n);

/* Integer kernels split over the executor's intra-op threads by their work (ops-split.c):
 * the same bytes as one call of qc_qadd_u8, qc_quantize_u8 / _s8 (is_u8 picks) and
 * qc_maxpool_u8. */
void qc_split_qadd_u8(qc_exec *x, size_t n, const uint8_t *a, const uint8_t *b, const qc_qadd *p,
                      uint8_t *y);
void qc_split_quantize(qc_exec *x, bool is_u8, size_t outer, size_t channels, size_t inner,
                       const float *xf, const qc_quant *q, void *y);
void qc_split_maxpool_u8(qc_exec *x, size_t planes, const qc_pool2d *p, const uint8_t *src,
                         uint8_t *y);
/* The same for channels-last images (images × in_h × in_w × channels), split by output rows. */
void qc_split_maxpool_cl_u8(qc_exec *x, size_t images, size_t channels, const qc_pool2d *p,
                            const uint8_t *src, uint8_t *y);

/* Helpers for ops (ops-window.c). */
/* Formats an error that names the node first: "node 'conv1' (Conv): ..."; QC_ERR_INPUT. */
qc_status qc_node_fail(qc_error *err, const qc_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Input and output counts, at load: min_in inputs are required (present, not omitted). */
/* Checks every output shape an op inferred (qc_value_check), naming the node and output. */
qc_status qc_node_check_outputs(const qc_graph *g, const qc_node *n, const qc_value *out,
                                qc_error *err);
qc_status qc_node_check_arity(const qc_node *n, int min_in, int max_in, int max_out,
                              qc_error *err);

/* The window attributes of Conv and the pools (their quantized forms too). kernel_shape,
 * strides, dilations and pads are at most QC_MAX_WINDOW; a pool's pads are smaller than its
 * dilated kernel. */
#define QC_MAX_WINDOW ((int64_t)1 << 20)
typedef enum { QC_PAD_NOTSET, QC_PAD_VALID, QC_PAD_SAME_UPPER, QC_PAD_SAME_LOWER } qc_auto_pad;
typedef struct {
    int spatial;            /* fixed by the attributes; 0 when none gives it (Conv without
                               kernel_shape, strides, dilations and pads: taken from W) */
    bool has_kernel;
    qc_auto_pad auto_pad;
    bool ceil_mode;
    int64_t kernel[QC_F32_MAX_SPATIAL];
    int64_t stride[QC_F32_MAX_SPATIAL];
    int64_t dilation[QC_F32_MAX_SPATIAL];
    int64_t pad_begin[QC_F32_MAX_SPATIAL];
    int64_t pad_end[QC_F32_MAX_SPATIAL];
} qc_window_attrs;
qc_status qc_window_parse(const qc_node *n, qc_window_attrs *wa, qc_error *err);
/* The window of input x (N x C x spatial...) for the given kernel size: pads resolved from
 * auto_pad, output size checked. */
qc_status qc_window_geometry(const qc_node *n, const qc_window_attrs *wa, const qc_value *x,
                             const int64_t *kernel, qc_f32_window *win, qc_error *err);

/* Other helpers for ops. */
/* Normalises a possibly negative axis against rank; false when out of range. */
bool qc_axis(int64_t axis, int rank, int *out);
/* Numpy-style broadcast of a and b into out (dims only); false when incompatible. */
bool qc_broadcast_shape(const qc_value *a, const qc_value *b, qc_value *out);
/* Reads an integer constant input (int32 or int64) of at most max elements into dst;
 * returns the count or -1 when it has no data or is too long. */
int qc_read_ints(const qc_value *v, int64_t *dst, int max);

/* Helpers for ops (ops-math.c). */
/* Every one of the first count inputs is present (the check's guard again at infer time). */
qc_status qc_node_need_inputs(const qc_node *n, const qc_value *const *in, int count,
                              qc_error *err);
/* Attribute readers that reject a present attribute of the wrong type (or, for a flag, a
 * value other than 0 and 1) instead of silently taking the fallback. */
qc_status qc_node_int(const qc_node *n, const char *name, int64_t fallback, int64_t *v,
                      qc_error *err);
qc_status qc_node_flag(const qc_node *n, const char *name, bool fallback, bool *v, qc_error *err);
qc_status qc_node_float(const qc_node *n, const char *name, float fallback, float *v,
                        qc_error *err);
/* Stores a copy of a parsed attribute struct as n->state; qc_node_release_state frees it. */
qc_status qc_node_keep_state(qc_node *n, const void *parsed, size_t size, qc_error *err);
void qc_node_release_state(qc_node *n);
/* The FP32 kernels' element type for a dtype; false for the types they do not handle. */
bool qc_elem_of(qc_dtype t, qc_f32_elem *e);

/* Whether v can feed graph input t: its dtype, and its size in every fixed dimension (inputs.c);
 * what prefixes the given value in the message ("the value "). */
qc_status qc_input_fits(const qc_graph *g, const qc_tensor *t, const qc_value *v, const char *what,
                        qc_error *err);

/* Channels-last activations (layout.c). How a node may treat them: the inputs it reads in
 * either layout (positions, -1 for none), whether its output 0 may be written channels last,
 * and whether those inputs and the output must share one layout (elementwise and per-channel
 * ops that run the same loop on either). Every other input and output is ONNX's. */
typedef struct {
    int inputs[2];
    bool output;
    bool tied;
} qc_layout_rule;
/* Chooses each tensor's layout (value.layout): channels last for the 4-d 8-bit activations
 * that every reader and the producer take so, ONNX's for the rest (graph inputs and outputs
 * always). Run by qc_graph_prepare last, so every prepared graph has its layouts. */
qc_status qc_pass_choose_layouts(qc_graph *g, qc_error *err);
/* Whether integer convolution n reads and writes channels last (ops-int8.c): constant 2-d
 * weights, 8-bit output, and not the depthwise form with fewer than 8 maps, which runs NCHW. */
bool qc_conv_channels_last(const qc_graph *g, const qc_node *n);

#endif
