/* The out-of-memory paths, run by tests/check_faults.sh once for each call the workload makes
 * to the OS, that call failing (HAKMEM_FAULT_AT=N; HAKMEM_FAULT_SPAN=4: with the three maps
 * after it, so that the failure outlasts the retry and reaches malloc's caller). Each run
 * checks: no crash; NULL comes with ENOMEM; every block handed out keeps its contents (none
 * was handed out twice or overlaps another); once everything is freed and trimmed, the bytes
 * mapped are back where they started; requests after the failures succeed.
 * `test_faults count` prints the number of OS calls the workload makes and the bytes that
 * stay mapped at its end (bookkeeping) without faults; `test_faults KEPT` checks a run against
 * that. Built with FAULTS=1. */
#include "test_util.h"

#include <stdbool.h>

uint64_t hak_fault_calls(void);

#define BLOCKS 240
static const size_t sizes[] = {24, 200, 1000, 3000, 20000, 60000, 100000, 1u << 20};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static void fail(const char* what, size_t i) {
  fprintf(stderr, "test_faults (HAKMEM_FAULT_AT=%s): %s (block %zu)\n", getenv("HAKMEM_FAULT_AT"), what, i);
  exit(1);
}

static void stamp(unsigned char* p, size_t size, size_t id) {
  memset(p, (int)(id & 0xff), size < 64 ? size : 64);
  memcpy(p + size - sizeof(id), &id, sizeof(id));
}

static bool stamped(const unsigned char* p, size_t size, size_t id) {
  size_t head = size - sizeof(id) < 64 ? size - sizeof(id) : 64;   /* the bytes before the tail's id */
  for (size_t k = 0; k < head; k++)
    if (p[k] != (unsigned char)(id & 0xff)) return false;
  size_t got;
  memcpy(&got, p + size - sizeof(id), sizeof(id));
  return got == id;
}

int main(int argc, char** argv) {
  bool count = argc > 1 && strcmp(argv[1], "count") == 0;
  free(malloc(1));
  malloc_trim(0);
  size_t start = mallinfo2().arena;
  static void* blocks[BLOCKS];
  static size_t bsize[BLOCKS];
  size_t nulls = 0;
  /* phase 1: allocations of every tier, some freed and reallocated, under the faults */
  for (size_t i = 0; i < BLOCKS; i++) {
    bsize[i] = sizes[i % NSIZES] + i;
    errno = 0;
    blocks[i] = malloc(bsize[i]);
    if (blocks[i] == NULL) {
      if (errno != ENOMEM) fail("NULL without ENOMEM", i);
      nulls++;
      continue;
    }
    stamp(blocks[i], bsize[i], i);
  }
  for (size_t i = 0; i < BLOCKS; i += 3) {
    if (blocks[i] == NULL) continue;
    if (!stamped(blocks[i], bsize[i], i)) fail("a block lost its contents", i);
    free(blocks[i]);
    blocks[i] = malloc(bsize[i]);
    if (blocks[i] == NULL) { if (errno != ENOMEM) fail("NULL without ENOMEM", i); continue; }
    stamp(blocks[i], bsize[i], i);
  }
  for (size_t i = 0; i < BLOCKS; i++) {
    if (blocks[i] == NULL) continue;
    if (!stamped(blocks[i], bsize[i], i)) fail("a block lost its contents (handed out twice?)", i);
    free(blocks[i]);
  }
  malloc_trim(0);
  size_t end = mallinfo2().arena;
  uint64_t calls = hak_fault_calls();
  if (count) {
    printf("%llu %zu\n", (unsigned long long)calls, end);
    return 0;
  }
  /* what a run without faults keeps mapped at the end (the heaps' own bookkeeping, which a
   * failure at the very start only delays), given by the script */
  size_t kept = argc > 1 ? strtoull(argv[1], NULL, 10) : start;
  if (end > kept) {
    fprintf(stderr, "test_faults (HAKMEM_FAULT_AT=%s): %zu bytes mapped after everything was freed, %zu without faults\n",
            getenv("HAKMEM_FAULT_AT"), end, kept);
    return 1;
  }
  /* phase 2: the failures are over (unless the burst reached past phase 1): all succeed */
  const char* at = getenv("HAKMEM_FAULT_AT");
  const char* span = getenv("HAKMEM_FAULT_SPAN");
  uint64_t last = (at ? strtoull(at, NULL, 10) : 0) + (span ? strtoull(span, NULL, 10) : 1) - 1;
  if (calls >= last) {
    for (size_t i = 0; i < BLOCKS; i++) {
      blocks[i] = malloc(bsize[i]);
      if (blocks[i] == NULL) fail("a request after the failures failed", i);
      stamp(blocks[i], bsize[i], i);
    }
    for (size_t i = 0; i < BLOCKS; i++) {
      if (!stamped(blocks[i], bsize[i], i)) fail("a block lost its contents after the failures", i);
      free(blocks[i]);
    }
  }
  printf("%zu\n", nulls);
  return 0;
}
