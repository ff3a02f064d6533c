#!/bin/bash
# run-all.sh — runs every test program given, sums their "N passed, N failed[, N skipped]"
# lines and prints the total last, after the list of what was skipped and why. Exits non-zero
# when any test failed or a program did not report. A passing program shows its last 40 lines,
# a failing one all of its output (the cause of a CI failure may be anywhere in it).
set -u
total_pass=0
total_fail=0
total_skip=0
skips=""
status=0
for t in "$@"; do
    echo "== $t"
    out=$("$t" 2>&1)
    rc=$?
    line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ "$rc" -ne 0 ] || [ -z "$line" ] || ! printf '%s' "$line" | grep -qE '(^|[^0-9])0 failed'; then
        printf '%s\n' "$out"
    else
        printf '%s\n' "$out" | tail -n 40
    fi
    if [ -z "$line" ]; then
        echo "error: '$t' printed no summary (exit $rc)"
        total_fail=$((total_fail + 1))
        status=1
        continue
    fi
    p=$(printf '%s' "$line" | sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed.*/\2/')
    f=$(printf '%s' "$line" | sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed.*/\3/')
    s=0
    case "$line" in *" skipped"*) s=$(printf '%s' "$line" | sed -E 's/.* ([0-9]+) skipped.*/\1/') ;; esac
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    total_skip=$((total_skip + s))
    reasons=$(printf '%s\n' "$out" | sed -n 's/^skip  *//p')
    [ -n "$reasons" ] && skips="$skips$(printf '%s\n' "$reasons" | sed "s|^|  ${t##*/}: |")"$'\n'
    if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
        status=1
    fi
done
if [ -n "$skips" ]; then
    echo "skipped:"
    printf '%s' "$skips"
fi
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
exit $status
