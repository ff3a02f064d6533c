/* fuzz.h — the entry point every fuzz target defines (libFuzzer's), shared with replay.c. */
#ifndef QCAL_FUZZ_H
#define QCAL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one input may make a target hold: limits far below the machine's, so that an input
 * that asks for more than its share is a finding, not an out-of-memory kill. */
#define FUZZ_MEMORY_LIMIT ((size_t)64 << 20)

#endif
