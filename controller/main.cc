// rcbench: the experiment controller's command line (see controller/README.md).
#include "controller/cli.h"

int main(int argc, char** argv) { return rcbench::controller::RunCli(argc, argv); }
