/*
 * arena/region/region-verify.c - where pages really are: the kernel's
 * answer for each page of a range (os_page_nodes), as a per-node histogram (nslab_range_placement,
 * nslab_region_verify).  Batches live on the stack (no allocation), so this
 * may run anywhere the library runs.
 */
#include "region-internal.h"

#include <errno.h>
#include <string.h>

/* Pages asked of os_page_nodes per call (3 KiB of stack). */
#define VERIFY_BATCH 256

NSLAB_API int nslab_range_placement(const void *addr, size_t len, nslab_placement_t *out)
{
    const struct topology *t = topology_get();
    if (!addr || len == 0 || !out) {
        errno = EINVAL;
        return -EINVAL;
    }
    size_t ps = t->page_size;
    uintptr_t a = (uintptr_t)addr & ~(uintptr_t)(ps - 1);
    if ((uintptr_t)addr + len < (uintptr_t)addr) {
        errno = EINVAL;
        return -EINVAL;
    }
    uintptr_t end = ((uintptr_t)addr + len + ps - 1) & ~(uintptr_t)(ps - 1);
    size_t n = (end - a) / ps;

    memset(out, 0, sizeof(*out));
    out->page_size = ps;

    void *pages[VERIFY_BATCH];
    int status[VERIFY_BATCH];
    size_t efault = 0;
    for (size_t i = 0; i < n; i += VERIFY_BATCH) {
        size_t k = n - i < VERIFY_BATCH ? n - i : VERIFY_BATCH;
        for (size_t j = 0; j < k; j++) {
            pages[j] = (void *)(a + (i + j) * ps);
            status[j] = -EFAULT;
        }
        int e = os_page_nodes(k, pages, status);
        if (e) {
            errno = e;
            return -e;
        }
        for (size_t j = 0; j < k; j++) {
            int s = status[j];
            if (s >= 0 && s < NSLAB_MAX_NODES)
                out->on_node[s]++;
            else if (s == -ENOENT)
                out->not_present++;
            else {
                out->errors++;
                if (s == -EFAULT)
                    efault++;
            }
        }
        out->pages += k;
    }
    /* -EFAULT also marks a page mapping the shared zero page (read, never
     * written): only a range with no page mapped at all is an error. */
    if (efault == n) {
        errno = EFAULT;
        return -EFAULT;
    }
    return 0;
}

NSLAB_API int nslab_region_verify(const nslab_region_t *r, nslab_placement_t *out)
{
    if (!region_valid(r) || !out) {
        errno = EINVAL;
        return -EINVAL;
    }
    return nslab_range_placement(region_data(r), r->size, out);
}
