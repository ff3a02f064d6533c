/* report-html.c — qcal compare's HTML page: the accuracy table, a bar chart per variant, the
 * per-layer SQNR chart (worst first) and each tensor's histogram with the ranges the methods
 * chose. One self-contained file: inline CSS and SVG, no script, no font or image to fetch,
 * so it opens anywhere (CI artifacts, mail) and the same report gives the same bytes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"

#define N_COLORS 8
/* Okabe–Ito: told apart by colour-blind readers too */
static const char *const colors[N_COLORS] = {"#0072b2", "#e69f00", "#009e73", "#cc79a7",
                                             "#d55e00", "#56b4e9", "#f0e442", "#000000"};
#define FP32_COLOR "#999999"

#define HIST_BARS 128     /* display bins of a histogram */
#define HIST_W 640
#define HIST_H 140
#define HIST_LEGEND_W 220 /* the column of range labels */
#define SQNR_ROW 14       /* pixels per tensor and variant bar */
#define SQNR_LABEL_W 260  /* the tensor names' column */
#define SQNR_BAR_W 400
#define SQNR_MIN_SCALE 10.0 /* dB: the axis spans at least this much */

static const char *color_of(int k)
{
    return colors[k % N_COLORS];
}

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* "models/lenet.onnx" → "lenet.onnx": chart labels are narrow */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void legend(FILE *f, const qc_report *r)
{
    for (int k = 0; k < r->n_variants; k++) {
        fprintf(f, " <span style=\"color:%s\">&#9632;</span> ", color_of(k));
        esc(f, r->variants[k]);
    }
}

static void pct(FILE *f, double x)
{
    if (isnan(x))
        fputs("&#8212;", f);
    else
        fprintf(f, "%.2f%%", 100.0 * x);
}

static void db(FILE *f, double x)
{
    if (isnan(x))
        fputs("&#8212;", f);
    else if (isinf(x))
        fputs(x > 0 ? "&#8734;" : "&#8722;&#8734;", f);
    else
        fprintf(f, "%.1f dB", x);
}

/* ---- the accuracy table and charts ---------------------------------------------------------- */

