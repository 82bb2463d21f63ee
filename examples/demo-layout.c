/*
 * examples/demo-layout.c - section "layout": the memory layout changes
 * under a running process and numaslab stays truthful (issue 13).
 *
 * A child process runs in a new cgroup v2 cpuset with mems {A}; it takes
 * 2000 blocks from numa_malloc_on(A), a BIND(A) region and a pool on A and
 * prints where their pages are; then it rewrites its own cpuset.mems to
 * {B}.  The kernel migrates every page of the process to B.  The child
 * keeps allocating for A until the library notices by itself (its
 * slow-path check: the first EXDEV), calls nslab_topology_refresh(), and
 * checks every answer against move_pages(2): where the pages are now, what
 * nslab_node_of says for the same blocks, EXDEV for A, B working, the
 * arena's drift counters, the audits.  A = 1 and B = 2 where both have
 * memory (the next node with memory otherwise: 1 -> 3 on `mixed`).
 *
 * Why a child, and one that executes the demo again: the rest of the demo
 * must keep its memory where it is, and a cgroup move migrates the moved
 * process's pages with MPOL_MF_MOVE_ALL - after a plain fork those include
 * the pages it still shares with its parent.  After an exec it shares none.
 * The child reports its claim counts to the parent through a pipe.
 *
 * Where it cannot run (fewer than two nodes with memory, no cgroup v2
 * hierarchy, no cpuset controller, no write access) it prints one SKIP
 * line saying why.  examples/run-demo --vm runs the demo in a 4-node guest
 * where it can.
 */
#include "demo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)
#define CHILD_ARG "--layout-child" /* argv[1] of the child; demo.c dispatches */

/* ---- small file helpers ------------------------------------------------ */

/* Write s to path (one write).  0, or -errno. */
static int write_file(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = strlen(s);
    ssize_t w = write(fd, s, len);
    int e = w < 0 ? -errno : (size_t)w != len ? -EIO : 0;
    if (close(fd) != 0 && e == 0)
        e = -errno;
    return e;
}

/* The first line of path, without its newline.  0, or -errno. */
static int read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    int e = fgets(buf, (int)len, f) ? 0 : -EIO;
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
    return e;
}

/* 1 if the space-separated list in path has word. */
static int file_has_word(const char *path, const char *word)
{
    char line[512];
    if (read_line(path, line, sizeof line) != 0)
        return 0;
    for (char *t = strtok(line, " "); t; t = strtok(NULL, " "))
        if (strcmp(t, word) == 0)
            return 1;
    return 0;
}

/* The cgroup v2 mount point (from /proc/self/mounts) into root, and this
 * process's cgroup (from /proc/self/cgroup, "/" for the root) into self.
 * 0, or a reason it cannot be used. */
static const char *find_cgroup(char *root, size_t rlen, char *self, size_t slen)
{
    FILE *f = fopen("/proc/self/mounts", "re");
    char line[1024], dev[256], dir[PATH_MAX], type[64];
    root[0] = self[0] = 0;
    if (!f)
        return "/proc/self/mounts cannot be read";
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%255s %4095s %63s", dev, dir, type) == 3 && strcmp(type, "cgroup2") == 0) {
            snprintf(root, rlen, "%s", dir);
            break;
        }
    fclose(f);
    if (!root[0])
        return "no cgroup v2 hierarchy is mounted";
    f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return "/proc/self/cgroup cannot be read";
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = 0;
            snprintf(self, slen, "%s", line + 3);
            break;
        }
    fclose(f);
    if (!self[0])
        return "this process is in no cgroup v2 group (cgroup v1 only?)";
    return NULL;
}

/* ---- placement, asked of the kernel ------------------------------------ */

static nslab_placement_t one; /* 8 KiB: not on the stack */

/* The node of the page holding p (move_pages through nslab_range_placement), or
 * -1 if the page is not present or the call failed. */
