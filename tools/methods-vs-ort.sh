#!/bin/bash
# methods-vs-ort.sh — qcal's histogram range methods against ONNX Runtime's own calibration, both
# judged by ONNX Runtime: for each bundled model, qcal quantizes it (QDQ, GemmLowP, per tensor
# and per channel) with statistics of the calibration images, ONNX Runtime's quantize_static
# quantizes the same model on the same images (QDQ, uint8 activations, int8 weights), and ONNX
# Runtime runs every file on the validation images. Prints a Markdown table, one row per model:
# FP32's top-1 %, then for each method qcal's and (for entropy, percentile and minmax) ONNX
# Runtime's, per tensor / per channel (the README's table under `qcal stats`). About 15
# minutes on two cores for the three models and four methods.
#
#   tools/methods-vs-ort.sh [QCAL] [CALIB] [VAL] [METHODS]
#       defaults: ./qcal data/calib data/val "entropy percentile mse minmax"
#
# Needs a python with onnxruntime.quantization (which imports onnx: python3 -m pip install
# onnxruntime onnx) and one with PIL and numpy (they may differ). Images are read as qcal reads them: the model card's preprocessing,
# x = (p·scale − mean) / std in float32, in byte order of their relative paths.
set -eu
QCAL=${1:-./qcal}
CALIB=${2:-data/calib}
VAL=${3:-data/val}
METHODS=${4:-entropy percentile mse minmax}
MODELS=${MODELS:-lenet resnet mobilenet}
. "$(dirname "$0")/../tests/lib.sh"
ORT_PY=$(find_python "onnxruntime.quantization") || { echo "error: no python with onnxruntime.quantization" >&2; exit 4; }
PIL_PY=$(find_python "PIL, numpy") || { echo "error: no python with PIL and numpy" >&2; exit 4; }
tmp=$(mktemp -d /tmp/qcal-vs-ort.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# the image sets as arrays (all bundled models share lenet's preprocessing)
for set in calib val; do
    dir=$CALIB
    [ $set = val ] && dir=$VAL
    "$PIL_PY" - "$dir" models/lenet.json "$tmp/$set.npz" <<'EOF'
import json, os, sys
import numpy as np
from PIL import Image
root, card, out = sys.argv[1:4]
pp = json.load(open(card))['preprocess']
scale = np.float32(pp.get('scale', 1 / 255)); mean = np.float32(pp['mean'][0]); std = np.float32(pp['std'][0])
rels = sorted((os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
               if f.lower().endswith('.png')), key=lambda s: s.encode())
x = np.stack([((np.asarray(Image.open(os.path.join(root, r)).convert('L'), dtype=np.float32) * scale - mean) / std)[None]
              for r in rels])
np.savez(out, x=x.astype(np.float32), y=np.array([int(r.split('/')[0].split('_')[0]) for r in rels]))
EOF
done

files=()
for m in $MODELS; do
    cmp -s <(grep -o '"preprocess": {[^}]*}' "models/$m.json") <(grep -o '"preprocess": {[^}]*}' models/lenet.json) ||
        { echo "error: models/$m.json does not have lenet's preprocessing" >&2; exit 3; }
    "$QCAL" stats --quiet --threads 2 -o "$tmp/$m-stats.json" "models/$m.onnx" "$CALIB"
    for method in $METHODS; do
        for g in tensor channel; do
            flag=
            [ $g = channel ] && flag=--per-channel
            "$QCAL" quantize --quiet $flag --method "$method" --stats "$tmp/$m-stats.json" \
                -o "$tmp/$m@qcal-$method-$g.onnx" "models/$m.onnx"
            files+=("$tmp/$m@qcal-$method-$g.onnx")
        done
    done
done

# ONNX Runtime's own calibration of the same models on the same images, then every file run
"$ORT_PY" - "$tmp" "$METHODS" $MODELS <<'EOF'
import contextlib, os, sys
import numpy as np
import onnxruntime as ort
from onnxruntime import quantization as oq
tmp, methods, models = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
calib, val = np.load(os.path.join(tmp, 'calib.npz')), np.load(os.path.join(tmp, 'val.npz'))
cm = {'entropy': oq.CalibrationMethod.Entropy, 'percentile': oq.CalibrationMethod.Percentile,
      'minmax': oq.CalibrationMethod.MinMax}

class Reader(oq.CalibrationDataReader):
    def __init__(self, name):
        self.it = iter([{name: calib['x'][i:i + 1]} for i in range(len(calib['x']))])
    def get_next(self):
        return next(self.it, None)

def top1(path):
    so = ort.SessionOptions(); so.log_severity_level = 3
    s = ort.InferenceSession(path, so, providers=['CPUExecutionProvider'])
    name = s.get_inputs()[0].name
    x, y = val['x'], val['y']
    pred = np.concatenate([s.run(None, {name: x[i:i + 1]})[0].argmax(1) for i in range(len(x))])
    return 100 * (pred == y).mean()

variants = ['fp32'] + ['%s %s %s' % (who, meth, g) for meth in methods for who in ('qcal', 'ort')
                       for g in ('tensor', 'channel') if who == 'qcal' or meth in cm]
rows = {}
for m in models:
    src = os.path.join('models', m + '.onnx')
    so = ort.SessionOptions(); so.log_severity_level = 3
    name = ort.InferenceSession(src, so, providers=['CPUExecutionProvider']).get_inputs()[0].name
    rows[m] = {'fp32': top1(src)}
    for v in variants[1:]:
        who, meth, g = v.split()
        path = os.path.join(tmp, '%s@%s-%s-%s.onnx' % (m, who, meth, g))
        if who == 'ort':
            with contextlib.redirect_stdout(sys.stderr):
                oq.quantize_static(src, path, Reader(name), quant_format=oq.QuantFormat.QDQ,
                                   per_channel=g == 'channel', activation_type=oq.QuantType.QUInt8,
                                   weight_type=oq.QuantType.QInt8, calibrate_method=cm[meth])
        rows[m][v] = top1(path)
        print('%-10s %-26s %6.2f' % (m, v, rows[m][v]), file=sys.stderr)
# one row per model: FP32, then per method qcal's and ONNX Runtime's per tensor / per channel
cols = [(who, meth) for meth in methods for who in ('qcal', 'ort') if who == 'qcal' or meth in cm]
print('| model | FP32 | ' + ' | '.join('%s %s /t /c' % ('qcal' if who == 'qcal' else 'ORT', meth) for who, meth in cols) + ' |')
print('|---|---|' + '---|' * len(cols))
for m in models:
    print('| %s | %.2f | ' % (m, rows[m]['fp32']) + ' | '.join(
        '%.2f / %.2f' % (rows[m]['%s %s tensor' % c], rows[m]['%s %s channel' % c]) for c in cols) + ' |')
EOF
