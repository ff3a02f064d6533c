#!/usr/bin/python3
"""Train the bundled Fashion-MNIST models and export them to ONNX.

Models (all FP32, input `input` [N,1,28,28], output `logits` [N,10], opset 13):
  lenet      LeNet-style CNN
  resnet     small ResNet, BatchNorm folded into the convolutions by the exporter
  resnet-bn  the same trained ResNet, exported with its BatchNormalization nodes
  mobilenet  MobileNetV2-style net (inverted residuals, ReLU6 as Clip), BatchNorm folded

For each model it writes models/NAME.onnx, the model card models/NAME.json and
tests/data/reference/NAME-val-first16.txt (FP32 logits of the first 16 images of data/val).
The reference accuracy in the card is measured on the 10,000 test images as PNG files
written by tools/make-data.py --full (data/test-full/, made on demand), read back with PIL.

Usage: /usr/bin/python3 tools/train-models.py [--only lenet,resnet,mobilenet]
"""
import argparse
import collections
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import warnings

import numpy as np
import onnx
from onnx import numpy_helper
from PIL import Image
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20240611
MEAN = 0.2860
STD = 0.3530
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
ALLOWED_OPS = {"Conv", "Gemm", "MatMul", "Add", "Relu", "Clip", "MaxPool", "AveragePool",
               "GlobalAveragePool", "Flatten", "Reshape", "Constant", "Shape", "Gather",
               "Unsqueeze", "Concat", "Identity"}

# Epochs and learning rates per model, chosen to fit the whole run in about 20 minutes
# on two cores. crop: random-crop padding in pixels (0: none); every model also gets
# random horizontal flips.
CONFIG = {
    "lenet": dict(epochs=8, lr=2e-3, wd=1e-4, crop=2),
    "resnet": dict(epochs=10, lr=3e-3, wd=1e-4, crop=0),
    "mobilenet": dict(epochs=10, lr=3e-3, wd=1e-4, crop=0),
}
BATCH = 128


def keep_freed_memory():
    """Ask glibc to keep freed blocks instead of returning them to the kernel: PyTorch
    frees and reallocates the same activation buffers every step, and the page faults on
    freshly mapped memory otherwise cost a noticeable share of the training time."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)  # the largest value glibc accepts
        libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
    except OSError:
        pass


def load_make_data():
    spec = importlib.util.spec_from_file_location(
        "make_data", os.path.join(ROOT, "tools", "make-data.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def preprocess(pixels):
    """uint8 pixels [N,28,28] -> float32 [N,1,28,28]: (p * (1/255) - mean) / std."""
    x = pixels.astype(np.float32) * np.float32(1.0 / 255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return x.reshape(-1, 1, 28, 28)


# ----------------------------------------------------------------------------- models

class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)   # 28x28
        self.conv2 = nn.Conv2d(16, 32, 5)             # 14x14 -> 10x10
        self.fc1 = nn.Linear(32 * 5 * 5, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        # reshape(N, -1): exported as Shape/Gather/Unsqueeze/Concat/Reshape
        x = x.reshape(x.size(0), -1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def conv_bn(cin, cout, k, stride=1, groups=1):
    return [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout)]


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Sequential(*conv_bn(cin, cout, 1, stride))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x if self.proj is None else self.proj(x)
        return F.relu(y + s)


class ResNet(nn.Module):
    """stem 3x3/16 + maxpool (14x14) | stage1: 16 ch, 1 block, 14x14 |
    stage2: 32 ch, 2 blocks, the first stride 2 with a 1x1 projection, 7x7 |
    stage3: 64 ch, 1 block with a 1x1 projection (stride 1), 7x7 | GAP | FC."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2))
        self.stage1 = nn.Sequential(BasicBlock(16, 16))
        self.stage2 = nn.Sequential(BasicBlock(16, 32, 2), BasicBlock(32, 32))
        self.stage3 = nn.Sequential(BasicBlock(32, 64))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.stem(x)
        x = self.stage3(self.stage2(self.stage1(x)))
        return self.fc(self.flatten(self.pool(x)))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        layers = []
        if expand != 1:
            layers += conv_bn(cin, hidden, 1) + [nn.ReLU6()]
        layers += conv_bn(hidden, hidden, 3, stride, groups=hidden) + [nn.ReLU6()]
        layers += conv_bn(hidden, cout, 1)
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class MobileNet(nn.Module):
    """MobileNetV2-style: stem 3x3/16 (28x28) | inverted residual blocks (expansion t,
    channels c, repeats n, first stride s) = (1,16,1,2) (3,24,2,1) (3,32,2,2) (3,48,2,1),
    i.e. 14x14 then 7x7 | 1x1 conv to 128 | GAP | FC."""

    SETTING = [(1, 16, 1, 2), (3, 24, 2, 1), (3, 32, 2, 2), (3, 48, 2, 1)]

    def __init__(self):
        super().__init__()
        layers = conv_bn(1, 16, 3) + [nn.ReLU6()]
        cin = 16
        for t, c, n, s in self.SETTING:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers += conv_bn(cin, 128, 1) + [nn.ReLU6()]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc(self.flatten(self.pool(self.features(x))))


