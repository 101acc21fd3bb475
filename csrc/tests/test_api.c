/* The allocation API's semantics: sizes across tiers, zeroing, realloc, overflow and errno,
 * alignment, usable size, pointers hakmem did not allocate. */
#include "test_util.h"

#include <dlfcn.h>
#include <stdalign.h>

/* Memory from the allocator hakmem is not: glibc's behind the override (looked up in libc
 * itself, since hakmem exports __libc_malloc too), or the process's malloc (the
 * sanitizer's) in a build without it. */
#if HAK_TEST_DIRECT
#define foreign_malloc malloc
#else
static void* foreign_malloc(size_t size) {
  static void* (*glibc_malloc)(size_t);
  if (glibc_malloc == NULL) {
    void* libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    CHECK(libc != NULL, "libc.so.6 is loaded");
    glibc_malloc = (void* (*)(size_t))dlsym(libc, "__libc_malloc");
    CHECK(glibc_malloc != NULL, "glibc's __libc_malloc");
  }
  return glibc_malloc(size);
}
extern void* __libc_malloc(size_t);
extern void  __libc_free(void*);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);

/* glibc's own names reach hakmem: a program that calls them never hands hakmem's blocks to
 * glibc, nor glibc's to hakmem. */
static void test_libc_names(void) {
  size_t sizes[] = {24, 3000, 200000};
  for (size_t i = 0; i < 3; i++) {
    int served = sizes[i] > 1024 || wrap_tiny_on();   /* wrap-tiny off: glibc serves tiny ones */
    char* p = __libc_malloc(sizes[i]);
    CHECK(p != NULL && (hak_owns(p) || !served), "__libc_malloc(%zu) served by hakmem", sizes[i]);
    memset(p, 5, sizes[i]);
    char* q = __libc_realloc(p, sizes[i] * 2);
    CHECK(q != NULL && (hak_owns(q) || !served) && q[0] == 5 && q[sizes[i] - 1] == 5, "__libc_realloc keeps contents");
    __libc_free(q);
    char* z = __libc_calloc(1, sizes[i]);
    CHECK(z != NULL && (hak_owns(z) || !served) && z[0] == 0 && z[sizes[i] - 1] == 0, "__libc_calloc zeroes");
    __libc_free(z);
    void* m = __libc_memalign(256, sizes[i]);
    CHECK(m != NULL && (hak_owns(m) || !served) && ((uintptr_t)m & 255) == 0, "__libc_memalign");
    __libc_free(m);
  }
}
#endif

static void test_sizes(const api_t* a) {
  static const size_t sizes[] = { 0, 1, 7, 8, 15, 16, 17, 24, 31, 48, 64, 100, 128, 129, 255, 256, 500,
                                  1000, 1024, 1025, 1039, 2000, 4096, 5000, 8192, 12345, 32768, 40000,
                                  65535, 65536, 65537, 100000, 1 << 20, (3 << 20) + 17, 9 << 20 };
  void* blocks[sizeof(sizes) / sizeof(sizes[0])];
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    void* p = a->malloc(sizes[i]);
    CHECK(p != NULL, "%s(%zu) returned NULL", a->name, sizes[i]);
    /* max_align_t's 16 from 16 bytes up (hakmem: from 9); a request of at most 8 bytes holds no
     * object that needs more than 8 */
    size_t al = sizes[i] > 8 ? 16 : 8;
    CHECK(((uintptr_t)p & (al - 1)) == 0, "%s(%zu) = %p is not %zu-byte aligned", a->name, sizes[i], p, al);
    CHECK(a->usable(p) >= sizes[i], "usable %zu < request %zu", a->usable(p), sizes[i]);
    fill_pattern(p, sizes[i], (uint32_t)i);
    blocks[i] = p;
  }
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    CHECK(check_pattern(blocks[i], sizes[i], (uint32_t)i), "block of %zu bytes was overwritten", sizes[i]);
    for (size_t j = 0; j < i; j++) CHECK(blocks[i] != blocks[j], "two live blocks share an address");
  }
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) a->free(blocks[i]);
  a->free(NULL);
}

