"""Times onnxruntime (CPU, N threads) on a model: median ms per run over `runs` runs.

Usage: python bench/onnx_ort.py MODEL FEEDS.npz RUNS THREADS [carry_out=carry_in ...]
FEEDS.npz holds the inputs by name; carried outputs feed the next run (recurrent state).
"""
import sys
import time

import numpy as np
import onnxruntime as ort

model, feeds_path, runs, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
carry = dict(a.split("=") for a in sys.argv[5:])
opts = ort.SessionOptions()
opts.intra_op_num_threads = threads
opts.inter_op_num_threads = 1
sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
feeds = dict(np.load(feeds_path))
names = [o.name for o in sess.get_outputs()]
times = []
for i in range(runs + 5):
    t = time.perf_counter()
    out = dict(zip(names, sess.run(None, feeds)))
    if i >= 5:
        times.append((time.perf_counter() - t) * 1000)
    for o, inp in carry.items():
        feeds[inp] = out[o]
print(f"{np.median(times):.4f}")
