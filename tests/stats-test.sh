#!/bin/bash
# stats-test.sh — end-to-end tests of `qcal stats` and `qcal merge`: help and synopsis, the
# file being byte-identical whatever --threads, --batch or the number of shards, merging in any
# order, the calibration cache (--stats), exit codes and messages for mismatched models,
# empty folders, bad images and bad files, and no partial files. Prints
# "stats: N passed, N failed".
set -u
tmp=$(mktemp -d /tmp/qcal-stats.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
absent() {
    if [ ! -e "$2" ] && [ -z "$(ls -A "$(dirname "$2")" | grep -F ".$(basename "$2")")" ]; then ok "$1"; else bad "$1 ($2 or a temporary file is left)"; fi
}
py() { "$PY" -c "$@"; }

M=models/lenet.onnx
IMG=data/calib

# 1. help and synopsis, as the README shows it
for cmd in stats merge; do
    expect "$cmd --help exits 0" 0 "$QCAL" "$cmd" --help
    first=$(head -n 1 "$tmp/out")
    case "$first" in "usage: qcal $cmd"*) ok "$cmd --help starts with its usage" ;; *) bad "$cmd --help starts with its usage: $first" ;; esac
    contains "README shows the synopsis of $cmd" README.md "${first#usage: }"
done
expect "qcal --help lists stats" 0 "$QCAL" --help
contains "qcal --help lists stats and merge" "$tmp/out" "merge"
expect "stats without images is a usage error" 2 "$QCAL" stats "$M"
expect "a bad --shard is a usage error" 2 "$QCAL" stats --shard 3/3 "$M" "$IMG"
expect "a bad --method is a usage error" 2 "$QCAL" stats --method kl "$M" "$IMG"
expect "a bad --granularity is a usage error" 2 "$QCAL" stats --granularity layer "$M" "$IMG"
expect "a bad --percentile is a usage error" 2 "$QCAL" stats --percentile 40 "$M" "$IMG"
expect "an unknown stats option is a usage error" 2 "$QCAL" stats --frobnicate "$M" "$IMG"
expect "merge without -o is a usage error" 2 "$QCAL" merge "$tmp/a.json"

# 2. one run; the same bytes whatever --threads and --batch
expect "stats with 1 thread, batch 1 exits 0" 0 "$QCAL" stats --quiet --threads 1 --batch 1 -o "$tmp/one.json" "$M" "$IMG"
expect "stats with 2 threads, batch 32 exits 0" 0 "$QCAL" stats --quiet --threads 2 --batch 32 -o "$tmp/two.json" "$M" "$IMG"
same "stats do not depend on --threads or --batch" "$tmp/one.json" "$tmp/two.json"
expect "stats with 2 threads, batch 5 exits 0" 0 "$QCAL" stats --quiet --threads 2 --batch 5 -o "$tmp/three.json" "$M" "$IMG"
same "stats do not depend on an odd --batch" "$tmp/one.json" "$tmp/three.json"
if py "import json,sys; d=json.load(open(sys.argv[1])); assert d['format']=='qcal-stats' and d['version']==1 and d['images']==500; t=d['tensors']; assert t[0]['name']=='input' and t[0]['role']=='input'; assert any(x['role']=='weight' for x in t); assert all(x['samples']==500 for x in t if x['role']!='weight'); assert all('histogram' in x and 'channel' in x for x in t)" "$tmp/one.json" 2>"$tmp/err"; then
    ok "the file has the format, images, roles, histograms and channels"
else
    bad "the file has the format, images, roles, histograms and channels ($(tail -n 1 "$tmp/err"))"
fi

