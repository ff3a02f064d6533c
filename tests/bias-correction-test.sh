#!/bin/bash
# bias-correction-test.sh — `quantize --bias-correction`: the empirical mode needs IMAGES (with
# --stats, from the flag or a config, exit 2 saying what to pass), writes its mode in the
# metadata and the JSON, gives byte-identical models for any --threads and --batch and
# through --write-config/--config, moves the biases the analytic mode leaves elsewhere, and
# ONNX Runtime runs what it writes (QDQ and QOperator) as qcal does
# (tests/bias-correction-ort-check.py). Prints "bias-correction: N passed, N failed, N skipped".
set -u
tmp=$(mktemp -d /tmp/qcal-bias.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
CHECK="$(dirname "$0")/bias-correction-ort-check.py"
IMG=data/calib
N=48

# 1. refusals
"$QCAL" stats -q -o "$tmp/lenet.json" models/lenet.onnx "$IMG" >/dev/null 2>"$tmp/err" || bad "stats of lenet ($(head -c 200 "$tmp/err"))"
expect "empirical with --stats is a usage error" 2 "$QCAL" quantize --stats "$tmp/lenet.json" \
    --bias-correction empirical -o "$tmp/x.onnx" models/lenet.onnx
contains "the error says what to pass" "$tmp/err" "give IMAGES rather than --stats FILE"
echo '{"bias_correction": "empirical"}' >"$tmp/emp.json"
expect "empirical from a config with --stats is a usage error" 2 "$QCAL" quantize --stats "$tmp/lenet.json" \
    --config "$tmp/emp.json" -o "$tmp/x.onnx" models/lenet.onnx
expect "an unknown mode is a usage error" 2 "$QCAL" quantize --bias-correction measured -o "$tmp/x.onnx" \
    models/lenet.onnx "$IMG"
contains "the error lists the modes" "$tmp/err" "none, analytic or empirical"
expect "--bias-images without the empirical mode is a usage error" 2 "$QCAL" quantize --bias-images 8 \
    --bias-correction analytic -o "$tmp/x.onnx" models/lenet.onnx "$IMG"
if [ -e "$tmp/x.onnx" ]; then bad "refusals leave no file"; else ok "refusals leave no file"; fi

# 2. the same model for any threads and batch, and through its written config
expect "empirical, 1 thread, batch 1" 0 "$QCAL" quantize --json --bits 6 --bias-correction empirical \
    --bias-images $N --threads 1 --batch 1 --write-config "$tmp/c.json" -o "$tmp/t1.onnx" models/lenet.onnx "$IMG"
cp "$tmp/out" "$tmp/t1.out"
contains "the JSON names the mode" "$tmp/t1.out" '"bias_correction": "empirical", "bias_images": 48, "bias_passes": 4'
expect "empirical, 2 threads, batch 5" 0 "$QCAL" quantize -q --bits 6 --bias-correction empirical \
    --bias-images $N --threads 2 --batch 5 -o "$tmp/t2.onnx" models/lenet.onnx "$IMG"
same "threads and batch do not change the model" "$tmp/t1.onnx" "$tmp/t2.onnx"
contains "the written config has the mode" "$tmp/c.json" '"empirical"'
expect "quantize --config of it" 0 "$QCAL" quantize -q --config "$tmp/c.json" --bias-images $N \
    -o "$tmp/t3.onnx" models/lenet.onnx "$IMG"
same "the config gives a byte-identical model" "$tmp/t1.onnx" "$tmp/t3.onnx"
contains "the metadata names the mode" "$tmp/t1.onnx" "empirical"

# 3. the biases move, and not as the analytic mode moves them
for m in none analytic; do
    "$QCAL" quantize -q --json --bits 6 --bias-correction $m -o "$tmp/$m.onnx" models/lenet.onnx "$IMG" \
        >"$tmp/$m.out" 2>"$tmp/err" || bad "quantize, $m ($(head -c 200 "$tmp/err"))"
done
biases() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print([(t['name'], t['min'], t['max']) for t in d['tensors'] if t['role'] == 'bias'])" "$1"; }
if ! biases "$tmp/t1.out" >"$tmp/b.emp" || ! biases "$tmp/none.out" >"$tmp/b.none" || ! biases "$tmp/analytic.out" >"$tmp/b.ana"; then
    bad "the bias ranges in the JSON ($(head -c 200 "$tmp/b.emp"))"
elif cmp -s "$tmp/b.emp" "$tmp/b.none" || cmp -s "$tmp/b.emp" "$tmp/b.ana"; then
    bad "empirical biases differ from none's and analytic's"
else
    ok "empirical biases differ from none's and analytic's"
fi

# 3b. a model with a fixed batch of 4 (its twin, nothing else changed) gets the dynamic
# model's biases whatever --batch (a run then holds 4 images, more than --batch 1)
ONNX_PY=$(find_python onnx) || ONNX_PY=
if [ -z "$ONNX_PY" ]; then
    skip "the fixed-batch twin: needs python with onnx"
else
    mkdir -p "$tmp/b4"
    "$ONNX_PY" -c "
import sys, onnx
m = onnx.load(sys.argv[1])
for v in list(m.graph.input[:1]) + list(m.graph.output):
    v.type.tensor_type.shape.dim[0].Clear()
    v.type.tensor_type.shape.dim[0].dim_value = 4
del m.graph.value_info[:]
onnx.save(m, sys.argv[2])" models/lenet.onnx "$tmp/b4/lenet.onnx" 2>"$tmp/err" && cp models/lenet.json "$tmp/b4/" ||
        bad "the batch-4 twin ($(head -c 200 "$tmp/err"))"
    for b in 1 7; do
        if "$QCAL" quantize -q --json --bits 6 --bias-correction empirical --bias-images $N --batch $b \
            -o "$tmp/b4/q$b.onnx" "$tmp/b4/lenet.onnx" "$IMG" >"$tmp/b4.out" 2>"$tmp/err" && biases "$tmp/b4.out" >"$tmp/b.b4" &&
            cmp -s "$tmp/b.b4" "$tmp/b.emp"; then
            ok "the batch-4 twin, --batch $b: the dynamic model's biases"
        else
            bad "the batch-4 twin, --batch $b: the dynamic model's biases ($(head -c 200 "$tmp/err"; diff "$tmp/b.b4" "$tmp/b.emp" | head -c 300))"
        fi
    done
fi

# 4. ONNX Runtime runs the corrected models as qcal does
ORT_PY=$(find_python "onnxruntime, numpy") || ORT_PY=
PIL_PY=$(find_python "PIL, numpy") || PIL_PY=
if [ -z "$ORT_PY" ] || [ -z "$PIL_PY" ]; then
    skip "ONNX Runtime runs the corrected models: needs onnxruntime (${ORT_PY:-missing}) and PIL (${PIL_PY:-missing})"
    summary bias-correction
fi
# 7-bit weights where ONNX Runtime's u8 × s8 GEMM saturates (tests/lib.sh)
ORT_QFLAGS=$(ort_quantize_flags "$ORT_PY")
ls "$IMG"/*/*.png | sort | head -n 64 >"$tmp/list"
mkdir -p "$tmp/imgs/x"
while read -r f; do cp "$f" "$tmp/imgs/x/$(basename "$(dirname "$f")")-$(basename "$f")"; done <"$tmp/list"
"$PIL_PY" -c "
import sys, os, numpy as np
from PIL import Image
d = sys.argv[1]
x = [((np.asarray(Image.open(os.path.join(d, f)), dtype=np.float32) * np.float32(1 / 255)) - np.float32(0.286)) / np.float32(0.353)
     for f in sorted(os.listdir(d))]
np.stack(x).astype(np.float32).tofile(sys.argv[2])" "$tmp/imgs/x" "$tmp/in.f32" 2>"$tmp/err" ||
    bad "the inputs as float32 ($(head -c 200 "$tmp/err"))"
for model in lenet mobilenet; do
    for f in qdq qoperator; do
        name="$model, $f, empirical"
        if ! "$QCAL" quantize -q --json $ORT_QFLAGS --format $f --bias-correction empirical -o "$tmp/$model-$f.onnx" \
            "models/$model.onnx" "$IMG" >"$tmp/q.json" 2>"$tmp/err"; then
            bad "$name: quantize ($(head -c 200 "$tmp/err"))"
            continue
        fi
        step=$(json_get "$tmp/q.json" "['tensors'][[t['name'] for t in d['tensors']].index('logits')]['scale'][0]")
        "$QCAL" eval -q "$tmp/$model-$f.onnx" "$tmp/imgs" --predictions "$tmp/p.tsv" --scores >/dev/null 2>"$tmp/err" ||
            bad "$name: qcal eval ($(head -c 200 "$tmp/err"))"
        expect "$name: ONNX Runtime agrees with qcal" 0 "$ORT_PY" "$CHECK" "$tmp/in.f32" 64 "$tmp/$model-$f.onnx" \
            "$tmp/p.tsv" "$step" 3 0.98
        cat "$tmp/out"
    done
done
summary bias-correction