static void test_calloc_zeroes_reused(const api_t* a) {
  static const size_t sizes[] = { 16, 64, 200, 1000, 3000, 30000, 200000 };
  for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
    enum { N = 64 };
    void* dirty[N];
    for (int i = 0; i < N; i++) {
      dirty[i] = a->malloc(sizes[s]);
      CHECK(dirty[i] != NULL, "malloc failed");
      memset(dirty[i], 0xAB, sizes[s]);
    }
    for (int i = 0; i < N; i++) a->free(dirty[i]);
    for (int i = 0; i < N; i++) {
      unsigned char* p = a->calloc(1, sizes[s]);
      CHECK(p != NULL, "calloc failed");
      for (size_t k = 0; k < sizes[s]; k++) CHECK(p[k] == 0, "%s calloc(%zu) byte %zu is %#x", a->name, sizes[s], k, p[k]);
      dirty[i] = p;
    }
    for (int i = 0; i < N; i++) a->free(dirty[i]);
  }
}

static void test_overflow_and_errno(const api_t* a) {
  errno = 0;
  CHECK(a->calloc(SIZE_MAX / 2, 3) == NULL, "calloc overflow must fail");
  CHECK(errno == ENOMEM, "calloc overflow errno %d", errno);
  errno = 0;
  CHECK(a->malloc(SIZE_MAX - 4096) == NULL, "huge malloc must fail");
  CHECK(errno == ENOMEM, "huge malloc errno %d", errno);
  errno = 0;
  CHECK(a->malloc((size_t)PTRDIFF_MAX + 1) == NULL, "malloc beyond PTRDIFF_MAX must fail");
  CHECK(errno == ENOMEM, "errno %d", errno);

  void* p = a->malloc(100);
  memset(p, 7, 100);
  errno = 0;
  CHECK(a->reallocarray(p, SIZE_MAX / 4, 8) == NULL, "reallocarray overflow must fail");
  CHECK(errno == ENOMEM, "reallocarray errno %d", errno);
  for (int i = 0; i < 100; i++) CHECK(((unsigned char*)p)[i] == 7, "reallocarray failure changed the block");
  p = a->reallocarray(p, 50, 4);
  CHECK(p != NULL && a->usable(p) >= 200, "reallocarray grow");
  for (int i = 0; i < 100; i++) CHECK(((unsigned char*)p)[i] == 7, "reallocarray lost contents");
  a->free(p);
}

static void test_realloc(const api_t* a) {
  /* NULL behaves as malloc */
  char* p = a->realloc(NULL, 10);
  CHECK(p != NULL, "realloc(NULL, 10)");
  memcpy(p, "0123456789", 10);
  /* grow through every tier and back, contents kept each time */
  static const size_t steps[] = { 10, 100, 1000, 1030, 3000, 40000, 70000, 300000, 5 << 20, 200000, 50000, 900, 40, 12 };
  size_t prev = 10;
  for (size_t i = 1; i < sizeof(steps) / sizeof(steps[0]); i++) {
    fill_pattern(p, prev, 99);
    p = a->realloc(p, steps[i]);
    CHECK(p != NULL, "realloc to %zu", steps[i]);
    CHECK(check_pattern_prefix(p, prev, steps[i], 99), "realloc %zu -> %zu lost contents", prev, steps[i]);
    CHECK(a->usable(p) >= steps[i], "usable after realloc");
    memset(p, 1, steps[i]);
    prev = steps[i];
  }
  /* size 0 frees and returns NULL, as glibc does */
  CHECK(a->realloc(p, 0) == NULL, "realloc(p, 0) returns NULL");
  /* a failing realloc leaves the block alone */
  p = a->malloc(64);
  memset(p, 3, 64);
  errno = 0;
  CHECK(a->realloc(p, SIZE_MAX - 100) == NULL && errno == ENOMEM, "huge realloc fails with ENOMEM");
  for (int i = 0; i < 64; i++) CHECK(p[i] == 3, "failed realloc changed the block");
  a->free(p);
}

