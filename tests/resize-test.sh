#!/bin/bash
# resize-test.sh — the ImageNet evaluation transform, --resize S --crop N: the tensor qcal feeds
# the model equals torchvision's Resize(S) + CenterCrop(N) on a float tensor with
# antialias=False (the filter qcal uses for --size: bilinear, pixel centres, no antialiasing)
# within RESIZE_TOLERANCE; the model card and the statistics file record it; --resize with
# --size is a usage error; statistics of a --resize run refuse a --size run.
# Prints "resize: N passed, N failed, N skipped".
set -u
tmp=$(mktemp -d /tmp/qcal-resize.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

# Pixels 0..255 (--scale 1). qcal is bit-exact with the filter's definition in float32 (the
# scalar reference below); PyTorch 1.13's CPU kernel rounds its weights otherwise: measured
# max abs difference 0.0037 on these images.
RESIZE_TOLERANCE=0.01
TORCH=$(find_python "torchvision, onnx, PIL") || TORCH=""
if [ -z "$TORCH" ]; then
    skip "resize tests (no python with torchvision, onnx and PIL)"
    summary resize
fi

# Images of sizes that shrink (500x375, 333x517) and enlarge (90x150, 40x41), with random
# pixels; a model whose output is its input, flattened, so --scores prints the input tensor.
"$TORCH" - "$tmp" <<'PY'
import sys, numpy as np, onnx
from onnx import helper, TensorProto
from PIL import Image
out = sys.argv[1]
rng = np.random.default_rng(11)
import os
os.makedirs(out + "/img/a", exist_ok=True)
for k, (w, h) in enumerate([(500, 375), (333, 517), (150, 90), (41, 40)]):
    px = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(px, "RGB").save(f"{out}/img/a/{k}.png")
for name, crop in (("id224", 224), ("id32", 32)):
    g = helper.make_graph([helper.make_node("Flatten", ["x"], ["y"])], name,
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, crop, crop])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3 * crop * crop])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), f"{out}/{name}.onnx")
PY

check_scores() { # NAME TSV S CROP
    if "$TORCH" - "$2" "$tmp/img" "$3" "$4" "$RESIZE_TOLERANCE" <<'PY' >"$tmp/diff" 2>&1
import sys, numpy as np, torch
from PIL import Image
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode
tsv, root, s, crop, tol = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])

def taps(n_in, n_out):
    """The bilinear filter's definition (align_corners=False, no antialiasing) in float32."""
    f32 = np.float32
    src = np.maximum(f32(n_in) / f32(n_out) * (np.arange(n_out, dtype=f32) + f32(0.5)) - f32(0.5), f32(0))
    i0 = np.minimum(src.astype(np.int64), n_in - 1)
    i1 = np.where(i0 < n_in - 1, i0 + 1, i0)
    l1 = np.minimum(src - i0.astype(f32), f32(1))
    return i0, i1, (f32(1) - l1).astype(f32), l1.astype(f32)

def scalar_reference(img, h, w):
    y0, y1, ly0, ly1 = taps(img.shape[1], h)
    x0, x1, lx0, lx1 = taps(img.shape[2], w)
    a = img[:, y0][:, :, x0] * lx0 + img[:, y0][:, :, x1] * lx1
    b = img[:, y1][:, :, x0] * lx0 + img[:, y1][:, :, x1] * lx1
    return a * ly0[:, None] + b * ly1[:, None]

exact, worst, rows = 0.0, 0.0, 0
for line in open(tsv):
    path, _, _, scores = line.rstrip("\n").split("\t")
    got = np.array(scores.split(), dtype=np.float32).reshape(3, crop, crop)
    img = np.asarray(Image.open(f"{root}/{path}").convert("RGB")).transpose(2, 0, 1).astype(np.float32).copy()
    resized = F.resize(torch.from_numpy(img), s, interpolation=InterpolationMode.BILINEAR, antialias=False)
    want = F.center_crop(resized, [crop, crop]).numpy()
    h, w = resized.shape[1:]                     # torchvision's sizes: S x int(S * long / short)
    ref = scalar_reference(img, h, w)
    top, left = round((h - crop) / 2), round((w - crop) / 2)
    exact = max(exact, float(np.abs(got - ref[:, top:top + crop, left:left + crop]).max()))
    worst = max(worst, float(np.abs(got - want).max()))
    rows += 1
