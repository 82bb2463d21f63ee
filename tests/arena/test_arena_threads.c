/*
 * tests/arena/test_arena_threads.c - thread caches and remote frees:
 *  - thread exit returns every cached block to the arenas;
 *  - nslab_thread_flush() does the same on demand;
 *  - a block freed by a thread running on another node goes back to its
 *    owner's arena (remote stack, then collected), the statistics show it,
 *    and it is handed out again only for its own node.  On one node the
 *    freeing thread is made to report another node with the test hook
 *    arena_test_set_thread_node(); in the 4-node VM a real node is used
 *    and the thread is also bound there;
 *  - a thread that allocates after its cache was destroyed (a later TLS
 *    destructor) is served without a cache.
 */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"

static int node0;

static int setup(void **state)
{
    (void)state;
    node0 = testutil_memory_node(0);
    return node0 < 0 ? -1 : arena_global_init();
}

/* Blocks out of the slabs of node's arena (in caches, remote stacks or use). */
static uint64_t blocks_out(int node)
{
    struct arena *a = arena_peek(node);
    uint64_t n = 0;
    if (!a)
        return 0;
    for (unsigned c = 1; c < SC_COUNT; c++) {
        pthread_mutex_lock(&a->cls[c].lock);
        n += a->cls[c].out;
        pthread_mutex_unlock(&a->cls[c].lock);
    }
    return n;
}

static uint64_t remote_pending(int node, unsigned cls)
{
    struct arena *a = arena_peek(node);
    uint64_t n = 0;
    pthread_mutex_lock(&a->cls[cls].lock);
    for (void *b = a->cls[cls].remote; b; b = arena_link_get(b))
        n++;
    pthread_mutex_unlock(&a->cls[cls].lock);
    return n;
}

static int registry_count(void)
{
    int n = 0;
    tcache_registry_lock();
    for (struct tcache *tc = tcache_registry_first(); tc; tc = tc->reg_next)
        n++;
    tcache_registry_unlock();
    return n;
}

static nslab_arena_stats_t stats(int node)
{
    nslab_arena_stats_t s = { .size = sizeof s, .version = NSLAB_STATS_VERSION };
    assert_int_equal(nslab_arena_stats(node, &s), 0);
    return s;
}

/* ---- thread exit -------------------------------------------------------- */

static void *churn_and_exit(void *arg)
{
    int node = *(int *)arg;
    enum { N = 3000 };
    static __thread void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = numa_malloc_on(node, (size_t)(i % 700) * 11 + 1);
        if (!p[i])
            return (void *)1;
    }
    for (int i = 0; i < N; i++)
        nslab_free(p[i]);
    /* the cache holds blocks now: its bins are not empty */
    struct tcache *tc = arena_tls;
    uint64_t cached = 0;
    for (unsigned c = 1; c < SC_COUNT; c++)
        cached += (uint64_t)(sc_limit[c] - tc->nodes[node].bins[c].room);
    return cached > 0 ? NULL : (void *)2;
}

static void test_thread_exit_releases(void **state)
{
    (void)state;
    nslab_thread_flush();
    uint64_t before = blocks_out(node0);
    int regs = registry_count();
    nslab_arena_stats_t s0 = stats(node0);
    pthread_t t;
    void *ret;
    assert_int_equal(pthread_create(&t, NULL, churn_and_exit, &node0), 0);
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_null(ret);
    assert_int_equal(registry_count(), regs);
    assert_int_equal(blocks_out(node0), before);
    nslab_arena_stats_t s1 = stats(node0);
    assert_int_equal(s1.allocs - s0.allocs, 3000); /* retired, not lost */
    assert_int_equal(s1.frees - s0.frees, 3000);
    assert_int_equal(s1.bytes_in_use, s0.bytes_in_use);
    assert_int_equal(nslab_arena_audit(stdout), 0);
}

static void test_thread_flush(void **state)
{
    (void)state;
    nslab_thread_flush();
    uint64_t before = blocks_out(node0);
    void *p[500];
    for (int i = 0; i < 500; i++) {
        p[i] = numa_malloc_on(node0, (size_t)i * 5 + 1);
        assert_non_null(p[i]);
    }
    for (int i = 0; i < 500; i++)
        assert_int_equal(nslab_free(p[i]), 0);
    assert_true(blocks_out(node0) > before); /* cached */
    nslab_thread_flush();
    assert_int_equal(blocks_out(node0), before);
    assert_int_equal(nslab_arena_audit(stdout), 0);
}

/* ---- remote frees ------------------------------------------------------- */

#define RSIZE 3000 /* class 3072: a class no other test here uses */
#define RN 100

struct remote_arg {
    void **blocks;
    int n;
    int owner;     /* the blocks' node */
    int as_node;   /* the node the freeing thread reports */
    int real;      /* as_node is a real node with memory */
    int crossed;   /* blocks of as_node's allocations found in `blocks` */
    uint64_t pending; /* on node0's remote stack right after the frees */
};

static uint64_t remote_pending(int node, unsigned cls);

