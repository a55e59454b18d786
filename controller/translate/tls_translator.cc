#include "controller/translate/tls_translator.h"

#include "common/text.h"

#include "controller/translate/k8s_names.h"
#include "common/tls_certificate.h"

#include <map>
#include <set>

namespace grpc_ingress {
namespace {

// Ours first; ingress-nginx's have the same meaning.
constexpr const char* kRedirectAnnotations[] = {"grpc-ingress.io/ssl-redirect",
                                                "nginx.ingress.kubernetes.io/ssl-redirect",
                                                "nginx.ingress.kubernetes.io/force-ssl-redirect"};

bool redirects(const ObjectMeta& meta) {
  for (const char* annotation : kRedirectAnnotations) {
    auto it = meta.annotations.find(annotation);
    if (it != meta.annotations.end()) return it->second == "true";
  }
  return false;
}

}  // namespace

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

  void add(const Ingress& ingress) {
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
        if (redirects(meta)) redirected.insert(host);
        if (tls.secret_name.empty()) {
          reject("Ingress", meta.namespace_name, meta.name,
                 where + " names no secretName; " + host + " gets the default certificate");
          continue;
        }
        claim(meta, host, {meta.namespace_name, tls.secret_name});
      }
    }
    for (const std::string& host : redirected) mark_redirect_(meta, host);
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

void translate_tls(const Store& store, const std::vector<const Ingress*>& ours, const TlsTranslatorOptions& options,
                   const TlsHistory& history, TlsSettings& tls, const RedirectMarker& mark_redirect,
                   std::vector<Rejection>& rejections) {
  TlsBuilder builder(store, options, history, tls, mark_redirect, rejections);
  for (const Ingress* ingress : ours) builder.add(*ingress);
  builder.finish();
}

}  // namespace grpc_ingress
