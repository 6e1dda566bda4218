#!/usr/bin/env bash
# Installs what the demo, the tests and the bench need, when it is missing, then builds.
# Debian packages: dnsmasq-base (the dnsmasq binary without the system service, which would
# otherwise start a resolver in the root namespace), kea-dhcp4-server, isc-dhcp-server,
# busybox (udhcpd), containernetworking-plugins (/usr/lib/cni: bridge, macvlan, ... and the
# reference dhcp), iproute2, tcpdump, systemd (systemd-analyze), hyperfine (bench),
# etcd-server (the 3-member etcd the Whereabouts etcd-store tests, the bench and `demo.sh
# --etcd` start), etcd-client (etcdctl: the demo waits for that cluster and shows its keys),
# openssl (the throwaway CA and certificates of the etcd TLS test).
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
want() { # want <file that proves it is installed> <package>
  [ -e "$1" ] || need_pkgs+=("$2")
}
want /usr/sbin/dnsmasq dnsmasq-base
want /usr/sbin/kea-dhcp4 kea-dhcp4-server
want /usr/sbin/kea-dhcp6 kea-dhcp6-server
want /usr/sbin/dhcpd isc-dhcp-server
want /bin/busybox busybox
want /usr/lib/cni/bridge containernetworking-plugins
want /usr/sbin/ip iproute2
want /usr/bin/tcpdump tcpdump
want /usr/bin/systemd-analyze systemd
want /usr/bin/hyperfine hyperfine
want /usr/bin/etcd etcd-server
want /usr/bin/etcdctl etcd-client
want /usr/bin/openssl openssl

if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages (${need_pkgs[*]}); run as root" >&2
    exit 1
  fi
  echo "setup: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # never let a package's postinst start its service on this machine
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  # etcd-server's postinst enables a node-wide etcd on 127.0.0.1:2379; the tests start their own
  if [[ " ${need_pkgs[*]} " == *" etcd-server "* ]] && command -v systemctl >/dev/null; then
    systemctl disable --now etcd.service >/dev/null 2>&1 || true
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