static int is_aligned(const void* p, size_t al) { return ((uintptr_t)p & (al - 1)) == 0; }

static void test_alignment(const api_t* a) {
  static const size_t sizes[] = { 0, 1, 8, 9, 24, 100, 1000, 5000, 70000 };
  for (size_t al = 1; al <= ((size_t)8 << 20); al <<= 1) {
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
      size_t size = sizes[s];
      void* p = NULL;
      if (al >= sizeof(void*)) {
        CHECK(a->posix_memalign(&p, al, size) == 0, "posix_memalign(%zu, %zu)", al, size);
        CHECK(is_aligned(p, al), "posix_memalign(%zu, %zu) = %p", al, size, p);
        CHECK(a->usable(p) >= size, "usable");
        memset(p, 0x5A, size);
        a->free(p);
      }
      p = a->memalign(al, size);
      CHECK(p != NULL && is_aligned(p, al), "memalign(%zu, %zu) = %p", al, size, p);
      /* a large block (alignment above 4 KiB) of 0 bytes lies inside its mapping, where free
       * finds it (alignments above 2 MiB, HAK_MAX_ALIGN, are glibc's) */
      if (!a->override && al > 4096 && al <= ((size_t)2 << 20))
        CHECK(hak_owns(p), "hak_memalign(%zu, %zu) = %p is not hakmem's", al, size, p);
      memset(p, 0x5A, size);
      a->free(p);
      p = a->aligned_alloc(al, size);
      CHECK(p != NULL && is_aligned(p, al), "aligned_alloc(%zu, %zu) = %p", al, size, p);
      CHECK(a->usable(p) >= size, "usable");
      memset(p, 0x5A, size);
      a->free(p);
    }
  }
  /* many small aligned blocks are distinct and stay aligned */
  void* many[256];
  for (int i = 0; i < 256; i++) {
    many[i] = a->memalign(64, 40);
    CHECK(is_aligned(many[i], 64), "memalign(64, 40)");
    fill_pattern(many[i], 40, (uint32_t)i);
  }
  for (int i = 0; i < 256; i++) {
    CHECK(check_pattern(many[i], 40, (uint32_t)i), "aligned blocks overlap");
    a->free(many[i]);
  }
  void* out = (void*)0x1;
  CHECK(a->posix_memalign(&out, 3, 10) == EINVAL && out == (void*)0x1, "posix_memalign(3) -> EINVAL, out untouched");
  CHECK(a->posix_memalign(&out, 0, 10) == EINVAL, "posix_memalign(0) -> EINVAL");
  CHECK(a->posix_memalign(&out, 4, 10) == EINVAL, "posix_memalign(4): not a multiple of sizeof(void*)");
  errno = 0;
  CHECK(a->aligned_alloc(3, 10) == NULL && errno == EINVAL, "aligned_alloc(3) -> EINVAL");
  /* memalign rounds a non power of two up, as glibc does */
  void* m = a->memalign(48, 10);
  CHECK(m != NULL && is_aligned(m, 64), "memalign(48) is 64-aligned");
  a->free(m);
}

#if !HAK_TEST_DIRECT
static void test_valloc(void) {
  void* p = valloc(100);
  CHECK(p != NULL && is_aligned(p, 4096), "valloc");
  free(p);
  p = pvalloc(5000);
  CHECK(p != NULL && is_aligned(p, 4096) && malloc_usable_size(p) >= 8192, "pvalloc rounds to pages");
  free(p);
  p = pvalloc(0);
  CHECK(p != NULL && is_aligned(p, 4096), "pvalloc(0)");
  free(p);
}
#endif

