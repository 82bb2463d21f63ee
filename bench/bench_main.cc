// bench/bench_main.cc - the google-benchmark suite, written once against the
// C shim (shim.h) and linked once per allocator (bench-<allocator>).
//
// Benchmarks (the numbering), each registered only when the shim
// supports its operation group:
//   1. pair/size:N          malloc + free of N bytes, one thread      (BA_MALLOC)
//   2. batch1000            1000 live blocks of random sizes, freed in
//                           random order, repeat                      (BA_MALLOC)
//   3. prodcons/size:N      allocated on one thread, freed on another (BA_MALLOC)
//   4. larson/threads:T     larson-like server: T threads replace random
//                           slots and hand their slot sets to each other
//                                                                     (BA_MALLOC)
//   5. node/size:N/node:K   allocate on node K + free (size known)    (BA_NODE)
//   6. pool/pair, pool/burst64   fixed-size get + put                 (BA_POOL)
//   7. region/mib:M, interleaved/mib:M   populated bound / interleaved
//                           regions, create + destroy     (BA_REGION / BA_INTERLEAVE)
//   8. churn                resident memory after a churn phase (run alone
//                           in a fresh process by bench/run)          (BA_MALLOC)
//
// Every benchmark reports items_per_second, where one item is one operation
// pair (alloc + free, get + put, create + destroy); bench/report.py turns
// that into time per operation.  Single-thread benchmarks are timed in CPU
// time; the multi-thread ones (prodcons, larson) in real time, and they also
// report the CPU time all their threads spent per operation (thread CPU
// clocks), which the load of a shared machine hardly disturbs.
//
// Options besides google-benchmark's: --quick (fewer sizes / smaller
// problems), --info (print the allocator's name, groups and note as JSON).

#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "shim.h"

namespace {

bool g_quick = false;
int g_node0 = 0; // the first node with memory (node 0 on most machines)

// xorshift64*: deterministic, cheap, no allocation.
struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
    uint64_t next()
    {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 2685821657736338717ull;
    }
    // Log-uniform size in [lo, hi]: as many small blocks as large ones per
    // power of two, like real programs.
    size_t size(size_t lo, size_t hi)
    {
        unsigned lo_b = 63 - __builtin_clzll(lo), hi_b = 63 - __builtin_clzll(hi);
        unsigned b = lo_b + (unsigned)(next() % (hi_b - lo_b + 1));
        size_t base = (size_t)1 << b;
        size_t s = base + (next() % base);
        return s < lo ? lo : s > hi ? hi : s;
    }
};

void fail(benchmark::State &st, const char *what)
{
    st.SkipWithError(what);
}

// ---- 1. malloc + free pairs ---------------------------------------------
void bm_pair(benchmark::State &st)
{
    const size_t size = (size_t)st.range(0);
    // Keep a few blocks of the size live, as any real program does, so the
    // timed block never leaves its page empty (mimalloc would retire the
    // page on every free of a lone block).  Same for every allocator.
    void *keep[16];
    for (auto &k : keep)
        k = ba_alloc(size);
    for (auto _ : st) {
        void *p = ba_alloc(size);
        benchmark::DoNotOptimize(p);
        ba_free(p);
    }
    for (auto &k : keep)
        ba_free(k);
    st.SetItemsProcessed(st.iterations());
}

// ---- 2. batches of 1000 live blocks ---------------------------------------
void bm_batch(benchmark::State &st)
{
    const int n = 1000;
    std::vector<size_t> sizes(n);
    std::vector<int> order(n);
    std::vector<void *> live(n);
    Rng rng(42);
    for (int i = 0; i < n; i++) {
        sizes[i] = rng.size(16, 8192);
        order[i] = i;
    }
    for (int i = n - 1; i > 0; i--)
        std::swap(order[i], order[rng.next() % (i + 1)]);
    for (auto _ : st) {
        for (int i = 0; i < n; i++) {
            void *p = ba_alloc(sizes[i]);
            if (!p) {
                fail(st, "allocation failed");
                return;
            }
            *(volatile char *)p = (char)i;
            live[i] = p;
        }
        for (int i = 0; i < n; i++)
            ba_free(live[order[i]]);
    }
    st.SetItemsProcessed(st.iterations() * n);
}

