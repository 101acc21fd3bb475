/* The malloc and free fast paths, inlined into both the hak_* API and the malloc override.
 * Everything here runs on every allocation: keep it short, branch-light and free of
 * function calls except the slow-path fallbacks. */
#ifndef HAK_FASTPATH_H
#define HAK_FASTPATH_H

#include "hak_harden.h"

/* ---- counters that cost something on fast paths exist only at HAK_STATS >= 1 ---- */

hak_inline void _hak_count_alloc_of(hak_heap_t* heap, int tier, int cls, size_t size) {
#if HAK_STATS >= 1
  _hak_counter_add(&heap->stats.tier_allocs[tier], 1);
  _hak_counter_add(&heap->stats.tier_bytes[tier], size);
#endif
#if HAK_STATS >= 2
  _hak_counter_add(&heap->stats.class_allocs[cls], 1);
#endif
  (void)heap; (void)tier; (void)cls; (void)size;
}

hak_inline void _hak_count_alloc(hak_heap_t* heap, const hak_page_t* page, size_t size) {
  _hak_count_alloc_of(heap, page->tier, page->class_idx, size);
}

hak_inline void _hak_count_free(hak_heap_t* heap, const hak_page_t* page) {
#if HAK_STATS >= 1
  _hak_counter_add(&heap->stats.tier_frees[page->tier], 1);
#endif
#if HAK_STATS >= 2
  if (page->tier != HAK_TIER_LARGE) _hak_counter_add(&heap->stats.class_frees[page->class_idx], 1);
#endif
  (void)heap; (void)page;
}

/* A relaxed atomic load of a 16-bit field that other threads write: a plain load on x86-64.
 * Under ThreadSanitizer the atomic builtin, so the race is declared; otherwise an asm move,
 * because gcc's atomic load does not fold the field's offset into the address and costs the
 * free fast path an add. */
hak_inline size_t _hak_relaxed_load16(const uint16_t* p) {
#if defined(__SANITIZE_THREAD__)
  return __atomic_load_n(p, __ATOMIC_RELAXED);
#else
  size_t v;                             /* writing the 32-bit register clears the upper half */
  __asm__("movzwl %1, %k0" : "=r"(v) : "m"(*p));
  return v;
#endif
}

/* One instruction on the word in memory: a plain decrement is compiled into a load, a
 * subtraction and a store when the value was just tested. */
hak_inline void _hak_dec_in_memory(uint64_t* word) {
  __asm__("subq $1, %0" : "+m"(*word));
}

#if HAK_MID_CACHE_SLOTS
/* Puts a freed mid block on the calling thread's stack for its class; false when it is full. */
hak_inline bool _hak_mid_stack_push(hak_heap_t* heap, hak_mid_stack_t* st, void* p) {
  if (hak_unlikely(st->top == st->end)) return false;
#if HAK_STATS >= 1
  _hak_count_free(heap, _hak_page_of(p));
#endif
  (void)heap;
  *st->top++ = p;
  return true;
}
#endif

/* Pops a block from the page's allocation list; NULL when the list is empty. */
hak_inline void* _hak_page_pop(hak_page_t* page) {
#if HAK_DUAL_LISTS
  hak_block_t* b = page->free;
#if HAK_HARDEN
  /* empty: b is the page, whose link never lies near it; the slow path tells a broken link */
  hak_block_t* next = HAK_HD_NEXT(page, b);
  if (hak_unlikely(!_hak_hd_near(page, next))) return NULL;
  __asm__("" : "+r"(b));   /* as in the tiny cache's pop: b stays in the result's register */
  _hak_hd_claim(b);
#else
  if (hak_unlikely(b == NULL)) return NULL;
  hak_block_t* next = b->next;
#endif
  page->free = next;
  page->used++;
  return b;
#else
  uintptr_t w = atomic_load_explicit(&page->free, memory_order_acquire);
  for (;;) {
    hak_block_t* b = _hak_word_block(w);
    if (hak_unlikely(b == NULL)) return NULL;
    /* only the owner pops, so b cannot leave the list under us (no ABA) */
    hak_block_t* link = HAK_HD_NEXT(page, b);
#if HAK_HARDEN
    if (hak_unlikely(link != NULL && !_hak_hd_near(page, link))) _hak_hd_bad_link(page, b);
#endif
    uintptr_t next = (uintptr_t)link | (w & HAK_NOTIFY_MASK);
    if (hak_likely(atomic_compare_exchange_weak_explicit(&page->free, &w, next,
                                                         memory_order_acquire, memory_order_acquire))) {
#if HAK_HARDEN
      _hak_hd_claim(b);
#endif
      atomic_fetch_add_explicit(&page->used, 1, memory_order_relaxed);
      return b;
    }
  }
#endif
}

