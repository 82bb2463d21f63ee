/*
 * arena/arena.h - private interface of the per-node slab arenas.
 *
 * Shape (DESIGN.md, promises 1-3, 10, 12):
 *
 *   chunk    a SEG_SIZE (4 MiB) segment bound to one node (os_bind,
 *            region_segment_map_held) before any block of it is handed
 *            out, and committed on use: a slab's pages are populated when
 *            the slab is carved (the prefault setting), the rest of the
 *            chunk stays reserved in the capacity ledger.  Split into
 *            ARENA_PAGES pages of 64 KiB; page 0 holds the struct chunk
 *            header (so 1/64 of a chunk is metadata).  Free pages go back
 *            to the kernel after a delay counted in releases, and are
 *            populated again (on the node) before a slab is carved on them
 *            again (chunk.c).
 *   slab     a span of 1..8 pages of one chunk holding blocks of one size
 *            class (small classes 1 page; larger classes span enough pages
 *            for >= 8 blocks).  Its descriptor lives in the chunk header,
 *            indexed by its first page; every page records its slab's first
 *            page, its class, and its bin offset, so
 *               pointer -> chunk (mask) -> page (shift) -> class, node, slab
 *            is O(1) and takes no lock.
 *   arena    one per node (struct arena, mapped lazily with os_map): per
 *            size class a lock, the list of partial slabs and a lock-free
 *            stack of remote-freed blocks; per node a chunk list.
 *   tcache   one per thread (os_map, never malloc; an exited thread's cache
 *            is reused by the next new thread), with per node per class
 *            a bin: a LIFO list of blocks of that node and class, a count
 *            (kept as `room` = limit - count) and an alloc counter.
 *
 * Routing: a freed block goes into the FREEING thread's bin for the BLOCK's
 * node, so a block of node A is only ever handed out by an allocation for
 * node A.  When a bin passes its limit, half of it is flushed: straight to
 * the arena under the class lock when the thread runs on that node, else as
 * one linked batch pushed onto the arena's per-class remote stack with one
 * CAS (remote.c).  The arena collects remote batches under its class lock
 * on its slow paths (refill, local flush).
 *
 * Lock order (never the other way round):
 *     tcache_registry_lock  ->  arena->cls[c].lock (ascending c, ascending
 *     node)  ->  arena->chunk_lock  ->  arena->large_lock
 * (large_lock is a leaf: large.c takes it alone, chunk.c's purge step
 * inside chunk_lock (large_purge_step); the audit holds it with the
 * others.)  fork takes none of them: the child repairs what it
 * inherits (arena.c, "fork").
 * The remote stacks are atomics (push: CAS release; collect: exchange
 * acquire, under the class lock).  Thread bins are touched only by their
 * thread, except by stats (racy, relaxed reads of counters) and by the audit
 * (which requires the other threads to be quiescent).
 *
 * Everything here is safe before main and from inside the malloc
 * replacement's bootstrap: no malloc, no stdio (except the printers), no
 * pthread_once of its own; per-node arena structs and thread caches come
 * from os_map.
 *
 * For the malloc replacement (malloc.c): arena_alloc_local_inline(size)
 * (numa_malloc_local's hit path, one TLS load), arena_alloc_inline(node,
 * size, local) and arena_free_inline(p) are the hit paths to inline; the
 * fork handlers are registered once by arena_fork_register().
 *
 * Fast-path cost: counted by callgrind over a 64-byte pair
 * (bench/fastpath.c; the figures and their history are in
 * bench/analysis.md, "Hostile-free checks"): 58 instructions a pair
 * through the API and through the malloc replacement, loop included
 * (numa_malloc_local 18, nslab_free 29; malloc 19, free 28), of which
 * the hostile-free checks cost 8 (the block-start test's copy, multiply
 * and shift, the free key's load, compare, branch and store, the key's
 * clear on hand-out).  Leaf functions: no frame, no saved register on the
 * hit path.  The shape of struct tcache (its local table), struct chunk
 * (test_mul, bin_base), chunk_map and sc_table is tuned for it, and a few
 * one-instruction asm helpers (ARENA_FOLD_ASM, x86-64) give GCC the
 * addressing modes and the folded relaxed loads it does not find itself
 * (see the comments at each).
 */
#ifndef NSLAB_ARENA_H
#define NSLAB_ARENA_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "numaslab.h"
#include "region.h"
#include "segment.h"
#include "sizeclass.h"
#include "topology.h"

#define ARENA_LIKELY(x) __builtin_expect(!!(x), 1)
#define ARENA_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ARENA_TLS __attribute__((tls_model("initial-exec")))
#define ARENA_CACHELINE 64

/* Relaxed atomic reads of a word another thread may store (a thread
 * cache's node_bytes and cpu: caches_poke, layout.c; a page's bin_base:
 * a chunk's retirement), folded into the instruction that uses them.  GCC
 * does not fold an __atomic load into a compare or an add, which cost the
 * fast paths one instruction each; on x86-64 the asm forms are the same
 * single aligned load, which the hardware makes atomic, as part of the
 * cmp or add.  ThreadSanitizer builds (and other targets) use the
 * __atomic loads, which TSan sees. */
#if defined(__SANITIZE_THREAD__)
#define ARENA_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ARENA_TSAN 1
#endif
#endif
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__) && !defined(ARENA_TSAN)
#define ARENA_FOLD_ASM 1
#endif

/* An empty asm that makes the compiler forget what it knows of x's value,
 * so that it does not keep a sum with x in a register across it: the
 * accesses on either side each use x in their addressing mode. */
#define ARENA_NO_CSE(x) __asm__("" : "+r"(x))

/* --*p < 0, the decrement addressed as the caller wrote it (GCC computes
 * an indexed address into a register first for a read-modify-write whose
 * flags it uses: one instruction). */
static inline int arena_dec_negative(int32_t *p)
{
#ifdef ARENA_FOLD_ASM
    int neg;
    __asm__("subl $1, %[p]" : [p] "+m"(*p), "=@ccs"(neg));
    return neg;
#else
    return --*p < 0;
#endif
}

/* x < *bound */
static inline int arena_below_relaxed(size_t x, const size_t *bound)
{
#ifdef ARENA_FOLD_ASM
    int below;
    __asm__("cmpq %[b], %[x]" : "=@ccb"(below) : [b] "m"(*bound), [x] "r"(x));
    return below;
#else
    return x < __atomic_load_n(bound, __ATOMIC_RELAXED);
#endif
}

/* x == *p */
static inline int arena_equal_relaxed(int x, const int *p)
{
#ifdef ARENA_FOLD_ASM
    int eq;
    __asm__("cmpl %[p], %[x]" : "=@cce"(eq) : [p] "m"(*p), [x] "r"(x));
    return eq;
#else
    return x == __atomic_load_n(p, __ATOMIC_RELAXED);
#endif
}

/* x + *p */
static inline uint64_t arena_add_relaxed(uint64_t x, const uint64_t *p)
{
#ifdef ARENA_FOLD_ASM
    __asm__("addq %[p], %[x]" : [x] "+r"(x) : [p] "m"(*p) : "cc");
    return x;
#else
    return x + __atomic_load_n(p, __ATOMIC_RELAXED);
#endif
}

/* ---- chunks and slabs ------------------------------------------------- */

#define ARENA_PAGE_SHIFT 16
#define ARENA_PAGE_SIZE ((size_t)1 << ARENA_PAGE_SHIFT)
#define ARENA_PAGES ((unsigned)(SEG_SIZE >> ARENA_PAGE_SHIFT)) /* 64 */
/* Empty chunks each node keeps mapped instead of unmapping (so a workload
 * that frees everything and allocates again does not remap each time). */
#define ARENA_EMPTY_RETAIN 1
/* Decommit of free chunk pages (chunk.c): every ARENA_PURGE_INTERVAL page
 * runs released on a node, the free pages that stayed free and committed
 * since the previous such step are decommitted; and when a release leaves
 * more free committed pages on the node than ARENA_PURGE_MAX_PAGES or, if
 * more, than the smaller of its slab pages and twice the pages its live
 * blocks fill at their recent peak (sampled every ARENA_PURGE_SAMPLE such
 * releases), all of them are. */
