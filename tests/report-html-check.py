"""report-html-check.py — checks the DOM Chromium dumped of qcal compare's HTML page, for
tests/html-test.sh; prints one "ok   …" or "FAIL …" line per check.

  report-html-check.py demo STATS.json PAGE.html DOM.html   the page of tests/report-html-demo.c
  report-html-check.py run RUN.json DOM.html MAX_H the page of a compare run, against its JSON
                                                   (MAX_H > 0: the page must be shorter)

The expected values are computed here from the statistics file, the driver's fixed figures or
the JSON, and the 95 % interval from Wilson's formula written out below, not read from qcal.
"""
import json
import math
import re
import sys
from html.parser import HTMLParser

VOID = {"br", "meta", "hr", "img", "input", "link", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def cls(self):
        return self.attrs.get("class", "").split()

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def own_text(self):
        """the text without that of <title> children (SVG tooltips)"""
        return "".join(c if isinstance(c, str) else ("" if c.tag == "title" else c.own_text())
                       for c in self.children)

    def all(self, tag=None, cls=None):
        for c in self.children:
            if isinstance(c, Node):
                if (tag is None or c.tag == tag) and (cls is None or cls in c.cls()):
                    yield c
                yield from c.all(tag, cls)

    def first(self, tag=None, cls=None):
        return next(self.all(tag, cls), None)

    def inside(self, tag):
        p = self.parent
        while p is not None and p.tag != tag:
            p = p.parent
        return p


class Dom(HTMLParser):
    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#root", [], None)
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_endtag(self, tag):
        p = self.cur
        while p is not None and p.tag != tag:
            p = p.parent
        if p is not None and p.parent is not None:
            self.cur = p.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def tensor_of(full):
    """the statistics tensor of a full name: "LAYER (weights TENSOR)" or "TENSOR" """
    i = full.rfind(" (weights ")
    return full[i + 10:-1] if i >= 0 and full.endswith(")") else full


def caption(figure):
    """a tensor figure's full name: its caption's, or that of the <details> it is folded in"""
    b = figure.first("b") or (figure.parent.first("summary").first("b") if figure.parent.tag == "details" else None)
    return b.attrs.get("title", "") if b else ""


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + str(detail)[:400]))


def wilson(successes, n, z=1.959963984540054):
    """95 % Wilson score interval of a binomial proportion"""
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return centre - half, centre + half


def num(s):
    """the first number of a printed cell ("−" and "+" signs, "%" and "×" ignored)"""
    m = re.search(r"[-+\u2212]?\d+(\.\d+)?(e[-+]\d+)?", s.replace("\u2212", "-"))
    return float(m.group(0)) if m else None


def near(printed, value, decimals):
    x = num(printed)
    return x is not None and abs(x - value) <= 0.5 * 10 ** -decimals + 1e-9


def ci_ends(cell):
    parts = cell.replace("\u2212", "-").split("\u2026")
    return [num(p) for p in parts] if len(parts) == 2 else [None, None]


def table_rows(dom):
    table = next((t for t in dom.root.all("table") if t.attrs.get("id") == "variants"), None)
    if table is None:
        return None, []
    rows = [tr for tr in table.all("tr") if tr.inside("tbody") and "model" not in tr.cls()]
    return table, [{td.cls()[0] if td.cls() else "": td for td in tr.all("td")} for tr in rows]


def sections(dom):
    ids = {n.attrs.get("id") for n in dom.root.all("section")}
    check("every section is in the page (summary, table, layers, histograms)",
          {"summary", "table", "layers", "histograms"} <= ids, sorted(i for i in ids if i))


def check_values(dom, model, variants, fp32, labelled):
    """the table and the summary chart against each variant's figures"""
    table, rows = table_rows(dom)
    check("the table has the gate column", table is not None and table.first("th", "gate") is not None)
    check("the table has a row per variant", len(rows) == len(variants), "%d rows" % len(rows))
    summary = dom.root.first("svg", "summary")
    texts = {c: [t.own_text() for t in summary.all("text", c)] if summary else [] for c in
             ("v-delta", "v-ci", "v-agree", "v-kl")}
    bad = []
    for k, (v, row) in enumerate(zip(variants, rows)):
        lo, hi = wilson(v["correct"], labelled)
        expect = {"top1": ("%.2f%%" % (100 * v["top1"]),), "agree": ("%.2f%%" % (100 * v["agreement"]),),
                  "kl": ("%.2e" % v["kl"],)}
        for col, (want,) in expect.items():
            if row[col].text().strip() != want:
                bad.append("%s %s: %r != %r" % (v["name"], col, row[col].text(), want))
        d = 100 * (v["top1"] - fp32)
        if not near(row["delta"].text(), d, 2):
            bad.append("%s delta %r != %.4f" % (v["name"], row["delta"].text(), d))
        ends = ci_ends(row["ci"].text())
        if None in ends or abs(ends[0] - 100 * (lo - fp32)) > 0.005 + 1e-9 or abs(ends[1] - 100 * (hi - fp32)) > 0.005 + 1e-9:
            bad.append("%s interval %r != %.3f … %.3f" % (v["name"], row["ci"].text(), 100 * (lo - fp32), 100 * (hi - fp32)))
        if k < len(texts["v-delta"]):
            if not near(texts["v-delta"][k], d, 2) or texts["v-agree"][k] != expect["agree"][0] \
                    or texts["v-kl"][k] != expect["kl"][0] or ci_ends(texts["v-ci"][k]) != ends:
                bad.append("%s summary %r" % (v["name"], [texts[c][k] for c in texts]))
    for c in texts:
        if len(texts[c]) != len(variants):
            bad.append("summary: %d %s for %d variants" % (len(texts[c]), c, len(variants)))
    check("%s: top-1, Δ, its interval, agreement and KL of each variant, in the table and the summary"
          % model, not bad, bad)
    return rows