# 2b. the same bytes on every instruction-set path the CPU has (the statistics and range
# kernels' scalar references, AVX2 and AVX-512): each bundled model's file over the first 64
# images, and its ranges (every method, as --json prints them). No digest of the bytes is
# pinned: they follow the FP32 engine, and its fully connected layers' BLAS kernel is the one
# OpenBLAS picks for the CPU.
for model in lenet resnet mobilenet; do
    "$QCAL" stats --quiet --threads 1 --limit 64 -o "$tmp/isa-$model.json" "models/$model.onnx" "$IMG" >/dev/null 2>"$tmp/err" ||
        bad "stats of $model ($(head -c 200 "$tmp/err"))"
    "$QCAL" stats --json --stats "$tmp/isa-$model.json" "models/$model.onnx" >"$tmp/isa-$model-ranges.json" 2>"$tmp/err" ||
        bad "ranges of $model ($(head -c 200 "$tmp/err"))"
    for isa in scalar avx2 avxvnni avx512vnni amx; do
        if [ "$isa" = scalar ]; then env=(QCAL_FORCE_SCALAR=1); else env=(QCAL_ISA="$isa"); fi
        env "${env[@]}" "$QCAL" stats --quiet --threads 1 --limit 64 -o "$tmp/isa-$model-$isa.json" "models/$model.onnx" "$IMG" >/dev/null 2>&1
        same "$model: the statistics file on the $isa path" "$tmp/isa-$model.json" "$tmp/isa-$model-$isa.json"
        env "${env[@]}" "$QCAL" stats --json --stats "$tmp/isa-$model.json" "models/$model.onnx" >"$tmp/isa-$model-$isa-ranges.json" 2>&1
        same "$model: the ranges on the $isa path" "$tmp/isa-$model-ranges.json" "$tmp/isa-$model-$isa-ranges.json"
    done
done

# 3. shards merged = one run, byte for byte, in any order
for n in 2 3; do
    files=()
    for ((i = 0; i < n; i++)); do
        "$QCAL" stats --quiet --threads 2 --shard "$i/$n" -o "$tmp/s$n-$i.json" "$M" "$IMG" 2>"$tmp/err" || bad "shard $i/$n ($(head -c 200 "$tmp/err"))"
        files+=("$tmp/s$n-$i.json")
    done
    expect "merge of $n shards exits 0" 0 "$QCAL" merge --quiet -o "$tmp/m$n.json" "${files[@]}"
    same "$n shards merged are the one run" "$tmp/one.json" "$tmp/m$n.json"
done
expect "merge in another order exits 0" 0 "$QCAL" merge --quiet -o "$tmp/r3.json" "$tmp/s3-2.json" "$tmp/s3-0.json" "$tmp/s3-1.json"
same "merging does not depend on the order" "$tmp/one.json" "$tmp/r3.json"
expect "merge of part of the shards exits 0" 0 "$QCAL" merge --json -o "$tmp/p.json" "$tmp/s3-2.json" "$tmp/s3-0.json"
if [ "$(py "import json,sys; print(json.load(open(sys.argv[1]))['complete'])" "$tmp/out")" = False ]; then ok "a partial merge says it is not complete"; else bad "a partial merge says it is not complete"; fi
expect "merging the partial merge with the last shard exits 0" 0 "$QCAL" merge --quiet -o "$tmp/p2.json" "$tmp/p.json" "$tmp/s3-1.json"
same "merging merges gives the one run" "$tmp/one.json" "$tmp/p2.json"
expect "a shard given twice is bad input" 3 "$QCAL" merge -o "$tmp/dup.json" "$tmp/s3-0.json" "$tmp/s3-0.json"
contains "the duplicate shard is named" "$tmp/err" "shard 0/3"
absent "a failed merge leaves no file" "$tmp/dup.json"
expect "shards of different splits are bad input" 3 "$QCAL" merge -o "$tmp/mix.json" "$tmp/s3-0.json" "$tmp/s2-1.json"

# the README's GNU parallel example, when parallel is installed
if command -v parallel >/dev/null 2>&1; then
    if parallel --will-cite "$QCAL" stats --quiet --shard {}/4 -o "$tmp/gp-{}.json" "$M" "$IMG" ::: 0 1 2 3 2>"$tmp/err" &&
        "$QCAL" merge --quiet -o "$tmp/gp.json" "$tmp"/gp-0.json "$tmp"/gp-1.json "$tmp"/gp-2.json "$tmp"/gp-3.json 2>>"$tmp/err"; then
        same "4 shards run by GNU parallel merge into the one run" "$tmp/one.json" "$tmp/gp.json"
    else
        bad "4 shards run by GNU parallel ($(head -c 200 "$tmp/err"))"
    fi
else
    echo "skip GNU parallel example: parallel is not installed"
fi

