#!/bin/bash
# images-test.sh — end-to-end tests of the images qcal reads: a folder of JPEGs and a folder of
# the same pixels as PNG give byte-identical statistics and the same accuracy; broken JPEGs are
# exit 3 naming the file. Prints "images: N passed, N failed".
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

summary images
