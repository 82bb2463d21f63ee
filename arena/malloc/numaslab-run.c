/*
 * arena/malloc/numaslab-run.c - the launcher: run any program on the numaslab
 * malloc replacement, with numactl's option names.
 *
 * It validates the options against the topology (the same parser the
 * replacement uses, arena/policy-env.c), sets NUMASLAB_POLICY / NUMASLAB_STATS /
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

#include "policy-env.h"
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
            "usage: %s [--membind=NODES [--balancing] | --preferred=NODE |\n"
            "                    --preferred-many=NODES | --interleave=NODES |\n"
            "                    --weighted-interleave=NODES | --weighted=N=W,... | --localalloc]\n"
            "                    [--cpunodebind=NODES | --physcpubind=CPUS] [--stats] [--verbose]\n"
            "                    [--heap-only] [--] PROGRAM [ARGS...]\n"
            "       %s --show | --hardware | --help\n",
            prog, prog);
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
"    their node before any block was handed out, so the placement is\n"
"    decided at allocation, not by first touch (--prefault says how much\n"
"    is populated ahead).\n"
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
"    -P, --preferred-many=NODES\n"
"        Allocate on the node of NODES nearest to the thread (its own if it\n"
"        is one); when they are all full, fall back outside NODES\n"
"        (the kernel's preferred-many mode, 5.15+).\n"
"    -w, --weighted-interleave=NODES\n"
"        numactl's weighted interleave: like --interleave, each node taking\n"
"        as many allocations per turn as its system weight\n"
"        (/sys/kernel/mm/mempolicy/weighted_interleave/nodeN, 1 where\n"
"        absent); the process policy is the kernel's weighted interleave (6.9+; on\n"
"        older kernels only the allocator interleaves, and a note says so).\n"
"    --weighted=N=W[,N=W...]\n"
"        Like --interleave, with node N taking W (1..255) allocations per\n"
"        turn; large blocks are placed whole, by the same weights.  The\n"
"        process policy is not changed (the kernel's weighted interleave\n"
"        uses its own system-wide weights).\n"
"    -b, --balancing\n"
"        With --membind: let the kernel's NUMA balancing move pages among\n"
"        the bound nodes (a flag of the bind mode, kernel 5.12+).\n"
"    -l, --localalloc\n"
"        Allocate on the thread's local node (the default).\n"
"    -N, --cpunodebind=NODES\n"
"        Run the program only on the CPUs of NODES (its CPU affinity).\n"
"    -C, --physcpubind=CPUS\n"
"        Run the program only on CPUS (0, 0-3, 0,2-3, all, +0-1, !2).\n"
"    -s, --show\n"
"        Print the memory policy and CPU binding (as numactl --show), with\n"
"        the other options applied, and exit.\n"
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
"    --prefault=none|slabs|all|default\n"
"        What the allocator populates before handing memory out\n"
"        (NUMASLAB_PREFAULT): slabs as their blocks go out (slabs, the\n"
"        default for malloc), large blocks too (all), or nothing (none).\n"
"        Placement does not depend on it: every mapping is bound first.\n"
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
"    that the cpuset allows), as numactl takes it: +LIST counts in the\n"
"    cpuset's allowed nodes (+0 is the first allowed node), !LIST is every\n"
"    allowed node but LIST.  Options end at the first non-option argument\n"
"    or at --.\n"
"\n"
"ENVIRONMENT\n"
"    NUMASLAB_POLICY\n"
"        local | bind:NODES | preferred:N | preferred-many:NODES |\n"
"        interleave:NODES | weighted:N=W,...  Set by the policy options;\n"
"        read by the allocator.\n"
"    NUMASLAB_STATS\n"
"        1 (or yes, true, on, stderr): this process's statistics to stderr;\n"
"        a path with a /: each process's to that file (%%p = its pid).  Set\n"
"        by --stats.\n"
"    NUMASLAB_VERBOSE\n"
"        1 (or yes, true, on) to enable; set by --verbose.\n"
"    NUMASLAB_PREFAULT\n"
"        none | slabs | all | default; set by --prefault.\n"
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
"    numaslab-run -m +0 -C +0 --balancing ./app (the first allowed node and CPU)\n"
"    numaslab-run --interleave='!0' ./app       (every allowed node but 0)\n"
"\n"
"SEE ALSO\n"
"    numactl(8), numa(7), numaslab(3)\n");
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

static void node_arg(const char *opt, const char *arg, int cpu, int one, char *out, size_t len);

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

    char list[3000];
    if (arg[0] == '!' || arg[0] == '+') {
        node_arg("--cpunodebind", arg, 1, 0, list, sizeof list);
        arg = list;
    }
    if (nslab_nodeset_parse(arg, &set) != 0 || nslab_nodeset_count(&set) == 0)
        die("--cpunodebind=%s: bad node list (expected all, 1, 0-3, 0,2-3, +0, !1)", arg);
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

/* The process policy matching the allocator's (numactl's behaviour):
 * every mode but --weighted (whose weights the kernel cannot take);
 * --weighted-interleave is the kernel's weighted interleave mode (6.9+),
 * and where the kernel lacks it the program's own mappings are not
 * interleaved: said on stderr, not hidden. */