static void accuracy_table(FILE *f, const qc_report *r)
{
    bool speed = false;
    for (int m = 0; m < r->n_models; m++)
        speed |= r->models[m].speedup != NULL;
    fputs("<h2>Accuracy</h2>\n<table id=\"accuracy\">\n<thead><tr><th rowspan=\"2\">model</th>"
          "<th rowspan=\"2\">images</th><th rowspan=\"2\">FP32 top-1</th>", f);
    for (int k = 0; k < r->n_variants; k++) {
        fprintf(f, "<th colspan=\"%d\" style=\"border-bottom:3px solid %s\">", speed ? 4 : 3,
                color_of(k));
        esc(f, r->variants[k]);
        fputs("</th>", f);
    }
    fputs("</tr>\n<tr>", f);
    for (int k = 0; k < r->n_variants; k++)
        fprintf(f, "<th>top-1</th><th>&#916;</th><th>agree</th>%s", speed ? "<th>speed-up</th>" : "");
    fputs("</tr></thead>\n<tbody>\n", f);
    for (int m = 0; m < r->n_models; m++) {
        const qc_report_model *md = &r->models[m];
        fputs("<tr><td class=\"name\">", f);
        esc(f, md->name);
        fprintf(f, "</td><td>%lld</td><td>", (long long)md->images);
        pct(f, md->fp32_top1);
        fputs("</td>", f);
        for (int k = 0; k < r->n_variants; k++) {
            double d = md->top1[k] - md->fp32_top1;
            fputs("<td>", f);
            pct(f, md->top1[k]);
            fprintf(f, "</td><td class=\"%s\">", isnan(d) ? "" : d < 0 ? "neg" : "pos");
            if (isnan(d))
                fputs("&#8212;", f);
            else
                fprintf(f, "%+.2f", 100.0 * d);
            fputs("</td><td>", f);
            pct(f, md->agreement[k]);
            fputs("</td>", f);
            if (speed) {
                fputs("<td>", f);
                if (md->speedup && !isnan(md->speedup[k]))
                    fprintf(f, "%.2f&#215;", md->speedup[k]);
                else
                    fputs("&#8212;", f);
                fputs("</td>", f);
            }
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);
}

/* One chart per variant: FP32 and the variant's top-1 for each model, on an axis from a
 * round value below the lowest bar to 100 % so that differences of a point stay visible. */
static void accuracy_charts(FILE *f, const qc_report *r)
{
    double lo = 1.0;
    for (int m = 0; m < r->n_models; m++) {
        const qc_report_model *md = &r->models[m];
        if (!isnan(md->fp32_top1) && md->fp32_top1 < lo)
            lo = md->fp32_top1;
        for (int k = 0; k < r->n_variants; k++) {
            if (!isnan(md->top1[k]) && md->top1[k] < lo)
                lo = md->top1[k];
            if (!isnan(md->agreement[k]) && md->agreement[k] < lo)
                lo = md->agreement[k];
        }
    }
    lo = floor(lo * 20.0 - 1.0) / 20.0; /* 5 % steps, one step of margin */
    if (lo < 0.0)
        lo = 0.0;
    const int group = 3 * 18 + 46, left = 48, top = 10, h = 160;
    const int w = left + group * (r->n_models > 0 ? r->n_models : 1) + 10;
    fputs("<div class=\"charts\">\n", f);
    for (int k = 0; k < r->n_variants; k++) {
        fputs("<figure class=\"variant-chart\"><figcaption>", f);
        esc(f, r->variants[k]);
        fprintf(f, ": top-1 (<span style=\"color:%s\">&#9632;</span> FP32, <span style=\"color:%s\">"
                   "&#9632;</span> INT8) and agreement (&#9633;)</figcaption>\n",
                FP32_COLOR, color_of(k));
        fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"%d\" "
                   "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
                w, h + top + 40, w, h + top + 40);
        const double step = 1.0 - lo > 0.5 ? 0.2 : 1.0 - lo > 0.2 ? 0.1 : 0.05;
        for (double v = lo; v <= 1.0 + 1e-9; v += step) {
            double y = top + h - h * (v - lo) / (1.0 - lo);
            fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                       "<text x=\"%d\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%.0f%%</text>\n",
                    left, w - 10, y, y, left - 4, y + 4, 100.0 * v);
        }
        for (int m = 0; m < r->n_models; m++) {
            const qc_report_model *md = &r->models[m];
            const double vals[3] = {md->fp32_top1, md->top1[k], md->agreement[k]};
            const char *fills[3] = {FP32_COLOR, color_of(k), "none"};
            for (int b = 0; b < 3; b++) {
                if (isnan(vals[b]))
                    continue;
                double v = vals[b] < lo ? lo : vals[b];
                double bh = h * (v - lo) / (1.0 - lo);
                int x = left + 8 + m * group + b * 18;
                fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"16\" height=\"%.1f\" fill=\"%s\" "
                           "stroke=\"%s\"><title>",
                        x, top + h - bh, bh, fills[b], color_of(k));
                esc(f, md->name);
                fprintf(f, " %s ", b == 0 ? "FP32 top-1" : b == 1 ? "top-1" : "agreement");
                pct(f, vals[b]);
                fputs("</title></rect>\n", f);
            }
            fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"label\" text-anchor=\"middle\">",
                    left + 8 + m * group + 27, top + h + 16);
            esc(f, base_name(md->name));
            fputs("</text>\n", f);
        }
        fputs("</svg></figure>\n", f);
    }
    fputs("</div>\n", f);
}

/* ---- per-layer SQNR --------------------------------------------------------------------------- */

/* Sorting key: the tensor's worst SQNR over the variants (NaN ignored, +inf last). */
static double worst_sqnr(const qc_report_tensor *t, int n_variants)
{
    double w = NAN;
    for (int k = 0; k < n_variants; k++)
        if (!isnan(t->sqnr_db[k]) && (isnan(w) || t->sqnr_db[k] < w))
            w = t->sqnr_db[k];
    return w;
}

typedef struct {
    int index;
    double key;
} sqnr_order;

