// Reader/writer: round trips, and every kind of bad input gives a one-line qcal::Error.
#include <filesystem>
#include <fstream>

#include "op_test_util.h"
#include "qcal/error.h"
#include "qcal/inspect.h"
#include "qcal/model_io.h"
#include "qcal/passes.h"

namespace qcal {
namespace {

namespace fs = std::filesystem;
using test::ModelBuilder;
using test::TempDir;

// conv-like graph: input -> ADD(const) -> RELU, with a per-axis quantized constant, a
// custom op, metadata and a signature, so every IR field is exercised.
Model sample_model() {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 2, 2, 3});
  const int c = b.constant_f32({3}, {0.5f, -1.0f, 2.0f});
  const int y = b.tensor(DType::kFloat32, {1, 2, 2, 3});
  const int z = b.tensor(DType::kFloat32, {1, 2, 2, 3});
  Quantization q;
  q.scale = {0.1f, 0.2f, 0.3f};
  q.zero_point = {0, 0, 0};
  q.quantized_dimension = 0;
  const int w = b.constant(DType::kInt8, {3, 2}, {1, 2, 3, 4, 5, 6}, q);
  tflite::AddOptionsT add;
  add.fused_activation_function = tflite::ActivationFunctionType::RELU6;
  b.op(tflite::BuiltinOperator::ADD, {x, c}, {y}, add);
  b.custom_op("MyOp", {y, w, kNoTensor}, {z}, {7, 8, 9});
  b.output(z);
  Model& m = b.model();
  m.description = "sample";
  m.subgraphs[0].name = "main";
  m.subgraphs[0].tensors[x].shape_signature = {-1, 2, 2, 3};
  const std::string v = "2.3.0";
  m.metadata.push_back({"min_runtime_version", m.add_buffer(std::vector<uint8_t>(v.begin(), v.end()))});
  m.signatures.push_back({"serving_default", 0, {{"in", static_cast<uint32_t>(x)}}, {{"out", static_cast<uint32_t>(z)}}});
  return m;
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    read_model_from_bytes(bytes, "bad.tflite");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_one_line_error(const std::vector<uint8_t>& bytes, const std::string& needle) {
  const std::string msg = error_of(bytes);
  ASSERT_FALSE(msg.empty()) << "expected an error mentioning: " << needle;
  EXPECT_NE(msg.find("bad.tflite: "), std::string::npos) << msg;
  EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(ModelIO, RoundTripKeepsEveryField) {
  const Model m = sample_model();
  const std::vector<uint8_t> bytes = serialize_model(m);
  const Model r = read_model_from_bytes(bytes, "mem");
  ASSERT_EQ(r.subgraphs.size(), 1u);
  const Subgraph& sg = r.subgraphs[0];
  EXPECT_EQ(r.description, "sample");
  EXPECT_EQ(sg.name, "main");
  EXPECT_EQ(sg.tensors.size(), m.subgraphs[0].tensors.size());
  EXPECT_EQ(sg.tensors[0].shape_signature, (Shape{-1, 2, 2, 3}));
  ASSERT_EQ(sg.operators.size(), 2u);
  EXPECT_EQ(sg.operators[0].code.name(), "ADD");
  ASSERT_NE(sg.operators[0].options.AsAddOptions(), nullptr);
  EXPECT_EQ(sg.operators[0].options.AsAddOptions()->fused_activation_function, tflite::ActivationFunctionType::RELU6);
  EXPECT_EQ(sg.operators[1].code.custom, "MyOp");
  EXPECT_EQ(sg.operators[1].custom_options, (std::vector<uint8_t>{7, 8, 9}));
  EXPECT_EQ(sg.operators[1].inputs[2], kNoTensor);
  const Tensor& w = sg.tensors[sg.operators[1].inputs[1]];
  ASSERT_TRUE(w.quantization);
  EXPECT_EQ(w.quantization->scale, (std::vector<float>{0.1f, 0.2f, 0.3f}));
  EXPECT_EQ(r.data_of(w)->data, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(r.metadata_string("min_runtime_version"), "2.3.0");
  ASSERT_EQ(r.signatures.size(), 1u);
  EXPECT_EQ(r.signatures[0].outputs[0].name, "out");
  // Writing what was read gives the same bytes: the IR is a fixed point.
  EXPECT_EQ(serialize_model(r), bytes);
}

TEST(ModelIO, WriterFillsDeprecatedBuiltinCode) {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {4});
  const int y = b.tensor(DType::kFloat32, {4});
  const int z = b.tensor(DType::kFloat32, {4});
  b.op(tflite::BuiltinOperator::GELU, {x}, {y});  // 150: beyond the old byte-sized code
  b.op(tflite::BuiltinOperator::RELU, {y}, {z});  // 19
  b.output(z);
  const std::vector<uint8_t> bytes = serialize_model(b.model());
  const tflite::Model* fb = tflite::GetModel(bytes.data());
  ASSERT_EQ(fb->operator_codes()->size(), 2u);
  EXPECT_EQ(fb->operator_codes()->Get(0)->deprecated_builtin_code(), 127);
  EXPECT_EQ(fb->operator_codes()->Get(0)->builtin_code(), tflite::BuiltinOperator::GELU);
  EXPECT_EQ(fb->operator_codes()->Get(1)->deprecated_builtin_code(), 19);
}

TEST(ModelIO, ReadsOldFilesThatOnlySetTheDeprecatedCode) {
  Model m = sample_model();
  std::vector<uint8_t> bytes = serialize_model(m);
  std::unique_ptr<tflite::ModelT> fb(tflite::GetModel(bytes.data())->UnPack());
  for (auto& c : fb->operator_codes) c->builtin_code = tflite::BuiltinOperator::ADD;  // 0 = unset in old files
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(tflite::Model::Pack(fbb, fb.get()), "TFL3");
  const Model r = read_model_from_bytes({fbb.GetBufferPointer(), fbb.GetSize()}, "old");
  EXPECT_EQ(r.subgraphs[0].operators[0].code.name(), "ADD");
  EXPECT_EQ(r.subgraphs[0].operators[1].code.name(), "MyOp");
}

TEST(ModelIO, EmptyFile) { expect_one_line_error({}, "the file is empty"); }

TEST(ModelIO, WrongMagic) {
  std::vector<uint8_t> bytes = serialize_model(sample_model());
  bytes[4] = 'X';
  expect_one_line_error(bytes, "not a TFLite model: file identifier is 'XFL3'");
}

TEST(ModelIO, NotAFlatbuffer) {
  const std::string text = "<html>this is not a model at all</html>";
  expect_one_line_error({text.begin(), text.end()}, "not a TFLite model");
}

TEST(ModelIO, TruncatedAtEveryLength) {
  const std::vector<uint8_t> bytes = serialize_model(sample_model());
  for (size_t n = 1; n < bytes.size(); n += 1) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
    const std::string msg = error_of(cut);
    EXPECT_FALSE(msg.empty()) << "truncated to " << n << " bytes was accepted";
  }
}

TEST(ModelIO, BitFlipsNeverCrash) {
  // Every single-bit flip either still reads or gives a qcal::Error; under ASan/UBSan this
  // also proves no out-of-bounds access.
  const std::vector<uint8_t> bytes = serialize_model(sample_model());
  int rejected = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; bit += 3) {
      std::vector<uint8_t> flipped = bytes;
      flipped[i] ^= static_cast<uint8_t>(1u << bit);
      try {
        const Model m = read_model_from_bytes(flipped, "flip");
        (void)inspect_json(m);
      } catch (const Error&) {
        ++rejected;
      }
    }
  }
  EXPECT_GT(rejected, 0);
}

