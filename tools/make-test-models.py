#!/usr/bin/python3
"""Write the test models that qcal has never been developed against.

1. tests/data/pytorch/<name>/  small random-weight CNNs exported by torch.onnx, in the ONNX
   backend-test layout:
       model.onnx
       test_data_set_0/input_0.pb   a random N(0,1) input, batch 2 (onnx TensorProto)
       test_data_set_0/output_0.pb  PyTorch's FP32 output for it (model in eval mode)
       test_data_set_1/...          batch 1, for a few models (dynamic batch)
   The conformance runner checks them: build/tests/conformance tests/data/pytorch
2. tests/data/onnx-bad/*.onnx       hostile model files the loader must reject (exit 3);
   tests/data/onnx-odd/*.onnx       odd but valid ones it must load (an empty INTS attribute).

Everything is seeded; running the script twice gives byte-identical files.  Run it with
Debian's interpreter, which has torch, torchvision and onnx:

    /usr/bin/python3 tools/make-test-models.py [--only NAME...] [--no-bad]

Two exporter limitations are worked around by one exact graph rewrite, fold_zero_pads():
torch.onnx writes nn.ZeroPad2d as a Pad node, and an AvgPool2d with count_include_pad=True
as Pad + AveragePool.  qcal does not run Pad, so a constant-zero Pad whose only consumer is a
Conv (or an AveragePool without padding or ceil_mode) is merged into that node's `pads`
(AveragePool then gets count_include_pad=1).  The result computes exactly what PyTorch
computed; the reference outputs are PyTorch's own.
"""
import argparse
import collections
import io
import os
import shutil
import sys
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_MODELS = os.path.join(ROOT, "tests", "data", "pytorch")
OUT_BAD = os.path.join(ROOT, "tests", "data", "onnx-bad")

# The ops qcal runs; a model written to tests/data/pytorch may use nothing else.
SUPPORTED = {
    "Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "Clip",
    "Sigmoid", "MaxPool", "AveragePool", "GlobalAveragePool", "BatchNormalization", "Concat",
    "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Softmax", "Identity",
    "Dropout", "Constant", "Shape", "Gather",
    # the math ops (graph/ops-math.c)
    "LogSoftmax", "Hardmax", "Tanh", "Erf", "Gelu", "Sqrt", "Reciprocal", "Exp", "Log", "Neg",
    "Abs", "Floor", "Ceil", "Sin", "Cos", "HardSigmoid", "HardSwish", "Elu", "Selu", "Celu",
    "Softplus", "Softsign", "Mish", "ThresholdedRelu", "PRelu", "Pow", "Min", "Max", "Sum",
    "Mean", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor",
    "Not", "Where", "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
    "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp", "ArgMax",
    "ArgMin", "LayerNormalization", "InstanceNormalization", "GroupNormalization", "Einsum",
    # the shape and data-movement ops (graph/ops-shape.c, ops-resize.c, ops-convtranspose.c)
    "Pad", "Slice", "Split", "Cast", "Tile", "Expand", "ConstantOfShape", "Range", "Size", "ConvTranspose", "Resize", "DepthToSpace",
}

# The conformance runner's tolerance.  Every output element must be reproducible far inside
# it: PyTorch's FP32 output has to agree with the same model run in FP64 within MARGIN times
# the tolerance, so that a correct FP32 implementation (different summation order) passes.
RTOL, ATOL, MARGIN = 1e-3, 1e-7, 0.05


# ---------------------------------------------------------------------------------------------
# Models.  Each builder returns an nn.Module; shapes are NCHW.


