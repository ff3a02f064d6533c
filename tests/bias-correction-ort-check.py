"""bias-correction-ort-check.py — ONNX Runtime runs a model quantized with empirical bias
correction, for tests/bias-correction-test.sh (an interpreter with onnxruntime and numpy).

    bias-correction-ort-check.py INPUTS.f32 N MODEL.onnx PRED.tsv STEP MAX_STEPS MIN_AGREE

INPUTS.f32: N preprocessed images (float32, [N, 1, 28, 28], in PRED.tsv's order); PRED.tsv:
qcal's own scores of MODEL on them (`qcal eval --predictions --scores`). ONNX Runtime's
logits must give the same top-1 on at least MIN_AGREE of the images, and no logit may differ
from qcal's by more than MAX_STEPS output steps (STEP: the logits' scale). Prints what it
measured; exit 1 on a miss.
"""
import sys

import numpy as np
import onnxruntime as ort


def main():
    inputs, n, model, pred, step, max_steps, min_agree = sys.argv[1:8]
    n, step, max_steps, min_agree = int(n), float(step), float(max_steps), float(min_agree)
    x = np.fromfile(inputs, dtype=np.float32).reshape(n, 1, 28, 28)
    rows = [line.rstrip("\n").split("\t") for line in open(pred)]
    ours = np.array([[float(v) for v in r[3].split()] for r in rows], dtype=np.float64)
    if len(ours) != n:
        print(f"FAIL {pred} has {len(ours)} rows, not {n}")
        return 1
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    theirs = np.concatenate([sess.run(None, {name: x[i:i + 1]})[0] for i in range(n)]).astype(np.float64)
    agree = float((theirs.argmax(1) == ours.argmax(1)).mean())
    steps = float(np.abs(theirs - ours).max() / step)
    print(f"{model}: top-1 agreement {agree:.4f}, largest difference {steps:.2f} output steps")
    return 0 if agree >= min_agree and steps <= max_steps else 1


if __name__ == "__main__":
    sys.exit(main())
