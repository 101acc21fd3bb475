/* The invariant checkers of debug builds (src/hak_check.c): a thread breaks one fact of one
 * of its pages on purpose, in a child process, and exits; the checks of its heap at thread
 * exit must abort with one line naming the page and the fact. A legal program must exit 0.
 * Built only with DEBUG=1; the page is found by masking, so SUPERSLAB=0 skips the cases. */
#include <pthread.h>

#include "test_util.h"
#include "../src/hak_internal.h"

#if HAK_SUPERSLAB
/* The descriptor of the page that holds p (the layout of hak_internal.h, read directly: the
 * library's own lookup is hidden). */
static hak_page_t* page_of(void* p) {
  hak_segment_t* seg = (hak_segment_t*)((uintptr_t)p & ~(uintptr_t)HAK_SEGMENT_MASK);
  return &seg->pages[((uintptr_t)p & HAK_SEGMENT_MASK) >> seg->page_shift];
}

/* The page's blocks handed out: one more than it has carved. */
static void break_used(void* p) {
  hak_page_t* page = page_of(p);
#if HAK_DUAL_LISTS
  page->used = page->capacity + 1;
#else
  atomic_store(&page->used, page->capacity + 1);
#endif
}

/* The segment header's list offset of the page: one list further than its class's. */
static void break_list_off(void* p) {
  hak_page_t* page = page_of(p);
  page->segment->list_off[page - page->segment->pages] += 16;
}

#if HAK_DUAL_LISTS && !HAK_HARDEN
/* The first free block of the page links to itself: the list never ends. */
static void break_free_list(void* p) {
  hak_page_t* page = page_of(p);
  CHECK(page->free != NULL, "a fresh mid page keeps free blocks on its list");
  page->free->next = page->free;
}
#endif
#endif

/* Blocks the legal case keeps past its thread's exit (their pages are abandoned, not freed). */
void* kept_past_exit[64];

typedef struct case_s {
  const char* name;
  size_t size;                          /* the block whose page is broken */
  void (*breaks)(void* p);              /* NULL: a legal program */
  const char* fact;                     /* what the line must say */
} case_t;

static void* thread_main(void* arg) {
  const case_t* c = arg;
  if (c->breaks == NULL) {
    /* every tier, freed out of order, a few blocks kept past the thread's exit */
    void* blocks[512];
    uint32_t seed = 7;
    for (int round = 0; round < 20; round++) {
      for (int i = 0; i < 512; i++) blocks[i] = hak_malloc(1 + xorshift32(&seed) % (i % 64 == 0 ? 200000 : 2048));
      for (int i = 0; i < 512; i++) {
        int j = (int)(xorshift32(&seed) % 512);
        void* t = blocks[i]; blocks[i] = blocks[j]; blocks[j] = t;
      }
      for (int i = 0; i < 512; i++) {
        if (round == 19 && i < 64) kept_past_exit[i] = blocks[i];
        else hak_free(blocks[i]);
      }
    }
    return NULL;
  }
  c->breaks(hak_malloc(c->size));       /* the heap's checks run when the thread exits */
  return NULL;
}

/* The case in a thread of its own, whose exit runs the checks of its heap. */
static void run_thread(const void* c) {
  pthread_t t;
  if (pthread_create(&t, NULL, thread_main, (void*)c) != 0 || pthread_join(t, NULL) != 0) _exit(3);
}

/* Runs the case in a child: a legal one must exit 0, a broken one end in SIGABRT after
 * exactly one line "hakmem: invariant broken: page 0x...: ... <fact> ...". */
static int run_case(const case_t* c) {
  char out[1024];
  size_t n;
  int status = run_in_child(run_thread, c, out, sizeof(out), &n);
  const char* prefix = "hakmem: invariant broken: page 0x";
  int ok;
  if (c->breaks == NULL) {
    ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && n == 0;
  } else {
    ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strncmp(out, prefix, strlen(prefix)) == 0 &&
         strstr(out, c->fact) != NULL && strchr(out, '\n') == out + n - 1;
  }
  printf("  %-40s %s%s", c->name, ok ? "ok" : "FAILED", n > 0 ? ": " : "\n");
  if (n > 0) fputs(out, stdout);
  if (!ok) {
    printf("    expected %s; got %s %d\n", c->breaks == NULL ? "a clean exit" : "SIGABRT and one line naming the page",
           WIFSIGNALED(status) ? "signal" : "exit status", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  }
  return ok;
}

int main(void) {
#if !HAK_SUPERSLAB
  printf("invariant checks: skipped (SUPERSLAB=0: no page by masking)\n");
  return 0;
#else
  static const case_t cases[] = {
    {"legal: every tier, blocks kept past exit", 0, NULL, NULL},
    {"tiny page used past its capacity", 64, break_used, "used"},
    {"mid page used past its capacity", 3000, break_used, "used"},
    {"tiny page's list offset in the header", 64, break_list_off, "list offset"},
#if HAK_DUAL_LISTS && !HAK_HARDEN
    {"mid page's free list in a cycle", 2048, break_free_list, "free list longer"},
#endif
  };
  size_t count = sizeof(cases) / sizeof(cases[0]), failed = 0;
  printf("invariant checks (debug build):\n");
  for (size_t i = 0; i < count; i++) {
    if (!run_case(&cases[i])) failed++;
  }
  printf("%zu cases, %zu failed\n", count, failed);
  return failed == 0 ? 0 : 1;
#endif
}
