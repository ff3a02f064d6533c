/* conv.c — N-d convolution: im2col + the packed GEMM, the GEMM alone for 1x1 kernels, direct
 * depthwise. */
#include "fp32-impl.h"

#include <string.h>

static int64_t span(const window3 *g, int i)
{
    return (g->out[i] - 1) * g->stride[i] + (g->kernel[i] - 1) * g->dilation[i] + 1;
}

qc_f32_conv_algo qc_f32_conv_choose(const qc_f32_conv_params *p)
{
    const qc_f32_window *w = &p->win;
    bool pointwise = true;
    for (int i = 0; i < w->spatial; i++)
        pointwise = pointwise && w->kernel[i] == 1 && w->stride[i] == 1 && w->pad_begin[i] == 0 &&
                    w->out[i] == w->in[i];
    if (pointwise)
        return QC_F32_CONV_GEMM;
    /* One input channel per group; a single-group single-channel conv (a grayscale first
     * layer, often with many maps) is left to the GEMM, which is faster there. */
    if (w->spatial == 2 && p->in_channels == p->groups && p->groups > 1)
        return QC_F32_CONV_DEPTHWISE;
    return QC_F32_CONV_IM2COL;
}

static size_t round64(size_t bytes)
{
    return (bytes + 63) / 64 * 64;
}

static int64_t gemm_depth(const qc_f32_conv_params *p, const window3 *g)
{
    return p->groups > 0 ? p->in_channels / p->groups * g->taps : 0;
}

size_t qc_f32_conv_weights_size(int64_t out_channels, int64_t groups, int64_t depth)
{
    return groups > 0 ? (size_t)groups * qc_f32_gemm_packed_size(out_channels / groups, depth)
                      : 0;
}

void qc_f32_conv_pack_weights(int64_t out_channels, int64_t groups, int64_t depth,
                              const float *w, float *packed)
{
    int64_t group_out = out_channels / groups;
    size_t per_group = qc_f32_gemm_packed_size(group_out, depth) / sizeof(float);
    for (int64_t gi = 0; gi < groups; gi++)
        qc_f32_gemm_pack(group_out, depth, w + gi * group_out * depth, packed + gi * per_group);
}

/* zeros after the padded copy: the AVX2 rows' whole vectors past the last position stay
 * inside it (16: a stride-2 vector's two loads) */
#define IM2COL_SLACK 16

/* True when a read falls outside the input (padding, or a window past its end): then im2col
 * reads a padded copy, else the input itself. */
static bool im2col_padded(const window3 *g)
{
    for (int i = 0; i < 3; i++)
        if (g->pad[i] > 0 || span(g, i) > g->in[i])
            return true;
    return false;
}

/* bytes of the padded copy of one group's channels (0 when the input is read as it is) */
static size_t im2col_pad_size(const window3 *g, int64_t channels)
{
    if (g->out_plane <= 0 || !im2col_padded(g))
        return 0;
    return round64((size_t)(channels * span(g, 0) * span(g, 1) * span(g, 2) + IM2COL_SLACK) *
                   sizeof(float));
}

size_t qc_f32_conv_scratch_size(const qc_f32_conv_params *p, bool weights_packed)
{
    qc_f32_conv_algo algo = qc_f32_conv_choose(p);
    window3 g = qc_f32_window3(&p->win);
    if (algo == QC_F32_CONV_DEPTHWISE) /* one padded input plane */
        return (size_t)(span(&g, 1) * span(&g, 2)) * sizeof(float);
    size_t weights = weights_packed ? 0
                                    : round64(qc_f32_conv_weights_size(p->out_channels, p->groups,
                                                                       gemm_depth(p, &g)));
    size_t padded = algo == QC_F32_CONV_IM2COL && p->groups > 0
                        ? im2col_pad_size(&g, p->in_channels / p->groups)
                        : 0;
    return round64(qc_f32_gemm_block_size()) + padded + weights;
}

/* The reference panel: the formula's copies, one float at a time. */
void qc_f32_im2col_panel__scalar(const qc_f32_im2col_panel *p, float *y)
{
    for (int64_t t = 0; t < p->rows; t++)
        for (int64_t i = 0; i < p->count; i++) {
            const qc_f32_im2col_piece *pc = &p->pieces[i];
            const float *src = p->x + p->taps[t] + pc->at;
            float *dst = y + t * QC_F32_GEMM_NR + pc->j;
            for (int64_t q = 0; q < pc->len; q++)
                dst[q] = src[q * p->stride];
        }
}

