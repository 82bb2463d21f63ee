/*
 * examples/demo-compare.c - demo section "compare": a short side-by-side
 * timing of numaslab against the C library's malloc in this process, runs
 * interleaved A B A B so machine noise hits both.  The full comparison
 * (jemalloc, tcmalloc, mimalloc, libnuma, many sizes) is bench/run.
 * Timings are reported, never claimed: a noisy machine must not turn the
 * demo red.
 */
#include "demo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 1 in a QEMU guest (the DMI system vendor says so). */
static int under_emulation(void)
{
    char v[64] = "";
    FILE *f = fopen("/sys/class/dmi/id/sys_vendor", "r");
    if (!f)
        return 0;
    if (!fgets(v, sizeof v, f))
        v[0] = 0;
    fclose(f);
    return strncmp(v, "QEMU", 4) == 0;
}

#define ROUNDS 7
#define PAIRS 200000
#define BATCH 1000

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *volatile sink;

/* Pairs of one size; returns ns per pair. */
static double pairs_libc(size_t size)
{
    double t = now_ns();
    for (int i = 0; i < PAIRS; i++) {
        void *p = malloc(size);
        sink = p;
        free(p);
    }
    return (now_ns() - t) / PAIRS;
}

static double pairs_nslab(size_t size)
{
    double t = now_ns();
    for (int i = 0; i < PAIRS; i++) {
        void *p = numa_malloc_local(size);
        sink = p;
        nslab_free(p);
    }
    return (now_ns() - t) / PAIRS;
}

/* BATCH live blocks of pseudo-random sizes 16..4096, freed in another
 * order; returns ns per block (alloc + free). */
static void *live[BATCH];
static double batch_run(int lib)
{
    uint32_t x = 12345;
    double t = now_ns();
    for (int rep = 0; rep < 20; rep++) {
        for (int i = 0; i < BATCH; i++) {
            x = x * 1664525u + 1013904223u;
            size_t sz = 16 + (x >> 8) % 4081;
            live[i] = lib ? malloc(sz) : numa_malloc_local(sz);
        }
        for (int i = 0; i < BATCH; i++) {
            int j = (i * 7919) % BATCH; /* 7919 is prime: a permutation */
            if (lib)
                free(live[j]);
            else
                nslab_free(live[j]);
        }
    }
    return (now_ns() - t) / (20.0 * BATCH);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v)
{
    qsort(v, ROUNDS, sizeof *v, cmp);
    return v[ROUNDS / 2];
}

int demo_compare(struct demo *d)
{
    static const size_t sizes[] = {64, 512, 4096};
    demo_title(d, "Against the C library's malloc, same process, runs interleaved (median of %d)",
               ROUNDS);
    fprintf(d->out, "  %-34s %12s %12s %10s\n", "workload", "libc ns", "numaslab ns", "libc/ns");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        double a[ROUNDS], b[ROUNDS];
        pairs_libc(sizes[s]); /* warm both */
        pairs_nslab(sizes[s]);
        for (int r = 0; r < ROUNDS; r++) {
            a[r] = pairs_libc(sizes[s]);
            b[r] = pairs_nslab(sizes[s]);
        }
        double ma = median(a), mb = median(b);
        fprintf(d->out, "  malloc+free %5zu B (cache hit)     %12.1f %12.1f %9.2fx\n", sizes[s], ma,
                mb, ma / mb);
    }
    double a[ROUNDS], b[ROUNDS];
    batch_run(1);
    batch_run(0);
    for (int r = 0; r < ROUNDS; r++) {
        a[r] = batch_run(1);
        b[r] = batch_run(0);
    }
    double ma = median(a), mb = median(b);
    fprintf(d->out, "  %d live blocks, 16 B-4 KiB, shuffled %9.1f %12.1f %9.2fx\n", BATCH, ma, mb,
            ma / mb);
    fprintf(d->out, "  (libc/ns > 1: numaslab is faster.  numaslab's blocks are also placed on the\n"
                    "   node and verified above; libc's follow first touch.  Full suite: bench/run)\n");
    if (under_emulation())
        fprintf(d->out, "  (a QEMU guest: under TCG, which tests/vm uses where KVM is not usable, the\n"
                        "   CPU is emulated and these times say little about real hardware; the demo\n"
                        "   without --vm, or bench/run, measures on the host)\n");
    return 0;
}
