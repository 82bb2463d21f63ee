/*
 * arena/malloc/numaslab-run.c - the launcher: run any program on the numaslab
 * malloc replacement, with numactl's option names.
 *
 * It validates the options against the topology (the same parser the
 * replacement uses, malloc-env.c), sets NUMASLAB_POLICY / NUMASLAB_STATS /
 * NUMASLAB_VERBOSE, prepends libnumaslab-malloc to LD_PRELOAD, applies the
 * process memory policy and CPU binding the options ask for (like numactl,
 * so memory the allocator does not hand out - stacks, libraries' own
 * mappings - follows the same policy), and execvp()s the program.
 *
 * The library is looked for, in order: $NUMASLAB_MALLOC_LIB; beside this
 * executable when it runs from the build tree; <bindir>/<relative libdir>
 * (a relocated install); the install libdir baked in at build time.
 *
 * This is an ordinary program (it may allocate); only what it execs runs
 * on the replacement.  Exit status: the program's (exec replaces us), 0 for
 * --help / --hardware, 2 for any error of the launcher itself.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "malloc-env.h"
#include "numaslab.h"
#include "os.h"
#include "topology.h"

#ifndef NUMASLAB_RUN_BUILD_DIR
#define NUMASLAB_RUN_BUILD_DIR ""
#endif
#ifndef NUMASLAB_MALLOC_BUILD_PATH
#define NUMASLAB_MALLOC_BUILD_PATH ""
#endif
#ifndef NUMASLAB_MALLOC_INSTALL_PATH
#define NUMASLAB_MALLOC_INSTALL_PATH ""
#endif
#ifndef NUMASLAB_MALLOC_REL_PATH
#define NUMASLAB_MALLOC_REL_PATH "../lib/libnumaslab-malloc.so.0"
#endif

static const char *prog = "numaslab-run";

static void usage_short(FILE *out)
{
    fprintf(out,
            "usage: %s [--membind=NODES | --preferred=NODE | --interleave=NODES |\n"
            "                    --weighted=N=W,... | --localalloc] [--cpunodebind=NODES]\n"
            "                    [--stats[=PATH]] [--verbose] [--heap-only] [--] PROGRAM [ARGS...]\n"
            "       %s --hardware\n"
            "       %s --help\n",
            prog, prog, prog);
}

static void help(void)
{
    printf(
"NAME\n"
"    numaslab-run - run a program with the numaslab NUMA-aware malloc\n"
"\n"
"SYNOPSIS\n"
"    numaslab-run [POLICY] [--cpunodebind=NODES] [--stats[=PATH]] [--verbose]\n"
"                 [--heap-only] [--] PROGRAM [ARGS...]\n"
"    numaslab-run --hardware\n"
"    numaslab-run --help\n"
"\n"
"DESCRIPTION\n"
"    numaslab-run executes PROGRAM with libnumaslab-malloc preloaded, so that\n"
"    every malloc, free, calloc, realloc, posix_memalign, aligned_alloc,\n"
"    memalign, valloc, pvalloc and malloc_usable_size of the program (and of\n"
"    C++ new/delete) is served by numaslab's per-node arenas.  The program is\n"
"    not changed or relinked.  Memory comes from chunks that were bound to\n"
"    their node and prefaulted before any block was handed out, so the\n"
"    placement is decided at allocation, not by first touch.\n"
"\n"
"    The option names are numactl's.  Like numactl, a memory policy option\n"
"    also sets the process memory policy (see numa(7)), so memory that\n"
"    the allocator does not hand out (stacks, other libraries' own mappings)\n"
"    follows it too; --heap-only leaves the process policy alone.\n"
"\n"
"OPTIONS\n"
"    -m, --membind=NODES\n"
"        Allocate only on NODES.  A thread allocates on its local node if\n"
"        that is in NODES, else on the node of NODES nearest to it.\n"
"    -p, --preferred=NODE\n"
"        Allocate on NODE; when NODE is full, fall back to the thread's\n"
"        local node and then the nearest nodes.\n"
"    -i, --interleave=NODES\n"
"        Spread allocations over NODES: small blocks go to the nodes in\n"
"        turn (per thread), large blocks (256 KiB and more) are interleaved\n"
"        page by page over NODES.\n"
"    -w, --weighted=N=W[,N=W...]\n"
"        Like --interleave, with node N taking W (1..255) allocations per\n"
"        turn; large blocks are placed whole, by the same weights.  The\n"
"        process policy is not changed (the kernel's weighted interleave\n"
"        uses its own system-wide weights).\n"
"    -l, --localalloc\n"
"        Allocate on the thread's local node (the default).\n"
"    -N, --cpunodebind=NODES\n"
"        Run the program only on the CPUs of NODES (its CPU affinity).\n"
"    --stats[=PATH]\n"
"        Print per-node allocator statistics when the program exits: to\n"
"        stderr, for the program only (NUMASLAB_STATS=1, which the program\n"
"        does not pass on to the processes it starts); or, with PATH, to\n"
"        the file PATH, for the program and every process it starts, %%p in\n"
"        PATH standing for each one's pid (NUMASLAB_STATS=PATH; PATH must\n"
"        contain a /, e.g. ./stats.%%p).  A program that closes stderr before\n"
"        it exits needs PATH.\n"
"    -v, --verbose\n"
"        Print what the launcher sets, and the allocator's configuration\n"
"        at start-up (NUMASLAB_VERBOSE=1).\n"
"    --heap-only\n"
"        Do not set the process memory policy; only the allocator follows\n"
"        the policy option.\n"
"    -H, --hardware\n"
"        Print the NUMA topology (nodes, CPUs, memory, distances, node\n"
"        classes, cpuset) and exit.\n"
"    -h, --help\n"
"        Print this help and exit.\n"
"\n"
"    NODES is a list such as 2, 0-3, 0,2-3, or all (every node with memory\n"
"    that the cpuset allows).  Options end at the first non-option\n"
"    argument or at --.\n"
"\n"
"ENVIRONMENT\n"
"    NUMASLAB_POLICY\n"
"        local | bind:NODES | preferred:N | interleave:NODES |\n"
"        weighted:N=W,...  Set by the policy options; read by the allocator.\n"
"    NUMASLAB_STATS\n"
"        1 (or yes, true, on, stderr): this process's statistics to stderr;\n"
"        a path with a /: each process's to that file (%%p = its pid).  Set\n"
"        by --stats.\n"
"    NUMASLAB_VERBOSE\n"
"        1 (or yes, true, on) to enable; set by --verbose.\n"
"    LD_PRELOAD\n"
"        libnumaslab-malloc is put first; an existing value is kept after it.\n"
"    NUMASLAB_MALLOC_LIB\n"
"        Path of the libnumaslab-malloc shared object to preload, overriding\n"
"        the search beside this program and in the install directory.\n"
"    An invalid NUMASLAB_* value reaching the allocator directly is reported\n"
"    once on stderr and its default used; numaslab-run refuses it instead.\n"
"\n"
"EXIT STATUS\n"
"    The program's own status.  0 after --help or --hardware.  2 when\n"
"    numaslab-run itself fails: a bad option or node, the library not\n"
"    found, or the program not executable.\n"
"\n"
"EXAMPLES\n"
"    numaslab-run --hardware\n"
"    numaslab-run --membind=2 --stats redis-server --port 6380\n"
"    numaslab-run --interleave=all python3 job.py\n"
"    numaslab-run --cpunodebind=1 --membind=1 ./server\n"
"    numaslab-run --weighted=0=3,1=1 ./app      (three blocks on 0 per one on 1)\n"
"\n"
"SEE ALSO\n"
"    numactl(8), numa(7), numaslab.h\n");
}

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static int readable(const char *path)
{
    return path && path[0] && access(path, R_OK) == 0;
}

/* Where libnumaslab-malloc is, or NULL (tried[] lists what was looked at). */
static const char *find_library(char *tried, size_t len)
{
    static char buf[PATH_MAX * 2];
    char self[PATH_MAX], build[PATH_MAX];
    const char *env = getenv("NUMASLAB_MALLOC_LIB");
    ssize_t n;

    tried[0] = '\0';
    if (env && env[0]) {
        snprintf(tried, len, "%s (NUMASLAB_MALLOC_LIB)", env);
        return readable(env) ? env : NULL;
    }
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = '\0';
        if (NUMASLAB_RUN_BUILD_DIR[0] && realpath(NUMASLAB_RUN_BUILD_DIR, build) &&
            strcmp(build, self) == 0) {
            snprintf(tried, len, "%s", NUMASLAB_MALLOC_BUILD_PATH);
            if (readable(NUMASLAB_MALLOC_BUILD_PATH))
                return NUMASLAB_MALLOC_BUILD_PATH;
        }
        snprintf(buf, sizeof buf, "%s/%s", self, NUMASLAB_MALLOC_REL_PATH);
        size_t used = strlen(tried);
        snprintf(tried + used, len - used, "%s%s", used ? ", " : "", buf);
        if (readable(buf))
            return buf;
    }
    size_t used = strlen(tried);
    snprintf(tried + used, len - used, "%s%s", used ? ", " : "",
             NUMASLAB_MALLOC_INSTALL_PATH);
    if (readable(NUMASLAB_MALLOC_INSTALL_PATH))
        return NUMASLAB_MALLOC_INSTALL_PATH;
    return NULL;
}

