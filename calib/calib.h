/* calib.h — turning statistics into quantization parameters, and the quantizer.
 *
 * Quantization parameters ("qparams", the seeds' quantized builders) map a real range onto
 * b-bit integers: r = scale · (q − zero_point). Two schemes (docs/qparams.md):
 *
 *   GemmLowP  asymmetric: the range is widened to contain 0, and the zero point is nudged to
 *             an integer so that real 0.0 is exactly representable (uint8 by default);
 *   SymLowP   zero point 0: int8 symmetric [−a, a], or uint8 from 0 for a range that is
 *             non-negative (after a ReLU).
 *
 *     qc_qparams x, y, w[64];                             // input, output, weights
 *     qc_qparams_activation(-1.0f, 3.0f, QC_SCHEME_GEMMLOWP, 8, false, "conv1_in", &x, &err);
 *     qc_qparams_activation(0.0f, 6.0f, QC_SCHEME_GEMMLOWP, 8, false, "conv1_out", &y, &err);
 *     qc_qparams_weights(weights, 1, 64, 27, true, QC_SCHEME_SYMLOWP, 8, false, "conv1.w",
 *                        w, &err);                       // 64 output channels of 27 weights
 *     int32_t b0 = qc_bias_quantize(bias[0], x.scale, w[0].scale);
 *     int32_t m0, shift0;                                 // → qc_requant (kernels/int8)
 *     qc_quantize_multiplier((double)x.scale * w[0].scale / y.scale, &m0, &shift0, &err);
 *
 * Everything here is pure: no allocation, no I/O. The scalar quantize/dequantize functions
 * are the reference the INT8 kernels (kernels/int8) are checked against.
 */
#ifndef QCAL_CALIB_H
#define QCAL_CALIB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "graph/graph.h"
#include "stats/stats.h"

/* ---- quantization parameters (calib/qparams.c, docs/qparams.md) ---------------------- */

typedef enum {
    QC_SCHEME_GEMMLOWP = 0, /* asymmetric, nudged zero point */
    QC_SCHEME_SYMLOWP = 1,  /* zero point 0 */
    QC_SCHEME_MIXED = 2,    /* weights SymLowP (int8, zero point 0), activations GemmLowP
                               (uint8 asymmetric): OpenVINO's "mixed", ONNX Runtime's U8S8 */
} qc_scheme;
#define QC_SCHEME_COUNT 3

/* The scheme a role is quantized with: the one given, except that mixed is SymLowP for
 * weights and GemmLowP for activations. qc_qparams_weights and qc_qparams_activation apply
 * them, so every caller may pass any scheme. */
qc_scheme qc_scheme_for_weights(qc_scheme scheme);
qc_scheme qc_scheme_for_activations(qc_scheme scheme);

/* Rounding of x / scale to an integer (eqs. P11a–i): nGraph's nine Quantize round modes,
 * named after it in the comments. */
typedef enum {
    QC_ROUND_HALF_EVEN = 0,        /* nearest, ties to even: ONNX's, the default
                                      (ROUND_NEAREST_TOWARD_EVEN) */
    QC_ROUND_HALF_AWAY = 1,        /* nearest, ties away from zero, C's round
                                      (ROUND_NEAREST_TOWARD_INFINITY) */
    QC_ROUND_TOWARD_ZERO = 2,      /* truncate (ROUND_TOWARD_ZERO) */
    QC_ROUND_UP = 3,               /* ceil (ROUND_UP) */
    QC_ROUND_DOWN = 4,             /* floor (ROUND_DOWN) */
    QC_ROUND_HALF_TOWARD_ZERO = 5, /* nearest, ties toward zero (ROUND_NEAREST_TOWARD_ZERO) */
    QC_ROUND_HALF_UP = 6,          /* nearest, ties toward +inf (ROUND_NEAREST_UPWARD) */
    QC_ROUND_HALF_DOWN = 7,        /* nearest, ties toward -inf (ROUND_NEAREST_DOWNWARD) */
    QC_ROUND_AWAY_FROM_ZERO = 8,   /* away from zero (ROUND_TOWARD_INFINITY) */
} qc_round_mode;
#define QC_ROUND_COUNT 9

#define QC_BITS_MIN 2
#define QC_BITS_MAX 8

/* How many sets of parameters a tensor has. Weights: per tensor, or per output channel.
 * Activations: per tensor, or compensated (one scale per channel along axis 1, folded into
 * the weights of the layers reading them, rule Q14). */
typedef enum {
    QC_GRANULARITY_TENSOR = 0,      /* one set */
    QC_GRANULARITY_CHANNEL = 1,     /* one set per channel */
    QC_GRANULARITY_COMPENSATED = 2, /* per channel, folded into the next layer's weights */
} qc_granularity;

/* r = scale · (q − zero_point) for q in [qmin, qmax] (eq. P1). A b-bit tensor is stored in an
 * 8-bit container (int32 for biases); qmin and qmax say which part of it is used. */
typedef struct {
    float scale;        /* > 0, finite, normal */
    int32_t zero_point; /* in [qmin, qmax]; 0 for SymLowP and for biases */
    int32_t qmin, qmax; /* qmin < 0 means a signed container (int8 / int32) */
} qc_qparams;

/* Activation (or any tensor given by a range): min and max are the statistics' extremes.
 *   GemmLowP: is_signed_hint false (default) → [0, 2^b−1] (uint8); true → [−2^(b−1),
 *             2^(b−1)−1] (int8, as TFLite); zero point nudged either way (eqs. P5–P8).
 *   SymLowP:  zero point 0. is_signed_hint false (default) → [0, 2^b−1] when min ≥ 0,
 *             else signed [−2^(b−1), 2^(b−1)−1] with scale a / (2^(b−1)−1), a = max(|min|,
 *             |max|); true → signed even when min ≥ 0 (eqs. P9a–b).
 * A zero-width range after widening (all-zero tensor) gets scale 1, zero point 0 (eq. P10).
 * Errors (QC_ERR_INPUT, naming `tensor`): bits outside 2..8, NaN or infinite min or max,
 * min > max, a range too wide for a finite scale. */
qc_status qc_qparams_activation(float min, float max, qc_scheme scheme, int bits,
                                bool is_signed_hint, const char *tensor, qc_qparams *out,
                                qc_error *err);

/* Weights w, seen as [outer][channels][inner] contiguous; channel c is output channel c:
 * ONNX Conv [M][C/g][kH][kW] and Gemm with transB are (1, M, rest), MatMul [K][N] is (K, N, 1).
 * granularity: QC_GRANULARITY_TENSOR one set in out[0]; otherwise (channel, or the weights of
 * a compensated input, which are per channel too) out[c] for each of the `channels` channels.
 *   SymLowP:  narrow signed [−(2^(b−1)−1), 2^(b−1)−1], scale a / qmax (int8, eq. P9c);
 *   GemmLowP: [0, 2^b−1] with a nudged zero point (uint8, eqs. P5–P8).
 * reduce_range (as ONNX Runtime, weights only; eq. P3): SymLowP [−2^(b−2), 2^(b−2)]
 * ([−64, 64] at 8 bits), GemmLowP [0, 2^(b−1)−1] ([0, 127]).
 * A channel (or tensor) with no elements or only zeros gets scale 1, zero point 0 (eq. P10).
 * Errors (QC_ERR_INPUT, naming `tensor` and the element): NaN or infinite weights, bits
 * outside 2..8, negative sizes. */
qc_status qc_qparams_weights(const float *w, int64_t outer, int64_t channels, int64_t inner,
                             qc_granularity granularity, qc_scheme scheme, int bits,
                             bool reduce_range, const char *tensor, qc_qparams *out,
                             qc_error *err);

/* Bias of a layer with input scale s_x and weight scale s_w: int32, scale fl(s_x · s_w)
 * (a single-precision product, the scale written with the bias), zero point 0, qmin/qmax
 * the whole int32 range (eq. P15). */
qc_qparams qc_qparams_bias(float s_x, float s_w);

/* ---- rounding, quantize, dequantize (scalar references) ------------------------------ */

/* x rounded to an integer-valued float (eqs. P11a–i); NaN and ±Inf are returned unchanged.
 * Exact for every float (no x + 0.5 in float), and independent of the floating-point
 * environment's rounding mode. The sign of a zero result is not specified. */
float qc_round(float x, qc_round_mode mode);

/* q = clamp(round(fl(x / scale)) + z, qmin, qmax), an IEEE single-precision division as ONNX
 * QuantizeLinear; NaN gives z (eq. P12). */
int32_t qc_quantize_value(float x, const qc_qparams *p, qc_round_mode mode);
/* r = fl(q − z) · scale, in single precision (eq. P13) */
float qc_dequantize_value(int32_t q, const qc_qparams *p);
/* FakeQuantize: dequantize(quantize(x)) (eq. P14) */
float qc_fake_quantize(float x, const qc_qparams *p, qc_round_mode mode);

/* Arrays seen as [outer][channels][inner] contiguous, channel c using p[c] (per tensor:
 * channels = 1, or outer = 1, channels = 1, inner = count). */
void qc_quantize_array(int64_t outer, int64_t channels, int64_t inner, const float *x,
                       const qc_qparams *p, qc_round_mode mode, int32_t *q);
void qc_dequantize_array(int64_t outer, int64_t channels, int64_t inner, const int32_t *q,
                         const qc_qparams *p, float *x);

/* Bias b → int32 = clamp(round_half_even(b / fl(s_x · s_w)), −2^31, 2^31−1), the division in
 * double precision; NaN gives 0, ±Inf and overflow saturate (eq. P15). */
int32_t qc_bias_quantize(float b, float s_x, float s_w);
/* n biases; w holds n weight qparams unless the weights' granularity is per tensor (1) */
void qc_bias_quantize_array(int64_t n, const float *b, float s_x, const qc_qparams *w,
                            qc_granularity weights, int32_t *q);

