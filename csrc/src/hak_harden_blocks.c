/* Harden's small and mid blocks (HAK_HARDEN, hak_config.h): the canary after the request and
 * the encoded slack at the block's end, the fill of freed blocks checked when they are handed
 * out again, the per-class quarantine that delays their reuse, and the PROT_NONE addresses of
 * zero-size requests. */
#include "hak_fastpath.h"

#if HAK_HARDEN

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

/* ---------------------------------------------------------------- canaries, fill, quarantine */

/* The slack of a block, decoded: 0 for a free one, HAK_HD_ROOM .. block size for a live one,
 * anything else for a block whose end was overwritten. */
static inline uint32_t block_slack(const hak_page_t* page, const uint8_t* b) {
  return _hak_hd_load32(b + page->block_size - 4) ^ _hak_hd_slack_key(_hak_hd_fill_word(page));
}

static inline uint32_t small_canary_len(uint32_t slack) {
  uint32_t n = slack - 4;
  return n < HAK_HD_CANARY_MAX ? n : HAK_HD_CANARY_MAX;
}

/* Byte i of the canary of a request of `size` (see _hak_hd_canary_at). */
static inline uint8_t canary_byte(const hak_page_t* page, uint32_t size, uint32_t i) {
  uint32_t shift = 8 * (size - _hak_hd_canary_at(size, page->block_size) + i);
  return (uint8_t)(_hak_hd_canary_word(_hak_hd_fill_word(page)) >> shift);
}

/* The canary a byte at a time: the program's bytes before it stay as they are (realloc). */
static bool canary_intact(const hak_page_t* page, const uint8_t* b, uint32_t slack) {
  uint32_t size = page->block_size - slack;
  uint8_t diff = 0;
  for (uint32_t i = 0, n = small_canary_len(slack); i < n; i++) diff |= b[size + i] ^ canary_byte(page, size, i);
  return diff == 0;
}

void _hak_hd_fill_fresh(hak_page_t* page, uint8_t* start, uint32_t n) {
  uint64_t fill = _hak_hd_fill_word(page);
  for (uint32_t i = 0; i < n; i++) _hak_hd_fill(page, start + (size_t)i * page->block_size, fill);
}

void _hak_hd_bad_fill(const hak_page_t* page, const void* b) {
  _hak_misuse(HAK_MISUSE_WRITTEN_FREE, b, page->block_size);
}

void _hak_hd_resized(hak_page_t* page, void* b, size_t size) {
  uint32_t slack = page->block_size - (uint32_t)size;
  for (uint32_t i = 0, n = small_canary_len(slack); i < n; i++) ((uint8_t*)b)[size + i] = canary_byte(page, (uint32_t)size, i);
  atomic_signal_fence(memory_order_seq_cst);   /* the canary is whole before the slack says live */
  uint32_t code = slack ^ _hak_hd_slack_key(_hak_hd_fill_word(page));
  memcpy((uint8_t*)b + page->block_size - 4, &code, 4);
}

size_t _hak_hd_small_usable(const hak_page_t* page, const void* p) {
  uint32_t slack = block_slack(page, p);
  return _hak_hd_slack_valid(slack, page->block_size) ? page->block_size - slack : 0;
}

void _hak_hd_check_request(const hak_page_t* page, const void* p) {
  uint32_t slack = block_slack(page, p);
  if (!_hak_hd_slack_valid(slack, page->block_size) || !canary_intact(page, p, slack)) _hak_misuse(HAK_MISUSE_OVERFLOW, p, page->block_size);
}

/* The block before p on its page ends where a write before p lands (its last 4 bytes, the
 * encoded slack, take any run that ends at p): they must decode to a free block's or a live
 * one's. Its canary is its own free's to check. Another thread may be freeing or handing out
 * that block meanwhile, and writes its last word in one store. */
static void check_neighbour(const hak_page_t* page, const uint8_t* p) {
  if (p == page->area) return;
  uint32_t slack = block_slack(page, p - page->block_size);
  if (hak_unlikely(slack != 0 && !_hak_hd_slack_valid(slack, page->block_size))) _hak_misuse(HAK_MISUSE_BOUNDARY, p, page->block_size);
}

void* _hak_hd_small_free(hak_heap_t* heap, hak_page_t* page, void* p) {
  _hak_hd_check_request(page, p);
  check_neighbour(page, p);
  if (heap->quarantine_keep == 0) {
    _hak_hd_fill(page, p, _hak_hd_fill_word(page));
    return p;
  }
  _hak_hd_quarantine_block(heap, page, p);
  return NULL;
}

/* Slots' blocks back to their pages, a run of blocks of one page in one push. A block there
 * still links to its page, unless the program wrote there while it waited. */
