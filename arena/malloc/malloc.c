/*
 * arena/malloc/malloc.c - the malloc replacement (libnumaslab-malloc): the whole
 * malloc family, forwarded to the per-node arenas.  DESIGN.md promise 11.
 *
 * Exported: malloc, free, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size (C++
 * new/delete reach them through malloc/free/aligned_alloc).  The shared
 * object also contains, and exports, the whole library (numaslab.h), so
 * free() takes pointers from numa_malloc_on() and nslab_free() takes
 * pointers from malloc(): there is one allocator.  Preloaded in front of a
 * program that also links libnumaslab.so, the preload's copy of the public
 * API interposes the other one, so it is still one allocator.
 *
 * Use: LD_PRELOAD=libnumaslab-malloc.so.0 PROGRAM, or link the program
 * with -lnumaslab-malloc (before libc, which the linker does by itself),
 * or numaslab-run.
 *
 * Start-up.  The first malloc of a process may come from the dynamic
 * loader, from libc before its constructors, or from another library's
 * constructor (libnuma's calls malloc) - before our own constructor.  So
 * every entry point works uninitialised: the arena initialises itself
 * lazily without malloc (arena.h), and the configuration is read on the
 * first call that finds libc's `environ` set (secure_getenv + hand parsing,
 * malloc-env.c).  Until then (only possible inside the loader) blocks come
 * from the local node.  Nothing here uses dlsym, stdio or libc's malloc.
 *
 * Policies (NUMASLAB_POLICY) and how each maps onto the arenas:
 *   local        numa_malloc_local: the thread's local node, falling back
 *                by distance when it is full (the arena's fallback).
 *   bind:S       a thread on node n allocates on target[n]: n's local node
 *                if it is in S, else the member of S nearest to n (ties:
 *                lower id); computed once per node at start-up, looked up
 *                through the thread's cached node (cheap, follows
 *                migration).  When that node is full: the other members
 *                of S by distance from it; never a node outside S.
 *   preferred:N  node N; when N is full (or refuses), the local policy.
 *   preferred-many:S  as bind:S, but when every member is full the local
 *                policy (outside S) - the kernel's preferred-many mode's meaning.
 *   interleave:S blocks below MALLOC_INTERLEAVE_MIN go to the members of S
 *                in turn, per thread (a thread-local cursor, each thread
 *                starting at a different member); larger blocks are
 *                numa_malloc_interleaved(S) regions, spread page by page.
 *                A full member is skipped for the next one.
 *   weighted:N=W the same turn-taking, member i taking weight[i] blocks in
 *                a row; large blocks are placed whole by the same turns
 *                (the kernel's weighted interleave uses system-wide
 *                weights, so it cannot honour ours).
 * realloc keeps a block on its node (nslab_realloc), except that under
 * interleave a block that grows to MALLOC_INTERLEAVE_MIN or more moves to
 * an interleaved region.
 *
 * Prefault (numaslab.h, nslab_arena_prefault_t; NUMASLAB_PREFAULT): by
 * default the replacement's large blocks (malloc, calloc, realloc, the
 * aligned family) are bound to their node and left to fault in at first
 * touch (arena_alloc_large with populate 0), where the library's own API
 * populates them; slabs are populated as they are carved either way.
 * NUMASLAB_PREFAULT=all populates large blocks too, none populates
 * nothing.  Interleaved regions (interleave:S, blocks of
 * MALLOC_INTERLEAVE_MIN or more) are numa_malloc_interleaved's: populated.
 *
 * Foreign pointers (outside every mapping of the library: e.g. memory the
 * dynamic loader allocated with its own minimal malloc before the switch):
 * free() ignores them and counts them; malloc_usable_size() returns 0;
 * realloc() returns NULL with ENOMEM and leaves the block alone (its size
 * is unknown, so it cannot be copied safely).  Each is counted and shown
 * by NUMASLAB_STATS; none crashes.  free() does not change errno.
 *
 * Hostile frees (DESIGN promise 12): free() or realloc() of a pointer
 * inside one of the library's mappings that is not a live block - a block
 * freed already (double free), a pointer into the middle of a block, a
 * header or free page, a user region - write one line to stderr
 *     numaslab: free(): double free detected: 0x...
 *     numaslab: free(): invalid pointer: 0x...
 * (realloc(): likewise) and abort(), as glibc does: there is no return
 * value to carry the error, and going on would hand one block out twice.
 *
 * Alignment rules: malloc blocks are 16-byte aligned.  posix_memalign
 * returns EINVAL unless align is a power of two multiple of sizeof(void *);
 * aligned_alloc sets EINVAL unless align is a power of two (C17 DR 460,
 * glibc 2.38); memalign rounds a non-power-of-two align up (glibc).
 * Any power-of-two alignment is served (above 2 MiB as an over-aligned
 * large block, large.c); ENOMEM only when the address space cannot hold
 * size + align bytes.  size 0
 * returns a unique minimal block (malloc, calloc, the aligned family);
 * realloc(p, 0) frees p and returns NULL (glibc's behaviour).
 *
 * Fork: the arena registers pthread_atfork(arena_fork_prepare/parent/
 * child) from its constructor (arena_fork_register, called again from
 * ours; it registers once).  glibc 2.36's __register_atfork keeps the
 * first 48 handlers in a dynarray's inline storage and mallocs only past
 * that, holding its atfork lock; registering from a constructor (early,
 * few handlers, never from inside malloc) avoids both the allocation and a
 * self-deadlock through that lock.
 *
 * Statistics (NUMASLAB_STATS, stats.c: 1 = this process to stderr, not
 * inherited by its children; a path with %p = every process to its own
 * file): the arena's destructor prints one line per node; ours adds one
 * line with the policy and the foreign-pointer counters, to the same
 * place.  No descriptor is kept open for it (a program that closes fd 2
 * before exiting, as coreutils do, needs the path form).  Destructors run
 * at exit() or return from main (not at _exit or a fatal signal).
 *
 * Not replaced: malloc_trim, mallinfo(2), malloc_stats, mallopt and the
 * __libc_* entry points stay glibc's and see glibc's (unused) heap.
 *
 * Threads: `mode` and `cfg` are written once by the thread that wins
 * cfg_state 0 -> 1, then published with a release store of mode and
 * cfg_state = 2; readers load mode with acquire and read cfg only after
 * seeing it.  A thread that finds the configuration being loaded uses the
 * local policy for that call instead of waiting (no lock, no deadlock).
 * The interleave cursors are thread-local; the foreign counters are
 * relaxed atomics.
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "malloc-env.h"
#include "numaslab.h"

#define MALLOC_API __attribute__((visibility("default")))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Blocks of at least this size are interleaved page by page under
 * interleave:S (smaller ones are handed out by the members in turn). */
