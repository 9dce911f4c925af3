// lockDirectory(dir, what) -> DirectoryLock: the JS face of sluice::DirLock, for directories that
// are not a Log (the broker's). Synchronous: one open(2) and one non-blocking flock(2).
//
// Threading: the JS thread that took the lock. Lifetime: release() drops the lock; a lock that is
// garbage collected unreleased drops it too (its descriptor closes with it).
#include <napi.h>

#include "sluice/dir_lock.h"
#include "addon.h"

namespace sluice::binding {
namespace {

class DirectoryLock : public Napi::ObjectWrap<DirectoryLock> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "DirectoryLock",
                       {InstanceMethod<&DirectoryLock::Release>("release"),
                        InstanceAccessor<&DirectoryLock::Held>("held")});
  }

  // Constructed empty by LockDirectory only (the class is not exported), which then moves the
  // acquired lock in.
  explicit DirectoryLock(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DirectoryLock>(info) {}

  // lockDirectory(dir, what): LOCKED naming `what` and `dir` when another handle holds it.
  static Napi::Value LockDirectory(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) throw Napi::TypeError::New(env, "dir must be a string");
    if (!info[1].IsString()) throw Napi::TypeError::New(env, "what must be a string");
    auto r = DirLock::acquire(info[0].As<Napi::String>(), info[1].As<Napi::String>());
    if (!r.is_ok()) throw_status(env, r.status());
    Napi::Object obj = addon_data(env)->dir_lock_class.New({});
    Unwrap(obj)->lock_ = std::move(r.value());
    return obj;
  }

 private:
  // release(): idempotent.
  Napi::Value Release(const Napi::CallbackInfo& info) {
    Status s = lock_.release();
    if (!s.is_ok()) throw_status(info.Env(), s);
    return info.Env().Undefined();
  }

  Napi::Value Held(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), lock_.held());
  }

  DirLock lock_;
};

}  // namespace

Napi::Function init_dir_lock(Napi::Env env) {
  addon_data(env)->dir_lock_class = Napi::Persistent(DirectoryLock::Define(env));
  return Napi::Function::New(env, DirectoryLock::LockDirectory, "lockDirectory");
}

}  // namespace sluice::binding
