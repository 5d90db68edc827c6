#!/usr/bin/env bash
# Docker end-to-end test: the real image, the Compose devnet, messages between containers.
#
#   sudo bash scripts/docker-e2e.sh          (root: it runs its own Docker daemon)
#
# 1. engine    installs docker.io, docker-compose, tini and busybox-static from Debian if missing
# 2. daemon    starts a private dockerd (--iptables=false --ip-forward=false --ip-masq=false
#              --bridge=none, networks from 10.213.192.0/18) whose data root, exec root, pid file
#              and socket live in a temp dir; DOCKER_HOST points at that socket
# 3. base      makes the Node.js base images locally from this machine's node (docker import), the
#              build base with an offline npm cache (docker/make-local-base.sh): nothing is pulled
# 4. image     builds docker/Dockerfile with --network none (its own `npm ci` runs offline), and a
#              local Prometheus image (docker/make-local-prometheus.sh) from /usr/bin/prometheus or,
#              without it, from Debian's prometheus .deb unpacked into the temp dir (E2E_PROMETHEUS=0:
#              none, and no metrics checks)
# 5. devnet    `compose up` of docker/compose.yaml: bootstrap + mailbox + 3 nodes listening on TCP
#              and WebSocket (+ Prometheus: profile `metrics`, published on 127.0.0.1 only), waits
#              until every container is healthy; a throwaway daemon in one container connects to
#              the bootstrap container over WebSocket only
# 6. messages  contacts and messages between containers with the CLI (`compose exec … sotto …`)
# 7. metrics   the nodes' metrics listeners across the network (GET /metrics only); Prometheus's
#              HTTP API (on the published 127.0.0.1 port): every node target up, messages counted
# 8. mailbox   stops the recipient's container, sends ("stored at a mailbox"), starts it again and
#              waits for the message to arrive through the mailbox, exactly once, and for the
#              sender to see it delivered
# 9. teardown  (trap on EXIT, also on failure) compose down -v, the images, the daemon by its PID,
#              leftover mounts/links of this run, the temp dir
#
# The host talks to the daemon over its unix socket, to the nodes through `exec`, and to
# Prometheus only through its port published on 127.0.0.1 (Docker's userland proxy); nothing is
# dialled from the host namespace to a container address. Every wait has a deadline and fails
# loudly. Exits 0 only if every check passed.
#
# Environment: COMPOSE (e.g. "docker compose"; default: `docker compose` if it works, else
# docker-compose), KEEP_LOGS=1 (print every container's log at the end, also on success),
# E2E_PROMETHEUS=0 (leave Prometheus and its checks out).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=$$
START=$(date +%s.%N)
WORK=""
DOCKERD_PID=""
COMPOSE_UP=0
NETWORK_ID=""
# Every network of the project (devnet, and prometheus-ui with the metrics profile): their bridges.
NETWORK_IDS=()
PASSED=0
FAILED=0
PHASES=()
PHASE_NAME=""
PHASE_START=""

PROJECT="sottoe2e${RUN}"
BASE_IMAGE="sotto-e2e-${RUN}/node-base:local"
BUILD_BASE_IMAGE="sotto-e2e-${RUN}/node-build:local"
IMAGE="sotto-e2e-${RUN}/sotto:local"
PROMETHEUS_LOCAL_IMAGE="sotto-e2e-${RUN}/prometheus:local"
# Compose's --profile arguments (`metrics` once the local Prometheus image is made).
PROFILE_ARGS=()
# Docker networks of this daemon come from here (the project's test range, as in TESTING.md).
ADDRESS_POOL="10.213.192.0/18"
# Paths outside --data-root/--exec-root that dockerd 20.10 and containerd's shims create anyway
# (trust key, plugin dir, shim sockets, iptables lock); removed again if this run created them.
HOST_TRACES=(/etc/docker/key.json /run/docker /run/containerd /run/xtables.lock)
CREATED_TRACES=()

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# On stderr: also visible from inside $(…), e.g. a failure in send_delivered.
log() { printf '[e2e %6ss] %s\n' "$(elapsed "$START" "$(now)")" "$*" >&2; }
die() {
  log "FAIL: $*"
  FAILED=$((FAILED + 1))
  exit 1
}
pass() {
  PASSED=$((PASSED + 1))
  log "ok: $*"
}

