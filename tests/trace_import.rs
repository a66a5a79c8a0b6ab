//! `gale trace import` and raw release files read in place: each importer on small files in
//! the release's own layout (and In-Vitro's derived one for Azure 2019), with float cells,
//! reordered columns, minute offsets, zero durations and bad rows; and the round trip
//! import → convert → check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use gale::trace::import::{self, Format, Iat, ImportOptions};
use gale::trace::{self, Invocation, OpenOptions};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

fn gale(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gale"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn rows(format: Format, inputs: &[PathBuf], opts: &ImportOptions) -> Vec<Invocation> {
    import::open(format, inputs, opts)
        .unwrap()
        .rows
        .map(|r| r.unwrap())
        .collect()
}

fn import_err(format: Format, inputs: &[PathBuf], opts: &ImportOptions) -> String {
    let imported = import::open(format, inputs, opts);
    match imported {
        Err(e) => e.to_string(),
        Ok(mut i) => i.rows.find_map(|r| r.err()).expect("an error").to_string(),
    }
}

fn params(inv: &Invocation) -> serde_json::Value {
    serde_json::from_str(inv.params.as_deref().unwrap()).unwrap()
}

/// Rows per (function, minute).
fn per_minute(rows: &[Invocation]) -> BTreeMap<(String, u64), u32> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry((r.function.to_string(), r.at_ns / 60_000_000_000))
            .or_default() += 1;
    }
    m
}

const A1: &str = "aaaaaaaa11111111aaaaaaaa11111111aaaaaaaa11111111aaaaaaaa11111111";
const A2: &str = "bbbbbbbb22222222bbbbbbbb22222222bbbbbbbb22222222bbbbbbbb22222222";
const F1: &str = "ffffffff00000001ffffffff00000001ffffffff00000001ffffffff00000001";
const F2: &str = "ffffffff00000002ffffffff00000002ffffffff00000002ffffffff00000002";
const O1: &str = "0000000011111111000000001111111100000000111111110000000011111111";

// ---------------------------------------------------------------- Azure 2021

fn azure2021_file(dir: &Path) -> PathBuf {
    // Ordered by start (end − duration), so end_timestamp is not monotone; the same func id
    // under two apps is two functions; one zero duration; one row 2 s early (reordered).
    let text = format!(
        "app,func,end_timestamp,duration\n\
         {A1},{F1},1.5,0.5\n\
         {A2},{F1},3.0,1.75\n\
         {A1},{F2},1.25,0\n\
         {A1},{F1},10.031,0.031\n\
         {A1},{F1},9,1.000000001\n\
         {A2},{F1},100,2\n"
    );
    write(
        dir,
        "AzureFunctionsInvocationTraceForTwoWeeksJan2021.txt",
        &text,
    )
}

#[test]
fn azure2021_arrivals_are_end_minus_duration_in_start_order() {
    let dir = tempfile::tempdir().unwrap();
    let f = azure2021_file(dir.path());
    let r = rows(Format::Azure2021, &[f], &ImportOptions::default());
    let at: Vec<u64> = r.iter().map(|i| i.at_ns).collect();
    assert_eq!(
        at,
        [
            1_000_000_000,
            1_250_000_000,
            1_250_000_000,
            7_999_999_999,
            10_000_000_000,
            98_000_000_000
        ]
    );
    let names: Vec<&str> = r.iter().map(|i| &*i.function).collect();
    assert_eq!(names[0], "aaaaaaaa-ffffffff");
    // Same func id, other app: another function, named apart deterministically.
    assert_ne!(names[1], names[0]);
    assert_eq!(&*r[1].user, "bbbbbbbb");
    assert_eq!(params(&r[0])["cpu_ms"], 500);
    assert_eq!(params(&r[2])["cpu_ms"], 0);
    assert_eq!(params(&r[4])["cpu_ms"], 31);
    assert!(r.windows(2).all(|w| w[0].at_ns <= w[1].at_ns));
}

