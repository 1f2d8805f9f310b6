#!/usr/bin/env python3
"""Writes views.bin and views.json for checkpoint's PyTorch reader tests.

  /usr/bin/python3 model/checkpoint/testdata/gen_pytorch.py model/checkpoint/testdata

views.bin is a torch.save'd OrderedDict whose tensors are views (transposed,
sliced with a storage offset, sharing one storage) and of several dtypes;
views.json holds each tensor's values flattened row-major as float32.
"""
import collections, json, os, sys
import torch

out = sys.argv[1]
torch.manual_seed(5)
base = torch.randn(4, 6)
sd = collections.OrderedDict()
sd["plain"] = base
sd["transposed"] = base.t()                 # stride (1, 6)
sd["sliced"] = base[1:3, 2:5]               # offset 8, stride (6, 1)
sd["half"] = base[:2].to(torch.float16)
sd["double"] = base[2:].to(torch.float64)
sd["bf16"] = base[0].to(torch.bfloat16)
sd["ids"] = torch.arange(4).view(1, 4)
torch.save(sd, os.path.join(out, "views.bin"))
with open(os.path.join(out, "views.json"), "w") as f:
    json.dump({k: {"shape": list(v.shape), "values": v.to(torch.float32).reshape(-1).tolist()}
               for k, v in sd.items() if k != "ids"}, f)
