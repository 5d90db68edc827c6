#!/bin/sh
# The image's entrypoint (under tini): runs `sotto <arguments>`, by default `sotto start`.
#
# Before `sotto start` it runs the optional devnet helpers of docker/devnet.mjs when any DEVNET_*
# variable is set (docker/compose.yaml sets them): publish this node's bootstrap multiaddr or peer
# id to a shared folder, wait for the bootstrap node's and the mailbox's, and announce the
# container's own addresses. They only ever set SOTTO_* variables for the daemon; everything else
# is configured by the SOTTO_* variables given to the container.
set -eu

if [ "$#" -eq 0 ]; then
  set -- start
fi

if [ "$1" = start ] && env | grep -q '^DEVNET_'; then
  # One NAME=value line per variable; the helper only prints names and values it has checked.
  settings=$(node /app/docker/devnet.mjs)
  if [ -n "$settings" ]; then
    while IFS= read -r line; do
      # shellcheck disable=SC2163 # exports NAME=value, as intended
      export "$line"
    done <<EOF
$settings
EOF
  fi
fi

exec sotto "$@"
