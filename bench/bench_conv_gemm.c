/* bench_conv_gemm.c — single-thread GFLOP/s of the convolution GEMMs of ResNet-18 and
 * MobileNetV2 (224², batch 1): OpenBLAS sgemm as the FP32 convolution called it before, against
 * qcal's packed GEMM (weights packed once, outside the timing; B packed into column panels
 * inside it, as im2col does, or read in place for a 1x1 convolution) on each instruction set
 * the CPU runs. Prints the core's FP32 FMA peak first (registers only), then one row per shape
 * with its fraction of that peak, the totals, and MobileNetV2's depthwise layers; CPU time of
 * the thread, median of 5 runs. */
#include "kernels/fp32/fp32-impl.h" /* qc_f32_select: each kernel table in turn */
#include "kernels/kernels.h"
#include "bench-util.h"

#include <cblas.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 5
#define MIN_RUN_SEC 0.02

typedef struct {
    const char *model;
    int64_t m, k, n, count; /* output channels, depth (C·kh·kw), output pixels, layers */
} shape;

static const shape shapes[] = {
    {"resnet18", 64, 147, 12544, 1},   {"resnet18", 64, 576, 3136, 4},
    {"resnet18", 128, 576, 784, 1},    {"resnet18", 128, 1152, 784, 3},
    {"resnet18", 128, 64, 784, 1},     {"resnet18", 256, 1152, 196, 1},
    {"resnet18", 256, 2304, 196, 3},   {"resnet18", 256, 128, 196, 1},
    {"resnet18", 512, 2304, 49, 1},    {"resnet18", 512, 4608, 49, 3},
    {"resnet18", 512, 256, 49, 1},     {"mobilenet_v2", 32, 27, 12544, 1},
    {"mobilenet_v2", 16, 32, 12544, 1}, {"mobilenet_v2", 96, 16, 12544, 1},
    {"mobilenet_v2", 24, 96, 3136, 1}, {"mobilenet_v2", 144, 24, 3136, 2},
    {"mobilenet_v2", 24, 144, 3136, 1}, {"mobilenet_v2", 32, 144, 784, 1},
    {"mobilenet_v2", 192, 32, 784, 3}, {"mobilenet_v2", 32, 192, 784, 2},
    {"mobilenet_v2", 64, 192, 196, 1}, {"mobilenet_v2", 384, 64, 196, 4},
    {"mobilenet_v2", 64, 384, 196, 3}, {"mobilenet_v2", 96, 384, 196, 1},
    {"mobilenet_v2", 576, 96, 196, 3}, {"mobilenet_v2", 96, 576, 196, 2},
    {"mobilenet_v2", 160, 576, 49, 1}, {"mobilenet_v2", 960, 160, 49, 3},
    {"mobilenet_v2", 160, 960, 49, 2}, {"mobilenet_v2", 320, 960, 49, 1},
    {"mobilenet_v2", 1280, 320, 49, 1},
};

typedef struct {
    const shape *s;
    const float *w, *packed, *b, *bias;
    float *y, *panel;
    int isa; /* -1: OpenBLAS */
    const qc_f32_conv_params *conv; /* not NULL: the whole convolution, b its input */
    bool keep;                      /* the GEMM on the panels as they are, no fill */
} job;

/* MobileNetV2's 1x1 convolutions (all but its first layer); ResNet-18's 1x1 ones have stride
 * 2 and go through im2col */
static bool is_pointwise(const shape *s)
{
    return strcmp(s->model, "mobilenet_v2") == 0 && s->k != 27;
}

/* no fill: the column panels as they are, so that the GEMM's tiles are timed alone */
static void keep_panels(const void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                        float *block)
{
    (void)ctx, (void)k0, (void)kc, (void)j0, (void)nc, (void)block;
}

/* the row-major fill under another name: the GEMM copies into column panels, as from im2col */
static void fill_panels(const void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                        float *block)
{
    qc_f32_gemm_fill_rows(ctx, k0, kc, j0, nc, block);
}

