#!/usr/bin/python3
"""Writes tests/data/onnxruntime/: one-node ONNX models for math ops and forms that ONNX's
own node tests (1.12) do not cover (Gelu, Mish, GroupNormalization at opsets 18 and 21,
reductions with axes as an input, broadcasting of three operands, the softmaxes' 2-d coercion,
large reductions), each with ONNX Runtime's outputs, in the backend-test layout that
tests/conformance.c runs.

usage: /usr/bin/python3 tools/make-math-tests.py   (Debian's python3-onnx builds the models;
       ONNX Runtime runs in the python3 first on PATH, or $ORT_PYTHON)

Inputs come from a fixed seed, so running it again rewrites byte-identical files."""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "onnxruntime")
ORT_RUN = r"""
import sys, numpy as np, onnxruntime as ort
o = ort.SessionOptions(); o.intra_op_num_threads = 1
o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
s = ort.InferenceSession(sys.argv[1], o, providers=["CPUExecutionProvider"])
feeds = dict(np.load(sys.argv[2]))
outs = s.run(None, feeds)
np.savez(sys.argv[3], *outs)
"""

TYPES = {np.dtype("float32"): TensorProto.FLOAT, np.dtype("int64"): TensorProto.INT64,
         np.dtype("int32"): TensorProto.INT32, np.dtype("bool"): TensorProto.BOOL}


def model(op, inputs, n_out, opset, attrs=None, consts=None, out_type=TensorProto.FLOAT):
    """A one-node model: inputs is a list of (name, array); consts are initializers."""
    consts = consts or []
    node = helper.make_node(op, [n for n, _ in inputs] + [n for n, _ in consts],
                            ["y%d" % i for i in range(n_out)], **(attrs or {}))
    g = helper.make_graph(
        [node], op.lower(),
        [helper.make_tensor_value_info(n, TYPES[a.dtype], a.shape) for n, a in inputs],
        [helper.make_tensor_value_info("y%d" % i, out_type, None) for i in range(n_out)],
        [numpy_helper.from_array(a, n) for n, a in consts])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8 if opset <= 17 else 10
    return m


def write_case(name, m, inputs, reference=None):
    """Saves the model, its inputs and the outputs of ONNX Runtime, or of reference (a numpy
    function of the inputs, in float64) where ONNX Runtime is not precise enough."""
    folder = os.path.join(OUT, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(os.path.join(folder, "test_data_set_0"))
    path = os.path.join(folder, "model.onnx")
    onnx.save(m, path)
    if reference:
        outs = [reference(*[a for _, a in inputs])]
    else:
        outs = run_ort(path, inputs)
    save(folder, inputs, outs)
    print("%-36s %s" % (name, ", ".join("%s%s" % (a.dtype, list(a.shape)) for a in outs)))


def run_ort(path, inputs):
    with tempfile.TemporaryDirectory() as tmp:
        feeds, results = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        np.savez(feeds, **dict(inputs))
        ort_python = os.environ.get("ORT_PYTHON") or shutil.which("python3")
        subprocess.run([ort_python, "-c", ORT_RUN, path, feeds, results], check=True)
        outs = np.load(results)
        return [outs["arr_%d" % i] for i in range(len(outs.files))]


def save(folder, inputs, outs):
    for i, (n, a) in enumerate(inputs):
        t = numpy_helper.from_array(a, n)
        open(os.path.join(folder, "test_data_set_0", "input_%d.pb" % i), "wb").write(t.SerializeToString())
    for i, a in enumerate(outs):
        t = numpy_helper.from_array(a, "y%d" % i)
        open(os.path.join(folder, "test_data_set_0", "output_%d.pb" % i), "wb").write(t.SerializeToString())


def gelu_tanh(x):
    """Gelu's tanh form from the spec, in float64: ONNX Runtime's float kernel loses all
    precision where 1 + tanh cancels (x below -4, relative errors of 10% and more)."""
    v = x.astype(np.float64)
    return (0.5 * v * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v ** 3)))).astype(np.float32)


