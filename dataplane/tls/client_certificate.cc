#include "dataplane/tls/client_certificate.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

namespace grpc_ingress {
namespace {

// Bounds on what a client's certificate may put into headers toward the pod.
constexpr size_t kMaxNameBytes = 4096;
constexpr size_t kMaxPemBytes = 32 * 1024;

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* x509) const { X509_free(x509); }
};

std::string bio_text(BIO* bio, size_t limit) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  if (size <= 0 || !data || static_cast<size_t>(size) > limit) return {};
  return std::string(data, static_cast<size_t>(size));
}

// RFC 2253 text of `name` (nginx's $ssl_client_s_dn since 1.11.6); "" if too long.
std::string rfc2253(const X509_NAME* name) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || !name || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
  std::string text = bio_text(bio.get(), kMaxNameBytes);
  // Header values may not hold control bytes: a hostile certificate's name must not split headers.
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return text;
}

}  // namespace

std::string escape_uri_component(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    bool keep = (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') || (byte >= '0' && byte <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '~' || c == '!' || c == '\'' || c == '(' || c == ')' ||
                c == '*';
    if (keep) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  return out;
}

ClientCertificate client_certificate_of(SSL* ssl) {
  ClientCertificate out;
  std::unique_ptr<X509, X509Free> leaf(SSL_get1_peer_certificate(ssl));
  if (!leaf) return out;
  out.presented = true;
  if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) {
    out.server_name = name;
    if (out.server_name.ends_with('.')) out.server_name.pop_back();
    for (char& c : out.server_name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
  }
  long result = SSL_get_verify_result(ssl);
  out.verified = result == X509_V_OK;
  if (!out.verified) out.verify_error = X509_verify_cert_error_string(result);
  out.verify_header = out.verified ? "SUCCESS" : "FAILED:" + out.verify_error;
  out.subject = rfc2253(X509_get_subject_name(leaf.get()));
  out.issuer = rfc2253(X509_get_issuer_name(leaf.get()));
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (bio && PEM_write_bio_X509(bio.get(), leaf.get()) == 1) {
    out.escaped_pem = escape_uri_component(bio_text(bio.get(), kMaxPemBytes));
  }
  ERR_clear_error();
  return out;
}

}  // namespace grpc_ingress
