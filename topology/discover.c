/*
 * topology/discover.c - read the machine's NUMA layout from sysfs and the
 * process's cpuset into a struct topology, classify its nodes, and detect
 * the kernel's optional memory-policy features.
 *
 * Sources (under src->sysfs_root, default "/sys"):
 *   devices/system/node/{possible,online,has_memory,has_cpu,has_normal_memory}
 *   devices/system/node/nodeN/{cpulist,distance,meminfo}   (online nodes)
 *   devices/system/cpu/possible
 *   kernel/mm/transparent_hugepage/{hpage_pmd_size,enabled}
 * and src->status_path (default "/proc/self/status"): Mems_allowed_list,
 * Cpus_allowed_list.
 *
 * No malloc and no stdio: files are read into one static scratch buffer.
 * Locks: discover_lock protects that scratch storage (the buffer and the
 * CPU bitmap); it is a leaf lock (nothing else is taken while it is held).
 * features_once guards the one-time probe of kernel features; the probe
 * results are written once inside it and read-only afterwards.
 */
#include "topology.h"
#include "os.h"
#include "text.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_SYSFS_ROOT "/sys"
#define DEFAULT_STATUS_PATH "/proc/self/status"

/* Largest file discovery reads (a cpulist of 8192 CPUs listed one by one,
 * or a distance row of 1024 nodes, fits). */
#define SCRATCH_SIZE (64 * 1024)

static pthread_mutex_t discover_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char buf[SCRATCH_SIZE];
    uint64_t cpus[TOPO_MAX_CPUS / 64];
} scratch; /* protected by discover_lock */

/* ---- small helpers ------------------------------------------------------ */

static void node_path(struct text_path *p, const char *root, const char *rel)
{
    text_path_str(p, root);
    text_path_str(p, "/devices/system/node/");
    text_path_str(p, rel);
}

/* Read <root>/devices/system/node/<rel> as a node list into *out. */
static int read_node_list(const char *root, const char *rel,
                          nslab_nodeset_t *out)
{
    char path[512];
    struct text_path p;
    text_path_init(&p, path, sizeof path);
    node_path(&p, root, rel);
    if (p.overflow)
        return ENAMETOOLONG;
    long n = os_read_file(path, scratch.buf, sizeof scratch.buf);
    if (n < 0)
        return (int)-n;
    int err = text_parse_list(scratch.buf, NULL, out->bits, NSLAB_MAX_NODES);
    return err == ERANGE ? 0 : err; /* nodes past the limit are ignored */
}

/* Read <root>/devices/system/node/node<N>/<file> into scratch.buf. */
static long read_node_file(const char *root, int node, const char *file)
{
    char path[512];
    struct text_path p;
    text_path_init(&p, path, sizeof path);
    node_path(&p, root, "node");
    text_path_uint(&p, (unsigned long)node);
    text_path_str(&p, "/");
    text_path_str(&p, file);
    if (p.overflow)
        return -ENAMETOOLONG;
    return os_read_file(path, scratch.buf, sizeof scratch.buf);
}

static int highest(const uint64_t *bits, int nbits)
{
    for (int w = (nbits + 63) / 64 - 1; w >= 0; w--)
        if (bits[w])
            return w * 64 + 63 - __builtin_clzll(bits[w]);
    return -1;
}

static void set_and(nslab_nodeset_t *a, const nslab_nodeset_t *b)
{
    for (int i = 0; i < NSLAB_MAX_NODES / 64; i++)
        a->bits[i] &= b->bits[i];
}

/* ---- kernel features, probed once per process --------------------------- */

static pthread_once_t features_once = PTHREAD_ONCE_INIT;
static struct os_features features; /* written once under features_once */

static void features_probe(void)
{
    os_probe(&features);
}

/* THP: the PMD size, and 0 when THP is off ("[never]") or absent. */
static void discover_thp(struct topology *t, const char *root)
{
    char path[512];
    struct text_path p;
    uint64_t v = 0;

    t->thp_size = 0;
    text_path_init(&p, path, sizeof path);
    text_path_str(&p, root);
    text_path_str(&p, "/kernel/mm/transparent_hugepage/enabled");
    if (p.overflow || os_read_file(path, scratch.buf, sizeof scratch.buf) < 0)
        return;
    if (strstr(scratch.buf, "[never]"))
        return;
    t->thp_always = strstr(scratch.buf, "[always]") != NULL;
    text_path_init(&p, path, sizeof path);
    text_path_str(&p, root);
    text_path_str(&p, "/kernel/mm/transparent_hugepage/hpage_pmd_size");
    if (!p.overflow && os_read_number(path, &v) == 0)
        t->thp_size = (size_t)v;
}

