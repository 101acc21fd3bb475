/* Heaps: one per thread, reached through a thread-local pointer. A heap owns its segments
 * and pages; its thread is the only one that allocates from them. When the thread exits,
 * its heap hands everything over (see _hak_segments_abandon) and is recycled. */
#include "hak_harden.h"

#include <pthread.h>
#include <string.h>

hak_page_t _hak_page_empty = HAK_EMPTY_PAGE_INIT;

#define EMPTY_PAGES(n) { [0 ... (n) - 1] = &_hak_page_empty }
hak_heap_t _hak_heap_empty = {
#if HAK_DIRECT_CACHE
  .direct = EMPTY_PAGES(HAK_DIRECT_SLOTS),
#if HAK_TINY_CACHE_BLOCKS
  .tiny_direct = { [0 ... HAK_DIRECT_SLOTS - 1] = &_hak_heap_empty.no_list },
#endif
#endif
  .current = EMPTY_PAGES(HAK_CLASS_COUNT),
};

__thread hak_heap_t* _hak_tls_heap __attribute__((tls_model("initial-exec"))) = &_hak_heap_empty;

static pthread_mutex_t _heaps_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_heap_t* _heaps_live;
static hak_heap_t* _heaps_recycled;     /* linked through live_next */
static uint8_t* _heaps_chunk;           /* bump area for new heaps */
static size_t _heaps_chunk_left;
static pthread_key_t _thread_key;

/* ---------------------------------------------------------------- page queues */

void _hak_heap_queue_push_back(hak_page_queue_t* q, hak_page_t* page) {
  page->next = NULL;
  page->prev = q->last;
  if (q->last != NULL) q->last->next = page; else q->first = page;
  q->last = page;
}

void _hak_heap_queue_push_front(hak_page_queue_t* q, hak_page_t* page) {
  page->prev = NULL;
  page->next = q->first;
  if (q->first != NULL) q->first->prev = page; else q->last = page;
  q->first = page;
}

void _hak_heap_queue_remove(hak_page_queue_t* q, hak_page_t* page) {
  if (page->prev != NULL) page->prev->next = page->next; else q->first = page->next;
  if (page->next != NULL) page->next->prev = page->prev; else q->last = page->prev;
  page->next = page->prev = NULL;
}

/* Points the fast path of a class at the first page of its queue. Tiny classes stay on
 * the empty page while wrap-tiny is off, so that wrapped requests always reach the slow
 * path, where the tiny pool declines them. */
void _hak_heap_set_current(hak_heap_t* heap, int cls) {
  hak_page_t* page = heap->queue[cls].first;
  if (page == NULL || (cls < HAK_TINY_CLASSES && !_hak_options.wrap_tiny)) page = &_hak_page_empty;
  if (heap->current[cls] == page) return;
  heap->current[cls] = page;
#if HAK_DIRECT_CACHE
  if (cls >= HAK_FIRST_CLASS && cls < HAK_TINY_CLASSES) {
    /* every (size+7)/8 slot whose class is cls; the table is sorted by class */
    size_t lo = cls == HAK_FIRST_CLASS ? 0 : ((size_t)_hak_class_size[cls - 1] + 8) / 8;
    size_t hi = (size_t)_hak_class_size[cls] / 8;
    /* two slots a step, after one where the class has an odd number (1 to 16) */
    hak_page_t** d = &heap->direct[lo];
    if (((hi - lo) & 1) == 0) *d++ = page;
    for (hak_page_t** end = &heap->direct[hi]; d < end; d += 2) d[0] = d[1] = page;
  }
#endif
}

/* ---------------------------------------------------------------- heap lifecycle */

static hak_heap_t* heap_alloc(void) {
  hak_heap_t* heap = _heaps_recycled;
  if (heap != NULL) {
    _heaps_recycled = heap->live_next;
    return heap;
  }
  size_t size = (sizeof(hak_heap_t) + 63) & ~(size_t)63;
  if (_heaps_chunk_left < size) {
    size_t chunk = 64 * size;
    _heaps_chunk = _hak_os_map(chunk);
    if (_heaps_chunk == NULL) { _heaps_chunk_left = 0; return NULL; }
    _heaps_chunk_left = chunk;
  }
  heap = (hak_heap_t*)_heaps_chunk;
  _heaps_chunk += size;
  _heaps_chunk_left -= size;
  return heap;
}

static void heap_init(hak_heap_t* heap) {
#if HAK_TINY_CACHE_BLOCKS
  memset(heap, 0, offsetof(hak_heap_t, tiny_active_ms));   /* see tiny_active_ms */
#else
  memset(heap, 0, sizeof(*heap));
#endif
#if HAK_DIRECT_CACHE
  for (size_t i = 0; i < HAK_DIRECT_SLOTS; i++) heap->direct[i] = &_hak_page_empty;
#endif
  for (size_t i = 0; i < HAK_CLASS_COUNT; i++) heap->current[i] = &_hak_page_empty;
#if HAK_MID_CACHE_SLOTS
  _hak_mid_cache_init(heap);
#endif
#if HAK_TINY_CACHE_BLOCKS
  _hak_tiny_cache_init(heap);
#endif
#if HAK_HARDEN
  _hak_hd_quarantine_init(heap);
#endif
}

