/* Heap misuse: double frees, invalid frees, writes after free, overflows and reallocs of freed
 * blocks, each run in a child process. A HARDEN=1 build must stop every case with one line
 * "hakmem: <kind> of 0x..." on stderr and SIGABRT; the legal controls must run to the end.
 * A run off the end of a large block faults on its guard page instead. A HARDEN=0 build only has to stop the cases its slow paths catch (a corrupted remote list);
 * the others may do anything but hang. */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#define TINY 64
#define MID 4000
#define LARGE 200000
#define HAK_QUARANTINE_FLUSH 80   /* more than the largest quarantine (HAK_HD_QUARANTINE_MAX) */

/* ---------------------------------------------------------------- helpers */

static void* thread_free_fn(void* p) { hak_free(p); return NULL; }
static void* thread_free_twice_fn(void* p) { hak_free(p); hak_free(p); return NULL; }

static void free_in_thread(void* p) {
  pthread_t t;
  pthread_create(&t, NULL, thread_free_fn, p);
  pthread_join(t, NULL);
}

/* Blocks are handed out in address order from a fresh page: a run of n, of which block i is
 * returned; the others stay live. */
static char* nth_of_fresh(size_t size, int n, int i, void** keep) {
  for (int k = 0; k < n; k++) keep[k] = hak_malloc(size);
  return keep[i];
}

/* Freed blocks wait on the page's local list until its fresh blocks run out: allocate until
 * the block comes back (a hardened build stops before). The hardened build first holds a
 * freed block in the freeing thread's quarantine: more frees of the size push it out. */
static void malloc_until(size_t size, const void* target) {
  void* flush[HAK_QUARANTINE_FLUSH];
  for (int i = 0; i < HAK_QUARANTINE_FLUSH; i++) flush[i] = hak_malloc(size);
  for (int i = 0; i < HAK_QUARANTINE_FLUSH; i++) hak_free(flush[i]);
  for (int i = 0; i < 100000; i++)
    if (hak_malloc(size) == target) return;
}

static void double_free(size_t size) { void* p = hak_malloc(size); hak_free(p); hak_free(p); }

static void double_free_delayed(size_t size) {
  void* a = hak_malloc(size); void* b = hak_malloc(size); void* c = hak_malloc(size);
  hak_free(a); hak_free(b); hak_free(c); hak_free(a);
}

static void double_free_interleaved(size_t size) {
  void* a = hak_malloc(size); void* b = hak_malloc(size);
  hak_free(a);
  void* x = hak_malloc(size * 2);
  hak_free(b); hak_free(x);
  hak_free(a);
}

static void double_free_cross(size_t size) { void* p = hak_malloc(size); free_in_thread(p); hak_free(p); }

/* Blocks this thread allocated, freed by a thread that then exited: a hardened build keeps
 * mid ones, still marked free and filled, in the shared pool for the next thread. */
#define POOLED 64
static void* thread_free_all_fn(void* p) {
  for (int i = 0; i < POOLED; i++) hak_free(((void**)p)[i]);
  return NULL;
}
static void** freed_by_exited_thread(size_t size) {
  static void* blocks[POOLED];
  for (int i = 0; i < POOLED; i++) blocks[i] = hak_malloc(size);
  pthread_t t;
  pthread_create(&t, NULL, thread_free_all_fn, blocks);
  pthread_join(t, NULL);
  return (void**)blocks;
}

/* ---------------------------------------------------------------- cases */

