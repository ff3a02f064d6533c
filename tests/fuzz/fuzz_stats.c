/* fuzz_stats.c — statistics JSON → parse, every range method of every tensor and channel,
 * and a merge of the file into an empty copy of itself. */
#include "fuzz.h"
#include "stats/stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qc_stats *s = NULL;
    qc_error err;
    if (qc_stats_parse((const char *)data, size, "fuzz.json", &s, &err) != QC_OK) {
        qc_stats_destroy(s);
        return 0;
    }
    qc_range_params p;
    qc_range_params_default(&p);
    for (int i = 0; i < s->n_tensors; i++)
        for (int m = 0; m < QC_RANGE_COUNT; m++) {
            float lo, hi;
            (void)qc_stats_range(&s->tensors[i], (qc_range_method)m, &p, -1, &lo, &hi, &err);
            (void)qc_stats_range(&s->tensors[i], (qc_range_method)m, &p, 0, &lo, &hi, &err);
        }
    qc_stats *copy = qc_stats_clone_empty(s);
    if (copy)
        (void)qc_stats_merge(copy, s, &err);
    qc_stats_destroy(copy);
    qc_stats_destroy(s);
    return 0;
}
