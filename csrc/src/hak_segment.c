/* Segments: the 4 MiB units the tiny and mid tiers carve pages from. A segment belongs to
 * one heap (so all its pages do); when the heap's thread exits, segments that still hold
 * live blocks are abandoned to a global list. The memory of exited threads goes to the
 * threads that will use it, before any thread carves or maps fresh memory: a refill adopts
 * a segment whole only where it serves (a page of the refill's class with free blocks, or a
 * free page for a thread out of them), so one thread does not take every segment a
 * generation of threads left while the next maps new ones; and a thread that frees into an
 * exited thread's page reclaims its segment only as long as it allocates itself, at most
 * one segment per refill of its own, so a thread that mostly frees does not hoard them.
 * The idle purge thread adopts whatever is left. An empty segment beyond the heap's
 * one spare per kind goes to a global cache, where any thread's next segment comes from
 * before the OS is asked; cached segments are purged after a delay and unmapped beyond
 * the cache's bound. */
#include "hak_harden.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#if HAK_SUPERSLAB
static _Atomic(uint8_t) _segmap_none[1];
_Atomic(uint8_t)* _hak_segmap_slots = _segmap_none;
uintptr_t _hak_segmap_mask;
bool _hak_segmap_compact;

/* The compact form: a directory entry per 64 GiB, each leading to a leaf of one byte per
 * 4 MiB slot, mapped the first time a segment lands in its 64 GiB and never unmapped. */
#define SEGMAP_LEAF_SHIFT 36
#define SEGMAP_LEAF_ENTRIES ((size_t)1 << (SEGMAP_LEAF_SHIFT - HAK_SEGMENT_SHIFT))
static _Atomic(_Atomic(uint8_t)*) _segmap_dir[(size_t)1 << (47 - SEGMAP_LEAF_SHIFT)];

void _hak_segmap_choose(size_t as_limit) {
  if (as_limit >= HAK_SEGMAP_FLAT_MIN_LIMIT) {
    _Atomic(uint8_t)* flat = _hak_os_map_table(HAK_SEGMAP_ENTRIES);
    if (flat != NULL) {
      _hak_segmap_slots = flat;
      _hak_segmap_mask = HAK_SEGMAP_ENTRIES - 1;
      return;
    }
  }
  _hak_segmap_compact = true;
}

/* The leaf byte of p's slot; create: map the leaf if it is not there yet (NULL if that
 * fails). */
static _Atomic(uint8_t)* segmap_leaf_slot(const void* p, bool create) {
  uintptr_t slot = (uintptr_t)p >> HAK_SEGMENT_SHIFT;
  if (slot >= HAK_SEGMAP_ENTRIES) return NULL;
  _Atomic(_Atomic(uint8_t)*)* entry = &_segmap_dir[slot / SEGMAP_LEAF_ENTRIES];
  _Atomic(uint8_t)* leaf = atomic_load_explicit(entry, memory_order_acquire);
  if (leaf == NULL && create) {
    _Atomic(uint8_t)* fresh = _hak_os_map_table(SEGMAP_LEAF_ENTRIES);
    if (fresh == NULL) return NULL;
    if (atomic_compare_exchange_strong_explicit(entry, &leaf, fresh, memory_order_acq_rel, memory_order_acquire)) {
      leaf = fresh;
    } else {
      _hak_os_unmap_table(fresh, SEGMAP_LEAF_ENTRIES);   /* another thread mapped it first */
    }
  }
  return leaf != NULL ? &leaf[slot % SEGMAP_LEAF_ENTRIES] : NULL;
}

unsigned _hak_segmap_compact_shift(const void* p) {
  _Atomic(uint8_t)* slot = segmap_leaf_slot(p, false);
  return slot != NULL ? atomic_load_explicit(slot, memory_order_acquire) : 0;
}

bool _hak_segmap_set(hak_segment_t* seg, bool mapped) {
  _Atomic(uint8_t)* slot = _hak_segmap_compact ? segmap_leaf_slot(seg, mapped)
                                               : &_hak_segmap_slots[(uintptr_t)seg >> HAK_SEGMENT_SHIFT];
  if (slot == NULL) return !mapped;    /* no leaf to clear is cleared; none to set is a failure */
  atomic_store_explicit(slot, mapped ? seg->page_shift : 0, memory_order_release);
  return true;
}
#else
bool _hak_segmap_set(hak_segment_t* seg, bool mapped) { (void)seg; (void)mapped; return true; }
#endif

