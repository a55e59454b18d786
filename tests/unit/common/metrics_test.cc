#include "common/metrics.h"

#include <catch2/catch.hpp>

using namespace grpc_ingress;

TEST_CASE("metric families print HELP and TYPE once, then their samples", "[metrics]") {
  MetricsWriter out;
  out.family("grpc_ingress_x_total", "counter", "Things.");
  out.sample("grpc_ingress_x_total", {{"service", "greeter"}, {"code", "0"}}, 3);
  out.sample("grpc_ingress_x_total", 0.25);
  CHECK(out.text() ==
        "# HELP grpc_ingress_x_total Things.\n"
        "# TYPE grpc_ingress_x_total counter\n"
        "grpc_ingress_x_total{service=\"greeter\",code=\"0\"} 3\n"
        "grpc_ingress_x_total 0.25\n");
}

TEST_CASE("label values escape backslash, quote and newline", "[metrics]") {
  CHECK(escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  MetricsWriter out;
  out.sample("m", {{"reason", "service \"x\" not found"}}, 1);
  CHECK(out.text() == "m{reason=\"service \\\"x\\\" not found\"} 1\n");
}

TEST_CASE("large and fractional sample values keep every significant digit", "[metrics]") {
  MetricsWriter out;
  out.sample("t", 1795462806.8637022);
  out.sample("r", 0.1);
  CHECK(out.text() == "t 1795462806.8637023\nr 0.1\n");  // the double nearest the input
}
