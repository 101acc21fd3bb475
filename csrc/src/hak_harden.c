/* Heap-misuse detection (HAK_HARDEN): reporting, page secrets, and the checks that run off the
 * fast path (foreign pointers, frees that reached the slow path, large blocks). Small blocks'
 * canaries, fill and quarantine, and zero-size blocks: hak_harden_blocks.c. */
#include "hak_harden.h"

#include <stdlib.h>
#include <unistd.h>

static const char* const _misuse_names[] = {
  [HAK_MISUSE_DOUBLE_FREE] = "double free",
  [HAK_MISUSE_INVALID_FREE] = "invalid free (not the start of a block)",
  [HAK_MISUSE_NOT_OWNED] = "invalid free (memory no allocator handed out)",
  [HAK_MISUSE_CORRUPT_LIST] = "write after free (corrupted free list)",
  [HAK_MISUSE_OVERFLOW] = "heap overflow (written past the requested size)",
  [HAK_MISUSE_FREED_REALLOC] = "realloc of freed block",
  [HAK_MISUSE_UNDERFLOW] = "heap underflow (written before the block)",
  [HAK_MISUSE_WRITTEN_FREE] = "write after free (a freed block was written to)",
  [HAK_MISUSE_BOUNDARY] = "heap overflow or underflow (the end of the block before it was overwritten)",
};

/* Formats without stdio: the heap may be the thing that is broken. */
static size_t put_str(char* out, size_t at, size_t cap, const char* s) {
  while (*s != 0 && at < cap) out[at++] = *s++;
  return at;
}

static size_t put_num(char* out, size_t at, size_t cap, uintptr_t v, unsigned base) {
  char digits[24];
  size_t n = 0;
  do { digits[n++] = "0123456789abcdef"[v % base]; v /= base; } while (v != 0);
  while (n > 0 && at < cap) out[at++] = digits[--n];
  return at;
}

void _hak_misuse(int kind, const void* p, size_t block_size) {
  char line[160];
  size_t at = put_str(line, 0, sizeof(line), "hakmem: ");
  at = put_str(line, at, sizeof(line), _misuse_names[kind]);
  at = put_str(line, at, sizeof(line), " of 0x");
  at = put_num(line, at, sizeof(line), (uintptr_t)p, 16);
  if (block_size != 0) {
    at = put_str(line, at, sizeof(line), " (");
    at = put_num(line, at, sizeof(line), block_size, 10);
    at = put_str(line, at, sizeof(line), "-byte block)");
  }
  at = put_str(line, at, sizeof(line) - 1, "\n");
  ssize_t ignored = write(STDERR_FILENO, line, at);
  (void)ignored;
  abort();
}

#if HAK_HARDEN

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

/* ---------------------------------------------------------------- page secrets */

static _Atomic(uintptr_t) _secret;

static uintptr_t mix(uintptr_t x) {
  x ^= x >> 33; x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

static uintptr_t process_secret(void) {
  uintptr_t s = atomic_load_explicit(&_secret, memory_order_relaxed);
  if (hak_likely(s != 0)) return s;
  if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s = (uintptr_t)ts.tv_nsec ^ ((uintptr_t)ts.tv_sec << 32) ^ (uintptr_t)&ts;
  }
  s |= 1;
  uintptr_t expected = 0;
  if (!atomic_compare_exchange_strong(&_secret, &expected, s)) s = expected;
  return s;
}

void _hak_hd_page_init(hak_page_t* page) {
  /* the page's address and how often it was carved make each page's secret different */
  static _Atomic(uintptr_t) carves;
  uintptr_t n = atomic_fetch_add_explicit(&carves, 1, memory_order_relaxed);
  uintptr_t low = ((uintptr_t)1 << 48) - 1;
  /* every byte's top bit set: the key is also the fill word (hak_harden.h) */
  page->key = (mix(process_secret() ^ (uintptr_t)page ^ (n << 1)) & low) | 0x808080808080ULL | HAK_HD_TAG << 48;
  page->start_mul = _hak_hd_start_mul(page->block_size);
  page->start_lim = 0;
}

/* ---------------------------------------------------------------- small blocks */

