#pragma once

#include "common/result.h"
#include "common/tls_settings.h"

#include <chrono>
#include <string>

namespace grpc_ingress {

// What a loaded certificate says about itself, for logs and /debug.
struct CertificateInfo {
  std::string subject;                           // the leaf's subject, one line
  std::chrono::system_clock::time_point not_after;
};

// Parses a PEM chain and key the way the TLS listener loads them: the chain
// has at least one certificate, the key is a private key that matches the
// leaf. Safe on any thread.
Result<CertificateInfo> check_certificate(const std::string& cert_pem, const std::string& key_pem);

// notAfter of the first certificate of a PEM chain. Safe on any thread.
Result<std::chrono::system_clock::time_point> certificate_not_after(const std::string& cert_pem);

// The reason OpenSSL gave last, and an empty error queue afterwards.
std::string openssl_reason();

// Checks that `ca_pem` holds one or more PEM certificates, all parsing, as
// trust roots for verifying pods; returns how many. Safe on any thread.
Result<size_t> check_ca_bundle(const std::string& ca_pem);

// A new self-signed certificate (EC P-256, SHA-256, valid a year) for
// `common_name`, also its only DNS name. For the default certificate when
// --default-ssl-certificate is not given, and for tests.
Result<TlsCertificate> make_self_signed_certificate(const std::string& common_name);

}  // namespace grpc_ingress
