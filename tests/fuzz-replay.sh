#!/bin/bash
# fuzz-replay.sh — replays every fuzz target's committed corpus (tests/fuzz/corpus/TARGET) and
# regressions (tests/fuzz/regressions/TARGET, each a file that once crashed or ran away), and
# the hostile model files, through the targets built without libFuzzer (under the sanitizers
# with SANITIZE=1). Prints "fuzz-replay: N passed, N failed".
set -u
BUILD=${QCAL_BUILD:-build}
passed=0
failed=0
for t in onnx png stats config npy; do
    dirs="tests/fuzz/corpus/$t"
    [ -d "tests/fuzz/regressions/$t" ] && dirs="$dirs tests/fuzz/regressions/$t"
    [ "$t" = onnx ] && dirs="$dirs tests/data/onnx-bad tests/data/onnx-odd"
    out=$("$BUILD/tests/fuzz-replay-$t" "fuzz-$t" $dirs 2>&1)
    rc=$?
    n=$(printf '%s\n' "$out" | sed -n 's/.*: \([0-9]*\) passed, 0 failed$/\1/p' | tail -n 1)
    if [ "$rc" -eq 0 ] && [ -n "$n" ]; then
        echo "ok   fuzz-$t replays $n files"
        passed=$((passed + 1))
    else
        echo "FAIL fuzz-$t (exit $rc): $(printf '%s\n' "$out" | tail -n 20)"
        failed=$((failed + 1))
    fi
done
echo "fuzz-replay: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