static int page_node(const void *p)
{
    if (nslab_range_placement(p, 1, &one) != 0)
        return -1;
    int nn = nslab_node_count();
    for (int n = 0; n < nn; n++)
        if (one.on_node[n])
            return n;
    return -1;
}

/* Blocks counted by the node their (first) page is on and by the node
 * nslab_node_of names; `wrong`: the two differ. */
struct tally {
    size_t n, wrong, nowhere;
    size_t on[NSLAB_MAX_NODES], named[NSLAB_MAX_NODES];
};

static void tally(struct tally *t, void *const *p, size_t n)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        if (!p[i])
            continue;
        int a = page_node(p[i]), o = nslab_node_of(p[i]);
        t->n++;
        if (a >= 0)
            t->on[a]++;
        else
            t->nowhere++;
        if (o >= 0 && o < NSLAB_MAX_NODES)
            t->named[o]++;
        t->wrong += a != o;
    }
}

static void tally_print(struct demo *d, const char *what, const struct tally *t)
{
    char prefix[96];
    snprintf(prefix, sizeof prefix, "    %-14s pages on:", what);
    demo_counts(d, prefix, t->on, t->n, "blocks");
    snprintf(prefix, sizeof prefix, "    %-14s nslab_node_of:", "");
    demo_counts(d, prefix, t->named, t->n, "blocks");
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the child: everything happens here -------------------------------- */

#define NBLOCKS 2000
#define NBUF 512
#define NTWO 1000
#define BATCH 600
#define NOTICE_S 20.0

static void *blk[NBLOCKS], *buf[NBUF], *two[NTWO], *batch[BATCH];
static struct tally tl;
static nslab_placement_t pl;

static size_t blk_size(int i)
{
    return i % 3 == 0 ? 64 : i % 3 == 1 ? 512 : 4096;
}

static void print_drift(struct demo *d, int node, nslab_arena_stats_t *st)
{
    st->size = sizeof *st;
    st->version = NSLAB_STATS_VERSION;
    if (nslab_arena_stats(node, st) != 0) {
        demo_claim(d, 0, "nslab_arena_stats(%d): %s", node, strerror(errno));
        return;
    }
    fprintf(d->out, "    node %d's arena (nslab_arena_stats): chunks %llu, drift_pages %llu, "
                    "drift_repaired %llu, chunks_retired %llu\n",
            node, (unsigned long long)st->chunks, (unsigned long long)st->drift_pages,
            (unsigned long long)st->drift_repaired, (unsigned long long)st->chunks_retired);
}

static void child_run(struct demo *d, const char *cg, int from, int to)
{
    char path[PATH_MAX + 32], set[256];
    nslab_nodeset_t allowed;
    int na = nslab_nodes(NSLAB_NODES_ALLOWED, &allowed);
    nslab_nodeset_format(&allowed, set, sizeof set);
    if (!demo_claim(d, na == 1 && nslab_nodeset_has(&allowed, from),
                    "in cgroup %s with cpuset.mems {%d}: the library's allowed nodes are {%s}", cg,
                    from, set))
        return;

    /* ---- node `from`: blocks, a region, a pool ---- */
    size_t failed = 0;
    for (int i = 0; i < NBLOCKS; i++) {
        blk[i] = numa_malloc_on(from, blk_size(i));
        if (blk[i])
            memset(blk[i], i & 0xff, blk_size(i));
        else
            failed++;
    }
    nslab_policy_t bind_from = nslab_policy_bind(from);
    nslab_region_t *r = nslab_region_create(8 * MiB, &bind_from, NULL);
    nslab_pool_opts_t po = NSLAB_POOL_OPTS_INIT(.elt_size = 2048, .count = 1024);
    nslab_pool_t *pool = nslab_pool_create(from, &po);
    int nbuf = pool ? nslab_pool_get_bulk(pool, buf, NBUF) : -1;
    if (!demo_claim(d, failed == 0 && r && pool && nbuf == NBUF,
                    "node %d: %d blocks of 64 B-4 KiB (%zu failed), an 8 MiB BIND(%d) region, "
                    "a pool with %d buffers out", from, NBLOCKS, failed, from, nbuf))
        return;
    memset(nslab_region_addr(r), 0x5a, nslab_region_size(r));
    for (int i = 0; i < NBUF; i++)
        memset(buf[i], 0x33, 2048);

    fprintf(d->out, "  before (cpuset.mems {%d}):\n", from);
    tally(&tl, blk, NBLOCKS);
    tally_print(d, "blocks", &tl);
    demo_claim(d, tl.on[from] == NBLOCKS && tl.wrong == 0,
               "every block's page is on node %d and nslab_node_of says %d", from, from);
    int off = nslab_arena_verify(from, 0, &pl);
    if (off >= 0) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "    node %d chunks  pages:", from);
        demo_histogram(d, prefix, &pl);
    }
    demo_claim(d, off == 0, "nslab_arena_verify(%d): %d chunk pages off the node", from, off);
    int e = nslab_region_verify(r, &pl);
    if (e == 0)
        demo_histogram(d, "    region         pages:", &pl);
    demo_claim(d, e == 0 && pl.on_node[from] == pl.pages, "every page of the region on node %d",
               from);
    tally(&tl, buf, NBUF);
    tally_print(d, "pool buffers", &tl);
    demo_claim(d, tl.on[from] == NBUF && tl.wrong == 0 && nslab_pool_node(pool) == from,
               "every buffer's page on node %d; nslab_pool_node says %d", from,
               nslab_pool_node(pool));
    nslab_arena_stats_t st;
    print_drift(d, from, &st);

    /* ---- the change ---- */
    char mems[16];
    snprintf(path, sizeof path, "%s/cpuset.mems", cg);
    snprintf(mems, sizeof mems, "%d\n", to);
    double t0 = seconds();
    e = write_file(path, mems);
    double t_write = seconds() - t0;
    if (!demo_claim(d, e == 0, "cpuset.mems rewritten to {%d} (%s: %s; the write took %.0f ms, "
                               "the kernel migrates the process's pages during it)",
                    to, path, e ? strerror(-e) : "ok", t_write * 1e3))
        return;

    /* the library notices by itself: allocations for `from` go on (batches
     * taken and freed, so the thread cache refills: the slow path where the
     * library checks the allowed nodes) until the first EXDEV */
    size_t window = 0, other = 0;
    int other_errno = 0, noticed = 0;
    unsigned nb = 0;
    t0 = seconds();
    for (unsigned round = 0; !noticed && !other && seconds() - t0 < NOTICE_S; round++) {
        for (unsigned i = 0; i < nb; i++)
            nslab_free(batch[i]);
        nb = 0;
        size_t sz = (size_t)32 << (round % 4);
        for (unsigned i = 0; i < BATCH; i++) {
            void *p = numa_malloc_on(from, sz);
            if (!p) {
                if (errno == EXDEV)
                    noticed = 1;
                else
                    other++, other_errno = errno;
                break;
            }
            memset(p, 1, sz);
            batch[nb++] = p;
            window++;
        }
    }
    demo_claim(d, noticed,
               "the library noticed by itself (no refresh called yet): numa_malloc_on(%d) gave "
               "EXDEV after %zu more allocations, %.0f ms%s%s",
               from, window, (seconds() - t0) * 1e3, other ? "; other error: " : "",
               other ? strerror(other_errno) : "");
    e = nslab_topology_refresh();
    demo_claim(d, e == 0, "nslab_topology_refresh(): %d", e);

    /* ---- after ---- */
    fprintf(d->out, "  after (cpuset.mems {%d}):\n", to);
    tally(&tl, blk, NBLOCKS);
    tally_print(d, "blocks", &tl);
    demo_claim(d, tl.wrong == 0 && tl.nowhere == 0,
               "nslab_node_of names the node each block's page is on (%zu of %zu wrong; the kernel "
               "moved %zu of them to node %d)", tl.wrong, tl.n, tl.on[to], to);
    size_t bad = 0;
    for (int i = 0; i < NBLOCKS; i++)
        for (size_t k = 0; k < blk_size(i); k += 512)
            bad += ((unsigned char *)blk[i])[k] != (i & 0xff);
    demo_claim(d, bad == 0, "every block kept its contents");
    tally(&tl, batch, nb);
    tally_print(d, "before notice", &tl);
    demo_claim(d, tl.wrong == 0,
               "the %u live blocks handed out for node %d between the change and the notice: "
               "nslab_node_of names where each one is (%zu wrong)", nb, from, tl.wrong);

    off = nslab_arena_verify(from, 0, &pl);
    if (off >= 0) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "    node %d chunks  pages:", from);
        demo_histogram(d, prefix, &pl);
    }
    fprintf(d->out, "    nslab_arena_verify(%d): %d chunk pages off node %d (node %d is no longer "
                    "allowed: they cannot go back, their chunks are retired)\n",
            from, off, from, from);
    e = nslab_region_verify(r, &pl);
    if (e == 0)
        demo_histogram(d, "    region         pages:", &pl);
    size_t page = pl.page_size ? pl.page_size : 4096, rpages = 0, rwrong = 0;
    char *ra = nslab_region_addr(r);
    for (size_t o = 0; o < nslab_region_size(r); o += page) {
        int n = nslab_node_of(ra + o);
        if (n == -EINVAL) /* past the region's first segment */
            break;
        rpages++;
        rwrong += n != page_node(ra + o);
    }
    demo_claim(d, e == 0 && rpages > 0 && rwrong == 0,
               "the region: nslab_node_of names each page's node (%zu of %zu pages of its first "
               "segment wrong)", rwrong, rpages);
    tally(&tl, buf, NBUF);
    tally_print(d, "pool buffers", &tl);
    int pn = nslab_pool_node(pool);
    demo_claim(d, tl.wrong == 0 && pn >= 0 && tl.on[pn] == NBUF,
               "every pool buffer's page is on node %d, and nslab_pool_node says %d", pn, pn);

    errno = 0;
    void *p = numa_malloc_on(from, 64);
    int err = errno;
    demo_claim(d, !p && err == EXDEV, "numa_malloc_on(%d, 64) now fails with EXDEV (%s)", from,
               p ? "it succeeded" : strerror(err));
    if (p)
        nslab_free(p);
    errno = 0;
    nslab_region_t *r2 = nslab_region_create(4096, &bind_from, NULL);
    err = errno;
    demo_claim(d, !r2 && err == EXDEV, "a BIND(%d) region now fails with EXDEV (%s)", from,
               r2 ? "it succeeded" : strerror(err));
    if (r2)
        nslab_region_destroy(r2);
    failed = 0;
    for (int i = 0; i < NTWO; i++) {
        two[i] = numa_malloc_on(to, 64 + (size_t)(i % 4) * 200);
        if (two[i])
            memset(two[i], 2, 64);
        else
            failed++;
    }
    tally(&tl, two, NTWO);
    char label[32];
    snprintf(label, sizeof label, "node %d blocks", to);
    tally_print(d, label, &tl);
    demo_claim(d, failed == 0 && tl.on[to] == NTWO && tl.named[to] == NTWO,
               "numa_malloc_on(%d) works: %d blocks (%zu failed), every page on node %d, "
               "nslab_node_of says %d", to, NTWO, failed, to, to);

    print_drift(d, from, &st);
    demo_claim(d, st.drift_pages > 0 && st.chunks_retired > 0 && st.drift_repaired == 0,
               "node %d's arena counted the drift: %llu pages found off it, %llu chunk(s) retired, "
               "%llu pages repaired (none can be: the node is not allowed)", from,
               (unsigned long long)st.drift_pages, (unsigned long long)st.chunks_retired,
               (unsigned long long)st.drift_repaired);
    /* quiet when they pass; what is wrong is printed when they do not */
    int audits = nslab_arena_audit(NULL) == 0 && nslab_pool_audit(pool, NULL) == 0;
    if (!audits) {
        nslab_arena_audit(d->out);
        nslab_pool_audit(pool, d->out);
    }
    demo_claim(d, audits,
               "the arena and pool audits find every block and buffer (none lost)");

    /* everything goes back; the retired chunks empty out and are unmapped */
    bad = 0;
    for (int i = 0; i < NBLOCKS; i++)
        bad += nslab_free(blk[i]) != 0;
    for (unsigned i = 0; i < nb; i++)
        bad += nslab_free(batch[i]) != 0;
    for (int i = 0; i < NTWO; i++)
        bad += two[i] && nslab_free(two[i]) != 0;
    bad += nslab_pool_put_bulk(pool, buf, NBUF) != NBUF;
    nslab_thread_flush();
    print_drift(d, from, &st);
    demo_claim(d, bad == 0 && st.chunks_retired == 0 && nslab_arena_audit(stderr) == 0,
               "every block freed (%zu errors); node %d's retired chunks emptied and were "
               "unmapped (chunks_retired %llu)", bad, from, (unsigned long long)st.chunks_retired);
    demo_claim(d, nslab_pool_destroy(pool) == 0 && nslab_region_destroy(r) == 0,
               "the pool and the region are destroyed");
}

