#!/bin/bash
# Tests that cannot fail under ctest are forbidden:
# - CTest splits a name at ';': a Catch2 test whose name holds one is
#   discovered as a filter that matches nothing, and "passes" without running;
# - a name starting with '-' is read by Catch2 as a command-line option;
# - Catch2's [!mayfail] / [!shouldfail] tags turn a failure into a pass.
set -u
root="${1:?usage: check_test_names.sh <source dir>}"
status=0
report() {
  local what="$1" pattern="$2"
  local bad
  bad=$(grep -rnE "$pattern" "$root/tests" --include='*.cc' || true)
  if [ -n "$bad" ]; then
    echo "$what:"
    echo "$bad"
    status=1
  fi
}
report "test names with ';' (CTest would never run them)" 'TEST_CASE\("[^"]*;'
report "test names starting with '-' (Catch2 reads them as options)" 'TEST_CASE\("-'
report "tests tagged to pass when they fail" '\[!(mayfail|shouldfail)\]'
[ "$status" -eq 0 ] && echo "every test name runs under ctest, and every test can fail"
exit "$status"
