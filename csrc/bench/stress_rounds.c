/*
 * stress_rounds: rounds of threads that keep growing sets of live blocks, mostly small with
 * now and then a large one, allocate and free at random, and trade blocks with each other
 * through a shared array of transfer slots. Every round starts fresh threads and joins them;
 * between rounds the main thread frees about half the blocks left in the slots, so the other
 * half outlives the threads that allocated them and is freed by threads of a later round.
 * Kept blocks come from calloc; every block is written and verified whole, as a program
 * initialising and reading its objects would.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>

#include "bench_common.h"

enum { ARG_THREADS, ARG_ROUNDS, ARG_LOAD, ARG_TRANSFERS, ARG_SEED, ARG_FIRST_WORDS };

static bench_arg_t args[] = {
    [ARG_THREADS] = {"threads", 2, 1, 1024, "threads running at once (one round)", NULL, 0},
    [ARG_ROUNDS] = {"rounds", 50, 1, 100000000,
                    "rounds: each starts threads threads and joins them all", NULL, 0},
    [ARG_LOAD] = {"load", 10, 1, 1000000,
                  "work per thread: thread t allocates 150 x load x (t % 8 + 1) blocks a round", NULL,
                  0},
    [ARG_TRANSFERS] = {"transfers", 1000, 1, 1 << 24, "shared transfer slots", NULL, 0},
    [ARG_SEED] = BENCH_ARG_SEED,
    [ARG_FIRST_WORDS] = {"first-words", 0, 0, 1 << 24,
                         "thread 0 of each round makes every block this many 8-byte words (0: the mix)",
                         NULL, 0},
};

static bench_cli_t cli = {
    "stress_rounds",
    "rounds rounds of threads threads. Thread t of a round makes 100 x load x (t % 8 + 1)\n"
    "short-lived blocks of 8-128 B and half as many kept blocks of 8-512 B (each size a power\n"
    "of two, equally likely), in random order; one block in 100 is 100 times larger, and of\n"
    "those one in 10 is 1000 times and one in 100 10000 times larger instead (up to 5 MiB).\n"
    "After each step it frees one of its short-lived blocks at random two times in three, and\n"
    "one time in four swaps one of them, by an atomic exchange, with one of the transfer slots\n"
    "(its new block is then another thread's, possibly one that has exited). The kept blocks\n"
    "and what is left are freed when the thread ends; between rounds the main thread frees the\n"
    "blocks of about half the slots, all of them after the last round. Kept blocks come from\n"
    "calloc, the others from malloc; every block is written whole and verified whole before\n"
    "its free. With first-words, thread 0 of every round makes all its blocks that size, as\n"
    "mimalloc's test does, whose thread 0 starts its random generator at 0 (it stays there):\n"
    "10000 words, 80,000 bytes, hundreds of them live until the thread ends.\n"
    "Operations: 2 x the blocks allocated (allocation and free calls; the rounds are measured).",
    args, BENCH_NARGS(args), 0};

/* Shares in percent of the steps, and the chances of a large block. */
#define SHORT_LIVED_PERCENT 50
#define FREE_PERCENT 66
#define SWAP_PERCENT 25
#define SHORT_LIVED_SHIFTS 5 /* 8 B << 0..4 */
#define KEPT_SHIFTS 7        /* 8 B << 0..6 */

#define CHECK_SHIFT BENCH_SLOT_CHECK_SHIFT
#define ADDRESS_MASK BENCH_SLOT_ADDRESS_MASK

typedef struct held_s {
  uint64_t *block;
  uint64_t tag;
} held_t;

typedef struct lane_s {
  _Atomic uint64_t *slots;
  uint32_t nslots;
  uint32_t index, threads;
  uint64_t round;
  uint64_t short_lived, kept; /* blocks of each kind this thread allocates a round */
  uint64_t fixed_words;       /* every block this size (0: drawn) */
  uint32_t rng;
  uint32_t serial;                   /* next tag's slot field: distinct for each block */
  uint64_t digest;                   /* the tags allocated, in order */
  uint64_t allocated_sum, freed_sum; /* of tags: equal in the end when every block came back */
  uint64_t allocated;
  char pad[64];
} lane_t;

static inline uint64_t tag_check(uint64_t tag) {
  return (tag * 0x9e3779b97f4a7c15ull) >> CHECK_SHIFT;
}

