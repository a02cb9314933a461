// Blocking socket reads and writes that finish the whole buffer (TCP may return short counts) and
// turn errno into an Error. Used by both sides of the Remus-style baseline.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <span>
#include <vector>

#include "errors/result.h"

namespace replink::bench::remus {

Result<void> ReadExact(int fd, std::span<std::byte> out);
// false when the peer closed the connection before the first byte (a clean end).
Result<bool> ReadExactOrEof(int fd, std::span<std::byte> out);
// Fills every iovec; `iov` is consumed (advanced) in place.
Result<void> ReadVecExact(int fd, std::vector<iovec>& iov);
Result<void> WriteExact(int fd, std::span<const std::byte> in);
// Sends every iovec with writev; `iov` is copied, not changed.
Result<void> WriteVecExact(int fd, std::span<const iovec> iov);

// Drops `done` bytes from the front of an iovec list (after a short transfer).
void AdvanceIovecs(std::vector<iovec>& iov, std::size_t& first, std::size_t done);

}  // namespace replink::bench::remus
