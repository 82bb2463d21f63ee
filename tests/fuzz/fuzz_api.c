/*
 * tests/fuzz/fuzz_api.c - a libFuzzer target that drives random operation
 * sequences through the public API (numaslab.h only) and checks, after every
 * step, what the header promises.
 *
 * An input is a byte string read as a sequence of operations: one opcode
 * byte, then the arguments the operation consumes (missing bytes read as 0).
 * The operations cover the arenas (numa_malloc_on/_local, numa_calloc_on,
 * numa_aligned_alloc_on, numa_malloc_interleaved, nslab_realloc,
 * nslab_free), frees and puts from another thread (a helper thread fed
 * through a queue, which also allocates blocks for this thread to free),
 * pools (get, get_wait, bulk get/put, put by pointer, cache flush, move,
 * audit, destroy), a pool set, regions (create, verify, report, move,
 * destroy) and documented error returns (bad node, size 0, bad alignment,
 * foreign pointers, a pool buffer given to the wrong pool, a double put on
 * a NSLAB_POOL_DEBUG pool).
 *
 * Checks:
 *   contents  every block, pool buffer and region is filled with a pattern
 *             derived from its own seed and its offsets, and verified before
 *             it is freed, put, resized (the kept prefix) or moved, and after
 *             a move; a calloc'ed block is all zeros first;
 *   identity  nslab_node_of, nslab_usable_size, nslab_pool_of,
 *             nslab_region_of answer for what was allocated; alignment;
 *   audits    nslab_arena_audit and nslab_pool_audit return 0, and the counters
 *             agree with what this program holds: per node bytes_in_use is
 *             the sum of the usable sizes of its live arena blocks; per pool
 *             in_use is the buffers it holds, free + in_use == total <=
 *             max_count, and the pool's ctor ran once per created buffer.
 * The audits need the other threads quiescent, so they run after a drain of
 * the helper's queue; everything else runs while the helper works.
 * At the end of each input everything still held is freed, put and
 * destroyed, so inputs are independent; the counters are checked then, and
 * every 4th input (or every one with NSLAB_FUZZ_AUDIT_ALL set, e.g. to
 * reproduce a crash) is audited.
 *
 * A failed check prints one line "numaslab fuzz: ..." and aborts (libFuzzer
 * then saves the input as a crash artifact).  NSLAB_FUZZ_SELFTEST=1 makes
 * the program corrupt one byte of the first block it fills, to show that a
 * corrupted block is caught (ctest: fuzz_api_selftest).
 */
