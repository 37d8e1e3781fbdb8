#include "common/providers/providers.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <random>
#include <thread>

#include "common/core/env.hpp"
#include "common/core/error.hpp"
#include "common/http/client.hpp"
#include "common/providers/catalog.hpp"

namespace mvx::providers {
namespace json = boost::json;
using embedding::embed_report;
using embedding::identity;

namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

[[noreturn]] void misconfigured(const std::string& msg) {
    throw error(error_kind::invalid_input, "EMBEDDER_NOT_CONFIGURED", "Embedding misconfiguration: " + msg);
}

std::string trim_slash(std::string s) {
    while (!s.empty() && s.back() == '/') s.pop_back();
    return s;
}

// Removes any occurrence of the key from text that is about to be shown.
std::string redact(std::string text, const std::string& secret) {
    if (secret.size() < 4) return text;
    for (std::size_t p; (p = text.find(secret)) != std::string::npos;) text.replace(p, secret.size(), "[redacted]");
    return text;
}

// The provider's own error text from a non-2xx body.
std::string provider_message(const std::string& body) {
    json::error_code ec;
    json::value v = json::parse(body, ec);
    if (!ec && v.is_object()) {
        const auto& o = v.as_object();
        for (const char* k : {"error", "detail", "message"}) {
            auto it = o.find(k);
            if (it == o.end()) continue;
            if (it->value().is_string()) return std::string(it->value().as_string());
            if (it->value().is_object()) {
                const auto& e = it->value().as_object();
                if (auto m = e.find("message"); m != e.end() && m->value().is_string())
                    return std::string(m->value().as_string());
            }
            return json::serialize(it->value()).substr(0, 500);
        }
    }
    std::string t = body.substr(0, 500);
    std::replace_if(
        t.begin(), t.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
    return t.empty() ? "(empty body)" : t;
}

// Seconds from Retry-After (delta-seconds or an HTTP date); -1 when absent/unusable.
double retry_after_seconds(const std::string& v) {
    if (v.empty()) return -1;
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (end && *end == 0 && d >= 0) return d;
    std::tm tm{};
    if (strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm)) {
        double delta = std::difftime(timegm(&tm), std::time(nullptr));
        return delta > 0 ? delta : 0;
    }
    return -1;
}

}  // namespace

provider_config provider_config::from_env(const env_lookup& lookup, const std::string& mode_in, const std::string& provider_in,
                                          const std::string& model_in, const std::string& ollama_host) {
    const env_reader env(lookup, "EMBEDDER_NOT_CONFIGURED");
    provider_config c;
    c.mode = lower(mode_in.empty() ? env.str("MEMVID_EMBEDDING_MODE", "external_api") : mode_in);
    const std::string p = provider_in.empty() ? env.str("MEMVID_EMBED_PROVIDER", std::string(k_default_provider)) : provider_in;
    const provider_info* info = find_provider(p);
    if (!info || info->name == "native")
        throw error(error_kind::invalid_input, "EMBEDDER_NOT_CONFIGURED",
                    "Unsupported MEMVID_EMBED_PROVIDER `" + p + "`. Supported: " + std::string(k_supported) + ".");
    c.provider = std::string(info->name);
    c.model = model_in.empty() ? env.str("MEMVID_EMBED_MODEL") : model_in;
    if (c.model.empty()) c.model = std::string(info->default_model);
    if (!info->key_variable.empty()) c.api_key = env.str(std::string(info->key_variable).c_str());
    if (c.provider == "ollama")
        c.base_url = ollama_host.empty() ? env.str("OLLAMA_HOST") : ollama_host;
    else
        c.base_url = env.str(std::string(info->base_url_variable).c_str(), std::string(info->default_base_url));
    c.base_url = trim_slash(c.base_url);
    if (env.has("VOYAGE_INPUT_TYPE")) c.voyage_input_type = lower(env.str("VOYAGE_INPUT_TYPE"));
    if (env.has("VOYAGE_OUTPUT_DTYPE")) c.voyage_output_dtype = lower(env.str("VOYAGE_OUTPUT_DTYPE"));
    if (env.has("VOYAGE_OUTPUT_DIMENSION"))
        c.voyage_output_dimension = static_cast<int>(env.integer("VOYAGE_OUTPUT_DIMENSION", 0, 1, 65535, "a dimension"));
    c.voyage_truncation = env.flag("VOYAGE_TRUNCATION", true);
    c.timeout = std::chrono::seconds(env.integer("MEMVID_EMBED_REQUEST_TIMEOUT_SECONDS", 60, 1, 3600, "seconds"));
    c.batch_size =
        static_cast<std::size_t>(env.integer("MEMVID_EMBED_BATCH_SIZE", 0, 0, 4096, "inputs per request (0 = the provider's)"));
    c.concurrency = static_cast<std::size_t>(env.integer("MEMVID_EMBED_CONCURRENCY", 4, 1, 64, "requests in flight"));
    c.max_attempts = static_cast<int>(env.integer("MEMVID_EMBED_MAX_ATTEMPTS", 6, 1, 20, "attempts"));
    c.backoff_base = std::chrono::milliseconds(env.integer("MEMVID_EMBED_RETRY_BASE_MS", 500, 1, 60000, "milliseconds"));
    return c;
}

