/*
 * tests/malloc/test_malloc_hostile.c - hostile frees under the malloc
 * replacement (issue 11, item 8): a double free, free() of a pointer into a
 * block, realloc() of one, free() of a freed large block each write one line
 * "numaslab: free(): double free detected: 0x..." / "...: invalid pointer:
 * 0x..." to stderr and abort() (as glibc does), where the API returns
 * -EINVAL.  A foreign pointer (not the library's: a stack address) is
 * ignored, as documented (the dynamic loader's early blocks are such).
 *
 * Death tests: the test runs itself (/proc/self/exe CASE) in a child with
 * stderr on a pipe and core dumps off, and checks the child's signal and its
 * stderr.  Run preloaded and linked (CMakeLists.txt).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* Is malloc the replacement?  Its blocks are the library's. */
static int replacement_active(void)
{
    void *p = malloc(64);
    int ours = nslab_node_of(p) >= 0;
    free(p);
    return ours;
}

static void *volatile sink;

/* The scenarios, run in the child; each returns 0 only if nothing aborted. */
static int run_case(const char *c)
{
    if (!strcmp(c, "double")) {
        char *keep = malloc(64), *p = malloc(64);
        sink = keep;
        free(p);
        free(p);
    } else if (!strcmp(c, "double-flushed")) {
        /* the block left the thread's cache for its slab first */
        static char *many[2000];
        char *p = malloc(64);
        for (int i = 0; i < 2000; i++)
            many[i] = malloc(64);
        free(p);
        for (int i = 0; i < 2000; i++) /* p goes to the slab with the cold half */
            free(many[i]);
        free(p);
    } else if (!strcmp(c, "interior")) {
        char *p = malloc(64);
        sink = p;
        free(p + 16);
    } else if (!strcmp(c, "realloc-interior")) {
        char *p = malloc(64);
        sink = p;
        sink = realloc(p + 16, 200);
    } else if (!strcmp(c, "realloc-freed")) {
        char *keep = malloc(64), *p = malloc(64);
        sink = keep;
        free(p);
        sink = realloc(p, 200);
    } else if (!strcmp(c, "double-large")) {
        char *p = malloc(1 << 20);
        free(p);
        free(p);
    } else if (!strcmp(c, "foreign")) {
        char local[64];
        sink = local;
        free(local + 16); /* not the library's: ignored */
        puts("OK");
    } else if (!strcmp(c, "ok")) {
        char *p = malloc(64);
        free(p);
        puts("OK");
    } else {
        return 2;
    }
    return 0;
}

struct outcome {
    int sig;    /* terminating signal, 0 if it exited */
    int code;   /* exit code */
    char err[1024];
};

static struct outcome spawn(const char *c)
{
    struct outcome o = { 0 };
    char *argv[] = { "test_malloc_hostile", (char *)c, NULL };
    int st = testutil_child_exec("/proc/self/exe", argv, o.err, sizeof o.err);
    if (WIFSIGNALED(st))
        o.sig = WTERMSIG(st);
    else
        o.code = WEXITSTATUS(st);
    return o;
}

/* The child aborted with exactly one line `want...0x<hex>` on stderr. */
static void expect_abort(const char *c, const char *want)
{
    struct outcome o = spawn(c);
    if (o.sig != SIGABRT || strncmp(o.err, want, strlen(want)) != 0)
        fail_msg("%s: signal %d exit %d, stderr \"%s\" (wanted SIGABRT and \"%s...\")", c, o.sig,
                 o.code, o.err, want);
    const char *nl = strchr(o.err, '\n');
    assert_non_null(nl);
    assert_int_equal(nl[1], 0); /* one line only */
    assert_non_null(strstr(o.err, ": 0x"));
}

static void test_double_free(void **s)
{
    (void)s;
    expect_abort("double", "numaslab: free(): double free detected: ");
}

static void test_double_free_flushed(void **s)
{
    (void)s;
    expect_abort("double-flushed", "numaslab: free(): double free detected: ");
}

static void test_interior_free(void **s)
{
    (void)s;
    expect_abort("interior", "numaslab: free(): invalid pointer: ");
}

static void test_realloc_interior(void **s)
{
    (void)s;
    expect_abort("realloc-interior", "numaslab: realloc(): invalid pointer: ");
}

static void test_realloc_freed(void **s)
{
    (void)s;
    expect_abort("realloc-freed", "numaslab: realloc(): double free detected: ");
}

static void test_double_free_large(void **s)
{
    (void)s;
    /* the freed region is kept in its node's cache: detected */
    expect_abort("double-large", "numaslab: free(): double free detected: ");
}

static void test_foreign_ignored(void **s)
{
    (void)s;
    struct outcome o = spawn("foreign");
    assert_int_equal(o.sig, 0);
    assert_int_equal(o.code, 0);
    assert_string_equal(o.err, "");
}

/* The harness itself: a clean child exits 0 with no stderr. */
static void test_clean_child(void **s)
{
    (void)s;
    struct outcome o = spawn("ok");
    assert_int_equal(o.sig, 0);
    assert_int_equal(o.code, 0);
    assert_string_equal(o.err, "");
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return run_case(argv[1]);
    /* the replacement must be the malloc in use, or nothing is tested */
    if (!replacement_active()) {
        printf("SKIP: the malloc replacement is not active\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_child),
        cmocka_unit_test(test_double_free),
        cmocka_unit_test(test_double_free_flushed),
        cmocka_unit_test(test_interior_free),
        cmocka_unit_test(test_realloc_interior),
        cmocka_unit_test(test_realloc_freed),
        cmocka_unit_test(test_double_free_large),
        cmocka_unit_test(test_foreign_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
