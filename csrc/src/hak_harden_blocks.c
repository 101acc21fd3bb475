/* Harden's small and mid blocks (HAK_HARDEN, hak_config.h): the canary after the request and
 * the encoded slack at the block's end, the fill of freed blocks checked when they are handed
 * out again, the per-class quarantine that delays their reuse, and the PROT_NONE addresses of
 * zero-size requests. */
#include "hak_harden.h"

#if HAK_HARDEN

#include <emmintrin.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

/* ---------------------------------------------------------------- canaries, fill, quarantine */

/* A page's fill word, from its secret: a free block holds it from its second word on (head
 * and tail, hak_config.h); a live block's canary bytes are its complement's. The top half
 * of the fill word, where a free block's last 4 bytes lie, is also the key of a live block's
 * encoded slack there: a free block's slack decodes to 0. */
static inline uint64_t fill_word(const hak_page_t* page) { return page->key * 0x9e3779b97f4a7c15ULL; }
static inline uint32_t slack_key(const hak_page_t* page) { return (uint32_t)(fill_word(page) >> 32); }

/* The canary: one byte of the page's own, repeated, so that a range of any alignment is
 * written and compared a word at a time. */
static inline uint64_t canary_word(uint64_t fill) { return ((fill >> 8) & 0xff) * 0x0101010101010101ULL ^ 0xa5a5a5a5a5a5a5a5ULL; }

static inline uint32_t load32(const uint8_t* at) { uint32_t v; memcpy(&v, at, 4); return v; }

/* The slack of a block, decoded: 0 for a free one, HAK_HD_ROOM .. block size for a live one,
 * anything else for a block whose end was overwritten. */
static inline uint32_t block_slack(const hak_page_t* page, const uint8_t* b) {
  return load32(b + page->block_size - 4) ^ slack_key(page);
}

static inline bool slack_valid(const hak_page_t* page, uint32_t slack) {
  return slack >= HAK_HD_ROOM && slack <= page->block_size;
}

static inline uint32_t small_canary_len(uint32_t slack) {
  uint32_t n = slack - 4;
  return n < HAK_HD_CANARY_MAX ? n : HAK_HD_CANARY_MAX;
}

/* [at, at + n): whole words, the last one overlapping the one before when n is not a
 * multiple of 8; bytes when n < 8. */
static bool canary_intact(const hak_page_t* page, const uint8_t* b, uint32_t slack) {
  uint64_t cw = canary_word(fill_word(page)), w, diff = 0;
  const uint8_t* at = b + page->block_size - slack;
  uint32_t n = small_canary_len(slack);
  if (n < 8) {
    for (uint32_t i = 0; i < n; i++) diff |= at[i] ^ (cw & 0xff);
    return diff == 0;
  }
  for (uint32_t i = 0; i + 8 < n; i += 8) { memcpy(&w, at + i, 8); diff |= w ^ cw; }
  memcpy(&w, at + n - 8, 8);
  return (diff | (w ^ cw)) == 0;
}

static void canary_write(const hak_page_t* page, uint8_t* at, uint32_t slack) {
  uint64_t cw = canary_word(fill_word(page));
  uint32_t n = small_canary_len(slack);
  if (n < 8) {
    for (uint32_t i = 0; i < n; i++) at[i] = (uint8_t)cw;
    return;
  }
  for (uint32_t i = 0; i + 8 < n; i += 8) memcpy(at + i, &cw, 8);
  memcpy(at + n - 8, &cw, 8);
}

/* The fill's ranges: the word at 8, then 16-byte chunks from 16 to `head`, and from `tail`
 * to the block's end (blocks are 16-byte multiples, 16-byte aligned). */
static inline void fill_ranges(const hak_page_t* page, uint32_t* head, uint32_t* tail) {
  uint32_t bs = page->block_size;
  *head = bs < HAK_HD_FILL_HEAD ? bs : HAK_HD_FILL_HEAD;
  *tail = bs > HAK_HD_FILL_TAIL && bs - HAK_HD_FILL_TAIL > *head ? bs - HAK_HD_FILL_TAIL : *head;
}

/* The last word goes first: a thread checking this block as a neighbour (below) sees its
 * slack turn to a free block's before its canary turns into fill. */
static void fill_block(const hak_page_t* page, uint8_t* b) {
  uint64_t fill = fill_word(page);
  __m128i v = _mm_set1_epi64x((long long)fill);
  uint32_t head, tail;
  fill_ranges(page, &head, &tail);
  memcpy(b + page->block_size - 8, &fill, 8);
  atomic_signal_fence(memory_order_seq_cst);
  memcpy(b + 8, &fill, 8);
  for (uint32_t i = 16; i < head; i += 16) _mm_store_si128((__m128i*)(void*)(b + i), v);
  for (uint32_t i = tail; i < page->block_size; i += 16) _mm_store_si128((__m128i*)(void*)(b + i), v);
}

