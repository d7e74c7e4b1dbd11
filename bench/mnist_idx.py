"""MNIST's IDX files as uint8 tensors, for the PyTorch peers in bench/."""
import os
import struct

import torch


def idx(data_dir, name):
    with open(os.path.join(data_dir, name), "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = struct.unpack(">" + "I" * dims, raw[4:4 + 4 * dims])
    return torch.frombuffer(bytearray(raw[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)
