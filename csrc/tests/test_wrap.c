/* wrap-tiny: through the override, requests of <= 1 KiB are served by the tiny pool when it
 * is on and by glibc when it is off; HAKMEM_WRAP_TINY overrides the compiled default. The
 * test runs itself again under each setting of the variable. */
#include "test_util.h"

#include <sys/wait.h>
#include <unistd.h>

static void check_behaviour(int expect_on) {
  CHECK(wrap_tiny_on() == expect_on, "effective wrap-tiny is %d, expected %d", wrap_tiny_on(), expect_on);
  hak_stats_t before, after;
  hak_stats_get(&before);
  enum { N = 1000 };
  void* p[N];
  for (int i = 0; i < N; i++) p[i] = malloc(16 + (size_t)i % 1000);
  int owned = 0;
  for (int i = 0; i < N; i++) owned += hak_owns(p[i]);
  hak_stats_get(&after);
  uint64_t declined = after.always.libc_malloc_tiny - before.always.libc_malloc_tiny;
  if (expect_on) {
    CHECK(owned == N, "wrap-tiny on: %d of %d tiny blocks from hakmem", owned, N);
    CHECK(declined == 0, "wrap-tiny on: %llu requests went to glibc", (unsigned long long)declined);
  } else {
    CHECK(owned == 0, "wrap-tiny off: %d of %d tiny blocks from hakmem", owned, N);
    CHECK(declined == N, "wrap-tiny off: %llu of %d requests counted as handed to glibc", (unsigned long long)declined, N);
  }
  for (int i = 0; i < N; i++) free(p[i]);
  /* aligned tiny requests follow the same rule */
  void* a = memalign(64, 100);
  CHECK(hak_owns(a) == expect_on, "memalign(64, 100) owner");
  free(a);
  /* the direct API always uses the tiny pool; mid and large are never affected */
  void* d = hak_malloc(64);
  void* m = malloc(5000);
  void* l = malloc(500000);
  CHECK(hak_owns(d) && hak_owns(m) && hak_owns(l), "hak_malloc, mid and large are hakmem's");
  hak_free(d);
  free(m);
  free(l);
}

static void run_with(const char* self, const char* value, int expect_on) {
  pid_t pid = fork();
  CHECK(pid >= 0, "fork");
  if (pid == 0) {
    setenv("HAKMEM_WRAP_TINY", value, 1);
    char expect[2] = { (char)('0' + expect_on), 0 };
    execl(self, self, "child", expect, (char*)NULL);
    _exit(127);
  }
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "HAKMEM_WRAP_TINY=%s run failed (%#x)", value, status);
}

int main(int argc, char** argv) {
  if (argc == 3) {
    check_behaviour(argv[2][0] == '1');
    return 0;
  }
  unsetenv("HAKMEM_WRAP_TINY");
  check_behaviour(HAK_WRAP_TINY);
  run_with("/proc/self/exe", "0", 0);
  run_with("/proc/self/exe", "1", 1);
  printf("test_wrap: ok (compiled default %d)\n", HAK_WRAP_TINY);
  return 0;
}
