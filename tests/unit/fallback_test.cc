// --max-drop's float fallback (quantize_with_fallback) on a model where one layer is known to
// be ruined by int8 and returning it to float is known to help: the step must be kept, and
// the model returned must be the one that step measured.

#include <gtest/gtest.h>

#include <string>

#include "op_test_util.h"
#include "qcal/calibration.h"
#include "qcal/executor.h"
#include "qcal/npy.h"
#include "qcal/quantize.h"
#include "qcal/report_writer.h"

namespace qcal {
namespace {

using B = tflite::BuiltinOperator;

// x [1,8] -> FC1 [16x8] -> FC2 [4x16] -> 4 class scores. Every FC1 row has a weight of 100 on
// input 0, which the data always holds at 0: it changes nothing in float, but it sets the
// row's int8 scale to 100/127, so the row's other weights (|w| < 1) round to 0 or one step.
// In int8, FC1 computes mostly its bias and the top class flips on many samples; with FC1
// float the rest of the model is an ordinary int8 one.
TEST(Fallback, KeepsTheStepThatHelpsAndReturnsItsModel) {
  test::ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 8});
  std::vector<float> w1 = test::random_floats(16 * 8, 7, -1.0f, 1.0f);
  for (int o = 0; o < 16; ++o) w1[o * 8] = 100.0f;
  const int h = b.tensor(DType::kFloat32, {1, 16}, std::nullopt, "h");
  b.op(B::FULLY_CONNECTED, {x, b.constant_f32({16, 8}, w1), b.constant_f32({16}, test::random_floats(16, 8, -0.1f, 0.1f))},
       {h}, tflite::FullyConnectedOptionsT{});
  const int y = b.tensor(DType::kFloat32, {1, 4}, std::nullopt, "scores");
  b.op(B::FULLY_CONNECTED, {h, b.constant_f32({4, 16}, test::random_floats(64, 9, -1.0f, 1.0f)), -1}, {y},
       tflite::FullyConnectedOptionsT{});
  b.output(y);
  auto model = std::make_shared<Model>(b.model());

  test::TempDir dir;
  std::filesystem::create_directories(dir.path);
  const Executor fx(model);
  StatsCollector collector(Histogram::kDefaultMaxBins, 0, false, {});
  for (uint32_t s = 0; s < 40; ++s) {
    HostTensor in = HostTensor::zeros(model->subgraphs[0].tensors[x].name, DType::kFloat32, {1, 8});
    const std::vector<float> v = test::random_floats(8, 100 + s, -1.0f, 1.0f);
    std::copy(v.begin() + 1, v.end(), in.as<float>() + 1);  // input 0 stays 0
    fx.run({in}, &collector);
    write_npy(dir.path / ("sample" + std::to_string(100 + s) + ".npy"), in);
  }
  TensorRanges ranges;
  for (const auto& [t, st] : collector.stats()) ranges[t] = {st.min, st.max};
  DatasetOptions eval;
  eval.inputs = dir.path;
  ReportOptions ro;
  ro.task = Task::kClassify;

  const FallbackResult r = quantize_with_fallback(model, "model", ranges, QuantizeOptions{}, Preprocessing{}, eval, ro,
                                                  /*max_drop=*/0.0, /*max_steps=*/2);
  ASSERT_GE(r.steps.size(), 2u);
  const double all_int8 = r.steps[0]["drop"].get<double>();
  EXPECT_GT(all_int8, 0.1) << "the test's premise: FC1 in int8 flips the top class often";
  ASSERT_FALSE(r.added_rules.empty());
  EXPECT_EQ(r.added_rules[0], "#0");  // FC1, the worst layer by far
  EXPECT_LT(r.drop, all_int8);
  EXPECT_FALSE(r.summary.kept_float.empty());
  // The model returned is the one with FC1 float: one FC reads float weights, one int8.
  int float_fc = 0, int8_fc = 0;
  const Subgraph& sg = r.model.subgraphs.at(0);
  for (const Operator& op : sg.operators)
    if (op.builtin() == B::FULLY_CONNECTED)
      ++(sg.tensors[op.inputs[1]].dtype == DType::kInt8 ? int8_fc : float_fc);
  EXPECT_EQ(float_fc, 1);
  EXPECT_EQ(int8_fc, 1);
  // And it scores the drop the fallback reported.
  const ReportData d = compare_models(model, "model", std::make_shared<Model>(r.model), "fallback", Preprocessing{}, eval, ro);
  EXPECT_DOUBLE_EQ(d.accuracy["drop"].get<double>(), r.drop);
}

}  // namespace
}  // namespace qcal
