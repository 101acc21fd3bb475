/*
 * quick_wins: the five 16-byte allocation patterns used to judge the tiny pool's "quick
 * wins" (sequential LIFO, sequential FIFO, random free, interleaved, long-lived).
 */
#include <inttypes.h>
#include <stdio.h>

#include "bench_common.h"

#define BLOCK_SIZE 16

enum { ARG_PATTERN, ARG_CYCLES, ARG_SEED, ARG_BATCH };
enum { SEQUENTIAL_LIFO, SEQUENTIAL_FIFO, RANDOM_FREE, INTERLEAVED, LONG_LIVED, ALL };

static const char *const pattern_names[] = {"sequential_lifo", "sequential_fifo", "random_free",
                                            "interleaved",     "long_lived",      "all",
                                            NULL};

static bench_arg_t args[] = {
    [ARG_PATTERN] = {"pattern", ALL, 0, 0, "pattern to run", pattern_names, 0},
    [ARG_CYCLES] = {"cycles", 100000, 1, 1000000000000LL,
                    "cycles per pattern, each about 2 x batch operations", NULL, 0},
    [ARG_SEED] = BENCH_ARG_SEED,
    [ARG_BATCH] = {"batch", 100, 1, 1 << 20, "blocks per cycle (the window of interleaved)", NULL,
                   0},
};

static bench_cli_t cli = {
    "quick_wins",
    "16-byte blocks in five patterns, per cycle of batch blocks:\n"
    "  sequential_lifo  malloc batch blocks, free them last first\n"
    "  sequential_fifo  malloc batch blocks, free them first first\n"
    "  random_free      malloc batch blocks, free them in random order\n"
    "  interleaved      batch steps of free-the-oldest, malloc-a-new over a window of batch\n"
    "                   live blocks (filled before the measured region)\n"
    "  long_lived       as sequential_lifo while 16 x batch long-lived blocks stay allocated,\n"
    "                   one of them replaced per cycle (2 more operations)\n"
    "  all              each pattern in turn: one JSON line each, then a combined line",
    args, BENCH_NARGS(args), 1};

typedef struct pattern_state_s {
  void **blocks;   /* batch blocks (the window of interleaved) */
  uint64_t *tags;  /* random_free: the tag of each entry of blocks, moved with it */
  void **keep;     /* long_lived: the long-lived blocks */
  uint32_t batch;
  uint32_t kept;   /* number of long-lived blocks */
  uint32_t rng;
} pattern_state_t;

static const uint64_t first_tag = ((uint64_t)BLOCK_SIZE + BENCH_TAG_SIZE_BIAS) << 32;

BENCH_ALWAYS_INLINE uint64_t sequential(pattern_state_t *s, uint64_t cycles, uint64_t h,
                                        const int lifo) {
  for (; cycles > 0; cycles--)
    h = bench_digest(h, bench_batch_cycle(s->blocks, s->batch, BLOCK_SIZE, first_tag, lifo));
  return h;
}

BENCH_NOINLINE uint64_t bench_loop_quick_wins_sequential_lifo(pattern_state_t *s, uint64_t cycles,
                                                              uint64_t h) {
  return sequential(s, cycles, h, 1);
}

BENCH_NOINLINE uint64_t bench_loop_quick_wins_sequential_fifo(pattern_state_t *s, uint64_t cycles,
                                                              uint64_t h) {
  return sequential(s, cycles, h, 0);
}

/* Frees pick a random live block; the last live block moves into its place. The digest
 * folds every freed tag in order, so it covers the random order too. */
BENCH_NOINLINE uint64_t bench_loop_quick_wins_random_free(pattern_state_t *s, uint64_t cycles,
                                                          uint64_t h) {
  void **const blocks = s->blocks;
  uint64_t *const tags = s->tags;
  const uint32_t batch = s->batch;
  uint32_t rng = s->rng;
  for (; cycles > 0; cycles--) {
    bench_alloc_run(blocks, batch, BLOCK_SIZE, first_tag);
    for (uint32_t k = 0; k < batch; k++) tags[k] = first_tag + k;
    for (uint32_t live = batch; live > 0; live--) {
      uint32_t j = bench_below(bench_rand(&rng), live);
      uint64_t tag = tags[j];
      h = bench_digest(h, bench_free(blocks[j], BLOCK_SIZE, tag, (uint32_t)tag,
                                     (tag & (BENCH_RUN_SAMPLE - 1)) == 0));
      blocks[j] = blocks[live - 1];
      tags[j] = tags[live - 1];
    }
  }
  s->rng = rng;
  return h;
}

/* Each step frees the oldest block of the window and mallocs its replacement at once. */
BENCH_NOINLINE uint64_t bench_loop_quick_wins_interleaved(pattern_state_t *s, uint64_t cycles,
                                                          uint64_t h) {
  void **const blocks = s->blocks;
  const uint32_t batch = s->batch;
  for (; cycles > 0; cycles--) {
    uint64_t sum = 0;
    for (uint32_t k = 0; k < batch; k++) {
      const int sampled = (k & (BENCH_RUN_SAMPLE - 1)) == 0;
      sum += bench_free(blocks[k], BLOCK_SIZE, first_tag + k, k, sampled);
      blocks[k] = bench_alloc(BLOCK_SIZE, first_tag + k, sampled);
    }
    h = bench_digest(h, sum);
  }
  return h;
}

/* Long-lived blocks take the slots after the batch's; cycle c replaces long-lived block
 * c mod kept, so the long-lived set turns over slowly while short-lived blocks churn. */