static void df_tiny(void) { double_free(TINY); }
static void df_tiny_16(void) { double_free(16); }
static void df_tiny_1024(void) { double_free(1024); }
static void df_tiny_delayed(void) { double_free_delayed(TINY); }
static void df_tiny_interleaved(void) { double_free_interleaved(TINY); }
static void df_tiny_after_many(void) {
  enum { N = 2000 };
  static void* v[N];
  for (int i = 0; i < N; i++) v[i] = hak_malloc(48);
  for (int i = 0; i < N; i++) hak_free(v[i]);
  hak_free(v[7]);
}
static void df_tiny_written(void) {
  /* a write into the freed block past its link word does not hide it */
  char* p = hak_malloc(TINY);
  hak_free(p);
  memset(p + 8, 'w', TINY - 8);
  hak_free(p);
}
static void df_tiny_cross(void) { double_free_cross(TINY); }
static void df_tiny_remote_twice(void) {
  void* p = hak_malloc(TINY);
  pthread_t t;
  pthread_create(&t, NULL, thread_free_twice_fn, p);
  pthread_join(t, NULL);
}
static void df_tiny_owner_then_remote(void) { void* p = hak_malloc(TINY); hak_free(p); free_in_thread(p); }
static void df_mid(void) { double_free(MID); }
static void df_mid_delayed(void) { double_free_delayed(MID); }
static void df_mid_interleaved(void) { double_free_interleaved(MID); }
static void df_mid_cross(void) { double_free_cross(MID); }
static void df_mid_pooled(void) { hak_free(freed_by_exited_thread(MID)[POOLED / 2]); }
static void df_large(void) { double_free(LARGE); }
static void df_large_delayed(void) { double_free_delayed(LARGE); }
static void df_large_cross(void) { double_free_cross(LARGE); }
static void df_calloc(void) { void* p = hak_calloc(10, 10); hak_free(p); hak_free(p); }
static void df_memalign(void) { void* p = hak_memalign(256, 100); hak_free(p); hak_free(p); }
static void df_memalign_large(void) { void* p = hak_memalign(1 << 16, 70000); hak_free(p); hak_free(p); }
#if !HAK_TEST_DIRECT
/* glibc's names and C++'s operators are hakmem's: their misuse is caught the same way */
void* _Znwm(size_t);
void _ZdlPv(void*);
void _ZdlPvm(void*, size_t);
void* __libc_malloc(size_t);
void __libc_free(void*);
static void df_delete(void) { void* p = _Znwm(MID); _ZdlPv(p); _ZdlPv(p); }
static void df_sized_delete(void) { void* p = _Znwm(MID); _ZdlPvm(p, MID); _ZdlPvm(p, MID); }
static void df_libc_free(void) { void* p = __libc_malloc(MID); __libc_free(p); __libc_free(p); }
#endif
static void df_realloc_grown(void) { void* p = hak_realloc(hak_malloc(24), 3000); hak_free(p); hak_free(p); }
static void df_realloc_zero(void) { void* p = hak_malloc(TINY); hak_realloc(p, 0); hak_free(p); }

static char global_block[256] __attribute__((aligned(16)));
static void if_stack(void) { char local[64] __attribute__((aligned(16))); hak_free(local); }
static void if_global(void) { hak_free(global_block); }
static void if_literal(void) { hak_free((void*)"a string literal, never allocated"); }
static void if_interior_tiny(void) { char* p = hak_malloc(TINY); hak_free(p + 16); }
static void if_unaligned_tiny(void) { char* p = hak_malloc(TINY); hak_free(p + 1); }
static void if_interior_mid(void) { char* p = hak_malloc(MID); hak_free(p + 256); }
static void if_interior_large(void) { char* p = hak_malloc(LARGE); hak_free(p + 4096); }
static void if_segment_header(void) {
  /* the 4 MiB boundary below a block: a segment header with superslab on, anything without */
  char* p = hak_malloc(TINY);
  hak_free((void*)(((uintptr_t)p & ~(uintptr_t)((4u << 20) - 1)) + 256));
}
static void if_unmapped(void) {
  char* m = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(m, 1 << 16);
  hak_free(m + 64);
}

static void uaf_tiny(void) { char* p = hak_malloc(TINY); hak_free(p); memset(p, 'A', 16); malloc_until(TINY, p); }
static void uaf_mid(void) { char* p = hak_malloc(MID); hak_free(p); memset(p, 'A', 16); malloc_until(MID, p); }
static void uaf_mid_pooled(void) {
  void** blocks = freed_by_exited_thread(MID);
  for (int i = 0; i < POOLED; i++) ((char*)blocks[i])[40] = 'A';   /* inside every one's fill */
  for (int i = 0; i < 4 * POOLED; i++) hak_malloc(MID);
}
static void uaf_second(void) {
  char* a = hak_malloc(TINY); char* b = hak_malloc(TINY);
  hak_free(a); hak_free(b);
  memset(a, 0, 8);                                   /* a is second on the list */
  malloc_until(TINY, a);
}
static void uaf_remote(void) {
  /* a remote free lands on the page's shared list: the owner's next collection walks it */
  enum { N = 4096 / 80 + 1 };
  void* keep[N];
  char* p = nth_of_fresh(80, N, 0, keep);
  free_in_thread(p);
  memset(p, 'A', 16);
  for (int i = 0; i < 4 * N; i++) hak_malloc(80);
}

