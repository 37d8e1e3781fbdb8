// The router: a request matched against the route table, authorized and
// handed to its handler. No Beast: the session calls it with a parsed request
// and carries out what it returns (the fuzzer drives it directly).
#pragma once

#include "control-plane/handlers/handlers.hpp"

namespace mvx::cp {

struct dispatched {
    handler_result result;
    header_list extra;  // added to every answer of this request (X-RateLimit-*)
    std::size_t metric = 0;  // metric_labels() index
};

dispatched dispatch(const request& req, context& ctx);

}  // namespace mvx::cp
