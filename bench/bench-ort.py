#!/usr/bin/env python3
"""qcal against ONNX Runtime on the same machine, in one run (`make bench-ort`).

    PYTHON bench/bench-ort.py --qcal QCAL --qgemm BENCH_QGEMM --models DIR --out DIR
                              [--rounds N] [--runs N] [--gemm-rounds N] [--images N] [--smoke]

PYTHON has onnx and onnxruntime (the venv of tools/install-deps.sh). DIR holds resnet18.onnx
and mobilenet_v2.onnx (tools/make-bench-models.py). Into --out it writes the calibration
images (224x224 RGB PNG, synthetic, from a fixed seed) with a model card beside each model,
qcal's default export (`qcal quantize MODEL IMAGES -o Q.onnx`, no other flag), qcal's
QOperator export, ONNX Runtime's own `quantize_static` file (U8S8: uint8 activations, int8
weights per channel, QDQ, MinMax over the same images), and results.json, one object per figure.

Before timing, it checks that both runtimes see the same input tensors: qcal's FP32 scores
of every calibration image (`qcal eval --predictions --scores`) against ONNX Runtime's on the
arrays the PNGs were written from, preprocessed by the card's formula.

Timing: every figure is taken in rounds; in each round qcal and ONNX Runtime run in turn, so
that load from other jobs falls on both alike; a figure is the median over rounds of each
round's median (and the minimum). Single-thread figures run pinned to one CPU. A ratio is
always qcal's time ÷ ONNX Runtime's (below 1: qcal is faster); each line carries the target
of the project's performance issue and pass/miss, for information only: the exit status never
depends on speed.
"""
import argparse
import json
import logging
import os
import platform
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np

try:
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization import calibrate as ort_calibrate
    from onnxruntime.quantization.shape_inference import quant_pre_process
except ImportError as e:
    print("bench-ort: skipped (%s; tools/install-deps.sh makes the venv with onnx and onnxruntime)" % e)
    sys.exit(0)

logging.getLogger().setLevel(logging.ERROR)  # quantize_static's advice to pre-process: done

MODELS = ["resnet18", "mobilenet_v2"]
SIZE = 224
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
GEMM_SHAPES = ["1024x1024x1024", "3136x64x576", "784x128x1152", "64x1000x512"]  # the large ones
QGEMM_WIDEST = ["amx", "avx512vnni", "avxvnni", "avx2", "scalar"]  # the dispatcher's order of preference
PEAK_OF_KERNEL = {"amx": "int8_peak_tdpbusd_amx", "avx512vnni": "int8_peak_vpdpbusd_512", "avxvnni": "int8_peak_vpdpbusd_256",
                  "avx2": "int8_peak_vpmaddubsw"}


# ---------------------------------------------------------------- machine and processes

def cpu_name():
    """The model name /proc/cpuinfo gives, with vendor, family, model and the int8 features
    (a virtual machine may show a generic name)."""
    info = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            if ":" in line:
                key, value = (part.strip() for part in line.split(":", 1))
                info.setdefault(key, value)
    flags = [f for f in ("avx2", "avx_vnni", "avx512bw", "avx512_vnni", "amx_int8") if f in info.get("flags", "").split()]
    return "%s (%s family %s model %s%s; %s)" % (
        info.get("model name", platform.processor() or "unknown CPU"), info.get("vendor_id", "?"),
        info.get("cpu family", "?"), info.get("model", "?"),
        ", virtual" if "hypervisor" in info.get("flags", "").split() else "", " ".join(flags))


def load_average():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


ALL_CPUS = sorted(os.sched_getaffinity(0))
PINNED = {ALL_CPUS[-1]}


def use_cpus(cpus):
    """This thread (and what it starts) runs on cpus."""
    os.sched_setaffinity(0, cpus)


