/* Allocation entry points: the slow path behind the inline fast path, calloc, realloc,
 * aligned allocation, usable size, and the public hak_* API. */
#include "hak_alloc.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

/* The thread's heap, created on first use; NULL while hakmem is initialising (glibc
 * serves those few requests, and frees of them find their way back to glibc). */
static hak_heap_t* heap_or_create(hak_heap_t* heap) {
  return heap != &_hak_heap_empty ? heap : _hak_heap_for_thread();
}

/* wrap-tiny is off and the request came through the override: the tiny pool declines, as
 * the wrapper guard of the seeds did, and glibc's allocator serves it. */
static hak_noinline void* tiny_declined(hak_heap_t* heap, size_t size, size_t alignment) {
  _hak_count_event(heap, HAK_STAT_LIBC_MALLOC_TINY, 1);
  _hak_count_event(heap, HAK_STAT_LIBC_MALLOC_TINY_BYTES, size);
  return alignment <= 16 ? _hak_sys_malloc(size) : _hak_sys_memalign(alignment, size);
}

static hak_noinline void* libc_fallback(size_t size, size_t alignment) {
  _hak_stat_global_add(HAK_STAT_LIBC_MALLOC_OTHER, 1);
  return alignment <= 16 ? _hak_sys_malloc(size) : _hak_sys_memalign(alignment, size);
}

/* A small block, or NULL (errno ENOMEM) when no segment could be mapped even after giving
 * back what the process holds free: the OS refusing memory is the signal to release it. */
static void* malloc_small(hak_heap_t* heap, int cls, size_t size) {
  void* p = _hak_malloc_class(heap, cls, size);
  if (hak_unlikely(p == NULL) && _hak_release_memory(heap)) {
    p = _hak_malloc_class(heap, cls, size);
    if (p == NULL) errno = ENOMEM;
  }
  return p;
}

void* _hak_malloc_generic(size_t size, bool wrapped) {
  hak_heap_t* heap = heap_or_create(_hak_heap());
  if (hak_unlikely(heap == NULL)) return libc_fallback(size, 0);
#if HAK_HARDEN
  if (size == 0) return _hak_hd_zero_block();
#endif
  size_t need = _hak_request_room(size);
  if (need <= HAK_TINY_MAX) {
    if (wrapped && !_hak_options.wrap_tiny) return tiny_declined(heap, size, 0);
    int cls = _hak_class_of(need);
#if HAK_TINY_CACHE_BLOCKS
    if (_hak_tiny_pool_bytes() != 0) {
      void* shared = _hak_tiny_cache_take_shared(heap, cls, size);
      if (shared != NULL) return shared;
    }
#endif
    void* p = malloc_small(heap, cls, size);
#if HAK_TINY_CACHE_BLOCKS
    if (p != NULL) _hak_tiny_cache_fill(heap, cls);   /* the next mallocs take from the list */
#endif
    return p;
  }
  if (need <= HAK_MID_MAX) return malloc_small(heap, _hak_class_of(need), size);
  return _hak_large_malloc(heap, size, 0, false);
}

/* ---------------------------------------------------------------- calloc, realloc */

void* _hak_calloc_impl(size_t count_, size_t size, bool wrapped) {
  size_t total;
  if (__builtin_mul_overflow(count_, size, &total)) { errno = ENOMEM; return NULL; }
  if (total > HAK_MID_MAX) {
    hak_heap_t* heap = heap_or_create(_hak_heap());
    if (heap == NULL) return _hak_sys_calloc(count_, size);
    return _hak_large_malloc(heap, total, 0, true);    /* fresh mappings are already zero */
  }
  void* p = _hak_malloc_inline(total, wrapped);
  if (p != NULL) memset(p, 0, total);
  return p;
}

/* The page of p, the empty page where p is not hakmem's: past a large block's mapping in
 * its slot is someone else's memory. */
static hak_page_t* user_page(const void* p) {
  hak_page_t* page = _hak_page_of(p);
  if (page->tier == HAK_TIER_LARGE && !_hak_large_owns(page->segment, p)) return &_hak_page_empty;
  return page;
}

size_t _hak_usable_size_impl(const void* p) {
  if (p == NULL) return 0;
  hak_page_t* page = user_page(p);
  if (page == &_hak_page_empty) {
#if HAK_HARDEN
    if (_hak_hd_is_zero_block(p)) return 0;
#endif
#if !HAK_OVERRIDE
    return malloc_usable_size((void*)p);
#else
    /* glibc's block: ask glibc (its malloc_usable_size has no __libc_ alias) */
    typedef size_t (*usable_fn)(void*);
    static _Atomic(usable_fn) libc_usable;
    usable_fn fn = atomic_load_explicit(&libc_usable, memory_order_acquire);
    if (fn == NULL) {
      fn = (usable_fn)dlsym(RTLD_NEXT, "malloc_usable_size");
      atomic_store_explicit(&libc_usable, fn, memory_order_release);
    }
    return fn != NULL ? fn((void*)p) : 0;
#endif
  }
  if (page->tier == HAK_TIER_LARGE) {
#if HAK_HARDEN
    return _hak_hd_large_usable(page->segment);   /* the requested size: past it lies the canary */
#else
    return page->segment->large_size;
#endif
  }
  return _hak_block_usable(page, p);     /* harden: the requested size; past it lies the canary */
}

