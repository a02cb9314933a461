// AsyncCommitter: runs ReplicaStore::Commit on a thread of its own, so the worker lcore keeps
// receiving, acknowledging and sending heartbeats while an epoch is written (a 64 MiB catch-up epoch
// or a dsync commit takes far longer than a heartbeat interval; a worker blocked in it would look
// dead to the primary). One commit at a time: the worker hands over a staged epoch, polls done(),
// then collects the result. While a commit runs, only the committer touches the store.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "replica/replica_store.h"

namespace replink::dataplane {

class AsyncCommitter {
 public:
  explicit AsyncCommitter(replica::ReplicaStore& store);
  ~AsyncCommitter();
  AsyncCommitter(const AsyncCommitter&) = delete;
  AsyncCommitter& operator=(const AsyncCommitter&) = delete;

  // Starts committing `epoch` (which must stay valid until Collect). Not while busy().
  void Start(const replica::StagedEpoch& epoch);
  bool busy() const { return busy_; }
  // The commit finished (acquire: its effects on the store are visible).
  bool done() const { return done_.load(std::memory_order_acquire); }
  // The outcome of the finished commit; the committer is idle afterwards.
  Result<void> Collect();
  // Waits for a running commit (shutdown, promotion).
  void Wait();

 private:
  void Loop();

  replica::ReplicaStore& store_;
  std::mutex mutex_;
  std::condition_variable cv_;
  const replica::StagedEpoch* job_ = nullptr;  // guarded by mutex_
  bool stop_ = false;                           // guarded by mutex_
  std::optional<Result<void>> result_;          // written by the thread before done_
  std::atomic<bool> done_{false};
  bool busy_ = false;                           // worker side only
  std::thread thread_;
};

}  // namespace replink::dataplane
