"""PyTorch peer for bench/engine.ts: the same training steps in Python, timed the same way.
Usage: python3 bench/engine_peer.py conv4|conv4-bf16|koch SECONDS WARMUP_SECONDS WARMUP_STEPS THREADS [cpu|cuda]
-> one JSON line: itemsPerSec, steps, seconds, and this PyTorch's version and thread count."""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

model_name = sys.argv[1]
seconds, warmup_seconds = float(sys.argv[2]), float(sys.argv[3])
warmup_steps, threads = int(sys.argv[4]), int(sys.argv[5])
device = sys.argv[6] if len(sys.argv) > 6 else 'cpu'
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
        # The paper's initialisation (section 3.3), as twinshot's Koch2015 uses: the same kind of
        # values on both sides (saturated sigmoids, positive activations), not just the same shapes.
        with torch.no_grad():
            for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
                conv.weight.normal_(0, 1e-2)
                conv.bias.normal_(0.5, 1e-2)
            for linear in (self.fc, self.head):
                linear.weight.normal_(0, 2e-1)
                linear.bias.normal_(0.5, 1e-2)

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


def time_steps(min_steps, min_seconds):
    """Whole steps until both minimums are reached, as bench/engine.ts does."""
    synchronize()
    start = time.perf_counter()
    steps = 0
    while steps < min_steps or time.perf_counter() - start < min_seconds:
        step()
        steps += 1
        synchronize()
    return steps, time.perf_counter() - start


time_steps(warmup_steps, warmup_seconds)
steps, elapsed = time_steps(1, seconds)
print(json.dumps({'engine': 'pytorch', 'model': model_name, 'itemsPerSec': steps * per_step / elapsed, 'steps': steps,
                  'seconds': elapsed, 'torch': torch.__version__, 'threads': torch.get_num_threads()}))