/* ---- requantization multiplier ------------------------------------------------------- */

/* M (> 0, e.g. s_x · s_w / s_y) as multiplier · 2^−shift with multiplier in [2^30, 2^31) and
 * shift the TOTAL right shift in [1, 62]: exactly the fields of kernels/int8's qc_requant
 * (gemmlowp's right shift is shift − 31; M ≥ 1 just has shift ≤ 30). Computed from doubles
 * as TFLite's QuantizeMultiplier (frexp, round half away, the 2^31 carry), so the value
 * represented is within 2^−31 · M of M (eqs. P16–P17). Representable: 2^−32 ≤ M and
 * rounded M < 2^30; anything else (and NaN, Inf, M ≤ 0) is QC_ERR_INPUT. */
qc_status qc_quantize_multiplier(double m, int32_t *multiplier, int32_t *shift, qc_error *err);

/* ---- names (for flags, metadata and reports) ------------------------------------------ */

const char *qc_scheme_name(qc_scheme scheme);           /* "gemmlowp", "symlowp", "mixed" */
bool qc_scheme_parse(const char *name, qc_scheme *out); /* false for an unknown name */
/* "half-even", "half-away", "toward-zero", "up", "down", "half-toward-zero", "half-up",
 * "half-down", "away-from-zero" */
const char *qc_round_mode_name(qc_round_mode mode);
/* nGraph's name of the mode: "ROUND_NEAREST_TOWARD_EVEN", … */
const char *qc_round_mode_ngraph_name(qc_round_mode mode);
/* qcal's names, and nGraph's (any case) as aliases; false for an unknown name */
bool qc_round_mode_parse(const char *name, qc_round_mode *out);
/* "tensor", "channel", "compensated" */
const char *qc_granularity_name(qc_granularity g);
bool qc_granularity_parse(const char *name, qc_granularity *out);
/* What one granularity word means for the weights (tensor, else channel) and for the
 * activations (compensated, else tensor). */
qc_granularity qc_granularity_weights(qc_granularity g);
qc_granularity qc_granularity_activations(qc_granularity g);
/* "half-even, half-away, …, away-from-zero": the names, for usage messages */
#define QC_ROUND_MODE_LIST                                                                    \
    "half-even, half-away, toward-zero, up, down, half-toward-zero, half-up, half-down, "     \
    "away-from-zero"


/* ---- the quantizer (calib/quantize.c, docs/qparams.md "The quantizer") ----------------- */

typedef enum { QC_FORMAT_QDQ = 0, QC_FORMAT_QOPERATOR = 1, QC_FORMAT_FAKEQUANT = 2 } qc_qformat;

/* Who runs the file (rule Q16). generic: any runtime, every op with a row quantized.
 * tensorrt: TensorRT's explicit quantization, QDQ only: int8 activations and weights with
 * zero point 0 (SymLowP, activations signed even after a ReLU), and QuantizeLinear →
 * DequantizeLinear only on the inputs of Conv, Gemm and MatMul (TensorRT fuses the rest and
 * propagates the scales itself). */
typedef enum { QC_TARGET_GENERIC = 0, QC_TARGET_TENSORRT = 1 } qc_target;

/* Bias correction (rule Q15): none; analytic, from the statistics' FP32 input means; or
 * empirical, from the quantized network's own inputs measured on calibration images
 * (qc_bias_measure, whose result the options carry). */
typedef enum { QC_BIAS_NONE = 0, QC_BIAS_ANALYTIC = 1, QC_BIAS_EMPIRICAL = 2 } qc_bias_mode;
const char *qc_bias_mode_name(qc_bias_mode m); /* "none", "analytic", "empirical" */
bool qc_bias_mode_parse(const char *name, qc_bias_mode *out);

/* What the empirical mode measured: per FP32 node, the mean over the images and output
 * positions of the quantized input each weight tap reads (C_in x taps values, zero padding
 * included), or NULL where nothing was measured (that bias is left as it is). */
typedef struct {
    double **tap_means; /* n_nodes entries */
    int n_nodes;
    int64_t images;     /* how many images the means are over */
    int passes;         /* runs over the images it took (layers in topological order) */
} qc_bias_measurement;
#define QC_TARGET_COUNT 2

/* Which node an override applies to; also its precedence, lowest first: an override by name
 * beats one by pattern, which beats one by op type, which beats the globals; among overrides
 * of the same kind the later wins. */
typedef enum {
    QC_MATCH_OP = 0,      /* the op type (default domain), e.g. "Conv" */
    QC_MATCH_PATTERN = 1, /* a glob on the node name (fnmatch: *, ?, [...]) */
    QC_MATCH_NAME = 2,    /* the node name, exactly */
} qc_match_kind;

/* The settings an override sets (qc_node_override.set). */
enum {
    QC_SET_SCHEME = 1u << 0,
    QC_SET_WEIGHT_BITS = 1u << 1,
    QC_SET_ACT_BITS = 1u << 2,
    QC_SET_GRANULARITY = 1u << 3, /* of the weights: tensor or channel */
    QC_SET_ROUND = 1u << 4,
    QC_SET_ACT_ROUND = 1u << 5,
    QC_SET_METHOD = 1u << 6,
    QC_SET_N_STD = 1u << 7,
    QC_SET_PERCENTILE = 1u << 8,
    QC_SET_REDUCE_RANGE = 1u << 9,
    QC_SET_EXCLUDE = 1u << 10,
};

/* Settings for the nodes one match selects. A node's weights and bias take its settings;
 * its output (and the activations that share the output's parameters) take those of the
 * node writing them; the graph's inputs take the globals. A weight read by two nodes is
 * quantized once, with the settings of the first. */
typedef struct {
    qc_match_kind match;
    const char *value;        /* the op type, pattern or name (not owned) */
    unsigned set;             /* QC_SET_* of the fields below that apply */
    qc_scheme scheme;
    int weight_bits, act_bits;
    qc_granularity weights;
    qc_round_mode round, act_round;
    qc_range_method method;
    double n_std, percentile;
    bool reduce_range, exclude;
} qc_node_override;

typedef struct {
    qc_scheme scheme;
    qc_granularity weights;     /* tensor or channel (per output channel) */
    int weight_bits, act_bits;  /* 2..8 */
    bool reduce_range;          /* 7-bit weights (eq. P3) */
    qc_round_mode round;        /* rounding of the weights (biases: half-even, eq. P15) */
    qc_round_mode act_round;    /* rounding of the activations: half-even (QuantizeLinear's)
                                   in every format, any mode in fakequant (eq. P14a) */
    qc_range_method method;     /* activation ranges, from stats/stats.h */
    qc_range_params range;      /* n_std and percentile; its bits are not read: entropy
                                   and mse take act_bits, the width the ranges are for */
    qc_qformat format;
    const char *const *exclude; /* node names kept FP32 */
    int n_exclude;
    qc_granularity activations; /* tensor, or compensated: per-channel activation scales
                                   folded into the next layer's weights (rule Q14); needs
                                   per-channel statistics */
    qc_bias_mode bias_correction; /* Conv and Gemm biases less the mean error of their
                                   quantized weights (rule Q15) */
    const qc_bias_measurement *bias_measured; /* the empirical mode's input means (not owned) */
    qc_target target;           /* generic, or tensorrt (rule Q16) */
    const qc_node_override *overrides; /* per-node settings over these (not owned) */
    int n_overrides;
    const struct qc_auto_choice *auto_choices; /* --method auto: each listed tensor's range
                                   method and parameters, over `method` (not owned) */
    int n_auto_choices;
} qc_quantize_options;

/* gemmlowp, per tensor, 8/8 bits, half-even (weights and activations), minmax, qdq, nothing
 * excluded */
void qc_quantize_options_default(qc_quantize_options *o);

/* Empirical bias correction (bias-empirical.c, eq. Q15b): runs the model quantized as o says
 * (FakeQuantize, the same parameters) over the inputs of in, and measures, for every Conv and
 * Gemm with a bias that o quantizes, the mean of the quantized input it reads per weight tap.
 * Layers in topological order: a layer is measured once every corrected layer before it has
 * its correction, so each pass measures the layers whose predecessors are all done. The
 * sums are per input, added in input order: the same means for any threads and batch.
 * run: limit, batch, threads. Free *out with qc_bias_measurement_free. */
qc_status qc_bias_measure(const qc_graph *fp32, const qc_stats *s, const qc_quantize_options *o,
                          const qc_pass_inputs *in, const qc_gather_options *run, qc_bias_measurement *out,
                          qc_error *err);
void qc_bias_measurement_free(qc_bias_measurement *m);
const char *qc_qformat_name(qc_qformat f);            /* "qdq", "qoperator", "fakequant" */
bool qc_qformat_parse(const char *name, qc_qformat *out);
const char *qc_target_name(qc_target t);              /* "generic", "tensorrt" */
bool qc_target_parse(const char *name, qc_target *out);
/* The options node n is quantized with: o's globals with every override matching n laid
 * over in precedence order (qc_match_kind), overrides cleared. */
void qc_quantize_options_for_node(const qc_quantize_options *o, const qc_node *n, qc_quantize_options *out);

/* ---- quantization configs (calib/config.c, README "Quantization configs") -------------
 *
 * A JSON file of global settings and per-node overrides:
 *
 *     {"preset": "mixed", "bits": 8, "method": "percentile", "percentile": 99.99,
 *      "exclude": ["head"],
 *      "overrides": [{"match": {"op": "Conv"}, "granularity": "channel"},
 *                    {"match": {"pattern": "layer1.*"}, "weight_bits": 6, "act_bits": 6}]}
 *
 * Keys are checked strictly: an unknown key, a wrong type or a value out of range is an
 * error naming the key and the file. A preset sets the scheme, granularity and target before
 * the file's other settings (qc_preset_apply). */
