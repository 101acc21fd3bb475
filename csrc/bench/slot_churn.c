/*
 * slot_churn: every thread keeps a working set of slots and churns it, the pattern of
 * rpmalloc's benchmark (mimalloc-bench's rptest). Each loop a thread frees blocks of slots
 * scattered over its set, frees the batches other threads handed it, allocates blocks into
 * scattered slots (freeing what a slot held), and every cross-th loop allocates one more
 * batch and hands it to the next thread. Sizes fall off linearly from min to max, so most
 * blocks are small and mid ones and a few are large; every page of a block is written, so
 * the memory an allocator keeps shows in the peak RSS. The threads are started afresh each
 * round, so a round's threads reuse what the previous round's left behind.
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>

#include "bench_common.h"

enum { ARG_THREADS, ARG_LOOPS, ARG_SLOTS, ARG_OPS, ARG_CROSS, ARG_SEED, ARG_MIN, ARG_MAX, ARG_ROUNDS };

static bench_arg_t args[] = {
    [ARG_THREADS] = {"threads", 2, 1, 64, "threads, each with its own slots", NULL, 0},
    [ARG_LOOPS] = {"loops", 20000, 1, 1000000000, "loops each thread runs a round", NULL, 0},
    [ARG_SLOTS] = {"slots", 1000, 2, 1 << 24, "slots in each thread's working set", NULL, 0},
    [ARG_OPS] = {"ops", 100, 1, 1 << 20,
                 "scale of a loop: 30-99% of ops allocations, 80% of that in frees", NULL, 0},
    [ARG_CROSS] = {"cross", 2, 0, 1 << 20,
                   "every cross-th loop hands a batch to the next thread (0: never)", NULL, 0},
    [ARG_SEED] = BENCH_ARG_SEED,
    [ARG_MIN] = BENCH_ARG_MIN_SIZE(8),
    [ARG_MAX] = BENCH_ARG_MAX_SIZE(16000),
    [ARG_ROUNDS] = {"rounds", 2, 1, 1000000, "rounds, each with fresh threads", NULL, 0},
};

static bench_cli_t cli = {
    "slot_churn",
    "rounds rounds of threads threads, started afresh each round. A thread owns slots slots\n"
    "and runs loops loops. A loop draws a = ops x (30..99)% and f = 80% of ops x (30..99)%;\n"
    "it frees the blocks of f slots, stepping through the slots by a prime stride, frees\n"
    "every batch other threads handed it, then allocates a blocks into slots taken by\n"
    "another prime stride (freeing a block a slot still holds). Every cross-th loop it also\n"
    "allocates a batch of a / 4 blocks and hands it to the next thread, which frees it in its\n"
    "next loop. Sizes fall off linearly over [min, max] (the smaller of two uniform draws).\n"
    "Every block has its tag written on each of its 4 KiB pages and in its last word, and is\n"
    "verified when freed. A thread frees its slots when its loops are done and frees the\n"
    "batches sent to it until every thread is done. Operations: 2 x the blocks allocated (a\n"
    "batch's own array comes from calloc and is not counted); the rounds are measured, not\n"
    "the threads' start and exit.",
    args, BENCH_NARGS(args), 0};

#define SAMPLE_MASK 63
#define CROSS_SHARE 4 /* a batch is a / CROSS_SHARE blocks */

/* A batch handed to another thread: its blocks and their tags. The batch itself is the
 * program's bookkeeping (calloc, not counted), so an allocator that corrupts blocks is caught
 * by the blocks' checks rather than by a crash on a clobbered list. */
typedef struct batch_s {
  struct batch_s *next;
  uint32_t count;
  struct { void *ptr; uint64_t tag; } blocks[];
} batch_t;

typedef struct inbox_s {
  _Alignas(64) _Atomic(batch_t *) head; /* a stack of batches, taken whole by its owner */
} inbox_t;

