/*
 * topology/snapshot.c - the process-wide topology snapshot: discovered on
 * first use, replaced by topology_reload(), and replaced on its own when
 * the kernel's allowed memory nodes change (topology_check_mems).
 *
 * Threads:
 *  - topology_published (accessed only with __atomic acquire/release) is
 *    the published snapshot: NULL until the first discovery, then a struct
 *    topology that is fully written before it is stored (release) and is
 *    read-only from then on.  Readers load it with acquire: the fast path
 *    of topology_get() is that one load.
 *  - Snapshots are never written while a reader may hold them: the first
 *    is static, every later one is written into the next slot of a ring of
 *    TOPO_SNAPSHOTS snapshots mapped on first use (os_map: the 1 MiB
 *    distance matrix costs only the rows the node count touches).  A slot
 *    is rewritten only TOPO_SNAPSHOTS - 1 reloads after it was published,
 *    so a reader that loaded a snapshot sees it whole unless that many
 *    layout changes happen during one of its calls: a refresh is safe while
 *    other threads allocate (readers see the old or the new snapshot,
 *    never a torn one).  Nothing is freed.
 *  - topology_generation counts publications (relaxed reads; written under
 *    reload_lock after the release store): layers above compare it with the
 *    generation they last synchronised with, on their slow paths.
 *  - init_once runs the first discovery exactly once (pthread_once: no
 *    malloc, and concurrent first callers wait for it).
 *  - reload_lock serialises reloads and the ring.
 *  - init_error is written under init_once / reload_lock, read racily.
 *  - drained_nodes (nslab_node_drain's marks, topology_set_drained) is
 *    written under reload_lock and applied to every snapshot published
 *    after (a reload rediscovers the machine, not the marks).
 *  - change_hook (set once, before it can matter, by the arena layer) runs
 *    after an explicit nslab_topology_refresh() publishes, outside
 *    reload_lock.
 * Lock order: reload_lock -> (init_once) -> discover_lock (discover.c).
 */
#include "topology.h"
#include "os.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#define NSLAB_HAVE_SINGLE_THREADED 1
#endif
#endif

static struct topology snap0;
static struct topology *ring[TOPO_SNAPSHOTS]; /* reload_lock */
static unsigned ring_next;                    /* reload_lock */
const struct topology *topology_published; /* see the file comment */
unsigned long topology_generation;
void (*topology_change_hook)(void);
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;
static int init_error;
static nslab_nodeset_t drained_nodes; /* reload_lock (or init_once) */

/* The default source: the real system, unless the environment points
 * elsewhere (tests).  secure_getenv: no allocation, and ignored in setuid
 * programs. */
static void source_default(struct topo_source *src)
{
    src->sysfs_root = secure_getenv("NUMASLAB_SYSFS_ROOT");
    src->status_path = secure_getenv("NUMASLAB_STATUS_PATH");
    if (src->sysfs_root && !src->sysfs_root[0])
        src->sysfs_root = NULL;
    if (src->status_path && !src->status_path[0])
        src->status_path = NULL;
}

/* Discovery failed: describe one node 0 holding every CPU this thread may
 * run on, so callers still get a usable answer (topology_error() says the
 * truth).  t was cleared by topology_discover (features, page and THP
 * sizes may already be filled and are kept). */
static void snapshot_fallback(struct topology *t)
{
    uint64_t mask[TOPO_MAX_CPUS / 64];

    memset(mask, 0, sizeof mask);
    if (os_get_affinity(mask, sizeof mask) != 0)
        memset(mask, 0, sizeof mask);
    int any = 0;
    for (size_t w = 0; w < TOPO_MAX_CPUS / 64; w++)
        any |= mask[w] != 0;
    if (!any)
        mask[0] = 1;
    t->nr_nodes = 1;
    t->nr_cpus = 0;
    for (int c = 0; c < TOPO_MAX_CPUS; c++) {
        if ((mask[c / 64] >> (c % 64)) & 1) {
            t->cpu_node[c] = 0;
            t->cpu_local[c] = 0;
            t->nr_cpus = c + 1;
            t->node[0].ncpus++;
        }
    }
    memcpy(t->cpus_allowed, mask, sizeof mask);
    t->possible = t->online = t->memory = t->cpu = t->allowed =
        t->normal_memory = t->usable = nslab_nodeset_of(0);
    t->node[0] = (struct topo_node){ .online = 1, .has_memory = 1,
                                     .has_cpus = 1, .allowed = 1,
                                     .local_node = 0,
                                     .ncpus = t->node[0].ncpus };
    memset(t->distance[0], 0, sizeof t->distance[0]);
    t->distance[0][0] = 10;
    t->by_distance[0][0] = 0;
    t->nr_memory_nodes = 1;
    if (!t->page_size)
        t->page_size = (size_t)sysconf(_SC_PAGESIZE);
}

