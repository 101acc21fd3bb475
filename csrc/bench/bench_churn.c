/*
 * Setup and teardown of the slot churn kernel (the loop itself is in bench_churn.h).
 */
#include "bench_churn.h"

void bench_churn_init(bench_churn_t *c, uint32_t ws, uint32_t min, uint32_t max, uint32_t rng) {
  c->slots = bench_calloc(ws, sizeof *c->slots);
  c->ws = ws;
  c->min = min;
  c->span = (uint64_t)max - min + 1;
  c->rng = rng;
  c->digest = BENCH_DIGEST_INIT;
}

void bench_churn_release(bench_churn_t *c, uint32_t sample_mask) {
  for (uint32_t i = 0; i < c->ws; i++) {
    bench_slot_t *const s = &c->slots[i];
    if (s->block != NULL) {
      uint64_t head = bench_free(s->block, bench_tag_size(s->tag), s->tag, i, (i & sample_mask) == 0);
      c->digest = bench_digest(c->digest, head);
      s->block = NULL;
    }
  }
  free(c->slots);
  c->slots = NULL;
}