static void set_process_policy(const struct menv_policy *p, int balancing, const char *opt,
                               int verbose)
{
    nslab_policy_t pol;
    switch (p->mode) {
    case MENV_BIND:
        pol = nslab_policy_bind_set(&p->nodes);
        if (balancing)
            pol.flags |= NSLAB_POLICY_NUMA_BALANCING;
        break;
    case MENV_PREFERRED: pol = nslab_policy_preferred(p->preferred); break;
    case MENV_PREFERRED_MANY: pol = nslab_policy_preferred_many(&p->nodes); break;
    case MENV_INTERLEAVE: pol = nslab_policy_interleave(&p->nodes); break;
    case MENV_LOCAL: pol = nslab_policy_local(); break;
    default: /* weighted */
        if (strcmp(opt, "--weighted") == 0)
            return; /* the allocator only (see --help) */
        if (!topology_get()->has_weighted_interleave) {
            fprintf(stderr, "%s: note: the kernel lacks weighted interleave (6.9): "
                    "only the allocator interleaves by weight, the process policy is "
                    "unchanged\n", prog);
            return;
        }
        {
            static unsigned char w[NSLAB_MAX_NODES];
            for (int i = 0; i < p->nmembers; i++)
                w[i] = p->weight[i];
            pol = nslab_policy_weighted(&p->nodes, w, (size_t)p->nmembers);
            /* the system's own weights: the kernel mode takes them */
        }
        break;
    }
    int err = nslab_thread_set_policy(&pol);
    if (err == -EOPNOTSUPP && balancing)
        die("--balancing: the kernel lacks the numa-balancing flag (5.12)");
    if (err == -EOPNOTSUPP && p->mode == MENV_PREFERRED_MANY)
        die("--preferred-many: the kernel lacks the preferred-many mode (5.15)");
    if (err)
        die("setting the process memory policy: %s", strerror(-err));
    (void)verbose;
}

/* numactl's node syntax: all | LIST | +LIST (indexes into the allowed
 * nodes) | !LIST (every allowed node but these) | !+LIST.  The allowed
 * nodes are the cpuset's nodes with memory (cpu = 0) or with CPUs
 * (cpu = 1).  one = 1: exactly one node (--preferred).  Writes the
 * absolute list ("0,2-3") to out; dies with a message on bad input. */
/* numactl's list prefixes, in its order: "!" inverts the list, "+" makes
 * it relative to the allowed set.  Returns the list after them. */
static const char *list_prefixes(const char *a, int *invert, int *relative)
{
    if (*a == '!') {
        *invert = 1;
        a++;
    }
    if (*a == '+') {
        *relative = 1;
        a++;
    }
    return a;
}

static void node_arg(const char *opt, const char *arg, int cpu, int one, char *out, size_t len)
{
    const struct topology *t = topology_get();
    nslab_nodeset_t universe, set, res;
    int invert = 0, relative = 0;
    const char *a = arg;
    nslab_nodeset_zero(&universe);
    for (int n = 0; n < t->nr_nodes; n++)
        if (t->node[n].online && t->node[n].allowed &&
            (cpu ? t->node[n].has_cpus : t->node[n].has_memory))
            nslab_nodeset_add(&universe, n);
    a = list_prefixes(a, &invert, &relative);
    if (nslab_nodeset_parse(a, &set) != 0)
        die("%s=%s: bad node list (expected all, 1, 0-3, 0,2-3, +0-1, !2)", opt, arg);
    if (strcmp(a, "all") == 0)
        set = universe;
    if (relative) {
        int k = nslab_nodeset_count(&universe);
        nslab_nodeset_zero(&res);
        for (int i = nslab_nodeset_next(&set, 0); i >= 0; i = nslab_nodeset_next(&set, i + 1)) {
            if (i >= k)
                die("%s=%s: +%d: only %d allowed nodes", opt, arg, i, k);
            int n = nslab_nodeset_next(&universe, 0);
            for (int j = 0; j < i; j++)
                n = nslab_nodeset_next(&universe, n + 1);
            nslab_nodeset_add(&res, n);
        }
        set = res;
    }
    if (invert) {
        for (unsigned i = 0; i < NSLAB_MAX_NODES / 64; i++)
            res.bits[i] = universe.bits[i] & ~set.bits[i];
        set = res;
    }
    int cnt = nslab_nodeset_count(&set);
    if (cnt == 0)
        die("%s=%s: no node left", opt, arg);
    if (one && cnt != 1)
        die("%s=%s: takes one node", opt, arg);
    if (nslab_nodeset_format(&set, out, len) >= (int)len)
        die("%s=%s: value too long", opt, arg);
}

