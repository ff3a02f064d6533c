"""zoo-ort.py — the ONNX Runtime side of tests/zoo-check.sh (an interpreter with onnxruntime).

    python3 tests/zoo-ort.py VAL.npy FP32.onnx DIR LAYER_IMAGES RESULTS|- VARIANT.onnx...

One process per model. Prints "ok   …" / "FAIL …" lines:

  FP32       ONNX Runtime's logits of FP32.onnx on VAL.npy against qcal's (DIR/fp32.pred,
             `qcal eval --scores`): top-1 equal on every image, relative error < 1e-3
             (max over images of max|qcal - ort| / max|ort|). A model quantized by
             quantize_dynamic is run as it is, one image at a time (its DynamicQuantizeLinear
             ranges are per run).
  layers     every quantized layer of each variant (DIR/VARIANT.layers, cut by zoo-onnx.py)
             run by ONNX Runtime on qcal's own 8-bit inputs (DIR/VARIANT.dump, written by
             zoo-dump for the first LAYER_IMAGES images). qcal's code must be the exactly
             rounded value (+ zero point, saturated), except within TIE_STEPS of a rounding
             boundary (sums in another order may fall either side), and never more than
             LAYER_MAX_STEPS away. The value is, for a layer ending in QuantizeLinear (QDQ,
             FakeQuantize), x / scale with x from ONNX Runtime's op-by-op run (no fusion); for
             QLinearAdd and QLinearGlobalAveragePool, computed here in float64 from qcal's
             inputs (ONNX Runtime's kernels round in float and are one step off on up to a few
             % of the values): there qcal must give exactly that value, exact ties to even
             where its 31-bit multipliers hold the scale ratios exactly. Other QOperator layers (QLinearConv, QGemm, QLinearConcat,
             MaxPool, …; integer in both runtimes) must be within LAYER_MAX_STEPS of ONNX
             Runtime's codes everywhere and equal on all but QOP_MAX_SHARE of the values.
  end to end the whole file in ONNX Runtime against qcal's logits (DIR/VARIANT.pred): top-1
             agreement and the largest logit difference in output steps (DIR/steps.txt).
             Reported, and appended to RESULTS; see README "Model zoo" for why it is not a
             gate on deep untrained networks.
"""
import os
import sys
from fractions import Fraction

import numpy as np
import onnxruntime as ort

LAYER_MAX_STEPS = 1
TIE_STEPS = 1e-3
EXACT_TIE_STEPS = 1e-9  # computed here in float64: closer to k + 1/2 than this is a tie
QOP_MAX_SHARE = 0.02
FP32_MAX_REL = 1e-3


def session(path):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 2
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def qcal_scores(pred):
    rows = [l.rstrip("\n").split("\t") for l in open(pred)]
    return np.array([[float(v) for v in r[3].split()] for r in rows], dtype=np.float64)


def ort_logits(path, x):
    s = session(path)
    name = s.get_inputs()[0].name
    # DynamicQuantizeLinear takes its range from the whole batch: one image per run, as qcal
    # (the op type is plain text in the protobuf)
    with open(path, "rb") as f:
        batch = 1 if b"DynamicQuantizeLinear" in f.read() else 32
    return np.concatenate([s.run(None, {name: x[i:i + batch]})[0]
                           for i in range(0, len(x), batch)]).astype(np.float64)


def read_dump(path, images):
    """[{name: array}] per image, from zoo-dump's records (a new image starts when a name
    comes again)."""
    b = open(path, "rb").read()
    out, cur, i = [], {}, 0
    while i < len(b):
        j = b.index(b"\0", i)
        name = b[i:j].decode()
        dtype = np.uint8 if b[j + 1] == 2 else np.int8
        rank = b[j + 2]
        dims = np.frombuffer(b, dtype="<i8", count=rank, offset=j + 3) if rank else np.zeros(0, np.int64)
        start = j + 3 + 8 * rank
        n = int(np.prod(dims)) if rank else 1
        if name in cur:
            out.append(cur)
            cur = {}
        cur[name] = np.frombuffer(b, dtype=dtype, count=n, offset=start).reshape(dims)
        i = start + n
    out.append(cur)
    return out[:images]


