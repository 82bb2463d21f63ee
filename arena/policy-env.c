/*
 * arena/policy-env.c - the process default policy's configuration
 * (process.c), parsed from the environment by hand (policy-env.h lists the
 * variables).
 *
 * Runs on the replacement's bootstrap path, possibly before libc's
 * constructors and inside the first malloc of the process, so: no malloc,
 * no stdio, no locale-dependent parsing (no sscanf/strtol/ctype);
 * secure_getenv (which ignores the environment in setuid programs),
 * memset and write(2) only.  Messages are composed in stack buffers.
 *
 * Threads: the functions keep no state; the caller (process.c) publishes
 * the struct they fill.
 */
#include "policy-env.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "topology.h"

/* ---- a bounded string builder ---------------------------------------- */

void menv_buf_init(struct menv_buf *b, char *buf, size_t cap)
{
    b->buf = buf;
    b->cap = cap;
    b->len = 0;
    if (cap)
        buf[0] = '\0';
}

static void buf_putc(struct menv_buf *b, char c)
{
    if (b->len + 1 < b->cap) {
        b->buf[b->len] = c;
        b->buf[b->len + 1] = '\0';
    }
    b->len++;
}

void menv_buf_str(struct menv_buf *b, const char *s)
{
    while (s && *s)
        buf_putc(b, *s++);
}

void menv_buf_uint(struct menv_buf *b, unsigned long long v)
{
    char d[20];
    int n = text_utoa(v, d);
    for (int i = 0; i < n; i++)
        buf_putc(b, d[i]);
}

void menv_buf_int(struct menv_buf *b, long long v)
{
    if (v < 0) {
        buf_putc(b, '-');
        menv_buf_uint(b, 0ULL - (unsigned long long)v);
    } else {
        menv_buf_uint(b, (unsigned long long)v);
    }
}

void menv_buf_write(const struct menv_buf *b, int fd)
{
    size_t len = b->len < b->cap ? b->len : (b->cap ? b->cap - 1 : 0);
    const char *p = b->buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        len -= (size_t)w;
    }
}

void menv_buf_newline(struct menv_buf *b)
{
    size_t len;
    if (b->cap == 0)
        return;
    len = b->len < b->cap - 1 ? b->len : b->cap - 1;
    if (len == b->cap - 1 && len > 0)
        len--; /* room for the newline and the NUL */
    b->buf[len] = '\n';
    b->buf[len + 1] = '\0';
    b->len = len + 1;
}

void menv_buf_writeln(struct menv_buf *b, int fd)
{
    if (b->cap == 0)
        return;
    menv_buf_newline(b);
    menv_buf_write(b, fd);
}

/* ---- small parsers ---------------------------------------------------- */

static int has_prefix(const char *s, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0)
        return 0;
    *rest = s + n;
    return 1;
}

/* A decimal number <= max; advances *s.  0, or EINVAL. */
static int parse_uint(const char **s, unsigned long max, unsigned long *out)
{
    const char *p = *s;
    unsigned long v = 0;
    if (*p < '0' || *p > '9')
        return EINVAL;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > max)
            return EINVAL;
        p++;
    }
    *s = p;
    *out = v;
    return 0;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int word_is(const char *s, const char *word)
{
    while (*s && *word && lower(*s) == *word) {
        s++;
        word++;
    }
    return *s == '\0' && *word == '\0';
}

int menv_parse_prefault(const char *text)
{
    if (!text || !text[0] || word_is(text, "default"))
        return NSLAB_ARENA_PREFAULT_DEFAULT;
    if (word_is(text, "none"))
        return NSLAB_ARENA_PREFAULT_NONE;
    if (word_is(text, "slabs"))
        return NSLAB_ARENA_PREFAULT_SLABS;
    if (word_is(text, "all"))
        return NSLAB_ARENA_PREFAULT_ALL;
    return -1;
}

int menv_parse_bool(const char *text)
{
    if (!text)
        return 0;
    static const char *const on[] = { "1", "yes", "true", "on" };
    static const char *const off[] = { "", "0", "no", "false", "off" };
    for (size_t i = 0; i < sizeof on / sizeof on[0]; i++)
        if (word_is(text, on[i]))
            return 1;
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++)
        if (word_is(text, off[i]))
            return 0;
    return -1;
}

/* ---- the policy ------------------------------------------------------- */

static void why_set(char *why, size_t whylen, const char *a, long long node,
                    const char *b)
{
    struct menv_buf m;
    menv_buf_init(&m, why, whylen);
    menv_buf_str(&m, a);
    if (node >= 0) {
        menv_buf_int(&m, node);
        menv_buf_str(&m, b);
    }
}

