/* fuzz_config.c — quantization config JSON → parse (strictly), the options of a few nodes
 * (by op, pattern and name), then the options written back as a config: reading that must
 * succeed and write the same text again (the round trip quantize --write-config relies on). */
#include <stdlib.h>
#include <string.h>

#include "calib/calib.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qc_quantize_options base;
    qc_quantize_options_default(&base);
    qc_config c;
    qc_error err;
    if (qc_config_parse((const char *)data, size, "fuzz.json", &base, &c, &err) != QC_OK)
        return 0;
    char names[3][16] = {"conv1", "layer1.0.conv", "fc"}, ops[3][8] = {"Conv", "Conv", "Gemm"}, dom[1] = "";
    for (int i = 0; i < 3; i++) {
        qc_node n = {.name = names[i], .op_type = ops[i], .domain = dom};
        qc_quantize_options o;
        qc_quantize_options_for_node(&c.options, &n, &o);
        if (o.weight_bits < QC_BITS_MIN || o.weight_bits > QC_BITS_MAX || o.act_bits < QC_BITS_MIN ||
            o.act_bits > QC_BITS_MAX || (unsigned)o.scheme >= QC_SCHEME_COUNT)
            abort(); /* the parser let an out-of-range setting through */
    }
    char *text = qc_config_json(&c.options);
    if (text) {
        qc_config back;
        if (qc_config_parse(text, strlen(text), "written.json", &base, &back, &err) != QC_OK)
            abort(); /* what qcal writes, it must read */
        char *again = qc_config_json(&back.options);
        if (again && strcmp(text, again))
            abort(); /* and read back to the same settings */
        free(again);
        qc_config_free(&back);
    }
    free(text);
    qc_config_free(&c);
    return 0;
}