#define QC_CONFIG_MAX_BYTES (1 << 20)  /* larger files are refused */
#define QC_CONFIG_MAX_ENTRIES 4096     /* overrides, and names in exclude */
#define QC_CONFIG_MAX_STRING 1024      /* bytes of a name, pattern or op type */

/* Presets (OpenVINO's DefaultQuantization presets, and the schemes of the seeds):
 *   performance  symlowp, weights per channel (symmetric weights and activations)
 *   mixed        mixed, weights per channel (symmetric weights, asymmetric activations)
 *   gemmlowp     gemmlowp, weights per tensor (asymmetric everything)
 *   symlowp      symlowp, weights per tensor (zero point 0 everywhere)
 *   tensorrt     symlowp, weights per channel, target tensorrt (rule Q16)
 * Only those settings change; false for an unknown name. */
bool qc_preset_apply(const char *name, qc_quantize_options *o);
#define QC_PRESET_LIST "performance, mixed, gemmlowp, symlowp, tensorrt"

/* A config as read: the options it gives and the strings they point to. */
typedef struct {
    qc_quantize_options options;   /* exclude and overrides point into this config */
    char **exclude;                /* owned, n_exclude */
    qc_node_override *overrides;   /* owned, n_overrides; their values owned too */
} qc_config;

/* Reads path over base (the defaults, say) into *out. Errors: unreadable (QC_ERR_IO), not
 * JSON, too large, an unknown key or preset, a bad value (QC_ERR_INPUT, the message naming
 * the file and the key). *out is left empty on error. */
qc_status qc_config_load(const char *path, const qc_quantize_options *base, qc_config *out, qc_error *err);
/* The same from text (len bytes, not NUL-terminated); name is the file named in messages. */
qc_status qc_config_parse(const char *text, size_t len, const char *name, const qc_quantize_options *base,
                          qc_config *out, qc_error *err);
void qc_config_free(qc_config *c);
/* quantize's --config path, then --preset, then --target (each NULL when not given) over
 * *q, in that order whatever the command line's; an unknown preset or target is
 * QC_ERR_USAGE naming its option. */
qc_status qc_config_apply(const char *path, const char *preset, const char *target, qc_quantize_options *q,
                          qc_config *config, qc_error *err);
/* Options o as a config (JSON, every global written, overrides as given, no preset): reading
 * it back gives the same options, hence the same model. NULL when out of memory; free(). */
char *qc_config_json(const qc_quantize_options *o);
/* The same, written atomically to path (QC_ERR_IO when it cannot be). */
qc_status qc_config_write(const qc_quantize_options *o, const char *path, qc_error *err);

/* What was quantized, for tables and reports: one entry per quantized tensor. */
typedef struct {
    char *tensor;       /* owned */
    const char *role;   /* "input", "activation", "weight", "bias" */
    int n_channels;     /* 1 per tensor; activations have several under input compensation */
    float min, max;     /* the range used (channel 0 when per channel) */
    qc_qparams *params; /* owned, n_channels entries */
    int bits;
    bool compensated;   /* weights times their input's channel scales (Q14): the range and
                           the parameters are those of the compensated values */
    int axis;           /* per-channel weights: the axis of the channels in the tensor; −1 */
    char *range_of;     /* owned: activations, the tensor whose statistics gave the range (it,
                           or the one it shares parameters with); NULL for the others */
} qc_quantized_tensor;
typedef struct {
    int n;
    qc_quantized_tensor *tensors;
    int n_nodes;
    char **nodes;       /* owned: the nodes quantized, by the names --exclude takes, in
                           graph order (a Relu or Clip fused into one is not listed) */
} qc_quantize_report;

/* fp32: a prepared graph with BatchNorm folded; stats: matching it (checked with
 * qc_stats_check_model, hash not compared). *out: a new graph, complete (static dtypes and
 * shapes filled in, producers indexed) but NOT prepared, which qc_onnx_save writes as it is.
 * It is left unprepared on purpose: qc_graph_prepare folds constant subgraphs, and the
 * DequantizeLinear of a constant weight is one, so a prepared graph would hold float weights
 * again. To run it, prepare it (or save and load it); a fusion pass that wants the integer
 * weights must see the graph before that folding.
 * Errors: bits outside 2..8, qoperator with act_bits < 8, act_round other than half-even
 * outside fakequant, an exclude name that matches no node, input compensation with qoperator or from statistics without per-channel values:
 * QC_ERR_USAGE. Statistics of another model or without a tensor, NaN/Inf weights
 * (naming the tensor): QC_ERR_INPUT. report may be NULL. */
qc_status qc_quantize(const qc_graph *fp32, const qc_stats *stats, const qc_quantize_options *o,
                      qc_graph **out, qc_quantize_report *report, qc_error *err);
void qc_quantize_report_free(qc_quantize_report *r);

/* ---- ranges for other tools (calib/ranges-export.c, docs/qparams.md "Ranges for other tools")
 *
 * The activation ranges and parameters of a qc_quantize report, in the files other tools
 * read instead of calibrating themselves. Both are written atomically (io/: a temporary file
 * renamed at the end, removed on error or on a signal). */

/* TensorRT's INT8 calibration cache (text): a header "TRT-8601-EntropyCalibration2" (entropy
 * ranges) or "TRT-8601-MinMaxCalibration" (every other method), then per quantized input and
 * activation "name: hhhhhhhh", the big-endian hex of the float32 scale amax / 127 with
 * amax = max(|min|, |max|) of the range qcal used (SymLowP int8, eq. P9a; zero point 0).
 * Errors: a tensor name with a line break (QC_ERR_INPUT), I/O (QC_ERR_IO). */
qc_status qc_trt_cache_write(const qc_quantize_report *r, qc_range_method method, const char *path,
                             qc_error *err);
/* ONNX Runtime's TensorQuantOverrides (JSON, for quantize_static's extra_options): per quantized
 * input, activation and weight, a list of {"scale", "zero_point", "quant_type": "QUInt8" |
 * "QInt8"}: one entry per tensor, or one per channel with "axis" for per-channel weights.
 * Biases are left out (ONNX Runtime derives them from input and weight scales as qcal does).
 * Errors: I/O (QC_ERR_IO). */
qc_status qc_ort_overrides_write(const qc_quantize_report *r, const char *path, qc_error *err);
/* Why the parameters of options o cannot be written in that file (a sentence for a usage
 * error), or NULL when they can: TensorRT takes 8-bit activations, ONNX Runtime 8-bit
 * activations and weights, and neither a scale per activation channel (input compensation). */
const char *qc_trt_cache_unsupported(const qc_quantize_options *o);
const char *qc_ort_overrides_unsupported(const qc_quantize_options *o);
/* The files of one quantization: the range files asked for, then the model (its metadata
 * qcal.version and, for an image model, qcal.model_card: the card with the preprocessing the
 * statistics were gathered with, so the file describes itself), then the card of source
 * copied beside it (or, when the preprocessing flags changed it, the card written there). A
 * failure removes every file this call wrote (never one it did not), so a run leaves all its
 * outputs or none. copied and card_target as qc_model_card_copy gives them. */
typedef struct {
    const char *model;                              /* the quantized model's path */
    const char *source;                             /* the FP32 model's path */
    const char *version;                            /* qcal.version */
    const qc_model_card *card;                      /* NULL: not an image model, no card inside */
    const qc_preprocess *pp;                        /* with card */
    bool card_changed;                              /* the card file is card with pp, not a copy */
    const char *trt_cache, *ort_overrides, *config; /* NULL: not written */
} qc_quantize_files;
qc_status qc_quantize_write(qc_graph *qg, const qc_quantize_report *r, const qc_quantize_options *o,
                            const qc_quantize_files *f, qc_card_copy *copied, char *card_target,
                            size_t target_size, qc_error *err);

/* ---- error metrics (calib/metrics.c) --------------------------------------------------- */

/* A quantized tensor (dequantized) against its FP32 reference, over one or many samples.
 * Sums are doubles in element order, a sample at a time: the same samples added (or
 * accumulators merged) in the same order give the same bits. Pairs where either value is
 * NaN or infinite are counted apart and left out of the sums.
 *
 *     qc_error_acc a; qc_error_acc_init(&a);
 *     for each image, in image order: qc_error_acc_add(&a, fp32, dequantized, n);
 *     qc_error_metrics m; qc_error_acc_finish(&a, &m);     // m.sqnr_db, m.cosine, …
 */
typedef struct {
    int64_t count;       /* finite pairs in the sums */
    int64_t nonfinite;   /* pairs left out */
    int64_t samples;     /* qc_error_acc_add calls */
    double sum_ref2;     /* Σ r² */
    double sum_q2;       /* Σ q² */
    double sum_err2;     /* Σ (r − q)² */
    double sum_dot;      /* Σ r·q */
    double max_abs_err;  /* max |r − q| */
} qc_error_acc;

typedef struct {
    int64_t count, nonfinite;
    double sqnr_db;      /* 10·log10(Σr² / Σ(r−q)²): +inf when equal (all-zero too), −inf
                            when the reference is all zero and q is not */
    double cosine;       /* Σrq / (|r|·|q|) in [−1, 1]; 1 for two zero vectors, 0 for one */
    double max_abs_err;
    double mse;          /* Σ(r−q)² / count; 0 without values */
} qc_error_metrics;

void qc_error_acc_init(qc_error_acc *a);
/* Adds one sample of n pairs. */
void qc_error_acc_add(qc_error_acc *a, const float *ref, const float *q, int64_t n);
void qc_error_acc_merge(qc_error_acc *dst, const qc_error_acc *src); /* dst += src */
void qc_error_acc_finish(const qc_error_acc *a, qc_error_metrics *m);
/* 10·log10(signal / noise) with the conventions of qc_error_metrics.sqnr_db */
double qc_sqnr_db(double signal, double noise);

