/*
 * tests/malloc/test_malloc_api.c - the malloc replacement's C entry points.
 *
 * Built twice (tests/malloc/CMakeLists.txt):
 *   malloc_api_preload  linked with libnumaslab.so and libnuma, run with
 *                       LD_PRELOAD=libnumaslab-malloc: the preload interposes
 *                       both the malloc family and libnumaslab's API;
 *   malloc_api_linked   linked with libnumaslab-malloc (no preload).
 * Both first prove that malloc really is numaslab's (nslab_node_of on a
 * malloc'ed block), so neither can pass on glibc's malloc.
 *
 * Some checks need a fresh process (configuration is read once, statistics
 * print at exit): the test re-executes itself with `--child NAME` and the
 * environment under test, and reads the child's stderr and status.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* Keep the compiler from reasoning about these calls (it may drop a
 * malloc/free pair, or warn about freeing a static buffer on purpose). */
static void *(*volatile malloc_fn)(size_t) = malloc;
static void (*volatile free_fn)(void *) = free;
static void *(*volatile realloc_fn)(void *, size_t) = realloc;
static void *(*volatile calloc_fn)(size_t, size_t) = calloc;
static void *(*volatile reallocarray_fn)(void *, size_t, size_t) = reallocarray;

static const char *self_exe = "/proc/self/exe";

static int owned(const void *p)
{
    return nslab_node_of(p) >= 0;
}

/* ---- the whole family returns the library's blocks -------------------- */

static void test_malloc_is_numaslab(void **state)
{
    (void)state;
    void *p = malloc_fn(32);
    assert_non_null(p);
    if (!owned(p))
        fail_msg("malloc() did not come from numaslab: the replacement is not active");
    free_fn(p);
}

static void test_family_all_owned(void **state)
{
    (void)state;
    void *p[12];
    int i = 0;
    long pg = sysconf(_SC_PAGESIZE);

    p[i++] = malloc_fn(100);
    p[i++] = calloc_fn(10, 10);
    p[i++] = realloc_fn(NULL, 100);
    p[i++] = reallocarray_fn(NULL, 10, 10);
    assert_int_equal(posix_memalign(&p[i++], 64, 100), 0);
    p[i++] = aligned_alloc(256, 100);
    p[i++] = memalign(128, 100);
    p[i++] = valloc(100);
    p[i++] = pvalloc(100);
    p[i++] = malloc_fn(1 << 20); /* a large block */
    for (int k = 0; k < i; k++) {
        assert_non_null(p[k]);
        assert_true(owned(p[k]));
        assert_true(malloc_usable_size(p[k]) >= 100);
    }
    assert_int_equal((uintptr_t)p[7] % (uintptr_t)pg, 0);
    assert_int_equal((uintptr_t)p[8] % (uintptr_t)pg, 0);
    assert_true(malloc_usable_size(p[8]) >= (size_t)pg);
    for (int k = 0; k < i; k++)
        free_fn(p[k]);
}

