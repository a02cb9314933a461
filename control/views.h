// Human renderings of the control commands' JSON results (docs/PROTOCOL.md "Control protocol"). Each
// tolerates missing members (an older or newer dataplane): absent values print as "-".
#pragma once

#include <string>

#include "control/protocol/control_message.h"

namespace replink::control {

std::string RenderStatus(const Json& status);
std::string RenderStats(const Json& stats);
std::string RenderLinkShow(const Json& link);
std::string RenderLinkSet(const Json& result);
std::string RenderVmList(const Json& result);
std::string RenderFailover(const Json& result);
// The `top` screen for one stats result; `width` is the terminal's (lines are cut to it).
std::string RenderTop(const Json& stats, int width, const std::string& clock);

// Helpers shared by the views.
const Json& Member(const Json& j, std::initializer_list<const char*> path);
std::string Text(const Json& v, int decimals = 2);
double Number(const Json& v);

}  // namespace replink::control