/* The child's entry (demo.c's main, argv[1] == CHILD_ARG):
 * argv = prog CHILD_ARG CGROUP_DIR FROM TO FD.  Moves itself into the
 * cgroup, runs the section, writes "claims fails\n" to FD.  Exit 0 if every
 * claim passed, 1 otherwise, 2 on bad arguments. */
int demo_layout_child(int argc, char **argv)
{
    if (argc != 6 || strcmp(argv[1], CHILD_ARG) != 0)
        return 2;
    const char *cg = argv[2];
    int from = atoi(argv[3]), to = atoi(argv[4]), fd = atoi(argv[5]);
    struct demo d = {.out = stdout};
    char path[PATH_MAX + 32], pid[32];
    snprintf(path, sizeof path, "%s/cgroup.procs", cg);
    snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    int e = write_file(path, pid);
    if (demo_claim(&d, e == 0, "a child process (pid %s) moved itself into %s: %s", strtok(pid, "\n"),
                   cg, e ? strerror(-e) : "ok")) {
        e = nslab_init();
        if (demo_claim(&d, e == 0, "nslab_init in the child: %d", e)) {
            nslab_nodes(NSLAB_NODES_MEMORY, &d.nodes); /* a column per node with memory */
            child_run(&d, cg, from, to);
        }
    }
    fflush(d.out);
    dprintf(fd, "%d %d\n", d.claims, d.fails);
    close(fd);
    return d.fails ? 1 : 0;
}

