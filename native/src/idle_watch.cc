#include "idle_watch.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "socket_ops.h"

namespace shardline {

namespace {
// Event data: the fd in the high half, the token in the low half (both 32 bits).
uint64_t Pack(int fd, uint32_t token) { return (static_cast<uint64_t>(static_cast<uint32_t>(fd)) << 32) | token; }
int FdOf(uint64_t data) { return static_cast<int>(static_cast<uint32_t>(data >> 32)); }
uint32_t TokenOf(uint64_t data) { return static_cast<uint32_t>(data); }
constexpr size_t kMaxEventsPerPass = 65536;
}  // namespace

IdleWatch::IdleWatch() : epfd_(epoll_create1(EPOLL_CLOEXEC)), error_(0) {
  if (epfd_ < 0) error_ = errno;
}

IdleWatch::~IdleWatch() { Close(); }

void IdleWatch::Close() {
  if (epfd_ >= 0) close(epfd_);
  epfd_ = -1;
  tokens_.clear();
  events_.clear();
  events_.shrink_to_fit();
}

int IdleWatch::Add(int fd, uint32_t token) {
  if (epfd_ < 0) return EBADF;
  struct epoll_event ev {};
  ev.events = EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLONESHOT;
  ev.data.u64 = Pack(fd, token);
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return errno;
  tokens_[fd] = token;
  return 0;
}

int IdleWatch::Remove(int fd) {
  if (epfd_ < 0) return EBADF;
  tokens_.erase(fd);
  if (epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr) != 0) return errno;
  return 0;
}

bool IdleWatch::Checkout(int fd) {
  if (epfd_ >= 0) {
    tokens_.erase(fd);
    epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  }
  return Probe(fd).alive;
}

std::vector<uint32_t> IdleWatch::ReapDead() {
  std::vector<uint32_t> dead;
  if (epfd_ < 0) return dead;
  // One pass: every registration is one-shot, so no ready entry can be returned twice and a
  // buffer as large as the registrations made collects them all (any surplus is next call's).
  size_t want = tokens_.size() + 1;
  if (want > kMaxEventsPerPass) want = kMaxEventsPerPass;
  if (events_.size() < want) events_.resize(want);
  int n;
  do {
    n = epoll_wait(epfd_, events_.data(), static_cast<int>(want), 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return dead;
  dead.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; i++) {
    const uint64_t data = events_[static_cast<size_t>(i)].data.u64;
    const int fd = FdOf(data);
    const uint32_t token = TokenOf(data);
    dead.push_back(token);
    // Delete only our own current registration of this fd number: if the number was closed and
    // reused under another token, the event belongs to a stale (disabled, one-shot) registration.
    auto it = tokens_.find(fd);
    if (it != tokens_.end() && it->second == token) {
      tokens_.erase(it);
      epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    }
  }
  if (events_.size() > 1024 && tokens_.size() < events_.size() / 4) {
    events_.resize(tokens_.size() + 1);
    events_.shrink_to_fit();
  }
  return dead;
}

}  // namespace shardline
