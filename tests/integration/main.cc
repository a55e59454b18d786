#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "tests/integration/harness.h"

namespace grpc_ingress::testing {

// Shows the proxy's and the pods' logs next to the first failed assertion.
class ProcessLogsOnFailure : public Catch::TestEventListenerBase {
 public:
  using Catch::TestEventListenerBase::TestEventListenerBase;

  void testCaseStarting(const Catch::TestCaseInfo&) override { on_test_case_start(); }

  bool assertionEnded(const Catch::AssertionStats& stats) override {
    if (!stats.assertionResult.isOk()) on_assertion_failed();
    return true;
  }
};

CATCH_REGISTER_LISTENER(ProcessLogsOnFailure)

}  // namespace grpc_ingress::testing
