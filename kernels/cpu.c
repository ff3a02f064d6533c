/* cpu.c — which instruction sets this CPU runs, detected once for every kernel table. */
#include "kernels.h"

#include <cpuid.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static bool has[QC_ISA_COUNT];
static qc_isa best = QC_ISA_SCALAR;
static pthread_once_t once = PTHREAD_ONCE_INIT;

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

static void detect(void)
{
    __builtin_cpu_init();
    has[QC_ISA_SCALAR] = true;
    has[QC_ISA_AVX2] = __builtin_cpu_supports("avx2");
    has[QC_ISA_AVXVNNI] = has[QC_ISA_AVX2] && cpuid_avxvnni();
    /* __builtin_cpu_supports checks that the OS saves the ZMM and mask state too */
    has[QC_ISA_AVX512VNNI] = has[QC_ISA_AVX2] && __builtin_cpu_supports("avx512f") &&
                             __builtin_cpu_supports("avx512bw") &&
                             __builtin_cpu_supports("avx512vl") &&
                             __builtin_cpu_supports("avx512vnni");
    const char *force = getenv("QCAL_FORCE_SCALAR");
    if (force != NULL && force[0] != '\0' && strcmp(force, "0") != 0)
        return;
    for (int i = QC_ISA_COUNT - 1; i > QC_ISA_SCALAR; i--)
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