/* numactl's -w NODES: weighted interleave with the system's weights
 * (/sys/kernel/mm/mempolicy/weighted_interleave/nodeN; 1 where the kernel
 * has none), as the allocator's weighted:N=W,... text. */
static void system_weights(const char *opt, const char *arg, char *out, size_t len)
{
    char list[3000];
    nslab_nodeset_t set;
    node_arg(opt, arg, 0, 0, list, sizeof list);
    if (nslab_nodeset_parse(list, &set) != 0)
        die("%s=%s: bad node list", opt, arg);
    size_t used = 0;
    out[0] = '\0';
    for (int n = nslab_nodeset_next(&set, 0); n >= 0; n = nslab_nodeset_next(&set, n + 1)) {
        unsigned w = topology_interleave_weight(n);
        int k = snprintf(out + used, len - used, "%s%d=%u", used ? "," : "", n, w ? w : 1u);
        if (k < 0 || (size_t)k >= len - used)
            die("%s=%s: value too long", opt, arg);
        used += (size_t)k;
    }
}

/* --physcpubind=CPUS: all | LIST | +LIST (indexes into the allowed CPUs) |
 * !LIST, numactl's syntax; the CPU affinity set to exactly those. */
static void bind_physcpus(const char *arg)
{
    static uint64_t allowed[TOPO_MAX_CPUS / 64], want[TOPO_MAX_CPUS / 64],
        cpus[TOPO_MAX_CPUS / 64];
    const struct topology *t = topology_get();
    int ncpu = t->nr_cpus > 0 ? t->nr_cpus : 1, err;
    size_t sz = (size_t)(ncpu + 63) / 64 * sizeof(uint64_t);
    const char *a = arg;
    int invert = 0, relative = 0;
    if ((err = os_get_affinity(allowed, sz)) != 0)
        die("reading the CPU affinity: %s", strerror(err));
    a = list_prefixes(a, &invert, &relative);
    if (strcmp(a, "all") == 0) {
        memcpy(want, allowed, sz);
    } else {
        const char *s = a;
        if (!*s)
            die("--physcpubind=%s: empty CPU list", arg);
        while (*s) {
            char *end;
            unsigned long lo = strtoul(s, &end, 10), hi = lo;
            if (end == s)
                die("--physcpubind=%s: bad CPU list (expected 0, 0-3, 0,2-3, +0-1, !2)", arg);
            s = end;
            if (*s == '-') {
                hi = strtoul(s + 1, &end, 10);
                if (end == s + 1 || hi < lo)
                    die("--physcpubind=%s: bad CPU range", arg);
                s = end;
            }
            if (*s == ',')
                s++;
            else if (*s)
                die("--physcpubind=%s: bad CPU list", arg);
            for (unsigned long c = lo; c <= hi; c++) {
                if (c >= (unsigned long)ncpu || c >= TOPO_MAX_CPUS)
                    die("--physcpubind=%s: CPU %lu does not exist", arg, c);
                want[c / 64] |= UINT64_C(1) << (c % 64);
            }
        }
    }
    if (relative) { /* index i = the i-th allowed CPU */
        uint64_t map[TOPO_MAX_CPUS / 64] = {0};
        int idx = 0;
        for (int c = 0; c < ncpu; c++)
            if ((allowed[c / 64] >> (c % 64)) & 1) {
                if ((want[idx / 64] >> (idx % 64)) & 1)
                    map[c / 64] |= UINT64_C(1) << (c % 64);
                idx++;
            }
        for (int c = idx; c < ncpu; c++)
            if ((want[c / 64] >> (c % 64)) & 1)
                die("--physcpubind=%s: +%d: only %d allowed CPUs", arg, c, idx);
        memcpy(want, map, sz);
    }
    int any = 0;
    for (int c = 0; c < ncpu; c++) {
        int w = (want[c / 64] >> (c % 64)) & 1, ok = (allowed[c / 64] >> (c % 64)) & 1;
        if (invert)
            w = !w && ok;
        else if (w && !ok)
            die("--physcpubind=%s: CPU %d is not allowed by the cpuset", arg, c);
        if (w) {
            cpus[c / 64] |= UINT64_C(1) << (c % 64);
            any = 1;
        }
    }
    if (!any)
        die("--physcpubind=%s: no CPU left", arg);
    if ((err = os_set_affinity(cpus, sz)) != 0)
        die("--physcpubind=%s: setting the CPU affinity: %s", arg, strerror(err));
}