class SimpleOpset7(nn.Module):
    """Opset 7: Conv, Relu, Clip (ReLU6, attribute form), MaxPool, Flatten, Gemm."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc1 = nn.Linear(4 * 5 * 5, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu6(self.conv(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


class LeNet5AvgPool(nn.Module):
    """LeNet-5 (1998 style): sigmoid activations and average pooling."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        # count_include_pad=False: without it the exporter writes a zero Pad before each pool
        # (same values here, there is no padding).
        self.pool = nn.AvgPool2d(2, count_include_pad=False)
        self.fc1 = nn.Linear(16 * 5 * 5, 48)
        self.fc2 = nn.Linear(48, 32)
        self.fc3 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.pool(torch.sigmoid(self.conv1(x)))
        x = self.pool(torch.sigmoid(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = torch.sigmoid(self.fc1(x))
        x = torch.sigmoid(self.fc2(x))
        return self.fc3(x)


class VGGTiny(nn.Module):
    """3x3 convolutions, MaxPool with ceil_mode (and padding), Flatten, Dropout, Gemm."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2, ceil_mode=True),                       # 15 -> 8
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),  # 8 -> 5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.5),
            nn.Linear(16 * 5 * 5, 32), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(32, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                      nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.down is None else self.down(x)))


class ResNetTiny(nn.Module):
    """Residual Add, BatchNorm after every conv (folded by the exporter), GlobalAveragePool."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(8), nn.ReLU())
        self.block1 = BasicBlock(8, 8, 1)
        self.block2 = BasicBlock(8, 16, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.block2(self.block1(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


def conv_bn(cin, cout, k, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, c, expand):
        super().__init__()
        h = c * expand
        self.body = nn.Sequential(conv_bn(c, h, 1), conv_bn(h, h, 3, groups=h),
                                  conv_bn(h, c, 1, act=False))

    def forward(self, x):
        return x + self.body(x)


class MobileNetTiny(nn.Module):
    """Depthwise separable convolutions, ReLU6 and Hardtanh (Clip), an inverted residual."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(3, 8, 3, stride=2),            # 16 -> 8
            conv_bn(8, 8, 3, groups=8),            # depthwise
            conv_bn(8, 16, 1),                     # pointwise
            InvertedResidual(16, 2),
            conv_bn(16, 16, 3, stride=2, groups=16, act=False),  # depthwise, stride 2
            nn.Hardtanh(-2.0, 2.0),
            conv_bn(16, 24, 1),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(24, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class InceptionTiny(nn.Module):
    """Four branches (1x1, 1x1-3x3, 1x1-5x5, avgpool-1x1) joined by a channel Concat."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                  nn.MaxPool2d(3, stride=2, padding=1))   # 16 -> 8
        self.b1 = nn.Sequential(nn.Conv2d(8, 4, 1), nn.ReLU())
        self.b2 = nn.Sequential(nn.Conv2d(8, 4, 1), nn.ReLU(),
                                nn.Conv2d(4, 6, 3, padding=1), nn.ReLU())
        self.b3 = nn.Sequential(nn.Conv2d(8, 2, 1), nn.ReLU(),
                                nn.Conv2d(2, 4, 5, padding=2), nn.ReLU())
        self.b4 = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
                                nn.Conv2d(8, 4, 1), nn.ReLU())
        self.post = nn.AvgPool2d(3, stride=2, ceil_mode=True, count_include_pad=False)  # 8 -> 4
        self.fc = nn.Linear(18 * 4 * 4, 10)

    def forward(self, x):
        x = self.stem(x)
        x = torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)
        return self.fc(torch.flatten(self.post(x), 1))


class Dilated(nn.Module):
    """Dilation, strides, per-axis and per-side (asymmetric) conv padding, padded pools."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, dilation=2, padding=2)                      # 20x17
        self.c2 = nn.Conv2d(8, 8, (3, 5), stride=2, padding=(1, 2))              # 10x9
        self.pad = nn.ZeroPad2d((0, 1, 1, 0))   # left 0, right 1, top 1, bottom 0: folded
        self.c3 = nn.Conv2d(8, 8, 2)                                             # 10x9
        self.c4 = nn.Conv2d(8, 8, 3, stride=(2, 1), dilation=(1, 2), padding=0)  # 4x5
        self.pool1 = nn.AvgPool2d(3, stride=1, padding=1)  # count_include_pad=True: folded
        # ceil_mode at opset 9: the exporter adds end padding (count_include_pad=0) instead
        self.pool2 = nn.AvgPool2d(2, stride=2, ceil_mode=True, count_include_pad=False)  # 2x3
        self.fc = nn.Linear(8 * 2 * 3, 10)

    def forward(self, x):
        x = F.relu(self.c1(x))
        x = F.hardtanh(self.c2(x), -1.5, 1.5)
        x = F.relu(self.c3(self.pad(x)))
        x = F.relu6(self.c4(x))
        x = self.pool2(self.pool1(x))
        return self.fc(torch.flatten(x, 1))


class BNKept(nn.Module):
    """BatchNormalization nodes the exporter cannot fold: after a pool, after an Add, after
    a Linear (BatchNorm1d on N x C); Identity nodes from deduplicated initializers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn_pool = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn_add = nn.BatchNorm2d(8)
        self.fc1 = nn.Linear(8 * 6 * 6, 16)
        self.bn_fc = nn.BatchNorm1d(16)
        self.fc2 = nn.Linear(16, 10)

    def tie_statistics(self):
        """Give bn_add the running variance and scale of bn_pool: the exporter deduplicates
        initializers with equal values, which writes Identity nodes."""
        with torch.no_grad():
            self.bn_add.running_var.copy_(self.bn_pool.running_var)
            self.bn_add.weight.copy_(self.bn_pool.weight)

    def forward(self, x):
        x = self.bn_pool(F.max_pool2d(F.relu(self.conv1(x)), 2))
        x = F.relu(self.bn_add(x + self.conv2(x)))
        x = F.relu(self.bn_fc(self.fc1(torch.flatten(x, 1))))
        return self.fc2(x)


class ViewFlatten(nn.Module):
    """x.view(x.size(0), -1) (Shape, Gather, Unsqueeze, Concat, Reshape) and a Reshape to a
    constant shape with -1 in the batch position."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc1 = nn.Linear(4 * 5 * 5, 20)
        self.fc2 = nn.Linear(20, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = x.view(-1, 4, 5) * 2.0
        x = torch.flatten(x, 1)
        return self.fc2(x)


class SoftmaxHead(nn.Module):
    """LeakyRelu, Transpose (permute), MatMul with a weight parameter, Squeeze, Unsqueeze and
    a final Softmax."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.w1 = nn.Parameter(torch.randn(8, 12) / np.sqrt(8))
        self.b1 = nn.Parameter(torch.randn(12) * 0.1)
        self.w2 = nn.Parameter(torch.randn(12, 10) / np.sqrt(12))

    def forward(self, x):
        x = F.leaky_relu(self.conv(x), 0.1).permute(0, 2, 3, 1)           # N H W C
        x = F.leaky_relu(torch.matmul(x, self.w1) + self.b1, 0.2)
        x = F.adaptive_avg_pool2d(x.permute(0, 3, 1, 2), 1)               # N 12 1 1
        x = x.squeeze(-1).squeeze(-1).unsqueeze(1)                        # N 1 12
        x = torch.matmul(x, self.w2).squeeze(1)                           # N 10
        return torch.softmax(x * 2.0, dim=-1)


class BroadcastMath(nn.Module):
    """Per-channel scale and bias (Mul, Add), normalisation (Sub, Div), scalar constants and
    a squeeze-excitation style product of N x C x H x W by N x C x 1 x 1."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.scale = nn.Parameter(torch.rand(1, 8, 1, 1) + 0.5)
        self.shift = nn.Parameter(torch.randn(1, 8, 1, 1) * 0.3)
        self.mean = nn.Parameter(torch.randn(1, 8, 1, 1) * 0.2)
        self.std = nn.Parameter(torch.rand(1, 8, 1, 1) + 0.5)
        self.se = nn.Conv2d(8, 8, 1)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x) * self.scale + self.shift)
        x = x * torch.sigmoid(self.se(F.adaptive_avg_pool2d(x, 1)))
        x = (x - self.mean) / self.std
        x = x / 2.0 - 0.25
        x = F.relu(x - F.adaptive_avg_pool2d(x, 1) * 0.5)
        x = F.relu(self.conv2(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class SamePadTiny(nn.Module):
    """TensorFlow "same" padding computed from x.shape at run time, as EfficientNet-Lite ports
    do (Shape, Gather, Div, Mul, Sub, Max, ConstantOfShape, Concat, Reshape, Slice, Transpose,
    Cast, Pad before each strided or odd-sized convolution), then x.view(x.size(0), 2, -1)
    and Split, Slice with a step, Tile and a reflect Pad."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2)
        self.conv2 = nn.Conv2d(8, 8, 5, stride=2, groups=8)
        self.conv3 = nn.Conv2d(8, 8, 1)
        self.fc = nn.Linear(36, 10)

    @staticmethod
    def pad_same(x, k, s):
        ih, iw = x.shape[-2:]  # traced: 0-d tensors, so the arithmetic is exported

        def positive(v):
            return torch.clamp(v, min=0) if torch.is_tensor(v) else max(v, 0)
        pad_h = positive((ih + s - 1) // s * s - s + k - ih)
        pad_w = positive((iw + s - 1) // s * s - s + k - iw)
        return F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])

    def forward(self, x):
        x = F.relu(self.conv1(self.pad_same(x, 3, 2)))
        x = F.relu(self.conv2(self.pad_same(x, 5, 2)))
        x = F.pad(self.conv3(x), [1, 1, 1, 1], mode="reflect")
        a, b = x.view(x.size(0), 4, -1).split([3, 1], dim=1)
        y = a[:, :, ::2] + b.repeat(1, 3, 1)[:, :, 1::2]
        return self.fc(y.reshape(y.size(0), -1)[:, :36])


class DecoderTiny(nn.Module):
    """A decoder: ConvTranspose (groups, stride, padding, output_padding, dilation; a 1-d one
    too) and Resize from F.interpolate: nearest, bilinear (align_corners both ways), bicubic,
    and a DepthToSpace (PixelShuffle)."""

    def __init__(self):
        super().__init__()
        self.up1 = nn.ConvTranspose2d(3, 6, 3, stride=2, padding=1, output_padding=1, groups=3)
        self.up2 = nn.ConvTranspose2d(6, 8, 2, stride=1, dilation=2)
        self.up1d = nn.ConvTranspose1d(8, 4, 3, stride=3, padding=2)
        self.fc = nn.Linear(4 * 32, 10)

    def forward(self, x):
        x = F.relu(self.up1(x))                                                  # 6 x 10 x 10
        x = F.interpolate(x, scale_factor=0.5, mode="nearest")                   # 6 x 5 x 5
        x = F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=False)
        x = F.interpolate(x, size=(6, 5), mode="bilinear", align_corners=True)
        x = F.interpolate(x, scale_factor=1.5, mode="bicubic", align_corners=False)  # 9 x 7
        x = self.up2(x)                                                          # 8 x 11 x 9
        x = F.pixel_shuffle(x[:, :, :10, :8], 2)                                 # 2 x 20 x 16
        x = x.reshape(x.size(0), 8, -1)[:, :, :12]                               # 8 x 12
        x = self.up1d(x)                                                         # 4 x 32
        return self.fc(x.flatten(1))


class UnsupportedOps(nn.Module):
    """Round and a cumulative sum (CumSum): ops qcal does not run."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.conv2 = nn.Conv2d(4, 4, 3)
        self.fc = nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        x = torch.round(self.conv1(x))
        x = torch.cumsum(self.conv2(x), dim=3)
        return self.fc(torch.flatten(x, 1))


# name: (builder, opset, input shape (C, H, W), seed, also a batch-1 data set)
MODELS = collections.OrderedDict([
    ("simple-opset7",     (SimpleOpset7, 7, (1, 12, 12), 101, False)),
    ("lenet5-avgpool",    (LeNet5AvgPool, 9, (1, 28, 28), 102, False)),
    ("vgg-tiny",          (VGGTiny, 11, (3, 15, 15), 103, False)),
    ("resnet-tiny",       (ResNetTiny, 13, (3, 16, 16), 104, True)),
    ("mobilenet-tiny-op11", (MobileNetTiny, 11, (3, 16, 16), 105, False)),
    ("mobilenet-tiny-op13", (MobileNetTiny, 13, (3, 16, 16), 106, True)),
    ("inception-tiny",    (InceptionTiny, 11, (3, 16, 16), 107, False)),
    ("dilated",           (Dilated, 9, (3, 20, 17), 108, False)),
    ("bn-kept",           (BNKept, 9, (3, 12, 12), 109, True)),
    ("view-flatten",      (ViewFlatten, 13, (1, 12, 12), 110, True)),
    ("softmax-head",      (SoftmaxHead, 13, (3, 8, 8), 111, False)),
    ("broadcast-math",    (BroadcastMath, 11, (3, 10, 10), 112, False)),
    ("same-pad-tiny",     (SamePadTiny, 13, (3, 19, 18), 113, True)),
    ("decoder-tiny",      (DecoderTiny, 13, (3, 5, 5), 114, True)),
])

# Pre-activation scale per model: MobileNet's ReLU6/Hardtanh should actually clip.
PREACT_STD = {"mobilenet-tiny-op11": 3.0, "mobilenet-tiny-op13": 3.0, "dilated": 2.0}


# ---------------------------------------------------------------------------------------------
# Initialisation: PyTorch's default init shrinks activations layer after layer, and outputs
# near zero make a relative tolerance meaningless.  Scale each Conv/Linear (in execution
# order) so that its output over a calibration batch has the wanted standard deviation,
# and give every BatchNorm non-trivial statistics.


def randomize_batchnorm(model, gen):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.3)
                m.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.3)


def normalize_layers(model, x, std, last_std=2.0):
    layers = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: layers.append(mod))
             for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    order = list(collections.OrderedDict.fromkeys(layers))
    for i, layer in enumerate(order):
        target = last_std if i == len(order) - 1 else std
        for _ in range(2):
            seen = []
            h = layer.register_forward_hook(lambda mod, inp, out: seen.append(out))
            with torch.no_grad():
                model(x)
            h.remove()
            s = seen[-1].std().item()
            with torch.no_grad():
                layer.weight.mul_(target / s)
                if layer.bias is not None:
                    layer.bias.mul_(target / s)


# ---------------------------------------------------------------------------------------------
# ONNX helpers


def attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def set_attr(node, name, value):
    for i, a in enumerate(node.attribute):
        if a.name == name:
            del node.attribute[i]
            break
    node.attribute.extend([helper.make_attribute(name, value)])
    # keep attributes sorted by name, as the exporter writes them
    attrs = sorted(node.attribute, key=lambda a: a.name)
    del node.attribute[:]
    node.attribute.extend(attrs)


def constant_value(graph, name):
    """The value of tensor `name` if it is an initializer or a Constant node's output."""
    for t in graph.initializer:
        if t.name == name:
            return numpy_helper.to_array(t)
    for n in graph.node:
        if n.op_type == "Constant" and n.output[0] == name:
            return numpy_helper.to_array(attr(n, "value"))
    return None


def remove_if_unused(graph, name):
    if any(name in n.input for n in graph.node) or any(o.name == name for o in graph.output):
        return
    for i, t in enumerate(graph.initializer):
        if t.name == name:
            del graph.initializer[i]
            return
    for i, n in enumerate(graph.node):
        if n.op_type == "Constant" and n.output[0] == name:
            del graph.node[i]
            return


def fold_zero_pads(model):
    """Merge each constant-zero Pad into its only consumer (Conv, or AveragePool without pads
    and ceil_mode, which then counts the padding).  Returns the number of folded Pads."""
    g = model.graph
    folded = 0
    for pad in [n for n in g.node if n.op_type == "Pad"]:
        mode = attr(pad, "mode", b"constant")
        if mode not in (b"constant", "constant"):
            continue
        if len(pad.input) > 1:                       # opset 11+: pads (and value) are inputs
            pads = constant_value(g, pad.input[1])
            value = constant_value(g, pad.input[2]) if len(pad.input) > 2 and pad.input[2] else 0.0
        else:                                        # opset 2-10: attributes
            pads = attr(pad, "pads")
            value = attr(pad, "value", 0.0)
        if pads is None or value is None or float(np.asarray(value)) != 0.0:
            continue
        pads = [int(p) for p in np.asarray(pads).ravel()]
        if len(pads) != 8 or any(p < 0 for p in pads) or pads[0:2] != [0, 0] or pads[4:6] != [0, 0]:
            continue
        out = pad.output[0]
        users = [n for n in g.node if out in n.input]
        if len(users) != 1 or any(o.name == out for o in g.output):
            continue
        user = users[0]
        begin, end = pads[2:4], pads[6:8]
        old = attr(user, "pads", [0, 0, 0, 0])
        if user.op_type == "Conv":
            if attr(user, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                continue
            set_attr(user, "pads", [old[0] + begin[0], old[1] + begin[1],
                                    old[2] + end[0], old[3] + end[1]])
        elif user.op_type == "AveragePool":
            if any(old) or attr(user, "ceil_mode", 0):
                continue
            set_attr(user, "pads", begin + end)
            if any(begin + end):
                set_attr(user, "count_include_pad", 1)
        else:
            continue
        user.input[list(user.input).index(out)] = pad.input[0]
        g.node.remove(pad)
        for name in list(pad.input[1:]):
            if name:
                remove_if_unused(g, name)
        folded += 1
    return folded


def histogram(model):
    return collections.Counter(n.op_type for n in model.graph.node)


def export(model, x, opset):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, x, buf, opset_version=opset,
                          training=torch.onnx.TrainingMode.EVAL, do_constant_folding=True,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    return onnx.load_from_string(buf.getvalue())


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def tensor_bytes(arr, name):
    return numpy_helper.from_array(np.ascontiguousarray(arr), name).SerializeToString()


# ---------------------------------------------------------------------------------------------


def check_numerics(name, model, x, y32):
    """Every output element must be stable: FP32 vs FP64 far inside the runner's tolerance."""
    m64 = _copy_double(model)
    with torch.no_grad():
        y64 = m64(torch.from_numpy(x).double()).numpy()
    err = np.abs(y32.astype(np.float64) - y64)
    tol = ATOL + RTOL * np.abs(y64)
    worst = float(np.max(err / tol))
    small = float(np.mean(np.abs(y32) < 1e-3))
    if worst > MARGIN:
        raise SystemExit("%s: FP32 output is not stable enough (err/tol %.3g)" % (name, worst))
    return worst, small


def _copy_double(model):
    import copy
    m = copy.deepcopy(model).double()
    m.eval()
    return m


def make_model(name, out_root, verbose=True):
    builder, opset, chw, seed, batch1 = MODELS[name]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = builder()
    randomize_batchnorm(model, gen)
    if hasattr(model, "tie_statistics"):
        model.tie_statistics()
    model.eval()
    calib = torch.from_numpy(rng.standard_normal((16,) + chw, dtype=np.float32))
    normalize_layers(model, calib, PREACT_STD.get(name, 1.0))

    x = rng.standard_normal((2,) + chw, dtype=np.float32)
    onx = export(model, torch.from_numpy(x), opset)
    folded = fold_zero_pads(onx)
    onnx.checker.check_model(onx, full_check=True)
    ops = histogram(onx)
    bad = sorted(set(ops) - SUPPORTED)
    if bad:
        raise SystemExit("%s: unsupported ops in the export: %s" % (name, ", ".join(bad)))

    d = os.path.join(out_root, name)
    shutil.rmtree(d, ignore_errors=True)
    data = onx.SerializeToString()
    write(os.path.join(d, "model.onnx"), data)
    in_name = onx.graph.input[0].name
    out_name = onx.graph.output[0].name
    sets = [x]
    if batch1:
        sets.append(rng.standard_normal((1,) + chw, dtype=np.float32))
    notes = []
    for i, xi in enumerate(sets):
        with torch.no_grad():
            y = model(torch.from_numpy(xi)).numpy()
        worst, small = check_numerics(name, model, xi, y)
        notes.append("set %d: in %s out %s, max err/tol vs FP64 %.1e, |out|<1e-3: %.1f%%"
                     % (i, "x".join(map(str, xi.shape)), "x".join(map(str, y.shape)),
                        worst, 100 * small))
        sd = os.path.join(d, "test_data_set_%d" % i)
        write(os.path.join(sd, "input_0.pb"), tensor_bytes(xi, in_name))
        write(os.path.join(sd, "output_0.pb"), tensor_bytes(y.astype(np.float32), out_name))
    if verbose:
        print("%-20s opset %-2d %6d bytes%s" % (name, opset, len(data),
              ", %d Pad folded" % folded if folded else ""))
        print("    " + ", ".join("%s %d" % kv for kv in sorted(ops.items())))
        for n in notes:
            print("    " + n)
    return onx


# ---------------------------------------------------------------------------------------------
# Hostile files for the loader.  Each must make `qcal inspect FILE` exit 3 and name the file.


def tiny_valid_model():
    """Conv(1->2, 3x3) + Relu on 1x1x5x5; a few hundred bytes."""
    rng = np.random.default_rng(7)
    w = numpy_helper.from_array(rng.standard_normal((2, 1, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(2, np.float32), "b")
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", kernel_shape=[3, 3],
                          pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c"], ["y"], name="relu")],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 5, 5])],
        [w, b])
    return finish(g)


def finish(graph, opset=13):
    m = helper.make_model(graph, producer_name="qcal-tests",
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    return m


def vi(name, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def make_bad(out_root, verbose=True):
    files = collections.OrderedDict()

    files["empty.onnx"] = b""

    valid = tiny_valid_model()
    onnx.checker.check_model(valid, full_check=True)
    blob = valid.SerializeToString()
    files["truncated.onnx"] = blob[:len(blob) // 2]

    rng = np.random.default_rng(2024)
    while True:                      # random bytes that protobuf itself refuses to parse
        garbage = rng.integers(0, 256, 256, dtype=np.uint8).tobytes()
        try:
            onnx.ModelProto().ParseFromString(garbage)
        except Exception:
            break
    files["garbage.onnx"] = garbage

    files["text.onnx"] = (b"This is not an ONNX model.\n"
                          b"It is a plain text file that happens to end in .onnx.\n")

    m = onnx.ModelProto()
    m.ir_version = 7
    m.producer_name = "qcal-tests"
    m.opset_import.extend([helper.make_opsetid("", 13)])
    files["no-graph.onnx"] = m.SerializeToString()

    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["a"], name="relu"),
         helper.make_node("Add", ["a", "nowhere"], ["y"], name="add_dangling")],
        "dangling", [vi("x", [1, 4])], [vi("y", [1, 4])])
    files["dangling-input.onnx"] = finish(g).SerializeToString()

    w = TensorProto()
    w.name = "w"
    w.data_type = TensorProto.FLOAT
    w.dims.extend([2, 3])
    w.raw_data = b"\0" * 20                  # 5 floats for a 2x3 tensor
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul")],
                          "bad_initializer", [vi("x", [1, 2])], [vi("y", [1, 3])], [w])
    files["bad-initializer.onnx"] = finish(g).SerializeToString()

    w = TensorProto()
    w.name = "w"
    w.data_type = TensorProto.FLOAT
    w.dims.extend([-1, 4])
    w.float_data.extend([1.0, 2.0, 3.0, 4.0])
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                          "negative_dim", [vi("x", [1, 4])], [vi("y", [1, 4])], [w])
    files["negative-dim.onnx"] = finish(g).SerializeToString()

    w = numpy_helper.from_array(np.arange(4, dtype=np.float64), "w")
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                          "double", [vi("x", [1, 4], TensorProto.DOUBLE)],
                          [vi("y", [1, 4], TensorProto.DOUBLE)], [w])
    files["double-type.onnx"] = finish(g).SerializeToString()

    g = helper.make_graph(
        [helper.make_node("Add", ["x", "b"], ["a"], name="add_cycle"),
         helper.make_node("Relu", ["a"], ["b"], name="relu_cycle"),
         helper.make_node("Relu", ["b"], ["y"], name="relu_out")],
        "cycle", [vi("x", [1, 4])], [vi("y", [1, 4])])
    files["cycle.onnx"] = finish(g).SerializeToString()

    w = TensorProto()
    w.name = "w"
    w.data_type = TensorProto.FLOAT
    w.dims.extend([1000000, 1000000])        # 4 TB claimed, no data at all
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul")],
                          "huge", [vi("x", [1, 1000000])], [vi("y", [1, 1000000])], [w])
    files["huge-dims.onnx"] = finish(g).SerializeToString()

    torch.manual_seed(113)
    um = UnsupportedOps().eval()
    onx = export(um, torch.randn(2, 1, 8, 8), 13)
    onnx.checker.check_model(onx, full_check=True)
    ops = histogram(onx)
    assert {"Round", "CumSum"} <= set(ops), ops
    files["unsupported-ops.onnx"] = onx.SerializeToString()

    wconv = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv_bad_autopad",
                          kernel_shape=[3, 3], auto_pad="FOO")],
        "bad_attribute", [vi("x", [1, 1, 5, 5])], [vi("y", [1, 2, 5, 5])], [wconv])
    files["bad-attribute.onnx"] = finish(g).SerializeToString()

    # Sizes computed from a file: each once crashed, read out of bounds or ate the machine.
    big = 2 ** 60 + 49                       # 16 * big wraps to 784 in 64-bit arithmetic
    g = helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["r"], name="reshape_wraps"),
         helper.make_node("Softmax", ["r"], ["y"], name="softmax", axis=1)],
        "reshape_overflow", [vi("x", [1, 784])], [vi("y", [16, big])],
        [numpy_helper.from_array(np.array([16, big], np.int64), "shape")])
    files["reshape-overflow.onnx"] = finish(g).SerializeToString()

    g = helper.make_graph(
        [helper.make_node("AveragePool", ["x"], ["y"], name="pool_pads", kernel_shape=[3, 3],
                          pads=[10000, 10000, 10000, 10000])],
        "pool_pads", [vi("x", [1, 1, 4, 4])], [vi("y", [1, 1, 20002, 20002])])
    files["pool-huge-pads.onnx"] = finish(g).SerializeToString()

    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv_pads", kernel_shape=[3, 3],
                          pads=[2 ** 62, 0, 2 ** 62, 0])],
        "conv_pads", [vi("x", [1, 1, 5, 5])], [vi("y", [1, 2, 5, 5])], [wconv])
    files["conv-pads-2e62.onnx"] = finish(g).SerializeToString()

    g = helper.make_graph(
        [helper.make_node("Constant", [], [], name="constant_no_output",
                          value=numpy_helper.from_array(np.ones(3, np.float32), "v")),
         helper.make_node("Relu", ["x"], ["y"], name="relu")],
        "constant_no_output", [vi("x", [1, 4])], [vi("y", [1, 4])])
    files["constant-no-output.onnx"] = finish(g).SerializeToString()

    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                          "input_2e62", [vi("x", [1, 2 ** 62])], [vi("y", [1, 2 ** 62])])
    files["input-dim-2e62.onnx"] = finish(g).SerializeToString()

    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                          "input_40gb", [vi("x", [1, 1, 100000, 100000])],
                          [vi("y", [1, 1, 100000, 100000])])
    files["input-40gb.onnx"] = finish(g).SerializeToString()

    z = TensorProto()
    z.name = "z"
    z.data_type = TensorProto.FLOAT
    z.dims.extend([0, 2 ** 62, 2 ** 62])     # no elements, but its other dims overflow
    g = helper.make_graph(
        [helper.make_node("Flatten", ["z"], ["f"], name="flatten", axis=1),
         helper.make_node("Relu", ["x"], ["y"], name="relu")],
        "flatten_zero_huge", [vi("x", [1, 4])], [vi("y", [1, 4])], [z])
    files["flatten-zero-huge.onnx"] = finish(g).SerializeToString()

    pool = helper.make_node("MaxPool", ["x"], ["y"], name="pool_empty_pads", kernel_shape=[2, 2])
    empty = onnx.AttributeProto()
    empty.name = "pads"
    empty.type = onnx.AttributeProto.INTS    # an INTS attribute with no values at all
    pool.attribute.append(empty)
    g = helper.make_graph([pool], "empty_ints", [vi("x", [1, 1, 4, 4])], [vi("y", [1, 1, 3, 3])])
    odd = {"empty-ints-attribute.onnx": finish(g).SerializeToString()}  # valid: no pads
    odd_root = os.path.join(os.path.dirname(out_root), "onnx-odd")
    os.makedirs(odd_root, exist_ok=True)
    for fname, data in odd.items():
        write(os.path.join(odd_root, fname), data)

    os.makedirs(out_root, exist_ok=True)
    for fname, data in files.items():
        write(os.path.join(out_root, fname), data)
        if verbose:
            extra = ""
            if fname == "unsupported-ops.onnx":
                extra = "  (" + ", ".join("%s %d" % kv for kv in sorted(ops.items())) + ")"
            print("onnx-bad/%-22s %6d bytes%s" % (fname, len(data), extra))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="+", metavar="NAME", choices=list(MODELS),
                    help="write only these models")
    ap.add_argument("--no-bad", action="store_true", help="do not write tests/data/onnx-bad")
    ap.add_argument("--out", default=OUT_MODELS, help="models folder (default %(default)s)")
    ap.add_argument("--bad-out", default=OUT_BAD, help="hostile files folder (default %(default)s)")
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for name in args.only or MODELS:
        make_model(name, args.out)
    if not args.no_bad:
        make_bad(args.bad_out)


if __name__ == "__main__":
    sys.exit(main())
