//! Typed readers of the cgroup files the monitor samples, for v1 and v2.
//!
//! Every file is opened once and re-read with `pread(fd, buf, len, 0)`: kernfs regenerates
//! the text on a read at offset 0, so the open fd always shows fresh values, at a quarter
//! of the cost of open+read+close. Parsing never allocates. A removed cgroup makes the read
//! fail with ENODEV, which is how the sampler learns that a container is gone.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::cgroup::{parse_keyed, parse_single};

/// Where a container's cgroup directories are. v1 has one directory per controller
/// hierarchy; v2 one directory in the unified hierarchy.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CgroupPaths {
    /// v1 memory controller directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<PathBuf>,
    /// v1 cpuacct controller directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuacct: Option<PathBuf>,
    /// v2 (unified) directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unified: Option<PathBuf>,
}

impl CgroupPaths {
    /// No directory at all: the container exists but cannot be measured.
    pub fn is_empty(&self) -> bool {
        self.memory.is_none() && self.cpuacct.is_none() && self.unified.is_none()
    }

    /// Whether `other` may describe the same cgroup: no directory that both name differs.
    pub fn compatible(&self, other: &CgroupPaths) -> bool {
        [
            (&self.memory, &other.memory),
            (&self.cpuacct, &other.cpuacct),
            (&self.unified, &other.unified),
        ]
        .iter()
        .all(|(a, b)| a.is_none() || b.is_none() || a == b)
    }

    /// Fill in the directories `other` has and `self` lacks; true if anything changed.
    pub fn merge(&mut self, other: &CgroupPaths) -> bool {
        let mut changed = false;
        for (mine, theirs) in [
            (&mut self.memory, &other.memory),
            (&mut self.cpuacct, &other.cpuacct),
            (&mut self.unified, &other.unified),
        ] {
            if mine.is_none() && theirs.is_some() {
                mine.clone_from(theirs);
                changed = true;
            }
        }
        changed
    }
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The cgroup was removed (ENODEV on an open fd, ENOENT on open).
    #[error("the cgroup is gone")]
    Gone,
    /// The file did not hold what was expected.
    #[error("{file}: expected {expected}")]
    Format {
        /// The file name.
        file: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// Any other I/O error.
    #[error("{0}")]
    Io(io::Error),
}

fn classify(e: io::Error) -> ReadError {
    match e.raw_os_error() {
        Some(libc::ENODEV) | Some(libc::ENOENT) => ReadError::Gone,
        _ => ReadError::Io(e),
    }
}

/// The memory.stat figures the slow tier keeps (bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MemStat {
    /// Anonymous memory: v1 `total_rss`, v2 `anon`.
    pub anon: u64,
    /// Page cache: v1 `total_cache`, v2 `file`.
    pub file: u64,
    /// Inactive page cache: v1 `total_inactive_file`, v2 `inactive_file`.
    pub inactive_file: u64,
}

/// Parse a memory.stat file of either version.
pub fn parse_mem_stat(text: &[u8], v2: bool) -> Result<MemStat, ReadError> {
    let keys: [&str; 3] = if v2 {
        ["anon", "file", "inactive_file"]
    } else {
        ["total_rss", "total_cache", "total_inactive_file"]
    };
    let get = |k| {
        parse_keyed(text, k).ok_or(ReadError::Format {
            file: "memory.stat",
            expected:
                "anon/file/inactive_file lines (v1: total_rss/total_cache/total_inactive_file)",
        })
    };
    Ok(MemStat {
        anon: get(keys[0])?,
        file: get(keys[1])?,
        inactive_file: get(keys[2])?,
    })
}

/// One fast-tier reading. Absent counters read as `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FastReading {
    /// CPU time, ns (v1 `cpuacct.usage`, v2 `cpu.stat usage_usec` × 1000).
    pub cpu_ns: Option<u64>,
    /// Memory usage, bytes (v1 `memory.usage_in_bytes`, v2 `memory.current`).
    pub mem_bytes: Option<u64>,
    /// Kernel high watermark since the previous reading, bytes (when a resettable watermark
    /// is available).
    pub peak_bytes: Option<u64>,
}

enum CpuKind {
    V1Usage,
    V2Stat,
}

