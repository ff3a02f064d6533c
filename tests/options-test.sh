#!/usr/bin/env bash
# options-test.sh — the option-table parser (cli/options.c) through the commands that use it:
# "--x=v" and "--x v", a missing value, an unknown option, an enum or range error naming the
# valid values, aliases, a repeated list option, a flag given a value, and --help derived from
# the rows. Prints "options: N passed, N failed, N skipped".
cd "$(dirname "$0")/.." || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/lib.sh

M=models/lenet.onnx
"$QCAL" stats --quiet --limit 32 -o "$tmp/s.json" "$M" data/calib >/dev/null || { bad "statistics for the tests"; summary options; exit 1; }
Q=("$QCAL" quantize --json --stats "$tmp/s.json")
json() { json_get "$tmp/out" "$1"; }

# 1. --x=v and --x v give the same value
expect "--scheme=symlowp is taken" 0 "${Q[@]}" --scheme=symlowp -o "$tmp/a.onnx" "$M"
a=$(json '["scheme"]')
expect "--scheme symlowp is taken" 0 "${Q[@]}" --scheme symlowp -o "$tmp/b.onnx" "$M"
b=$(json '["scheme"]')
[ "$a" = symlowp ] && [ "$b" = symlowp ] && ok "both forms set the scheme" || bad "both forms set the scheme ($a, $b)"
expect "-o=FILE writes the file" 0 "${Q[@]}" -o="$tmp/c.onnx" "$M"
[ -s "$tmp/c.onnx" ] && ok "-o=FILE wrote it" || bad "-o=FILE wrote it"
expect "--limit=16 is taken" 0 "$QCAL" stats --json --quiet --limit=16 "$M" data/calib
[ "$(json '["images"]')" = 16 ] && ok "--limit=16 reads 16 images" || bad "--limit=16 reads 16 images ($(json '["images"]'))"

# 2. usage errors: exit 2, the option, the bad value and what it takes named
usage_error() { # NAME TEXT ARGS…: exit 2 with TEXT on stderr, the usage after it
    local name=$1 text=$2
    shift 2
    expect "$name is exit 2" 2 "$@"
    contains "$name: the message" "$tmp/err" "$text"
    contains "$name: where to read more follows" "$tmp/err" "see 'qcal $2 --help'"
}
usage_error "a missing value" "error: option '--scheme' needs a value" "$QCAL" quantize -o "$tmp/x.onnx" "$M" --scheme
usage_error "an unknown option" "error: unknown option '--frobnicate'" "$QCAL" quantize --frobnicate "$M"
usage_error "an unknown option with a value" "error: unknown option '--frobnicate=3'" "$QCAL" eval --frobnicate=3 "$M" data/val
usage_error "a bad --format" "error: --format takes qdq, qoperator or fakequant, not 'qlinear'" \
    "$QCAL" quantize --format qlinear --stats "$tmp/s.json" -o "$tmp/x.onnx" "$M"
usage_error "a bad --color (a name table)" "error: --color takes gray, rgb or bgr, not 'cmyk'" \
    "$QCAL" eval --color cmyk "$M" data/val
usage_error "a bad stats --granularity" "error: --granularity takes tensor or channel, not 'compensated'" \
    "$QCAL" stats --granularity compensated "$M" data/calib
usage_error "--threads 0 (out of range)" "error: --threads takes a number from 1 to 256, not '0'" \
    "$QCAL" inspect --threads 0 "$M"
usage_error "--bits=9 (out of range)" "error: --bits takes a number from 2 to 8, not '9'" \
    "$QCAL" quantize --bits=9 --stats "$tmp/s.json" -o "$tmp/x.onnx" "$M"
usage_error "--batch 4097 (out of range)" "error: --batch takes a number from 1 to 4096, not '4097'" \
    "$QCAL" eval --batch 4097 "$M" data/val
usage_error "--runs 1.5 (not an integer)" "error: --runs takes a number from 1 to 100000, not '1.5'" \
    "$QCAL" bench --runs 1.5 "$M"
usage_error "a flag given a value" "error: option '--json' takes no value" "$QCAL" inspect --json=1 "$M"
usage_error "a flag alias given a value" "error: option '--per-channel' takes no value" \
    "$QCAL" quantize --per-channel=yes --stats "$tmp/s.json" -o "$tmp/x.onnx" "$M"