/* Which integer codes a tensor's values quantize to under qparams p ([outer][channels][inner]
 * as qc_quantize_array), and how many were clipped: their unclamped code round(fl(x / s)) + z
 * fell outside [qmin, qmax] (eq. P12). NaN maps to the zero point and is not clipped. */
#define QC_CODE_HIST_MAX 65536 /* widest code range counted (16 bits) */
typedef struct {
    int32_t qmin, qmax;
    int64_t count;                     /* values added */
    int64_t clipped_low, clipped_high; /* below qmin, above qmax */
    int64_t *codes;                    /* owned: qmax − qmin + 1 counts, code qmin first */
} qc_code_hist;

/* Errors: a range wider than QC_CODE_HIST_MAX codes or inverted (QC_ERR_INPUT, naming
 * tensor), out of memory (QC_ERR_IO). */
qc_status qc_code_hist_init(qc_code_hist *h, int32_t qmin, int32_t qmax, const char *tensor,
                            qc_error *err);
void qc_code_hist_free(qc_code_hist *h);
void qc_code_hist_add(qc_code_hist *h, int64_t outer, int64_t channels, int64_t inner,
                      const float *x, const qc_qparams *p, qc_round_mode mode);
/* dst += src; both must count the same range (QC_ERR_INPUT otherwise). */
qc_status qc_code_hist_merge(qc_code_hist *dst, const qc_code_hist *src, qc_error *err);
double qc_code_hist_clipped(const qc_code_hist *h);  /* clipped / count; 0 when empty */
int64_t qc_code_hist_distinct(const qc_code_hist *h); /* codes met at least once */
double qc_code_hist_used(const qc_code_hist *h);     /* distinct / (qmax − qmin + 1) */

/* KL(P ‖ Q) in nats of P = softmax(ref) and Q = softmax(q), n logits each, in double with
 * the maximum subtracted first: how far quantized logits are from FP32 without labels.
 * 0 for n < 1, NaN when a logit is not finite. */
double qc_kl_softmax(const float *ref, const float *q, int n);
/* KL(P ‖ Q) of two outputs that are already probabilities (a model ending in Softmax, whose
 * softmax again would flatten both to near-uniform and read ~1e-8 whatever happens): each
 * vector floored at QC_KL_FLOOR and renormalised, so a class the quantized model rounds to 0
 * counts as a large, finite divergence. 0 for n < 1, NaN when a value is not finite or
 * negative. */
#define QC_KL_FLOOR 1e-8
double qc_kl_probabilities(const float *ref, const float *q, int n);
/* Whether output `output` of g is a probability vector: produced by Softmax. */
bool qc_output_is_probabilities(const qc_graph *g, int output);

/* ---- a model over inputs: predictions, time, per-layer error (evaluate*.c) ------------------ */

int qc_argmax(const float *x, int n); /* the first maximum */
/* Indices of the k largest of x[0..n), largest first; ties go to the lower index. */
void qc_top_k(const float *x, int n, int k, int *top);

/* g's single float input, its first dimension the batch: its shape, the values of one sample,
 * and whether the batch is fixed (not symbolic). QC_ERR_INPUT naming path otherwise. */
qc_status qc_eval_batch_input(const qc_graph *g, const char *path, int *rank, int64_t *dims, int64_t *per_sample,
                              bool *fixed_batch, qc_error *err);
/* n values in [-1, 1) from seed (xorshift32): inputs whose values do not matter, as for timing. */
void qc_eval_random(float *x, int64_t n, uint32_t seed);

/* One input's result, given to the sink in input order. */
typedef struct {
    int64_t index;         /* in the inputs */
    qc_status status;      /* QC_OK; or, with keep_unreadable, why the image could not be read */
    const qc_error *err;   /* when status is not QC_OK */
    const float *logits;   /* when status is QC_OK: the classes scores */
} qc_eval_result;
typedef qc_status (*qc_eval_sink)(void *ctx, const qc_eval_result *r, qc_error *err);
/* A sink that stores each input's scores at row index of logits (n × classes). */
typedef struct {
    float *logits;
    int classes;
} qc_logits_store;
qc_status qc_eval_store_logits(void *ctx, const qc_eval_result *r, qc_error *err); /* ctx: qc_logits_store */

typedef struct {
    qc_gather_options run;  /* limit, batch (inputs per step), threads, progress; no shards */
    bool keep_unreadable;   /* an image that cannot be read goes to the sink, not an error */
    qc_eval_sink sink;      /* may return an error to stop */
    void *sink_ctx;
    int output;             /* the scores' output, an index into g->outputs (qc_image_input.output) */
} qc_eval_options;

/* Runs g (its output o->output: `classes` float scores) over the inputs, each alone on one of
 * the threads, and gives each input's scores to o->sink in input order: the same calls
 * whatever the threads and the batch. */
qc_status qc_eval_logits(const qc_graph *g, const qc_pass_inputs *in, int classes, const qc_eval_options *o,
                         qc_error *err);
/* Top-1 and top-5 over inputs, as qcal eval counts them (top-5: top-k of the classes when fewer). */
#define QC_EVAL_TOP_K 5
typedef struct {
    int64_t images, labelled, top1, top5;
} qc_topk_counts;
/* One input's scores counted (label < 0: none); returns its top-1 class. */
int qc_topk_count(qc_topk_counts *c, const float *logits, int classes, int label);
/* ---- the models a command opens (model-load.c) ---- */
/* A constant for a model input other than the image: the .npy file bound to the input named
 * by the name_len bytes at name. */
typedef struct {
    const char *name;
    size_t name_len;
    const char *file;
} qc_input_binding;
/* "NAME=FILE.npy" (text, which the binding points into) appended to list[0..*n); false when
 * malformed, NAME is already bound or the list holds max. */
bool qc_input_binding_add(qc_input_binding *list, int *n, int max, const char *text);
/* Loads the ONNX model at path into *g: BatchNorm folded, and with fuse its QDQ patterns
 * fused into integer ops (a model to run as it is; not one to quantize or observe for
 * statistics), each of inputs bound (qc_npy_bind_input). hash, when not NULL, gets the
 * FNV-1a of the file that statistics record. On error *g may be set: qc_graph_destroy it. */
qc_status qc_model_load(const char *path, bool fuse, const qc_input_binding *inputs, int n_inputs, qc_graph **g,
                        uint64_t *hash, qc_error *err);
/* The source check of a quantized model q (q_path) that records the hash of the FP32 model it
 * came from (qcal.source_model_hash): QC_OK when it is fp32_hash or q records none, else
 * QC_ERR_INPUT naming both files. */
qc_status qc_check_source(const qc_graph *q, const char *q_path, uint64_t fp32_hash, const char *fp32_path,
                          qc_error *err);
/* The same over the models at paths: with FP32 models and quantized ones among them, each
 * quantized model that records its source must come from one of the FP32 ones (else
 * QC_ERR_INPUT naming it and the first FP32 model); a model that cannot be read is its error. */
qc_status qc_check_sources(const char *const *paths, int n, qc_error *err);
/* Decodes the first n images of set by pp into pixels (n images in the layout the model's
 * input in takes: CHW, or HWC when channels-last), on threads: inputs for several models
 * (qc_pass_inputs.tensors). */
qc_status qc_eval_load_images(const qc_image_set *set, const qc_preprocess *pp, int64_t n,
                              const qc_image_input *in, int threads, float *pixels, qc_error *err);
/* Times g: `warmup` inputs untimed, then `runs` runs of `batch` inputs each on threads
 * (inputs cycle as qc_pass_inputs says; in->n is ignored); seconds[r] is run r's time by
 * clock (NULL: the monotonic wall clock). */
qc_status qc_eval_time(const qc_graph *g, const qc_pass_inputs *in, int threads, int64_t warmup,
                       int64_t batch, int64_t runs, double (*clock)(void), double *seconds, qc_error *err);
/* The same runs timed by several clocks at once (e.g. the wall clock and the thread's CPU
 * time): clocks[c].seconds[r] is run r's time by clocks[c].clock; 1 to QC_EVAL_MAX_CLOCKS. */
#define QC_EVAL_MAX_CLOCKS 4
typedef struct {
    double (*clock)(void);
    double *seconds; /* runs entries */
} qc_eval_clock;
qc_status qc_eval_time_clocks(const qc_graph *g, const qc_pass_inputs *in, int threads, int64_t warmup,
                              int64_t batch, int64_t runs, const qc_eval_clock *clocks, int n_clocks,
                              qc_error *err);
/* The spread of n > 0 numbers: min, mean, median (the middle one, or the mean of the two
 * middle ones for an even n), max and the nearest-rank percentiles p90 and p99 (the
 * ceil(p·n/100)-th smallest: a number of the set, never interpolated). */
typedef struct {
    double min, mean, median, p90, p99, max;
} qc_spread;
void qc_spread_of(const double *x, int64_t n, qc_spread *out);
/* The nearest-rank p-th percentile (0 < p <= 100) of sorted[0..n-1], ascending. */
double qc_percentile_nearest_rank(const double *sorted, int64_t n, double p);

/* The error of one tensor of a variant: quantized (dequantized) against FP32, the codes of
 * the FP32 values under the variant's parameters, and the range it chose. */
typedef struct {
    qc_error_acc acc;
    bool has_codes;
    qc_code_hist codes;
    bool has_range;
    float lo, hi;
} qc_layer_error;

/* A tensor of the quantized graph that holds what the next layer reads of a statistics
 * tensor: the output of its QuantizeLinear (an integer tensor that QDQ fusion keeps) with
 * how to dequantize it, or the float tensor of one the variant leaves in FP32. */
