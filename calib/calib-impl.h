/* calib-impl.h — what calib/ files share and nothing else includes. */
#ifndef QCAL_CALIB_IMPL_H
#define QCAL_CALIB_IMPL_H

#include "calib.h"

/* How round-graph.c adds to a graph being built (quantize.c owns naming and memory): each
 * returns the new tensor's or node's index in the graph, or -1 when out of memory. */
typedef struct {
    void *ctx;
    int (*constant)(void *ctx, const char *suffix, float v); /* a float scalar */
    int (*tensor)(void *ctx, const char *suffix, qc_dtype dtype); /* of the activation's shape */
    int (*node)(void *ctx, const char *suffix, const char *op_type, const int *in, int n_in, int out);
} qc_graph_builder;

/* FakeQuantize of activation x with scale s and zero point z (constants of p) rounding by
 * `mode`, written into tensor out with standard ONNX operators (Div, Clip, QuantizeLinear,
 * DequantizeLinear, Sub, Mul, Add) that ONNX Runtime and qcal run: exactly
 * qc_fake_quantize(x, p, mode) for every finite x (docs/qparams.md P14a). QC_ERR_IO when out
 * of memory. */
qc_status qc_emit_rounded_fake_quantize(const qc_graph_builder *b, int x, int s, int z, const qc_qparams *p,
                                        qc_round_mode mode, int out);

#endif