static void *remote_freer(void *argp)
{
    struct remote_arg *arg = argp;
    if (arg->real)
        (void)nslab_thread_bind(arg->as_node); /* best effort: may have no CPUs */
    arena_test_set_thread_node(arg->as_node);
    for (int i = 0; i < arg->n; i++)
        if (nslab_free(arg->blocks[i]) != 0)
            return (void *)1;
    /* the overflow flushes handed batches over without taking a lock */
    arg->pending = remote_pending(arg->owner, sc_of(RSIZE));
    if (arg->real) {
        /* allocations for this thread's own node never get node0's blocks */
        void *mine[2 * RN];
        for (int i = 0; i < 2 * RN; i++) {
            mine[i] = numa_malloc_on(arg->as_node, RSIZE);
            if (!mine[i] || nslab_node_of(mine[i]) != arg->as_node)
                return (void *)2;
            for (int j = 0; j < arg->n; j++)
                if (mine[i] == arg->blocks[j])
                    arg->crossed++;
        }
        for (int i = 0; i < 2 * RN; i++)
            nslab_free(mine[i]);
    }
    return NULL;
}

static void test_remote_free(void **state)
{
    (void)state;
    nslab_nodeset_t mem;
    testutil_memory_nodes(&mem);
    int other = nslab_nodeset_next(&mem, node0 + 1);
    int real = other >= 0;
    if (!real)
        other = nslab_node_count(); /* no such node: only the hook says so */
    unsigned cls = sc_of(RSIZE);

    arena_test_set_thread_node(node0);
    nslab_thread_flush();
    static void *blocks[RN];
    for (int i = 0; i < RN; i++) {
        blocks[i] = numa_malloc_on(node0, RSIZE);
        assert_non_null(blocks[i]);
        memset(blocks[i], 0x11, RSIZE);
    }
    nslab_arena_stats_t s0 = stats(node0);
    nslab_arena_stats_t o0 = { 0 };
    if (real)
        o0 = stats(other);

    struct remote_arg arg = { .blocks = blocks, .n = RN, .owner = node0, .as_node = other,
                             .real = real };
    pthread_t t;
    void *ret;
    assert_int_equal(pthread_create(&t, NULL, remote_freer, &arg), 0);
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_null(ret);
    assert_int_equal(arg.crossed, 0);

    /* every block went home: on the remote stack, collected when the
     * exiting thread's flush took the class lock (remote_in), or still
     * waiting on the stack */
    assert_true(arg.pending > 0);
    nslab_arena_stats_t s1 = stats(node0);
    uint64_t pending = remote_pending(node0, cls);
    assert_int_equal(s1.remote_frees_in - s0.remote_frees_in + pending, RN);
    assert_int_equal(s1.bytes_in_use, s0.bytes_in_use - RN * sc_size[cls]);
    if (real) {
        nslab_arena_stats_t o1 = stats(other);
        assert_int_equal(o1.remote_frees_out - o0.remote_frees_out, RN);
    }
    assert_int_equal(nslab_arena_audit(stdout), 0);

    /* the owner's next refill collects the stack and hands the blocks out
     * again, for node0 */
    enum { MAXA = 4000 };
    static void *again[MAXA];
    int seen = 0, k = 0;
    while (seen < RN && k < MAXA) {
        void *q = again[k++] = numa_malloc_on(node0, RSIZE);
        assert_non_null(q);
        assert_int_equal(nslab_node_of(q), node0);
        for (int j = 0; j < RN; j++)
            if (q == blocks[j])
                seen++;
    }
    assert_int_equal(remote_pending(node0, cls), 0);
    assert_int_equal(seen, RN);
    nslab_arena_stats_t s2 = stats(node0);
    assert_int_equal(s2.remote_frees_in - s0.remote_frees_in, RN);
    for (int i = 0; i < k; i++)
        assert_int_equal(nslab_free(again[i]), 0);
    arena_test_set_thread_node(-1);
    assert_int_equal(nslab_arena_audit(stdout), 0);
}

/* ---- allocation after the thread's cache is gone ----------------------- */

static pthread_key_t late_key;
static int late_ok;

static void late_destructor(void *v)
{
    (void)v;
    /* arena's key was created first, so its destructor already ran */
    int ok = arena_tls == &tcache_empty;
    void *p[50];
    for (int i = 0; i < 50; i++) {
        p[i] = numa_malloc_on(node0, 64 + (size_t)i * 64);
        if (!p[i] || nslab_node_of(p[i]) != node0)
            ok = 0;
    }
    for (int i = 0; i < 50; i++)
        if (nslab_free(p[i]) != 0)
            ok = 0;
    late_ok = ok && arena_tls == &tcache_empty;
}

static void *late_thread(void *arg)
{
    (void)arg;
    void *p = numa_malloc_on(node0, 64); /* creates the cache */
    nslab_free(p);
    pthread_setspecific(late_key, (void *)1);
    return NULL;
}

