/* Memory from and back to the OS. */
#include "hak_internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>

void* _hak_os_map(size_t size) {
  void* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* Where the next aligned mapping is tried first: just below the last one, since the kernel
 * hands out mappings downwards and the place below an aligned mapping is usually free. */
static _Atomic(uintptr_t) _aligned_hint;

/* One mmap at an aligned address next to the last aligned mapping; NULL when that place is
 * taken (MAP_FIXED_NOREPLACE never replaces a mapping). */
static void* map_at_hint(size_t size, size_t alignment) {
  uintptr_t hint = atomic_load_explicit(&_aligned_hint, memory_order_relaxed);
  if (hint < size + alignment) return NULL;
  uintptr_t want = (hint - size) & ~(uintptr_t)(alignment - 1);
  void* p = mmap((void*)want, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED) return NULL;
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

/* free() must not change errno, and these run inside free. */
void _hak_os_unmap(void* p, size_t size) {
  int saved = errno;
  munmap(p, size);
  errno = saved;
}

void _hak_os_purge(void* p, size_t size) {
  int saved = errno;
  madvise(p, size, MADV_DONTNEED);
  errno = saved;
}
