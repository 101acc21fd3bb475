/* Memory from and back to the OS. */
#include "hak_internal.h"

#include <errno.h>
#include <sys/mman.h>

void* _hak_os_map(size_t size) {
  void* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* Maps `size` bytes starting on an `alignment` boundary by mapping more and trimming the
 * slack; the kernel has no aligned mmap. */
void* _hak_os_map_aligned(size_t size, size_t alignment, size_t* mapped, void** base) {
  void* p = _hak_os_map(size);
  if (p == NULL) return NULL;
  if (((uintptr_t)p & (alignment - 1)) == 0) { *mapped = size; *base = p; return p; }
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
