#!/usr/bin/env python3
"""layer-sqnr-ort.py — per-layer SQNR of a QDQ model against its FP32 model, in ONNX Runtime.

    tools/layer-sqnr-ort.py FP32.onnx QDQ.onnx... IMAGES [--limit N] [--json] [-o OUT.json]
                            [--size HxW] [--crop HxW] [--scale S] [--mean M[,M,M]]
                            [--std S[,S,S]] [--color gray|rgb|bgr] [--card CARD.json]
                            [--threads N] [--optimization disable|basic|extended|all]
                            [--onnx-python PATH]

An independent check of `qcal compare`'s per-layer error. For every quantized activation of
each QDQ.onnx (a QuantizeLinear → DequantizeLinear pair on a computed tensor), it takes the
tensor the next layer reads, the DequantizeLinear output, and the FP32 model's tensor of the
same name, exposes both as graph outputs, runs both models in ONNX Runtime image by image,
and reports

    SQNR = 10·log10(Σ x² / Σ (x − x̂)²)   over every value of every image,

x the FP32 tensor, x̂ the dequantized one (sums in float64, in image order).

Which FP32 tensor a pair quantizes is read from the graph, as quantizers write it:

  - the QuantizeLinear input, when the FP32 model has a tensor of that name;
  - else through a Clip with constant bounds (a b-bit range before the QuantizeLinear) and
    a Div by a constant (input compensation: x / S, quantized with scale 1), in that order
    walking back; the dequantized value is then in units of S and is multiplied by S;
  - a pair whose DequantizeLinear writes a graph output is that output (quantizers rename
    the tensor before the QuantizeLinear and give its name to the DequantizeLinear output);
  - a tensor computed by MaxPool, Flatten, Reshape, Squeeze, Unsqueeze or Identity from a
    dequantized tensor in units of S keeps those units (the compensated family).

Pairs that match no FP32 tensor are listed under "unmatched". Nothing in this script knows
a particular model.

Images: a folder of PNG files (sorted by relative path, as qcal sorts them; the first
--limit) preprocessed as qcal does (io/preprocess.c: PIL's convert("L"/"RGB"), bilinear
resize as PyTorch's F.interpolate, center crop, (p·scale − mean) / std in float32), with the
model card next to FP32.onnx (or --card) and the flags overriding it; or a .npy file of
preprocessed inputs [N, C, H, W] float32.

Two interpreters: ONNX Runtime runs here; editing the graphs needs the `onnx` module and
decoding the images needs PIL. When this interpreter lacks them, the first step runs in
--onnx-python (default: the first of python3 and /usr/bin/python3 that has them) as
`layer-sqnr-ort.py --prepare WORKDIR`.

Output: a table per quantized model, or with --json (or -o FILE) one object
  {"format": "qcal-layer-sqnr", "version": 1, "fp32", "images", "onnxruntime",
   "quantized": [{"model", "tensors": [{"tensor", "dequantized", "channel_scales", "values",
   "sqnr_db", "identical", "max_abs_err"}], "unmatched": [names]}]}
one entry per QDQ.onnx in order, "sqnr_db" null when not finite ("identical" says when
x̂ = x). Exit status: 0, 2 for a usage error, 3 for a bad model or image, 4 for a missing
tool or file.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

FORMAT = "qcal-layer-sqnr"
VERSION = 1
# ops that move values without changing their units (input compensation, rule Q14)
UNIT_KEEPING = {"MaxPool", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity"}


class BadInput(Exception):
    """A model, image or card that cannot be used (exit 3)."""


# ---- first step: graphs and images (needs onnx and PIL) ---------------------------------------


def _is_std(node):
    return node.domain in ("", "ai.onnx")


def _match_pairs(fp32, qdq):
    """[(fp32 name, dq output, divisor name or None)], [unmatched dq outputs], {name: array}."""
    from onnx import numpy_helper

    fp32_names = {i.name for i in fp32.graph.input}
    for n in fp32.graph.node:
        fp32_names.update(o for o in n.output if o)
    consts = {i.name: numpy_helper.to_array(i) for i in qdq.graph.initializer}
    for n in qdq.graph.node:
        if n.op_type == "Constant" and _is_std(n):
            for a in n.attribute:
                if a.name == "value":
                    consts[n.output[0]] = numpy_helper.to_array(a.t)
    producer = {o: n for n in qdq.graph.node for o in n.output if o}
    outputs = {o.name for o in qdq.graph.output}

    def const_inputs(node):
        return all(not x or x in consts for x in node.input[1:])

    pairs, unmatched, unit_of = [], [], {}
    for dq in qdq.graph.node:  # topological: a family's root comes before its members
        if dq.op_type != "DequantizeLinear" or not _is_std(dq):
            continue
        q = producer.get(dq.input[0])
        if q is None or q.op_type != "QuantizeLinear" or not _is_std(q) or q.input[0] in consts:
            continue  # constants (weights, biases) are not activations
        name, divisor = None, None
        if dq.output[0] in outputs and dq.output[0] in fp32_names:
            name = dq.output[0]
        x = q.input[0]
        if name is None and x in fp32_names:
            name = x
        for step in ("Clip", "Div"):
            if name is not None:
                break
            p = producer.get(x)
            if p is not None and p.op_type == step and _is_std(p) and const_inputs(p):
                if step == "Div":
                    divisor = p.input[1]
                x = p.input[0]
                if x in fp32_names:
                    name = x
        if divisor is None:  # a member of a compensated family keeps its root's units
            p = producer.get(x)
            if p is not None and p.op_type in UNIT_KEEPING and _is_std(p):
                divisor = unit_of.get(p.input[0])
        if divisor is not None:
            unit_of[dq.output[0]] = divisor
        if name is None:
            unmatched.append(dq.output[0])
        else:
            pairs.append((name, dq.output[0], divisor))
    divisors = {d: consts[d].astype(np.float32) for _, _, d in pairs if d is not None}
    return pairs, unmatched, divisors


def _with_outputs(model, names):
    from onnx import TensorProto, helper

    have = {o.name for o in model.graph.output} | {i.name for i in model.graph.input}
    for n in names:
        if n not in have:
            model.graph.output.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, None))
            have.add(n)
    return model


def _card_preprocess(path):
    with open(path) as f:
        card = json.load(f)
    pre = card.get("preprocess", {})
    if not isinstance(pre, dict):
        raise BadInput("bad model card '%s': \"preprocess\" must be an object" % path)
    return pre


def _size(v):
    if v is None:
        return None
    if isinstance(v, (int, float)):
        return (int(v), int(v))
    if isinstance(v, str):
        h, _, w = v.partition("x")
        return (int(h), int(w or h))
    return (int(v[0]), int(v[1]))


def _axis_taps(n_in, n_out, first, n):
    """Source indices and weights of a bilinear resize (align_corners=False), as qcal's."""
    scale = np.float32(n_in) / np.float32(n_out)
    taps = []
    for k in range(n):
        i = first + k
        if i < 0 or i >= n_out:
            taps.append((-1, -1, np.float32(0), np.float32(0)))
            continue
        s = np.float32(scale * (np.float32(i) + np.float32(0.5)) - np.float32(0.5))
        s = max(s, np.float32(0))
        i0 = min(int(s), n_in - 1)
        i1 = i0 + (1 if i0 < n_in - 1 else 0)
        l1 = min(np.float32(s - np.float32(i0)), np.float32(1))
        taps.append((i0, i1, np.float32(1) - l1, l1))
    return taps


