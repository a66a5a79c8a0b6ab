//! Arbitrary bytes into gale's platform_request parser (`gale::fuzzing::platform_request`): errors are fine, panics
//! and hangs are not.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = gale::fuzzing::platform_request(data);
});
