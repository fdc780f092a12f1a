#!/usr/bin/env bash
# The SDK as an application gets it (README.md "Using the C++ SDK in your application"):
# installs this build into a temporary prefix, builds examples/shopping_cart against the
# installed package only, once with CMake (find_package(qkv)) and once with pkg-config
# (qkv.pc), and runs both against a real single-node qkvd from that prefix on 127.0.0.1.
#   package_test.sh BUILD_DIR SOURCE_DIR
# Every step is bounded (timeout); qkvd is killed at the end whatever happens.
set -euo pipefail
build=$(cd "$1" && pwd)
source=$(cd "$2" && pwd)
work=$(mktemp -d /tmp/qkv-package-XXXXXX)
qkvd_pid=""

cleanup() {
  if [[ -n $qkvd_pid ]] && kill -0 "$qkvd_pid" 2>/dev/null; then
    kill -TERM "$qkvd_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$qkvd_pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$qkvd_pid" 2>/dev/null || true
    wait "$qkvd_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "package_test: FAILED: $*" >&2
  exit 1
}

step() { echo "== $*"; }

# 1. The install, and what it must (and must not) hold.
prefix=$work/prefix
step "cmake --install into $prefix"
timeout 120 cmake --install "$build" --prefix "$prefix" >"$work/install.log" ||
  { cat "$work/install.log"; fail "cmake --install"; }
for f in bin/qkvd bin/qkvctl bin/qkv-bench include/qkv/client/client.h \
         include/qkv/client/async_client.h include/qkv/common/status.h \
         include/qkv/proto/client_api.h; do
  [[ -e $prefix/$f ]] || fail "the install lacks $f"
done
config=$(find "$prefix" -name qkvConfig.cmake)
pc=$(find "$prefix" -name qkv.pc)
[[ -n $config && -n $pc ]] || fail "the install lacks qkvConfig.cmake or qkv.pc"
if find "$prefix" -name '*_test' | grep -q .; then fail "tests were installed"; fi

# 2. The example, built from the installed package only: CMake, then pkg-config.
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
step "examples/shopping_cart with find_package(qkv)"
timeout 300 cmake -S "$source/examples/shopping_cart" -B "$work/cmake-build" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; fail "configuring the example against the package"; }
timeout 600 cmake --build "$work/cmake-build" >"$work/build.log" 2>&1 ||
  { cat "$work/build.log"; fail "building the example against the package"; }

step "examples/shopping_cart with pkg-config (qkv.pc)"
mkdir -p "$work/pc-build"
PKG_CONFIG_PATH=$(dirname "$pc") timeout 600 make -s -C "$source/examples/shopping_cart" \
  OUT="$work/pc-build/shopping_cart" >"$work/make.log" 2>&1 ||
  { cat "$work/make.log"; fail "building the example with pkg-config"; }

# 3. A single-node qkvd from the prefix, on free ports of 127.0.0.1 below the ephemeral range.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local port
  for _ in $(seq 200); do
    port=$((20000 + RANDOM % 12000))
    if port_free "$port"; then echo "$port"; return; fi
  done
  fail "no free port"
}
start_qkvd() {
  client_port=$(free_port) peer_port=$(free_port) http_port=$(free_port)
  [[ $client_port != "$peer_port" && $peer_port != "$http_port" && $client_port != "$http_port" ]] ||
    return 1
  rm -rf "$work/data"
  "$prefix/bin/qkvd" --node-id n1 --data-dir "$work/data" \
    --client-listen "127.0.0.1:$client_port" --peer-listen "127.0.0.1:$peer_port" \
    --http-listen "127.0.0.1:$http_port" --members "n1=127.0.0.1:$peer_port" \
    --n 1 --r 1 --w 1 --partitions 16 >"$work/qkvd.log" 2>&1 &
  qkvd_pid=$!
  # Ready once it takes a write (it has its ring); gone early: a port was taken meanwhile.
  local deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)); do
    kill -0 "$qkvd_pid" 2>/dev/null || { wait "$qkvd_pid" || true; qkvd_pid=""; return 1; }
    if timeout 10 "$prefix/bin/qkvctl" --cluster "127.0.0.1:$client_port" \
         put package-test-probe ready >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1  # polling interval only: the condition is the write above
  done
  cat "$work/qkvd.log"
  fail "qkvd did not take a write within 30 s"
}
step "qkvd on 127.0.0.1"
for attempt in 1 2 3; do
  start_qkvd && break
  [[ $attempt -lt 3 ]] || { cat "$work/qkvd.log"; fail "qkvd did not start"; }
done

# 4. Both builds of the example, against it.
run_example() {
  local binary=$1 user=$2 out
  out=$(timeout 60 "$binary" "127.0.0.1:$client_port" "$user" 2>&1) ||
    { echo "$out"; fail "$binary exited with an error"; }
  echo "$out"
  grep -qx "siblings after concurrent writes: 2" <<<"$out" || fail "no siblings from $binary"
  grep -qx "siblings after the merge: 1" <<<"$out" || fail "siblings not merged by $binary"
  grep -qx "cart: \[apples, bread, milk\]" <<<"$out" || fail "an item was lost by $binary"
}
step "the CMake build against qkvd"
run_example "$work/cmake-build/shopping_cart" alice
step "the pkg-config build against qkvd"
run_example "$work/pc-build/shopping_cart" bob
echo "package_test: ok"