static int cmp_sqnr(const void *a, const void *b)
{
    const sqnr_order *x = a, *y = b;
    /* NaN (never measured) last, then ascending; equal keys keep the graph order */
    bool xn = isnan(x->key), yn = isnan(y->key);
    if (xn != yn)
        return xn ? 1 : -1;
    if (!xn && x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static qc_status sqnr_chart(FILE *f, const qc_report *r, const qc_report_model *md,
                            qc_error *err)
{
    if (md->n_tensors == 0)
        return QC_OK;
    sqnr_order *order = malloc(sizeof *order * (size_t)md->n_tensors);
    if (!order)
        return qc_fail(err, QC_ERR_IO, "out of memory writing the report");
    double scale = SQNR_MIN_SCALE;
    for (int i = 0; i < md->n_tensors; i++) {
        order[i] = (sqnr_order){i, worst_sqnr(&md->tensors[i], r->n_variants)};
        for (int k = 0; k < r->n_variants; k++)
            if (isfinite(md->tensors[i].sqnr_db[k]) && md->tensors[i].sqnr_db[k] > scale)
                scale = md->tensors[i].sqnr_db[k];
    }
    qsort(order, (size_t)md->n_tensors, sizeof *order, cmp_sqnr);
    const int nv = r->n_variants > 0 ? r->n_variants : 1;
    const int row = SQNR_ROW * nv + 6, top = 6;
    const int w = SQNR_LABEL_W + SQNR_BAR_W + 80, h = top + row * md->n_tensors + 6;
    fputs("<figure class=\"sqnr-chart\"><figcaption>per-layer SQNR of ", f);
    esc(f, md->name);
    fputs(", worst first (higher is better):", f);
    legend(f, r);
    fputs("</figcaption>\n", f);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart sqnr\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
            w, h, w, h);
    for (int j = 0; j < md->n_tensors; j++) {
        const qc_report_tensor *t = &md->tensors[order[j].index];
        int y0 = top + j * row;
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"label\" text-anchor=\"end\">",
                SQNR_LABEL_W - 6, y0 + (row - 6) / 2 + 4);
        esc(f, t->name);
        fputs("</text>\n", f);
        for (int k = 0; k < r->n_variants; k++) {
            double v = t->sqnr_db[k];
            double bw = isnan(v) || v <= 0.0 ? 0.0 : isinf(v) ? SQNR_BAR_W : SQNR_BAR_W * v / scale;
            int y = y0 + k * SQNR_ROW;
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>",
                    SQNR_LABEL_W, y, bw, SQNR_ROW - 2, color_of(k));
            esc(f, r->variants[k]);
            fputs(" ", f);
            esc(f, t->name);
            fputs(": ", f);
            db(f, v);
            fprintf(f, "</title></rect><text x=\"%.1f\" y=\"%d\" class=\"tick\">",
                    SQNR_LABEL_W + bw + 4, y + SQNR_ROW - 4);
            db(f, v);
            fputs("</text>\n", f);
        }
    }
    fputs("</svg></figure>\n", f);
    free(order);
    return QC_OK;
}

/* ---- histograms ------------------------------------------------------------------------------- */

/* Left edge of statistics bin b (stats.h: width 2^log2_range / QC_HIST_HALF). */
static double bin_edge(const qc_hist *h, int64_t b)
{
    return ldexp((double)(b - QC_HIST_HALF), h->log2_range) / QC_HIST_HALF;
}

static void histogram(FILE *f, const qc_report *r, const qc_report_tensor *t)
{
    const qc_hist *h = t->hist;
    int64_t b0 = -1, b1 = -1;
    if (h && h->counts && h->total > 0)
        for (int64_t b = 0; b < QC_HIST_BINS; b++)
            if (h->counts[b]) {
                if (b0 < 0)
                    b0 = b;
                b1 = b;
            }
    fputs("<figure class=\"hist\"><figcaption>", f);
    esc(f, t->name);
    fprintf(f, " <span class=\"dim\">[%.6g, %.6g]</span></figcaption>\n", (double)t->min,
            (double)t->max);
    if (b0 < 0) {
        fputs("<p class=\"dim\">no histogram recorded</p></figure>\n", f);
        return;
    }
    /* the shown span: the recorded values and every chosen range */
    double x0 = bin_edge(h, b0), x1 = bin_edge(h, b1 + 1);
    for (int i = 0; i < t->n_ranges; i++) {
        if (t->ranges[i].lo < x0)
            x0 = t->ranges[i].lo;
        if (t->ranges[i].hi > x1)
            x1 = t->ranges[i].hi;
    }
    if (!(x1 > x0))
        x1 = x0 + 1.0;
    /* display bins: statistics bins summed by where their left edge falls */
    int64_t bars[HIST_BARS] = {0}, peak = 0;
    for (int64_t b = b0; b <= b1; b++) {
        int d = (int)((bin_edge(h, b) - x0) / (x1 - x0) * HIST_BARS);
        d = d < 0 ? 0 : d >= HIST_BARS ? HIST_BARS - 1 : d;
        bars[d] += h->counts[b];
    }
    for (int d = 0; d < HIST_BARS; d++)
        if (bars[d] > peak)
            peak = bars[d];
    /* the range labels go in a column right of the plot */
    const int pad = 8, top = 6 + 14 * t->n_ranges, w = HIST_W + 2 * pad + HIST_LEGEND_W;
    const int hh = top + HIST_H + 20;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart hist\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
            w, hh, w, hh);
    /* heights on a log scale: a few outliers beside millions of values stay visible */
    const double lp = log1p((double)peak);
    const double bw = (double)HIST_W / HIST_BARS;
    for (int d = 0; d < HIST_BARS; d++) {
        if (!bars[d])
            continue;
        double bh = HIST_H * log1p((double)bars[d]) / lp;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"bin\"/>\n",
                pad + d * bw, top + HIST_H - bh, bw, bh);
    }
    for (int i = 0; i < t->n_ranges; i++) {
        const qc_report_range *rg = &t->ranges[i];
        int k = 0;
        while (k < r->n_variants && strcmp(r->variants[k], rg->variant) != 0)
            k++;
        double xl = pad + HIST_W * (rg->lo - x0) / (x1 - x0);
        double xr = pad + HIST_W * (rg->hi - x0) / (x1 - x0);
        int y = 4 + 14 * i;
        fprintf(f, "<g class=\"range\" stroke=\"%s\"><line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" "
                   "y2=\"%d\"/><line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>"
                   "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/></g>"
                   "<text x=\"%d\" y=\"%d\" class=\"tick\" fill=\"%s\">",
                color_of(k), xl, xl, y, top + HIST_H, xr, xr, y, top + HIST_H, xl, xr, y + 5,
                y + 5, pad + HIST_W + 8, y + 9, color_of(k));
        esc(f, rg->variant);
        fprintf(f, " [%.4g, %.4g]</text>\n", (double)rg->lo, (double)rg->hi);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"tick\">%.4g</text>"
               "<text x=\"%d\" y=\"%d\" class=\"tick\" text-anchor=\"end\">%.4g</text>",
            pad, top + HIST_H + 14, x0, pad + HIST_W, top + HIST_H + 14, x1);
    if (x0 < 0.0 && x1 > 0.0) {
        double xz = pad + HIST_W * (0.0 - x0) / (x1 - x0);
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" class=\"zero\"/>", xz, xz,
                top, top + HIST_H + 4);
    }
    fputs("\n</svg></figure>\n", f);
}

