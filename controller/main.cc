// grpc-ingress: a Kubernetes ingress controller with an embedded HTTP/2 data
// plane that balances every gRPC call across pods.

#include "common/flags.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/process_metrics.h"
#include "controller/admin_server.h"
#include "controller/file_source.h"
#include "controller/kube_client.h"
#include "controller/kube_config.h"
#include "controller/event_recorder.h"
#include "controller/kube_source.h"
#include "controller/leader_election.h"
#include "controller/liveness.h"
#include "controller/pod_environment.h"
#include "controller/status_writer.h"
#include "controller/publisher.h"
#include "controller/translate/store.h"
#include "dataplane/dataplane.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <malloc.h>
#ifdef GRPC_INGRESS_MIMALLOC
#include <mimalloc.h>
#endif
#include <nghttp2/nghttp2.h>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <thread>

namespace grpc_ingress {
namespace {

constexpr auto kPublishDebounce = std::chrono::milliseconds(10);

// The API source's own numbers; absent in --manifests mode.
struct KubeParts {
  const KubeClient* client = nullptr;
  const KubeSource* source = nullptr;
  const LeaderElector* elector = nullptr;
};

constexpr const char* kVersion = GRPC_INGRESS_VERSION;

// The libraries' versions as loaded at run time (not as compiled against).
std::map<std::string, std::string> library_versions() {
  return {{"nghttp2", nghttp2_version(0)->version_str}, {"openssl", OpenSSL_version(OPENSSL_VERSION_STRING)}};
}

std::string metrics_text(const Publisher& publisher, const Dataplane& dataplane, const Store& store,
                         const KubeParts& kube, bool draining, bool per_endpoint) {
  auto table = publisher.current();
  MetricsWriter out;
  out.family("grpc_ingress_build_info", "gauge", "1, labelled with the version and the libraries it runs with.");
  auto libraries = library_versions();
  out.sample("grpc_ingress_build_info",
             {{"version", kVersion}, {"nghttp2", libraries["nghttp2"]}, {"openssl", libraries["openssl"]}}, 1);
  dataplane.write_metrics(out, table.get(), per_endpoint);
  out.family("grpc_ingress_objects", "gauge", "Objects the controller holds, by kind (invalid ones included).");
  for (ObjectKind kind : kAllObjectKinds) {
    out.sample("grpc_ingress_objects", {{"kind", std::string(kind_name(kind))}}, static_cast<double>(store.count(kind)));
  }
  if (kube.client && kube.source) write_kube_metrics(out, *kube.client, *kube.source);

  out.family("grpc_ingress_endpoints", "gauge",
             "Endpoints of each backend Service port in the running table, by state.");
  if (table) {
    table->for_each_cluster([&](uint32_t, const Cluster& cluster) {
      size_t ready = 0;
      for (const Endpoint& endpoint : cluster.endpoints) ready += endpoint.ready ? 1 : 0;
      Labels labels = {{"namespace", cluster.service_namespace}, {"service", cluster.service}, {"port", cluster.port}};
      Labels ready_labels = labels, terminating_labels = labels;
      ready_labels.emplace_back("state", "ready");
      terminating_labels.emplace_back("state", "terminating");
      out.sample("grpc_ingress_endpoints", ready_labels, static_cast<double>(ready));
      out.sample("grpc_ingress_endpoints", terminating_labels, static_cast<double>(cluster.endpoints.size() - ready));
    });
  }
  out.family("grpc_ingress_config_generation", "gauge", "Version of the routing table in use.");
  out.sample("grpc_ingress_config_generation", static_cast<double>(table ? table->version : 0));
  out.family("grpc_ingress_config_last_applied_timestamp_seconds", "gauge",
             "When the running routing table was applied on every worker (unix time).");
  out.sample("grpc_ingress_config_last_applied_timestamp_seconds", publisher.last_applied_seconds());
  out.family("grpc_ingress_config_apply_duration_seconds", "gauge",
             "Time from the start of the last table build until every worker used it.");
  out.sample("grpc_ingress_config_apply_duration_seconds", publisher.last_apply_duration_seconds());

  std::map<std::pair<std::string, std::string>, int> rejected;
  for (const Rejection& r : publisher.rejections()) rejected[{r.kind, r.reason}]++;
  out.family("grpc_ingress_rejected_objects", "gauge",
             "Objects (or parts of them) the last table build rejected, by kind and reason.");
  for (const auto& [key, count] : rejected) {
    out.sample("grpc_ingress_rejected_objects", {{"kind", key.first}, {"reason", key.second}}, count);
  }
  out.family("grpc_ingress_leader", "gauge",
             "1 when this replica holds the leader Lease and writes Ingress status (never in --manifests mode).");
  out.sample("grpc_ingress_leader", kube.elector && kube.elector->leading() ? 1 : 0);
  out.family("grpc_ingress_ready", "gauge", "1 when /readyz answers 200.");
  out.sample("grpc_ingress_ready", publisher.ready() && !draining ? 1 : 0);
  write_process_metrics(out);
  return out.text();
}

int run(const Flags& flags) {
  const bool api_mode = flags.manifests.empty();
  std::optional<KubeConfig> kube_config;
  if (api_mode) {
    auto config = flags.kubeconfig.empty() ? in_cluster_config() : load_kubeconfig(flags.kubeconfig);
    if (!config) {
      spdlog::error("{}", config.error().message);
      return 2;
    }
    kube_config = std::move(*config);
    if (!flags.publish_service.empty() && flags.publish_status_addresses.empty()) {
      if (auto key = parse_namespaced_name(flags.publish_service, "--publish-service"); !key) {
        spdlog::error("{}", key.error().message);
        return 2;
      }
    }
    spdlog::info("grpc-ingress starting: ingress class '{}', controller '{}', Kubernetes API {} ({}){}",
                 flags.ingress_class, flags.controller_name, kube_config->server, kube_config->description,
                 flags.watch_namespace.empty() ? "" : ", namespace " + flags.watch_namespace + " only");
  } else {
    spdlog::info("grpc-ingress starting: ingress class '{}', controller '{}', manifests from {}",
                 flags.ingress_class, flags.controller_name, flags.manifests);
    if (!flags.publish_service.empty()) {
      spdlog::warn("--publish-service {}: Ingress status is written only in Kubernetes API mode",
                   flags.publish_service);
    }
  }
#ifdef GRPC_INGRESS_MIMALLOC
  {
    // Linked to replace malloc: say so only if it really does.
    void* probe = std::malloc(16);
    bool redirected = mi_is_in_heap_region(probe);
    std::free(probe);
    if (redirected) {
      spdlog::info("allocator: mimalloc {}", mi_version());
    } else {
      spdlog::warn("allocator: mimalloc {} is linked but malloc is glibc's (was the library preloaded away?)",
                   mi_version());
    }
  }
#endif
  init_access_log(flags.access_log);
  int threads = flags.threads > 0 ? flags.threads
                                  : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  boost::asio::io_context io;  // the controller thread (this one)
  Store store;

  DataplaneOptions dataplane_options;
  dataplane_options.bind_address = flags.bind_address;
  dataplane_options.http_port = flags.http_port;
  dataplane_options.https_port = flags.https_port;
  dataplane_options.threads = threads;
  dataplane_options.grpc_method_labels = flags.metrics_grpc_method_labels;
  dataplane_options.max_grpc_methods = static_cast<size_t>(flags.metrics_max_grpc_methods);
  dataplane_options.upstream.connect_timeout = flags.upstream_connect_timeout;
  dataplane_options.upstream.keepalive_interval = flags.upstream_keepalive_interval;
  dataplane_options.upstream.idle_timeout = flags.upstream_idle_timeout;
  dataplane_options.downstream.stream_idle_timeout = flags.stream_idle_timeout;
  dataplane_options.downstream.http1_idle_timeout = flags.http1_idle_timeout;
  dataplane_options.downstream.http1_max_body_bytes = flags.http1_max_body_size;
  dataplane_options.downstream.stream_window = static_cast<uint32_t>(flags.stream_window);
  dataplane_options.upstream.stream_window = static_cast<uint32_t>(flags.stream_window);
  dataplane_options.downstream.max_connection_buffer_bytes = flags.max_connection_buffer;
  dataplane_options.downstream.max_worker_buffer_bytes = flags.max_worker_buffer;
  dataplane_options.downstream.max_consecutive_empty_frames = static_cast<uint32_t>(flags.max_consecutive_empty_frames);
  dataplane_options.downstream.max_outbound_control_frames = static_cast<uint32_t>(flags.max_outbound_control_frames);
  dataplane_options.downstream.proxy_protocol = flags.use_proxy_protocol;
  dataplane_options.downstream.identity.forwarded_for_header = flags.forwarded_for_header;
  dataplane_options.downstream.identity.compute_full_forwarded_for = flags.compute_full_forwarded_for;
  for (const std::string& cidr : flags.proxy_real_ip_cidr) {
    if (auto range = IpRange::parse(cidr)) dataplane_options.downstream.identity.trusted_proxies.push_back(*range);
  }
  if (flags.use_proxy_protocol) {
    spdlog::info("--use-proxy-protocol: every client connection must start with a PROXY protocol v1 or v2 header");
  }
  Dataplane dataplane(dataplane_options);
  if (auto status = dataplane.start(); !status) {
    spdlog::error("{}", status.error().message);
    return 1;
  }

  // One source feeds the store: manifest files, or the API (list + watch).
  std::unique_ptr<FileSource> file_source;
  std::unique_ptr<KubeClient> kube_client;
  std::unique_ptr<KubeSource> kube_source;
  std::shared_ptr<StatusWriter> status_writer;
  std::shared_ptr<EventRecorder> event_recorder;
  std::shared_ptr<LeaderElector> elector;
  if (api_mode) {
    auto client = KubeClient::create(io, *kube_config);
    if (!client) {
      spdlog::error("{}: {}", kube_config->description, client.error().message);
      dataplane.stop();
      return 2;
    }
    kube_client = std::move(*client);
    kube_source = std::make_unique<KubeSource>(
        io, *kube_client, store,
        KubeSourceOptions{.watch_namespace = flags.watch_namespace,
                          .gateway_api = flags.gateway_api,
                          .gateway_discovery_interval = flags.gateway_discovery_interval});
    kube_source->start();

    // Every replica routes; the one holding the Lease also writes Ingress status and Events.
    PodEnvironment pod = read_pod_environment(process_env);
    std::string identity = replica_identity(pod);
    status_writer = std::make_shared<StatusWriter>(
        io, *kube_client, store,
        StatusWriterOptions{.publish_service = flags.publish_service,
                            .publish_addresses = flags.publish_status_addresses,
                            .gateway_controller_name = flags.gateway_controller_name});
    event_recorder = std::make_shared<EventRecorder>(io, *kube_client, store, EventRecorderOptions{.instance = identity});
    elector = std::make_shared<LeaderElector>(
        io, *kube_client,
        LeaderElectionOptions{.lease_namespace = lease_namespace(flags.leader_election_namespace, pod,
                                                                 kube_config->namespace_name),
                              .lease_name = flags.election_id,
                              .identity = identity,
                              .lease_duration = flags.leader_election_lease_duration,
                              .renew_deadline = flags.leader_election_renew_deadline,
                              .retry_period = flags.leader_election_retry_period},
        [&](bool leading) {
          status_writer->set_leading(leading);
          event_recorder->set_leading(leading);
        });
    status_writer->start();
    elector->start();
  } else {
    file_source = std::make_unique<FileSource>(io, flags.manifests, flags.manifests_poll_interval, store);
    if (auto status = file_source->start(); !status) {
      spdlog::error("--manifests {}: {}", flags.manifests, status.error().message);
      dataplane.stop();
      return 1;
    }
  }
  auto stop_source = [&] {
    if (file_source) file_source->stop();
    if (kube_source) kube_source->stop();
    if (elector) elector->stop();
    if (status_writer) status_writer->stop();
    if (event_recorder) event_recorder->stop();
  };

  TranslatorOptions translator_options;
  translator_options.ingress_class = flags.ingress_class;
  translator_options.controller_name = flags.controller_name;
  translator_options.watch_namespace = flags.watch_namespace;
  translator_options.watch_ingress_without_class = flags.watch_ingress_without_class;
  translator_options.tls.default_certificate = flags.default_ssl_certificate;
  translator_options.tls.redirect_port = flags.ssl_redirect_port;
  translator_options.gateway.enabled = flags.gateway_api;
  translator_options.gateway.controller_name = flags.gateway_controller_name;
  translator_options.gateway.http_listener_port = flags.gateway_http_port;
  translator_options.gateway.https_listener_port = flags.gateway_https_port;
  translator_options.annotations.allow_unsupported_security = flags.allow_unsupported_security_annotations;
  translator_options.annotations.limit_status = static_cast<uint16_t>(flags.limit_req_status_code);
  Publisher publisher(io, store, dataplane, translator_options, kPublishDebounce);

  std::atomic<bool> draining{false};
  // /healthz: 503 naming a worker whose event loop stopped turning; logged when that changes.
  const ComponentLog healthz_log{"healthz"};
  bool was_alive = true;
  auto healthz = [&] {
    Liveness liveness =
        check_liveness(dataplane.worker_last_turns(), std::chrono::steady_clock::now(), flags.healthz_stall_timeout);
    if (liveness.alive != was_alive) {
      was_alive = liveness.alive;
      if (liveness.alive) {
        healthz_log.info({.reason = "WorkersTurning"}, "every worker's event loop turns again: /healthz 200");
      } else {
        std::string_view report = liveness.report;
        healthz_log.error({.reason = "WorkerStalled"}, "/healthz 503: {}", report.substr(0, report.size() - 1));
      }
    }
    return AdminResponse{liveness.alive ? 200 : 503, "text/plain; charset=utf-8", std::move(liveness.report)};
  };
  AdminServer admin(
      io, {
              {"/healthz", healthz},
              {"/readyz",
               [&] {
                 if (draining) return AdminResponse{503, "text/plain; charset=utf-8", "draining\n"};
                 if (!publisher.ready()) {
                   return AdminResponse{503, "text/plain; charset=utf-8", "no routing table serving yet\n"};
                 }
                 return AdminResponse{200, "text/plain; charset=utf-8", "ready\n"};
               }},
              {"/debug/routes",
               [&] {
                 auto table = publisher.current();
                 return AdminResponse{200, "application/json", table ? table->to_json() + "\n" : "null\n"};
               }},
              {"/debug/workers",
               [&] {
                 nlohmann::json counts = dataplane.connections_per_worker();
                 return AdminResponse{200, "application/json",
                                      nlohmann::json{{"connections", counts}}.dump() + "\n"};
               }},
              {"/metrics",
               [&] {
                 return AdminResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                                      metrics_text(publisher, dataplane, store, {kube_client.get(), kube_source.get(), elector.get()},
                                                   draining, flags.metrics_per_endpoint)};
               }},
              {"/debug/endpoints",
               [&] {
                 auto table = publisher.current();
                 return AdminResponse{200, "application/json", dataplane.endpoints_json(table.get())};
               }},
          },
      flags.admin_debug_access);
  if (auto status = admin.start(flags.admin_bind_address.empty() ? flags.bind_address : flags.admin_bind_address,
                                flags.admin_port);
      !status) {
    spdlog::error("{}", status.error().message);
    stop_source();
    dataplane.stop();
    return 1;
  }
  if (status_writer) {
    publisher.set_on_translated([&](const Translation& translation) {
      status_writer->on_translated(translation);
      event_recorder->on_translated(translation);
    });
  }
  publisher.start();