#define _GNU_SOURCE
#include "numaslab.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- failure ------------------------------------------------------------ */

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("numaslab fuzz: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond))                                                         \
            fail(__VA_ARGS__);                                               \
    } while (0)

/* ---- input -------------------------------------------------------------- */

struct input {
    const uint8_t *p;
    size_t n;
};

static unsigned u8(struct input *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}
static unsigned u16(struct input *in)
{
    unsigned a = u8(in);
    return a | u8(in) << 8;
}

/* ---- patterns ----------------------------------------------------------- */

/* The pattern: word k of a block (bytes 8k .. 8k+7) is mix(seed, k).  Up to
 * 4 KiB every word is written; above, the first 64 bytes of every 4 KiB
 * (so every page is touched): which words are written depends on the
 * offset only, so a kept prefix after a realloc is checked by the same
 * rule.  fill and check are
 * not instrumented (ASan cannot see into the library's mappings anyway, and
 * the coverage of these loops tells the fuzzer nothing): they dominated the
 * run time. */
#define FUZZ_PLAIN __attribute__((no_sanitize("address", "coverage", "undefined")))

FUZZ_PLAIN static inline uint64_t mix(uint64_t seed, uint64_t i)
{
    uint64_t x = seed + (i + 1) * UINT64_C(0x9E3779B97F4A7C15);
    x ^= x >> 31;
    x *= UINT64_C(0xBF58476D1CE4E5B9);
    return x ^ (x >> 29);
}

static int selftest;       /* NSLAB_FUZZ_SELFTEST: corrupt the first fill */
static int trace;          /* NSLAB_FUZZ_TRACE: print each operation */
static int audit_all;      /* NSLAB_FUZZ_AUDIT_ALL: audit after every input */
static uint64_t next_seed = 1;

/* The next word written at or after word k. */
FUZZ_PLAIN static inline size_t next_word(size_t k)
{
    return k < 512 || (k & 511) < 8 ? k : (k | 511) + 1;
}

FUZZ_PLAIN static void fill_words(unsigned char *b, size_t len, uint64_t seed)
{
    size_t words = len / 8;
    for (size_t k = 0; k < words; k = next_word(k + 1)) {
        uint64_t w = mix(seed, k);
        __builtin_memcpy(b + 8 * k, &w, 8);
    }
    for (size_t i = words * 8; i < len && next_word(words) == words; i++)
        b[i] = (unsigned char)(mix(seed, words) >> (8 * (i % 8)));
}

/* The first byte offset where p differs, or len. */
FUZZ_PLAIN static size_t check_words(const unsigned char *b, size_t len, uint64_t seed)
{
    size_t words = len / 8;
    for (size_t k = 0; k < words; k = next_word(k + 1)) {
        uint64_t w;
        __builtin_memcpy(&w, b + 8 * k, 8);
        uint64_t x = w ^ mix(seed, k);
        if (x)
            return 8 * k + (size_t)__builtin_ctzll(x) / 8;
    }
    for (size_t i = words * 8; i < len && next_word(words) == words; i++)
        if (b[i] != (unsigned char)(mix(seed, words) >> (8 * (i % 8))))
            return i;
    return len;
}

static void fill(void *p, size_t len, uint64_t seed)
{
    unsigned char *b = p;
    fill_words(b, len, seed);
    if (selftest == 1 && len) {
        b[len / 2 & ~(size_t)7] ^= 0x40;
        selftest = 2;
    }
}

static void check(const void *p, size_t len, uint64_t seed, const char *what)
{
    size_t at = check_words(p, len, seed);
    if (at != len)
        fail("pattern mismatch in %s %p (%zu bytes) at offset %zu", what, p, len, at);
}

/* ---- the machine -------------------------------------------------------- */

static int nodes[NSLAB_MAX_NODES]; /* allowed nodes with memory */
static int nnodes;
static nslab_nodeset_t allowed;
static int node_count;             /* nslab_node_count() */
static size_t page_size;

static int pick_node(struct input *in)
{
    return nodes[u8(in) % nnodes];
}

/* Mostly small sizes, some up to the slab limit, a few large ones (each a
 * populated mapping of its own: kernel time), 1 in 32 of size 0. */
static size_t pick_size(struct input *in)
{
    unsigned k = u8(in), v = u16(in);
    switch (k & 15) {
    case 0: case 1: case 2: case 3: case 4: case 5:
        return 1 + v % 256;
    case 6: case 7: case 8: case 9: case 10:
        return 1 + v % 4096;
    case 11: case 12: case 13:
        return 1 + v;                          /* <= 64 KiB: slab classes */
    case 14:
        return 65537 + (size_t)v * 4;          /* large, <= 320 KiB */
    default:
        if ((k & 0xe0) == 0xe0)
            return ((size_t)(v % 4) + 1) << 20; /* 1-4 MiB */
        return k & 0x80 ? 65537 + (size_t)v : 0;
    }
}

/* ---- what this program holds -------------------------------------------- */

enum { B_EMPTY, B_LIVE, B_PENDING };
enum { K_ARENA, K_INTERLEAVED };

struct block {
    _Atomic int state;  /* B_PENDING: the helper is allocating it */
    int kind;
    int node;           /* explicit node, or -1 for local */
    void *p;
    size_t size;
    uint64_t seed;
};

#define NBLOCKS 48
static struct block blocks[NBLOCKS];

#define NPOOLS 4
#define POOL_MAX 256
struct pool {
    nslab_pool_t *p;
    int node;
    int in_set;          /* a pool of the pool set (not destroyed alone) */
    size_t elt, align, count, max;
    unsigned flags;
    unsigned out;        /* buffers this program holds or has queued */
    unsigned ctor_calls;
    unsigned char ctor_seen[POOL_MAX];
};
/* pools[NPOOLS] is the pool set's pool for this thread's node (when set) */
static struct pool pools[NPOOLS + 1];
static nslab_poolset_t *pset;

#define NBUFS 96
struct pbuf {
    void *p;
    int pool;            /* index into pools[], -1 = empty */
    uint64_t seed;
};
static struct pbuf bufs[NBUFS];

#define NREGIONS 4
struct region {
    nslab_region_t *r;
    size_t size;
    uint64_t seed;
    nslab_policy_t pol;
    int interleave;      /* pages may be on any allowed node */
};
static struct region regions[NREGIONS];
static unsigned char weights[NSLAB_MAX_NODES];

static nslab_placement_t placement; /* 8 KiB: static */

/* ---- the helper thread -------------------------------------------------- */

enum { H_FREE, H_POOL_PUT, H_ALLOC, H_FLUSH, H_POOL_FLUSH, H_STOP };

struct item {
    int op;
    void *p;
    size_t size;
    uint64_t seed;
    struct pool *pool;   /* H_POOL_PUT, H_POOL_FLUSH */
    int with_pool;       /* H_POOL_PUT: pass the pool, else NULL */
    struct block *b;     /* H_ALLOC */
};

#define QLEN 64
static struct item queue[QLEN];
static unsigned qhead, qtail; /* under qlock */
static unsigned qbusy;        /* the helper is running an item */
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;   /* work queued */
static pthread_cond_t qdone = PTHREAD_COND_INITIALIZER;   /* work done */
static pthread_t helper;
/* Items pushed and not yet finished: 0 means the helper touches nothing
 * (only this thread pushes, so it stays 0 until the next push). */
static _Atomic unsigned inflight;

static void run_item(struct item *it)
{
    switch (it->op) {
    case H_FREE:
        check(it->p, it->size, it->seed, "block freed by the helper");
        CHECK(nslab_free(it->p) == 0, "helper: nslab_free(%p) failed: %d", it->p, errno);
        break;
    case H_POOL_PUT: {
        check(it->p, it->pool->elt, it->seed, "buffer put by the helper");
        int rc = nslab_pool_put(it->with_pool ? it->pool->p : NULL, it->p);
        CHECK(rc == 0, "helper: nslab_pool_put(%p) = %d", it->p, rc);
        break;
    }
    case H_ALLOC: {
        struct block *b = it->b;
        void *p = b->node < 0 ? numa_malloc_local(b->size) : numa_malloc_on(b->node, b->size);
        if (p) {
            CHECK(nslab_usable_size(p) >= b->size, "helper: usable size %zu < %zu",
                  nslab_usable_size(p), b->size);
            fill(p, b->size, b->seed);
        } else {
            CHECK(errno == ENOMEM, "helper: allocation of %zu failed with %d", b->size, errno);
        }
        b->p = p;
        atomic_store(&b->state, p ? B_LIVE : B_EMPTY);
        break;
    }
    case H_FLUSH:
        nslab_thread_flush();
        break;
    case H_POOL_FLUSH:
        nslab_pool_cache_flush(it->pool->p);
        break;
    }
}

static void *helper_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&qlock);
    for (;;) {
        while (qhead == qtail)
            pthread_cond_wait(&qcond, &qlock);
        struct item it = queue[qhead % QLEN];
        if (it.op == H_STOP)
            break;
        qbusy = 1;
        qhead++;
        pthread_mutex_unlock(&qlock);
        run_item(&it);
        atomic_fetch_sub(&inflight, 1);
        pthread_mutex_lock(&qlock);
        qbusy = 0;
        pthread_cond_broadcast(&qdone);
    }
    pthread_mutex_unlock(&qlock);
    return NULL;
}

static void push(struct item it)
{
    pthread_mutex_lock(&qlock);
    while (qtail - qhead == QLEN)
        pthread_cond_wait(&qdone, &qlock);
    atomic_fetch_add(&inflight, 1);
    queue[qtail++ % QLEN] = it;
    pthread_cond_signal(&qcond);
    pthread_mutex_unlock(&qlock);
}

/* Wait until the helper has run everything queued and sits idle. */
static void drain(void)
{
    pthread_mutex_lock(&qlock);
    while (qhead != qtail || qbusy)
        pthread_cond_wait(&qdone, &qlock);
    pthread_mutex_unlock(&qlock);
}

/* ---- blocks ------------------------------------------------------------- */

