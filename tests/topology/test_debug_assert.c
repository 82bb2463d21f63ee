/*
 * tests/topology/test_debug_assert.c - the asserts of topology/debug.h:
 * in a Debug build (NSLAB_DEBUG_LEVEL 3) each level fires with one line on
 * stderr and SIGABRT; in any other build none is compiled, so none fires
 * and its expression is not even evaluated.  Runs each case in a child.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "debug.h"

static int evaluated;

__attribute__((unused)) static int side_effect(void)
{
    evaluated++;
    return 0;
}

/* Run `level`'s failing assert in a child; *sig gets its signal (0 when it
 * exited), msg what it wrote on stderr. */
static void run_child(int level, int *sig, char *msg, size_t len)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        if (level == 1)
            NSLAB_ASSERT(side_effect() == 1);
        else if (level == 2)
            NSLAB_ASSERT_INTERNAL(side_effect() == 1);
        else
            NSLAB_ASSERT_EXPENSIVE(side_effect() == 1);
        _exit(evaluated == 0 ? 0 : 3); /* 3: evaluated, did not fire */
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < len && (n = read(fds[0], msg + got, len - 1 - got)) > 0)
        got += (size_t)n;
    msg[got] = '\0';
    close(fds[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st)) {
        *sig = WTERMSIG(st);
    } else {
        assert_int_equal(WEXITSTATUS(st), 0); /* not evaluated when compiled out */
        *sig = 0;
    }
}

static void test_levels(void **state)
{
    (void)state;
    for (int level = 1; level <= 3; level++) {
        char msg[512];
        int sig;
        run_child(level, &sig, msg, sizeof msg);
        if (NSLAB_DEBUG_LEVEL >= level) {
            assert_int_equal(sig, SIGABRT);
            assert_non_null(strstr(msg, "numaslab: assertion failed: "));
            assert_non_null(strstr(msg, "test_debug_assert.c:"));
            assert_non_null(strstr(msg, "side_effect() == 1"));
        } else {
            assert_int_equal(sig, 0);
            assert_string_equal(msg, "");
        }
    }
    print_message("NSLAB_DEBUG_LEVEL %d\n", NSLAB_DEBUG_LEVEL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
