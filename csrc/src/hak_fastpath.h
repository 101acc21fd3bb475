/* The malloc and free fast paths, inlined into both the hak_* API and the malloc override.
 * Everything here runs on every allocation: keep it short, branch-light and free of
 * function calls except the slow-path fallbacks.
 *
 * _hak_malloc_inline and _hak_free_inline have one shape in every build. Each toggle picks
 * the definition of the small helpers they call (where a request's list is, how a page's
 * list pops and pushes, what the hardened free checks, what is counted): the `#if`s sit
 * around helper definitions, never inside a function, and an option that is off leaves a
 * helper that compiles to nothing or to a constant the caller's test folds. */
#ifndef HAK_FASTPATH_H
#define HAK_FASTPATH_H

#include "hak_harden.h"

_Static_assert(!(HAK_HARDEN && HAK_TINY_CACHE_BLOCKS > 0), "harden keeps the tiny cache off");

/* ---------------------------------------------------------------- counters */

/* What costs something on the fast paths is counted only at HAK_STATS >= 1 (per tier) and 2
 * (per class); below that the helpers are empty and their arguments' loads go unused. */
#if HAK_STATS >= 1
hak_inline void _hak_count_tier_alloc(hak_heap_t* heap, int tier, size_t size) {
  _hak_counter_add(&heap->stats.tier_allocs[tier], 1);
  _hak_counter_add(&heap->stats.tier_bytes[tier], size);
}
hak_inline void _hak_count_tier_free(hak_heap_t* heap, int tier) {
  _hak_counter_add(&heap->stats.tier_frees[tier], 1);
}
#else
hak_inline void _hak_count_tier_alloc(hak_heap_t* heap, int tier, size_t size) { (void)heap; (void)tier; (void)size; }
hak_inline void _hak_count_tier_free(hak_heap_t* heap, int tier) { (void)heap; (void)tier; }
#endif

#if HAK_STATS >= 2
hak_inline void _hak_count_class_alloc(hak_heap_t* heap, int cls) {
  _hak_counter_add(&heap->stats.class_allocs[cls], 1);
}
hak_inline void _hak_count_class_free(hak_heap_t* heap, const hak_page_t* page) {
  if (page->tier != HAK_TIER_LARGE) _hak_counter_add(&heap->stats.class_frees[page->class_idx], 1);
}
#else
hak_inline void _hak_count_class_alloc(hak_heap_t* heap, int cls) { (void)heap; (void)cls; }
hak_inline void _hak_count_class_free(hak_heap_t* heap, const hak_page_t* page) { (void)heap; (void)page; }
#endif

hak_inline void _hak_count_alloc_of(hak_heap_t* heap, int tier, int cls, size_t size) {
  _hak_count_tier_alloc(heap, tier, size);
  _hak_count_class_alloc(heap, cls);
}

hak_inline void _hak_count_alloc(hak_heap_t* heap, const hak_page_t* page, size_t size) {
  _hak_count_alloc_of(heap, page->tier, page->class_idx, size);
}

hak_inline void _hak_count_free(hak_heap_t* heap, const hak_page_t* page) {
  _hak_count_tier_free(heap, page->tier);
  _hak_count_class_free(heap, page);
}

/* A free whose path did not look the page up (the tiny and mid caches): the lookup, an
 * atomic load of the segment map the compiler cannot drop, happens only where it counts. */
#if HAK_STATS >= 1
hak_inline void _hak_count_free_block(hak_heap_t* heap, const void* p) { _hak_count_free(heap, _hak_page_of(p)); }
#else
hak_inline void _hak_count_free_block(hak_heap_t* heap, const void* p) { (void)heap; (void)p; }
#endif

/* ---------------------------------------------------------------- small machine helpers */

/* A relaxed atomic load of a 16-bit field that other threads write: a plain load on x86-64.
 * Under ThreadSanitizer the atomic builtin, so the race is declared; otherwise an asm move,
 * because gcc's atomic load does not fold the field's offset into the address and costs the
 * free fast path an add. */
