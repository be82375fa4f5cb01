#!/usr/bin/python3
"""PyTorch side of bench/late-phase.sh: the paper's MNIST training (784-200x4-10,
ReLU, AdamW lr 1e-4, weight decay 0.01 on weights only, batch 64, float32, 1000
training images) timed at the start and after LATE steps, with
torch.set_flush_denormal False (PyTorch's default) and True, from the same
saved state. Prints key-value lines like bench_late.

Usage: OPENBLAS_NUM_THREADS=1 torch_late.py IMAGES.gz LABELS.gz [late=120000] [window=2000] [threads=1]
"""
import copy
import sys
import time

import torch

from torch_mnist import mnist_sample, paper_mlp


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: torch_late.py IMAGES.gz LABELS.gz [late] [window] [threads]")
    late = int(sys.argv[3]) if len(sys.argv) > 3 else 120000
    window = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
    threads = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x, y = mnist_sample(sys.argv[1], sys.argv[2], 1000)
    model, _, opt = paper_mlp(init_normal=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    state = {"step": 0, "perm": None}
    nb = 1000 // 64

    def train(n):
        loss = None
        for _ in range(n):
            s = state["step"]
            if s % nb == 0:
                state["perm"] = torch.randperm(1000)
            idx = state["perm"][(s % nb) * 64:(s % nb + 1) * 64]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            state["step"] += 1
        return float(loss)

    def snapshot():
        return copy.deepcopy((model.state_dict(), opt.state_dict(), dict(state),
                              torch.get_rng_state()))

    def restore(snap):
        m, o, st, r = copy.deepcopy(snap)
        model.load_state_dict(m)
        opt.load_state_dict(o)
        state.update(st)
        torch.set_rng_state(r)

    def timed(snap, flush):
        restore(snap)
        torch.set_flush_denormal(flush)
        c0, w0 = time.process_time(), time.perf_counter()
        train(window)
        c1, w1 = time.process_time(), time.perf_counter()
        return 1e3 * (c1 - c0) / window, 1e3 * (w1 - w0) / window

    print(f"torch {torch.__version__}\nthreads {threads}\nwindow {window}\nlate_step {late}")
    early = snapshot()
    for flush in (False, True):
        c, w = timed(early, flush)
        tag = "ftz" if flush else "ieee"
        print(f"early_{tag}_cpu_ms {c:.4f}\nearly_{tag}_wall_ms {w:.4f}")
    restore(early)
    torch.set_flush_denormal(True)
    c0 = time.process_time()
    loss = train(late)
    print(f"to_late_cpu_s {time.process_time() - c0:.1f}\nlate_loss {loss:.3g}")
    snap = snapshot()
    best = {False: (1e30, 1e30), True: (1e30, 1e30)}
    for _ in range(3):
        for flush in (False, True):
            c, w = timed(snap, flush)
            best[flush] = (min(best[flush][0], c), min(best[flush][1], w))
    for flush in (False, True):
        tag = "ftz" if flush else "ieee"
        print(f"late_{tag}_cpu_ms {best[flush][0]:.4f}\nlate_{tag}_wall_ms {best[flush][1]:.4f}")


if __name__ == "__main__":
    main()