static void run_once(const job *j)
{
    const shape *s = j->s;
    if (j->conv) {
        qc_f32_conv(j->conv, 1, j->b, NULL, j->packed, j->bias, j->y, j->panel);
    } else if (j->isa < 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->m, (int)s->n, (int)s->k,
                    1.0f, j->w, (int)s->k, j->b, (int)s->n, 0.0f, j->y, (int)s->n);
        for (int64_t i = 0; i < s->m; i++) /* the bias pass it needed */
            qc_f32_kernels()->add_bias(s->n, j->bias[i], j->y + i * s->n);
    } else {
        /* B read in place for a 1x1 convolution, else filled block by block into column
         * panels, as im2col's are */
        const qc_f32_gemm_rows rows = {j->b, s->n};
        qc_f32_gemm_packed(s->m, s->n, s->k, j->packed,
                           is_pointwise(s) ? qc_f32_gemm_fill_rows
                           : j->keep       ? keep_panels
                                           : fill_panels,
                           &rows, j->bias, NULL, j->y, s->n, j->panel);
    }
}

/* seconds per call, median of RUNS */
static double time_job(const job *j)
{
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        long calls = 0;
        double start = bench_thread_seconds(), spent;
        do {
            run_once(j);
            calls++;
        } while ((spent = bench_thread_seconds() - start) < MIN_RUN_SEC);
        t[r] = spent / (double)calls;
    }
    qsort(t, RUNS, sizeof *t, bench_cmp_double);
    return t[RUNS / 2];
}

/* The FMA peak: PEAK_CHAINS independent chains of zmm (PEAK_CHAINS_YMM of ymm) fused
 * multiply-adds on registers alone, enough to cover the latency on every port; flop per second
 * of one thread. AVX2 has 16 ymm registers: 12 chains and the two operands fit, 16 would spill
 * and time the stack instead (measured: half the peak on AMD Zen 3). */
#define PEAK_CHAINS 16
#define PEAK_CHAINS_YMM 12
#define PEAK_STEPS 100000

__attribute__((target("avx512f"))) static float peak_avx512_once(float seed)
{
    __m512 acc[PEAK_CHAINS], mul = _mm512_set1_ps(0.999999f), add = _mm512_set1_ps(1e-7f);
    for (int c = 0; c < PEAK_CHAINS; c++)
        acc[c] = _mm512_set1_ps(seed + (float)c);
    for (int i = 0; i < PEAK_STEPS; i++)
#pragma GCC unroll 16
        for (int c = 0; c < PEAK_CHAINS; c++)
            acc[c] = _mm512_fmadd_ps(acc[c], mul, add);
    for (int c = 1; c < PEAK_CHAINS; c++)
        acc[0] = _mm512_add_ps(acc[0], acc[c]);
    return _mm512_reduce_add_ps(acc[0]);
}

__attribute__((target("avx2,fma"))) static float peak_avx2_once(float seed)
{
    __m256 acc[PEAK_CHAINS_YMM], mul = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(1e-7f);
    for (int c = 0; c < PEAK_CHAINS_YMM; c++)
        acc[c] = _mm256_set1_ps(seed + (float)c);
    for (int i = 0; i < PEAK_STEPS; i++)
#pragma GCC unroll 16
        for (int c = 0; c < PEAK_CHAINS_YMM; c++)
            acc[c] = _mm256_fmadd_ps(acc[c], mul, add);
    for (int c = 1; c < PEAK_CHAINS_YMM; c++)
        acc[0] = _mm256_add_ps(acc[0], acc[c]);
    float lanes[8];
    _mm256_storeu_ps(lanes, acc[0]);
    return lanes[0];
}

