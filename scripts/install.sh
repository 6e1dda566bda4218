#!/bin/sh
# Install a built cni-dhcp tree onto a node, or remove it again. See docs/packaging.md.
#
# Layout it creates (paths as seen on the target; --root prefixes all of them):
#   $lib_dir/dist/...               the built tree (cni/dhcp, cni/static, bin/cni-dhcp, lib/*.js)
#   $lib_dir/node_modules/koffi     the one native runtime dependency (this platform only)
#   $lib_dir/node                   a copy of the interpreter, with --bundle-node
#   $bin_dir/dhcp                   launcher: exec <absolute node> $lib_dir/dist/cni/dhcp
#   $prefix/bin/cni-dhcp            launcher for the operator CLI
#   $unit_dir/cni-dhcp.{socket,service}
#   $state_dir                      leases (0700); kept by --uninstall unless --purge
# and, with --with-whereabouts:
#   $bin_dir/whereabouts            launcher: exec <absolute node> $lib_dir/dist/cni/whereabouts
#   $unit_dir/cni-whereabouts.{socket,service}
#   $wb_state_dir                   the file store (0700); kept by --uninstall unless --purge
# Files it replaces that it did not install (the reference plugin's dhcp, its units) are
# kept under $lib_dir/backup and put back by --uninstall.
set -eu
umask 022

usage() {
  cat <<'EOF'
Usage: install.sh [options]
       install.sh --uninstall [--purge] [options]

Installs a built cni-dhcp tree (run `npm run build` first). Safe to run again: only what
changed is rewritten, each file by an atomic rename.

Options:
  --from DIR        built tree to install: DIR/dist and DIR/node_modules/koffi
                    (default: the checkout or image this script lives in)
  --prefix DIR      CLI in DIR/bin, files in DIR/lib/cni-dhcp (default /usr/local)
  --lib-dir DIR     where the tree goes (default PREFIX/lib/cni-dhcp)
  --bin-dir DIR     CNI plugin directory for the `dhcp` executable (default /opt/cni/bin)
  --state-dir DIR   lease directory, created 0700 (default /var/lib/cni/dhcp)
  --unit-dir DIR    systemd unit directory (default /etc/systemd/system)
  --root DIR        install into DIR as if it were / (image building, a DaemonSet writing
                    to the host mounted at DIR); systemctl is not run
  --node PATH       Node.js (>= 20) the launchers exec, as an absolute path on the target
                    (default: `node` found on PATH now)
  --bundle-node     copy that Node.js into LIB_DIR/node and use the copy (hosts without Node)
  --with-static     also install the `static` IPAM plugin into BIN_DIR (it replaces the
                    reference `static`, which is backed up)
  --with-whereabouts  also install the `whereabouts` IPAM plugin into BIN_DIR and its
                    daemon's units (it replaces a Go Whereabouts there, which is backed up)
  --whereabouts-state-dir DIR  the whereabouts file store (default /var/lib/cni/whereabouts)
  --no-systemd      do not install systemd units nor run systemctl
  --uninstall       remove what an install with the same options put in place
  --purge           with --uninstall, also delete the state dir and the leases in it
  -h, --help        this text

Exit status: 0 done, 1 failed, 2 bad usage.
EOF
}

die() { echo "install.sh: $*" >&2; exit 1; }
usage_error() { echo "install.sh: $*" >&2; echo "Try 'install.sh --help'." >&2; exit 2; }
note() { echo "install.sh: $*"; }

script_dir=$(cd "$(dirname "$0")" && pwd)
from=$(cd "$script_dir/.." && pwd)
prefix=/usr/local
lib_dir=
bin_dir=/opt/cni/bin
state_dir=/var/lib/cni/dhcp
unit_dir=/etc/systemd/system
root=
node=
bundle_node=0
with_static=0
with_whereabouts=0
wb_state_dir=/var/lib/cni/whereabouts
systemd=1
uninstall=0
purge=0

need_arg() { if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "$1 needs a value"; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --from) need_arg "$@"; from=$2; shift 2 ;;
    --prefix) need_arg "$@"; prefix=$2; shift 2 ;;
    --lib-dir) need_arg "$@"; lib_dir=$2; shift 2 ;;
    --bin-dir) need_arg "$@"; bin_dir=$2; shift 2 ;;
    --state-dir) need_arg "$@"; state_dir=$2; shift 2 ;;
    --unit-dir) need_arg "$@"; unit_dir=$2; shift 2 ;;
    --root) need_arg "$@"; root=$2; shift 2 ;;
    --node) need_arg "$@"; node=$2; shift 2 ;;
    --bundle-node) bundle_node=1; shift ;;
    --with-static) with_static=1; shift ;;
    --with-whereabouts) with_whereabouts=1; shift ;;
    --whereabouts-state-dir) need_arg "$@"; wb_state_dir=$2; shift 2 ;;
    --no-systemd) systemd=0; shift ;;
    --uninstall) uninstall=1; shift ;;
    --purge) purge=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
