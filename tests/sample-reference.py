#!/usr/bin/env python3
"""sample-reference.py — the --sample N --seed S subset written again from its specification
(atop io/select.c), independently of the C code: prints the chosen images' relative paths in
sorted order, one a line. Usage: sample-reference.py ROOT N SEED (an ImageFolder whose class
folders start with their number, or a flat folder)."""
import os
import sys

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, m):
        reject = (1 << 64) % m
        while True:
            r = self.next()
            if r >= reject:
                return r % m


def images(root):
    rels = []
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        for f in files:
            if not f.startswith(".") and f.lower().endswith((".png", ".jpg", ".jpeg")):
                rels.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(rels, key=lambda r: r.encode())


def label(rel):
    if "/" not in rel:
        return -1
    top = rel.split("/")[0]
    return int(top.split("_")[0])


def sample(rels, n, seed):
    if n >= len(rels):
        return rels
    rng = SplitMix64(seed)
    labels = sorted({label(r) for r in rels})
    members = {k: [i for i, r in enumerate(rels) if label(r) == k] for k in labels}
    order = list(range(len(labels)))
    for i in range(len(labels) - 1, 0, -1):
        j = rng.below(i + 1)
        order[i], order[j] = order[j], order[i]
    quota = {k: 0 for k in labels}
    remaining = n
    while remaining > 0:
        open_classes = [k for k in labels if quota[k] < len(members[k])]
        share = remaining // len(open_classes)
        for pos in order:
            k = labels[pos]
            if remaining == 0:
                break
            if quota[k] == len(members[k]):
                continue
            give = min(share if share else 1, len(members[k]) - quota[k])
            quota[k] += give
            remaining -= give
    chosen = set()
    for k in labels:
        items = members[k][:]
        for i in range(quota[k]):
            j = i + rng.below(len(items) - i)
            items[i], items[j] = items[j], items[i]
            chosen.add(items[i])
    return [rels[i] for i in sorted(chosen)]


if __name__ == "__main__":
    root, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    for rel in sample(images(root), n, seed):
        print(rel)