static pthread_mutex_t _abandoned_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_segment_t* _abandoned[2];
static _Atomic(size_t) _abandoned_count[2];
/* Empty segments of either kind, most recently emptied first, under _abandoned_lock. */
static hak_segment_t* _cached;
static size_t _cached_count;


/* ---------------------------------------------------------------- lists */

static void seg_push(hak_segment_t** head, hak_segment_t* seg) {
  seg->prev = NULL;
  seg->next = *head;
  if (*head != NULL) (*head)->prev = seg;
  *head = seg;
}

static void seg_remove(hak_segment_t** head, hak_segment_t* seg) {
  if (seg->prev != NULL) seg->prev->next = seg->next; else *head = seg->next;
  if (seg->next != NULL) seg->next->prev = seg->prev;
  seg->next = seg->prev = NULL;
}

static size_t page_area_size(const hak_segment_t* seg, size_t idx) {
  size_t span = (size_t)1 << seg->page_shift;
  return idx == 0 ? span - (size_t)(seg->first_area - (const uint8_t*)seg) : span;
}

/* Where a page's span for blocks starts (its first block may start later: its colour). */
static uint8_t* page_base(hak_segment_t* seg, size_t idx) {
  return idx == 0 ? seg->first_area : (uint8_t*)seg + (idx << seg->page_shift);
}

/* The colour of a new page of blocks of bsize bytes in a span of `area` bytes: how far past
 * the span's start its first block lies (hak_config.h, HAK_MID_COLORS). Mid pages only, a
 * multiple of 64 that differs between neighbouring pages and segments and keeps the blocks
 * on an `alignment` boundary; 0 where it would cost a page of fewer than 8 blocks one block. */
static size_t page_color(const hak_segment_t* seg, size_t idx, size_t bsize, size_t area, size_t alignment) {
  if (HAK_MID_COLORS <= 1 || seg->kind != HAK_SEG_MID) return 0;
  size_t color = ((((uintptr_t)seg >> HAK_SEGMENT_SHIFT) * 11 + idx * 5) % HAK_MID_COLORS) * 64;
  color &= ~(alignment - 1);
  if (area / bsize < 8 && color > area % bsize) return 0;
  return color;
}

/* The whole segment past its header back to the OS, keeping the address space. */
static void segment_purge_all(hak_segment_t* seg) {
  size_t header = _hak_segment_header_size(seg->page_count);
  _hak_os_purge((uint8_t*)seg + header, HAK_SEGMENT_SIZE - header);
  seg->purged = 1;
}

/* ---------------------------------------------------------------- map and unmap */

static hak_segment_t* cache_pop(void) {
  pthread_mutex_lock(&_abandoned_lock);
  hak_segment_t* seg = _cached;
  if (seg != NULL) {
    seg_remove(&_cached, seg);
    _cached_count--;
  }
  pthread_mutex_unlock(&_abandoned_lock);
  return seg;
}

/* Lays out an empty segment for `kind`. Page descriptors are rebuilt from scratch: after a
 * change of kind, some lie where the other layout had blocks. A page keeps only whether it
 * may be resident. */
static void segment_layout(hak_segment_t* seg, hak_heap_t* heap, int kind) {
  bool resident = !seg->purged;
  bool same = seg->page_count != 0 && seg->kind == kind;
  seg->page_shift = kind == HAK_SEG_TINY ? HAK_TINY_PAGE_SHIFT : HAK_MID_PAGE_SHIFT;
  seg->kind = (uint8_t)kind;
  seg->page_count = (uint16_t)(HAK_SEGMENT_SIZE >> seg->page_shift);
  seg->pages_used = 0;
  seg->free_hint = 0;
  seg->in_full_list = 0;
  seg->purged = 0;
  atomic_store_explicit(&seg->owner, heap, memory_order_relaxed);
  seg->first_area = (uint8_t*)seg + _hak_segment_header_size(seg->page_count);
  for (size_t i = 0; i < seg->page_count; i++) {
    hak_page_t* page = &seg->pages[i];
    uint8_t dirty = same ? (uint8_t)(page->is_dirty && resident) : (uint8_t)resident;
    memset(page, 0, sizeof(*page));
    page->is_dirty = dirty;
    page->segment = seg;
    page->area = page_base(seg, i);
    atomic_store_explicit(_hak_page_remote_word(page), HAK_NOTIFY_NEVER, memory_order_relaxed);
  }
}

