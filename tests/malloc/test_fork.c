/*
 * tests/malloc/test_fork.c - fork never deadlocks, parent or child
 * (DESIGN.md promise 13; issue 11, items 1-4).
 *
 * Scenarios (after glibc's tst-mallocfork, tst-mallocfork2 and
 * tst-malloc-fork-deadlock; our own code):
 *   sighandler  a single-threaded process forks from a SIGUSR1 handler that
 *               interrupts its allocations and its own forks (signals come
 *               from a helper process);
 *   stdio       threads in fflush(NULL), getline() and large reallocs while
 *               the main thread forks, and the child uses malloc and stdio;
 *   pools       threads get and put buffers of a pool with small caches
 *               while the main thread forks; the child gets, puts and waits;
 *   init        fresh processes whose first use of the library is on a
 *               thread while the main thread forks: the child must finish
 *               the initialisation (API build only: under the malloc
 *               replacement the loader's first malloc initialises the
 *               library before any thread exists).
 * Each scenario repeats FORK_ROUNDS (200) times (an eighth of that under
 * ASan and TSan, testutil_scale) in a fresh process that reports
 * each round on a pipe: the test fails when no round ends for
 * STALL_MS (a deadlock, not a slow machine: sanitizers and a loaded host
 * only slow the rounds down).  Every forked child runs under alarm() and is
 * waited for with a deadline too.
 *
 * Built three times (CMakeLists.txt): fork_preload (libnumaslab.so, run with
 * LD_PRELOAD=libnumaslab-malloc), fork_linked (libnumaslab-malloc linked)
 * and fork_api (the static library, glibc's malloc; the scenarios allocate
 * with numa_malloc_local / nslab_realloc / nslab_free).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define FORK_ROUNDS 200 /* scaled down under sanitizers (testutil_scale) */
#define CHILD_DEADLINE_MS 20000
#define STALL_MS 20000

static int fork_rounds(void)
{
    return (int)testutil_scale(FORK_ROUNDS);
}

/* The pipe a scenario process reports its rounds on (-1: none). */
static int progress_fd = -1;

static void progress(void)
{
    if (progress_fd >= 0) {
        char c = 1;
        ssize_t w = write(progress_fd, &c, 1); /* async-signal-safe */
        (void)w;
    }
}

#ifdef FORK_API
static void *a_malloc(size_t n)
{
    return numa_malloc_local(n);
}
static void a_free(void *p)
{
    nslab_free(p);
}
static void *a_realloc(void *p, size_t n)
{
    return p ? nslab_realloc(p, n) : numa_malloc_local(n);
}
#else
static void *a_malloc(size_t n)
{
    return malloc(n);
}
static void a_free(void *p)
{
    free(p);
}
static void *a_realloc(void *p, size_t n)
{
    return realloc(p, n);
}
#endif
static void *(*volatile malloc_fn)(size_t) = a_malloc;
static void (*volatile free_fn)(void *) = a_free;
static void *(*volatile realloc_fn)(void *, size_t) = a_realloc;

static const char *self_exe = "/proc/self/exe";

/* Wait for pid at most ms; a child still running then is killed.  Returns
 * its wait status, or -1 if it had to be killed (a hang). */
static int wait_bounded(pid_t pid, int ms)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long nap = 20000; /* ns */
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return st;
        if (r < 0 && errno != EINTR)
            return -2;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long el = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (el > ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        struct timespec ts = { 0, nap };
        nanosleep(&ts, NULL);
        if (nap < 2000000)
            nap *= 2;
    }
}

/* 0 when the child exited 0; 2 when it hung (killed at the deadline);
 * 3 for any other end. */
static int child_status(pid_t pid)
{
    if (pid < 0)
        return 4;
    int st = wait_bounded(pid, CHILD_DEADLINE_MS);
    if (st == -1 || (st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM))
        return 2;
    return st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 3;
}

/* A child's common work: allocate and check small and large blocks. */
static int child_allocates(void)
{
    void *p[64];
    for (int i = 0; i < 64; i++) {
        size_t n = 16 + (size_t)i * ((i % 8 == 7) ? 40000 : 24);
        if (!(p[i] = malloc_fn(n)))
            return 0;
        memset(p[i], i, 16);
    }
    void *q = realloc_fn(NULL, 100);
    for (size_t n = 200; q && n < (1u << 20); n *= 3)
        q = realloc_fn(q, n);
    if (!q)
        return 0;
    free_fn(q);
    for (int i = 0; i < 64; i++)
        free_fn(p[i]);
    return 1;
}

/* ---- re-executed scenarios: fresh processes --------------------------- */

