/* cpu.c — which instruction sets this CPU runs, detected once for every kernel table. */
#include "kernels.h"

#include <cpuid.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static bool has[QC_ISA_COUNT];
static qc_isa best = QC_ISA_SCALAR;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const char *const isa_names[QC_ISA_COUNT] = {"scalar", "avx2", "avxvnni", "avx512vnni",
                                                    "amx"};

/* AVX-VNNI is CPUID leaf 7, subleaf 1, EAX bit 4, read directly: not every compiler's
 * __builtin_cpu_supports knows its name (clang 14 does not). The OS saves the YMM state
 * whenever AVX2 is reported usable. */
static bool cpuid_avxvnni(void)
{
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx))
        return false;
    return (eax >> 4) & 1;
}

/* Linux's arch_prctl request for permission to use an XSAVE feature, and the feature number
 * of the AMX tile data (asm/prctl.h, which not every libc's headers include) */
#define QC_ARCH_REQ_XCOMP_PERM 0x1023
#define QC_XFEATURE_XTILEDATA 18

/* AMX-INT8 is usable when CPUID.(7,0):EDX reports AMX-TILE (bit 24) and AMX-INT8 (bit 25),
 * the OS has enabled the tile state in XCR0 (bits 17 XTILECFG and 18 XTILEDATA; OSXSAVE first,
 * CPUID.1:ECX bit 27, or xgetbv faults), and Linux grants this process the tile data (asked
 * once; it fails on kernels before 5.16, under seccomp filters, and under valgrind, which does
 * not emulate AMX). Any failure leaves AMX out: the AVX512-VNNI kernels run instead. */
static bool amx_usable(void)
{
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !((ecx >> 27) & 1))
        return false;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) || !((edx >> 24) & 1) ||
        !((edx >> 25) & 1))
        return false;
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if (((xcr0_lo >> 17) & 3) != 3)
        return false;
    return syscall(SYS_arch_prctl, QC_ARCH_REQ_XCOMP_PERM, QC_XFEATURE_XTILEDATA) == 0;
}

/* the level QCAL_ISA names, or the widest when it is unset or names none */
static qc_isa isa_cap(void)
{
    const char *name = getenv("QCAL_ISA");
    for (int i = 0; name != NULL && i < QC_ISA_COUNT; i++)
        if (strcmp(name, isa_names[i]) == 0)
            return (qc_isa)i;
    return (qc_isa)(QC_ISA_COUNT - 1);
}

static void detect(void)
{
    __builtin_cpu_init();
    has[QC_ISA_SCALAR] = true;
    /* the AVX2 files are built with -mfma too: FP32 tiles and the requantizing doubles use it */
    has[QC_ISA_AVX2] = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    has[QC_ISA_AVXVNNI] = has[QC_ISA_AVX2] && cpuid_avxvnni();
    /* __builtin_cpu_supports checks that the OS saves the ZMM and mask state too */
    has[QC_ISA_AVX512VNNI] = has[QC_ISA_AVX2] && __builtin_cpu_supports("avx512f") &&
                             __builtin_cpu_supports("avx512bw") &&
                             __builtin_cpu_supports("avx512vl") &&
                             __builtin_cpu_supports("avx512vnni");
    has[QC_ISA_AMX] = has[QC_ISA_AVX512VNNI] && amx_usable();
    const char *force = getenv("QCAL_FORCE_SCALAR");
    if (force != NULL && force[0] != '\0' && strcmp(force, "0") != 0)
        return;
    for (int i = isa_cap(); i > QC_ISA_SCALAR; i--)
        if (has[i]) {
            best = (qc_isa)i;
            break;
        }
}
bool qc_cpu_has(qc_isa isa)
{
    pthread_once(&once, detect);
    return isa >= QC_ISA_SCALAR && isa < QC_ISA_COUNT && has[isa];
}

qc_isa qc_cpu_isa(void)
{
    pthread_once(&once, detect);
    return best;
}
