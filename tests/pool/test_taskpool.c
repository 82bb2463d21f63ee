/*
 * tests/pool/test_taskpool.c - the worker pool on nodes (issue 14): tasks
 * submitted to node N run on N's CPUs and their buffers are on N's memory
 * (checked with move_pages through libnuma, not the library); NSLAB_NODE_ANY
 * and LOCAL; stealing from the nearest node; a shutdown that runs every
 * queued task; per-node statistics; every documented error this machine
 * can show (in the mixed guest: a memory-only node is ENODEV, a memoryless
 * node's tasks get the nearest memory).  Public header only.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <numaif.h>

#include "testutil.h"

#define PER_NODE 200

struct rec {
    int want;          /* node submitted to */
    int ran_on;        /* node of the CPU the task ran on */
    int task_node;     /* the node argument */
    int buf_node;      /* nslab_node_of(buffer) */
    int page_node;     /* move_pages of the buffer */
    int pool_null;
};

static void task_place(nslab_pool_t *pool, int node, void *arg)
{
    struct rec *r = arg;
    r->task_node = node;
    r->ran_on = nslab_node_of_cpu(sched_getcpu());
    if (!pool) {
        r->pool_null = 1;
        return;
    }
    char *b = nslab_pool_get(pool);
    if (!b) {
        r->buf_node = -100;
        return;
    }
    memset(b, 1, 4096);
    r->buf_node = nslab_node_of(b);
    void *pg = b;
    int st = -1;
    move_pages(0, 1, &pg, NULL, &st, 0);
    r->page_node = st;
    nslab_pool_put(pool, b);
}

static nslab_node_info_t info_of(int n)
{
    nslab_node_info_t i;
    assert_int_equal(nslab_node_info(n, &i), 0);
    return i;
}

static void test_tasks_run_on_their_node(void **state)
{
    (void)state;
    nslab_pool_opts_t po = NSLAB_POOL_OPTS_INIT(.elt_size = 4096, .count = 64);
    nslab_taskpool_opts_t o = NSLAB_TASKPOOL_OPTS_INIT(.workers_per_node = 2, .buffers = &po);
    nslab_taskpool_t *tp = nslab_taskpool_create(&o);
    assert_non_null(tp);
    assert_non_null(nslab_taskpool_buffers(tp));
    int nodes[NSLAB_MAX_NODES], nn = 0;
    for (int n = 0; n < nslab_node_count(); n++) {
        nslab_node_info_t i;
        if (nslab_node_info(n, &i) == 0 && i.has_cpus)
            nodes[nn++] = n;
    }
    assert_true(nn >= 1);
    static struct rec recs[64][PER_NODE];
    memset(recs, 0, sizeof recs);
    for (int k = 0; k < PER_NODE; k++)
        for (int j = 0; j < nn; j++) {
            recs[j][k].want = nodes[j];
            int r;
            while ((r = nslab_taskpool_submit(tp, nodes[j], task_place, &recs[j][k])) == -EAGAIN)
                usleep(100);
            assert_int_equal(r, nodes[j]);
        }
    assert_int_equal(nslab_taskpool_destroy(tp), 0); /* runs everything first */
    for (int j = 0; j < nn; j++) {
        int n = nodes[j], mem = info_of(n).local_node;
        size_t on_cpu = 0, on_mem = 0;
        for (int k = 0; k < PER_NODE; k++) {
            struct rec *r = &recs[j][k];
            assert_int_equal(r->task_node, n);
            assert_int_equal(r->pool_null, 0);
            on_cpu += r->ran_on == n;
            on_mem += r->buf_node == mem && r->page_node == mem;
        }
        printf("node %d: %zu of %d tasks on its CPUs, %zu buffers on node %d\n", n, on_cpu,
               PER_NODE, on_mem, mem);
        assert_int_equal(on_cpu, PER_NODE);
        assert_int_equal(on_mem, PER_NODE);
    }
}

static sem_t gate;
static int ran;

static void task_count(nslab_pool_t *pool, int node, void *arg)
{
    (void)pool;
    (void)node;
    (void)arg;
    usleep(1000);
    __atomic_fetch_add(&ran, 1, __ATOMIC_RELAXED);
}

static void task_block(nslab_pool_t *pool, int node, void *arg)
{
    (void)pool;
    (void)node;
    (void)arg;
    while (sem_wait(&gate) != 0)
        ;
}

