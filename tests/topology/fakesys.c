/* tests/topology/fakesys.c - see fakesys.h.  Test code: stdio and malloc
 * are fine here. */
#include "fakesys.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void mkdirs(const char *path)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
    mkdir(tmp, 0755);
}

void fakesys_file(struct fakesys *f, const char *rel, const char *text)
{
    char path[512], dir[512];
    snprintf(path, sizeof path, "%s/%s", f->root, rel);
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        mkdirs(dir);
    }
    FILE *fp = fopen(path, "w");
    if (!fp)
        fail_msg("cannot write %s", path);
    fputs(text, fp);
    fclose(fp);
}

void fakesys_begin(struct fakesys *f, const char *possible, const char *online)
{
    memset(f, 0, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->root, sizeof f->root, "%s/nslab-fakesys-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->root))
        fail_msg("mkdtemp failed");
    snprintf(f->status, sizeof f->status, "%s/status", f->root);
    f->src.sysfs_root = f->root;
    f->src.status_path = f->status;
    f->write_has_files = 1;
    f->max_cpu = -1;
    char buf[256];
    snprintf(buf, sizeof buf, "%s\n", possible);
    fakesys_file(f, "devices/system/node/possible", buf);
    snprintf(buf, sizeof buf, "%s\n", online);
    fakesys_file(f, "devices/system/node/online", buf);
    fakesys_file(f, "kernel/mm/transparent_hugepage/enabled",
                 "always [madvise] never\n");
    fakesys_file(f, "kernel/mm/transparent_hugepage/hpage_pmd_size",
                 "2097152\n");
}

/* The highest CPU of a list like "0-3,8". */
static int list_max(const char *s)
{
    int max = -1;
    while (*s) {
        if (*s < '0' || *s > '9') {
            s++;
            continue;
        }
        int v = 0;
        while (*s >= '0' && *s <= '9')
            v = v * 10 + (*s++ - '0');
        if (v > max)
            max = v;
    }
    return max;
}

void fakesys_node(struct fakesys *f, int node, const char *cpulist,
                  const char *dist, unsigned long mem_kb, unsigned long free_kb)
{
    char rel[128], buf[1024];
    snprintf(rel, sizeof rel, "devices/system/node/node%d/cpulist", node);
    snprintf(buf, sizeof buf, "%s\n", cpulist);
    fakesys_file(f, rel, buf);
    snprintf(rel, sizeof rel, "devices/system/node/node%d/distance", node);
    snprintf(buf, sizeof buf, "%s\n", dist);
    fakesys_file(f, rel, buf);
    snprintf(rel, sizeof rel, "devices/system/node/node%d/meminfo", node);
    /* The kernel's layout, with the "Node N" prefix. */
    snprintf(buf, sizeof buf,
             "Node %d MemTotal:       %8lu kB\n"
             "Node %d MemFree:        %8lu kB\n"
             "Node %d MemUsed:        %8lu kB\n"
             "Node %d SwapCached:            0 kB\n"
             "Node %d HugePages_Free:      0\n",
             node, mem_kb, node, free_kb, node, mem_kb - free_kb, node, node);
    fakesys_file(f, rel, buf);
    if (cpulist[0])
        nslab_nodeset_add(&f->cpu_nodes, node);
    if (mem_kb)
        nslab_nodeset_add(&f->mem_nodes, node);
    int m = list_max(cpulist);
    if (m > f->max_cpu)
        f->max_cpu = m;
}

void fakesys_end(struct fakesys *f)
{
    char buf[8192], list[4096];
    if (f->write_has_files) {
        nslab_nodeset_format(&f->cpu_nodes, list, sizeof list);
        snprintf(buf, sizeof buf, "%s\n", f->has_cpu ? f->has_cpu : list);
        fakesys_file(f, "devices/system/node/has_cpu", buf);
        nslab_nodeset_format(&f->mem_nodes, list, sizeof list);
        snprintf(buf, sizeof buf, "%s\n", f->has_memory ? f->has_memory : list);
        fakesys_file(f, "devices/system/node/has_memory", buf);
        snprintf(buf, sizeof buf, "%s\n",
                 f->has_normal_memory ? f->has_normal_memory : list);
        fakesys_file(f, "devices/system/node/has_normal_memory", buf);
    }
    if (f->cpu_possible) {
        snprintf(buf, sizeof buf, "%s\n", f->cpu_possible);
    } else if (f->max_cpu >= 0) {
        snprintf(buf, sizeof buf, "0-%d\n", f->max_cpu);
    } else {
        snprintf(buf, sizeof buf, "0\n");
    }
    fakesys_file(f, "devices/system/cpu/possible", buf);
    /* A status file shaped like the kernel's (other lines around). */
    int n = snprintf(buf, sizeof buf,
                     "Name:\tfake\nUmask:\t0022\nState:\tR (running)\n"
                     "Threads:\t1\n");
    if (f->cpus_allowed)
        n += snprintf(buf + n, sizeof buf - n,
                      "Cpus_allowed:\tff\nCpus_allowed_list:\t%s\n",
                      f->cpus_allowed);
    if (f->mems_allowed)
        n += snprintf(buf + n, sizeof buf - n,
                      "Mems_allowed:\t00000000,0000000f\n"
                      "Mems_allowed_list:\t%s\n",
                      f->mems_allowed);
    snprintf(buf + n, sizeof buf - n,
             "voluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t0\n");
    FILE *fp = fopen(f->status, "w");
    if (!fp)
        fail_msg("cannot write %s", f->status);
    fputs(buf, fp);
    fclose(fp);
}

void fakesys_cleanup(struct fakesys *f)
{
    char cmd[600];
    if (!f->root[0] || strstr(f->root, "nslab-fakesys-") == NULL)
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->root);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", f->root);
    f->root[0] = '\0';
}

struct topology *fakesys_topology(void)
{
    struct topology *t = calloc(1, sizeof *t);
    if (!t)
        fail_msg("out of memory");
    return t;
}
