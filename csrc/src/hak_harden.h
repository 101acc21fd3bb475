/* Heap-misuse detection (HAK_HARDEN, hak_config.h): the free-list encoding and the checks the
 * push, pop and free points call. With HAK_HARDEN=0 only the reporting function exists, for
 * the inconsistencies slow paths meet in every build.
 *
 * A free block of a hardened page holds one link word: next ^ key, the page's secret, whose
 * top 16 bits are HAK_HD_TAG (links are user addresses, below 2^47), so every free block
 * carries the tag. A pop follows a link only if it decodes into the page's segment: a stray
 * write to a link decodes to a random address, far away. With dual lists the allocation list
 * ends in the page descriptor itself, not NULL, so the pop needs no emptiness test: an empty
 * list's head is the descriptor, whose first word (the head again) decodes to an address
 * carrying the tag, far from the segment. A pop zeroes the block's link, so a live block
 * whose program has not written to it yet does not carry the tag.
 *
 * A free checks that the pointer starts a carved block with one multiplication (below) and
 * sends a block that carries the tag to a slow path, which looks for it on the page's lists:
 * a double free is found there, and a live block whose data happens to carry the tag costs
 * only the search. Remote frees and reallocs, which cannot walk another thread's list, take
 * the tag with a link that decodes into the segment as proof. */
#ifndef HAK_HARDEN_H
#define HAK_HARDEN_H

#include "hak_internal.h"

#include <emmintrin.h>
#include <string.h>

enum {
  HAK_MISUSE_DOUBLE_FREE,     /* the block is already free */
  HAK_MISUSE_INVALID_FREE,    /* not the start of a block hakmem handed out */
  HAK_MISUSE_NOT_OWNED,       /* neither hakmem's nor the system allocator's (stack, globals, unmapped) */
  HAK_MISUSE_CORRUPT_LIST,    /* a free block was written to after it was freed */
  HAK_MISUSE_OVERFLOW,        /* written past the requested size */
  HAK_MISUSE_FREED_REALLOC,   /* realloc of a block that is free */
  HAK_MISUSE_UNDERFLOW,       /* written before the block's start */
  HAK_MISUSE_WRITTEN_FREE,    /* a freed block's fill was overwritten */
  HAK_MISUSE_BOUNDARY,        /* the end of the block before was overwritten */
};

/* Prints one line, "hakmem: <kind> of <address> (<size>-byte block)", and aborts. block_size
 * 0 leaves the parenthesis out. */
hak_internal __attribute__((noreturn, cold, noinline)) void _hak_misuse(int kind, const void* p, size_t block_size);

#if HAK_HARDEN

#define HAK_HD_TAG ((uintptr_t)0xf7c1)   /* top bytes not met in text, pointers, or common numbers */

_Static_assert(offsetof(hak_page_t, start_lim) + sizeof(uint64_t) <= 64, "hardened fast-path fields share the first line");

hak_inline uintptr_t _hak_hd_key(const hak_page_t* page) { return page->key; }

/* The link of a block (no check). */
hak_inline hak_block_t* _hak_hd_next(const hak_page_t* page, const void* b) {
  return (hak_block_t*)(*(const uintptr_t*)b ^ _hak_hd_key(page));
}

/* Writes a free block's link. */
hak_inline void _hak_hd_link(uintptr_t key, void* b, const void* next) {
  *(uintptr_t*)b = (uintptr_t)next ^ key;
}

/* Whether a decoded link may be followed: it lies in the page's segment, mapped as a whole. */
hak_inline bool _hak_hd_near(const hak_page_t* page, const void* b) {
#if HAK_SUPERSLAB
  return (((uintptr_t)b ^ (uintptr_t)page) >> HAK_SEGMENT_SHIFT) == 0;
#else
  return (uintptr_t)b - (uintptr_t)page->segment < HAK_SEGMENT_SIZE;
#endif
}

/* A popped block: its link goes, so the live block does not carry the tag. */
hak_inline void _hak_hd_claim(void* b) { *(uintptr_t*)b = 0; }

/* A popped link that does not lie near its page: the list is corrupted. The check is for
 * lists that end in NULL (the single list of DUAL_LISTS=0). */
