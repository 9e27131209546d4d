"""Precision variants of an exported graph: one ONNX file per precision, precision living in the graph.

TensorRT 11 builds strongly typed networks only (no FP16/INT8/BF16 builder flags, no calibrators): an engine runs
in the precision its ONNX graph carries. So ``jscc-rt export onnx --precision ...`` writes, beside the fp32 graph
``NAME.onnx``, one variant per requested precision, ``NAME.<precision>.onnx`` (fp32 inputs and outputs), each with
its own ``.json`` sidecar that records ``precision``, ``converter`` and (int8) the calibration set.
"""
from __future__ import annotations

from jscc_rt._validate import JsccInputError

# The variant file naming (NAME.<precision>.onnx: PRECISIONS, variant_path, precision_of) is jscc_rt.runtime.variants:
# the runners find the files by it.


# --- fp16 / bf16: compute-heavy ops in low precision, the rest of the graph in fp32 ---------------------------------

#: Ops computed in the variant's precision (weights stored in it, activations cast at the op's boundary). Everything
#: else stays fp32: the power normalization (ReduceMean/Sqrt/Div), the schedule math (Log/Exp/Gather/interpolation),
#: sigmoids and the elementwise sampler updates, i.e. the autocast policy of torch.autocast.
LOW_PRECISION_OPS: tuple[str, ...] = ("Conv", "ConvTranspose", "Gemm", "MatMul")
#: Nodes kept in fp32 although their op is in LOW_PRECISION_OPS, by a part of their exported name: GDN's
#: ``conv2d(x * x, gamma)`` overflows fp16 for |x| > 256.
KEEP_FP32_NAME_PARTS: tuple[str, ...] = ("gdn",)
#: Opset of each variant: ONNX allows bfloat16 Conv from opset 22 (fp16 Conv since 11).
VARIANT_OPSET = {"fp16": 17, "bf16": 22}


def to_low_precision(model, precision: str):
    """Return ``model`` (an fp32 ``onnx.ModelProto``, modified in place) with every :data:`LOW_PRECISION_OPS` node
    computed in ``precision`` (``"fp16"`` or ``"bf16"``): its fp32 weight initializers stored in that dtype, its
    activation inputs cast to it and its output cast back to fp32. Inputs and outputs of the graph stay fp32.

    Written here rather than taken from onnxconverter-common: its ``convert_float_to_float16`` (1.16, with onnx
    1.23) did not finish within 2 minutes on the 0.3 MB ``receiver_decoder`` graph, and it has no bf16 mode. The pass
    is the same rewrite TensorRT's strongly typed mode expects: explicit casts, precision in the graph.
    """
    import ml_dtypes
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if precision not in VARIANT_OPSET:
        raise JsccInputError(f"to_low_precision takes 'fp16' or 'bf16', got {precision!r}")
    elem = TensorProto.FLOAT16 if precision == "fp16" else TensorProto.BFLOAT16
    np_dtype = np.float16 if precision == "fp16" else ml_dtypes.bfloat16
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if VARIANT_OPSET[precision] > opset:
        model = onnx.version_converter.convert_version(model, VARIANT_OPSET[precision])
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    converted: dict[str, str] = {}
    nodes = []
    for n in g.node:
        if n.op_type not in LOW_PRECISION_OPS or any(p in n.name.lower() for p in KEEP_FP32_NAME_PARTS):
            nodes.append(n)
            continue
        ins = list(n.input)
        for j, name in enumerate(ins):
            if not name:
                continue
            init = inits.get(name)
            if init is not None and init.data_type == TensorProto.FLOAT:
                if name not in converted:  # a weight shared by several nodes (unrolled iterations) converts once
                    low = numpy_helper.to_array(init).astype(np_dtype)
                    g.initializer.append(numpy_helper.from_array(low, f"{name}.{precision}"))
                    converted[name] = f"{name}.{precision}"
                ins[j] = converted[name]
            else:
                cast = f"{n.name or n.output[0]}/in{j}.{precision}"
                nodes.append(helper.make_node("Cast", [name], [cast], to=elem, name=cast))
                ins[j] = cast
        low_out = f"{n.output[0]}.{precision}"
        low = helper.make_node(n.op_type, ins, [low_out], name=n.name, domain=n.domain)
        low.attribute.extend(n.attribute)
        nodes += [low, helper.make_node("Cast", [low_out], [n.output[0]], to=TensorProto.FLOAT, name=low_out + "/fp32")]
    del g.node[:]
    g.node.extend(nodes)
    used = {i for n in g.node for i in n.input}
    keep = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    return model


def low_precision_nodes(model) -> dict[str, int]:
    """``{"low": n, "fp32": m}``: how many :data:`LOW_PRECISION_OPS` nodes of ``model`` compute in a 16-bit float
    type or in int8 (Q/DQ inputs), and how many still compute in fp32 (for the sidecar and the tests)."""
    from onnx import TensorProto

    producers = {o: n for n in model.graph.node for o in n.output}
    low_types = (TensorProto.FLOAT16, TensorProto.BFLOAT16)
    counts = {"low": 0, "fp32": 0}
    for n in model.graph.node:
        if n.op_type not in LOW_PRECISION_OPS:
            continue
        src = producers.get(n.input[0])
        is_low = src is not None and (
            (src.op_type == "Cast" and any(a.name == "to" and a.i in low_types for a in src.attribute))
            or src.op_type == "DequantizeLinear")
        counts["low" if is_low else "fp32"] += 1
    return counts