/* Frees a block into a page the calling thread owns. With dual lists it goes on top of the
 * allocation list, so the page's next malloc of the class reuses it while its line is still
 * in L1 (the caller has usually just touched it). The chain form takes n blocks linked from
 * first to last (last's link is written here; the others' links are plain, so n > 1 only
 * without harden, where the tiny cache hands pages back their blocks in runs). */
hak_inline void _hak_page_push_local_chain(hak_page_t* page, hak_block_t* first, hak_block_t* last, uint32_t n) {
#if HAK_DUAL_LISTS
  HAK_HD_LINK(page, last, page->free);
  page->free = first;
  page->used -= n;
  if (hak_unlikely(page->used == 0)) _hak_page_retire(page);
#else
  uintptr_t w = atomic_load_explicit(&page->free, memory_order_relaxed);
  do {
    HAK_HD_LINK(page, last, _hak_word_block(w));
  } while (!atomic_compare_exchange_weak_explicit(&page->free, &w, (uintptr_t)first | (w & HAK_NOTIFY_MASK),
                                                  memory_order_release, memory_order_relaxed));
  if (hak_unlikely(atomic_fetch_sub_explicit(&page->used, n, memory_order_acq_rel) == n)) _hak_page_retire(page);
#endif
}

hak_inline void _hak_page_push_local(hak_page_t* page, void* p) {
  _hak_page_push_local_chain(page, (hak_block_t*)p, (hak_block_t*)p, 1);
}

/* Everything the fast path does not serve. It reads the heap again itself, so that the fast
 * path keeps `size` in its argument register instead of shuffling for the call. */
hak_internal void* _hak_malloc_generic(size_t size, bool wrapped);
/* _hak_free_slow for a block whose page the fast path did not compute. */
hak_internal void _hak_free_slow_lookup(void* p);

/* `wrapped`: the request came through the malloc override (where wrap-tiny applies). */
hak_inline void* _hak_malloc_inline(size_t size, bool wrapped) {
  hak_heap_t* heap = _hak_heap();
  hak_page_t* page;
  if (hak_likely(size <= HAK_TINY_MAX)) {
#if HAK_TINY_CACHE_BLOCKS
#if HAK_DIRECT_CACHE
    hak_tiny_list_t* list = heap->tiny_direct[(size + 7) >> 3];
#else
    hak_tiny_list_t* list = &heap->tiny_list[_hak_class_search(size)];
#endif
    hak_block_t* b = list->head;
    if (hak_likely(b != NULL)) {
      hak_block_t* next = b->next;
      __asm__("" : "+r"(b));   /* keeps gcc from parking b in another register than the result's */
      list->head = next;
      list->room++;
      _hak_count_alloc_of(heap, HAK_TIER_TINY, (int)(list - heap->tiny_list), size);
      return b;
    }
    return _hak_malloc_generic(size, wrapped);
#elif HAK_DIRECT_CACHE
    page = heap->direct[(size + 7) >> 3];
#else
    page = heap->current[_hak_class_search(size)];
#endif
  } else if (size <= HAK_MID_MAX) {
    int cls = _hak_class_of(size);
#if HAK_MID_CACHE_SLOTS
    hak_mid_stack_t* st = &heap->mid_stack[cls];
    if (hak_likely(st->top != st->base)) {
      _hak_count_alloc_of(heap, HAK_TIER_MID, cls, size);
      return *--st->top;
    }
#endif
    page = heap->current[cls];
  } else {
    return _hak_malloc_generic(size, wrapped);
  }
  void* b = _hak_page_pop(page);
  if (hak_likely(b != NULL)) {
    _hak_count_alloc(heap, page, size);
    return b;
  }
  return _hak_malloc_generic(size, wrapped);
}

