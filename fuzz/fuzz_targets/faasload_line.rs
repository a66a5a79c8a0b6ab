//! Arbitrary bytes into gale's faasload_line trace reader: errors are fine, panics and hangs are not.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = gale::trace::fuzzing::faasload_line(data);
});