/* destroy runs every queued task; stats count them. */
static void test_shutdown_and_stats(void **state)
{
    (void)state;
    int n0 = nslab_node_of_cpu(sched_getcpu());
    nslab_taskpool_opts_t o = NSLAB_TASKPOOL_OPTS_INIT(.nodes = nslab_nodeset_of(n0), .queue_capacity = 64);
    nslab_taskpool_t *tp = nslab_taskpool_create(&o);
    assert_non_null(tp);
    assert_null(nslab_taskpool_buffers(tp));
    assert_int_equal(errno, ENOENT);
    ran = 0;
    for (int i = 0; i < 50; i++)
        assert_int_equal(nslab_taskpool_submit(tp, n0, task_count, NULL), n0);
    nslab_taskpool_stats_t st = {.size = sizeof st, .version = NSLAB_STATS_VERSION};
    assert_int_equal(nslab_taskpool_stats(tp, n0, &st), 0);
    assert_int_equal(st.submitted, 50);
    assert_int_equal(st.workers, 1);
    assert_true(st.max_queued >= 1);
    printf("queued now %llu, max %llu\n", (unsigned long long)st.queued,
           (unsigned long long)st.max_queued);
    /* ANY and LOCAL reach the only node. */
    assert_int_equal(nslab_taskpool_submit(tp, NSLAB_NODE_ANY, task_count, NULL), n0);
    assert_int_equal(nslab_taskpool_submit(tp, NSLAB_NODE_LOCAL, task_count, NULL), n0);
    assert_int_equal(nslab_taskpool_destroy(tp), 0);
    assert_int_equal(__atomic_load_n(&ran, __ATOMIC_RELAXED), 52);
}

static void test_errors(void **state)
{
    (void)state;
    int n0 = nslab_node_of_cpu(sched_getcpu());
#define EXPECT_NULL(call, err)          \
    do {                                \
        errno = 0;                      \
        assert_null(call);              \
        assert_int_equal(errno, (err)); \
    } while (0)
    EXPECT_NULL(nslab_taskpool_create(NULL), EINVAL);
    nslab_taskpool_opts_t o = NSLAB_TASKPOOL_OPTS_INIT(.flags = 0x80);
    EXPECT_NULL(nslab_taskpool_create(&o), EINVAL);
    o = (nslab_taskpool_opts_t)NSLAB_TASKPOOL_OPTS_INIT(.queue_capacity = (1u << 24) + 1);
    EXPECT_NULL(nslab_taskpool_create(&o), EINVAL);
    o = (nslab_taskpool_opts_t)NSLAB_TASKPOOL_OPTS_INIT(.nodes = nslab_nodeset_of(nslab_node_count()));
    EXPECT_NULL(nslab_taskpool_create(&o), EINVAL);
    o = (nslab_taskpool_opts_t)NSLAB_TASKPOOL_OPTS_INIT(.workers_per_node = 2000);
    EXPECT_NULL(nslab_taskpool_create(&o), EINVAL);
    nslab_pool_opts_t bad = NSLAB_POOL_OPTS_INIT(.elt_size = 0, .count = 1);
    o = (nslab_taskpool_opts_t)NSLAB_TASKPOOL_OPTS_INIT(.buffers = &bad);
    EXPECT_NULL(nslab_taskpool_create(&o), EINVAL);
    /* A node without CPUs (memory-only), where there is one. */
    nslab_nodeset_t mo;
    if (nslab_nodes(NSLAB_NODES_MEMORY_ONLY, &mo) > 0) {
        o = (nslab_taskpool_opts_t)NSLAB_TASKPOOL_OPTS_INIT(.nodes = mo);
        EXPECT_NULL(nslab_taskpool_create(&o), ENODEV);
        printf("memory-only node %d: ENODEV\n", nslab_nodeset_next(&mo, 0));
    }

    o = (nslab_taskpool_opts_t)NSLAB_TASKPOOL_OPTS_INIT(.nodes = nslab_nodeset_of(n0), .queue_capacity = 1);
    nslab_taskpool_t *tp = nslab_taskpool_create(&o);
    assert_non_null(tp);
    errno = 0;
    assert_int_equal(nslab_taskpool_submit(NULL, n0, task_count, NULL), -EINVAL);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(nslab_taskpool_submit(tp, n0, NULL, NULL), -EINVAL);
    assert_int_equal(nslab_taskpool_submit(tp, nslab_node_count(), task_count, NULL), -EINVAL);
    assert_int_equal(nslab_taskpool_submit(tp, -7, task_count, NULL), -EINVAL);
    for (int n = 0; n < nslab_node_count(); n++)
        if (n != n0) {
            assert_int_equal(nslab_taskpool_submit(tp, n, task_count, NULL), -ENODEV);
            break;
        }
    /* A full queue: the worker blocked in a task, one queued behind it. */
    sem_init(&gate, 0, 0);
    assert_int_equal(nslab_taskpool_submit(tp, n0, task_block, NULL), n0);
    int r;
    for (int tries = 0; tries < 1000; tries++) { /* the worker takes the first */
        nslab_taskpool_stats_t st = {.size = sizeof st, .version = NSLAB_STATS_VERSION};
        assert_int_equal(nslab_taskpool_stats(tp, n0, &st), 0);
        if (st.queued == 0)
            break;
        usleep(1000);
    }
    assert_int_equal(nslab_taskpool_submit(tp, n0, task_count, NULL), n0);
    errno = 0;
    r = nslab_taskpool_submit(tp, n0, task_count, NULL);
    assert_int_equal(r, -EAGAIN);
    assert_int_equal(errno, EAGAIN);
    sem_post(&gate);
    nslab_taskpool_stats_t st = {.size = sizeof st, .version = 99};
    assert_int_equal(nslab_taskpool_stats(tp, n0, &st), -EINVAL);
    st.version = NSLAB_STATS_VERSION;
    st.size = 4;
    assert_int_equal(nslab_taskpool_stats(tp, n0, &st), -EINVAL);
    st.size = sizeof st;
    assert_int_equal(nslab_taskpool_stats(NULL, n0, &st), -EINVAL);
    assert_int_equal(nslab_taskpool_stats(tp, n0, NULL), -EINVAL);
    assert_int_equal(nslab_taskpool_stats(tp, -1, &st), -EINVAL);
    for (int n = 0; n < nslab_node_count(); n++)
        if (n != n0) {
            assert_int_equal(nslab_taskpool_stats(tp, n, &st), -ENODEV);
            break;
        }
    assert_int_equal(nslab_taskpool_destroy(tp), 0);
    assert_int_equal(nslab_taskpool_destroy(NULL), -EINVAL);
    EXPECT_NULL(nslab_taskpool_buffers(NULL), EINVAL);
    sem_destroy(&gate);
#undef EXPECT_NULL
}

