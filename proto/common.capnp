# Shared wire and on-disk vocabulary: status codes and versioned values.
# Rules (design.md §4.9): fields are only added, with new ordinals; enums are never renumbered.
@0xb32f35dc05b4c3ef;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("qkv::wire");

# persisted: do not renumber (mirrors qkv::StatusCode).
enum StatusCode {
  ok @0;
  notFound @1;
  invalidArgument @2;
  unavailable @3;
  timeout @4;
  corruption @5;
  ioError @6;
  overloaded @7;
  permissionDenied @8;
  unauthenticated @9;
  preconditionFailed @10;  # a conditional write's condition did not hold; nothing was written
}

struct Status {
  code @0 :StatusCode;
  message @1 :Text;
}

# The identity that issues dots: a node and the incarnation of its data directory
# (a wiped or crashed-unclean disk gets a new incarnation, so dots are never reused).
struct Actor {
  node @0 :Text;
  incarnation @1 :UInt64;
}

struct VersionVectorEntry {
  actor @0 :Actor;
  counter @1 :UInt64;
}

# A version vector; as a causal context it is opaque bytes to clients.
struct VersionVector {
  entries @0 :List(VersionVectorEntry);
}

struct Sibling {
  actor @0 :Actor;        # the dot: (actor, counter)
  counter @1 :UInt64;
  tombstone @2 :Bool;     # a delete; value is empty
  value @3 :Data;
  expiresMs @4 :Int64;    # a value's time to live ends at this unix ms (0: never)
  timestampMs @5 :Int64;  # the coordinator's unix ms when it wrote this sibling (0: unknown,
                          # written before this field)
}

# The stored state of one key (RocksDB data column family value, replica writes).
struct SiblingSet {
  versionVector @0 :VersionVector;
  siblings @1 :List(Sibling);
}
