#!/bin/sh
# Which backends the balancer sends requests to. The rolling update's hooks call
# it around each batch: `drain add HOST…` takes backends out, `drain remove HOST…`
# puts them back, `drain refresh` rewrites the list after `backends` changed.
# Each change reloads nginx gracefully (SIGHUP): requests in flight finish.
cd "$(dirname "$0")" || exit 1
touch drained
action=$1
[ $# -gt 0 ] && shift
case $action in
  add) for h in "$@"; do echo "$h" >> drained; done ;;
  remove) for h in "$@"; do grep -v -x -F -- "$h" drained > drained.new; mv drained.new drained; done ;;
  refresh) ;;
  *) echo "usage: drain add|remove|refresh [HOST…]" >&2; exit 2 ;;
esac
awk 'FILENAME == ARGV[1] { d[$1] = 1; next } { printf "server %s%s;\n", $2, ($1 in d) ? " down" : "" }' drained backends > upstreams.conf.new
mv upstreams.conf.new upstreams.conf
if [ -f nginx.pid ]; then kill -HUP "$(cat nginx.pid)" 2>/dev/null || true; fi
