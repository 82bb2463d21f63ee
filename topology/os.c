/*
 * topology/os.c - the library's only boundary with the kernel's memory and
 * NUMA calls.  Contract (topology.h): 0 on success or a positive errno; the
 * caller's errno is left as it was on success.  No allocation here.
 *
 * NUMA calls go through syscall(2) rather than libnuma: libnuma's
 * constructor allocates with malloc, which the malloc replacement cannot
 * allow on its bootstrap path, and its wrappers add nothing we need.
 *
 * Node masks: the kernel reads maxnode - 1 bits.  Callers hand us an
 * nslab_nodeset_t (NSLAB_MAX_NODES bits); we pass maxnode = the number of
 * possible node ids + 1, rounded so the kernel reads whole words.  Before
 * discovery knows the possible count, NSLAB_MAX_NODES is used (any bit past
 * the kernel's own limit is zero, which it accepts).
 */
#include "topology.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <unistd.h>

static int node_bits = NSLAB_MAX_NODES;

void os_set_node_bits(int nr_nodes)
{
    if (nr_nodes > 0 && nr_nodes <= NSLAB_MAX_NODES)
        node_bits = (nr_nodes + 63) & ~63;
}

static unsigned long maxnode(void)
{
    return (unsigned long)node_bits + 1;
}

/* Run a syscall-like expression and turn -1/errno into a positive errno,
 * restoring the caller's errno. */
#define OS_CALL(expr)                                   \
    ({                                                  \
        int saved_ = errno, err_ = 0;                   \
        if ((expr) == -1)                               \
            err_ = errno ? errno : EIO;                 \
        errno = saved_;                                 \
        err_;                                           \
    })

int os_map(size_t len, size_t align, unsigned flags, int fd, void **out)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    int saved = errno;
    if (len == 0 || (len & (page - 1)) || (align & (align - 1)))
        return EINVAL;
    if (align < page)
        align = page;
    if (len > SIZE_MAX - align)
        return ENOMEM;

    int mflags = MAP_PRIVATE | MAP_ANONYMOUS;
    if (flags & OS_MAP_NORESERVE)
        mflags |= MAP_NORESERVE;

    /* Fast case: plain anonymous memory, over-map and trim. */
    if (fd < 0 && !(flags & OS_MAP_HUGETLB)) {
        char *p = mmap(NULL, len + align - page, PROT_READ | PROT_WRITE, mflags, -1, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            errno = saved;
            return e;
        }
        char *a = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
        if (a > p)
            munmap(p, (size_t)(a - p));
        size_t tail = (size_t)((p + len + align - page) - (a + len));
        if (tail)
            munmap(a + len, tail);
        errno = saved;
        *out = a;
        return 0;
    }

    /* Shared (memfd) or hugetlb: reserve an aligned hole, then map over it
     * with MAP_FIXED so the file offset stays 0 at the aligned start. */
    char *res = mmap(NULL, len + align, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (res == MAP_FAILED) {
        int e = errno;
        errno = saved;
        return e;
    }
    char *a = (char *)(((uintptr_t)res + align - 1) & ~(uintptr_t)(align - 1));
    int f = MAP_FIXED | (fd >= 0 ? MAP_SHARED : (MAP_PRIVATE | MAP_ANONYMOUS));
    if (flags & OS_MAP_HUGETLB)
        f |= MAP_HUGETLB;
    if (flags & OS_MAP_NORESERVE)
        f |= MAP_NORESERVE;
    void *m = mmap(a, len, PROT_READ | PROT_WRITE, f, fd, 0);
    if (m == MAP_FAILED) {
        int e = errno;
        munmap(res, len + align);
        errno = saved;
        return e;
    }
    if (a > res)
        munmap(res, (size_t)(a - res));
    size_t tail = (size_t)((res + len + align) - (a + len));
    if (tail)
        munmap(a + len, tail);
    errno = saved;
    *out = a;
    return 0;
}

int os_unmap(void *addr, size_t len)
{
    return OS_CALL(munmap(addr, len));
}

int os_mbind(void *addr, size_t len, int mode, unsigned mode_flags,
             const nslab_nodeset_t *nodes, unsigned mbind_flags)
{
    return OS_CALL(syscall(SYS_mbind, addr, len, mode | (int)mode_flags,
                           nodes ? nodes->bits : NULL, nodes ? maxnode() : 0UL,
                           mbind_flags));
}

int os_madvise(void *addr, size_t len, int advice)
{
    return OS_CALL(madvise(addr, len, advice));
}

int os_get_mempolicy(int *mode, nslab_nodeset_t *nodes, const void *addr,
                     unsigned flags)
{
    if (nodes)
        nslab_nodeset_zero(nodes);
    return OS_CALL(syscall(SYS_get_mempolicy, mode, nodes ? nodes->bits : NULL,
                           nodes ? maxnode() : 0UL, addr, flags));
}

