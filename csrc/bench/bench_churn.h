/*
 * The slot churn kernel shared by random_mixed (one working set) and mid_large_mt
 * (one working set per thread): each cycle picks a slot at random, frees its block when it
 * has one, otherwise allocates a block of a random size in [min, max] and touches it.
 */
#ifndef HAK_BENCH_CHURN_H
#define HAK_BENCH_CHURN_H

#include "bench_common.h"

/* A slot: its block (or NULL) and the block's tag, side by side so that one address
 * reaches both. The tag's low half is the slot's index and its high half the size. */
typedef struct bench_slot_s {
  void *block;
  uint64_t tag;
} bench_slot_t;

typedef struct bench_churn_s {
  bench_slot_t *slots;
  uint64_t ws;     /* 64-bit so the loop can use them as memory operands */
  uint64_t min;
  uint64_t span; /* max - min + 1 */
  uint32_t rng;
  uint64_t digest;
} bench_churn_t;

/* Allocates the slot arrays (setup, outside the measured region); exits 4 if it cannot. */
void bench_churn_init(bench_churn_t *c, uint32_t ws, uint32_t min, uint32_t max, uint32_t rng);
/* Verifies and frees what is left, folding it into the digest in slot order, then frees the
 * slot arrays (teardown, outside the measured region). */
void bench_churn_release(bench_churn_t *c, uint32_t sample_mask);

/* The measured loop, inlined into each program's bench_loop_* function so the sampling mask
 * is a constant there. One operation per cycle: the slot decides between free and malloc,
 * so a working set half full on average sees as many frees as mallocs, in random order.
 * One random number per cycle: its product with ws gives the slot (high half) and a uniform
 * fraction (low half) that gives the size. The digest folds the tag read back from every
 * block freed (slot and size, as the memory held them). */
BENCH_ALWAYS_INLINE void bench_churn_run(bench_churn_t *c, uint64_t cycles,
                                         const uint32_t sample_mask) {
  bench_slot_t *const slots = c->slots;
  const uint64_t ws = c->ws, min = c->min, span = c->span;
  uint32_t rng = c->rng;
  uint64_t h = c->digest;
  for (; cycles > 0; cycles--) {
    uint64_t pick = (uint64_t)bench_rand(&rng) * ws;
    uint64_t i = pick >> 32;
    bench_slot_t *const s = &slots[i];
    /* Whether the slot is sampled is read from the tag, whose low half is i: after a call
     * nothing but the slot and the tag has to survive in registers. */
    if (s->block != NULL) {
      const uint64_t tag = s->tag;
      h = bench_digest(h, bench_free(s->block, bench_tag_size(tag), tag, (uint32_t)tag,
                                     (tag & sample_mask) == 0));
      s->block = NULL;
    } else {
      const uint64_t size = min + ((uint32_t)pick * span >> 32);
      const uint64_t tag = bench_tag(i, size);
      s->block = bench_alloc(size, tag, (i & sample_mask) == 0);
      s->tag = tag;
    }
  }
  c->rng = rng;
  c->digest = h;
}

#endif
