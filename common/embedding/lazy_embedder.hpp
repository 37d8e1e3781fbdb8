// An embedder made on first use. pack asks for one only when the payload
// wants vectors (options.semanticEnabled), so a lexical export never loads a
// model, probes a GPU or reads a provider key; whatever the factory throws
// (a missing key, a bad model folder) surfaces at that first use. The one
// lazy wrapper the project has: the CLI's pack and the queue worker's jobs
// both use it.
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "common/core/error.hpp"
#include "common/embedding/embedder.hpp"

namespace mvx::embedding {

class lazy_embedder final : public embedder {
public:
    // shared: the worker hands every job the engine it warmed up at start.
    using factory = std::function<std::shared_ptr<embedder>()>;

    // cancel: checked before each batch (JOB_CANCELED); max_batch caps the
    // texts per call (0: the embedder's own preference).
    explicit lazy_embedder(factory make, const std::atomic<bool>* cancel = nullptr, std::size_t max_batch = 0)
        : make_(std::move(make)), cancel_(cancel), max_batch_(max_batch) {}

    identity id() const override { return get().id(); }
    void embed(std::span<const std::string> texts, std::vector<float>& out) override {
        if (cancel_ && cancel_->load()) throw error(error_kind::internal, "JOB_CANCELED", "job canceled");
        get().embed(texts, out);
    }
    std::size_t batch_size() const override {
        const std::size_t n = get().batch_size();
        return max_batch_ ? std::min(n, max_batch_) : n;
    }
    embed_report report() const override { return get().report(); }
    bool made() const {
        std::lock_guard<std::mutex> lock(mu_);
        return e_ != nullptr;
    }

private:
    embedder& get() const {
        std::lock_guard<std::mutex> lock(mu_);
        if (!e_) e_ = make_();
        return *e_;
    }
    factory make_;
    const std::atomic<bool>* cancel_;
    std::size_t max_batch_;
    mutable std::mutex mu_;
    mutable std::shared_ptr<embedder> e_;
};

}  // namespace mvx::embedding
