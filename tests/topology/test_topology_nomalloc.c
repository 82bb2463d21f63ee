/*
 * tests/topology/test_topology_nomalloc.c - topology code never allocates:
 * this program replaces malloc and friends (forwarding to glibc's
 * __libc_* entry points) and counts every call made while a library call
 * is in progress, including calls libc itself would make on our behalf.
 * Covered: first discovery, reload (real and fake trees), the public
 * queries, nodeset text, the current node.  (nslab_topology_print may let
 * stdio allocate the caller's FILE buffer, so it is not counted.)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakesys.h"
#include "testutil.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static volatile int counting; /* volatile: read by malloc() called back from other code */
static volatile int allocations;

void *malloc(size_t n)
{
    allocations += counting;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    allocations += counting;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    allocations += counting;
    return __libc_realloc(p, n);
}
void free(void *p)
{
    allocations += counting && p;
    __libc_free(p);
}
void *memalign(size_t a, size_t n)
{
    allocations += counting;
    return __libc_memalign(a, n);
}
void *aligned_alloc(size_t a, size_t n)
{
    allocations += counting;
    return __libc_memalign(a, n);
}
int posix_memalign(void **out, size_t a, size_t n)
{
    allocations += counting;
    void *p = __libc_memalign(a, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

#define NO_ALLOC(expr)                                                   \
    do {                                                                 \
        allocations = 0;                                                 \
        counting = 1;                                                    \
        expr;                                                            \
        counting = 0;                                                    \
        if (allocations)                                                 \
            fail_msg("%s allocated %d times", #expr, allocations);      \
    } while (0)

/* The counter sees allocations libc makes for us (so it can fail). */
static void test_counter_works(void **state)
{
    char *p = NULL;
    allocations = 0;
    counting = 1;
    p = strdup("x");
    counting = 0;
    assert_true(allocations >= 1);
    free(p);
}

static void test_first_discovery(void **state)
{
    const struct topology *t = NULL;
    NO_ALLOC(t = topology_get());
    assert_non_null(t);
    assert_int_equal(topology_error(), 0);
}

static void test_queries(void **state)
{
    int r = 0;
    nslab_nodeset_t s;
    nslab_node_info_t info;
    char buf[256];
    int cpus[64];

    NO_ALLOC(r = nslab_init());
    assert_int_equal(r, 0);
    NO_ALLOC(r = nslab_topology_refresh());
    assert_int_equal(r, 0);
    NO_ALLOC(r = nslab_node_count());
    assert_true(r >= 1);
    NO_ALLOC(r = nslab_nodes(NSLAB_NODES_ALLOWED, &s));
    assert_true(r >= 1);
    NO_ALLOC(r = nslab_node_info(nslab_nodeset_next(&s, 0), &info));
    assert_int_equal(r, 0);
    NO_ALLOC(r = nslab_node_of_cpu(0));
    NO_ALLOC(r = nslab_node_cpus(0, cpus, 64));
    NO_ALLOC(r = nslab_node_distance(0, 0));
    NO_ALLOC(r = nslab_current_node());
    NO_ALLOC(r = nslab_local_node());
    NO_ALLOC(r = nslab_nodeset_parse("0-3,64,1000-1023", &s));
    assert_int_equal(r, 0);
    NO_ALLOC(r = nslab_nodeset_parse("all", &s));
    NO_ALLOC(r = nslab_nodeset_format(&s, buf, sizeof buf));
    NO_ALLOC(r = nslab_nodeset_parse("bad", &s));
    assert_int_equal(r, -EINVAL);
    NO_ALLOC(r = (int)topology_node_free(0));
    NO_ALLOC(r = topology_check_node(topology_get(), 0));
    (void)r;
}

static void test_fake_tree(void **state)
{
    struct fakesys f;
    struct topology *t = fakesys_topology();
    int r = -1;
    fakesys_begin(&f, "0-127", "0-1,64,127");
    fakesys_node(&f, 0, "0-3", "10 16 32 40", 262144, 1024);
    fakesys_node(&f, 1, "4-7", "16 10 32 40", 262144, 2048);
    fakesys_node(&f, 64, "", "33 34 10 20", 0, 0);
    fakesys_node(&f, 127, "", "41 42 21 10", 1048576, 8192);
    f.mems_allowed = "0-1";
    f.cpus_allowed = "0-7";
    fakesys_end(&f);
    NO_ALLOC(r = topology_discover(t, &f.src));
    assert_int_equal(r, 0);
    NO_ALLOC(r = topology_reload(&f.src));
    assert_int_equal(r, 0);
    NO_ALLOC(r = nslab_node_count());
    assert_int_equal(r, 128);
    NO_ALLOC(r = topology_reload(NULL));
    assert_int_equal(r, 0);
    free(t);
    fakesys_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_discovery),
        cmocka_unit_test(test_counter_works),
        cmocka_unit_test(test_queries),
        cmocka_unit_test(test_fake_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
