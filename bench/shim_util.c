/*
 * bench/shim_util.c - helpers shared by the shims (see shim_util.h).
 */
#include "shim_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define WORD_BITS (8 * sizeof(unsigned long))

int bu_mbind(void *addr, size_t len, int mode, const unsigned long *nodes)
{
    /* maxnode is the number of bits + 1: the kernel reads maxnode - 1. */
    long rc = syscall(SYS_mbind, addr, len, mode, nodes,
                      (unsigned long)BU_MAX_NODES + 1, 0UL);
    return rc == 0 ? 0 : -errno;
}

void bu_one_node(unsigned long *mask, int node)
{
    memset(mask, 0, BU_MAX_NODES / 8);
    mask[node / WORD_BITS] |= 1UL << (node % WORD_BITS);
}

const unsigned long *bu_memory_nodes(void)
{
    static unsigned long mask[BU_MAX_NODES / (8 * sizeof(unsigned long))];
    static int done;
    if (done)
        return mask;
    char buf[4096];
    ssize_t n = -1;
    int fd = open("/sys/devices/system/node/has_memory", O_RDONLY);
    if (fd >= 0) {
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
    }
    if (n <= 0) {
        bu_one_node(mask, 0);
        done = 1;
        return mask;
    }
    buf[n] = 0;
    /* "0", "0-3", "0,2-3" */
    char *s = buf;
    while (*s && *s != '\n') {
        long a = strtol(s, &s, 10), b = a;
        if (*s == '-')
            b = strtol(s + 1, &s, 10);
        for (long i = a; i <= b && i < BU_MAX_NODES; i++)
            mask[i / WORD_BITS] |= 1UL << (i % WORD_BITS);
        if (*s == ',')
            s++;
        else
            break;
    }
    done = 1;
    return mask;
}

void bu_touch(void *p, size_t size)
{
    volatile char *c = p;
    for (size_t off = 0; off < size; off += 4096)
        c[off] = 1;
}

void bu_populate(void *p, size_t size)
{
    if (madvise(p, size, MADV_POPULATE_WRITE) != 0)
        bu_touch(p, size);
}

void *bu_map(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void bu_unmap(void *p, size_t size)
{
    munmap(p, size);
}