/* Carries the tag, and its link is one a free block can hold. */
static bool looks_free(const hak_page_t* page, const void* p) {
  const hak_block_t* next = HAK_HD_NEXT(page, p);
  return _hak_hd_tagged(p) && (next == NULL || _hak_hd_near(page, next));
}

/* Whether p is on the list from b to its end, walked as far as its links look sound. */
static bool listed(const hak_page_t* page, const hak_block_t* b, const hak_block_t* end, const void* p) {
  for (uint32_t n = 0; b != end && n <= page->capacity && _hak_page_holds_block(page, b); n++) {
    if (b == p) return true;
    b = HAK_HD_NEXT(page, b);
  }
  return false;
}

/* Whether a carved block is free. Only the owner can walk the page's lists (it alone pops);
 * another thread takes a free-looking block for free. */
static bool block_free(const hak_page_t* page, const void* p) {
  if (!looks_free(page, p)) return false;
  if ((_hak_page_owner(page) & ~HAK_OWNER_TAGS) != _hak_thread_id()) return true;
  /* a quarantined block links to its page, as the last block of a dual list does */
  if (HAK_HD_NEXT(page, p) == (const hak_block_t*)page) return true;
  hak_page_t* pg = (hak_page_t*)page;
#if HAK_DUAL_LISTS
  return listed(page, pg->free, HAK_LIST_END(page), p) ||
         listed(page, _hak_word_block(atomic_load_explicit(&pg->thread_free, memory_order_acquire)), NULL, p);
#else
  return listed(page, _hak_word_block(atomic_load_explicit(&pg->free, memory_order_acquire)), NULL, p);
#endif
}

/* The block-start test of the fast path (a multiplication, not _hak_page_holds_block's two
 * divisions): every hardened free, remote ones included, comes here. */
static void check_small(const hak_page_t* page, const void* p, int kind) {
  if (!page->in_use || !_hak_hd_block_start(page, p)) _hak_misuse(HAK_MISUSE_INVALID_FREE, p, page->in_use ? page->block_size : 0);
  if (block_free(page, p)) _hak_misuse(kind, p, page->block_size);
}

void _hak_hd_bad_free(const hak_page_t* page, const void* p) {
  check_small(page, p, HAK_MISUSE_DOUBLE_FREE);
  _hak_misuse(HAK_MISUSE_INVALID_FREE, p, page->block_size);   /* not reached */
}

void _hak_hd_bad_link(const hak_page_t* page, const void* b) {
  _hak_misuse(HAK_MISUSE_CORRUPT_LIST, b, page->block_size);
}

void _hak_hd_check_slow_free(const hak_page_t* page, const void* p) {
  if (page->tier == HAK_TIER_LARGE) _hak_hd_large_free(page->segment, p);
  else check_small(page, p, HAK_MISUSE_DOUBLE_FREE);
}

void _hak_hd_check_live(const hak_page_t* page, const void* p, int kind) {
  if (page->tier == HAK_TIER_LARGE) _hak_hd_large_check(page->segment, p, kind);
  else { check_small(page, p, kind); _hak_hd_check_request(page, p); }
}

/* ---------------------------------------------------------------- large blocks */

/* A large page's key holds the requested size with the top bit set while the block is live;
 * 0 once it is freed. The bytes after the requested size, up to a word, and the word before
 * the block (in its header page) hold canaries. */
#define LARGE_LIVE ((uintptr_t)1 << 63)

static uint8_t canary_byte(const hak_segment_t* seg, size_t i) {
  return (uint8_t)(mix(process_secret() ^ (uintptr_t)seg) >> (8 * (i & 7)));
}

static size_t canary_len(const hak_segment_t* seg, size_t size) {
  size_t slack = seg->large_size - size;
  return slack < 8 ? slack : 8;
}

static uintptr_t front_canary(const hak_segment_t* seg) { return mix(process_secret() ^ (uintptr_t)seg ^ 1); }

/* The page after the usable part, when the mapping goes on beyond it, is made inaccessible:
 * a run off the end faults in the program's code, where it happened. The large page's
 * `reserved` (unused by large blocks) holds its offset in OS pages, 0 for none. */
