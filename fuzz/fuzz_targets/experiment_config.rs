//! Arbitrary bytes into gale's experiment file parser (`gale::fuzzing::experiment_config`):
//! errors are fine, panics and hangs are not.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = gale::fuzzing::experiment_config(data);
});
