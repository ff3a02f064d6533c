/* ops-split.c — element-wise and pooling kernels of the integer ops split over an executor's
 * intra-op threads: each output byte is its own computation, and every SIMD path equals the
 * scalar one, so the bytes do not depend on where the pieces start. */
#include "graph-impl.h"

/* Work (the executor's unit: a multiply-add of a GEMM on AVX512-VNNI, ~4.7 ps) per output,
 * from one thread's time on INT8 ResNet-18 at 224² on the Xeon: QLinearAdd ~0.5 ns an output,
 * QuantizeLinear from float ~0.6 ns, MaxPool ~0.4 ns per tap of the window. */
#define WORK_PER_ADD 100.0
#define WORK_PER_QUANTIZE 130.0
#define WORK_PER_POOL_TAP 90.0

/* pieces start on a 64-byte line of the 8-bit output */
#define BYTE_GRAIN 64

typedef struct {
    const uint8_t *a, *b;
    const qc_qadd *p;
    uint8_t *y;
} qadd_split;

static void qadd_range(void *ctx, size_t begin, size_t end)
{
    const qadd_split *s = ctx;
    qc_qadd_u8(end - begin, s->a + begin, s->b + begin, s->p, s->y + begin);
}

void qc_split_qadd_u8(qc_exec *x, size_t n, const uint8_t *a, const uint8_t *b, const qc_qadd *p,
                      uint8_t *y)
{
    qadd_split s = {a, b, p, y};
    qc_exec_split_range(x, (double)n * WORK_PER_ADD, n, BYTE_GRAIN, qadd_range, &s);
}

typedef struct {
    bool is_u8;
    size_t channels, inner;
    const float *x;
    const qc_quant *q;
    void *y;
} quantize_split;

/* elements [begin, end) of one scale (channels = 1) */
static void quantize_flat(void *ctx, size_t begin, size_t end)
{
    const quantize_split *s = ctx;
    if (s->is_u8)
        qc_quantize_u8(1, 1, end - begin, s->x + begin, s->q, (uint8_t *)s->y + begin);
    else
        qc_quantize_s8(1, 1, end - begin, s->x + begin, s->q, (int8_t *)s->y + begin);
}

/* outer blocks [begin, end), each of all the channels */
static void quantize_outer(void *ctx, size_t begin, size_t end)
{
    const quantize_split *s = ctx;
    const size_t at = begin * s->channels * s->inner;
    if (s->is_u8)
        qc_quantize_u8(end - begin, s->channels, s->inner, s->x + at, s->q, (uint8_t *)s->y + at);
    else
        qc_quantize_s8(end - begin, s->channels, s->inner, s->x + at, s->q, (int8_t *)s->y + at);
}

void qc_split_quantize(qc_exec *x, bool is_u8, size_t outer, size_t channels, size_t inner,
                       const float *xf, const qc_quant *q, void *y)
{
    quantize_split s = {is_u8, channels, inner, xf, q, y};
    const size_t count = outer * channels * inner;
    const double work = (double)count * WORK_PER_QUANTIZE;
    if (channels == 1)
        qc_exec_split_range(x, work, count, BYTE_GRAIN, quantize_flat, &s);
    else
        qc_exec_split_range(x, work, outer, 1, quantize_outer, &s);
}

typedef struct {
    const qc_pool2d *p;
    const uint8_t *x;
    uint8_t *y;
} maxpool_split;

static void maxpool_planes(void *ctx, size_t begin, size_t end)
{
    const maxpool_split *s = ctx;
    const size_t in_plane = s->p->in_h * s->p->in_w, out_plane = s->p->out_h * s->p->out_w;
    qc_maxpool_u8(end - begin, s->p, s->x + begin * in_plane, s->y + begin * out_plane);
}

void qc_split_maxpool_u8(qc_exec *x, size_t planes, const qc_pool2d *p, const uint8_t *src,
                         uint8_t *y)
{
    maxpool_split s = {p, src, y};
    const double taps = (double)(p->out_h * p->out_w) * (double)(p->kernel_h * p->kernel_w);
    qc_exec_split_range(x, (double)planes * taps * WORK_PER_POOL_TAP, planes, 1, maxpool_planes,
                        &s);
}

typedef struct {
    const qc_pool2d *p;
    size_t channels;
    const uint8_t *x;
    uint8_t *y;
} maxpool_cl_split;

/* Output rows [r0, r1) of one channels-last image: the same window moved r0 rows down, with
 * the input rows above the first one it reads cut off (or the top padding shortened), so each
 * output pixel reads the taps, and gives the byte, of the whole call. */
static void maxpool_cl_image_rows(const maxpool_cl_split *s, size_t image, size_t r0, size_t r1)
{
    qc_pool2d q = *s->p;
    const size_t row = q.in_w * s->channels, shift = r0 * q.stride_h;
    const uint8_t *x = s->x + image * q.in_h * row;
    if (shift >= q.pad_top) { /* rows wholly below the input (ceil mode) keep no input row */
        const size_t cut = shift - q.pad_top < q.in_h ? shift - q.pad_top : q.in_h;
        x += cut * row;
        q.in_h -= cut;
        q.pad_top = 0;
    } else {
        q.pad_top -= shift;
    }
    q.out_h = r1 - r0;
    uint8_t *y = s->y + (image * s->p->out_h + r0) * q.out_w * s->channels;
    qc_maxpool_cl_u8(1, s->channels, &q, x, y);
}

/* output rows [begin, end) counted over every image */
static void maxpool_cl_rows(void *ctx, size_t begin, size_t end)
{
    const maxpool_cl_split *s = ctx;
    const size_t out_h = s->p->out_h;
    for (size_t r = begin; r < end;) {
        const size_t image = r / out_h, r0 = r % out_h;
        const size_t r1 = end - image * out_h < out_h ? end - image * out_h : out_h;
        maxpool_cl_image_rows(s, image, r0, r1);
        r = image * out_h + r1;
    }
}

void qc_split_maxpool_cl_u8(qc_exec *x, size_t images, size_t channels, const qc_pool2d *p,
                            const uint8_t *src, uint8_t *y)
{
    maxpool_cl_split s = {p, channels, src, y};
    const double taps = (double)(p->out_w * channels) * (double)(p->kernel_h * p->kernel_w);
    const size_t rows = images * p->out_h;
    qc_exec_split_range(x, (double)rows * taps * WORK_PER_POOL_TAP, rows, 1, maxpool_cl_rows, &s);
}
