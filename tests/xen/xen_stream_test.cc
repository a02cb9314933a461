// The migration stream writer: a replica committed through the real ReplicaStore becomes an xl save
// image; Xen's own independent decoder (verify-stream-v2 from xen-utils-4.17, Debian package fetched by
// scripts/xen-lab/fetch-packages.sh) must accept it, and our own reading of it must find every populated
// page with the replica's content, the HVM context and params. Replicas without Xen state, or with
// malformed state blobs, are refused with the reason.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "hostshim/xen/migration_stream.h"
#include "hostshim/xen/migration_stream_writer.h"
#include "hostshim/xen/xen_state_blobs.h"
#include "replica/epoch_stager.h"
#include "replica/replica_image.h"
#include "replica/replica_store.h"
#include "tests/replica/replica_test_support.h"

namespace replink::xen {
namespace {

using replica::testing::BlobItem;
using replica::testing::EpochContent;
using replica::testing::PageItem;
using replica::testing::TempDir;

constexpr uint64_t kGpfns = 0x1000;

replica::ReplicaGeometry Geometry() {
  replica::ReplicaGeometry g;
  g.vm_id = 9;
  g.guest_pages = kGpfns;
  g.vcpu_slots = 1;
  g.device_slots = kXenDeviceBlobs;
  g.max_blob_bytes = 64 * 1024;
  g.disk_sectors = {128};
  return g;
}

std::vector<std::byte> Page(uint64_t gfn, uint64_t epoch) {
  std::vector<std::byte> p(kPageSize);
  for (std::size_t i = 0; i < kPageSize; i += 8) {
    uint64_t v = gfn * 0x9E3779B97F4A7C15ULL ^ (epoch << 48) ^ i;
    std::memcpy(p.data() + i, &v, 8);
  }
  return p;
}

template <typename T>
void Append(std::vector<std::byte>& out, const T& v) {
  const auto* b = reinterpret_cast<const std::byte*>(&v);
  out.insert(out.end(), b, b + sizeof(T));
}

std::vector<XenMemoryRange> Populated() { return {{0, 0x100}, {0x200, 0x40}, {0xff0, 0x10}}; }

std::vector<std::byte> MemoryMapBlob(const std::vector<XenMemoryRange>& ranges, uint64_t gpfns = kGpfns) {
  std::vector<std::byte> b;
  Append(b, XenMemoryMapBlob{kMemoryMapMagic, kXenBlobVersion, gpfns, ranges.size()});
  for (const auto& r : ranges) Append(b, r);
  return b;
}

std::vector<std::byte> PlatformBlob() {
  std::vector<std::byte> b;
  Append(b, XenPlatformBlob{kPlatformMagic, kXenBlobVersion, 4, 17, 0, 2000000, 987654321, 1, 2});
  Append(b, XenHvmParamEntry{1, 0xffffc});
  Append(b, XenHvmParamEntry{17, 0xfffff});
  return b;
}

std::vector<std::byte> HvmContextBlob() {
  std::vector<std::byte> b(1234);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = std::byte(i * 7);
  return b;
}

struct Blobs {
  std::vector<std::byte> platform = PlatformBlob();
  std::vector<std::byte> map = MemoryMapBlob(Populated());
  std::vector<std::byte> hvm = HvmContextBlob();
  bool with_xen_state = true;
};

// Two epochs: the first writes every populated page, the second rewrites a few and the state blobs.
std::string MakeReplica(const TempDir& dir, const Blobs& blobs) {
  std::string path = dir.Sub("vm9");
  replica::ReplicaStoreConfig config;
  config.directory = path;
  config.geometry = Geometry();
  config.durability = replica::Durability::kPageCache;
  auto store = replica::ReplicaStore::Open(config);
  EXPECT_TRUE(store.ok()) << store.error().Describe();
  replica::StagerConfig sc;
  sc.geometry = Geometry();
  sc.arena_bytes = 32u << 20;
  sc.prefault_arena = false;
  auto stager = replica::EpochStager::Create(sc, 0);
  EXPECT_TRUE(stager.ok());
  for (uint64_t epoch = 1; epoch <= 2; ++epoch) {
    EpochContent c;
    c.epoch = epoch;
    c.trigger = EpochTrigger::kDiskWrite;
    for (const auto& r : Populated())
      for (uint64_t g = r.first_gfn; g < r.first_gfn + r.count; ++g)
        if (epoch == 1 || g % 17 == 0) c.pages.push_back(PageItem{g, false, Page(g, epoch)});
    std::vector<std::byte> vcpu(5168, std::byte{0x5a});
    c.blobs.push_back(BlobItem{RecordType::kVcpuState, 0, vcpu});
    if (blobs.with_xen_state) {
      c.blobs.push_back(BlobItem{RecordType::kDeviceState, kDeviceHvmContext, blobs.hvm});
      c.blobs.push_back(BlobItem{RecordType::kDeviceState, kDevicePlatform, blobs.platform});
      c.blobs.push_back(BlobItem{RecordType::kDeviceState, kDeviceMemoryMap, blobs.map});
    }
    auto staged = replica::testing::StageEpoch(*stager, c, epoch);
    EXPECT_TRUE(staged.ok()) << staged.error().Describe();
    auto committed = store->Commit(*staged);
    EXPECT_TRUE(committed.ok()) << committed.error().Describe();
    stager->MarkCommitted();
  }
  EXPECT_TRUE(store->Close().ok());
  return path;
}

Result<StreamSummary> WriteTo(const std::string& replica_dir, const std::string& out, const std::string& config) {
  REPLINK_ASSIGN_OR_RETURN(replica::ReplicaImage image, replica::ReplicaImage::Open(replica_dir));
  int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return SysError("open {}", out);
  auto r = WriteXlRestoreStream(image, StreamWriterOptions{config}, fd);
  close(fd);
  return r;
}

std::vector<std::byte> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> v(s.size());
  std::memcpy(v.data(), s.data(), s.size());
  return v;
}

// Runs Xen's verify-stream-v2 on the image. The tool is Python, from the xen-utils-4.17 package the
// lab's fetch script unpacks (never installed on the host).
std::string VerifyWithXen(const std::string& image, int* status) {
  const char* root = std::getenv("REPLINK_SOURCE_ROOT");
  const char* cache_env = std::getenv("REPLINK_XEN_LAB_CACHE");
  std::string cache = cache_env && *cache_env ? cache_env : "/var/cache/replink-xen-lab";
  std::string cmd = fmt::format(
      "set -e; bash '{0}/scripts/xen-lab/fetch-packages.sh' '{1}' >/dev/null; "
      "v=$(ls -d '{1}'/unpacked/xen-utils-4.17_*/usr/lib/xen-4.17 | head -1); "
      "PYTHONPATH=$v/lib/python python3 $v/bin/verify-stream-v2 -f xl -v -i '{2}' 2>&1",
      root ? root : ".", cache, image);
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  *status = p ? pclose(p) : -1;
  return out;
}

TEST(XenStream, XenVerifyStreamV2AcceptsOurImage) {
  TempDir dir;
  std::string replica_dir = MakeReplica(dir, Blobs{});
  std::string image = dir.Sub("guest.save");
  auto summary = WriteTo(replica_dir, image, "name = \"protected\"\ntype = \"pvh\"\nmemory = 16\n");
  ASSERT_TRUE(summary.ok()) << summary.error().Describe();
  EXPECT_EQ(summary->pages, 0x100u + 0x40 + 0x10);
  EXPECT_EQ(summary->page_records, 1u);  // 336 pages: one record
  EXPECT_EQ(summary->committed_epoch, 2u);
  int status = 0;
  std::string out = VerifyWithXen(image, &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("Processed xl header"), std::string::npos) << out;
  for (const char* line : {"Libxl Record: Libxc context", "Libxc Image Header: Version 3, little endian",
                           "Domain Header: x86 HVM from Xen 4.17", "Libxc Record: Static data end",
                           "Page Data records", "Libxc Record: TSC info, length 24", "Libxc Record: HVM context, length 1234",
                           "Libxc Record: HVM params, length 40", "Libxc Record: End", "Libxl Record: End"})
    EXPECT_NE(out.find(line), std::string::npos) << line << " missing in:\n" << out;
}

TEST(XenStream, ImageCarriesEveryPopulatedPageWithReplicaContent) {
  TempDir dir;
  std::string replica_dir = MakeReplica(dir, Blobs{});
  std::string image = dir.Sub("guest.save");
  std::string config = "name = \"g\"\n";
  ASSERT_TRUE(WriteTo(replica_dir, image, config).ok());
  std::vector<std::byte> s = ReadFile(image);
  stream::XlHeader xl;
  ASSERT_GE(s.size(), sizeof(xl));
  std::memcpy(&xl, s.data(), sizeof(xl));
  EXPECT_EQ(xl.byteorder, stream::kXlByteOrder);
  EXPECT_EQ(xl.mandatory_flags, stream::kXlMandatoryStreamV2);
  EXPECT_EQ(xl.optional_data_len, 4 + config.size());
  std::size_t off = sizeof(xl) + xl.optional_data_len + sizeof(stream::LibxlHeader) + 8 /* LIBXC_CONTEXT */ +
                    sizeof(stream::LibxcImageHeader) + sizeof(stream::LibxcDomainHeader) + 8 /* STATIC_DATA_END */;
  stream::RecordHeader rh;
  std::memcpy(&rh, s.data() + off, sizeof(rh));
  ASSERT_EQ(rh.type, stream::kRecPageData);
  stream::PageDataHeader ph;
  std::memcpy(&ph, s.data() + off + 8, sizeof(ph));
  ASSERT_EQ(ph.count, 336u);
  const std::byte* pfns = s.data() + off + 16;
  const std::byte* data = pfns + ph.count * 8;
  for (uint32_t i = 0; i < ph.count; ++i) {
    uint64_t pfn;
    std::memcpy(&pfn, pfns + i * 8, 8);
    uint64_t want_epoch = pfn % 17 == 0 ? 2 : 1;
    ASSERT_EQ(std::memcmp(data + std::size_t{i} * kPageSize, Page(pfn, want_epoch).data(), kPageSize), 0) << pfn;
  }
}

TEST(XenStream, RefusesReplicasWithoutOrWithBrokenXenState) {
  {
    TempDir dir;
    Blobs b;
    b.with_xen_state = false;
    auto r = WriteTo(MakeReplica(dir, b), dir.Sub("x"), "");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::kState);
  }
  auto broken = [](Blobs b) {
    TempDir dir;
    auto r = WriteTo(MakeReplica(dir, b), dir.Sub("x"), "");
    EXPECT_FALSE(r.ok());
    return r.ok() ? Errc::kInvalidArgument : r.error().code;
  };
  Blobs overlapping;
  overlapping.map = MemoryMapBlob({{0, 0x100}, {0x80, 0x10}});
  EXPECT_EQ(broken(overlapping), Errc::kCorrupt);
  Blobs beyond;
  beyond.map = MemoryMapBlob({{0xff0, 0x20}});
  EXPECT_EQ(broken(beyond), Errc::kCorrupt);
  Blobs wrong_span;
  wrong_span.map = MemoryMapBlob(Populated(), kGpfns * 2);
  EXPECT_EQ(broken(wrong_span), Errc::kCorrupt);
  Blobs truncated;
  truncated.platform.resize(truncated.platform.size() - 8);
  EXPECT_EQ(broken(truncated), Errc::kCorrupt);
  Blobs bad_magic;
  bad_magic.platform[0] = std::byte{0};
  EXPECT_EQ(broken(bad_magic), Errc::kCorrupt);
}

}  // namespace
}  // namespace replink::xen
