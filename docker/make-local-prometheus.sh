#!/usr/bin/env bash
# Makes a Prometheus image from this machine's own binary (Debian's `prometheus` package), for the
# Compose devnet's `metrics` profile where no image registry is reachable (nothing is pulled):
#
#   docker/make-local-prometheus.sh TAG BASE_TAG [PROMETHEUS_BINARY]
#
# TAG                the image to make; use it with PROMETHEUS_IMAGE=TAG (docker/compose.yaml)
# BASE_TAG           a local base image with a libc, e.g. the runtime base of docker/make-local-base.sh
#                    (made from this machine's Debian too, so the same libc); the libraries `ldd`
#                    lists for the binary are copied in as well, so a base without them works
# PROMETHEUS_BINARY  default /usr/bin/prometheus
#
# Laid out like the official prom/prometheus image: /bin/prometheus as the entrypoint, the storage
# volume /prometheus, user nobody (65534), port 9090. Needs docker (DOCKER_HOST as you use it) and ldd.
set -euo pipefail

[[ $# -ge 2 && $# -le 3 ]] || {
  echo "usage: $0 TAG BASE_TAG [PROMETHEUS_BINARY]" >&2
  exit 2
}
tag=$1
base=$2
binary=$(readlink -f "${3:-/usr/bin/prometheus}")
[[ -x $binary ]] || { echo "$0: $binary not found (apt-get install prometheus)" >&2; exit 1; }
command -v ldd >/dev/null || { echo "$0: ldd not found" >&2; exit 1; }
docker image inspect "$base" >/dev/null 2>&1 || { echo "$0: base image $base not found" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sotto-prometheus.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/bin"
cp "$binary" "$work/root/bin/prometheus"
# A dynamically linked binary (Debian's is: libc only) gets its libraries at the paths ldd names.
if ldd "$binary" >/dev/null 2>&1; then
  ldd "$binary" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' | while read -r lib; do
    cp --parents -L "$lib" "$work/root/"
  done
fi

cat >"$work/Dockerfile" <<EOF
FROM $base
COPY root/ /
RUN mkdir -p /etc/prometheus /prometheus \\
 && chown 65534:65534 /prometheus \\
 && /bin/prometheus --version
USER 65534:65534
WORKDIR /prometheus
VOLUME ["/prometheus"]
EXPOSE 9090
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
EOF
docker build --quiet --network none -t "$tag" "$work" >/dev/null
echo "made $tag ($("$binary" --version 2>&1 | head -1))" >&2