#define ARENA_PURGE_INTERVAL 1024
#define ARENA_PURGE_MAX_PAGES 256
#define ARENA_PURGE_SAMPLE 16
/* A new slab's pages are populated as its fresh blocks are handed out, this
 * many bytes at a time (slab.c), not all at its carving: a program that
 * uses a few blocks of a class commits 16 KiB of it, not 64 - 512 KiB. */
#define ARENA_POPULATE_STEP ((size_t)16 << 10)
/* Emptied slabs kept per class instead of released (slab.c), and the most
 * pages all kept slabs of a node may hold. */
#define ARENA_SLAB_KEEP 16
#define ARENA_KEPT_PAGES_MAX 64

/* A slab: pages [first, first + npages) of `chunk`, blocks of class cls.
 * Protected by the arena's class lock (arena->cls[cls].lock).
 * Invariants (audit.c checks them):
 *   used + |free| + (capacity - fresh) == capacity;
 *   in_partial  <=>  used < capacity (it has a free or a fresh block);
 *   used == 0 only for the class's kept empty slabs (slab.c: at most
 *   ARENA_SLAB_KEEP per class, ARENA_KEPT_PAGES_MAX pages per node, counted
 *   in arena_class.empty_slabs and arena.kept_pages, marked `kept`, and
 *   reset to the carved state: no free list, fresh == 0); any other slab
 *   whose used drops to 0 gives its pages back to its chunk at once;
 *   every block on `free` is a block start inside the slab, at an index
 *   < fresh, and appears in no other list. */
struct slab {
    void *free;              /* blocks returned to this slab (LIFO) */
    char *start;             /* block 0: the first page's address +
                                slab_slack(cls), so that the last block
                                ends at the slab's last byte */
    struct slab *next, *prev; /* the class's partial list */
    uint32_t used;           /* blocks out: in caches, remote stacks, in use */
    uint32_t fresh;          /* blocks [fresh, capacity) never handed out */
    uint32_t capacity;
    uint32_t populated;      /* bytes from the first page's address
                                known populated (slab.c:
                                fresh blocks are handed out from populated
                                pages, ARENA_POPULATE_STEP at a time) */
    uint8_t cls;
    uint8_t npages;
    uint8_t first;
    uint8_t in_partial;
    uint8_t kept;            /* a kept empty slab (counted in empty_slabs):
                                used == 0, free == NULL, fresh == 0 */
};

/* page_off of a page that holds no blocks: fails every cache's bound. */
#define CHUNK_NO_BIN UINT32_MAX
/* bin_base of a page whose frees take the slow path (no blocks, a retired
 * chunk, no multiplier found): base + anything the product can add (below
 * 2^(64 - CHUNK_TEST_SHIFT)) fails every cache's bound, whatever mul the
 * page holds. */
#define CHUNK_NO_BASE ((uint64_t)1 << 63)
/* The shift of the free fast path's block test (struct chunk_pg). */
#define CHUNK_TEST_SHIFT 24

/* The header at the start of every chunk (kind SEG_CHUNK).
 * Per-page tables: pages not in a slab (header page, free pages) have
 * bin_off == CHUNK_NO_BIN, bin_base == CHUNK_NO_BASE, test_mul == 0 and
 * cls == 0.  A block page's bin_off is the byte offset of its bin from the
 * start of a thread cache, node and class folded into one number
 * (hdr.node * sizeof(struct tc_node) + sc_binoff(class)).  The page's
 * entries (test_mul, bin_base, pg[], cls, head) are written under its
 * class lock when the slab is carved or released (bin_base and bin_off
 * with relaxed atomic stores, also when the chunk is retired); the free
 * fast path reads them without a lock (the block it frees was handed to
 * it through a lock or an acquire, after the write).
 * used_pages / committed_pages / aged_pages / free_pages / next / prev:
 * arena->chunk_lock. */
/* What the free fast path reads of a page: two words, test_mul[page] and
 * bin_base[page], that give a bin offset that is the page's bin_off
 * exactly when the pointer a is a block start of the page's slab, and
 * fails every cache's bound otherwise:
 *     off(a) = bin_base + ((a * test_mul mod 2^64) >> CHUNK_TEST_SHIFT)
 * Four instructions (copy, multiply, shift, add), the block-start test
 * and the bin offset load in one; the bound check that follows is the one
 * the free path always made.  (Two arrays of 8-byte words, not one array
 * of entries: the fast path addresses them as base + page number * 8, the
 * largest scale an x86 address has, with base = chunk index * (SEG_SIZE -
 * 8 * ARENA_PAGES), one multiply, instead of masking the page number.)
 * Why it holds (L = CHUNK_TEST_SHIFT, mul = test_mul, d the class size
 * <= 2^16, S <= 2^19 the slab's bytes, start its first block, which is
 * the first page's address + slab_slack(cls), slack = S mod d < d, so
 * that the capacity blocks end at the slab's last byte):
 *   mul = ceil(j 2^64 / d) for a j < d coprime with d, so d mul = j 2^64
 *   + eps with 0 <= eps < d.  Any a of the slab's pages is a = start +
 *   q d + r with 0 <= r < d and -1 <= q < capacity (q == -1: the slack
 *   before block 0); a mul = s + X (mod 2^64), s = start mul mod 2^64.
 *   When r == 0, q >= 0 (the slack is shorter than d) and a is a block
 *   start: X = q eps < S.  When r != 0: r mul mod 2^64 = ((r j mod d)
 *   2^64 + r eps) / d with r j mod d not 0, in [2^64 / d, 2^64 - 2^64 / d
 *   + d), and X = that + q eps with q eps in [-d, S), so X >= 2^48 - 2^17
 *   and 2^64 - X > 2^48 - 2^20, both > 2^47.
 *   The slab's mul is picked (slab.c, slab_test_mul) so that
 *   (s mod 2^L) + (capacity - 1) eps < 2^L: then every block start gives
 *   (a mul) >> L == s >> L, and bin_base = bin_off - (s >> L) (mod 2^64)
 *   gives bin_off; any other a of the slab's pages is moved by at least
 *   2^(47 - L) - 1 = 2^23 - 1 up or down from bin_off, past every cache's
 *   bound (at most NSLAB_MAX_NODES * 4096 = 2^22; down, it wraps past
 *   2^63).  Power-of-two classes take j = 1, eps = 0, s = 0 (their slack
 *   is 0: a slab starts on a 64 KiB boundary).  So every address of the
 *   slab's pages but its block starts is refused: past the last block
 *   begins the next page, with entries of its own.  (When block 0 was
 *   the first page's address, the slab's unused tail began at q =
 *   capacity, a multiple of d, and passed like a block start.)
 * The slow path's exact test (chunk_block_start) is a mul - start_mul <
 * 2^32 with the same mul: it holds for a retired chunk's pages too, whose
 * bin_base is CHUNK_NO_BASE. */
struct chunk_pg {
    uint64_t start_mul; /* (uint64_t)slab start * test_mul */
    uint32_t bin_off;   /* the page's bin offset in a cache, or CHUNK_NO_BIN */
    uint32_t reserved;
};
_Static_assert(((uint64_t)1 << (48 - CHUNK_TEST_SHIFT)) > 2 * (uint64_t)NSLAB_MAX_NODES * 4096 + 2,
               "a non-block-start moves past every cache's bound");

