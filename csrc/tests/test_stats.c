/* Counters: the JSON report and HAKMEM_STATS file, exact tier and class counts at the
 * levels that keep them, nothing on fast paths at level 0. */
#include "test_util.h"

#include <sys/wait.h>
#include <unistd.h>

static char json[65536];

static void check_json_shape(void) {
  size_t n = hak_stats_json(json, sizeof(json));
  CHECK(n > 0 && n < sizeof(json) && json[0] == '{' && json[n - 1] == '}', "JSON object: %s", json);
  CHECK(strstr(json, "\"format\":1") != NULL, "format field");
  char expect[128];
  snprintf(expect, sizeof(expect), "\"directCache\":%s,\"dualLists\":%s,\"superslab\":%s",
           HAK_DIRECT_CACHE ? "true" : "false", HAK_DUAL_LISTS ? "true" : "false", HAK_SUPERSLAB ? "true" : "false");
  CHECK(strstr(json, expect) != NULL, "config %s in %s", expect, json);
  snprintf(expect, sizeof(expect), "\"stats\":%d", HAK_STATS);
  CHECK(strstr(json, expect) != NULL, "stats level");
  CHECK(strstr(json, "\"tinyRefills\":") != NULL && strstr(json, "\"libcMallocTiny\":") != NULL, "always counters");
  CHECK((strstr(json, "\"tiers\":null") != NULL) == (HAK_STATS == 0), "tiers present at level >= 1 only");
  CHECK((strstr(json, "\"classes\":null") != NULL) == (HAK_STATS < 2), "classes present at level 2 only");
  /* a too small buffer is filled partly, NUL-terminated, and the full length returned */
  char small[16];
  CHECK(hak_stats_json(small, sizeof(small)) == strlen(json) && strlen(small) == 15, "truncation like snprintf");
}

static void check_exact_counts(void) {
  hak_stats_t before, after;
  hak_stats_get(&before);
  enum { N = 5000 };
  static void* p[N];
  for (int i = 0; i < N; i++) p[i] = hak_malloc(64);
  for (int i = 0; i < N; i++) hak_free(p[i]);
  void* m = hak_malloc(3000);
  hak_free(m);
  hak_stats_get(&after);
  CHECK(after.level == HAK_STATS, "level");
  CHECK(after.always.tiny_blocks_supplied - before.always.tiny_blocks_supplied >= N || !HAK_DUAL_LISTS,
        "tiny blocks supplied covers the allocations");
  if (HAK_STATS >= 1) {
    CHECK(after.tiers[HAK_TIER_TINY].allocs - before.tiers[HAK_TIER_TINY].allocs == N, "tiny allocs exact");
    CHECK(after.tiers[HAK_TIER_TINY].frees - before.tiers[HAK_TIER_TINY].frees == N, "tiny frees exact");
    CHECK(after.tiers[HAK_TIER_TINY].bytes - before.tiers[HAK_TIER_TINY].bytes == (uint64_t)N * 64, "tiny bytes exact");
    CHECK(after.tiers[HAK_TIER_MID].allocs - before.tiers[HAK_TIER_MID].allocs == 1, "mid allocs exact");
  } else {
    CHECK(after.tiers[HAK_TIER_TINY].allocs == 0, "level 0 keeps no tier counts");
  }
  if (HAK_STATS >= 2) {
    hak_stats_json(json, sizeof(json));
    CHECK(strstr(json, "{\"tier\":\"tiny\",\"size\":64,\"allocs\":") != NULL, "class entry for 64 B");
  }
}

/* HAKMEM_STATS=<path with %p>: a complete file appears at exit, and no temporary is left. */
static void check_exit_dump(const char* self) {
  char pattern[] = "/tmp/hakmem-stats-test-%p.json";
  pid_t pid = fork();
  CHECK(pid >= 0, "fork");
  if (pid == 0) {
    setenv("HAKMEM_STATS", pattern, 1);
    execl(self, self, "child", (char*)NULL);
    _exit(127);
  }
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed");
  char path[256], tmp[300];
  snprintf(path, sizeof(path), "/tmp/hakmem-stats-test-%d.json", (int)pid);
  snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)pid);
  FILE* f = fopen(path, "r");
  CHECK(f != NULL, "stats file %s written", path);
  size_t n = fread(json, 1, sizeof(json) - 1, f);
  fclose(f);
  json[n] = 0;
  CHECK(n > 2 && json[0] == '{' && json[n - 2] == '}' && json[n - 1] == '\n', "complete JSON line: %s", json);
  CHECK(strstr(json, "\"tinyPagesCarved\":") != NULL, "counters in the file");
  CHECK(access(tmp, F_OK) != 0, "temporary file removed");
  unlink(path);
}

int main(int argc, char** argv) {
  (void)argv;
  if (argc == 2) {               /* child of check_exit_dump: allocate something and exit */
    for (int i = 0; i < 100; i++) hak_free(hak_malloc(100));
    return 0;
  }
  check_json_shape();
  check_exact_counts();
  check_exit_dump("/proc/self/exe");
  printf("test_stats: ok\n");
  return 0;
}
