/* range.c — the range methods: pure functions of the recorded statistics that give the real
 * range [lo, hi] to quantize a tensor (or one channel) to. The formulas are numbered in
 * docs/statistics.md (R1–R8); every result is clamped to the absolute extremes. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats-impl.h"

static const char *const method_names[QC_RANGE_COUNT] = {
    "minmax", "avg", "avgstd", "meanstd", "percentile", "entropy", "mse",
};

void qc_range_params_default(qc_range_params *p)
{
    p->n_std = 3.0;
    p->percentile = 99.99;
    p->bits = 8;
}

const char *qc_range_method_name(qc_range_method m)
{
    return m >= 0 && m < QC_RANGE_COUNT ? method_names[m] : "?";
}

int qc_range_method_parse(const char *s)
{
    for (int m = 0; m < QC_RANGE_COUNT; m++)
        if (!strcmp(s, method_names[m]))
            return m;
    return -1;
}

bool qc_range_method_uses_histogram(qc_range_method m)
{
    return m == QC_RANGE_PERCENTILE || m == QC_RANGE_ENTROPY || m == QC_RANGE_MSE;
}

/* Values per sample in one channel (or the whole tensor). */
static int64_t per_sample(const qc_tensor_stats *t, int channel)
{
    return channel < 0 ? t->numel : t->numel / t->channels;
}

/* Mean and population std of N terms whose sum and sum of squares are given (eq. R0). */
static void mean_std(const qc_fix *sum, const qc_fix *sumsq, double n, double *mean, double *std)
{
    double m = qc_fix_to_double(sum) / n;
    double var = qc_fix_to_double(sumsq) / n - m * m;
    *mean = m;
    *std = var > 0 ? sqrt(var) : 0.0;
}

bool qc_stats_mean_std(const qc_tensor_stats *t, int channel, double *mean, double *std)
{
    const qc_moments *m = channel < 0 ? &t->t : t->ch ? &t->ch[channel] : NULL;
    double n = (double)t->samples * (double)per_sample(t, channel);
    if (!m || !(n > 0))
        return false;
    mean_std(&m->sum, &m->sumsq, n, mean, std);
    return true;
}

/* |x| histogram: a[j] counts |x| in bin j of width w = R / QC_HIST_HALF (positive bin j plus
 * negative bin −1 − j). Returns the number of bins up to the last non-empty one. */
static int abs_hist(const qc_hist *h, double *a)
{
    int n = 0;
    for (int j = 0; j < QC_HIST_HALF; j++) {
        a[j] = (double)(h->counts[QC_HIST_HALF + j] + h->counts[QC_HIST_HALF - 1 - j]);
        if (a[j] > 0)
            n = j + 1;
    }
    return n;
}

/* R5: percentile per side. hi is the upper edge of the first bin where the count from below
 * reaches p% of the values, lo the lower edge of the last bin where the count from above
 * does. */
static void range_percentile(const qc_hist *h, double p, double w, double *lo, double *hi)
{
    double target = p / 100.0 * (double)h->total;
    double cum = 0;
    int b_hi = QC_HIST_BINS - 1, b_lo = 0;
    for (int b = 0; b < QC_HIST_BINS; b++) {
        cum += (double)h->counts[b];
        if (cum >= target) {
            b_hi = b;
            break;
        }
    }
    cum = 0;
    for (int b = QC_HIST_BINS - 1; b >= 0; b--) {
        cum += (double)h->counts[b];
        if (cum >= target) {
            b_lo = b;
            break;
        }
    }
    *hi = (b_hi - QC_HIST_HALF + 1) * w;
    *lo = (b_lo - QC_HIST_HALF) * w;
}

static double xlogx(double x)
{
    return x > 0 ? x * log(x) : 0.0;
}

