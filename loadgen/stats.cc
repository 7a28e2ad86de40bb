#include "loadgen/stats.h"

#include "common/status_macros.h"

namespace rcbench::loadgen {

const char* ErrorKindName(int kind) {
  switch (kind) {
    case kConnectTimeout:
      return "connect_timeout";
    case kConnectRefused:
      return "connect_refused";
    case kReset:
      return "reset";
    case kResponseTimeout:
      return "response_timeout";
    case kNon2xx:
      return "non_2xx";
    case kParseError:
      return "parse_error";
    case kLateSend:
      return "late_send";
    case kLocal:
      return "local";
  }
  return "unknown";
}

void ClassCounters::Merge(const ClassCounters& o) {
  requests_ok += o.requests_ok;
  requests_sent += o.requests_sent;
  connects_attempted += o.connects_attempted;
  connects_established += o.connects_established;
  bytes_received += o.bytes_received;
  syn_packets_sent += o.syn_packets_sent;
  for (int i = 0; i < kNumErrorKinds; ++i) errors[i] += o.errors[i];
  // Same default layout everywhere, so these cannot fail.
  latency.Merge(o.latency).IgnoreError();
  latency_uncorrected.Merge(o.latency_uncorrected).IgnoreError();
  connect_latency.Merge(o.connect_latency).IgnoreError();
}

void ClassCounters::Reset() {
  requests_ok = requests_sent = connects_attempted = connects_established = 0;
  bytes_received = syn_packets_sent = 0;
  errors.fill(0);
  if (latency.total_count() != 0) latency.Reset();
  if (latency_uncorrected.total_count() != 0) latency_uncorrected.Reset();
  if (connect_latency.total_count() != 0) connect_latency.Reset();
}

uint64_t ClassCounters::TotalErrors() const {
  uint64_t n = 0;
  for (uint64_t e : errors) n += e;
  return n;
}

void ClassCounters::ToProto(rcbench::v1::ClassStats* out) const {
  out->set_requests_ok(requests_ok);
  out->set_requests_sent(requests_sent);
  out->set_connects_attempted(connects_attempted);
  out->set_connects_established(connects_established);
  out->set_bytes_received(bytes_received);
  out->set_syn_packets_sent(syn_packets_sent);
  auto* e = out->mutable_errors();
  e->set_connect_timeout(errors[kConnectTimeout]);
  e->set_connect_refused(errors[kConnectRefused]);
  e->set_reset(errors[kReset]);
  e->set_response_timeout(errors[kResponseTimeout]);
  e->set_non_2xx(errors[kNon2xx]);
  e->set_parse_error(errors[kParseError]);
  e->set_late_send(errors[kLateSend]);
  e->set_local(errors[kLocal]);
  latency.ToProto(out->mutable_latency());
  latency_uncorrected.ToProto(out->mutable_latency_uncorrected());
  connect_latency.ToProto(out->mutable_connect_latency());
}

absl::StatusOr<ClassCounters> ClassCounters::FromProto(const rcbench::v1::ClassStats& in) {
  ClassCounters c;
  c.requests_ok = in.requests_ok();
  c.requests_sent = in.requests_sent();
  c.connects_attempted = in.connects_attempted();
  c.connects_established = in.connects_established();
  c.bytes_received = in.bytes_received();
  c.syn_packets_sent = in.syn_packets_sent();
  const auto& e = in.errors();
  c.errors = {e.connect_timeout(), e.connect_refused(), e.reset(),     e.response_timeout(),
              e.non_2xx(),         e.parse_error(),     e.late_send(), e.local()};
  RCBENCH_ASSIGN_OR_RETURN(c.latency, LatencyHistogram::FromProto(in.latency()));
  RCBENCH_ASSIGN_OR_RETURN(c.latency_uncorrected,
                           LatencyHistogram::FromProto(in.latency_uncorrected()));
  RCBENCH_ASSIGN_OR_RETURN(c.connect_latency, LatencyHistogram::FromProto(in.connect_latency()));
  return c;
}

}  // namespace rcbench::loadgen