typedef struct {
    char *name;                  /* owned */
    int stats_index;
    qc_qparams deq;              /* integer tensors: how to dequantize them */
    const qc_qparams *deq_ch;    /* or, per channel along axis 1 (input compensation): n_ch */
    int n_ch;                    /* parameters of the variant's report */
} qc_layer_map;

/* The maps of the QDQ graph vg (before fusion) that report describes; *maps_out (n_maps of
 * them) is set even on error, for qc_layer_maps_free. */
qc_status qc_eval_map_tensors(const qc_graph *vg, const qc_stats *s, const qc_quantize_report *report,
                              qc_layer_map **maps_out, int *n_maps, qc_error *err);
void qc_layer_maps_free(qc_layer_map *maps, int n);
/* One qc_layer_error per statistics tensor, with the ranges of report. */
qc_status qc_layer_errors_create(const qc_stats *s, const qc_quantize_report *report, qc_layer_error **out,
                                 qc_error *err);
void qc_layer_errors_free(qc_layer_error *layers, int n);

/* A quantized variant of a model, made ready to be compared with it layer by layer. */
typedef struct {
    const char *name;                 /* for messages; not owned */
    qc_graph *g;                      /* owned: the quantized graph, QDQ fused */
    qc_quantize_report report;        /* owned */
    qc_layer_map *maps;               /* owned: n_maps, found before fusion */
    int n_maps;
    qc_layer_error *layers;           /* owned: n_layers, one per statistics tensor */
    int n_layers;
} qc_eval_variant;

/* fp32 quantized by qo (its format QDQ), the tensors to compare mapped, QDQ fused, and the
 * errors of s's tensors made empty with the variant's ranges. QC_ERR_IO when qcal cannot
 * run an op of the result. v is filled even on error: qc_eval_variant_free frees it. */
qc_status qc_eval_variant_create(const qc_graph *fp32, const qc_stats *s, const qc_quantize_options *qo,
                                 const char *name, qc_eval_variant *v, qc_error *err);
void qc_eval_variant_free(qc_eval_variant *v);

/* The lowest SQNR of an activation (not a weight) measured in layers (one per tensor of s),
 * and which tensor (-1, and +inf, when none was). */
double qc_eval_min_sqnr(const qc_stats *s, const qc_layer_error *layers, int *which);

/* The weights' errors of each variant, then the first `images` inputs (batch 1, the shape of
 * fp32's input) run through fp32 and every variant on this thread, in order, adding each
 * tensor's error and codes to v[k].layers. model names the model in messages. */
qc_status qc_eval_layers(const char *model, const qc_graph *fp32, const qc_stats *s, const float *inputs,
                         int64_t images, qc_eval_variant *v, int n_variants, qc_error *err);

/* ---- per-tensor choice of the range method (method-auto.c, docs/qparams.md Q18) ---------
 *
 * `--method auto`: for each activation whose statistics give a range, every candidate range
 * is tried on the nodes that read the tensor, each run alone with its weights fake-quantized,
 * on FP32 values of the calibration images; the candidate whose readers' outputs are nearest
 * FP32 (Σ over readers of Σ(y − ŷ)² / Σ y²) is its local choice. Then the whole model is
 * checked at its output (qc_auto_better, no labels): with the local choices, with each
 * candidate for all tensors; from the best of those, each tensor's local choice is taken
 * where it improves the outcome significantly (qc_auto_improves; tensors in order, greedily,
 * the earlier choices applied). */

#define QC_AUTO_CANDIDATES 11
typedef struct {
    qc_range_method method;
    qc_range_params range;  /* its n_std or percentile; bits are the activations' */
} qc_auto_candidate;

/* minmax, avg, avgstd n = 1, 2, 3, 4, percentile 99.9, 99.99, 99.999, entropy, mse: in this
 * order, which breaks ties (the first wins). */
const qc_auto_candidate *qc_auto_candidates(void);
/* "minmax", "avgstd(3)", "percentile(99.99)" */
void qc_auto_candidate_name(const qc_auto_candidate *c, char *buf, size_t size);

typedef struct qc_auto_choice {
    char *tensor;                      /* owned */
    int local;                         /* the candidate of the smallest readers' error */
    int choice;                        /* index of the candidate chosen (after the check at
                                          the network's output) */
    qc_range_method method;            /* the candidate's, with bits = act_bits */
    qc_range_params range;
    double error[QC_AUTO_CANDIDATES];  /* readers' relative squared error; NaN: the candidate
                                          gives no range for the tensor */
    float lo[QC_AUTO_CANDIDATES], hi[QC_AUTO_CANDIDATES]; /* each candidate's range */
} qc_auto_choice;

typedef struct {
    int n;
    qc_auto_choice *choices;           /* owned: the roots, in the quantizer's report order */
    int64_t images;
    /* the check at the network's output: Σ KL(FP32 ‖ quantized) of the logits over the images
     * with every tensor's local choice, and with the final choices (+inf for a NaN); start: the
     * candidate all tensors started from (-1: their local choices), kept: local choices taken
     * over it */
    double kl_local, kl;
    int64_t agree_local, agree;        /* images whose top-1 is FP32's, the same two ways */
    int start, kept;
} qc_auto_result;

typedef struct {
    const qc_graph *fp32;              /* prepared, BatchNorm folded */
    const qc_stats *stats;             /* with histograms */
    const qc_quantize_options *q;      /* scheme, bits, weights' granularity and rounding */
    const float *inputs;               /* n images of stride floats (batch 1) */
    int64_t n, stride;
    int threads;                       /* the result does not depend on them */
} qc_auto_options;

/* The choice for every activation. Errors: statistics without histograms, a model with more
 * than one image input (QC_ERR_USAGE); a node that cannot run alone (QC_ERR_INPUT). res is
 * freed by qc_auto_result_free even on error. */
qc_status qc_method_auto(const qc_auto_options *o, qc_auto_result *res, qc_error *err);
void qc_auto_result_free(qc_auto_result *res);
/* The choice for tensor, or NULL. */
const qc_auto_choice *qc_auto_find(const qc_auto_choice *c, int n, const char *tensor);
/* The rule comparing two assignments at the network's output, from the per-image outcomes
 * of the model quantized with each on the same n images (docs/qparams.md Q18). */
typedef struct {
    int64_t n;
    unsigned char *agree;  /* per image: 1 when its top-1 is FP32's */
    double *kl;            /* per image: KL(FP32 ‖ quantized) of the logits */
} qc_auto_outcome;
/* McNemar's statistic of n paired agreements, (n_a − n_b)² / (n_a + n_b), n_a the images
 * only a agrees on and n_b those only b agrees on, with the sign of n_a − n_b (0 when none
 * differ). */
double qc_auto_mcnemar(const unsigned char *agree_a, const unsigned char *agree_b, int64_t n);
/* Above it two agreements differ significantly (χ² with 1 degree of freedom, 5 %). */
#define QC_AUTO_MCNEMAR 3.841
/* The paired z of the per-image KL decrease from b to a: mean(kl_b − kl_a) / its standard
 * error (±inf for a constant non-zero decrease, 0 for none, NaN below 2 images or a NaN). */
double qc_auto_kl_z(const qc_auto_outcome *a, const qc_auto_outcome *b);
/* Above it a KL decrease is significant (two-sided 5 %). */
#define QC_AUTO_KL_Z 1.96
/* a strictly better than b: the one agreeing more with FP32 when the agreements differ
 * significantly (|McNemar| > QC_AUTO_MCNEMAR), otherwise the lower Σ KL (a NaN the worst). */
bool qc_auto_better(const qc_auto_outcome *a, const qc_auto_outcome *b);
/* The greedy pass's test: a better than b and its KL lower significantly (qc_auto_kl_z >
 * QC_AUTO_KL_Z), so a change the calibration images support only by chance is left out. */
bool qc_auto_improves(const qc_auto_outcome *a, const qc_auto_outcome *b);
/* The images qc_method_auto runs: the first k of a class-balanced order of set (qc_aa_subset),
 * decoded by pp for input in into *pixels (malloc'd, *n images); on threads. */
#define QC_AUTO_IMAGES 512 /* the default k: 128 chose 2 points worse on 4-bit lenet */
qc_status qc_auto_load_images(const qc_image_set *set, const qc_preprocess *pp, const qc_image_input *in, int64_t k,
                              int threads, float **pixels, int64_t *n, qc_error *err);
/* Where a method is listed with auto (compare's variants, the report): a range method or
 * QC_METHOD_AUTO, named "auto". */
#define QC_METHOD_AUTO ((qc_range_method)QC_RANGE_COUNT)
const char *qc_method_name(qc_range_method m);

/* ---- accuracy-aware quantization (accuracy-aware.c, docs/quantization.md) ---------------
 *
 * Quantize, measure on validation inputs against FP32; while the budget is missed, return
 * the quantized nodes to FP32 one at a time, most sensitive first, measuring all the inputs
 * after each. A node's sensitivity is the score with that node alone in FP32 (every other
 * quantized), on a class-balanced subset: it sees the node's effect in the real network,
 * with the errors of the layers around it. */

typedef enum {
    QC_AA_TOP1 = 0,      /* top-1 on labelled inputs; the budget is the largest drop, points */
    QC_AA_AGREEMENT = 1, /* top-1 agreement with FP32; the budget is the lowest agreement, % */
} qc_aa_metric;

/* A model's results over inputs, against FP32 and the labels; counts, so exact. */
typedef struct {
    int64_t images, labelled;
    int64_t correct;  /* labelled inputs whose top-1 is their label */
    int64_t agree;    /* inputs whose top-1 is FP32's */
    double kl;        /* sum of KL(FP32 || model) of the outputs (qc_kl_softmax, or
                         qc_kl_probabilities after a Softmax), in input order */
} qc_aa_score;

