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
 * arena/policy-env.c).  Until then (only possible inside the loader) blocks come
 * from the local node.  Nothing here uses dlsym, stdio or libc's malloc.
 *
 * Policies (NUMASLAB_POLICY): the library's process default policy
 * (arena/process.h), which places every block this file asks for; the
 * front keeps no policy, no fallback and no statistics writer of its own.
 * realloc keeps a block on its node (nslab_realloc), except that under
 * interleave a block that grows to PROCESS_INTERLEAVE_MIN or more moves to
 * an interleaved region.
 *
 * Prefault (numaslab.h, nslab_arena_prefault_t; NUMASLAB_PREFAULT): by
 * default the replacement's large blocks (malloc, calloc, realloc, the
 * aligned family) are bound to their node and left to fault in at first
 * touch (arena_alloc_large with populate 0), where the library's own API
 * populates them; slabs are populated as they are carved either way.
 * NUMASLAB_PREFAULT=all populates large blocks too, none populates
 * nothing.  Interleaved regions (interleave:S, blocks of
 * PROCESS_INTERLEAVE_MIN or more) are numa_malloc_interleaved's: populated.
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
 * file): the one stats writer (stats.c's destructor) prints one line per
 * node, then the process policy's line with the foreign-pointer counters
 * (process_stats_line).  No descriptor is kept open for it (a program that closes fd 2
 * before exiting, as coreutils do, needs the path form).  Destructors run
 * at exit() or return from main (not at _exit or a fatal signal).
 *
 * Not replaced: malloc_trim, mallinfo(2), malloc_stats, mallopt and the
 * __libc_* entry points stay glibc's and see glibc's (unused) heap.
 *
 * Threads: the front keeps no state (the process policy's is in
 * process.c, its threads note in process.h).
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "numaslab.h"
#include "policy-env.h"
#include "process.h"

#define MALLOC_API __attribute__((visibility("default")))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

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
    if (LIKELY(__atomic_load_n(&process_mode, __ATOMIC_ACQUIRE) == MENV_LOCAL)) {
        /* numa_malloc_local's slow path: resolves (and re-caches) the
         * thread's node; large blocks with the replacement's prefault */
        void *r = size > SC_SMALL_MAX
                      ? arena_alloc_large(NSLAB_NODE_LOCAL, size, 0, 0, process_large_populate())
                      : arena_alloc_slow(NSLAB_NODE_LOCAL, size, 1);
        if (UNLIKELY(!r))
            errno = ENOMEM;
        /* a cache made before the policy was published hits from now on */
        struct tcache *tc = arena_tls;
        if (UNLIKELY(tc != &tcache_empty && tc->policy_xor != 0))
            tc->policy_xor = 0;
        return r;
    }
    return process_alloc(size, 0, 0);
}

MALLOC_API void *malloc(size_t size)
{
    /* numa_malloc_local's hit path, missing unless the policy is local;
     * size 0 finds class 0's bin, which is always empty, and goes to
     * malloc_slow like every other miss */
    void *r = arena_alloc_local_hit_policy(size);
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
        process_count_foreign(PROCESS_FOREIGN_FREE);
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
    return process_alloc(total ? total : 1, 0, 1);
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
        process_count_foreign(PROCESS_FOREIGN_REALLOC);
        errno = ENOMEM;
        return NULL;
    }
    if (UNLIKELY(v != ARENA_FREE_OK))
        malloc_fatal("realloc()", v, p);
    if (UNLIKELY(process_mode_get() == MENV_INTERLEAVE) && size >= PROCESS_INTERLEAVE_MIN &&
        !is_interleaved(p)) {
        size_t old = nslab_usable_size(p);
        if (old == 0) {
            process_count_foreign(PROCESS_FOREIGN_REALLOC);
            errno = ENOMEM;
            return NULL;
        }
        r = process_alloc(size, 0, 0);
        if (r) {
            memcpy(r, p, old < size ? old : size);
            nslab_free(p);
        }
        return r;
    }
    r = arena_realloc(p, size, process_large_populate());
    if (LIKELY(r != NULL))
        return r;
    if (errno == EINVAL) {
        process_count_foreign(PROCESS_FOREIGN_REALLOC);
    } else {
        /* The block's own node is full.  Under local and preferred, the
         * policy may place the grown block elsewhere. */
        int m = process_mode_get();
        size_t old = nslab_usable_size(p);
        if ((m == MENV_LOCAL || m == MENV_PREFERRED || m == MENV_PREFERRED_MANY) && old &&
            (r = process_alloc(size, 0, 0)) != NULL) {
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
    if (align <= PROCESS_MIN_ALIGN)
        return malloc(size);
    return process_alloc(size, align, 0);
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
        process_count_foreign(PROCESS_FOREIGN_SIZE);
        return 0;
    }
    int saved = errno;
    size_t n = nslab_usable_size(p);
    if (UNLIKELY(n == 0)) {
        process_count_foreign(PROCESS_FOREIGN_SIZE);
        errno = saved;
    }
    return n;
}

/* ---- start and exit --------------------------------------------------- */

/* By now libc has set environ: read the configuration if no allocation did
 * yet, and make sure the fork handlers are registered. */
__attribute__((constructor(101))) static void malloc_constructor(void)
{
    process_mode_get();
    arena_fork_register();
    /* after the arena's handlers, so they run first in the child */
    pthread_atfork(process_fork_prepare, NULL, process_fork_child);
}
