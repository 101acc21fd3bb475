/* fork: the child can allocate and free, including blocks its parent's threads allocated,
 * even when another thread was allocating at the moment of the fork. And blocks of a thread
 * that exited, whose segments the purge thread took over while the process idled: a child
 * forked then frees them and gets their memory back with malloc_trim, though it has no purge
 * thread (override builds, where mallinfo2 and malloc_trim are hakmem's). */
#include <malloc.h>
#include "test_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

static const api_t* A;
static _Atomic(int) stop;
static _Atomic(int) ready;
static void* from_thread[256];

static void* busy(void* arg) {
  (void)arg;
  uint32_t rng = 5;
  void* keep[64] = {0};
  for (int i = 0; i < 256; i++) {
    from_thread[i] = A->malloc(32 + i * 16);
    memset(from_thread[i], 0x11, 32 + (size_t)i * 16);
  }
  atomic_store(&ready, 1);
  while (!atomic_load(&stop)) {
    int k = (int)(xorshift32(&rng) % 64);
    A->free(keep[k]);
    keep[k] = A->malloc(1 + xorshift32(&rng) % 100000);
  }
  for (int k = 0; k < 64; k++) A->free(keep[k]);
  return NULL;
}

static int child_work(void) {
  uint32_t rng = 77;
  void* blocks[1000];
  for (int round = 0; round < 20; round++) {
    for (int i = 0; i < 1000; i++) {
      size_t size = 1 + xorshift32(&rng) % (i % 10 == 0 ? 200000 : 2000);
      blocks[i] = A->malloc(size);
      if (blocks[i] == NULL) return 2;
      fill_pattern(blocks[i], size < 64 ? size : 64, (uint32_t)i);
    }
    for (int i = 0; i < 1000; i++) A->free(blocks[i]);
  }
  /* blocks the parent's other thread allocated before the fork */
  for (int i = 0; i < 256; i++) {
    if (((unsigned char*)from_thread[i])[0] != 0x11) return 3;
    A->free(from_thread[i]);
  }
  return 0;
}

enum { KEPT_BLOCKS = 20000 };
static void* kept[KEPT_BLOCKS];
static void* leaver(void* arg) {
  for (int i = 0; i < KEPT_BLOCKS; i++) {
    kept[i] = malloc(96);
    memset(kept[i], 0x22, 96);
  }
  return arg;
}

static long rss_kib(void) {
  long pages = 0, resident = 0;
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == NULL || fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
  if (f != NULL) fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* In the child: the blocks freed must count as free, and their pages must go back. */
static int child_frees_kept(long rss_at_fork) {
  for (int i = 0; i < KEPT_BLOCKS; i++) {
    if (((unsigned char*)kept[i])[95] != 0x22) return 4;
    free(kept[i]);
  }
  malloc_trim(0);
  size_t in_use = mallinfo2().uordblks;
  long rss = rss_kib();
  if (in_use > (256u << 10) || rss > rss_at_fork - 1024) {
    fprintf(stderr, "child: %zu bytes in use and %ld KiB resident after freeing the exited thread's %d blocks of 96 B (%ld KiB at the fork)\n",
            in_use, rss, KEPT_BLOCKS, rss_at_fork);
    return 5;
  }
  return 0;
}

static void exited_thread_blocks_in_child(void) {
  hak_config_t config;
  hak_config(&config);
  /* the override's blocks, hakmem's own (wrap-tiny off hands 96 B requests to glibc) */
  if (!test_apis[0]->override || !config.superslab || !wrap_tiny_on()) return;
  pthread_t t;
  pthread_create(&t, NULL, leaver, NULL);
  pthread_join(t, NULL);
  usleep(1000 * 1000);        /* idle: the purge thread adopts the segments, purges, gives back */
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0, "fork");
  if (pid == 0) _exit(child_frees_kept(rss_kib()));
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child freeing an exited thread's blocks ended with status %#x", status);
  for (int i = 0; i < KEPT_BLOCKS; i++) free(kept[i]);
}

int main(void) {
  exited_thread_blocks_in_child();
  for (size_t a = 0; a < TEST_API_COUNT; a++) {
    A = test_apis[a];
    atomic_store(&stop, 0);
    atomic_store(&ready, 0);
    pthread_t t;
    pthread_create(&t, NULL, busy, NULL);
    while (!atomic_load(&ready)) sched_yield();
    for (int f = 0; f < 20; f++) {
      void* before = A->malloc(100);
      pid_t pid = fork();
      CHECK(pid >= 0, "fork");
      if (pid == 0) {
        A->free(before);
        _exit(child_work());
      }
      int status = 0;
      CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
      CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d ended with status %#x", f, status);
      A->free(before);
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    for (int i = 0; i < 256; i++) { A->free(from_thread[i]); from_thread[i] = NULL; }
  }
  printf("test_fork: ok\n");
  return 0;
}
