// A header-only test harness for the C++ unit tests of native/core (gtest is not available here,
// and the core needs little): TEST cases registered statically, checks that print file:line with
// both values, a main() that runs every case (or those whose name contains argv[1]) and exits 1
// when any failed, a temporary-directory helper, a seeded random source and a death check for
// SLUICE_ASSERT.
//
//   CHECK(cond)         records a failure and goes on
//   CHECK_EQ(a, b) ...  likewise, printing both values; also CHECK_NE/LT/LE/GT/GE
//   REQUIRE(cond)       records a failure and ends the test case (use when later steps would crash)
//   REQUIRE_EQ(a, b)
//   CHECK_OK(s), REQUIRE_OK(s)      s is a Status or a Result: prints its code and message
//   CHECK_CODE(s, code)             s failed with sluice::Code `code`
//   CHECK_ABORTS(stmt, "text")      stmt, run in a forked child, aborts with "text" on stderr
//
// Threading: checks may run on one thread at a time (the test's). Lifetime: one process per file.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/status.h"

namespace sluice_test {

struct Case {
  const char* name;
  void (*fn)();
  const char* file;
  int line;
};

inline std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}

struct State {
  const Case* current = nullptr;
  int failures_in_case = 0;
};
inline State& state() {
  static State s;
  return s;
}

struct Registrar {
  Registrar(const char* name, void (*fn)(), const char* file, int line) {
    cases().push_back({name, fn, file, line});
  }
};

// Thrown by REQUIRE to end the current case; caught by run_all().
struct Abandon {};

// ---- Printing values -------------------------------------------------------------------------
// A test file may teach the harness a type by declaring `std::string test_show(T)` in T's
// namespace (found by argument-dependent lookup).
template <typename T, typename = void>
struct has_test_show : std::false_type {};
template <typename T>
struct has_test_show<T, std::void_t<decltype(test_show(std::declval<const T&>()))>>
    : std::true_type {};

template <typename T, typename = void>
struct streamable : std::false_type {};
template <typename T>
struct streamable<T, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<const T&>())>>
    : std::true_type {};

template <typename T>
std::string show(const T& v) {
  std::ostringstream out;
  if constexpr (has_test_show<T>::value) {
    out << test_show(v);
  } else if constexpr (std::is_same_v<T, sluice::Code>) {
    out << sluice::code_name(v);
  } else if constexpr (std::is_same_v<T, bool>) {
    out << (v ? "true" : "false");
  } else if constexpr (std::is_same_v<T, char> || std::is_same_v<T, signed char> ||
                       std::is_same_v<T, unsigned char>) {
    out << static_cast<int>(v);
  } else if constexpr (std::is_enum_v<T>) {
    out << "enum " << static_cast<int64_t>(static_cast<std::underlying_type_t<T>>(v));
  } else if constexpr (std::is_integral_v<T>) {
    out << v;
    bool small = false;
    if constexpr (std::is_signed_v<T>) {
      small = v >= 0 && v <= 9;
    } else {
      small = v <= 9;
    }
    if (!small) out << " (0x" << std::hex << static_cast<uint64_t>(v) << ")";
  } else if constexpr (std::is_pointer_v<T>) {
    if (v == nullptr) {
      out << "nullptr";
    } else {
      out << static_cast<const void*>(v);
    }
  } else if constexpr (std::is_same_v<T, std::nullptr_t>) {
    out << "nullptr";
  } else if constexpr (streamable<T>::value) {
    out << v;
  } else {
    out << "<" << sizeof(T) << "-byte value>";
  }
  return out.str();
}

inline void fail(const char* file, int line, const std::string& what) {
  state().failures_in_case++;
  std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
  std::fflush(stderr);
}

