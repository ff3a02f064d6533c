#!/usr/bin/python3
"""PyTorch's own post-training static quantization of the bundled models: the reference
qcal's quantizer is compared against.

For each bundled model (lenet, resnet, mobilenet) the PyTorch module of
tools/train-models.py is rebuilt with its BatchNorms folded (as the exporter folded them),
the ONNX initializers are loaded into it in execution order, and its FP32 logits are
checked against the numpy ONNX interpreter of tools/train-models.py. Then, with PyTorch's
FX graph mode quantization and MinMax observers:

  activations  quint8, per tensor affine (MinMaxObserver, reduce_range off)
  weights      qint8, symmetric: per tensor (MinMaxObserver) or per output channel
               (PerChannelMinMaxObserver)

calibrated on data/calib (500 PNGs, the model card's preprocessing: (p * scale - mean) / std
in float32, as io/preprocess.c), and evaluated on the 10,000 Fashion-MNIST test images (the
IDX files of /usr/share/datasets/fashion-mnist, pixel for pixel data/test-full):

  fp32       the rebuilt FP32 module
  int8       the converted model on PyTorch's INT8 kernels, for each engine (onednn, the x86
             engine of PyTorch 1.13, and qnnpack)
  simulated  the same qconfig with FakeQuantize modules (prepare_qat_fx; observers run with
             fake quantization off, then frozen) -- dequant(quant(x)) in FP32. It does not
             depend on the engine.

Writes docs/pytorch-ptq.json and prints a table. About 3 minutes on two cores.

Usage: /usr/bin/python3 tools/ptq-reference.py [--only lenet,resnet,mobilenet] [-o FILE]
"""
import argparse
import copy
import importlib.util
import json
import os
import platform
import sys
import time
import warnings

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn
import torch.ao.quantization as tq
from torch.ao.quantization import QConfig, QConfigMapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx, prepare_qat_fx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = "qcal-pytorch-ptq"
SCHEMA_VERSION = 1
BATCH = 500
CHECK_IMAGES = 64
# FP32 logits of the rebuilt module against the ONNX graph: both are float32 programs
# with the same weights, only the summation order differs.
LOGIT_TOLERANCE = 1e-3


