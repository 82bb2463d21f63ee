/*
 * topology/os.c - the library's only boundary with the kernel: the verbs of
 * os.h.  Contract (os.h): 0 on success or a positive errno; the caller's
 * errno is left as it was.  No allocation here.  Every kernel constant the
 * library uses (memory policy modes and flags, madvise advice, mmap flags)
 * and every raw system call is in this file.
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
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mempolicy.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "text.h"

/* The two newest modes and the newest advice postdate Debian 12's headers. */
#ifndef MPOL_PREFERRED_MANY
#define MPOL_PREFERRED_MANY 5
#endif
#ifndef MPOL_WEIGHTED_INTERLEAVE
#define MPOL_WEIGHTED_INTERLEAVE 6
#endif
#ifndef MPOL_F_NUMA_BALANCING
#define MPOL_F_NUMA_BALANCING (1 << 13)
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* os.h numbers the modes as the kernel does: passed through unchanged. */
_Static_assert((int)OS_POL_DEFAULT == MPOL_DEFAULT && (int)OS_POL_PREFERRED == MPOL_PREFERRED &&
               (int)OS_POL_BIND == MPOL_BIND && (int)OS_POL_INTERLEAVE == MPOL_INTERLEAVE &&
               (int)OS_POL_LOCAL == MPOL_LOCAL &&
               (int)OS_POL_PREFERRED_MANY == MPOL_PREFERRED_MANY &&
               (int)OS_POL_WEIGHTED_INTERLEAVE == MPOL_WEIGHTED_INTERLEAVE,
               "os.h policy modes are the kernel's");
_Static_assert(OS_POL_STATIC_NODES == MPOL_F_STATIC_NODES &&
               OS_POL_RELATIVE_NODES == MPOL_F_RELATIVE_NODES &&
               OS_POL_NUMA_BALANCING == MPOL_F_NUMA_BALANCING,
               "os.h policy flags are the kernel's");

static int node_bits = NSLAB_MAX_NODES;

void os_set_node_bits(int nr_nodes)
{
    if (nr_nodes > 0 && nr_nodes <= NSLAB_MAX_NODES)
        __atomic_store_n(&node_bits, (nr_nodes + 63) & ~63, __ATOMIC_RELAXED);
}

static unsigned long maxnode(void)
{
    return (unsigned long)__atomic_load_n(&node_bits, __ATOMIC_RELAXED) + 1;
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

static long sys_mbind(void *addr, size_t len, int mode, unsigned mode_flags,
                      const nslab_nodeset_t *nodes, unsigned flags)
{
    if (mode == OS_POL_DEFAULT || mode == OS_POL_LOCAL)
        nodes = NULL; /* the kernel wants no mask for these */
    return syscall(SYS_mbind, addr, len, mode | (int)mode_flags,
                   nodes ? nodes->bits : NULL, nodes ? maxnode() : 0UL, flags);
}

int os_bind(void *addr, size_t len, int mode, unsigned mode_flags,
            const nslab_nodeset_t *nodes)
{
    return OS_CALL(sys_mbind(addr, len, mode, mode_flags, nodes, 0));
}

int os_move(void *addr, size_t len, int mode, unsigned mode_flags,
            const nslab_nodeset_t *nodes, int strict)
{
    /* MPOL_MF_MOVE alone into a full node returns 0 and moves nothing;
     * with MPOL_MF_STRICT the kernel answers EIO when a page stayed. */
    unsigned f = MPOL_MF_MOVE | (strict ? MPOL_MF_STRICT : 0u);
    return OS_CALL(sys_mbind(addr, len, mode, mode_flags, nodes, f));
}

int os_set_thread_policy(int mode, unsigned mode_flags, const nslab_nodeset_t *nodes)
{
    if (mode == OS_POL_DEFAULT || mode == OS_POL_LOCAL)
        nodes = NULL;
    return OS_CALL(syscall(SYS_set_mempolicy, mode | (int)mode_flags,
                           nodes ? nodes->bits : NULL, nodes ? maxnode() : 0UL));
}

static int get_policy(int *mode, nslab_nodeset_t *nodes, const void *addr, unsigned flags)
{
    if (nodes)
        nslab_nodeset_zero(nodes);
    return OS_CALL(syscall(SYS_get_mempolicy, mode, nodes ? nodes->bits : NULL,
                           nodes ? maxnode() : 0UL, addr, flags));
}

int os_range_policy(const void *addr, int *mode, nslab_nodeset_t *nodes)
{
    return get_policy(mode, nodes, addr, MPOL_F_ADDR);
}

int os_thread_policy(int *mode, unsigned *mode_flags, nslab_nodeset_t *nodes)
{
    int m = MPOL_DEFAULT;
    int e = get_policy(&m, nodes, NULL, 0);
    if (e)
        return e;
    /* the kernel returns the mode flags ORed into the mode */
    if (mode)
        *mode = m & ~(MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES | MPOL_F_NUMA_BALANCING);
    if (mode_flags)
        *mode_flags = (unsigned)m & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES |
                                     MPOL_F_NUMA_BALANCING);
    return 0;
}

