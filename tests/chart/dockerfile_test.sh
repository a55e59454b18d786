#!/bin/bash
# The container image can run the binary, and holds nothing else. No Docker engine runs
# here, so this reads the Dockerfile and runs its pieces on this machine (Debian bookworm,
# like the image's stages, so its dpkg database answers for them):
# - shape: dated Debian base images and the archive snapshot of the same day; the build
#   stage installs build dependencies only (`make build-deps`, `make build
#   BUILD_TESTING=OFF`); the runtime stage is `scratch` with no RUN (no shell, no
#   package manager), OCI labels, version = the project's, USER 65532, the entrypoint;
# - the runtime-libs stage's packages (and what they depend on) own every library `ldd`
#   resolves for BINARY;
# - docker/rootfs.sh, which makes the runtime stage's files, run on BINARY: the result
#   has no shell or package manager, and BINARY starts from it alone (chroot when this
#   process may, else the loader told to look only there) and prints its version.
#
# usage: dockerfile_test.sh BINARY DOCKERFILE
set -euo pipefail

binary=$1
dockerfile=$2
src=$(cd "$(dirname "$dockerfile")" && pwd)
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Logical lines (continuations joined), comments dropped.
logical=$(sed -e '/^[[:space:]]*#/d' "$dockerfile" | sed -e ':a' -e '/\\$/{N; s/\\\n/ /; ba' -e '}')
# The instructions of stage NAME (FROM ... AS NAME up to the next FROM).
stage() { awk -v name="$1" '/^FROM /{ on = (tolower($NF) == name && tolower($(NF-1)) == "as") } on' <<<"$logical"; }
# The default of a global ARG (before the first FROM).
global_arg() { awk -v name="$1" '/^FROM /{ exit } $1 == "ARG" { split($2, kv, "="); if (kv[1] == name) print kv[2] }' <<<"$logical"; }

# --- the image's shape --------------------------------------------------------------
version=$(sed -n 's/^project(grpc_ingress VERSION \([^ )]*\).*/\1/p' "$src/CMakeLists.txt")
snapshot=$(global_arg DEBIAN_SNAPSHOT)
build_image=$(global_arg BUILD_IMAGE)
libs_image=$(global_arg RUNTIME_LIBS_IMAGE)
[[ $snapshot =~ ^([0-9]{8})T[0-9]{6}Z$ ]] || fail "DEBIAN_SNAPSHOT '$snapshot' is not a snapshot.debian.org time (20250520T000000Z)"
day=${BASH_REMATCH[1]:-none}
[ "$build_image" = "debian:bookworm-$day" ] || fail "BUILD_IMAGE '$build_image' is not debian:bookworm-$day, the snapshot's day"
[ "$libs_image" = "debian:bookworm-$day-slim" ] || fail "RUNTIME_LIBS_IMAGE '$libs_image' is not debian:bookworm-$day-slim"

build_stage=$(stage build)
libs_stage=$(stage runtime-libs)
runtime_stage=$(stage runtime)
[ -n "$build_stage" ] && [ -n "$libs_stage" ] && [ -n "$runtime_stage" ] \
  || { echo "FAIL: stages build, runtime-libs and runtime must all exist in $dockerfile"; exit 1; }
[ "$(grep -E '^FROM ' <<<"$logical" | tail -n 1 | awk '{print $2}')" = scratch ] \
  && [ "$(grep -E '^FROM ' <<<"$logical" | tail -n 1 | awk '{print tolower($NF)}')" = runtime ] \
  || fail "the last stage (docker build's default) is not 'FROM scratch AS runtime'"
