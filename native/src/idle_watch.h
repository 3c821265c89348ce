// An epoll instance of our own (never libuv's) holding the fds of idle pooled connections.
// Each registration carries a token chosen by JavaScript; epoll keys registrations by the open
// file description, so a closed fd silently leaves the set and a reused fd number is a new,
// unregistered description: a reused fd is never reported under its predecessor's token.
//
// Registrations are one-shot (EPOLLONESHOT) and a reported one is deleted at once, so a dead
// socket is reported exactly once even though the condition (RDHUP/HUP/ERR) stays true until
// libuv closes the fd; ReapDead() is one epoll_wait pass bounded by the number registered.
#pragma once
#include <cstdint>
#include <sys/epoll.h>

#include <unordered_map>
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
  // Tokens of watched connections whose peer closed, reset or errored since the last call;
  // each is reported once and leaves the watch.
  std::vector<uint32_t> ReapDead();
  void Close();
  uint32_t size() const { return static_cast<uint32_t>(tokens_.size()); }

 private:
  int epfd_;
  int error_;
  // fd -> token of the registration this object made for that fd number. A closed fd may stay
  // here until its number is reused or reported; it only bounds the epoll_wait buffer.
  std::unordered_map<int, uint32_t> tokens_;
  std::vector<struct epoll_event> events_;
};

}  // namespace shardline
