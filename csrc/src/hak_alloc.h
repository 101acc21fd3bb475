/* The allocation entry points shared by the hak_* API and the malloc override. `wrapped`
 * says the call came through the override, where the wrap-tiny toggle applies. */
#ifndef HAK_ALLOC_H
#define HAK_ALLOC_H

#include "hak_fastpath.h"

hak_internal void*  _hak_calloc_impl(size_t count, size_t size, bool wrapped);
hak_internal void*  _hak_realloc_impl(void* p, size_t size, bool wrapped);
hak_internal void*  _hak_reallocarray_impl(void* p, size_t count, size_t size, bool wrapped);
hak_internal void*  _hak_memalign_impl(size_t alignment, size_t size, bool wrapped);
hak_internal int    _hak_posix_memalign_impl(void** out, size_t alignment, size_t size, bool wrapped);
hak_internal void*  _hak_aligned_alloc_impl(size_t alignment, size_t size, bool wrapped);
hak_internal size_t _hak_usable_size_impl(const void* p);

#endif
