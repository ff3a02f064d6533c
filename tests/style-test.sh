#!/bin/bash
# style-test.sh — the style rules a script can check: no function in cli/ longer than 90 lines
# (tools/function-lengths.py), and the tool itself measured on functions of known length.
# Prints "style: N passed, N failed, N skipped".
set -u
tmp=$(mktemp -d /tmp/qcal-style.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
LENGTHS=tools/function-lengths.py

# 1. the tool: a function of N lines (signature to closing brace), a declaration, a comment
make_function() { # NAME LINES: a C function of that many lines
    printf 'static int %s(int a,\n                  int b)\n{\n' "$1"
    for ((i = 0; i < $2 - 5; i++)); do printf '    a += b;\n'; done
    printf '    return a;\n}\n\n'
}
{
    echo '/* a comment at column 0 (with a call(like this)) */'
    echo 'int declared(int x);'
    make_function ninety 90
    make_function longer 91
    echo 'static const int table[] = {'
    echo '    1,'
    echo '};'
} >"$tmp/sample.c"
"$PY" "$LENGTHS" "$tmp/sample.c" >"$tmp/all"
contains "the tool measures a 90-line function as 90" "$tmp/all" "sample.c:3: ninety: 90 lines"
contains "the tool measures a 91-line function as 91" "$tmp/all" "sample.c:94: longer: 91 lines"
if [ "$(wc -l <"$tmp/all")" -eq 2 ]; then ok "declarations, comments and tables are not functions"; else bad "declarations, comments and tables are not functions: $(cat "$tmp/all")"; fi
expect "--max 90 fails on a 91-line function" 1 "$PY" "$LENGTHS" --max 90 "$tmp/sample.c"
contains "--max 90 names it" "$tmp/out" "longer: 91 lines"
expect "--max 91 passes" 0 "$PY" "$LENGTHS" --max 91 "$tmp/sample.c"

# 2. the rule: every function of cli/ within 90 lines
expect "no function in cli/ is longer than 90 lines" 0 "$PY" "$LENGTHS" --max 90 cli/*.c
n=$(grep -c '^{' cli/*.c | awk -F: '{ s += $2 } END { print s }')
m=$("$PY" "$LENGTHS" cli/*.c | wc -l)
if [ "$n" -eq "$m" ] && [ "$m" -gt 50 ]; then ok "every function of cli/ is measured ($m)"; else bad "every function of cli/ is measured ($m of $n)"; fi
summary style
