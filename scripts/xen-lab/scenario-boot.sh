# Boot scenario: the lab itself works (dom0 tools, a PVH guest boots and prints).
set -u
xl info | grep -E '^(xen_version|xen_caps|total_memory|free_memory)'
xl create /lab/pvh-guest.cfg || { echo "REPLINK-LAB: FAILED step create-domU"; exit 1; }
for i in $(seq 1 60); do
  grep -q "waiting for /dev/xvda" /var/log/xen/console/guest-protected.log 2>/dev/null && break
  sleep 1
done
cat /var/log/xen/console/guest-protected.log | tail -5
xl list
xl destroy protected
