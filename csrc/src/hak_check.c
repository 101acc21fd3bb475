/* Invariant checkers of debug builds (HAK_DEBUG, `make DEBUG=1`): what the comments on the
 * page descriptor, the segment header and the heap say field by field, checked at the slow
 * paths' transitions (refill, retire, full and back, segment page alloc and free, abandon,
 * adopt, the caches' fills and trims, thread exit). Every walk is bounded, so a list made
 * circular is reported, not followed forever. A broken fact aborts after one line:
 *
 *   hakmem: invariant broken: page 0x7fe4e1000080: used 65 + free 0 != capacity 64 (src/hak_check.c:136)
 *
 * A checker runs on the thread that owns what it checks: the owner's lists are walked
 * without locks. Release builds compile this file to nothing and the hak_check() calls out,
 * their arguments included. */
#include "hak_harden.h"

#if HAK_DEBUG

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* One line, then abort. snprintf of numbers and strings into a buffer on the stack does not
 * allocate: the heap may be the thing that is broken. */
static __attribute__((noreturn, cold, noinline, format(printf, 5, 6)))
void check_failed(const char* structure, const void* addr, const char* file, int line, const char* fmt, ...) {
  char text[320];
  int at = snprintf(text, sizeof(text), "hakmem: invariant broken: %s %p: ", structure, addr);
  va_list ap;
  va_start(ap, fmt);
  if (at > 0 && (size_t)at < sizeof(text)) at += vsnprintf(text + at, sizeof(text) - (size_t)at, fmt, ap);
  va_end(ap);
  if (at > 0 && (size_t)at < sizeof(text)) at += snprintf(text + at, sizeof(text) - (size_t)at, " (%s:%d)\n", file, line);
  if (at < 0 || (size_t)at >= sizeof(text)) { at = (int)sizeof(text); text[at - 1] = '\n'; }
  ssize_t ignored = write(STDERR_FILENO, text, (size_t)at);
  (void)ignored;
  abort();
}

#define FACT(cond, structure, addr, ...) \
  do { if (hak_unlikely(!(cond))) check_failed((structure), (addr), __FILE__, __LINE__, __VA_ARGS__); } while (0)

/* Far more than any list or queue legitimately holds: a walk that gets there is in a cycle. */
#define WALK_BOUND ((size_t)1 << 22)

/* ---------------------------------------------------------------- layout */

/* Where page idx's span for blocks starts and ends (its first block may start later: its
 * colour, under 4 KiB). */
static const uint8_t* span_start(const hak_segment_t* seg, size_t idx) {
  return idx == 0 ? seg->first_area : (const uint8_t*)seg + (idx << seg->page_shift);
}
static const uint8_t* span_end(const hak_segment_t* seg, size_t idx) {
  return (const uint8_t*)seg + ((idx + 1) << seg->page_shift);
}

static uint16_t list_off_of(const hak_page_t* page) {
#if HAK_SUPERSLAB
  return __atomic_load_n(&page->segment->list_off[page - page->segment->pages], __ATOMIC_RELAXED);
#else
  return __atomic_load_n(&page->list_off, __ATOMIC_RELAXED);
#endif
}

/* The list offset a page in use must hold (_hak_page_set_list): a tiny page's class list;
 * a mid page's class stack while a live owner has it cached, else none; a large page none. */
static uint16_t list_off_expected(const hak_page_t* page) {
  if (page->tier == HAK_TIER_TINY) return _hak_class_list_off(page->class_idx);
  if (page->tier == HAK_TIER_MID && (_hak_page_owner(page) & HAK_OWNER_CACHED)) return _hak_class_list_off(page->class_idx);
  return 0;
}

/* Whether an offset leads anywhere a page's frees may go: no list, a tiny list, a stack. */
static bool list_off_known(size_t off) {
  if (off == 0) return true;
  for (int cls = 0; cls < HAK_CLASS_COUNT; cls++) {
    if (off == _hak_class_list_off(cls)) return true;
  }
  return false;
}

