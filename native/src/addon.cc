// N-API entry points: thin wrappers that validate arguments and turn errno into JS errors.
#include <napi.h>
#include <stdio.h>
#include <string.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <sys/epoll.h>

#include "idle_watch.h"
#include "socket_ops.h"

using namespace shardline;

namespace {

// Argument checks: every exported function validates arity, type, integer-ness and range and
// throws a TypeError or RangeError (never aborts, never truncates). Each returns false with the
// exception pending; the caller then returns at once.
bool Arity(const Napi::CallbackInfo& info, const char* fn, size_t expected) {
  if (info.Length() == expected) return true;
  Napi::TypeError::New(info.Env(), std::string(fn) + ": expected " + std::to_string(expected) + " argument(s), got " +
                                       std::to_string(info.Length()))
      .ThrowAsJavaScriptException();
  return false;
}

bool IntegerArg(const Napi::CallbackInfo& info, const char* fn, size_t i, const char* name, double min, double max,
                double* out) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) {
    Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be an integer number, got " +
                                         (v.IsUndefined() ? "undefined" : v.IsNull() ? "null" : v.IsString() ? "a string" : v.IsBigInt() ? "a bigint" : v.IsBoolean() ? "a boolean" : "an object"))
        .ThrowAsJavaScriptException();
    return false;
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::trunc(d) != d) {
    Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be an integer, got a non-integer number")
        .ThrowAsJavaScriptException();
    return false;
  }
  if (d < min || d > max) {
    char range[96];
    snprintf(range, sizeof range, " must be within %.0f..%.0f, got %.0f", min, max, d);
    Napi::RangeError::New(info.Env(), std::string(fn) + ": " + name + range).ThrowAsJavaScriptException();
    return false;
  }
  *out = d;
  return true;
}

bool FdArg(const Napi::CallbackInfo& info, const char* fn, size_t i, int* fd) {
  double d;
  if (!IntegerArg(info, fn, i, "fd", 0, INT32_MAX, &d)) return false;
  *fd = static_cast<int>(d);
  return true;
}

bool IntArg(const Napi::CallbackInfo& info, const char* fn, size_t i, const char* name, int min, int max, int* out) {
  double d;
  if (!IntegerArg(info, fn, i, name, min, max, &d)) return false;
  *out = static_cast<int>(d);
  return true;
}

Napi::Value Errno(Napi::Env env, const char* what, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// Linux bounds: TCP_KEEPIDLE and TCP_KEEPINTVL 1..32767 s, TCP_KEEPCNT 1..127.
Napi::Value SetKeepAliveJs(const Napi::CallbackInfo& info) {
  int fd, idle, interval, count;
  if (!Arity(info, "setKeepAlive", 4) || !FdArg(info, "setKeepAlive", 0, &fd) ||
      !IntArg(info, "setKeepAlive", 1, "idle seconds", 1, 32767, &idle) ||
      !IntArg(info, "setKeepAlive", 2, "interval seconds", 1, 32767, &interval) ||
      !IntArg(info, "setKeepAlive", 3, "count", 1, 127, &count))
    return info.Env().Undefined();
  int err = SetKeepAlive(fd, idle, interval, count);
  return err ? Errno(info.Env(), "setKeepAlive", err) : info.Env().Undefined();
}

// TCP_USER_TIMEOUT is an int of milliseconds (0 = the kernel default).
Napi::Value SetUserTimeoutJs(const Napi::CallbackInfo& info) {
  int fd, ms;
  if (!Arity(info, "setUserTimeout", 2) || !FdArg(info, "setUserTimeout", 0, &fd) ||
      !IntArg(info, "setUserTimeout", 1, "milliseconds", 0, INT32_MAX, &ms))
    return info.Env().Undefined();
  int err = SetUserTimeout(fd, static_cast<unsigned int>(ms));
  return err ? Errno(info.Env(), "setUserTimeout", err) : info.Env().Undefined();
}

Napi::Value TcpInfoJs(const Napi::CallbackInfo& info) {
  int fd;
  if (!Arity(info, "tcpInfo", 1) || !FdArg(info, "tcpInfo", 0, &fd)) return info.Env().Undefined();
  TcpInfo t{};
  if (ReadTcpInfo(fd, &t) != 0) return info.Env().Null();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("state", TcpStateName(t.state));
  o.Set("rttUs", t.rtt_us);
  o.Set("rttVarUs", t.rttvar_us);
  o.Set("rtoUs", t.rto_us);
  o.Set("retransmits", t.retransmits);
  o.Set("totalRetransmits", t.total_retrans);
  o.Set("unacked", t.unacked);
  o.Set("lost", t.lost);
  o.Set("probes", t.probes);
  o.Set("backoff", t.backoff);
  o.Set("lastDataReceivedMs", t.last_data_recv_ms);
  o.Set("lastDataSentMs", t.last_data_sent_ms);
  o.Set("lastAckReceivedMs", t.last_ack_recv_ms);
  o.Set("sendCongestionWindow", t.snd_cwnd);
  o.Set("pathMtu", t.pmtu);
  return o;
}

Napi::Value ProbeJs(const Napi::CallbackInfo& info) {
  int fd;
  if (!Arity(info, "probe", 1) || !FdArg(info, "probe", 0, &fd)) return info.Env().Undefined();
  ProbeResult r = Probe(fd);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("alive", r.alive);
  o.Set("reason", r.reason);
  o.Set("state", r.tcp_state < 0 ? "unknown" : TcpStateName(r.tcp_state));
  return o;
}

// Fast path for the pool's borrow check: true when alive.
Napi::Value AliveJs(const Napi::CallbackInfo& info) {
  int fd;
  if (!Arity(info, "alive", 1) || !FdArg(info, "alive", 0, &fd)) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), Probe(fd).alive);
}