# 4. the calibration cache: ranges from the file without running the model
expect "stats --json exits 0" 0 "$QCAL" stats --quiet --json -o "$tmp/j.json" "$M" "$IMG"
cp "$tmp/out" "$tmp/run.json"
expect "stats --stats FILE --json exits 0" 0 "$QCAL" stats --json --stats "$tmp/j.json" "$M"
if py "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); assert a['tensors']==b['tensors'] and len(a['tensors'][0]['ranges'])==7" "$tmp/run.json" "$tmp/out" 2>"$tmp/err"; then
    ok "ranges from the cache equal those of the run, all seven methods"
else
    bad "ranges from the cache equal those of the run ($(tail -n 1 "$tmp/err"))"
fi
expect "the summary table prints" 0 "$QCAL" stats --stats "$tmp/j.json" "$M"
contains "the table has the entropy column" "$tmp/out" "entropy"
contains "the table has the input row" "$tmp/out" "input"

# 5. mismatches and bad inputs: exit 3, named, no partial file
expect "statistics of another model are bad input" 3 "$QCAL" stats --stats "$tmp/one.json" models/resnet.onnx
contains "the mismatch names the stats file" "$tmp/err" "one.json"
contains "the mismatch names the model" "$tmp/err" "resnet.onnx"
"$QCAL" stats --quiet --limit 16 -o "$tmp/res.json" models/resnet.onnx "$IMG" 2>/dev/null
expect "merging statistics of different models is bad input" 3 "$QCAL" merge -o "$tmp/x.json" "$tmp/one.json" "$tmp/res.json"
contains "the merge error says why" "$tmp/err" "different models"
absent "a failed merge leaves no output" "$tmp/x.json"
mkdir -p "$tmp/empty"
expect "an empty image folder is bad input" 3 "$QCAL" stats -o "$tmp/e.json" "$M" "$tmp/empty"
absent "an empty folder leaves no stats file" "$tmp/e.json"
mkdir -p "$tmp/imgs/0_a"
cp "$(find "$IMG" -name '*.png' | sort | head -n 1)" "$tmp/imgs/0_a/good.png"
printf 'not a png' >"$tmp/imgs/0_a/zbad.png"
expect "a bad image is bad input" 3 "$QCAL" stats -o "$tmp/b.json" "$M" "$tmp/imgs"
contains "the bad image is named" "$tmp/err" "zbad.png"
absent "a bad image leaves no stats file" "$tmp/b.json"
printf '{"format": "qcal-stats", "version": 1' >"$tmp/trunc.json"
expect "a truncated stats file is bad input" 3 "$QCAL" stats --stats "$tmp/trunc.json" "$M"
contains "the truncated file is named" "$tmp/err" "trunc.json"
expect "a missing stats file is an I/O error" 4 "$QCAL" merge -o "$tmp/y.json" "$tmp/missing.json"
expect "a missing model is an I/O error" 4 "$QCAL" stats -o "$tmp/y.json" "$tmp/missing.onnx" "$IMG"

# 5b. files a user must not lose or silently misuse
mkdir -p "$tmp/safe"
cp "$M" models/lenet.json "$tmp/safe/"
expect "stats -o MODEL is refused (the model is not replaced)" 2 "$QCAL" stats --quiet -o "$tmp/safe/lenet.onnx" "$tmp/safe/lenet.onnx" "$IMG"
same "stats -o MODEL leaves the model as it was" "$M" "$tmp/safe/lenet.onnx"
contains "the refusal names the output and the model" "$tmp/err" "it is the model '$tmp/safe/lenet.onnx'"
cp "$M" "$tmp/safe/"
expect "stats -o the model card of MODEL is refused" 2 "$QCAL" stats --quiet -o "$tmp/safe/lenet.json" "$tmp/safe/lenet.onnx" "$IMG"
same "stats -o the model card leaves it as it was" models/lenet.json "$tmp/safe/lenet.json"
cp "$tmp/s3-0.json" "$tmp/safe/a.json"
expect "merge -o one of its inputs is refused" 2 "$QCAL" merge -o "$tmp/safe/a.json" "$tmp/safe/a.json" "$tmp/s3-1.json"
same "merge -o an input leaves it as it was" "$tmp/s3-0.json" "$tmp/safe/a.json"
contains "the merge refusal names the statistics file" "$tmp/err" "it is the statistics file '$tmp/safe/a.json'"