/* R6: TensorRT's entropy calibration on the |x| histogram a[0..n). For each candidate
 * number of bins i (levels ≤ i ≤ n), with T the total and out = Σ a[i..n):
 *   P = a[0..i) with out added to bin i − 1 (the clipped reference, total T);
 *   Q = a[0..i) merged into `levels` groups g of bins ⌊i·g/levels⌋ … ⌊i·(g+1)/levels⌋ − 1,
 *       each group's count G_g spread evenly over its nz_g non-empty bins (total T − out);
 *   KL(P‖Q) = Σ_k p_k log(p_k / q_k), p = P / T, q = Q / (T − out), which is
 *   (1/T) (Σ_k P_k log P_k − T log T + T log(T − out) − Σ_g G_g log(G_g / nz_g)
 *          − out · log(G_last / nz_last)),
 * infinite when bin i − 1 is empty but out is not (Q is 0 where P is not), with levels =
 * 2^levels_log2. Returns the i with the smallest divergence (the first on ties). */
static int entropy_bins(const double *a, int n, int levels_log2)
{
    const int levels = 1 << levels_log2;
    if (n <= levels)
        return n;
    double *pre = malloc((size_t)(n + 1) * sizeof *pre);   /* Σ a[0..k) */
    double *plp = malloc((size_t)(n + 1) * sizeof *plp);   /* Σ a log a over [0..k) */
    int *nz = malloc((size_t)(n + 1) * sizeof *nz);        /* non-empty bins in [0..k) */
    /* log(G / nz) of the group [s, s + width), kept by s in the slot of width's parity: a
     * candidate's groups have two widths, ⌊i / levels⌋ and one more, so both stay cached
     * while the candidates pass, and each group a candidate shares with an earlier one (at
     * any g) takes its logarithm from there: ~9x fewer logarithms at 2048 bins */
    double *lq_of = malloc(2 * (size_t)(n + 1) * sizeof *lq_of);
    int *width_of = malloc(2 * (size_t)(n + 1) * sizeof *width_of);
    if (!pre || !plp || !nz || !lq_of || !width_of) {
        free(pre);
        free(plp);
        free(nz);
        free(lq_of);
        free(width_of);
        return n;
    }
    for (int k = 0; k < 2 * (n + 1); k++)
        width_of[k] = -1;
    pre[0] = plp[0] = 0;
    nz[0] = 0;
    for (int k = 0; k < n; k++) {
        pre[k + 1] = pre[k] + a[k];
        plp[k + 1] = plp[k] + xlogx(a[k]);
        nz[k + 1] = nz[k] + (a[k] > 0);
    }
    double T = pre[n];
    int best = n;
    double best_kl = INFINITY;
    for (int i = levels; i <= n; i++) {
        double out = pre[n] - pre[i];
        if (out > 0 && a[i - 1] == 0)
            continue;
        double kl = plp[i - 1] + xlogx(a[i - 1] + out) - xlogx(T) + T * log(T - out);
        for (int g = 0, e = 0; g < levels; g++) {
            /* levels is a power of two and i·g ≥ 0: the shift is the division, without one
             * division per group; group g starts where group g − 1 ends */
            int s = e;
            e = (int)(((int64_t)i * (g + 1)) >> levels_log2);
            double G = pre[e] - pre[s];
            if (G > 0) {
                const int width = e - s;
                const size_t slot = (size_t)(width & 1) * (size_t)(n + 1) + (size_t)s;
                if (width_of[slot] != width) {
                    width_of[slot] = width;
                    lq_of[slot] = log(G / (nz[e] - nz[s]));
                }
                double lq = lq_of[slot];
                kl -= G * lq;
                if (e == i)
                    kl -= out * lq;
            }
        }
        if (kl < best_kl) {
            best_kl = kl;
            best = i;
        }
    }
    free(pre);
    free(plp);
    free(nz);
    free(lq_of);
    free(width_of);
    return best;
}

/* R6b: does the |x| histogram a[0..n) pile up at its top? The last bin holds at least
 * QC_SATURATION_MIN values and more than the QC_SATURATION_BINS bins below it together: the
 * tensor saturates at its maximum (ReLU6, Clip), and that bound is a value the network
 * produces on purpose, not a tail of rare outliers. */
#define QC_SATURATION_MIN 16
#define QC_SATURATION_BINS 8
static bool saturates(const double *a, int n)
{
    if (n < 2 || a[n - 1] < QC_SATURATION_MIN)
        return false;
    double below = 0;
    for (int j = n - 1 - QC_SATURATION_BINS; j < n - 1; j++)
        below += j >= 0 ? a[j] : 0;
    return a[n - 1] > below;
}

