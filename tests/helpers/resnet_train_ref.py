"""PyTorch's fp32 training trajectory of torchvision's ResNet-18 on CIFAR-10-shaped data, the
reference of tests/nn/resnet_torch_test.ts and of bench/gpu_models.ts's trajectory check.

Seeded random initial weights (torchvision's init), STEPS batches of random 32x32 images and
labels, AdamW (lr 1e-4, weight decay 1e-2, PyTorch's defaults otherwise), cross-entropy; one
batch per step. Writes OUT/init.safetensors (the state dict before the first step) and
OUT/io.safetensors (x: (STEPS, B, 3, 32, 32), y: (STEPS, B) int64, losses: (STEPS,) f64, and
the eval-mode logits of x[0] after the last step).

Usage: resnet_train_ref.py OUT_DIR BATCH STEPS [DEVICE]   (DEVICE cpu, or cuda: TF32 off)
"""
import importlib, os, sys


def resnet18_builder():
    try:  # a regular torchvision install (the GPU machine)
        return importlib.import_module("torchvision.models").resnet18
    except Exception:  # the reference venv: model code only (see torchvision_ref.py)
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from torchvision_ref import load_torchvision
        return load_torchvision()[0].resnet18


def main():
    import torch
    from safetensors.torch import save_file
    out, batch, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    dev = sys.argv[4] if len(sys.argv) > 4 else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if dev == "cpu":
        torch.set_num_threads(1)
    torch.manual_seed(0)
    model = resnet18_builder()(weights=None, num_classes=10)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{out}/init.safetensors")
    g = torch.Generator().manual_seed(1)
    x = torch.randn(steps, batch, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (steps, batch), generator=g)
    model = model.to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-2)
    lossf = torch.nn.CrossEntropyLoss()
    losses = []
    for s in range(steps):
        opt.zero_grad()
        loss = lossf(model(x[s].to(dev)), y[s].to(dev))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        logits = model(x[0].to(dev)).cpu()
    save_file({"x": x, "y": y, "losses": torch.tensor(losses, dtype=torch.float64),
               "logits": logits}, f"{out}/io.safetensors")


if __name__ == "__main__":
    main()
