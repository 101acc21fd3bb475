/* Pages of the tiny and mid tiers: refilling the allocation list (remote frees, fresh
 * blocks), the full list and its remote-free notifications, retiring empty
 * pages, and the free paths that the inline fast path hands over. */
#include "hak_fastpath.h"

#include <errno.h>
#include <sched.h>

static inline void spin_pause(void) { __builtin_ia32_pause(); }

/* ---------------------------------------------------------------- refill */

#if HAK_DUAL_LISTS
/* Whether a collected pointer may be followed: it lies in the page's carved blocks (the
 * hardened build also checks that it starts one); anything else means the list was
 * overwritten. A range test, not the division of _hak_page_holds_block: the walk below
 * runs for every block another thread frees. */
static inline bool collected_ok(const hak_page_t* page, const void* b, uintptr_t span) {
#if HAK_HARDEN
  (void)span;
  return _hak_hd_block_start(page, b);
#else
  return (uintptr_t)b - (uintptr_t)page->area < span;
#endif
}

/* Takes every block other threads freed into the page (one atomic exchange for the whole
 * batch) and puts them on the allocation list. Returns how many. */
static uint32_t page_collect_remote(hak_page_t* page) {
  uintptr_t w = atomic_load_explicit(&page->thread_free, memory_order_relaxed);
  do {
    if (_hak_word_block(w) == NULL) return 0;
  } while (!atomic_compare_exchange_weak_explicit(&page->thread_free, &w, w & HAK_NOTIFY_MASK,
                                                  memory_order_acq_rel, memory_order_relaxed));
  hak_block_t* head = _hak_word_block(w);
  hak_block_t* tail = head;
  uint32_t n = 1;
  /* only the owner carves, and the owner is collecting: the capacity stays put */
  const uint32_t capacity = __atomic_load_n(&page->capacity, __ATOMIC_RELAXED);
  const uintptr_t span = (uintptr_t)capacity * page->block_size;
  if (hak_unlikely(!collected_ok(page, head, span))) _hak_misuse(HAK_MISUSE_CORRUPT_LIST, head, page->block_size);
  for (hak_block_t* next; (next = HAK_HD_NEXT(page, tail)) != NULL; tail = next, n++) {
    /* stop before following a pointer that is not the page's, or a list that loops */
    if (hak_unlikely(!collected_ok(page, next, span) || n > capacity)) _hak_misuse(HAK_MISUSE_CORRUPT_LIST, tail, page->block_size);
  }
  HAK_HD_LINK(page, tail, page->free);
  page->free = head;
  page->used -= n;
  return n;
}
#endif

/* Carves up to HAK_EXTEND_BYTES of fresh blocks (at least 4) onto the allocation list. */
static uint32_t page_extend(hak_page_t* page) {
  uint32_t avail = page->reserved - page->capacity;
  if (avail == 0) return 0;
  uint32_t bsize = page->block_size;
  uint32_t n = HAK_EXTEND_BYTES / bsize;
  if (n < 4) n = 4;
  if (n > avail) n = avail;
  uint8_t* start = page->area + (size_t)page->capacity * bsize;
  uint8_t* last = start + (size_t)(n - 1) * bsize;
  for (uint8_t* b = start; b < last; b += bsize) HAK_HD_LINK(page, b, b + bsize);
#if HAK_DUAL_LISTS
  HAK_HD_LINK(page, last, page->free);
  page->free = (hak_block_t*)start;
#else
  uintptr_t w = atomic_load_explicit(&page->free, memory_order_relaxed);
  do {
    HAK_HD_LINK(page, last, _hak_word_block(w));
  } while (!atomic_compare_exchange_weak_explicit(&page->free, &w, (uintptr_t)start | (w & HAK_NOTIFY_MASK),
                                                  memory_order_release, memory_order_relaxed));
#endif
  __atomic_store_n(&page->capacity, page->capacity + n, __ATOMIC_RELAXED);   /* _hak_page_holds_block */
#if HAK_HARDEN
  _hak_hd_page_extended(page);
  _hak_hd_fill_fresh(page, start, n);
#endif
  page->is_dirty = 1;
  return n;
}

/* Makes the allocation list non-empty if the page has blocks carved already to give (the
 * owner's frees are on the list, remote frees are collected); false when it has none.
 * *supplied: blocks collected. */
