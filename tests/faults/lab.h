// The fault suite's network: one network namespace per node, one for the clients and one
// holding the bridge that joins them (Jepsen's layout: partitions cut node-to-node traffic,
// never client traffic). Nothing is added to the namespace the harness started in.
//
//   qkvf<pid>-br   bridge br0, one veth per namespace below (vn1..vn5, vc)
//   qkvf<pid>-n1   eth0 10.77.0.1/24  ... qkvf<pid>-n5  eth0 10.77.0.5/24
//   qkvf<pid>-c    eth0 10.77.0.100/24: the harness's clients
//
// Partitions are nftables rules in each node's namespace: node i drops, at its input hook,
// every packet whose source is a peer it must not hear (Jepsen's `iptables -A INPUT -s peer
// -j DROP`). tc cannot do it on every kernel: `action drop` needs act_gact, which the
// kernels this runs on may lack.
//
// Cleanup: the destructor kills what runs in the namespaces and deletes them; a guardian
// process forked by the constructor does the same if the harness dies without it (SIGKILL,
// a crash); and remove_stale() deletes what a crashed earlier run left.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace qkv::faults {

struct Tools {
  std::string ip;   // iproute2's ip
  std::string nft;  // nftables' nft
};

// "" when the suite can run here; otherwise why not (not root, no `ip netns`, no nft).
std::string why_unavailable(const Tools& tools);

class Lab {
 public:
  static constexpr const char* kPrefix = "qkvf";

  // Creates the namespaces for `nodes` nodes (1..9). Throws std::runtime_error, after
  // removing what it had created, when a command fails.
  Lab(Tools tools, int nodes);
  ~Lab();
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  int nodes() const { return nodes_; }
  const std::string& node_namespace(int i) const { return names_[i]; }
  const std::string& client_namespace() const { return names_[nodes_]; }
  static std::string node_ip(int i);  // "10.77.0.<i+1>"
  static std::string client_ip();

  // Node i drops every packet from the nodes in `from` (replacing its previous rules; empty
  // heals it). Throws std::runtime_error when nft fails.
  void set_drops(int i, const std::vector<int>& from);

  // Moves the calling thread into the client namespace (setns): sockets it and the threads it
  // starts afterwards open are there. Throws std::runtime_error on failure.
  void enter_client_namespace() const;

  // Deletes namespaces named qkvf<pid>-* whose pid is no running qkv-faults, killing what
  // runs in them. Returns how many it deleted.
  static int remove_stale(const Tools& tools);

 private:
  void create();
  void run_ip(std::vector<std::string> args) const;
  void start_guardian();
  void destroy();

  Tools tools_;
  int nodes_;
  std::vector<std::string> names_;  // nodes, then the client, then the bridge
  pid_t guardian_ = 0;
  int guardian_fd_ = -1;  // the write end of the guardian's pipe; closing it wakes it
};

// Kills every process in namespace `name` (ip netns pids) and deletes it; quiet when absent.
void delete_namespace(const Tools& tools, const std::string& name);

}  // namespace qkv::faults
