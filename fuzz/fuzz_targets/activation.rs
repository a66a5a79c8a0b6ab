//! Arbitrary bytes into gale's activation-record reader: the fast scanner must never panic,
//! and whenever it accepts a body it must read it exactly as serde_json does.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(disagreement) = gale::fuzzing::activation(data) {
        panic!("{disagreement}");
    }
});