// Integer comparisons across signedness compare values, not bit patterns (C++20's cmp_less).
template <typename A, typename B>
bool int_equal(A a, B b) {
  if constexpr (std::is_signed_v<A> == std::is_signed_v<B>) {
    return a == b;
  } else if constexpr (std::is_signed_v<A>) {
    return a >= 0 && static_cast<std::make_unsigned_t<A>>(a) == b;
  } else {
    return b >= 0 && a == static_cast<std::make_unsigned_t<B>>(b);
  }
}
template <typename A, typename B>
bool int_less(A a, B b) {
  if constexpr (std::is_signed_v<A> == std::is_signed_v<B>) {
    return a < b;
  } else if constexpr (std::is_signed_v<A>) {
    return a < 0 || static_cast<std::make_unsigned_t<A>>(a) < b;
  } else {
    return b >= 0 && a < static_cast<std::make_unsigned_t<B>>(b);
  }
}

template <typename T>
constexpr bool is_number_v = std::is_integral_v<T> && !std::is_same_v<T, bool>;

template <typename A, typename B>
bool cmp(const A& a, const B& b, int op) {
  if constexpr (is_number_v<A> && is_number_v<B>) {
    switch (op) {
      case 0: return int_equal(a, b);
      case 1: return !int_equal(a, b);
      case 2: return int_less(a, b);
      case 3: return !int_less(b, a);
      case 4: return int_less(b, a);
      default: return !int_less(a, b);
    }
  } else {
    switch (op) {
      case 0: return a == b;
      case 1: return !(a == b);
      case 2: return a < b;
      case 3: return a <= b;
      case 4: return a > b;
      default: return a >= b;
    }
  }
}

template <typename A, typename B>
bool check_op(const char* file, int line, const char* ea, const char* eb, const char* opname,
              int op, const A& a, const B& b) {
  if (cmp(a, b, op)) return true;
  fail(file, line,
       std::string(ea) + " " + opname + " " + eb + "\n    left:  " + show(a) + "\n    right: " +
           show(b));
  return false;
}

// ---- Status and Result -----------------------------------------------------------------------
inline const sluice::Status& status_of(const sluice::Status& s) { return s; }
template <typename T>
const sluice::Status& status_of(const sluice::Result<T>& r) {
  return r.status();
}

inline std::string describe(const sluice::Status& s) {
  std::string out = sluice::code_name(s.code());
  if (!s.message().empty()) out += ": " + s.message();
  if (s.errno_value() != 0) out += " (errno " + std::to_string(s.errno_value()) + ")";
  return out;
}

template <typename S>
bool check_ok(const char* file, int line, const char* expr, const S& s) {
  const sluice::Status& st = status_of(s);
  if (st.is_ok()) return true;
  fail(file, line, std::string(expr) + " is not OK: " + describe(st));
  return false;
}

template <typename S>
bool check_code(const char* file, int line, const char* expr, const S& s, sluice::Code code) {
  const sluice::Status& st = status_of(s);
  if (st.code() == code) return true;
  fail(file, line,
       std::string(expr) + " should fail with " + sluice::code_name(code) + " but gave " +
           describe(st));
  return false;
}

// ---- Death check -----------------------------------------------------------------------------
// Runs `body` in a forked child with stderr captured; true when the child died of SIGABRT and
// its stderr contains `expected`. Only for single-threaded moments of a test (fork copies one
// thread).
template <typename F>
bool aborts_with(F body, const char* expected, std::string* captured) {
  int fds[2];
  if (::pipe(fds) != 0) return false;
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    body();
    ::_exit(0);
  }
  ::close(fds[1]);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) captured->append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  return WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGABRT &&
         captured->find(expected) != std::string::npos;
}

// ---- Helpers for test bodies ------------------------------------------------------------------
// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                       "/sluice-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The seed of this process's random tests: SLUICE_TEST_SEED when set, else a fresh one. It is
// printed so that a failure can be replayed.
inline uint64_t seed() {
  static const uint64_t value = [] {
    const char* env = std::getenv("SLUICE_TEST_SEED");
    uint64_t s = env != nullptr ? std::strtoull(env, nullptr, 0)
                                : (static_cast<uint64_t>(std::random_device{}()) << 32) ^
                                      std::random_device{}();
    std::fprintf(stderr, "random seed: SLUICE_TEST_SEED=%" PRIu64 "\n", s);
    return s;
  }();
  return value;
}