/* GFLOP/s of the faster of RUNS timings; lanes: 16 for zmm, 8 for ymm; chains: as the loop has */
static double peak_gflops(float (*once)(float), int lanes, int chains)
{
    double best = 0.0;
    volatile float sink = 0.0f;
    for (int r = 0; r < RUNS; r++) {
        double start = bench_thread_seconds();
        sink += once((float)r);
        double flops = 2.0 * lanes * chains * (double)PEAK_STEPS;
        double g = flops / (bench_thread_seconds() - start) * 1e-9;
        best = g > best ? g : best;
    }
    (void)sink;
    return best;
}

static float *random_floats(int64_t n)
{
    float *v = aligned_alloc(64, ((size_t)n * sizeof(float) + 63) / 64 * 64);
    for (int64_t i = 0; v && i < n; i++)
        v[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return v;
}

/* MobileNetV2's depthwise 3x3 convolutions (pad 1, bias, ReLU6 fused): channels, input size,
 * stride, layers */
typedef struct {
    int64_t c, in, stride, count;
} dw_shape;

static const dw_shape dw_shapes[] = {
    {32, 112, 1, 1}, {96, 112, 2, 1}, {144, 56, 1, 1}, {144, 56, 2, 1}, {192, 28, 1, 2},
    {192, 28, 2, 1}, {384, 14, 1, 4}, {576, 14, 1, 2}, {576, 14, 2, 1}, {960, 7, 1, 3},
};

/* seconds per call of qc_f32_conv (the zero-padded planes included), median of RUNS */
static double time_depthwise(const qc_f32_conv_params *p, const float *x, const float *w,
                             const float *b, float *y, void *scratch)
{
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        long calls = 0;
        double start = bench_thread_seconds(), spent;
        do {
            qc_f32_conv(p, 1, x, w, NULL, b, y, scratch);
            calls++;
        } while ((spent = bench_thread_seconds() - start) < MIN_RUN_SEC);
        t[r] = spent / (double)calls;
    }
    qsort(t, RUNS, sizeof *t, bench_cmp_double);
    return t[RUNS / 2];
}

/* GFLOP/s of the depthwise kernels (a multiply and an add per tap: no FMA, for the bits) */
static void bench_depthwise(const int *isas, const char *const *names, const double *peak)
{
    double total[2] = {0, 0};
    printf("%-13s %5s %5s %6s | GFLOP/s: %8s %8s %8s | of peak: %6s %6s\n", "depthwise", "C",
           "in", "stride", "", names[0], names[1], names[0], names[1]);
    for (size_t i = 0; i < sizeof dw_shapes / sizeof *dw_shapes; i++) {
        const dw_shape *s = &dw_shapes[i];
        int64_t out = (s->in - 1) / s->stride + 1;
        qc_f32_conv_params p = {.in_channels = s->c, .out_channels = s->c, .groups = s->c,
                                .clamp = {true, 0.0f, 6.0f},
                                .win = {.spatial = 2, .in = {s->in, s->in}, .out = {out, out},
                                        .kernel = {3, 3}, .stride = {s->stride, s->stride},
                                        .dilation = {1, 1}, .pad_begin = {1, 1},
                                        .pad_end = {1, 1}}};
        float *x = random_floats(s->c * s->in * s->in), *w = random_floats(s->c * 9);
        float *b = random_floats(s->c), *y = random_floats(s->c * out * out);
        void *scratch = malloc(qc_f32_conv_scratch_size(&p, false));
        double flop = 2.0 * 9.0 * (double)(s->c * out * out), g[2] = {0, 0};
        for (int e = 0; e < 2; e++) {
            if (qc_f32_select(isas[e]) != 0)
                continue;
            double secs = time_depthwise(&p, x, w, b, y, scratch);
            g[e] = flop / secs * 1e-9;
            total[e] += secs * (double)s->count;
        }
        printf("%-13s %5lld %5lld %6lld |          %8s %8.1f %8.1f |         %5.0f%% %5.0f%%\n",
               "mobilenet_v2", (long long)s->c, (long long)s->in, (long long)s->stride, "",
               g[0], g[1], peak[0] > 0 ? 100 * g[0] / peak[0] : 0.0,
               peak[1] > 0 ? 100 * g[1] / peak[1] : 0.0);
        free(x), free(w), free(b), free(y), free(scratch);
    }
    printf("mobilenet_v2  depthwise ms per image: %s %.2f, %s %.2f\n", names[0], total[0] * 1e3,
           names[1], total[1] * 1e3);
}

