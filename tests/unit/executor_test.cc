#include "op_test_util.h"

namespace qcal {
namespace {

using test::ModelBuilder;

TEST(Executor, ReportsEveryUnsupportedOpBeforeRunning) {
  ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 4});
  const int y = b.tensor(DType::kFloat32, {1, 4});
  const int z = b.tensor(DType::kFloat32, {1, 4});
  b.custom_op("MyFancyOp", {x}, {y});
  b.op(tflite::BuiltinOperator::LSTM, {y}, {z});
  b.output(z);
  try {
    b.run({test::host<float>({1, 4}, {1, 2, 3, 4})});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("2 operators qcal cannot execute"), std::string::npos) << msg;
    EXPECT_NE(msg.find("custom op 'MyFancyOp' at #0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("LSTM at #1"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
}

}  // namespace
}  // namespace qcal