/// The open files of one container's fast tier.
pub struct FastReader {
    cpu: Option<(File, CpuKind)>,
    mem: Option<File>,
    /// Watermark fd and what to write to reset it.
    peak: Option<(File, &'static [u8])>,
}

fn open_ro(path: &Path) -> io::Result<File> {
    File::open(path)
}

fn exists(p: &Path) -> bool {
    p.exists()
}

/// Buffer size for every read: large enough for a whole memory.stat or cpu.stat, so one
/// pread sees one generation of the file.
pub const BUF_LEN: usize = 8192;

impl FastReader {
    /// Open the fast-tier files. `reset_peak` allows resetting the v1 watermark, which is
    /// global to the cgroup (only right when this monitor owns the container); the v2
    /// watermark reset is local to our fd and is used whenever the kernel allows it (≥ 6.12).
    pub fn open(paths: &CgroupPaths, reset_peak: bool) -> Result<FastReader, ReadError> {
        let mut r = FastReader {
            cpu: None,
            mem: None,
            peak: None,
        };
        if let Some(d) = &paths.cpuacct {
            r.cpu = Some((
                open_ro(&d.join("cpuacct.usage")).map_err(classify)?,
                CpuKind::V1Usage,
            ));
        } else if let Some(d) = &paths.unified {
            let f = d.join("cpu.stat");
            if exists(&f) {
                r.cpu = Some((open_ro(&f).map_err(classify)?, CpuKind::V2Stat));
            }
        }
        if let Some(d) = &paths.memory {
            r.mem = Some(open_ro(&d.join("memory.usage_in_bytes")).map_err(classify)?);
            if reset_peak {
                r.peak = open_rw(&d.join("memory.max_usage_in_bytes")).map(|f| (f, &b"0"[..]));
            }
        } else if let Some(d) = &paths.unified {
            let f = d.join("memory.current");
            if exists(&f) {
                r.mem = Some(open_ro(&f).map_err(classify)?);
                r.peak = open_v2_peak(&d.join("memory.peak")).map(|f| (f, &b"reset"[..]));
            }
        }
        if r.cpu.is_none() && r.mem.is_none() {
            return Err(ReadError::Format {
                file: "cgroup directory",
                expected: "cpuacct.usage, memory.usage_in_bytes, cpu.stat or memory.current",
            });
        }
        Ok(r)
    }

    /// Whether readings carry an exact (kernel watermark) interval peak.
    pub fn has_peak(&self) -> bool {
        self.peak.is_some()
    }

    /// Read the counters into `buf` (reused, at least [`BUF_LEN`] bytes).
    pub fn read(&self, buf: &mut [u8]) -> Result<FastReading, ReadError> {
        let mut out = FastReading::default();
        if let Some(f) = &self.mem {
            let n = f.read_at(buf, 0).map_err(classify)?;
            out.mem_bytes = Some(parse_single(&buf[..n]).ok_or(ReadError::Format {
                file: "memory.usage_in_bytes / memory.current",
                expected: "one integer",
            })?);
        }
        if let Some((f, kind)) = &self.cpu {
            let n = f.read_at(buf, 0).map_err(classify)?;
            out.cpu_ns = Some(match kind {
                CpuKind::V1Usage => parse_single(&buf[..n]).ok_or(ReadError::Format {
                    file: "cpuacct.usage",
                    expected: "one integer (ns)",
                })?,
                CpuKind::V2Stat => {
                    parse_keyed(&buf[..n], "usage_usec").ok_or(ReadError::Format {
                        file: "cpu.stat",
                        expected: "a `usage_usec N` line",
                    })? * 1000
                }
            });
        }
        if let Some((f, reset)) = &self.peak {
            let n = f.read_at(buf, 0).map_err(classify)?;
            let w = parse_single(&buf[..n]).ok_or(ReadError::Format {
                file: "memory.max_usage_in_bytes / memory.peak",
                expected: "one integer",
            })?;
            let current = out.mem_bytes.unwrap_or(0);
            // The watermark only needs a reset once usage fell below it: while usage grows
            // or stays flat it equals the usage, and a write (a kernfs buffer allocation)
            // is saved.
            if w > current {
                f.write_at(reset, 0).map_err(classify)?;
            }
            out.peak_bytes = Some(w.max(current));
        }
        Ok(out)
    }
}

fn open_rw(path: &Path) -> Option<File> {
    OpenOptions::new().read(true).write(true).open(path).ok()
}

/// memory.peak takes resets only since 6.12; older kernels show it read-only (0444), and
/// root could still open it for writing, so the mode bits decide (as the kernel selftests do).
fn open_v2_peak(path: &Path) -> Option<File> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    if mode & 0o200 == 0 {
        return None;
    }
    open_rw(path)
}

/// The slow tier: memory.stat.
pub struct SlowReader {
    file: File,
    v2: bool,
}

impl SlowReader {
    /// Open memory.stat, if the container has a memory controller.
    pub fn open(paths: &CgroupPaths) -> Option<SlowReader> {
        let (dir, v2) = match (&paths.memory, &paths.unified) {
            (Some(d), _) => (d, false),
            (None, Some(d)) => (d, true),
            _ => return None,
        };
        let file = open_ro(&dir.join("memory.stat")).ok()?;
        Some(SlowReader { file, v2 })
    }

