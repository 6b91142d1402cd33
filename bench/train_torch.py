"""PyTorch twin of `deno task train:fashion`: the same CNN, data pipeline, batch size, optimizer
and schedule, timed on the CPU of this machine (threads = cores), so that the samples/s ratio
of examples/train_fashion.ts against PyTorch can go into bench/RESULTS.md.

Usage:
  .venv-ref/bin/python bench/train_torch.py                      # full default run (time + accuracy)
  .venv-ref/bin/python bench/train_torch.py --max-steps 300      # throughput only
  .venv-ref/bin/python bench/train_torch.py --json               # one JSON line at the end

Prints per-epoch train samples/s (the training loop only: forward, loss, backward, optimizer
and scheduler steps; the same span the Deno example times) and test accuracy.
"""

import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
from torch import nn

DATA = "/usr/share/datasets/fashion-mnist"
# Mean and standard deviation of the Fashion-MNIST training pixels (in [0, 1]).
MEAN, STD = 0.2860, 0.3530


def load_idx(path):
    b = gzip.open(path).read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * k : 8 + 4 * k], "big") for k in range(nd)]
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def load(split):
    x = load_idx(f"{DATA}/{split}-images-idx3-ubyte.gz").astype(np.float32)
    y = load_idx(f"{DATA}/{split}-labels-idx1-ubyte.gz").astype(np.int64)
    x = (x / 255.0 - MEAN) / STD
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)


def make_model():
    # Keep in sync with examples/fashion/model.ts.
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--max-steps", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--json", action="store_true")
    p.add_argument("--train-limit", type=int, default=0)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load("train")
    if a.train_limit:
        xtr, ytr = xtr[: a.train_limit], ytr[: a.train_limit]
    xte, yte = load("t10k")
    model = make_model()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    steps_per_epoch = len(xtr) // a.batch_size  # the last partial batch is dropped
    # As in the Deno example: the schedule spans all epochs; --max-steps only stops early.
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=a.lr, total_steps=steps_per_epoch * a.epochs)
    total = steps_per_epoch * a.epochs
    if a.max_steps:
        total = min(total, a.max_steps)
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(a.seed)

    step, train_time, samples = 0, 0.0, 0
    epochs = []
    t_start = time.perf_counter()
    for epoch in range(a.epochs):
        if step >= total:
            break
        model.train()
        perm = torch.randperm(len(xtr), generator=g)
        t0 = time.perf_counter()
        ep_samples = 0
        loss_sum = 0.0
        for i in range(steps_per_epoch):
            if step >= total:
                break
            idx = perm[i * a.batch_size : (i + 1) * a.batch_size]
            x, y = xtr[idx], ytr[idx]
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item()
            step += 1
            ep_samples += len(idx)
        dt = time.perf_counter() - t0
        train_time += dt
        samples += ep_samples
        if ep_samples < steps_per_epoch * a.batch_size:
            break  # stopped by --max-steps: no evaluation of a partial epoch
        model.eval()
        with torch.no_grad():
            correct = sum(
                (model(xte[i : i + 1000]).argmax(1) == yte[i : i + 1000]).sum().item()
                for i in range(0, len(xte), 1000)
            )
        acc = correct / len(xte)
        epochs.append({"epoch": epoch + 1, "seconds": dt, "samples_per_s": ep_samples / dt,
                       "test_accuracy": acc, "mean_loss": loss_sum / max(1, i + 1)})
        if not a.json:
            print(f"epoch {epoch + 1}: {dt:.1f} s, {ep_samples / dt:.0f} samples/s, "
                  f"loss {loss_sum / max(1, i + 1):.4f}, test accuracy {acc * 100:.2f}%", flush=True)
    wall = time.perf_counter() - t_start
    result = {"torch": torch.__version__, "threads": a.threads, "batch_size": a.batch_size,
              "steps": step, "samples_per_s": samples / train_time, "train_seconds": train_time,
              "wall_seconds": wall, "epochs": epochs}
    if a.json:
        print(json.dumps(result))
    else:
        print(f"torch {torch.__version__}, {a.threads} threads: {samples / train_time:.0f} samples/s "
              f"over {step} steps; wall {wall:.1f} s")


if __name__ == "__main__":
    main()
