/* report-html.c — qcal compare's HTML page, for the question "which scheme and granularity,
 * and what does it cost, where?": a summary chart (Δtop-1 with its binomial interval,
 * agreement, KL per variant), the table of every figure the terminal prints plus the gates,
 * SQNR layer by layer in network order, and histograms with the ranges each variant chose
 * (the worst layers open, the others folded). One self-contained file: inline CSS and SVG, no
 * script, no font or image to fetch, so it opens anywhere (CI artifacts, mail) and the same
 * report gives the same bytes.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"

#define N_COLORS 8
/* Okabe–Ito: told apart by colour-blind readers too */
static const char *const colors[N_COLORS] = {"#0072b2", "#e69f00", "#009e73", "#cc79a7",
                                             "#d55e00", "#56b4e9", "#f0e442", "#000000"};
#define LOSS_COLOR "#b00000"
#define GAIN_COLOR "#007000"
#define NOISE_COLOR "#888888"

#define PAGE_W 1180          /* charts: the page is read at 1,280 px */
#define WORST_OPEN 4         /* histograms shown unfolded: the lowest SQNR first */
#define LABEL_CHARS 46       /* tensor names longer than this are cut in the middle */
#define CELL_CHARS 20        /* the same in table cells */

static const char *color_of(int k)
{
    return colors[k % N_COLORS];
}

/* Beyond the palette, lines are dashed: variant k and k + 8 stay told apart. */
static const char *dash_of(int k)
{
    return k >= N_COLORS ? " stroke-dasharray=\"5 3\"" : "";
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

/* A variant name that may wrap after each '/' ("gemmlowp/<wbr>compensated/<wbr>6bit"). */
static void esc_wrap(FILE *f, const char *s)
{
    for (const char *slash; s && (slash = strchr(s, '/')); s = slash + 1) {
        char *part = strndup(s, (size_t)(slash - s) + 1);
        esc(f, part ? part : "/");
        free(part);
        fputs("<wbr>", f);
    }
    esc(f, s);
}

/* s cut to at most max bytes by an ellipsis in the middle, keeping more of the end (where
 * names differ: "…/body.6/Conv_output_0"); never inside a UTF-8 sequence. */
static void esc_short(FILE *f, const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n <= max) {
        esc(f, s);
        return;
    }
    size_t head = (max - 1) * 2 / 5, tail = n - (max - 1 - head);
    while (head > 0 && (s[head] & 0xc0) == 0x80)
        head--;
    while (tail < n && (s[tail] & 0xc0) == 0x80)
        tail++;
    char *h = strndup(s, head);
    esc(f, h ? h : "");
    free(h);
    fputs("&#8230;", f);
    esc(f, s + tail);
}

/* A number as the page prints it; "—" for NaN. */
typedef struct {
    char s[48];
} num;

static num fmt(const char *format, double x)
{
    num n;
    if (isnan(x))
        snprintf(n.s, sizeof n.s, "&#8212;");
    else if (isinf(x))
        snprintf(n.s, sizeof n.s, x > 0 ? "&#8734;" : "&#8722;&#8734;");
    else
        snprintf(n.s, sizeof n.s, format, x + 0.0);
    return n;
}

static num pct(double x, int digits)
{
    num n;
    if (isnan(x))
        return fmt("", x); /* "—" */
    snprintf(n.s, sizeof n.s, "%.*f%%", digits, 100.0 * x);
    return n;
}

/* Signed points, with no "-0.00" for a change that rounds to nothing. */
static num points(double x)
{
    double r = round(x * 100.0) / 100.0;
    return fmt("%+.2f", r == 0.0 ? 0.0 : r);
}

static const char *role_word(const qc_report_tensor *t)
{
    if (t->output)
        return "output";
    return t->role == QC_ROLE_WEIGHT ? "weight" : t->role == QC_ROLE_INPUT ? "input" : "activation";
}

/* Weights are named by the layer that reads them, not by their initializer. */
static const char *display_name(const qc_report_tensor *t)
{
    return t->layer ? t->layer : t->name;
}

static void full_name(FILE *f, const qc_report_tensor *t)
{
    esc(f, display_name(t));
    if (t->layer) {
        fputs(" (weights ", f);
        esc(f, t->name);
        fputs(")", f);
    }
}

/* Why a variant has no figures for t: in a sentence, or (brief) in a few words. */
static void why_words(FILE *f, const qc_report_tensor *t, qc_report_why why, bool brief)
{
    switch (why) {
    case QC_REPORT_MEASURED: break;
    case QC_REPORT_FUSED:
        fputs(brief ? "fused into the " : "fused with the ", f);
        esc(f, t->reader ? t->reader : "op");
        fputs(brief ? " that reads it" : " that reads it: no tensor of its own", f);
        break;
    case QC_REPORT_COMPENSATED:
        fputs(brief ? "compensated: error in the output" : "compensated weight: its error is in the layer's output", f);
        break;
    case QC_REPORT_NOT_QUANTIZED: fputs(brief ? "not quantized" : "not quantized in this variant", f); break;
    case QC_REPORT_NO_IMAGES: fputs(brief ? "no image run" : "no image run (--layer-images 0)", f); break;
    case QC_REPORT_NOT_MEASURED:
        fputs(brief ? "no tensor holds it" : "quantized, but not held by a tensor of the variant", f);
        break;
    }
}

/* "INT8 QDQ · asymmetric (GemmLowP) · weights per channel · minmax ranges" */
static void variant_format(FILE *f, const qc_report_variant *v, bool brief)
{
    if (v->bits == 8)
        fputs("INT8 QDQ", f);
    else
        fprintf(f, "%d-bit FakeQuantize", v->bits);
    if (brief)
        return;
    fputs(v->scheme == QC_SCHEME_GEMMLOWP ? " &#183; asymmetric (GemmLowP)"
          : v->scheme == QC_SCHEME_SYMLOWP ? " &#183; symmetric (SymLowP)" : " &#183; ", f);
    if (v->scheme != QC_SCHEME_GEMMLOWP && v->scheme != QC_SCHEME_SYMLOWP)
        esc(f, qc_scheme_name(v->scheme));
    fprintf(f, " &#183; weights per %s", v->weights == QC_GRANULARITY_CHANNEL ? "channel" : "tensor");
    if (v->activations == QC_GRANULARITY_COMPENSATED)
        fputs(" &#183; input compensation", f);
    fprintf(f, " &#183; %s ranges", qc_method_name(v->method));
}