static hak_segment_t* segment_map(hak_heap_t* heap, int kind) {
  hak_segment_t* seg = cache_pop();
  if (seg != NULL) {
    int old_kind = seg->kind;
    segment_layout(seg, heap, kind);
    if (old_kind != kind) {
      /* the page shift changed: the segment map's copy, or the registry's page of each
       * chunk (whose slot and keys exist already, so neither can fail) */
      (void)_hak_segmap_set(seg, true);
      (void)_hak_registry_add(seg);
    }
    _hak_count_event(heap, HAK_STAT_SEGMENTS_REUSED, 1);
    hak_check(_hak_segment_is_valid(seg));
    return seg;
  }
  size_t mapped;
  void* base;
#if HAK_SUPERSLAB
  size_t alignment = HAK_SEGMENT_SIZE;
#else
  size_t alignment = (size_t)1 << HAK_CHUNK_SHIFT;
#endif
  _hak_os_as_limit_refresh();       /* the cache's bound follows a limit set since */
  seg = _hak_os_map_aligned(HAK_SEGMENT_SIZE, alignment, &mapped, &base);
  if (seg == NULL) return NULL;
  seg->mapped_size = mapped;
  seg->mapped_base = base;
  seg->purged = 1;      /* fresh memory: no page is resident, so none counts as dirty */
  segment_layout(seg, heap, kind);
  bool registered = HAK_SUPERSLAB ? _hak_segmap_set(seg, true) : _hak_registry_add(seg);
  if (!registered) {      /* the compact map's new leaf or the registry's chunk: no memory */
    _hak_os_unmap(base, mapped);
    return NULL;
  }
  _hak_count_event(heap, HAK_STAT_SEGMENTS_MAPPED, 1);
  hak_check(_hak_segment_is_valid(seg));
  return seg;
}

void _hak_segment_unmap(hak_segment_t* seg) {
#if HAK_SUPERSLAB
  (void)_hak_segmap_set(seg, false);
#else
  _hak_registry_remove(seg);
#endif
  _hak_os_unmap(seg->mapped_base, seg->mapped_size);
}

static size_t segment_dirty_bytes(const hak_segment_t* seg) {
  size_t n = 0;
  for (size_t i = 0; i < seg->page_count; i++) {
    if (!seg->pages[i].in_use && seg->pages[i].is_dirty) n += page_area_size(seg, i);
  }
  return n;
}

/* Purges the cached segments that waited the purge delay, under the lock so that no
 * thread takes a segment half-purged. */
static void cache_decay_locked(hak_heap_t* heap, uint64_t now) {
  for (hak_segment_t* s = _cached; s != NULL; s = s->next) {
    if (s->purged || s->cached_at + _hak_options.purge_delay_ms > now) continue;
    segment_purge_all(s);
    _hak_count_event(heap, HAK_STAT_SEGMENTS_PURGED, 1);
  }
}

/* An empty segment goes to the global cache (decaying on the way); the oldest beyond
 * HAK_SEGMENT_CACHE_MAX is unmapped. */
static void segment_release(hak_heap_t* heap, hak_segment_t* seg) {
  hak_check(_hak_segment_is_valid(seg));
  hak_assert(seg->pages_used == 0);
  size_t dirty = segment_dirty_bytes(seg);
  heap->dirty_bytes = heap->dirty_bytes > dirty ? heap->dirty_bytes - dirty : 0;
  uint64_t now = _hak_now_ms();
  seg->purged = dirty == 0;
  seg->cached_at = now;
  hak_segment_t* unmap = NULL;
  pthread_mutex_lock(&_abandoned_lock);
  seg_push(&_cached, seg);
  if (++_cached_count > _hak_segment_cache_max()) {
    unmap = seg;
    while (unmap->next != NULL) unmap = unmap->next;
    seg_remove(&_cached, unmap);
    _cached_count--;
  }
  cache_decay_locked(heap, now);
  pthread_mutex_unlock(&_abandoned_lock);
  if (unmap != NULL) {
    _hak_segment_unmap(unmap);
    _hak_count_event(heap, HAK_STAT_SEGMENTS_UNMAPPED, 1);
  }
  _hak_purge_thread_want();   /* started by the caller's caller: pthread_create allocates */
}

