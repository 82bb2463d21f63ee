/*
 * topology/os.h - the library's one boundary with the kernel: what the
 * layers above ask of it, as verbs (map, bind, commit, move, query, ...),
 * implemented in topology/os.c and nowhere else.  No kernel constant (memory
 * policy modes, madvise advice, mmap flags) and no raw system call appears
 * outside os.c; the few values the layers above must name are spelled here.
 *
 * Contract (as mimalloc's prim.h): every function returns 0 on success or a
 * positive errno value, never -1, and leaves the caller's errno as it was.
 * Nothing here allocates (the malloc replacement runs it while it
 * bootstraps) and nothing keeps state but the node-mask width
 * (os_set_node_bits) and the commit path's record of MADV_POPULATE_WRITE.
 *
 * Who sees it: the topology, region and arena layers and the malloc front.
 * The pool layer does not (it asks the region layer: region.h).
 */
#ifndef NSLAB_OS_H
#define NSLAB_OS_H

#include <stddef.h>
#include <stdint.h>

#include "numaslab.h"

/* ---- memory policy modes, numbered as the kernel's ---------------------
 * (so nslab_region_report_t.kernel_mode reports the kernel's own number;
 * os.c checks them against linux/mempolicy.h). */
enum os_mode {
    OS_POL_DEFAULT = 0,
    OS_POL_PREFERRED = 1,
    OS_POL_BIND = 2,
    OS_POL_INTERLEAVE = 3,
    OS_POL_LOCAL = 4,
    OS_POL_PREFERRED_MANY = 5,     /* kernel 5.15 */
    OS_POL_WEIGHTED_INTERLEAVE = 6 /* kernel 6.9 */
};
#define OS_POL_STATIC_NODES (1u << 15)   /* node ids are absolute, fixed */
#define OS_POL_RELATIVE_NODES (1u << 14) /* node ids index the cpuset's */
#define OS_POL_NUMA_BALANCING (1u << 13) /* bind mode only, kernel 5.12 */

/* ---- address space ------------------------------------------------------ */

#define OS_MAP_HUGETLB   0x1u  /* hugetlb pages */
#define OS_MAP_NORESERVE 0x2u  /* no swap reservation */

/* Map len bytes (a multiple of the page size) read-write at an address
 * aligned to `align` (a power of two; at least the page size), anonymous
 * private, or shared from fd when fd >= 0.  Over-maps and trims to get the
 * alignment.  EINVAL for a bad len/align, else mmap's errno. */
int os_map(size_t len, size_t align, unsigned flags, int fd, void **out);
int os_unmap(void *addr, size_t len);

/* A memfd of `size` bytes (close-on-exec) into *fd; the same with
 * hugetlb pages (the default huge page size). */
int os_memfd(const char *name, size_t size, int *fd);
int os_memfd_hugetlb(const char *name, size_t size, int *fd);
int os_close(int fd);

/* Map `fd` at file offset `off` for len bytes: shared (or private with
 * OS_FILE_PRIVATE), read-only (or writable with OS_FILE_WRITE), at an
 * address the kernel picks (addr NULL) or exactly at addr (replacing what
 * the caller mapped there). */
#define OS_FILE_PRIVATE 0x1u
#define OS_FILE_WRITE   0x2u
int os_map_file(void *addr, size_t len, int fd, uint64_t off, unsigned flags, void **out);
/* Replace [addr, addr + len) by an inaccessible reservation (no access,
 * no swap reservation, at exactly addr). */
int os_map_none_fixed(void *addr, size_t len);
/* 0 when every page of [addr, addr + len) is mapped (any protection),
 * else ENOMEM (msync(2) MS_ASYNC, which does nothing else). */
int os_range_mapped(void *addr, size_t len);
/* What a file descriptor is: its size, whether it is on hugetlbfs (and
 * then its page size in *huge, else 0), whether it is shmem (memfd or
 * tmpfs).  0 or fstat's / fstatfs's errno. */
int os_fd_info(int fd, uint64_t *size, size_t *huge, int *shmem);

/* ---- placement ---------------------------------------------------------- */

/* Bind [addr, addr + len) to a policy: pages faulted in later follow it;
 * pages already there stay where they are.  nodes is ignored (may be NULL)
 * for OS_POL_DEFAULT and OS_POL_LOCAL.  EINVAL for a mode the kernel does
 * not have (the probe's answer), else the kernel's errno. */
int os_bind(void *addr, size_t len, int mode, unsigned mode_flags,
            const nslab_nodeset_t *nodes);

/* Bind the range and move the pages already there that lie outside the
 * policy's nodes.  strict: EIO when some page could not be moved (the
 * policy is in force even then); not strict: best effort, pages that do not
 * move are not reported. */
int os_move(void *addr, size_t len, int mode, unsigned mode_flags,
            const nslab_nodeset_t *nodes, int strict);

/* The calling thread's own policy, for memory that is not bound: set it
 * (threads it creates and programs it runs inherit it), or read it back
 * (mode, its OS_POL_* flags and nodes; any out-pointer may be NULL). */
int os_set_thread_policy(int mode, unsigned mode_flags,
                         const nslab_nodeset_t *nodes);
int os_thread_policy(int *mode, unsigned *mode_flags, nslab_nodeset_t *nodes);

/* The policy the kernel holds for the page at addr: mode and nodes. */
int os_range_policy(const void *addr, int *mode, nslab_nodeset_t *nodes);

/* The nodes the calling thread may allocate on (the cpuset's mems), as the
 * kernel sees them. */
