# lib.sh — what the shell tests share. Source it after setting $tmp (a scratch folder):
# ok/bad count results, expect runs a command and checks its exit code (stdout in $tmp/out,
# stderr in $tmp/err), contains and same check files, json_get reads one value.
QCAL=${QCAL:-./qcal}
PY=${PYTHON:-python3}
passed=0
failed=0
skipped=0

ok() { passed=$((passed + 1)); echo "ok   $1"; }
# skip WHAT: a check not run, and why (a missing tool or module); counted, never a pass
skip() { skipped=$((skipped + 1)); echo "skip $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
# expect NAME CODE CMD…
expect() {
    local name=$1 code=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ "$rc" -eq "$code" ]; then ok "$name"; else bad "$name (exit $rc, expected $code: $(head -c 300 "$tmp/err"))"; fi
}
# contains NAME FILE TEXT
contains() {
    if grep -qF -- "$3" "$2"; then ok "$1"; else bad "$1 ('$3' not in: $(head -c 300 "$2"))"; fi
}
# same NAME FILE1 FILE2: byte-identical
same() {
    if cmp -s "$2" "$3"; then ok "$1"; else bad "$1 ($2 and $3 differ)"; fi
}
# json_get FILE EXPR: prints d<EXPR> of the JSON in FILE, e.g. json_get f.json '["top1"]'
json_get() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print(d$2)" "$1"; }
# find_python MODULE: the first interpreter ($PYTHON, python3, /usr/bin/python3) that imports it
find_python() {
    local py
    for py in ${PYTHON:-} python3 /usr/bin/python3; do
        if command -v "$py" >/dev/null 2>&1 && "$py" -c "import $1" >/dev/null 2>&1; then
            echo "$py"
            return 0
        fi
    done
    return 1
}
# summary NAME: prints "NAME: N passed, N failed, N skipped" and exits 0 when nothing failed
summary() { echo "$1: $passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit $?; }
# ort_quantize_flags PY: the quantize flags of files that must agree exactly with ONNX Runtime
# (run by PY): --reduce-range where ONNX Runtime's u8 × s8 GEMM saturates on this CPU (x86
# without VNNI; tests/ort-saturates.py asks it), as a user deploying there would write them
# (docs/qparams.md P3); nothing elsewhere
ort_quantize_flags() {
    [ -n "$1" ] && [ "$("$1" "$(dirname "${BASH_SOURCE[0]}")/ort-saturates.py" 2>/dev/null)" = saturates ] &&
        echo --reduce-range
    return 0
}