hak_internal __attribute__((noreturn, cold, noinline)) void _hak_hd_bad_link(const hak_page_t* page, const void* b);
hak_inline void _hak_hd_check_link(const hak_page_t* page, const void* b, const void* link) {
  if (hak_unlikely(link != NULL && !_hak_hd_near(page, link))) _hak_hd_bad_link(page, b);
}

hak_inline bool _hak_hd_tagged(const void* p) { return (*(const uintptr_t*)p >> 48) == HAK_HD_TAG; }

/* Whether p starts one of the page's carved blocks, without a division. With
 * m = floor((2^64 - 1) / block_size) + 2 and e = m * block_size - 2^64 (at most 2 * block_size),
 * (p - area) * m mod 2^64 is i * e for block i, and at least 2^47 for any other address within
 * 4 MiB of the area, below it included (test_misuse checks every class and offset): so
 * start_lim = capacity * e. */
hak_inline uint64_t _hak_hd_start_mul(uint32_t block_size) { return UINT64_MAX / block_size + 2; }

hak_inline bool _hak_hd_block_start(const hak_page_t* page, const void* p) {
  return ((uintptr_t)p - (uintptr_t)page->area) * page->start_mul < page->start_lim;
}

/* A free the block-start test refused. */
hak_internal __attribute__((noreturn, cold, noinline)) void _hak_hd_bad_free(const hak_page_t* page, const void* p);

/* A page carved from its segment: a fresh secret, no block yet. */
hak_internal void _hak_hd_page_init(hak_page_t* page);
/* The page's capacity grew. */
hak_inline void _hak_hd_page_extended(hak_page_t* page) {
  page->start_lim = (uint64_t)page->capacity * (page->start_mul * page->block_size);
}
/* A pointer hakmem does not own, about to go to the system allocator. */
hak_internal void _hak_hd_check_foreign(const void* p);
/* A free that reached the slow path: a carved, not yet free block of an in-use page, or the
 * start of a live large block (which it marks free). */
hak_internal void _hak_hd_check_slow_free(const hak_page_t* page, const void* p);
/* The same for a block that must be live (realloc): `kind` is reported when it is free. */
hak_internal void _hak_hd_check_live(const hak_page_t* page, const void* p, int kind);

/* Large blocks: the requested size, a live mark, canaries before the block and after the
 * requested size, a guard page after the usable part where the mapping has room. The
 * usable size is the requested one, so writes up to malloc_usable_size() stay legal. */
hak_internal void _hak_hd_large_alloc(hak_segment_t* seg, size_t size);
hak_internal void _hak_hd_large_free(hak_segment_t* seg, const void* p);
hak_internal void _hak_hd_large_check(hak_segment_t* seg, const void* p, int kind);
hak_internal size_t _hak_hd_large_usable(const hak_segment_t* seg);

/* Small and mid blocks (hak_config.h, HAK_HD_ROOM): the class a request takes is chosen by
 * its size plus the room; 0 and anything that does not fit a mid block go to the slow path
 * (SIZE_MAX), which hands 0 a PROT_NONE address and the rest a large block. */
hak_inline size_t _hak_request_room(size_t size) {
  return size - 1 < (size_t)HAK_MID_MAX - HAK_HD_ROOM ? size + HAK_HD_ROOM : SIZE_MAX;
}

hak_inline uint32_t _hak_hd_load32(const uint8_t* at) { uint32_t v; memcpy(&v, at, 4); return v; }
hak_inline uint64_t _hak_hd_load64(const uint8_t* at) { uint64_t v; memcpy(&v, at, 8); return v; }
hak_inline void _hak_hd_store64(uint8_t* at, uint64_t v) { memcpy(at, &v, 8); }

/* A page's fill word is its secret (_hak_hd_page_init gives every byte of it its top bit,
 * the tag's included, so text and small numbers, a stray write or old contents, never match
 * it): a free block holds it at 8..HAK_HD_FILL_HEAD and in its last word. Its top half,
 * where a free block's last 4 bytes lie, is also the key of a live block's encoded slack
 * there: a free block's slack decodes to 0. The fast paths load it with the page's line,
 * with nothing to compute. */
_Static_assert((HAK_HD_TAG & 0x8080) == 0x8080, "the tag's bytes have their top bit, as a fill word's do");
hak_inline uint64_t _hak_hd_fill_word(const hak_page_t* page) { return _hak_hd_key(page); }
hak_inline uint32_t _hak_hd_slack_key(uint64_t fill) { return (uint32_t)(fill >> 32); }

