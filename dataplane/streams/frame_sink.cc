#include "dataplane/streams/frame_sink.h"

#include <rte_mbuf.h>

namespace replink::dataplane {

std::span<std::byte> FrameSink::Room(rte_mbuf* m) {
  return {rte_pktmbuf_mtod(m, std::byte*), static_cast<std::size_t>(rte_pktmbuf_tailroom(m)) + m->data_len};
}

void FrameSink::SetLength(rte_mbuf* m, std::size_t bytes) {
  m->data_len = static_cast<uint16_t>(bytes);
  m->pkt_len = static_cast<uint32_t>(bytes);
}

std::span<std::byte> FrameSink::Bytes(rte_mbuf* m) {
  return {rte_pktmbuf_mtod(m, std::byte*), m->data_len};
}

}  // namespace replink::dataplane
