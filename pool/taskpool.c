/*
 * pool/taskpool.c - a worker pool on nodes (numaperf's shape): N workers
 * per node pinned to that node's CPUs, one task queue per node,
 * submit(node, fn, arg) or to any node, each worker handing its tasks the
 * buffer pool of its node (a pool set), optional stealing from the nearest
 * nodes' queues by distance when its own queue is empty, a shutdown that
 * runs every queued task first, and per-node statistics.
 *
 * Memory: the pool's header, queues and worker records are one region
 * (DEFAULT policy); each node's ring of queue_capacity tasks is a region
 * local to that node's CPUs.  Nothing here calls an allocator.
 *
 * Threads and locks: each queue has its own mutex and condition variable;
 * a thread holds at most one queue lock at a time (a stealer drops its own
 * before it takes a victim's), so there is no lock order.  A queue's
 * counters and ring are written under its lock; nslab_taskpool_stats reads
 * them under it.  Stopping: `stopping` is set under every queue's lock and
 * all are woken; a worker leaves once stopping is set and no queue it may
 * take from (its own; with stealing every one) holds a task, so every task
 * submitted before destroy runs.  An idle stealer re-scans its victims
 * every TP_STEAL_POLL_MS (submits wake only the target node's workers).
 */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <time.h>

#include "topology.h"

#define TP_MAGIC 0x6e737470u /* "nstp" */
#define TP_MAX_WORKERS 1024
#define TP_DEFAULT_CAPACITY 1024
#define TP_MAX_CAPACITY (1u << 24)
#define TP_STEAL_POLL_MS 2

struct task {
    void (*fn)(nslab_pool_t *pool, int node, void *arg);
    void *arg;
};

struct tq { /* one node's queue */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    nslab_region_t *mem; /* the ring's region */
    struct task *ring;
    uint32_t head, count; /* under lock */
    int node;
    int nworkers;
    uint64_t submitted, run, stolen, max_depth; /* under lock */
    int norder;
    int order[NSLAB_MAX_NODES]; /* the other queues, nearest first */
};

struct worker {
    pthread_t th;
    struct nslab_taskpool *tp;
    int q;
    int err;
    sem_t ready;
};

struct nslab_taskpool {
    uint32_t magic;
    unsigned flags;
    uint32_t capacity;
    int nq, nworkers, started;
    int stopping; /* under every queue's lock */
    int stopped;  /* workers joined (a destroy that met -EBUSY) */
    nslab_region_t *self;
    nslab_poolset_t *buffers;
    struct tq *q;
    struct worker *w;
    int16_t qof[NSLAB_MAX_NODES]; /* node -> queue index, or -1 */
};

static int fail(int e)
{
    errno = e;
    return -e;
}

static int valid(const struct nslab_taskpool *tp)
{
    return tp && tp->magic == TP_MAGIC;
}

/* Pop a task of q (lock held): 1 if one was there. */
static int pop(struct nslab_taskpool *tp, struct tq *q, struct task *out)
{
    if (!q->count)
        return 0;
    *out = q->ring[q->head];
    q->head = (q->head + 1) % tp->capacity;
    q->count--;
    return 1;
}

