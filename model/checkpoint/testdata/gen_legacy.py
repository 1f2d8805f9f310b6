#!/usr/bin/env python3
"""Writes legacy.bin: a state_dict in torch.save's legacy (pre-1.6,
_use_new_zipfile_serialization=False) layout, without needing torch, and
two hostile files for the reader's bounds (each claims 10^12 elements for a
storage of 6): claim_legacy.bin (in the storage's size header) and
claim_zip.bin (in data.pkl of the zip layout, archive/data.pkl plus
archive/data/<key>).

  python3 model/checkpoint/testdata/gen_legacy.py model/checkpoint/testdata

The layout, as torch/serialization.py's _legacy_save writes it: five
protocol-2 pickles (magic number 0x1950a86a20f9469cfc6c, protocol version
1001, system info, the state_dict with storages as persistent ids
("storage", class, key, location, numel, None), the sorted storage keys),
then each storage as a little-endian uint64 element count and its bytes.
Stand-in modules named torch and torch._utils make pickle write the same
GLOBAL opcodes torch would. Tensors: "w" = [[1, 2, 3], [4, 5, 6]] and its
transpose "wt" sharing one float32 storage; "b" = [0.5, -0.25] in float64.
"""
import collections, io, os, pickle, struct, sys, types, zipfile

torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")
sys.modules["torch"], sys.modules["torch._utils"] = torch, utils
torch._utils = utils


class FloatStorage: pass
class DoubleStorage: pass
FloatStorage.__module__ = DoubleStorage.__module__ = "torch"
torch.FloatStorage, torch.DoubleStorage = FloatStorage, DoubleStorage


def _rebuild_tensor_v2(*args): pass
_rebuild_tensor_v2.__module__ = "torch._utils"
utils._rebuild_tensor_v2 = _rebuild_tensor_v2


class Storage:
    def __init__(self, key, cls, fmt, values):
        self.key, self.cls, self.fmt, self.values = key, cls, fmt, values


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return (_rebuild_tensor_v2, self.args)


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.cls, obj.key, "cpu", len(obj.values), None)
        return None


f32 = Storage("0", FloatStorage, "<f", [1, 2, 3, 4, 5, 6])
f64 = Storage("1", DoubleStorage, "<d", [0.5, -0.25])
sd = collections.OrderedDict()
sd["w"] = Tensor(f32, 0, (2, 3), (3, 1))
sd["wt"] = Tensor(f32, 0, (3, 2), (1, 3))
sd["b"] = Tensor(f64, 0, (2,), (1,))

def legacy(sd, storages, claim=None):
    buf = io.BytesIO()
    for obj in (0x1950a86a20f9469cfc6c, 1001, {"protocol_version": 1001, "little_endian": True,
                                            "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(obj, buf, protocol=2)
    Pickler(buf, protocol=2).dump(sd)
    pickle.dump(sorted(s.key for s in storages), buf, protocol=2)
    for s in storages:
        buf.write(struct.pack("<Q", claim or len(s.values)))
        buf.write(struct.pack("<%d%s" % (len(s.values), s.fmt[1]), *s.values))
    return buf.getvalue()


def write(name, data):
    with open(os.path.join(sys.argv[1], name), "wb") as out:
        out.write(data)


write("legacy.bin", legacy(sd, [f32, f64]))
one = collections.OrderedDict(w=Tensor(f32, 0, (2, 3), (3, 1)))
write("claim_legacy.bin", legacy(one, [f32], claim=10**12))

class ClaimPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.cls, obj.key, "cpu", 10**12)
        return None
pkl = io.BytesIO()
ClaimPickler(pkl, protocol=2).dump(one)
z = io.BytesIO()
with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf:
    zf.writestr(zipfile.ZipInfo("archive/data.pkl", (1980, 1, 1, 0, 0, 0)), pkl.getvalue())
    zf.writestr(zipfile.ZipInfo("archive/data/0", (1980, 1, 1, 0, 0, 0)), struct.pack("<6f", *f32.values))
    zf.writestr(zipfile.ZipInfo("archive/version", (1980, 1, 1, 0, 0, 0)), b"3\n")
write("claim_zip.bin", z.getvalue())
