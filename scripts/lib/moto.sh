# Sourced by scripts/test, scripts/bench and scripts/profile: start_moto LOG starts moto_server
# on loopback and sets moto_port and moto_pid (the caller's EXIT trap stops it).
#
# The port is drawn below the kernel's ephemeral range (net.ipv4.ip_local_port_range), where no
# outgoing connection or port-0 bind can take it between the check and moto's bind
# (sandbox/src/ports.rs says why). moto is started again on another port if its port was taken
# anyway, and the caller stops with moto's log if it never answers.

free_port_below_ephemeral() {
  python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
# The same ports as hitl_sandbox::ports::draw_range.
ports = range(10000, low) if low > 11000 else range(49152, 65535)
for _ in range(64):
    port = random.choice(ports)
    try:
        socket.socket().bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break
else:
    raise SystemExit("no free port on 127.0.0.1 below the ephemeral range")
PY
}

start_moto() {
  local log=$1 attempt
  for attempt in 1 2 3; do
    moto_port=$(free_port_below_ephemeral)
    "$tools_bin/moto_server" -H 127.0.0.1 -p "$moto_port" > "$log" 2>&1 &
    moto_pid=$!
    for _ in $(seq 1 300); do
      if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$moto_port/moto-api/')" 2>/dev/null; then
        return 0
      fi
      kill -0 "$moto_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$moto_pid" 2>/dev/null || true
    echo "moto did not answer on port $moto_port (attempt $attempt of 3); its log:" >&2
    tail -5 "$log" >&2
  done
  return 1
}