TEST(ModelIO, OutOfRangeTensorIndex) {
  Model m = sample_model();
  m.subgraphs[0].operators[0].inputs[1] = 99;
  expect_one_line_error(serialize_model(m), "operator 0 (ADD): input refers to tensor 99, but the subgraph has 5 tensors");
}

TEST(ModelIO, OutOfRangeGraphOutput) {
  Model m = sample_model();
  m.subgraphs[0].outputs = {-1};
  expect_one_line_error(serialize_model(m), "output list refers to tensor -1");
}

TEST(ModelIO, OutOfRangeBufferIndex) {
  Model m = sample_model();
  m.subgraphs[0].tensors[1].buffer = 1234;
  expect_one_line_error(serialize_model(m), "tensor 1 ('t1'): refers to buffer 1234");
}

TEST(ModelIO, InvalidQuantizedDimension) {
  Model m = sample_model();
  m.subgraphs[0].tensors[4].quantization->quantized_dimension = 2;
  expect_one_line_error(serialize_model(m), "quantized_dimension 2 is out of range for a rank-2 tensor");
  m.subgraphs[0].tensors[4].quantization->quantized_dimension = 1;  // in range, but 2 entries != 3 scales
  expect_one_line_error(serialize_model(m), "has 3 per-axis scales but dimension 1 of shape [3,2] has 2");
}

