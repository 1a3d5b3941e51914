# Shared by the registry benchmarks (sourced): loopback ports, waiting for a server, and the
# configuration of Debian's docker-registry (distribution 2.8) as the peer runs it.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() { # URL: up to 5 s for an answer
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.05
  done
  echo "no answer from $1" >&2
  return 1
}

# Start docker-registry serving ROOT on 127.0.0.1:PORT (filesystem storage, deletes on, no
# access log), its config and log beside ROOT; the PID goes to $registry_pid.
start_distribution() { # ROOT PORT
  cat >"$1.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $1
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$2
YML
  docker-registry serve "$1.yml" >>"$1.log" 2>&1 &
  registry_pid=$!
  wait_http "http://127.0.0.1:$2/v2/"
}
