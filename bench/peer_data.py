"""The images bench/peer-data.ts wrote for the PyTorch peer (tlpipe's own selection and
preprocessing of the pipeline's MNIST digits), as NCHW float tensors and int64 labels."""
import json
import os

import numpy as np
import torch


def _tensor(path, dtype, shape):
    return torch.from_numpy(np.fromfile(path, dtype=dtype).reshape(shape))


def pipeline_splits(data_dir):
    """{"train": (x, y), "validation": (x, y), "test": (x, y)} and the index (classes, shape, …)."""
    index = json.load(open(os.path.join(data_dir, "index.json")))
    h, w, c = index["inputShape"]
    splits = {}
    for name, files in index["splits"].items():
        x = _tensor(os.path.join(data_dir, files["images"]), np.float32, (files["count"], h, w, c))
        y = _tensor(os.path.join(data_dir, files["labels"]), np.int32, (files["count"],))
        splits[name] = (x.permute(0, 3, 1, 2).contiguous(), y.long())
    return splits, index


def step_inputs(data_dir):
    """The per-step cases' real-digit batches: x28 (64), x96, x224, pixels96 (32) NCHW; labels64, labels32."""
    index = json.load(open(os.path.join(data_dir, "index.json")))
    out = {}
    for name, entry in index.items():
        t = _tensor(os.path.join(data_dir, entry["file"]), np.float32 if entry["dtype"] == "float32" else np.int32, entry["shape"])
        out[name] = t.long() if entry["dtype"] == "int32" else t.permute(0, 3, 1, 2).contiguous()
    return out
