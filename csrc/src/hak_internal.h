/* Internal types and helpers shared by the allocator's translation units. */
#ifndef HAK_INTERNAL_H
#define HAK_INTERNAL_H

#include "hak_config.h"
#include "../include/hakmem.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define hak_likely(x)    __builtin_expect(!!(x), 1)
#define hak_unlikely(x)  __builtin_expect(!!(x), 0)
#define hak_noinline     __attribute__((noinline))
#define hak_inline       static inline __attribute__((always_inline))
#define hak_cold         __attribute__((cold, noinline))
#define hak_internal     __attribute__((visibility("hidden")))

#if HAK_DEBUG
#include <stdio.h>
#include <stdlib.h>
#define hak_assert(c) do { if (!(c)) { fprintf(stderr, "hakmem: assertion failed: %s (%s:%d)\n", #c, __FILE__, __LINE__); abort(); } } while (0)
#else
#define hak_assert(c) ((void)0)
#endif

#define HAK_SEGMENT_SIZE  ((size_t)1 << HAK_SEGMENT_SHIFT)
#define HAK_SEGMENT_MASK  (HAK_SEGMENT_SIZE - 1)
#define HAK_SEGMENT_PAGES_MAX ((size_t)1 << (HAK_SEGMENT_SHIFT - HAK_MID_PAGE_SHIFT))   /* superslab */
_Static_assert(HAK_TINY_PAGE_SHIFT >= HAK_MID_PAGE_SHIFT, "mid pages are the smallest: a segment has at most HAK_SEGMENT_PAGES_MAX");
#define HAK_CHUNK_SHIFT   16                       /* registry granularity */
#define HAK_OS_PAGE       4096

/* The allocator hakmem hands requests over to (wrap-tiny off, start-up, huge alignments)
 * and frees foreign pointers to. With the override it is glibc's own allocator; without it
 * (sanitizer builds) it is whatever malloc the process has, which the sanitizer owns. */
#if HAK_OVERRIDE
/* hakmem exports __libc_malloc and friends itself (so that a program calling them never
 * hands a hakmem block to glibc): glibc's are looked up behind it, on first use
 * (hak_options.c). */
typedef struct hak_libc_s {
  void* (*malloc)(size_t);
  void  (*free)(void*);
  void* (*calloc)(size_t, size_t);
  void* (*realloc)(void*, size_t);
  void* (*memalign)(size_t, size_t);
} hak_libc_t;
hak_internal const hak_libc_t* _hak_libc(void);
#define _hak_sys_malloc(n)       (_hak_libc()->malloc(n))
#define _hak_sys_free(p)         (_hak_libc()->free(p))
#define _hak_sys_calloc(n, s)    (_hak_libc()->calloc((n), (s)))
#define _hak_sys_realloc(p, n)   (_hak_libc()->realloc((p), (n)))
#define _hak_sys_memalign(a, n)  (_hak_libc()->memalign((a), (n)))
#else
#include <malloc.h>
#include <stdlib.h>
#define _hak_sys_malloc   malloc
#define _hak_sys_free     free
#define _hak_sys_calloc   calloc
#define _hak_sys_realloc  realloc
#define _hak_sys_memalign memalign
#endif

/* ---------------------------------------------------------------- size classes */

/* Tiny: 8, 16..128 in steps of 16, then four classes per doubling up to 1024.
 * Mid:  four classes per doubling from 1280 up to 65536.
 * Every class size but the first is a multiple of 16, so those blocks are 16-byte aligned;
 * the 8-byte class's blocks are 8-byte aligned and serve requests of at most 8 bytes only
 * (aligned requests of more than 8 take a class by alignment, _hak_aligned_class). Harden
 * leaves the 8-byte class unused (HAK_FIRST_CLASS): its blocks' canary room and fill need 16. */
#define HAK_TINY_CLASSES   21
#define HAK_FIRST_CLASS    (HAK_HARDEN ? 1 : 0)   /* the class of requests of 0..8 bytes */
#define HAK_MID_CLASSES    24
#define HAK_CLASS_COUNT    (HAK_TINY_CLASSES + HAK_MID_CLASSES)
#define HAK_DIRECT_SLOTS   (HAK_TINY_MAX / 8 + 1)  /* (size+7)/8 for size <= 1024 */
#define HAK_MID_DIRECT_SLOTS (HAK_MID_MAX / 256)   /* (size-1)/256 for size <= 65536 */

hak_internal extern const uint32_t _hak_class_size[HAK_CLASS_COUNT];
hak_internal extern const uint8_t  _hak_direct_class[HAK_DIRECT_SLOTS];
hak_internal extern const uint8_t  _hak_mid_direct_class[HAK_MID_DIRECT_SLOTS];

/* Class of a request of at most HAK_MID_MAX bytes by binary search over the class table:
 * the DIRECT_CACHE=0 baseline. */
hak_internal int _hak_class_search(size_t size);

/* Mid class, size 1025..65536: every mid class size is a multiple of 256. */
hak_inline int _hak_mid_class(size_t size) { return _hak_mid_direct_class[(size - 1) >> 8]; }

hak_inline int _hak_class_of(size_t size) {
#if HAK_DIRECT_CACHE
  if (size <= HAK_TINY_MAX) return _hak_direct_class[(size + 7) >> 3];
  return _hak_mid_class(size);
#else
  return _hak_class_search(size);
#endif
}

hak_inline int _hak_class_tier(int cls) { return cls < HAK_TINY_CLASSES ? HAK_TIER_TINY : HAK_TIER_MID; }

