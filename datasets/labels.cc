// Ground-truth labels: a `file,label` CSV or one sub-folder per class, joined to samples.
#include "qcal/labels.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <iterator>
#include <map>
#include <sstream>

#include "qcal/dataset.h"
#include "qcal/error.h"
#include "qcal/model_io.h"

namespace qcal {
namespace fs = std::filesystem;

namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") + 1 - b);
}

// A class index: digits only, no sign, no trailing text.
bool parse_index(const std::string& s, int& out) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// "./a\\b.jpg" -> "a/b.jpg": one spelling for comparison.
std::string normalize(const std::string& file) {
  std::string f = file;
  std::replace(f.begin(), f.end(), '\\', '/');
  return fs::path(f).lexically_normal().generic_string();
}

// Calls f(line, line number, "FILE line N") for each line of a label CSV that carries data:
// trimmed, blank lines and '#' lines skipped.
void for_each_label_line(const fs::path& csv, const std::function<void(const std::string&, int, const std::string&)>& f) {
  std::error_code ec;
  if (!fs::is_regular_file(csv, ec)) throw Error("--labels " + csv.string() + ": no such file");
  const std::vector<uint8_t> bytes = read_file_bytes(csv);
  std::istringstream in(std::string(bytes.begin(), bytes.end()));
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    f(line, line_no, csv.string() + " line " + std::to_string(line_no));
  }
}

}  // namespace

std::string Labels::where(const LabelEntry& e) const {
  if (e.line > 0) return source + " line " + std::to_string(e.line);
  return source + ", sub-folder '" + fs::path(e.file).begin()->string() + "'";
}

Labels read_label_csv(const fs::path& csv, const std::vector<std::string>& class_names) {
  Labels out;
  out.source = csv.string();
  std::map<std::string, size_t> seen;  // normalized file -> entry
  bool first = true;
  for_each_label_line(csv, [&](const std::string& line, int line_no, const std::string& where) {
    const size_t comma = line.rfind(',');
    if (comma == std::string::npos) throw Error(where + ": expected 'file,label', got '" + line + "'");
    const std::string file = trim(line.substr(0, comma)), value = trim(line.substr(comma + 1));
    int label = -1;
    bool ok = parse_index(value, label);
    if (!ok && !class_names.empty()) {
      const auto it = std::find(class_names.begin(), class_names.end(), value);
      if (it != class_names.end()) label = static_cast<int>(it - class_names.begin()), ok = true;
    }
    const bool was_first = first;
    first = false;
    if (!ok) {
      if (was_first) return;  // a header line ("file,label")
      throw Error(where + ": label '" + value + "' is not a class index (an integer >= 0)" +
                  (class_names.empty() ? "" : " nor one of the " + std::to_string(class_names.size()) + " class names"));
    }
    if (file.empty()) throw Error(where + ": no file name before the comma");
    const std::string key = normalize(file);
    if (auto it = seen.find(key); it != seen.end()) {
      const LabelEntry& prev = out.entries[it->second];
      if (prev.label != label)
        throw Error(where + ": '" + file + "' is labelled " + std::to_string(label) + " here and " +
                    std::to_string(prev.label) + " on line " + std::to_string(prev.line));
      return;
    }
    seen[key] = out.entries.size();
    out.entries.push_back({key, label, line_no});
  });
  if (out.entries.empty()) throw Error("--labels " + csv.string() + ": no 'file,label' lines");
  return out;
}

Labels read_box_label_csv(const fs::path& csv) {
  Labels out;
  out.source = csv.string();
  std::map<std::string, size_t> seen;  // normalized file -> entry
  bool first = true;
  for_each_label_line(csv, [&](const std::string& line, int line_no, const std::string& where) {
    std::vector<std::string> f;
    for (size_t b = 0;;) {
      const size_t c = line.find(',', b);
      f.push_back(trim(line.substr(b, c == std::string::npos ? std::string::npos : c - b)));
      if (c == std::string::npos) break;
      b = c + 1;
    }
    const bool was_first = first;
    first = false;
    if (f.size() != 6)
      throw Error(where + ": expected 'file,class,ymin,xmin,ymax,xmax', got " + std::to_string(f.size()) + " fields in '" + line + "'");
    static const char* const kCorner[4] = {"ymin", "xmin", "ymax", "xmax"};
    LabelBox box;
    box.line = line_no;
    if (!parse_index(f[1], box.cls)) {
      if (was_first) return;  // a header line
      throw Error(where + ": class '" + f[1] + "' is not a class index (an integer >= 0)");
    }
    for (int k = 0; k < 4; ++k) {
      const std::string& v = f[2 + k];
      const auto [p, e] = std::from_chars(v.data(), v.data() + v.size(), box.box[k]);
      if (v.empty() || e != std::errc() || p != v.data() + v.size())
        throw Error(where + ": " + kCorner[k] + " '" + v + "' is not a number");
      if (!(box.box[k] >= 0.0f && box.box[k] <= 1.0f))
        throw Error(where + ": " + kCorner[k] + " " + v +
                    " is outside [0,1] (corners are normalized to the original image)");
    }
    if (box.box[0] > box.box[2]) throw Error(where + ": ymin " + f[2] + " > ymax " + f[4]);
    if (box.box[1] > box.box[3]) throw Error(where + ": xmin " + f[3] + " > xmax " + f[5]);
    if (f[0].empty()) throw Error(where + ": no file name before the first comma");
    const std::string key = normalize(f[0]);
    auto it = seen.find(key);
    if (it == seen.end()) {
      it = seen.emplace(key, out.entries.size()).first;
      out.entries.push_back({key, static_cast<int>(out.entries.size()), line_no});
      out.boxes.emplace_back();
    }
    out.boxes[it->second].push_back(box);
  });
  if (out.entries.empty()) throw Error("--labels " + csv.string() + ": no 'file,class,ymin,xmin,ymax,xmax' lines");
  return out;
}