/* ---- Δtop-1 and its interval ---------------------------------------------------------------- */

typedef struct {
    double delta, lo, hi; /* points against FP32; NaN without labels */
    int sign;             /* −1 a loss beyond the interval, +1 a gain, 0 noise */
} delta_ci;

/* The variant's top-1 is an estimate from `labelled` images: its 95 % Wilson interval, less
 * FP32's top-1 on the same images. A Δ whose interval holds 0 is told as noise. */
static delta_ci delta_of(const qc_report_model *md, const qc_report_result *res)
{
    delta_ci d = {NAN, NAN, NAN, 0};
    if (md->labelled <= 0 || isnan(res->top1) || isnan(md->fp32_top1))
        return d;
    qc_report_wilson(res->correct, md->labelled, &d.lo, &d.hi);
    d.delta = 100.0 * (res->top1 - md->fp32_top1);
    d.lo = 100.0 * (d.lo - md->fp32_top1);
    d.hi = 100.0 * (d.hi - md->fp32_top1);
    d.sign = d.hi < 0.0 ? -1 : d.lo > 0.0 ? 1 : 0;
    return d;
}

static const char *sign_color(int sign)
{
    return sign < 0 ? LOSS_COLOR : sign > 0 ? GAIN_COLOR : NOISE_COLOR;
}

/* The smallest of 1, 2, 5 × 10^k at least x. */
static double nice_ceil(double x)
{
    double p = pow(10.0, floor(log10(x)));
    return x <= p ? p : x <= 2.0 * p ? 2.0 * p : x <= 5.0 * p ? 5.0 * p : 10.0 * p;
}

/* ---- the summary chart ----------------------------------------------------------------------- */

/* The summary's columns (x in px) and its rows. */
enum {
    SUM_ROW = 30, SUM_TOP = 40,
    SUM_D0 = 240, SUM_D1 = 620, SUM_DTEXT = 628,                /* Δ panel and its figures */
    SUM_A0 = 810, SUM_A1 = 930, SUM_K0 = 1010, SUM_K1 = 1110,   /* agreement, KL bars */
};

static void summary_axes(FILE *f, double dspan, double alo, double kmax, int h)
{
    fprintf(f, "<text x=\"%d\" y=\"14\" class=\"head\">&#916; top-1 (points) and its 95 %% interval</text>"
               "<text x=\"%d\" y=\"14\" class=\"head\">agreement with FP32</text>"
               "<text x=\"%d\" y=\"14\" class=\"head\">KL(FP32 &#8214; variant)</text>\n",
            SUM_D0, SUM_A0, SUM_K0);
    for (int i = -2; i <= 2; i++) {
        double x = SUM_D0 + (SUM_D1 - SUM_D0) * (0.5 + i / 4.0);
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" class=\"%s\"/>"
                   "<text x=\"%.1f\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">%s%g</text>\n",
                x, x, SUM_TOP - 6, h - 16, i ? "grid" : "zero", x, SUM_TOP - 10, i > 0 ? "+" : "", dspan * i / 2.0 + 0.0);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"tick\">%g%%</text>"
               "<text x=\"%d\" y=\"%d\" class=\"tick\" text-anchor=\"end\">100%%</text>"
               "<text x=\"%d\" y=\"%d\" class=\"tick\">0</text>"
               "<text x=\"%d\" y=\"%d\" class=\"tick\" text-anchor=\"end\">%.1e</text>\n",
            SUM_A0, SUM_TOP - 10, 100.0 * alo, SUM_A1, SUM_TOP - 10, SUM_K0, SUM_TOP - 10, SUM_K1,
            SUM_TOP - 10, kmax);
}

static void summary_row(FILE *f, const qc_report *r, const qc_report_model *md, int k, double dspan,
                        double alo, double kmax)
{
    const qc_report_result *res = &md->results[k];
    const int y = SUM_TOP + k * SUM_ROW, mid = y + SUM_ROW / 2;
    fprintf(f, "<g class=\"variant\"><rect x=\"0\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
               "<text x=\"16\" y=\"%d\" class=\"name\">",
            mid - 9, color_of(k), mid);
    esc_short(f, r->variants[k].name, 34);
    fprintf(f, "</text><text x=\"16\" y=\"%d\" class=\"tick\">", mid + 12);
    variant_format(f, &r->variants[k], true);
    fputs("</text>\n", f);
    delta_ci d = delta_of(md, res);
    const double dw = SUM_D1 - SUM_D0, dc = SUM_D0 + dw / 2.0;
    if (isnan(d.delta)) {
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">no labels in VAL: "
                   "agreement is the measure</text>\n", dc, mid + 4);
    } else {
        double xl = dc + dw / 2.0 * fmax(d.lo, -dspan) / dspan, xh = dc + dw / 2.0 * fmin(d.hi, dspan) / dspan;
        double xd = dc + dw / 2.0 * fmax(fmin(d.delta, dspan), -dspan) / dspan;
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" class=\"ci\" stroke=\"%s\"/>"
                   "<circle cx=\"%.1f\" cy=\"%d\" r=\"4.5\" fill=\"%s\"/>"
                   "<text x=\"%d\" y=\"%d\" class=\"v-delta\" fill=\"%s\">%s</text>",
                xl, xh, mid, mid, sign_color(d.sign), xd, mid, sign_color(d.sign), SUM_DTEXT, mid + 4,
                sign_color(d.sign), points(d.delta).s);
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"v-ci tick\">%s &#8230; %s</text>\n", SUM_DTEXT + 46,
                mid + 4, points(d.lo).s, points(d.hi).s);
    }
    double a = isnan(res->agreement) ? alo : fmax(res->agreement, alo);
    double aw = (SUM_A1 - SUM_A0) * (a - alo) / (1.0 - alo);
    double kw = isnan(res->kl) || kmax <= 0.0 ? 0.0 : (SUM_K1 - SUM_K0) * fmin(res->kl / kmax, 1.0);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"12\" fill=\"%s\"/>"
               "<text x=\"%d\" y=\"%d\" class=\"v-agree\">%s</text>"
               "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"12\" fill=\"%s\"/>"
               "<text x=\"%d\" y=\"%d\" class=\"v-kl\">%s</text></g>\n",
            SUM_A0, mid - 6, aw, color_of(k), SUM_A1 + 6, mid + 4, pct(res->agreement, 2).s, SUM_K0,
            mid - 6, kw, color_of(k), SUM_K1 + 6, mid + 4, fmt("%.2e", res->kl).s);
}