static void overflow_next(void) {
  void* keep[3];
  char* a = nth_of_fresh(96, 3, 0, keep);
  hak_free(keep[1]);                                 /* the block right after a, now free */
  memset(a, 'B', 112 + 16);                          /* a's block is 112 bytes under harden */
  malloc_until(96, keep[1]);
}
/* A stray write flips bits rather than storing a fixed byte: a canary byte is random, and a
 * fixed byte would equal it in one run out of 256, when nothing is there to catch. */
static void overflow_large(void) { char* p = hak_malloc(LARGE + 10); p[LARGE + 10] ^= 0x5a; hak_free(p); }
static void overflow_large_far(void) { char* p = hak_malloc(LARGE + 10); memset(p + LARGE, 'x', 17); hak_free(p); }
static void overflow_large_realloc(void) { char* p = hak_malloc(LARGE + 10); p[LARGE + 12] ^= 0x5a; hak_realloc(p, LARGE + 20000); }

static void underflow_large(void) { char* p = hak_malloc(LARGE); p[-3] ^= 0x5a; hak_free(p); }
static void guard_large(void) {
  /* the page after the usable part is inaccessible: the run faults in this code */
  char* p = hak_malloc(LARGE);
  size_t usable = hak_usable_size(p);
  memset(p, 'g', usable + 8192);
}

/* small and mid blocks: the canary after the request, the slack at the block's end */
static void overflow_small(size_t size, size_t by) {
  char* p = hak_malloc(size);
  p[size + by - 1] ^= 0x5a;
  hak_free(p);
}
static void overflow_small_memcpy(size_t size, size_t by) {
  void* keep[2];
  char* a = nth_of_fresh(size, 2, 0, keep);
  char src[70000];
  memset(src, 'm', sizeof(src));
  memcpy(a, src, size + by);                         /* runs into the next block, live */
  hak_free(a);
}
static void ovf_tiny_1(void) { overflow_small(TINY, 1); }
static void ovf_tiny_odd_1(void) { overflow_small(61, 1); }
static void ovf_tiny_full_1(void) { overflow_small(80, 1); }
static void ovf_mid_1(void) { overflow_small(MID, 1); }
static void ovf_tiny_32_memcpy(void) { overflow_small_memcpy(TINY, 32); }
static void ovf_mid_32_memcpy(void) { overflow_small_memcpy(MID, 32); }
static void ovf_tiny_realloc(void) { char* p = hak_malloc(TINY); p[TINY] ^= 0x5a; hak_realloc(p, 2 * TINY); }
static void ovf_seen_by_neighbour(void) {
  /* the overflowing block stays live: the next block's free finds its end broken */
  void* keep[2];
  char* a = nth_of_fresh(TINY, 2, 0, keep);
  memset(a, 'o', TINY + 32);
  hak_free(keep[1]);
}
static void underflow_small(size_t size, size_t by) {
  void* keep[2];
  char* b = nth_of_fresh(size, 2, 1, keep);
  memset(b - by, 'u', by);
  hak_free(b);
}
static void udf_tiny_1(void) { underflow_small(TINY, 1); }
static void udf_tiny_32(void) { underflow_small(TINY, 32); }
static void udf_mid_1(void) { underflow_small(MID, 1); }
static void udf_before_free_block(void) {
  void* keep[2];
  char* b = nth_of_fresh(TINY, 2, 1, keep);
  hak_free(keep[0]);
  b[-1] ^= 0x5a;
  hak_free(b);
}

/* zero-size blocks: any access faults in the program's code; free and realloc take them */
static volatile char sink;
static void zero_read(void) { char* p = hak_malloc(0); sink = p[0]; }
static void zero_write(void) { char* p = hak_malloc(0); p[0] = 1; }
static void zero_calloc_write(void) { char* p = hak_calloc(0, 8); p[0] = 1; }
static void ok_zero_blocks(void) {
  void* a = hak_malloc(0); void* b = hak_malloc(0);
  if (a == NULL || b == NULL || a == b || hak_usable_size(a) != 0) abort();
  hak_free(a);
  char* c = hak_realloc(b, 100);
  memset(c, 'z', 100);
  hak_free(c);
  hak_free(hak_calloc(0, 0));
}

/* writes after free anywhere in the block's bytes 8 to 64 or its last word, found when
 * malloc hands the block out again */
