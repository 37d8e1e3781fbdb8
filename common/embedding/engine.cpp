#include "common/embedding/engine.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <numeric>

#include "common/core/error.hpp"
#include "common/embedding/cuda_module.hpp"

namespace mvx::embedding {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

namespace cuda {

model_view view_of(const bert_model& m) {
    model_view v;
    v.config = &m.config();
    v.weights = &m.weights();
    v.pool = m.pool();
    v.normalize = m.normalize();
    v.cls_id = m.tokenizer().cls_id();
    return v;
}

const module_api* load_module(const std::string& path, std::string& why) {
    static std::once_flag once;
    static const module_api* api = nullptr;
    static std::string reason;
    std::call_once(once, [&path] {
        (void)path;  // unused when the build has no CUDA
#ifndef MVX_HAVE_CUDA
        reason = "this build has no CUDA backend (configured with MVX_CUDA=OFF or without nvcc)";
#else
        namespace fs = std::filesystem;
        std::vector<fs::path> candidates;
        if (!path.empty()) {
            candidates.emplace_back(path);
        } else {
            std::error_code ec;
            const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
            if (!ec) {
                candidates.push_back(exe.parent_path() / k_module_file);
                candidates.push_back(exe.parent_path().parent_path() / "lib" / "memvid-export" / k_module_file);
            }
        }
        std::string tried;
        for (const auto& c : candidates) {
            void* h = ::dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
            if (!h) {
                const char* e = ::dlerror();
                tried += (tried.empty() ? "" : "; ") + std::string(e ? e : c.string());
                continue;
            }
            using entry_fn = const module_api* (*)();
            auto entry = reinterpret_cast<entry_fn>(::dlsym(h, k_module_entry));
            const module_api* a = entry ? entry() : nullptr;
            if (!a || a->abi != k_module_abi || !a->probe || !a->make_backend) {
                tried += (tried.empty() ? "" : "; ") + c.string() + " is not this build's CUDA module (rebuild it)";
                ::dlclose(h);
                continue;
            }
            api = a;  // stays loaded for the life of the process
            return;
        }
        reason = "the CUDA backend module could not be loaded (" + (tried.empty() ? std::string("no candidate path") : tried) +
                 "); set MEMVID_CUDA_MODULE to the path of " + k_module_file;
#endif
    });
    why = reason;
    return api;
}

}  // namespace cuda

device_report probe_devices(const std::string& cuda_module) {
    device_report r;
    std::string why;
    const cuda::module_api* api = cuda::load_module(cuda_module, why);
    if (!api) {
        r.reason = why;
        return r;
    }
    r.cuda_compiled = true;
    cuda::device_info info = api->probe();
    r.cuda_present = info.present;
    r.cuda_device = info.description;
    if (!info.present) r.reason = "no usable CUDA device: " + info.error;
    return r;
}

std::unique_ptr<engine> engine::open(const engine_options& options) {
    auto e = std::unique_ptr<engine>(new engine());
    e->opts_ = options;
    if (options.model_dir.empty())
        throw error(error_kind::invalid_input, "EMBEDDER_NOT_CONFIGURED",
                    "the native embedder needs a model folder: pass --embedding-model <folder> or set MEMVID_EMBED_MODEL_DIR "
                    "(a Hugging Face folder with config.json, tokenizer.json and model.safetensors)");
    if (options.device != "auto" && options.device != "cpu" && options.device != "cuda")
        throw error(error_kind::invalid_input, "INVALID_ARGUMENT",
                    "embedding device \"" + options.device + "\" is invalid: use auto, cpu or cuda");
    if (options.max_batch_tokens < 512 || options.max_batch_tokens > (1u << 22))
        throw error(error_kind::invalid_input, "INVALID_ARGUMENT",
                    "max batch tokens " + std::to_string(options.max_batch_tokens) + " is outside 512..4194304");
    e->model_ = bert_model::load(options.model_dir);
    if (options.max_length) {
        if (options.max_length < 2 || options.max_length > e->model_->config().max_positions)
            throw error(error_kind::invalid_input, "INVALID_ARGUMENT",
                        "max length " + std::to_string(options.max_length) + " is outside 2.." +
                            std::to_string(e->model_->config().max_positions) + " for this model");
        e->model_->set_max_length(options.max_length);
    }
    if (e->model_->max_length() > options.max_batch_tokens) e->model_->set_max_length(options.max_batch_tokens);

    // The CUDA module is loaded (and the driver probed) only when a GPU may be used.
    if (options.device == "cpu")
        e->report_.reason = "embedding device cpu was requested";
    else
        e->report_ = probe_devices(options.cuda_module);
    bool want_cuda = options.device == "cuda" || (options.device == "auto" && e->report_.cuda_present);
    if (options.device == "cuda" && !e->report_.cuda_present)
        throw error(error_kind::unsupported, "EMBEDDER_UNAVAILABLE",
                    "embedding device cuda was requested but " + e->report_.reason + "; use --embedding-device auto or cpu");
    if (want_cuda) {
        std::string why;
        const cuda::module_api* api = cuda::load_module(options.cuda_module, why);  // loaded by probe_devices() already
        cuda::backend_options co;
        co.precision = options.precision;
        co.max_batch_tokens = options.max_batch_tokens;
        if (api) e->backend_ = api->make_backend(cuda::view_of(*e->model_), co);
    }
    if (!e->backend_) e->backend_ = make_cpu_backend(*e->model_, options.threads);
    if (options.warm_up) {
        auto t0 = std::chrono::steady_clock::now();
        e->backend_->warm_up(options.max_batch_tokens, e->model_->max_length());
        e->warm_up_ms_ = ms_since(t0);
    }

    const auto& c = e->model_->config();
    e->id_.provider = "fastembed";  // memvid's name for local models (docs/mv2-format.md §3.3)
    e->id_.model = options.model_id.empty() ? e->model_->model_id() : options.model_id;
    e->id_.dimension = c.hidden;
    e->id_.normalized = e->model_->normalize();
    return e;
}

identity engine::id() const { return id_; }

embed_report engine::report() const {
    std::lock_guard<std::mutex> lock(mu_);
    embed_report r;
    r.backend = backend_->name();
    r.device = backend_->device();
    r.precision = backend_->precision();
    r.texts = stats_.texts;
    r.tokens = stats_.tokens;
    r.truncated_texts = stats_.truncated_texts;
    r.truncated_tokens = stats_.truncated_tokens;
    return r;
}

engine_stats engine::stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
}

