#!/bin/bash
# onnx-write-test.sh — ONNX files written by qcal are readable by others: check_onnx_write
# re-saves every bundled and PyTorch-exported model (as loaded, and with BatchNorm folded)
# and a graph with a com.microsoft node, with the input it used and qcal's output. Each file
# must pass onnx.checker's full check (with strict shape inference), and ONNX Runtime must run
# it with the output shape it declares, the same argmax per row as qcal and values within
# rtol 1e-3 / atol 1e-4. A missing Python module is a counted skip. Ends with
# "onnx-write: N passed, N failed".
#
# Environment: QCAL_BUILD (build folder, default build), PYTHON (tried first for both
# modules; otherwise python3 and /usr/bin/python3).
set -u
BUILD=${QCAL_BUILD:-build}
DRIVER=$BUILD/tests/check_onnx_write
tmp=$(mktemp -d /tmp/qcal-onnx-write.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

# Tallies the "ok …" / "FAIL …" lines a Python program printed; other lines are shown.
tally() {
    local line
    while IFS= read -r line; do
        case "$line" in
        "ok "*) ok "${line#ok }" ;;
        "FAIL "*) bad "${line#FAIL }" ;;
        *) echo "     $line" ;;
        esac
    done
}

if [ ! -x "$DRIVER" ]; then
    bad "$DRIVER is not built"
    summary onnx-write
fi
mkdir "$tmp/out"
if QCAL_ONNX_WRITE_DIR=$tmp/out "$DRIVER" >"$tmp/driver.log" 2>&1; then
    ok "check_onnx_write saved $(ls "$tmp/out" | grep -c '\.onnx$') models"
else
    bad "check_onnx_write failed: $(tail -n 5 "$tmp/driver.log")"
    summary onnx-write
fi

if py=$(find_python onnx); then
    "$py" - "$tmp/out" >"$tmp/checker.log" 2>&1 <<'EOF'
import glob, os, sys
import onnx
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.onnx"))):
    name = os.path.basename(path)[:-5]
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
        print("ok onnx.checker accepts", name)
    except Exception as e:
        print("FAIL onnx.checker rejects", name + ":", str(e).replace("\n", " ")[:300])
EOF
    tally <"$tmp/checker.log"
else
    skip "onnx.checker on the written models: onnx (python) not installed"
fi

if py=$(find_python "onnxruntime, numpy"); then
    "$py" - "$tmp/out" >"$tmp/ort.log" 2>&1 <<'EOF'
import glob, os, sys
import numpy as np
import onnxruntime as ort
opts = ort.SessionOptions()
opts.log_severity_level = 3
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.onnx"))):
    name = os.path.basename(path)[:-5]
    try:
        x = np.load(path[:-5] + ".in.npy")
        want = np.load(path[:-5] + ".out.npy")
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        y = sess.run(None, {sess.get_inputs()[0].name: x})[0]
        declared = sess.get_outputs()[0].shape
        problems = []
        if y.shape != want.shape:
            problems.append("shape %s, qcal %s" % (y.shape, want.shape))
        elif len(declared) != y.ndim or any(isinstance(d, int) and d != n for d, n in zip(declared, y.shape)):
            problems.append("shape %s where the model declares %s" % (y.shape, declared))
        else:
            if not np.array_equal(y.reshape(-1, y.shape[-1]).argmax(-1), want.reshape(-1, want.shape[-1]).argmax(-1)):
                problems.append("argmax differs")
            diff = np.abs(y.astype(np.float64) - want)
            if not np.all(diff <= 1e-4 + 1e-3 * np.abs(want)):
                problems.append("max abs diff %.3g" % diff.max())
        if problems:
            print("FAIL onnxruntime on", name + ":", "; ".join(problems))
        else:
            print("ok onnxruntime runs %s like qcal (batch %d, max abs diff %.2g)" % (name, x.shape[0], diff.max()))
    except Exception as e:
        print("FAIL onnxruntime on", name + ":", str(e).replace("\n", " ")[:300])
EOF
    tally <"$tmp/ort.log"
else
    skip "ONNX Runtime on the written models: onnxruntime not installed"
fi
summary onnx-write