static bool page_take_carved(hak_page_t* page, uint32_t* supplied) {
  *supplied = 0;
#if HAK_DUAL_LISTS
  if (page->free != HAK_LIST_END(page)) {
#if HAK_HARDEN
    /* a list the pop refused although it is not empty: the head's link is broken */
    if (!_hak_hd_near(page, HAK_HD_NEXT(page, page->free))) _hak_hd_bad_link(page, page->free);
#endif
    return true;
  }
  if (_hak_word_block(atomic_load_explicit(&page->thread_free, memory_order_relaxed)) == NULL) return false;
  return (*supplied = page_collect_remote(page)) != 0;
#else
  return _hak_word_block(atomic_load_explicit(&page->free, memory_order_acquire)) != NULL;
#endif
}

/* ---------------------------------------------------------------- full pages */

/* Moves a page without free blocks to the heap's full list and asks the next remote free
 * to notify the heap. Returns false, leaving the page in place, if remote frees arrived. */
static bool page_mark_full(hak_heap_t* heap, hak_page_t* page) {
  _Atomic(uintptr_t)* rw = _hak_page_remote_word(page);
  uintptr_t w = atomic_load_explicit(rw, memory_order_acquire);
  for (;;) {
    if (_hak_word_block(w) != NULL) return false;
    if ((w & HAK_NOTIFY_MASK) == HAK_NOTIFY_BUSY) {        /* an earlier notifier finishing */
      spin_pause();
      w = atomic_load_explicit(rw, memory_order_acquire);
      continue;
    }
    /* An earlier notification may still list this page; drain the list first, so a page
     * is never on it twice. */
    if (atomic_load_explicit(&heap->notified, memory_order_relaxed) != NULL) {
      _hak_heap_collect_notified(heap);
      w = atomic_load_explicit(rw, memory_order_acquire);
      continue;
    }
    if (atomic_compare_exchange_weak_explicit(rw, &w, (w & ~HAK_NOTIFY_MASK) | HAK_NOTIFY_WANT,
                                              memory_order_acq_rel, memory_order_acquire)) break;
  }
  _hak_heap_queue_remove(&heap->queue[page->class_idx], page);
  _hak_heap_queue_push_back(&heap->full, page);
  page->in_full = 1;
  _hak_page_set_owner(page, _hak_owner_word(heap, page) | HAK_OWNER_FULL);
  hak_check(_hak_page_is_valid(page));
  return true;
}

static void page_unfull(hak_heap_t* heap, hak_page_t* page) {
  if (!page->in_full) return;
  _Atomic(uintptr_t)* rw = _hak_page_remote_word(page);
  uintptr_t w = atomic_load_explicit(rw, memory_order_relaxed);
  /* WANT -> NONE; a BUSY notifier resets the state itself when it is done */
  while ((w & HAK_NOTIFY_MASK) == HAK_NOTIFY_WANT &&
         !atomic_compare_exchange_weak_explicit(rw, &w, w & ~HAK_NOTIFY_MASK,
                                                memory_order_acq_rel, memory_order_relaxed)) { }
  _hak_heap_queue_remove(&heap->full, page);
  page->in_full = 0;
  _hak_page_set_owner(page, _hak_owner_word(heap, page));
  _hak_heap_queue_push_back(&heap->queue[page->class_idx], page);
  _hak_heap_set_current(heap, page->class_idx);
  hak_check(_hak_page_is_valid(page));
}

void _hak_heap_collect_notified(hak_heap_t* heap) {
  hak_page_t* page = atomic_exchange_explicit(&heap->notified, NULL, memory_order_acquire);
  while (page != NULL) {
    hak_page_t* next = page->notify_next;
    if (page->in_full) page_unfull(heap, page);
    page = next;
  }
}

/* Stops notifications for a page about to be released or abandoned; waits out a notifier
 * that is half-way, so nobody touches the page after it is gone. */
void _hak_page_block_notify(hak_page_t* page) {
  _Atomic(uintptr_t)* rw = _hak_page_remote_word(page);
  uintptr_t w = atomic_load_explicit(rw, memory_order_acquire);
  for (;;) {
    uintptr_t s = w & HAK_NOTIFY_MASK;
    if (s == HAK_NOTIFY_NEVER) return;
    if (s == HAK_NOTIFY_BUSY) {
      spin_pause();
      w = atomic_load_explicit(rw, memory_order_acquire);
      continue;
    }
    if (atomic_compare_exchange_weak_explicit(rw, &w, w | HAK_NOTIFY_NEVER,
                                              memory_order_acq_rel, memory_order_acquire)) return;
  }
}

