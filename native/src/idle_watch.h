// An epoll instance of our own (never libuv's) holding the fds of idle pooled connections.
// Each registration carries a token chosen by JavaScript; epoll keys registrations by the open
// file description, so a closed fd silently leaves the set and a reused fd number is a new,
// unregistered description: a reused fd is never reported under its predecessor's token.
#pragma once
#include <cstdint>
#include <vector>

namespace shardline {

class IdleWatch {
 public:
  IdleWatch();
  ~IdleWatch();
  int error() const { return error_; }
  // 0 or errno. EEXIST when the fd is already watched.
  int Add(int fd, uint32_t token);
  // 0 or errno (ENOENT/EBADF when the fd was not watched or is closed).
  int Remove(int fd);
  // Remove + Probe in one call (the borrow check): true when the connection is alive.
  bool Checkout(int fd);
  // Tokens of watched connections whose peer closed, reset or errored; O(ready).
  std::vector<uint32_t> ReapDead();
  void Close();
  uint32_t size() const { return size_; }

 private:
  int epfd_;
  int error_;
  uint32_t size_;
};

}  // namespace shardline