def verdict(passed, what):
    print("%s %s" % ("ok  " if passed else "FAIL", what), flush=True)


def session_noopt(path):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 2
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def check_layers(mname, v, d, x, dump):
    """Each layer on qcal's inputs; returns (layers checked, worst layer)."""
    ldir = os.path.join(d, v + ".layers")
    checked, bad = 0, []
    worst = (0, 0, "")  # (largest difference in steps, values off, tensor)
    ties, tie_dist = 0, 0.0
    for line in open(os.path.join(ldir, "index.txt")):
        k, out, deps, qp = line.split()
        deps = deps.split(",")
        if any(out not in img or any(t != "input" and t not in img for t in deps) for img in dump):
            continue  # a tensor qcal does not produce in 8 bits (fused away): nothing to compare
        kind, _, params = qp.partition(":")
        rounded = kind != "-"  # judged against an exactly rounded value, else ONNX Runtime's codes
        path = os.path.join(ldir, k + ".onnx")
        s = session_noopt(path) if kind == "q" else session(path)
        diff = off = total = 0
        off_dist = 0.5  # the off value closest to a tie, in steps
        for i, img in enumerate(dump):
            feed = {t: (x[i:i + 1] if t == "input" else img[t]) for t in deps}
            res = s.run(None, feed)
            got = img[out].astype(np.int64).reshape(-1)
            ref = res[0].astype(np.int64).reshape(-1)
            if ref.size != got.size:
                bad.append("%s: %d values, ONNX Runtime %d" % (out, got.size, ref.size))
                break
            if kind == "q":
                # QuantizeLinear's value x / scale in float32, x from ONNX Runtime's op-by-op run
                scale, zp = params.split(",")
                zp = int(zp)
                lo, hi = (0, 255) if res[0].dtype == np.uint8 else (-128, 127)
                q = (res[1].astype(np.float32) / np.float32(float(scale))).astype(np.float64).reshape(-1)
            elif kind in ("add", "gap"):
                # ONNX Runtime's QLinearAdd and QLinearGlobalAveragePool round in float (up to a
                # few % of the values one step off): the exact value, in float64, instead
                p = params.split(",")
                if kind == "add":
                    sa, za, sb, zb, sy, zy, ia, ib, lo, hi = p
                    a = feed[deps[int(ia)]].astype(np.float64) - int(za)
                    b = feed[deps[int(ib)]].astype(np.float64) - int(zb)
                    q = ((float(sa) * a + float(sb) * b) / float(sy)).reshape(-1)
                    ratios = [Fraction(float(sa)) / Fraction(float(sy)),
                              Fraction(float(sb)) / Fraction(float(sy))]
                else:
                    sx, zx, sy, zy, ix, lo, hi = p
                    xv = feed[deps[int(ix)]].astype(np.float64) - int(zx)
                    n = int(np.prod(xv.shape[2:]))
                    q = (xv.mean(axis=tuple(range(2, xv.ndim))) * float(sx) / float(sy)).reshape(-1)
                    ratios = [Fraction(float(sx)) / (Fraction(float(sy)) * n)]
                # qcal's 31-bit multipliers hold these ratios exactly only when they are dyadic
                # and short: then an exact tie stays one and must go to even; otherwise it is
                # a near-tie for qcal (off by the multiplier's rounding) and may go either way
                exact = all(r.denominator & (r.denominator - 1) == 0 and r.numerator.bit_length() <= 31
                            for r in ratios)
                zp, lo, hi = int(zy), int(lo), int(hi)
                # a value within float64's error of k + 1/2 is an exact tie: to the even one
                below = np.round(q - 0.5)
                tie = np.abs(q - below - 0.5) < EXACT_TIE_STEPS
                r = np.where(tie, np.where(below % 2 == 0, below, below + 1), np.rint(q))
                ref = np.clip(r + zp, lo, hi).astype(np.int64)
            dd = np.abs(ref - got)
            diff, total = max(diff, int(dd.max(initial=0))), total + dd.size
            if rounded:
                # qcal's code must be the nearest integer (+ zero point, saturated) unless the
                # value lies within TIE_STEPS of a rounding boundary, where sums in another
                # order may fall either side
                near = np.abs(np.abs(q - np.floor(q)) - 0.5) < TIE_STEPS
                if kind != "q" and exact:
                    near[:] = False  # exact ratios: no excuse
                sat = (q + zp >= hi) | (q + zp <= lo)
                miss = dd > 0
                bad_mask = miss & ~(near & ~sat)
                off += int(bad_mask.sum())
                if bad_mask.any():
                    off_dist = min(off_dist, float(np.abs(np.abs(q - np.floor(q)) - 0.5)[bad_mask].min()))
                ties += int((miss & near).sum())
                dist = np.abs(np.abs(q - np.floor(q)) - 0.5)[miss & near]
                tie_dist = max(tie_dist, float(dist.max(initial=0)))
            else:
                off += int((dd > 0).sum())
        checked += 1
        limit = 0 if rounded else QOP_MAX_SHARE * total
        if (diff, off) > worst[:2]:
            worst = (diff, off, out)
        if diff > LAYER_MAX_STEPS or off > limit:
            bad.append("%s: %d of %d values off%s, by up to %d steps"
                       % (out, off, total, " (%.1e step or more from a tie)" % off_dist if rounded else "", diff))
    verdict(not bad and checked > 0,
            "%s %s: %d layers on qcal's inputs give qcal's codes (worst %d step(s); %d values "
            "a step apart within %.1e step of a tie)%s"
            % (mname, v, checked, worst[0], ties, tie_dist, ("; " + "; ".join(bad[:3])) if bad else ""))
    return checked, worst


