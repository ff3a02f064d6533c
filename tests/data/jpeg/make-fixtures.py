#!/usr/bin/python3
"""make-fixtures.py — writes the JPEG test files in this folder, with PIL's decoding of each.

Run with Debian's python3 (PIL): /usr/bin/python3 tests/data/jpeg/make-fixtures.py. The output
is deterministic; the files are committed and read by tests/check_io.c and tests/images-test.sh.

  good/NAME.jpg        small JPEGs of every kind qcal reads (gray, RGB 4:4:4 / 4:2:2 / 4:2:0,
                       progressive, odd sizes, EXIF orientation 6, an upper-case extension)
  good/NAME.ppm/.pgm   PIL's decoding of each (Image.open(p) as stored, no EXIF transpose),
                       the reference qcal's pixels must equal; NAME.gray.pgm is PIL's
                       convert("L") of the RGB ones
  bad/NAME.jpg         files qcal must refuse (exit 3, the file named)
  set-jpeg/, set-png/  the same pixels as JPEG and as PNG, in an ImageFolder layout taken from
                       data/val: statistics over the two must be byte-identical
"""
import io
import os
import shutil

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))


def pattern_rgb(w, h, seed):
    """Smooth gradients plus a hard edge: chroma upsampling and the IDCT both matter."""
    img = Image.new("RGB", (w, h))
    px = img.load()
    for y in range(h):
        for x in range(w):
            edge = 90 if (x + seed) % 7 < 3 else 0
            px[x, y] = ((x * 37 + y * 11 + seed * 13) % 256, (y * 29 + edge + seed) % 256,
                        (x * y * 5 + 200 - edge) % 256)
    return img


def write_good(name, img, **save):
    path = os.path.join(HERE, "good", name)
    img.save(path, "JPEG", **save)
    with Image.open(path) as back:
        back.load()
        base = os.path.splitext(path)[0]
        if back.mode == "L":
            back.save(base + ".pgm")
        else:
            back.convert("RGB").save(base + ".ppm")
            back.convert("L").save(base + ".gray.pgm")


def good_files():
    os.makedirs(os.path.join(HERE, "good"), exist_ok=True)
    write_good("gray.jpg", pattern_rgb(13, 9, 1).convert("L"), quality=90)
    write_good("rgb-444.jpg", pattern_rgb(16, 16, 2), quality=95, subsampling=0)
    write_good("rgb-422.jpg", pattern_rgb(17, 10, 3), quality=85, subsampling=1)
    write_good("rgb-420.jpg", pattern_rgb(23, 19, 4), quality=75, subsampling=2)
    write_good("progressive.jpg", pattern_rgb(21, 18, 5), quality=80, subsampling=2,
               progressive=True)
    write_good("gray-progressive.jpg", pattern_rgb(9, 14, 6).convert("L"), quality=70,
               progressive=True)
    # EXIF orientation 6 ("rotate 90° clockwise to view"): qcal keeps the stored order.
    exif = Image.Exif()
    exif[0x0112] = 6
    write_good("exif-rotated.jpg", pattern_rgb(12, 8, 7), quality=90, exif=exif.tobytes())
    write_good("UPPER.JPEG", pattern_rgb(8, 8, 8), quality=90)


def bad_files():
    os.makedirs(os.path.join(HERE, "bad"), exist_ok=True)
    buf = io.BytesIO()
    pattern_rgb(32, 32, 9).save(buf, "JPEG", quality=90)
    good = buf.getvalue()
    buf = io.BytesIO()
    pattern_rgb(32, 32, 9).save(buf, "JPEG", quality=90, progressive=True)
    progressive = buf.getvalue()
    sos = good.index(b"\xff\xda")
    files = {
        # cut in the entropy-coded data: libjpeg would pad the rest with gray
        "truncated-in-scan.jpg": good[: sos + 200],
        "truncated-in-header.jpg": good[:40],
        "truncated-progressive.jpg": progressive[: len(progressive) * 2 // 3],
        "no-eoi.jpg": good[:-2],
        # entropy-coded bytes replaced by marker-like garbage
        "corrupt-scan.jpg": good[: sos + 20] + b"\xff\xd0\x00\xff\xd5" * 40 + good[-2:],
        "soi-only.jpg": b"\xff\xd8\xff",
        "png-named-jpg.jpg": b"\x89PNG\r\n\x1a\n" + bytes(16),
        "text-named-jpg.jpg": b"this is not an image\n",
        "empty.jpg": b"",
    }
    buf = io.BytesIO()
    pattern_rgb(8, 8, 10).convert("CMYK").save(buf, "JPEG", quality=90)
    files["cmyk.jpg"] = buf.getvalue()
    # a header claiming 30000 x 30000 pixels (SOF0 height and width patched)
    sof = good.index(b"\xff\xc0")
    huge = bytearray(good)
    huge[sof + 5: sof + 9] = (30000).to_bytes(2, "big") + (30000).to_bytes(2, "big")
    files["huge-dimensions.jpg"] = bytes(huge)
    for name, data in files.items():
        with open(os.path.join(HERE, "bad", name), "wb") as f:
            f.write(data)


def twin_sets():
    """Nine data/val images of three classes, as gray and RGB JPEGs, and as PNGs holding PIL's
    decoding of those JPEGs."""
    for d in ("set-jpeg", "set-png"):
        shutil.rmtree(os.path.join(HERE, d), ignore_errors=True)
    val = os.path.join(ROOT, "data", "val")
    for cls in sorted(os.listdir(val))[:3]:
        for i, name in enumerate(sorted(os.listdir(os.path.join(val, cls)))[:3]):
            src = Image.open(os.path.join(val, cls, name)).convert("L")
            stem = os.path.splitext(name)[0]
            if i == 1:  # an RGB file with colour: lenet sees its BT.601 luma
                tint = Image.merge("RGB", (src, src.point(lambda v: v * 3 // 4),
                                           src.point(lambda v: 255 - v)))
                img, opts = tint, {"quality": 85, "subsampling": 2}
            else:
                img, opts = src, {"quality": 90, "progressive": i == 2}
            for d in ("set-jpeg", "set-png"):
                os.makedirs(os.path.join(HERE, d, cls), exist_ok=True)
            jpg = os.path.join(HERE, "set-jpeg", cls, stem + ".jpg")
            img.save(jpg, "JPEG", **opts)
            with Image.open(jpg) as back:
                back.load()
                back.save(os.path.join(HERE, "set-png", cls, stem + ".png"))


if __name__ == "__main__":
    good_files()
    bad_files()
    twin_sets()