/* ---------------------------------------------------------------- blocks and pages */

typedef struct hak_block_s { struct hak_block_s* next; } hak_block_t;

struct hak_heap_s;
struct hak_segment_s;

/* The low two bits of a page's remote word (thread_free with dual lists, the single free
 * list without) say whether a thread that frees into the page must tell the owner. */
#define HAK_NOTIFY_NONE  ((uintptr_t)0)  /* page is in a heap queue: the owner will look */
#define HAK_NOTIFY_WANT  ((uintptr_t)1)  /* page is full: the first remote free notifies */
#define HAK_NOTIFY_BUSY  ((uintptr_t)2)  /* a remote thread is notifying right now */
#define HAK_NOTIFY_NEVER ((uintptr_t)3)  /* no owner (abandoned) or page not in use */
#define HAK_NOTIFY_MASK  ((uintptr_t)3)

hak_inline hak_block_t* _hak_word_block(uintptr_t w) { return (hak_block_t*)(w & ~HAK_NOTIFY_MASK); }

/* The owner's list of a page: its pops and its own frees. */
#if HAK_DUAL_LISTS
#define HAK_PAGE_OWNER_LIST \
  hak_block_t* free;                    /* allocation list, and the owner's frees (owner only) */ \
  uint32_t used;                        /* blocks handed out, remote frees not yet collected included */
#else
#define HAK_PAGE_OWNER_LIST \
  _Atomic(uintptr_t) free;              /* the one list: owner pops, everyone pushes */ \
  _Atomic(uint32_t) used;
#endif

/* A page descriptor is 128 bytes: the first cache line holds what the fast paths read, the
 * second what other threads write. Without harden the owner's list is in the first line,
 * which only its thread touches on every malloc and free. With harden every thread's free
 * and malloc read the page's secret and block-start test in the first line, whatever page
 * the block is from (a block freed by another thread waits in that thread's ring): the
 * owner's list moves to the second line, so that its pops and pushes do not take the line
 * away from them. */
typedef struct hak_page_s {
#if !HAK_HARDEN
  HAK_PAGE_OWNER_LIST
#endif
  uint32_t block_size;
  /* the owning thread's id (its thread pointer), 0 when abandoned, with HAK_OWNER_* tags
   * in its low bits for pages whose owner's frees must take the slow path: a page in its
   * heap's full list, a mid page (whose frees go to the mid cache) */
  _Atomic(uintptr_t) owner;
  uint8_t* area;                        /* first block */
  uint32_t capacity;                    /* blocks carved so far */
  uint32_t reserved;                    /* blocks the page can hold */
  uint8_t class_idx;
  uint8_t tier;                         /* HAK_TIER_*; HAK_TIER_LARGE for a large block */
  uint8_t in_use;                       /* carved from its segment */
  uint8_t in_full;                      /* in the heap's full list */
  uint8_t is_dirty;                     /* written since the last purge */
  uint8_t pad0;
#if !HAK_SUPERSLAB
  uint16_t list_off;                    /* where in a heap its frees' list lies (_hak_page_set_list) */
#endif
#if HAK_HARDEN
  /* what the hardened fast paths read (hak_harden.h): the free-list secret, and the
   * multiplier and limit of the block-start test */
  uintptr_t key;
  uint64_t start_mul;
  uint64_t start_lim;
#endif
  /* ---- second cache line: written by other threads, and slow-path links ---- */
#if HAK_DUAL_LISTS
  _Atomic(uintptr_t) thread_free __attribute__((aligned(64)));
#else
  uintptr_t pad1 __attribute__((aligned(64)));
#endif
  struct hak_page_s* notify_next;       /* link in the owner heap's notified stack */
  struct hak_segment_s* segment;
  struct hak_page_s* next;              /* heap queue links */
  struct hak_page_s* prev;
  _Atomic(struct hak_heap_s*) heap;     /* owner heap (slow paths); NULL when abandoned */
#if HAK_HARDEN
  HAK_PAGE_OWNER_LIST
#endif
} __attribute__((aligned(128))) hak_page_t;

_Static_assert(sizeof(hak_page_t) == 128, "page descriptors are indexed by shifting");

hak_inline _Atomic(uintptr_t)* _hak_page_remote_word(hak_page_t* page) {
#if HAK_DUAL_LISTS
  return &page->thread_free;
#else
  return &page->free;
#endif
}

/* Whether p, any address, is the start of a block carved from the page. Any thread may ask
 * while the owner carves more: the capacity is read atomically (a plain load). */
hak_inline bool _hak_page_holds_block(const hak_page_t* page, const void* p) {
  uintptr_t off = (uintptr_t)p - (uintptr_t)page->area;
  return (uintptr_t)p >= (uintptr_t)page->area && off % page->block_size == 0 &&
         off / page->block_size < __atomic_load_n(&page->capacity, __ATOMIC_RELAXED);
}

hak_inline uint32_t _hak_page_used(hak_page_t* page) {
#if HAK_DUAL_LISTS
  return page->used;
#else
  return atomic_load_explicit(&page->used, memory_order_acquire);
#endif
}

hak_inline uintptr_t _hak_page_owner(const hak_page_t* page) {
  return atomic_load_explicit(&((hak_page_t*)page)->owner, memory_order_relaxed);
}

hak_inline struct hak_heap_s* _hak_page_heap(const hak_page_t* page) {
  return atomic_load_explicit(&((hak_page_t*)page)->heap, memory_order_relaxed);
}

