"""Times the benchmark cases in NumPy, the same way bench/run.ts times ours.

Usage: python numpy_bench.py cases.json SAMPLES MIN_SAMPLE_MS
Prints JSON: {name: {median_ms, p10_ms, p90_ms, samples}} per case, one call = one op.
"""
import json
import sys
import time

import numpy as np


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


OPS = {
    "add": lambda a, b: np.add(a, b),
    "exp": lambda a: np.exp(a),
    "sum": lambda a: np.sum(a),
    "softmax": softmax,
    "matmul": lambda a, b: np.matmul(a, b),
}


def measure(fn, samples, min_ms):
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int((min_ms / 1000) / one))
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner * 1000)
    times.sort()
    q = lambda p: times[min(len(times) - 1, int(p * len(times)))]
    return {"median_ms": q(0.5), "p10_ms": q(0.1), "p90_ms": q(0.9), "samples": samples}


def main():
    cases = json.load(open(sys.argv[1]))
    samples, min_ms = int(sys.argv[2]), float(sys.argv[3])
    rng = np.random.default_rng(0)
    out = {}
    for c in cases:
        args = [rng.standard_normal(s, dtype=np.float32) for s in c["shapes"]]
        fn = OPS[c["op"]]
        out[c["name"]] = measure(lambda: fn(*args), samples, min_ms)
    out["_env"] = {"numpy": np.__version__, "blas": blas_name()}
    print(json.dumps(out))


def blas_name():
    try:
        cfg = np.show_config(mode="dicts")
        return cfg["Build Dependencies"]["blas"]["name"]
    except Exception:
        return "unknown"


main()
