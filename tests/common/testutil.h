/*
 * tests/common/testutil.h - helpers shared by the cmocka tests.
 * Tests must run unchanged on the one-node build machine and inside the
 * multi-node VM: what a machine cannot show is skipped visibly, with a reason.
 */
#ifndef NSLAB_TESTUTIL_H
#define NSLAB_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>
#include <cmocka.h>

#include "numaslab.h"

/* Print "SKIP <test>: <reason>" to stdout and skip the current test. */
#define TEST_SKIP(...)                                                   \
    do {                                                                 \
        testutil_skip_msg(__func__, __VA_ARGS__);                        \
        skip();                                                          \
        return;                                                          \
    } while (0)
void testutil_skip_msg(const char *test, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Number of online nodes with memory that the cpuset allows. */
int testutil_memory_nodes(nslab_nodeset_t *out);

/* The k-th (0-based) allowed node with memory, or -1 if there are fewer. */
int testutil_memory_node(int k);

/* Write a pattern that depends on `seed` and the offset into [p, p+n);
 * testutil_check: 1 if it is still there, else 0. */
void testutil_fill(void *p, size_t n, unsigned seed);
int testutil_check(const void *p, size_t n, unsigned seed);

/* Pages of [p, p+len) per node, via move_pages(nodes=NULL) called directly
 * (not through the library), so tests do not trust the code they test.
 * Returns the count of pages on `node`; *total gets the pages examined. */
size_t testutil_pages_on(const void *p, size_t len, int node, size_t *total);

/* The node of the page holding p (move_pages called directly): the node,
 * or the page's negative status (-ENOENT: not present), or -1000 if the
 * call itself failed. */
int testutil_page_node(const void *p);

/* Assert every page of [p, p+len) is on `node`. */
#define assert_all_on_node(p, len, node)                                 \
    do {                                                                 \
        size_t total_;                                                   \
        size_t on_ = testutil_pages_on((p), (len), (node), &total_);     \
        assert_int_equal(on_, total_);                                   \
    } while (0)

/* The node the page at p is bound to: get_mempolicy(MPOL_F_ADDR) called
 * directly; the node when the page's policy is MPOL_BIND to exactly one
 * node, else -1.  (Says where the page will land when first touched.) */
int testutil_bound_node(const void *p);

/* Assert the pages of [p, p+len) that are present lie on `node` and
 * return how many are present (mincore + move_pages). */
size_t testutil_present_on(const void *p, size_t len, int node);

/* 1 when transparent huge pages are "always" (the kernel then commits a
 * PMD-sized page at a first touch of an aligned range), else 0; read from
 * sysfs by the test itself. */
int testutil_thp_always(void);

/* Resident pages of [p, p+len) via mincore(2). */
size_t testutil_resident_pages(const void *p, size_t len);

/* Run fn(arg) in a forked child whose stderr (fd 2) goes into a pipe, with
 * core dumps off; the child _exits with fn's return.  err gets what the
 * child wrote on stderr (NUL-terminated, at most len - 1 bytes, the rest
 * read and dropped).  Returns the child's waitpid(2) status; decode it with
 * testutil_exit_code / WIFSIGNALED. */
int testutil_child(int (*fn)(void *), void *arg, char *err, size_t len);

/* testutil_child running execv(path, argv) (argv NULL-terminated). */
int testutil_child_exec(const char *path, char *const argv[], char *err, size_t len);

/* A wait status as one number: the exit code, or 128 + the signal. */
int testutil_exit_code(int status);

/* After a fork made while thread t held a lock (t waits on bar, a barrier of
 * 2, before letting go): wait for the child pid, cancel the alarm, release
 * and join t, destroy bar, and assert the child exited 0. */
void testutil_reap_holder(pid_t pid, pthread_barrier_t *bar, pthread_t t);

/* Pool options {elt, count, max} and a pool's stats (asserted to succeed). */
nslab_pool_opts_t testutil_pool_opts(size_t elt, size_t count, size_t max);
nslab_pool_stats_t testutil_pool_stats(const nslab_pool_t *p);

/* The slab shape the size classes document (arena/sizeclass.h), as a
 * program sees it from outside: 64 KiB slab pages; a class of blocks up to
 * 8 KiB takes one, a larger one the fewest that hold 8 blocks; capacity =
 * testutil_slab_bytes(size) / size. */
#define TESTUTIL_SLAB_PAGE ((uintptr_t)64 << 10)
size_t testutil_slab_bytes(size_t size);

/* qsort comparator of pointers by address. */
int testutil_cmp_ptr(const void *x, const void *y);

/* nslab_topology_print's report as a malloc'ed string (asserted to
 * succeed); free() it. */
char *testutil_topology_text(void);

/* Scale a loop count down under sanitizers / valgrind (NUMASLAB_TEST_SCALE). */
size_t testutil_scale(size_t n);

#endif
