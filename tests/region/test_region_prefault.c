/*
 * tests/region/test_region_prefault.c - prefault modes really commit (or
 * do not), checked with mincore; THP asked and refused, checked in
 * /proc/self/smaps; hugetlb gives a clear ENOMEM when none are reserved;
 * memfd-backed regions are bound and shareable (DESIGN promises 1, 4, 8).
 */
#include "region_testutil.h"
#include "region-internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)

static const struct topology *T;
static int node0; /* first node with memory */

static int setup(void **state)
{
    (void)state;
    T = topology_get();
    node0 = testutil_memory_node(0);
    return node0 < 0;
}

static nslab_region_t *make(size_t size, nslab_prefault_t pf, nslab_pages_t pages,
                            unsigned flags)
{
    nslab_policy_t p = nslab_policy_bind(node0);
    nslab_region_opts_t o = NSLAB_REGION_OPTS_INIT(.prefault = pf, .pages = pages, .flags = flags);
    nslab_region_t *r = nslab_region_create(size, &p, &o);
    if (!r)
        fail_msg("region_create(prefault %d, pages %d): %s", pf, pages, strerror(errno));
    return r;
}

static void test_prefault_none_commits_nothing(void **state)
{
    (void)state;
    const size_t size = 8 * MiB;
    nslab_region_t *r = make(size, NSLAB_PREFAULT_NONE, NSLAB_PAGES_NO_THP, 0);
    nslab_region_report_t rep;
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.prefault, NSLAB_PREFAULT_NONE);
    char *p = nslab_region_addr(r);
    assert_int_equal(testutil_resident_pages(p, size), 0);
    /* First touch then happens under the region's policy. */
    memset(p, 1, size);
    assert_int_equal(testutil_resident_pages(p, size), size / T->page_size);
    assert_all_on_node(p, size, node0);
    assert_int_equal(nslab_region_destroy(r), 0);
}

static void check_commits(nslab_prefault_t pf, nslab_pages_t pages, nslab_prefault_t want)
{
    const size_t size = 8 * MiB + 3 * T->page_size;
    nslab_region_t *r = make(size, pf, pages, 0);
    nslab_region_report_t rep;
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.prefault, want);
    char *p = nslab_region_addr(r);
    size_t res = testutil_resident_pages(p, size);
    if (res != size / T->page_size)
        fail_msg("prefault %d pages %d: %zu of %zu pages resident", pf, pages, res,
                 size / T->page_size);
    assert_all_on_node(p, size, node0);
    assert_int_equal(nslab_region_destroy(r), 0);
}

static void test_prefault_touch_commits(void **state)
{
    (void)state;
    check_commits(NSLAB_PREFAULT_TOUCH, NSLAB_PAGES_NO_THP, NSLAB_PREFAULT_TOUCH);
}

static void test_prefault_populate_commits(void **state)
{
    (void)state;
    nslab_prefault_t want = T->has_populate_write ? NSLAB_PREFAULT_POPULATE : NSLAB_PREFAULT_TOUCH;
    check_commits(NSLAB_PREFAULT_POPULATE, NSLAB_PAGES_NO_THP, want);
    check_commits(NSLAB_PREFAULT_DEFAULT, NSLAB_PAGES_NO_THP, want);
    check_commits(NSLAB_PREFAULT_DEFAULT, NSLAB_PAGES_DEFAULT, want);
}

/* THP asked: the region is backed by huge pages (the kernel may fail to
 * find one under fragmentation, so at least one is asked, not all);
 * refused: none at all, even where THP is "always". */
static void test_thp_on(void **state)
{
    (void)state;
    int mode = thp_mode();
    if (mode == 0 || mode == 'n' || !T->thp_size)
        TEST_SKIP("THP is 'never' or absent on this kernel");
    const size_t size = 16 * MiB;
    nslab_region_t *r = make(size, NSLAB_PREFAULT_POPULATE, NSLAB_PAGES_THP, 0);
    nslab_region_report_t rep;
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.thp, 1);
    char *p = nslab_region_addr(r);
    size_t huge = smaps_anon_huge(p, size);
    print_message("THP asked: %zu KiB of %zu KiB in huge pages\n", huge >> 10, size >> 10);
    assert_true(huge > 0);
    assert_int_equal(testutil_resident_pages(p, size), size / T->page_size);
    assert_all_on_node(p, size, node0);
    assert_int_equal(nslab_region_destroy(r), 0);

    /* Touch steps one write per huge page: all pages still resident when
     * the kernel formed huge pages. */
    r = make(size, NSLAB_PREFAULT_TOUCH, NSLAB_PAGES_THP, 0);
    p = nslab_region_addr(r);
    huge = smaps_anon_huge(p, size);
    size_t res = testutil_resident_pages(p, size);
    print_message("THP touch: %zu KiB huge, %zu of %zu pages resident\n", huge >> 10, res,
                  size / T->page_size);
    assert_true(huge > 0);
    /* Every huge page formed is resident in full; pages of a huge page the
     * kernel could not form are left to first touch. */
    assert_true(res * T->page_size >= huge);
    assert_int_equal(nslab_region_destroy(r), 0);
}

