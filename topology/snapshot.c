/*
 * topology/snapshot.c - the process-wide topology snapshot: discovered on
 * first use, replaced by topology_reload().
 *
 * Threads:
 *  - topology_published (accessed only with __atomic acquire/release) is
 *    the published snapshot.  NULL until the
 *    first discovery; then one of snap[0], snap[1], fully written before it
 *    is stored (release) and read-only while published.  Readers load it
 *    with acquire: the fast path of topology_get() is that one load.
 *  - init_once runs the first discovery exactly once (pthread_once: no
 *    malloc, and concurrent first callers wait for it).
 *  - reload_lock serialises reloads; a reload writes the snapshot that is
 *    NOT published, then publishes it.  A reader still holding the previous
 *    pointer keeps valid data until the next reload overwrites it, which is
 *    why a reload must not race with allocation (numaslab.h says so).
 *  - init_error is written under init_once / reload_lock, read racily
 *    (an int; it only changes on a reload the caller serialises).
 * Lock order: reload_lock -> (init_once) -> discover_lock (discover.c).
 */
#include "topology.h"
#include "os.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#define NSLAB_HAVE_SINGLE_THREADED 1
#endif
#endif

static struct topology snap[2];
const struct topology *topology_published; /* see the file comment */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;
static int init_error;

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
        t->normal_memory = nslab_nodeset_of(0);
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
}

static void snapshot_init(void)
{
    struct topo_source src;
    source_default(&src);
    int err = topology_discover(&snap[0], &src);
    if (err)
        snapshot_fallback(&snap[0]);
    init_error = err;
    publish(&snap[0]);
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

int topology_reload(const struct topo_source *src)
{
    struct topo_source def;
    int err;

    if (!src) {
        source_default(&def);
        src = &def;
    }
    pthread_mutex_lock(&reload_lock);
    const struct topology *cur = topology_get();
    struct topology *next = cur == &snap[0] ? &snap[1] : &snap[0];
    err = topology_discover(next, src);
    if (err == 0) {
        publish(next);
        init_error = 0;
    }
    pthread_mutex_unlock(&reload_lock);
    return err;
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
