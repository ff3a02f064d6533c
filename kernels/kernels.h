/* kernels.h — qcal's compute kernels: pure functions over buffers, no I/O, no graph.
 * FP32 kernels (kernels/fp32/) serve the reference FP32 executor; INT8 kernels
 * (kernels/int8/) are qcal's own, each with a scalar reference and an AVX2 twin. */
#ifndef QCAL_KERNELS_H
#define QCAL_KERNELS_H

#include <stdbool.h>

#include "fp32/fp32.h"
#include "int8/int8.h"

/* The instruction sets kernel tables are built for (cpu.c detects them once per process;
 * kernels/int8 and stats/ fill their tables from it). Each SIMD level includes AVX2; AVX-VNNI
 * and AVX512-VNNI do not imply each other. */
typedef enum {
    QC_ISA_SCALAR = 0,
    QC_ISA_AVX2 = 1,
    QC_ISA_AVXVNNI = 2,    /* AVX2 + AVX-VNNI (VEX vpdpbusd, 256 bits) */
    QC_ISA_AVX512VNNI = 3, /* AVX2 + AVX512 F, BW, VL and VNNI */
    QC_ISA_AMX = 4,        /* AVX512-VNNI + AMX-TILE and AMX-INT8, the OS permitting tile data */
    QC_ISA_COUNT
} qc_isa;

/* whether this CPU (and its OS) runs isa, whatever QCAL_FORCE_SCALAR says */
bool qc_cpu_has(qc_isa isa);
/* the widest level the CPU runs: the one the tables use by default; QC_ISA_SCALAR when
 * QCAL_FORCE_SCALAR is set to anything but "0"; at most the level QCAL_ISA names (scalar,
 * avx2, avxvnni, avx512vnni or amx), so that QCAL_ISA=avx512vnni leaves AMX out */
qc_isa qc_cpu_isa(void);

#endif
