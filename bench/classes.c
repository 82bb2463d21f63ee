/*
 * bench/classes.c - the workload classes of a server's allocator (issue 12),
 * as one small C program that calls only malloc/free.  bench/run runs it
 * once per allocator and workload, in a fresh process, with the allocator
 * LD_PRELOADed (glibc: nothing preloaded; numaslab: libnumaslab-malloc.so),
 * so resident memory is the allocator's own and every allocator is called
 * the same way.  No C++ runtime, no benchmark library: a tiny program's
 * resident memory is mostly the allocator's.
 *
 *   bench-classes WORKLOAD [--quick]
 *
 * Prints one JSON object on stdout: the workload's figures.  Memory figures
 * come from /proc/self/status (VmRSS now, VmHWM peak, in bytes); times are
 * wall-clock and process CPU (user + system, all threads) nanoseconds.
 *
 * Workloads:
 *   partial     20 large arrays (256 KiB - 24 MiB) of which only the first
 *               tenth is written (an n-body code's arrays): peak RSS.
 *   largechurn  malloc + free of 64 KiB - 4 MiB blocks in a loop, 8 kept
 *               live, each written in its first 4 KiB and one byte per
 *               64 KiB: time per malloc + free.
 *   tiny        a few KB of heap (100 blocks of 16 - 128 B): RSS.
 *   threads     a thread per task, one after another: each allocates 20
 *               blocks of 16 - 512 B, frees them and exits: time per thread
 *               (threads N overrides the count; bench/run counts the
 *               system calls per thread under strace with two counts).
 *   xthread     N x N cross-thread frees: 4 threads, each allocates 3200
 *               batches (quick: 400) of 256 blocks of 16 B - 64 KiB
 *               (log-uniform), writes their first 64 bytes, and sends each
 *               batch to another thread (round robin), which frees every
 *               block; everyone produces and consumes (xmalloc / mstress
 *               style): time per block, and page faults.  Long enough for
 *               the steady state to dominate the first touch of the heap
 *               (~60 MiB), as in xmalloc-style runs of seconds; XR=N in the
 *               environment sets the batches per thread.
 *   fillrelease a server: 64K long-lived blocks, then 1M blocks of 16 -
 *               200 B (a key-value store's entries), all freed in random
 *               order: RSS after the fill, right after the release, after
 *               200 ms of light activity (time-based purges), and after the
 *               allocator's own trim call (malloc_trim, jemalloc's purge,
 *               mi_collect, tcmalloc's ReleaseFreeMemory, nslab_thread_flush).
 *   mix8        8 threads hand batches of 1 B - 4 MiB blocks to each
 *               other, every block written whole: operations per second.
 *
 * Waits block (condition variables): on a small shared machine a spinner
 * would steal the core of the thread it waits for, and CPU time then
 * counts only work.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdbool.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static int quick;

/* ---- helpers --------------------------------------------------------- */

/* xorshift64*: deterministic, no allocation. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ull;
}

/* Log-uniform size in [lo, hi]: as many blocks per power of two. */
static size_t rng_size(uint64_t *s, size_t lo, size_t hi)
{
    unsigned lo_b = 63 - __builtin_clzll(lo), hi_b = 63 - __builtin_clzll(hi);
    unsigned b = lo_b + (unsigned)(rng_next(s) % (hi_b - lo_b + 1));
    size_t base = (size_t)1 << b;
    size_t sz = base + (rng_next(s) % base);
    return sz < lo ? lo : sz > hi ? hi : sz;
}

static double now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* VmRSS / VmHWM of this process in bytes (0 if unreadable).  Reads the
 * file with read(2) into a stack buffer: no stdio buffer on the heap. */
static long status_kb(const char *key)
{
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY);
    long v = 0;
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0)
        return 0;
    buf[n] = 0;
    char *p = strstr(buf, key);
    if (p)
        v = strtol(p + strlen(key) + 1, NULL, 10);
    return v;
}
static double rss(void) { return status_kb("VmRSS") * 1024.0; }
static double hwm(void) { return status_kb("VmHWM") * 1024.0; }

/* Page faults of the process so far (all threads; MADV_POPULATE_WRITE's
 * count too): the kernel's share of a workload, which the load of a
 * shared machine does not change. */
static double minflt(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_minflt + (double)ru.ru_majflt;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "bench-classes: malloc(%zu) failed\n", n);
        exit(1);
    }
    return p;
}

