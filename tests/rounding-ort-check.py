"""rounding-ort-check.py — ONNX Runtime runs qcal's fakequant files with --act-round and
gives exactly what Python's decimal module computes, for tests/rounding-ort-test.sh.

    rounding-ort-check.py make MODEL.onnx            (needs onnx: writes x → Conv 1×1 → y)
    rounding-ort-check.py run MODE REPORT.json Q.onnx   (needs onnxruntime and numpy)

The model is x[1,1,28,28] → Conv(one 1×1 weight w = 1, no bias) → y: the quantizer
fake-quantizes x, w and y, so ONNX Runtime's y is fq_y(fl(fq_x(x) · fq_w(1))), one product
and nothing else in between. The reference: t = fl(x / s) in float32 (numpy), rounded by the decimal
module in exact arithmetic (the mode's decimal rounding, or floor(t + 1/2) / ceil(t − 1/2)
for half-up / half-down), clamped to [qmin, qmax] after adding z, and dequantized as
fl(fl(q − z) · s). Inputs are ties (k + 1/2)·s, their float neighbours, values past both ends
of the range, ±0 and random values. Prints what it checked, or the first difference (exit 1).
"""
import decimal
import json
import sys
from decimal import Decimal

DECIMAL_MODE = {
    "half-even": decimal.ROUND_HALF_EVEN, "half-away": decimal.ROUND_HALF_UP,
    "toward-zero": decimal.ROUND_DOWN, "up": decimal.ROUND_CEILING, "down": decimal.ROUND_FLOOR,
    "half-toward-zero": decimal.ROUND_HALF_DOWN, "away-from-zero": decimal.ROUND_UP,
    "half-up": None, "half-down": None,
}
CTX = decimal.Context(prec=200)


def make(path):
    import onnx
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 28, 28])
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 1, 1], [1.0])
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[1, 1])
    g = helper.make_graph([conv], "conv1x1", [x], [y], initializer=[w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="rounding-ort-check")
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)


def round_exact(t, mode):
    d = Decimal(float(t))  # exact
    one = Decimal(1)
    if mode == "half-up":
        return int(CTX.add(d, Decimal("0.5")).quantize(one, rounding=decimal.ROUND_FLOOR, context=CTX))
    if mode == "half-down":
        return int(CTX.subtract(d, Decimal("0.5")).quantize(one, rounding=decimal.ROUND_CEILING, context=CTX))
    return int(d.quantize(one, rounding=DECIMAL_MODE[mode], context=CTX))


def fake_quantize(np, x, s, z, qmin, qmax, mode):
    t = np.float32(x) / np.float32(s)  # fl(x / s)
    q = min(max(round_exact(t, mode) + z, qmin), qmax)
    return np.float32(np.float32(q - z) * np.float32(s))


def run(mode, report_path, model_path):
    import numpy as np
    import onnxruntime as ort
    with open(report_path) as f:
        rep = json.load(f)
    assert rep["act_round"] == mode, rep["act_round"]
    p = {t["name"]: t for t in rep["tensors"]}
    px, py, pw = p["x"], p["y"], p["w"]
    w = fake_quantize(np, 1.0, pw["scale"][0], pw["zero_point"][0], pw["qmin"], pw["qmax"], rep["round"])
    s, z = np.float32(px["scale"][0]), px["zero_point"][0]
    rng = np.random.default_rng(7)
    k = rng.integers(-300, 300, size=784).astype(np.float32) + np.float32(0.5)
    x = (k * s).astype(np.float32)
    x[1::5] = np.nextafter(x[1::5], np.float32(0))
    x[2::5] = np.nextafter(x[2::5], np.float32(np.inf))
    x[3::10] = rng.uniform(-3, 3, size=x[3::10].shape).astype(np.float32)
    x[4::50] = np.float32(-0.0)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
    y = sess.run(None, {"x": x.reshape(1, 1, 28, 28)})[0].reshape(-1)
    ties = 0
    for i, v in enumerate(x):
        t = np.float32(v) / s
        ties += float(t) - float(np.floor(t)) == 0.5
        fx = fake_quantize(np, v, px["scale"][0], z, px["qmin"], px["qmax"], mode)
        want = fake_quantize(np, np.float32(fx * w), py["scale"][0], py["zero_point"][0], py["qmin"], py["qmax"], mode)
        if y[i] != want:
            print(f"FAIL {mode} x[{i}] = {float(v)!r} (x / s = {float(t)!r}): ONNX Runtime {float(y[i])!r}, "
                  f"decimal {float(want)!r}")
            sys.exit(1)
    if ties < 200:
        print(f"FAIL {mode}: only {ties} ties among the inputs")
        sys.exit(1)
    print(f"{mode}: ONNX Runtime = decimal on {len(x)} values, {ties} ties")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        run(sys.argv[2], sys.argv[3], sys.argv[4])
