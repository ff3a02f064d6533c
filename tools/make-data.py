#!/usr/bin/python3
"""Convert Fashion-MNIST (Debian's dataset-fashion-mnist) to PNG image folders.

Layout (ImageFolder): OUT/<index>_<slug>/<split>-<original index, 5 digits>.png,
8-bit grayscale, 28x28.

Default: writes
  data/calib/  500 training images: the first 50 of each class, in training-set order
  data/val/    the first 2,000 test images
With --full [OUT]: writes all 10,000 test images to OUT (default data/test-full/).

The PNG files are byte-for-byte deterministic (no timestamps or other metadata).
"""
import argparse
import gzip
import os
import shutil
import sys

import numpy as np
from PIL import Image

SRC = "/usr/share/datasets/fashion-mnist"
SLUGS = ["tshirt-top", "trouser", "pullover", "dress", "coat",
         "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_idx(path):
    """Read an IDX file (gzip-compressed) into a numpy uint8 array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError("%s: size mismatch" % path)
    return arr.reshape(dims)


def load(split):
    """split is 'train' or 't10k'; returns (images [N,28,28] uint8, labels [N] uint8)."""
    images = read_idx(os.path.join(SRC, "%s-images-idx3-ubyte.gz" % split))
    labels = read_idx(os.path.join(SRC, "%s-labels-idx1-ubyte.gz" % split))
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise ValueError("unexpected shapes %s %s" % (images.shape, labels.shape))
    return images, labels


def class_dir(label):
    return "%d_%s" % (label, SLUGS[label])


def write_set(out, split, images, labels, indices):
    """Write the chosen images to `out`, replacing its class folders (nothing else in
    `out` is touched)."""
    for c in range(10):
        d = os.path.join(out, class_dir(c))
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
    for i in indices:
        lab = int(labels[i])
        path = os.path.join(out, class_dir(lab), "%s-%05d.png" % (split, i))
        # PIL writes no tIME/text chunks by default, so the output is reproducible.
        Image.fromarray(np.ascontiguousarray(images[i]), mode="L").save(
            path, format="PNG", optimize=False, compress_level=9)
    print("%s: %d images" % (os.path.relpath(out, os.getcwd()), len(indices)))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", nargs="?", const=os.path.join(ROOT, "data", "test-full"),
                    metavar="OUT", help="write all 10,000 test images to OUT "
                    "(default data/test-full/) instead of data/calib and data/val")
    args = ap.parse_args()

    if args.full:
        images, labels = load("t10k")
        write_set(args.full, "test", images, labels, range(len(labels)))
        return 0

    images, labels = load("train")
    calib = []
    for c in range(10):
        calib.extend(np.nonzero(labels == c)[0][:50].tolist())
    write_set(os.path.join(ROOT, "data", "calib"), "train", images, labels, sorted(calib))

    images, labels = load("t10k")
    write_set(os.path.join(ROOT, "data", "val"), "test", images, labels, range(2000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
