#!/bin/bash
# html-test.sh — qcal compare's HTML page (calib/report-html.c) as a browser sees it. First a
# page of fixed figures (tests/report-html-demo.c, real statistics of lenet): the same bytes
# twice, self-contained, no console message, the table, the network order and the ranges the
# test computes itself. Then real `qcal compare --json --html` runs of the bundled lenet (8
# variants, 8 and 6 bits), mobilenet (the default grid) and resnet (every granularity), each
# opened in headless Chromium at 1,280 px with a small script (added to a copy) that writes
# the measurements into the DOM: no horizontal scroll, every section present and inside the
# viewport, mobilenet's page under 4,000 px, and the figures of the page equal to the JSON of
# the same run, the 95 % interval recomputed here (tests/report-html-check.py). Screenshots go
# to the build folder. Prints "html: N passed, N failed, N skipped" (a skip when chromium is
# absent).
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

# report OUT: counts the "ok"/"FAIL" lines a checker printed into OUT
report() {
    while IFS= read -r line; do
        case "$line" in
            "ok   "*) ok "${line#ok   }" ;;
            "FAIL "*) bad "${line#FAIL }" ;;
            *) bad "DOM check: $line" ;;
        esac
    done <"$1"
}

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

# 2. the page of fixed figures from real statistics
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

# 5. the fixed figures in the DOM, against values computed here
"$PY" tests/report-html-check.py demo "$tmp/s.json" "$tmp/r.html" "$tmp/dom.html" >"$tmp/dom.txt" 2>&1
report "$tmp/dom.txt"

