#!/usr/bin/env bash
# Installs a built replink onto this host for systemd (run as root):
#   binaries -> /usr/local/bin, prepare-host.sh -> /usr/local/lib/replink, units -> /etc/systemd/system,
#   example settings -> /etc/replink (never overwriting what is there).
# Usage: scripts/deploy/install.sh BUILD_DIR      (e.g. build, after `ninja -C build`)
# Then: edit /etc/replink/appliance.toml and host.env, `systemctl enable --now replink-dataplane`,
# one /etc/replink/shim-NAME.env per VM and `systemctl enable --now replink-shim@NAME`.
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[[ $(id -u) -eq 0 ]] || { echo "must run as root" >&2; exit 1; }

install -d /usr/local/bin /usr/local/lib/replink /etc/replink /usr/local/share/doc/replink/docs
for bin in dataplane/replink-dataplane control/replinkctl hostshim/replink-shim; do
  install -m 0755 "$build/$bin" /usr/local/bin/
done
install -m 0755 "$here/prepare-host.sh" /usr/local/lib/replink/prepare-host.sh
install -m 0644 "$here"/replink-host.service "$here"/replink-dataplane.service "$here"/replink-shim@.service \
  /etc/systemd/system/
install -m 0644 "$root/README.md" /usr/local/share/doc/replink/
install -m 0644 "$root"/docs/*.md /usr/local/share/doc/replink/docs/
[[ -e /etc/replink/host.env ]] || install -m 0644 "$here/host.env.example" /etc/replink/host.env
[[ -e /etc/replink/appliance.toml ]] || install -m 0640 "$root/configs/pci-nic.toml" /etc/replink/appliance.toml
systemctl daemon-reload
echo "installed; next: edit /etc/replink/{appliance.toml,host.env}, then"
echo "  replinkctl config validate /etc/replink/appliance.toml && systemctl enable --now replink-dataplane"
