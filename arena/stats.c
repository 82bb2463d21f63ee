/*
 * arena/stats.c - per-node statistics: nslab_arena_stats, nslab_arena_print,
 * and NUMASLAB_STATS=1 (print to stderr at exit).
 *
 * Where each number comes from:
 *   bytes_mapped      live chunks x 4 MiB + large regions' mappings (live
 *                     and kept in the node's large cache)
 *   bytes_committed   the committed pages of the live chunks (their
 *                     committed_pages bitmaps: pages given to slabs and
 *                     header pages; chunk.c decommits free pages) + the
 *                     mappings of live large regions populated whole
 *                     (LARGE_F_FULL) + the cached large regions that keep
 *                     their pages (a large block left to first touch
 *                     counts as mapped only)
 *   bytes_reserved    the capacity the live chunks hold in the ledger for
 *                     their pages not committed (chunk_reserved_bytes)
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
 *
 * NUMASLAB_STATS (read once, arena_stats_where):
 *   unset, "", 0, no, false, off   nothing;
 *   1, yes, true, on, stderr       this process's lines to stderr at exit.
 *                                  The variable is CONSUMED: a constructor
 *                                  removes it from the environment, so the
 *                                  processes this one starts do not inherit
 *                                  it (each would print to the same stderr),
 *                                  and a forked child that exits prints
 *                                  nothing;
 *   a path (it contains a '/')     each process that has it - this one and,
 *                                  since it stays in the environment, its
 *                                  children - appends its lines to the file,
 *                                  "%p" replaced by its pid ("%%": a "%"):
 *                                  children's statistics are opt-in this way;
 *   anything else                  invalid: nothing (the malloc replacement
 *                                  says so on stderr).
 * No file descriptor is kept: the file (or nothing, for stderr) is opened
 * at exit, written and closed.  A program that closed fd 2 before exiting
 * loses the stderr lines; a path keeps them.
 */
#include "arena.h"
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void stats_collect(int node, nslab_arena_stats_t *s)
{
    memset(s, 0, sizeof *s);
    s->size = sizeof *s;
    s->version = NSLAB_STATS_VERSION;
    s->node = node;
    s->drained = topology_get()->node[node].drained;
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
        for (void *b = __atomic_load_n(&ac->remote, __ATOMIC_ACQUIRE); b; b = arena_link_get(b))
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
    uint64_t nchunks = a->nchunks, cpages = 0, reserved = 0, retired = a->retired_chunks;
    for (struct chunk *c = a->chunks; c; c = c->next) {
        cpages += (uint64_t)__builtin_popcountll(c->committed_pages);
        reserved += chunk_reserved_bytes(c);
    }
    pthread_mutex_unlock(&a->chunk_lock);

    uint64_t large = __atomic_load_n(&a->large, __ATOMIC_RELAXED);
    uint64_t lmapped = __atomic_load_n(&a->large_mapped, __ATOMIC_RELAXED);
    uint64_t lcommitted = __atomic_load_n(&a->large_committed, __ATOMIC_RELAXED);
    allocs += __atomic_load_n(&a->large_allocs, __ATOMIC_RELAXED);

    pthread_mutex_lock(&a->large_lock);
    uint64_t lcached = a->large_cached_bytes, ldirty = a->large_cached_dirty;
    pthread_mutex_unlock(&a->large_lock);

    s->bytes_mapped = nchunks * SEG_SIZE + lmapped + lcached;
    s->bytes_committed = cpages * ARENA_PAGE_SIZE + lcommitted + ldirty;
    s->bytes_reserved = reserved;
    s->bytes_in_use = in_use + __atomic_load_n(&a->large_user, __ATOMIC_RELAXED);
    s->chunks = nchunks;
    s->large = large;
    s->allocs = allocs;
    s->frees = allocs >= live_blocks + large ? allocs - live_blocks - large : 0;
    s->remote_frees_in = remote_in;
    s->remote_frees_out = remote_out;
    s->fallbacks = __atomic_load_n(&a->fallbacks, __ATOMIC_RELAXED);
    s->failures = __atomic_load_n(&a->failures, __ATOMIC_RELAXED);
    s->drift_pages = __atomic_load_n(&a->drift_pages, __ATOMIC_RELAXED);
    s->drift_repaired = __atomic_load_n(&a->drift_repaired, __ATOMIC_RELAXED);
    s->chunks_retired = retired;
}

