// The HTTP server of memvid-export-api (Boost.Beast, C++20 coroutines on a
// thread pool): the /v1/exports API, health, metrics, and the worker side of
// the Runpod queue protocol for the local queue.
#pragma once

#include "control-plane/config.hpp"

#include <cstdint>
#include <memory>

namespace mvx::cp {

class job_service;
class runpod_driver;
class metrics;

class server {
public:
    server(const config& cfg, job_service& jobs, runpod_driver* runpod, metrics& m);
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