/* Top-1 in % (NaN without labelled inputs) or agreement in % (NaN without inputs). */
double qc_aa_value(qc_aa_metric m, const qc_aa_score *s);
/* Whether q is within the budget: top-1 at most `budget` points below fp32's, or agreement
 * at least `budget` %. */
bool qc_aa_within(qc_aa_metric m, double budget, const qc_aa_score *fp32, const qc_aa_score *q);
/* The score of n outputs q (classes logits each) against FP32's and labels (NULL, or -1 for
 * an unlabelled input), summed in input order. */
void qc_aa_score_logits(const float *fp32, const float *q, const int *labels, int64_t n, int classes,
                        bool probabilities, qc_aa_score *s);
/* The ranking's order: a strictly better than b — more correct (top-1), then more agreement,
 * then a lower KL (a NaN KL is the worst). */
bool qc_aa_better(qc_aa_metric m, const qc_aa_score *a, const qc_aa_score *b);
/* The inputs a ranking measures: the first k of a class-balanced order (round after round,
 * the next input of each class by ascending label, the unlabelled (-1, or labels NULL) as one
 * class), written to index in input order. Returns min(k, n), or -1 out of memory. */
int64_t qc_aa_subset(const int *labels, int64_t n, int64_t k, int64_t *index);

typedef struct {
    const qc_graph *fp32;          /* prepared, BatchNorm folded */
    const qc_stats *stats;
    const qc_quantize_options *q;  /* as asked; its exclusions stay FP32 throughout */
    const float *inputs;           /* n inputs of stride floats (the model's input, batch 1) */
    int64_t n, stride;
    const int *labels;             /* n labels (-1: none), or NULL */
    const float *fp32_logits;      /* n x classes, or NULL: computed here */
    int classes;
    qc_aa_metric metric;
    double budget;
    int64_t sensitivity_images;    /* the subset the ranking measures */
    int max_layers;                /* the most layers returned; -1: no limit */
    int threads;
} qc_aa_options;

typedef struct {
    char *node;                    /* owned: a node name, as --exclude takes */
    qc_aa_score score;             /* ranking: on the subset, that node alone in FP32;
                                      steps: on all inputs, it and those before it in FP32 */
} qc_aa_layer;

typedef struct {
    qc_aa_score fp32, quantized;   /* on all inputs; quantized: nothing returned */
    int64_t subset;                /* inputs the ranking measured */
    qc_aa_score subset_quantized;  /* on them, nothing returned */
    int n_ranked;
    qc_aa_layer *ranking;          /* best first: the node whose return helps most */
    int n_steps;
    qc_aa_layer *steps;            /* step i returns ranking[i].node */
    bool met;                      /* the budget holds after the last step (or with none) */
} qc_aa_result;

/* The whole algorithm: no ranking and no step when the quantized model is within budget;
 * else steps until it is, the ranking ends or max_layers are returned (met false). The nodes
 * of steps[] with o->q's exclusions give the model to write. Errors: a top-1 budget without
 * labelled inputs, a model qcal cannot run (QC_ERR_USAGE), those of qc_quantize. r is freed
 * by qc_aa_result_free even on error. */
qc_status qc_accuracy_aware(const qc_aa_options *o, qc_aa_result *r, qc_error *err);
/* The ranking alone (qcal compare --sensitivity): r's subset, subset_quantized, ranking. */
qc_status qc_aa_rank(const qc_aa_options *o, qc_aa_result *r, qc_error *err);
void qc_aa_result_free(qc_aa_result *r);

/* ---- comparing quantized variants with their model (compare.c) -------------------------
 *
 * qcal compare's engine: a model's images decoded once, FP32 and each variant (QDQ, fused)
 * run over them with each image's scores stored by its index, the counts against FP32 and
 * the labels summed in image order, the per-layer error on the first images on one thread,
 * and optionally each variant's nodes ranked by sensitivity. Only the seconds depend on the
 * threads. */

#define QC_COMPARE_MAX_VARIANTS 64

/* One variant of the grid (scheme x granularity x method x bits). */
typedef struct {
    qc_scheme scheme;
    qc_granularity granularity; /* compensated: per-channel weights, input compensation too */
    qc_range_method method;
    int bits;
    char name[64];
} qc_compare_spec;

typedef struct {
    float *logits;         /* owned: n images x classes */
    int64_t correct, agree;
    double kl_sum, seconds;
} qc_compare_result;

/* One model and its variants' results. The caller sets path, g, stats and the input fields
 * (qc_compare_model_input); qc_compare_run fills the rest; qc_compare_model_free frees it. */
typedef struct {
    const char *path;
    const char *output;    /* the scored output's name when it is a choice, else NULL */
    qc_graph *g;           /* owned, BatchNorm folded */
    qc_stats *stats;       /* owned */
    int channels, height, width, classes;
    qc_image_input in;     /* the model's input layout */
    bool probabilities;    /* the output is Softmax's: KL compares it as it is */
    int64_t n, labelled, fp32_correct;
    float *pixels;         /* owned: n inputs */
    int *labels;           /* owned */
    float *fp32_logits;    /* owned */
    double fp32_seconds;
    qc_compare_result var[QC_COMPARE_MAX_VARIANTS];
    qc_eval_variant ev[QC_COMPARE_MAX_VARIANTS]; /* owned: the quantized graphs, their layers' errors */
    qc_aa_result sens[QC_COMPARE_MAX_VARIANTS];  /* owned: the sensitivity ranking */
    qc_auto_result autos[QC_COMPARE_MAX_VARIANTS]; /* owned: a variant of method auto's ranges */
    qc_group_table *groups;  /* owned: CALIB's groups, for the page (--html) */
    qc_adequacy adequacy;    /* owned: their bootstrap with the first variant's scale */
} qc_compare_model;

/* How the runs over the images are shown: begin before each run (what: "fp32" or the
 * variant's name), progress during it, end after it; each may be NULL. */
typedef struct {
    void (*begin)(void *ctx, const char *what, int64_t total);
    qc_progress_fn progress;
    void (*end)(void *ctx);
    void *ctx;
} qc_compare_progress;

typedef struct {
    const qc_compare_spec *v;      /* n variants */
    int n;
    const char *const *exclude;    /* nodes kept FP32 in every variant */
    int n_exclude;
    int64_t limit;                 /* the first images of the set compared on */
    int64_t layer_images;          /* the images of the per-layer error */
    bool sensitivity;              /* rank each variant's nodes (qc_aa_rank) */
    int64_t sensitivity_images;
    int threads;
    qc_compare_progress show;
} qc_compare_options;

/* The quantizer's options of variant k (QDQ). */
void qc_compare_quantize_options(const qc_compare_options *o, int k, qc_quantize_options *qo);
/* The same for model m: a variant of method auto takes the ranges chosen for m (m->autos[k]). */
void qc_compare_model_quantize_options(const qc_compare_model *m, const qc_compare_options *o, int k,
                                       qc_quantize_options *qo);
/* m's input fields from the model's image input in (qc_image_input_of): sizes, classes,
 * and whether its scores are probabilities. */
void qc_compare_model_input(qc_compare_model *m, const qc_image_input *in);
/* The ranges of each variant of method auto (into m->autos), chosen on a class-balanced
 * subset of the images of calib (QC_AUTO_IMAGES of them, decoded by pp), as quantize --method
 * auto chooses them; after m->stats and the input fields are set. An error names the model
 * and the variant. */
qc_status qc_compare_choose_auto(qc_compare_model *m, const qc_image_set *calib, const qc_preprocess *pp,
                                 const qc_compare_options *o, qc_error *err);
/* The first o->limit images of set decoded by pp, FP32 and every variant run over them, the
 * rankings and the per-layer errors. An error names the model (and the variant). */
qc_status qc_compare_run(qc_compare_model *m, const qc_image_set *set, const qc_preprocess *pp,
                         const qc_compare_options *o, qc_error *err);
void qc_compare_model_free(qc_compare_model *m, int n_variants);

/* Fractions: FP32's top-1 and variant k's (NaN without labels), its agreement with FP32 (NaN
 * without images); the drop the gates read, in points: top-1 with labels, else agreement. */
double qc_compare_fp32_top1(const qc_compare_model *m);
double qc_compare_top1(const qc_compare_model *m, int k);
double qc_compare_agreement(const qc_compare_model *m, int k);
double qc_compare_drop(const qc_compare_model *m, int k);
/* Whether variant a is more faithful to FP32 than b: more agreement, then a lower KL, then a
 * smaller drop. */
bool qc_compare_more_faithful(const qc_compare_model *m, int a, int b);
/* The node --exclude would take for tensor `name` of variant k: the quantized node that writes
 * it (or the one a Relu or Clip writing it was fused into) or, for a weight, the one that
 * reads it; NULL when none is quantized. */
const char *qc_compare_node_of(const qc_compare_model *m, int k, const char *name);

/* ---- compare's grid and gates (compare-grid.c) ------------------------------------------ */

#define QC_COMPARE_MAX_LIST 8 /* items of each list */
/* The lists of a grid, comma-separated, as compare's options take them; each but bits may be
 * "all" (every scheme, granularity or method: auto is named, not in "all"). */
typedef struct {
    const char *schemes, *granularities, *methods, *bits;
} qc_compare_lists;
/* The variants of the grid, method by bits by scheme by granularity, into v (room for
 * QC_COMPARE_MAX_VARIANTS), each named "scheme/granularity", then "/method" and "/Nbit" when
 * the grid has more than minmax and 8 bits. A bad item, too many items or variants, or two
 * variants of one name is QC_ERR_USAGE, the message naming compare's option. */
qc_status qc_compare_grid(const qc_compare_lists *l, qc_compare_spec *v, int *n, qc_error *err);

/* The accuracy gates: on the variant named gate, every variant ("all"), or by default (NULL)
 * the most faithful variant of each model (qc_compare_more_faithful; the first on a tie). */