TEST(ModelIO, HugeShapeIsAnErrorNotAnOverflow) {  // found by the fuzzer
  Model m = sample_model();
  m.subgraphs[0].tensors[2].shape = {1 << 30, 1 << 30, 1 << 30, 3};
  expect_one_line_error(serialize_model(m), "tensor 2 ('t2'): shape [1073741824,1073741824,1073741824,3] is too large");
}

TEST(ModelIO, UnknownOpcode) {
  Model m = sample_model();
  m.subgraphs[0].operators[0].code.builtin = 4000;
  expect_one_line_error(serialize_model(m), "unknown builtin opcode 4000");
}

TEST(ModelIO, BufferSizeMustMatchShape) {
  Model m = sample_model();
  m.buffers[m.subgraphs[0].tensors[1].buffer].data.resize(5);
  expect_one_line_error(serialize_model(m), "holds 5 bytes, but float32 [3] needs 12");
}

TEST(ModelIO, FileErrorsNameTheFile) {
  try {
    read_model("/nonexistent/dir/model.tflite");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/model.tflite: cannot open"), std::string::npos);
  }
}

TEST(ModelIO, WriteIsAtomicAndRefusesToOverwriteInput) {
  const fs::path dir = fs::temp_directory_path() / ("qcal_io_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path in = dir / "in.tflite";
  write_model(sample_model(), in);
  const Model m = read_model(in);
  EXPECT_THROW(write_model(m, in, in), Error);
  // A model that would not read back is never written, and leaves no file behind.
  Model bad = m;
  bad.subgraphs[0].operators[0].inputs[0] = 77;
  const fs::path out = dir / "out.tflite";
  EXPECT_THROW(write_model(bad, out), Error);
  EXPECT_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  EXPECT_THROW(write_model(m, dir / "no_such_dir" / "x.tflite"), Error);
  fs::remove_all(dir);
}

// input -> RELU -> y -> RELU -> z (named x, y, z), for the execution-order checks.
Model two_op_chain() {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 4});
  const int y = b.tensor(DType::kFloat32, {1, 4}, std::nullopt, "y");
  const int z = b.tensor(DType::kFloat32, {1, 4}, std::nullopt, "z");
  b.op(tflite::BuiltinOperator::RELU, {x}, {y});
  b.op(tflite::BuiltinOperator::RELU6, {y}, {z});
  b.output(z);
  return b.model();
}

TEST(ModelIO, OperatorsInReversedOrderAreRefused) {
  Model m = two_op_chain();
  std::swap(m.subgraphs[0].operators[0], m.subgraphs[0].operators[1]);
  expect_one_line_error(serialize_model(m), "subgraph 0: operator 0 (RELU6) reads tensor 'y' before any operator writes it");
}

TEST(ModelIO, DanglingOperatorInputIsRefused) {
  Model m = two_op_chain();
  Tensor dangling;
  dangling.name = "nobody_writes_me";
  dangling.shape = {1, 4};
  m.subgraphs[0].tensors.push_back(dangling);
  m.subgraphs[0].operators[1].inputs[0] = 3;
  expect_one_line_error(serialize_model(m), "operator 1 (RELU6) reads tensor 'nobody_writes_me' before any operator writes it");
}