static void uaf_tiny_middle(void) { char* p = hak_malloc(TINY); hak_free(p); p[40] = 'w'; malloc_until(TINY, p); }
/* (a block stays live beside it: a page whose blocks all come back is carved afresh) */
static void uaf_mid_tail(void) {
  char* p = hak_malloc(MID); void* keep = hak_malloc(MID);
  hak_free(p); p[4096 - 6] = 'w'; malloc_until(MID, p); hak_free(keep);
}
static void uaf_zero_byte(void) {
  char* p = hak_malloc(200); void* keep = hak_malloc(200);
  hak_free(p); memset(p + 40, 0, 8); malloc_until(200, p); hak_free(keep);
}
static void ok_freed_bytes_gone(void) {
  /* a freed block's old bytes are not left readable */
  char* p = hak_malloc(TINY);
  memset(p, 's', TINY);
  hak_free(p);
  for (int i = 8; i < TINY; i++) if (p[i] == 's') abort();
}
/* delayed reuse: a freed block is not the next one handed out, nor a realloc's old block */
static void ok_no_immediate_reuse(void) {
  size_t sizes[] = {16, TINY, 500, MID, 30000};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    char* p = hak_malloc(sizes[i]);
    hak_free(p);
    if (hak_malloc(sizes[i]) == p) abort();
    char* q = hak_malloc(sizes[i]);
    char* r = hak_realloc(q, sizes[i] * 3);
    if (r != q && hak_malloc(sizes[i]) == q) abort();
  }
}

static void rf_tiny(void) { void* p = hak_malloc(TINY); hak_free(p); hak_realloc(p, 32); }
static void rf_mid(void) { void* p = hak_malloc(MID); hak_free(p); hak_realloc(p, MID + 100); }
static void rf_large(void) { void* p = hak_malloc(LARGE); hak_free(p); hak_realloc(p, LARGE + 100); }
static void rf_stack(void) { char local[64] __attribute__((aligned(16))); hak_realloc(local, 100); }

/* legal programs that look a little like misuse: they must run to the end */
static void ok_usable_size(void) {
  size_t sizes[] = {TINY, 100, MID, LARGE + 10};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    char* p = hak_malloc(sizes[i]);
    memset(p, 'u', hak_usable_size(p));
    hak_free(p);
  }
}
static void ok_self_pointer(void) {
  /* a live block holding its own address and zero, as an empty intrusive list does */
  void** p = hak_malloc(TINY);
  p[0] = p; p[1] = NULL;
  hak_free(p);
  void** q = hak_malloc(TINY);
  q[0] = NULL; q[1] = q;
  hak_free(q);
}
static void ok_untouched(void) {
  for (int i = 0; i < 1000; i++) { void* p = hak_malloc(TINY); void* q = hak_malloc(MID); hak_free(p); hak_free(q); }
  void* p = hak_malloc(LARGE);
  free_in_thread(p);
}

/* ---------------------------------------------------------------- the table */

typedef struct {
  const char* name;
  void (*run)(void);
  const char* harden;   /* the kind a hardened build reports; NULL: runs to the end */
  const char* plain;    /* the kind a plain build reports; NULL: anything but a hang */
} misuse_case_t;

#define DF "double free"
#define IF "invalid free (not the start of a block)"
#define NO "invalid free (memory no allocator handed out)"
#define UAF "write after free (corrupted free list)"
#define OVF "heap overflow (written past the requested size)"
#define RF "realloc of freed block"
#define UAFX "write after free*"
#define BND "heap overflow or underflow (the end of the block before it was overwritten)"
static const char GUARD[] = "";   /* a SIGSEGV in the program's own code, no message */

