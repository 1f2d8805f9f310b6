#!/usr/bin/env python3
"""Writes dtypes.safetensors and dtypes.json for checkpoint's reader tests.

  /usr/bin/python3 model/checkpoint/testdata/gen_dtypes.py model/checkpoint/testdata

The same seeded values are stored as F32, F16, BF16 and F64 (plus an I64
buffer like Hugging Face's position_ids); dtypes.json holds what torch itself
gives when it widens each stored tensor back to float32. The writer here is
independent of the Go one: plain struct packing, header keys in insertion
order, no padding, so the Go reader also sees a layout it did not write.
"""
import json, os, struct, sys
import torch

out = sys.argv[1]
torch.manual_seed(3)
base = torch.randn(2, 3) * 3
base[0, 0] = 1e-6          # subnormal in F16
base[0, 1] = 65504.0       # F16 max
base[1, 2] = -0.0
tensors = {
    "f32": base.to(torch.float32),
    "f16": base.to(torch.float16),
    "bf16": base.to(torch.bfloat16),
    "f64": base.to(torch.float64),
    "ids": torch.arange(5, dtype=torch.int64).view(1, 5),
    "scalar": torch.tensor(2.5, dtype=torch.float32),
}
dt = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64", torch.int64: "I64"}
header, blobs, off = {"__metadata__": {"format": "pt", "made_by": "gen_dtypes.py"}}, [], 0
for name in ["ids", "f16", "scalar", "bf16", "f64", "f32"]:  # deliberately not sorted
    t = tensors[name].contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        b = t.view(torch.int16).numpy().astype("<i2").tobytes()
    else:
        b = t.numpy().tobytes()
    header[name] = {"dtype": dt[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
    off += len(b)
    blobs.append(b)
h = json.dumps(header).encode()
with open(os.path.join(out, "dtypes.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)))
    f.write(h)
    for b in blobs:
        f.write(b)
want = {k: v.to(torch.float32).reshape(-1).tolist() for k, v in tensors.items() if k != "ids"}
with open(os.path.join(out, "dtypes.json"), "w") as f:
    json.dump(want, f)
