/* quantize-impl.h — private to calib/: the quantizer's state, its op table and the helpers
 * that quantize.c (plan, entry point), quantize-graph.c (building the new graph) and
 * quantize-ops.c (one row per op) share. */
#ifndef QCAL_QUANTIZE_IMPL_H
#define QCAL_QUANTIZE_IMPL_H

#include "calib-impl.h"

#define QZ_MS_DOMAIN "com.microsoft"
/* Inputs of one node, as many as graph/ runs (DenseNet-121 concatenates 25). */
#define QZ_MAX_INPUTS 64

typedef struct qz qz;

/* Where a quantized node's output takes its parameters from (rules Q3, Q4, Q6). */
typedef enum {
    QZ_OUT_OWN = 0, /* its own statistics */
    QZ_OUT_PASS,    /* its first input's: it only moves values (MaxPool, Reshape, …) */
    QZ_OUT_SHARED,  /* one set for the output and every input (Concat) */
} qz_out_params;

/* The constant weight at input 1, and which of its axes is the output channel (Q7). */
typedef enum {
    QZ_WEIGHTS_NONE = 0,
    QZ_WEIGHTS_CONV,   /* [M][C/g][kH][kW], channel axis 0 */
    QZ_WEIGHTS_GEMM,   /* [N][K] with transB (axis 0), else [K][N] (axis 1) */
    QZ_WEIGHTS_MATMUL, /* [K][N], axis 1 */
    QZ_WEIGHTS_OPERAND, /* input 1 when it is a constant: quantized per tensor as an activation
                           would be, its own range (Mul by a constant) */
} qz_weights;

/* How a node takes an input quantized per channel under input compensation (Q14). */
typedef enum {
    QZ_COMP_NONE = 0,  /* it cannot */
    QZ_COMP_LINEAR,    /* its weights carry the input's channel scales */
    QZ_COMP_KEEPS,     /* it keeps every channel where it was (MaxPool) */
    QZ_COMP_RESHAPES,  /* only when its output still has the channels on axis 1 */
} qz_compensation;

/* A QOperator node being written: its inputs in ng (-1 for an omitted one), its op and
 * domain, an attribute of the FP32 node left out, and one integer attribute added. */
typedef struct {
    int in[2 + 3 * QZ_MAX_INPUTS], n_in; /* QLinearConcat: y scale and zero point, then 3 per input */
    const char *op_type, *domain;
    const char *skip_attr;
    const char *int_attr; /* NULL: none */
    int64_t int_attr_value;
} qz_qop;

/* One op the quantizer knows, as graph/'s qc_op is one op the runtime knows. A node whose
 * op has no row stays FP32: in QDQ and FakeQuantize between DequantizeLinear and
 * QuantizeLinear, in QOperator fed by a DequantizeLinear. */
typedef struct qz_op {
    const char *op_type;          /* default domain */
    qz_weights weights;
    int own_inputs;               /* activation inputs (from the first) quantized with their
                                     own parameters when not yet quantized; QZ_OUT_SHARED: all */
    qz_out_params out;
    bool needs_quantized_input;   /* only worth it when the input is already quantized (Q4) */
    bool fuses_activation;        /* a Relu/Clip after it may be dropped (Q5) */
    qz_compensation compensation;
    /* op-specific conditions beyond the common ones (classify); NULL: none */
    bool (*accepts)(const qz *q, const qc_node *n);
    /* QOperator (Q11): the integer node's op, domain and inputs. x, s, z: the first input
     * and its scale and zero point; ys, yz: those of the output. NULL: the op has none, and
     * QOperator keeps the float node between a DequantizeLinear and a QuantizeLinear. */
    qc_status (*qop)(qz *q, const qc_node *n, int x, int s, int z, int ys, int yz, qz_qop *e);
} qz_op;

/* The row of node n's op, the first whose conditions (accepts) hold; NULL when the
 * quantizer has none (quantize-ops.c). */
const qz_op *qz_op_find(const qz *q, const qc_node *n);

/* Per FP32 tensor. */
typedef struct {
    int src;            /* whose parameters it uses (follow to the root); -1: not quantized */
    bool has_p;
    qc_qparams p;       /* activation parameters of a root */
    float lo, hi;       /* the range they came from */
    int fname, qname;   /* tensor index in ng of the float / quantized version, -1 */
    int sname, zname;   /* scale and zero point constants in ng, -1 */
    int wq;             /* quantized (or fake-quantized) weight in ng, -1 */
    qc_qparams *wp;     /* weight parameters of wq (owned), NULL */
    int wch;            /* their channel count */
    qc_granularity wgran; /* of wp: tensor (wch 1) or channel */
    /* input compensation (rule Q14) */
    qc_qparams *cp;     /* per-channel parameters of a compensated root (owned), NULL */
    int cch;            /* their channel count */
    int divisor;        /* of a root: the constant of its per-channel scales in ng, -1 */
} qz_tensor;

