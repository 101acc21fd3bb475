/*
 * cross_thread: every thread allocates blocks of random sizes and hands each to another
 * thread, chosen at random, to free; every thread both allocates and frees remotely, so
 * each page sees its owner's allocations and other threads' frees at the same time.
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>

#include "bench_common.h"

enum { ARG_THREADS, ARG_ITEMS, ARG_SEED, ARG_MIN, ARG_MAX, ARG_DEPTH, ARG_BATCH };

static bench_arg_t args[] = {
    [ARG_THREADS] = {"threads", 2, 2, 64, "threads, each allocating and freeing", NULL, 0},
    [ARG_ITEMS] = {"items", 1000000, 1, 1000000000000LL, "blocks each thread allocates", NULL, 0},
    [ARG_SEED] = BENCH_ARG_SEED,
    [ARG_MIN] = BENCH_ARG_MIN_SIZE(8),
    [ARG_MAX] = BENCH_ARG_MAX_SIZE(16384),
    [ARG_DEPTH] = {"depth", 1024, 1, 1 << 20,
                   "capacity of each queue between two threads, a power of two", NULL, 0},
    [ARG_BATCH] = {"batch", 1, 1, 1 << 20,
                   "blocks allocated for one receiver and handed over at once (at most depth)",
                   NULL, 0},
};

static bench_cli_t cli = {
    "cross_thread",
    "Each thread mallocs items blocks of sizes uniform in [min, max], touches each and passes\n"
    "it to another thread drawn at random, through one bounded queue per pair of threads;\n"
    "between its own allocations it verifies and frees the blocks passed to it. With batch > 1\n"
    "a thread allocates batch blocks for one receiver drawn at random, hands them over at once\n"
    "and then frees what it received: rounds of batches, as in rpmalloc's benchmark. Operations:\n"
    "2 x threads x items; every free is of a block another running thread allocated.",
    args, BENCH_NARGS(args), 0};

#define SAMPLE_MASK 63
#define SPINS_BEFORE_YIELD 64

typedef struct entry_s {
  void *ptr;
  uint64_t tag;
} entry_t;

/* A single-producer single-consumer ring; each index on its own cache line. */
typedef struct ring_s {
  _Alignas(64) _Atomic uint64_t tail; /* written by the sender */
  _Alignas(64) _Atomic uint64_t head; /* written by the receiver */
  _Alignas(64) entry_t *entries;
  uint64_t mask;
} ring_t;

typedef struct worker_s {
  ring_t *rings;    /* rings[from * threads + to] */
  uint32_t threads;
  uint32_t index;
  uint64_t items, batch;
  uint64_t min, span;
  uint32_t rng;
  uint64_t digest;  /* the tags allocated, in order */
  uint64_t freed;   /* sum of the tags verified: independent of the order blocks arrive in */
  uint64_t frees;
  char pad[64];
} worker_t;

static _Atomic unsigned senders_done;

/* Verifies and frees every block waiting in the worker's incoming rings. */
static uint64_t drain(worker_t *w) {
  uint64_t got = 0;
  for (uint32_t from = 0; from < w->threads; from++) {
    if (from == w->index) continue;
    ring_t *q = &w->rings[from * w->threads + w->index];
    uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    for (; head != tail; head++) {
      entry_t e = q->entries[head & q->mask];
      w->freed += bench_free(e.ptr, bench_tag_size(e.tag), e.tag, (uint32_t)e.tag,
                             ((uint32_t)e.tag & SAMPLE_MASK) == 0);
      got++;
    }
    atomic_store_explicit(&q->head, head, memory_order_release);
  }
  w->frees += got;
  return got;
}

