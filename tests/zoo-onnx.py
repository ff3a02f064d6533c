"""zoo-onnx.py — the onnx side of tests/zoo-check.sh (run by an interpreter that has onnx).

    python3 tests/zoo-onnx.py DIR FILE.onnx...

For each quantized FILE (named DIR/VARIANT.onnx): prints "ok   …" or "FAIL …" for
onnx.checker (full_check); writes "VARIANT STEP" to DIR/steps.txt, STEP the scale of the
per-tensor DequantizeLinear that makes the graph output ("none" otherwise); and cuts the file
into one model per quantized layer, DIR/VARIANT.layers/NNN.onnx: the nodes between the 8-bit
tensors a layer reads (or the float graph input) and the 8-bit tensor it writes, so that ONNX
Runtime can run each layer on qcal's own inputs. DIR/VARIANT.layers/index.txt lists
"NNN OUTPUT INPUT,INPUT… PARAMETERS" in node order, PARAMETERS what the test needs to
compute the layer's exact result (see cut_layers), or "-".
"""
import os
import sys

import onnx
from onnx import helper, numpy_helper

# ops whose 8-bit output has the type of their zero point input at this index
ZERO_POINT_INPUT = {
    "QuantizeLinear": 2, "QLinearConv": 7, "QLinearMatMul": 7, "QLinearAdd": 7,
    "QLinearMul": 7, "QLinearConcat": 1, "QLinearAveragePool": 4,
    "QLinearGlobalAveragePool": 4, "QGemm": 8, "QLinearSigmoid": 4, "QLinearLeakyRelu": 4,
}
# ops that pass 8-bit values through unchanged in type
PASS_THROUGH = {"MaxPool", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Identity",
                "Relu", "Concat", "Clip"}


def eight_bit_tensors(m, inits):
    """Element type of every 8-bit activation, by propagation in node order."""
    types = {}
    for n in m.graph.node:
        t = None
        if n.op_type in ZERO_POINT_INPUT:
            k = ZERO_POINT_INPUT[n.op_type]
            if n.op_type == "QuantizeLinear" and (len(n.input) <= k or not n.input[k]):
                t = onnx.TensorProto.UINT8
            elif len(n.input) > k and n.input[k] in inits:
                t = inits[n.input[k]].data_type
        elif n.op_type in PASS_THROUGH and n.input and n.input[0] in types:
            t = types[n.input[0]]
        if t in (onnx.TensorProto.UINT8, onnx.TensorProto.INT8):
            for o in n.output:
                if o:
                    types[o] = t
    return types


