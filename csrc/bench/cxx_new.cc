/*
 * The measured calls of a program's C++ build (bench_common.h, BENCH_CXX_NEW): the throwing
 * operator new and the sized operator delete, reached through the PLT as a C++ program
 * reaches them. A failed new reports NULL, so the program exits 4 as it does when malloc fails.
 */
#include <cstddef>
#include <new>

extern "C" void *bench_cxx_new(std::size_t size) {
  try {
    return ::operator new(size);
  } catch (const std::bad_alloc &) {
    return nullptr;
  }
}

extern "C" void bench_cxx_delete(void *p, std::size_t size) { ::operator delete(p, size); }
