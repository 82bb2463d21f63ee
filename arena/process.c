/*
 * arena/process.c - the process default policy (process.h): its
 * configuration, read once from the environment (policy-env.c), the
 * placement it makes and the fallback it allows, and its statistics line.
 * No malloc, no stdio: the malloc replacement runs all of it.
 */
#include "process.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define UNLIKELY(x) __builtin_expect(!!(x), 0)

extern char **environ;

int process_mode = PROCESS_MODE_BOOT;
int process_cpu_xor = ARENA_CPU_MISS;
static int cfg_state;          /* 0 unread, 1 being read, 2 read */
static struct menv_config cfg; /* written once, before process_mode is published */

static uint64_t foreign_count[3]; /* enum process_foreign */

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
    static const char *const prefault[] = { "default", "none", "slabs", "all" };
    menv_buf_str(&b, " prefault=");
    menv_buf_str(&b, prefault[nslab_arena_prefault()]);
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

int process_config_boot(void)
{
    int expect = 0;
    if (environ == NULL) /* inside the loader, before libc set it */
        return MENV_LOCAL;
    if (!__atomic_compare_exchange_n(&cfg_state, &expect, 1, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        int m = __atomic_load_n(&process_mode, __ATOMIC_ACQUIRE);
        return m == PROCESS_MODE_BOOT ? MENV_LOCAL : m;
    }
    menv_load(&cfg);
    __atomic_store_n(&process_mode, (int)cfg.policy.mode, __ATOMIC_RELEASE);
    if (cfg.policy.mode == MENV_LOCAL)
        __atomic_store_n(&process_cpu_xor, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&cfg_state, 2, __ATOMIC_RELEASE);
    if (cfg.verbose)
        config_describe();
    return (int)cfg.policy.mode;
}

/* ---- placement -------------------------------------------------------- */

/* One block on `node` (NSLAB_NODE_LOCAL allowed): plain, aligned or zeroed. */
static void *block_on(int node, size_t size, size_t align, int zero)
{
    if (size > SC_SMALL_MAX || (align > PROCESS_MIN_ALIGN && !sc_for_align(size, align)))
        return arena_alloc_large(node, size, align > PROCESS_MIN_ALIGN ? align : 0, zero,
                                 process_large_populate());
    if (align > PROCESS_MIN_ALIGN)
        return numa_aligned_alloc_on(node, align, size);
    if (zero)
        return numa_calloc_on(node, 1, size);
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

void *process_alloc(size_t size, size_t align, int zero)
{
    int m = process_mode_get();
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
        if (size >= PROCESS_INTERLEAVE_MIN && align <= topology_get()->page_size) {
            /* over the members that may take memory now (a drained one
             * would refuse the whole set) */
            const struct topology *t = topology_get();
            nslab_nodeset_t nodes = cfg.policy.nodes;
            for (unsigned i = 0; i < NSLAB_MAX_NODES / 64; i++)
                nodes.bits[i] &= ~t->drained.bits[i];
            r = nslab_nodeset_count(&nodes) ? numa_malloc_interleaved(size, &nodes) : NULL;
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

/* ---- fork --------------------------------------------------------------- */

/* A thread that was reading the configuration (cfg_state 1) does not
 * exist in the child of a multi-threaded process; the child reads it again
 * (until then its calls use the local policy, as process_config_boot's
 * losers do). */
static __thread int fork_multi ARENA_TLS;

void process_fork_prepare(void)
{
    fork_multi = topology_multi_threaded();
}

void process_fork_child(void)
{
    if (!fork_multi)
        return;
    fork_multi = 0;
    if (__atomic_load_n(&cfg_state, __ATOMIC_RELAXED) == 1) {
        __atomic_store_n(&process_mode, PROCESS_MODE_BOOT, __ATOMIC_RELAXED);
        __atomic_store_n(&cfg_state, 0, __ATOMIC_RELAXED);
    }
}

/* ---- statistics ------------------------------------------------------- */

void process_count_foreign(enum process_foreign what)
{
    if ((unsigned)what < 3)
        __atomic_fetch_add(&foreign_count[what], 1, __ATOMIC_RELAXED);
}

int process_stats_line(char *buf, size_t len)
{
    char pol[256];
    struct menv_buf b;

    if (__atomic_load_n(&cfg_state, __ATOMIC_ACQUIRE) != 2 || len < 2)
        return 0;
    menv_format_policy(&cfg.policy, pol, sizeof pol);
    menv_buf_init(&b, buf, len);
    menv_buf_str(&b, "numaslab: malloc stats (pid ");
    menv_buf_int(&b, getpid());
    menv_buf_str(&b, "): policy=");
    menv_buf_str(&b, pol);
    menv_buf_str(&b, " foreign_frees=");
    menv_buf_uint(&b, __atomic_load_n(&foreign_count[PROCESS_FOREIGN_FREE], __ATOMIC_RELAXED));
    menv_buf_str(&b, " foreign_reallocs=");
    menv_buf_uint(&b, __atomic_load_n(&foreign_count[PROCESS_FOREIGN_REALLOC], __ATOMIC_RELAXED));
    menv_buf_str(&b, " foreign_usable_size=");
    menv_buf_uint(&b, __atomic_load_n(&foreign_count[PROCESS_FOREIGN_SIZE], __ATOMIC_RELAXED));
    menv_buf_newline(&b);
    return (int)(b.len < len ? b.len : len - 1);
}
