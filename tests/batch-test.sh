#!/bin/bash
# batch-test.sh — models exported with a fixed batch above 1: images run that many at a time,
# the last batch of a group padded with copies of its last real image, the padding's results
# ignored. A fixed-batch twin of a bundled model (input and output N set to 4 or 3, nothing
# else changed) gives byte-identical statistics (but for the model's hash), the same scores
# bit for bit, the same eval and compare JSON, and a quantized model that runs and scores as
# the twin's, whatever --threads and --batch. Prints "batch: N passed, N failed, N skipped".
set -u
tmp=$(mktemp -d /tmp/qcal-batch.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

ONNX=$(find_python onnx) || ONNX=""
if [ -z "$ONNX" ]; then
    skip "fixed-batch tests (no python with onnx to write the twins)"
    summary batch
fi
# twin SRC DST N [RESHAPE]: SRC with the batch of its input and output fixed to N; with
# RESHAPE, the output is reshaped to [1, -1] (the batch mixed into the scores' dimension)
twin() {
    "$ONNX" - "$@" <<'PY'
import sys, onnx
from onnx import helper, TensorProto
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = onnx.load(src)
g = m.graph
for v in list(g.input[:1]) + list(g.output):
    v.type.tensor_type.shape.dim[0].Clear()
    v.type.tensor_type.shape.dim[0].dim_value = n
del g.value_info[:]
if len(sys.argv) > 4:
    out = g.output[0]
    k = out.type.tensor_type.shape.dim[1].dim_value
    g.initializer.append(helper.make_tensor("flat_shape", TensorProto.INT64, [2], [1, -1]))
    g.node.append(helper.make_node("Reshape", [out.name, "flat_shape"], ["flat"]))
    g.output.pop()
    g.output.append(helper.make_tensor_value_info("flat", TensorProto.FLOAT, [1, n * k]))
onnx.checker.check_model(m)
onnx.save(m, dst)
PY
}

# The twins sit under the same file name as the model (statistics record it) with its card.
for d in b1 b4 b3 flat; do mkdir -p "$tmp/$d"; done
for m in lenet mobilenet; do
    cp "models/$m.onnx" "models/$m.json" "$tmp/b1/"
    twin "models/$m.onnx" "$tmp/b4/$m.onnx" 4 && cp "models/$m.json" "$tmp/b4/"
    twin "models/$m.onnx" "$tmp/b3/$m.onnx" 3 && cp "models/$m.json" "$tmp/b3/"
done
twin models/lenet.onnx "$tmp/flat/lenet.onnx" 4 reshape && cp models/lenet.json "$tmp/flat/"
expect "inspect reads the batch-4 twin" 0 "$QCAL" inspect "$tmp/b4/lenet.onnx"

# stats: the same file but for the model line (its hash), 37 images (padding in the last batch)
nomodel() { grep -v '^ "model": ' "$1" >"$1.rest"; }
for m in lenet mobilenet; do
    expect "stats over the dynamic $m" 0 "$QCAL" stats --quiet --limit 37 -o "$tmp/$m-b1.json" "$tmp/b1/$m.onnx" data/calib
    nomodel "$tmp/$m-b1.json"
    for run in "b4 1 32" "b4 2 48" "b3 2 16" "b3 1 32"; do
        set -- $run
        expect "stats over the batch-${1#b} $m, --threads $2 --batch $3" 0 "$QCAL" stats --quiet --limit 37 \
            --threads "$2" --batch "$3" -o "$tmp/$m-$1.json" "$tmp/$1/$m.onnx" data/calib
        nomodel "$tmp/$m-$1.json"
        same "its statistics are the dynamic model's byte for byte" "$tmp/$m-b1.json.rest" "$tmp/$m-$1.json.rest"
    done
done
contains "the recorded shapes are one image's" "$tmp/lenet-b4.json" '"shape": [1, 1, 28, 28]'

# eval: the same scores bit for bit, the same metrics (tolerance 0)
metrics() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['images'], d['skipped'], d['top1_correct'], d['top5_correct'])" "$1"; }
for d in b1 b4 b3 flat; do
    expect "eval of lenet ($d) over 203 images" 0 "$QCAL" eval --json --limit 203 --threads 2 \
        --predictions "$tmp/$d.tsv" --scores "$tmp/$d/lenet.onnx" data/val
    metrics "$tmp/out" >"$tmp/$d.metrics"
done
for d in b4 b3 flat; do
    same "eval of the $d twin gives the dynamic model's scores bit for bit" "$tmp/b1.tsv" "$tmp/$d.tsv"
    same "and its top-1 and top-5 counts" "$tmp/b1.metrics" "$tmp/$d.metrics"
