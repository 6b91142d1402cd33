"""Exports small torch models with random weights to ONNX for the model tests.

Usage: python tests/helpers/torch_onnx_models.py OUT_DIR
Writes resnet_like.onnx (a ResNet-18-shaped CNN: stem, 4 stages of 2 basic blocks with batch
norm and downsampling shortcuts, global pool, fc; narrow channels) and encoder.onnx (a 2-layer
nn.TransformerEncoder, d_model 32, 4 heads, with a padding mask folded in as a constant).
"""
import os
import sys

import torch
from torch import nn

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return torch.relu(y + (x if self.down is None else self.down(x)))


class ResNetLike(nn.Module):
    def __init__(self, w=8, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, w, 7, 2, 3, bias=False), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        layers, cin = [], w
        for i, cout in enumerate([w, 2 * w, 4 * w, 8 * w]):
            layers += [Block(cin, cout, 1 if i == 0 else 2), Block(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def randomize_bn(m):
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)


net = ResNetLike().eval()
randomize_bn(net)
torch.onnx.export(net, (torch.randn(1, 3, 64, 64),), f"{out}/resnet_like.onnx", dynamo=False,
                  input_names=["x"], output_names=["y"], opset_version=17)

layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = enc

    def forward(self, x):
        mask = torch.zeros(x.shape[1], x.shape[1])
        return self.enc(x, mask=torch.triu(torch.full_like(mask, float("-inf")), 1))


torch.onnx.export(Encoder().eval(), (torch.randn(2, 10, 32),), f"{out}/encoder.onnx", dynamo=False,
                  input_names=["x"], output_names=["y"], opset_version=17)
print("ok")