// ---- 3. producer / consumer (remote frees) --------------------------------
// The producer fills batches of kBatch blocks and hands each whole batch to
// the consumer, which frees every block (all remote frees) and gives the
// empty batch back.  Waits block on a condition variable (no spinning: on a
// small shared machine a spinner steals the core of the thread it waits
// for), one lock round trip per batch.  Reported: real-time throughput
// (items_per_second) and the CPU both threads spent per block
// (cpu_ns_per_block, from their thread CPU clocks): the latter is what the
// allocator costs and hardly depends on the machine's load.
constexpr int kBatch = 1024;
constexpr int kBatches = 8;

double thread_cpu_ns()
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct Handoff {
    std::mutex mu;
    std::condition_variable cv;
    void **full[kBatches]; // FIFO of filled batches
    int full_head = 0, full_len = 0;
    void **empty[kBatches]; // stack of empty batches
    int empty_len = 0;
    bool stop = false;
};

void bm_prodcons(benchmark::State &st)
{
    const size_t size = (size_t)st.range(0);
    auto *h = new Handoff;
    std::vector<void *> store((size_t)kBatch * kBatches);
    for (int i = 0; i < kBatches; i++)
        h->empty[h->empty_len++] = &store[(size_t)i * kBatch];
    double consumer_cpu = 0;
    std::thread consumer([&] {
        double c0 = thread_cpu_ns();
        std::unique_lock<std::mutex> lk(h->mu);
        for (;;) {
            h->cv.wait(lk, [&] { return h->full_len > 0 || h->stop; });
            if (h->full_len == 0)
                break;
            void **b = h->full[h->full_head];
            h->full_head = (h->full_head + 1) % kBatches;
            h->full_len--;
            lk.unlock();
            for (int i = 0; i < kBatch; i++)
                ba_free(b[i]);
            lk.lock();
            h->empty[h->empty_len++] = b;
            h->cv.notify_all();
        }
        consumer_cpu = thread_cpu_ns() - c0;
    });
    int64_t produced = 0;
    double p0 = thread_cpu_ns();
    for (auto _ : st) {
        void **b;
        {
            std::unique_lock<std::mutex> lk(h->mu);
            h->cv.wait(lk, [&] { return h->empty_len > 0; });
            b = h->empty[--h->empty_len];
        }
        for (int i = 0; i < kBatch; i++) {
            void *p = ba_alloc(size);
            if (!p)
                abort();
            *(volatile char *)p = 1;
            b[i] = p;
        }
        {
            std::lock_guard<std::mutex> lk(h->mu);
            h->full[(h->full_head + h->full_len) % kBatches] = b;
            h->full_len++;
        }
        h->cv.notify_all();
        produced += kBatch;
    }
    double producer_cpu = thread_cpu_ns() - p0;
    {
        std::lock_guard<std::mutex> lk(h->mu);
        h->stop = true;
    }
    h->cv.notify_all();
    consumer.join();
    delete h;
    st.SetItemsProcessed(produced);
    st.counters["cpu_ns_per_block"] = produced ? (producer_cpu + consumer_cpu) / produced : 0;
}

// ---- 4. larson-like server ------------------------------------------------
constexpr int kLarsonSlots = 1000;
struct SlotSet {
    void *p[kLarsonSlots];
};
std::atomic<SlotSet *> g_mailbox{nullptr};

SlotSet *slots_new(Rng &rng)
{
    auto *s = new SlotSet;
    for (int i = 0; i < kLarsonSlots; i++) {
        s->p[i] = ba_alloc(rng.size(16, 1024));
        if (!s->p[i])
            abort();
    }
    return s;
}