typedef struct worker_s {
  inbox_t *inboxes;
  uint32_t threads, index;
  uint64_t loops, ops, cross;
  uint32_t nslots, alloc_stride, free_stride;
  uint64_t min, span;
  uint32_t rng;
  uint32_t serial;                      /* the next tag's slot field */
  void **slots;
  uint64_t *slot_tags;
  uint64_t digest;                      /* the tags allocated, in order */
  uint64_t allocated_sum, freed_sum;    /* of tags: equal in the end when every block came back */
  uint64_t allocated;                   /* blocks */
  char pad[64];
} worker_t;

static _Atomic unsigned workers_done;

static inline uint64_t draw_size(worker_t *w, uint32_t *rng) {
  const uint32_t a = bench_below(bench_rand(rng), (uint32_t)w->span);
  const uint32_t b = bench_below(bench_rand(rng), (uint32_t)w->span);
  return w->min + (a < b ? a : b);
}

static inline void *new_block(worker_t *w, uint64_t size, uint64_t *tag_out) {
  const uint64_t tag = bench_tag(w->serial++, size);
  void *p = bench_alloc_paged(size, tag, (tag & SAMPLE_MASK) == 0);
  w->digest = bench_digest(w->digest, tag);
  w->allocated_sum += tag;
  w->allocated++;
  *tag_out = tag;
  return p;
}

static inline void free_block(worker_t *w, void *p, uint64_t tag) {
  w->freed_sum += bench_free_paged(p, bench_tag_size(tag), tag, (uint32_t)tag, (tag & SAMPLE_MASK) == 0);
}

/* Frees every batch handed to w so far; returns how many there were. */
static unsigned free_received(worker_t *w) {
  batch_t *b = atomic_exchange_explicit(&w->inboxes[w->index].head, NULL, memory_order_acquire);
  unsigned n = 0;
  while (b != NULL) {
    batch_t *next = b->next;
    for (uint32_t k = 0; k < b->count; k++) free_block(w, b->blocks[k].ptr, b->blocks[k].tag);
    free(b);
    b = next;
    n++;
  }
  return n;
}

static void send_batch(worker_t *w, uint32_t count, uint32_t *rng) {
  const uint64_t bytes = sizeof(batch_t) + (uint64_t)count * sizeof(((batch_t *)0)->blocks[0]);
  batch_t *b = bench_calloc(1, bytes);
  b->count = count;
  for (uint32_t k = 0; k < count; k++) b->blocks[k].ptr = new_block(w, draw_size(w, rng), &b->blocks[k].tag);
  inbox_t *to = &w->inboxes[(w->index + 1) % w->threads];
  batch_t *head = atomic_load_explicit(&to->head, memory_order_relaxed);
  do {
    b->next = head;
  } while (!atomic_compare_exchange_weak_explicit(&to->head, &head, b, memory_order_release,
                                                  memory_order_relaxed));
}

BENCH_NOINLINE void bench_loop_slot_churn(worker_t *w) {
  uint32_t rng = w->rng;
  uint32_t alloc_at = 0, free_at = 0;
  for (uint64_t loop = 0; loop < w->loops; loop++) {
    const uint32_t a = (uint32_t)(w->ops * (30 + bench_below(bench_rand(&rng), 70)) / 100);
    const uint32_t f = (uint32_t)(w->ops * 8 * (30 + bench_below(bench_rand(&rng), 70)) / 1000);
    for (uint32_t k = 0; k < f; k++) {
      if (w->slots[free_at] != NULL) {
        free_block(w, w->slots[free_at], w->slot_tags[free_at]);
        w->slots[free_at] = NULL;
      }
      free_at = (free_at + w->free_stride) % w->nslots;
    }
    free_received(w);
    for (uint32_t k = 0; k < a; k++) {
      if (w->slots[alloc_at] != NULL) free_block(w, w->slots[alloc_at], w->slot_tags[alloc_at]);
      w->slots[alloc_at] = new_block(w, draw_size(w, &rng), &w->slot_tags[alloc_at]);
      alloc_at = (alloc_at + w->alloc_stride) % w->nslots;
    }
    if (w->cross != 0 && w->threads > 1 && loop % w->cross == 0 && a >= CROSS_SHARE)
      send_batch(w, a / CROSS_SHARE, &rng);
  }
  for (uint32_t s = 0; s < w->nslots; s++) {
    if (w->slots[s] != NULL) free_block(w, w->slots[s], w->slot_tags[s]);
    w->slots[s] = NULL;
  }
  /* batches are sent only inside the loops: once every thread is done, one more pass frees the last */
  atomic_fetch_add_explicit(&workers_done, 1, memory_order_acq_rel);
  while (atomic_load_explicit(&workers_done, memory_order_acquire) < w->threads) {
    if (free_received(w) == 0) sched_yield();
  }
  free_received(w);
  w->rng = rng;
}

