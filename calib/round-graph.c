/* round-graph.c — FakeQuantize rounding in any of the nine round modes, written with standard
 * ONNX operators, for the activations of the fakequant format (docs/qparams.md P14a).
 *
 * QuantizeLinear rounds half to even and no ONNX operator takes a round mode, so the other
 * modes are built from the even rounding and exact corrections:
 *
 *   t  = fl(x / s)                         Div (the division of P12)
 *   tc = clamp(t, qmin − z, qmax − z)      Clip (integers: the clamp commutes with rounding)
 *   r  = round_half_even(tc)               QuantizeLinear(tc, 1, z) → DequantizeLinear(·, 1, z)
 *   e  = tc − r ∈ [−1/2, 1/2]              Sub, exact (Sterbenz, or r = 0)
 *   k  = r + up · gate_up(r) − down · gate_down(r)
 *   y  = fl(k · s)                         Mul: k = q − z, as P13
 *
 * with indicators of e (e > 0, e < 0, e = 1/2, e = −1/2) and gates of r (r > 0, r < 0, r ≥ 0,
 * r ≤ 0), each Clip(a·v + b, 0, 1) of an exact product. The sign of tc follows from r and e
 * (e > 0 and r ≥ 0 means tc > 0, …), which is what the gates use. */
#include <stdio.h>

#include "calib-impl.h"

/* 2^100: any nonzero |e| (≥ 2^−149) times it twice is ≥ 2^51, any distance from a tie
 * (≥ 2^−26) times it once ≥ 2^74; the clips then give exactly 0 or 1. */
#define HUGE_GAIN 0x1p100f

typedef struct {
    const qc_graph_builder *b;
    int n; /* nodes so far: names them */
    bool failed;
} emitter;

static int constant(emitter *m, float v)
{
    int t = m->failed ? -1 : m->b->constant(m->b->ctx, "_round_const", v);
    m->failed |= t < 0;
    return t;
}

/* out = op(in…) into a new tensor (or into `out` when ≥ 0) */
static int op(emitter *m, const char *op_type, const int *in, int n_in, int out)
{
    if (m->failed)
        return -1;
    if (out < 0)
        out = m->b->tensor(m->b->ctx, "_round", QC_FLOAT);
    char suffix[32];
    snprintf(suffix, sizeof suffix, "_round_%s_%d", op_type, m->n++);
    if (out < 0 || m->b->node(m->b->ctx, suffix, op_type, in, n_in, out) < 0)
        m->failed = true;
    return m->failed ? -1 : out;
}

/* Clip(v · a1 · a2 + c, 0, 1): 0 or 1 by the sign of v · a1 (a2 = 1: one product) */
static int step(emitter *m, int v, float a1, float a2, float c)
{
    int y = op(m, "Mul", (int[]){v, constant(m, a1)}, 2, -1);
    if (a2 != 1.0f)
        y = op(m, "Mul", (int[]){y, constant(m, a2)}, 2, -1);
    if (c != 0.0f)
        y = op(m, "Add", (int[]){y, constant(m, c)}, 2, -1);
    return op(m, "Clip", (int[]){y, constant(m, 0.0f), constant(m, 1.0f)}, 3, -1);
}

typedef enum { IND_NONE, IND_POSITIVE, IND_NEGATIVE, IND_HALF, IND_MINUS_HALF } indicator;
typedef enum { GATE_ALWAYS, GATE_R_POSITIVE, GATE_R_NEGATIVE, GATE_R_NONNEGATIVE, GATE_R_NONPOSITIVE } gate;

/* 1 where the indicator holds on e, else 0 */
static int indicator_of(emitter *m, int e, indicator i)
{
    switch (i) {
    case IND_POSITIVE: return step(m, e, HUGE_GAIN, HUGE_GAIN, 0.0f);
    case IND_NEGATIVE: return step(m, e, -HUGE_GAIN, HUGE_GAIN, 0.0f);
    case IND_HALF: /* (e − 1/2)·G + 1: 1 at the tie, ≤ 1 − 2^74 elsewhere */
        return step(m, op(m, "Sub", (int[]){e, constant(m, 0.5f)}, 2, -1), HUGE_GAIN, 1.0f, 1.0f);
    case IND_MINUS_HALF:
        return step(m, op(m, "Add", (int[]){e, constant(m, 0.5f)}, 2, -1), -HUGE_GAIN, 1.0f, 1.0f);
    case IND_NONE: break;
    }
    return -1;
}