def main():
    val, fp32_model, d, layer_images, results = sys.argv[1:6]
    files = sys.argv[6:]
    x = np.load(val)
    mname = os.path.basename(fp32_model)[:-len(".onnx")]
    steps = dict(l.split() for l in open(os.path.join(d, "steps.txt"))) if files else {}

    ref = ort_logits(fp32_model, x)
    got = qcal_scores(os.path.join(d, "fp32.pred"))
    if got.shape != ref.shape:
        verdict(False, "%s FP32: qcal gives %s logits, ONNX Runtime %s" % (mname, got.shape, ref.shape))
    else:
        agree = (got.argmax(1) == ref.argmax(1)).mean()
        rel = (np.abs(got - ref).max(1) / np.maximum(np.abs(ref).max(1), 1e-30)).max()
        verdict(agree == 1.0, "%s FP32: top-1 equal to ONNX Runtime's on %.4f of the images" % (mname, agree))
        verdict(rel < FP32_MAX_REL, "%s FP32: relative logit error %.2e < %g" % (mname, rel, FP32_MAX_REL))
    out = open(results, "a") if results != "-" else None
    for path in files:
        v = os.path.basename(path)[:-len(".onnx")]
        try:
            ref = ort_logits(path, x)
        except Exception as e:
            verdict(False, "ONNX Runtime runs %s %s (%s)" % (mname, v, str(e).splitlines()[0][:200]))
            continue
        verdict(True, "ONNX Runtime runs %s %s" % (mname, v))
        dump = read_dump(os.path.join(d, v + ".dump"), int(layer_images))
        checked, worst = check_layers(mname, v, d, x, dump)
        got = qcal_scores(os.path.join(d, v + ".pred"))
        step = steps.get(v, "none")
        if got.shape != ref.shape or step == "none":
            verdict(False, "%s %s: qcal gives %s logits, ONNX Runtime %s, output step %s"
                    % (mname, v, got.shape, ref.shape, step))
            continue
        agree = (got.argmax(1) == ref.argmax(1)).mean()
        diff = np.abs(got - ref).max() / float(step)
        print("info %s %s end to end: top-1 agreement %.4f, logits within %.2f output steps"
              % (mname, v, agree, diff))
        if out:
            out.write("%s %s %.4f %.2f %d %d %.2g\n" % (mname, v, agree, diff, checked, worst[0], worst[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
