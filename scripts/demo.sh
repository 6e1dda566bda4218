#!/usr/bin/env bash
# The main job, self-contained: a DHCP server (dnsmasq) in its own namespace, our daemon in a
# "node" namespace with a bridge, three pods attached by the real bridge plugin with our dhcp
# IPAM (the third dual-stack: dnsmasq also serves DHCPv6 and router advertisements), the lease
# table; then the whereabouts daemon on its file store and four more pods
# (two networks sharing a CIDR kept apart by network_name, one dual-stack pod), the
# allocation table; then everything torn down. Only 198.18.0.0/15 and 2001:db8::/32 inside
# its namespaces.
#
# `--etcd`: the whereabouts part runs on a 3-member etcd instead (datastore etcd), the members
# on the node namespace's own 127.0.0.1 (a fresh loopback: every port is free there, and
# nothing is bound in the host's), data dirs under the demo's temp dir, stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
ETCD=0
for arg in "$@"; do
  case "$arg" in
    --etcd) ETCD=1 ;;
    *) echo "usage: bash scripts/demo.sh [--etcd]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }
bash scripts/setup.sh

ID="demo$$"
DIR=$(mktemp -d "/tmp/cni-dhcp-$ID-XXXX")
SRV="cdd-$ID-srv"; NODE="cdd-$ID-node"; BR="cdbr$$"; BR=${BR:0:15}
PODS=(); DNSMASQ=""; DAEMON=""; WBDAEMON=""; ETCDS=()
cleanup() {
  set +e
  [ -n "$WBDAEMON" ] && kill "$WBDAEMON" 2>/dev/null && wait "$WBDAEMON" 2>/dev/null
  for e in "${ETCDS[@]}"; do kill "$e" 2>/dev/null && wait "$e" 2>/dev/null; done
  [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
  [ -n "$DNSMASQ" ] && kill "$DNSMASQ" 2>/dev/null && wait "$DNSMASQ" 2>/dev/null
  for p in "${PODS[@]}"; do ip netns del "$p" 2>/dev/null; done
  ip netns del "$SRV" 2>/dev/null; ip netns del "$NODE" 2>/dev/null
  rm -rf "$DIR"
}
trap cleanup EXIT

mkdir -p "$DIR/bin"
ln -s "$PWD/dist/cni/dhcp" "$DIR/bin/dhcp"
ln -s "$PWD/dist/cni/whereabouts" "$DIR/bin/whereabouts"
ln -s /usr/lib/cni/bridge "$DIR/bin/bridge"

echo "== topology: $SRV (dnsmasq, 198.18.0.1) <-> bridge $BR in $NODE (daemon) <-> pods"
ip netns add "$SRV"; ip netns add "$NODE"
ip link add "v$$s" netns "$SRV" type veth peer name "v$$n" netns "$NODE"
ip -n "$SRV" link set "v$$s" name srv0
ip -n "$SRV" addr add 198.18.0.1/24 dev srv0
# DHCPv6 needs an address from the range's /64 on the server's interface; skip its DAD
ip netns exec "$SRV" sysctl -qw net.ipv6.conf.srv0.accept_dad=0
ip -n "$SRV" addr add 2001:db8:de::1/64 dev srv0 nodad
ip -n "$SRV" link set srv0 up
ip -n "$NODE" link add "$BR" type bridge
ip -n "$NODE" link set "v$$n" master "$BR"
ip -n "$NODE" link set "v$$n" up
ip -n "$NODE" link set "$BR" up
# a new link forwards only after the kernel's link watcher ran (up to ~1 s): wait for the bridge
for _ in $(seq 100); do ip -n "$NODE" link show "$BR" | grep -q "state UP" && break; sleep 0.02; done

ip netns exec "$SRV" dnsmasq --keep-in-foreground --no-ping --port=0 --conf-file=/dev/null --user=root \
  --interface=srv0 --bind-interfaces --dhcp-authoritative --dhcp-range=198.18.0.10,198.18.0.250,255.255.255.0,10m \
  --dhcp-option=option:router,198.18.0.1 --dhcp-option=option:dns-server,198.18.0.53 --dhcp-option=option:domain-name,demo.example \
  --dhcp-range=2001:db8:de::100,2001:db8:de::1ff,64,10m --enable-ra --dhcp-option=option6:dns-server,[2001:db8:de::53] \
  --dhcp-leasefile="$DIR/dnsmasq.leases" --pid-file="$DIR/dnsmasq.pid" --log-facility="$DIR/dnsmasq.log" &
DNSMASQ=$!
for _ in $(seq 100); do ip netns exec "$SRV" ss -ulnH 'sport = :67' | grep -q ':67' && break; sleep 0.05; done

SOCK="$DIR/run/dhcp.sock"
ip netns exec "$NODE" "$PWD/dist/cni/dhcp" daemon -socketpath "$SOCK" --state-dir "$DIR/state" 2>"$DIR/daemon.log" &
DAEMON=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || { echo "daemon did not start:"; cat "$DIR/daemon.log"; exit 1; }

dhcpconf() { printf '{"cniVersion":"1.0.0","name":"demo","type":"bridge","bridge":"%s","isGateway":false,"ipMasq":false,"ipam":{"type":"dhcp","daemonSocketPath":"%s"%s}}' "$BR" "$SOCK" "$1"; }
CONF=$(dhcpconf "")
# pod3 is dual-stack: one IPv4 lease and one DHCPv6 (IA_NA) lease from the same dnsmasq
CONF6=$(dhcpconf ',"ipFamilies":["ipv4","ipv6"]')
for i in 1 2 3; do
  POD="cdd-$ID-pod$i"; ip netns add "$POD"; PODS+=("$POD")
  C="$CONF"; [ "$i" = 3 ] && C="$CONF6"
  start=$(date +%s%N)
  out=$(echo "$C" | ip netns exec "$NODE" env CNI_COMMAND=ADD CNI_CONTAINERID="pod$i-$ID" CNI_NETNS="/var/run/netns/$POD" \
        CNI_IFNAME=eth1 CNI_PATH="$DIR/bin" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=web-$i" /usr/lib/cni/bridge)
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  echo "== pod$i: bridge ADD took ${ms} ms: $out"
  ip -n "$POD" -4 -o addr show dev eth1
  [ "$i" = 3 ] && ip -n "$POD" -6 -o addr show dev eth1 scope global
done

echo "== cni-dhcp leases"
dist/bin/cni-dhcp --socket "$SOCK" leases
echo "== dnsmasq's lease file"
cat "$DIR/dnsmasq.leases"

for i in 1 2 3; do
  C="$CONF"; [ "$i" = 3 ] && C="$CONF6"
  echo "$C" | ip netns exec "$NODE" env CNI_COMMAND=DEL CNI_CONTAINERID="pod$i-$ID" CNI_NETNS="/var/run/netns/cdd-$ID-pod$i" \
    CNI_IFNAME=eth1 CNI_PATH="$DIR/bin" "$PWD/dist/cni/dhcp"
done
sleep 0.3
echo "== after DEL: $(grep -vc '^duid' "$DIR/dnsmasq.leases" || true) leases left on the server"

STORE=""
if [ "$ETCD" = 1 ]; then
  ip -n "$NODE" link set lo up
  # etcd's own local-cluster ports (its Procfile): clients 2379, 22379, 32379; peers one above
  CPORTS=(2379 22379 32379); CLUSTER=""; ENDPOINTS=""
  for i in 0 1 2; do
    CLUSTER+="${CLUSTER:+,}m$i=http://127.0.0.1:$((CPORTS[i] + 1))"
    ENDPOINTS+="${ENDPOINTS:+,}127.0.0.1:${CPORTS[i]}"
  done
  echo "== etcd: 3 members on 127.0.0.1 in $NODE, clients at $ENDPOINTS"
  for i in 0 1 2; do
    ip netns exec "$NODE" etcd --name "m$i" --data-dir "$DIR/etcd-m$i" \
      --listen-client-urls "http://127.0.0.1:${CPORTS[i]}" --advertise-client-urls "http://127.0.0.1:${CPORTS[i]}" \
      --listen-peer-urls "http://127.0.0.1:$((CPORTS[i] + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((CPORTS[i] + 1))" \
      --initial-cluster "$CLUSTER" --initial-cluster-state new --initial-cluster-token "$ID" 2>"$DIR/etcd-m$i.log" &
    ETCDS+=($!)
  done
  healthy=0
  for _ in $(seq 300); do
    ip netns exec "$NODE" etcdctl --endpoints="$ENDPOINTS" endpoint health >/dev/null 2>&1 && { healthy=1; break; }
    sleep 0.1
  done
  [ "$healthy" = 1 ] || { echo "etcd did not become healthy:"; tail -5 "$DIR"/etcd-m*.log; exit 1; }
  ip netns exec "$NODE" etcdctl --endpoints="$ENDPOINTS" member list
  STORE=$(printf ',"datastore":"etcd","etcd_host":"%s"' "$ENDPOINTS")
  echo "== whereabouts: the daemon in $NODE on the etcd store"
else
  echo "== whereabouts: the daemon in $NODE on its file store ($DIR/wb-state)"
fi
WBSOCK="$DIR/run/whereabouts.sock"
ip netns exec "$NODE" "$PWD/dist/cni/whereabouts" daemon -socketpath "$WBSOCK" --state-dir "$DIR/wb-state" --node-name demo-node 2>"$DIR/wb-daemon.log" &
WBDAEMON=$!
for _ in $(seq 200); do [ -S "$WBSOCK" ] && break; sleep 0.05; done
[ -S "$WBSOCK" ] || { echo "whereabouts daemon did not start:"; cat "$DIR/wb-daemon.log"; exit 1; }
# the flat file, merged under every network's ipam section (here: where the daemon listens)
printf '{"daemonSocketPath":"%s"}\n' "$WBSOCK" >"$DIR/whereabouts.conf"
wbconf() { # NAME IPAM-KEYS
  printf '{"cniVersion":"1.0.0","name":"%s","type":"bridge","bridge":"%s","isGateway":false,"ipMasq":false,"ipam":{"type":"whereabouts","configuration_path":"%s",%s%s}}' "$1" "$BR" "$DIR/whereabouts.conf" "$2" "$STORE"
}
RED=$(wbconf wb-red '"range":"198.18.1.0/24","network_name":"red"')
BLUE=$(wbconf wb-blue '"range":"198.18.1.0/24","network_name":"blue"')
DUAL=$(wbconf wb-dual '"range":"198.18.2.0/24","gateway":"198.18.2.1","ipRanges":[{"range":"2001:db8:2::/64"}]')
WBPODS=(); WBCONFS=()
attach() { # N CONF LABEL
  POD="cdd-$ID-wb$1"; ip netns add "$POD"; PODS+=("$POD"); WBPODS+=("$POD"); WBCONFS+=("$2")
  out=$(echo "$2" | ip netns exec "$NODE" env CNI_COMMAND=ADD CNI_CONTAINERID="wb$1-$ID" CNI_NETNS="/var/run/netns/$POD" \
        CNI_IFNAME=net1 CNI_PATH="$DIR/bin" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=wb-$1" /usr/lib/cni/bridge)
  echo "== wb$1 ($3): $(echo "$out" | tr -s " \n" " ")"
  ip -n "$POD" -o addr show dev net1 scope global | awk '{print "   ", $4}'
}
attach 1 "$RED" "network_name red"
attach 2 "$BLUE" "network_name blue, same CIDR: its own address space"
attach 3 "$RED" "network_name red again: the next address"
attach 4 "$DUAL" "dual stack"
wballocations() {
  if [ "$ETCD" = 1 ]; then
    # one key per address: /whereabouts/<network_name>/pools/<range>/<offset> and .../reservations/<address>
    ip netns exec "$NODE" etcdctl --endpoints="$ENDPOINTS" get --prefix /whereabouts/ | paste - - | awk '{k=$1; $1=""; print "   ", k, $0}'
  else
    dist/bin/cni-dhcp whereabouts allocations --socket "$WBSOCK"
  fi
}
if [ "$ETCD" = 1 ]; then echo "== the allocations in etcd (etcdctl get --prefix /whereabouts/)"; else echo "== cni-dhcp whereabouts allocations"; fi
wballocations
for i in "${!WBPODS[@]}"; do
  echo "${WBCONFS[$i]}" | ip netns exec "$NODE" env CNI_COMMAND=DEL CNI_CONTAINERID="wb$((i + 1))-$ID" CNI_NETNS="/var/run/netns/${WBPODS[$i]}" \
    CNI_IFNAME=net1 CNI_PATH="$DIR/bin" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=wb-$((i + 1))" /usr/lib/cni/bridge
done
left=$(wballocations || true)
echo "== after DEL: ${left:-no keys left under /whereabouts/}"
echo "== done; tearing down"