static struct block *slot(struct input *in)
{
    struct block *b = &blocks[u8(in) % NBLOCKS];
    if (atomic_load(&b->state) == B_PENDING)
        drain();
    return b;
}

static void block_check_identity(struct block *b)
{
    size_t us = nslab_usable_size(b->p);
    CHECK(us >= b->size, "usable size %zu < %zu asked (%p)", us, b->size, b->p);
    int n = nslab_node_of(b->p);
    if (b->kind == K_INTERLEAVED)
        CHECK(n == nodes[0], "nslab_node_of(interleaved %p) = %d, not its set's first %d",
              b->p, n, nodes[0]);
    else if (b->node >= 0)
        CHECK(n == b->node, "nslab_node_of(%p) = %d, allocated on %d", b->p, n, b->node);
    else
        CHECK(n >= 0 && nslab_nodeset_has(&allowed, n), "nslab_node_of(local %p) = %d", b->p, n);
    if (b->kind == K_INTERLEAVED)
        CHECK(nslab_region_of(b->p) != NULL, "nslab_region_of(interleaved %p) is NULL", b->p);
}

static void block_release(struct block *b)
{
    if (b->state != B_LIVE)
        return;
    check(b->p, b->size, b->seed, "block freed");
    int rc = nslab_free(b->p);
    CHECK(rc == 0, "nslab_free(%p) = %d", b->p, rc);
    b->state = B_EMPTY;
}

static void op_alloc(struct input *in)
{
    struct block *b = slot(in);
    block_release(b);
    unsigned how = u8(in);
    size_t size = pick_size(in);
    int node = pick_node(in);
    void *p = NULL;
    size_t align = 0;
    int zero = 0;
    b->kind = K_ARENA;
    b->node = node;
    switch (how % 6) {
    case 0:
        p = numa_malloc_on(node, size);
        break;
    case 1:
        b->node = -1;
        p = how & 0x80 ? numa_malloc_local(size) : numa_malloc_on(NSLAB_NODE_LOCAL, size);
        break;
    case 2: {
        size_t n = 1 + (how >> 3) % 8;
        size_t each = size / n;
        if (how & 0x40)
            b->node = -1;
        p = numa_calloc_on(b->node < 0 ? NSLAB_NODE_LOCAL : node, n, each);
        size = n * each;
        zero = 1;
        break;
    }
    case 3:
        align = (size_t)1 << (u8(in) % 22); /* 1 .. 2 MiB = NSLAB_MAX_ALIGN */
        p = numa_aligned_alloc_on(node, align, size);
        break;
    case 4: {
        b->kind = K_INTERLEAVED;
        if (size > 1 << 20)
            size = 1 << 20;
        p = numa_malloc_interleaved(size, how & 0x80 ? NULL : &allowed);
        break;
    }
    case 5: /* the helper allocates it, this thread frees it later */
        if (!size)
            size = 1;
        b->size = size;
        b->seed = next_seed++;
        if (how & 0x80)
            b->node = -1;
        atomic_store(&b->state, B_PENDING);
        push((struct item){.op = H_ALLOC, .b = b});
        return;
    }
    if (size == 0) {
        CHECK(!p && errno == EINVAL, "allocation of size 0 (how %u) gave %p, errno %d",
              how % 6, p, errno);
        return;
    }
    if (!p) {
        CHECK(errno == ENOMEM, "allocation of %zu (how %u) failed with errno %d",
              size, how % 6, errno);
        return;
    }
    if (align)
        CHECK(((uintptr_t)p & (align - 1)) == 0, "%p not aligned to %zu", p, align);
    CHECK(((uintptr_t)p & 15) == 0, "%p not 16-byte aligned", p);
    if (zero) {
        const unsigned char *c = p;
        for (size_t i = 0; i < size; i++)
            CHECK(c[i] == 0, "calloc'ed %p (%zu bytes) not zero at %zu", p, size, i);
    }
    b->p = p;
    b->size = size;
    b->seed = next_seed++;
    b->state = B_LIVE;
    block_check_identity(b);
    fill(p, size, b->seed);
}

static void op_free(struct input *in)
{
    struct block *b = slot(in);
    unsigned how = u8(in);
    if (b->state != B_LIVE)
        return;
    if (how & 2) { /* a pointer into the block: EINVAL, nothing touched */
        size_t off = 16 * (1 + (how >> 3) % 8);
        if (off < b->size) {
            char *q = (char *)b->p + off;
            int rc = nslab_free(q);
            CHECK(rc == -EINVAL, "nslab_free(%p + %zu) of a %zu-byte block = %d", b->p, off,
                  b->size, rc);
            errno = 0;
            void *r = nslab_realloc(q, 32);
            CHECK(!r && errno == EINVAL, "nslab_realloc(%p + %zu) = %p, errno %d", b->p, off, r,
                  errno);
            check(b->p, b->size, b->seed, "block after refused inner-pointer calls");
        }
    }
    if (how & 1) { /* by the helper */
        push((struct item){.op = H_FREE, .p = b->p, .size = b->size, .seed = b->seed});
        b->state = B_EMPTY;
        return;
    }
    void *p = b->p;
    if (how & 4) /* the helper allocates too: quiet from before the free */
        drain();
    block_release(b);
    if (how & 4) {
        /* a double free: the block waits in a cache or its slab (or was
         * unmapped), not handed out again as long as nothing allocates
         * between the two frees */
        int rc = nslab_free(p);
        CHECK(rc == -EINVAL, "double nslab_free(%p) of a %zu-byte block = %d", p, b->size, rc);
        errno = 0;
        void *r = nslab_realloc(p, 32);
        CHECK(!r && errno == EINVAL, "nslab_realloc of a freed %p = %p, errno %d", p, r, errno);
    }
}

