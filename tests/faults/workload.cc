#include "tests/faults/workload.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "client/client.h"

namespace qkv::faults {

struct Workload::Worker {
  int id = 0;
  std::mt19937_64 rng;
  std::vector<client::Client> clients;  // one per node
  std::vector<Op> ops;
  uint64_t seq = 0;
  // Register workers.
  uint64_t last_acked = 0;
  int64_t acked_write_start_epoch = -1;  // FaultView::epoch at the start of that write, -1: unknown
  std::string context;
  std::vector<RegisterRead> checked;
  std::vector<std::string> phantoms;
};

namespace {

constexpr uint64_t kElementsPerWorker = 1'000'000'000;

// Parses "1,5,9" into `out`; false when a token is no number.
bool parse_elements(std::string_view value, std::set<uint64_t>& out) {
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    std::string_view token = value.substr(0, comma);
    uint64_t element = 0;
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), element);
    if (ec != std::errc() || end != token.data() + token.size()) return false;
    out.insert(element);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return true;
}

std::string join_elements(const std::set<uint64_t>& elements) {
  std::string out;
  for (uint64_t e : elements) {
    if (!out.empty()) out += ',';
    out += std::to_string(e);
  }
  return out;
}

}  // namespace

Workload::Workload(WorkloadConfig config, const FaultBoard& board, SteadyClock::time_point start)
    : config_(std::move(config)), board_(board), start_(start) {
  int workers = config_.set_workers + config_.register_workers;
  for (int i = 0; i < workers; ++i) {
    auto worker = std::make_unique<Worker>();
    worker->id = i;
    worker->rng.seed(config_.seed * 1000003 + static_cast<uint64_t>(i));
    for (const std::string& node : config_.nodes) {
      client::Options options;
      options.nodes = {node};
      options.timeout_ms = config_.timeout_ms;
      options.connect_timeout_ms = std::min<uint32_t>(config_.timeout_ms, 1000);
      worker->clients.emplace_back(options);
    }
    workers_.push_back(std::move(worker));
  }
}

Workload::~Workload() {
  stop();
}

void Workload::start() {
  for (auto& worker : workers_) {
    Worker* w = worker.get();
    bool set = w->id < config_.set_workers;
    threads_.emplace_back([this, w, set] { set ? run_set(*w) : run_register(*w); });
  }
}

void Workload::stop() {
  stopper_.request();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

History Workload::history() const {
  History h;
  for (const auto& w : workers_) {
    h.ops.insert(h.ops.end(), w->ops.begin(), w->ops.end());
    h.checked.insert(h.checked.end(), w->checked.begin(), w->checked.end());
    h.phantoms.insert(h.phantoms.end(), w->phantoms.begin(), w->phantoms.end());
  }
  std::sort(h.ops.begin(), h.ops.end(),
            [](const Op& a, const Op& b) { return a.start_us < b.start_us; });
  uint64_t group = adds_.load() / (config_.set_keys_active * config_.adds_per_key);
  h.set_keys = static_cast<uint32_t>((group + 1) * config_.set_keys_active);
  return h;
}

std::vector<std::string> Workload::active_set_keys() const {
  uint64_t group = adds_.load() / (config_.set_keys_active * config_.adds_per_key);
  std::vector<std::string> keys;
  for (uint32_t k = 0; k < config_.set_keys_active; ++k) {
    keys.push_back(set_key(static_cast<uint32_t>(group * config_.set_keys_active + k)));
  }
  return keys;
}

// Paces `body` at config_.rate iterations per second until stopped; a worker that falls behind
// (slow answers) does not burst to catch up.
template <typename F>
void pace(const Stopper& stopper, double rate, F body) {
  auto period =
      std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(1.0 / rate));
  auto next = SteadyClock::now();
  while (!stopper.wait_until(next)) {
    body();
    next = std::max(next + period, SteadyClock::now() - period);
  }
}

void Workload::run_set(Worker& worker) {
  pace(stopper_, config_.rate, [&] { set_iteration(worker); });
}

void Workload::run_register(Worker& worker) {
  pace(stopper_, config_.rate, [&] { register_iteration(worker); });
}

