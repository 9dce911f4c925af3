#include "sluice/status.h"

#include <cerrno>
#include <cstring>

namespace sluice {

const char* code_name(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kClosed: return "CLOSED";
    case Code::kLocked: return "LOCKED";
    case Code::kCorrupt: return "CORRUPT";
    case Code::kOffsetOutOfRange: return "OFFSET_OUT_OF_RANGE";
    case Code::kTooLarge: return "TOO_LARGE";
    case Code::kIo: return "IO";
    case Code::kReadOnly: return "READ_ONLY";
    case Code::kNoSpace: return "NO_SPACE";
    case Code::kInvalidArgument: return "INVALID_ARGUMENT";
  }
  return "UNKNOWN";
}

Status Status::io(int err, const char* syscall, std::string path) {
  Status s;
  s.code_ = (err == ENOSPC || err == EDQUOT) ? Code::kNoSpace : Code::kIo;
  s.errno_ = err;
  s.syscall_ = syscall;
  s.message_ = std::string(syscall) + " failed: " + std::strerror(err) + " (" + path + ")";
  s.path_ = std::move(path);
  return s;
}

}  // namespace sluice
