#include <stdlib.h>
#include <string.h>

int main(void) {
  char* name = malloc(64);
  strcpy(name, "hakmem");
  free(name);
  free(name);   /* the bug */
  return 0;
}