static void large_guard(hak_segment_t* seg) {
  hak_page_t* page = &seg->pages[0];
  uint8_t* end = seg->first_area + seg->large_size;
  uint32_t want = end + HAK_OS_PAGE <= seg->mapped_base + seg->mapped_size ? (uint32_t)((size_t)(end - (uint8_t*)seg) / HAK_OS_PAGE) : 0;
  if (want == page->reserved) return;
  int saved = errno;
  if (page->reserved != 0) mprotect((uint8_t*)seg + (size_t)page->reserved * HAK_OS_PAGE, HAK_OS_PAGE, PROT_READ | PROT_WRITE);
  if (want != 0 && mprotect(end, HAK_OS_PAGE, PROT_NONE) != 0) want = 0;
  page->reserved = want;
  errno = saved;
}

void _hak_hd_large_alloc(hak_segment_t* seg, size_t size) {
  seg->pages[0].key = LARGE_LIVE | size;
  large_guard(seg);
  ((uintptr_t*)seg->first_area)[-1] = front_canary(seg);
  uint8_t* end = seg->first_area + size;
  for (size_t i = 0, n = canary_len(seg, size); i < n; i++) end[i] = canary_byte(seg, i);
}

void _hak_hd_large_check(hak_segment_t* seg, const void* p, int kind) {
  hak_page_t* page = &seg->pages[0];
  if ((const uint8_t*)p != seg->first_area) _hak_misuse(HAK_MISUSE_INVALID_FREE, p, seg->large_size);
  if ((page->key & LARGE_LIVE) == 0) _hak_misuse(kind, p, seg->large_size);
  if (((const uintptr_t*)p)[-1] != front_canary(seg)) _hak_misuse(HAK_MISUSE_UNDERFLOW, p, seg->large_size);
  size_t size = page->key & ~LARGE_LIVE;
  const uint8_t* end = seg->first_area + size;
  for (size_t i = 0, n = canary_len(seg, size); i < n; i++)
    if (end[i] != canary_byte(seg, i)) _hak_misuse(HAK_MISUSE_OVERFLOW, p, seg->large_size);
}

size_t _hak_hd_large_usable(const hak_segment_t* seg) {
  return seg->pages[0].key & ~LARGE_LIVE;
}

void _hak_hd_large_free(hak_segment_t* seg, const void* p) {
  _hak_hd_large_check(seg, p, HAK_MISUSE_DOUBLE_FREE);
  seg->pages[0].key = 0;
}

/* ---------------------------------------------------------------- foreign pointers */

/* The calling thread's stack, found once per thread. */
static __thread uintptr_t _stack_lo, _stack_hi;
static __thread bool _stack_busy;

static bool on_stack(const void* p) {
  if (_stack_hi == 0 && !_stack_busy) {
    _stack_busy = true;   /* pthread_getattr_np may allocate, and so free */
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void* addr;
      size_t size;
      if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
        _stack_lo = (uintptr_t)addr;
        _stack_hi = (uintptr_t)addr + size;
      }
      pthread_attr_destroy(&attr);
    }
    _stack_busy = false;
  }
  /* bounds not known yet (a free inside pthread_getattr_np): no guess, since the memory
   * right above a thread's stack may well be a glibc heap */
  return _stack_hi != 0 && (uintptr_t)p >= _stack_lo && (uintptr_t)p < _stack_hi;
}

/* glibc's chunk header sits in the 16 bytes before the pointer: that page must be mapped. */
static bool header_mapped(const void* p) {
  uintptr_t page = ((uintptr_t)p - 16) & ~(uintptr_t)(HAK_OS_PAGE - 1);
  unsigned char vec;
  return mincore((void*)page, HAK_OS_PAGE, &vec) == 0 || errno != ENOMEM;
}

void _hak_hd_check_foreign(const void* p) {
  Dl_info info;
  if (((uintptr_t)p & 15) != 0 || (uintptr_t)p < 4096 || !header_mapped(p) || on_stack(p) ||
      dladdr(p, &info) != 0)
    _hak_misuse(HAK_MISUSE_NOT_OWNED, p, 0);
}

#endif
