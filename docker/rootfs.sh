#!/bin/bash
# Collects a container's whole file system into DEST: BINARY as /usr/local/bin/NAME,
# exactly the shared libraries `ldd` resolves for it (and the dynamic loader) under the
# paths the loader searches, the CA bundle, and passwd/group entries for uid 65532.
# Nothing else: no shell, no package manager. The Dockerfile copies DEST into a
# `scratch` stage; tests/chart/dockerfile_test.sh runs this on the built binary and
# starts the binary from DEST alone.
#   usage: rootfs.sh BINARY NAME DEST
set -euo pipefail
binary=$1
name=$2
dest=$3

ldd_out=$(ldd "$binary")
if grep -q 'not found' <<<"$ldd_out"; then
  echo "$0: $binary needs libraries that are not installed: $(grep 'not found' <<<"$ldd_out")" >&2
  exit 1
fi
mkdir -p "$dest/usr/local/bin" "$dest/etc/ssl/certs" "$dest/usr/lib/ssl" "$dest/tmp"
cp "$binary" "$dest/usr/local/bin/$name"
chmod 0755 "$dest/usr/local/bin/$name"
# "libssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x...)", and the loader on a line
# of its own: each file under the name ldd printed (symlinks followed).
awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$ldd_out" | sort -u |
  while read -r lib; do
    mkdir -p "$dest$(dirname "$lib")"
    cp -L "$lib" "$dest$lib"
  done
# OpenSSL's default verify paths (OPENSSLDIR /usr/lib/ssl) lead to the Debian bundle.
cp -L /etc/ssl/certs/ca-certificates.crt "$dest/etc/ssl/certs/ca-certificates.crt"
ln -sfn /etc/ssl/certs "$dest/usr/lib/ssl/certs"
ln -sfn /etc/ssl/certs/ca-certificates.crt "$dest/usr/lib/ssl/cert.pem"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n' \
  >"$dest/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$dest/etc/group"
# Host names (auth-url) from /etc/hosts, then DNS; kubelet mounts both files.
printf 'hosts: files dns\n' >"$dest/etc/nsswitch.conf"
chmod 1777 "$dest/tmp"
