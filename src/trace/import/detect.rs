//! Recognising a release's raw files where a trace path is expected: named
//! (`azure2021:PATH`) or detected from the header row of the file (or of the CSV files of
//! the directory) given.

use std::path::{Path, PathBuf};

use super::cells::Table;
use super::{azure2019, azure2021, faasrail, huawei, Format};

/// `FORMAT:PATH` → the format and the path, when FORMAT names one and `path` itself does
/// not exist (a file may contain a colon in its name).
pub fn split_named(path: &Path) -> Option<(Format, PathBuf)> {
    if path.exists() {
        return None;
    }
    let s = path.to_str()?;
    let (name, rest) = s.split_once(':')?;
    Some((Format::parse(name)?, PathBuf::from(rest)))
}

fn headers(path: &Path) -> Option<Vec<String>> {
    Table::open(path).ok().map(|t| t.headers)
}

fn of_headers(h: &[String]) -> Option<Format> {
    if azure2021::recognises(h) {
        Some(Format::Azure2021)
    } else if faasrail::recognises(h) {
        Some(Format::FaasRail)
    } else if azure2019::recognises(h) {
        Some(Format::Azure2019)
    } else if huawei::recognises(h) {
        Some(Format::Huawei2023)
    } else {
        None
    }
}

/// The release format of `path`, when it is one: a file whose header row is a release's,
/// or a directory holding such files (Azure 2019, Huawei day tables) or Huawei's
/// `requests_second/`/`requests_minute/`.
pub fn detect(path: &Path) -> Option<Format> {
    if path.is_file() {
        let ext = path.extension().and_then(|e| e.to_str())?;
        if !matches!(ext, "csv" | "txt") {
            return None;
        }
        return of_headers(&headers(path)?);
    }
    if !path.is_dir() {
        return None;
    }
    if path.join("requests_minute").is_dir() || path.join("requests_second").is_dir() {
        return Some(Format::Huawei2023);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|p| of_headers(&headers(p)?))
        .find(|f| matches!(f, Format::Azure2019 | Format::Huawei2023))
}
