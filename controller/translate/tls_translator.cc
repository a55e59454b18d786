#include "controller/translate/tls_translator.h"

#include "common/text.h"

#include "controller/translate/k8s_names.h"
#include "common/tls_certificate.h"

#include <map>
#include <set>

namespace grpc_ingress {
namespace {

constexpr const char* kForceRedirect = "nginx.ingress.kubernetes.io/force-ssl-redirect";
// Ours first; ingress-nginx's has the same meaning.
constexpr const char* kRedirectAnnotations[] = {"grpc-ingress.io/ssl-redirect",
                                                "nginx.ingress.kubernetes.io/ssl-redirect"};

// ingress-nginx's rule: TLS hosts redirect unless ssl-redirect is "false";
// force-ssl-redirect "true" redirects whatever ssl-redirect says. Read here
// while IngressOptions::ssl_redirect is not filled (a value other than
// "false" keeps the redirect: never weaker on a typo).
bool redirect_annotation(const ObjectMeta& meta) {
  if (auto force = meta.annotations.find(kForceRedirect); force != meta.annotations.end() && force->second == "true") {
    return true;
  }
  for (const char* annotation : kRedirectAnnotations) {
    auto it = meta.annotations.find(annotation);
    if (it != meta.annotations.end()) return it->second != "false";
  }
  return true;
}

const char* mode_name(ClientCertMode mode) {
  switch (mode) {
    case ClientCertMode::kOff:
      return "off";
    case ClientCertMode::kOn:
      return "on";
    case ClientCertMode::kOptional:
      return "optional";
    case ClientCertMode::kOptionalNoCa:
      return "optional_no_ca";
  }
  return "?";
}

}  // namespace

IngressTlsOptions tls_options_of(const ObjectMeta& meta, const IngressOptions& options) {
  IngressTlsOptions out;
  out.redirect = options.ssl_redirect ? *options.ssl_redirect : redirect_annotation(meta);
  out.client_ca_secret = options.client_ca_secret;
  out.client_cert = options.access.client_cert;
  out.verify_depth = options.client_verify_depth;
  return out;
}

Result<std::string> load_ca_secret(const Store& store, const ObjectKey& key, CertificateChecks& checks) {
  auto it = store.secrets().find(key);
  if (it == store.secrets().end()) {
    if (store.invalid_objects().count({ObjectKind::kSecret, key})) return Error{"the Secret does not decode"};
    return Error{"no such Secret"};
  }
  auto ca = it->second.data.find("ca.crt");
  if (ca == it->second.data.end()) return Error{"the Secret (type " + it->second.type + ") has no data ca.crt"};
  if (Status status = checks.check_ca(ca->second); !status) return Error{status.error().message};
  return ca->second;
}

Result<TlsCertificate> load_certificate_secret(const Store& store, const ObjectKey& key, CertificateChecks& checks) {
  auto it = store.secrets().find(key);
  if (it == store.secrets().end()) {
    if (store.invalid_objects().count({ObjectKind::kSecret, key})) return Error{"the Secret does not decode"};
    return Error{"no such Secret"};
  }
  const Secret& secret = it->second;
  auto cert = secret.data.find("tls.crt");
  auto private_key = secret.data.find("tls.key");
  if (cert == secret.data.end() || private_key == secret.data.end()) {
    return Error{"the Secret (type " + secret.type + ") needs data tls.crt and tls.key"};
  }
  if (Status status = checks.check(cert->second, private_key->second); !status) {
    return Error{status.error().message};
  }
  return TlsCertificate{key.to_string(), cert->second, private_key->second};
}

namespace {

class TlsBuilder {
 public:
  TlsBuilder(const Store& store, const TlsTranslatorOptions& options, const TlsHistory& history, TlsSettings& tls,
             const RedirectMarker& mark_redirect, std::vector<Rejection>& rejections)
      : store_(store),
        options_(options),
        history_(history),
        checks_(history.checks ? *history.checks : own_checks_),
        tls_(tls),
        mark_redirect_(mark_redirect),
        rejections_(rejections) {}

