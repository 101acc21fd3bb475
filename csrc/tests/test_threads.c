/* Threads: blocks freed by threads that did not allocate them, threads that exit while
 * others still hold their blocks, and a live-pointer set proving that no block is lost or
 * handed out twice. */
#include "test_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static const api_t* A;

/* ---------------------------------------------------------------- live-pointer set */

#define STRIPES 64
#define STRIPE_SLOTS (1u << 15)
typedef struct stripe_s { pthread_mutex_t lock; uintptr_t slots[STRIPE_SLOTS]; size_t count; } stripe_t;
static stripe_t* live;

static size_t ptr_hash(uintptr_t p) { return (size_t)((p >> 4) * UINT64_C(0x9E3779B97F4A7C15) >> 20); }

static void live_init(void) {
  live = calloc(STRIPES, sizeof(stripe_t));
  for (int i = 0; i < STRIPES; i++) pthread_mutex_init(&live[i].lock, NULL);
}

static void live_add(void* ptr) {
  uintptr_t p = (uintptr_t)ptr;
  size_t h = ptr_hash(p);
  stripe_t* s = &live[h % STRIPES];
  pthread_mutex_lock(&s->lock);
  CHECK(s->count < STRIPE_SLOTS * 3 / 4, "live set full");
  size_t i = (h / STRIPES) & (STRIPE_SLOTS - 1);
  for (; s->slots[i] != 0; i = (i + 1) & (STRIPE_SLOTS - 1)) {
    CHECK(s->slots[i] != p, "block %p handed out while still live", ptr);
  }
  s->slots[i] = p;
  s->count++;
  pthread_mutex_unlock(&s->lock);
}

static void live_remove(void* ptr) {
  uintptr_t p = (uintptr_t)ptr;
  size_t h = ptr_hash(p);
  stripe_t* s = &live[h % STRIPES];
  pthread_mutex_lock(&s->lock);
  size_t mask = STRIPE_SLOTS - 1, i = (h / STRIPES) & mask;
  while (s->slots[i] != p) {
    CHECK(s->slots[i] != 0, "freeing %p, which is not live", ptr);
    i = (i + 1) & mask;
  }
  /* backward-shift deletion keeps probe chains intact */
  s->slots[i] = 0;
  for (size_t j = (i + 1) & mask; s->slots[j] != 0; j = (j + 1) & mask) {
    size_t home = (ptr_hash(s->slots[j]) / STRIPES) & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {
      s->slots[i] = s->slots[j];
      s->slots[j] = 0;
      i = j;
    }
  }
  s->count--;
  pthread_mutex_unlock(&s->lock);
}

/* ---------------------------------------------------------------- blocks with identity */

typedef struct header_s { uint64_t id; uint32_t size; uint32_t seed; } header_t;

static size_t pick_size(uint32_t* rng) {
  uint32_t r = xorshift32(rng) % 1000;
  if (r < 700) return sizeof(header_t) + xorshift32(rng) % 1024;
  if (r < 950) return 1024 + xorshift32(rng) % 8192;
  if (r < 995) return 8192 + xorshift32(rng) % 60000;
  return 70000 + xorshift32(rng) % 300000;
}

static void* make_block(uint64_t id, uint32_t* rng) {
  size_t size = pick_size(rng);
  header_t* h = A->malloc(size);
  CHECK(h != NULL, "malloc(%zu)", size);
  live_add(h);
  h->id = id;
  h->size = (uint32_t)size;
  h->seed = (uint32_t)(id * 2654435761u);
  fill_pattern(h + 1, size - sizeof(header_t), h->seed);
  return h;
}

static uint64_t drop_block(void* p) {
  header_t* h = p;
  uint64_t id = h->id;
  CHECK(check_pattern(h + 1, h->size - sizeof(header_t), h->seed), "block %llu corrupted", (unsigned long long)id);
  live_remove(p);
  A->free(p);
  return id;
}

/* ---------------------------------------------------------------- producers and consumers */

#define RING 4096
static struct {
  pthread_mutex_t lock;
  pthread_cond_t not_empty, not_full;
  void* items[RING];
  size_t head, tail;
  int producers_left;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0, 0 };

static size_t per_producer;
static _Atomic(uint8_t)* seen;
static _Atomic(size_t) consumed;