static bool fill_intact(const hak_page_t* page, const uint8_t* b) {
  uint64_t fill = fill_word(page), w;
  __m128i v = _mm_set1_epi64x((long long)fill), diff = _mm_setzero_si128();
  uint32_t head, tail;
  fill_ranges(page, &head, &tail);
  memcpy(&w, b + 8, 8);
  for (uint32_t i = 16; i < head; i += 16) diff = _mm_or_si128(diff, _mm_xor_si128(_mm_load_si128((const __m128i*)(const void*)(b + i)), v));
  for (uint32_t i = tail; i < page->block_size; i += 16) diff = _mm_or_si128(diff, _mm_xor_si128(_mm_load_si128((const __m128i*)(const void*)(b + i)), v));
  return ((w ^ fill) | (uint64_t)_mm_cvtsi128_si64(diff) | (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(diff, diff))) == 0;
}

void _hak_hd_fill_fresh(hak_page_t* page, uint8_t* start, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) fill_block(page, start + (size_t)i * page->block_size);
}

void _hak_hd_resized(hak_page_t* page, void* b, size_t size) {
  uint32_t slack = page->block_size - (uint32_t)size;
  canary_write(page, (uint8_t*)b + size, slack);
  atomic_signal_fence(memory_order_seq_cst);   /* the canary is whole before the slack says live */
  uint32_t code = slack ^ slack_key(page);
  memcpy((uint8_t*)b + page->block_size - 4, &code, 4);
}

void _hak_hd_handed(hak_page_t* page, void* b, size_t size) {
  if (hak_unlikely(!fill_intact(page, b))) _hak_misuse(HAK_MISUSE_WRITTEN_FREE, b, page->block_size);
  _hak_hd_resized(page, b, size);
}

size_t _hak_hd_small_usable(const hak_page_t* page, const void* p) {
  uint32_t slack = block_slack(page, p);
  return slack_valid(page, slack) ? page->block_size - slack : 0;
}

void _hak_hd_check_request(const hak_page_t* page, const void* p) {
  uint32_t slack = block_slack(page, p);
  if (!slack_valid(page, slack) || !canary_intact(page, p, slack)) _hak_misuse(HAK_MISUSE_OVERFLOW, p, page->block_size);
}

/* The block before p on its page ends where a write before p lands (its last 4 bytes, the
 * encoded slack, take any run that ends at p): they must decode to a free block's or a live
 * one's. Its canary is its own free's to check. Another thread may be freeing or handing out
 * that block meanwhile, and writes its last word in one store. */
static void check_neighbour(const hak_page_t* page, const uint8_t* p) {
  if (p == page->area) return;
  uint32_t slack = block_slack(page, p - page->block_size);
  if (hak_unlikely(slack != 0 && !slack_valid(page, slack))) _hak_misuse(HAK_MISUSE_BOUNDARY, p, page->block_size);
}

void* _hak_hd_small_free(hak_heap_t* heap, hak_page_t* page, void* p) {
  _hak_hd_check_request(page, p);
  check_neighbour(page, p);
  fill_block(page, p);
  size_t n = _hak_options.quarantine;
  if (n == 0 || heap == &_hak_heap_empty) return p;
  HAK_HD_LINK(page, p, page);          /* marks it free for a second free's search */
  int cls = page->class_idx;
  unsigned at = heap->quarantine_at[cls];
  void* out = heap->quarantine[cls][at];
  heap->quarantine[cls][at] = p;
  heap->quarantine_at[cls] = (uint8_t)(at + 1 < n ? at + 1 : 0);
  if (out != NULL) {
    /* its link still marks it, unless the program wrote there while it waited */
    hak_page_t* op = _hak_page_of(out);
    if (HAK_HD_NEXT(op, out) != (hak_block_t*)op) _hak_misuse(HAK_MISUSE_WRITTEN_FREE, out, op->block_size);
  }
  return out;
}

void _hak_hd_quarantine_flush(hak_heap_t* heap) {
  for (int cls = 0; cls < HAK_CLASS_COUNT; cls++) {
    for (int i = 0; i < HAK_HD_QUARANTINE_MAX; i++) {
      void* b = heap->quarantine[cls][i];
      if (b == NULL) continue;
      heap->quarantine[cls][i] = NULL;
      _hak_free_to_page(heap, _hak_page_of(b), b);
    }
    heap->quarantine_at[cls] = 0;
  }
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
