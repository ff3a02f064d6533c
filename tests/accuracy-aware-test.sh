#!/bin/bash
# accuracy-aware-test.sh — end-to-end tests of `qcal quantize --max-drop P VAL` and
# `--min-agreement A VAL` and of `qcal compare --sensitivity`: usage errors; a 4-bit budget that
# plain quantization misses is met, the steps follow the ranking, and the JSON's figures equal
# `qcal eval` run separately on the written model (top-1 count, agreement from its
# predictions); the model equals plain quantization with the returned nodes excluded; the same
# output for --threads 1 and 2; a budget that cannot be met is exit 1 with a valid model;
# compare ranks the same nodes with the same scores. Prints "accuracy-aware: N passed, N failed".
set -u
tmp=$(mktemp -d /tmp/qcal-aa.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

M=models/resnet.onnx
# VAL: the first 60 images of each class of data/val, and a folder without labels
mkdir -p "$tmp/val" "$tmp/unlabelled"
for d in data/val/*/; do
    c=$(basename "$d")
    mkdir -p "$tmp/val/$c"
    ls "$d" | head -n 60 | while read -r f; do cp "$d$f" "$tmp/val/$c/"; done
    ls "$d" | head -n 20 | while read -r f; do cp "$d$f" "$tmp/unlabelled/$c-$f"; done
done
VAL=$tmp/val

expect "stats of resnet over data/calib" 0 "$QCAL" stats "$M" data/calib -o "$tmp/s.json"

# 1. usage errors
expect "--max-drop without VAL is a usage error" 2 "$QCAL" quantize "$M" --stats "$tmp/s.json" -o "$tmp/x.onnx" --max-drop 1
contains "the message asks for VAL" "$tmp/err" "needs VAL"
expect "a negative --max-drop is a usage error" 2 "$QCAL" quantize "$M" --stats "$tmp/s.json" -o "$tmp/x.onnx" --max-drop -1 "$VAL"
expect "--min-agreement above 100 is a usage error" 2 "$QCAL" quantize "$M" --stats "$tmp/s.json" -o "$tmp/x.onnx" --min-agreement 101 "$VAL"
expect "--max-drop and --min-agreement together are a usage error" 2 "$QCAL" quantize "$M" --stats "$tmp/s.json" \
    -o "$tmp/x.onnx" --max-drop 1 "$VAL" --min-agreement 90 "$VAL"
expect "--sensitivity-images 0 is a usage error" 2 "$QCAL" quantize "$M" --stats "$tmp/s.json" -o "$tmp/x.onnx" \
    --max-drop 1 "$VAL" --sensitivity-images 0
expect "--max-drop on images without labels is a usage error" 2 "$QCAL" quantize "$M" --stats "$tmp/s.json" \
    -o "$tmp/x.onnx" --max-drop 1 "$tmp/unlabelled"
contains "the message says labels are needed" "$tmp/err" "label"
[ ! -e "$tmp/x.onnx" ] && ok "no model is written on a usage error" || bad "no model is written on a usage error"

# 2. labelled: 4 bits, at most 3 points of top-1 below FP32
# the scheme these budgets and rankings were measured with (the former default), as compare's
FORMER="--scheme gemmlowp --granularity tensor"
AA="--stats $tmp/s.json --bits 4 --max-drop 3 $VAL --json"
expect "quantize --max-drop 3 at 4 bits (2 threads) exits 0" 0 "$QCAL" quantize $FORMER "$M" $AA -o "$tmp/q2.onnx" --threads 2
cp "$tmp/out" "$tmp/q2.json"
expect "the same with 1 thread exits 0" 0 "$QCAL" quantize $FORMER "$M" $AA -o "$tmp/q1.onnx" --threads 1
cp "$tmp/out" "$tmp/q1.json"
same "the model does not depend on --threads" "$tmp/q1.onnx" "$tmp/q2.onnx"
"$PY" -c "
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
for d in (a, b):
    d['accuracy_aware'].pop('seconds')
    d['output'] = None
sys.exit(a != b)" "$tmp/q1.json" "$tmp/q2.json" && ok "the JSON does not depend on --threads (but its time)" \
    || bad "the JSON does not depend on --threads (but its time)"

"$PY" - "$tmp/q2.json" >"$tmp/check.txt" 2>&1 <<'EOF'
import json, sys
a = json.load(open(sys.argv[1]))["accuracy_aware"]
def check(name, cond):
    print(("ok   " if cond else "FAIL ") + name)
def drop(s):  # points of top-1 below FP32, from the counts
    return 100.0 * (a["fp32"]["correct"] - s["correct"]) / s["labelled"]
check("600 labelled images, metric top1, budget 3", a["images"] == 600 and a["fp32"]["labelled"] == 600
      and a["metric"] == "top1" and a["budget"] == 3)
check("plain 4-bit quantization misses the budget (drop %.2f)" % drop(a["quantized"]), drop(a["quantized"]) > 3)
check("the budget is met: final drop %.2f after %d steps" % (drop(a["final"]), len(a["steps"])),
      a["met"] and drop(a["final"]) <= 3 and a["final"] == a["steps"][-1]["score"])
check("every step before the last misses the budget", all(drop(s["score"]) > 3 for s in a["steps"][:-1]))
nodes = [r["node"] for r in a["ranking"]]
check("the steps return the ranking's nodes in its order",
      [s["node"] for s in a["steps"]] == nodes[:len(a["steps"])] == a["fp32_nodes"])
key = lambda s: (s["correct"], s["agree"], -s["kl"])
check("the ranking is best first (top-1, then agreement, then KL)",
      all(key(x["score"]) >= key(y["score"]) for x, y in zip(a["ranking"], a["ranking"][1:])))
check("the ranking ran 256 images, class-balanced (every class)", a["sensitivity_images"] == 256
      and a["ranking_quantized"]["images"] == 256)
check("the ranking lists distinct nodes", len(set(nodes)) == len(nodes) > 3)
print(a["final"]["correct"], a["final"]["agree"], a["quantized"]["correct"], a["fp32"]["correct"],
      ",".join(a["fp32_nodes"]), file=open(sys.argv[1] + ".txt", "w"))
EOF
while read -r line; do case "$line" in "ok   "*) ok "${line#ok   }" ;; *) bad "${line#FAIL }" ;; esac; done <"$tmp/check.txt"
read -r final_correct final_agree quant_correct fp32_correct fp32_nodes <"$tmp/q2.json.txt"

# 3. the written model, run separately
expect "qcal eval runs the written model" 0 "$QCAL" eval "$tmp/q2.onnx" "$VAL" --json --predictions "$tmp/pq.tsv"
got=$(json_get "$tmp/out" '["top1_correct"]')
[ "$got" = "$final_correct" ] && ok "qcal eval's top-1 count of the model is the JSON's final ($got)" \
    || bad "qcal eval's top-1 count of the model is the JSON's final ($got, JSON $final_correct)"
expect "qcal eval runs FP32" 0 "$QCAL" eval "$M" "$VAL" --json --predictions "$tmp/pf.tsv"
got=$(json_get "$tmp/out" '["top1_correct"]')
[ "$got" = "$fp32_correct" ] && ok "qcal eval's FP32 top-1 count is the JSON's ($got)" \
    || bad "qcal eval's FP32 top-1 count is the JSON's ($got, JSON $fp32_correct)"
agree=$(paste "$tmp/pf.tsv" "$tmp/pq.tsv" | awk -F'\t' '$1 == $4 && $2 == $5 {n++} END {print n + 0}')
[ "$agree" = "$final_agree" ] && ok "agreement of eval's predictions is the JSON's final ($agree)" \
    || bad "agreement of eval's predictions is the JSON's final ($agree, JSON $final_agree)"
expect "plain quantize with the returned nodes excluded" 0 "$QCAL" quantize $FORMER "$M" --stats "$tmp/s.json" --bits 4 \
    --exclude "$fp32_nodes" -o "$tmp/plain.onnx"
same "it writes the same model" "$tmp/plain.onnx" "$tmp/q2.onnx"
expect "plain 4-bit quantize" 0 "$QCAL" quantize $FORMER "$M" --stats "$tmp/s.json" --bits 4 -o "$tmp/all.onnx"
expect "qcal eval runs it" 0 "$QCAL" eval "$tmp/all.onnx" "$VAL" --json
got=$(json_get "$tmp/out" '["top1_correct"]')
[ "$got" = "$quant_correct" ] && ok "its top-1 count is the JSON's quantized ($got)" \
    || bad "its top-1 count is the JSON's quantized ($got, JSON $quant_correct)"

# 4. text output, and a budget that cannot be met
expect "the table output exits 0" 0 "$QCAL" quantize $FORMER "$M" --stats "$tmp/s.json" --bits 4 --max-drop 3 "$VAL" \
    -o "$tmp/t.onnx"
contains "the table names the steps" "$tmp/out" "steps on all 600 images"
contains "the table says the budget holds" "$tmp/out" "within budget after"
expect "a budget missed with --max-fp32-layers 1 is exit 1" 1 "$QCAL" quantize $FORMER "$M" --stats "$tmp/s.json" --bits 4 \
    --max-drop 0 "$VAL" --max-fp32-layers 1 -o "$tmp/miss.onnx" --json
contains "the message says the budget is missed" "$tmp/err" "budget"
[ "$(json_get "$tmp/out" '["accuracy_aware"]["met"]')" = False ] && [ "$(json_get "$tmp/out" '["accuracy_aware"]["steps"].__len__()')" = 1 ] \
    && ok "the JSON says missed after one step" || bad "the JSON says missed after one step"
expect "the model of a missed budget is written and runs" 0 "$QCAL" eval "$tmp/miss.onnx" "$VAL"

# 5. 8 bits within budget: nothing ranked, nothing returned
expect "8 bits with --max-drop 2 exits 0" 0 "$QCAL" quantize $FORMER "$M" --stats "$tmp/s.json" --max-drop 2 "$VAL" -o "$tmp/q8.onnx" --json
"$PY" -c "
import json, sys
a = json.load(open(sys.argv[1]))['accuracy_aware']
sys.exit(not (a['met'] and a['ranking'] == [] and a['steps'] == [] and a['final'] == a['quantized']))" "$tmp/out" \
    && ok "8 bits within budget: no ranking, no step" || bad "8 bits within budget: no ranking, no step"

# 6. without labels: agreement with FP32 on lenet at 4 bits
expect "quantize --min-agreement 97 (lenet, 4 bits) exits 0" 0 "$QCAL" quantize $FORMER models/lenet.onnx data/calib --bits 4 \
    --min-agreement 97 "$tmp/unlabelled" -o "$tmp/l4.onnx" --json
cp "$tmp/out" "$tmp/l4.json"
"$PY" -c "
import json, sys
a = json.load(open(sys.argv[1]))['accuracy_aware']
sys.exit(not (a['metric'] == 'agreement' and a['fp32']['labelled'] == 0 and a['quantized']['agreement'] < 0.97
              and a['met'] and a['final']['agreement'] >= 0.97 and len(a['steps']) >= 1))" "$tmp/l4.json" \
    && ok "label-free: plain 4 bits below 97 % agreement, met after steps" || bad "label-free: plain 4 bits below 97 % agreement, met after steps"
expect "eval FP32 lenet on the unlabelled images" 0 "$QCAL" eval models/lenet.onnx "$tmp/unlabelled" --predictions "$tmp/lf.tsv"
expect "eval the label-free model" 0 "$QCAL" eval "$tmp/l4.onnx" "$tmp/unlabelled" --predictions "$tmp/lq.tsv"
agree=$(paste "$tmp/lf.tsv" "$tmp/lq.tsv" | awk -F'\t' '$1 == $4 && $2 == $5 {n++} END {print n + 0}')
want=$(json_get "$tmp/l4.json" '["accuracy_aware"]["final"]["agree"]')
[ "$agree" = "$want" ] && ok "label-free: eval's agreement is the JSON's final ($agree of 200)" \
    || bad "label-free: eval's agreement is the JSON's final ($agree, JSON $want)"

# 7. compare --sensitivity ranks the same nodes with the same scores
expect "compare --sensitivity exits 0" 0 "$QCAL" compare "$M" data/calib "$VAL" --schemes gemmlowp --granularity tensor \
    --bits 4 --sensitivity --json --layer-images 8 --threads 2
"$PY" -c "
import json, sys
c = json.load(open(sys.argv[1]))['models'][0]['variants'][0]
q = json.load(open(sys.argv[2]))['accuracy_aware']
s = c['sensitivity']
same = [r['node'] for r in s['ranking']] == [r['node'] for r in q['ranking']] and all(
    abs(a['top1'] - b['score']['top1']) < 1e-9 for a, b in zip(s['ranking'], q['ranking']))
sys.exit(not (same and s['images'] == 256))" "$tmp/out" "$tmp/q2.json" \
    && ok "compare's ranking equals quantize's (nodes and top-1)" || bad "compare's ranking equals quantize's (nodes and top-1)"
node=$("$PY" -c "
import json, sys
v = json.load(open(sys.argv[1]))['models'][0]['variants'][0]
acts = [l for l in v['layers'] if l['role'] != 'weight' and l['sqnr_db'] is not None]
print(min(acts, key=lambda l: l['sqnr_db'])['node'] or '')" "$tmp/out")
[ -n "$node" ] && ok "compare names the node of its worst layer ($node)" || bad "compare names the node of its worst layer"
expect "--exclude takes that node" 0 "$QCAL" quantize "$M" --stats "$tmp/s.json" --bits 4 --exclude "$node" -o "$tmp/ex.onnx"
expect "the table output of compare --sensitivity" 0 "$QCAL" compare "$M" data/calib "$VAL" --schemes gemmlowp \
    --granularity tensor --bits 4 --sensitivity --layer-images 8
contains "the table shows the ranking" "$tmp/out" ", gemmlowp/tensor/4bit, on 256 images: top-1 with each node alone in FP32"
contains "the min SQNR column names node and tensor" "$tmp/out" ", tensor "

summary accuracy-aware
