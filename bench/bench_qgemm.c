/* bench_qgemm.c — single-thread qgemm GMAC/s against the AVX2 int8 peak and OpenBLAS sgemm. */
#include "kernels/int8/int8.h"

#include <cblas.h>
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

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static figure summarize(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
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

/* iterations of peak_loop that take about MIN_RUN_SEC */
static long calibrate_peak(void)
{
    long iters = 100000;
    for (;;) {
        const double t = now();
        peak_loop(iters);
        if (now() - t >= MIN_RUN_SEC)
            return iters;
        iters *= 2;
    }
}

static double peak_run(long iters)
{
    const double t = now();
    const long macs = peak_loop(iters);
    return (double)macs / (now() - t) * 1e-9;
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
        const double t = now();
        for (long i = 0; i < reps; i++)
            fn(d);
        if (now() - t >= MIN_RUN_SEC)
            return reps;
        reps *= 2;
    }
}

static double run(void (*fn)(const gemm_data *), const gemm_data *d, long reps)
{
    const double macs = (double)d->s.m * (double)d->s.n * (double)d->s.k;
    const double t = now();
    for (long i = 0; i < reps; i++)
        fn(d);
    return macs * (double)reps / (now() - t) * 1e-9;
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

static void print_json(const char *name, const shape *s, const figure *f, const char *unit,
                       double ratio)
{
    char sh[64] = "";
    if (s != NULL)
        snprintf(sh, sizeof sh, "%zux%zux%zu", s->m, s->n, s->k);
    printf("{\"name\": \"%s\", \"shape\": \"%s\", \"threads\": 1, \"median\": %.2f, \"min\": %.2f, "
           "\"max\": %.2f, \"unit\": \"%s\", \"ratio\": %.3f}\n",
           name, sh, f->median, f->min, f->max, unit, ratio);
}

int main(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else {
            fprintf(stderr, "usage: bench_qgemm [--json]\n");
            return 2;
        }
    }
    static const shape shapes[] = {
        {1024, 1024, 1024}, {3136, 64, 576}, {784, 128, 1152}, {64, 1000, 512}, {1, 1000, 512},
    };
    enum { NSHAPES = sizeof shapes / sizeof *shapes };
    openblas_set_num_threads(1);
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2");
    const long peak_iters = avx2 ? calibrate_peak() : 0;

    /* The machine may be shared: every qgemm run sits between a peak run and an sgemm run,
     * and the ratios are medians of these paired ratios, so that load changes between the
     * figures cancel. The peak figure is the median of all peak runs. */
    double peak_all[NSHAPES * RUNS];
    int npeak = 0;
    figure qf[NSHAPES], ff[NSHAPES];
    double qratio[NSHAPES], fratio[NSHAPES];
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
        const long qreps = calibrate(run_qgemm, &d), freps = calibrate(run_sgemm, &d);
        double q[RUNS], f[RUNS], rq[RUNS], rf[RUNS];
        for (int r = 0; r < RUNS; r++) {
            const double pk = avx2 ? peak_run(peak_iters) : 0;
            q[r] = run(run_qgemm, &d, qreps);
            f[r] = run(run_sgemm, &d, freps);
            peak_all[npeak++] = pk;
            rq[r] = pk > 0 ? q[r] / pk : 0;
            rf[r] = q[r] / f[r];
        }
        qf[si] = summarize(q, RUNS);
        ff[si] = summarize(f, RUNS);
        qratio[si] = summarize(rq, RUNS).median;
        fratio[si] = summarize(rf, RUNS).median;
        exact[si] = check_exact(&d);
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
    if (json) {
        print_json("int8_peak_vpmaddubsw", NULL, &peak, "GMAC/s", 1.0);
    } else {
        printf("qgemm kernels: %s; single thread; median of %d runs (min-max), GMAC/s\n",
               qc_int8_isa(), RUNS);
        printf("int8 peak (register-only vpmaddubsw+vpmaddwd+vpaddd): %.1f (%.1f-%.1f)\n\n",
               peak.median, peak.min, peak.max);
        printf("%-16s %-20s %8s %-20s %9s %6s\n", "M x N x K", "qgemm", "/peak", "sgemm",
               "int8/f32", "exact");
    }
    for (size_t si = 0; si < NSHAPES; si++) {
        if (json) {
            print_json("qgemm", &shapes[si], &qf[si], "GMAC/s", qratio[si]);
            print_json("sgemm_openblas", &shapes[si], &ff[si], "GMAC/s", fratio[si]);
        } else {
            char sh[32], qs[32], fs[32];
            snprintf(sh, sizeof sh, "%zux%zux%zu", shapes[si].m, shapes[si].n, shapes[si].k);
            snprintf(qs, sizeof qs, "%.1f (%.1f-%.1f)", qf[si].median, qf[si].min, qf[si].max);
            snprintf(fs, sizeof fs, "%.1f (%.1f-%.1f)", ff[si].median, ff[si].min, ff[si].max);
            printf("%-16s %-20s %8.2f %-20s %9.2f %6s\n", sh, qs, qratio[si], fs, fratio[si],
                   exact[si] ? "yes" : "NO");
        }
    }
    if (!json)
        printf("\n/peak and int8/f32 are medians of qgemm over the adjacent peak (sgemm) run;\n"
               "in --json, sgemm_openblas's ratio is int8/f32\n");
    if (!all_exact) {
        fprintf(stderr, "error: qgemm result is not exact\n");
        return 1;
    }
    return 0;
}
