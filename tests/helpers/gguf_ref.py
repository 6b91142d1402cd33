"""gguf-py as the reference for tests/io/gguf_test.ts.

    gguf_ref.py read FILE          -> JSON summary of FILE as GGUFReader sees it
    gguf_ref.py write FILE         -> writes a file with every value type and many tensor types
                                      with GGUFWriter, then prints its summary

The summary holds, per key, the raw bytes of the value (type id + payload) and the decoded value
where gguf-py decodes it; per tensor its ggml type, ne, file offset, raw bytes and, where gguf-py
can, its dequantized f32 bytes.
"""
import base64
import json
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q, GGUFReader, GGUFValueType as V, GGUFWriter

b64 = lambda b: base64.b64encode(bytes(b)).decode()
SCALE_AT = {Q.Q2_K: [80, 82], Q.Q3_K: [108], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208],
            Q.IQ1_M: []}
NO_DEQUANT = {Q.F32, Q.F64, Q.I8, Q.I16, Q.I32, Q.I64}


def summary(path):
    r = GGUFReader(path)
    kv = []
    for name, f in r.fields.items():
        if name.startswith("GGUF."):
            continue
        raw = b"".join(p.tobytes() for p in f.parts[2:])
        try:
            val = f.contents()
            if isinstance(val, float) or (isinstance(val, list) and val and isinstance(val[0], float)):
                val = None  # floats are compared through the raw bytes
        except Exception:
            val = None
        kv.append([name, b64(raw), val if f.types[-1] != V.ARRAY and len(f.types) < 3 else None])
    ts = []
    for t in r.tensors:
        data = np.ascontiguousarray(t.data)
        deq = None
        if t.tensor_type not in NO_DEQUANT:
            try:
                d = gguf.quants.dequantize(data, t.tensor_type)
                deq = b64(np.ascontiguousarray(d, dtype=np.float32).tobytes())
            except NotImplementedError:  # gguf-py lacks some decoders (Q8_K)
                deq = None
        ts.append({"name": t.name, "type": int(t.tensor_type), "ne": [int(x) for x in t.shape],
                   "offset": int(t.data_offset), "bytes": b64(data.tobytes()), "deq": deq})
    return {"kv": kv, "tensors": ts, "alignment": int(r.alignment), "data_offset": int(r.data_offset)}


def write(path):
    rng = np.random.default_rng(5)
    w = GGUFWriter(path, "llama")
    for vt, v in [(V.UINT8, 200), (V.INT8, -100), (V.UINT16, 60000), (V.INT16, -30000),
                  (V.UINT32, 4000000000), (V.INT32, -2000000000), (V.FLOAT32, 0.1),
                  (V.BOOL, True), (V.STRING, "héllo ✓ wörld"), (V.UINT64, 2**63 + 12345),
                  (V.INT64, -(2**62) - 7), (V.FLOAT64, 2.0 / 3.0)]:
        w.add_key_value(f"test.{vt.name.lower()}", v, vt)
    w.add_key_value("test.bool_false", False, V.BOOL)
    for vt, vals in [(V.UINT8, [1, 2, 255]), (V.INT8, [-1, 5]), (V.UINT16, [7, 65535]),
                     (V.INT16, [-7, 300]), (V.UINT32, [1, 2**32 - 1]), (V.INT32, [-5, 9]),
                     (V.FLOAT32, [0.5, -1.25, 3e-8]), (V.BOOL, [True, False, True]),
                     (V.UINT64, [2**64 - 1, 3]), (V.INT64, [-(2**63), 4]), (V.FLOAT64, [1e300, -0.0])]:
        w.add_key_value(f"test.arr_{vt.name.lower()}", vals, V.ARRAY, sub_type=vt)
    w.add_array("test.arr_string", ["a", "", "ünï", "tab\tnl\n"])
    w.add_key_value("test.nested", [[1, 2, 3], [4], [5, 6]], V.ARRAY, sub_type=V.ARRAY)
    w.add_key_value("test.nested_str", [["x", "y"], ["z"]], V.ARRAY, sub_type=V.ARRAY)
    src = (rng.standard_normal((2, 256)) * 1.5).astype(np.float32)
    w.add_tensor("src", src)
    w.add_tensor("f16", src.astype(np.float16))
    w.add_tensor("f64", rng.standard_normal((3, 5)))
    w.add_tensor("i8", rng.integers(-128, 128, (4, 3), dtype=np.int8))
    w.add_tensor("i16", rng.integers(-30000, 30000, (6,), dtype=np.int16))
    w.add_tensor("i32", rng.integers(-2**31, 2**31, (2, 2, 2), dtype=np.int32))
    w.add_tensor("i64", rng.integers(-2**62, 2**62, (5,), dtype=np.int64))
    for q in [Q.BF16, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0, Q.TQ1_0, Q.TQ2_0, Q.MXFP4]:
        w.add_tensor(f"q.{q.name.lower()}", gguf.quants.quantize(src, q), raw_dtype=q)
    for q in [Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K, Q.IQ2_XXS, Q.IQ2_XS, Q.IQ2_S, Q.IQ3_XXS,
              Q.IQ3_S, Q.IQ1_S, Q.IQ1_M, Q.IQ4_NL, Q.IQ4_XS]:
        bs, ts = gguf.GGML_QUANT_SIZES[q]
        raw = rng.integers(0, 256, (2, 256 // bs * ts), dtype=np.uint8)
        # finite f16 scales: random bytes would make some NaN/Inf, which compare as nothing
        blocks = raw.reshape(-1, ts)
        for off in SCALE_AT.get(q, [0]):
            blocks[:, off:off + 2] = (rng.uniform(-4, 4, (len(blocks), 1)).astype(np.float16)
                                      .view(np.uint8))
        if q == Q.IQ1_M:
            blocks[:, 55] &= 0xBF  # top exponent bit of the scale spread over the nibbles
        w.add_tensor(f"r.{q.name.lower()}", raw, raw_dtype=q)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return summary(path)


if __name__ == "__main__":
    cmd, path = sys.argv[1], sys.argv[2]
    print(json.dumps(summary(path) if cmd == "read" else write(path)))
