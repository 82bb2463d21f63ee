/*
 * bench/micro/pool_fastpath.c - the pool's cache-hit fast path against its
 * floor and its peers, measured side by side in one run.
 *
 * Each loop does N pairs of "take one 256-byte buffer, give it back" on one
 * thread, so after the first pair every get and put is a cache hit:
 *   stack      a bare per-thread array stack, pop + push, in out-of-line
 *              functions (a library call's cost, no checks): the floor
 *   stack-inl  the same stack inlined into the loop (no call at all)
 *   pool       nslab_pool_get(p) + nslab_pool_put(p, b)
 *   pool-null  nslab_pool_get(p) + nslab_pool_put(NULL, b) (owner found
 *              from the pointer, as nslab_free forwards)
 *   poolset    nslab_poolset_get(s) + nslab_pool_put(NULL, b)
 *   malloc     glibc malloc(256) + free
 *   numaslab   numa_malloc_local(256) + nslab_free (numaslab's arenas)
 * Rounds interleave the loops (the order rotates every round) so drift on a
 * shared machine hits all alike; the median round and the 10th percentile
 * (the least disturbed rounds) are reported, in ns per get+put pair, with
 * ratios to the stack and to the pool.
 *
 * With --callgrind LOOP N only that loop runs, between callgrind client
 * requests: run it under
 *   valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=/dev/null \
 *            pool_fastpath --callgrind pool 1000000
 * and divide the "Collected" instructions by N (the loop counts itself: the
 * "empty" loop measures that overhead).
 *
 * Plain C, not part of CTest.  Build (repository root, configured build
 * folder B):
 *   cmake --build B --target numaslab_static
 *   cc -O2 -D_GNU_SOURCE -Iinclude bench/micro/pool_fastpath.c \
 *      B/libnumaslab.a -lpthread -o /tmp/pool_fastpath
 *   /tmp/pool_fastpath [pairs-per-round] [rounds]
 */
#include <numaslab.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_TOGGLE_COLLECT
#endif

#define SIZE 256
#define NOINLINE __attribute__((noinline))
#define KEEP(x) __asm__ volatile("" : "+r"(x))

static nslab_pool_t *pool;
static nslab_poolset_t *set;

/* The floor: a per-thread array stack of pre-made buffers. */
static __thread void *stack_items[1024];
static __thread unsigned stack_len;

NOINLINE static void *stack_pop(void)
{
    return stack_len ? stack_items[--stack_len] : NULL;
}

NOINLINE static int stack_push(void *b)
{
    if (stack_len == 1024)
        return -1;
    stack_items[stack_len++] = b;
    return 0;
}

NOINLINE static void loop_empty(long n)
{
    for (long i = 0; i < n; i++) {
        void *b = (void *)i;
        KEEP(b);
    }
}

NOINLINE static void loop_stack(long n)
{
    for (long i = 0; i < n; i++) {
        void *b = stack_pop();
        KEEP(b);
        stack_push(b);
    }
}

NOINLINE static void loop_stack_inl(long n)
{
    for (long i = 0; i < n; i++) {
        void *b = stack_len ? stack_items[--stack_len] : NULL;
        KEEP(b);
        if (stack_len < 1024)
            stack_items[stack_len++] = b;
    }
}

NOINLINE static void loop_pool(long n)
{
    for (long i = 0; i < n; i++) {
        void *b = nslab_pool_get(pool);
        KEEP(b);
        nslab_pool_put(pool, b);
    }
}

NOINLINE static void loop_pool_null(long n)
{
    for (long i = 0; i < n; i++) {
        void *b = nslab_pool_get(pool);
        KEEP(b);
        nslab_pool_put(NULL, b);
    }
}

NOINLINE static void loop_poolset(long n)
{
    for (long i = 0; i < n; i++) {
        void *b = nslab_poolset_get(set);
        KEEP(b);
        nslab_pool_put(NULL, b);
    }
}

NOINLINE static void loop_malloc(long n)
{
    for (long i = 0; i < n; i++) {
        void *b = malloc(SIZE);
        KEEP(b);
        free(b);
    }
}