TEST(ModelIO, GraphOutputNothingWritesIsRefused) {
  Model m = two_op_chain();
  m.subgraphs[0].operators.clear();  // no operators: output 'z' is neither an input nor a constant
  expect_one_line_error(serialize_model(m), "graph output 'z' is not written by any operator");
}

TEST(ModelIO, WriterRefusesWhatTheReaderWouldRefuse) {
  Model m = two_op_chain();
  std::swap(m.subgraphs[0].operators[0], m.subgraphs[0].operators[1]);
  TempDir dir;
  try {
    write_model(m, dir.path / "out.tflite");
    FAIL() << "an out-of-order model was written";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("reads tensor 'y' before any operator writes it"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir.path / "out.tflite"));
}

TEST(ModelIO, ExecutionOrderAcceptsConstantsVariablesPassThroughAndOtherSubgraphs) {
  Model m = two_op_chain();
  Subgraph& sg = m.subgraphs[0];
  // A variable tensor (state) is read before anything writes it, as LSTM/ASSIGN_VARIABLE models do.
  Tensor state;
  state.name = "state";
  state.shape = {1, 4};
  state.is_variable = true;
  sg.tensors.push_back(state);
  const int32_t sum = static_cast<int32_t>(sg.tensors.size());
  Tensor s;
  s.name = "sum";
  s.shape = {1, 4};
  sg.tensors.push_back(s);
  Operator add;
  add.code.builtin = static_cast<int32_t>(tflite::BuiltinOperator::ADD);
  add.inputs = {2, sum - 1};
  add.outputs = {sum};
  sg.operators.push_back(add);
  sg.outputs.push_back(sum);
  sg.outputs.push_back(sg.inputs[0]);  // a graph input passed straight through
  // A constant graph output, and a zero-size constant an operator may read without data.
  sg.tensors.push_back(Tensor{});
  sg.tensors.back().name = "const_out";
  sg.tensors.back().shape = {2};
  sg.tensors.back().buffer = m.add_buffer(test::to_bytes(std::vector<float>{1, 2}));
  sg.outputs.push_back(static_cast<int32_t>(sg.tensors.size() - 1));
  sg.tensors.push_back(Tensor{});
  sg.tensors.back().name = "empty_shape";
  sg.tensors.back().dtype = DType::kInt32;
  sg.tensors.back().shape = {0};
  sg.tensors.push_back(Tensor{});
  sg.tensors.back().name = "reshaped";
  Operator reshape;
  reshape.code.builtin = static_cast<int32_t>(tflite::BuiltinOperator::RESHAPE);
  reshape.inputs = {sum, static_cast<int32_t>(sg.tensors.size() - 2)};
  reshape.outputs = {static_cast<int32_t>(sg.tensors.size() - 1)};
  sg.operators.push_back(reshape);
  // A second subgraph (a control-flow body) is checked against its own inputs.
  Subgraph body;
  body.tensors.resize(2);
  body.tensors[0].name = "body_in";
  body.tensors[1].name = "body_out";
  body.inputs = {0};
  body.outputs = {1, 0};
  Operator relu;
  relu.code.builtin = static_cast<int32_t>(tflite::BuiltinOperator::RELU);
  relu.inputs = {0};
  relu.outputs = {1};
  body.operators.push_back(relu);
  m.subgraphs.push_back(body);
  const Model r = read_model_from_bytes(serialize_model(m), "ok.tflite");
  EXPECT_EQ(r.subgraphs.size(), 2u);
  // ... but the second subgraph is held to the same rule.
  std::swap(m.subgraphs[1].inputs, m.subgraphs[1].outputs);
  m.subgraphs[1].outputs = {0};
  m.subgraphs[1].inputs = {};
  expect_one_line_error(serialize_model(m), "subgraph 1: operator 0 (RELU) reads tensor 'body_in' before any operator writes it");
}

