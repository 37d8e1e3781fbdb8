// The HTTP server of memvid-export-api: the listener and the sessions
// (Boost.Beast on C++20 coroutines, one single-threaded io_context per
// thread). A session parses a request, hands it to the router
// (routes/dispatch.hpp) and carries out the handler's result on the socket.
// The only part of the control plane that knows Beast or Asio.
#pragma once

#include "control-plane/config/config.hpp"

#include <cstdint>
#include <memory>

namespace mvx::cp {

class job_registry;
class local_queue;
class runpod_driver;
class housekeeping;
class metrics;

class server {
public:
    server(const config& cfg, job_registry& jobs, local_queue* queue, runpod_driver* runpod, housekeeping& hk, metrics& m);
    ~server();
    // Binds; returns the port actually bound (MEMVID_EXPORT_BIND_ADDR may say :0).
    std::uint16_t bind();
    // Serves until stop() (or SIGINT/SIGTERM when install_signals was set).
    void run(bool install_signals);
    void stop();

private:
    struct impl;
    std::unique_ptr<impl> p_;
};

}  // namespace mvx::cp
