/* tests/common/testutil.c - see testutil.h. */
#include "testutil.h"

#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void testutil_skip_msg(const char *test, const char *fmt, ...)
{
    va_list ap;
    printf("SKIP %s: ", test);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

int testutil_memory_nodes(nslab_nodeset_t *out)
{
    nslab_nodeset_t s;
    int n = nslab_nodes(NSLAB_NODES_ALLOWED, &s);
    if (out)
        *out = s;
    return n;
}

int testutil_memory_node(int k)
{
    nslab_nodeset_t s;
    nslab_nodes(NSLAB_NODES_ALLOWED, &s);
    int n = nslab_nodeset_next(&s, 0);
    while (n >= 0 && k-- > 0)
        n = nslab_nodeset_next(&s, n + 1);
    return n;
}

void testutil_fill(void *p, size_t n, unsigned seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(seed + i * 7);
}

int testutil_check(const void *p, size_t n, unsigned seed)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(seed + i * 7))
            return 0;
    return 1;
}

size_t testutil_pages_on(const void *p, size_t len, int node, size_t *total)
{
    long ps = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(ps - 1);
    uintptr_t e = ((uintptr_t)p + len + ps - 1) & ~(uintptr_t)(ps - 1);
    size_t n = (e - a) / ps, on = 0;
    enum { BATCH = 1024 };
    void *pages[BATCH];
    int status[BATCH];
    for (size_t i = 0; i < n; i += BATCH) {
        size_t k = n - i < BATCH ? n - i : BATCH;
        for (size_t j = 0; j < k; j++)
            pages[j] = (void *)(a + (i + j) * ps);
        if (move_pages(0, k, pages, NULL, status, 0) != 0)
            fail_msg("move_pages failed");
        for (size_t j = 0; j < k; j++)
            if (status[j] == node)
                on++;
    }
    *total = n;
    return on;
}

int testutil_thp_always(void)
{
    char buf[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, "[always]") != NULL;
}

int testutil_bound_node(const void *p)
{
    int mode = -1;
    unsigned long mask[NSLAB_MAX_NODES / (8 * sizeof(unsigned long))] = { 0 };
    if (get_mempolicy(&mode, mask, NSLAB_MAX_NODES, (void *)p, MPOL_F_ADDR) != 0)
        fail_msg("get_mempolicy(MPOL_F_ADDR) failed");
    /* the mode flags do not change which node (chunks are bound with
     * static nodes) */
    mode &= ~((1 << 15) | (1 << 14)); /* MPOL_F_STATIC_NODES, MPOL_F_RELATIVE_NODES */
    if (mode != MPOL_BIND)
        return -1;
    int node = -1;
    for (int n = 0; n < NSLAB_MAX_NODES; n++) {
        if (mask[n / (8 * sizeof(unsigned long))] & (1ul << (n % (8 * sizeof(unsigned long))))) {
            if (node >= 0)
                return -1;
            node = n;
        }
    }
    return node;
}

size_t testutil_present_on(const void *p, size_t len, int node)
{
    long ps = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(ps - 1);
    size_t n = ((uintptr_t)p + len - a + ps - 1) / ps, present = 0;
    unsigned char *vec = calloc(n, 1);
    if (!vec || mincore((void *)a, n * ps, vec) != 0)
        fail_msg("mincore failed");
    for (size_t i = 0; i < n; i++) {
        if (!(vec[i] & 1))
            continue;
        void *page = (void *)(a + i * ps);
        int status = -1;
        if (move_pages(0, 1, &page, NULL, &status, 0) != 0)
            fail_msg("move_pages failed");
        if (status != node)
            fail_msg("page %p is on node %d, not %d", page, status, node);
        present++;
    }
    free(vec);
    return present;
}

size_t testutil_resident_pages(const void *p, size_t len)
{
    long ps = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(ps - 1);
    size_t n = ((uintptr_t)p + len - a + ps - 1) / ps, r = 0;
    unsigned char *vec = calloc(n, 1);
    if (!vec || mincore((void *)a, n * ps, vec) != 0)
        fail_msg("mincore failed");
    for (size_t i = 0; i < n; i++)
        r += vec[i] & 1;
    free(vec);
    return r;
}

size_t testutil_scale(size_t n)
{
    const char *s = getenv("NUMASLAB_TEST_SCALE");
    long div = s ? atol(s) : 1;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    if (!s)
        div = 8;
#endif
    if (div < 1)
        div = 1;
    return n / div ? n / div : 1;
}