/* Steal one task from the nearest non-empty other queue. */
static int steal(struct nslab_taskpool *tp, struct tq *mine, struct task *out)
{
    for (int k = 0; k < mine->norder; k++) {
        struct tq *v = &tp->q[mine->order[k]];
        pthread_mutex_lock(&v->lock);
        int got = pop(tp, v, out);
        pthread_mutex_unlock(&v->lock);
        if (got)
            return 1;
    }
    return 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct nslab_taskpool *tp = w->tp;
    struct tq *q = &tp->q[w->q];
    nslab_pool_t *pool = NULL;
    int e = 0;
    if (tp->buffers) {
        pool = nslab_worker_bind(q->node, tp->buffers);
        if (!pool)
            e = errno;
    } else {
        e = -nslab_thread_bind(q->node);
    }
    w->err = e;
    sem_post(&w->ready);
    if (e)
        return NULL;
    int stealer = (tp->flags & NSLAB_TASKPOOL_STEAL) && q->norder > 0;

    for (;;) {
        struct task t;
        int stolen = 0;
        pthread_mutex_lock(&q->lock);
        while (!pop(tp, q, &t)) {
            int stopping = tp->stopping;
            if (stealer) {
                pthread_mutex_unlock(&q->lock);
                if (steal(tp, q, &t)) {
                    stolen = 1;
                    pthread_mutex_lock(&q->lock);
                    goto run;
                }
                pthread_mutex_lock(&q->lock);
                if (q->count)
                    continue;
                if (stopping)
                    goto leave;
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += TP_STEAL_POLL_MS * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&q->cond, &q->lock, &ts);
            } else {
                if (stopping)
                    goto leave;
                pthread_cond_wait(&q->cond, &q->lock);
            }
        }
    run:
        q->run++;
        q->stolen += (uint64_t)stolen;
        pthread_mutex_unlock(&q->lock);
        t.fn(pool, q->node, t.arg);
        continue;
    leave:
        pthread_mutex_unlock(&q->lock);
        return NULL;
    }
}

/* Stop and join the first n workers started. */
static void stop_workers(struct nslab_taskpool *tp)
{
    for (int i = 0; i < tp->nq; i++) {
        pthread_mutex_lock(&tp->q[i].lock);
        tp->stopping = 1;
        pthread_cond_broadcast(&tp->q[i].cond);
        pthread_mutex_unlock(&tp->q[i].lock);
    }
    for (int i = 0; i < tp->started; i++)
        pthread_join(tp->w[i].th, NULL);
    tp->started = 0;
    tp->stopped = 1;
}

static void release(struct nslab_taskpool *tp)
{
    for (int i = 0; i < tp->nq; i++) {
        if (tp->q[i].mem)
            nslab_region_destroy(tp->q[i].mem);
        pthread_mutex_destroy(&tp->q[i].lock);
        pthread_cond_destroy(&tp->q[i].cond);
    }
    tp->magic = 0;
    nslab_region_destroy(tp->self);
}