def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name.replace("-", "_"), os.path.join(ROOT, "tools", name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def preprocess(pixels, card):
    """uint8 [N,28,28] -> float32 [N,1,28,28] by the card's rule, in io/preprocess.c's order."""
    pp = card["preprocess"]
    assert pp["color"] == "gray" and pp["size"] == [28, 28], pp
    x = pixels.astype(np.float32) * np.float32(pp["scale"])
    x = (x - np.float32(pp["mean"][0])) / np.float32(pp["std"][0])
    return x.reshape(-1, 1, 28, 28)


# ----------------------------------------------------------------------------- rebuilding

def fold_batchnorm_modules(model):
    """BatchNorm2d -> Identity, and a bias on every Conv2d: the shape of the exported graph
    (the exporter folded each BatchNorm into the convolution before it)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                setattr(parent, name, nn.Identity())
            elif isinstance(child, nn.Conv2d) and child.bias is None:
                child.bias = nn.Parameter(torch.zeros(child.out_channels))
    return model


def execution_order(model):
    """Conv2d and Linear modules in the order forward() runs them."""
    order, hooks = [], []
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            hooks.append(m.register_forward_hook(lambda mod, i, o: order.append(mod)))
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    for h in hooks:
        h.remove()
    return order


def load_onnx_weights(model, onnx_model):
    """Copies each Conv/Gemm node's weight and bias into the module run at the same place."""
    inits = {t.name: numpy_helper.to_array(t) for t in onnx_model.graph.initializer}
    nodes = [n for n in onnx_model.graph.node if n.op_type in ("Conv", "Gemm")]
    mods = execution_order(model)
    if len(nodes) != len(mods):
        raise SystemExit("%d Conv/Gemm nodes but %d modules" % (len(nodes), len(mods)))
    for node, mod in zip(nodes, mods):
        w, b = inits[node.input[1]], inits[node.input[2]]
        if node.op_type == "Gemm":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            assert attrs.get("transB", 0) == 1 and attrs.get("transA", 0) == 0, node.name
        if tuple(mod.weight.shape) != w.shape or tuple(mod.bias.shape) != b.shape:
            raise SystemExit("node %s: weight %s does not fit module %s"
                             % (node.name, w.shape, tuple(mod.weight.shape)))
        with torch.no_grad():
            mod.weight.copy_(torch.from_numpy(w.copy()))
            mod.bias.copy_(torch.from_numpy(b.copy()))


def logits_of(model, x):
    out = []
    with torch.no_grad():
        for i in range(0, len(x), BATCH):
            out.append(model(torch.from_numpy(x[i:i + BATCH])).numpy())
    return np.concatenate(out)


# ----------------------------------------------------------------------------- quantization

def qconfig(per_channel, fake):
    act = tq.MinMaxObserver.with_args(dtype=torch.quint8, qscheme=torch.per_tensor_affine,
                                      reduce_range=False)
    if per_channel:
        wt = tq.PerChannelMinMaxObserver.with_args(dtype=torch.qint8, ch_axis=0,
                                                   qscheme=torch.per_channel_symmetric)
    else:
        wt = tq.MinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
    if fake:
        act = tq.FakeQuantize.with_args(observer=act, quant_min=0, quant_max=255)
        wt = tq.FakeQuantize.with_args(observer=wt, quant_min=-128, quant_max=127)
    return QConfig(activation=act, weight=wt)


def calibrate(model, calib_x):
    with torch.no_grad():
        for i in range(0, len(calib_x), BATCH):
            model(torch.from_numpy(calib_x[i:i + BATCH]))


def observed_scales(model):
    """Activation (scale, zero point) of every observer or FakeQuantize, by module name."""
    out = {}
    for name, m in model.named_modules():
        if isinstance(m, tq.FakeQuantize):
            m = m.activation_post_process
        if isinstance(m, tq.MinMaxObserver) and "weight" not in name:
            s, z = m.calculate_qparams()
            out[name.replace(".activation_post_process", "")] = (float(s), int(z))
    return out


def quantize_real(model, calib_x, per_channel, engine):
    torch.backends.quantized.engine = engine
    example = (torch.from_numpy(calib_x[:1]),)
    m = prepare_fx(copy.deepcopy(model).eval(),
                   QConfigMapping().set_global(qconfig(per_channel, False)), example)
    calibrate(m, calib_x)
    scales = observed_scales(m)
    return convert_fx(m), scales


def quantize_simulated(model, calib_x, per_channel):
    example = (torch.from_numpy(calib_x[:1]),)
    m = prepare_qat_fx(copy.deepcopy(model).train(),
                       QConfigMapping().set_global(qconfig(per_channel, True)), example)
    # observe unquantized tensors, exactly what the PTQ observers see, then freeze
    m.apply(tq.disable_fake_quant)
    m.apply(tq.enable_observer)
    calibrate(m, calib_x)
    m.apply(tq.disable_observer)
    m.apply(tq.enable_fake_quant)
    scales = observed_scales(m)
    return m.eval(), scales


# ----------------------------------------------------------------------------- main

def relu6_channels_last_error(engine):
    """Max error of the engine's quantized ReLU6 on a channels-last tensor (the layout the
    quantized convolutions return). PyTorch 1.13's qnnpack gets it wrong, which is what
    breaks its mobilenet (ReLU6 after every convolution); recorded so the numbers explain
    themselves."""
    torch.backends.quantized.engine = engine
    x = torch.quantize_per_tensor(torch.linspace(-2, 8, 96).reshape(2, 3, 4, 4), 0.05, 40,
                                  torch.quint8).contiguous(memory_format=torch.channels_last)
    y = torch.ao.nn.quantized.ReLU6()(x).dequantize()
    return float((y - x.dequantize().clamp(0, 6)).abs().max())


def top1(logits, labels):
    return int((np.argmax(logits, axis=1) == labels).sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="lenet,resnet,mobilenet")
    ap.add_argument("-o", "--output", default=os.path.join(ROOT, "docs", "pytorch-ptq.json"))
    args = ap.parse_args()

    torch.set_num_threads(2)
    warnings.filterwarnings("ignore", category=UserWarning)
    tm = load_tool("train-models")
    md = load_tool("make-data")

    _, calib_pix, _ = tm.read_image_folder(os.path.join(ROOT, "data", "calib"))
    test_pix, test_lab = md.load("t10k")
    test_lab = test_lab.astype(np.int64)
    engines = [e for e in ("onednn", "qnnpack") if e in torch.backends.quantized.supported_engines]
    if not engines:
        raise SystemExit("no quantized engine among %s" % torch.backends.quantized.supported_engines)

    result = {
        "format": SCHEMA, "version": SCHEMA_VERSION,
        "generated_by": "tools/ptq-reference.py",
        "torch": torch.__version__, "onnx": onnx.__version__, "numpy": np.__version__,
        "python": platform.python_version(),
        "method": "FX graph mode post-training static quantization, MinMax observers",
        "activations": "quint8 per tensor affine [0, 255], MinMaxObserver, reduce_range off",
        "weights": {"tensor": "qint8 per_tensor_symmetric [-128, 127], MinMaxObserver",
                    "channel": "qint8 per_channel_symmetric [-128, 127], "
                               "PerChannelMinMaxObserver, axis 0"},
        "simulated": "prepare_qat_fx with FakeQuantize over the same observers, observed "
                     "with fake quantization off, then frozen; engine-independent",
        "engines": engines,
        "engine_checks": {e: {"relu6_channels_last_max_error": relu6_channels_last_error(e)}
                          for e in engines},
        "calib": {"folder": "data/calib", "images": int(len(calib_pix))},
        "test": {"source": md.SRC + "/t10k-*-ubyte.gz (= data/test-full)",
                 "images": int(len(test_pix))},
        "models": [],
    }
    rows = []
    t_start = time.time()
    for name in args.only.split(","):
        with open(os.path.join(ROOT, "models", name + ".json")) as f:
            card = json.load(f)
        onnx_model = onnx.load(os.path.join(ROOT, "models", name + ".onnx"))
        model = fold_batchnorm_modules(tm.MODELS[name]()).eval()
        load_onnx_weights(model, onnx_model)
        calib_x = preprocess(calib_pix, card)
        test_x = preprocess(test_pix, card)

        ref = tm.run_onnx_numpy(onnx_model, test_x[:CHECK_IMAGES])
        fp32 = logits_of(model, test_x)
        diff = float(np.abs(ref - fp32[:CHECK_IMAGES]).max())
        if diff > LOGIT_TOLERANCE or not np.array_equal(ref.argmax(1), fp32[:CHECK_IMAGES].argmax(1)):
            raise SystemExit("%s: rebuilt module differs from the ONNX graph (max |diff| %g)"
                             % (name, diff))
        fp32_pred = fp32.argmax(1)
        fp32_correct = top1(fp32, test_lab)
        if fp32_correct != card["fp32_top1"]["correct"]:
            print("warning: %s: FP32 top-1 %d, the model card says %d"
                  % (name, fp32_correct, card["fp32_top1"]["correct"]), file=sys.stderr)
        entry = {"model": "models/%s.onnx" % name,
                 "fp32": {"correct": fp32_correct, "top1": fp32_correct / len(test_lab)},
                 "onnx_check": {"images": CHECK_IMAGES, "max_abs_logit_diff": diff},
                 "variants": []}
        rows.append((name, "fp32", "-", "-", fp32_correct, None, None))

        for gran in ("tensor", "channel"):
            per_channel = gran == "channel"
            sim_model, sim_scales = quantize_simulated(model, calib_x, per_channel)
            sim = logits_of(sim_model, test_x)
            sim_correct = top1(sim, test_lab)
            v = {"granularity": gran,
                 "simulated": {"correct": sim_correct, "top1": sim_correct / len(test_lab),
                               "agreement_fp32": float((sim.argmax(1) == fp32_pred).mean())},
                 "int8": {}}
            rows.append((name, "simulated", gran, "-", sim_correct,
                         v["simulated"]["agreement_fp32"], None))
            for engine in engines:
                q_model, q_scales = quantize_real(model, calib_x, per_channel, engine)
                q = logits_of(q_model, test_x)
                q_correct = top1(q, test_lab)
                # the FakeQuantize path must have observed the same activation ranges
                same = sorted(q_scales.values()) == sorted(sim_scales.values())
                v["int8"][engine] = {
                    "correct": q_correct, "top1": q_correct / len(test_lab),
                    "agreement_fp32": float((q.argmax(1) == fp32_pred).mean()),
                    "agreement_simulated": float((q.argmax(1) == sim.argmax(1)).mean()),
                    "activation_observers": len(q_scales),
                    "same_activation_qparams_as_simulated": same}
                rows.append((name, "int8", gran, engine, q_correct,
                             v["int8"][engine]["agreement_fp32"],
                             v["int8"][engine]["agreement_simulated"]))
            entry["variants"].append(v)
        result["models"].append(entry)
        print("%s done (%.0f s)" % (name, time.time() - t_start), file=sys.stderr, flush=True)

    tmp = args.output + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    os.replace(tmp, args.output)

    print("%-10s %-10s %-8s %-8s %8s %8s %9s %9s"
          % ("model", "kind", "weights", "engine", "top-1", "delta", "agree32", "agreesim"))
    base = {}
    for name, kind, gran, engine, correct, agree, agree_sim in rows:
        if kind == "fp32":
            base[name] = correct
        delta = "" if kind == "fp32" else "%+.2f" % ((correct - base[name]) / 100.0)
        print("%-10s %-10s %-8s %-8s %7.2f%% %8s %9s %9s"
              % (name, kind, gran, engine, correct / 100.0, delta,
                 "" if agree is None else "%.4f" % agree,
                 "" if agree_sim is None else "%.4f" % agree_sim))
    for e, c in result["engine_checks"].items():
        if c["relu6_channels_last_max_error"] > 0:
            print("note: %s's quantized ReLU6 is wrong on channels-last tensors (max error %g):"
                  " its models with ReLU6 (mobilenet) are not a reference"
                  % (e, c["relu6_channels_last_max_error"]))
    print("wrote %s" % os.path.relpath(args.output, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