/* nearbyint(y) for 0 ≤ y < 2^52 in the default rounding mode (to nearest, ties to even):
 * y + 2^52 has no fraction bits left, so the addition rounds y to an integer and the
 * subtraction is exact. Inline, where nearbyint is a call into the library per term. */
static inline double round_even_small(double y)
{
    return (y + 0x1p52) - 0x1p52;
}

/* R7's error of one candidate, summed over the bins in order. */
static double mse_error_in_order(const double *centre, const double *count, int m, double s, double inv,
                                 double qmax)
{
    double err = 0;
    for (int k = 0; k < m; k++) {
        double q = round_even_small(centre[k] * inv);
        double d = centre[k] - (q < qmax ? q : qmax) * s;
        err += count[k] * d * d;
    }
    return err;
}

/* MSE_SLACK bounds how far the in-order sum of up to 2048 non-negative terms can be from
 * their sum in any other order, relative to it: each is within γ = m·2⁻⁵³/(1 − m·2⁻⁵³) <
 * 2.3·10⁻¹³ of the exact sum, so the two are within a factor 1 ± 4.6·10⁻¹³ (and 10⁻¹²
 * covers the rounding of the products below). */
#define MSE_SLACK 1e-12
#define MSE_BLOCK 256

/* The mse_error kernel's sum of one candidate over the m bins, block by block (MSE_BLOCK
 * bins), from the top block down or from the bottom one up; *beaten once the partial sum is
 * clearly at or above `above` (the sum is then left partial). Any order of the blocks is a
 * sum of the same non-negative terms, within MSE_SLACK of the in-order one, and each partial
 * sum is at most the whole. */
static double mse_kernel_sum(const qc_stats_kernels *kern, const double *centre, const double *count, int m,
                             double s, double inv, double qmax, bool top_down, double above, bool *beaten)
{
    const int blocks = (m + MSE_BLOCK - 1) / MSE_BLOCK;
    double sum = 0;
    *beaten = false;
    for (int b = 0; b < blocks && !*beaten; b++) {
        const int k = (top_down ? blocks - 1 - b : b) * MSE_BLOCK;
        sum += kern->mse_error(centre + k, count + k, m - k < MSE_BLOCK ? m - k : MSE_BLOCK, s, inv, qmax);
        *beaten = sum * (1 - MSE_SLACK) >= above;
    }
    return sum;
}

/* Candidates of the coarse pass that bounds the search: about this many, evenly spaced. */
#define MSE_COARSE 32

/* R7: the clip c = i·w (1 ≤ i ≤ n) minimising the squared error of fake-quantizing every bin
 * centre x_j = (j + ½)·w with step s = c / qmax: Σ a_j (x_j − s·min(round(x_j / s), qmax))²,
 * summed over j in order, round half to even. Returns i (the first on ties), the search
 * that sums every candidate in order, without summing most in order: each candidate is
 * summed by the mse_error kernel (its lanes, in blocks of MSE_BLOCK bins), and only when
 * that sum and the best one's are within MSE_SLACK of each other are both summed in order
 * and compared exactly. A candidate stops once its partial sum is clearly above the best so
 * far or above the least of a coarse pass over every n / MSE_COARSE-th candidate (it is then
 * worse than that one in order too, so never the answer); a clip below the coarse best sums
 * from the top block down, where its clipped values err most, the others from the bottom up,
 * where most values are. The non-empty bins' centres and counts are gathered once;
 * x_j / s < 2^27 (j < 2^11, qmax < 2^16), so rounding by adding 2^52 applies. */
