/*
 * large_churn: blocks of several MiB allocated and freed in turn, each written on every
 * 4 KiB page as a program filling a buffer would. An allocator that hands each block back
 * to the OS on free pays a system call and a page fault per page on the next malloc.
 */
#include <stdio.h>

#include "bench_common.h"

enum { ARG_THREADS, ARG_CYCLES, ARG_SLOTS, ARG_SEED, ARG_MIN, ARG_MAX };

#define MIB (1 << 20)

static bench_arg_t args[] = {
    [ARG_THREADS] = {"threads", 2, 1, 256, "threads, each with its own slots", NULL, 0},
    [ARG_CYCLES] = {"cycles", 2000, 1, 1000000000000LL,
                    "cycles per thread: free the block of a random slot, malloc its replacement",
                    NULL, 0},
    [ARG_SLOTS] = {"slots", 2, 1, 1 << 16, "live blocks per thread", NULL, 0},
    [ARG_SEED] = BENCH_ARG_SEED,
    [ARG_MIN] = BENCH_ARG_MIN_SIZE(5 * MIB),
    [ARG_MAX] = BENCH_ARG_MAX_SIZE(25 * MIB),
};

static bench_cli_t cli = {
    "large_churn",
    "Each thread keeps slots blocks of sizes uniform in [min, max]; each cycle frees the block\n"
    "of a random slot (verifying one word on each of its 4 KiB pages) and mallocs a new one\n"
    "in its place, writing one word on each page; one block in 16 is filled and verified whole. Operations: malloc calls plus free calls.",
    args, BENCH_NARGS(args), 0};

/* Blocks allocated on cycles that are multiples of 16 are filled and verified whole. */
#define SAMPLE_MASK 15

typedef struct worker_s {
  void **blocks;
  uint64_t *tags;
  uint8_t *sampled;
  uint32_t slots;
  uint64_t cycles;
  uint64_t min, span;
  uint32_t rng;
  uint64_t digest;
  uint64_t ops;
  char pad[64];
} worker_t;

/* Writes and verifies every page of a block (bench_alloc_paged, bench_free_paged). */
static uint64_t check_and_free(void *block, uint64_t tag, uint64_t slot, int sampled) {
  return bench_free_paged(block, bench_tag_size(tag), tag, slot, sampled);
}

BENCH_NOINLINE void bench_loop_large_churn(worker_t *w) {
  uint32_t rng = w->rng;
  uint64_t h = w->digest, ops = 0;
  for (uint64_t c = 0; c < w->cycles; c++) {
    uint64_t pick = (uint64_t)bench_rand(&rng) * w->slots;
    uint32_t i = (uint32_t)(pick >> 32);
    if (w->blocks[i] != NULL) {
      h = bench_digest(h, check_and_free(w->blocks[i], w->tags[i], i, w->sampled[i]));
      ops++;
    }
    uint64_t size = w->min + ((uint32_t)pick * w->span >> 32);
    /* the tag's slot half counts pages up from a multiple of 2^20, so tags never collide */
    w->tags[i] = bench_tag((uint64_t)i << 20, size);
    w->sampled[i] = (c & SAMPLE_MASK) == 0;
    w->blocks[i] = bench_alloc_paged(size, w->tags[i], w->sampled[i]);
    ops++;
  }
  w->rng = rng;
  w->digest = h;
  w->ops = ops;
}

static void *worker_main(void *p) {
  worker_t *w = p;
  bench_team_begin();
  bench_loop_large_churn(w);
  bench_team_end();
  return NULL;
}

int main(int argc, char **argv) {
  bench_parse_args(&cli, argc, argv);
  bench_require_order(&cli, ARG_MIN, ARG_MAX);
  const unsigned threads = (unsigned)args[ARG_THREADS].value;
  const uint32_t slots = (uint32_t)args[ARG_SLOTS].value;

  worker_t *workers = bench_calloc(threads, sizeof *workers);
  for (unsigned t = 0; t < threads; t++) {
    worker_t *w = &workers[t];
    w->blocks = bench_calloc(slots, sizeof *w->blocks);
    w->tags = bench_calloc(slots, sizeof *w->tags);
    w->sampled = bench_calloc(slots, sizeof *w->sampled);
    w->slots = slots;
    w->cycles = (uint64_t)args[ARG_CYCLES].value;
    w->min = (uint64_t)args[ARG_MIN].value;
    w->span = (uint64_t)(args[ARG_MAX].value - args[ARG_MIN].value + 1);
    w->rng = bench_rng_seed((uint64_t)args[ARG_SEED].value, t);
    w->digest = BENCH_DIGEST_INIT;
  }
  double seconds = bench_run_team(threads, worker_main, workers, sizeof *workers);
  long peak_kb = bench_peak_rss_kb();

  uint64_t h = BENCH_DIGEST_INIT, ops = 0;
  for (unsigned t = 0; t < threads; t++) {
    worker_t *w = &workers[t];
    for (uint32_t i = 0; i < slots; i++) {
      if (w->blocks[i] != NULL) w->digest = bench_digest(w->digest, check_and_free(w->blocks[i], w->tags[i], i, w->sampled[i]));
    }
    h = bench_digest(h, w->digest);
    ops += w->ops;
    free(w->blocks);
    free(w->tags);
    free(w->sampled);
  }
  free(workers);

  bench_result_t r = {ops, seconds, bench_digest_finish(h), bench_verified_count(), NULL, peak_kb};
  bench_report(&r);
  return 0;
}
