/* tests/region/region_testutil.c - see region_testutil.h. */
#include "region_testutil.h"

#include "region-internal.h"
#include "topology.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static long count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    long n = 0;
    int c;
    if (!f)
        fail_msg("cannot open /proc/self/maps");
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static long count_segs(void)
{
    long n = 0;
    size_t words = sizeof seg_bitmap / sizeof seg_bitmap[0];
    for (size_t i = 0; i < words; i++)
        if (seg_bitmap[i])
            n += __builtin_popcountll(seg_bitmap[i]);
    return n;
}

void leak_snap(struct leak_snap *s)
{
    const struct topology *t = topology_get();
    s->held = 0;
    for (int n = 0; n < t->nr_nodes; n++)
        s->held += capacity_held(n);
    s->segs = count_segs();
    s->maps = count_maps(); /* last: the others do not map */
}

void leak_assert_same(const struct leak_snap *b, const char *what)
{
    struct leak_snap a;
    leak_snap(&a);
    if (a.maps != b->maps || a.segs != b->segs || a.held != b->held)
        fail_msg("%s leaked: maps %ld -> %ld, segments %ld -> %ld, held %zu -> %zu", what,
                 b->maps, a.maps, b->segs, a.segs, b->held, a.held);
}

size_t smaps_anon_huge(const void *p, size_t len)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    uintptr_t lo = (uintptr_t)p, hi = lo + len;
    int in = 0;
    size_t sum = 0;
    if (!f)
        fail_msg("cannot open /proc/self/smaps");
    while (fgets(line, sizeof line, f)) {
        unsigned long a, b;
        size_t kb;
        if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = a < hi && b > lo;
            continue;
        }
        if (in && sscanf(line, "AnonHugePages: %zu kB", &kb) == 1)
            sum += kb * 1024;
        if (in && sscanf(line, "ShmemPmdMapped: %zu kB", &kb) == 1)
            sum += kb * 1024;
    }
    fclose(f);
    return sum;
}

int thp_mode(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    char buf[128] = "";
    if (!f)
        return 0;
    if (!fgets(buf, sizeof buf, f))
        buf[0] = 0;
    fclose(f);
    if (strstr(buf, "[always]"))
        return 'a';
    if (strstr(buf, "[madvise]"))
        return 'm';
    if (strstr(buf, "[never]"))
        return 'n';
    return 0;
}

long hugetlb_free_pages(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long v = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "HugePages_Free: %ld", &v) == 1)
            break;
    fclose(f);
    return v;
}

static int put(const char *dir, const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    /* mkdir -p of the parent */
    for (char *s = path + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        mkdir(path, 0755);
        *s = '/';
    }
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    fclose(f);
    return 0;
}

static int fake_tree(struct topo_source *src, char *dir, size_t dirlen)
{
    snprintf(dir, dirlen, "/tmp/nslab-region-fake-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    static const char *dist[5] = {"10 20 30 40 12\n", "20 10 20 30 22\n", "",
                                  "30 20 20 10 30\n", "12 22 30 40 10\n"};
    static const char *cpus[5] = {"0\n", "1\n", "", "\n", "2\n"};
    static const char *mem[5] = {"512000", "512000", "", "512000", "0"};
    int r = 0;
    r |= put(dir, "sys/devices/system/node/possible", "0-4\n");
    r |= put(dir, "sys/devices/system/node/online", "0-1,3-4\n");
    r |= put(dir, "sys/devices/system/node/has_cpu", "0-1,4\n");
    r |= put(dir, "sys/devices/system/node/has_memory", "0-1,3\n");
    r |= put(dir, "sys/devices/system/node/has_normal_memory", "0-1,3\n");
    r |= put(dir, "sys/devices/system/cpu/possible", "0-2\n");
    for (int n = 0; n < 5; n++) {
        char rel[256], text[512];
        if (n == 2)
            continue;
        snprintf(rel, sizeof rel, "sys/devices/system/node/node%d/cpulist", n);
        r |= put(dir, rel, cpus[n]);
        snprintf(rel, sizeof rel, "sys/devices/system/node/node%d/distance", n);
        r |= put(dir, rel, dist[n]);
        snprintf(rel, sizeof rel, "sys/devices/system/node/node%d/meminfo", n);
        snprintf(text, sizeof text, "Node %d MemTotal:  %s kB\nNode %d MemFree:  %s kB\n", n,
                 mem[n], n, mem[n]);
        r |= put(dir, rel, text);
    }
    r |= put(dir, "status", "Name:\tfake\nMems_allowed_list:\t0,3-4\nCpus_allowed_list:\t0-2\n");
    if (r)
        return -1;
    static char sys[1100], status[1100];
    snprintf(sys, sizeof sys, "%s/sys", dir);
    snprintf(status, sizeof status, "%s/status", dir);
    src->sysfs_root = sys;
    src->status_path = status;
    return 0;
}

static void fake_tree_remove(const char *dir)
{
    char cmd[1200];
    if (strncmp(dir, "/tmp/nslab-region-fake-", 23) != 0)
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        print_message("could not remove %s\n", dir);
}

void fake_topology_enter(char *dir, size_t dirlen)
{
    struct topo_source src;
    if (fake_tree(&src, dir, dirlen) != 0)
        fail_msg("cannot build the fake sysfs tree");
    int e = topology_reload(&src);
    if (e) {
        fake_tree_remove(dir);
        fail_msg("topology_reload(fake): %d", e);
    }
}

void fake_topology_leave(const char *dir)
{
    topology_reload(NULL);
    fake_tree_remove(dir);
}

void print_placement(const char *what, const nslab_placement_t *h)
{
    const struct topology *t = topology_get();
    nslab_nodeset_t mem;
    testutil_memory_nodes(&mem);
    printf("  %s:", what);
    for (int n = 0; n < t->nr_nodes; n++)
        if (h->on_node[n] || nslab_nodeset_has(&mem, n))
            printf(" node%d %zu", n, h->on_node[n]);
    if (h->not_present)
        printf(" not-present %zu", h->not_present);
    if (h->errors)
        printf(" errors %zu", h->errors);
    printf("  [%zu pages]\n", h->pages);
}

void pin_with_pipe(void *p, size_t len, int fds[2])
{
    if (pipe(fds) != 0)
        fail_msg("pipe: %s", strerror(errno));
    struct iovec iov = {p, len};
    ssize_t n = vmsplice(fds[1], &iov, 1, 0);
    if (n != (ssize_t)len)
        fail_msg("vmsplice of %zu bytes: %zd (%s)", len, n, strerror(errno));
}

int thread_pin(int node, uint64_t saved[16])
{
    if (syscall(SYS_sched_getaffinity, 0, 16 * sizeof(uint64_t), saved) < 0)
        return errno;
    return topology_bind_thread(node);
}

void thread_unpin(const uint64_t saved[16])
{
    syscall(SYS_sched_setaffinity, 0, 16 * sizeof(uint64_t), saved);
}

size_t placement_sum(const nslab_placement_t *p)
{
    size_t s = 0;
    for (int n = 0; n < NSLAB_MAX_NODES; n++)
        s += p->on_node[n];
    return s;
}
