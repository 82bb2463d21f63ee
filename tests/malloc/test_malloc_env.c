/*
 * tests/malloc/test_malloc_env.c - the malloc replacement's configuration
 * parser (arena/policy-env.c): every policy form, every rejection
 * with its reason, the bind targets, and menv_load's one-line report on stderr.
 * Unit test (private header); runs on one node and in the VM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy-env.h"
#include "testutil.h"
#include "topology.h"

static struct menv_policy pol;
static char why[160];

static int parse(const char *text)
{
    return menv_parse_policy(text, &pol, why, sizeof why);
}

static int first_memory_node(void)
{
    nslab_nodeset_t s;
    testutil_memory_nodes(&s);
    return nslab_nodeset_next(&s, 0);
}

static void test_local_forms(void **state)
{
    (void)state;
    assert_int_equal(parse(NULL), 0);
    assert_int_equal(pol.mode, MENV_LOCAL);
    assert_int_equal(parse(""), 0);
    assert_int_equal(pol.mode, MENV_LOCAL);
    assert_int_equal(parse("local"), 0);
    assert_int_equal(pol.mode, MENV_LOCAL);
    assert_int_equal(pol.nmembers, 0);
}

static void test_bind_interleave_preferred(void **state)
{
    (void)state;
    int n0 = first_memory_node();
    char text[64];
    nslab_nodeset_t all;
    int nall = testutil_memory_nodes(&all);

    snprintf(text, sizeof text, "bind:%d", n0);
    assert_int_equal(parse(text), 0);
    assert_int_equal(pol.mode, MENV_BIND);
    assert_int_equal(pol.nmembers, 1);
    assert_int_equal(pol.member[0], n0);
    assert_int_equal(pol.wsum, 1);

    assert_int_equal(parse("interleave:all"), 0);
    assert_int_equal(pol.mode, MENV_INTERLEAVE);
    assert_int_equal(pol.nmembers, nall);
    for (int i = 0; i < pol.nmembers; i++) {
        assert_true(nslab_nodeset_has(&all, pol.member[i]));
        if (i)
            assert_true(pol.member[i] > pol.member[i - 1]);
    }

    snprintf(text, sizeof text, "preferred:%d", n0);
    assert_int_equal(parse(text), 0);
    assert_int_equal(pol.mode, MENV_PREFERRED);
    assert_int_equal(pol.preferred, n0);
}

static void test_weighted(void **state)
{
    (void)state;
    nslab_nodeset_t all;
    int nall = testutil_memory_nodes(&all);
    int n0 = nslab_nodeset_next(&all, 0);
    char text[64];

    snprintf(text, sizeof text, "weighted:%d=3", n0);
    assert_int_equal(parse(text), 0);
    assert_int_equal(pol.mode, MENV_WEIGHTED);
    assert_int_equal(pol.nmembers, 1);
    assert_int_equal(pol.weight[0], 3);
    assert_int_equal(pol.wsum, 3);
    if (nall < 2)
        TEST_SKIP("one memory node: multi-node weights need the VM");
    int n1 = nslab_nodeset_next(&all, n0 + 1);
    /* given in descending order: members come out ascending with their
     * own weights */
    snprintf(text, sizeof text, "weighted:%d=1,%d=255", n1, n0);
    assert_int_equal(parse(text), 0);
    assert_int_equal(pol.nmembers, 2);
    assert_int_equal(pol.member[0], n0);
    assert_int_equal(pol.weight[0], 255);
    assert_int_equal(pol.member[1], n1);
    assert_int_equal(pol.weight[1], 1);
    assert_int_equal(pol.wsum, 256);
}

static void expect_invalid(const char *text, const char *reason_part)
{
    assert_int_equal(parse(text), EINVAL);
    if (!strstr(why, reason_part))
        fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", text, why, reason_part);
}

static void test_rejections(void **state)
{
    (void)state;
    expect_invalid("bogus", "unknown policy");
    expect_invalid("bind", "unknown policy");
    expect_invalid("bind:", "bad node list");
    expect_invalid("bind:x", "bad node list");
    expect_invalid("bind:1000", "node 1000 does not exist");
    expect_invalid("interleave:0,1000", "node 1000 does not exist");
    expect_invalid("preferred:", "one node number");
    expect_invalid("preferred:0,1", "one node number");
    expect_invalid("preferred:1000", "does not exist");
    expect_invalid("weighted:", "NODE=WEIGHT");
    expect_invalid("weighted:0", "NODE=WEIGHT");
    expect_invalid("weighted:0=0", "must be 1..255");
    expect_invalid("weighted:0=256", "must be 1..255");
    expect_invalid("weighted:0=1,0=2", "given twice");
    expect_invalid("weighted:0=1;1=1", "NODE=WEIGHT");
    expect_invalid("weighted:1000=1", "does not exist");
}

