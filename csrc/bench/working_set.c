/*
 * working_set: random picks over a big set of slots, with skewed sizes. Each thread owns
 * `slots` slots; a cycle picks one (uniformly, or with an 80/20 skew) and frees its block,
 * then, in `toggle` mode only if the slot was empty, in `replace` mode always, allocates a
 * block of a size drawn from a skewed distribution and writes it.
 */
#include <math.h>
#include <stdio.h>

#include "bench_churn.h"

enum {
  ARG_THREADS, ARG_CYCLES, ARG_SLOTS, ARG_SEED, ARG_PICK, ARG_SIZES, ARG_MIN, ARG_MAX,
  ARG_MODE, ARG_TOUCH
};

static const char *const pick_names[] = {"uniform", "pareto", NULL};
static const char *const size_names[] = {"geometric", "inverse-square", NULL};
static const char *const mode_names[] = {"toggle", "replace", NULL};
static const char *const touch_names[] = {"all", "head", NULL};
enum { PICK_UNIFORM, PICK_PARETO };
enum { SIZES_GEOMETRIC, SIZES_INVERSE_SQUARE };
enum { MODE_TOGGLE, MODE_REPLACE };
enum { TOUCH_ALL, TOUCH_HEAD };

static bench_arg_t args[] = {
    [ARG_THREADS] = {"threads", 1, 1, 128, "threads, each with its own slots", NULL, 0},
    [ARG_CYCLES] = {"cycles", 20000000, 1, 1000000000000LL, "cycles per thread", NULL, 0},
    [ARG_SLOTS] = {"slots", 262144, 1, 1 << 24, "slots per thread", NULL, 0},
    [ARG_SEED] = BENCH_ARG_SEED,
    [ARG_PICK] = {"pick", PICK_PARETO, 0, 0,
                  "how a cycle picks its slot: uniform, or pareto (80% of picks go to 20% of "
                  "the slots, and so on within them)", pick_names, 0},
    [ARG_SIZES] = {"sizes", SIZES_GEOMETRIC, 0, 0,
                   "size distribution: geometric (half in [min, the power of two >= min], a "
                   "quarter in the next doubling, and so on up to max) or inverse-square "
                   "(density proportional to 1/size^2 over [min, max])", size_names, 0},
    [ARG_MIN] = {"min", 5, 1, 1 << 30, "smallest block size in bytes", NULL, 0},
    [ARG_MAX] = {"max", 1024, 1, 1 << 30, "largest block size in bytes", NULL, 0},
    [ARG_MODE] = {"mode", MODE_TOGGLE, 0, 0,
                  "toggle: free the slot's block if it has one, else allocate one; replace: "
                  "free the slot's block (if any) and allocate another", mode_names, 0},
    [ARG_TOUCH] = {"touch", TOUCH_ALL, 0, 0,
                   "all: write every byte of a new block and verify every byte before the "
                   "free; head: only the first 8 bytes (every byte in one slot in 64)",
                   touch_names, 0},
};

static bench_cli_t cli = {
    "working_set",
    "Each thread owns `slots` slots. A cycle picks one of them (uniform or 80/20 pareto): in\n"
    "toggle mode it verifies and frees the slot's block, or allocates a block and writes it\n"
    "when the slot is empty; in replace mode it frees the block (if any) and allocates another\n"
    "(glibc's bench-malloc-thread pattern). Sizes: geometric (default: half 5-8 B, a quarter\n"
    "9-16 B, ... up to 1 KiB) or inverse-square. Operations: malloc calls plus free calls.",
    args, BENCH_NARGS(args), 0};

/* Both draws (a slot, a size) read a table of 1024 equally likely buckets, each uniform over
 * [lo, lo + span): one load and a multiplication, whatever the distribution. */
#define BUCKET_BITS 10
#define BUCKETS (1u << BUCKET_BITS)
#define FRACTION_BITS (32 - BUCKET_BITS)

typedef struct bucket_s {
  uint32_t lo, span;
} bucket_t;

static inline uint32_t draw(const bucket_t *table, uint32_t r) {
  const bucket_t b = table[r >> FRACTION_BITS];
  const uint64_t fraction = r & ((1u << FRACTION_BITS) - 1);
  return b.lo + (uint32_t)((fraction * b.span) >> FRACTION_BITS);
}

/* Buckets j cover [q(j / BUCKETS), q((j + 1) / BUCKETS)) of a quantile function q over
 * [first, last] (the last bucket ends at last). */