struct chunk {
    struct seg_hdr hdr;                /* kind SEG_CHUNK, node */
    uint32_t node_off;                 /* hdr.node * sizeof(struct tc_node) */
    uint32_t held;                     /* 1: the capacity ledger holds, for
                                          this chunk, every page not in
                                          committed_pages (chunk.c) */
    uint32_t retired;                  /* 0, or (layout.c) the node most of
                                          its pages were found on + 1: no
                                          block is handed out from it any
                                          more, its pages' bin offsets are
                                          CHUNK_NO_BIN, its slabs are on no
                                          partial list, and it is unmapped
                                          when its last block comes back.
                                          Written under every class lock
                                          and chunk_lock; read relaxed */
    uint64_t test_mul[ARENA_PAGES];    /* page -> the slab's multiplier
                                          (above); 0 without blocks */
    uint64_t bin_base[ARENA_PAGES];    /* page -> bin_off - (start_mul >>
                                          CHUNK_TEST_SHIFT), or
                                          CHUNK_NO_BASE */
    struct chunk_pg pg[ARENA_PAGES];   /* page -> bin offset, exact test */
    uint8_t cls[ARENA_PAGES];          /* page -> size class, 0 = none */
    uint8_t head[ARENA_PAGES];         /* page -> first page of its slab */
    uint64_t used_pages;               /* bit i: page i in use (bit 0 =
                                          the header page, always set) */
    uint64_t committed_pages;          /* bit i: page i is the node's
                                          memory: populated when a slab was
                                          carved on it (or, under prefault
                                          NONE, given to a slab to fault in
                                          at first touch); clear for pages
                                          never used and pages decommitted
                                          with os_decommit (chunk.c);
                                          used_pages is a subset */
    uint64_t aged_pages;               /* free committed pages not taken
                                          since the node's last purge step
                                          (decommitted at the next one) */
    uint64_t abandoned_pages;          /* pages in use that no slab owns
                                          any more: left half-updated by a
                                          thread that did not survive a
                                          fork (arena.c); never handed out,
                                          released or purged, and a block
                                          freed onto one is dropped; a
                                          subset of used_pages */
    unsigned free_pages;
    struct chunk *next, *prev;         /* arena's chunk list */
    struct arena *arena;
    struct slab slabs[ARENA_PAGES];    /* indexed by first page */
};

_Static_assert(sizeof(struct chunk) <= ARENA_PAGE_SIZE, "the chunk header fits page 0");

/* One byte per SEG_SIZE of user address space (32 MiB of .bss, touched
 * only where chunks live: one page of it covers 16 GiB): 1 while a chunk
 * is registered there.  It duplicates, for chunks only, what the segment
 * bitmap says, so the free fast path finds "is this a chunk?" with one
 * byte compare instead of a bitmap test and a kind check.  Set after
 * seg_register, cleared before seg_unregister (chunk.c); relaxed loads. */
#define CHUNK_MAP_ENTRIES ((size_t)1 << (SEG_VA_BITS - SEG_SHIFT))
extern uint8_t chunk_map[CHUNK_MAP_ENTRIES];

static inline struct chunk *chunk_of(const void *p)
{
    return (struct chunk *)((uintptr_t)p & ~(uintptr_t)SEG_MASK);
}
static inline unsigned chunk_page(const void *p)
{
    return (unsigned)((uintptr_t)p >> ARENA_PAGE_SHIFT) & (ARENA_PAGES - 1);
}
static inline struct slab *chunk_slab_of(struct chunk *c, const void *p)
{
    return &c->slabs[c->head[chunk_page(p)]];
}

/* The bytes of a class's slab before its first block: the slab's span mod
 * the class size (0 for every size that divides the span, the powers of
 * two among them), so that the last block ends at the slab's last byte
 * and no address inside the slab's pages that is a multiple of the size
 * away from the first block lies outside a block (struct chunk_pg).  A
 * multiple of 16 (span and size are), and of the largest power of two
 * that divides the size: a block is as aligned as at a page boundary. */
static inline size_t slab_slack(unsigned cls)
{
    return (size_t)sc_pages[cls] * ARENA_PAGE_SIZE - (size_t)sc_capacity[cls] * sc_size[cls];
}
/* The address of page `first` of chunk c: a slab's span starts there, its
 * block 0 slab_slack() later. */
static inline char *slab_span(const struct chunk *c, unsigned first)
{
    return (char *)c + (size_t)first * ARENA_PAGE_SIZE;
}

/* Is p the start of a block of its slab (a page with blocks)?  The
 * struct chunk_pg comment says why: a block start leaves less than 2^19,
 * anything else of the slab's pages (the slack before block 0 included)
 * more than 2^47 either side. */
static inline int chunk_block_start(const struct chunk *c, const void *p)
{
    unsigned i = chunk_page(p);
    return (uint64_t)(uintptr_t)p * c->test_mul[i] - c->pg[i].start_mul < ((uint64_t)1 << 32);
}

/* The free fast path's bin offset for a (struct chunk_pg): the page's
 * bin_off when a is a block start of its slab, else above every cache's
 * bound.  pn = a >> ARENA_PAGE_SHIFT, base = the chunk's address - (pn &
 * ~(ARENA_PAGES - 1)) * 8, so that base + pn * 8 is the chunk plus the
 * page's index * 8 (the fast path: chunk index * (SEG_SIZE - 8 *
 * ARENA_PAGES)).  bin_base is read relaxed (a chunk's retirement rewrites
 * it while frees run).  On x86-64 one asm statement addresses both words
 * as base + pn * 8 + displacement: in C, GCC computes a common address
 * into a register first, and does not fold an __atomic load into the add
 * (two instructions more). */
static inline size_t chunk_test_off(uintptr_t base, uintptr_t pn, uintptr_t a)
{
#ifdef ARENA_FOLD_ASM
    uint64_t x;
    __asm__("imulq %c[mul](%[base],%[pn],8), %[x]\n\t"
            "shrq %[sh], %[x]\n\t"
            "addq %c[bb](%[base],%[pn],8), %[x]"
            : [x] "=r"(x)
            : "0"((uint64_t)a), [base] "r"(base), [pn] "r"(pn),
              [mul] "i"(offsetof(struct chunk, test_mul)),
              [bb] "i"(offsetof(struct chunk, bin_base)), [sh] "i"(CHUNK_TEST_SHIFT),
              "m"(*(const uint64_t *)(base + pn * 8 + offsetof(struct chunk, test_mul))),
              "m"(*(const uint64_t *)(base + pn * 8 + offsetof(struct chunk, bin_base)))
            : "cc");
    return x;
#else
    const uint64_t *mul = (const uint64_t *)(base + pn * 8 + offsetof(struct chunk, test_mul));
    const uint64_t *bb = (const uint64_t *)(base + pn * 8 + offsetof(struct chunk, bin_base));
    return __atomic_load_n(bb, __ATOMIC_RELAXED) + (((uint64_t)a * *mul) >> CHUNK_TEST_SHIFT);
#endif
}

/* chunk_test_off's base for chunk index ci (a >> SEG_SHIFT): ci * (SEG_SIZE
 * - 8 * ARENA_PAGES), one imul (GCC turns the product into shifts and a
 * subtraction: three instructions). */
#define CHUNK_TEST_BASE_MUL (SEG_SIZE - 8 * (uintptr_t)ARENA_PAGES)
static inline uintptr_t chunk_test_base(uintptr_t ci)
{
#ifdef ARENA_FOLD_ASM
    __asm__("imulq %[k], %[ci], %[ci]" : [ci] "+r"(ci) : [k] "i"(CHUNK_TEST_BASE_MUL) : "cc");
    return ci;
#else
    return ci * CHUNK_TEST_BASE_MUL;
#endif
}

/* ---- per-node arenas -------------------------------------------------- */

/* Freed large regions each node keeps for reuse: at most this many, of at
 * most ARENA_LARGE_CACHE_ENTRY mapped bytes each, ARENA_LARGE_CACHE_BYTES in
 * all (large.c says why). */
#define ARENA_LARGE_CACHE 32
#define ARENA_LARGE_CACHE_ENTRY ((size_t)16 << 20)
#define ARENA_LARGE_CACHE_BYTES ((size_t)64 << 20)
/* Of those, the bytes a node's cache may keep committed, each region
 * counted at its mapped size (an upper bound on what it holds, known
 * without a system call; the oldest are decommitted to make room), and
 * the large frees on the node after which a cached region nobody took is
 * decommitted (large.c). */
#define ARENA_LARGE_CACHE_AGE 512
#define ARENA_LARGE_CACHE_DIRTY ((size_t)48 << 20)

/* A freed large region in its node's cache (large.c).  room and res are
 * copies of what the region's header says, so a lookup reads this array
 * only, not one header page per entry. */
struct large_entry {
    struct nslab_region *r;
    uint64_t room;                    /* bytes a request can use (map_size
                                         - data_off) */
    uint64_t res;                     /* what it may hold resident: its
                                         mapped size, 0 once LARGE_F_CLEAN */
    uint64_t tick;                    /* large_tick when it was cached */
    uint64_t purge_aged;              /* 1: cached at the node's last chunk
                                         purge step (large_purge_step) */
};

