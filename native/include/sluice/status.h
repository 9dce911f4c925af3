// Status: the value every fallible core operation returns. The core throws no exceptions; expected
// failures (I/O, corruption, range, lifecycle) travel as a Status with a stable code, the errno and
// the context a user needs to act (path, position). Only the binding turns it into a JS error.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace sluice {

enum class Code : uint8_t {
  kOk = 0,
  kClosed,            // the log was closed
  kLocked,            // another handle (this or another process) holds the directory lock
  kCorrupt,           // a checksum or structure check failed on bytes that were durable
  kOffsetOutOfRange,  // offset below the log start or beyond the log end
  kTooLarge,          // a record or batch over its configured limit
  kIo,                // a system call failed; errno_ and path say which
  kReadOnly,          // opened read-only, or writes stopped after a failed flush (fail-stop)
  kNoSpace,           // the file system is full (ENOSPC / EDQUOT)
  kInvalidArgument,   // a caller passed a value the native side rejects
};

const char* code_name(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;

  static Status ok() { return Status(); }
  static Status error(Code code, std::string message) {
    Status s;
    s.code_ = code;
    s.message_ = std::move(message);
    return s;
  }
  // An I/O failure; ENOSPC and EDQUOT become kNoSpace so that callers can tell a full disk apart.
  static Status io(int err, const char* syscall, std::string path);
  static Status corrupt(std::string message, std::string path, int64_t position) {
    Status s = error(Code::kCorrupt, std::move(message));
    s.path_ = std::move(path);
    s.position_ = position;
    return s;
  }

  bool is_ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  int errno_value() const { return errno_; }
  const char* syscall() const { return syscall_; }
  const std::string& path() const { return path_; }
  int64_t position() const { return position_; }

 private:
  Code code_ = Code::kOk;
  int errno_ = 0;
  const char* syscall_ = nullptr;
  int64_t position_ = -1;
  std::string message_;
  std::string path_;
};

// A value or the Status that explains its absence.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  bool is_ok() const { return status_.is_ok(); }
  const Status& status() const { return status_; }
  T& value() { return value_; }
  const T& value() const { return value_; }

 private:
  Status status_;
  T value_{};
};

#define SLUICE_TRY(expr)               \
  do {                                 \
    ::sluice::Status _s = (expr);      \
    if (!_s.is_ok()) return _s;        \
  } while (0)

}  // namespace sluice
