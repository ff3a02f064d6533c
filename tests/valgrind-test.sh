#!/bin/bash
# valgrind-test.sh — a few end-to-end commands under valgrind's memcheck, on the release
# build: no invalid read or write, no use of an uninitialised value, no leak, over the paths
# a user takes (inspect, stats, quantize, eval of the quantized model, a refused model, JPEG
# decoding and its failures, --sample and --skip-bad).
# Prints "valgrind: N passed, N failed, N skipped".
set -u
tmp=$(mktemp -d /tmp/qcal-valgrind.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

if [ -n "${QCAL_SKIP_FULL:-}" ]; then
    skip "memcheck: the sanitizer build runs under ASan instead"
    summary valgrind
fi
if ! command -v valgrind >/dev/null 2>&1; then
    skip "memcheck: valgrind not installed"
    summary valgrind
fi
mkdir -p "$tmp/img"
find data/val -name '*.png' | sort | head -n 8 | while read -r f; do cp "$f" "$tmp/img/"; done
# memcheck NAME CODE CMD…: exit status CODE from qcal itself, no memcheck error, no leak
memcheck() {
    local name=$1 code=$2
    shift 2
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --log-file="$tmp/vg.log" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ "$rc" -eq "$code" ] && [ ! -s "$tmp/vg.log" ]; then
        ok "$name"
    else
        bad "$name (exit $rc, expected $code: $(head -c 600 "$tmp/vg.log"))"
    fi
}
memcheck "inspect under memcheck" 0 "$QCAL" inspect models/resnet.onnx
memcheck "stats under memcheck" 0 "$QCAL" stats --quiet -o "$tmp/s.json" models/lenet.onnx "$tmp/img"
memcheck "quantize under memcheck" 0 "$QCAL" quantize --quiet --stats "$tmp/s.json" --per-channel -o "$tmp/q.onnx" models/lenet.onnx
memcheck "eval of the INT8 model under memcheck" 0 "$QCAL" eval --quiet models/lenet.onnx "$tmp/q.onnx" "$tmp/img"
memcheck "a refused model under memcheck" 3 "$QCAL" inspect tests/data/onnx-bad/reshape-overflow.onnx
memcheck "a refused PNG under memcheck" 3 "$QCAL" eval --quiet models/lenet.onnx tests/data/png/huge-text-chunk.png
memcheck "eval over JPEGs (gray, RGB, progressive) under memcheck" 0 "$QCAL" eval --quiet models/lenet.onnx tests/data/jpeg/set-jpeg
memcheck "a truncated JPEG under memcheck" 3 "$QCAL" eval --quiet models/lenet.onnx tests/data/jpeg/bad/truncated-progressive.jpg
memcheck "a CMYK JPEG under memcheck" 3 "$QCAL" eval --quiet models/lenet.onnx tests/data/jpeg/bad/cmyk.jpg
memcheck "compare --methods auto --calib-limit under memcheck" 0 "$QCAL" compare --quiet --schemes gemmlowp --granularity tensor --methods auto --calib-limit 4 models/lenet.onnx "$tmp/img" "$tmp/img"
cp tests/data/jpeg/bad/corrupt-scan.jpg "$tmp/img/z.jpg"
memcheck "stats --sample --skip-bad under memcheck" 0 "$QCAL" stats --quiet --sample 6 --seed 1 --skip-bad --threads 2 -o "$tmp/s2.json" models/lenet.onnx "$tmp/img"
memcheck "compare --skip-bad under memcheck" 0 "$QCAL" compare --quiet --schemes gemmlowp --granularity tensor --skip-bad models/lenet.onnx "$tmp/img" "$tmp/img"
summary valgrind
