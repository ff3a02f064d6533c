/* bench_dwconv.c — single-thread GMAC/s of the channels-last INT8 depthwise convolution on the
 * 3×3 layers of MobileNetV2 at 224² (each kernel table present), with weights that fit int8
 * (the mixed export: four taps per instruction) and weights beyond it (GemmLowP's uint8
 * weights: two taps per instruction); then the FP32 depthwise convolution (NCHW, bias and
 * ReLU6, the widest table) on the same layers. Prints a table, or JSON with --json. */
#include "kernels/fp32/fp32.h"
#include "kernels/int8/int8.h"
#include "kernels/int8/int8-impl.h" /* qc_int8_select: each kernel table in turn */
#include "kernels/kernels.h"
#include "bench-util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNS 7           /* median of these */
#define MIN_RUN_SEC 0.02 /* each run repeats the call at least this long */

/* MobileNetV2's depthwise layers: channels, input side, stride, how many */
static const struct {
    size_t channels, side, stride, count;
} layers[] = {{32, 112, 1, 1}, {96, 112, 2, 1}, {144, 56, 1, 1}, {144, 56, 2, 1},
              {192, 28, 1, 2}, {192, 28, 2, 1}, {384, 14, 1, 4}, {576, 14, 1, 2},
              {576, 14, 2, 1}, {960, 7, 1, 3}};
enum { NLAYERS = sizeof layers / sizeof layers[0] };

static qc_pool2d window(size_t side, size_t stride)
{
    const size_t out = (side + 2 - 3) / stride + 1;
    return (qc_pool2d){.in_h = side, .in_w = side, .out_h = out, .out_w = out, .kernel_h = 3,
                       .kernel_w = 3, .stride_h = stride, .stride_w = stride, .dilation_h = 1,
                       .dilation_w = 1, .pad_top = 1, .pad_left = 1};
}

/* seconds per call of call(ctx), the median of RUNS runs of CPU time */
static double median_seconds(void (*call)(const void *), const void *ctx)
{
    double v[RUNS];
    for (int r = 0; r < RUNS; r++) {
        long calls = 0;
        const double t0 = bench_thread_seconds();
        double t;
        do {
            call(ctx);
            calls++;
        } while ((t = bench_thread_seconds() - t0) < MIN_RUN_SEC);
        v[r] = t / (double)calls;
    }
    qsort(v, RUNS, sizeof *v, bench_cmp_double);
    return v[RUNS / 2];
}

typedef struct {
    const qc_dwconv_weights *dw;
    const qc_pool2d *p;
    const uint8_t *x;
    int32_t *acc;
} int8_call;

static void run_int8(const void *ctx)
{
    const int8_call *c = ctx;
    qc_dwconv_nhwc_u8s8(c->dw, c->p, c->x, 3, c->acc);
}

static double time_call(const qc_dwconv_weights *dw, const qc_pool2d *p, const uint8_t *x,
                        int32_t *acc)
{
    const int8_call c = {dw, p, x, acc};
    return median_seconds(run_int8, &c);
}

typedef struct {
    const qc_f32_conv_params *p;
    const float *x, *w, *bias;
    float *y;
    void *scratch;
} f32_call;

static void run_f32(const void *ctx)
{
    const f32_call *c = ctx;
    qc_f32_conv(c->p, 1, c->x, c->w, NULL, c->bias, c->y, c->scratch);
}

/* seconds per FP32 depthwise call on layer l (bias, then ReLU6) */
static double time_f32(size_t l, const float *x, const float *w, const float *bias, float *y,
                       void *scratch)
{
    const int64_t side = (int64_t)layers[l].side, stride = (int64_t)layers[l].stride;
    const int64_t out = (side + 2 - 3) / stride + 1, c = (int64_t)layers[l].channels;
    const qc_f32_conv_params p = {
        .win = {.spatial = 2, .in = {side, side}, .out = {out, out}, .kernel = {3, 3},
                .stride = {stride, stride}, .dilation = {1, 1}, .pad_begin = {1, 1},
                .pad_end = {1, 1}},
        .in_channels = c, .out_channels = c, .groups = c, .clamp = {true, 0.0f, 6.0f}};
    const f32_call call = {&p, x, w, bias, y, scratch};
    return median_seconds(run_f32, &call);
}