#[test]
fn azure2021_columns_by_name_and_windows() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "duration,func,end_timestamp,app\n0.5,{F1},30,{A1}\n1,{F1},61,{A1}\n1,{F1},86430,{A1}\n1,{F2},86520,{A1}\n"
    );
    let f = write(dir.path(), "t.csv", &text);
    let r = rows(
        Format::Azure2021,
        std::slice::from_ref(&f),
        &ImportOptions::default(),
    );
    assert_eq!(r.len(), 4);
    assert_eq!(r[1].at_ns, 60_000_000_000);
    let day2 = ImportOptions {
        days: Some((2, 2)),
        ..ImportOptions::default()
    };
    let r2 = import::open(Format::Azure2021, std::slice::from_ref(&f), &day2).unwrap();
    let report = r2.report.clone();
    let got: Vec<Invocation> = r2.rows.map(Result::unwrap).collect();
    // Time 0 is the start of day 2.
    assert_eq!(
        got.iter().map(|i| i.at_ns).collect::<Vec<_>>(),
        [29_000_000_000, 119_000_000_000]
    );
    assert_eq!(report.lock().unwrap().outside_window, 2);
    let minute2 = ImportOptions {
        minutes: Some((2, 2)),
        ..ImportOptions::default()
    };
    let got = rows(Format::Azure2021, &[f], &minute2);
    assert_eq!(
        got.iter().map(|i| i.at_ns).collect::<Vec<_>>(),
        [0, 86_459_000_000_000]
    );
}