Napi::Value RaiseNoFileLimitJs(const Napi::CallbackInfo& info) {
  if (!Arity(info, "raiseNoFileLimit", 0)) return info.Env().Undefined();
  NoFile n = RaiseNoFileLimit();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("before", static_cast<double>(n.soft_before));
  o.Set("soft", static_cast<double>(n.soft));
  o.Set("hard", static_cast<double>(n.hard));
  o.Set("raised", n.soft > n.soft_before);
  if (n.error) o.Set("error", strerror(n.error));
  return o;
}

Napi::Value CapabilitiesJs(const Napi::CallbackInfo& info) {
  if (!Arity(info, "capabilities", 0)) return info.Env().Undefined();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("keepAliveTuning", true);
  o.Set("userTimeout", true);
  o.Set("tcpInfo", true);
  o.Set("idleWatch", true);
  o.Set("probe", true);
  o.Set("raiseNoFileLimit", true);
  return o;
}

class IdleWatchJs : public Napi::ObjectWrap<IdleWatchJs> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "IdleWatch",
                       {InstanceMethod("add", &IdleWatchJs::Add), InstanceMethod("remove", &IdleWatchJs::Remove),
                        InstanceMethod("checkout", &IdleWatchJs::Checkout),
                        InstanceMethod("reapDead", &IdleWatchJs::ReapDead), InstanceMethod("close", &IdleWatchJs::Close),
                        InstanceAccessor("size", &IdleWatchJs::Size, nullptr)});
  }

  explicit IdleWatchJs(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IdleWatchJs>(info) {
    if (!Arity(info, "IdleWatch", 0)) return;
    if (watch_.error()) Errno(info.Env(), "epoll_create1", watch_.error());
  }

 private:
  Napi::Value Add(const Napi::CallbackInfo& info) {
    int fd;
    double token;
    if (!Arity(info, "IdleWatch.add", 2) || !FdArg(info, "IdleWatch.add", 0, &fd) ||
        !IntegerArg(info, "IdleWatch.add", 1, "token", 0, UINT32_MAX, &token))
      return info.Env().Undefined();
    int err = watch_.Add(fd, static_cast<uint32_t>(token));
    return err ? Errno(info.Env(), "idle watch add", err) : info.Env().Undefined();
  }
  Napi::Value Remove(const Napi::CallbackInfo& info) {
    int fd;
    if (!Arity(info, "IdleWatch.remove", 1) || !FdArg(info, "IdleWatch.remove", 0, &fd)) return info.Env().Undefined();
    return Napi::Boolean::New(info.Env(), watch_.Remove(fd) == 0);
  }
  Napi::Value Checkout(const Napi::CallbackInfo& info) {
    int fd;
    if (!Arity(info, "IdleWatch.checkout", 1) || !FdArg(info, "IdleWatch.checkout", 0, &fd)) return info.Env().Undefined();
    return Napi::Boolean::New(info.Env(), watch_.Checkout(fd));
  }
  Napi::Value ReapDead(const Napi::CallbackInfo& info) {
    if (!Arity(info, "IdleWatch.reapDead", 0)) return info.Env().Undefined();
    std::vector<uint32_t> dead = watch_.ReapDead();
    Napi::Array out = Napi::Array::New(info.Env(), dead.size());
    for (size_t i = 0; i < dead.size(); i++) out.Set(static_cast<uint32_t>(i), dead[i]);
    return out;
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!Arity(info, "IdleWatch.close", 0)) return info.Env().Undefined();
    watch_.Close();
    return info.Env().Undefined();
  }
  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), watch_.size()); }

  IdleWatch watch_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setKeepAlive", Napi::Function::New(env, SetKeepAliveJs));
  exports.Set("setUserTimeout", Napi::Function::New(env, SetUserTimeoutJs));
  exports.Set("tcpInfo", Napi::Function::New(env, TcpInfoJs));
  exports.Set("probe", Napi::Function::New(env, ProbeJs));
  exports.Set("alive", Napi::Function::New(env, AliveJs));
  exports.Set("raiseNoFileLimit", Napi::Function::New(env, RaiseNoFileLimitJs));
  exports.Set("capabilities", Napi::Function::New(env, CapabilitiesJs));
  exports.Set("IdleWatch", IdleWatchJs::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(shardline_socket, Init)
