//! Every parser an outsider can reach takes arbitrary bytes without panicking (issue 15):
//! the same entry points as the cargo-fuzz targets in fuzz/, run here on stable as bounded
//! property tests. Inputs are random bytes and, closer to what a parser must reject
//! deep inside, the project's own example files with random bytes overwritten, inserted or
//! cut. The activation scanner is also checked against serde_json whenever it accepts.

use proptest::prelude::*;

fn example(path: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// `base` with up to 8 edits: a byte overwritten, inserted, or the rest cut.
fn mutated(base: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = base.len().max(1);
    proptest::collection::vec((0..len, any::<u8>(), 0u8..3), 1..8).prop_map(move |edits| {
        let mut v = base.clone();
        for (at, byte, op) in edits {
            let at = at.min(v.len());
            match op {
                0 if at < v.len() => v[at] = byte,
                1 => v.insert(at, byte),
                _ => v.truncate(at),
            }
        }
        v
    })
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..512)
}

const ACTIVATION: &str = r#"{"activationId":"a1b2","namespace":"guest","name":"f","version":"0.0.1","subject":"guest","start":1700000000000,"end":1700000000012,"duration":12,"statusCode":0,"response":{"status":"success","statusCode":0,"success":true,"result":{"x":[1,2,{"y":"z"}]}},"annotations":[{"key":"waitTime","value":3},{"key":"initTime","value":40},{"key":"kind","value":"python:3"}],"logs":[]}"#;

const MONITOR: &str = "{\"op\":\"window\",\"container\":\"c1\",\"start_us\":1,\"end_us\":2}\n{\"op\":\"containers\"}\n{\"op\":\"latest\",\"container\":\"c1\"}\n{\"op\":\"stats\"}\n{\"op\":\"ping\"}\n{\"op\":\"watch\",\"container\":\"u\",\"cgroups\":{\"memory\":\"/sys/fs/cgroup/memory\"}}\n{\"op\":\"remove\",\"container\":\"u\"}\n";

const ACTION_PUT: &str = r#"{"exec":{"kind":"python:3","code":"def main(a): return a","main":"main","binary":false},"parameters":[{"key":"a","value":1,"init":true}],"limits":{"timeout":1000,"memory":256,"logs":10,"concurrency":1},"version":"1.2.3","publish":false,"annotations":[{"key":"web-export","value":true}]}"#;

const MOUNTINFO: &str = "30 23 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755\n31 30 0:27 / /sys/fs/cgroup/memory rw,nosuid shared:10 - cgroup cgroup rw,memory\n32 30 0:28 / /sys/fs/cgroup/unified rw shared:11 - cgroup2 cgroup2 rw\nusage_usec 123\ntotal_rss 4096\n";

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn yaml_trace(data in prop_oneof![bytes(), mutated(example("traces/demo.yaml")), mutated(example("traces/arrivals.yaml"))]) {
        let _ = gale::trace::fuzzing::yaml(&data);
    }

    #[test]
    fn csv_trace(data in prop_oneof![bytes(), mutated(example("traces/small.csv"))]) {
        let _ = gale::trace::fuzzing::csv(&data);
        let _ = gale::trace::fuzzing::faasload_line(&data);
    }

    #[test]
    fn platform_config(data in prop_oneof![bytes(), mutated(example("config/platform.yml"))]) {
        let _ = gale::fuzzing::platform_config(&data);
    }

    #[test]
    fn generator_config(data in prop_oneof![bytes(), mutated(example("config/generator.yml"))]) {
        let _ = gale::fuzzing::generator_config(&data);
    }

    #[test]
    fn experiment_config(data in prop_oneof![bytes(), mutated(example("config/experiments/policies.yml")), mutated(example("config/experiments/keepalive-probe.yml"))]) {
        let _ = gale::fuzzing::experiment_config(&data);
    }

    #[test]
    fn checkpoint(data in prop_oneof![bytes(), mutated(br#"{"format":"gale-generate-checkpoint","version":1,"sha256":"00","state":{"fingerprint":"fp","seed":1,"next_row":3,"dataset_bytes":10}}"#.to_vec())]) {
        let _ = gale::fuzzing::checkpoint(&data);
    }

    #[test]
    fn activation_scanner_agrees_with_serde(data in prop_oneof![bytes(), mutated(ACTIVATION.as_bytes().to_vec())]) {
        gale::fuzzing::activation(&data).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn cgroup_files(data in prop_oneof![bytes(), mutated(MOUNTINFO.as_bytes().to_vec())]) {
        let _ = gale::fuzzing::cgroup_files(&data);
    }

    #[test]
    fn monitor_protocol(data in prop_oneof![bytes(), mutated(MONITOR.as_bytes().to_vec())]) {
        let _ = gale::fuzzing::monitor_request(&data);
    }

    #[test]
    fn platform_bodies(data in prop_oneof![bytes(), mutated(ACTION_PUT.as_bytes().to_vec())]) {
        let _ = gale::fuzzing::platform_request(&data);
    }
}
