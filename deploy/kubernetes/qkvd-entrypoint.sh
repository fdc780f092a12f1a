#!/bin/sh
# Starts qkvd in a pod of the qkv StatefulSet (deploy/kubernetes/base). The node id is the pod
# name (qkv-0, qkv-1, ...); every node advertises its stable DNS name under the headless peer
# Service. Ordinals below QKV_INITIAL_MEMBERS are the initial members (they create the ring
# together); a higher ordinal starts from them as seeds and joins the ring by itself
# ([cluster] auto_join). Extra arguments go to qkvd.
#
# Environment (the StatefulSet sets these; the defaults suit a plain `podman run`):
#   POD_NAME               the pod's name (downward API); default: hostname
#   POD_NAMESPACE          default: default
#   QKV_SERVICE            the headless peer Service (the StatefulSet's serviceName); default qkv
#   QKV_CLUSTER_DOMAIN     default: cluster.local
#   QKV_INITIAL_MEMBERS    how many ordinals create the ring; fixed at cluster creation; default 3
#   QKV_ZONE               this node's failure domain (the base takes it from the pod's
#                          topology.kubernetes.io/zone label); empty: none
#   QKV_MEMORY_LIMIT       the container's memory limit in bytes (downward API
#                          resourceFieldRef limits.memory); sizes the RocksDB block cache
#   QKV_BLOCK_CACHE_PERCENT  the share of that limit for the block cache; default 25
#   QKV_CONFIG             the mounted config; default /etc/qkv/qkvd.toml
#   QKV_DATA_DIR           default /var/lib/qkv/data (a directory on the volume, so the
#                          volume's own lost+found never lands in RocksDB's directory)
#   QKV_RUN_DIR            writable scratch for the effective config (the root filesystem is
#                          read-only); default /tmp
set -eu
name=${POD_NAME:-$(hostname)}
: "${POD_NAMESPACE:=default}"
: "${QKV_SERVICE:=qkv}"
: "${QKV_CLUSTER_DOMAIN:=cluster.local}"
: "${QKV_INITIAL_MEMBERS:=3}"
: "${QKV_ZONE:=}"
: "${QKV_MEMORY_LIMIT:=}"
: "${QKV_BLOCK_CACHE_PERCENT:=25}"
: "${QKV_CONFIG:=/etc/qkv/qkvd.toml}"
: "${QKV_DATA_DIR:=/var/lib/qkv/data}"
: "${QKV_RUN_DIR:=/tmp}"

fail() { echo "qkvd-entrypoint: $*" >&2; exit 2; }
set_name=${name%-*}
ordinal=${name##*-}
case $ordinal in '' | *[!0-9]*) fail "pod name $name does not end in -ORDINAL" ;; esac
case $QKV_INITIAL_MEMBERS in '' | 0 | *[!0-9]*) fail "QKV_INITIAL_MEMBERS=$QKV_INITIAL_MEMBERS" ;; esac
case $QKV_BLOCK_CACHE_PERCENT in '' | *[!0-9]*) fail "QKV_BLOCK_CACHE_PERCENT=$QKV_BLOCK_CACHE_PERCENT" ;; esac

# The pod's own DNS name: <pod>.<service>.<namespace>.svc.<domain>, resolvable before the pod
# is ready because the headless Service publishes not-ready addresses.
dns_name() { echo "$1.$QKV_SERVICE.$POD_NAMESPACE.svc.$QKV_CLUSTER_DOMAIN"; }
self=$(dns_name "$name")

# The effective config: the mounted one, plus the block cache sized from the memory limit
# unless the mounted one sets block_cache_bytes itself (an explicit value wins).
mkdir -p "$QKV_RUN_DIR"
config=$QKV_RUN_DIR/qkvd.toml
cp "$QKV_CONFIG" "$config"
if [ -n "$QKV_MEMORY_LIMIT" ] && ! grep -Eq '^[[:space:]]*block_cache_bytes[[:space:]]*=' "$config"; then
  case $QKV_MEMORY_LIMIT in *[!0-9]*) fail "QKV_MEMORY_LIMIT=$QKV_MEMORY_LIMIT is not bytes" ;; esac
  cache=$((QKV_MEMORY_LIMIT * QKV_BLOCK_CACHE_PERCENT / 100))
  awk -v line="block_cache_bytes = $cache  # $QKV_BLOCK_CACHE_PERCENT % of the memory limit (qkvd-entrypoint)" '
    { print }
    /^[[:space:]]*\[storage\][[:space:]]*(#.*)?$/ && !done { print line; done = 1 }
    END { if (!done) { print "[storage]"; print line } }' "$QKV_CONFIG" > "$config"
fi

# Advertised addresses: qkvd listens on every interface, and others must dial the DNS name
# (qkvd refuses to advertise 0.0.0.0).
set -- --peer-advertise "$self:7100" --client-advertise "$self:7000" "$@"
[ -z "$QKV_ZONE" ] || set -- --zone "$QKV_ZONE" "$@"

# The initial members create the ring from the same list; a later ordinal joins through them.
initial=""
i=0
while [ "$i" -lt "$QKV_INITIAL_MEMBERS" ]; do
  peer=$(dns_name "$set_name-$i"):7100
  if [ "$ordinal" -lt "$QKV_INITIAL_MEMBERS" ]; then
    initial="${initial:+$initial,}$set_name-$i=$peer"
  else
    initial="${initial:+$initial,}$peer"
  fi
  i=$((i + 1))
done
if [ "$ordinal" -lt "$QKV_INITIAL_MEMBERS" ]; then
  set -- --members "$initial" "$@"
else
  set -- --seeds "$initial" "$@"
fi

mkdir -p "$QKV_DATA_DIR"
# Every interface: the config's [tls] makes each port TLS only (qkvd refuses to listen
# beyond loopback without it unless told --insecure, which a test cluster may pass as an arg).
exec qkvd --config "$config" --node-id "$name" --data-dir "$QKV_DATA_DIR" \
  --client-listen 0.0.0.0:7000 --peer-listen 0.0.0.0:7100 --http-listen 0.0.0.0:7200 "$@"
