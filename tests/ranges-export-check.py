"""ranges-export-check.py — reads back the files of `qcal quantize --write-trt-cache` and
`--write-ort-overrides` with parsers of its own and compares them with the parameters qcal
printed (`--json`), for tests/ranges-export-test.sh. Standard library only.

    ranges-export-check.py trt REPORT.json CACHE
    ranges-export-check.py ort REPORT.json OVERRIDES.json MODEL.onnx
    ranges-export-check.py ort-quantize REPORT.json OVERRIDES.json MODEL.onnx OUT.onnx

Prints what it checked and exits 0, or prints the first difference and exits 1. ort-quantize
(ONNX Runtime's quantize_static with the overrides, then the scales in the file it wrote)
needs onnx >= 1.13 beside onnxruntime in this interpreter: without it, it prints
"skip: <reason>" and exits 3.
"""
import json
import struct
import sys


def f32(v):
    """v rounded to single precision (one rounding of the exact double)"""
    return struct.unpack("<f", struct.pack("<f", v))[0]


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def load_report(path):
    with open(path) as f:
        return json.load(f)


def trt_expected_scale(t):
    """TensorRT's symmetric int8 scale: amax / 127 in float32, 1 for a zero range (eq. P10)"""
    amax = max(abs(f32(t["min"])), abs(f32(t["max"])))
    s = f32(amax / 127.0)  # float / float in double, rounded once: the float quotient
    return s if s >= 2.0 ** -126 else 1.0


def parse_trt(path):
    """a TensorRT calibration cache: header line, then 'name: hex' (big-endian float32 bits)"""
    with open(path) as f:
        lines = f.read().split("\n")
    if lines[-1] != "":
        fail(f"{path}: no newline at the end")
    header, scales = lines[0], {}
    for line in lines[1:-1]:
        name, sep, hexbits = line.rpartition(": ")
        if not sep or len(hexbits) != 8:
            fail(f"{path}: not 'name: xxxxxxxx': {line!r}")
        if name in scales:
            fail(f"{path}: {name} twice")
        scales[name] = struct.unpack(">f", bytes.fromhex(hexbits))[0]
    return header, scales


def check_trt(report_path, cache_path):
    r = load_report(report_path)
    header, scales = parse_trt(cache_path)
    algo = "EntropyCalibration2" if r["method"] == "entropy" else "MinMaxCalibration"
    if header != "TRT-8601-" + algo:
        fail(f"header {header!r}, expected TRT-8601-{algo}")
    acts = [t for t in r["tensors"] if t["role"] in ("input", "activation")]
    if sorted(scales) != sorted(t["name"] for t in acts):
        fail(f"tensors {sorted(scales)} != the report's activations {sorted(t['name'] for t in acts)}")
    same_as_qcal = 0
    for t in acts:
        want = trt_expected_scale(t)
        if scales[t["name"]] != want:
            fail(f"{t['name']}: cache scale {scales[t['name']]!r}, amax/127 = {want!r}")
        # where qcal itself quantized the tensor int8 symmetric, the scale is qcal's
        if t["qmin"] == -128 and t["zero_point"] == [0]:
            if scales[t["name"]] != f32(t["scale"][0]):
                fail(f"{t['name']}: cache scale {scales[t['name']]!r}, qcal's {t['scale'][0]!r}")
            same_as_qcal += 1
    print(f"trt: {len(acts)} scales = amax/127 of qcal's ranges, {same_as_qcal} equal to qcal's int8 scales")