MODELS = {"lenet": LeNet, "resnet": ResNet, "mobilenet": MobileNet}


def count_macs(model):
    """Multiply-accumulates of one 1x28x28 image (Conv and Linear only)."""
    macs = [0]

    def conv_hook(m, inp, out):
        macs[0] += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def fc_hook(m, inp, out):
        macs[0] += m.in_features * m.out_features

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(fc_hook))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return macs[0]


# ----------------------------------------------------------------------------- training

def augment(xb, gen, pad):
    """Random crop with `pad` pixels of padding (the normalized value of pixel 0), if pad
    > 0, and random horizontal flip, on a normalized batch [B,1,28,28]."""
    b = xb.shape[0]
    out = xb
    if pad > 0:
        xp = F.pad(xb, (pad, pad, pad, pad), value=(0.0 - MEAN) / STD)
        dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
        dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
        ar = torch.arange(28)
        rows = (dy[:, None] + ar)[:, :, None]
        cols = (dx[:, None] + ar)[:, None, :]
        out = xp[torch.arange(b)[:, None, None], 0, rows, cols].unsqueeze(1)
    flip = torch.rand(b, generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def train(name, model, x_train, y_train, cfg, log):
    gen = torch.Generator().manual_seed(SEED + 1)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["wd"])
    n = x_train.shape[0]
    steps_per_epoch = (n + BATCH - 1) // BATCH
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg["lr"], total_steps=cfg["epochs"] * steps_per_epoch,
        pct_start=0.15)
    # channels-last memory layout: PyTorch's CPU depthwise convolution is several times
    # faster in it (mobilenet), and the other nets gain a little
    model.to(memory_format=torch.channels_last)
    t_all = time.time()
    for epoch in range(cfg["epochs"]):
        model.train()
        t0 = time.time()
        perm = torch.randperm(n, generator=gen)
        total_loss, correct = 0.0, 0
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            xb = augment(x_train[idx], gen, cfg["crop"]).contiguous(memory_format=torch.channels_last)
            yb = y_train[idx]
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
        log("  %s epoch %d/%d: loss %.4f, train top-1 %.4f, %.1f s"
            % (name, epoch + 1, cfg["epochs"], total_loss / n, correct / n, time.time() - t0))
    model.to(memory_format=torch.contiguous_format)
    model.eval()
    return time.time() - t_all


# ----------------------------------------------------------------------------- export

def export(model, path, keep_bn):
    """Export with a dynamic batch axis. keep_bn=False: TrainingMode.EVAL and constant
    folding (the exporter folds BatchNorm into Conv). keep_bn=True: TrainingMode.PRESERVE
    with the model in eval mode, which skips the exporter's Conv+BatchNorm fusion and
    writes BatchNormalization nodes in inference form."""
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    mode = torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL
    with warnings.catch_warnings():
        # PRESERVE warns about constant folding whatever the model's mode; the model is
        # in eval mode here, and the BatchNormalization parameters are checked below.
        warnings.filterwarnings("ignore", message="It is recommended that constant folding")
        torch.onnx.export(model, dummy, path, opset_version=13,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                          training=mode, do_constant_folding=True)
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    hist = collections.Counter(n.op_type for n in m.graph.node)
    allowed = ALLOWED_OPS | ({"BatchNormalization"} if keep_bn else set())
    bad = set(hist) - allowed
    if bad:
        raise SystemExit("%s: unexpected ops %s" % (path, sorted(bad)))
    if keep_bn:
        bns = [n for n in m.graph.node if n.op_type == "BatchNormalization"]
        if not bns:
            raise SystemExit("%s: no BatchNormalization node" % path)
        for n in bns:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            if len(n.output) != 1 or attrs.get("training_mode", 0) != 0:
                raise SystemExit("%s: BatchNormalization %s is in training form" % (path, n.name))
    elif "BatchNormalization" in hist:
        raise SystemExit("%s: BatchNormalization was not folded" % path)
    ins, outs = m.graph.input, m.graph.output
    assert [i.name for i in ins] == ["input"] and [o.name for o in outs] == ["logits"]
    assert ins[0].type.tensor_type.shape.dim[0].dim_param == "N"
    assert outs[0].type.tensor_type.shape.dim[0].dim_param == "N"
    return m, hist


# ----------------------------------------------------------------------------- numpy ONNX runner

