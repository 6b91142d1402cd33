"""Reference evaluator for differential tests.

Reads a bundle from stdin: 4-byte little-endian header length, a JSON header, then raw array
bytes. Each case has named arrays and a Python expression over them (NumPy is `np`). Writes the
results in the same format. bf16 inputs arrive as float32 (NumPy has no bfloat16).
"""
import json
import struct
import sys

import numpy as np

NP = {
    "f32": np.float32, "f64": np.float64, "f16": np.float16, "bf16": np.float32,
    "i8": np.int8, "u8": np.uint8, "i16": np.int16, "u16": np.uint16, "i32": np.int32,
    "u32": np.uint32, "i64": np.int64, "bool": np.bool_,
}
BACK = {np.dtype(v).name: k for k, v in NP.items() if k != "bf16"}


def read_bundle(buf):
    (n,) = struct.unpack("<I", buf[:4])
    header = json.loads(buf[4:4 + n])
    body = memoryview(buf)[4 + n:]
    return header, body


def main():
    buf = sys.stdin.buffer.read()
    header, body = read_bundle(buf)
    out_meta, chunks, pos = [], [], 0
    for case in header["cases"]:
        env = {"np": np}
        for name, a in case["arrays"].items():
            dt = np.dtype(NP[a["dtype"]])
            n = int(np.prod(a["shape"], dtype=np.int64))
            arr = np.frombuffer(body[a["offset"]:a["offset"] + n * dt.itemsize], dtype=dt)
            env[name] = arr.reshape(a["shape"]).copy()
        env.update(case.get("scalars", {}))
        try:
            with np.errstate(all="ignore"):
                exec(case.get("setup", ""), env)
                res = eval(case["expr"], env)
        except Exception as e:  # reported back: the test decides whether an error was expected
            out_meta.append({"error": f"{type(e).__name__}: {e}"})
            continue
        many = isinstance(res, (tuple, list))
        items = list(res) if many else [res]
        metas = []
        for r in items:
            r = np.asarray(r)
            name = BACK.get(r.dtype.name)
            if name is None:
                if r.dtype == np.int64 or r.dtype.name == "intp":
                    name = "i64"
                elif r.dtype.kind == "u" and r.dtype.itemsize == 8:
                    name = "u64"
                else:
                    out_meta.append({"error": f"unsupported result dtype {r.dtype}"})
                    metas = None
                    break
            data = np.ascontiguousarray(r if name != "u64" else r.astype(np.float64)).tobytes()
            metas.append({"dtype": name, "shape": list(r.shape), "offset": pos, "nbytes": len(data)})
            chunks.append(data)
            pos += len(data)
        if metas is not None:
            out_meta.append({"results": metas, "many": many})
    head = json.dumps({"cases": out_meta}).encode()
    sys.stdout.buffer.write(struct.pack("<I", len(head)) + head + b"".join(chunks))


main()
