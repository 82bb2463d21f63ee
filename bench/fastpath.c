/*
 * bench/fastpath.c - the fast-path loops whose instructions callgrind
 * counts, linked once per allocator (fastpath-<allocator>) with the same
 * shim as the google-benchmark suite.
 *
 * Usage: valgrind --tool=callgrind --collect-atstart=no fastpath-X [N]
 * Each loop runs N/10 warm-up pairs uncounted, then N counted pairs between
 * two CALLGRIND_TOGGLE_COLLECT client requests, and dumps the counts with
 * CALLGRIND_DUMP_STATS_AT("<loop>"), so each dump holds exactly one loop's
 * instructions (refills and flushes included, amortised over N).
 * Every loop runs with KEEP blocks of its size live.
 * Loops:
 *   empty     two calls to empty out-of-line functions: the loop + call
 *             overhead included in every other figure
 *   malloc64  ba_alloc(64) + ba_free                      (BA_MALLOC)
 *   node64    ba_alloc_on_node(N, 64) + ba_free_on_node   (BA_NODE; N =
 *             the first node with memory, node 0 on most machines)
 *   pool      ba_pool_get + ba_pool_put, 256 B buffers    (BA_POOL)
 * Without valgrind the client requests are no-ops; stdout lists the loops
 * run ("loop NAME N").
 */
#include <stdio.h>
#include <stdlib.h>

#include <valgrind/callgrind.h>

#include "shim.h"
#include "shim_util.h"

#define NOINLINE __attribute__((noinline))

NOINLINE static void *empty_get(size_t n)
{
    void *p = (void *)n;
    __asm__ volatile("" : "+r"(p));
    return p;
}

NOINLINE static void empty_put(void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

NOINLINE static void loop_empty(long n)
{
    for (long i = 0; i < n; i++)
        empty_put(empty_get(64));
}

/* Blocks kept live around each loop, so that the loop's
 * block never leaves its page (or slab) empty: with a single live block
 * some allocators (mimalloc) retire the page on every free, which no real
 * program sees.  Same for every allocator. */
#define KEEP 16

NOINLINE static void loop_malloc64(long n)
{
    for (long i = 0; i < n; i++) {
        void *p = ba_alloc(64);
        __asm__ volatile("" : "+r"(p));
        ba_free(p);
    }
}

static int g_node; /* the first node with memory */

NOINLINE static void loop_node64(long n)
{
    for (long i = 0; i < n; i++) {
        void *p = ba_alloc_on_node(g_node, 64);
        __asm__ volatile("" : "+r"(p));
        ba_free_on_node(p, 64, g_node);
    }
}

static void *g_pool;

NOINLINE static void loop_pool(long n)
{
    for (long i = 0; i < n; i++) {
        void *b = ba_pool_get(g_pool);
        __asm__ volatile("" : "+r"(b));
        ba_pool_put(g_pool, b);
    }
}

static void measure(const char *name, void (*loop)(long), long n)
{
    loop(n / 10 + 1);
    CALLGRIND_TOGGLE_COLLECT;
    loop(n);
    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_DUMP_STATS_AT(name);
    printf("loop %s %ld\n", name, n);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    if (n <= 0)
        n = 100000;
    int rc = ba_init();
    if (rc < 0) {
        fprintf(stderr, "%s: init failed: %s\n", ba_name(), ba_note());
        return 1;
    }
    unsigned caps = ba_caps();
    const unsigned long *mem = bu_memory_nodes();
    for (int i = 0; i < BU_MAX_NODES; i++)
        if ((mem[i / (8 * sizeof(unsigned long))] >> (i % (8 * sizeof(unsigned long)))) & 1) {
            g_node = i;
            break;
        }
    measure("empty", loop_empty, n);
    if (caps & BA_MALLOC) {
        void *keep[KEEP];
        for (int i = 0; i < KEEP; i++)
            keep[i] = ba_alloc(64);
        measure("malloc64", loop_malloc64, n);
        for (int i = 0; i < KEEP; i++)
            ba_free(keep[i]);
    }
    if (caps & BA_NODE) {
        void *keep[KEEP];
        for (int i = 0; i < KEEP; i++)
            keep[i] = ba_alloc_on_node(g_node, 64);
        /* libnuma maps a page per call: fewer pairs keep valgrind quick. */
        measure("node64", loop_node64, n / 10);
        for (int i = 0; i < KEEP; i++)
            ba_free_on_node(keep[i], 64, g_node);
    }
    if (caps & BA_POOL) {
        g_pool = ba_pool_create(256, 4096);
        if (!g_pool) {
            fprintf(stderr, "%s: pool create failed\n", ba_name());
            return 1;
        }
        void *keep[KEEP];
        for (int i = 0; i < KEEP; i++)
            keep[i] = ba_pool_get(g_pool);
        measure("pool", loop_pool, n);
        for (int i = 0; i < KEEP; i++)
            ba_pool_put(g_pool, keep[i]);
        ba_pool_destroy(g_pool);
    }
    return 0;
}