inline int run_all(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int failed = 0, ran = 0;
  for (const Case& c : cases()) {
    if (filter != nullptr && std::strstr(c.name, filter) == nullptr) continue;
    state().current = &c;
    state().failures_in_case = 0;
    std::fprintf(stderr, "[ RUN  ] %s\n", c.name);
    try {
      c.fn();
    } catch (const Abandon&) {
      // A REQUIRE failed; it was reported already.
    }
    ran++;
    if (state().failures_in_case > 0) {
      failed++;
      std::fprintf(stderr, "[ FAIL ] %s (%s:%d)\n", c.name, c.file, c.line);
    } else {
      std::fprintf(stderr, "[  OK  ] %s\n", c.name);
    }
  }
  std::fprintf(stderr, "%d of %d test cases failed\n", failed, ran);
  return failed == 0 && ran > 0 ? 0 : 1;
}

}  // namespace sluice_test

#define SLUICE_TEST_CAT2(a, b) a##b
#define SLUICE_TEST_CAT(a, b) SLUICE_TEST_CAT2(a, b)

#define TEST(name)                                                                  \
  static void test_##name();                                                        \
  static const ::sluice_test::Registrar SLUICE_TEST_CAT(registrar_, name)(#name, test_##name, \
                                                                          __FILE__, __LINE__); \
  static void test_##name()

#define CHECK(cond)                                                          \
  ((cond) ? true : (::sluice_test::fail(__FILE__, __LINE__, "CHECK(" #cond ")"), false))

#define SLUICE_TEST_OP(a, b, name, op) \
  ::sluice_test::check_op(__FILE__, __LINE__, #a, #b, name, op, (a), (b))
#define CHECK_EQ(a, b) SLUICE_TEST_OP(a, b, "==", 0)
#define CHECK_NE(a, b) SLUICE_TEST_OP(a, b, "!=", 1)
#define CHECK_LT(a, b) SLUICE_TEST_OP(a, b, "<", 2)
#define CHECK_LE(a, b) SLUICE_TEST_OP(a, b, "<=", 3)
#define CHECK_GT(a, b) SLUICE_TEST_OP(a, b, ">", 4)
#define CHECK_GE(a, b) SLUICE_TEST_OP(a, b, ">=", 5)

#define CHECK_OK(s) ::sluice_test::check_ok(__FILE__, __LINE__, #s, (s))
#define CHECK_CODE(s, code) ::sluice_test::check_code(__FILE__, __LINE__, #s, (s), (code))

#define REQUIRE(cond) \
  do {                \
    if (!CHECK(cond)) throw ::sluice_test::Abandon{}; \
  } while (0)
#define REQUIRE_EQ(a, b) \
  do {                   \
    if (!CHECK_EQ(a, b)) throw ::sluice_test::Abandon{}; \
  } while (0)
#define REQUIRE_OK(s) \
  do {                \
    if (!CHECK_OK(s)) throw ::sluice_test::Abandon{}; \
  } while (0)

#define CHECK_ABORTS(stmt, expected)                                                          \
  do {                                                                                        \
    std::string sluice_test_stderr;                                                           \
    if (!::sluice_test::aborts_with([&] { stmt; }, (expected), &sluice_test_stderr)) {        \
      ::sluice_test::fail(__FILE__, __LINE__,                                                 \
                          std::string("CHECK_ABORTS(" #stmt ", \"") + (expected) +            \
                              "\") did not abort with that message; stderr was:\n" +          \
                              sluice_test_stderr);                                            \
    }                                                                                         \
  } while (0)

// Each test file ends with this line.
#define TEST_MAIN() \
  int main(int argc, char** argv) { return ::sluice_test::run_all(argc, argv); }
