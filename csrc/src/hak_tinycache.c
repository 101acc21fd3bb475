/* The tiny cache (hak_config.h): each thread's free lists of tiny blocks, one per class,
 * whose push and pop are inlined into free and malloc. What is here runs when a list is
 * empty or full, and when its thread exits. */
#include "hak_fastpath.h"

#if HAK_TINY_CACHE_BLOCKS

/* A class's list holds at most this many blocks; none while wrap-tiny is off, so that every
 * tiny free goes to its page and the override's tiny requests keep reaching the slow path,
 * where the pool declines them. */
static uint32_t list_limit(int cls) {
  if (!_hak_options.wrap_tiny) return 0;
  uint32_t limit = HAK_TINY_CACHE_BYTES / _hak_class_size[cls];
  if (limit < 8) limit = 8;
  return limit < HAK_TINY_CACHE_BLOCKS ? limit : HAK_TINY_CACHE_BLOCKS;
}

/* ---------------------------------------------------------------- the shared pool */

/* One class of the pool (hak_config.h, HAK_TINY_POOL_BYTES): its batches, each a chain of
 * blocks linked as a list's are and ending in NULL, newest last, under a lock on a line of
 * its own. A batch is taken whole, so its blocks are never walked here. */
typedef struct pool_class_s {
  hak_spinlock_t lock;
  _Atomic(uint32_t) batches;            /* read unlocked only as a hint */
  uint32_t count[HAK_TINY_POOL_BATCHES];
  hak_block_t* head[HAK_TINY_POOL_BATCHES];
  const hak_heap_t* giver[HAK_TINY_POOL_BATCHES];   /* the heap that put it there */
} __attribute__((aligned(64))) pool_class_t;

static pool_class_t _pool[HAK_TINY_CLASSES];
_Atomic(size_t) _hak_tiny_pool_held;     /* bytes in all classes' batches */

void _hak_tiny_pool_lock(void) { for (int i = 0; i < HAK_TINY_CLASSES; i++) _hak_spin_lock(&_pool[i].lock); }
void _hak_tiny_pool_unlock(void) { for (int i = HAK_TINY_CLASSES - 1; i >= 0; i--) _hak_spin_unlock(&_pool[i].lock); }
void _hak_tiny_pool_reset_lock(void) { for (int i = 0; i < HAK_TINY_CLASSES; i++) atomic_store(&_pool[i].lock, 0); }

/* Puts a chain of n blocks in the pool as one batch; false, leaving it to the caller, when
 * the pool is at a limit. */
static bool pool_put(const hak_heap_t* heap, int cls, hak_block_t* head, uint32_t n) {
  size_t bytes = (size_t)n * _hak_class_size[cls];
  pool_class_t* pc = &_pool[cls];
  if (atomic_load_explicit(&pc->batches, memory_order_relaxed) == HAK_TINY_POOL_BATCHES) return false;
  if (atomic_fetch_add_explicit(&_hak_tiny_pool_held, bytes, memory_order_relaxed) + bytes > HAK_TINY_POOL_BYTES) {
    atomic_fetch_sub_explicit(&_hak_tiny_pool_held, bytes, memory_order_relaxed);
    return false;
  }
  _hak_spin_lock(&pc->lock);
  uint32_t at = atomic_load_explicit(&pc->batches, memory_order_relaxed);
  bool put = at < HAK_TINY_POOL_BATCHES;
  if (put) {
    pc->head[at] = head;
    pc->count[at] = n;
    pc->giver[at] = heap;
    atomic_store_explicit(&pc->batches, at + 1, memory_order_relaxed);
  }
  _hak_spin_unlock(&pc->lock);
  if (!put) atomic_fetch_sub_explicit(&_hak_tiny_pool_held, bytes, memory_order_relaxed);
  return put;
}

/* A batch of the class with at most `room` blocks: the newest the calling heap put there
 * itself, else the newest; its length in *n. */
static hak_block_t* pool_take(const hak_heap_t* heap, int cls, uint64_t room, uint32_t* n) {
  pool_class_t* pc = &_pool[cls];
  if (atomic_load_explicit(&pc->batches, memory_order_relaxed) == 0) return NULL;
  _hak_spin_lock(&pc->lock);
  uint32_t last = atomic_load_explicit(&pc->batches, memory_order_relaxed);
  hak_block_t* head = NULL;
  if (last > 0) {
    uint32_t at = last - 1;
    for (uint32_t i = last; i-- > 0;) {
      if (pc->giver[i] == heap) { at = i; break; }
    }
    if (pc->count[at] <= room) {
      head = pc->head[at];
      *n = pc->count[at];
      pc->head[at] = pc->head[last - 1];   /* the newest fills the gap */
      pc->count[at] = pc->count[last - 1];
      pc->giver[at] = pc->giver[last - 1];
      atomic_store_explicit(&pc->batches, last - 1, memory_order_relaxed);
    }
  }
  _hak_spin_unlock(&pc->lock);
  if (head != NULL) atomic_fetch_sub_explicit(&_hak_tiny_pool_held, (size_t)*n * _hak_class_size[cls], memory_order_relaxed);
  return head;
}

