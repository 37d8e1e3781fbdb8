// The embedding providers the project knows, in one table: their names and
// aliases, the model used when none is given, and the default base URL. The
// worker, the control plane (which passes provider and model on in each job)
// and the provider client all read it; header-only, no dependencies.
#pragma once

#include <array>
#include <cctype>
#include <string>
#include <string_view>

namespace mvx::providers {

struct provider_info {
    std::string_view name;  // canonical: nvidia | openai | voyage | ollama | native
    std::string_view alias;  // also accepted ("" when none)
    std::string_view default_model;  // "" for native (a model folder is required)
    std::string_view default_base_url;
    std::string_view key_variable;  // the API key's environment variable ("" when none)
    std::string_view base_url_variable;
};

inline constexpr std::array<provider_info, 5> k_providers{{
    {"nvidia", "", "nvidia/nv-embed-v1", "https://integrate.api.nvidia.com/v1", "NVIDIA_API_KEY", "NVIDIA_EMBED_BASE_URL"},
    {"openai", "", "text-embedding-3-large", "https://api.openai.com/v1", "OPENAI_API_KEY", "OPENAI_EMBED_BASE_URL"},
    {"voyage", "voyageai", "voyage-code-3", "https://api.voyageai.com/v1", "VOYAGE_API_KEY", "VOYAGE_EMBED_BASE_URL"},
    {"ollama", "local", "nomic-embed-text", "", "", "OLLAMA_HOST"},
    {"native", "", "", "", "", ""},
}};

// The provider's default when MEMVID_EMBED_PROVIDER is unset.
inline constexpr std::string_view k_default_provider = "nvidia";
// What to write in "Supported: ..." messages.
inline constexpr std::string_view k_supported = "nvidia, openai, voyage/voyageai, ollama/local, native";

// The entry for a name or alias (any case), or nullptr.
inline const provider_info* find_provider(std::string_view name) {
    std::string n(name);
    for (auto& c : n) c = char(std::tolower(static_cast<unsigned char>(c)));
    for (const auto& p : k_providers)
        if (n == p.name || (!p.alias.empty() && n == p.alias)) return &p;
    return nullptr;
}

// The canonical name, or "" when unknown.
inline std::string canonical_provider(std::string_view name) {
    const auto* p = find_provider(name);
    return p ? std::string(p->name) : std::string();
}

// The default model of a provider (canonical name or alias); the nvidia default when unknown.
inline std::string default_model(std::string_view provider) {
    const auto* p = find_provider(provider);
    return std::string(p ? p->default_model : k_providers[0].default_model);
}

}  // namespace mvx::providers
