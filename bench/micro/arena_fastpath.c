/*
 * bench/micro/arena_fastpath.c - the arenas' cache-hit fast path, against
 * numaslab's own "local" entry and libnuma, measured side by side in one run.
 *
 * Each loop does N pairs of "allocate 64 bytes, free them" on one thread,
 * so after the first pair every allocation and free is a thread-cache hit:
 *   on       numa_malloc_on(node, 64) + nslab_free (node: the first node
 *            with memory)
 *   local    numa_malloc_local(64) + nslab_free
 *   libnuma  numa_alloc_onnode(64, node) + numa_free(p, 64) (an mmap, an
 *            mbind and a munmap per pair: run with N / 1000 pairs)
 *   empty    the loop alone (its overhead, for the callgrind counts)
 * Rounds interleave the loops (the order rotates every round) so drift on a
 * shared machine hits all alike; the median round is reported in ns per
 * pair, with the ratios local/on and libnuma/on.
 *
 LIVE blocks of the same size stay allocated around the loops (for every
 * allocator: a page holding only the one block would be retired and
 * re-initialised on every free by mimalloc 2.0, which is not its fast path).
 *
 * With --callgrind LOOP N only that loop runs (after a warm-up of 1000
 * pairs); count its instructions with
 *   valgrind --tool=callgrind --toggle-collect=loop_on --callgrind-out-file=/dev/null \
 *            arena_fastpath --callgrind on 1000000
 * (loop_local, loop_empty, ...) and divide "Collected" by N (+1000 for the
 * warm-up, which runs inside the same function: negligible).
 * bench/micro/arena_peer.c is the same loop for mimalloc, jemalloc and glibc
 * (one binary each: they replace malloc).
 *
 * Plain C, not part of CTest.  Build (repository root, configured build
 * folder B):
 *   cmake --build B --target numaslab_static
 *   cc -O2 -D_GNU_SOURCE -Iinclude bench/micro/arena_fastpath.c \
 *      B/libnumaslab.a -lnuma -lpthread -o /tmp/arena_fastpath
 *   /tmp/arena_fastpath [pairs-per-round] [rounds]
 */
#include <numaslab.h>

#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIZE 64
#define LIVE 100

static int node;

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

#define ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")

__attribute__((noinline)) static void loop_on(long n)
{
    for (long i = 0; i < n; i++) {
        void *p = numa_malloc_on(node, SIZE);
        ESCAPE(p);
        nslab_free(p);
    }
}

__attribute__((noinline)) static void loop_local(long n)
{
    for (long i = 0; i < n; i++) {
        void *p = numa_malloc_local(SIZE);
        ESCAPE(p);
        nslab_free(p);
    }
}

__attribute__((noinline)) static void loop_libnuma(long n)
{
    for (long i = 0; i < n; i++) {
        void *p = numa_alloc_onnode(SIZE, node);
        ESCAPE(p);
        numa_free(p, SIZE);
    }
}

__attribute__((noinline)) static void loop_empty(long n)
{
    for (long i = 0; i < n; i++) {
        void *p = (void *)(uintptr_t)i;
        ESCAPE(p);
    }
}

struct loop {
    const char *name;
    void (*fn)(long);
    long div; /* pairs per round / div */
};

static const struct loop loops[] = {
    { "on", loop_on, 1 },
    { "local", loop_local, 1 },
    { "libnuma", loop_libnuma, 1000 },
    { "empty", loop_empty, 1 },
};
#define NLOOPS (sizeof loops / sizeof loops[0])

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    nslab_nodeset_t mem;
    if (nslab_nodes(NSLAB_NODES_ALLOWED, &mem) < 1 || numa_available() < 0) {
        fprintf(stderr, "arena_fastpath: no NUMA node with memory\n");
        return 1;
    }
    node = nslab_nodeset_next(&mem, 0);
    /* warm: the thread cache exists and its bin holds a block */
    static void *live[LIVE];
    for (int i = 0; i < LIVE; i++)
        live[i] = numa_malloc_on(node, SIZE);
    nslab_free(numa_malloc_on(node, SIZE));
    nslab_free(numa_malloc_local(SIZE));

    if (argc == 4 && strcmp(argv[1], "--callgrind") == 0) {
        long n = atol(argv[3]);
        for (unsigned i = 0; i < NLOOPS; i++) {
            if (strcmp(argv[2], loops[i].name) != 0)
                continue;
            loops[i].fn(1000); /* warm */
            loops[i].fn(n);
            return 0;
        }
        fprintf(stderr, "arena_fastpath: unknown loop %s\n", argv[2]);
        return 2;
    }

    long pairs = argc > 1 ? atol(argv[1]) : 2000000;
    int rounds = argc > 2 ? atoi(argv[2]) : 11;
    if (pairs < 1000 || rounds < 1 || rounds > 99) {
        fprintf(stderr, "usage: arena_fastpath [pairs-per-round >= 1000] [rounds 1..99]\n");
        return 2;
    }
    double ns[NLOOPS][99];
    for (int r = 0; r < rounds; r++) {
        for (unsigned k = 0; k < NLOOPS; k++) {
            unsigned i = (k + (unsigned)r) % NLOOPS;
            long n = pairs / loops[i].div;
            double t0 = now_ns();
            loops[i].fn(n);
            ns[i][r] = (now_ns() - t0) / (double)n;
        }
    }
    double med[NLOOPS];
    printf("arena_fastpath: node %d, %d-byte blocks, %d rounds of %ld pairs "
           "(libnuma: %ld), median ns per alloc+free pair\n",
           node, SIZE, rounds, pairs, pairs / 1000);
    for (unsigned i = 0; i < NLOOPS; i++) {
        qsort(ns[i], (size_t)rounds, sizeof(double), cmp_double);
        med[i] = ns[i][rounds / 2];
        printf("  %-8s %10.2f ns  (min %.2f, max %.2f)\n", loops[i].name, med[i], ns[i][0],
               ns[i][rounds - 1]);
    }
    printf("  local / on   = %.3f   (target <= 1.2)\n", med[1] / med[0]);
    printf("  libnuma / on = %.0f   (target >= 100)\n", med[2] / med[0]);
    for (int i = 0; i < LIVE; i++)
        nslab_free(live[i]);
    return 0;
}
