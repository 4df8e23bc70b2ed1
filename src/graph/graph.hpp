// A directed neighbour graph stored grouped by destination atom (CSR), because attention
// normalises over the edges that arrive at an atom. Edge e goes from src[e] to dst[e] and carries
// vec[e] = r_dst - (r_src + image[e] · h), the displacement to the periodic image of the source.
#pragma once

#include <cstdint>
#include <vector>

#include "core/buffer.hpp"

namespace symgnn {

// Periodic image of the source atom, in lattice vectors, relative to positions wrapped into the
// cell. Small boxes may hold the same (src, dst) pair several times with different images.
struct Image {
  std::int8_t a, b, c;  // no initialisers, so Buffer<Image> skips zero-filling; Image{} is 0
  friend bool operator==(const Image&, const Image&) = default;
  Image operator-() const {
    return {static_cast<std::int8_t>(-a), static_cast<std::int8_t>(-b),
            static_cast<std::int8_t>(-c)};
  }
};

// The largest image component a graph holds: image_code packs each into 5 bits.
inline constexpr int kMaxImage = 15;

// A 15-bit code of an image (each component in [-kMaxImage, kMaxImage]), part of an edge's
// identity.
inline std::uint16_t image_code(const Image& n) {
  return static_cast<std::uint16_t>((n.a + 16) | ((n.b + 16) << 5) | ((n.c + 16) << 10));
}
// The image whose image_code is `code`.
inline Image image_from_code(std::uint16_t code) {
  auto component = [code](int k) {
    return static_cast<std::int8_t>(((code >> (5 * k)) & 31) - 16);
  };
  return {component(0), component(1), component(2)};
}

struct Graph {
  std::int64_t num_atoms = 0;
  std::vector<std::int64_t>
      offsets;  // num_atoms + 1: edges into atom j are [offsets[j], offsets[j+1])
  Buffer<std::int32_t> src;
  Buffer<std::int32_t> dst;
  Buffer<Image> image;
  Buffer<float> vec;  // 3 per edge, Å; float32, the model's precision (selection is in double)

  std::int64_t num_edges() const { return static_cast<std::int64_t>(src.size()); }
  std::int64_t in_degree(std::int64_t j) const { return offsets[j + 1] - offsets[j]; }
};

// reverse[e] is the edge (dst[e] -> src[e]) with the opposite image, whose vector is -vec[e]. Since
// every edge has its reverse, this also lists each atom's outgoing edges: the reverses of its
// incoming ones. Throws Error if some edge has no reverse (a graph not built by build_graph).
Buffer<std::int64_t> reverse_edges(const Graph& g);

struct DegreeStats {
  std::int64_t min = 0, max = 0;
  double mean = 0, stddev = 0;
  std::int64_t self_edges = 0;  // src == dst with image 0
};
DegreeStats degree_stats(const Graph& g);

}  // namespace symgnn