static void test_rejects_node_without_memory(void **state)
{
    (void)state;
    const struct topology *t = topology_get();
    for (int n = 0; n < t->nr_nodes; n++) {
        if (!t->node[n].has_memory && t->node[n].online) {
            char text[32];
            snprintf(text, sizeof text, "bind:%d", n);
            expect_invalid(text, "no memory");
            return;
        }
    }
    TEST_SKIP("no memoryless node here (the VM's mixed spec has one)");
}

static void test_bool(void **state)
{
    (void)state;
    assert_int_equal(menv_parse_bool(NULL), 0);
    assert_int_equal(menv_parse_bool(""), 0);
    assert_int_equal(menv_parse_bool("0"), 0);
    assert_int_equal(menv_parse_bool("off"), 0);
    assert_int_equal(menv_parse_bool("No"), 0);
    assert_int_equal(menv_parse_bool("1"), 1);
    assert_int_equal(menv_parse_bool("YES"), 1);
    assert_int_equal(menv_parse_bool("true"), 1);
    assert_int_equal(menv_parse_bool("on"), 1);
    assert_int_equal(menv_parse_bool("2"), -1);
    assert_int_equal(menv_parse_bool("yes please"), -1);
}

/* NUMASLAB_PREFAULT's words (numaslab.h, nslab_arena_prefault_t). */
static void test_prefault(void **state)
{
    (void)state;
    assert_int_equal(menv_parse_prefault(NULL), NSLAB_ARENA_PREFAULT_DEFAULT);
    assert_int_equal(menv_parse_prefault(""), NSLAB_ARENA_PREFAULT_DEFAULT);
    assert_int_equal(menv_parse_prefault("default"), NSLAB_ARENA_PREFAULT_DEFAULT);
    assert_int_equal(menv_parse_prefault("none"), NSLAB_ARENA_PREFAULT_NONE);
    assert_int_equal(menv_parse_prefault("Slabs"), NSLAB_ARENA_PREFAULT_SLABS);
    assert_int_equal(menv_parse_prefault("ALL"), NSLAB_ARENA_PREFAULT_ALL);
    assert_int_equal(menv_parse_prefault("al"), -1);
    assert_int_equal(menv_parse_prefault("slabs,all"), -1);
    assert_int_equal(menv_parse_prefault("1"), -1);
}

static void test_format_round_trip(void **state)
{
    (void)state;
    nslab_nodeset_t all;
    testutil_memory_nodes(&all);
    int n0 = nslab_nodeset_next(&all, 0);
    char text[256], out[256], set[128];
    struct menv_policy again;

    nslab_nodeset_format(&all, set, sizeof set);
    const char *forms[] = { "local", "bind:%d", "preferred:%d", "weighted:%d=7" };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        snprintf(text, sizeof text, forms[i], n0);
        assert_int_equal(parse(text), 0);
        size_t need = menv_format_policy(&pol, out, sizeof out);
        assert_int_equal(need, strlen(out));
        assert_string_equal(out, text);
    }
    assert_int_equal(parse("interleave:all"), 0);
    menv_format_policy(&pol, out, sizeof out);
    snprintf(text, sizeof text, "interleave:%s", set);
    assert_string_equal(out, text);
    assert_int_equal(menv_parse_policy(out, &again, why, sizeof why), 0);
    assert_memory_equal(&again.nodes, &pol.nodes, sizeof pol.nodes);
    /* truncation: NUL terminated, the needed length returned */
    assert_int_equal(menv_format_policy(&pol, out, 4), strlen(text));
    assert_int_equal(strlen(out), 3);
}