#if !HAK_TEST_DIRECT
/* The heap's own API answers for hakmem: mallinfo2 counts hakmem's blocks in use (within 15%
 * of the bytes requested: classes round up), malloc_trim(0) gives the freed memory back (the
 * bytes mapped fall by most of it), malloc_stats prints hakmem's figures. */
static void test_heap_api(void) {
  enum { N = 10000, SIZE = 2000 };
  static void* blocks[N];
  struct mallinfo2 before = mallinfo2();
  for (int i = 0; i < N; i++) {
    blocks[i] = malloc(SIZE);
    CHECK(blocks[i] != NULL, "malloc");
    memset(blocks[i], 1, SIZE);
  }
  void* big = malloc(8u << 20);
  CHECK(big != NULL, "malloc of 8 MiB");
  struct mallinfo2 peak = mallinfo2();
  size_t requested = (size_t)N * SIZE + (8u << 20);
  size_t counted = peak.uordblks - before.uordblks;
  CHECK(counted >= requested && counted <= requested + requested * 15 / 100,
        "mallinfo2: %zu bytes in use counted for %zu requested", counted, requested);
  CHECK(peak.hblkhd >= (8u << 20), "mallinfo2: large blocks %zu", peak.hblkhd);
  CHECK(peak.arena >= peak.uordblks, "mallinfo2: %zu mapped, %zu in use", peak.arena, peak.uordblks);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  struct mallinfo old = mallinfo();    /* deprecated (its fields are int), still answered */
#pragma GCC diagnostic pop
  CHECK((size_t)old.uordblks >= requested, "mallinfo: %d in use", old.uordblks);
  for (int i = 0; i < N; i++) free(blocks[i]);
  free(big);
  CHECK(malloc_trim(0) == 1, "malloc_trim(0) released something");
  struct mallinfo2 after = mallinfo2();
  CHECK(after.arena + requested * 3 / 4 <= peak.arena, "malloc_trim: %zu bytes mapped at the peak, %zu after", peak.arena, after.arena);
  CHECK(after.uordblks <= before.uordblks + (1u << 20), "mallinfo2 after freeing: %zu in use", after.uordblks);
  /* malloc_stats writes to stderr: read it back through a pipe */
  int fds[2];
  CHECK(pipe(fds) == 0, "pipe");
  int saved = dup(2);
  dup2(fds[1], 2);
  malloc_stats();
  dup2(saved, 2);
  close(saved);
  close(fds[1]);
  char text[8192];
  ssize_t n = read(fds[0], text, sizeof(text) - 1);
  close(fds[0]);
  CHECK(n > 0, "malloc_stats printed nothing");
  text[n] = 0;
  CHECK(strstr(text, "in use bytes") != NULL && strstr(text, "segmentsMapped") != NULL, "malloc_stats: %s", text);
}
#endif

/* Frees and reallocs of glibc's blocks, and of pointers into memory hakmem never mapped,
 * reach glibc (or are recognised as not hakmem's) and never crash. */
static void test_foreign_pointers(const api_t* a) {
  for (int i = 0; i < 100; i++) {
    char* g = foreign_malloc(24 + (size_t)i * 40);
    CHECK(g != NULL, "foreign malloc");
    CHECK(!hak_owns(g), "hakmem claims a glibc block");
    memset(g, 9, 24);
    if (i % 3 == 0) {
      g = a->realloc(g, 5000);
      CHECK(g != NULL && g[0] == 9 && g[23] == 9, "realloc of a glibc block keeps contents");
    }
    CHECK(a->usable(g) >= 24, "usable size of a glibc block");
    a->free(g);
  }
  int on_stack;
  static int in_data;
  CHECK(!hak_owns(&on_stack) && !hak_owns(&in_data) && !hak_owns(NULL), "hak_owns on non-heap memory");
  void* mine = a->malloc(32);
  CHECK(hak_owns(mine) || !tiny_served(a), "hak_owns on a tiny block");
  a->free(mine);
  mine = a->malloc(200000);
  CHECK(hak_owns(mine), "hak_owns on a large block");
  CHECK(!hak_owns((char*)mine + 16), "hak_owns on an interior pointer");
  a->free(mine);
}

