//! Where the cgroup hierarchies are mounted, read from the mount table (never from
//! hard-coded paths), and which layout they form: v1, hybrid (v1 controllers plus an
//! empty cgroup2 mount, as on systemd hosts before v258) or pure v2.
//!
//! Shared by the embedded platform (which creates container cgroups) and the monitor
//! (which samples them), with the parsers of the files both read ([`parse_single`],
//! [`parse_keyed`]).

mod parse;

pub use parse::{parse_keyed, parse_single};

use std::path::{Path, PathBuf};

/// The layout of the cgroup hierarchies on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only v1 hierarchies.
    V1,
    /// v1 controller hierarchies plus a cgroup2 mount (usually without controllers).
    Hybrid,
    /// Only the unified v2 hierarchy.
    V2,
    /// No cgroup filesystem is mounted.
    None,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::V1 => "v1",
            Mode::Hybrid => "hybrid",
            Mode::V2 => "v2",
            Mode::None => "none",
        })
    }
}

/// One v1 hierarchy: its mount point and the controllers bound to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Mount {
    /// Mount point, e.g. `/sys/fs/cgroup/memory`.
    pub path: PathBuf,
    /// Controllers from the super options (`cpu`, `cpuacct`, `name=systemd`, …).
    pub controllers: Vec<String>,
}

/// The cgroup mounts of this host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mounts {
    /// Every v1 hierarchy, in mount-table order.
    pub v1: Vec<V1Mount>,
    /// The cgroup2 mount, if any (the first one listed).
    pub unified: Option<PathBuf>,
}

impl Mounts {
    /// Read `/proc/self/mountinfo`.
    pub fn detect() -> std::io::Result<Mounts> {
        let text = std::fs::read_to_string("/proc/self/mountinfo")?;
        Ok(Mounts::from_mountinfo(&text))
    }

    /// Parse mountinfo text (proc(5)); lines that do not parse are skipped.
    pub fn from_mountinfo(text: &str) -> Mounts {
        let mut mounts = Mounts::default();
        for line in text.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let Some(mount_point) = left.split(' ').nth(4) else {
                continue;
            };
            let mut right = right.split(' ');
            let (Some(fstype), Some(_source), Some(super_opts)) =
                (right.next(), right.next(), right.next())
            else {
                continue;
            };
            let path = PathBuf::from(unescape(mount_point));
            match fstype {
                "cgroup" => {
                    let controllers = super_opts
                        .split(',')
                        .filter(|o| !matches!(*o, "rw" | "ro") && !is_generic_option(o))
                        .map(str::to_owned)
                        .collect();
                    mounts.v1.push(V1Mount { path, controllers });
                }
                "cgroup2" if mounts.unified.is_none() => mounts.unified = Some(path),
                _ => {}
            }
        }
        mounts
    }

    /// The layout these mounts form.
    pub fn mode(&self) -> Mode {
        match (self.v1.is_empty(), self.unified.is_some()) {
            (true, true) => Mode::V2,
            (false, true) => Mode::Hybrid,
            (false, false) => Mode::V1,
            (true, false) => Mode::None,
        }
    }

    /// Mount point of the v1 hierarchy that carries `controller` (`memory`, `cpuacct`, …).
    pub fn v1_controller(&self, controller: &str) -> Option<&Path> {
        self.v1
            .iter()
            .find(|m| m.controllers.iter().any(|c| c == controller))
            .map(|m| m.path.as_path())
    }

    /// Controllers enabled at the root of the unified hierarchy (`cgroup.controllers`).
    pub fn unified_controllers(&self) -> Vec<String> {
        self.unified
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p.join("cgroup.controllers")).ok())
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

/// Super options of a cgroup mount that are not controller names.
fn is_generic_option(option: &str) -> bool {
    option.starts_with("release_agent=")
        || matches!(
            option,
            "noprefix" | "clone_children" | "xattr" | "nsdelegate" | "memory_recursiveprot"
        )
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo` octal.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'\\')
            .then(|| bytes.get(i + 1..i + 4))
            .flatten()
            .and_then(|o| std::str::from_utf8(o).ok())
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match escaped {
            Some(v) => {
                out.push(v);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_layout() {
        let m = Mounts::from_mountinfo(HYBRID);
        assert_eq!(m.mode(), Mode::Hybrid);
        assert_eq!(
            m.v1_controller("memory"),
            Some(Path::new("/sys/fs/cgroup/memory"))
        );
        assert_eq!(
            m.v1_controller("name=systemd"),
            Some(Path::new("/sys/fs/cgroup/systemd"))
        );
        assert_eq!(m.v1_controller("blkio"), None);
        assert_eq!(
            m.unified.as_deref(),
            Some(Path::new("/sys/fs/cgroup/unified"))
        );
    }

    #[test]
    fn comounted_and_pure_v2() {
        let v1 = "25 20 0:21 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        let m = Mounts::from_mountinfo(v1);
        assert_eq!(m.mode(), Mode::V1);
        assert_eq!(m.v1_controller("cpu"), m.v1_controller("cpuacct"));
        let v2 = "29 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";
        let m = Mounts::from_mountinfo(v2);
        assert_eq!(m.mode(), Mode::V2);
        assert_eq!(m.unified.as_deref(), Some(Path::new("/sys/fs/cgroup")));
        assert_eq!(Mounts::from_mountinfo("garbage\n\n- x").mode(), Mode::None);
    }

    #[test]
    fn escaped_mount_points() {
        let t = "1 2 0:3 / /mnt/my\\040cg rw - cgroup2 cgroup2 rw\n";
        let m = Mounts::from_mountinfo(t);
        assert_eq!(m.unified.as_deref(), Some(Path::new("/mnt/my cg")));
    }
}