/* Returns a segment's empty-but-written pages to the OS. Neighbouring pages' areas touch,
 * so each run of them is one system call. */
static void segment_purge_empty(hak_heap_t* heap, hak_segment_t* seg) {
  for (size_t i = 0; i < seg->page_count;) {
    if (seg->pages[i].in_use || !seg->pages[i].is_dirty) { i++; continue; }
    uint8_t* run = page_base(seg, i);
    size_t run_size = 0;
    for (; i < seg->page_count && !seg->pages[i].in_use && seg->pages[i].is_dirty; i++) {
      run_size += page_area_size(seg, i);
      seg->pages[i].is_dirty = 0;
      _hak_count_event(heap, HAK_STAT_PAGES_PURGED, 1);
    }
    _hak_os_purge(run, run_size);
  }
}

/* Returns every empty-but-written page of the heap to the OS with MADV_DONTNEED (their
 * address space stays reserved). */
static void heap_purge(hak_heap_t* heap) {
  for (int kind = 0; kind < 2; kind++) {
    for (hak_segment_t* seg = heap->avail[kind]; seg != NULL; seg = seg->next) segment_purge_empty(heap, seg);
    if (heap->spare[kind] != NULL) segment_purge_empty(heap, heap->spare[kind]);
  }
  heap->dirty_bytes = 0;
  heap->purge_at = 0;
}

/* Purge policy (decay): an empty page is not returned at once, since the next alloc/free
 * cycle of its class would fault it in again. A heap returns all its empty written pages
 * in one batch once the oldest has waited the purge delay, or at once when they exceed the
 * purge limit; the global cache's segments decay on the same clock. Checked when pages are
 * carved or emptied, never on the fast paths. */
static void heap_decay(hak_heap_t* heap) {
  if (heap->dirty_bytes == 0) { heap->purge_at = 0; return; }
  if (heap->dirty_bytes > _hak_options.purge_limit) { heap_purge(heap); return; }
  uint64_t now = _hak_now_ms();
  if (heap->purge_at == 0) { heap->purge_at = now + _hak_options.purge_delay_ms; return; }
  if (now < heap->purge_at) return;
  heap_purge(heap);
  pthread_mutex_lock(&_abandoned_lock);
  cache_decay_locked(heap, now);
  pthread_mutex_unlock(&_abandoned_lock);
}

/* ---------------------------------------------------------------- pages */

