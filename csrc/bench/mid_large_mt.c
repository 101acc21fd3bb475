/*
 * mid_large_mt: the slot churn of random_mixed with mid-sized blocks (8 KiB to about
 * 35 KiB), on several threads at once, each with its own slots (no block changes thread).
 */
#include "bench_churn.h"

enum { ARG_THREADS, ARG_CYCLES, ARG_WS, ARG_SEED, ARG_MIN, ARG_MAX };

static bench_arg_t args[] = {
    [ARG_THREADS] = {"threads", 2, 1, 1024, "threads, each with its own working set", NULL, 0},
    [ARG_CYCLES] = {"cycles", 1000000, 1, 1000000000000LL,
                    "operations per thread: each picks a random slot and frees or fills it", NULL,
                    0},
    [ARG_WS] = {"ws", 256, 1, 1 << 24, "working set per thread: number of slots", NULL, 0},
    [ARG_SEED] = BENCH_ARG_SEED,
    [ARG_MIN] = BENCH_ARG_MIN_SIZE(8192),
    [ARG_MAX] = BENCH_ARG_MAX_SIZE(36000),
};

static bench_cli_t cli = {
    "mid_large_mt",
    "Each thread runs its own random_mixed-style churn: each cycle picks one of its slots at\n"
    "random, frees the block there or mallocs a size drawn uniformly from [min, max] and\n"
    "touches it. Operations: threads x cycles. Every free is local (the thread's own block).",
    args, BENCH_NARGS(args), 0};

/* Slots whose index is a multiple of 256 hold blocks filled and verified whole: a mid-sized
 * fill is thousands of instructions, so fewer blocks are sampled than for small sizes. */
#define SAMPLE_MASK 255

typedef struct worker_s {
  bench_churn_t churn;
  uint64_t cycles;
  char pad[64]; /* keep workers' hot fields on separate cache lines */
} worker_t;

BENCH_NOINLINE void bench_loop_mid_large_mt(bench_churn_t *churn, uint64_t cycles) {
  bench_churn_run(churn, cycles, SAMPLE_MASK);
}

static void *worker_main(void *p) {
  worker_t *w = p;
  bench_team_begin();
  bench_loop_mid_large_mt(&w->churn, w->cycles);
  bench_team_end();
  bench_churn_release(&w->churn, SAMPLE_MASK);
  return NULL;
}

int main(int argc, char **argv) {
  bench_parse_args(&cli, argc, argv);
  bench_require_order(&cli, ARG_MIN, ARG_MAX);
  const unsigned threads = (unsigned)args[ARG_THREADS].value;
  const uint64_t cycles = (uint64_t)args[ARG_CYCLES].value;

  worker_t *workers = bench_calloc(threads, sizeof *workers);
  for (unsigned t = 0; t < threads; t++) {
    bench_churn_init(&workers[t].churn, (uint32_t)args[ARG_WS].value,
                     (uint32_t)args[ARG_MIN].value, (uint32_t)args[ARG_MAX].value,
                     bench_rng_seed((uint64_t)args[ARG_SEED].value, t));
    workers[t].cycles = cycles;
  }
  double seconds = bench_run_team(threads, worker_main, workers, sizeof *workers);

  uint64_t h = BENCH_DIGEST_INIT;
  for (unsigned t = 0; t < threads; t++) h = bench_digest(h, workers[t].churn.digest);
  free(workers);

  bench_result_t r = {threads * cycles, seconds, bench_digest_finish(h), bench_verified_count(),
                      NULL, 0};
  bench_report(&r);
  return 0;
}
