/* The mid cache (hak_config.h): each thread's per-class stacks of the mid blocks it freed,
 * and the process-wide pool where a thread's overflow goes so that another thread reuses
 * it, instead of it waiting on the atomic list of a page whose owner may not allocate
 * again. The push and pop of a stack are inlined into malloc and free; what is here runs
 * when a stack is full, empty, or its thread exits. */
#include "hak_fastpath.h"

#include <pthread.h>

#if HAK_MID_CACHE_SLOTS

/* A batch in the pool lives in its first block, which nobody uses while it is there: word 0
 * links the next batch, word 1 holds the batch's length n, words 2 .. n the other blocks.
 * Putting or taking a batch touches that block only, not every block of the batch (another
 * thread freed them: their lines are elsewhere). A batch has at most 16 blocks and the
 * smallest mid block holds 160 words. */
enum { BATCH_NEXT = 0, BATCH_COUNT = 1, BATCH_BLOCKS = 2 };
_Static_assert(BATCH_BLOCKS + (HAK_MID_CACHE_SLOTS + 1) / 2 <= 1280 / sizeof(void*), "a batch fits in its first block");

static _Atomic(void*) _pool[HAK_MID_CLASSES];   /* newest batch first; read unlocked only as a hint */
static size_t _pool_bytes;                       /* in all classes' batches */
static pthread_mutex_t _pool_lock = PTHREAD_MUTEX_INITIALIZER;

void _hak_mid_pool_lock(void) { pthread_mutex_lock(&_pool_lock); }
void _hak_mid_pool_unlock(void) { pthread_mutex_unlock(&_pool_lock); }
void _hak_mid_pool_reset_lock(void) { pthread_mutex_init(&_pool_lock, NULL); }

static size_t stack_limit(const hak_mid_stack_t* st) { return (size_t)(st->end - st->base); }

/* The most a stack gives away at once, and so the longest batch: a stack with half its
 * room free can take any batch. */
static size_t batch_max(const hak_mid_stack_t* st) { return stack_limit(st) - stack_limit(st) / 2; }

/* Puts blocks[0..n) in the pool as one batch; false, leaving them where they are, when the
 * pool is at its limit. */
static bool pool_put(int cls, void** blocks, size_t n) {
  void** head = (void**)blocks[0];
  head[BATCH_COUNT] = (void*)(uintptr_t)n;
  for (size_t i = 1; i < n; i++) head[BATCH_BLOCKS + i - 1] = blocks[i];
  size_t bytes = n * _hak_class_size[cls];
  _Atomic(void*)* pool = &_pool[cls - HAK_TINY_CLASSES];
  pthread_mutex_lock(&_pool_lock);
  bool room = _pool_bytes + bytes <= HAK_MID_POOL_BYTES;
  if (room) {
    head[BATCH_NEXT] = atomic_load_explicit(pool, memory_order_relaxed);
    atomic_store_explicit(pool, head, memory_order_relaxed);
    _pool_bytes += bytes;
  }
  pthread_mutex_unlock(&_pool_lock);
  return room;
}

/* Takes the class's newest batch if one is there and it has at most `room` blocks. */
static void** pool_take(int cls, size_t room) {
  _Atomic(void*)* pool = &_pool[cls - HAK_TINY_CLASSES];
  if (atomic_load_explicit(pool, memory_order_relaxed) == NULL) return NULL;
  pthread_mutex_lock(&_pool_lock);
  void** head = atomic_load_explicit(pool, memory_order_relaxed);
  if (head != NULL && (size_t)(uintptr_t)head[BATCH_COUNT] <= room) {
    atomic_store_explicit(pool, head[BATCH_NEXT], memory_order_relaxed);
    _pool_bytes -= (size_t)(uintptr_t)head[BATCH_COUNT] * _hak_class_size[cls];
  } else {
    head = NULL;
  }
  pthread_mutex_unlock(&_pool_lock);
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
}

void* _hak_mid_cache_refill(hak_heap_t* heap, int cls) {
  hak_mid_stack_t* st = &heap->mid_stack[cls];
  void** head = pool_take(cls, (size_t)(st->end - st->top));
  if (head == NULL) return NULL;
  _hak_count_event(heap, HAK_STAT_MID_BATCHES_TAKEN, 1);
  size_t n = (size_t)(uintptr_t)head[BATCH_COUNT];
  for (size_t i = 1; i < n; i++) *st->top++ = head[BATCH_BLOCKS + i - 1];
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

void _hak_mid_cache_init(hak_heap_t* heap) {
  for (int i = 0; i < HAK_MID_CLASSES; i++) {
    uint32_t fit = HAK_MID_CACHE_BYTES / _hak_class_size[HAK_TINY_CLASSES + i];
    uint32_t limit = fit < 2 ? 2 : fit > HAK_MID_CACHE_SLOTS ? HAK_MID_CACHE_SLOTS : fit;
    hak_mid_stack_t* st = &heap->mid_stack[HAK_TINY_CLASSES + i];
    st->base = st->top = heap->mid_blocks[i];
    st->end = st->base + limit;
  }
}

#endif