  void add(const TlsIngress& entry) {
    const Ingress& ingress = *entry.ingress;
    const ObjectMeta& meta = ingress.metadata;
    std::set<std::string> redirected;
    for (size_t i = 0; i < ingress.tls.size(); ++i) {
      const IngressTls& tls = ingress.tls[i];
      std::string where = "spec.tls[" + std::to_string(i) + "]";
      std::vector<std::string> hosts;
      for (const std::string& host : tls.hosts) hosts.push_back(lower_case(host));
      if (hosts.empty()) {
        // No hosts: the ones this Ingress routes.
        for (const IngressRule& rule : ingress.rules) {
          if (!rule.host.empty()) hosts.push_back(lower_case(rule.host));
        }
      }
      for (const std::string& host : hosts) {
        std::string_view name = host;
        if (name.starts_with("*.")) name.remove_prefix(2);
        if (!is_dns_subdomain(name) || is_ip_address(host)) {
          reject("Ingress", meta.namespace_name, meta.name, where + ": host '" + host + "' is not a DNS name; skipped");
          continue;
        }
        if (entry.options.redirect) redirected.insert(host);
        if (tls.secret_name.empty()) {
          reject("Ingress", meta.namespace_name, meta.name,
                 where + " names no secretName; " + host + " gets the default certificate");
          continue;
        }
        claim(meta, host, {meta.namespace_name, tls.secret_name});
      }
    }
    for (const std::string& host : redirected) mark_redirect_(meta, host);
    if (entry.options.client_cert != ClientCertMode::kOff) add_client_authority(entry);
  }

  void finish() {
    tls_.redirect_port = options_.redirect_port;
    if (options_.default_certificate.empty()) return;
    const std::string& name = options_.default_certificate;
    size_t slash = name.find('/');
    ObjectKey key{slash == std::string::npos ? "" : name.substr(0, slash), name.substr(slash + 1)};
    auto certificate = load_certificate_secret(store_, key, checks_);
    if (certificate) {
      tls_.default_certificate = std::move(*certificate);
      return;
    }
    const TlsSettings* last = history_.last_good;
    bool kept = last && last->default_certificate && last->default_certificate->secret == key.to_string();
    if (kept) tls_.default_certificate = last->default_certificate;
    reject("Secret", key.namespace_name, key.name,
           "--default-ssl-certificate: " + certificate.error().message +
               (kept ? "; the default certificate stays the one loaded before" : "; the self-signed one serves"));
  }

 private:
  // auth-tls-*: every host of the Ingress (spec.tls and rules; a host without
  // a certificate of its own asks with the default one) asks for a client
  // certificate. The oldest Ingress with auth-tls on a host decides its CA,
  // mode and depth, as ingress-nginx's first one does for its server.
  void add_client_authority(const TlsIngress& entry) {
    const Ingress& ingress = *entry.ingress;
    const ObjectMeta& meta = ingress.metadata;
    std::set<std::string> hosts;
    for (const IngressTls& tls : ingress.tls) {
      for (const std::string& host : tls.hosts) hosts.insert(lower_case(host));
    }
    for (const IngressRule& rule : ingress.rules) {
      if (!rule.host.empty()) hosts.insert(lower_case(rule.host));
    }
    if (hosts.empty()) {
      reject("Ingress", meta.namespace_name, meta.name,
             "auth-tls-secret: the Ingress names no host, and client certificates are asked per host (SNI); "
             "its routes refuse calls that need one");
      return;
    }
    // Loaded once for all its hosts; "" when it cannot be: the hosts still ask
    // for a certificate, and none verifies (fails closed).
    std::string ca_pem;
    std::string problem;
    const IngressTlsOptions& options = entry.options;
    if (options.client_ca_secret) {
      auto ca = load_ca_secret(store_, *options.client_ca_secret, checks_);
      if (ca) {
        ca_pem = std::move(*ca);
      } else {
        problem = "auth-tls-secret " + options.client_ca_secret->to_string() + ": " + ca.error().message;
      }
    } else if (options.client_cert != ClientCertMode::kOptionalNoCa) {
      problem = std::string("auth-tls-verify-client ") + mode_name(options.client_cert) + " needs auth-tls-secret";
    }
    std::vector<std::string> unusable;
    for (const std::string& host : hosts) {
      std::string_view name = host;
      if (name.starts_with("*.")) name.remove_prefix(2);
      if (!is_dns_subdomain(name) || is_ip_address(host)) continue;  // reported with its rule or spec.tls
      auto [owner, fresh] = authority_owners_.emplace(host, std::make_pair(meta.key(), options));
      if (!fresh) {
        const IngressTlsOptions& first = owner->second.second;
        if (owner->second.first != meta.key() &&
            (first.client_ca_secret != options.client_ca_secret || first.client_cert != options.client_cert ||
             first.verify_depth != options.verify_depth)) {
          reject("Ingress", meta.namespace_name, meta.name,
                 "host " + host + " already asks client certificates as the older Ingress " +
                     owner->second.first.to_string() + " says (CA Secret " +
                     (first.client_ca_secret ? first.client_ca_secret->to_string() : "none") + ", verify-client " +
                     mode_name(first.client_cert) + ", depth " + std::to_string(first.verify_depth) +
                     "); this Ingress's auth-tls settings are not used for it");
        }
        continue;
      }
      ClientAuthority authority;
      authority.secret = options.client_ca_secret ? options.client_ca_secret->to_string() : "";
      authority.ca_pem = ca_pem;
      authority.mode = options.client_cert;
      authority.verify_depth = options.verify_depth;
      tls_.client_authorities[host] = std::move(authority);
      if (!problem.empty()) unusable.push_back(host);
    }
    if (!problem.empty() && !unusable.empty()) {
      reject("Ingress", meta.namespace_name, meta.name,
             problem + "; " + join(unusable, ", ") +
                 " ask client certificates with no usable CA: every certificate fails verification");
    }
  }