void* _hak_realloc_impl(void* p, size_t size, bool wrapped) {
  if (p == NULL) return _hak_malloc_inline(size, wrapped);
  hak_page_t* page = user_page(p);
  if (page == &_hak_page_empty) {                                   /* glibc's block */
#if HAK_HARDEN
    if (_hak_hd_is_zero_block(p)) return _hak_malloc_inline(size, wrapped);   /* nothing to copy */
    _hak_hd_check_foreign(p);
#endif
    return _hak_sys_realloc(p, size);
  }
  if (size == 0) {                                                  /* as glibc: free, NULL */
    _hak_free_inline(p);
    return NULL;
  }
#if HAK_HARDEN
  _hak_hd_check_live(page, p, HAK_MISUSE_FREED_REALLOC);
#endif
  size_t usable;
  if (page->tier == HAK_TIER_LARGE) {
    if (_hak_large_realloc(_hak_heap(), page->segment, p, size) != NULL) {
#if HAK_HARDEN
      _hak_hd_large_alloc(page->segment, size);
#endif
      return p;
    }
    usable = _hak_usable_size_impl(p);
  } else {
    usable = page->block_size;
    if (_hak_request_room(size) <= usable && size >= usable / 2) {
      _hak_block_resized(page, p, size);
      return p;
    }
    usable = _hak_block_usable(page, p);
  }
  void* q = _hak_malloc_inline(size, wrapped);
  if (q == NULL) return NULL;                                        /* p stays valid */
  memcpy(q, p, size < usable ? size : usable);
  _hak_free_inline(p);
  return q;
}

void* _hak_reallocarray_impl(void* p, size_t count_, size_t size, bool wrapped) {
  size_t total;
  if (__builtin_mul_overflow(count_, size, &total)) { errno = ENOMEM; return NULL; }
  return _hak_realloc_impl(p, total, wrapped);
}

/* ---------------------------------------------------------------- aligned allocation */

static bool is_power_of_two(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

/* alignment: a power of two. */
static void* aligned_malloc(size_t alignment, size_t size, bool wrapped) {
  /* every block is 8-aligned, and every block of a class above 8 bytes 16-aligned; under
   * harden every one (requests of 0..8 bytes take the 16-byte class, HAK_FIRST_CLASS, and
   * malloc(0)'s PROT_NONE addresses are 16 apart) */
  if (alignment <= 8 || (alignment <= 16 && (size > 8 || HAK_HARDEN))) return _hak_malloc_inline(size, wrapped);
  hak_heap_t* heap = heap_or_create(_hak_heap());
  if (heap == NULL || alignment > HAK_MAX_ALIGN) return libc_fallback(size, alignment);
  if (size <= HAK_TINY_MAX && wrapped && !_hak_options.wrap_tiny) return tiny_declined(heap, size, alignment);
#if HAK_HARDEN
  if (size == 0) size = 1;             /* a real block: the PROT_NONE ones are only 16-aligned */
#endif
  int cls = _hak_aligned_class(_hak_request_room(size), alignment);
  if (cls >= 0) {
    hak_page_t* page = heap->current[cls];
    void* b = _hak_page_fits(page, alignment) ? _hak_page_pop(page) : NULL;
    if (b != NULL) {
      _hak_count_alloc(heap, page, size);
      _hak_block_handed(page, b, size);
      return b;
    }
    b = _hak_malloc_class_aligned(heap, cls, size, alignment);
    if (b == NULL && _hak_release_memory(heap)) b = _hak_malloc_class_aligned(heap, cls, size, alignment);
    if (b == NULL) errno = ENOMEM;
    return b;
  }
  return _hak_large_malloc(heap, size, alignment, false);
}

void* _hak_memalign_impl(size_t alignment, size_t size, bool wrapped) {
  /* glibc: a non power of two is rounded up */
  if (!is_power_of_two(alignment)) {
    if (alignment > ((size_t)1 << (sizeof(size_t) * 8 - 2))) { errno = EINVAL; return NULL; }
    size_t a = 1;
    while (a < alignment) a <<= 1;
    alignment = a;
  }
  return aligned_malloc(alignment, size, wrapped);
}

int _hak_posix_memalign_impl(void** out, size_t alignment, size_t size, bool wrapped) {
  if (!is_power_of_two(alignment) || alignment % sizeof(void*) != 0) return EINVAL;
  int saved = errno;
  void* p = aligned_malloc(alignment, size, wrapped);
  if (p == NULL) { errno = saved; return ENOMEM; }
  *out = p;
  return 0;
}

void* _hak_aligned_alloc_impl(size_t alignment, size_t size, bool wrapped) {
  if (!is_power_of_two(alignment)) { errno = EINVAL; return NULL; }
  return aligned_malloc(alignment, size, wrapped);
}

/* ---------------------------------------------------------------- public API */

void*  hak_malloc(size_t size) { return _hak_malloc_inline(size, false); }
void   hak_free(void* p) { _hak_free_inline(p); }
void*  hak_calloc(size_t count_, size_t size) { return _hak_calloc_impl(count_, size, false); }
void*  hak_realloc(void* p, size_t size) { return _hak_realloc_impl(p, size, false); }
void*  hak_reallocarray(void* p, size_t count_, size_t size) { return _hak_reallocarray_impl(p, count_, size, false); }
void*  hak_memalign(size_t alignment, size_t size) { return _hak_memalign_impl(alignment, size, false); }
int    hak_posix_memalign(void** out, size_t alignment, size_t size) { return _hak_posix_memalign_impl(out, alignment, size, false); }
void*  hak_aligned_alloc(size_t alignment, size_t size) { return _hak_aligned_alloc_impl(alignment, size, false); }
size_t hak_usable_size(const void* p) { return _hak_usable_size_impl(p); }

int hak_owns(const void* p) {
  hak_page_t* page = _hak_page_of(p);
  if (page == &_hak_page_empty || !page->in_use) return 0;
  if (page->tier == HAK_TIER_LARGE) return (const uint8_t*)p == page->segment->first_area;
  return _hak_page_holds_block(page, p);
}
