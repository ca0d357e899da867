"""Write the tiny seed files of the model-file fuzz target (tests/fuzz/seeds/model/).
Run with /usr/bin/python3 from the repository root; each file is well under 10 KB."""
import json
import os
import struct

import numpy as np

OUT = "tests/fuzz/seeds/model"


def write(name, tensors, meta=None, pad=True, holes=0, raw_header=None):
    header, blobs, off = {}, [], 0
    if meta:
        header["__metadata__"] = meta
    for tname, dtype, arr in tensors:
        b = arr.tobytes()
        off += holes
        blobs.append(b"\x00" * holes + b)
        header[tname] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
    h = raw_header.encode() if raw_header else json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(0)
meta = {"ocellus.format_version": "1", "ocellus.arch": "yolo11", "ocellus.scale": "n",
        "ocellus.num_classes": "2", "ocellus.class_names": "[\"cat\",\"dog\"]",
        "ocellus.input_size": "640"}
write("dtypes.safetensors", [
    ("a.f32", "F32", rng.standard_normal((2, 3)).astype("<f4")),
    ("b.f16", "F16", np.array([1, -2.5, 65504, 6e-8], dtype="<f2")),
    ("c.bf16", "BF16", (rng.standard_normal((2, 2)).astype("<f4").view("<u4") >> 16).astype("<u2")),
    ("d.num_batches_tracked", "I64", np.array(7, dtype="<i8")),
    ("e.u8", "U8", np.array([1, 2, 3], dtype="u1")),
    ("f.empty", "F32", np.zeros((0, 4), dtype="<f4")),
    ("g.f64", "F64", np.array([0.5, 1e-40], dtype="<f8")),
    ("h.i32", "I32", np.array([[1], [2]], dtype="<i4")),
    ("i.bool", "BOOL", np.array([1, 0], dtype="u1")),
    ("j.i8", "I8", np.array([-1], dtype="i1")),
], meta)
write("empty.safetensors", [])
write("holes.safetensors", [("x", "F32", np.ones(3, dtype="<f4")), ("y", "F16", np.ones(2, dtype="<f2"))],
      holes=3, pad=False)
conv = [("model.0.conv.weight", "F32", (rng.standard_normal((16, 3, 3, 3)) * 0.1).astype("<f4"))]
for p in ("weight", "bias", "running_mean", "running_var"):
    conv.append(("model.0.bn." + p, "F32", rng.random(16).astype("<f4")))
conv.append(("model.0.bn.num_batches_tracked", "I64", np.array([1], dtype="<i8")))
write("conv_bn.safetensors", conv, {"config": "yolo11.yaml", "scale": "n", "nc": "80",
                                    "depth_multiple": "0.5", "width_multiple": "0.25",
                                    "max_channels": "1024"})
write("overlap.safetensors", [("pad", "U8", np.zeros(12, dtype="u1"))], raw_header='{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
      '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}')
for fn in sorted(os.listdir(OUT)):
    print(fn, os.path.getsize(os.path.join(OUT, fn)))
