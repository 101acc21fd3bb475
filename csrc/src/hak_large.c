/* The large tier: requests above HAK_MID_MAX (and small ones with alignments the classes
 * cannot give), each in a mapping of its own whose first 4 KiB hold a segment header, so
 * free finds it exactly as it finds small pages. A cache of freed blocks, sized by the
 * process's recent use of large memory, lets a free/malloc cycle skip the system calls and,
 * above all, the page faults of fresh memory. */
#include "hak_harden.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t _large_lock = PTHREAD_MUTEX_INITIALIZER;
/* The cache: every block is on the list of its bin (resident bytes, four bins per doubling;
 * next = older, prev = newer), so a request looks at the few blocks of the bins nearest its
 * size, and eviction takes the oldest block of the bins of its kind, whatever the number of
 * blocks cached. Kinds: small blocks (resident below HAK_LARGE_CACHE_SMALL_BLOCK, the bins
 * below small_bins()) and big ones, bounded in number differently (cache_room). */
#define LARGE_BINS 56
enum { KIND_SMALL, KIND_BIG, KINDS };
static hak_segment_t* _bin_newest[LARGE_BINS];
static hak_segment_t* _bin_oldest[LARGE_BINS];
static size_t _kind_count[KINDS];
static size_t _cache_count;
static size_t _cache_bytes;        /* resident bytes of the cached blocks */
/* Recent use: resident bytes of large blocks in use now, and the highest figure of the
 * current and the previous decay period. The cache may hold as much as the recent peak
 * (at least HAK_LARGE_CACHE_MIN_BYTES): a program that keeps that much in large blocks is
 * likely to ask for it again, and one whose use fell sees the budget follow within two
 * periods. */
static size_t _live_bytes;
static size_t _peak_now, _peak_before;
/* The same for the number of large blocks in use. */
static size_t _live_blocks;
static size_t _peak_blocks_now, _peak_blocks_before;
static uint64_t _period_end;

#define CHUNK ((size_t)1 << HAK_CHUNK_SHIFT)

static size_t round_up(size_t n, size_t to) { return (n + to - 1) & ~(to - 1); }

/* A whole 4 MiB slot per block with superslab: a foreign mapping can never share a slot the
 * segment map marks as hakmem's (but see below). Without it, whole 64 KiB chunks, the registry's unit.
 * A block of at least HAK_LARGE_RESERVE_MIN reserves the address space of the largest
 * cacheable block (untouched, so it costs no memory): once cached, it can serve any later
 * request up to that size, faulting in only the pages it lacks. */
static size_t mapping_size(size_t committed, bool reserve) {
  size_t want = committed;
  if (reserve && committed >= HAK_LARGE_RESERVE_MIN && committed < HAK_LARGE_CACHE_MAX_BLOCK &&
      _hak_os_as_limit() == SIZE_MAX) want = HAK_LARGE_CACHE_MAX_BLOCK;
#if HAK_SUPERSLAB
  /* Under an address-space limit only the pages the block needs: the rest of its 4 MiB slot
   * stays free for others, and a pointer there is told apart by its offset past the
   * mapping (_hak_large_owns). Not with harden, whose checks of foreign pointers rely on
   * the whole slot. */
  if (!HAK_HARDEN && _hak_os_as_limit() != SIZE_MAX) return round_up(want, HAK_OS_PAGE);
  return round_up(want, HAK_SEGMENT_SIZE);
#else
  return round_up(want, CHUNK);
#endif
}

/* Hold the lock. */
static void note_live(size_t bytes, bool add) {
  _live_bytes = add ? _live_bytes + bytes : (_live_bytes > bytes ? _live_bytes - bytes : 0);
  if (_live_bytes > _peak_now) _peak_now = _live_bytes;
}

/* Hold the lock. */
static void note_block(bool add) {
  _live_blocks = add ? _live_blocks + 1 : (_live_blocks > 0 ? _live_blocks - 1 : 0);
  if (_live_blocks > _peak_blocks_now) _peak_blocks_now = _live_blocks;
}

/* Under an address-space limit the cache keeps at most a sixteenth of it: the address
 * space of a cached block is what a thread stack or another library's mapping may need. */
static size_t cache_budget(void) {
  size_t peak = _peak_now > _peak_before ? _peak_now : _peak_before;
  size_t budget = peak > HAK_LARGE_CACHE_MIN_BYTES ? peak : HAK_LARGE_CACHE_MIN_BYTES;
  size_t as = _hak_os_as_limit() / 16;
  return budget < as ? budget : as;
}