/* A thread's id: its thread pointer (one %fs-relative load), unique among live threads. */
hak_inline uintptr_t _hak_thread_id(void) { return (uintptr_t)__builtin_thread_pointer(); }

/* ---------------------------------------------------------------- segments */

enum { HAK_SEG_TINY = 0, HAK_SEG_MID = 1, HAK_SEG_LARGE = 2 };

typedef struct hak_segment_s {
  uint8_t page_shift;                   /* the segment map holds a copy for the free fast path */
  uint8_t kind;                         /* HAK_SEG_* */
  uint16_t page_count;
  uint16_t pages_used;
  uint16_t free_hint;                   /* lowest page index that may be free */
  _Atomic(struct hak_heap_s*) owner;    /* NULL while abandoned */
  struct hak_segment_s* next;           /* heap's lists, or the abandoned list */
  struct hak_segment_s* prev;
  size_t mapped_size;                   /* bytes mapped from mapped_base */
  uint8_t* mapped_base;
  uint8_t* first_area;                  /* first block of page 0 (after this header) */
  size_t large_size;                    /* large: usable bytes from the user pointer */
  size_t resident;                      /* large: bytes from the header on that may be resident */
  uint8_t in_full_list;                 /* every page carved */
  uint8_t abandoned;                    /* on the global abandoned list (under its lock) */
  uint8_t purged;                       /* cached and given back to the OS */
  uint8_t pad[5];
  uint64_t cached_at;                   /* when it entered the global cache (ms) */
#if HAK_SUPERSLAB
  /* per page, where in a heap the list its frees go to lies (_hak_page_set_list): here and
   * not in the page, so that the free fast path reads one line a segment, which stays in
   * cache, rather than one a page, which a program streaming through its blocks evicts */
  uint16_t list_off[HAK_SEGMENT_PAGES_MAX];   /* any thread reads, the owner writes: __atomic accesses */
#endif
  hak_page_t pages[] __attribute__((aligned(128)));
} hak_segment_t;

/* Segment header bytes, rounded to whole OS pages so page 0's blocks start 4 KiB aligned. */
hak_inline size_t _hak_segment_header_size(size_t page_count) {
  size_t s = sizeof(hak_segment_t) + page_count * sizeof(hak_page_t);
  return (s + HAK_OS_PAGE - 1) & ~(size_t)(HAK_OS_PAGE - 1);
}

/* ---------------------------------------------------------------- page lookup */

hak_internal extern hak_page_t _hak_page_empty;   /* no blocks, no owner */

#if HAK_SUPERSLAB
/* The segment map: where a hakmem segment starts, its page shift (never 0); elsewhere 0.
 * Two forms, chosen once at start-up (_hak_segmap_choose):
 *   flat     one byte per 4 MiB slot of the 47-bit user address space, a 32 MiB mapping
 *            touched only where hakmem has segments. The free fast path gets the page index
 *            from the map it has to read anyway, without a dependent load from the header.
 *   compact  under an address-space limit (RLIMIT_AS) of less than HAK_SEGMAP_FLAT_MIN_LIMIT,
 *            where 32 MiB of address space would be blocks the program cannot have: a
 *            directory of 16 KiB leaves, one per 64 GiB that holds a segment. The flat table
 *            is then a single slot of 0, so every free misses it and reads the
 *            directory out of line (_hak_segmap_shift, _hak_free_slow_lookup).
 * The fast path reads the table and its mask from two plain words (one instruction each, as
 * the address and the constant mask of a static table were). They are set once, by the
 * start-up that precedes every block hakmem hands out: the preloaded library starts before
 * the program's threads; until then the table is the single slot and the mask 0. */
#define HAK_SEGMAP_ENTRIES ((size_t)1 << (47 - HAK_SEGMENT_SHIFT))
hak_internal extern _Atomic(uint8_t)* _hak_segmap_slots;
hak_internal extern uintptr_t _hak_segmap_mask;
hak_internal extern bool _hak_segmap_compact;
hak_internal void _hak_segmap_choose(size_t as_limit);
hak_internal unsigned _hak_segmap_compact_shift(const void* p);

/* The flat table's byte for p's slot (0 in compact form). Harden keeps the exact bound.
 * Otherwise the slot is masked, not compared: no allocator hands out an address at or past
 * 2^47 (with 5-level paging the kernel maps there only when asked to), so only a bogus
 * pointer folds onto the map, and freeing one is undefined anyway. One instruction less on
 * every free. */
hak_inline unsigned _hak_segmap_flat(const void* p) {
  uintptr_t slot = (uintptr_t)p >> HAK_SEGMENT_SHIFT;
#if HAK_HARDEN
  if (hak_unlikely(slot >= HAK_SEGMAP_ENTRIES)) return 0;
#endif
  slot &= _hak_segmap_mask;
  return atomic_load_explicit(&_hak_segmap_slots[slot], memory_order_relaxed);
}

/* The page shift the segment map holds for p's 4 MiB slot, in either form. */
hak_inline unsigned _hak_segmap_shift(const void* p) {
  unsigned page_shift = _hak_segmap_flat(p);
  if (hak_likely(page_shift != 0) || hak_likely(!_hak_segmap_compact)) return page_shift;
  return _hak_segmap_compact_shift(p);
}

