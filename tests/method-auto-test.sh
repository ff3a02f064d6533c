#!/bin/bash
# method-auto-test.sh — `qcal quantize --method auto` on the bundled resnet and lenet at 4 bits:
# every activation's scale and zero point in the written model (read back from the ONNX file)
# equal those of the model quantized with the single method chosen for it; the chosen
# candidate's local choice has the smallest readers' error of the candidates (JSON), and the
# check at the output ends no worse than the local choices (more top-1 agreement with FP32,
# or a KL as low); each candidate's range is the
# one its single method gives; the metadata names the choices; the model is the same
# bytes for 1 and 2 threads and with --stats; statistics without histograms, --stats without
# IMAGES and compare --methods auto with --stats are exit 2. Prints "method-auto: N passed, N failed, N skipped".
set -u
tmp=$(mktemp -d /tmp/qcal-method-auto.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

IMG=data/calib
ONNX_PY=$(find_python onnx) || ONNX_PY=

for m in lenet resnet; do
    expect "stats of $m (histograms)" 0 "$QCAL" stats --quiet -o "$tmp/$m.json" "models/$m.onnx" "$IMG"
    expect "quantize $m --method auto" 0 "$QCAL" quantize --quiet --json --bits 4 --method auto --stats "$tmp/$m.json" \
        -o "$tmp/$m-auto.onnx" "models/$m.onnx" "$IMG"
    cp "$tmp/out" "$tmp/$m-auto.txt"
    expect "quantize $m --method auto --threads 2" 0 "$QCAL" quantize --quiet --bits 4 --method auto --threads 2 \
        --stats "$tmp/$m.json" -o "$tmp/$m-auto2.onnx" "models/$m.onnx" "$IMG"
    same "$m: the same model on 2 threads" "$tmp/$m-auto.onnx" "$tmp/$m-auto2.onnx"
    # the single method of every candidate, for the comparison below
    for c in "minmax:--method minmax" "avg:--method avg" "avgstd(1):--method avgstd --n 1" "avgstd(2):--method avgstd --n 2" "avgstd(3):--method avgstd --n 3" \
             "avgstd(4):--method avgstd --n 4" "percentile(99.9):--method percentile --percentile 99.9" \
             "percentile(99.99):--method percentile --percentile 99.99" \
             "percentile(99.999):--method percentile --percentile 99.999" "entropy:--method entropy" "mse:--method mse"; do
        name=${c%%:*}
        # shellcheck disable=SC2086
        expect "$m: quantize with $name alone" 0 "$QCAL" quantize --quiet --json --bits 4 ${c#*:} --stats "$tmp/$m.json" \
            -o "$tmp/$m-$name.onnx" "models/$m.onnx"
        cp "$tmp/out" "$tmp/$m-$name.txt"
    done
    "$PY" - "$tmp" "$m" >"$tmp/check" 2>&1 <<'EOF'
import json, sys
tmp, m = sys.argv[1], sys.argv[2]
auto = json.load(open(f"{tmp}/{m}-auto.txt"))
bad = 0
n = 0
check = auto["auto"]  # the check at the output never ends below the local choices: the rule
# puts the local choices above the result only with significantly more agreement, or a lower KL
if not (check["agree"] > check["agree_local"] or check["kl"] <= check["kl_local"]):
    print("agreement and KL", check); bad += 1
if not 0 <= check["agree"] <= check["images"]:
    print("agreement", check); bad += 1
for t in auto["tensors"]:
    a = t.get("auto")
    if t["role"] not in ("input", "activation"):
        continue
    if not a:
        print("no choice for", t["name"]); bad += 1; continue
    local = [c for c in a["candidates"] if c["method"] == a["local"]][0]
    errors = [c["error"] for c in a["candidates"] if c["error"] is not None]
    if local["error"] > min(errors):
        print(t["name"], "local choice", a["local"], local["error"], "above", min(errors)); bad += 1
    single = json.load(open(f"{tmp}/{m}-{a['chosen']}.txt"))
    s = [x for x in single["tensors"] if x["name"] == t["name"]][0]
    if (s["scale"], s["zero_point"], s["min"], s["max"]) != (t["scale"], t["zero_point"], t["min"], t["max"]):
        print(t["name"], "auto", t["scale"], t["zero_point"], "single", a["chosen"], s["scale"], s["zero_point"]); bad += 1
    for c in a["candidates"]:  # each candidate's range is its single method's
        one = [x for x in json.load(open(f"{tmp}/{m}-{c['method']}.txt"))["tensors"] if x["name"] == a["range_of"]][0]
        if c["error"] is not None and (c["min"], c["max"]) != (one["min"], one["max"]):
            print(t["name"], c["method"], c["min"], c["max"], "single", one["min"], one["max"]); bad += 1
    n += 1
print(n, "activations checked")
sys.exit(1 if bad or n == 0 else 0)
EOF
    if [ $? -eq 0 ]; then ok "$m: each activation has its chosen method's range; local choices have the smallest error"; else bad "$m: choices ($(head -c 600 "$tmp/check"))"; fi
done

# the file's own parameters and metadata, read back from the ONNX files
if [ -n "$ONNX_PY" ]; then
    "$ONNX_PY" - "$tmp" resnet >"$tmp/check" 2>&1 <<'EOF'
import json, sys, onnx
from onnx import numpy_helper
tmp, m = sys.argv[1], sys.argv[2]
def params(path):
    g = onnx.load(path).graph
    init = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    clip = {n.output[0]: n.input[0] for n in g.node if n.op_type == "Clip"}  # below 8 bits: Clip, then QuantizeLinear
    return {clip.get(n.input[0], n.input[0]): (float(init[n.input[1]]), int(init[n.input[2]])) for n in g.node
            if n.op_type == "QuantizeLinear" and n.input[1] in init}, {p.key: p.value for p in onnx.load(path).metadata_props}
auto, meta = params(f"{tmp}/{m}-auto.onnx")
report = json.load(open(f"{tmp}/{m}-auto.txt"))
bad = 0
assert meta["qcal.method"] == "auto", meta.get("qcal.method")
listed = dict(e.split("=", 1) for e in meta["qcal.auto_methods"].split(";"))
if list(listed) != sorted(listed):
    print("qcal.auto_methods not sorted"); bad += 1
checked = 0
for t in report["tensors"]:
    if "auto" not in t or t["name"] not in auto:
        continue
    chosen = t["auto"]["chosen"]
    if listed.get(t["auto"]["range_of"]) != chosen:
        print("metadata", t["auto"]["range_of"], listed.get(t["auto"]["range_of"]), chosen); bad += 1
    single, _ = params(f"{tmp}/{m}-{chosen}.onnx")
    if auto[t["name"]] != single[t["name"]]:
        print(t["name"], auto[t["name"]], single[t["name"]], chosen); bad += 1
    checked += 1
print(checked, "QuantizeLinear checked")
sys.exit(1 if bad or checked < 10 else 0)
EOF
    if [ $? -eq 0 ]; then ok "resnet: the file's scales equal the chosen single methods', metadata lists them"; else bad "resnet: file ($(head -c 600 "$tmp/check"))"; fi
else
    skip "the ONNX file read back (no python with onnx)"
fi

# the statistics gathered from IMAGES give the same model as the --stats file holding them
expect "quantize lenet IMAGES --method auto" 0 "$QCAL" quantize --quiet --bits 4 --method auto -o "$tmp/lenet-images.onnx" \
    models/lenet.onnx "$IMG"
same "lenet: IMAGES and --stats give the same model" "$tmp/lenet-images.onnx" "$tmp/lenet-auto.onnx"

# refusals
expect "stats without histograms" 0 "$QCAL" stats --quiet --method minmax -o "$tmp/nohist.json" models/lenet.onnx "$IMG"
expect "--method auto with statistics without histograms is exit 2" 2 "$QCAL" quantize --quiet --method auto \
    --stats "$tmp/nohist.json" -o "$tmp/x.onnx" models/lenet.onnx "$IMG"
contains "the message names the fix" "$tmp/err" "qcal stats --method percentile"
expect "--method auto --stats without IMAGES is exit 2" 2 "$QCAL" quantize --quiet --method auto --stats "$tmp/lenet.json" \
    -o "$tmp/x.onnx" models/lenet.onnx
expect "compare --methods auto with --stats is exit 2" 2 "$QCAL" compare --quiet --methods auto --stats "$tmp/lenet.json" \
    models/lenet.onnx data/val
[ -e "$tmp/x.onnx" ] && bad "a refused run wrote its output" || ok "refused runs write nothing"

summary method-auto
