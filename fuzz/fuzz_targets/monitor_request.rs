//! Arbitrary bytes into gale's monitor_request parser (`gale::fuzzing::monitor_request`): errors are fine, panics
//! and hangs are not.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = gale::fuzzing::monitor_request(data);
});