/* The page of a block, or NULL for a pointer hakmem did not hand out. */
hak_inline hak_page_t* _hak_page_lookup(const void* p) {
  unsigned page_shift = _hak_segmap_shift(p);
  if (hak_unlikely(page_shift == 0)) return NULL;
  uintptr_t seg = (uintptr_t)p & ~(uintptr_t)HAK_SEGMENT_MASK;
  size_t idx = ((uintptr_t)p & HAK_SEGMENT_MASK) >> page_shift;
  uintptr_t page = seg + offsetof(hak_segment_t, pages) + idx * sizeof(hak_page_t);
  if (page == 0) __builtin_unreachable();   /* tells the compiler: no second NULL test */
  return (hak_page_t*)page;
}

/* The page of a block, or the empty page (no owner, no blocks) for a foreign pointer. */
hak_inline hak_page_t* _hak_page_of(const void* p) {
  hak_page_t* page = _hak_page_lookup(p);
  return hak_likely(page != NULL) ? page : &_hak_page_empty;
}
#else
/* The registry answers the empty page for a foreign pointer, never NULL: the fast path's
 * test of the lookup folds away. */
hak_internal __attribute__((returns_nonnull)) hak_page_t* _hak_registry_lookup(const void* p);
hak_inline hak_page_t* _hak_page_lookup(const void* p) { return _hak_registry_lookup(p); }
hak_inline hak_page_t* _hak_page_of(const void* p) { return _hak_registry_lookup(p); }
#endif

/* Whether p lies in the mapping of the large block whose segment is seg: under an
 * address-space limit a large mapping may end before its 4 MiB slot does, and another
 * mapping may follow it there (hak_large.c, mapping_size). Slow paths only. */
hak_inline bool _hak_large_owns(const hak_segment_t* seg, const void* p) {
  return (uintptr_t)p - (uintptr_t)seg->mapped_base < seg->mapped_size;
}

hak_internal bool _hak_registry_add(hak_segment_t* seg);
hak_internal void _hak_registry_remove(hak_segment_t* seg);
hak_internal void _hak_registry_fork_lock(void);
hak_internal void _hak_registry_fork_unlock(void);

/* ---------------------------------------------------------------- stats */

enum {
  HAK_STAT_TINY_PAGES_CARVED, HAK_STAT_MID_PAGES_CARVED,
  HAK_STAT_LARGE_ALLOCS, HAK_STAT_LARGE_BYTES, HAK_STAT_LARGE_CACHE_HITS,
  HAK_STAT_LARGE_MAPS, HAK_STAT_LARGE_UNMAPS,
  HAK_STAT_TINY_REFILLS, HAK_STAT_TINY_BLOCKS_SUPPLIED,
  HAK_STAT_MID_REFILLS, HAK_STAT_MID_BLOCKS_SUPPLIED,
  HAK_STAT_SEGMENTS_MAPPED, HAK_STAT_SEGMENTS_UNMAPPED, HAK_STAT_PAGES_PURGED,
  HAK_STAT_LIBC_MALLOC_TINY, HAK_STAT_LIBC_MALLOC_TINY_BYTES, HAK_STAT_LIBC_MALLOC_OTHER,
  HAK_STAT_LIBC_FREE, HAK_STAT_REMOTE_FREES, HAK_STAT_HEAPS_ABANDONED,
  HAK_STAT_SEGMENTS_ADOPTED, HAK_STAT_SEGMENTS_RECLAIMED, HAK_STAT_SEGMENTS_REUSED,
  HAK_STAT_SEGMENTS_PURGED, HAK_STAT_MID_BATCHES_SHARED, HAK_STAT_MID_BATCHES_TAKEN,
  HAK_STAT_TINY_BATCHES_SHARED, HAK_STAT_TINY_BATCHES_TAKEN,
  HAK_STAT_ALWAYS_COUNT
};

/* Per-thread counters: the owning thread adds with a relaxed load and store (a plain
 * add, no lock prefix); any thread may read them for a report. */
typedef _Atomic(uint64_t) hak_counter_t;

/* The shared pools' lock (hak_midcache.c, hak_harden_blocks.c): it spins, as what it guards
 * is a few stores and a mutex that puts a waiter to sleep cost mid_large_mt (two threads,
 * 2,500 futex calls in 16 M operations) more than the pool saves; a holder that lost its
 * processor is waited for by yielding, not spinning. */
typedef _Atomic(uint32_t) hak_spinlock_t;
hak_inline void _hak_spin_lock(hak_spinlock_t* lock) {
  unsigned spins = 0;
  while (atomic_exchange_explicit(lock, 1, memory_order_acquire) != 0) {
    while (atomic_load_explicit(lock, memory_order_relaxed) != 0) {
      if (++spins < 100) __builtin_ia32_pause(); else sched_yield();
    }
  }
}
hak_inline void _hak_spin_unlock(hak_spinlock_t* lock) { atomic_store_explicit(lock, 0, memory_order_release); }

#if HAK_HARDEN
/* A block waiting in harden's quarantine ring or its shared pool, with its page. */
typedef struct hak_hd_slot_s { void* block; struct hak_page_s* page; } hak_hd_slot_t;
#endif

typedef struct hak_heap_stats_s {
  hak_counter_t always[HAK_STAT_ALWAYS_COUNT];
#if HAK_STATS >= 1
  hak_counter_t tier_allocs[HAK_TIER_COUNT];
  hak_counter_t tier_frees[HAK_TIER_COUNT];
  hak_counter_t tier_bytes[HAK_TIER_COUNT];
#endif
#if HAK_STATS >= 2
  hak_counter_t class_allocs[HAK_CLASS_COUNT];
  hak_counter_t class_frees[HAK_CLASS_COUNT];
#endif
} hak_heap_stats_t;

