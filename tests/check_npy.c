/* check_npy.c — io/npy.c, the .npy reader: every supported dtype and both format versions
 * read back exactly, each hostile header is refused saying why, and mutated and truncated
 * files are refused or read consistently, never read out of bounds (run under ASan by
 * `make check SANITIZE=1`). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check-util.h"
#include "io/io.h"

/* A .npy file as numpy writes it: magic, version, header length, header padded with spaces
 * to a multiple of 64 bytes in all and ended by '\n', then data. dict is the header's text
 * without the padding; pad false writes it as given (no padding, no newline added). */
static size_t make_npy(unsigned char *buf, int major, const char *dict, bool pad, const void *data,
                       size_t data_bytes)
{
    const size_t prefix = major == 1 ? 10 : 12;
    size_t header = strlen(dict);
    if (pad)
        header = (prefix + header + 1 + 63) / 64 * 64 - prefix;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    for (size_t k = 0; k < prefix - 8; k++)
        buf[8 + k] = (unsigned char)(header >> (8 * k));
    memset(buf + prefix, ' ', header);
    memcpy(buf + prefix, dict, strlen(dict));
    if (pad)
        buf[prefix + header - 1] = '\n';
    memcpy(buf + prefix + header, data, data_bytes);
    return prefix + header + data_bytes;
}

/* Parses size bytes from an exactly sized copy, so that any read past the end is caught. */
static qc_status parse_exact(const unsigned char *buf, size_t size, qc_value *v, qc_error *err)
{
    unsigned char *copy = malloc(size ? size : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, buf, size);
    qc_status st = qc_npy_parse(copy, size, "t.npy", v, err);
    free(copy);
    return st;
}

START_TEST(every_supported_dtype_reads_back_exactly_in_both_versions)
{
    static const struct {
        const char *descr;
        qc_dtype dtype;
        size_t size;
    } cases[] = {{"<f4", QC_FLOAT, 4}, {"<i8", QC_INT64, 8}, {"<i4", QC_INT32, 4}, {"|b1", QC_BOOL, 1},
                 {"|u1", QC_UINT8, 1}};
    unsigned char data[6 * 8], buf[512];
    for (size_t k = 0; k < sizeof data; k++)
        data[k] = (unsigned char)(k % 2); /* valid booleans too */
    for (int major = 1; major <= 2; major++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            char dict[128];
            snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (2, 3), }", cases[c].descr);
            size_t n = make_npy(buf, major, dict, true, data, 6 * cases[c].size);
            qc_value v;
            qc_error err;
            ck_assert_int_eq(parse_exact(buf, n, &v, &err), QC_OK);
            ck_assert_int_eq(v.dtype, cases[c].dtype);
            ck_assert_int_eq(v.rank, 2);
            ck_assert_int_eq(v.dims[0], 2);
            ck_assert_int_eq(v.dims[1], 3);
            ck_assert_mem_eq(v.data, data, 6 * cases[c].size);
            free(v.data);
        }
}
END_TEST

START_TEST(float_values_keep_their_bits_and_shapes_take_every_spelling)
{
    const float x[5] = {0.5f, -1.25f, 3.4028235e38f, -0.0f, 1e-45f};
    unsigned char buf[512];
    static const struct {
        const char *dict;
        int rank;
        int64_t d0, count;
    } cases[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", 1, 5, 5},
        {"{\"shape\": (5,), \"fortran_order\": False, \"descr\": \"<f4\"}", 1, 5, 5},
        {"{'descr':'<f4','fortran_order':False,'shape':(1,5)}", 2, 1, 5},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 5,)}", 2, 1, 5},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': ()}", 0, 0, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = make_npy(buf, 1, cases[c].dict, true, x, sizeof(float) * (size_t)cases[c].count);
        qc_value v;
        qc_error err;
        ck_assert_msg(parse_exact(buf, n, &v, &err) == QC_OK, "%s: %s", cases[c].dict, err.msg);
        ck_assert_int_eq(v.rank, cases[c].rank);
        if (v.rank)
            ck_assert_int_eq(v.dims[0], cases[c].d0);
        ck_assert_int_eq(qc_value_count(&v), cases[c].count);
        ck_assert_mem_eq(v.data, x, sizeof(float) * (size_t)cases[c].count);
        free(v.data);
    }
}
END_TEST