void provider_config::validate() const {
    if (model.empty()) misconfigured("MEMVID_EMBED_MODEL is required.");
    if (mode == "external_api") {
        if (provider == "nvidia" && api_key.empty()) misconfigured("provider=nvidia requires NVIDIA_API_KEY.");
        if (provider == "openai" && api_key.empty()) misconfigured("provider=openai requires OPENAI_API_KEY.");
        if (provider == "voyage") {
            if (api_key.empty()) misconfigured("provider=voyage/voyageai requires VOYAGE_API_KEY.");
            if (voyage_input_type != "document" && voyage_input_type != "query")
                misconfigured("VOYAGE_INPUT_TYPE must be `document` or `query`.");
            // Vectors go into a float index: only float output is usable.
            if (voyage_output_dtype != "float")
                misconfigured("VOYAGE_OUTPUT_DTYPE must be `float` for a capsule's vector index (got `" + voyage_output_dtype +
                              "`).");
            if (voyage_output_dimension && lower(model) == "voyage-code-3" && *voyage_output_dimension != 256 &&
                *voyage_output_dimension != 512 && *voyage_output_dimension != 1024 && *voyage_output_dimension != 2048)
                misconfigured("voyage-code-3 supports VOYAGE_OUTPUT_DIMENSION values 256,512,1024,2048.");
        }
        if (provider == "ollama") misconfigured("provider=ollama/local is not valid with mode=external_api.");
    } else if (mode == "runpod_gpu") {
        if (provider != "ollama") misconfigured("mode=runpod_gpu supports provider=ollama/local (or native).");
        if (base_url.empty()) misconfigured("mode=runpod_gpu requires OLLAMA_HOST for provider=ollama/local.");
    } else {
        misconfigured("MEMVID_EMBEDDING_MODE `" + mode + "` is not supported: use external_api or runpod_gpu.");
    }
    http::parse_url(base_url + "/embeddings", provider + " base URL");
}

struct provider_embedder::impl {
    provider_config cfg;
    std::string endpoint;  // full URL of the batch call
    bool ollama_legacy = false;  // /api/embed missing: one /api/embeddings call per text
    std::size_t batch = 0;
    mutable std::mutex mu;
    std::size_t dimension = 0;
    stats counters;
    std::mt19937_64 rng{std::random_device{}()};

    std::string make_body(std::span<const std::string> texts) const {
        json::object o;
        o["model"] = cfg.model;
        if (cfg.provider == "ollama" && ollama_legacy) {
            o["prompt"] = texts[0];
            return json::serialize(o);
        }
        json::array in;
        for (const auto& t : texts) in.emplace_back(t);
        o["input"] = std::move(in);
        if (cfg.provider == "openai" || cfg.provider == "nvidia") o["encoding_format"] = "float";
        if (cfg.provider == "voyage") {
            o["input_type"] = cfg.voyage_input_type;
            o["output_dtype"] = cfg.voyage_output_dtype;
            o["truncation"] = cfg.voyage_truncation;
            if (cfg.voyage_output_dimension) o["output_dimension"] = *cfg.voyage_output_dimension;
        }
        return json::serialize(o);
    }

    [[noreturn]] void fail(const std::string& msg) const {
        throw error(error_kind::io, "EMBEDDING_FAILED", redact(msg, cfg.api_key));
    }

