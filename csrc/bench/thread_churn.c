/*
 * thread_churn: the slot churn of random_mixed carried on by a succession of short-lived
 * threads. A lane's slots pass from each thread to the next, so most frees are of blocks
 * that a thread which has exited (or is exiting) allocated: the memory an allocator keeps
 * for exited threads, and whether running threads take it over, decides the footprint.
 */
#include <inttypes.h>
#include <stdio.h>

#include "bench_churn.h"

enum { ARG_MODE, ARG_THREADS, ARG_ROUNDS, ARG_CYCLES, ARG_WS, ARG_SEED, ARG_MIN, ARG_MAX };
enum { MODE_CHAIN, MODE_ROUNDS };

static const char *const mode_names[] = {"chain", "rounds", NULL};

static bench_arg_t args[] = {
    [ARG_MODE] = {"mode", MODE_CHAIN, 0, 0, "how one thread hands its lane to the next",
                  mode_names, 0},
    [ARG_THREADS] = {"threads", 2, 1, 1024, "lanes: threads running at once", NULL, 0},
    [ARG_ROUNDS] = {"rounds", 400, 1, 100000000, "threads per lane, one after another", NULL, 0},
    [ARG_CYCLES] = {"cycles", 20000, 1, 1000000000000LL, "operations per thread", NULL, 0},
    [ARG_WS] = {"ws", 4096, 1, 1 << 24, "slots per lane", NULL, 0},
    [ARG_SEED] = BENCH_ARG_SEED,
    [ARG_MIN] = BENCH_ARG_MIN_SIZE(16),
    [ARG_MAX] = BENCH_ARG_MAX_SIZE(4096),
};

static bench_cli_t cli = {
    "thread_churn",
    "Each lane is a set of ws slots worked by rounds threads in turn; each thread runs cycles\n"
    "of random_mixed's churn (free the block of a random slot, or malloc a size uniform in\n"
    "[min, max] there), so it frees blocks its predecessors allocated. Modes:\n"
    "  chain   each thread starts its successor before it exits: the successor allocates\n"
    "          while the predecessor's memory is being handed back\n"
    "  rounds  all lanes' threads of a round are joined before the next round starts\n"
    "Operations: threads x rounds x cycles. Reports the RSS after each quarter of the rounds.",
    args, BENCH_NARGS(args), 0};

#define SAMPLE_MASK 63
#define QUARTERS 4

typedef struct lane_s {
  bench_churn_t churn; /* the slots, carried from thread to thread */
  uint64_t cycles;
  uint32_t rounds;
  uint32_t done;       /* threads of this lane that finished their cycles */
  uint32_t index;
  int has_prev;
  pthread_t prev;      /* the lane's previous thread, joined by the next one */
  char pad[64];
} lane_t;

static long rss_kb[QUARTERS];
static pthread_mutex_t finish_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t finish_cond = PTHREAD_COND_INITIALIZER;
static unsigned lanes_finished;

BENCH_NOINLINE void bench_loop_thread_churn(bench_churn_t *churn, uint64_t cycles) {
  bench_churn_run(churn, cycles, SAMPLE_MASK);
}

/* The RSS after each quarter of lane 0's threads. */
static void sample_rss(uint32_t done, uint32_t rounds) {
  for (uint32_t q = 1; q <= QUARTERS; q++) {
    if (done == (uint32_t)(((uint64_t)rounds * q + QUARTERS - 1) / QUARTERS)) rss_kb[q - 1] = bench_rss_kb();
  }
}

static void *chain_link(void *p) {
  lane_t *lane = p;
  bench_loop_thread_churn(&lane->churn, lane->cycles);
  lane->done++;
  if (lane->index == 0) sample_rss(lane->done, lane->rounds);
  /* the predecessor exited long ago; joining it here only reclaims its stack */
  if (lane->has_prev) bench_thread_join(lane->prev);
  lane->prev = pthread_self();
  lane->has_prev = 1;
  bench_publish_verified();
  if (lane->done < lane->rounds) {
    pthread_t next;
    bench_thread_start(&next, chain_link, lane); /* the lane is the successor's from here */
    return NULL;
  }
  pthread_mutex_lock(&finish_lock);
  lanes_finished++;
  pthread_cond_signal(&finish_cond);
  pthread_mutex_unlock(&finish_lock);
  return NULL;
}

