#!/bin/bash
# vocabulary-test.sh — the rules every command keeps (README, "One vocabulary"), checked
# mechanically on lenet with tiny settings: rates in percent in text and as fractions in
# [0,1] in JSON, deltas signed the same way in text and JSON, --quiet that silences stderr and
# never the result, and the same option names for the same concept in every --help.
# Prints "vocabulary: N passed, N failed".
set -u
tmp=$(mktemp -d /tmp/qcal-vocab.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

M=models/lenet.onnx
CAL=data/calib
VAL=data/val
expect "statistics for the quantize runs" 0 "$QCAL" stats --quiet --limit 20 -o "$tmp/s.json" "$M" "$CAL"

# run_all SUFFIX FLAGS…: every command once, its stdout in $tmp/CMD.SUFFIX, stderr in .err
run_all() {
    local sfx=$1
    shift
    run() {
        local cmd=$1
        shift
        "$QCAL" "$cmd" "$@" >"$tmp/$cmd.$sfx" 2>"$tmp/$cmd.$sfx.err"
        echo $? >"$tmp/$cmd.$sfx.rc"
    }
    run inspect "$@" "$M"
    run stats "$@" --limit 20 -o "$tmp/s-out.json" "$M" "$CAL"
    run merge "$@" "$tmp/s.json" -o "$tmp/m-out.json"
    run quantize "$@" "$M" --stats "$tmp/s.json" -o "$tmp/q-out.onnx"
    run eval "$@" --limit 50 "$M" "$VAL"
    run compare "$@" --limit 100 --calib-limit 20 --layer-images 2 --bits 3,8 --schemes symlowp "$M" "$CAL" "$VAL"
    run bench "$@" --runs 2 --batch 2 "$M"
}
COMMANDS="inspect stats merge quantize eval compare bench"
run_all text
run_all json --json
run_all quiet --quiet
run_all jquiet --json --quiet
for c in $COMMANDS; do
    for sfx in text json quiet jquiet; do
        if [ "$(cat "$tmp/$c.$sfx.rc")" = 0 ]; then ok "$c ($sfx) exits 0"; else bad "$c ($sfx) exits 0: $(head -c 300 "$tmp/$c.$sfx.err")"; fi
    done
done

# The rules, read from the outputs by one script: one line "ok NAME" or "FAIL NAME (why)" each.
"$PY" - "$tmp" $COMMANDS >"$tmp/checks" <<'EOF'
import json, re, sys
tmp, commands = sys.argv[1], sys.argv[2:]
def read(c, sfx):
    return open(f"{tmp}/{c}.{sfx}").read()
def check(name, cond, why=""):
    why = " ".join(str(why).split())[:300]
    print(f"ok   {name}" if cond else f"FAIL {name} ({why})")

RATE_KEYS = {"top1", "top5", "agreement", "clipped", "codes_used"}
def walk(x, path=""):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from walk(v, f"{path}.{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from walk(v, f"{path}[{i}]")
    else:
        yield path, x

parsed = {}
for c in commands:
    try:
        parsed[c] = json.loads(read(c, "json"))
        check(f"{c} --json is one JSON document", True)
    except ValueError as e:
        check(f"{c} --json is one JSON document", False, str(e))
        continue
    # rates: fractions in [0, 1] under their own names, never points
    bad = [(p, v) for p, v in walk(parsed[c]) if p.rsplit(".", 1)[-1] in RATE_KEYS and v is not None
           and not (isinstance(v, (int, float)) and 0 <= v <= 1)]
    check(f"{c}: JSON rates are fractions in [0,1]", not bad, str(bad[:3]))
    # a loss is a signed delta, not a positive "drop"
    drops = [p for p, _ in walk(parsed[c]) if p.rsplit(".", 1)[-1] in ("drop", "loss")]
    check(f"{c}: JSON has signed deltas, no 'drop' key", not drops, str(drops[:3]))

# rates in text carry a percent sign: every number in a top-1/top-5/agree column
for c in ("eval", "compare"):
    lines = read(c, "text").splitlines()
    head = lines[0] if lines else ""
    # a rate column: the header word and up to 14 columns before it (right-aligned cells)
    rate_cols = [(m.start() - 14, m.end()) for m in re.finditer(r"top-1|top-5|agree", head)]
    check(f"{c}: the text table has rate columns", rate_cols, head)
    bad = []
    for line in lines[1:]:
        for m in re.finditer(r"(?<![\w.])[-+]?\d+(\.\d+)?(e[-+]\d+)?%?", line):
            inside = any(lo <= m.start() <= hi for lo, hi in rate_cols)
            signed = m.group(0)[0] in "+-"  # a delta, in points
            if inside and not signed and "." in m.group(0) and not m.group(0).endswith("%"):
                bad.append(m.group(0))
    check(f"{c}: text rates are in percent (a '%' after each)", not bad, str(bad[:4]))

# the same run's deltas in text (points) and JSON (fraction): same sign, same value
if "compare" in parsed:
    text = read("compare", "text").splitlines()
    pairs = []
    for v in parsed["compare"]["models"][0]["variants"]:
        row = next((l for l in text if re.search(r"\s" + re.escape(v["name"]) + r"\s", l)), None)
        m = re.search(r"%\s+([-+]\d+\.\d+)\s", row or "")
        if m is None or v.get("delta") is None:
            pairs.append((v["name"], row, v.get("delta")))
            continue
        t = float(m.group(1))
        if not (m.group(1)[0] in "+-" and abs(t - 100 * v["delta"]) < 0.006 and (t < 0) == (v["delta"] < -0.00005)):
            pairs.append((v["name"], m.group(1), v["delta"]))
        expect = v["top1"] - parsed["compare"]["models"][0]["fp32"]["top1"]
        if abs(v["delta"] - expect) > 1e-9:
            pairs.append((v["name"], "delta is not top1 - fp32 top1", v["delta"]))
    check("compare: each delta has one sign and value in text (points) and JSON (fraction)", not pairs, str(pairs[:3]))
    check("compare: the run has a negative delta to check the sign on",
          any((v.get("delta") or 0) < 0 for v in parsed["compare"]["models"][0]["variants"]), "")

# --quiet: nothing on stderr, the same result on stdout (timing figures masked)
def mask(s):
    return re.sub(r"[-+]?\d[\d.]*(e[-+]?\d+)?", "N", re.sub(r" +", " ", s))
TIMING = {"images_per_s", "seconds"}
BENCH_TIMING = {"fp32", "int8", "speedup"}  # bench's result is nothing but times
def untimed(x, drop=TIMING):
    if isinstance(x, dict):
        return {k: untimed(v, drop) for k, v in x.items() if k not in drop}
    if isinstance(x, list):
        return [untimed(v, drop) for v in x]
    return x
for c in commands:
    for sfx, ref in (("quiet", "text"), ("jquiet", "json")):
        err = read(c, sfx + ".err")
        check(f"{c} --quiet{' --json' if sfx == 'jquiet' else ''}: nothing on stderr", err == "", err[:200])
        out, want = read(c, sfx), read(c, ref)
        check(f"{c} --quiet{' --json' if sfx == 'jquiet' else ''}: the result is printed", out.strip() != "", "empty")
        if sfx == "jquiet":
            try:
                drop = TIMING | BENCH_TIMING if c == "bench" else TIMING
                same = untimed(json.loads(out), drop) == untimed(json.loads(want), drop)
            except ValueError:
                same = False
        else:
            same = mask(out) == mask(want)
        check(f"{c} --quiet{' --json' if sfx == 'jquiet' else ''}: the same result as without", same,
              out[:120] + " vs " + want[:120])
EOF
while read -r verdict rest; do
    case "$verdict" in ok) ok "$rest" ;; *) bad "$rest" ;; esac
