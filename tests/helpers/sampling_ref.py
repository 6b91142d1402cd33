"""NumPy float32 re-implementation of llama.cpp's sampler steps (src/llama-sampler.cpp:
logit_bias, penalties, top_k, typical, top_p, min_p, temp), for tests/llm/sampling_test.ts.

usage: sampling_ref.py CASES.json  (a list of {logits, history, options})
prints a JSON list of {ids, logits}: the surviving candidates in order, logits as float32 values.
"""
import json
import sys

import numpy as np

f32 = np.float32


def softmax(l):
    e = np.exp(l - l.max()).astype(f32)
    total = np.cumsum(e, dtype=f32)[-1]  # sequential float32 sum, as llama.cpp's loop
    return (e / total).astype(f32)


def sort_desc(ids, l):
    order = np.lexsort((ids, -l.astype(np.float64)))  # logit descending, then id
    return ids[order], l[order]


def chain(logits, history, o):
    l = np.array(logits, dtype=f32)
    ids = np.arange(len(l))
    for k, b in o.get("logitBias", {}).items():
        l[int(k)] = f32(l[int(k)] + f32(b))
    last_n = o.get("penaltyLastN", 64)
    r, fq, pr = f32(o.get("repeatPenalty", 1)), f32(o.get("frequencyPenalty", 0)), f32(o.get("presencePenalty", 0))
    if last_n > 0 and (r != 1 or fq != 0 or pr != 0):
        window = history[-last_n:]
        counts = {t: window.count(t) for t in set(window)}
        for t, c in counts.items():
            v = l[t]
            v = f32(v * r) if v <= 0 else f32(v / r)
            l[t] = f32(v - f32(f32(f32(c) * fq) + pr))
    min_keep = o.get("minKeep", 0)
    sorted_ = False
    k = o.get("topK", 40)
    if k > 0:
        ids, l = sort_desc(ids, l)
        ids, l = ids[:k], l[:k]
        sorted_ = True
    tp = o.get("typicalP", 1)
    if tp < 1:
        ids, l = sort_desc(ids, l)
        p = softmax(l)
        ent = f32(0)
        for x in p:
            ent = f32(ent + f32(-x * f32(np.log(x))))
        shifted = np.abs((-np.log(p).astype(f32) - ent).astype(f32))
        order = np.lexsort((np.arange(len(p)), shifted.astype(np.float64)))
        cum, last = f32(0), len(order)
        for i, j in enumerate(order):
            cum = f32(cum + p[j])
            if cum > tp and (min_keep == 0 or i >= min_keep - 1):
                last = i + 1
                break
        ids, l = ids[order[:last]], l[order[:last]]
        sorted_ = False
    pp = o.get("topP", 0.95)
    if pp < 1:
        p = softmax(l)  # summed in the current order, as llama.cpp's top_p
        order = np.lexsort((ids, -l.astype(np.float64)))
        ids, l, p = ids[order], l[order], p[order]
        cum, last = f32(0), len(p)
        for i in range(len(p)):
            cum = f32(cum + p[i])
            if cum >= f32(pp) and i + 1 >= min_keep:
                last = i + 1
                break
        ids, l = ids[:last], l[:last]
        sorted_ = True
    mp = o.get("minP", 0.05)
    if mp > 0:
        lo = f32(l.max() + f32(np.log(mp)))
        keep = l >= lo
        if keep.sum() > 0 and keep.sum() >= min_keep:
            ids, l = ids[keep], l[keep]
        else:
            ids, l = sort_desc(ids, l)
            i = 1
            while i < len(l) and not (l[i] < lo and i >= min_keep):
                i += 1
            ids, l = ids[:i], l[:i]
    t = o.get("temperature", 0.8)
    if t > 0:
        l = (l / f32(t)).astype(f32)
    return {"ids": ids.tolist(), "logits": [float(x) for x in l]}


cases = json.load(open(sys.argv[1]))
json.dump([chain(c["logits"], c["history"], c["options"]) for c in cases], sys.stdout)
