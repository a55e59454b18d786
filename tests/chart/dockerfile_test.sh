#!/bin/bash
# The container image can run the binary: every shared library that `ldd` resolves for
# build/grpc-ingress belongs (dpkg -S) to a package the Dockerfile's runtime stage
# installs, or to one of their dependencies. Also checks the image's shape: bookworm
# stages, the build stage running the README's `make deps` and `make build`, a non-root
# user 65532 and the binary as entrypoint. No Docker engine runs here, so this reads
# the Dockerfile instead of building it; the build and runtime stages are Debian
# bookworm like this machine, so its dpkg database answers for them.
#
# usage: dockerfile_test.sh BINARY DOCKERFILE
set -euo pipefail

binary=$1
dockerfile=$2
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Logical lines (continuations joined), comments dropped.
logical=$(sed -e '/^[[:space:]]*#/d' "$dockerfile" | sed -e ':a' -e '/\\$/{N; s/\\\n/ /; ba' -e '}')

# --- the image's shape --------------------------------------------------------------
froms=$(grep -E '^FROM ' <<<"$logical" | awk '{print $2}')
[ "$(head -n 1 <<<"$froms")" = "debian:bookworm" ] || fail "build stage is not FROM debian:bookworm: $(head -n 1 <<<"$froms")"
[ "$(tail -n 1 <<<"$froms")" = "debian:bookworm-slim" ] || fail "runtime stage is not FROM debian:bookworm-slim: $(tail -n 1 <<<"$froms")"
build_stage=$(awk '/^FROM /{n++} n==1' <<<"$logical")
runtime_stage=$(awk -v last="$(grep -c '^FROM ' <<<"$logical")" '/^FROM /{n++} n==last' <<<"$logical")
grep -qE '^RUN .*\bmake deps\b' <<<"$build_stage" || fail "build stage does not run 'make deps'"
grep -qE '^RUN .*\bmake build\b' <<<"$build_stage" || fail "build stage does not run 'make build'"
grep -qE '^USER 65532(:65532)?$' <<<"$runtime_stage" || fail "runtime stage does not switch to USER 65532"
grep -qE '^ENTRYPOINT \["/usr/local/bin/grpc-ingress"\]$' <<<"$runtime_stage" \
  || fail "runtime stage's ENTRYPOINT is not [\"/usr/local/bin/grpc-ingress\"]"

# --- the runtime stage's package list -----------------------------------------------
# The words after `apt-get install` up to the next `&&`, options left out.
listed=$(grep -E '^RUN .*apt-get install' <<<"$runtime_stage" \
  | sed -E 's/.*apt-get install//; s/&&.*//' | tr -s ' ' '\n' | grep -vE '^(-.*)?$' | sort -u || true)
if [ -z "$listed" ]; then
  echo "FAIL: no 'apt-get install PACKAGES' in the runtime stage of $dockerfile"
  exit 1
fi
echo "runtime stage installs: $(tr '\n' ' ' <<<"$listed")"

# What the listed packages bring: them, their Depends and Pre-Depends, recursively
# (any installed alternative of "a | b"), plus bookworm-slim's essential libc6.
declare -A closure=()
queue=($listed libc6)
while [ ${#queue[@]} -gt 0 ]; do
  pkg=${queue[0]}
  queue=("${queue[@]:1}")
  if [ -n "${closure[$pkg]:-}" ]; then continue; fi
  closure[$pkg]=1
  deps=$(dpkg-query -W -f='${Depends}, ${Pre-Depends}' "$pkg" 2>/dev/null) \
    || { fail "runtime package $pkg is not a Debian package installed here (misspelt?)"; continue; }
  for dep in $(tr ',|' '\n\n' <<<"$deps" | sed -E 's/\(.*\)//; s/:any//; s/[[:space:]]//g' | grep -v '^$'); do
    if [ -z "${closure[$dep]:-}" ] && dpkg-query -W "$dep" >/dev/null 2>&1; then queue+=("$dep"); fi
  done
done

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
  elif [ -z "${closure[$pkg]:-}" ]; then
    fail "$lib is in package $pkg, which the runtime stage of $dockerfile does not install: add $pkg to its apt-get install list"
  else
    echo "ok: $lib ($pkg)"
  fi
done <<<"$libraries"
if ldd "$binary" | grep -q 'not found'; then fail "ldd $binary: $(ldd "$binary" | grep 'not found')"; fi

if [ "$failures" -ne 0 ]; then
  echo "$failures problem(s) with $dockerfile"
  exit 1
fi
echo "every library of $binary comes with the runtime stage's packages"
