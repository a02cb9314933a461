#include "dataplane/streams/async_committer.h"

#include <chrono>

namespace replink::dataplane {

AsyncCommitter::AsyncCommitter(replica::ReplicaStore& store) : store_(store), thread_([this] { Loop(); }) {}

AsyncCommitter::~AsyncCommitter() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void AsyncCommitter::Start(const replica::StagedEpoch& epoch) {
  busy_ = true;
  done_.store(false, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &epoch;
  }
  cv_.notify_one();
}

Result<void> AsyncCommitter::Collect() {
  busy_ = false;
  done_.store(false, std::memory_order_relaxed);
  Result<void> r = std::move(*result_);
  result_.reset();
  return r;
}

void AsyncCommitter::Wait() {
  while (busy_ && !done()) std::this_thread::sleep_for(std::chrono::microseconds(50));
}

void AsyncCommitter::Loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || job_ != nullptr; });
    if (stop_) return;
    const replica::StagedEpoch* job = job_;
    job_ = nullptr;
    lock.unlock();
    result_ = store_.Commit(*job);
    done_.store(true, std::memory_order_release);
    lock.lock();
  }
}

}  // namespace replink::dataplane
