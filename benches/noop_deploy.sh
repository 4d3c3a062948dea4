#!/usr/bin/env bash
# A no-op `ordo deploy` of the bundled example on the local transport (release
# build): deploy once, then time repeated deploys that change nothing.
#
#   benches/noop_deploy.sh [ORDO_BINARY]
set -euo pipefail
. "$(dirname "$0")/common.sh"
cp -r "$root/examples/hello/." "$work/"
rm -rf "$work/.ordo-hosts"
"$ordo" -C "$work" deploy local --yes >/dev/null
runs=20
start=$(date +%s%N)
for _ in $(seq $runs); do
    "$ordo" -C "$work" deploy local --yes | grep -q 'nothing to change'
done
end=$(date +%s%N)
echo "no-op deploy of examples/hello (2 local hosts, 12 steps): $(( (end - start) / runs / 1000000 )) ms mean over $runs runs"
