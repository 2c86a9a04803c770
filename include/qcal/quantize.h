// The rewriter: turns a float model (float32, or fp16 weights behind DEQUANTIZE) into
//  * int8: full-integer, TFLite's int8 quantization spec (weights symmetric per channel,
//    activations asymmetric per tensor from calibrated ranges, int32 bias), keeping float
//    what has no int8 kernel, custom ops and what the user names, with QUANTIZE/DEQUANTIZE
//    inserted where precision changes;
//  * fp16: float16 constants, each behind a DEQUANTIZE (TFLite's convention);
//  * dynamic: int8 per-channel weights for conv/depthwise/FC, float activations (the
//    runtime's hybrid kernels).
// Every rewrite is checked by verify_quantized_model() before it is written.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qcal/calibration.h"
#include "qcal/calibrators.h"
#include "qcal/model.h"
#include "qcal/stats.h"

namespace qcal {

enum class IoType { kFloat, kInt8, kUInt8 };

// Per-channel (last axis) observed minima, maxima and means of one tensor (mean may be
// empty: caches written before qcal kept channel sums).
struct ChannelRanges {
  std::vector<float> min, max, mean;
};

struct QuantizeOptions {
  IoType io = IoType::kFloat;       // int8: graph inputs/outputs of the model's I/O
  bool per_tensor = false;          // weights per tensor instead of per channel
  // --keep-float rules: an op index ("12" or "#12"), an op type ("LOGISTIC"), a tensor
  // name (exact), or a regular expression over tensor names ("re:^block_3/.*").
  std::vector<std::string> keep_float;
  int dynamic_min_elements = 1024;  // dynamic: smaller weights stay float (as TFLite does)
  // int8 bias correction: per op (by its output tensor in the float model), a shift per
  // output channel added to the float bias before it is quantized.
  std::map<int, std::vector<float>> bias_corrections;
  // Channel equalization (see equalization_tensors): per-channel observed ranges of the
  // float model's tensors, from the calibration; pairs without them are left alone.
  bool equalize = true;
  std::map<int, ChannelRanges> channel_ranges;
  // Weight-rounding correction (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED): rounding the
  // weights of output channel o by dw shifts its output by sum(dw x E[x]) on average, a
  // bias that the layers after it amplify (MobileNet v1's depthwise layers read inputs with
  // a large mean). Each channel's rounding keeps its weight sum, and the expected shift,
  // from the input's per-channel means in channel_ranges, is taken off the bias
  // ("Data-Free Quantization", Nagel et al. 2019, with observed means).
  bool correct_weight_rounding = true;
  // int8: fold RELU/RELU6/RELU_N1_TO_1 ops into the int8 op before them where LiteRT's
  // kernel takes a fused activation (OpQuantInfo::int8_fused_activation), as TFLite's
  // converter does; a standalone int8 RELU cuts LiteRT's XNNPACK partition.
  bool fuse_activations = true;
  // int8 also for ops LiteRT runs faster in float (OpQuantInfo::float_in_litert): for
  // runtimes without XNNPACK, e.g. TFLite Micro.
  bool all_int8 = false;
};

// The activations whose per-channel ranges channel equalization uses: outputs of a CONV_2D
// or DEPTHWISE_CONV_2D (no activation or RELU) read only by one CONV_2D or one
// DEPTHWISE_CONV_2D with depth multiplier 1, directly or through one RELU op (whose output
// is then rescaled too). Scaling channel c
// of such a tensor by 1/s (the producer's weights and bias) and the consumer's input
// channel c by s computes the same function in float; choosing s per channel balances the
// channels' ranges, so one per-tensor int8 scale stops wasting levels on the few channels
// that span a wide range (face_detection_short_range: 104x between the widest channel and
// the median one).
std::set<int> equalization_tensors(const Model& float_model);

// The activations the int8 rewrite wants per-channel statistics of: those of
// equalization_tensors, and the inputs of the ops whose weight rounding it corrects.
std::set<int> channel_statistics_tensors(const Model& float_model);

// Per-channel ranges from a calibration cache (tensors collected with per-channel stats).
std::map<int, ChannelRanges> channel_ranges_from_calibration(const CalibrationData& calibration);

// One op that stayed float in an int8 model, and why.
struct KeptFloat {
  int op = 0;
  std::string op_name;
  std::string tensor;  // its first output's name
  std::string reason;
};

// What a rewrite did; recorded in the model's "qcal" metadata as JSON.
struct QuantizeSummary {
  std::string scheme;  // int8, fp16, dynamic, float32
  std::vector<KeptFloat> kept_float;
  int quantized_ops = 0;
  int quantize_ops_added = 0, dequantize_ops_added = 0;
  int bias_corrected = 0;  // biases shifted by bias correction
  int rounding_corrected = 0;  // biases shifted by the weight-rounding correction
  int equalized_pairs = 0; // conv pairs rescaled by channel equalization
  int fused_activations = 0;  // activation ops folded into the int8 op before them
  int64_t weight_bytes_before = 0, weight_bytes_after = 0;
  // Quantized-model tensor -> float-model tensor (indices in the model as the user gave
  // it, i.e. the one calibration ran on), for tensors that carry the same values.
  std::map<int, int> tensor_map;
  // Mapped tensors that channel equalization rescaled: quantized-model tensor -> one factor
  // per channel (last axis); the tensor carries the float tensor's values times the factor.
  std::map<int, std::vector<float>> channel_scales;
  std::vector<std::string> notes;  // e.g. weights that could not be represented

