/*
 * tests/malloc/test_malloc_stats_env.c - NUMASLAB_STATS and child processes
 * (issue 11, item 10).
 *   NUMASLAB_STATS=1: the process prints its statistics at exit; the
 *     variable is gone from its environment (consumed), so a program it
 *     starts prints nothing, and a forked child that exits prints nothing;
 *   NUMASLAB_STATS=DIR/s.%p: every process, the started one included
 *     (opt-in), writes its own file s.<pid>, and nothing goes to stderr;
 *   either way the library keeps no file descriptor open (/proc/self/fd
 *     holds 0, 1, 2 only).
 * The test runs itself (/proc/self/exe top) in a child with stderr on a
 * pipe; `top` starts /proc/self/exe leaf and forks a child that exits.
 * Run preloaded and linked (the malloc replacement's line carries the pid).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static void *volatile sink;

/* The descriptors this process holds, but the one reading the list. */
static int count_fds(char *list, size_t len)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0, self = dirfd(d);
    size_t o = 0;
    list[0] = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == self)
            continue;
        n++;
        o += (size_t)snprintf(list + o, len - o, "%s ", e->d_name);
        if (o >= len)
            o = len - 1;
    }
    closedir(d);
    return n;
}

static int run_top(void)
{
    char fds[256];
    for (int i = 0; i < 100; i++)
        sink = malloc(100 + i);
    /* stdout: what the parent checks */
    printf("env=%s\n", getenv("NUMASLAB_STATS") ? getenv("NUMASLAB_STATS") : "(unset)");
    printf("fds=%d [%s]\n", count_fds(fds, sizeof fds), fds);
    printf("top=%ld\n", (long)getpid());
    fflush(stdout);
    pid_t leaf = fork();
    if (leaf == 0) {
        execl("/proc/self/exe", "test_malloc_stats_env", "leaf", (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(leaf, &st, 0);
    printf("leaf=%ld\n", (long)leaf);
    fflush(stdout);
    pid_t forked = fork();
    if (forked == 0) {
        sink = malloc(64);
        exit(0); /* destructors run: must print nothing for "1" */
    }
    waitpid(forked, &st, 0);
    printf("forked=%ld\n", (long)forked);
    return 0;
}

static int run_leaf(void)
{
    for (int i = 0; i < 100; i++)
        sink = malloc(64);
    return 0;
}

struct outcome {
    char out[4096], err[8192];
    long top, leaf, forked;
    int code;
};

static void read_all(int fd, char *buf, size_t len)
{
    size_t n = 0;
    ssize_t r;
    while (n + 1 < len && (r = read(fd, buf + n, len - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = 0;
}

static struct outcome spawn_top(const char *stats)
{
    struct outcome o;
    memset(&o, 0, sizeof o);
    int po[2], pe[2];
    assert_int_equal(pipe(po), 0);
    assert_int_equal(pipe(pe), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        setenv("NUMASLAB_STATS", stats, 1);
        execl("/proc/self/exe", "test_malloc_stats_env", "top", (char *)NULL);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    read_all(po[0], o.out, sizeof o.out); /* the children keep only fd 1, 2 */
    read_all(pe[0], o.err, sizeof o.err);
    close(po[0]);
    close(pe[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    o.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    const char *t = strstr(o.out, "top="), *l = strstr(o.out, "leaf="),
               *f = strstr(o.out, "forked=");
    assert_non_null(t);
    assert_non_null(l);
    assert_non_null(f);
    o.top = atol(t + 4);
    o.leaf = atol(l + 5);
    o.forked = atol(f + 7);
    printf("stdout:\n%sstderr:\n%s", o.out, o.err);
    return o;
}

/* Lines of the malloc replacement's statistics naming pid. */
static int stats_lines_of(const char *text, long pid)
{
    char want[64];
    snprintf(want, sizeof want, "numaslab: malloc stats (pid %ld)", pid);
    int n = 0;
    for (const char *p = text; (p = strstr(p, want)) != NULL; p++)
        n++;
    return n;
}

static void test_stderr_not_inherited(void **state)
{
    (void)state;
    struct outcome o = spawn_top("1");
    assert_int_equal(o.code, 0);
    assert_non_null(strstr(o.out, "env=(unset)")); /* consumed */
    assert_non_null(strstr(o.out, "fds=3 [")); /* 0, 1, 2: no copy of stderr */
    assert_int_equal(stats_lines_of(o.err, o.top), 1);
    assert_int_equal(stats_lines_of(o.err, o.leaf), 0);
    assert_int_equal(stats_lines_of(o.err, o.forked), 0);
    assert_non_null(strstr(o.err, "node "));
}

static void test_file_per_process(void **state)
{
    (void)state;
    char dir[] = "/tmp/nslab-stats-XXXXXX", tmpl[128], path[160];
    assert_non_null(mkdtemp(dir));
    snprintf(tmpl, sizeof tmpl, "%s/s.%%p", dir);
    struct outcome o = spawn_top(tmpl);
    assert_int_equal(o.code, 0);
    char want_env[160];
    snprintf(want_env, sizeof want_env, "env=%s\n", tmpl);
    assert_non_null(strstr(o.out, want_env)); /* kept: children opt in */
    assert_non_null(strstr(o.out, "fds=3 ["));
    assert_null(strstr(o.err, "numaslab: malloc stats"));
    assert_null(strstr(o.err, "node "));
    long pids[] = { o.top, o.leaf, o.forked };
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/s.%ld", dir, pids[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            fail_msg("no statistics file %s", path);
        char text[4096];
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = 0;
        fclose(f);
        assert_int_equal(stats_lines_of(text, pids[i]), 1);
        assert_non_null(strstr(text, "node "));
        unlink(path);
    }
    rmdir(dir);
}

static void test_off(void **state)
{
    (void)state;
    struct outcome o = spawn_top("0");
    assert_int_equal(o.code, 0);
    assert_non_null(strstr(o.out, "fds=3 ["));
    assert_string_equal(o.err, "");
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return strcmp(argv[1], "top") == 0 ? run_top() : run_leaf();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stderr_not_inherited),
        cmocka_unit_test(test_file_per_process),
        cmocka_unit_test(test_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