static void *worker_main(void *p) {
  worker_t *w = p;
  bench_team_begin();
  bench_loop_slot_churn(w);
  bench_team_end();
  return NULL;
}

/* The smallest of a few primes that shares no factor with n, from index start on. */
static uint32_t coprime_stride(uint32_t n, unsigned start) {
  static const uint32_t primes[] = {7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61};
  for (unsigned i = start; i < sizeof primes / sizeof primes[0]; i++)
    if (n % primes[i] != 0) return primes[i] % n;
  return 1;
}

int main(int argc, char **argv) {
  bench_parse_args(&cli, argc, argv);
  bench_require_order(&cli, ARG_MIN, ARG_MAX);
  const uint32_t threads = (uint32_t)args[ARG_THREADS].value;
  const uint32_t nslots = (uint32_t)args[ARG_SLOTS].value;
  const uint64_t rounds = (uint64_t)args[ARG_ROUNDS].value;
  const uint64_t seed = (uint64_t)args[ARG_SEED].value;

  inbox_t *inboxes = bench_calloc(threads, sizeof *inboxes);
  worker_t *workers = bench_calloc(threads, sizeof *workers);
  const uint32_t alloc_stride = coprime_stride(nslots, 0);
  const uint32_t free_stride = coprime_stride(nslots, 1);
  for (uint32_t t = 0; t < threads; t++) {
    worker_t *w = &workers[t]; /* calloc'd: the sums start at 0 */
    w->inboxes = inboxes;
    w->threads = threads;
    w->index = t;
    w->loops = (uint64_t)args[ARG_LOOPS].value;
    w->ops = (uint64_t)args[ARG_OPS].value;
    w->cross = (uint64_t)args[ARG_CROSS].value;
    w->nslots = nslots;
    w->alloc_stride = alloc_stride;
    w->free_stride = free_stride;
    w->min = (uint64_t)args[ARG_MIN].value;
    w->span = (uint64_t)(args[ARG_MAX].value - args[ARG_MIN].value + 1);
    w->slots = bench_calloc(nslots, sizeof *w->slots);
    w->slot_tags = bench_calloc(nslots, sizeof *w->slot_tags);
    w->serial = t << 24;
    w->digest = BENCH_DIGEST_INIT;
  }

  double seconds = 0;
  for (uint64_t r = 0; r < rounds; r++) {
    atomic_store(&workers_done, 0);
    for (uint32_t t = 0; t < threads; t++) workers[t].rng = bench_rng_seed(seed, (uint32_t)(r * threads + t));
    seconds += bench_run_team(threads, worker_main, workers, sizeof *workers);
  }
  const long peak_kb = bench_peak_rss_kb();

  uint64_t h = BENCH_DIGEST_INIT, allocated = 0, freed = 0, blocks = 0;
  for (uint32_t t = 0; t < threads; t++) {
    h = bench_digest(h, workers[t].digest);
    allocated += workers[t].allocated_sum;
    freed += workers[t].freed_sum;
    blocks += workers[t].allocated;
    free(workers[t].slots);
    free(workers[t].slot_tags);
  }
  bench_check_tag_sums(freed, allocated);
  h = bench_digest(h, freed);
  free(workers);
  free(inboxes);

  bench_result_t r = {2 * blocks, seconds, bench_digest_finish(h), bench_verified_count(), NULL, peak_kb};
  bench_report(&r);
  return 0;
}