/* Words of a new block: 1 << shift, scaled up now and then. */
static inline uint64_t draw_words(uint32_t *rng, uint32_t shifts) {
  uint64_t words = UINT64_C(1) << bench_below(bench_rand(rng), shifts);
  if (bench_below(bench_rand(rng), 100) == 0) {
    const uint32_t r = bench_below(bench_rand(rng), 1000);
    words *= r < 10 ? 10000 : r < 110 ? 1000 : 100;
  }
  return words;
}

/* Word i of a block holds tag + i. A kept block comes from calloc, whose zeroes are
 * checked at both ends; a short-lived one from malloc. */
static uint64_t *alloc_block(uint64_t words, uint64_t tag, int zeroed) {
  uint64_t *p = zeroed ? calloc(words, sizeof *p) : malloc(words * sizeof *p);
  if (bench_unlikely(p == NULL)) bench_fail_nomem(words * sizeof *p);
  if (bench_unlikely(zeroed && (p[0] != 0 || p[words - 1] != 0)))
    bench_fail_word(p, words * sizeof *p, (uint32_t)tag, "calloc'd word", p[0] != 0 ? 0 : (words - 1) * 8,
                    0, p[0] != 0 ? p[0] : p[words - 1]);
  for (uint64_t i = 0; i < words; i++) p[i] = tag + i;
  return p;
}

static uint64_t free_block(uint64_t *p, uint64_t tag) {
  const size_t size = bench_tag_size(tag);
  const uint64_t words = size / sizeof *p;
  for (uint64_t i = 0; i < words; i++)
    if (bench_unlikely(p[i] != tag + i))
      bench_fail_word(p, size, (uint32_t)tag, i == 0 ? "start tag" : "word", i * 8, tag + i, p[i]);
  free(p);
  bench_count_verified(1);
  return tag;
}

BENCH_NORETURN static void fail_slot(uint64_t slot, uint64_t word, uint64_t found) {
  fprintf(stderr,
          "stress_rounds: memory corruption detected: slot %" PRIu64 ", block at 0x%" PRIx64
          ": start tag reads 0x%016" PRIx64 ", whose check bits are not the 0x%04" PRIx64
          " stored with the block's address (the allocator returned memory that something else "
          "overwrote)\n",
          slot, word & ADDRESS_MASK, found, word >> CHECK_SHIFT);
  bench_die(BENCH_EXIT_CORRUPT);
}

static uint64_t slot_word(const held_t *h) {
  return h->block == NULL ? 0 : bench_slot_word(h->block, tag_check(h->tag));
}

/* The block a slot word names, with the tag its memory holds once the check bits agree. */
static held_t slot_block(uint64_t word, uint64_t slot) {
  held_t h = {(uint64_t *)(uintptr_t)(word & ADDRESS_MASK), 0};
  if (h.block == NULL) return h;
  h.tag = h.block[0];
  if (bench_unlikely(tag_check(h.tag) != word >> CHECK_SHIFT)) fail_slot(slot, word, h.tag);
  return h;
}

/* One thread's life in one round. */
BENCH_NOINLINE void bench_loop_stress_rounds(lane_t *l) {
  uint32_t rng = l->rng, serial = l->serial;
  uint64_t short_left = l->short_lived, kept_left = l->kept;
  held_t *live = bench_calloc(short_left + 1, sizeof *live);
  held_t *kept = bench_calloc(kept_left + 1, sizeof *kept);
  uint64_t nlive = 0, nkept = 0, h = l->digest, allocated = 0, freed = 0, count = 0;
  while (short_left > 0 || kept_left > 0) {
    const int short_lived = kept_left == 0 ||
                            (short_left > 0 && bench_below(bench_rand(&rng), 100) < SHORT_LIVED_PERCENT);
    const uint64_t words = l->fixed_words != 0 ? l->fixed_words
                                               : draw_words(&rng, short_lived ? SHORT_LIVED_SHIFTS : KEPT_SHIFTS);
    const uint64_t tag = bench_tag(serial, words * sizeof(uint64_t));
    serial += l->threads;
    held_t *to = short_lived ? &live[nlive++] : &kept[nkept++];
    *to = (held_t){alloc_block(words, tag, !short_lived), tag};
    short_lived ? short_left-- : kept_left--;
    allocated += tag;
    count++;
    h = bench_digest(h, tag);
    if (bench_below(bench_rand(&rng), 100) < FREE_PERCENT && nlive > 0) {
      held_t *victim = &live[bench_below(bench_rand(&rng), (uint32_t)nlive)];
      if (victim->block != NULL) freed += free_block(victim->block, victim->tag);
      victim->block = NULL;
    }
    if (bench_below(bench_rand(&rng), 100) < SWAP_PERCENT && nlive > 0) {
      held_t *mine = &live[bench_below(bench_rand(&rng), (uint32_t)nlive)];
      const uint32_t s = bench_below(bench_rand(&rng), l->nslots);
      const uint64_t out = atomic_exchange_explicit(&l->slots[s], slot_word(mine), memory_order_acq_rel);
      *mine = slot_block(out, s);
    }
  }
  for (uint64_t i = 0; i < nkept; i++) freed += free_block(kept[i].block, kept[i].tag);
  for (uint64_t i = 0; i < nlive; i++)
    if (live[i].block != NULL) freed += free_block(live[i].block, live[i].tag);
  free(live);
  free(kept);
  l->rng = rng;
  l->serial = serial;
  l->digest = h;
  l->allocated_sum += allocated;
  l->freed_sum += freed;
  l->allocated += count;
}