/* the indicator times the gate of r (r an integer: Clip(±r + c, 0, 1) is 0 or 1) */
static int gated(emitter *m, int e, int r, indicator i, gate g)
{
    int v = indicator_of(m, e, i);
    if (g == GATE_ALWAYS)
        return v;
    const float sign = g == GATE_R_POSITIVE || g == GATE_R_NONNEGATIVE ? 1.0f : -1.0f;
    const float c = g == GATE_R_NONNEGATIVE || g == GATE_R_NONPOSITIVE ? 1.0f : 0.0f;
    return op(m, "Mul", (int[]){v, step(m, r, sign, 1.0f, c)}, 2, -1);
}

qc_status qc_emit_rounded_fake_quantize(const qc_graph_builder *b, int x, int s, int z, const qc_qparams *p,
                                        qc_round_mode mode, int out)
{
    /* what moves r up (by an indicator of e, where a gate of r holds) and what moves it down */
    static const struct {
        indicator up;
        gate up_gate;
        indicator down;
        gate down_gate;
    } fix[QC_ROUND_COUNT] = {
        [QC_ROUND_HALF_EVEN] = {IND_NONE, GATE_ALWAYS, IND_NONE, GATE_ALWAYS},
        [QC_ROUND_HALF_AWAY] = {IND_HALF, GATE_R_NONNEGATIVE, IND_MINUS_HALF, GATE_R_NONPOSITIVE},
        [QC_ROUND_TOWARD_ZERO] = {IND_POSITIVE, GATE_R_NEGATIVE, IND_NEGATIVE, GATE_R_POSITIVE},
        [QC_ROUND_UP] = {IND_POSITIVE, GATE_ALWAYS, IND_NONE, GATE_ALWAYS},
        [QC_ROUND_DOWN] = {IND_NONE, GATE_ALWAYS, IND_NEGATIVE, GATE_ALWAYS},
        [QC_ROUND_HALF_TOWARD_ZERO] = {IND_HALF, GATE_R_NEGATIVE, IND_MINUS_HALF, GATE_R_POSITIVE},
        [QC_ROUND_HALF_UP] = {IND_HALF, GATE_ALWAYS, IND_NONE, GATE_ALWAYS},
        [QC_ROUND_HALF_DOWN] = {IND_NONE, GATE_ALWAYS, IND_MINUS_HALF, GATE_ALWAYS},
        [QC_ROUND_AWAY_FROM_ZERO] = {IND_POSITIVE, GATE_R_NONNEGATIVE, IND_NEGATIVE, GATE_R_NONPOSITIVE},
    };
    if ((unsigned)mode >= QC_ROUND_COUNT)
        mode = QC_ROUND_HALF_EVEN;
    emitter m = {.b = b};
    const float lo = (float)((double)p->qmin - p->zero_point), hi = (float)((double)p->qmax - p->zero_point);
    int t = op(&m, "Div", (int[]){x, s}, 2, -1);
    int tc = op(&m, "Clip", (int[]){t, constant(&m, lo), constant(&m, hi)}, 3, -1);
    int one = constant(&m, 1.0f);
    int code = m.failed ? -1 : b->tensor(b->ctx, "_round_code", p->qmin < 0 ? QC_INT8 : QC_UINT8);
    m.failed |= code < 0;
    int r = op(&m, "DequantizeLinear", (int[]){op(&m, "QuantizeLinear", (int[]){tc, one, z}, 3, code), one, z}, 3, -1);
    int k = r;
    if (fix[mode].up != IND_NONE || fix[mode].down != IND_NONE) {
        int e = op(&m, "Sub", (int[]){tc, r}, 2, -1);
        if (fix[mode].up != IND_NONE)
            k = op(&m, "Add", (int[]){k, gated(&m, e, r, fix[mode].up, fix[mode].up_gate)}, 2, -1);
        if (fix[mode].down != IND_NONE)
            k = op(&m, "Sub", (int[]){k, gated(&m, e, r, fix[mode].down, fix[mode].down_gate)}, 2, -1);
    }
    op(&m, "Mul", (int[]){k, s}, 2, out);
    return m.failed ? QC_ERR_IO : QC_OK;
}
