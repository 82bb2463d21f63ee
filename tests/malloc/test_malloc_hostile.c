/*
 * tests/malloc/test_malloc_hostile.c - hostile frees under the malloc
 * replacement (issue 11, item 8): a double free, free() of a pointer into a
 * block, realloc() of one, free() of a freed large block each write one line
 * "numaslab: free(): double free detected: 0x..." / "...: invalid pointer:
 * 0x..." to stderr and abort() (as glibc does), where the API returns
 * -EINVAL.  A foreign pointer (not the library's: a stack address) is
 * ignored, as documented (the dynamic loader's early blocks are such).
 * free() of an address of a slab that is no block of it (the bytes a class
 * whose size does not divide its slab leaves over), for every such class:
 * "invalid pointer" too.
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


/* Hold every block of one slab of class size d (malloc until the sorted
 * blocks hold a run of capacity blocks at stride d: two slabs of a class
 * whose size does not divide them cannot form one), then free an address
 * of its pages that is none of them: which == 0 the lowest byte outside
 * every block (before the first block or after the last), 1 the slab's
 * address + capacity * size (where the unused tail began while block 0
 * was the slab's first byte).  Returns 0 (and says so) if that free came
 * back; 3 if no slab was found. */
static int free_slab_rest(size_t d, int which)
{
    static char *held[4096];
    size_t bytes = testutil_slab_bytes(d), cap = bytes / d, n = 2 * cap + 300;
    if (bytes % d == 0 || n > 4096)
        return 3;
    for (size_t i = 0; i < n; i++)
        if (!(held[i] = malloc(d)))
            return 3;
    qsort(held, n, sizeof held[0], testutil_cmp_ptr);
    char *first = NULL;
    for (size_t i = 0, run = 1; i + 1 < n && !first; i++) {
        run = held[i + 1] - held[i] == (ptrdiff_t)d ? run + 1 : 1;
        if (run == cap)
            first = held[i + 2 - cap];
    }
    if (!first)
        return 3;
    char *span = (char *)((uintptr_t)first & ~(TESTUTIL_SLAB_PAGE - 1)), *bad = span + cap * d;
    if (which == 0) /* the lowest byte of the slab outside its blocks */
        bad = first > span ? span : first + cap * d;
    free(bad);
    printf("free(%p) of class %zu (slab %p) returned\n", (void *)bad, d, (void *)span);
    return 0;
}

/* The scenarios, run in the child; each returns 0 only if nothing aborted. */
static int run_case(const char *c, const char *arg)
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
    } else if (!strcmp(c, "slab-rest-low") || !strcmp(c, "slab-rest-tail")) {
        return free_slab_rest(strtoul(arg, NULL, 10), !strcmp(c, "slab-rest-tail"));
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

static struct outcome spawn_arg(const char *c, const char *arg)
{
    struct outcome o = { 0 };
    char *argv[] = { "test_malloc_hostile", (char *)c, (char *)arg, NULL };
    int st = testutil_child_exec("/proc/self/exe", argv, o.err, sizeof o.err);
    if (WIFSIGNALED(st))
        o.sig = WTERMSIG(st);
    else
        o.code = WEXITSTATUS(st);
    return o;
}

static struct outcome spawn(const char *c)
{
    return spawn_arg(c, NULL);
}

/* The child (case c, argument arg or NULL) aborted with exactly one line
 * `want...0x<hex>` on stderr. */
static void expect_abort_arg(const char *c, const char *arg, const char *want)
{
    struct outcome o = spawn_arg(c, arg);
    if (o.sig != SIGABRT || strncmp(o.err, want, strlen(want)) != 0)
        fail_msg("%s %s: signal %d exit %d, stderr \"%s\" (wanted SIGABRT and \"%s...\")", c,
                 arg ? arg : "", o.sig, o.code, o.err, want);
    const char *nl = strchr(o.err, '\n');
    assert_non_null(nl);
    assert_int_equal(nl[1], 0); /* one line only */
    assert_non_null(strstr(o.err, ": 0x"));
}

static void expect_abort(const char *c, const char *want)
{
    expect_abort_arg(c, NULL, want);
}

/* Every class whose size does not divide its slab (found through malloc
 * and nslab_usable_size): free() of the lowest address of a slab that is
 * no block, and of the slab + capacity * size, each abort. */
static void test_slab_rest_free(void **s)
{
    (void)s;
    unsigned tested = 0;
    for (size_t prev = 0; prev < ((size_t)64 << 10);) {
        void *p = malloc(prev + 1);
        assert_non_null(p);
        size_t d = nslab_usable_size(p);
        free(p);
        assert_true(d > prev);
        prev = d;
        if (testutil_slab_bytes(d) % d == 0)
            continue;
        char arg[32];
        snprintf(arg, sizeof arg, "%zu", d);
        expect_abort_arg("slab-rest-low", arg, "numaslab: free(): invalid pointer: ");
        expect_abort_arg("slab-rest-tail", arg, "numaslab: free(): invalid pointer: ");
        tested++;
    }
    assert_true(tested >= 40);
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
        return run_case(argv[1], argc > 2 ? argv[2] : "0");
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
        cmocka_unit_test(test_slab_rest_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
