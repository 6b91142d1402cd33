"""torchvision's own model code as the reference for nn/models (random weights, saved as
safetensors the way a torchvision state dict is saved).

torchvision's compiled ops (`torchvision._C`) do not load against the CPU torch of the reference
venv, and `import torchvision` loads them; the model files themselves need only torch. So the
package is imported without running its `__init__`: stub packages point at the installed
sources and `torchvision.models.resnet` / `.mobilenetv2` load from there, unchanged.

Usage: torchvision_ref.py OUT_DIR   (JSON on stdout: key/shape lists and what was written)
"""
import importlib, importlib.util, json, os, sys, types

def load_torchvision():
    here = os.path.dirname(os.path.abspath(__file__))
    extra = os.path.join(here, "..", "..", ".refs", "torchvision")
    if os.path.isdir(extra):
        sys.path.insert(0, extra)
    spec = importlib.util.find_spec("torchvision")
    if spec is None:
        raise SystemExit("torchvision not installed (see .ci/run: pip install --no-deps --target .refs/torchvision torchvision pillow)")
    root = spec.submodule_search_locations[0]
    for name, sub in [("torchvision", ""), ("torchvision.models", "models"), ("torchvision.transforms", "transforms")]:
        m = types.ModuleType(name)
        m.__path__ = [os.path.join(root, sub)]
        sys.modules[name] = m
    presets = types.ModuleType("torchvision.transforms._presets")
    class ImageClassification:  # only referenced by the weights enums
        pass
    presets.ImageClassification = ImageClassification
    sys.modules["torchvision.transforms._presets"] = presets
    return importlib.import_module("torchvision.models.resnet"), importlib.import_module("torchvision.models.mobilenetv2")

def main():
    import torch
    import torch.nn.functional as F
    from safetensors.torch import save_file
    out = sys.argv[1]
    resnet, mobilenet = load_torchvision()
    torch.set_num_threads(1)
    builders = {"resnet18": resnet.resnet18, "resnet50": resnet.resnet50,
                "mobilenet_v2": mobilenet.mobilenet_v2}
    result = {"keys": {}}
    for name, build in builders.items():
        with torch.device("meta"):
            sd = build(weights=None).state_dict()
        result["keys"][name] = [[k, list(v.shape), str(v.dtype)] for k, v in sd.items()]
    cases = [("resnet18", 1000, 2, 64, 1), ("resnet50", 1000, 1, 64, 2), ("mobilenet_v2", 1000, 1, 64, 3)]
    for name, classes, n, size, seed in cases:
        torch.manual_seed(seed)
        model = builders[name](weights=None, num_classes=classes)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5); m.bias.normal_(0, 0.1)
                    m.running_mean.normal_(0, 0.1); m.running_var.uniform_(0.5, 1.5)
                    m.num_batches_tracked.fill_(7)
                if isinstance(m, torch.nn.Linear):
                    m.bias.normal_(0, 0.1)
        model.eval()
        x = torch.randn(n, 3, size, size)
        with torch.no_grad():
            y = model(x)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{out}/{name}.safetensors")
        save_file({"x": x, "logits": y}, f"{out}/{name}_io.safetensors")
    # ImageNet preprocessing: torchvision's tensor path is F.interpolate(antialias=True) for the
    # resize (shorter side, int(size * long / short)), then crop at round((H - crop) / 2).
    g = torch.Generator().manual_seed(5)
    pre = {}
    for tag, (h, w, size, crop) in {"down": (37, 53, 20, 16), "up": (9, 7, 12, 11)}.items():
        img = torch.randint(0, 256, (h, w, 3), generator=g, dtype=torch.uint8)
        f = img.permute(2, 0, 1).float()[None] / 255
        rh, rw = (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
        r = F.interpolate(f, size=(rh, rw), mode="bilinear", antialias=True, align_corners=False)[0]
        top, left = int(round((rh - crop) / 2)), int(round((rw - crop) / 2))
        c = r[:, top:top + crop, left:left + crop]
        mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
        std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
        pre[f"{tag}_img"] = img.contiguous()
        pre[f"{tag}_out"] = ((c - mean) / std).contiguous()
        result[f"{tag}_args"] = [h, w, size, crop]
    save_file(pre, f"{out}/preprocess.safetensors")
    print(json.dumps(result))

if __name__ == "__main__":
    main()
