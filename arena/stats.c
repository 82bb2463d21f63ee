/*
 * arena/stats.c - per-node statistics: nslab_stats_node, nslab_stats_print,
 * and NUMASLAB_STATS=1 (print to stderr at exit).
 *
 * Where each number comes from:
 *   bytes_mapped      live chunks x 4 MiB + large regions' mappings (live
 *                     and kept in the node's large cache)
 *   bytes_committed   the committed pages of the live chunks (their
 *                     committed_pages bitmaps: chunk.c decommits free
 *                     pages) + large regions' mappings (populated when
 *                     mapped, never decommitted while mapped)
 *   bytes_in_use      sum over classes of (blocks out of slabs - blocks in
 *                     thread caches - blocks on remote stacks) x class size,
 *                     plus large regions' user bytes
 *   allocs            thread bins' counters (live threads, merged on read,
 *                     plus retired threads') + uncached + large
 *   frees             allocs - live blocks (derived, so the fast path
 *                     counts one thing only)
 *   remote_frees_in   blocks the node's arena collected from remote stacks
 *                     or got directly from a thread on another node
 *   remote_frees_out  blocks of other nodes freed by threads running on
 *                     this node (counted when they leave the thread)
 * Locks: the registry lock, then each class lock in turn, then the chunk
 * lock (arena.h order).  Threads' bins are read racily: a snapshot, exact
 * when the other threads are quiescent.
 */
#include "arena.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void stats_collect(int node, nslab_node_stats_t *s)
{
    memset(s, 0, sizeof *s);
    s->size = sizeof *s;
    s->version = NSLAB_STATS_VERSION;
    s->node = node;
    /* Created if missing: live threads may hold counters for a node whose
     * arena does not exist yet (remote_out of a thread running there). */
    int err;
    struct arena *a = arena_get(node, &err);
    if (!a)
        return;

    uint64_t cached[SC_COUNT], allocs = 0, remote_out = 0;
    memset(cached, 0, sizeof cached);

    tcache_registry_lock();
    for (struct tcache *tc = tcache_registry_first(); tc; tc = tc->reg_next) {
        if (node >= tc->nr_nodes)
            continue;
        struct tc_node *tn = &tc->nodes[node];
        for (unsigned c = 1; c < SC_COUNT; c++) {
            int32_t room = __atomic_load_n(&tn->bins[c].room, __ATOMIC_RELAXED);
            cached[c] += (uint64_t)(sc_limit[c] - room);
            allocs += __atomic_load_n(&tn->bins[c].allocs, __ATOMIC_RELAXED);
        }
        remote_out += __atomic_load_n(&tn->remote_out, __ATOMIC_RELAXED);
    }
    allocs += __atomic_load_n(&a->retired_allocs, __ATOMIC_RELAXED);
    remote_out += __atomic_load_n(&a->retired_remote_out, __ATOMIC_RELAXED);
    remote_out += __atomic_load_n(&a->direct_remote_out, __ATOMIC_RELAXED);

    uint64_t live_blocks = 0, in_use = 0, remote_in = 0;
    for (unsigned c = 1; c < SC_COUNT; c++) {
        struct arena_class *ac = &a->cls[c];
        pthread_mutex_lock(&ac->lock);
        uint64_t pending = 0;
        for (void *b = __atomic_load_n(&ac->remote, __ATOMIC_ACQUIRE); b; b = *(void **)b)
            pending++;
        uint64_t out = ac->out;
        remote_in += ac->remote_in;
        allocs += ac->direct_allocs;
        pthread_mutex_unlock(&ac->lock);
        uint64_t live = out >= cached[c] + pending ? out - cached[c] - pending : 0;
        live_blocks += live;
        in_use += live * sc_size[c];
    }
    tcache_registry_unlock();

    pthread_mutex_lock(&a->chunk_lock);
    uint64_t nchunks = a->nchunks, cpages = 0;
    for (struct chunk *c = a->chunks; c; c = c->next)
        cpages += (uint64_t)__builtin_popcountll(c->committed_pages);
    pthread_mutex_unlock(&a->chunk_lock);

    uint64_t large = __atomic_load_n(&a->large, __ATOMIC_RELAXED);
    uint64_t lmapped = __atomic_load_n(&a->large_mapped, __ATOMIC_RELAXED);
    allocs += __atomic_load_n(&a->large_allocs, __ATOMIC_RELAXED);

    pthread_mutex_lock(&a->large_lock);
    uint64_t lcached = a->large_cached_bytes;
    pthread_mutex_unlock(&a->large_lock);

    s->bytes_mapped = nchunks * SEG_SIZE + lmapped + lcached;
    s->bytes_committed = cpages * ARENA_PAGE_SIZE + lmapped + lcached;
    s->bytes_in_use = in_use + __atomic_load_n(&a->large_user, __ATOMIC_RELAXED);
    s->chunks = nchunks;
    s->large = large;
    s->allocs = allocs;
    s->frees = allocs >= live_blocks + large ? allocs - live_blocks - large : 0;
    s->remote_frees_in = remote_in;
    s->remote_frees_out = remote_out;
    s->fallbacks = __atomic_load_n(&a->fallbacks, __ATOMIC_RELAXED);
    s->failures = __atomic_load_n(&a->failures, __ATOMIC_RELAXED);
}