def cut_layers(m, path, out_dir):
    inits = {t.name: t for t in m.graph.initializer}
    types = eight_bit_tensors(m, inits)
    # an 8-bit tensor read only by an integer Relu/Clip is fused away by qcal (the clamp
    # goes into the producer's requantization): the layer runs through it
    consumers = {}
    for n in m.graph.node:
        for x in n.input:
            consumers.setdefault(x, []).append(n.op_type)
    outputs = {o.name for o in m.graph.output}
    types = {t: e for t, e in types.items()
             if t in outputs or not consumers.get(t) or
             not all(c in ("Relu", "Clip") for c in consumers[t])}
    producer = {o: i for i, n in enumerate(m.graph.node) for o in n.output}
    graph_inputs = {i.name: i for i in m.graph.input if i.name not in inits}
    os.makedirs(out_dir, exist_ok=True)
    index = []
    k = 0
    for t, elem in types.items():
        if t not in producer:
            continue
        # walk back through float tensors to the 8-bit ones (or the graph input)
        nodes, deps, seen = set(), [], set()
        stack = [producer[t]]
        while stack:
            i = stack.pop()
            if i in nodes:
                continue
            nodes.add(i)
            for x in m.graph.node[i].input:
                if not x or x in inits or x in seen:
                    continue
                seen.add(x)
                if x in types or x in graph_inputs or x not in producer:
                    deps.append(x)
                else:
                    stack.append(producer[x])
        order = sorted(nodes)
        used = {x for i in order for x in m.graph.node[i].input}
        inputs = []
        for x in deps:
            if x in types:
                inputs.append(helper.make_tensor_value_info(x, types[x], None))

            elif x in graph_inputs:
                inputs.append(graph_inputs[x])
            else:
                inputs = None  # an input qcal cannot give (not a graph input, not 8-bit)
                break
        if inputs is None:
            continue
        outs = [helper.make_tensor_value_info(t, elem, None)]
        # the parameters the test needs to compute the layer's exact result itself:
        # "q:SCALE,ZP" for a QuantizeLinear with per-tensor parameters (its float input is a
        # second output, so that ONNX Runtime's float value can be rounded in the test);
        # "add:SA,ZA,SB,ZB,SY,ZY,IA,IB,LO,HI" for QLinearAdd and "gap:SX,ZX,SY,ZY,IX,LO,HI" for
        # QLinearGlobalAveragePool, maybe followed by an integer Relu/Clip (IA, IB, IX: positions
        # of its inputs in the layer's inputs; LO, HI: the output's integer bounds)
        q = m.graph.node[producer[t]]
        lo, hi = (0, 255) if elem == onnx.TensorProto.UINT8 else (-128, 127)
        if q.op_type in ("Relu", "Clip") and q.input[0] in producer and q.input[0] not in deps:
            # an integer Relu/Clip after the op (the clamp qcal fuses into it): its bounds
            bounds = [numpy_helper.to_array(inits[x]).reshape(-1)[0] if x in inits else None
                      for x in list(q.input[1:3]) + [""] * (3 - len(q.input))]
            if bounds[0] is not None:
                lo = max(lo, int(bounds[0]))
            if q.op_type == "Relu":
                lo = max(lo, 0)
            if bounds[1] is not None:
                hi = min(hi, int(bounds[1]))
            q = m.graph.node[producer[q.input[0]]]

        def scalars(names):
            if not all(x in inits and numpy_helper.to_array(inits[x]).size == 1 for x in names):
                return None
            return [numpy_helper.to_array(inits[x]).reshape(-1)[0] for x in names]

        qparams = "-"
        if q.op_type == "QuantizeLinear" and len(q.input) > 2:
            p = scalars(q.input[1:3])
            if p:
                outs.append(helper.make_tensor_value_info(q.input[0], onnx.TensorProto.FLOAT, None))
                qparams = "q:%r,%d" % (float(p[0]), int(p[1]))
        elif q.op_type == "QLinearAdd" and len(q.input) == 8 and q.input[0] in deps and q.input[3] in deps:
            p = scalars([q.input[i] for i in (1, 2, 4, 5, 6, 7)])
            if p:
                qparams = "add:%r,%d,%r,%d,%r,%d,%d,%d,%d,%d" % (
                    float(p[0]), int(p[1]), float(p[2]), int(p[3]), float(p[4]), int(p[5]),
                    deps.index(q.input[0]), deps.index(q.input[3]), lo, hi)
        elif (q.op_type == "QLinearGlobalAveragePool" and q.input[0] in deps and
              not any(a.name == "channels_last" and a.i for a in q.attribute)):
            p = scalars(q.input[1:5])
            if p:
                qparams = "gap:%r,%d,%r,%d,%d,%d,%d" % (float(p[0]), int(p[1]), float(p[2]),
                                                        int(p[3]), deps.index(q.input[0]), lo, hi)
        g = helper.make_graph([m.graph.node[i] for i in order], "layer", inputs, outs,
                              [inits[x] for x in sorted(used) if x in inits])
        sub = helper.make_model(g, opset_imports=list(m.opset_import))
        sub.ir_version = m.ir_version
        k += 1
        name = "%03d" % k
        onnx.save(sub, os.path.join(out_dir, name + ".onnx"))
        index.append("%s %s %s %s\n" % (name, t, ",".join(deps), qparams))
    with open(os.path.join(out_dir, "index.txt"), "w") as f:
        f.writelines(index)


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "steps.txt"), "w") as steps:
        for path in sys.argv[2:]:
            name = os.path.basename(path)[:-len(".onnx")]
            m = onnx.load(path)
            try:
                onnx.checker.check_model(m, full_check=True)
                print("ok   onnx.checker accepts %s" % name)
            except Exception as e:
                print("FAIL onnx.checker accepts %s (%s)" % (name, str(e).splitlines()[0][:200]))
            producer = {o: n for n in m.graph.node for o in n.output}
            inits = {t.name: t for t in m.graph.initializer}
            n = producer.get(m.graph.output[0].name)
            step = "none"
            if n is not None and n.op_type == "DequantizeLinear" and n.input[1] in inits:
                s = numpy_helper.to_array(inits[n.input[1]])
                if s.size == 1:
                    step = repr(float(s.reshape(-1)[0]))
            steps.write("%s %s\n" % (name, step))
            cut_layers(m, path, os.path.join(d, name + ".layers"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
