// rcbench-rc: command-line front end to the resource-container library (rc/cli.h).

#include <iostream>
#include <string>
#include <vector>

#include "rc/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return rcbench::rc::RunCli(args, std::cout, std::cerr);
}