hak_page_t* _hak_segment_page_alloc(hak_heap_t* heap, int cls, size_t alignment) {
  int kind = _hak_class_tier(cls) == HAK_TIER_TINY ? HAK_SEG_TINY : HAK_SEG_MID;
  hak_segment_t* seg = heap->avail[kind];
  /* an exited thread's segment with a free page before the spare, the cache or the OS */
  if (seg == NULL && _hak_segment_adopt_one(heap, kind, HAK_ADOPT_FREE_PAGE)) seg = heap->avail[kind];
  if (seg == NULL) {
    seg = heap->spare[kind];
    if (seg != NULL) heap->spare[kind] = NULL;
    else if ((seg = segment_map(heap, kind)) == NULL) return NULL;
    seg_push(&heap->avail[kind], seg);
  }
  size_t idx = seg->free_hint;
  while (seg->pages[idx].in_use) idx++;
  hak_assert(idx < seg->page_count);
  seg->free_hint = (uint16_t)(idx + 1);

  hak_page_t* page = &seg->pages[idx];
  size_t area = page_area_size(seg, idx);
  if (page->is_dirty) heap->dirty_bytes = heap->dirty_bytes > area ? heap->dirty_bytes - area : 0;
  heap_decay(heap);
#if HAK_DUAL_LISTS
  page->free = HAK_LIST_END(page);
  page->used = 0;
  atomic_store_explicit(&page->thread_free, HAK_NOTIFY_NONE, memory_order_relaxed);
#else
  atomic_store_explicit(&page->free, HAK_NOTIFY_NONE, memory_order_relaxed);
  atomic_store_explicit(&page->used, 0, memory_order_relaxed);
#endif
  page->block_size = _hak_class_size[cls];
  page->capacity = 0;
  size_t color = page_color(seg, idx, page->block_size, area, alignment);
  page->area = page_base(seg, idx) + color;
  page->reserved = (uint32_t)((area - color) / page->block_size);
#if HAK_HARDEN
  _hak_hd_page_init(page);
#endif
  page->class_idx = (uint8_t)cls;
  page->tier = (uint8_t)_hak_class_tier(cls);
  _hak_page_set_list(page, _hak_class_list_off(cls));
  page->in_use = 1;
  page->in_full = 0;
  _hak_page_set_owner(page, _hak_owner_word(heap, page));
  atomic_store_explicit(&page->heap, heap, memory_order_relaxed);

  if (++seg->pages_used == seg->page_count) {
    seg_remove(&heap->avail[kind], seg);
    seg_push(&heap->filled[kind], seg);
    seg->in_full_list = 1;
  }
  _hak_heap_queue_push_front(&heap->queue[cls], page);
  hak_check(_hak_segment_is_valid(seg));
  return page;
}

/* The page is empty and out of every heap list; notifications are blocked. */
void _hak_segment_page_free(hak_heap_t* heap, hak_page_t* page) {
  hak_assert(_hak_page_used(page) == 0);
  hak_segment_t* seg = page->segment;
  size_t idx = (size_t)(page - seg->pages);
  int kind = seg->kind;
  page->in_use = 0;
  page->in_full = 0;
  _hak_page_set_owner(page, 0);
  atomic_store_explicit(&page->heap, NULL, memory_order_relaxed);
  if (page->is_dirty) heap->dirty_bytes += page_area_size(seg, idx);
  if (idx < seg->free_hint) seg->free_hint = (uint16_t)idx;
  if (seg->in_full_list) {
    seg_remove(&heap->filled[kind], seg);
    seg_push(&heap->avail[kind], seg);
    seg->in_full_list = 0;
  }
  if (--seg->pages_used == 0) {
    seg_remove(&heap->avail[kind], seg);
    if (heap->spare[kind] == NULL) heap->spare[kind] = seg;
    else segment_release(heap, seg);
  } else {
    hak_check(_hak_segment_is_valid(seg));
  }
  heap_decay(heap);
}

/* ---------------------------------------------------------------- abandon and adopt */

void _hak_segments_abandon(hak_heap_t* heap) {
  for (int kind = 0; kind < 2; kind++) {
    hak_segment_t* spare = heap->spare[kind];
    if (spare != NULL) {
      heap->spare[kind] = NULL;
      segment_release(heap, spare);
    }
    hak_segment_t** lists[2] = { &heap->avail[kind], &heap->filled[kind] };
    for (int l = 0; l < 2; l++) {
      hak_segment_t* seg;
      while ((seg = *lists[l]) != NULL) {
        hak_check(_hak_segment_is_valid(seg));
        seg_remove(lists[l], seg);
        seg->in_full_list = 0;
        atomic_store_explicit(&seg->owner, NULL, memory_order_relaxed);
        pthread_mutex_lock(&_abandoned_lock);
        seg->abandoned = 1;
        seg_push(&_abandoned[kind], seg);
        atomic_fetch_add_explicit(&_abandoned_count[kind], 1, memory_order_relaxed);
        pthread_mutex_unlock(&_abandoned_lock);
      }
    }
  }
}

/* Takes an abandoned segment off the global list; false if it is not (or no longer) there.
 * Hold the lock. */
static bool abandoned_take(hak_segment_t* seg) {
  if (!seg->abandoned) return false;
  seg->abandoned = 0;
  seg_remove(&_abandoned[seg->kind], seg);
  atomic_fetch_sub_explicit(&_abandoned_count[seg->kind], 1, memory_order_relaxed);
  return true;
}

