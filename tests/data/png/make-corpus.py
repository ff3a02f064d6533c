#!/usr/bin/env python3
"""make-corpus.py — writes the hostile PNG corpus in this folder (every file must be rejected).

Run from anywhere: python3 tests/data/png/make-corpus.py. The output is deterministic; the
files are committed, and tests/check_io.c replays them. Each file name says what is wrong.
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SIG = b"\x89PNG\r\n\x1a\n"


def chunk(kind, data, crc=None):
    if crc is None:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def ihdr(w, h, depth=8, color=0, interlace=0):
    return chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, interlace))


def gray_rows(w, h):
    """Filter byte 0 and a ramp per row."""
    return b"".join(b"\0" + bytes((x + y) & 255 for x in range(w)) for y in range(h))


def good(w=8, h=8):
    return SIG + ihdr(w, h) + chunk(b"IDAT", zlib.compress(gray_rows(w, h))) + chunk(b"IEND", b"")


def main():
    ok = good()
    idat_at = ok.index(b"IDAT") - 4
    files = {
        "empty.png": b"",
        "text.png": b"this is a text file, not an image\n",
        "signature-only.png": SIG,
        "short-signature.png": SIG[:5],
        "wrong-signature.png": b"\x89PNG\n\r\x1a\n" + ok[8:],
        "jpeg-named-png.png": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32),
        "truncated-in-idat.png": ok[: idat_at + 20],
        "truncated-in-ihdr.png": ok[:20],
        "no-iend.png": ok[: ok.index(b"IEND") - 4],
        "crc-error-idat.png": SIG + ihdr(8, 8)
        + chunk(b"IDAT", zlib.compress(gray_rows(8, 8)), crc=0x12345678) + chunk(b"IEND", b""),
        "crc-error-ihdr.png": SIG + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0),
                                          crc=0) + ok[33:],
        "zero-width.png": SIG + ihdr(0, 8) + ok[33:],
        "huge-dimensions.png": SIG + ihdr(100000, 100000) + ok[33:],
        "over-the-limit.png": SIG + ihdr(16385, 1)
        + chunk(b"IDAT", zlib.compress(b"\0" + bytes(16385))) + chunk(b"IEND", b""),
        "too-many-pixels.png": SIG + ihdr(16384, 16384) + ok[33:],
        "bad-bit-depth.png": SIG + ihdr(8, 8, depth=3) + ok[33:],
        "bad-color-type.png": SIG + ihdr(8, 8, color=5) + ok[33:],
        "palette-without-plte.png": SIG + ihdr(8, 8, color=3) + ok[33:],
        "garbage-idat.png": SIG + ihdr(8, 8) + chunk(b"IDAT", bytes(range(7, 107)))
        + chunk(b"IEND", b""),
        "short-idat.png": SIG + ihdr(8, 8) + chunk(b"IDAT", zlib.compress(gray_rows(8, 3)))
        + chunk(b"IEND", b""),
        "bad-filter-type.png": SIG + ihdr(8, 8)
        + chunk(b"IDAT", zlib.compress(b"".join(b"\x09" + bytes(8) for _ in range(8))))
        + chunk(b"IEND", b""),
        "no-idat.png": SIG + ihdr(8, 8) + chunk(b"IEND", b""),
        "idat-before-ihdr.png": SIG + chunk(b"IDAT", zlib.compress(gray_rows(8, 8))) + ihdr(8, 8)
        + chunk(b"IEND", b""),
        "huge-chunk-length.png": SIG + ihdr(8, 8) + struct.pack(">I", 0x7FFFFFF0) + b"IDAT"
        + bytes(16),
    }
    # Ancillary chunks that claim 2^31 - 1 bytes in a file of under 100: libpng once allocated
    # the claimed size (1.6 to 1.9 GB) before it found the file truncated.
    for kind in (b"tEXt", b"zTXt", b"iTXt", b"sPLT"):
        files["huge-%s-chunk.png" % kind.decode().lower()] = (
            SIG + ihdr(8, 8) + struct.pack(">I", 0x7FFFFFFF) + kind + b"key\0" + bytes(24))
    for name, data in files.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
