#!/usr/bin/python3
"""Compares the scientific content of two ranksweep archives bit for bit:
every group, dataset (dtype, shape and raw bytes, so NaN payloads and -0.0
count) and attribute, recursively, EXCLUDING the /provenance group (times,
hosts, rank counts, versions). Prints the first differences.
Usage: compare_archives.py A.h5 B.h5   (exit 0: identical, 1: different)"""
import sys

import h5py
import numpy as np

MAX_REPORT = 20


def resolve(value, f):
    """Object references (dimension-scale attributes) replaced by the paths
    they point to, recursively, so two files compare by what they reference."""
    if isinstance(value, h5py.Reference):
        return ("ref", f[value].name if value else None)
    if isinstance(value, np.ndarray):
        return resolve(value.tolist(), f)
    if isinstance(value, (list, tuple)):
        return [resolve(v, f) for v in value]
    return value


def raw(value, f=None):
    """Bytes and type of an attribute or dataset value, comparable exactly."""
    arr = np.asarray(value)
    if arr.dtype.hasobject:  # variable-length strings, references
        return repr(resolve(arr, f)).encode(), str(arr.dtype), arr.shape
    return arr.tobytes(), arr.dtype.str, arr.shape


def describe_difference(a, b):
    """Where two equal-shaped arrays first differ, as text."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype or a.ndim == 0 or a.dtype.hasobject:
        return f"{a!r} vs {b!r}"
    av = a.view(np.uint8).reshape(a.shape + (-1,)) if a.dtype.kind != "S" else a
    bv = b.view(np.uint8).reshape(b.shape + (-1,)) if b.dtype.kind != "S" else b
    neq = av != bv
    if neq.ndim > a.ndim:
        neq = neq.any(axis=-1)
    idx = np.argwhere(neq)
    first = tuple(int(i) for i in idx[0])
    return f"{len(idx)} cells differ, first at {list(first)}: {a[first]!r} vs {b[first]!r}"


def compare(path_a, path_b):
    diffs = []

    def diff(msg):
        diffs.append(msg)

    with h5py.File(path_a, "r") as fa, h5py.File(path_b, "r") as fb:
        def walk(name):
            ga = fa[name] if name else fa
            gb = fb[name] if name else fb
            attrs_a, attrs_b = set(ga.attrs.keys()), set(gb.attrs.keys())
            for k in sorted(attrs_a ^ attrs_b):
                diff(f"/{name} attribute {k!r} only in {'A' if k in attrs_a else 'B'}")
            for k in sorted(attrs_a & attrs_b):
                va, vb = ga.attrs[k], gb.attrs[k]
                if raw(va, fa) != raw(vb, fb):
                    diff(f"/{name} attribute {k!r}: {describe_difference(va, vb)}")
            if isinstance(ga, h5py.Dataset) or isinstance(gb, h5py.Dataset):
                if not (isinstance(ga, h5py.Dataset) and isinstance(gb, h5py.Dataset)):
                    diff(f"/{name}: dataset in one archive, group in the other")
                    return
                if ga.dtype != gb.dtype or ga.shape != gb.shape:
                    diff(f"/{name}: {ga.dtype}{ga.shape} vs {gb.dtype}{gb.shape}")
                    return
                va, vb = ga[()], gb[()]
                if raw(va, fa) != raw(vb, fb):
                    diff(f"/{name}: {describe_difference(va, vb)}")
                return
            keys_a, keys_b = set(ga.keys()), set(gb.keys())
            for k in sorted(keys_a ^ keys_b):
                full = f"{name}/{k}" if name else k
                if full != "provenance":
                    diff(f"/{full} only in {'A' if k in keys_a else 'B'}")
            for k in sorted(keys_a & keys_b):
                full = f"{name}/{k}" if name else k
                if full != "provenance":
                    walk(full)

        walk("")
    return diffs


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        diffs = compare(argv[1], argv[2])
    except (OSError, KeyError) as e:
        print(f"compare_archives: {e}", file=sys.stderr)
        return 2
    if not diffs:
        print(f"identical scientific content: {argv[1]} {argv[2]}")
        return 0
    print(f"{len(diffs)} differences between {argv[1]} and {argv[2]}:")
    for d in diffs[:MAX_REPORT]:
        print("  " + d)
    if len(diffs) > MAX_REPORT:
        print(f"  ... and {len(diffs) - MAX_REPORT} more")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