static void test_alloc_after_cache_destroyed(void **state)
{
    (void)state;
    assert_int_equal(pthread_key_create(&late_key, late_destructor), 0);
    uint64_t before = blocks_out(node0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, late_thread, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(late_ok, 1);
    assert_int_equal(blocks_out(node0), before);
    assert_int_equal(nslab_arena_audit(stdout), 0);
    pthread_key_delete(late_key);
}

/* ---- fork ---------------------------------------------------------------- */

static pthread_barrier_t fork_bar;

static void *fork_holder(void *arg)
{
    (void)arg;
    void *p[300];
    for (int i = 0; i < 300; i++)
        p[i] = numa_malloc_on(node0, 48 + (size_t)(i % 30) * 16);
    for (int i = 0; i < 300; i++)
        nslab_free(p[i]); /* now in this thread's cache */
    pthread_barrier_wait(&fork_bar); /* alive, cache full, while main forks */
    pthread_barrier_wait(&fork_bar);
    return NULL;
}

static void test_fork_child(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    TEST_SKIP("fork with other threads alive: ThreadSanitizer's runtime is not fork-safe");
#endif
    pthread_barrier_init(&fork_bar, NULL, 2);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fork_holder, NULL), 0);
    pthread_barrier_wait(&fork_bar);
    int regs = registry_count();
    assert_true(regs >= 2);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the holder thread does not exist here: its cache was given back */
        int ok = registry_count() == 1 && nslab_arena_audit(stdout) == 0;
        void *q = numa_malloc_on(node0, 100);
        ok = ok && q && nslab_node_of(q) == node0 && nslab_free(q) == 0;
        nslab_thread_flush();
        ok = ok && blocks_out(node0) == 0 && nslab_arena_audit(stdout) == 0;
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    pthread_barrier_wait(&fork_bar);
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_barrier_destroy(&fork_bar);
    assert_int_equal(registry_count(), regs - 1);
    assert_int_equal(nslab_arena_audit(stdout), 0);
}

/* Another thread holds every lock of the arena (registry, a class, the
 * chunks, the large cache) when the process forks, as a thread caught in
 * the middle of an update would: fork does not wait for them (the parent
 * would deadlock here if it did), and the child repairs what they guard
 * (arena.c): it allocates that class and large blocks, frees the blocks it
 * inherited, and passes the audit. */
static pthread_barrier_t hold_bar;
static unsigned hold_cls;

static void *lock_holder(void *arg)
{
    struct arena *a = arg;
    tcache_registry_lock();
    pthread_mutex_lock(&a->cls[hold_cls].lock);
    pthread_mutex_lock(&a->chunk_lock);
    pthread_mutex_lock(&a->large_lock);
    pthread_barrier_wait(&hold_bar); /* held */
    pthread_barrier_wait(&hold_bar); /* the child was forked and is done */
    pthread_mutex_unlock(&a->large_lock);
    pthread_mutex_unlock(&a->chunk_lock);
    pthread_mutex_unlock(&a->cls[hold_cls].lock);
    tcache_registry_unlock();
    return NULL;
}

static void test_fork_while_locks_held(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    TEST_SKIP("fork with locks held by another thread: ThreadSanitizer's runtime is not "
              "fork-safe");
#endif
    int e;
    struct arena *a = arena_get(node0, &e);
    assert_non_null(a);
    hold_cls = sc_of(48);
    void *live[64], *big = numa_malloc_on(node0, 300 << 10);
    assert_non_null(big);
    for (int i = 0; i < 64; i++)
        assert_non_null(live[i] = numa_malloc_on(node0, 48));
    pthread_barrier_init(&hold_bar, NULL, 2);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, lock_holder, a), 0);
    pthread_barrier_wait(&hold_bar);
    alarm(60); /* a fork that waits for the holder deadlocks: SIGALRM fails the test */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20);
        int ok = 1;
        void *p[300];
        for (int i = 0; i < 300; i++) {
            p[i] = numa_malloc_on(node0, 48);
            ok = ok && p[i] && nslab_node_of(p[i]) == node0;
            if (p[i])
                memset(p[i], 0x5a, 48);
        }
        void *l = numa_malloc_on(node0, 200 << 10);
        ok = ok && l && nslab_free(l) == 0;
        for (int i = 0; i < 300; i++)
            ok = ok && nslab_free(p[i]) == 0;
        for (int i = 0; i < 64; i++) /* blocks of the abandoned class: dropped */
            ok = ok && nslab_free(live[i]) == 0;
        ok = ok && nslab_free(big) == 0;
        nslab_thread_flush();
        ok = ok && nslab_arena_audit(stdout) == 0 && registry_count() == 1;
        ok = ok && a->fork_repairs >= 3; /* class, chunks, large cache */
        _exit(ok ? 0 : 1);
    }
    testutil_reap_holder(pid, &hold_bar, t);
    for (int i = 0; i < 64; i++)
        assert_int_equal(nslab_free(live[i]), 0);
    assert_int_equal(nslab_free(big), 0);
    assert_int_equal(nslab_arena_audit(stdout), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_exit_releases),
        cmocka_unit_test(test_thread_flush),
        cmocka_unit_test(test_remote_free),
        cmocka_unit_test(test_alloc_after_cache_destroyed),
        cmocka_unit_test(test_fork_child),
        cmocka_unit_test(test_fork_while_locks_held),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