static void* producer(void* arg) {
  uint32_t rng = 0x1234u + (uint32_t)(uintptr_t)arg * 7919u;
  for (size_t i = 0; i < per_producer; i++) {
    void* b = make_block((uint64_t)(uintptr_t)arg * per_producer + i, &rng);
    pthread_mutex_lock(&q.lock);
    while (q.tail - q.head == RING) pthread_cond_wait(&q.not_full, &q.lock);
    q.items[q.tail++ % RING] = b;
    pthread_cond_signal(&q.not_empty);
    pthread_mutex_unlock(&q.lock);
  }
  pthread_mutex_lock(&q.lock);
  q.producers_left--;
  pthread_cond_broadcast(&q.not_empty);
  pthread_mutex_unlock(&q.lock);
  return NULL;
}

static void* consumer(void* arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&q.lock);
    while (q.tail == q.head && q.producers_left > 0) pthread_cond_wait(&q.not_empty, &q.lock);
    if (q.tail == q.head) { pthread_mutex_unlock(&q.lock); return NULL; }
    void* b = q.items[q.head++ % RING];
    pthread_cond_signal(&q.not_full);
    pthread_mutex_unlock(&q.lock);
    uint64_t id = drop_block(b);
    CHECK(atomic_exchange(&seen[id], 1) == 0, "block id %llu consumed twice", (unsigned long long)id);
    atomic_fetch_add(&consumed, 1);
  }
}

static void test_producer_consumer(int producers, int consumers) {
  per_producer = test_quick() ? 20000 : 200000;
  size_t total = per_producer * (size_t)producers;
  seen = calloc(total, 1);
  atomic_store(&consumed, 0);
  q.head = q.tail = 0;
  q.producers_left = producers;
  pthread_t t[16];
  for (int i = 0; i < producers; i++) pthread_create(&t[i], NULL, producer, (void*)(uintptr_t)i);
  for (int i = 0; i < consumers; i++) pthread_create(&t[producers + i], NULL, consumer, NULL);
  for (int i = 0; i < producers + consumers; i++) pthread_join(t[i], NULL);
  CHECK(atomic_load(&consumed) == total, "consumed %zu of %zu blocks", atomic_load(&consumed), total);
  for (size_t i = 0; i < total; i++) CHECK(seen[i] == 1, "block %zu lost", i);
  free(seen);
}

/* ---------------------------------------------------------------- exit while others hold blocks */

#define HANDOVER 4000
static void* handed[HANDOVER];

static void* allocate_and_exit(void* arg) {
  uint32_t rng = 777u + (uint32_t)(uintptr_t)arg;
  for (int i = 0; i < HANDOVER; i++) handed[i] = make_block((uint64_t)i, &rng);
  return NULL;
}

/* Allocates a lot (adopting the exited thread's segments), then frees the second half of the
 * exited thread's blocks. */
static void* adopt_and_free(void* arg) {
  uint32_t rng = 99u + (uint32_t)(uintptr_t)arg;
  enum { MINE = 6000 };
  void** mine = A->malloc(MINE * sizeof(void*));
  for (int i = 0; i < MINE; i++) mine[i] = make_block((uint64_t)i, &rng);
  for (int i = HANDOVER / 2; i < HANDOVER; i++) drop_block(handed[i]);
  for (int i = 0; i < MINE; i++) drop_block(mine[i]);
  A->free(mine);
  return NULL;
}

static void test_exit_handover(void) {
  int rounds = test_quick() ? 4 : 12;
  for (int r = 0; r < rounds; r++) {
    pthread_t t;
    pthread_create(&t, NULL, allocate_and_exit, (void*)(uintptr_t)r);
    pthread_join(t, NULL);
    /* the owner is gone: these frees land on abandoned pages */
    for (int i = 0; i < HANDOVER / 2; i++) drop_block(handed[i]);
    pthread_create(&t, NULL, adopt_and_free, (void*)(uintptr_t)r);
    pthread_join(t, NULL);
  }
}

/* ---------------------------------------------------------------- ring of remote frees */

#define RING_THREADS 4
#define RING_BATCH 2000
static void* ring_slots[RING_THREADS][RING_BATCH];
static pthread_barrier_t ring_barrier;