/* ---------------------------------------------------------------- pages */

/* Whether b starts one of the page's carved blocks (a range test and a remainder). */
static bool carved_block(const hak_page_t* page, const void* b) {
  uintptr_t off = (uintptr_t)b - (uintptr_t)page->area;
  return off < (uintptr_t)page->capacity * page->block_size && off % page->block_size == 0;
}

/* The head of the owner's allocation list (the one list without dual lists, where other
 * threads push too: a walk from a head seen once is safe, since only the owner pops). */
#if HAK_DUAL_LISTS
static const hak_block_t* free_head(const hak_page_t* page) { return page->free; }
#else
static const hak_block_t* free_head(const hak_page_t* page) {
  return _hak_word_block(atomic_load_explicit(&((hak_page_t*)page)->free, memory_order_acquire));
}
#endif

/* The owner's allocation list: its blocks are carved blocks of the page, and it holds what
 * the page has not handed out. Returns its length. */
static uint32_t page_free_walk(const hak_page_t* page) {
  uint32_t n = 0;
  for (const hak_block_t* b = free_head(page); b != HAK_LIST_END(page); b = HAK_HD_NEXT(page, b), n++) {
    FACT(n < page->capacity, "page", page, "free list longer than its capacity %u (a cycle?)", page->capacity);
    FACT(carved_block(page, b), "page", page, "free list holds %p, not a carved block of the page (area %p, %u of %u-byte blocks)",
         (const void*)b, (const void*)page->area, page->capacity, page->block_size);
  }
  return n;
}

bool _hak_page_is_valid(const hak_page_t* page) {
  const hak_segment_t* seg = page->segment;
  FACT(seg != NULL, "page", page, "no segment");
  size_t idx = (size_t)(page - seg->pages);
  FACT(idx < seg->page_count, "page", page, "not one of its segment's %u descriptors", seg->page_count);
  if (!page->in_use) return true;
  FACT(page->class_idx < HAK_CLASS_COUNT, "page", page, "class %u out of range", page->class_idx);
  const int cls = page->class_idx;
  FACT(page->tier == _hak_class_tier(cls), "page", page, "tier %u, but class %d is of tier %d", page->tier, cls, _hak_class_tier(cls));
  FACT(seg->kind == (page->tier == HAK_TIER_TINY ? HAK_SEG_TINY : HAK_SEG_MID), "page", page,
       "a tier %u page in a segment of kind %u", page->tier, seg->kind);
  FACT(page->block_size == _hak_class_size[cls], "page", page, "block size %u, class %d's is %u", page->block_size, cls,
       _hak_class_size[cls]);
  FACT(page->capacity <= page->reserved, "page", page, "capacity %u > reserved %u", page->capacity, page->reserved);
  FACT(page->area >= span_start(seg, idx) && page->area - span_start(seg, idx) < HAK_OS_PAGE, "page", page,
       "area %p outside its span's first 4 KiB (span %p)", (const void*)page->area, (const void*)span_start(seg, idx));
  FACT((uintptr_t)(span_end(seg, idx) - page->area) >= (uintptr_t)page->reserved * page->block_size, "page", page,
       "reserved %u blocks of %u bytes pass its span's end %p", page->reserved, page->block_size, (const void*)span_end(seg, idx));

  /* used before the walk: without dual lists, remote frees keep coming, each pushed first and
   * counted down after, so the list seen later holds at least what used does not count */
  uint32_t used = _hak_page_used((hak_page_t*)page);
  uint32_t free_n = page_free_walk(page);
#if HAK_DUAL_LISTS
  /* every carved block is on the allocation list or handed out (remote frees not yet
   * collected, blocks on a tiny list, a mid stack or in the pool included) */
  FACT(used + free_n == page->capacity, "page", page, "used %u + free %u != capacity %u", used, free_n, page->capacity);
#else
  /* a remote free's block may be on the list and counted as used at once, for a moment */
  FACT(used <= page->capacity, "page", page, "used %u > capacity %u", used, page->capacity);
  FACT(used + free_n >= page->capacity, "page", page, "used %u + free %u < capacity %u", used, free_n, page->capacity);
#endif

  uintptr_t owner = _hak_page_owner(page);
  const struct hak_heap_s* heap = _hak_page_heap(page);
  if ((owner & ~HAK_OWNER_TAGS) != 0) {
    FACT(heap != NULL, "page", page, "an owner (%#lx) but no heap", (unsigned long)owner);
    FACT(((owner & HAK_OWNER_FULL) != 0) == (page->in_full != 0), "page", page, "in_full %u, but the owner word's full tag is %u",
         page->in_full, (unsigned)(owner & HAK_OWNER_FULL));
    FACT(((owner & HAK_OWNER_CACHED) != 0) == (HAK_MID_CACHE_SLOTS != 0 && page->tier == HAK_TIER_MID), "page", page,
         "the owner word's cached tag is %u on a tier %u page", (unsigned)((owner & HAK_OWNER_CACHED) >> 1), page->tier);
  } else {
    FACT(heap == NULL && !page->in_full, "page", page, "no owner, but heap %p, in_full %u", (const void*)heap, page->in_full);
  }
  FACT(list_off_of(page) == list_off_expected(page), "page", page, "list offset %u, expected %u (class %d, owner word %#lx)",
       list_off_of(page), list_off_expected(page), cls, (unsigned long)owner);
  return true;
}