/* the FP32 rows: per layer, then the 17 layers' sum */
static int bench_f32(int json, int first)
{
    const size_t max_x = 112 * 112 * 144, max_w = 9 * 960;
    float *x = malloc(max_x * sizeof *x), *y = malloc(max_x * sizeof *y);
    float *w = malloc(max_w * sizeof *w), *bias = malloc(960 * sizeof *bias);
    void *scratch = malloc(114 * 114 * sizeof(float)); /* the largest padded plane: 112 + 2 */
    if (!x || !y || !w || !bias || !scratch)
        return 1;
    for (size_t i = 0; i < max_x; i++)
        x[i] = (float)(rand() % 2001 - 1000) * 1e-3f;
    for (size_t i = 0; i < max_w; i++)
        w[i] = (float)(rand() % 2001 - 1000) * 1e-3f;
    for (size_t i = 0; i < 960; i++)
        bias[i] = (float)(rand() % 201 - 100) * 1e-3f;
    double macs = 0, secs = 0;
    for (size_t l = 0; l < NLAYERS; l++) {
        const qc_pool2d p = window(layers[l].side, layers[l].stride);
        const double t = time_f32(l, x, w, bias, y, scratch);
        const double m = (double)(p.out_h * p.out_w * layers[l].channels * 9);
        macs += m * (double)layers[l].count;
        secs += t * (double)layers[l].count;
        if (json)
            printf("%s{\"table\":\"fp32\",\"channels\":%zu,\"side\":%zu,\"stride\":%zu,"
                   "\"us\":%.2f,\"gmacs\":%.2f}",
                   first ? "" : ",", layers[l].channels, layers[l].side, layers[l].stride,
                   t * 1e6, m / t * 1e-9);
        else
            printf("%-12s %-7s %6zu %6zu %3zu %9.1f %8.1f\n", "fp32", "float", layers[l].channels,
                   layers[l].side, layers[l].stride, t * 1e6, m / t * 1e-9);
        first = 0;
    }
    if (!json)
        printf("%-12s %-7s %-17s %9.1f %8.1f  (all 17 layers)\n", "fp32", "float", "", secs * 1e6,
               macs / secs * 1e-9);
    free(x);
    free(y);
    free(w);
    free(bias);
    free(scratch);
    return 0;
}

int main(int argc, char **argv)
{
    const int json = argc > 1 && strcmp(argv[1], "--json") == 0;
    const size_t max_x = 112 * 112 * 144, max_acc = 112 * 112 * 144, max_w = 9 * 960;
    uint8_t *x = malloc(max_x);
    int32_t *acc = malloc(max_acc * sizeof *acc), zw[960];
    int8_t *w = malloc(max_w);
    void *buf = aligned_alloc(64, (qc_dwconv_nhwc_pack_size(960, 3, 3) + 63) & ~(size_t)63);
    if (!x || !acc || !w || !buf)
        return 1;
    srand(1);
    for (size_t i = 0; i < max_x; i++)
        x[i] = (uint8_t)rand();
    for (size_t i = 0; i < max_w; i++)
        w[i] = (int8_t)rand();
    if (json)
        printf("[");
    else
        printf("%-12s %-7s %6s %6s %3s %9s %8s\n", "table", "weights", "C", "side", "s", "us",
               "GMAC/s");
    int first = 1;
    for (int isa = QC_ISA_AVX2; isa < QC_ISA_COUNT; isa++) {
        if (qc_int8_select(isa) != 0 || isa == QC_ISA_AVXVNNI || isa == QC_ISA_AMX)
            continue; /* AVX-VNNI and AMX share the depthwise kernel of the table below */
        for (int wide = 0; wide < 2; wide++) {
            /* int8 weights with z_w = 0, or per-channel z_w that take w − z_w beyond int8 */
            for (size_t c = 0; c < 960; c++)
                zw[c] = wide ? (int32_t)(c % 2 ? 127 : -128) : 0;
            double macs = 0, secs = 0;
            for (int l = 0; l < NLAYERS; l++) {
                const qc_pool2d p = window(layers[l].side, layers[l].stride);
                qc_dwconv_weights dw;
                qc_dwconv_nhwc_pack(layers[l].channels, 3, 3, w, zw, buf, &dw);
                const double t = time_call(&dw, &p, x, acc);
                const double m = (double)(p.out_h * p.out_w * layers[l].channels * 9);
                macs += m * (double)layers[l].count;
                secs += t * (double)layers[l].count;
                const char *name = qc_int8_isa(), *kind = wide ? "beyond" : "int8";
                if (json)
                    printf("%s{\"table\":\"%s\",\"weights\":\"%s\",\"channels\":%zu,\"side\":%zu,"
                           "\"stride\":%zu,\"us\":%.2f,\"gmacs\":%.2f}",
                           first ? "" : ",", name, kind, layers[l].channels, layers[l].side,
                           layers[l].stride, t * 1e6, m / t * 1e-9);
                else
                    printf("%-12s %-7s %6zu %6zu %3zu %9.1f %8.1f\n", name, kind,
                           layers[l].channels, layers[l].side, layers[l].stride, t * 1e6,
                           m / t * 1e-9);
                first = 0;
            }
            if (!json)
                printf("%-12s %-7s %-17s %9.1f %8.1f  (all 17 layers)\n", qc_int8_isa(),
                       wide ? "beyond" : "int8", "", secs * 1e6, macs / secs * 1e-9);
        }
    }
    if (bench_f32(json, first) != 0)
        return 1;
    if (json)
        printf("]\n");
    free(x);
    free(acc);
    free(w);
    free(buf);
    return 0;
}