done
[ -n "$lib_dir" ] || lib_dir=$prefix/lib/cni-dhcp
[ "$purge" = 0 ] || [ "$uninstall" = 1 ] || usage_error "--purge only goes with --uninstall"
root=${root%/}

# Every path ends up inside single quotes in a launcher or a unit file.
for p in "$prefix" "$lib_dir" "$bin_dir" "$state_dir" "$wb_state_dir" "$unit_dir"; do
  case "$p" in
    /*) ;;
    *) usage_error "paths must be absolute: $p" ;;
  esac
  case "$p" in
    *"'"*|*' '*|*'
'*) usage_error "path may not contain quotes or white space: $p" ;;
  esac
done
case "$lib_dir" in
  /|/usr|/usr/local|/opt|/var|/var/lib|/etc|"$prefix") die "refusing --lib-dir $lib_dir: it must be a directory of its own" ;;
esac

# systemctl only makes sense for the running system.
run_systemctl=0
if [ "$systemd" = 1 ] && [ -z "$root" ] && [ -d /run/systemd/system ]; then run_systemctl=1; fi

L=$root$lib_dir
manifest=$L/.install-manifest
tmpdir=$(mktemp -d)
trap 'rm -rf "$tmpdir"' EXIT
trap 'exit 130' INT TERM

# ---- helpers ---------------------------------------------------------------------------

changed=0
# put_file SRC DEST MODE: copy unless identical; the replacement is an atomic rename, so a
# runtime exec'ing the plugin during an upgrade sees the old file or the new one.
put_file() {
  if [ -f "$2" ] && [ ! -L "$2" ] && cmp -s "$1" "$2"; then
    chmod "$3" "$2"
    return 0
  fi
  mkdir -p "$(dirname "$2")"
  cp "$1" "$2.cni-dhcp-new" && chmod "$3" "$2.cni-dhcp-new" && mv -f "$2.cni-dhcp-new" "$2"
  changed=1
}

# list_files DIR: relative paths of the regular files under DIR, sorted.
list_files() { (cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort); }

# sync_tree SRC DEST LIST: make DEST hold exactly the files named in LIST (relative to SRC).
sync_tree() {
  while IFS= read -r f; do
    if [ -x "$1/$f" ]; then mode=755; else mode=644; fi
    put_file "$1/$f" "$2/$f" "$mode"
  done <"$3"
  list_files "$2" | LC_ALL=C comm -13 "$3" - >"$tmpdir/stale"
  while IFS= read -r f; do
    rm -f "$2/$f"
    changed=1
  done <"$tmpdir/stale"
  find "$2" -depth -mindepth 1 -type d -empty -exec rmdir {} \;
}

# The files outside $lib_dir that an install owns, one target path a line.
owned_paths() { if [ -f "$manifest" ]; then cat "$manifest"; fi; }

# claim DEST: before the first write to a file we did not install, keep the original.
claim() {
  if [ -e "$root$1" ] && ! owned_paths | grep -qxF "$1" && ! grep -qs '^# cni-dhcp launcher' "$root$1"; then
    mkdir -p "$L/backup$(dirname "$1")"
    mv -f "$root$1" "$L/backup$1"
    note "kept the previous $1 in $lib_dir/backup$1"
  fi
}

# release DEST: remove a file we installed and put back what it replaced.
release() {
  rm -f "$root$1"
  if [ -e "$L/backup$1" ]; then
    mv -f "$L/backup$1" "$root$1"
    note "restored the previous $1"
  fi
}

# The V8 flags the bundle's #! line gives node (scripts/build.mjs: the daemons' heap sizing),
# so that the launcher runs it as the bundle runs itself. Only --name[=value] words pass.
bundle_flags() { # LOCAL_JS
  f=$(sed -n '1s|^#!.* -u NODE_OPTIONS [^ ]*||p' "$1")
  case "$f" in *[!a-z0-9=\ -]*) die "unexpected node flags in the first line of $1: $f" ;; esac
  printf '%s' "$f"
}

write_launcher() { # DEST JS
  tmp=$tmpdir/launcher
  flags=$(bundle_flags "$from/${2#"$lib_dir"/}")
  cat >"$tmp" <<EOF
#!/bin/sh
# cni-dhcp launcher, written by scripts/install.sh: reinstall rather than edit.
# A runtime may exec this with an almost empty environment, so nothing here uses PATH.
# NODE_EXTRA_CA_CERTS costs ~100 ms per Node start and NODE_OPTIONS could load anything;
# neither is wanted: the plugin makes no TLS connection and takes no Node options.
unset NODE_EXTRA_CA_CERTS NODE_OPTIONS
exec '$node'$flags '$2' "\$@"
EOF
  claim "$1"
  put_file "$tmp" "$root$1" 755
}

# ---- uninstall -------------------------------------------------------------------------

if [ "$uninstall" = 1 ]; then
  if [ "$run_systemctl" = 1 ]; then
    systemctl disable --now cni-dhcp.service cni-dhcp.socket 2>/dev/null || true
    systemctl disable --now cni-whereabouts.service cni-whereabouts.socket 2>/dev/null || true
  fi
  if [ -f "$manifest" ]; then
    owned_paths | while IFS= read -r p; do release "$p"; done
    rm -rf "$L"
    note "removed $lib_dir and the files listed in its manifest"
  else
    note "nothing installed at $lib_dir"
  fi
  if [ "$run_systemctl" = 1 ]; then systemctl daemon-reload; fi
  if [ "$purge" = 1 ]; then
    case "$state_dir" in /|/var|/var/lib|/var/lib/cni) die "refusing to purge $state_dir" ;; esac
    case "$wb_state_dir" in /|/var|/var/lib|/var/lib/cni) die "refusing to purge $wb_state_dir" ;; esac
    rm -rf "$root$state_dir"
    note "purged $state_dir"
    if [ "$with_whereabouts" = 1 ]; then rm -rf "$root$wb_state_dir"; note "purged $wb_state_dir"; fi
  else
    if [ -d "$root$state_dir" ]; then note "kept $state_dir (leases); --purge deletes it"; fi
    if [ -d "$root$wb_state_dir" ]; then note "kept $wb_state_dir (whereabouts allocations); --purge --with-whereabouts deletes it"; fi
  fi
  exit 0
fi

# ---- install ---------------------------------------------------------------------------

[ -f "$from/dist/cni/dhcp" ] || die "no built tree at $from (missing dist/cni/dhcp): run 'npm run build', or pass --from"
[ -f "$from/dist/bin/cni-dhcp" ] || die "missing $from/dist/bin/cni-dhcp"
[ -d "$from/dist/lib" ] || die "missing $from/dist/lib"
[ -f "$from/node_modules/koffi/package.json" ] || die "missing $from/node_modules/koffi (run 'npm ci')"
[ "$with_static" = 0 ] || [ -f "$from/dist/cni/static" ] || die "missing $from/dist/cni/static"
[ "$with_whereabouts" = 0 ] || [ -f "$from/dist/cni/whereabouts" ] || die "missing $from/dist/cni/whereabouts"
units="cni-dhcp.socket cni-dhcp.service"
[ "$with_whereabouts" = 0 ] || units="$units cni-whereabouts.socket cni-whereabouts.service"
if [ "$systemd" = 1 ]; then
  for u in $units; do
    [ -f "$from/systemd/$u" ] || die "missing $from/systemd/$u (or pass --no-systemd)"
  done
fi

# The interpreter. local_node is the one this script can run; node is its path on the target.
if [ "$bundle_node" = 1 ]; then
  local_node=${node:-$(command -v node || true)}
  [ -n "$local_node" ] || die "--bundle-node: no node on PATH; pass --node"
  node=$lib_dir/node
else
  if [ -z "$node" ]; then
    [ -z "$root" ] || die "with --root, pass --node (its path on the target) or --bundle-node"
    node=$(command -v node || true)
    [ -n "$node" ] || die "no node on PATH: pass --node PATH or --bundle-node"
  fi
  local_node=$root$node
fi
case "$node" in /*) ;; *) die "--node must be an absolute path: $node" ;; esac
case "$node" in *"'"*|*' '*) die "node path may not contain quotes or white space: $node" ;; esac
[ -x "$local_node" ] || die "not an executable: $local_node"
if [ "$systemd" = 1 ]; then
  case "$node" in
    /home/*|/root/*|/run/user/*)
      die "$node is hidden from the service by ProtectHome=; use --bundle-node or a system-wide node" ;;
  esac
fi
arch=$(env -u NODE_EXTRA_CA_CERTS -u NODE_OPTIONS "$local_node" -e '
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 20) { console.error("Node " + process.versions.node + " is too old: 20 or later is needed"); process.exit(3); }
  process.stdout.write(process.arch);') || die "cannot use $local_node as the interpreter"

# The tree itself: all of dist, and of koffi only its loader and this platform's binaries.
mkdir -p "$L"
list_files "$from/dist" >"$tmpdir/dist.list"
sync_tree "$from/dist" "$L/dist" "$tmpdir/dist.list"
koffi=$from/node_modules/koffi
case "$arch" in arm) arch=armhf ;; riscv64) arch=riscv64d ;; loong64) arch=loong64 ;; esac
list_files "$koffi" | grep -E "^[^/]+\$|^build/koffi/(linux|musl)_$arch/" >"$tmpdir/koffi.list" || true
grep -q "^build/koffi/linux_$arch/" "$tmpdir/koffi.list" || die "koffi has no build for linux_$arch"
sync_tree "$koffi" "$L/node_modules/koffi" "$tmpdir/koffi.list"
if [ "$bundle_node" = 1 ]; then put_file "$local_node" "$L/node" 755; fi

# Files outside the tree, each recorded in the manifest.
: >"$tmpdir/manifest"
write_launcher "$bin_dir/dhcp" "$lib_dir/dist/cni/dhcp"
echo "$bin_dir/dhcp" >>"$tmpdir/manifest"
if [ "$with_static" = 1 ]; then
  write_launcher "$bin_dir/static" "$lib_dir/dist/cni/static"
  echo "$bin_dir/static" >>"$tmpdir/manifest"
fi
if [ "$with_whereabouts" = 1 ]; then
  write_launcher "$bin_dir/whereabouts" "$lib_dir/dist/cni/whereabouts"
  echo "$bin_dir/whereabouts" >>"$tmpdir/manifest"
fi
write_launcher "$prefix/bin/cni-dhcp" "$lib_dir/dist/bin/cni-dhcp"
echo "$prefix/bin/cni-dhcp" >>"$tmpdir/manifest"

# put_units UNIT PLUGIN STATE_DIR DEFAULT_STATE_DIR: the unit pair, the service pointed at this
# install's bin dir and, when it is not the default, its state dir.
put_units() {
  claim "$unit_dir/$1.socket"
  put_file "$from/systemd/$1.socket" "$root$unit_dir/$1.socket" 644
  sed -e "s|^ExecStart=/opt/cni/bin/$2 daemon|ExecStart=$bin_dir/$2 daemon|" "$from/systemd/$1.service" >"$tmpdir/$1.service"
  if [ "$3" != "$4" ]; then
    sed -i -e "s|^\(ExecStart=.*\)\$|\1 --state-dir $3|" \
      -e "s|^StateDirectory=.*|ReadWritePaths=$3|" -e '/^StateDirectoryMode=/d' "$tmpdir/$1.service"
  fi
  claim "$unit_dir/$1.service"
  put_file "$tmpdir/$1.service" "$root$unit_dir/$1.service" 644
  printf '%s\n' "$unit_dir/$1.socket" "$unit_dir/$1.service" >>"$tmpdir/manifest"
}
if [ "$systemd" = 1 ]; then
  put_units cni-dhcp dhcp "$state_dir" /var/lib/cni/dhcp
  if [ "$with_whereabouts" = 1 ]; then put_units cni-whereabouts whereabouts "$wb_state_dir" /var/lib/cni/whereabouts; fi
fi
if [ "$with_whereabouts" = 1 ]; then
  mkdir -p "$root$wb_state_dir"
  chmod 700 "$root$wb_state_dir"
fi

mkdir -p "$root$state_dir"
chmod 700 "$root$state_dir"

# Whatever an earlier install owned and this one does not (another --bin-dir, no static).
LC_ALL=C sort "$tmpdir/manifest" >"$tmpdir/manifest.new"
owned_paths | LC_ALL=C sort | LC_ALL=C comm -23 - "$tmpdir/manifest.new" >"$tmpdir/dropped"
while IFS= read -r p; do release "$p"; done <"$tmpdir/dropped"
put_file "$tmpdir/manifest" "$manifest" 644

if [ "$run_systemctl" = 1 ]; then
  was_active=$(systemctl is-active cni-dhcp.service 2>/dev/null || true)
  systemctl daemon-reload
  systemctl enable --now cni-dhcp.socket cni-dhcp.service
  if [ "$changed" = 1 ] && [ "$was_active" = active ]; then
    systemctl restart cni-dhcp.service
    note "restarted cni-dhcp.service on the new files"
  fi
  if [ "$with_whereabouts" = 1 ]; then
    wb_active=$(systemctl is-active cni-whereabouts.service 2>/dev/null || true)
    systemctl enable --now cni-whereabouts.socket cni-whereabouts.service
    if [ "$changed" = 1 ] && [ "$wb_active" = active ]; then systemctl restart cni-whereabouts.service; fi
  fi
elif [ "$systemd" = 1 ] && [ -z "$root" ]; then
  note "systemd is not running: units installed, not enabled"
fi

if [ "$changed" = 1 ]; then
  note "installed $bin_dir/dhcp -> $lib_dir (node: $node)"
else
  note "already up to date: $bin_dir/dhcp -> $lib_dir (node: $node)"
fi
