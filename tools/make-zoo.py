#!/usr/bin/python3
"""Write the model zoo: torchvision architectures nobody here designed, for differential tests.

    /usr/bin/python3 tools/make-zoo.py OUT_DIR [NAME...]

writes into OUT_DIR (every file written to a temporary name, then renamed):

  calib/NNN.png, val/NNN.png   64 and 128 synthetic 64x64 RGB images from a fixed seed:
                               gradients, discs, rectangles, stripes, checkers and noise
  val.npy                      the validation images as every zoo model sees them, float32
                               N x 3 x 64 x 64, x = (p * scale - mean) / std in float32 in
                               exactly that order (io/preprocess.c), in sorted file order
  NAME.onnx                    untrained weights (torch.manual_seed per model), BatchNorm
                               running statistics set by the calibration images in train mode,
                               then exported in eval mode: input 3x64x64 with a dynamic batch
                               dimension, opset 13, 10 classes
  NAME.json                    its model card (README "Model cards": 64x64, rgb, 1/255,
                               ImageNet's mean and std)
  NAME.labels                  "NNN.png label" per validation image, the label the FP32 model's
                               own argmax (PyTorch's), for `qcal eval --labels`
  resnet18_dynamic.onnx        resnet18.onnx quantized by ONNX Runtime's own
                               onnxruntime.quantization.quantize_dynamic (defaults but
                               reduce_range: 7-bit int8 weights; DynamicQuantizeLinear, ConvInteger, MatMulInteger,
                               Cast, Mul), with its card and labels (its own argmax in ONNX
                               Runtime, one image per run). quantize_dynamic needs the onnx
                               package beside onnxruntime: it runs in the venv that
                               tools/install-deps.sh makes ($QCAL_VENV, else /opt/qcal-venv,
                               else ~/.cache/qcal-venv); without one, this model is skipped
                               (said on stderr), never a failure.

Exported ops qcal does not support are expected: the zoo checker lists those models as
unsupported. Running the script twice writes the same files. Exit status 3 when torch or
torchvision is missing (the Makefile then reports "skipped").
"""
import json
import os
import subprocess
import sys
import warnings

try:
    import numpy as np
    import torch
    import torchvision
    from PIL import Image
except ImportError as e:
    print(f"make-zoo: {e}", file=sys.stderr)
    sys.exit(3)

SIZE = 64
CLASSES = 10
N_CALIB = 64
N_VAL = 128
SCALE = 1.0 / 255.0
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]

tvm = torchvision.models


def small_vit():
    model = torchvision.models.vision_transformer.VisionTransformer(
        image_size=SIZE, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128,
        num_classes=CLASSES)
    # torchvision zeroes the classification head (for fine-tuning): every logit would be 0 and
    # the end-to-end comparison would see nothing; a Linear's own initialisation instead
    model.heads.head.reset_parameters()
    return model