/* Check one node as an allocation target; on error write why. */
static int check_node(const struct topology *t, int node, char *why,
                      size_t whylen)
{
    switch (topology_check_node(t, node)) {
    case 0:
        return 0;
    case ENODEV:
        why_set(why, whylen, "node ", node, " is offline or has no memory");
        return EINVAL;
    case EXDEV:
        why_set(why, whylen, "node ", node,
                " is not in the cpuset's allowed memory nodes");
        return EINVAL;
    default:
        why_set(why, whylen, "node ", node, " does not exist");
        return EINVAL;
    }
}

/* Fill member[] / weight[] from nodes (weights already in wnode[] for
 * WEIGHTED, else 1) and check every member. */
static int finish_set(struct menv_policy *p, const uint8_t *wnode, char *why,
                      size_t whylen)
{
    const struct topology *t = topology_get();
    p->nmembers = 0;
    p->wsum = 0;
    if (nslab_nodeset_count(&p->nodes) == 0) {
        why_set(why, whylen, "empty node set", -1, "");
        return EINVAL;
    }
    for (int n = nslab_nodeset_next(&p->nodes, 0); n >= 0;
         n = nslab_nodeset_next(&p->nodes, n + 1)) {
        int err = check_node(t, n, why, whylen);
        if (err)
            return err;
        p->member[p->nmembers] = (int16_t)n;
        p->weight[p->nmembers] = wnode ? wnode[n] : 1;
        p->wsum += p->weight[p->nmembers];
        p->nmembers++;
    }
    return 0;
}

/* "N=W,N=W,..." */
static int parse_weights(const char *s, struct menv_policy *p, char *why,
                         size_t whylen)
{
    uint8_t wnode[NSLAB_MAX_NODES]; /* weight by node id, 1 KiB */
    memset(wnode, 0, sizeof wnode);
    nslab_nodeset_zero(&p->nodes);
    for (;;) {
        unsigned long node, w;
        if (parse_uint(&s, NSLAB_MAX_NODES - 1, &node) || *s != '=') {
            why_set(why, whylen, "expected NODE=WEIGHT items, e.g. 0=3,1=1",
                    -1, "");
            return EINVAL;
        }
        s++;
        if (parse_uint(&s, 255, &w) || w == 0) {
            why_set(why, whylen, "the weight of node ", (long long)node,
                    " must be 1..255");
            return EINVAL;
        }
        if (nslab_nodeset_has(&p->nodes, (int)node)) {
            why_set(why, whylen, "node ", (long long)node, " is given twice");
            return EINVAL;
        }
        nslab_nodeset_add(&p->nodes, (int)node);
        wnode[node] = (uint8_t)w;
        if (*s == '\0')
            break;
        if (*s != ',') {
            why_set(why, whylen, "expected NODE=WEIGHT items, e.g. 0=3,1=1",
                    -1, "");
            return EINVAL;
        }
        s++;
    }
    return finish_set(p, wnode, why, whylen);
}

int menv_parse_policy(const char *text, struct menv_policy *out, char *why,
                      size_t whylen)
{
    const char *rest;

    memset(out, 0, sizeof *out);
    out->mode = MENV_LOCAL;
    out->preferred = -1;
    if (whylen)
        why[0] = '\0';
    if (!text || !text[0] || strcmp(text, "local") == 0)
        return 0;

    if (has_prefix(text, "bind:", &rest) || has_prefix(text, "interleave:", &rest) ||
        has_prefix(text, "preferred-many:", &rest)) {
        out->mode = text[0] == 'b' ? MENV_BIND
                    : text[0] == 'i' ? MENV_INTERLEAVE : MENV_PREFERRED_MANY;
        if (!rest[0] || nslab_nodeset_parse(rest, &out->nodes) != 0) {
            why_set(why, whylen, "bad node list (expected all, 2, 0-3, 0,2-3)",
                    -1, "");
            return EINVAL;
        }
        return finish_set(out, NULL, why, whylen);
    }
    if (has_prefix(text, "preferred:", &rest)) {
        unsigned long node;
        out->mode = MENV_PREFERRED;
        if (parse_uint(&rest, NSLAB_MAX_NODES - 1, &node) || *rest) {
            why_set(why, whylen, "preferred takes one node number", -1, "");
            return EINVAL;
        }
        out->preferred = (int)node;
        out->nodes = nslab_nodeset_of((int)node);
        return finish_set(out, NULL, why, whylen);
    }
    if (has_prefix(text, "weighted:", &rest)) {
        out->mode = MENV_WEIGHTED;
        return parse_weights(rest, out, why, whylen);
    }
    why_set(why, whylen,
            "unknown policy (expected local, bind:NODES, preferred:N, "
            "preferred-many:NODES, interleave:NODES or weighted:N=W,...)", -1, "");
    return EINVAL;
}

