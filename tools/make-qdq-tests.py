#!/usr/bin/python3
"""make-qdq-tests.py — writes tests/data/qdq/: small quantized ONNX models (QDQ and QOperator
formats) with ONNX Runtime's outputs, for the integer runtime's tests (tests/check_graph.c).

Run with Debian's python3 (it has onnx 1.12): /usr/bin/python3 tools/make-qdq-tests.py
ONNX Runtime lives in the other python3 on PATH (pyenv, no onnx module there), so the models
and inputs are written here, ONNX Runtime runs them in a subprocess on .npy files, and the
outputs come back as TensorProto .pb files. Every case is a folder in the layout of ONNX's
node tests: model.onnx, test_data_set_0/input_0.pb, test_data_set_0/output_0.pb. Outputs are
the quantized codes (uint8 / int8), so that the comparison is in integers.

Weights, scales and inputs come from fixed seeds: running it again rewrites the same files.
Two more models, lenet-qdq.onnx and lenet-qop.onnx, are models/lenet.onnx quantized by hand
(per-channel int8 weights, uint8 activations) in both formats, for `qcal eval`.
"""
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "data", "qdq")
MS = "com.microsoft"

# Cases named "plain:<folder>" run without graph optimizations (see PLAIN below).
ORT_RUNNER = r"""
import os, sys, numpy as np, onnxruntime as ort
for arg in sys.argv[1:]:
    case = arg[len("plain:"):] if arg.startswith("plain:") else arg
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    if case != arg:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(os.path.join(case, "model.onnx"), so, providers=["CPUExecutionProvider"])
    d = os.path.join(case, "test_data_set_0")
    feeds = {}
    for i, inp in enumerate(s.get_inputs()):
        feeds[inp.name] = np.load(os.path.join(d, "input_%d.npy" % i))
    for i, out in enumerate(s.run(None, feeds)):
        np.save(os.path.join(d, "output_%d.npy" % i), out)
"""


class Builder:
    """Accumulates nodes and initializers of one graph."""

    def __init__(self, seed):
        self.nodes, self.inits, self.rng, self.n = [], [], np.random.default_rng(seed), 0

    def name(self, base):
        self.n += 1
        return "%s_%d" % (base, self.n)

    def const(self, base, array):
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, n_out=1, domain="", **attrs):
        outs = [self.name(op.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=self.name(op), domain=domain, **attrs))
        return outs[0] if n_out == 1 else outs

    def qparams(self, scale, zp, dtype=np.uint8):
        return self.const("scale", np.float32(scale)), self.const("zp", np.array(zp, dtype=dtype))

    def q(self, x, s, z):
        return self.node("QuantizeLinear", [x, s, z])

    def dq(self, x, s, z=None, **attrs):
        return self.node("DequantizeLinear", [x, s] + ([z] if z else []), **attrs)

    def qdq(self, x, scale, zp, dtype=np.uint8):
        """Q then DQ with per-tensor parameters: a quantized activation in the QDQ format."""
        s, z = self.qparams(scale, zp, dtype)
        return self.dq(self.q(x, s, z), s, z), (s, z)

    def weights(self, shape, axis, per_channel=True, dtype=np.int8):
        """Random weights quantized symmetric (int8) or asymmetric (uint8), per channel or not:
        returns the integer tensor, its scale and zero point names, and the scales array."""
        w = self.rng.normal(0, 0.5, size=shape).astype(np.float32)
        c = shape[axis]
        red = tuple(i for i in range(len(shape)) if i != axis)
        amax = np.abs(w).max(axis=red) if per_channel else np.array([np.abs(w).max()])
        scale = (amax / 127.0).astype(np.float32)
        bshape = [1] * len(shape)
        bshape[axis] = c if per_channel else 1
        q = np.clip(np.rint(w / scale.reshape(bshape)), -127, 127).astype(np.int32)
        if dtype == np.uint8:
            zp = np.full(scale.shape, 128 if per_channel else 128, dtype=np.uint8)
            q = (q + 128).astype(np.uint8)
        else:
            zp = np.zeros(scale.shape, dtype=np.int8)
            q = q.astype(np.int8)
        if not per_channel:
            scale, zp = scale.reshape(()), zp.reshape(())
        return self.const("w", q), self.const("w_scale", scale), self.const("w_zp", zp), scale

    def bias(self, n, x_scale, w_scale):
        b = self.rng.normal(0, 0.3, size=n).astype(np.float32)
        s = (np.float32(x_scale) * np.broadcast_to(w_scale, (n,))).astype(np.float32)
        q = np.rint(b / s).astype(np.int32)
        return self.const("b", q), s

    def model(self, inputs, outputs, opset=13):
        graph = helper.make_graph(self.nodes, "g", inputs, outputs, self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                    helper.make_opsetid(MS, 1)])
        m.ir_version = 7
        return m


def tensor_info(name, dtype, shape):
    """shape: a list, or an int for that rank with symbolic dimensions (outputs)"""
    if isinstance(shape, int):
        shape = ["d%d" % i for i in range(shape)]
    return helper.make_tensor_value_info(name, dtype, shape)