int os_allowed_nodes(nslab_nodeset_t *nodes);

/* Where pages are: status[i] gets the node of pages[i] (each page
 * aligned), or a negative errno for that page (-ENOENT: not present,
 * -EFAULT: not mapped).  Fails only as a whole (the kernel's errno). */
int os_page_nodes(unsigned long count, void **pages, int *status);

/* Move pages[i] to node nodes[i] (each page aligned; pages of this process
 * mapped by it alone).  status[i] gets the node it is on after, or a
 * negative errno for that page.  0, EBUSY when some did not move, or the
 * kernel's errno as a whole (EACCES: a node outside the cpuset). */
int os_page_move(unsigned long count, void **pages, const int *nodes, int *status);

/* ---- commit and decommit ------------------------------------------------ */

enum os_commit {
    OS_COMMIT_POPULATE, /* fresh memory: MADV_POPULATE_WRITE where the
                           kernel has it, else a write of zero per step */
    OS_COMMIT_TOUCH,    /* fresh memory: a write of zero per step */
    OS_COMMIT_KEEP,     /* memory with contents (the caller's): populate
                           for writing, else a write fault per step that
                           keeps the byte (an atomic OR of 0) */
    OS_COMMIT_READ      /* read-only memory: populate for reading, else a
                           read per step */
};
/* Fault [addr, addr + len) in under the range's policy, so no first touch
 * decides where a page goes.  Fresh (or decommitted) memory reads zero, so
 * the write of zero POPULATE and TOUCH make changes nothing anyone can
 * see; KEEP and READ never change a byte.  *done (may be NULL) gets
 * OS_COMMIT_POPULATE when the kernel populated, else OS_COMMIT_TOUCH.  0, or ENOMEM when the kernel could
 * not back the range (its policy's nodes are full, hwpoison). */
int os_commit(void *addr, size_t len, size_t step, enum os_commit how,
              enum os_commit *done);

/* Give the pages of [addr, addr + len) back to the kernel: they read as
 * zero when touched again (and are placed again by the range's policy). */
int os_decommit(void *addr, size_t len);
/* The bytes of [addr, addr + len) that are resident now (mincore(2), whole
 * pages).  0 or the kernel's errno (ENOMEM: part of the range unmapped). */
int os_resident(const void *addr, size_t len, size_t *bytes);

/* Transparent huge pages for the range: on = 1 asks for them (EINVAL where
 * the kernel has no THP), on = 0 refuses them. */
int os_thp(void *addr, size_t len, int on);

/* ---- the machine-wide ledger (os.c) ------------------------------- */

/* Open or create the regular file at `path` (mode 0666, no symlink
 * followed), grow it to `size` bytes if shorter, map it MAP_SHARED. */
int os_shared_file_map(const char *path, size_t size, int *fd, void **map);
/* flock(2) the file: exclusive (1) or unlock (0).  The kernel releases it
 * when the process dies. */
int os_file_lock(int fd, int exclusive);
int os_getpid(void);
/* The start time of process `pid` (field 22 of /proc/<pid>/stat, clock
 * ticks since boot): 0, ESRCH (no such process), EIO. */
int os_pid_start(int pid, uint64_t *start);
/* 1 if process `pid` exists (kill(pid, 0) is not ESRCH), else 0. */
int os_pid_alive(int pid);
/* The number of threads of the calling process (Threads: of
 * /proc/self/status): 0 and *n, or the read's errno / EIO. */
int os_thread_count(int *n);

/* ---- threads and CPUs --------------------------------------------------- */

/* The calling thread's allowed CPUs (a bitmap of bytes bytes) / set them. */
int os_get_affinity(uint64_t *mask, size_t bytes);
int os_set_affinity(const uint64_t *mask, size_t bytes);
/* getcpu(2) (the vDSO is not used: callers cache the answer). */
int os_getcpu(unsigned *cpu, unsigned *node);
/* A full memory barrier on every running thread of the process
 * (membarrier(2): MEMBARRIER_CMD_PRIVATE_EXPEDITED, registered on first use
 * and again in a fork child, else MEMBARRIER_CMD_GLOBAL).  0, or ENOSYS /
 * EPERM where the kernel (< 4.3) or a seccomp filter has none. */
int os_membarrier(void);

/* ---- the kernel's files and features ------------------------------------ */

/* Read the whole file at `path` into buf (at most cap - 1 bytes), NUL
 * terminated.  Returns the length read, or a NEGATIVE errno (-ENOENT,
 * -EACCES, ..., -EFBIG if the file did not fit, -EINVAL for cap 0). */
long os_read_file(const char *path, char *buf, size_t cap);

/* The number a sysfs file holds (its first unsigned decimal): 0, the
 * file's errno, EFBIG, or EINVAL when it does not start with a number. */
int os_read_number(const char *path, uint64_t *out);

/* What the running kernel has, probed on a scratch page with one node the
 * kernel allows (a mode or an advice it does not know is EINVAL). */
struct os_features {
    uint8_t preferred_many;      /* OS_POL_PREFERRED_MANY */
    uint8_t weighted_interleave; /* OS_POL_WEIGHTED_INTERLEAVE */
    uint8_t populate_write;      /* MADV_POPULATE_WRITE (5.14) */
};
void os_probe(struct os_features *f);

/* How many node ids are possible, so node masks are passed to the kernel
 * with that many bits (rounded to words) + 1.  Discovery calls it; until
 * then NSLAB_MAX_NODES bits are passed. */
void os_set_node_bits(int nr_nodes);

#endif /* NSLAB_OS_H */
