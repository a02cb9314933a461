// Result<T>: a value or an Error, in the spirit of std::expected (C++23) for a C++20 codebase.
// The fast path never throws; an Error allocates only when it is created, i.e. off the fast path.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace replink {

enum class Errc : uint16_t {
  kInvalidArgument,  // caller passed something out of range
  kCorrupt,          // untrusted input (ring descriptor, frame, encoded page) failed validation
  kNoSpace,          // a bounded resource is full; try again later
  kNoGain,           // an encoder could not beat raw; caller falls back
  kVersionMismatch,  // ABI / protocol versions do not interoperate
  kUnsupported,      // the backend or platform cannot do this
  kIo,               // a system call failed (see sys_errno)
  kTimeout,
  kClosed,           // the other side went away
  kState,            // the operation is not valid in the current state
};

const char* ErrcName(Errc code);

struct Error {
  Errc code = Errc::kInvalidArgument;
  std::string message;
  int sys_errno = 0;

  // "corrupt: vm 3 epoch 17: slot 99 outside arena (errno …)"
  std::string Describe() const;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}        // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

inline Result<void> Ok() { return {}; }

template <typename... Args>
Error MakeError(Errc code, fmt::format_string<Args...> format, Args&&... args) {
  return Error{code, fmt::format(format, std::forward<Args>(args)...), 0};
}

// For a failed system call: captures errno before anything else can clobber it.
template <typename... Args>
Error SysError(fmt::format_string<Args...> format, Args&&... args) {
  int saved = errno;
  return Error{Errc::kIo, fmt::format(format, std::forward<Args>(args)...), saved};
}

// Prefixes context ("vm 3", "epoch 17") to an error travelling up the stack.
inline Error WithContext(Error error, std::string_view context) {
  error.message = fmt::format("{}: {}", context, error.message);
  return error;
}

}  // namespace replink

// Propagates an error from an expression returning Result<...>.
#define REPLINK_TRY(expr)                              \
  do {                                                 \
    auto replink_try_result_ = (expr);                 \
    if (!replink_try_result_.ok())                     \
      return std::move(replink_try_result_).error();   \
  } while (0)

#define REPLINK_CONCAT_INNER(a, b) a##b
#define REPLINK_CONCAT(a, b) REPLINK_CONCAT_INNER(a, b)
// Declares `lhs` from a Result<T> expression or propagates its error.
#define REPLINK_ASSIGN_OR_RETURN(lhs, expr) \
  REPLINK_ASSIGN_OR_RETURN_IMPL(REPLINK_CONCAT(replink_aor_, __LINE__), lhs, expr)
#define REPLINK_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).error();       \
  lhs = std::move(tmp).value()
