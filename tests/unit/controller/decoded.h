#pragma once

// Helpers of the decoder tests: JSON in, the decoded object or its reason out.

#include "controller/object_decoder.h"

#include <catch2/catch.hpp>

#include <optional>
#include <string>

namespace grpc_ingress::testing {

inline nlohmann::json parse(const std::string& text) { return nlohmann::json::parse(text); }

// Why the decoder refused `object` (it must have).
inline std::string reason_of(const std::optional<Object>& object) {
  REQUIRE(object.has_value());
  REQUIRE(std::holds_alternative<InvalidObject>(*object));
  return std::get<InvalidObject>(*object).reason;
}

}  // namespace grpc_ingress::testing
