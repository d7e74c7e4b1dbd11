#!/usr/bin/env bash
# The README's sweep measurements: bench/sweep-grid.yaml three ways, one after the other, each
# from an empty runs folder: -j 1, -j 2, and two workers on a Redis of its own (Debian's
# redis-server, on a unix socket). Prints each one's wall time and how many feature
# extractions its runs did (from their logs), then compares the results.csv files.
#
#   npm run build && bash bench/sweep-modes.sh
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLI="$ROOT/dist/src/cli/main.js"
WORK=$(mktemp -d)
cp "$ROOT/bench/sweep-grid.yaml" "$WORK/grid.yaml"
cd "$WORK"
count() { grep -h " features [a-z]*: [0-9]* examples in " runs-$1/grid/0*/log.txt | wc -l; }
for mode in j1 j2 queue; do
  start=$(date +%s.%N)
  case $mode in
    j1) node "$CLI" sweep grid.yaml -j 1 --runs runs-$mode --quiet > $mode.out 2> $mode.err ;;
    j2) node "$CLI" sweep grid.yaml -j 2 --runs runs-$mode --quiet > $mode.out 2> $mode.err ;;
    queue)
      redis-server --port 0 --unixsocket "$WORK/redis.sock" --save '' --appendonly no --daemonize yes --dir "$WORK" --pidfile "$WORK/redis.pid" > /dev/null
      sleep 0.5
      node "$CLI" worker --queue "unix://$WORK/redis.sock" --runs runs-$mode > w1.log 2>&1 & W1=$!
      node "$CLI" worker --queue "unix://$WORK/redis.sock" --runs runs-$mode > w2.log 2>&1 & W2=$!
      node "$CLI" sweep grid.yaml --queue "unix://$WORK/redis.sock" --runs runs-$mode --quiet > $mode.out 2> $mode.err
      kill $W1 $W2; wait $W1 $W2 2>/dev/null
      kill "$(cat "$WORK/redis.pid")" ;;
  esac
  end=$(date +%s.%N)
  echo "$mode: wall $(echo "$end - $start" | bc) s, feature extractions $(count $mode), load $(cut -d' ' -f1-3 /proc/loadavg)"
done
for m in j2 queue; do cmp -s runs-j1/grid/sweeps/*/results.csv runs-$m/grid/sweeps/*/results.csv && echo "results.csv of $m equals j1's" || echo "results.csv of $m DIFFERS from j1's"; done
echo "(in $WORK)"
