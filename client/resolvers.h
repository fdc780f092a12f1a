// Sibling resolution (Riak's conflict resolvers, Dynamo §4.4's "client-side reconciliation"):
// a Resolver turns the siblings a get found into one value, which the cluster client
// (client/cluster_client.h) returns instead of the siblings and may write back with the
// get's causal context, so that the key converges.
//
// Thread-safety: the resolvers made here are stateless and may be called from any thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "client/client.h"

namespace qkv::client {

// The value that replaces `siblings` (at least two: live values and concurrent tombstones);
// nullopt: the key reads as deleted (and a write-back writes a tombstone).
using Resolver = std::function<std::optional<std::string>(const std::vector<Sibling>& siblings)>;

// Last writer wins: the sibling with the latest timestamp_ms (the coordinator's wall clock at
// the write); ties broken by the coordinating node's id, then by the value's bytes, so every
// client picks the same one. A tombstone that is the latest deletes the key. Only as good as
// the nodes' clocks: a write can lose to an older one from a node whose clock runs ahead
// (by up to the skew). Siblings from nodes older than the metadata (timestamp 0) lose to any
// timed one.
Resolver last_writer_wins();

// Set union, for values that are sets (a shopping cart, tags, followers): each live value is
// a list of elements separated by `separator`; the result is the union of every sibling's
// elements, sorted, without duplicates, joined by `separator`. Tombstones add nothing (an
// add concurrent with a delete survives, as in an add-wins set); only tombstones: deleted.
// A removal needs a read-modify-write with the context, which supersedes the old values.
Resolver set_union(char separator = '\n');

}  // namespace qkv::client
