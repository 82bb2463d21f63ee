/*
 * bench/shim_numaslab.c - numaslab through its public API (libnumaslab.so).
 *
 *   ba_alloc/ba_free           numa_malloc_local / nslab_free
 *   ba_alloc_on_node           numa_malloc_on(node) / nslab_free
 *   ba_pool_*                  nslab_pool_create(local) / nslab_pool_get / nslab_pool_put
 *   ba_region_populated        nslab_region_create(bind(node), defaults = populate)
 *   ba_interleaved             numa_malloc_interleaved(all) / nslab_free
 *
 * The API is referenced weakly (all but nslab_init, whose strong reference
 * keeps libnumaslab.so a DT_NEEDED of the binary): the library is being
 * written while the benchmarks are, so a function that is not there yet
 * leaves its group out (ba_note() says which) instead of breaking the build.  Each group is also
 * probed once at ba_init(): a function that fails is reported, not timed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "numaslab.h"
#include "shim.h"

#pragma weak numa_malloc_local
#pragma weak numa_malloc_on
#pragma weak nslab_free
#pragma weak nslab_pool_create
#pragma weak nslab_pool_destroy
#pragma weak nslab_pool_get
#pragma weak nslab_pool_put
#pragma weak nslab_region_create
#pragma weak nslab_region_destroy
#pragma weak nslab_region_addr
#pragma weak nslab_region_of
#pragma weak numa_malloc_interleaved
#pragma weak nslab_policy_bind

static unsigned caps;
static char note[1024];

static void note_add(const char *fmt, const char *what, int err)
{
    size_t n = strlen(note);
    snprintf(note + n, sizeof note - n, fmt, what, err ? strerror(err) : "");
}

int ba_init(void)
{
    snprintf(note, sizeof note, "libnumaslab.so public API");
    int rc = nslab_init();
    if (rc < 0)
        note_add("; %s failed: %s", "nslab_init", -rc);
    if (numa_malloc_local && numa_malloc_on && nslab_free) {
        void *a = numa_malloc_local(64);
        void *b = numa_malloc_on(0, 64);
        int err = errno;
        if (a && b)
            caps |= BA_MALLOC | BA_NODE;
        else
            note_add("; %s returned NULL: %s", "numa_malloc_local/on(64)", err);
        if (a)
            nslab_free(a);
        if (b)
            nslab_free(b);
    } else {
        note_add("; %s%s", "numa_malloc_local/numa_malloc_on/nslab_free not implemented yet", 0);
    }
    if (nslab_pool_create && nslab_pool_destroy && nslab_pool_get && nslab_pool_put) {
        nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = 256, .count = 64);
        nslab_pool_t *p = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
        int err = errno;
        void *b = p ? nslab_pool_get(p) : NULL;
        if (b) {
            nslab_pool_put(p, b);
            caps |= BA_POOL;
        } else {
            note_add("; %s failed: %s", "nslab_pool_create/get", err);
        }
        if (p)
            nslab_pool_destroy(p);
    } else {
        note_add("; %s%s", "nslab_pool_* not implemented yet", 0);
    }
    if (nslab_region_create && nslab_region_destroy && nslab_region_addr &&
        nslab_region_of && nslab_policy_bind) {
        nslab_policy_t pol = nslab_policy_bind(0);
        nslab_region_t *r = nslab_region_create(1 << 20, &pol, NULL);
        if (r) {
            caps |= BA_REGION;
            nslab_region_destroy(r);
        } else {
            note_add("; %s failed: %s", "nslab_region_create(1 MiB, bind 0)", errno);
        }
    } else {
        note_add("; %s%s", "nslab_region_* not implemented yet", 0);
    }
    if (numa_malloc_interleaved && nslab_free) {
        void *p = numa_malloc_interleaved(1 << 20, NULL);
        if (p) {
            caps |= BA_INTERLEAVE;
            nslab_free(p);
        } else {
            note_add("; %s failed: %s", "numa_malloc_interleaved(1 MiB)", errno);
        }
    } else {
        note_add("; %s%s", "numa_malloc_interleaved not implemented yet", 0);
    }
    return caps ? 0 : -ENOSYS;
}

const char *ba_name(void) { return "numaslab"; }
unsigned ba_caps(void) { return caps; }
const char *ba_note(void) { return note; }

void *ba_alloc(size_t size) { return numa_malloc_local(size); }
void ba_free(void *p) { nslab_free(p); }

void *ba_alloc_on_node(int node, size_t size) { return numa_malloc_on(node, size); }
void ba_free_on_node(void *p, size_t size, int node) { nslab_free(p); }

void *ba_pool_create(size_t elt_size, size_t count)
{
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = elt_size, .count = count);
    return nslab_pool_create(NSLAB_NODE_LOCAL, &o);
}
void ba_pool_destroy(void *pool) { nslab_pool_destroy(pool); }
void *ba_pool_get(void *pool) { return nslab_pool_get(pool); }
void ba_pool_put(void *pool, void *buf) { nslab_pool_put(pool, buf); }

void *ba_region_populated(size_t size, int node)
{
    nslab_policy_t pol = nslab_policy_bind(node);
    nslab_region_t *r = nslab_region_create(size, &pol, NULL);
    return r ? nslab_region_addr(r) : NULL;
}
void ba_region_free(void *p, size_t size) { nslab_region_destroy(nslab_region_of(p)); }

void *ba_interleaved(size_t size) { return numa_malloc_interleaved(size, NULL); }
void ba_interleaved_free(void *p, size_t size) { nslab_free(p); }