/* ---------------------------------------------------------------- segments */

bool _hak_segment_is_valid(const hak_segment_t* seg) {
#if HAK_SUPERSLAB
  FACT(((uintptr_t)seg & HAK_SEGMENT_MASK) == 0, "segment", seg, "not aligned to its 4 MiB");
#else
  FACT(((uintptr_t)seg & (((uintptr_t)1 << HAK_CHUNK_SHIFT) - 1)) == 0, "segment", seg, "not aligned to a registry chunk");
#endif
  FACT(seg->kind == HAK_SEG_TINY || seg->kind == HAK_SEG_MID, "segment", seg, "kind %u is not a small segment's", seg->kind);
  unsigned shift = seg->kind == HAK_SEG_TINY ? HAK_TINY_PAGE_SHIFT : HAK_MID_PAGE_SHIFT;
  FACT(seg->page_shift == shift, "segment", seg, "page shift %u, its kind's is %u", seg->page_shift, shift);
  FACT(seg->page_count == (HAK_SEGMENT_SIZE >> shift), "segment", seg, "%u pages, its kind has %zu", seg->page_count,
       HAK_SEGMENT_SIZE >> shift);
  FACT(seg->first_area == (const uint8_t*)seg + _hak_segment_header_size(seg->page_count), "segment", seg,
       "page 0's span starts at %p, after a header of %zu bytes it would start at %p", (const void*)seg->first_area,
       _hak_segment_header_size(seg->page_count), (const void*)((const uint8_t*)seg + _hak_segment_header_size(seg->page_count)));
#if HAK_SUPERSLAB
  unsigned mapped = _hak_segmap_shift(seg);
  FACT(mapped == seg->page_shift, "segment", seg, "the segment map holds page shift %u, the header %u", mapped, seg->page_shift);
#endif
  size_t in_use = 0, first_free = seg->page_count;
  for (size_t i = 0; i < seg->page_count; i++) {
    const hak_page_t* page = &seg->pages[i];
    FACT(page->segment == seg, "segment", seg, "page %zu links to segment %p", i, (const void*)page->segment);
    FACT(list_off_known(list_off_of(page)), "segment", seg, "page %zu's list offset %u leads to no list of a heap's", i,
         list_off_of(page));
    if (page->in_use) {
      in_use++;
      _hak_page_is_valid(page);
    } else if (first_free == seg->page_count) {
      first_free = i;
    }
  }
  FACT(seg->pages_used == in_use, "segment", seg, "pages_used %u, but %zu pages are in use", seg->pages_used, in_use);
  FACT(seg->free_hint <= first_free, "segment", seg, "free_hint %u passes free page %zu", seg->free_hint, first_free);
  if (atomic_load_explicit(&((hak_segment_t*)seg)->owner, memory_order_relaxed) != NULL) {
    FACT(!seg->abandoned, "segment", seg, "abandoned, but it has an owner");
    FACT((seg->in_full_list != 0) == (seg->pages_used == seg->page_count), "segment", seg,
         "in_full_list %u with %u of %u pages in use", seg->in_full_list, seg->pages_used, seg->page_count);
  }
  return true;
}

