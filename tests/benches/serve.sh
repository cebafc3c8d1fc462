#!/usr/bin/env bash
# The serve bench (issue 16): requests per second and p50/p99 latency at 1,
# 16 and 64 keep-alive connections for one small wasi:http component
# (tests/guests/hello-http, no wasmtrace import), served by
#   traced     `wasmtrace serve`, OTLP/gRPC to a real collector (rotel-agent,
#              blackhole exporter),
#   untraced   `wasmtrace serve` with OTEL_SDK_DISABLED=true,
#   wasmtime   `wasmtime serve -S cli` of wasmtime-cli at the workspace's
#              wasmtime version (installed below with `cargo install`),
# side by side: every configuration once per pass, passes alternating, the
# server pinned to CPU 0 and the load generator (wrk) to CPU 1.
#
# Not run by CI (it installs wasmtime-cli: a ~15-minute release build here).
# Needs wrk (`apt-get install wrk`), rotel (`pip install rotel==0.0.1a15`)
# and taskset. From the repository root:
#
#   tests/benches/serve.sh                      # 4 passes of 10 s
#   PASSES=2 DURATION=5s CONNS="1 64" tests/benches/serve.sh
#
# Prints one line per run and, at the end, the median of each cell and the
# ratios (traced / wasmtime and traced / untraced throughput).
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10s}
PASSES=${PASSES:-4}
CONNS=${CONNS:-"1 16 64"}
TOOLS=${TOOLS:-target/serve-bench}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

for tool in wrk taskset curl bc; do
    command -v "$tool" >/dev/null || {
        echo "serve.sh needs $tool (apt-get install wrk util-linux curl bc)" >&2
        exit 1
    }
done
# rotel-agent ships inside the rotel Python package (as the tests find it).
rotel=${WASMTRACE_ROTEL_AGENT:-$(command -v rotel-agent ||
    python3 -c 'import rotel, os; print(os.path.dirname(rotel.__file__) + "/rotel-agent")' 2>/dev/null || true)}
[ -x "$rotel" ] || {
    echo "serve.sh needs rotel-agent (pip install rotel==0.0.1a15)" >&2
    exit 1
}

version=$(sed -n 's/^wasmtime = { version = "\([0-9.]*\)".*/\1/p' Cargo.toml)
cargo build --release -p wasmtrace --bin wasmtrace
cargo build --release --target wasm32-wasip2 -p hello-http
component=target/wasm32-wasip2/release/hello_http.wasm
if ! "$TOOLS/bin/wasmtime" --version 2>/dev/null | grep -q " $version "; then
    cargo install --locked wasmtime-cli --version "$version" --root "$TOOLS"
fi

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

"$rotel" start --otlp-grpc-endpoint 127.0.0.1:14317 --otlp-http-endpoint 127.0.0.1:14318 \
    --exporter blackhole --pid-file "$work/rotel.pid" --log-file "$work/rotel.log" \
    >"$work/rotel.out" 2>&1 &
pids+=($!)

# Starts configuration $1 on port $2 (pinned to SERVER_CPU); its pid in $server.
start() {
    local name=$1 port=$2
    case $name in
    traced)
        OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:14317 taskset -c "$SERVER_CPU" \
            target/release/wasmtrace serve "$component" --listen "127.0.0.1:$port" 2>"$work/$name.err" &
        ;;
    untraced)
        OTEL_SDK_DISABLED=true taskset -c "$SERVER_CPU" \
            target/release/wasmtrace serve "$component" --listen "127.0.0.1:$port" 2>"$work/$name.err" &
        ;;
    wasmtime)
        taskset -c "$SERVER_CPU" "$TOOLS/bin/wasmtime" serve -S cli --addr "127.0.0.1:$port" \
            "$component" 2>"$work/$name.err" &
        ;;
    esac
    server=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "$name did not start:" >&2
    cat "$work/$name.err" >&2
    exit 1
}

# wrk's figures as "req/s p50_ms p99_ms".
measure() {
    local conns=$1 port=$2
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$conns" -d"$DURATION" --latency "http://127.0.0.1:$port/" |
        awk '
            function ms(v) {
                if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
                if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
                if (v ~ /s$/) { sub(/s$/, "", v); return v * 1000 }
                return v
            }
            $1 == "50%" { p50 = ms($2) }
            $1 == "99%" { p99 = ms($2) }
            $1 == "Requests/sec:" { rps = $2 }
            END { printf "%.0f %.3f %.3f\n", rps, p50, p99 }'
}

results="$work/results"
port=18080
echo "serve bench: $DURATION per run, $PASSES passes, connections: $CONNS; wasmtime-cli $version"
for pass in $(seq "$PASSES"); do
    # Alternate the order from pass to pass.
    if ((pass % 2)); then order="traced untraced wasmtime"; else order="wasmtime untraced traced"; fi
    for name in $order; do
        port=$((port + 1))
        start "$name" "$port"
        for conns in $CONNS; do
            read -r rps p50 p99 < <(measure "$conns" "$port")
            echo "pass $pass $name c=$conns: $rps req/s, p50 $p50 ms, p99 $p99 ms"
            echo "$name $conns $rps $p50 $p99" >>"$results"
        done
        kill -INT "$server"
        wait "$server" 2>/dev/null || true
    done
done

echo
echo "median of $PASSES passes:"
printf '| connections | traced req/s | p50 | p99 | untraced req/s | wasmtime req/s | p50 | p99 | traced / wasmtime | traced / untraced |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cell() { awk -v n="$1" -v c="$2" -v f="$3" '$1 == n && $2 == c { print $f }' "$results" | median; }
for conns in $CONNS; do
    t=$(cell traced "$conns" 3) u=$(cell untraced "$conns" 3) w=$(cell wasmtime "$conns" 3)
    printf '| %s | %s | %s ms | %s ms | %s | %s | %s ms | %s ms | %.2f | %.2f |\n' "$conns" \
        "$t" "$(cell traced "$conns" 4)" "$(cell traced "$conns" 5)" "$u" \
        "$w" "$(cell wasmtime "$conns" 4)" "$(cell wasmtime "$conns" 5)" \
        "$(echo "$t / $w" | bc -l)" "$(echo "$t / $u" | bc -l)"
done