#define MALLOC_INTERLEAVE_MIN ((size_t)256 << 10)
/* What every block is aligned to without asking. */
#define MALLOC_MIN_ALIGN ((size_t)16)

extern char **environ;

enum { MODE_BOOT = -1 }; /* configuration not read yet */

static int mode = MODE_BOOT;   /* enum menv_mode once loaded */
static int cfg_state;          /* 0 unread, 1 being read, 2 read */
static struct menv_config cfg; /* written once, before mode is published */

static uint64_t foreign_frees, foreign_reallocs, foreign_sizes;
/* 0 once the local policy is published, else ARENA_CPU_MISS: malloc's hit
 * path folds "the policy is local" into its cpu compare with it (arena.h,
 * arena_alloc_local_hit_x).  Written once by config_boot (relaxed: the hit
 * path reads no cfg). */
static int malloc_cpu_xor = ARENA_CPU_MISS;

/* Per-thread turn for interleave / weighted: member index and the blocks
 * left in this member's turn. */
static __thread int rr_index ARENA_TLS = -1;
static __thread unsigned rr_left ARENA_TLS;
static unsigned rr_next_start; /* spreads the threads' first members */

/* ---- configuration ---------------------------------------------------- */

static void config_describe(void)
{
    char line[512], pol[256];
    struct menv_buf b;

    menv_format_policy(&cfg.policy, pol, sizeof pol);
    menv_buf_init(&b, line, sizeof line);
    menv_buf_str(&b, "numaslab: malloc replacement active (pid ");
    menv_buf_int(&b, getpid());
    menv_buf_str(&b, "): policy=");
    menv_buf_str(&b, pol);
    menv_buf_str(&b, " stats=");
    menv_buf_str(&b, cfg.stats ? "on" : "off");
    if (cfg.policy.mode == MENV_BIND || cfg.policy.mode == MENV_PREFERRED_MANY) {
        const struct topology *t = topology_get();
        menv_buf_str(&b, " targets=");
        for (int n = 0; n < t->nr_nodes; n++) {
            if (n)
                menv_buf_str(&b, ",");
            menv_buf_int(&b, n);
            menv_buf_str(&b, "->");
            menv_buf_int(&b, cfg.target[n]);
        }
    }
    menv_buf_writeln(&b, 2);
}

