/* One round of mallocs of a size until NULL, all freed after: how many blocks the allocator
 * served before it ran out. Shared by the scarce program and tests/test_scarce.c.
 * Blocks are chained through their first word, so the round holds no array of its own. */
#ifndef HAK_MALLOC_ROUND_H
#define HAK_MALLOC_ROUND_H

#include <errno.h>
#include <stdlib.h>

/* The blocks served; *errno_at_null is errno as the failing malloc left it. */
static long malloc_round(size_t size, int* errno_at_null) {
  void* head = NULL;
  long n = 0;
  for (;;) {
    errno = 0;
    void** p = malloc(size);
    if (p == NULL) break;
    *p = head;
    head = p;
    n++;
  }
  *errno_at_null = errno;
  while (head != NULL) {
    void* next = *(void**)head;
    free(head);
    head = next;
  }
  return n;
}

#endif
