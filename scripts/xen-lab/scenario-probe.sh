# Probe scenario: the capture primitives on a real PVH guest (log-dirty, pause / cooperative suspend,
# CLEAN, foreign mapping, contexts) and the block backend serving the guest's disk, unprotected.
set -u
L=/run/lab
mkdir -p $L
console=/var/log/xen/console/guest-protected.log
xl create /lab/pvh-guest.cfg >$L/xl-create.log 2>&1 || { echo "REPLINK-LAB: FAILED step create-domU"; exit 1; }
for i in $(seq 1 300); do grep -q "waiting for /dev/xvda" $console 2>/dev/null && break; sleep 0.2; done
truncate -s 16M $L/disk.img
replink-xen serve-disk --domain protected --image $L/disk.img >$L/serve.log 2>&1 &
srv=$!
for i in $(seq 1 300); do grep -q "record 3 done" $console 2>/dev/null && break; sleep 0.2; done
tail -3 $console
replink-xen probe --domain protected --rounds 3 --checkpoint pause 2>&1 | sed 's/^/REPLINK-LAB: probe-pause: /'
replink-xen probe --domain protected --rounds 3 --checkpoint suspend 2>&1 | sed 's/^/REPLINK-LAB: probe-suspend: /'
sleep 3
tail -3 $console
kill $srv; sleep 1; cat $L/serve.log
replink-xen-workload --check $L/disk.img --through 3
xl destroy protected
