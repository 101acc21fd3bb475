/*
 * larson: the Larson server benchmark. Each thread owns an array of blocks of random sizes;
 * it makes rounds passes of chunks replacements (free a random block, malloc another) and
 * then hands the array to a successor thread, which frees blocks its exited predecessor
 * allocated: a generation's first frees are remote, into pages whose owner is gone.
 */
#include "bench_common.h"

enum { ARG_SECONDS, ARG_MIN, ARG_MAX, ARG_CHUNKS, ARG_ROUNDS, ARG_SEED, ARG_THREADS, ARG_GENERATIONS };

static bench_arg_t args[] = {
    [ARG_SECONDS] = {"seconds", 0, 0, 3600,
                     "0: run exactly `generations` thread generations; > 0: start generations "
                     "until this time is up", NULL, 0},
    [ARG_MIN] = BENCH_ARG_MIN_SIZE(8),
    [ARG_MAX] = BENCH_ARG_MAX_SIZE(128),
    [ARG_CHUNKS] = {"chunks", 1000, 1, 1 << 24,
                    "blocks per thread; also the replacements each thread makes per round", NULL,
                    0},
    [ARG_ROUNDS] = {"rounds", 100, 1, 100000000,
                    "rounds of chunks replacements a thread makes before its successor takes over",
                    NULL, 0},
    [ARG_SEED] = BENCH_ARG_SEED,
    [ARG_THREADS] = {"threads", 2, 1, 1024, "threads per generation", NULL, 0},
    [ARG_GENERATIONS] = {"generations", 8, 1, 100000000,
                         "thread generations when seconds is 0; with seconds > 0, the generations "
                         "actually run are reported", NULL, 0},
};

static bench_cli_t cli = {
    "larson" BENCH_CXX_SUFFIX,
    "Each of threads threads owns chunks blocks (sizes uniform in [min, max], allocated before\n"
    "the measured region). A generation starts one thread per array; the thread makes rounds\n"
    "rounds of chunks replacements of random blocks (free, then malloc a new random size) and\n"
    "exits, and the next generation's thread inherits the array, so its first frees are\n"
    "remote, into pages of a thread that has exited. Operations: 2 x chunks x rounds x threads\n"
    "per generation. The seeds' settings: Tiny is min=8 max=128, Mid is min=2048 max=32768.\n"
    "larson_cxx: the same through C++ operator new and sized operator delete.",
    args, BENCH_NARGS(args), 0};

/* Blocks whose array index is a multiple of 64 are filled and verified whole. */
#define SAMPLE_MASK 63

typedef struct area_s {
  void **blocks;
  uint32_t *sizes;
  uint64_t slot_base; /* tags use slot_base + index, so no two threads' blocks look alike */
  uint32_t chunks;
  uint64_t rounds;
  uint32_t min, span;
  uint32_t rng;   /* carried from round to round */
  uint64_t digest;
  char pad[64];
} area_t;

/* One thread's life: rounds x chunks replacements of random blocks. The digest folds the
 * tags read back from the blocks freed. */
BENCH_NOINLINE void bench_loop_larson_thread(area_t *a) {
  void **const blocks = a->blocks;
  uint32_t *const sizes = a->sizes;
  const uint64_t chunks = a->chunks, min = a->min, span = a->span, base = a->slot_base;
  uint32_t rng = a->rng;
  uint64_t h = a->digest;
  for (uint64_t n = chunks * a->rounds; n > 0; n--) {
    uint64_t pick = (uint64_t)bench_rand(&rng) * chunks;
    uint64_t v = pick >> 32;
    const int sampled = (v & SAMPLE_MASK) == 0;
    h = bench_digest(h, bench_free(blocks[v], sizes[v], bench_tag(base + v, sizes[v]), base + v,
                                   sampled));
    uint32_t size = (uint32_t)(min + ((uint32_t)pick * span >> 32));
    blocks[v] = bench_alloc(size, bench_tag(base + v, size), sampled);
    sizes[v] = size;
  }
  a->rng = rng;
  a->digest = h;
}

static void *round_main(void *p) {
  bench_loop_larson_thread(p);
  bench_publish_verified();
  return NULL;
}

/* The first blocks are allocated by the main thread, as the original benchmark does. */
static void area_init(area_t *a, unsigned index, uint32_t chunks, uint64_t rounds, uint32_t min,
                      uint32_t max, uint64_t seed) {
  a->blocks = bench_calloc(chunks, sizeof *a->blocks);
  a->sizes = bench_calloc(chunks, sizeof *a->sizes);
  a->slot_base = (uint64_t)index * chunks;
  a->chunks = chunks;
  a->rounds = rounds;
  a->min = min;
  a->span = max - min + 1;
  a->rng = bench_rng_seed(seed, index);
  a->digest = BENCH_DIGEST_INIT;
  for (uint32_t v = 0; v < chunks; v++) {
    uint32_t size = min + bench_below(bench_rand(&a->rng), a->span);
    a->blocks[v] = bench_alloc(size, bench_tag(a->slot_base + v, size), (v & SAMPLE_MASK) == 0);
    a->sizes[v] = size;
  }
}

static void area_release(area_t *a) {
  for (uint32_t v = 0; v < a->chunks; v++) {
    uint64_t tag = bench_tag(a->slot_base + v, a->sizes[v]);
    a->digest = bench_digest(a->digest, bench_free(a->blocks[v], a->sizes[v], tag,
                                                   a->slot_base + v, (v & SAMPLE_MASK) == 0));
  }
  free(a->blocks);
  free(a->sizes);
}

int main(int argc, char **argv) {
  bench_parse_args(&cli, argc, argv);
  bench_require_order(&cli, ARG_MIN, ARG_MAX);
  const double seconds = (double)args[ARG_SECONDS].value;
  const uint32_t chunks = (uint32_t)args[ARG_CHUNKS].value;
  const uint64_t rounds = (uint64_t)args[ARG_ROUNDS].value;
  const uint64_t generations = (uint64_t)args[ARG_GENERATIONS].value;
  const unsigned threads = (unsigned)args[ARG_THREADS].value;

  area_t *areas = bench_calloc(threads, sizeof *areas);
  pthread_t *ids = bench_calloc(threads, sizeof *ids);
  for (unsigned t = 0; t < threads; t++)
    area_init(&areas[t], t, chunks, rounds, (uint32_t)args[ARG_MIN].value,
              (uint32_t)args[ARG_MAX].value, (uint64_t)args[ARG_SEED].value);

  double t0 = bench_now(), t1 = t0;
  uint64_t done = 0;
  while (seconds > 0 ? t1 - t0 < seconds : done < generations) {
    for (unsigned t = 0; t < threads; t++) bench_thread_start(&ids[t], round_main, &areas[t]);
    for (unsigned t = 0; t < threads; t++) bench_thread_join(ids[t]);
    done++;
    t1 = bench_now();
  }

  uint64_t h = BENCH_DIGEST_INIT;
  for (unsigned t = 0; t < threads; t++) {
    area_release(&areas[t]);
    h = bench_digest(h, areas[t].digest);
  }
  free(ids);
  free(areas);

  args[ARG_GENERATIONS].value = (long long)done;
  bench_result_t r = {2 * (uint64_t)chunks * rounds * threads * done, t1 - t0, bench_digest_finish(h),
                      bench_verified_count(), NULL, 0};
  bench_report(&r);
  return 0;
}
