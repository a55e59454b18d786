#pragma once

#include "dataplane/recycled_memory.h"

#include <boost/container/small_vector.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

namespace grpc_ingress {

template <typename T>
concept TemporaryString = std::is_same_v<T, std::string>;

// One header field: views into the bytes of the HeaderList that holds it
// (or, before it is added to a list, into whatever the caller passes).
struct Header {
  std::string_view name;
  std::string_view value;

  constexpr Header() = default;
  constexpr Header(std::string_view name, std::string_view value) : name(name), value(value) {}
  // A view of a temporary string dangles at the end of the statement: keep
  // the string in a variable first.
  template <typename Name, typename Value>
    requires TemporaryString<Name> || TemporaryString<Value>
  Header(Name&&, Value&&) = delete;
};

// Bytes of header names and values, copied into blocks owned here, so a
// call's text costs one recycled block instead of a string per field. Views
// stay valid while the store lives, moves included, until clear().
class TextStore {
 public:
  explicit TextStore(size_t first_block = 512) : first_block_(first_block) {}
  TextStore(TextStore&&) noexcept = default;
  TextStore& operator=(TextStore&&) noexcept = default;

  // Copies `text` in and returns the copy.
  std::string_view keep(std::string_view text) {
    if (text.empty()) return {};
    if (blocks_.empty() || used_ + text.size() > blocks_.back().size) {
      size_t size = std::max(blocks_.empty() ? first_block_ : blocks_.back().size * 2, text.size());
      char* bytes = RecycledAllocator<char>().allocate(size);
      blocks_.push_back({std::unique_ptr<char[], BlockFree>(bytes), size});
      used_ = 0;
    }
    char* at = blocks_.back().bytes.get() + used_;
    std::memcpy(at, text.data(), text.size());
    used_ += text.size();
    return {at, text.size()};
  }

  // Views taken before are invalid after this (the first block is reused).
  void clear() {
    if (blocks_.size() > 1) blocks_.erase(blocks_.begin() + 1, blocks_.end());
    used_ = 0;
  }

 private:
  struct BlockFree {
    void operator()(char* bytes) const { recycled_free(bytes); }
  };
  struct Block {
    std::unique_ptr<char[], BlockFree> bytes;
    size_t size = 0;
  };

  boost::container::small_vector<Block, 2> blocks_;  // the last one is being filled
  size_t used_ = 0;                                   // bytes of the last block taken
  size_t first_block_;
};

// The header fields of one request, response or trailer block, in order. The
// list copies every name and value into its TextStore; the fields themselves
// sit inline up to a typical gRPC call's count. Views stay valid while the
// list lives, moves included; changing a value goes through set_value().
class HeaderList {
 public:
  // Fields a gRPC call's request or response usually has (x-request-id included).
  static constexpr size_t kInline = 12;
  using Fields = boost::container::small_vector<Header, kInline>;

  HeaderList() = default;
  HeaderList(std::initializer_list<Header> fields) {
    for (const Header& field : fields) push_back(field);
  }
  HeaderList(HeaderList&&) noexcept = default;
  HeaderList& operator=(HeaderList&&) noexcept = default;
  HeaderList(const HeaderList& other) { *this = other; }
  HeaderList& operator=(const HeaderList& other) {
    if (this == &other) return *this;
    clear();
    for (const Header& field : other) push_back(field);
    return *this;
  }
  // Built apart first: `fields` may view this list's own bytes.
  HeaderList& operator=(std::initializer_list<Header> fields) { return *this = HeaderList(fields); }

  // Adds a field, copying its name and value into the list.
  void push_back(const Header& field) { fields_.push_back({text_.keep(field.name), text_.keep(field.value)}); }
  // Replaces the value of field `index`, copying it into the list.
  void set_value(size_t index, std::string_view value) { fields_[index].value = text_.keep(value); }

  // Drops every field called `name` (their bytes stay until clear()).
  void remove(std::string_view name) {
    fields_.erase(std::remove_if(fields_.begin(), fields_.end(), [&](const Header& field) { return field.name == name; }),
                  fields_.end());
  }
  // The value of the first field called `name`, or nullptr.
  const std::string_view* find(std::string_view name) const {
    for (const Header& field : fields_) {
      if (field.name == name) return &field.value;
    }
    return nullptr;
  }

  // Views of the fields taken before are invalid after this (the first block
  // stays for the next fields: a retried call's answer).
  void clear() {
    fields_.clear();
    text_.clear();
  }
  void reserve(size_t n) { fields_.reserve(n); }

  Fields::const_iterator begin() const { return fields_.begin(); }
  Fields::const_iterator end() const { return fields_.end(); }
  const Header& operator[](size_t index) const { return fields_[index]; }
  const Header& back() const { return fields_.back(); }
  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }

 private:
  Fields fields_;
  TextStore text_;  // a gRPC call's request headers fit in its first block
};

}  // namespace grpc_ingress
