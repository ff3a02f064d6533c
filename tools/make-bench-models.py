#!/usr/bin/python3
"""Export the benchmark models ResNet-18 and MobileNetV2 (torchvision, random weights) to ONNX.

    /usr/bin/python3 tools/make-bench-models.py OUT_DIR

writes OUT_DIR/resnet18.onnx and OUT_DIR/mobilenet_v2.onnx: input 1x3x224x224 float
(batch dimension dynamic), opset 13, eval mode; the exporter folds each BatchNormalization
into the convolution before it. Weights come from torch.manual_seed(0) and the BatchNorm
statistics are set from a fixed generator before the export, so the activations have
realistic ranges; running the script twice writes the same files. The files are large and generated,
so they go to a build folder at bench time and are never committed (`make bench` does this).
Exit status 3 when torch or torchvision is missing (the Makefile then reports "skipped").
"""
import os
import sys
import warnings

try:
    import torch
    import torchvision
except ImportError as e:
    print(f"make-bench-models: {e}", file=sys.stderr)
    sys.exit(3)

MODELS = {
    "resnet18": lambda: torchvision.models.resnet18(),
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(),
}


def randomize_batchnorm(model, gen):
    """Running mean and variance away from the identity, like a trained network's."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)


def export(name, out_dir):
    torch.manual_seed(0)
    model = MODELS[name]()
    randomize_batchnorm(model, torch.Generator().manual_seed(1))
    model.eval()
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    path = os.path.join(out_dir, name + ".onnx")
    tmp = path + ".tmp"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, x, tmp, opset_version=13, do_constant_folding=True,
                          training=torch.onnx.TrainingMode.EVAL,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    os.replace(tmp, path)  # never leave a half-written model behind
    return path


def main():
    if len(sys.argv) != 2:
        print("usage: make-bench-models.py OUT_DIR", file=sys.stderr)
        return 2
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for name in MODELS:
        print(export(name, out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