/* LD_PRELOAD = lib, then the existing value (unless it already has lib). */
static void set_preload(const char *lib, int verbose)
{
    const char *old = getenv("LD_PRELOAD");
    char *val;

    if (old && old[0]) {
        size_t ll = strlen(lib);
        const char *p = old;
        while ((p = strstr(p, lib)) != NULL) {
            int start = p == old || p[-1] == ':' || p[-1] == ' ';
            int end = p[ll] == '\0' || p[ll] == ':' || p[ll] == ' ';
            if (start && end)
                return; /* already preloaded */
            p += ll;
        }
        if (asprintf(&val, "%s:%s", lib, old) < 0)
            die("out of memory");
    } else {
        val = strdup(lib);
        if (!val)
            die("out of memory");
    }
    if (setenv("LD_PRELOAD", val, 1) != 0)
        die("cannot set LD_PRELOAD: %s", strerror(errno));
    if (verbose)
        fprintf(stderr, "%s: LD_PRELOAD=%s\n", prog, val);
    free(val);
}

/* Bind this process (and so the program) to the CPUs of `nodes`. */
static void bind_cpus(const char *arg)
{
    nslab_nodeset_t set;
    static uint64_t cpus[TOPO_MAX_CPUS / 64], allowed[TOPO_MAX_CPUS / 64];
    const struct topology *t = topology_get();
    int ncpu = t->nr_cpus > 0 ? t->nr_cpus : 1, any = 0, err;
    size_t sz = (size_t)(ncpu + 63) / 64 * sizeof(uint64_t);

    if (nslab_nodeset_parse(arg, &set) != 0 || nslab_nodeset_count(&set) == 0)
        die("--cpunodebind=%s: bad node list (expected all, 1, 0-3, 0,2-3)", arg);
    if (strcmp(arg, "all") == 0)
        set = t->cpu;
    if ((err = os_get_affinity(allowed, sz)) != 0)
        die("reading the CPU affinity: %s", strerror(err));
    for (int n = nslab_nodeset_next(&set, 0); n >= 0;
         n = nslab_nodeset_next(&set, n + 1)) {
        nslab_node_info_t info;
        int rc = nslab_node_info(n, &info);
        if (rc == -EINVAL)
            die("--cpunodebind: node %d does not exist", n);
        if (rc != 0 || !info.online)
            die("--cpunodebind: node %d is offline", n);
        if (!info.has_cpus)
            die("--cpunodebind: node %d has no CPUs", n);
        for (int c = 0; c < ncpu; c++) {
            if (t->cpu_node[c] == n && ((allowed[c / 64] >> (c % 64)) & 1)) {
                cpus[c / 64] |= UINT64_C(1) << (c % 64);
                any = 1;
            }
        }
    }
    if (!any)
        die("--cpunodebind=%s: none of these nodes' CPUs is allowed by the cpuset",
            arg);
    if ((err = os_set_affinity(cpus, sz)) != 0)
        die("--cpunodebind=%s: setting the CPU affinity: %s", arg, strerror(err));
}

