/* The mid cache (hak_config.h): each thread's per-class stacks of the mid blocks it freed,
 * and the process-wide pool where a thread's overflow goes so that another thread reuses
 * it, instead of it waiting on the atomic list of a page whose owner may not allocate
 * again. The push and pop of a stack are inlined into malloc and free; what is here runs
 * when a stack is full, empty, or its thread exits. */
#include "hak_fastpath.h"

#if HAK_MID_CACHE_SLOTS

/* A batch in the pool lives in its first block, which nobody uses while it is there: word 0
 * links the next batch, word 1 holds the batch's length n, words 2 .. n the other blocks.
 * Putting or taking a batch touches that block only, not every block of the batch (another
 * thread freed them: their lines are elsewhere). A batch has at most 16 blocks and the
 * smallest mid block holds 160 words. */
enum { BATCH_NEXT = 0, BATCH_COUNT = 1, BATCH_BLOCKS = 2 };
_Static_assert(BATCH_BLOCKS + (HAK_MID_CACHE_SLOTS + 1) / 2 <= 1280 / sizeof(void*), "a batch fits in its first block");

/* One class of the pool: its batches, newest first, and the lock that guards them, on a
 * line of its own so that classes do not contend. */
typedef struct pool_class_s {
  hak_spinlock_t lock;
  _Atomic(void*) head;                  /* read unlocked only as a hint */
} __attribute__((aligned(64))) pool_class_t;

static pool_class_t _pool[HAK_MID_CLASSES];
static _Atomic(size_t) _pool_bytes;     /* in all classes' batches */

void _hak_mid_pool_lock(void) { for (int i = 0; i < HAK_MID_CLASSES; i++) _hak_spin_lock(&_pool[i].lock); }
void _hak_mid_pool_unlock(void) { for (int i = HAK_MID_CLASSES - 1; i >= 0; i--) _hak_spin_unlock(&_pool[i].lock); }
void _hak_mid_pool_reset_lock(void) { for (int i = 0; i < HAK_MID_CLASSES; i++) atomic_store(&_pool[i].lock, 0); }

static size_t stack_limit(const hak_mid_stack_t* st) { return (size_t)(st->end - st->base); }

/* The most a stack gives away at once, and so the longest batch: a stack with half its
 * room free can take any batch. */
static size_t batch_max(const hak_mid_stack_t* st) { return stack_limit(st) - stack_limit(st) / 2; }

/* Counts bytes into the pool; false, counting nothing, when they would pass its limit. */
static bool pool_reserve(size_t bytes) {
  size_t held = atomic_load_explicit(&_pool_bytes, memory_order_relaxed);
  do {
    if (held + bytes > HAK_MID_POOL_BYTES) return false;
  } while (!atomic_compare_exchange_weak_explicit(&_pool_bytes, &held, held + bytes,
                                                  memory_order_relaxed, memory_order_relaxed));
  return true;
}

/* Puts blocks[0..n) in the pool as one batch; false, leaving them where they are, when the
 * pool is at its limit. */
static bool pool_put(int cls, void** blocks, size_t n) {
  if (!pool_reserve(n * _hak_class_size[cls])) return false;
  void** head = (void**)blocks[0];
  head[BATCH_COUNT] = (void*)(uintptr_t)n;
  for (size_t i = 1; i < n; i++) head[BATCH_BLOCKS + i - 1] = blocks[i];
  pool_class_t* pc = &_pool[cls - HAK_TINY_CLASSES];
  _hak_spin_lock(&pc->lock);
  head[BATCH_NEXT] = atomic_load_explicit(&pc->head, memory_order_relaxed);
  atomic_store_explicit(&pc->head, head, memory_order_relaxed);
  _hak_spin_unlock(&pc->lock);
  return true;
}

/* Takes the class's newest batch if one is there and it has at most `room` blocks. */
static void** pool_take(int cls, size_t room) {
  pool_class_t* pc = &_pool[cls - HAK_TINY_CLASSES];
  if (atomic_load_explicit(&pc->head, memory_order_relaxed) == NULL) return NULL;
  _hak_spin_lock(&pc->lock);
  void** head = atomic_load_explicit(&pc->head, memory_order_relaxed);
  if (head != NULL && (size_t)(uintptr_t)head[BATCH_COUNT] <= room) {
    atomic_store_explicit(&pc->head, head[BATCH_NEXT], memory_order_relaxed);
  } else {
    head = NULL;
  }
  _hak_spin_unlock(&pc->lock);
  if (head != NULL) {
    atomic_fetch_sub_explicit(&_pool_bytes, (size_t)(uintptr_t)head[BATCH_COUNT] * _hak_class_size[cls],
                              memory_order_relaxed);
  }
  return head;
}

