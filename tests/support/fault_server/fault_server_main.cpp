// popalign_fault_server: the fault-injecting loopback server as a program, for benchmarks and
// by-hand runs of the CLI against one or several loopback servers:
//   popalign_fault_server PORT [THREADS]     (THREADS default 64; one per kept-alive connection)
// Prints "listening on http://127.0.0.1:PORT" once ready; SIGINT / SIGTERM stop it and print
// the number of requests answered.
#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "fault_server.hpp"

namespace {
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_signal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PORT [THREADS]\n", argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int threads = argc > 2 ? std::atoi(argv[2]) : 64;
  if (port <= 0 || port > 65535 || threads < 1) {
    std::fprintf(stderr, "bad PORT or THREADS\n");
    return 2;
  }
  // Keep freed memory in the arenas: without this glibc gives it back with madvise() after
  // nearly every request (2-3 calls per request, most of the server's system time).
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  popalign::test::FaultServer server(threads, port);
  std::printf("listening on http://127.0.0.1:%d\n", server.port());
  std::fflush(stdout);
  while (!g_stop) {
    struct timespec ts {
      0, 100'000'000
    };
    nanosleep(&ts, nullptr);
  }
  std::printf("answered %zu requests\n", server.total());
  return 0;
}
