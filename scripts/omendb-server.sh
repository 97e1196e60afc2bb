# Sourced by the benchmark scripts: start a release `omendb` on a fresh data directory and stop it
# (and remove the directory) when the script exits.
#
#   start_omendb PORT DATA_DIR LOG_FILE [omendb options...]   sets omendb_pid; waits for the port
#
# Must be sourced after `root` is set; never leaves a server running past the sourcing script.

start_omendb() {
  local port=$1 data=$2 logfile=$3
  shift 3
  rm -rf "$data"
  "$root/target/release/omendb" --port "$port" --listen 127.0.0.1 --data-dir "$data" "$@" \
    >"$logfile" 2>&1 &
  omendb_pid=$!
  omendb_data=$data
  trap 'kill "$omendb_pid" 2>/dev/null; wait "$omendb_pid" 2>/dev/null; rm -rf "$omendb_data"' EXIT
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "omendb did not accept connections on port $port within 30 s; its log: $logfile" >&2
  return 1
}