static int mse_bins(const double *a, int n, double w, int qmax_int)
{
    double *centre = malloc((size_t)n * sizeof *centre), *count = malloc((size_t)n * sizeof *count);
    if (!centre || !count) {
        free(centre);
        free(count);
        return n;
    }
    int m = 0;
    for (int j = 0; j < n; j++)
        if (a[j] > 0) {
            centre[m] = (j + 0.5) * w;
            count[m++] = a[j];
        }
    const qc_stats_kernels *kern = qc_stats_kernels_get();
    const double qmax = qmax_int;
    bool beaten;
    double bound = INFINITY;
    int coarse_best = n;
    for (int i = n; i >= 1; i -= (n + MSE_COARSE - 1) / MSE_COARSE) {
        const double c = i * w, sum = mse_kernel_sum(kern, centre, count, m, c / qmax, qmax / c, qmax, false,
                                                      bound * (1 + MSE_SLACK), &beaten);
        if (!beaten && sum < bound) {
            bound = sum;
            coarse_best = i;
        }
    }
    int best = n;
    double best_sum = INFINITY, best_exact = NAN; /* NaN: not summed in order yet */
    for (int i = 1; i <= n; i++) {
        const double c = i * w, s = c / qmax, inv = qmax / c;
        const double above = (best_sum < bound ? best_sum : bound) * (1 + MSE_SLACK);
        double sum = mse_kernel_sum(kern, centre, count, m, s, inv, qmax, i < coarse_best, above, &beaten);
        if (beaten)
            continue;
        if (best_sum < INFINITY && !(sum * (1 + MSE_SLACK) < best_sum * (1 - MSE_SLACK))) {
            /* too close to call: R7 compares the in-order sums */
            if (isnan(best_exact)) {
                const double bc = best * w;
                best_exact = mse_error_in_order(centre, count, m, bc / qmax, qmax / bc, qmax);
            }
            double exact = mse_error_in_order(centre, count, m, s, inv, qmax);
            if (!(exact < best_exact))
                continue;
            best_exact = exact;
        } else {
            best_exact = NAN;
        }
        best = i;
        best_sum = sum;
    }
    free(centre);
    free(count);
    return best;
}

qc_status qc_stats_range(const qc_tensor_stats *t, qc_range_method m, const qc_range_params *p,
                         int channel, float *lo, float *hi, qc_error *err)
{
    if (!(p->n_std >= 0) || !(p->percentile > 50 && p->percentile <= 100) || p->bits < 2 || p->bits > 16)
        return qc_fail(err, QC_ERR_USAGE, "range parameters out of bounds (n %g, percentile %g, bits %d)",
                       p->n_std, p->percentile, p->bits);
    if (channel >= t->channels || (channel >= 0 && !t->ch))
        return qc_fail(err, QC_ERR_INPUT, "tensor '%s' has no per-channel statistics for channel %d", t->name, channel);
    const qc_moments *mo = channel < 0 ? &t->t : &t->ch[channel];
    if (!t->samples || !(mo->min <= mo->max))
        return qc_fail(err, QC_ERR_INPUT, "tensor '%s' has no statistics (no samples)", t->name);
    double N = (double)t->samples, l, h;
    switch (m) {
    case QC_RANGE_MINMAX: /* R1 */
        l = mo->min;
        h = mo->max;
        break;
    case QC_RANGE_AVG: /* R2 */
        l = qc_fix_to_double(&mo->smin) / N;
        h = qc_fix_to_double(&mo->smax) / N;
        break;
    case QC_RANGE_AVGSTD: { /* R3 */
        double mmin, smin, mmax, smax;
        mean_std(&mo->smin, &mo->smin2, N, &mmin, &smin);
        mean_std(&mo->smax, &mo->smax2, N, &mmax, &smax);
        l = mmin - p->n_std * smin;
        h = mmax + p->n_std * smax;
        break;
    }
    case QC_RANGE_MEANSTD: { /* R4 */
        double mean, std;
        mean_std(&mo->sum, &mo->sumsq, N * (double)per_sample(t, channel), &mean, &std);
        l = mean - p->n_std * std;
        h = mean + p->n_std * std;
        break;
    }
    case QC_RANGE_PERCENTILE:
    case QC_RANGE_ENTROPY:
    case QC_RANGE_MSE: {
        if (channel >= 0)
            return qc_fail(err, QC_ERR_INPUT, "%s is a per-tensor method (histograms are per tensor), not for channel %d of '%s'",
                           qc_range_method_name(m), channel, t->name);
        if (!t->hist.counts || !t->hist.total)
            return qc_fail(err, QC_ERR_INPUT, "tensor '%s' has no histogram: gather statistics with a histogram method",
                           t->name);
        if (t->role == QC_ROLE_INPUT) { /* R8: the model input is never clipped */
            l = mo->min;
            h = mo->max;
            break;
        }
        double w = ldexp(1.0, t->hist.log2_range - QC_HIST_HALF_LOG2);
        if (m == QC_RANGE_PERCENTILE) {
            range_percentile(&t->hist, p->percentile, w, &l, &h);
            break;
        }
        double a[QC_HIST_HALF];
        int n = abs_hist(&t->hist, a);
        bool is_signed = t->t.min < 0;
        int bits = p->bits, i;
        if (m == QC_RANGE_ENTROPY && saturates(a, n)) {
            i = n; /* R6b */
        } else if (m == QC_RANGE_ENTROPY) {
            /* R6a: bin 0 takes the count of bin 1, as TensorRT's calibrator does: it holds
             * the exact zeros (half of a ReLU output), which quantize exactly whatever the
             * clip, and whose spike, spread by Q over group 0, would make every wide clip
             * look costly */
            if (n > 1)
                a[0] = a[1];
            i = entropy_bins(a, n, is_signed ? bits - 1 : bits);
        } else {
            i = mse_bins(a, n, w, is_signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1);
        }
        h = i * w;
        l = is_signed ? -h : 0.0;
        break;
    }
    default:
        return qc_fail(err, QC_ERR_USAGE, "unknown range method %d", (int)m);
    }
    /* clamp to the extremes (R0); lo ≤ hi always */
    float fl = (float)l, fh = (float)h;
    fl = fl > mo->min ? fl : mo->min;
    fh = fh < mo->max ? fh : mo->max;
    if (fl > mo->max)
        fl = mo->max;
    if (fh < mo->min)
        fh = mo->min;
    if (fl > fh)
        fl = fh;
    *lo = fl;
    *hi = fh;
    return QC_OK;
}