class Conv2dSame(torch.nn.Conv2d):
    """A convolution with TensorFlow's "same" padding computed from x.shape at run time, as
    the EfficientNet-Lite ports write it: the export pads through Shape, arithmetic,
    ConstantOfShape, Slice, Cast and Pad before the Conv."""

    def forward(self, x):
        ih, iw = x.shape[-2:]  # traced: 0-d tensors, so the arithmetic is exported
        pads = []
        for size, k, s, d in ((iw, self.kernel_size[1], self.stride[1], self.dilation[1]),
                              (ih, self.kernel_size[0], self.stride[0], self.dilation[0])):
            total = (size + s - 1) // s * s - s + (k - 1) * d + 1 - size
            total = torch.clamp(total, min=0) if torch.is_tensor(total) else max(total, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(torch.nn.functional.pad(x, pads))


def tf_same(model):
    """Every convolution larger than 1x1 or strided becomes a Conv2dSame (same weights)."""
    for name, m in list(model.named_children()):
        if isinstance(m, torch.nn.Conv2d) and (m.kernel_size != (1, 1) or m.stride != (1, 1)):
            c = Conv2dSame(m.in_channels, m.out_channels, m.kernel_size, m.stride, 0, m.dilation,
                           m.groups, m.bias is not None)
            c.load_state_dict(m.state_dict())
            setattr(model, name, c)
        else:
            tf_same(m)
    return model


MODELS = {
    "resnet18": lambda: tvm.resnet18(num_classes=CLASSES),
    "resnet50": lambda: tvm.resnet50(num_classes=CLASSES),
    "mobilenet_v2": lambda: tvm.mobilenet_v2(num_classes=CLASSES),
    "mobilenet_v3_small": lambda: tvm.mobilenet_v3_small(num_classes=CLASSES),
    "efficientnet_b0": lambda: tvm.efficientnet_b0(num_classes=CLASSES),
    "squeezenet1_1": lambda: tvm.squeezenet1_1(num_classes=CLASSES),
    "shufflenet_v2_x0_5": lambda: tvm.shufflenet_v2_x0_5(num_classes=CLASSES),
    "googlenet": lambda: tvm.googlenet(num_classes=CLASSES, aux_logits=False, init_weights=True),
    "densenet121": lambda: tvm.densenet121(num_classes=CLASSES),
    "regnet_y_400mf": lambda: tvm.regnet_y_400mf(num_classes=CLASSES),
    "mnasnet0_5": lambda: tvm.mnasnet0_5(num_classes=CLASSES),
    "convnext_tiny": lambda: tvm.convnext_tiny(num_classes=CLASSES),
    "vit_tiny": small_vit,
    "efficientnet_b0_tfsame": lambda: tf_same(tvm.efficientnet_b0(num_classes=CLASSES)),
}


# Models another tool derives from a zoo model: name -> the model it is made from.
DERIVED = {"resnet18_dynamic": "resnet18"}

# Run by the venv's interpreter: quantize_dynamic, then the labels (the quantized model's own
# argmax, one image per run as qcal runs it: DynamicQuantizeLinear's range is per run).
DYNAMIC_SCRIPT = r'''
import sys, numpy as np, onnxruntime as ort
from onnxruntime.quantization import quantize_dynamic
src, dst, val, labels = sys.argv[1:5]
# 7-bit int8 weights ([-64, 64]): ONNX Runtime then computes exact integers on every x86 CPU (without
# VNNI its u8 x s8 GEMM saturates int16 pairs of products), so its run stays the reference
quantize_dynamic(src, dst, reduce_range=True)
so = ort.SessionOptions()
so.intra_op_num_threads = 2
s = ort.InferenceSession(dst, so, providers=["CPUExecutionProvider"])
x = np.load(val)
name = s.get_inputs()[0].name
with open(labels, "w") as f:
    for i in range(len(x)):
        f.write("%d\n" % int(s.run(None, {name: x[i:i + 1]})[0].argmax()))
print(ort.__version__)
'''


def venv_python():
    """The interpreter of the venv with onnx and onnxruntime, or None."""
    places = [os.environ.get("QCAL_VENV"), "/opt/qcal-venv", os.path.expanduser("~/.cache/qcal-venv")]
    for venv in filter(None, places):
        py = os.path.join(venv, "bin", "python")
        if os.access(py, os.X_OK) and subprocess.run(
                [py, "-c", "import onnx, onnxruntime.quantization"], capture_output=True).returncode == 0:
            return py
    return None


def derive_dynamic(name, out_dir):
    """NAME.onnx from its source by ONNX Runtime's quantize_dynamic; False when skipped."""
    py = venv_python()
    if not py:
        print("make-zoo: %s: skipped: no venv with onnx and onnxruntime (tools/install-deps.sh makes "
              "/opt/qcal-venv, or set QCAL_VENV)" % name, file=sys.stderr)
        return False
    source = os.path.join(out_dir, DERIVED[name])
    path = os.path.join(out_dir, name + ".onnx")
    labels_tmp = path + ".labels.tmp"
    try:
        run = subprocess.run([py, "-c", DYNAMIC_SCRIPT, source + ".onnx", path + ".tmp",
                              os.path.join(out_dir, "val.npy"), labels_tmp],
                             capture_output=True, text=True, check=True)
    except subprocess.CalledProcessError as e:
        print("make-zoo: %s: quantize_dynamic failed: %s" % (name, e.stderr.strip()[-400:]), file=sys.stderr)
        sys.exit(1)
    os.replace(path + ".tmp", path)
    with open(labels_tmp) as f:
        labels = [int(l) for l in f]
    os.remove(labels_tmp)
    with open(source + ".json") as f:
        card = json.load(f)
    card["name"] = name
    card["made_by"] = "tools/make-zoo.py (%s quantized by onnxruntime %s quantize_dynamic)" % (
        DERIVED[name], run.stdout.strip())
    write_atomic(os.path.join(out_dir, name + ".json"), lambda p: write_json(p, card))
    write_atomic(os.path.join(out_dir, name + ".labels"), lambda p: write_label_file(
        p, labels, "the quantized model's own argmax (ONNX Runtime, one image per run)"))
    return True


def write_json(p, card):
    with open(p, "w") as f:
        json.dump(card, f, indent=1)
        f.write("\n")


def write_label_file(p, labels, comment):
    with open(p, "w") as f:
        f.write("# %s\n" % comment)
        for i, label in enumerate(labels):
            f.write("%03d.png %d\n" % (i, label))


def synthetic_image(rng):
    """One structured 64x64 RGB image: a gradient background, then shapes and a texture."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) / (SIZE - 1)
    img = np.empty((SIZE, SIZE, 3))
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xx + np.sin(angle) * yy
    for c in range(3):
        a, b = rng.uniform(0, 255, 2)
        img[..., c] = a + (b - a) * (ramp - ramp.min()) / max(np.ptp(ramp), 1e-9)
    for _ in range(rng.integers(1, 5)):
        colour = rng.uniform(0, 255, 3)
        kind = rng.integers(0, 4)
        cx, cy = rng.uniform(0, 1, 2)
        r = rng.uniform(0.08, 0.35)
        if kind == 0:  # disc
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        elif kind == 1:  # rectangle
            mask = (abs(xx - cx) < r) & (abs(yy - cy) < rng.uniform(0.05, 0.3))
        elif kind == 2:  # stripes inside a disc
            f = rng.uniform(4, 16)
            mask = ((xx - cx) ** 2 + (yy - cy) ** 2 < 2 * r * r) & (np.sin(2 * np.pi * f * (xx + yy * rng.uniform(-1, 1))) > 0)
        else:  # checker inside a square
            k = rng.integers(3, 10)
            mask = (abs(xx - cx) < r) & (abs(yy - cy) < r) & (((xx * k).astype(int) + (yy * k).astype(int)) % 2 == 0)
        img[mask] = colour
    img += rng.normal(0, rng.uniform(0, 12), img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def write_atomic(path, write):
    tmp = path + ".tmp"
    write(tmp)
    os.replace(tmp, path)  # never leave a half-written file behind


def write_images(out_dir, name, n, rng):
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    pixels = []
    for i in range(n):
        img = synthetic_image(rng)
        write_atomic(os.path.join(d, "%03d.png" % i), lambda p: Image.fromarray(img, "RGB").save(p, format="PNG"))
        pixels.append(img)
    return np.stack(pixels)  # already in sorted file order


def preprocess(pixels):
    """What qcal feeds the model: (p * scale - mean) / std in float32, NCHW."""
    x = pixels.astype(np.float32).transpose(0, 3, 1, 2)
    scale = np.float32(SCALE)
    mean = np.array(MEAN, dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.array(STD, dtype=np.float32).reshape(1, 3, 1, 1)
    return ((x * scale - mean) / std).astype(np.float32)


def calibrate_batchnorm(model, x):
    """BatchNorm running statistics from the images: a cumulative average in train mode."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for i in range(0, len(x), 16):
            model(x[i:i + 16])
    model.eval()


def export(name, out_dir, calib, val):
    torch.manual_seed(0)
    model = MODELS[name]()
    calibrate_batchnorm(model, torch.from_numpy(calib))
    with torch.no_grad():
        labels = model(torch.from_numpy(val)).argmax(1).tolist()
    path = os.path.join(out_dir, name + ".onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_atomic(path, lambda p: torch.onnx.export(
            model, torch.from_numpy(val[:1]), p, opset_version=13, do_constant_folding=True,
            training=torch.onnx.TrainingMode.EVAL, input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}))
    card = {"qcal": 1, "name": name,
            "preprocess": {"color": "rgb", "size": [SIZE, SIZE], "scale": SCALE,
                           "mean": MEAN, "std": STD},
            "classes": ["class %d" % i for i in range(CLASSES)],
            "made_by": "tools/make-zoo.py (torchvision %s, untrained weights)" % torchvision.__version__}

    write_atomic(os.path.join(out_dir, name + ".json"), lambda p: write_json(p, card))
    write_atomic(os.path.join(out_dir, name + ".labels"), lambda p: write_label_file(p, labels, "the FP32 model's own argmax (PyTorch)"))
    return path, len(set(labels))


