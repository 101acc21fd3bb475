#include <stdio.h>
#include <stdlib.h>

int main(void) {
  size_t total = 0;
  for (int i = 0; i < 1000; i++) {
    char* block = malloc(64);
    block[0] = (char)i;
    total += (unsigned char)block[0];
    free(block);
  }
  printf("%zu\n", total);
  return 0;
}
