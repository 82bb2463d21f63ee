/*
 * bench/micro/region_populate.c - region creation throughput with populate:
 * nslab_region_create(bind(node), populate) against the raw sequence a
 * caller would write by hand (mmap + mbind(MPOL_BIND) +
 * madvise(MADV_POPULATE_WRITE)), measured side by side in one run.
 *
 * For each size, A (numaslab) and B (raw) alternate, the order flipping
 * every round, so drift (THP compaction, page cache, other load) hits both
 * alike.  Only creation is timed (map + policy + capacity check + populate
 * + header); destruction is done untimed.  Reported: median time per
 * creation, throughput, and the ratio numaslab / raw (1.00 = same cost).
 *
 * Plain C, not part of CTest.  Build and run (from the repository root,
 * with a configured build folder B):
 *   cmake --build B --target numaslab_static
 *   cc -O2 -D_GNU_SOURCE -Iinclude bench/micro/region_populate.c \
 *      B/libnumaslab.a -lpthread -o /tmp/region_populate
 *   /tmp/region_populate [node] [rounds]
 */
#include <numaslab.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define MPOL_BIND_ 2
#define MiB ((size_t)1 << 20)

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

/* A: the library. */
static double run_lib(size_t size, int node)
{
    nslab_policy_t pol = nslab_policy_bind(node);
    nslab_region_opts_t o = {.prefault = NSLAB_PREFAULT_POPULATE};
    double t0 = now();
    nslab_region_t *r = nslab_region_create(size, &pol, &o);
    double t = now() - t0;
    if (!r) {
        fprintf(stderr, "nslab_region_create(%zu MiB): %s\n", size >> 20, strerror(errno));
        exit(1);
    }
    ((volatile char *)nslab_region_addr(r))[0] = 1;
    nslab_region_destroy(r);
    return t;
}

/* B: by hand. */
static double run_raw(size_t size, int node)
{
    unsigned long mask[16] = {0};
    mask[node / 64] = 1ul << (node % 64);
    double t0 = now();
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || syscall(SYS_mbind, p, size, MPOL_BIND_, mask, 1025ul, 0) != 0 ||
        madvise(p, size, MADV_POPULATE_WRITE) != 0) {
        fprintf(stderr, "raw mmap/mbind/populate(%zu MiB): %s\n", size >> 20, strerror(errno));
        exit(1);
    }
    double t = now() - t0;
    ((volatile char *)p)[0] = 1;
    munmap(p, size);
    return t;
}

int main(int argc, char **argv)
{
    int node = argc > 1 ? atoi(argv[1]) : 0;
    int rounds_scale = argc > 2 ? atoi(argv[2]) : 1;
    static const struct {
        size_t mib;
        int rounds;
    } sizes[] = {{2, 400}, {64, 30}, {256, 10}};

    if (nslab_init() != 0) {
        fprintf(stderr, "nslab_init failed\n");
        return 1;
    }
    printf("region creation with populate, bound to node %d (median of interleaved rounds)\n",
           node);
    printf("%8s %6s %14s %14s %12s %12s %8s\n", "size", "rounds", "numaslab us", "raw us",
           "numaslab GB/s", "raw GB/s", "ratio");
    for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t size = sizes[s].mib * MiB;
        int rounds = sizes[s].rounds * (rounds_scale > 0 ? rounds_scale : 1);
        double *a = calloc((size_t)rounds, sizeof *a), *b = calloc((size_t)rounds, sizeof *b);
        run_lib(size, node); /* warm both paths once */
        run_raw(size, node);
        for (int i = 0; i < rounds; i++) {
            if (i & 1) {
                b[i] = run_raw(size, node);
                a[i] = run_lib(size, node);
            } else {
                a[i] = run_lib(size, node);
                b[i] = run_raw(size, node);
            }
        }
        qsort(a, (size_t)rounds, sizeof *a, cmp);
        qsort(b, (size_t)rounds, sizeof *b, cmp);
        double ma = a[rounds / 2], mb = b[rounds / 2];
        printf("%5zu MiB %6d %14.1f %14.1f %12.2f %12.2f %8.3f\n", sizes[s].mib, rounds,
               ma * 1e6, mb * 1e6, (double)size / ma / 1e9, (double)size / mb / 1e9, ma / mb);
        free(a);
        free(b);
    }
    return 0;
}