int os_allowed_nodes(nslab_nodeset_t *nodes)
{
    int mode = 0;
    return get_policy(&mode, nodes, NULL, MPOL_F_MEMS_ALLOWED);
}

int os_page_nodes(unsigned long count, void **pages, int *status)
{
    int saved = errno, err = 0;
    /* nodes = NULL: the kernel only reports where each page is */
    if (syscall(SYS_move_pages, 0, count, pages, NULL, status, 0) < 0)
        err = errno ? errno : EIO;
    errno = saved;
    return err;
}

int os_page_move(unsigned long count, void **pages, const int *nodes, int *status)
{
    int saved = errno, err = 0;
    long r = syscall(SYS_move_pages, 0, count, pages, nodes, status, MPOL_MF_MOVE);
    if (r < 0)
        err = errno ? errno : EIO;
    else if (r > 0)
        err = EBUSY; /* r pages did not move (status says why) */
    errno = saved;
    return err;
}

/* ---- commit and decommit ------------------------------------------------ */

/* MADV_POPULATE_WRITE: 1 known to work, 0 known missing (the probe, or an
 * EINVAL since), -1 not probed yet (try it).  Relaxed: a stale read only
 * costs one refused madvise. */
static int populate_write = -1;

static void touch(char *p, size_t len, size_t step, enum os_commit how)
{
    unsigned sum = 0;
    for (size_t off = 0; off < len; off += step) {
        if (how == OS_COMMIT_KEEP)
            (void)__atomic_fetch_or(p + off, (char)0, __ATOMIC_RELAXED);
        else if (how == OS_COMMIT_READ)
            sum += (unsigned char)__atomic_load_n(p + off, __ATOMIC_RELAXED);
        else
            __atomic_store_n(p + off, (char)0, __ATOMIC_RELAXED);
    }
    (void)sum;
}

int os_commit(void *addr, size_t len, size_t step, enum os_commit how,
              enum os_commit *done)
{
    if (step == 0)
        step = (size_t)sysconf(_SC_PAGESIZE);
    /* MADV_POPULATE_READ came with MADV_POPULATE_WRITE (5.14) */
    if (how != OS_COMMIT_TOUCH && __atomic_load_n(&populate_write, __ATOMIC_RELAXED) != 0) {
        int advice = how == OS_COMMIT_READ ? MADV_POPULATE_READ : MADV_POPULATE_WRITE;
        int e;
        do {
            e = OS_CALL(madvise(addr, len, advice));
        } while (e == EINTR || e == EAGAIN);
        if (e == 0) {
            if (done)
                *done = OS_COMMIT_POPULATE;
            return 0;
        }
        if (e != EINVAL)
            return ENOMEM; /* EFAULT / ENOMEM / EHWPOISON: could not commit */
        /* EINVAL: the kernel lacks it after all; touch instead. */
        __atomic_store_n(&populate_write, 0, __ATOMIC_RELAXED);
    }
    touch(addr, len, step, how);
    if (done)
        *done = OS_COMMIT_TOUCH;
    return 0;
}

int os_decommit(void *addr, size_t len)
{
    return OS_CALL(madvise(addr, len, MADV_DONTNEED));
}

