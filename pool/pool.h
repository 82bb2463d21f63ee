/*
 * pool/pool.h - private interface of pool/: per-node pools of fixed-size
 * buffers with per-thread caches (the DPDK mempool use case).
 *
 * Pieces, one file each:
 *   pool.c     create / destroy, segment layout, growth, pointer -> buffer
 *   slot.c     thread slots (a small per-thread id that indexes every pool's
 *              cache array) and the registry of live pools
 *   pcache.c   get / put / bulk / get_wait: the cache fast paths and the
 *              common stack behind them
 *   poolset.c  one pool per node, served by the calling thread's node
 *   worker.c   threads bound to a node's CPUs and handed its pool
 *   pstats.c   statistics, printer, audit
 *
 * Memory.  Buffers live in SEG_POOL segments (arena/region/segment.h)
 * mapped by region_segment_map() under a bind policy to the pool's node and
 * prefaulted.
 * A segment starts with struct pool_seg; its buffers follow at bufs_off and
 * every buffer *starts* in the segment's first SEG_SIZE bytes, so a pointer
 * finds its segment by masking, its pool from the header, and its index by
 * exact division (a multiply, see pool_seg_index()).  Metadata (struct
 * nslab_pool, the caches, the common stack, the segment table, the debug
 * state bytes) is one region_meta_map()ping, never malloc.
 *
 * Lock order: drain_lock (pool-move.c) -> grow_lock -> registry_lock (slot.c)
 *             -> pool->lock.
 *   registry_lock  the list of live pools and the slot allocator; held by a
 *                  thread's exit destructor while it flushes that thread's
 *                  caches, and by destroy while it checks and unlinks a pool.
 *   pool->lock     the common stack (stack, nfree), total, nsegs/segs,
 *                  waiters and the u_* counters; cond signals puts to
 *                  get_wait.
 *   grow_lock      serialises growth so one segment is mapped at a time,
 *                  without holding pool->lock (mapping takes milliseconds and
 *                  the constructor is user code).
 * A cache (struct pool_cache) belongs to the thread holding its slot: only
 * that thread writes its counters; its contents (len, objs) are written by
 * that thread with no lock and no atomic read-modify-write inside a BUSY
 * WINDOW, or by any thread under pool->lock (below).  The slot changes
 * hands only under registry_lock, after the exit destructor emptied it.
 * Other threads read a cache's len and counters relaxed (statistics: a
 * snapshot); the audit reads its contents and so needs the pool quiescent.
 *
 * Concurrency contract of the caches and get_wait (pcache.c):
 *  - busy window: a fast path (pool_cache_pop, pool_put_inline, the bulk
 *    hits) stores pool_self.busy = 1, then loads p->fast_stride (acquire)
 *    and touches the cache it selects, then stores busy = 0 (release).  It
 *    takes no lock and calls nothing inside the window.  fast_stride 0
 *    selects the slot-0 zero cache (cap 0, len 0): every fast path misses.
 *  - outside a window a thread touches its cache's contents only under
 *    pool->lock, and never adds a buffer to it while p->waiters > 0.
 *  - get_wait, before it first sleeps, registers as a waiter (waiters++;
 *    fast_stride = 0 under pool->lock), then makes every thread's earlier
 *    windows visible and finished: membarrier(2) (topology_threads_barrier) acts as a
 *    full barrier on every thread of the process, so a window whose busy =
 *    1 store came before it is seen by the waiter, and a window after it
 *    sees fast_stride 0; the waiter then spins (under registry_lock, so no
 *    slot changes owner) until each slot owner's busy is 0 (acquire: the
 *    window's cache stores are visible).  From then on no fast path can
 *    touch a cache of p, and no slow path adds to one: the waiter moves
 *    every cache of p to the common stack under pool->lock.
 *  - so while a waiter sleeps, every free buffer of p is on the common
 *    stack (or being put there under pool->lock, which broadcasts cond):
 *    the waiter checks the stack under pool->lock before each sleep, and a
 *    put pushes and broadcasts under the same lock, so no wake-up is lost
 *    and no waiter sleeps while a free buffer exists.  The last waiter to
 *    leave restores fast_stride (release store under pool->lock: the
 *    owners' next windows see the drained caches).
 *  - without membarrier (kernel < 4.3, or a seccomp filter refuses it) the
 *    caches cannot be reached safely: the waiter then sees only the stack,
 *    and buffers in other live threads' caches stay there until those
 *    threads flush (nslab_pool_cache_flush) or exit (numaslab.h says so).
 *  - fork: no pool lock is held across fork; the child of a multi-threaded
 *    process re-initialises every pool lock and condition variable, drops
 *    the waiters (they do not exist in the child), and moves the caches of
 *    the slots whose threads do not exist to the common stack (slot.c,
 *    pool_fork_child).  A cache's len is stored with release after its
 *    objs entry, and the stack's nfree after its entries, so what the
 *    child reads is a consistent prefix even when the fork caught a push.
 */