#[test]
fn azure2021_bad_rows_name_file_line_column_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "bad.csv",
        &format!("app,func,end_timestamp,duration\n{A1},{F1},1,0.5\n{A1},{F1},soon,0.5\n"),
    );
    let e = import_err(
        Format::Azure2021,
        std::slice::from_ref(&f),
        &ImportOptions::default(),
    );
    assert!(
        e.contains("bad.csv:3:3: field `end_timestamp`: expected the end time in seconds"),
        "{e}"
    );
    let late = write(
        dir.path(),
        "order.csv",
        &format!(
            "app,func,end_timestamp,duration\n{A1},{F1},100,0\n{A1},{F1},120,0\n{A1},{F1},50,0\n"
        ),
    );
    let e = import_err(Format::Azure2021, &[late], &ImportOptions::default());
    assert!(
        e.contains("order.csv:4:3") && e.contains("ordered by start"),
        "{e}"
    );
    let missing = write(dir.path(), "m.csv", "app,func,end_timestamp\nx,y,1\n");
    let e = import_err(Format::Azure2021, &[missing], &ImportOptions::default());
    assert!(e.contains("missing column `duration`"), "{e}");
    // The command line exits 2 and prints the located error.
    let (code, _, err) = gale(&[
        "trace".as_ref(),
        "import".as_ref(),
        "azure2021".as_ref(),
        f.as_os_str(),
        "--out".as_ref(),
        dir.path().join("o.yaml").as_os_str(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.csv:3:3"), "{err}");
}

// ---------------------------------------------------------------- Azure 2019

fn minutes_header(labels: impl Iterator<Item = u32>) -> String {
    labels.map(|m| m.to_string()).collect::<Vec<_>>().join(",")
}

/// A raw release day: two apps (one with two functions), counts in a few minutes.
fn azure2019_raw(dir: &Path, day: u32, scale: u32) {
    let counts = |f: u32| -> String {
        (1..=1440)
            .map(|m| match (f, m) {
                (0, 1) => 3 * scale,
                (0, 2) => scale,
                (1, 2) => 5 * scale,
                (2, 1440) => 2,
                (2, 700) => 4,
                _ => 0,
            })
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let inv = format!(
        "HashOwner,HashApp,HashFunction,Trigger,{}\n\
         {O1},{A1},{F1},http,{}\n\
         {O1},{A1},{F2},timer,{}\n\
         {O1},{A2},{F1},queue,{}\n",
        minutes_header(1..=1440),
        counts(0),
        counts(1),
        counts(2)
    );
    write(
        dir,
        &format!("invocations_per_function_md.anon.d{day:02}.csv"),
        &inv,
    );
    let pct = "percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,percentile_Average_99,percentile_Average_100";
    let dur = format!(
        "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,{pct}\n\
         {O1},{A1},{F1},100,4,10,200,10,10,50,100,150,190,200\n\
         {O1},{A1},{F2},0,5,0,0,0,0,0,0,0,0,0\n\
         {O1},{A2},{F1},1000,6,1000,1000,1000,1000,1000,1000,1000,1000,1000\n"
    );
    write(
        dir,
        &format!("function_durations_percentiles.anon.d{day:02}.csv"),
        &dur,
    );
    let mpct = "AverageAllocatedMb_pct1,AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,AverageAllocatedMb_pct100";
    let mem = format!(
        "HashOwner,HashApp,SampleCount,AverageAllocatedMb,{mpct}\n\
         {O1},{A1},10,200,100,120,150,200,250,300,350,400\n\
         {O1},{A2},10,64,64,64,64,64,64,64,64,64\n"
    );
    write(
        dir,
        &format!("app_memory_percentiles.anon.d{day:02}.csv"),
        &mem,
    );
}

#[test]
fn azure2019_raw_counts_durations_and_split_memory() {
    let dir = tempfile::tempdir().unwrap();
    azure2019_raw(dir.path(), 1, 1);
    let imported = import::open(
        Format::Azure2019,
        &[dir.path().to_path_buf()],
        &ImportOptions::default(),
    )
    .unwrap();
    let functions = imported.functions.clone();
    let r: Vec<Invocation> = imported.rows.map(Result::unwrap).collect();
    assert_eq!(functions.len(), 3);
    let (f1, f2, g1) = (&functions[0].name, &functions[1].name, &functions[2].name);
    let pm = per_minute(&r);
    assert_eq!(pm[&(f1.clone(), 0)], 3);
    assert_eq!(pm[&(f1.clone(), 1)], 1);
    assert_eq!(pm[&(f2.clone(), 1)], 5);
    assert_eq!(pm[&(g1.clone(), 699)], 4);
    assert_eq!(pm[&(g1.clone(), 1439)], 2);
    assert_eq!(r.len(), 15);
    for inv in &r {
        let p = params(inv);
        let (d, m) = (p["cpu_ms"].as_f64().unwrap(), p["mem_mb"].as_f64().unwrap());
        if *inv.function == **f1 {
            assert!((10.0..=200.0).contains(&d), "{p}");
            // App A1's memory (100–400 MB) split over its two functions.
            assert!((50.0..=200.0).contains(&m), "{p}");
        } else if *inv.function == **f2 {
            assert_eq!(d, 0.0);
        } else {
            assert_eq!((d, m), (1000.0, 64.0));
        }
        assert_eq!(&*inv.user, "00000000");
    }
    assert_eq!(functions[0].memory_mb, Some(256));
    assert_eq!(functions[2].memory_mb, Some(128));
    // Shifted minutes do not all start at :00.
    assert!(r.iter().filter(|i| i.at_ns % 60_000_000_000 == 0).count() < 3);
}

#[test]
fn azure2019_days_minutes_and_seeds() {
    let dir = tempfile::tempdir().unwrap();
    azure2019_raw(dir.path(), 1, 1);
    azure2019_raw(dir.path(), 2, 10);
    let all = rows(
        Format::Azure2019,
        &[dir.path().to_path_buf()],
        &ImportOptions::default(),
    );
    assert_eq!(all.len(), 15 + 96);
    // Day 2 starts 1440 minutes after day 1's first minute.
    assert!(all.iter().filter(|i| i.at_ns >= 86_400_000_000_000).count() == 96);
    let opts = ImportOptions {
        days: Some((2, 2)),
        minutes: Some((2, 700)),
        ..ImportOptions::default()
    };
    let win = import::open(Format::Azure2019, &[dir.path().to_path_buf()], &opts).unwrap();
    let report = win.report.clone();
    let w: Vec<Invocation> = win.rows.map(Result::unwrap).collect();
    // Minute 2 of day 2 is time 0: 10 + 50 rows in [0, 60 s), 4 in minute 700.
    assert_eq!(w.len(), 64);
    assert_eq!(w.iter().filter(|i| i.at_ns < 60_000_000_000).count(), 60);
    assert!(w.iter().all(|i| i.at_ns < 699 * 60_000_000_000));
    // The window reproduces the same arrivals as the whole import, moved to its origin.
    let day2: Vec<u64> = all
        .iter()
        .filter(|i| {
            i.at_ns >= 86_400_000_000_000
                && (1..=699).contains(&((i.at_ns - 86_400_000_000_000) / 60_000_000_000))
        })
        .map(|i| i.at_ns - 86_400_000_000_000 - 60_000_000_000)
        .collect();
    assert_eq!(w.iter().map(|i| i.at_ns).collect::<Vec<_>>(), day2);
    let r = report.lock().unwrap();
    assert_eq!(r.outside_window, 30 + 2);
    drop(r);
    // Seeds: same rows for the same seed, others for another.
    let seeded = |seed| {
        rows(
            Format::Azure2019,
            &[dir.path().to_path_buf()],
            &ImportOptions {
                seed,
                ..ImportOptions::default()
            },
        )
    };
    assert_eq!(seeded(5), seeded(5));
    assert_ne!(seeded(5), seeded(6));
    // Equidistant without shift: In-Vitro's plain layout, first call at :00.
    let eq = rows(
        Format::Azure2019,
        &[dir.path().to_path_buf()],
        &ImportOptions {
            iat: Iat::Equidistant,
            shift: false,
            days: Some((1, 1)),
            ..ImportOptions::default()
        },
    );
    let f1: Vec<u64> = eq
        .iter()
        .filter(|i| *i.function == *eq[0].function)
        .map(|i| i.at_ns)
        .collect();
    assert_eq!(f1, [0, 20_000_000_000, 40_000_000_000, 60_000_000_000]);
}

/// In-Vitro's derived files: HashFunction first, memory per function, float cells, minute
/// labels from 540, reordered columns in durations.csv.
fn azure2019_derived(dir: &Path) {
    write(
        dir,
        "invocations.csv",
        &format!(
            "HashFunction,HashOwner,HashApp,Trigger,540,541,542\n\
             {F1},{O1},{A1},http,2.0,0.0,1.0\n\
             {F2},{O1},{A1},http,0,3,0\n"
        ),
    );
    write(
        dir,
        "durations.csv",
        &format!(
            "HashFunction,percentile_Average_100,percentile_Average_0,HashOwner,HashApp,Average,Count,Minimum,Maximum,percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,percentile_Average_99\n\
             {F1},40.0,20.0,{O1},{A1},30.0,3.0,20.0,40.0,20.0,25.0,30.0,35.0,39.0\n\
             {F2},5,5,{O1},{A1},5,3,5,5,5,5,5,5,5\n"
        ),
    );
    write(
        dir,
        "memory.csv",
        &format!(
            "HashFunction,HashOwner,HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,AverageAllocatedMb_pct100\n\
             {F1},{O1},{A1},5.0,171.0,171.0,171.0,171.0,171.0,171.0,171.0,171.0,171.0\n\
             {F2},{O1},{A1},5.0,171.0,171.0,171.0,171.0,171.0,171.0,171.0,171.0,171.0\n"
        ),
    );
}

#[test]
fn azure2019_derived_layout_with_floats_offsets_and_reordered_columns() {
    let dir = tempfile::tempdir().unwrap();
    azure2019_derived(dir.path());
    let r = rows(
        Format::Azure2019,
        &[dir.path().to_path_buf()],
        &ImportOptions::default(),
    );
    assert_eq!(r.len(), 6);
    let pm = per_minute(&r);
    let f1 = "aaaaaaaa-ffffffff".to_string();
    let f2 = r
        .iter()
        .find(|i| *i.function != *f1)
        .unwrap()
        .function
        .to_string();
    // Minute 540 is time 0; 541 is [60, 120) s.
    assert_eq!(pm[&(f1.clone(), 0)], 2);
    assert_eq!(pm[&(f1.clone(), 2)], 1);
    assert_eq!(pm[&(f2.clone(), 1)], 3);
    for inv in &r {
        let p = params(inv);
        assert_eq!(p["mem_mb"], 171, "per-function memory is not split again");
        let d = p["cpu_ms"].as_f64().unwrap();
        if *inv.function == *f1 {
            assert!((20.0..=40.0).contains(&d));
        } else {
            assert_eq!(d, 5.0);
        }
    }
    // Explicit files work as the directory does.
    let files: Vec<PathBuf> = ["invocations.csv", "durations.csv", "memory.csv"]
        .iter()
        .map(|n| dir.path().join(n))
        .collect();
    assert_eq!(
        rows(Format::Azure2019, &files, &ImportOptions::default()),
        r
    );
}

#[test]
fn azure2019_bad_cells_are_located() {
    let dir = tempfile::tempdir().unwrap();
    azure2019_derived(dir.path());
    write(
        dir.path(),
        "invocations.csv",
        &format!(
            "HashFunction,HashOwner,HashApp,Trigger,540,541\n{F1},{O1},{A1},http,2,1\n{F2},{O1},{A1},http,3,lots\n"
        ),
    );
    let e = import_err(
        Format::Azure2019,
        &[dir.path().to_path_buf()],
        &ImportOptions::default(),
    );
    assert!(
        e.contains("invocations.csv:3:6: field `541`: expected a non-negative number"),
        "{e}"
    );
    write(
        dir.path(),
        "durations.csv",
        &format!("HashFunction,HashOwner,HashApp,percentile_Average_50\n{F1},{O1},{A1},1\n"),
    );
    let e = import_err(
        Format::Azure2019,
        &[dir.path().to_path_buf()],
        &ImportOptions::default(),
    );
    assert!(e.contains("missing column `percentile_Average_0`"), "{e}");
}

// ---------------------------------------------------------------- Huawei, FaaSRail

#[test]
fn huawei_tables_with_empty_cells_floats_and_delays() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("private_dataset");
    write(
        &root,
        "requests_minute/day_000.csv",
        "day,time,0,1,7\n0,0,2.0,,1\n0,60,,3,\n0,120,1,0,0\n",
    );
    write(
        &root,
        "requests_minute/day_001.csv",
        "day,time,0,1,7\n1,86400,4,,\n",
    );
    write(
        &root,
        "function_delay_minute/day_000.csv",
        "day,time,0,1,7\n0,0,12.5,,3\n0,60,,40,\n0,120,13,40,3\n",
    );
    let imported = import::open(
        Format::Huawei2023,
        std::slice::from_ref(&root),
        &ImportOptions::default(),
    )
    .unwrap();
    let names: Vec<String> = imported.functions.iter().map(|f| f.name.clone()).collect();
    assert_eq!(names, ["0", "1", "7"]);
    let r: Vec<Invocation> = imported.rows.map(Result::unwrap).collect();
    let pm = per_minute(&r);
    assert_eq!(pm[&("0".into(), 0)], 2);
    assert_eq!(pm[&("7".into(), 0)], 1);
    assert_eq!(pm[&("1".into(), 1)], 3);
    assert_eq!(pm[&("0".into(), 2)], 1);
    assert_eq!(pm[&("0".into(), 1440)], 4);
    let d = |f: &str, minute: u64| -> serde_json::Value {
        params(
            r.iter()
                .find(|i| *i.function == *f && i.at_ns / 60_000_000_000 == minute)
                .unwrap(),
        )
    };
    assert_eq!(d("0", 0)["cpu_ms"], 12.5);
    assert_eq!(d("1", 1)["cpu_ms"], 40);
    assert_eq!(d("0", 2)["cpu_ms"], 13);
    // Day 2 has no delay table: no duration.
    assert!(d("0", 1440).get("cpu_ms").is_none());
    let bad = dir.path().join("bad");
    write(
        &bad,
        "requests_minute/day_000.csv",
        "day,time,0\n0,0,1\n0,60,-2\n",
    );
    let e = import_err(Format::Huawei2023, &[bad], &ImportOptions::default());
    assert!(e.contains("day_000.csv:3:3: field `0`"), "{e}");
}

const FAASRAIL: &str = r#"avg,mapped_wreq,1-288,289-576,577-864
1633,"{""mean"": 1624.0, ""bench"": ""video_processing-91bb6c6"", ""payload"": ""{\""vid_name\"": \""big.mp4\""}""}",3,0,2
244,"{""mean"": 243.8, ""bench"": ""chameleon-f385b3120de5d5"", ""payload"": ""{\""nrow\"": 264, \""ncol\"": 264}""}",1,2.0,0
242,"{""mean"": 243.8, ""bench"": ""chameleon-f385b3120de5d5"", ""payload"": ""{\""nrow\"": 100, \""ncol\"": 264}""}",0,1,1
"#;