/* The canary word: every byte differs from the fill's, and keeps its top bit (so a byte of
 * text never matches it); written where _hak_hd_canary_at says, its byte at that offset + i
 * lies at the same place for the same request size, so a write and a compare agree
 * without a repeated byte. */
hak_inline uint64_t _hak_hd_canary_word(uint64_t fill) { return fill ^ 0x7f7f7f7f7f7f7f7fULL; }

/* A live block's slack (block size minus request) is HAK_HD_ROOM .. block size. */
hak_inline bool _hak_hd_slack_valid(uint32_t slack, uint32_t block_size) {
  return slack - HAK_HD_ROOM <= block_size - HAK_HD_ROOM;
}

/* The canary's first word lies at the request's end; when the slack holds fewer than 8
 * canary bytes, the word ending at the encoded slack is read and the request's bytes in it
 * are shifted out. Canary bytes past the first 8 are neither written nor checked. */
hak_inline uint32_t _hak_hd_canary_at(uint32_t size, uint32_t block_size) {
  return size < block_size - 12 ? size : block_size - 12;
}

/* A freed block's fill: the last word first (a thread checking this block as a neighbour
 * sees its slack turn into a free block's before anything else changes), then the words
 * from 8 to HAK_HD_FILL_HEAD, or to the last word in a smaller block. Blocks are 16-byte
 * multiples, 16-byte aligned. The middle of a larger block is neither filled nor checked. */
_Static_assert(HAK_HD_FILL_HEAD == 64, "the fill's head is written and compared in three 16-byte steps");

hak_inline void _hak_hd_fill(const hak_page_t* page, uint8_t* b, uint64_t fill) {
  uint32_t bs = page->block_size;
  _hak_hd_store64(b + bs - 8, fill);
  atomic_signal_fence(memory_order_seq_cst);
  _hak_hd_store64(b + 8, fill);
  if (hak_likely(bs >= HAK_HD_FILL_HEAD)) {
    __m128i v = _mm_set1_epi64x((long long)fill);
    _mm_store_si128((__m128i*)(void*)(b + 16), v);
    _mm_store_si128((__m128i*)(void*)(b + 32), v);
    _mm_store_si128((__m128i*)(void*)(b + 48), v);
  } else {
    for (uint32_t i = 16; i < bs - 8; i += 8) _hak_hd_store64(b + i, fill);
  }
}

hak_inline bool _hak_hd_fill_intact(const hak_page_t* page, const uint8_t* b, uint64_t fill) {
  uint32_t bs = page->block_size;
  uint64_t diff = (_hak_hd_load64(b + bs - 8) ^ fill) | (_hak_hd_load64(b + 8) ^ fill);
  if (hak_likely(bs >= HAK_HD_FILL_HEAD)) {
    __m128i v = _mm_set1_epi64x((long long)fill);
    __m128i same = _mm_and_si128(_mm_and_si128(_mm_cmpeq_epi8(_mm_load_si128((const __m128i*)(const void*)(b + 16)), v),
                                               _mm_cmpeq_epi8(_mm_load_si128((const __m128i*)(const void*)(b + 32)), v)),
                                 _mm_cmpeq_epi8(_mm_load_si128((const __m128i*)(const void*)(b + 48)), v));
    return diff == 0 && _mm_movemask_epi8(same) == 0xffff;
  }
  for (uint32_t i = 16; i < bs - 8; i += 8) diff |= _hak_hd_load64(b + i) ^ fill;
  return diff == 0;
}

/* A freed block's fill was overwritten (malloc was about to hand it out). */
hak_internal __attribute__((noreturn, cold, noinline)) void _hak_hd_bad_fill(const hak_page_t* page, const void* b);

/* A block popped for a request of `size`: its fill checked, its canary's first word and its
 * encoded slack written (the canary may overwrite request bytes: none are the program's yet). */
