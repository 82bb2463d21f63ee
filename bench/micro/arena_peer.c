/*
 * bench/micro/arena_peer.c - the loop of arena_fastpath.c (64-byte alloc +
 * free pairs, cache hits after the first) for a peer allocator, for
 * instruction counts under callgrind and a timing beside numaslab's.  One
 * binary per peer, since jemalloc replaces malloc:
 *   -DPEER_MIMALLOC  mi_malloc / mi_free            (-lmimalloc)
 *   -DPEER_JEMALLOC  malloc / free (Debian's libjemalloc replaces them;
 *                    also mallocx / dallocx as "jemallocx")  (-ljemalloc)
 *   -DPEER_GLIBC     malloc / free
 * Build and run (repository root):
 *   cc -O2 -DPEER_MIMALLOC bench/micro/arena_peer.c -lmimalloc -o /tmp/peer_mimalloc
 *   cc -O2 -DPEER_JEMALLOC bench/micro/arena_peer.c -ljemalloc -o /tmp/peer_jemalloc
 *   cc -O2 -DPEER_GLIBC bench/micro/arena_peer.c -o /tmp/peer_glibc
 *   /tmp/peer_mimalloc                 # median ns per pair
 *   valgrind --tool=callgrind --toggle-collect=loop_peer --callgrind-out-file=/dev/null \
 *            /tmp/peer_mimalloc --callgrind 1000000
 * "Collected" / N = instructions per pair (loop included, as for numaslab;
 * loop_peer_x for jemalloc's mallocx/dallocx: add "x" as the last argument).
 * As in arena_fastpath.c, LIVE blocks of the size stay allocated around the
 * loop.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(PEER_MIMALLOC)
#include <mimalloc.h>
#define PEER_NAME "mimalloc"
#define PEER_ALLOC(n) mi_malloc(n)
#define PEER_FREE(p) mi_free(p)
#elif defined(PEER_JEMALLOC)
#include <jemalloc/jemalloc.h>
#define PEER_NAME "jemalloc"
#define PEER_ALLOC(n) malloc(n)
#define PEER_FREE(p) free(p)
#define PEER_HAS_X 1
#elif defined(PEER_GLIBC)
#define PEER_NAME "glibc"
#define PEER_ALLOC(n) malloc(n)
#define PEER_FREE(p) free(p)
#else
#error "define PEER_MIMALLOC, PEER_JEMALLOC or PEER_GLIBC"
#endif

#define SIZE 64
#define LIVE 100
#define ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")

static size_t size = SIZE; /* not a constant: no size-specialised inlining */

__attribute__((noinline)) static void loop_peer(long n)
{
    for (long i = 0; i < n; i++) {
        void *p = PEER_ALLOC(size);
        ESCAPE(p);
        PEER_FREE(p);
    }
}

#ifdef PEER_HAS_X
__attribute__((noinline)) static void loop_peer_x(long n)
{
    for (long i = 0; i < n; i++) {
        void *p = mallocx(size, 0);
        ESCAPE(p);
        dallocx(p, 0);
    }
}
#endif

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    void (*fn)(long) = loop_peer;
#ifdef PEER_HAS_X
    if (argc > 1 && strcmp(argv[argc - 1], "x") == 0) {
        fn = loop_peer_x;
        argc--;
    }
#endif
    static void *live[LIVE];
    for (int i = 0; i < LIVE; i++)
        live[i] = PEER_ALLOC(size);
    fn(1000); /* warm */
    if (argc == 3 && strcmp(argv[1], "--callgrind") == 0) {
        long n = atol(argv[2]);
        fn(n);
        return 0;
    }
    long pairs = argc > 1 ? atol(argv[1]) : 2000000;
    int rounds = 11;
    double ns[11];
    for (int r = 0; r < rounds; r++) {
        double t0 = now_ns();
        fn(pairs);
        ns[r] = (now_ns() - t0) / (double)pairs;
    }
    qsort(ns, (size_t)rounds, sizeof(double), cmp_double);
    printf("%s%s: %.2f ns per %d-byte alloc+free pair (median of %d rounds of %ld)\n", PEER_NAME,
           fn == loop_peer ? "" : " (mallocx/dallocx)", ns[rounds / 2], SIZE, rounds, pairs);
    return 0;
}