/* One size class of one node's arena.  `lock` protects every field but
 * `remote`, and every slab of the class (struct slab) with its pages'
 * entries in the chunk tables. */
struct arena_class {
    pthread_mutex_t lock;
    struct slab *partial;     /* slabs with a free or fresh block */
    uint64_t out;             /* blocks out of slabs: sum of slab.used
                                 (written with relaxed atomic stores under
                                 `lock`: chunk.c's purge_bound reads it
                                 without the lock) */
    uint64_t slabs;           /* live slabs */
    uint64_t remote_in;       /* blocks collected from remote batches, or
                                 returned directly by a thread on another
                                 node */
    uint64_t direct_allocs;   /* allocations served without a cache */
    uint64_t empty_slabs;     /* slabs of the class kept with used == 0 */
    uint64_t carves;          /* slabs carved, ever */
    uint64_t releases;        /* slabs given back to their chunk, ever */
    /* Remote-freed blocks of this class: a LIFO of batches linked through
     * the blocks' first word.  Pushed with CAS (release) by any thread;
     * taken whole with an exchange (acquire) under `lock`. */
    void *remote __attribute__((aligned(ARENA_CACHELINE)));
} __attribute__((aligned(ARENA_CACHELINE)));

struct arena {
    int node;
    uint32_t node_off;                /* node * sizeof(struct tc_node) */
    pthread_mutex_t chunk_lock;       /* chunks, nchunks, nempty, the chunk
                                         page bitmaps */
    struct chunk *chunks;
    uint64_t nchunks;
    uint64_t nempty;                  /* chunks with only the header page */
    /* Counters updated with relaxed atomics outside any lock. */
    uint64_t large;                   /* live large regions */
    uint64_t large_mapped;            /* their mapped bytes */
    uint64_t large_committed;         /* of those, of regions populated
                                         whole (LARGE_F_FULL) */
    uint64_t large_user;              /* their user bytes */
    uint64_t large_allocs;            /* large allocations ever */
    uint64_t fallbacks;
    uint64_t failures;
    uint64_t retired_allocs;          /* bins' allocs of exited threads */
    uint64_t retired_remote_out;      /* remote_out of exited threads */
    uint64_t direct_remote_out;       /* uncached remote frees (no cache) */
    uint64_t kept_pages;              /* pages of kept empty slabs (slab.c;
                                         relaxed atomics, changed under
                                         the slab's class lock) */
    uint64_t decommits;               /* chunk page runs decommitted, and */
    uint64_t commits;                 /* runs committed when taken for a
                                         slab (never used, or decommitted
                                         before), ever (chunk_lock) */
    uint64_t free_committed;          /* free committed chunk pages */
    uint64_t slab_pages;              /* chunk pages in slabs (all used
                                         pages but the headers) */
    uint64_t live_peak;               /* the live blocks' bytes in pages
                                         at their recent peak (chunk.c's
                                         purge_bound) */
    uint64_t live_age;                /* releases past the purge floor
                                         (purge_bound's sampling); these
                                         three: chunk_lock */
    uint64_t purge_tick;              /* runs released since the last purge
                                         step (chunk_lock) */
    uint64_t fork_repairs;            /* locks found held in a fork child,
                                         whose data was repaired or
                                         abandoned (arena.c) */
    /* Layout changes (layout.c), relaxed atomics */
    uint64_t drift_pages;             /* chunk pages found off the node */
    uint64_t drift_repaired;          /* of those, migrated back */
    uint64_t retired_chunks;          /* live retired chunks (chunk_lock) */
    uint64_t retired_ever;            /* chunks retired, ever */
    uint32_t drained;                 /* 1 while the node is drained
                                         (drain.c): written under every
                                         class lock and large_lock; nothing
                                         is taken from the arena, no large
                                         region cached */
    /* Freed large regions kept for reuse (large.c), under large_lock. */
    pthread_mutex_t large_lock;
    unsigned nlarge_cached;
    uint64_t large_cached_bytes;      /* their mapped bytes */
    uint64_t large_cached_dirty;      /* bytes the cached regions may keep
                                         resident: the sum of their res */
    struct large_entry large_cache[ARENA_LARGE_CACHE]; /* oldest first */
    uint64_t large_tick;              /* large regions cached, ever */
    struct arena_class cls[SC_COUNT];
};

/* The arena of `node`, created on first use (os_map, installed with a CAS).
 * NULL with *err set (ENOMEM) if its struct cannot be mapped.  The caller
 * has validated the node. */
struct arena *arena_get(int node, int *err);
/* The arena of `node` if it exists, else NULL (no creation). */
struct arena *arena_peek(int node);

/* Pick arena_free_key (free.c); arena_global_init, before any block. */
void arena_free_key_init(void);

/* Global one-time set-up (size classes, topology snapshot, thread key).
 * Safe to call any number of times, from any thread.  0 or an errno. */
int arena_global_init(void);
extern int arena_ready; /* 1 once arena_global_init() has finished */

/* Take up to n blocks of class cls from the arena (collects the remote
 * stack first, then partial slabs, then carves a new slab, mapping a new
 * chunk if needed).  The blocks are linked through their first word into
 * *head ... *tail (tail->next undefined).  Returns how many (0: *err is
 * ENOMEM or the region layer's errno). */
unsigned arena_take(struct arena *a, unsigned cls, unsigned n, void **head, void **tail,
                    int *err);
/* Return a list of `n` blocks of class cls (linked through their first
 * word, NULL-terminated or stopped after n) to the arena's slabs; collects
 * the remote stack too. `remote` counts them as remote frees in. */
void arena_put_list(struct arena *a, unsigned cls, void *head, unsigned n, int remote);
/* The multiplier of the free fast path's block test for a slab of class
 * cls at start (struct chunk_pg), or 0 when none fits (slab.c). */
uint64_t slab_test_mul(uintptr_t start, unsigned cls);
/* Return blocks to their slabs, class lock held (slab.c). */
void slab_put_locked(struct arena *a, struct arena_class *ac, void *p);
/* Collect the class's remote stack into its slabs, class lock held.
 * Returns the blocks collected. */
unsigned remote_collect_locked(struct arena *a, struct arena_class *ac);
/* Push the batch head..tail (n blocks, linked) onto the remote stack. */
void remote_push(struct arena *a, unsigned cls, void *head, void *tail);

/* Chunk pages (chunk.c): take a run of npages free pages of a chunk of the
 * arena, mapping a new chunk when none has room; release them.  0 or an
 * errno (the region layer's: ENOMEM when the node cannot hold a chunk, or
 * a page could not be populated).  populate != 0: the pages taken are
 * populated (on the chunk's node) when it returns; else they fault in at
 * first touch, on the chunk's node all the same (its binding), and *fresh
 * (may be NULL) gets the pages of the run that were not resident before
 * (bit i: page i of the chunk), for a caller that populates them itself
 * (slab.c, as blocks are handed out). */
int chunk_take_pages(struct arena *a, unsigned npages, int populate, struct chunk **out,
                     unsigned *first, uint64_t *fresh);
/* Bytes the capacity ledger holds for c: its pages not committed (0 for a
 * chunk mapped without a strict hold).  chunk_lock held. */
size_t chunk_reserved_bytes(const struct chunk *c);
void chunk_release_pages(struct arena *a, struct chunk *c, unsigned first, unsigned npages);
/* Retire chunk c (layout.c decided its pages are not on its node): every
 * class lock of `a` held, chunk_lock not.  `where` is the node most of its
 * pages are on.  c may be unmapped when this returns (it was empty, or
 * only kept empty slabs held it). */
void chunk_retire(struct arena *a, struct chunk *c, int where);
/* Take c's slabs out of service (slab.c): page_off CHUNK_NO_BIN, off the
 * partial lists, kept empty slabs released.  Every class lock held, the
 * chunk marked retired and not empty. */
void slab_retire_chunk(struct arena *a, struct chunk *c);
/* Give every kept empty slab of the arena back to its chunk (slab.c),
 * then decommit every free page of the node's chunks (chunk_purge_all)
 * and the pages of the node's cached large regions (large_trim). */
