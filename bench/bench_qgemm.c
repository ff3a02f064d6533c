/* bench_qgemm.c — single-thread qgemm GMAC/s (AVX2, AVX-VNNI, AVX512-VNNI and AMX kernels)
 * against the AVX2 int8 peak, the vpdpbusd peak of each width, the AMX tdpbusd peak, the exact
 * kernels' ceiling, the previous kernel, OpenBLAS sgemm and, where it is installed, ONNX
 * Runtime's MatMulInteger. */
#include "kernels/int8/int8.h"
#include "kernels/int8/int8-impl.h" /* qc_int8_select: each kernel table in turn */
#include "bench-util.h"

#include <cJSON.h>
#include <cblas.h>
#include <immintrin.h> /* the tile intrinsics of amx_tiles_only, which has its own target */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 7           /* median of these */
#define MIN_RUN_SEC 0.05 /* each run repeats the call at least this long */

typedef struct figure {
    double median, min, max; /* GMAC/s */
} figure;

static figure summarize(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    figure f = {v[n / 2], v[0], v[n - 1]};
    return f;
}

/* The int8 peak of this core for the idiom the exact kernels are built from: register-only
 * vpmaddubsw (32 u8×s8 products) + vpmaddwd (widen) + vpaddd (accumulate), six independent
 * chains. 32 MACs per triple. */