BENCH_NOINLINE void bench_loop_cross_thread(worker_t *w) {
  const uint32_t others = w->threads - 1;
  uint32_t rng = w->rng;
  uint64_t h = w->digest;
  for (uint64_t i = 0; i < w->items;) {
    const uint64_t n = w->items - i < w->batch ? w->items - i : w->batch;
    ring_t *q = NULL;
    uint64_t tail = 0;
    for (uint64_t k = 0; k < n; k++, i++) {
      uint32_t r = bench_rand(&rng);
      uint64_t size = w->min + bench_below(r, (uint32_t)w->span);
      if (k == 0) {
        uint32_t to = bench_below(bench_rand(&rng), others);
        if (to >= w->index) to++;
        q = &w->rings[w->index * w->threads + to];
        tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
        /* a full ring: free what others sent meanwhile, so two senders never wait on each other */
        for (unsigned spins = 0; tail + n - atomic_load_explicit(&q->head, memory_order_acquire) > q->mask + 1; spins++) {
          if (drain(w) == 0 && spins >= SPINS_BEFORE_YIELD) sched_yield();
        }
      }
      uint64_t tag = bench_tag((uint32_t)i, size);
      q->entries[(tail + k) & q->mask] = (entry_t){bench_alloc(size, tag, (i & SAMPLE_MASK) == 0), tag};
      h = bench_digest(h, tag);
    }
    /* the receiver sees the whole batch at once */
    atomic_store_explicit(&q->tail, tail + n, memory_order_release);
    if (n > 1 || (i & 15) == 0) drain(w);
  }
  atomic_fetch_add_explicit(&senders_done, 1, memory_order_acq_rel);
  /* every send is visible once all senders are done: one more pass frees the last blocks */
  for (unsigned spins = 0; atomic_load_explicit(&senders_done, memory_order_acquire) < w->threads; spins++) {
    if (drain(w) == 0 && spins >= SPINS_BEFORE_YIELD) sched_yield();
  }
  drain(w);
  w->rng = rng;
  w->digest = h;
}

static void *worker_main(void *p) {
  worker_t *w = p;
  bench_team_begin();
  bench_loop_cross_thread(w);
  bench_team_end();
  return NULL;
}

int main(int argc, char **argv) {
  bench_parse_args(&cli, argc, argv);
  const uint32_t threads = (uint32_t)args[ARG_THREADS].value;
  const uint64_t items = (uint64_t)args[ARG_ITEMS].value;
  bench_require_order(&cli, ARG_MIN, ARG_MAX);
  bench_require_power_of_two(&cli, ARG_DEPTH);
  const uint64_t depth = (uint64_t)args[ARG_DEPTH].value;
  if (args[ARG_BATCH].value > args[ARG_DEPTH].value)
    bench_arg_error(&cli, ARG_BATCH, "must be at most depth (%lld), got %lld", args[ARG_DEPTH].value,
                    args[ARG_BATCH].value);

  ring_t *rings = bench_calloc((size_t)threads * threads, sizeof *rings);
  for (uint32_t k = 0; k < threads * threads; k++) {
    if (k / threads == k % threads) continue;
    rings[k].entries = bench_calloc(depth, sizeof(entry_t));
    rings[k].mask = depth - 1;
  }
  worker_t *workers = bench_calloc(threads, sizeof *workers);
  for (uint32_t t = 0; t < threads; t++) {
    worker_t *w = &workers[t]; /* calloc'd: the sums start at 0 */
    w->rings = rings;
    w->threads = threads;
    w->index = t;
    w->items = items;
    w->batch = (uint64_t)args[ARG_BATCH].value;
    w->min = (uint64_t)args[ARG_MIN].value;
    w->span = (uint64_t)(args[ARG_MAX].value - args[ARG_MIN].value + 1);
    w->rng = bench_rng_seed((uint64_t)args[ARG_SEED].value, t);
    w->digest = BENCH_DIGEST_INIT;
  }
  double seconds = bench_run_team(threads, worker_main, workers, sizeof *workers);

  uint64_t h = BENCH_DIGEST_INIT, frees = 0;
  for (uint32_t t = 0; t < threads; t++) {
    h = bench_digest(bench_digest(h, workers[t].digest), workers[t].freed);
    frees += workers[t].frees;
  }
  if (frees != threads * items) {
    fprintf(stderr, "cross_thread: %llu blocks freed of %llu allocated\n", (unsigned long long)frees,
            (unsigned long long)(threads * items));
    return BENCH_EXIT_CORRUPT;
  }
  for (uint32_t k = 0; k < threads * threads; k++) free(rings[k].entries);
  free(rings);
  free(workers);

  bench_result_t r = {2 * threads * items, seconds, bench_digest_finish(h), bench_verified_count(),
                      NULL, 0};
  bench_report(&r);
  return 0;
}
