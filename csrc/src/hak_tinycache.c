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

/* Sends every block after the first `keep` (the most recently freed) back to its page, each
 * run of neighbours on the list that share a page in one push: a thread that frees what
 * another allocated in order hands back long runs, one atomic exchange each. The walk goes
 * no further than the list's count, so that a list a double free made circular (without
 * harden nothing stops one) cannot hold the thread forever. */
static void list_trim(hak_heap_t* heap, hak_tiny_list_t* list, uint32_t limit, uint32_t keep) {
  uint64_t count = limit - list->room;
  hak_block_t** link = &list->head;
  uint64_t kept = 0;
  for (; kept < keep && kept < count && *link != NULL; kept++) link = &(*link)->next;
  hak_block_t* b = *link;
  *link = NULL;
  for (uint64_t left = count - kept; b != NULL && left > 0;) {
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
  list->room = limit - kept;
  hak_check(_hak_tiny_list_is_valid(heap, (int)(list - heap->tiny_list)));
}

bool _hak_tiny_cache_push(hak_heap_t* heap, int cls, void* p) {
  hak_tiny_list_t* list = &heap->tiny_list[cls];
  uint32_t limit = list_limit(cls);
  if (limit == 0) return false;
  if (list->room == 0) list_trim(heap, list, limit, limit / 2);
  ((hak_block_t*)p)->next = list->head;
  list->head = (hak_block_t*)p;
  list->room--;
  hak_check(_hak_tiny_list_is_valid(heap, cls));
  return true;
}

/* Up to half the list's room from the class's current page, in the page's order. */
void _hak_tiny_cache_fill(hak_heap_t* heap, int cls) {
  hak_tiny_list_t* list = &heap->tiny_list[cls];
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
  for (int cls = 0; cls < HAK_TINY_CLASSES; cls++) list_trim(heap, &heap->tiny_list[cls], list_limit(cls), 0);
}

/* Bytes on the heap's lists (read by another thread for a report: approximate). */
size_t _hak_tiny_cache_bytes(hak_heap_t* heap) {
  size_t bytes = 0;
  for (int cls = 0; cls < HAK_TINY_CLASSES; cls++) {
    uint64_t room = __atomic_load_n(&heap->tiny_list[cls].room, __ATOMIC_RELAXED);
    uint32_t limit = list_limit(cls);
    if (room < limit) bytes += (size_t)(limit - room) * _hak_class_size[cls];
  }
  return bytes;
}

void _hak_tiny_cache_init(hak_heap_t* heap) {
  for (int cls = 0; cls < HAK_TINY_CLASSES; cls++) heap->tiny_list[cls] = (hak_tiny_list_t){ .head = NULL, .room = list_limit(cls) };
#if HAK_DIRECT_CACHE
  for (size_t i = 0; i < HAK_DIRECT_SLOTS; i++) heap->tiny_direct[i] = &heap->tiny_list[_hak_direct_class[i]];
#endif
}

#if HAK_DEBUG
uint32_t _hak_tiny_list_limit(int cls) { return list_limit(cls); }
#endif

#endif