phase() {
  end_phase
  PHASE_NAME=$1
  PHASE_START=$(now)
  log "== $PHASE_NAME"
}
end_phase() {
  if [[ -n $PHASE_NAME ]]; then
    local took
    took=$(elapsed "$PHASE_START" "$(now)")
    PHASES+=("$(printf '%-10s %6ss' "$PHASE_NAME" "$took")")
    log "== $PHASE_NAME took ${took}s"
    PHASE_NAME=""
  fi
}

# wait_until SECONDS WHAT COMMAND...: polls COMMAND (quietly) every 0.5 s until it succeeds.
wait_until() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$(($(date +%s) + seconds))
  until "$@" >/dev/null 2>&1; do
    if (($(date +%s) >= deadline)); then die "timed out after ${seconds}s waiting for: $what"; fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------------------------------------
# Teardown

dump_logs() {
  [[ $COMPOSE_UP -eq 1 ]] || return 0
  log "container logs (last 40 lines each):"
  local id name
  for id in $(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" 2>/dev/null); do
    name=$(docker inspect -f '{{.Name}}' "$id" 2>/dev/null || echo "$id")
    echo "---- $name ($(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id" 2>/dev/null))"
    docker logs --tail 40 "$id" 2>&1 | sed 's/^/    /' || true
  done
}

