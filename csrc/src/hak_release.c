/* Giving memory back: when the OS refuses memory (then the request is retried once), when
 * the program asks (malloc_trim), and when the process goes idle (the purge thread). */
#include "hak_fastpath.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

/* Under an address-space limit the global cache keeps at most a sixteenth of it in empty
 * segments (none below 64 MiB): their address space is what another library's mapping, a
 * thread stack above all, may need next. */
size_t _hak_segment_cache_max(void) {
  size_t limit = _hak_os_as_limit();
  if (limit == SIZE_MAX) return HAK_SEGMENT_CACHE_MAX;
  size_t n = limit / 16 / HAK_SEGMENT_SIZE;
  return n < HAK_SEGMENT_CACHE_MAX ? n : HAK_SEGMENT_CACHE_MAX;
}

/* The shared pools' blocks back to their pages: memory given back, and an idle process. */
static void pools_drain(hak_heap_t* heap) {
#if HAK_MID_POOL
  _hak_mid_pool_drain(heap);
#endif
#if HAK_TINY_CACHE_BLOCKS
  _hak_tiny_pool_drain(heap);
#endif
  (void)heap;
}

/* The calling thread's caches go back to their pages, the shared pools too, empty pages to
 * their segments, and every empty segment and cached large block to the OS. */
bool _hak_release_memory(hak_heap_t* heap) {
  size_t mapped = _hak_os_mapped_bytes();
  bool own = heap != NULL && heap != &_hak_heap_empty;
  if (heap == NULL) heap = &_hak_heap_empty;
  if (own) _hak_heap_flush_caches(heap);
  pools_drain(heap);
  if (own) _hak_heap_release_empty(heap);
  _hak_segments_trim(heap);
  _hak_large_drop_cache(heap, 0);
  return _hak_os_mapped_bytes() < mapped;
}

/* ---------------------------------------------------------------- the purge thread */

/* 0: not started; 1: running (or being started). */
static _Atomic(int) _purge_state;

static void sleep_ms(uint64_t ms) {
  struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) { }
}

/* What changes while the process allocates or frees beyond its threads' own caches: the
 * bytes mapped, in large blocks and in the pool, and every slow-path counter of every heap
 * (refills, pages carved, remote frees, threads exited...). A process busy in steady state
 * maps nothing new but keeps refilling. */
static uint64_t activity(void) {
  hak_stats_t st;
  hak_stats_get(&st);
  const uint64_t* c = (const uint64_t*)&st.always;
  uint64_t a = _hak_os_mapped_bytes() ^ ((uint64_t)_hak_large_live_bytes() << 1);
#if HAK_MID_POOL
  a ^= (uint64_t)_hak_mid_pool_bytes() << 2;
#endif
#if HAK_TINY_CACHE_BLOCKS
  a ^= (uint64_t)_hak_tiny_pool_bytes() << 3;
#endif
  for (size_t i = 0; i < sizeof(st.always) / sizeof(uint64_t); i++) a = a * 0x100000001b3ull + c[i];
  return a;
}

/* Every tick: cached segments purge after the purge delay, cached large blocks and empty
 * segments idle for HAK_PURGE_THREAD_IDLE_MS go back to the OS. When nothing changed since
 * the end of the last tick (this thread's own work excluded), the process is idle: the
 * shared pool is drained, exited threads' segments are adopted, and every empty page and
 * segment goes back. Living threads' own caches and empty pages are theirs alone; each
 * returns them on its next slow path, within the purge limit. */
static void* purge_main(void* arg) {
  (void)arg;
  hak_heap_t* heap = _hak_heap_for_thread();
  if (heap == NULL) heap = &_hak_heap_empty;
  uint64_t last = activity();
  for (;;) {
    sleep_ms(HAK_PURGE_THREAD_MS);
    bool idle = activity() == last;
    _hak_segments_decay();
    _hak_large_drop_cache(heap, HAK_PURGE_THREAD_IDLE_MS);
    _hak_segments_drop_cache(heap, HAK_PURGE_THREAD_IDLE_MS);
    if (idle) {
      /* exited threads' segments are adopted here only now, so that a busy process's
       * refills keep adopting them */
      if (heap != &_hak_heap_empty) _hak_segments_idle(heap);
      pools_drain(heap);
      if (heap != &_hak_heap_empty) _hak_heap_release_empty(heap);
      _hak_segments_trim(heap);
      _hak_large_drop_cache(heap, 0);
      /* what is left has live blocks: handed over again, so that this heap holds nothing
       * between ticks, and a child of fork, which has no purge thread, strands nothing */
      if (heap != &_hak_heap_empty) _hak_heap_give_back(heap);
    }
    last = activity();
  }
  return NULL;
}

