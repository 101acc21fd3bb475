/* Memory short: under an address-space limit (RLIMIT_AS, 128 MiB above what the process maps
 * already), memory freed by one size class must serve any later request. Twice: in a child
 * that sets the limit after hakmem started, and in one started under it (as `ulimit -v`
 * starts a program), where superslab's segment map must be the compact one, 30 MiB or more
 * of address space smaller than the flat map, with blocks freed across threads through it.
 * A round of 3 MiB blocks until NULL, then rounds of 64 B and 3000 B blocks until NULL (each
 * freed; the 64 B round only where hakmem serves it), then 3 MiB blocks again: the second 3 MiB round must get at least 3/4 of the first,
 * every NULL must come with ENOMEM, and four threads (whose stacks other code maps) must
 * start afterwards. Override builds only: the limit binds the whole process. */
#include "test_util.h"
#include "../bench/testing/malloc_round.h"

#include <malloc.h>
#include <stdbool.h>
#include <pthread.h>
#include <string.h>
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

static void rounds_under_limit(bool start_threads) {
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
  if (!start_threads) return;
  pthread_t t[4];
  pthread_barrier_init(&_barrier, NULL, 5);
  for (int i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, thread_body, NULL) == 0, "thread %d starts", i);
  pthread_barrier_wait(&_barrier);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
}

static void limit_address_space(size_t bytes) {
  struct rlimit rl = { bytes, bytes };
  CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit");
}

/* Blocks of every tier, filled by one thread, checked and freed by another: 8 large ones,
 * since each takes a whole 4 MiB slot of address space under harden. */
enum { SWAP_BLOCKS = 4000 };
static size_t swap_size(size_t i) { return 8 + (i * 7919) % (i % 500 == 0 ? 200000 : i % 5 == 0 ? 20000 : 1000); }
static void* swap_fill(void* arg) {
  void** blocks = arg;
  for (size_t i = 0; i < SWAP_BLOCKS; i++) {
    size_t size = swap_size(i);
    blocks[i] = malloc(size);
    CHECK(blocks[i] != NULL, "malloc(%zu)", size);
    memset(blocks[i], (int)(i & 0xff), size);
    CHECK(malloc_usable_size(blocks[i]) >= size, "usable size of a %zu B block", size);
  }
  return NULL;
}
static void* swap_check(void* arg) {
  void** blocks = arg;
  for (size_t i = 0; i < SWAP_BLOCKS; i++) {
    size_t size = swap_size(i);
    const unsigned char* b = blocks[i];
    CHECK(b[0] == (i & 0xff) && b[size - 1] == (i & 0xff), "block %zu kept its bytes", i);
    free(blocks[i]);
  }
  return NULL;
}

static void cross_thread_frees(void) {
  static void* blocks[SWAP_BLOCKS];
  for (int round = 0; round < 3; round++) {
    pthread_t t;
    CHECK(pthread_create(&t, NULL, swap_fill, blocks) == 0 && pthread_join(t, NULL) == 0, "filling thread");
    CHECK(pthread_create(&t, NULL, swap_check, blocks) == 0 && pthread_join(t, NULL) == 0, "freeing thread");
  }
}

static void wait_child(pid_t pid, const char* what) {
  CHECK(pid >= 0, "fork");
  int status;
  CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child %s failed (status %d)", what, status);
}

int main(int argc, char** argv) {
  (void)argc;
  const char* parent_vm = getenv("TEST_SCARCE_PARENT_VM");
  free(malloc(100));                     /* hakmem started, its fixed mappings in place */
  hak_config_t config;
  hak_config(&config);
  if (parent_vm != NULL) {               /* started under the limit */
    size_t parent = strtoull(parent_vm, NULL, 10), own = vm_size();
    printf("  started under the limit: %zu KiB mapped, %zu KiB less than without it\n", own >> 10,
           (parent - own) >> 10);
    if (config.superslab) {
      CHECK(config.segmap_compact, "a process started under a 128 MiB limit has the compact segment map");
      CHECK(own + (30u << 20) <= parent, "the compact map saves 30 MiB of address space or more");
    }
    /* with wrap-tiny off glibc serves the small blocks, from an arena per thread whose 64 MiB
     * reservation the limit cannot spare: threads are the other child's test there */
    if (config.wrap_tiny) cross_thread_frees();
    rounds_under_limit(config.wrap_tiny);
    return 0;
  }
  CHECK(!config.segmap_compact, "a process without an address-space limit has the flat segment map");
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    limit_address_space(vm_size() + (128u << 20));
    rounds_under_limit(true);
    exit(0);
  }
  wait_child(pid, "that set the limit");
  pid = fork();
  if (pid == 0) {
    char vm[32];
    snprintf(vm, sizeof(vm), "%zu", vm_size());
    limit_address_space(vm_size() + (128u << 20));
    setenv("TEST_SCARCE_PARENT_VM", vm, 1);
    execv("/proc/self/exe", argv);
    _exit(127);
  }
  wait_child(pid, "started under the limit");
  printf("test_scarce: ok\n");
  return 0;
}