def run(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


def timed_run(*args):
    t = time.perf_counter()
    run(*args)
    return time.perf_counter() - t


# ---------------------------------------------------------------- images and cards

def write_png(path, rgb):
    """An 8-bit RGB PNG, no filter (enough for files this script reads back only through qcal)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def synthetic_images(n, seed=0):
    """n smooth 224x224 RGB images: low-frequency waves, a gradient and some noise, so that
    activations have natural-looking ranges rather than white noise's."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    images = []
    for _ in range(n):
        img = np.zeros((SIZE, SIZE, 3), np.float32)
        for c in range(3):
            for _ in range(4):
                fx, fy, ph = rng.uniform(0.5, 6), rng.uniform(0.5, 6), rng.uniform(0, 6.3)
                img[:, :, c] += rng.uniform(0.2, 1) * np.sin(2 * np.pi * (fx * xx + fy * yy) + ph)
            img[:, :, c] += rng.uniform(-1, 1) * (xx - 0.5) * 2
        img += rng.normal(0, 0.15, img.shape).astype(np.float32)
        lo, hi = img.min(), img.max()
        images.append(np.clip((img - lo) / (hi - lo) * 255 + 0.5, 0, 255).astype(np.uint8))
    return images


def preprocess(rgb):
    """The card's preprocessing as qcal applies it: (p * scale - mean) / std in float32, NCHW."""
    x = rgb.astype(np.float32).transpose(2, 0, 1)
    scale = np.float32(1.0 / 255.0)
    mean = np.array(MEAN, np.float32).reshape(3, 1, 1)
    std = np.array(STD, np.float32).reshape(3, 1, 1)
    return ((x * scale - mean) / std)[None]


def prepare_inputs(out, n):
    """PNGs for qcal, the same pixels preprocessed for ONNX Runtime."""
    img_dir = os.path.join(out, "calib")
    os.makedirs(img_dir, exist_ok=True)
    for old in os.listdir(img_dir):  # a previous run's, perhaps more images
        os.remove(os.path.join(img_dir, old))
    images = synthetic_images(n)
    names = []
    for i, rgb in enumerate(images):
        names.append(os.path.join(img_dir, "%03d.png" % i))
        write_png(names[-1], rgb)
    return img_dir, names, [preprocess(rgb) for rgb in images]


def write_card(model_path, name):
    """The model card qcal reads beside model_path: the preprocessing of every file here."""
    card = {"qcal": 1, "name": name,
            "preprocess": {"color": "rgb", "size": [SIZE, SIZE], "scale": 1.0 / 255.0, "mean": MEAN, "std": STD}}
    with open(model_path[:-len(".onnx")] + ".json", "w") as f:
        json.dump(card, f, indent=1)


def place_model(models_dir, out, name):
    """out/NAME.onnx (a link to the generated model) with its model card beside it."""
    path = os.path.join(out, name + ".onnx")
    target = os.path.abspath(os.path.join(models_dir, name + ".onnx"))
    if os.path.islink(path) and os.readlink(path) != target:
        os.remove(path)  # a link left by a build elsewhere, perhaps dangling
    if not os.path.lexists(path):
        os.symlink(target, path)
    write_card(path, name)
    return path


# ---------------------------------------------------------------- ONNX Runtime sessions

def session(path, threads=1, optimize=True):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def one_thread_calibrator_session(self):
    """quantize_static's calibrator runs on as many threads as the machine has; the figures
    compare one thread with one thread (its graph optimization stays off, as the original)."""
    self.infer_session = session(self.augmented_model_path, 1, optimize=False)


ort_calibrate.CalibraterBase.create_inference_session = one_thread_calibrator_session


class Reader(CalibrationDataReader):
    def __init__(self, input_name, tensors):
        self.feeds = iter([{input_name: t} for t in tensors])

    def get_next(self):
        return next(self.feeds, None)


def ort_latency_ms(sess, x, runs):
    """(median, minimum) wall-clock ms of one input, and the median of this thread's CPU time
    (with one intra-op thread ONNX Runtime computes on the calling thread)."""
    name = sess.get_inputs()[0].name
    for _ in range(3):
        sess.run(None, {name: x})
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.thread_time()
        sess.run(None, {name: x})
        wall.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.thread_time() - c) * 1e3)
    return statistics.median(wall), min(wall), statistics.median(cpu)