hak_inline void _hak_counter_add(hak_counter_t* c, uint64_t n) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/* Counters of events that have no heap at hand (start-up, threads without a heap). */
hak_internal void _hak_stat_global_add(int which, uint64_t n);
struct hak_page_s;
hak_internal void _hak_stat_global_free(const struct hak_page_s* page);

/* ---------------------------------------------------------------- heaps */

typedef struct hak_page_queue_s { hak_page_t* first; hak_page_t* last; } hak_page_queue_t;

#if HAK_TINY_CACHE_BLOCKS
/* A thread's list of free blocks of one tiny class (hak_config.h), linked as a page's list
 * is; room: how many more it may take (64 bits: the free fast path tests and decrements it
 * in memory, one instruction each). */
typedef struct hak_tiny_list_s {
  hak_block_t* head;
  uint64_t room;
} hak_tiny_list_t;

/* What a thread frees of a tiny class before it allocates from the class (hak_tinycache.c):
 * linked as a list is, and how many. */
typedef struct hak_tiny_stash_s {
  hak_block_t* head;
  uint64_t count;
} hak_tiny_stash_t;
#endif

#if HAK_MID_CACHE_SLOTS
/* A class's stack of mid blocks its thread freed (hak_config.h), growing up from base:
 * top[-1] is the most recent, and end - base the class's limit. Its blocks still count as
 * used in their pages. The empty heap's stacks are all NULL: empty and full at once. A mid
 * page's list offset points at its class's stack, whose second word reads as a tiny list's
 * room and is always 0: the free fast path's room test fails, and the offset, past the
 * tiny lists, sends the block on to the stack. */
typedef struct hak_mid_stack_s {
  void** top;
  uint64_t no_room;                         /* 0: the tiny list room test always fails */
  void** end;
  void** base;                              /* 32 bytes: indexed by shifting */
} hak_mid_stack_t;
#if HAK_TINY_CACHE_BLOCKS
_Static_assert(offsetof(hak_mid_stack_t, no_room) == offsetof(hak_tiny_list_t, room), "a stack's no_room is a list's room");
#endif
#endif

typedef struct hak_heap_s {
#if HAK_TINY_CACHE_BLOCKS
  /* first, at offset 0, where a page without a list points (a large one, a mid one without a
   * live owner): no room, so its frees take the slow path; never written */
  hak_tiny_list_t no_list;
#endif
#if HAK_DIRECT_CACHE
  hak_page_t* direct[HAK_DIRECT_SLOTS];     /* (size+7)/8 -> current page of its class */
#if HAK_TINY_CACHE_BLOCKS
  hak_tiny_list_t* tiny_direct[HAK_DIRECT_SLOTS];   /* (size+7)/8 -> its class's list */
#endif
#endif
#if HAK_TINY_CACHE_BLOCKS
  hak_tiny_list_t tiny_list[HAK_TINY_CLASSES];
#endif
  hak_page_t* current[HAK_CLASS_COUNT];     /* class -> page the fast path pops from */
  hak_page_queue_t queue[HAK_CLASS_COUNT];  /* pages that may have free blocks; first == current */
  hak_page_queue_t full;                    /* pages without free blocks */
#if HAK_MID_CACHE_SLOTS
  hak_mid_stack_t mid_stack[HAK_CLASS_COUNT];   /* by class; the tiny ones stay unused */
  void* mid_blocks[HAK_MID_CLASSES][HAK_MID_CACHE_SLOTS];
#endif
#if HAK_HARDEN
  /* harden's delayed reuse: the blocks this thread freed last, per class (a ring of
   * quarantine_mask + 1 slots, drained half at a time; hak_harden.h) */
  uint32_t quarantine_keep;                 /* blocks a class's ring keeps before one is reused;
                                               0: no quarantine (the empty heap, or the setting) */
  uint8_t quarantine_at[HAK_CLASS_COUNT];   /* where the next freed block goes (mod HAK_HD_RING) */
  uint8_t quarantine_count[HAK_CLASS_COUNT];   /* blocks waiting, the oldest count slots back */
  uint8_t quarantine_cap[HAK_CLASS_COUNT];  /* blocks a class's ring holds before it drains */
  uint8_t quarantine_low[HAK_CLASS_COUNT];  /* ... and how many it keeps when it does */
  hak_hd_slot_t quarantine[HAK_CLASS_COUNT][HAK_HD_RING];
#endif
#if HAK_TINY_CACHE_BLOCKS
  uint64_t tiny_fills;                      /* for tiny_active_ms (below) */
  hak_tiny_stash_t tiny_stash[HAK_TINY_CLASSES];   /* read by the slow paths only */
#endif
  _Atomic(hak_page_t*) notified;            /* full pages that other threads freed into */
  hak_segment_t* avail[2];                  /* segments with uncarved pages, per kind */
  hak_segment_t* filled[2];                 /* segments whose pages are all carved */
  hak_segment_t* spare[2];                  /* one empty segment kept per kind */
  uintptr_t tid;                            /* the owning thread's _hak_thread_id() */
  size_t dirty_bytes;                       /* empty pages written since the last purge */
  uint64_t purge_at;                        /* when they are purged (ms); 0: none waiting */
  uint64_t refills_at_reclaim;              /* its refills when it last reclaimed a segment */
  struct hak_heap_s* live_next;             /* registry of live heaps (for reports) */
  struct hak_heap_s* live_prev;
  hak_heap_stats_t stats;
#if HAK_TINY_CACHE_BLOCKS
  /* when its tiny cache last filled (_hak_now_ms, every 8th fill): another thread holding
   * blocks of its pages gives them to the shared tiny pool only once it has been quiet for
   * HAK_TINY_POOL_IDLE_MS. Last, and left out of a recycled heap's reset: another thread may
   * still read it through a page the heap's previous thread left. */
  _Atomic(uint64_t) tiny_active_ms;
#endif
} hak_heap_t;

