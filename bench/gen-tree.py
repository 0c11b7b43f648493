#!/usr/bin/python3
"""Builds a tree of real-looking source text for the scan benchmarks.

Copies text files from the machine's own headers and libraries (C headers,
Python and Perl sources) under new names until the tree reaches the wanted
size, and plants a known number of syntactically valid bst_ tokens (random,
never issued) in some files. Prints the number of planted tokens.

usage: gen-tree.py DEST_DIR SIZE_MB
"""
import base64
import os
import random
import sys

SOURCES = ["/usr/include", "/usr/lib/python3.11", "/usr/share/perl", "/usr/lib/python3"]
TEXT_EXT = {".h", ".c", ".py", ".pm", ".pl", ".hpp", ".txt", ".cfg", ".json"}


def candidates():
    for root in SOURCES:
        for d, _, files in os.walk(root):
            for f in files:
                p = os.path.join(d, f)
                if os.path.splitext(f)[1] in TEXT_EXT and os.path.isfile(p) and not os.path.islink(p):
                    try:
                        if 0 < os.path.getsize(p) < 2_000_000:
                            yield p
                    except OSError:
                        pass


def token(rng):
    return "bst_" + base64.urlsafe_b64encode(rng.randbytes(32)).decode().rstrip("=")


def main():
    dest, size_mb = sys.argv[1], int(sys.argv[2])
    rng = random.Random(20261127)
    files = sorted(set(candidates()))
    target = size_mb << 20
    total = planted = n = 0
    rnd = 0
    while total < target:
        for src in files:
            if total >= target:
                break
            try:
                data = open(src, "rb").read()
            except OSError:
                continue
            n += 1
            out = os.path.join(dest, "r%d" % rnd, os.path.relpath(src, "/").replace("/", "_")[:120])
            if n % 97 == 0:
                lines = data.split(b"\n")
                at = rng.randrange(len(lines))
                lines.insert(at, b'API_TOKEN = "' + token(rng).encode() + b'"')
                data = b"\n".join(lines)
                planted += 1
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(out, "wb") as f:
                f.write(data)
            total += len(data)
        rnd += 1
    print(planted)


main()
