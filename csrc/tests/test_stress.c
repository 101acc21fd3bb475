/* A long random mix of malloc, free, realloc and calloc over all tiers; every block carries
 * a pattern derived from its slot and generation, checked before it is freed. */
#include "test_util.h"

#define SLOTS 8192

typedef struct slot_s { void* p; size_t size; uint32_t seed; } slot_t;

static size_t pick(uint32_t* rng) {
  uint32_t r = xorshift32(rng) & 1023;
  if (r < 800) return xorshift32(rng) % 1040;            /* tiny (and a few mid) */
  if (r < 1010) return 1024 + xorshift32(rng) % 64000;   /* mid */
  return 65536 + xorshift32(rng) % 1000000;              /* large */
}

static void run(const api_t* a, long ops, uint32_t seed) {
  static slot_t slots[SLOTS];
  uint32_t rng = seed;
  for (long op = 0; op < ops; op++) {
    uint32_t r = xorshift32(&rng);
    slot_t* s = &slots[r % SLOTS];
    if (s->p != NULL) {
      CHECK(check_pattern(s->p, s->size, s->seed), "%s: slot %u (%zu bytes) corrupted at op %ld",
            a->name, r % SLOTS, s->size, op);
      if ((r >> 24) < 16) {                              /* realloc instead of free */
        size_t size = pick(&rng);
        void* q = a->realloc(s->p, size ? size : 1);
        CHECK(q != NULL, "realloc");
        size_t keep = s->size < size ? s->size : size;
        CHECK(check_pattern_prefix(q, s->size, keep, s->seed), "realloc lost contents");
        s->p = q;
        s->size = size ? size : 1;
        fill_pattern(q, s->size, s->seed);
        continue;
      }
      a->free(s->p);
      s->p = NULL;
      continue;
    }
    size_t size = pick(&rng);
    if ((r >> 24) < 8) {
      unsigned char* q = a->calloc(1, size);
      CHECK(q != NULL, "calloc");
      for (size_t i = 0; i < size; i += 61) CHECK(q[i] == 0, "calloc not zero");
      s->p = q;
    } else {
      s->p = a->malloc(size);
      CHECK(s->p != NULL, "malloc(%zu)", size);
    }
    s->size = size;
    s->seed = r;
    fill_pattern(s->p, size, s->seed);
  }
  for (int i = 0; i < SLOTS; i++) {
    if (slots[i].p == NULL) continue;
    CHECK(check_pattern(slots[i].p, slots[i].size, slots[i].seed), "slot %d corrupted at the end", i);
    a->free(slots[i].p);
    slots[i].p = NULL;
  }
}

int main(void) {
  long ops = test_quick() ? 1000000 : 10000000;
  for (size_t i = 0; i < TEST_API_COUNT; i++) run(test_apis[i], ops, 0xC0FFEEu + (uint32_t)i);
  printf("test_stress: ok (%ld operations per API)\n", ops);
  return 0;
}