#ifndef NSLAB_POOL_H
#define NSLAB_POOL_H

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "numaslab.h"
#include "segment.h"

#define POOL_MAGIC 0x504f4f4cu    /* "POOL" */
#define POOLSET_MAGIC 0x50534554u /* "PSET" */

/* Thread slots: slot 0 is "no cache" (every pool's slot-0 cache has cap 0,
 * so its fast paths always miss); slots 1 .. POOL_MAX_SLOTS-1 are handed to
 * threads on their first slow-path call.  Threads beyond that use the
 * locked, uncached path. */
#define POOL_MAX_SLOTS 256
#define POOL_CACHE_DEFAULT 64u   /* per-thread cache capacity (buffers) */
#define POOL_CACHE_MAX 1024u
#define POOL_ALIGN_DEFAULT 64u
#define POOL_MAX_BUFFERS UINT32_MAX

/* Debug state of a buffer (NSLAB_POOL_DEBUG): one byte per buffer. */
enum pool_state {
    POOL_ST_NONE = 0, /* not created yet */
    POOL_ST_FREE = 1, /* in the common stack or a cache */
    POOL_ST_OUT = 2   /* handed out */
};

/* Internal pool->flags bit, never a public NSLAB_POOL_* one: the pool
 * belongs to a pool set (poolset.c), so nslab_pool_move refuses it. */
#define POOL_F_SET 0x80000000u

/* pool->slow bits: a put whose pool has any set takes the slow path. */
#define POOL_SLOW_DEBUG 0x1u   /* NSLAB_POOL_DEBUG: state bytes to check */
#define POOL_SLOW_WAITERS 0x2u /* get_wait sleepers: puts go to the stack */

/* The header of a pool segment.  Invariants: hdr.kind == SEG_POOL; buffers
 * i < nbufs start at base + i * pool->stride, all < (char *)this + SEG_SIZE;
 * global index of buffer i is first + i.  Immutable while registered,
 * except hdr.node: nslab_pool_move (pool-move.c) rewrites it, relaxed
 * atomic, with pool->node. */
struct pool_seg {
    struct seg_hdr hdr;     /* first: kind SEG_POOL, node, map_size */
    struct nslab_pool *pool;
    char *base;             /* first buffer */
    uint64_t inv;           /* inverse of (stride >> shift) modulo 2^64 */
    uint32_t nbufs;
    uint32_t first;
    uint32_t shift;         /* ctz(stride) */
    uint32_t reserved;
};

/* A thread's cache of one pool: a stack, objs[len-1] the hottest buffer,
 * objs[0] the coldest.  Invariant: len <= cap; cap is 0 for slot 0 and for
 * pools without caches (then every slot aliases one zero cache).  Counters
 * count buffers. */
struct pool_cache {
    uint32_t len;
    uint32_t cap;
    uint64_t get_hit;      /* buffers given from the cache */
    uint64_t put_hit;      /* buffers returned into the cache */
    uint64_t get_miss;     /* buffers given through the common stack */
    uint64_t put_miss;     /* buffers returned through the common stack */
    uint64_t remote_puts;  /* puts by this thread while on another node */
    uint64_t pad[2];
    void *objs[];
} __attribute__((aligned(64)));

/* A pool.  Invariants (under lock, caches quiescent):
 *   nfree + sum(cache len) + out == total <= max_count
 *   out == sum(get_*) + u_get - sum(put_*) - u_put (buffers, all slots)
 *   every buffer is in exactly one of: stack[0..nfree), a cache, out;
 *   with NSLAB_POOL_DEBUG, state[i] == POOL_ST_OUT exactly for those out. */