/* ---- the cpuset ---------------------------------------------------------- */

static void discover_cpuset(struct topology *t, const char *status_path)
{
    const char *line;
    int have_mems = 0, have_cpus = 0;

    if (os_read_file(status_path, scratch.buf, sizeof scratch.buf) >= 0) {
        line = text_find_line(scratch.buf, "Mems_allowed_list:");
        if (line && text_parse_list(line, NULL, t->allowed.bits,
                                    NSLAB_MAX_NODES) != EINVAL)
            have_mems = 1;
        line = text_find_line(scratch.buf, "Cpus_allowed_list:");
        if (line && text_parse_list(line, NULL, t->cpus_allowed,
                                    TOPO_MAX_CPUS) != EINVAL)
            have_cpus = 1;
    }
    if (!have_mems) /* no cpuset information: everything is allowed */
        t->allowed = t->possible;
    set_and(&t->allowed, &t->possible);
    if (!have_cpus)
        for (int c = 0; c < t->nr_cpus; c++)
            t->cpus_allowed[c / 64] |= UINT64_C(1) << (c % 64);
}

/* ---- classification ----------------------------------------------------- */

/* The node "local" allocations of node n's CPUs use: n itself if it has
 * memory, else the nearest online node with memory and CPUs by distance
 * from n (ties: lower id).  Memory-only nodes are never anyone's local node
 * (and have none themselves: no CPU runs there). */
static int classify_local(const struct topology *t, int n)
{
    const struct topo_node *tn = &t->node[n];
    if (!tn->online || !tn->has_cpus)
        return -1;
    if (tn->has_memory && !tn->drained)
        return n;
    const int16_t *near = t->by_distance[n];
    for (int i = 0; i < t->nr_memory_nodes; i++)
        if (t->node[near[i]].has_cpus)
            return near[i];
    return -1;
}

/* by_distance (topology.h): each row a counting sort of the nodes with
 * memory that are not drained (ascending ids, so ties keep the lower id)
 * by their key from n: 0 for n itself, else the distance, 255 when
 * unknown (0). */
static void sort_by_distance(struct topology *t, int nr)
{
    int16_t mem[NSLAB_MAX_NODES];
    int cnt = 0;
    for (int m = nslab_nodeset_next(&t->memory, 0); m >= 0 && cnt < NSLAB_MAX_NODES;
         m = nslab_nodeset_next(&t->memory, m + 1))
        if (!nslab_nodeset_has(&t->drained, m))
            mem[cnt++] = (int16_t)m;
    t->nr_memory_nodes = cnt;
    for (int n = 0; n < nr; n++) {
        unsigned start[257] = {0};
        for (int i = 0; i < cnt; i++) {
            int m = mem[i], d = t->distance[n][m];
            start[(m == n ? 0 : d ? d : 255) + 1]++;
        }
        for (int k = 1; k < 257; k++)
            start[k] += start[k - 1];
        for (int i = 0; i < cnt; i++) {
            int m = mem[i], d = t->distance[n][m];
            t->by_distance[n][start[m == n ? 0 : d ? d : 255]++] = (int16_t)m;
        }
    }
}

int topology_nearest_in(const struct topology *t, int from, const nslab_nodeset_t *set)
{
    const int16_t *near = topology_by_distance(t, from);
    if (!near)
        return -1;
    for (int i = 0; i < t->nr_memory_nodes; i++)
        if (nslab_nodeset_has(set, near[i]))
            return near[i];
    return -1;
}

/* ---- discovery ---------------------------------------------------------- */