hak_inline void _hak_block_handed(hak_page_t* page, void* b, size_t size) {
  uint64_t fill = _hak_hd_fill_word(page);
  uint32_t bs = page->block_size;
  if (hak_unlikely(!_hak_hd_fill_intact(page, (const uint8_t*)b, fill))) _hak_hd_bad_fill(page, b);
  _hak_hd_store64((uint8_t*)b + _hak_hd_canary_at((uint32_t)size, bs), _hak_hd_canary_word(fill));
  atomic_signal_fence(memory_order_seq_cst);   /* the canary is whole before the slack says live */
  uint32_t code = (bs - (uint32_t)size) ^ _hak_hd_slack_key(fill);
  memcpy((uint8_t*)b + bs - 4, &code, 4);
}

/* Whether a free of p, a carved block of its page, may take the fast path: it does not carry
 * the free tag (else it may be free already: the slow path looks), its encoded slack is a
 * live block's, its canary's first word is whole, and the last 4 bytes before it (the
 * block before's encoded slack, where an underflow lands) decode to a live or free block's
 * (the first block of a page reads whatever lies before it, and a mismatch there only
 * sends it to the slow path, which knows). */
hak_inline bool _hak_hd_free_ok(const hak_page_t* page, const void* p) {
  const uint8_t* b = (const uint8_t*)p;
  uint64_t fill = _hak_hd_fill_word(page);
  uint32_t bs = page->block_size, key = _hak_hd_slack_key(fill);
  uint32_t slack = _hak_hd_load32(b + bs - 4) ^ key;
  uint32_t before = _hak_hd_load32(b - 4) ^ key;
  if (hak_unlikely(_hak_hd_tagged(p) || !_hak_hd_slack_valid(slack, bs) ||
                   (before != 0 && !_hak_hd_slack_valid(before, bs)))) return false;
  uint32_t size = bs - slack, at = _hak_hd_canary_at(size, bs);
  return ((_hak_hd_load64(b + at) ^ _hak_hd_canary_word(fill)) >> ((size - at) * 8)) == 0;
}

/* Harden's delayed reuse: a ring per class in the freeing thread's heap (HAK_HD_RING slots,
 * of which a class uses at most quarantine_cap[cls]), which is also where that thread's
 * mallocs of the class look first, as the default build's tiny and mid caches are: a freed
 * block, any thread's, is handed out again by the thread that freed it, without an atomic
 * operation on its page, once quarantine_keep newer blocks of its class wait behind it. A
 * full ring hands its oldest blocks, down to quarantine_low, back to their pages, or a mid
 * class's to the shared pool (hak_config.h). The empty heap's keep is 0: its thread takes
 * the slow path. */
hak_internal void _hak_hd_quarantine_drain(hak_heap_t* heap, int cls, unsigned keep);

hak_inline void _hak_hd_quarantine_push(hak_heap_t* heap, const hak_page_t* page, void* p) {
  int cls = page->class_idx;
  unsigned at = heap->quarantine_at[cls] & (HAK_HD_RING - 1), n = heap->quarantine_count[cls] + 1u;
  heap->quarantine[cls][at].block = p;
  heap->quarantine[cls][at].page = (hak_page_t*)page;
  heap->quarantine_at[cls] = (uint8_t)(at + 1);
  heap->quarantine_count[cls] = (uint8_t)n;
  if (hak_unlikely(n > heap->quarantine_cap[cls])) _hak_hd_quarantine_drain(heap, cls, heap->quarantine_low[cls]);
}

/* The ring's oldest block for a request of `size`, once it has waited long enough; NULL
 * otherwise. Its link must still mark it (else the program wrote there while it waited);
 * its fill is checked and its canary written as for a page's block. */
hak_inline void* _hak_hd_quarantine_pop(hak_heap_t* heap, int cls, size_t size) {
  unsigned n = heap->quarantine_count[cls];
  if (hak_likely(n <= heap->quarantine_keep)) return NULL;
  unsigned at = (heap->quarantine_at[cls] - n) & (HAK_HD_RING - 1);
  void* b = heap->quarantine[cls][at].block;
  hak_page_t* page = heap->quarantine[cls][at].page;
  heap->quarantine_count[cls] = (uint8_t)(n - 1);
  if (hak_unlikely(_hak_hd_next(page, b) != (hak_block_t*)page)) _hak_hd_bad_fill(page, b);
  _hak_hd_claim(b);
  _hak_block_handed(page, b, size);
  if (b == NULL) __builtin_unreachable();   /* a ring holds blocks: the caller's test folds */
  return b;
}

