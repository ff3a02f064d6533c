#!/usr/bin/python3
"""Write a small classifier with two inputs and two outputs, for tests/multi-io-test.sh.

    /usr/bin/python3 tests/make-multi-io.py OUT_DIR

writes into OUT_DIR:

  two.onnx          inputs 'features' (N x 4 float32, first) and 'image' (N x 3 x 16 x 16),
                    outputs 'logits' (N x 6, first) and 'embedding' (N x 8): a convolution,
                    global pooling, the features through a Linear added in, then two heads;
                    random weights (torch.manual_seed(0)), opset 13, dynamic batch
  features.npy      the constant for 'features', 1 x 4 float32
  images/NN.png     24 random 16 x 16 RGB images
  images.npy        the images as the model sees them, 24 x 3 x 16 x 16 float32
  logits.npy, embedding.npy   PyTorch's outputs on every image (sorted order) with that
                    constant, the images preprocessed as qcal's default does (p / 255)

Exit status 3 when torch, numpy or PIL is missing.
"""
import os
import sys
import warnings

try:
    import numpy as np
    import torch
    from PIL import Image
except ImportError as e:
    print(f"make-multi-io: {e}", file=sys.stderr)
    sys.exit(3)


class TwoInTwoOut(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.proj = torch.nn.Linear(4, 8)
        self.head = torch.nn.Linear(8, 6)
        self.embed = torch.nn.Linear(8, 8)

    def forward(self, features, image):
        x = torch.relu(self.conv(image)).mean(dim=(2, 3))
        x = x + self.proj(features)
        return self.head(x), torch.tanh(self.embed(x))


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    torch.manual_seed(0)
    rng = np.random.default_rng(11)
    model = TwoInTwoOut().eval()
    features = np.array([[0.5, -1.25, 2.0, 0.75]], dtype=np.float32)
    np.save(os.path.join(out, "features.npy"), features)
    pixels = rng.integers(0, 256, (24, 16, 16, 3), dtype=np.uint8)
    for i, p in enumerate(pixels):
        Image.fromarray(p, "RGB").save(os.path.join(out, "images", "%02d.png" % i))
    x = torch.from_numpy((pixels.astype(np.float32) * np.float32(1.0 / 255.0)).transpose(0, 3, 1, 2).copy())
    f = torch.from_numpy(features).expand(len(pixels), 4)
    with torch.no_grad():
        logits, embedding = model(f, x)
    np.save(os.path.join(out, "images.npy"), x.numpy())
    np.save(os.path.join(out, "logits.npy"), logits.numpy())
    np.save(os.path.join(out, "embedding.npy"), embedding.numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.from_numpy(features), x[:1]), os.path.join(out, "two.onnx"),
                          opset_version=13, input_names=["features", "image"],
                          output_names=["logits", "embedding"],
                          dynamic_axes={n: {0: "batch"} for n in ("features", "image", "logits", "embedding")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