grep -qE '^FROM \$\{BUILD_IMAGE\} AS build$' <<<"$build_stage" || fail "build stage is not FROM \${BUILD_IMAGE}"
grep -qE '^FROM \$\{RUNTIME_LIBS_IMAGE\} AS runtime-libs$' <<<"$libs_stage" || fail "runtime-libs stage is not FROM \${RUNTIME_LIBS_IMAGE}"
for name in build runtime-libs; do
  grep -qE '^RUN apt-snapshot\.sh "\$DEBIAN_SNAPSHOT"[[:space:]]+&&[[:space:]]+apt-get update' <<<"$(stage "$name")" \
    || fail "stage $name does not point apt at the snapshot before 'apt-get update'"
done
grep -qE '^RUN make build-deps\b' <<<"$build_stage" || fail "build stage does not run 'make build-deps'"
grep -qE '^RUN .*\bmake build\b.*\bBUILD_TESTING=OFF\b' <<<"$build_stage" || fail "build stage does not run 'make build ... BUILD_TESTING=OFF'"
grep -qE '\bmake (deps|test)\b' <<<"$build_stage" && fail "build stage runs 'make deps' or 'make test' (the test toolchain)"
grep -qE '^RUN rootfs\.sh /grpc-ingress grpc-ingress /rootfs\b' <<<"$libs_stage" || fail "runtime-libs stage does not run rootfs.sh"
bad=$(grep -vE '^(FROM|ARG|COPY --from=runtime-libs /rootfs/ /$|LABEL|USER|EXPOSE|ENTRYPOINT)' <<<"$runtime_stage" || true)
[ -z "$bad" ] || fail "runtime stage may only copy /rootfs and describe the image, not: $bad"
grep -qE '^USER 65532(:65532)?$' <<<"$runtime_stage" || fail "runtime stage does not switch to USER 65532"
grep -qE '^ENTRYPOINT \["/usr/local/bin/grpc-ingress"\]$' <<<"$runtime_stage" \
  || fail "runtime stage's ENTRYPOINT is not [\"/usr/local/bin/grpc-ingress\"]"
grep -qE "^ARG VERSION=$version\$" <<<"$runtime_stage" || fail "runtime stage's ARG VERSION is not the project's version $version"
for label in title description version revision created source; do
  grep -qE "^LABEL .*org\.opencontainers\.image\.$label=" <<<"$runtime_stage" || fail "no org.opencontainers.image.$label label"
done
grep -qE 'org\.opencontainers\.image\.version="\$\{VERSION\}"' <<<"$runtime_stage" || fail "the version label is not \${VERSION}"
echo "shape: build $build_image, runtime-libs $libs_image, apt snapshot $snapshot, runtime scratch, version $version"

# --- the runtime-libs stage's package list ------------------------------------------
# The words after `apt-get install` up to the next `&&`, options left out.
listed=$(grep -E '^RUN .*apt-get install' <<<"$libs_stage" \
  | sed -E 's/.*apt-get install//; s/&&.*//' | tr -s ' ' '\n' | grep -vE '^(-.*)?$' | sort -u || true)
if [ -z "$listed" ]; then
  echo "FAIL: no 'apt-get install PACKAGES' in the runtime-libs stage of $dockerfile"
  exit 1
fi
echo "runtime-libs stage installs: $(tr '\n' ' ' <<<"$listed")"

# Every installed package's Depends and Pre-Depends, read once, as names ("a, b | c
# (>= 1), d:any" -> "a b c d": any alternative of "a | b" counts).
declare -A depends_of=()
while IFS=$'\t' read -r pkg deps; do depends_of[$pkg]=$deps; done < <(
  dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Depends}, ${Pre-Depends}\n' \
    | awk -F'\t' '$1 ~ /^ii/ { d = $3; gsub(/\([^)]*\)/, "", d); gsub(/:any/, "", d); gsub(/[,|]/, " ", d);
                              gsub(/[[:space:]]+/, " ", d); print $2 "\t" d }')