def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _conv(x, w, b, at):
    group = at.get("group", 1)
    sh, sw = at.get("strides", [1, 1])
    pt, pl, pb, pr = at.get("pads", [0, 0, 0, 0])
    assert at.get("dilations", [1, 1]) == [1, 1]
    kh, kw = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    n, c, oh, ow = win.shape[:4]
    m = w.shape[0]
    if group == 1:
        y = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
    elif group == c and m == c:  # depthwise
        y = np.zeros((n, c, oh, ow), np.float32)
        for i in range(kh):
            for j in range(kw):
                y += win[:, :, :, :, i, j] * w[None, :, 0, i, j, None, None]
    else:
        cg, mg = c // group, m // group
        y = np.concatenate([
            np.tensordot(win[:, g * cg:(g + 1) * cg], w[g * mg:(g + 1) * mg],
                         axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
            for g in range(group)], axis=1)
    if b is not None:
        y = y + b[None, :, None, None]
    return y.astype(np.float32)


def _maxpool(x, at):
    kh, kw = at["kernel_shape"]
    sh, sw = at.get("strides", [1, 1])
    pt, pl, pb, pr = at.get("pads", [0, 0, 0, 0])
    assert at.get("ceil_mode", 0) == 0
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=-np.inf)
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return win.max(axis=(4, 5))


def run_onnx_numpy(model, x):
    """A small reference interpreter for the ops the bundled models use."""
    env = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    env[model.graph.input[0].name] = x
    for node in model.graph.node:
        at = _attrs(node)
        i = [env[name] if name else None for name in node.input]
        op = node.op_type
        if op == "Conv":
            y = _conv(i[0], i[1], i[2] if len(i) > 2 else None, at)
        elif op == "Gemm":
            a, b = i[0], i[1]
            if at.get("transA", 0):
                a = a.T
            if at.get("transB", 0):
                b = b.T
            y = at.get("alpha", 1.0) * (a @ b)
            if len(i) > 2 and i[2] is not None:
                y = y + at.get("beta", 1.0) * i[2]
        elif op == "MatMul":
            y = i[0] @ i[1]
        elif op == "Add":
            y = i[0] + i[1]
        elif op == "Relu":
            y = np.maximum(i[0], 0)
        elif op == "Clip":
            lo = i[1] if len(i) > 1 and i[1] is not None else -np.inf
            hi = i[2] if len(i) > 2 and i[2] is not None else np.inf
            y = np.minimum(np.maximum(i[0], lo), hi)
        elif op == "MaxPool":
            y = _maxpool(i[0], at)
        elif op == "GlobalAveragePool":
            y = i[0].mean(axis=(2, 3), keepdims=True)
        elif op == "BatchNormalization":
            xx, sc, bi, mu, var = i
            eps = at.get("epsilon", 1e-5)
            sh = (1, -1, 1, 1)
            y = (xx - mu.reshape(sh)) / np.sqrt(var.reshape(sh) + eps) * sc.reshape(sh) \
                + bi.reshape(sh)
        elif op == "Flatten":
            ax = at.get("axis", 1)
            y = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Reshape":
            shape = [d if d != 0 else i[0].shape[k] for k, d in enumerate(i[1].tolist())]
            y = i[0].reshape(shape)
        elif op == "Constant":
            y = numpy_helper.to_array(at["value"])
        elif op == "Shape":
            y = np.array(i[0].shape, np.int64)
        elif op == "Gather":
            y = np.take(i[0], i[1], axis=at.get("axis", 0))
        elif op == "Unsqueeze":
            y = i[0]
            for a in sorted(int(v) for v in i[1]):
                y = np.expand_dims(y, a)
        elif op == "Concat":
            y = np.concatenate(i, axis=at["axis"])
        elif op == "Identity":
            y = i[0]
        else:
            raise NotImplementedError(op)
        if isinstance(y, np.ndarray) and y.dtype == np.float64:
            y = y.astype(np.float32)
        env[node.output[0]] = y
    return env[model.graph.output[0].name]


# ----------------------------------------------------------------------------- evaluation

def read_image_folder(root):
    """(sorted relative paths, uint8 pixels [N,28,28], labels) of an ImageFolder tree."""
    paths, labels = [], []
    for ci, d in enumerate(sorted(os.listdir(root))):
        if not os.path.isdir(os.path.join(root, d)):
            continue
        assert int(d.split("_", 1)[0]) == ci, d
        for f in sorted(os.listdir(os.path.join(root, d))):
            if f.endswith(".png"):
                paths.append(d + "/" + f)
                labels.append(ci)
    pix = np.empty((len(paths), 28, 28), np.uint8)
    for k, p in enumerate(paths):
        im = Image.open(os.path.join(root, p))
        assert im.mode == "L" and im.size == (28, 28), p
        pix[k] = np.asarray(im)
    return paths, pix, np.array(labels)