static void* ring_worker(void* arg) {
  int me = (int)(uintptr_t)arg;
  uint32_t rng = 31337u * (uint32_t)(me + 1);
  int rounds = test_quick() ? 10 : 60;
  for (int r = 0; r < rounds; r++) {
    for (int i = 0; i < RING_BATCH; i++) ring_slots[me][i] = make_block((uint64_t)i, &rng);
    pthread_barrier_wait(&ring_barrier);
    /* free the neighbour's blocks: every one is a remote free */
    int victim = (me + 1) % RING_THREADS;
    for (int i = 0; i < RING_BATCH; i++) drop_block(ring_slots[victim][i]);
    pthread_barrier_wait(&ring_barrier);
  }
  return NULL;
}

static void test_ring(void) {
  pthread_barrier_init(&ring_barrier, NULL, RING_THREADS);
  pthread_t t[RING_THREADS];
  for (int i = 0; i < RING_THREADS; i++) pthread_create(&t[i], NULL, ring_worker, (void*)(uintptr_t)i);
  for (int i = 0; i < RING_THREADS; i++) pthread_join(t[i], NULL);
  pthread_barrier_destroy(&ring_barrier);
}

/* ---------------------------------------------------------------- many short-lived threads */

#define CHURN_KEEP 64
static void* churn_kept[256][CHURN_KEEP];

static void* churn_worker(void* arg) {
  int me = (int)(uintptr_t)arg;
  uint32_t rng = 4242u + (uint32_t)me;
  void* local[500];
  for (int k = 0; k < 4; k++) {
    for (int i = 0; i < 500; i++) local[i] = make_block((uint64_t)i, &rng);
    for (int i = 0; i < 500; i++) drop_block(local[i]);
  }
  for (int i = 0; i < CHURN_KEEP; i++) churn_kept[me][i] = make_block((uint64_t)i, &rng);
  return NULL;
}

static void test_churn(void) {
  int total = test_quick() ? 64 : 256;
  for (int base = 0; base < total; base += 8) {
    pthread_t t[8];
    for (int i = 0; i < 8; i++) pthread_create(&t[i], NULL, churn_worker, (void*)(uintptr_t)(base + i));
    for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
  }
  for (int me = 0; me < total; me++)
    for (int i = 0; i < CHURN_KEEP; i++) drop_block(churn_kept[me][i]);
}

/* ---------------------------------------------------------------- heap lifecycle */

#define LIFECYCLE_BLOCKS 1000
static void* lifecycle_blocks[LIFECYCLE_BLOCKS];

static void* lifecycle_allocate(void* arg) {
  size_t size = (size_t)(uintptr_t)arg;
  for (int i = 0; i < LIFECYCLE_BLOCKS; i++) {
    lifecycle_blocks[i] = hak_malloc(size);
    CHECK(lifecycle_blocks[i] != NULL, "hak_malloc(%zu)", size);
    memset(lifecycle_blocks[i], 0x5c, size);
  }
  return NULL;
}

static void* lifecycle_allocate_and_free(void* arg) {
  lifecycle_allocate(arg);
  for (int i = 0; i < LIFECYCLE_BLOCKS; i++) hak_free(lifecycle_blocks[i]);
  return NULL;
}

static void run_thread(void* (*fn)(void*), size_t size) {
  pthread_t t;
  pthread_create(&t, NULL, fn, (void*)(uintptr_t)size);
  pthread_join(t, NULL);
}

/* Runs first, while no segment is abandoned or cached. The hak_* API, so that wrap-tiny and
 * the sanitizers' malloc do not matter. */
/* The mid cache: the block a thread freed last is the next of its class it gets, even when
 * its page is full and not the one the class allocates from, and even when another thread
 * allocated it; what a thread still holds when it exits goes to the shared pool, from which
 * the next thread that needs blocks of the class takes them before it carves fresh pages. */
#define MID_CACHE_BLOCKS 40     /* 20 KiB blocks: over three 256 KiB pages */
static void* mid_cache_blocks[MID_CACHE_BLOCKS];
static void* mid_cache_foreign;

