/*
 * producer_consumer: one thread allocates, the others free. Every free is remote: the
 * block was allocated by another thread, which is still running and allocating.
 */
#include <sched.h>
#include <stdatomic.h>

#include "bench_common.h"

enum { ARG_THREADS, ARG_ITEMS, ARG_SEED, ARG_MIN, ARG_MAX, ARG_DEPTH };

static bench_arg_t args[] = {
    [ARG_THREADS] = {"threads", 2, 2, 1024, "threads: one producer, the rest consumers", NULL, 0},
    [ARG_ITEMS] = {"items", 1000000, 1, 1000000000000LL, "blocks the producer allocates", NULL,
                   0},
    [ARG_SEED] = BENCH_ARG_SEED,
    [ARG_MIN] = BENCH_ARG_MIN_SIZE(16),
    [ARG_MAX] = BENCH_ARG_MAX_SIZE(1024),
    [ARG_DEPTH] = {"depth", 256, 1, 1 << 20,
                   "capacity of each consumer's queue, a power of two (blocks in flight)", NULL,
                   0},
};

static bench_cli_t cli = {
    "producer_consumer",
    "The producer mallocs items blocks of sizes uniform in [min, max], touches each and deals\n"
    "them round-robin into one bounded lock-free queue per consumer; each consumer verifies\n"
    "and frees the blocks it receives. Operations: 2 x items, every free on a consumer.",
    args, BENCH_NARGS(args), 0};

/* Blocks whose item number is a multiple of 64 are filled and verified whole. */
#define SAMPLE_MASK 63
#define SPINS_BEFORE_YIELD 64

typedef struct entry_s {
  void *ptr;
  uint64_t size;
} entry_t;

/* A single-producer single-consumer ring. Each side owns one index on its own cache line
 * and keeps a stale copy of the other's, so the line moves only when the ring looks full
 * or empty. */
typedef struct queue_s {
  _Alignas(64) _Atomic uint64_t tail; /* written by the producer */
  uint64_t head_seen;                 /* producer's copy of head */
  _Alignas(64) _Atomic uint64_t head; /* written by the consumer */
  uint64_t tail_seen;                 /* consumer's copy of tail */
  _Alignas(64) entry_t *entries;
  uint64_t mask;
} queue_t;

typedef struct role_s {
  queue_t *queues;    /* all queues (the producer) or the consumer's own */
  uint32_t consumers; /* number of consumers */
  uint32_t index;     /* 0: producer; c + 1: consumer c */
  uint64_t items;     /* total items */
  uint64_t min, span;
  uint32_t rng;
  uint64_t digest;
  char pad[64];
} role_t;

/* Waits until the other side moved its index past *seen's limit; returns its new value.
 * Spins briefly, then yields, so more threads than cores still make progress. */
static BENCH_NOINLINE uint64_t wait_index(_Atomic uint64_t *index, uint64_t stale) {
  for (unsigned spins = 0;; spins++) {
    uint64_t now = atomic_load_explicit(index, memory_order_acquire);
    if (now != stale) return now;
    if (spins >= SPINS_BEFORE_YIELD) sched_yield();
  }
}

/* Item i goes to consumer i mod consumers, so each consumer knows which items it gets, in
 * which order, and can name and verify each block without trusting its memory. The digest
 * folds every tag allocated, in order. */
BENCH_NOINLINE void bench_loop_producer(role_t *r) {
  queue_t *const queues = r->queues;
  const uint32_t consumers = r->consumers;
  uint32_t rng = r->rng;
  uint64_t h = r->digest;
  uint32_t c = 0;
  for (uint64_t i = 0; i < r->items; i++) {
    uint64_t size = r->min + bench_below(bench_rand(&rng), (uint32_t)r->span);
    uint64_t tag = bench_tag(i, size);
    queue_t *q = &queues[c];
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    while (tail - q->head_seen > q->mask) q->head_seen = wait_index(&q->head, q->head_seen);
    q->entries[tail & q->mask] = (entry_t){bench_alloc(size, tag, (i & SAMPLE_MASK) == 0), size};
    atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
    h = bench_digest(h, tag);
    if (++c == consumers) c = 0;
  }
  r->rng = rng;
  r->digest = h;
}

/* The digest folds every tag verified, in the consumer's order. */
BENCH_NOINLINE void bench_loop_consumer(role_t *r) {
  queue_t *const q = r->queues;
  uint64_t h = r->digest;
  for (uint64_t i = r->index - 1; i < r->items; i += r->consumers) {
    uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    if (head == q->tail_seen) q->tail_seen = wait_index(&q->tail, q->tail_seen);
    entry_t e = q->entries[head & q->mask];
    atomic_store_explicit(&q->head, head + 1, memory_order_release);
    h = bench_digest(h, bench_free(e.ptr, e.size, bench_tag(i, e.size), i,
                                   (i & SAMPLE_MASK) == 0));
  }
  r->digest = h;
}

static void *role_main(void *p) {
  role_t *r = p;
  bench_team_begin();
  if (r->index == 0)
    bench_loop_producer(r);
  else
    bench_loop_consumer(r);
  bench_team_end();
  return NULL;
}

int main(int argc, char **argv) {
  bench_parse_args(&cli, argc, argv);
  bench_require_order(&cli, ARG_MIN, ARG_MAX);
  bench_require_power_of_two(&cli, ARG_DEPTH);
  const uint64_t depth = (uint64_t)args[ARG_DEPTH].value;
  const uint32_t threads = (uint32_t)args[ARG_THREADS].value, consumers = threads - 1;
  const uint64_t items = (uint64_t)args[ARG_ITEMS].value;

  queue_t *queues = bench_calloc(consumers, sizeof *queues);
  role_t *roles = bench_calloc(threads, sizeof *roles);
  for (uint32_t c = 0; c < consumers; c++) {
    queues[c].entries = bench_calloc(depth, sizeof(entry_t));
    queues[c].mask = depth - 1;
  }
  for (uint32_t t = 0; t < threads; t++) {
    roles[t] = (role_t){t == 0 ? queues : &queues[t - 1],
                        consumers,
                        t,
                        items,
                        (uint64_t)args[ARG_MIN].value,
                        (uint64_t)(args[ARG_MAX].value - args[ARG_MIN].value + 1),
                        bench_rng_seed((uint64_t)args[ARG_SEED].value, t),
                        BENCH_DIGEST_INIT,
                        {0}};
  }
  double seconds = bench_run_team(threads, role_main, roles, sizeof *roles);

  uint64_t h = BENCH_DIGEST_INIT;
  for (uint32_t t = 0; t < threads; t++) h = bench_digest(h, roles[t].digest);
  for (uint32_t c = 0; c < consumers; c++) free(queues[c].entries);
  free(queues);
  free(roles);

  bench_result_t r = {2 * items, seconds, bench_digest_finish(h), bench_verified_count(), NULL, 0};
  bench_report(&r);
  return 0;
}