void arena_trim_slabs(struct arena *a);
void chunk_purge_all(struct arena *a);

/* The prefault setting (numaslab.h, nslab_arena_prefault_t): one of
 * NSLAB_ARENA_PREFAULT_*, NUMASLAB_PREFAULT's until one is set (arena.c). */
int arena_prefault(void);
/* Populate a slab's pages when it is carved?  (All but NONE.) */
static inline int arena_populate_slabs(void)
{
    return arena_prefault() != NSLAB_ARENA_PREFAULT_NONE;
}
/* Populate a large block?  ALL: yes; NONE, SLABS: no; DEFAULT: the entry
 * point's own default, lib_default (1 for the library's API, 0 for the
 * malloc replacement). */
int arena_populate_large(int lib_default);

/* ---- thread caches ---------------------------------------------------- */

/* One bin: cached blocks of one node and class, linked through their first
 * word.  Invariant: count == sc_limit[cls] - room, count == |head list|;
 * room < 0 only between a push and the flush it triggers. */
struct tc_bin {
    void *head;
    int32_t room;      /* limit - count */
    uint32_t reserved;
    uint64_t allocs;   /* allocations served from this bin */
    uint64_t reserved2;
};

/* A thread's cache for one node: one page, so a node's offset is a shift. */
struct tc_node {
    struct tc_bin bins[SC_COUNT];   /* bins[0]: the sentinel class, always
                                       empty (size 0) */
    uint64_t remote_out;  /* blocks of other nodes this thread freed (to
                             their arenas) while it ran on this node */
    uint64_t reserved[(4096 - SC_COUNT * SC_BIN_SIZE) / 8 - 1];
};
_Static_assert(sizeof(struct tc_node) == 4096, "tc_node is a power of two");

/* A thread's cache.  node_bytes is the bound every fast path checks:
 * (unsigned)node * sizeof(struct tc_node) < node_bytes.  The static empty
 * cache (before a thread's first allocation, after its exit) has
 * node_bytes == 0, so every fast path falls through to the slow path.
 * After a layout change another thread sets a live cache's node_bytes to 0
 * and its cpu to TC_NO_CPU (layout.c, seq_cst stores): its owner then
 * misses on every fast path and flushes it on its next slow path
 * (arena_layout_check); those two fields are otherwise the owner's.  So
 * every access to them is atomic: the owner's with relaxed loads and
 * stores (the fast paths' through arena_below_relaxed and
 * arena_equal_relaxed, which cost no instruction), the poke's seq_cst. */
struct tcache {
    size_t node_bytes;
    int nr_nodes;
    /* The thread's local node, valid while the rseq cpu_id equals `cpu`
     * (TC_NO_CPU: nothing cached; always so for the empty cache and while a
     * test overrides the thread's node). */
    int cpu;
    int local_node;
    int layout_tick;   /* refills since the last topology_check_mems */
    size_t local_off;  /* arena_node_off(local_node) */
    size_t map_bytes;
    struct tcache *reg_next, *reg_prev; /* registry (tcache_registry_lock) */
    uint32_t tab_off;  /* the local_off the cache's local table holds
                          (TC_NO_TAB: none yet) */
    int policy_xor;    /* the owner's copy of process_cpu_xor (process.h):
                          malloc's hit path folds it into its cpu compare
                          from here, an operand of the xor, instead of
                          loading the global (one instruction).  Set when
                          the cache is made or reused, and by malloc's
                          slow path under the local policy; owner only */
    struct tc_node nodes[];
};
#define TC_NO_CPU (-3) /* never an rseq cpu_id (>= 0, -1, -2) */
#define TC_NO_TAB UINT32_MAX

/* The local table: in front of every mapped cache, for sizes up to
 * SC_TABLE_MAX, the offset from the cache of the local node's bin of the
 * size's class (local_off + sc_table[size]), so the local hit paths find
 * their bin with one load indexed by the size (the shared sc_table needs
 * its address in a register first and the node's offset added: two
 * instructions more).  Written by the owner when it caches a new local
 * node (arena_thread_node_miss, before it publishes the cpu), read only
 * while `cpu` matches (never for the static empty cache, which has none).
 * Cost: one page more per mapped cache (nr_nodes + 2 pages). */
#define TC_LOCAL_SIZES (SC_TABLE_MAX + 1)
#define TC_TAB_BYTES ((TC_LOCAL_SIZES * sizeof(uint32_t) + ARENA_CACHELINE - 1) & \
                      ~(size_t)(ARENA_CACHELINE - 1))

static inline uint32_t *tcache_local_tab(struct tcache *tc)
{
    return (uint32_t *)((char *)tc - TC_TAB_BYTES);
}

_Static_assert(offsetof(struct tcache, nodes) == SC_BIN_BASE, "sc_binoff's base");
/* One bound serves both fast paths: node * 4096 < node_bytes for
 * allocation, and for a chunk page's offset (node * 4096 + sc_binoff(cls),
 * where sc_binoff < 4096) the same comparison holds exactly when the node
 * is below the cache's node count. */
_Static_assert(SC_BIN_BASE + SC_COUNT * SC_BIN_SIZE <= sizeof(struct tc_node), "bins fit");

extern __thread struct tcache *arena_tls ARENA_TLS;
extern __thread int arena_node_override ARENA_TLS; /* node + 1, 0 = none */
extern struct tcache tcache_empty;

/* The calling thread's node, uncached: topology_local_node(), unless a test
 * overrode it. */
static inline int arena_thread_node_uncached(void)
{
    int o = arena_node_override;
    if (ARENA_UNLIKELY(o != 0))
        return o - 1;
    return topology_local_node();
}

/* arena_thread_node()'s miss (alloc.c): finds the thread's node and caches
 * it, keeping the invariant the local hit paths rely on instead of a node
 * bound: while tc->cpu caches a cpu (!= TC_NO_CPU), tc->local_off <
 * tc->node_bytes and the local table holds tc->local_off (a node
 * the cache does not cover, after a topology reload, is not cached: every
 * local allocation then takes the slow path, as the bound made it do).
 * It also sets arena_rseq_cpu_off before it caches a cpu. */
int arena_thread_node_miss(void);

/* __rseq_offset + offsetof(struct rseq, cpu_id), copied into this library
 * (alloc.c) so the hit paths read the cpu_id with one load less than
 * topology_rseq_cpu() (no GOT load of __rseq_offset).  0 until the first
 * arena_thread_node_miss(): the word at the thread pointer is the TCB's
 * self pointer, never equal to TC_NO_CPU, and no cache holds another cpu
 * before its thread's first miss, so a read before that misses, as it
 * should. */
extern ptrdiff_t arena_rseq_cpu_off __attribute__((visibility("hidden")));

/* topology_rseq_cpu(), through arena_rseq_cpu_off. */
static inline int arena_rseq_cpu(void)
{
#ifdef TOPO_HAVE_RSEQ
    ptrdiff_t off = __atomic_load_n(&arena_rseq_cpu_off, __ATOMIC_RELAXED);
    return __atomic_load_n((const int *)((const char *)__builtin_thread_pointer() + off),
                           __ATOMIC_RELAXED);
#else
    return -1;
#endif
}

/* The calling thread's node for NSLAB_NODE_LOCAL and for deciding whether a
 * free is remote.  Exact (as topology_local_node: the rseq cpu_id read now)
 * but cheaper: the thread cache remembers the node of the CPU it last saw,
 * so a hit is the cpu_id load and one compare; a migration (a new cpu_id),
 * or a test override take the out-of-line path.  Without rseq (old libc,
 * GLIBC_TUNABLES=glibc.pthread.rseq=0, valgrind) the node is cached until
 * the thread's next refill or flush, so it can lag a migration until then.
 * (A topology reload is seen by a thread when it next changes CPU.) */
static inline int arena_thread_node(void)
{
    struct tcache *tc = arena_tls;
    if (ARENA_LIKELY(arena_equal_relaxed(arena_rseq_cpu(), &tc->cpu)))
        return tc->local_node;
    return arena_thread_node_miss();
}

/* Test-only hook: make the calling thread report `node` as its node
 * (-1: back to the real one).  Lets one-node machines test remote frees. */