"$QCAL" stats --quiet --method minmax --std 0.5 -o "$tmp/safe/std.json" "$M" "$IMG" 2>/dev/null
expect "stats --stats gathered with another preprocessing (std) is bad input" 3 "$QCAL" stats --stats "$tmp/safe/std.json" "$M"
contains "the preprocessing mismatch names the field" "$tmp/err" "its images had std 0.5, the model now takes std 0.353"
expect "stats --stats with the flags it was gathered with exits 0" 0 "$QCAL" stats --std 0.5 --stats "$tmp/safe/std.json" "$M"
expect "stats --stats of a partial merge is bad input" 3 "$QCAL" stats --stats "$tmp/p.json" "$M"
contains "the partial merge names its shards" "$tmp/err" "holds 2 of 3 shards (0, 2)"
expect "stats --stats of a partial merge with --allow-partial exits 0" 0 "$QCAL" stats --allow-partial --stats "$tmp/p.json" "$M"
expect "--allow-partial without --stats is a usage error" 2 "$QCAL" stats --allow-partial -o "$tmp/safe/x.json" "$M" "$IMG"

# 6. what is recorded follows --method and --granularity
expect "stats --method minmax,avgstd exits 0" 0 "$QCAL" stats --quiet --method minmax,avgstd -o "$tmp/nohist.json" "$M" "$IMG"
contains "without a histogram method no histograms are recorded" "$tmp/nohist.json" '"histograms": false'
expect "entropy from a file without histograms is bad input" 3 "$QCAL" stats --method entropy --stats "$tmp/nohist.json" "$M"
expect "the other methods from it are fine" 0 "$QCAL" stats --stats "$tmp/nohist.json" "$M"
expect "merging files with and without histograms is bad input" 3 "$QCAL" merge -o "$tmp/z.json" "$tmp/one.json" "$tmp/nohist.json"
expect "stats --granularity tensor exits 0" 0 "$QCAL" stats --quiet --granularity tensor -o "$tmp/tensor.json" "$M" "$IMG"
if py "import json,sys; t=json.load(open(sys.argv[1]))['tensors']; assert all(('channel' in x) == (x['role']=='weight') for x in t)" "$tmp/tensor.json" 2>/dev/null; then
    ok "at tensor granularity only weights keep per-channel values"
else
    bad "at tensor granularity only weights keep per-channel values"
fi

# 7. what the histogram methods give each role (docs/statistics.md R5–R8), and at which bit width
expect "stats --stats --json exits 0" 0 "$QCAL" stats --json --stats "$tmp/one.json" "$M"
if py "import json,sys; t=json.load(open(sys.argv[1]))['tensors'][0]; r=t['ranges']; assert t['role']=='input' and all(r[m]==r['minmax']==[t['min'],t['max']] for m in ('percentile','entropy','mse')), r" "$tmp/out" 2>"$tmp/err"; then
    ok "entropy, mse and percentile leave the model input unclipped"
else
    bad "entropy, mse and percentile leave the model input unclipped ($(tail -n 1 "$tmp/err"))"
fi
# TensorRT's calibrator (bin 0 counted as bin 1) clips lenet's ReLU outputs at 2.8 and 9.1 on
# these images; counting the zeros, the search clipped them at 1.93 and 3.98
if py "import json,sys; r={t['name']: t['ranges']['entropy'][1] for t in json.load(open(sys.argv[1]))['tensors']}; assert r['/Relu_output_0'] > 2.5 and r['/Relu_1_output_0'] > 8, r" "$tmp/out" 2>"$tmp/err"; then
    ok "entropy does not clip lenet's ReLU outputs to their spike of zeros"
else
    bad "entropy does not clip lenet's ReLU outputs to their spike of zeros ($(tail -n 1 "$tmp/err"))"
