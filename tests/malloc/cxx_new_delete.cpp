// tests/malloc/cxx_new_delete.cpp - C++ new/delete (plain, array, sized,
// over-aligned), the standard containers and std::string, run under the
// numaslab malloc replacement.  The project is C: the preload test script
// compiles this with g++ when g++ exists.  Prints "cxx_new_delete: OK".
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <malloc.h>

static void check(bool ok, const char *what)
{
    if (!ok) {
        std::printf("cxx_new_delete: FAILED: %s\n", what);
        std::exit(1);
    }
}

struct alignas(256) Wide {
    unsigned char bytes[256];
};

int main()
{
    // plain and array new: the blocks are malloc's, so malloc_usable_size
    // (the replacement's) knows them
    int *one = new int(42);
    check(*one == 42 && malloc_usable_size(one) >= sizeof(int), "new int");
    delete one;
    auto *arr = new std::uint64_t[10000];
    for (int i = 0; i < 10000; i++)
        arr[i] = (std::uint64_t)i * i;
    check(arr[9999] == 9999ull * 9999ull, "new[]");
    delete[] arr;

    // over-aligned new (aligned_alloc / posix_memalign underneath)
    for (int i = 0; i < 100; i++) {
        Wide *w = new Wide;
        check(reinterpret_cast<std::uintptr_t>(w) % 256 == 0, "alignas(256) new");
        w->bytes[255] = 1;
        delete w;
    }
    Wide *wa = new Wide[7];
    check(reinterpret_cast<std::uintptr_t>(wa) % 256 == 0, "alignas(256) new[]");
    delete[] wa;

    // nothrow new of an impossible size fails without throwing
    void *none = ::operator new(SIZE_MAX / 2, std::nothrow);
    check(none == nullptr, "nothrow new of SIZE_MAX/2");
    bool threw = false;
    try {
        std::vector<char> v;
        v.reserve(SIZE_MAX / 4);
    } catch (const std::bad_alloc &) {
        threw = true;
    } catch (const std::length_error &) {
        threw = true;
    }
    check(threw, "huge reserve throws");

    // containers
    std::map<int, std::string> m;
    std::unordered_map<std::string, std::vector<int>> u;
    for (int i = 0; i < 50000; i++) {
        m[i] = std::to_string(i) + "-value";
        u[std::to_string(i)].push_back(i);
    }
    check(m.size() == 50000 && m[777] == "777-value", "std::map");
    check(u.size() == 50000 && u["4242"][0] == 4242, "std::unordered_map");
    std::string s;
    for (int i = 0; i < 100000; i++)
        s += static_cast<char>('a' + i % 26);
    check(s.size() == 100000 && s[27] == 'b', "std::string growth");

    // threads allocating and freeing each other's objects
    std::vector<std::unique_ptr<std::vector<int>>> shared(8);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; t++)
        threads.emplace_back([t, &shared] {
            auto v = std::make_unique<std::vector<int>>();
            for (int i = 0; i < 20000; i++)
                v->push_back(i * t);
            shared[t] = std::move(v);
        });
    for (auto &th : threads)
        th.join();
    long long sum = 0;
    for (auto &v : shared)
        for (int x : *v)
            sum += x;
    check(sum == 28LL * (19999LL * 20000LL / 2), "threads' vectors");
    shared.clear(); // freed on the main thread

    std::printf("cxx_new_delete: OK\n");
    return 0;
}
