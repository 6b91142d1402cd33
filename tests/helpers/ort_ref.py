"""onnxruntime as the reference for ONNX model tests.

Reads JSON from stdin: {"model": path, "feeds": npz path, "steps": n, "carry": {out: in},
"out": npz path}. The feeds npz holds "<step>:<input name>" arrays; inputs named in "carry"
take the previous step's output instead (after step 0). Writes "<step>:<output name>" arrays.
"""
import json
import sys

import numpy as np
import onnxruntime as ort

req = json.load(sys.stdin)
opts = ort.SessionOptions()
opts.intra_op_num_threads = int(req.get("threads", 1))
opts.inter_op_num_threads = 1
sess = ort.InferenceSession(req["model"], opts, providers=["CPUExecutionProvider"])
feeds = np.load(req["feeds"])
names = [o.name for o in sess.get_outputs()]
carry = req.get("carry", {})
prev = {}
out = {}
for step in range(req["steps"]):
    feed = {k.split(":", 1)[1]: feeds[k] for k in feeds.files if k.startswith(f"{step}:")}
    for o, i in carry.items():
        if step > 0:
            feed[i] = prev[o]
    res = sess.run(None, feed)
    prev = dict(zip(names, res))
    for n, r in prev.items():
        out[f"{step}:{n}"] = r
np.savez(req["out"], **out)