# closure NAME PKG...: the associative array NAME gets PKG... and what they depend on,
# recursively, as far as it is installed here.
closure() {
  local -n into=$1
  shift
  local queue=("$@") pkg dep
  while [ ${#queue[@]} -gt 0 ]; do
    pkg=${queue[0]}
    queue=("${queue[@]:1}")
    if [ -n "${into[$pkg]:-}" ]; then continue; fi
    if [ -z "${depends_of[$pkg]+set}" ]; then fail "package $pkg is not a Debian package installed here (misspelt?)"; continue; fi
    into[$pkg]=1
    for dep in ${depends_of[$pkg]}; do
      if [ -z "${into[$dep]:-}" ] && [ -n "${depends_of[$dep]+set}" ]; then queue+=("$dep"); fi
    done
  done
}
# What the listed packages bring, plus bookworm-slim's essential libc6.
declare -A runtime_closure=()
closure runtime_closure $listed libc6

# The package that owns a library path; ldd may print /lib/... where dpkg recorded
# /usr/lib/... (merged /usr), or a symlink to the versioned file.
owner() {
  local path=$1 candidate
  for candidate in "$path" "$(readlink -f "$path")" "/usr$path" "$(readlink -f "/usr$path" 2>/dev/null)"; do
    [ -n "$candidate" ] || continue
    if out=$(dpkg -S "$candidate" 2>/dev/null); then
      head -n 1 <<<"$out" | sed -E 's/:.*//; s/,.*//'
      return 0
    fi
  done
  return 1
}

libraries=$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
[ -n "$libraries" ] || fail "ldd $binary resolved no libraries"
while read -r lib; do
  [ -n "$lib" ] || continue
  if ! pkg=$(owner "$lib"); then
    fail "$lib (needed by $binary): no Debian package owns it"
  elif [ -z "${runtime_closure[$pkg]:-}" ]; then
    fail "$lib is in package $pkg, which the runtime-libs stage of $dockerfile does not install: add $pkg to its apt-get install list"
  else
    echo "ok: $lib ($pkg)"
  fi
done <<<"$libraries"
if ldd "$binary" | grep -q 'not found'; then fail "ldd $binary: $(ldd "$binary" | grep 'not found')"; fi
dpkg-query -W ca-certificates >/dev/null 2>&1 && [ -n "${runtime_closure[ca-certificates]:-}" ] \
  || fail "the runtime-libs stage does not install ca-certificates (rootfs.sh copies its bundle)"

# --- the build stage's packages ------------------------------------------------------
# `make build-deps` (BUILD_PACKAGES) must bring every system header the binary's objects
# were compiled from (the compiler's depfiles in its build tree) and every library it
# was linked with: nothing of the test toolchain may be needed.
build_dir=$(dirname "$binary")
build_packages=$(make --no-print-directory -s -C "$src" -f Makefile -f - print-build-packages <<<'print-build-packages: ; @echo $(BUILD_PACKAGES)')
[ -n "$build_packages" ] || fail "the Makefile has no BUILD_PACKAGES"
declare -A build_closure=()
closure build_closure $build_packages
depfiles=$(find "$build_dir/common" "$build_dir/dataplane" "$build_dir/controller" "$build_dir/CMakeFiles/grpc-ingress.dir" \
             -name '*.o.d' 2>/dev/null || true)
if [ -z "$depfiles" ]; then
  fail "no compiler depfiles (*.o.d) for the binary's objects under $build_dir"
else
  system_files=$( (cat $depfiles | tr ' \\' '\n\n'; sed -E 's/ +/\n/g' "$build_dir/CMakeFiles/grpc-ingress.dir/link.txt" | grep '\.so\|\.a$') \
                  | grep -E '^/usr/|^/lib' | sed 's/:$//' | sort -u)
  # Their packages, from dpkg's file lists in one pass (a path as given, or resolved).
  declare -A build_needs=()
  (echo "$system_files"; realpath -q $system_files || true) | sort -u >"$work/system-files"
  while IFS= read -r list; do
    pkg=$(basename "$list" .list)
    build_needs[${pkg%%:*}]=1
  done < <(grep -lFxf "$work/system-files" /var/lib/dpkg/info/*.list)
  [ ${#build_needs[@]} -gt 0 ] || fail "dpkg knows none of the $(wc -w <<<"$system_files") system files the binary is built from"
  for pkg in "${!build_needs[@]}"; do
    [ -n "${build_closure[$pkg]:-}" ] || fail "the binary is built with files of $pkg, which BUILD_PACKAGES ($build_packages) does not bring: add its -dev package to BUILD_PACKAGES"
  done
  echo "build: $(wc -w <<<"$system_files") system headers and libraries, from ${#build_needs[@]} packages, all brought by BUILD_PACKAGES"
fi

# --- the runtime stage's files, made here by docker/rootfs.sh -----------------------
rootfs=$work/rootfs
if ! bash "$src/docker/rootfs.sh" "$binary" grpc-ingress "$rootfs" >"$work/rootfs.log" 2>&1; then
  fail "docker/rootfs.sh failed: $(cat "$work/rootfs.log")"
else
  for path in bin/sh bin/bash usr/bin/apt-get usr/bin/dpkg sbin/ldconfig usr/bin/env; do
    [ ! -e "$rootfs/$path" ] || fail "the runtime file system has /$path"
  done
  # Every file is the binary, a library ldd named, or a file rootfs.sh documents.
  expected=$( (echo /usr/local/bin/grpc-ingress; echo "$libraries";
               printf '%s\n' /etc/passwd /etc/group /etc/nsswitch.conf /etc/ssl/certs/ca-certificates.crt) | sort -u)
  actual=$(cd "$rootfs" && find . -type f | sed 's/^\.//' | sort)
  [ "$actual" = "$expected" ] || fail "the runtime file system's files differ from the binary + its libraries + 4 files:
$(diff <(echo "$expected") <(echo "$actual") || true)"
  grep -q '^nonroot:x:65532:65532:' "$rootfs/etc/passwd" || fail "/etc/passwd has no nonroot user 65532"

  # The binary starts from these files alone, as uid 65532.
  runner=""
  if [ "$(id -u)" -eq 0 ] && command -v chroot >/dev/null; then
    runner="chroot --userspec=65532:65532 $rootfs"
  elif unshare --user --map-root-user true 2>/dev/null; then
    runner="unshare --user --map-root-user chroot $rootfs"
  fi
  if [ -n "$runner" ]; then
    out=$($runner /usr/local/bin/grpc-ingress --version 2>&1) || fail "$runner /usr/local/bin/grpc-ingress --version failed: $out"
    echo "from the runtime file system ($runner): $out"
  else
    # No chroot here: tell the loader to take libraries from the file system only, and
    # check which files it loaded.
    loader=$(awk '$1 ~ /^\// { print $1 }' <<<"$(ldd "$binary")" | head -n 1)
    out=$(LD_DEBUG=libs "$rootfs$loader" --inhibit-cache \
            --library-path "$rootfs/lib/x86_64-linux-gnu:$rootfs/usr/lib/x86_64-linux-gnu:$rootfs/lib:$rootfs/usr/lib" \
            "$rootfs/usr/local/bin/grpc-ingress" --version 2>&1) || fail "the binary did not start from $rootfs: $out"
    outside=$(grep -oE 'calling init: [^ ]+' <<<"$out" | awk '{print $3}' | grep -v "^$rootfs/" || true)
    [ -z "$outside" ] || fail "the binary loaded libraries from outside the runtime file system: $outside"
    out=$(grep -vE '^ *[0-9]+:' <<<"$out")  # the loader's debug lines
    echo "from the runtime file system (the loader, no chroot): $out"
  fi
  grep -q "grpc-ingress $version" <<<"$out" || fail "the binary's --version does not say 'grpc-ingress $version': $out"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures problem(s) with $dockerfile"
  exit 1
fi
echo "the runtime stage holds $binary with exactly its libraries, no shell, and it starts from there"