START_TEST(hostile_headers_are_bad_input_saying_why)
{
    static const struct {
        int major;
        const char *dict; /* padded as numpy does unless raw */
        bool raw;
        size_t data_bytes;
        const char *why;
    } cases[] = {
        {3, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", false, 4, "version 3.0 is not supported"},
        {1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", false, 4, "dtype '>f4' is not supported"},
        {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", false, 8, "dtype '<f8' is not supported"},
        {1, "{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", false, 12, "dtype '<U3' is not supported"},
        {1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", false, 16, "Fortran order"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5), }", false, 20, "'shape' is not a tuple"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", false, 4, "'shape' is not a tuple"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': [1], }", false, 4, "'shape' is not a tuple"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", false, 4, "more than 8"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627777,), }", false, 4, "over the limit"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1048577, 1048577), }", false, 4, "more than 2^40"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", false, 4, "over the limit"},
        {1, "{'descr': '<f4', 'fortran_order': False, }", false, 4, "lacks"},
        {1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", false, 4, "repeated key"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1, }", false, 4, "unknown or repeated"},
        {1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }", false, 4, "'fortran_order' is not True"},
        {1, "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (1,), }", false, 4, "'descr' is not a string"},
        {1, "{'descr': '<f4, 'fortran_order': False, 'shape': (1,), }", false, 4, "not a dict"},
        {1, "['descr', '<f4']", false, 4, "not a dict"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } x", false, 4, "does not end in a newline"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", true, 4, "does not end in a newline"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", false, 4, "the data is 4 bytes, its shape and dtype make 8"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", false, 8, "the data is 8 bytes, its shape and dtype make 4"},
        {1, "{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }", false, 4, "boolean element 1 is 2"},
    };
    const unsigned char data[32] = {1, 2, 0, 1};
    unsigned char buf[512];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = make_npy(buf, cases[c].major, cases[c].dict, !cases[c].raw, data, cases[c].data_bytes);
        qc_value v;
        qc_error err;
        ck_assert_msg(parse_exact(buf, n, &v, &err) == QC_ERR_INPUT, "accepted: %s", cases[c].dict);
        ck_assert_msg(strstr(err.msg, cases[c].why) && strstr(err.msg, "t.npy"), "%s: '%s' lacks '%s'", cases[c].dict,
                      err.msg, cases[c].why);
        ck_assert_ptr_null(v.data);
    }
}
END_TEST

START_TEST(short_and_oversized_headers_are_refused_before_they_are_read)
{
    unsigned char buf[64] = "\x93NUMPY\x01\x00";
    qc_value v;
    qc_error err;
    for (size_t n = 0; n < 10; n++) /* magic, version or length cut short */
        ck_assert_int_eq(parse_exact(buf, n, &v, &err), QC_ERR_INPUT);
    buf[8] = 0xff; /* 65535 bytes of header in a 64-byte file */
    buf[9] = 0xff;
    ck_assert_int_eq(parse_exact(buf, sizeof buf, &v, &err), QC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "over the limit of 10000"));
    buf[6] = 2; /* 2.0: a 4-byte length, 0xffff00ff */
    buf[10] = 0;
    buf[11] = 0xff;
    ck_assert_int_eq(parse_exact(buf, sizeof buf, &v, &err), QC_ERR_INPUT);
    buf[8] = 60; /* 60 bytes claimed, 52 there */
    buf[9] = buf[10] = buf[11] = 0;
    ck_assert_int_eq(parse_exact(buf, sizeof buf, &v, &err), QC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "truncated header"));
    memcpy(buf, "\x93NUMPZ", 6);
    ck_assert_int_eq(parse_exact(buf, sizeof buf, &v, &err), QC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a .npy file"));
}
END_TEST