static const misuse_case_t cases[] = {
  {"double free tiny", df_tiny, DF, NULL},
#if !HAK_TEST_DIRECT
  {"double delete (operator delete)", df_delete, DF, NULL},
  {"double sized delete", df_sized_delete, DF, NULL},
  {"double free through __libc_free", df_libc_free, DF, NULL},
#endif
  {"double free tiny 16 B", df_tiny_16, DF, NULL},
  {"double free tiny 1 KiB", df_tiny_1024, DF, NULL},
  {"double free tiny delayed", df_tiny_delayed, DF, NULL},
  {"double free tiny interleaved", df_tiny_interleaved, DF, NULL},
  {"double free tiny after 2000 frees", df_tiny_after_many, DF, NULL},
  {"double free tiny written past its link", df_tiny_written, DF, NULL},
  {"double free tiny other thread first", df_tiny_cross, DF, NULL},
  {"double free tiny twice by other thread", df_tiny_remote_twice, DF, NULL},
  {"double free tiny owner then other thread", df_tiny_owner_then_remote, DF, NULL},
  {"double free mid", df_mid, DF, NULL},
  {"double free mid delayed", df_mid_delayed, DF, NULL},
  {"double free mid interleaved", df_mid_interleaved, DF, NULL},
  {"double free mid other thread first", df_mid_cross, DF, NULL},
  {"double free mid in the shared pool", df_mid_pooled, DF, NULL},
  {"double free large", df_large, DF, NULL},
  {"double free large delayed", df_large_delayed, DF, NULL},
  {"double free large other thread first", df_large_cross, DF, NULL},
  {"double free calloc", df_calloc, DF, NULL},
  {"double free memalign", df_memalign, DF, NULL},
  {"double free memalign large", df_memalign_large, DF, NULL},
  {"double free after realloc", df_realloc_grown, DF, NULL},
  {"free after realloc to 0", df_realloc_zero, DF, NULL},
  {"invalid free stack", if_stack, NO, NULL},
  {"invalid free global", if_global, NO, NULL},
  {"invalid free string literal", if_literal, NO, NULL},
  {"invalid free interior tiny", if_interior_tiny, IF, NULL},
  {"invalid free unaligned tiny", if_unaligned_tiny, IF, NULL},
  {"invalid free interior mid", if_interior_mid, IF, NULL},
  {"invalid free interior large", if_interior_large, IF, NULL},
  {"invalid free unmapped", if_unmapped, NO, NULL},
  {"invalid free inside a segment header", if_segment_header, "invalid free*", NULL},
  {"write after free tiny, malloc", uaf_tiny, UAFX, NULL},
  {"write after free mid, malloc", uaf_mid, UAFX, NULL},
  {"write after free mid in the shared pool", uaf_mid_pooled, UAFX, NULL},
  {"write after free second on list", uaf_second, UAFX, NULL},
  {"write after remote free", uaf_remote, UAF, UAF},
  {"overflow into the next free block", overflow_next, UAFX, NULL},
  {"write after free tiny, middle", uaf_tiny_middle, UAFX, NULL},
  {"write after free mid, near its end", uaf_mid_tail, UAFX, NULL},
  {"write after free of zero bytes", uaf_zero_byte, UAFX, NULL},
  {"legal: a freed block's bytes are gone", ok_freed_bytes_gone, NULL, NULL},
  {"legal: no immediate reuse", ok_no_immediate_reuse, NULL, NULL},
  {"overflow tiny by one byte", ovf_tiny_1, OVF, NULL},
  {"overflow tiny, odd size, by one byte", ovf_tiny_odd_1, OVF, NULL},
  {"overflow tiny filling its class, by one", ovf_tiny_full_1, OVF, NULL},
  {"overflow mid by one byte", ovf_mid_1, OVF, NULL},
  {"overflow tiny by 32 bytes, memcpy", ovf_tiny_32_memcpy, OVF, NULL},
  {"overflow mid by 32 bytes, memcpy", ovf_mid_32_memcpy, OVF, NULL},
  {"overflow tiny, then realloc", ovf_tiny_realloc, OVF, NULL},
  {"overflow found by the next block's free", ovf_seen_by_neighbour, BND, NULL},
  {"underflow tiny by one byte", udf_tiny_1, BND, NULL},
  {"underflow tiny by 32 bytes", udf_tiny_32, BND, NULL},
  {"underflow mid by one byte", udf_mid_1, BND, NULL},
  {"underflow into a free block", udf_before_free_block, BND, NULL},
  {"zero-size block read", zero_read, GUARD, NULL},
  {"zero-size block written", zero_write, GUARD, NULL},
  {"zero-size calloc written", zero_calloc_write, GUARD, NULL},
  {"legal: zero-size blocks freed, reallocated", ok_zero_blocks, NULL, NULL},
  {"overflow large by one byte", overflow_large, OVF, NULL},
  {"overflow large by 17 bytes", overflow_large_far, OVF, NULL},
  {"overflow large, then realloc", overflow_large_realloc, OVF, NULL},
  {"underflow large", underflow_large, "heap underflow (written before the block)", NULL},
  {"realloc of freed tiny", rf_tiny, RF, NULL},
  {"realloc of freed mid", rf_mid, RF, NULL},
  {"realloc of freed large", rf_large, RF, NULL},
  {"realloc of stack memory", rf_stack, NO, NULL},
  {"legal: writes up to the usable size", ok_usable_size, NULL, NULL},
  {"large overrun into the guard page", guard_large, GUARD, NULL},
  {"legal: self pointers in live blocks", ok_self_pointer, NULL, NULL},
  {"legal: untouched live blocks", ok_untouched, NULL, NULL},
};