static void *thread_main(void *p) {
  bench_loop_stress_rounds(p);
  bench_publish_verified();
  return NULL;
}

/* The main thread's share: frees the blocks of about half the slots (all when last). */
static uint64_t free_slots(_Atomic uint64_t *slots, uint32_t nslots, uint32_t *rng, int last) {
  uint64_t freed = 0;
  for (uint32_t s = 0; s < nslots; s++) {
    if (!last && bench_rand(rng) >> 31) continue;
    const held_t h = slot_block(atomic_exchange_explicit(&slots[s], 0, memory_order_acq_rel), s);
    if (h.block != NULL) freed += free_block(h.block, h.tag);
  }
  return freed;
}

int main(int argc, char **argv) {
  bench_parse_args(&cli, argc, argv);
  const uint32_t threads = (uint32_t)args[ARG_THREADS].value;
  const uint64_t rounds = (uint64_t)args[ARG_ROUNDS].value;
  const uint64_t load = (uint64_t)args[ARG_LOAD].value;
  const uint32_t nslots = (uint32_t)args[ARG_TRANSFERS].value;
  const uint64_t seed = (uint64_t)args[ARG_SEED].value;

  _Atomic uint64_t *slots = bench_calloc(nslots, sizeof *slots);
  lane_t *lanes = bench_calloc(threads, sizeof *lanes);
  pthread_t *ids = bench_calloc(threads, sizeof *ids);
  for (uint32_t t = 0; t < threads; t++) {
    lane_t *l = &lanes[t]; /* calloc'd: the sums start at 0 */
    l->slots = slots;
    l->nslots = nslots;
    l->index = t;
    l->threads = threads;
    l->short_lived = 100 * load * (t % 8 + 1);
    l->kept = l->short_lived / 2;
    l->fixed_words = t == 0 ? (uint64_t)args[ARG_FIRST_WORDS].value : 0;
    l->rng = bench_rng_seed(seed, t);
    l->serial = t;
    l->digest = BENCH_DIGEST_INIT;
  }
  uint32_t main_rng = bench_rng_seed(seed, threads);
  uint64_t main_freed = 0;

  const double t0 = bench_now();
  for (uint64_t r = 0; r < rounds; r++) {
    for (uint32_t t = 0; t < threads; t++) bench_thread_start(&ids[t], thread_main, &lanes[t]);
    for (uint32_t t = 0; t < threads; t++) bench_thread_join(ids[t]);
    main_freed += free_slots(slots, nslots, &main_rng, r + 1 == rounds);
  }
  bench_publish_verified();
  const double t1 = bench_now();
  const long peak_kb = bench_peak_rss_kb();

  uint64_t h = BENCH_DIGEST_INIT, allocated = 0, freed = main_freed, blocks = 0;
  for (uint32_t t = 0; t < threads; t++) {
    h = bench_digest(h, lanes[t].digest);
    allocated += lanes[t].allocated_sum;
    freed += lanes[t].freed_sum;
    blocks += lanes[t].allocated;
  }
  bench_check_tag_sums(freed, allocated);
  h = bench_digest(h, freed);
  free(ids);
  free(lanes);
  free(slots);

  bench_result_t r = {2 * blocks, t1 - t0, bench_digest_finish(h), bench_verified_count(), NULL,
                      peak_kb};
  bench_report(&r);
  return 0;
}