static uint32_t next_random(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Whatever the bytes, the reader answers QC_OK with data of exactly the shape's size, or
 * QC_ERR_INPUT with a message, and never reads outside the buffer. */
static void parse_consistently(const unsigned char *buf, size_t n)
{
    qc_value v;
    qc_error err = {{0}};
    qc_status st = parse_exact(buf, n, &v, &err);
    ck_assert(st == QC_OK || st == QC_ERR_INPUT);
    if (st == QC_OK) {
        ck_assert_ptr_nonnull(v.data);
        ck_assert_uint_le(qc_value_bytes(&v), n);
        free(v.data);
    } else {
        ck_assert(err.msg[0] != '\0');
        ck_assert_ptr_null(v.data);
    }
}

START_TEST(mutated_and_truncated_files_are_refused_or_read_consistently)
{
    const int64_t x[6] = {1, -2, 3, -4, 5, INT64_MIN};
    unsigned char good[256], buf[256];
    const size_t n = make_npy(good, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }", true, x, sizeof x);
    for (size_t len = 0; len <= n; len++)
        parse_consistently(good, len);
    /* the characters a header is made of, so that mutations reach deep into the parser */
    static const char alphabet[] = "{}()[]:,' \"\n0123456789<>|fibuFT-eE\\";
    uint32_t s = 20261206;
    for (int round = 0; round < 20000; round++) {
        memcpy(buf, good, n);
        int edits = 1 + (int)(next_random(&s) % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = next_random(&s) % n;
            buf[at] = next_random(&s) % 2 ? (unsigned char)alphabet[next_random(&s) % (sizeof alphabet - 1)]
                                          : (unsigned char)next_random(&s);
        }
        parse_consistently(buf, next_random(&s) % 8 ? n : next_random(&s) % (n + 1));
    }
}
END_TEST

START_TEST(a_file_is_read_whole_and_a_missing_one_is_an_io_error)
{
    char path[256];
    const char *base = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/qcal-check-npy-%d.npy", base && base[0] ? base : "/tmp", (int)getpid());
    const uint8_t x[3] = {7, 0, 255};
    unsigned char buf[256];
    size_t n = make_npy(buf, 2, "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 3), }", true, x, sizeof x);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
    qc_value v;
    qc_error err;
    ck_assert_int_eq(qc_npy_read(path, &v, &err), QC_OK);
    ck_assert_int_eq(v.dtype, QC_UINT8);
    ck_assert_mem_eq(v.data, x, sizeof x);
    free(v.data);
    remove(path);
    ck_assert_int_eq(qc_npy_read(path, &v, &err), QC_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
}
END_TEST

/* Files numpy itself wrote (np.save, format 2.0 by np.lib.format.write_array): the fuzz
 * corpus's seeds, relative to the repository root where make check runs the suites. */
START_TEST(files_numpy_wrote_read_back_with_numpys_values)
{
    static const struct {
        const char *file;
        qc_dtype dtype;
        int rank;
        int64_t dims[2];
        int64_t first, last; /* the first and last element as integers (floats: x4) */
    } cases[] = {
        {"f4-1x4.npy", QC_FLOAT, 2, {1, 4}, 2, 3},         /* 0.5 ... 0.75 */
        {"i8-2x3.npy", QC_INT64, 2, {2, 3}, -3, 2},        /* arange(6) - 3 */
        {"i4-scalar.npy", QC_INT32, 0, {0, 0}, 7, 7},
        {"b1-3.npy", QC_BOOL, 1, {3, 0}, 1, 1},
        {"u1-2x2-v2.npy", QC_UINT8, 2, {2, 2}, 0, 3},
        {"u1-empty-0x2.npy", QC_UINT8, 2, {0, 2}, -1, -1}, /* no elements */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char path[256];
        snprintf(path, sizeof path, "tests/fuzz/corpus/npy/%s", cases[c].file);
        qc_value v;
        qc_error err;
        ck_assert_msg(qc_npy_read(path, &v, &err) == QC_OK, "%s", err.msg);
        ck_assert_int_eq(v.dtype, cases[c].dtype);
        ck_assert_int_eq(v.rank, cases[c].rank);
        for (int d = 0; d < v.rank; d++)
            ck_assert_int_eq(v.dims[d], cases[c].dims[d]);
        const int64_t n = qc_value_count(&v);
        if (n > 0) {
            double k = v.dtype == QC_FLOAT ? 4.0 : 1.0;
            ck_assert_int_eq((int64_t)(qc_read_scalar(&v, 0) * k), cases[c].first);
            ck_assert_int_eq((int64_t)(qc_read_scalar(&v, n - 1) * k), cases[c].last);
        }
        free(v.data);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("npy");
    TCase *read = tcase_create("read");
    tcase_add_test(read, every_supported_dtype_reads_back_exactly_in_both_versions);
    tcase_add_test(read, float_values_keep_their_bits_and_shapes_take_every_spelling);
    tcase_add_test(read, a_file_is_read_whole_and_a_missing_one_is_an_io_error);
    tcase_add_test(read, files_numpy_wrote_read_back_with_numpys_values);
    suite_add_tcase(s, read);
    TCase *hostile = tcase_create("hostile");
    tcase_set_timeout(hostile, 120);
    tcase_add_test(hostile, hostile_headers_are_bad_input_saying_why);
    tcase_add_test(hostile, short_and_oversized_headers_are_refused_before_they_are_read);
    tcase_add_test(hostile, mutated_and_truncated_files_are_refused_or_read_consistently);
    suite_add_tcase(s, hostile);
    return s;
}

int main(void)
{
    return qc_check_run("check_npy", suite());
}
