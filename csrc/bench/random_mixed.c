/*
 * random_mixed: random malloc/free of mixed small sizes over a working set of slots.
 */
#include "bench_churn.h"

enum { ARG_CYCLES, ARG_WS, ARG_SEED, ARG_MIN, ARG_MAX };

static bench_arg_t args[] = {
    [ARG_CYCLES] = {"cycles", 10000000, 1, 1000000000000LL,
                    "operations: each picks a random slot and frees or fills it", NULL, 0},
    [ARG_WS] = {"ws", 8192, 1, 1 << 26, "working set: number of slots", NULL, 0},
    [ARG_SEED] = BENCH_ARG_SEED,
    [ARG_MIN] = BENCH_ARG_MIN_SIZE(16),
    [ARG_MAX] = BENCH_ARG_MAX_SIZE(1039),
};

/* Slots whose index is a multiple of 64 hold blocks filled and verified whole: about three
 * instructions per operation, so the check does not dominate the count it is part of. */
#define SAMPLE_MASK 63

BENCH_NOINLINE void bench_loop_random_mixed(bench_churn_t *churn, uint64_t cycles) {
  bench_churn_run(churn, cycles, SAMPLE_MASK);
}

static bench_cli_t cli = {
    "random_mixed",
    "Each cycle picks a slot at random: frees its block when the slot is occupied, otherwise\n"
    "mallocs a size drawn uniformly from [min, max] and touches it. One operation per cycle.",
    args, BENCH_NARGS(args), 0};

int main(int argc, char **argv) {
  bench_parse_args(&cli, argc, argv);
  bench_require_order(&cli, ARG_MIN, ARG_MAX);

  bench_churn_t churn;
  bench_churn_init(&churn, (uint32_t)args[ARG_WS].value, (uint32_t)args[ARG_MIN].value,
                   (uint32_t)args[ARG_MAX].value,
                   bench_rng_seed((uint64_t)args[ARG_SEED].value, 0));

  double t0 = bench_now();
  bench_loop_random_mixed(&churn, (uint64_t)args[ARG_CYCLES].value);
  double t1 = bench_now();

  bench_churn_release(&churn, SAMPLE_MASK);
  uint64_t checksum = bench_digest_finish(churn.digest);

  bench_result_t r = {(uint64_t)args[ARG_CYCLES].value, t1 - t0, checksum, bench_verified_count(),
                      NULL, 0};
  bench_report(&r);
  return 0;
}