/* Where in a heap a page of class cls finds the list its frees go to, while it has a live
 * owner: with the tiny cache, its tiny list or, with the mid cache too, its mid stack;
 * otherwise 0 (the no_list). */
hak_inline uint16_t _hak_class_list_off(int cls) {
#if HAK_TINY_CACHE_BLOCKS
  if (cls < HAK_TINY_CLASSES) return (uint16_t)(offsetof(hak_heap_t, tiny_list) + sizeof(hak_tiny_list_t) * (size_t)cls);
#if HAK_MID_CACHE_SLOTS
  _Static_assert(offsetof(hak_heap_t, mid_blocks) <= UINT16_MAX, "list offsets fit 16 bits");
  _Static_assert(offsetof(hak_heap_t, tiny_list) < offsetof(hak_heap_t, mid_stack), "the free fast path tells a stack by its offset");
  return (uint16_t)(offsetof(hak_heap_t, mid_stack) + sizeof(hak_mid_stack_t) * (size_t)cls);
#endif
#endif
  (void)cls;
  return 0;
}

/* Sets where the page's frees find their list (the fast path reads it). Only a change is
 * stored: every thread's free reads the line, and a mid page's owner word, which carries
 * the offset along, is rewritten each time the page turns full or not. */
hak_inline void _hak_page_set_list(hak_page_t* page, uint16_t off) {
#if HAK_SUPERSLAB
  uint16_t* slot = &page->segment->list_off[page - page->segment->pages];
#else
  uint16_t* slot = &page->list_off;
#endif
  if (__atomic_load_n(slot, __ATOMIC_RELAXED) != off) __atomic_store_n(slot, off, __ATOMIC_RELAXED);
}

/* Whether the page's blocks start on an `alignment` boundary (a mid page's colour may move
 * them off boundaries above 64 bytes). */
hak_inline bool _hak_page_fits(const hak_page_t* page, size_t alignment) {
  return ((uintptr_t)page->area & (alignment - 1)) == 0;
}

/* Every thread starts on the empty heap: its pages have no free blocks, so the first malloc
 * takes the slow path, which gives the thread a heap of its own. */
hak_internal extern hak_heap_t _hak_heap_empty;
hak_internal extern __thread hak_heap_t* _hak_tls_heap __attribute__((tls_model("initial-exec")));

hak_inline hak_heap_t* _hak_heap(void) { return _hak_tls_heap; }

/* Adds n to one of the always-on counters: the heap's own (a plain add), or the process's
 * for the empty heap of a thread that has none. */
hak_inline void _hak_count_event(hak_heap_t* heap, int which, uint64_t n) {
  if (heap == &_hak_heap_empty) _hak_stat_global_add(which, n);
  else _hak_counter_add(&heap->stats.always[which], n);
}

/* Tags in the low bits of a page's owner word (a thread pointer is 16-byte aligned), each
 * of which sends the owner's frees past the fast path to _hak_free_slow. */
#define HAK_OWNER_FULL   ((uintptr_t)1)   /* the page is in its heap's full list */
#define HAK_OWNER_CACHED ((uintptr_t)2)   /* a mid page: the owner's frees go to its mid cache */
#define HAK_OWNER_TAGS   (HAK_OWNER_FULL | HAK_OWNER_CACHED)

/* The owner word of a page the heap holds, outside the full list. */
hak_inline uintptr_t _hak_owner_word(const hak_heap_t* heap, const hak_page_t* page) {
  return heap->tid | (HAK_MID_CACHE_SLOTS != 0 && page->tier == HAK_TIER_MID ? HAK_OWNER_CACHED : 0);
}

/* Sets the page's owner word. A mid page's frees go to the freeing thread's stack only
 * while the page has a live owner: an abandoned page's blocks go back to it, so that it
 * empties and is reclaimed. */
hak_inline void _hak_page_set_owner(hak_page_t* page, uintptr_t word) {
  atomic_store_explicit(&page->owner, word, memory_order_relaxed);
#if HAK_MID_CACHE_SLOTS && HAK_TINY_CACHE_BLOCKS
  if (page->tier == HAK_TIER_MID) _hak_page_set_list(page, (word & HAK_OWNER_CACHED) ? _hak_class_list_off(page->class_idx) : 0);
#endif
}

/* ---------------------------------------------------------------- invariants (debug builds) */

/* Debug builds (HAK_DEBUG) check each structure at the slow paths' transitions: a checker
 * (hak_check.c) walks what it can reach with a bound and aborts with one line naming the
 * structure and the broken fact, or returns true. hak_check(_hak_page_is_valid(page)) and
 * the like are compiled out of release builds, arguments included. Call a checker on the
 * thread that owns what it checks. */