/* --show, as numactl prints it: the policy, preferred node, CPUs, nodes. */
static void print_cpus(const char *label, const uint64_t *m, int ncpu)
{
    printf("%s:", label);
    for (int c = 0; c < ncpu; c++)
        if ((m[c / 64] >> (c % 64)) & 1)
            printf(" %d", c);
    printf("\n");
}

static void print_nodes(const char *label, const nslab_nodeset_t *s)
{
    printf("%s:", label);
    for (int n = nslab_nodeset_next(s, 0); n >= 0; n = nslab_nodeset_next(s, n + 1))
        printf(" %d", n);
    printf("\n");
}

static void show_policy(void)
{
    static const char *names[] = {"local", "bind", "preferred", "preferred-many", "interleave",
                                  "weighted-interleave", "default"};
    static uint64_t cpus[TOPO_MAX_CPUS / 64];
    const struct topology *t = topology_get();
    int ncpu = t->nr_cpus > 0 ? t->nr_cpus : 1, err;
    nslab_policy_t p;
    if ((err = nslab_thread_get_policy(&p)) != 0)
        die("reading the memory policy: %s", strerror(-err));
    if ((err = os_get_affinity(cpus, (size_t)(ncpu + 63) / 64 * 8)) != 0)
        die("reading the CPU affinity: %s", strerror(err));
    int mi = p.mode == NSLAB_POLICY_LOCAL ? 0 : p.mode == NSLAB_POLICY_BIND ? 1
           : p.mode == NSLAB_POLICY_PREFERRED ? 2 : p.mode == NSLAB_POLICY_PREFERRED_MANY ? 3
           : p.mode == NSLAB_POLICY_INTERLEAVE ? 4 : p.mode == NSLAB_POLICY_WEIGHTED_INTERLEAVE ? 5
           : 6;
    printf("policy: %s%s\n", names[mi],
           (p.flags & NSLAB_POLICY_NUMA_BALANCING) ? " (balancing)" : "");
    if (p.mode == NSLAB_POLICY_PREFERRED)
        printf("preferred node: %d\n", p.node);
    else
        printf("preferred node: current\n");
    print_cpus("physcpubind", cpus, ncpu);
    nslab_nodeset_t cpun, memn;
    nslab_nodeset_zero(&cpun);
    for (int c = 0; c < ncpu; c++)
        if (((cpus[c / 64] >> (c % 64)) & 1) && t->cpu_node[c] >= 0)
            nslab_nodeset_add(&cpun, t->cpu_node[c]);
    print_nodes("cpubind", &cpun);
    print_nodes("nodebind", &cpun);
    nslab_nodes(NSLAB_NODES_ALLOWED, &memn);
    if (p.mode == NSLAB_POLICY_BIND || p.mode == NSLAB_POLICY_INTERLEAVE ||
        p.mode == NSLAB_POLICY_PREFERRED_MANY || p.mode == NSLAB_POLICY_WEIGHTED_INTERLEAVE)
        print_nodes(p.mode == NSLAB_POLICY_BIND ? "membind" : "interleavemask", &p.nodes);
    else
        print_nodes("membind", &memn);
}