void arena_test_set_thread_node(int node);

/* The calling thread's cache, created on first use; NULL while it cannot
 * have one (being created, or the thread is exiting): callers then go to
 * the arena directly. */
struct tcache *tcache_get(void);
/* Fill tc's local table for the local node at offset local_off (the
 * owner, with no cpu cached). */
void tcache_local_fill(struct tcache *tc, size_t local_off);
/* Pop a block of (node, cls) for the calling thread, refilling the bin
 * from the arena; NULL with *err on failure.  tc non-NULL, node valid. */
void *tcache_alloc_refill(struct tcache *tc, int node, unsigned cls, int *err);
/* Called by the free fast path when a push made bin->room negative. */
void tcache_overflow(struct tcache *tc, size_t off);
/* Return everything the thread caches to the arenas. */
void tcache_flush_all(struct tcache *tc);
/* Registry walk for stats/audit: lock, iterate, unlock. */
void tcache_registry_lock(void);
void tcache_registry_unlock(void);
struct tcache *tcache_registry_first(void);

/* The word every free block holds at offset 8 (its second word: every
 * class is >= 16 bytes) while it is free, anywhere (a cache, a remote
 * batch, a slab's free list), and that no block handed out holds: the free
 * path stores it, every hand-out clears it (arena_bin_pop, the refill, the
 * uncached path).  A free that finds it is a double free (the slow path
 * confirms it).  Random per process (arena_global_init, from AT_RANDOM), so
 * user data holds it only by copying a freed block.  Cost: a load, a
 * compare, a branch and a store on free, a store on allocation. */
extern uintptr_t arena_free_key __attribute__((visibility("hidden")));

/* The key a free block p holds (per block in hardened builds). */
static inline uintptr_t arena_key_of(const void *p)
{
#ifdef NSLAB_HARDENED
    return arena_free_key ^ (uintptr_t)p;
#else
    (void)p;
    return arena_free_key;
#endif
}

/* ---- free-list links and the hardened mode ---------------------------- */

/* A free block's first word links it to the next block of its list (a
 * bin, a slab's free list, a remote batch); its second holds the free key
 * (arena_free_key).  Every read and write of a link goes through
 * arena_link_get / arena_link_set.
 *
 * Hardened builds (CMake NUMASLAB_HARDENED=ON; NSLAB_HARDENED): a link is
 * stored encoded, next ^ (address of the word >> 12) ^ arena_link_secret
 * (a random per-process secret: the "safe-linking" scheme), and every
 * decoded link is checked to be NULL or a 16-byte aligned address inside a
 * chunk before it is followed; the free key is per block (arena_free_key ^
 * the block's address), and a block handed out from a thread's bin must
 * still hold it (so a forged link to a non-block, or a block whose first
 * 16 bytes a use after free overwrote, is caught at its hand-out).  A failed check
 * is heap corruption (a use after free wrote into a free block, or a
 * forged pointer): one line on stderr and abort (arena_corrupt).  Without
 * NSLAB_HARDENED links are plain pointers and the key one value. */
extern uintptr_t arena_link_secret __attribute__((visibility("hidden")));
__attribute__((noreturn, cold)) void arena_corrupt(const char *what, const void *p);

static inline void *arena_link_get(const void *b)
{
#ifdef NSLAB_HARDENED
    uintptr_t v = *(const uintptr_t *)b ^ ((uintptr_t)b >> 12) ^ arena_link_secret;
    /* NULL, or a 16-byte aligned address inside a chunk (one byte of the
     * chunk map); a forged link that passes still has to hold its block's
     * free key when it is handed out (arena_bin_pop) */
    if (ARENA_UNLIKELY(v != 0 && ((v & 15) || (v >> SEG_SHIFT) >= CHUNK_MAP_ENTRIES ||
                                  !chunk_map[v >> SEG_SHIFT])))
        arena_corrupt("corrupted free list", b);
    return (void *)v;
#else
    return *(void *const *)b;
#endif
}

static inline void arena_link_set(void *b, void *next)
{
#ifdef NSLAB_HARDENED
    *(uintptr_t *)b = (uintptr_t)next ^ ((uintptr_t)b >> 12) ^ arena_link_secret;
#else
    *(void **)b = next;
#endif
}

/* ---- AddressSanitizer ------------------------------------------------- */

/* In a build of the library with ASan (NUMASLAB_ASAN), free blocks are
 * poisoned, so a caller's use after free is reported by ASan:
 *   - a freed or cached slab block from byte 16 on (bytes 0-15 hold the free
 *     list link and the free key, which the library reads and writes while
 *     the block is free; a use after free there is not reported);
 *   - a large region kept in its node's cache, all its data;
 * and unpoisoned when handed out (every hand-out path) or when its pages
 * go back to the chunk (slab_release), so no stale poison outlives it.
 * Without ASan these are empty. */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
static inline size_t arena_asan_block_size(const void *p)
{
    const struct chunk *c = chunk_of(p);
    return sc_size[c->cls[chunk_page(p)]];
}
static inline void arena_asan_freed(void *p)
{
    size_t n = arena_asan_block_size(p);
    if (n > 16)
        ASAN_POISON_MEMORY_REGION((char *)p + 16, n - 16);
}
static inline void arena_asan_handed(void *p)
{
    ASAN_UNPOISON_MEMORY_REGION(p, arena_asan_block_size(p));
}
#define ARENA_ASAN_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define ARENA_ASAN_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
static inline void arena_asan_freed(void *p)
{
    (void)p;
}
static inline void arena_asan_handed(void *p)
{
    (void)p;
}
#define ARENA_ASAN_POISON(p, n) ((void)(p), (void)(n))
#define ARENA_ASAN_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* ---- Valgrind memcheck ------------------------------------------------ */

/* With CMake NUMASLAB_VALGRIND=ON (NSLAB_VALGRIND; needs valgrind's
 * headers), the library tells memcheck about its blocks with client
 * requests, so a program run under valgrind gets memcheck's reports on
 * them ("Invalid write ... inside a block of size 64 free'd"):
 *   handed out  VALGRIND_MALLOCLIKE_BLOCK (the same points as ASan's);
 *   freed       VALGRIND_FREELIKE_BLOCK once, where it leaves the user
 *               (the free fast path, the uncached free), then bytes 0-15
 *               made accessible again (the link and the key: a use after
 *               free there is not reported, as with ASan);
 *   slab pages given back, a cached large region taken: accessible again;
 *   a large region put in its node's cache: no access.
 * Each request costs a few instructions even outside valgrind, on both
 * fast paths: off by default.  Without it these are empty. */
#ifdef NSLAB_VALGRIND
#include <valgrind/memcheck.h>
static inline void arena_vg_freed(void *p)
{
    VALGRIND_FREELIKE_BLOCK(p, 0);
    VALGRIND_MAKE_MEM_DEFINED(p, 16);
}
static inline void arena_vg_handed(void *p)
{
    const struct chunk *c = chunk_of(p);
    VALGRIND_MALLOCLIKE_BLOCK(p, sc_size[c->cls[chunk_page(p)]], 0, 0);
}
#define ARENA_VG_ACCESSIBLE(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define ARENA_VG_NOACCESS(p, n) VALGRIND_MAKE_MEM_NOACCESS((p), (n))
#else
static inline void arena_vg_freed(void *p)
{
    (void)p;
}
static inline void arena_vg_handed(void *p)
{
    (void)p;
}
#define ARENA_VG_ACCESSIBLE(p, n) ((void)(p), (void)(n))
#define ARENA_VG_NOACCESS(p, n) ((void)(p), (void)(n))
#endif

/* ---- layout changes (layout.c) ---------------------------------------- */

/* Cache refills of a thread between two topology_check_mems calls. */
#define ARENA_LAYOUT_POLL 64
extern unsigned long arena_synced_gen; /* topology_generation of the last sync */
extern unsigned long arena_sync_count; /* syncs and retirements, ever */
/* Check every arena's chunks against the new layout, repair or retire
 * them, drop the large caches, make every thread cache flush.  Takes
 * arena locks: call with none held. */
void arena_layout_sync(void);
/* topology_change_hook: arena_layout_sync() once the arenas exist. */
void arena_layout_refresh(void);
/* Fork child of a multi-threaded process: the sync lock back (a sync in
 * another thread is abandoned: the child's next slow path syncs again). */