def main():
    if len(sys.argv) < 2:
        print("usage: make-zoo.py OUT_DIR [NAME...]", file=sys.stderr)
        return 2
    out_dir = sys.argv[1]
    names = sys.argv[2:] or list(MODELS) + list(DERIVED)
    unknown = [n for n in names if n not in MODELS and n not in DERIVED]
    if unknown:
        print("make-zoo: unknown model %s (known: %s)" % (unknown[0], " ".join(list(MODELS) + list(DERIVED))),
              file=sys.stderr)
        return 2
    # a derived model after its source, which is written too
    sources = [DERIVED[n] for n in names if n in DERIVED and DERIVED[n] not in names]
    names = [n for n in sources + names if n in MODELS] + [n for n in names if n in DERIVED]
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(2)
    rng = np.random.default_rng(20261206)
    calib = preprocess(write_images(out_dir, "calib", N_CALIB, rng))
    val = preprocess(write_images(out_dir, "val", N_VAL, rng))

    def write_val(p):
        with open(p, "wb") as f:
            np.save(f, val)

    write_atomic(os.path.join(out_dir, "val.npy"), write_val)
    for name in names:
        if name in DERIVED:
            if derive_dynamic(name, out_dir):
                print("%s (quantize_dynamic of %s)" % (os.path.join(out_dir, name + ".onnx"), DERIVED[name]))
            continue
        path, classes = export(name, out_dir, calib, val)
        print("%s (%d classes predicted)" % (path, classes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
