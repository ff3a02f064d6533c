#!/usr/bin/env python3
"""adequacy-measure.py — how good is `qcal stats --adequacy`'s estimate? For each model and
range method: the bootstrap's predicted relative spread of every activation's scale from the
calibration set (CALIB), against the truth measured on a larger set (VAL): the scale's spread
over K disjoint subsets of VAL as large as CALIB (the shards of `--shard I/K`, groups of 16
taken in turn), and the scale's relative difference between calibrating on CALIB and on all of
VAL. Prints a Markdown table (README, "Is the calibration set big enough?").

    tests/adequacy-measure.py [--qcal ./qcal] [--calib data/calib] [--val data/val] [--k 4]
                              MODEL...
"""
import argparse
import json
import statistics
import subprocess
import sys


def run(qcal, model, images, method, extra):
    cmd = [qcal, "stats", model, images, "--quiet", "--json", "--method", method,
           "--adequacy", "--adequacy-method", method, "--threads", "2"] + extra
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    a = json.loads(out)["adequacy"]
    return a, {t["name"]: t for t in a["tensors"]}


def measure(qcal, model, method, calib, val, k):
    a, pred = run(qcal, model, calib, method, [])
    _, full = run(qcal, model, val, method, [])
    shards = [run(qcal, model, val, method, ["--shard", f"{i}/{k}"])[1] for i in range(k)]
    rows = []
    for name, t in pred.items():
        scales = [s[name]["scale"] for s in shards]
        true_rsd = statistics.stdev(scales) / statistics.mean(scales)
        diff = abs(t["scale"] - full[name]["scale"]) / full[name]["scale"]
        rows.append((t["rsd"], true_rsd, diff, t["uncertain"]))
    med = lambda i: statistics.median(r[i] for r in rows)
    # a tensor's truth is noisy (K values): compare the medians, and count how often the
    # calib-vs-val difference lies within twice the predicted spread
    within = sum(r[2] <= 2 * r[0] for r in rows)
    return {"images": a["images"], "tensors": len(rows), "pred": med(0), "true": med(1),
            "diff": med(2), "within": within, "flagged": sum(r[3] for r in rows)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--qcal", default="./qcal")
    p.add_argument("--calib", default="data/calib")
    p.add_argument("--val", default="data/val")
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--methods", default="minmax,avg,avgstd,meanstd")
    p.add_argument("models", nargs="+")
    o = p.parse_args()
    print("| model | method | tensors | predicted spread (median) | true spread, %d disjoint val subsets (median) "
          "| calib vs val difference (median) | difference ≤ 2 × predicted | flagged at 5 %% |" % o.k)
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for model in o.models:
        for method in o.methods.split(","):
            r = measure(o.qcal, model, method, o.calib, o.val, o.k)
            print(f"| {model.split('/')[-1]} | {method} | {r['tensors']} | {100 * r['pred']:.2f} % | "
                  f"{100 * r['true']:.2f} % | {100 * r['diff']:.2f} % | {r['within']}/{r['tensors']} | "
                  f"{r['flagged']} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
