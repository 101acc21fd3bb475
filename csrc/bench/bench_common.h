/*
 * Shared parts of the benchmark programs.
 *
 * The programs call only the standard allocation functions (malloc, free, and calloc for
 * their own arrays), so one binary measures whichever allocator is preloaded. Everything here is built so that a result can be trusted:
 *  - random choices come from a seeded xorshift32, so a run is repeatable;
 *  - every block gets a tag word at its start, and sampled blocks are filled completely;
 *    both are verified before the block is freed, so an allocator that hands out
 *    overlapping, undersized or clobbered memory fails loudly (exit 3) instead of looking
 *    fast. Only the start word is checked on most blocks so that the measured loops stay
 *    within a few instructions of a bare malloc/free loop;
 *  - the checksum digests the work done (slots, sizes, values read back), never pointers
 *    or timings, so two runs under different allocators can be shown to match;
 *  - the measured work runs in functions named bench_loop_*, so callgrind's
 *    --toggle-collect='bench_loop*' counts exactly the measured region.
 */
#ifndef HAK_BENCH_COMMON_H
#define HAK_BENCH_COMMON_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Exit codes shared by every program. */
#define BENCH_EXIT_USAGE 2   /* bad argument */
#define BENCH_EXIT_CORRUPT 3 /* the memory returned by the allocator did not hold what was written */
#define BENCH_EXIT_NOMEM 4   /* malloc returned NULL, or a thread could not be started */

#define bench_likely(x) __builtin_expect(!!(x), 1)
#define bench_unlikely(x) __builtin_expect(!!(x), 0)
#define BENCH_NOINLINE __attribute__((noinline))
#define BENCH_NORETURN __attribute__((noreturn, cold))
#define BENCH_ALWAYS_INLINE static inline __attribute__((always_inline))

/* ---------------------------------------------------------------- arguments */

/* One positional argument. An integer argument accepts [min, max]; an argument with
 * choices accepts one of the names and its value is the index of that name. */
typedef struct bench_arg_s {
  const char *name;
  long long def;
  long long min, max;
  const char *help;
  const char *const *choices; /* NULL-terminated, or NULL for an integer */
  long long value;            /* the effective value after parsing */
} bench_arg_t;

typedef struct bench_cli_s {
  const char *program;
  const char *summary; /* what the program measures, for --help */
  bench_arg_t *args;
  size_t nargs;
  size_t required; /* leading arguments without a default */
} bench_cli_t;

#define BENCH_NARGS(a) (sizeof(a) / sizeof((a)[0]))

/* The arguments most programs share. */
#define BENCH_DEFAULT_SEED 1234567
#define BENCH_ARG_SEED \
  {"seed", BENCH_DEFAULT_SEED, 0, UINT32_MAX, "seed of the xorshift32 random numbers", NULL, 0}
#define BENCH_ARG_MIN_SIZE(def) {"min", (def), 8, 1 << 30, "smallest block size in bytes", NULL, 0}
#define BENCH_ARG_MAX_SIZE(def) {"max", (def), 8, 1 << 30, "largest block size in bytes", NULL, 0}

/* Parses argv into cli->args; prints usage and exits 0 on -h/--help, exits 2 with one
 * line on stderr on a bad argument. Registers cli for the result line and messages. */
