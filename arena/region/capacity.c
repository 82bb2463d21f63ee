/*
 * arena/region/capacity.c - capacity known before it is spent (DESIGN promise 6).
 *
 * A node's room for new strict memory is
 *     free memory (sysfs, read now) - reserve - ledger[node]
 * where the reserve is kept back for the rest of the system (nslab_capacity_set_reserve,
 * NUMASLAB_RESERVE_MB, or a region's own opts.reserve) and the ledger holds
 * bytes promised but not yet committed: pools reserve their whole capacity
 * up front (capacity_reserve), and a strict region holds its size while it
 * maps and prefaults (capacity_hold_*), so two callers working at the same
 * time never both count the same free memory.
 *
 * Concurrency: ledger[node] is the only shared state besides `reserve_bytes`.
 * A reservation is a compare-and-swap loop on ledger[node]: it re-reads the
 * ledger after any concurrent change and re-checks the room, so concurrent
 * reservations on a node cannot over-commit what the free memory read
 * allowed.  Free memory itself is read outside any lock: it can only
 * overstate the room by what other processes (or this one, outside the
 * library) allocate meanwhile; that is why the reserve exists.
 * A region's hold is released once its pages are committed: from then on the
 * free memory reading itself accounts for them.  An arena chunk keeps its
 * hold for the pages it has not committed yet (chunk.c): it gives back a
 * page's share when it populates the page and takes it back without a check
 * (capacity_rehold) when it decommits it, so the node's room is the same
 * whether a chunk page is resident or not.
 */
#include "region-internal.h"
#include "debug.h"

#include <errno.h>
#include <stdlib.h>

static uint64_t ledger[NSLAB_MAX_NODES];  /* bytes reserved, not yet committed */
#define RESERVE_UNSET SIZE_MAX
static size_t reserve_bytes = RESERVE_UNSET; /* the reserve in force */

#define DEFAULT_RESERVE ((size_t)64 << 20)

/* NUMASLAB_RESERVE_MB, parsed without allocating; default 64 MiB. */
static size_t reserve_from_env(void)
{
    const char *s = getenv("NUMASLAB_RESERVE_MB");
    if (!s || !*s)
        return DEFAULT_RESERVE;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX >> 20) / 10)
            return DEFAULT_RESERVE;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (v > (SIZE_MAX >> 20))
        return DEFAULT_RESERVE;
    return (size_t)v << 20;
}

/* The reserve in force; read from the environment on first use.  Racy
 * first use is safe: racers compute the same value and only the first
 * compare-and-swap from "unset" stores it (a concurrent nslab_capacity_set_reserve
 * wins over the environment either way). */
size_t capacity_default_reserve(void)
{
    size_t v = __atomic_load_n(&reserve_bytes, __ATOMIC_RELAXED);
    if (v != RESERVE_UNSET)
        return v;
    size_t env = reserve_from_env();
    if (__atomic_compare_exchange_n(&reserve_bytes, &v, env, 0, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED))
        return env;
    return v; /* someone else set it */
}

NSLAB_API size_t nslab_capacity_set_reserve(size_t bytes)
{
    if (bytes == RESERVE_UNSET)
        bytes--; /* "everything" either way */
    size_t old = __atomic_exchange_n(&reserve_bytes, bytes, __ATOMIC_RELAXED);
    return old == RESERVE_UNSET ? reserve_from_env() : old;
}

/* Room on a node given the free memory read now. */
static uint64_t room(uint64_t free_b, size_t reserve, uint64_t held)
{
    uint64_t used = (uint64_t)reserve + held;
    return free_b > used ? free_b - used : 0;
}

/* Take `bytes` on `node` if they fit, given its free memory read by the
 * caller (one sysfs read, ~15 us, per node per call): 0 or ENOMEM. */
