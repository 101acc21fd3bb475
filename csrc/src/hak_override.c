/* The malloc override: with libhakmem.so preloaded, these definitions take the place of
 * glibc's for the whole process. Every call is "wrapped" (wrap-tiny applies). */
#include "hak_alloc.h"

#if HAK_OVERRIDE

#include <errno.h>
#include <stdlib.h>

#define HAK_EXPORT __attribute__((visibility("default")))

HAK_EXPORT void* malloc(size_t size) { return _hak_malloc_inline(size, true); }
HAK_EXPORT void free(void* p) { _hak_free_inline(p); }
HAK_EXPORT void* calloc(size_t count, size_t size) { return _hak_calloc_impl(count, size, true); }
HAK_EXPORT void* realloc(void* p, size_t size) { return _hak_realloc_impl(p, size, true); }
HAK_EXPORT void* reallocarray(void* p, size_t count, size_t size) { return _hak_reallocarray_impl(p, count, size, true); }
HAK_EXPORT void* memalign(size_t alignment, size_t size) { return _hak_memalign_impl(alignment, size, true); }
HAK_EXPORT int posix_memalign(void** out, size_t alignment, size_t size) { return _hak_posix_memalign_impl(out, alignment, size, true); }
HAK_EXPORT void* aligned_alloc(size_t alignment, size_t size) { return _hak_aligned_alloc_impl(alignment, size, true); }
HAK_EXPORT void* valloc(size_t size) { return _hak_memalign_impl(HAK_OS_PAGE, size, true); }
HAK_EXPORT size_t malloc_usable_size(void* p) { return _hak_usable_size_impl(p); }

HAK_EXPORT void* pvalloc(size_t size) {
  size_t rounded = (size + HAK_OS_PAGE - 1) & ~(size_t)(HAK_OS_PAGE - 1);
  if (rounded < size) { errno = ENOMEM; return NULL; }
  return _hak_memalign_impl(HAK_OS_PAGE, rounded == 0 ? HAK_OS_PAGE : rounded, true);
}

#endif
