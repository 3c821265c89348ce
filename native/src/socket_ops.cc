#include "socket_ops.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

namespace shardline {

int SetKeepAlive(int fd, int idle_s, int interval_s, int count) {
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) != 0) return errno;
  if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s) != 0) return errno;
  if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof interval_s) != 0) return errno;
  if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count) != 0) return errno;
  return 0;
}

int SetUserTimeout(int fd, unsigned int ms) {
  return setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms) == 0 ? 0 : errno;
}

int ReadTcpInfo(int fd, TcpInfo* out) {
  struct tcp_info info {};
  socklen_t len = sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return errno;
  out->state = info.tcpi_state;
  out->rtt_us = info.tcpi_rtt;
  out->rttvar_us = info.tcpi_rttvar;
  out->rto_us = info.tcpi_rto;
  out->retransmits = info.tcpi_retransmits;
  out->probes = info.tcpi_probes;
  out->backoff = info.tcpi_backoff;
  out->unacked = info.tcpi_unacked;
  out->lost = info.tcpi_lost;
  out->retrans = info.tcpi_retrans;
  out->total_retrans = info.tcpi_total_retrans;
  out->last_data_recv_ms = info.tcpi_last_data_recv;
  out->last_data_sent_ms = info.tcpi_last_data_sent;
  out->last_ack_recv_ms = info.tcpi_last_ack_recv;
  out->snd_cwnd = info.tcpi_snd_cwnd;
  out->pmtu = info.tcpi_pmtu;
  return 0;
}

ProbeResult Probe(int fd) {
  if (fd < 0) return {false, "bad-fd", -1};
  struct pollfd p {};
  p.fd = fd;
  p.events = POLLIN | POLLRDHUP;
  int n = poll(&p, 1, 0);
  if (n < 0) return {false, "bad-fd", -1};
  if (n > 0) {
    if (p.revents & POLLNVAL) return {false, "bad-fd", -1};
    if (p.revents & POLLERR) return {false, "error", -1};
    if (p.revents & POLLHUP) return {false, "hangup", -1};
    if (p.revents & POLLRDHUP) return {false, "peer-closed", -1};
    // An idle MySQL connection has nothing to read: unread bytes are an error packet
    // (wait_timeout, KILL) that libuv has not delivered yet.
    if (p.revents & POLLIN) return {false, "pending-data", -1};
  }
  struct tcp_info info {};
  socklen_t len = sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0) {
    if (info.tcpi_state != 1 /* TCP_ESTABLISHED */) return {false, "state", info.tcpi_state};
    return {true, "ok", info.tcpi_state};
  }
  return {true, "ok", -1};
}

NoFile RaiseNoFileLimit() {
  struct rlimit lim {};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return {0, 0, 0, errno};
  NoFile out{lim.rlim_cur, lim.rlim_cur, lim.rlim_max, 0};
  if (lim.rlim_cur < lim.rlim_max) {
    struct rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      out.soft = raised.rlim_cur;
    } else {
      out.error = errno;
    }
  }
  return out;
}

const char* TcpStateName(int state) {
  static const char* names[] = {"unknown", "established", "syn-sent", "syn-recv", "fin-wait1", "fin-wait2", "time-wait",
                                "close", "close-wait", "last-ack", "listen", "closing", "new-syn-recv"};
  if (state < 0 || state > 12) return "unknown";
  return names[state];
}

}  // namespace shardline