void Workload::set_iteration(Worker& worker) {
  int node = static_cast<int>(worker.rng() % config_.nodes.size());
  uint64_t group = adds_.fetch_add(1) / (config_.set_keys_active * config_.adds_per_key);
  auto key = static_cast<uint32_t>(group * config_.set_keys_active +
                                   worker.rng() % config_.set_keys_active);
  client::Client& client = worker.clients[node];

  Op get{WorkloadKind::kSet, OpKind::kGet, false, false, node, -1, 0, 0, key, 0};
  FaultView view = board_.view();
  get.eligible = view.eligible[node];
  get.fault = view.fault;
  get.start_us = micros_since(start_);
  auto read = client.get(set_key(key), client::ReadOptions{.r = static_cast<uint8_t>(config_.r)});
  get.end_us = micros_since(start_);
  get.ok = read.is_ok();
  worker.ops.push_back(get);
  if (!read.is_ok()) return;

  std::set<uint64_t> elements;
  for (const std::string& v : read->values) parse_elements(v, elements);  // the checker judges
  uint64_t element = static_cast<uint64_t>(worker.id) * kElementsPerWorker + ++worker.seq;
  elements.insert(element);

  Op put{WorkloadKind::kSet, OpKind::kPut, false, false, node, -1, 0, 0, key, element};
  view = board_.view();
  put.eligible = view.eligible[node];
  put.fault = view.fault;
  put.start_us = micros_since(start_);
  Status s = client
                 .put(set_key(key), join_elements(elements), read->context,
                      client::WriteOptions{.w = static_cast<uint8_t>(config_.w)})
                 .status();
  put.end_us = micros_since(start_);
  put.ok = s.is_ok();
  worker.ops.push_back(put);
}

void Workload::register_iteration(Worker& worker) {
  const std::string key = fmt::format("reg-{}", worker.id);
  auto key_index = static_cast<uint32_t>(worker.id);
  int node = static_cast<int>(worker.rng() % config_.nodes.size());
  Op put{
      WorkloadKind::kRegister, OpKind::kPut, false, false, node, -1, 0, 0, key_index, ++worker.seq};
  FaultView view = board_.view();
  put.eligible = view.eligible[node];
  put.fault = view.fault;
  put.start_us = micros_since(start_);
  Status s = worker.clients[node]
                 .put(key, std::to_string(worker.seq), worker.context,
                      client::WriteOptions{.w = static_cast<uint8_t>(config_.w)})
                 .status();
  put.end_us = micros_since(start_);
  put.ok = s.is_ok();
  worker.ops.push_back(put);
  if (s.is_ok()) {
    worker.last_acked = worker.seq;
    worker.acked_write_start_epoch = view.fault < 0 ? static_cast<int64_t>(view.epoch) : -1;
  }

  node = static_cast<int>(worker.rng() % config_.nodes.size());
  Op get{WorkloadKind::kRegister, OpKind::kGet, false, false, node, -1, 0, 0, key_index, 0};
  view = board_.view();
  get.eligible = view.eligible[node];
  get.fault = view.fault;
  get.start_us = micros_since(start_);
  auto read =
      worker.clients[node].get(key, client::ReadOptions{.r = static_cast<uint8_t>(config_.r)});
  get.end_us = micros_since(start_);
  get.ok = read.is_ok();
  worker.ops.push_back(get);
  if (!read.is_ok()) return;
  worker.context = read->context;

  uint64_t seen = 0;
  for (const std::string& v : read->values) {
    uint64_t seq = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seq);
    if (ec != std::errc() || end != v.data() + v.size() || seq > worker.seq) {
      worker.phantoms.push_back(fmt::format("{} = '{}'", key, v));
    }
    seen = std::max(seen, seq);
  }
  FaultView after = board_.view();
  bool quiet = worker.acked_write_start_epoch >= 0 && after.fault < 0 &&
               after.epoch == static_cast<uint64_t>(worker.acked_write_start_epoch);
  if (quiet) worker.checked.push_back({worker.id, worker.last_acked, seen, get.end_us});
}

}  // namespace qkv::faults