  void claim(const ObjectMeta& meta, const std::string& host, const ObjectKey& secret) {
    auto [owner, fresh] = owners_.emplace(host, std::make_pair(meta.key(), secret));
    if (!fresh) {
      if (owner->second.second != secret) {
        reject("Ingress", meta.namespace_name, meta.name,
               "TLS host " + host + " already has the certificate of Secret " + owner->second.second.to_string() +
                   " (the older Ingress " + owner->second.first.to_string() + "); " + secret.to_string() +
                   " is not used for it");
      }
      return;
    }
    auto certificate = load_certificate_secret(store_, secret, checks_);
    if (certificate) {
      tls_.certificates[host] = std::move(*certificate);
      return;
    }
    const TlsSettings* last = history_.last_good;
    auto previous = last ? last->certificates.find(host) : std::map<std::string, TlsCertificate>::const_iterator();
    bool kept = last && previous != last->certificates.end() && previous->second.secret == secret.to_string();
    if (kept) tls_.certificates[host] = previous->second;
    reject("Secret", secret.namespace_name, secret.name,
           certificate.error().message + "; " + host +
               (kept ? " keeps the certificate it had" : " gets the default certificate"));
  }

  void reject(const std::string& kind, const std::string& namespace_name, const std::string& name, std::string reason) {
    rejections_.push_back({kind, namespace_name, name, std::move(reason)});
  }

  const Store& store_;
  const TlsTranslatorOptions& options_;
  const TlsHistory& history_;
  CertificateChecks own_checks_;  // when the caller keeps none: for this translation only
  CertificateChecks& checks_;
  TlsSettings& tls_;
  const RedirectMarker& mark_redirect_;
  std::vector<Rejection>& rejections_;
  std::map<std::string, std::pair<ObjectKey, ObjectKey>> owners_;  // host -> (Ingress, Secret)
  std::map<std::string, std::pair<ObjectKey, IngressTlsOptions>> authority_owners_;  // host -> (Ingress, its auth-tls)
};

}  // namespace

Status CertificateChecks::check(const std::string& cert_pem, const std::string& key_pem) {
  auto key = std::make_pair(cert_pem, key_pem);
  auto it = problems_.find(key);
  if (it == problems_.end()) {
    if (problems_.size() >= kMaxRemembered) problems_.clear();
    auto info = check_certificate(cert_pem, key_pem);
    it = problems_.emplace(std::move(key), info ? "" : info.error().message).first;
  }
  if (!it->second.empty()) return Error{it->second};
  return Ok{};
}

Status CertificateChecks::check_ca(const std::string& ca_pem) {
  auto it = ca_problems_.find(ca_pem);
  if (it == ca_problems_.end()) {
    if (ca_problems_.size() >= kMaxRemembered) ca_problems_.clear();
    auto count = check_ca_bundle(ca_pem);
    it = ca_problems_.emplace(ca_pem, count ? "" : count.error().message).first;
  }
  if (!it->second.empty()) return Error{it->second};
  return Ok{};
}

void translate_tls(const Store& store, const std::vector<TlsIngress>& ours, const TlsTranslatorOptions& options,
                   const TlsHistory& history, TlsSettings& tls, const RedirectMarker& mark_redirect,
                   std::vector<Rejection>& rejections) {
  TlsBuilder builder(store, options, history, tls, mark_redirect, rejections);
  for (const TlsIngress& ingress : ours) builder.add(ingress);
  builder.finish();
}

}  // namespace grpc_ingress
