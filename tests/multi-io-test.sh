#!/bin/bash
# multi-io-test.sh — models with several inputs and outputs, end to end: a classifier exported
# by PyTorch (tests/make-multi-io.py) whose first input is a feature vector and second the
# image, with two outputs. The feature vector comes from --input features=FILE.npy; qcal's
# FP32 scores of either output (--output) equal PyTorch's, its quantized model (which keeps the
# input) equals ONNX Runtime's run of the same file, and stats, quantize, compare and bench
# take the constant. Refusals: an input without --input, an unknown --output or --input name,
# and bad .npy files, each with its exit code and what it names. Prints "multi-io: N passed,
# N failed, N skipped".
set -u
tmp=$(mktemp -d /tmp/qcal-multi-io.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

# float32 scores of one image set, PyTorch's against qcal's --scores: a named threshold
FP32_TOLERANCE=1e-5

if ! /usr/bin/python3 tests/make-multi-io.py "$tmp" 2>"$tmp/err"; then
    skip "models with several inputs: skipped: /usr/bin/python3 cannot export the test model ($(tail -n 1 "$tmp/err"))"
    summary multi-io
fi
NP_PY=$(find_python numpy) || NP_PY=
ORT_PY=$(find_python "onnxruntime, numpy") || ORT_PY=
# 7-bit weights where ONNX Runtime's u8 × s8 GEMM saturates (tests/lib.sh)
ORT_QFLAGS=$(ort_quantize_flags "$ORT_PY")
M=$tmp/two.onnx
IMG=$tmp/images
IN=features=$tmp/features.npy

# max_error SCORES.npy PREDICTIONS: the largest absolute difference to qcal's --scores
max_error() {
    "$NP_PY" -c "
import numpy as np, sys
ref = np.load(sys.argv[1])
got = np.array([[float(v) for v in l.rstrip('\n').split('\t')[3].split()] for l in open(sys.argv[2])])
print(np.abs(got - ref).max() if got.shape == ref.shape else 'shape %s, not %s' % (got.shape, ref.shape))" "$1" "$2"
}
# below VALUE LIMIT NAME
below() {
    if "$NP_PY" -c "import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)" "$1" "$2" 2>/dev/null; then
        ok "$3 ($1)"
    else
        bad "$3 ($1 over $2)"
    fi
}

# 1. refusals
expect "a second input without --input is exit 3" 3 "$QCAL" eval "$M" "$IMG"
contains "the refusal names the input and the option" "$tmp/err" "model input 'features' needs --input features=FILE.npy"
expect "an unknown --output is a usage error" 2 "$QCAL" eval --input "$IN" --output nope "$M" "$IMG"
contains "an unknown --output lists the outputs" "$tmp/err" "(its outputs: 'logits', 'embedding')"
expect "an unknown --input name is a usage error" 2 "$QCAL" eval --input mask="$tmp/features.npy" "$M" "$IMG"
contains "an unknown --input lists the inputs" "$tmp/err" "(its inputs: 'features', 'image')"
expect "--input without NAME= is a usage error" 2 "$QCAL" eval --input "$tmp/features.npy" "$M" "$IMG"
expect "--input given twice is a usage error" 2 "$QCAL" eval --input "$IN" --input "$IN" "$M" "$IMG"
expect "a missing .npy file is exit 4" 4 "$QCAL" eval --input features="$tmp/none.npy" "$M" "$IMG"
if [ -n "$NP_PY" ]; then
    "$NP_PY" -c "import numpy as np, sys; np.save(sys.argv[1], np.zeros((1, 5), np.float32))" "$tmp/wide.npy"
    expect "a constant of another shape is exit 3" 3 "$QCAL" eval --input features="$tmp/wide.npy" "$M" "$IMG"
    contains "the shape refusal names the file, the input and both shapes" "$tmp/err" \
        "'$tmp/wide.npy': input 'features' of '$M' has shape 1x4, the value 1x5 given"
    "$NP_PY" -c "import numpy as np, sys; np.save(sys.argv[1], np.zeros((1, 4), np.float64))" "$tmp/f8.npy"
    expect "a float64 constant is exit 3" 3 "$QCAL" eval --input features="$tmp/f8.npy" "$M" "$IMG"
    contains "the dtype refusal names the file and the dtype" "$tmp/err" "'$tmp/f8.npy': NumPy dtype '<f8' is not supported"
    head -c 140 "$tmp/features.npy" >"$tmp/short.npy"
    expect "a truncated .npy file is exit 3" 3 "$QCAL" stats --input features="$tmp/short.npy" -o "$tmp/x.json" "$M" "$IMG"
    contains "the truncation names the file" "$tmp/err" "'$tmp/short.npy': the data is 12 bytes, its shape and dtype make 16"
else
    skip "bad .npy files: skipped: numpy not installed"
fi

# 2. FP32: both outputs against PyTorch, the chosen output in JSON
if [ -n "$NP_PY" ]; then
    expect "eval with --input runs" 0 "$QCAL" eval --input "$IN" --predictions "$tmp/logits.tsv" --scores "$M" "$IMG"
    below "$(max_error "$tmp/logits.npy" "$tmp/logits.tsv")" $FP32_TOLERANCE "the first output's scores are PyTorch's"
    expect "eval --output embedding runs" 0 "$QCAL" eval --input "$IN" --output embedding \
        --predictions "$tmp/embedding.tsv" --scores "$M" "$IMG"
    below "$(max_error "$tmp/embedding.npy" "$tmp/embedding.tsv")" $FP32_TOLERANCE "--output embedding's scores are PyTorch's"
    "$NP_PY" -c "import numpy as np, sys; np.save(sys.argv[1], np.zeros((1, 4), np.float32))" "$tmp/zero.npy"
    "$QCAL" eval --input features="$tmp/zero.npy" --predictions "$tmp/zero.tsv" --scores "$M" "$IMG" >/dev/null 2>&1
    e=$(max_error "$tmp/logits.npy" "$tmp/zero.tsv")
    if "$NP_PY" -c "import sys; sys.exit(0 if float(sys.argv[1]) > 1e-3 else 1)" "$e"; then
        ok "another constant gives other scores ($e)"
    else
        bad "another constant gives other scores ($e)"
    fi
else
    skip "scores against PyTorch: skipped: numpy not installed"
fi
expect "eval --json runs" 0 "$QCAL" eval --json --input "$IN" --output embedding "$M" "$IMG"
contains "eval --json records the output" "$tmp/out" '"output": "embedding"'

# 3. statistics, quantization, the quantized model in qcal and ONNX Runtime
expect "stats with --input runs" 0 "$QCAL" stats --quiet --input "$IN" -o "$tmp/s.json" "$M" "$IMG"
contains "the statistics record the constant input" "$tmp/s.json" '"name": "features"'
expect "stats without --input is exit 3" 3 "$QCAL" stats --quiet -o "$tmp/s2.json" "$M" "$IMG"
expect "quantize --stats runs" 0 "$QCAL" quantize --quiet $ORT_QFLAGS --input "$IN" --stats "$tmp/s.json" -o "$tmp/q.onnx" "$M"
expect "quantize over the images runs" 0 "$QCAL" quantize --quiet $ORT_QFLAGS --input "$IN" -o "$tmp/q2.onnx" "$M" "$IMG"
same "quantize over the images gives the file of stats + quantize" "$tmp/q.onnx" "$tmp/q2.onnx"
expect "inspect the quantized model" 0 "$QCAL" inspect "$tmp/q.onnx"
contains "the quantized model keeps the input" "$tmp/out" "features"
expect "eval of the quantized model runs" 0 "$QCAL" eval --input "$IN" --predictions "$tmp/q.tsv" --scores "$tmp/q.onnx" "$IMG"
if [ -n "$ORT_PY" ]; then
    "$ORT_PY" -c "
import numpy as np, onnxruntime as ort, sys
d = sys.argv[1]
x, f = np.load(d + '/images.npy'), np.load(d + '/features.npy')
s = ort.InferenceSession(d + '/q.onnx', providers=['CPUExecutionProvider'])
np.save(d + '/q-ort.npy', np.concatenate([s.run(['logits'], {'features': f, 'image': x[i:i + 1]})[0] for i in range(len(x))]))
" "$tmp" 2>"$tmp/err" || bad "ONNX Runtime runs the quantized model ($(tail -n 1 "$tmp/err"))"
    # the same integer arithmetic: only the last float rounding may differ
    below "$(max_error "$tmp/q-ort.npy" "$tmp/q.tsv")" 1e-5 "qcal's run of the quantized model is ONNX Runtime's"
else
    skip "the quantized model in ONNX Runtime: skipped: onnxruntime not installed"
fi

# 4. compare and bench
expect "compare with --input and --output runs" 0 "$QCAL" compare --quiet --json --input "$IN" --output embedding "$M" "$IMG" "$IMG"
contains "compare --json records the output" "$tmp/out" '"output": "embedding"'
contains "compare's layer errors cover the constant input, on every layer image" "$tmp/out" '"tensor": "features", "node": null, "role": "input", "values": 96'
expect "bench with --input runs" 0 "$QCAL" bench --runs 2 --batch 4 --input "$IN" "$M"
expect "bench without --input is exit 3" 3 "$QCAL" bench --runs 2 --batch 4 "$M"

# 5. a fixed batch of images beside a constant input: refused, naming both inputs
/usr/bin/python3 - "$M" "$tmp/two-b4.onnx" <<'PY'
import sys, onnx
m = onnx.load(sys.argv[1])
for v in [m.graph.input[1]] + list(m.graph.output):
    v.type.tensor_type.shape.dim[0].Clear()
    v.type.tensor_type.shape.dim[0].dim_value = 4
del m.graph.value_info[:]
onnx.save(m, sys.argv[2])
PY
expect "a fixed batch with a constant input is exit 3" 3 "$QCAL" eval --input "$IN" "$tmp/two-b4.onnx" "$IMG"
contains "the refusal names both inputs" "$tmp/err" "input 'image' has a fixed batch of 4, which qcal runs only with the image as the model's sole input ('features' is given by --input)"

summary multi-io
