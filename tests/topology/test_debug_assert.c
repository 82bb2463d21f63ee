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
static int fail_level(void *p)
{
    int level = *(int *)p;
    if (level == 1)
        NSLAB_ASSERT(side_effect() == 1);
    else if (level == 2)
        NSLAB_ASSERT_INTERNAL(side_effect() == 1);
    else
        NSLAB_ASSERT_EXPENSIVE(side_effect() == 1);
    return evaluated == 0 ? 0 : 3; /* 3: evaluated, did not fire */
}

static void run_child(int level, int *sig, char *msg, size_t len)
{
    int st = testutil_child(fail_level, &level, msg, len);
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
