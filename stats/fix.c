/* fix.c — exact sums: 256-bit two's complement fixed point in units of 2^-128 (qc_fix), and
 * FNV-1a hashing. Adding integers is associative and commutative, which is what makes merged
 * statistics bit-identical to one run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats-impl.h"

__extension__ typedef unsigned __int128 u128; /* the halves of a qc_fix (little-endian) */

static void fix_negate(qc_fix *f)
{
    unsigned carry = 1;
    for (int i = 0; i < 4; i++) {
        uint64_t v = ~f->w[i] + carry;
        carry = carry && v == 0;
        f->w[i] = v;
    }
}

static bool fix_negative(const qc_fix *f)
{
    return f->w[3] >> 63;
}

bool qc_fix_from_double(double x, qc_fix *f)
{
    qc_fix r = {{0, 0, 0, 0}};
    if (!qc_fix_add_double(&r, x))
        return false;
    *f = r;
    return true;
}

void qc_fix_add(qc_fix *a, const qc_fix *b)
{
    uint64_t carry = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t s = a->w[i] + b->w[i];
        uint64_t c1 = s < a->w[i];
        uint64_t t = s + carry;
        uint64_t c2 = t < s;
        a->w[i] = t;
        carry = c1 | c2;
    }
}

double qc_fix_to_double(const qc_fix *f)
{
    qc_fix m = *f;
    bool neg = fix_negative(&m);
    if (neg)
        fix_negate(&m);
    /* Smallest part first; each word is exact in its own scale except for rounding to 53
     * bits, so the result is within a few ulp and always the same for the same bits. */
    double v = ldexp((double)m.w[0], -128) + ldexp((double)m.w[1], -64);
    v += (double)m.w[2];
    v += ldexp((double)m.w[3], 64);
    return neg ? -v : v;
}

bool qc_fix_is_zero(const qc_fix *f)
{
    return !(f->w[0] | f->w[1] | f->w[2] | f->w[3]);
}

bool qc_fix_equal(const qc_fix *a, const qc_fix *b)
{
    return !memcmp(a->w, b->w, sizeof a->w);
}

char *qc_fix_str(const qc_fix *f, char *buf)
{
    static const char hex[] = "0123456789abcdef";
    qc_fix m = *f;
    char *p = buf;
    if (fix_negative(&m)) {
        fix_negate(&m);
        *p++ = '-';
    }
    /* the top non-zero word from its first non-zero digit ("0" for zero), the words below in
     * full: digit i of 64 is nibble i mod 16 of word i / 16 */
    int w = 3;
    while (w > 0 && !m.w[w])
        w--;
    for (int i = m.w[w] ? 15 - __builtin_clzll(m.w[w]) / 4 : 0; w >= 0; w--, i = 15)
        for (; i >= 0; i--)
            *p++ = hex[m.w[w] >> (4 * i) & 0xf];
    *p = 0;
    return buf;
}

bool qc_fix_parse(const char *s, qc_fix *f)
{
    bool neg = *s == '-';
    if (neg)
        s++;
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    qc_fix r = {{0, 0, 0, 0}};
    for (size_t k = 0; k < n; k++) {
        char c = s[n - 1 - k];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return false;
        r.w[k / 16] |= (uint64_t)d << (4 * (k % 16));
    }
    if (fix_negative(&r))
        return false; /* magnitudes stay below 2^255 */
    if (neg)
        fix_negate(&r);
    *f = r;
    return true;
}

uint64_t qc_fnv1a64(const void *data, size_t size, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < size; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static void hash_piece(void *ctx, const void *piece, size_t n)
{
    uint64_t *h = ctx;
    *h = qc_fnv1a64(piece, n, *h);
}

/* in pieces, so that a model of tens of MB is not copied whole into fresh pages again after
 * its load did so (the page faults cost about as much as the hash) */
qc_status qc_stats_hash_file(const char *path, uint64_t *hash, qc_error *err)
{
    uint64_t h = QC_FNV_BASIS;
    qc_status s = qc_read_file_pieces(path, hash_piece, &h, err);
    if (s == QC_OK)
        *hash = h;
    return s;
}

bool qc_fix_add_double(qc_fix *f, double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    int exp = (int)(bits >> 52 & 0x7ff);
    if (exp == 0x7ff)
        return false;
    if (!(bits << 1))
        return true; /* ±0 */
    uint64_t m = bits & ((UINT64_C(1) << 52) - 1);
    int e2 = exp ? exp - 1075 : -1074;
    if (exp)
        m |= UINT64_C(1) << 52;
    int s = e2 + 128; /* |x| = m · 2^s units of 2^-128 */
    if (64 - __builtin_clzll(m) + s > 255)
        return false;
    if (s < 0) {
        m = -s >= 64 ? 0 : m >> -s;
        s = 0;
    }
    /* |x| = hi · 2^128 + lo units, m < 2^53 */
    u128 M = m, lo, hi;
    if (s >= 128) {
        lo = 0;
        hi = M << (s - 128);
    } else {
        lo = M << s;
        hi = s > 75 ? M >> (128 - s) : 0;
    }
    u128 L, H;
    memcpy(&L, f->w, sizeof L);
    memcpy(&H, f->w + 2, sizeof H);
    if (!(bits >> 63)) {
        u128 nl = L + lo;
        H += hi + (nl < L);
        L = nl;
    } else {
        H -= hi + (L < lo);
        L -= lo;
    }
    memcpy(f->w, &L, sizeof L);
    memcpy(f->w + 2, &H, sizeof H);
    return true;
}