/* One chart per model: a row per variant. */
static void summary_chart(FILE *f, const qc_report *r, const qc_report_model *md)
{
    double dspan = 0.5, alo = 1.0, kmax = 0.0;
    for (int k = 0; k < r->n_variants; k++) {
        const qc_report_result *res = &md->results[k];
        delta_ci d = delta_of(md, res);
        if (!isnan(d.delta))
            dspan = fmax(dspan, fmax(fabs(d.lo), fabs(d.hi)));
        if (res->agreement < alo)
            alo = res->agreement;
        if (res->kl > kmax)
            kmax = res->kl;
    }
    dspan = nice_ceil(dspan);
    alo = 1.0 - nice_ceil(fmax(1.0 - alo, 0.01) * 1.05); /* at least 99–100 % */
    alo = alo < 0.0 ? 0.0 : alo;
    kmax = kmax > 0.0 ? kmax : 1.0;
    const int h = SUM_TOP + SUM_ROW * r->n_variants + 8;
    fputs("<figure class=\"summary\"><figcaption>", f);
    esc(f, md->name);
    if (md->labelled > 0)
        fprintf(f, ": FP32 top-1 %s on %lld labelled images. The bar is the variant's 95 %% interval "
                   "(Wilson) less FP32's top-1: <span style=\"color:" NOISE_COLOR "\">grey</span> when it "
                   "holds 0 (the change is noise), <span style=\"color:" LOSS_COLOR "\">red</span> or "
                   "<span style=\"color:" GAIN_COLOR "\">green</span> beyond it.",
                pct(md->fp32_top1, 2).s, (long long)md->labelled);
    fputs("</figcaption>\n", f);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart summary\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
            PAGE_W, h, PAGE_W, h);
    summary_axes(f, dspan, alo, kmax, h);
    for (int k = 0; k < r->n_variants; k++)
        summary_row(f, r, md, k, dspan, alo, kmax);
    fputs("</svg></figure>\n", f);
}

/* ---- the table -------------------------------------------------------------------------------- */

/* The worst per-layer figure of a variant over its activations: the lowest (or, with
 * highest, the highest) of the field at offset, and its tensor. */
static double worst_of(const qc_report_model *md, int k, size_t offset, bool highest,
                       const qc_report_tensor **which)
{
    double w = NAN;
    *which = NULL;
    for (int i = 0; i < md->n_tensors; i++) {
        const qc_report_tensor *t = &md->tensors[i];
        double v = *(const double *)((const char *)&t->layers[k] + offset);
        if (t->role == QC_ROLE_WEIGHT || isnan(v))
            continue;
        if (isnan(w) || (highest ? v > w : v < w)) {
            w = v;
            *which = t;
        }
    }
    return w;
}

/* The tensor a worst figure belongs to: shown under it, or (brief) as the cell's tooltip. */
static void cell_tensor(FILE *f, const qc_report_tensor *t, bool brief)
{
    if (!t)
        return;
    fputs(brief ? "<span title=\"" : "<br><span class=\"dim\" title=\"", f);
    full_name(f, t);
    fputs("\">", f);
    if (!brief)
        esc_short(f, display_name(t), CELL_CHARS);
}

static void gate_cell(FILE *f, const qc_report *r, const qc_report_result *res)
{
    if (!r->has_max_drop && !r->has_min_sqnr) {
        fputs("<td class=\"gate none\">no gate set</td>", f);
        return;
    }
    if (!res->gated) {
        fputs("<td class=\"gate none\">not gated</td>", f);
        return;
    }
    bool drop_fails = r->has_max_drop && res->drop > r->max_drop;
    bool sqnr_fails = r->has_min_sqnr && res->min_sqnr_tensor && res->min_sqnr < r->min_sqnr;
    fprintf(f, "<td class=\"gate %s\">gated", drop_fails || sqnr_fails ? "fail" : "pass");
    if (r->has_max_drop)
        fprintf(f, "<br><span class=\"%s\">%s drop %.2f %s %g</span>", drop_fails ? "neg" : "pos",
                drop_fails ? "&#10007;" : "&#10003;", res->drop, drop_fails ? "&gt;" : "&#8804;", r->max_drop);
    if (r->has_min_sqnr)
        fprintf(f, "<br><span class=\"%s\">%s SQNR %s %s %g</span>", sqnr_fails ? "neg" : "pos",
                sqnr_fails ? "&#10007;" : "&#10003;", fmt("%.1f", res->min_sqnr).s,
                sqnr_fails ? "&lt;" : "&#8805;", r->min_sqnr);
    fputs("</td>", f);
}

static void table_row(FILE *f, const qc_report *r, const qc_report_model *md, int k)
{
    const qc_report_result *res = &md->results[k];
    const qc_report_variant *v = &r->variants[k];
    delta_ci d = delta_of(md, res);
    fprintf(f, "<tr><td class=\"variant\"><span class=\"swatch\" style=\"background:%s\"></span>",
            color_of(k));
    esc_wrap(f, v->name);
    fputs("<span class=\"fmt\">", f);
    variant_format(f, v, false);
    fprintf(f, "</span></td><td class=\"top1\">%s</td><td class=\"delta\" style=\"color:%s\">%s</td>"
               "<td class=\"ci\">%s%s%s</td><td class=\"agree\">%s</td><td class=\"kl\">%s</td>"
               "<td class=\"speed\">%s</td><td class=\"sqnr\">%s",
            pct(res->top1, 2).s, sign_color(d.sign), points(d.delta).s, points(d.lo).s,
            isnan(d.lo) ? "" : " &#8230; ", isnan(d.lo) ? "" : points(d.hi).s,
            pct(res->agreement, 2).s, fmt("%.2e", res->kl).s, fmt("%.2f&#215;", res->speedup).s,
            fmt("%.1f", res->min_sqnr_tensor ? res->min_sqnr : NAN).s);
    const qc_report_tensor *t = NULL;
    for (int i = 0; i < md->n_tensors; i++)
        if (res->min_sqnr_tensor && !strcmp(md->tensors[i].name, res->min_sqnr_tensor))
            t = &md->tensors[i];
    cell_tensor(f, t, false);
    fputs(t ? "</span>" : "", f);
    double cos = worst_of(md, k, offsetof(qc_report_layer, cosine), false, &t);
    fputs("</td><td class=\"cos\">", f);
    cell_tensor(f, t, true);
    fprintf(f, "%s%s", fmt("%.5f", cos).s, t ? "</span>" : "");
    double clip = worst_of(md, k, offsetof(qc_report_layer, clipped), true, &t);
    fputs("</td><td class=\"clip\">", f);
    cell_tensor(f, t, true);
    fprintf(f, "%s%s", pct(clip, 3).s, t ? "</span>" : "");
    double used = worst_of(md, k, offsetof(qc_report_layer, codes_used), false, &t);
    fputs("</td><td class=\"codes\">", f);
    cell_tensor(f, t, true);
    fprintf(f, "%s%s", pct(used, 0).s, t ? "</span>" : "");
    double out_err = NAN;
    for (int i = 0; i < md->n_tensors; i++)
        if (md->tensors[i].output)
            out_err = md->tensors[i].layers[k].max_abs_err;
    fprintf(f, "</td><td class=\"err\">%s</td>", fmt("%.3g", out_err).s);
    gate_cell(f, r, res);
    fputs("</tr>\n", f);
}

