// Ground-truth class labels for an evaluation dataset (`--labels`): a CSV `file,label`, or one
// sub-folder per class. Joined to the dataset's samples by file, so accuracy can be measured
// against the truth, not only against the float model.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace qcal {

// A labelled object box (`--task detect`): corners normalized to [0,1] of the original image
// (before any resize), ymin <= ymax, xmin <= xmax.
struct LabelBox {
  int cls = 0;
  float box[4] = {0, 0, 0, 0};  // ymin, xmin, ymax, xmax
  int line = 0;
};

struct LabelEntry {
  std::string file;  // as written: relative to the dataset folder, or a bare file name
  int label = -1;    // class index; for box labels the entry's index in Labels::entries
  int line = 0;      // in the CSV (1-based); 0 for sub-folder labels
};

struct Labels {
  std::string source;                    // the CSV path, or "sub-folders of DIR"
  std::vector<LabelEntry> entries;
  std::vector<std::string> class_names;  // sub-folder mode with named folders: index -> folder name
  // Object boxes (read_box_label_csv): boxes[i] are all of entries[i]'s; empty for class labels.
  std::vector<std::vector<LabelBox>> boxes;
  bool has_boxes() const { return !boxes.empty(); }
  // "FILE line N" or "sub-folder 'x'": where an entry came from, for messages.
  std::string where(const LabelEntry& e) const;
};

// CSV, one `file,label` per line (split at the last comma; no quoting); an optional header
// line; blank lines and lines starting with '#' are ignored. A label is a class index
// (integer >= 0) or, when `class_names` is given, one of those names. Throws qcal::Error
// naming the file and line for an unreadable file, a malformed line, a bad label or a file
// given two different labels.
Labels read_label_csv(const std::filesystem::path& csv, const std::vector<std::string>& class_names = {});

// `--task detect`: CSV lines `file,class,ymin,xmin,ymax,xmax` (class an index >= 0, corners
// normalized to [0,1] of the original image), several lines per file; an optional header
// line; blank lines and '#' lines ignored. One entry per file holding all its boxes. Throws
// qcal::Error naming the file and line for a malformed line, a bad class, a coordinate
// outside [0,1] or ymin > ymax / xmin > xmax.
Labels read_box_label_csv(const std::filesystem::path& csv);

// One sub-folder per class under `images_dir`: each image's top-level folder is its label.
// Folder names that are all integers are the class indices; otherwise the sorted folder
// names are classes 0..K-1. Images directly in `images_dir` get no label.
Labels labels_from_subfolders(const std::filesystem::path& images_dir);

// The `--labels` spelling: "subfolders" (the mode above) or a CSV file.
Labels load_labels(const std::string& spec, const std::filesystem::path& images_dir);

// Throws qcal::Error naming the entry when a label is outside 0..num_classes-1.
void check_label_range(const Labels& labels, int num_classes, const std::string& output_description);

// Labels matched to the dataset's samples (paths as the dataset lists them).
struct LabelJoin {
  std::map<std::string, int> by_sample;   // sample path -> class index
  std::vector<std::string> without_sample;  // entries that name no sample: "file (where)"
  int lookup(const std::filesystem::path& sample) const;  // -1 when unlabelled
};
// An entry matches the sample whose path relative to `root` it is, else the one sample with
// that bare file name (several: an error asking for the relative path).
LabelJoin join_labels(const Labels& labels, const std::filesystem::path& root,
                      const std::vector<std::filesystem::path>& samples);

}  // namespace qcal