void slots_free(SlotSet *s)
{
    for (int i = 0; i < kLarsonSlots; i++)
        ba_free(s->p[i]);
    delete s;
}

void bm_larson(benchmark::State &st)
{
    Rng rng(1000 + st.thread_index());
    if (st.thread_index() == 0)
        g_mailbox.store(slots_new(rng));
    SlotSet *mine = slots_new(rng);
    int64_t ops = 0;
    unsigned round = 0;
    double c0 = thread_cpu_ns();
    for (auto _ : st) {
        for (int k = 0; k < 64; k++) {
            int i = (int)(rng.next() % kLarsonSlots);
            ba_free(mine->p[i]);
            void *p = ba_alloc(rng.size(16, 1024));
            if (!p)
                abort();
            *(volatile char *)p = 1;
            mine->p[i] = p;
        }
        ops += 64;
        // Every 16 rounds hand this slot set to whichever thread comes
        // next and take the one left there: its blocks are freed here,
        // away from the thread that allocated them (larson's handover).
        if ((++round & 15) == 0)
            mine = g_mailbox.exchange(mine, std::memory_order_acq_rel);
    }
    double cpu = thread_cpu_ns() - c0;
    slots_free(mine);
    st.SetItemsProcessed(ops);
    // Summed over threads by google-benchmark; report.py divides.
    st.counters["cpu_ns"] = cpu;
    st.counters["ops"] = (double)ops;
    // All threads have left the timed loop (google-benchmark's stop
    // barrier), so nobody touches the mailbox any more.
    if (st.thread_index() == 0)
        slots_free(g_mailbox.exchange(nullptr));
}

// ---- 5. allocate on a node --------------------------------------------------
void bm_node(benchmark::State &st)
{
    const size_t size = (size_t)st.range(0);
    const int node = (int)st.range(1);
    void *keep[16]; // as in bm_pair
    for (auto &k : keep)
        k = ba_alloc_on_node(node, size);
    for (auto _ : st) {
        void *p = ba_alloc_on_node(node, size);
        if (!p) {
            fail(st, "allocation on node failed");
            return;
        }
        benchmark::DoNotOptimize(p);
        ba_free_on_node(p, size, node);
    }
    for (auto &k : keep)
        ba_free_on_node(k, size, node);
    st.SetItemsProcessed(st.iterations());
}

// ---- 6. pools -----------------------------------------------------------------
constexpr size_t kPoolElt = 256;
constexpr size_t kPoolCount = 4096;

void bm_pool_pair(benchmark::State &st)
{
    void *pool = ba_pool_create(kPoolElt, kPoolCount);
    if (!pool) {
        fail(st, "pool create failed");
        return;
    }
    void *keep[16]; // as in bm_pair
    for (auto &k : keep)
        k = ba_pool_get(pool);
    for (auto _ : st) {
        void *b = ba_pool_get(pool);
        benchmark::DoNotOptimize(b);
        ba_pool_put(pool, b);
    }
    for (auto &k : keep)
        ba_pool_put(pool, k);
    ba_pool_destroy(pool);
    st.SetItemsProcessed(st.iterations());
}

void bm_pool_burst(benchmark::State &st)
{
    const int n = 64;
    void *bufs[n];
    void *pool = ba_pool_create(kPoolElt, kPoolCount);
    if (!pool) {
        fail(st, "pool create failed");
        return;
    }
    for (auto _ : st) {
        for (int i = 0; i < n; i++) {
            bufs[i] = ba_pool_get(pool);
            benchmark::DoNotOptimize(bufs[i]);
        }
        for (int i = n - 1; i >= 0; i--)
            ba_pool_put(pool, bufs[i]);
    }
    ba_pool_destroy(pool);
    st.SetItemsProcessed(st.iterations() * n);
}