static void topology_clear(struct topology *t)
{
    /* Everything but the distance matrix and by_distance, whose rows past
     * nr_nodes stay untouched (3 MiB we do not want to fault in); see
     * discover_nodes and sort_by_distance. */
    memset(t, 0, offsetof(struct topology, distance));
    memset((char *)t + offsetof(struct topology, cpu_node), 0,
           sizeof *t - offsetof(struct topology, cpu_node));
    for (int c = 0; c < TOPO_MAX_CPUS; c++) {
        t->cpu_node[c] = -1;
        t->cpu_local[c] = -1;
    }
    for (int n = 0; n < NSLAB_MAX_NODES; n++)
        t->node[n].local_node = -1;
}

/* Per online node: CPUs, distances, memory. */
static void discover_nodes(struct topology *t, int derive_cpu, int derive_mem,
                           int derive_nr_cpus)
{
    for (int n = 0; n < t->nr_nodes; n++)
        memset(t->distance[n], 0, sizeof t->distance[n]);

    for (int n = nslab_nodeset_next(&t->online, 0); n >= 0;
         n = nslab_nodeset_next(&t->online, n + 1)) {
        struct topo_node *tn = &t->node[n];
        tn->online = 1;

        if (read_node_file(t->sysfs_root, n, "cpulist") >= 0 &&
            text_parse_list(scratch.buf, NULL, scratch.cpus, TOPO_MAX_CPUS)
                != EINVAL) {
            for (int c = 0; c < TOPO_MAX_CPUS; c++) {
                if (!((scratch.cpus[c / 64] >> (c % 64)) & 1))
                    continue;
                if (t->cpu_node[c] < 0) /* first node listing it wins */
                    t->cpu_node[c] = (int16_t)n;
                tn->ncpus++;
                if (derive_nr_cpus && c >= t->nr_cpus)
                    t->nr_cpus = c + 1;
            }
        }
        if (derive_cpu && tn->ncpus > 0)
            nslab_nodeset_add(&t->cpu, n);

        /* distance lists one value per online node, in node order. */
        if (read_node_file(t->sysfs_root, n, "distance") >= 0) {
            const char *s = scratch.buf;
            uint64_t d;
            for (int m = nslab_nodeset_next(&t->online, 0); m >= 0;
                 m = nslab_nodeset_next(&t->online, m + 1)) {
                if (text_parse_u64(&s, &d) != 0)
                    break;
                t->distance[n][m] = (uint8_t)(d > 255 ? 255 : d);
            }
        }

        if (read_node_file(t->sysfs_root, n, "meminfo") >= 0) {
            uint64_t kb = 0;
            if (text_find_u64(scratch.buf, "MemTotal:", &kb) == 0)
                tn->mem_total = kb * 1024;
        }
        if (derive_mem && tn->mem_total > 0)
            nslab_nodeset_add(&t->memory, n);
    }
}