# 6. real runs: the JSON and the page of the same run, measured at 1,280 px
cat >"$tmp/measure.js" <<'EOF'
(function () {
  var r = {innerWidth: window.innerWidth, clientWidth: document.documentElement.clientWidth,
           scrollWidth: document.documentElement.scrollWidth,
           scrollHeight: document.documentElement.scrollHeight, maxRight: 0, widest: "", boxes: {}};
  var all = document.querySelectorAll("body *");
  for (var i = 0; i < all.length; i++) {
    var b = all[i].getBoundingClientRect();
    if (b.width > 0 && b.right > r.maxRight) { r.maxRight = b.right; r.widest = all[i].tagName + "." + all[i].className; }
  }
  var parts = {"summary chart": "#summary svg", "table": "#variants", "gate column": "#variants th.gate",
               "per-layer chart": "#layers svg", "histogram": "#histograms .hists figure svg"};
  for (var name in parts) {
    var e = document.querySelector(parts[name]);
    r.boxes[name] = e ? e.getBoundingClientRect().toJSON() : null;
  }
  document.body.insertAdjacentHTML("beforeend", "<pre id=\"measure\">" + JSON.stringify(r) + "</pre>");
})();
EOF
run_page() { # NAME EXIT ARGS…: compare with --json and --html, then the page measured and shot
    local name=$1 code=$2
    shift 2
    expect "$name: compare writes the JSON and the page (exit $code)" "$code" \
        "$QCAL" compare "$@" --limit 300 --calib-limit 64 --layer-images 8 --json --html "$tmp/$name.html"
    cp "$tmp/out" "$tmp/$name.json"
    { cat "$tmp/$name.html"; printf '<script>'; cat "$tmp/measure.js"; printf '</script>\n'; } >"$tmp/$name-m.html"
    chrome --window-size=1280,1000 --dump-dom "file://$tmp/$name-m.html" >"$tmp/$name-dom.html" 2>"$tmp/$name.err"
    if grep -q 'CONSOLE' "$tmp/$name.err"; then
        bad "$name: the console stays empty: $(grep CONSOLE "$tmp/$name.err" | head -3)"
    else
        ok "$name: the console stays empty"
    fi
    local height
    height=$(sed -n 's/.*"scrollHeight":\([0-9]*\).*/\1/p' "$tmp/$name-dom.html")
    chrome --screenshot="$BUILD/html-report-$name.png" --window-size=1280,"${height:-2000}" \
        "file://$tmp/$name.html" >/dev/null 2>&1
    if [ "$(head -c 8 "$BUILD/html-report-$name.png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
        ok "$name: a screenshot is saved ($BUILD/html-report-$name.png)"
    else
        bad "$name: a screenshot is saved"
    fi
    "$PY" tests/report-html-check.py run "$tmp/$name.json" "$tmp/$name-dom.html" "$MAX_HEIGHT" >"$tmp/$name.txt" 2>&1
    report "$tmp/$name.txt"
}
# lenet: 8 variants at 8 and 6 bits, the default gate (the most faithful variant) failing
MAX_HEIGHT=0 run_page lenet 1 models/lenet.onnx data/calib data/val --bits 8,6 --min-sqnr 39 \
    --sensitivity --sensitivity-images 32
# the sensitivity section: per variant, the JSON's ranking in its order with its scores
"$PY" - "$tmp/lenet.json" "$tmp/lenet.html" <<'EOF2' && ok "lenet: the sensitivity section lists each variant's ranking as the JSON" \
    || bad "lenet: the sensitivity section lists each variant's ranking as the JSON"
import json, re, sys
d = json.load(open(sys.argv[1])); page = open(sys.argv[2]).read()
sec = page.split('<section id="sensitivity">')[1].split('</section>')[0]
tables = sec.split('<table class="sensitivity">')[1:]
m = d["models"][0]
assert len(tables) == len(m["variants"]), (len(tables), len(m["variants"]))
for t, v in zip(tables, m["variants"]):
    s = v["sensitivity"]
    assert v["name"] in t.split("</caption>")[0]
    rows = re.findall(r"<tr><td>(\d+)</td><td><code>([^<]*)</code></td><td>([-0-9.]+) %</td><td>([-+0-9.]+)</td></tr>", t)
    assert len(rows) == min(10, len(s["ranking"])), (len(rows), len(s["ranking"]))
    base = 100 * s["quantized"]["top1"]
    for (i, node, score, gain), r in zip(rows, s["ranking"]):
        assert node == r["node"].replace("&", "&amp;").replace("<", "&lt;"), (node, r["node"])
        assert score == "%.2f" % (100 * r["top1"]), (score, r["top1"])
        assert gain == "%+.2f" % (100 * r["top1"] - base), (gain, r["top1"], base)
EOF2
# the adequacy section: the first variant's scale (gemmlowp, minmax, 8 bits) judged as
# `qcal stats --adequacy` judges it on the same 64 calibration images, most uncertain first
"$QCAL" stats --quiet --json --limit 64 --adequacy models/lenet.onnx data/calib >"$tmp/lenet-adequacy.json" 2>"$tmp/err"
"$PY" - "$tmp/lenet-adequacy.json" "$tmp/lenet.html" <<'EOF2' && ok "lenet: the adequacy section lists the uncertain tensors as stats --adequacy does" \
    || bad "lenet: the adequacy section lists the uncertain tensors as stats --adequacy does"
import json, re, sys
a = json.load(open(sys.argv[1]))["adequacy"]; page = open(sys.argv[2]).read()
sec = page.split('<section id="adequacy">')[1].split('</section>')[0]
assert "%d of %d tensors vary by more than 5 %%" % (a["uncertain"], len(a["tensors"])) in sec, sec[:400]
assert a["uncertain"] > 0, "64 images leave some lenet tensor uncertain"
want = sorted((t for t in a["tensors"] if t["uncertain"]), key=lambda t: -t["rsd"])[:10]
rows = re.findall(r"<tr><td><code>([^<]*)</code></td><td>([^<]*)</td><td>([0-9.]+) %</td><td>[^<]*</td><td>(\d+)</td></tr>", sec)
assert [r[0] for r in rows] == [t["name"] for t in want], (rows, [t["name"] for t in want])
for r, t in zip(rows, want):
    assert r[1] == "%.4g" % t["scale"] and r[2] == "%.1f" % (100 * t["rsd"]) and int(r[3]) == t["images_needed"], (r, t)
EOF2
# mobilenet, the default grid, every variant gated on its drop
MAX_HEIGHT=4000 run_page mobilenet 1 models/mobilenet.onnx data/calib data/val --gate all --max-drop 0.2
# resnet, every granularity (compensated weights have no figures of their own), no gate
MAX_HEIGHT=0 run_page resnet 0 models/resnet.onnx data/calib data/val --granularity all

summary html