Labels labels_from_subfolders(const fs::path& images_dir) {
  Labels out;
  out.source = "sub-folders of " + images_dir.string();
  std::error_code ec;
  if (!fs::is_directory(images_dir, ec)) throw Error("--labels subfolders: " + images_dir.string() + " is not a folder");
  std::vector<std::string> folders;
  for (const auto& e : fs::directory_iterator(images_dir, ec))
    if (e.is_directory()) folders.push_back(e.path().filename().string());
  if (ec) throw Error(images_dir.string() + ": cannot list (" + ec.message() + ")");
  std::sort(folders.begin(), folders.end());
  if (folders.empty())
    throw Error("--labels subfolders: " + images_dir.string() + " has no sub-folders (one per class expected)");
  std::map<std::string, int> index;
  const bool numeric = std::all_of(folders.begin(), folders.end(), [](const std::string& f) {
    int v;
    return parse_index(f, v);
  });
  for (size_t i = 0; i < folders.size(); ++i) {
    int v = static_cast<int>(i);
    if (numeric) parse_index(folders[i], v);
    index[folders[i]] = v;
  }
  if (!numeric) out.class_names = folders;
  for (const fs::path& f : list_images(images_dir)) {
    const fs::path rel = f.lexically_relative(images_dir);
    if (std::distance(rel.begin(), rel.end()) < 2) continue;  // directly in the folder: no class
    out.entries.push_back({rel.generic_string(), index.at(rel.begin()->string()), 0});
  }
  if (out.entries.empty()) throw Error("--labels subfolders: no images in the sub-folders of " + images_dir.string());
  return out;
}

Labels load_labels(const std::string& spec, const fs::path& images_dir) {
  if (spec == "subfolders") {
    if (images_dir.empty()) throw Error("--labels subfolders needs --images DIR with one sub-folder per class");
    return labels_from_subfolders(images_dir);
  }
  return read_label_csv(spec);
}

void check_label_range(const Labels& labels, int num_classes, const std::string& output) {
  for (const LabelEntry& e : labels.entries)
    if (e.label >= num_classes)
      throw Error(labels.where(e) + ": class " + std::to_string(e.label) + " is out of range: " + output + " has " +
                  std::to_string(num_classes) + " classes (0.." + std::to_string(num_classes - 1) + ")");
}

int LabelJoin::lookup(const fs::path& sample) const {
  const auto it = by_sample.find(sample.string());
  return it == by_sample.end() ? -1 : it->second;
}

LabelJoin join_labels(const Labels& labels, const fs::path& root, const std::vector<fs::path>& samples) {
  std::map<std::string, size_t> by_relative;
  std::map<std::string, std::vector<size_t>> by_name;
  for (size_t i = 0; i < samples.size(); ++i) {
    by_relative[samples[i].lexically_relative(root).generic_string()] = i;
    by_name[samples[i].filename().string()].push_back(i);
  }
  const std::string root_prefix = normalize(root.string()) + "/";
  LabelJoin join;
  std::map<size_t, const LabelEntry*> taken;
  for (const LabelEntry& e : labels.entries) {
    std::string key = normalize(e.file);
    if (key.rfind(root_prefix, 0) == 0) key = key.substr(root_prefix.size());  // "DIR/a.jpg" names DIR's a.jpg
    long found = -1;
    if (auto it = by_relative.find(key); it != by_relative.end()) {
      found = static_cast<long>(it->second);
    } else if (key.find('/') == std::string::npos) {
      if (auto n = by_name.find(key); n != by_name.end()) {
        if (n->second.size() > 1)
          throw Error(labels.where(e) + ": '" + e.file + "' matches " + std::to_string(n->second.size()) + " images (" +
                      samples[n->second[0]].lexically_relative(root).generic_string() + ", " +
                      samples[n->second[1]].lexically_relative(root).generic_string() +
                      (n->second.size() > 2 ? ", ..." : "") + "): name it by its path relative to " + root.string());
        found = static_cast<long>(n->second[0]);
      }
    }
    if (found < 0) {
      join.without_sample.push_back(e.file + " (" + labels.where(e) + ")");
      continue;
    }
    const size_t s = static_cast<size_t>(found);
    if (auto t = taken.find(s); t != taken.end() && labels.has_boxes())
      throw Error(labels.where(e) + ": '" + e.file + "' names the same image as '" + t->second->file + "' at " +
                  labels.where(*t->second) + " (give each image's boxes under one name)");
    if (auto t = taken.find(s); t != taken.end() && t->second->label != e.label)
      throw Error(labels.where(e) + ": '" + e.file + "' is labelled " + std::to_string(e.label) + " here and " +
                  std::to_string(t->second->label) + " at " + labels.where(*t->second));
    taken[s] = &e;
    join.by_sample[samples[s].string()] = e.label;
  }
  return join;
}

}  // namespace qcal
