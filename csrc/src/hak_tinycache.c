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

/* Sends `count` blocks of a chain back to their pages, each run of neighbours on the chain
 * that share a page in one push: a thread that frees what another allocated in order hands
 * back long runs, one atomic exchange each. The walk goes no further than the count, so
 * that a chain a double free made circular (without harden nothing stops one) cannot hold
 * the thread forever. */
static void chain_to_pages(hak_heap_t* heap, hak_block_t* b, uint64_t count) {
  for (uint64_t left = count; b != NULL && left > 0;) {
    hak_page_t* page = _hak_page_of(b);
    hak_block_t* last = b;
    uint32_t n = 1;
    while (n < left && last->next != NULL && _hak_page_of(last->next) == page) {
      last = last->next;
      n++;
    }
    hak_block_t* next = last->next;       /* the page's push writes last's link */
    _hak_free_chain_to_page(heap, page, b, last, n);
    left -= n;
    b = next;
  }
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
  chain_to_pages(heap, stash->head, stash->count);
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
  chain_to_pages(heap, b, count - kept);
  list->room = limit - kept;
  hak_check(_hak_tiny_list_is_valid(heap, (int)(list - heap->tiny_list)));
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

/* Up to half the list's room from the class's current page, in the page's order; a closed
 * list opens. */
void _hak_tiny_cache_fill(hak_heap_t* heap, int cls) {
  hak_tiny_list_t* list = &heap->tiny_list[cls];
  if (list_closed(list)) {
    stash_flush(heap, cls);
    list->room = list_limit(cls);
  }
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