static void op_realloc(struct input *in)
{
    struct block *b = slot(in);
    size_t size = pick_size(in);
    if (b->state != B_LIVE) {
        if (!size)
            return;
        void *p = nslab_realloc(NULL, size); /* = numa_malloc_local */
        if (!p) {
            CHECK(errno == ENOMEM, "realloc(NULL, %zu) failed with %d", size, errno);
            return;
        }
        *b = (struct block){.state = B_LIVE, .kind = K_ARENA, .node = -1, .p = p,
                            .size = size, .seed = next_seed++};
        block_check_identity(b);
        fill(p, size, b->seed);
        return;
    }
    if (b->kind == K_INTERLEAVED && size > 1 << 20)
        size = 1 << 20;
    check(b->p, b->size, b->seed, "block before realloc");
    int old_node = nslab_node_of(b->p);
    if (size == 0) {
        errno = 12345;
        void *p = nslab_realloc(b->p, 0);
        CHECK(!p && errno == 12345, "realloc(%p, 0) = %p, errno %d", b->p, p, errno);
        b->state = B_EMPTY;
        return;
    }
    void *p = nslab_realloc(b->p, size);
    if (!p) {
        CHECK(errno == ENOMEM, "realloc(%p, %zu) failed with %d", b->p, size, errno);
        check(b->p, b->size, b->seed, "block after a failed realloc");
        return;
    }
    size_t keep = size < b->size ? size : b->size;
    check(p, keep, b->seed, "block after realloc (kept prefix)");
    CHECK(nslab_node_of(p) == old_node, "realloc moved %p from node %d to %d", p, old_node,
          nslab_node_of(p));
    b->p = p;
    b->size = size;
    block_check_identity(b);
    fill(p, size, b->seed);
}

/* ---- pools -------------------------------------------------------------- */

static void ctor(void *buf, size_t idx, void *arg)
{
    struct pool *pl = arg;
    CHECK(idx < pl->max, "pool ctor idx %zu >= max_count %zu", idx, pl->max);
    CHECK(!pl->ctor_seen[idx], "pool ctor called twice for idx %zu", idx);
    CHECK(((uintptr_t)buf & (pl->align - 1)) == 0, "pool buffer %p not aligned to %zu", buf,
          pl->align);
    pl->ctor_seen[idx] = 1;
    pl->ctor_calls++;
    memset(buf, 0xa5, pl->elt);
}

static void pool_stats_check(struct pool *pl, const char *when)
{
    nslab_pool_stats_t st = {.size = sizeof st, .version = NSLAB_STATS_VERSION};
    int rc = nslab_pool_stats(pl->p, &st);
    CHECK(rc == 0, "nslab_pool_stats = %d", rc);
    CHECK(st.in_use == pl->out, "pool %s: in_use %llu, this program holds %u", when,
          (unsigned long long)st.in_use, pl->out);
    CHECK(st.free + st.in_use == st.total, "pool %s: free %llu + in_use %llu != total %llu",
          when, (unsigned long long)st.free, (unsigned long long)st.in_use,
          (unsigned long long)st.total);
    CHECK(st.total <= pl->max && st.max_count == pl->max, "pool %s: total %llu max %llu/%zu",
          when, (unsigned long long)st.total, (unsigned long long)st.max_count, pl->max);
    CHECK(st.cached <= st.free, "pool %s: cached %llu > free %llu", when,
          (unsigned long long)st.cached, (unsigned long long)st.free);
    if (!pl->in_set)
        CHECK(st.total == pl->ctor_calls, "pool %s: total %llu, ctor ran %u times", when,
              (unsigned long long)st.total, pl->ctor_calls);
    rc = nslab_pool_audit(pl->p, NULL);
    if (rc != 0) {
        nslab_pool_audit(pl->p, stderr);
        fail("nslab_pool_audit (%s) = %d", when, rc);
    }
}

static struct pool *pick_pool(struct input *in)
{
    unsigned i = u8(in) % (NPOOLS + 1);
    return pools[i].p ? &pools[i] : NULL;
}

static struct pbuf *free_buf_slot(void)
{
    for (int i = 0; i < NBUFS; i++)
        if (bufs[i].pool < 0)
            return &bufs[i];
    return NULL;
}

static void buf_taken(struct pool *pl, void *p)
{
    struct pbuf *s = free_buf_slot();
    CHECK(s, "buffer slots exhausted"); /* callers check room first */
    CHECK(nslab_pool_of(p) == pl->p, "nslab_pool_of(%p) is not its pool", p);
    CHECK(((uintptr_t)p & (pl->align - 1)) == 0, "buffer %p not aligned to %zu", p, pl->align);
    CHECK(nslab_node_of(p) == pl->node, "nslab_node_of(buffer %p) = %d, pool on %d", p,
          nslab_node_of(p), pl->node);
    s->p = p;
    s->pool = (int)(pl - pools);
    s->seed = next_seed++;
    pl->out++;
    fill(p, pl->elt, s->seed);
}

static unsigned free_buf_slots(void)
{
    unsigned n = 0;
    for (int i = 0; i < NBUFS; i++)
        n += bufs[i].pool < 0;
    return n;
}

/* A get of n buffers that found too few: legal only if the pool is at its
 * cap and fewer than n free buffers sit outside the threads' caches (for
 * n == 1: every free buffer is in another thread's cache, as this thread's
 * own cache is empty, else it would have served the get).  Sound only when
 * the helper was idle during the get (busy_before == 0): it puts and
 * flushes caches. */
static void pool_empty_check(struct pool *pl, unsigned busy_before, unsigned n, int err,
                             const char *what)
{
    CHECK(err == ENOENT || err == ENOMEM, "%s failed with errno %d", what, err);
    if (err != ENOENT || busy_before)
        return;
    nslab_pool_stats_t st = {.size = sizeof st, .version = NSLAB_STATS_VERSION};
    nslab_pool_stats(pl->p, &st);
    CHECK(st.total == st.max_count && st.free - st.cached < n,
          "%s(%u): ENOENT with total %llu/%llu free %llu cached %llu", what, n,
          (unsigned long long)st.total, (unsigned long long)st.max_count,
          (unsigned long long)st.free, (unsigned long long)st.cached);
}

static void pool_destroy(struct pool *pl)
{
    drain();
    for (int i = 0; i < NBUFS; i++)
        if (bufs[i].pool == (int)(pl - pools)) {
            check(bufs[i].p, pl->elt, bufs[i].seed, "buffer put at teardown");
            CHECK(nslab_pool_put(pl->p, bufs[i].p) == 0, "put at teardown failed");
            bufs[i].pool = -1;
            pl->out--;
        }
    pool_stats_check(pl, "before destroy");
    int rc = nslab_pool_destroy(pl->p);
    CHECK(rc == 0, "nslab_pool_destroy = %d with no buffer out", rc);
    memset(pl, 0, sizeof *pl);
}

