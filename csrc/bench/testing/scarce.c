/*
 * scarce: what an allocator does when memory is short, idle or asked to trim.
 *
 *   scarce rounds [limit-kib]   under an address-space limit (RLIMIT_AS, as `ulimit -v`; given,
 *                               the program sets it and starts itself again under it, as a
 *                               shell's ulimit would have; left out, the limit it started under), rounds of 64 B, 3000 B, 40000 B and 3 MiB mallocs, each until
 *                               NULL, then all freed; then 4 threads started together.
 *                               Prints each round's block count and the threads started.
 *   scarce idle [ms...]         two threads allocate about 200 MB (16 B to 256 KiB), free it
 *                               all and exit; the process then calls nothing and prints its
 *                               RSS after each of the given idle times (default 1000).
 *   scarce trim                 100 MB in live blocks: mallinfo2's bytes in use against the
 *                               bytes requested; all freed, then malloc_trim(0): RSS after.
 *
 * The last line is one JSON object with every figure. Exit 0, or 2 on a bad argument.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "malloc_round.h"

/* RSS from /proc/self/statm with read(2): no allocation, so the figure is the allocator's. */
static long rss_kb(void) {
  char buf[128];
  int fd = open("/proc/self/statm", O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char* p = buf;
  strtol(p, &p, 10);
  return strtol(p, NULL, 10) * (sysconf(_SC_PAGESIZE) / 1024);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* ---------------------------------------------------------------- rounds */

static pthread_barrier_t _barrier;

static void* thread_body(void* arg) {
  (void)arg;
  free(malloc(100));
  pthread_barrier_wait(&_barrier);
  return NULL;
}

static int rounds(long limit_kib, char** argv) {
  if (limit_kib > 0 && getenv("SCARCE_UNDER_LIMIT") == NULL) {
    struct rlimit rl = {(rlim_t)limit_kib * 1024, (rlim_t)limit_kib * 1024};
    if (setrlimit(RLIMIT_AS, &rl) != 0) { perror("scarce: setrlimit"); return 1; }
    /* an allocator sizes what it reserves at start-up by the limit it starts under */
    setenv("SCARCE_UNDER_LIMIT", "1", 1);
    execv("/proc/self/exe", argv);
    perror("scarce: exec under the limit");
    return 1;
  }
  if (limit_kib <= 0) {                    /* started under one already (ulimit -v, prlimit) */
    struct rlimit rl;
    limit_kib = getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)(rl.rlim_cur / 1024) : 0;
  }
  static const size_t sizes[] = {64, 3000, 40000, 3u << 20};
  long counts[4];
  for (int i = 0; i < 4; i++) {
    int err;
    counts[i] = malloc_round(sizes[i], &err);
    printf("%8zu B: %ld blocks\n", sizes[i], counts[i]);
  }
  if (getenv("SCARCE_VERBOSE")) {
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
    if (fd >= 0) close(fd);
    if (n > 0) { buf[n] = 0; char* v = strstr(buf, "VmSize"); if (v) fprintf(stderr, "%.40s\n", v); }
  }
  /* all four threads alive at once: each needs a stack mapped while the others hold theirs */
  enum { THREADS = 4 };
  pthread_t t[THREADS];
  int started = 0;
  pthread_barrier_init(&_barrier, NULL, THREADS + 1);
  for (int i = 0; i < THREADS; i++) {
    int err = pthread_create(&t[started], NULL, thread_body, NULL);
    if (err == 0) started++;
    else fprintf(stderr, "scarce: thread %d: %s\n", i, strerror(err));
  }
  /* short of four, the started ones stay blocked at the barrier until _exit below */
  if (started == THREADS) {
    pthread_barrier_wait(&_barrier);
    for (int i = 0; i < started; i++) pthread_join(t[i], NULL);
  }
  printf("threads started: %d of %d\n", started, THREADS);
  printf("{\"mode\":\"rounds\",\"limitKib\":%ld,\"blocks64\":%ld,\"blocks3000\":%ld,\"blocks40000\":%ld,"
         "\"blocks3MiB\":%ld,\"threads\":%d}\n", limit_kib, counts[0], counts[1], counts[2], counts[3], started);
  fflush(stdout);
  _exit(0);
}

/* ---------------------------------------------------------------- idle */

static uint32_t next_rand(uint32_t* s) {
  uint32_t x = *s;
  x ^= x << 13; x ^= x >> 17; x ^= x << 5;
  return *s = x;
}

/* About 100 MB in blocks of 16 B to 256 KiB (sizes log-uniform, so every tier is used),
 * each written, then all freed. */
static void* idle_worker(void* arg) {
  uint32_t rng = (uint32_t)(uintptr_t)arg;
  void* head = NULL;
  size_t bytes = 0;
  while (bytes < (100u << 20)) {
    unsigned shift = 4 + next_rand(&rng) % 15;            /* 16 B .. 256 KiB */
    size_t size = ((size_t)1 << shift) + next_rand(&rng) % ((size_t)1 << shift);
    if (size > (256u << 10)) size = 256u << 10;
    void** p = malloc(size);
    if (p == NULL) { fprintf(stderr, "scarce: malloc(%zu) failed\n", size); exit(4); }
    memset(p, 1, size);
    *p = head;
    head = p;
    bytes += size;
  }
  while (head != NULL) {
    void* next = *(void**)head;
    free(head);
    head = next;
  }
  return NULL;
}

static int idle(int argc, char** argv) {
  pthread_t t[2];
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, idle_worker, (void*)(uintptr_t)(0x9e3779b9u * (i + 1)));
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  long at[16], rss[16];
  int n = 0;
  long slept = 0;
  for (int i = 0; i < argc && n < 16; i++) at[n++] = atol(argv[i]);
  if (n == 0) at[n++] = 1000;
  long freed = rss_kb();
  for (int i = 0; i < n; i++) {
    if (at[i] > slept) sleep_ms(at[i] - slept);
    slept = at[i] > slept ? at[i] : slept;
    rss[i] = rss_kb();
  }
  printf("rss right after the free: %ld KiB\n", freed);
  for (int i = 0; i < n; i++) printf("rss after %ld ms idle: %ld KiB\n", at[i], rss[i]);
  printf("{\"mode\":\"idle\",\"rssFreedKb\":%ld", freed);
  for (int i = 0; i < n; i++) printf(",\"rssIdle%ldmsKb\":%ld", at[i], rss[i]);
  printf("}\n");
  return 0;
}

