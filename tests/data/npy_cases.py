#!/usr/bin/python3
"""Writes .npy test files with numpy itself, and what the C reader must make
of them, for tests/data/test_data.c (test npy_files).

usage: npy_cases.py DIR
DIR/good.txt: one case per line:
  name images labels classes|targets n dim outputs normalize xfile yfile
  (xfile: every example of `images` normalised as numpy computes it, float64
  C order; yfile: the labels as int64 or the targets as float64)
DIR/bad.txt: name images labels normalize expected-substring-of-the-message
"""
import os
import sys

import numpy as np
from numpy.lib import format as npf

d = sys.argv[1]
os.makedirs(d, exist_ok=True)
rng = np.random.default_rng(7)


def save(name, a, version=None):
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        if version is None:
            np.save(f, a)
        else:
            npf.write_array(f, a, version=version)
    return path


def expect_x(raw, mode, mean=0.1307, std=0.3081):
    x = raw.reshape(len(raw), -1)
    x = x / 255.0 if raw.dtype == np.uint8 else x.astype(np.float64)
    if mode == "none":
        return x
    if mode == "fixed":
        return (x - mean) / std
    if mode == "global":
        s = x.std()
        return (x - x.mean()) / (s if s > 0 else 1.0)
    s = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(s > 0, s, 1.0)


good = open(os.path.join(d, "good.txt"), "w")
n = 40
# Versions 1.0, 2.0, 3.0; both byte orders; uint8, float32, float64 inputs of
# several shapes; integer labels of several widths, float targets 1-D and 2-D.
cases = [
    ("v1_u8_img", (1, 0), np.uint8, (n, 4, 3, 2), "<i8", None, "fixed"),
    ("v2_f4_le", (2, 0), "<f4", (n, 7), "<i4", None, "per_feature"),
    ("v3_f8_be", (3, 0), ">f8", (n, 5), "|u1", None, "global"),
    ("v1_f4_be_targets", (1, 0), ">f4", (n, 3, 2), None, (n,), "none"),
    ("v1_f8_targets2d", (1, 0), "<f8", (n, 6), None, (n, 3), "per_feature"),
    ("v2_u8_auto", (2, 0), np.uint8, (n, 9), ">i2", None, "auto"),
    ("v1_1d_inputs", (1, 0), "<f8", (n,), "<u2", None, "per_feature"),
]
for name, ver, dt, shape, ldt, tshape, mode in cases:
    if np.dtype(dt).kind == "u":
        raw = rng.integers(0, 256, size=shape).astype(dt)
    else:
        raw = (rng.normal(size=shape) * 3 + 1).astype(dt)
    if name == "v2_f4_le":
        raw[:, 2] = 5.0  # a constant feature: centred, not divided by zero
    xp = save(name + "_x.npy", raw, ver)
    if ldt is not None:
        lab = (np.arange(n) % 4).astype(ldt)
        rng.shuffle(lab)
        yp = save(name + "_y.npy", lab, ver)
        ytrue = lab.astype(np.int64)
        kind, outputs = "classes", int(ytrue.max()) + 1
    else:
        tgt = rng.normal(size=tshape).astype(dt if np.dtype(dt).kind == "f" else "<f8")
        yp = save(name + "_y.npy", tgt, ver)
        ytrue = tgt.astype(np.float64).reshape(n, -1)
        kind, outputs = "targets", ytrue.shape[1]
    resolved = "per_feature" if mode == "auto" else mode
    ex = np.ascontiguousarray(expect_x(raw, resolved), dtype="<f8")
    xf = os.path.join(d, name + "_x.f64")
    ex.tofile(xf)
    yf = os.path.join(d, name + "_y.bin")
    np.ascontiguousarray(ytrue, dtype="<i8" if kind == "classes" else "<f8").tofile(yf)
    dim = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    print(name, xp, yp, kind, n, dim, outputs, mode, xf, yf, file=good)
good.close()

# Broken files, each with a piece of the message the reader must give.
bad = open(os.path.join(d, "bad.txt"), "w")
x = rng.normal(size=(30, 4)).astype(np.float32)
y = (np.arange(30) % 3).astype(np.int64)
xp, yp = save("ok_x.npy", x), save("ok_y.npy", y)
raw = open(xp, "rb").read()


def broken(name, data):
    p = os.path.join(d, name)
    open(p, "wb").write(data)
    return p


