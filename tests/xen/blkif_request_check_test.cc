// The block backend's checks on guest requests (hostshim/xen/blkif_request_check.h): everything a
// guest can put in a request is either served or answered with an error, never trusted.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "hostshim/xen/blkif_request_check.h"

namespace replink::xen {
namespace {

BlkifRequestView Request(uint8_t op, uint64_t sector, uint8_t segments, uint8_t first = 0, uint8_t last = 7) {
  BlkifRequestView r;
  r.operation = op;
  r.sector = sector;
  r.nr_segments = segments;
  for (uint8_t i = 0; i < segments && i < kBlkifMaxSegments; ++i) r.seg[i] = {100u + i, first, last};
  return r;
}

TEST(BlkifRequestCheck, ServesReadsAndWritesWithinTheDisk) {
  auto w = CheckBlkifRequest(Request(kBlkifOpWrite, 8, 11), 1000);
  EXPECT_EQ(w.verdict, BlkifVerdict::kOk);
  EXPECT_EQ(w.sectors, 88u);
  auto r = CheckBlkifRequest(Request(kBlkifOpRead, 999, 1, 3, 3), 1000);  // the last sector
  EXPECT_EQ(r.verdict, BlkifVerdict::kOk);
  EXPECT_EQ(r.sectors, 1u);
  BlkifRequestView mixed = Request(kBlkifOpWrite, 0, 2);
  mixed.seg[0] = {1, 6, 7};
  mixed.seg[1] = {2, 0, 2};
  EXPECT_EQ(CheckBlkifRequest(mixed, 1000).sectors, 5u);
}

TEST(BlkifRequestCheck, UnadvertisedOperationsAreUnsupported) {
  for (uint8_t op : {2, 3, 4, 5, 6, 7, 200})
    EXPECT_EQ(CheckBlkifRequest(Request(op, 0, 1), 1000).verdict, BlkifVerdict::kUnsupported) << int(op);
}

TEST(BlkifRequestCheck, MalformedRequestsAreRefused) {
  EXPECT_EQ(CheckBlkifRequest(Request(kBlkifOpWrite, 0, 0), 1000).verdict, BlkifVerdict::kMalformed);
  EXPECT_EQ(CheckBlkifRequest(Request(kBlkifOpWrite, 0, 12), 1000).verdict, BlkifVerdict::kMalformed);
  EXPECT_EQ(CheckBlkifRequest(Request(kBlkifOpWrite, 0, 255), 1000).verdict, BlkifVerdict::kMalformed);
  EXPECT_EQ(CheckBlkifRequest(Request(kBlkifOpRead, 0, 1, 5, 4), 1000).verdict, BlkifVerdict::kMalformed);
  EXPECT_EQ(CheckBlkifRequest(Request(kBlkifOpRead, 0, 1, 0, 8), 1000).verdict, BlkifVerdict::kMalformed);
  EXPECT_EQ(CheckBlkifRequest(Request(kBlkifOpRead, 0, 1, 255, 255), 1000).verdict, BlkifVerdict::kMalformed);
}

TEST(BlkifRequestCheck, NothingBeyondTheDiskNotEvenByOverflow) {
  EXPECT_EQ(CheckBlkifRequest(Request(kBlkifOpWrite, 1000, 1), 1000).verdict, BlkifVerdict::kMalformed);
  EXPECT_EQ(CheckBlkifRequest(Request(kBlkifOpWrite, 993, 1), 1000).verdict, BlkifVerdict::kMalformed);
  EXPECT_EQ(CheckBlkifRequest(Request(kBlkifOpWrite, 992, 1), 1000).verdict, BlkifVerdict::kOk);
  uint64_t huge = std::numeric_limits<uint64_t>::max() - 3;
  EXPECT_EQ(CheckBlkifRequest(Request(kBlkifOpWrite, huge, 11), 1000).verdict, BlkifVerdict::kMalformed);
  EXPECT_EQ(CheckBlkifRequest(Request(kBlkifOpWrite, 0, 1), 0).verdict, BlkifVerdict::kMalformed);
}

}  // namespace
}  // namespace replink::xen