/* ---- the parent: set up, run the child, clean up ----------------------- */

static int skip(struct demo *d, const char *why, const char *detail)
{
    fprintf(d->out, "  SKIP  %s%s%s (examples/run-demo --vm four runs it in a 4-node guest)\n",
            why, detail ? ": " : "", detail ? detail : "");
    d->skips++;
    return 0;
}

int demo_layout(struct demo *d)
{
    /* from: node 1 if it has memory, else the first; to: the next one */
    int from = nslab_nodeset_has(&d->nodes, 1) ? 1 : nslab_nodeset_next(&d->nodes, 0);
    int to = from >= 0 ? nslab_nodeset_next(&d->nodes, from + 1) : -1;
    if (to < 0 && from >= 0) {
        to = nslab_nodeset_next(&d->nodes, 0);
        if (to == from)
            to = -1;
    }
    if (to < 0) {
        demo_title(d, "Layout change: the cpuset's memory nodes rewritten under a running process");
        return skip(d, "needs two nodes with memory, this process is allowed one", NULL);
    }
    demo_title(d, "Layout change: cpuset.mems rewritten from {%d} to {%d} under a running process",
               from, to);

    static char root[PATH_MAX], self[PATH_MAX], base[2 * PATH_MAX + 2], cg[sizeof base + 64],
        path[sizeof cg + 32], detail[sizeof path + 128];
    const char *why = find_cgroup(root, sizeof root, self, sizeof self);
    if (why)
        return skip(d, why, NULL);
    /* the new cgroup is a sibling of ours: a cgroup with processes (ours)
     * cannot hand controllers to children (cgroup v2's no-internal-process
     * rule); the root can */
    char *slash = strrchr(self, '/');
    if (slash && slash != self)
        *slash = 0;
    else
        self[0] = 0; /* ours is the root or a child of it: use the root */
    snprintf(base, sizeof base, "%s%s", root, self);
    snprintf(path, sizeof path, "%s/cgroup.controllers", base);
    if (!file_has_word(path, "cpuset"))
        return skip(d, "the cpuset controller is not available in", base);
    snprintf(path, sizeof path, "%s/cgroup.subtree_control", base);
    /* not enabled here by the demo: that would outlast it */
    if (!file_has_word(path, "cpuset"))
        return skip(d, "the cpuset controller is not enabled for the children of", base);
    snprintf(cg, sizeof cg, "%s/numaslab-demo-layout.%d", base, (int)getpid());
    if (mkdir(cg, 0755) != 0) {
        snprintf(detail, sizeof detail, "%s: %s", cg, strerror(errno));
        return skip(d, "cannot create a cgroup", detail);
    }
    char mems[16];
    snprintf(mems, sizeof mems, "%d\n", from);
    snprintf(path, sizeof path, "%s/cpuset.mems", cg);
    int e = write_file(path, mems);
    if (e) {
        rmdir(cg);
        snprintf(detail, sizeof detail, "%s: %s", path, strerror(-e));
        return skip(d, "cannot set cpuset.mems", detail);
    }

    int pfd[2];
    if (pipe(pfd) != 0) {
        rmdir(cg);
        demo_claim(d, 0, "pipe: %s", strerror(errno));
        return 0;
    }
    fflush(d->out);
    pid_t child = fork();
    if (child == 0) {
        close(pfd[0]);
        char a_from[16], a_to[16], a_fd[16];
        snprintf(a_from, sizeof a_from, "%d", from);
        snprintf(a_to, sizeof a_to, "%d", to);
        snprintf(a_fd, sizeof a_fd, "%d", pfd[1]);
        char *args[] = {"numaslab-demo", CHILD_ARG, cg, a_from, a_to, a_fd, NULL};
        execv("/proc/self/exe", args);
        dprintf(STDOUT_FILENO, "  FAIL  exec /proc/self/exe: %s\n", strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    int claims = 0, fails = 0, got = 0, status = 0;
    if (child > 0) {
        FILE *f = fdopen(pfd[0], "r");
        if (f) {
            got = fscanf(f, "%d %d", &claims, &fails) == 2;
            fclose(f);
        } else {
            close(pfd[0]);
        }
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
            ;
    } else {
        close(pfd[0]);
    }
    d->claims += claims;
    d->fails += fails;
    int ok_exit = child > 0 && WIFEXITED(status) && WEXITSTATUS(status) == (fails ? 1 : 0);
    if (!got || !ok_exit)
        demo_claim(d, 0, "the child process ended badly (%s, status %#x, report %s)",
                   child < 0 ? strerror(errno) : "pid ok", status, got ? "read" : "missing");
    if (rmdir(cg) != 0)
        demo_claim(d, 0, "rmdir %s: %s", cg, strerror(errno));
    return 0;
}
