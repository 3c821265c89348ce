// N-API entry points: thin wrappers that validate arguments and turn errno into JS errors.
#include <napi.h>
#include <string.h>
#include <sys/epoll.h>

#include "idle_watch.h"
#include "socket_ops.h"

using namespace shardline;

namespace {

bool FdArg(const Napi::CallbackInfo& info, size_t i, int* fd) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    Napi::TypeError::New(info.Env(), "expected a file descriptor (integer)").ThrowAsJavaScriptException();
    return false;
  }
  *fd = info[i].As<Napi::Number>().Int32Value();
  return true;
}

Napi::Value Errno(Napi::Env env, const char* what, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value SetKeepAliveJs(const Napi::CallbackInfo& info) {
  int fd;
  if (!FdArg(info, 0, &fd)) return info.Env().Undefined();
  int idle = info[1].As<Napi::Number>().Int32Value();
  int interval = info[2].As<Napi::Number>().Int32Value();
  int count = info[3].As<Napi::Number>().Int32Value();
  if (idle < 1 || interval < 1 || count < 1) {
    Napi::RangeError::New(info.Env(), "keepalive idle, interval and count must be >= 1").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  int err = SetKeepAlive(fd, idle, interval, count);
  return err ? Errno(info.Env(), "setKeepAlive", err) : info.Env().Undefined();
}

Napi::Value SetUserTimeoutJs(const Napi::CallbackInfo& info) {
  int fd;
  if (!FdArg(info, 0, &fd)) return info.Env().Undefined();
  int err = SetUserTimeout(fd, info[1].As<Napi::Number>().Uint32Value());
  return err ? Errno(info.Env(), "setUserTimeout", err) : info.Env().Undefined();
}

Napi::Value TcpInfoJs(const Napi::CallbackInfo& info) {
  int fd;
  if (!FdArg(info, 0, &fd)) return info.Env().Undefined();
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
  if (!FdArg(info, 0, &fd)) return info.Env().Undefined();
  ProbeResult r = Probe(fd);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("alive", r.alive);
  o.Set("reason", r.reason);
  o.Set("state", r.tcp_state < 0 ? "unknown" : TcpStateName(r.tcp_state));
  return o;
}

// Fast path for the pool's borrow check: true when alive.
Napi::Value AliveJs(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  return Napi::Boolean::New(info.Env(), Probe(fd).alive);
}

Napi::Value RaiseNoFileLimitJs(const Napi::CallbackInfo& info) {
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
    if (watch_.error()) Errno(info.Env(), "epoll_create1", watch_.error());
  }

 private:
  Napi::Value Add(const Napi::CallbackInfo& info) {
    int fd;
    if (!FdArg(info, 0, &fd)) return info.Env().Undefined();
    int err = watch_.Add(fd, info[1].As<Napi::Number>().Uint32Value());
    return err ? Errno(info.Env(), "idle watch add", err) : info.Env().Undefined();
  }
  Napi::Value Remove(const Napi::CallbackInfo& info) {
    int fd;
    if (!FdArg(info, 0, &fd)) return info.Env().Undefined();
    return Napi::Boolean::New(info.Env(), watch_.Remove(fd) == 0);
  }
  Napi::Value Checkout(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), watch_.Checkout(info[0].As<Napi::Number>().Int32Value()));
  }
  Napi::Value ReapDead(const Napi::CallbackInfo& info) {
    std::vector<uint32_t> dead = watch_.ReapDead();
    Napi::Array out = Napi::Array::New(info.Env(), dead.size());
    for (size_t i = 0; i < dead.size(); i++) out.Set(static_cast<uint32_t>(i), dead[i]);
    return out;
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
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