static void run_chains(lane_t *lanes, unsigned n) {
  for (unsigned t = 0; t < n; t++) {
    pthread_t first;
    bench_thread_start(&first, chain_link, &lanes[t]);
  }
  pthread_mutex_lock(&finish_lock);
  while (lanes_finished < n) pthread_cond_wait(&finish_cond, &finish_lock);
  pthread_mutex_unlock(&finish_lock);
  for (unsigned t = 0; t < n; t++) bench_thread_join(lanes[t].prev);
}

static void *round_worker(void *p) {
  lane_t *lane = p;
  bench_loop_thread_churn(&lane->churn, lane->cycles);
  lane->done++;
  bench_publish_verified();
  return NULL;
}

static void run_rounds(lane_t *lanes, unsigned n, uint32_t rounds) {
  pthread_t *threads = bench_calloc(n, sizeof *threads);
  for (uint32_t r = 0; r < rounds; r++) {
    for (unsigned t = 0; t < n; t++) bench_thread_start(&threads[t], round_worker, &lanes[t]);
    for (unsigned t = 0; t < n; t++) bench_thread_join(threads[t]);
    sample_rss(r + 1, rounds);
  }
  free(threads);
}

int main(int argc, char **argv) {
  bench_parse_args(&cli, argc, argv);
  bench_require_order(&cli, ARG_MIN, ARG_MAX);
  const unsigned threads = (unsigned)args[ARG_THREADS].value;
  const uint32_t rounds = (uint32_t)args[ARG_ROUNDS].value;
  const uint64_t cycles = (uint64_t)args[ARG_CYCLES].value;

  lane_t *lanes = bench_calloc(threads, sizeof *lanes);
  for (unsigned t = 0; t < threads; t++) {
    bench_churn_init(&lanes[t].churn, (uint32_t)args[ARG_WS].value, (uint32_t)args[ARG_MIN].value,
                     (uint32_t)args[ARG_MAX].value, bench_rng_seed((uint64_t)args[ARG_SEED].value, t));
    lanes[t].cycles = cycles;
    lanes[t].rounds = rounds;
    lanes[t].index = t;
  }

  double t0 = bench_now();
  if (args[ARG_MODE].value == MODE_CHAIN)
    run_chains(lanes, threads);
  else
    run_rounds(lanes, threads, rounds);
  double t1 = bench_now();
  /* The kernel keeps RSS in per-CPU counters that it folds in lazily, so a VmRSS sampled
   * during the run can exceed the VmHWM read now by a few pages: the peak is the larger. */
  long peak_kb = bench_peak_rss_kb();
  for (unsigned q = 0; q < QUARTERS; q++)
    if (rss_kb[q] > peak_kb) peak_kb = rss_kb[q];

  uint64_t h = BENCH_DIGEST_INIT;
  for (unsigned t = 0; t < threads; t++) {
    bench_churn_release(&lanes[t].churn, SAMPLE_MASK);
    h = bench_digest(h, lanes[t].churn.digest);
  }
  free(lanes);

  double growth = rss_kb[0] > 0 ? (double)rss_kb[QUARTERS - 1] / (double)rss_kb[0] : 0.0;
  printf("thread_churn: RSS after each quarter of the rounds %ld, %ld, %ld, %ld KiB (last / first "
         "= %.3f)\n",
         rss_kb[0], rss_kb[1], rss_kb[2], rss_kb[3], growth);
  char extra[256];
  snprintf(extra, sizeof extra, "\"rssKbQuarters\":[%ld,%ld,%ld,%ld],\"rssGrowth\":%.4f", rss_kb[0],
           rss_kb[1], rss_kb[2], rss_kb[3], growth);
  bench_result_t r = {(uint64_t)threads * rounds * cycles, t1 - t0, bench_digest_finish(h),
                      bench_verified_count(), extra, peak_kb};
  bench_report(&r);
  return 0;
}