done <"$tmp/checks"

# the same option names for the same concept: every command's synopsis lists the common
# options, and no command offers an older spelling of a concept that has one name
for c in $COMMANDS; do
    "$QCAL" "$c" --help >"$tmp/help" 2>&1
    syn=$(sed -n '1,/^  [A-Z]/p' "$tmp/help" | sed '$d')
    for opt in --json --quiet; do
        case "$syn" in *"[$opt]"*) ok "$c's synopsis lists $opt" ;; *) bad "$c's synopsis lists $opt" ;; esac
    done
    for old in --per-channel --per-tensor --input-compensation --max-images --out --output-json --silent; do
        if grep -qE -- "\\[$old[] =]" "$tmp/help"; then bad "$c's synopsis offers $old (one name: see README)"; else ok "$c's synopsis does not offer $old"; fi
    done
    if grep -qF -- "--granularity" "$tmp/help"; then
        vals=$(grep -oE -- "--granularity [A-Za-z|]+" "$tmp/help" | head -1 | cut -d' ' -f2)
        case "$vals" in tensor\|channel*|LIST) ok "$c's --granularity takes tensor|channel…" ;; *) bad "$c's --granularity takes tensor|channel…: $vals" ;; esac
    fi
done
for c in stats quantize eval compare bench; do
    "$QCAL" "$c" --help >"$tmp/help" 2>&1
    if grep -qF -- "[--threads N]" "$tmp/help"; then ok "$c's synopsis lists --threads"; else bad "$c's synopsis lists --threads"; fi
