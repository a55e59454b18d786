#include "tests/integration/test_certificates.h"

#include "tests/integration/process.h"

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace grpc_ingress::testing {
namespace {

constexpr const char* kOpenssl = "/usr/bin/openssl";
constexpr auto kOpensslTimeout = 10s;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Runs openssl with `args` (logs <dir>/<log_name>.*); throws with its stderr if it fails.
void openssl(const std::filesystem::path& dir, const std::string& log_name, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kOpenssl};
  argv.insert(argv.end(), args.begin(), args.end());
  auto process = Process::start(argv, dir, log_name);
  if (!process->wait_exit(kOpensslTimeout)) {
    process->stop(1s);
    throw std::runtime_error("openssl " + args.front() + " did not finish within 10 s");
  }
  if (process->exit_status() != 0) {
    throw std::runtime_error("openssl " + args.front() + " failed: " + process->stderr_text());
  }
}

// Unique file names across every certificate a test makes in one directory.
std::string next_base(const std::string& prefix) {
  static int made = 0;
  return prefix + "-" + std::to_string(++made);
}

const std::vector<std::string> kNewP256Key = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"};

}  // namespace

TestCertificate make_certificate(const std::filesystem::path& dir, const std::string& host) {
  std::string base = next_base("cert");
  auto key = dir / (base + ".key"), cert = dir / (base + ".crt");
  std::vector<std::string> args = {"req", "-x509"};
  args.insert(args.end(), kNewP256Key.begin(), kNewP256Key.end());
  args.insert(args.end(), {"-keyout", key.string(), "-out", cert.string(), "-days", "2", "-subj", "/CN=" + host,
                           "-addext", "subjectAltName=DNS:" + host});
  openssl(dir, base, args);
  return {read_text(cert), read_text(key), cert, key};
}

TestCa::TestCa(const std::filesystem::path& dir, const std::string& name) : dir_(dir), name_(name) {
  std::string base = next_base("ca-" + name);
  auto key = dir / (base + ".key"), cert = dir / (base + ".crt");
  std::vector<std::string> args = {"req", "-x509"};
  args.insert(args.end(), kNewP256Key.begin(), kNewP256Key.end());
  args.insert(args.end(), {"-keyout", key.string(), "-out", cert.string(), "-days", "2", "-subj", "/CN=" + name,
                           "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                           "keyUsage=critical,keyCertSign,cRLSign"});
  openssl(dir, base, args);
  root_ = {read_text(cert), read_text(key), cert, key};
}

TestCertificate TestCa::issue_server(const std::vector<std::string>& dns_names, const std::vector<std::string>& ips) {
  if (dns_names.empty()) throw std::invalid_argument("issue_server: at least one DNS name");
  std::string names;
  for (const std::string& dns : dns_names) names += (names.empty() ? "DNS:" : ",DNS:") + dns;
  for (const std::string& ip : ips) names += ",IP:" + ip;
  return issue(dns_names.front(), "subjectAltName=" + names + "\nextendedKeyUsage=serverAuth\n");
}

TestCertificate TestCa::issue_client(const std::string& name) {
  return issue(name, "extendedKeyUsage=clientAuth\n");
}

TestCertificate TestCa::issue(const std::string& common_name, const std::string& extensions) {
  std::string base = next_base(name_ + "-leaf");
  auto key = dir_ / (base + ".key"), csr = dir_ / (base + ".csr"), cert = dir_ / (base + ".crt");
  auto extfile = dir_ / (base + ".ext");
  std::ofstream(extfile) << "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n" << extensions;
  std::vector<std::string> request = {"req", "-new"};
  request.insert(request.end(), kNewP256Key.begin(), kNewP256Key.end());
  request.insert(request.end(), {"-keyout", key.string(), "-out", csr.string(), "-subj", "/CN=" + common_name});
  openssl(dir_, base + "-req", request);
  openssl(dir_, base + "-sign",
          {"x509", "-req", "-in", csr.string(), "-CA", root_.cert_file.string(), "-CAkey", root_.key_file.string(),
           "-set_serial", std::to_string(++issued_ + 1000), "-days", "2", "-extfile", extfile.string(), "-out",
           cert.string()});
  return {read_text(cert), read_text(key), cert, key};
}

std::vector<std::string> pod_tls_args(const TestCertificate& server, const std::filesystem::path& client_ca) {
  std::vector<std::string> args = {"--tls-cert", server.cert_file.string(), "--tls-key", server.key_file.string()};
  if (!client_ca.empty()) args.insert(args.end(), {"--client-ca", client_ca.string()});
  return args;
}

}  // namespace grpc_ingress::testing
