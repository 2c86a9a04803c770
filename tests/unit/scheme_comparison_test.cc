// qcal compare's table: the winner follows its stated rule (smallest drop; ties to the faster
// model in LiteRT where both were timed, else the smaller), and the LiteRT column's ratio.
#include <gtest/gtest.h>

#include "qcal/scheme_comparison.h"

namespace qcal {
namespace {

SchemeResult row(const std::string& label, double drop, int64_t bytes, std::optional<double> litert_ms) {
  SchemeResult r;
  r.label = label;
  r.file = label + ".tflite";
  r.bytes = bytes;
  r.accuracy = {{"metric", "top1_agreement"}, {"float", 1.0}, {"quantized", 1.0 - drop}, {"drop", drop}};
  r.min_output_sqnr_db = 20;
  r.litert_ms = litert_ms;
  return r;
}

std::string winner(const nlohmann::json& c) { return c["winner"].get<std::string>(); }

TEST(SchemeComparison, SmallestDropWinsWhateverTheSpeed) {
  const auto c = comparison_json({row("slow_exact", 0.0, 900, 9.0), row("fast_lossy", 0.02, 100, 1.0)});
  EXPECT_EQ(winner(c), "slow_exact");
}

TEST(SchemeComparison, TiesGoToTheFasterModelInLitert) {
  LitertBaseline base;
  base.float_ms = 4.0;
  const auto c = comparison_json({row("small_slow", 0.01, 100, 3.0), row("big_fast", 0.01, 900, 2.0)}, base);
  EXPECT_EQ(winner(c), "big_fast");
  EXPECT_DOUBLE_EQ(c["schemes"][1]["litert_vs_float"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(c["litert"]["float_ms"].get<double>(), 4.0);
  EXPECT_NE(comparison_markdown(c).find("LiteRT latency: the deployed runtime"), std::string::npos);
}

TEST(SchemeComparison, WithoutLitertTiesGoToTheSmallerModel) {
  LitertBaseline base;
  base.note = "--no-litert";
  const auto c = comparison_json({row("big", 0.01, 900, std::nullopt), row("small", 0.01, 100, std::nullopt)}, base);
  EXPECT_EQ(winner(c), "small");
  EXPECT_TRUE(c["schemes"][0]["litert_ms"].is_null());
  EXPECT_NE(comparison_markdown(c).find("LiteRT latency: not measured (--no-litert)"), std::string::npos);
  // One timed, one not: no speed comparison, size decides.
  const auto mixed = comparison_json({row("big_timed", 0.01, 900, 1.0), row("small", 0.01, 100, std::nullopt)}, base);
  EXPECT_EQ(winner(mixed), "small");
}

}  // namespace
}  // namespace qcal