NSLAB_API int nslab_arena_stats(int node, nslab_arena_stats_t *out)
{
    const struct topology *t = topology_get();
    if (!out || out->size < 2 * sizeof(uint32_t) ||
        out->version != NSLAB_STATS_VERSION || node < 0 || node >= t->nr_nodes) {
        errno = EINVAL;
        return -EINVAL;
    }
    nslab_arena_stats_t s;
    stats_collect(node, &s);
    size_t n = out->size < sizeof s ? out->size : sizeof s;
    uint32_t size = out->size;
    memcpy(out, &s, n);
    out->size = size;
    return 0;
}

static int stats_line(char *buf, size_t len, const nslab_arena_stats_t *s)
{
    if (s->drift_pages || s->chunks_retired || s->drained)
        return snprintf(buf, len,
                        "node %d: mapped %llu committed %llu in_use %llu chunks %llu large %llu "
                        "allocs %llu frees %llu remote_in %llu remote_out %llu fallbacks %llu "
                        "failures %llu drift %llu repaired %llu retired %llu%s\n",
                        s->node, (unsigned long long)s->bytes_mapped,
                        (unsigned long long)s->bytes_committed,
                        (unsigned long long)s->bytes_in_use, (unsigned long long)s->chunks,
                        (unsigned long long)s->large, (unsigned long long)s->allocs,
                        (unsigned long long)s->frees, (unsigned long long)s->remote_frees_in,
                        (unsigned long long)s->remote_frees_out,
                        (unsigned long long)s->fallbacks, (unsigned long long)s->failures,
                        (unsigned long long)s->drift_pages,
                        (unsigned long long)s->drift_repaired,
                        (unsigned long long)s->chunks_retired, s->drained ? " drained" : "");
    return snprintf(buf, len,
                    "node %d: mapped %llu committed %llu reserved %llu in_use %llu chunks %llu "
                    "large %llu allocs %llu frees %llu remote_in %llu remote_out %llu "
                    "fallbacks %llu failures %llu\n",
                    s->node, (unsigned long long)s->bytes_mapped,
                    (unsigned long long)s->bytes_committed, (unsigned long long)s->bytes_reserved,
                    (unsigned long long)s->bytes_in_use,
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
        nslab_arena_stats_t s;
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

NSLAB_API int nslab_arena_print(FILE *out)
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

/* ---- NUMASLAB_STATS ---------------------------------------------------- */

static int stats_state;            /* 0 unread, 1 being read, 2 read */
static int stats_where_v;          /* enum arena_stats_where, once read */
static char stats_tmpl[256];       /* the path template (ARENA_STATS_FILE) */
static pid_t stats_pid;            /* the process that read it */

/* Preloaded in front of a program that links libnumaslab.so, the process
 * holds two copies of the library; the preload's public functions
 * interpose the other's, so only that copy allocates and only it may read
 * (and consume) NUMASLAB_STATS: the other would take it away first, or
 * print a second set of lines.  A copy is the active one when its public
 * nslab_arena_print, as the dynamic linker resolved it (through the GOT),
 * is its own. */
static __typeof__(nslab_arena_print) stats_print_self __attribute__((alias("nslab_arena_print")));

static int stats_copy_active(void)
{
#ifdef __PIC__
    int (*volatile resolved)(FILE *) = nslab_arena_print;
    return resolved == stats_print_self;
#else
    return 1;
#endif
}

static int word_is(const char *v, const char *w)
{
    while (*w && (*v | 0x20) == *w)
        v++, w++;
    return *w == 0 && *v == 0;
}

static int stats_parse(const char *v)
{
    static const char *const on[] = { "1", "yes", "true", "on", "stderr" };
    static const char *const off[] = { "", "0", "no", "false", "off" };
    if (!v)
        return ARENA_STATS_OFF;
    if (strchr(v, '/')) {
        size_t n = strlen(v);
        if (n >= sizeof stats_tmpl)
            return ARENA_STATS_BAD;
        memcpy(stats_tmpl, v, n + 1);
        return ARENA_STATS_FILE;
    }
    for (size_t i = 0; i < sizeof on / sizeof on[0]; i++)
        if (word_is(v, on[i]))
            return ARENA_STATS_STDERR;
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++)
        if (word_is(v, off[i]))
            return ARENA_STATS_OFF;
    return ARENA_STATS_BAD;
}

int arena_stats_where(void)
{
    int s = __atomic_load_n(&stats_state, __ATOMIC_ACQUIRE);
    if (ARENA_LIKELY(s == 2))
        return stats_where_v;
    int expect = 0;
    if (!__atomic_compare_exchange_n(&stats_state, &expect, 1, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return expect == 2 ? stats_where_v : ARENA_STATS_OFF; /* being read: off now */
    stats_where_v = stats_copy_active() ? stats_parse(secure_getenv("NUMASLAB_STATS"))
                                        : ARENA_STATS_OFF;
    stats_pid = getpid();
    __atomic_store_n(&stats_state, 2, __ATOMIC_RELEASE);
    return stats_where_v;
}

int arena_stats_open(void)
{
    int w = arena_stats_where();
    if (w == ARENA_STATS_STDERR)
        return getpid() == stats_pid ? 2 : -1; /* not in a forked child */
    if (w != ARENA_STATS_FILE)
        return -1;
    char path[sizeof stats_tmpl + 32];
    size_t o = 0;
    for (const char *t = stats_tmpl; *t && o + 24 < sizeof path; t++) {
        if (t[0] == '%' && t[1] == 'p') {
            int n = snprintf(path + o, sizeof path - o, "%ld", (long)getpid());
            o += n > 0 ? (size_t)n : 0;
            t++;
        } else if (t[0] == '%' && t[1] == '%') {
            path[o++] = '%';
            t++;
        } else {
            path[o++] = *t;
        }
    }
    path[o] = 0;
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

void arena_stats_close(int fd)
{
    if (fd > 2)
        close(fd);
}

/* Read it before main (so the answer is fixed), and consume the stderr
 * form so that child processes do not inherit it.  Priority 102: after
 * the malloc replacement's constructor (101), which reads its own
 * configuration through arena_stats_where() too. */
__attribute__((constructor(102))) static void stats_env_consume(void)
{
    if (arena_stats_where() == ARENA_STATS_STDERR)
        unsetenv("NUMASLAB_STATS");
}

static int emit_fd(void *ctx, const char *line, size_t len)
{
    ssize_t w = write(*(const int *)ctx, line, len);
    (void)w;
    return 0;
}

/* One line per node at exit (NUMASLAB_STATS), written with write(2) from a
 * stack buffer (no stdio buffers, no malloc).  A destructor, not atexit:
 * nothing to register, so nothing can allocate. */
__attribute__((destructor)) static void stats_at_exit(void)
{
    if (!arena_ready)
        return; /* nothing allocated (or another copy did: see above) */
    int fd = arena_stats_open();
    if (fd < 0)
        return;
    stats_each_line(emit_fd, &fd);
    char line[512]; /* then the process policy's, when one was read */
    int len = process_stats_line(line, sizeof line);
    if (len > 0)
        emit_fd(&fd, line, (size_t)len);
    arena_stats_close(fd);
}