/* The process policy matching the allocator's (numactl's behaviour). */
static void set_process_policy(const struct menv_policy *p)
{
    int mode, err;

    switch (p->mode) {
    case MENV_BIND: mode = OS_POL_BIND; break;
    case MENV_PREFERRED: mode = OS_POL_PREFERRED; break;
    case MENV_INTERLEAVE: mode = OS_POL_INTERLEAVE; break;
    case MENV_LOCAL: mode = OS_POL_LOCAL; break;
    default: return; /* weighted: the allocator only (see --help) */
    }
    err = os_set_thread_policy(mode, 0, &p->nodes);
    if (err)
        die("setting the process memory policy: %s", strerror(err));
}

int main(int argc, char **argv)
{
    enum { OPT_STATS = 256, OPT_HEAP_ONLY };
    static const struct option opts[] = {
        { "membind", required_argument, NULL, 'm' },
        { "preferred", required_argument, NULL, 'p' },
        { "interleave", required_argument, NULL, 'i' },
        { "weighted", required_argument, NULL, 'w' },
        { "localalloc", no_argument, NULL, 'l' },
        { "cpunodebind", required_argument, NULL, 'N' },
        { "stats", optional_argument, NULL, OPT_STATS },
        { "verbose", no_argument, NULL, 'v' },
        { "heap-only", no_argument, NULL, OPT_HEAP_ONLY },
        { "hardware", no_argument, NULL, 'H' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *policy_opt = NULL, *policy_val = "", *cpunodes = NULL;
    char policy[4096];
    int stats = 0, verbose = 0, heap_only = 0, hardware = 0, c;
    const char *stats_path = NULL;

    policy[0] = '\0';
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:m:p:i:w:lN:vHh", opts, NULL)) != -1) {
        const char *prefix = NULL, *name = NULL;
        switch (c) {
        case 'm': prefix = "bind:"; name = "--membind"; break;
        case 'p': prefix = "preferred:"; name = "--preferred"; break;
        case 'i': prefix = "interleave:"; name = "--interleave"; break;
        case 'w': prefix = "weighted:"; name = "--weighted"; break;
        case 'l': prefix = "local"; name = "--localalloc"; break;
        case 'N': cpunodes = optarg; break;
        case OPT_STATS:
            stats = 1;
            stats_path = optarg;
            if (stats_path && !strchr(stats_path, '/'))
                die("--stats=%s: the path must contain a / (e.g. ./%s)", stats_path, stats_path);
            break;
        case 'v': verbose = 1; break;
        case OPT_HEAP_ONLY: heap_only = 1; break;
        case 'H': hardware = 1; break;
        case 'h': help(); return 0;
        case ':':
            fprintf(stderr, "%s: option %s needs a value\n", prog, argv[optind - 1]);
            usage_short(stderr);
            return 2;
        default:
            fprintf(stderr, "%s: unknown option %s\n", prog, argv[optind - 1]);
            usage_short(stderr);
            return 2;
        }
        if (prefix) {
            if (policy_opt)
                die("%s and %s both set a policy: choose one", policy_opt, name);
            policy_opt = name;
            policy_val = c == 'l' ? "" : optarg;
            if (c == 'l')
                snprintf(policy, sizeof policy, "local");
            else if ((size_t)snprintf(policy, sizeof policy, "%s%s", prefix,
                                      optarg) >= sizeof policy)
                die("%s: value too long", name);
        }
    }

    if (hardware) {
        if (nslab_topology_print(stdout) != 0)
            die("cannot print the topology (%s)", strerror(errno));
        return 0;
    }
    if (optind >= argc) {
        fprintf(stderr, "%s: no program to run\n", prog);
        usage_short(stderr);
        return 2;
    }
    if (nslab_init() != 0 && verbose)
        fprintf(stderr, "%s: warning: NUMA topology not found; one node assumed\n",
                prog);

    /* Validate with the allocator's own parser, so what we set is what it
     * will accept. */
    if (policy[0]) {
        struct menv_policy p;
        char why[160];
        if (menv_parse_policy(policy, &p, why, sizeof why) != 0)
            die("%s=%s: %s", policy_opt, policy_val, why);
        if (!heap_only)
            set_process_policy(&p);
        if (setenv("NUMASLAB_POLICY", policy, 1) != 0)
            die("cannot set NUMASLAB_POLICY: %s", strerror(errno));
        if (verbose)
            fprintf(stderr, "%s: NUMASLAB_POLICY=%s%s\n", prog, policy,
                    heap_only || p.mode == MENV_WEIGHTED
                        ? " (process memory policy unchanged)"
                        : " (and the process memory policy)");
    }
    if (cpunodes)
        bind_cpus(cpunodes);
    if (stats && setenv("NUMASLAB_STATS", stats_path ? stats_path : "1", 1) != 0)
        die("cannot set NUMASLAB_STATS: %s", strerror(errno));
    if (verbose && setenv("NUMASLAB_VERBOSE", "1", 1) != 0)
        die("cannot set NUMASLAB_VERBOSE: %s", strerror(errno));

    char tried[PATH_MAX * 4];
    const char *lib = find_library(tried, sizeof tried);
    if (!lib)
        die("cannot find libnumaslab-malloc (looked at: %s); set NUMASLAB_MALLOC_LIB",
            tried);
    /* tidy the folder ("bin/../lib"), keep the file name (the soname link) */
    char dir[PATH_MAX], canon[PATH_MAX * 2];
    const char *base = strrchr(lib, '/');
    if (base && (size_t)(base - lib) < sizeof dir) {
        memcpy(dir, lib, (size_t)(base - lib));
        dir[base - lib] = '\0';
        char real[PATH_MAX];
        if (realpath(dir[0] ? dir : "/", real)) {
            snprintf(canon, sizeof canon, "%s%s", real, base);
            lib = canon;
        }
    }
    set_preload(lib, verbose);

    execvp(argv[optind], &argv[optind]);
    die("cannot run %s: %s", argv[optind], strerror(errno));
}
