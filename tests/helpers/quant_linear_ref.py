"""Reference for tests/core/quant_linear_test.ts: x @ dequantize(W).T in float64, the weights
decoded by gguf-py (whose decoders agree with ggml's bit for bit).

    quant_linear_ref.py DIR   reads DIR/cases.json ([{type, n, k, m, q8}]) and DIR/<i>.w (raw
                              weight bytes), DIR/<i>.x (float32 activations); prints the outputs
q8: round the activations through gguf-py's Q8_0 first (llama.cpp's CPU path for Q4_0/Q8_0).
"""
import json, sys
import numpy as np
import gguf

d = sys.argv[1]
cases = json.load(open(f"{d}/cases.json"))
out = []
for i, c in enumerate(cases):
    raw = np.fromfile(f"{d}/{i}.w", dtype=np.uint8)
    x = np.fromfile(f"{d}/{i}.x", dtype=np.float32).reshape(c["m"], c["k"])
    t = c["type"]
    if t == "f32":
        w = raw.view(np.float32)
    elif t == "f16":
        w = raw.view(np.float16).astype(np.float32)
    elif t == "bf16":
        w = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    else:
        qt = getattr(gguf.GGMLQuantizationType, t.upper())
        w = gguf.quants.dequantize(raw.reshape(c["n"], -1), qt)
    w = np.asarray(w, dtype=np.float64).reshape(c["n"], c["k"])
    if c["q8"]:
        q8 = gguf.GGMLQuantizationType.Q8_0
        x = gguf.quants.dequantize(gguf.quants.quantize(x, q8), q8).reshape(c["m"], c["k"])
    out.append((x.astype(np.float64) @ w.T).ravel().tolist())
json.dump(out, sys.stdout)