static void slots_to_pages(hak_heap_t* heap, const hak_hd_slot_t* slots, unsigned n) {
  hak_page_t* page = NULL;
  hak_block_t *first = NULL, *last = NULL;
  uint32_t run = 0;
  for (unsigned i = 0; i < n; i++) {
    hak_block_t* b = slots[i].block;
    hak_page_t* bp = slots[i].page;
    if (hak_unlikely(HAK_HD_NEXT(bp, b) != (hak_block_t*)bp)) _hak_misuse(HAK_MISUSE_WRITTEN_FREE, b, bp->block_size);
    if (bp != page) {
      if (run != 0) _hak_free_chain_to_page(heap, page, first, last, run);
      page = bp; first = b; run = 0;
    } else {
      HAK_HD_LINK(page, last, b);
    }
    last = b;
    run++;
  }
  if (run != 0) _hak_free_chain_to_page(heap, page, first, last, run);
}

/* ---------------------------------------------------------------- the shared pool */

/* A class's blocks that rings gave away, still filled and marked free, each with its page:
 * a thread whose ring and current page are empty takes them before it looks for other
 * pages, as the default build's mid pool does. A thread that frees what another allocated
 * (a consumer, the successor of an exited thread) so feeds the allocating threads without
 * an atomic list per page, and the blocks of an exited thread's ring go to the next thread
 * instead of back to pages nobody allocates from. Its lock guards one copy of at most a
 * ring's worth of slots. */
typedef struct hd_pool_s {
  hak_spinlock_t lock;
  _Atomic(uint32_t) count;              /* read unlocked only as a hint */
  hak_hd_slot_t slots[HAK_HD_POOL_SLOTS];
} __attribute__((aligned(64))) hd_pool_t;

static hd_pool_t _hd_pool[HAK_CLASS_COUNT];
static _Atomic(size_t) _hd_pool_bytes;

void _hak_mid_pool_lock(void) { for (int cls = 0; cls < HAK_CLASS_COUNT; cls++) _hak_spin_lock(&_hd_pool[cls].lock); }
void _hak_mid_pool_unlock(void) { for (int cls = HAK_CLASS_COUNT - 1; cls >= 0; cls--) _hak_spin_unlock(&_hd_pool[cls].lock); }
void _hak_mid_pool_reset_lock(void) { for (int cls = 0; cls < HAK_CLASS_COUNT; cls++) atomic_store(&_hd_pool[cls].lock, 0); }
size_t _hak_mid_pool_bytes(void) { return atomic_load_explicit(&_hd_pool_bytes, memory_order_relaxed); }

/* The n slots a .. (wrapping to b) into the class's pool; false, moving nothing, when the
 * class's slots or the pool's bytes are used up. */
static bool pool_put(hak_heap_t* heap, int cls, const hak_hd_slot_t* a, unsigned na, const hak_hd_slot_t* b, unsigned nb) {
  hd_pool_t* pool = &_hd_pool[cls];
  size_t bytes = (size_t)(na + nb) * _hak_class_size[cls];
  if (_hak_mid_pool_bytes() + bytes > HAK_HD_POOL_BYTES) return false;
  _hak_spin_lock(&pool->lock);
  uint32_t count = atomic_load_explicit(&pool->count, memory_order_relaxed);
  bool room = count + na + nb <= HAK_HD_POOL_SLOTS;
  if (room) {
    memcpy(&pool->slots[count], a, na * sizeof(*a));
    memcpy(&pool->slots[count + na], b, nb * sizeof(*b));
    atomic_store_explicit(&pool->count, count + na + nb, memory_order_relaxed);
    atomic_fetch_add_explicit(&_hd_pool_bytes, bytes, memory_order_relaxed);
  }
  _hak_spin_unlock(&pool->lock);
  if (room) {
    _hak_count_event(heap, HAK_STAT_MID_BATCHES_SHARED, 1);
    _hak_purge_thread_want();   /* an idle process hands them back to their pages */
  }
  return room;
}

/* Up to `room` slots out of the class's pool, the newest first; how many. */
static unsigned pool_take(int cls, hak_hd_slot_t* out, unsigned room) {
  hd_pool_t* pool = &_hd_pool[cls];
  if (atomic_load_explicit(&pool->count, memory_order_relaxed) == 0) return 0;
  _hak_spin_lock(&pool->lock);
  uint32_t count = atomic_load_explicit(&pool->count, memory_order_relaxed);
  unsigned n = count < room ? count : room;
  memcpy(out, &pool->slots[count - n], n * sizeof(*out));
  atomic_store_explicit(&pool->count, count - n, memory_order_relaxed);
  _hak_spin_unlock(&pool->lock);
  atomic_fetch_sub_explicit(&_hd_pool_bytes, (size_t)n * _hak_class_size[cls], memory_order_relaxed);
  return n;
}

size_t _hak_mid_pool_drain(hak_heap_t* heap) {
  size_t bytes = 0;
  hak_hd_slot_t batch[HAK_HD_RING];
  for (int cls = 0; cls < HAK_CLASS_COUNT; cls++) {
    for (unsigned n; (n = pool_take(cls, batch, HAK_HD_RING)) != 0; bytes += (size_t)n * _hak_class_size[cls])
      slots_to_pages(heap, batch, n);
  }
  return bytes;
}

/* The ring's oldest blocks but `keep` leave it: a mid class's into the pool while it has
 * room, tiny ones (and what the pool has no room for) back to their pages. */