static long peak_loop(long iters)
{
#if defined(__x86_64__)
#define PEAK_STEP(T, A)                                                                            \
    "vpmaddubsw %%ymm15, %%ymm14, %%ymm" #T "\n\t"                                                 \
    "vpmaddwd %%ymm13, %%ymm" #T ", %%ymm" #T "\n\t"                                               \
    "vpaddd %%ymm" #T ", %%ymm" #A ", %%ymm" #A "\n\t"
    long n = iters;
    __asm__ volatile("vpcmpeqw %%ymm13, %%ymm13, %%ymm13\n\t"
                     "vpabsw %%ymm13, %%ymm13\n\t"
                     "vpxor %%ymm14, %%ymm14, %%ymm14\n\t"
                     "vpxor %%ymm15, %%ymm15, %%ymm15\n\t"
                     "1:\n\t" PEAK_STEP(0, 6) PEAK_STEP(1, 7) PEAK_STEP(2, 8) PEAK_STEP(3, 9)
                         PEAK_STEP(4, 10) PEAK_STEP(5, 11) "dec %0\n\t"
                                                           "jnz 1b\n\t"
                                                           "vzeroupper\n\t"
                     : "+r"(n)
                     :
                     : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    return iters * 6 * 32;
#undef PEAK_STEP
#else
    (void)iters;
    return 0;
#endif
}

/* The ceiling of any exact AVX2 kernel: the xor form of the sign trick (docs/quantization.md,
 * eq. G4) adds one vpxor to each step, register-only, six independent chains. On a core with
 * three vector ALU ports (Intel) its 4 operations per 32 MACs cannot reach the 3-operation
 * peak above; on four-port cores (AMD Zen) they can. */
static long exact_loop(long iters)
{
#if defined(__x86_64__)
#define EXACT_STEP(T, A)                                                                           \
    "vpxor %%ymm12, %%ymm15, %%ymm" #T "\n\t"                                                      \
    "vpmaddubsw %%ymm" #T ", %%ymm14, %%ymm" #T "\n\t"                                             \
    "vpmaddwd %%ymm13, %%ymm" #T ", %%ymm" #T "\n\t"                                               \
    "vpaddd %%ymm" #T ", %%ymm" #A ", %%ymm" #A "\n\t"
    long n = iters;
    __asm__ volatile("vpcmpeqw %%ymm13, %%ymm13, %%ymm13\n\t"
                     "vpabsw %%ymm13, %%ymm13\n\t"
                     "vpxor %%ymm12, %%ymm12, %%ymm12\n\t"
                     "vpxor %%ymm14, %%ymm14, %%ymm14\n\t"
                     "vpxor %%ymm15, %%ymm15, %%ymm15\n\t"
                     "1:\n\t" EXACT_STEP(0, 6) EXACT_STEP(1, 7) EXACT_STEP(2, 8) EXACT_STEP(3, 9)
                         EXACT_STEP(4, 10) EXACT_STEP(5, 11) "dec %0\n\t"
                                                             "jnz 1b\n\t"
                                                             "vzeroupper\n\t"
                     : "+r"(n)
                     :
                     : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    return iters * 6 * 32;
#undef EXACT_STEP
#else
    (void)iters;
    return 0;
#endif
}

static double exact_run(long iters)
{
    const double t = bench_thread_seconds();
    const long macs = exact_loop(iters);
    return (double)macs / (bench_thread_seconds() - t) * 1e-9;
}

/* The peak of vpdpbusd at one width (256 or 512 bits): register-only, twelve independent
 * accumulators (its latency is about 4 cycles and two can issue per cycle), 4 MACs per 32-bit
 * lane. The 256-bit form is the VEX one of AVX-VNNI when the CPU has it, else the EVEX one of
 * AVX512-VNNI + VL. The assembler needs no compiler flag; the caller checks the CPU. */
static long dp_loop(long iters, int width, int vex)
{
#if defined(__x86_64__)
#define DP_STEPS(PFX, R)                                                                           \
    PFX "vpdpbusd %%" R "14, %%" R "15, %%" R "0\n\t" PFX "vpdpbusd %%" R "14, %%" R "15, %%" R  \
        "1\n\t" PFX "vpdpbusd %%" R "14, %%" R "15, %%" R "2\n\t" PFX "vpdpbusd %%" R "14, %%" R \
        "15, %%" R "3\n\t" PFX "vpdpbusd %%" R "14, %%" R "15, %%" R "4\n\t" PFX                \
        "vpdpbusd %%" R "14, %%" R "15, %%" R "5\n\t" PFX "vpdpbusd %%" R "14, %%" R "15, %%" R   \
        "6\n\t" PFX "vpdpbusd %%" R "14, %%" R "15, %%" R "7\n\t" PFX "vpdpbusd %%" R "14, %%" R \
        "15, %%" R "8\n\t" PFX "vpdpbusd %%" R "14, %%" R "15, %%" R "9\n\t" PFX                \
        "vpdpbusd %%" R "14, %%" R "15, %%" R "10\n\t" PFX "vpdpbusd %%" R "14, %%" R "15, %%" R  \
        "11\n\t"
#define DP_LOOP(STEPS)                                                                             \
    __asm__ volatile("vpxor %%xmm14, %%xmm14, %%xmm14\n\t"                                        \
                     "vpxor %%xmm15, %%xmm15, %%xmm15\n\t"                                        \
                     "1:\n\t" STEPS "dec %0\n\t"                                                  \
                     "jnz 1b\n\t"                                                                 \
                     "vzeroupper\n\t"                                                             \
                     : "+r"(n)                                                                     \
                     :                                                                             \
                     : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",       \
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm14", "xmm15")
    long n = iters;
    if (width == 512)
        DP_LOOP(DP_STEPS("", "zmm"));
    else if (vex)
        DP_LOOP(DP_STEPS("%{vex%} ", "ymm"));
    else
        DP_LOOP(DP_STEPS("%{evex%} ", "ymm"));
    return iters * 12 * (width / 32) * 4;
#undef DP_LOOP
#undef DP_STEPS
#else
    (void)iters;
    (void)width;
    (void)vex;
    return 0;
#endif
}

static double dp_run(long iters, int width, int vex)
{
    const double t = bench_thread_seconds();
    const long macs = dp_loop(iters, width, vex);
    return (double)macs / (bench_thread_seconds() - t) * 1e-9;
}

/* LDTILECFG's 64-byte operand (palette 1): all 8 tiles 16 rows of 64 bytes */
typedef struct amx_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_config;

static void amx_config_full(amx_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg->colsb[t] = 64;
        cfg->rows[t] = 16;
    }
}

/* The peak of AMX-INT8: register-only tdpbusd on tiles, 16 × 16 int32 += 16 × 64 u8 · 64 × 16
 * s8 (16384 MACs each), into six independent C tiles (tmm0-5) from A in tmm6 and B in tmm7,
 * so that no product waits for the one before it. The caller checks that the CPU has AMX and
 * that Linux granted the tile data (qc_cpu_has); the assembler needs no compiler flag. */
static long amx_loop(long iters)
{
#if defined(__x86_64__)
    amx_config cfg;
    amx_config_full(&cfg);
    long n = iters;
    __asm__ volatile("ldtilecfg %1\n\t"
                     "1:\n\t"
                     "tdpbusd %%tmm7, %%tmm6, %%tmm0\n\t"
                     "tdpbusd %%tmm7, %%tmm6, %%tmm1\n\t"
                     "tdpbusd %%tmm7, %%tmm6, %%tmm2\n\t"
                     "tdpbusd %%tmm7, %%tmm6, %%tmm3\n\t"
                     "tdpbusd %%tmm7, %%tmm6, %%tmm4\n\t"
                     "tdpbusd %%tmm7, %%tmm6, %%tmm5\n\t"
                     "dec %0\n\t"
                     "jnz 1b\n\t"
                     "tilerelease\n\t"
                     : "+r"(n)
                     : "m"(cfg)
                     : "cc", "memory");
    return iters * 6 * 16 * 16 * 64;
#else
    (void)iters;
    return 0;
#endif
}

static double amx_run(long iters)
{
    const double t = bench_thread_seconds();
    const long macs = amx_loop(iters);
    return (double)macs / (bench_thread_seconds() - t) * 1e-9;
}

/* The previous kernel's ratios to the peak, per shape, from a committed baseline (see
 * bench/qgemm-baseline.json); 0 where absent. Ratios, not GMAC/s, are compared, because the
 * peak is measured in the same run and the machine's load cancels out of them. */
static void load_baseline(const char *path, const char *const *shapes, int n, double *ratio)
{
    for (int i = 0; i < n; i++)
        ratio[i] = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return;
    char buf[8192];
    const size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cJSON *root = cJSON_ParseWithLength(buf, len);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "shapes"), *e;
    cJSON_ArrayForEach(e, list)
    {
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "ratio");
        if (!cJSON_IsString(sh) || !cJSON_IsNumber(r))
            continue;
        for (int i = 0; i < n; i++)
            if (strcmp(sh->valuestring, shapes[i]) == 0)
                ratio[i] = r->valuedouble;
    }
    cJSON_Delete(root);
}