hak_heap_t* _hak_heap_for_thread(void) {
  if (atomic_load_explicit(&_hak_init_state, memory_order_acquire) != 2) {
    if (_hak_in_init()) return NULL;     /* init itself allocated: glibc serves that */
    _hak_init();
  }
  pthread_mutex_lock(&_heaps_lock);
  hak_heap_t* heap = heap_alloc();
  if (heap != NULL) {
    heap_init(heap);
    heap->tid = _hak_thread_id();
    heap->live_next = _heaps_live;
    if (_heaps_live != NULL) _heaps_live->live_prev = heap;
    _heaps_live = heap;
  }
  pthread_mutex_unlock(&_heaps_lock);
  if (heap == NULL) return NULL;
  hak_check(_hak_heap_is_valid(heap));
  _hak_tls_heap = heap;
  /* set after the heap is in place: if glibc allocates here, it finds the heap ready */
  pthread_setspecific(_thread_key, heap);
  return heap;
}

/* The thread's cached blocks back to their pages (mid ones to the pool first), so that
 * empty pages can be released: at its exit, and when memory is given back. */
void _hak_heap_flush_caches(hak_heap_t* heap) {
#if HAK_TINY_CACHE_BLOCKS
  _hak_tiny_cache_flush(heap);
#endif
#if HAK_MID_CACHE_SLOTS
  _hak_mid_cache_flush(heap);
#endif
#if HAK_HARDEN
  _hak_hd_quarantine_flush(heap);
#endif
  (void)heap;
}

/* Every page and segment handed over, as at thread exit, leaving the heap empty and usable:
 * ownerless pages take frees onto their own lists, and any thread adopts the segments. */
void _hak_heap_give_back(hak_heap_t* heap) {
  hak_check(_hak_heap_is_valid(heap));
  /* 0. cached blocks back to their pages, so that empty pages are released below */
  _hak_heap_flush_caches(heap);
  /* 1. no remote free may notify this heap any more; forget pending notifications */
  for (int cls = 0; cls < HAK_CLASS_COUNT; cls++) {
    for (hak_page_t* page = heap->queue[cls].first; page != NULL; page = page->next) _hak_page_block_notify(page);
  }
  for (hak_page_t* page = heap->full.first; page != NULL; page = page->next) _hak_page_block_notify(page);
  atomic_store_explicit(&heap->notified, NULL, memory_order_release);

  /* 2. every page: collect, release if empty, else leave it ownerless */
  hak_page_t* page;
  for (int cls = 0; cls < HAK_CLASS_COUNT; cls++) {
    while ((page = heap->queue[cls].first) != NULL) {
      _hak_heap_queue_remove(&heap->queue[cls], page);
      _hak_page_abandon(heap, page);
    }
  }
  while ((page = heap->full.first) != NULL) {
    _hak_heap_queue_remove(&heap->full, page);
    _hak_page_abandon(heap, page);
  }

  /* 3. segments with live blocks go to the global abandoned list */
  _hak_segments_abandon(heap);
}

/* Thread exit: hand every page and segment over, then recycle the heap. */
static void heap_abandon(hak_heap_t* heap) {
  _hak_heap_give_back(heap);
  _hak_stats_merge_heap(heap);
  _hak_stat_global_add(HAK_STAT_HEAPS_ABANDONED, 1);

  pthread_mutex_lock(&_heaps_lock);
  if (heap->live_prev != NULL) heap->live_prev->live_next = heap->live_next; else _heaps_live = heap->live_next;
  if (heap->live_next != NULL) heap->live_next->live_prev = heap->live_prev;
  heap->live_next = _heaps_recycled;
  _heaps_recycled = heap;
  pthread_mutex_unlock(&_heaps_lock);
  _hak_purge_thread_wake();
}

static void thread_done(void* arg) {
  hak_heap_t* heap = (hak_heap_t*)arg;
  if (heap == NULL || heap == &_hak_heap_empty) return;
  /* a later malloc in this thread's remaining destructors gets a fresh heap */
  _hak_tls_heap = &_hak_heap_empty;
  heap_abandon(heap);
}

void _hak_heap_thread_key_create(void) { pthread_key_create(&_thread_key, thread_done); }

/* ---------------------------------------------------------------- registry of live heaps */

void _hak_heaps_lock(void) { pthread_mutex_lock(&_heaps_lock); }
void _hak_heaps_unlock(void) { pthread_mutex_unlock(&_heaps_lock); }
void _hak_heaps_reset_lock(void) { pthread_mutex_init(&_heaps_lock, NULL); }
hak_heap_t* _hak_heaps_first(void) { return _heaps_live; }
