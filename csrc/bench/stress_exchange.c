/*
 * stress_exchange: rounds of short-lived threads trading blocks of every size through a
 * shared array of slots. Each new block is swapped into a slot drawn at random with one
 * atomic exchange, and the thread frees whatever the slot held: a block that another thread
 * allocated, often one that has exited since. Sizes are skewed as a program's are (mostly
 * small, some of a few KiB, a few of up to MiBs), so every tier of an allocator, its remote frees,
 * its handling of exited threads' memory and its returns of memory to the OS are exercised
 * at once.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>

#include "bench_common.h"

enum {
  ARG_THREADS,
  ARG_ROUNDS,
  ARG_ITERS,
  ARG_SLOTS,
  ARG_KEEP,
  ARG_LOCAL,
  ARG_SEED,
  ARG_MEDIUM,
  ARG_LARGE,
  ARG_MAX,
  ARG_TOUCH
};
enum { TOUCH_START, TOUCH_PAGES, TOUCH_ALL };

static const char *const touch_names[] = {"start", "pages", "all", NULL};

/* The size bands: small [8, 1 KiB], medium (1 KiB, 64 KiB], large (64 KiB, max]. Small sizes
 * are uniform; in the other bands each power-of-two octave is as likely as the next (the
 * last one cut at max), uniform within it, so a band's smaller blocks are the more common,
 * as in programs, and the large band does not write a few MiB per block on average. */
#define SMALL_MIN 8
#define SMALL_MAX 1024
#define MEDIUM_MAX 65536

static bench_arg_t args[] = {
    [ARG_THREADS] = {"threads", 32, 1, 1024, "threads running at once (one round)", NULL, 0},
    [ARG_ROUNDS] = {"rounds", 20, 1, 100000000,
                    "rounds: each starts threads threads and joins them all", NULL, 0},
    [ARG_ITERS] = {"iters", 2000, 1, 1000000000000LL, "blocks each thread allocates", NULL, 0},
    [ARG_SLOTS] = {"slots", 250, 1, 1 << 16, "shared slots per thread (threads x slots in all)",
                   NULL, 0},
    [ARG_KEEP] = {"keep", 16, 1, 1 << 16, "blocks each thread keeps to itself", NULL, 0},
    [ARG_LOCAL] = {"local", 20, 0, 100, "percent of new blocks that go to the thread's own blocks",
                   NULL, 0},
    [ARG_SEED] = BENCH_ARG_SEED,
    [ARG_MEDIUM] = {"medium", 10, 0, 100, "percent of blocks of 1 KiB..64 KiB", NULL, 0},
    [ARG_LARGE] = {"large", 1, 0, 100, "percent of blocks of 64 KiB..max", NULL, 0},
    [ARG_MAX] = {"max", 4 << 20, MEDIUM_MAX + 1, 1 << 30, "largest block size in bytes", NULL, 0},
    [ARG_TOUCH] = {"touch", TOUCH_START, 0, 0,
                   "what is written in a block: its start word, also one word per 4 KiB page, or "
                   "all of it",
                   touch_names, 0},
};

static bench_cli_t cli = {
    "stress_exchange",
    "rounds rounds of threads threads; all threads of a round start together and are joined\n"
    "before the next round starts. A thread mallocs keep blocks of its own, then iters blocks:\n"
    "local percent of them replace one of its own blocks (freeing it), the others are swapped\n"
    "by an atomic exchange into one of threads x slots shared slots drawn at random, and the\n"
    "block that comes out, usually another thread's, is verified and freed; at its end the\n"
    "thread frees its own blocks. Sizes: medium percent in (1 KiB, 64 KiB], large percent in\n"
    "(64 KiB, max], the rest uniform in [8, 1 KiB]; in the two upper bands each power-of-two\n"
    "octave is equally likely, uniform within it. touch says what is written in a block (and\n"
    "verified before its free); one block in 64 (in 256 above 1 KiB) is filled and verified\n"
    "whole in any case. The main thread fills the slots before the measured region and\n"
    "empties them after it.\n"
    "Operations: 2 x (keep + iters) x threads x rounds.",
    args, BENCH_NARGS(args), 0};