int os_set_mempolicy(int mode, unsigned mode_flags, const nslab_nodeset_t *nodes)
{
    return OS_CALL(syscall(SYS_set_mempolicy, mode | (int)mode_flags,
                           nodes ? nodes->bits : NULL, nodes ? maxnode() : 0UL));
}

int os_move_pages(unsigned long count, void **pages, const int *nodes,
                  int *status, int flags)
{
    long r;
    int saved = errno, err = 0;
    r = syscall(SYS_move_pages, 0, count, pages, nodes, status, flags);
    if (r < 0)
        err = errno ? errno : EIO;
    else if (r > 0)
        err = EBUSY; /* r pages could not be moved (status tells which) */
    errno = saved;
    return err;
}

int os_memfd(const char *name, size_t size, int *fd)
{
    int saved = errno;
    int f = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC);
    if (f < 0) {
        int e = errno;
        errno = saved;
        return e;
    }
    if (ftruncate(f, (off_t)size) != 0) {
        int e = errno;
        close(f);
        errno = saved;
        return e;
    }
    errno = saved;
    *fd = f;
    return 0;
}

int os_memfd_hugetlb(const char *name, size_t size, int *fd)
{
    int saved = errno;
    int f = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_HUGETLB);
    if (f < 0) {
        int e = errno;
        errno = saved;
        return e;
    }
    if (ftruncate(f, (off_t)size) != 0) {
        int e = errno;
        close(f);
        errno = saved;
        return e;
    }
    errno = saved;
    *fd = f;
    return 0;
}

int os_map_file(void *addr, size_t len, int fd, uint64_t off, unsigned flags, void **out)
{
    int saved = errno;
    int prot = PROT_READ | ((flags & OS_FILE_WRITE) ? PROT_WRITE : 0);
    int mf = (flags & OS_FILE_PRIVATE) ? MAP_PRIVATE : MAP_SHARED;
    if (addr)
        mf |= MAP_FIXED;
    void *m = mmap(addr, len, prot, mf, fd, (off_t)off);
    if (m == MAP_FAILED) {
        int e = errno;
        errno = saved;
        return e;
    }
    errno = saved;
    *out = m;
    return 0;
}

int os_map_none_fixed(void *addr, size_t len)
{
    int saved = errno;
    void *m = mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
                   -1, 0);
    int e = m == MAP_FAILED ? errno : 0;
    errno = saved;
    return e;
}

int os_range_mapped(void *addr, size_t len)
{
    return OS_CALL(msync(addr, len, MS_ASYNC));
}

int os_fd_info(int fd, uint64_t *size, size_t *huge, int *shmem)
{
    struct stat st;
    struct statfs fs;
    int e = OS_CALL(fstat(fd, &st));
    if (e)
        return e;
    if ((e = OS_CALL(fstatfs(fd, &fs))) != 0)
        return e;
    *size = (uint64_t)st.st_size;
    *huge = (unsigned long)fs.f_type == 0x958458f6UL /* HUGETLBFS_MAGIC */
                ? (size_t)st.st_blksize : 0;
    *shmem = (unsigned long)fs.f_type == 0x01021994UL /* TMPFS_MAGIC */ || *huge;
    return 0;
}

int os_close(int fd)
{
    return OS_CALL(close(fd));
}

int os_getcpu(unsigned *cpu, unsigned *node)
{
    return OS_CALL(syscall(SYS_getcpu, cpu, node, NULL));
}

int os_bind_thread_to_node(int node)
{
    const struct topology *t = topology_get();
    uint64_t mask[TOPO_MAX_CPUS / 64] = {0};
    int any = 0;
    if (node < 0 || node >= t->nr_nodes)
        return EINVAL;
    if (!t->node[node].online || !t->node[node].has_cpus)
        return ENODEV;
    for (int c = 0; c < t->nr_cpus && c < TOPO_MAX_CPUS; c++) {
        if (t->cpu_node[c] == node && ((t->cpus_allowed[c / 64] >> (c % 64)) & 1)) {
            mask[c / 64] |= UINT64_C(1) << (c % 64);
            any = 1;
        }
    }
    if (!any)
        return EXDEV;
    size_t bytes = (size_t)((t->nr_cpus + 63) / 64) * 8;
    return OS_CALL(syscall(SYS_sched_setaffinity, 0, bytes, mask));
}

int os_thread_cpus(uint64_t *mask, size_t words)
{
    for (size_t i = 0; i < words; i++)
        mask[i] = 0;
    return OS_CALL(syscall(SYS_sched_getaffinity, 0, words * 8, mask) < 0 ? -1 : 0);
}