/* ---------------------------------------------------------------- trim */

static int trim(void) {
  void* head = NULL;
  size_t requested = 0;
  uint32_t rng = 12345;
  while (requested < (100u << 20)) {
    size_t size = 16 + next_rand(&rng) % 4000;
    void** p = malloc(size);
    if (p == NULL) { fprintf(stderr, "scarce: malloc(%zu) failed\n", size); return 4; }
    memset(p, 1, size);
    *p = head;
    head = p;
    requested += size;
  }
  struct mallinfo2 mi = mallinfo2();
  long peak = rss_kb();
  while (head != NULL) {
    void* next = *(void**)head;
    free(head);
    head = next;
  }
  long freed = rss_kb();
  malloc_trim(0);
  long trimmed = rss_kb();
  printf("requested %zu bytes; mallinfo2: uordblks %zu, fordblks %zu, arena %zu, hblkhd %zu\n", requested,
         mi.uordblks, mi.fordblks, mi.arena, mi.hblkhd);
  printf("rss: %ld KiB at the peak, %ld KiB freed, %ld KiB after malloc_trim(0)\n", peak, freed, trimmed);
  printf("{\"mode\":\"trim\",\"requested\":%zu,\"uordblks\":%zu,\"rssPeakKb\":%ld,\"rssFreedKb\":%ld,\"rssTrimmedKb\":%ld}\n",
         requested, mi.uordblks, peak, freed, trimmed);
  return 0;
}

int main(int argc, char** argv) {
  if (argc >= 2 && strcmp(argv[1], "rounds") == 0) return rounds(argc >= 3 ? atol(argv[2]) : 0, argv);
  if (argc >= 2 && strcmp(argv[1], "idle") == 0) return idle(argc - 2, argv + 2);
  if (argc >= 2 && strcmp(argv[1], "trim") == 0) return trim();
  fprintf(stderr, "usage: scarce rounds [limit-kib] | idle [ms...] | trim\n");
  return 2;
}
