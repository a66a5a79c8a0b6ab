//! Arbitrary bytes into gale's platform_config parser (`gale::fuzzing::platform_config`): errors are fine, panics
//! and hangs are not.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = gale::fuzzing::platform_config(data);
});
