#!/bin/bash
# adequacy-test.sh — end-to-end tests of `qcal stats --adequacy`: the statistics file is the
# same bytes with and without it, its JSON (every activation's scale equals the one P5–P6 and
# P9a–b give to the range the same run prints, computed here; the images needed follow
# n·(rsd/tol)² in whole groups), the same result for any --threads and --batch, the table, and
# the refusals. Prints "adequacy: N passed, N failed".
set -u
tmp=$(mktemp -d /tmp/qcal-adequacy.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

M=models/lenet.onnx
IMG=data/calib

# 1. the file does not change; the result does not depend on --threads or --batch
expect "stats without --adequacy exits 0" 0 "$QCAL" stats --quiet --method minmax,avgstd -o "$tmp/plain.json" "$M" "$IMG"
expect "stats --adequacy --json exits 0" 0 "$QCAL" stats --quiet --json --method minmax,avgstd --adequacy \
    --threads 2 --batch 48 -o "$tmp/adq.json" "$M" "$IMG"
cp "$tmp/out" "$tmp/a2.out"
same "the statistics file is the same with --adequacy" "$tmp/plain.json" "$tmp/adq.json"
expect "stats --adequacy with 1 thread exits 0" 0 "$QCAL" stats --quiet --json --method minmax,avgstd --adequacy \
    --threads 1 --batch 16 "$M" "$IMG"
if "$PY" - "$tmp/out" "$tmp/a2.out" <<'PY' 2>"$tmp/err"; then ok "--adequacy's result does not depend on --threads or --batch"; else bad "--adequacy's result does not depend on --threads or --batch ($(head -c 300 "$tmp/err"))"; fi
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["adequacy"] == b["adequacy"], "the adequacy sections differ"
PY

# 2. the JSON against the ranges it prints and the formulas
check_json() { # NAME FILE SCHEME BITS METHOD TOL
    if "$PY" - "$2" "$3" "$4" "$5" "$6" <<'PY' 2>"$tmp/err"; then ok "$1"; else bad "$1 ($(head -c 400 "$tmp/err"))"; fi
import json, math, sys
d = json.load(open(sys.argv[1]))
scheme, bits, method, tol = sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]) / 100
a = d["adequacy"]
assert a["method"] == method and a["scheme"] == scheme and a["bits"] == bits, a
assert abs(a["tolerance"] - tol) < 1e-9 and a["images"] == d["images"] == 500 and a["groups"] == 32, a
ranges = {t["name"]: t["ranges"][method] for t in d["tensors"]}
roles = {t["name"]: t["role"] for t in d["tensors"]}
names = [t["name"] for t in a["tensors"]]
assert names == [t["name"] for t in d["tensors"] if t["role"] != "weight"], names
def scale(lo, hi):  # docs/qparams.md P5-P6 (gemmlowp; mixed's activations), P9a-b (symlowp)
    if scheme in ("gemmlowp", "mixed"):
        return (max(hi, 0) - min(lo, 0)) / (2 ** bits - 1)
    if lo >= 0:
        return hi / (2 ** bits - 1)
    return max(-lo, hi) / (2 ** (bits - 1) - 1)
uncertain = 0
for t in a["tensors"]:
    want = scale(*ranges[t["name"]])
    assert abs(t["scale"] - want) <= 1e-6 * want, (t["name"], t["scale"], want)
    assert t["interval90"][0] <= t["bootstrap_mean"] <= t["interval90"][1], t
    assert t["rsd"] >= 0 and t["uncertain"] == (t["rsd"] > tol), t
    if t["uncertain"]:
        uncertain += 1
        need = 500 * (t["rsd"] / tol) ** 2
        assert t["images_needed"] % 16 == 0 and need <= t["images_needed"] < need + 16, t
    else:
        assert t["images_needed"] == 500, t
assert a["uncertain"] == uncertain, (a["uncertain"], uncertain)
PY
}
check_json "minmax, the default scheme (mixed) at 8 bits: scales, spreads and images needed" "$tmp/out" mixed 8 minmax 5
expect "stats --adequacy --adequacy-scheme gemmlowp exits 0" 0 "$QCAL" stats --quiet --json --method minmax --adequacy \
    --adequacy-scheme gemmlowp "$M" "$IMG"
check_json "minmax gemmlowp 8 bits: scales, spreads and images needed" "$tmp/out" gemmlowp 8 minmax 5
expect "stats --adequacy avgstd symlowp 6 bits exits 0" 0 "$QCAL" stats --quiet --json --method avgstd --n 2 \
    --adequacy --adequacy-method avgstd --adequacy-scheme symlowp --adequacy-bits 6 --adequacy-tolerance 1 \
    --adequacy-resamples 50 "$M" "$IMG"
check_json "avgstd symlowp 6 bits, tolerance 1 %" "$tmp/out" symlowp 6 avgstd 1
if json_get "$tmp/out" '["adequacy"]["uncertain"]' | grep -qv '^0$'; then ok "a 1 % tolerance flags tensors"; else bad "a 1 % tolerance flags tensors"; fi
expect "a histogram method is judged by avg" 0 "$QCAL" stats --quiet --json --method entropy --adequacy \
    --adequacy-method entropy "$M" "$IMG"
contains "entropy's adequacy names avg as evaluated" "$tmp/out" '"method": "entropy", "evaluated": "avg"'

# 3. the table
expect "stats --adequacy prints a table" 0 "$QCAL" stats --quiet --method minmax --adequacy --adequacy-tolerance 2 "$M" "$IMG"
contains "the table says what it judged" "$tmp/out" "adequacy: 500 images in 32 groups of up to 16, 200 bootstrap resamples; scale of minmax, mixed 8 bits"
contains "the table has the images needed" "$tmp/out" "images needed"
contains "the table counts the uncertain tensors" "$tmp/out" "tensors uncertain by more than 2%"
expect "a tolerance nothing exceeds says so" 0 "$QCAL" stats --quiet --method minmax --adequacy --adequacy-tolerance 100 "$M" "$IMG"
contains "every scale within the tolerance" "$tmp/out" "every scale within 100% (relative standard deviation) of 11 tensors"

# 4. refusals
expect "--adequacy with --stats FILE is a usage error" 2 "$QCAL" stats --adequacy --stats "$tmp/plain.json" "$M"
contains "and says why" "$tmp/err" "--adequacy needs IMAGES"
expect "--adequacy-tolerance 0 is a usage error" 2 "$QCAL" stats --adequacy --adequacy-tolerance 0 "$M" "$IMG"
expect "--adequacy-tolerance past 100 is a usage error" 2 "$QCAL" stats --adequacy --adequacy-tolerance 150 "$M" "$IMG"
expect "--adequacy-bits without --adequacy is a usage error" 2 "$QCAL" stats --adequacy-bits 6 "$M" "$IMG"
expect "--adequacy-method kl is a usage error" 2 "$QCAL" stats --adequacy --adequacy-method kl "$M" "$IMG"
expect "--adequacy-resamples 1 is a usage error" 2 "$QCAL" stats --adequacy --adequacy-resamples 1 "$M" "$IMG"
expect "one group of images cannot be resampled (bad input)" 3 "$QCAL" stats --quiet --adequacy --limit 16 "$M" "$IMG"
contains "and says why" "$tmp/err" "adequacy needs at least 2 groups of 16 images"

summary adequacy