    // Parses the vectors of one response; n = inputs sent.
    void parse(const std::string& body, std::size_t n, std::vector<float>& out) {
        json::error_code ec;
        json::value v = json::parse(body, ec);
        const std::string who = "embedding provider " + cfg.provider + " (" + endpoint + ")";
        if (ec || !v.is_object()) fail(who + " answered with malformed JSON: " + (ec ? ec.message() : "not an object"));
        const auto& o = v.as_object();
        std::vector<const json::array*> rows(n, nullptr);
        std::size_t got = 0;
        if (auto it = o.find("data"); it != o.end() && it->value().is_array()) {
            const auto& data = it->value().as_array();
            got = data.size();
            for (std::size_t i = 0; i < data.size() && i < n; ++i) {
                if (!data[i].is_object()) fail(who + ": data[" + std::to_string(i) + "] is not an object");
                const auto& item = data[i].as_object();
                std::size_t idx = i;
                if (auto ix = item.find("index"); ix != item.end() && ix->value().is_int64()) {
                    auto k = ix->value().as_int64();
                    if (k < 0 || std::size_t(k) >= n) fail(who + ": data[" + std::to_string(i) + "].index is out of range");
                    idx = std::size_t(k);
                }
                auto emb = item.find("embedding");
                if (emb == item.end() || !emb->value().is_array())
                    fail(who + ": data[" + std::to_string(i) + "].embedding is missing or not a float array");
                if (rows[idx]) fail(who + ": two vectors for input " + std::to_string(idx));
                rows[idx] = &emb->value().as_array();
            }
        } else if (auto it2 = o.find("embeddings"); it2 != o.end() && it2->value().is_array()) {
            const auto& data = it2->value().as_array();
            got = data.size();
            for (std::size_t i = 0; i < data.size() && i < n; ++i) {
                if (!data[i].is_array()) fail(who + ": embeddings[" + std::to_string(i) + "] is not an array");
                rows[i] = &data[i].as_array();
            }
        } else if (auto it3 = o.find("embedding"); it3 != o.end() && it3->value().is_array()) {
            got = 1;
            rows[0] = &it3->value().as_array();
        } else {
            fail(who + " answered without vectors (no \"data\", \"embeddings\" or \"embedding\")");
        }
        if (got != n) fail(who + " returned " + std::to_string(got) + " vectors for " + std::to_string(n) + " inputs");
        {
            std::lock_guard<std::mutex> lock(mu);
            if (dimension == 0) dimension = rows[0]->size();
            out.assign(n * dimension, 0.0f);
        }
        for (std::size_t i = 0; i < n; ++i) {
            const auto& row = *rows[i];
            std::size_t dim;
            {
                std::lock_guard<std::mutex> lock(mu);
                if (dimension == 0) dimension = row.size();
                dim = dimension;
            }
            if (row.empty() || row.size() != dim)
                fail(who + " returned a vector of dimension " + std::to_string(row.size()) + " for input " + std::to_string(i) +
                     "; expected " + std::to_string(dim));
            for (std::size_t j = 0; j < dim; ++j) {
                const auto& x = row[j];
                double d = x.is_double() ? x.as_double()
                    : x.is_int64()       ? double(x.as_int64())
                    : x.is_uint64()      ? double(x.as_uint64())
                                         : NAN;
                if (!std::isfinite(d)) fail(who + " returned a non-numeric or non-finite value in vector " + std::to_string(i));
                out[i * dim + j] = static_cast<float>(d);
            }
        }
    }

    std::chrono::milliseconds backoff(int attempt, double retry_after) {
        if (retry_after >= 0) return std::chrono::milliseconds(static_cast<long long>(std::min(retry_after, 120.0) * 1000));
        double cap = double(cfg.backoff_cap.count());
        double base = std::min(cap, double(cfg.backoff_base.count()) * std::pow(2.0, attempt));
        std::lock_guard<std::mutex> lock(mu);
        std::uniform_real_distribution<double> jitter(0.5, 1.0);  // "equal jitter"
        return std::chrono::milliseconds(static_cast<long long>(base * jitter(rng)));
    }