/* Keep the compiler from dropping writes to memory it thinks is dead. */
static void escape(void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

/* ---- partial: large arrays touched in part --------------------------- */

static void w_partial(void)
{
    enum { N = 20 };
    void *a[N];
    uint64_t s = 11;
    double t0 = now_ns(CLOCK_PROCESS_CPUTIME_ID), bytes = 0, touched = 0;
    for (int i = 0; i < N; i++) {
        size_t sz = rng_size(&s, 256 << 10, 24 << 20);
        a[i] = xmalloc(sz);
        size_t part = sz / 10;
        memset(a[i], 1, part);
        escape(a[i]);
        bytes += sz;
        touched += part;
    }
    double peak = hwm(), now = rss();
    double cpu = now_ns(CLOCK_PROCESS_CPUTIME_ID) - t0;
    for (int i = 0; i < N; i++)
        free(a[i]);
    printf("{\"rss_peak\": %.0f, \"rss\": %.0f, \"allocated\": %.0f, \"touched\": %.0f, "
           "\"cpu_ns\": %.0f}\n", peak, now, bytes, touched, cpu);
}

/* ---- largechurn: large blocks malloc'ed and freed in a loop ----------- */

static void w_largechurn(void)
{
    enum { LIVE = 8 };
    long n = quick ? 2000 : 8000;
    void *live[LIVE] = {0};
    uint64_t s = 5;
    double w0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    for (long i = 0; i < n; i++) {
        int k = (int)(rng_next(&s) % LIVE);
        free(live[k]);
        size_t sz = rng_size(&s, 64 << 10, 4 << 20);
        char *p = xmalloc(sz);
        memset(p, 1, 4096);
        for (size_t o = 65536; o < sz; o += 65536)
            p[o] = 1;
        escape(p);
        live[k] = p;
    }
    double wall = now_ns(CLOCK_MONOTONIC) - w0, cpu = now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
    for (int k = 0; k < LIVE; k++)
        free(live[k]);
    printf("{\"ops\": %ld, \"ns_per_op\": %.1f, \"cpu_ns_per_op\": %.1f, \"rss_peak\": %.0f}\n",
           n, wall / n, cpu / n, hwm());
}

/* ---- tiny: a few KB of heap ------------------------------------------ */

static void w_tiny(void)
{
    enum { N = 100 };
    void *a[N];
    uint64_t s = 3;
    double bytes = 0;
    for (int i = 0; i < N; i++) {
        size_t sz = rng_size(&s, 16, 128);
        a[i] = xmalloc(sz);
        memset(a[i], 1, sz);
        bytes += sz;
    }
    double now = rss(), peak = hwm();
    for (int i = 0; i < N; i += 2)
        free(a[i]);
    printf("{\"rss\": %.0f, \"rss_peak\": %.0f, \"heap_bytes\": %.0f}\n", now, peak, bytes);
}

/* ---- threads: a thread per task ---------------------------------------- */

static void *task(void *arg)
{
    uint64_t s = (uint64_t)(uintptr_t)arg + 1;
    void *a[20];
    for (int i = 0; i < 20; i++) {
        a[i] = xmalloc(rng_size(&s, 16, 512));
        memset(a[i], 1, 16);
    }
    for (int i = 0; i < 20; i++)
        free(a[i]);
    return NULL;
}

static void w_threads(long n)
{
    if (n <= 0)
        n = quick ? 500 : 2000;
    double w0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    for (long i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, task, (void *)(uintptr_t)i) != 0) {
            fprintf(stderr, "bench-classes: pthread_create failed\n");
            exit(1);
        }
        pthread_join(t, NULL);
    }
    double wall = now_ns(CLOCK_MONOTONIC) - w0, cpu = now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
    printf("{\"threads\": %ld, \"ns_per_thread\": %.1f, \"cpu_ns_per_thread\": %.1f, "
           "\"rss\": %.0f}\n", n, wall / n, cpu / n, rss());
}

/* ---- xthread / mix8: batches of blocks handed between threads ---------- */

/* Each thread owns NBATCH batches.  A batch is filled by its owner, sent
 * to another thread's inbox, emptied (every block freed) there and given
 * back to its owner's free list.  One mutex + condition variable per
 * thread guards its inbox and its free list.  No deadlock: a thread waits
 * only while it has no free batch and an empty inbox, and every batch is
 * free, in an inbox, or with a running thread. */