# Processes started for this run by the daemon (containerd, shims) name the temp dir.
pids_of_run() {
  local p
  for p in /proc/[0-9]*; do
    [[ -r $p/cmdline ]] || continue
    if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$WORK/"; then basename "$p"; fi
  done
}

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  end_phase
  if [[ $status -ne 0 || ${KEEP_LOGS:-0} == 1 ]]; then dump_logs; fi
  local t0
  t0=$(now)
  log "== teardown"
  if [[ -n $DOCKERD_PID ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    if [[ $COMPOSE_UP -eq 1 ]]; then
      compose down -v --remove-orphans -t 5 >"$WORK/compose-down.log" 2>&1 ||
        log "compose down failed: $(tail -3 "$WORK/compose-down.log")"
      log "compose down -v: $(elapsed "$t0" "$(now)")s"
    fi
    docker rmi -f "$IMAGE" "$PROMETHEUS_LOCAL_IMAGE" "$BUILD_BASE_IMAGE" "$BASE_IMAGE" >/dev/null 2>&1
    docker image prune -f >/dev/null 2>&1
    docker volume prune -f >/dev/null 2>&1
    log "images and volumes removed: $(elapsed "$t0" "$(now)")s"
    kill -TERM "$DOCKERD_PID" 2>/dev/null
    local deadline=$(($(date +%s) + 30))
    while kill -0 "$DOCKERD_PID" 2>/dev/null && (($(date +%s) < deadline)); do sleep 0.2; done
    if kill -0 "$DOCKERD_PID" 2>/dev/null; then
      log "dockerd $DOCKERD_PID did not stop in 30 s: SIGKILL"
      kill -KILL "$DOCKERD_PID" 2>/dev/null
      sleep 0.5
    fi
    log "dockerd $DOCKERD_PID stopped: $(elapsed "$t0" "$(now)")s"
  fi
  local trace
  for trace in "${CREATED_TRACES[@]}"; do
    if [[ -d $trace ]]; then
      find "$trace" -depth -type d -empty -delete 2>/dev/null
      [[ -e $trace ]] && log "not removed (not empty, so not only ours): $trace"
    elif [[ -e $trace ]]; then
      rm -f "$trace"
    fi
  done
  if [[ -n $WORK && -d $WORK ]]; then
    local pid
    for pid in $(pids_of_run); do
      log "left over from this run: pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-100)): SIGKILL"
      kill -KILL "$pid" 2>/dev/null
    done
    # Mounts (overlay, shm, netns) a daemon that died hard leaves behind, deepest first.
    local mnt
    awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r | while IFS= read -r mnt; do
      umount -l "$mnt" 2>/dev/null
    done
    local net
    for net in "${NETWORK_IDS[@]}"; do
      if ip link show "br-${net:0:12}" >/dev/null 2>&1; then
        ip link delete "br-${net:0:12}" 2>/dev/null
      fi
    done
    rm -rf "$WORK"
  fi
  log "== teardown took $(elapsed "$t0" "$(now)")s"
  PHASES+=("$(printf '%-10s %6ss' teardown "$(elapsed "$t0" "$(now)")")")
  echo
  echo "phase timings:"
  printf '  %s\n' "${PHASES[@]}"
  printf '  %-10s %6ss\n' total "$(elapsed "$START" "$(now)")"
  # The closing line that test tooling reads.
  echo "docker-e2e: $PASSED passed, $((FAILED > 0 || status == 0 ? FAILED : 1)) failed"
  if [[ $status -eq 0 && $FAILED -eq 0 ]]; then exit 0; fi
  exit 1
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
[[ $EUID -eq 0 ]] || {
  echo "$0: run as root (it starts its own Docker daemon)" >&2
  exit 2
}

phase engine
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker >/dev/null || missing+=(docker.io)
if [[ -z ${COMPOSE:-} ]] && ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
  missing+=(docker-compose)
fi
[[ -x /usr/bin/tini-static ]] || missing+=(tini)
[[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1 || missing+=(busybox-static)
if ((${#missing[@]} > 0)); then
  log "installing ${missing[*]} (Debian packages)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for need in dockerd docker node npm ip; do command -v "$need" >/dev/null || die "$need not found"; done

# ---------------------------------------------------------------------------------------------
phase daemon
WORK=$(mktemp -d /tmp/sotto-docker-e2e.XXXXXX)
SOCKET=$WORK/docker.sock
export DOCKER_HOST="unix://$SOCKET"
mkdir -p "$WORK/data" "$WORK/exec"
for trace in "${HOST_TRACES[@]}"; do [[ -e $trace ]] || CREATED_TRACES+=("$trace"); done
dockerd \
  --iptables=false --ip-forward=false --ip-masq=false --bridge=none \
  --data-root "$WORK/data" --exec-root "$WORK/exec" --pidfile "$WORK/dockerd.pid" \
  -H "unix://$SOCKET" \
  --default-address-pool "base=$ADDRESS_POOL,size=24" \
  >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
wait_until 60 "dockerd to answer on $SOCKET" docker version
kill -0 "$DOCKERD_PID" 2>/dev/null || die "dockerd exited: $(tail -5 "$WORK/dockerd.log")"
log "dockerd pid $DOCKERD_PID, $(docker version -f 'server {{.Server.Version}}, client {{.Client.Version}}')"

if [[ -n ${COMPOSE:-} ]]; then
  read -r -a COMPOSE_CMD <<<"$COMPOSE"
elif docker compose version >/dev/null 2>&1; then
  COMPOSE_CMD=(docker compose)
else
  COMPOSE_CMD=(docker-compose)
fi
log "compose: ${COMPOSE_CMD[*]} ($("${COMPOSE_CMD[@]}" version --short 2>/dev/null || echo '?'))"
export DEVNET_IMAGE="$IMAGE"
# Every Compose command is bounded (`up` waits for the health conditions of depends_on).
compose() { timeout 300 "${COMPOSE_CMD[@]}" -p "$PROJECT" -f "$REPO/docker/compose.yaml" "${PROFILE_ARGS[@]}" "$@"; }
# json EXPRESSION: reads one JSON document on stdin, prints the JS expression over it (`d`).
json() { node -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>{const d=JSON.parse(s);const v=('"$1"');process.stdout.write(typeof v==="string"?v:JSON.stringify(v))})'; }

# ---------------------------------------------------------------------------------------------
phase base
timeout 600 bash "$REPO/docker/make-local-base.sh" "$BASE_IMAGE" "$BUILD_BASE_IMAGE" "$REPO" 2>&1 | sed 's/^/    /'
docker image inspect "$BASE_IMAGE" "$BUILD_BASE_IMAGE" >/dev/null || die "base images missing"
pass "local base images made ($(docker image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{ printf "%d MB", $1 / 1e6 }'))"

# ---------------------------------------------------------------------------------------------
phase image
# The build context holds exactly what the Dockerfile copies (no node_modules, no .git).
CONTEXT=$WORK/context
mkdir -p "$CONTEXT"
cp -r "$REPO"/{package.json,package-lock.json,tsconfig.json,src,protocols,docker} "$CONTEXT/"
if ! timeout 900 docker build --network none \
  --build-arg "NODE_IMAGE=$BASE_IMAGE" --build-arg "BUILD_IMAGE=$BUILD_BASE_IMAGE" \
  -f "$CONTEXT/docker/Dockerfile" -t "$IMAGE" "$CONTEXT" >"$WORK/build.log" 2>&1; then
  tail -40 "$WORK/build.log"
  die "docker build failed"
fi
rm -rf "$CONTEXT"
pass "image built: $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%d MB", $1 / 1e6 }'))"
[[ $(docker image inspect -f '{{.Config.User}}' "$IMAGE") == node ]] || die "the image does not run as user node"
[[ -n $(docker image inspect -f '{{if .Config.Healthcheck}}yes{{end}}' "$IMAGE") ]] || die "the image has no HEALTHCHECK"
pass "image runs as user node, has a HEALTHCHECK"
version=$(timeout 60 docker run --rm --network none "$IMAGE" version)
[[ $version == *"$(node -p 'require(process.argv[1]).version' "$REPO/package.json")"* ]] ||
  die "\`docker run IMAGE version\` printed \"$version\""
code=0
out=$(timeout 60 docker run --rm --network none -e SOTTO_NO_SUCH_SETTING=1 "$IMAGE" config 2>&1) || code=$?
[[ $code -eq 7 && $out == *SOTTO_NO_SUCH_SETTING* ]] || die "an unknown SOTTO_* variable was not refused (exit $code): $out"
pass "docker run IMAGE <command> runs the CLI; an unknown SOTTO_* variable is refused (exit 7)"
log "node in the image: $(docker run --rm --network none --entrypoint node "$IMAGE" --version)"

# Prometheus for the `metrics` profile: made from this machine's binary (no registry here). A
# machine without Debian's `prometheus` package gets the binary from that package's .deb,
# downloaded and unpacked into this run's temp dir (`apt-get download` + `dpkg -x`: nothing is
# installed, no service is started); only E2E_PROMETHEUS=0 leaves the metrics checks out.
PROMETHEUS_BINARY=/usr/bin/prometheus
if [[ ${E2E_PROMETHEUS:-1} != 0 && ! -x $PROMETHEUS_BINARY ]]; then
  log "no /usr/bin/prometheus: unpacking Debian's prometheus package into the run's temp dir"
  (cd "$WORK" && timeout 300 apt-get download prometheus >/dev/null 2>&1) ||
    { apt-get update -qq >/dev/null && (cd "$WORK" && timeout 300 apt-get download prometheus >/dev/null 2>&1); } ||
    die "apt-get download prometheus failed (set E2E_PROMETHEUS=0 to run without the metrics checks)"
  dpkg -x "$WORK"/prometheus_*.deb "$WORK/prometheus-deb"
  PROMETHEUS_BINARY=$WORK/prometheus-deb/usr/bin/prometheus
  [[ -x $PROMETHEUS_BINARY ]] || die "the prometheus package holds no usr/bin/prometheus"
fi
if [[ ${E2E_PROMETHEUS:-1} == 0 ]]; then
  log "E2E_PROMETHEUS=0: no Prometheus"
else
  log "$PROMETHEUS_BINARY: $(ldd "$PROMETHEUS_BINARY" >/dev/null 2>&1 && echo "dynamically linked ($(ldd "$PROMETHEUS_BINARY" | awk '/=>/ { print $1 }' | tr '\n' ' '))" || echo static)"
  timeout 300 bash "$REPO/docker/make-local-prometheus.sh" "$PROMETHEUS_LOCAL_IMAGE" "$BASE_IMAGE" "$PROMETHEUS_BINARY" 2>&1 | sed 's/^/    /'
  docker image inspect "$PROMETHEUS_LOCAL_IMAGE" >/dev/null 2>&1 || die "the local Prometheus image was not made"
  [[ $(docker run --rm --network none "$PROMETHEUS_LOCAL_IMAGE" --version 2>&1) == *"prometheus, version"* ]] ||
    die "the local Prometheus image does not run"
  pass "local Prometheus image made from $PROMETHEUS_BINARY ($(docker image inspect -f '{{.Size}}' "$PROMETHEUS_LOCAL_IMAGE" | awk '{ printf "%d MB", $1 / 1e6 }'))"
  export PROMETHEUS_IMAGE=$PROMETHEUS_LOCAL_IMAGE
  # A port on 127.0.0.1 that is free now (asked of the OS; the devnet publishes Prometheus there).
  PROMETHEUS_PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  export PROMETHEUS_PORT
  PROFILE_ARGS=(--profile metrics)
fi

# ---------------------------------------------------------------------------------------------
phase devnet
COMPOSE_UP=1
compose up -d --no-build --scale node=3 >"$WORK/compose-up.log" 2>&1 || {
  cat "$WORK/compose-up.log"
  die "compose up failed"
}
cid() {
  docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" \
    --filter "label=com.docker.compose.service=$1" --filter "label=com.docker.compose.container-number=${2:-1}"
}
CONTAINERS=("$(cid bootstrap)" "$(cid mailbox)" "$(cid node 1)" "$(cid node 2)" "$(cid node 3)")
for c in "${CONTAINERS[@]}"; do [[ -n $c ]] || die "a devnet container is missing: $(compose ps)"; done
all_healthy() {
  local c
  for c in "${CONTAINERS[@]}"; do
    [[ $(docker inspect -f '{{.State.Health.Status}}' "$c") == healthy ]] || return 1
  done
}
wait_until 180 "all 5 containers healthy" all_healthy
pass "bootstrap, mailbox and 3 nodes healthy"

mapfile -t NETWORK_IDS < <(docker network ls -q --no-trunc --filter "label=com.docker.compose.project=$PROJECT")
NETWORK_ID=$(docker network ls -q --no-trunc --filter "label=com.docker.compose.project=$PROJECT" \
  --filter "label=com.docker.compose.network=devnet")
[[ -n $NETWORK_ID ]] || die "the devnet network is missing"
if ((${#PROFILE_ARGS[@]} > 0)); then
  ui=$(docker network ls -q --no-trunc --filter "label=com.docker.compose.project=$PROJECT" \
    --filter "label=com.docker.compose.network=prometheus-ui")
  [[ -n $ui ]] || die "the prometheus-ui network is missing"
  # Only Prometheus is on the network that is not internal; no node is.
  on_ui=$(docker network inspect -f '{{range .Containers}}{{.Name}} {{end}}' "$ui")
  [[ $on_ui == *prometheus* && $on_ui != *node* && $on_ui != *bootstrap* && $on_ui != *mailbox* ]] ||
    die "the prometheus-ui network holds \"$on_ui\", expected Prometheus only"
  pass "only Prometheus is on the non-internal network prometheus-ui ($on_ui)"
fi
[[ $(docker network inspect -f '{{.Internal}}' "$NETWORK_ID") == true ]] || die "the devnet network is not internal"
subnet=$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$NETWORK_ID")
[[ $subnet == 10.213.* ]] || die "the devnet network has subnet $subnet, outside $ADDRESS_POOL"
pass "devnet network internal, subnet $subnet"
for c in "${CONTAINERS[@]}"; do
  [[ $(docker inspect -f '{{.HostConfig.Init}}' "$c") == true ]] || die "container $c runs without init"
done
pass "every container runs with init"
listen=$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$(cid node 1)" | sed -n 's/^SOTTO_LISTEN=//p')
[[ $listen == *"/tcp/4001"* && $listen == *"/tcp/4002/ws"* ]] || die "the nodes do not listen on TCP and WebSocket: $listen"

# WebSocket between two containers: a throwaway daemon in node 3's container (its own data dir in
# /tmp, API and metrics on loopback with any port, no listen address others could dial) whose only
# bootstrap address is the bootstrap container's /ws one. Its peers (`sotto peers --json`, through
# its own daemon.json) must include the bootstrap node at that WebSocket address.
BOOT_PEER=$(timeout 60 docker exec "$(cid bootstrap)" sotto id --json | json d.peerId)
WS_ADDR=/dns4/bootstrap/tcp/4002/ws/p2p/$BOOT_PEER
PROBE=$(cid node 3)
PROBE_ENV=(-e SOTTO_HOME=/tmp/ws-probe -e SOTTO_LISTEN=/ip4/127.0.0.1/tcp/0 -e SOTTO_API_PORT=0
  -e SOTTO_METRICS_LISTEN=127.0.0.1:0 -e SOTTO_DHT_MODE=client -e SOTTO_LOG_LEVEL=warn)
timeout 30 docker exec -d "${PROBE_ENV[@]}" -e "SOTTO_BOOTSTRAP=$WS_ADDR" "$PROBE" sotto start
# The bootstrap node's addresses in the probe's `sotto peers --json` (empty while not connected).
ws_peer_addresses() {
  timeout 30 docker exec -e SOTTO_HOME=/tmp/ws-probe "$PROBE" sotto peers --json |
    json "(d.peers.find(p => p.peerId === '$BOOT_PEER')?.addresses ?? []).join(' ')"
}
ws_connected() { [[ $(ws_peer_addresses) == *"/tcp/4002/ws"* ]]; }
wait_until 90 "a WebSocket connection from node 3's container to $WS_ADDR" ws_connected
ws_seen=$(ws_peer_addresses)
probe_pid=$(timeout 30 docker exec "$PROBE" cat /tmp/ws-probe/daemon.json | json d.pid)
timeout 30 docker exec "$PROBE" kill -TERM "$probe_pid"
probe_gone() { ! timeout 30 docker exec "$PROBE" test -e /tmp/ws-probe/daemon.json; }
wait_until 30 "the WebSocket probe daemon (pid $probe_pid in $PROBE) to stop" probe_gone
timeout 30 docker exec "$PROBE" rm -rf /tmp/ws-probe
pass "WebSocket between containers: node 3's container reached the bootstrap node at $ws_seen"

# ---------------------------------------------------------------------------------------------
phase messages
# sotto SERVICE INDEX ARGS...: the CLI inside a container, through Compose (what a developer types).
sotto() {
  local service=$1 index=$2
  shift 2
  timeout 120 "${COMPOSE_CMD[@]}" -p "$PROJECT" -f "$REPO/docker/compose.yaml" \
    exec -T --index="$index" "$service" sotto "$@"
}
# qsotto SERVICE INDEX ARGS...: the same through `docker exec` (the polls: no Compose start-up cost).
qsotto() {
  local service=$1 index=$2
  shift 2
  timeout 60 docker exec "$(cid "$service" "$index")" sotto "$@"
}

A=$(sotto node 1 id --json | json d.address)
B=$(sotto node 2 id --json | json d.address)
C=$(sotto node 3 id --json | json d.address)
MAILBOX_PEER=$(sotto mailbox 1 id --json | json d.peerId)
for v in "$A" "$B" "$C"; do [[ $v == sotto1* ]] || die "bad address from sotto id: $v"; done
log "alice=node 1 $A"
log "bob=node 2 $B"
log "carol=node 3 $C"
log "mailbox peer $MAILBOX_PEER"
mailboxes_of_bob=$(sotto node 2 mailbox list --json | json 'JSON.stringify(d)')
[[ $mailboxes_of_bob == *"$MAILBOX_PEER"* ]] || die "bob's node does not list the devnet mailbox: $mailboxes_of_bob"
pass "nodes list the devnet mailbox ($MAILBOX_PEER)"

sotto node 1 contacts add bob "$B" >/dev/null
sotto node 1 contacts add carol "$C" >/dev/null
sotto node 2 contacts add alice "$A" >/dev/null
sotto node 3 contacts add alice "$A" >/dev/null
contacts_of_alice=$(sotto node 1 contacts list --json | json 'd.contacts.map(c => c.name).sort().join(",")')
[[ $contacts_of_alice == bob,carol ]] || die "alice's contacts are \"$contacts_of_alice\", expected bob and carol"
pass "contacts added with the CLI"

# send FROM_INDEX CONTACT TEXT: prints the message id; expects "delivered". A recipient whose record
# is not in the DHT yet (exit 4) is tried again until the deadline; nothing was sent then.
send_delivered() {
  local from=$1 to=$2 text=$3 out code deadline=$(($(date +%s) + 60))
  while :; do
    code=0
    out=$(sotto node "$from" send --json "$to" "$text" 2>"$WORK/send.err") || code=$?
    [[ $code -ne 4 ]] && break
    (($(date +%s) < deadline)) || die "send from node $from to $to: recipient not found for 60 s: $(cat "$WORK/send.err")"
    sleep 1
  done
  [[ $code -eq 0 ]] || die "send from node $from to $to exited $code: $out $(cat "$WORK/send.err")"
  [[ $(json d.state <<<"$out") == delivered ]] || die "send from node $from to $to: $out (expected delivered)"
  json d.id <<<"$out"
}
# has_message INDEX CONTACT ID DIRECTION: the conversation holds that message once.
has_message() {
  local n
  n=$(qsotto node "$1" chat "$2" --json --limit 100 |
    json "d.messages.filter(m => m.id === '$3' && m.direction === '$4').length")
  [[ $n == 1 ]]
}

t_ab="hello bob, from alice's container"
id_ab=$(send_delivered 1 bob "$t_ab")
pass "alice → bob delivered ($id_ab)"
id_ba=$(send_delivered 2 alice "hi alice, bob here")
pass "bob → alice delivered ($id_ba)"
id_ca=$(send_delivered 3 alice "carol says hi")
pass "carol → alice delivered ($id_ca)"

wait_until 20 "bob's history to hold alice's message" has_message 2 alice "$id_ab" in
text=$(sotto node 2 chat alice --json | json "d.messages.find(m => m.id === '$id_ab').text")
[[ $text == "$t_ab" ]] || die "bob's copy of the message reads \"$text\""
wait_until 20 "alice's history to hold bob's reply" has_message 1 bob "$id_ba" in
wait_until 20 "alice's history to hold carol's message" has_message 1 carol "$id_ca" in
pass "histories (sotto chat) hold each message once, text intact"
# /metrics with the node's token, as docs/DOCKER.md shows it.
# shellcheck disable=SC2016 # JavaScript, not shell
metrics=$(timeout 60 docker exec "$(cid node 1)" node -e '
  const token = require("fs").readFileSync("/data/api-token", "utf8").trim();
  fetch("http://127.0.0.1:7373/metrics", { headers: { authorization: `Bearer ${token}` } })
    .then((r) => r.text()).then((t) => process.stdout.write(t));')
sent=$(awk '/^sotto_messages_sent_total\{.*state="delivered"/ { s += $2 } END { print s + 0 }' <<<"$metrics")
received=$(awk '/^sotto_messages_received_total/ { s += $2 } END { print s + 0 }' <<<"$metrics")
[[ ${sent%%.*} -ge 1 && ${received%%.*} -ge 2 ]] ||
  die "alice's /metrics: sent $sent, received $received; expected at least 1 and 2"
pass "/metrics (token from the data dir, inside the container): alice sent $sent, received $received"
chat=$(sotto node 2 chat alice)
[[ $chat == *"$t_ab"* ]] || die "sotto chat (human output) does not show the message: $chat"
pass "sotto chat shows the conversation"

# ---------------------------------------------------------------------------------------------
phase metrics
# The metrics listener across the internal network, as Prometheus sees it: from node 1's container,
# GET http://bootstrap:9464/metrics (no token in the devnet) has sotto's counters; any other path,
# an API route included, is 404.
# shellcheck disable=SC2016 # JavaScript, not shell
listener=$(timeout 60 docker exec "$(cid node 1)" node -e '
  const get = (path) => fetch(`http://bootstrap:9464${path}`).then(async (r) => `${r.status} ${await r.text()}`);
  Promise.all([get("/metrics"), get("/v1/identity"), get("/health")]).then(([m, i, h]) => {
    const ok = /^200 /.test(m) && /^sotto_messages_sent_total/m.test(m) && /^404 /.test(i) && /^404 /.test(h);
    process.stdout.write(ok ? "ok" : `unexpected: ${m.slice(0, 80)} | ${i.slice(0, 80)} | ${h.slice(0, 80)}`);
  });')
[[ $listener == ok ]] || die "bootstrap:9464 from node 1's container: $listener"
pass "metrics listener across the network: GET /metrics has sotto_* series; /v1/identity and /health are 404"

if ((${#PROFILE_ARGS[@]} == 0)); then
  log "no Prometheus in this run: its checks are skipped"
else
  PROM=$(cid prometheus)
  [[ -n $PROM ]] || die "the prometheus container is missing: $(compose ps)"
  [[ $(docker port "$PROM" 9090/tcp) == "127.0.0.1:$PROMETHEUS_PORT" ]] ||
    die "Prometheus is published on \"$(docker port "$PROM" 9090/tcp)\", expected 127.0.0.1:$PROMETHEUS_PORT only"
  PROM_URL="http://127.0.0.1:$PROMETHEUS_PORT"
  # promql QUERY: the query's result vector (JSON) from Prometheus's HTTP API on the published port.
  promql() {
    node -e 'fetch(process.argv[1] + "/api/v1/query?query=" + encodeURIComponent(process.argv[2]), { signal: AbortSignal.timeout(10000) })
      .then((r) => r.json()).then((b) => { if (b.status !== "success") process.exit(1); process.stdout.write(JSON.stringify(b.data.result)); })
      .catch(() => process.exit(1))' "$PROM_URL" "$1"
  }
  prom_ready() { node -e 'fetch(process.argv[1] + "/-/ready", { signal: AbortSignal.timeout(5000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$PROM_URL"; }
  wait_until 60 "Prometheus ready on $PROM_URL" prom_ready
  pass "Prometheus answers on $PROM_URL (published on 127.0.0.1 only)"
  # Every node target (bootstrap, mailbox, 3 replicas of node found by DNS) up.
  all_up() {
    [[ $(promql 'up{job="sotto"}' | json "d.filter(r => r.value[1] === '1').length") == "${#CONTAINERS[@]}" ]]
  }
  wait_until 90 "Prometheus to report all ${#CONTAINERS[@]} node targets up" all_up
  targets=$(promql 'up{job="sotto"}' | json "d.map(r => r.metric.service + '=' + r.value[1]).sort().join(' ')")
  [[ $targets == "bootstrap=1 mailbox=1 node=1 node=1 node=1" ]] || die "Prometheus targets: $targets"
  pass "Prometheus: every node target up (${targets})"
  # The three sends above were delivered: Prometheus has them once it has scraped the senders.
  sent_total() { promql 'sum(sotto_messages_sent_total{job="sotto",state="delivered"})' | json 'd.length ? d[0].value[1] : "0"'; }
  sent_at_least_3() { [[ $(sent_total) -ge 3 ]]; }
  wait_until 60 "Prometheus to count the 3 delivered messages" sent_at_least_3
  pass "Prometheus: sum(sotto_messages_sent_total{state=\"delivered\"}) = $(sent_total) after the 3 sends"
fi

# ---------------------------------------------------------------------------------------------
phase mailbox
BOB=$(cid node 2)
t0=$(now)
docker stop -t 10 "$BOB" >/dev/null
log "bob's container stopped in $(elapsed "$t0" "$(now)")s"
[[ $(docker inspect -f '{{.State.Running}}' "$BOB") == false ]] || die "bob's container still runs"

t_offline="while you were away: this waited at the mailbox"
t0=$(now)
code=0
out=$(sotto node 1 send bob "$t_offline" 2>"$WORK/send.err") || code=$?
log "send to the stopped node took $(elapsed "$t0" "$(now)")s: $out"
[[ $code -eq 0 ]] || die "send to the stopped node exited $code: $out $(cat "$WORK/send.err")"
[[ $out == *"stored at a mailbox"* ]] || die "send to the stopped node printed \"$out\", expected \"stored at a mailbox\""
id_off=${out%% *}
pass "alice → stopped bob: stored at a mailbox ($id_off)"
held=$(sotto mailbox 1 status --json | json 'd.mailbox ? d.mailbox.held : -1')
((held >= 1)) || die "the mailbox holds $held envelopes, expected at least 1"
pass "the mailbox holds $held envelope(s)"

t0=$(now)
docker start "$BOB" >/dev/null
wait_until 120 "bob's container healthy again" \
  bash -c "[[ \$(docker inspect -f '{{.State.Health.Status}}' $BOB) == healthy ]]"
log "bob's container healthy again after $(elapsed "$t0" "$(now)")s"
[[ $(sotto node 2 id --json | json d.address) == "$B" ]] || die "bob's node came back with another identity"
wait_until 90 "the mailboxed message in bob's history" has_message 2 alice "$id_off" in
log "the message reached bob $(elapsed "$t0" "$(now)")s after the start"
text=$(sotto node 2 chat alice --json --limit 100 | json "d.messages.find(m => m.id === '$id_off').text")
[[ $text == "$t_offline" ]] || die "bob's copy of the mailboxed message reads \"$text\""
has_message 2 alice "$id_ab" in || die "bob lost the first message over the restart"
pass "bob's restarted node fetched the message from the mailbox, once, text intact"
delivered() {
  [[ $(qsotto node 1 chat bob --json --limit 100 | json "d.messages.find(m => m.id === '$id_off')?.state") == delivered ]]
}
wait_until 60 "alice to see the mailboxed message delivered (receipt)" delivered
pass "alice sees it delivered"
mailbox_empty() { [[ $(qsotto mailbox 1 status --json | json 'd.mailbox.held') == 0 ]]; }
wait_until 60 "the mailbox to delete the fetched envelope" mailbox_empty
pass "the mailbox deleted the envelope after the fetch"
for c in "${CONTAINERS[@]}"; do
  state=$(docker inspect -f '{{.State.Status}} {{.State.Health.Status}} {{.RestartCount}}' "$c")
  [[ $state == "running healthy 0" ]] || die "container $c is \"$state\" at the end (a daemon crashed?)"
done
pass "all 5 daemons still running and healthy at the end"

end_phase
log "all checks passed"