/* How many blocks of a kind the cache may hold. Big ones: HAK_LARGE_CACHE_SLOTS. Small
 * ones: as many as have left use since the recent peak of large blocks in use (at least
 * HAK_LARGE_CACHE_SLOTS), so that blocks a burst of frees gives back, a thread's exit, are
 * there for the next burst of mallocs: a small block's fresh mapping costs a system call,
 * a page fault for each of its few pages and, on unmapping, a flush of every core's TLB,
 * much for what it holds, and the blocks cached never outnumber the recent peak in use. */
static size_t cache_room(int kind) {
  if (kind == KIND_BIG) return HAK_LARGE_CACHE_SLOTS;
  size_t peak = _peak_blocks_now > _peak_blocks_before ? _peak_blocks_now : _peak_blocks_before;
  size_t left = peak > _live_blocks ? peak - _live_blocks : 0;
  return left > HAK_LARGE_CACHE_SLOTS ? left : HAK_LARGE_CACHE_SLOTS;
}

/* Four bins per doubling of the resident pages: neighbouring bins differ by at most a
 * quarter, so a block of the request's bin faults in or leaves idle little. */
static unsigned bin_of(size_t resident) {
  size_t pages = resident >> 12;
  if (pages < 4) return (unsigned)pages;
  unsigned msb = 63u - (unsigned)__builtin_clzll(pages);
  unsigned bin = (msb - 1) * 4 + (unsigned)((pages >> (msb - 2)) & 3);
  return bin < LARGE_BINS ? bin : LARGE_BINS - 1;
}

/* HAK_LARGE_CACHE_SMALL_BLOCK is a power of two, so it starts a bin: the bins below hold
 * the small blocks. */
_Static_assert((HAK_LARGE_CACHE_SMALL_BLOCK & (HAK_LARGE_CACHE_SMALL_BLOCK - 1)) == 0, "a bin's lower bound");
static unsigned small_bins(void) { return bin_of(HAK_LARGE_CACHE_SMALL_BLOCK); }
static int kind_of_bin(unsigned bin) { return bin < small_bins() ? KIND_SMALL : KIND_BIG; }

/* Hold the lock. */
static void cache_insert(hak_segment_t* seg, uint64_t now) {
  unsigned bin = bin_of(seg->resident);
  seg->cached_at = now;
  seg->prev = NULL;
  seg->next = _bin_newest[bin];
  if (seg->next != NULL) seg->next->prev = seg; else _bin_oldest[bin] = seg;
  _bin_newest[bin] = seg;
  _kind_count[kind_of_bin(bin)]++;
  _cache_count++;
  _cache_bytes += seg->resident;
}

/* Hold the lock; seg's resident size is the one it was cached with. */
static void cache_remove(hak_segment_t* seg) {
  unsigned bin = bin_of(seg->resident);
  if (seg->prev != NULL) seg->prev->next = seg->next; else _bin_newest[bin] = seg->next;
  if (seg->next != NULL) seg->next->prev = seg->prev; else _bin_oldest[bin] = seg->prev;
  seg->next = seg->prev = NULL;
  _kind_count[kind_of_bin(bin)]--;
  _cache_count--;
  _cache_bytes -= seg->resident;
}

/* The oldest cached block of a kind, or of both (KINDS). Hold the lock; one is cached. */
static hak_segment_t* cache_oldest(int kind) {
  unsigned from = kind == KIND_BIG ? small_bins() : 0, to = kind == KIND_SMALL ? small_bins() : LARGE_BINS;
  hak_segment_t* oldest = NULL;
  for (unsigned bin = from; bin < to; bin++) {
    hak_segment_t* s = _bin_oldest[bin];
    if (s != NULL && (oldest == NULL || s->cached_at < oldest->cached_at)) oldest = s;
  }
  return oldest;
}

/* seg leaves the cache onto `out` (linked through next), for the caller to unmap outside the
 * lock. Hold the lock. */
static void cache_evict(hak_segment_t* seg, hak_segment_t** out) {
  cache_remove(seg);
  seg->next = *out;
  *out = seg;
}

/* Room for a block of `extra` resident bytes to come (0: none). Decay, at most once a
 * period: the budgets forget the period before last. Evicted, oldest first: the blocks of a
 * kind beyond its room, those beyond the byte budget, and those that waited in the cache for
 * two whole periods. Hold the lock; the evicted blocks come back as a list (linked through
 * next), for the caller to unmap outside it. */
