#!/usr/bin/env python3
"""INT8 latency of each quantization scheme, in qcal and in ONNX Runtime, on the same files.

    python3 tools/scheme-bench.py QCAL MODEL.onnx... [--images DIR] [--rounds N] [--runs N]
                                  [--schemes gemmlowp,symlowp,mixed]

For each MODEL (224x224 FP32, e.g. from tools/make-bench-models.py): statistics over the
first 16 images of DIR resized to the model's input (qcal stats), then one QDQ file per
scheme with per-channel weights (qcal quantize). Then N rounds, each timing every file in
turn (interleaved, so that load from other jobs falls on every scheme alike): qcal bench
--int8 FILE (one thread, batch 1, the median of --runs runs) and ONNX Runtime on the same
file (one intra-op thread, sequential, the median of --runs runs). Prints per model and
scheme the median over the rounds of both latencies, and their minima. Needs the python
that has onnxruntime and numpy (the pyenv one on PATH).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort


def sh(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def ort_latency_ms(session, x, runs):
    name = session.get_inputs()[0].name
    for _ in range(3):
        session.run(None, {name: x})
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        session.run(None, {name: x})
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qcal")
    ap.add_argument("models", nargs="+")
    ap.add_argument("--images", default="build/zoo/calib")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--schemes", default="gemmlowp,symlowp,mixed")
    a = ap.parse_args()
    schemes = a.schemes.split(",")
    tmp = tempfile.mkdtemp(prefix="qcal-scheme-bench.")
    files = {}
    for m in a.models:
        base = os.path.basename(m)[:-5]
        st = os.path.join(tmp, base + ".json")
        sh(a.qcal, "stats", "--quiet", "--limit", "16", "--size", "224x224", m, a.images, "-o", st)
        for s in schemes:
            out = os.path.join(tmp, "%s-%s.onnx" % (base, s))
            sh(a.qcal, "quantize", "--quiet", "--size", "224x224", "--scheme", s, "--granularity", "channel", "--stats", st,
               "-o", out, m)
            files[(base, s)] = out
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    sessions = {k: ort.InferenceSession(f, so, providers=["CPUExecutionProvider"]) for k, f in files.items()}
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
    qcal_ms = {k: [] for k in files}
    ort_ms = {k: [] for k in files}
    for r in range(a.rounds):
        for k, f in files.items():
            d = json.loads(sh(a.qcal, "bench", a.models[[os.path.basename(m)[:-5] for m in a.models].index(k[0])],
                              "--int8", f, "--runs", str(a.runs), "--batch", "1", "--threads", "1", "--json"))
            qcal_ms[k].append(d["int8"]["latency_ms"])
            ort_ms[k].append(ort_latency_ms(sessions[k], x, a.runs))
        print("round %d done" % (r + 1), file=sys.stderr)
    print("%-14s %-9s %13s %13s %11s %11s" % ("model", "scheme", "qcal median", "ORT median", "qcal min", "ORT min"))
    for k in files:
        print("%-14s %-9s %10.2f ms %10.2f ms %8.2f ms %8.2f ms" % (
            k[0], k[1], statistics.median(qcal_ms[k]), statistics.median(ort_ms[k]), min(qcal_ms[k]), min(ort_ms[k])))


if __name__ == "__main__":
    main()