// ---- 7. populated regions and interleaved allocations ------------------------
void bm_region(benchmark::State &st)
{
    const size_t size = (size_t)st.range(0) << 20;
    for (auto _ : st) {
        void *p = ba_region_populated(size, g_node0);
        if (!p) {
            fail(st, "region failed");
            return;
        }
        benchmark::DoNotOptimize(p);
        ba_region_free(p, size);
    }
    st.SetItemsProcessed(st.iterations());
    st.SetBytesProcessed(st.iterations() * (int64_t)size);
}

void bm_interleaved(benchmark::State &st)
{
    const size_t size = (size_t)st.range(0) << 20;
    for (auto _ : st) {
        void *p = ba_interleaved(size);
        if (!p) {
            fail(st, "interleaved allocation failed");
            return;
        }
        benchmark::DoNotOptimize(p);
        ba_interleaved_free(p, size);
    }
    st.SetItemsProcessed(st.iterations());
    st.SetBytesProcessed(st.iterations() * (int64_t)size);
}

// ---- 8. resident memory after churn ------------------------------------------
int64_t rss_bytes()
{
    FILE *f = fopen("/proc/self/statm", "r");
    long total = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &total, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (int64_t)resident * sysconf(_SC_PAGESIZE);
}

void bm_churn(benchmark::State &st)
{
    const size_t n = g_quick ? 40000 : 100000;
    std::vector<void *> live(n, nullptr);
    std::vector<uint32_t> sz(n, 0);
    Rng rng(7);
    int64_t peak = 0, after_churn = 0, after_free = 0, live_bytes = 0;
    const int64_t base = rss_bytes();
    for (auto _ : st) {
        // Phase 1: fill with 16 B .. 4 KiB blocks.
        for (size_t i = 0; i < n; i++) {
            sz[i] = (uint32_t)rng.size(16, 4096);
            live[i] = ba_alloc(sz[i]);
            memset(live[i], 1, 16);
        }
        peak = std::max(peak, rss_bytes() - base);
        // Phase 2: three rounds of freeing half at random and refilling
        // with a shifted size mix (fragmentation across size classes).
        const size_t mix[3][2] = {{16, 256}, {256, 8192}, {16, 1024}};
        for (int r = 0; r < 3; r++) {
            for (size_t i = 0; i < n; i++) {
                if (rng.next() & 1) {
                    ba_free(live[i]);
                    sz[i] = (uint32_t)rng.size(mix[r][0], mix[r][1]);
                    live[i] = ba_alloc(sz[i]);
                    memset(live[i], 1, 16);
                }
            }
            peak = std::max(peak, rss_bytes() - base);
        }
        // Phase 3: keep one block in ten.
        live_bytes = 0;
        for (size_t i = 0; i < n; i++) {
            if (rng.next() % 10) {
                ba_free(live[i]);
                live[i] = nullptr;
            } else {
                live_bytes += sz[i];
            }
        }
        after_churn = rss_bytes() - base;
        for (size_t i = 0; i < n; i++)
            if (live[i])
                ba_free(live[i]);
        after_free = rss_bytes() - base;
    }
    st.counters["rss_peak"] = (double)peak;
    st.counters["rss_after_churn"] = (double)after_churn;
    st.counters["live_bytes"] = (double)live_bytes;
    st.counters["rss_after_free"] = (double)after_free;
    st.SetItemsProcessed(st.iterations());
}

std::string json_escape(const char *s)
{
    std::string o;
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            o += '\\';
        if ((unsigned char)*s < 0x20)
            continue;
        o += *s;
    }
    return o;
}