done

# tables: every row has its cells at the header's offsets (a left-aligned cell starts where its
# header starts, a right-aligned one ends where its header ends); with COLUMNS=80 no table
# line is wider than 80 and long names are shortened in the middle; --wide and a pipe without
# COLUMNS show every column and full names
ZOO=${QCAL_BUILD:-build}/zoo
LONG=$ZOO/resnet18.onnx # names such as /layer1/layer1.0/conv1/Conv_output_0
[ -f "$LONG" ] || { LONG=$M; skip "names shortened in the middle: no $ZOO/resnet18.onnx (make zoo)"; }
# table_runs SUFFIX COLUMNS FLAG: each table command, COLUMNS set (or unset when empty)
table_runs() {
    local sfx=$1 cols=$2 flag=${3:-}
    run_table() {
        local cmd=$1
        shift
        if [ -n "$cols" ]; then
            COLUMNS=$cols "$QCAL" "$cmd" $flag "$@" >"$tmp/table-$name-$sfx.out" 2>>"$tmp/table.err"
        else
            env -u COLUMNS "$QCAL" "$cmd" $flag "$@" >"$tmp/table-$name-$sfx.out" 2>>"$tmp/table.err"
        fi
    }
    name=inspect run_table inspect "$LONG"
    name=stats run_table stats --limit 4 "$LONG" "$CAL"
    name=stats-lenet run_table stats --limit 20 "$M" "$CAL"
    name=quantize run_table quantize --granularity channel "$M" --stats "$tmp/s.json" -o "$tmp/q-table.onnx"
    name=eval run_table eval --limit 20 "$M" models/resnet.onnx "$VAL"
    name=compare run_table compare --limit 50 --calib-limit 20 --layer-images 2 "$M" models/resnet.onnx "$CAL" "$VAL"
}
table_runs 80 80
table_runs wide 80 --wide
table_runs pipe ""
"$PY" - "$tmp" $([ "$LONG" != "$M" ] && echo long) >"$tmp/checks" <<'EOF'
import glob, re, sys
tmp = sys.argv[1]
def check(name, cond, why=""):
    why = " ".join(str(why).split())[:300]
    print(f"ok   {name}" if cond else f"FAIL {name} ({why})")
def spans(line):  # cells: words joined by single spaces, columns by two or more
    return [(m.start(), m.end()) for m in re.finditer(r"\S+(?: \S+)*", line)]
HEADER = re.compile(r"^ *(#|tensor|model|name)  ")
END = re.compile(r"^(\(|\d+ (tensors|images)|gated:|outputs:|inputs:|nodes \(|model:|$)")
def tables(text):
    out, cur = [], None
    for line in text.splitlines():
        if HEADER.match(line):
            cur = [line]
            out.append(cur)
        elif cur is not None and not END.match(line):
            cur.append(line)
        else:
            cur = None
    return out
for path in sorted(glob.glob(f"{tmp}/table-*.out")):
    label = path.rsplit("/", 1)[1][len("table-"):-len(".out")]
    text = open(path).read()
    found = tables(text)
    check(f"{label}: has a table", found and all(len(t) > 1 for t in found), text[:200])
    bad = []
    for t in found:
        heads = spans(t[0])
        starts, ends = {a for a, _ in heads}, {b for _, b in heads}
        bad += [row for row in t[1:] if any(a not in starts and b not in ends for a, b in spans(row))]
    check(f"{label}: every row's cells at the header's offsets", not bad, bad[:2])
    lines = [l for t in found for l in t]
    if label.endswith("-80"):
        check(f"{label}: no table line over 80 columns", all(len(l) <= 80 for l in lines),
              [l for l in lines if len(l) > 80][:1])
    else:
        check(f"{label}: every column and full names", "left out" not in text and "\u2026" not in text, text[-200:])
wide = open(f"{tmp}/table-stats-wide.out").read()
narrow = open(f"{tmp}/table-stats-80.out").read()
if sys.argv[2:] == ["long"]:
    shortened = re.search(r"^/layer\S*\u2026\S*_output_0 ", narrow, re.M)
    check("stats at 80 columns shortens long names in the middle", shortened, narrow[:300])
check("stats at 80 columns says how many columns it left out", re.search(r"\(\d+ columns? left out to fit 80 columns; --wide shows every column\)", narrow), narrow[-200:])
check("--wide gives the same table as a pipe", wide == open(f"{tmp}/table-stats-pipe.out").read())
EOF
while read -r verdict rest; do
    case "$verdict" in ok) ok "$rest" ;; *) bad "$rest" ;; esac
done <"$tmp/checks"

summary vocabulary