int os_resident(const void *addr, size_t len, size_t *bytes)
{
    unsigned char vec[1024]; /* one byte per page, in batches */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)addr & ~(uintptr_t)(page - 1);
    size_t pages = ((uintptr_t)addr + len - a + page - 1) / page, n = 0;
    *bytes = 0;
    for (size_t i = 0; i < pages; i += sizeof vec) {
        size_t k = pages - i < sizeof vec ? pages - i : sizeof vec;
        int e = OS_CALL(mincore((void *)(a + i * page), k * page, vec));
        if (e)
            return e;
        for (size_t j = 0; j < k; j++)
            n += vec[j] & 1;
    }
    *bytes = n * page;
    return 0;
}

int os_thp(void *addr, size_t len, int on)
{
    return OS_CALL(madvise(addr, len, on ? MADV_HUGEPAGE : MADV_NOHUGEPAGE));
}

/* memfd_create(name, MFD_CLOEXEC | extra) + ftruncate to size. */
static int memfd_sized(const char *name, size_t size, unsigned extra, int *fd)
{
    int saved = errno;
    int f = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC | extra);
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

int os_memfd(const char *name, size_t size, int *fd)
{
    return memfd_sized(name, size, 0, fd);
}

int os_memfd_hugetlb(const char *name, size_t size, int *fd)
{
    return memfd_sized(name, size, MFD_HUGETLB, fd);
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

/* linux/membarrier.h */
#define OS_MEMBARRIER_CMD_QUERY 0
#define OS_MEMBARRIER_CMD_GLOBAL 1
#define OS_MEMBARRIER_CMD_PRIVATE_EXPEDITED 8
#define OS_MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED 16

int os_membarrier(void)
{
#ifdef SYS_membarrier
    /* 0 unknown, 1 private expedited registered, 2 global only, 3 none;
     * racing first callers both register (harmless) */
    static int how;
    int h = __atomic_load_n(&how, __ATOMIC_RELAXED);
    if (h == 0) {
        long cmds = syscall(SYS_membarrier, OS_MEMBARRIER_CMD_QUERY, 0);
        if (cmds >= 0 && (cmds & OS_MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
            syscall(SYS_membarrier, OS_MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0)
            h = 1;
        else if (cmds >= 0 && (cmds & OS_MEMBARRIER_CMD_GLOBAL))
            h = 2;
        else
            h = 3;
        __atomic_store_n(&how, h, __ATOMIC_RELAXED);
    }
    if (h == 1) {
        int e = OS_CALL(syscall(SYS_membarrier, OS_MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0));
        if (e == EPERM) /* a fork child: the registration was the parent mm's */
            e = OS_CALL(syscall(SYS_membarrier, OS_MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0))
                    ?: OS_CALL(syscall(SYS_membarrier, OS_MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0));
        return e;
    }
    if (h == 2)
        return OS_CALL(syscall(SYS_membarrier, OS_MEMBARRIER_CMD_GLOBAL, 0));
    return ENOSYS;
#else
    return ENOSYS;
#endif
}

int os_get_affinity(uint64_t *mask, size_t bytes)
{
    int saved = errno, err = 0;
    long n = syscall(SYS_sched_getaffinity, 0, bytes, mask);
    if (n < 0)
        err = errno ? errno : EIO;
    else if ((size_t)n < bytes)
        memset((char *)mask + n, 0, bytes - (size_t)n); /* the kernel's tail */
    errno = saved;
    return err;
}

int os_set_affinity(const uint64_t *mask, size_t bytes)
{
    return OS_CALL(syscall(SYS_sched_setaffinity, 0, bytes, mask));
}

/* ---- the kernel's files and features ------------------------------------ */

long os_read_file(const char *path, char *buf, size_t cap)
{
    if (cap == 0)
        return -EINVAL;
    int saved = errno;
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        long e = -errno;
        errno = saved;
        return e;
    }
    size_t len = 0;
    long ret = 0;
    for (;;) {
        if (len == cap - 1) {
            /* Full: the file is larger than the buffer if one more byte
             * can be read. */
            char extra;
            ssize_t n = read(fd, &extra, 1);
            if (n > 0)
                ret = -EFBIG;
            break;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ret = -errno;
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    errno = saved;
    return ret < 0 ? ret : (long)len;
}

int os_read_number(const char *path, uint64_t *out)
{
    char buf[64];
    const char *s = buf;
    long n = os_read_file(path, buf, sizeof buf);
    if (n < 0)
        return (int)-n;
    return text_parse_u64(&s, out) == 0 ? 0 : EINVAL;
}

/* Probe on a scratch page: a mode the kernel does not know is EINVAL from
 * mbind (checked before the node mask), an unknown advice EINVAL from
 * madvise.  The node mask is the kernel's own mems_allowed (not sysfs,
 * which tests may fake), so the probe asks about nodes that exist. */
void os_probe(struct os_features *f)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    nslab_nodeset_t allowed, one;
    void *p;
    int first = -1;

    *f = (struct os_features){0};
    if (os_allowed_nodes(&allowed) == 0)
        first = nslab_nodeset_next(&allowed, 0);
    one = nslab_nodeset_of(first >= 0 ? first : 0);
    if (os_map(page, page, 0, -1, &p) != 0)
        return; /* no memory to probe with: report every feature missing */
    f->preferred_many = os_bind(p, page, OS_POL_PREFERRED_MANY, 0, &one) == 0;
    f->weighted_interleave = os_bind(p, page, OS_POL_WEIGHTED_INTERLEAVE, 0, &one) == 0;
    f->populate_write = OS_CALL(madvise(p, page, MADV_POPULATE_WRITE)) == 0;
    __atomic_store_n(&populate_write, f->populate_write, __ATOMIC_RELAXED);
    os_unmap(p, page);
}

/* ---- the machine-wide ledger's file and process identity -------------- */
/* flock(2) is released by the kernel when a process dies, so a crash never
 * leaves the ledger locked; the start time tells a reused pid apart. */

int os_shared_file_map(const char *path, size_t size, int *fd_out, void **map_out)
{
    int saved = errno, e = 0;
    int fd;
    do
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        e = errno;
        errno = saved;
        return e;
    }
    (void)fchmod(fd, 0666); /* umask: every user's processes share it */
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        e = S_ISREG(st.st_mode) ? errno : EINVAL;
        goto out;
    }
    /* Growing from 0 is safe under the lock: a zeroed file is empty. */
    if ((size_t)st.st_size < size && ftruncate(fd, (off_t)size) != 0) {
        e = errno;
        goto out;
    }
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        e = errno;
        goto out;
    }
    *fd_out = fd;
    *map_out = m;
    errno = saved;
    return 0;
out:
    close(fd);
    errno = saved;
    return e;
}

