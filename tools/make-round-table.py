#!/usr/bin/python3
"""make-round-table.py — writes tests/data/rounding/round-table.txt: single-precision values
rounded to integers in each of qcal's nine round modes (nGraph's Quantize round modes), as
computed by Python's decimal module in exact arithmetic, for tests/check_calib.c.

    python3 tools/make-round-table.py          (any python3: standard library only)

Each float is converted to a Decimal exactly (no rounding), then rounded by decimal's own
modes; the two modes decimal lacks are derived from floor and ceil of exact values:

    half-even         ROUND_HALF_EVEN          half-away       ROUND_HALF_UP
    half-toward-zero  ROUND_HALF_DOWN          toward-zero     ROUND_DOWN
    away-from-zero    ROUND_UP                 up              ROUND_CEILING
    down              ROUND_FLOOR
    half-up           floor(t + 1/2)           half-down       ceil(t - 1/2)

NaN and +-Inf are not numbers to decimal's quantize: qc_round returns them unchanged, and the
table says so. Values are written as C99 hexadecimal floats (strtof reads them exactly).
The value list is fixed, with a seeded random part: running it again writes the same file.
"""
import decimal
import math
import os
import random
import struct
from decimal import Decimal

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "data", "rounding", "round-table.txt")

# qcal's mode names, in the order of qc_round_mode, each with its decimal rounding
MODES = [
    ("half-even", decimal.ROUND_HALF_EVEN),
    ("half-away", decimal.ROUND_HALF_UP),
    ("toward-zero", decimal.ROUND_DOWN),
    ("up", decimal.ROUND_CEILING),
    ("down", decimal.ROUND_FLOOR),
    ("half-toward-zero", decimal.ROUND_HALF_DOWN),
    ("half-up", None),
    ("half-down", None),
    ("away-from-zero", decimal.ROUND_UP),
]

CTX = decimal.Context(prec=200)  # every float32 and every float32 + 1/2 is exact at 200 digits


def f32(v):
    """v rounded to single precision"""
    return struct.unpack("<f", struct.pack("<f", v))[0]


def f32_next(v, toward):
    """the single-precision neighbour of v (a float32) in the direction of toward"""
    if v == toward:
        return v
    bits = struct.unpack("<I", struct.pack("<f", v))[0]
    if v == 0.0:
        bits = 1 | (0x80000000 if toward < 0 else 0)
    elif (v < toward) == (v > 0):
        bits += 1
    else:
        bits -= 1
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def rounded(x, name, mode):
    d = Decimal(x)  # exact
    one = Decimal(1)
    if name == "half-up":
        return CTX.add(d, Decimal("0.5")).quantize(one, rounding=decimal.ROUND_FLOOR, context=CTX)
    if name == "half-down":
        return CTX.subtract(d, Decimal("0.5")).quantize(one, rounding=decimal.ROUND_CEILING, context=CTX)
    return d.quantize(one, rounding=mode, context=CTX)


def values():
    base = [0.0, -0.0, 0.5, 1.5, 2.5, 3.5, 126.5, 127.5, 128.5, 254.5, 255.5, 0.25, 0.75, 1.0,
            2.0, 0.3, 0.7, 1.2, 1.8, 1e-30, 1e-45, 3.4e38, 4194303.5, 8388607.5, 8388608.0,
            16777215.0, 16777216.0, 1e10]
    out = []
    for v in base:
        v = f32(v)
        out += [v, -v]
    # the neighbours of the ties: a rounding that adds 0.5 in float lands on them
    for tie in [0.5, 1.5, 2.5, 127.5, 8388607.5]:
        for s in (1, -1):
            t = s * f32(tie)
            out += [f32_next(t, 0.0), f32_next(t, math.copysign(math.inf, t))]
    rng = random.Random(20261206)
    for _ in range(200):
        k = rng.randrange(-2000, 2001)
        out.append(f32(k / 4.0))  # halves and quarters: many ties
    for _ in range(200):
        out.append(f32(rng.uniform(-1.0, 1.0) * 2.0 ** rng.randrange(-10, 25)))
    seen, unique = set(), []
    for v in out:
        key = struct.pack("<f", v)
        if key not in seen:
            seen.add(key)
            unique.append(v)
    return unique


def hexf(v):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return float.hex(v)


def main():
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    lines = ["# x and round(x) in each of qcal's nine round modes, by tools/make-round-table.py",
             "# (Python's decimal, exact): x " + " ".join(n for n, _ in MODES)]
    for x in values():
        cols = [hexf(float(rounded(x, n, m))) for n, m in MODES]
        lines.append(" ".join([hexf(x)] + cols))
    for x in [math.nan, math.inf, -math.inf]:
        lines.append(" ".join([hexf(x)] * (len(MODES) + 1)))
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {OUT}: {len(lines) - 2} values x {len(MODES)} modes")


if __name__ == "__main__":
    main()
