/*
 * bare_loops: the two hottest patterns with nothing around the allocator calls but one byte
 * written per block and the random draws, for counting what malloc and free themselves cost
 * (the programs of csrc/bench add tags, checks and a checksum to every block).
 *
 *   bare_loops hot SIZE BATCH CYCLES        batches of one size, freed in reverse order
 *   bare_loops mixed CYCLES WS MIN MAX SEED  random slots of a working set: free if
 *                                            occupied, else malloc a random size
 *
 * Operations: 2 x BATCH x CYCLES for hot, CYCLES for mixed. The work runs in functions named
 * bench_loop_* so that callgrind --toggle-collect='bench_loop*' counts exactly it; the output
 * is the operation count. The written byte and -fno-builtin-malloc keep every call.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

static uint32_t xorshift32(uint32_t* s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

NOINLINE void bench_loop_bare_hot(void** blocks, size_t size, uint32_t batch, uint64_t cycles) {
  for (; cycles > 0; cycles--) {
    for (uint32_t i = 0; i < batch; i++) {
      unsigned char* p = malloc(size);
      if (p == NULL) abort();
      p[0] = (unsigned char)i;
      blocks[i] = p;
    }
    for (uint32_t i = batch; i-- > 0;) free(blocks[i]);
  }
}

NOINLINE void bench_loop_bare_mixed(void** slots, uint64_t cycles, uint32_t ws, uint32_t min,
                                    uint32_t max, uint32_t seed) {
  uint32_t state = seed;
  for (; cycles > 0; cycles--) {
    uint32_t i = xorshift32(&state) % ws;
    unsigned char* p = slots[i];
    if (p != NULL) {
      free(p);
      slots[i] = NULL;
    } else {
      size_t size = min + xorshift32(&state) % (max - min + 1);
      p = malloc(size);
      if (p == NULL) abort();
      p[0] = (unsigned char)size;
      slots[i] = p;
    }
  }
}

static unsigned long long number(const char* s, unsigned long long lo, unsigned long long hi, const char* what) {
  char* end;
  unsigned long long v = strtoull(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
    fprintf(stderr, "bare_loops: %s must be a whole number from %llu to %llu, not '%s'\n", what, lo, hi, s);
    exit(2);
  }
  return v;
}

static int usage(void) {
  fprintf(stderr, "usage: bare_loops hot SIZE BATCH CYCLES | bare_loops mixed CYCLES WS MIN MAX SEED\n");
  return 2;
}

int main(int argc, char** argv) {
  uint64_t ops;
  if (argc == 5 && strcmp(argv[1], "hot") == 0) {
    size_t size = number(argv[2], 1, 1 << 20, "SIZE");
    uint32_t batch = number(argv[3], 1, 1 << 20, "BATCH");
    uint64_t cycles = number(argv[4], 1, 1ull << 40, "CYCLES");
    void** blocks = calloc(batch, sizeof *blocks);
    if (blocks == NULL) return 4;
    bench_loop_bare_hot(blocks, size, batch, cycles);
    free(blocks);
    ops = 2 * (uint64_t)batch * cycles;
  } else if (argc == 7 && strcmp(argv[1], "mixed") == 0) {
    uint64_t cycles = number(argv[2], 1, 1ull << 40, "CYCLES");
    uint32_t ws = number(argv[3], 1, 1 << 24, "WS");
    uint32_t min = number(argv[4], 1, 1 << 20, "MIN");
    uint32_t max = number(argv[5], min, 1 << 20, "MAX");
    uint32_t seed = number(argv[6], 1, UINT32_MAX, "SEED");
    void** slots = calloc(ws, sizeof *slots);
    if (slots == NULL) return 4;
    bench_loop_bare_mixed(slots, cycles, ws, min, max, seed);
    for (uint32_t i = 0; i < ws; i++) free(slots[i]);
    free(slots);
    ops = cycles;
  } else {
    return usage();
  }
  printf("{\"ops\": %llu}\n", (unsigned long long)ops);
  return 0;
}
