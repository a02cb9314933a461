#include "bench/remus/baseline_socket_io.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

namespace replink::bench::remus {
namespace {

Error SocketError(const char* what) {
  Error e = MakeError(Errc::kIo, "baseline socket: {} failed", what);
  e.sys_errno = errno;
  return e;
}

Result<std::size_t> ReadSome(int fd, std::span<std::byte> out, bool eof_ok_at_start, bool* eof) {
  std::size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SocketError("read");
    if (n == 0) {
      if (got == 0 && eof_ok_at_start) {
        *eof = true;
        return std::size_t{0};
      }
      return MakeError(Errc::kClosed, "baseline socket: peer closed after {} of {} bytes", got, out.size());
    }
    got += static_cast<std::size_t>(n);
  }
  return got;
}

}  // namespace

void AdvanceIovecs(std::vector<iovec>& iov, std::size_t& first, std::size_t done) {
  while (done > 0 && first < iov.size()) {
    std::size_t take = std::min(done, iov[first].iov_len);
    iov[first].iov_base = static_cast<std::byte*>(iov[first].iov_base) + take;
    iov[first].iov_len -= take;
    done -= take;
    if (iov[first].iov_len == 0) ++first;
  }
  while (first < iov.size() && iov[first].iov_len == 0) ++first;
}

Result<void> ReadExact(int fd, std::span<std::byte> out) {
  bool eof = false;
  REPLINK_TRY(ReadSome(fd, out, false, &eof));
  return Ok();
}

Result<bool> ReadExactOrEof(int fd, std::span<std::byte> out) {
  bool eof = false;
  REPLINK_TRY(ReadSome(fd, out, true, &eof));
  return !eof;
}

Result<void> ReadVecExact(int fd, std::vector<iovec>& iov) {
  std::size_t first = 0;
  AdvanceIovecs(iov, first, 0);
  while (first < iov.size()) {
    int count = static_cast<int>(std::min<std::size_t>(iov.size() - first, IOV_MAX));
    ssize_t n = ::readv(fd, iov.data() + first, count);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SocketError("readv");
    if (n == 0) return MakeError(Errc::kClosed, "baseline socket: peer closed inside an epoch");
    AdvanceIovecs(iov, first, static_cast<std::size_t>(n));
  }
  return Ok();
}

Result<void> WriteExact(int fd, std::span<const std::byte> in) {
  std::size_t done = 0;
  while (done < in.size()) {
    ssize_t n = ::write(fd, in.data() + done, in.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SocketError("write");
    done += static_cast<std::size_t>(n);
  }
  return Ok();
}

Result<void> WriteVecExact(int fd, std::span<const iovec> in) {
  std::vector<iovec> iov(in.begin(), in.end());
  std::size_t first = 0;
  AdvanceIovecs(iov, first, 0);
  while (first < iov.size()) {
    ssize_t n = ::writev(fd, iov.data() + first, static_cast<int>(iov.size() - first));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SocketError("writev");
    AdvanceIovecs(iov, first, static_cast<std::size_t>(n));
  }
  return Ok();
}

}  // namespace replink::bench::remus