static void test_bind_targets(void **state)
{
    (void)state;
    static struct menv_config cfg;
    const struct topology *t = topology_get();
    nslab_nodeset_t all;
    int nall = testutil_memory_nodes(&all);
    char text[64];

    /* bind to one node: every CPU node targets it */
    int last = -1;
    for (int n = nslab_nodeset_next(&all, 0); n >= 0; n = nslab_nodeset_next(&all, n + 1))
        last = n;
    snprintf(text, sizeof text, "bind:%d", last);
    assert_int_equal(menv_parse_policy(text, &cfg.policy, why, sizeof why), 0);
    menv_resolve_targets(&cfg);
    for (int n = 0; n < t->nr_nodes; n++)
        assert_int_equal(cfg.target[n], last);

    /* bind to all: every node with memory targets itself, a memoryless node
     * its local node */
    assert_int_equal(menv_parse_policy("bind:all", &cfg.policy, why, sizeof why), 0);
    menv_resolve_targets(&cfg);
    for (int n = 0; n < t->nr_nodes; n++) {
        if (nslab_nodeset_has(&all, n))
            assert_int_equal(cfg.target[n], n);
        else if (t->node[n].local_node >= 0 &&
                 nslab_nodeset_has(&all, t->node[n].local_node))
            assert_int_equal(cfg.target[n], t->node[n].local_node);
    }
    if (nall < 3)
        TEST_SKIP("fewer than 3 memory nodes: nearest-member choice needs the VM");

    /* bind to the first and last node: a middle node goes to the nearer */
    int first = nslab_nodeset_next(&all, 0);
    snprintf(text, sizeof text, "bind:%d,%d", first, last);
    assert_int_equal(menv_parse_policy(text, &cfg.policy, why, sizeof why), 0);
    menv_resolve_targets(&cfg);
    for (int n = 0; n < t->nr_nodes; n++) {
        int want;
        if (n == first || n == last) {
            want = n;
        } else {
            int df = t->distance[n][first], dl = t->distance[n][last];
            want = dl < df ? last : first;
        }
        if (t->node[n].has_memory || !t->node[n].online)
            assert_int_equal(cfg.target[n], want);
    }
}

/* menv_load with bad values: exactly one line per bad variable on stderr,
 * and the defaults. */
static void test_load_reports_once(void **state)
{
    (void)state;
    static struct menv_config cfg;
    char buf[4096];
    int fds[2], saved;
    ssize_t n;

    assert_int_equal(pipe(fds), 0);
    fflush(stderr);
    saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fds[1], 2), 2);
    setenv("NUMASLAB_POLICY", "bind:1000", 1);
    setenv("NUMASLAB_STATS", "maybe", 1);
    setenv("NUMASLAB_VERBOSE", "1", 1);
    menv_load(&cfg);
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    unsetenv("NUMASLAB_POLICY");
    unsetenv("NUMASLAB_STATS");
    unsetenv("NUMASLAB_VERBOSE");
    assert_true(n > 0);
    buf[n] = '\0';
    printf("menv_load said:\n%s", buf);
    assert_int_equal(cfg.policy.mode, MENV_LOCAL);
    assert_int_equal(cfg.stats, 0);
    assert_int_equal(cfg.verbose, 1);
    int lines = 0;
    for (char *p = buf; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 2);
    assert_non_null(strstr(buf, "numaslab: NUMASLAB_POLICY=\"bind:1000\" is invalid "
                                "(node 1000 does not exist); using local\n"));
    assert_non_null(strstr(buf, "numaslab: NUMASLAB_STATS=\"maybe\" is invalid"));

    /* good values: silent */
    char text[32];
    snprintf(text, sizeof text, "interleave:%d", first_memory_node());
    setenv("NUMASLAB_POLICY", text, 1);
    setenv("NUMASLAB_STATS", "on", 1);
    assert_int_equal(pipe(fds), 0);
    saved = dup(2);
    dup2(fds[1], 2);
    menv_load(&cfg);
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    n = read(fds[0], buf, sizeof buf);
    close(fds[0]);
    unsetenv("NUMASLAB_POLICY");
    unsetenv("NUMASLAB_STATS");
    assert_true(n <= 0);
    assert_int_equal(cfg.policy.mode, MENV_INTERLEAVE);
    assert_int_equal(cfg.stats, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_forms),
        cmocka_unit_test(test_bind_interleave_preferred),
        cmocka_unit_test(test_weighted),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_rejects_node_without_memory),
        cmocka_unit_test(test_bool),
        cmocka_unit_test(test_prefault),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_bind_targets),
        cmocka_unit_test(test_load_reports_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