struct nslab_pool {
    /* read-mostly: the fast paths read only this line and their cache */
    uint32_t magic;
    uint32_t slow;          /* POOL_SLOW_*: relaxed atomic */
    int32_t node;
    uint32_t flags;         /* NSLAB_POOL_* */
    char *caches;           /* slot s's cache: caches + s * cache_stride */
    size_t fast_stride;     /* what the fast paths use instead of
                               cache_stride: equal to it, or 0 while the
                               fast paths must not be taken (debug pool,
                               get_wait sleepers): every slot then reads the
                               slot-0 cache, cap 0, so every get and put
                               falls to the slow path.  Relaxed atomic; one
                               word, so a racing reader sees either value. */
    size_t cache_stride;    /* 0 when the pool has no caches */
    uint32_t cache_cap;
    uint32_t per_seg;       /* buffers in a full segment */
    size_t stride;          /* elt_size rounded up to align */
    size_t elt_size;
    size_t align;
    size_t bufs_off;        /* first buffer's offset in a segment */

    pthread_mutex_t lock __attribute__((aligned(64)));
    pthread_cond_t cond;    /* CLOCK_MONOTONIC; signalled on puts when waiters */
    uint32_t nfree;         /* depth of the common stack */
    uint32_t total;         /* buffers created */
    uint32_t waiters;       /* threads in get_wait */
    uint32_t nsegs;
    uint64_t u_get, u_put;  /* buffers through slot 0 (uncached threads) */
    uint64_t u_remote;      /* remote puts through slot 0 */
    uint64_t dropped;       /* puts refused by a full stack (double puts
                               that escaped the debug check): audit fails */
    uint64_t migrations;    /* atomic (relaxed RMW, slow path only) */
    size_t committed;       /* bytes of segments mapped */
    size_t reserved;        /* bytes of capacity still reserved */

    void **stack;           /* [max_count]: the common stack */
    struct pool_seg **segs; /* [max_segs], in index order */
    uint8_t *state;         /* [max_count] with NSLAB_POOL_DEBUG, else NULL */
    uint32_t max_count;
    uint32_t count;
    uint32_t max_segs;
    nslab_prefault_t prefault;
    void (*ctor)(void *buf, size_t idx, void *arg);
    void *ctor_arg;
    pthread_mutex_t grow_lock;
    char *meta;             /* caches, stack, segs, state: one mapping of */
    size_t meta_size;       /* meta_size bytes (this header is a page of
                               its own: pool.c keeps it after destroy) */
    unsigned long topo_gen; /* topology_generation the pool's placement was
                               last checked against (pool-move.c; written
                               under grow_lock, read relaxed) */

    /* registry of live pools (slot.c), under registry_lock */
    struct nslab_pool *reg_next, *reg_prev;
    unsigned long drain_pass; /* the last drain walk that took it
                                 (pool-move.c; registry_lock) */
};

/* What the calling thread knows about itself. */
struct pool_thread {
    uint32_t slot;     /* 0 = no cache */
    int32_t node;      /* local node at the last slow path, -1 unknown */
    int32_t set_node;  /* node whose pool the last poolset get used */
    uint32_t state;    /* POOL_THR_* */
    uint32_t busy;     /* 1 inside a busy window (see the contract above);
                          read by get_wait's waiters through slot_owner */
    uint32_t reserved;
};
#define POOL_THR_NEW 0      /* no slot asked yet */
#define POOL_THR_ATTACHED 1 /* slot asked (maybe 0: none left) */
#define POOL_THR_EXITED 2   /* exit destructor ran: stay uncached */

extern __thread struct pool_thread pool_self
    __attribute__((tls_model("initial-exec")));

static inline struct pool_cache *pool_cache_of(const struct nslab_pool *p,
                                               uint32_t slot)
{
    return (struct pool_cache *)(p->caches + (size_t)slot * p->cache_stride);
}

/* Owner-only counter / length updates: a plain add, stored relaxed so
 * statistics readers on other threads are not a data race. */
static inline void pool_set32(uint32_t *x, uint32_t v)
{
    __atomic_store_n(x, v, __ATOMIC_RELAXED);
}
static inline void pool_add64(uint64_t *x, uint64_t v)
{
    __atomic_store_n(x, *x + v, __ATOMIC_RELAXED);
}
/* A cache's len after a push: the new objs entries first (a fork child
 * reads a consistent prefix). */
static inline void pool_set32_rel(uint32_t *x, uint32_t v)
{
    __atomic_store_n(x, v, __ATOMIC_RELEASE);
}