/* ---- resolution ------------------------------------------------------- */

void menv_resolve_targets(struct menv_config *cfg)
{
    const struct menv_policy *p = &cfg->policy;
    const struct topology *t;

    for (int n = 0; n < NSLAB_MAX_NODES; n++)
        cfg->target[n] = p->nmembers ? p->member[0] : -1;
    if (p->mode != MENV_BIND && p->mode != MENV_PREFERRED_MANY)
        return;
    t = topology_get();
    for (int n = 0; n < t->nr_nodes; n++) {
        int local = t->node[n].local_node;
        if (local >= 0 && nslab_nodeset_has(&p->nodes, local)) {
            cfg->target[n] = (int16_t)local;
            continue;
        }
        int near = topology_nearest_in(t, n, &p->nodes);
        cfg->target[n] = (int16_t)(near >= 0 ? near : p->member[0]);
    }
}

size_t menv_format_policy(const struct menv_policy *p, char *buf, size_t len)
{
    struct menv_buf b;
    char set[256];

    menv_buf_init(&b, buf, len);
    switch (p->mode) {
    case MENV_LOCAL:
        menv_buf_str(&b, "local");
        break;
    case MENV_PREFERRED:
        menv_buf_str(&b, "preferred:");
        menv_buf_int(&b, p->preferred);
        break;
    case MENV_BIND:
    case MENV_INTERLEAVE:
    case MENV_PREFERRED_MANY:
        menv_buf_str(&b, p->mode == MENV_BIND         ? "bind:"
                         : p->mode == MENV_INTERLEAVE ? "interleave:"
                                                      : "preferred-many:");
        nslab_nodeset_format(&p->nodes, set, sizeof set);
        menv_buf_str(&b, set);
        break;
    case MENV_WEIGHTED:
        menv_buf_str(&b, "weighted:");
        for (int i = 0; i < p->nmembers; i++) {
            if (i)
                menv_buf_str(&b, ",");
            menv_buf_int(&b, p->member[i]);
            menv_buf_str(&b, "=");
            menv_buf_uint(&b, p->weight[i]);
        }
        break;
    }
    return b.len;
}

/* ---- loading ---------------------------------------------------------- */

static void report(const char *var, const char *value, const char *why,
                   const char *fallback)
{
    char line[512];
    struct menv_buf b;
    menv_buf_init(&b, line, sizeof line);
    menv_buf_str(&b, "numaslab: ");
    menv_buf_str(&b, var);
    menv_buf_str(&b, "=\"");
    menv_buf_str(&b, value);
    menv_buf_str(&b, "\" is invalid");
    if (why && why[0]) {
        menv_buf_str(&b, " (");
        menv_buf_str(&b, why);
        menv_buf_str(&b, ")");
    }
    menv_buf_str(&b, "; using ");
    menv_buf_str(&b, fallback);
    menv_buf_writeln(&b, 2);
}

static int load_bool(const char *var)
{
    const char *v = secure_getenv(var);
    int on = menv_parse_bool(v);
    if (on < 0) {
        report(var, v, "expected 1/0, yes/no, true/false or on/off", "0");
        on = 0;
    }
    return on;
}

void menv_load(struct menv_config *cfg)
{
    char why[160];
    const char *v = secure_getenv("NUMASLAB_POLICY");

    if (menv_parse_policy(v, &cfg->policy, why, sizeof why) != 0) {
        report("NUMASLAB_POLICY", v, why, "local");
        menv_parse_policy(NULL, &cfg->policy, why, sizeof why);
    }
    v = secure_getenv("NUMASLAB_STATS");
    /* a path (stats.c: each process's own file) or a boolean */
    cfg->stats = v && strchr(v, '/') ? 1 : load_bool("NUMASLAB_STATS");
    cfg->verbose = load_bool("NUMASLAB_VERBOSE");
    v = secure_getenv("NUMASLAB_PREFAULT");
    cfg->prefault = menv_parse_prefault(v);
    if (cfg->prefault < 0) {
        /* the arenas read it too (arena.c), and use the default silently */
        report("NUMASLAB_PREFAULT", v, "expected none, slabs, all or default", "default");
        cfg->prefault = NSLAB_ARENA_PREFAULT_DEFAULT;
    }
    menv_resolve_targets(cfg);
}