/* The im2col matrix of one group, never stored whole: row (c, kd, kh, kw) holds, for every
 * output position, the input that this tap multiplies, so that the convolution becomes
 * weights × im2col. The GEMM asks for it block by block (im2col_fill), read from the input
 * with its zero border stored (im2col_pad), so that no piece of a row needs a bound. */
typedef struct {
    const window3 *g;
    const float *x;  /* the group's first input channel, or its padded copy (im2col_padded) */
    int64_t dims[3]; /* x's extents: span when padded, else the input's */
    int64_t x_len;   /* floats readable at x */
} im2col_source;

/* xp[c][z][r][q] = x[c][z − pad_d][r − pad_h][q − pad_w] where that is inside the input, 0
 * elsewhere, over the extents span: every row written once, then IM2COL_SLACK zeros. */
static void im2col_pad(const window3 *g, int64_t channels, const float *x, float *xp)
{
    int64_t lo[3], hi[3], depth = span(g, 0), rows = span(g, 1), cols = span(g, 2);
    for (int i = 0; i < 3; i++)
        qc_f32_window_inside(span(g, i), g->in[i], 1, -g->pad[i], &lo[i], &hi[i]);
    for (int64_t c = 0; c < channels; c++)
        for (int64_t z = 0; z < depth; z++)
            for (int64_t r = 0; r < rows; r++, xp += cols) {
                bool inside = z >= lo[0] && z < hi[0] && r >= lo[1] && r < hi[1] && lo[2] < hi[2];
                int64_t a = inside ? lo[2] : cols, b = inside ? hi[2] : cols;
                memset(xp, 0, (size_t)a * sizeof(float));
                if (inside)
                    memcpy(xp + a,
                           x + c * g->in_plane +
                               ((z - g->pad[0]) * g->in[1] + r - g->pad[1]) * g->in[2] + a -
                               g->pad[2],
                           (size_t)(b - a) * sizeof(float));
                memset(xp + b, 0, (size_t)(cols - b) * sizeof(float));
            }
    memset(xp, 0, IM2COL_SLACK * sizeof(float));
}

/* the source of group channels at x: x itself, or its padded copy written into xp */
static im2col_source im2col_prepare(const window3 *g, int64_t channels, const float *x,
                                    float *xp)
{
    im2col_source src = {.g = g, .x = x, .x_len = channels * g->in_plane};
    bool padded = im2col_padded(g);
    for (int i = 0; i < 3; i++)
        src.dims[i] = padded ? span(g, i) : g->in[i];
    if (padded) {
        im2col_pad(g, channels, x, xp);
        src.x = xp;
        src.x_len = channels * src.dims[0] * src.dims[1] * src.dims[2] + IM2COL_SLACK;
    }
    return src;
}

/* im2col rows described at a time (the stack holds their descriptions) */
#define IM2COL_ROWS 64

/* The block's columns j0 .. j0 + n − 1 cut where an output row or a panel ends, found once per
 * block so that its rows need no division; first[p] is panel p's first piece (first[panels]:
 * the count). A piece reads from its output position times the stride, in the padded copy. */
static void cut_pieces(const im2col_source *src, int64_t j0, int64_t n, qc_f32_im2col_piece *pc,
                       int64_t *first)
{
    const window3 *g = src->g;
    int64_t rows_plane = g->out[1] * g->out[2];
    int64_t od = j0 / rows_plane, oh = j0 % rows_plane / g->out[2], ow = j0 % g->out[2];
    int64_t count = 0;
    for (int64_t j = 0; j < n;) {
        int64_t in_panel = j % QC_F32_GEMM_NR;
        if (in_panel == 0)
            first[j / QC_F32_GEMM_NR] = count;
        int64_t len = g->out[2] - ow;
        len = len < QC_F32_GEMM_NR - in_panel ? len : QC_F32_GEMM_NR - in_panel;
        len = len < n - j ? len : n - j;
        int64_t at = (od * g->stride[0] * src->dims[1] + oh * g->stride[1]) * src->dims[2] +
                     ow * g->stride[2];
        pc[count++] = (qc_f32_im2col_piece){.j = in_panel, .len = len, .at = at};
        j += len;
        if ((ow += len) == g->out[2] && (ow = 0, ++oh == g->out[1]))
            oh = 0, od++;
    }
    first[(n + QC_F32_GEMM_NR - 1) / QC_F32_GEMM_NR] = count;
}