/* A slot holds a block's address with check bits of its tag (bench_slot_word): the thread
 * taking a block out learns its size from the tag in its memory, and the check bits show that
 * this tag is the one written when the block was put in, so a block that another one overlaps
 * fails instead of being freed as another size. */
#define CHECK_SHIFT BENCH_SLOT_CHECK_SHIFT
#define ADDRESS_MASK BENCH_SLOT_ADDRESS_MASK
/* Blocks whose tag hash has these bits clear are filled and verified whole: one small block
 * in 64, one larger block in 256 (a fill of 1 MiB is some 10^5 instructions). */
#define SAMPLE_SHIFT 40
#define SAMPLE_MASK_SMALL 63
#define SAMPLE_MASK_LARGER 255

#define MEDIUM_OCTAVES 6 /* 1 KiB << 6 = 64 KiB */

typedef struct size_dist_s {
  uint32_t large, large_or_medium; /* thresholds of a percentile in [0, 100) */
  uint32_t large_octaves;          /* octaves from 64 KiB up to max */
  uint64_t max;
} size_dist_t;

typedef struct lane_s {
  _Atomic uint64_t *slots; /* shared by every thread */
  uint64_t nslots;
  const size_dist_t *dist;
  void **own;      /* the blocks a thread keeps to itself, and their tags */
  uint64_t *own_tags;
  uint32_t keep;
  uint32_t local;
  int touch;
  uint64_t iters;
  uint32_t rng;    /* carried from round to round */
  uint64_t digest; /* the tags allocated, in order */
  uint64_t allocated_sum, freed_sum; /* of tags: equal in the end when every block came back */
  char pad[64];
} lane_t;

static inline uint64_t tag_hash(uint64_t tag) {
  return tag * 0x9e3779b97f4a7c15ull;
}

static inline int tag_sampled(uint64_t tag) {
  const uint64_t mask = bench_tag_size(tag) <= SMALL_MAX ? SAMPLE_MASK_SMALL : SAMPLE_MASK_LARGER;
  return ((tag_hash(tag) >> SAMPLE_SHIFT) & mask) == 0;
}

/* A size in (low << k, min(low << (k + 1), high)] for an octave k drawn uniformly. */
static BENCH_NOINLINE uint64_t draw_octaves(uint32_t *rng, uint64_t low, uint32_t octaves,
                                            uint64_t high) {
  const uint64_t base = low << bench_below(bench_rand(rng), octaves);
  const uint64_t width = high - base < base ? high - base : base;
  return base + 1 + bench_below(bench_rand(rng), (uint32_t)width);
}

static inline uint64_t draw_size(uint32_t *rng, const size_dist_t *d) {
  const uint32_t r = bench_rand(rng);
  const uint32_t band = bench_below(r, 100);
  if (bench_likely(band >= d->large_or_medium))
    return SMALL_MIN + bench_below(bench_rand(rng), SMALL_MAX - SMALL_MIN + 1);
  if (band >= d->large) return draw_octaves(rng, SMALL_MAX, MEDIUM_OCTAVES, MEDIUM_MAX);
  return draw_octaves(rng, MEDIUM_MAX, d->large_octaves, d->max);
}

BENCH_NORETURN static void fail_slot(uint64_t slot, uint64_t word, uint64_t found) {
  fprintf(stderr,
          "stress_exchange: memory corruption detected: slot %" PRIu64 ", block at 0x%" PRIx64
          ": start tag reads 0x%016" PRIx64 ", which is not the tag of slot %" PRIu64
          " stored with the block's address (check bits 0x%04" PRIx64
          "; the allocator returned memory that something else overwrote)\n",
          slot, word & ADDRESS_MASK, found, slot, word >> CHECK_SHIFT);
  bench_die(BENCH_EXIT_CORRUPT);
}

