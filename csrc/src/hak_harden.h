/* Heap-misuse detection (HAK_HARDEN, hak_config.h): the free-list encoding and the checks the
 * push, pop and free points call. With HAK_HARDEN=0 only the reporting function exists, for
 * the inconsistencies slow paths meet in every build.
 *
 * A free block of a hardened page holds its link twice: w1 = next, and w0 = next ^ key, the
 * page's secret. Their xor is the key, which a stray write cannot produce: a pop follows the
 * link only when the pair agrees, and a free that finds the pair in place is freeing a block
 * that is already free. A pop breaks the pair (w0 = w1), so a live block that its program has
 * not written to yet does not look free. */
#ifndef HAK_HARDEN_H
#define HAK_HARDEN_H

#include "hak_internal.h"

enum {
  HAK_MISUSE_DOUBLE_FREE,     /* the block is already free */
  HAK_MISUSE_INVALID_FREE,    /* not the start of a block hakmem handed out */
  HAK_MISUSE_NOT_OWNED,       /* neither hakmem's nor the system allocator's (stack, globals, unmapped) */
  HAK_MISUSE_CORRUPT_LIST,    /* a free block was written to after it was freed */
  HAK_MISUSE_OVERFLOW,        /* written past the requested size */
  HAK_MISUSE_FREED_REALLOC,   /* realloc of a block that is free */
  HAK_MISUSE_UNDERFLOW,       /* written before the block's start */
};

/* Prints one line, "hakmem: <kind> of <address> (<size>-byte block)", and aborts. block_size
 * 0 leaves the parenthesis out. */
hak_internal __attribute__((noreturn, cold, noinline)) void _hak_misuse(int kind, const void* p, size_t block_size);

#if HAK_HARDEN

typedef struct hak_hd_block_s { uintptr_t w0, w1; } hak_hd_block_t;

hak_inline uintptr_t _hak_hd_key(const hak_page_t* page) { return page->key; }

/* Writes a free block's link (next may be NULL). Every block is at least 16 bytes. */
hak_inline void _hak_hd_link(uintptr_t key, void* b, const void* next) {
  hak_hd_block_t* h = (hak_hd_block_t*)b;
  h->w0 = (uintptr_t)next ^ key;
  h->w1 = (uintptr_t)next;
}

hak_inline bool _hak_hd_looks_free(uintptr_t key, const void* b) {
  const hak_hd_block_t* h = (const hak_hd_block_t*)b;
  return (h->w0 ^ h->w1) == key;
}

/* The link of a free block, checked; the block itself stays free. */
hak_inline hak_block_t* _hak_hd_next(const hak_page_t* page, const void* b) {
  if (hak_unlikely(!_hak_hd_looks_free(_hak_hd_key(page), b))) _hak_misuse(HAK_MISUSE_CORRUPT_LIST, b, page->block_size);
  return (hak_block_t*)((const hak_hd_block_t*)b)->w1;
}

/* Breaks a popped block's pair, so the live block does not look free. */
hak_inline void _hak_hd_claim(void* b) {
  hak_hd_block_t* h = (hak_hd_block_t*)b;
  h->w0 = h->w1;
}

/* The link of a block being handed out, which is claimed. */
hak_inline hak_block_t* _hak_hd_take(const hak_page_t* page, void* b) {
  hak_block_t* next = _hak_hd_next(page, b);
  _hak_hd_claim(b);
  return next;
}

hak_internal __attribute__((noreturn, cold, noinline)) void _hak_hd_bad_free(const hak_page_t* page, const void* p);

/* A free into a small page: p must be the start of a carved block that is not free. */
hak_inline void _hak_hd_check_free(const hak_page_t* page, const void* p) {
  /* 32 bits hold any offset in a page; below its area (a segment header) it wraps to one
   * past the carved blocks. One division gives the index and the remainder. */
  uint32_t off = (uint32_t)((uintptr_t)p - (uintptr_t)page->area);
  if (hak_unlikely(off % page->block_size != 0 || off / page->block_size >= page->capacity ||
                   _hak_hd_looks_free(_hak_hd_key(page), p)))
    _hak_hd_bad_free(page, p);
}

/* A fresh page's secret (slow path: the first carve of a page). */
hak_internal void _hak_hd_page_init(hak_page_t* page);
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

#define HAK_HD_LINK(pg, b, to)  _hak_hd_link(_hak_hd_key(pg), (b), (to))
#define HAK_HD_NEXT(pg, b)      _hak_hd_next((pg), (b))
#define HAK_HD_TAKE(pg, b)      _hak_hd_take((pg), (b))
#else
/* the plain list: the link in the block's first word */
#define HAK_HD_LINK(pg, b, to)  (((hak_block_t*)(b))->next = (hak_block_t*)(to))
#define HAK_HD_NEXT(pg, b)      (((hak_block_t*)(b))->next)
#define HAK_HD_TAKE(pg, b)      (((hak_block_t*)(b))->next)
#endif

#endif
