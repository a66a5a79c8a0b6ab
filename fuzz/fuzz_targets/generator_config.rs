//! Arbitrary bytes into gale's generator_config parser (`gale::fuzzing::generator_config`): errors are fine, panics
//! and hangs are not.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = gale::fuzzing::generator_config(data);
});
