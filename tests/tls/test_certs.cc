#include "tests/tls/test_certs.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace qkv::testing {
namespace {

void run(const std::string& command) {
  const std::string quiet = command + " >/dev/null 2>&1";
  if (std::system(quiet.c_str()) != 0) {
    std::fprintf(stderr, "test_certs: failed: %s\n", command.c_str());
    std::abort();
  }
}

std::string make_ca(const std::string& dir, const std::string& name) {
  run(
      fmt::format("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                  "-keyout {0}/{1}.key -out {0}/{1}.crt -days 3650 -subj /CN={1}",
                  dir, name));
  return fmt::format("{}/{}.crt", dir, name);
}

}  // namespace

TestCerts::TestCerts(std::string dir) : dir_(std::move(dir)) {
  // Start empty: a directory an earlier process left under the same name (a reused pid)
  // holds node certificates signed by its own CA, which node() would hand out as ours.
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  ca_ = make_ca(dir_, "cluster-ca");
  ca_key_ = dir_ + "/cluster-ca.key";
  foreign_ca_ = make_ca(dir_, "foreign-ca");
  foreign_ca_key_ = dir_ + "/foreign-ca.key";
}

CertFiles TestCerts::sign(const std::string& name, const std::string& subject,
                          const std::string& san, const std::string& ca_cert,
                          const std::string& ca_key, int days) {
  CertFiles files{fmt::format("{}/{}.crt", dir_, name), fmt::format("{}/{}.key", dir_, name)};
  const std::string csr = fmt::format("{}/{}.csr", dir_, name);
  run(fmt::format(
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout {} -out {} "
      "-subj /CN={}",
      files.key, csr, subject));
  std::string ext_option;
  if (!san.empty()) {
    const std::string ext = fmt::format("{}/{}.ext", dir_, name);
    std::ofstream(ext) << "subjectAltName=" << san << "\n";
    ext_option = "-extfile " + ext;
  }
  run(fmt::format("openssl x509 -req -in {} -CA {} -CAkey {} -set_serial {} -out {} -days {} {}",
                  csr, ca_cert, ca_key, std::rand(), files.cert, days, ext_option));
  return files;
}

CertFiles TestCerts::node(const std::string& id) {
  const std::string cert = fmt::format("{}/node-{}.crt", dir_, id);
  if (std::filesystem::exists(cert)) return {cert, fmt::format("{}/node-{}.key", dir_, id)};
  return sign("node-" + id, id, fmt::format("URI:urn:qkv:node:{},DNS:localhost,IP:127.0.0.1", id),
              ca_, ca_key_, 30);
}

CertFiles TestCerts::client(const std::string& name) {
  return sign("client-" + name, name, "", ca_, ca_key_, 30);
}

CertFiles TestCerts::expired_node(const std::string& id) {
  return sign("expired-" + id, id,
              fmt::format("URI:urn:qkv:node:{},DNS:localhost,IP:127.0.0.1", id), ca_, ca_key_, -1);
}

CertFiles TestCerts::foreign_node(const std::string& id) {
  return sign("foreign-" + id, id,
              fmt::format("URI:urn:qkv:node:{},DNS:localhost,IP:127.0.0.1", id), foreign_ca_,
              foreign_ca_key_, 30);
}

void TestCerts::reissue_node(const std::string& id, const CertFiles& files) {
  CertFiles fresh =
      sign("reissued-" + id, id, fmt::format("URI:urn:qkv:node:{},DNS:localhost,IP:127.0.0.1", id),
           ca_, ca_key_, 60);
  // Certificate first, then key, as a naive rotation would: readers must cope.
  std::filesystem::copy_file(fresh.cert, files.cert,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(fresh.key, files.key,
                             std::filesystem::copy_options::overwrite_existing);
}

}  // namespace qkv::testing