typedef struct {
    const char *gate;
    float max_drop; /* points of qc_compare_drop; NaN: no gate */
    float min_sqnr; /* dB of the lowest activation SQNR; NaN: no gate */
} qc_compare_gates;
bool qc_compare_gated(const qc_compare_model *m, const qc_compare_spec *v, int n, int k, const char *gate);
/* Whether gate is a variant's name, "all" or NULL (the default). */
bool qc_compare_gate_known(const qc_compare_spec *v, int n, const char *gate);
/* The lowest activation SQNR of variant k, and its tensor in *which (-1: none measured). */
double qc_compare_min_sqnr(const qc_compare_model *m, int k, int *which);
/* Each gate a gated variant of m's n fails, as a sentence appended to failures[n_fail]
 * (room for two per variant); the new count. */
int qc_compare_gate_failures(const qc_compare_model *m, const qc_compare_spec *v, int n, const qc_compare_gates *g,
                             char (*failures)[256], int n_fail);
/* The same for the models ms[0..n_models): the sentences in *out, *n_out of them (one block:
 * free(*out)); false when out of memory. */
bool qc_compare_failures(const qc_compare_model *ms, int n_models, const qc_compare_spec *v, int n,
                         const qc_compare_gates *g, char ***out, int *n_out);

/* ---- what qcal bench measures (bench.c) ------------------------------------------------ */

typedef struct {
    int64_t one;     /* inputs of a latency run: 1, or the model's fixed batch */
    int64_t batch;   /* inputs of a throughput run */
    int64_t runs;    /* timed runs for each figure */
    int64_t warmup;  /* untimed runs before each figure (per thread for the throughput) */
    int threads;     /* of the throughput */
} qc_bench_options;

typedef struct {
    qc_spread wall, cpu;  /* seconds of the latency runs: wall clock, the thread's CPU time */
    double throughput;    /* inputs per second of wall time */
    double cpu_per_input; /* seconds of CPU time (every thread) per input of the throughput */
} qc_bench_timing;

/* g's latency of o->one random inputs on this thread (o->runs runs by the wall clock and by
 * the thread's CPU time), and its throughput at o->batch inputs per run on o->threads threads
 * (o->runs runs each). rank, dims and per_sample: g's input (qc_eval_batch_input). */
qc_status qc_bench_time(const qc_graph *g, const qc_bench_options *o, int rank, const int64_t *dims,
                        int64_t per_sample, qc_bench_timing *t, qc_error *err);
/* fp32 quantized by qo from the statistics of QC_BENCH_CALIB_SAMPLES random inputs of `one`
 * samples each (the kernels' time does not depend on the values), QDQ fused, with fp32's
 * bound inputs. */
#define QC_BENCH_CALIB_SAMPLES 8
qc_status qc_bench_quantize_random(const qc_graph *fp32, const qc_quantize_options *qo, int64_t one, int rank,
                                   const int64_t *dims, int64_t per_sample, qc_graph **out, qc_error *err);
/* The input bench feeds fp32 (read from fp32_path): its shape and values per sample
 * (qc_eval_batch_input), and `one`, the inputs of a latency run: the model's fixed batch, or
 * 1. With int8 (from int8_path; NULL: quantized here) the check that it takes the same input:
 * the same rank and values per sample, a fixed batch only when fp32 has the same one
 * (QC_ERR_INPUT naming both files otherwise). */
typedef struct {
    int rank;
    int64_t dims[QC_MAX_RANK];
    int64_t per_sample;
    bool fixed;  /* the batch is fixed: dims[0] */
    int64_t one;
} qc_bench_input;
qc_status qc_bench_input_of(const qc_graph *fp32, const char *fp32_path, const qc_graph *int8, const char *int8_path,
                            qc_bench_input *in, qc_error *err);
/* bench's measurement: the input fp32 and its INT8 version take (qc_bench_input_of) sets
 * o->one and, for a fixed batch, o->batch; int8 is the file given or, when NULL, fp32
 * quantized here by qo (qc_bench_quantize_random) into *made, which the caller destroys;
 * then each is timed with o. */
qc_status qc_bench_pair(const qc_graph *fp32, const char *fp32_path, const qc_graph *int8, const char *int8_path,
                        const qc_quantize_options *qo, qc_bench_options *o, qc_graph **made, qc_bench_timing *t_fp32,
                        qc_bench_timing *t_int8, qc_error *err);

/* ---- the HTML report of qcal compare (report.c, report-html.c) ------------------------ */

/* What the page shows, filled by compare; nothing is owned unless said. Fractions are in
 * [0, 1]; NaN marks a value that was not measured (no labels, no timing, a tensor a variant
 * has no figures for). Variant k of every model is variants[k]. */
typedef struct {
    const char *name;               /* "symlowp/channel" */
    qc_scheme scheme;
    qc_granularity weights;         /* tensor or channel */
    qc_granularity activations;     /* tensor or compensated */
    qc_range_method method;
    int bits;                       /* 8: integer QDQ; below: FakeQuantize */
} qc_report_variant;

/* Why a tensor has no figures in a variant ("—" on the page, explained). */
typedef enum {
    QC_REPORT_MEASURED = 0,
    QC_REPORT_FUSED,         /* an activation inside a fused layer (a Conv's output that its
                                Clip reads): the variant has no tensor to compare */
    QC_REPORT_COMPENSATED,   /* a weight scaled by its input's channel scales: its error is in
                                the layer's output */
    QC_REPORT_NOT_QUANTIZED, /* left in FP32 by the variant and not in its graph */
    QC_REPORT_NO_IMAGES,     /* an activation, and no image was run (--layer-images 0) */
    QC_REPORT_NOT_MEASURED,  /* quantized, but no tensor of the variant holds it */
} qc_report_why;

/* One tensor in one variant. */
typedef struct {
    qc_report_why why;
    double sqnr_db, cosine, max_abs_err; /* ±inf allowed for SQNR; NaN when not measured */
    double clipped, codes_used;          /* shares; NaN when the variant has no codes for it */
    bool has_range;
    float lo, hi;                        /* the reals its codes represent (per channel:
                                            the envelope of the channels') */
    int n_channels;                      /* > 1: one range per channel, and where their */
    float lo_band[2], hi_band[2];        /* ends lie: lowest and highest lo, and hi */
} qc_report_layer;

typedef struct {
    const char *name;               /* statistics tensor */
    const char *layer;              /* weights: the node that reads them; else NULL */
    const char *reader;             /* op type of the first node that reads it, or NULL */
    qc_role role;
    bool output;                    /* a graph output */
    const qc_hist *hist;            /* from the statistics; NULL or no counts: no histogram */
    float min, max;                 /* the observed extremes */
    const qc_report_layer *layers;  /* n_variants */
} qc_report_tensor;

/* One variant of one model. */
typedef struct {
    int64_t correct;                /* of the labelled images */
    double top1, agreement, kl;     /* KL: mean over the images */
    double speedup;                 /* INT8 over FP32 images/s; NaN when not timed */
    double drop;                    /* points the --max-drop gate reads */
    double min_sqnr;                /* lowest activation SQNR (dB) and its tensor (NULL: none) */
    const char *min_sqnr_tensor;
    bool gated;                     /* the gates apply to it */
} qc_report_result;

typedef struct {
    const char *name;               /* the model file */
    int64_t images, labelled;       /* validation images, and those with a label */
    int64_t layer_images;           /* images of the per-layer figures */
    double fp32_top1;
    const qc_report_result *results; /* n_variants */
    int n_tensors;
    const qc_report_tensor *tensors; /* network order */
    const qc_aa_result *sensitivity; /* n_variants rankings (qc_aa_rank), or NULL: none */
    const qc_adequacy *adequacy;     /* the bootstrap of the calibration set (qc_adequacy_run)
                                        with variant adequacy_variant's scale, or NULL: none */
    int adequacy_variant;
} qc_report_model;

typedef struct {
    const char *title;
    const char *version;            /* of qcal, for the header */
    const char *calib, *val;        /* image folders, for the header */
    int n_variants;
    const qc_report_variant *variants;
    int n_models;
    const qc_report_model *models;
    bool has_max_drop, has_min_sqnr; /* the gates: thresholds, --gate (NULL: the most */
    double max_drop, min_sqnr;       /* faithful variant of each model) and what failed */
    const char *gate;
    int n_failures;
    const char *const *failures;
} qc_report;

/* The tensors of one model for the page, one per tensor of s in its (network) order, with
 * the figures of v[0..n_variants) after qc_eval_layers; fp32 is the graph s was gathered on.
 * *out is one allocation (the layers after the tensors): free it with free(). */
qc_status qc_report_tensors_create(const qc_graph *fp32, const qc_stats *s, const qc_eval_variant *v,
                                   int n_variants, int64_t layer_images, qc_report_tensor **out,
                                   qc_error *err);

/* The 95 % Wilson score interval of a proportion of `successes` in n trials: [*lo, *hi]. */
void qc_report_wilson(int64_t successes, int64_t n, double *lo, double *hi);

/* Writes the page (self-contained: inline CSS and SVG, no script, no external resource) to f,
 * or atomically to path. The same report gives the same bytes. */
qc_status qc_report_html_put(const qc_report *r, FILE *f, qc_error *err);
qc_status qc_report_html_write(const qc_report *r, const char *path, qc_error *err);

/* ---- the quantizer's steps over images (quantize-images.c) ------------------------------ */

/* Accuracy-aware quantization on val (an ImageFolder: labels from its classes, -1 without),
 * every image decoded by pp as the image input of o->fp32 (read from file model) takes it:
 * o's inputs, n, stride, labels and classes are set here, the rest is qc_accuracy_aware's,
 * whose errors are prefixed by val's root. r is freed by qc_aa_result_free even on error. */