NOINLINE static void loop_numaslab(long n)
{
    for (long i = 0; i < n; i++) {
        void *b = numa_malloc_local(SIZE);
        KEEP(b);
        nslab_free(b);
    }
}

static const struct {
    const char *name;
    void (*loop)(long);
} loops[] = {
    {"stack", loop_stack},       {"stack-inl", loop_stack_inl}, {"pool", loop_pool},
    {"pool-null", loop_pool_null}, {"poolset", loop_poolset},   {"malloc", loop_malloc},
    {"numaslab", loop_numaslab}, {"empty", loop_empty},
};
#define NLOOPS (sizeof loops / sizeof loops[0])

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void setup(void)
{
    static char mem[64 * SIZE] __attribute__((aligned(64)));
    for (int i = 0; i < 64; i++)
        stack_items[stack_len++] = mem + i * SIZE;
    nslab_pool_opts_t o = { .elt_size = SIZE, .count = 4096 };
    pool = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    set = nslab_poolset_create(&o);
    if (!pool || !set) {
        fprintf(stderr, "pool_fastpath: pool: %s\n", strerror(errno));
        exit(2);
    }
    void *b = numa_malloc_local(SIZE);
    if (!b) {
        fprintf(stderr, "pool_fastpath: numa_malloc_local: %s\n", strerror(errno));
        exit(2);
    }
    nslab_free(b);
}

int main(int argc, char **argv)
{
    setup();
    if (argc > 1 && strcmp(argv[1], "--callgrind") == 0) {
        long n = argc > 3 ? atol(argv[3]) : 1000000;
        for (unsigned i = 0; i < NLOOPS; i++) {
            if (argc > 2 && strcmp(argv[2], loops[i].name) != 0)
                continue;
            loops[i].loop(n / 10 + 1); /* warm: caches filled, first refill done */
            CALLGRIND_TOGGLE_COLLECT;
            loops[i].loop(n);
            CALLGRIND_TOGGLE_COLLECT;
            printf("loop %s %ld\n", loops[i].name, n);
        }
        return 0;
    }

    long n = argc > 1 ? atol(argv[1]) : 200000;
    int rounds = argc > 2 ? atoi(argv[2]) : 101;
    static double t[NLOOPS][101];
    if (rounds < 1 || rounds > 101 || n < 1)
        return 2;
    for (unsigned i = 0; i < NLOOPS; i++)
        loops[i].loop(n / 10 + 1);
    for (int r = 0; r < rounds; r++) {
        for (unsigned k = 0; k < NLOOPS; k++) {
            unsigned i = (k + (unsigned)r) % NLOOPS;
            double t0 = now();
            loops[i].loop(n);
            t[i][r] = (now() - t0) * 1e9 / (double)n;
        }
    }
    double med[NLOOPS];
    for (unsigned i = 0; i < NLOOPS; i++) {
        qsort(t[i], (size_t)rounds, sizeof(double), cmp);
        med[i] = t[i][rounds / 2];
    }
    printf("%ld pairs x %d rounds, %d-byte buffers, ns per get+put pair (median; the\n"
           "10th percentile of rounds, least disturbed by other load, in brackets):\n",
           n, rounds, SIZE);
    printf("  %-10s %8s %10s %10s %8s %10s %10s\n", "loop", "median", "vs stack", "vs pool",
           "[p10]", "vs stack", "vs pool");
    int p10 = rounds / 10;
    for (unsigned i = 0; i < NLOOPS; i++)
        printf("  %-10s %8.2f %9.2fx %9.2fx %8.2f %9.2fx %9.2fx\n", loops[i].name, med[i],
               med[i] / med[0], med[i] / med[2], t[i][p10], t[i][p10] / t[0][p10],
               t[i][p10] / t[2][p10]);
    printf("targets: pool <= 2x stack: %s; pool faster than malloc: %s; than numaslab: %s\n",
           med[2] <= 2 * med[0] ? "yes" : "NO", med[2] < med[5] ? "yes" : "NO",
           med[2] < med[6] ? "yes" : "NO");
    return 0;
}