static void variants_table(FILE *f, const qc_report *r)
{
    fputs("<table id=\"variants\">\n<thead><tr><th class=\"variant\">variant and format</th>"
          "<th>top&#8209;1</th><th>&#916; top&#8209;1 (points)</th><th>95 % interval of &#916;</th>"
          "<th>agreement with FP32</th><th>KL</th><th>speed&#8209;up</th>"
          "<th>min SQNR (dB), activations</th><th>min cosine</th><th>max clipped</th>"
          "<th>min codes used</th><th>output max |error|</th><th class=\"gate\">gates</th></tr></thead>\n",
          f);
    for (int m = 0; m < r->n_models; m++) {
        const qc_report_model *md = &r->models[m];
        fputs("<tbody><tr class=\"model\"><td colspan=\"13\"><b>", f);
        esc(f, md->name);
        fprintf(f, "</b> &#183; FP32 top-1 %s on %lld images (%lld labelled) &#183; per-layer figures on "
                   "%lld images</td></tr>\n",
                pct(md->fp32_top1, 2).s, (long long)md->images, (long long)md->labelled,
                (long long)md->layer_images);
        for (int k = 0; k < r->n_variants; k++)
            table_row(f, r, md, k);
        fputs("</tbody>\n", f);
    }
    fputs("</table>\n", f);
}

static void gates_note(FILE *f, const qc_report *r)
{
    if (!r->has_max_drop && !r->has_min_sqnr) {
        fputs("<p class=\"dim\">No gate set (--max-drop, --min-sqnr).</p>\n", f);
        return;
    }
    fputs("<p id=\"gates\">Gates on ", f);
    if (r->gate) {
        fputs("<b>", f);
        esc(f, r->gate);
        fputs("</b>", f);
    } else {
        fputs("the most faithful variant of each model (highest agreement with FP32, then lowest KL, "
              "then smallest drop):", f);
        for (int m = 0; m < r->n_models; m++)
            for (int k = 0; k < r->n_variants; k++)
                if (r->models[m].results[k].gated) {
                    fputs(" <b>", f);
                    esc(f, r->variants[k].name);
                    fputs("</b> of ", f);
                    esc(f, r->models[m].name);
                    fputs(m + 1 < r->n_models ? "," : "", f);
                }
    }
    if (r->n_failures == 0) {
        fputs(": <span class=\"pos\">passed</span>.</p>\n", f);
        return;
    }
    fprintf(f, ": <span class=\"neg\">%d failed</span>.</p>\n<ul class=\"failures\">\n", r->n_failures);
    for (int i = 0; i < r->n_failures; i++) {
        fputs("<li>", f);
        esc(f, r->failures[i]);
        fputs("</li>\n", f);
    }
    fputs("</ul>\n", f);
}

/* ---- per-layer SQNR in network order ------------------------------------------------------ */

enum {
    LAY_ROW = 14, LAY_TOP = 34, LAY_NAME_W = 296, LAY_ROLE_X = 302,
    LAY_P0 = 370, LAY_P1 = 830, LAY_NOTE_X = 842,
};

/* x of an SQNR on the plot: 0 dB at the left, scale at the right (+inf there too). */
static double sqnr_x(double db, double scale)
{
    double v = isinf(db) ? (db > 0 ? scale : 0.0) : fmin(fmax(db, 0.0), scale);
    return LAY_P0 + (LAY_P1 - LAY_P0) * v / scale;
}

/* The note of a row where some variant has no figures: the reason, and which variants. */
static void layer_note(FILE *f, const qc_report *r, const qc_report_tensor *t, int y)
{
    int missing = 0, first = -1;
    bool same = true;
    for (int k = 0; k < r->n_variants; k++)
        if (t->layers[k].why != QC_REPORT_MEASURED) {
            missing++;
            same &= first < 0 || t->layers[k].why == t->layers[first].why;
            first = first < 0 ? k : first;
        }
    if (!missing)
        return;
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"note\"><title>", LAY_NOTE_X, y);
    for (int k = 0; k < r->n_variants; k++)
        if (t->layers[k].why != QC_REPORT_MEASURED) {
            esc(f, r->variants[k].name);
            fputs(": ", f);
            why_words(f, t, t->layers[k].why, false);
            fputs("\n", f);
        }
    fputs("</title>&#8212; ", f);
    if (same)
        why_words(f, t, t->layers[first].why, true);
    else
        fputs("for several reasons", f);
    if (missing < r->n_variants)
        fprintf(f, " (%d of %d variants)", missing, r->n_variants);
    fputs("</text>\n", f);
}

static void layer_markers(FILE *f, const qc_report *r, const qc_report_tensor *t, int y, double scale)
{
    for (int k = 0; k < r->n_variants; k++) {
        double db = t->layers[k].sqnr_db;
        if (isnan(db))
            continue;
        double x = sqnr_x(db, scale);
        if (t->role == QC_ROLE_WEIGHT)
            fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"7\" height=\"7\" class=\"wt\" stroke=\"%s\">",
                    x - 3.5, y - 3, color_of(k));
        else
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%d\" r=\"3\" fill=\"%s\">", x, y, color_of(k));
        fputs("<title>", f);
        esc(f, r->variants[k].name);
        fputs(": ", f);
        full_name(f, t);
        fprintf(f, " %s dB</title></%s>\n", fmt("%.2f", db).s, t->role == QC_ROLE_WEIGHT ? "rect" : "circle");
    }
}

