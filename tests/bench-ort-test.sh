#!/bin/bash
# bench-ort-test.sh — what `make bench-ort` sets up, with nothing timed: the benchmark models
# written, qcal's and ONNX Runtime's INT8 files made from the same 224x224 PNGs, both runtimes
# fed the same tensors (qcal's FP32 scores against ONNX Runtime's on the arrays the PNGs were
# written from), ONNX Runtime's quantize_static file run by qcal; and that the same-input check
# fails when the tensors differ from what qcal reads (channels in BGR order).
# Prints "bench-ort: N passed, N failed, N skipped".
set -u
tmp=$(mktemp -d /tmp/qcal-bench-ort.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

venv_py=""
for py in ${QCAL_VENV:+"$QCAL_VENV/bin/python"} /opt/qcal-venv/bin/python "$HOME/.cache/qcal-venv/bin/python"; do
    if [ -x "$py" ] && "$py" -c 'import onnx, onnxruntime.quantization' >/dev/null 2>&1; then
        venv_py=$py
        break
    fi
done
if [ -z "$venv_py" ]; then
    skip "bench-ort set-up: no venv with onnx and onnxruntime (tools/install-deps.sh makes it)"
    summary bench-ort
fi
if ! /usr/bin/python3 -c 'import torch, torchvision' >/dev/null 2>&1; then
    skip "bench-ort set-up: /usr/bin/python3 has no torch or torchvision for the benchmark models"
    summary bench-ort
fi

expect "the benchmark models are written" 0 /usr/bin/python3 tools/make-bench-models.py "$tmp/models"
# a previous run's image left in the folder is removed, not read with the new ones
mkdir -p "$tmp/b/calib"
cp "$(find data/calib -name '*.png' | sort | head -n 1)" "$tmp/b/calib/999.png"
expect "bench-ort --check makes every file and checks the inputs" 0 \
    "$venv_py" bench/bench-ort.py --check --qcal "$QCAL" --qgemm /bin/false --models "$tmp/models" --out "$tmp/b"
cp "$tmp/out" "$tmp/check.txt"
if [ ! -e "$tmp/b/calib/999.png" ]; then ok "a previous run's image is removed"; else bad "a previous run's image is removed"; fi
for m in resnet18 mobilenet_v2; do
    contains "$m: qcal and ONNX Runtime see the same input tensors" "$tmp/check.txt" \
        "$m: qcal and ORT FP32 scores agree"
    if grep -q "^  $m: .*qcal runs ORT's file" "$tmp/check.txt"; then
        ok "$m: qcal runs ONNX Runtime's quantize_static U8S8 file"
    else
        bad "$m: qcal runs ONNX Runtime's quantize_static U8S8 file ($(cat "$tmp/check.txt"))"
    fi
    for f in "$m-qcal.onnx" "$m-qcal-qoperator.onnx" "$m-ort-u8s8.onnx"; do
        if [ -s "$tmp/b/$f" ]; then ok "$f is written"; else bad "$f is written"; fi
    done
done
if grep -q '"qcal.scheme"' /dev/null; then :; fi

# the check can fail: the same images with the channels swapped are not what qcal reads
expect "the same-input check fails on BGR tensors" 1 "$venv_py" -c '
import importlib.util, sys, tempfile
spec = importlib.util.spec_from_file_location("bench_ort", "bench/bench-ort.py")
b = importlib.util.module_from_spec(spec)
spec.loader.exec_module(b)
images = b.synthetic_images(4)
swapped = [b.preprocess(rgb[:, :, ::-1]) for rgb in images]
with tempfile.TemporaryDirectory() as t:
    b.check_same_tensors(sys.argv[1], sys.argv[2], sys.argv[3], swapped, t)
' "$QCAL" "$tmp/b/resnet18.onnx" "$tmp/b/calib"
contains "and says that the inputs differ" "$tmp/err" "do not see the same inputs"
summary bench-ort