static void op_pool_create(struct input *in)
{
    unsigned i = u8(in) % NPOOLS;
    struct pool *pl = &pools[i];
    if (pl->p)
        pool_destroy(pl);
    unsigned a = u8(in), f = u8(in);
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = 1 + u16(in) % 4096,
        .align = a & 0x80 ? 0 : (size_t)1 << (a % 13),
        .count = 1 + u8(in) % 64,
        .cache_size = f & 4 ? 0 : u8(in) % 65,
        .flags = f & 3,
        .prefault = (nslab_prefault_t)((f >> 3) % 4),
        .ctor = ctor,
        .ctor_arg = pl);
    o.max_count = f & 0x20 ? 0 : o.count + u8(in) % (POOL_MAX - o.count + 1);
    int node = f & 0x40 ? NSLAB_NODE_LOCAL : pick_node(in);
    memset(pl, 0, sizeof *pl);
    pl->elt = o.elt_size;
    pl->align = o.align ? o.align : 64;
    pl->count = o.count;
    pl->max = o.max_count ? o.max_count : o.count;
    pl->flags = o.flags;
    nslab_pool_t *p = nslab_pool_create(node, &o);
    if (!p) {
        CHECK(errno == ENOMEM, "nslab_pool_create failed with %d", errno);
        memset(pl, 0, sizeof *pl);
        return;
    }
    pl->p = p;
    pl->node = nslab_pool_node(p);
    CHECK(node < 0 ? nslab_nodeset_has(&allowed, pl->node) : pl->node == node,
          "pool created on %d reports node %d", node, pl->node);
    CHECK(pl->ctor_calls == pl->count, "pool of %zu buffers ran its ctor %u times", pl->count,
          pl->ctor_calls);
}

static void op_pool_get(struct input *in)
{
    struct pool *pl = pick_pool(in);
    unsigned how = u8(in);
    if (!pl)
        return;
    unsigned room = free_buf_slots();
    unsigned pending = atomic_load(&inflight);
    if (how & 1) { /* bulk */
        unsigned n = 1 + (how >> 1) % 16;
        if (n > room)
            return;
        void *got[16];
        nslab_pool_stats_t before = {.size = sizeof before, .version = NSLAB_STATS_VERSION};
        nslab_pool_stats(pl->p, &before);
        int rc = nslab_pool_get_bulk(pl->p, got, n);
        if (rc < 0) {
            pool_empty_check(pl, pending, n, -rc, "nslab_pool_get_bulk");
            if (!pending) {
                nslab_pool_stats_t st = {.size = sizeof st, .version = NSLAB_STATS_VERSION};
                nslab_pool_stats(pl->p, &st);
                CHECK(st.in_use == before.in_use, "failed get_bulk took buffers (%llu -> %llu)",
                      (unsigned long long)before.in_use, (unsigned long long)st.in_use);
            }
            return;
        }
        CHECK(rc == (int)n, "nslab_pool_get_bulk(%u) = %d", n, rc);
        for (unsigned k = 0; k < n; k++) {
            for (unsigned j = 0; j < k; j++)
                CHECK(got[j] != got[k], "get_bulk returned %p twice", got[k]);
            buf_taken(pl, got[k]);
        }
        return;
    }
    if (!room)
        return;
    void *p = how & 2 ? nslab_pool_get_wait(pl->p, 0) : nslab_pool_get(pl->p);
    if (!p) {
        int e = errno;
        if (how & 2) { /* the wait's "nothing came" is ETIMEDOUT, even for 0 ms */
            CHECK(e == ETIMEDOUT || e == ENOMEM, "nslab_pool_get_wait(0) errno %d", e);
            e = e == ETIMEDOUT ? ENOENT : e;
        }
        pool_empty_check(pl, pending, 1, e, how & 2 ? "nslab_pool_get_wait" : "nslab_pool_get");
        return;
    }
    buf_taken(pl, p);
}

static void op_pool_put(struct input *in)
{
    struct pbuf *s = &bufs[u8(in) % NBUFS];
    unsigned how = u8(in);
    if (s->pool < 0)
        return;
    struct pool *pl = &pools[s->pool];
    check(s->p, pl->elt, s->seed, "buffer before put");
    switch (how % 5) {
    case 0:
        CHECK(nslab_pool_put(pl->p, s->p) == 0, "nslab_pool_put failed");
        break;
    case 1:
        CHECK(nslab_pool_put(NULL, s->p) == 0, "nslab_pool_put(NULL) failed");
        break;
    case 2:
        CHECK(nslab_free(s->p) == 0, "nslab_free(pool buffer) failed");
        break;
    case 3:
        if (pl->in_set) {
            CHECK(nslab_poolset_put(pset, s->p) == 0, "nslab_poolset_put failed");
            break;
        }
        CHECK(nslab_pool_put(pl->p, s->p) == 0, "nslab_pool_put failed");
        break;
    case 4:
        push((struct item){.op = H_POOL_PUT, .p = s->p, .seed = s->seed, .pool = pl,
                           .with_pool = how & 0x80});
        break;
    }
    if (how % 5 != 4 && (pl->flags & NSLAB_POOL_DEBUG)) {
        int rc = nslab_pool_put(pl->p, s->p);
        CHECK(rc == -EALREADY, "double put on a debug pool = %d", rc);
    }
    s->pool = -1;
    pl->out--;
}

/* All-or-nothing put_bulk: first with a foreign pointer in the middle
 * (-EINVAL, nothing returned), then the real thing. */
static void op_pool_put_bulk(struct input *in)
{
    struct pool *pl = pick_pool(in);
    unsigned how = u8(in);
    if (!pl)
        return;
    void *v[17];
    int idx[17];
    unsigned n = 0, want = 1 + how % 16;
    for (int i = 0; i < NBUFS && n < want; i++)
        if (bufs[i].pool == (int)(pl - pools)) {
            check(bufs[i].p, pl->elt, bufs[i].seed, "buffer before put_bulk");
            idx[n] = i;
            v[n++] = bufs[i].p;
        }
    if (!n)
        return;
    if (how & 0x80) {
        char local;
        v[n] = v[n / 2];
        v[n / 2] = &local;
        int rc = nslab_pool_put_bulk(pl->p, v, n + 1);
        CHECK(rc == -EINVAL, "put_bulk with a foreign pointer = %d", rc);
        v[n / 2] = v[n];
        for (unsigned k = 0; k < n; k++)
            check(bufs[idx[k]].p, pl->elt, bufs[idx[k]].seed, "buffer after a refused put_bulk");
    }
    int rc = nslab_pool_put_bulk(how & 0x40 ? NULL : pl->p, v, n);
    CHECK(rc == (int)n, "nslab_pool_put_bulk(%u) = %d", n, rc);
    for (unsigned k = 0; k < n; k++)
        bufs[idx[k]].pool = -1;
    pl->out -= n;
}