/* Each variant's activations joined in network order: where the error builds up. */
static void layer_lines(FILE *f, const qc_report *r, const qc_report_model *md, double scale)
{
    for (int k = 0; k < r->n_variants; k++) {
        fprintf(f, "<polyline class=\"line\" stroke=\"%s\"%s points=\"", color_of(k), dash_of(k));
        for (int i = 0; i < md->n_tensors; i++) {
            const qc_report_tensor *t = &md->tensors[i];
            double db = t->layers[k].sqnr_db;
            if (t->role != QC_ROLE_WEIGHT && isfinite(db))
                fprintf(f, "%.1f,%d ", sqnr_x(db, scale), LAY_TOP + i * LAY_ROW + LAY_ROW / 2);
        }
        fputs("\"/>\n", f);
    }
}

static void layers_axis(FILE *f, double scale, int h)
{
    fprintf(f, "<text x=\"0\" y=\"12\" class=\"head\">tensor (weights: the layer that reads them)</text>"
               "<text x=\"%d\" y=\"12\" class=\"head\">role</text>"
               "<text x=\"%d\" y=\"12\" class=\"head\">SQNR against FP32 (dB), higher is better</text>"
               "<text x=\"%d\" y=\"12\" class=\"head\">no figures (&#8212;): why</text>\n",
            LAY_ROLE_X, LAY_P0, LAY_NOTE_X);
    const double step = scale > 60.0 ? 20.0 : 10.0;
    for (double v = 0.0; v <= scale + 1e-9; v += step) {
        double x = sqnr_x(v, scale);
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" class=\"grid\"/>"
                   "<text x=\"%.1f\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">%g</text>\n",
                x, x, LAY_TOP - 4, h - 4, x, LAY_TOP - 8, v);
    }
}

static void layers_chart(FILE *f, const qc_report *r, const qc_report_model *md)
{
    if (md->n_tensors == 0)
        return;
    double scale = 10.0;
    for (int i = 0; i < md->n_tensors; i++)
        for (int k = 0; k < r->n_variants; k++)
            if (isfinite(md->tensors[i].layers[k].sqnr_db))
                scale = fmax(scale, md->tensors[i].layers[k].sqnr_db);
    scale = 10.0 * ceil(scale / 10.0);
    const int h = LAY_TOP + LAY_ROW * md->n_tensors + 4;
    fputs("<figure class=\"layers\"><figcaption>", f);
    esc(f, md->name);
    fprintf(f, ", on %lld images: &#9679; activations (joined in network order), &#9633; weights; "
               "&#8734; (identical) at the right edge.", (long long)md->layer_images);
    for (int k = 0; k < r->n_variants; k++) {
        fprintf(f, " <span class=\"swatch\" style=\"background:%s\"></span>", color_of(k));
        esc(f, r->variants[k].name);
    }
    fprintf(f, "</figcaption>\n<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart layers\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
            PAGE_W, h, PAGE_W, h);
    for (int i = 0; i < md->n_tensors; i += 2)
        fprintf(f, "<rect x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"stripe\"/>\n",
                LAY_TOP + i * LAY_ROW, PAGE_W, LAY_ROW);
    layers_axis(f, scale, h);
    layer_lines(f, r, md, scale);
    for (int i = 0; i < md->n_tensors; i++) {
        const qc_report_tensor *t = &md->tensors[i];
        const int y = LAY_TOP + i * LAY_ROW + LAY_ROW / 2;
        fprintf(f, "<text x=\"0\" y=\"%d\" class=\"label\"><title>", y + 4);
        full_name(f, t);
        fputs("</title>", f);
        esc_short(f, display_name(t), LABEL_CHARS);
        fprintf(f, "</text><text x=\"%d\" y=\"%d\" class=\"tick role\">%s</text>\n", LAY_ROLE_X, y + 4,
                role_word(t));
        layer_markers(f, r, t, y, scale);
        layer_note(f, r, t, y + 4);
    }
    fputs("</svg></figure>\n", f);
}

/* ---- histograms ------------------------------------------------------------------------------- */

enum {
    HIST_W = 560, HIST_LEFT = 58, HIST_RIGHT = 10, HIST_PLOT_H = 110, HIST_LANE = 10,
    HIST_BARS = 100, /* display bins */
};

/* Left edge of statistics bin b (stats.h: width 2^log2_range / QC_HIST_HALF). */
static double bin_edge(const qc_hist *h, int64_t b)
{
    return ldexp((double)(b - QC_HIST_HALF), h->log2_range) / QC_HIST_HALF;
}

/* The span shown: the recorded bins and every variant's range. */
static bool hist_span(const qc_report *r, const qc_report_tensor *t, int64_t *b0, int64_t *b1, double *x0,
                      double *x1)
{
    const qc_hist *h = t->hist;
    *b0 = *b1 = -1;
    if (h && h->counts && h->total > 0)
        for (int64_t b = 0; b < QC_HIST_BINS; b++)
            if (h->counts[b]) {
                *b0 = *b0 < 0 ? b : *b0;
                *b1 = b;
            }
    if (*b0 < 0)
        return false;
    *x0 = bin_edge(h, *b0);
    *x1 = bin_edge(h, *b1 + 1);
    for (int k = 0; k < r->n_variants; k++)
        if (t->layers[k].has_range) {
            *x0 = fmin(*x0, t->layers[k].lo);
            *x1 = fmax(*x1, t->layers[k].hi);
        }
    if (!(*x1 > *x0))
        *x1 = *x0 + 1.0;
    return true;
}

/* "1", "10", "100", "1k", … for the count axis */
static void count_label(FILE *f, double c)
{
    if (c >= 1e6)
        fprintf(f, "%gM", c / 1e6);
    else if (c >= 1e3)
        fprintf(f, "%gk", c / 1e3);
    else
        fprintf(f, "%g", c);
}

static void count_tick(FILE *f, double c, double lp, int bottom)
{
    double y = bottom - HIST_PLOT_H * log10(1.0 + c) / lp;
    fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
               "<text x=\"%d\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">",
            HIST_LEFT, HIST_W - HIST_RIGHT, y, y, HIST_LEFT - 4, y + 4);
    count_label(f, c);
    fputs("</text>\n", f);
}