/* ---------------------------------------------------------------- allocation slow path */

hak_inline void count_supplied(hak_heap_t* heap, int tier, uint32_t n) {
  _hak_counter_add(&heap->stats.always[tier == HAK_TIER_TINY ? HAK_STAT_TINY_BLOCKS_SUPPLIED : HAK_STAT_MID_BLOCKS_SUPPLIED], n);
}

hak_inline void count_refill(hak_heap_t* heap, int tier, uint32_t supplied) {
  if (supplied == 0) return;
  _hak_counter_add(&heap->stats.always[tier == HAK_TIER_TINY ? HAK_STAT_TINY_REFILLS : HAK_STAT_MID_REFILLS], 1);
  count_supplied(heap, tier, supplied);
}

/* Free blocks a page behind the first must offer to be taken instead of fresh ones. */
static inline uint32_t switch_min(uint32_t bsize) {
  uint32_t n = HAK_REFILL_SWITCH_BYTES / bsize;
  return n != 0 ? n : 1;
}

/* Blocks of the page not in use: its remote frees are collected (and counted) first, since
 * they count as used until then. */
static inline uint32_t page_free_count(hak_heap_t* heap, hak_page_t* page) {
#if HAK_DUAL_LISTS
  if (_hak_word_block(atomic_load_explicit(&page->thread_free, memory_order_relaxed)) != NULL) {
    count_supplied(heap, page->tier, page_collect_remote(page));
  }
#else
  (void)heap;
#endif
  return page->capacity - _hak_page_used(page);
}

static void queue_to_front(hak_page_queue_t* q, hak_page_t* page) {
  if (page == q->first) return;
  _hak_heap_queue_remove(q, page);
  _hak_heap_queue_push_front(q, page);
}

/* The first pass of a refill (hak_config.h, HAK_REFILL_SWITCH_BYTES): blocks already carved,
 * the first page's and those of any page behind it that offers enough (its own frees and
 * its remote frees, collected), before fresh ones, whose first touch faults their memory
 * in. Returns the page that has free blocks, moved to the front of its queue, or NULL. */
hak_inline hak_page_t* page_find_carved(hak_heap_t* heap, hak_page_queue_t* q, size_t alignment, uint32_t* supplied) {
  hak_page_t* const first = q->first;
  /* while the first page has room, a page behind it must offer HAK_REFILL_SWITCH_BYTES of
   * free blocks, its own and its remote frees */
  const bool room = first != NULL && first->capacity < first->reserved;
  for (hak_page_t* page = first; page != NULL;) {
    hak_page_t* next = page->next;
    bool few = room && page != first && page_free_count(heap, page) < switch_min(page->block_size);
    if (!few && _hak_page_fits(page, alignment)) {
      if (page_take_carved(page, supplied)) {
        queue_to_front(q, page);
        return page;
      }
    }
    page = next;
  }
  return NULL;
}

/* A page of the class with free blocks on an `alignment` boundary (1: any), made the first
 * of its queue; NULL when no memory is left. After the first pass and the adoptions, the
 * pages in order: free blocks, else fresh ones; a page with neither goes to the full list. */
hak_inline hak_page_t* page_find(hak_heap_t* heap, int cls, size_t alignment) {
  hak_page_queue_t* q = &heap->queue[cls];
  int tier = _hak_class_tier(cls);
  uint32_t supplied = 0;
  /* Threads that exited left segments behind: adopt a few before carving fresh blocks or
   * mapping more, but not all of them for one request; later refills adopt the rest. */
  int adoptions_left = HAK_ADOPT_PER_REFILL;
  hak_page_t* page;
  for (;;) {
    if ((page = page_find_carved(heap, q, alignment, &supplied)) != NULL) goto found;
    if (adoptions_left-- == 0 || !_hak_segment_adopt_one(heap, tier == HAK_TIER_TINY ? HAK_SEG_TINY : HAK_SEG_MID, cls)) break;
  }
  for (page = q->first; page != NULL;) {
    hak_page_t* next = page->next;
    if (_hak_page_fits(page, alignment)) {
      if (page_take_carved(page, &supplied) || (supplied = page_extend(page)) != 0) {
        queue_to_front(q, page);
        goto found;
      }
      if (!page_mark_full(heap, page)) continue;    /* remote frees arrived: look again */
    }
    page = next;
  }
  page = _hak_segment_page_alloc(heap, cls, alignment);
  if (page == NULL) return NULL;
  supplied = page_extend(page);
  _hak_counter_add(&heap->stats.always[tier == HAK_TIER_TINY ? HAK_STAT_TINY_PAGES_CARVED : HAK_STAT_MID_PAGES_CARVED], 1);
  hak_assert(heap->queue[cls].first == page);
found:
  count_refill(heap, tier, supplied);
  hak_check(_hak_page_is_valid(page));
  return page;
}

