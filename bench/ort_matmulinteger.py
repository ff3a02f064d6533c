#!/usr/bin/env python3
"""ONNX Runtime's MatMulInteger on one M×N×K shape, 1 thread: u8 activations (zero point 7)
times a constant s8 weight matrix (an initializer, so ONNX Runtime may pack it once), the same
problem bench_qgemm gives qcal. Prints "median min max" in GMAC/s over RUNS runs, each at least
0.05 s of this thread's CPU time; exits with status 3 when onnxruntime cannot be imported.

usage: ort_matmulinteger.py M N K [RUNS]

The model is written here with a few protobuf fields (the onnx package is not needed)."""
import struct
import sys
import time


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, payload):
    """a length-delimited field (strings, bytes, sub-messages)"""
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def number(num, value):
    return varint(num << 3) + varint(value)


UINT8, INT8, INT32 = 2, 3, 6


def value_info(name, elem_type, dims):
    shape = b"".join(field(1, number(1, d)) for d in dims)          # TensorShapeProto.dim
    tensor = number(1, elem_type) + field(2, shape)                 # TypeProto.Tensor
    return field(1, name) + field(2, field(1, tensor))              # ValueInfoProto


def tensor(name, elem_type, dims, raw):
    return b"".join(number(1, d) for d in dims) + number(2, elem_type) + \
        field(8, name) + field(9, raw)                              # TensorProto


def model(m, n, k, weights):
    node = field(1, "A") + field(1, "B") + field(1, "za") + field(2, "Y") + \
        field(4, "MatMulInteger")
    graph = field(1, node) + field(2, "qgemm") + \
        field(5, tensor("B", INT8, [k, n], weights)) + \
        field(5, tensor("za", UINT8, [], bytes([7]))) + \
        field(11, value_info("A", UINT8, [m, k])) + \
        field(12, value_info("Y", INT32, [m, n]))
    opset = field(1, "") + number(2, 13)
    return number(1, 8) + field(8, opset) + field(7, graph)         # ModelProto


def main():
    if len(sys.argv) not in (4, 5):
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    m, n, k = (int(x) for x in sys.argv[1:4])
    runs = int(sys.argv[4]) if len(sys.argv) == 5 else 7
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as e:
        sys.stderr.write("ort_matmulinteger: %s\n" % e)
        return 3
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, size=(m, k), dtype=np.uint8)
    # 7-bit weights (reduce_range): exact in ONNX Runtime on every x86 CPU, VNNI or not, so the
    # check below holds everywhere; the time does not depend on the values
    b = rng.integers(-64, 65, size=(k, n), dtype=np.int8)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model(m, n, k, b.tobytes()), opts,
                                providers=["CPUExecutionProvider"])
    y = sess.run(None, {"A": a})[0]
    ref = (a[:4].astype(np.int64) - 7) @ b.astype(np.int64)
    if not np.array_equal(y[:4], ref):
        sys.stderr.write("ort_matmulinteger: ONNX Runtime's result is not exact\n")
        return 1
    reps = 1
    while True:  # repetitions that take at least 0.05 s
        t = time.thread_time()
        for _ in range(reps):
            sess.run(None, {"A": a})
        if time.thread_time() - t >= 0.05:
            break
        reps *= 2
    gmacs = []
    for _ in range(runs):
        t = time.thread_time()
        for _ in range(reps):
            sess.run(None, {"A": a})
        gmacs.append(m * n * k * reps / (time.thread_time() - t) * 1e-9)
    gmacs.sort()
    print("%.2f %.2f %.2f" % (gmacs[len(gmacs) // 2], gmacs[0], gmacs[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