static hak_segment_t* cache_decay(size_t extra) {
  hak_segment_t* out = NULL;
  uint64_t now = _hak_now_ms();
  if (now >= _period_end) {
    _peak_before = _peak_now;
    _peak_now = _live_bytes;
    _peak_blocks_before = _peak_blocks_now;
    _peak_blocks_now = _live_blocks;
    _period_end = now + HAK_LARGE_DECAY_MS;
  }
  for (int kind = 0; kind < KINDS; kind++) {
    size_t room = cache_room(kind) - (extra != 0 && kind_of_bin(bin_of(extra)) == kind);
    while (_kind_count[kind] > room) cache_evict(cache_oldest(kind), &out);
  }
  while (_cache_count > 0 &&
         (_cache_bytes + extra > cache_budget() || cache_oldest(KINDS)->cached_at + 2 * HAK_LARGE_DECAY_MS <= now)) {
    cache_evict(cache_oldest(KINDS), &out);
  }
  return out;
}

static void large_unmap(hak_heap_t* heap, hak_segment_t* seg) {
  _hak_segment_unmap(seg);
  _hak_count_event(heap, HAK_STAT_LARGE_UNMAPS, 1);
}

static void large_unmap_all(hak_heap_t* heap, hak_segment_t* list) {
  while (list != NULL) {
    hak_segment_t* next = list->next;
    large_unmap(heap, list);
    list = next;
  }
}

/* The cached block that costs least: the fewest pages to fault in (resident short of the
 * request) or left idle (resident beyond it), among the first few blocks of the request's
 * bin and of the nearest bins above and below that hold one that fits (mapped large enough,
 * aligned). Any fits better than a fresh mapping, which faults in every page. */
static bool cache_fits(const hak_segment_t* s, size_t committed, size_t alignment) {
  return s->mapped_size >= committed && ((uintptr_t)s & (alignment - 1)) == 0;
}

/* The cheapest fitting block among a bin's first few; NULL if none fits. */
static hak_segment_t* bin_best(int bin, size_t committed, size_t alignment, size_t* cost) {
  hak_segment_t* best = NULL;
  hak_segment_t* s = _bin_newest[bin];
  for (int look = 0; s != NULL && look < 8; look++, s = s->next) {
    if (!cache_fits(s, committed, alignment)) continue;
    size_t c = s->resident >= committed ? s->resident - committed : committed - s->resident;
    if (best == NULL || c < *cost) { best = s; *cost = c; }
  }
  return best;
}

static hak_segment_t* cache_find(size_t committed, size_t alignment) {
  int home = (int)bin_of(committed);
  size_t cost = SIZE_MAX, c;
  hak_segment_t* best = bin_best(home, committed, alignment, &cost);
  for (int step = -1; step <= 1; step += 2) {
    for (int bin = home + step; bin >= 0 && bin < LARGE_BINS; bin += step) {
      hak_segment_t* s = bin_best(bin, committed, alignment, &c);
      if (s == NULL) continue;
      if (c < cost) { best = s; cost = c; }
      break;
    }
  }
  return best;
}

static hak_segment_t* cache_take(size_t committed, size_t alignment) {
  pthread_mutex_lock(&_large_lock);
  hak_segment_t* seg = _cache_count != 0 ? cache_find(committed, alignment) : NULL;
  if (seg != NULL) cache_remove(seg);
  pthread_mutex_unlock(&_large_lock);
  /* A block idle beyond HAK_LARGE_IDLE_RATIO times the request (plus 1 MiB) gives its tail
   * back, so that a small request never pins a big block's pages. */
  if (seg != NULL && seg->resident > committed && seg->resident - committed > HAK_LARGE_IDLE_RATIO * committed + (1u << 20)) {
    _hak_os_purge((uint8_t*)seg + committed, seg->resident - committed);
    seg->resident = committed;
  }
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
  _hak_page_set_list(page, 0);              /* no list: frees take the slow path */
  page->in_use = 1;
  atomic_store_explicit(_hak_page_remote_word(page), HAK_NOTIFY_NEVER, memory_order_relaxed);
  return seg;
}

static bool large_register(hak_segment_t* seg) {
#if HAK_SUPERSLAB
  return _hak_segmap_set(seg, true);
#else
  return _hak_registry_add(seg);
#endif
}

