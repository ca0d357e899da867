#!/usr/bin/env python3
"""Write tiny ONNX seeds for tests/fuzz/fuzz_onnx.c into tests/fuzz/seeds/onnx/ (protobuf
bytes assembled by hand; no onnx package needed). Run: python3 tests/fuzz/make_onnx_seeds.py"""
import os
import struct


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def key(f, wt):
    return varint(f << 3 | wt)


def vint(f, v):
    return key(f, 0) + varint(v)


def ld(f, b):
    if isinstance(b, str):
        b = b.encode()
    return key(f, 2) + varint(len(b)) + b


def f32(f, x):
    return key(f, 5) + struct.pack("<f", x)


def tensor(name, dims, vals, packed_dims=True, float_data=False):
    t = ld(8, name)
    if packed_dims:
        t += ld(1, b"".join(varint(d) for d in dims))
    else:
        t += b"".join(vint(1, d) for d in dims)
    t += vint(2, 1)
    if float_data:
        t += b"".join(f32(4, v) for v in vals)
    else:
        t += ld(9, struct.pack("<%df" % len(vals), *vals))
    return t


def node(name, op, ins, outs, attrs=b""):
    n = b"".join(ld(1, i) for i in ins) + b"".join(ld(2, o) for o in outs)
    return n + ld(3, name) + ld(4, op) + attrs


def model(graph, props=(), opset=17):
    m = vint(1, 8) + ld(8, ld(1, "") + vint(2, opset)) + ld(2, "seed")
    for k, v in props:
        m += ld(14, ld(1, k) + ld(2, v))
    return m + ld(7, graph)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "onnx")
    os.makedirs(out, exist_ok=True)
    conv_attrs = ld(5, ld(1, "kernel_shape") + vint(20, 7) + ld(8, varint(1) + varint(1)))
    conv_attrs += ld(5, ld(1, "group") + vint(20, 2) + vint(3, 1))
    conv_attrs += ld(5, ld(1, "alpha") + vint(20, 1) + f32(2, 0.5))
    conv_attrs += ld(5, ld(1, "mode") + vint(20, 3) + ld(4, "nearest"))
    g = ld(1, node("/model.0/conv/Conv", "Conv", ["images", "model.0.conv.weight",
                                                   "model.0.conv.bias"], ["y"], conv_attrs))
    g += ld(1, node("/model.23/cv3.0/cv3.0.2/Conv", "Conv", ["y", "w2"], ["z"]))
    g += ld(2, "main_graph")
    g += ld(5, tensor("model.0.conv.weight", [2, 1, 1, 1], [1.5, -2.25]))
    g += ld(5, tensor("model.0.conv.bias", [2], [0.25, -0.5], packed_dims=False, float_data=True))
    g += ld(5, tensor("w2", [1, 2, 1, 1], [1.0, 2.0]))
    g += ld(11, ld(1, "images")) + ld(12, ld(1, "z"))
    props = [("description", "Ultralytics YOLO11n model trained on seed.yaml"),
             ("task", "detect"), ("imgsz", "[640, 640]"),
             ("names", "{0: 'person', 1: \"it's\", 2: 'a\\\\b\\x41\\u00e9'}")]
    seeds = {
        "conv_model.onnx": model(g, props),
        "minimal.onnx": model(ld(2, "g")),
        "unknown_fields.onnx": vint(99, 5) + key(98, 1) + b"\0" * 8 + key(97, 5) + b"\0" * 4
        + model(g + ld(96, "x"), [("k", "v")]),
        "names_only.txt": b"{0: 'person', 1: 'bicycle', 2: 'traffic light'}",
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        print(name, len(data), "bytes")


if __name__ == "__main__":
    main()