def torch_logits(model, pixels, batch=500):
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(pixels), batch):
            out.append(model(torch.from_numpy(preprocess(pixels[i:i + batch]))).numpy())
    return np.concatenate(out)


def torch_release():
    """"1.13.0" for "1.13.0a0" (Debian's build), as the exporter's producer_version."""
    return re.match(r"[0-9.]*[0-9]", torch.__version__).group(0)


def write_card(name, correct, images):
    path = os.path.join(ROOT, "models", name + ".json")
    text = (
        '{ "qcal": 1, "name": "%s",\n'
        '  "preprocess": { "color": "gray", "size": [28, 28], "scale": %r, '
        '"mean": [%r], "std": [%r] },\n'
        '  "classes": [%s],\n'
        '  "fp32_top1": { "correct": %d, "images": %d, "fraction": %r },\n'
        '  "trained_by": "tools/train-models.py (PyTorch %s)" }\n'
        % (name, 1.0 / 255.0, MEAN, STD, ",".join(json.dumps(c) for c in CLASSES),
           correct, images, correct / images, torch_release()))
    json.loads(text)
    with open(path, "w") as f:
        f.write(text)


def write_reference(name, paths, logits):
    d = os.path.join(ROOT, "tests", "data", "reference")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name + "-val-first16.txt"), "w") as f:
        for p, row in zip(paths, logits):
            f.write("data/val/" + p + "\t" + "\t".join("%.9g" % v for v in row) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="lenet,resnet,mobilenet",
                    help="comma-separated subset of lenet,resnet,mobilenet")
    ap.add_argument("--epochs", type=int, help="override the epoch count (for trials)")
    ap.add_argument("--test-full", default=os.path.join(ROOT, "data", "test-full"),
                    help="folder of the 10,000 test PNGs (made by make-data.py --full)")
    args = ap.parse_args()

    keep_freed_memory()
    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True)

    def log(msg):
        print(msg, flush=True)

    md = load_make_data()
    tr_img, tr_lab = md.load("train")
    x_train = torch.from_numpy(preprocess(tr_img))
    y_train = torch.from_numpy(tr_lab.astype(np.int64))

    if not os.path.isdir(args.test_full):
        subprocess.check_call([sys.executable, os.path.join(ROOT, "tools", "make-data.py"),
                               "--full", args.test_full])
    test_paths, test_pix, test_lab = read_image_folder(args.test_full)
    assert len(test_paths) == 10000
    # the PNG pixels must be the IDX pixels
    te_img, te_lab = md.load("t10k")
    order = np.array([int(p[-9:-4]) for p in test_paths])
    assert np.array_equal(te_img[order], test_pix) and np.array_equal(te_lab[order], test_lab)
    val_paths, val_pix, _ = read_image_folder(os.path.join(ROOT, "data", "val"))

    for name in args.only.split(","):
        cfg = dict(CONFIG[name])
        if args.epochs:
            cfg["epochs"] = args.epochs
        torch.manual_seed(SEED)
        model = MODELS[name]()
        params = sum(p.numel() for p in model.parameters())
        log("%s: %d parameters, %d MACs per image" % (name, params, count_macs(model)))
        secs = train(name, model, x_train, y_train, cfg, log)
        log("%s: trained in %.0f s" % (name, secs))

        logits = torch_logits(model, test_pix)
        pred = np.argmax(logits, axis=1)  # first maximum: ties go to the lowest index
        correct = int((pred == test_lab).sum())
        log("%s: FP32 top-1 %d/10000 = %.4f" % (name, correct, correct / 10000))
        val_logits = torch_logits(model, val_pix[:16])

        variants = [(name, False)] + ([("resnet-bn", True)] if name == "resnet" else [])
        for vname, keep_bn in variants:
            path = os.path.join(ROOT, "models", vname + ".onnx")
            m, hist = export(model, path, keep_bn)
            log("%s: %s, %d bytes, ops %s" % (vname, os.path.relpath(path, ROOT),
                                               os.path.getsize(path),
                                               dict(sorted(hist.items()))))
            ref = np.concatenate([run_onnx_numpy(m, preprocess(test_pix[i:i + 500]))
                                  for i in range(0, 10000, 500)])
            ref_correct = int((np.argmax(ref, axis=1) == test_lab).sum())
            log("%s: numpy ONNX run: top-1 %d/10000, max |logit diff| vs PyTorch %.3g, "
                "%d argmax disagreements" % (vname, ref_correct, np.abs(ref - logits).max(),
                                             int((np.argmax(ref, 1) != pred).sum())))
            write_card(vname, correct, 10000)
            write_reference(vname, val_paths[:16], val_logits)
    return 0


if __name__ == "__main__":
    sys.exit(main())