static void test_cross_free(void **state)
{
    (void)state;
    int node = nslab_local_node();
    assert_true(node >= 0);
    /* the library's blocks go to free() ... */
    void *a = numa_malloc_on(node, 200);
    void *b = numa_malloc_local(100000);
    void *c = numa_calloc_on(node, 4, 50);
    void *d = numa_malloc_interleaved(1 << 20, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_non_null(d);
    free_fn(a);
    free_fn(b);
    free_fn(c);
    free_fn(d);
    /* ... and malloc's blocks to the library */
    void *e = malloc_fn(300), *f = malloc_fn(300000);
    assert_int_equal(nslab_node_of(e), node);
    assert_int_equal(nslab_free(e), 0);
    assert_int_equal(nslab_free(f), 0);
    void *g = malloc_fn(40);
    void *h = nslab_realloc(g, 4000);
    assert_non_null(h);
    h = realloc_fn(h, 40000);
    assert_non_null(h);
    assert_true(nslab_usable_size(h) >= 40000);
    free_fn(h);
}

static void test_zero_sizes(void **state)
{
    (void)state;
    void *a = malloc_fn(0), *b = malloc_fn(0);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    void *c = calloc_fn(0, 16), *d = calloc_fn(16, 0);
    assert_non_null(c);
    assert_non_null(d);
    void *e = aligned_alloc(64, 0);
    assert_non_null(e);
    assert_int_equal((uintptr_t)e % 64, 0);
    void *f;
    assert_int_equal(posix_memalign(&f, 64, 0), 0);
    assert_non_null(f);
    free_fn(a);
    free_fn(b);
    free_fn(c);
    free_fn(d);
    free_fn(e);
    free_fn(f);
    free_fn(NULL);
}

/* ---- alignment rules -------------------------------------------------- */

static void test_posix_memalign_rules(void **state)
{
    (void)state;
    void *p = (void *)0x1;
    const size_t bad[] = { 0, 1, 2, 4, 3, 24, 48, 100, sizeof(void *) + 1 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 1234;
        assert_int_equal(posix_memalign(&p, bad[i], 10), EINVAL);
        assert_ptr_equal(p, (void *)0x1); /* untouched */
        assert_int_equal(errno, 1234);
    }
    for (size_t a = sizeof(void *); a <= NSLAB_MAX_ALIGN; a <<= 1) {
        const size_t sizes[] = { 1, a / 2 + 1, a, 3 * a + 5 };
        for (size_t k = 0; k < 4; k++) {
            assert_int_equal(posix_memalign(&p, a, sizes[k]), 0);
            assert_int_equal((uintptr_t)p % a, 0);
            assert_true(malloc_usable_size(p) >= sizes[k]);
            memset(p, 0xab, sizes[k]);
            free_fn(p);
        }
    }
    /* above 2 MiB: any power of two the address space holds (glibc,
     * jemalloc and mimalloc serve them); ENOMEM only when it cannot */
    for (int k = 22; k <= 40; k += 3) {
        size_t a = (size_t)1 << k;
        p = NULL;
        assert_int_equal(posix_memalign(&p, a, 1000), 0);
        assert_int_equal((uintptr_t)p % a, 0);
        assert_true(malloc_usable_size(p) >= 1000);
        memset(p, 0xab, 1000);
        free_fn(p);
    }
    p = (void *)0x1;
    assert_int_equal(posix_memalign(&p, (size_t)1 << 62, 10), ENOMEM);
    assert_ptr_equal(p, (void *)0x1);
}

static void test_aligned_alloc_rules(void **state)
{
    (void)state;
    errno = 0;
    assert_null(aligned_alloc(0, 10));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(aligned_alloc(24, 10));
    assert_int_equal(errno, EINVAL);
    /* any power of two, even below sizeof(void *); size need not be a
     * multiple of the alignment (C17) */
    for (size_t a = 1; a <= NSLAB_MAX_ALIGN; a <<= 1) {
        void *p = aligned_alloc(a, a + 3);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % a, 0);
        assert_true(malloc_usable_size(p) >= a + 3);
        free_fn(p);
    }
    for (int k = 22; k <= 34; k += 4) {
        size_t a = (size_t)1 << k;
        void *p = aligned_alloc(a, 10);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % a, 0);
        free_fn(p);
        p = memalign(a, 10);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % a, 0);
        free_fn(p);
    }
    errno = 0;
    assert_null(aligned_alloc((size_t)1 << 62, 10));
    assert_int_equal(errno, ENOMEM);
}

static void test_memalign_valloc_pvalloc(void **state)
{
    (void)state;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    void *p = memalign(48, 10); /* rounded up to 64, as glibc does */
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 64, 0);
    free_fn(p);
    p = memalign(8, 10);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 8, 0);
    free_fn(p);
    errno = 0;
    assert_null(memalign(SIZE_MAX, 10));
    assert_int_equal(errno, EINVAL);

    p = valloc(1);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % pg, 0);
    free_fn(p);
    p = pvalloc(0);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % pg, 0);
    assert_true(malloc_usable_size(p) >= pg);
    memset(p, 1, pg);
    free_fn(p);
    p = pvalloc(pg + 1);
    assert_non_null(p);
    assert_true(malloc_usable_size(p) >= 2 * pg);
    memset(p, 1, 2 * pg);
    free_fn(p);
    errno = 0;
    assert_null(pvalloc(SIZE_MAX - 10));
    assert_int_equal(errno, ENOMEM);
}