/* A task that keeps its buffer: destroy is -EBUSY until it is put back. */
static void *kept;
static void task_keep(nslab_pool_t *pool, int node, void *arg)
{
    (void)node;
    (void)arg;
    kept = nslab_pool_get(pool);
}

static void test_destroy_busy(void **state)
{
    (void)state;
    nslab_pool_opts_t po = NSLAB_POOL_OPTS_INIT(.elt_size = 256, .count = 16);
    nslab_taskpool_opts_t o = NSLAB_TASKPOOL_OPTS_INIT(.buffers = &po);
    nslab_taskpool_t *tp = nslab_taskpool_create(&o);
    assert_non_null(tp);
    kept = NULL;
    assert_true(nslab_taskpool_submit(tp, NSLAB_NODE_ANY, task_keep, NULL) >= 0);
    errno = 0;
    assert_int_equal(nslab_taskpool_destroy(tp), -EBUSY);
    assert_int_equal(errno, EBUSY);
    assert_non_null(kept);
    assert_int_equal(nslab_pool_put(NULL, kept), 0);
    assert_int_equal(nslab_taskpool_destroy(tp), 0);
}

/* With stealing, idle nodes take tasks queued on a busy one. */
static void test_steal(void **state)
{
    (void)state;
    int cpu_nodes = 0, busy = -1;
    for (int n = 0; n < nslab_node_count(); n++) {
        nslab_node_info_t i;
        if (nslab_node_info(n, &i) == 0 && i.has_cpus && nslab_node_cpus(n, NULL, 0) > 0) {
            cpu_nodes++;
            if (busy < 0)
                busy = n;
        }
    }
    if (cpu_nodes < 2)
        TEST_SKIP("one node with CPUs: nobody to steal");
    nslab_taskpool_opts_t o = NSLAB_TASKPOOL_OPTS_INIT(.flags = NSLAB_TASKPOOL_STEAL);
    nslab_taskpool_t *tp = nslab_taskpool_create(&o);
    assert_non_null(tp);
    ran = 0;
    for (int i = 0; i < 200; i++)
        assert_int_equal(nslab_taskpool_submit(tp, busy, task_count, NULL), busy);
    while (__atomic_load_n(&ran, __ATOMIC_RELAXED) < 200)
        usleep(1000);
    uint64_t stolen = 0, run = 0;
    for (int n = 0; n < nslab_node_count(); n++) {
        nslab_taskpool_stats_t st = {.size = sizeof st, .version = NSLAB_STATS_VERSION};
        if (nslab_taskpool_stats(tp, n, &st) != 0)
            continue;
        printf("node %d: submitted %llu run %llu stolen %llu\n", n,
               (unsigned long long)st.submitted, (unsigned long long)st.run,
               (unsigned long long)st.stolen);
        stolen += st.stolen;
        run += st.run;
    }
    assert_int_equal(run, 200);
    assert_true(stolen > 0);
    assert_int_equal(nslab_taskpool_destroy(tp), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tasks_run_on_their_node),
        cmocka_unit_test(test_shutdown_and_stats),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_destroy_busy),
        cmocka_unit_test(test_steal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
