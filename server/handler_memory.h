#pragma once

// Per-operation handler memory for Asio (the pattern of Asio's "allocation" example): an
// operation's state lives in a small buffer owned by the object that starts it, so reads and
// writes allocate nothing. Asio's own recycling cache holds only a couple of blocks per thread,
// which is not enough when a loop handles a batch of ready connections in one turn.
// Not thread-safe; at most one operation per HandlerMemory at a time.

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace rcbench::server {

class HandlerMemory {
 public:
  HandlerMemory() = default;
  HandlerMemory(const HandlerMemory&) = delete;
  HandlerMemory& operator=(const HandlerMemory&) = delete;

  void* Allocate(std::size_t size) {
    if (!in_use_ && size <= sizeof(storage_)) {
      in_use_ = true;
      return &storage_;
    }
    return ::operator new(size);
  }
  void Deallocate(void* p) {
    if (p == &storage_) {
      in_use_ = false;
    } else {
      ::operator delete(p);
    }
  }

 private:
  std::aligned_storage_t<1024, alignof(std::max_align_t)> storage_;
  bool in_use_ = false;
};

template <typename T>
class HandlerAllocator {
 public:
  using value_type = T;
  explicit HandlerAllocator(HandlerMemory& mem) : mem_(&mem) {}
  template <typename U>
  HandlerAllocator(const HandlerAllocator<U>& other) noexcept : mem_(other.mem_) {}
  T* allocate(std::size_t n) { return static_cast<T*>(mem_->Allocate(sizeof(T) * n)); }
  void deallocate(T* p, std::size_t) { mem_->Deallocate(p); }
  template <typename U>
  bool operator==(const HandlerAllocator<U>& o) const noexcept {
    return mem_ == o.mem_;
  }
  template <typename U>
  bool operator!=(const HandlerAllocator<U>& o) const noexcept {
    return mem_ != o.mem_;
  }

 private:
  template <typename>
  friend class HandlerAllocator;
  HandlerMemory* mem_;
};

// A completion handler that tells Asio to allocate its operation from `mem`.
template <typename Handler>
class MemoryBoundHandler {
 public:
  using allocator_type = HandlerAllocator<Handler>;
  MemoryBoundHandler(HandlerMemory& mem, Handler h) : mem_(mem), handler_(std::move(h)) {}
  allocator_type get_allocator() const noexcept { return allocator_type(mem_); }
  template <typename... Args>
  void operator()(Args&&... args) {
    handler_(std::forward<Args>(args)...);
  }

 private:
  HandlerMemory& mem_;
  Handler handler_;
};

template <typename Handler>
MemoryBoundHandler<std::decay_t<Handler>> BindMemory(HandlerMemory& mem, Handler&& h) {
  return MemoryBoundHandler<std::decay_t<Handler>>(mem, std::forward<Handler>(h));
}

}  // namespace rcbench::server
