/*
 * fragment_stress: how much memory an allocator holds for a fragmented heap. Phases
 * allocate a mix of sizes, free a random 50-90% of everything live (leaving holes), and the
 * next phase allocates sizes from the other band, which the holes fit badly.
 */
#include <inttypes.h>
#include <stdio.h>

#include "bench_common.h"

enum { ARG_PHASES, ARG_BLOCKS, ARG_SEED, ARG_MIN, ARG_MAX };

static bench_arg_t args[] = {
    [ARG_PHASES] = {"phases", 20, 1, 1000000, "phases: each allocates, then frees", NULL, 0},
    [ARG_BLOCKS] = {"blocks", 20000, 1, 1 << 26, "blocks allocated per phase", NULL, 0},
    [ARG_SEED] = BENCH_ARG_SEED,
    [ARG_MIN] = BENCH_ARG_MIN_SIZE(16),
    [ARG_MAX] = BENCH_ARG_MAX_SIZE(4096),
};

static bench_cli_t cli = {
    "fragment_stress",
    "Each phase mallocs blocks blocks, then frees a random 50-90% of all live blocks, chosen at\n"
    "random. Sizes are spread evenly over powers of two (many small, few large): even phases\n"
    "draw from [min, mid], odd phases from [mid, max], mid being the geometric mean, so each\n"
    "phase allocates into the holes of sizes the previous one left. Operations: all mallocs\n"
    "and frees. Extra JSON fields: peakLiveBytes (most bytes requested and not yet freed),\n"
    "rssOverLive (peak RSS bytes / peakLiveBytes; 1.0 would be a perfect fit, the program's\n"
    "own footprint included) and baselineRssKb (peak RSS before the first phase).",
    args, BENCH_NARGS(args), 0};

/* Blocks whose id is a multiple of 64 are filled and verified whole. */
#define SAMPLE_MASK 63

typedef struct heap_s {
  void **ptrs;    /* live blocks, in no order */
  uint64_t *tags; /* their tags: id (order of allocation) and size */
  uint64_t live;
  uint64_t live_bytes;
  uint64_t peak_live_bytes;
  uint32_t next_id;
  uint32_t rng;
  uint64_t ops;
  uint64_t digest;
} heap_t;

typedef struct size_band_s {
  uint32_t min, max;
  uint32_t low_bits, octaves; /* powers of two from 2^low_bits, octaves of them */
} size_band_t;

static uint32_t floor_log2(uint32_t x) {
  return 31u - (uint32_t)__builtin_clz(x);
}

static size_band_t make_band(uint32_t min, uint32_t max) {
  size_band_t b = {min, max, floor_log2(min), floor_log2(max) - floor_log2(min) + 1};
  return b;
}

/* An octave at random, then a size at random within it, clamped to the band. */
static inline uint32_t band_size(const size_band_t *b, uint32_t *rng) {
  uint32_t bits = b->low_bits + bench_below(bench_rand(rng), b->octaves);
  uint32_t size = (1u << bits) + bench_below(bench_rand(rng), 1u << bits);
  return size < b->min ? b->min : size > b->max ? b->max : size;
}

/* The digest folds every allocation's tag and every tag verified at a free, in order. */
BENCH_NOINLINE void bench_loop_fragment_stress(heap_t *heap, uint32_t phases, uint32_t blocks,
                                               const size_band_t bands[2]) {
  uint32_t rng = heap->rng;
  uint64_t h = heap->digest;
  for (uint32_t phase = 0; phase < phases; phase++) {
    const size_band_t *band = &bands[phase & 1];
    for (uint32_t n = 0; n < blocks; n++) {
      uint32_t size = band_size(band, &rng);
      uint32_t id = heap->next_id++;
      uint64_t tag = bench_tag(id, size);
      heap->ptrs[heap->live] = bench_alloc(size, tag, (id & SAMPLE_MASK) == 0);
      heap->tags[heap->live++] = tag;
      heap->live_bytes += size;
      h = bench_digest(h, tag);
    }
    if (heap->live_bytes > heap->peak_live_bytes) heap->peak_live_bytes = heap->live_bytes;
    uint64_t to_free = heap->live * (50 + bench_below(bench_rand(&rng), 41)) / 100;
    for (uint64_t n = 0; n < to_free; n++) {
      uint64_t k = bench_below(bench_rand(&rng), (uint32_t)heap->live);
      uint64_t tag = heap->tags[k], size = bench_tag_size(tag);
      h = bench_digest(h, bench_free(heap->ptrs[k], size, tag, (uint32_t)tag,
                                     (tag & SAMPLE_MASK) == 0));
      heap->live_bytes -= size;
      heap->live--;
      heap->ptrs[k] = heap->ptrs[heap->live];
      heap->tags[k] = heap->tags[heap->live];
    }
    heap->ops += blocks + to_free;
  }
  heap->rng = rng;
  heap->digest = h;
}

int main(int argc, char **argv) {
  bench_parse_args(&cli, argc, argv);
  bench_require_order(&cli, ARG_MIN, ARG_MAX);
  const uint32_t phases = (uint32_t)args[ARG_PHASES].value;
  const uint32_t blocks = (uint32_t)args[ARG_BLOCKS].value;
  const uint32_t min = (uint32_t)args[ARG_MIN].value, max = (uint32_t)args[ARG_MAX].value;

  /* mid: the geometric mean, so both bands span the same number of octaves. */
  uint32_t mid = 1u << ((floor_log2(min) + floor_log2(max) + 1) / 2);
  mid = mid < min ? min : mid > max ? max : mid;
  const size_band_t bands[2] = {make_band(min, mid), make_band(mid, max)};

  /* At most blocks survive a phase (at least half of live is freed), so 2 x blocks holds
   * everything live at any time. */
  heap_t heap = {bench_calloc(2 * (size_t)blocks, sizeof(void *)),
                 bench_calloc(2 * (size_t)blocks, sizeof(uint64_t)),
                 0, 0, 0, 0,
                 bench_rng_seed((uint64_t)args[ARG_SEED].value, 0),
                 0, BENCH_DIGEST_INIT};
  long baseline_kb = bench_peak_rss_kb();

  double t0 = bench_now();
  bench_loop_fragment_stress(&heap, phases, blocks, bands);
  double t1 = bench_now();
  long peak_kb = bench_peak_rss_kb();

  for (uint64_t k = 0; k < heap.live; k++) {
    uint64_t tag = heap.tags[k];
    heap.digest = bench_digest(heap.digest, bench_free(heap.ptrs[k], bench_tag_size(tag), tag,
                                                       (uint32_t)tag, (tag & SAMPLE_MASK) == 0));
  }
  free(heap.ptrs);
  free(heap.tags);

  double rss_over_live = (double)peak_kb * 1024.0 / (double)heap.peak_live_bytes;
  printf("fragment_stress: peak live %" PRIu64 " bytes, peak RSS %ld KiB: RSS / live = %.3f\n",
         heap.peak_live_bytes, peak_kb, rss_over_live);
  char extra[256];
  snprintf(extra, sizeof extra,
           "\"peakLiveBytes\":%" PRIu64 ",\"rssOverLive\":%.4f,\"baselineRssKb\":%ld",
           heap.peak_live_bytes, rss_over_live, baseline_kb);
  /* The peak of the measured region, the figure rssOverLive divides: teardown and printing
   * allocate too (stdout's buffer), and would otherwise count in one and not the other. */
  bench_result_t r = {heap.ops, t1 - t0, bench_digest_finish(heap.digest), bench_verified_count(),
                      extra, peak_kb};
  bench_report(&r);
  return 0;
}