static void* mid_cache_free_and_exit(void* arg) {
  (void)arg;
  void** b = mid_cache_blocks;
  for (int i = 0; i < MID_CACHE_BLOCKS; i++) b[i] = hak_malloc(20000);
  hak_free(b[0]);
  void* again = hak_malloc(19000);
  CHECK(again == b[0], "the mid block freed last (%p) is handed out next, got %p", b[0], again);
  hak_free(mid_cache_foreign);            /* allocated by the main thread */
  again = hak_malloc(20000);
  CHECK(again == mid_cache_foreign, "a mid block freed by another thread (%p) is reused by it, got %p",
        mid_cache_foreign, again);
  hak_free(again);
  for (int i = 0; i < MID_CACHE_BLOCKS; i++) hak_free(b[i]);
  return NULL;
}

static void* mid_cache_take(void* arg) {
  *(void**)arg = hak_malloc(20000);
  return NULL;
}

/* Refill order: when the current page runs dry, blocks other threads freed into another
 * page of the class (here 100 KiB of them, above the 32 KiB threshold) are taken before
 * fresh blocks are carved from the current page. The owner allocates two pages' worth of
 * 1000-byte blocks, a second thread frees 100 of the first page's, and the owner's next
 * allocations are those blocks again. */
enum { REFILL_BLOCKS = 600, REFILL_FREED = 100, REFILL_AGAIN = 50 };
static void* refill_blocks[REFILL_BLOCKS];
static pthread_barrier_t refill_barrier;

static void* refill_freer(void* arg) {
  (void)arg;
  pthread_barrier_wait(&refill_barrier);             /* the owner has allocated */
  for (int i = 0; i < REFILL_FREED; i++) hak_free(refill_blocks[i]);
  pthread_barrier_wait(&refill_barrier);
  return NULL;
}

static void* refill_owner(void* arg) {
  (void)arg;
  for (int i = 0; i < REFILL_BLOCKS; i++) {
    refill_blocks[i] = hak_malloc(1000);
    CHECK(refill_blocks[i] != NULL, "hak_malloc(1000)");
  }
  pthread_barrier_wait(&refill_barrier);
  pthread_barrier_wait(&refill_barrier);             /* the freer is done */
  /* drain what is left on the current page's list, then count the reused blocks */
  void* again[REFILL_AGAIN + 8];
  int reused = 0;
  for (int i = 0; i < REFILL_AGAIN + 8; i++) {
    again[i] = hak_malloc(1000);
    for (int k = 0; k < REFILL_FREED && i >= 8; k++) reused += again[i] == refill_blocks[k];
  }
  CHECK(reused >= REFILL_AGAIN - 4, "only %d of %d blocks after a refill were the ones another thread freed", reused, REFILL_AGAIN);
  for (int i = 0; i < REFILL_AGAIN + 8; i++) hak_free(again[i]);
  for (int i = REFILL_FREED; i < REFILL_BLOCKS; i++) hak_free(refill_blocks[i]);
  return NULL;
}

static void test_refill_order(void) {
  pthread_t owner, freer;
  pthread_barrier_init(&refill_barrier, NULL, 2);
  pthread_create(&owner, NULL, refill_owner, NULL);
  pthread_create(&freer, NULL, refill_freer, NULL);
  pthread_join(owner, NULL);
  pthread_join(freer, NULL);
  pthread_barrier_destroy(&refill_barrier);
}

/* Whether a cache of `size` (blocks or slots; 0: compiled out) is on, checking that it is
 * off exactly in hardened builds. */
static int cache_on(int size, const char* name) {
  hak_config_t cfg;
  hak_config(&cfg);
  CHECK((size == 0) == (cfg.harden != 0), "the %s cache is off exactly in hardened builds (%d)", name, size);
  return size != 0;
}

static void test_mid_cache(void) {
  hak_config_t cfg;
  hak_config(&cfg);
  if (!cache_on(cfg.mid_cache_slots, "mid")) return;
  mid_cache_foreign = hak_malloc(20000);
  pthread_t t;
  pthread_create(&t, NULL, mid_cache_free_and_exit, NULL);
  pthread_join(t, NULL);
  hak_stats_t before, after;
  hak_stats_get(&before);
  void* taken = NULL;
  pthread_create(&t, NULL, mid_cache_take, &taken);    /* a new thread: no pages of its own */
  pthread_join(t, NULL);
  hak_stats_get(&after);
  int found = 0;
  for (int i = 0; i < MID_CACHE_BLOCKS; i++) found |= taken == mid_cache_blocks[i];
  CHECK(found, "a new thread's first mid block (%p) is one the exited thread left in the pool", taken);
  CHECK(after.always.mid_batches_taken > before.always.mid_batches_taken, "a batch was taken from the pool");
  CHECK(after.always.mid_pages_carved == before.always.mid_pages_carved, "no mid page was carved (%llu)",
        (unsigned long long)(after.always.mid_pages_carved - before.always.mid_pages_carved));
  hak_free(taken);
}

