#ifndef TASKBRIDGE_CLIBFUZZER_H
#define TASKBRIDGE_CLIBFUZZER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (part of the toolchain's libclang_rt.fuzzer, linked by
/// -sanitize=fuzzer). SwiftPM links every executable with `main` pointing at
/// `<module>_main`, so libFuzzer's own `main` is never used: each harness defines
/// `<module>_main` and starts the driver itself.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
