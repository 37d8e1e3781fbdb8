#include "control-plane/http/response.hpp"

#include "common/core/json_text.hpp"

#include <boost/json/object.hpp>

#include <unistd.h>

namespace mvx::cp {

reply error_reply(int status, std::string_view code, std::string_view message) {
    boost::json::object inner{{"code", code}, {"message", message}};
    boost::json::object o{{"error", std::move(inner)}};
    return reply{status, to_text(o)};
}

void unique_fd::reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

}  // namespace mvx::cp
