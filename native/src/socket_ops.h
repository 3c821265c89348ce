// Socket operations on file descriptors that libuv owns. Only side-effect-free calls are used
// for inspection (poll with a zero timeout, getsockopt TCP_INFO): never recv or SO_ERROR, which
// would consume state libuv relies on.
#pragma once
#include <cstdint>
#include <string>

namespace shardline {

struct TcpInfo {
  uint8_t state;
  uint32_t rtt_us;
  uint32_t rttvar_us;
  uint32_t rto_us;
  uint8_t retransmits;
  uint8_t probes;
  uint8_t backoff;
  uint32_t unacked;
  uint32_t lost;
  uint32_t retrans;
  uint32_t total_retrans;
  uint32_t last_data_recv_ms;
  uint32_t last_data_sent_ms;
  uint32_t last_ack_recv_ms;
  uint32_t snd_cwnd;
  uint32_t pmtu;
};

// Each returns 0 on success or an errno value.
int SetKeepAlive(int fd, int idle_s, int interval_s, int count);
int SetUserTimeout(int fd, unsigned int ms);
int ReadTcpInfo(int fd, TcpInfo* out);

struct ProbeResult {
  bool alive;
  const char* reason;  // "ok", "peer-closed", "hangup", "error", "pending-data", "state", "bad-fd"
  int tcp_state;       // -1 when unknown
};
ProbeResult Probe(int fd);

struct NoFile {
  uint64_t soft_before;
  uint64_t soft;
  uint64_t hard;
  int error;
};
NoFile RaiseNoFileLimit();

const char* TcpStateName(int state);

}  // namespace shardline