/* ---------------------------------------------------------------- back to the pages */

/* Whether a run of blocks of this page goes to the pool: the page belongs to another thread
 * that is alive but has not used its tiny cache for HAK_TINY_POOL_IDLE_MS (an exited
 * thread's page takes them back, and its segment goes to whoever needs it, see
 * _hak_segment_reclaim; an active owner's too, see hak_config.h). */
static bool page_shares(const hak_heap_t* heap, const hak_page_t* page, uint64_t* now) {
  if ((_hak_page_owner(page) & ~HAK_OWNER_TAGS) == heap->tid) return false;   /* ours: nothing more to read */
  const hak_heap_t* owner = atomic_load_explicit(&page->heap, memory_order_relaxed);
  if (owner == NULL || owner == heap) return false;
  if (*now == 0) *now = _hak_now_ms();
  return *now - atomic_load_explicit(&owner->tiny_active_ms, memory_order_relaxed) >= HAK_TINY_POOL_IDLE_MS;
}

/* The clock is read at every 8th fill only: an active thread fills far more often than every
 * HAK_TINY_POOL_IDLE_MS / 8. */
static void mark_active(hak_heap_t* heap) {
  if ((heap->tiny_fills++ & 7) == 0) atomic_store_explicit(&heap->tiny_active_ms, _hak_now_ms(), memory_order_relaxed);
}

/* Sends `count` blocks of a chain back to their pages, each run of neighbours on the chain
 * that share a page in one push: a thread that frees what another allocated in order hands
 * back long runs, one atomic exchange each. With `share`, the runs whose page another live
 * thread owns go to the pool as one batch instead (and to their pages when it is full). The
 * walk goes no further than the count, so that a chain a double free made circular (without
 * harden nothing stops one) cannot hold the thread forever. */
static void chain_to_pages(hak_heap_t* heap, int cls, hak_block_t* b, uint64_t count, bool share) {
  hak_block_t* shared = NULL;
  uint32_t shared_count = 0;
  uint64_t now = 0;                     /* read when a run's page is another thread's */
  for (uint64_t left = count; b != NULL && left > 0;) {
    hak_page_t* page = _hak_page_of(b);
    hak_block_t* last = b;
    uint32_t n = 1;
    while (n < left && last->next != NULL && _hak_page_of(last->next) == page) {
      last = last->next;
      n++;
    }
    hak_block_t* next = last->next;       /* the page's push, or the batch, writes last's link */
    if (share && page_shares(heap, page, &now)) {
      last->next = shared;
      shared = b;
      shared_count += n;
    } else {
      _hak_free_chain_to_page(heap, page, b, last, n);
    }
    left -= n;
    b = next;
  }
  if (shared == NULL) return;
  if (pool_put(heap, cls, shared, shared_count)) _hak_count_event(heap, HAK_STAT_TINY_BATCHES_SHARED, 1);
  else chain_to_pages(heap, cls, shared, shared_count, false);
}

/* A thread's list of a class is closed (no block, no room) until the thread allocates from
 * the class. Until then its frees of the class wait on the class's stash, which malloc never
 * takes from, and go back to their pages in runs, as a full list's do: kept on the list, a
 * block would be handed to the thread at its first malloc, and its cache lines would stay
 * shared with the blocks their owner still uses (passive false sharing: a thread whose first
 * act is to free what another allocated for it). The first allocation sends the stash back
 * and opens the list. */
static bool list_closed(const hak_tiny_list_t* list) { return list->head == NULL && list->room == 0; }

static void stash_flush(hak_heap_t* heap, int cls) {
  hak_tiny_stash_t* stash = &heap->tiny_stash[cls];
  chain_to_pages(heap, cls, stash->head, stash->count, false);   /* the pool would hand them back */
  stash->head = NULL;
  stash->count = 0;
}

static void stash_push(hak_heap_t* heap, int cls, uint32_t limit, void* p) {
  hak_tiny_stash_t* stash = &heap->tiny_stash[cls];
  if (stash->count == limit) stash_flush(heap, cls);
  ((hak_block_t*)p)->next = stash->head;
  stash->head = (hak_block_t*)p;
  stash->count++;
  hak_check(_hak_tiny_list_is_valid(heap, cls));
}

/* Sends every block after the first `keep` (the most recently freed) back to its page. */
static void list_trim(hak_heap_t* heap, hak_tiny_list_t* list, uint32_t limit, uint32_t keep) {
  uint64_t count = limit - list->room;
  hak_block_t** link = &list->head;
  uint64_t kept = 0;
  for (; kept < keep && kept < count && *link != NULL; kept++) link = &(*link)->next;
  hak_block_t* b = *link;
  *link = NULL;
  int cls = (int)(list - heap->tiny_list);
  chain_to_pages(heap, cls, b, count - kept, true);
  list->room = limit - kept;
  hak_check(_hak_tiny_list_is_valid(heap, cls));
}

