/* The large tier: requests above HAK_MID_MAX (and small ones with alignments the classes
 * cannot give), each in a mapping of its own whose first 4 KiB hold a segment header, so
 * free finds it exactly as it finds small pages. A bounded cache of freed blocks lets a
 * free/malloc cycle of one size skip the system calls. */
#include "hak_harden.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

static pthread_mutex_t _large_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_segment_t* _cache[HAK_LARGE_CACHE_SLOTS];   /* oldest first */
static size_t _cache_count;
static size_t _cache_bytes;

#define CHUNK ((size_t)1 << HAK_CHUNK_SHIFT)

static size_t round_up(size_t n, size_t to) { return (n + to - 1) & ~(to - 1); }

/* Bytes of a large block that may be resident: header, padding and the usable part. */
static size_t committed_bytes(const hak_segment_t* seg) {
  return (size_t)(seg->first_area - (const uint8_t*)seg) + seg->large_size;
}

/* A whole 4 MiB slot per block with superslab: a foreign mapping can never share a slot the
 * segment map marks as hakmem's. Without it, whole 64 KiB chunks, the registry's unit. */
static size_t mapping_size(size_t committed) {
#if HAK_SUPERSLAB
  return round_up(committed, HAK_SEGMENT_SIZE);
#else
  return round_up(committed, CHUNK);
#endif
}

static void count(hak_heap_t* heap, int which, uint64_t n) {
  if (heap == &_hak_heap_empty) _hak_stat_global_add(which, n);
  else _hak_counter_add(&heap->stats.always[which], n);
}

static void large_unmap(hak_heap_t* heap, hak_segment_t* seg) {
  _hak_segment_unmap(seg);
  count(heap, HAK_STAT_LARGE_UNMAPS, 1);
}

/* Best fit among cached blocks: big enough, and not so much bigger that a small request
 * would pin a big block's resident pages. */
static hak_segment_t* cache_take(size_t committed, size_t alignment) {
  size_t waste_limit = committed * 2 > committed + (1u << 20) ? committed * 2 : committed + (1u << 20);
  pthread_mutex_lock(&_large_lock);
  size_t best = _cache_count;
  for (size_t i = 0; i < _cache_count; i++) {
    hak_segment_t* s = _cache[i];
    if (s->mapped_size < committed || committed_bytes(s) > waste_limit) continue;
    if (((uintptr_t)s & (alignment - 1)) != 0) continue;
    if (best == _cache_count || s->mapped_size < _cache[best]->mapped_size) best = i;
  }
  hak_segment_t* seg = NULL;
  if (best != _cache_count) {
    seg = _cache[best];
    _cache_bytes -= committed_bytes(seg);
    memmove(&_cache[best], &_cache[best + 1], (_cache_count - best - 1) * sizeof(_cache[0]));
    _cache_count--;
  }
  pthread_mutex_unlock(&_large_lock);
  return seg;
}

/* The block's header sits at its mapping's start, the user pointer `offset` (a multiple of
 * the requested alignment) further: the mapping itself must be that aligned. */
static hak_segment_t* large_map(size_t map_size, size_t alignment) {
  size_t mapped;
  void* base;
#if HAK_SUPERSLAB
  size_t base_alignment = HAK_SEGMENT_SIZE;
#else
  size_t base_alignment = CHUNK;
#endif
  if (alignment < base_alignment) alignment = base_alignment;
  hak_segment_t* seg = _hak_os_map_aligned(map_size, alignment, &mapped, &base);
  if (seg == NULL) return NULL;
  seg->kind = HAK_SEG_LARGE;
  seg->page_shift = HAK_SEGMENT_SHIFT;     /* any pointer in the first 4 MiB maps to page 0 */
  seg->page_count = 1;
  seg->pages_used = 1;
  seg->mapped_size = mapped;
  seg->mapped_base = base;
  hak_page_t* page = &seg->pages[0];
  page->segment = seg;
  page->tier = HAK_TIER_LARGE;
  page->in_use = 1;
  atomic_store_explicit(_hak_page_remote_word(page), HAK_NOTIFY_NEVER, memory_order_relaxed);
  return seg;
}

static bool large_register(hak_segment_t* seg) {
#if HAK_SUPERSLAB
  _hak_segmap_set(seg, true);
  return true;
#else
  return _hak_registry_add(seg);
#endif
}

