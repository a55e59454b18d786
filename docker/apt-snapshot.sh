#!/bin/sh
# Points apt at one dated snapshot of the Debian archive (snapshot.debian.org), so every
# image build installs the same package versions: the tag of a Debian base image is
# rebuilt with each point release, and deb.debian.org keeps only the newest version of a
# package. Snapshot Release files have expired, hence Check-Valid-Until false (they are
# still verified against the Debian archive keyring).
#   usage: apt-snapshot.sh 20250520T000000Z
set -eu
snapshot=$1
cat >/etc/apt/sources.list.d/debian.sources <<SOURCES
Types: deb
URIs: http://snapshot.debian.org/archive/debian/${snapshot}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://snapshot.debian.org/archive/debian-security/${snapshot}
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
rm -f /etc/apt/sources.list
cat >/etc/apt/apt.conf.d/80snapshot <<CONF
Acquire::Check-Valid-Until "false";
Acquire::Retries "3";
APT::Install-Recommends "false";
CONF
