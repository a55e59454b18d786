#pragma once

#include "common/route_table.h"
#include "controller/rejection.h"
#include "controller/store.h"
#include "controller/tls_translator.h"

#include <string>
#include <vector>

namespace grpc_ingress {

struct TranslatorOptions {
  std::string ingress_class = "grpc";
  std::string controller_name = "grpc-ingress.io/controller";
  std::string watch_namespace{};  // empty = all
  TlsTranslatorOptions tls{};     // certificates, default certificate, redirect port
};

struct Translation {
  RouteTable table;  // version 0: the publisher numbers what it publishes
  std::vector<Rejection> rejections;  // in a stable order, without duplicates
  // The Ingresses of our class in the watched namespaces, routed or not, in key
  // order: the ones whose status the leader writes.
  std::vector<ObjectKey> served_ingresses;
};

// Store -> RouteTable, by the networking.k8s.io/v1 Ingress rules: class
// selection, host and path matching, merging (the oldest Ingress wins a
// conflict), Service port resolution and endpoint selection. Pure and
// deterministic: the same store gives the same translation.
Translation translate(const Store& store, const TranslatorOptions& options);

}  // namespace grpc_ingress