done

# compare: the same JSON (accuracy, agreement, per-layer error) but for the model's path
for d in b1 b4; do
    expect "compare of lenet ($d)" 0 "$QCAL" compare --json --limit 40 "$tmp/$d/lenet.onnx" data/calib data/val
    sed "s|$tmp/$d/||g" "$tmp/out" >"$tmp/cmp-$d.json"
done
same "compare of the batch-4 twin gives the dynamic model's JSON" "$tmp/cmp-b1.json" "$tmp/cmp-b4.json"

# quantize from images: the quantized fixed-batch model runs and scores as the twin's
for d in b1 b4; do
    expect "quantize lenet ($d) from 37 images" 0 "$QCAL" quantize --quiet --limit 37 -o "$tmp/$d/q.onnx" \
        "$tmp/$d/lenet.onnx" data/calib
    expect "eval of the quantized lenet ($d)" 0 "$QCAL" eval --limit 203 --predictions "$tmp/q-$d.tsv" --scores \
        "$tmp/$d/q.onnx" data/val
done
same "the quantized batch-4 model scores as the quantized dynamic one, bit for bit" "$tmp/q-b1.tsv" "$tmp/q-b4.tsv"
if "$ONNX" -c "import onnx,sys; m=onnx.load(sys.argv[1]); onnx.checker.check_model(m); \
    assert m.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 4" "$tmp/b4/q.onnx" 2>"$tmp/err"; then
    ok "the quantized model keeps the fixed batch of 4 and passes onnx.checker"
else
    bad "the quantized model keeps the fixed batch of 4 and passes onnx.checker ($(tail -c 300 "$tmp/err"))"
fi

# ONNX Runtime runs the quantized batch-4 file, each row as the quantized dynamic file runs it
ORT=$(find_python onnxruntime) || ORT=""
if [ -z "$ORT" ]; then
    skip "ONNX Runtime on the quantized batch-4 model (no python with onnxruntime)"
elif "$ORT" - "$tmp/b4/q.onnx" "$tmp/b1/q.onnx" <<'PY' >"$tmp/ort" 2>&1; then
import sys, numpy as np, onnxruntime as ort
fixed, dynamic = (ort.InferenceSession(p, providers=["CPUExecutionProvider"]) for p in sys.argv[1:3])
x = np.random.default_rng(4).normal(size=(4, 1, 28, 28)).astype(np.float32)
got = fixed.run(None, {fixed.get_inputs()[0].name: x})[0]
want = np.concatenate([dynamic.run(None, {dynamic.get_inputs()[0].name: x[i:i + 1]})[0] for i in range(4)])
assert got.shape == (4, 10), got.shape
assert np.array_equal(got, want), np.abs(got - want).max()
PY
    ok "ONNX Runtime runs the quantized batch-4 model as the quantized dynamic one, row by row"
else
    bad "ONNX Runtime runs the quantized batch-4 model as the quantized dynamic one ($(tail -c 300 "$tmp/ort"))"
fi

# --skip-bad: unreadable images leave their rows to the next readable ones
mkdir -p "$tmp/mix/a"
cp data/val/0_tshirt-top/*.png "$tmp/mix/a/"
echo junk >"$tmp/mix/a/0003-bad.png"
echo junk >"$tmp/mix/a/zzz.png"
for d in b1 b4; do
    expect "stats --skip-bad over lenet ($d)" 0 "$QCAL" stats --quiet --skip-bad -o "$tmp/skip-$d.json" "$tmp/$d/lenet.onnx" "$tmp/mix"
    nomodel "$tmp/skip-$d.json"
    expect "eval --skip-bad of lenet ($d)" 0 "$QCAL" eval --skip-bad --predictions "$tmp/skip-$d.tsv" --scores \
        "$tmp/$d/lenet.onnx" "$tmp/mix"
done
same "with unreadable images the statistics are the same" "$tmp/skip-b1.json.rest" "$tmp/skip-b4.json.rest"
same "and the scores" "$tmp/skip-b1.tsv" "$tmp/skip-b4.tsv"

# bench runs the fixed batch
expect "bench of the batch-4 twin" 0 "$QCAL" bench --json --runs 2 "$tmp/b4/lenet.onnx"
if [ "$(json_get "$tmp/out" '["batch"]')" = 4 ]; then ok "bench runs batches of 4"; else bad "bench runs batches of 4 ($(head -c 200 "$tmp/out"))"; fi

summary batch
