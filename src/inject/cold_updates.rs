//! `cold-updates.csv` of a `--force-cold` run: one line per update made before an
//! invocation (its latency, its error), joined with what the invocation's activation says
//! (cold or not, its initTime), and a line on stderr counting the invocations that were warm
//! nonetheless.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;

use super::engine::ForcedCold;

/// The row's `cold` and `init_ms` cells in invocations.csv, by row id.
fn activations(dir: &Path) -> anyhow::Result<HashMap<u64, (String, String)>> {
    let path = dir.join("invocations.csv");
    let mut reader =
        csv::Reader::from_path(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let header = reader.headers()?.clone();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(row), Some(cold), Some(init)) = (col("row"), col("cold"), col("init_ms")) else {
        anyhow::bail!("{}: no row, cold or init_ms column", path.display());
    };
    let mut out = HashMap::new();
    for rec in reader.records() {
        let rec = rec?;
        if let Ok(id) = rec.get(row).unwrap_or_default().parse() {
            out.insert(
                id,
                (
                    rec.get(cold).unwrap_or_default().to_string(),
                    rec.get(init).unwrap_or_default().to_string(),
                ),
            );
        }
    }
    Ok(out)
}

/// Write `dir/cold-updates.csv` and say how the forced cold starts went.
pub fn write(dir: &Path, forced: &[ForcedCold]) -> anyhow::Result<()> {
    let seen = activations(dir)?;
    let mut text = String::from("row,function,update_ms,cold,init_ms,error\n");
    let (mut warm, mut unknown, mut failed) = (Vec::new(), 0u64, 0u64);
    let mut latencies: Vec<f64> = Vec::with_capacity(forced.len());
    for f in forced {
        let (cold, init) = seen.get(&f.row).cloned().unwrap_or_default();
        match cold.as_str() {
            "true" => {}
            "false" => warm.push(f.row),
            _ => unknown += 1,
        }
        if f.error.is_some() {
            failed += 1;
        } else {
            latencies.push(f.update_us as f64 / 1000.0);
        }
        let error = f.error.as_deref().unwrap_or_default().replace('"', "\"\"");
        text += &format!(
            "{},{},{:.3},{cold},{init},\"{error}\"\n",
            f.row,
            f.function,
            f.update_us as f64 / 1000.0
        );
    }
    let path = dir.join("cold-updates.csv");
    crate::atomic::write_atomic(&path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    latencies.sort_by(f64::total_cmp);
    let median = latencies
        .get(latencies.len() / 2)
        .copied()
        .unwrap_or(f64::NAN);
    let max = latencies.last().copied().unwrap_or(f64::NAN);
    eprintln!(
        "gale: forced cold starts: {} updates (median {median:.1} ms, max {max:.1} ms{}); {} \
         invocations were warm nonetheless{}{}",
        forced.len(),
        if failed > 0 {
            format!(", {failed} failed")
        } else {
            String::new()
        },
        warm.len(),
        if warm.is_empty() {
            String::new()
        } else {
            format!(
                " (rows {})",
                warm.iter()
                    .take(20)
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        if unknown > 0 {
            format!("; {unknown} without an activation record")
        } else {
            String::new()
        }
    );
    Ok(())
}