enum { NBATCH = 4, MAXT = 16, MAXB = 256 };

struct batch {
    struct batch *next;
    int owner, n;
    void *p[MAXB];
};

struct mbox {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct batch *inbox, *free;
    struct batch b[NBATCH];
} __attribute__((aligned(64)));

struct xcfg {
    int threads, per_batch;
    long rounds;             /* batches each thread fills */
    size_t lo, hi;
    int write_all;           /* write the whole block, else its first 64 B */
};

static struct xcfg xc;
static struct mbox *mb;
static atomic_int senders_done;

static void mbox_put(struct mbox *m, struct batch *b, int inbox)
{
    pthread_mutex_lock(&m->mu);
    struct batch **l = inbox ? &m->inbox : &m->free;
    b->next = *l;
    *l = b;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

static void *xworker(void *arg)
{
    int me = (int)(intptr_t)arg;
    struct mbox *m = &mb[me];
    uint64_t s = 1000 + (uint64_t)me;
    long sent = 0;
    int done = 0;
    for (;;) {
        pthread_mutex_lock(&m->mu);
        for (;;) {
            if (m->inbox || (sent < xc.rounds && m->free))
                break;
            if (sent == xc.rounds && atomic_load(&senders_done) == xc.threads)
                break;
            pthread_cond_wait(&m->cv, &m->mu);
        }
        struct batch *in = m->inbox, *mine = NULL;
        m->inbox = NULL;
        if (sent < xc.rounds && m->free) {
            mine = m->free;
            m->free = mine->next;
        }
        int finished = !in && !mine;
        pthread_mutex_unlock(&m->mu);
        if (finished)
            break;
        while (in) {
            struct batch *next = in->next;
            for (int i = 0; i < in->n; i++)
                free(in->p[i]);
            in->n = 0;
            mbox_put(&mb[in->owner], in, 0);
            in = next;
        }
        if (mine) {
            for (int i = 0; i < xc.per_batch; i++) {
                size_t sz = rng_size(&s, xc.lo, xc.hi);
                char *p = xmalloc(sz);
                memset(p, (int)i, xc.write_all || sz < 64 ? sz : 64);
                mine->p[i] = p;
            }
            mine->n = xc.per_batch;
            int dest = (me + 1 + (int)(sent % (xc.threads - 1))) % xc.threads;
            mbox_put(&mb[dest], mine, 1);
            sent++;
        }
        if (sent == xc.rounds && !done) {
            done = 1;
            if (atomic_fetch_add(&senders_done, 1) + 1 == xc.threads)
                for (int t = 0; t < xc.threads; t++) {
                    pthread_mutex_lock(&mb[t].mu);
                    pthread_cond_broadcast(&mb[t].cv);
                    pthread_mutex_unlock(&mb[t].mu);
                }
        }
    }
    return NULL;
}

static void w_xthread(struct xcfg cfg, const char *unit)
{
    xc = cfg;
    static struct mbox boxes[MAXT];
    mb = boxes;
    for (int t = 0; t < xc.threads; t++) {
        pthread_mutex_init(&mb[t].mu, NULL);
        pthread_cond_init(&mb[t].cv, NULL);
        for (int i = 0; i < NBATCH; i++) {
            mb[t].b[i].owner = t;
            mb[t].b[i].next = mb[t].free;
            mb[t].free = &mb[t].b[i];
        }
    }
    pthread_t th[MAXT];
    double f0 = minflt();
    double w0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    for (int t = 0; t < xc.threads; t++)
        pthread_create(&th[t], NULL, xworker, (void *)(intptr_t)t);
    for (int t = 0; t < xc.threads; t++)
        pthread_join(th[t], NULL);
    double wall = now_ns(CLOCK_MONOTONIC) - w0, cpu = now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
    double blocks = (double)xc.threads * xc.rounds * xc.per_batch;
    printf("{\"threads\": %d, \"blocks\": %.0f, \"ns_per_%s\": %.2f, \"cpu_ns_per_%s\": %.2f, "
           "\"ops_per_second\": %.0f, \"page_faults\": %.0f, \"rss_peak\": %.0f}\n",
           xc.threads, blocks, unit, wall / blocks, unit, cpu / blocks, blocks / (wall / 1e9),
           minflt() - f0, hwm());
}

/* ---- fillrelease: a server fills its heap and lets it go ---------------- */

/* The allocator's own "give free memory back" call, found at run time
 * (whichever malloc is preloaded): what a server calls after dropping its
 * data (Redis purges jemalloc after FLUSHALL).  Returns its name. */
static const char *trim(void)
{
    int (*mallctl)(const char *, void *, size_t *, void *, size_t) =
        (int (*)(const char *, void *, size_t *, void *, size_t))dlsym(RTLD_DEFAULT, "mallctl");
    if (mallctl) {
        mallctl("arena.4096.purge", NULL, NULL, NULL, 0); /* MALLCTL_ARENAS_ALL */
        return "mallctl arena.<all>.purge";
    }
    void (*mi_collect)(bool) = (void (*)(bool))dlsym(RTLD_DEFAULT, "mi_collect");
    if (mi_collect) {
        mi_collect(true);
        return "mi_collect(true)";
    }
    void (*tc_release)(void) = (void (*)(void))dlsym(RTLD_DEFAULT,
                                                     "MallocExtension_ReleaseFreeMemory");
    if (tc_release) {
        tc_release();
        return "MallocExtension_ReleaseFreeMemory";
    }
    void (*nslab_flush)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "nslab_thread_flush");
    if (nslab_flush) {
        nslab_flush();
        return "nslab_thread_flush";
    }
    malloc_trim(0);
    return "malloc_trim(0)";
}

