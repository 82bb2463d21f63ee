/*
 * tests/topology/fakesys.h - build a fake sysfs tree (and a fake
 * /proc/self/status) in a temporary folder, for discovery tests.
 *
 * Usage: fakesys_begin(&f, "0-3", "0-3") (possible, online), then per
 * online node fakesys_node(&f, id, cpulist, distance_row, mem_kb, free_kb),
 * optional fakesys_file() for anything else, then fakesys_end(&f) writes
 * has_cpu / has_memory / has_normal_memory (derived unless set), the CPU
 * possible list and the status file.  f.src is then a topo_source for it.
 */
#ifndef NSLAB_FAKESYS_H
#define NSLAB_FAKESYS_H

#include "topology.h"

struct fakesys {
    char root[256];       /* the fake sysfs root */
    char status[300];     /* the fake status file */
    struct topo_source src;
    /* what fakesys_end writes unless set (NULL = derive) */
    const char *has_cpu, *has_memory, *has_normal_memory, *cpu_possible;
    const char *mems_allowed, *cpus_allowed; /* NULL = no such line */
    int write_has_files;  /* 0: leave has_* files out (derive path) */
    /* derived while nodes are added */
    nslab_nodeset_t cpu_nodes, mem_nodes;
    int max_cpu;
};

void fakesys_begin(struct fakesys *f, const char *possible, const char *online);
/* cpulist "" for no CPUs, mem_kb 0 for no memory.  dist: the node's row as
 * the kernel prints it (one value per online node). */
void fakesys_node(struct fakesys *f, int node, const char *cpulist,
                  const char *dist, unsigned long mem_kb, unsigned long free_kb);
/* Write `text` to <root>/<rel>, creating folders. */
void fakesys_file(struct fakesys *f, const char *rel, const char *text);
void fakesys_end(struct fakesys *f);
/* Remove the tree. */
void fakesys_cleanup(struct fakesys *f);

/* A struct topology is large (1 MiB of distances): tests take one from the
 * heap with this (calloc'ed, never NULL) and free() it. */
struct topology *fakesys_topology(void);

#endif