static void hist_axes(FILE *f, double x0, double x1, int64_t peak, int top)
{
    const int pw = HIST_W - HIST_LEFT - HIST_RIGHT, bottom = top + HIST_PLOT_H;
    const double lp = log10(1.0 + (double)peak);
    int decades = (int)floor(log10((double)peak)) + 1, every = decades > 5 ? 2 : 1;
    for (int j = 0; j < decades; j += every)
        count_tick(f, pow(10.0, j), lp, bottom);
    if (decades <= 2 && (double)peak != pow(10.0, decades - 1)) /* few powers of ten: the peak too */
        count_tick(f, (double)peak, lp, bottom);
    const double step = nice_ceil((x1 - x0) / 6.0);
    for (double v = ceil(x0 / step) * step; v <= x1 + 1e-9 * step; v += step) {
        double x = HIST_LEFT + pw * (v - x0) / (x1 - x0);
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" class=\"%s\"/>"
                   "<text x=\"%.1f\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">%.4g</text>\n",
                x, x, bottom, bottom + 4, fabs(v) < 1e-9 * step ? "zero" : "axis", x, bottom + 15,
                fabs(v) < 1e-9 * step ? 0.0 : v);
    }
    fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" class=\"axis\"/>"
               "<text x=\"%d\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">value</text>"
               "<text transform=\"translate(12 %d) rotate(-90)\" class=\"tick\" text-anchor=\"middle\">"
               "count (log scale)</text>\n",
            HIST_LEFT, HIST_W - HIST_RIGHT, bottom, bottom, HIST_LEFT + pw / 2, bottom + 28,
            top + HIST_PLOT_H / 2);
}

/* Each variant's range in its own lane above the plot, its ends dotted down through the bars;
 * per channel, the spread of the channels' ends as a band. */
static void hist_lanes(FILE *f, const qc_report *r, const qc_report_tensor *t, double x0, double x1, int top)
{
    const double pw = HIST_W - HIST_LEFT - HIST_RIGHT;
#define HX(v) (HIST_LEFT + pw * ((v) - x0) / (x1 - x0))
    for (int k = 0; k < r->n_variants; k++) {
        const qc_report_layer *l = &t->layers[k];
        if (!l->has_range)
            continue;
        const int y = 4 + k * HIST_LANE + HIST_LANE / 2;
        fprintf(f, "<g class=\"range\" stroke=\"%s\" fill=\"%s\">", color_of(k), color_of(k));
        if (l->n_channels > 1)
            fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"8\" class=\"band\"/>"
                       "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"8\" class=\"band\"/>",
                    HX(l->lo_band[0]), y - 4, HX(l->lo_band[1]) - HX(l->lo_band[0]), HX(l->hi_band[0]), y - 4,
                    HX(l->hi_band[1]) - HX(l->hi_band[0]));
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"%s/>"
                   "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" class=\"end\"/>"
                   "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" class=\"end\"/></g>\n",
                HX(l->lo), HX(l->hi), y, y, dash_of(k), HX(l->lo), HX(l->lo), y - 4, top + HIST_PLOT_H, HX(l->hi),
                HX(l->hi), y - 4, top + HIST_PLOT_H);
    }
#undef HX
}

static void hist_svg(FILE *f, const qc_report *r, const qc_report_tensor *t)
{
    int64_t b0, b1;
    double x0, x1;
    if (!hist_span(r, t, &b0, &b1, &x0, &x1)) {
        fputs("<p class=\"dim\">no histogram recorded</p>\n", f);
        return;
    }
    /* display bins: statistics bins summed by where their left edge falls */
    int64_t bars[HIST_BARS] = {0}, peak = 1;
    for (int64_t b = b0; b <= b1; b++) {
        int d = (int)((bin_edge(t->hist, b) - x0) / (x1 - x0) * HIST_BARS);
        d = d < 0 ? 0 : d >= HIST_BARS ? HIST_BARS - 1 : d;
        bars[d] += t->hist->counts[b];
    }
    for (int d = 0; d < HIST_BARS; d++)
        peak = bars[d] > peak ? bars[d] : peak;
    const int top = 8 + HIST_LANE * r->n_variants, h = top + HIST_PLOT_H + 34;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart hist\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" role=\"img\">\n",
            HIST_W, h, HIST_W, h);
    hist_axes(f, x0, x1, peak, top);
    /* heights on a log scale: a few outliers beside millions of values stay visible */
    const double lp = log10(1.0 + (double)peak), bw = (double)(HIST_W - HIST_LEFT - HIST_RIGHT) / HIST_BARS;
    for (int d = 0; d < HIST_BARS; d++) {
        if (!bars[d])
            continue;
        double bh = HIST_PLOT_H * log10(1.0 + (double)bars[d]) / lp;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"bin\"/>\n",
                HIST_LEFT + d * bw, top + HIST_PLOT_H - bh, bw, bh);
    }
    hist_lanes(f, r, t, x0, x1, top);
    fputs("</svg>\n", f);
}

/* Per variant: the range and the tensor's figures (or why there are none). */
static void tensor_table(FILE *f, const qc_report *r, const qc_report_tensor *t)
{
    fputs("<table class=\"metrics\"><thead><tr><th class=\"variant\">variant</th><th>range</th><th>SQNR (dB)</th>"
          "<th>cosine</th><th>max |error|</th><th>clipped</th><th>codes used</th></tr></thead><tbody>\n", f);
    for (int k = 0; k < r->n_variants; k++) {
        const qc_report_layer *l = &t->layers[k];
        fprintf(f, "<tr><td class=\"variant\"><span class=\"swatch\" style=\"background:%s\"></span>",
                color_of(k));
        esc_short(f, r->variants[k].name, CELL_CHARS);
        fputs("</td><td>", f);
        if (l->has_range)
            fprintf(f, "[%.4g, %.4g]", (double)l->lo, (double)l->hi);
        else
            fputs("&#8212;", f);
        if (l->n_channels > 1)
            fprintf(f, "<br><span class=\"dim\">%d channels (band)</span>", l->n_channels);
        if (l->why == QC_REPORT_MEASURED) {
            fprintf(f, "</td><td>%s</td><td>%s</td><td>%s</td>", fmt("%.2f", l->sqnr_db).s,
                    fmt("%.5f", l->cosine).s, fmt("%.3g", l->max_abs_err).s);
        } else {
            fputs("</td><td colspan=\"3\" class=\"why\">&#8212; ", f);
            why_words(f, t, l->why, false);
            fputs("</td>", f);
        }
        fprintf(f, "<td>%s</td><td>%s</td></tr>\n", pct(l->clipped, 3).s, pct(l->codes_used, 0).s);
    }
    fputs("</tbody></table>\n", f);
}

