/*
 * examples/pool_demo.c - the demo section "pools": a pool per worker.
 * A pool set (one pool of 2 KiB buffers per node with memory); one worker
 * per node with CPUs started with nslab_worker_start(), so it is bound to
 * its node's CPUs and handed its node's pool.  Each worker runs bursts of
 * gets and puts, checks where its buffers lie, and returns a few buffers
 * of another node's pool (remote puts).  Then the per-node report and the
 * claims:
 *   - every page of every buffer of each pool is on the pool's node;
 *   - each worker was served by its local node's pool (the nearest node
 *     with memory for a memoryless node);
 *   - gets and puts were served by the per-thread cache (hit rate);
 *   - remote puts are counted where buffers went home from another node;
 *   - the audit finds every buffer, none lost or duplicated;
 *   - destroying a pool with a buffer out is refused (EBUSY);
 *   - a worker pool on nodes (nslab_taskpool): tasks submitted to a node
 *     run on its CPUs, each with a buffer of its node's pool.
 */
#define _GNU_SOURCE /* sched_getcpu */
#include "pool_demo.h"

#include <errno.h>
#include <sched.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pool_run.h"

#define BUF_SIZE 2048
#define BURSTS 100000

/* The task pool part: what a task saw. */
struct demo_task {
    int want, ran_on, buf_node, pages, pages_on;
};

static void demo_task_fn(nslab_pool_t *pool, int node, void *arg)
{
    struct demo_task *t = arg;
    t->ran_on = nslab_node_of_cpu(sched_getcpu());
    (void)node;
    char *b = pool ? nslab_pool_get(pool) : NULL;
    if (!b)
        return;
    memset(b, 0x5a, BUF_SIZE);
    t->buf_node = nslab_node_of(b);
    nslab_placement_t pl;
    if (nslab_range_placement(b, BUF_SIZE, &pl) == 0) {
        t->pages = (int)pl.pages;
        t->pages_on = t->buf_node >= 0 ? (int)pl.on_node[t->buf_node] : 0;
    }
    nslab_pool_put(pool, b);
}

#define DEMO_TASKS 64

/* A worker pool on nodes (nslab_taskpool): two workers per node with CPUs,
 * tasks submitted to each node, each task taking a buffer of its worker's
 * node's pool; then the per-node statistics and the claim. */
static int demo_taskpool(struct demo *d)
{
    nslab_pool_opts_t po = NSLAB_POOL_OPTS_INIT(.elt_size = BUF_SIZE, .count = 256);
    nslab_taskpool_opts_t to = NSLAB_TASKPOOL_OPTS_INIT(.workers_per_node = 2, .buffers = &po);
    nslab_taskpool_t *tp = nslab_taskpool_create(&to);
    if (!tp) {
        fprintf(d->out, "  nslab_taskpool_create: %s\n", strerror(errno));
        return -1;
    }
    int count = nslab_node_count();
    struct demo_task *tasks = calloc((size_t)count * DEMO_TASKS, sizeof *tasks);
    if (!tasks) {
        nslab_taskpool_destroy(tp);
        return -1;
    }
    int submitted = 0;
    for (int n = 0; n < count; n++)
        for (int k = 0; k < DEMO_TASKS; k++) {
            struct demo_task *t = &tasks[n * DEMO_TASKS + k];
            t->want = -1;
            if (nslab_taskpool_submit(tp, n, demo_task_fn, t) == n) {
                t->want = n;
                submitted++;
            }
        }
    nslab_taskpool_stats_t st[NSLAB_MAX_NODES];
    for (int n = 0; n < count && n < NSLAB_MAX_NODES; n++) {
        st[n] = (nslab_taskpool_stats_t){ .size = sizeof st[n], .version = NSLAB_STATS_VERSION };
        if (nslab_taskpool_stats(tp, n, &st[n]) != 0)
            st[n].workers = 0;
    }
    int e = nslab_taskpool_destroy(tp); /* runs every queued task first */
    fprintf(d->out, "  task pool: %-8s %8s %9s %10s %s\n", "node", "workers", "tasks",
            "max queue", "ran on its CPUs / buffers on its memory");
    int ok = e == 0 && submitted > 0;
    for (int n = 0; n < count; n++) {
        if (st[n].workers == 0)
            continue;
        nslab_node_info_t info;
        nslab_node_info(n, &info);
        int on_cpu = 0, on_mem = 0, total = 0;
        for (int k = 0; k < DEMO_TASKS; k++) {
            struct demo_task *t = &tasks[n * DEMO_TASKS + k];
            if (t->want != n)
                continue;
            total++;
            on_cpu += t->ran_on == n;
            on_mem += t->buf_node == info.local_node && t->pages && t->pages_on == t->pages;
        }
        fprintf(d->out, "             node %-3d %8u %9d %10" PRIu64 " %d/%d, %d/%d on node %d\n",
                n, st[n].workers, total, st[n].max_queued, on_cpu, total, on_mem, total,
                info.local_node);
        ok &= total == DEMO_TASKS && on_cpu == total && on_mem == total;
    }
    demo_claim(d, ok,
               "%d tasks submitted to their nodes all ran on that node's CPUs, each with a buffer "
               "of its node's pool on its local memory; destroy ran every queued task",
               submitted);
    free(tasks);
    return 0;
}

