/*
 * tests/region/test_ledger_race.c - reservations that hold across
 * processes (issue 14): the machine-wide ledger (nslab_capacity_set_ledger).
 *   - a claim of another process counts here, and is reclaimed once that
 *     process is killed;
 *   - N processes race to build lazy BIND regions on one node that
 *     together exceed it: with the ledger exactly those that fit succeed
 *     and the others get ENOMEM at creation; without it (the control) all
 *     of them are created - the race the ledger closes;
 *   - with NUMASLAB_TEST_RACE_COMMIT=1 (the VM test: a small node, nothing
 *     else running) the racers build prefaulted regions, so the memory is
 *     really committed: none is OOM-killed and the node's free memory
 *     never goes below the reserve.  Each process's outcome is printed.
 */
#include "region_testutil.h"
#include "region-internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)
#define RACERS 4

static char path[128];
static int node;

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/numaslab-ledger-test-%d", (int)getpid());
    unlink(path);
    /* The node with the most memory the cpuset allows. */
    nslab_nodeset_t mem;
    testutil_memory_nodes(&mem);
    node = testutil_memory_node(testutil_memory_nodes(NULL) > 1 ? 1 : 0);
    return node < 0;
}

static int teardown(void **state)
{
    (void)state;
    nslab_capacity_set_ledger(NULL);
    unlink(path);
    return 0;
}

static size_t room(int n)
{
    uint64_t f = topology_node_free(n);
    size_t r = capacity_default_reserve() + capacity_held(n);
    return f > r ? (size_t)(f - r) : 0;
}

static void test_errors(void **state)
{
    (void)state;
    errno = 0;
    assert_int_equal(nslab_capacity_set_ledger("relative/path"), -EINVAL);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(nslab_capacity_set_ledger("/nonexistent-dir-numaslab/ledger"), -ENOENT);
    char longp[300];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(nslab_capacity_set_ledger(longp), -EINVAL);
    assert_int_equal(nslab_capacity_set_ledger(NULL), 0);
}

/* Another process's claim counts; once it is killed it is reclaimed. */
static void test_other_process_claim(void **state)
{
    (void)state;
    assert_int_equal(nslab_capacity_set_ledger(path), 0);
    size_t rm = room(node);
    if (rm < 256 * MiB)
        TEST_SKIP("less than 256 MiB room on node %d", node);
    size_t c = (size_t)(rm * 6 / 10) & ~(MiB - 1);
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        nslab_nodeset_t one = nslab_nodeset_of(node);
        nslab_claim_t *cl = nslab_claim_create(&one, c, 0);
        char ok = cl ? 'y' : 'n';
        if (write(up[1], &ok, 1) != 1)
            _exit(2);
        char x;
        if (read(down[0], &x, 1) != 1) /* killed while waiting */
            _exit(3);
        _exit(0);
    }
    char ok = 0;
    assert_int_equal(read(up[0], &ok, 1), 1);
    assert_int_equal(ok, 'y');
    nslab_nodeset_t one = nslab_nodeset_of(node);
    errno = 0;
    nslab_claim_t *mine = nslab_claim_create(&one, c, 0);
    if (mine)
        fail_msg("a %zu MiB claim succeeded while another process claimed %zu MiB of %zu MiB "
                 "room", c >> 20, c >> 20, rm >> 20);
    assert_int_equal(errno, ENOMEM);
    /* Kill the owner: no release, no exit handler; the entry is reclaimed. */
    assert_int_equal(kill(pid, SIGKILL), 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    mine = nslab_claim_create(&one, c, 0);
    assert_non_null(mine);
    printf("claim of a killed process reclaimed: %zu MiB claimed again on node %d\n", c >> 20,
           node);
    assert_int_equal(nslab_claim_release(mine), 0);
    close(up[0]);
    close(up[1]);
    close(down[0]);
    close(down[1]);
    assert_int_equal(nslab_capacity_set_ledger(NULL), 0);
}

struct outcome {
    int pid;
    int err;      /* 0 = created */
    uint64_t free_after; /* node free memory seen by the racer after its create */
};

/* Fork RACERS processes that start together and each create a BIND region
 * of `size` on `node` (prefault `pf`); each reports, then waits for the
 * parent's word before destroying it.  Returns the number created; fills
 * out[] and *free_all (the node's free memory with every region built). */
