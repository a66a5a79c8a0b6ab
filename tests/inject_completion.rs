//! Completion latency means what its user thinks: the time from an invocation's scheduled
//! instant to the end of its activation, whether the call was blocking or answered
//! `202 Accepted` and completed by polling the activation record.

mod inject_support;

use inject_support::{inject_ok_in, Sandbox};

const TRACE: &str = "\
seed: 1
functions:
  - name: sleepy
    params: {cpu_ms: 0, mem_mb: 1, sleep_ms: 200}
invocations:
  - {at: 0.0, function: sleepy}
  - {at: 0.3, function: sleepy}
  - {at: 0.6, function: sleepy}
  - {at: 0.9, function: sleepy}
  - {at: 1.2, function: sleepy}
  - {at: 1.5, function: sleepy}
";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn non_blocking_completion_waits_for_the_function_like_blocking() {
    let sb = Sandbox::new();
    let trace = sb.write("sleepy.yaml", TRACE);
    let mut medians = Vec::new();
    for (out, mode) in [("nb", "--non-blocking"), ("b", "--blocking")] {
        let (_, res) = inject_ok_in(&sb, &trace, out, &[mode, "--no-monitor"]);
        res.assert_all_success();
        let completion: Vec<f64> = res
            .records
            .iter()
            .map(|r| {
                let c = r
                    .completion_us
                    .expect("a completed invocation has a completion");
                // The function sleeps 200 ms: nobody got its result sooner.
                assert!(c >= 200_000.0, "{mode}: completion {c} µs < 200 ms: {r:?}");
                assert_eq!(r.blocking, mode == "--blocking", "{r:?}");
                c
            })
            .collect();
        if mode == "--non-blocking" {
            // The 202 came at once: response time is not completion.
            for r in &res.records {
                assert_eq!(r.http_status, Some(202), "{r:?}");
                assert!(r.response_us.unwrap() < r.completion_us.unwrap(), "{r:?}");
            }
        }
        let s = &res.summary["overall"]["completion_ms"];
        assert!(s["p50"]["value"].as_f64().unwrap() >= 200.0, "summary: {s}");
        medians.push(median(completion));
    }
    // Same function, same platform: the two modes wait the same, within a few ms (the
    // warm containers answer in µs; the rest is the machine's load).
    let gap_ms = (medians[0] - medians[1]).abs() / 1000.0;
    assert!(
        gap_ms < 15.0,
        "non-blocking {medians:?} µs vs blocking: {gap_ms} ms apart"
    );
}
