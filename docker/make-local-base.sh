#!/usr/bin/env bash
# Makes Node.js base images for docker/Dockerfile from this machine's own files, for building where
# no image registry is reachable (nothing is pulled):
#
#   docker/make-local-base.sh RUNTIME_TAG [BUILD_TAG [PROJECT_DIR]]
#
# RUNTIME_TAG  the `node` binary and the libraries `ldd` lists for it, busybox (static) as /bin/sh
#              and the usual tools, tini, and a user `node` (uid/gid 1000) as in the official
#              images; made with `docker import` (about 100 MB).
# BUILD_TAG    RUNTIME_TAG plus npm and an offline npm cache that holds every package of
#              PROJECT_DIR/package-lock.json (default: the repository this script is in), with
#              npm_config_offline=true: the Dockerfile's unchanged `npm ci` then installs from that
#              cache, without any network. The cache is copied out of this machine's npm cache
#              (`npm config get cache`, only read) by docker/npm-offline-cache.mjs; whatever that
#              lacks is fetched here on the host with `npm cache add` (from the npm registry, as any
#              `npm ci` would; nothing when the machine's cache is complete).
#
# Then:  docker build --network none --build-arg NODE_IMAGE=RUNTIME_TAG \
#          --build-arg BUILD_IMAGE=BUILD_TAG -f docker/Dockerfile -t sotto .
#
# Needs: docker (DOCKER_HOST as you use it), node and npm, ldd, /bin/busybox (Debian package
# busybox-static) and /usr/bin/tini-static (package tini). Prints the phases it ran on stderr.
set -euo pipefail

usage() {
  echo "usage: $0 RUNTIME_TAG [BUILD_TAG [PROJECT_DIR]]" >&2
  exit 2
}
[[ $# -ge 1 && $# -le 3 ]] || usage
runtime_tag=$1
build_tag=${2:-}
project_dir=${3:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}

for need in docker node npm ldd; do
  command -v "$need" >/dev/null || { echo "$0: $need not found" >&2; exit 1; }
done
busybox=/bin/busybox
tini=/usr/bin/tini-static
[[ -x $busybox ]] || { echo "$0: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
[[ -x $tini ]] || { echo "$0: $tini missing (apt-get install tini)" >&2; exit 1; }
# busybox must be the static one: it is copied without libraries.
if ldd "$busybox" >/dev/null 2>&1; then
  echo "$0: $busybox is dynamically linked; install busybox-static" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sotto-base.XXXXXX")
trap 'rm -rf "$work"' EXIT

node_bin=$(readlink -f "$(command -v node)")
root=$work/rootfs
mkdir -p "$root"/{bin,usr/bin,usr/local/bin,etc,tmp,home/node,root}
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"

# node and its libraries (with the dynamic loader), at the paths ldd names.
cp "$node_bin" "$root/usr/local/bin/node"
ldd "$node_bin" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' | while read -r lib; do
  cp --parents -L "$lib" "$root/"
done
# Native addons (classic-level, sodium-native) need nothing beyond these; libstdc++ and libgcc_s
# are already node's.

# busybox: /bin/sh and the tools npm's scripts and the Dockerfile's RUN lines use.
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  case $applet in busybox) continue ;; esac
  [[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
done
ln -s /bin/busybox "$root/usr/bin/env"
cp "$tini" "$root/usr/bin/tini"

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
node:x:1000:1000::/home/node:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
node:x:1000:
nogroup:x:65534:
EOF
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
chown 1000:1000 "$root/home/node"

tar -C "$root" --numeric-owner -cf - . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' \
  --message "sotto local base: node $(node --version) from this machine" \
  - "$runtime_tag" >/dev/null
echo "made $runtime_tag (node $(node --version), $(du -sh "$root" | cut -f1))" >&2

[[ -n $build_tag ]] || exit 0

# ---- the build base: npm and an offline cache for the project's lockfile
ctx=$work/build-context
mkdir -p "$ctx"
npm_dir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
[[ -f $npm_dir/package.json ]] || { echo "$0: cannot find npm's folder (from $(command -v npm))" >&2; exit 1; }
cp -a "$npm_dir" "$ctx/npm"

# The offline cache: what this lockfile needs, copied out of this machine's npm cache (only read);
# whatever that lacks is fetched here on the host by `npm cache add` (nothing when it is complete).
host_cache=$(npm config get cache)
started=$(date +%s)
mkdir -p "$ctx/npm-cache"
missing=$(node "$project_dir/docker/npm-offline-cache.mjs" "$project_dir/package-lock.json" \
  "$host_cache/_cacache" "$ctx/npm-cache/_cacache")
if [[ -n $missing ]]; then
  echo "fetching $(wc -w <<<"$missing") package(s) the npm cache lacks: $(tr '\n' ' ' <<<"$missing")" >&2
  # shellcheck disable=SC2086 # one spec per word
  npm cache add --prefer-offline --loglevel=error --cache "$ctx/npm-cache" $missing
fi
rm -rf "$ctx/npm-cache/_logs"
echo "offline npm cache for $project_dir/package-lock.json: $(du -sh "$ctx/npm-cache" | cut -f1), $(($(date +%s) - started)) s" >&2

cat >"$ctx/Dockerfile" <<EOF
FROM $runtime_tag
COPY npm /usr/local/lib/node_modules/npm
COPY npm-cache /npm-cache
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && npm --version
ENV npm_config_cache=/npm-cache \\
    npm_config_offline=true \\
    npm_config_update_notifier=false
EOF
docker build --quiet --network none -t "$build_tag" "$ctx" >/dev/null
echo "made $build_tag (npm $(npm --version), offline cache)" >&2