static void publish(const struct topology *t)
{
    os_set_node_bits(t->nr_nodes);
    __atomic_store_n(&topology_published, t, __ATOMIC_RELEASE);
    __atomic_store_n(&topology_generation, topology_generation + 1, __ATOMIC_RELEASE);
}

/* The kernel's allowed memory nodes now (os_allowed_nodes:
 * one system call, no file): 0, or its errno. */
static int kernel_mems(nslab_nodeset_t *out)
{
    return os_allowed_nodes(out);
}

/* Discovery plus what the change check compares with later. */
static int discover(struct topology *t, const struct topo_source *src, int real)
{
    int err = topology_discover(t, src);
    if (err == 0 && nslab_nodeset_count(&drained_nodes)) {
        t->drained = drained_nodes;
        topology_derive(t);
    }
    t->real_source = (uint8_t)real;
    t->kernel_mems_ok = (uint8_t)(kernel_mems(&t->kernel_mems) == 0);
    return err;
}

static int nodeset_equal(const nslab_nodeset_t *a, const nslab_nodeset_t *b)
{
    return memcmp(a->bits, b->bits, sizeof a->bits) == 0;
}

static void nodeset_and_possible(nslab_nodeset_t *s, const struct topology *t)
{
    for (unsigned i = 0; i < NSLAB_MAX_NODES / 64; i++)
        s->bits[i] &= t->possible.bits[i];
}

static int source_is_default(const struct topo_source *src)
{
    return !src->sysfs_root && !src->status_path;
}

static void snapshot_init(void)
{
    struct topo_source src;
    source_default(&src);
    int err = discover(&snap0, &src, source_is_default(&src));
    if (err)
        snapshot_fallback(&snap0);
    init_error = err;
    publish(&snap0);
}

const struct topology *topology_get(void)
{
    const struct topology *t =
        __atomic_load_n(&topology_published, __ATOMIC_ACQUIRE);
    if (__builtin_expect(t != NULL, 1))
        return t;
    pthread_once(&init_once, snapshot_init);
    return __atomic_load_n(&topology_published, __ATOMIC_ACQUIRE);
}

int topology_error(void)
{
    topology_get();
    return init_error;
}

/* The next ring slot to write (reload_lock held), mapped on first use; NULL
 * when it cannot be mapped. */
static struct topology *ring_slot(void)
{
    unsigned i = ring_next;
    if (!ring[i]) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t bytes = (sizeof(struct topology) + page - 1) & ~(page - 1);
        void *mem;
        if (os_map(bytes, page, 0, -1, &mem) != 0)
            return NULL;
        ring[i] = mem;
    }
    return ring[i];
}

static int reload_locked(const struct topo_source *src, int real)
{
    (void)topology_get();
    struct topology *next = ring_slot();
    if (!next)
        return ENOMEM;
    int err = discover(next, src, real);
    if (err == 0) {
        ring_next = (ring_next + 1) % TOPO_SNAPSHOTS;
        publish(next);
        init_error = 0;
    }
    return err;
}

int topology_reload(const struct topo_source *src)
{
    struct topo_source def;
    int err, real = 0;

    if (!src) {
        source_default(&def);
        src = &def;
        real = source_is_default(&def);
    }
    pthread_mutex_lock(&reload_lock);
    err = reload_locked(src, real);
    pthread_mutex_unlock(&reload_lock);
    return err;
}

/* Copy the published snapshot into dst: everything but the rows of the
 * distance matrix and by_distance past nr_nodes (never written, so never
 * faulted in: topology_clear's rule). */