void* _hak_large_malloc(hak_heap_t* heap, size_t size, size_t alignment, bool zero) {
  size_t offset = alignment > HAK_OS_PAGE ? alignment : HAK_OS_PAGE;
  if (size > ((size_t)PTRDIFF_MAX >> 1)) { errno = ENOMEM; return NULL; }
  /* a block of 0 bytes still needs one inside the mapping: at its end, the address would be
   * the next mapping's (or no one's), and free would not know it as this block */
  size_t committed = round_up(offset + (size != 0 ? size : 1), HAK_OS_PAGE);
  hak_segment_t* seg = cache_take(committed, offset);
  bool fresh = seg == NULL;
  if (fresh) {
    _hak_os_as_limit_refresh();     /* one system call beside mmap's: a limit set since counts */
    seg = large_map(mapping_size(committed, true), offset);
    /* out of memory or address space: the reservation goes first, then what can be given back */
    size_t exact = mapping_size(committed, false);
    if (seg == NULL && mapping_size(committed, true) > exact) seg = large_map(exact, offset);
    if (seg == NULL && _hak_release_memory(heap)) seg = large_map(exact, offset);
    if (seg == NULL) { errno = ENOMEM; return NULL; }
    _hak_count_event(heap, HAK_STAT_LARGE_MAPS, 1);
  } else {
    _hak_count_event(heap, HAK_STAT_LARGE_CACHE_HITS, 1);
#if !HAK_SUPERSLAB
    if (seg->first_area != (uint8_t*)seg + offset) _hak_registry_remove(seg);
#endif
  }
  bool moved = seg->first_area != (uint8_t*)seg + offset;
  seg->first_area = (uint8_t*)seg + offset;
  seg->large_size = committed - offset;
  if (seg->resident < committed) seg->resident = committed;
  seg->pages[0].block_size = seg->large_size > UINT32_MAX ? UINT32_MAX : (uint32_t)seg->large_size;
  if ((fresh || moved) && !large_register(seg)) {
    _hak_os_unmap(seg->mapped_base, seg->mapped_size);
    errno = ENOMEM;
    return NULL;
  }
  pthread_mutex_lock(&_large_lock);
  note_live(seg->resident, true);
  note_block(true);
  pthread_mutex_unlock(&_large_lock);
  _hak_count_event(heap, HAK_STAT_LARGE_ALLOCS, 1);
  _hak_count_event(heap, HAK_STAT_LARGE_BYTES, size);
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
  size_t bytes = seg->resident;
  bool cacheable = bytes <= HAK_LARGE_CACHE_MAX_BLOCK;
  bool cached = false;
  pthread_mutex_lock(&_large_lock);
  note_live(bytes, false);
  note_block(false);
  hak_segment_t* evicted = cache_decay(cacheable ? bytes : 0);
  if (cacheable && _cache_bytes + bytes <= cache_budget()) {
    cache_insert(seg, _hak_now_ms());
    cached = true;
  }
  pthread_mutex_unlock(&_large_lock);
  large_unmap_all(heap, evicted);
  if (!cached) large_unmap(heap, seg);
  else _hak_purge_thread_wake();
}

/* Grows or shrinks in place when the mapping allows; NULL means "move the block". */
void* _hak_large_realloc(hak_heap_t* heap, hak_segment_t* seg, void* p, size_t size) {
  (void)heap;
  size_t offset = (size_t)((uint8_t*)p - (uint8_t*)seg);
  size_t room = seg->mapped_size - offset;
  if (size > room || size < seg->large_size / 2) return NULL;
  size_t usable = round_up(offset + size, HAK_OS_PAGE) - offset;
  if (usable > seg->large_size) seg->large_size = usable;
  if (seg->resident < offset + usable) {
    pthread_mutex_lock(&_large_lock);
    note_live(offset + usable - seg->resident, true);
    pthread_mutex_unlock(&_large_lock);
    seg->resident = offset + usable;
  }
  seg->pages[0].block_size = seg->large_size > UINT32_MAX ? UINT32_MAX : (uint32_t)seg->large_size;
  return p;
}

/* Unmaps the cached blocks that waited at least `idle_ms` (0: all of them): the oldest
 * end of the age list. */
void _hak_large_drop_cache(hak_heap_t* heap, uint64_t idle_ms) {
  hak_segment_t* out = NULL;
  uint64_t now = _hak_now_ms();
  pthread_mutex_lock(&_large_lock);
  while (_cache_count > 0 && (idle_ms == 0 || cache_oldest(KINDS)->cached_at + idle_ms <= now)) cache_evict(cache_oldest(KINDS), &out);
  pthread_mutex_unlock(&_large_lock);
  large_unmap_all(heap, out);
}

/* For reports and the purge thread's look at activity: under the lock, like every write. */
static size_t locked_read(const size_t* v) {
  pthread_mutex_lock(&_large_lock);
  size_t n = *v;
  pthread_mutex_unlock(&_large_lock);
  return n;
}
size_t _hak_large_live_bytes(void) { return locked_read(&_live_bytes); }

void _hak_large_lock(void) { pthread_mutex_lock(&_large_lock); }
void _hak_large_unlock(void) { pthread_mutex_unlock(&_large_lock); }
void _hak_large_reset_lock(void) { pthread_mutex_init(&_large_lock, NULL); }