/* ---------------------------------------------------------------- heaps and their caches */

#if HAK_TINY_CACHE_BLOCKS || HAK_MID_CACHE_SLOTS
/* A block a thread's cache holds: a carved block of an in-use page of its class. */
static void cached_block_valid(const char* structure, const void* where, const void* b, int cls) {
  const hak_page_t* page = _hak_page_of(b);
  FACT(page != &_hak_page_empty && page->in_use, structure, where, "holds %p, which is in no page in use", b);
  FACT(page->class_idx == cls && page->tier == _hak_class_tier(cls), structure, where,
       "class %d holds %p, a block of class %u", cls, b, page->class_idx);
  FACT(_hak_page_holds_block(page, b), structure, where, "holds %p, not the start of a carved block", b);
}
#endif

#if HAK_TINY_CACHE_BLOCKS
/* The blocks of a chain a thread's cache holds (a tiny list or stash), each checked; more
 * than `most` stops the walk (a cycle, or a count that is wrong). */
static uint64_t cached_chain_length(const char* structure, const void* where, const hak_block_t* head, uint64_t most, int cls) {
  uint64_t n = 0;
  for (const hak_block_t* b = head; b != NULL; b = b->next, n++) {
    FACT(n < most, structure, where, "class %d: more than %llu blocks (a cycle?)", cls, (unsigned long long)most);
    cached_block_valid(structure, where, b, cls);
  }
  return n;
}

bool _hak_tiny_list_is_valid(const hak_heap_t* heap, int cls) {
  const hak_tiny_list_t* list = &heap->tiny_list[cls];
  uint64_t limit = _hak_tiny_list_limit(cls);
  FACT(list->room <= limit, "tiny list", list, "class %d: room %llu > its limit %llu", cls, (unsigned long long)list->room,
       (unsigned long long)limit);
  uint64_t n = cached_chain_length("tiny list", list, list->head, limit, cls);
  bool closed = n == 0 && list->room == 0;
  FACT(n + list->room == limit || closed, "tiny list", list,
       "class %d: %llu blocks + room %llu != limit %llu, and the list is not closed", cls, (unsigned long long)n,
       (unsigned long long)list->room, (unsigned long long)limit);
  const hak_tiny_stash_t* stash = &heap->tiny_stash[cls];
  FACT(stash->count <= limit && (stash->count == 0 || closed), "tiny stash", stash,
       "class %d: %llu blocks (at most %llu, and none while the list is open)", cls, (unsigned long long)stash->count,
       (unsigned long long)limit);
  n = cached_chain_length("tiny stash", stash, stash->head, stash->count, cls);
  FACT(n == stash->count, "tiny stash", stash, "class %d: %llu blocks, its count says %llu", cls, (unsigned long long)n,
       (unsigned long long)stash->count);
  return true;
}
#endif

#if HAK_MID_CACHE_SLOTS
bool _hak_mid_stack_is_valid(const hak_heap_t* heap, int cls) {
  const hak_mid_stack_t* st = &heap->mid_stack[cls];
  FACT(st->base == heap->mid_blocks[cls - HAK_TINY_CLASSES], "mid stack", st, "class %d: base %p is not its slots %p", cls,
       (const void*)st->base, (const void*)heap->mid_blocks[cls - HAK_TINY_CLASSES]);
  FACT(st->base <= st->top && st->top <= st->end && st->end - st->base <= HAK_MID_CACHE_SLOTS, "mid stack", st,
       "class %d: top %td and end %td slots past base (at most %d)", cls, st->top - st->base, st->end - st->base, HAK_MID_CACHE_SLOTS);
  /* read as a tiny list's room by the free fast path, which must find none */
  FACT(st->no_room == 0, "mid stack", st, "class %d: no_room is %llu, not 0", cls, (unsigned long long)st->no_room);
  for (void* const* b = st->base; b < st->top; b++) cached_block_valid("mid stack", st, *b, cls);
  return true;
}
#endif

