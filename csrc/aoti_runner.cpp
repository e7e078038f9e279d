#include "aoti_runner.h"

#include <c10/core/DeviceType.h>
#include <c10/core/Stream.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/version.h>

#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_set>
#include <utility>
#include <vector>

#include "infermeter/errors.h"
#include "export_facts.h"
#include "model_file.h"
#include "model_inputs.h"
#include "private_copy.h"
#include "sha256.h"
#include "tensor_bytes.h"

namespace infermeter {

namespace {

using Loader = torch::inductor::AOTIModelPackageLoader;

// The package's compiled model is always named "model" by aoti_compile_and_package.
constexpr const char* kModelName = "model";
constexpr const char* kModelDir = "data/aotinductor/model/";

// What is read from the package's zip before the loader extracts and loads it:
// the device check must come first, because a CUDA package cannot even be
// loaded without CUDA.
struct PackageFacts {
  std::string device_key;  // AOTI_DEVICE_KEY: "cpu", "cuda", ...; empty if absent
  std::string input_spec;
  std::string export_info;
  // Each native library in the package (the code loading it runs) and its SHA-256.
  std::vector<std::pair<std::string, std::string>> libraries;
};

std::string record_text(caffe2::serialize::PyTorchStreamReader& reader, const std::string& name) {
  auto [data, size] = reader.getRecord(name);
  return {static_cast<const char*>(data.get()), size};
}

// Reads `file` (the private copy), naming `path` (the user's) in errors.
PackageFacts read_package_facts(const std::string& file, const std::string& path) {
  PackageFacts facts;
  std::string metadata;
  try {
    caffe2::serialize::PyTorchStreamReader reader(file);
    // Names are relative to the archive's root folder; infermeter's entries
    // are matched by suffix, wherever the exporter nested them.
    std::unordered_set<std::string> names;
    for (const auto& name : reader.getAllRecords()) {
      // A zip may hold two entries of one name; a reader that unpacks every
      // entry keeps the last, which need not be the one digested here.
      if (!names.insert(name).second)
        throw EngineError("AOTInductor package '" + path + "' holds two records named " + name +
                          ": it is malformed or was altered, and is not loaded");
      if (name.ends_with(kInputSpecFile)) {
        facts.input_spec = record_text(reader, name);
      } else if (name.ends_with(kExportInfoFile)) {
        facts.export_info = record_text(reader, name);
      } else if (metadata.empty() && name.starts_with(kModelDir) && name.ends_with("_metadata.json")) {
        metadata = record_text(reader, name);
      }
      if (name.ends_with(".so")) {
        auto [data, size] = reader.getRecord(name);
        facts.libraries.emplace_back(name, sha256_hex(data.get(), size));
      }
    }
  } catch (const EngineError&) {
    throw;  // its own, naming the package
  } catch (const std::exception& e) {
    throw EngineError("cannot read '" + path + "' as an AOTInductor package (a .pt2 zip archive): " +
                      short_message(e));
  }
  if (metadata.empty())
    throw EngineError("'" + path + "' holds no compiled AOTInductor model (no " + kModelDir +
                      "*_metadata.json): a TorchScript file is measured with runner torchscript or cuda-graph, and a package "
                      "is written by `infermeter export --format aoti`");
  const auto meta = nlohmann::json::parse(metadata, nullptr, false);
  if (meta.is_discarded() || !meta.is_object())
    throw EngineError("the AOTInductor metadata in '" + path + "' is not a JSON object: the package is corrupt");
  if (meta.contains("AOTI_DEVICE_KEY") && meta["AOTI_DEVICE_KEY"].is_string())
    facts.device_key = meta["AOTI_DEVICE_KEY"].get<std::string>();
  return facts;
}

// Loading a package dlopens its libraries, which runs their code: unless the
// user vouches for the package, every library must be one infermeter's export
// recorded (its digest in the export facts, which the export computed from
// the compiled package). Why the libraries are not the ones infermeter's
// export recorded, or empty.
std::string untrusted_libraries(const PackageFacts& facts) {
  const auto info = nlohmann::json::parse(facts.export_info.empty() ? "null" : facts.export_info, nullptr, false);
  const nlohmann::json recorded =
      info.is_object() && info.contains("native_libraries") ? info.at("native_libraries") : nlohmann::json(nullptr);
  if (!recorded.is_object()) return "it was not exported by infermeter (it records no digests of its native libraries)";
  if (recorded.empty()) return "its export facts record no native library";
  for (const auto& [name, digest] : facts.libraries)
    if (!recorded.contains(name) || recorded.at(name) != digest)
      return "its native library " + name + " is not the one infermeter's export recorded (its SHA-256 differs, "
             "or it was added)";
  // A package without its library is not inert: torch's loader then
  // compiles the package's sources, running the compiler command that the
  // package's own *_compile_flags.json names (seen: a package whose .so was
  // removed ran `touch` through system() on load).
  for (const auto& [name, digest] : recorded.items()) {
    const bool present = std::any_of(facts.libraries.begin(), facts.libraries.end(),
                                     [&](const auto& library) { return library.first == name; });
    if (!present)
      return "its native library " + name + ", which infermeter's export recorded, is missing (without it the "
             "loader compiles the package's sources with a compiler command the package names)";
  }
  return "";
}

std::string trust_problem(const PackageFacts& facts, const std::string& path) {
  const std::string why = untrusted_libraries(facts);
  if (why.empty()) return why;
  return "AOTInductor package '" + path + "' will not be loaded: " + why +
         ". Loading a .pt2 runs the native code inside it; if you trust its source, give --trust (trust=True)";
}

// A record's name as a path inside the folder it is unpacked into: relative,
// and never climbing out of it with "..".
std::filesystem::path record_path(const std::string& name, const std::string& package) {
  const std::filesystem::path relative(name);
  const bool climbs = std::any_of(relative.begin(), relative.end(), [](const auto& part) { return part == ".."; });
  if (relative.is_absolute() || climbs)
    throw EngineError("AOTInductor package '" + package + "' holds a record outside the package: " + name);
  return relative;
}

void write_record(caffe2::serialize::PyTorchStreamReader& reader, const std::string& name,
                  const std::filesystem::path& target) {
  constexpr size_t kChunk = size_t{1} << 20;  // a record may be gigabytes of weights: copied a chunk at a time
  std::filesystem::create_directories(target.parent_path());
  std::ofstream out(target, std::ios::binary);
  auto chunks = reader.createChunkReaderIter(name, reader.getRecordSize(name), kChunk);
  std::vector<char> buffer(kChunk);
  for (size_t read = chunks.next(buffer.data()); read > 0; read = chunks.next(buffer.data()))
    out.write(buffer.data(), static_cast<std::streamsize>(read));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + target.string() + ": " + std::strerror(errno));
}

// Given the .pt2 itself, torch's loader unpacks it into a folder of its own
// that only the loader's destructor removes, so every load that failed (a
// corrupt package, a library that does not load) left one behind in the temp
// directory. From torch 2.14 on (pytorch #172436) the loader also takes the
// folder a package was unpacked into, and leaves that folder to its owner;
// older loaders take the .pt2 alone.
constexpr bool kLoadsUnpackedFolders =
    TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 14);

