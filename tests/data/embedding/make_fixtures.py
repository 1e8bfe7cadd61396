#!/usr/bin/python3
"""Writes the tiny word2vec fixtures used by tests/embedding (run from this folder).

tiny.w2v.txt and tiny.w2v.bin hold the same 6 words x 4 dimensions, in the word2vec text and
binary formats (binary: header "6 4\n", then word, ' ', 4 little-endian float32, '\n').
Values are exact in float32 so both files must load to identical matrices.
"""
import struct

WORDS = [
    ("the", [0.5, 0.25, -0.125, 1.0]),
    ("nurse", [1.0, 0.0, 0.5, -0.25]),
    ("doctor", [0.75, 0.125, 0.5, -0.5]),
    ("dog", [-1.0, 0.5, 0.0, 0.25]),
    ("cat", [-0.75, 0.625, 0.125, 0.25]),
    ("do", [0.0, -0.5, 1.5, 2.0]),
]

with open("tiny.w2v.txt", "w") as f:
    f.write("6 4\n")
    for w, v in WORDS:
        f.write(w + " " + " ".join(repr(x) for x in v) + "\n")

with open("tiny.w2v.bin", "wb") as f:
    f.write(b"6 4\n")
    for w, v in WORDS:
        f.write(w.encode() + b" " + struct.pack("<4f", *v) + b"\n")

# Headerless text (GloVe's own .txt layout).
with open("tiny.glove.txt", "w") as f:
    for w, v in WORDS:
        f.write(w + " " + " ".join(repr(x) for x in v) + "\n")

# Truncated binary: header promises 6 words, only 2.5 are there.
with open("tiny_truncated.w2v.bin", "wb") as f:
    f.write(b"6 4\n")
    for w, v in WORDS[:2]:
        f.write(w.encode() + b" " + struct.pack("<4f", *v) + b"\n")
    f.write(b"doctor " + struct.pack("<2f", 0.75, 0.125))

# Text with a bad number on line 4.
with open("tiny_bad.w2v.txt", "w") as f:
    f.write("3 4\nthe 0.5 0.25 -0.125 1.0\nnurse 1.0 0.0 0.5 -0.25\ndog -1.0 zero 0.0 0.25\n")
