/*
 * tests/arena/test_arena_asan.c - in an ASan build of the library
 * (NUMASLAB_ASAN=ON), a caller's use after free of a block is reported by
 * ASan: freed and cached slab blocks are poisoned from byte 16 on, cached
 * large regions whole, and a block handed out again is unpoisoned (issue
 * 11).  Death tests: the test runs itself (/proc/self/exe CASE) in a child
 * and checks that the child died with ASan's report.  Without ASan it skips
 * (77).  Public header only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif

static volatile char sink;

static int run_case(const char *c)
{
    if (!strcmp(c, "small")) {
        char *keep = numa_malloc_local(64);
        char *p = numa_malloc_local(64);
        nslab_free(p);
        p[20] = 1; /* use after free */
        sink = keep[0];
    } else if (!strcmp(c, "small-read")) {
        char *keep = numa_malloc_local(200);
        char *p = numa_malloc_local(200);
        memset(p, 1, 200);
        nslab_free(p);
        sink = p[100];
        sink = keep[0];
    } else if (!strcmp(c, "large")) {
        char *p = numa_malloc_local(100000); /* kept in the node's cache */
        memset(p, 1, 100000);
        nslab_free(p);
        sink = p[5000];
    } else if (!strcmp(c, "reuse")) {
        /* a block handed out again is usable whole: no report */
        for (int i = 0; i < 1000; i++) {
            char *p = numa_malloc_local(64 + (size_t)(i % 4) * 16);
            memset(p, i, 64);
            nslab_free(p);
        }
        char *l = numa_malloc_local(100000);
        nslab_free(l);
        l = numa_malloc_local(100000);
        memset(l, 2, 100000);
        nslab_free(l);
        nslab_thread_flush();
        puts("OK");
    } else {
        return 2;
    }
    return 0;
}

#ifdef HAVE_ASAN
static int spawn(const char *c, char *err, size_t len)
{
    char *argv[] = { "test_arena_asan", (char *)c, NULL };
    return testutil_exit_code(testutil_child_exec("/proc/self/exe", argv, err, len));
}

static void expect_report(const char *c)
{
    static char err[65536];
    int code = spawn(c, err, sizeof err);
    if (code == 0 || !strstr(err, "ERROR: AddressSanitizer: use-after-poison"))
        fail_msg("%s: exit %d, no ASan report:\n%s", c, code, err);
}

static void test_small_write(void **s)
{
    (void)s;
    expect_report("small");
}

static void test_small_read(void **s)
{
    (void)s;
    expect_report("small-read");
}

static void test_large_cached(void **s)
{
    (void)s;
    expect_report("large");
}

static void test_reuse_clean(void **s)
{
    (void)s;
    static char err[65536];
    int code = spawn("reuse", err, sizeof err);
    if (code != 0)
        fail_msg("reuse: exit %d:\n%s", code, err);
}

#endif

int main(int argc, char **argv)
{
    if (argc > 1)
        return run_case(argv[1]);
#ifndef HAVE_ASAN
    printf("SKIP: not an ASan build (configure with -DNUMASLAB_ASAN=ON)\n");
    return 77;
#else
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_clean),
        cmocka_unit_test(test_small_write),
        cmocka_unit_test(test_small_read),
        cmocka_unit_test(test_large_cached),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
#endif
}