def main():
    rng = np.random.default_rng(20261206)
    f = lambda *shape: rng.standard_normal(shape).astype(np.float32)
    x = f(2, 3, 4, 5)
    for approx in ("none", "tanh"):
        write_case("gelu-" + approx, model("Gelu", [("x", x * 3)], 1, 20, {"approximate": approx}),
                   [("x", x * 3)], gelu_tanh if approx == "tanh" else None)
    write_case("mish", model("Mish", [("x", x * 4)], 1, 18), [("x", x * 4)])
    write_case("softplus-large", model("Softplus", [("x", x * 40)], 1, 13), [("x", x * 40)])
    g6 = f(2, 6, 3, 4)
    write_case("groupnorm-op18", model("GroupNormalization", [("x", g6)], 1, 18,
               {"num_groups": 3, "epsilon": 1e-3},
               [("scale", f(3)), ("bias", f(3))]), [("x", g6)])
    write_case("groupnorm-op21", model("GroupNormalization", [("x", g6)], 1, 21,
               {"num_groups": 2}, [("scale", f(6)), ("bias", f(6))]), [("x", g6)])
    write_case("layernorm-no-bias", model("LayerNormalization", [("x", x)], 1, 17,
               {"axis": 2}, [("scale", f(4, 5))]), [("x", x)])
    axes = np.array([1, -1], np.int64)
    write_case("reduce-mean-axes-input-op18", model("ReduceMean", [("x", x), ("axes", axes)], 1, 18,
               {"keepdims": 0}), [("x", x), ("axes", axes)])
    write_case("reduce-max-noop-op18", model("ReduceMax", [("x", x)], 1, 18,
               {"noop_with_empty_axes": 1}), [("x", x)])
    write_case("reduce-l2-all-op18", model("ReduceL2", [("x", x)], 1, 18), [("x", x)])
    write_case("reduce-logsumexp-op18", model("ReduceLogSumExp", [("x", x * 30)], 1, 18,
               {}, [("axes", np.array([0, 2], np.int64))]), [("x", x * 30)])
    big = (1000 + rng.random((4, 8192))).astype(np.float32)
    write_case("reduce-sum-large", model("ReduceSum", [("x", big)], 1, 13, {"keepdims": 0},
               [("axes", np.array([1], np.int64))]), [("x", big)])
    a, b, c = f(3, 1, 5), f(4, 1), f(5)
    for op in ("Max", "Min", "Sum", "Mean"):
        write_case(op.lower() + "-three-broadcast", model(op, [("a", a), ("b", b), ("c", c)], 1, 13),
                   [("a", a), ("b", b), ("c", c)])
    cond = rng.random((4, 1)) > 0.5
    write_case("where-three-broadcast", model("Where", [("c", cond), ("a", a), ("b", c)], 1, 16),
               [("c", cond), ("a", a), ("b", c)])
    i1 = rng.integers(-5, 5, (3, 4)).astype(np.int64)
    i2 = rng.integers(-5, 5, (4,)).astype(np.int64)
    for op in ("Less", "GreaterOrEqual", "Equal"):
        write_case(op.lower() + "-int64-broadcast", model(op, [("a", i1), ("b", i2)], 1, 16, out_type=TensorProto.BOOL),
                   [("a", i1), ("b", i2)])
    write_case("mul-int64-broadcast", model("Mul", [("a", i1), ("b", i2)], 1, 14, out_type=TensorProto.INT64), [("a", i1), ("b", i2)])
    base = (rng.random((3, 4)) * 3).astype(np.float32)
    write_case("pow-broadcast", model("Pow", [("a", base), ("b", f(4))], 1, 15), [("a", base), ("b", f(4))])
    write_case("prelu-channels", model("PRelu", [("x", x)], 1, 16, {}, [("slope", f(3, 1, 1))]), [("x", x)])
    for op in ("Softmax", "LogSoftmax", "Hardmax"):
        write_case(op.lower() + "-coerce-op11", model(op, [("x", x)], 1, 11, {"axis": 2}), [("x", x)])
        write_case(op.lower() + "-axis1-op13", model(op, [("x", x)], 1, 13, {"axis": 1}), [("x", x)])
    for name, eq, shapes in [
            ("einsum-batch-matmul", "bij, bjk -> bik", [(2, 3, 4), (2, 4, 5)]),
            ("einsum-attention", "bhid,bhjd->bhij", [(2, 3, 4, 5), (2, 3, 6, 5)]),
            ("einsum-transpose", "ij->ji", [(3, 4)]),
            ("einsum-diagonal-ellipsis", "...ii->...i", [(2, 3, 4, 4)]),
            ("einsum-implicit", "ij,jk", [(3, 4), (4, 2)]),
            ("einsum-inner", "i,i", [(7,), (7,)]),
            ("einsum-broadcast-ellipsis", "...ij,...jk->...ik", [(2, 1, 3, 4), (1, 5, 4, 2)]),
            ("einsum-three", "ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)])]:
        ins = [("x%d" % k, f(*shape)) for k, shape in enumerate(shapes)]
        write_case(name, model("Einsum", ins, 1, 12, {"equation": eq}), ins)
    ties = rng.integers(0, 3, (3, 6)).astype(np.float32)
    write_case("argmin-last-index", model("ArgMin", [("x", ties)], 1, 13,
               {"axis": 1, "keepdims": 0, "select_last_index": 1}, out_type=TensorProto.INT64), [("x", ties)])
    b1, b2, c1 = rng.random((3, 4)) > 0.5, rng.random((4,)) > 0.5, rng.random((3, 1)) > 0.5
    write_case("equal-bool-broadcast", model("Equal", [("a", b1), ("b", b2)], 1, 11,
               out_type=TensorProto.BOOL), [("a", b1), ("b", b2)])
    write_case("where-bool", model("Where", [("c", c1), ("a", b1), ("b", b2)], 1, 16,
               out_type=TensorProto.BOOL), [("c", c1), ("a", b1), ("b", b2)],
               np.where)  # ONNX Runtime has no bool Where
    return 0


if __name__ == "__main__":
    sys.exit(main())
