//! Arbitrary bytes into gale's checkpoint parser (`gale::fuzzing::checkpoint`): errors are fine, panics
//! and hangs are not.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = gale::fuzzing::checkpoint(data);
});
