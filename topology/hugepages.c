/*
 * topology/hugepages.c - a node's free hugetlb pages of one size, read from
 * sysfs now (devices/system/node/nodeN/hugepages/hugepages-<kB>kB/
 * free_hugepages), for the capacity check of hugetlb memfds: the kernel
 * reserves huge pages from the global pool at mmap, not per node, so a
 * strict policy on a node without enough of them would SIGBUS at a fault.
 * No allocation.
 */
#include "topology.h"
#include "os.h"
#include "text.h"

uint64_t topology_node_free_huge(int node, size_t page_size)
{
    const struct topology *t = topology_get();
    char path[512];
    struct text_path p;
    uint64_t n = 0;

    if (node < 0 || node >= t->nr_nodes || page_size < 1024)
        return 0;
    text_path_init(&p, path, sizeof path);
    text_path_str(&p, t->sysfs_root);
    text_path_str(&p, "/devices/system/node/node");
    text_path_uint(&p, (unsigned long)node);
    text_path_str(&p, "/hugepages/hugepages-");
    text_path_uint(&p, (unsigned long)(page_size >> 10));
    text_path_str(&p, "kB/free_hugepages");
    if (p.overflow || os_read_number(path, &n) != 0)
        return 0;
    return n;
}
