#!/bin/bash
# html-test.sh — qcal compare's HTML page (calib/report-html.c) as a browser sees it: built by
# tests/report-html-demo.c from real statistics of lenet, checked to be self-contained,
# opened in headless Chromium (no console message, the table and every chart in the DOM,
# the values and the worst-first order the test computes itself), and screenshot. Prints
# "html: N passed, N failed, N skipped" (a skip when chromium is absent).
set -u
tmp=$(mktemp -d /tmp/qcal-html.XXXXXX)
if [ -n "${QCAL_KEEP:-}" ]; then echo "keeping $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi
. "$(dirname "$0")/lib.sh"
BUILD=${QCAL_BUILD:-build}

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    skip "the report in headless Chromium: chromium not installed"
    summary html
fi
chrome() { timeout 120 "$CHROMIUM" --headless --disable-gpu --no-sandbox --enable-logging=stderr --v=0 "$@"; }

# 1. the driver, linked against the library of this build (sanitized when it is)
PKGS="libpng libjpeg libcjson libprotobuf-c openblas"
SAN=
if nm "$BUILD/libqcal.a" 2>/dev/null | grep -q __asan_report; then
    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
fi
if ${CC:-cc} -O1 -g -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
    -Wvla -D_GNU_SOURCE $SAN -I. -I"$BUILD/gen" $(pkg-config --cflags $PKGS) \
    tests/report-html-demo.c "$BUILD/libqcal.a" $(pkg-config --libs $PKGS) -lm -lpthread \
    -o "$tmp/demo" 2>"$tmp/cc.err"; then
    ok "the report driver builds with -Werror"
else
    bad "the report driver builds with -Werror: $(head -c 600 "$tmp/cc.err")"
    summary html
fi

# 2. the page from real statistics
expect "stats of lenet for the page" 0 "$QCAL" stats --quiet --limit 64 -o "$tmp/s.json" models/lenet.onnx data/calib
expect "the page is written" 0 "$tmp/demo" "$tmp/s.json" "$tmp/r.html"
expect "a second page is written" 0 "$tmp/demo" "$tmp/s.json" "$tmp/r2.html"
same "the same report gives the same bytes" "$tmp/r.html" "$tmp/r2.html"
expect "a page into a missing folder is an I/O error" 4 "$tmp/demo" "$tmp/s.json" "$tmp/no/such/r.html"
if [ -z "$(ls -A "$tmp" | grep -v -E '^(demo|cc.err|s.json|r.html|r2.html|out|err)$')" ]; then
    ok "no partial file is left"
else
    bad "no partial file is left: $(ls -A "$tmp")"
fi

# 3. self-contained: no script, stylesheet, font or image from anywhere
if grep -qiE '<script|<link|@import|url\(|<img|<iframe' "$tmp/r.html"; then
    bad "the page loads nothing: $(grep -oiE '<script|<link|@import|url\(|<img|<iframe' "$tmp/r.html" | head -3)"
else
    ok "the page loads nothing"
fi
if grep -oE '(https?:)?//[^" ]+' "$tmp/r.html" | grep -vqx 'http://www.w3.org/2000/svg'; then
    bad "the only address is the SVG namespace"
else
    ok "the only address is the SVG namespace"
fi

# 4. in the browser; a page that logs to the console proves the console check can fail
printf '<!DOCTYPE html><html><body><script>console.error("boom")</script></body></html>\n' >"$tmp/noisy.html"
chrome --dump-dom "file://$tmp/noisy.html" >/dev/null 2>"$tmp/noisy.err"
if grep -q 'CONSOLE' "$tmp/noisy.err"; then ok "console messages are seen (control page)"; else bad "console messages are seen (control page)"; fi
chrome --dump-dom "file://$tmp/r.html" >"$tmp/dom.html" 2>"$tmp/chrome.err"
if [ -s "$tmp/dom.html" ]; then ok "chromium renders the page"; else bad "chromium renders the page: $(tail -c 400 "$tmp/chrome.err")"; fi
if grep -q 'CONSOLE' "$tmp/chrome.err"; then
    bad "the console stays empty: $(grep CONSOLE "$tmp/chrome.err" | head -3)"
else
    ok "the console stays empty"
fi
chrome --screenshot="$tmp/report.png" --window-size=1280,2400 "file://$tmp/r.html" >/dev/null 2>&1
if [ "$(head -c 8 "$tmp/report.png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
    ok "a screenshot is saved ($tmp/report.png)"
else
    bad "a screenshot is saved"
fi

# 5. the DOM against values computed here from the statistics file and the driver's figures
"$PY" - "$tmp/s.json" "$tmp/dom.html" >"$tmp/dom.txt" 2>&1 <<'EOF'
import json, math, re, sys
from html.parser import HTMLParser

stats = json.load(open(sys.argv[1]))
names = [t["name"] for t in stats["tensors"]]
with_hist = [t for t in stats["tensors"] if t.get("histogram")]

class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.svgs, self.tables, self.cells = [], [], [], []
        self.sqnr_labels, self.texts = [], []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.svgs.append(a.get("class", ""))
        if tag == "table":
            self.tables.append(a.get("id"))
        self.stack.append((tag, a))
    def handle_endtag(self, tag):
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break
    def handle_data(self, data):
        if not self.stack:
            return
        tag, a = self.stack[-1]
        in_sqnr = any(t == "svg" and "sqnr" in x.get("class", "") for t, x in self.stack)
        in_tbody = any(t == "tbody" for t, _ in self.stack)
        if tag == "td" and in_tbody:
            self.cells.append(data)
        if tag == "text" and in_sqnr and a.get("class") == "label":
            self.sqnr_labels.append(data)
        self.texts.append(data)

d = Dom()
d.feed(open(sys.argv[2]).read())
fails = []
def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + detail))

check("the accuracy table is in the DOM", d.tables == ["accuracy"], repr(d.tables))
check("one chart per variant, the SQNR chart and a histogram per tensor",
      len(d.svgs) == 2 + 1 + len(with_hist),
      "%d svg for %d histograms" % (len(d.svgs), len(with_hist)))
check("the table row: FP32, each variant's top-1, delta, agreement, speed-up",
      d.cells == ["lenet <demo>", "1000", "91.05%", "91.01%", "-0.04", "99.31%", "2.50\u00d7",
                  "90.07%", "-0.98", "98.22%", "\u2014"], repr(d.cells))
# the driver's SQNR: variant 0 = 3i dB (last tensor +inf), variant 1 = 40 - 2i (tensor 0 none)
n = len(names)
def worst(i):
    v = [math.inf if i == n - 1 else 3.0 * i] + ([] if i == 0 else [40.0 - 2.0 * i])
    return min(v)
order = [names[i] for i in sorted(range(n), key=lambda i: (worst(i), i))]
check("the SQNR chart lists every tensor worst first", d.sqnr_labels == order,
      "%r != %r" % (d.sqnr_labels[:5], order[:5]))
text = "\n".join(d.texts)
missing = [t["name"] for t in with_hist
           if "minmax [%.4g, %.4g]" % (t["min"], t["max"]) not in text]
check("each histogram marks the minmax range of the statistics file", not missing, repr(missing[:3]))
check("names are escaped, not markup", "lenet <demo>" in text and "<demo>" not in open(sys.argv[2]).read().replace("lenet &lt;demo&gt;", ""))
EOF
while IFS= read -r line; do
    case "$line" in
        "ok   "*) ok "${line#ok   }" ;;
        "FAIL "*) bad "${line#FAIL }" ;;
        *) bad "DOM check: $line" ;;
    esac
done <"$tmp/dom.txt"

summary html