    /// Read and parse memory.stat.
    pub fn read(&self, buf: &mut [u8]) -> Result<MemStat, ReadError> {
        let n = self.file.read_at(buf, 0).map_err(classify)?;
        parse_mem_stat(&buf[..n], self.v2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured on a v2 host (kernel 6.x) and on this v1 host (6.18), abridged.
    const V2_CPU_STAT: &[u8] = b"usage_usec 8123456\nuser_usec 6000000\nsystem_usec 2123456\nnice_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\nnr_bursts 0\nburst_usec 0\n";
    const V2_MEM_STAT: &[u8] = b"anon 10485760\nfile 4194304\nkernel 245760\nkernel_stack 16384\npagetables 61440\nsec_pagetables 0\npercpu 0\nsock 0\nvmalloc 0\nshmem 0\nzswap 0\nzswapped 0\nfile_mapped 1048576\nfile_dirty 0\nfile_writeback 0\nswapcached 0\nanon_thp 0\nfile_thp 0\nshmem_thp 0\ninactive_anon 10420224\nactive_anon 65536\ninactive_file 3145728\nactive_file 1048576\nunevictable 0\nslab_reclaimable 40960\nslab_unreclaimable 81920\nslab 122880\nworkingset_refault_anon 0\n";
    const V1_MEM_STAT: &[u8] = b"cache 0\nrss 0\nrss_huge 0\nshmem 0\nmapped_file 0\ndirty 0\nwriteback 0\nswap 0\npgpgin 0\npgpgout 0\npgfault 0\npgmajfault 0\ninactive_anon 0\nactive_anon 0\ninactive_file 0\nactive_file 0\nunevictable 0\nhierarchical_memory_limit 9223372036854771712\nhierarchical_memsw_limit 9223372036854771712\ntotal_cache 2097152\ntotal_rss 67108864\ntotal_rss_huge 0\ntotal_shmem 0\ntotal_mapped_file 0\ntotal_dirty 0\ntotal_writeback 0\ntotal_swap 0\ntotal_pgpgin 17000\ntotal_pgpgout 100\ntotal_pgfault 17300\ntotal_pgmajfault 0\ntotal_inactive_anon 67108864\ntotal_active_anon 0\ntotal_inactive_file 1048576\ntotal_active_file 1048576\ntotal_unevictable 0\n";

    #[test]
    fn keyed_values_by_name() {
        assert_eq!(parse_keyed(V2_CPU_STAT, "usage_usec"), Some(8123456));
        assert_eq!(parse_keyed(V2_CPU_STAT, "nr_bursts"), Some(0));
        assert_eq!(parse_keyed(V2_CPU_STAT, "usage"), None);
        assert_eq!(parse_keyed(V1_MEM_STAT, "rss"), Some(0));
        assert_eq!(parse_keyed(V1_MEM_STAT, "total_rss"), Some(67108864));
    }

    #[test]
    fn mem_stat_both_versions() {
        let v2 = parse_mem_stat(V2_MEM_STAT, true).unwrap();
        assert_eq!(
            (v2.anon, v2.file, v2.inactive_file),
            (10485760, 4194304, 3145728)
        );
        let v1 = parse_mem_stat(V1_MEM_STAT, false).unwrap();
        assert_eq!(
            (v1.anon, v1.file, v1.inactive_file),
            (67108864, 2097152, 1048576)
        );
        assert!(matches!(
            parse_mem_stat(b"anon 1\n", true),
            Err(ReadError::Format {
                file: "memory.stat",
                ..
            })
        ));
    }

    /// The v2 code path on a directory of captured files (the files behave like kernfs
    /// for pread at offset 0, which is all the reader relies on).
    #[test]
    fn v2_reader_on_fixture_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cpu.stat"), V2_CPU_STAT).unwrap();
        std::fs::write(dir.path().join("memory.current"), b"15728640\n").unwrap();
        std::fs::write(dir.path().join("memory.peak"), b"20971520\n").unwrap();
        std::fs::write(dir.path().join("memory.stat"), V2_MEM_STAT).unwrap();
        let paths = CgroupPaths {
            unified: Some(dir.path().to_path_buf()),
            ..CgroupPaths::default()
        };
        let r = FastReader::open(&paths, false).unwrap();
        assert!(
            r.has_peak(),
            "a writable memory.peak is a resettable watermark"
        );
        let mut buf = vec![0; BUF_LEN];
        let s = r.read(&mut buf).unwrap();
        assert_eq!(s.cpu_ns, Some(8_123_456_000));
        assert_eq!(s.mem_bytes, Some(15728640));
        assert_eq!(s.peak_bytes, Some(20971520));
        let slow = SlowReader::open(&paths).unwrap().read(&mut buf).unwrap();
        assert_eq!(slow.inactive_file, 3145728);
        // A read-only memory.peak (kernel < 6.12) is not used as a window watermark.
        let ro = dir.path().join("memory.peak");
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o444)).unwrap();
        assert!(!FastReader::open(&paths, false).unwrap().has_peak());
        std::fs::write(dir.path().join("memory.current"), b"garbage\n").unwrap();
        assert!(matches!(r.read(&mut buf), Err(ReadError::Format { .. })));
        let empty = tempfile::tempdir().unwrap();
        let none = CgroupPaths {
            unified: Some(empty.path().to_path_buf()),
            ..CgroupPaths::default()
        };
        assert!(FastReader::open(&none, false).is_err());
    }
}
