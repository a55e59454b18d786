"""Certificates, the bearer token and the kubeconfig the fake writes into its --dir.

Real behaviour imitated: the apiserver serves TLS with a certificate signed by the cluster
CA, accepts client certificates signed by that CA (x509 authentication, user = the CN)
and bearer tokens; kubeconfig files name the server, embed the CA, and carry a token or a
tokenFile that client-go re-reads, which is how a rotated (projected) token is picked up.
The file names match a service account's mount (ca.crt, token, namespace), so --dir can
stand in for /var/run/secrets/kubernetes.io/serviceaccount.
"""

import base64
import hmac
import ipaddress
import json
import os
import secrets
import ssl
import subprocess
import threading
from pathlib import Path

OPENSSL = "openssl"
_CERT_FILES = ("ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key")
CLIENT_USER = "fake-admin"

_OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = fake-apiserver
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = {san}
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
"""


def write_atomically(path, text, mode=0o600):
    """Readers see the old file or the new one, never half of one (write + rename)."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    with open(temporary, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def _openssl(*args, cwd):
    result = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {result.stderr.strip()}")


def _new_key_args(key_file):
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key_file]


def _issue(directory, name, subject, extensions):
    _openssl("req", "-new", "-config", "openssl.cnf", *_new_key_args(f"{name}.key"), "-out", f"{name}.csr",
             "-subj", subject, cwd=directory)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-set_serial", str(secrets.randbits(63)), "-days", "3650", "-extfile", "openssl.cnf",
             "-extensions", extensions, "-out", f"{name}.crt", cwd=directory)
    (directory / f"{name}.csr").unlink()


class Credentials:
    def __init__(self, directory, host):
        self.dir = Path(directory).resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Files left by an earlier run in the same --dir are kept, so clients that hold
        # the CA or the token survive a restart of the fake (as of a real apiserver).
        if not all((self.dir / f).exists() for f in _CERT_FILES):
            self._make_certificates(host)
        token_file = self.dir / "token"
        self._token = token_file.read_text().strip() if token_file.exists() else ""
        if not self._token:
            self._token = secrets.token_urlsafe(32)
            write_atomically(token_file, self._token + "\n")
        write_atomically(self.dir / "namespace", "default", 0o644)

    def _make_certificates(self, host):
        san = ["IP:127.0.0.1", "DNS:localhost"]
        try:
            if host and str(ipaddress.ip_address(host)) != "127.0.0.1":
                san.append(f"IP:{host}")
        except ValueError:
            if host and host != "localhost":
                san.append(f"DNS:{host}")
        (self.dir / "openssl.cnf").write_text(_OPENSSL_CONFIG.format(san=",".join(san)))
        _openssl("req", "-x509", "-config", "openssl.cnf", "-extensions", "ca_ext", *_new_key_args("ca.key"),
                 "-out", "ca.crt", "-days", "3650", "-subj", "/CN=fake-apiserver-ca", cwd=self.dir)
        _issue(self.dir, "server", "/CN=fake-apiserver", "server_ext")
        _issue(self.dir, "client", f"/O=system:masters/CN={CLIENT_USER}", "client_ext")
        (self.dir / "openssl.cnf").unlink()

    def tls_context(self):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.dir / "server.crt", self.dir / "server.key")
        # A client certificate is optional: without one the request needs a bearer token.
        context.load_verify_locations(self.dir / "ca.crt")
        context.verify_mode = ssl.CERT_OPTIONAL
        # HTTP/1.1 only (the real server also offers h2): watches are chunked streams.
        context.set_alpn_protocols(["http/1.1"])
        return context

    @property
    def token(self):
        with self._lock:
            return self._token

    def token_is_valid(self, token):
        with self._lock:
            return hmac.compare_digest(token.encode(), self._token.encode())

    def rotate_token(self):
        """A new token in DIR/token (atomic rename); the old one is refused from now on."""
        with self._lock:
            self._token = secrets.token_urlsafe(32)
            write_atomically(self.dir / "token", self._token + "\n")
            return self._token

    def write_kubeconfigs(self, server_url):
        """DIR/kubeconfig (token inline and tokenFile) and DIR/kubeconfig-client-cert."""
        ca_data = base64.b64encode((self.dir / "ca.crt").read_bytes()).decode()

        def kubeconfig(user_lines):
            # JSON strings are valid YAML double-quoted scalars: paths need no escaping rules.
            q = json.dumps
            return "\n".join([
                "apiVersion: v1", "kind: Config", "clusters:", "- name: fake", "  cluster:",
                f"    server: {q(server_url)}", f"    certificate-authority-data: {ca_data}",
                "users:", f"- name: {CLIENT_USER}", "  user:", *[f"    {line}" for line in user_lines],
                "contexts:", "- name: fake", "  context:", "    cluster: fake", f"    user: {CLIENT_USER}",
                "    namespace: default", "current-context: fake", "preferences: {}", ""])

        write_atomically(self.dir / "kubeconfig", kubeconfig([
            f"token: {json.dumps(self.token)}", f"tokenFile: {json.dumps(str(self.dir / 'token'))}"]))
        write_atomically(self.dir / "kubeconfig-client-cert", kubeconfig([
            f"client-certificate: {json.dumps(str(self.dir / 'client.crt'))}",
            f"client-key: {json.dumps(str(self.dir / 'client.key'))}"]))
