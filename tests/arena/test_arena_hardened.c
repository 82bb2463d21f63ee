/*
 * tests/arena/test_arena_hardened.c - the hardened build (NUMASLAB_HARDENED
 * =ON): free-list links are stored encoded (not the plain address of the
 * next block), and a use after free that overwrites a free block's link or
 * its free key is caught at the next hand-out: one line on stderr
 * ("numaslab: corrupted free list: 0x..." / "corrupted free block") and
 * abort.  Death tests in a child (/proc/self/exe CASE).  In a default build
 * it checks the plain links instead, and the death tests skip.  Public
 * header only (CMake says which build it is: NSLAB_HARDENED).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static void *volatile sink;

static int run_case(const char *c)
{
    char *keep = numa_malloc_local(64);
    char *a = numa_malloc_local(64), *b = numa_malloc_local(64);
    sink = keep;
    nslab_free(a);
    nslab_free(b); /* the bin: b -> a */
    if (!strcmp(c, "link")) {
        *(char **)b = keep + 8; /* a use after free forges the link */
    } else if (!strcmp(c, "key")) {
        ((uintptr_t *)b)[1] ^= 1; /* ... or writes over the free key */
    } else if (strcmp(c, "clean") != 0) {
        return 2;
    }
    sink = numa_malloc_local(64); /* b: its key checked, its link followed */
    sink = numa_malloc_local(64);
    puts("OK");
    return 0;
}

static int spawn(const char *c, char *err, size_t len, int *sig)
{
    char *argv[] = { "test_arena_hardened", (char *)c, NULL };
    int st = testutil_child_exec("/proc/self/exe", argv, err, len);
    *sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Links are encoded in a hardened build, plain pointers otherwise. */
static void test_link_encoding(void **s)
{
    (void)s;
    char *keep = numa_malloc_local(48);
    char *a = numa_malloc_local(48), *b = numa_malloc_local(48);
    assert_int_equal(nslab_free(a), 0);
    assert_int_equal(nslab_free(b), 0);
    void *stored = *(void **)b; /* reading a freed block: the test's own business */
#ifdef NSLAB_HARDENED
    assert_ptr_not_equal(stored, a);
#else
    assert_ptr_equal(stored, a);
#endif
    char *x = numa_malloc_local(48), *y = numa_malloc_local(48);
    assert_ptr_equal(x, b);
    assert_ptr_equal(y, a);
    nslab_free(x);
    nslab_free(y);
    nslab_free(keep);
    assert_int_equal(nslab_arena_audit(NULL), 0);
}

static void test_clean_child(void **s)
{
    (void)s;
    char err[4096];
    int sig;
    assert_int_equal(spawn("clean", err, sizeof err, &sig), 0);
    assert_string_equal(err, "");
}

#ifdef NSLAB_HARDENED
static void expect_abort(const char *c, const char *want)
{
    char err[4096];
    int sig;
    spawn(c, err, sizeof err, &sig);
    if (sig != SIGABRT || strncmp(err, want, strlen(want)) != 0)
        fail_msg("%s: signal %d, stderr \"%s\" (wanted SIGABRT, \"%s...\")", c, sig, err, want);
}

static void test_forged_link(void **s)
{
    (void)s;
    expect_abort("link", "numaslab: corrupted free list: 0x");
}

static void test_overwritten_key(void **s)
{
    (void)s;
    expect_abort("key", "numaslab: corrupted free block: 0x");
}
#endif

int main(int argc, char **argv)
{
    if (argc > 1)
        return run_case(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_encoding),
        cmocka_unit_test(test_clean_child),
#ifdef NSLAB_HARDENED
        cmocka_unit_test(test_forged_link),
        cmocka_unit_test(test_overwritten_key),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