/* A block from the class's pages, on an `alignment` boundary. */
hak_inline void* malloc_from_pages(hak_heap_t* heap, int cls, size_t size, size_t alignment) {
  if (atomic_load_explicit(&heap->notified, memory_order_relaxed) != NULL) _hak_heap_collect_notified(heap);
  hak_page_t* page = page_find(heap, cls, alignment);
  if (hak_unlikely(page == NULL)) { errno = ENOMEM; return NULL; }
  if (heap->current[cls] != page) _hak_heap_set_current(heap, cls);    /* a refill of the same page is not a switch */
  void* b = _hak_page_pop(page);
  hak_assert(b != NULL);
  _hak_count_alloc(heap, page, size);
  _hak_block_handed(page, b, size);
  return b;
}

void* _hak_malloc_class(hak_heap_t* heap, int cls, size_t size) {
#if HAK_MID_CACHE_SLOTS
  /* blocks other threads freed and could not keep come before pages: they are memory that
   * is already resident and otherwise idle */
  if (cls >= HAK_TINY_CLASSES) {
    void* shared = _hak_mid_cache_refill(heap, cls);
    if (shared != NULL) {
      _hak_count_alloc_of(heap, HAK_TIER_MID, cls, size);
      return shared;
    }
  }
#elif HAK_HARDEN
  void* shared = _hak_hd_pool_malloc(heap, cls, size);
  if (shared != NULL) return shared;
#endif
  return malloc_from_pages(heap, cls, size, 1);
}

/* A block of the class on an `alignment` boundary (at most 4 KiB, which the class's size
 * is a multiple of): from a page whose colour keeps it there, made the current one, or
 * from a new page given no colour beyond it. The mid cache and the pool are passed by:
 * their blocks may come from any page. */
void* _hak_malloc_class_aligned(hak_heap_t* heap, int cls, size_t size, size_t alignment) {
  return malloc_from_pages(heap, cls, size, alignment);
}


/* ---------------------------------------------------------------- empty pages */

/* Gives an empty page back to its segment. */
static void page_release(hak_heap_t* heap, hak_page_t* page) {
  _hak_page_block_notify(page);
  if (atomic_load_explicit(&heap->notified, memory_order_relaxed) != NULL) _hak_heap_collect_notified(heap);
  _hak_heap_queue_remove(&heap->queue[page->class_idx], page);
  _hak_heap_set_current(heap, page->class_idx);
  _hak_segment_page_free(heap, page);
}

/* The owner's free emptied a page. The class's current page stays (an alloc/free cycle
 * must not map and unmap); any other goes back to its segment. */
void _hak_page_retire(hak_page_t* page) {
  hak_check(_hak_page_is_valid(page));
  hak_heap_t* heap = _hak_page_heap(page);
  if (heap->queue[page->class_idx].first == page) return;
  page_release(heap, page);
}

/* Collects every page's remote frees and gives each empty page back to its segment, the
 * current ones included (trim, out of memory, the purge thread's own heap). */
void _hak_heap_release_empty(hak_heap_t* heap) {
  if (atomic_load_explicit(&heap->notified, memory_order_relaxed) != NULL) _hak_heap_collect_notified(heap);
  for (int cls = 0; cls < HAK_CLASS_COUNT; cls++) {
    hak_page_t* page = heap->queue[cls].first;
    while (page != NULL) {
      hak_page_t* next = page->next;
#if HAK_DUAL_LISTS
      page_collect_remote(page);
#endif
      if (_hak_page_used(page) == 0) page_release(heap, page);
      page = next;
    }
  }
}

/* ---------------------------------------------------------------- free slow path */