static uint64_t slot_word(void *p, uint64_t tag) { return bench_slot_word(p, tag_hash(tag) >> CHECK_SHIFT); }

/* touch=all fills and verifies every block whole, as the sampled ones are otherwise. */
static inline void *alloc_block(uint64_t size, uint64_t tag, int touch) {
  const int sampled = touch == TOUCH_ALL || tag_sampled(tag);
  return touch == TOUCH_PAGES ? bench_alloc_paged(size, tag, sampled) : bench_alloc(size, tag, sampled);
}

static inline uint64_t free_block(void *p, uint64_t tag, uint64_t slot, int touch) {
  const uint64_t size = bench_tag_size(tag);
  const int sampled = touch == TOUCH_ALL || tag_sampled(tag);
  return touch == TOUCH_PAGES ? bench_free_paged(p, size, tag, slot, sampled)
                              : bench_free(p, size, tag, slot, sampled);
}

static inline uint64_t put_block(uint64_t slot, uint64_t size, int touch, uint64_t *tag_out) {
  const uint64_t tag = bench_tag(slot, size);
  *tag_out = tag;
  return slot_word(alloc_block(size, tag, touch), tag);
}

/* Verifies and frees the block a slot word names; returns its tag. */
static inline uint64_t take_block(uint64_t word, uint64_t slot, int touch) {
  void *p = (void *)(uintptr_t)(word & ADDRESS_MASK);
  const uint64_t tag = p != NULL ? bench_load_word(p) : 0;
  if (bench_unlikely(p == NULL || (uint32_t)tag != slot ||
                     (tag_hash(tag) >> CHECK_SHIFT) != word >> CHECK_SHIFT))
    fail_slot(slot, word, tag);
  return free_block(p, tag, slot, touch);
}

/* One thread's life. Its own blocks use the slots numbered after the shared ones. */
BENCH_NOINLINE void bench_loop_stress_exchange(lane_t *l) {
  _Atomic uint64_t *const slots = l->slots;
  const uint64_t nslots = l->nslots;
  const int touch = l->touch;
  uint32_t rng = l->rng;
  uint64_t h = l->digest, allocated = 0, freed = 0;
  for (uint32_t k = 0; k < l->keep; k++) {
    const uint64_t tag = bench_tag(nslots + k, draw_size(&rng, l->dist));
    l->own[k] = alloc_block(bench_tag_size(tag), tag, touch);
    l->own_tags[k] = tag;
    allocated += tag;
    h = bench_digest(h, tag);
  }
  for (uint64_t i = 0; i < l->iters; i++) {
    const uint64_t size = draw_size(&rng, l->dist);
    uint64_t tag;
    if (bench_below(bench_rand(&rng), 100) < l->local) {
      const uint32_t k = bench_below(bench_rand(&rng), l->keep);
      tag = bench_tag(nslots + k, size);
      void *p = alloc_block(size, tag, touch);
      freed += free_block(l->own[k], l->own_tags[k], nslots + k, touch);
      l->own[k] = p;
      l->own_tags[k] = tag;
    } else {
      const uint64_t s = bench_below(bench_rand(&rng), (uint32_t)nslots);
      const uint64_t word = put_block(s, size, touch, &tag);
      freed += take_block(atomic_exchange_explicit(&slots[s], word, memory_order_acq_rel), s, touch);
    }
    allocated += tag;
    h = bench_digest(h, tag);
  }
  for (uint32_t k = 0; k < l->keep; k++) freed += free_block(l->own[k], l->own_tags[k], nslots + k, touch);
  l->rng = rng;
  l->digest = h;
  l->allocated_sum += allocated;
  l->freed_sum += freed;
}

static void *thread_main(void *p) {
  bench_loop_stress_exchange(p);
  bench_publish_verified();
  return NULL;
}