static void w_fillrelease(void)
{
    long core_n = 65536, n = quick ? 400000 : 1000000;
    void **core = xmalloc(core_n * sizeof *core);
    void **e = xmalloc(n * sizeof *e);
    uint64_t s = 9;
    for (long i = 0; i < core_n; i++) {
        size_t sz = rng_size(&s, 16, 256);
        core[i] = xmalloc(sz);
        memset(core[i], 1, sz);
    }
    double base = rss();
    double live = 0;
    for (long i = 0; i < n; i++) {
        size_t sz = 16 + rng_next(&s) % 185;
        e[i] = xmalloc(sz);
        memset(e[i], 2, sz);
        live += sz;
    }
    double loaded = rss();
    for (long i = n - 1; i > 0; i--) {
        long j = (long)(rng_next(&s) % (uint64_t)(i + 1));
        void *t = e[i];
        e[i] = e[j];
        e[j] = t;
    }
    for (long i = 0; i < n; i++)
        free(e[i]);
    double released = rss();
    /* 200 ms of a server idling: a little allocation every millisecond */
    for (int k = 0; k < 200; k++) {
        for (int i = 0; i < 50; i++)
            e[i] = xmalloc(64);
        for (int i = 0; i < 50; i++)
            free(e[i]);
        usleep(1000);
    }
    double settled = rss();
    const char *how = trim();
    double trimmed = rss();
    printf("{\"entries\": %ld, \"live_bytes\": %.0f, \"rss_core\": %.0f, \"rss_loaded\": %.0f, "
           "\"rss_released\": %.0f, \"rss_settled\": %.0f, \"rss_trimmed\": %.0f, "
           "\"trim_call\": \"%s\", \"rss_peak\": %.0f}\n",
           n, live, base, loaded, released, settled, trimmed, how, hwm());
    for (long i = 0; i < core_n; i++)
        free(core[i]);
    free(core);
    free(e);
}

int main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "";
    long threads_n = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads_n = atol(argv[++i]);
    }
    if (!strcmp(w, "partial"))
        w_partial();
    else if (!strcmp(w, "largechurn"))
        w_largechurn();
    else if (!strcmp(w, "tiny"))
        w_tiny();
    else if (!strcmp(w, "threads"))
        w_threads(threads_n);
    else if (!strcmp(w, "xthread"))
        w_xthread((struct xcfg){.threads = 4, .per_batch = 256, .rounds = getenv("XR") ? atol(getenv("XR")) : quick ? 400 : 3200,
                                .lo = 16, .hi = 65536}, "block");
    else if (!strcmp(w, "fillrelease"))
        w_fillrelease();
    else if (!strcmp(w, "mix8"))
        w_xthread((struct xcfg){.threads = 8, .per_batch = 8, .rounds = quick ? 100 : 400,
                                .lo = 1, .hi = 4 << 20, .write_all = 1}, "block");
    else {
        fprintf(stderr, "usage: bench-classes partial|largechurn|tiny|threads [--threads N]|"
                        "xthread|fillrelease|mix8 [--quick]\n");
        return 2;
    }
    fflush(stdout);
    return 0;
}