/* A freed block that passed the checks: filled, its link marking it free (it links to its
 * page, which no list does but a quarantined block's), into the quarantine. */
hak_inline void _hak_hd_quarantine_block(hak_heap_t* heap, const hak_page_t* page, void* p) {
  _hak_hd_fill(page, (uint8_t*)p, _hak_hd_fill_word(page));
  _hak_hd_link(_hak_hd_key(page), p, page);
  _hak_hd_quarantine_push(heap, page, p);
}

/* A block realloc keeps for a new size (which fits with the room). */
hak_internal void _hak_hd_resized(hak_page_t* page, void* b, size_t size);
hak_inline void _hak_block_resized(hak_page_t* page, void* b, size_t size) { _hak_hd_resized(page, b, size); }
/* The size a live small block was requested with (its usable size). */
hak_internal size_t _hak_hd_small_usable(const hak_page_t* page, const void* p);
hak_inline size_t _hak_block_usable(const hak_page_t* page, const void* p) { return _hak_hd_small_usable(page, p); }
/* Fresh blocks carved onto a page get the fill of a free block. */
hak_internal void _hak_hd_fill_fresh(hak_page_t* page, uint8_t* start, uint32_t n);
/* A free of a small block that reached the slow path: its canary and its neighbour's end
 * checked, filled, put in the calling thread's quarantine. Returns p when it goes straight
 * back to its page (no quarantine), else NULL. */
hak_internal void* _hak_hd_small_free(hak_heap_t* heap, hak_page_t* page, void* p);
/* A live small block's canary and encoded slack (a broken one aborts). */
hak_internal void _hak_hd_check_request(const hak_page_t* page, const void* p);
/* The shared pool (hak_harden_blocks.c): a malloc whose ring and current page are empty
 * takes blocks other rings gave away (NULL: none); memory given back empties it onto the
 * pages; fork holds its locks (hak_internal.h). */
hak_internal void* _hak_hd_pool_malloc(hak_heap_t* heap, int cls, size_t size);
/* A heap's quarantine: its ring size from the setting; at thread exit, emptied. */
hak_internal void _hak_hd_quarantine_init(hak_heap_t* heap);
hak_internal void _hak_hd_quarantine_flush(hak_heap_t* heap);
/* malloc(0): an address no access may touch; whether p is one. */
hak_internal void* _hak_hd_zero_block(void);
hak_internal bool _hak_hd_is_zero_block(const void* p);

#define HAK_HD_LINK(pg, b, to)  _hak_hd_link(_hak_hd_key(pg), (b), (to))
#define HAK_HD_NEXT(pg, b)      _hak_hd_next((pg), (b))
#else
hak_inline size_t _hak_request_room(size_t size) { return size; }
hak_inline void _hak_block_handed(hak_page_t* page, void* b, size_t size) { (void)page; (void)b; (void)size; }
hak_inline void _hak_block_resized(hak_page_t* page, void* b, size_t size) { (void)page; (void)b; (void)size; }
hak_inline size_t _hak_block_usable(const hak_page_t* page, const void* p) { (void)p; return page->block_size; }
/* the plain list: the link in the block's first word, neither checked nor cleared */
hak_inline void _hak_hd_claim(void* b) { (void)b; }
hak_inline void _hak_hd_check_link(const hak_page_t* page, const void* b, const void* link) { (void)page; (void)b; (void)link; }
#define HAK_HD_LINK(pg, b, to)  (((hak_block_t*)(b))->next = (hak_block_t*)(to))
#define HAK_HD_NEXT(pg, b)      (((hak_block_t*)(b))->next)
#endif

/* The end of a page's allocation list (dual lists): the page itself with harden (see above),
 * else NULL. Remote lists, and the one list without dual lists, end in NULL. */
#if HAK_HARDEN && HAK_DUAL_LISTS
#define HAK_LIST_END(pg)        ((hak_block_t*)(pg))
/* the static empty page: an empty list, and a key that takes its head far away */
#define HAK_EMPTY_PAGE_INIT     { .free = (hak_block_t*)&_hak_page_empty, .key = HAK_HD_TAG << 48 }
#else
#define HAK_LIST_END(pg)        ((hak_block_t*)NULL)
#define HAK_EMPTY_PAGE_INIT     { 0 }
#endif

#endif
