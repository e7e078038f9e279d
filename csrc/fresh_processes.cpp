#include "fresh_processes.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "infermeter/errors.h"

extern char** environ;

namespace infermeter {

namespace {

// A scratch file for one child's result, removed when done with.
class ScratchFile {
 public:
  ScratchFile() {
    std::string pattern = (std::filesystem::temp_directory_path() / "infermeter-repeat-XXXXXX").string();
    const int fd = mkstemp(pattern.data());
    if (fd < 0) throw EngineError(std::string("cannot create a scratch file for a repeat: ") + std::strerror(errno));
    close(fd);
    path_ = pattern;
  }
  ~ScratchFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Waits for the child, retrying when a signal (the user's Ctrl-C) interrupts the wait.
int wait_for(pid_t child) {
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) throw EngineError(std::string("waiting for a repeat failed: ") + std::strerror(errno));
  }
  return status;
}

}  // namespace

std::vector<nlohmann::json> run_in_fresh_processes(const std::vector<std::string>& args, int count,
                                                   const volatile std::sig_atomic_t& interrupted) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<nlohmann::json> runs;
  for (int k = 0; k < count && !interrupted; ++k) {
    ScratchFile result;
    std::vector<std::string> words = {self};
    words.insert(words.end(), args.begin(), args.end());
    words.insert(words.end(), {"--json", result.path()});
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t child = 0;
    const int spawned = posix_spawn(&child, self.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) throw EngineError("cannot start repeat " + std::to_string(k + 1) + ": " + std::strerror(spawned));
    const int status = wait_for(child);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0 && code != 130)
      throw EngineError("repeat " + std::to_string(k + 1) + " of " + std::to_string(count) + " failed (exit " +
                        std::to_string(code) + "); its message is above");
    std::ifstream in(result.path());
    auto doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) throw EngineError("repeat " + std::to_string(k + 1) + " wrote no result document");
    runs.push_back(std::move(doc));
    if (code == 130) break;  // the child was interrupted: keep its partial result, start no more
  }
  return runs;
}

}  // namespace infermeter
