#!/bin/bash
# ranges-export-test.sh — `qcal quantize --write-trt-cache` and `--write-ort-overrides`: the
# files parse back (tests/ranges-export-check.py, parsers of its own) to the ranges and
# parameters qcal printed, for two schemes, per tensor and per channel, minmax and entropy;
# ONNX Runtime's quantizer takes the overrides where the interpreter can import it; usage
# errors name what cannot be written; nothing is left behind on failure. Prints
# "ranges-export: N passed, N failed, N skipped".
set -u
tmp=$(mktemp -d /tmp/qcal-ranges.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
CHECK="$(dirname "$0")/ranges-export-check.py"
IMG=data/calib
S="$tmp/lenet.stats.json"

# statistics once (all methods, histograms included)
if ! "$QCAL" stats -q -o "$S" models/lenet.onnx "$IMG" >"$tmp/out" 2>"$tmp/err"; then
    bad "qcal stats for the range files ($(head -c 300 "$tmp/err"))"
    summary ranges-export
fi

# 1. both files parse back to qcal's parameters
run_case() { # NAME, then quantize flags
    local name=$1
    shift
    local d="$tmp/$name"
    mkdir -p "$d"
    expect "$name: quantize writes both files" 0 "$QCAL" quantize --stats "$S" --json -o "$d/q.onnx" \
        --write-trt-cache "$d/cache" --write-ort-overrides "$d/overrides.json" "$@" models/lenet.onnx
    cp "$tmp/out" "$d/report.json"
    expect "$name: the TensorRT cache reads back to amax/127 of qcal's ranges" 0 \
        "$PY" "$CHECK" trt "$d/report.json" "$d/cache"
    expect "$name: the ONNX Runtime overrides read back to qcal's scales and zero points" 0 \
        "$PY" "$CHECK" ort "$d/report.json" "$d/overrides.json" models/lenet.onnx
}
run_case symlowp-channel --scheme symlowp --per-channel
run_case gemmlowp-tensor --scheme gemmlowp --granularity tensor
run_case entropy --scheme symlowp --method entropy
contains "entropy ranges get the entropy calibrator's header" "$tmp/entropy/cache" "TRT-8601-EntropyCalibration2"
contains "minmax ranges get the min-max calibrator's header" "$tmp/gemmlowp-tensor/cache" "TRT-8601-MinMaxCalibration"
if cmp -s "$tmp/symlowp-channel/cache" "$tmp/entropy/cache"; then bad "minmax and entropy ranges give other caches"; else ok "minmax and entropy ranges give other caches"; fi
# where qcal's own activations are int8 symmetric, the cache holds qcal's very scales
expect "qoperator symlowp (int8 activations) writes a cache" 0 "$QCAL" quantize --stats "$S" --json \
    --format qoperator --scheme symlowp -o "$tmp/qop.onnx" --write-trt-cache "$tmp/qop.cache" models/lenet.onnx
cp "$tmp/out" "$tmp/qop.json"
"$PY" "$CHECK" trt "$tmp/qop.json" "$tmp/qop.cache" >"$tmp/out" 2>&1
if grep -qE "^trt: ([0-9]+) scales .*, \1 equal to qcal's int8 scales" "$tmp/out"; then
    ok "qoperator symlowp: every cache scale is qcal's int8 scale"
else
    bad "qoperator symlowp: every cache scale is qcal's int8 scale ($(cat "$tmp/out"))"
fi

# 2. ONNX Runtime's quantizer with the overrides
ORTQ_PY=""
for py in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c "import onnx.reference, onnxruntime.quantization" >/dev/null 2>&1; then
        ORTQ_PY=$py
        break
    fi
done
if [ -n "$ORTQ_PY" ]; then
    expect "ONNX Runtime's quantize_static writes qcal's scales from the overrides" 0 "$ORTQ_PY" "$CHECK" ort-quantize \
        "$tmp/symlowp-channel/report.json" "$tmp/symlowp-channel/overrides.json" models/lenet.onnx "$tmp/ort-q.onnx"
else
    skip "ONNX Runtime's quantize_static with the overrides: no interpreter imports both onnxruntime.quantization and onnx >= 1.13 (python3 has onnxruntime without onnx, /usr/bin/python3 has onnx 1.12 without onnx.reference)"
fi

# 3. what cannot be written is a usage error, named; nothing is left
expect "--write-trt-cache with 4-bit activations is a usage error" 2 "$QCAL" quantize --stats "$S" --bits 4 \
    -o "$tmp/x.onnx" --write-trt-cache "$tmp/x.cache" models/lenet.onnx
contains "the error says why" "$tmp/err" "--write-trt-cache: TensorRT's INT8 calibration cache holds 8-bit scales"
expect "--write-ort-overrides with 6-bit weights is a usage error" 2 "$QCAL" quantize --stats "$S" --weight-bits 6 \
    --act-bits 8 -o "$tmp/x.onnx" --write-ort-overrides "$tmp/x.ov.json" models/lenet.onnx
contains "the error names the flag" "$tmp/err" "--write-ort-overrides: ONNX Runtime's TensorQuantOverrides carry 8-bit types"
expect "--write-ort-overrides naming -o's model card is a usage error" 2 "$QCAL" quantize --stats "$S" \
    -o "$tmp/x.onnx" --write-ort-overrides "$tmp/x.json" models/lenet.onnx
expect "the two files on one path is a usage error" 2 "$QCAL" quantize --stats "$S" -o "$tmp/x.onnx" \
    --write-trt-cache "$tmp/y" --write-ort-overrides "$tmp/y" models/lenet.onnx
expect "--write-trt-cache naming the model is a usage error" 2 "$QCAL" quantize --stats "$S" -o "$tmp/x.onnx" \
    --write-trt-cache models/lenet.onnx models/lenet.onnx
for f in x.onnx x.json x.cache x.ov.json y; do
    if [ -e "$tmp/$f" ]; then bad "usage errors leave no $f"; else ok "usage errors leave no $f"; fi
done
# left_none NAME PATTERN: nothing in $tmp matches PATTERN (outputs and their temporaries)
left_none() {
    if ls -A "$tmp" | grep -q "$2"; then bad "$1 ($(ls -A "$tmp" | tr '\n' ' '))"; else ok "$1"; fi
}
expect "an unwritable overrides path is an I/O error" 4 "$QCAL" quantize --stats "$S" -o "$tmp/z.onnx" \
    --write-trt-cache "$tmp/z.cache" --write-ort-overrides "$tmp/no/such/dir/z.ov.json" models/lenet.onnx
left_none "a failed range file leaves no model, card, cache nor temporary file" "z\."
mkfifo "$tmp/w.onnx"
expect "an unwritable model is an I/O error" 4 "$QCAL" quantize --stats "$S" -o "$tmp/w.onnx" \
    --write-trt-cache "$tmp/w.cache" --write-ort-overrides "$tmp/w.ov.json" models/lenet.onnx
left_none "a model that cannot be written takes the range files with it" "w\.cache\|w\.ov"
mkdir "$tmp/d.onnx"
expect "-o naming a folder is a usage error, found before the run" 2 "$QCAL" quantize --stats "$S" -o "$tmp/d.onnx" \
    --write-trt-cache "$tmp/d.cache" --write-ort-overrides "$tmp/d.ov.json" models/lenet.onnx
left_none "a refused -o leaves no range file" "d\.cache\|d\.ov"
summary ranges-export
