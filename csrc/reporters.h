// How a result document is shown: the console summary (the binary prints it,
// Python's Result.summary() returns it) and the JSON file, each a
// ResultReporter (after Google Benchmark's BenchmarkReporter) so that the
// binary hands a result to every output asked for alike.
#pragma once

#include <nlohmann/json.hpp>

#include <ostream>
#include <stdexcept>
#include <string>

namespace infermeter {

class ResultReporter {
 public:
  virtual ~ResultReporter() = default;
  // One result document: a run, or with repeats the median run carrying them.
  virtual void report(const nlohmann::json& result) = 0;
};

// The console summary, to a stream.
class ConsoleReporter : public ResultReporter {
 public:
  explicit ConsoleReporter(std::ostream& out) : out_(out) {}
  void report(const nlohmann::json& result) override;

 private:
  std::ostream& out_;
};

// The document itself, indented, to a file (written whole or not at all).
class JsonFileReporter : public ResultReporter {
 public:
  explicit JsonFileReporter(std::string path) : path_(std::move(path)) {}
  void report(const nlohmann::json& result) override;

 private:
  std::string path_;
};

// A duration in the unit (ns, us, ms, s) that keeps three significant digits.
std::string format_duration_ns(double ns);

// The human-readable summary of a result document, one fact a line.
std::string console_summary(const nlohmann::json& result);

// A file infermeter writes could not be written (a full disk, a file-size
// limit, an I/O error): Python sees an OSError.
struct WriteFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Writes `text` to `path` through a scratch file in the same folder renamed
// over it, so a reader never sees half a file and a failed write leaves any
// earlier file untouched; WriteFailure naming the file when it cannot, or
// when `path` is a directory or a special file (which the rename would replace).
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace infermeter
