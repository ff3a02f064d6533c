/* graph.h — qcal's intermediate representation, its passes and the executor that runs it.
 *
 * A qc_graph is what an ONNX model becomes after loading: tensors (initializers carry
 * data; activations only a name, a type and a statically inferred shape) and nodes in
 * topological order. Running a graph needs a qc_exec: the per-thread state that owns the
 * activation buffers, so that several threads can run one read-only graph at once.
 *
 *     qc_graph *g = ...;                    // from io/ (qc_onnx_load)
 *     qc_exec *x = qc_exec_create(g);
 *     qc_value in = qc_value_f32(4, (int64_t[]){1, 1, 28, 28}, pixels);
 *     if (qc_exec_run(x, &in, 1, &err) != QC_OK) puts(err.msg);
 *     const qc_value *logits = qc_exec_output(x, 0);
 *     qc_exec_destroy(x);
 *
 * Library code never prints and never exits: it returns a qc_status and fills a qc_error
 * that names the file, node or tensor. (The command line maps statuses to its exit codes,
 * cli/main.c.)
 */
#ifndef QCAL_GRAPH_H
#define QCAL_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- status and errors ------------------------------------------------------------ */

typedef enum {
    QC_OK = 0,
    QC_ERR_USAGE,     /* a bad argument: an option out of its range */
    QC_ERR_INPUT,     /* bad model, image, statistics or configuration */
    QC_ERR_IO,        /* I/O or internal error */
} qc_status;

typedef struct {
    char msg[1024];
} qc_error;