static int race(size_t size, nslab_prefault_t pf, struct outcome *out, uint64_t *free_all)
{
    int go[2], res[2], fin[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(res), 0);
    assert_int_equal(pipe(fin), 0);
    pid_t pids[RACERS];
    for (int i = 0; i < RACERS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            char x;
            if (read(go[0], &x, 1) != 1)
                _exit(2);
            nslab_policy_t b = nslab_policy_bind(node);
            nslab_region_opts_t o = NSLAB_REGION_OPTS_INIT(.prefault = pf, .pages = NSLAB_PAGES_NO_THP);
            nslab_region_t *r = nslab_region_create(size, &b, &o);
            struct outcome oc = {getpid(), r ? 0 : errno, topology_node_free(node)};
            if (write(res[1], &oc, sizeof oc) != sizeof oc)
                _exit(2);
            if (read(fin[0], &x, 1) != 1)
                _exit(2);
            if (r && nslab_region_destroy(r) != 0)
                _exit(4);
            _exit(0);
        }
    }
    for (int i = 0; i < RACERS; i++)
        assert_int_equal(write(go[1], "g", 1), 1);
    int made = 0;
    for (int i = 0; i < RACERS; i++) {
        assert_int_equal(read(res[0], &out[i], sizeof out[i]), (ssize_t)sizeof out[i]);
        made += out[i].err == 0;
    }
    *free_all = topology_node_free(node);
    for (int i = 0; i < RACERS; i++)
        assert_int_equal(write(fin[1], "f", 1), 1);
    for (int i = 0; i < RACERS; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        if (WIFSIGNALED(st))
            fail_msg("racer %d killed by signal %d (OOM?)", (int)pids[i], WTERMSIG(st));
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    int fds[] = {go[0], go[1], res[0], res[1], fin[0], fin[1]};
    for (unsigned i = 0; i < 6; i++)
        close(fds[i]);
    return made;
}

static void print_race(const char *what, const struct outcome *o, uint64_t free_all, size_t size)
{
    printf("%s: %d racers, %zu MiB each, node %d\n", what, RACERS, size >> 20, node);
    for (int i = 0; i < RACERS; i++)
        printf("  pid %d: %s, node %d free after its create %llu MiB\n", o[i].pid,
               o[i].err ? strerror(o[i].err) : "created", node,
               (unsigned long long)(o[i].free_after >> 20));
    printf("  node %d free with every region built: %llu MiB (reserve %zu MiB)\n", node,
           (unsigned long long)(free_all >> 20), capacity_default_reserve() >> 20);
}

/* Lazy regions: nothing is committed, so this runs anywhere.  3 x 0.3 of
 * the room fits, the 4th does not. */
static void test_race_lazy(void **state)
{
    (void)state;
    size_t rm = room(node);
    if (rm < 256 * MiB)
        TEST_SKIP("less than 256 MiB room on node %d", node);
    size_t size = (size_t)(rm * 3 / 10) & ~(MiB - 1);
    struct outcome o[RACERS];
    uint64_t free_all;

    /* Control: no shared ledger - every racer counts the same free memory. */
    assert_int_equal(nslab_capacity_set_ledger(NULL), 0);
    int made = race(size, NSLAB_PREFAULT_NONE, o, &free_all);
    print_race("lazy race, no shared ledger", o, free_all, size);
    assert_int_equal(made, RACERS);

    assert_int_equal(nslab_capacity_set_ledger(path), 0);
    made = race(size, NSLAB_PREFAULT_NONE, o, &free_all);
    print_race("lazy race, shared ledger", o, free_all, size);
    assert_int_equal(made, 3);
    for (int i = 0; i < RACERS; i++)
        assert_true(o[i].err == 0 || o[i].err == ENOMEM);
    assert_int_equal(nslab_capacity_set_ledger(NULL), 0);
}

/* Prefaulted regions, really committed (VM only): none OOM-killed, the
 * node never below the reserve. */
static void test_race_commit(void **state)
{
    (void)state;
    const char *env = getenv("NUMASLAB_TEST_RACE_COMMIT");
    if (!env || strcmp(env, "1") != 0)
        TEST_SKIP("commits most of a node: only with NUMASLAB_TEST_RACE_COMMIT=1 (VM test)");
    assert_int_equal(nslab_capacity_set_ledger(path), 0);
    size_t rm = room(node);
    size_t size = (size_t)(rm * 3 / 10) & ~(MiB - 1);
    struct outcome o[RACERS];
    uint64_t free_all;
    int made = race(size, NSLAB_PREFAULT_POPULATE, o, &free_all);
    print_race("committed race, shared ledger", o, free_all, size);
    assert_int_equal(made, 3);
    for (int i = 0; i < RACERS; i++)
        assert_true(o[i].err == 0 || o[i].err == ENOMEM);
    assert_true(free_all >= capacity_default_reserve());
    assert_int_equal(nslab_capacity_set_ledger(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_other_process_claim),
        cmocka_unit_test(test_race_lazy),
        cmocka_unit_test(test_race_commit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