/* Mid pages are coloured: their blocks start at different offsets within 4 KiB from page to
 * page, so a class's blocks do not all fall on the same cache sets. An aligned request of
 * such a class still gets an aligned block, whatever page is current. */
static void test_mid_colors(const api_t* a) {
  enum { N = 100 };                    /* more than three pages of 8 KiB blocks */
  void* blocks[N];
  uint64_t offsets = 0;                /* which 64-byte offsets within 4 KiB were seen */
  for (int i = 0; i < N; i++) {
    blocks[i] = a->malloc(8192);
    CHECK(blocks[i] != NULL && ((uintptr_t)blocks[i] & 63) == 0, "8 KiB block %p is not 64-byte aligned", blocks[i]);
    offsets |= (uint64_t)1 << (((uintptr_t)blocks[i] & 4095) >> 6);
    fill_pattern(blocks[i], 8192, (uint32_t)i);
  }
#if !defined(HAK_MID_COLORS) || HAK_MID_COLORS > 1       /* the default has colours */
  CHECK(__builtin_popcountll(offsets) >= 2, "8 KiB blocks of several pages all start at one offset within 4 KiB");
#endif
  void* aligned[7];
  int n = 0;
  for (size_t al = 128; al <= 4096; al *= 2, n++) {
    aligned[n] = a->memalign(al, 8000);
    CHECK(aligned[n] != NULL && is_aligned(aligned[n], al), "memalign(%zu, 8000) = %p", al, aligned[n]);
    CHECK(a->usable(aligned[n]) >= 8000, "usable");
    fill_pattern(aligned[n], 8000, 1000u + (uint32_t)n);
  }
  for (int i = 0; i < N; i++) {
    CHECK(check_pattern(blocks[i], 8192, (uint32_t)i), "8 KiB block overwritten");
    a->free(blocks[i]);
  }
  for (int i = 0; i < n; i++) {
    CHECK(check_pattern(aligned[i], 8000, 1000u + (uint32_t)i), "aligned block overwritten");
    a->free(aligned[i]);
  }
}

/* Fill a few pages of one class, free them all, allocate again: later rounds get their
 * blocks from the memory of the first (freed blocks and empty pages are recycled), rather
 * than from new pages. A tiny class and a mid one; the tiny one only where hakmem serves it
 * (through malloc with wrap-tiny off, glibc does). */
static void reuse_rounds(const api_t* a, size_t size, int n) {
  void** blocks = a->malloc((size_t)n * sizeof(void*));
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < n; i++) {
      blocks[i] = a->malloc(size);
      uintptr_t u = (uintptr_t)blocks[i];
      if (round == 0) {
        if (u < lo) lo = u;
        if (u > hi) hi = u;
      } else {
        CHECK(u >= lo && u <= hi, "%s(%zu): round %d got %p, outside the first round's %#lx..%#lx",
              a->name, size, round, blocks[i], (unsigned long)lo, (unsigned long)hi);
      }
    }
    for (int i = 0; i < n; i++) a->free(blocks[i]);
  }
  a->free(blocks);
}

static void test_reuse(const api_t* a) {
  if (tiny_served(a)) reuse_rounds(a, 48, 20000);
  reuse_rounds(a, 3000, 2000);
}

/* Every request size of the tiny and mid tiers gets a block of the smallest class that holds
 * it, never a smaller one and never a larger one: the direct class tables agree with the
 * class sizes. Tiny sizes only where hakmem serves them. */
static void test_class_of_every_size(const api_t* a) {
  hak_config_t c;
  hak_config(&c);
  int cls = 0;
  for (size_t size = tiny_served(a) ? 1 : c.tiny_max + 1; size <= 65536; size++) {
    while (hak_size_class_block_size(cls) < size) cls++;
    void* p = a->malloc(size);
    CHECK(p != NULL, "%s(%zu) returned NULL", a->name, size);
    size_t usable = a->usable(p);
    CHECK(usable >= size && usable <= hak_size_class_block_size(cls),
          "%s(%zu): usable size %zu, its class holds %zu", a->name, size, usable, hak_size_class_block_size(cls));
    a->free(p);
  }
}