fi
"$QCAL" stats --json --bits 4 --stats "$tmp/one.json" "$M" >"$tmp/s4.json" 2>"$tmp/err" || bad "stats --bits 4 ($(head -c 200 "$tmp/err"))"
"$QCAL" stats --json --stats "$tmp/one.json" "$M" >"$tmp/s8.json" 2>"$tmp/err" || bad "stats --bits 8 ($(head -c 200 "$tmp/err"))"
for method in entropy mse; do
    expect "quantize --method $method --bits 4 --stats exits 0" 0 "$QCAL" quantize --json --method $method --bits 4 --stats "$tmp/one.json" -o "$tmp/q4.onnx" "$M"
    cp "$tmp/out" "$tmp/q4-stats.json"
    expect "quantize --method $method --bits 4 IMAGES exits 0" 0 "$QCAL" quantize --json --threads 2 --method $method --bits 4 -o "$tmp/q4i.onnx" "$M" "$IMG"
    for src in stats images; do
        f=$tmp/q4-stats.json
        [ $src = images ] && f=$tmp/out
        # the tensors that get a range of their own (the others pass one through, Q4)
        if py "
import json, sys
q = {t['name']: t for t in json.load(open(sys.argv[1]))['tensors']}
s4, s8 = ({t['name']: t['ranges'][sys.argv[4]] for t in json.load(open(f))['tensors']} for f in sys.argv[2:4])
assert q['/Relu_output_0']['bits'] == 4
names = ['/Relu_output_0', '/Relu_1_output_0', '/Relu_2_output_0', 'logits']
for n in names:
    got, want = [q[n]['min'], q[n]['max']], s4[n]
    assert all(abs(a - b) <= 1e-6 * (1 + abs(b)) for a, b in zip(got, want)), (n, got, want)
assert any(s4[n] != s8[n] for n in names)
" "$f" "$tmp/s4.json" "$tmp/s8.json" $method 2>"$tmp/err"; then
            ok "quantize --method $method --bits 4 (statistics from $src) takes the 4-bit ranges"
        else
            bad "quantize --method $method --bits 4 (statistics from $src) takes the 4-bit ranges ($(tail -n 1 "$tmp/err"))"
        fi
    done
done
# 8. hostile statistics files (tests/fuzz/regressions/stats: each once ate 2.4 GB, overflowed
#    or was accepted) are refused by name, without holding more than they carry
SM=tests/data/pytorch/simple-opset7/model.onnx
for f in tests/fuzz/regressions/stats/*.json; do
    expect "hostile stats $(basename "$f") is bad input" 3 "$QCAL" stats --stats "$f" "$SM"
    contains "hostile stats $(basename "$f") is named" "$tmp/err" "$(basename "$f")"
done
if [ -z "${QCAL_SKIP_FULL:-}" ]; then
    rss=$(py 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)' "$QCAL" stats --stats tests/fuzz/regressions/stats/weight-claims-1e7-channels.json "$SM")
    if [ "$rss" -lt 64 ]; then ok "a claim of 10^7 channels takes under 64 MiB (${rss} MiB)"; else bad "a claim of 10^7 channels takes under 64 MiB (${rss} MiB)"; fi
fi
# the same images twice (a file merged with itself or a copy) would count every image twice
"$QCAL" stats --quiet --limit 16 -o "$tmp/same.json" "$M" "$IMG"
cp "$tmp/same.json" "$tmp/same-copy.json"
expect "merging a file with its copy is bad input" 3 "$QCAL" merge -o "$tmp/twice.json" "$tmp/same.json" "$tmp/same-copy.json"
contains "the repeated images are named" "$tmp/err" "both hold the same 16 images"
absent "no merged file is left" "$tmp/twice.json"
# 20,000 tensors with one name twice (made here: 9 MB)
py 'import json, copy, sys
d = json.load(open(sys.argv[1]))
a = [t for t in d["tensors"] if t["role"] == "activation"][0]
d["tensors"] = []
for i in range(20000):
    t = copy.deepcopy(a); t["name"] = "t%d" % (i % 19999); d["tensors"].append(t)
json.dump(d, open(sys.argv[2], "w"), separators=(",", ":"))' tests/fuzz/corpus/stats/simple-tensor.json "$tmp/many.json"
expect "20,000 tensors with a name twice is bad input" 3 "$QCAL" stats --stats "$tmp/many.json" "$SM"
contains "the repeated name is reported" "$tmp/err" "two tensors have the same name"

summary stats
