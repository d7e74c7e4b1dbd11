"""torchvision's MobileNetV2 with the weights tlpipe's zoo gives it (nsfwjs's, written as float32
files by bench/export-zoo-weights.ts), converted so both compute the same function: Keras' (0, 1)
padding at stride 2 and its batch-norm epsilon. bench/pytorch_seed_transfer.py checks the
conversion against tfjs's output at a cut; bench/pytorch_cases.py uses it so the peer's frozen base
sees the features tlpipe's does (a random base would make a peer that cannot learn)."""
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torchvision


def _weights(weights_dir):
    index = json.load(open(os.path.join(weights_dir, "index.json")))

    def weight(name):
        entry = index[name]
        return torch.from_numpy(np.fromfile(os.path.join(weights_dir, entry["file"]), dtype=np.float32).reshape(entry["shape"]))

    return weight


def mobilenet_v2_features(weights_dir):
    """`features` of torchvision's mobilenet_v2 (net[0] Conv1 … net[18] the last 1×1 conv, out_relu)."""
    weight = _weights(weights_dir)

    def load_conv(conv, name, depthwise=False):
        w = weight(f"{name}/depthwise_kernel" if depthwise else f"{name}/kernel")
        conv.weight.data.copy_(w.permute(2, 3, 0, 1) if depthwise else w.permute(3, 2, 0, 1))

    def load_bn(bn, name):
        bn.eps = 1e-3  # Keras' BatchNormalization default
        bn.weight.data.copy_(weight(f"{name}/gamma"))
        bn.bias.data.copy_(weight(f"{name}/beta"))
        bn.running_mean.copy_(weight(f"{name}/moving_mean"))
        bn.running_var.copy_(weight(f"{name}/moving_variance"))

    net = torchvision.models.mobilenet_v2().features
    load_conv(net[0][0], "Conv1")
    load_bn(net[0][1], "bn_Conv1")
    load_conv(net[1].conv[0][0], "expanded_conv_depthwise", depthwise=True)
    load_bn(net[1].conv[0][1], "expanded_conv_depthwise_BN")
    load_conv(net[1].conv[1], "expanded_conv_project")
    load_bn(net[1].conv[2], "expanded_conv_project_BN")
    for block in range(1, 17):
        m = net[block + 1].conv
        load_conv(m[0][0], f"block_{block}_expand")
        load_bn(m[0][1], f"block_{block}_expand_BN")
        load_conv(m[1][0], f"block_{block}_depthwise", depthwise=True)
        load_bn(m[1][1], f"block_{block}_depthwise_BN")
        load_conv(m[2], f"block_{block}_project")
        load_bn(m[3], f"block_{block}_project_BN")
    load_conv(net[18][0], "Conv_1")
    load_bn(net[18][1], "Conv_1_bn")
    # Keras pads stride-2 convolutions by (0, 1) on each axis (ZeroPadding2D with correct_pad), torchvision by 1 on both sides.
    strided = [(module, i, child) for module in net.modules() if isinstance(module, nn.Sequential) for i, child in enumerate(module) if isinstance(child, nn.Conv2d) and child.stride == (2, 2)]
    for module, i, child in strided:
        child.padding = (0, 0)
        module[i] = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), child)
    return net