/* ResNet-18's im2col convolutions (224², batch 1): input channels, output channels, input
 * size, kernel, stride (padding kernel / 2), layers */
typedef struct {
    int64_t c, m, in, k, stride, count;
} im2col_shape;

static const im2col_shape im2col_shapes[] = {
    {3, 64, 224, 7, 2, 1},    {64, 64, 56, 3, 1, 4},    {64, 128, 56, 3, 2, 1},
    {128, 128, 28, 3, 1, 3},  {64, 128, 56, 1, 2, 1},   {128, 256, 28, 3, 2, 1},
    {256, 256, 14, 3, 1, 3},  {128, 256, 28, 1, 2, 1},  {256, 512, 14, 3, 2, 1},
    {512, 512, 7, 3, 1, 3},   {256, 512, 14, 1, 2, 1},
};

/* Each convolution whole (the padded input, im2col into the column panels, the GEMM; weights
 * packed beforehand, as a prepared graph has them) against its GEMM's tiles alone on panels
 * filled once: the difference is what im2col costs. */
static void bench_im2col(const int *isas, const char *const *names)
{
    double total[2][2] = {{0}}; /* [isa][conv, gemm] seconds per image */
    printf("%-13s %4s %4s %4s %2s %2s | ms: %-6s %9s %-6s %9s | im2col %%: %6s %6s\n",
           "im2col conv", "C", "M", "in", "k", "s", names[0], "gemm", names[1], "gemm",
           names[0], names[1]);
    for (size_t i = 0; i < sizeof im2col_shapes / sizeof *im2col_shapes; i++) {
        const im2col_shape *c = &im2col_shapes[i];
        int64_t pad = c->k / 2, out = (c->in + 2 * pad - c->k) / c->stride + 1;
        qc_f32_conv_params p = {.in_channels = c->c, .out_channels = c->m, .groups = 1,
                                .win = {.spatial = 2, .in = {c->in, c->in}, .out = {out, out},
                                        .kernel = {c->k, c->k}, .stride = {c->stride, c->stride},
                                        .dilation = {1, 1}, .pad_begin = {pad, pad},
                                        .pad_end = {pad, pad}}};
        shape s = {"resnet18", c->m, c->c * c->k * c->k, out * out, 1};
        job j = {.s = &s, .w = random_floats(s.m * s.k), .b = random_floats(c->c * c->in * c->in),
                 .bias = random_floats(s.m), .y = random_floats(s.m * s.n)};
        float *packed = aligned_alloc(64, qc_f32_gemm_packed_size(s.m, s.k));
        qc_f32_gemm_pack(s.m, s.k, j.w, packed);
        j.packed = packed;
        double secs[2][2] = {{0}};
        for (int e = 0; e < 2; e++) {
            if (qc_f32_select(isas[e]) != 0)
                continue;
            j.isa = isas[e];
            j.conv = &p;
            j.panel = malloc(qc_f32_conv_scratch_size(&p, true));
            secs[e][0] = time_job(&j);
            free(j.panel);
            job g = j;
            g.conv = NULL, g.keep = true;
            g.panel = random_floats((int64_t)(qc_f32_gemm_block_size() / sizeof(float)));
            secs[e][1] = time_job(&g);
            free(g.panel);
            for (int v = 0; v < 2; v++)
                total[e][v] += secs[e][v] * (double)c->count;
        }
        printf("%-13s %4lld %4lld %4lld %2lld %2lld |     %6.3f %9.3f %6.3f %9.3f |          "
               "%5.0f%% %5.0f%%\n",
               "resnet18", (long long)c->c, (long long)c->m, (long long)c->in, (long long)c->k,
               (long long)c->stride, secs[0][0] * 1e3, secs[0][1] * 1e3, secs[1][0] * 1e3,
               secs[1][1] * 1e3, secs[0][0] > 0 ? 100 * (1 - secs[0][1] / secs[0][0]) : 0.0,
               secs[1][0] > 0 ? 100 * (1 - secs[1][1] / secs[1][0]) : 0.0);
        free((void *)j.w), free((void *)j.b), free((void *)j.bias), free(j.y), free(packed);
    }
    for (int e = 0; e < 2; e++)
        printf("resnet18      im2col convolutions ms per image, %s: %.2f, their GEMM tiles %.2f\n",
               names[e], total[e][0] * 1e3, total[e][1] * 1e3);
}