def measure(dom, max_height):
    pre = next((p for p in dom.root.all("pre") if p.attrs.get("id") == "measure"), None)
    if pre is None:
        check("the measurements are in the DOM", False)
        return
    m = json.loads(pre.text())
    width = m["clientWidth"]
    check("no horizontal scroll at 1,280 px", m["innerWidth"] == 1280 and m["scrollWidth"] <= width,
          "inner %d, scroll %d, client %d" % (m["innerWidth"], m["scrollWidth"], width))
    check("every element within the viewport's width", m["maxRight"] <= width,
          "%s reaches %.1f px" % (m["widest"], m["maxRight"]))
    for name, box in m["boxes"].items():
        check("the %s is drawn inside the viewport" % name,
              box is not None and box["width"] > 0 and box["height"] > 0 and box["left"] >= 0
              and box["right"] <= width, box)
    if max_height > 0:
        check("the page is under %d px tall" % max_height, m["scrollHeight"] < max_height,
              "%d px" % m["scrollHeight"])


def layer_rows(dom):
    """the per-layer chart's rows: (label title, y, note text or None)"""
    svg = dom.root.first("svg", "layers")
    if svg is None:
        return [], None
    notes = {n.attrs.get("y"): n.own_text() for n in svg.all("text", "note")}
    rows = []
    for t in svg.all("text", "label"):
        title = t.first("title")
        rows.append((title.text() if title else "", t.attrs.get("y"), notes.get(t.attrs.get("y")), t.own_text()))
    return rows, svg


def check_run(run_json, dom_file, max_height):
    run = json.load(open(run_json))
    dom = Dom(open(dom_file).read())
    model = run["models"][0]
    variants = model["variants"]
    sections(dom)
    measure(dom, max_height)
    rows = check_values(dom, model["model"], variants, model["fp32"]["top1"], model["labelled"])
    # the real format of each variant
    spec = {v["name"]: v for v in run["variants"]}
    bad = []
    for v, row in zip(variants, rows):
        fmt = row["variant"].text()
        s = spec[v["name"]]
        want = ["INT8 QDQ" if s["bits"] == 8 else "%d-bit FakeQuantize" % s["bits"],
                "weights per %s" % ("tensor" if s["granularity"] == "tensor" else "channel"),
                "%s ranges" % s["method"]]
        if not all(w in fmt for w in want) or (s["bits"] != 8 and "INT8" in fmt):
            bad.append("%s: %r" % (v["name"], fmt))
    check("each variant is labelled with its real format", not bad, bad)
    # the gates: the gated variants, and which failed, as the JSON says
    gates = run["gates"]
    failing = {m.group(1) for f in gates["failures"] for m in [re.match(r"variant '([^']*)'", f)] if m}
    bad = []
    for v, row in zip(variants, rows):
        cell = row["gate"]
        if gates["max_drop"] is None and gates["min_sqnr"] is None:
            ok = "none" in cell.cls() and cell.text() == "no gate set"
        elif v["gated"]:
            ok = ("fail" if v["name"] in failing else "pass") in cell.cls()
        else:
            ok = "none" in cell.cls() and cell.text() == "not gated"
        if not ok:
            bad.append("%s: %s %r" % (v["name"], cell.cls(), cell.text()))
    check("the gate column: no gate set, or each variant gated or not, passed or failed, as the JSON",
          not bad, bad)
    note = next((p.text() for p in dom.root.all("p") if p.attrs.get("id") == "gates"), "")
    if gates["max_drop"] is not None or gates["min_sqnr"] is not None:
        named = [v["name"] + " of " + model["model"] for v in variants if v["gated"]] if gates["gate"] is None \
            else [gates["gate"]]
        check("the gates name the gated variant", named and all(n in note for n in named), note)
    items = [li.text() for li in dom.root.all("li") if li.inside("ul") and "failures" in li.inside("ul").cls()]
    check("the page lists the gate failures of the JSON", items == gates["failures"], items)
    # min SQNR of the activations, as the terminal prints it
    bad = []
    for v, row in zip(variants, rows):
        acts = [l["sqnr_db"] for l in v["layers"] if l["role"] != "weight" and l["sqnr_db"] is not None]
        if acts and not near(row["sqnr"].own_text().split()[0] if row["sqnr"].own_text().split() else "", min(acts), 1):
            bad.append("%s: %r != %.2f" % (v["name"], row["sqnr"].text(), min(acts)))
    check("min SQNR of each variant's activations", not bad, bad)
    check_layers(dom, variants)
    check_histograms(dom, variants, [spec[v["name"]]["granularity"] for v in variants])


