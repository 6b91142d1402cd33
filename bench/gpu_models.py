"""PyTorch/CUDA side of `deno task bench:gpu-models` (bench/gpu_models.ts): the same models,
batches and dtypes, timed with CUDA events after warm-up, fp32 with TF32 off and with AMP
(autocast fp16 + GradScaler for training). Writes one JSON object to argv[1].

- ResNet-18 training (torchvision, 10 classes), CIFAR-10-shaped 32x32 images, batch 128;
- ResNet-50 training (torchvision, 1000 classes), 224x224 images, batch 32 (BENCH_SMALL: 64x64, 4);
- BERT-base-sized forward: 12 torch.nn.TransformerEncoderLayer (d 768, 12 heads, ff 3072, GELU,
  post-norm, batch_first), batch 8, sequence 128, eval mode, no grad.
AdamW (lr 1e-4) and cross-entropy for the training steps. Images/s and ms per step are medians
of TRIALS timings of STEPS steps each.
"""
import json, os, sys, time
import torch

SMALL = os.environ.get("BENCH_SMALL") == "1"
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.backends.cudnn.benchmark = True
dev = "cuda"


def timed(fn, steps, trials):
    for _ in range(2):
        fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(trials):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(steps):
            fn()
        b.record()
        torch.cuda.synchronize()
        out.append(a.elapsed_time(b) / steps)
    out.sort()
    return out[len(out) // 2]


def train_case(model, x, y, amp):
    model = model.to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    lossf = torch.nn.CrossEntropyLoss()
    scaler = torch.amp.GradScaler("cuda", enabled=amp)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
            loss = lossf(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    return step


def main():
    import torchvision
    out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}
    trials, steps = (3, 3) if SMALL else (5, 10)
    g = torch.Generator().manual_seed(0)
    cases = [("resnet18", torchvision.models.resnet18, 10, 32, 128 if not SMALL else 8),
             ("resnet50", torchvision.models.resnet50, 1000, 224 if not SMALL else 64, 32 if not SMALL else 4)]
    for name, build, classes, hw, batch in cases:
        x = torch.randn(batch, 3, hw, hw, generator=g).to(dev)
        y = torch.randint(0, classes, (batch,), generator=g).to(dev)
        for amp in (False, True):
            torch.manual_seed(0)
            ms = timed(train_case(build(weights=None, num_classes=classes), x, y, amp), steps, trials)
            out[f"{name}_{'amp' if amp else 'fp32'}"] = {"ms": ms, "images_s": batch * 1000 / ms,
                                                          "batch": batch, "hw": hw}
    layers = 2 if SMALL else 12
    enc = torch.nn.ModuleList([torch.nn.TransformerEncoderLayer(768, 12, 3072, 0.0, "gelu",
                               batch_first=True) for _ in range(layers)]).to(dev).eval()
    xb = torch.randn(8, 128, 768, generator=g).to(dev)

    def fwd():
        h = xb
        for l in enc:
            h = l(h)
        return h
    for amp in (False, True):
        def run():
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16, enabled=amp):
                fwd()
        out[f"bert_{'amp' if amp else 'fp32'}"] = {"ms": timed(run, steps, trials), "layers": layers}
    json.dump(out, open(sys.argv[1], "w"), indent=1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