def ort_quantize(model, tensors, out_path, tmp):
    """ONNX Runtime's own static INT8 file as its documentation makes it: quant_pre_process
    (shape inference, graph optimization), then quantize_static with U8S8 (uint8 activations,
    int8 weights per channel), QDQ, MinMax."""
    pre = os.path.join(tmp, "pre.onnx")
    quant_pre_process(model, pre)
    quantize_static(pre, out_path, Reader("input", tensors), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                    calibrate_method=CalibrationMethod.MinMax)


def ort_minmax_calibration_s(model, tensors, tmp):
    """Wall time of quantize_static's MinMax calibrator over tensors: augment the graph, run
    every input, reduce the ranges."""
    t = time.perf_counter()
    cal = ort_calibrate.create_calibrator(model, None, os.path.join(tmp, "augmented.onnx"),
                                          calibrate_method=CalibrationMethod.MinMax)
    cal.collect_data(Reader("input", tensors))
    cal.compute_data()
    return time.perf_counter() - t


def matmul_integer_model(m, n, k, path):
    """MatMulInteger(A uint8 [m,k] input, B int8 [k,n] constant, a_zero_point 7) -> int32."""
    rng = np.random.default_rng(1)
    # 7-bit weights (ONNX Runtime's reduce_range): its kernels compute them exactly on every x86
    # CPU (without VNNI its u8 x s8 GEMM saturates int16 pairs at full range), so the check of
    # the result holds everywhere; the time does not depend on the values
    b = rng.integers(-64, 65, (k, n), dtype=np.int8)
    node = helper.make_node("MatMulInteger", ["A", "B", "a_zp"], ["C"])
    graph = helper.make_graph([node], "mmi", [helper.make_tensor_value_info("A", TensorProto.UINT8, [m, k])],
                              [helper.make_tensor_value_info("C", TensorProto.INT32, [m, n])],
                              [onnx.numpy_helper.from_array(b, "B"),
                               onnx.numpy_helper.from_array(np.array(7, np.uint8), "a_zp")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return b


def ort_gemm_gmacs(sess, a, macs, min_run_s=0.05, runs=7):
    """GMAC/s, the median of runs runs, each repeating the call for at least min_run_s."""
    sess.run(None, {"A": a})
    reps, t = 1, 0.0
    while True:
        t = time.perf_counter()
        for _ in range(reps):
            sess.run(None, {"A": a})
        t = time.perf_counter() - t
        if t >= min_run_s:
            break
        reps *= 2
    rates = []
    for _ in range(runs):
        t = time.perf_counter()
        for _ in range(reps):
            sess.run(None, {"A": a})
        rates.append(macs * reps / (time.perf_counter() - t) / 1e9)
    return statistics.median(rates)


# ---------------------------------------------------------------- set-up

def check_same_tensors(qcal, model, img_dir, tensors, tmp):
    """qcal's FP32 scores of every image against ONNX Runtime's on tensors: equal inputs give
    scores equal to float rounding; any difference in decoding or preprocessing would not."""
    pred = os.path.join(tmp, "scores.tsv")
    run(qcal, "eval", "--quiet", "--threads", "1", "--predictions", pred, "--scores", model, img_dir)
    sess = session(model)
    worst = 0.0
    with open(pred) as f:
        lines = sorted(line.rstrip("\n").split("\t") for line in f)
    if len(lines) != len(tensors):
        sys.exit("bench-ort: qcal scored %d images, %d written" % (len(lines), len(tensors)))
    for fields, x in zip(lines, tensors):
        q = np.array([float(v) for v in fields[3].split()], np.float32)
        o = sess.run(None, {"input": x})[0].ravel()
        worst = max(worst, float(np.max(np.abs(q - o)) / (np.max(np.abs(o)) + 1e-12)))
    if worst > 1e-3:
        sys.exit("bench-ort: qcal and ONNX Runtime do not see the same inputs for %s (scores differ by %.3g "
                 "of their range)" % (model, worst))
    return worst


def prepare_files(a, name, img_dir, tensors, tmp):
    """The FP32 model (with its card), qcal's default and QOperator exports, ORT's own file."""
    model = place_model(a.models, a.out, name)
    files = {"fp32": model,
             "qcal": os.path.join(a.out, name + "-qcal.onnx"),
             "qcal_qop": os.path.join(a.out, name + "-qcal-qoperator.onnx"),
             "ort": os.path.join(a.out, name + "-ort-u8s8.onnx")}
    run(a.qcal, "quantize", "--quiet", model, img_dir, "-o", files["qcal"])
    run(a.qcal, "quantize", "--quiet", "--format", "qoperator", model, img_dir, "-o", files["qcal_qop"])
    ort_quantize(model, tensors, files["ort"], tmp)
    write_card(files["ort"], name)
    try:  # qcal running ONNX Runtime's file, when it can load it
        run(a.qcal, "eval", "--quiet", "--limit", "2", files["ort"], img_dir)
    except subprocess.CalledProcessError as e:
        print("  qcal cannot run %s: %s" % (files["ort"], (e.stderr or "").strip().splitlines()[-1:]))
        files["ort_in_qcal"] = None
    else:
        files["ort_in_qcal"] = files["ort"]
    return files


# ---------------------------------------------------------------- measuring, in rounds

def qcal_latency(d):
    """(median, minimum) wall-clock ms of one input and the median thread CPU time, from qcal
    bench --json's fp32 or int8"""
    return d["latency_ms"], d["wall_ms"]["min"], d["thread_cpu_ms"]["median"]


def qcal_bench(a, model, int8, threads=1):
    return json.loads(run(a.qcal, "bench", model, "--int8", int8, "--runs", a.runs, "--batch", "1",
                          "--threads", threads, "--json"))


def latency_round(a, name, files, sessions, x, samples):
    """One round of every latency figure of one model, qcal and ORT alternating."""
    def add(key, value):
        samples.setdefault((name, key), []).append(value)
    use_cpus(PINNED)
    d = qcal_bench(a, files["fp32"], files["qcal"])
    add("qcal_fp32", qcal_latency(d["fp32"]))
    add("qcal_int8_own", qcal_latency(d["int8"]))
    add("ort_fp32", ort_latency_ms(sessions["fp32"], x, a.runs))
    add("ort_int8_own", ort_latency_ms(sessions["ort"], x, a.runs))
    add("qcal_int8_qop", qcal_latency(qcal_bench(a, files["fp32"], files["qcal_qop"])["int8"]))
    add("ort_int8_qcal_file", ort_latency_ms(sessions["qcal"], x, a.runs))
    if files["ort_in_qcal"]:
        add("qcal_int8_ort_file", qcal_latency(qcal_bench(a, files["fp32"], files["ort_in_qcal"])["int8"]))
    if name == "resnet18":  # 2 threads vs 1, on both CPUs
        use_cpus(set(ALL_CPUS))
        add("load_threads", load_average())
        add("qcal_int8_own_2t", qcal_latency(qcal_bench(a, files["fp32"], files["qcal"], 2)["int8"]))
        add("ort_int8_own_2t", ort_latency_ms(sessions["ort_2t"], x, a.runs))
        use_cpus(PINNED)
        add("qcal_int8_own_1t", qcal_latency(qcal_bench(a, files["fp32"], files["qcal"], 1)["int8"]))
        add("ort_int8_own_1t", ort_latency_ms(sessions["ort"], x, a.runs))


def calibration_round(a, name, files, img_dir, tensors, tmp, samples):
    """qcal stats (whole process: load, decode, preprocess, observe, write) and ORT's MinMax
    calibrator (augment, run the arrays, reduce), one thread each, images/s."""
    use_cpus(PINNED)
    s = timed_run(a.qcal, "stats", "--quiet", "--threads", "1", files["fp32"], img_dir, "-o", os.path.join(tmp, "s.json"))
    samples.setdefault((name, "qcal_stats_ips"), []).append(len(tensors) / s)
    t = ort_minmax_calibration_s(files["fp32"], tensors, tmp)
    samples.setdefault((name, "ort_calib_ips"), []).append(len(tensors) / t)


def gemm_round(a, tmp, samples):
    """bench_qgemm (its own peaks and kernels), then ORT's MatMulInteger on the same shapes."""
    use_cpus(PINNED)
    for line in run(a.qgemm, "--json").splitlines():
        d = json.loads(line)
        samples.setdefault(("gemm", d["name"] + "@" + d["shape"]), []).append(d)
    for shape in GEMM_SHAPES:
        m, n, k = (int(v) for v in shape.split("x"))
        path = os.path.join(tmp, "mmi-%s.onnx" % shape)
        b = matmul_integer_model(m, n, k, path)
        sess = session(path)
        rng = np.random.default_rng(2)
        a_u8 = rng.integers(0, 256, (m, k), dtype=np.uint8)
        if shape == GEMM_SHAPES[-1]:  # the model computes what it is meant to
            ref = (a_u8.astype(np.int64) - 7) @ b.astype(np.int64)
            if not np.array_equal(sess.run(None, {"A": a_u8})[0], ref):
                sys.exit("bench-ort: MatMulInteger %s differs from numpy" % shape)
        samples.setdefault(("gemm", "ort@" + shape), []).append(ort_gemm_gmacs(sess, a_u8, m * n * k))


# ---------------------------------------------------------------- figures

def figure(what, model, qcal, ort_value, unit, ratio, target, ok, note="", extra=None):
    """One figure; qcal and ort are medians; extra: the minima and CPU times of a latency."""
    f = {"figure": what, "model": model, "qcal": qcal, "ort": ort_value, "unit": unit,
         "ratio": round(ratio, 3) if ratio is not None else None, "target": target,
         "status": None if ok is None else ("pass" if ok else "miss"), "note": note,
         "qcal_min": None, "ort_min": None, "qcal_cpu": None, "ort_cpu": None, "ratio_cpu": None}
    f.update(extra or {})
    return f


def latency(samples):
    """The median over rounds of each round's median, the least run of all rounds, and the
    median over rounds of the thread CPU time's medians."""
    return (med([m for m, _, _ in samples]), round(min(lo for _, lo, _ in samples), 3),
            med([c for _, _, c in samples]))


def med(xs):
    return round(statistics.median(xs), 3)


def gemm_figures(samples):
    out = []
    for shape in GEMM_SHAPES:
        kernel = next((k for k in QGEMM_WIDEST if ("gemm", "qgemm_%s@%s" % (k, shape)) in samples), None)
        if kernel is None:
            continue
        runs = samples[("gemm", "qgemm_%s@%s" % (kernel, shape))]
        q = med([d["median"] for d in runs])
        peak_key = ("gemm", PEAK_OF_KERNEL.get(kernel, "") + "@")
        peak = med([d["median"] for d in samples[peak_key]]) if peak_key in samples else None
        frac = med([d.get("vs_width_peak", 0) for d in runs])
        out.append(figure("INT8 GEMM %s, qcal qgemm (%s) / its width's peak" % (shape, kernel), "-", q, None,
                          "GMAC/s", frac, ">= 0.85 of peak", frac >= 0.85,
                          "the register-only %s peak bench_qgemm measures for this width: %s GMAC/s"
                          % ({"amx": "tdpbusd", "avx2": "vpmaddubsw"}.get(kernel, "vpdpbusd"), peak)))
        o = med(samples[("gemm", "ort@" + shape)])
        out.append(figure("INT8 GEMM %s vs ORT MatMulInteger" % shape, "-", q, o, "GMAC/s", o / q, "<= 1.0",
                          o / q <= 1.0, "ORT / that peak: %.2f" % (o / peak) if peak else ""))
    return out


def latency_figures(name, s):
    """s: key -> samples of one model."""
    out = []

    def pair(what, qk, ok_, target, limit, note=""):
        if qk not in s or ok_ not in s:
            return
        (q, q_min, q_cpu), (o, o_min, o_cpu) = latency(s[qk]), latency(s[ok_])
        out.append(figure(what, name, q, o, "ms", q / o, target, q / o <= limit if limit else None, note,
                          {"qcal_min": q_min, "ort_min": o_min, "qcal_cpu": q_cpu, "ort_cpu": o_cpu,
                           "ratio_cpu": round(q_cpu / o_cpu, 3)}))
    pair("INT8 latency: qcal (own default export) vs ORT (own quantize_static U8S8 file)", "qcal_int8_own",
         "ort_int8_own", "<= 1.0 (stretch 0.8)", 1.0)
    pair("INT8 latency: qcal vs ORT, both on ORT's file", "qcal_int8_ort_file", "ort_int8_own", "-", None,
         "qcal running ORT's file")
    pair("FP32 latency: qcal vs ORT", "qcal_fp32", "ort_fp32", "<= 1.25", 1.25)
    pair("ORT running qcal's default export vs ORT's own file", "ort_int8_qcal_file", "ort_int8_own", "<= 1.1",
         1.1, "both columns are ORT's time; qcal = qcal's file")
    pair("QOperator vs QDQ in qcal (qcal's exports)", "qcal_int8_qop", "qcal_int8_own", "<= 1.0", 1.0,
         "qcal column: QOperator, ort column: QDQ, both run by qcal")
    if "qcal_stats_ips" in s:
        q, o = med(s["qcal_stats_ips"]), med(s["ort_calib_ips"])
        out.append(figure("Calibration images/s: qcal stats vs ORT MinMax calibrator", name, q, o, "images/s",
                          o / q, "<= 1.0", o / q <= 1.0, "1 thread each; ratio is time per image"))
    if "qcal_int8_own_2t" in s:
        q = latency(s["qcal_int8_own_1t"])[0] / latency(s["qcal_int8_own_2t"])[0]
        o = latency(s["ort_int8_own_1t"])[0] / latency(s["ort_int8_own_2t"])[0]
        out.append(figure("INT8 2 threads vs 1, batch 1 (speed-up)", name, round(q, 3), round(o, 3), "x",
                          None, ">= 1.5 (qcal)", q >= 1.5,
                          "latency with 1 / 2 intra-op threads, qcal and ORT alike; "
                          "load average %.1f" % med(s["load_threads"])))
    return out


def dash(value):
    return "-" if value is None else value


def print_table(cpu, figures, load_start, load_end):
    print("\nqcal vs ONNX Runtime %s on %s; load average %.1f at start, %.1f at end" %
          (ort.__version__, cpu, load_start, load_end))
    print("ratio = qcal time / ORT time (below 1: qcal faster), of wall-clock medians; CPU ratio: of the "
          "thread CPU time's; targets informational\n")
    row = "%-80s %-13s %10s %10s %9s %9s %-9s %7s %7s  %-20s %s"
    print(row % ("figure", "model", "qcal", "ORT", "qcal min", "ORT min", "unit", "ratio", "CPU", "target",
                 "status"))
    for f in figures:
        r = "%.2f" % f["ratio"] if f["ratio"] is not None else "-"
        rc = "%.2f" % f["ratio_cpu"] if f["ratio_cpu"] is not None else "-"
        print(row % (f["figure"], f["model"], f["qcal"], dash(f["ort"]), dash(f["qcal_min"]), dash(f["ort_min"]),
                     f["unit"], r, rc, f["target"], f["status"] or "-"))
        if f["note"]:
            print("    (%s)" % f["note"])


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qcal", required=True)
    ap.add_argument("--qgemm", required=True, help="bench_qgemm")
    ap.add_argument("--models", required=True, help="folder of resnet18.onnx and mobilenet_v2.onnx")
    ap.add_argument("--out", required=True)
    ap.add_argument("--rounds", type=int, default=5, help="rounds of the latency figures")
    ap.add_argument("--runs", type=int, default=15, help="timed runs per latency in a round")
    ap.add_argument("--gemm-rounds", type=int, default=3)
    ap.add_argument("--calib-rounds", type=int, default=3)
    ap.add_argument("--images", type=int, default=32, help="calibration images")
    ap.add_argument("--smoke", action="store_true", help="one short round of everything (checks the script)")
    ap.add_argument("--check", action="store_true", help="the files and the same-input check only, no timing")
    a = ap.parse_args()
    if a.smoke or a.check:
        a.rounds, a.runs, a.gemm_rounds, a.calib_rounds, a.images = 1, 2, 1, 1, 4
    return a


def set_up(a, tmp):
    """Images, files and the same-input check of every model; ONNX Runtime's sessions unless --check
    (made on every CPU, so that the 2-thread one's worker may run on the other)."""
    img_dir, _, tensors = prepare_inputs(a.out, a.images)
    files, sessions = {}, {}
    for name in MODELS:
        files[name] = prepare_files(a, name, img_dir, tensors, tmp)
        worst = check_same_tensors(a.qcal, files[name]["fp32"], img_dir, tensors, tmp)
        print("  %s: qcal and ORT FP32 scores agree to %.1e of their range on %d images (same inputs); "
              "qcal %s ORT's file" % (name, worst, len(tensors), "runs" if files[name]["ort_in_qcal"] else "cannot run"))
        if not a.check:
            sessions[name] = {k: session(files[name][k]) for k in ("fp32", "qcal", "ort")}
            sessions[name]["ort_2t"] = session(files[name]["ort"], 2)
    return img_dir, tensors, files, sessions


def measure(a, tmp, img_dir, tensors, files, sessions):
    samples = {}
    for r in range(max(a.rounds, a.gemm_rounds, a.calib_rounds)):
        if r < a.gemm_rounds:
            gemm_round(a, tmp, samples)
        for name in MODELS:
            if r < a.rounds:
                latency_round(a, name, files[name], sessions[name], tensors[0], samples)
            if r < a.calib_rounds:
                calibration_round(a, name, files[name], img_dir, tensors, tmp, samples)
        print("  round %d done (load average %.1f)" % (r + 1, load_average()), file=sys.stderr)
    use_cpus(set(ALL_CPUS))
    return samples


def main():
    a = parse_args()
    os.makedirs(a.out, exist_ok=True)
    cpu, load_start = cpu_name(), load_average()
    print("bench-ort: %s, ONNX Runtime %s, pinned to CPU %s" % (cpu, ort.__version__, min(PINNED)))
    with tempfile.TemporaryDirectory(prefix="bench-ort.", dir=a.out) as tmp:
        img_dir, tensors, files, sessions = set_up(a, tmp)
        if a.check:
            return 0
        samples = measure(a, tmp, img_dir, tensors, files, sessions)
    figures = gemm_figures(samples)
    for name in MODELS:
        figures += latency_figures(name, {k: v for (m, k), v in samples.items() if m == name})
    load_end = load_average()
    for f in figures:
        f.update(cpu=cpu, onnxruntime=ort.__version__, load_average_start=load_start, load_average_end=load_end,
                 rounds=a.rounds, runs=a.runs)
    print_table(cpu, figures, load_start, load_end)
    results = os.path.join(a.out, "results.json")
    with open(results + ".tmp", "w") as f:
        json.dump(figures, f, indent=1)
    os.replace(results + ".tmp", results)
    print("\none JSON object per figure: %s" % results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