void engine::embed(std::span<const std::string> texts, std::vector<float>& out) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::size_t n = texts.size(), H = model_->config().hidden;
    const std::size_t base = out.size();
    out.resize(base + n * H);
    if (n == 0) return;

    auto t0 = std::chrono::steady_clock::now();
    std::vector<encoding> enc(n);
    const auto& tok = model_->tokenizer();
    const std::size_t max_len = model_->max_length();
#pragma omp parallel for schedule(dynamic, 8)
    for (std::size_t i = 0; i < n; ++i) enc[i] = tok.encode(texts[i], max_len);
    stats_.tokenize_ms += ms_since(t0);

    // Longest first: batches of similar lengths keep the GPU's attention blocks
    // even; the CPU path spends no FLOPs on padding either way.
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return enc[a].ids.size() > enc[b].ids.size(); });

    auto t1 = std::chrono::steady_clock::now();
    token_batch batch;
    std::vector<std::size_t> members;
    std::vector<float> pooled;
    auto run = [&] {
        if (members.empty()) return;
        pooled.resize(members.size() * H);
        backend_->forward(batch, pooled.data());
        for (std::size_t k = 0; k < members.size(); ++k)
            std::copy(pooled.begin() + std::ptrdiff_t(k * H), pooled.begin() + std::ptrdiff_t((k + 1) * H),
                      out.begin() + std::ptrdiff_t(base + members[k] * H));
        ++stats_.batches;
        batch.clear();
        members.clear();
    };
    for (std::size_t i : order) {
        const auto& e = enc[i];
        if (!members.empty() && batch.tokens() + e.ids.size() > opts_.max_batch_tokens) run();
        batch.add(e.ids);
        members.push_back(i);
        stats_.tokens += e.ids.size();
        if (e.truncated) {
            ++stats_.truncated_texts;
            stats_.truncated_tokens += e.dropped;
        }
    }
    run();
    stats_.forward_ms += ms_since(t1);
    stats_.texts += n;
}

}  // namespace mvx::embedding