void* _hak_large_malloc(hak_heap_t* heap, size_t size, size_t alignment, bool zero) {
  size_t offset = alignment > HAK_OS_PAGE ? alignment : HAK_OS_PAGE;
  if (size > ((size_t)PTRDIFF_MAX >> 1)) { errno = ENOMEM; return NULL; }
  size_t committed = round_up(offset + size, HAK_OS_PAGE);
  hak_segment_t* seg = cache_take(committed, offset);
  bool fresh = seg == NULL;
  if (fresh) {
    seg = large_map(mapping_size(committed), offset);
    if (seg == NULL) { errno = ENOMEM; return NULL; }
    count(heap, HAK_STAT_LARGE_MAPS, 1);
  } else {
    count(heap, HAK_STAT_LARGE_CACHE_HITS, 1);
#if !HAK_SUPERSLAB
    if (seg->first_area != (uint8_t*)seg + offset) _hak_registry_remove(seg);
#endif
  }
  bool moved = seg->first_area != (uint8_t*)seg + offset;
  seg->first_area = (uint8_t*)seg + offset;
  seg->large_size = committed - offset;
  seg->pages[0].block_size = seg->large_size > UINT32_MAX ? UINT32_MAX : (uint32_t)seg->large_size;
  if ((fresh || moved) && !large_register(seg)) {
    _hak_os_unmap(seg->mapped_base, seg->mapped_size);
    errno = ENOMEM;
    return NULL;
  }
  count(heap, HAK_STAT_LARGE_ALLOCS, 1);
  count(heap, HAK_STAT_LARGE_BYTES, size);
#if HAK_STATS >= 1
  if (heap != &_hak_heap_empty) {
    _hak_counter_add(&heap->stats.tier_allocs[HAK_TIER_LARGE], 1);
    _hak_counter_add(&heap->stats.tier_bytes[HAK_TIER_LARGE], size);
  }
#endif
#if HAK_HARDEN
  _hak_hd_large_alloc(seg, size);    /* moves the guard page, so before the memset */
#endif
  if (zero && !fresh) memset(seg->first_area, 0, size);
  return seg->first_area;
}

void _hak_large_free(hak_heap_t* heap, hak_segment_t* seg) {
  size_t bytes = committed_bytes(seg);
  hak_segment_t* evicted[HAK_LARGE_CACHE_SLOTS];
  size_t n_evicted = 0;
  bool cached = false;
  if (bytes <= HAK_LARGE_CACHE_MAX_BLOCK) {
    pthread_mutex_lock(&_large_lock);
    while (_cache_count > 0 && (_cache_count == HAK_LARGE_CACHE_SLOTS || _cache_bytes + bytes > HAK_LARGE_CACHE_MAX_BYTES)) {
      hak_segment_t* old = _cache[0];
      _cache_bytes -= committed_bytes(old);
      memmove(&_cache[0], &_cache[1], (_cache_count - 1) * sizeof(_cache[0]));
      _cache_count--;
      evicted[n_evicted++] = old;
    }
    _cache[_cache_count++] = seg;
    _cache_bytes += bytes;
    cached = true;
    pthread_mutex_unlock(&_large_lock);
  }
  for (size_t i = 0; i < n_evicted; i++) large_unmap(heap, evicted[i]);
  if (!cached) large_unmap(heap, seg);
}

/* Grows or shrinks in place when the mapping allows; NULL means "move the block". */
void* _hak_large_realloc(hak_heap_t* heap, hak_segment_t* seg, void* p, size_t size) {
  (void)heap;
  size_t offset = (size_t)((uint8_t*)p - (uint8_t*)seg);
  size_t room = seg->mapped_size - offset;
  if (size > room || size < seg->large_size / 2) return NULL;
  size_t usable = round_up(offset + size, HAK_OS_PAGE) - offset;
  if (usable > seg->large_size) seg->large_size = usable;
  seg->pages[0].block_size = seg->large_size > UINT32_MAX ? UINT32_MAX : (uint32_t)seg->large_size;
  return p;
}

void _hak_large_lock(void) { pthread_mutex_lock(&_large_lock); }
void _hak_large_unlock(void) { pthread_mutex_unlock(&_large_lock); }
void _hak_large_reset_lock(void) { pthread_mutex_init(&_large_lock, NULL); }
