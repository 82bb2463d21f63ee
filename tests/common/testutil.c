/* tests/common/testutil.c - see testutil.h. */
#include "testutil.h"

#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
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

int testutil_child(int (*fn)(void *), void *arg, char *err, size_t len)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit no = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        _exit(fn(arg));
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t n;
    char drop[256];
    for (;;) {
        if (got + 1 < len)
            n = read(fds[0], err + got, len - 1 - got);
        else
            n = read(fds[0], drop, sizeof drop);
        if (n <= 0)
            break;
        if (got + 1 < len)
            got += (size_t)n;
    }
    err[got] = '\0';
    close(fds[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return st;
}

struct exec_args {
    const char *path;
    char *const *argv;
};

static int run_exec(void *p)
{
    const struct exec_args *a = p;
    execv(a->path, a->argv);
    return 127;
}

int testutil_child_exec(const char *path, char *const argv[], char *err, size_t len)
{
    struct exec_args a = { path, argv };
    return testutil_child(run_exec, &a, err, len);
}

int testutil_exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

nslab_pool_opts_t testutil_pool_opts(size_t elt, size_t count, size_t max)
{
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = elt, .count = count, .max_count = max);
    return o;
}

nslab_pool_stats_t testutil_pool_stats(const nslab_pool_t *p)
{
    nslab_pool_stats_t st = { .size = sizeof(st), .version = NSLAB_STATS_VERSION };
    assert_int_equal(nslab_pool_stats(p, &st), 0);
    return st;
}

void testutil_reap_holder(pid_t pid, pthread_barrier_t *bar, pthread_t t)
{
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    alarm(0);
    pthread_barrier_wait(bar);
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_barrier_destroy(bar);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

size_t testutil_slab_bytes(size_t size)
{
    size_t np = 1;
    while (np * TESTUTIL_SLAB_PAGE / size < 8)
        np++;
    return np * TESTUTIL_SLAB_PAGE;
}

int testutil_cmp_ptr(const void *x, const void *y)
{
    uintptr_t a = (uintptr_t) * (void *const *)x, b = (uintptr_t) * (void *const *)y;
    return a < b ? -1 : a > b;
}

int testutil_page_node(const void *p)
{
    void *pg = (void *)((uintptr_t)p & ~(uintptr_t)(sysconf(_SC_PAGESIZE) - 1));
    int status = -1;
    if (move_pages(0, 1, &pg, NULL, &status, 0) != 0)
        return -1000;
    return status;
}

char *testutil_topology_text(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&text, &len);
    assert_non_null(mf);
    assert_int_equal(nslab_topology_print(mf), 0);
    assert_int_equal(fclose(mf), 0);
    assert_non_null(text);
    return text;
}
