/*
 * tests/region/test_caller_memory.c - the caller's memory (issue 14): a
 * memfd the caller owns mapped and bound (nslab_file_map: shared and
 * private, read-only and writable, at a kernel-chosen address and inside a
 * caller's reservation), a range the caller mapped bound where it is
 * (nslab_range_bind, with and without migration), the hugetlb memfd
 * region and its per-node ENOMEM, and every documented error one node can
 * show.  In the 4-node and mixed guests every node with memory is a target
 * (node 2, the memory-only node 3 of `mixed`), and a memfd already
 * populated elsewhere shows -EIO without MOVE and moves with it.
 * With NUMASLAB_TEST_HUGETLB=1 (the VM tests set it; the guest is thrown
 * away) the test reserves huge pages on one node itself.
 */
#include "region_testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <numaif.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)

static int memfd(size_t size)
{
    int fd = (int)syscall(SYS_memfd_create, "test", 0);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    return fd;
}

/* Every present page of [p, p+len) on node, by the library and by libnuma's
 * move_pages (testutil). */
static void assert_on(const void *p, size_t len, int node, const char *what)
{
    nslab_placement_t pl;
    assert_int_equal(nslab_range_placement(p, len, &pl), 0);
    print_placement(what, &pl);
    if (pl.on_node[node] != pl.pages)
        fail_msg("%s: %zu of %zu pages on node %d", what, pl.on_node[node], pl.pages, node);
    assert_all_on_node(p, len, node);
}

static void test_map_memfd_every_node(void **state)
{
    (void)state;
    nslab_nodeset_t mem;
    testutil_memory_nodes(&mem);
    const size_t size = 16 * MiB;
    for (int n = nslab_nodeset_next(&mem, 0); n >= 0; n = nslab_nodeset_next(&mem, n + 1)) {
        int fd = memfd(size + 4 * MiB);
        /* The caller's bytes first, at offset 4 MiB: the mapping shows
         * exactly them (nothing of the library's in the file). */
        char msg[32];
        snprintf(msg, sizeof msg, "caller data %d", n);
        assert_int_equal(pwrite(fd, msg, sizeof msg, (off_t)(4 * MiB)), (ssize_t)sizeof msg);
        nslab_policy_t b = nslab_policy_bind(n);
        void *p = NULL;
        /* pwrite put that page on the writer's node: MOVE brings it. */
        assert_int_equal(nslab_file_map(&p, size, fd, 4 * MiB,
                                        NSLAB_MAP_WRITE | NSLAB_MAP_PREFAULT | NSLAB_MAP_MOVE, &b),
                         0);
        assert_non_null(p);
        assert_string_equal((char *)p, msg);
        char what[64];
        snprintf(what, sizeof what, "memfd map_file BIND node %d", n);
        assert_on(p, size, n, what);
        /* The binding is the file's: the kernel reports it for the range. */
        int mode = -1;
        assert_int_equal(get_mempolicy(&mode, NULL, 0, p, MPOL_F_ADDR), 0);
        assert_int_equal(mode & 0xff, MPOL_BIND);
        /* Writes reach the file. */
        memcpy((char *)p + 8192, "written", 8);
        char back[8];
        assert_int_equal(pread(fd, back, 8, (off_t)(4 * MiB + 8192)), 8);
        assert_string_equal(back, "written");
        assert_int_equal(nslab_file_unmap(p, size, 0), 0);
        close(fd);
    }
}