def check_layers(dom, variants):
    rows, svg = layer_rows(dom)
    titles = [r[0] for r in rows]
    # every measured tensor of the JSON, in the JSON's (network) order
    order = [l["tensor"] for l in variants[0]["layers"]]
    it = iter(tensor_of(t) for t in titles)
    in_order = all(any(name == t for t in it) for name in order)
    check("the per-layer chart lists the JSON's tensors in network order", in_order and rows,
          "%r vs %r" % (titles[:4], order[:4]))
    markers = {t.text() for t in svg.all("title") if t.parent.tag in ("circle", "rect")} if svg else set()
    full = {tensor_of(t): t for t in titles}
    bad = []
    for v in variants:
        for l in v["layers"]:
            if l["sqnr_db"] is None:
                continue
            tail = " %.2f dB" % l["sqnr_db"]
            if v["name"] + ": " + full.get(l["tensor"], l["tensor"]) + tail not in markers:
                bad.append("%s %s%s" % (v["name"], l["tensor"], tail))
    check("a marker per variant and tensor at the JSON's SQNR", not bad, bad[:5])
    weights = [t for t in titles if "(weights " in t]
    roles = [r for r in svg.all("text", "role")] if svg else []
    check("weights and activations told apart (role column, square markers)",
          len(roles) == len(rows) and {r.text() for r in roles} >= {"weight", "activation"}
          and weights and svg.first("rect", "wt") is not None and svg.first("circle") is not None)
    measured = {l["tensor"] for v in variants for l in v["layers"] if l["sqnr_db"] is not None or l["identical"]}
    unexplained = [r[0] for r in rows if tensor_of(r[0]) not in measured and not (r[2] or "").startswith("\u2014 ")]
    check("every row without figures says why", not unexplained, unexplained[:3])
    long_names = [r for r in rows if len(r[0].split(" (weights ")[0]) > 46]
    check("long names are cut in the middle, the full name in the tooltip",
          all("\u2026" in r[3] and len(r[3]) <= 46 for r in long_names), [r[3] for r in long_names[:3]])


def check_histograms(dom, variants, granularities):
    hist = next((s for s in dom.root.all("section") if s.attrs.get("id") == "histograms"), None)
    opened = [f for f in hist.all("figure", "tensor") if f.inside("details") is None] if hist else []
    folded = [d for d in hist.all("details", "tensor")] if hist else []
    n_layers = len(variants[0]["layers"])
    check("the 4 worst tensors open, every other one folded", len(opened) == 4 and len(folded) >= n_layers - 4,
          "%d open, %d folded" % (len(opened), len(folded)))
    # the open ones: the lowest SQNR over the variants, as the JSON gives it
    key = {}
    for v in variants:
        for i, l in enumerate(v["layers"]):
            s = l["sqnr_db"] if l["sqnr_db"] is not None else (math.inf if l["identical"] else None)
            if s is not None:
                key[l["tensor"]] = min(key.get(l["tensor"], math.inf), s)
    worst = sorted(key, key=lambda n: key[n])[:4]
    shown = [caption(f) for f in opened]
    check("the open histograms are the tensors of lowest SQNR",
          sorted(tensor_of(s) for s in shown) == sorted(worst), "%r vs %r" % (shown, worst))
    bad = []
    for f in opened:
        svg = f.first("svg")
        words = {t.own_text() for t in svg.all("text")} if svg else set()
        ranges = len(list(svg.all("g", "range"))) if svg else 0
        name = caption(f)
        want = sum(1 for v in variants for l in v["layers"] if l["range"] is not None and tensor_of(name) == l["tensor"])
        if not {"value", "count (log scale)"} <= words or ranges != want:
            bad.append("%s: %d ranges for %d, %r" % (name, ranges, want, sorted(words)[:4]))
    check("histograms have labelled axes, the log scale said, one range per variant", not bad, bad)
    grans = {v["name"]: g for v, g in zip(variants, granularities)}
    if "compensated" not in grans.values():
        bands = len(list(hist.all("rect", "band"))) if hist else 0
        want = sum(2 for v in variants for l in v["layers"]
                   if grans[v["name"]] == "channel" and l["role"] == "weight" and l["range"] is not None)
        check("per-channel weights: their ranges drawn as a band", bands == want and want > 0,
              "%d band rects for %d" % (bands, want))