static volatile sig_atomic_t handler_forks;

static void on_usr1(int sig)
{
    (void)sig;
    int saved = errno;
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    if (pid > 0) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        handler_forks++;
        progress();
    }
    errno = saved;
}

/* Single-threaded: fork from a signal handler while the process allocates
 * and forks itself.  Exit 0 when both kinds of fork happened FORK_ROUNDS
 * times; a deadlock stops the progress reports. */
static int scenario_sighandler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    pid_t parent = getpid();
    pid_t sender = fork();
    if (sender < 0)
        return 10;
    if (sender == 0) {
        unsigned seed = 12345;
        for (;;) {
            if (kill(parent, SIGUSR1) != 0)
                _exit(0);
            seed = seed * 1103515245u + 12345u;
            struct timespec ts = { 0, 20000 + (long)(seed >> 16) % 200000 };
            nanosleep(&ts, NULL);
        }
    }
    int own_forks = 0;
    unsigned seed = 1;
    void *keep[16] = { 0 };
    for (long it = 0; handler_forks < fork_rounds() || own_forks < fork_rounds(); it++) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 8) % 16;
        size_t n = (seed >> 12) % 8 == 0 ? 70000 + (seed >> 16) % 300000 : 8 + (seed >> 16) % 2000;
        void *q = realloc_fn(keep[k], n);
        if (!q)
            return 11;
        keep[k] = q;
        memset(q, 1, 8);
        free_fn(malloc_fn(n / 2 + 1));
        if (it % 64 == 0) {
            pid_t pid = fork();
            if (pid == 0) {
                void *z = malloc_fn(100);
                _exit(z ? 0 : 1);
            }
            if (pid < 0)
                return 12;
            int st = 0;
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                return 13;
            own_forks++;
            progress();
        }
    }
    kill(sender, SIGKILL);
    waitpid(sender, NULL, 0);
    for (int k = 0; k < 16; k++)
        free_fn(keep[k]);
    return 0;
}

static int scenario_stdio(void);
static int scenario_pools(void);

static volatile int init_started;

static void *init_thread(void *arg)
{
    (void)arg;
    __atomic_store_n(&init_started, 1, __ATOMIC_RELEASE);
    void *p = numa_malloc_local(64);
    if (p)
        nslab_free(p);
    return p;
}

/* A fresh process: first use of the library on a thread, fork `delay_us`
 * after it started (the initialisation takes some tens of microseconds);
 * the child must allocate (complete it). */
static int scenario_init(unsigned delay_us)
{
    pthread_t t;
    if (pthread_create(&t, NULL, init_thread, NULL) != 0)
        return 20;
    while (!__atomic_load_n(&init_started, __ATOMIC_ACQUIRE))
        ;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &now);
    while ((now.tv_sec - t0.tv_sec) * 1000000 + (now.tv_nsec - t0.tv_nsec) / 1000 < delay_us);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(CHILD_DEADLINE_MS / 1000 + 5);
        void *p = numa_malloc_local(64);
        _exit(p && nslab_free(p) == 0 ? 0 : 1);
    }
    void *r = NULL;
    pthread_join(t, &r);
    if (pid < 0)
        return 21;
    int rc = child_status(pid);
    return rc ? rc : r ? 0 : 24;
}

/* Run a scenario in a fresh process (single-threaded at its start, and a
 * deadlock there cannot take this one with it).  Returns its exit status
 * (1000 + signal), or -1 when it made no progress for STALL_MS. */