usage_error "--help after a bad option" "error: unknown option '--bogus'" "$QCAL" merge --help --bogus
absent() { if [ ! -e "$2" ]; then ok "$1"; else bad "$1"; fi; }
absent "no usage error wrote a file" "$tmp/x.onnx"

# 3. aliases: --per-channel is --granularity channel, -q is --quiet, -o is --output
expect "--per-channel" 0 "${Q[@]}" --per-channel -o "$tmp/pc.onnx" "$M"
cp "$tmp/out" "$tmp/alias.json"
expect "--granularity channel" 0 "${Q[@]}" --granularity channel -o "$tmp/gc.onnx" "$M"
[ "$(json '["per_channel"]')" = True ] && ok "--granularity channel is per channel" || bad "--granularity channel is per channel"
same "--per-channel gives what --granularity channel gives" "$tmp/pc.onnx" "$tmp/gc.onnx"
expect "--per-tensor after --per-channel" 0 "${Q[@]}" --per-channel --per-tensor -o "$tmp/pt.onnx" "$M"
[ "$(json '["per_channel"]')" = False ] && ok "the last of two aliases wins" || bad "the last of two aliases wins"
expect "-q" 0 "$QCAL" quantize -q --stats "$tmp/s.json" --output "$tmp/q.onnx" "$M"
# --quiet silences stderr, never the result (README, "One vocabulary")
[ ! -s "$tmp/err" ] && grep -q "tensors quantized" "$tmp/out" && [ -s "$tmp/q.onnx" ] && ok "-q: nothing on stderr, the result printed, --output writes" || bad "-q: nothing on stderr, the result printed, --output writes"

# 4. a repeated list option adds up: --exclude A --exclude B is --exclude A,B
expect "--exclude A,B" 0 "${Q[@]}" --exclude /fc1/Gemm,/fc2/Gemm -o "$tmp/e1.onnx" "$M"
n_both=$(json '["tensors"].__len__()')
expect "--exclude A --exclude B" 0 "${Q[@]}" --exclude /fc1/Gemm --exclude=/fc2/Gemm -o "$tmp/e2.onnx" "$M"
n_twice=$(json '["tensors"].__len__()')
expect "--exclude A" 0 "${Q[@]}" --exclude /fc1/Gemm -o "$tmp/e3.onnx" "$M"
n_one=$(json '["tensors"].__len__()')
if [ "$n_both" = "$n_twice" ] && [ "$n_one" -gt "$n_both" ]; then
    ok "repeated --exclude adds up ($n_twice tensors; $n_one with one name)"
else
    bad "repeated --exclude adds up ($n_both, $n_twice, $n_one)"
fi
same "the two spellings write the same model" "$tmp/e1.onnx" "$tmp/e2.onnx"
expect "a repeated --exclude with an unknown name" 2 "${Q[@]}" --exclude /fc1/Gemm --exclude nope -o "$tmp/e4.onnx" "$M"

# 5. --help: the synopsis and the description lines come from the rows
expect "quantize --help" 0 "$QCAL" quantize --help
contains "the synopsis lists a row" "$tmp/out" "[--format qdq|qoperator|fakequant]"
contains "a row's own usage item" "$tmp/out" "[--bits N | --weight-bits N --act-bits N]"
contains "a shared group's rows" "$tmp/out" "[--mean M[,M,M]] [--std S[,S,S]] [--color gray|rgb|bgr]"
contains "a row's help line" "$tmp/out" "  --reduce-range 7-bit weights"
if grep -q -- '--max-memory\|--per-tensor \[' "$tmp/out"; then bad "hidden rows stay out of the synopsis"; else ok "hidden rows stay out of the synopsis"; fi
if awk 'length > 94 { exit 1 }' "$tmp/out"; then ok "help lines wrap within 94 columns"; else bad "help lines wrap within 94 columns"; fi
expect "-h is --help" 0 "$QCAL" bench -h
contains "-h prints the usage" "$tmp/out" "usage: qcal bench MODEL"
expect "--max-memory is taken though hidden" 0 "$QCAL" inspect --max-memory 64 "$M"

summary options