def hdr(text, version=1):
    text = text + " " * ((64 - (10 + len(text) + 1) % 64) % 64) + "\n"
    ln = len(text).to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + ln + text.encode()


body = x.tobytes()
rows = [
    ("truncated", broken("trunc.npy", raw[:-7]), yp, "truncated data: 473 of 480 bytes"),
    ("truncated_header", broken("trunc_hdr.npy", raw[:40]), yp, "truncated header"),
    ("empty", broken("empty.npy", b""), yp, "not a .npy file: shorter than"),
    ("bad_magic", broken("magic.npy", b"\x93NUMPZ" + raw[6:]), yp, "not a .npy file: bad magic"),
    ("version_4", broken("v4.npy", raw[:6] + b"\x04\x00" + raw[8:]), yp,
     "format version 4.0 is not supported"),
    ("dict_unknown_key", broken("dict1.npy", hdr("{'descr': '<f4', 'fortran_order': False, "
                                                 "'shape': (30, 4), 'extra': 1, }") + body),
     yp, "bad .npy header: unknown key 'extra'"),
    ("dict_no_shape", broken("dict2.npy", hdr("{'descr': '<f4', 'fortran_order': False, }")
                             + body), yp, "bad .npy header: no 'shape'"),
    ("dict_not_dict", broken("dict3.npy", hdr("['descr', '<f4']") + body), yp,
     "bad .npy header: no '{'"),
    ("dict_bad_shape", broken("dict4.npy", hdr("{'descr': '<f4', 'fortran_order': False, "
                                               "'shape': (30, x), }") + body),
     yp, "'shape' holds something other than sizes"),
    ("dict_bad_bool", broken("dict5.npy", hdr("{'descr': '<f4', 'fortran_order': false, "
                                              "'shape': (30, 4), }") + body),
     yp, "'fortran_order' is neither True nor False"),
    ("trailing", broken("trail.npy", raw + b"\0\0\0\0"), yp, "trailing bytes"),
    ("fortran", save("fortran.npy", np.asfortranarray(x)), yp, "fortran_order is True"),
    ("object", save("object.npy", np.array([None] * 30, dtype=object)), yp,
     "dtype '|O' holds Python objects"),
    ("complex", save("complex.npy", x.astype(np.complex64)), yp, "dtype '<c8' is not supported"),
    ("structured", save("struct.npy", np.zeros(30, dtype=[("a", "<f4"), ("b", "<i4")])), yp,
     "structured dtype"),
    ("int_inputs", save("int_x.npy", np.ones((30, 4), dtype=np.int32)), yp,
     "dtype '<i4' for inputs (expected uint8, float32 or float64)"),
    ("scalar", save("scalar.npy", np.float32(3)), yp, "a 0-dimensional array"),
    ("zero_examples", save("zero.npy", np.zeros((0, 4), np.float32)), yp, "dimension 0 is 0"),
    ("shape_mismatch", xp, save("y29.npy", y[:29]), "29 labels but"),
    ("label_negative", xp, save("yneg.npy", np.where(np.arange(30) == 4, -2, y)),
     "label -2 of example 4 is out of range"),
    ("label_huge", xp, save("ybig.npy", np.where(np.arange(30) == 9, 1 << 40, y)),
     "label 1099511627776 of example 9 is out of range"),
    ("labels_2d_int", xp, save("y2d.npy", np.stack([y, y], 1)), "integer labels of shape (30, 2)"),
    ("one_class", xp, save("y0.npy", np.zeros(30, np.int64)), "every label is 0"),
    ("nan_input", save("nanx.npy", np.where(np.arange(120).reshape(30, 4) == 13, np.nan, x)
                       .astype(np.float32)), yp, "value 13 (example 3, entry 1) is NaN"),
    ("inf_target", xp, save("inft.npy", np.where(np.arange(30) == 2, np.inf, 1.0)),
     "value 2 (example 2, entry 0) is infinite"),
    ("gzip_idx", broken("idx.npy.gz", b"\x1f\x8b\x08\x00" + b"\0" * 20), yp,
     "perhaps an IDX file for data.kind idx"),
    ("header_len_huge", broken("hlen.npy", raw[:8] + b"\xff\xff" + raw[10:]), yp,
     "truncated header"),
]
for name, ip, lp, msg in rows:
    print(name, ip, lp, msg, sep="\t", file=bad)
bad.close()
print("wrote", len(cases), "good and", len(rows), "bad cases to", d)