/* im2col rows k0 .. k0 + n − 1: where each one's tap moves the reads; the first row's (c, kd,
 * kh, kw) found by division, the next ones by counting. */
static void describe_rows(const im2col_source *src, int64_t k0, int64_t n, int64_t *taps)
{
    const window3 *g = src->g;
    const int64_t *dims = src->dims, *kernel = g->kernel;
    int64_t plane = dims[0] * dims[1] * dims[2];
    int64_t step[3] = {g->dilation[0] * dims[1] * dims[2], g->dilation[1] * dims[2],
                       g->dilation[2]};
    int64_t c = k0 / g->taps, tap = k0 % g->taps;
    int64_t k[3] = {tap / (kernel[1] * kernel[2]), tap / kernel[2] % kernel[1], tap % kernel[2]};
    for (int64_t t = 0; t < n; t++) {
        taps[t] = c * plane + k[0] * step[0] + k[1] * step[1] + k[2] * step[2];
        if (++k[2] == kernel[2] && (k[2] = 0, ++k[1] == kernel[1]) &&
            (k[1] = 0, ++k[0] == kernel[0]))
            k[0] = 0, c++;
    }
}

/* qc_f32_gemm_fill_fn for im2col: IM2COL_ROWS rows at a time, written straight into each
 * column panel */
static void im2col_fill(const void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                        float *block)
{
    enum { PANELS = (QC_F32_CONV_BLOCK_COLS + QC_F32_GEMM_NR - 1) / QC_F32_GEMM_NR };
    const im2col_source *src = ctx;
    void (*fill)(const qc_f32_im2col_panel *, float *) = qc_f32_kernels()->im2col_panel;
    qc_f32_im2col_piece pieces[QC_F32_CONV_BLOCK_COLS];
    int64_t taps[IM2COL_ROWS];
    int64_t first[PANELS + 1], panels = (nc + QC_F32_GEMM_NR - 1) / QC_F32_GEMM_NR;
    cut_pieces(src, j0, nc, pieces, first);
    qc_f32_im2col_panel panel = {.x = src->x, .x_len = src->x_len,
                                 .stride = src->g->stride[2], .taps = taps};
    for (int64_t t0 = 0; t0 < kc; t0 += IM2COL_ROWS) {
        panel.rows = kc - t0 < IM2COL_ROWS ? kc - t0 : IM2COL_ROWS;
        describe_rows(src, k0 + t0, panel.rows, taps);
        for (int64_t p = 0; p < panels; p++) {
            panel.pieces = pieces + first[p];
            panel.count = first[p + 1] - first[p];
            fill(&panel, block + p * kc * QC_F32_GEMM_NR + t0 * QC_F32_GEMM_NR);
        }
    }
}

/* The part of the padded plane that x fills: rows [row[0], row[1]), columns [col[0], col[1]).
 * The same for every channel, so found once. */
typedef struct {
    int64_t row[2], col[2];
} plane_inside;

static plane_inside find_inside(const window3 *g)
{
    plane_inside in;
    qc_f32_window_inside(span(g, 1), g->in[1], 1, -g->pad[1], &in.row[0], &in.row[1]);
    qc_f32_window_inside(span(g, 2), g->in[2], 1, -g->pad[2], &in.col[0], &in.col[1]);
    return in;
}

/* padded[r][q] = x[r - pad_h][q - pad_w] inside in: the plane with its zero border made
 * explicit, so that the depthwise loops need no bounds test. The border is the same for every
 * channel, so the caller zeroes the plane once and only the inside is copied here. */
static void pad_plane_inside(const window3 *g, const plane_inside *in, const float *x,
                             float *padded)
{
    int64_t cols = span(g, 2), lo = in->col[0];
    size_t bytes = (size_t)(in->col[1] - lo) * sizeof(float);
    for (int64_t r = in->row[0]; r < in->row[1]; r++)
        memcpy(padded + r * cols + lo, x + (r - g->pad[1]) * g->in[2] + lo - g->pad[2], bytes);
}

#define DEPTHWISE_BLOCK 8
#define DEPTHWISE_L1 (32 * 1024) /* bytes of L1 data cache the padded plane is held in */

/* a depthwise output from its sum: + bias, then the clamp */
static float dw_finish(const qc_f32_dwrows *r, float acc)
{
    acc = r->has_bias ? acc + r->bias : acc;
    return r->clamp.on ? qc_f32_clamp1(acc, r->clamp.lo, r->clamp.hi) : acc;
}

