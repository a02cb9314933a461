#include "replica/latest_page_lookup.h"

namespace replink::replica {

Result<PageRef> LatestPage(const EpochStager& stager, const ReplicaStore& store, uint64_t gfn) {
  if (std::optional<PageRef> staged = stager.StagedPage(gfn)) return *staged;
  return store.CommittedPage(gfn);
}

}  // namespace replink::replica