static void fill_quantiles(bucket_t *table, double (*q)(double u, double first, double last),
                           uint32_t first, uint32_t last) {
  for (uint32_t j = 0; j < BUCKETS; j++) {
    const uint32_t lo = (uint32_t)q((double)j / BUCKETS, first, last);
    const uint32_t next = j + 1 < BUCKETS ? (uint32_t)q((double)(j + 1) / BUCKETS, first, last) : last + 1;
    table[j].lo = lo;
    table[j].span = next > lo ? next - lo : 1;
  }
}

static double quantile_uniform(double u, double first, double last) {
  return first + u * (last - first + 1);
}

/* The self-similar 80/20 distribution: the first fraction h of the slots gets 1 - h of the
 * picks, recursively, with h = 0.2. The hottest slots are the lowest. */
static double quantile_pareto(double u, double first, double last) {
  return first + (last - first + 1) * pow(u, log(0.2) / log(0.8));
}

/* Density proportional to 1/size^2 over [first, last]: glibc's bench-malloc-thread sizes. */
static double quantile_inverse_square(double u, double first, double last) {
  return 1.0 / (1.0 / first - u * (1.0 / first - 1.0 / (last + 1)));
}

/* Half of the buckets for [min, p] (p the power of two >= min), a quarter for (p, 2p], and so
 * on; the last doubling (cut at max) takes the buckets left. */
static void fill_geometric(bucket_t *table, uint32_t min, uint32_t max) {
  uint64_t p = 1;
  while (p < min) p <<= 1;
  uint32_t j = 0, lo = min;
  for (uint32_t share = BUCKETS / 2; j < BUCKETS; share /= 2) {
    const uint64_t hi = p < max ? p : max;
    const int last = hi == max || share <= 1;
    const uint32_t end = last ? BUCKETS : j + share;
    for (; j < end; j++) {
      table[j].lo = lo;
      table[j].span = (uint32_t)(last ? max - lo + 1 : hi - lo + 1);
    }
    lo = (uint32_t)hi + 1;
    p <<= 1;
  }
}

/* Slots whose index is a multiple of 64 are written and verified whole with touch=head. */
#define SAMPLE_MASK 63

typedef struct worker_s {
  bench_slot_t *slots;
  const bucket_t *pick, *sizes;
  uint64_t cycles, slot_base, ops, verified;
  uint32_t rng;
  int replace, touch_all;
  uint64_t digest;
  char pad[64]; /* keep workers' hot fields on separate cache lines */
} worker_t;

/* Byte k of a block holds byte k mod 8 of its tag: every 8-byte-aligned word is the tag, and
 * a word or half word at any offset is a rotation of it. So a block is written and read in
 * whole words, the last one overlapping the one before (no loop over tail bytes, whose
 * varying length would cost the loop a mispredicted branch per block). */
static inline uint64_t pattern_at(uint64_t tag, size_t offset) {
  const unsigned r = 8 * (unsigned)(offset & 7);
  return r == 0 ? tag : tag >> r | tag << (64 - r);
}

BENCH_ALWAYS_INLINE void write_block(unsigned char *p, size_t n, uint64_t tag) {
  if (n >= 8) {
    for (size_t k = 0; k + 8 <= n; k += 8) bench_put_tag(p + k, tag);
    bench_put_tag(p + n - 8, pattern_at(tag, n - 8));
  } else if (n >= 4) {
    const uint32_t head = (uint32_t)tag, tail = (uint32_t)pattern_at(tag, n - 4);
    memcpy(p, &head, 4);
    memcpy(p + n - 4, &tail, 4);
  } else {
    for (size_t k = 0; k < n; k++) p[k] = (unsigned char)(tag >> 8 * k);
  }
}

BENCH_ALWAYS_INLINE int block_holds(const unsigned char *p, size_t n, uint64_t tag) {
  if (n >= 8) {
    uint64_t bad = bench_load_word(p + n - 8) ^ pattern_at(tag, n - 8);
    for (size_t k = 0; k + 8 <= n; k += 8) bad |= bench_load_word(p + k) ^ tag;
    return bad == 0;
  }
  if (n >= 4) {
    uint32_t head, tail;
    memcpy(&head, p, 4);
    memcpy(&tail, p + n - 4, 4);
    return head == (uint32_t)tag && tail == (uint32_t)pattern_at(tag, n - 4);
  }
  for (size_t k = 0; k < n; k++)
    if (p[k] != (unsigned char)(tag >> 8 * k)) return 0;
  return 1;
}

/* Names the first byte that differs (exit 3). */
BENCH_NORETURN BENCH_NOINLINE static void fail_block(const unsigned char *p, size_t size, size_t n,
                                                     uint64_t tag, uint64_t slot) {
  for (size_t k = 0; k < n; k++) {
    const uint64_t want = (tag >> 8 * (k % 8)) & 0xff;
    if (p[k] != want) bench_fail_word(p, size, slot, "byte", k, want, p[k]);
  }
  bench_fail_tag(p, size, tag, slot);
}