/* ---- realloc, reallocarray, calloc ------------------------------------ */

static void test_realloc_grow_shrink(void **state)
{
    (void)state;
    /* small -> medium -> large -> larger -> small, content kept */
    const size_t steps[] = { 1, 24, 100, 1000, 5000, 70000, 300000, 3 << 20,
                             200000, 4000, 64, 8 };
    size_t have = steps[0];
    unsigned char *p = realloc_fn(NULL, have);
    assert_non_null(p);
    testutil_fill(p, have, 3);
    for (size_t i = 1; i < sizeof steps / sizeof steps[0]; i++) {
        size_t keep = have < steps[i] ? have : steps[i];
        p = realloc_fn(p, steps[i]);
        assert_non_null(p);
        assert_true(owned(p));
        assert_true(malloc_usable_size(p) >= steps[i]);
        if (!testutil_check(p, keep, 3))
            fail_msg("realloc %zu -> %zu lost the content", have, steps[i]);
        testutil_fill(p, steps[i], 3);
        have = steps[i];
    }
    /* realloc(p, 0) frees and returns NULL (glibc's behaviour) */
    assert_null(realloc_fn(p, 0));
    /* realloc(NULL, n) is malloc */
    p = realloc_fn(NULL, 50);
    assert_non_null(p);
    assert_true(owned(p));
    free_fn(p);
}

static void test_reallocarray_overflow(void **state)
{
    (void)state;
    unsigned char *p = malloc_fn(64);
    testutil_fill(p, 64, 9);
    errno = 0;
    assert_null(reallocarray_fn(p, SIZE_MAX / 2, 3));
    assert_int_equal(errno, ENOMEM);
    assert_true(testutil_check(p, 64, 9)); /* untouched, still ours */
    p = reallocarray_fn(p, 100, 10);
    assert_non_null(p);
    assert_true(testutil_check(p, 64, 9));
    assert_true(malloc_usable_size(p) >= 1000);
    free_fn(p);
}

static void test_calloc_zero_and_overflow(void **state)
{
    (void)state;
    errno = 0;
    assert_null(calloc_fn(SIZE_MAX / 2, 3));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(calloc_fn((size_t)1 << 33, (size_t)1 << 33));
    assert_int_equal(errno, ENOMEM);
    /* reuse a dirty block: calloc must zero it */
    for (int round = 0; round < 2; round++) {
        const size_t sizes[] = { 16, 200, 4096, 60000, 500000 };
        for (size_t i = 0; i < 5; i++) {
            unsigned char *d = malloc_fn(sizes[i]);
            memset(d, 0xee, sizes[i]);
            free_fn(d);
            unsigned char *z = calloc_fn(1, sizes[i]);
            assert_non_null(z);
            for (size_t k = 0; k < sizes[i]; k++)
                if (z[k])
                    fail_msg("calloc(%zu) byte %zu not zero", sizes[i], k);
            free_fn(z);
        }
    }
}

static void test_huge_fails_cleanly(void **state)
{
    (void)state;
    errno = 0;
    assert_null(malloc_fn(SIZE_MAX));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(malloc_fn((size_t)1 << 60));
    assert_int_equal(errno, ENOMEM);
    void *p = malloc_fn(10);
    errno = 0;
    assert_null(realloc_fn(p, SIZE_MAX - 100));
    assert_int_equal(errno, ENOMEM);
    free_fn(p);
}