static void test_map_readonly_and_private(void **state)
{
    (void)state;
    int n0 = testutil_memory_node(0);
    const size_t size = 8 * MiB;
    int fd = memfd(size);
    assert_int_equal(pwrite(fd, "ro", 3, 0), 3);
    nslab_policy_t b = nslab_policy_bind(n0);
    void *p = NULL;
    /* Shared, read-only, prefaulted by reads. */
    assert_int_equal(nslab_file_map(&p, size, fd, 0, NSLAB_MAP_PREFAULT | NSLAB_MAP_MOVE, &b), 0);
    assert_string_equal((char *)p, "ro");
    assert_int_equal(testutil_resident_pages(p, size), size / 4096);
    assert_on(p, size, n0, "memfd map_file read-only");
    assert_int_equal(nslab_file_unmap(p, size, 0), 0);
    /* Private, writable: the copies are the mapping's, the file unchanged. */
    p = NULL;
    assert_int_equal(nslab_file_map(&p, size, fd, 0,
                                    NSLAB_MAP_PRIVATE | NSLAB_MAP_WRITE | NSLAB_MAP_PREFAULT, &b),
                     0);
    assert_string_equal((char *)p, "ro");
    memcpy(p, "pv", 3);
    char back[3];
    assert_int_equal(pread(fd, back, 3, 0), 3);
    assert_string_equal(back, "ro");
    assert_on(p, size, n0, "memfd map_file private");
    assert_int_equal(nslab_file_unmap(p, size, 0), 0);
    /* Lazy (no PREFAULT): nothing present until touched, then bound. */
    p = NULL;
    assert_int_equal(nslab_file_map(&p, size, fd, 0, NSLAB_MAP_WRITE, &b), 0);
    memset((char *)p + MiB, 1, 2 * MiB);
    assert_on((char *)p + MiB, 2 * MiB, n0, "memfd map_file lazy, touched");
    assert_int_equal(nslab_file_unmap(p, size, 0), 0);
    close(fd);
}

/* Inside a caller's reservation (OpenVMM's SparseMapping): the file lands
 * exactly where asked, and unmapping leaves the reservation whole. */
