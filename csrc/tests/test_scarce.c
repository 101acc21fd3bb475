/* Memory short: under an address-space limit (RLIMIT_AS, set in a child process 128 MiB
 * above what it maps already), memory freed by one size class must serve any later request.
 * A round of 3 MiB blocks until NULL, then rounds of 64 B and 3000 B blocks until NULL (each
 * freed; the 64 B round only where hakmem serves it), then 3 MiB blocks again: the second 3 MiB round must get at least 3/4 of the first,
 * every NULL must come with ENOMEM, and four threads (whose stacks other code maps) must
 * start afterwards. Override builds only: the limit binds the whole process. */
#include "test_util.h"
#include "../bench/testing/malloc_round.h"

#include <pthread.h>
#include <sys/resource.h>

static size_t vm_size(void) {
  FILE* f = fopen("/proc/self/status", "r");
  CHECK(f != NULL, "/proc/self/status");
  char line[256];
  size_t kb = 0;
  while (fgets(line, sizeof(line), f) != NULL) {
    if (sscanf(line, "VmSize: %zu kB", &kb) == 1) break;
  }
  fclose(f);
  CHECK(kb > 0, "VmSize");
  return kb << 10;
}

/* A round until NULL, which must come with ENOMEM. */
static long round_until_null(size_t size) {
  int err;
  long n = malloc_round(size, &err);
  CHECK(err == ENOMEM, "malloc(%zu) gave NULL with errno %d, not ENOMEM", size, err);
  return n;
}

static pthread_barrier_t _barrier;
static void* thread_body(void* arg) {
  free(malloc(100));
  pthread_barrier_wait(&_barrier);
  return arg;
}

static void child(void) {
  free(malloc(100));                     /* hakmem started, its fixed mappings in place */
  size_t limit = vm_size() + (128u << 20);
  struct rlimit rl = { limit, limit };
  CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit");
  hak_config_t config;
  hak_config(&config);
  long first = round_until_null(3u << 20);
  /* with wrap-tiny off glibc serves 64 B blocks, and keeps its heap's address space */
  long tiny = config.wrap_tiny ? round_until_null(64) : 100001;
  long mid = round_until_null(3000);
  long again = round_until_null(3u << 20);
  printf("  3 MiB: %ld, 64 B: %ld, 3000 B: %ld, 3 MiB again: %ld\n", first, tiny, mid, again);
  CHECK(first >= 8 && tiny > 100000 && mid > 5000, "the rounds got memory at all");
  CHECK(again * 4 >= first * 3, "3 MiB blocks after the small rounds: %ld, before: %ld", again, first);
  pthread_t t[4];
  pthread_barrier_init(&_barrier, NULL, 5);
  for (int i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, thread_body, NULL) == 0, "thread %d starts", i);
  pthread_barrier_wait(&_barrier);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  exit(0);
}

int main(void) {
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0, "fork");
  if (pid == 0) child();
  int status;
  CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child under the limit failed (status %d)", status);
  printf("test_scarce: ok\n");
  return 0;
}
