/*
 * topology/text.c - parsing the kernel's text files without malloc or
 * stdio (see text.h; os_read_file reads them).  Every function works on buffers its caller
 * owns and keeps no state, so it is safe from any thread.
 */
#include "text.h"
#include "topology.h" /* text_utoa */

#include <errno.h>
#include <string.h>

void text_path_init(struct text_path *p, char *buf, size_t cap)
{
    p->buf = buf;
    p->cap = cap;
    p->len = 0;
    p->overflow = cap == 0;
    if (cap)
        buf[0] = '\0';
}

static void path_putc(struct text_path *p, char c)
{
    if (p->len + 1 < p->cap) {
        p->buf[p->len++] = c;
        p->buf[p->len] = '\0';
    } else {
        p->overflow = 1;
    }
}

void text_path_str(struct text_path *p, const char *s)
{
    while (*s)
        path_putc(p, *s++);
}

int text_utoa(unsigned long long v, char d[20])
{
    char rev[20];
    int n = 0;
    do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        d[i] = rev[n - 1 - i];
    return n;
}

void text_path_uint(struct text_path *p, unsigned long v)
{
    char d[20];
    int n = text_utoa(v, d);
    for (int i = 0; i < n; i++)
        path_putc(p, d[i]);
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int text_parse_u64(const char **s, uint64_t *out)
{
    const char *p = *s;
    while (is_blank(*p))
        p++;
    if (*p < '0' || *p > '9')
        return EINVAL;
    uint64_t v = 0;
    int err = 0;
    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            err = ERANGE;
        else
            v = v * 10 + d;
        p++;
    }
    *s = p;
    *out = v;
    return err;
}

int text_parse_list(const char *s, const char **end, uint64_t *bits,
                    size_t nbits)
{
    for (size_t i = 0; i < (nbits + 63) / 64; i++)
        bits[i] = 0;
    int err = 0;
    const char *p = s;
    /* An empty list: blanks, then the end of the line or text. */
    while (is_blank(*p))
        p++;
    if (*p == '\0' || *p == '\n') {
        if (*p == '\n')
            p++;
        if (end)
            *end = p;
        return 0;
    }
    p = s;
    for (;;) {
        uint64_t lo, hi;
        /* No blanks inside a list: a digit must follow directly. */
        if (*p < '0' || *p > '9')
            goto syntax;
        if (text_parse_u64(&p, &lo))
            goto syntax;
        hi = lo;
        if (*p == '-') {
            p++;
            if (*p < '0' || *p > '9' || text_parse_u64(&p, &hi))
                goto syntax;
            if (hi < lo)
                goto syntax;
        }
        if (hi >= nbits) {
            err = ERANGE;           /* keep the members below nbits */
            hi = nbits ? nbits - 1 : 0;
        }
        for (uint64_t b = lo; b <= hi && b < nbits; b++)
            bits[b / 64] |= UINT64_C(1) << (b % 64);
        if (*p == ',') {
            p++;
            continue;
        }
        break;
    }
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    if (end)
        *end = p;
    return err;
syntax:
    if (end)
        *end = p;
    return EINVAL;
}

/* Append to a bounded buffer, counting what would have been written. */
struct out {
    char *buf;
    size_t len, need;
};

static void out_putc(struct out *o, char c)
{
    if (o->need + 1 < o->len)
        o->buf[o->need] = c;
    o->need++;
}

static void out_uint(struct out *o, unsigned long v)
{
    char d[20];
    int n = text_utoa(v, d);
    for (int i = 0; i < n; i++)
        out_putc(o, d[i]);
}

static int bit_test(const uint64_t *bits, size_t b)
{
    return (bits[b / 64] >> (b % 64)) & 1;
}

size_t text_format_list(const uint64_t *bits, size_t nbits, char *buf,
                        size_t len)
{
    struct out o = { buf, len, 0 };
    size_t b = 0;
    int first = 1;
    while (b < nbits) {
        if (!bit_test(bits, b)) {
            b++;
            continue;
        }
        size_t lo = b;
        while (b + 1 < nbits && bit_test(bits, b + 1))
            b++;
        if (!first)
            out_putc(&o, ',');
        first = 0;
        out_uint(&o, lo);
        if (b > lo) {
            out_putc(&o, '-');
            out_uint(&o, b);
        }
        b++;
    }
    if (len)
        buf[o.need < len ? o.need : len - 1] = '\0';
    return o.need;
}

int text_find_u64(const char *text, const char *key, uint64_t *out)
{
    const char *p = strstr(text, key);
    if (!p)
        return ENOENT;
    p += strlen(key);
    return text_parse_u64(&p, out) == EINVAL ? EINVAL : 0;
}

const char *text_find_line(const char *text, const char *key)
{
    size_t klen = strlen(key);
    const char *p = text;
    while (*p) {
        if (strncmp(p, key, klen) == 0) {
            p += klen;
            while (is_blank(*p))
                p++;
            return p;
        }
        p = strchr(p, '\n');
        if (!p)
            break;
        p++;
    }
    return NULL;
}
