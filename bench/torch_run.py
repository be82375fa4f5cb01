#!/usr/bin/python3
"""PyTorch side of bench/run-vs-torch.sh: one whole run of jobs/mnist-paper.yaml
(seed 0's shape: 1000 training and 1000 held-out MNIST images, 784-200x4-10 ReLU,
N(0, 1/fan_in) weights, zero biases, AdamW lr 1e-4, weight decay 0.01 on weights
only, batch 64, float32) in PyTorch's fastest configuration (AdamW foreach=True,
torch.set_flush_denormal(True), 1 thread; the caller raises glibc's mmap and trim
thresholds), trained for STEPS steps and measured as the job measures: at step 0
and the distinct integers of logspace(0, log10(STEPS), 50), the training and
held-out loss and accuracy, and the local rank of the 4 hidden layers at 128
held-out points (every pre-activation Jacobian by functorch.vmap(jacfwd) and its
singular values by torch.linalg.svdvals, float64; counts above eps 0.1, 0.01,
0.001). Prints key-value lines: CPU seconds of training, measurement and
checkpoint metrics, the whole run's CPU and wall time, the last losses and the
last checkpoint's mean counts (a sanity check, not compared bit for bit: the two
sides draw different images and initial weights).

Usage: OPENBLAS_NUM_THREADS=1 torch_run.py IMAGES.gz LABELS.gz [STEPS=1000000]
"""
import os
import sys
import time

import numpy as np
import torch
import functorch

from torch_mnist import mnist_sample, paper_mlp


def checkpoints(steps, n=50):
    return sorted({0} | {int(v) for v in np.logspace(0, np.log10(steps), n)})


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: torch_run.py IMAGES.gz LABELS.gz [STEPS]")
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 1000000
    t_wall0, t_cpu0 = time.perf_counter(), time.process_time()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    xs, ys = mnist_sample(sys.argv[1], sys.argv[2], 2000)
    x, y, xh, yh = xs[:1000], ys[:1000], xs[1000:], ys[1000:]
    model, lins, opt = paper_mlp(init_normal=True, foreach=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    eps = [0.1, 0.01, 0.001]
    points = xh[:128].double()
    nb = 1000 // 64

    def metrics():
        with torch.no_grad():
            out = []
            for a, b in ((x, y), (xh, yh)):
                z = model(a)
                out += [float(loss_fn(z, b)), float((z.argmax(1) == b).float().mean())]
            return out

    def local_rank():
        W = [l.weight.detach().double() for l in lins[:4]]
        b = [l.bias.detach().double() for l in lins[:4]]

        def pres(v):
            out, h = [], v
            for l in range(4):
                p = W[l] @ h + b[l]
                out.append(p)
                h = torch.relu(p)
            return tuple(out)

        jacs = functorch.vmap(functorch.jacfwd(pres))(points)
        svals = [torch.linalg.svdvals(J) for J in jacs]
        return [np.array([(s > e).sum(1).double().mean().item() for e in eps]) for s in svals]

    ckpts = checkpoints(steps)
    cpu = {"train": 0.0, "measure": 0.0, "metrics": 0.0}
    perm, step, last = None, 0, None
    for c in ckpts:
        c0 = time.process_time()
        while step < c:
            if step % nb == 0:
                perm = torch.randperm(1000)
            idx = perm[(step % nb) * 64:(step % nb + 1) * 64]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            step += 1
        c1 = time.process_time()
        m = metrics()
        c2 = time.process_time()
        last = local_rank()
        c3 = time.process_time()
        cpu["train"] += c1 - c0
        cpu["metrics"] += c2 - c1
        cpu["measure"] += c3 - c2
        print(f"checkpoint {step} cpu_s {c3 - t_cpu0:.1f} train_loss {m[0]:.4g} "
              f"heldout_acc {m[3]:.4f} layer4_eps0.01 {last[3][1]:.2f}", flush=True)
    print(f"torch {torch.__version__}\nthreads {torch.get_num_threads()}\nsteps {steps}\n"
          f"checkpoints {len(ckpts)}\npoints {points.shape[0]}\n"
          f"OPENBLAS_CORETYPE {os.environ.get('OPENBLAS_CORETYPE', '(unset)')}\n"
          f"MALLOC_MMAP_THRESHOLD_ {os.environ.get('MALLOC_MMAP_THRESHOLD_', '(unset)')}")
    for k, v in cpu.items():
        print(f"{k}_cpu_s {v:.1f}")
    print(f"step_cpu_ms {1e3 * cpu['train'] / max(steps, 1):.4f}")
    print(f"total_cpu_s {time.process_time() - t_cpu0:.1f}\n"
          f"total_wall_s {time.perf_counter() - t_wall0:.1f}")
    print("final_mean_counts_eps0.01 " + " ".join(f"{l[1]:.2f}" for l in last))


if __name__ == "__main__":
    main()