static void test_usable_size(void **state)
{
    (void)state;
    assert_int_equal(malloc_usable_size(NULL), 0);
    for (size_t n = 1; n < 200000; n = n * 3 / 2 + 1) {
        unsigned char *p = malloc_fn(n);
        size_t u = malloc_usable_size(p);
        assert_true(u >= n);
        memset(p, 0x5a, u); /* all of it is the caller's */
        assert_int_equal(u, nslab_usable_size(p));
        free_fn(p);
    }
}

static void test_free_keeps_errno(void **state)
{
    (void)state;
    void *a = malloc_fn(10), *b = malloc_fn(1 << 20);
    errno = 4321;
    free_fn(a);
    free_fn(b);
    free_fn(NULL);
    assert_int_equal(errno, 4321);
}

/* ---- foreign pointers ------------------------------------------------- */

static char not_ours[256] __attribute__((aligned(64)));

static void test_foreign_pointers(void **state)
{
    (void)state;
    int on_stack[8];
    errno = 77;
    free_fn(not_ours + 64);
    free_fn(on_stack);
    assert_int_equal(errno, 77);
    assert_int_equal(malloc_usable_size(not_ours), 0);
    errno = 0;
    assert_null(realloc_fn(not_ours, 10));
    assert_int_equal(errno, ENOMEM);
}

/* Run this test binary as `--child name` with extra environment; returns the
 * exit status (or 128 + signal) and the child's stderr in err. */
struct child_args {
    const char *name;
    const char *const *env;
};

static int exec_child(void *p)
{
    const struct child_args *a = p;
    for (size_t i = 0; a->env && a->env[i]; i += 2)
        setenv(a->env[i], a->env[i + 1], 1);
    execl(self_exe, self_exe, "--child", a->name, (char *)NULL);
    return 127;
}

static int run_child(const char *name, const char *const *env, char *err, size_t errlen)
{
    struct child_args a = { name, env };
    int st = testutil_child(exec_child, &a, err, errlen);
    printf("child %s said:\n%s", name, err);
    return testutil_exit_code(st);
}

static void test_foreign_counted_in_stats(void **state)
{
    (void)state;
    char err[8192];
    const char *env[] = { "NUMASLAB_STATS", "1", NULL };
    assert_int_equal(run_child("foreign", env, err, sizeof err), 0);
    assert_non_null(strstr(err, "foreign_frees=3 foreign_reallocs=1 foreign_usable_size=1"));
    assert_non_null(strstr(err, "numaslab: malloc stats"));
    assert_non_null(strstr(err, "node "));
}

static void test_env_policy(void **state)
{
    (void)state;
    char err[8192], text[32];
    int node = nslab_local_node();
    const char *bind_env[] = { "NUMASLAB_POLICY", text, "NUMASLAB_VERBOSE", "1", NULL };
    snprintf(text, sizeof text, "bind:%d", node);
    assert_int_equal(run_child("bind", bind_env, err, sizeof err), 0);
    assert_non_null(strstr(err, "malloc replacement active"));
    assert_non_null(strstr(err, "policy=bind:"));

    const char *il_env[] = { "NUMASLAB_POLICY", "interleave:all", NULL };
    assert_int_equal(run_child("interleave", il_env, err, sizeof err), 0);

    /* invalid: one line, the default used, the program still runs */
    const char *bad_env[] = { "NUMASLAB_POLICY", "bind:999", NULL };
    assert_int_equal(run_child("bad", bad_env, err, sizeof err), 0);
    assert_non_null(strstr(err, "NUMASLAB_POLICY=\"bind:999\" is invalid"));
    int lines = 0;
    for (char *p = err; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 1);
}

/* ---- threads ---------------------------------------------------------- */

static volatile int stop_workers;