static void segment_adopt(hak_heap_t* heap, hak_segment_t* seg) {
  int kind = seg->kind;
  atomic_store_explicit(&seg->owner, heap, memory_order_relaxed);
  heap->dirty_bytes += segment_dirty_bytes(seg);   /* its empty pages now decay with ours */
  if (seg->pages_used == seg->page_count) {
    seg_push(&heap->filled[kind], seg);
    seg->in_full_list = 1;
  } else {
    seg_push(&heap->avail[kind], seg);
  }
  _hak_count_event(heap, HAK_STAT_SEGMENTS_ADOPTED, 1);
  /* adopting the last live page may release the segment, even unmap it: stop once all are
   * seen, and touch it no more when every page went */
  size_t live = seg->pages_used, released = 0, had = live;
  for (size_t i = 0; live > 0; i++) {
    if (!seg->pages[i].in_use) continue;
    live--;
    released += _hak_page_adopt(heap, &seg->pages[i]);
  }
  if (released < had) hak_check(_hak_segment_is_valid(seg));
}

/* Whether an abandoned segment can serve a refill of class cls at once: a page of the
 * class with free blocks, uncarved ones or other threads' frees waiting; for
 * HAK_ADOPT_FREE_PAGE a free page, for HAK_ADOPT_ANY anything. Its pages have no owner, so
 * under the lock their fields hold still. */
static bool segment_serves(hak_segment_t* seg, int cls) {
  if (cls == HAK_ADOPT_ANY) return true;
  if (cls == HAK_ADOPT_FREE_PAGE) return seg->pages_used < seg->page_count;
  for (size_t i = 0; i < seg->page_count; i++) {
    hak_page_t* page = &seg->pages[i];
    if (!page->in_use || page->class_idx != cls) continue;
    if (page->capacity < page->reserved || _hak_page_used(page) < page->capacity) return true;
#if HAK_DUAL_LISTS
    if (_hak_word_block(atomic_load_explicit(&page->thread_free, memory_order_relaxed)) != NULL) return true;
#endif
  }
  return false;
}

/* Adopts one of the most recently abandoned segments of the kind (HAK_ADOPT_SCAN of them)
 * that can serve class cls (segment_serves); false if none. A segment taken for nothing
 * would sit in the adopter's lists, its pages of other classes idle, while the thread
 * that needs them maps a fresh one. */
bool _hak_segment_adopt_one(hak_heap_t* heap, int kind, int cls) {
  if (atomic_load_explicit(&_abandoned_count[kind], memory_order_relaxed) == 0) return false;
  pthread_mutex_lock(&_abandoned_lock);
  hak_segment_t* seg = _abandoned[kind];
  for (int scanned = 0; seg != NULL && !segment_serves(seg, cls); seg = seg->next) {
    if (++scanned == HAK_ADOPT_SCAN) { seg = NULL; break; }
  }
  if (seg != NULL) abandoned_take(seg);
  pthread_mutex_unlock(&_abandoned_lock);
  if (seg == NULL) return false;
  segment_adopt(heap, seg);
  return true;
}

static uint64_t heap_refills(const hak_heap_t* heap) {
  return atomic_load_explicit(&heap->stats.always[HAK_STAT_TINY_REFILLS], memory_order_relaxed) +
         atomic_load_explicit(&heap->stats.always[HAK_STAT_MID_REFILLS], memory_order_relaxed);
}

/* Reclaim on free: a thread that allocates frees into a page whose owner exited, so the
 * exited thread's segment becomes its own at once, instead of waiting on the global list
 * for a refill that may come much later while its empty pages stay resident. A heap takes
 * at most one segment this way per refill of its own since the last one: a thread that
 * mostly frees (a main thread emptying what the workers of a round left) would otherwise
 * take every exited thread's segment, and their free pages and blocks, which only it may
 * use, would sit idle while the next generation of threads faults in fresh memory. Those
 * segments stay on the global list, where the refills of allocating threads adopt them. */
bool _hak_segment_reclaim(hak_heap_t* heap, hak_segment_t* seg) {
  uint64_t refills = heap_refills(heap);
  if (refills == heap->refills_at_reclaim) return false;
  pthread_mutex_lock(&_abandoned_lock);
  bool taken = abandoned_take(seg);
  pthread_mutex_unlock(&_abandoned_lock);
  if (!taken) return false;
  heap->refills_at_reclaim = refills;
  segment_adopt(heap, seg);
  return true;
}

