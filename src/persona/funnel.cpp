// The funnel record. See persona/funnel.hpp.
#include <popalign/persona/funnel.hpp>

#include <fstream>

#include <fmt/core.h>
#include <popalign/core/error.hpp>
#include <popalign/io/output.hpp>

namespace popalign::persona {

FunnelStep& Funnel::add_step(std::string name, std::string in_unit, std::size_t in,
                             std::string out_unit) {
  FunnelStep s;
  s.name = std::move(name);
  s.in_unit = std::move(in_unit);
  s.in = in;
  s.out_unit = std::move(out_unit);
  steps.push_back(std::move(s));
  return steps.back();
}

FunnelStep& Funnel::step(const std::string& name) {
  for (FunnelStep& s : steps)
    if (s.name == name) return s;
  throw InvalidArgument("step", "no funnel step named '" + name + "'");
}

const FunnelStep& Funnel::step(const std::string& name) const {
  return const_cast<Funnel*>(this)->step(name);
}

void Funnel::drop(const std::string& step_name, std::string unit, std::string reason,
                  std::string detail) {
  ++step(step_name).dropped[reason];
  drops.push_back({step_name, std::move(unit), std::move(reason), std::move(detail)});
}

io::JsonValue Funnel::to_json() const {
  io::JsonValue j = io::JsonValue::object();
  io::JsonValue st = io::JsonValue::array();
  for (const FunnelStep& s : steps) {
    io::JsonValue o = io::JsonValue::object();
    o.set("step", s.name).set("in_unit", s.in_unit).set("in", s.in);
    o.set("out_unit", s.out_unit).set("out", s.out);
    io::JsonValue d = io::JsonValue::object();
    for (const auto& [k, v] : s.dropped) d.set(k, v);
    o.set("dropped", std::move(d));
    io::JsonValue c = io::JsonValue::object();
    for (const auto& [k, v] : s.changed) c.set(k, v);
    o.set("changed", std::move(c));
    st.push_back(std::move(o));
  }
  j.set("steps", std::move(st));
  io::JsonValue dr = io::JsonValue::array();
  for (const FunnelDrop& d : drops) {
    io::JsonValue o = io::JsonValue::object();
    o.set("step", d.step).set("unit", d.unit).set("reason", d.reason).set("detail", d.detail);
    dr.push_back(std::move(o));
  }
  j.set("drops", std::move(dr));
  return j;
}

std::string Funnel::table() const {
  std::string out = fmt::format("{:<12} {:>10} {:<9} {:>10} {:<9} {:>9}\n", "step", "in", "", "out",
                                "", "dropped");
  for (const FunnelStep& s : steps) {
    std::size_t dropped = 0;
    for (const auto& [k, v] : s.dropped) dropped += v;
    out += fmt::format("{:<12} {:>10} {:<9} {:>10} {:<9} {:>9}\n", s.name, s.in, s.in_unit, s.out,
                       s.out_unit, dropped);
    for (const auto& [k, v] : s.dropped)
      if (v > 0) out += fmt::format("{:<12}   - {}: {}\n", "", k, v);
    for (const auto& [k, v] : s.changed)
      if (v > 0) out += fmt::format("{:<12}   ~ {}: {}\n", "", k, v);
  }
  return out;
}

void write_funnel(const std::filesystem::path& path, const Funnel& funnel) {
  // Atomic for a regular file; through symlinks; streamed to FIFOs and devices.
  io::write_file_atomically(path, funnel.to_json().dump() + "\n");
}

}  // namespace popalign::persona
