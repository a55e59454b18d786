#pragma once

// Certificates for the integration tests, made by the openssl CLI: self-signed
// ones, and a small CA that signs server certificates (with subjectAltNames)
// and client certificates. Main thread only (they start processes).

#include <filesystem>
#include <string>
#include <vector>

namespace grpc_ingress::testing {

struct TestCertificate {
  std::string cert_pem, key_pem;
  std::filesystem::path cert_file, key_file;
};

// A self-signed certificate for `host` (its own root). Throws
// std::runtime_error with openssl's stderr if it cannot be made.
TestCertificate make_certificate(const std::filesystem::path& dir, const std::string& host);

// A certificate authority in `dir`: a self-signed root that signs leaves.
class TestCa {
 public:
  // Throws std::runtime_error with openssl's stderr if it cannot be made.
  TestCa(const std::filesystem::path& dir, const std::string& name);

  const TestCertificate& root() const { return root_; }

  // A server certificate (serverAuth) for `dns_names` (the first is also the
  // CN) and `ips`, all in subjectAltName.
  TestCertificate issue_server(const std::vector<std::string>& dns_names, const std::vector<std::string>& ips = {});
  // A client certificate (clientAuth) with CN `name`.
  TestCertificate issue_client(const std::string& name);

 private:
  TestCertificate issue(const std::string& common_name, const std::string& extensions);

  std::filesystem::path dir_;
  std::string name_;
  TestCertificate root_;
  int issued_ = 0;
};

// A pod's TLS flags: --tls-cert and --tls-key of `server`, and --client-ca
// (client certificates required) when `client_ca` is not empty. For test-pod
// and http-pod alike.
std::vector<std::string> pod_tls_args(const TestCertificate& server, const std::filesystem::path& client_ca = {});

}  // namespace grpc_ingress::testing