def conv_case(name, seed, c_in, c_out, hw, k, stride=1, pad=0, group=1, dilation=1, relu=True,
              act_dtype=np.uint8, w_dtype=np.int8, per_channel=True, qop=False, clip=None,
              y_zp=None):
    """relu: a Relu after the Conv; clip: (lo, hi) of a Clip instead; y_zp: the output zero
    point, by default 0 after a Relu (the clamp is then implied by the uint8 range)."""
    b = Builder(seed)
    xs, xz = (0.02, 128) if act_dtype == np.uint8 else (0.02, 0)
    ys, yz = (0.05, 0) if relu and act_dtype == np.uint8 else (0.08, 128 if act_dtype == np.uint8 else 0)
    if y_zp is not None:
        yz = y_zp
    shape = (c_out, c_in // group, k, k)
    w, ws, wz, wscale = b.weights(shape, 0, per_channel, w_dtype)
    bias, bscale = b.bias(c_out, xs, wscale)
    attrs = dict(kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=group,
                 dilations=[dilation, dilation])
    x_s, x_z = b.qparams(xs, xz, act_dtype)
    y_s, y_z = b.qparams(ys, yz, act_dtype)
    xq = b.q("x", x_s, x_z)
    if qop:
        y = b.node("QLinearConv", [xq, x_s, x_z, w, ws, wz, y_s, y_z, bias], **attrs)
    else:
        xf = b.dq(xq, x_s, x_z)
        wf = b.dq(w, ws, wz, axis=0) if per_channel else b.dq(w, ws, wz)
        bf = b.dq(bias, b.const("b_scale", bscale), None, axis=0)
        y = b.node("Conv", [xf, wf, bf], **attrs)
        if clip:
            y = b.node("Clip", [y, b.const("lo", np.float32(clip[0])), b.const("hi", np.float32(clip[1]))])
        elif relu:
            y = b.node("Relu", [y])
        y = b.q(y, y_s, y_z)
    b.nodes[-1].output[0] = "y"
    ot = TensorProto.UINT8 if act_dtype == np.uint8 else TensorProto.INT8
    m = b.model([tensor_info("x", TensorProto.FLOAT, [2, c_in, hw, hw])], [tensor_info("y", ot, 4)])
    x = b.rng.uniform(-2.5, 2.5, size=(2, c_in, hw, hw)).astype(np.float32)
    return name, m, [x]


def simple_case(name, seed, build, x_shape, out_dtype=TensorProto.UINT8, n_inputs=1, out_rank=None,
                opset=13):
    b = Builder(seed)
    names = ["x"] if n_inputs == 1 else ["x%d" % i for i in range(n_inputs)]
    build(b, *names)
    b.nodes[-1].output[0] = "y"
    ins = [tensor_info(n, TensorProto.FLOAT, list(x_shape)) for n in names]
    m = b.model(ins, [tensor_info("y", out_dtype, out_rank or len(x_shape))], opset)
    xs = [b.rng.uniform(-3, 3, size=x_shape).astype(np.float32) for _ in names]
    return name, m, xs


def qdq_pool(op, **attrs):
    def build(b, x):
        xf, _ = b.qdq(x, 0.025, 120)
        y = b.node(op, [xf], **attrs)
        s, z = b.qparams(0.025, 120) if op == "MaxPool" else b.qparams(0.02, 110)
        b.q(y, s, z)
    return build


def qdq_globalavgpool_ties(b, x):
    """the output keeps the input's scale and zero point and each plane has 4 values, so every
    mean is a multiple of 1/4 and those ending in .5 are exact ties: QuantizeLinear (and ONNX
    Runtime's fused QLinearGlobalAveragePool) round them to even"""
    xf, _ = b.qdq(x, 0.025, 120)
    y = b.node("GlobalAveragePool", [xf])
    s, z = b.qparams(0.025, 120)
    b.q(y, s, z)


def qdq_gemm(relu):
    def build(b, x):
        xf, (xs, _) = b.qdq(x, 0.03, 128)
        w, ws, wz, wscale = b.weights((10, 48), 0, True)
        bias, bscale = b.bias(10, 0.03, wscale)
        y = b.node("Gemm", [xf, b.dq(w, ws, wz, axis=0), b.dq(bias, b.const("bs", bscale), None, axis=0)],
                   transB=1)
        if relu:
            y = b.node("Relu", [y])
        s, z = b.qparams(0.1, 0 if relu else 128)
        b.q(y, s, z)
    return build


def qdq_matmul(b, x):
    xf, _ = b.qdq(x, 0.03, 128)
    w, ws, wz, _ = b.weights((16, 12), 1, False)
    y = b.node("MatMul", [xf, b.dq(w, ws, wz)])
    s, z = b.qparams(0.15, 128)
    b.q(y, s, z)


def qdq_add(b, x0, x1):
    a, _ = b.qdq(x0, 0.025, 128)
    c, _ = b.qdq(x1, 0.03, 100)
    y = b.node("Relu", [b.node("Add", [a, c])])
    s, z = b.qparams(0.04, 0)
    b.q(y, s, z)


def qdq_add_wide_ratio(b, x0, x1):
    """input scales 2x and 3.5x the output's, as a residual Add after a 1x1 stride-2
    projection often has: a multiplier search that overflowed once made its output all z_y"""
    a, _ = b.qdq(x0, 0.05, 128)
    c, _ = b.qdq(x1, 0.0875, 120)
    y = b.node("Add", [a, c])
    s, z = b.qparams(0.025, 128)
    b.q(y, s, z)


def qdq_mul(b, x0, x1):
    a, _ = b.qdq(x0, 0.025, 128)
    c, _ = b.qdq(x1, 0.03, 100)
    y = b.node("Mul", [a, c])
    s, z = b.qparams(0.05, 120)
    b.q(y, s, z)


def qdq_mul_const(b, x):
    """x · k with k a constant [1, C, 1, 1] stored as uint8 codes, as qcal quantize writes it"""
    a, _ = b.qdq(x, 0.025, 128)
    sk, zk = b.qparams(0.004, 0)
    k = b.const("k", np.array([[[[200]], [[37]], [[255]]]], dtype=np.uint8))
    y = b.node("Mul", [a, b.dq(k, sk, zk)])
    s, z = b.qparams(0.03, 128)
    b.q(y, s, z)


def qdq_mul_gate_case(name, seed):
    """x · gate with the gate [N, C, 1, 1] broadcast over the planes (squeeze-excitation)"""
    b = Builder(seed)
    a, _ = b.qdq("x0", 0.025, 128)
    g, _ = b.qdq("x1", 0.004, 0)
    y = b.node("Mul", [a, g])
    s, z = b.qparams(0.02, 128)
    b.q(y, s, z)
    b.nodes[-1].output[0] = "y"
    x_shape, g_shape = (2, 3, 4, 5), (2, 3, 1, 1)
    m = b.model([tensor_info("x0", TensorProto.FLOAT, list(x_shape)),
                 tensor_info("x1", TensorProto.FLOAT, list(g_shape))],
                [tensor_info("y", TensorProto.UINT8, 4)])
    xs = [b.rng.uniform(-3, 3, size=x_shape).astype(np.float32),
          b.rng.uniform(0, 1, size=g_shape).astype(np.float32)]
    return name, m, xs


def qop_mul(dtype, zps):
    """com.microsoft QLinearMul as the QOperator format writes it"""
    def build(b, x0, x1):
        sa, za = b.qparams(0.025, zps[0], dtype)
        sb, zb = b.qparams(0.03, zps[1], dtype)
        sy, zy = b.qparams(0.06, zps[2], dtype)
        b.node("QLinearMul", [b.q(x0, sa, za), sa, za, b.q(x1, sb, zb), sb, zb, sy, zy], domain=MS)
    return build


def qdq_concat(b, x0, x1):
    a, _ = b.qdq(x0, 0.025, 128)
    c, _ = b.qdq(x1, 0.03, 100)
    y = b.node("Concat", [a, c], axis=1)
    s, z = b.qparams(0.03, 110)
    b.q(y, s, z)


def qop_ops(b, x0, x1):
    """QOperator ops of ONNX Runtime's contrib domain on uint8 or int8."""
    sa, za = b.qparams(0.025, 128)
    sb, zb = b.qparams(0.03, 100)
    a = b.q(x0, sa, za)
    c = b.q(x1, sb, zb)
    sy, zy = b.qparams(0.04, 90)
    add = b.node("QLinearAdd", [a, sa, za, c, sb, zb, sy, zy], domain=MS)
    sc, zc = b.qparams(0.035, 120)
    cat = b.node("QLinearConcat", [sc, zc, add, sy, zy, a, sa, za], domain=MS, axis=1)
    sp, zp = b.qparams(0.03, 118)
    avg = b.node("QLinearAveragePool", [cat, sc, zc, sp, zp], domain=MS, kernel_shape=[3, 3],
                 strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=0)
    sg, zg = b.qparams(0.01, 125)
    b.node("QLinearGlobalAveragePool", [avg, sp, zp, sg, zg], domain=MS, channels_last=0)


def qop_ops_s8(b, x0, x1):
    sa, za = b.qparams(0.025, 10, np.int8)
    sb, zb = b.qparams(0.03, -20, np.int8)
    a = b.q(x0, sa, za)
    c = b.q(x1, sb, zb)
    sy, zy = b.qparams(0.04, -5, np.int8)
    add = b.node("QLinearAdd", [a, sa, za, c, sb, zb, sy, zy], domain=MS)
    sc, zc = b.qparams(0.035, 3, np.int8)
    cat = b.node("QLinearConcat", [sc, zc, add, sy, zy, a, sa, za], domain=MS, axis=1)
    sg, zg = b.qparams(0.01, -3, np.int8)
    b.node("QLinearGlobalAveragePool", [cat, sc, zc, sg, zg], domain=MS, channels_last=0)


def qop_conv1d(b, x):
    """1-d QLinearConv with auto_pad SAME_UPPER, stride 2, int8 activations, per-channel weights"""
    s, z = b.qparams(0.02, 3, np.int8)
    xq = b.q(x, s, z)
    w, ws, wz, wscale = b.weights((5, 4, 3), 0, True)
    bias, _ = b.bias(5, 0.02, wscale)
    sy, zy = b.qparams(0.06, -7, np.int8)
    b.node("QLinearConv", [xq, s, z, w, ws, wz, sy, zy, bias], auto_pad="SAME_UPPER", strides=[2])


def qdq_maxpool_s8(b, x):
    xf, _ = b.qdq(x, 0.025, -10, np.int8)
    y = b.node("MaxPool", [xf], kernel_shape=[2, 3], strides=[2, 1], pads=[0, 1, 1, 1])
    s, z = b.qparams(0.025, -10, np.int8)
    b.q(y, s, z)


def qdq_conv_sigmoid(b, x):
    """Conv fuses; DQ → Sigmoid → Q becomes a table of 256 codes (QLinearSigmoid)"""
    xf, _ = b.qdq(x, 0.02, 128)
    w, ws, wz, _ = b.weights((4, 3, 3, 3), 0, True)
    s1, z1 = b.qparams(0.05, 128)
    y = b.q(b.node("Conv", [xf, b.dq(w, ws, wz, axis=0)], pads=[1, 1, 1, 1]), s1, z1)
    s2, z2 = b.qparams(1.0 / 255, 0)
    b.q(b.node("Sigmoid", [b.dq(y, s1, z1)]), s2, z2)


def qdq_lookup(op, dtype, x_params, y_params, **attrs):
    """DQ → op → Q with per-tensor parameters: qcal makes it a table of 256 codes"""
    def build(b, x):
        xf, _ = b.qdq(x, *x_params, dtype)
        s, z = b.qparams(*y_params, dtype)
        b.q(b.node(op, [xf], **attrs), s, z)
    return build


def qdq_move(op, dtype, zp, inputs, **attrs):
    """DQ → op → Q with the same parameters on both sides: the op runs on the codes (Pad's
    padding 0.0 becomes the zero point)"""
    def build(b, x):
        xf, (s, z) = b.qdq(x, 0.025, zp, dtype)
        b.q(b.node(op, [xf] + [b.const(op.lower(), np.array(v)) if v is not None else "" for v in inputs],
                   **attrs), s, z)
    return build


def qdq_matmul_act(dtype, zps):
    """DQ(a), DQ(b) → MatMul → Q of two activations, batched (attention's Q·Kᵀ, softmax·V)"""
    def build(b, x0, x1):
        a, _ = b.qdq(x0, 0.025, zps[0], dtype)
        c, _ = b.qdq(x1, 0.02, zps[1], dtype)
        s, z = b.qparams(0.08, zps[2], dtype)
        b.q(b.node("MatMul", [a, c]), s, z)
    return build


def qop_matmul_act(b, x0, x1):
    """QLinearMatMul with both inputs quantized at run time"""
    sa, za = b.qparams(0.025, 120)
    sb, zb = b.qparams(0.02, 130)
    sy, zy = b.qparams(0.1, 128)
    b.node("QLinearMatMul", [b.q(x0, sa, za), sa, za, b.q(x1, sb, zb), sb, zb, sy, zy])


def qop_lookup(b, x):
    """com.microsoft QLinearSigmoid and QLinearLeakyRelu, as ONNX Runtime's quantizer writes
    them, on int8 codes"""
    s0, z0 = b.qparams(0.03, -5, np.int8)
    s1, z1 = b.qparams(0.02, 10, np.int8)
    s2, z2 = b.qparams(1.0 / 256, -128, np.int8)
    y = b.node("QLinearLeakyRelu", [b.q(x, s0, z0), s0, z0, s1, z1], domain=MS, alpha=0.2)
    b.node("QLinearSigmoid", [y, s1, z1, s2, z2], domain=MS)


def qop_conv_clip(b, x):
    """QLinearConv then Clip on its uint8 codes: ReLU6 as the QOperator format writes it"""
    s, z = b.qparams(0.02, 128)
    xq = b.q(x, s, z)
    w, ws, wz, wscale = b.weights((6, 3, 3, 3), 0, True)
    bias, _ = b.bias(6, 0.02, wscale)
    sy, zy = b.qparams(0.03, 100)
    y = b.node("QLinearConv", [xq, s, z, w, ws, wz, sy, zy, bias], pads=[1, 1, 1, 1])
    b.node("Clip", [y, b.const("lo", np.uint8(100)), b.const("hi", np.uint8(200))])


def qop_matmul(b, x):
    s, z = b.qparams(0.03, 128)
    a = b.q(x, s, z)
    w, ws, wz, _ = b.weights((12, 7), 1, False, np.uint8)
    sy, zy = b.qparams(0.2, 128)
    b.node("QLinearMatMul", [a, s, z, w, ws, wz, sy, zy])


# ---- activations quantized per channel (input compensation) ------------------------------
#
# A layer's output is quantized along axis 1 with one scale per channel and one zero point z
# for all; the next Conv or Gemm reads the codes through DQ(1.0, z) and has each input
# channel's scale folded into its weights (w[o][c] · s[c], then quantized per output channel).

def q_per_channel(b, y, scales, zps, dtype=np.uint8):
    """QuantizeLinear of y along axis 1: returns the codes and the (scale, zp) names."""
    s = b.const("scale", np.asarray(scales, np.float32))
    z = b.const("zp", np.asarray(zps, dtype))
    return b.node("QuantizeLinear", [y, s, z], axis=1), (s, z)


def compensated_weights(b, shape, in_scales):
    """Float weights times the scale of their input channel (axis 1), quantized to int8 per
    output channel: the integer tensor, its scale and zero point names, and the scales."""
    w = b.rng.normal(0, 0.5, size=shape).astype(np.float32)
    cshape = [1] * len(shape)
    cshape[1] = -1
    w = w * np.asarray(in_scales, np.float32).reshape(cshape)
    scale = (np.abs(w).reshape(shape[0], -1).max(axis=1) / 127.0).astype(np.float32)
    q = np.clip(np.rint(w / scale.reshape([-1] + [1] * (len(shape) - 1))), -127, 127)
    return (b.const("w", q.astype(np.int8)), b.const("w_scale", scale),
            b.const("w_zp", np.zeros(shape[0], np.int8)), scale)


def conv_per_channel_out(b, x, c_in, c_out, scales, zps, relu, dtype=np.uint8, clip=None):
    """DQ(x) → Conv 3×3 [→ Relu | Clip(lo, hi)] → Q per channel; x quantized per tensor"""
    xf, _ = b.qdq(x, 0.02, 128 if dtype == np.uint8 else 0, dtype)
    w, ws, wz, wscale = b.weights((c_out, c_in, 3, 3), 0, True)
    bias, bscale = b.bias(c_out, 0.02, wscale)
    y = b.node("Conv", [xf, b.dq(w, ws, wz, axis=0), b.dq(bias, b.const("bs", bscale), None, axis=0)],
               pads=[1, 1, 1, 1])
    if clip:
        y = b.node("Clip", [y, b.const("lo", np.float32(clip[0])), b.const("hi", np.float32(clip[1]))])
    elif relu:
        y = b.node("Relu", [y])
    return q_per_channel(b, y, scales, zps, dtype)


def compensated_conv(b, codes, z, in_scales, c_out, k, y_scale, y_zp, dtype=np.uint8):
    """DQ(codes; 1.0, z) → Conv k×k with weights compensated for in_scales → Q per tensor"""
    xf = b.dq(codes, b.const("one", np.float32(1.0)), b.const("z", np.array(z, dtype)))
    w, ws, wz, wscale = compensated_weights(b, (c_out, len(in_scales), k, k), in_scales)
    bias, bscale = b.bias(c_out, 1.0, wscale)
    y = b.node("Conv", [xf, b.dq(w, ws, wz, axis=0), b.dq(bias, b.const("bs", bscale), None, axis=0)],
               pads=[k // 2] * 4)
    s, zp = b.qparams(y_scale, y_zp, dtype)
    return b.q(y, s, zp)


def qdq_conv_perchannel_out(b, x):
    """the per-channel scales span 10×; Conv1 fuses with them, Conv2 reads DQ(1.0, 3)"""
    scales = np.geomspace(0.004, 0.04, 6).astype(np.float32)
    y, _ = conv_per_channel_out(b, x, 3, 6, scales, [3] * 6, True)
    compensated_conv(b, y, 3, scales, 5, 3, 0.15, 128)


def qdq_maxpool_perchannel(b, x):
    """int8: Conv → Q per channel → DQ → MaxPool → Q (the same parameters) → DQ(1.0, z) → Conv"""
    scales = np.geomspace(0.05, 0.005, 6).astype(np.float32)
    y, (s, z) = conv_per_channel_out(b, x, 3, 6, scales, [-7] * 6, False, np.int8)
    y = b.node("MaxPool", [b.dq(y, s, z, axis=1)], kernel_shape=[2, 2], strides=[2, 2])
    y = b.node("QuantizeLinear", [y, s, z], axis=1)
    compensated_conv(b, y, -7, scales, 4, 1, 0.1, 5, np.int8)


def qdq_gemm_perchannel(b, x):
    """Conv → Q per channel → GlobalAveragePool (stays float) → Q per channel → Flatten (the
    same parameters on both sides) → DQ(1.0, 0) → Gemm → Relu → Q per channel"""
    s1 = np.geomspace(0.01, 0.06, 8).astype(np.float32)
    y, (s, z) = conv_per_channel_out(b, x, 3, 8, s1, [0] * 8, True)
    y = b.node("GlobalAveragePool", [b.dq(y, s, z, axis=1)])
    s2 = (s1 / 3).astype(np.float32)
    y, (s, z) = q_per_channel(b, y, s2, [0] * 8)
    y = b.node("Flatten", [b.dq(y, s, z, axis=1)], axis=1)
    y = b.node("QuantizeLinear", [y, s, z], axis=1)
    xf = b.dq(y, b.const("one", np.float32(1.0)), b.const("z", np.uint8(0)))
    w, ws, wz, wscale = compensated_weights(b, (10, 8), s2)
    bias, bscale = b.bias(10, 1.0, wscale)
    y = b.node("Gemm", [xf, b.dq(w, ws, wz, axis=0), b.dq(bias, b.const("bs", bscale), None, axis=0)],
               transB=1)
    q_per_channel(b, b.node("Relu", [y]), np.geomspace(0.01, 0.1, 10), [0] * 10)


def qdq_matmul_perchannel_out(b, x):
    """MatMul of a 2-d A: the output channels are axis 1, the last"""
    xf, _ = b.qdq(x, 0.03, 128)
    w, ws, wz, _ = b.weights((16, 12), 1, True)
    y = b.node("MatMul", [xf, b.dq(w, ws, wz, axis=1)])
    q_per_channel(b, y, np.geomspace(0.02, 0.2, 12), [128] * 12)


def qdq_conv_perchannel_clip(b, x):
    """a Clip's bounds in codes would differ per channel: the Conv stays float"""
    conv_per_channel_out(b, x, 3, 4, [0.01, 0.02, 0.04, 0.03], [10] * 4, False, clip=(-0.5, 2.0))


def qdq_conv_perchannel_zps(b, x):
    """zero points that differ per channel: no scalar y_zero_point, so the Conv stays float"""
    conv_per_channel_out(b, x, 3, 4, [0.02, 0.05, 0.03, 0.08], [120, 128, 100, 140], False)


def qdq_conv_div_out(b, x):
    """qcal's own form of per-channel activations: Conv → Relu → Div by [1, C, 1, 1] channel
    scales → Q(1.0, 0) → DQ → MaxPool → Q → DQ(1.0, 0) → Conv with compensated weights"""
    scales = np.geomspace(0.003, 0.05, 6).astype(np.float32)
    xf, _ = b.qdq(x, 0.02, 128)
    w, ws, wz, wscale = b.weights((6, 3, 3, 3), 0, True)
    bias, bscale = b.bias(6, 0.02, wscale)
    y = b.node("Conv", [xf, b.dq(w, ws, wz, axis=0), b.dq(bias, b.const("bs", bscale), None, axis=0)],
               pads=[1, 1, 1, 1])
    y = b.node("Div", [b.node("Relu", [y]), b.const("channel_scale", scales.reshape(1, 6, 1, 1))])
    one, zero = b.const("one", np.float32(1.0)), b.const("z", np.uint8(0))
    y = b.q(y, one, zero)
    y = b.node("MaxPool", [b.dq(y, one, zero)], kernel_shape=[2, 2], strides=[2, 2])
    compensated_conv(b, b.q(y, one, zero), 0, scales, 5, 3, 0.2, 128)


def qdq_gemm_div_out(b, x):
    """Gemm → Div by [C] scales → Q(1.0, 100): per-channel outputs of a Gemm"""
    xf, _ = b.qdq(x, 0.03, 128)
    w, ws, wz, _ = b.weights((12, 16), 0, True)
    y = b.node("Gemm", [xf, b.dq(w, ws, wz, axis=0)], transB=1)
    y = b.node("Div", [y, b.const("channel_scale", np.geomspace(0.02, 0.2, 12).astype(np.float32))])
    b.q(y, b.const("one", np.float32(1.0)), b.const("z", np.uint8(100)))


# ---- lenet, quantized by hand in both formats ---------------------------------------------

def lenet_ranges(W):
    """Largest |activation| of each layer of the float lenet on 200 images of data/calib,
    computed here in numpy (the card's preprocessing: gray, /255, mean 0.286, std 0.353)."""
    from PIL import Image
    root = os.path.join(ROOT, "data", "calib")
    files = sorted(os.path.join(root, c, f) for c in sorted(os.listdir(root))
                   for f in sorted(os.listdir(os.path.join(root, c))))[:200]
    x = np.stack([np.asarray(Image.open(f).convert("L").resize((28, 28)), np.float32) for f in files])
    x = ((x / 255.0 - 0.286) / 0.353)[:, None]

    def conv(x, w, b, pad):
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        k = w.shape[2]
        oh, ow = x.shape[2] - k + 1, x.shape[3] - k + 1
        cols = np.stack([x[:, :, i:i + oh, j:j + ow] for i in range(k) for j in range(k)], 2)
        cols = cols.reshape(x.shape[0], x.shape[1] * k * k, oh, ow)
        return np.einsum("nkhw,mk->nmhw", cols, w.reshape(w.shape[0], -1)) + b[None, :, None, None]

    def pool(x):
        n, c, h, w = x.shape
        return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))

    r = {"in": float(np.abs(x).max())}
    x = np.maximum(conv(x, W["conv1.weight"], W["conv1.bias"], 2), 0)
    r["c1"] = float(x.max())
    x = np.maximum(conv(pool(x), W["conv2.weight"], W["conv2.bias"], 0), 0)
    r["c2"] = float(x.max())
    x = pool(x).reshape(x.shape[0], -1)
    x = np.maximum(x @ W["fc1.weight"].T + W["fc1.bias"], 0)
    r["f1"] = float(x.max())
    x = x @ W["fc2.weight"].T + W["fc2.bias"]
    r["f2"] = float(np.abs(x).max())
    return r


def lenet(fmt, seed=7):
    """models/lenet.onnx with per-channel int8 weights and uint8 activations (max calibration
    on data/calib), in the QDQ or the QOperator format."""
    src = onnx.load(os.path.join(ROOT, "models", "lenet.onnx"))
    W = {t.name: numpy_helper.to_array(t) for t in src.graph.initializer}
    b = Builder(seed)
    ranges = lenet_ranges(W)

    def act(name, relu):
        r = ranges[name]
        return (np.float32(r / 255.0), 0) if relu else (np.float32(2 * r / 255.0), 128)

    def wq(name, axis):
        w = W[name]
        red = tuple(i for i in range(w.ndim) if i != axis)
        scale = (np.abs(w).max(axis=red) / 127.0).astype(np.float32)
        shape = [1] * w.ndim
        shape[axis] = -1
        q = np.clip(np.rint(w / scale.reshape(shape)), -127, 127).astype(np.int8)
        return b.const(name + "_q", q), b.const(name + "_s", scale), \
            b.const(name + "_z", np.zeros(scale.shape, np.int8)), scale

    def bq(name, xs, wscale):
        s = (np.float32(xs) * wscale).astype(np.float32)
        return b.const(name + "_q", np.rint(W[name] / s).astype(np.int32)), s

    xs, xz = act("in", False)
    s_in, z_in = b.qparams(xs, xz)
    x = b.q("input", s_in, z_in)
    cur = (x, s_in, z_in, xs)

    def layer(cur, wname, bname, oname, kind, relu, **attrs):
        xq, s, z, xscale = cur
        w, ws, wz, wscale = wq(wname, 0)
        bias, bscale = bq(bname, xscale, wscale)
        ys, yz = act(oname, relu)
        sy, zy = b.qparams(ys, yz)
        if fmt == "qop":
            if kind == "Conv":
                y = b.node("QLinearConv", [xq, s, z, w, ws, wz, sy, zy, bias], **attrs)
            else:
                y = b.node("QGemm", [xq, s, z, w, ws, wz, bias, sy, zy], domain=MS, transB=1)
            if relu and kind != "Conv":
                pass  # zero point 0: the clamp at 0 is the relu
        else:
            xf = b.dq(xq, s, z)
            y = b.node(kind, [xf, b.dq(w, ws, wz, axis=0), b.dq(bias, b.const("bs", bscale), None, axis=0)],
                       **attrs)
            if relu:
                y = b.node("Relu", [y])
            y = b.q(y, sy, zy)
        return (y, sy, zy, ys)

    def pool(cur):
        xq, s, z, xscale = cur
        if fmt == "qop":
            return (b.node("MaxPool", [xq], kernel_shape=[2, 2], strides=[2, 2]), s, z, xscale)
        y = b.node("MaxPool", [b.dq(xq, s, z)], kernel_shape=[2, 2], strides=[2, 2])
        return (b.q(y, s, z), s, z, xscale)

    def flatten(cur):
        xq, s, z, xscale = cur
        if fmt == "qop":
            return (b.node("Flatten", [xq], axis=1), s, z, xscale)
        return (b.q(b.node("Flatten", [b.dq(xq, s, z)], axis=1), s, z), s, z, xscale)

    cur = layer(cur, "conv1.weight", "conv1.bias", "c1", "Conv", True, kernel_shape=[5, 5], pads=[2, 2, 2, 2])
    cur = pool(cur)
    cur = layer(cur, "conv2.weight", "conv2.bias", "c2", "Conv", True, kernel_shape=[5, 5])
    cur = pool(cur)
    cur = flatten(cur)
    cur = layer(cur, "fc1.weight", "fc1.bias", "f1", "Gemm", True, transB=1)
    cur = layer(cur, "fc2.weight", "fc2.bias", "f2", "Gemm", False, transB=1)
    b.dq(cur[0], cur[1], cur[2])
    b.nodes[-1].output[0] = "logits"
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])
    return b.model([inp], [out])