/* The tiny cache: a thread's next tiny block of a class is the one it freed last, whichever
 * thread allocated it, and taking a block another thread allocated costs no remote free;
 * what a thread's lists hold when it exits goes back to the blocks' pages, or to the shared
 * pool for the blocks of the pages of another live thread that is idle, where the next
 * thread to miss takes them. With wrap-tiny
 * off the lists have no room, and such frees go to their owner's page at once. A thread
 * that has not allocated from a class yet keeps none of the class's blocks for its own
 * mallocs (passive false sharing): they go back to their pages at its first malloc. */
#define TINY_CACHE_BLOCKS 32
static void* tiny_cache_foreign[TINY_CACHE_BLOCKS];

static void* tiny_cache_free_and_take(void* arg) {
  (void)arg;
  hak_free(hak_malloc(60));      /* the class's list opens with the thread's first allocation */
  hak_stats_t before, after;
  hak_stats_get(&before);
  for (int i = 0; i < TINY_CACHE_BLOCKS; i++) hak_free(tiny_cache_foreign[i]);
  hak_stats_get(&after);
  uint64_t remote = after.always.remote_frees - before.always.remote_frees;
  if (!wrap_tiny_on()) {
    CHECK(remote == TINY_CACHE_BLOCKS, "without room, each free went to its owner's page (%llu remote)",
          (unsigned long long)remote);
    return NULL;
  }
  CHECK(remote == 0, "frees of another thread's tiny blocks are kept, not sent back (%llu remote)",
        (unsigned long long)remote);
  for (int i = TINY_CACHE_BLOCKS - 1; i >= 0; i--) {
    void* again = hak_malloc(60);
    CHECK(again == tiny_cache_foreign[i], "the tiny block freed last (%p) is handed out next, got %p",
          tiny_cache_foreign[i], again);
  }
  for (int i = 0; i < TINY_CACHE_BLOCKS; i++) hak_free(tiny_cache_foreign[i]);
  /* their owner, waiting in pthread_join, has been quiet for longer than the pool asks */
  usleep(50 * 1000);
  return NULL;     /* the exit sends them back */
}

/* A new thread's first mallocs of the class: the shared pool's newest batch, the blocks an
 * exited thread held of another thread's page, before any page. */
static void* tiny_cache_take_shared(void* arg) {
  (void)arg;
  void* got[TINY_CACHE_BLOCKS];
  int foreign = 0;
  for (int i = 0; i < TINY_CACHE_BLOCKS; i++) {
    got[i] = hak_malloc(60);
    for (int j = 0; j < TINY_CACHE_BLOCKS; j++) foreign += got[i] == tiny_cache_foreign[j];
  }
  CHECK(foreign == TINY_CACHE_BLOCKS, "%d of the %d mallocs returned a block of the shared batch", foreign, TINY_CACHE_BLOCKS);
  for (int i = 0; i < TINY_CACHE_BLOCKS; i++) hak_free(got[i]);
  return NULL;
}

/* The thread's first act is to free blocks another thread allocated, as a worker freeing
 * the task object it was handed does: its mallocs of the class never return them. */
static void* tiny_cache_free_first(void* arg) {
  (void)arg;
  hak_stats_t before, after;
  hak_stats_get(&before);
  for (int i = 0; i < TINY_CACHE_BLOCKS; i++) hak_free(tiny_cache_foreign[i]);
  hak_stats_get(&after);
  uint64_t early = after.always.remote_frees - before.always.remote_frees;
  if (wrap_tiny_on())
    CHECK(early == 0, "a thread's frees before its first malloc of the class wait to go back in runs (%llu remote)",
          (unsigned long long)early);
  else
    CHECK(early == TINY_CACHE_BLOCKS, "without room, each free went to its owner's page (%llu remote)", (unsigned long long)early);
  void* mine[TINY_CACHE_BLOCKS];
  for (int i = 0; i < TINY_CACHE_BLOCKS; i++) {
    mine[i] = hak_malloc(60);
    for (int j = 0; j < TINY_CACHE_BLOCKS; j++)
      CHECK(mine[i] != tiny_cache_foreign[j], "malloc %d handed back block %p, which another thread allocated", i, mine[i]);
  }
  hak_stats_get(&after);
  uint64_t remote = after.always.remote_frees - before.always.remote_frees;
  CHECK(remote == TINY_CACHE_BLOCKS, "all %d went back to their owner's page (%llu remote)", TINY_CACHE_BLOCKS,
        (unsigned long long)remote);
  for (int i = 0; i < TINY_CACHE_BLOCKS; i++) hak_free(mine[i]);
  return NULL;
}