  // SIGTERM/SIGINT: /readyz turns 503 while listeners keep serving for the
  // drain period, then GOAWAY to every client, running streams finish within
  // the grace period, exit 0. A second signal exits at once.
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  boost::asio::steady_timer drain_timer(io);
  std::function<void(boost::system::error_code, int)> on_signal =
      [&](boost::system::error_code ec, int signal) {
        if (ec) return;
        if (draining.exchange(true)) {
          spdlog::warn("second signal ({}): exiting now", signal);
          io.stop();
          return;
        }
        spdlog::info("signal {}: /readyz now 503; serving {} ms more, then draining connections", signal,
                     flags.shutdown_drain.count());
        // Hand the Lease over now: another replica writes status while we drain.
        if (elector) elector->stop();
        signals.async_wait(on_signal);
        drain_timer.expires_after(flags.shutdown_drain);
        drain_timer.async_wait([&](boost::system::error_code ec) {
          if (ec) return;
          spdlog::info("sending GOAWAY to every client; waiting up to {} ms for running streams",
                       flags.shutdown_grace.count());
          dataplane.shutdown(flags.shutdown_grace, [&io] {
            boost::asio::post(io, [&io] {
              spdlog::info("drain finished; exiting");
              io.stop();
            });
          });
        });
      };
  signals.async_wait(on_signal);

