// The memvid .mv2 file, as this project writes it (target reader: memvid
// core 2.0.139 / CLI 2.0.140; docs/mv2-format.md describes it field by field).
//
//   [0, 4096)              header: "MV2\0", u16 version 0x0201, u8 2, u8 1,
//                          u64 footer_offset (= TOC start), u64 wal_offset
//                          (4096), u64 wal_size, u64 checkpoint 0,
//                          u64 wal_sequence 0, [32] toc_checksum, zeros
//   [4096, 4096+wal_size)  embedded WAL, all zero (no pending records)
//   payloads               one blob per frame (UTF-8 text, raw or one zstd
//                          frame), back to back, never overlapping
//   time index             "MVTI" | u64 n | n x (i64 timestamp, u64 frame_id)
//   vector index           bincode Vec<VecDocument{u64 frame_id, Vec<f32>}>
//   lexical index          bincode Vec<LexDocument> (native fallback)
//   TOC                    bincode Toc (current layout), last field
//                          toc_checksum = BLAKE3(TOC with that field zeroed)
//   footer (56 bytes)      "MV2FOOT!" | u64 toc_len | BLAKE3(TOC) | u64 gen
//
// Encoding: bincode 2 via serde, fixed-width little-endian integers; String
// and Vec = u64 length + items; Option = u8 tag (0/1) + value; unit enums =
// u32 index; [u8;32] raw; structs = fields in declaration order; maps sorted
// by key bytes with unique keys (the reader re-encodes the TOC to check its
// checksum, so anything non-canonical makes the file unreadable).
// All hashes are BLAKE3-256. Limits the reader enforces: ≤ 1,000,000 frames
// for writable opens, ≤ 512 MiB per index blob and for TOC+footer,
// ≤ 256 MiB per payload, per frame ≤ 1024 tags/labels, ≤ 4096 extra keys.
#pragma once

#include <cstdint>
#include <string_view>

namespace mvx::mv2 {

inline constexpr std::uint64_t k_header_size = 4096;
inline constexpr std::uint64_t k_default_wal_size = 65536;
inline constexpr char k_magic[4] = {'M', 'V', '2', '\0'};
inline constexpr std::uint16_t k_version = 0x0201;
inline constexpr std::uint8_t k_spec_major = 2, k_spec_minor = 1;
inline constexpr std::string_view k_footer_magic = "MV2FOOT!";
inline constexpr std::uint64_t k_footer_size = 56;
inline constexpr std::string_view k_time_magic = "MVTI";
inline constexpr std::uint64_t k_max_index_blob = 512ull << 20;
inline constexpr std::uint64_t k_max_payload = 256ull << 20;
inline constexpr std::uint64_t k_max_frames = 1'000'000;
inline constexpr std::uint64_t k_max_tags = 1024, k_max_extra = 4096;
inline constexpr std::uint64_t k_default_capacity = 52'428'800;

// Frame enums (u32 on the wire).
enum class anchor_source : std::uint32_t { explicit_ = 0, frame_timestamp = 1, metadata = 2, ingestion_clock = 3 };
enum class encoding : std::uint32_t { plain = 0, zstd = 1 };
enum class enrichment : std::uint32_t { searchable = 0, enriched = 1 };

}  // namespace mvx::mv2