/* ---- the page ----------------------------------------------------------------------------------- */

static const char style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}"
    "h1{font-size:22px}h2{font-size:18px;margin-top:32px}h3{font-size:15px}"
    "table{border-collapse:collapse}th,td{padding:3px 8px;border-bottom:1px solid #ddd;"
    "text-align:right}td.name{text-align:left}.neg{color:#b00}.pos{color:#070}"
    ".charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:8px 0}"
    "figcaption{font-size:13px;margin-bottom:4px}.dim{color:#777}"
    "svg text{font:11px system-ui,sans-serif}svg .tick{fill:#555}.grid{stroke:#eee}"
    ".bin{fill:#8aa}.range line{stroke-width:1.5}.zero{stroke:#000;stroke-dasharray:2 2}"
    ".hists{display:flex;flex-wrap:wrap;gap:8px 24px}";

qc_status qc_report_html_put(const qc_report *r, FILE *f, qc_error *err)
{
    qc_status st = QC_OK;
    const char *title = r->title ? r->title : "qcal compare";
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
    esc(f, title);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", style);
    esc(f, title);
    fprintf(f, "</h1>\n<p class=\"dim\">qcal %s", r->version ? r->version : "");
    if (r->calib) {
        fputs(" &#183; calibration images <code>", f);
        esc(f, r->calib);
        fputs("</code>", f);
    }
    if (r->val) {
        fputs(" &#183; validation images <code>", f);
        esc(f, r->val);
        fputs("</code>", f);
    }
    fputs("</p>\n", f);
    accuracy_table(f, r);
    accuracy_charts(f, r);
    for (int m = 0; m < r->n_models && st == QC_OK; m++) {
        const qc_report_model *md = &r->models[m];
        fputs("<h2>", f);
        esc(f, md->name);
        fputs("</h2>\n", f);
        st = sqnr_chart(f, r, md, err);
        if (st != QC_OK || md->n_tensors == 0)
            continue;
        fputs("<h3>Histograms and ranges</h3>\n<div class=\"hists\">\n", f);
        for (int i = 0; i < md->n_tensors; i++)
            histogram(f, r, &md->tensors[i]);
        fputs("</div>\n", f);
    }
    fputs("</body>\n</html>\n", f);
    return st;
}

qc_status qc_report_html_write(const qc_report *r, const char *path, qc_error *err)
{
    qc_file file;
    qc_status st = qc_file_begin(&file, path, err);
    if (st != QC_OK)
        return st;
    FILE *f = file.f;
    st = qc_report_html_put(r, f, err);
    if (st != QC_OK) {
        qc_file_abort(&file);
        return st;
    }
    if (ferror(f)) {
        qc_file_abort(&file);
        return qc_fail(err, QC_ERR_IO, "cannot write '%s'", path);
    }
    return qc_file_commit(&file, err);
}
