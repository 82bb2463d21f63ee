/*
 * tests/region/region_testutil.h - helpers of the region tests: leak
 * snapshots (mappings, registered segments, capacity ledger), THP and
 * hugetlb facts from /proc, a fake sysfs tree, and thread pinning.
 */
#ifndef NSLAB_REGION_TESTUTIL_H
#define NSLAB_REGION_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "testutil.h"
#include "region.h"

/* What must be the same before and after a failed call. */
struct leak_snap {
    long maps;          /* lines of /proc/self/maps */
    long segs;          /* bits set in the segment bitmap */
    size_t held;        /* capacity ledger, summed over nodes */
};
void leak_snap(struct leak_snap *s);
/* Fail unless the current state equals *before. */
void leak_assert_same(const struct leak_snap *before, const char *what);

/* AnonHugePages (bytes) summed over the smaps entries overlapping
 * [p, p + len). */
size_t smaps_anon_huge(const void *p, size_t len);
/* The THP "enabled" mode: 'a'lways, 'm'advise, 'n'ever, or 0 if absent. */
int thp_mode(void);
/* HugePages_Free of /proc/meminfo. */
long hugetlb_free_pages(void);

/* Create a fake sysfs tree and status file under a fresh temp folder and
 * make it the library's topology (topology_reload); the test fails when
 * either step does:
 *   node 0: cpu 0, memory        node 1: cpu 1, memory (not in the cpuset)
 *   node 2: offline              node 3: memory only (no CPU)
 *   node 4: cpu 2, no memory (memoryless)
 * possible 0-4; Mems_allowed_list 0,3-4.  The folder's name goes to dir.
 * fake_topology_leave() reloads the real topology and removes the folder. */
void fake_topology_enter(char *dir, size_t dirlen);
void fake_topology_leave(const char *dir);

/* Pin the calling thread to `node`'s CPUs (saving the old mask in *saved,
 * CPU_SETSIZE bits); restore with thread_unpin.  0 or an errno. */
int thread_pin(int node, uint64_t saved[16]);
void thread_unpin(const uint64_t saved[16]);

/* Print a placement histogram on one line: "  what: node0 N node1 M ...
 * [P pages]" (every node with memory, and any other node holding pages). */
void print_placement(const char *what, const nslab_placement_t *h);

/* Hand [p, p+len) to a new pipe with vmsplice, which holds a reference on
 * each page so the kernel cannot migrate it until fds are closed.  The
 * test fails if either call does. */
void pin_with_pipe(void *p, size_t len, int fds[2]);

/* Pages of a placement found on some node (the sum of on_node[]). */
size_t placement_sum(const nslab_placement_t *p);

#endif