BENCH_NOINLINE uint64_t bench_loop_quick_wins_long_lived(pattern_state_t *s, uint64_t cycles,
                                                         uint64_t h) {
  const uint64_t keep_tag = first_tag + s->batch;
  uint32_t next = 0;
  for (; cycles > 0; cycles--) {
    uint64_t sum = bench_batch_cycle(s->blocks, s->batch, BLOCK_SIZE, first_tag, 1);
    const uint64_t tag = keep_tag + next;
    const int sampled = (next & (BENCH_RUN_SAMPLE - 1)) == 0; /* as bench_alloc_run chose */
    sum += bench_free(s->keep[next], BLOCK_SIZE, tag, (uint32_t)tag, sampled);
    s->keep[next] = bench_alloc(BLOCK_SIZE, tag, sampled);
    h = bench_digest(h, sum);
    if (++next == s->kept) next = 0;
  }
  return h;
}

typedef uint64_t (*pattern_loop_t)(pattern_state_t *, uint64_t, uint64_t);

static const pattern_loop_t pattern_loops[] = {
    [SEQUENTIAL_LIFO] = bench_loop_quick_wins_sequential_lifo,
    [SEQUENTIAL_FIFO] = bench_loop_quick_wins_sequential_fifo,
    [RANDOM_FREE] = bench_loop_quick_wins_random_free,
    [INTERLEAVED] = bench_loop_quick_wins_interleaved,
    [LONG_LIVED] = bench_loop_quick_wins_long_lived,
};

static uint64_t pattern_ops(int pattern, uint64_t cycles, uint32_t batch) {
  uint64_t per_cycle = 2 * (uint64_t)batch + (pattern == LONG_LIVED ? 2 : 0);
  return per_cycle * cycles;
}

/* Runs one pattern: setup, the measured loop, then verification and release of what the
 * pattern keeps between cycles. */
static bench_result_t run_pattern(int pattern, uint64_t cycles, uint64_t seed, uint32_t batch) {
  pattern_state_t s = {bench_calloc(batch, sizeof(void *)), NULL, NULL, batch, 0,
                       bench_rng_seed(seed, (uint32_t)pattern)};
  uint64_t h = bench_digest(BENCH_DIGEST_INIT, (uint64_t)pattern); /* patterns differ */
  if (pattern == RANDOM_FREE) s.tags = bench_calloc(batch, sizeof *s.tags);
  if (pattern == INTERLEAVED) bench_alloc_run(s.blocks, batch, BLOCK_SIZE, first_tag);
  if (pattern == LONG_LIVED) {
    s.kept = 16 * batch;
    s.keep = bench_calloc(s.kept, sizeof(void *));
    bench_alloc_run(s.keep, s.kept, BLOCK_SIZE, first_tag + batch);
  }

  double t0 = bench_now();
  h = pattern_loops[pattern](&s, cycles, h);
  double t1 = bench_now();

  if (pattern == INTERLEAVED)
    h = bench_digest(h, bench_free_run_forward(s.blocks, batch, BLOCK_SIZE, first_tag));
  if (pattern == LONG_LIVED)
    h = bench_digest(h, bench_free_run_forward(s.keep, s.kept, BLOCK_SIZE, first_tag + batch));
  free(s.keep);
  free(s.tags);
  free(s.blocks);

  bench_result_t r = {pattern_ops(pattern, cycles, batch), t1 - t0, bench_digest_finish(h), 0,
                      NULL, 0};
  return r;
}

int main(int argc, char **argv) {
  bench_parse_args(&cli, argc, argv);
  const int chosen = (int)args[ARG_PATTERN].value;
  const uint64_t cycles = (uint64_t)args[ARG_CYCLES].value;
  const uint64_t seed = (uint64_t)args[ARG_SEED].value;
  const uint32_t batch = (uint32_t)args[ARG_BATCH].value;

  if (chosen != ALL) {
    bench_result_t r = run_pattern(chosen, cycles, seed, batch);
    r.verified = bench_verified_count();
    bench_report(&r);
    return 0;
  }

  /* all: a line per pattern, then one that combines them and lists each in "patterns". */
  char patterns[4096];
  size_t len = 0;
  bench_result_t total = {0, 0.0, BENCH_DIGEST_INIT, 0, patterns, 0};
  len += (size_t)snprintf(patterns + len, sizeof patterns - len, "\"patterns\":[");
  for (int p = 0; p < ALL; p++) {
    uint64_t verified_before = bench_verified_count();
    bench_result_t r = run_pattern(p, cycles, seed, batch);
    r.verified = bench_verified_count() - verified_before;
    args[ARG_PATTERN].value = p;
    bench_report(&r);
    len += (size_t)snprintf(patterns + len, sizeof patterns - len,
                            "%s{\"pattern\":\"%s\",\"ops\":%" PRIu64
                            ",\"seconds\":%.9f,\"opsPerSec\":%.1f,\"checksum\":\"%016" PRIx64 "\"}",
                            p > 0 ? "," : "", pattern_names[p], r.ops, r.seconds,
                            bench_ops_per_sec(&r), r.checksum);
    total.ops += r.ops;
    total.seconds += r.seconds;
    total.checksum = bench_digest(total.checksum, r.checksum);
  }
  snprintf(patterns + len, sizeof patterns - len, "]");
  args[ARG_PATTERN].value = ALL;
  total.checksum = bench_digest_finish(total.checksum);
  total.verified = bench_verified_count();
  bench_report(&total);
  return 0;
}
