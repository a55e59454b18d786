// Client certificates at the TLS port: a host with a ClientAuthority asks for
// one (naming its CAs) and records the verification without failing the
// handshake; a host without asks nothing; sessions do not carry a
// verification from one authority to another. Real handshakes over memory BIOs.

#include "dataplane/tls/server_tls.h"

#include "common/tls_certificate.h"
#include "dataplane/tls/client_certificate.h"

#include <catch2/catch.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>

using namespace grpc_ingress;

namespace {

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertFree {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct CtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SessionFree {
  void operator()(SSL_SESSION* session) const { SSL_SESSION_free(session); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;
using Ssl = std::unique_ptr<SSL, SslFree>;
using Ctx = std::unique_ptr<SSL_CTX, CtxFree>;
using Session = std::unique_ptr<SSL_SESSION, SessionFree>;

std::string pem_of(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(size));
  BIO_free(bio);
  return out;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) throw std::runtime_error("extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A key and a certificate for CN `name`, signed by `issuer` (self-signed when null).
struct Identity {
  Key key;
  Cert cert;
  std::string cert_pem() const { return pem_of(cert.get()); }
  std::string key_pem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long size = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(size));
    BIO_free(bio);
    return out;
  }
};

Identity make_identity(const std::string& name, const Identity* issuer, bool ca) {
  Identity out{Key(EVP_EC_gen("P-256")), Cert(X509_new())};
  static long serial = 1;
  X509_set_version(out.cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(out.cert.get()), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(out.cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(out.cert.get()), 86400);
  X509_set_pubkey(out.cert.get(), out.key.get());
  X509_NAME* subject = X509_get_subject_name(out.cert.get());
  X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Tests, Inc."), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(name.c_str()), -1,
                             -1, 0);
  X509* signer = issuer ? issuer->cert.get() : out.cert.get();
  X509_set_issuer_name(out.cert.get(), X509_get_subject_name(signer));
  if (ca) {
    add_extension(out.cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(out.cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(out.cert.get(), signer, NID_ext_key_usage, "clientAuth,serverAuth");
  }
  X509_sign(out.cert.get(), issuer ? issuer->key.get() : out.key.get(), EVP_sha256());
  return out;
}

struct Pki {
  Identity ca_a = make_identity("ca-a", nullptr, true);
  Identity ca_b = make_identity("ca-b", nullptr, true);
  Identity client_a = make_identity("client-a", &ca_a, false);
  Identity client_b = make_identity("client-b", &ca_b, false);
  Identity self_signed = make_identity("self", nullptr, false);
};
const Pki& pki() {
  static const Pki keys;
  return keys;
}

const TlsCertificate& server_certificate() {
  static const TlsCertificate cert = *make_self_signed_certificate("server.example");
  return cert;
}
const TlsCertificate& fallback() {
  static const TlsCertificate cert = *make_self_signed_certificate("grpc-ingress.invalid");
  return cert;
}

// mtls.example and *.wild.example ask for certificates of CA A, other.example
// of CA B, broken.example with an unusable (empty) CA; open.example asks none.
std::shared_ptr<const ServerTlsContexts> contexts(ClientCertMode mode = ClientCertMode::kOn) {
  TlsSettings settings;
  for (const char* host : {"mtls.example", "open.example", "other.example", "*.wild.example"}) {
    settings.certificates[host] = server_certificate();
  }
  settings.client_authorities["mtls.example"] = {"default/ca-a", pki().ca_a.cert_pem(), mode, 1};
  settings.client_authorities["*.wild.example"] = {"default/ca-a", pki().ca_a.cert_pem(), mode, 1};
  settings.client_authorities["other.example"] = {"default/ca-b", pki().ca_b.cert_pem(), mode, 1};
  // No certificate of its own: asks with the default one.
  settings.client_authorities["broken.example"] = {"default/missing", "", mode, 1};
  auto built = ServerTlsContexts::build(settings, fallback());
  REQUIRE(built);
  return *built;
}

struct Handshake {
  Ssl server, client;
  bool done = false;
  ClientCertificate certificate;
  bool asked = false;        // the server's SSL asks (SSL_VERIFY_PEER)
  size_t ca_names_sent = 0;  // CA names the client saw in the CertificateRequest
};

// A handshake between a client (SNI `host`, with `identity` if any) and the
// server side of `contexts`, over a BIO pair; `session` offered for resumption.
Handshake handshake(const ServerTlsContexts& server_contexts, const std::string& host, const Identity* identity,
                    SSL_SESSION* session = nullptr, Session* new_session = nullptr) {
  Ctx client_ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (identity) {
    REQUIRE(SSL_CTX_use_certificate(client_ctx.get(), identity->cert.get()) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey(client_ctx.get(), identity->key.get()) == 1);
  }
  Handshake out;
  out.server.reset(SSL_new(server_contexts.initial().native_handle()));
  out.client.reset(SSL_new(client_ctx.get()));
  SSL_set_tlsext_host_name(out.client.get(), host.c_str());
  if (session) SSL_set_session(out.client.get(), session);
  BIO *server_bio = nullptr, *client_bio = nullptr;
  BIO_new_bio_pair(&server_bio, 0, &client_bio, 0);
  SSL_set_bio(out.server.get(), server_bio, server_bio);
  SSL_set_bio(out.client.get(), client_bio, client_bio);
  SSL_set_accept_state(out.server.get());
  SSL_set_connect_state(out.client.get());
  bool server_done = false, client_done = false;
  for (int round = 0; round < 50 && !(server_done && client_done); ++round) {
    if (!client_done) {
      int rc = SSL_do_handshake(out.client.get());
      if (rc == 1) client_done = true;
      else if (SSL_get_error(out.client.get(), rc) != SSL_ERROR_WANT_READ) break;
    }
    if (!server_done) {
      int rc = SSL_do_handshake(out.server.get());
      if (rc == 1) server_done = true;
      else if (SSL_get_error(out.server.get(), rc) != SSL_ERROR_WANT_READ) break;
    }
  }
  out.done = server_done && client_done;
  if (!out.done) return out;
  // The client reads the server's session tickets (TLS 1.3 sends them after the handshake).
  char byte;
  SSL_write(out.server.get(), "x", 1);
  SSL_read(out.client.get(), &byte, 1);
  if (new_session) new_session->reset(SSL_get1_session(out.client.get()));
  out.asked = SSL_get_verify_mode(out.server.get()) & SSL_VERIFY_PEER;
  if (out.asked) out.certificate = client_certificate_of(out.server.get());
  if (STACK_OF(X509_NAME)* names = SSL_get_client_CA_list(out.client.get())) {
    out.ca_names_sent = static_cast<size_t>(sk_X509_NAME_num(names));
  }
  return out;
}

}  // namespace

TEST_CASE("a host with a client authority asks for a certificate and records that its CA verified it") {
  auto server = contexts();
  Handshake verified = handshake(*server, "mtls.example", &pki().client_a);
  REQUIRE(verified.done);
  CHECK(verified.asked);
  CHECK(verified.ca_names_sent == 1);  // the CertificateRequest names CA A
  CHECK(verified.certificate.presented);
  CHECK(verified.certificate.verified);
  CHECK(verified.certificate.verify_error.empty());
  CHECK(verified.certificate.verify_header == "SUCCESS");
  CHECK(verified.certificate.subject == "CN=client-a,O=Tests\\, Inc.");
  CHECK(verified.certificate.issuer == "CN=ca-a,O=Tests\\, Inc.");
  CHECK(verified.certificate.escaped_pem.starts_with("-----BEGIN%20CERTIFICATE-----%0A"));
  CHECK(verified.certificate.escaped_pem.ends_with("-----END%20CERTIFICATE-----%0A"));
  CHECK(verified.certificate.escaped_pem.find('/') == std::string::npos);

  // The one-label wildcard host asks the same.
  Handshake wildcard = handshake(*server, "x.wild.example", &pki().client_a);
  REQUIRE(wildcard.done);
  CHECK(wildcard.certificate.verified);
}

TEST_CASE("no certificate, or one another CA signed, still completes the handshake and is recorded as such") {
  auto server = contexts();
  Handshake none = handshake(*server, "mtls.example", nullptr);
  REQUIRE(none.done);
  CHECK(none.asked);
  CHECK_FALSE(none.certificate.presented);
  CHECK_FALSE(none.certificate.verified);

  Handshake wrong_ca = handshake(*server, "mtls.example", &pki().client_b);
  REQUIRE(wrong_ca.done);
  CHECK(wrong_ca.certificate.presented);
  CHECK_FALSE(wrong_ca.certificate.verified);
  CHECK_FALSE(wrong_ca.certificate.verify_error.empty());
  CHECK(wrong_ca.certificate.verify_header == "FAILED:" + wrong_ca.certificate.verify_error);
  CHECK(wrong_ca.certificate.subject == "CN=client-b,O=Tests\\, Inc.");

  Handshake self_signed = handshake(*server, "mtls.example", &pki().self_signed);
  REQUIRE(self_signed.done);
  CHECK(self_signed.certificate.presented);
  CHECK_FALSE(self_signed.certificate.verified);

  // Each host verifies with its own CA: B's client is good at other.example.
  Handshake other = handshake(*server, "other.example", &pki().client_b);
  REQUIRE(other.done);
  CHECK(other.certificate.verified);
  Handshake crossed = handshake(*server, "other.example", &pki().client_a);
  CHECK_FALSE(crossed.certificate.verified);
}

TEST_CASE("a host whose CA Secret did not load asks for a certificate and verifies none (fails closed)") {
  auto server = contexts();
  for (const Identity* identity : {&pki().client_a, &pki().client_b, &pki().self_signed}) {
    Handshake broken = handshake(*server, "broken.example", identity);
    REQUIRE(broken.done);
    CHECK(broken.asked);
    CHECK(broken.certificate.presented);
    CHECK_FALSE(broken.certificate.verified);
  }
}

TEST_CASE("hosts without a client authority, and clients without SNI, are asked for no certificate") {
  auto server = contexts();
  for (const char* host : {"open.example", "unknown.example", ""}) {
    INFO(host);
    Handshake open = handshake(*server, host, &pki().client_a);
    REQUIRE(open.done);
    CHECK_FALSE(open.asked);
    CHECK(open.ca_names_sent == 0);
    CHECK(SSL_get0_peer_certificate(open.server.get()) == nullptr);  // no CertificateRequest: none sent
  }
}

TEST_CASE("a TLS session resumes only under the client authority that verified it") {
  auto server = contexts();
  Session from_mtls;
  Handshake first = handshake(*server, "mtls.example", &pki().client_a, nullptr, &from_mtls);
  REQUIRE(first.done);
  REQUIRE(from_mtls);

  // The same authority: resumed, with the verification it had.
  Session again_session;
  Handshake again = handshake(*server, "mtls.example", nullptr, from_mtls.get(), &again_session);
  REQUIRE(again.done);
  CHECK(SSL_session_reused(again.server.get()) == 1);
  CHECK(again.certificate.verified);

  // Another authority (CA B) must not take CA A's verdict: a full handshake,
  // where the client (sending no certificate this time) has none.
  Handshake crossed = handshake(*server, "other.example", nullptr, from_mtls.get());
  REQUIRE(crossed.done);
  CHECK(SSL_session_reused(crossed.server.get()) == 0);
  CHECK_FALSE(crossed.certificate.presented);

  // A session of a host that asks nothing does not resume where one is asked.
  Session from_open;
  REQUIRE(handshake(*server, "open.example", nullptr, nullptr, &from_open).done);
  REQUIRE(from_open);
  Handshake upgraded = handshake(*server, "mtls.example", &pki().client_b, from_open.get());
  REQUIRE(upgraded.done);
  CHECK(SSL_session_reused(upgraded.server.get()) == 0);
  CHECK(upgraded.certificate.presented);
  CHECK_FALSE(upgraded.certificate.verified);
}

TEST_CASE("the escaped PEM is nginx's $ssl_client_escaped_cert encoding") {
  CHECK(escape_uri_component("-----BEGIN CERTIFICATE-----\nAb+/9=\n") ==
        "-----BEGIN%20CERTIFICATE-----%0AAb%2B%2F9%3D%0A");
  CHECK(escape_uri_component("a.b_c~d!e'f(g)h*") == "a.b_c~d!e'f(g)h*");
  CHECK(escape_uri_component(std::string("\x00\xff", 2)) == "%00%FF");
}
