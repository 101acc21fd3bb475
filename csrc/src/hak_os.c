/* Memory from and back to the OS. */
#include "hak_internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <sys/resource.h>

static _Atomic(size_t) _mapped;

size_t _hak_os_mapped_bytes(void) { return atomic_load_explicit(&_mapped, memory_order_relaxed); }

/* The address-space limit (RLIMIT_AS), read at start-up, before each fresh segment or large
 * mapping and whenever a mapping fails, so that a limit the program sets later counts. */
static _Atomic(size_t) _as_limit;     /* 0: not read yet */

size_t _hak_os_as_limit_refresh(void) {
  struct rlimit rl;
  size_t l = getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (size_t)rl.rlim_cur : SIZE_MAX;
  atomic_store_explicit(&_as_limit, l, memory_order_relaxed);
  return l;
}

size_t _hak_os_as_limit(void) {
  size_t l = atomic_load_explicit(&_as_limit, memory_order_relaxed);
  return l != 0 ? l : _hak_os_as_limit_refresh();
}

#if HAK_FAULTS
/* Fault injection (make check-faults): with HAKMEM_FAULT_AT=N, the Nth call to the OS (map,
 * purge or unmap, counted from 1 in the order the process makes them) and the
 * HAKMEM_FAULT_SPAN - 1 map calls after it (default 1 in all) fail as the kernel would fail
 * them (a burst of failed maps outlasts the retry, so the failure reaches the caller). hak_fault_calls() says how many calls the process made, so a test knows how many
 * failure points its workload has. */
static _Atomic(uint64_t) _fault_calls;
static uint64_t _fault_at, _fault_span = 1;
static bool fault_now(bool map) {
  static _Atomic(int) read;
  if (!atomic_load_explicit(&read, memory_order_acquire)) {
    const char* v = getenv("HAKMEM_FAULT_AT");
    _fault_at = v != NULL ? strtoull(v, NULL, 10) : 0;
    v = getenv("HAKMEM_FAULT_SPAN");
    if (v != NULL && strtoull(v, NULL, 10) > 0) _fault_span = strtoull(v, NULL, 10);
    atomic_store_explicit(&read, 1, memory_order_release);
  }
  uint64_t n = atomic_fetch_add_explicit(&_fault_calls, 1, memory_order_relaxed) + 1;
  return _fault_at != 0 && (n == _fault_at || (map && n > _fault_at && n < _fault_at + _fault_span));
}
__attribute__((visibility("default"))) uint64_t hak_fault_calls(void) {
  return atomic_load_explicit(&_fault_calls, memory_order_relaxed);
}
#define HAK_FAULT(map, fail) do { if (fault_now(map)) { fail; } } while (0)
#else
#define HAK_FAULT(map, fail) do { } while (0)
#endif

void* _hak_os_map(size_t size) {
  HAK_FAULT(true, errno = ENOMEM; return NULL);
  void* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    int saved = errno;
    _hak_os_as_limit_refresh();
    errno = saved;
    return NULL;
  }
  atomic_fetch_add_explicit(&_mapped, size, memory_order_relaxed);
  return p;
}

void* _hak_os_map_table(size_t size) {
  HAK_FAULT(true, errno = ENOMEM; return NULL);
  void* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p != MAP_FAILED ? p : NULL;
}

void _hak_os_unmap_table(void* p, size_t size) { munmap(p, size); }

/* Where the next aligned mapping is tried first: just below the last one, since the kernel
 * hands out mappings downwards and the place below an aligned mapping is usually free. */
static _Atomic(uintptr_t) _aligned_hint;

/* One mmap at an aligned address next to the last aligned mapping; NULL when that place is
 * taken (MAP_FIXED_NOREPLACE never replaces a mapping). */
static void* map_at_hint(size_t size, size_t alignment) {
  uintptr_t hint = atomic_load_explicit(&_aligned_hint, memory_order_relaxed);
  if (hint < size + alignment) return NULL;
  HAK_FAULT(true, return NULL);
  uintptr_t want = (hint - size) & ~(uintptr_t)(alignment - 1);
  void* p = mmap((void*)want, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED) return NULL;
  atomic_fetch_add_explicit(&_mapped, size, memory_order_relaxed);
  if ((uintptr_t)p == want) return p;
  _hak_os_unmap(p, size);         /* a kernel older than the flag took it as a hint only */
  return NULL;
}

/* Maps `size` bytes starting on an `alignment` boundary: at the hint in one system call when
 * the place is free, otherwise by mapping more and trimming the slack (the kernel has no
 * aligned mmap). */
void* _hak_os_map_aligned(size_t size, size_t alignment, size_t* mapped, void** base) {
  int saved = errno;
  void* p = map_at_hint(size, alignment);
  errno = saved;
  if (p == NULL) p = _hak_os_map(size);
  if (p == NULL) return NULL;
  if (((uintptr_t)p & (alignment - 1)) == 0) {
    atomic_store_explicit(&_aligned_hint, (uintptr_t)p, memory_order_relaxed);
    *mapped = size;
    *base = p;
    return p;
  }
  _hak_os_unmap(p, size);
  size_t over = size + alignment;
  if (over < size) return NULL;
  uint8_t* raw = _hak_os_map(over);
  if (raw == NULL) return NULL;
  uint8_t* aligned = (uint8_t*)(((uintptr_t)raw + alignment - 1) & ~(uintptr_t)(alignment - 1));
  size_t pre = (size_t)(aligned - raw);
  size_t post = over - pre - size;
  if (pre) _hak_os_unmap(raw, pre);
  if (post) _hak_os_unmap(aligned + size, post);
  atomic_store_explicit(&_aligned_hint, (uintptr_t)aligned, memory_order_relaxed);
  *mapped = size;
  *base = aligned;
  return aligned;
}

/* free() must not change errno, and these run inside free. munmap fails only when the
 * kernel cannot split a mapping (ENOMEM: too many mappings); the call is tried once more,
 * then the memory is at least purged, its address space lost. */
static int os_munmap(void* p, size_t size) {
  HAK_FAULT(false, return -1);
  return munmap(p, size);
}

void _hak_os_unmap(void* p, size_t size) {
  int saved = errno;
  if (os_munmap(p, size) == 0 || os_munmap(p, size) == 0) atomic_fetch_sub_explicit(&_mapped, size, memory_order_relaxed);
  else madvise(p, size, MADV_DONTNEED);
  errno = saved;
}

/* A failed purge leaves the memory resident and nothing else changes. */
void _hak_os_purge(void* p, size_t size) {
  int saved = errno;
  HAK_FAULT(false, errno = saved; return);
  madvise(p, size, MADV_DONTNEED);
  errno = saved;
}

uint64_t _hak_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