/* iterations of peak_loop that take about MIN_RUN_SEC */
static long calibrate_peak(void)
{
    long iters = 100000;
    for (;;) {
        const double t = bench_thread_seconds();
        peak_loop(iters);
        if (bench_thread_seconds() - t >= MIN_RUN_SEC)
            return iters;
        iters *= 2;
    }
}

static double peak_run(long iters)
{
    const double t = bench_thread_seconds();
    const long macs = peak_loop(iters);
    return (double)macs / (bench_thread_seconds() - t) * 1e-9;
}

typedef struct shape {
    size_t m, n, k;
} shape;

typedef struct gemm_data {
    shape s;
    uint8_t *a;
    int8_t *b;
    void *packed;
    int32_t *c;
    float *fa, *fb, *fc;
} gemm_data;

/* The ceiling of the AMX kernel's blocking on a shape: its loop order (blocks of 32 rows of A
 * read in place, pairs of B's packed panels, the whole K in four 16 × 16 C tiles, 2 A and 2 B
 * tile loads per 64 k, B by TILELOADDT1) with each block's tiles stored into one buffer that
 * stays in L1 and no epilogue: what the tile loads alone allow, beside the peak (tiles never
 * loaded) and the kernel (which also writes C). Not exact: M and N tails are computed on
 * repeated rows and panels, and K must be a multiple of 64 (the bench's shapes are). */
__attribute__((target("amx-tile,amx-int8"))) static void amx_tiles_only(const gemm_data *d)
{
    amx_config cfg;
    amx_config_full(&cfg);
    _tile_loadconfig(&cfg);
    qc_q8gemm_view v;
    qc_q8gemm_view_of(d->packed, &v);
    static _Alignas(64) int32_t out[32][32];
    const size_t m = d->s.m, n = d->s.n, k = d->s.k, panel = 16 * (size_t)v.kp;
    for (size_t m0 = 0; m0 < m; m0 += 32) {
        const uint8_t *a0 = d->a + m0 * k, *a1 = m - m0 > 16 ? a0 + 16 * k : a0;
        for (size_t j0 = 0; j0 < n; j0 += 32) {
            const int8_t *w0 = v.panels + j0 * v.kp, *w1 = n - j0 > 16 ? w0 + panel : w0;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (size_t s = 0; s < k / 64; s++) {
                _tile_loadd(4, a0 + s * 64, k);
                _tile_stream_loadd(6, w0 + s * 1024, 64);
                _tile_stream_loadd(7, w1 + s * 1024, 64);
                _tile_dpbusd(0, 4, 6);
                _tile_loadd(5, a1 + s * 64, k);
                _tile_dpbusd(1, 4, 7);
                _tile_dpbusd(2, 5, 6);
                _tile_dpbusd(3, 5, 7);
            }
            _tile_stored(0, &out[0][0], 128);
            _tile_stored(1, &out[0][16], 128);
            _tile_stored(2, &out[16][0], 128);
            _tile_stored(3, &out[16][16], 128);
        }
    }
    _tile_release();
}

