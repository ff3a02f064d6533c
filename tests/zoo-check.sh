#!/bin/bash
# zoo-check.sh — differential tests against ONNX Runtime on the model zoo (torchvision
# architectures with untrained weights, written into the build folder by tools/make-zoo.py).
# For every zoo model qcal accepts: its FP32 logits equal ONNX Runtime's (top-1 on every image,
# relative logit error < 1e-3); then every quantized variant of the grid passes onnx.checker
# and runs in ONNX Runtime, and every one of its quantized layers, run by ONNX Runtime on
# qcal's own 8-bit inputs of the first LAYER_IMAGES images, gives qcal's 8-bit output (the
# exactly rounded value except within 1e-3 step of a rounding boundary; other QOperator layers
# within 1 step of ONNX Runtime's; tests/zoo-ort.py has the rules). The whole files'
# top-1 agreement and largest logit difference in output steps are printed, not judged: on
# these deep untrained networks one step of difference near a tie grows from layer to layer
# (README "Model zoo"). Models qcal refuses (exit 3 from `qcal inspect`) are listed as "skip"
# with the ops that stop them. By default a CI slice of the grid runs; QCAL_ZOO_FULL=1 runs
# all of it; QCAL_ZOO_MODELS="a b" restricts the models, QCAL_ZOO_MATCH=REGEX the variants
# (e.g. "qoperator"); QCAL_ZOO_RESULTS=FILE appends
# "model variant agreement steps layers worst-steps worst-off" lines.
# A model already quantized (the zoo's quantize_dynamic one) is checked in FP32 (run as it is,
# one image per run) and must be refused by stats and quantize (exit 3).
# Prints "zoo: N passed, N failed".
set -u
tmp=$(mktemp -d /tmp/qcal-zoo.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
here=$(dirname "$0")
. "$here/lib.sh"
skip() { echo "skip $1"; }

ZOO=${QCAL_ZOO:-${QCAL_BUILD:-build}/zoo}
DUMP=${QCAL_BUILD:-build}/tests/zoo-dump
THREADS=2
LAYER_IMAGES=4

if [ ! -f "$ZOO/val.npy" ]; then
    skip "the zoo: skipped: no zoo in $ZOO (torch or torchvision missing; 'make zoo-check' writes it)"
    summary zoo
fi
ORT_PY=$(find_python "onnxruntime, numpy") || ORT_PY=
ONNX_PY=$(find_python onnx) || ONNX_PY=
if [ -z "$ORT_PY" ]; then
    skip "the zoo: skipped: onnxruntime not installed"
    summary zoo
fi
if [ -z "$ONNX_PY" ]; then
    skip "the zoo: skipped: onnx (python) not installed to check the files and read their output scales"
    summary zoo
fi

if [ ! -x "$DUMP" ]; then
    bad "$DUMP is built ('make zoo-check' builds it)"
    summary zoo
fi
"$ORT_PY" -c "import numpy as np, sys; np.load(sys.argv[1])[:$LAYER_IMAGES].tofile(sys.argv[2])" "$ZOO/val.npy" "$tmp/inputs.f32"
# 7-bit weights where ONNX Runtime's u8 × s8 GEMM saturates (tests/lib.sh): there it runs
# per-channel uint8 QOperator weights as int8 and would not compute qcal's integers
ORT_QFLAGS=$(ort_quantize_flags "$ORT_PY")
[ -z "$ORT_QFLAGS" ] || echo "zoo: ONNX Runtime's u8 x s8 GEMM saturates on this CPU: variants written with $ORT_QFLAGS"

# the grid: scheme × granularity × method × bits × format (QOperator at 8 bits only)
SCHEMES="gemmlowp symlowp"
GRANS="tensor channel"
if [ "${QCAL_ZOO_FULL:-}" = 1 ]; then
    METHODS="minmax avg avgstd meanstd percentile entropy mse"
    BITS="8 6"
else
    METHODS="minmax percentile"
    BITS="8"
fi
variants=()
for s in $SCHEMES; do
    for g in $GRANS; do
        for me in $METHODS; do
            for b in $BITS; do
                if [ "${QCAL_ZOO_FULL:-}" = 1 ]; then
                    fmts="qdq fakequant"
                    [ "$b" = 8 ] && fmts="qdq qoperator fakequant"
                else
                    # the slice: QDQ for both methods, QOperator per channel with minmax
                    fmts=qdq
                    [ "$me" = minmax ] && [ "$g" = channel ] && fmts="qdq qoperator"
                fi
                for f in $fmts; do
                    variants+=("$s-$g-$me-b$b-$f")
                done
            done
        done
    done
done
if [ -n "${QCAL_ZOO_MATCH:-}" ]; then
    mapfile -t variants < <(printf '%s\n' "${variants[@]}" | grep -E -- "$QCAL_ZOO_MATCH")
fi
echo "zoo: ${#variants[@]} variants per model"

# Models whose FP32 graph qcal runs but whose quantization calib/quantize.c refuses (exit 3):
# listed as "skip" with the reason while the quantizer lacks it; any other failure is a FAIL.
declare -A QUANTIZE_GAP=()

models=${QCAL_ZOO_MODELS:-$(cd "$ZOO" && ls *.onnx | sed 's/\.onnx$//')}
if [ ! -f "$ZOO/resnet18_dynamic.onnx" ] && [ -z "${QCAL_ZOO_MODELS:-}" ]; then
    skip "resnet18_dynamic: skipped: not in the zoo (quantize_dynamic needs the venv with onnx and onnxruntime that tools/install-deps.sh makes)"
fi
# under the sanitizers (QCAL_SKIP_FULL=1) two models: residual Adds, depthwise Conv and Clip
[ "${QCAL_SKIP_FULL:-}" = 1 ] && [ -z "${QCAL_ZOO_MODELS:-}" ] && models="resnet18 mobilenet_v2"
for m in $models; do
    model=$ZOO/$m.onnx
    "$QCAL" inspect "$model" >/dev/null 2>"$tmp/err"
    rc=$?
    if [ "$rc" -eq 3 ] && grep -q "unsupported op" "$tmp/err"; then
        ops=$(sed -n 's/.*unsupported ops*: //p' "$tmp/err" | sed 's/ (node [^)]*)//g')
        skip "$m: unsupported: $ops"
        continue
    elif [ "$rc" -ne 0 ]; then
        bad "qcal inspect $m (exit $rc: $(head -c 200 "$tmp/err"))"
        continue
    fi
    d=$tmp/$m
    mkdir -p "$d"
    # FP32: qcal's logits, then statistics once (histograms included, per channel)
    if ! "$QCAL" eval --quiet --threads $THREADS --labels "$ZOO/$m.labels" --predictions "$d/fp32.pred" --scores \
        "$model" "$ZOO/val" >/dev/null 2>"$tmp/err"; then
        bad "qcal eval $m FP32 ($(head -c 200 "$tmp/err"))"
        continue
    fi
    "$QCAL" stats --quiet --threads $THREADS -o "$d/stats.json" "$model" "$ZOO/calib" 2>"$tmp/err"
    rc=$?
    files=()
    prequantized=
    if [ "$rc" -eq 3 ] && grep -q "is already quantized" "$tmp/err"; then
        # ONNX Runtime's quantize_dynamic output: run as it is (FP32 check below), never
        # quantized again; stats and quantize must say so, exit 3, and write nothing
        prequantized=1
        ok "qcal stats refuses $m, already quantized ($(head -c 120 "$tmp/err"))"
        "$QCAL" quantize --quiet -o "$d/q.onnx" "$model" "$ZOO/calib" 2>"$tmp/err"
        rc=$?
        if [ "$rc" -eq 3 ] && grep -q "is already quantized" "$tmp/err" && [ ! -e "$d/q.onnx" ]; then
            ok "qcal quantize refuses $m, already quantized"
        else
            bad "qcal quantize refuses $m, already quantized (exit $rc: $(head -c 200 "$tmp/err"))"
        fi
    elif [ "$rc" -ne 0 ]; then
        bad "qcal stats $m ($(head -c 200 "$tmp/err"))"
        continue
    fi
    for v in "${variants[@]}"; do
        [ -n "$prequantized" ] && break
        IFS=- read -r s g me b f <<<"$v"
        out=$d/$v.onnx
        "$QCAL" quantize --quiet $ORT_QFLAGS --stats "$d/stats.json" --scheme "$s" --granularity "$g" --method "$me" --bits "${b#b}" \
            --format "$f" -o "$out" "$model" 2>"$tmp/err"
        rc=$?
        if [ "$rc" -eq 3 ] && [ -n "${QUANTIZE_GAP[$m]:-}" ]; then
            skip "quantize $m $v: ${QUANTIZE_GAP[$m]} ($(head -c 120 "$tmp/err"))"
            continue
        elif [ "$rc" -ne 0 ]; then
            bad "quantize $m $v ($(head -c 200 "$tmp/err"))"
            continue
        fi
        if ! "$QCAL" eval --quiet --threads $THREADS --predictions "$d/$v.pred" --scores "$out" "$ZOO/val" \
            >/dev/null 2>"$tmp/err"; then
            bad "qcal runs $m $v ($(head -c 200 "$tmp/err"))"
            continue
        fi
        if ! "$DUMP" "$out" "$tmp/inputs.f32" $LAYER_IMAGES "$d/$v.dump" 2>"$tmp/err"; then
            bad "zoo-dump runs $m $v ($(head -c 200 "$tmp/err"))"
            continue
        fi
        files+=("$out")
    done
    # onnx.checker, output steps and one model per layer (zoo-onnx.py), then ONNX Runtime on
    # the whole files and on every layer with qcal's inputs (zoo-ort.py): one process each
    : >"$d/steps.txt"
    if [ ${#files[@]} -gt 0 ]; then
        "$ONNX_PY" "$here/zoo-onnx.py" "$d" "${files[@]}" >"$d/checker.txt" 2>"$tmp/err" ||
            bad "onnx side of $m ($(tail -n 1 "$tmp/err"))"
    fi
    "$ORT_PY" "$here/zoo-ort.py" "$ZOO/val.npy" "$model" "$d" $LAYER_IMAGES "${QCAL_ZOO_RESULTS:--}" "${files[@]}" \
        >"$d/ort.txt" 2>"$tmp/err"
    [ $? -eq 0 ] || bad "ONNX Runtime run on $m ($(tail -n 1 "$tmp/err"))"
    while read -r verdict rest; do
        case "$verdict" in
        ok) ok "$rest" ;;
        FAIL) bad "$rest" ;;
        info) echo "     $rest" ;;
        esac
    done < <(cat "$d/checker.txt" "$d/ort.txt" 2>/dev/null)
    rm -rf "$d"
done

summary zoo