static void *alloc_worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    void *keep[64] = { 0 };
    size_t keep_n[64] = { 0 };
    while (!__atomic_load_n(&stop_workers, __ATOMIC_RELAXED)) {
        seed = seed * 1103515245u + 12345u;
        unsigned slot = (seed >> 8) % 64;
        size_t n = 16 + (seed >> 12) % ((seed & 0x100) ? 200000 : 2000);
        if (keep[slot]) {
            if (!testutil_check(keep[slot], keep_n[slot], slot))
                abort();
            free_fn(keep[slot]);
        }
        keep[slot] = malloc_fn(n);
        if (!keep[slot])
            abort();
        keep_n[slot] = n;
        testutil_fill(keep[slot], n, slot);
    }
    for (int i = 0; i < 64; i++)
        free_fn(keep[i]);
    return NULL;
}

static void *child_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        void *p = malloc_fn(16 + (size_t)i * 13);
        if (!p)
            abort();
        memset(p, 1, 16);
        free_fn(p);
    }
    return (void *)1;
}

static void test_fork_while_threads_allocate(void **state)
{
    (void)state;
    enum { WORKERS = 4, FORKS = 30 };
    pthread_t th[WORKERS];
    stop_workers = 0;
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, alloc_worker,
                                        (void *)(uintptr_t)(i * 7919 + 1)), 0);
    for (int f = 0; f < FORKS; f++) {
        usleep(2000);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            alarm(20); /* a deadlocked child dies of SIGALRM: the test fails */
            void *ptrs[500];
            for (int i = 0; i < 500; i++) {
                ptrs[i] = malloc_fn(8 + (size_t)i * 97);
                if (!ptrs[i])
                    _exit(3);
                testutil_fill(ptrs[i], 8, (unsigned)i);
            }
            for (int i = 0; i < 500; i++) {
                if (!testutil_check(ptrs[i], 8, (unsigned)i))
                    _exit(4);
                free_fn(ptrs[i]);
            }
            pthread_t t;
            void *ret = NULL;
            if (pthread_create(&t, NULL, child_thread, NULL) != 0 ||
                pthread_join(t, &ret) != 0 || ret != (void *)1)
                _exit(5);
            _exit(0);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("fork %d: child %s %d", f, WIFEXITED(st) ? "exited" : "killed by signal",
                     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    }
    __atomic_store_n(&stop_workers, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
}

static uint64_t in_use_now(void)
{
    uint64_t sum = 0;
    for (int n = 0; n < nslab_node_count(); n++) {
        nslab_arena_stats_t s = { .size = sizeof s, .version = NSLAB_STATS_VERSION };
        if (nslab_arena_stats(n, &s) == 0)
            sum += s.bytes_in_use;
    }
    return sum;
}

static void *churn_and_exit(void *arg)
{
    size_t n = (size_t)(uintptr_t)arg;
    void **p = malloc_fn(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = malloc_fn(16 + (i % 64) * 16);
    for (size_t i = 0; i < n; i++)
        free_fn(p[i]);
    free_fn(p);
    /* everything this thread freed sits in its cache now: exit must flush */
    return NULL;
}

static void test_thread_exit_flushes(void **state)
{
    (void)state;
    nslab_thread_flush();
    uint64_t before = in_use_now();
    for (int t = 0; t < 20; t++) {
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, churn_and_exit, (void *)(uintptr_t)3000), 0);
        assert_int_equal(pthread_join(th, NULL), 0);
    }
    nslab_thread_flush();
    uint64_t after = in_use_now();
    /* glibc's pthread bookkeeping may keep a block or two (the thread's DTV
     * is freed only when the next thread reuses the stack) */
    if (after > before + 4096)
        fail_msg("in use grew from %llu to %llu bytes: exited threads' caches leaked",
                 (unsigned long long)before, (unsigned long long)after);
    assert_int_equal(nslab_arena_audit(stderr), 0);
}

struct handoff {
    void **blocks;
    size_t n;
};

static void *free_elsewhere(void *arg)
{
    struct handoff *h = arg;
    for (size_t i = 0; i < h->n; i++) {
        if (!testutil_check(h->blocks[i], 32, (unsigned)i))
            abort();
        free_fn(h->blocks[i]);
    }
    return NULL;
}

