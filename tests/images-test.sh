#!/bin/bash
# images-test.sh — end-to-end tests of the images qcal reads: a folder of JPEGs and a folder of
# the same pixels as PNG give byte-identical statistics and the same accuracy; broken JPEGs are
# exit 3 naming the file; --sample picks the images an independent reference
# (tests/sample-reference.py) picks; --skip-bad reports, leaves out and counts unreadable
# images in every command. Prints "images: N passed, N failed".
set -u
tmp=$(mktemp -d /tmp/qcal-images.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

M=models/lenet.onnx
J=tests/data/jpeg

# 1. JPEG and PNG twins (tests/data/jpeg/make-fixtures.py: PIL's decoding of each JPEG as PNG)
expect "stats over a folder of JPEGs exits 0" 0 "$QCAL" stats --quiet -o "$tmp/jpeg.json" "$M" "$J/set-jpeg"
expect "stats over the same pixels as PNG exits 0" 0 "$QCAL" stats --quiet -o "$tmp/png.json" "$M" "$J/set-png"
# The file digests the images' relative paths, which differ in their extension: PNG bytes
# under the JPEGs' names (the format is told by the bytes) must give the same file exactly.
mkdir -p "$tmp/png-as-jpg"
cp -r "$J/set-png/." "$tmp/png-as-jpg/"
find "$tmp/png-as-jpg" -name '*.png' | while read -r f; do mv "$f" "${f%.png}.jpg"; done
expect "stats over PNGs named .jpg exits 0" 0 "$QCAL" stats --quiet -o "$tmp/png-as-jpg.json" "$M" "$tmp/png-as-jpg"
same "JPEG and PNG of the same pixels give byte-identical statistics" "$tmp/jpeg.json" "$tmp/png-as-jpg.json"
grep -v images_digest "$tmp/jpeg.json" >"$tmp/jpeg.nodigest"
grep -v images_digest "$tmp/png.json" >"$tmp/png.nodigest"
same "with .png names only the digest of the names differs" "$tmp/jpeg.nodigest" "$tmp/png.nodigest"
expect "eval over JPEGs exits 0" 0 "$QCAL" eval --json "$M" "$J/set-jpeg"
cp "$tmp/out" "$tmp/eval-jpeg.json"
expect "eval over PNGs exits 0" 0 "$QCAL" eval --json "$M" "$J/set-png"
if [ "$(json_get "$tmp/eval-jpeg.json" '["top1_correct"]')" = "$(json_get "$tmp/out" '["top1_correct"]')" ] &&
   [ "$(json_get "$tmp/eval-jpeg.json" '["images"]')" = 9 ]; then
    ok "eval gives the same accuracy over the JPEGs and the PNGs"
else
    bad "eval gives the same accuracy over the JPEGs and the PNGs"
fi

expect "eval --predictions --scores over the JPEGs exits 0" 0 "$QCAL" eval --predictions "$tmp/pred-jpeg.tsv" --scores "$M" "$J/set-jpeg"
expect "eval --predictions --scores over the PNGs named .jpg exits 0" 0 "$QCAL" eval --predictions "$tmp/pred-png.tsv" --scores "$M" "$tmp/png-as-jpg"
same "every score is the same bit for bit" "$tmp/pred-jpeg.tsv" "$tmp/pred-png.tsv"

# 2. broken JPEGs: exit 3, the file named
for f in truncated-in-scan truncated-progressive corrupt-scan cmyk huge-dimensions text-named-jpg; do
    expect "stats over $f.jpg is exit 3" 3 "$QCAL" stats "$M" "$J/bad/$f.jpg"
    contains "the message names $f.jpg" "$tmp/err" "$J/bad/$f.jpg"
done
mkdir -p "$tmp/mixed/a"
cp "$J/set-jpeg/0_tshirt-top/"*.jpg "$tmp/mixed/a/"
cp "$J/bad/truncated-in-scan.jpg" "$tmp/mixed/a/z-cut.jpg"
expect "a truncated JPEG in a folder stops stats with exit 3" 3 "$QCAL" stats "$M" "$tmp/mixed"
contains "naming it and the problem" "$tmp/err" "z-cut.jpg': corrupt JPEG file (premature end of JPEG file)"

# 3. --sample N --seed S: the same images as the reference written from the specification
REF=$(find_python os) || REF=""
for args in "100 1" "37 12345" "7 0" "1999 5" "25 18446744073709551615"; do
    set -- $args
    expect "eval --sample $1 --seed $2 exits 0" 0 "$QCAL" eval --sample "$1" --seed "$2" --predictions "$tmp/pred.tsv" "$M" data/val
    cut -f1 "$tmp/pred.tsv" >"$tmp/got.txt"
    "$REF" tests/sample-reference.py data/val "$1" "$2" >"$tmp/want.txt"
    same "--sample $1 --seed $2 keeps the reference's images" "$tmp/want.txt" "$tmp/got.txt"
done
mkdir -p "$tmp/flat"
find data/val/3_dress data/val/4_coat -name '*.png' | sort | head -n 50 | while read -r f; do cp "$f" "$tmp/flat/$(basename "$(dirname "$f")")-$(basename "$f")"; done
expect "eval --sample on a flat folder exits 0" 0 "$QCAL" eval --sample 9 --seed 77 --predictions "$tmp/pred.tsv" "$M" "$tmp/flat"
cut -f1 "$tmp/pred.tsv" >"$tmp/got.txt"
"$REF" tests/sample-reference.py "$tmp/flat" 9 77 >"$tmp/want.txt"
same "a flat folder is one class, sampled as the reference does" "$tmp/want.txt" "$tmp/got.txt"
expect "eval --sample with 10 classes exits 0" 0 "$QCAL" eval --sample 20 --predictions "$tmp/pred.tsv" "$M" data/val
counts=$(cut -d/ -f1 "$tmp/pred.tsv" | sort | uniq -c | awk '{print $1}' | sort -u | tr '\n' ' ')
if [ "$counts" = "2 " ]; then ok "--sample 20 over 10 classes takes 2 of each"; else bad "--sample 20 over 10 classes takes 2 of each (counts: $counts)"; fi
expect "stats --sample, 1 thread" 0 "$QCAL" stats --quiet --sample 40 --seed 3 -o "$tmp/s1.json" "$M" data/calib
expect "stats --sample, 2 threads, batch 5" 0 "$QCAL" stats --quiet --sample 40 --seed 3 --threads 2 --batch 5 -o "$tmp/s2.json" "$M" data/calib
same "a sample's statistics do not depend on --threads or --batch" "$tmp/s1.json" "$tmp/s2.json"
expect "stats --sample with another seed" 0 "$QCAL" stats --quiet --sample 40 --seed 4 -o "$tmp/s3.json" "$M" data/calib
if cmp -s "$tmp/s1.json" "$tmp/s3.json"; then bad "another seed gives another sample"; else ok "another seed gives another sample"; fi
expect "--sample at or above the set's size keeps every image" 0 "$QCAL" stats --quiet --sample 100000 -o "$tmp/all-sample.json" "$M" "$J/set-png"
expect "stats over every image" 0 "$QCAL" stats --quiet -o "$tmp/all.json" "$M" "$J/set-png"
same "so its file is the full run's" "$tmp/all.json" "$tmp/all-sample.json"
expect "--seed without --sample is a usage error" 2 "$QCAL" stats --seed 3 "$M" data/calib
expect "--sample 0 is a usage error" 2 "$QCAL" eval --sample 0 "$M" data/val
expect "--sample with --stats is a usage error" 2 "$QCAL" stats --sample 3 --stats "$tmp/s1.json" "$M"

# 4. --skip-bad: reported on stderr (file and reason), left out, counted in text and JSON
mkdir -p "$tmp/bad/0_a" "$tmp/bad/1_b"
cp "$J/set-png/0_tshirt-top/"*.png "$tmp/bad/0_a/"
cp "$J/set-png/1_trouser/"*.png "$tmp/bad/1_b/"
cp "$J/bad/cmyk.jpg" "$tmp/bad/0_a/cmyk.jpg"
cp "$J/bad/truncated-in-scan.jpg" "$tmp/bad/1_b/cut.jpg"
printf 'not an image' >"$tmp/bad/1_b/text.png"
mkdir -p "$tmp/good/0_a" "$tmp/good/1_b"
cp "$J/set-png/0_tshirt-top/"*.png "$tmp/good/0_a/"
cp "$J/set-png/1_trouser/"*.png "$tmp/good/1_b/"
for cmd in stats eval; do
    expect "$cmd without --skip-bad stops at the first bad image (exit 3)" 3 "$QCAL" "$cmd" "$M" "$tmp/bad"
    contains "$cmd names it" "$tmp/err" "cmyk.jpg': CMYK JPEG"
done
expect "quantize without --skip-bad is exit 3" 3 "$QCAL" quantize "$M" "$tmp/bad" -o "$tmp/q.onnx"
expect "compare without --skip-bad is exit 3" 3 "$QCAL" compare --methods minmax --schemes gemmlowp --granularity tensor "$M" "$tmp/bad" "$tmp/good"
expect "stats --skip-bad exits 0" 0 "$QCAL" stats --skip-bad -o "$tmp/skip.json" "$M" "$tmp/bad"
contains "stats reports the CMYK file and why" "$tmp/err" "warning: skipping: cannot read '$tmp/bad/0_a/cmyk.jpg': CMYK JPEG"
contains "stats reports the cut file and why" "$tmp/err" "cut.jpg': corrupt JPEG file (premature end of JPEG file)"
contains "stats reports the text file and why" "$tmp/err" "text.png': not a PNG file"
contains "stats counts them in its text" "$tmp/out" "3 unreadable images skipped (--skip-bad)"
expect "stats over the good images alone" 0 "$QCAL" stats --quiet -o "$tmp/noskip.json" "$M" "$tmp/good"
grep -v images_digest "$tmp/skip.json" >"$tmp/a.txt"
grep -v images_digest "$tmp/noskip.json" >"$tmp/b.txt"
same "skipped images leave no trace in the statistics" "$tmp/a.txt" "$tmp/b.txt"
expect "stats --skip-bad --json exits 0" 0 "$QCAL" stats --skip-bad --json --quiet -o "$tmp/skip2.json" "$M" "$tmp/bad"
if [ "$(json_get "$tmp/out" '["skipped"]')" = 3 ] && [ "$(json_get "$tmp/out" '["images"]')" = 6 ]; then ok "stats JSON counts 3 skipped, 6 images"; else bad "stats JSON counts 3 skipped, 6 images ($(head -c 200 "$tmp/out"))"; fi
expect "stats --skip-bad with --shard is a usage error" 2 "$QCAL" stats --skip-bad --shard 0/2 "$M" "$tmp/bad"
expect "quantize --skip-bad exits 0" 0 "$QCAL" quantize --skip-bad --json "$M" "$tmp/bad" -o "$tmp/q.onnx"
if [ "$(json_get "$tmp/out" '["calibration_skipped"]')" = 3 ]; then ok "quantize JSON counts 3 skipped"; else bad "quantize JSON counts 3 skipped"; fi
expect "quantize --skip-bad (text) exits 0" 0 "$QCAL" quantize --skip-bad "$M" "$tmp/bad" -o "$tmp/q.onnx"
contains "quantize counts them in its text" "$tmp/out" "3 unreadable calibration images skipped"
expect "eval --skip-bad --json exits 0" 0 "$QCAL" eval --skip-bad --json "$M" "$tmp/bad"
if [ "$(json_get "$tmp/out" '["skipped"]')" = 3 ] && [ "$(json_get "$tmp/out" '["images"]')" = 6 ]; then ok "eval JSON counts 3 skipped"; else bad "eval JSON counts 3 skipped"; fi
CMP="--methods minmax --schemes gemmlowp --granularity tensor"
expect "compare --skip-bad exits 0" 0 "$QCAL" compare $CMP --skip-bad --json "$M" "$M" "$tmp/bad" "$tmp/bad"
if [ "$(json_get "$tmp/out" '["skipped"]["calib"]')" = 3 ] && [ "$(json_get "$tmp/out" '["skipped"]["val"]')" = 3 ] &&
   [ "$(json_get "$tmp/out" '["models"][1]["images"]')" = 6 ]; then ok "compare JSON counts 3 skipped in CALIB and in VAL"; else bad "compare JSON counts 3 skipped in CALIB and in VAL"; fi
n=$(grep -c "warning: skipping" "$tmp/err")
if [ "$n" = 6 ]; then ok "compare reports each bad image once, with two models"; else bad "compare reports each bad image once, with two models ($n reports)"; fi
expect "compare --skip-bad (text) exits 0" 0 "$QCAL" compare $CMP --skip-bad "$M" "$tmp/bad" "$tmp/bad"
contains "compare counts them in its text" "$tmp/out" "unreadable images skipped (--skip-bad): 3 of CALIB, 3 of VAL"
mkdir -p "$tmp/allbad"
cp "$J/bad/cmyk.jpg" "$tmp/allbad/"
expect "stats --skip-bad with no readable image is exit 3" 3 "$QCAL" stats --skip-bad "$M" "$tmp/allbad"

# 5. channels-last models: NHWC twins (a Transpose to NCHW at the input) of lenet (gray) and of a
#    3-channel network give the same scores bit for bit, and the same statistics but for the input
if ONNXPY=$(find_python onnx); then
    nhwc_twin() { # MODEL OUT H W C
        "$ONNXPY" - "$@" <<'PY'
import sys
import onnx
from onnx import TensorProto, helper
src, out, h, w, c = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
m = onnx.load(src)
g = m.graph
name = g.input[0].name
g.node.insert(0, helper.make_node("Transpose", [name + "_nhwc"], [name], perm=[0, 3, 1, 2]))
g.input.remove(g.input[0])
g.input.insert(0, helper.make_tensor_value_info(name + "_nhwc", TensorProto.FLOAT, ["N", h, w, c]))
onnx.save(m, out)
PY
    }
    nhwc_twin "$M" "$tmp/lenet-nhwc.onnx" 28 28 1
    cp models/lenet.json "$tmp/lenet-nhwc.json"
    expect "eval runs the NHWC twin of lenet" 0 "$QCAL" eval --predictions "$tmp/nhwc.tsv" --scores "$tmp/lenet-nhwc.onnx" data/val
    expect "eval runs lenet" 0 "$QCAL" eval --predictions "$tmp/nchw.tsv" --scores "$M" data/val
    same "the NHWC twin of lenet gives the same scores bit for bit" "$tmp/nchw.tsv" "$tmp/nhwc.tsv"
    expect "stats over the NHWC twin" 0 "$QCAL" stats --quiet -o "$tmp/nhwc.json" "$tmp/lenet-nhwc.onnx" data/calib
    expect "stats over lenet" 0 "$QCAL" stats --quiet -o "$tmp/nchw.json" "$M" data/calib
    # every tensor of lenet has the same record in the twin's file, but 'input', which the twin's
    # Transpose makes an activation; the twin's own input 'input_nhwc' holds the same values
    # (extremes, sums, histogram), but its axis 1 is the image rows, so its per-channel values
    # are per row, and its sum of squares, accumulated per channel, rounds differently
    if "$PY" - "$tmp/nchw.json" "$tmp/nhwc.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
tb = {t["name"]: t for t in b["tensors"]}
assert len(b["tensors"]) == len(a["tensors"]) + 1
for t in a["tensors"]:
    u = dict(tb[t["name"]])
    if t["name"] == "input":
        assert t["role"] == "input" and u["role"] == "activation"
        u["role"] = "input"
    assert u == t, t["name"]
n = tb["input_nhwc"]
assert n["role"] == "input" and n["shape"] == [1, 28, 28, 1]
for k in ("samples", "count", "min", "max", "sum", "sample_min", "sample_max", "histogram"):
    assert n.get(k) == tb["input"].get(k), k
PY
    then ok "the NHWC twin's statistics equal lenet's but for the input and the added Transpose"; else bad "the NHWC twin's statistics equal lenet's but for the input and the added Transpose"; fi
    expect "quantize the NHWC twin" 0 "$QCAL" quantize --quiet "$tmp/lenet-nhwc.onnx" data/calib -o "$tmp/q-nhwc.onnx"
    expect "quantize lenet" 0 "$QCAL" quantize --quiet "$M" data/calib -o "$tmp/q-nchw.onnx"
    expect "eval the quantized NHWC twin" 0 "$QCAL" eval --predictions "$tmp/qn.tsv" --scores "$tmp/q-nhwc.onnx" data/val
    expect "eval quantized lenet" 0 "$QCAL" eval --predictions "$tmp/qc.tsv" --scores "$tmp/q-nchw.onnx" data/val
    same "the quantized twins give the same INT8 scores bit for bit" "$tmp/qc.tsv" "$tmp/qn.tsv"
    expect "--layout nhwc on the twin runs" 0 "$QCAL" eval --layout nhwc --predictions "$tmp/forced.tsv" --scores "$tmp/lenet-nhwc.onnx" data/val
    same "and gives the same scores as the rule" "$tmp/nhwc.tsv" "$tmp/forced.tsv"
    expect "--layout nchw on the twin reads 28 channels: exit 3" 3 "$QCAL" eval --layout nchw "$tmp/lenet-nhwc.onnx" data/val
    expect "--layout takes nchw or nhwc only" 2 "$QCAL" eval --layout chwn "$M" data/val
    R=tests/data/pytorch/resnet-tiny/model.onnx
    nhwc_twin "$R" "$tmp/rgb-nhwc.onnx" 16 16 3
    expect "eval runs a 3-channel network over RGB JPEGs" 0 "$QCAL" eval --predictions "$tmp/rgb.tsv" --scores "$R" "$J/good"
    expect "eval runs its NHWC twin" 0 "$QCAL" eval --predictions "$tmp/rgb-nhwc.tsv" --scores "$tmp/rgb-nhwc.onnx" "$J/good"
    same "the 3-channel NHWC twin gives the same scores bit for bit" "$tmp/rgb.tsv" "$tmp/rgb-nhwc.tsv"
else
    skip "channels-last models (no python with onnx)"
fi

summary images
