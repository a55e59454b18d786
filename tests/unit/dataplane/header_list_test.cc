#include "dataplane/header_list.h"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

using namespace grpc_ingress;

TEST_CASE("a header list keeps its own copy of every name and value, through moves and copies", "[headers]") {
  HeaderList list;
  {
    std::string name = "x-trace", value(300, 'v');  // temporaries: the list must not point at them
    list.push_back({name, value});
    list.push_back({"content-type", "application/grpc"});
    name.assign(7, '?');
    value.assign(300, '?');
  }
  REQUIRE(list.size() == 2);
  CHECK(list[0].name == "x-trace");
  CHECK(list[0].value == std::string(300, 'v'));

  HeaderList moved = std::move(list);
  CHECK(moved[1].value == "application/grpc");
  HeaderList copied = moved;
  moved.clear();
  CHECK(copied.size() == 2);
  CHECK(copied[0].value == std::string(300, 'v'));
  REQUIRE(copied.find("content-type") != nullptr);
  CHECK(*copied.find("content-type") == "application/grpc");
  CHECK(copied.find("te") == nullptr);
}

TEST_CASE("a header list grows past its first block and its inline fields, and set_value replaces in place",
          "[headers]") {
  HeaderList list;
  std::vector<std::string> values;
  for (int i = 0; i < 40; ++i) values.push_back(std::string(100 + i, static_cast<char>('a' + i % 26)));
  for (int i = 0; i < 40; ++i) {
    std::string name = "h" + std::to_string(i);
    list.push_back({name, values[i]});
  }
  std::string big(5000, 'b');
  list.push_back({"big", big});  // larger than any block so far
  REQUIRE(list.size() == 41);
  for (int i = 0; i < 40; ++i) {
    CHECK(list[i].name == "h" + std::to_string(i));
    CHECK(list[i].value == values[i]);
  }
  CHECK(list.back().value == std::string(5000, 'b'));

  list.set_value(3, std::to_string(42) + "m");
  CHECK(list[3].value == "42m");
  CHECK(list[4].value == values[4]);

  list = {{"first", list[1].value}, {"second", list[0].value}};  // assigned from its own fields
  CHECK(list[0].value == values[1]);
  CHECK(list[1].value == values[0]);

  list = {{"grpc-status", "0"}, {"grpc-message", ""}};
  REQUIRE(list.size() == 2);
  CHECK(list[0].value == "0");
  CHECK(list[1].value.empty());
}