static void tensor_caption(FILE *f, const qc_report_tensor *t)
{
    fputs("<b title=\"", f);
    full_name(f, t);
    fputs("\">", f);
    esc_short(f, display_name(t), LABEL_CHARS);
    fprintf(f, "</b> <span class=\"dim\">%s", role_word(t));
    if (t->layer) {
        fputs(" ", f);
        esc_short(f, t->name, CELL_CHARS);
    }
    fprintf(f, " &#183; observed [%.4g, %.4g]</span>", (double)t->min, (double)t->max);
}

/* A tensor's histogram and table; folded ones have their caption in the <summary>. */
static void tensor_figure(FILE *f, const qc_report *r, const qc_report_tensor *t, bool caption)
{
    fputs("<figure class=\"tensor\">", f);
    if (caption) {
        fputs("<figcaption>", f);
        tensor_caption(f, t);
        fputs("</figcaption>\n", f);
    }
    hist_svg(f, r, t);
    tensor_table(f, r, t);
    fputs("</figure>\n", f);
}

/* Sorting key: the tensor's worst SQNR over the variants (NaN: not measured, last). */
static double worst_sqnr(const qc_report_tensor *t, int n_variants)
{
    double w = NAN;
    for (int k = 0; k < n_variants; k++)
        if (!isnan(t->layers[k].sqnr_db) && (isnan(w) || t->layers[k].sqnr_db < w))
            w = t->layers[k].sqnr_db;
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

/* The WORST_OPEN tensors of lowest SQNR open; every other one folded, in network order. */
static qc_status histograms(FILE *f, const qc_report *r, const qc_report_model *md, qc_error *err)
{
    const int n = md->n_tensors, open = n < WORST_OPEN ? n : WORST_OPEN;
    sqnr_order *order = malloc(sizeof *order * (size_t)(n + 1));
    bool *shown = calloc((size_t)n + 1, sizeof *shown);
    if (!order || !shown) {
        free(order);
        free(shown);
        return qc_fail(err, QC_ERR_IO, "out of memory writing the report");
    }
    for (int i = 0; i < n; i++)
        order[i] = (sqnr_order){i, worst_sqnr(&md->tensors[i], r->n_variants)};
    qsort(order, (size_t)n, sizeof *order, cmp_sqnr);
    fputs("<h3>Histograms of ", f);
    esc(f, md->name);
    fprintf(f, "</h3>\n<p class=\"dim\">Counts on a log scale; each variant's range in its own lane above "
               "the bars, ends dotted down; per-channel ranges: a band where the channels' ends lie. The "
               "%d tensors of lowest SQNR:</p>\n<div class=\"hists\">\n", open);
    for (int j = 0; j < open; j++) {
        tensor_figure(f, r, &md->tensors[order[j].index], true);
        shown[order[j].index] = true;
    }
    fprintf(f, "</div>\n<details class=\"others\"><summary>the other %d tensors, in network order</summary>\n",
            n - open);
    for (int i = 0; i < n; i++) {
        if (shown[i])
            continue;
        const qc_report_tensor *t = &md->tensors[i];
        fputs("<details class=\"tensor\"><summary>", f);
        tensor_caption(f, t);
        fprintf(f, " &#183; lowest SQNR %s dB</summary>\n", fmt("%.1f", worst_sqnr(t, r->n_variants)).s);
        tensor_figure(f, r, t, false);
        fputs("</details>\n", f);
    }
    fputs("</details>\n", f);
    free(order);
    free(shown);
    return QC_OK;
}

/* ---- the page ----------------------------------------------------------------------------------- */

static const char style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:20px auto;padding:0 16px;color:#222;max-width:1200px}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}h3{font-size:15px}"
    "table{border-collapse:collapse;font-size:13px}th,td{padding:3px 5px;border-bottom:1px solid #ddd;"
    "text-align:right;vertical-align:top}th{font-weight:600;vertical-align:bottom}"
    "td.variant,th.variant,td.gate,th.gate,tr.model td{text-align:left}"
    "#variants{width:100%}#variants th{max-width:90px}#variants td,.metrics td{white-space:nowrap}"
    "#variants td.variant{white-space:normal;width:200px}"
    "tr.model td{background:#f4f4f4}"
    ".fmt{display:block;color:#555;font-size:12px}.swatch{display:inline-block;width:10px;height:10px;margin-right:5px}"
    ".neg{color:#b00000}.pos{color:#007000}.dim{color:#666;font-size:12px}.gate.fail{background:#fdecec}"
    ".gate span{white-space:nowrap}"
    "figure{margin:8px 0}figcaption{font-size:13px;margin-bottom:4px}.failures{color:#b00000}"
    "svg text{font:11px system-ui,sans-serif}svg .tick{fill:#555}svg .head{font-weight:600}"
    "svg .name{font-weight:600}svg .note{fill:#666}.grid{stroke:#e4e4e4}.axis{stroke:#999}"
    ".zero{stroke:#000;stroke-dasharray:2 2}.ci{stroke-width:3;stroke-linecap:round}.stripe{fill:#f6f6f6}"
    ".line{fill:none;stroke-width:1.5;opacity:.75}.wt{fill:#fff;stroke-width:1.5}"
    ".bin{fill:#8aa}.range line{stroke-width:2}.range .end{stroke-width:1;stroke-dasharray:2 2}"
    ".band{opacity:.35;stroke:none}.hists{display:flex;flex-wrap:wrap;gap:8px 40px}"
    ".tensor{width:560px}.metrics{font-size:12px;margin-top:4px;width:100%}.why{color:#666;text-align:left}"
    "details.others>details{margin:4px 0 4px 16px}summary{cursor:pointer}";

static void header(FILE *f, const qc_report *r)
{
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
}

/* The sensitivity ranking of each variant (compare --sensitivity): the nodes whose return
 * to FP32 alone helps most, with the score and the gain over the variant as quantized, on the
 * ranking's subset of the validation images. */
#define SENSITIVITY_ROWS 10
static void sensitivity_table(FILE *f, const qc_report *r, const qc_report_model *md)
{
    const bool labelled = md->labelled > 0;
    const qc_aa_metric metric = labelled ? QC_AA_TOP1 : QC_AA_AGREEMENT;
    for (int k = 0; k < r->n_variants; k++) {
        const qc_aa_result *a = &md->sensitivity[k];
        double base = qc_aa_value(metric, &a->subset_quantized);
        fputs("<table class=\"sensitivity\"><caption>", f);
        esc(f, md->name);
        fputs(" &#183; ", f);
        esc(f, r->variants[k].name);
        fprintf(f, ": %s %.2f %% on %lld images as quantized</caption>\n"
                   "<tr><th>#</th><th>node (for --exclude)</th><th>%s with it alone in FP32</th><th>gain, points</th></tr>\n",
                labelled ? "top-1" : "agreement", base, (long long)a->subset, labelled ? "top-1" : "agreement");
        for (int i = 0; i < a->n_ranked && i < SENSITIVITY_ROWS; i++) {
            double v = qc_aa_value(metric, &a->ranking[i].score);
            fprintf(f, "<tr><td>%d</td><td><code>", i + 1);
            esc(f, a->ranking[i].node);
            fprintf(f, "</code></td><td>%.2f %%</td><td>%+.2f</td></tr>\n", v, v - base);
        }
        if (a->n_ranked > SENSITIVITY_ROWS)
            fprintf(f, "<tr><td colspan=\"4\">%d more nodes in the JSON</td></tr>\n", a->n_ranked - SENSITIVITY_ROWS);
        fputs("</table>\n", f);
    }
}

/* Is the calibration set big enough (qcal stats --adequacy)? The tensors whose scale a
 * bootstrap over the groups of calibration images finds uncertain by more than the tolerance,
 * and the images that would bring each within it. */
#define ADEQUACY_ROWS 10
static void adequacy_table(FILE *f, const qc_report *r, const qc_report_model *md)
{
    const qc_adequacy *a = md->adequacy;
    const qc_report_variant *v = &r->variants[md->adequacy_variant];
    fputs("<table class=\"adequacy\"><caption>", f);
    esc(f, md->name);
    fputs(" &#183; the scale of ", f);
    esc(f, v->name);
    fprintf(f, " (%s", qc_range_method_name(a->method));
    if (a->evaluated != a->method)
        fprintf(f, ", judged by %s: per-group histograms are not kept", qc_range_method_name(a->evaluated));
    fprintf(f, ", %d bits): %d of %d tensors vary by more than %.3g %% (relative standard deviation) over "
               "resamples of the %lld groups of %lld calibration images</caption>\n",
            v->bits, a->n_uncertain, a->n, 100 * a->tolerance, (long long)a->groups, (long long)a->images);
    if (!a->n_uncertain) {
        fputs("</table>\n", f);
        return;
    }
    fputs("<tr><th>tensor</th><th>scale</th><th>relative std</th><th>90 % interval</th><th>images needed</th></tr>\n", f);
    /* the most uncertain first (the first in network order on ties), at most ADEQUACY_ROWS */
    bool *shown = calloc((size_t)a->n, sizeof *shown);
    for (int row = 0; row < a->n_uncertain && row < ADEQUACY_ROWS && shown; row++) {
        int worst = -1;
        for (int j = 0; j < a->n; j++)
            if (a->tensors[j].uncertain && !shown[j] && (worst < 0 || a->tensors[j].rsd > a->tensors[worst].rsd))
                worst = j;
        shown[worst] = true;
        const qc_adequacy_tensor *t = &a->tensors[worst];
        fputs("<tr><td><code>", f);
        esc(f, md->tensors[t->tensor].name);
        fprintf(f, "</code></td><td>%.4g</td><td>%.1f %%</td><td>%.4g &#8230; %.4g</td><td>%lld</td></tr>\n", t->scale,
                100 * t->rsd, t->lo90, t->hi90, (long long)t->images_needed);
    }
    free(shown);
    if (a->n_uncertain > ADEQUACY_ROWS)
        fprintf(f, "<tr><td colspan=\"5\">%d more: qcal stats --adequacy lists them all</td></tr>\n",
                a->n_uncertain - ADEQUACY_ROWS);
    fputs("</table>\n", f);
}

qc_status qc_report_html_put(const qc_report *r, FILE *f, qc_error *err)
{
    qc_status st = QC_OK;
    header(f, r);
    fputs("<section id=\"summary\">\n<h2>Summary: what each variant costs</h2>\n", f);
    for (int m = 0; m < r->n_models; m++)
        summary_chart(f, r, &r->models[m]);
    fputs("</section>\n<section id=\"table\">\n<h2>Every figure, and the gates</h2>\n", f);
    variants_table(f, r);
    gates_note(f, r);
    fputs("</section>\n<section id=\"layers\">\n<h2>Layer by layer, in network order</h2>\n", f);
    for (int m = 0; m < r->n_models; m++)
        layers_chart(f, r, &r->models[m]);
    bool ranked = false;
    for (int m = 0; m < r->n_models; m++)
        ranked |= r->models[m].sensitivity != NULL;
    if (ranked) {
        fputs("</section>\n<section id=\"sensitivity\">\n<h2>Sensitivity: the nodes to keep in FP32 first</h2>\n", f);
        for (int m = 0; m < r->n_models; m++)
            if (r->models[m].sensitivity)
                sensitivity_table(f, r, &r->models[m]);
    }
    bool judged = false;
    for (int m = 0; m < r->n_models; m++)
        judged |= r->models[m].adequacy != NULL;
    if (judged) {
        fputs("</section>\n<section id=\"adequacy\">\n<h2>Is the calibration set big enough?</h2>\n", f);
        for (int m = 0; m < r->n_models; m++)
            if (r->models[m].adequacy)
                adequacy_table(f, r, &r->models[m]);
    }
    fputs("</section>\n<section id=\"histograms\">\n<h2>Histograms and ranges</h2>\n", f);
    for (int m = 0; m < r->n_models && st == QC_OK; m++)
        if (r->models[m].n_tensors > 0)
            st = histograms(f, r, &r->models[m], err);
    fputs("</section>\n</body>\n</html>\n", f);
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