static int run_self(const char *mode, const char *arg)
{
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        char fdarg[16];
        snprintf(fdarg, sizeof fdarg, "%d", pfd[1]);
        execl(self_exe, self_exe, mode, arg, fdarg, (char *)NULL);
        _exit(127);
    }
    assert_true(pid > 0);
    close(pfd[1]);
    int hung = 0;
    for (;;) {
        struct pollfd p = { .fd = pfd[0], .events = POLLIN };
        int r = poll(&p, 1, STALL_MS);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0) {
            hung = 1;
            break;
        }
        char buf[256];
        ssize_t n = read(pfd[0], buf, sizeof buf);
        if (n <= 0 && !(n < 0 && errno == EINTR))
            break; /* EOF: every holder of the pipe is gone */
    }
    close(pfd[0]);
    if (hung)
        kill(pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (hung)
        return -1;
    if (WIFSIGNALED(st))
        return 1000 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

/* ThreadSanitizer's runtime supports neither: its fork interceptor is not
 * async-signal-safe (it allocates in the handler's fork) and a child of a
 * multi-threaded fork may deadlock in the runtime itself (compiler-rt marks
 * its own allocator fork test unsupported under TSan). */
#if defined(__SANITIZE_THREAD__)
#define FORK_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FORK_UNDER_TSAN 1
#endif
#endif
#ifdef FORK_UNDER_TSAN
#define SKIP_UNDER_TSAN() TEST_SKIP("fork under ThreadSanitizer: its runtime is not fork-safe")
#else
#define SKIP_UNDER_TSAN() (void)0
#endif

/* Scenario results: 0 fine, 77 skip, 2 a child hung, SIGALRM the scenario
 * process itself deadlocked (in fork, or in the signal handler's fork). */
static void check_scenario(const char *what, int r)
{
    if (r == 77)
        TEST_SKIP("%s: no node with memory", what);
    if (r == -1)
        fail_msg("%s: the process deadlocked (no progress for %d ms)", what, STALL_MS);
    if (r == 2)
        fail_msg("%s: a forked child deadlocked (killed after %d ms)", what, CHILD_DEADLINE_MS);
    if (r != 0)
        fail_msg("%s: failed with %d", what, r);
}

static void test_fork_in_signal_handler(void **state)
{
    (void)state;
    SKIP_UNDER_TSAN();
    check_scenario("fork from a signal handler", run_self("--sighandler", "0"));
}

static void test_fork_racing_init(void **state)
{
    (void)state;
    SKIP_UNDER_TSAN();
#ifndef FORK_API
    TEST_SKIP("the malloc replacement is initialised by the loader's first malloc, "
              "before any thread exists: no race to stage");
#endif
    for (int i = 0; i < fork_rounds(); i++) {
        char delay[16];
        snprintf(delay, sizeof delay, "%d", (i * 3) % 50);
        int r = run_self("--init", delay);
        if (r != 0) {
            char what[64];
            snprintf(what, sizeof what, "fork during initialisation, round %d", i);
            check_scenario(what, r);
        }
    }
}

static void test_fork_against_stdio(void **state)
{
    (void)state;
    SKIP_UNDER_TSAN();
    check_scenario("fork against stdio and large reallocs", run_self("--stdio", "0"));
}

static void test_fork_while_pools_busy(void **state)
{
    (void)state;
    SKIP_UNDER_TSAN();
    check_scenario("fork while pools are busy", run_self("--pools", "0"));
}

/* ---- fork while threads use stdio and reallocate ----------------------- */

static volatile int stop_threads;
static char *line_file;

static void *flusher(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&stop_threads, __ATOMIC_RELAXED)) {
        fflush(NULL);
        sched_yield(); /* contend with fork for the list lock, do not starve it */
    }
    return NULL;
}

/* getline() grows its buffer by realloc while it holds the FILE's lock:
 * lines of 100 KB take it through the large blocks. */
static void *liner(void *arg)
{
    (void)arg;
    FILE *f = fopen(line_file, "r");
    if (!f)
        return (void *)1;
    while (!__atomic_load_n(&stop_threads, __ATOMIC_RELAXED)) {
        char *buf = NULL;
        size_t cap = 0;
        rewind(f);
        while (getline(&buf, &cap, f) > 0)
            ;
        free(buf); /* getline's buffer is libc's malloc */
        sched_yield();
    }
    fclose(f);
    return NULL;
}

static void *writer(void *arg)
{
    FILE *f = fopen("/dev/null", "w");
    unsigned seed = (unsigned)(uintptr_t)arg;
    void *p = NULL;
    if (!f)
        return (void *)1;
    while (!__atomic_load_n(&stop_threads, __ATOMIC_RELAXED)) {
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 10) % 4 == 0 ? 100000 + (seed >> 12) % 900000 : 1 + (seed >> 12) % 4000;
        /* reallocate holding the FILE's lock, as getline does (and so
         * the API build, whose stdio is glibc's malloc, meets the same
         * lock order: FILE lock -> allocator) */
        flockfile(f);
        void *q = realloc_fn(p, n);
        if (!q)
            abort();
        p = q;
        fprintf(f, "%zu %u\n", n, seed);
        funlockfile(f);
        if (seed % 8 == 0)
            sched_yield();
    }
    free_fn(p);
    fclose(f);
    return NULL;
}

