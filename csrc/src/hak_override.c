/* The malloc override: with libhakmem.so preloaded, these definitions take the place of
 * glibc's for the whole process. Every call is "wrapped" (wrap-tiny applies). */
#include "hak_alloc.h"

#if HAK_OVERRIDE

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

/* glibc's own names for its allocator: code that calls them directly (some language runtimes
 * and libraries do) gets hakmem too, and never hands a hakmem block to glibc. */
HAK_EXPORT void* __libc_malloc(size_t size) { return _hak_malloc_inline(size, true); }
HAK_EXPORT void __libc_free(void* p) { _hak_free_inline(p); }
HAK_EXPORT void* __libc_calloc(size_t count, size_t size) { return _hak_calloc_impl(count, size, true); }
HAK_EXPORT void* __libc_realloc(void* p, size_t size) { return _hak_realloc_impl(p, size, true); }
HAK_EXPORT void* __libc_memalign(size_t alignment, size_t size) { return _hak_memalign_impl(alignment, size, true); }

HAK_EXPORT void* pvalloc(size_t size) {
  size_t rounded = (size + HAK_OS_PAGE - 1) & ~(size_t)(HAK_OS_PAGE - 1);
  if (rounded < size) { errno = ENOMEM; return NULL; }
  return _hak_memalign_impl(HAK_OS_PAGE, rounded == 0 ? HAK_OS_PAGE : rounded, true);
}

/* ---------------------------------------------------------------- the heap's own API */

/* Everything free that hakmem holds goes back to the OS: the calling thread's caches, the
 * shared pool and caches, exited threads' segments (adopted by the caller, as a refill would),
 * empty pages and segments. Other living threads' caches are theirs alone. Returns 1 when
 * memory went back, as glibc does. */
HAK_EXPORT int malloc_trim(size_t pad) {
  (void)pad;
  hak_heap_t* heap = _hak_heap();
  size_t before = _hak_os_mapped_bytes();
  if (heap != &_hak_heap_empty) _hak_segments_idle(heap);
  bool released = _hak_release_memory(heap);
  return released || _hak_os_mapped_bytes() < before;
}

HAK_EXPORT struct mallinfo2 mallinfo2(void) {
  size_t in_use, mapped, large;
  _hak_usage(&in_use, &mapped, &large);
  struct mallinfo2 mi = { 0 };
  mi.arena = mapped;                      /* every byte hakmem has mapped */
  mi.hblkhd = large;                      /* of it, in large blocks handed out */
  mi.uordblks = in_use + large;           /* in blocks handed out */
  mi.fordblks = mapped > in_use + large ? mapped - in_use - large : 0;
  return mi;
}

static int clamp_int(size_t n) { return n > (size_t)__INT_MAX__ ? __INT_MAX__ : (int)n; }

HAK_EXPORT struct mallinfo mallinfo(void) {
  struct mallinfo2 mi2 = mallinfo2();
  struct mallinfo mi = { 0 };
  mi.arena = clamp_int(mi2.arena);
  mi.hblkhd = clamp_int(mi2.hblkhd);
  mi.uordblks = clamp_int(mi2.uordblks);
  mi.fordblks = clamp_int(mi2.fordblks);
  return mi;
}

/* glibc's layout of the figures on stderr, then hakmem's counters as JSON. */
HAK_EXPORT void malloc_stats(void) {
  struct mallinfo2 mi = mallinfo2();
  char buf[4096];
  int n = snprintf(buf, sizeof(buf), "hakmem:\nsystem bytes     = %10zu\nin use bytes     = %10zu\n"
                   "Total (incl. mmap):\nsystem bytes     = %10zu\nin use bytes     = %10zu\n"
                   "max mmap regions = %10d\nmax mmap bytes   = %10zu\n",
                   mi.arena - mi.hblkhd, mi.uordblks - mi.hblkhd, mi.arena, mi.uordblks, 0, mi.hblkhd);
  if (n > 0 && write(2, buf, (size_t)n) < 0) return;
  size_t len = hak_stats_json(buf, sizeof(buf) - 1);
  if (len > 0 && len < sizeof(buf) - 1) {
    buf[len] = '\n';
    if (write(2, buf, len + 1) < 0) return;
  }
}

#endif