void bench_parse_args(bench_cli_t *cli, int argc, char **argv);
/* Rejects args[hi] < args[lo] (for example max < min), exiting 2. */
void bench_require_order(const bench_cli_t *cli, size_t lo, size_t hi);
/* Rejects an args[index] that is not a power of two, exiting 2. */
void bench_require_power_of_two(const bench_cli_t *cli, size_t index);
/* Exits 2 naming args[index] and what is wrong with it. */
BENCH_NORETURN void bench_arg_error(const bench_cli_t *cli, size_t index, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------------- random numbers */

/* xorshift32: three shifts and xors; the state is never zero. */
static inline uint32_t bench_rand(uint32_t *state) {
  uint32_t x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *state = x;
  return x;
}

/* A value in [0, n) from a 32-bit random number, by multiply and shift (no division). */
static inline uint32_t bench_below(uint32_t r, uint32_t n) {
  return (uint32_t)(((uint64_t)r * n) >> 32);
}

/* A non-zero xorshift32 state for one stream (a thread, a pattern) of a seeded run. */
uint32_t bench_rng_seed(uint64_t seed, uint32_t stream);

/* ---------------------------------------------------------------- checksum */

/* FNV-1a style over 64-bit words, with a multiplier that fits an instruction's immediate:
 * two instructions per word, cheap enough to run once per operation. */
#define BENCH_DIGEST_INIT 0xcbf29ce484222325ull
static inline uint64_t bench_digest(uint64_t h, uint64_t word) {
  return (h ^ word) * 0x5bd1e995ull;
}
/* Final avalanche, so digests of similar runs do not look alike. */
uint64_t bench_digest_finish(uint64_t h);

/* ---------------------------------------------------------------- the measured calls */

/* The allocation calls a program measures: malloc and free, or, in a program's C++ build
 * (compiled with -DBENCH_CXX_NEW and linked with bench/cxx_new.cc), the throwing operator
 * new and the sized operator delete, as a C++ program compiled with -fsized-deallocation
 * calls them. The programs' own bookkeeping keeps calloc and free. */
#ifdef BENCH_CXX_NEW
void *bench_cxx_new(size_t size);               /* NULL where operator new threw */
void bench_cxx_delete(void *p, size_t size);
#define bench_malloc(size) bench_cxx_new(size)
#define bench_release(p, size) bench_cxx_delete((p), (size))
#define BENCH_CXX_SUFFIX "_cxx"
#define BENCH_NOMEM_FORMAT "operator new(%zu) threw std::bad_alloc"
#else
#define bench_malloc(size) malloc(size)
#define bench_release(p, size) free(p)
#define BENCH_CXX_SUFFIX ""
#define BENCH_NOMEM_FORMAT "malloc(%zu) returned NULL"
#endif

/* ---------------------------------------------------------------- memory checks */

/* The tag of a block: its slot in the low half, its size (biased, so no tag is a small
 * number an allocator might write) in the high half. A function of slot and size only,
 * never of the address, and distinct for distinct (slot, size); consecutive slots of one
 * size have consecutive tags. An error message shows both fields in hexadecimal. */
#define BENCH_TAG_SIZE_BIAS 0x5a5a0000u
static inline uint64_t bench_tag(uint64_t slot, uint64_t size) {
  return ((size + BENCH_TAG_SIZE_BIAS) << 32) + slot;
}
/* The size a tag holds (slots stay below 2^32). */
static inline size_t bench_tag_size(uint64_t tag) {
  return (size_t)((tag >> 32) - BENCH_TAG_SIZE_BIAS);
}

/* A shared slot holds a block's address with 16 check bits of its tag above it (x86-64 user
 * addresses fit in 48 bits), so a block that another one overlapped fails when it is taken
 * out. The word of block p with check (16 bits); exits 4 for an address above 2^48. */
#define BENCH_SLOT_CHECK_SHIFT 48
#define BENCH_SLOT_ADDRESS_MASK ((UINT64_C(1) << BENCH_SLOT_CHECK_SHIFT) - 1)
BENCH_NORETURN void bench_fail_slot_address(const void *p);
static inline uint64_t bench_slot_word(const void *p, uint64_t check) {
  const uint64_t address = (uint64_t)(uintptr_t)p;
  if (bench_unlikely(address > BENCH_SLOT_ADDRESS_MASK)) bench_fail_slot_address(p);
  return address | check << BENCH_SLOT_CHECK_SHIFT;
}

/* Every block freed once by construction: a block freed twice or lost shows as tags freed
 * that do not sum to those allocated. Exits 3 with one message then. */
void bench_check_tag_sums(uint64_t freed, uint64_t allocated);

/* Ends the process at once with code: other threads may still be calling the allocator,
 * so exit handlers and destructors (the allocator's own included) must not run. */
BENCH_NORETURN void bench_die(int code);
BENCH_NORETURN void bench_fail_nomem(size_t size);
BENCH_NORETURN void bench_fail_tag(const void *p, size_t size, uint64_t tag, uint64_t slot);
/* Exits 3 naming the block, which word (what, at offset) was found and what was expected. */
BENCH_NORETURN void bench_fail_word(const void *p, size_t size, uint64_t slot, const char *what,
                                    size_t offset, uint64_t expected, uint64_t found);
/* The sampled blocks' out-of-line paths: malloc and fill the whole block with its tag;
 * verify the whole block (exits 3 on a mismatch), then free it and return the tag. Out of
 * line, so the common path keeps no sampled-block state alive across its malloc or free. */
void *bench_alloc_filled(size_t size, uint64_t tag);
uint64_t bench_free_verified(void *p, size_t size, uint64_t tag, uint64_t slot);
/* A thread that verified blocks adds its count to the process total before it ends
 * (bench_free_verified counts per thread, so the measured loops pay nothing for it). */
void bench_publish_verified(void);
/* Counts blocks a program verified whole by its own checks, for the calling thread. */
void bench_count_verified(uint64_t blocks);
/* Blocks verified whole so far: the published total plus the calling thread's count. */
uint64_t bench_verified_count(void);

/* Touches a block as a program would: its tag in its first word (size >= 8). A sampled
 * block is filled to its last byte, which catches a block shorter than asked for. */
static inline void bench_put_tag(void *p, uint64_t tag) {
  memcpy(p, &tag, sizeof tag);
}

/* malloc with the failure check and the touch; a sampled block is filled completely. */
static inline void *bench_alloc(size_t size, uint64_t tag, int sampled) {
  if (bench_unlikely(sampled)) return bench_alloc_filled(size, tag);
  void *p = bench_malloc(size);
  if (bench_unlikely(p == NULL)) bench_fail_nomem(size);
  bench_put_tag(p, tag);
  return p;
}

static inline uint64_t bench_load_word(const void *p) {
  uint64_t w;
  memcpy(&w, p, sizeof w);
  return w;
}

/* Verifies a block's tag (and its whole content when sampled), then frees it. Returns the
 * tag, which the memory was just shown to hold, for the checksum. */
static inline uint64_t bench_free(void *p, size_t size, uint64_t tag, uint64_t slot, int sampled) {
  if (bench_unlikely(sampled)) return bench_free_verified(p, size, tag, slot);
  if (bench_unlikely(bench_load_word(p) != tag)) bench_fail_tag(p, size, tag, slot);
  bench_release(p, size);
  return tag;
}

/* ---------------------------------------------------------------- paged blocks */

/* Blocks written as a program filling a buffer would touch them: the tag in the start word,
 * tag + k at the start of each further 4 KiB page k, and the tag in the last word (size >= 16).
 * Every page of a large block is written, so the page faults an allocator causes by handing
 * memory back to the OS show; a block moved, shortened or overlapping another fails. A
 * sampled block is filled and verified whole instead. */
#define BENCH_PAGE 4096

static inline void *bench_alloc_paged(size_t size, uint64_t tag, int sampled) {
  if (bench_unlikely(sampled)) return bench_alloc_filled(size, tag);
  unsigned char *p = malloc(size);
  if (bench_unlikely(p == NULL)) bench_fail_nomem(size);
  bench_put_tag(p, tag);
  for (size_t off = BENCH_PAGE; off + 2 * sizeof tag <= size; off += BENCH_PAGE)
    bench_put_tag(p + off, tag + off / BENCH_PAGE);
  if (size >= 2 * sizeof tag) bench_put_tag(p + size - sizeof tag, tag);
  return p;
}

/* Verifies what bench_alloc_paged wrote, then frees the block; returns the tag. */
static inline uint64_t bench_free_paged(void *block, size_t size, uint64_t tag, uint64_t slot,
                                        int sampled) {
  if (bench_unlikely(sampled)) return bench_free_verified(block, size, tag, slot);
  unsigned char *p = block;
  if (bench_unlikely(bench_load_word(p) != tag)) bench_fail_tag(p, size, tag, slot);
  for (size_t off = BENCH_PAGE; off + 2 * sizeof tag <= size; off += BENCH_PAGE) {
    const uint64_t want = tag + off / BENCH_PAGE;
    if (bench_unlikely(bench_load_word(p + off) != want))
      bench_fail_word(p, size, slot, "page word", off, want, bench_load_word(p + off));
  }
  const size_t last = size - sizeof tag;
  if (bench_unlikely(size >= 2 * sizeof tag && bench_load_word(p + last) != tag))
    bench_fail_word(p, size, slot, "last word", last, tag, bench_load_word(p + last));
  free(p);
  return tag;
}

/* ---------------------------------------------------------------- runs of blocks */

/* A run is n blocks of one size in an array, block k tagged first_tag + k (so slot k when
 * first_tag is bench_tag(0, size)). Every 64th block, from block 0, is filled and verified
 * whole. The loops walk the run in groups of 64 so that the sampling costs no test per
 * block: a batch malloc/free loop stays within a few instructions of a bare one. */
#define BENCH_RUN_SAMPLE 64

BENCH_ALWAYS_INLINE void bench_alloc_run(void **blocks, uint32_t n, size_t size,
                                         uint64_t first_tag) {
  void **b = blocks, **const end = blocks + n;
  uint64_t tag = first_tag;
  while (b < end) {
    *b++ = bench_alloc(size, tag++, 1);
    void **const stop = end - b > BENCH_RUN_SAMPLE - 1 ? b + (BENCH_RUN_SAMPLE - 1) : end;
    while (b < stop) *b++ = bench_alloc(size, tag++, 0);
  }
}

/* Frees a run last block first (LIFO); returns the sum of the tags verified. */
BENCH_ALWAYS_INLINE uint64_t bench_free_run_reverse(void **blocks, uint32_t n, size_t size,
                                                    uint64_t first_tag) {
  void **b = blocks + n;
  uint64_t tag = first_tag + n, sum = 0;
  while (b > blocks) {
    void **const sampled = blocks + ((size_t)(b - blocks - 1) & ~(size_t)(BENCH_RUN_SAMPLE - 1));
    while (--b > sampled) sum += bench_free(*b, size, --tag, (uint64_t)(b - blocks), 0);
    sum += bench_free(*b, size, --tag, (uint64_t)(b - blocks), 1);
  }
  return sum;
}

/* Frees a run first block first (FIFO); returns the sum of the tags verified. */
BENCH_ALWAYS_INLINE uint64_t bench_free_run_forward(void **blocks, uint32_t n, size_t size,
                                                    uint64_t first_tag) {
  void **b = blocks, **const end = blocks + n;
  uint64_t tag = first_tag, sum = 0;
  while (b < end) {
    sum += bench_free(*b, size, tag++, (uint64_t)(b - blocks), 1);
    b++;
    void **const stop = end - b > BENCH_RUN_SAMPLE - 1 ? b + (BENCH_RUN_SAMPLE - 1) : end;
    for (; b < stop; b++) sum += bench_free(*b, size, tag++, (uint64_t)(b - blocks), 0);
  }
  return sum;
}

/* One batch cycle: mallocs the run, then frees it last first (lifo) or first first.
 * Returns the sum of the tags verified. */
BENCH_ALWAYS_INLINE uint64_t bench_batch_cycle(void **blocks, uint32_t n, size_t size,
                                               uint64_t first_tag, const int lifo) {
  bench_alloc_run(blocks, n, size, first_tag);
  return lifo ? bench_free_run_reverse(blocks, n, size, first_tag)
              : bench_free_run_forward(blocks, n, size, first_tag);
}

/* ---------------------------------------------------------------- threads */

/* pthread_create that exits 4 with a message when the thread cannot be started. */
void bench_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);
void bench_thread_join(pthread_t thread);
/* Runs fn(args + i * stride) on n threads at once and returns the seconds from the moment
 * all of them called bench_team_begin to the moment all of them called bench_team_end:
 * each thread does its setup before begin and its teardown after end, so only the
 * measured work is timed. Each thread's verified-block count is published when it ends. */