  nlohmann::json to_json() const;
};

// Per-tensor float ranges (by tensor index in the float model's subgraph 0).
using TensorRanges = std::map<int, Range>;

// Every tensor's range from a calibration cache, by calibrator name.
TensorRanges ranges_from_calibration(const CalibrationData& calibration, const std::string& method,
                                     const CalibratorOptions& options = {});
// The same for quantizing `float_model`, except that its graph outputs keep their whole
// observed range (minmax) whatever the calibrator: an output is what the user's decoder
// reads, and clipping its tails (far-off box offsets, large logits of raw regression and
// segmentation heads) costs more there than the finer grid gains (docs/quantization.md).
TensorRanges ranges_from_calibration(const CalibrationData& calibration, const std::string& method,
                                     const CalibratorOptions& options, const Model& float_model);

// What a rewrite did and from what (scheme, calibration, pre-processing, tensor map),
// stored in the model as the metadata entry "qcal_quantization" (JSON).
void set_quantization_record(Model& model, const nlohmann::json& record);
std::optional<nlohmann::json> quantization_record(const Model& model);

// Throws qcal::Error (naming the tensor or op) when the model is already quantized.
void check_float_model(const Model& model, const std::string& label);

Model quantize_int8(const Model& float_model, const TensorRanges& ranges, const QuantizeOptions& options,
                    QuantizeSummary& summary);
Model quantize_fp16(const Model& float_model, QuantizeSummary& summary);
Model quantize_dynamic(const Model& float_model, const QuantizeOptions& options, QuantizeSummary& summary);
Model quantize_float32(const Model& float_model, QuantizeSummary& summary);

// The (scale, zero point) TFLite derives from a float range for an asymmetric int8
// tensor: the range is widened to include 0, and zero_point is an integer so 0 is exact.
struct QuantParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
};
QuantParams asymmetric_params(double min, double max, int32_t qmin = -128, int32_t qmax = 127);

// Checks what the runtime requires of a quantized model: every int8 op's tensors are
// quantized as its kernel expects (symmetric weights in [-127,127] on the right axis,
// int32 bias with scale input x weight, fixed output ranges, shared scales), float ops see
// float tensors, and every tensor is produced before it is used. Throws qcal::Error naming
// the first op that breaks a rule.
void verify_quantized_model(const Model& model);

}  // namespace qcal
