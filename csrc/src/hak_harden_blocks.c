/* Harden's small and mid blocks (HAK_HARDEN, hak_config.h): the canary after the request and
 * the encoded slack at the block's end, the fill of freed blocks checked when they are handed
 * out again, the per-class quarantine that delays their reuse, and the PROT_NONE addresses of
 * zero-size requests. */
#include "hak_harden.h"

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

/* The ring's oldest blocks but `keep` go back to their pages, a run of blocks of one page in
 * one push. A block there still links to its page, unless the program wrote there while it
 * waited. */
void _hak_hd_quarantine_drain(hak_heap_t* heap, int cls, unsigned keep) {
  unsigned count = heap->quarantine_count[cls];
  if (count <= keep) return;
  hak_page_t* page = NULL;
  hak_block_t *first = NULL, *last = NULL;
  uint32_t n = 0;
  for (unsigned k = count; k > keep; k--) {
    unsigned i = (heap->quarantine_at[cls] - k) & (HAK_HD_RING - 1);
    hak_block_t* b = heap->quarantine[cls][i].block;
    hak_page_t* bp = heap->quarantine[cls][i].page;
    if (hak_unlikely(HAK_HD_NEXT(bp, b) != (hak_block_t*)bp)) _hak_misuse(HAK_MISUSE_WRITTEN_FREE, b, bp->block_size);
    if (bp != page) {
      if (n != 0) _hak_free_chain_to_page(heap, page, first, last, n);
      page = bp; first = b; n = 0;
    } else {
      HAK_HD_LINK(page, last, b);
    }
    last = b;
    n++;
  }
  heap->quarantine_count[cls] = (uint8_t)keep;
  if (n != 0) _hak_free_chain_to_page(heap, page, first, last, n);
}

/* A class's cap: about HAK_HD_RING_BYTES of its blocks, at least the setting and 4 more (a
 * drain hands back half the cap, never the blocks still waiting), below the ring's size (a
 * push comes before the drain); 0 leaves the heap without a quarantine. */
_Static_assert(HAK_HD_QUARANTINE_MAX + 4 < HAK_HD_RING && HAK_HD_RING <= 128, "a class's ring holds the setting, 4 more and a push, counted in a byte");

void _hak_hd_quarantine_init(hak_heap_t* heap) {
  uint32_t keep = (uint32_t)_hak_options.quarantine;
  if (keep == 0) return;
  heap->quarantine_keep = keep;
  for (int cls = 0; cls < HAK_CLASS_COUNT; cls++) {
    uint32_t fit = HAK_HD_RING_BYTES / _hak_class_size[cls];
    uint32_t cap = fit < keep + 4 ? keep + 4 : fit > HAK_HD_RING - 1 ? HAK_HD_RING - 1 : fit;
    heap->quarantine_cap[cls] = (uint8_t)cap;
    heap->quarantine_low[cls] = (uint8_t)(cap / 2 > keep ? cap / 2 : keep);
  }
}

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
