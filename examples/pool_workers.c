/*
 * examples/pool_workers.c - one worker per NUMA node, each taking buffers
 * from its own node's pool and giving them back, with a per-node report.
 *
 * The pattern of a packet or I/O server: fixed-size buffers on a hot path,
 * wanted on the worker's own node.  A pool set holds one pool per node with
 * memory; nslab_worker_start() starts a thread bound to a node's CPUs and
 * hands it that node's pool.  Each worker runs bursts of gets and puts
 * (most served by its per-thread cache: no lock, no atomic), checks with
 * move_pages(2) (nslab_placement) that the buffers it got lie on its node,
 * and returns a few buffers that belong to the next node's pool, which the
 * report shows as remote puts.
 *
 * Usage: pool_workers [bursts-per-worker]     (default 200000 bursts of 8)
 * Exit status 0 if every check passed, 1 otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <numaslab.h>

#define BUF_SIZE 2048
#define BURST 8
#define FOREIGN 16

struct worker {
    nslab_poolset_t *set;
    int node;                 /* the CPU node the worker runs on */
    int pool_node;            /* the node of the pool it was handed */
    long bursts;
    void *foreign[FOREIGN];   /* buffers of another node's pool to return */
    size_t pages, pages_local;/* placement of the buffers it checked */
    long failures;
    double ns_per_op;
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Where the pages of buffer b are: counts pages, and those on `node`. */
static void check_placement(struct worker *w, const void *b)
{
    nslab_placement_t *pl = malloc(sizeof *pl); /* large: NSLAB_MAX_NODES counters */
    if (pl && nslab_placement(b, BUF_SIZE, pl) == 0) {
        w->pages += pl->pages;
        w->pages_local += pl->on_node[w->pool_node];
    }
    free(pl);
}

static void *work(nslab_pool_t *pool, void *arg)
{
    struct worker *w = arg;
    void *b[BURST];
    w->pool_node = nslab_pool_node(pool);

    double t0 = now_ns();
    for (long i = 0; i < w->bursts; i++) {
        for (int k = 0; k < BURST; k++) {
            b[k] = nslab_poolset_get(w->set); /* this node's pool */
            if (!b[k]) {
                w->failures++;
                continue;
            }
            ((volatile char *)b[k])[0] = (char)i; /* use it */
        }
        for (int k = 0; k < BURST; k++)
            if (b[k])
                nslab_pool_put(NULL, b[k]); /* back to its own pool */
    }
    w->ns_per_op = (now_ns() - t0) / (double)(w->bursts * BURST * 2);

    /* Check where a sample of this worker's buffers lie. */
    for (int k = 0; k < BURST; k++) {
        b[k] = nslab_poolset_get(w->set);
        if (b[k])
            check_placement(w, b[k]);
    }
    for (int k = 0; k < BURST; k++)
        if (b[k])
            nslab_poolset_put(w->set, b[k]);

    /* Return buffers that belong to another node: remote puts there. */
    for (int k = 0; k < FOREIGN; k++)
        if (w->foreign[k] && nslab_pool_put(NULL, w->foreign[k]) != 0)
            w->failures++;
    return NULL;
}