/* Formats msg into err (when err is not NULL) and returns status. */
qc_status qc_fail(qc_error *err, qc_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- tensors ------------------------------------------------------------------------ */

/* Element types; the values are ONNX's TensorProto.DataType codes. */
typedef enum {
    QC_UNDEFINED = 0,
    QC_FLOAT = 1,
    QC_UINT8 = 2,
    QC_INT8 = 3,
    QC_INT32 = 6,
    QC_INT64 = 7,
    QC_BOOL = 9,
} qc_dtype;

#define QC_MAX_RANK 8

size_t qc_dtype_size(qc_dtype t);     /* bytes per element; 0 when unsupported */
const char *qc_dtype_name(qc_dtype t); /* "float32", "uint8", … */
/* The name of an ONNX TensorProto data type code, supported or not ("float", "double", …). */
const char *qc_onnx_type_name(int64_t code);

/* The order of a value's bytes. dims are always ONNX's (N x C x spatial...); an 8-bit
 * activation between integer ops may be stored channels last (N x spatial... x C), the layout
 * the integer convolutions compute in, so that no transpose runs between them. The executor
 * chooses it (graph/layout.c); everything outside it (observers, graph outputs) sees ONNX's. */
typedef enum {
    QC_LAYOUT_ONNX = 0,
    QC_LAYOUT_CHANNELS_LAST = 1,
} qc_value_layout;

/* A typed n-dimensional array. data is not owned by the value itself: its owner is the
 * graph (initializers) or the qc_exec (activations), or the caller (inputs). */
typedef struct {
    qc_dtype dtype;
    int rank;
    int64_t dims[QC_MAX_RANK];
    void *data;
    qc_value_layout layout; /* of data; an activation's static value records the layout chosen */
} qc_value;

int64_t qc_value_count(const qc_value *v); /* number of elements (1 for rank 0) */
/* Copies v's elements into dst (qc_value_bytes(v) of them) in ONNX's layout: a channels-last
 * value transposed, any other copied as it is (graph/layout.c). */
void qc_value_copy_onnx(const qc_value *v, void *dst);
size_t qc_value_bytes(const qc_value *v);
qc_value qc_value_f32(int rank, const int64_t *dims, float *data);
bool qc_same_shape(const qc_value *a, const qc_value *b);
/* Element index of v as a double, whatever its dtype. */
double qc_read_scalar(const qc_value *v, int64_t index);
/* "1x3x224x224" into buf; returns buf. */
char *qc_shape_str(const qc_value *v, char *buf, size_t size);

/* ---- sizes read from a file ----
 *
 * Every shape a model declares or an op infers is checked before anything is sized by it:
 * each dimension in [0, QC_MAX_DIM], and the product of the dimensions, zeros counted as 1,
 * at most QC_MAX_ELEMENTS, so that the element count of any subset of a value's dimensions
 * fits an int64_t with room for byte sizes. One tensor, and all the activations of one run,
 * are further bounded by the memory limit (2 GiB unless set). */
#define QC_MAX_DIM ((int64_t)1 << 40)
#define QC_MAX_ELEMENTS ((int64_t)1 << 40)
#define QC_DEFAULT_MEMORY_LIMIT ((size_t)2 << 30)

/* *product = a · b for a, b ≥ 0; false when it would exceed QC_MAX_ELEMENTS. */
bool qc_mul_dims(int64_t a, int64_t b, int64_t *product);
/* Checks v's shape as above and its bytes against the memory limit; what names the value in
 * the message ("output 'y' of node 'n' (Reshape)", "input 'x'"). QC_ERR_INPUT when refused. */
qc_status qc_value_check(const qc_value *v, const char *what, qc_error *err);
/* The bytes of activations one run may hold (default QC_DEFAULT_MEMORY_LIMIT); set once,
 * before any graph is prepared. */
void qc_set_memory_limit(size_t bytes);
size_t qc_memory_limit(void);

typedef struct {
    char *name;       /* owned; unique in the graph */
    qc_value value;   /* dtype and dims are the statically inferred ones for activations;
                         data is owned and non-NULL only for constants (initializers) */
    bool is_const;    /* an initializer, a folded Constant, or a folded shape subgraph */
    bool is_input;    /* a graph input fed at run time */
    bool is_output;   /* a graph output */
    uint32_t symbolic; /* graph inputs and outputs: bit i set when dimension i was symbolic
                          (dynamic) in the model; static shapes take such dimensions as 1 */
    int producer;     /* index of the node that produces it, -1 for inputs and constants */
} qc_tensor;

/* ---- nodes ---------------------------------------------------------------------------- */

typedef enum {
    QC_ATTR_FLOAT = 1,
    QC_ATTR_INT = 2,
    QC_ATTR_STRING = 3,
    QC_ATTR_TENSOR = 4,
    QC_ATTR_FLOATS = 6,
    QC_ATTR_INTS = 7,
} qc_attr_type; /* values are ONNX's AttributeProto.AttributeType codes */

typedef struct {
    char *name;       /* owned */
    qc_attr_type type;
    float f;
    int64_t i;
    char *s;          /* owned, NUL-terminated */
    int n;            /* number of floats or ints */
    float *floats;    /* owned */
    int64_t *ints;    /* owned */
    qc_value t;       /* owned data, for QC_ATTR_TENSOR */
} qc_attr;

struct qc_op;

typedef struct {
    char *name;        /* owned; never NULL (the loader names unnamed nodes "op_type_index") */
    char *op_type;     /* owned */
    char *domain;      /* owned; "" for the default ONNX domain */
    int n_inputs;
    int *inputs;       /* tensor indices; -1 for an omitted optional input */
    int n_outputs;
    int *outputs;      /* tensor indices; -1 for an omitted optional output */
    int n_attrs;
    qc_attr *attrs;
    const struct qc_op *op; /* resolved implementation; NULL when unsupported */
    void *state;       /* owned by the op: precomputed data (packed weights, parsed attributes) */
} qc_node;

/* ---- the graph ------------------------------------------------------------------------- */

typedef struct {
    char *name;           /* owned: the file or graph name, used in messages */
    int64_t opset;        /* default-domain opset version */
    int n_tensors, cap_tensors;
    qc_tensor *tensors;
    int *slots;           /* tensor names hashed: index + 1 per slot, 0 empty (graph.c) */
    int n_slots;          /* a power of two, more than twice n_tensors */
    int n_nodes, cap_nodes;
    qc_node *nodes;       /* topological order */
    int n_inputs;
    int *inputs;          /* tensor indices of the inputs fed at run time */
    int n_outputs;
    int *outputs;         /* tensor indices */
    int n_meta;
    char **meta_keys, **meta_values; /* metadata_props, owned */
} qc_graph;

qc_graph *qc_graph_create(const char *name);
void qc_graph_destroy(qc_graph *g);
/* Finds a tensor by name; -1 when absent. */
int qc_graph_find_tensor(const qc_graph *g, const char *name);
/* Returns the index of the tensor with this name, adding an empty one when absent; -1 when
 * out of memory. */
int qc_graph_tensor(qc_graph *g, const char *name);
/* Gives tensor t a new name (a copy); 0, or -1 when out of memory. */
int qc_graph_rename_tensor(qc_graph *g, int t, const char *name);
/* metadata_props[key], or NULL when absent (graph/meta.c). */
const char *qc_graph_meta(const qc_graph *g, const char *key);
/* Whether g is already quantized: qcal's qcal.format metadata, or a (De)QuantizeLinear,
 * QLinear*, QGemm or *Integer node. */
bool qc_graph_is_quantized(const qc_graph *g);
/* The first node's op type that shows g quantized (one of those above), for messages; NULL
 * when none does. */
const char *qc_graph_quantized_op(const qc_graph *g);
/* The hash of the FP32 model a qcal file was quantized from (qcal.source_model_hash, 16 hex
 * digits); false when g records none. */
bool qc_graph_source_hash(const qc_graph *g, uint64_t *hash);
/* Appends a node with copies of the given strings; returns its index or -1. */
int qc_graph_add_node(qc_graph *g, const char *name, const char *op_type, const char *domain);
/* Sets metadata_props[key] = value (copies), replacing the value of an existing key and
 * appending a new key after the others; QC_ERR_IO when out of memory. */
qc_status qc_graph_set_meta(qc_graph *g, const char *key, const char *value);
const qc_attr *qc_node_attr(const qc_node *n, const char *name);
int64_t qc_node_attr_int(const qc_node *n, const char *name, int64_t fallback);
float qc_node_attr_float(const qc_node *n, const char *name, float fallback);

/* Resolves every node's op, checks attributes, folds constants and shape subgraphs,
 * infers static shapes (symbolic dimensions taken as 1) and orders nodes topologically.
 * Unsupported ops are all listed in one error (op type and node name). */
qc_status qc_graph_prepare(qc_graph *g, qc_error *err);

/* Graph passes, each leaving a prepared graph prepared. */
qc_status qc_pass_fold_batchnorm(qc_graph *g, qc_error *err); /* into a preceding Conv/Gemm */
/* DequantizeLinear → Conv/Gemm/MatMul/Add/pooling/Concat [→ Relu/Clip] → QuantizeLinear
 * patterns (ONNX Runtime's QDQ format) become integer ops; DequantizeLinear of constants
 * left over is folded (docs/quantization.md, section 7). */
qc_status qc_pass_fuse_qdq(qc_graph *g, qc_error *err);
/* Can Pad node n of g run on 8-bit codes (F13)? Pads given as an input (opset 11 on), and
 * in constant mode a padding value of 0 or none, whose code is the zero point. */
bool qc_pad_on_codes(const qc_graph *g, const qc_node *n);
/* Can Resize node n run on 8-bit codes? Nearest mode (a copy of rows), and no
 * tf_crop_and_resize (whose extrapolated values are new). */
bool qc_resize_on_codes(const qc_node *n);
/* Removes nodes and tensors nothing depends on. */
void qc_pass_prune(qc_graph *g);

/* Inputs bound to a constant (a model's inputs other than its image, --input): the tensor of
 * graph input `tensor` keeps a copy of v (its data, owned by the graph; is_const stays false,
 * so passes and writers still see an input), and qc_exec_run takes it from there on every run.
 * v's dtype must be the input's, its fixed dimensions the input's (a symbolic one takes any
 * size): QC_ERR_INPUT naming the input otherwise. Bind after qc_graph_prepare and the passes. */
qc_status qc_graph_bind_input(qc_graph *g, int tensor, const qc_value *v, qc_error *err);
/* The inputs fed at run time: those not bound; the k-th of them as a tensor index, -1 past
 * the end. */
int qc_graph_fed_count(const qc_graph *g);
int qc_graph_fed_input(const qc_graph *g, int k);
/* Binds each input of dst that has a bound namesake in src to the same value (a graph derived
 * from src, e.g. quantized, runs with src's constants). */
qc_status qc_graph_copy_bindings(qc_graph *dst, const qc_graph *src, qc_error *err);

/* Is this op type (default domain) supported? */
bool qc_op_supported(const char *op_type, const char *domain);
/* Names of the supported ops, NULL-terminated. */
const char *const *qc_supported_ops(void);

/* Elements of the weights and biases: the float constants ops read, and the 8- and 32-bit
 * constants quantized ops read as weights or biases (not scales or zero points); -1 out of
 * memory. */
int64_t qc_graph_param_count(const qc_graph *g);

/* ---- execution ---------------------------------------------------------------------------- */

/* Called after every node with each tensor it produced. */
typedef void (*qc_observer)(void *ctx, const qc_graph *g, int tensor, const qc_value *value);

typedef struct qc_exec qc_exec;

qc_exec *qc_exec_create(const qc_graph *g);
void qc_exec_destroy(qc_exec *x);
void qc_exec_set_observer(qc_exec *x, qc_observer fn, void *ctx);
/* Runs the graph on inputs given in the order of g->inputs, less those bound to a constant
 * (qc_graph_bind_input), which are fed from the graph. Shapes may differ from the
 * static ones (dynamic batch); every node's output shape is inferred again. */
qc_status qc_exec_run(qc_exec *x, const qc_value *inputs, int n_inputs, qc_error *err);
/* The i-th graph output of the last run; valid until the next run. */
const qc_value *qc_exec_output(const qc_exec *x, int i);

/* ---- a small thread pool ------------------------------------------------------------------ */

/* Calls fn(ctx, worker, item) for item = 0..n_items-1 on n_threads threads (blocking
 * waits). Items are handed out in order; which worker runs an item varies,
 * so fn must write its results by item. Returns the first non-zero fn result. */
typedef int (*qc_task_fn)(void *ctx, int worker, int64_t item);
int qc_parallel_for(int n_threads, int64_t n_items, qc_task_fn fn, void *ctx);

/* A pool that keeps n_threads − 1 threads between jobs: asleep on a condition variable, or
 * while the pool is held, spinning first for the next job (a pause instruction between looks,
 * for at most 50 µs by default), since a wake-up costs a virtual machine tens of
 * microseconds; the calling thread is worker 0 of every job. qc_pool_run is qc_parallel_for on
 * the pool's threads: workers are numbered 0..qc_pool_threads − 1. One job at a time: the
 * pool belongs to one caller. Never NULL for n_threads ≤ 1 unless out of memory; with fewer
 * threads started than asked, qc_pool_threads says how many. */
typedef struct qc_pool qc_pool;
qc_pool *qc_pool_create(int n_threads);
int qc_pool_threads(const qc_pool *p);
int qc_pool_run(qc_pool *p, int64_t n_items, qc_task_fn fn, void *ctx);
void qc_pool_destroy(qc_pool *p);
/* Holding (nested: as many releases as holds) lets the workers spin between jobs: an
 * executor holds its pool for a run. spin: the longest spin in nanoseconds (0: sleep at once);
 * sleepers: how many workers sleep now. */
void qc_pool_hold(qc_pool *p, bool held);
void qc_pool_set_spin(qc_pool *p, int64_t nanoseconds);
int qc_pool_sleepers(qc_pool *p);

/* Intra-op threads: the executor's heavy ops (integer and FP32 convolutions, integer matrix
 * products) split each op over n threads of a pool it owns (1: none, the default). Outputs are
 * the same bytes for every n. QC_ERR_IO when threads cannot be made. */
qc_status qc_exec_set_threads(qc_exec *x, int n_threads, qc_error *err);
int qc_exec_threads(const qc_exec *x);
/* The least work of an op that splits over the threads (multiply-adds of a GEMM on
 * AVX512-VNNI; other kernels count their time in those); smaller ops run on
 * the calling thread, where waking workers would cost more than they save. 0 splits every
 * op that can be split (tests cover the splitting on small models so). */
void qc_exec_set_split_work(qc_exec *x, double work);

#endif