static void op_pool_misc(struct input *in)
{
    struct pool *pl = pick_pool(in);
    unsigned how = u8(in);
    if (!pl)
        return;
    switch (how % 6) {
    case 0:
        nslab_pool_cache_flush(pl->p);
        break;
    case 1:
        push((struct item){.op = H_POOL_FLUSH, .pool = pl});
        break;
    case 2: { /* move to a node (the helper may be putting meanwhile) */
        int node = pick_node(in);
        int rc = nslab_pool_move(pl->p, node, &placement);
        if (pl->in_set) {
            CHECK(rc == -EINVAL, "nslab_pool_move of a pool set's pool = %d", rc);
            break;
        }
        CHECK(rc == 0 || rc == -ENOMEM, "nslab_pool_move = %d", rc);
        if (rc == 0) {
            pl->node = node;
            CHECK(nslab_pool_node(pl->p) == node, "moved pool reports node %d",
                  nslab_pool_node(pl->p));
            size_t others = 0;
            for (int k = 0; k < nnodes; k++)
                if (nodes[k] != node)
                    others += placement.on_node[nodes[k]];
            CHECK(others == 0, "after the move %zu pages are off node %d", others, node);
            for (int i = 0; i < NBUFS; i++)
                if (bufs[i].pool == (int)(pl - pools))
                    check(bufs[i].p, pl->elt, bufs[i].seed, "buffer after a pool move");
        }
        break;
    }
    case 3:
        drain();
        pool_stats_check(pl, "audit");
        break;
    case 4: /* destroy with buffers out: EBUSY, intact */
        if (pl->in_set)
            break;
        drain();
        if (pl->out) {
            int rc = nslab_pool_destroy(pl->p);
            CHECK(rc == -EBUSY, "destroy of a pool with %u buffers out = %d", pl->out, rc);
            pool_stats_check(pl, "after a refused destroy");
        } else {
            pool_destroy(pl);
        }
        break;
    case 5: { /* a buffer of another pool, and non-buffers */
        char local;
        CHECK(nslab_pool_put(pl->p, &local) == -EINVAL, "put of a stack address accepted");
        CHECK(nslab_pool_of(&local) == NULL, "nslab_pool_of(stack) not NULL");
        for (int i = 0; i < NBUFS; i++) {
            if (bufs[i].pool < 0 || pools[bufs[i].pool].p == pl->p)
                continue;
            int rc = nslab_pool_put(pl->p, bufs[i].p);
            CHECK(rc == -EINVAL, "put of another pool's buffer = %d", rc);
            check(bufs[i].p, pools[bufs[i].pool].elt, bufs[i].seed, "refused buffer");
            break;
        }
        for (int i = 0; i < NBUFS; i++) {
            if (bufs[i].pool != (int)(pl - pools))
                continue;
            CHECK(nslab_usable_size(bufs[i].p) == 0, "usable size of a pool buffer != 0");
            errno = 0;
            CHECK(nslab_realloc(bufs[i].p, 8) == NULL && errno == EINVAL,
                  "realloc of a pool buffer: errno %d", errno);
            if (pl->elt > 1)
                CHECK(nslab_pool_put(pl->p, (char *)bufs[i].p + 1) == -EINVAL,
                      "put of a pointer inside a buffer accepted");
            check(bufs[i].p, pl->elt, bufs[i].seed, "buffer after refused calls");
            break;
        }
        break;
    }
    }
}

static void poolset_destroy(void)
{
    if (!pset)
        return;
    struct pool *pl = &pools[NPOOLS];
    drain();
    for (int i = 0; i < NBUFS; i++)
        if (bufs[i].pool == NPOOLS) {
            check(bufs[i].p, pl->elt, bufs[i].seed, "set buffer at teardown");
            CHECK(nslab_poolset_put(pset, bufs[i].p) == 0, "poolset put at teardown");
            bufs[i].pool = -1;
            pl->out--;
        }
    pool_stats_check(pl, "pool set before destroy");
    int rc = nslab_poolset_destroy(pset);
    CHECK(rc == 0, "nslab_poolset_destroy = %d", rc);
    pset = NULL;
    memset(pl, 0, sizeof *pl);
}

static void op_poolset(struct input *in)
{
    unsigned how = u8(in);
    struct pool *pl = &pools[NPOOLS];
    switch (how % 4) {
    case 0: {
        if (pset)
            poolset_destroy();
        nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = 1 + u16(in) % 2048, .count = 1 + u8(in) % 32,
                               .flags = (how >> 2) & 3);
        o.max_count = o.count + u8(in) % 64;
        pset = nslab_poolset_create(&o);
        if (!pset) {
            CHECK(errno == ENOMEM, "nslab_poolset_create failed with %d", errno);
            return;
        }
        for (int k = 0; k < nnodes; k++)
            CHECK(nslab_poolset_pool(pset, nodes[k]) != NULL, "set has no pool for node %d",
                  nodes[k]);
        memset(pl, 0, sizeof *pl);
        pl->p = nslab_poolset_local(pset);
        CHECK(pl->p, "nslab_poolset_local is NULL");
        pl->in_set = 1;
        pl->node = nslab_pool_node(pl->p);
        pl->elt = o.elt_size;
        pl->align = 64;
        pl->count = o.count;
        pl->max = o.max_count;
        pl->flags = o.flags;
        break;
    }
    case 1: {
        if (!pset || !free_buf_slots())
            return;
        unsigned pending = atomic_load(&inflight);
        void *p = nslab_poolset_get(pset);
        if (!p) {
            pool_empty_check(pl, pending, 1, errno, "nslab_poolset_get");
            return;
        }
        /* one node's machine, or a thread that stays: the local pool */
        if (nslab_pool_of(p) != pl->p) {
            CHECK(nnodes > 1, "poolset_get gave a buffer of another pool");
            CHECK(nslab_poolset_put(pset, p) == 0, "poolset put back");
            return;
        }
        buf_taken(pl, p);
        break;
    }
    case 2:
        if (pset) {
            drain();
            if (pl->out)
                CHECK(nslab_poolset_destroy(pset) == -EBUSY, "destroy of a busy set not EBUSY");
        }
        break;
    case 3:
        poolset_destroy();
        break;
    }
}