/* Per FP32 node. */
typedef struct {
    const qz_op *op;    /* NULL: left as it is */
    int fused;          /* the Relu/Clip node fused into this one, -1 */
    bool int_clip;      /* the fused Relu/Clip becomes an integer Clip at the zero point */
    bool absorbed;      /* a Relu/Clip fused into the node before it */
    bool comp_node;     /* reads a compensated input: its weights carry the input's scales */
} qz_node;

struct qz {
    const qc_graph *g;
    const qc_stats *s;
    const qc_quantize_options *o;
    qc_range_params range; /* o->range, with the bits of entropy and mse = act_bits (Q3) */
    qc_error *err;
    qc_graph *ng;
    qz_tensor *tens;       /* g->n_tensors records */
    qz_node *nodes;        /* g->n_nodes records */
    qc_quantize_options *node_o; /* g->n_nodes: each node's options, overrides applied */
    bool signed_act;       /* all activations int8 (QOperator with SymLowP, rule Q9; the
                              tensorrt target, Q16) */
    qc_quantize_report *rep;
};

/* ---- shared helpers ---- */

bool qz_is_op(const qc_node *n, const char *op);
bool qz_is_activation(const qc_graph *g, int t); /* float, computed at run time */
bool qz_is_float_const(const qc_graph *g, int t);
int qz_root(const qz *q, int t);
/* The options of node i, and of the node writing tensor t (the one a Relu/Clip writing t
 * is fused into); the globals for the graph's inputs and constants. */
const qc_quantize_options *qz_node_options(const qz *q, int i);
const qc_quantize_options *qz_tensor_options(const qz *q, int t);
/* The tensor node i writes in the quantized graph (the fused activation's output). */
int qz_node_output(const qz *q, int i);
qc_status qz_oom(qz *q);
qc_status qz_report_add(qz *q, const char *tensor, const char *role, int n_channels, float lo,
                        float hi, const qc_qparams *params, int bits);

/* Bias correction (bias-correction.c, eq. Q15): out = bias − the mean error the quantized
 * weights wt of node n add to each of its m output channels, from the statistics of its input.
 * false (out untouched) when it does not apply: another op, no statistics of the input. */
bool qz_correct_bias(const qz *q, const qc_node *n, int wt, const float *bias, int64_t m, float *out);

/* The layers bias correction handles: Conv (1 to 3 spatial dimensions) and Gemm on a 2-D
 * input without transA, alpha or beta; their shapes from the graph's static ones. */
#define QZ_BIAS_MAX_DIMS 3
typedef struct {
    bool conv, trans;           /* trans: weights w[c][j…] (Conv, Gemm transB), else w[j][c] */
    int64_t cout, cin_g, group, cin, taps;
    int sp;                     /* Conv: spatial dimensions */
    int64_t in[QZ_BIAS_MAX_DIMS], out[QZ_BIAS_MAX_DIMS], k[QZ_BIAS_MAX_DIMS];
    int64_t stride[QZ_BIAS_MAX_DIMS], dil[QZ_BIAS_MAX_DIMS], begin[QZ_BIAS_MAX_DIMS]; /* begin: padding */
} qz_bias_layer;
bool qz_bias_layer_of(const qc_graph *g, const qc_node *n, qz_bias_layer *l);

/* ---- building the new graph (quantize-graph.c) ---- */

/* The weight (input 1) of Conv, Gemm or MatMul node n of g as [outer][channels][inner], the
 * channels its output channels (Q7). */
void qz_weight_shape(const qc_graph *g, const qc_node *n, int64_t *outer, int64_t *ch, int64_t *inner);
/* Copies every attribute of src onto dst (QC_ERR_IO out of memory). */
qc_status qz_copy_node_attrs(qc_node *dst, const qc_node *src);

/* The plain copy of FP32 tensor t in ng (a constant copied on first use); -1 out of memory. */
int qz_plain(qz *q, int t);
/* QOperator: the integer version of activation t, quantizing its float one on first use. */
int qz_q_of(qz *q, int t);
/* Scale and zero point constants of activation t (its root's parameters). */
qc_status qz_act_consts(qz *q, int t, int *s, int *z);
/* Quantized weight (input 1) and bias (input 2) of node n reading activation x: the tensors
 * to read in ng for the output format. */
qc_status qz_quantize_weight(qz *q, const qc_node *n, qz_weights k, int *wi, int *ws, int *wz);
qc_status qz_quantize_bias(qz *q, const qc_node *n, int x, int wt, int *bi);
/* Constant operand t (QZ_WEIGHTS_OPERAND): *ti the tensor to read in ng, *s and *z its scale
 * and zero point (-1 in FakeQuantize). */
qc_status qz_quantize_operand(qz *q, int t, int *ti, int *s, int *z);
/* QDQ / FakeQuantize: QuantizeLinear → DequantizeLinear after activation t. */
qc_status qz_emit_qdq(qz *q, int t);
/* The FP32 graph's input t, its node i as it is (QDQ, FakeQuantize: weights replaced), node
 * i as its integer operator (QOperator), the graph's output t. */
qc_status qz_emit_input(qz *q, int t);
qc_status qz_emit_float_node(qz *q, int i);
qc_status qz_emit_qop_node(qz *q, int i);
qc_status qz_emit_output(qz *q, int t);

#endif