/* The busy window (see the contract above). */
static inline void pool_busy_enter(void)
{
    __atomic_store_n(&pool_self.busy, 1, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* membarrier orders it for the hardware */
}
static inline void pool_busy_leave(void)
{
    __atomic_store_n(&pool_self.busy, 0, __ATOMIC_RELEASE);
}

/* The pool segment holding buf, or NULL (not the library's, not a pool's).
 * seg_lookup_inline() spelled out so the compiler needs no NULL test
 * between the bitmap and the header. */
static inline struct pool_seg *pool_seg_of(const void *buf)
{
    uintptr_t a = (uintptr_t)buf, i = a >> SEG_SHIFT;
    if (__builtin_expect(a >> SEG_VA_BITS, 0))
        return NULL;
    if (__builtin_expect(!((__atomic_load_n(&seg_bitmap[i / 64], __ATOMIC_RELAXED) >>
                            (i % 64)) & 1), 0))
        return NULL;
    struct pool_seg *s = (struct pool_seg *)(a & ~(uintptr_t)SEG_MASK);
    return __builtin_expect(s->hdr.kind == SEG_POOL, 1) ? s : NULL;
}

/* Index of buf within segment s, or UINT32_MAX if buf is not on a buffer
 * boundary of s.  Exact division by multiplication (Granlund-Montgomery):
 * stride = d << shift with d odd, inv = d^-1 mod 2^64, off = buf - base;
 *     q = rotate_right(off * inv, shift)
 * is off / stride when stride divides off, and is >= nbufs otherwise:
 *  - if off's low `shift` bits are not all zero, neither are the product's
 *    (inv is odd), and the rotation moves them to the top: q >= 2^(64-shift);
 *  - else the rotation yields (off >> shift) * inv mod 2^(64-shift), and
 *    x -> x * inv is a bijection of [0, 2^(64-shift)) that takes the
 *    multiples m * d onto m, so a non-multiple lands above every m with
 *    m * d < 2^(64-shift), far above nbufs (nbufs * stride < 2 SEG_SIZE).
 * A pointer below base wraps to a huge off: no small multiple of stride. */
static inline uint32_t pool_seg_index(const struct pool_seg *s, const void *buf)
{
    uint64_t q = (uint64_t)((uintptr_t)buf - (uintptr_t)s->base) * s->inv;
    q = (q >> s->shift) | (q << ((64 - s->shift) & 63));
    return q < s->nbufs ? (uint32_t)q : UINT32_MAX;
}

/* pool.c */
int pool_grow(struct nslab_pool *p, uint32_t need);
/* After a layout change (topology_generation moved since p->topo_gen):
 * check where the pool's pages are; pages off p->node are moved back while
 * the node is allowed, else the pool follows its pages (its node becomes
 * the node holding most of them, as nslab_pool_move would set it).  Cheap
 * when nothing changed (two loads).  Takes grow_lock: not with it held. */
void pool_layout_check(struct nslab_pool *p);
/* Fork child of a multi-threaded process: pool_layout_check's lock back. */
void pool_layout_fork_child(void);
/* Draining a node (pool-move.c): move every pool on `node` to `target`
 * (registered with region_set_drain).  drain_lock, outermost (drain_lock
 * -> grow_lock -> registry_lock -> pool->lock), is held for the whole walk
 * and by nslab_pool_destroy, so no pool is destroyed while it is moved. */
void pool_drain(int node, const nslab_nodeset_t *to, int target, nslab_drain_report_t *rep);
void pool_drain_lock(void);
void pool_drain_unlock(void);
void pool_drain_fork_child(void);
/* Under registry_lock: the first live pool on `node` whose drain_pass is
 * not `pass` (then set to it), or NULL (slot.c). */
struct nslab_pool *pool_registry_next_on(int node, unsigned long pass);

/* nslab_node_of of a pool segment's memory (registered with seg_set_node). */
int pool_seg_node(struct seg_hdr *h);
void *pool_buf_at(const struct nslab_pool *p, uint32_t idx);
/* Global index of buf in p, or UINT32_MAX when buf is not a buffer of p. */
uint32_t pool_index_of(const struct nslab_pool *p, const void *buf);
int pool_check(const struct nslab_pool *p); /* 0 or EINVAL (magic) */
/* A header that is no live pool's: magic 0, fast paths read the slot-0
 * zero cache through it and miss, so every call on it reaches a
 * pool_check and fails with EINVAL.  A destroyed set's routes point here. */
extern struct nslab_pool pool_dead;
/* Handles kept readable after destroy (pool.c): a dead page goes on a
 * FIFO and is reused for a new handle only once POOL_TOMBS_KEEP more
 * recent ones wait behind it.  Under pool_registry_lock. */
#define POOL_TOMBS_KEEP 16

/* slot.c */
void pool_thread_attach(void);      /* get a slot (or 0) on first use */
int pool_thread_refresh(void);      /* pool_self.node = local node, returned */
void pool_registry_add(struct nslab_pool *p);
/* Under registry_lock: if fn(p) returns 0, unlink p.  Returns fn's value.
 * Lets destroy check "no buffer out" with no thread exit flushing into p. */
int pool_registry_remove_if(struct nslab_pool *p, int (*fn)(struct nslab_pool *));
void pool_registry_lock(void);
void pool_registry_unlock(void);

/* pcache.c */
void *pool_get_slow(struct nslab_pool *p);
/* Sets errno on failure, like pool_put_inline. */
int pool_put_slow(struct nslab_pool *p, struct pool_seg *s, void *buf);
/* fast_stride as it should be with no get_wait sleeper. */
static inline size_t pool_fast_stride(const struct nslab_pool *p)
{
    return (p->flags & NSLAB_POOL_DEBUG) ? 0 : p->cache_stride;
}
/* Push n buffers onto p's common stack; caller holds p->lock.  Wakes
 * get_wait sleepers. */
void pool_stack_push(struct nslab_pool *p, void *const *bufs, uint32_t n);
/* Flush slot's cache of p entirely to the common stack (takes p->lock). */
void pool_cache_drain(struct nslab_pool *p, uint32_t slot);
/* get_wait's quiescence (slot.c): after the caller stored fast_stride 0,
 * return once no thread is inside a busy window begun before that store.
 * 0, or the errno of membarrier (then nothing is known). */
int pool_threads_quiesce(void);
/* In a fork child (slot.c calls it for each live pool): re-initialise p's
 * locks and condition variable, forget the waiters, move the caches of
 * every slot but `mine` to the common stack. */
void pool_fork_child_pool(struct nslab_pool *p, uint32_t mine);
/* In a fork child whose registry lock was held: forget the queue of dead
 * handles (pool.c; their pages stay mapped, unused). */
void pool_tombs_fork_reset(void);

/* poolset.c: the pool a thread whose local node is `node` is served by. */
struct nslab_pool *poolset_route(nslab_poolset_t *s, int node);

/* pstats.c */
uint32_t pool_cached_total(const struct nslab_pool *p); /* sum of cache len */

/* The fast paths, shared by pcache.c and poolset.c.  A hit reads the
 * pool's first line and the thread's cache, and writes only the cache. */
/* Inside a busy window only. */
static inline struct pool_cache *pool_cache_fast(const struct nslab_pool *p)
{
    return (struct pool_cache *)(p->caches +
                                 (size_t)pool_self.slot *
                                     __atomic_load_n(&p->fast_stride, __ATOMIC_ACQUIRE));
}

/* The cache hit: pop the calling thread's cached buffer of p, or NULL when
 * its cache is empty (the caller takes the slow path). */
static inline void *pool_cache_pop(struct nslab_pool *p)
{
    void *b = NULL;
    pool_busy_enter();
    struct pool_cache *c = pool_cache_fast(p);
    uint32_t n = c->len;
    if (__builtin_expect(n != 0, 1)) {
        b = c->objs[n - 1];
        pool_set32(&c->len, n - 1);
        pool_add64(&c->get_hit, 1);
    }
    pool_busy_leave();
    return b;
}

static inline void *pool_get_inline(struct nslab_pool *p)
{
    void *b = pool_cache_pop(p);
    if (__builtin_expect(b != NULL, 1))
        return b;
    return pool_get_slow(p);
}

int pool_put_einval(void) __attribute__((cold, noinline));

/* 0, or a negative errno (-EINVAL: not a buffer of `want` / of any pool;
 * -EALREADY: debug double put); errno is set on failure. */
static inline int pool_put_inline(struct nslab_pool *want, void *buf)
{
    struct pool_seg *s = pool_seg_of(buf);
    if (__builtin_expect(!s, 0))
        return pool_put_einval();
    struct nslab_pool *p = s->pool;
    if (__builtin_expect((want && want != p) || pool_seg_index(s, buf) == UINT32_MAX, 0))
        return pool_put_einval();
    pool_busy_enter();
    struct pool_cache *c = pool_cache_fast(p);
    uint32_t n = c->len;
    if (__builtin_expect(n < c->cap, 1)) {
        c->objs[n] = buf;
        pool_set32_rel(&c->len, n + 1);
        pool_busy_leave();
        pool_add64(&c->put_hit, 1);
        if (__builtin_expect(pool_self.node != __atomic_load_n(&p->node, __ATOMIC_RELAXED), 0))
            pool_add64(&c->remote_puts, 1);
        return 0;
    }
    pool_busy_leave();
    return pool_put_slow(p, s, buf);
}

#endif /* NSLAB_POOL_H */
