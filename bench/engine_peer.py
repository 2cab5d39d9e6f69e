"""PyTorch peer for bench/engine.ts: the same training steps in Python, timed the same way.
Usage: python3 bench/engine_peer.py conv4|conv4-bf16|koch STEPS WARMUP THREADS [cpu|cuda] -> one JSON line."""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

model_name, steps, warmup, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
device = sys.argv[5] if len(sys.argv) > 5 else 'cpu'
torch.set_num_threads(threads)
torch.manual_seed(0)


def conv4(mixed=False):
    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]
    net = nn.Sequential(*block(1, 64), *block(64, 64), *block(64, 64), *block(64, 64), nn.Flatten(), nn.Linear(64, 64))
    net = net.to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x = torch.rand(64, 1, 28, 28, device=device)
    y = torch.arange(64, device=device) % 64

    def step():
        opt.zero_grad()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=mixed):
            out = net(x)
        F.cross_entropy(out.float(), y).backward()
        opt.step()
    return step, 64


class Koch(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 64, 10), nn.Conv2d(64, 128, 7)
        self.conv3, self.conv4 = nn.Conv2d(128, 128, 4), nn.Conv2d(128, 256, 4)
        self.fc, self.head = nn.Linear(256 * 6 * 6, 4096), nn.Linear(4096, 1)

    def embed(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)
        x = F.relu(self.conv4(x))
        return torch.sigmoid(self.fc(x.flatten(1)))

    def forward(self, a, b):
        return self.head((self.embed(a) - self.embed(b)).abs()).squeeze(1)


def koch():
    net = Koch().to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.5)
    a, b = torch.rand(32, 1, 105, 105, device=device), torch.rand(32, 1, 105, 105, device=device)
    y = (torch.arange(32, device=device) % 2).float()

    def step():
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(net(a, b), y).backward()
        opt.step()
    return step, 32


step, per_step = {'conv4': conv4, 'conv4-bf16': lambda: conv4(mixed=True), 'koch': koch}[model_name]()
def synchronize():
    if device == 'cuda':
        torch.cuda.synchronize()


for _ in range(warmup):
    step()
synchronize()
start = time.perf_counter()
for _ in range(steps):
    step()
synchronize()
elapsed = time.perf_counter() - start
print(json.dumps({'engine': 'pytorch', 'model': model_name, 'itemsPerSec': steps * per_step / elapsed, 'torch': torch.__version__}))
