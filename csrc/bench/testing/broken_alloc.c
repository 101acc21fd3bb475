/*
 * A deliberately broken allocator, preloaded by the benchmark tests to show that the
 * benchmarks' memory checks catch a bad allocator (exit 3) instead of reporting a speed.
 *
 * Memory comes from one bump region and is never reused, so the only faults are the ones
 * chosen by BROKEN_ALLOC:
 *   alias  (default) every second malloc of 8..65536 bytes returns the block handed out
 *          just before it, still live: two blocks share memory
 *   stomp  every malloc flips one bit in the middle of the block the previous malloc of the
 *          same thread returned, as an allocator writing its metadata into a live block would
 *   none   no fault: shows that the checks do not fire on a correct allocator
 *
 * Build: cc -shared -fPIC -O2 -o broken_alloc.so broken_alloc.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define REGION_SIZE (8ull << 30) /* reserved, not committed: pages appear as they are used */
#define HEADER 16                /* the block size lives just before the block */

enum { MODE_UNSET, MODE_ALIAS, MODE_STOMP, MODE_NONE };

static _Atomic uintptr_t region_next;
static uintptr_t region_end;
static _Atomic int mode;
static _Atomic unsigned alias_counter;
static _Atomic uintptr_t alias_last;
static _Thread_local uintptr_t stomp_last;

static int current_mode(void) {
  int m = atomic_load_explicit(&mode, memory_order_relaxed);
  if (m != MODE_UNSET) return m;
  const char *env = getenv("BROKEN_ALLOC");
  m = env == NULL || strcmp(env, "alias") == 0 ? MODE_ALIAS
      : strcmp(env, "stomp") == 0              ? MODE_STOMP
                                               : MODE_NONE;
  atomic_store_explicit(&mode, m, memory_order_relaxed);
  return m;
}

static int region_ready(void) {
  if (atomic_load_explicit(&region_next, memory_order_acquire) != 0) return 1;
  void *base = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return 0;
  uintptr_t expected = 0;
  if (!atomic_compare_exchange_strong(&region_next, &expected, (uintptr_t)base)) {
    munmap(base, REGION_SIZE); /* another thread won the race */
    return 1;
  }
  region_end = (uintptr_t)base + REGION_SIZE;
  return 1;
}

/* A fresh block of size bytes aligned to align (a power of two, at least 16). */
static void *carve(size_t size, size_t align) {
  if (!region_ready() || size > REGION_SIZE) {
    errno = ENOMEM;
    return NULL;
  }
  size_t need = size + HEADER + align;
  uintptr_t start = atomic_fetch_add(&region_next, need);
  if (start + need > region_end) {
    errno = ENOMEM;
    return NULL;
  }
  uintptr_t block = (start + HEADER + align - 1) & ~(uintptr_t)(align - 1);
  ((size_t *)block)[-1] = size;
  return (void *)block;
}

static size_t block_size(const void *p) {
  return ((const size_t *)p)[-1];
}

void *malloc(size_t size) {
  int m = current_mode();
  if (m == MODE_ALIAS && size >= 8 && size <= 65536) {
    uintptr_t last = atomic_load(&alias_last);
    if ((atomic_fetch_add(&alias_counter, 1) & 1) && last != 0 && block_size((void *)last) >= size)
      return (void *)last;
    void *p = carve(size, 16);
    atomic_store(&alias_last, (uintptr_t)p);
    return p;
  }
  if (m == MODE_STOMP && stomp_last != 0) {
    size_t last_size = block_size((void *)stomp_last);
    if (last_size >= 16) ((unsigned char *)stomp_last)[(last_size / 2) & ~(size_t)7] ^= 1;
  }
  void *p = carve(size, 16);
  stomp_last = (uintptr_t)p;
  return p;
}

void free(void *p) {
  (void)p; /* never reused: the faults are only the chosen ones */
}

void *calloc(size_t n, size_t size) {
  if (size != 0 && n > SIZE_MAX / size) {
    errno = ENOMEM;
    return NULL;
  }
  return carve(n * size, 16); /* fresh mmap memory is zero */
}

void *realloc(void *p, size_t size) {
  void *q = carve(size, 16);
  if (q != NULL && p != NULL) {
    size_t old = block_size(p);
    memcpy(q, p, old < size ? old : size);
  }
  return q;
}

void *memalign(size_t align, size_t size) {
  return carve(size, align < 16 ? 16 : align);
}

void *aligned_alloc(size_t align, size_t size) {
  return memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size) {
  if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
  void *p = memalign(align, size);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}

void *valloc(size_t size) {
  return memalign(4096, size);
}

void *pvalloc(size_t size) {
  return memalign(4096, (size + 4095) & ~(size_t)4095);
}

size_t malloc_usable_size(void *p) {
  return p != NULL ? block_size(p) : 0;
}