static int take_free(int node, size_t bytes, size_t reserve, uint64_t free_b)
{
    if (node < 0 || node >= NSLAB_MAX_NODES)
        return EINVAL;
    if (bytes == 0)
        return 0;
    if (ledger_lock()) {
        /* Machine-wide: what other processes hold counts too, and the
         * check and the take happen under the file lock. */
        uint64_t held = __atomic_load_n(&ledger[node], __ATOMIC_RELAXED) + ledger_others(node);
        int e = 0;
        if (room(free_b, reserve, held) < bytes)
            e = ENOMEM;
        else
            ledger_publish(node, __atomic_add_fetch(&ledger[node], bytes, __ATOMIC_ACQ_REL));
        ledger_unlock();
        return e;
    }
    uint64_t held = __atomic_load_n(&ledger[node], __ATOMIC_RELAXED);
    do {
        if (room(free_b, reserve, held) < bytes)
            return ENOMEM;
    } while (!__atomic_compare_exchange_n(&ledger[node], &held, held + bytes, 1,
                                          __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
    return 0;
}

static int take(int node, size_t bytes, size_t reserve)
{
    if (node < 0 || node >= NSLAB_MAX_NODES)
        return EINVAL;
    return bytes ? take_free(node, bytes, reserve, topology_node_free(node)) : 0;
}

static void give(int node, size_t bytes)
{
    if (node >= 0 && node < NSLAB_MAX_NODES && bytes) {
        uint64_t was = __atomic_fetch_sub(&ledger[node], bytes, __ATOMIC_ACQ_REL);
        /* a hold gives back only what it took: the ledger never underflows */
        NSLAB_ASSERT_INTERNAL(was >= bytes);
        (void)was;
        if (ledger_lock()) {
            ledger_publish(node, __atomic_load_n(&ledger[node], __ATOMIC_RELAXED));
            ledger_unlock();
        }
    }
}

void capacity_publish_all(void)
{
    if (!ledger_lock())
        return;
    for (int n = 0; n < NSLAB_MAX_NODES; n++) {
        uint64_t b = __atomic_load_n(&ledger[n], __ATOMIC_RELAXED);
        if (b)
            ledger_publish(n, b);
    }
    ledger_unlock();
}

/* What other processes hold on node (0 when the shared ledger is off). */
static uint64_t others(int node)
{
    uint64_t o = 0;
    if (ledger_lock()) {
        o = ledger_others(node);
        ledger_unlock();
    }
    return o;
}

int capacity_reserve(int node, size_t bytes)
{
    const struct topology *t = topology_get();
    if (node < 0 || node >= t->nr_nodes)
        return EINVAL;
    return take(node, bytes, capacity_default_reserve());
}

void capacity_release(int node, size_t bytes)
{
    give(node, bytes);
}

void capacity_rehold(int node, size_t bytes)
{
    if (node >= 0 && node < NSLAB_MAX_NODES && bytes)
        __atomic_fetch_add(&ledger[node], bytes, __ATOMIC_ACQ_REL);
}

size_t capacity_held(int node)
{
    if (node < 0 || node >= NSLAB_MAX_NODES)
        return 0;
    return (size_t)__atomic_load_n(&ledger[node], __ATOMIC_RELAXED);
}

int capacity_check(const nslab_nodeset_t *nodes, size_t bytes, size_t reserve)
{
    const struct topology *t = topology_get();
    uint64_t total = 0;
    if (!nodes)
        return EINVAL;
    for (int n = nslab_nodeset_next(nodes, 0); n >= 0 && n < t->nr_nodes;
         n = nslab_nodeset_next(nodes, n + 1)) {
        total += room(topology_node_free(n), reserve,
                      __atomic_load_n(&ledger[n], __ATOMIC_RELAXED) + others(n));
        if (total >= bytes)
            return 0;
    }
    return total >= bytes ? 0 : ENOMEM;
}

void capacity_unhold(struct capacity_hold *h)
{
    for (int i = 0; i < h->n; i++)
        give(h->node[i], h->bytes[i]);
    h->n = 0;
}

/* Record a taken amount; past CAPACITY_HOLD_MAX entries it is given back at
 * once (the check was made; only the hold against racers is lost). */
static void hold_add(struct capacity_hold *h, int node, size_t bytes)
{
    if (h->n < CAPACITY_HOLD_MAX) {
        h->node[h->n] = node;
        h->bytes[h->n] = bytes;
        h->n++;
    } else {
        give(node, bytes);
    }
}

int capacity_hold_nodes(const int *node, const size_t *need, int n, size_t reserve,
                        struct capacity_hold *h)
{
    h->n = 0;
    for (int i = 0; i < n; i++) {
        int e = take(node[i], need[i], reserve);
        if (e) {
            capacity_unhold(h);
            return e;
        }
        hold_add(h, node[i], need[i]);
    }
    return 0;
}

int capacity_hold_set(const nslab_nodeset_t *nodes, size_t bytes, size_t reserve,
                      struct capacity_hold *h)
{
    const struct topology *t = topology_get();
    size_t left = bytes;
    h->n = 0;
    for (int n = nslab_nodeset_next(nodes, 0); n >= 0 && n < t->nr_nodes && left;
         n = nslab_nodeset_next(nodes, n + 1)) {
        /* Take what this node has room for, up to what is left; retry
         * smaller if a racer took some between the read and the take. */
        uint64_t free_b = topology_node_free(n);
        for (int tries = 0; tries < 4; tries++) {
            uint64_t r = room(free_b, reserve,
                              __atomic_load_n(&ledger[n], __ATOMIC_RELAXED) + others(n));
            size_t want = r < left ? (size_t)r : left;
            if (want == 0)
                break;
            if (take_free(n, want, reserve, free_b) == 0) {
                hold_add(h, n, want);
                left -= want;
                break;
            }
        }
    }
    if (left) {
        capacity_unhold(h);
        return ENOMEM;
    }
    return 0;
}

/* ---- claims: capacity reserved by a caller, drawn on by creation -------- */

#define CLAIM_MAGIC 0x6e73636cu /* "nscl" */

/* A claim is a hold the caller owns: its bytes stay in the ledger until
 * drawn (they then belong to what drew them) or released.  bytes[i] is
 * changed by atomic compare-and-swap only, so creators on several
 * threads may draw on one claim at once. */
struct nslab_claim {
    uint32_t magic;
    struct capacity_hold hold;
};

NSLAB_API nslab_claim_t *nslab_claim_create(const nslab_nodeset_t *nodes, size_t bytes,
                                            size_t reserve)
{
    const struct topology *t = topology_get();
    int e;
    if (!nodes || bytes == 0) {
        errno = EINVAL;
        return NULL;
    }
    if ((e = topology_check_nodes(t, nodes)) != 0) {
        errno = e;
        return NULL;
    }
    void *m;
    if (os_map(t->page_size, t->page_size, 0, -1, &m) != 0) {
        errno = ENOMEM;
        return NULL;
    }
    struct nslab_claim *c = m;
    if ((e = capacity_hold_set(nodes, bytes, reserve ? reserve : capacity_default_reserve(),
                               &c->hold)) != 0) {
        os_unmap(m, t->page_size);
        errno = e;
        return NULL;
    }
    c->magic = CLAIM_MAGIC;
    return c;
}

static int claim_valid(const struct nslab_claim *c)
{
    return c && ((uintptr_t)c & (topology_get()->page_size - 1)) == 0 &&
           c->magic == CLAIM_MAGIC;
}

NSLAB_API int nslab_claim_release(nslab_claim_t *c)
{
    if (!claim_valid(c)) {
        errno = EINVAL;
        return -EINVAL;
    }
    for (int i = 0; i < c->hold.n; i++) {
        size_t b = __atomic_exchange_n(&c->hold.bytes[i], 0, __ATOMIC_ACQ_REL);
        give(c->hold.node[i], b);
    }
    c->magic = 0;
    os_unmap(c, topology_get()->page_size);
    return 0;
}

NSLAB_API size_t nslab_claim_left(const nslab_claim_t *c, int node)
{
    if (!claim_valid(c)) {
        errno = EINVAL;
        return 0;
    }
    size_t sum = 0;
    for (int i = 0; i < c->hold.n; i++)
        if (node < 0 || c->hold.node[i] == node)
            sum += __atomic_load_n(&c->hold.bytes[i], __ATOMIC_RELAXED);
    return sum;
}

int capacity_claim_check(const nslab_claim_t *c)
{
    return !c || claim_valid(c) ? 0 : EINVAL;
}

/* Take up to `bytes` of node's share of the claim: what was taken. */
static size_t claim_draw(struct nslab_claim *c, int node, size_t bytes)
{
    for (int i = 0; i < c->hold.n; i++) {
        if (c->hold.node[i] != node)
            continue;
        size_t have = __atomic_load_n(&c->hold.bytes[i], __ATOMIC_RELAXED), d;
        do {
            d = have < bytes ? have : bytes;
        } while (d && !__atomic_compare_exchange_n(&c->hold.bytes[i], &have, have - d, 1,
                                                   __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
        return d;
    }
    return 0;
}

static void claim_return(struct nslab_claim *c, int node, size_t bytes)
{
    for (int i = 0; i < c->hold.n && bytes; i++)
        if (c->hold.node[i] == node) {
            __atomic_fetch_add(&c->hold.bytes[i], bytes, __ATOMIC_ACQ_REL);
            return;
        }
    give(node, bytes); /* not the claim's node: cannot happen */
}

/* Undo a hold made with a claim: what came from it goes back to it. */
static void unhold_claim(struct capacity_hold *h, struct capacity_hold *drawn,
                         struct nslab_claim *c)
{
    for (int i = 0; i < drawn->n; i++)
        claim_return(c, drawn->node[i], drawn->bytes[i]);
    drawn->n = 0;
    capacity_unhold(h);
}

/* Merge `drawn` into `h` (both valid holds). */
static void hold_merge(struct capacity_hold *h, const struct capacity_hold *drawn)
{
    for (int i = 0; i < drawn->n; i++)
        hold_add(h, drawn->node[i], drawn->bytes[i]);
}

int capacity_hold_nodes_claim(const int *node, const size_t *need, int n, size_t reserve,
                              nslab_claim_t *c, struct capacity_hold *h)
{
    if (!c)
        return capacity_hold_nodes(node, need, n, reserve, h);
    struct capacity_hold drawn = {0};
    size_t rest[REGION_MAX_SUBRANGES] = {0};
    if (n < 0 || n > REGION_MAX_SUBRANGES)
        return EINVAL;
    int m = n;
    for (int i = 0; i < m; i++) {
        size_t d = claim_draw(c, node[i], need[i]);
        if (d)
            hold_add(&drawn, node[i], d);
        rest[i] = need[i] - d;
    }
    int e = capacity_hold_nodes(node, rest, m, reserve, h);
    if (e) {
        unhold_claim(h, &drawn, c);
        return e;
    }
    hold_merge(h, &drawn);
    return 0;
}

int capacity_hold_set_claim(const nslab_nodeset_t *nodes, size_t bytes, size_t reserve,
                            nslab_claim_t *c, struct capacity_hold *h)
{
    if (!c)
        return capacity_hold_set(nodes, bytes, reserve, h);
    struct capacity_hold drawn = {0};
    size_t left = bytes;
    for (int n = nslab_nodeset_next(nodes, 0); n >= 0 && left; n = nslab_nodeset_next(nodes, n + 1)) {
        size_t d = claim_draw(c, n, left);
        if (d) {
            hold_add(&drawn, n, d);
            left -= d;
        }
    }
    int e = left ? capacity_hold_set(nodes, left, reserve, h) : (h->n = 0, 0);
    if (e) {
        unhold_claim(h, &drawn, c);
        return e;
    }
    hold_merge(h, &drawn);
    return 0;
}

int capacity_reserve_claim(int node, size_t bytes, nslab_claim_t *c, size_t *drawn)
{
    *drawn = 0;
    if (c) {
        *drawn = claim_draw(c, node, bytes);
    }
    int e = capacity_reserve(node, bytes - *drawn);
    if (e && *drawn) {
        claim_return(c, node, *drawn);
        *drawn = 0;
    }
    return e;
}

void capacity_release_claim(int node, size_t bytes, nslab_claim_t *c, size_t drawn)
{
    if (c && drawn) {
        claim_return(c, node, drawn);
        bytes -= drawn;
    }
    give(node, bytes);
}