/* ---------------------------------------------------------------- block-start arithmetic */

#if HAK_HARDEN
#include "../src/hak_harden.h"

/* The free fast path's block-start test (one multiplication) against its definition, for every
 * class, pages carved to several capacities, and addresses up to 4 MiB on either side of the
 * area: every byte within 64 KiB of it, every 8th beyond. */
static int block_start_agrees(void) {
  static hak_page_t page;
  const int64_t reach = (int64_t)4 << 20;
  page.area = (uint8_t*)((uintptr_t)1 << 44);
  for (int c = 0; c < hak_size_class_count(); c++) {
    int64_t d = (int64_t)hak_size_class_block_size(c);
    uint32_t caps[] = {0, 1, (uint32_t)(reach / d / 3), (uint32_t)(reach / d)};
    page.block_size = (uint32_t)d;
    page.start_mul = _hak_hd_start_mul(page.block_size);
    for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
      page.capacity = caps[k];
      _hak_hd_page_extended(&page);
      for (int64_t n = -reach; n <= reach; n += n >= -65536 && n < 65536 ? 1 : 8) {
        bool want = n >= 0 && n % d == 0 && n / d < caps[k];
        if (_hak_hd_block_start(&page, (const void*)((uintptr_t)page.area + (uintptr_t)n)) != want) {
          printf("  block-start test: %lld-byte blocks, capacity %u, offset %lld: %s, expected %s\n",
                 (long long)d, caps[k], (long long)n, want ? "refused" : "accepted", want ? "accepted" : "refused");
          return 0;
        }
      }
    }
  }
  printf("  block-start test agrees with division for every class and offset\n");
  return 1;
}
#endif

/* ---------------------------------------------------------------- the harness */

/* The plain build checks remote frees when it collects them, which only dual lists do. */
static void run_misuse(const void* c) { ((const misuse_case_t*)c)->run(); }

static int run_case(const misuse_case_t* c, int hardened, int dual_lists) {
  const char* expect = hardened ? c->harden : dual_lists ? c->plain : NULL;
  int must_finish = hardened && c->harden == NULL;
  char out[1024];
  size_t n;
  int status = run_in_child(run_misuse, c, out, sizeof(out), &n);
  int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  /* a kind ending in '*' accepts any kind it starts */
  char prefix[128];
  size_t kind_len = expect != NULL ? strlen(expect) : 0;
  if (kind_len > 0 && expect[kind_len - 1] == '*') snprintf(prefix, sizeof(prefix), "hakmem: %.*s", (int)(kind_len - 1), expect);
  else snprintf(prefix, sizeof(prefix), "hakmem: %s of 0x", expect != NULL ? expect : "");
  int ok;
  if (expect == GUARD) ok = sig == SIGSEGV;
  else if (expect != NULL) ok = sig == SIGABRT && strncmp(out, prefix, strlen(prefix)) == 0 && strchr(out, '\n') == out + strlen(out) - 1;
  else if (must_finish) ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  else ok = sig != SIGALRM;
  printf("  %-45s %s%s", c->name, ok ? "ok" : "FAILED", n > 0 ? ": " : "\n");
  if (n > 0) fputs(out, stdout);
  if (!ok) {
    printf("    expected %s; got %s %d\n", expect == GUARD ? "SIGSEGV" : expect != NULL ? prefix : must_finish ? "a clean exit" : "no hang",
           sig != 0 ? "signal" : "exit status", sig != 0 ? sig : WEXITSTATUS(status));
  }
  return ok;
}

int main(void) {
  hak_config_t config;
  hak_config(&config);
  int hardened = config.harden;
  size_t count = sizeof(cases) / sizeof(cases[0]), failed = 0, caught = 0;
  printf("misuse cases, harden %s:\n", hardened ? "on" : "off");
#if HAK_HARDEN
  if (!block_start_agrees()) failed++;
#endif
  for (size_t i = 0; i < count; i++) {
    const char* expect = hardened ? cases[i].harden : config.dual_lists ? cases[i].plain : NULL;
    if (!run_case(&cases[i], hardened, config.dual_lists)) failed++;
    else if (expect != NULL && expect != GUARD) caught++;
  }
  printf("%zu cases, %zu stopped with a message, %zu failed\n", count, caught, failed);
  return failed == 0 ? 0 : 1;
}