static void test_tiny_cache(void) {
  hak_config_t cfg;
  hak_config(&cfg);
  if (!cache_on(cfg.tiny_cache_blocks, "tiny")) return;
  void* a = hak_malloc(48);
  void* b = hak_malloc(48);
  hak_free(a);
  hak_free(b);
  void* first = hak_malloc(40);
  void* second = hak_malloc(48);
  CHECK(first == b && second == a, "freed tiny blocks come back last in, first out (%p %p, got %p %p)", b, a, first, second);
  hak_free(first);
  hak_free(second);

  for (int i = 0; i < TINY_CACHE_BLOCKS; i++) tiny_cache_foreign[i] = hak_malloc(64);
  hak_stats_t before, after;
  hak_stats_get(&before);
  pthread_t t;
  pthread_create(&t, NULL, tiny_cache_free_and_take, NULL);
  pthread_join(t, NULL);
  hak_stats_get(&after);
  if (wrap_tiny_on()) {
    uint64_t remote = after.always.remote_frees - before.always.remote_frees;
    uint64_t shared = after.always.tiny_batches_shared - before.always.tiny_batches_shared;
    CHECK(shared == 1 && remote == 0,
          "the exiting thread put the blocks it held of a page whose live owner is idle in the shared pool as one "
          "batch (%llu batches, %llu remote)", (unsigned long long)shared, (unsigned long long)remote);
    hak_stats_get(&before);
    pthread_create(&t, NULL, tiny_cache_take_shared, NULL);
    pthread_join(t, NULL);
    hak_stats_get(&after);
    uint64_t taken = after.always.tiny_batches_taken - before.always.tiny_batches_taken;
    CHECK(taken == 1, "a new thread's first malloc of the class took the batch (%llu taken)", (unsigned long long)taken);
  }

  for (int i = 0; i < TINY_CACHE_BLOCKS; i++) tiny_cache_foreign[i] = hak_malloc(64);
  pthread_create(&t, NULL, tiny_cache_free_first, NULL);
  pthread_join(t, NULL);
}