/* How many bytes of a block of `size` bytes in slot i are written and verified. */
BENCH_ALWAYS_INLINE size_t touched(const worker_t *w, uint64_t i, size_t size) {
  return w->touch_all || (i & SAMPLE_MASK) == 0 || size < 8 ? size : 8;
}

BENCH_NOINLINE void bench_loop_working_set(worker_t *w) {
  bench_slot_t *const slots = w->slots;
  const bucket_t *const pick = w->pick, *const sizes = w->sizes;
  const uint64_t base = w->slot_base;
  uint32_t rng = w->rng;
  uint64_t h = w->digest, ops = 0, verified = 0;
  for (uint64_t n = w->cycles; n > 0; n--) {
    const uint32_t i = draw(pick, bench_rand(&rng));
    bench_slot_t *const s = &slots[i];
    if (s->block != NULL) {
      const uint64_t tag = s->tag;
      const size_t size = bench_tag_size(tag), len = touched(w, i, size);
      if (bench_unlikely(!block_holds(s->block, len, tag))) fail_block(s->block, size, len, tag, base + i);
      bench_release(s->block, size);
      s->block = NULL;
      h = bench_digest(h, tag);
      verified += len == size;
      ops++;
      if (!w->replace) continue;
    }
    const size_t size = draw(sizes, bench_rand(&rng));
    const uint64_t tag = bench_tag(base + i, size);
    unsigned char *p = bench_malloc(size);
    if (bench_unlikely(p == NULL)) bench_fail_nomem(size);
    write_block(p, touched(w, i, size), tag);
    s->block = p;
    s->tag = tag;
    ops++;
  }
  w->rng = rng;
  w->digest = h;
  w->ops = ops;
  w->verified = verified;
}

static void *worker_main(void *arg) {
  worker_t *w = arg;
  bench_team_begin();
  bench_loop_working_set(w);
  bench_team_end();
  /* teardown: verify and free what is left, in slot order, into the digest */
  for (uint64_t i = 0; i < (uint64_t)args[ARG_SLOTS].value; i++) {
    bench_slot_t *const s = &w->slots[i];
    if (s->block == NULL) continue;
    const size_t size = bench_tag_size(s->tag), len = touched(w, i, size);
    if (!block_holds(s->block, len, s->tag)) fail_block(s->block, size, len, s->tag, w->slot_base + i);
    bench_release(s->block, size);
    w->digest = bench_digest(w->digest, s->tag);
    w->verified += len == size;
  }
  free(w->slots);
  return NULL;
}

int main(int argc, char **argv) {
  bench_parse_args(&cli, argc, argv);
  bench_require_order(&cli, ARG_MIN, ARG_MAX);
  const unsigned threads = (unsigned)args[ARG_THREADS].value;
  const uint32_t nslots = (uint32_t)args[ARG_SLOTS].value;
  const uint32_t min = (uint32_t)args[ARG_MIN].value, max = (uint32_t)args[ARG_MAX].value;

  static bucket_t pick[BUCKETS], sizes[BUCKETS];
  fill_quantiles(pick, args[ARG_PICK].value == PICK_PARETO ? quantile_pareto : quantile_uniform, 0,
                 nslots - 1);
  if (args[ARG_SIZES].value == SIZES_GEOMETRIC)
    fill_geometric(sizes, min, max);
  else
    fill_quantiles(sizes, quantile_inverse_square, min, max);

  worker_t *workers = bench_calloc(threads, sizeof *workers);
  for (unsigned t = 0; t < threads; t++) {
    worker_t *w = &workers[t];
    w->slots = bench_calloc(nslots, sizeof *w->slots);
    w->pick = pick;
    w->sizes = sizes;
    w->cycles = (uint64_t)args[ARG_CYCLES].value;
    w->slot_base = (uint64_t)t * nslots;
    w->rng = bench_rng_seed((uint64_t)args[ARG_SEED].value, t);
    w->replace = args[ARG_MODE].value == MODE_REPLACE;
    w->touch_all = args[ARG_TOUCH].value == TOUCH_ALL;
    w->digest = BENCH_DIGEST_INIT;
  }
  double seconds = bench_run_team(threads, worker_main, workers, sizeof *workers);

  uint64_t h = BENCH_DIGEST_INIT, ops = 0, verified = 0;
  for (unsigned t = 0; t < threads; t++) {
    h = bench_digest(h, workers[t].digest);
    ops += workers[t].ops;
    verified += workers[t].verified;
  }
  free(workers);

  bench_result_t r = {ops, seconds, bench_digest_finish(h), verified, NULL, 0};
  bench_report(&r);
  return 0;
}