/* ---- regions ------------------------------------------------------------ */

static nslab_policy_t pick_policy(struct input *in, int *interleave)
{
    unsigned m = u8(in);
    int node = pick_node(in);
    nslab_policy_t p;
    *interleave = 0;
    switch (m % 8) {
    case 0: p = nslab_policy_local(); break;
    case 1: p = nslab_policy_bind(node); break;
    case 2: p = nslab_policy_preferred(node); break;
    case 3: p = nslab_policy_interleave(&allowed); *interleave = 1; break;
    case 4:
        for (int k = 0; k < nnodes; k++)
            weights[k] = 1 + (m >> 4) % 3 + (unsigned)k % 2;
        p = nslab_policy_weighted(&allowed, weights, (size_t)nnodes);
        *interleave = 1;
        break;
    case 5: p = nslab_policy_bind_set(&allowed); *interleave = 1; break;
    case 6: p = nslab_policy_preferred_many(&allowed); *interleave = 1; break;
    default: p = nslab_policy_default(); *interleave = 1; break;
    }
    if ((m & 0x40) && p.mode != NSLAB_POLICY_LOCAL && p.mode != NSLAB_POLICY_DEFAULT)
        p.flags = NSLAB_POLICY_STATIC_NODES;
    return p;
}

static void region_verify(struct region *g, const char *when)
{
    int rc = nslab_region_verify(g->r, &placement);
    CHECK(rc == 0, "nslab_region_verify (%s) = %d", when, rc);
    size_t pages = (g->size + placement.page_size - 1) / placement.page_size;
    CHECK(placement.pages == pages, "verify (%s): %zu pages, region has %zu", when,
          placement.pages, pages);
    /* every page was written: present, and on the policy's nodes */
    CHECK(placement.not_present == 0 && placement.errors == 0,
          "verify (%s): %zu not present, %zu errors", when, placement.not_present,
          placement.errors);
    if (g->pol.mode == NSLAB_POLICY_BIND && !g->interleave) {
        int n = nslab_nodeset_next(&g->pol.nodes, 0);
        CHECK(placement.on_node[n] == pages, "verify (%s): %zu of %zu bound pages on node %d",
              when, placement.on_node[n], pages, n);
    }
    size_t on = 0;
    for (int k = 0; k < nnodes; k++)
        on += placement.on_node[nodes[k]];
    CHECK(on == pages, "verify (%s): %zu of %zu pages on allowed nodes", when, on, pages);
}

static void region_destroy(struct region *g)
{
    check(nslab_region_addr(g->r), g->size, g->seed, "region before destroy");
    int rc = nslab_region_destroy(g->r);
    CHECK(rc == 0, "nslab_region_destroy = %d", rc);
    memset(g, 0, sizeof *g);
}

static void op_region(struct input *in)
{
    struct region *g = &regions[u8(in) % NREGIONS];
    unsigned how = u8(in);
    switch (how % 4) {
    case 0: { /* create */
        if (g->r)
            region_destroy(g);
        size_t size = 1 + (size_t)u16(in) % (16 * page_size);
        int il;
        nslab_policy_t pol = pick_policy(in, &il);
        unsigned o8 = u8(in);
        nslab_region_opts_t o = NSLAB_REGION_OPTS_INIT(.prefault = (nslab_prefault_t)(o8 % 4),
            .pages = o8 & 0x10 ? NSLAB_PAGES_NO_THP
                               : o8 & 0x20 ? NSLAB_PAGES_THP : NSLAB_PAGES_DEFAULT,
            .flags = o8 & 0x40 ? NSLAB_REGION_MEMFD : 0);
        nslab_region_t *r = nslab_region_create(size, how & 0x80 ? NULL : &pol, &o);
        if (!r) {
            CHECK(errno == ENOMEM || (errno == EOPNOTSUPP && o.pages == NSLAB_PAGES_THP),
                  "nslab_region_create(%zu, mode %d) failed with %d", size, pol.mode, errno);
            return;
        }
        if (how & 0x80) { /* NULL: DEFAULT, no binding */
            pol = nslab_policy_default();
            il = 1;
        }
        g->r = r;
        g->size = nslab_region_size(r);
        CHECK(g->size >= size, "region size %zu for %zu", g->size, size);
        g->pol = pol;
        g->interleave = il;
        g->seed = next_seed++;
        void *a = nslab_region_addr(r);
        CHECK(((uintptr_t)a & (page_size - 1)) == 0, "region %p not page aligned", a);
        CHECK(nslab_region_of(a) == r, "nslab_region_of(region memory) is not the region");
        CHECK(nslab_free(a) == -EINVAL, "nslab_free(region memory) not EINVAL");
        if (o.flags & NSLAB_REGION_MEMFD)
            CHECK(nslab_region_fd(r) >= 0, "memfd region has no fd");
        else
            CHECK(nslab_region_fd(r) == -EINVAL, "anonymous region has an fd");
        nslab_region_report_t rep;
        CHECK(nslab_region_report(r, &rep) == 0 && rep.asked == pol.mode && rep.size == g->size,
              "region report: asked %d for %d, size %zu", rep.asked, pol.mode, rep.size);
        fill(a, g->size, g->seed);
        break;
    }
    case 1:
        if (g->r) {
            check(nslab_region_addr(g->r), g->size, g->seed, "region before verify");
            region_verify(g, "after fill");
        }
        break;
    case 2: { /* move (contents and address stay) */
        if (!g->r)
            return;
        int il;
        nslab_policy_t to = pick_policy(in, &il);
        void *a = nslab_region_addr(g->r);
        int rc = nslab_region_move(g->r, &to, &placement);
        CHECK(rc == 0 || rc == -ENOMEM, "nslab_region_move(mode %d) = %d", to.mode, rc);
        CHECK(nslab_region_addr(g->r) == a, "region moved its address");
        check(a, g->size, g->seed, "region after move");
        if (rc == 0) {
            g->pol = to;
            g->interleave = il;
            region_verify(g, "after move");
        }
        break;
    }
    case 3:
        if (g->r)
            region_destroy(g);
        break;
    }
}