// A package as loaded: the file read (the run's private copy) and the name
// its messages give (the path the user gave).
struct PackageFile {
  std::string file;
  std::string name;
};

// A package unpacked into a folder infermeter makes in the temp directory,
// removed with it.
class UnpackedPackage {
 public:
  explicit UnpackedPackage(const PackageFile& package) : folder_(make_folder(package.name)) {
    try {
      caffe2::serialize::PyTorchStreamReader reader(package.file);
      for (const auto& name : reader.getAllRecords())
        write_record(reader, name, folder_ / record_path(name, package.name));
    } catch (...) {
      remove();
      throw;
    }
  }
  ~UnpackedPackage() { remove(); }
  UnpackedPackage(const UnpackedPackage&) = delete;
  UnpackedPackage& operator=(const UnpackedPackage&) = delete;

  std::string folder() const { return folder_.string(); }

 private:
  static std::filesystem::path make_folder(const std::string& package) {
    std::string pattern = (std::filesystem::temp_directory_path() / "infermeter-aoti-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr)
      throw EngineError("cannot make a folder in the temp directory to unpack AOTInductor package '" + package +
                        "': " + std::strerror(errno));
    return pattern;
  }

  void remove() noexcept {
    std::error_code ignored;
    std::filesystem::remove_all(folder_, ignored);
  }

  std::filesystem::path folder_;
};

// A loaded package and, where torch loads from one, its unpacked folder,
// which outlives the loader (a CUDA model reads its kernels from it): members
// are destroyed last to first.
struct LoadedPackage {
  LoadedPackage(const PackageFile& package, bool run_single_threaded, size_t runners, c10::DeviceIndex device_index)
      : unpacked(kLoadsUnpackedFolders ? std::make_unique<UnpackedPackage>(package) : nullptr),
        loader(unpacked ? unpacked->folder() : package.file, kModelName, run_single_threaded, runners, device_index) {}