static void test_free_on_another_thread(void **state)
{
    (void)state;
    struct handoff h = { .n = 20000 };
    h.blocks = malloc_fn(h.n * sizeof *h.blocks);
    for (size_t i = 0; i < h.n; i++) {
        h.blocks[i] = malloc_fn(32 + (i % 32) * 8);
        testutil_fill(h.blocks[i], 32, (unsigned)i);
    }
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, free_elsewhere, &h), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    free_fn(h.blocks);
    assert_int_equal(nslab_arena_audit(stderr), 0);
}

/* Everything in this process (the loader, libc, libnuma's constructor,
 * cmocka, threads, fork) went through numaslab: glibc's own heap was never
 * used.  Last, after every other test. */
static void test_glibc_heap_unused(void **state)
{
    (void)state;
    struct mallinfo2 mi = mallinfo2();
    printf("glibc heap: arena %zu, in use %zu, mmapped %zu (%zu blocks)\n", mi.arena,
           mi.uordblks, mi.hblkhd, mi.hblks);
    assert_int_equal(mi.arena, 0);
    assert_int_equal(mi.uordblks, 0);
    assert_int_equal(mi.hblks, 0);
    assert_int_equal(mi.hblkhd, 0);
}

/* ---- children ----------------------------------------------------------- */

static int child_main(const char *name)
{
    if (strcmp(name, "foreign") == 0) {
        int local;
        free_fn(not_ours);
        free_fn(not_ours + 16);
        free_fn(&local);
        if (realloc_fn(not_ours, 100) != NULL)
            return 2;
        if (malloc_usable_size(not_ours) != 0)
            return 3;
        return 0;
    }
    if (strcmp(name, "bind") == 0) {
        int want = atoi(getenv("NUMASLAB_POLICY") + 5);
        for (size_t n = 16; n < (4u << 20); n *= 2) {
            void *p = malloc_fn(n);
            if (!p || nslab_node_of(p) != want)
                return 2;
            free_fn(p);
        }
        return 0;
    }
    if (strcmp(name, "interleave") == 0) {
        /* large blocks are interleaved regions, small ones arena blocks */
        void *big = malloc_fn(4u << 20), *small = malloc_fn(100);
        if (!big || !small || nslab_region_of(big) == NULL || nslab_node_of(small) < 0)
            return 2;
        /* realloc across the threshold moves to a region, keeping content */
        unsigned char *g = malloc_fn(1000);
        testutil_fill(g, 1000, 5);
        g = realloc_fn(g, 1u << 20);
        if (!g || nslab_region_of(g) == NULL || !testutil_check(g, 1000, 5))
            return 3;
        free_fn(g);
        free_fn(big);
        free_fn(small);
        return 0;
    }
    if (strcmp(name, "bad") == 0) {
        void *p = malloc_fn(100);
        if (!p || !owned(p))
            return 2;
        free_fn(p);
        return 0;
    }
    return 99;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2]);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malloc_is_numaslab),
        cmocka_unit_test(test_family_all_owned),
        cmocka_unit_test(test_cross_free),
        cmocka_unit_test(test_zero_sizes),
        cmocka_unit_test(test_posix_memalign_rules),
        cmocka_unit_test(test_aligned_alloc_rules),
        cmocka_unit_test(test_memalign_valloc_pvalloc),
        cmocka_unit_test(test_realloc_grow_shrink),
        cmocka_unit_test(test_reallocarray_overflow),
        cmocka_unit_test(test_calloc_zero_and_overflow),
        cmocka_unit_test(test_huge_fails_cleanly),
        cmocka_unit_test(test_usable_size),
        cmocka_unit_test(test_free_keeps_errno),
        cmocka_unit_test(test_foreign_pointers),
        cmocka_unit_test(test_foreign_counted_in_stats),
        cmocka_unit_test(test_env_policy),
        cmocka_unit_test(test_fork_while_threads_allocate),
        cmocka_unit_test(test_thread_exit_flushes),
        cmocka_unit_test(test_free_on_another_thread),
        cmocka_unit_test(test_glibc_heap_unused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
