#!/bin/bash
# compensation-sweep.sh — what input compensation (docs/qparams.md Q14) buys on the bundled
# models: for each model and activation bit width, FakeQuantize with per-channel 8-bit
# GemmLowP weights, without and with --input-compensation, on the 10,000 test images. Prints
# top-1, agreement with FP32's top-1 and the SQNR of the logits against FP32's.
#
#   tools/compensation-sweep.sh [QCAL] [IMAGES]     (defaults: ./qcal data/test-full)
#
# Statistics come from data/calib (500 images), gathered once per model. Needs python3.
set -eu
QCAL=${1:-./qcal}
VAL=${2:-data/test-full}
tmp=$(mktemp -d /tmp/qcal-sweep.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# top-1, agreement and logit SQNR of the predictions file $2 against FP32's $1 (qcal eval
# --predictions --scores: path, top-1, label, scores)
score() {
    python3 - "$1" "$2" <<'EOF'
import math, sys
ref = [l.rstrip('\n').split('\t') for l in open(sys.argv[1])]
got = [l.rstrip('\n').split('\t') for l in open(sys.argv[2])]
signal = noise = 0.0
for a, b in zip(ref, got):
    x = [float(v) for v in a[3].split()]
    y = [float(v) for v in b[3].split()]
    signal += sum(v * v for v in x)
    noise += sum((u - v) ** 2 for u, v in zip(x, y))
n = len(ref)
print('%6.2f %7.2f %9.1f' % (100 * sum(b[1] == b[2] for b in got) / n,
                             100 * sum(a[1] == b[1] for a, b in zip(ref, got)) / n,
                             10 * math.log10(signal / noise) if noise else float('inf')))
EOF
}

printf '%-10s %4s %-13s %6s %7s %9s\n' model bits compensation top-1 agree "SQNR dB"
for m in lenet resnet mobilenet; do
    "$QCAL" stats --quiet --threads 2 -o "$tmp/$m.json" "models/$m.onnx" data/calib
    "$QCAL" eval --quiet --threads 2 --predictions "$tmp/fp32.pred" --scores "models/$m.onnx" "$VAL" >/dev/null
    printf '%-10s %4s %-13s %s\n' "$m" fp32 - "$(score "$tmp/fp32.pred" "$tmp/fp32.pred")"
    for bits in 8 6 5 4; do
        for ic in off on; do
            flag=
            [ $ic = on ] && flag=--input-compensation
            "$QCAL" quantize --quiet --format fakequant --per-channel --act-bits $bits $flag \
                --stats "$tmp/$m.json" -o "$tmp/q.onnx" "models/$m.onnx"
            "$QCAL" eval --quiet --threads 2 --predictions "$tmp/q.pred" --scores "$tmp/q.onnx" "$VAL" >/dev/null
            printf '%-10s %4s %-13s %s\n' "$m" a$bits $ic "$(score "$tmp/fp32.pred" "$tmp/q.pred")"
        done
    done
done