  std::unique_ptr<UnpackedPackage> unpacked;
  Loader loader;
};

std::shared_ptr<LoadedPackage> load_package(const PackageFile& package, size_t runners, const c10::Device& device,
                                            AotiEntry entry) {
  // One load at a time: torch's loader is not safe to construct from several
  // threads at once (seen on torch 2.11: concurrent loads read empty metadata,
  // "No device information found"), and per-thread workers load side by side.
  static std::mutex loading;
  std::lock_guard lock(loading);
  try {
    // The container's default run ends by recording an event, and a later run
    // first queries the events of earlier ones (model_container.h,
    // reclaim_finished_models): after a capture that event was recorded in a
    // capturing stream, which CUDA refuses to query, so a replica's second
    // captured size failed ("The model did not finish successfully", H100).
    // The single-threaded run records no event: torch's own route for CUDA
    // graphs (pytorch #148601). A shared loader entered by several workers at
    // once keeps the default run.
    return std::make_shared<LoadedPackage>(package, /*run_single_threaded=*/entry == AotiEntry::kCaptured, runners,
                                           device.is_cuda() ? device.index() : c10::DeviceIndex(-1));
  } catch (const EngineError&) {
    throw;  // unpacking's own, naming the package
  } catch (const std::exception& e) {
    throw_engine_error(e, "cannot load AOTInductor package '" + package.name + "': " + short_message(e));
  }
}

// Bytes of the package's constants (its weights) as loaded.
int64_t constants_bytes(Loader& loader) {
  std::unordered_set<const void*> seen;
  int64_t total = 0;
  for (const auto& [name, tensor] : loader.get_runner()->extract_constants_map(/*use_inactive=*/false))
    add_tensor_bytes(tensor, seen, total);
  return total;
}

class AotiReplica : public Replica {
 public:
  // `by_size`: inputs at each batch size it may be asked for (entry s for size s).
  AotiReplica(std::shared_ptr<LoadedPackage> package, std::vector<at::Tensor> inputs,
              std::vector<std::vector<at::Tensor>> by_size, void* stream)
      : package_(std::move(package)), inputs_(std::move(inputs)), by_size_(std::move(by_size)), stream_(stream) {}

  // The harness allocates nothing here: the inputs were built beforehand and
  // the outputs vector is moved in. torch's run() does allocate: a handle per
  // input and output, the vector it returns, and the output tensors (from the
  // caching allocator on a GPU).
  c10::IValue infer() override { return run(inputs_); }
  c10::IValue infer_batch(int64_t size) override { return run(by_size_.at(size)); }

 private:
  c10::IValue run(const std::vector<at::Tensor>& inputs) {
    // The previous request's outputs go first, so that only one request's
    // outputs are alive at a time, as with the other runners.
    outputs_.clear();
    outputs_ = package_->loader.run(inputs, stream_);
    // All outputs stay alive in outputs_ until the next request, which the
    // caller issues only after synchronizing, so the first one suffices.
    return outputs_.empty() ? c10::IValue() : c10::IValue(outputs_.front());
  }

  std::shared_ptr<LoadedPackage> package_;
  std::vector<at::Tensor> inputs_;
  std::vector<std::vector<at::Tensor>> by_size_;
  void* stream_;
  std::vector<at::Tensor> outputs_;
};

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

// AOTInductor checks only the number of inputs at run time (shape and dtype
// checks are compiled in only on request), so explicit inputs unlike those
// the package was compiled for would be read out of bounds: refuse them.
// Only the batch dimension of a batch-dynamic package (-1) may differ.
void check_explicit_inputs(const std::vector<ExplicitInput>& inputs, const std::string& stored_spec,
                           const std::string& path) {
  if (inputs.empty() || stored_spec.empty()) return;
  const auto specs = parse_input_spec(stored_spec);
  const auto refuse = [&](const std::string& why) {
    throw std::invalid_argument("explicit inputs do not match AOTInductor package '" + path + "': " + why);
  };
  if (inputs.size() != specs.size())
    refuse("it takes " + std::to_string(specs.size()) + " inputs, got " + std::to_string(inputs.size()));
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& spec = specs[i];
    const auto& given = inputs[i];
    if (given.dtype != spec.dtype)
      refuse("input " + std::to_string(i) + " must be " + spec.dtype + ", got " + given.dtype);
    bool same = given.shape.size() == spec.shape.size();
    for (size_t d = 0; same && d < spec.shape.size(); ++d)
      same = given.shape[d] == spec.shape[d] || (d == 0 && spec.shape[d] == -1);
    if (!same)
      refuse("input " + std::to_string(i) + " must have shape " + shape_text(spec.shape) + " (-1: any batch), got " +
             shape_text(given.shape));
  }
}

