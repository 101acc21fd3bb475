/* C++ operator new and delete, every form (sized, aligned, nothrow, arrays), straight to
 * hakmem: no detour through libstdc++'s operators and malloc. The library stays C; a failed
 * new reaches libstdc++ through its exported names, looked up weakly (a process without
 * libstdc++ never calls these): the new-handler is called while one is set and the request
 * retried, else std::bad_alloc is thrown. This file is compiled with -fexceptions, so the
 * exception unwinds through it. A nothrow form that fails hands the request to libstdc++'s own
 * nothrow operator, which calls operator new (this file's, with the handler loop) and turns
 * the bad_alloc it may throw into NULL: only C++ can catch it.
 * Sized delete is plain free: hakmem's free finds a block's page and list from its address
 * (one read of the segment map), so it has no size lookup that a size could skip. */
#include "hak_alloc.h"

#if HAK_OVERRIDE

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#define HAK_EXPORT __attribute__((visibility("default")))

typedef void (*hak_new_handler_t)(void);
/* std::get_new_handler() and std::__throw_bad_alloc() */
extern hak_new_handler_t _ZSt15get_new_handlerv(void) __attribute__((weak));
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));

hak_inline void* cxx_alloc(size_t size, size_t alignment) {
  return alignment == 0 ? _hak_malloc_inline(size, true) : _hak_memalign_impl(alignment, size, true);
}

static hak_noinline void* new_failed(size_t size, size_t alignment) {
  for (;;) {
    hak_new_handler_t handler = _ZSt15get_new_handlerv != NULL ? _ZSt15get_new_handlerv() : NULL;
    if (handler == NULL) {
      if (_ZSt17__throw_bad_allocv != NULL) _ZSt17__throw_bad_allocv();
      static const char msg[] = "hakmem: operator new: out of memory, and no C++ runtime to throw std::bad_alloc\n";
      if (write(2, msg, sizeof(msg) - 1) < 0) { /* aborting anyway */ }
      abort();
    }
    handler();
    void* p = cxx_alloc(size, alignment);
    if (p != NULL) return p;
  }
}

hak_inline void* cxx_new(size_t size, size_t alignment) {
  void* p = cxx_alloc(size, alignment);
  return hak_likely(p != NULL) ? p : new_failed(size, alignment);
}

typedef void* (*hak_nothrow_new_t)(size_t, const void*);
typedef void* (*hak_nothrow_new_aligned_t)(size_t, size_t, const void*);

/* name: the mangled nothrow form, looked up behind hakmem; without a C++ runtime there no
 * handler can have been set, and NULL is the answer. */
static hak_noinline void* nothrow_failed(const char* name, size_t size, size_t alignment, const void* nt) {
  void* next = dlsym(RTLD_NEXT, name);
  if (next == NULL) return NULL;
  return alignment == 0 ? ((hak_nothrow_new_t)next)(size, nt) : ((hak_nothrow_new_aligned_t)next)(size, alignment, nt);
}

static inline void* cxx_new_nothrow(const char* name, size_t size, size_t alignment, const void* nt) {
  void* p = cxx_alloc(size, alignment);
  return hak_likely(p != NULL) ? p : nothrow_failed(name, size, alignment, nt);
}

/* operator new and new[]: (size), (size, nothrow), (size, align), (size, align, nothrow) */
HAK_EXPORT void* _Znwm(size_t n) { return cxx_new(n, 0); }
HAK_EXPORT void* _Znam(size_t n) { return cxx_new(n, 0); }
HAK_EXPORT void* _ZnwmRKSt9nothrow_t(size_t n, const void* nt) { return cxx_new_nothrow("_ZnwmRKSt9nothrow_t", n, 0, nt); }
HAK_EXPORT void* _ZnamRKSt9nothrow_t(size_t n, const void* nt) { return cxx_new_nothrow("_ZnamRKSt9nothrow_t", n, 0, nt); }
HAK_EXPORT void* _ZnwmSt11align_val_t(size_t n, size_t al) { return cxx_new(n, al); }
HAK_EXPORT void* _ZnamSt11align_val_t(size_t n, size_t al) { return cxx_new(n, al); }
HAK_EXPORT void* _ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void* nt) {
  return cxx_new_nothrow("_ZnwmSt11align_val_tRKSt9nothrow_t", n, al, nt);
}
HAK_EXPORT void* _ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void* nt) {
  return cxx_new_nothrow("_ZnamSt11align_val_tRKSt9nothrow_t", n, al, nt);
}

/* operator delete and delete[]: (p), (p, size), (p, nothrow), (p, align), (p, size, align),
 * (p, align, nothrow) */
HAK_EXPORT void _ZdlPv(void* p) { _hak_free_inline(p); }
HAK_EXPORT void _ZdaPv(void* p) { _hak_free_inline(p); }
HAK_EXPORT void _ZdlPvm(void* p, size_t n) { (void)n; _hak_free_inline(p); }
HAK_EXPORT void _ZdaPvm(void* p, size_t n) { (void)n; _hak_free_inline(p); }
HAK_EXPORT void _ZdlPvRKSt9nothrow_t(void* p, const void* nt) { (void)nt; _hak_free_inline(p); }
HAK_EXPORT void _ZdaPvRKSt9nothrow_t(void* p, const void* nt) { (void)nt; _hak_free_inline(p); }
HAK_EXPORT void _ZdlPvSt11align_val_t(void* p, size_t al) { (void)al; _hak_free_inline(p); }
HAK_EXPORT void _ZdaPvSt11align_val_t(void* p, size_t al) { (void)al; _hak_free_inline(p); }
HAK_EXPORT void _ZdlPvmSt11align_val_t(void* p, size_t n, size_t al) { (void)n; (void)al; _hak_free_inline(p); }
HAK_EXPORT void _ZdaPvmSt11align_val_t(void* p, size_t n, size_t al) { (void)n; (void)al; _hak_free_inline(p); }
HAK_EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void* p, size_t al, const void* nt) { (void)al; (void)nt; _hak_free_inline(p); }
HAK_EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void* p, size_t al, const void* nt) { (void)al; (void)nt; _hak_free_inline(p); }

#endif