static int discover_locked(struct topology *t, const struct topo_source *src)
{
    const char *root = src && src->sysfs_root ? src->sysfs_root
                                                : DEFAULT_SYSFS_ROOT;
    const char *status = src && src->status_path ? src->status_path
                                                   : DEFAULT_STATUS_PATH;
    int err, derive_cpu = 0, derive_mem = 0, derive_normal = 0;

    topology_clear(t);
    if (strlen(root) >= sizeof t->sysfs_root)
        return ENAMETOOLONG;
    memcpy(t->sysfs_root, root, strlen(root) + 1);

    /* Kernel facts first: they hold even if the node tree is unreadable. */
    t->page_size = (size_t)sysconf(_SC_PAGESIZE);
    discover_thp(t, root);
    pthread_once(&features_once, features_probe);
    t->has_preferred_many = features.preferred_many;
    t->has_weighted_interleave = features.weighted_interleave;
    t->has_populate_write = features.populate_write;

    err = read_node_list(root, "possible", &t->possible);
    if (err)
        return err == ENOENT ? ENOENT : EIO;
    t->nr_nodes = highest(t->possible.bits, NSLAB_MAX_NODES) + 1;
    if (t->nr_nodes <= 0)
        return EIO;
    err = read_node_list(root, "online", &t->online);
    if (err)
        return EIO;
    set_and(&t->online, &t->possible);
    if (read_node_list(root, "has_cpu", &t->cpu) != 0)
        derive_cpu = 1;
    if (read_node_list(root, "has_memory", &t->memory) != 0)
        derive_mem = 1;
    if (read_node_list(root, "has_normal_memory", &t->normal_memory) != 0)
        derive_normal = 1;

    /* CPU ids: cpu/possible, else the largest CPU the nodes list. */
    {
        char path[512];
        struct text_path p;
        text_path_init(&p, path, sizeof path);
        text_path_str(&p, root);
        text_path_str(&p, "/devices/system/cpu/possible");
        if (!p.overflow &&
            os_read_file(path, scratch.buf, sizeof scratch.buf) >= 0 &&
            text_parse_list(scratch.buf, NULL, scratch.cpus, TOPO_MAX_CPUS)
                != EINVAL)
            t->nr_cpus = highest(scratch.cpus, TOPO_MAX_CPUS) + 1;
    }

    discover_nodes(t, derive_cpu, derive_mem, t->nr_cpus <= 0);
    if (t->nr_cpus <= 0)
        t->nr_cpus = 1; /* no CPU list at all: at least CPU 0 */
    set_and(&t->cpu, &t->online);
    set_and(&t->memory, &t->online);
    if (derive_normal)
        t->normal_memory = t->memory;
    set_and(&t->normal_memory, &t->memory);

    /* nr <= NSLAB_MAX_NODES: `highest` of an NSLAB_MAX_NODES-bit set. */
    const int nr = t->nr_nodes < NSLAB_MAX_NODES ? t->nr_nodes : NSLAB_MAX_NODES;
    for (int n = 0; n < nr; n++) {
        t->node[n].has_cpus = (uint8_t)nslab_nodeset_has(&t->cpu, n);
        t->node[n].has_memory = (uint8_t)nslab_nodeset_has(&t->memory, n);
    }

    discover_cpuset(t, status);
    for (int n = 0; n < nr; n++)
        t->node[n].allowed = (uint8_t)nslab_nodeset_has(&t->allowed, n);

    topology_derive(t); /* nothing drained yet (t->drained is clear) */
    return 0;
}

void topology_derive(struct topology *t)
{
    const int nr = t->nr_nodes < NSLAB_MAX_NODES ? t->nr_nodes : NSLAB_MAX_NODES;
    for (unsigned i = 0; i < NSLAB_MAX_NODES / 64; i++) {
        t->drained.bits[i] &= t->possible.bits[i];
        t->usable.bits[i] = t->allowed.bits[i] & t->memory.bits[i] & ~t->drained.bits[i];
    }
    for (int n = 0; n < nr; n++)
        t->node[n].drained = (uint8_t)nslab_nodeset_has(&t->drained, n);
    sort_by_distance(t, nr);
    for (int n = 0; n < nr; n++)
        t->node[n].local_node = (int16_t)classify_local(t, n);
    for (int c = 0; c < t->nr_cpus; c++)
        if (t->cpu_node[c] >= 0)
            t->cpu_local[c] = t->node[t->cpu_node[c]].local_node;
}

int topology_discover(struct topology *t, const struct topo_source *src)
{
    pthread_mutex_lock(&discover_lock);
    int err = discover_locked(t, src);
    pthread_mutex_unlock(&discover_lock);
    return err;
}

void topology_discover_fork_child(void)
{
    pthread_mutex_init(&discover_lock, NULL);
}

int topology_read_layout(const char *root, nslab_nodeset_t *online,
                         nslab_nodeset_t *memory)
{
    pthread_mutex_lock(&discover_lock);
    nslab_nodeset_zero(online);
    nslab_nodeset_zero(memory);
    int err = read_node_list(root, "online", online);
    if (!err)
        err = read_node_list(root, "has_memory", memory);
    pthread_mutex_unlock(&discover_lock);
    return err;
}

uint64_t topology_node_free(int node)
{
    const struct topology *t = topology_get();
    char buf[8192];
    char path[512];
    struct text_path p;
    uint64_t kb = 0;

    if (node < 0 || node >= t->nr_nodes || !t->node[node].online)
        return 0;
    text_path_init(&p, path, sizeof path);
    node_path(&p, t->sysfs_root, "node");
    text_path_uint(&p, (unsigned long)node);
    text_path_str(&p, "/meminfo");
    if (p.overflow || os_read_file(path, buf, sizeof buf) < 0)
        return 0;
    if (text_find_u64(buf, "MemFree:", &kb) != 0)
        return 0;
    return kb * 1024;
}