/* The reference kernel: outputs go DEPTHWISE_BLOCK at a time, their sums kept in registers;
 * every output adds its taps in (kh, kw) order from 0, padding as zeros. */
static void dwconv_row_scalar(const qc_f32_dwrows *r, const float *base, float *y)
{
    int64_t cols = r->cols, sw = r->stride_w, dh = r->dilation_h, dw = r->dilation_w;
    int64_t ow = 0;
    for (; ow + DEPTHWISE_BLOCK <= r->out_w; ow += DEPTHWISE_BLOCK) {
        float acc[DEPTHWISE_BLOCK] = {0};
        for (int64_t kh = 0; kh < r->kernel_h; kh++)
            for (int64_t kw = 0; kw < r->kernel_w; kw++) {
                float wv = r->w[kh * r->kernel_w + kw];
                const float *src = base + kh * dh * cols + kw * dw + ow * sw;
                for (int t = 0; t < DEPTHWISE_BLOCK; t++)
                    acc[t] += wv * src[t * sw];
            }
        for (int t = 0; t < DEPTHWISE_BLOCK; t++)
            y[ow + t] = dw_finish(r, acc[t]);
    }
    for (; ow < r->out_w; ow++) {
        float acc = 0.0f;
        for (int64_t kh = 0; kh < r->kernel_h; kh++)
            for (int64_t kw = 0; kw < r->kernel_w; kw++)
                acc += r->w[kh * r->kernel_w + kw] * base[kh * dh * cols + kw * dw + ow * sw];
        y[ow] = dw_finish(r, acc);
    }
}

void qc_f32_dwconv_rows__scalar(const qc_f32_dwrows *r, float *y)
{
    for (int64_t oh = 0; oh < r->out_h; oh++)
        dwconv_row_scalar(r, r->base + oh * r->row_step, y + oh * r->out_w);
}

/* The reference of the unpadded plane: dwconv_row_scalar's sums, a tap outside the plane read
 * as 0 */
void qc_f32_dwconv_plane__scalar(const qc_f32_dwplane *pl, float *y)
{
    const qc_f32_dwrows *r = &pl->r;
    for (int64_t oh = 0; oh < r->out_h; oh++)
        for (int64_t ow = 0; ow < r->out_w; ow++) {
            float acc = 0.0f;
            for (int64_t kh = 0; kh < r->kernel_h; kh++) {
                const int64_t ih = oh * pl->stride_h + kh * r->dilation_h - pl->pad_top;
                for (int64_t kw = 0; kw < r->kernel_w; kw++) {
                    const int64_t iw = ow * r->stride_w + kw * r->dilation_w - pl->pad_left;
                    const bool in = ih >= 0 && ih < pl->in_h && iw >= 0 && iw < pl->in_w;
                    acc += r->w[kh * r->kernel_w + kw] * (in ? pl->x[ih * pl->in_w + iw] : 0.0f);
                }
            }
            y[oh * r->out_w + ow] = dw_finish(r, acc);
        }
}

/* Direct 2-d convolution with one input channel per group (mult output channels each): a
 * GEMM with K = taps would be mostly overhead. The bias and the clamp are applied as each row
 * is written (the same sum + bias, then clamp, as separate passes would compute). */