#if defined(__SANITIZE_THREAD__)
hak_inline size_t _hak_relaxed_load16(const uint16_t* p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
#else
hak_inline size_t _hak_relaxed_load16(const uint16_t* p) {
  size_t v;                             /* writing the 32-bit register clears the upper half */
  __asm__("movzwl %1, %k0" : "=r"(v) : "m"(*p));
  return v;
}
#endif

/* One instruction on the word in memory: a plain decrement is compiled into a load, a
 * subtraction and a store when the value was just tested. */
hak_inline void _hak_dec_in_memory(uint64_t* word) {
  __asm__("subq $1, %0" : "+m"(*word));
}

/* ---------------------------------------------------------------- a page's lists */

/* _hak_page_pop: a block from the page's allocation list; NULL when the list is empty.
 * _hak_page_push_local_chain: blocks back onto a page the calling thread owns. With dual
 * lists they go on top of the allocation list, so the page's next malloc of the class
 * reuses them while their lines are still in L1 (the caller has usually just touched them).
 * The chain takes n blocks linked from first to last (last's link is written here; the
 * others' links are plain, so n > 1 only without harden, where the tiny cache hands pages
 * back their blocks in runs). */
#if HAK_DUAL_LISTS && HAK_HARDEN
hak_inline void* _hak_page_pop(hak_page_t* page) {
  hak_block_t* b = page->free;
  /* empty: b is the page, whose link never lies near it; the slow path tells a broken link */
  hak_block_t* next = HAK_HD_NEXT(page, b);
  if (hak_unlikely(!_hak_hd_near(page, next))) return NULL;
  __asm__("" : "+r"(b));   /* as in the tiny cache's pop: b stays in the result's register */
  _hak_hd_claim(b);
  page->free = next;
  page->used++;
  return b;
}
#elif HAK_DUAL_LISTS
hak_inline void* _hak_page_pop(hak_page_t* page) {
  hak_block_t* b = page->free;
  if (hak_unlikely(b == NULL)) return NULL;
  page->free = b->next;
  page->used++;
  return b;
}
#else
hak_inline void* _hak_page_pop(hak_page_t* page) {
  uintptr_t w = atomic_load_explicit(&page->free, memory_order_acquire);
  for (;;) {
    hak_block_t* b = _hak_word_block(w);
    if (hak_unlikely(b == NULL)) return NULL;
    /* only the owner pops, so b cannot leave the list under us (no ABA) */
    hak_block_t* link = HAK_HD_NEXT(page, b);
    _hak_hd_check_link(page, b, link);
    uintptr_t next = (uintptr_t)link | (w & HAK_NOTIFY_MASK);
    if (hak_likely(atomic_compare_exchange_weak_explicit(&page->free, &w, next,
                                                         memory_order_acquire, memory_order_acquire))) {
      _hak_hd_claim(b);
      atomic_fetch_add_explicit(&page->used, 1, memory_order_relaxed);
      return b;
    }
  }
}
#endif

#if HAK_DUAL_LISTS
hak_inline void _hak_page_push_local_chain(hak_page_t* page, hak_block_t* first, hak_block_t* last, uint32_t n) {
  HAK_HD_LINK(page, last, page->free);
  page->free = first;
  page->used -= n;
  if (hak_unlikely(page->used == 0)) _hak_page_retire(page);
}
#else
hak_inline void _hak_page_push_local_chain(hak_page_t* page, hak_block_t* first, hak_block_t* last, uint32_t n) {
  uintptr_t w = atomic_load_explicit(&page->free, memory_order_relaxed);
  do {
    HAK_HD_LINK(page, last, _hak_word_block(w));
  } while (!atomic_compare_exchange_weak_explicit(&page->free, &w, (uintptr_t)first | (w & HAK_NOTIFY_MASK),
                                                  memory_order_release, memory_order_relaxed));
  if (hak_unlikely(atomic_fetch_sub_explicit(&page->used, n, memory_order_acq_rel) == n)) _hak_page_retire(page);
}
#endif

hak_inline void _hak_page_push_local(hak_page_t* page, void* p) {
  _hak_page_push_local_chain(page, (hak_block_t*)p, (hak_block_t*)p, 1);
}

/* A heap's current and direct pages are never NULL (the empty page stands in): said so,
 * the fast path's test of the page it pops from folds. */
hak_inline hak_page_t* _hak_nonnull_page(hak_page_t* page) {
  if (page == NULL) __builtin_unreachable();
  return page;
}

/* A block from the page's allocation list, counted; NULL when the list is empty. */
hak_inline void* _hak_page_malloc(hak_heap_t* heap, hak_page_t* page, size_t size) {
  void* b = _hak_page_pop(page);
  if (hak_likely(b != NULL)) {
    _hak_count_alloc(heap, page, size);
    _hak_block_handed(page, b, size);
  }
  return b;
}

/* ---------------------------------------------------------------- the mid cache's stacks */

/* _hak_mid_stack_pop: the most recent block of the calling thread's stack for a mid class,
 * counted; NULL when the stack is empty, and always without the mid cache.
 * _hak_mid_stack_push: a freed mid block onto the calling thread's stack for its class;
 * false when it is full. */
#if HAK_MID_CACHE_SLOTS
hak_inline void* _hak_mid_stack_pop(hak_heap_t* heap, int cls, size_t size) {
  hak_mid_stack_t* st = &heap->mid_stack[cls];
  if (hak_unlikely(st->top == st->base)) return NULL;
  _hak_count_alloc_of(heap, HAK_TIER_MID, cls, size);
  void* b = *--st->top;
  if (b == NULL) __builtin_unreachable();   /* a stack holds blocks: the caller's test folds */
  return b;
}

hak_inline bool _hak_mid_stack_push(hak_heap_t* heap, hak_mid_stack_t* st, void* p) {
  if (hak_unlikely(st->top == st->end)) return false;
  _hak_count_free_block(heap, p);
  *st->top++ = p;
  return true;
}
#elif HAK_HARDEN
/* harden: the freeing thread's quarantine ring is its cache (hak_harden.h) */
hak_inline void* _hak_mid_stack_pop(hak_heap_t* heap, int cls, size_t size) {
  void* b = _hak_hd_quarantine_pop(heap, cls, size);
  if (b != NULL) _hak_count_alloc_of(heap, HAK_TIER_MID, cls, size);
  return b;
}
#else
hak_inline void* _hak_mid_stack_pop(hak_heap_t* heap, int cls, size_t size) {
  (void)heap; (void)cls; (void)size;
  return NULL;
}
#endif

/* ---------------------------------------------------------------- malloc */

/* Where a tiny request's block comes from: the calling thread's list for its class with the
 * tiny cache (_hak_tiny_list_pop; a miss goes to the slow path, which fills the list), else
 * the class's current page (_hak_tiny_page_of). Whichever the build lacks answers NULL, and
 * the caller's test of it folds. The class's list or page is found by one array index
 * (direct cache) or by a binary search of the class table. */
#if HAK_TINY_CACHE_BLOCKS && HAK_DIRECT_CACHE
hak_inline hak_tiny_list_t* _hak_tiny_list_of(hak_heap_t* heap, size_t size) { return heap->tiny_direct[(size + 7) >> 3]; }
#elif HAK_TINY_CACHE_BLOCKS
hak_inline hak_tiny_list_t* _hak_tiny_list_of(hak_heap_t* heap, size_t size) { return &heap->tiny_list[_hak_class_search(size)]; }
#elif HAK_DIRECT_CACHE
hak_inline hak_page_t* _hak_tiny_page_of(hak_heap_t* heap, size_t size) { return _hak_nonnull_page(heap->direct[(size + 7) >> 3]); }
#else
hak_inline hak_page_t* _hak_tiny_page_of(hak_heap_t* heap, size_t size) { return _hak_nonnull_page(heap->current[_hak_class_search(size)]); }
#endif

/* The calling thread's cache for a tiny class. `size` (with tiny cache; `need` below): the
 * request with harden's room, which picks the class; `request`/`size`: the request. */
#if HAK_TINY_CACHE_BLOCKS
hak_inline void* _hak_tiny_list_pop(hak_heap_t* heap, size_t size, size_t request) {
  (void)request;
  hak_tiny_list_t* list = _hak_tiny_list_of(heap, size);
  hak_block_t* b = list->head;
  if (hak_unlikely(b == NULL)) return NULL;
  hak_block_t* next = b->next;
  __asm__("" : "+r"(b));   /* keeps gcc from parking b in another register than the result's */
  if (b == NULL) __builtin_unreachable();   /* ... which hides that b is not NULL */
  list->head = next;
  list->room++;
  _hak_count_alloc_of(heap, HAK_TIER_TINY, (int)(list - heap->tiny_list), size);
  return b;
}
hak_inline hak_page_t* _hak_tiny_page_of(hak_heap_t* heap, size_t size) { (void)heap; (void)size; return NULL; }
#elif HAK_HARDEN
/* harden: the freeing thread's quarantine ring is its cache (hak_harden.h) */
hak_inline void* _hak_tiny_list_pop(hak_heap_t* heap, size_t need, size_t size) {
  int cls = _hak_class_of(need);
  void* b = _hak_hd_quarantine_pop(heap, cls, size);
  if (b != NULL) _hak_count_alloc_of(heap, HAK_TIER_TINY, cls, size);
  return b;
}
#else
hak_inline void* _hak_tiny_list_pop(hak_heap_t* heap, size_t need, size_t size) { (void)heap; (void)need; (void)size; return NULL; }
#endif

/* Everything the fast path does not serve. It reads the heap again itself, so that the fast
 * path keeps `size` in its argument register instead of shuffling for the call. */
hak_internal void* _hak_malloc_generic(size_t size, bool wrapped);

/* A block from the thread's own cache for the class (tiny list, mid stack), else from the
 * class's current page; the slow path for the rest. `wrapped`: the request came through the
 * malloc override (where wrap-tiny applies). */
hak_inline void* _hak_malloc_inline(size_t size, bool wrapped) {
  hak_heap_t* heap = _hak_heap();
  hak_page_t* page;                     /* NULL: no page to pop from here */
  size_t need = _hak_request_room(size);   /* harden: room for the canary */
  if (hak_likely(need <= HAK_TINY_MAX)) {
    void* b = _hak_tiny_list_pop(heap, need, size);
    if (hak_likely(b != NULL)) return b;
    page = _hak_tiny_page_of(heap, need);
  } else if (need <= HAK_MID_MAX) {
    int cls = _hak_class_of(need);
    void* b = _hak_mid_stack_pop(heap, cls, size);
    if (hak_likely(b != NULL)) return b;
    page = _hak_nonnull_page(heap->current[cls]);
  } else {
    page = NULL;                        /* large */
  }
  if (hak_likely(page != NULL)) {
    void* b = _hak_page_malloc(heap, page, size);
    if (hak_likely(b != NULL)) return b;
  }
  return _hak_malloc_generic(size, wrapped);
}

/* ---------------------------------------------------------------- free */

/* The free fast path in four steps, each a helper per setting:
 *   _hak_free_find   what the block's address tells: with the tiny cache, its page's list
 *                    offset; else its page. False for a pointer outside hakmem's segments
 *                    (superslab; the registry answers the empty page instead).
 *   _hak_free_takes  whether the fast path keeps the block: the calling thread's list at
 *                    that offset has room (tiny cache); with harden, a small or mid block
 *                    and a thread with a quarantine ring; else the calling thread owns the page.
 *   _hak_free_check  harden: the block-start test (a failure aborts), the free tag, the
 *                    slack, the canary word and the neighbour's slack.
 *   _hak_free_push   onto the list, into harden's ring (filled), or onto the page's list.
 * A block the list did not take may still go to a mid stack (_hak_free_to_stack); anything
 * else goes to the slow path (_hak_free_miss). */

/* _hak_free_slow for a block whose page the fast path did not compute. */
hak_internal void _hak_free_slow_lookup(void* p);

#if HAK_TINY_CACHE_BLOCKS
typedef struct hak_free_at_s {
  size_t list_off;                      /* where in a heap the page's frees' list lies */
  hak_tiny_list_t* list;                /* that list in the calling thread's heap */
  hak_page_t* page;                     /* superslab off: the registry's answer */
} hak_free_at_t;
#else
typedef struct hak_free_at_s {
  hak_page_t* page;                     /* NULL: not hakmem's (superslab) */
} hak_free_at_t;
#endif

#if HAK_TINY_CACHE_BLOCKS && HAK_SUPERSLAB
/* The offset comes from the segment header's line, through the page shift in the segment
 * map: the page descriptor's own line is not read. The compact map's blocks all miss the flat
 * table; _hak_free_slow_lookup finds their shift in its directory and takes the same steps. */
hak_inline bool _hak_free_find_shift(const void* p, unsigned page_shift, hak_free_at_t* at) {
  if (hak_unlikely(page_shift == 0)) return false;
  const hak_segment_t* seg = (const hak_segment_t*)((uintptr_t)p & ~(uintptr_t)HAK_SEGMENT_MASK);
  at->list_off = _hak_relaxed_load16(&seg->list_off[((uintptr_t)p & HAK_SEGMENT_MASK) >> page_shift]);
  return true;
}
hak_inline bool _hak_free_find(const void* p, hak_free_at_t* at) {
  return _hak_free_find_shift(p, _hak_segmap_flat(p), at);
}
hak_inline void _hak_free_miss(void* p, const hak_free_at_t* at) { (void)at; _hak_free_slow_lookup(p); }
#elif HAK_TINY_CACHE_BLOCKS
/* A foreign pointer finds the empty page, whose offset leads to the no_list. */
hak_inline bool _hak_free_find(const void* p, hak_free_at_t* at) {
  at->page = _hak_page_of(p);
  at->list_off = _hak_relaxed_load16(&at->page->list_off);
  return true;
}
hak_inline void _hak_free_miss(void* p, const hak_free_at_t* at) { _hak_free_slow(p, at->page); }
#else
hak_inline bool _hak_free_find(const void* p, hak_free_at_t* at) {
  at->page = _hak_page_lookup(p);
  return at->page != NULL;
}
/* a NULL page: the slow path gives the pointer the empty page */
hak_inline void _hak_free_miss(void* p, const hak_free_at_t* at) { _hak_free_slow(p, at->page); }
#endif

#if HAK_TINY_CACHE_BLOCKS
/* A tiny block, any thread's, onto the calling thread's list for its class. A mid page's
 * offset leads to its class's stack, whose room word is 0; a large page's, or a mid page's
 * without a live owner, to the heap's no_list, which has no room either. */
hak_inline bool _hak_free_takes(hak_heap_t* heap, hak_free_at_t* at) {
  at->list = (hak_tiny_list_t*)((char*)heap + at->list_off);
  return at->list->room != 0;
}
hak_inline void _hak_free_push(hak_heap_t* heap, const hak_free_at_t* at, void* p) {
  _hak_count_free_block(heap, p);
  ((hak_block_t*)p)->next = at->list->head;
  at->list->head = (hak_block_t*)p;
  _hak_dec_in_memory(&at->list->room);
}
#elif HAK_HARDEN
/* Any thread's small or mid block goes into the calling thread's quarantine (which hands it
 * to its page later, remote or not); a large block, a page not in use (the empty page of a
 * foreign pointer, a released page) and a thread without a quarantine take the slow path. */
hak_inline bool _hak_free_takes(hak_heap_t* heap, hak_free_at_t* at) {
  return heap->quarantine_keep != 0 && at->page->in_use && at->page->tier != HAK_TIER_LARGE;
}
hak_inline void _hak_free_push(hak_heap_t* heap, const hak_free_at_t* at, void* p) {
  _hak_count_free(heap, at->page);
  _hak_hd_quarantine_block(heap, at->page, p);
}
#else
/* The owner's free goes back on its page; the owner word's tags (a full page, a mid page)
 * send the owner to the slow path too. */
hak_inline bool _hak_free_takes(hak_heap_t* heap, hak_free_at_t* at) {
  (void)heap;
  return _hak_page_owner(at->page) == _hak_thread_id();
}
hak_inline void _hak_free_push(hak_heap_t* heap, const hak_free_at_t* at, void* p) {
  _hak_count_free(heap, at->page);
  _hak_page_push_local(at->page, p);
}
#endif

#if HAK_HARDEN
/* p must start a carved block of the page (else the report aborts); a block that carries the
 * free tag, or whose canary, encoded slack or neighbour's end looks broken, goes to the slow
 * path, which looks for it on the page's lists and checks it in full. */
hak_inline bool _hak_free_check(const hak_free_at_t* at, const void* p) {
  if (hak_unlikely(!_hak_hd_block_start(at->page, p))) _hak_hd_bad_free(at->page, p);
  return _hak_hd_free_ok(at->page, p);
}
#else
hak_inline bool _hak_free_check(const hak_free_at_t* at, const void* p) { (void)at; (void)p; return true; }
#endif

#if HAK_TINY_CACHE_BLOCKS && HAK_MID_CACHE_SLOTS
/* An offset past the tiny lists leads to a mid stack (a full tiny list is not one). */
hak_inline bool _hak_free_to_stack(hak_heap_t* heap, const hak_free_at_t* at, void* p) {
  return at->list_off >= offsetof(hak_heap_t, mid_stack) && _hak_mid_stack_push(heap, (hak_mid_stack_t*)(void*)at->list, p);
}
#else
/* without the tiny cache, the owner word's tag sends a mid block to the slow path, which
 * pushes it on the stack */
hak_inline bool _hak_free_to_stack(hak_heap_t* heap, const hak_free_at_t* at, void* p) {
  (void)heap; (void)at; (void)p;
  return false;
}
#endif

/* The steps after _hak_free_find; false: the slow path (_hak_free_miss) has the block. */
hak_inline bool _hak_free_fast(void* p, hak_free_at_t* at) {
  hak_heap_t* heap = _hak_heap();
  if (hak_likely(_hak_free_takes(heap, at))) {
    if (hak_likely(_hak_free_check(at, p))) {
      _hak_free_push(heap, at, p);
      return true;
    }
    return false;
  }
  return _hak_free_to_stack(heap, at, p);
}

hak_inline void _hak_free_inline(void* p) {
  hak_free_at_t at;
  if (hak_likely(_hak_free_find(p, &at)) && hak_likely(_hak_free_fast(p, &at))) return;
  _hak_free_miss(p, &at);
}

#endif