NSLAB_API nslab_taskpool_t *nslab_taskpool_create(const nslab_taskpool_opts_t *o)
{
    const struct topology *t = topology_get();
    nslab_nodeset_t nodes;
    nslab_taskpool_opts_t copy;
    int e;

    if (!o || topology_opts_import(&copy, sizeof copy, o) != 0) {
        errno = EINVAL;
        return NULL;
    }
    o = &copy;
    if ((o->flags & ~NSLAB_TASKPOOL_STEAL) || o->queue_capacity > TP_MAX_CAPACITY) {
        errno = EINVAL;
        return NULL;
    }
    unsigned wpn = o->workers_per_node ? o->workers_per_node : 1;
    uint32_t cap = o->queue_capacity ? o->queue_capacity : TP_DEFAULT_CAPACITY;
    nodes = o->nodes;
    if (nslab_nodeset_count(&nodes) == 0) {
        for (int n = 0; n < t->nr_nodes; n++)
            if (t->node[n].online && t->node[n].has_cpus && nslab_node_cpus(n, NULL, 0) > 0)
                nslab_nodeset_add(&nodes, n);
    }
    int nq = 0;
    for (int n = nslab_nodeset_next(&nodes, 0); n >= 0; n = nslab_nodeset_next(&nodes, n + 1)) {
        if (n >= t->nr_nodes) {
            errno = EINVAL;
            return NULL;
        }
        if (!t->node[n].online || !t->node[n].has_cpus) {
            errno = ENODEV; /* offline, or memory-only: no CPU to run on */
            return NULL;
        }
        nq++;
    }
    if (nq == 0) {
        errno = ENODEV;
        return NULL;
    }
    if ((uint64_t)nq * wpn > TP_MAX_WORKERS) {
        errno = EINVAL;
        return NULL;
    }
    int nw = nq * (int)wpn;

    size_t hdr = (sizeof(struct nslab_taskpool) + 63) & ~(size_t)63;
    size_t qs = (sizeof(struct tq) * (size_t)nq + 63) & ~(size_t)63;
    size_t bytes = hdr + qs + sizeof(struct worker) * (size_t)nw;
    nslab_region_t *self = nslab_region_create(bytes, NULL, NULL);
    if (!self)
        return NULL;
    struct nslab_taskpool *tp = nslab_region_addr(self);
    memset(tp, 0, bytes);
    tp->self = self;
    tp->flags = o->flags;
    tp->capacity = cap;
    tp->nq = nq;
    tp->nworkers = nw;
    tp->q = (struct tq *)((char *)tp + hdr);
    tp->w = (struct worker *)((char *)tp + hdr + qs);
    for (int n = 0; n < NSLAB_MAX_NODES; n++)
        tp->qof[n] = -1;
    int i = 0;
    for (int n = nslab_nodeset_next(&nodes, 0); n >= 0; n = nslab_nodeset_next(&nodes, n + 1), i++) {
        struct tq *q = &tp->q[i];
        pthread_mutex_init(&q->lock, NULL);
        pthread_cond_init(&q->cond, NULL);
        q->node = n;
        q->nworkers = (int)wpn;
        tp->qof[n] = (int16_t)i;
    }
    tp->magic = TP_MAGIC;
    /* Each queue's ring local to its node's CPUs; steal order by distance
     * (ties: lower node). */
    for (i = 0; i < nq; i++) {
        struct tq *q = &tp->q[i];
        nslab_policy_t lp = nslab_policy_local();
        lp.node = q->node;
        q->mem = nslab_region_create((size_t)cap * sizeof(struct task), &lp, NULL);
        if (!q->mem) {
            e = errno;
            goto undo;
        }
        q->ring = nslab_region_addr(q->mem);
        for (int j = 0; j < nq; j++) {
            if (j == i)
                continue;
            int k = q->norder++;
            q->order[k] = j;
            while (k > 0) { /* insertion by distance from q->node */
                int a = tp->q[q->order[k - 1]].node, b = tp->q[q->order[k]].node;
                int da = nslab_node_distance(q->node, a), db = nslab_node_distance(q->node, b);
                if (da < db || (da == db && a < b))
                    break;
                int x = q->order[k - 1];
                q->order[k - 1] = q->order[k];
                q->order[k] = x;
                k--;
            }
        }
    }
    if (o->buffers && !(tp->buffers = nslab_poolset_create(o->buffers))) {
        e = errno;
        goto undo;
    }
    for (int k = 0; k < nw; k++) {
        struct worker *w = &tp->w[k];
        w->tp = tp;
        w->q = k / (int)wpn;
        if (sem_init(&w->ready, 0, 0) != 0) {
            e = EAGAIN;
            goto undo;
        }
        if ((e = pthread_create(&w->th, NULL, worker_main, w)) != 0) {
            sem_destroy(&w->ready);
            goto undo;
        }
        while (sem_wait(&w->ready) != 0 && errno == EINTR)
            ;
        sem_destroy(&w->ready);
        tp->started++;
        if ((e = w->err) != 0)
            goto undo;
    }
    return tp;
undo:
    stop_workers(tp);
    if (tp->buffers)
        nslab_poolset_destroy(tp->buffers);
    release(tp);
    errno = e;
    return NULL;
}