int demo_pools(struct demo *d)
{
    demo_title(d, "Pool per worker: one worker per node on its node's pool of %d-byte buffers",
               BUF_SIZE);
    nslab_pool_opts_t opts = NSLAB_POOL_OPTS_INIT(.elt_size = BUF_SIZE, .count = 1024, .cache_size = 64);
    nslab_poolset_t *set = nslab_poolset_create(&opts);
    if (!set) {
        fprintf(d->out, "  nslab_poolset_create: %s\n", strerror(errno));
        return -1;
    }
    nslab_nodeset_t mem = d->nodes;
    int count = nslab_node_count();
    struct pool_worker *w = calloc((size_t)count, sizeof *w);
    if (!w) {
        nslab_poolset_destroy(set);
        return -1;
    }
    uint64_t lent[NSLAB_MAX_NODES] = {0}; /* foreign buffers lent, per pool */
    int workers = pool_run_workers(set, BUF_SIZE, BURSTS, w, lent);
    for (int n = 0; n < count; n++)
        if (w[n].start_error)
            fprintf(d->out, "  node %d: no worker (%s)\n", n, strerror(w[n].start_error));

    fprintf(d->out, "  %-8s %-8s %8s %10s %8s %8s %s\n", "worker", "pool", "ns/op", "gets",
            "hit %", "remote", "sample placement");
    int all_local = 1, fail = 0;
    for (int n = 0; n < count; n++) {
        if (!w[n].started)
            continue;
        nslab_node_info_t info;
        nslab_node_info(n, &info); /* its local node: the nearest with memory */
        nslab_pool_stats_t st = { .size = sizeof st, .version = NSLAB_STATS_VERSION };
        nslab_pool_stats(nslab_poolset_pool(set, w[n].pool_node), &st);
        uint64_t ops = st.cache_hits + st.cache_misses;
        fprintf(d->out, "  node %-3d node %-3d %8.1f %10" PRIu64 " %7.2f%% %8" PRIu64
                        " %zu/%zu pages on node %d\n",
                n, w[n].pool_node, w[n].ns_per_op, st.gets,
                ops ? 100.0 * (double)st.cache_hits / (double)ops : 0.0, st.remote_puts,
                w[n].pages_local, w[n].pages, w[n].pool_node);
        all_local &= w[n].pool_node == info.local_node && w[n].pages &&
                     w[n].pages_local == w[n].pages;
        fail += w[n].failures != 0;
    }
    if (workers == 0) {
        fprintf(d->out, "  no worker could start\n");
        nslab_poolset_destroy(set);
        free(w);
        return -1;
    }
    demo_claim(d, all_local && !fail,
               "each of %d worker(s) was served by its local node's pool, its buffers' pages "
               "on that node",
               workers);

    /* Whole pools: placement of every buffer, hits, remote puts, audit. */
    int placed = 1, audited = 1, remote_ok = 1;
    uint64_t hits = 0, misses = 0, remote = 0, lent_total = 0;
    for (int m = nslab_nodeset_next(&mem, 0); m >= 0; m = nslab_nodeset_next(&mem, m + 1)) {
        nslab_pool_t *p = nslab_poolset_pool(set, m);
        nslab_pool_stats_t st = { .size = sizeof st, .version = NSLAB_STATS_VERSION };
        nslab_pool_cache_flush(p);
        nslab_pool_stats(p, &st);
        hits += st.cache_hits;
        misses += st.cache_misses;
        remote += st.remote_puts;
        lent_total += lent[m];
        size_t pages, on;
        int examined = pool_run_placement(p, m, BUF_SIZE, &pages, &on) == 0;
        int a = nslab_pool_audit(p, NULL);
        fprintf(d->out, "  pool node %d: %" PRIu64 " buffers, %zu/%zu pages on node %d, remote "
                        "puts %" PRIu64 ", audit %s\n",
                m, st.total, on, pages, m, st.remote_puts, a == 0 ? "ok" : "FAILED");
        placed &= examined && pages && on == pages;
        audited &= a == 0;
        remote_ok &= st.remote_puts >= lent[m];
    }
    demo_claim(d, placed, "every page of every buffer of each pool is on the pool's node");
    demo_claim(d, hits + misses && (double)hits / (double)(hits + misses) > 0.9,
               "%.2f%% of gets and puts were served by the per-thread cache (no lock, no atomic)",
               hits + misses ? 100.0 * (double)hits / (double)(hits + misses) : 0.0);
    if (lent_total)
        demo_claim(d, remote_ok, "%" PRIu64 " buffers returned from another node went home "
                                 "and were counted as remote puts (%" PRIu64 ")",
                   lent_total, remote);
    else
        fprintf(d->out, "  (one memory node: no remote puts to show)\n");
    demo_claim(d, audited, "the audit finds every buffer: none lost, none duplicated");

    /* Destroy refuses while a buffer is out. */
    nslab_pool_t *p0 = nslab_poolset_pool(set, nslab_nodeset_next(&mem, 0));
    void *held = nslab_pool_get(p0);
    int busy = nslab_poolset_destroy(set);
    demo_claim(d, busy == -EBUSY, "destroying the pools with a buffer out is refused (EBUSY)");
    if (busy == -EBUSY) {
        nslab_pool_put(NULL, held);
        int e = nslab_poolset_destroy(set);
        demo_claim(d, e == 0, "with every buffer back, the pools are destroyed");
    }
    free(w);
    return demo_taskpool(d);
}
