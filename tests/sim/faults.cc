#include <fmt/format.h>

#include <sstream>

#include "tests/sim/simulation.h"

namespace qkv::sim {

Faults Faults::all() {
  Faults f;
  f.loss = 0.05;
  f.duplicate = 0.02;
  f.long_delay = 0.02;
  f.partitions = f.crashes = f.wipes = f.skew = true;
  return f;
}

bool Faults::any() const {
  return loss > 0 || duplicate > 0 || long_delay > 0 || partitions || crashes || wipes || skew;
}

Result<Faults> Faults::parse(const std::string& text) {
  if (text == "all") return all();
  if (text == "none" || text.empty()) return none();
  Faults f;
  const Faults defaults = all();
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::string name = item, rate;
    if (auto eq = item.find('='); eq != std::string::npos) {
      name = item.substr(0, eq);
      rate = item.substr(eq + 1);
    }
    auto rate_or = [&](double fallback) -> Result<double> {
      if (rate.empty()) return fallback;
      char* end = nullptr;
      double v = std::strtod(rate.c_str(), &end);
      if (*end != '\0' || v < 0 || v > 1) {
        return Status::invalid_argument(fmt::format("fault rate '{}' must be in 0..1", item));
      }
      return v;
    };
    Result<double> r = 0.0;
    if (name == "loss") {
      r = rate_or(defaults.loss);
      if (r) f.loss = *r;
    } else if (name == "dup") {
      r = rate_or(defaults.duplicate);
      if (r) f.duplicate = *r;
    } else if (name == "delay") {
      r = rate_or(defaults.long_delay);
      if (r) f.long_delay = *r;
    } else if (name == "partition") {
      f.partitions = true;
    } else if (name == "crash") {
      f.crashes = true;
    } else if (name == "wipe") {
      f.wipes = true;
    } else if (name == "skew") {
      f.skew = true;
    } else {
      return Status::invalid_argument(fmt::format(
          "unknown fault '{}'; known: loss, dup, delay, partition, crash, wipe, skew, all, none",
          name));
    }
    if (!r) return r.status();
  }
  return f;
}

std::string Faults::to_string() const {
  if (!any()) return "none";
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : ",") + s; };
  if (loss > 0) add(fmt::format("loss={}", loss));
  if (duplicate > 0) add(fmt::format("dup={}", duplicate));
  if (long_delay > 0) add(fmt::format("delay={}", long_delay));
  if (partitions) add("partition");
  if (crashes) add("crash");
  if (wipes) add("wipe");
  if (skew) add("skew");
  return out;
}

}  // namespace qkv::sim