qc_status qc_accuracy_aware_images(const qc_aa_options *o, const char *model, const qc_image_set *val,
                                   const qc_preprocess *pp, qc_aa_result *r, qc_error *err);
/* qc_method_auto on the first k images of a class-balanced order of set (qc_auto_load_images),
 * decoded by pp: o's inputs, n and stride are set here; its errors are prefixed by model. res
 * is freed by qc_auto_result_free even on error. */
qc_status qc_method_auto_images(const qc_auto_options *o, const char *model, const qc_image_set *set,
                                const qc_preprocess *pp, int64_t k, qc_auto_result *res, qc_error *err);

/* ---- calibration adequacy of quantize's scales (adequacy-scale.c) ------------------------ */

/* qc_adequacy_run with o's scale set to the activation scale quantize gives a range under
 * scheme at bits (qc_qparams_activation, no reduced range): how much the scales qcal would
 * write move with another image set of the same size. */
qc_status qc_adequacy_of_activations(const qc_stats *s, const qc_group_table *g, const qc_adequacy_options *o,
                                     qc_scheme scheme, int bits, qc_adequacy *out, qc_error *err);
/* stats --adequacy's settings: the range and scale whose spread is estimated. */
typedef struct {
    float tolerance_pct;  /* the relative standard deviation allowed, in percent (default 5) */
    qc_range_method method;
    qc_scheme scheme;
    int bits, resamples;
} qc_adequacy_settings;
#define QC_ADEQUACY_DEFAULT {.tolerance_pct = 5.0f, .method = QC_RANGE_MINMAX, .scheme = QC_SCHEME_MIXED, \
                             .bits = 8, .resamples = 200}
/* qc_adequacy_of_activations with these settings (n_std and percentile of params). */
qc_status qc_adequacy_judge(const qc_stats *s, const qc_group_table *g, const qc_adequacy_settings *a,
                            const qc_range_params *params, qc_adequacy *out, qc_error *err);
bool qc_adequacy_settings_are_default(const qc_adequacy_settings *a);
/* The page of qcal compare's results (report.c): models ms[0..n_models) run over p->v with
 * qc_compare_run, judged by p->gates (p->failures: qc_compare_gate_failures), written
 * atomically to path by qc_report_html_write. */
typedef struct {
    const char *title, *version, *calib, *val; /* calib may be NULL (statistics given) */
    const qc_compare_spec *v;
    int n;
    const qc_compare_gates *gates;
    int64_t layer_images; /* as asked: each model's is capped at its images */
    bool sensitivity;     /* the models' rankings are shown */
    const char *const *failures;
    int n_failures;
    int64_t calib_skipped, val_skipped; /* images --skip-bad left out (the JSON's "skipped") */
} qc_compare_page;
qc_status qc_compare_html_write(const qc_compare_model *ms, int n_models, const qc_compare_page *p, const char *path,
                                qc_error *err);

/* ---- the JSON documents (report-json.c) -------------------------------------------------
 * The versioned documents of the commands, which scripts read: each written whole to f, as
 * the command prints it (the library prints nothing on its own). Rates are fractions; NaN
 * and ±inf are written as null. The same results give the same bytes. */

/* stats --json: the summary of s, and the bootstrap of --adequacy when adequacy is set. */
typedef struct {
    const char *model, *stats;     /* the model file, the statistics file written or read (or NULL) */
    double seconds;                /* of the pass over the images; < 0: read from a file (no
                                      "skipped", "seconds", "threads" and "batch") */
    int64_t skipped, batch;        /* images --skip-bad left out; images in flight */
    int threads;
    const qc_range_params *params;
    const bool *methods;           /* QC_RANGE_COUNT: the methods whose ranges are listed */
    const qc_adequacy *adequacy;   /* NULL: none */
    const qc_adequacy_settings *adequacy_settings;
} qc_stats_doc;
void qc_stats_json_write(FILE *f, const qc_stats *s, const qc_stats_doc *d);

/* What accuracy-aware quantization did, for quantize --json. */
typedef struct {
    const qc_aa_result *r;
    qc_aa_metric metric;
    double budget;
    const char *val;               /* the validation images */
    int64_t images;                /* of val */
    double seconds;
} qc_aa_doc;
/* The mean KL per image of a score; NaN without images. */
double qc_aa_kl(const qc_aa_score *sc);

/* quantize --json: the settings, each quantized tensor of r, --method auto's choices and
 * check, accuracy-aware quantization's ranking and steps. */
typedef struct {
    const char *model, *output;
    const qc_quantize_options *q;
    bool method_auto;              /* --method auto (then no config: it has no per-tensor methods) */
    int64_t calibration_images, calibration_skipped;
    const qc_graph *written;       /* the model written: "runnable_by_qcal" when qcal runs its every op */
    const qc_bias_measurement *bias; /* empirical bias correction's, with its seconds */
    double bias_seconds;
    const qc_auto_result *auto_result; /* NULL or none chosen: no "auto" */
    const qc_aa_doc *aa;           /* NULL: no "accuracy_aware" */
} qc_quantize_doc;
void qc_quantize_json_write(FILE *f, const qc_quantize_report *r, const qc_quantize_doc *d);
/* The candidate every tensor of --method auto started from, in buf; none when they started
 * from their local choices. */
const char *qc_auto_start_name(const qc_auto_result *a, const char *none, char *buf, size_t size);
/* The name of the candidate --method auto chose for tensor, in buf; "" when none. */
const char *qc_auto_method_of(const qc_auto_result *a, const char *tensor, char *buf, size_t size);

/* compare --json (format "qcal-compare"): the variants of p, each model's figures, per-layer
 * errors and rankings, and the gates. Version 2: a signed "delta" (a fraction) for version
 * 1's "drop". */
#define QC_COMPARE_FORMAT "qcal-compare"
#define QC_COMPARE_VERSION 2
void qc_compare_json_write(FILE *f, const qc_compare_model *ms, int n_models, const qc_compare_page *p);
/* Variant k's top-1 less FP32's (a fraction; NaN without labels), and its mean KL per image
 * (0 without images): the figures the table and the JSON show. */
double qc_compare_delta(const qc_compare_model *m, int k);
double qc_compare_kl(const qc_compare_model *m, int k);

/* One model of eval: its counts and the time of its pass. */
typedef struct {
    const char *path;
    char output[256];              /* the scored output's name when it is a choice, or "" */
    qc_topk_counts counts;
    int64_t skipped;
    double seconds;
} qc_eval_summary;
double qc_eval_images_per_s(const qc_eval_summary *r); /* 0 when not timed */
/* eval's pass (evaluate-topk.c): g, whose image input is in, over the images of set decoded
 * by pp; each image's scores counted into s->counts against its label and, when predictions
 * is set (begun), written as its line (with the scores when scores is set). An unreadable
 * image, with keep_unreadable, is counted in s->skipped and told to on_skip. */
typedef struct {
    qc_gather_options run;  /* limit, batch, threads, progress */
    bool keep_unreadable;
    qc_skip_fn on_skip;     /* may be NULL */
    void *skip_ctx;
    qc_file *predictions;   /* NULL: none */
    bool scores;
} qc_eval_topk_options;
qc_status qc_eval_topk(const qc_graph *g, const qc_image_input *in, const qc_image_set *set, const qc_preprocess *pp,
                       const qc_eval_topk_options *o, qc_eval_summary *s, qc_error *err);
/* eval --json: one model's object, or {"models": [...]} for several. */
void qc_eval_json_write(FILE *f, const qc_eval_summary *r, int n, int threads, int64_t batch);

/* bench --json: FP32's and INT8's timings with o's settings; int8_model NULL when the INT8
 * model was quantized here with scheme and weights. */
typedef struct {
    const char *model, *int8_model;
    qc_scheme scheme;
    qc_granularity weights;
    const qc_bench_options *o;
} qc_bench_doc;
void qc_bench_json_write(FILE *f, const qc_bench_doc *d, const qc_bench_timing *fp32, const qc_bench_timing *int8);

/* inspect: a graph input's or output's shape, its symbolic dimensions shown as N (the
 * nodes' static shapes assume batch 1), and node i's output shape ("?" unless prepared);
 * --json: the inputs, outputs and nodes of g, and whether it prepared. */
char *qc_report_io_shape(const qc_tensor *t, char *buf, size_t size);
const char *qc_report_node_shape(const qc_graph *g, int i, bool prepared, char *buf, size_t size);
void qc_inspect_json_write(FILE *f, const qc_graph *g, const char *path, bool prepared);
/* merge --json: the file written, how many were merged, and whether all shards are in. */
void qc_merge_json_write(FILE *f, const char *output, int inputs, const qc_stats *all);

/* The page's adequacy section of m (report.c): CALIB's bootstrap (m->groups) judged on the
 * scale of variant v, stats --adequacy's defaults otherwise; with a single group there is
 * nothing to resample: the groups are freed and m->adequacy stays empty. */
qc_status qc_compare_adequacy(qc_compare_model *m, const qc_compare_spec *v, qc_error *err);
/* The lowest and highest scale and zero point of t's channels (report.c): quantize's table. */
void qc_quantized_spread(const qc_quantized_tensor *t, float *scale_lo, float *scale_hi, int32_t *zero_lo,
                         int32_t *zero_hi);

/* QC_ERR_INPUT when g (read from path) is already quantized, naming its first quantized op and
 * what to do: the commands that quantize or gather statistics take FP32 models
 * (model-load.c). */
qc_status qc_check_not_quantized(const qc_graph *g, const char *path, const char *command, qc_error *err);
/* The nodes accuracy-aware quantization returned to FP32 (r's steps) appended, copied, to the
 * list items[0..*n) (quantize-images.c); false when out of memory. */
bool qc_aa_exclude_steps(const qc_aa_result *r, char ***items, int *n);

#endif