bool _hak_tiny_cache_push(hak_heap_t* heap, int cls, void* p) {
  hak_tiny_list_t* list = &heap->tiny_list[cls];
  uint32_t limit = list_limit(cls);
  if (limit == 0) return false;
  if (list_closed(list)) {
    stash_push(heap, cls, limit, p);
    return true;
  }
  if (list->room == 0) list_trim(heap, list, limit, limit / 2);
  ((hak_block_t*)p)->next = list->head;
  list->head = (hak_block_t*)p;
  list->room--;
  hak_check(_hak_tiny_list_is_valid(heap, cls));
  return true;
}

static void list_open(hak_heap_t* heap, int cls, hak_tiny_list_t* list) {
  if (list_closed(list)) {
    stash_flush(heap, cls);
    list->room = list_limit(cls);
  }
}

/* A miss of an empty list takes the pool's newest batch of the class whole, before the
 * pages, and hands out its first block; NULL when there is none (or no room). */
void* _hak_tiny_cache_take_shared(hak_heap_t* heap, int cls, size_t size) {
  hak_tiny_list_t* list = &heap->tiny_list[cls];
  if (list->head != NULL || atomic_load_explicit(&_pool[cls].batches, memory_order_relaxed) == 0 || list_limit(cls) == 0) return NULL;
  list_open(heap, cls, list);
  uint32_t n;
  hak_block_t* b = pool_take(heap, cls, list->room, &n);
  if (b == NULL) return NULL;
  _hak_count_event(heap, HAK_STAT_TINY_BATCHES_TAKEN, 1);
  _hak_count_alloc_of(heap, HAK_TIER_TINY, cls, size);
  list->head = b->next;
  list->room -= n - 1;
  hak_check(_hak_tiny_list_is_valid(heap, cls));
  return b;
}

/* Every batch of the pool back to its pages (the caller's own directly, another thread's
 * through their atomic lists): memory given back must not wait in the pool for a thread of
 * the same class. */
void _hak_tiny_pool_drain(hak_heap_t* heap) {
  for (int cls = 0; cls < HAK_TINY_CLASSES; cls++) {
    hak_block_t* b;
    uint32_t n;
    while ((b = pool_take(heap, cls, UINT64_MAX, &n)) != NULL) chain_to_pages(heap, cls, b, n, false);
  }
}

/* Up to half the list's room from the class's current page, in the page's order; a closed
 * list opens. */
void _hak_tiny_cache_fill(hak_heap_t* heap, int cls) {
  hak_tiny_list_t* list = &heap->tiny_list[cls];
  mark_active(heap);
  list_open(heap, cls, list);
  uint64_t want = list_limit(cls) / 2;
  if (want > list->room) want = list->room;
  hak_page_t* page = heap->current[cls];
  hak_block_t* first = NULL;
  hak_block_t** tail = &first;
  uint64_t n = 0;
  for (; n < want; n++) {
    hak_block_t* b = _hak_page_pop(page);
    if (b == NULL) break;
    *tail = b;
    tail = &b->next;
  }
  *tail = list->head;
  list->head = first;
  list->room -= n;
  hak_check(_hak_tiny_list_is_valid(heap, cls));
}

void _hak_tiny_cache_flush(hak_heap_t* heap) {
  for (int cls = 0; cls < HAK_TINY_CLASSES; cls++) {
    stash_flush(heap, cls);
    list_trim(heap, &heap->tiny_list[cls], list_limit(cls), 0);
  }
}

/* Bytes on the heap's lists (read by another thread for a report: approximate). */
size_t _hak_tiny_cache_bytes(hak_heap_t* heap) {
  size_t bytes = 0;
  for (int cls = 0; cls < HAK_TINY_CLASSES; cls++) {
    uint64_t held = __atomic_load_n(&heap->tiny_stash[cls].count, __ATOMIC_RELAXED);
    /* a list without a block holds none, open (room = limit) or closed (room = 0) */
    if (__atomic_load_n(&heap->tiny_list[cls].head, __ATOMIC_RELAXED) != NULL)
      held += list_limit(cls) - __atomic_load_n(&heap->tiny_list[cls].room, __ATOMIC_RELAXED);
    bytes += (size_t)held * _hak_class_size[cls];
  }
  return bytes;
}

void _hak_tiny_cache_init(hak_heap_t* heap) {
  mark_active(heap);
  for (int cls = 0; cls < HAK_TINY_CLASSES; cls++) {
    heap->tiny_list[cls] = (hak_tiny_list_t){ .head = NULL, .room = 0 };   /* closed */
    heap->tiny_stash[cls] = (hak_tiny_stash_t){ .head = NULL, .count = 0 };
  }
#if HAK_DIRECT_CACHE
  for (size_t i = 0; i < HAK_DIRECT_SLOTS; i++) heap->tiny_direct[i] = &heap->tiny_list[_hak_direct_class[i]];
#endif
}

#if HAK_DEBUG
uint32_t _hak_tiny_list_limit(int cls) { return list_limit(cls); }
#endif

#endif
