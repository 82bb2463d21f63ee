/*
 * tests/topology/test_nodeset.c - node set text: parse / format round
 * trips, truncation, and the errno of every malformed input; the kernel
 * list parser underneath (text.h) on what sysfs prints.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "text.h"
#include "topology.h"

static void roundtrip(const nslab_nodeset_t *s)
{
    char buf[8192];
    nslab_nodeset_t back;
    int n = nslab_nodeset_format(s, buf, sizeof buf);
    assert_int_equal((size_t)n, strlen(buf));
    if (nslab_nodeset_count(s) == 0) {
        assert_string_equal(buf, "");
        return;
    }
    assert_int_equal(nslab_nodeset_parse(buf, &back), 0);
    assert_memory_equal(&back, s, sizeof back);
}

static void test_parse_valid(void **state)
{
    nslab_nodeset_t s;
    char buf[64];

    assert_int_equal(nslab_nodeset_parse("0", &s), 0);
    assert_int_equal(nslab_nodeset_count(&s), 1);
    assert_true(nslab_nodeset_has(&s, 0));

    assert_int_equal(nslab_nodeset_parse("0,2-3", &s), 0);
    assert_int_equal(nslab_nodeset_count(&s), 3);
    assert_false(nslab_nodeset_has(&s, 1));

    assert_int_equal(nslab_nodeset_parse("1023", &s), 0);
    assert_true(nslab_nodeset_has(&s, 1023));
    assert_int_equal(nslab_nodeset_count(&s), 1);

    assert_int_equal(nslab_nodeset_parse("0-1023", &s), 0);
    assert_int_equal(nslab_nodeset_count(&s), 1024);
    nslab_nodeset_format(&s, buf, sizeof buf);
    assert_string_equal(buf, "0-1023");

    /* overlapping and unordered members, a trailing newline (sysfs) */
    assert_int_equal(nslab_nodeset_parse("5,0-3,2,64-65\n", &s), 0);
    nslab_nodeset_format(&s, buf, sizeof buf);
    assert_string_equal(buf, "0-3,5,64-65");
    assert_int_equal(nslab_nodeset_parse("3-3", &s), 0);
    nslab_nodeset_format(&s, buf, sizeof buf);
    assert_string_equal(buf, "3");
}

static void test_parse_all(void **state)
{
    nslab_nodeset_t s, allowed;
    int n = nslab_nodes(NSLAB_NODES_ALLOWED, &allowed);
    assert_true(n >= 1);
    assert_int_equal(nslab_nodeset_parse("all", &s), 0);
    assert_memory_equal(&s, &allowed, sizeof s);
}

static void test_parse_errors(void **state)
{
    static const char *bad[] = {
        "", " 0", "0 ", "-1", "-2", "1024", "0-1024", "3-1", "0,", ",0",
        "0-", "0--1", "0,,1", "a", "0a", "1 2", "0-3 ,5", "all,0", "ALL",
        "99999999999999999999", "18446744073709551616", "0x3", "0\n1",
    };
    nslab_nodeset_t s;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        int r = nslab_nodeset_parse(bad[i], &s);
        if (r != -EINVAL)
            fail_msg("\"%s\" parsed (%d)", bad[i], r);
        assert_int_equal(errno, EINVAL);
    }
    assert_int_equal(nslab_nodeset_parse(NULL, &s), -EINVAL);
    assert_int_equal(nslab_nodeset_parse("0", NULL), -EINVAL);
}

static void test_format_roundtrip(void **state)
{
    nslab_nodeset_t s;
    uint64_t x = 0x9e3779b97f4a7c15ULL; /* xorshift: deterministic */

    nslab_nodeset_zero(&s);
    roundtrip(&s);
    for (int n = 0; n < NSLAB_MAX_NODES; n += 63) {
        s = nslab_nodeset_of(n);
        roundtrip(&s);
    }
    static const int edges[] = { 0, 1, 62, 63, 64, 65, 127, 128, 511, 1022, 1023 };
    nslab_nodeset_zero(&s);
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        nslab_nodeset_add(&s, edges[i]);
    roundtrip(&s);
    for (int round = 0; round < 200; round++) {
        for (int w = 0; w < NSLAB_MAX_NODES / 64; w++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* sparse, dense and empty words alike */
            s.bits[w] = round % 3 == 0 ? x : round % 3 == 1 ? (x & (x >> 1)) : 0;
        }
        if (round % 3 == 2)
            s.bits[round % 16] = ~0ULL;
        roundtrip(&s);
    }
}

static void test_format_truncation(void **state)
{
    nslab_nodeset_t s;
    char buf[8];
    assert_int_equal(nslab_nodeset_parse("0-3,5,100-127", &s), 0);
    /* "0-3,5,100-127" is 13 characters */
    memset(buf, 'x', sizeof buf);
    assert_int_equal(nslab_nodeset_format(&s, buf, sizeof buf), 13);
    assert_string_equal(buf, "0-3,5,1");
    assert_int_equal(nslab_nodeset_format(&s, buf, 1), 13);
    assert_string_equal(buf, "");
    assert_int_equal(nslab_nodeset_format(&s, NULL, 0), 13);
    assert_int_equal(nslab_nodeset_format(NULL, buf, sizeof buf), -EINVAL);
    assert_int_equal(nslab_nodeset_format(&s, NULL, 4), -EINVAL);
    /* The worst case: every other node of 1024. */
    nslab_nodeset_zero(&s);
    for (int n = 0; n < NSLAB_MAX_NODES; n += 2)
        nslab_nodeset_add(&s, n);
    int need = nslab_nodeset_format(&s, NULL, 0);
    char big[4096];
    assert_true(need < (int)sizeof big);
    assert_int_equal(nslab_nodeset_format(&s, big, sizeof big), need);
    assert_int_equal((int)strlen(big), need);
}

/* The kernel list parser on sysfs shapes, including ids past the bitmap. */
static void test_text_list(void **state)
{
    uint64_t bits[2];
    const char *end;
    assert_int_equal(text_parse_list("0-3,8\n", &end, bits, 128), 0);
    assert_int_equal(bits[0], 0x10fULL);
    assert_int_equal(*end, '\0');
    assert_int_equal(text_parse_list("\n", NULL, bits, 128), 0);
    assert_int_equal(bits[0] | bits[1], 0);
    assert_int_equal(text_parse_list("", NULL, bits, 128), 0);
    /* Members past nbits: ERANGE, the rest kept. */
    assert_int_equal(text_parse_list("1,100-200", NULL, bits, 128), ERANGE);
    assert_int_equal(bits[0], 0x2ULL);
    assert_int_equal(bits[1], ~0ULL << 36);
    assert_int_equal(text_parse_list("5-2", NULL, bits, 128), EINVAL);
    /* A status line: the list ends at the newline. */
    const char *status = "Mems_allowed:\t1\nMems_allowed_list:\t0-1\nX:\t1\n";
    const char *line = text_find_line(status, "Mems_allowed_list:");
    assert_non_null(line);
    assert_int_equal(text_parse_list(line, &end, bits, 128), 0);
    assert_int_equal(bits[0], 0x3ULL);
    assert_int_equal(*end, 'X');
    assert_null(text_find_line(status, "Cpus_allowed_list:"));

    uint64_t v;
    assert_int_equal(text_find_u64("Node 3 MemFree:   12 kB\n", "MemFree:", &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(text_find_u64("Node 3 MemUsed: 1 kB\n", "MemFree:", &v), ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_all),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_format_roundtrip),
        cmocka_unit_test(test_format_truncation),
        cmocka_unit_test(test_text_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
