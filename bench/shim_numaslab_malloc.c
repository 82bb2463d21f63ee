/*
 * bench/shim_numaslab_malloc.c - numaslab's malloc replacement
 * (libnumaslab-malloc.so, linked into this binary so it replaces malloc for
 * the whole process, as LD_PRELOAD would).  ba_alloc/ba_free are plain
 * malloc/free; pools are malloc/free of the buffer size.  The node, region
 * and interleave groups belong to the API shim (shim_numaslab.c).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"
#include "shim_util.h"

static unsigned caps;
static char note[256];

int ba_init(void)
{
    /* Check that the process's malloc really is numaslab's. */
    Dl_info info;
    void *sym = dlsym(RTLD_DEFAULT, "malloc");
    int ours = sym && dladdr(sym, &info) && info.dli_fname &&
               strstr(info.dli_fname, "numaslab");
    if (!ours) {
        snprintf(note, sizeof note, "malloc is not numaslab's (replacement not linked or not implemented yet)");
        return -ENOSYS;
    }
    caps = BA_MALLOC | BA_POOL;
    snprintf(note, sizeof note, "malloc/free of libnumaslab-malloc.so; pool = malloc/free of the buffer size");
    return 0;
}

const char *ba_name(void) { return "numaslab-malloc"; }
unsigned ba_caps(void) { return caps; }
const char *ba_note(void) { return note; }

void *ba_alloc(size_t size) { return malloc(size); }
void ba_free(void *p) { free(p); }

BU_NO_NODE

BU_SIZE_POOL(malloc, free)

BU_NO_REGIONS