NSLAB_API int nslab_stats_node(int node, nslab_node_stats_t *out)
{
    const struct topology *t = topology_get();
    if (!out || out->size < 2 * sizeof(uint32_t) ||
        out->version != NSLAB_STATS_VERSION || node < 0 || node >= t->nr_nodes) {
        errno = EINVAL;
        return -EINVAL;
    }
    nslab_node_stats_t s;
    stats_collect(node, &s);
    size_t n = out->size < sizeof s ? out->size : sizeof s;
    uint32_t size = out->size;
    memcpy(out, &s, n);
    out->size = size;
    return 0;
}

static int stats_line(char *buf, size_t len, const nslab_node_stats_t *s)
{
    return snprintf(buf, len,
                    "node %d: mapped %llu committed %llu in_use %llu chunks %llu large %llu "
                    "allocs %llu frees %llu remote_in %llu remote_out %llu fallbacks %llu "
                    "failures %llu\n",
                    s->node, (unsigned long long)s->bytes_mapped,
                    (unsigned long long)s->bytes_committed, (unsigned long long)s->bytes_in_use,
                    (unsigned long long)s->chunks, (unsigned long long)s->large,
                    (unsigned long long)s->allocs, (unsigned long long)s->frees,
                    (unsigned long long)s->remote_frees_in,
                    (unsigned long long)s->remote_frees_out, (unsigned long long)s->fallbacks,
                    (unsigned long long)s->failures);
}

/* The nodes worth a line: those with memory, and any with an arena. */
static int stats_node_shown(const struct topology *t, int n)
{
    return t->node[n].has_memory || arena_peek(n) != NULL;
}

/* Formats the line of every node worth one into a stack buffer and hands it
 * to emit (the text, its length); stops at the first non-zero return. */
static int stats_each_line(int (*emit)(void *ctx, const char *line, size_t len), void *ctx)
{
    const struct topology *t = topology_get();
    char buf[512];
    for (int n = 0; n < t->nr_nodes; n++) {
        if (!stats_node_shown(t, n))
            continue;
        nslab_node_stats_t s;
        stats_collect(n, &s);
        int len = stats_line(buf, sizeof buf, &s);
        if (len <= 0)
            continue;
        int r = emit(ctx, buf, (size_t)len < sizeof buf ? (size_t)len : sizeof buf - 1);
        if (r)
            return r;
    }
    return 0;
}

static int emit_stdio(void *ctx, const char *line, size_t len)
{
    (void)len;
    return fputs(line, (FILE *)ctx) == EOF ? -EIO : 0;
}

NSLAB_API int nslab_stats_print(FILE *out)
{
    if (!out) {
        errno = EINVAL;
        return -EINVAL;
    }
    if (stats_each_line(emit_stdio, out) != 0 || fflush(out) == EOF) {
        errno = EIO;
        return -EIO;
    }
    return 0;
}

static int emit_stderr_fd(void *ctx, const char *line, size_t len)
{
    (void)ctx;
    ssize_t w = write(2, line, len);
    (void)w;
    return 0;
}

/* NUMASLAB_STATS=1: one line per node to stderr at exit, written with
 * write(2) from a stack buffer (no stdio buffers, no malloc).  A
 * destructor, not atexit: nothing to register, so nothing can allocate. */
__attribute__((destructor)) static void stats_at_exit(void)
{
    const char *v = getenv("NUMASLAB_STATS");
    if (!v || v[0] != '1' || !arena_ready)
        return;
    stats_each_line(emit_stderr_fd, NULL);
}