#[test]
fn faasrail_rows_share_benchmarks_and_carry_payloads() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "azure_spec_15rps_5min.csv", FAASRAIL);
    let imported = import::open(
        Format::FaasRail,
        std::slice::from_ref(&f),
        &ImportOptions::default(),
    )
    .unwrap();
    let names: Vec<String> = imported.functions.iter().map(|f| f.name.clone()).collect();
    assert_eq!(
        names,
        ["video_processing-91bb6c6", "chameleon-f385b3120de5d5"]
    );
    let r: Vec<Invocation> = imported.rows.map(Result::unwrap).collect();
    assert_eq!(r.len(), 10);
    let pm = per_minute(&r);
    assert_eq!(pm[&("chameleon-f385b3120de5d5".into(), 1)], 3);
    let nrows: Vec<i64> = r
        .iter()
        .filter(|i| i.function.starts_with("chameleon"))
        .map(|i| params(i)["nrow"].as_i64().unwrap())
        .collect();
    assert_eq!(nrows.iter().filter(|&&n| n == 100).count(), 2);
    let v = r.iter().find(|i| i.function.starts_with("video")).unwrap();
    assert_eq!(params(v)["vid_name"], "big.mp4");
    assert_eq!(params(v)["cpu_ms"], 1624);
    let bad = write(dir.path(), "bad.csv", "avg,mapped_wreq,1-288\n3,{nope},1\n");
    let e = import_err(Format::FaasRail, &[bad], &ImportOptions::default());
    assert!(
        e.contains("bad.csv:2:2: field `mapped_wreq`: expected JSON"),
        "{e}"
    );
}