std::vector<int> memory_nodes()
{
    std::vector<int> nodes;
    FILE *f = fopen("/sys/devices/system/node/has_memory", "r");
    char buf[1024] = "0";
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            strcpy(buf, "0");
        fclose(f);
    }
    for (char *s = buf; *s && *s != '\n';) {
        long a = strtol(s, &s, 10), b = a;
        if (*s == '-')
            b = strtol(s + 1, &s, 10);
        for (long i = a; i <= b; i++)
            nodes.push_back((int)i);
        if (*s != ',')
            break;
        s++;
    }
    if (nodes.empty())
        nodes.push_back(0);
    return nodes;
}

void register_all(unsigned caps)
{
    using benchmark::RegisterBenchmark;
    g_node0 = memory_nodes().front();
    if (caps & BA_MALLOC) {
        auto *b = RegisterBenchmark("pair", bm_pair);
        b->ArgName("size");
        for (long s = 16; s <= 32768; s *= 2)
            b->Arg(s);
        RegisterBenchmark("batch1000", bm_batch);
        // The multi-thread ones are the noisiest on a shared machine: in full
        // mode each round repeats them, and report.py takes the median of all.
        const int reps = g_quick ? 1 : 3;
        RegisterBenchmark("prodcons", bm_prodcons)->ArgName("size")->Arg(64)->Arg(1024)
            ->UseRealTime()->Repetitions(reps);
        RegisterBenchmark("larson", bm_larson)->Threads(2)->Threads(4)->UseRealTime()
            ->Repetitions(reps);
        RegisterBenchmark("churn", bm_churn)->Iterations(1);
    }
    if (caps & BA_NODE) {
        // Node 0 and, on a multi-node machine, the highest node with memory.
        std::vector<int> nodes = memory_nodes();
        std::vector<int> targets{g_node0};
        if (nodes.size() > 1)
            targets.push_back(nodes.back());
        auto *b = RegisterBenchmark("node", bm_node);
        b->ArgNames({"size", "node"});
        for (long s : {64L, 4096L})
            for (int n : targets)
                b->Args({s, n});
    }
    if (caps & BA_POOL) {
        RegisterBenchmark("pool/pair", bm_pool_pair);
        RegisterBenchmark("pool/burst64", bm_pool_burst);
    }
    std::vector<long> mib = g_quick ? std::vector<long>{2, 32}
                                    : std::vector<long>{2, 8, 32, 128, 256};
    if (caps & BA_REGION) {
        auto *b = RegisterBenchmark("region", bm_region);
        b->ArgName("mib");
        for (long m : mib)
            b->Arg(m);
    }
    if (caps & BA_INTERLEAVE) {
        auto *b = RegisterBenchmark("interleaved", bm_interleaved);
        b->ArgName("mib");
        for (long m : mib)
            b->Arg(m);
    }
}

} // namespace

int main(int argc, char **argv)
{
    bool info = false;
    std::vector<char *> args;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            g_quick = true;
        else if (!strcmp(argv[i], "--info"))
            info = true;
        else
            args.push_back(argv[i]);
    }
    int rc = ba_init();
    if (info) {
        std::string caps;
        const char *names[] = {"malloc", "node", "pool", "region", "interleave"};
        for (int i = 0; i < 5; i++)
            if (ba_caps() & (1u << i))
                caps += std::string(caps.empty() ? "" : ", ") + "\"" + names[i] + "\"";
        printf("{\"allocator\": \"%s\", \"init\": %d, \"caps\": [%s], \"note\": \"%s\"}\n",
               ba_name(), rc, caps.c_str(), json_escape(ba_note()).c_str());
        return 0;
    }
    if (rc < 0)
        fprintf(stderr, "%s: init failed (%s): %s\n", ba_name(), strerror(-rc), ba_note());
    register_all(rc < 0 ? 0 : ba_caps());
    int n = (int)args.size();
    args.push_back(nullptr);
    benchmark::Initialize(&n, args.data());
    if (benchmark::ReportUnrecognizedArguments(n, args.data()))
        return 2;
    benchmark::AddCustomContext("allocator", ba_name());
    benchmark::AddCustomContext("allocator_note", ba_note());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
