/*
 * cache_scratch: passive false sharing, the pattern of Hoard's cache-scratch benchmark
 * (written from its description). The main thread allocates one small object per worker,
 * one after the other, so that the objects share cache lines; each worker's first act is to
 * free the object it was handed, and then it runs its loop: malloc an object of the same
 * size, write every byte of it `writes` times, check and free the one before. An allocator that hands a
 * worker back the block it freed (the main thread's) keeps the workers writing lines they
 * share, and every write waits for the line to come back from the other core; one that
 * gives each worker memory of its own does not.
 */
#include "bench_common.h"

enum { ARG_THREADS, ARG_ITERATIONS, ARG_SIZE, ARG_WRITES };

static bench_arg_t args[] = {
    [ARG_THREADS] = {"threads", 2, 1, 1024, "worker threads, each handed one object by the main thread", NULL, 0},
    [ARG_ITERATIONS] = {"iterations", 1000000, 1, 1000000000000LL,
                        "objects each worker allocates, writes and frees, one at a time", NULL, 0},
    [ARG_SIZE] = {"size", 8, 8, 1 << 20, "object size in bytes", NULL, 0},
    [ARG_WRITES] = {"writes", 10, 1, 1 << 20, "times every byte of an object is written before it is freed", NULL, 0},
};

static bench_cli_t cli = {
    "cache_scratch",
    "The main thread allocates one object per worker, consecutively; each worker frees the\n"
    "object it was handed, then mallocs an object of the same size and writes every byte of\n"
    "it writes times, and checks and frees the one before, iterations times. Operations:\n"
    "2 x threads x iterations.",
    args, BENCH_NARGS(args), 0};

typedef struct worker_s {
  unsigned char *handed; /* the main thread's object, freed first */
  uint64_t index;
  uint64_t iterations;
  size_t size;
  uint32_t writes;
  uint64_t digest;
  char pad[64];
} worker_t;

/* Byte j of an object after its writes: each write adds the object's own step to every
 * byte, so a byte another thread wrote to, or a block shorter than asked, shows. */
static inline unsigned char object_byte(uint64_t serial, size_t j, uint32_t writes) {
  return (unsigned char)((serial + j) * writes);
}

/* Checks every byte of an object, then frees it; returns its last byte for the digest. */
static inline uint64_t check_and_free(volatile unsigned char *p, size_t size, uint64_t serial, uint32_t writes) {
  for (size_t j = 0; j < size; j++)
    if (bench_unlikely(p[j] != object_byte(serial, j, writes)))
      bench_fail_word((const void *)p, size, serial, "byte", j, object_byte(serial, j, writes), p[j]);
  const uint64_t last = p[size - 1];
  bench_release((void *)p, size);
  return last;
}

/* Each object is checked and freed once the next one is written, so that an allocator that
 * hands out a block still in use shows; the worker's working memory stays two objects. */
BENCH_NOINLINE void bench_loop_cache_scratch(worker_t *w) {
  free(w->handed);
  uint64_t h = BENCH_DIGEST_INIT;
  volatile unsigned char *prev = NULL;
  const uint64_t first = w->index * w->iterations;
  for (uint64_t i = 0; i < w->iterations; i++) {
    const uint64_t serial = first + i;
    volatile unsigned char *p = bench_malloc(w->size);
    if (bench_unlikely(p == NULL)) bench_fail_nomem(w->size);
    for (size_t j = 0; j < w->size; j++) p[j] = 0;
    for (uint32_t k = 0; k < w->writes; k++)
      for (size_t j = 0; j < w->size; j++) p[j] = (unsigned char)(p[j] + (serial + j));
    if (prev != NULL) h = bench_digest(h, serial - 1 + check_and_free(prev, w->size, serial - 1, w->writes));
    prev = p;
  }
  h = bench_digest(h, first + w->iterations - 1 + check_and_free(prev, w->size, first + w->iterations - 1, w->writes));
  bench_count_verified(w->iterations);
  w->digest = h;
}

static void *worker_main(void *arg) {
  bench_loop_cache_scratch(arg);
  bench_publish_verified();
  return NULL;
}

int main(int argc, char **argv) {
  bench_parse_args(&cli, argc, argv);
  const uint32_t threads = (uint32_t)args[ARG_THREADS].value;
  const size_t size = (size_t)args[ARG_SIZE].value;
  worker_t *workers = bench_calloc(threads, sizeof *workers);
  pthread_t *ids = bench_calloc(threads, sizeof *ids);
  for (uint32_t t = 0; t < threads; t++) {
    workers[t] = (worker_t){.index = t, .iterations = (uint64_t)args[ARG_ITERATIONS].value, .size = size,
                            .writes = (uint32_t)args[ARG_WRITES].value};
    workers[t].handed = bench_malloc(size);
    if (workers[t].handed == NULL) bench_fail_nomem(size);
    memset(workers[t].handed, 0x5a, size);
  }

  double t0 = bench_now();
  for (uint32_t t = 0; t < threads; t++) bench_thread_start(&ids[t], worker_main, &workers[t]);
  for (uint32_t t = 0; t < threads; t++) bench_thread_join(ids[t]);
  double t1 = bench_now();

  uint64_t h = BENCH_DIGEST_INIT;
  for (uint32_t t = 0; t < threads; t++) h = bench_digest(h, workers[t].digest);
  free(ids);
  free(workers);
  bench_result_t r = {2 * (uint64_t)threads * (uint64_t)args[ARG_ITERATIONS].value, t1 - t0, bench_digest_finish(h),
                      bench_verified_count(), NULL, 0};
  bench_report(&r);
  return 0;
}