    // One request with retries; vectors into out (dimension known after the first).
    void call(http::client& client, std::span<const std::string> texts, std::vector<float>& out) {
        http::request req;
        req.method = "POST";
        req.target = http::parse_url(endpoint, cfg.provider + " endpoint");
        req.timeout = cfg.timeout;
        req.connect_timeout = cfg.connect_timeout;
        req.headers.emplace_back("Content-Type", "application/json");
        req.headers.emplace_back("Accept", "application/json");
        if (!cfg.api_key.empty()) req.headers.emplace_back("Authorization", "Bearer " + cfg.api_key);
        req.body = make_body(texts);
        std::string last;
        for (int attempt = 0; attempt < cfg.max_attempts; ++attempt) {
            if (attempt) {
                std::lock_guard<std::mutex> lock(mu);
                ++counters.retries;
            }
            {
                std::lock_guard<std::mutex> lock(mu);
                ++counters.requests;
            }
            http::response res;
            http::transport_error terr;
            double retry_after = -1;
            if (!client.send(req, res, terr)) {
                last = terr.message;
                if (terr.kind == http::failure::tls || terr.kind == http::failure::protocol)
                    fail("embedding request failed: " + last);
            } else if (res.status >= 200 && res.status < 300) {
                parse(res.body, texts.size(), out);  // the first response fixes the dimension
                return;
            } else if (res.status == 429 || (res.status >= 500 && res.status != 501 && res.status != 505)) {
                last = "HTTP " + std::to_string(res.status) + ": " + provider_message(res.body);
                retry_after = retry_after_seconds(res.header("retry-after"));
            } else {
                fail("embedding provider " + cfg.provider + " (" + endpoint + ") rejected the request with HTTP " +
                     std::to_string(res.status) + ": " + provider_message(res.body));
            }
            if (attempt + 1 < cfg.max_attempts) std::this_thread::sleep_for(backoff(attempt, retry_after));
        }
        fail("embedding provider " + cfg.provider + " (" + endpoint + ") failed after " + std::to_string(cfg.max_attempts) +
             " attempts; last: " + last);
    }
};

provider_embedder::provider_embedder(provider_config cfg) : p_(std::make_unique<impl>()) {
    cfg.validate();
    p_->cfg = std::move(cfg);
    const auto& c = p_->cfg;
    p_->endpoint = c.provider == "ollama" ? c.base_url + "/api/embed" : c.base_url + "/embeddings";
    p_->batch = c.batch_size     ? c.batch_size
        : c.provider == "openai" ? 256
        : c.provider == "voyage" ? 128
        : c.provider == "ollama" ? 64
                                 : 32;
}

provider_embedder::~provider_embedder() = default;

identity provider_embedder::id() const {
    identity i;
    i.provider = p_->cfg.provider;
    i.model = p_->cfg.model;
    std::lock_guard<std::mutex> lock(p_->mu);
    i.dimension = p_->dimension;
    i.normalized = false;  // not known for external models; memvid treats the key as optional
    return i;
}

provider_embedder::stats provider_embedder::counters() const {
    std::lock_guard<std::mutex> lock(p_->mu);
    return p_->counters;
}

embed_report provider_embedder::report() const {
    std::lock_guard<std::mutex> lock(p_->mu);
    embed_report r;
    r.backend = "http";
    r.device = p_->cfg.provider + " " + p_->endpoint;
    r.precision = "fp32";
    r.texts = p_->counters.texts;
    return r;
}

void provider_embedder::embed(std::span<const std::string> texts, std::vector<float>& out) {
    const std::size_t n = texts.size();
    if (n == 0) return;
    auto& P = *p_;
    const std::size_t per = P.ollama_legacy ? 1 : P.batch;
    const std::size_t batches = (n + per - 1) / per;
    std::vector<std::vector<float>> results(batches);
    std::atomic<std::size_t> next{0};
    std::atomic<bool> stop{false};
    std::exception_ptr first_error;
    std::mutex err_mu;
    auto worker = [&] {
        http::client client;
        for (;;) {
            const std::size_t b = next.fetch_add(1);
            if (b >= batches || stop.load()) return;
            const std::size_t lo = b * per, hi = std::min(n, lo + per);
            try {
                P.call(client, texts.subspan(lo, hi - lo), results[b]);
            } catch (...) {
                std::lock_guard<std::mutex> lock(err_mu);
                if (!first_error) first_error = std::current_exception();
                stop = true;
                return;
            }
        }
    };
    // The first batch alone: it fixes the dimension (and finds out whether an
    // Ollama server has the batch endpoint) before requests fan out.
    {
        http::client client;
        const std::size_t hi = std::min(n, per);
        try {
            P.call(client, texts.subspan(0, hi), results[0]);
        } catch (const error& e) {
            if (P.cfg.provider == "ollama" && !P.ollama_legacy && std::string(e.what()).find("HTTP 404") != std::string::npos) {
                // An older Ollama: one /api/embeddings call per text.
                P.ollama_legacy = true;
                P.endpoint = P.cfg.base_url + "/api/embeddings";
                return embed(texts, out);
            }
            throw;
        }
        next = 1;
    }
    std::vector<std::thread> pool;
    const std::size_t threads = std::min<std::size_t>(P.cfg.concurrency, batches - 1);
    for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
    if (first_error) std::rethrow_exception(first_error);
    for (const auto& r : results) out.insert(out.end(), r.begin(), r.end());
    std::lock_guard<std::mutex> lock(P.mu);
    P.counters.texts += n;
}

}  // namespace mvx::providers
