# Failover on the secondary, run by its dataplane (promote_command) once the primary is declared dead and
# the replica is closed at its last committed epoch: turn the replica into an xl save image, restore the
# guest paused, serve its disk from the replica's disk image, then let it run.
#   usage: promote.sh REPLICA_DIR VM_NAME EPOCH
set -u
dir=$1 name=$2 epoch=$3
out=/run/lab/promote.log
step() { echo "REPLINK-LAB: promote: $*" | tee -a "$out" >/dev/console; }
fail() { step "FAILED step $*"; touch /run/lab/promote-failed; exit 1; }
t0=$(date +%s)
step "replica of '$name' committed through epoch $epoch"
replink-xen write-stream --replica "$dir" --config /lab/pvh-guest.cfg --out /run/lab/restore.save >>"$out" 2>&1 ||
  fail "write-stream"
step "$(tail -1 "$out" | sed 's/^replink-xen: //')"
xl restore -p /lab/pvh-guest.cfg /run/lab/restore.save >>"$out" 2>&1 || fail "xl-restore"
domid=$(xl domid "$name") || fail "xl-domid"
step "xl restore: '$name' is domain $domid (paused)"
replink-xen serve-disk --domain "$domid" --image "$dir/disk0.img" >/run/lab/serve-disk.log 2>&1 &
echo $! >/run/lab/serve-disk.pid
for i in $(seq 1 100); do
  [ "$(xenstore-read /local/domain/0/backend/vbd/$domid/51712/state 2>/dev/null)" = 2 ] && break
  sleep 0.1
done
[ "$(xenstore-read /local/domain/0/backend/vbd/$domid/51712/state 2>/dev/null)" = 2 ] || fail "serve-disk"
xl unpause "$domid" >>"$out" 2>&1 || fail "xl-unpause"
step "guest resumed from the replica in $(( $(date +%s) - t0 )) s"
touch /run/lab/promoted
