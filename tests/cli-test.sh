#!/bin/bash
# cli-test.sh — end-to-end tests of the qcal command line: help and synopsis, exit codes,
# bad inputs named in messages, nothing half-written, results independent of threads and
# batch, and the bundled models' FP32 top-1 on the full Fashion-MNIST test set against the
# count PyTorch measured (model cards). Prints "cli: N passed, N failed".
set -u
tmp=$(mktemp -d /tmp/qcal-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

# 1. help and synopsis: every command answers --help with its usage, and the README shows
#    the same synopsis line.
expect "qcal --help exits 0" 0 "$QCAL" --help
for cmd in inspect eval bench; do
    expect "$cmd --help exits 0" 0 "$QCAL" "$cmd" --help
    first=$(head -n 1 "$tmp/out")
    case "$first" in "usage: qcal $cmd"*) ok "$cmd --help starts with its usage" ;; *) bad "$cmd --help starts with its usage: $first" ;; esac
    contains "README shows the synopsis of $cmd" README.md "${first#usage: }"
done
# a plain `make` builds ./qcal (its prerequisite was once expanded before QCAL_BIN was set)
if env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u SANITIZE -u QCAL_BIN -u BUILD make -n -B all 2>/dev/null | grep -qE -- '-o qcal$'; then ok "plain make links ./qcal"; else bad "plain make links ./qcal"; fi
expect "an unknown command is a usage error" 2 "$QCAL" frobnicate
expect "an unknown option is a usage error" 2 "$QCAL" eval --frobnicate models/lenet.onnx data/val
# a usage error is the one-line error and where to read more, not the whole usage text
if [ "$(cat "$tmp/err")" = "error: unknown option '--frobnicate'
see 'qcal eval --help'" ]; then ok "a usage error is two lines naming 'qcal eval --help'"; else bad "a usage error is two lines naming 'qcal eval --help': $(head -c 300 "$tmp/err")"; fi
expect "an unknown command is a usage error listing the commands" 2 "$QCAL" frobnicate
contains "the unknown command's message lists the commands" "$tmp/err" "(inspect, eval, stats, merge, quantize, compare, bench)"
# workflow mistakes found before any work: arguments swapped, an output that is a folder or
# in a folder that does not exist (nothing printed on stdout: the run did not happen)
expect "eval IMAGES MODEL is a usage error" 2 "$QCAL" eval data/val models/lenet.onnx
contains "the swap is named" "$tmp/err" "'data/val' is a folder; MODEL comes first: qcal eval MODEL... IMAGES"
expect "stats IMAGES MODEL is a usage error" 2 "$QCAL" stats data/calib models/lenet.onnx
contains "the stats swap is named" "$tmp/err" "'data/calib' is a folder; MODEL comes first: qcal stats MODEL IMAGES"
expect "compare with a model for VAL is a usage error" 2 "$QCAL" compare models/lenet.onnx data/calib models/lenet.onnx
contains "the model given as VAL is named" "$tmp/err" "'models/lenet.onnx' is a model, not a folder of images"
mkdir -p "$tmp/outdir"
expect "stats -o FOLDER/ is a usage error" 2 "$QCAL" stats --limit 16 -o "$tmp/outdir/" models/lenet.onnx data/calib
contains "the folder is named as one" "$tmp/err" "-o '$tmp/outdir/' is a folder: give the name of the file to write in it"
expect "stats -o into a missing folder is refused before the run" 4 "$QCAL" stats --limit 16 -o "$tmp/nofolder/s.json" models/lenet.onnx data/calib
if [ ! -s "$tmp/out" ] && grep -qF "there is no folder '$tmp/nofolder'" "$tmp/err"; then ok "the missing folder is named and nothing ran"; else bad "the missing folder is named and nothing ran: $(head -c 300 "$tmp/err")"; fi
expect "compare --html into a missing folder is refused before the run" 4 "$QCAL" compare --limit 10 --calib-limit 10 --html "$tmp/nofolder/r.html" models/lenet.onnx data/calib data/val
if [ ! -s "$tmp/out" ]; then ok "compare printed nothing: it did not run"; else bad "compare printed nothing: it did not run"; fi
expect "quantize --write-ort-overrides into a missing folder is refused" 4 "$QCAL" quantize models/lenet.onnx data/calib -o "$tmp/q.onnx" --write-ort-overrides "$tmp/nofolder/o.json"
# warnings: CALIB = VAL, labels lines that match no image (and --quiet silences them)
expect "compare with CALIB = VAL exits 0" 0 "$QCAL" compare --limit 10 --calib-limit 10 --layer-images 1 --schemes gemmlowp --granularity tensor models/lenet.onnx data/val data/val/
contains "CALIB = VAL is warned of" "$tmp/err" "warning: CALIB and VAL are the same folder 'data/val/'"
expect "compare with CALIB = VAL --quiet exits 0" 0 "$QCAL" compare --quiet --limit 10 --calib-limit 10 --layer-images 1 --schemes gemmlowp --granularity tensor models/lenet.onnx data/val data/val
if [ ! -s "$tmp/err" ]; then ok "--quiet silences the CALIB = VAL warning"; else bad "--quiet silences the CALIB = VAL warning: $(head -c 200 "$tmp/err")"; fi
first=$(cd data/val && ls */*.png | head -n 1)
printf '%s 0\nnot/there.png 3\nnor/this.png 1\n' "$first" >"$tmp/labels.txt"
expect "eval with labels lines that match no image exits 0" 0 "$QCAL" eval --labels "$tmp/labels.txt" --limit 5 models/lenet.onnx data/val
contains "the unmatched labels lines are counted" "$tmp/err" "warning: 2 lines of '$tmp/labels.txt' name no image under 'data/val' (left unused)"
# progress bars (stderr a terminal) name the model they run
progress_label() {
    "$PY" - "$@" <<'EOF'
import os, pty, subprocess, sys
master, slave = pty.openpty()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=slave)
os.close(slave)
data = b""
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
print(data.decode(errors="replace").replace("\r", "\n"))
EOF
}
progress_label "$QCAL" stats --limit 64 models/lenet.onnx data/calib >"$tmp/progress"
contains "the stats progress bar names the model" "$tmp/progress" "stats lenet.onnx ["
progress_label "$QCAL" eval --limit 64 models/resnet.onnx data/val >"$tmp/progress"
contains "the eval progress bar names the model" "$tmp/progress" "eval resnet.onnx ["
expect "a bad --methods value is a usage error" 2 "$QCAL" compare --methods frob models/lenet.onnx data/calib data/val
contains "the bad --methods value's message lists the methods" "$tmp/err" "minmax, avg, avgstd, meanstd, percentile, entropy, mse, auto or all, not 'frob'"
expect "eval without images is a usage error" 2 "$QCAL" eval models/lenet.onnx
expect "a bad --threads value is a usage error" 2 "$QCAL" eval --threads zero models/lenet.onnx data/val

# 2. inspect
expect "inspect of a bundled model exits 0" 0 "$QCAL" inspect models/resnet-bn.onnx
contains "inspect lists BatchNormalization nodes" "$tmp/out" "BatchNormalization"
contains "inspect shows the dynamic batch" "$tmp/out" "Nx1x28x28"
expect "inspect --json exits 0" 0 "$QCAL" inspect --json models/lenet.onnx
if [ "$(json_get "$tmp/out" "['inputs'][0]['shape']")" = "Nx1x28x28" ]; then ok "inspect --json gives the input shape"; else bad "inspect --json gives the input shape"; fi
if [ "$(json_get "$tmp/out" "['outputs'][0]['shape']")" = "Nx10" ]; then ok "inspect --json gives the output's declared shape (N, not the batch of 1)"; else bad "inspect --json gives the output's declared shape"; fi
# parameters: the weights and biases, whether float or quantized (scales and zero points are not)
want=$(/usr/bin/python3 -c "
import onnx, numpy as np, sys
m = onnx.load(sys.argv[1]); print(sum(int(np.prod(t.dims)) for t in m.graph.initializer if t.data_type == 1))" models/lenet.onnx 2>/dev/null)
if [ -n "$want" ]; then
    if [ "$(json_get "$tmp/out" "['parameters']")" = "$want" ]; then ok "inspect counts lenet's $want parameters as onnx does"; else bad "inspect counts lenet's parameters ($want by onnx)"; fi
    for fmt in qdq qoperator; do
        "$QCAL" quantize --quiet --format $fmt -o "$tmp/params-$fmt.onnx" models/lenet.onnx data/calib >/dev/null 2>&1
        expect "inspect --json of lenet quantized ($fmt)" 0 "$QCAL" inspect --json "$tmp/params-$fmt.onnx"
        if [ "$(json_get "$tmp/out" "['parameters']")" = "$want" ]; then ok "quantized ($fmt), lenet still has $want parameters"; else bad "quantized ($fmt), lenet has $(json_get "$tmp/out" "['parameters']") parameters, not $want"; fi
    done
else
    skip "parameter counts against onnx: /usr/bin/python3 has no onnx"
fi
expect "a missing model is an I/O error" 4 "$QCAL" inspect "$tmp/missing.onnx"
contains "the missing model is named" "$tmp/err" "missing.onnx"
for f in tests/data/onnx-bad/*.onnx; do
    expect "bad model $(basename "$f") is bad input" 3 "$QCAL" inspect "$f"
    contains "bad model $(basename "$f") is named in the message" "$tmp/err" "$(basename "$f")"
done
for f in tests/data/onnx-odd/*.onnx; do
    expect "odd but valid model $(basename "$f") loads" 0 "$QCAL" inspect "$f"
done
# peak_rss_mib CMD…: the peak resident memory of CMD in MiB (its exit status is not checked)
peak_rss_mib() {
    "$PY" -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)' "$@"
}
# files that declare far more than they hold are refused before anything is sized by them:
# a model with a 40 GB input, PNGs of 69 bytes whose text chunks claim 2 GiB
if [ -n "${QCAL_SKIP_FULL:-}" ]; then
    skip "peak memory of refusing oversized files: not measured under the sanitizers"
else
    for f in tests/data/onnx-bad/input-40gb.onnx tests/data/png/huge-*-chunk.png; do
        case "$f" in
            *.onnx) rss=$(peak_rss_mib "$QCAL" inspect "$f") ;;
            *) rss=$(peak_rss_mib "$QCAL" eval models/lenet.onnx "$f") ;;
        esac
        if [ "$rss" -lt 64 ]; then ok "refusing $(basename "$f") takes under 64 MiB (${rss} MiB)"; else bad "refusing $(basename "$f") takes under 64 MiB (${rss} MiB)"; fi
    done
fi
# outputs never harm what is there: a FIFO or a symbolic link at the output path is refused
# (rename() once replaced it, /dev/null included when run as root); a file keeps its mode;
# SIGTERM in the middle of a run leaves no temporary file
mkfifo "$tmp/fifo.json"
expect "an output path that is a FIFO is refused" 4 "$QCAL" stats --quiet --limit 16 -o "$tmp/fifo.json" models/lenet.onnx data/calib
if [ -p "$tmp/fifo.json" ]; then ok "the FIFO is still a FIFO"; else bad "the FIFO is still a FIFO"; fi
ln -s "$tmp/elsewhere.json" "$tmp/link.json"
expect "an output path that is a symbolic link is refused" 4 "$QCAL" stats --quiet --limit 16 -o "$tmp/link.json" models/lenet.onnx data/calib
contains "the refusal says why" "$tmp/err" "not a regular file (a symbolic link)"
if [ -L "$tmp/link.json" ] && [ ! -e "$tmp/elsewhere.json" ]; then ok "the link is left as it was"; else bad "the link is left as it was"; fi
: >"$tmp/private.json"
chmod 600 "$tmp/private.json"
expect "an existing 0600 file is replaced" 0 "$QCAL" stats --quiet --limit 16 -o "$tmp/private.json" models/lenet.onnx data/calib
if [ "$(stat -c %a "$tmp/private.json")" = 600 ]; then ok "the replaced file keeps mode 0600"; else bad "the replaced file keeps mode 0600 ($(stat -c %a "$tmp/private.json"))"; fi
mkdir "$tmp/sig"
"$QCAL" eval --quiet --threads 1 --predictions "$tmp/sig/p.tsv" models/resnet.onnx data/val 2>/dev/null &
pid=$!
for _ in $(seq 50); do ls -A "$tmp/sig" | grep -q '^\.p\.tsv\.' && break; sleep 0.05; done
if ls -A "$tmp/sig" | grep -q '^\.p\.tsv\.'; then
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    if [ "$rc" -eq 143 ]; then ok "SIGTERM ends eval as SIGTERM does (exit 143)"; else bad "SIGTERM ends eval as SIGTERM does (exit $rc)"; fi
    if [ -z "$(ls -A "$tmp/sig")" ]; then ok "SIGTERM leaves no temporary file"; else bad "SIGTERM leaves no temporary file ($(ls -A "$tmp/sig"))"; fi
else
    wait "$pid"
    bad "eval --predictions writes a temporary file while it runs"
fi
# file names with a tab or a newline stay one TSV line each (escaped \t, \n)
mkdir -p "$tmp/odd"
first=$(find data/val -name '*.png' | sort | head -n 1)
cp "$first" "$tmp/odd/$(printf 'a\tb.png')"
cp "$first" "$tmp/odd/$(printf 'c\nd.png')"
expect "eval of images with a tab and a newline in their names" 0 "$QCAL" eval --quiet --predictions "$tmp/odd.tsv" models/lenet.onnx "$tmp/odd"
if [ "$(wc -l <"$tmp/odd.tsv")" -eq 2 ] && [ "$(awk -F'\t' 'NF != 3' "$tmp/odd.tsv" | wc -l)" -eq 0 ]; then ok "--predictions keeps one line of three fields per image"; else bad "--predictions keeps one line of three fields per image ($(cat -A "$tmp/odd.tsv"))"; fi
contains "a tab in a name is written as \\t" "$tmp/odd.tsv" 'a\tb.png'
contains "a newline in a name is written as \\n" "$tmp/odd.tsv" 'c\nd.png'
expect "a device given as the model is bad input, not read" 3 "$QCAL" inspect /dev/zero
contains "the device is named" "$tmp/err" "/dev/zero"
expect "--max-memory below 16 MiB is a usage error" 2 "$QCAL" eval --max-memory 3 models/lenet.onnx data/val
if [ -f tests/data/onnx-bad/unsupported-ops.onnx ]; then
    "$QCAL" inspect tests/data/onnx-bad/unsupported-ops.onnx >"$tmp/out" 2>"$tmp/err"
    contains "unsupported ops are listed with a node name" "$tmp/err" "(node '"
fi

# 3. eval: JSON fields, predictions, invariance to threads and batch
expect "eval --json exits 0" 0 "$QCAL" eval --json --limit 300 models/lenet.onnx data/val
cp "$tmp/out" "$tmp/eval.json"
for key in images top1_correct top1 top5 images_per_s; do
    if json_get "$tmp/eval.json" "['$key']" >/dev/null 2>&1; then ok "eval --json has $key"; else bad "eval --json has $key"; fi
done
if [ "$(json_get "$tmp/eval.json" "['images']")" = 300 ]; then ok "--limit 300 evaluates 300 images"; else bad "--limit 300 evaluates 300 images"; fi
expect "eval --predictions exits 0 (1 thread, batch 1)" 0 "$QCAL" eval --quiet --threads 1 --batch 1 --limit 300 --predictions "$tmp/p1.tsv" models/mobilenet.onnx data/val
expect "eval --predictions exits 0 (2 threads, batch 7)" 0 "$QCAL" eval --quiet --threads 2 --batch 7 --limit 300 --predictions "$tmp/p2.tsv" models/mobilenet.onnx data/val
if cmp -s "$tmp/p1.tsv" "$tmp/p2.tsv"; then ok "predictions do not depend on threads or batch"; else bad "predictions do not depend on threads or batch"; fi
if [ "$(wc -l <"$tmp/p1.tsv")" -eq 300 ]; then ok "predictions have one line per image"; else bad "predictions have one line per image"; fi
correct=$(awk -F'\t' '$2 == $3' "$tmp/p1.tsv" | wc -l)
"$QCAL" eval --json --limit 300 models/mobilenet.onnx data/val >"$tmp/m.json" 2>/dev/null
if [ "$(json_get "$tmp/m.json" "['top1_correct']")" = "$correct" ]; then ok "predictions agree with top1_correct"; else bad "predictions agree with top1_correct"; fi

# 3b. an output never replaces an input: eval --predictions and compare --html
mkdir -p "$tmp/safe"
cp models/lenet.onnx models/lenet.json "$tmp/safe/"
expect "eval --predictions onto the model is refused" 2 "$QCAL" eval --limit 10 --predictions "$tmp/safe/lenet.onnx" "$tmp/safe/lenet.onnx" data/val
same "eval --predictions onto the model leaves it as it was" models/lenet.onnx "$tmp/safe/lenet.onnx"
contains "the refusal names the output and the model" "$tmp/err" "it is the model '$tmp/safe/lenet.onnx'"
cp models/lenet.onnx "$tmp/safe/"
expect "eval --predictions onto the model card is refused" 2 "$QCAL" eval --limit 10 --predictions "$tmp/safe/lenet.json" "$tmp/safe/lenet.onnx" data/val
same "eval --predictions onto the model card leaves it as it was" models/lenet.json "$tmp/safe/lenet.json"
printf 'x.png 1\n' >"$tmp/safe/labels.txt"
expect "eval --predictions onto the labels file is refused" 2 "$QCAL" eval --limit 10 --labels "$tmp/safe/labels.txt" --predictions "$tmp/safe/labels.txt" models/lenet.onnx data/val
cp models/lenet.onnx "$tmp/safe/"
expect "compare --html onto the model is refused" 2 "$QCAL" compare --quiet --limit 10 --calib-limit 16 --html "$tmp/safe/lenet.onnx" "$tmp/safe/lenet.onnx" data/calib data/val
same "compare --html onto the model leaves it as it was" models/lenet.onnx "$tmp/safe/lenet.onnx"

# 4. bad images: named, exit 3, nothing half-written; --skip-bad counts them
mkdir -p "$tmp/imgs/0_a"
cp "$(find data/val -name '*.png' | sort | head -n 1)" "$tmp/imgs/0_a/good.png"
printf 'not a png' >"$tmp/imgs/0_a/zbad.png"
expect "a bad image stops eval with bad input" 3 "$QCAL" eval --predictions "$tmp/pred.tsv" models/lenet.onnx "$tmp/imgs"
contains "the bad image is named" "$tmp/err" "zbad.png"
if [ ! -e "$tmp/pred.tsv" ] && [ -z "$(ls -A "$tmp" | grep '^\.pred')" ]; then ok "a failed eval leaves no predictions file"; else bad "a failed eval leaves no predictions file"; fi
expect "--skip-bad skips the bad image" 0 "$QCAL" eval --json --skip-bad models/lenet.onnx "$tmp/imgs"
if [ "$(json_get "$tmp/out" "['skipped']")" = 1 ] && [ "$(json_get "$tmp/out" "['images']")" = 1 ]; then ok "--skip-bad counts the skipped image"; else bad "--skip-bad counts the skipped image"; fi
mkdir -p "$tmp/empty"
expect "an empty image folder is bad input" 3 "$QCAL" eval models/lenet.onnx "$tmp/empty"

# 5. the bundled models' FP32 top-1 on the 10,000 test images equals PyTorch's (model card), ±2
full=${QCAL_FULL_TEST:-data/test-full}
if [ "${QCAL_SKIP_FULL:-}" = 1 ]; then
    echo "skip full test set: QCAL_SKIP_FULL=1 (sanitizer builds)"
elif [ ! -d "$full" ] && [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import numpy, PIL' 2>/dev/null; then
    /usr/bin/python3 tools/make-data.py --full "$full" >/dev/null
fi
if [ "${QCAL_SKIP_FULL:-}" != 1 ] && [ -d "$full" ]; then
    for card in models/*.json; do
        model=${card%.json}.onnx
        [ -f "$model" ] || continue
        want=$(json_get "$card" "['fp32_top1']['correct']")
        "$QCAL" eval --json --quiet --threads 2 "$model" "$full" >"$tmp/full.json" 2>"$tmp/err"
        got=$(json_get "$tmp/full.json" "['top1_correct']" 2>/dev/null || echo none)
        n=$(json_get "$tmp/full.json" "['images']" 2>/dev/null || echo 0)
        if [ "$got" != none ] && [ "$n" = 10000 ] && [ $((got - want)) -le 2 ] && [ $((want - got)) -le 2 ]; then
            ok "$(basename "$model") top-1 on 10,000 test images: $got (PyTorch $want)"
        else
            bad "$(basename "$model") top-1 on 10,000 test images: $got of $n (PyTorch $want)"
        fi
    done
elif [ "${QCAL_SKIP_FULL:-}" != 1 ]; then
    echo "skip full test set: $full missing and it cannot be made (needs python3-numpy, python3-pil)"
fi

# --scores: the output scores as a fourth column, whose argmax is the top-1 column
expect "--scores without --predictions is a usage error" 2 "$QCAL" eval --scores models/lenet.onnx data/val
expect "eval with --predictions --scores exits 0" 0 "$QCAL" eval --quiet --limit 50 --predictions "$tmp/scores.pred" --scores models/lenet.onnx data/val
if awk -F'\t' '{ n = split($4, v, " "); best = 1; for (j = 2; j <= n; j++) if (v[j] + 0 > v[best] + 0) best = j; if (n != 10 || best - 1 != $2) bad++ } END { exit bad > 0 || NR != 50 }' "$tmp/scores.pred"; then
    ok "each line has 10 scores whose argmax is the top-1 class"
else
    bad "each line has 10 scores whose argmax is the top-1 class"
fi

# quantized models written by another tool (tools/make-qdq-tests.py, checked against ONNX
# Runtime there): both layouts run out of the box and keep lenet's accuracy
for layout in qdq qop; do
    m=tests/data/qdq/lenet-$layout.onnx
    expect "eval of lenet in the $layout layout exits 0" 0 "$QCAL" eval --json --quiet "$m" data/val
    got=$(json_get "$tmp/out" "['top1_correct']" 2>/dev/null || echo 0)
    if [ "$got" -ge 1800 ]; then ok "lenet-$layout keeps top-1 on data/val ($got of 2000)"; else bad "lenet-$layout keeps top-1 on data/val ($got of 2000)"; fi
done

# bench: FP32 against INT8 timings (values are not asserted: tests never time anything), the
# JSON's fields and its ratios, an INT8 file of the user's, and its errors
expect "bench --json exits 0" 0 "$QCAL" bench --json --runs 3 --batch 4 models/lenet.onnx
if "$PY" -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['model'] == 'models/lenet.onnx' and d['int8_model'] is None and d['scheme'] == 'mixed' and d['granularity'] == 'channel'  # quantize's default
assert (d['batch'], d['threads'], d['runs'], d['warmup_runs'], d['percentiles']) == (4, 1, 3, 3, 'nearest-rank')
for k in ('fp32', 'int8'):
    assert d[k]['latency_ms'] > 0 and d[k]['images_per_s'] > 0 and d[k]['cpu_ms_per_image'] > 0, d[k]
    for clock in ('wall_ms', 'thread_cpu_ms'):
        s = d[k][clock]
        assert sorted(s) == ['mean', 'median', 'min', 'p90', 'p99'], s
        assert 0 < s['min'] <= s['median'] <= s['p90'] <= s['p99'] and s['min'] <= s['mean'] <= s['p99'], s
    assert d[k]['latency_ms'] == d[k]['wall_ms']['median'], d[k]
    # 3 runs: nearest-rank p90 and p99 are both the slowest run
    assert d[k]['wall_ms']['p90'] == d[k]['wall_ms']['p99'], d[k]
for key, clock in (('latency', 'wall_ms'), ('latency_thread_cpu', 'thread_cpu_ms')):
    r = d['fp32'][clock]['median'] / d['int8'][clock]['median']
    assert abs(d['speedup'][key] - r) <= 1e-3 * r, (d['speedup'], r)
" "$tmp/out" 2>"$tmp/err"; then ok "bench --json has both clocks' spreads and their ratios"; else bad "bench --json has both clocks' spreads and their ratios ($(tail -c 200 "$tmp/err"))"; fi
expect "bench exits 0" 0 "$QCAL" bench --runs 3 --batch 4 models/lenet.onnx
for row in "fp32 wall" "fp32 thread CPU" "int8 wall" "int8 thread CPU"; do
    if grep -qE "^$row +([0-9.]+ +){4}[0-9.]+\$" "$tmp/out"; then ok "the bench table has the row '$row': min mean median p90 p99"; else bad "the bench table has the row '$row': $(head -c 400 "$tmp/out")"; fi
done
contains "the bench table names the warm-up and the percentile rule" "$tmp/out" "3 timed runs after 3 warm-up runs for each figure; percentiles by nearest rank"
expect "bench --threads 2 --batch 1 exits 0" 0 "$QCAL" bench --runs 3 --batch 1 --threads 2 models/lenet.onnx
contains "with 2 threads on one input the latency's CPU time is the process's" "$tmp/out" "int8 CPU"
expect "bench of the QOperator lenet of another tool exits 0" 0 "$QCAL" bench --runs 2 --batch 2 --int8 tests/data/qdq/lenet-qop.onnx models/lenet.onnx
contains "the table names the INT8 file" "$tmp/out" "lenet-qop.onnx"
contains "the table has the ratio row" "$tmp/out" "int8/fp32"
expect "bench --scheme symlowp --per-tensor exits 0" 0 "$QCAL" bench --quiet --runs 2 --batch 2 --scheme symlowp --per-tensor models/mobilenet.onnx
expect "bench of an INT8 model with another input is bad input (exit 3)" 3 "$QCAL" bench --runs 2 --int8 tests/data/qdq/lenet-qdq.onnx tests/data/pytorch/bn-kept/model.onnx
contains "the mismatch names the file" "$tmp/err" "lenet-qdq.onnx"
expect "bench without MODEL is a usage error" 2 "$QCAL" bench
expect "bench --batch 0 is a usage error" 2 "$QCAL" bench --batch 0 models/lenet.onnx
expect "bench --granularity compensated is a usage error" 2 "$QCAL" bench --granularity compensated models/lenet.onnx
expect "bench --granularity bogus is a usage error" 2 "$QCAL" bench --granularity bogus models/lenet.onnx
expect "bench of a missing model is an I/O error" 4 "$QCAL" bench models/none.onnx

summary cli
