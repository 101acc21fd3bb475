/* fork: the child can allocate and free, including blocks its parent's threads allocated,
 * even when another thread was allocating at the moment of the fork. */
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

int main(void) {
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