/* The queue for a submit to `node`. */
static struct tq *route(struct nslab_taskpool *tp, int node, int *err)
{
    const struct topology *t = topology_get();
    *err = 0;
    if (node >= 0) {
        if (node >= t->nr_nodes) {
            *err = EINVAL;
            return NULL;
        }
        if (tp->qof[node] < 0) {
            *err = ENODEV;
            return NULL;
        }
        return &tp->q[tp->qof[node]];
    }
    if (node != NSLAB_NODE_LOCAL && node != NSLAB_NODE_ANY) {
        *err = EINVAL;
        return NULL;
    }
    int here = nslab_current_node();
    if (node == NSLAB_NODE_LOCAL && here >= 0 && here < NSLAB_MAX_NODES && tp->qof[here] >= 0)
        return &tp->q[tp->qof[here]];
    /* ANY (or a LOCAL without a queue here): the shortest queue; ties go
     * to the node nearest to the caller.  Racy read of the counts: a hint. */
    struct tq *best = NULL;
    uint32_t best_c = 0;
    int best_d = 0;
    for (int i = 0; i < tp->nq; i++) {
        struct tq *q = &tp->q[i];
        uint32_t c = __atomic_load_n(&q->count, __ATOMIC_RELAXED);
        int d = here >= 0 ? nslab_node_distance(here, q->node) : 0;
        if (d < 0)
            d = 255;
        if (node == NSLAB_NODE_LOCAL)
            c = 0; /* nearest only */
        if (!best || c < best_c || (c == best_c && d < best_d)) {
            best = q;
            best_c = c;
            best_d = d;
        }
    }
    return best;
}

NSLAB_API int nslab_taskpool_submit(nslab_taskpool_t *tp, int node,
                                    void (*fn)(nslab_pool_t *pool, int node, void *arg),
                                    void *arg)
{
    int e;
    if (!valid(tp) || !fn)
        return fail(EINVAL);
    struct tq *q = route(tp, node, &e);
    if (!q)
        return fail(e);
    pthread_mutex_lock(&q->lock);
    if (tp->stopping) {
        pthread_mutex_unlock(&q->lock);
        return fail(ESHUTDOWN);
    }
    if (q->count == tp->capacity) {
        pthread_mutex_unlock(&q->lock);
        return fail(EAGAIN);
    }
    q->ring[(q->head + q->count) % tp->capacity] = (struct task){fn, arg};
    q->count++;
    q->submitted++;
    if (q->count > q->max_depth)
        q->max_depth = q->count;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
    return q->node;
}

NSLAB_API int nslab_taskpool_destroy(nslab_taskpool_t *tp)
{
    if (!valid(tp))
        return fail(EINVAL);
    if (!tp->stopped)
        stop_workers(tp); /* every queued task runs first */
    if (tp->buffers) {
        if (nslab_poolset_destroy(tp->buffers) != 0)
            return fail(EBUSY); /* a task kept buffers: put them, call again */
        tp->buffers = NULL;
    }
    release(tp);
    return 0;
}

NSLAB_API nslab_poolset_t *nslab_taskpool_buffers(const nslab_taskpool_t *tp)
{
    if (!valid(tp)) {
        errno = EINVAL;
        return NULL;
    }
    if (!tp->buffers)
        errno = ENOENT;
    return tp->buffers;
}

NSLAB_API int nslab_taskpool_stats(nslab_taskpool_t *tp, int node, nslab_taskpool_stats_t *out)
{
    if (!valid(tp) || !out || out->size < 2 * sizeof(uint32_t) ||
        out->version != NSLAB_STATS_VERSION || node < 0 || node >= NSLAB_MAX_NODES)
        return fail(EINVAL);
    if (tp->qof[node] < 0)
        return fail(ENODEV);
    struct tq *q = &tp->q[tp->qof[node]];
    nslab_taskpool_stats_t s = {.size = out->size, .version = out->version, .node = node};
    pthread_mutex_lock(&q->lock);
    s.workers = (uint32_t)q->nworkers;
    s.submitted = q->submitted;
    s.run = q->run;
    s.stolen = q->stolen;
    s.queued = q->count;
    s.max_queued = q->max_depth;
    pthread_mutex_unlock(&q->lock);
    size_t n = out->size < sizeof s ? out->size : sizeof s;
    memcpy(out, &s, n);
    return 0;
}