void _hak_hd_quarantine_drain(hak_heap_t* heap, int cls, unsigned keep) {
  unsigned count = heap->quarantine_count[cls];
  if (count <= keep) return;
  unsigned n = count - keep, from = (heap->quarantine_at[cls] - count) & (HAK_HD_RING - 1);
  unsigned na = n < HAK_HD_RING - from ? n : HAK_HD_RING - from;
  hak_hd_slot_t* ring = heap->quarantine[cls];
  heap->quarantine_count[cls] = (uint8_t)keep;
  if (cls >= HAK_TINY_CLASSES && pool_put(heap, cls, ring + from, na, ring, n - na)) return;
  slots_to_pages(heap, ring + from, na);
  slots_to_pages(heap, ring, n - na);
}


void* _hak_hd_pool_malloc(hak_heap_t* heap, int cls, size_t size) {
  if (heap->quarantine_keep == 0) return NULL;
  unsigned count = heap->quarantine_count[cls], room = heap->quarantine_cap[cls] - count;
  hak_hd_slot_t batch[HAK_HD_RING];
  unsigned n = pool_take(cls, batch, room);
  if (n == 0) return NULL;
  _hak_count_event(heap, HAK_STAT_MID_BATCHES_TAKEN, 1);
  /* at the ring's old end: they waited their turn in another ring already */
  unsigned from = heap->quarantine_at[cls] - count - n;
  for (unsigned i = 0; i < n; i++) heap->quarantine[cls][(from + i) & (HAK_HD_RING - 1)] = batch[i];
  heap->quarantine_count[cls] = (uint8_t)(count + n);
  if (heap->quarantine_count[cls] <= heap->quarantine_keep) return NULL;
  void* b = _hak_hd_quarantine_pop(heap, cls, size);
  _hak_count_alloc_of(heap, cls < HAK_TINY_CLASSES ? HAK_TIER_TINY : HAK_TIER_MID, cls, size);
  return b;
}

/* A class's cap: about HAK_HD_RING_BYTES of its blocks, at least the setting and
 * HAK_HD_RING_SPARE more (a drain hands back half the cap, never the blocks still waiting;
 * with fewer spare, a ring of large blocks went to the pool every few frees, and two threads
 * of one class met on its lock), below the ring's size (a push comes before the drain); 0
 * leaves the heap without a quarantine. */
_Static_assert(HAK_HD_QUARANTINE_MAX + HAK_HD_RING_SPARE < HAK_HD_RING && HAK_HD_RING <= 128,
               "a class's ring holds the setting, the spare blocks and a push, counted in a byte");

void _hak_hd_quarantine_init(hak_heap_t* heap) {
  uint32_t keep = (uint32_t)_hak_options.quarantine;
  if (keep == 0) return;
  heap->quarantine_keep = keep;
  for (int cls = 0; cls < HAK_CLASS_COUNT; cls++) {
    uint32_t fit = HAK_HD_RING_BYTES / _hak_class_size[cls];
    uint32_t cap = fit < keep + HAK_HD_RING_SPARE ? keep + HAK_HD_RING_SPARE : fit > HAK_HD_RING - 1 ? HAK_HD_RING - 1 : fit;
    heap->quarantine_cap[cls] = (uint8_t)cap;
    heap->quarantine_low[cls] = (uint8_t)(cap / 2 > keep ? cap / 2 : keep);
  }
}

/* A thread's exit, or memory given back: mid blocks go to the pool, for the next thread
 * (the default build's mid cache does the same), tiny ones back to their pages, so that a
 * thread that exits leaves its tiny pages empty for the next one. */
void _hak_hd_quarantine_flush(hak_heap_t* heap) {
  if (heap->quarantine_keep == 0) return;
  for (int cls = 0; cls < HAK_CLASS_COUNT; cls++) _hak_hd_quarantine_drain(heap, cls, 0);
}

/* ---------------------------------------------------------------- zero-size blocks */

static _Atomic(uintptr_t) _zero_base;
static _Atomic(uintptr_t) _zero_next;

void* _hak_hd_zero_block(void) {
  uintptr_t base = atomic_load_explicit(&_zero_base, memory_order_acquire);
  if (base == 0) {
    void* m = mmap(NULL, HAK_HD_ZERO_SPAN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) { errno = ENOMEM; return NULL; }
    uintptr_t expected = 0;
    if (atomic_compare_exchange_strong(&_zero_base, &expected, (uintptr_t)m)) base = (uintptr_t)m;
    else { munmap(m, HAK_HD_ZERO_SPAN); base = expected; }
  }
  uintptr_t i = atomic_fetch_add_explicit(&_zero_next, 1, memory_order_relaxed) % (HAK_HD_ZERO_SPAN / 16);
  return (void*)(base + i * 16);
}

bool _hak_hd_is_zero_block(const void* p) {
  uintptr_t base = atomic_load_explicit(&_zero_base, memory_order_relaxed);
  return base != 0 && (uintptr_t)p - base < HAK_HD_ZERO_SPAN;
}

#endif