int main(int argc, char **argv)
{
    long bursts = argc > 1 ? atol(argv[1]) : 200000;
    int ok = 1;
    if (bursts < 1) {
        fprintf(stderr, "usage: %s [bursts-per-worker]\n", argv[0]);
        return 2;
    }
    if (nslab_init() != 0) {
        fprintf(stderr, "pool_workers: nslab_init: %s\n", strerror(errno));
        return 2;
    }

    nslab_pool_opts_t opts = { .elt_size = BUF_SIZE, .count = 1024, .cache_size = 64 };
    nslab_poolset_t *set = nslab_poolset_create(&opts);
    if (!set) {
        fprintf(stderr, "pool_workers: nslab_poolset_create: %s\n", strerror(errno));
        return 2;
    }
    nslab_nodeset_t cpus, mem;
    nslab_nodes(NSLAB_NODES_CPU, &cpus);
    nslab_nodes(NSLAB_NODES_ALLOWED, &mem);
    int count = nslab_node_count();
    struct worker *w = calloc((size_t)count, sizeof *w);
    pthread_t *th = calloc((size_t)count, sizeof *th);
    char *started = calloc((size_t)count, 1);
    if (!w || !th || !started)
        return 2;

    /* One worker per node with CPUs. */
    for (int n = nslab_nodeset_next(&cpus, 0); n >= 0; n = nslab_nodeset_next(&cpus, n + 1)) {
        w[n] = (struct worker){ .set = set, .node = n, .bursts = bursts };
        /* Lend it some buffers of the next memory node's pool. */
        int next = nslab_nodeset_next(&mem, n + 1);
        if (next < 0)
            next = nslab_nodeset_next(&mem, 0);
        nslab_pool_t *np = nslab_poolset_pool(set, next);
        if (np && nslab_pool_get_bulk(np, w[n].foreign, FOREIGN) != FOREIGN)
            memset(w[n].foreign, 0, sizeof w[n].foreign);
        int e = nslab_worker_start(&th[n], n, set, work, &w[n]);
        if (e) {
            printf("node %d: no worker (%s)\n", n, strerror(-e));
            nslab_pool_put_bulk(NULL, w[n].foreign, w[n].foreign[0] ? FOREIGN : 0);
            continue;
        }
        started[n] = 1;
    }
    for (int n = 0; n < count; n++)
        if (started[n])
            pthread_join(th[n], NULL);

    printf("%d worker(s), %ld bursts of %d gets + %d puts each, %d-byte buffers\n\n",
           nslab_nodeset_count(&cpus), bursts, BURST, BURST, BUF_SIZE);
    printf("%-6s %-10s %9s %12s %12s %7s %8s %6s %9s %s\n", "worker", "pool", "ns/op",
           "gets", "cache hits", "hit %", "remote", "moved", "buffers", "placement");
    for (int n = 0; n < count; n++) {
        if (!started[n])
            continue;
        nslab_pool_t *p = nslab_poolset_pool(set, w[n].pool_node);
        nslab_pool_stats_t st = { .size = sizeof st, .version = NSLAB_STATS_VERSION };
        nslab_pool_stats(p, &st);
        uint64_t ops = st.cache_hits + st.cache_misses;
        int placed = w[n].pages && w[n].pages_local == w[n].pages;
        printf("node %-2d node %-5d %9.1f %12" PRIu64 " %12" PRIu64 " %6.2f%% %8" PRIu64
               " %6" PRIu64 " %9" PRIu64 " %zu/%zu pages on node %d %s\n",
               n, w[n].pool_node, w[n].ns_per_op, st.gets, st.cache_hits,
               ops ? 100.0 * (double)st.cache_hits / (double)ops : 0.0, st.remote_puts,
               st.migrations, st.total, w[n].pages_local, w[n].pages, w[n].pool_node,
               placed ? "ok" : "WRONG");
        ok &= placed && w[n].failures == 0;
    }

    /* Every pool: all of its buffers on its node, none lost. */
    printf("\n");
    for (int n = nslab_nodeset_next(&mem, 0); n >= 0; n = nslab_nodeset_next(&mem, n + 1)) {
        nslab_pool_t *p = nslab_poolset_pool(set, n);
        nslab_pool_stats_t st = { .size = sizeof st, .version = NSLAB_STATS_VERSION };
        nslab_pool_stats(p, &st);
        void **all = calloc(st.total, sizeof *all);
        size_t on = 0, pages = 0;
        nslab_pool_cache_flush(p);
        if (all && nslab_pool_get_bulk(p, all, (unsigned)st.total) == (int)st.total) {
            nslab_placement_t *pl = malloc(sizeof *pl);
            for (uint64_t i = 0; pl && i < st.total; i++) {
                if (nslab_placement(all[i], BUF_SIZE, pl) == 0) {
                    pages += pl->pages;
                    on += pl->on_node[n];
                }
            }
            free(pl);
            nslab_pool_put_bulk(p, all, (unsigned)st.total);
        }
        free(all);
        int audit = nslab_pool_audit(p, NULL);
        printf("pool node %d: %" PRIu64 " buffers, %zu/%zu pages on node %d, remote puts %"
               PRIu64 ", audit %s\n",
               n, st.total, on, pages, n, st.remote_puts, audit == 0 ? "ok" : "FAILED");
        ok &= pages && on == pages && audit == 0;
    }
    if (nslab_poolset_destroy(set) != 0) {
        printf("nslab_poolset_destroy: %s\n", strerror(errno));
        ok = 0;
    }
    printf("\n%s\n", ok ? "PASS" : "FAIL");
    free(w);
    free(th);
    free(started);
    return ok ? 0 : 1;
}