int os_file_lock(int fd, int exclusive)
{
    int saved = errno, r;
    do
        r = flock(fd, exclusive ? LOCK_EX : LOCK_UN);
    while (r != 0 && errno == EINTR);
    int e = r ? errno : 0;
    errno = saved;
    return e;
}

int os_getpid(void)
{
    return (int)getpid();
}

int os_pid_start(int pid, uint64_t *start)
{
    char path[64], buf[1024];
    struct text_path p;
    text_path_init(&p, path, sizeof path);
    text_path_str(&p, "/proc/");
    text_path_uint(&p, (unsigned long)pid);
    text_path_str(&p, "/stat");
    long n = os_read_file(path, buf, sizeof buf);
    if (n < 0)
        return n == -ENOENT ? ESRCH : (int)-n;
    /* Field 22 (starttime); the comm field (2) may hold spaces and ')':
     * count from the last ')'. */
    const char *s = buf, *close_paren = NULL;
    for (const char *q = buf; *q; q++)
        if (*q == ')')
            close_paren = q;
    if (!close_paren)
        return EIO;
    s = close_paren + 1;
    /* After ')' token 0 is field 3 (state): skip 19 tokens to field 22. */
    for (int tok = 0; tok < 19; tok++) {
        while (*s == ' ')
            s++;
        while (*s && *s != ' ')
            s++;
        if (!*s)
            return EIO;
    }
    while (*s == ' ')
        s++;
    uint64_t v;
    if (text_parse_u64(&s, &v) != 0)
        return EIO;
    *start = v;
    return 0;
}

int os_pid_alive(int pid)
{
    int saved = errno;
    int r = kill(pid, 0);
    int alive = r == 0 || errno == EPERM;
    errno = saved;
    return alive;
}

int os_thread_count(int *n)
{
    char buf[4096];
    uint64_t v;
    long r = os_read_file("/proc/self/status", buf, sizeof buf);
    if (r < 0)
        return (int)-r;
    if (text_find_u64(buf, "Threads:", &v) != 0 || v == 0)
        return EIO;
    *n = (int)v;
    return 0;
}