double bench_run_team(unsigned n, void *(*fn)(void *), void *args, size_t stride);
void bench_team_begin(void);
void bench_team_end(void);
/* calloc for the programs' own bookkeeping; exits 4 on failure. */
void *bench_calloc(size_t n, size_t size);

/* ---------------------------------------------------------------- timing and result */

double bench_now(void); /* seconds, CLOCK_MONOTONIC */
long bench_peak_rss_kb(void);
/* Resident set size now (VmRSS), or -1 when /proc cannot be read. */
long bench_rss_kb(void);

typedef struct bench_result_s {
  uint64_t ops;      /* malloc calls plus free calls in the measured region */
  double seconds;    /* length of the measured region */
  uint64_t checksum; /* finished digest */
  uint64_t verified; /* blocks verified whole (bench_verified_count) */
  const char *extra; /* more members, already JSON ("\"a\":1,\"b\":2"), or NULL */
  long peak_rss_kb;  /* the peak RSS to report, when the program measured it itself; 0: read it now */
} bench_result_t;

double bench_ops_per_sec(const bench_result_t *r);
/* Prints one human line and then the JSON result line on stdout. The params object holds
 * every argument's effective value. */
void bench_report(const bench_result_t *r);
/* Formats the JSON result object into buf (without a newline); returns its length. */
size_t bench_format_result(char *buf, size_t cap, const bench_result_t *r);

#endif