int main(int argc, char **argv) {
  bench_parse_args(&cli, argc, argv);
  const unsigned threads = (unsigned)args[ARG_THREADS].value;
  const uint64_t rounds = (uint64_t)args[ARG_ROUNDS].value;
  const uint64_t nslots = (uint64_t)threads * (uint64_t)args[ARG_SLOTS].value;
  const uint32_t keep = (uint32_t)args[ARG_KEEP].value;
  const int touch = (int)args[ARG_TOUCH].value;
  if (args[ARG_MEDIUM].value + args[ARG_LARGE].value > 100)
    bench_arg_error(&cli, ARG_LARGE, "medium + large must be at most 100 (percent), got %lld + %lld",
                    args[ARG_MEDIUM].value, args[ARG_LARGE].value);
  size_dist_t dist = {(uint32_t)args[ARG_LARGE].value,
                      (uint32_t)(args[ARG_LARGE].value + args[ARG_MEDIUM].value), 1,
                      (uint64_t)args[ARG_MAX].value};
  while ((uint64_t)MEDIUM_MAX << dist.large_octaves < dist.max) dist.large_octaves++;

  /* The main thread fills every slot first, so each exchange hands a block back and the
   * work done does not depend on the order in which threads reach the slots. */
  _Atomic uint64_t *slots = bench_calloc(nslots, sizeof *slots);
  uint32_t fill_rng = bench_rng_seed((uint64_t)args[ARG_SEED].value, threads);
  uint64_t h = BENCH_DIGEST_INIT, allocated = 0, freed = 0;
  for (uint64_t s = 0; s < nslots; s++) {
    uint64_t tag;
    atomic_init(&slots[s], put_block(s, draw_size(&fill_rng, &dist), touch, &tag));
    allocated += tag;
    h = bench_digest(h, tag);
  }

  lane_t *lanes = bench_calloc(threads, sizeof *lanes);
  pthread_t *ids = bench_calloc(threads, sizeof *ids);
  for (unsigned t = 0; t < threads; t++) {
    lane_t *l = &lanes[t]; /* calloc'd: the counts start at 0 */
    l->slots = slots;
    l->nslots = nslots;
    l->dist = &dist;
    l->own = bench_calloc(keep, sizeof *l->own);
    l->own_tags = bench_calloc(keep, sizeof *l->own_tags);
    l->keep = keep;
    l->local = (uint32_t)args[ARG_LOCAL].value;
    l->touch = touch;
    l->iters = (uint64_t)args[ARG_ITERS].value;
    l->rng = bench_rng_seed((uint64_t)args[ARG_SEED].value, t);
    l->digest = BENCH_DIGEST_INIT;
  }

  const double t0 = bench_now();
  for (uint64_t r = 0; r < rounds; r++) {
    for (unsigned t = 0; t < threads; t++) bench_thread_start(&ids[t], thread_main, &lanes[t]);
    for (unsigned t = 0; t < threads; t++) bench_thread_join(ids[t]);
  }
  const double t1 = bench_now();
  const long peak_kb = bench_peak_rss_kb();

  for (uint64_t s = 0; s < nslots; s++)
    freed += take_block(atomic_load_explicit(&slots[s], memory_order_relaxed), s, touch);
  for (unsigned t = 0; t < threads; t++) {
    lane_t *l = &lanes[t];
    h = bench_digest(h, l->digest);
    allocated += l->allocated_sum;
    freed += l->freed_sum;
    free(l->own);
    free(l->own_tags);
  }
  bench_check_tag_sums(freed, allocated);
  h = bench_digest(h, freed);
  free(ids);
  free(lanes);
  free(slots);

  bench_result_t r = {2 * ((uint64_t)keep + (uint64_t)args[ARG_ITERS].value) * threads * rounds,
                      t1 - t0, bench_digest_finish(h), bench_verified_count(), NULL, peak_kb};
  bench_report(&r);
  return 0;
}