bool qc_stats_channel_spread(const qc_tensor_stats *t, double *lo, double *hi)
{
    if (!t->ch || t->channels < 2 || !t->samples)
        return false;
    *lo = INFINITY;
    *hi = 0;
    for (int c = 0; c < t->channels; c++) {
        double r = (double)t->ch[c].max - (double)t->ch[c].min;
        *lo = r < *lo ? r : *lo;
        *hi = r > *hi ? r : *hi;
    }
    return true;
}

bool qc_range_methods_use_histograms(const bool methods[QC_RANGE_COUNT])
{
    for (int m = 0; m < QC_RANGE_COUNT; m++)
        if (methods[m] && qc_range_method_uses_histogram(m))
            return true;
    return false;
}

int qc_range_methods_drop_histograms(bool methods[QC_RANGE_COUNT])
{
    int dropped = 0;
    for (int m = 0; m < QC_RANGE_COUNT; m++)
        if (methods[m] && qc_range_method_uses_histogram(m)) {
            methods[m] = false;
            dropped++;
        }
    return dropped;
}

bool qc_range_methods_parse(const char *list, bool methods[QC_RANGE_COUNT])
{
    char buf[256];
    if (strlen(list) >= sizeof buf)
        return false;
    snprintf(buf, sizeof buf, "%s", list);
    memset(methods, 0, QC_RANGE_COUNT * sizeof *methods);
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!strcmp(tok, "all")) {
            for (int m = 0; m < QC_RANGE_COUNT; m++)
                methods[m] = true;
        } else {
            int m = qc_range_method_parse(tok);
            if (m < 0)
                return false;
            methods[m] = true;
        }
        n++;
    }
    return n > 0;
}

bool qc_range_n_std_parse(const char *text, double *n_std)
{
    char *end;
    errno = 0;
    float v = strtof(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < 0)
        return false;
    *n_std = v;
    return true;
}

bool qc_range_percentile_parse(const char *text, double *percentile)
{
    char *end;
    double p = strtod(text, &end);
    if (end == text || *end || !(p > 50 && p <= 100))
        return false;
    *percentile = p;
    return true;
}