# ONNX Runtime's QDQ transformer (1.32) also fuses a Q whose scale and zero point are per
# channel, into QLinearConv or QLinearGlobalAveragePool, which then reject them at run time.
# These cases run unoptimized: the QDQ graph as written, float ops between DQ and Q.
PLAIN = {"qdq-conv-perchannel-out", "qdq-maxpool-perchannel", "qdq-gemm-perchannel",
         "qdq-conv-perchannel-zps", "qdq-matmul-perchannel-out", "qdq-conv-perchannel-clip"}


def cases():
    yield conv_case("qdq-conv-relu", 1, 3, 8, 9, 3, pad=1)
    yield conv_case("qdq-conv-stride2", 2, 4, 6, 11, 3, stride=2, pad=1, relu=False)
    yield conv_case("qdq-conv-pointwise", 3, 16, 24, 7, 1)
    yield conv_case("qdq-conv-depthwise", 4, 8, 8, 10, 3, stride=1, pad=1, group=8)
    yield conv_case("qdq-conv-depthwise-s2", 5, 6, 6, 9, 3, stride=2, pad=1, group=6, relu=False)
    yield conv_case("qdq-conv-group-dilated", 6, 6, 4, 12, 3, pad=2, group=2, dilation=2)
    yield conv_case("qdq-conv-s8", 7, 3, 5, 8, 3, pad=1, relu=False, act_dtype=np.int8)
    yield conv_case("qdq-conv-per-tensor", 8, 3, 5, 8, 3, pad=1, per_channel=False)
    yield conv_case("qdq-conv-relu-zp", 23, 3, 8, 9, 3, pad=1, y_zp=100)
    yield conv_case("qdq-conv-clip", 24, 3, 8, 9, 3, pad=1, clip=(-1.0, 4.0), relu=False)
    yield conv_case("qop-conv", 9, 3, 8, 9, 3, pad=1, qop=True)
    yield conv_case("qop-conv-u8w", 10, 4, 6, 8, 3, pad=1, w_dtype=np.uint8, per_channel=False, qop=True)
    yield conv_case("qop-conv-depthwise", 11, 8, 8, 10, 3, pad=1, group=8, qop=True)
    yield simple_case("qdq-gemm", 12, qdq_gemm(False), (3, 48))
    yield simple_case("qdq-gemm-relu", 13, qdq_gemm(True), (3, 48))
    yield simple_case("qdq-matmul", 14, qdq_matmul, (2, 5, 16))
    yield simple_case("qdq-add-relu", 15, qdq_add, (2, 3, 4, 5), n_inputs=2)
    yield simple_case("qdq-add-wide-ratio", 37, qdq_add_wide_ratio, (2, 3, 4, 5), n_inputs=2)
    yield simple_case("qdq-concat", 16, qdq_concat, (2, 3, 4, 5), n_inputs=2)
    yield simple_case("qdq-maxpool", 17, qdq_pool("MaxPool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]), (2, 3, 9, 9))
    yield simple_case("qdq-avgpool", 18, qdq_pool("AveragePool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]), (2, 3, 9, 9))
    yield simple_case("qdq-globalavgpool", 19, qdq_pool("GlobalAveragePool"), (2, 5, 7, 6))
    yield simple_case("qdq-globalavgpool-ties", 38, qdq_globalavgpool_ties, (2, 32, 2, 2))
    yield simple_case("qop-contrib", 20, qop_ops, (2, 3, 8, 8), n_inputs=2)
    yield simple_case("qop-contrib-s8", 21, qop_ops_s8, (2, 3, 8, 8), TensorProto.INT8, n_inputs=2)
    yield simple_case("qop-matmul-u8w", 22, qop_matmul, (4, 12))
    yield simple_case("qop-conv-clip", 28, qop_conv_clip, (2, 3, 7, 7))
    yield simple_case("qdq-conv-sigmoid", 27, qdq_conv_sigmoid, (2, 3, 6, 6))
    yield simple_case("qop-conv1d-same", 25, qop_conv1d, (2, 4, 11), TensorProto.INT8)
    yield simple_case("qdq-maxpool-s8", 26, qdq_maxpool_s8, (2, 3, 7, 8), TensorProto.INT8)
    yield simple_case("qdq-conv-perchannel-out", 29, qdq_conv_perchannel_out, (2, 3, 9, 9))
    yield simple_case("qdq-maxpool-perchannel", 30, qdq_maxpool_perchannel, (2, 3, 8, 10),
                      TensorProto.INT8)
    yield simple_case("qdq-gemm-perchannel", 31, qdq_gemm_perchannel, (2, 3, 6, 6), out_rank=2)
    yield simple_case("qdq-conv-perchannel-zps", 32, qdq_conv_perchannel_zps, (2, 3, 7, 7))
    yield simple_case("qdq-matmul-perchannel-out", 33, qdq_matmul_perchannel_out, (4, 16))
    yield simple_case("qdq-conv-perchannel-clip", 34, qdq_conv_perchannel_clip, (2, 3, 7, 7))
    yield simple_case("qdq-conv-div-out", 35, qdq_conv_div_out, (2, 3, 10, 10))
    yield simple_case("qdq-gemm-div-out", 36, qdq_gemm_div_out, (4, 16), out_rank=2)
    yield simple_case("qdq-mul", 39, qdq_mul, (2, 3, 4, 5), n_inputs=2)
    yield qdq_mul_gate_case("qdq-mul-gate", 40)
    yield simple_case("qdq-mul-const", 43, qdq_mul_const, (2, 3, 4, 5))
    yield simple_case("qop-mul", 41, qop_mul(np.uint8, (128, 100, 120)), (2, 3, 4, 5), n_inputs=2)
    yield simple_case("qdq-hardswish", 44, qdq_lookup("HardSwish", np.uint8, (0.025, 120), (0.02, 20)),
                      (2, 4, 8, 8), opset=14)
    yield simple_case("qdq-hardsigmoid-s8", 45, qdq_lookup("HardSigmoid", np.int8, (0.03, 5), (1.0 / 255, -128),
                                                           alpha=1.0 / 6), (2, 4, 8, 8), TensorProto.INT8)
    yield simple_case("qdq-tanh", 46, qdq_lookup("Tanh", np.uint8, (0.02, 128), (1.0 / 128, 128)), (2, 4, 8, 8))
    yield simple_case("qdq-leakyrelu-s8", 47, qdq_lookup("LeakyRelu", np.int8, (0.025, 0), (0.02, -40),
                                                         alpha=0.1), (2, 4, 8, 8), TensorProto.INT8)
    yield simple_case("qdq-sigmoid-s8", 48, qdq_lookup("Sigmoid", np.int8, (0.03, -10), (1.0 / 256, -128)),
                      (2, 4, 8, 8), TensorProto.INT8)
    yield simple_case("qop-lookup-s8", 49, qop_lookup, (2, 4, 8, 8), TensorProto.INT8)
    yield simple_case("qdq-slice-s8", 50, qdq_move("Slice", np.int8, -7, [[1, 2, 7], [4, 8, 1], [1, 2, 3], [2, 3, -2]]),
                      (2, 4, 8, 8), TensorProto.INT8)
    yield simple_case("qdq-pad", 51, qdq_move("Pad", np.uint8, 120, [[0, 0, 1, 2, 0, 0, 2, 1], np.float32(0)]),
                      (2, 4, 8, 8))
    yield simple_case("qdq-resize", 53, qdq_move("Resize", np.uint8, 100, [None, np.float32([1, 1, 2, 1.5])], mode="nearest"),
                      (2, 3, 5, 6))
    yield simple_case("qdq-resize-sizes-s8", 54, qdq_move("Resize", np.int8, -3, [None, None, np.int64([2, 3, 9, 4])],
                                                          mode="nearest", coordinate_transformation_mode="half_pixel",
                                                          nearest_mode="round_prefer_ceil"),
                      (2, 3, 5, 6), TensorProto.INT8)
    yield simple_case("qdq-matmul-act", 55, qdq_matmul_act(np.uint8, (128, 110, 120)), (2, 3, 8, 8), n_inputs=2)
    yield simple_case("qdq-matmul-act-s8", 56, qdq_matmul_act(np.int8, (0, -10, 5)), (2, 12, 12), TensorProto.INT8,
                      n_inputs=2)
    yield simple_case("qop-matmul-act", 57, qop_matmul_act, (3, 9, 9), n_inputs=2)
    yield simple_case("qdq-pad-reflect-s8", 52, qdq_move("Pad", np.int8, 9, [[0, 0, 2, 1, 0, 0, 1, 3]], mode="reflect"),
                      (2, 4, 8, 8), TensorProto.INT8)
    yield simple_case("qop-mul-s8", 42, qop_mul(np.int8, (10, -20, 5)), (2, 3, 4, 5), TensorProto.INT8,
                      n_inputs=2)


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    dirs = []
    for name, model, inputs in cases():
        d = os.path.join(OUT, name)
        os.makedirs(os.path.join(d, "test_data_set_0"))
        onnx.checker.check_model(model)
        onnx.save(model, os.path.join(d, "model.onnx"))
        for i, x in enumerate(inputs):
            base = os.path.join(d, "test_data_set_0", "input_%d" % i)
            np.save(base + ".npy", x)
            with open(base + ".pb", "wb") as f:
                f.write(numpy_helper.from_array(x, model.graph.input[i].name).SerializeToString())
        dirs.append(d)
    for fmt in ("qdq", "qop"):
        m = lenet(fmt)
        onnx.checker.check_model(m)
        onnx.save(m, os.path.join(OUT, "lenet-%s.onnx" % fmt))
        with open(os.path.join(ROOT, "models", "lenet.json")) as f:
            card = f.read().replace('"name": "lenet"', '"name": "lenet-%s"' % fmt)
        with open(os.path.join(OUT, "lenet-%s.json" % fmt), "w") as f:
            f.write(card)
    subprocess.run(["python3", "-c", ORT_RUNNER] +
                   [("plain:" if os.path.basename(d) in PLAIN else "") + d for d in dirs], check=True)
    for d in dirs:
        ds = os.path.join(d, "test_data_set_0")
        for f in sorted(os.listdir(ds)):
            if f.endswith(".npy"):
                if f.startswith("output_"):
                    y = np.load(os.path.join(ds, f))
                    with open(os.path.join(ds, f[:-4] + ".pb"), "wb") as out:
                        out.write(numpy_helper.from_array(y, "y").SerializeToString())
                os.remove(os.path.join(ds, f))
        print("%-28s %s" % (os.path.basename(d), "ok"))
    # the two lenet models must run in ONNX Runtime too
    subprocess.run(["python3", "-c",
                    "import sys, numpy as np, onnxruntime as ort\n"
                    "for p in sys.argv[1:]:\n"
                    "    s = ort.InferenceSession(p, providers=['CPUExecutionProvider'])\n"
                    "    y = s.run(None, {'input': np.zeros((2, 1, 28, 28), np.float32)})[0]\n"
                    "    print(p.split('/')[-1], y.shape)\n",
                    os.path.join(OUT, "lenet-qdq.onnx"), os.path.join(OUT, "lenet-qop.onnx")],
                   check=True)


if __name__ == "__main__":
    sys.exit(main())
