#pragma once

#include "common/route_table.h"
#include "controller/translate/rejection.h"
#include "controller/translate/store.h"
#include "controller/translate/tls_translator.h"

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
// conflict), Service port resolution and endpoint selection. Deterministic:
// the same arguments give the same translation; `tls` carries what it keeps
// from the translations before (the running certificates, remembered checks).
Translation translate(const Store& store, const TranslatorOptions& options, const TlsHistory& tls = {});

}  // namespace grpc_ingress