static int kernels_scalar; /* no AVX2: the scalar kernels are measured */

/* qc_int8_select, or the scalar table when the CPU lacks the kernels (first entry only) */
static void select_kernels(int isa)
{
    if (kernels_scalar || qc_int8_select(isa) != 0)
        qc_int8_select(QC_INT8_ISA_SCALAR);
}

static void run_qgemm(const gemm_data *d)
{
    qc_q8gemm(d->s.m, d->s.n, d->s.k, d->a, d->s.k, 7, d->packed, d->c, d->s.n);
}

static void run_sgemm(const gemm_data *d)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d->s.m, (int)d->s.n, (int)d->s.k,
                1.0f, d->fa, (int)d->s.k, d->fb, (int)d->s.n, 0.0f, d->fc, (int)d->s.n);
}

/* repetitions of fn that take about MIN_RUN_SEC (after a warm-up call) */
static long calibrate(void (*fn)(const gemm_data *), const gemm_data *d)
{
    long reps = 1;
    fn(d);
    for (;;) {
        const double t = bench_thread_seconds();
        for (long i = 0; i < reps; i++)
            fn(d);
        if (bench_thread_seconds() - t >= MIN_RUN_SEC)
            return reps;
        reps *= 2;
    }
}

static double run(void (*fn)(const gemm_data *), const gemm_data *d, long reps)
{
    const double macs = (double)d->s.m * (double)d->s.n * (double)d->s.k;
    const double t = bench_thread_seconds();
    for (long i = 0; i < reps; i++)
        fn(d);
    return macs * (double)reps / (bench_thread_seconds() - t) * 1e-9;
}

/* spot-check qgemm against an int64 dot product (za = 7, zb = 0): the figure must be exact */
static int check_exact(const gemm_data *d)
{
    uint64_t x = 12345;
    for (int t = 0; t < 200; t++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        const size_t i = (size_t)(x >> 33) % d->s.m, j = (size_t)(x >> 13) % d->s.n;
        int64_t ref = 0;
        for (size_t kk = 0; kk < d->s.k; kk++)
            ref += ((int64_t)d->a[i * d->s.k + kk] - 7) * d->b[kk * d->s.n + j];
        if (ref != d->c[i * d->s.n + j])
            return 0;
    }
    return 1;
}

/* ONNX Runtime's MatMulInteger on the same shape, 1 thread, by `python3 SCRIPT M N K RUNS`
 * (bench/ort_matmulinteger.py: the same u8 × s8 problem, B a constant); 0 when it cannot run
 * (no python3 or no onnxruntime: the script says why on stderr) */
static int ort_run(const char *script, const shape *s, figure *f)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "python3 '%s' %zu %zu %zu %d", script, s->m, s->n, s->k, RUNS);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return 0;
    const int got = fscanf(p, "%lf %lf %lf", &f->median, &f->min, &f->max);
    const int status = pclose(p);
    return got == 3 && status == 0;
}

static void print_json(const char *name, const shape *s, const figure *f, const char *unit,
                       double ratio, const char *extra);

/* ONNX Runtime's row: its GMAC/s, its ratio to the 512-bit vpdpbusd peak (0: none), qcal's
 * widest kernel over it */
static void print_ort(int json, const shape *s, const figure *ort, double qcal, double peak512)
{
    const double vs_qcal = ort->median > 0 ? qcal / ort->median : 0;
    if (json) {
        char extra[64];
        snprintf(extra, sizeof extra, "\"vs_width_peak\": %.3f",
                 peak512 > 0 ? ort->median / peak512 : 0);
        print_json("ort_matmulinteger", s, ort, "GMAC/s", vs_qcal, extra);
        return;
    }
    char os[32];
    snprintf(os, sizeof os, "%.1f (%.1f-%.1f)", ort->median, ort->min, ort->max);
    printf("%-16s %-10s %-20s %6s %6.2f %8s qcal/ort %.2f\n", "", "ort", os, "",
           peak512 > 0 ? ort->median / peak512 : 0, "", vs_qcal);
}