/* A page queue's links, and its pages: in use, of the class (any, for the full queue), of
 * this heap, in the full list or not as the queue says. */
static void queue_valid(const hak_heap_t* heap, const hak_page_queue_t* q, int cls, bool full) {
  const hak_page_t* prev = NULL;
  size_t n = 0;
  for (const hak_page_t* page = q->first; page != NULL; prev = page, page = page->next, n++) {
    FACT(n < WALK_BOUND, "heap", heap, "page queue %p longer than %zu pages (a cycle?)", (const void*)q, WALK_BOUND);
    FACT(page->prev == prev, "heap", heap, "queue %p: page %p's prev is %p, not %p", (const void*)q, (const void*)page,
         (const void*)page->prev, (const void*)prev);
    FACT(page->in_use && (full || page->class_idx == cls) && _hak_page_heap(page) == heap && (page->in_full != 0) == full,
         "heap", heap, "queue %p (class %d%s) holds page %p: in_use %u, class %u, heap %p, in_full %u", (const void*)q, cls,
         full ? ", full" : "", (const void*)page, page->in_use, page->class_idx, (const void*)_hak_page_heap(page), page->in_full);
    _hak_page_is_valid(page);
  }
  FACT(q->last == prev, "heap", heap, "queue %p ends at %p, its last is %p", (const void*)q, (const void*)prev, (const void*)q->last);
}

bool _hak_heap_is_valid(const hak_heap_t* heap) {
  FACT(heap != &_hak_heap_empty, "heap", heap, "the empty heap has nothing to check");
#if HAK_TINY_CACHE_BLOCKS
  /* where a page without a list points: its frees must find no room */
  FACT(heap->no_list.head == NULL && heap->no_list.room == 0, "heap", heap, "no_list holds %p with room %llu, not nothing",
       (const void*)heap->no_list.head, (unsigned long long)heap->no_list.room);
  for (int cls = 0; cls < HAK_TINY_CLASSES; cls++) _hak_tiny_list_is_valid(heap, cls);
#if HAK_DIRECT_CACHE
  for (size_t i = 0; i < HAK_DIRECT_SLOTS; i++) {
    FACT(heap->tiny_direct[i] == &heap->tiny_list[_hak_direct_class[i]], "heap", heap, "tiny_direct[%zu] is not class %u's list",
         i, _hak_direct_class[i]);
  }
#endif
#endif
#if HAK_MID_CACHE_SLOTS
  for (int cls = HAK_TINY_CLASSES; cls < HAK_CLASS_COUNT; cls++) _hak_mid_stack_is_valid(heap, cls);
#endif
  for (int cls = 0; cls < HAK_CLASS_COUNT; cls++) {
    queue_valid(heap, &heap->queue[cls], cls, false);
    const hak_page_t* cur = heap->current[cls];
    FACT(cur == &_hak_page_empty || (cur->in_use && cur->class_idx == cls && _hak_page_heap(cur) == heap), "heap", heap,
         "current[%d] is page %p: in_use %u, class %u, heap %p", cls, (const void*)cur, cur->in_use, cur->class_idx,
         (const void*)_hak_page_heap(cur));
  }
  queue_valid(heap, &heap->full, -1, true);
#if HAK_DIRECT_CACHE
  for (size_t i = 0; i < HAK_DIRECT_SLOTS; i++) {
    FACT(heap->direct[i] == heap->current[_hak_direct_class[i]], "heap", heap, "direct[%zu] is not class %u's current page", i,
         _hak_direct_class[i]);
  }
#endif
  return true;
}

#endif
