#include "common/tls_certificate.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include <optional>

namespace grpc_ingress {
namespace {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;

BioPtr read_only(const std::string& text) { return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))); }

std::string pem_of(int (*write)(BIO*, void*), void* object) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get(), object) != 1) return "";
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

}  // namespace

std::string openssl_reason() {
  unsigned long code = ERR_peek_last_error();
  const char* text = code ? ERR_reason_error_string(code) : nullptr;
  std::string reason = text ? text : "unknown error";
  ERR_clear_error();
  return reason;
}

Result<size_t> check_ca_bundle(const std::string& ca_pem) {
  ERR_clear_error();
  BioPtr bio = read_only(ca_pem);
  size_t count = 0;
  while (X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))) ++count;
  unsigned long end = ERR_peek_last_error();
  if (end && !(ERR_GET_LIB(end) == ERR_LIB_PEM && ERR_GET_REASON(end) == PEM_R_NO_START_LINE)) {
    return Error{"ca.crt has a certificate that does not parse (" + openssl_reason() + ")"};
  }
  ERR_clear_error();
  if (count == 0) return Error{"ca.crt holds no PEM certificate"};
  return count;
}

namespace {
std::optional<std::chrono::system_clock::time_point> not_after_of(X509* leaf) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) != 1) return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}
}  // namespace

Result<std::chrono::system_clock::time_point> certificate_not_after(const std::string& cert_pem) {
  ERR_clear_error();
  BioPtr bio = read_only(cert_pem);
  X509Ptr leaf(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!leaf) return Error{"no PEM certificate (" + openssl_reason() + ")"};
  ERR_clear_error();  // the rest of the chain is not read
  auto not_after = not_after_of(leaf.get());
  if (!not_after) return Error{"notAfter does not parse"};
  return *not_after;
}

Result<CertificateInfo> check_certificate(const std::string& cert_pem, const std::string& key_pem) {
  ERR_clear_error();
  BioPtr cert_bio = read_only(cert_pem);
  X509Ptr leaf(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!leaf) return Error{"tls.crt holds no PEM certificate (" + openssl_reason() + ")"};
  // The rest of the chain must parse too; the end of the input is the only
  // acceptable failure.
  while (X509Ptr(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr))) {
  }
  unsigned long end = ERR_peek_last_error();
  if (end && !(ERR_GET_LIB(end) == ERR_LIB_PEM && ERR_GET_REASON(end) == PEM_R_NO_START_LINE)) {
    return Error{"tls.crt has a certificate that does not parse (" + openssl_reason() + ")"};
  }
  ERR_clear_error();

  BioPtr key_bio = read_only(key_pem);
  KeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Error{"tls.key holds no unencrypted PEM private key (" + openssl_reason() + ")"};
  if (X509_check_private_key(leaf.get(), key.get()) != 1) {
    ERR_clear_error();
    return Error{"tls.key does not match the first certificate in tls.crt"};
  }

  CertificateInfo info;
  char subject[256];
  X509_NAME_oneline(X509_get_subject_name(leaf.get()), subject, sizeof(subject));
  info.subject = subject;
  if (auto not_after = not_after_of(leaf.get())) info.not_after = *not_after;
  return info;
}

Result<TlsCertificate> make_self_signed_certificate(const std::string& common_name) {
  ERR_clear_error();
  KeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr cert(X509_new());
  if (!key || !cert) return Error{"cannot create a key pair: " + openssl_reason()};
  uint64_t serial = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof(serial));
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial >> 1);  // positive
  X509_set_version(cert.get(), 2);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // some clock skew
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, cert.get(), cert.get(), nullptr, nullptr, 0);
  std::string san = "DNS:" + common_name;
  ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, &context, NID_subject_alt_name, san.c_str()));
  if (!extension || X509_add_ext(cert.get(), extension.get(), -1) != 1 ||
      X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return Error{"cannot sign the self-signed certificate: " + openssl_reason()};
  }
  TlsCertificate out;
  out.secret = "self-signed";
  out.cert_pem = pem_of([](BIO* bio, void* x) { return PEM_write_bio_X509(bio, static_cast<X509*>(x)); }, cert.get());
  out.key_pem = pem_of(
      [](BIO* bio, void* k) {
        return PEM_write_bio_PrivateKey(bio, static_cast<EVP_PKEY*>(k), nullptr, nullptr, 0, nullptr, nullptr);
      },
      key.get());
  if (out.cert_pem.empty() || out.key_pem.empty()) return Error{"cannot write the self-signed certificate as PEM"};
  return out;
}

}  // namespace grpc_ingress
