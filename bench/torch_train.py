#!/usr/bin/python3
"""PyTorch reference for bench_train: one training step of the paper's MNIST
shape (784-200-200-200-200-10, ReLU, batch 64, AdamW with weight decay on the
weights only, float32), and the floor of the same matrix products in torch.

Usage: OPENBLAS_NUM_THREADS=1 torch_train.py [threads=1] [steps=2000] [default|fast]
fast: PyTorch's fastest configuration we know on a CPU: AdamW with foreach=True
(one multi-tensor update), torch.set_flush_denormal(True); run it with
MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824 in the
environment (or jemalloc/tcmalloc), or glibc maps and unmaps every temporary
over 128 KB at each step (and with the first alone, trims and regrows the heap:
measured 16 ms per step against 3.4 ms with both, 1 thread, AMD EPYC).
"""
import os
import statistics
import sys
import time

import torch

from torch_mnist import SIZES, paper_mlp


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    fast = len(sys.argv) > 3 and sys.argv[3] == "fast"
    torch.set_num_threads(threads)
    if fast:
        torch.set_flush_denormal(True)
    torch.manual_seed(0)
    model, _, opt = paper_mlp(init_normal=False, foreach=fast)
    n, batch = 1000, 64
    X = torch.randn(n, 784)
    Y = torch.randint(0, 10, (n,))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(k):
        idx = perms[k % len(perms)]
        x, y = X[idx], Y[idx]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    perms = [torch.randperm(n)[:batch] for _ in range(15)]

    # The matrix products of one step: forward x W^T, backward G^T A (all
    # layers) and G W (all but the first layer).
    ws = [l.weight.detach().clone() for l in model if isinstance(l, torch.nn.Linear)]
    acts = [torch.randn(batch, s) for s in SIZES]
    outs = [torch.empty(batch, s) for s in SIZES]
    dws = [torch.empty_like(w) for w in ws]

    def floor():
        for i, w in enumerate(ws):
            torch.mm(acts[i], w.t(), out=outs[i + 1])
        for i in reversed(range(len(ws))):
            torch.mm(acts[i + 1].t(), acts[i], out=dws[i])
            if i > 0:
                torch.mm(acts[i + 1], ws[i], out=outs[i])

    for k in range(200):
        step(k)
        floor()
    rounds = 21
    per = max(steps // rounds, 1)
    st, ft, sc, fc = [], [], [], []
    k = 0
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(per):
            loss = step(k)
            k += 1
        t1, c1 = time.perf_counter(), time.process_time()
        for _ in range(per):
            floor()
        t2, c2 = time.perf_counter(), time.process_time()
        st.append((t1 - t0) / per)
        ft.append((t2 - t1) / per)
        sc.append((c1 - c0) / per)
        fc.append((c2 - c1) / per)
    s, f = statistics.median(st), statistics.median(ft)
    scm, fcm = statistics.median(sc), statistics.median(fc)
    print("torch train step: 784-200x4-10 relu batch 64 adamw float32")
    print("torch", torch.__version__)
    print("threads", torch.get_num_threads())
    print("configuration", "fast (AdamW foreach, flush_denormal)" if fast else "default")
    for v in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        print(v, os.environ.get(v, "(unset)"))
    print("OPENBLAS_NUM_THREADS", os.environ.get("OPENBLAS_NUM_THREADS", "(unset)"))
    print("OPENBLAS_CORETYPE", os.environ.get("OPENBLAS_CORETYPE", "(unset)"))
    print("step_ms %.4f" % (1e3 * s))
    print("floor_ms %.4f" % (1e3 * f))
    print("ratio_step_over_floor %.3f" % (s / f))
    print("step_min_ms %.4f" % (1e3 * min(st)))
    print("floor_min_ms %.4f" % (1e3 * min(ft)))
    print("ratio_min_step_over_floor %.3f" % (min(st) / min(ft)))
    print("step_cpu_ms %.4f" % (1e3 * scm))
    print("floor_cpu_ms %.4f" % (1e3 * fcm))
    print("ratio_cpu_step_over_floor %.3f" % (scm / fcm))
    print("loadavg_1min %.2f" % os.getloadavg()[0])
    print("final_loss %.6f" % float(loss))


if __name__ == "__main__":
    main()