static void snapshot_copy(struct topology *dst, const struct topology *src)
{
    memcpy(dst, src, offsetof(struct topology, distance));
    size_t nr = (size_t)(src->nr_nodes < NSLAB_MAX_NODES ? src->nr_nodes : NSLAB_MAX_NODES);
    memcpy(dst->distance, src->distance, nr * sizeof src->distance[0]);
    memcpy(dst->by_distance, src->by_distance, nr * sizeof src->by_distance[0]);
    memcpy((char *)dst + offsetof(struct topology, cpu_node),
           (const char *)src + offsetof(struct topology, cpu_node),
           sizeof *dst - offsetof(struct topology, cpu_node));
}

int topology_set_drained(int node, int on)
{
    const struct topology *cur = topology_get();
    if (node < 0 || node >= cur->nr_nodes || node >= NSLAB_MAX_NODES)
        return EINVAL;
    pthread_mutex_lock(&reload_lock);
    cur = __atomic_load_n(&topology_published, __ATOMIC_ACQUIRE);
    struct topology *next = ring_slot();
    if (!next) {
        pthread_mutex_unlock(&reload_lock);
        return ENOMEM;
    }
    if (on)
        nslab_nodeset_add(&drained_nodes, node);
    else
        nslab_nodeset_del(&drained_nodes, node);
    snapshot_copy(next, cur);
    next->drained = drained_nodes;
    topology_derive(next);
    ring_next = (ring_next + 1) % TOPO_SNAPSHOTS;
    publish(next);
    pthread_mutex_unlock(&reload_lock);
    return 0;
}

void topology_fork_child(void)
{
    pthread_mutex_init(&reload_lock, NULL);
    topology_discover_fork_child();
}

int topology_multi_threaded(void)
{
#if NSLAB_HAVE_SINGLE_THREADED
    return !__libc_single_threaded;
#else
    return 1;
#endif
}

int topology_threads_barrier(void)
{
    return os_membarrier();
}

/* Checks since the last look at sysfs (relaxed: a lost count only delays
 * a look). */
static unsigned layout_ticks;

/* Did the nodes online or the nodes with memory change since t? */
static int layout_changed(const struct topology *t)
{
    nslab_nodeset_t online, memory;
    if (topology_read_layout(t->sysfs_root, &online, &memory) != 0)
        return 0;
    nodeset_and_possible(&online, t);
    nodeset_and_possible(&memory, t);
    return !nodeset_equal(&online, &t->online) || !nodeset_equal(&memory, &t->memory);
}

/* The change check; force: look at sysfs on this call (not every
 * TOPO_LAYOUT_EVERY-th). */
static int check_mems(int force)
{
    const struct topology *t = topology_get();
    nslab_nodeset_t now;
    if (!t->real_source || !t->kernel_mems_ok || kernel_mems(&now) != 0)
        return 0;
    int stale = !nodeset_equal(&now, &t->kernel_mems);
    if (!stale) {
        unsigned k = force ? 0 : __atomic_add_fetch(&layout_ticks, 1, __ATOMIC_RELAXED);
        if (k % TOPO_LAYOUT_EVERY != 0 || !layout_changed(t))
            return 0;
    }
    pthread_mutex_lock(&reload_lock);
    int changed = 0;
    /* re-check under the lock: another thread may have reloaded already */
    const struct topology *cur = __atomic_load_n(&topology_published, __ATOMIC_ACQUIRE);
    if (cur->real_source && (cur == t || !nodeset_equal(&now, &cur->kernel_mems))) {
        struct topo_source def;
        source_default(&def);
        changed = reload_locked(&def, 1) == 0;
    }
    pthread_mutex_unlock(&reload_lock);
    return changed;
}

int topology_check_mems(void)
{
    return check_mems(0);
}

/* When the last refused-request look began (CLOCK_MONOTONIC ns; relaxed:
 * two threads may both look at once, which costs only the second look). */
static uint64_t recheck_last_ns;

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int topology_recheck_refused(int err)
{
    if (err != ENODEV && err != EXDEV)
        return 0;
    const struct topology *t = topology_get();
    if (!t->real_source)
        return 0;
    uint64_t now = monotonic_ns(),
             last = __atomic_load_n(&recheck_last_ns, __ATOMIC_RELAXED);
    if (now && last && now - last < TOPO_RECHECK_NS)
        return 0;
    __atomic_store_n(&recheck_last_ns, now, __ATOMIC_RELAXED);
    (void)check_mems(1);
    return __atomic_load_n(&topology_published, __ATOMIC_ACQUIRE) != t;
}
