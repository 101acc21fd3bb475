// C++ operator new and delete reach hakmem in every form, and a failed new follows the
// standard: the new-handler is called while one is set, then std::bad_alloc is thrown; the
// nothrow forms call the handler too and return nullptr where the others throw.
#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "hakmem.h"

#define CHECK(cond, what) do { if (!(cond)) { std::fprintf(stderr, "%s:%d: check failed: %s: %s\n", __FILE__, __LINE__, #cond, what); std::exit(1); } } while (0)

static bool aligned(const void* p, std::size_t al) { return (reinterpret_cast<std::uintptr_t>(p) & (al - 1)) == 0; }

// wrap-tiny off hands requests of <= 1 KiB that come through malloc's names to glibc
static bool served(const void* p, std::size_t n) {
  hak_config_t c;
  hak_config(&c);
  return hak_owns(p) || (n <= c.tiny_max && !c.wrap_tiny);
}

// the operator the program calls is hakmem's own, not libstdc++'s calling malloc
template <typename F> static bool from_hakmem(F f) {
  Dl_info info;
  return dladdr(reinterpret_cast<void*>(f), &info) != 0 && info.dli_fname != nullptr &&
         std::strstr(info.dli_fname, "libhakmem") != nullptr;
}

struct alignas(256) Wide { char bytes[300]; };

static int _throwing_calls;
static void throwing_handler() {
  ++_throwing_calls;
  throw std::bad_alloc();
}
static int _handler_calls;
static void handler() {
  if (++_handler_calls == 3) std::set_new_handler(nullptr);   // the next failure throws
}

int main() {
  CHECK(from_hakmem(static_cast<void* (*)(std::size_t)>(&::operator new)), "operator new is hakmem's");
  CHECK(from_hakmem(static_cast<void (*)(void*, std::size_t)>(&::operator delete)), "sized operator delete is hakmem's");
  CHECK(from_hakmem(static_cast<void* (*)(std::size_t, std::align_val_t, const std::nothrow_t&) noexcept>(&::operator new[])),
        "aligned nothrow operator new[] is hakmem's");
  const std::size_t sizes[] = {8, 100, 1000, 5000, 70000, 3u << 20};
  for (std::size_t n : sizes) {
    void* p = ::operator new(n);
    CHECK(served(p, n), "operator new(size)");
    std::memset(p, 1, n);
    ::operator delete(p, n);                       // sized
    p = ::operator new[](n);
    CHECK(served(p, n), "operator new[](size)");
    ::operator delete[](p, n);
    p = ::operator new(n, std::nothrow);
    CHECK(served(p, n), "operator new(size, nothrow)");
    ::operator delete(p, std::nothrow);
    p = ::operator new[](n, std::nothrow);
    CHECK(served(p, n), "operator new[](size, nothrow)");
    ::operator delete[](p, std::nothrow);
    for (std::size_t al : {std::size_t(32), std::size_t(4096), std::size_t(1) << 20}) {
      std::align_val_t a{al};
      p = ::operator new(n, a);
      CHECK(served(p, n) && aligned(p, al), "operator new(size, align)");
      ::operator delete(p, n, a);                  // sized and aligned
      p = ::operator new[](n, a);
      CHECK(served(p, n) && aligned(p, al), "operator new[](size, align)");
      ::operator delete[](p, a);
      p = ::operator new(n, a, std::nothrow);
      CHECK(served(p, n) && aligned(p, al), "operator new(size, align, nothrow)");
      ::operator delete(p, a, std::nothrow);
      p = ::operator new[](n, a, std::nothrow);
      CHECK(served(p, n) && aligned(p, al), "operator new[](size, align, nothrow)");
      ::operator delete[](p, n, a);
    }
  }
  Wide* w = new Wide[3];
  CHECK(aligned(w, 256), "new of an over-aligned type");
  delete[] w;
  int* i = new int(7);
  CHECK(served(i, sizeof(int)) && *i == 7, "new int");
  delete i;
  std::vector<std::string> v;
  for (int k = 0; k < 1000; k++) v.push_back(std::string(100, 'x') + std::to_string(k));
  CHECK(v[999].size() == 103 && hak_owns(v.data()), "containers allocate from hakmem");

  const std::size_t huge = std::size_t(1) << 62;
  CHECK(::operator new(huge, std::nothrow) == nullptr, "nothrow new of 2^62 bytes returns nullptr");
  CHECK(::operator new[](huge, std::align_val_t{64}, std::nothrow) == nullptr, "aligned nothrow new[] returns nullptr");
  bool thrown = false;
  try { (void)::operator new(huge); } catch (const std::bad_alloc&) { thrown = true; }
  CHECK(thrown, "new of 2^62 bytes throws std::bad_alloc");
  thrown = false;
  try { (void)::operator new[](huge, std::align_val_t{4096}); } catch (const std::bad_alloc&) { thrown = true; }
  CHECK(thrown, "aligned new[] of 2^62 bytes throws std::bad_alloc");
  std::set_new_handler(handler);
  thrown = false;
  try { (void)::operator new(huge); } catch (const std::bad_alloc&) { thrown = true; }
  CHECK(thrown && _handler_calls == 3, "the new-handler is called until it is removed, then bad_alloc");
  // nothrow forms: the handler too, and what it throws becomes nullptr
  _handler_calls = 0;
  std::set_new_handler(handler);
  CHECK(::operator new(huge, std::nothrow) == nullptr && _handler_calls == 3,
        "nothrow new calls the new-handler until it is removed, then returns nullptr");
  _handler_calls = 0;
  std::set_new_handler(handler);
  CHECK(::operator new[](huge, std::align_val_t{64}, std::nothrow) == nullptr && _handler_calls == 3,
        "aligned nothrow new[] calls the new-handler, then returns nullptr");
  std::set_new_handler(throwing_handler);
  CHECK(::operator new[](huge, std::nothrow) == nullptr && _throwing_calls == 1,
        "nothrow new[] returns nullptr when the new-handler throws bad_alloc");
  std::set_new_handler(nullptr);
  void* small = ::operator new(64, std::nothrow);
  CHECK(served(small, 64), "nothrow new still serves from hakmem after failures");
  ::operator delete(small);
  std::printf("test_cxx: ok\n");
  return 0;
}
