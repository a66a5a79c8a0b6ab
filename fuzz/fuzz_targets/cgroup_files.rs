//! Arbitrary bytes into gale's cgroup_files parser (`gale::fuzzing::cgroup_files`): errors are fine, panics
//! and hangs are not.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = gale::fuzzing::cgroup_files(data);
});