int main(void)
{
    static const int isas[] = {QC_ISA_AVX2, QC_ISA_AVX512VNNI};
    static const char *const names[] = {"avx2", "avx512"};
    double total[3][2] = {{0}}; /* [engine][model] seconds per inference */
    openblas_set_num_threads(1);
    double peak[2] = {qc_cpu_has(QC_ISA_AVX2) ? peak_gflops(peak_avx2_once, 8, PEAK_CHAINS_YMM) : 0.0,
                      qc_cpu_has(QC_ISA_AVX512VNNI) ? peak_gflops(peak_avx512_once, 16, PEAK_CHAINS) : 0.0};
    printf("FMA peak, registers only, GFLOP/s: %s %.1f, %s %.1f\n", names[0], peak[0], names[1],
           peak[1]);
    printf("%-13s %5s %5s %6s | GFLOP/s: %8s %8s %8s | of peak: %6s %6s\n", "model", "M", "K",
           "N", "openblas", names[0], names[1], names[0], names[1]);
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const shape *s = &shapes[i];
        job j = {.s = s, .w = random_floats(s->m * s->k), .b = random_floats(s->k * s->n),
                 .bias = random_floats(s->m), .y = random_floats(s->m * s->n),
                 .panel = aligned_alloc(64, qc_f32_gemm_block_size())};
        float *packed = aligned_alloc(64, qc_f32_gemm_packed_size(s->m, s->k));
        qc_f32_gemm_pack(s->m, s->k, j.w, packed);
        j.packed = packed;
        double flop = 2.0 * (double)(s->m * s->k * s->n), secs[3];
        int model = strcmp(s->model, "resnet18") != 0;
        j.isa = -1;
        secs[0] = time_job(&j);
        for (int e = 0; e < 2; e++) {
            j.isa = isas[e];
            secs[e + 1] = qc_f32_select(isas[e]) == 0 ? time_job(&j) : 0.0;
        }
        double g[3];
        for (int e = 0; e < 3; e++)
            g[e] = secs[e] > 0 ? flop / secs[e] * 1e-9 : 0.0;
        printf("%-13s %5lld %5lld %6lld |          %8.1f %8.1f %8.1f |         %5.0f%% %5.0f%%\n",
               s->model, (long long)s->m, (long long)s->k, (long long)s->n, g[0], g[1], g[2],
               peak[0] > 0 ? 100 * g[1] / peak[0] : 0.0, peak[1] > 0 ? 100 * g[2] / peak[1] : 0.0);
        for (int e = 0; e < 3; e++)
            total[e][model] += secs[e] * (double)s->count;
        free((void *)j.w), free((void *)j.b), free((void *)j.bias), free(j.y), free(packed), free(j.panel);
    }
    for (int model = 0; model < 2; model++)
        printf("%-13s total ms per image: openblas %.2f, %s %.2f, %s %.2f\n",
               model ? "mobilenet_v2" : "resnet18", total[0][model] * 1e3, names[0],
               total[1][model] * 1e3, names[1], total[2][model] * 1e3);
    bench_depthwise(isas, names, peak);
    bench_im2col(isas, names);
    return 0;
}