/* Read the environment once it exists.  Returns the mode to use now. */
static int config_boot(void)
{
    int expect = 0;
    if (environ == NULL) /* inside the loader, before libc set it */
        return MENV_LOCAL;
    if (!__atomic_compare_exchange_n(&cfg_state, &expect, 1, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        int m = __atomic_load_n(&mode, __ATOMIC_ACQUIRE);
        return m == MODE_BOOT ? MENV_LOCAL : m;
    }
    menv_load(&cfg);
    __atomic_store_n(&mode, (int)cfg.policy.mode, __ATOMIC_RELEASE);
    if (cfg.policy.mode == MENV_LOCAL)
        __atomic_store_n(&malloc_cpu_xor, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&cfg_state, 2, __ATOMIC_RELEASE);
    if (cfg.verbose)
        config_describe();
    return (int)cfg.policy.mode;
}

static inline int mode_get(void)
{
    int m = __atomic_load_n(&mode, __ATOMIC_ACQUIRE);
    return LIKELY(m != MODE_BOOT) ? m : config_boot();
}

/* ---- placement -------------------------------------------------------- */

/* Populate a large block?  The replacement's default is no (numaslab.h,
 * nslab_arena_prefault_t: bound, committed on first touch). */
static inline int large_populate(void)
{
    return arena_populate_large(0);
}

/* One block on `node` (NSLAB_NODE_LOCAL allowed): plain, aligned or zeroed. */
static void *block_on(int node, size_t size, size_t align, int zero)
{
    if (size > SC_SMALL_MAX || (align > MALLOC_MIN_ALIGN && !sc_for_align(size, align)))
        return arena_alloc_large(node, size, align > MALLOC_MIN_ALIGN ? align : 0, zero,
                                 large_populate());
    if (align > MALLOC_MIN_ALIGN)
        return nslab_aligned_alloc_on(node, align, size);
    if (zero)
        return nslab_calloc_on(node, 1, size);
    if (node == NSLAB_NODE_LOCAL)
        return arena_alloc_inline(arena_thread_node(), size, 1);
    return arena_alloc_inline(node, size, 0); /* numa_malloc_on, inlined */
}

/* The member whose turn it is (interleave, weighted). */
static int turn_member(void)
{
    const struct menv_policy *p = &cfg.policy;
    int i = rr_index;
    if (UNLIKELY(i < 0 || i >= p->nmembers)) {
        i = (int)(__atomic_fetch_add(&rr_next_start, 1, __ATOMIC_RELAXED) %
                  (unsigned)p->nmembers);
        rr_left = p->weight[i];
    }
    if (rr_left == 0) {
        i = i + 1 < p->nmembers ? i + 1 : 0;
        rr_left = p->weight[i];
    }
    rr_left--;
    rr_index = i;
    return p->member[i];
}

/* `first` failed with ENOMEM: the other nodes the policy allows. */
static void *block_fallback(int m, int first, size_t size, size_t align, int zero)
{
    const struct menv_policy *p = &cfg.policy;
    const struct topology *t;
    void *r;

    if (m == MENV_PREFERRED)
        return block_on(NSLAB_NODE_LOCAL, size, align, zero);
    if (m == MENV_INTERLEAVE || m == MENV_WEIGHTED) {
        int i0 = 0;
        while (i0 < p->nmembers && p->member[i0] != first)
            i0++;
        for (int k = 1; k < p->nmembers; k++) {
            int node = p->member[(i0 + k) % p->nmembers];
            if ((r = block_on(node, size, align, zero)) != NULL)
                return r;
        }
        return NULL;
    }
    /* BIND (and PREFERRED_MANY, which then may leave the set): the other
     * members, nearest to `first` first. */
    t = topology_get();
    const int16_t *near = topology_by_distance(t, first);
    for (int i = 0; near && i < t->nr_memory_nodes; i++) {
        int n = near[i];
        if (n == first || !nslab_nodeset_has(&p->nodes, n))
            continue;
        if ((r = block_on(n, size, align, zero)) != NULL)
            return r;
    }
    if (m == MENV_PREFERRED_MANY)
        return block_on(NSLAB_NODE_LOCAL, size, align, zero); /* local, then by distance */
    return NULL;
}

/* Allocate under the configured policy.  NULL with errno ENOMEM. */
static void *policy_alloc(size_t size, size_t align, int zero)
{
    int m = mode_get();
    int node;
    void *r;

    switch (m) {
    case MENV_LOCAL:
        r = block_on(NSLAB_NODE_LOCAL, size, align, zero);
        goto out;
    case MENV_BIND:
    case MENV_PREFERRED_MANY: {
        int cur = topology_current_node();
        node = cfg.target[cur >= 0 && cur < NSLAB_MAX_NODES ? cur : 0];
        break;
    }
    case MENV_PREFERRED:
        node = cfg.policy.preferred;
        break;
    case MENV_INTERLEAVE:
        if (size >= MALLOC_INTERLEAVE_MIN && align <= topology_get()->page_size) {
            r = numa_malloc_interleaved(size, &cfg.policy.nodes);
            if (r) {
                /* zero: a region is a fresh mapping, but say it plainly */
                if (zero)
                    memset(r, 0, size);
                return r;
            }
        }
        node = turn_member();
        break;
    default: /* MENV_WEIGHTED */
        node = turn_member();
        break;
    }
    r = block_on(node, size, align, zero);
    if (!r)
        r = block_fallback(m, node, size, align, zero);
out:
    if (UNLIKELY(!r))
        errno = ENOMEM;
    return r;
}

/* ---- the malloc family ------------------------------------------------ */

/* malloc and free are leaf functions on their hit paths (no frame, no
 * saved register: a TLS load, the cached cpu, the class table, a pop or a
 * push); everything that needs a frame is out of line and tail-called. */

/* malloc's miss: size 0, a new CPU or no cache yet, an empty bin, a large
 * size, or a policy other than local. */
static __attribute__((noinline)) void *malloc_slow(size_t size)
{
    if (size == 0)
        size = 1;
    if (LIKELY(__atomic_load_n(&mode, __ATOMIC_ACQUIRE) == MENV_LOCAL)) {
        /* numa_malloc_local's slow path: resolves (and re-caches) the
         * thread's node; large blocks with the replacement's prefault */
        void *r = size > SC_SMALL_MAX
                      ? arena_alloc_large(NSLAB_NODE_LOCAL, size, 0, 0, large_populate())
                      : arena_alloc_slow(NSLAB_NODE_LOCAL, size, 1);
        if (UNLIKELY(!r))
            errno = ENOMEM;
        return r;
    }
    return policy_alloc(size, 0, 0);
}

MALLOC_API void *malloc(size_t size)
{
    /* numa_malloc_local's hit path, missing unless the policy is local;
     * size 0 finds class 0's bin, which is always empty, and goes to
     * malloc_slow like every other miss */
    void *r = arena_alloc_local_hit_x(size, __atomic_load_n(&malloc_cpu_xor, __ATOMIC_RELAXED));
    if (LIKELY(r != NULL))
        return r;
    return malloc_slow(size);
}

/* A hostile free or realloc: one line on stderr, then abort (no stdio,
 * no allocation). */
static __attribute__((noreturn, cold, noinline)) void malloc_fatal(const char *fn,
                                                                   enum arena_free_verdict v,
                                                                   const void *p)
{
    char line[160], hex[19];
    struct menv_buf b;
    uintptr_t a = (uintptr_t)p;
    hex[0] = '0';
    hex[1] = 'x';
    for (int i = 0; i < 16; i++)
        hex[2 + i] = "0123456789abcdef"[(a >> (60 - 4 * i)) & 15];
    hex[18] = 0;
    menv_buf_init(&b, line, sizeof line);
    menv_buf_str(&b, "numaslab: ");
    menv_buf_str(&b, fn);
    menv_buf_str(&b, v == ARENA_FREE_DOUBLE ? ": double free detected: " : ": invalid pointer: ");
    menv_buf_str(&b, hex);
    menv_buf_writeln(&b, 2);
    abort();
}

/* free's miss: NULL, a pointer outside the chunks (a region, a pool
 * buffer, a foreign pointer), a thread without a cache, and every bad
 * pointer (the hit path refuses them untouched). */
static __attribute__((noinline)) void free_slow(void *p)
{
    if (p == NULL)
        return;
    enum arena_free_verdict v = arena_free_verdict(p);
    if (UNLIKELY(v == ARENA_FREE_FOREIGN)) {
        __atomic_fetch_add(&foreign_frees, 1, __ATOMIC_RELAXED);
        return;
    }
    if (UNLIKELY(v != ARENA_FREE_OK))
        malloc_fatal("free()", v, p);
    int saved = errno; /* a region or a pool buffer: not the hot path */
    if (UNLIKELY(arena_free_slow(p) != 0)) {
        /* a pointer its segment owner's free refused (a pool buffer's
         * interior): not a buffer start */
        errno = saved;
        malloc_fatal("free()", ARENA_FREE_INVALID, p);
    }
}

MALLOC_API void free(void *p)
{
    /* nslab_free's hit path (one chunk map lookup), inlined */
    if (LIKELY(arena_free_hit(p)))
        return;
    free_slow(p);
}

MALLOC_API void *calloc(size_t n, size_t size)
{
    size_t total;
    if (UNLIKELY(__builtin_mul_overflow(n, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    return policy_alloc(total ? total : 1, 0, 1);
}

/* Is p an interleaved region (numa_malloc_interleaved)? */
static int is_interleaved(const void *p)
{
    const struct seg_hdr *h = seg_lookup_inline(p);
    return h && h->kind == SEG_REGION &&
           (((const struct nslab_region *)h)->flags & REGION_F_INTERLEAVED);
}

MALLOC_API void *realloc(void *p, size_t size)
{
    void *r;

    if (p == NULL)
        return malloc(size);
    if (size == 0) {
        free(p);
        return NULL;
    }
    enum arena_free_verdict v = arena_free_verdict(p);
    if (UNLIKELY(v == ARENA_FREE_FOREIGN)) {
        __atomic_fetch_add(&foreign_reallocs, 1, __ATOMIC_RELAXED);
        errno = ENOMEM;
        return NULL;
    }
    if (UNLIKELY(v != ARENA_FREE_OK))
        malloc_fatal("realloc()", v, p);
    if (UNLIKELY(mode_get() == MENV_INTERLEAVE) && size >= MALLOC_INTERLEAVE_MIN &&
        !is_interleaved(p)) {
        size_t old = nslab_usable_size(p);
        if (old == 0) {
            __atomic_fetch_add(&foreign_reallocs, 1, __ATOMIC_RELAXED);
            errno = ENOMEM;
            return NULL;
        }
        r = policy_alloc(size, 0, 0);
        if (r) {
            memcpy(r, p, old < size ? old : size);
            nslab_free(p);
        }
        return r;
    }
    r = arena_realloc(p, size, large_populate());
    if (LIKELY(r != NULL))
        return r;
    if (errno == EINVAL) {
        __atomic_fetch_add(&foreign_reallocs, 1, __ATOMIC_RELAXED);
    } else {
        /* The block's own node is full.  Under local and preferred, the
         * policy may place the grown block elsewhere. */
        int m = mode_get();
        size_t old = nslab_usable_size(p);
        if ((m == MENV_LOCAL || m == MENV_PREFERRED || m == MENV_PREFERRED_MANY) && old &&
            (r = policy_alloc(size, 0, 0)) != NULL) {
            memcpy(r, p, old < size ? old : size);
            nslab_free(p);
            return r;
        }
    }
    errno = ENOMEM;
    return NULL;
}

MALLOC_API void *reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

/* align: a power of two. */
static void *aligned_common(size_t align, size_t size)
{
    if (size == 0)
        size = 1;
    if (align <= MALLOC_MIN_ALIGN)
        return malloc(size);
    return policy_alloc(size, align, 0);
}

MALLOC_API int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    int saved = errno;
    void *r = aligned_common(align, size);
    if (!r) {
        errno = saved;
        return ENOMEM;
    }
    *out = r;
    return 0;
}

MALLOC_API void *aligned_alloc(size_t align, size_t size)
{
    if (align == 0 || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    return aligned_common(align, size);
}

MALLOC_API void *memalign(size_t align, size_t size)
{
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (align & (align - 1)) /* glibc: round up to a power of two */
        align = (size_t)1 << (64 - __builtin_clzll(align));
    return aligned_common(align ? align : 1, size);
}

static size_t page_size(void)
{
    return topology_get()->page_size;
}

MALLOC_API void *valloc(size_t size)
{
    return aligned_common(page_size(), size);
}

MALLOC_API void *pvalloc(size_t size)
{
    size_t pg = page_size(), rounded;
    if (__builtin_add_overflow(size, pg - 1, &rounded)) {
        errno = ENOMEM;
        return NULL;
    }
    rounded &= ~(pg - 1);
    return aligned_common(pg, rounded ? rounded : pg);
}

MALLOC_API size_t malloc_usable_size(void *p)
{
    if (p == NULL)
        return 0;
    if (UNLIKELY(arena_seg_of(p) == NULL)) {
        __atomic_fetch_add(&foreign_sizes, 1, __ATOMIC_RELAXED);
        return 0;
    }
    int saved = errno;
    size_t n = nslab_usable_size(p);
    if (UNLIKELY(n == 0)) {
        __atomic_fetch_add(&foreign_sizes, 1, __ATOMIC_RELAXED);
        errno = saved;
    }
    return n;
}

/* ---- start and exit --------------------------------------------------- */

/* fork: a thread that was reading the configuration (cfg_state 1) does not
 * exist in the child of a multi-threaded process; the child reads it again
 * (until then its calls use the local policy, as config_boot's losers do).
 * Registered after the arena's handlers, so they run first in the child. */
static __thread int fork_multi ARENA_TLS;

static void malloc_fork_prepare(void)
{
    fork_multi = topology_multi_threaded();
}

static void malloc_fork_child(void)
{
    if (!fork_multi)
        return;
    fork_multi = 0;
    if (__atomic_load_n(&cfg_state, __ATOMIC_RELAXED) == 1) {
        __atomic_store_n(&mode, MODE_BOOT, __ATOMIC_RELAXED);
        __atomic_store_n(&cfg_state, 0, __ATOMIC_RELAXED);
    }
}

/* By now libc has set environ: read the configuration if no allocation did
 * yet, and make sure the fork handlers are registered. */
__attribute__((constructor(101))) static void malloc_constructor(void)
{
    mode_get();
    arena_fork_register();
    pthread_atfork(malloc_fork_prepare, NULL, malloc_fork_child);
}

/* After the arena's node lines (stats.c's destructor runs first), one line
 * with the policy and the foreign-pointer counters, to the same place
 * (NUMASLAB_STATS: stderr or the process's file). */
__attribute__((destructor(101))) static void malloc_destructor(void)
{
    char line[512], pol[256];
    struct menv_buf b;

    if (__atomic_load_n(&cfg_state, __ATOMIC_ACQUIRE) != 2)
        return;
    int fd = arena_stats_open();
    if (fd < 0)
        return;
    menv_format_policy(&cfg.policy, pol, sizeof pol);
    menv_buf_init(&b, line, sizeof line);
    menv_buf_str(&b, "numaslab: malloc stats (pid ");
    menv_buf_int(&b, getpid());
    menv_buf_str(&b, "): policy=");
    menv_buf_str(&b, pol);
    menv_buf_str(&b, " foreign_frees=");
    menv_buf_uint(&b, __atomic_load_n(&foreign_frees, __ATOMIC_RELAXED));
    menv_buf_str(&b, " foreign_reallocs=");
    menv_buf_uint(&b, __atomic_load_n(&foreign_reallocs, __ATOMIC_RELAXED));
    menv_buf_str(&b, " foreign_usable_size=");
    menv_buf_uint(&b, __atomic_load_n(&foreign_sizes, __ATOMIC_RELAXED));
    menv_buf_writeln(&b, fd);
    arena_stats_close(fd);
}