// ---------------------------------------------------------------- round trips

#[test]
fn import_convert_check_and_raw_paths_give_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let a21 = azure2021_file(dir.path());
    azure2019_raw(&dir.path().join("az19"), 1, 2);
    let spec = write(dir.path(), "spec.csv", FAASRAIL);
    let cases: [(&str, PathBuf); 3] = [
        ("azure2021", a21.clone()),
        ("azure2019", dir.path().join("az19")),
        ("faasrail", spec.clone()),
    ];
    for (format, input) in cases {
        let out = dir.path().join(format!("{format}.yaml"));
        let (code, stdout, stderr) = gale(&[
            "trace".as_ref(),
            "import".as_ref(),
            format.as_ref(),
            input.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--seed".as_ref(),
            "3".as_ref(),
        ]);
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stdout.contains("functions") && stdout.contains("rate") && stdout.contains("/min"),
            "{stdout}"
        );
        let opts = OpenOptions { seed: Some(3) };
        let imported: Vec<Invocation> = trace::open(&out, &opts)
            .unwrap()
            .rows
            .map(Result::unwrap)
            .collect();
        // The raw input read in place, named and detected, yields the same rows.
        let named = PathBuf::from(format!("{format}:{}", input.display()));
        for raw in [named, input.clone()] {
            let direct: Vec<Invocation> = trace::open(&raw, &opts)
                .unwrap()
                .rows
                .map(Result::unwrap)
                .collect();
            assert_eq!(direct, imported, "{format} via {}", raw.display());
        }
        // Convert the import and read it back: the same rows.
        let conv = dir.path().join(format!("{format}-c.yaml"));
        let (code, _, stderr) = gale(&[
            "trace".as_ref(),
            "convert".as_ref(),
            out.as_os_str(),
            "--out".as_ref(),
            conv.as_os_str(),
        ]);
        assert_eq!(code, 0, "{stderr}");
        let back: Vec<Invocation> = trace::open(&conv, &opts)
            .unwrap()
            .rows
            .map(Result::unwrap)
            .collect();
        assert_eq!(back, imported, "{format}");
        let t = trace::open(&out, &opts).unwrap();
        assert!(!t.header.functions.is_empty());
        let (code, check, _) = gale(&["trace".as_ref(), "check".as_ref(), out.as_os_str()]);
        assert_eq!(code, 0);
        assert!(
            check.contains(&format!("rows       {}", imported.len())),
            "{check}"
        );
    }
}
