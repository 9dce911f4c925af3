#include "sluice/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

namespace sluice {
namespace {
constexpr const char* kNames[] = {"", "log.mid-roll", "index.mid-write", "checkpoint.mid-write",
                                  "meta.mid-write"};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<size_t>(CrashPoint::kCount),
              "a name for every crash point");

CrashPointSpec spec_from_env() { return parse_crash_point(std::getenv("SLUICE_CRASH_POINT")); }
const CrashPointSpec armed_spec = spec_from_env();
std::atomic<uint32_t> passes{0};
}  // namespace

const char* crash_point_name(CrashPoint p) {
  const auto i = static_cast<size_t>(p);
  return i < static_cast<size_t>(CrashPoint::kCount) ? kNames[i] : "";
}

CrashPointSpec parse_crash_point(const char* spec) {
  CrashPointSpec out;
  if (spec == nullptr) return out;
  const char* colon = std::strchr(spec, ':');
  const std::string name = colon == nullptr ? std::string(spec) : std::string(spec, colon - spec);
  uint32_t pass = 1;
  if (colon != nullptr) {
    char* end = nullptr;
    const unsigned long k = std::strtoul(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || k == 0 || k > UINT32_MAX) return out;
    pass = static_cast<uint32_t>(k);
  }
  for (size_t i = 1; i < static_cast<size_t>(CrashPoint::kCount); i++) {
    if (name == kNames[i]) {
      out.point = static_cast<CrashPoint>(i);
      out.pass = pass;
    }
  }
  return out;
}

namespace detail {
CrashPoint armed_crash_point = armed_spec.point;

void crash_point_pass(CrashPoint p) {
  if (passes.fetch_add(1, std::memory_order_acq_rel) + 1 == armed_spec.pass) crash_point_hit(p);
}

void crash_point_hit(CrashPoint p) {
  const std::string line = std::string("sluice crash point ") + crash_point_name(p) + " pass " +
                           std::to_string(armed_spec.pass) + "\n";
  (void)!::write(2, line.data(), line.size());
  ::kill(::getpid(), SIGKILL);
  for (;;) ::pause();  // SIGKILL cannot be caught: this only waits for it to land
}
}  // namespace detail

}  // namespace sluice