def _crop_offset(size, crop):
    if crop <= size:
        return round((size - crop) / 2)  # Python's round: half to even, as torchvision
    return -((crop - size) // 2)


def _load_image(path, pp, channels, height, width):
    from PIL import Image

    color = pp["color"]
    with Image.open(path) as im:
        p = np.asarray(im.convert("L" if color == "gray" else "RGB"), dtype=np.float32)
    p = p[None] if p.ndim == 2 else p.transpose(2, 0, 1)
    if color == "bgr":
        p = p[::-1]
    if p.shape[0] != channels:
        raise BadInput("'%s': colour %s gives %d channels but the model takes %d" % (path, color, p.shape[0], channels))
    resize, crop = pp.get("size"), pp.get("crop")
    rh, rw = resize if resize else p.shape[1:]
    h, w = crop if crop else (rh, rw)
    if not resize and not crop and (h, w) != (height, width):
        rh, rw = h, w = height, width
    if (h, w) != (height, width):
        raise BadInput("'%s': preprocessing gives %dx%d pixels but the model takes %dx%d" % (path, h, w, height, width))
    top, left = (_crop_offset(rh, h), _crop_offset(rw, w)) if crop else (0, 0)
    ty = _axis_taps(p.shape[1], rh, top, h)
    tx = _axis_taps(p.shape[2], rw, left, w)
    out = np.zeros((channels, h, w), np.float32)
    xs = [t for t in tx if t[0] >= 0]
    cols = [k for k, t in enumerate(tx) if t[0] >= 0]
    i0 = np.array([t[0] for t in xs], np.int64)
    i1 = np.array([t[1] for t in xs], np.int64)
    l0 = np.array([t[2] for t in xs], np.float32)
    l1 = np.array([t[3] for t in xs], np.float32)
    for y, (y0, y1, m0, m1) in enumerate(ty):
        if y0 < 0 or not cols:
            continue
        a = p[:, y0, i0] * l0 + p[:, y0, i1] * l1
        b = p[:, y1, i0] * l0 + p[:, y1, i1] * l1
        out[:, y, cols] = a * m0 + b * m1
    scale = np.float32(pp["scale"])
    mean = np.asarray(pp["mean"], np.float32).reshape(-1, 1, 1)
    std = np.asarray(pp["std"], np.float32).reshape(-1, 1, 1)
    return (out * scale - mean) / std


def _image_paths(root):
    rels = []
    for d, _, files in os.walk(root):
        for f in files:
            if f.lower().endswith(".png"):
                rels.append(os.path.relpath(os.path.join(d, f), root))
    return [os.path.join(root, r) for r in sorted(rels, key=lambda r: r.replace(os.sep, "/").encode())]


def prepare(work):
    """The first step: reads work/request.json, writes the FP32 model and each quantized
    model with their extra outputs, the inputs and work/plan.json."""
    import onnx

    with open(os.path.join(work, "request.json")) as f:
        req = json.load(f)

    def load(path):
        try:
            return onnx.load(path)
        except Exception as e:  # onnx raises DecodeError and others
            raise BadInput("cannot read '%s': %s" % (path, e))

    fp32 = load(req["fp32"])
    initializers = {i.name for i in fp32.graph.initializer}
    inputs = [i for i in fp32.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise BadInput("'%s' has %d inputs: one image input is needed" % (req["fp32"], len(inputs)))
    dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or min(dims[1:]) < 1:
        raise BadInput("'%s': input '%s' is not NCHW with fixed channels and size" % (req["fp32"], inputs[0].name))
    plans, exposed = [], set()
    for k, path in enumerate(req["quantized"]):
        pairs, unmatched, divisors = _match_pairs(fp32, load(path))
        exposed.update(p[0] for p in pairs)
        onnx.save(_with_outputs(load(path), [p[1] for p in pairs]), os.path.join(work, "q%d.onnx" % k))
        names = {d: "d%d" % i for i, d in enumerate(sorted(divisors))}
        np.savez(os.path.join(work, "q%d.npz" % k), **{names[d]: v for d, v in divisors.items()})
        plans.append({"pairs": pairs, "unmatched": unmatched, "divisors": names})
    onnx.save(_with_outputs(fp32, sorted(exposed)), os.path.join(work, "fp32.onnx"))
    if req["images"].endswith(".npy"):
        x = np.load(req["images"]).astype(np.float32)
        if x.ndim != 4 or list(x.shape[1:]) != dims[1:]:
            raise BadInput("'%s': inputs of shape %s, the model takes [N, %d, %d, %d]" % ((req["images"], x.shape) + tuple(dims[1:])))
        x = x[: req["limit"]]
    else:
        pp = {"color": "gray" if dims[1] == 1 else "rgb", "scale": 1 / 255, "mean": [0.0], "std": [1.0]}
        card = req["card"] or os.path.splitext(req["fp32"])[0] + ".json"
        if os.path.exists(card):
            pp.update(_card_preprocess(card))
        pp.update({k: v for k, v in req["pp"].items() if v is not None})
        pp["size"], pp["crop"] = _size(pp.get("size")), _size(pp.get("crop"))
        for k in ("mean", "std"):
            v = pp[k] if isinstance(pp[k], list) else [pp[k]]
            pp[k] = (v * 3 if len(v) == 1 else v)[: dims[1]]
        paths = _image_paths(req["images"])[: req["limit"]]
        if not paths:
            raise BadInput("no PNG images under '%s'" % req["images"])
        x = np.stack([_load_image(p, pp, dims[1], dims[2], dims[3]) for p in paths])
    np.save(os.path.join(work, "inputs.npy"), x)
    with open(os.path.join(work, "plan.json"), "w") as f:
        json.dump({"input": inputs[0].name, "quantized": plans}, f)


# ---- second step: ONNX Runtime ---------------------------------------------------------------------


def _has_modules(python, modules):
    try:
        return subprocess.run([python, "-c", "import " + ", ".join(modules)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0
    except OSError:
        return False


def _run_prepare(work, onnx_python):
    need = ["onnx", "numpy", "PIL"]
    try:
        import onnx  # noqa: F401
        import PIL  # noqa: F401

        return prepare(work)
    except ImportError:
        pass
    candidates = [onnx_python] if onnx_python else ["python3", "/usr/bin/python3"]
    for py in candidates:
        if shutil.which(py) and _has_modules(py, need):
            r = subprocess.run([py, os.path.abspath(__file__), "--prepare", work], stderr=subprocess.PIPE, text=True)
            if r.returncode == 3:
                last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "bad input"
                raise BadInput(last[len("error: "):] if last.startswith("error: ") else last)
            if r.returncode != 0:
                raise RuntimeError("the first step failed in %s: %s" % (py, r.stderr.strip()[-2000:]))
            return None
    raise FileNotFoundError("no interpreter with %s (tried %s; --onnx-python)" % (", ".join(need), ", ".join(candidates)))


def measure(args):
    try:
        import onnxruntime as ort
    except ImportError:
        raise FileNotFoundError("no onnxruntime in %s: run this script with an interpreter that has it" % sys.executable)

    work = tempfile.mkdtemp(prefix="layer-sqnr-")
    try:
        pp = {"size": args.size, "crop": args.crop, "scale": args.scale, "color": args.color,
              "mean": [float(v) for v in args.mean.split(",")] if args.mean else None,
              "std": [float(v) for v in args.std.split(",")] if args.std else None}
        with open(os.path.join(work, "request.json"), "w") as f:
            json.dump({"fp32": os.path.abspath(args.fp32), "quantized": [os.path.abspath(q) for q in args.quantized],
                       "images": os.path.abspath(args.images), "limit": args.limit, "card": args.card, "pp": pp}, f)
        _run_prepare(work, args.onnx_python)
        with open(os.path.join(work, "plan.json")) as f:
            plan = json.load(f)
        x = np.load(os.path.join(work, "inputs.npy"))
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[args.optimization]

        def session(path, shown):
            try:
                return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            except Exception as e:  # onnxruntime's own exception types
                raise BadInput("ONNX Runtime cannot load '%s': %s" % (shown, e))

        inp = plan["input"]
        s32 = session(os.path.join(work, "fp32.onnx"), args.fp32)
        f_names = sorted({p[0] for q in plan["quantized"] for p in q["pairs"] if p[0] != inp})
        models = []
        for k, (path, q) in enumerate(zip(args.quantized, plan["quantized"])):
            stored = np.load(os.path.join(work, "q%d.npz" % k))
            models.append({"path": path, "pairs": q["pairs"], "session": session(os.path.join(work, "q%d.onnx" % k), path),
                           "divisors": {d: stored[v] for d, v in q["divisors"].items()},
                           # per pair: Σx², Σ(x − x̂)², values, max |x − x̂|
                           "acc": [[0.0, 0.0, 0, 0.0] for _ in q["pairs"]]})
        # image by image: one FP32 run, then every quantized model against it
        for i in range(len(x)):
            feed = {inp: x[i:i + 1]}
            ref = dict(zip(f_names, s32.run(f_names, feed) if f_names else []))
            ref[inp] = x[i:i + 1]
            for m in models:
                q_names = [p[1] for p in m["pairs"]]
                got = m["session"].run(q_names, feed) if q_names else []
                for (name, dq, div), v, a in zip(m["pairs"], got, m["acc"]):
                    r = ref[name].astype(np.float64).ravel()
                    if div is not None:
                        d = m["divisors"][div]
                        v = v * d.reshape((1, d.size) + (1,) * (v.ndim - 2))
                    v = v.astype(np.float64).ravel()
                    if r.size != v.size:
                        raise BadInput("'%s', tensor '%s': %d FP32 values but %d quantized" % (m["path"], name, r.size, v.size))
                    e = r - v
                    a[0] += float(np.dot(r, r))
                    a[1] += float(np.dot(e, e))
                    a[2] += r.size
                    a[3] = max(a[3], float(np.abs(e).max()) if e.size else 0.0)
        results = []
        for m, q in zip(models, plan["quantized"]):
            tensors = []
            for (name, dq, div), (s2, e2, n, mx) in zip(m["pairs"], m["acc"]):
                db = math.inf if e2 == 0 else -math.inf if s2 == 0 else 10 * math.log10(s2 / e2)
                tensors.append({"tensor": name, "dequantized": dq, "channel_scales": div is not None, "values": n,
                                "sqnr_db": db if math.isfinite(db) else None, "identical": e2 == 0,
                                "max_abs_err": mx})
            results.append({"model": m["path"], "tensors": tensors, "unmatched": q["unmatched"]})
        return {"format": FORMAT, "version": VERSION, "fp32": args.fp32, "images": int(len(x)),
                "onnxruntime": ort.__version__, "quantized": results}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv):
    if len(argv) == 3 and argv[1] == "--prepare":
        try:
            prepare(argv[2])
            return 0
        except BadInput as e:
            print("error: %s" % e, file=sys.stderr)
            return 3
    ap = argparse.ArgumentParser(prog="layer-sqnr-ort.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("fp32", help="the FP32 ONNX model")
    ap.add_argument("quantized", nargs="+", help="its QDQ models (e.g. from qcal quantize --format qdq)")
    ap.add_argument("images", help="a folder of PNG images, or a .npy file of preprocessed inputs")
    ap.add_argument("--limit", type=int, default=64, help="the first N images (default 64)")
    ap.add_argument("--json", action="store_true", help="print the JSON object instead of the table")
    ap.add_argument("-o", dest="out", help="also write the JSON object to this file")
    ap.add_argument("--card", help="the model card (default: FP32.onnx with .json)")
    ap.add_argument("--size", help="resize to HxW")
    ap.add_argument("--crop", help="center crop HxW")
    ap.add_argument("--scale", type=float, help="pixel scale (default 1/255)")
    ap.add_argument("--mean", help="M or M,M,M")
    ap.add_argument("--std", help="S or S,S,S")
    ap.add_argument("--color", choices=["gray", "rgb", "bgr"])
    ap.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (default 1)")
    ap.add_argument("--optimization", choices=["disable", "basic", "extended", "all"], default="disable",
                    help="ONNX Runtime graph optimizations (default disable: the file op by op)")
    ap.add_argument("--onnx-python", help="an interpreter with onnx and PIL for the first step")
    args = ap.parse_args(argv[1:])
    if args.limit < 1 or args.threads < 1:
        ap.error("--limit and --threads take a positive number")
    for p in [args.fp32] + args.quantized + [args.images]:
        if not os.path.exists(p):
            print("error: cannot read '%s': no such file or folder" % p, file=sys.stderr)
            return 4
    try:
        result = measure(args)
    except BadInput as e:
        print("error: %s" % e, file=sys.stderr)
        return 3
    except (OSError, RuntimeError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 4
    text = json.dumps(result, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    if args.json:
        print(text)
    else:
        for q in result["quantized"]:
            print("%s against %s, %d images" % (q["model"], result["fp32"], result["images"]))
            print("  %-60s %10s %10s" % ("tensor", "values", "SQNR dB"))
            for t in q["tensors"]:
                db = "inf" if t["identical"] else "-" if t["sqnr_db"] is None else "%.2f" % t["sqnr_db"]
                shown = t["tensor"] + (" (channel scales)" if t["channel_scales"] else "")
                print("  %-60s %10d %10s" % (shown, t["values"], db))
            for u in q["unmatched"]:
                print("  %-60s %10s %10s" % (u + " (no FP32 tensor)", "-", "-"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
