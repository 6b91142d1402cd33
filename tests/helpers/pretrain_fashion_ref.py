"""A source model for the transfer-learning example, trained by PyTorch with torchvision's ResNet
code: a one-block-per-stage ResNet (torchvision's ResNet(BasicBlock, [1, 1, 1, 1])) trained on
Fashion-MNIST classes 0-4 and saved as a safetensors state dict (torchvision's key names).

Usage: pretrain_fashion_ref.py OUT.safetensors [STEPS]   (prints JSON: source accuracy, seconds)
Images: 28x28 grey replicated to RGB, scaled to [0, 1], normalized with ImageNet's mean and std,
the preprocessing the example applies (imagenetPreprocess with resize 0, crop 28).
"""
import gzip, json, os, sys, time
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torchvision_ref import load_torchvision  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist"

def idx(path, header):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)

def main():
    import torch
    from safetensors.torch import save_file
    out = sys.argv[1]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    torch.manual_seed(0)
    torch.set_num_threads(1)  # more threads oversubscribe a busy 2-core machine (7x slower seen)
    resnet, _ = load_torchvision()
    x = idx(f"{FASHION}/train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    y = idx(f"{FASHION}/train-labels-idx1-ubyte.gz", 8).astype(np.int64)
    keep = y < 5
    x, y = x[keep][:12000], y[keep][:12000]
    mean = torch.tensor([0.485, 0.456, 0.406])[None, :, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[None, :, None, None]
    def prep(a):
        t = torch.from_numpy(a.astype(np.float32) / 255)[:, None].expand(-1, 3, -1, -1)
        return (t - mean) / std
    model = resnet.ResNet(resnet.BasicBlock, [1, 1, 1, 1], num_classes=5)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    t0 = time.time()
    model.train()
    g = torch.Generator().manual_seed(1)
    for step in range(steps):
        i = torch.randint(0, len(y) - 2000, (64,), generator=g).numpy()
        loss = torch.nn.functional.cross_entropy(model(prep(x[i])), torch.from_numpy(y[i]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(prep(x[-2000:])).argmax(1).numpy()
    acc = float((pred == y[-2000:]).mean())
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
    print(json.dumps({"source_accuracy": acc, "seconds": time.time() - t0, "steps": steps}))

if __name__ == "__main__":
    main()