static void test_lifecycle(void) {
  void* mine = hak_malloc(100);      /* this thread allocates: it has segments of its own */
  hak_stats_t before, after;

  /* Reclaim on free: the first free into an exited thread's segment makes it ours, and the
   * rest of its blocks are freed locally. */
  run_thread(lifecycle_allocate, 200);
  hak_stats_get(&before);
  for (int i = 0; i < LIFECYCLE_BLOCKS; i++) hak_free(lifecycle_blocks[i]);
  hak_stats_get(&after);
  CHECK(after.always.segments_reclaimed > before.always.segments_reclaimed, "a free reclaimed the exited thread's segment");
  CHECK(after.always.remote_frees == before.always.remote_frees, "frees after the reclaim are local (%llu remote)",
        (unsigned long long)(after.always.remote_frees - before.always.remote_frees));

  /* Empty segments of an exited thread serve the next thread's requests, of the other kind
   * too, before any fresh segment is mapped. */
  run_thread(lifecycle_allocate_and_free, 900);           /* tiny: 900 KiB */
  hak_stats_get(&before);
  run_thread(lifecycle_allocate_and_free, 3000);          /* mid: 3 MiB */
  hak_stats_get(&after);
  CHECK(after.always.segments_reused > before.always.segments_reused, "a cached segment was reused");
  CHECK(after.always.segments_mapped == before.always.segments_mapped, "no fresh segment was mapped (%llu)",
        (unsigned long long)(after.always.segments_mapped - before.always.segments_mapped));

  /* Decay: empty pages this thread released are purged in one batch once they have waited
   * the purge delay; the check runs when a page is next carved or emptied. Two classes of
   * two pages each leave two empty pages: the next carve reuses one, the other is purged. */
  static void* more_blocks[LIFECYCLE_BLOCKS];
  hak_stats_get(&before);
  for (int i = 0; i < LIFECYCLE_BLOCKS; i++) {
    lifecycle_blocks[i] = hak_malloc(1000);
    more_blocks[i] = hak_malloc(900);
  }
  for (int i = 0; i < LIFECYCLE_BLOCKS; i++) {
    hak_free(lifecycle_blocks[i]);
    hak_free(more_blocks[i]);
  }
  struct timespec delay = { 0, 50 * 1000 * 1000 };
  nanosleep(&delay, NULL);
  for (int i = 0; i < LIFECYCLE_BLOCKS; i++) lifecycle_blocks[i] = hak_malloc(500);
  for (int i = 0; i < LIFECYCLE_BLOCKS; i++) hak_free(lifecycle_blocks[i]);
  hak_stats_get(&after);
  CHECK(after.always.pages_purged > before.always.pages_purged, "empty pages were purged after the delay");

  /* Large cache: a freed block serves a bigger request (its reserved address space grows
   * into it) and then a smaller one, without a fresh mapping. */
  hak_stats_get(&before);
  size_t sizes[3] = { 6u << 20, 20u << 20, 8u << 20 };
  for (int i = 0; i < 3; i++) {
    unsigned char* big = hak_malloc(sizes[i]);
    CHECK(big != NULL && hak_usable_size(big) >= sizes[i], "large block of %zu bytes", sizes[i]);
    memset(big, i + 1, sizes[i]);
    CHECK(big[0] == i + 1 && big[sizes[i] - 1] == i + 1, "large block holds what was written");
    hak_free(big);
  }
  hak_stats_get(&after);
  CHECK(after.always.large_maps - before.always.large_maps == 1, "one mapping served three large blocks (%llu)",
        (unsigned long long)(after.always.large_maps - before.always.large_maps));
  CHECK(after.always.large_cache_hits - before.always.large_cache_hits == 2, "two large cache hits");

  /* Many large blocks of two sizes, freed together and allocated again (a thread's exit and
   * its successor, in mimalloc's stress test): the cache takes them all back and maps none. */
  enum { MANY_LARGE = 600 };
  static void* many[MANY_LARGE];
  for (int round = 0; round < 2; round++) {
    hak_stats_get(&before);
    for (int i = 0; i < MANY_LARGE; i++) {
      size_t size = (i & 1) ? (160u << 10) : (80u << 10);
      many[i] = hak_malloc(size);
      CHECK(many[i] != NULL && hak_usable_size(many[i]) >= size, "large block %d of %zu bytes", i, size);
      memset(many[i], round + 1, 4096);
    }
    hak_stats_get(&after);
    for (int i = 0; i < MANY_LARGE; i++) hak_free(many[i]);
  }
  CHECK(after.always.large_maps == before.always.large_maps, "%d freed large blocks served as many again without a mapping (%llu maps)",
        MANY_LARGE, (unsigned long long)(after.always.large_maps - before.always.large_maps));
  CHECK(after.always.large_cache_hits - before.always.large_cache_hits == MANY_LARGE, "every one a cache hit");
  hak_free(mine);
}

int main(void) {
  live_init();
  test_lifecycle();
  test_refill_order();
  test_mid_cache();
  test_tiny_cache();
  for (size_t i = 0; i < TEST_API_COUNT; i++) {
    A = test_apis[i];
    test_producer_consumer(2, 2);
    test_producer_consumer(1, 3);
    test_exit_handover();
    test_ring();
    test_churn();
  }
  for (int s = 0; s < STRIPES; s++) CHECK(live[s].count == 0, "blocks left live");
  hak_stats_t st;
  hak_stats_get(&st);
  CHECK(st.always.heaps_abandoned > 0, "exited threads handed their heaps over");
  CHECK(st.always.remote_frees > 0 || !wrap_tiny_on(), "remote frees were counted");
  printf("test_threads: ok (remote frees %llu, heaps abandoned %llu, segments adopted %llu)\n",
         (unsigned long long)st.always.remote_frees, (unsigned long long)st.always.heaps_abandoned,
         (unsigned long long)st.always.segments_adopted);
  return 0;
}
