#include "control/top_screen.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

#include "control/views.h"

namespace replink::control {
namespace {

// Set by SIGINT/SIGTERM/SIGHUP while top runs; the loop restores the terminal and returns.
std::atomic<bool>& QuitFlag() {
  static std::atomic<bool> quit{false};
  return quit;
}
void OnSignal(int) { QuitFlag().store(true); }

// Raw-ish keyboard (no echo, no line buffering) and the alternate screen, undone in the destructor.
class TerminalSession {
 public:
  TerminalSession() {
    interactive_ = isatty(STDOUT_FILENO) == 1;
    if (isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios raw = saved_;
      raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      keyboard_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    if (interactive_) std::fputs("\x1b[?1049h\x1b[?25l", stdout);  // alternate screen, hide cursor
  }
  ~TerminalSession() {
    if (interactive_) std::fputs("\x1b[?25h\x1b[?1049l", stdout);
    std::fflush(stdout);
    if (keyboard_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  bool interactive() const { return interactive_; }
  int width() const {
    winsize ws{};
    if (interactive_ && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return 0;  // no limit
  }
  // Waits up to `ms` for a key; true when the user asked to quit.
  bool WaitForQuit(int ms) {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!QuitFlag().load()) {
      int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
      if (left <= 0) return false;
      if (!keyboard_) {  // no keyboard (a pipe): only signals end the loop early
        usleep(static_cast<useconds_t>(std::min(left, 100)) * 1000);
        continue;
      }
      if (poll(&p, 1, std::min(left, 100)) > 0) {
        char c = 0;
        if (read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q' || c == 3)) return true;
      }
    }
    return true;
  }

 private:
  termios saved_{};
  bool keyboard_ = false;
  bool interactive_ = false;
};

std::string Clock() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buffer[16];
  std::strftime(buffer, sizeof(buffer), "%H:%M:%S", &tm);
  return buffer;
}

}  // namespace

Result<void> RunTop(ControlClient& client, const TopOptions& options) {
  QuitFlag().store(false);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  struct sigaction old_int {}, old_term {}, old_hup {};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  sigaction(SIGHUP, &sa, &old_hup);
  Result<void> result = Ok();
  {
    TerminalSession terminal;
    for (int shown = 0; options.count == 0 || shown < options.count; ++shown) {
      auto reply = client.Call("stats", Json::object(), options.timeout_ms);
      if (!reply.ok()) {
        result = std::move(reply).error();
        break;
      }
      if (!reply->ok) {
        result = MakeError(Errc::kState, "{}", reply->message);
        break;
      }
      std::string screen = RenderTop(reply->result, terminal.width(), Clock());
      if (terminal.interactive()) {
        std::fputs("\x1b[H\x1b[2J", stdout);  // home, clear: redraw in place
      } else if (shown > 0) {
        std::fputs("\n", stdout);
      }
      std::fputs(screen.c_str(), stdout);
      std::fflush(stdout);
      if (options.count != 0 && shown + 1 == options.count) break;
      if (terminal.WaitForQuit(options.interval_ms)) break;
    }
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGHUP, &old_hup, nullptr);
  return result;
}

}  // namespace replink::control
