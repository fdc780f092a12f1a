#!/bin/sh
# Starts qkvd in a StatefulSet pod: the node id is the pod name (qkv-0, qkv-1, ...), and
# the members are the StatefulSet's pods, reached through the headless service's DNS.
set -eu
: "${QKV_REPLICAS:?set QKV_REPLICAS to the StatefulSet's replica count}"
: "${QKV_SERVICE:=qkv}"
: "${POD_NAMESPACE:=default}"
: "${QKV_CLUSTER_DOMAIN:=cluster.local}"
# Others reach this pod by its stable DNS name, never by the 0.0.0.0 it listens on.
self_dns=$(hostname).$QKV_SERVICE.$POD_NAMESPACE.svc.$QKV_CLUSTER_DOMAIN
set_name=${HOSTNAME%-*}
members=""
i=0
while [ "$i" -lt "$QKV_REPLICAS" ]; do
  members="${members:+$members,}$set_name-$i=$set_name-$i.$QKV_SERVICE.$POD_NAMESPACE.svc.$QKV_CLUSTER_DOMAIN:7100"
  i=$((i + 1))
done
exec qkvd --config /etc/qkv/qkvd.toml --node-id "$HOSTNAME" --data-dir /var/lib/qkv \
  --client-listen 0.0.0.0:7000 --peer-listen 0.0.0.0:7100 --http-listen 0.0.0.0:7200 \
  --client-advertise "$self_dns:7000" --peer-advertise "$self_dns:7100" \
  --members "$members" "$@"
