// Deliberate bugs for mutation testing of the simulation's checker (design.md §5.4).
//
// Only a build with QKV_MUTATIONS defined (the simulator's `qkv-sim-mutants` target) can
// switch a mutation on; everywhere else QKV_MUTATION(x) is the constant false and the
// compiler removes the branch, so qkvd never carries them. Each hook sits where the real
// bug would be, so a checker that misses the mutant would also miss the bug.
#pragma once

namespace qkv::mutation {

enum class Kind {
  kNone,
  kAckBeforeW,            // WriteQuorum reports success after the first ack, whatever W is
  kJoinDropsConcurrent,   // SiblingSet::join and StateSummary::join drop the incoming concurrent
                          // siblings
  kNoIncarnationBump,     // a restart after an unclean stop keeps the incarnation (kv679)
  kWritesSkipReceivers,   // writes during a ring transition are not sent to the receivers
  kGenerationNotClocked,  // a start's gossip generation ignores the clock: a wiped node's
                          // restarts below the generation its peers hold
  kTtlIgnoredOnRead,      // gets answer values whose time to live has ended
  kReapWithoutCheck,      // the reaper removes a tombstone without asking the other primaries
                          // whether they hold it
  kRestoreKeepsActor,     // a start from a restored snapshot keeps the snapshot's incarnation:
                          // the copy reissues dots its original issued after the snapshot
};

#ifdef QKV_MUTATIONS
// The active mutation; set once by the simulator before it starts.
inline Kind active = Kind::kNone;
#endif

}  // namespace qkv::mutation

#ifdef QKV_MUTATIONS
#define QKV_MUTATION(kind) (::qkv::mutation::active == ::qkv::mutation::Kind::kind)
#else
#define QKV_MUTATION(kind) false
#endif