hak_inline void _hak_free_inline(void* p) {
#if HAK_TINY_CACHE_BLOCKS
  /* a tiny block, any thread's, onto this thread's list for its class; a mid block onto its
   * stack for its class. The page's list offset says which: a mid page's leads to its
   * stack, whose room word is 0; a large page's, or a mid page's without a live owner, to
   * the heap's no_list, which has no room either. */
#if HAK_SUPERSLAB
  _Static_assert(!HAK_HARDEN, "harden keeps the tiny cache off");
  uintptr_t slot = ((uintptr_t)p >> HAK_SEGMENT_SHIFT) & (HAK_SEGMAP_ENTRIES - 1);   /* masked: see _hak_page_lookup */
  unsigned page_shift = atomic_load_explicit(&_hak_segmap[slot], memory_order_relaxed);
  if (hak_likely(page_shift != 0)) {
    const hak_segment_t* seg = (const hak_segment_t*)((uintptr_t)p & ~(uintptr_t)HAK_SEGMENT_MASK);
    size_t list_off = _hak_relaxed_load16(&seg->list_off[((uintptr_t)p & HAK_SEGMENT_MASK) >> page_shift]);
#else
  hak_page_t* page = _hak_page_of(p);
  {
    size_t list_off = _hak_relaxed_load16(&page->list_off);
#endif
    hak_heap_t* heap = _hak_heap();
    hak_tiny_list_t* list = (hak_tiny_list_t*)((char*)heap + list_off);
    if (hak_likely(list->room != 0)) {
#if HAK_STATS >= 1
      _hak_count_free(heap, _hak_page_of(p));
#endif
      ((hak_block_t*)p)->next = list->head;
      list->head = (hak_block_t*)p;
      _hak_dec_in_memory(&list->room);
      return;
    }
#if HAK_MID_CACHE_SLOTS
    /* past the tiny lists: a stack (a full tiny list is not one) */
    if (list_off >= offsetof(hak_heap_t, mid_stack) && _hak_mid_stack_push(heap, (hak_mid_stack_t*)(void*)list, p)) return;
#endif
  }
#if HAK_SUPERSLAB
  _hak_free_slow_lookup(p);
#else
  _hak_free_slow(p, page);
#endif
}
#else
#if HAK_SUPERSLAB
  /* a foreign pointer has no page: the slow path gives it the empty page */
  hak_page_t* page = _hak_page_lookup(p);
  if (hak_likely(page != NULL) && hak_likely(_hak_page_owner(page) == _hak_thread_id())) {
#else
  /* foreign pointers map to the empty page, whose owner is nobody */
  hak_page_t* page = _hak_page_of(p);
  if (hak_likely(_hak_page_owner(page) == _hak_thread_id())) {
#endif
#if HAK_HARDEN
    if (hak_unlikely(!_hak_hd_block_start(page, p))) _hak_hd_bad_free(page, p);
    /* free already, or live data that looks so: the slow path looks for it on the lists */
    if (hak_likely(!_hak_hd_tagged(p)))
#endif
    {
#if HAK_STATS >= 1
      _hak_count_free(_hak_heap(), page);
#endif
      _hak_page_push_local(page, p);
      return;
    }
  }
  _hak_free_slow(p, page);
}
#endif

#endif
