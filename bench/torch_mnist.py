"""What the PyTorch benchmarks share: MNIST's IDX files and the paper's MNIST
network (784-200x4-10, ReLU) with its optimiser (AdamW lr 1e-4, weight decay
0.01 on the weights only)."""
import gzip
import struct

import numpy as np
import torch

SIZES = [784, 200, 200, 200, 200, 10]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mnist_sample(images_path, labels_path, n):
    """n images drawn without replacement (NumPy generator seeded 0), normalised
    as the paper's job (mean 0.1307, std 0.3081): float32 inputs, int64 labels."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    pick = np.random.default_rng(0).choice(len(labels), n, replace=False)
    x = torch.tensor((images[pick].reshape(n, -1) / 255.0 - 0.1307) / 0.3081, dtype=torch.float32)
    return x, torch.tensor(labels[pick].astype(np.int64))


def paper_mlp(init_normal=True, foreach=False):
    """(model, its Linear layers, AdamW): N(0, 1/fan_in) weights and zero biases
    as the paper's job (init_normal), else torch's default initialisation;
    foreach: AdamW's multi-tensor update."""
    lins = [torch.nn.Linear(SIZES[i], SIZES[i + 1]) for i in range(len(SIZES) - 1)]
    if init_normal:
        for i, lin in enumerate(lins):
            torch.nn.init.normal_(lin.weight, 0.0, (1.0 / SIZES[i]) ** 0.5)
            torch.nn.init.zeros_(lin.bias)
    layers = []
    for i, lin in enumerate(lins):
        layers.append(lin)
        if i < len(lins) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    opt = torch.optim.AdamW([{"params": weights, "weight_decay": 0.01},
                             {"params": biases, "weight_decay": 0.0}], lr=1e-4,
                            **({"foreach": True} if foreach else {}))
    return model, lins, opt
