// scrapeBinaryMetrics: the metric families the real grpc-ingress binary exports, for
// monitoring_test.go. It runs the binary in --manifests mode on 127.0.0.1 with one
// Ingress (a TLS host, a Service whose only pod refuses connections), sends one HTTPS
// request through it, and reads /metrics.
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freePort is a port nobody listens on at 127.0.0.1 right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// selfSignedPEM is a certificate for host valid 30 days, and its key, as PEM.
func selfSignedPEM(t *testing.T, host string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, &template, &template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

func writeMetricsManifests(t *testing.T, dir string, podPort int) {
	t.Helper()
	certPEM, keyPEM := selfSignedPEM(t, "greeter.test")
	manifest := fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: grpc}
spec: {controller: grpc-ingress.io/controller}
---
apiVersion: v1
kind: Service
metadata: {name: greeter, namespace: apps}
spec:
  ports: [{name: grpc, port: 50051, targetPort: %[1]d, appProtocol: kubernetes.io/h2c}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: greeter-1
  namespace: apps
  labels: {kubernetes.io/service-name: greeter}
addressType: IPv4
ports: [{name: grpc, port: %[1]d, protocol: TCP}]
endpoints:
  - addresses: ["127.0.0.9"]
    conditions: {ready: true, serving: true, terminating: false}
---
apiVersion: v1
kind: Secret
metadata: {name: greeter-tls, namespace: apps}
type: kubernetes.io/tls
data:
  tls.crt: %[2]s
  tls.key: %[3]s
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: greeter, namespace: apps}
spec:
  ingressClassName: grpc
  tls: [{hosts: [greeter.test], secretName: greeter-tls}]
  rules:
    - host: greeter.test
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: greeter, port: {name: grpc}}}
`, podPort, base64.StdEncoding.EncodeToString(certPEM), base64.StdEncoding.EncodeToString(keyPEM))
	if err := os.WriteFile(filepath.Join(dir, "greeter.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
}

// stopProcess ends the binary it started: SIGTERM, then SIGKILL after 5 s.
func stopProcess(cmd *exec.Cmd, done <-chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func scrapeBinaryMetrics(t *testing.T) map[string]string {
	t.Helper()
	binary := os.Getenv("GRPC_INGRESS_BINARY")
	if binary == "" {
		t.Fatal("GRPC_INGRESS_BINARY is not set (ctest sets it to build/grpc-ingress)")
	}
	dir := t.TempDir()
	manifests := filepath.Join(dir, "manifests")
	if err := os.Mkdir(manifests, 0o755); err != nil {
		t.Fatal(err)
	}
	writeMetricsManifests(t, manifests, freePort(t))
	client := &http.Client{Timeout: 2 * time.Second}
	get := func(port int, host, path string) (int, string, error) {
		req, _ := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(port)+path, nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		var body strings.Builder
		scanner := bufio.NewScanner(resp.Body)
		scanner.Buffer(make([]byte, 1<<20), 1<<20)
		for scanner.Scan() {
			body.WriteString(scanner.Text() + "\n")
		}
		return resp.StatusCode, body.String(), nil
	}

	// A port found free may be taken before the binary binds it: up to three tries.
	for attempt := 1; attempt <= 3; attempt++ {
		httpPort, httpsPort, adminPort := freePort(t), freePort(t), freePort(t)
		logFile, err := os.Create(filepath.Join(dir, fmt.Sprintf("grpc-ingress-%d.log", attempt)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, binary, "--manifests", manifests, "--bind-address", "127.0.0.1",
			"--http-port", strconv.Itoa(httpPort), "--https-port", strconv.Itoa(httpsPort),
			"--admin-port", strconv.Itoa(adminPort), "--threads", "1", "--log-format", "text",
			"--shutdown-drain", "100ms", "--shutdown-grace", "1s")
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		ready, exited := false, false
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && !ready && !exited; {
			select {
			case <-done:
				exited = true
			case <-time.After(50 * time.Millisecond):
				status, _, _ := get(adminPort, "127.0.0.1", "/readyz")
				ready = status == 200
			}
		}
		if !ready {
			if !exited {
				stopProcess(cmd, done)
			}
			cancel()
			log, _ := os.ReadFile(logFile.Name())
			if strings.Contains(string(log), "in use") && attempt < 3 {
				continue
			}
			t.Fatalf("grpc-ingress did not become ready (exited: %v); log:\n%s", exited, log)
		}
		// One routed request over TLS, with the Secret's certificate; the pod refuses: 503.
		tlsClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{ServerName: "greeter.test", InsecureSkipVerify: true}}}
		req, _ := http.NewRequest("GET", "https://127.0.0.1:"+strconv.Itoa(httpsPort)+"/", nil)
		req.Host = "greeter.test"
		if resp, err := tlsClient.Do(req); err != nil {
			t.Errorf("GET https://greeter.test/ through grpc-ingress: %v", err)
		} else {
			resp.Body.Close()
			cn := ""
			if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
				cn = resp.TLS.PeerCertificates[0].Subject.CommonName
			}
			if resp.StatusCode != 503 || cn != "greeter.test" {
				t.Errorf("GET https://greeter.test/: %d (want 503: the pod refuses connections), certificate of %q",
					resp.StatusCode, cn)
			}
		}
		status, text, err := get(adminPort, "127.0.0.1", "/metrics")
		stopProcess(cmd, done)
		cancel()
		if err != nil || status != 200 {
			t.Fatalf("GET /metrics: %d %v", status, err)
		}
		families := map[string]string{}
		for _, line := range strings.Split(text, "\n") {
			if fields := strings.Fields(line); len(fields) == 4 && fields[0] == "#" && fields[1] == "TYPE" {
				families[fields[2]] = fields[3]
			}
		}
		if families["grpc_ingress_requests_total"] != "counter" || families["grpc_ingress_request_duration_seconds"] != "histogram" {
			t.Fatalf("/metrics lacks grpc_ingress_requests_total (counter) or grpc_ingress_request_duration_seconds (histogram):\n%s", text)
		}
		return families
	}
	t.Fatal("grpc-ingress did not start in 3 attempts")
	return nil
}
