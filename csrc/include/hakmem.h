/* hakmem: a small-object allocator for Linux x86-64.
 *
 * libhakmem.so replaces malloc, free, calloc, realloc, reallocarray, memalign,
 * posix_memalign, aligned_alloc, valloc, pvalloc and malloc_usable_size when it is
 * preloaded. The functions below reach the same allocator directly, without going
 * through the malloc override (and so without the wrap-tiny decision, see
 * src/hak_config.h). libhakmem.a offers only these functions: it overrides nothing.
 */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HAKMEM_VERSION "0.1.0"

#if defined(__GNUC__)
#define HAK_API __attribute__((visibility("default")))
#else
#define HAK_API
#endif

HAK_API void*  hak_malloc(size_t size);
HAK_API void   hak_free(void* p);
HAK_API void*  hak_calloc(size_t count, size_t size);
HAK_API void*  hak_realloc(void* p, size_t size);
HAK_API void*  hak_reallocarray(void* p, size_t count, size_t size);
HAK_API void*  hak_memalign(size_t alignment, size_t size);
HAK_API int    hak_posix_memalign(void** out, size_t alignment, size_t size);
HAK_API void*  hak_aligned_alloc(size_t alignment, size_t size);
HAK_API size_t hak_usable_size(const void* p);

/* Does p point at the start of a block hakmem handed out (and has not unmapped)?
 * Pointers from glibc, the stack or static data answer 0. */
HAK_API int    hak_owns(const void* p);

/* The configuration this library was built with, after run-time overrides. */
typedef struct hak_config_s {
  int direct_cache;       /* HAK_DIRECT_CACHE */
  int dual_lists;         /* HAK_DUAL_LISTS */
  int superslab;          /* HAK_SUPERSLAB */
  int wrap_tiny;          /* effective: HAKMEM_WRAP_TINY overrides the compiled default */
  int wrap_tiny_compiled; /* HAK_WRAP_TINY */
  int stats;              /* HAK_STATS: 0, 1 or 2 */
  size_t tiny_max;        /* largest tiny request (1024) */
  size_t mid_max;         /* largest mid request (65536) */
  int harden;             /* HAK_HARDEN */
  int mid_cache_slots;    /* blocks a thread keeps per mid class (HAK_MID_CACHE_SLOTS; 0: off) */
  int tiny_cache_blocks;  /* most blocks a thread keeps per tiny class (HAK_TINY_CACHE_BLOCKS; 0: off) */
  int segmap_compact;     /* superslab's segment map is compact: the process started under an
                             address-space limit below 4 GiB, and every free looks its page up
                             out of line; 0: flat */
} hak_config_t;

HAK_API void hak_config(hak_config_t* out);

/* Always-on counters: they are kept on slow paths only, so every build has them. */
typedef struct hak_stats_always_s {
  uint64_t tiny_pages_carved;
  uint64_t mid_pages_carved;
  uint64_t large_allocs;
  uint64_t large_bytes;
  uint64_t large_cache_hits;
  uint64_t large_maps;
  uint64_t large_unmaps;
  uint64_t tiny_refills;
  uint64_t tiny_blocks_supplied;
  uint64_t mid_refills;
  uint64_t mid_blocks_supplied;
  uint64_t segments_mapped;
  uint64_t segments_unmapped;
  uint64_t pages_purged;
  uint64_t libc_malloc_tiny;       /* <= tiny_max requests through the override handed to glibc */
  uint64_t libc_malloc_tiny_bytes;
  uint64_t libc_malloc_other;      /* other requests handed to glibc (start-up, huge alignment) */
  uint64_t libc_free;              /* frees of pointers hakmem did not allocate */
  uint64_t remote_frees;
  uint64_t heaps_abandoned;
  uint64_t segments_adopted;      /* taken over by a refill */
  uint64_t segments_reclaimed;    /* taken over by a free into one of their pages */
  uint64_t segments_reused;       /* taken from the global cache of empty segments */
  uint64_t segments_purged;       /* cached segments given back to the OS after the purge delay */
  uint64_t mid_batches_shared;    /* batches of freed mid blocks a thread's full stack put in the shared pool */
  uint64_t mid_batches_taken;     /* batches a thread's empty stack took from the shared pool */
  uint64_t tiny_batches_shared;   /* runs of other threads' tiny blocks a thread put in the shared tiny pool */
  uint64_t tiny_batches_taken;    /* batches a thread's empty tiny list took from the shared tiny pool */
} hak_stats_always_t;

typedef struct hak_stats_tier_s {
  uint64_t allocs;
  uint64_t frees;
  uint64_t bytes;   /* requested bytes */
} hak_stats_tier_t;

enum { HAK_TIER_TINY = 0, HAK_TIER_MID = 1, HAK_TIER_LARGE = 2, HAK_TIER_COUNT = 3 };

typedef struct hak_stats_s {
  hak_stats_always_t always;
  int level;                               /* 0: tiers and classes are zero */
  hak_stats_tier_t tiers[HAK_TIER_COUNT];  /* level >= 1 */
} hak_stats_t;

/* Sum of the counters of every thread, live and exited. */
HAK_API void hak_stats_get(hak_stats_t* out);

/* Writes the counters as one JSON object (the format csrc/README.md documents) into buf.
 * Returns the length the whole object needs, excluding the terminating NUL (like snprintf). */
HAK_API size_t hak_stats_json(char* buf, size_t size);

/* Number of size classes and their block sizes (tiny classes first, then mid). */
HAK_API int    hak_size_class_count(void);
HAK_API size_t hak_size_class_block_size(int class_index);

#ifdef __cplusplus
}
#endif
#endif
