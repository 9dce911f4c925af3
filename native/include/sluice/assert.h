// Assertions for programmer errors only (never for I/O or data from disk, which return a Status).
// SLUICE_ASSERT is always on: it prints file:line, the condition and a message, then aborts.
// SLUICE_DASSERT is for O(n) checks and compiles away unless SLUICE_DEBUG_ASSERTS is defined.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace sluice::detail {
[[noreturn]] inline void assert_failed(const char* file, int line, const char* cond, const char* msg) {
  std::fprintf(stderr, "sluice: assertion failed at %s:%d: %s: %s\n", file, line, cond, msg);
  std::fflush(stderr);
  std::abort();
}
}  // namespace sluice::detail

#define SLUICE_ASSERT(cond, msg)                                          \
  do {                                                                    \
    if (__builtin_expect(!(cond), 0))                                     \
      ::sluice::detail::assert_failed(__FILE__, __LINE__, #cond, (msg));  \
  } while (0)

#ifdef SLUICE_DEBUG_ASSERTS
#define SLUICE_DASSERT(cond, msg) SLUICE_ASSERT(cond, msg)
#else
#define SLUICE_DASSERT(cond, msg) \
  do {                            \
    (void)sizeof(cond);           \
  } while (0)
#endif