void arena_layout_fork_child(void);
/* The owner's half of the poke: flush tc, restore its bound. */
void tcache_resync(struct tcache *tc);
/* Make every thread cache miss until its owner flushed it (layout.c): the
 * poke of a sync, for drain.c too.  No arena lock held. */
void arena_caches_poke(void);
/* Fork child of a multi-threaded process: drain.c's lock back. */
void arena_drain_fork_child(void);

/* On the arenas' slow paths, with no arena lock held: a newer topology
 * means a sync; a poked cache (node_bytes 0 but not the empty cache) is
 * flushed.  Two loads and two compares when nothing changed. */
static inline void arena_layout_check(struct tcache *tc)
{
    if (ARENA_UNLIKELY(__atomic_load_n(&topology_generation, __ATOMIC_RELAXED) !=
                       __atomic_load_n(&arena_synced_gen, __ATOMIC_RELAXED)))
        arena_layout_sync();
    if (ARENA_UNLIKELY(tc != &tcache_empty &&
                       __atomic_load_n(&tc->node_bytes, __ATOMIC_RELAXED) == 0))
        tcache_resync(tc);
}

/* ---- the fast paths --------------------------------------------------- */

void *arena_alloc_slow(int node, size_t size, int local);
/* A large block (size above SC_SMALL_MAX, or an alignment no class has) on
 * node (NSLAB_NODE_LOCAL: the thread's, falling back by distance), for an
 * entry point with its own prefault default (the malloc replacement):
 * populate as large_alloc.  NULL with errno as numa_malloc_on. */
void *arena_alloc_large(int node, size_t size, size_t align, int zero, int populate);
/* nslab_realloc with the large blocks it makes populated or not. */
void *arena_realloc(void *ptr, size_t size, int populate);
int arena_free_slow(void *p);

/* What is wrong with freeing p (free.c): ARENA_FREE_OK, or why it must
 * not be freed.  The malloc replacement aborts with a message on the last
 * two; the API returns -EINVAL for all but OK. */
enum arena_free_verdict {
    ARENA_FREE_OK = 0,
    ARENA_FREE_FOREIGN,   /* not in any segment of the library's */
    ARENA_FREE_INVALID,   /* in a chunk or region of the library's, but not
                             a block start (interior pointer, header or free
                             page) or not a block nslab_free takes */
    ARENA_FREE_DOUBLE,    /* a block start that is free already */
};
/* The verdict on a chunk pointer (h the chunk): INVALID, DOUBLE or OK.
 * No lock; a DOUBLE is confirmed by the free key (arena_free_key). */
enum arena_free_verdict arena_chunk_verdict(const struct chunk *c, const void *p);
/* The verdict on any non-NULL pointer (no lock).  A segment of a kind
 * whose owner registered a free function (segment.h): OK here (that
 * function judges it). */
enum arena_free_verdict arena_free_verdict(const void *p);

/* Pop a block from the bin at `base` + `off` (base: a thread cache, off:
 * a node's offset plus a class's sc_binoff): NULL when empty. */
static inline void *arena_bin_pop(char *base, size_t off)
{
#define ARENA_BIN(f) (((struct tc_bin *)(base + off))->f)
    void *b = ARENA_BIN(head);
#ifdef ARENA_FOLD_ASM
    /* the block in the return register from its load on (else the
     * compiler loads it elsewhere and copies it there at the end) */
    __asm__("" : "+a"(b));
#endif
    if (ARENA_LIKELY(b != NULL)) {
#ifdef NSLAB_HARDENED
        if (ARENA_UNLIKELY(((uintptr_t *)b)[1] != arena_key_of(b)))
            arena_corrupt("corrupted free block", b);
#endif
        /* each access addresses the bin as base + off (the empty asm
         * keeps the compiler from adding them into a register first: one
         * instruction) */
        ARENA_NO_CSE(off);
        ARENA_BIN(head) = arena_link_get(b);
        ((void **)b)[1] = NULL; /* no longer free (arena_free_key) */
        ARENA_NO_CSE(off);
        ARENA_BIN(room)++;
        ARENA_NO_CSE(off);
        ARENA_BIN(allocs)++;
        arena_asan_handed(b);
        arena_vg_handed(b);
    }
    return b;
#undef ARENA_BIN
}

/* Allocate size bytes on node (local != 0: NSLAB_NODE_LOCAL resolved to
 * `node`, may fall back).  The hit path: a TLS load, the node bound, the
 * class table (sizes up to SC_SMALL_MAX), a pop.  No lock, no atomic
 * read-modify-write. */
static inline void *arena_alloc_tc(struct tcache *tc, size_t noff, size_t size, int local)
{
    size_t off;
    if (ARENA_LIKELY(arena_below_relaxed(noff, &tc->node_bytes) && sc_lookup_binoff(size, &off))) {
        void *b = arena_bin_pop((char *)tc, noff + off);
        if (ARENA_LIKELY(b != NULL))
            return b;
    }
    return arena_alloc_slow((int)(unsigned)(noff / sizeof(struct tc_node)), size, local);
}

/* The node's offset in a cache: NSLAB_NODE_LOCAL (-1) and any other
 * negative node become huge and fail every bound. */
static inline size_t arena_node_off(int node)
{
    return (size_t)(unsigned)node * sizeof(struct tc_node);
}

static inline void *arena_alloc_inline(int node, size_t size, int local)
{
    return arena_alloc_tc(arena_tls, arena_node_off(node), size, local);
}

/* The local hit path, without its slow path: a block of `size` bytes from
 * the calling thread's bin for its cached node, or NULL (a new CPU, no
 * cache yet, a test override, a size above SC_SMALL_MAX or 0, an empty
 * bin).  No node bound: a cached cpu implies a covered node
 * (arena_thread_node_miss). */
/* The same, missing also whenever cpu_xor != 0: cpu_xor is 0 or
 * ARENA_CPU_MISS, a bit no cpu_id (>= 0, -1, -2) and no cached cpu (those
 * and TC_NO_CPU) can be turned into one another with, so a caller folds a
 * condition of its own into the cpu compare (malloc.c: the policy is
 * local) instead of testing it apart. */
#define ARENA_CPU_MISS 0x40000000
static inline void *arena_alloc_local_hit_x(size_t size, int cpu_xor)
{
    struct tcache *tc = arena_tls;
    size_t off;
    if (ARENA_LIKELY(arena_equal_relaxed(arena_rseq_cpu() ^ cpu_xor, &tc->cpu))) {
        if (ARENA_LIKELY(size < TC_LOCAL_SIZES))
            off = tcache_local_tab(tc)[size];
        else if (size <= SC_SMALL_MAX)
            off = tc->local_off +
                  sc_table_mid[(size + ((size_t)1 << SC_MID_SHIFT) - 1) >> SC_MID_SHIFT];
        else
            return NULL;
        return arena_bin_pop((char *)tc, off);
    }
    return NULL;
}

/* arena_alloc_local_hit_x() with the cache's policy_xor folded in (the
 * malloc replacement's hit path: a miss unless the process policy is
 * local). */
static inline void *arena_alloc_local_hit_policy(size_t size)
{
    return arena_alloc_local_hit_x(size, arena_tls->policy_xor);
}

/* arena_alloc_local_hit_x() with nothing folded in. */
static inline void *arena_alloc_local_hit(size_t size)
{
    return arena_alloc_local_hit_x(size, 0);
}

/* numa_malloc_local's hit path: the thread's cached node (arena_thread_node)
 * and the pop, with one TLS load; anything else goes to the slow path,
 * which resolves "local". */
static inline void *arena_alloc_local_inline(size_t size)
{
    void *b = arena_alloc_local_hit(size);
    if (ARENA_LIKELY(b != NULL))
        return b;
    return arena_alloc_slow(NSLAB_NODE_LOCAL, size, 1);
}


/* Push p, a block start that is not free (its verdict is OK), into tc's
 * bin at offset off (the page's bin_off, below tc->node_bytes). */