/* Requests of at most 8 bytes share the 8-byte class (its blocks 8 bytes apart, so twice as
 * many to a cache line as 16-byte ones), except with harden, whose canary and fill need 16;
 * the aligned calls never hand out one of its blocks for an alignment above 8, and requests
 * of 9 bytes and more get 16-byte aligned blocks. */
static void test_smallest_class(const api_t* a) {
  CHECK(hak_size_class_block_size(0) == 8 && hak_size_class_block_size(1) == 16, "classes 8 and 16 come first");
  if (!tiny_served(a)) return;
  enum { N = 256 };
  static void* b[N];
  for (size_t size = 0; size <= 16; size++) {
    for (int i = 0; i < N; i++) {
      b[i] = a->malloc(size);
      CHECK(b[i] != NULL && is_aligned(b[i], size > 8 ? 16 : 8), "%s(%zu) = %p", a->name, size, b[i]);
      if (!HAK_HARDEN && size > 0) CHECK(a->usable(b[i]) == (size <= 8 ? 8u : 16u), "%s(%zu): usable %zu", a->name, size, a->usable(b[i]));
    }
    if (!HAK_HARDEN && size >= 1 && size <= 8) {
      /* consecutive blocks of a fresh run lie 8 bytes apart somewhere */
      int close = 0;
      for (int i = 1; i < N; i++) close += (uintptr_t)b[i] - (uintptr_t)b[i - 1] == 8 || (uintptr_t)b[i - 1] - (uintptr_t)b[i] == 8;
      CHECK(close > N / 2, "%s(%zu): only %d of %d neighbours 8 bytes apart", a->name, size, close, N - 1);
    }
    for (int i = 0; i < N; i++) a->free(b[i]);
  }
  for (size_t size = 0; size <= 8; size++) {
    for (int i = 0; i < N; i++) {
      void* p = NULL;
      CHECK(a->posix_memalign(&p, 16, size) == 0 && is_aligned(p, 16), "posix_memalign(16, %zu) = %p", size, p);
      b[i] = p;
    }
    for (int i = 0; i < N; i++) a->free(b[i]);
    for (int i = 0; i < N; i++) {
      b[i] = i & 1 ? a->aligned_alloc(16, size) : a->memalign(16, size);
      CHECK(b[i] != NULL && is_aligned(b[i], 16), "aligned 16, %zu bytes = %p", size, b[i]);
    }
    for (int i = 0; i < N; i++) a->free(b[i]);
    for (int i = 0; i < N; i++) {
      void* p = NULL;
      CHECK(a->posix_memalign(&p, 8, size) == 0 && is_aligned(p, 8), "posix_memalign(8, %zu) = %p", size, p);
      b[i] = p;
    }
    for (int i = 0; i < N; i++) a->free(b[i]);
  }
}

int main(void) {
  for (size_t i = 0; i < TEST_API_COUNT; i++) {
    const api_t* a = test_apis[i];
    test_sizes(a);
    test_calloc_zeroes_reused(a);
    test_overflow_and_errno(a);
    test_realloc(a);
    test_alignment(a);
    test_mid_colors(a);
    test_foreign_pointers(a);
    test_reuse(a);
    test_class_of_every_size(a);
    test_smallest_class(a);
  }
#if !HAK_TEST_DIRECT
  test_valloc();
  test_heap_api();
  test_libc_names();
#endif
  hak_stats_t st;
  hak_stats_get(&st);
  CHECK(st.always.segments_mapped > 0, "segments were mapped");
  CHECK(st.always.large_allocs > 0, "large blocks were counted");
  printf("test_api: ok\n");
  return 0;
}
