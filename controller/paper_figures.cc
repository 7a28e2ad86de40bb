#include "controller/paper_figures.h"

namespace rcbench::controller {

const std::vector<PaperPrimitive>& PaperTable1() {
  static const auto* table = new std::vector<PaperPrimitive>{
      {"BM_Create", "create", 2.36},
      {"BM_Destroy", "destroy", 2.10},
      {"BM_ChangeThreadBinding_Kernel", "change thread binding (kernel migration)", 1.04},
      {"BM_ChangeThreadBinding_UserLevel", "change thread binding (user-level switch)", 1.04},
      {"BM_ReadUsage", "read usage", 2.04},
      {"BM_ReadUsage_KeptOpen", "read usage (files kept open)", 2.04},
      {"BM_SetAttributes", "set/get attributes (set)", 2.10},
      {"BM_GetAttributes", "set/get attributes (get)", 2.10},
      {"BM_MoveBetweenProcesses", "move between processes", 3.15},
      {"BM_ObtainHandle", "obtain handle", 1.90},
  };
  return *table;
}

const PaperPrimitive* FindPaperPrimitive(const std::string& benchmark) {
  for (const auto& p : PaperTable1()) {
    if (p.benchmark == benchmark) return &p;
  }
  return nullptr;
}

}  // namespace rcbench::controller