  // Memory freed after a burst (thousands of connections gone) stays in the
  // allocator's free pages; hand it back to the system now and then, so RSS
  // follows the live connections.
  boost::asio::steady_timer trim_timer(io);
  std::function<void()> trim = [&] {
    trim_timer.expires_after(std::chrono::seconds(10));
    trim_timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
#ifdef GRPC_INGRESS_MIMALLOC
      mi_collect(false);
#endif
      malloc_trim(0);  // glibc's own arenas (with mimalloc, what was allocated before it took over)
      trim();
    });
  };
  trim();

  io.run();
  admin.stop();
  stop_source();
  dataplane.stop();
  return 0;
}

}  // namespace
}  // namespace grpc_ingress

int main(int argc, char** argv) {
  using namespace grpc_ingress;
  std::signal(SIGPIPE, SIG_IGN);
  auto flags = parse_flags(std::vector<std::string>(argv + 1, argv + argc));
  if (!flags) {
    std::cerr << "grpc-ingress: " << flags.error().message << "\n";
    return 2;
  }
  if (flags->help) {
    std::cout << flags_usage();
    return 0;
  }
  if (flags->version) {
    auto libraries = library_versions();
    std::cout << "grpc-ingress " << kVersion << " (nghttp2 " << libraries["nghttp2"] << ", OpenSSL "
              << libraries["openssl"] << ")\n";
    return 0;
  }
  if (auto status = init_logging(flags->log_format, flags->log_level); !status) {
    std::cerr << "grpc-ingress: " << status.error().message << "\n";
    return 2;
  }
  return run(*flags);
}