/* ---- errors and audits ---------------------------------------------------- */

static void op_errors(struct input *in)
{
    unsigned how = u8(in);
    char local[32];
    void *p;
    switch (how % 7) {
    case 0:
        errno = 0;
        p = numa_malloc_on(node_count, 16);
        CHECK(!p && errno == EINVAL, "numa_malloc_on(node_count) errno %d", errno);
        p = numa_malloc_on(-2, 16);
        CHECK(!p && errno == EINVAL, "numa_malloc_on(-2) errno %d", errno);
        break;
    case 1:
        CHECK(nslab_free(local) == -EINVAL, "nslab_free(stack) not EINVAL");
        CHECK(nslab_free(NULL) == 0, "nslab_free(NULL) not 0");
        CHECK(nslab_node_of(local) == -EINVAL, "nslab_node_of(stack) not EINVAL");
        CHECK(nslab_usable_size(local) == 0, "nslab_usable_size(stack) not 0");
        break;
    case 2: {
        size_t align = 3 + 2 * (size_t)(how >> 3); /* odd: never a power of two */
        p = numa_aligned_alloc_on(pick_node(in), align, 64);
        CHECK(!p && errno == EINVAL, "aligned_alloc(align %zu) errno %d", align, errno);
        break;
    }
    case 3:
        p = numa_calloc_on(pick_node(in), SIZE_MAX / 2, 3);
        CHECK(!p && errno == ENOMEM, "calloc overflow errno %d", errno);
        p = numa_malloc_on(pick_node(in), SIZE_MAX - 4096);
        CHECK(!p && errno == ENOMEM, "malloc(SIZE_MAX - 4096) errno %d", errno);
        break;
    case 4: { /* a malloc'ed (glibc / ASan) pointer is not ours */
        void *m = malloc(64);
        CHECK(nslab_free(m) == -EINVAL, "nslab_free(malloc'ed) not EINVAL");
        errno = 0;
        CHECK(nslab_realloc(m, 128) == NULL && errno == EINVAL, "realloc(foreign) errno %d",
              errno);
        free(m);
        break;
    }
    case 5:
        nslab_thread_flush();
        break;
    case 6:
        push((struct item){.op = H_FLUSH});
        break;
    }
}

/* Arena audit (full: nslab_arena_audit) and the per-node bytes_in_use of the
 * arena blocks held. */
static void op_audit(int full)
{
    drain();
    int rc = full ? nslab_arena_audit(NULL) : 0;
    if (rc != 0) {
        nslab_arena_audit(stderr);
        fail("nslab_arena_audit = %d", rc);
    }
    for (int k = 0; k < nnodes; k++) {
        uint64_t held = 0;
        for (int i = 0; i < NBLOCKS; i++)
            if (blocks[i].state == B_LIVE && blocks[i].kind == K_ARENA &&
                nslab_node_of(blocks[i].p) == nodes[k])
                held += nslab_usable_size(blocks[i].p);
        nslab_arena_stats_t st = {.size = sizeof st, .version = NSLAB_STATS_VERSION};
        CHECK(nslab_arena_stats(nodes[k], &st) == 0, "nslab_arena_stats(%d) failed", nodes[k]);
        CHECK(st.bytes_in_use == held, "node %d: bytes_in_use %llu, blocks held %llu", nodes[k],
              (unsigned long long)st.bytes_in_use, (unsigned long long)held);
    }
}

/* ---- the target ----------------------------------------------------------- */

static void teardown(void)
{
    drain();
    for (int i = 0; i < NBLOCKS; i++)
        block_release(&blocks[i]);
    for (int i = 0; i < NPOOLS; i++)
        if (pools[i].p)
            pool_destroy(&pools[i]);
    poolset_destroy();
    for (int i = 0; i < NREGIONS; i++)
        if (regions[i].r)
            region_destroy(&regions[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *st = getenv("NSLAB_FUZZ_SELFTEST");
    selftest = st && *st == '1';
    trace = getenv("NSLAB_FUZZ_TRACE") != NULL;
    audit_all = getenv("NSLAB_FUZZ_AUDIT_ALL") != NULL;
    CHECK(nslab_init() == 0, "nslab_init failed");
    nnodes = nslab_nodes(NSLAB_NODES_ALLOWED, &allowed);
    CHECK(nnodes > 0, "no allowed node with memory");
    for (int n = nslab_nodeset_next(&allowed, 0), k = 0; n >= 0;
         n = nslab_nodeset_next(&allowed, n + 1))
        nodes[k++] = n;
    node_count = nslab_node_count();
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < NBUFS; i++)
        bufs[i].pool = -1;
    CHECK(pthread_create(&helper, NULL, helper_main, NULL) == 0, "no helper thread");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[16] = {
        "alloc", "alloc", "alloc", "free", "free", "realloc", "pool_create", "pool_get",
        "pool_get", "pool_put", "pool_put_bulk", "pool_misc", "poolset", "region", "errors",
        "audit"};
    struct input in = {data, size};
    unsigned ops = 0;
    while (in.n && ops++ < 512) {
        unsigned op = u8(&in) % 16;
        if (trace)
            fprintf(stderr, "fuzz op %u at byte %zu: %s\n", ops, size - in.n - 1, names[op]);
        switch (op) {
        case 0: case 1: case 2: op_alloc(&in); break;
        case 3: case 4: op_free(&in); break;
        case 5: op_realloc(&in); break;
        case 6: op_pool_create(&in); break;
        case 7: case 8: op_pool_get(&in); break;
        case 9: op_pool_put(&in); break;
        case 10: op_pool_put_bulk(&in); break;
        case 11: op_pool_misc(&in); break;
        case 12: op_poolset(&in); break;
        case 13: op_region(&in); break;
        case 14: op_errors(&in); break;
        case 15: op_audit((u8(&in) & 3) == 0); break; /* full audit: 1 in 4 */
        }
    }
    teardown();
    /* The full audit is O(cached blocks) and took half the time of a short
     * input: at the end of every 4th input (and at every audit operation);
     * the counters are checked after every input. */
    static unsigned inputs;
    op_audit(++inputs % 4 == 0 || audit_all);
    return 0;
}
