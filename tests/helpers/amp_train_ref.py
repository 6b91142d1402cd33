"""PyTorch's f16 mixed-precision (torch.autocast + torch.amp.GradScaler) and fp32 training
trajectories of a small CNN on CIFAR-10-shaped random-label data: the reference of
tests/nn/amp_test.ts.

The CNN: conv 3→16 (3x3, pad 1), BatchNorm, ReLU, conv 16→32 (3x3, stride 2, pad 1), BatchNorm,
ReLU, conv 32→32 (3x3, pad 1), BatchNorm, ReLU, AvgPool 16, Flatten, Linear 32→10 (nn.Sequential
indices 0..11). One fixed batch of BATCH random 32x32 images with random labels (memorizing it is
the "convergence"), AdamW (lr 1e-2), cross-entropy, STEPS steps. The GradScaler starts at 2^16
with growth_interval GROWTH, so the run shows growth steps too.

Writes OUT/init.safetensors (the state dict before the first step) and OUT/io.safetensors
(x, y, amp_losses f64, fp32_losses f64, scales f64: the scale after each step's update).

Usage: amp_train_ref.py OUT_DIR BATCH STEPS GROWTH [DEVICE]   (DEVICE cpu or cuda)
"""
import sys


def main():
    import torch
    from torch import nn
    from safetensors.torch import save_file
    out, batch, steps, growth = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    dev = sys.argv[5] if len(sys.argv) > 5 else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if dev == "cpu":
        torch.set_num_threads(1)
    torch.manual_seed(0)

    def cnn():
        return nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AvgPool2d(16), nn.Flatten(), nn.Linear(32, 10))

    init = cnn()
    state = {k: v.contiguous().clone() for k, v in init.state_dict().items()}
    save_file(state, f"{out}/init.safetensors")
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (batch,), generator=g)

    def train(amp):
        model = cnn()
        model.load_state_dict(state)
        model = model.to(dev).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        scaler = torch.amp.GradScaler(dev, growth_interval=growth, enabled=amp)
        lossf = nn.CrossEntropyLoss()
        xd, yd = x.to(dev), y.to(dev)
        losses, scales = [], []
        for _ in range(steps):
            opt.zero_grad()
            with torch.autocast(dev, dtype=torch.float16, enabled=amp):
                loss = lossf(model(xd), yd)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            losses.append(loss.item())
            scales.append(scaler.get_scale() if amp else 1.0)
        return losses, scales

    amp_losses, scales = train(True)
    fp32_losses, _ = train(False)
    f64 = torch.float64
    save_file({"x": x, "y": y, "amp_losses": torch.tensor(amp_losses, dtype=f64),
               "fp32_losses": torch.tensor(fp32_losses, dtype=f64),
               "scales": torch.tensor(scales, dtype=f64)}, f"{out}/io.safetensors")


if __name__ == "__main__":
    main()
