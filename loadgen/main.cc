// rcbench-loadgen: see loadgen/README.md and `rcbench-loadgen --help`.

#include "loadgen/cli.h"

int main(int argc, char** argv) { return rcbench::loadgen::RunCli(argc, argv); }
