#include "idle_watch.h"

#include "socket_ops.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

namespace shardline {

IdleWatch::IdleWatch() : epfd_(epoll_create1(EPOLL_CLOEXEC)), error_(0), size_(0) {
  if (epfd_ < 0) error_ = errno;
}

IdleWatch::~IdleWatch() { Close(); }

void IdleWatch::Close() {
  if (epfd_ >= 0) close(epfd_);
  epfd_ = -1;
  size_ = 0;
}

int IdleWatch::Add(int fd, uint32_t token) {
  if (epfd_ < 0) return EBADF;
  struct epoll_event ev {};
  ev.events = EPOLLRDHUP | EPOLLHUP | EPOLLERR;
  ev.data.u64 = token;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return errno;
  size_++;
  return 0;
}

int IdleWatch::Remove(int fd) {
  if (epfd_ < 0) return EBADF;
  if (epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr) != 0) return errno;
  if (size_ > 0) size_--;
  return 0;
}

bool IdleWatch::Checkout(int fd) {
  if (epfd_ >= 0 && epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr) == 0 && size_ > 0) size_--;
  return Probe(fd).alive;
}

std::vector<uint32_t> IdleWatch::ReapDead() {
  std::vector<uint32_t> dead;
  if (epfd_ < 0) return dead;
  struct epoll_event events[64];
  for (;;) {
    int n = epoll_wait(epfd_, events, 64, 0);
    if (n <= 0) break;
    for (int i = 0; i < n; i++) dead.push_back(static_cast<uint32_t>(events[i].data.u64));
    if (n < 64) break;
  }
  return dead;
}

}  // namespace shardline