/* Blocks first .. last (n of them, linked in that order) onto another thread's page. */
static void page_remote_free(hak_page_t* page, hak_block_t* first, hak_block_t* last, uint32_t n) {
  _Atomic(uintptr_t)* rw = _hak_page_remote_word(page);
  uintptr_t w = atomic_load_explicit(rw, memory_order_relaxed);
  uintptr_t s;
  do {
    s = w & HAK_NOTIFY_MASK;
    HAK_HD_LINK(page, last, _hak_word_block(w));
  } while (!atomic_compare_exchange_weak_explicit(rw, &w, (uintptr_t)first | (s == HAK_NOTIFY_WANT ? HAK_NOTIFY_BUSY : s),
                                                  memory_order_acq_rel, memory_order_relaxed));
#if !HAK_DUAL_LISTS
  atomic_fetch_sub_explicit(&page->used, n, memory_order_release);
#else
  (void)n;
#endif
  if (hak_unlikely(s == HAK_NOTIFY_WANT)) {
    /* The page is in its owner's full list: tell the owner. BUSY keeps the page (and the
     * owner heap) from going away until the state is reset below. */
    hak_heap_t* owner = _hak_page_heap(page);
    hak_page_t* head = atomic_load_explicit(&owner->notified, memory_order_relaxed);
    do {
      page->notify_next = head;
    } while (!atomic_compare_exchange_weak_explicit(&owner->notified, &head, page,
                                                    memory_order_release, memory_order_relaxed));
    w = atomic_load_explicit(rw, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(rw, &w, w & ~HAK_NOTIFY_MASK,
                                                  memory_order_release, memory_order_relaxed)) { }
  }
}

/* The owner of a small page, after taking over the segment of an exited thread whose page
 * this is, where the calling thread can (reclaim on free). */
static uintptr_t page_owner_reclaiming(hak_heap_t* heap, hak_page_t* page) {
  uintptr_t owner = _hak_page_owner(page) & ~HAK_OWNER_TAGS;
  if (owner == 0 && heap != &_hak_heap_empty && _hak_segment_reclaim(heap, page->segment)) {
    _hak_count_event(heap, HAK_STAT_SEGMENTS_RECLAIMED, 1);
    owner = _hak_page_owner(page) & ~HAK_OWNER_TAGS;
  }
  return owner;
}

/* Blocks back onto their small page: our own page directly (it may be in the full list),
 * anyone else's through its atomic list, n blocks in one exchange. */
void _hak_free_chain_to_page(hak_heap_t* heap, hak_page_t* page, hak_block_t* first, hak_block_t* last, uint32_t n) {
  if (page_owner_reclaiming(heap, page) == _hak_thread_id()) {
    page_unfull(heap, page);
#if HAK_DUAL_LISTS
    /* other threads' frees too: otherwise only a refill from the page collects them, and a
     * thread that mostly frees (a main thread emptying what exited workers left, whose
     * segments it reclaimed) never refills, so its pages could never empty */
    page_collect_remote(page);
#endif
    _hak_page_push_local_chain(page, first, last, n);
    return;
  }
  page_remote_free(page, first, last, n);
  _hak_count_event(heap, HAK_STAT_REMOTE_FREES, n);
}

void _hak_free_to_page(hak_heap_t* heap, hak_page_t* page, void* p) {
  _hak_free_chain_to_page(heap, page, (hak_block_t*)p, (hak_block_t*)p, 1);
}

static hak_noinline void free_other(hak_page_t* page, void* p) {
  hak_heap_t* heap = _hak_heap();
  if (page->tier == HAK_TIER_LARGE && !_hak_large_owns(page->segment, p)) page = &_hak_page_empty;
  if (page == &_hak_page_empty) {
    if (p == NULL) return;
#if HAK_HARDEN
    if (_hak_hd_is_zero_block(p)) return;
    _hak_hd_check_foreign(p);
#endif
    _hak_count_event(heap, HAK_STAT_LIBC_FREE, 1);
    _hak_sys_free(p);
    return;
  }
#if HAK_HARDEN
  _hak_hd_check_slow_free(page, p);
#endif
  /* A thread that only frees gets a heap too, so that it counts in counters of its own: a
   * global counter would be one cache line bounced between all such threads on every free. */
  if (hak_unlikely(heap == &_hak_heap_empty)) {
    hak_heap_t* own = _hak_heap_for_thread();
    if (own != NULL) heap = own;
  }
  if (heap != &_hak_heap_empty) _hak_count_free(heap, page);
  else _hak_stat_global_free(page);
  if (page->tier == HAK_TIER_LARGE) {
    _hak_large_free(heap, page->segment);
    return;
  }
#if HAK_HARDEN
  /* a free the fast path did not take (a tagged block, a broken canary or neighbour, a
   * thread's first free): checked in full, filled, and delayed */
  if (_hak_hd_small_free(heap, page, p) == NULL) return;
#endif
#if HAK_MID_CACHE_SLOTS
  if (page->tier == HAK_TIER_MID && heap != &_hak_heap_empty) {
    page_owner_reclaiming(heap, page);    /* an exited thread's segment becomes ours */
    _hak_mid_cache_push(heap, page->class_idx, p);
    _hak_purge_thread_poll();
    return;
  }
#endif
#if HAK_TINY_CACHE_BLOCKS
  if (page->tier == HAK_TIER_TINY && heap != &_hak_heap_empty) {
    page_owner_reclaiming(heap, page);
    if (_hak_tiny_cache_push(heap, page->class_idx, p)) { _hak_purge_thread_poll(); return; }
  }
#endif
  _hak_free_to_page(heap, page, p);
  _hak_purge_thread_poll();
}

