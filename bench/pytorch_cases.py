"""The PyTorch side of `npm run bench`: the same cases as bench/tlpipe-steps.ts and
bench/compare-pytorch.ts's end-to-end pipelines, on the CPU with 2 threads ($TORCH_THREADS), on the
same real MNIST digits: bench/peer-data.ts writes them with tlpipe's own selection and
preprocessing (args["data"]), and MobileNetV2 carries tlpipe's zoo weights (args["weights"],
bench/export-zoo-weights.ts), so the frozen base gives the same features and the peer learns.
`python3 pytorch_cases.py '{"case": ...}'` prints one JSON object: images per second per step case
("steps"), or the wall time and test accuracy of one plain training loop ("frozen_e2e",
"two_stage", "seed_cnn"), with what the process ran on ("peer": threads, BLAS, oneDNN).
"peer" alone only reports that."""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import peer_runtime
from mobilenet_nsfwjs import mobilenet_v2_features
from peer_data import pipeline_splits, step_inputs

peer_runtime.configure()
torch.manual_seed(0)
args = json.loads(sys.argv[1])


def rate(step, batch, n):
    step()  # warm up
    start = time.perf_counter()
    for _ in range(n):
        step()
    return batch * n / (time.perf_counter() - start)


def mobilenet():
    return mobilenet_v2_features(args["weights"]).eval()


def head(inputs, dropout=0.0):
    layers = [nn.Linear(inputs, 128), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else []) + [nn.Linear(128, 10)]
    return nn.Sequential(*layers)