def check_demo(stats_file, page_file, dom_file):
    stats = json.load(open(stats_file))
    tensors = stats["tensors"]
    text = open(page_file).read()
    dom = Dom(open(dom_file).read())
    sections(dom)
    variants = [{"name": "minmax", "correct": 910, "top1": 0.910, "agreement": 0.9931, "kl": 2.5e-4},
                {"name": "percentile", "correct": 901, "top1": 0.901, "agreement": 0.9822, "kl": 1.5e-3}]
    rows = check_values(dom, "demo", variants, 0.911, 1000)
    if len(rows) == 2:
        check("the speed-up, '—' when not timed", [r["speed"].text() for r in rows] == ["2.50\u00d7", "\u2014"],
              [r["speed"].text() for r in rows])
        check("the real formats", "INT8 QDQ \u00b7 asymmetric (GemmLowP) \u00b7 weights per tensor \u00b7 minmax ranges"
              in rows[0]["variant"].text() and "6-bit FakeQuantize \u00b7 symmetric (SymLowP) \u00b7 weights per "
              "channel \u00b7 percentile ranges" in rows[1]["variant"].text(), [r["variant"].text() for r in rows])
        check("the gate column: the gated variant failed, the other not gated",
              "fail" in rows[0]["gate"].cls() and "drop 0.10 > 0.05" in rows[0]["gate"].text()
              and rows[1]["gate"].text() == "not gated", [r["gate"].text() for r in rows])
        check("min SQNR and its tensor", rows[0]["sqnr"].text().startswith("3.0") and tensors[1]["name"]
              in rows[0]["sqnr"].first("span").attrs.get("title", ""), rows[0]["sqnr"].text())
    rows, svg = layer_rows(dom)
    want = ["layer <of weights>" if t["role"] == "weight" else t["name"] for t in tensors]
    check("the per-layer chart lists every tensor in network order, weights by their layer",
          [r[3] for r in rows] == want, "%r != %r" % ([r[3] for r in rows][:4], want[:4]))
    check("the row without figures says why", rows and rows[0][2] == "\u2014 not quantized (1 of 2 variants)"
          and all(r[2] is None for r in rows[1:]), [r[2] for r in rows[:2]])
    n = len(tensors)
    markers = {t.text() for t in svg.all("title") if t.parent.tag in ("circle", "rect")} if svg else set()
    name = lambda t: ("layer <of weights> (weights %s)" % t["name"]) if t["role"] == "weight" else t["name"]
    expected = {"minmax: %s %s dB" % (name(t), "\u221e" if i == n - 1 else "%.2f" % (3.0 * i)) for i, t in enumerate(tensors)}
    expected |= {"percentile: %s %.2f dB" % (name(t), 40.0 - 2 * i) for i, t in enumerate(tensors) if i > 0}
    check("a marker per tensor and variant at its SQNR", markers == expected, sorted(expected - markers)[:3])
    # each histogram's table: the minmax range of the statistics file
    figures = list(dom.root.all("figure", "tensor"))
    missing = []
    for t in tensors:
        f = next((f for f in figures if caption(f) == name(t)), None)
        row = f and next((tr for tr in f.all("tr") if "minmax" in tr.text()), None)
        cells = [td.text() for td in row.all("td")] if row else []
        if len(cells) < 2 or cells[1] != "[%.4g, %.4g]" % (t["min"], t["max"]):
            missing.append((t["name"], cells[:2]))
    check("each tensor's table gives the minmax range of the statistics file", not missing, missing[:3])
    bands = len(list(dom.root.all("rect", "band")))
    weights = sum(1 for t in tensors if t["role"] == "weight" and t.get("histogram"))
    check("per-channel ranges drawn as a band (two per weight of the per-channel variant)", bands == 2 * weights,
          "%d bands, %d weights" % (bands, weights))
    check("names are escaped, not markup", "lenet <demo>" in dom.root.text()
          and "<demo>" not in text.replace("lenet &lt;demo&gt;", "") and "<of weights>" not in text)


if __name__ == "__main__":
    if sys.argv[1] == "demo":
        check_demo(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        check_run(sys.argv[2], sys.argv[3], int(sys.argv[4]))
