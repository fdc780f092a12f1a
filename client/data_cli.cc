#include "client/data_cli.h"

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "client/bulk.h"
#include "client/cli_conventions.h"
#include "client/dataset.h"
#include "client/json_output.h"

namespace qkv::client {
namespace {

using nlohmann::json;
using KeyArgs = DataCli::KeyArgs;
using DatasetArgs = DataCli::DatasetArgs;

// The --cluster and --json of the command line.
struct Global {
  const Options& options;
  bool json;

  const Options& client_options() const { return options; }
};

// A failure before any request (a file that cannot be read): exit 1.
int fail(const Global& g, const Status& status) {
  return print_failure(g.json, status, kExitFailed);
}

// A request of `client` failed: exit 1, or 3 when no node answered.
int fail(const Global& g, const Client& client, const Status& status) {
  return print_request_failure(g.json, status, client.any_answered());
}

// Shows text as is when it is valid UTF-8, else as base64, labelled.
std::string shown(std::string_view bytes) {
  if (is_valid_utf8(bytes)) return std::string(bytes);
  return "(base64) " + base64_encode(bytes);
}

// Text ending in exactly one newline of its own (a value may end in one already).
std::string as_line(std::string text) {
  if (text.empty() || text.back() != '\n') text.push_back('\n');
  return text;
}

// "n1, n2, n4 (fallback)": who answered a get.
std::string replicas_line(const std::vector<proto::ReplicaAnswer>& replicas) {
  std::string out;
  for (const auto& replica : replicas) {
    if (!out.empty()) out += ", ";
    out += replica.node;
    if (replica.fallback) out += " (fallback)";
  }
  return out;
}

int cmd_get(const Global& g, const KeyArgs& a) {
  Client client(g.client_options());
  const proto::ReadFanout fanout = a.fanout == "all"      ? proto::ReadFanout::kAll
                                   : a.fanout == "quorum" ? proto::ReadFanout::kQuorum
                                                          : proto::ReadFanout::kDefault;
  auto got = client.get(a.key, ReadOptions{static_cast<uint8_t>(a.quorum), 0, a.local,
                                           static_cast<uint8_t>(a.pr), fanout});
  if (!got.is_ok()) return fail(g, client, got.status());
  if (g.json) {
    print_json(get_result_json(a.key, *got));
    return 0;
  }
  std::cout << "key: " << shown(a.key) << "\n";
  if (!got->found()) {
    std::cout << "siblings: 0 (not found)\n";
  } else if (got->values.size() == 1) {
    std::cout << "value: " << as_line(shown(got->values[0]));
  } else {
    std::cout << "siblings: " << got->values.size()
              << " (concurrent writes: reconcile, then put back with --context)\n";
    for (std::size_t i = 0; i < got->values.size(); ++i) {
      std::cout << "value[" << i + 1 << "]: " << as_line(shown(got->values[i]));
    }
  }
  std::cout << "context: " << base64_encode(got->context) << "\n";
  if (!got->replicas.empty()) std::cout << "replicas: " << replicas_line(got->replicas) << "\n";
  return 0;
}

int cmd_write(const Global& g, const KeyArgs& a, bool is_put) {
  auto context = base64_decode(a.context_base64);
  if (!context.is_ok()) {
    return print_usage_error(g.json, "--context: " + context.status().message());
  }
  std::string value = a.value;
  if (is_put && !a.value_file.empty()) {
    auto file = read_file(a.value_file);
    if (!file.is_ok()) return fail(g, file.status());
    value = std::move(file).value();
  }
  Client client(g.client_options());
  WriteOptions options{static_cast<uint8_t>(a.quorum), 0, a.sloppy, is_put ? a.ttl_seconds : 0};
  if (a.if_absent) options.condition = proto::WriteCondition::kIfAbsent;
  if (a.if_unchanged) options.condition = proto::WriteCondition::kIfUnchanged;
  auto written =
      is_put ? client.put(a.key, value, *context, options) : client.del(a.key, *context, options);
  if (!written.is_ok()) return fail(g, client, written.status());
  if (g.json) {
    json out = {{"ok", true}, {"context", base64_encode(written->context)}};
    set_bytes_field(out, "key", "key_encoding", a.key);
    print_json(out);
  } else {
    std::cout << "ok\ncontext: " << base64_encode(written->context) << "\n";
  }
  return 0;
}

std::string progress_line(const char* what, std::size_t keys, const BulkCounts& c, double s) {
  return fmt::format("{}: {}/{} keys  errors {}  missing {}  mismatches {}  {:.0f} ops/s", what,
                     c.done, keys, c.errors, c.missing, c.mismatches, s > 0 ? c.ops / s : 0.0);
}

json bulk_json(const char* what, const DatasetArgs& d, const Dataset& data, const BulkReport& r) {
  json failures = json::array();
  for (const auto& f : r.failures) {
    json item = {{"problem", f.problem}};
    set_bytes_field(item, "key", "key_encoding", f.key);
    failures.push_back(std::move(item));
  }
  const auto& c = r.counts;
  return {{"command", what},
          {"dataset", d.lines.empty() ? "stanzas" : "lines"},
          {"file", d.lines.empty() ? d.stanzas : d.lines},
          {"keys", r.keys},
          {"duplicates", data.duplicates},
          {"skipped", data.skipped},
          {"done", c.done},
          {"written", c.written},
          {"unchanged", c.unchanged},
          {"ok", c.ok},
          {"missing", c.missing},
          {"mismatches", c.mismatches},
          {"errors", c.errors},
          {"seconds", r.seconds},
          {"ops_per_second", r.ops_per_second()},
          {"failures", std::move(failures)}};
}

void print_bulk_summary(BulkMode mode, const BulkReport& r) {
  const auto& c = r.counts;
  if (mode == BulkMode::kLoad) {
    std::cout << fmt::format("load: {} keys, {} done ({} written, {} unchanged), {} errors", r.keys,
                             c.done, c.written, c.unchanged, c.errors);
  } else {
    std::cout << fmt::format(
        "verify: {} keys, {} done, {} ok, {} missing, {} mismatches, {} errors", r.keys, c.done,
        c.ok, c.missing, c.mismatches, c.errors);
  }
  std::cout << fmt::format(", {:.1f} s, {:.0f} ops/s\n", r.seconds, r.ops_per_second());
  if (!r.failures.empty()) std::cout << "first failures:\n";
  for (const auto& f : r.failures) std::cout << "  " << shown(f.key) << ": " << f.problem << "\n";
}

int cmd_bulk(const Global& g, const DatasetArgs& d, BulkMode mode) {
  const char* what = mode == BulkMode::kLoad ? "load" : "verify";
  const std::string& path = d.lines.empty() ? d.stanzas : d.lines;
  auto text = read_file(path);
  if (!text.is_ok()) return fail(g, text.status());
  Dataset data = d.lines.empty() ? dataset_from_stanzas(*text) : dataset_from_lines(*text);
  // One request first, so an unreachable cluster is said once (exit 3), not once per key.
  Client probe(g.client_options());
  if (auto members = probe.members(); !members.is_ok() && !probe.any_answered()) {
    return fail(g, probe, members.status());
  }
  BulkOptions options;
  options.mode = mode;
  options.concurrency = d.concurrency;
  bool tty = isatty(STDERR_FILENO) != 0;
  if (tty) {
    options.on_progress = [&](const BulkCounts& c, double s) {
      std::cerr << "\r\033[K" << progress_line(what, data.entries.size(), c, s) << std::flush;
    };
  }
  BulkReport report = run_bulk(g.client_options(), data.entries, options);
  if (tty) std::cerr << "\r\033[K" << std::flush;
  if (g.json) {
    print_json(bulk_json(what, d, data, report));
  } else {
    print_bulk_summary(mode, report);
  }
  bool good = mode == BulkMode::kLoad ? report.counts.errors == 0 : report.ok();
  return good ? kExitOk : kExitFailed;
}

void add_dataset_flags(CLI::App* sub, DatasetArgs& d) {
  auto* lines = sub->add_option("--lines", d.lines, "one key per non-empty line (dict/<line>)");
  auto* stanzas = sub->add_option("--stanzas", d.stanzas,
                                  "one key per blank-line-separated stanza "
                                  "(dpkg/<Package>:<Architecture>)");
  lines->excludes(stanzas);
  sub->add_option("--concurrency", d.concurrency, "threads, each with its own connections")
      ->check(CLI::Range(1, 1024));
  sub->fallthrough();
}

CLI::App* add_key_command(CLI::App& app, const char* name, const char* help, KeyArgs& a) {
  auto* sub = app.add_subcommand(name, help);
  sub->add_option("KEY", a.key, "the key")->required();
  sub->fallthrough();
  return sub;
}

CLI::App* add_get_command(CLI::App& app, KeyArgs& a) {
  auto* get = add_key_command(app, "get", "read a key's siblings and causal context", a);
  get->add_option("--r", a.quorum, "read quorum (0: the node's default)")
      ->check(CLI::Range(0, 255));
  get->add_option("--pr", a.pr,
                  "primaries required among the r answers (0: none; --pr equal to --r reads "
                  "primaries only)")
      ->check(CLI::Range(0, 255));
  get->add_option("--fanout", a.fanout,
                  "whom the get asks first: all (every primary) or quorum (max(r, pr) of them, "
                  "another only if one fails or is slow); default: the node's read_fanout")
      ->check(CLI::IsMember({"all", "quorum"}));
  get->add_flag("--local", a.local, "the answering node's own copy only (no quorum)");
  return get;
}

}  // namespace

DataCli::DataCli(CLI::App& app) {
  get_ = add_get_command(app, key_);
  put_ = add_key_command(app, "put", "write a value", key_);
  auto* value = put_->add_option("VALUE", key_.value, "the value");
  put_->add_option("--value-file", key_.value_file, "read the value from a file")->excludes(value);
  put_->add_option("--ttl", key_.ttl_seconds,
                   "seconds until the value expires: reads stop seeing it, and it is reaped as a "
                   "delete is (0: never)");
  del_ = add_key_command(app, "delete", "delete a key (write a tombstone)", key_);
  for (auto* sub : {put_, del_}) {
    sub->add_option("--context", key_.context_base64, "causal context from a get (base64)");
    sub->add_option("--w", key_.quorum, "write quorum (0: the node's default)")
        ->check(CLI::Range(0, 255));
    sub->add_option("--sloppy", key_.sloppy,
                    "true (default): fallbacks with hints count towards W; false: primaries only");
    sub->add_flag("--if-unchanged", key_.if_unchanged,
                  "write only if --context still covers every sibling of the key (else "
                  "precondition_failed, nothing written)");
  }
  put_->add_flag("--if-absent", key_.if_absent,
                 "write only if the key has no live value (else precondition_failed)")
      ->excludes("--if-unchanged");
  load_ = app.add_subcommand("load", "write the dev dataset from a file");
  verify_ = app.add_subcommand("verify", "read the dev dataset back and compare");
  add_dataset_flags(load_, dataset_);
  add_dataset_flags(verify_, dataset_);
}

bool DataCli::chosen() const {
  for (const CLI::App* sub : {get_, put_, del_, load_, verify_}) {
    if (sub->parsed()) return true;
  }
  return false;
}

int DataCli::run(const Options& options, bool json) const {
  Global g{options, json};
  if (put_->parsed() && key_.value.empty() && put_->count("VALUE") == 0 &&
      key_.value_file.empty()) {
    return print_usage_error(g.json, "put needs a VALUE or --value-file",
                             "run 'qkvctl put --help' for usage");
  }
  if ((load_->parsed() || verify_->parsed()) && dataset_.lines.empty() &&
      dataset_.stanzas.empty()) {
    return print_usage_error(g.json, "a dataset is needed: --lines FILE or --stanzas FILE");
  }
  if (get_->parsed()) return cmd_get(g, key_);
  if (put_->parsed()) return cmd_write(g, key_, /*is_put=*/true);
  if (del_->parsed()) return cmd_write(g, key_, /*is_put=*/false);
  return cmd_bulk(g, dataset_, load_->parsed() ? BulkMode::kLoad : BulkMode::kVerify);
}

}  // namespace qkv::client