static inline void arena_free_push(struct tcache *tc, size_t off, void *p)
{
#define ARENA_BIN(f) (((struct tc_bin *)((char *)tc + off))->f)
    void **w = (void **)p;
    /* two plain stores (relaxed: not merged into a vector store) */
    __atomic_store_n(&w[1], (void *)arena_key_of(p), __ATOMIC_RELAXED);
    arena_link_set(p, ARENA_BIN(head));
    /* each access addresses the bin as tc + off (arena_bin_pop) */
    ARENA_NO_CSE(off);
    ARENA_BIN(head) = p;
    arena_asan_freed(p);
    arena_vg_freed(p);
    ARENA_NO_CSE(off);
    if (ARENA_UNLIKELY(arena_dec_negative(&ARENA_BIN(room))))
        tcache_overflow(tc, off);
#undef ARENA_BIN
}

/* The free hit path, without its slow path: push p into the calling
 * thread's bin and return 1 when p is a block start of a chunk whose node
 * the thread's cache covers and is not free already; else 0, nothing
 * touched.  Chunk map, the page's two words (the bin offset and the
 * block-start test in one: struct chunk_pg), TLS, one bound check, the
 * free key, push, count. */
static inline int arena_free_hit(void *p)
{
    /* NULL: segment 0 is never a chunk, so it needs no test of its own */
    uintptr_t a = (uintptr_t)p, i = a >> SEG_SHIFT;
    /* A plain read: the entry of a live block's chunk was written before
     * the block was handed out (through a lock or an acquire), and it
     * cannot change while the block is live. */
    if (ARENA_LIKELY(i < CHUNK_MAP_ENTRIES && chunk_map[i] != 0)) {
        /* the page's bin offset if p is a block start, else past every
         * bound (struct chunk_pg): its words addressed from the chunk
         * index (i, no longer needed) and the page number */
        size_t off = chunk_test_off(chunk_test_base(i), a >> ARENA_PAGE_SHIFT, a);
        struct tcache *tc = arena_tls;
        if (ARENA_LIKELY(arena_below_relaxed(off, &tc->node_bytes))) {
            if (ARENA_UNLIKELY((uintptr_t)((void **)p)[1] == arena_key_of(p)))
                return 0; /* free already (or user data that holds the key): slow path */
            arena_free_push(tc, off, p);
            return 1;
        }
    }
    return 0;
}

/* Free p: 0, or -EINVAL (errno set) for a pointer the library does not own
 * (a pointer inside a chunk that is not a block start included) or a block
 * that is free already (a double free).  Everything the hit path does not
 * take (NULL, other segment kinds, pages without blocks, a thread without a
 * cache, the bad pointers) goes slow. */
static inline int arena_free_inline(void *p)
{
    if (ARENA_LIKELY(arena_free_hit(p)))
        return 0;
    return arena_free_slow(p);
}

/* ---- large blocks (large.c) ------------------------------------------- */

/* r->flags bit (arena-private, beside region.h's REGION_F_*): a freed
 * large region held in its node's cache; not a live block. */
#define LARGE_F_CACHED 0x100u
/* every data page populated and not decommitted since (large.c) */
#define LARGE_F_FULL 0x200u
/* the data pages are decommitted: none resident, all read as zero */
#define LARGE_F_CLEAN 0x400u

static inline int large_is_live(const struct nslab_region *r)
{
    return (r->flags & (REGION_F_LARGE | LARGE_F_CACHED)) == REGION_F_LARGE;
}

/* A region whose data address is a block nslab_free takes: a live large
 * block or an interleaved allocation (not a user region). */
static inline int region_is_block(const struct nslab_region *r)
{
    return large_is_live(r) || (r->flags & REGION_F_INTERLEAVED);
}

/* A region of its own (REGION_F_LARGE) bound to node, reused from the
 * node's cache when one fits.  zero: the data reads as zero.  populate:
 * every data page is populated before it returns (else they fault in at
 * first touch, on the node).  NULL with errno (the region layer's: ENOMEM
 * when the node cannot hold it). */
void *large_alloc(int node, size_t size, size_t align, int zero, int populate);
/* Decommit the data pages of every region the node's cache holds. */
void large_trim(struct arena *a);
/* A chunk purge step of the node (chunk.c, chunk_lock held; large_lock is
 * taken inside it): decommit the cached regions that were already cached
 * at the previous step, mark the others.  A server that frees most of its
 * heap (small blocks: purge steps) gives back the large blocks it freed
 * too, though no large free follows to age them. */
void large_purge_step(struct arena *a);

/* The large block of alignment > SEG_SIZE / 2 whose data address is p:
 * its header is the segment just below p (region.c), p's own segment is
 * not registered.  NULL for any other pointer. */
static inline struct nslab_region *large_overaligned_of(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if ((a & SEG_MASK) || a < SEG_SIZE)
        return NULL;
    struct seg_hdr *h = seg_lookup_inline((const char *)p - SEG_SIZE);
    if (!h || h->kind != SEG_REGION)
        return NULL;
    struct nslab_region *r = (struct nslab_region *)h;
    return region_data(r) == p && (r->flags & REGION_F_LARGE) ? r : NULL;
}

/* The segment header owning p: seg_lookup_inline's, or an over-aligned
 * block's region (large_overaligned_of). */
static inline struct seg_hdr *arena_seg_of(const void *p)
{
    struct seg_hdr *h = seg_lookup_inline(p);
    if (ARENA_LIKELY(h != NULL))
        return h;
    struct nslab_region *r = large_overaligned_of(p);
    return r ? &r->hdr : NULL;
}

/* Resize in place when the mapping holds `size` and it is more than half
 * of the mapping: 0, else -1 (the caller moves the block). */
int large_resize(struct nslab_region *r, size_t size);
/* Free a large region (counters of its node).  0 or EINVAL. */
int large_free(struct nslab_region *r);
/* Unmap every freed region the node's large cache keeps (layout.c: after a
 * layout change their pages may lie elsewhere). */
void large_cache_drop(struct arena *a);

/* ---- fallback, stats hooks -------------------------------------------- */

/* Fill order[] with the allowed nodes with memory other than `from`, in
 * the topology's by_distance order from `from` (an unknown distance is
 * the farthest; ties: lower id), or by id when `from` is out of range.
 * Returns the count. */
int arena_fallback_order(int from, int *order, int max);
/* Count a fallback / a failure against node (ignored if out of range). */
void arena_count_fallback(int node);
void arena_count_failure(int node);

/* ---- fork (the malloc replacement registers these, or calls
 * arena_fork_register() once) ------------------------------------------ */

/* Before fork: note whether the process is multi-threaded; take no lock
 * (arena.c says why) ... */
void arena_fork_prepare(void);
/* ... nothing in the parent ... */
void arena_fork_parent(void);
/* ... and in the child of a multi-threaded process re-initialise every
 * lock, repair or abandon what a lock held at fork protected, restart an
 * interrupted initialisation, flush the caches of the threads that do not
 * exist in the child back to the arenas, and keep only the calling thread's
 * cache in the registry. */
void arena_fork_child(void);
/* pthread_atfork(prepare, parent, child) exactly once per process (later
 * calls do nothing).  The library calls it from a constructor. */
void arena_fork_register(void);

/* ---- NUMASLAB_STATS (stats.c) ----------------------------------------- */

enum arena_stats_where {
    ARENA_STATS_OFF = 0,
    ARENA_STATS_STDERR, /* this process, to fd 2 (consumed from environ) */
    ARENA_STATS_FILE,   /* a path template, %p = pid (inherited) */
    ARENA_STATS_BAD,    /* invalid: treated as off */
};
/* NUMASLAB_STATS, read once (secure_getenv, no allocation). */
int arena_stats_where(void);
/* The exit statistics' destination: 2, a file opened for appending, or -1
 * (off, or the file cannot be opened).  Close it with arena_stats_close. */
int arena_stats_open(void);
void arena_stats_close(int fd);

/* Caches of exited threads kept for reuse by new threads (tcache.c), and
 * the count of caches ever mapped (relaxed reads; tests, statistics). */
#define TCACHE_KEEP_DEAD 64
extern uint64_t tcache_maps;

/* Maximum thread cache bytes for one node, for documentation and tests. */
size_t tcache_node_bytes(void);

#endif /* NSLAB_ARENA_H */