int main(int argc, char **argv)
{
    enum { OPT_STATS = 256, OPT_HEAP_ONLY, OPT_WEIGHTS, OPT_PREFAULT };
    static const struct option opts[] = {
        { "membind", required_argument, NULL, 'm' },
        { "preferred", required_argument, NULL, 'p' },
        { "preferred-many", required_argument, NULL, 'P' },
        { "interleave", required_argument, NULL, 'i' },
        { "weighted-interleave", required_argument, NULL, 'w' },
        { "weighted", required_argument, NULL, OPT_WEIGHTS },
        { "localalloc", no_argument, NULL, 'l' },
        { "cpunodebind", required_argument, NULL, 'N' },
        { "physcpubind", required_argument, NULL, 'C' },
        { "balancing", no_argument, NULL, 'b' },
        { "show", no_argument, NULL, 's' },
        { "stats", optional_argument, NULL, OPT_STATS },
        { "verbose", no_argument, NULL, 'v' },
        { "heap-only", no_argument, NULL, OPT_HEAP_ONLY },
        { "prefault", required_argument, NULL, OPT_PREFAULT },
        { "hardware", no_argument, NULL, 'H' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *policy_opt = NULL, *policy_val = "", *cpunodes = NULL, *physcpus = NULL;
    char policy[4096];
    int stats = 0, verbose = 0, heap_only = 0, hardware = 0, show = 0, balancing = 0, c;
    const char *stats_path = NULL, *prefault = NULL;

    policy[0] = '\0';
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:m:p:P:i:w:lN:C:bsvHh", opts, NULL)) != -1) {
        const char *prefix = NULL, *name = NULL;
        switch (c) {
        case 'm': prefix = "bind:"; name = "--membind"; break;
        case 'p': prefix = "preferred:"; name = "--preferred"; break;
        case 'P': prefix = "preferred-many:"; name = "--preferred-many"; break;
        case 'i': prefix = "interleave:"; name = "--interleave"; break;
        case 'w': prefix = "weighted:"; name = "--weighted-interleave"; break;
        case OPT_WEIGHTS: prefix = "weighted:"; name = "--weighted"; break;
        case 'l': prefix = "local"; name = "--localalloc"; break;
        case 'N': cpunodes = optarg; break;
        case 'C': physcpus = optarg; break;
        case 'b': balancing = 1; break;
        case 's': show = 1; break;
        case OPT_STATS:
            stats = 1;
            stats_path = optarg;
            if (stats_path && !strchr(stats_path, '/'))
                die("--stats=%s: the path must contain a / (e.g. ./%s)", stats_path, stats_path);
            break;
        case 'v': verbose = 1; break;
        case OPT_HEAP_ONLY: heap_only = 1; break;
        case OPT_PREFAULT:
            if (menv_parse_prefault(optarg) < 0)
                die("--prefault=%s: expected none, slabs, all or default", optarg);
            prefault = optarg;
            break;
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
            char val[3000];
            if (c == 'l')
                val[0] = '\0';
            else if (c == OPT_WEIGHTS)
                snprintf(val, sizeof val, "%s", optarg);
            else if (c == 'p')
                node_arg(name, optarg, 0, 1, val, sizeof val);
            else if (c == 'w')
                system_weights(name, optarg, val, sizeof val);
            else
                node_arg(name, optarg, 0, 0, val, sizeof val);
            if (c == 'l')
                snprintf(policy, sizeof policy, "local");
            else if ((size_t)snprintf(policy, sizeof policy, "%s%s", prefix, val) >=
                     sizeof policy)
                die("%s: value too long", name);
        }
    }
    if (balancing && (!policy_opt || strcmp(policy_opt, "--membind") != 0))
        die("--balancing works with --membind only (numa balancing is a flag of the bind mode)");

    if (hardware) {
        if (nslab_topology_print(stdout) != 0)
            die("cannot print the topology (%s)", strerror(errno));
        return 0;
    }
    if (optind >= argc && !show) {
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
            set_process_policy(&p, balancing, policy_opt, verbose);
        if (setenv("NUMASLAB_POLICY", policy, 1) != 0)
            die("cannot set NUMASLAB_POLICY: %s", strerror(errno));
        if (verbose)
            fprintf(stderr, "%s: NUMASLAB_POLICY=%s%s\n", prog, policy,
                    heap_only || (p.mode == MENV_WEIGHTED && strcmp(policy_opt, "--weighted") == 0)
                        ? " (process memory policy unchanged)"
                        : " (and the process memory policy)");
    }
    if (cpunodes && physcpus)
        die("--cpunodebind and --physcpubind both bind the CPUs: choose one");
    if (cpunodes)
        bind_cpus(cpunodes);
    if (physcpus)
        bind_physcpus(physcpus);
    if (show) { /* as numactl: the options before it are applied */
        show_policy();
        return 0;
    }
    if (stats && setenv("NUMASLAB_STATS", stats_path ? stats_path : "1", 1) != 0)
        die("cannot set NUMASLAB_STATS: %s", strerror(errno));
    if (verbose && setenv("NUMASLAB_VERBOSE", "1", 1) != 0)
        die("cannot set NUMASLAB_VERBOSE: %s", strerror(errno));
    if (prefault && setenv("NUMASLAB_PREFAULT", prefault, 1) != 0)
        die("cannot set NUMASLAB_PREFAULT: %s", strerror(errno));

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