class AotiRunner : public ModelRunner {
 public:
  AotiRunner(const RunConfig& config, const c10::Device& device, AotiEntry entry)
      : path_(config.model_path), device_(device), per_thread_(config.replicas != "shared"), entry_(entry) {
    if (entry_ == AotiEntry::kCaptured && !per_thread_ && config.threads > 1)
      throw std::invalid_argument("runner " + config.runner + " captures each worker's runs of the package in CUDA "
                                  "graphs, which needs a container per worker: use replicas per-thread (the default), "
                                  "or runner aoti to share one");
    require_model_file(path_);
    // Everything below reads the private copy: the bytes checked are the bytes loaded.
    copy_ = std::make_unique<PrivateCopy>(path_);
    const PackageFacts facts = read_package_facts(copy_->path(), path_);
    if (const auto problem = trust_problem(facts, path_); !config.trust && !problem.empty())
      throw std::invalid_argument(problem);
    const std::string wanted = c10::DeviceTypeName(device_.type(), /*lower_case=*/true);
    if (!facts.device_key.empty() && facts.device_key != wanted)
      throw std::invalid_argument("AOTInductor package '" + path_ + "' was compiled for " + facts.device_key +
                                  " and cannot run on " + device_.str() +
                                  ": compile it again with the model and its example inputs on " + wanted);
    check_explicit_inputs(config.inputs, facts.input_spec, path_);
    // Inputs before the loader: on a GPU they initialize CUDA in this process
    // before the loader copies the weights to the device.
    inputs_.emplace(config.inputs, facts.input_spec, config.batch_size, config.seed, device_, path_);
    description_ = {{"path", path_},
                    {"sha256", copy_->sha256()},
                    {"format", "aoti"},
                    {"runner", config.runner},
                    {"inputs", inputs_->describe()}};
    add_export_facts(description_, facts.export_info);
    // Shared: one container holding one model instance per worker, so workers
    // run concurrently on one copy of the weights. Per thread: worker 0 uses
    // this loader and every other worker loads its own (make_replica).
    const size_t runners = per_thread_ ? 1 : static_cast<size_t>(std::max(config.threads, 1));
    primary_ = load_package(package_file(), runners, device_, entry_);
    weights_bytes_ = constants_bytes(primary_->loader);
  }

  std::unique_ptr<Replica> make_replica(int worker) override {
    auto package = (per_thread_ && worker > 0) ? load_package(package_file(), 1, device_, entry_) : primary_;
    std::vector<at::Tensor> tensors;
    for (const auto& value : inputs_->for_worker(worker)) tensors.push_back(value.toTensor());
    std::vector<std::vector<at::Tensor>> by_size;
    for (const auto& inputs : inputs_->for_worker_by_size(worker)) {
        auto& at_size = by_size.emplace_back();
        for (const auto& value : inputs) at_size.push_back(value.toTensor());
      }
    // make_replica runs with the worker's stream current; the model is bound
    // to it for every request, which is also the stream the caching allocator
    // associates the outputs with.
    void* stream = nullptr;
    if (device_.is_cuda())
      stream = c10::impl::getDeviceGuardImpl(device_.type())->getStream(device_).native_handle();
    return std::make_unique<AotiReplica>(std::move(package), std::move(tensors), std::move(by_size), stream);
  }

  nlohmann::json describe() const override { return description_; }
  int64_t batch_size() const override { return inputs_->batch_size(); }

  // Any size up to max_items: a batch-dynamic package runs the batch it is given.
  std::vector<int64_t> prepare_batches(int64_t max_items, const std::vector<int64_t>&) override {
    return inputs_->prepare_every_size(max_items);
  }

  nlohmann::json footprint() const override {
    return {{"weights_bytes", weights_bytes_}, {"input_bytes", inputs_->bytes()}};
  }

 private:
  PackageFile package_file() const { return {copy_->path(), path_}; }

  std::string path_;
  c10::Device device_;
  bool per_thread_;
  AotiEntry entry_;
  std::unique_ptr<PrivateCopy> copy_;  // every worker's loader reads it
  std::optional<ModelInputs> inputs_;
  std::shared_ptr<LoadedPackage> primary_;
  int64_t weights_bytes_ = 0;
  nlohmann::json description_;
};

}  // namespace

std::string untrusted_package_reason(const std::string& path) {
  try {
    return trust_problem(read_package_facts(path, path), path);
  } catch (const EngineError&) {
    return "";  // not a readable package: the runner says so when it opens it
  }
}

bool is_aoti_package(const std::string& path) noexcept {
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    for (const auto& name : reader.getAllRecords())
      if (name.starts_with(kModelDir)) return true;
  } catch (...) {
  }
  return false;
}

std::unique_ptr<ModelRunner> make_aoti_runner(const RunConfig& config, const c10::Device& device, AotiEntry entry) {
  return std::make_unique<AotiRunner>(config, device, entry);
}

}  // namespace infermeter