static int scenario_stdio(void)
{
    char path[] = "/tmp/nslab-fork-lines-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 30;
    FILE *w = fdopen(fd, "w");
    if (!w)
        return 31;
    for (int l = 0; l < 2; l++) {
        for (int i = 0; i < 100000; i++)
            fputc('a' + (i + l) % 26, w);
        fputc('\n', w);
    }
    fclose(w);
    line_file = path;

    enum { NT = 4 };
    pthread_t th[NT];
    stop_threads = 0;
    if (pthread_create(&th[0], NULL, flusher, NULL) != 0 ||
        pthread_create(&th[1], NULL, liner, NULL) != 0 ||
        pthread_create(&th[2], NULL, writer, (void *)1) != 0 ||
        pthread_create(&th[3], NULL, writer, (void *)2) != 0)
        return 32;
    int rc = 0;
    for (int r = 0; r < fork_rounds() && !rc; r++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(CHILD_DEADLINE_MS / 1000 + 5);
            if (!child_allocates())
                _exit(2);
            FILE *f = fopen("/dev/null", "w");
            if (!f)
                _exit(3);
            fprintf(f, "child %d\n", r);
            fflush(NULL);
            fclose(f);
            _exit(0);
        }
        rc = child_status(pid);
        progress();
    }
    __atomic_store_n(&stop_threads, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < NT; i++)
        pthread_join(th[i], NULL);
    unlink(path);
    return rc;
}

/* ---- fork while pools are busy ----------------------------------------- */

static nslab_pool_t *busy_pool;

static void *pool_worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    void *held[16];
    while (!__atomic_load_n(&stop_threads, __ATOMIC_RELAXED)) {
        seed = seed * 1103515245u + 12345u;
        unsigned n = 1 + (seed >> 16) % 16;
        int got = nslab_pool_get_bulk(busy_pool, held, n);
        if (got < 0) {
            void *b = nslab_pool_get_wait(busy_pool, 1);
            if (b)
                nslab_pool_put(busy_pool, b);
            continue;
        }
        for (int i = 0; i < got; i++)
            *(unsigned *)held[i] = seed;
        if (seed & 1) {
            nslab_pool_put_bulk(busy_pool, held, (unsigned)got);
        } else {
            for (int i = 0; i < got; i++)
                nslab_pool_put(busy_pool, held[i]);
        }
        if (seed % 4 == 0)
            sched_yield(); /* busy, but let the forks run */
    }
    return NULL;
}

static int scenario_pools(void)
{
    int node = testutil_memory_node(0);
    if (node < 0)
        return 77;
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = 64, .count = 96, .cache_size = 4);
    busy_pool = nslab_pool_create(node, &o);
    if (!busy_pool)
        return 40;
    enum { NT = 3 };
    pthread_t th[NT];
    stop_threads = 0;
    for (int i = 0; i < NT; i++)
        if (pthread_create(&th[i], NULL, pool_worker, (void *)(uintptr_t)(i + 1)) != 0)
            return 41;
    int rc = 0;
    for (int r = 0; r < fork_rounds() && !rc; r++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(CHILD_DEADLINE_MS / 1000 + 5);
            /* buffers the parent's threads held are theirs: at least the
             * ones free at fork are here */
            void *b[96];
            int n = 0;
            while (n < 96 && (b[n] = nslab_pool_get(busy_pool)) != NULL)
                n++;
            for (int i = 0; i < n; i++)
                if (nslab_pool_put(busy_pool, b[i]) != 0)
                    _exit(2);
            void *w = nslab_pool_get_wait(busy_pool, n > 0 ? -1 : 10);
            if (n > 0 && !w)
                _exit(3);
            if (w)
                nslab_pool_put(busy_pool, w);
            nslab_pool_stats_t st = { .size = sizeof st, .version = NSLAB_STATS_VERSION };
            if (nslab_pool_stats(busy_pool, &st) != 0)
                _exit(4);
            _exit(child_allocates() ? 0 : 5);
        }
        rc = child_status(pid);
        progress();
    }
    __atomic_store_n(&stop_threads, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < NT; i++)
        pthread_join(th[i], NULL);
    if (!rc && nslab_pool_destroy(busy_pool) != 0)
        rc = 42;
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 4) {
        progress_fd = atoi(argv[3]);
        argc = 3;
    }
    if (argc == 3 && strcmp(argv[1], "--sighandler") == 0)
        return scenario_sighandler();
    if (argc == 3 && strcmp(argv[1], "--init") == 0)
        return scenario_init((unsigned)atoi(argv[2]));
    if (argc == 3 && strcmp(argv[1], "--stdio") == 0)
        return scenario_stdio();
    if (argc == 3 && strcmp(argv[1], "--pools") == 0)
        return scenario_pools();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_in_signal_handler),
        cmocka_unit_test(test_fork_racing_init),
        cmocka_unit_test(test_fork_against_stdio),
        cmocka_unit_test(test_fork_while_pools_busy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