def freeze_batch_norm(model):
    """Batch norm in inference mode, as tlpipe's default `batchNorm: frozen`."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()


def augment(pixels, flip, rotate, zoom):
    """A random horizontal flip, rotation and zoom per image, bilinear with reflection, as tlpipe's augmenter."""
    n = pixels.shape[0]
    angle = (torch.rand(n) * 2 - 1) * rotate * math.pi / 180
    scale = 1 + (torch.rand(n) * 2 - 1) * zoom
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.cos(angle) / scale
    theta[:, 0, 1] = -torch.sin(angle) / scale
    theta[:, 1, 0] = torch.sin(angle) / scale
    theta[:, 1, 1] = torch.cos(angle) / scale
    grid = F.affine_grid(theta, list(pixels.shape), align_corners=False)
    x = F.grid_sample(pixels, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if flip:
        flipped = torch.rand(n) < 0.5
        x = torch.where(flipped[:, None, None, None], x.flip(3), x)
    return x.clamp(0, 255) / 255


def steps():
    """Per-step rates on real digits (bench/peer-data.ts stepInputs: the batches tlpipe-steps.ts times)."""
    iterations = args["iterations"]
    real = step_inputs(args["data"])
    x96, y = real["x96"], real["labels32"]
    results = {}
    base = mobilenet()
    for size, x in ((96, x96), (224, real["x224"])):
        with torch.no_grad():
            results[f"inference_{size}"] = rate(lambda: base(x), 32, iterations if size == 96 else max(2, iterations // 4))
    pool = nn.AdaptiveAvgPool2d(1)
    top = head(1280)
    optimizer = torch.optim.Adam(top.parameters(), 1e-3)

    def frozen_step():
        with torch.no_grad():
            f = pool(base(x96)).flatten(1)
        optimizer.zero_grad()
        F.cross_entropy(top(f), y).backward()
        optimizer.step()

    results["frozen_head_96"] = rate(frozen_step, 32, iterations)

    tuned = mobilenet().train()
    for p in tuned.parameters():
        p.requires_grad = False
    for block in tuned[-4:]:  # the last three inverted-residual blocks and the final 1×1 conv
        for p in block.parameters():
            p.requires_grad = True
    freeze_batch_norm(tuned)
    top2 = head(1280)
    params = [p for p in tuned.parameters() if p.requires_grad] + list(top2.parameters())
    optimizer2 = torch.optim.Adam(params, 1e-4)

    def finetune_step(x):
        optimizer2.zero_grad()
        F.cross_entropy(top2(pool(tuned(x)).flatten(1)), y).backward()
        optimizer2.step()

    n = max(3, iterations // 2)
    results["finetune_top3_96"] = rate(lambda: finetune_step(x96), 32, n)
    a = args["augment"]
    pixels = real["pixels96"]
    results["finetune_top3_96_augmented"] = rate(lambda: finetune_step(augment(pixels, a["flipHorizontal"], a["rotate"], a["zoom"])), 32, n)

    cnn = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 12 * 12, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer3 = torch.optim.Adam(cnn.parameters(), 1e-3)
    x28, y64 = real["x28"], real["labels64"]

    def cnn_step():
        optimizer3.zero_grad()
        F.cross_entropy(cnn(x28), y64).backward()
        optimizer3.step()

    results["scratch_cnn_28"] = rate(cnn_step, 64, iterations)
    top4 = head(1280)
    optimizer4 = torch.optim.Adam(top4.parameters(), 1e-3)
    with torch.no_grad():
        feats = pool(base(x96)).flatten(1)  # the real digits' features, as tlpipe's side uses

    def head_step():
        optimizer4.zero_grad()
        F.cross_entropy(top4(feats), y).backward()
        optimizer4.step()

    results["head_on_features"] = rate(head_step, 32, iterations * 20)
    return results


def epochs_of(model, optimizer, data, labels, epochs, batch, schedule=None, validation=None):
    """The plain loop: shuffled batches, a validation pass after every epoch in inference mode."""
    step = 0
    total = math.ceil(data.shape[0] / batch) * epochs
    for _ in range(epochs):
        model.train()
        freeze_batch_norm(model)
        order = torch.randperm(data.shape[0])
        for i in range(0, data.shape[0], batch):
            if schedule:
                for g in optimizer.param_groups:
                    g["lr"] = schedule(step / total)
            idx = order[i:i + batch]
            optimizer.zero_grad()
            F.cross_entropy(model(data[idx]), labels[idx]).backward()
            optimizer.step()
            step += 1
        if validation is not None and validation[0].shape[0] > 0:
            evaluate(model, *validation)


def evaluate(model, data, labels, batch=256):
    """Accuracy in inference mode, in batches of 256 (as a plain evaluation loop would)."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, data.shape[0], batch):
            correct += (model(data[i:i + batch]).argmax(1) == labels[i:i + batch]).sum().item()
    return correct / max(1, data.shape[0])


def frozen_e2e():
    """A frozen base in the forward pass of every batch of every epoch (the plain way), the head trained
    (Adam 1e-3, batch 32), the validation split every epoch, then the test split."""
    splits, _ = pipeline_splits(args["data"])
    base = mobilenet()
    for p in base.parameters():
        p.requires_grad = False
    model = nn.Sequential(base, nn.AdaptiveAvgPool2d(1), nn.Flatten(), head(1280))
    top_params = [p for p in model.parameters() if p.requires_grad]
    start = time.perf_counter()
    (stage,) = args["stages"]
    epochs_of(model, torch.optim.Adam(top_params, stage["learningRate"]), *splits["train"], stage["epochs"], args["batch"], None, splits["validation"])
    accuracy = evaluate(model, *splits["test"])
    return {"seconds": time.perf_counter() - start, "testAccuracy": accuracy, "trainImages": splits["train"][0].shape[0]}


def two_stage():
    """pipelines/two-stage.yaml at bench size: MobileNetV2 (tlpipe's weights) cut at block_13_expand_relu
    (torchvision's features[:14] + features[14].conv[0]); stage 1 the head on the frozen base (cosine
    from 3e-3), stage 2 block_12 and block_13's expansion unfrozen at 3e-5; validation every epoch, test
    at the end."""
    batch = args["batch"]
    splits, _ = pipeline_splits(args["data"])
    features = mobilenet_v2_features(args["weights"])
    base = nn.Sequential(*features[:14], features[14].conv[0])
    model = nn.Sequential(base, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(576, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))
    start = time.perf_counter()
    for p in base.parameters():
        p.requires_grad = False
    head_params = [p for p in model.parameters() if p.requires_grad]
    head_stage, tune_stage = args["stages"]
    peak, floor = head_stage["learningRate"], head_stage["minLearningRate"]
    cosine = lambda t: floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * t))
    epochs_of(model, torch.optim.Adam(head_params, peak), *splits["train"], head_stage["epochs"], batch, cosine, splits["validation"])
    for p in list(features[13].parameters()) + list(features[14].conv[0].parameters()):
        p.requires_grad = True
    tuned = [p for p in model.parameters() if p.requires_grad]
    epochs_of(model, torch.optim.Adam(tuned, tune_stage["learningRate"]), *splits["train"], tune_stage["epochs"], batch, None, splits["validation"])
    accuracy = evaluate(model, *splits["test"])
    return {"seconds": time.perf_counter() - start, "testAccuracy": accuracy, "trainImages": splits["train"][0].shape[0]}


def seed_cnn():
    """The seed article's CNN: conv 32 3×3 (valid, relu) → max-pool 2 → flatten → dense 256 relu → dropout 0.5
    → dense 10, Adam 1e-3, batch 32, `epochs` (1) over the training digits, then the test digits."""
    splits, index = pipeline_splits(args["data"])
    channels = index["inputShape"][2]
    model = nn.Sequential(nn.Conv2d(channels, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 13 * 13, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))
    start = time.perf_counter()
    (stage,) = args["stages"]
    epochs_of(model, torch.optim.Adam(model.parameters(), stage["learningRate"]), *splits["train"], stage["epochs"], args["batch"], None, splits["validation"])
    accuracy = evaluate(model, *splits["test"])
    return {"seconds": time.perf_counter() - start, "testAccuracy": accuracy, "trainImages": splits["train"][0].shape[0]}


CASES = {"steps": steps, "frozen_e2e": frozen_e2e, "two_stage": two_stage, "seed_cnn": seed_cnn, "peer": dict}
result = CASES[args["case"]]()
result["peer"] = peer_runtime.describe()
print(json.dumps(result))