/* ---------------------------------------------------------------- giving memory back */

/* Everything the heap and the global cache hold empty goes back to the OS: the heap's
 * empty pages are purged, its spares and every cached segment unmapped (address space
 * included, so that any later mapping, ours or another library's, can use it). */
void _hak_segments_trim(hak_heap_t* heap) {
  if (heap != &_hak_heap_empty) {
    heap_purge(heap);
    for (int kind = 0; kind < 2; kind++) {
      hak_segment_t* spare = heap->spare[kind];
      if (spare == NULL) continue;
      heap->spare[kind] = NULL;
      segment_release(heap, spare);
    }
  }
  _hak_segments_drop_cache(heap, 0);
}

/* Unmaps the cached segments that waited at least `idle_ms` (0: all of them). */
void _hak_segments_drop_cache(hak_heap_t* heap, uint64_t idle_ms) {
  uint64_t now = _hak_now_ms();
  for (;;) {
    hak_segment_t* unmap = NULL;
    pthread_mutex_lock(&_abandoned_lock);
    for (hak_segment_t* s = _cached; s != NULL; s = s->next) {
      if (idle_ms == 0 || s->cached_at + idle_ms <= now) { unmap = s; break; }
    }
    if (unmap != NULL) {
      seg_remove(&_cached, unmap);
      _cached_count--;
    }
    pthread_mutex_unlock(&_abandoned_lock);
    if (unmap == NULL) return;
    _hak_segment_unmap(unmap);
    _hak_count_event(heap, HAK_STAT_SEGMENTS_UNMAPPED, 1);
  }
}

/* The cached segments that waited the purge delay are purged. */
void _hak_segments_decay(void) {
  pthread_mutex_lock(&_abandoned_lock);
  cache_decay_locked(&_hak_heap_empty, _hak_now_ms());
  pthread_mutex_unlock(&_abandoned_lock);
}

/* The background purge's part (hak_release.c): the cached segments that waited the purge
 * delay are purged, and every segment exited threads left is adopted by `heap` (the purge
 * thread's), so that their empty pages can be purged and their segments released once
 * the last live block in them is freed. */
void _hak_segments_idle(hak_heap_t* heap) {
  pthread_mutex_lock(&_abandoned_lock);
  cache_decay_locked(heap, _hak_now_ms());
  pthread_mutex_unlock(&_abandoned_lock);
  for (int kind = 0; kind < 2; kind++) {
    while (_hak_segment_adopt_one(heap, kind, HAK_ADOPT_ANY)) {}
  }
  heap_purge(heap);
}

/* Calls fn on every segment of the heap (its thread's, or the caller's own). */
void _hak_segments_for_each(hak_heap_t* heap, void (*fn)(hak_segment_t* seg, void* arg), void* arg) {
  for (int kind = 0; kind < 2; kind++) {
    for (hak_segment_t* s = heap->avail[kind]; s != NULL; s = s->next) fn(s, arg);
    for (hak_segment_t* s = heap->filled[kind]; s != NULL; s = s->next) fn(s, arg);
    if (heap->spare[kind] != NULL) fn(heap->spare[kind], arg);
  }
}

/* Calls fn on every abandoned and cached segment, under the lock. */
void _hak_segments_for_each_global(void (*fn)(hak_segment_t* seg, void* arg), void* arg) {
  pthread_mutex_lock(&_abandoned_lock);
  for (int kind = 0; kind < 2; kind++) {
    for (hak_segment_t* s = _abandoned[kind]; s != NULL; s = s->next) fn(s, arg);
  }
  for (hak_segment_t* s = _cached; s != NULL; s = s->next) fn(s, arg);
  pthread_mutex_unlock(&_abandoned_lock);
}

/* ---------------------------------------------------------------- fork */

void _hak_segments_lock(void) { pthread_mutex_lock(&_abandoned_lock); }
void _hak_segments_unlock(void) { pthread_mutex_unlock(&_abandoned_lock); }
void _hak_segments_reset_lock(void) { pthread_mutex_init(&_abandoned_lock, NULL); }