/* the AMX blocking's ceiling on a shape (amx_tiles_only), its ratio to the tdpbusd peak */
static void print_tiles(int json, const shape *s, int ran, const figure *f, double ratio)
{
    if (!ran)
        return;
    if (json) {
        print_json("amx_tiles_only", s, f, "GMAC/s", ratio, NULL);
        return;
    }
    char ts[32];
    snprintf(ts, sizeof ts, "%.1f (%.1f-%.1f)", f->median, f->min, f->max);
    printf("%-16s %-10s %-20s %6s %6.2f\n", "", "amx tiles", ts, "", ratio);
}

/* extra: NULL, or more "key": value pairs to append */
static void print_json(const char *name, const shape *s, const figure *f, const char *unit,
                       double ratio, const char *extra)
{
    char sh[64] = "";
    if (s != NULL)
        snprintf(sh, sizeof sh, "%zux%zux%zu", s->m, s->n, s->k);
    printf("{\"name\": \"%s\", \"shape\": \"%s\", \"threads\": 1, \"median\": %.2f, \"min\": %.2f, "
           "\"max\": %.2f, \"unit\": \"%s\", \"ratio\": %.3f%s%s}\n",
           name, sh, f->median, f->min, f->max, unit, ratio, extra != NULL ? ", " : "",
           extra != NULL ? extra : "");
}

