"""ort-saturates.py — prints "saturates" when ONNX Runtime's u8 x s8 integer GEMM saturates
int16 pairs of products on this CPU, else "exact".

On x86 CPUs without VNNI ONNX Runtime multiplies uint8 by int8 with vpmaddubsw, which adds
two products into int16 and saturates there (255 * 127 * 2 = 64770 > 32767); with VNNI, AMX
or uint8 weights it is exact. Files whose int8 weights reach past +-64 then run differently in
ONNX Runtime than in any exact runtime (docs/qparams.md P3). The probe asks ONNX Runtime
itself: tests/data/ort-u8s8-probe.onnx, a MatMulInteger of a 4 x 64 uint8 input by 64 x 8
int8 weights of 127, run on 255s.

--write: regenerate that file (needs the onnx package)."""
import os
import sys

import numpy as np

PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "ort-u8s8-probe.onnx")
K = 64

if sys.argv[1:] == ["--write"]:
    from onnx import TensorProto, helper, numpy_helper
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "probe",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [4, K])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [4, 8])],
        [numpy_helper.from_array(np.full((K, 8), 127, np.int8), "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    with open(PROBE, "wb") as f:
        f.write(model.SerializeToString())
    sys.exit(0)

import onnxruntime as ort

options = ort.SessionOptions()
options.log_severity_level = 3
session = ort.InferenceSession(PROBE, options, providers=["CPUExecutionProvider"])
y = session.run(None, {"A": np.full((4, K), 255, np.uint8)})[0]
print("exact" if (y == 255 * 127 * K).all() else "saturates")