static void test_thp_off(void **state)
{
    (void)state;
    if (!T->thp_size)
        TEST_SKIP("THP is 'never' or absent: nothing to refuse");
    const size_t size = 16 * MiB;
    nslab_region_t *r = make(size, NSLAB_PREFAULT_POPULATE, NSLAB_PAGES_NO_THP, 0);
    nslab_region_report_t rep;
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.thp, 0);
    char *p = nslab_region_addr(r);
    assert_int_equal(smaps_anon_huge(p, size), 0);
    assert_int_equal(testutil_resident_pages(p, size), size / T->page_size);
    assert_int_equal(nslab_region_destroy(r), 0);
}

static void test_hugetlb(void **state)
{
    (void)state;
    long free_hp = hugetlb_free_pages();
    nslab_policy_t p = nslab_policy_bind(node0);
    nslab_region_opts_t o = NSLAB_REGION_OPTS_INIT(.pages = NSLAB_PAGES_HUGETLB);
    struct leak_snap before;
    leak_snap(&before);
    nslab_region_t *r = nslab_region_create(4 * MiB, &p, &o);
    if (free_hp < 3) { /* 4 MiB + the header's huge page */
        assert_null(r);
        assert_int_equal(errno, ENOMEM);
        leak_assert_same(&before, "hugetlb ENOMEM");
        TEST_SKIP("no huge pages reserved (vm.nr_hugepages): ENOMEM checked, placement not");
    }
    assert_non_null(r);
    nslab_region_report_t rep;
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.hugetlb, 1);
    assert_int_equal((uintptr_t)nslab_region_addr(r) % (2 * MiB), 0);
    assert_all_on_node(nslab_region_addr(r), 4 * MiB, node0);
    assert_int_equal(nslab_region_destroy(r), 0);
}

/* A memfd region is bound like anonymous memory, and another mapping of
 * its fd (another process would do the same) sees its bytes. */
static void test_memfd_shared_and_bound(void **state)
{
    (void)state;
    const size_t size = 8 * MiB;
    nslab_region_t *r = make(size, NSLAB_PREFAULT_POPULATE, NSLAB_PAGES_DEFAULT,
                             NSLAB_REGION_MEMFD);
    int fd = nslab_region_fd(r);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
        char *p = nslab_region_addr(r);
    assert_int_equal(testutil_resident_pages(p, size), size / T->page_size);
    assert_all_on_node(p, size, node0);
    nslab_placement_t pl;
    assert_int_equal(nslab_region_verify(r, &pl), 0);
    assert_int_equal(pl.on_node[node0], pl.pages);

    /* The file holds the region's memory only, from offset 0: no library
     * header in it (issue 14), so another process writing all of the file
     * cannot damage the region. */
    assert_int_equal((size_t)st.st_size, size);
    char *q = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(q != MAP_FAILED);
    memcpy(p + 4096, "numaslab", 9);
    assert_string_equal(q + 4096, "numaslab");
    memcpy(q, "other", 6);
    assert_string_equal(p, "other");
    memset(q, 0xff, size);
    munmap(q, size);
    assert_ptr_equal(nslab_region_of(p), r);
    assert_int_equal(nslab_region_size(r), size);
    nslab_region_report_t rep;
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.size, size);

    /* Anonymous regions have no fd. */
    nslab_region_t *a = make(size, NSLAB_PREFAULT_NONE, NSLAB_PAGES_DEFAULT, 0);
    assert_int_equal(nslab_region_fd(a), -EINVAL);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(nslab_region_destroy(a), 0);
    assert_int_equal(nslab_region_destroy(r), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefault_none_commits_nothing),
        cmocka_unit_test(test_prefault_touch_commits),
        cmocka_unit_test(test_prefault_populate_commits),
        cmocka_unit_test(test_thp_on),
        cmocka_unit_test(test_thp_off),
        cmocka_unit_test(test_hugetlb),
        cmocka_unit_test(test_memfd_shared_and_bound),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