/* Every free the inline fast path does not finish. A mid block of a page with a live owner,
 * whichever thread that is and whether its page is full or not (the stack leaves the page
 * as it is), goes onto the calling thread's stack for its class while there is room: the
 * thread reuses the blocks it frees, as it would its own, and they go back to their pages
 * only when its stack overflows or it exits. With the tiny cache, the fast path has tried
 * the stack already (through the page's list offset); without it, the owner word's tag says
 * the page is a mid page with a live owner. The empty heap's stacks are always full. A NULL
 * page: p is not hakmem's. */
void _hak_free_slow(void* p, hak_page_t* page) {
  if (page == NULL) page = &_hak_page_empty;
#if HAK_MID_CACHE_SLOTS && !HAK_TINY_CACHE_BLOCKS
  if (_hak_page_owner(page) & HAK_OWNER_CACHED) {
    hak_heap_t* heap = _hak_heap();
    if (_hak_mid_stack_push(heap, &heap->mid_stack[page->class_idx], p)) return;
  }
#endif
  free_other(page, p);
}

#if HAK_SUPERSLAB
void _hak_free_slow_lookup(void* p) {
#if HAK_TINY_CACHE_BLOCKS
  /* the compact segment map: the fast path's steps, with the page shift from its directory */
  hak_free_at_t at;
  if (_hak_segmap_compact && _hak_free_find_shift(p, _hak_segmap_compact_shift(p), &at) && _hak_free_fast(p, &at)) return;
#endif
  _hak_free_slow(p, _hak_page_lookup(p));
}
#endif

/* ---------------------------------------------------------------- thread exit and adoption */

/* The owner is exiting: collect what can be collected, release the page if it is empty,
 * otherwise leave it without an owner (remote frees keep landing on its atomic list).
 * Notifications are already blocked. */
void _hak_page_abandon(hak_heap_t* heap, hak_page_t* page) {
  hak_check(_hak_page_is_valid(page));
#if HAK_DUAL_LISTS
  page_collect_remote(page);
#endif
  page->in_full = 0;
  page->next = page->prev = NULL;
  if (_hak_page_used(page) == 0) {
    _hak_segment_page_free(heap, page);
    return;
  }
  _hak_page_set_owner(page, 0);
  atomic_store_explicit(&page->heap, NULL, memory_order_relaxed);
  hak_check(_hak_page_is_valid(page));
}

/* A page of an adopted segment: collect, release if empty, else queue it. True when it was
 * released (and with the segment's last page, the segment may be gone). */
bool _hak_page_adopt(hak_heap_t* heap, hak_page_t* page) {
  _hak_page_set_owner(page, _hak_owner_word(heap, page));
  atomic_store_explicit(&page->heap, heap, memory_order_relaxed);
#if HAK_DUAL_LISTS
  page_collect_remote(page);
#endif
  if (_hak_page_used(page) == 0) {
    _hak_segment_page_free(heap, page);
    return true;
  }
  _Atomic(uintptr_t)* rw = _hak_page_remote_word(page);
  uintptr_t w = atomic_load_explicit(rw, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(rw, &w, w & ~HAK_NOTIFY_MASK,
                                                memory_order_acq_rel, memory_order_relaxed)) { }
  _hak_heap_queue_push_back(&heap->queue[page->class_idx], page);
  _hak_heap_set_current(heap, page->class_idx);
  hak_check(_hak_page_is_valid(page));
  return false;
}