TEST(Passes, FoldsFp16DequantizeIntoFloat32Constants) {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 3});
  // 1.0, -2.0, 0.5 as IEEE half
  const int h = b.constant(DType::kFloat16, {3}, test::to_bytes(std::vector<uint16_t>{0x3C00, 0xC000, 0x3800}));
  const int w = b.tensor(DType::kFloat32, {3});
  const int y = b.tensor(DType::kFloat32, {1, 3});
  b.op(tflite::BuiltinOperator::DEQUANTIZE, {h}, {w});
  b.op(tflite::BuiltinOperator::ADD, {x, w}, {y});
  b.output(y);
  Model m = b.model();
  const FoldReport r = fold_constant_dequantize(m);
  EXPECT_EQ(r.folded, 1);
  const Subgraph& sg = m.subgraphs[0];
  ASSERT_EQ(sg.operators.size(), 1u);
  EXPECT_EQ(sg.operators[0].code.name(), "ADD");
  ASSERT_EQ(sg.tensors.size(), 3u);  // the fp16 tensor is pruned
  const Tensor& folded = sg.tensors[sg.operators[0].inputs[1]];
  EXPECT_EQ(folded.dtype, DType::kFloat32);
  EXPECT_EQ(test::from_bytes<float>(m.data_of(folded)->data), (std::vector<float>{1.0f, -2.0f, 0.5f}));
  EXPECT_EQ(m.buffers.size(), 2u);  // sentinel + the new float32 buffer
  EXPECT_NO_THROW(read_model_from_bytes(serialize_model(m), "folded"));
}

TEST(Passes, FoldsPerAxisInt8Dequantize) {
  ModelBuilder b;
  Quantization q;
  q.scale = {0.5f, 2.0f};
  q.zero_point = {0, 1};
  q.quantized_dimension = 0;
  const int c = b.constant(DType::kInt8, {2, 2}, {2, 4, 3, 5}, q);
  const int w = b.tensor(DType::kFloat32, {2, 2});
  const int x = b.input(DType::kFloat32, {2, 2});
  const int y = b.tensor(DType::kFloat32, {2, 2});
  b.op(tflite::BuiltinOperator::DEQUANTIZE, {c}, {w});
  b.op(tflite::BuiltinOperator::ADD, {x, w}, {y});
  b.output(y);
  Model m = b.model();
  EXPECT_EQ(fold_constant_dequantize(m).folded, 1);
  const Tensor& folded = m.subgraphs[0].tensors[m.subgraphs[0].operators[0].inputs[1]];
  EXPECT_EQ(test::from_bytes<float>(m.data_of(folded)->data), (std::vector<float>{1.0f, 2.0f, 4.0f, 8.0f}));
}

TEST(Inspect, JsonHasStableKeys) {
  const nlohmann::json j = inspect_json(sample_model());
  ASSERT_TRUE(j.contains("subgraphs"));
  const auto& sg = j["subgraphs"][0];
  for (const char* k : {"operators", "tensors", "inputs", "outputs"}) EXPECT_TRUE(sg.contains(k)) << k;
  for (const char* k : {"index", "opcode", "custom_code", "inputs", "outputs"}) EXPECT_TRUE(sg["operators"][0].contains(k)) << k;
  for (const char* k : {"index", "name", "dtype", "shape", "quantization"}) EXPECT_TRUE(sg["tensors"][0].contains(k)) << k;
  EXPECT_EQ(sg["operators"][1]["opcode"], "CUSTOM");
  EXPECT_EQ(sg["operators"][1]["custom_code"], "MyOp");
  EXPECT_EQ(j["op_counts"]["ADD"], 1);
  EXPECT_EQ(j["op_counts"]["MyOp"], 1);
  EXPECT_EQ(sg["tensors"][4]["quantization"]["scale"].size(), 3u);
  EXPECT_EQ(j["min_runtime_version"], "2.3.0");
  EXPECT_EQ(j["weights"]["quantized_constants"], 1);
}

}  // namespace
}  // namespace qcal
