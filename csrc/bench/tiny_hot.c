/*
 * tiny_hot: the hottest path of a small-object allocator. Each cycle mallocs a batch of
 * same-sized blocks and frees them in reverse order (LIFO), so every malloc after the
 * first cycle can be served from the thread's most recently freed blocks.
 */
#include "bench_common.h"

enum { ARG_SIZE, ARG_BATCH, ARG_CYCLES };

static bench_arg_t args[] = {
    [ARG_SIZE] = {"size", 64, 8, 1 << 20, "block size in bytes", NULL, 0},
    [ARG_BATCH] = {"batch", 100, 1, 1 << 20, "blocks allocated before they are freed", NULL, 0},
    [ARG_CYCLES] = {"cycles", 100000, 1, 1000000000000LL,
                    "cycles: each mallocs batch blocks, then frees them in reverse", NULL, 0},
};

static bench_cli_t cli = {
    "tiny_hot",
    "Each cycle mallocs batch blocks of one size, touching each, then frees them in reverse\n"
    "order. Operations: 2 x batch x cycles. No random choices.",
    args, BENCH_NARGS(args), 0};

/* The digest folds, per cycle, the sum of the tags verified as the blocks were freed. */
BENCH_NOINLINE uint64_t bench_loop_tiny_hot(void **blocks, size_t size, uint32_t batch,
                                            uint64_t cycles, uint64_t h) {
  const uint64_t first = bench_tag(0, size);
  for (; cycles > 0; cycles--) h = bench_digest(h, bench_batch_cycle(blocks, batch, size, first, 1));
  return h;
}

int main(int argc, char **argv) {
  bench_parse_args(&cli, argc, argv);
  const uint32_t batch = (uint32_t)args[ARG_BATCH].value;
  void **blocks = bench_calloc(batch, sizeof *blocks);

  double t0 = bench_now();
  uint64_t h = bench_loop_tiny_hot(blocks, (size_t)args[ARG_SIZE].value, batch,
                                   (uint64_t)args[ARG_CYCLES].value, BENCH_DIGEST_INIT);
  double t1 = bench_now();
  free(blocks);

  bench_result_t r = {2 * (uint64_t)batch * (uint64_t)args[ARG_CYCLES].value, t1 - t0,
                      bench_digest_finish(h), bench_verified_count(), NULL, 0};
  bench_report(&r);
  return 0;
}
