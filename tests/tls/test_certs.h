// Test certificates for the TLS tests, made with Debian's `openssl` command in a directory
// the caller owns: a cluster CA; node certificates naming their node (URI SAN
// urn:qkv:node:<id>, DNS localhost, IP 127.0.0.1); a client certificate; an expired node
// certificate; and a node certificate signed by another CA (another cluster).
#pragma once

#include <string>

namespace qkv::testing {

struct CertFiles {
  std::string cert, key;
};

class TestCerts {
 public:
  // Makes everything under `dir` (created). Aborts the test binary with a message when
  // openssl fails: every TLS test needs these.
  explicit TestCerts(std::string dir);

  const std::string& ca() const { return ca_; }  // the cluster CA's certificate (PEM)
  const std::string& foreign_ca() const { return foreign_ca_; }  // another cluster's CA
  // A certificate for node `id` signed by the cluster CA, made on first use.
  CertFiles node(const std::string& id);
  // Signed by the cluster CA with subject CN=<name> and no SAN (a client user).
  CertFiles client(const std::string& name);
  // Node `id`'s certificate that expired yesterday.
  CertFiles expired_node(const std::string& id);
  // Node `id`'s certificate from another CA, which this cluster does not trust.
  CertFiles foreign_node(const std::string& id);
  // Writes a new certificate (and key) for node `id` over `files`, as a rotation does.
  void reissue_node(const std::string& id, const CertFiles& files);

 private:
  CertFiles sign(const std::string& name, const std::string& subject, const std::string& san,
                 const std::string& ca_cert, const std::string& ca_key, int days);

  std::string dir_;
  std::string ca_, ca_key_, foreign_ca_, foreign_ca_key_;
};

}  // namespace qkv::testing