/* Gives the oldest n blocks of a stack away: to the pool as one batch, or when it is full,
 * each back to its page. The newer blocks move down. */
static void stack_trim(hak_heap_t* heap, int cls, hak_mid_stack_t* st, size_t n) {
  if (n == 0) return;
  if (pool_put(cls, st->base, n)) {
    _hak_count_event(heap, HAK_STAT_MID_BATCHES_SHARED, 1);
  } else {
    for (size_t i = 0; i < n; i++) _hak_free_to_page(heap, _hak_page_of(st->base[i]), st->base[i]);
  }
  size_t keep = (size_t)(st->top - st->base) - n;
  for (size_t i = 0; i < keep; i++) st->base[i] = st->base[n + i];
  st->top = st->base + keep;
}

void _hak_mid_cache_push(hak_heap_t* heap, int cls, void* p) {
  hak_mid_stack_t* st = &heap->mid_stack[cls];
  if (st->top == st->end) stack_trim(heap, cls, st, batch_max(st));
  *st->top++ = p;
  hak_check(_hak_mid_stack_is_valid(heap, cls));
}

void* _hak_mid_cache_refill(hak_heap_t* heap, int cls) {
  hak_mid_stack_t* st = &heap->mid_stack[cls];
  void** head = pool_take(cls, (size_t)(st->end - st->top));
  if (head == NULL) return NULL;
  _hak_count_event(heap, HAK_STAT_MID_BATCHES_TAKEN, 1);
  size_t n = (size_t)(uintptr_t)head[BATCH_COUNT];
  for (size_t i = 1; i < n; i++) *st->top++ = head[BATCH_BLOCKS + i - 1];
  hak_check(_hak_mid_stack_is_valid(heap, cls));
  return head;
}

void _hak_mid_cache_flush(hak_heap_t* heap) {
  for (int cls = HAK_TINY_CLASSES; cls < HAK_CLASS_COUNT; cls++) {
    hak_mid_stack_t* st = &heap->mid_stack[cls];
    while (st->top != st->base) {
      size_t n = (size_t)(st->top - st->base);
      stack_trim(heap, cls, st, n < batch_max(st) ? n : batch_max(st));
    }
  }
}

/* Every batch of the pool goes back, block by block, to its pages (the caller's own
 * directly, another thread's through its atomic list): memory given back must not wait in
 * the pool for a thread of the same class. Returns the bytes drained. */
size_t _hak_mid_pool_drain(hak_heap_t* heap) {
  size_t bytes = 0;
  for (int cls = HAK_TINY_CLASSES; cls < HAK_CLASS_COUNT; cls++) {
    void** head;
    while ((head = pool_take(cls, SIZE_MAX)) != NULL) {
      size_t n = (size_t)(uintptr_t)head[BATCH_COUNT];
      for (size_t i = 1; i < n; i++) _hak_free_to_page(heap, _hak_page_of(head[BATCH_BLOCKS + i - 1]), head[BATCH_BLOCKS + i - 1]);
      _hak_free_to_page(heap, _hak_page_of(head), head);
      bytes += n * _hak_class_size[cls];
    }
  }
  return bytes;
}

size_t _hak_mid_pool_bytes(void) { return atomic_load_explicit(&_pool_bytes, memory_order_relaxed); }

void _hak_mid_cache_init(hak_heap_t* heap) {
  for (int i = 0; i < HAK_MID_CLASSES; i++) {
    uint32_t fit = HAK_MID_CACHE_BYTES / _hak_class_size[HAK_TINY_CLASSES + i];
    uint32_t limit = fit < 2 ? 2 : fit > HAK_MID_CACHE_SLOTS ? HAK_MID_CACHE_SLOTS : fit;
    hak_mid_stack_t* st = &heap->mid_stack[HAK_TINY_CLASSES + i];
    st->base = st->top = heap->mid_blocks[i];
    st->end = st->base + limit;
    st->no_room = 0;
  }
}

#endif