int main(int argc, char **argv)
{
    int json = 0;
    const char *baseline = "bench/qgemm-baseline.json";
    const char *ort_script = "bench/ort_matmulinteger.py"; /* NULL: --no-ort */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--baseline") == 0 && i + 1 < argc) {
            baseline = argv[++i];
        } else if (strcmp(argv[i], "--ort") == 0 && i + 1 < argc) {
            ort_script = argv[++i];
        } else if (strcmp(argv[i], "--no-ort") == 0) {
            ort_script = NULL;
        } else {
            fprintf(stderr, "usage: bench_qgemm [--json] [--baseline FILE] [--ort SCRIPT | "
                            "--no-ort]\n");
            return 2;
        }
    }
    static const shape shapes[] = {
        {1024, 1024, 1024}, {3136, 64, 576}, {784, 128, 1152}, {64, 1000, 512}, {1, 1000, 512},
    };
    enum { NSHAPES = sizeof shapes / sizeof *shapes };
    const char *names[NSHAPES];
    char name_buf[NSHAPES][32];
    for (size_t si = 0; si < NSHAPES; si++) {
        snprintf(name_buf[si], sizeof name_buf[si], "%zux%zux%zu", shapes[si].m, shapes[si].n,
                 shapes[si].k);
        names[si] = name_buf[si];
    }
    double prev[NSHAPES];
    load_baseline(baseline, names, NSHAPES, prev);
    openblas_set_num_threads(1);
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2");
    const long peak_iters = avx2 ? calibrate_peak() : 0;

    /* AMX's own peak for the width column: not a vector width, a tile unit */
    enum { AMX_WIDTH = 1024 };
    /* qgemm kernel tables: the AVX2 one (the xor form, eq. G4), and the AVX2 one with the
     * AVX-VNNI or the AVX512-VNNI micro-kernel when the CPU has them (qcal uses the widest);
     * each is also measured against the peak of its own width (0: the AVX2 peak above) */
    static const struct {
        int isa;
        const char *name;
        int width;
    } kernels[] = {{QC_INT8_ISA_AVX2, "avx2", 0},
                   {QC_INT8_ISA_AVXVNNI, "avxvnni", 256},
                   {QC_INT8_ISA_AVX512VNNI, "avx512vnni", 512},
                   {QC_INT8_ISA_AMX, "amx", AMX_WIDTH}};
    enum { NK = sizeof kernels / sizeof *kernels };
    int have[NK];
    for (int v = 0; v < NK; v++)
        have[v] = qc_int8_select(kernels[v].isa) == 0;
    if (!have[0]) {
        have[0] = 1; /* no AVX2: the scalar reference, under the first name */
        kernels_scalar = 1;
    }
    /* the vpdpbusd peaks this CPU can run: 256 bits with AVX-VNNI (VEX) or AVX512-VNNI + VL */
    const int vex256 = have[1], have512 = have[2], have256 = have[1] || have[2];
    const int have_amx = have[3];
    /* 16384 MACs per tdpbusd: far fewer iterations than the vector loops for the same time */
    const long amx_iters = peak_iters / 64 > 0 ? peak_iters / 64 : 1;

    /* The machine may be shared: every qgemm run sits between a peak run and an sgemm run,
     * and the ratios are medians of these paired ratios, so that load changes between the
     * figures cancel. The peak figure is the median of all peak runs. */
    double peak_all[NSHAPES * RUNS], exact_all[NSHAPES * RUNS];
    double dp256_all[NSHAPES * RUNS], dp512_all[NSHAPES * RUNS], amx_all[NSHAPES * RUNS];
    int npeak = 0;
    figure qf[NK][NSHAPES], ff[NSHAPES], of[NSHAPES], tf[NSHAPES];
    double tratio[NSHAPES]; /* amx_tiles_only over the adjacent tdpbusd peak */
    int tiles[NSHAPES];     /* amx_tiles_only ran on the shape */
    int have_ort = ort_script != NULL;
    double qratio[NK][NSHAPES], wratio[NK][NSHAPES], w512ratio[NK][NSHAPES], fratio[NSHAPES];
    int exact[NSHAPES], all_exact = 1;
    for (size_t si = 0; si < NSHAPES; si++) {
        gemm_data d = {shapes[si], NULL, NULL, NULL, NULL, NULL, NULL, NULL};
        const size_t m = d.s.m, n = d.s.n, k = d.s.k;
        d.a = malloc(m * k);
        d.b = malloc(k * n);
        d.c = malloc(m * n * sizeof *d.c);
        d.fa = malloc(m * k * sizeof *d.fa);
        d.fb = malloc(k * n * sizeof *d.fb);
        d.fc = malloc(m * n * sizeof *d.fc);
        d.packed = aligned_alloc(64, qc_q8gemm_packed_size(k, n));
        if (!d.a || !d.b || !d.c || !d.fa || !d.fb || !d.fc || !d.packed) {
            fprintf(stderr, "error: out of memory\n");
            return 4;
        }
        uint32_t x = 1;
        for (size_t i = 0; i < m * k; i++) {
            x = x * 1664525u + 1013904223u;
            d.a[i] = (uint8_t)(x >> 24);
            d.fa[i] = (float)d.a[i];
        }
        for (size_t i = 0; i < k * n; i++) {
            x = x * 1664525u + 1013904223u;
            d.b[i] = (int8_t)((int)((x >> 24) % 255) - 127);
            d.fb[i] = (float)d.b[i];
        }
        qc_q8gemm_pack(k, n, d.b, n, 1, NULL, d.packed);
        long qreps[NK];
        for (int v = 0; v < NK; v++)
            if (have[v]) {
                select_kernels(kernels[v].isa);
                qreps[v] = calibrate(run_qgemm, &d);
            }
        const long freps = calibrate(run_sgemm, &d);
        tiles[si] = have_amx && m >= QC_Q8GEMM_WHOLE_MIN_M && k % 64 == 0;
        const long treps = tiles[si] ? calibrate(amx_tiles_only, &d) : 0;
        double q[NK][RUNS], f[RUNS], rq[NK][RUNS], rw[NK][RUNS], r512[NK][RUNS], rf[RUNS];
        double t[RUNS], rt[RUNS];
        for (int r = 0; r < RUNS; r++) {
            const double pk = avx2 ? peak_run(peak_iters) : 0;
            const double pk256 = have256 ? dp_run(peak_iters, 256, vex256) : 0;
            const double pk512 = have512 ? dp_run(peak_iters, 512, 0) : 0;
            const double pkamx = have_amx ? amx_run(amx_iters) : 0;
            dp256_all[npeak] = pk256;
            dp512_all[npeak] = pk512;
            amx_all[npeak] = pkamx;
            for (int v = 0; v < NK; v++)
                if (have[v]) {
                    const double own = kernels[v].width == AMX_WIDTH ? pkamx
                                       : kernels[v].width == 512     ? pk512
                                       : kernels[v].width == 256     ? pk256
                                                                     : pk;
                    select_kernels(kernels[v].isa);
                    q[v][r] = run(run_qgemm, &d, qreps[v]);
                    rq[v][r] = pk > 0 ? q[v][r] / pk : 0;
                    rw[v][r] = own > 0 ? q[v][r] / own : 0;
                    r512[v][r] = pk512 > 0 ? q[v][r] / pk512 : 0;
                }
            t[r] = tiles[si] ? run(amx_tiles_only, &d, treps) : 0;
            rt[r] = pkamx > 0 ? t[r] / pkamx : 0;
            f[r] = run(run_sgemm, &d, freps);
            exact_all[npeak] = avx2 ? exact_run(peak_iters) : 0;
            peak_all[npeak++] = pk;
            rf[r] = q[0][r] / f[r];
        }
        exact[si] = 1;
        for (int v = 0; v < NK; v++)
            if (have[v]) {
                qf[v][si] = summarize(q[v], RUNS);
                qratio[v][si] = summarize(rq[v], RUNS).median;
                wratio[v][si] = summarize(rw[v], RUNS).median;
                w512ratio[v][si] = summarize(r512[v], RUNS).median;
                select_kernels(kernels[v].isa);
                run_qgemm(&d);
                exact[si] &= check_exact(&d);
            }
        tf[si] = summarize(t, RUNS);
        tratio[si] = summarize(rt, RUNS).median;
        ff[si] = summarize(f, RUNS);
        fratio[si] = summarize(rf, RUNS).median;
        /* ONNX Runtime right after qcal's runs of the same shape; the first failure stops it */
        if (have_ort && !ort_run(ort_script, &d.s, &of[si])) {
            fprintf(stderr, "bench_qgemm: ONNX Runtime's MatMulInteger skipped (python3 %s "
                            "failed; --no-ort hides this)\n",
                    ort_script);
            have_ort = 0;
        }
        all_exact &= exact[si];
        free(d.a);
        free(d.b);
        free(d.c);
        free(d.fa);
        free(d.fb);
        free(d.fc);
        free(d.packed);
    }

    const figure peak = summarize(peak_all, npeak);
    const figure exact_peak = summarize(exact_all, npeak);
    const figure dp256 = summarize(dp256_all, npeak), dp512 = summarize(dp512_all, npeak);
    const figure amxpk = summarize(amx_all, npeak);
    int widest = 0; /* the kernel qcal uses: the widest the CPU has */
    for (int v = 0; v < NK; v++)
        if (have[v])
            widest = v;
    if (json) {
        print_json("int8_peak_vpmaddubsw", NULL, &peak, "GMAC/s", 1.0, NULL);
        if (have256)
            print_json("int8_peak_vpdpbusd_256", NULL, &dp256, "GMAC/s",
                       peak.median > 0 ? dp256.median / peak.median : 0, NULL);
        if (have512)
            print_json("int8_peak_vpdpbusd_512", NULL, &dp512, "GMAC/s",
                       peak.median > 0 ? dp512.median / peak.median : 0, NULL);
        if (have_amx)
            print_json("int8_peak_tdpbusd_amx", NULL, &amxpk, "GMAC/s",
                       peak.median > 0 ? amxpk.median / peak.median : 0, NULL);
        print_json("int8_exact_ceiling_vpxor", NULL, &exact_peak, "GMAC/s",
                   peak.median > 0 ? exact_peak.median / peak.median : 0, NULL);
    } else {
        printf("qgemm kernels: %s%s%s%s; single thread; median of %d runs (min-max), GMAC/s\n",
               kernels_scalar ? "scalar" : "avx2", have[1] ? ", avx2 with AVX-VNNI" : "",
               have[2] ? ", avx2 with AVX512-VNNI" : "", have_amx ? ", amx (AMX-INT8)" : "",
               RUNS);
        printf("int8 peak (register-only vpmaddubsw+vpmaddwd+vpaddd): %.1f (%.1f-%.1f)\n",
               peak.median, peak.min, peak.max);
        printf("exact ceiling (the same + vpxor, eq. G4):             %.1f (%.1f-%.1f) = %.2f of "
               "the peak\n\n",
               exact_peak.median, exact_peak.min, exact_peak.max,
               peak.median > 0 ? exact_peak.median / peak.median : 0);
        if (have256)
            printf("vpdpbusd peak, 256-bit (register-only, %s):          %.1f (%.1f-%.1f)\n",
                   vex256 ? "VEX " : "EVEX", dp256.median, dp256.min, dp256.max);
        if (have512)
            printf("vpdpbusd peak, 512-bit (register-only):               %.1f (%.1f-%.1f)\n",
                   dp512.median, dp512.min, dp512.max);
        if (have_amx)
            printf("tdpbusd peak, AMX tiles (register-only):              %.1f (%.1f-%.1f) = "
                   "%.2f of the 512-bit peak\n",
                   amxpk.median, amxpk.min, amxpk.max,
                   dp512.median > 0 ? amxpk.median / dp512.median : 0);
        printf("\n%-16s %-10s %-20s %6s %6s %8s %-20s %9s %6s\n", "M x N x K", "kernel", "qgemm",
               "/peak", "/width", "vs prev", "sgemm", "int8/f32", "exact");
    }
    for (size_t si = 0; si < NSHAPES; si++) {
        for (int v = 0; v < NK; v++) {
            if (!have[v])
                continue;
            /* the baseline is the previous AVX2 kernel */
            const double vs_prev = prev[si] > 0 ? qratio[v][si] / prev[si] : 0;
            char qname[32];
            snprintf(qname, sizeof qname, "qgemm_%s", kernels_scalar ? "scalar" : kernels[v].name);
            if (json) {
                char extra[128];
                int len = snprintf(extra, sizeof extra, "\"vs_width_peak\": %.3f", wratio[v][si]);
                if (kernels[v].width == AMX_WIDTH)
                    len += snprintf(extra + len, sizeof extra - (size_t)len,
                                    ", \"vs_vpdpbusd_512\": %.3f", w512ratio[v][si]);
                if (prev[si] > 0)
                    snprintf(extra + len, sizeof extra - (size_t)len, ", \"vs_previous\": %.3f",
                             vs_prev);
                print_json(qname, &shapes[si], &qf[v][si], "GMAC/s", qratio[v][si], extra);
                if (kernels[v].width == AMX_WIDTH)
                    print_tiles(json, &shapes[si], tiles[si], &tf[si], tratio[si]);
                continue;
            }
            char qs[32], ps[16] = "-";
            snprintf(qs, sizeof qs, "%.1f (%.1f-%.1f)", qf[v][si].median, qf[v][si].min,
                     qf[v][si].max);
            if (prev[si] > 0)
                snprintf(ps, sizeof ps, "x%.2f", vs_prev);
            if (v == 0) {
                char fs[32];
                snprintf(fs, sizeof fs, "%.1f (%.1f-%.1f)", ff[si].median, ff[si].min,
                         ff[si].max);
                printf("%-16s %-10s %-20s %6.2f %6.2f %8s %-20s %9.2f %6s\n", names[si], qname + 6,
                       qs, qratio[v][si], wratio[v][si], ps, fs, fratio[si],
                       exact[si] ? "yes" : "NO");
            } else if (kernels[v].width == AMX_WIDTH) {
                printf("%-16s %-10s %-20s %6.2f %6.2f %8s /512-bit %.2f\n", "", qname + 6, qs,
                       qratio[v][si], wratio[v][si], ps, w512ratio[v][si]);
                print_tiles(json, &shapes[si], tiles[si], &tf[si], tratio[si]);
            } else {
                printf("%-16s %-10s %-20s %6.2f %6.2f %8s\n", "", qname + 6, qs, qratio[v][si],
                       wratio[v][si], ps);
            }
        }
        if (json)
            print_json("sgemm_openblas", &shapes[si], &ff[si], "GMAC/s", fratio[si], NULL);
        if (have_ort)
            print_ort(json, &shapes[si], &of[si], qf[widest][si].median,
                      have512 ? dp512.median : 0);
    }
    if (!json)
        printf("\n/peak and int8/f32 (the AVX2 kernel's) are medians of qgemm over the adjacent\n"
               "peak (sgemm) run; /width the same over the adjacent peak of the kernel's own width\n"
               "(vpdpbusd 256 or 512 bits, tdpbusd for amx; the AVX2 peak for avx2), and amx's\n"
               "/512-bit the same over the 512-bit vpdpbusd peak; vs prev is /peak over the\n"
               "previous AVX2 kernel's /peak (%s); in --json, sgemm_openblas's ratio is int8/f32.\n"
               "amx tiles: the amx kernel's loop of tile loads and tdpbusd alone (no epilogue, C\n"
               "never written), its /width over the adjacent tdpbusd peak: the blocking's ceiling\n"
               "ort: ONNX Runtime's MatMulInteger after qcal's runs of the shape, its /width over\n"
               "the run's median 512-bit peak, qcal/ort the widest qcal kernel's median over\n"
               "ONNX Runtime's (its ratio in --json)\n",
               baseline);
    if (!all_exact) {
        fprintf(stderr, "error: qgemm result is not exact\n");
        return 1;
    }
    return 0;
}
