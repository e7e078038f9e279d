// doctest's runner, in a file of its own so that editing a test does not
// recompile it.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