#if HAK_DEBUG
hak_internal bool _hak_page_is_valid(const hak_page_t* page);          /* counts, lists, layout, owner word */
hak_internal bool _hak_segment_is_valid(const hak_segment_t* seg);     /* header, list offsets, its pages */
hak_internal bool _hak_heap_is_valid(const hak_heap_t* heap);          /* caches, queues, current pages */
#if HAK_TINY_CACHE_BLOCKS
hak_internal bool _hak_tiny_list_is_valid(const hak_heap_t* heap, int cls);
hak_internal uint32_t _hak_tiny_list_limit(int cls);    /* a list's blocks + room (hak_tinycache.c) */
#endif
#if HAK_MID_CACHE_SLOTS
hak_internal bool _hak_mid_stack_is_valid(const hak_heap_t* heap, int cls);
#endif
#define hak_check(valid) ((void)(valid))
#else
#define hak_check(valid) ((void)0)
#endif

/* ---------------------------------------------------------------- options and state */

typedef struct hak_options_s {
  int wrap_tiny;
  size_t purge_limit;
  uint64_t purge_delay_ms;
  int verbose;
  int purge_thread;         /* give free memory back in the background when idle */
  const char* stats_path;
  uint64_t quarantine;                      /* harden: HAK_HD_QUARANTINE, HAKMEM_QUARANTINE */
} hak_options_t;

hak_internal extern hak_options_t _hak_options;
hak_internal extern _Atomic(int) _hak_init_state;   /* 0 none, 1 running, 2 done */
hak_internal void _hak_init(void);
hak_internal bool _hak_in_init(void);

/* ---------------------------------------------------------------- OS */

hak_internal void* _hak_os_map(size_t size);
/* Zeroed memory for hakmem's own tables, not counted as mapped blocks. */
hak_internal void* _hak_os_map_table(size_t size);
hak_internal void  _hak_os_unmap_table(void* p, size_t size);
/* Bytes mapped now; whether the process has an address-space limit (RLIMIT_AS), under which
 * the caches keep less and large blocks reserve nothing beyond their size. */
hak_internal size_t _hak_os_mapped_bytes(void);
/* Coarse monotonic milliseconds (a vDSO read, no system call): only slow paths ask. */
hak_internal uint64_t _hak_now_ms(void);
hak_internal size_t _hak_os_as_limit(void);     /* SIZE_MAX: none */
hak_internal size_t _hak_os_as_limit_refresh(void);
/* Gives back everything that can be given back: the caches of the calling thread (heap),
 * the shared ones, empty pages and segments (hak_release.c). True if anything went back. */
hak_internal bool  _hak_release_memory(hak_heap_t* heap);
hak_internal void  _hak_purge_thread_wake(void);     /* memory to give back when idle */
hak_internal void  _hak_purge_thread_want(void);     /* the same, from inside a heap's change */
hak_internal void  _hak_purge_thread_poll(void);     /* starts it if wanted: at safe points */
hak_internal void  _hak_purge_thread_fork_child(void);
/* bytes in blocks handed out (small tiers), mapped in all, in live large blocks */
hak_internal void  _hak_usage(size_t* in_use, size_t* mapped, size_t* large);
hak_internal void* _hak_os_map_aligned(size_t size, size_t alignment, size_t* mapped, void** base);
hak_internal void  _hak_os_unmap(void* p, size_t size);
hak_internal void  _hak_os_purge(void* p, size_t size);

/* ---------------------------------------------------------------- cross-file functions */

/* heap (hak_heap.c) */
hak_internal hak_heap_t* _hak_heap_for_thread(void);       /* creates the thread's heap */
hak_internal void _hak_heap_queue_push_back(hak_page_queue_t* q, hak_page_t* page);
hak_internal void _hak_heap_queue_push_front(hak_page_queue_t* q, hak_page_t* page);
hak_internal void _hak_heap_queue_remove(hak_page_queue_t* q, hak_page_t* page);
hak_internal void _hak_heap_set_current(hak_heap_t* heap, int cls);
hak_internal void _hak_heaps_lock(void);
hak_internal void _hak_heaps_unlock(void);
hak_internal void _hak_heaps_reset_lock(void);
hak_internal hak_heap_t* _hak_heaps_first(void);          /* live heaps; hold the lock */
hak_internal void _hak_heap_thread_key_create(void);
hak_internal void _hak_heap_flush_caches(hak_heap_t* heap);   /* tiny lists, mid stacks */

/* pages (hak_page.c) */
hak_internal void* _hak_malloc_class(hak_heap_t* heap, int cls, size_t size);
hak_internal void* _hak_malloc_class_aligned(hak_heap_t* heap, int cls, size_t size, size_t alignment);
hak_internal void  _hak_page_retire(hak_page_t* page);
hak_internal void  _hak_free_slow(void* p, hak_page_t* page);
hak_internal void  _hak_heap_collect_notified(hak_heap_t* heap);
hak_internal void  _hak_page_abandon(hak_heap_t* heap, hak_page_t* page);
hak_internal bool  _hak_page_adopt(hak_heap_t* heap, hak_page_t* page);   /* true: released */
hak_internal void  _hak_heap_release_empty(hak_heap_t* heap);   /* collect, release empty pages */
hak_internal void  _hak_heap_give_back(hak_heap_t* heap);       /* every page and segment handed over */
hak_internal void  _hak_page_block_notify(hak_page_t* page);
hak_internal void  _hak_free_to_page(hak_heap_t* heap, hak_page_t* page, void* p);
hak_internal void  _hak_free_chain_to_page(hak_heap_t* heap, hak_page_t* page, hak_block_t* first, hak_block_t* last,
                                           uint32_t n);