/* Starts the purge thread the first time memory waits in a shared cache: a process that
 * never frees starts none, and none starts before hakmem is initialised. Called outside
 * every lock of hakmem's and between changes of the heap (pthread_create allocates). */
void _hak_purge_thread_wake(void) {
  if (hak_likely(atomic_load_explicit(&_purge_state, memory_order_relaxed) != 0)) return;
  if (!_hak_options.purge_thread || atomic_load_explicit(&_hak_init_state, memory_order_acquire) != 2) return;
  int expected = 0;
  if (!atomic_compare_exchange_strong(&_purge_state, &expected, 1)) return;
  pthread_attr_t attr;
  pthread_t t;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64u << 10);
  int saved = errno;
  if (pthread_create(&t, &attr, purge_main, NULL) != 0) atomic_store(&_purge_state, 0);
  errno = saved;
  pthread_attr_destroy(&attr);
}

/* A segment went to the shared cache: the purge thread is wanted, but not started there, in
 * the middle of a heap's change (pthread_create allocates). The next free's slow path starts
 * it (_hak_purge_thread_poll). */
static _Atomic(int) _purge_wanted;
void _hak_purge_thread_want(void) {
  if (atomic_load_explicit(&_purge_wanted, memory_order_relaxed) == 0) atomic_store_explicit(&_purge_wanted, 1, memory_order_relaxed);
}
void _hak_purge_thread_poll(void) {
  if (hak_unlikely(atomic_load_explicit(&_purge_wanted, memory_order_relaxed) != 0)) _hak_purge_thread_wake();
}

/* The child of a fork has no purge thread: the next wake starts one. */
void _hak_purge_thread_fork_child(void) { atomic_store(&_purge_state, 0); }

/* ---------------------------------------------------------------- usage (mallinfo) */

typedef struct usage_s { size_t in_use; } usage_t;

static void count_segment(hak_segment_t* seg, void* arg) {
  usage_t* u = (usage_t*)arg;
  for (size_t i = 0; i < seg->page_count; i++) {
    const hak_page_t* page = &seg->pages[i];
    if (page->in_use) u->in_use += (size_t)_hak_page_used((hak_page_t*)page) * page->block_size;
  }
}

static size_t heap_cached_bytes(hak_heap_t* heap) {
  size_t bytes = 0;
  (void)heap;                       /* without either cache */
#if HAK_TINY_CACHE_BLOCKS
  bytes += _hak_tiny_cache_bytes(heap);
#endif
#if HAK_MID_CACHE_SLOTS
  for (int cls = HAK_TINY_CLASSES; cls < HAK_CLASS_COUNT; cls++) {
    const hak_mid_stack_t* st = &heap->mid_stack[cls];
    bytes += (size_t)(st->top - st->base) * _hak_class_size[cls];
  }
#endif
  return bytes;
}

/* Bytes in blocks handed out, read without stopping the threads: a report, not a count to
 * the byte (blocks freed by another thread and not collected yet still count). Blocks in
 * the threads' caches and the shared pool are free. */
void _hak_usage(size_t* in_use, size_t* mapped, size_t* large) {
  usage_t u = { 0 };
  size_t cached = 0;
  _hak_heaps_lock();
  for (hak_heap_t* heap = _hak_heaps_first(); heap != NULL; heap = heap->live_next) {
    _hak_segments_for_each(heap, count_segment, &u);
    cached += heap_cached_bytes(heap);
  }
  _hak_heaps_unlock();
  _hak_segments_for_each_global(count_segment, &u);
#if HAK_MID_POOL
  cached += _hak_mid_pool_bytes();
#endif
#if HAK_TINY_CACHE_BLOCKS
  cached += _hak_tiny_pool_bytes();
#endif
  *in_use = u.in_use > cached ? u.in_use - cached : 0;
  *large = _hak_large_live_bytes();
  *mapped = _hak_os_mapped_bytes();
}
