"""The PyTorch side of `npm run bench`: the same cases as bench/compare-pytorch.ts,
on the CPU with 2 threads, random data of the same shapes. Prints one JSON object:
images per second per case, and the wall time of the end-to-end frozen-base loop."""
import json
import sys
import time

import torch
import torch.nn as nn
import torchvision

torch.set_num_threads(2)
torch.manual_seed(0)
args = json.loads(sys.argv[1])
iterations = args["iterations"]


def rate(step, batch, n=iterations):
    step()  # warm up
    start = time.perf_counter()
    for _ in range(n):
        step()
    return batch * n / (time.perf_counter() - start)


def mobilenet():
    model = torchvision.models.mobilenet_v2(weights=None)
    return model.features.eval()


def head(inputs):
    return nn.Sequential(nn.Linear(inputs, 128), nn.ReLU(), nn.Linear(128, 10))


results = {}
base = mobilenet()
for size in (96, 224):
    x = torch.rand(32, 3, size, size)
    with torch.no_grad():
        results[f"inference_{size}"] = rate(lambda: base(x), 32)

pool = nn.AdaptiveAvgPool2d(1)
top = head(1280)
optimizer = torch.optim.Adam(top.parameters(), 1e-3)
x96 = torch.rand(32, 3, 96, 96)
y = torch.randint(0, 10, (32,))


def frozen_step():
    with torch.no_grad():
        f = pool(base(x96)).flatten(1)
    optimizer.zero_grad()
    nn.functional.cross_entropy(top(f), y).backward()
    optimizer.step()


results["frozen_head_96"] = rate(frozen_step, 32)

tuned = mobilenet().train()
for p in tuned.parameters():
    p.requires_grad = False
for block in tuned[-4:]:  # the last three inverted-residual blocks and the final 1×1 conv
    for p in block.parameters():
        p.requires_grad = True
for m in tuned.modules():  # batch norm in inference mode, as tlpipe's batchNorm: frozen
    if isinstance(m, nn.BatchNorm2d):
        m.eval()
top2 = head(1280)
params = [p for p in tuned.parameters() if p.requires_grad] + list(top2.parameters())
optimizer2 = torch.optim.Adam(params, 1e-4)


def finetune_step():
    optimizer2.zero_grad()
    nn.functional.cross_entropy(top2(pool(tuned(x96)).flatten(1)), y).backward()
    optimizer2.step()


results["finetune_top3_96"] = rate(finetune_step, 32, max(3, iterations // 2))

cnn = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 12 * 12, 128), nn.ReLU(), nn.Linear(128, 10))
optimizer3 = torch.optim.Adam(cnn.parameters(), 1e-3)
x28 = torch.rand(64, 1, 28, 28)
y64 = torch.randint(0, 10, (64,))


def cnn_step():
    optimizer3.zero_grad()
    nn.functional.cross_entropy(cnn(x28), y64).backward()
    optimizer3.step()


results["scratch_cnn_28"] = rate(cnn_step, 64)

top4 = head(1280)
optimizer4 = torch.optim.Adam(top4.parameters(), 1e-3)
feats = torch.rand(32, 1280)


def head_step():
    optimizer4.zero_grad()
    nn.functional.cross_entropy(top4(feats), y).backward()
    optimizer4.step()


results["head_on_features"] = rate(head_step, 32, iterations * 20)

# End to end: a frozen base in the forward pass of every batch of every epoch, the plain loop.
images, epochs = args["e2eImages"], args["e2eEpochs"]
data = torch.rand(images, 3, 96, 96)
labels = torch.randint(0, 10, (images,))
top5 = head(1280)
optimizer5 = torch.optim.Adam(top5.parameters(), 1e-3)
start = time.perf_counter()
for _ in range(epochs):
    order = torch.randperm(images)
    for i in range(0, images, 32):
        idx = order[i:i + 32]
        with torch.no_grad():
            f = pool(base(data[idx])).flatten(1)
        optimizer5.zero_grad()
        nn.functional.cross_entropy(top5(f), labels[idx]).backward()
        optimizer5.step()
results["e2e_seconds"] = time.perf_counter() - start
results["torch"] = torch.__version__
results["threads"] = torch.get_num_threads()
print(json.dumps(results))
