#!/usr/bin/python3
"""Cross-check of ranksweep's float64 training against PyTorch 1.13.

Runs the C export program (tests/model/train_export.c) into a temporary
directory, then replays every exported run in torch float64: same initial
weights, same batches, torch.optim SGD/Adam/AdamW with LambdaLR schedules.
The loss of every step must agree to 1e-9 relative and the final weights
closely. Usage: test_train_vs_torch.py TRAIN_EXPORT_EXECUTABLE [steps]
"""
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

LOSS_RTOL = 1e-9
WEIGHT_RTOL = 1e-8


def parse_manifest(path):
    datasets, runs = {}, []
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines[0] == "format ranksweep-train-export 1", lines[0]
    for line in lines[1:]:
        kind, name, *fields = line.split()
        entry = dict(kv.split("=", 1) for kv in fields)
        entry["name"] = name
        if kind == "dataset":
            datasets[name] = entry
        elif kind == "run":
            runs.append(entry)
        else:
            raise ValueError("manifest: unknown record " + kind)
    return datasets, runs


def load(d, name, dtype):
    return np.fromfile(os.path.join(d, name), dtype=np.dtype(dtype).newbyteorder("<"))


def schedule(run):
    kind, steps = run["schedule"], int(run["schedule_steps"])
    every, gamma = int(run["step_every"]), float(run["step_gamma"])
    if kind == "constant":
        return lambda t: 1.0
    if kind == "cosine":
        return lambda t: 0.5 * (1.0 + math.cos(math.pi * t / steps))
    if kind == "step":
        return lambda t: gamma ** (t // every)
    raise ValueError(kind)


def replay(d, ds, run):
    sizes = [int(s) for s in run["sizes"].split(",")]
    n, dim, outs = int(ds["n"]), int(ds["dim"]), int(ds["outputs"])
    assert sizes[0] == dim and sizes[-1] == outs
    x = torch.from_numpy(load(d, ds["x"], "f8").reshape(n, dim).copy())
    if ds["kind"] == "classification":
        labels = torch.from_numpy(load(d, ds["labels"], "i8").copy())
        targets = torch.nn.functional.one_hot(labels, outs).double()
    else:
        labels = None
        targets = torch.from_numpy(load(d, ds["targets"], "f8").reshape(n, outs).copy())
    steps, batch = int(run["steps"]), int(run["batch"])
    batches = torch.from_numpy(load(d, run["batches"], "i8").reshape(steps, batch).copy())
    losses_c = load(d, run["losses"], "f8")
    init = load(d, run["init"], "f8")
    final_c = load(d, run["final"], "f8")
    assert init.size == int(run["nparams"]) and losses_c.size == steps

    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "identity": torch.nn.Identity,
           "gelu": torch.nn.GELU}[run["activation"]]
    vib = run["model"] == "vib"
    latent = int(run["latent"])
    # Layer shapes (in, out) in the flat layout's order: MLP: the sizes chain;
    # VIB: the encoder chain, the head to 2K, then the decoder K -> outputs.
    if vib:
        shapes = list(zip(sizes[:-2], sizes[1:-1])) + [(sizes[-2], 2 * latent),
                                                        (latent, sizes[-1])]
    else:
        shapes = list(zip(sizes[:-1], sizes[1:]))
    linears = []
    off = 0
    for fan_in, fan_out in shapes:
        lin = torch.nn.Linear(fan_in, fan_out).double()
        nw = fan_in * fan_out
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(init[off:off + nw].reshape(fan_out, fan_in)))
            lin.bias.copy_(torch.from_numpy(init[off + nw:off + nw + fan_out]))
        off += nw + fan_out
        linears.append(lin)
    assert off == init.size
    nenc = len(linears) - 1 if vib else len(linears)
    layers = []
    for i in range(nenc):
        layers.append(linears[i])
        if i < nenc - 1:
            layers.append(act())
    model = torch.nn.Sequential(*layers)
    if vib:
        noise = torch.from_numpy(load(d, run["noise"], "f8").reshape(steps, batch, latent).copy())
        beta = float(run["beta"])

        def forward(xb, s):
            h = model(xb)
            mu, sigma = h[:, :latent], torch.nn.functional.softplus(h[:, latent:] - 5.0)
            z = mu + sigma * noise[s]
            kl = (0.5 * (mu * mu + sigma * sigma - 1.0) - torch.log(sigma)).sum(1).mean()
            return linears[-1](z), beta * kl
    else:
        def forward(xb, s):
            return model(xb), 0.0

    wd = float(run["weight_decay"])
    groups = [{"params": [m.weight for m in linears], "weight_decay": wd},
              {"params": [m.bias for m in linears],
               "weight_decay": wd if run["decay_biases"] == "1" else 0.0}]
    lr = float(run["lr"])
    opt_name = run["optimizer"]
    betas = (float(run["beta1"]), float(run["beta2"]))
    if opt_name == "sgd":
        opt = torch.optim.SGD(groups, lr=lr, momentum=float(run["momentum"]),
                              dampening=0, nesterov=False)
    elif opt_name == "adam":
        opt = torch.optim.Adam(groups, lr=lr, betas=betas, eps=float(run["eps"]))
    elif opt_name == "adamw":
        opt = torch.optim.AdamW(groups, lr=lr, betas=betas, eps=float(run["eps"]))
    else:
        raise ValueError(opt_name)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule(run))

    worst = 0.0
    for s in range(steps):
        idx = batches[s]
        opt.zero_grad()
        out, extra = forward(x[idx], s)
        if run["loss"] == "cross_entropy":
            loss = torch.nn.functional.cross_entropy(out, labels[idx]) + extra
        else:
            loss = torch.nn.functional.mse_loss(out, targets[idx]) + extra
        loss.backward()
        opt.step()
        sched.step()
        rel = abs(loss.item() - losses_c[s]) / abs(losses_c[s])
        worst = max(worst, rel)
        if not rel < LOSS_RTOL:
            raise AssertionError("%s: step %d: torch loss %.17g, ranksweep %.17g (rel %.3g)"
                                 % (run["name"], s, loss.item(), losses_c[s], rel))
    final_t = np.concatenate([np.concatenate([m.weight.detach().numpy().ravel(),
                                              m.bias.detach().numpy()]) for m in linears])
    wrel = np.linalg.norm(final_t - final_c) / np.linalg.norm(final_c)
    moved = np.linalg.norm(final_c - init) / np.linalg.norm(init)
    if not wrel < WEIGHT_RTOL:
        raise AssertionError("%s: final weights differ: relative %.3g" % (run["name"], wrel))
    # The comparison must not be vacuous: training moved the weights and the loss.
    if not (moved > 1e-3 and losses_c[-1] < losses_c[0]):
        raise AssertionError("%s: training did not move (weights %.3g, loss %.4g -> %.4g)"
                             % (run["name"], moved, losses_c[0], losses_c[-1]))
    print("%-14s %s %s %s: %d steps, loss %.5f -> %.5f, max loss rel diff %.2e, "
          "final weights rel diff %.2e" % (run["name"], run["model"], opt_name, run["activation"], steps,
                                           losses_c[0], losses_c[-1], worst, wrel))


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: test_train_vs_torch.py TRAIN_EXPORT_EXECUTABLE [steps]")
    torch.set_num_threads(1)
    steps = sys.argv[2] if len(sys.argv) == 3 else "200"
    with tempfile.TemporaryDirectory(prefix="rs-train-export-") as d:
        subprocess.run([sys.argv[1], d, steps], check=True)
        datasets, runs = parse_manifest(os.path.join(d, "manifest.txt"))
        if not runs:
            raise AssertionError("export wrote no runs")
        for run in runs:
            replay(d, datasets[run["dataset"]], run)
    print("torch-train: %d runs agree" % len(runs))


if __name__ == "__main__":
    main()
