#!/bin/bash
# rounding-test.sh — the nine round modes end to end: `quantize --round` and `--act-round`
# take qcal's and nGraph's names; activations round in any mode in the fakequant format, and
# ONNX Runtime running such a file gives exactly what Python's decimal module computes
# (tests/rounding-ort-check.py); qdq and qoperator refuse any activation mode but half-even,
# naming it; a fakequant lenet in each mode keeps its accuracy in qcal's runtime. Prints
# "rounding: N passed, N failed, N skipped".
set -u
tmp=$(mktemp -d /tmp/qcal-rounding.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
CHECK="$(dirname "$0")/rounding-ort-check.py"
IMG=data/calib
VAL=data/val
MODES="half-even half-away toward-zero up down half-toward-zero half-up half-down away-from-zero"
PP="--scale 0.00392156862745098 --mean 0.286 --std 0.353 --color gray"

# 1. names and refusals
"$QCAL" stats -q -o "$tmp/lenet.json" models/lenet.onnx "$IMG" 2>"$tmp/err" || bad "stats of lenet ($(head -c 200 "$tmp/err"))"
expect "--round takes nGraph's names" 0 "$QCAL" quantize -q --json --stats "$tmp/lenet.json" --round ROUND_NEAREST_DOWNWARD \
    -o "$tmp/n.onnx" models/lenet.onnx
contains "the JSON names the mode qcal's way" "$tmp/out" '"round": "half-down"'
expect "a bad --act-round is a usage error" 2 "$QCAL" quantize --stats "$tmp/lenet.json" --act-round nearest \
    --format fakequant -o "$tmp/x.onnx" models/lenet.onnx
contains "the error lists the nine modes" "$tmp/err" "half-even, half-away, toward-zero, up, down, half-toward-zero, half-up, half-down, away-from-zero"
for f in qdq qoperator; do
    expect "--act-round half-up with $f is a usage error" 2 "$QCAL" quantize --stats "$tmp/lenet.json" --format $f \
        --act-round half-up -o "$tmp/x.onnx" models/lenet.onnx
    contains "$f: the error says why" "$tmp/err" "--act-round half-up: the $f format quantizes activations with ONNX QuantizeLinear, which rounds half to even"
done
expect "--act-round half-even with qdq is fine" 0 "$QCAL" quantize -q --stats "$tmp/lenet.json" --act-round half-even \
    -o "$tmp/e.onnx" models/lenet.onnx
if [ -e "$tmp/x.onnx" ]; then bad "refusals leave no file"; else ok "refusals leave no file"; fi

# 2. ONNX Runtime on x → Conv 1×1 → y in every mode, against decimal
ONNX_PY=$(find_python onnx) || ONNX_PY=
ORT_PY=$(find_python "onnxruntime, numpy") || ORT_PY=
if [ -z "$ONNX_PY" ] || [ -z "$ORT_PY" ]; then
    skip "ONNX Runtime against decimal in every mode: needs onnx (${ONNX_PY:-missing}) and onnxruntime (${ORT_PY:-missing})"
elif ! "$ONNX_PY" "$CHECK" make "$tmp/conv.onnx" 2>"$tmp/err" ||
    ! "$QCAL" stats -q $PP -o "$tmp/conv.json" "$tmp/conv.onnx" "$IMG" 2>>"$tmp/err"; then
    bad "the 1×1 model and its statistics ($(head -c 300 "$tmp/err"))"
else
    for m in $MODES; do
        for scheme in gemmlowp symlowp; do
            if "$QCAL" quantize -q --json $PP --stats "$tmp/conv.json" --scheme $scheme --format fakequant \
                --act-round $m -o "$tmp/c.onnx" "$tmp/conv.onnx" >"$tmp/c.json" 2>"$tmp/err"; then
                expect "ONNX Runtime = decimal, $m, $scheme" 0 "$ORT_PY" "$CHECK" run $m "$tmp/c.json" "$tmp/c.onnx"
            else
                bad "quantize the 1×1 model, $m ($(head -c 200 "$tmp/err"))"
            fi
        done
    done
fi

# 3. lenet in every mode (weights and activations), run by qcal: the metadata, and top-1 within
# 1 point of FP32 for the nearest modes, 2 for the directed ones (they shift every value by half
# a step on average; measured: up −1.25, down −0.6, toward-zero −0.05, away-from-zero 0)
"$QCAL" eval -q --json models/lenet.onnx "$VAL" >"$tmp/fp32.json" 2>"$tmp/err" || bad "eval of lenet ($(head -c 200 "$tmp/err"))"
fp32=$(json_get "$tmp/fp32.json" '["top1"]')
for m in $MODES; do
    if ! "$QCAL" quantize -q --stats "$tmp/lenet.json" --scheme gemmlowp --granularity tensor --format fakequant --act-round $m --round $m \
        -o "$tmp/l-$m.onnx" models/lenet.onnx 2>"$tmp/err"; then
        bad "quantize lenet with $m ($(head -c 200 "$tmp/err"))"
        continue
    fi
    if [ "$m" != half-even ]; then
        # metadata_props entry: key, then the value's tag 0x12, its length and the mode
        if LC_ALL=C grep -qaP "qcal\.act_round\x12\x$(printf %02x ${#m})$m" "$tmp/l-$m.onnx"; then
            ok "$m: the file records qcal.act_round"
        else
            bad "$m: the file records qcal.act_round"
        fi
    fi
    if "$QCAL" eval -q --json "$tmp/l-$m.onnx" "$VAL" >"$tmp/q.json" 2>"$tmp/err"; then
        top1=$(json_get "$tmp/q.json" '["top1"]')
        case $m in half-*) need=0.01 ;; *) need=0.02 ;; esac
        if awk -v a="$top1" -v b="$fp32" -v n="$need" 'BEGIN { exit !(a - b > -n) }'; then
            ok "lenet, $m: top-1 $top1 within $need of FP32 $fp32"
        else
            bad "lenet, $m: top-1 $top1 not within $need of FP32 $fp32"
        fi
    else
        bad "eval lenet with $m ($(head -c 200 "$tmp/err"))"
    fi
done
summary rounding