print(f"{rows} images; against the filter's definition {exact:g}, against torchvision {worst:g}")
sys.exit(0 if rows == 4 and exact == 0 and worst <= tol else 1)
PY
    then ok "$1 ($(tail -1 "$tmp/diff"))"; else bad "$1 ($(tail -c 300 "$tmp/diff"))"; fi
}

# 1. the tensor against torchvision
for args in "256 224 id224" "36 32 id32" "32 32 id32"; do
    set -- $args
    expect "eval --resize $1 --crop $2 exits 0" 0 "$QCAL" eval --resize "$1" --crop "$2" --scale 1 \
        --predictions "$tmp/pred.tsv" --scores "$tmp/$3.onnx" "$tmp/img"
    check_scores "--resize $1 --crop $2 equals the filter and torchvision's Resize($1) + CenterCrop($2)" "$tmp/pred.tsv" "$1" "$2"
done

# 2. the model card records it, and a card saying it gives the same tensors as the flags
cat >"$tmp/id224.json" <<'JSON'
{"qcal": 1, "preprocess": {"color": "rgb", "resize": 256, "crop": 224, "scale": 1}}
JSON
expect "eval with a card saying \"resize\": 256 exits 0" 0 "$QCAL" eval --predictions "$tmp/card.tsv" --scores "$tmp/id224.onnx" "$tmp/img"
check_scores "the card's \"resize\" is the flag's" "$tmp/card.tsv" 256 224
expect "stats with that card exits 0" 0 "$QCAL" stats --quiet -o "$tmp/s.json" "$tmp/id224.onnx" "$tmp/img"
contains "the statistics record the shorter side" "$tmp/s.json" '"resize_short": 256'
expect "quantize -o writes the card" 0 "$QCAL" quantize --quiet --stats "$tmp/s.json" -o "$tmp/q.onnx" "$tmp/id224.onnx"
contains "the card written beside the quantized model has \"resize\": 256" "$tmp/q.json" '"resize": 256'
expect "eval of the quantized model with its card exits 0" 0 "$QCAL" eval --predictions "$tmp/q.tsv" --scores "$tmp/q.onnx" "$tmp/img"
rm "$tmp/id224.json" "$tmp/q.json"
expect "eval of the quantized model with the card inside it exits 0" 0 "$QCAL" eval --predictions "$tmp/q2.tsv" --scores "$tmp/q.onnx" "$tmp/img"
same "the card inside the quantized model gives the same scores" "$tmp/q.tsv" "$tmp/q2.tsv"
expect "stats --resize 256 --crop 224 (flags, no card) gives the same file" 0 "$QCAL" stats --quiet --resize 256 --crop 224 --scale 1 -o "$tmp/s1.json" "$tmp/id224.onnx" "$tmp/img"
same "flags and card give byte-identical statistics" "$tmp/s.json" "$tmp/s1.json"
cat >"$tmp/id224.json" <<'JSON'
{"qcal": 1, "preprocess": {"color": "rgb", "size": 256, "resize": 256, "crop": 224}}
JSON
expect "a card with both \"size\" and \"resize\" is exit 3" 3 "$QCAL" eval "$tmp/id224.onnx" "$tmp/img"
contains "naming the key" "$tmp/err" 'preprocess.resize'
rm "$tmp/id224.json"

# 3. usage: one way to resize; statistics refuse another
expect "--resize with --size is a usage error" 2 "$QCAL" eval --resize 256 --size 256x256 --crop 224 "$tmp/id224.onnx" "$tmp/img"
contains "saying why" "$tmp/err" "give one"
expect "--resize 0 is a usage error" 2 "$QCAL" eval --resize 0 "$tmp/id224.onnx" "$tmp/img"
expect "statistics of --resize 256 refuse a --size 256x256 run" 3 "$QCAL" quantize --stats "$tmp/s.json" --size 256x256 --crop 224 -o "$tmp/q2.onnx" "$tmp/id224.onnx"
contains "telling the recorded resize" "$tmp/err" "shorter side 256"
contains "and the flag that gives it" "$tmp/err" "--resize 256"
expect "stats of a --size run" 0 "$QCAL" stats --quiet --size 256x256 --crop 224 -o "$tmp/s2.json" "$tmp/id224.onnx" "$tmp/img"
expect "merge refuses a --resize and a --size file" 3 "$QCAL" merge -o "$tmp/m.json" "$tmp/s.json" "$tmp/s2.json"

summary resize
