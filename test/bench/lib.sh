# shellcheck shell=bash disable=SC2154 # $bin and $here are the sourcing script's
# Shared by the `make bench` scripts (run.sh, tls.sh); sourced, not run. Sourcing it makes a
# scratch directory $tmp and a trap that stops every process in $pids and removes $tmp on exit.
# The sourcing script sets $bin (the gatehouse binary) before it calls start_backend.

log() { echo "bench: $*" >&2; }
die() { log "FAIL: $*"; exit 1; }

# install_peers: the Debian packages the benchmarks drive, skipping what is present.
install_peers() {
  local need=()
  command -v nginx >/dev/null || need+=(nginx-light)
  command -v wrk >/dev/null || need+=(wrk)
  command -v curl >/dev/null || need+=(curl)
  command -v openssl >/dev/null || need+=(openssl)
  [ ${#need[@]} -eq 0 ] && return
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  log "installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# go_install_cached NAME PACKAGE VERSION: prints the path of the binary NAME built from the Go
# module proxy with `go install PACKAGE@VERSION`, building it only when the cache keyed by
# version does not have it yet.
go_install_cached() {
  local name=$1 pkg=$2 version=$3
  local dir="${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse-bench/$name-$version"
  if [ ! -x "$dir/$name" ]; then
    log "building $name $version from the Go module proxy into $dir (once per version)"
    mkdir -p "$dir"
    (cd "$tmp" && GOBIN="$dir" GOFLAGS=-mod=mod "${GO:-go}" install "$pkg@$version") >&2 ||
      die "building $name $version failed"
  fi
  echo "$dir/$name"
}

# ghz_to OUT PORT METHOD [GHZ ARGS...]: one ghz run ($ghz, plaintext, $connections connections) of
# METHOD against 127.0.0.1:PORT through reflection. Calls in flight at the end are waited for, so
# none is cut off as an error.
ghz_to() {
  local out=$1 port=$2 method=$3; shift 3
  "$ghz" --insecure --call "$method" --connections "$connections" --duration-stop wait "$@" "127.0.0.1:$port" >"$out" &
  pids+=($!)
  wait $! || { show_log "$out"; die "ghz failed"; }
}

# ghz_stats FILE: "requests/s p50-ms p99-ms ok errors" from a ghz summary report; errors are the
# responses with any other gRPC status (a transport failure is reported as Unavailable).
ghz_stats() {
  awk '
    function ms(v, u) {
      if (u == "ns") return v / 1e6
      if (u == "µs" || u == "us") return v / 1000
      if (u == "s") return v * 1000
      return v + 0
    }
    /Requests\/sec:/ { rps = $2 }
    /^ +50 % in / { p50 = ms($4, $5) }
    /^ +99 % in / { p99 = ms($4, $5) }
    /^Status code distribution:/ { status = 1; next }
    /^[A-Z]/ { status = 0 }
    status && /\[OK\]/ { okn += $2 }
    status && /\[/ && !/\[OK\]/ { bad += $NF == "responses" ? $(NF - 1) : 0 }
    END { printf "%.0f %.3f %.3f %d %d\n", rps, p50, p99, okn, bad }
  ' "$1"
}

# b64url: stdin in base64url without padding, as JOSE writes it.
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# jwt_key: an RS256 key pair in $tmp/jwt.key and its public JWKS (kid "bench") in $jwks, made with
# openssl alone so the benchmarks need no helper program.
jwt_key() {
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/jwt.key" 2>/dev/null ||
    die "openssl could not make the JWT key"
  local n
  n=$(openssl rsa -in "$tmp/jwt.key" -noout -modulus | cut -d= -f2)
  # shellcheck disable=SC2001 # hex to bytes without xxd, which Debian does not install by default
  n=$(printf '%b' "$(sed 's/../\\x&/g' <<<"$n")" | b64url)
  # shellcheck disable=SC2034 # $jwks is for the sourcing script
  jwks="{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"bench\",\"alg\":\"RS256\",\"use\":\"sig\",\"n\":\"$n\",\"e\":\"AQAB\"}]}"
}

# jwt_sign PAYLOAD_JSON: prints an RS256 token over the payload, signed with $tmp/jwt.key.
jwt_sign() {
  local hdr payload
  hdr=$(printf '{"alg":"RS256","kid":"bench","typ":"JWT"}' | b64url)
  payload=$(printf '%s' "$1" | b64url)
  echo "$hdr.$payload.$(printf '%s' "$hdr.$payload" | openssl dgst -sha256 -sign "$tmp/jwt.key" -binary | b64url)"
}

tmp=$(mktemp -d /tmp/gatehouse-bench.XXXXXX)
pids=()
# stop_children: ends every process this script started, so the next measurement has the
# machine to itself.
stop_children() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_children
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A loopback port nobody listens on, below the ephemeral range so clients cannot take it.
used_ports=" "
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    [[ $used_ports == *" $p "* ]] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    used_ports+="$p "
    echo "$p"
    return
  done
}

# wait_http PID URL [curl args...]: polls for a 200 for at most 15s, while process PID lives.
wait_http() {
  local pid=$1 url=$2; shift 2
  local deadline=$((SECONDS + 15))
  until curl -fsS -o /dev/null --max-time 1 "$@" "$url" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] && kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
}

# show_log FILE: the end of a child's log, when something it runs goes wrong.
show_log() { log "--- last lines of $1"; tail -n 20 "$1" >&2 || true; }

start_backend() { # NAME PORT
  "$bin" demo-backend --name "$1" --listen "127.0.0.1:$2" >"$tmp/backend-$1.log" 2>&1 &
  pids+=($!)
  wait_http $! "http://127.0.0.1:$2/healthz" || { show_log "$tmp/backend-$1.log"; die "backend $1 not up"; }
}

# wrk_stats FILE: "requests/s p99-ms non-2xx socket-errors" from a wrk --latency report.
wrk_stats() {
  local rps p99 non errs
  read -r rps _ p99 non errs < <(wrk_lat "$1")
  printf '%s %.2f %s %s\n' "$rps" "$p99" "$non" "$errs"
}

# wrk_lat FILE: "requests/s p50-ms p99-ms non-2xx socket-errors" from a wrk --latency report.
wrk_lat() {
  awk '
    function ms(v) {
      if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
      if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
      if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60000 }
      if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
      return v + 0
    }
    /^Requests\/sec:/ { rps = $2 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { gsub(/,/, ""); errs = $4 + $6 + $8 + $10 }
    END { printf "%.0f %.3f %.3f %d %d\n", rps, p50, p99, non2xx, errs }
  ' "$1"
}

# hey_stats FILE: "requests/s p50-ms p99-ms ok errors" from a hey report, as ghz_stats: ok are
# the 200 responses, errors every other status and every transport error.
hey_stats() {
  awk '
    /Requests\/sec:/ { rps = $2 }
    /^ +50% in / { p50 = $3 * 1000 }
    /^ +99% in / { p99 = $3 * 1000 }
    /^Status code distribution:/ { sect = "status"; next }
    /^Error distribution:/ { sect = "error"; next }
    sect == "status" && /\[200\]/ { okn += $2 }
    sect == "status" && /\[[0-9]+\]/ && !/\[200\]/ { bad += $2 }
    sect == "error" && /\[[0-9]+\]/ { gsub(/[][]/, "", $1); bad += $1 }
    END { printf "%.0f %.3f %.3f %d %d\n", rps, p50, p99, okn, bad }
  ' "$1"
}

# cpu_busy: how busy all cores are over one second, from /proc/stat ("12%").
cpu_busy() {
  local a b
  a=$(head -1 /proc/stat); sleep 1; b=$(head -1 /proc/stat)
  printf '%s\n%s\n' "$a" "$b" | awk '
    { idle[NR] = $5 + $6; total[NR] = 0; for (i = 2; i <= NF; i++) total[NR] += $i }
    END { t = total[2] - total[1]; printf "%.0f%%\n", (t > 0 ? 100 * (1 - (idle[2] - idle[1]) / t) : 0) }'
}

# ratio A B: A / B to two decimals, or n/a when B is zero.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# machine: the line RESULTS.md gives the machine a run was on.
machine() {
  echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), Linux $(uname -r)"
}

# append_results TEXT: adds one run's section to RESULTS.md beside these scripts.
append_results() {
  local results="$here/RESULTS.md"
  [ -f "$results" ] || echo "# Benchmark results" >"$results"
  echo "$1" >>"$results"
  log "appended to $results"
}

# wrk_to OUT DURATION PORT: one wrk run against the calling script's `wrk_url PORT`, with its
# `wrk_args`, as a child the traps can stop at once.
wrk_to() {
  wrk -t"$threads" -c"$conns" -d"$2" --latency "${wrk_args[@]}" "$(wrk_url "$3")" >"$1" &
  pids+=($!)
  wait $! || die "wrk against port $3 failed"
}

# cpu_ticks PID...: the CPU time (user + system, all threads) the processes have used so far, in
# clock ticks.
cpu_ticks() {
  local p t=0 utime stime
  for p in "$@"; do
    read -r utime stime < <(awk '{ print $14, $15 }' "/proc/$p/stat")
    t=$((t + utime + stime))
  done
  echo "$t"
}

# us_per_request TICKS WRK_FILE: CPU microseconds per request, from the ticks a process used during
# a measured wrk run and the requests that run completed.
us_per_request() {
  local hz requests
  hz=$(getconf CLK_TCK)
  requests=$(awk '/requests in/ { print $1 }' "$2")
  awk -v t="$1" -v hz="$hz" -v n="$requests" 'BEGIN { if (n > 0) printf "%.1f\n", t * 1e6 / hz / n; else print "n/a" }'
}

# wrk_run NAME PORT: a warm-up, then the measured run; wrk's report goes to $tmp/NAME.wrk.
# With PIDS after PORT, the CPU those processes used during the measured run goes to
# $tmp/NAME.ticks.
wrk_run() {
  local name=$1 port=$2 t0; shift 2
  wrk_to /dev/null "$warmup" "$port"
  log "measuring $name ($duration, $threads threads, $conns connections)"
  [ $# -eq 0 ] || t0=$(cpu_ticks "$@")
  wrk_to "$tmp/$name.wrk" "$duration" "$port"
  [ $# -eq 0 ] || echo $(($(cpu_ticks "$@") - t0)) >"$tmp/$name.ticks"
}