static void test_map_fixed_in_reservation(void **state)
{
    (void)state;
    int node = testutil_memory_node(testutil_memory_nodes(NULL) > 2 ? 2 : 0);
    if (node < 0)
        node = testutil_memory_node(0);
    const size_t res_len = 64 * MiB, len = 8 * MiB;
    char *res = mmap(NULL, res_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(res != MAP_FAILED);
    int fd = memfd(32 * MiB);
    assert_int_equal(pwrite(fd, "at 16", 6, (off_t)(16 * MiB)), 6);
    nslab_policy_t b = nslab_policy_bind(node);
    void *p = res + 20 * MiB;
    assert_int_equal(nslab_file_map(&p, len, fd, 16 * MiB,
                                    NSLAB_MAP_FIXED | NSLAB_MAP_WRITE | NSLAB_MAP_PREFAULT |
                                        NSLAB_MAP_MOVE, &b),
                     0);
    assert_ptr_equal(p, res + 20 * MiB);
    assert_string_equal((char *)p, "at 16");
    assert_on(p, len, node, "memfd map_file FIXED in a reservation");
    assert_int_equal(nslab_file_unmap(p, len, NSLAB_MAP_FIXED), 0);
    /* Still reserved (mapped, inaccessible), and nothing resident. */
    assert_int_equal(msync(res, res_len, MS_ASYNC), 0);
    assert_int_equal(testutil_resident_pages(res + 20 * MiB, len), 0);
    assert_int_equal(munmap(res, res_len), 0);
    close(fd);
}

/* A piece of a caller's reservation, committed by the caller and bound
 * where it is; then a range with pages already present, moved. */
static void test_bind_range(void **state)
{
    (void)state;
    nslab_nodeset_t mem;
    int nmem = testutil_memory_nodes(&mem);
    int target = testutil_memory_node(nmem > 2 ? 2 : 0);
    const size_t res_len = 256 * MiB, len = 16 * MiB;
    char *res = mmap(NULL, res_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(res != MAP_FAILED);
    char *piece = res + 64 * MiB;
    assert_int_equal(mprotect(piece, len, PROT_READ | PROT_WRITE), 0);
    nslab_policy_t b = nslab_policy_bind(target);
    nslab_placement_t pl;
    assert_int_equal(nslab_range_bind(piece, len, &b, NSLAB_MAP_PREFAULT, &pl), 0);
    assert_int_equal(pl.on_node[target], pl.pages);
    assert_on(piece, len, target, "bind_range of a reservation piece");
    int mode = -1;
    assert_int_equal(get_mempolicy(&mode, NULL, 0, piece, MPOL_F_ADDR), 0);
    assert_int_equal(mode & 0xff, MPOL_BIND);
    /* DEFAULT drops the binding, moves nothing. */
    nslab_policy_t d = nslab_policy_default();
    assert_int_equal(nslab_range_bind(piece, len, &d, 0, NULL), 0);
    assert_int_equal(get_mempolicy(&mode, NULL, 0, piece, MPOL_F_ADDR), 0);
    assert_int_equal(mode, MPOL_DEFAULT);
    assert_on(piece, len, target, "bind_range DEFAULT: pages stay");
    assert_int_equal(munmap(res, res_len), 0);

    /* Pages present on one node, bound to another: -EIO without MOVE
     * (they stay), 0 with it (they move). */
    if (nmem < 2)
        TEST_SKIP("one node with memory: nowhere to move to");
    int from = testutil_memory_node(0), to = testutil_memory_node(nmem - 1);
    char *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(a != MAP_FAILED);
    nslab_policy_t bf = nslab_policy_bind(from), bt = nslab_policy_bind(to);
    assert_int_equal(nslab_range_bind(a, len, &bf, NSLAB_MAP_PREFAULT, NULL), 0);
    testutil_fill(a, len, 7);
    errno = 0;
    assert_int_equal(nslab_range_bind(a, len, &bt, 0, &pl), -EIO);
    assert_int_equal(errno, EIO);
    assert_int_equal(pl.on_node[from], pl.pages);
    assert_int_equal(nslab_range_bind(a, len, &bt, NSLAB_MAP_MOVE, &pl), 0);
    assert_int_equal(pl.on_node[to], pl.pages);
    assert_on(a, len, to, "bind_range MOVE");
    assert_true(testutil_check(a, len, 7));
    munmap(a, len);
}

/* A memfd whose pages already exist on another node: mapped bound
 * elsewhere, -EIO (mapping kept); with MOVE they move. */
static void test_map_populated_memfd_move(void **state)
{
    (void)state;
    int nmem = testutil_memory_nodes(NULL);
    if (nmem < 2)
        TEST_SKIP("one node with memory: nowhere to move to");
    int from = testutil_memory_node(0), to = testutil_memory_node(nmem - 1);
    const size_t len = 8 * MiB;
    int fd = memfd(len);
    nslab_policy_t bf = nslab_policy_bind(from), bt = nslab_policy_bind(to);
    void *p = NULL;
    assert_int_equal(nslab_file_map(&p, len, fd, 0, NSLAB_MAP_WRITE | NSLAB_MAP_PREFAULT, &bf), 0);
    testutil_fill(p, len, 3);
    assert_int_equal(nslab_file_unmap(p, len, 0), 0);
    p = NULL;
    errno = 0;
    assert_int_equal(nslab_file_map(&p, len, fd, 0, NSLAB_MAP_WRITE | NSLAB_MAP_PREFAULT, &bt),
                     -EIO);
    assert_int_equal(errno, EIO);
    assert_non_null(p);
    assert_on(p, len, from, "populated memfd bound elsewhere, no MOVE");
    assert_int_equal(nslab_file_unmap(p, len, 0), 0);
    p = NULL;
    assert_int_equal(nslab_file_map(&p, len, fd, 0, NSLAB_MAP_WRITE | NSLAB_MAP_MOVE, &bt), 0);
    assert_on(p, len, to, "populated memfd, MOVE");
    assert_true(testutil_check(p, len, 3));
    assert_int_equal(nslab_file_unmap(p, len, 0), 0);
    close(fd);
}

static void test_map_errors(void **state)
{
    (void)state;
    int n0 = testutil_memory_node(0);
    nslab_policy_t b = nslab_policy_bind(n0);
    int fd = memfd(8 * MiB);
    void *p = NULL;
#define EXPECT(call, err)                          \
    do {                                           \
        errno = 0;                                 \
        assert_int_equal((call), -(err));          \
        assert_int_equal(errno, (err));            \
    } while (0)
    EXPECT(nslab_file_map(NULL, MiB, fd, 0, 0, &b), EINVAL);
    EXPECT(nslab_file_map(&p, 0, fd, 0, 0, &b), EINVAL);
    EXPECT(nslab_file_map(&p, MiB, -1, 0, 0, &b), EINVAL);
    EXPECT(nslab_file_map(&p, MiB, fd, 0, 0x1000, &b), EINVAL);
    EXPECT(nslab_file_map(&p, MiB, fd, 100, 0, &b), EINVAL);
    EXPECT(nslab_file_map(&p, 100, fd, 0, 0, &b), EINVAL);
    EXPECT(nslab_file_map(&p, MiB, fd, UINT64_MAX - 4095, 0, &b), EINVAL);
    p = NULL;
    EXPECT(nslab_file_map(&p, MiB, fd, 0, NSLAB_MAP_FIXED, &b), EINVAL);
    nslab_policy_t bad = nslab_policy_bind(nslab_node_count());
    EXPECT(nslab_file_map(&p, MiB, fd, 0, 0, &bad), EINVAL);
    EXPECT(nslab_file_map(&p, 8 * MiB, fd, 4096, 0, &b), ENXIO);
    int closed = memfd(4096);
    close(closed);
    EXPECT(nslab_file_map(&p, 4096, closed, 0, 0, &b), EBADF);
    /* FIXED outside any mapping. */
    char *hole = mmap(NULL, 4 * MiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(hole != MAP_FAILED);
    munmap(hole, 4 * MiB);
    p = hole;
    EXPECT(nslab_file_map(&p, MiB, fd, 0, NSLAB_MAP_FIXED, &b), EFAULT);
    /* A read-only fd mapped shared writable. */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int ro = open(path, O_RDONLY);
    assert_true(ro >= 0);
    p = NULL;
    EXPECT(nslab_file_map(&p, MiB, ro, 0, NSLAB_MAP_WRITE, &b), EACCES);
    close(ro);
    /* More than the node holds: ENOMEM before anything is mapped. */
    nslab_node_info_t info;
    assert_int_equal(nslab_node_info(n0, &info), 0);
    size_t big = ((size_t)info.mem_free + 256 * MiB) & ~(MiB - 1);
    int bfd = memfd(big);
    struct leak_snap before;
    leak_snap(&before);
    p = NULL;
    EXPECT(nslab_file_map(&p, big, bfd, 0, NSLAB_MAP_WRITE | NSLAB_MAP_PREFAULT, &b), ENOMEM);
    leak_assert_same(&before, "map_file ENOMEM");
    close(bfd);

    /* nslab_file_unmap */
    EXPECT(nslab_file_unmap(NULL, MiB, 0), EINVAL);
    EXPECT(nslab_file_unmap((void *)4097, MiB, 0), EINVAL);
    EXPECT(nslab_file_unmap((void *)4096, 0, 0), EINVAL);
    EXPECT(nslab_file_unmap((void *)4096, MiB, 0x2), EINVAL);

    /* nslab_range_bind */
    char *a = mmap(NULL, 8 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(a != MAP_FAILED);
    assert_int_equal(munmap(a + 4 * MiB, 4 * MiB), 0); /* a hole after a */
    EXPECT(nslab_range_bind(NULL, MiB, &b, 0, NULL), EINVAL);
    EXPECT(nslab_range_bind(a + 1, MiB, &b, 0, NULL), EINVAL);
    EXPECT(nslab_range_bind(a, 100, &b, 0, NULL), EINVAL);
    EXPECT(nslab_range_bind(a, 0, &b, 0, NULL), EINVAL);
    EXPECT(nslab_range_bind(a, MiB, &b, NSLAB_MAP_WRITE, NULL), EINVAL);
    EXPECT(nslab_range_bind(a, MiB, &bad, 0, NULL), EINVAL);
    EXPECT(nslab_range_bind(a, 8 * MiB, &b, 0, NULL), EFAULT);
    EXPECT(nslab_range_bind(hole, MiB, &b, 0, NULL), EFAULT);
    munmap(a, 4 * MiB);
    close(fd);
#undef EXPECT
}

/* HUGETLB | MEMFD regions: refused with ENOMEM where the bound node has
 * no free huge pages; with some reserved on one node (only with
 * NUMASLAB_TEST_HUGETLB=1, in the throw-away guest), placed there, data
 * at file offset 0. */
static int reserve_huge(int node, unsigned long count)
{
    char path[128];
    snprintf(path, sizeof path,
             "/sys/devices/system/node/node%d/hugepages/hugepages-2048kB/nr_hugepages", node);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "%lu\n", count);
    return fclose(f);
}

static void test_hugetlb_memfd_region(void **state)
{
    (void)state;
    nslab_nodeset_t mem;
    int nmem = testutil_memory_nodes(&mem);
    const size_t size = 8 * MiB;
    nslab_region_opts_t o = NSLAB_REGION_OPTS_INIT(.pages = NSLAB_PAGES_HUGETLB, .flags = NSLAB_REGION_MEMFD);
    const char *env = getenv("NUMASLAB_TEST_HUGETLB");
    int target = testutil_memory_node(nmem > 2 ? 2 : 0);
    if (env && strcmp(env, "1") == 0) {
        for (int n = nslab_nodeset_next(&mem, 0); n >= 0; n = nslab_nodeset_next(&mem, n + 1))
            assert_int_equal(reserve_huge(n, n == target ? 8 : 0), 0);
    }
    for (int n = nslab_nodeset_next(&mem, 0); n >= 0; n = nslab_nodeset_next(&mem, n + 1)) {
        char path[128];
        snprintf(path, sizeof path,
                 "/sys/devices/system/node/node%d/hugepages/hugepages-2048kB/free_hugepages", n);
        FILE *f = fopen(path, "r");
        unsigned long freeh = 0;
        if (f) {
            if (fscanf(f, "%lu", &freeh) != 1)
                freeh = 0;
            fclose(f);
        }
        nslab_policy_t b = nslab_policy_bind(n);
        errno = 0;
        nslab_region_t *r = nslab_region_create(size, &b, &o);
        if (freeh * 2 * MiB < size) {
            if (r)
                fail_msg("node %d: %lu free huge pages, a %zu MiB hugetlb memfd was created", n,
                         freeh, size >> 20);
            assert_int_equal(errno, ENOMEM);
            printf("node %d: %lu free huge pages: ENOMEM\n", n, freeh);
            continue;
        }
        assert_non_null(r);
        char *p = nslab_region_addr(r);
        int fd = nslab_region_fd(r);
        assert_true(fd >= 0);
        nslab_region_report_t rep;
        assert_int_equal(nslab_region_report(r, &rep), 0);
        assert_int_equal(rep.hugetlb, 1);
        memcpy(p, "huge", 5);
        char back[5];
        assert_int_equal(pread(fd, back, 5, 0), 5);
        assert_string_equal(back, "huge");
        char what[64];
        snprintf(what, sizeof what, "hugetlb memfd region BIND node %d", n);
        assert_on(p, size, n, what);
        assert_int_equal(nslab_region_destroy(r), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_memfd_every_node),
        cmocka_unit_test(test_map_readonly_and_private),
        cmocka_unit_test(test_map_fixed_in_reservation),
        cmocka_unit_test(test_bind_range),
        cmocka_unit_test(test_map_populated_memfd_move),
        cmocka_unit_test(test_map_errors),
        cmocka_unit_test(test_hugetlb_memfd_region),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
