/*
 * examples/demo.c - numaslab-demo, the main job: what the library does on
 * this machine, each placement claim checked with move_pages(2) and marked
 * PASS or FAIL.  Sections run in the order of the table below; see demo.h
 * for how to add one.  Exit status: 0 if every claim passed, 1 otherwise,
 * 2 if the library could not start or an argument names no section.  A
 * section that cannot run on this machine says why on one SKIP line.
 *
 * Usage: numaslab-demo [SECTION...]   (section numbers or names; default all)
 */
#include "demo.h"
#include "pool_demo.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(struct demo *d);
} sections[] = {
    {"topology", demo_topology},       /* 1. the machine as the library sees it */
    {"regions", demo_regions},         /* 2. one bound region per node */
    {"interleaved", demo_interleaved}, /* 3. one allocation over all nodes */
    {"arena", demo_arena},             /* 4. numa_malloc_on on every node */
    {"pools", demo_pools},             /* 5. a pool per worker (pool_demo.c) */
    {"move", demo_move},               /* 6. a region moved between nodes */
    {"layout", demo_layout},           /* 7. the cpuset changes under a process */
    {"compare", demo_compare},         /* 8. side by side with libc malloc */
};
#define NSECTIONS (sizeof sections / sizeof sections[0])

int demo_claim(struct demo *d, int ok, const char *fmt, ...)
{
    va_list ap;
    fprintf(d->out, "  %s  ", ok ? "PASS" : "FAIL");
    va_start(ap, fmt);
    vfprintf(d->out, fmt, ap);
    va_end(ap);
    fputc('\n', d->out);
    d->claims++;
    d->fails += !ok;
    return ok;
}

/* One "nodeN COUNT (PCT%)" column per allowed node with memory and per node
 * with a nonzero count; a zero is printed bare, so that eight columns fit. */
static void columns(struct demo *d, const size_t *count, size_t total)
{
    for (int n = 0; n < NSLAB_MAX_NODES; n++) {
        if (!count[n] && !nslab_nodeset_has(&d->nodes, n))
            continue;
        if (count[n])
            fprintf(d->out, " node%d %zu (%.1f%%)", n, count[n],
                    total ? 100.0 * (double)count[n] / (double)total : 0.0);
        else
            fprintf(d->out, " node%d 0", n);
    }
}

void demo_histogram(struct demo *d, const char *prefix, const nslab_placement_t *p)
{
    fprintf(d->out, "%s", prefix);
    columns(d, p->on_node, p->pages);
    if (p->not_present)
        fprintf(d->out, " not-present %zu", p->not_present);
    if (p->errors)
        fprintf(d->out, " errors %zu", p->errors);
    fprintf(d->out, "  [%zu pages of %zu KiB]\n", p->pages, p->page_size >> 10);
}

void demo_counts(struct demo *d, const char *prefix, const size_t *count, size_t total,
                 const char *unit)
{
    fprintf(d->out, "%s", prefix);
    columns(d, count, total);
    fprintf(d->out, "  [%zu %s]\n", total, unit);
}

void demo_title(struct demo *d, const char *fmt, ...)
{
    va_list ap;
    fprintf(d->out, "\n== %d. ", d->section);
    va_start(ap, fmt);
    vfprintf(d->out, fmt, ap);
    va_end(ap);
    fputc('\n', d->out);
}

static int wanted(int argc, char **argv, unsigned i)
{
    if (argc < 2)
        return 1;
    for (int a = 1; a < argc; a++) {
        char *end;
        long k = strtol(argv[a], &end, 10);
        if ((*end == 0 && k == (long)i + 1) || strcmp(argv[a], sections[i].name) == 0)
            return 1;
    }
    return 0;
}

/* An argument that names no section: a usage error, not an empty run. */
static int known(const char *arg)
{
    char *end;
    long k = strtol(arg, &end, 10);
    if (*end == 0 && k >= 1 && k <= (long)NSECTIONS)
        return 1;
    for (unsigned i = 0; i < NSECTIONS; i++)
        if (strcmp(arg, sections[i].name) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--layout-child") == 0)
        return demo_layout_child(argc, argv);
    for (int a = 1; a < argc; a++) {
        if (!known(argv[a])) {
            fprintf(stderr, "numaslab-demo: no section '%s'; sections:", argv[a]);
            for (unsigned i = 0; i < NSECTIONS; i++)
                fprintf(stderr, " %u %s", i + 1, sections[i].name);
            fputc('\n', stderr);
            return 2;
        }
    }
    struct demo d = {.out = stdout};
    int e = nslab_init();
    if (e) {
        fprintf(stderr, "numaslab-demo: nslab_init: %s\n", strerror(-e));
        return 2;
    }
    nslab_nodes(NSLAB_NODES_ALLOWED, &d.nodes);
    fprintf(d.out, "numaslab %d.%d.%d demo: every placement claim is checked with "
                   "move_pages(2)\n",
            NUMASLAB_VERSION_MAJOR, NUMASLAB_VERSION_MINOR, NUMASLAB_VERSION_PATCH);

    for (unsigned i = 0; i < NSECTIONS; i++) {
        if (!wanted(argc, argv, i))
            continue;
        d.section = (int)i + 1;
        if (sections[i].run(&d) != 0)
            demo_claim(&d, 0, "section %s could not run", sections[i].name);
        fflush(d.out);
    }
    fprintf(d.out, "\n%d claims, %d passed, %d failed", d.claims, d.claims - d.fails, d.fails);
    if (d.skips)
        fprintf(d.out, ", %d section%s skipped (SKIP above)", d.skips, d.skips == 1 ? "" : "s");
    fprintf(d.out, ": %s\n", d.fails ? "FAIL" : "PASS");
    return d.fails ? 1 : 0;
}