static void depthwise2d(const window3 *g, int64_t in_channels, int64_t mult,
                        qc_f32_clamp clamp, const float *x, const float *w, const float *bias,
                        float *y, float *padded)
{
    void (*rows)(const qc_f32_dwrows *, float *) = qc_f32_kernels()->dwconv_rows;
    qc_f32_dwrows r = {.base = padded, .kernel_h = g->kernel[1], .kernel_w = g->kernel[2],
                       .cols = span(g, 2), .stride_w = g->stride[2],
                       .dilation_h = g->dilation[1], .dilation_w = g->dilation[2],
                       .out_w = g->out[2], .out_h = g->out[1],
                       .row_step = g->stride[1] * span(g, 2), .has_bias = bias != NULL,
                       .clamp = clamp};
    /* A 3x3 window at stride 2 on a plane larger than L1 reads x where it is: the padded copy
     * would go out to L2 and back (96 planes of 112² at stride 2, Zen 3: 20-30 % faster). On
     * planes in L1, and at stride 1, the padded plane's plain loads are faster than the
     * unpadded plane's masked edges. */
    void (*plane)(const qc_f32_dwplane *, float *) = qc_f32_kernels()->dwconv_plane;
    if (plane && r.kernel_h == 3 && r.kernel_w == 3 && r.dilation_h == 1 && r.dilation_w == 1 &&
        r.stride_w == 2 && span(g, 1) * span(g, 2) * (int64_t)sizeof(float) > DEPTHWISE_L1) {
        qc_f32_dwplane pl = {.r = r, .zeros = padded, .in_h = g->in[1], .in_w = g->in[2],
                             .stride_h = g->stride[1], .pad_top = g->pad[1],
                             .pad_left = g->pad[2]};
        memset(padded, 0, (size_t)g->in[2] * sizeof(float)); /* in_w < the scratch plane */
        for (int64_t c = 0; c < in_channels; c++) {
            pl.x = x + c * g->in_plane;
            for (int64_t m = c * mult; m < (c + 1) * mult; m++) {
                pl.r.w = w + m * g->taps;
                pl.r.bias = bias ? bias[m] : 0.0f;
                plane(&pl, y + m * g->out_plane);
            }
        }
        return;
    }
    plane_inside inside = find_inside(g);
    memset(padded, 0, (size_t)(span(g, 1) * span(g, 2)) * sizeof(float));
    for (int64_t c = 0; c < in_channels; c++) {
        pad_plane_inside(g, &inside, x + c * g->in_plane, padded);
        for (int64_t m = c * mult; m < (c + 1) * mult; m++) {
            r.w = w + m * g->taps;
            r.bias = bias ? bias[m] : 0.0f;
            rows(&r, y + m * g->out_plane);
        }
    }
}

void qc_f32_add_bias__scalar(int64_t n, float bias, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += bias;
}

void qc_f32_conv(const qc_f32_conv_params *p, int64_t batch, const float *x, const float *w,
                 const float *packed_w, const float *bias, float *y, void *scratch)
{
    window3 g = qc_f32_window3(&p->win);
    int64_t groups = p->groups;
    if (batch <= 0 || p->out_channels <= 0 || g.out_plane <= 0 || groups <= 0)
        return;
    int64_t group_in = p->in_channels / groups;  /* input channels per group */
    int64_t group_out = p->out_channels / groups; /* output channels per group */
    int64_t depth = group_in * g.taps;            /* GEMM inner dimension */
    qc_f32_conv_algo algo = qc_f32_conv_choose(p);
    if (algo == QC_F32_CONV_DEPTHWISE) {
        for (int64_t n = 0; n < batch; n++)
            depthwise2d(&g, p->in_channels, group_out, p->clamp,
                        x + n * p->in_channels * g.in_plane, w, bias,
                        y + n * p->out_channels * g.out_plane, scratch);
        return;
    }
    /* scratch: B's block, im2col's padded input when it needs one, then the packed weights
     * unless given */
    float *block = scratch;
    bool pointwise = algo == QC_F32_CONV_GEMM;
    size_t pad_bytes = pointwise ? 0 : im2col_pad_size(&g, group_in);
    float *padded = (float *)((char *)scratch + round64(qc_f32_gemm_block_size()));
    if (!packed_w) {
        float *own = (float *)((char *)padded + pad_bytes);
        qc_f32_conv_pack_weights(p->out_channels, groups, depth, w, own);
        packed_w = own;
    }
    size_t group_weights = qc_f32_gemm_packed_size(group_out, depth) / sizeof(float);

    /* One image at a time, and each output one chain of multiply-adds (qc_f32_gemm_packed):
     * an image's result does not depend on the images around it. */
    for (int64_t n = 0; n < batch; n++) {
        const float *xn = x + n * p->in_channels * g.in_plane;
        float *yn = y + n * p->out_channels * g.out_plane;
        for (int64_t gi = 0; gi < groups; gi++) {
            const float *xg = xn + gi * group_in * g.in_plane;
            qc_f32_gemm_rows rows = {xg, g.out_plane};
            im2col_source cols;
            if (!pointwise)
                cols = im2col_prepare(&g, group_in, xg, padded);
            qc_f32_gemm_packed(group_out, g.out_plane, depth, packed_w + gi * group_weights,
                               pointwise ? qc_f32_gemm_fill_rows : im2col_fill,
                               pointwise ? (const void *)&rows : &cols,
                               bias ? bias + gi * group_out : NULL, &p->clamp,
                               yn + gi * group_out * g.out_plane, g.out_plane, block);
        }
    }
}