/* tiny cache (hak_tinycache.c) */
#if HAK_TINY_CACHE_BLOCKS
hak_internal void  _hak_tiny_cache_init(hak_heap_t* heap);
/* a free the fast path did not take (the list was full): the older half of the list goes
 * back to its pages first; false when the class has no room at all (wrap-tiny off) */
hak_internal bool  _hak_tiny_cache_push(hak_heap_t* heap, int cls, void* p);
hak_internal void  _hak_tiny_cache_fill(hak_heap_t* heap, int cls);   /* after a miss */
/* a miss of an empty list: a batch of the shared pool onto it, its first block handed out */
hak_internal void* _hak_tiny_cache_take_shared(hak_heap_t* heap, int cls, size_t size);
hak_internal extern _Atomic(size_t) _hak_tiny_pool_held;
/* bytes in the shared pool (0: none to take, and a miss does not look) */
hak_inline size_t _hak_tiny_pool_bytes(void) { return atomic_load_explicit(&_hak_tiny_pool_held, memory_order_relaxed); }
hak_internal void  _hak_tiny_pool_drain(hak_heap_t* heap);   /* every batch back to its pages */
hak_internal void  _hak_tiny_pool_lock(void);          /* fork */
hak_internal void  _hak_tiny_pool_unlock(void);
hak_internal void  _hak_tiny_pool_reset_lock(void);
hak_internal void  _hak_tiny_cache_flush(hak_heap_t* heap);          /* thread exit */
hak_internal size_t _hak_tiny_cache_bytes(hak_heap_t* heap);
#endif

/* mid cache (hak_midcache.c) */
#if HAK_MID_CACHE_SLOTS
hak_internal void  _hak_mid_cache_init(hak_heap_t* heap);   /* a new heap's stacks and limits */
hak_internal void  _hak_mid_cache_push(hak_heap_t* heap, int cls, void* p);
hak_internal void* _hak_mid_cache_refill(hak_heap_t* heap, int cls);
hak_internal void  _hak_mid_cache_flush(hak_heap_t* heap);  /* thread exit: the stacks emptied */
#endif
/* the shared pool of mid blocks (hak_midcache.c, or hak_harden_blocks.c under harden) */
#if HAK_MID_POOL
hak_internal void  _hak_mid_pool_lock(void);
hak_internal void  _hak_mid_pool_unlock(void);
hak_internal void  _hak_mid_pool_reset_lock(void);
hak_internal size_t _hak_mid_pool_drain(hak_heap_t* heap);   /* every pooled block to its page */
hak_internal size_t _hak_mid_pool_bytes(void);
#endif

/* segments (hak_segment.c) */
hak_internal hak_page_t* _hak_segment_page_alloc(hak_heap_t* heap, int cls, size_t alignment);
hak_internal void  _hak_segment_page_free(hak_heap_t* heap, hak_page_t* page);
hak_internal void  _hak_segments_abandon(hak_heap_t* heap);
/* What an adopted segment must offer: a page of a class (cls >= 0), a free page, anything. */
#define HAK_ADOPT_FREE_PAGE (-1)
#define HAK_ADOPT_ANY       (-2)
hak_internal bool  _hak_segment_adopt_one(hak_heap_t* heap, int kind, int cls);
hak_internal bool  _hak_segment_reclaim(hak_heap_t* heap, hak_segment_t* seg);
hak_internal void  _hak_segment_unmap(hak_segment_t* seg);
hak_internal void  _hak_segments_lock(void);
hak_internal void  _hak_segments_unlock(void);
hak_internal void  _hak_segments_reset_lock(void);
/* Records seg in the segment map (superslab); false when the compact map has no memory for
 * the leaf it needs. Clearing never fails. */
hak_internal bool  _hak_segmap_set(hak_segment_t* seg, bool mapped);
hak_internal void  _hak_segments_trim(hak_heap_t* heap);
hak_internal void  _hak_segments_drop_cache(hak_heap_t* heap, uint64_t idle_ms);
hak_internal void  _hak_segments_idle(hak_heap_t* heap);
hak_internal void  _hak_segments_decay(void);
hak_internal void  _hak_segments_for_each(hak_heap_t* heap, void (*fn)(hak_segment_t* seg, void* arg), void* arg);
hak_internal void  _hak_segments_for_each_global(void (*fn)(hak_segment_t* seg, void* arg), void* arg);
hak_internal size_t _hak_segment_cache_max(void);

/* large (hak_large.c) */
hak_internal void* _hak_large_malloc(hak_heap_t* heap, size_t size, size_t alignment, bool zero);
hak_internal void  _hak_large_free(hak_heap_t* heap, hak_segment_t* seg);
hak_internal void* _hak_large_realloc(hak_heap_t* heap, hak_segment_t* seg, void* p, size_t size);
hak_internal void  _hak_large_lock(void);
hak_internal void  _hak_large_unlock(void);
hak_internal void  _hak_large_reset_lock(void);
hak_internal void  _hak_large_drop_cache(hak_heap_t* heap, uint64_t idle_ms);
hak_internal size_t _hak_large_live_bytes(void);

/* classes (hak_classes.c) */
hak_internal int   _hak_aligned_class(size_t size, size_t alignment);

/* stats (hak_stats.c) */
hak_internal void  _hak_stats_merge_heap(hak_heap_t* heap);
hak_internal void  _hak_stats_dump_at_exit(void);

#endif
