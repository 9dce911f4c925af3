// The zero-copy fetch functions (sluice/send_file.h) for lib/kafka/zero-copy.ts:
//   duplicateSocket(fd) -> fd          a close-on-exec duplicate of a socket's descriptor
//   sendFile(socketFd, fileFd, position, length, probe, callback(err, sent, probeBytes))
// sendFile runs on the thread pool (a page-cache miss blocks a pool thread, never the event loop).
// When the socket would block it reads the next probe.length bytes of the file (or fewer, at the
// range's end) into `probe` and reports how many: the caller writes them through the socket's own
// stream, whose completion says the socket has room again (next-stage.md B3).
//
// Threading: called on the JS thread; the work runs on a pool thread, which touches only the two
// descriptors and `probe`, kept alive by a reference until the callback.
#include <fcntl.h>
#include <unistd.h>

#include <napi.h>

#include <algorithm>
#include <cerrno>

#include "sluice/send_file.h"
#include "addon.h"

namespace sluice::binding {
namespace {

int int_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0 && v <= INT32_MAX) || v != static_cast<int>(v)) {
    throw Napi::RangeError::New(info.Env(), std::string(what) + " must be a descriptor");
  }
  return static_cast<int>(v);
}

uint64_t size_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0 && v <= 9007199254740991.0) || v != static_cast<double>(static_cast<uint64_t>(v))) {
    throw Napi::RangeError::New(info.Env(), std::string(what) + " must be a non-negative integer");
  }
  return static_cast<uint64_t>(v);
}

Napi::Value DuplicateSocket(const Napi::CallbackInfo& info) {
  int fd = int_arg(info, 0, "fd");
  int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) throw_status(info.Env(), Status::io(errno, "fcntl(F_DUPFD_CLOEXEC)", "socket"));
  return Napi::Number::New(info.Env(), dup);
}

class SendWorker : public Napi::AsyncWorker {
 public:
  SendWorker(Napi::Function callback, int socket_fd, int file_fd, uint64_t position, uint64_t length,
             Napi::Uint8Array probe)
      : Napi::AsyncWorker(callback, "sluice-sendfile"),
        socket_fd_(socket_fd),
        file_fd_(file_fd),
        position_(position),
        length_(length),
        probe_data_(probe.Data()),
        probe_bytes_(probe.ByteLength()),
        probe_(Napi::Persistent(probe)) {}

  void Execute() override {
    auto r = send_file_range(socket_fd_, file_fd_, position_, length_);
    if (!r.is_ok()) {
      status_ = r.status();
      return;
    }
    sent_ = r.value().sent;
    if (!r.value().would_block) return;
    uint64_t want = std::min<uint64_t>(probe_bytes_, length_ - sent_);
    uint64_t at = position_ + sent_;
    while (probe_read_ < want) {
      ssize_t n = ::pread(file_fd_, probe_data_ + probe_read_, want - probe_read_,
                          static_cast<off_t>(at + probe_read_));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status_ = Status::io(errno, "pread", "segment");
        return;
      }
      if (n == 0) {
        status_ = Status::corrupt("the file ended inside the range sent from it", "",
                                  static_cast<int64_t>(at + probe_read_));
        return;
      }
      probe_read_ += static_cast<uint64_t>(n);
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.is_ok()) {
      Callback().Call({make_error(env, status_).Value()});
      return;
    }
    Callback().Call({env.Null(), Napi::Number::New(env, static_cast<double>(sent_)),
                     Napi::Number::New(env, static_cast<double>(probe_read_))});
  }

 private:
  int socket_fd_;
  int file_fd_;
  uint64_t position_;
  uint64_t length_;
  uint8_t* probe_data_;
  size_t probe_bytes_;
  Napi::Reference<Napi::Uint8Array> probe_;
  Status status_;
  uint64_t sent_ = 0;
  uint64_t probe_read_ = 0;
};

Napi::Value SendFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int socket_fd = int_arg(info, 0, "socketFd");
  int file_fd = int_arg(info, 1, "fileFd");
  uint64_t position = size_arg(info, 2, "position");
  uint64_t length = size_arg(info, 3, "length");
  if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "probe must be a Uint8Array");
  }
  if (!info[5].IsFunction()) throw Napi::TypeError::New(env, "callback must be a function");
  auto* worker = new SendWorker(info[5].As<Napi::Function>(), socket_fd, file_fd, position, length,
                                info[4].As<Napi::Uint8Array>());
  worker->Queue();
  return env.Undefined();
}

}  // namespace

void init_send_file(Napi::Env env, Napi::Object exports) {
  exports.Set("duplicateSocket", Napi::Function::New(env, DuplicateSocket, "duplicateSocket"));
  exports.Set("sendFile", Napi::Function::New(env, SendFile, "sendFile"));
}

}  // namespace sluice::binding