def check_ort(report_path, overrides_path, model_path):
    r = load_report(report_path)
    with open(overrides_path) as f:
        ov = json.load(f)
    want = [t for t in r["tensors"] if t["role"] in ("input", "activation", "weight")]
    if sorted(ov) != sorted(t["name"] for t in want):
        fail(f"tensors {sorted(ov)} != the report's {sorted(t['name'] for t in want)}")
    per_channel = 0
    for t in want:
        entries = ov[t["name"]]
        if len(entries) != len(t["scale"]):
            fail(f"{t['name']}: {len(entries)} entries for {len(t['scale'])} channels")
        qtype = "QInt8" if t["qmin"] < 0 else "QUInt8"
        for c, e in enumerate(entries):
            if f32(e["scale"]) != f32(t["scale"][c]):  # the shortest text of the float32
                fail(f"{t['name']}[{c}]: scale {e['scale']!r}, qcal's {t['scale'][c]!r}")
            if e["zero_point"] != t["zero_point"][c] or e["quant_type"] != qtype:
                fail(f"{t['name']}[{c}]: {e}, qcal's zero point {t['zero_point'][c]} {qtype}")
            if len(entries) > 1 and e.get("axis") != 0:  # the bundled models' weights: Conv, Gemm transB
                fail(f"{t['name']}[{c}]: axis {e.get('axis')}, expected 0")
            if len(entries) == 1 and "axis" in e:
                fail(f"{t['name']}: per-tensor entry with an axis")
        per_channel += len(entries) > 1
    print(f"ort: {len(want)} tensors ({per_channel} per channel) with qcal's scales and zero points")


def ort_quantize(report_path, overrides_path, model_path, out_path):
    try:
        import numpy as np
        import onnx
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    except ImportError as e:
        print(f"skip: ONNX Runtime's quantizer cannot be imported here ({e}); it needs onnx >= 1.13 "
              "in the same interpreter as onnxruntime")
        sys.exit(3)
    r = load_report(report_path)
    with open(overrides_path) as f:
        ov = json.load(f)
    for entries in ov.values():
        for e in entries:
            e["scale"] = np.array(e["scale"], dtype=np.float32)
            e["zero_point"] = np.array(e["zero_point"], dtype=np.uint8 if e["quant_type"] == "QUInt8" else np.int8)
            e["quant_type"] = QuantType.from_string(e["quant_type"])
    model = onnx.load(model_path)
    inp = model.graph.input[0]
    shape = [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.data = iter([{inp.name: rng.random(shape, dtype=np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.data, None)

    quantize_static(model_path, out_path, Reader(), quant_format=QuantFormat.QDQ, per_channel=r["per_channel"],
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    extra_options={"TensorQuantOverrides": ov})
    q = onnx.load(out_path)
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in q.graph.initializer}
    report = {t["name"]: t for t in r["tensors"]}
    checked, weights = 0, 0
    for n in q.graph.node:
        # activations: QuantizeLinear(x); weights: DequantizeLinear(x_quantized), stored quantized
        name = n.input[0] if n.input else ""
        if n.op_type == "DequantizeLinear" and name.endswith("_quantized") and name[:-10] in ov:
            name = name[:-10]
            weights += 1
        elif n.op_type != "QuantizeLinear" or name not in ov:
            continue
        scales = np.atleast_1d(inits[n.input[1]]).astype(np.float32)
        zps = np.atleast_1d(inits[n.input[2]]).astype(np.int32)
        want = np.array(report[name]["scale"], dtype=np.float32)
        if scales.shape != want.shape or not np.array_equal(scales, want):
            fail(f"ONNX Runtime wrote scale {scales} for {name}, qcal's {want}")
        if not np.array_equal(zps, np.array(report[name]["zero_point"], dtype=np.int32)):
            fail(f"ONNX Runtime wrote zero point {zps} for {name}, qcal's {report[name]['zero_point']}")
        checked += 1
    if checked == weights or weights == 0:
        fail(f"ONNX Runtime's model quantizes {checked - weights} overridden activations and {weights} weights")
    print(f"ort-quantize: the scales and zero points ONNX Runtime wrote for {checked - weights} activations "
          f"and {weights} weights are qcal's")


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "trt":
        check_trt(sys.argv[2], sys.argv[3])
    elif what == "ort":
        check_ort(sys.argv[2], sys.argv[3], sys.argv[4])
    elif what == "ort-quantize":
        ort_quantize(*sys.argv[2:6])
    else:
        fail(f"unknown check {what}")
