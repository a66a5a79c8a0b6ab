//! The confinement of an action process, applied by the `gale __runtime` wrapper after it has
//! joined the container's cgroups and before any action code runs (see docs/security.md).
//!
//! With root (the platform's normal case), the wrapper
//! 1. unshares mount, IPC, UTS and PID namespaces (and the network namespace unless the
//!    platform allows actions the host's network), then forks: the child is PID 1 of the new
//!    PID namespace and becomes the action; the wrapper stays as its parent, only to wait for
//!    it and pass its exit status on (the platform's pid, process group and pipes stay as
//!    they were);
//! 2. in the child: makes every mount private, the whole file tree read-only, mounts a fresh
//!    `/proc` (only the container's processes), a private size-capped tmpfs on `/tmp` and
//!    `/dev/shm`, brings up loopback in a private network namespace;
//! 3. drops to the sandbox user (setgroups, setresgid, setresuid): no capabilities remain
//!    (the bounding and ambient sets are emptied first), sets no-new-privs, re-arms the
//!    parent-death signal (a credential change clears it), limits core dumps.
//!
//! Leaving the container's cgroups needs write access to a `cgroup.procs` file, which only
//! root has; a fork bomb is bounded by the container cgroup's `pids.max`, set by the
//! platform. The synthetic kind runs no tenant code: it only changes user (step 3). Without
//! root none of the namespaces or the user change are possible: the action
//! then gets no-new-privs, no core dumps and the scrubbed environment only, and the platform
//! says so once at start.

use std::ffi::CString;
use std::os::fd::RawFd;

/// Environment variable carrying the sandbox settings from the platform to the wrapper.
pub const SANDBOX_ENV: &str = "GALE_SANDBOX";

/// How an action process is confined (the platform config's `sandbox:` section).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sandbox {
    /// Namespaces, private mounts and the user change (needs root); false runs actions as
    /// the platform's user in its namespaces.
    pub enabled: bool,
    /// The user actions run as (default 65534, `nobody`).
    pub uid: u32,
    /// Their group (default 65534, `nogroup`).
    pub gid: u32,
    /// Whether actions share the host's network; false gives each its own network namespace
    /// with loopback only.
    pub network: bool,
    /// Size of the private `/tmp` (and `/dev/shm`), MB.
    pub tmp_mb: u32,
    /// Tasks (processes and threads) one container may have: its cgroup's `pids.max`.
    pub pids_max: u32,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox {
            enabled: true,
            uid: 65534,
            gid: 65534,
            network: false,
            tmp_mb: 64,
            pids_max: 512,
        }
    }
}

impl Sandbox {
    /// The value of [`SANDBOX_ENV`] for the wrapper.
    pub fn to_env(&self) -> String {
        format!(
            "uid={},gid={},net={},tmp_mb={}",
            self.uid,
            self.gid,
            if self.network { "host" } else { "none" },
            self.tmp_mb
        )
    }

    /// Parse [`Sandbox::to_env`]'s text.
    pub fn from_env(text: &str) -> Option<Sandbox> {
        let mut s = Sandbox::default();
        for part in text.split(',') {
            let (k, v) = part.split_once('=')?;
            match k {
                "uid" => s.uid = v.parse().ok()?,
                "gid" => s.gid = v.parse().ok()?,
                "net" => s.network = v == "host",
                "tmp_mb" => s.tmp_mb = v.parse().ok()?,
                _ => return None,
            }
        }
        Some(s)
    }
}

/// Whether this process can build the full sandbox (it runs as root).
pub fn privileged() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Confine this process as described in the module documentation. Returns in the process
/// that goes on to run the action (the forked PID 1 when namespaces are used); the wrapper
/// parent never returns from here. An error means the action must not run.
///
/// `tenant_code` is false for the synthetic kind, which runs gale's own code only: it gets
/// the user change and no-new-privs but no namespaces (it stays a plain process whose pid the
/// platform and its tests see).
pub fn enter(sandbox: Option<&Sandbox>, tenant_code: bool) -> Result<(), String> {
    let full = sandbox.filter(|s| s.enabled && privileged());
    if let Some(s) = full.filter(|_| !tenant_code) {
        drop_privileges(s)?;
    }
    if let Some(s) = full.filter(|_| tenant_code) {
        namespaces(s)?;
        mounts(s)?;
        if !s.network {
            loopback_up()?;
        }
        drop_privileges(s)?;
        // Not the platform's working directory: the action's own scratch space.
        // SAFETY: chdir on a valid NUL-terminated path.
        if unsafe { libc::chdir(c"/tmp".as_ptr()) } == -1 {
            return Err(os_err("cannot enter /tmp"));
        }
    }
    no_new_privs()?;
    // SAFETY: setrlimit with a valid struct only changes this process's limits.
    unsafe {
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
    }
    Ok(())
}

fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// Unshare the namespaces and fork; the parent waits for the child and exits with its
/// status, the child returns.
fn namespaces(s: &Sandbox) -> Result<(), String> {
    let mut flags =
        libc::CLONE_NEWNS | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS | libc::CLONE_NEWPID;
    if !s.network {
        flags |= libc::CLONE_NEWNET;
    }
    // SAFETY: unshare only changes this (single-threaded) process's namespaces.
    if unsafe { libc::unshare(flags) } == -1 {
        return Err(os_err("cannot create the action's namespaces"));
    }
    // SAFETY: the wrapper is single-threaded (no runtime, no threads started), so the child
    // of fork may run arbitrary code.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(os_err("cannot fork into the action's PID namespace")),
        0 => {
            // The action dies with the wrapper, which dies with the platform.
            // SAFETY: prctl only affects this process.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            Ok(())
        }
        child => wait_and_exit(child),
    }
}

/// The wrapper's remaining life: hold nothing of the action's (so pipe ends close when the
/// action's do), reap it, and exit as it did.
fn wait_and_exit(child: libc::pid_t) -> ! {
    // SAFETY: closing descriptors this process owns; the child has its own copies.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for fd in 0..3 {
            if null >= 0 {
                libc::dup2(null, fd);
            }
        }
        if null > 2 {
            libc::close(null);
        }
        close_from(3);
    }
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child with a valid status pointer.
        let r = unsafe { libc::waitpid(child, &mut status, 0) };
        if r == child {
            break;
        }
        if r == -1 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            // SAFETY: _exit ends the process without running anything else.
            unsafe { libc::_exit(1) };
        }
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    // SAFETY: as above.
    unsafe { libc::_exit(code) }
}

/// Close every descriptor from `first` up.
fn close_from(first: RawFd) {
    // SAFETY: close_range on a range of this process's descriptors.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first as u32, u32::MAX, 0u32) };
    if r != 0 {
        for fd in first..1024 {
            // SAFETY: closing a descriptor number, open or not.
            unsafe { libc::close(fd) };
        }
    }
}

fn mount(
    source: &str,
    target: &str,
    fstype: &str,
    flags: libc::c_ulong,
    data: &str,
) -> Result<(), String> {
    let c = |s: &str| CString::new(s).map_err(|_| format!("bad mount argument {s:?}"));
    let (src, tgt, fs, dat) = (c(source)?, c(target)?, c(fstype)?, c(data)?);
    // SAFETY: every pointer is a valid NUL-terminated string for the duration of the call.
    let r = unsafe {
        libc::mount(
            src.as_ptr(),
            tgt.as_ptr(),
            if fstype.is_empty() {
                std::ptr::null()
            } else {
                fs.as_ptr()
            },
            flags,
            if data.is_empty() {
                std::ptr::null()
            } else {
                dat.as_ptr().cast()
            },
        )
    };
    if r == -1 {
        return Err(os_err(&format!("cannot mount {fstype} on {target}")));
    }
    Ok(())
}

/// Private mounts, a read-only tree, a fresh /proc and private writable /tmp and /dev/shm.
fn mounts(s: &Sandbox) -> Result<(), String> {
    // Nothing done here may propagate back to the host's mount table.
    mount("", "/", "", libc::MS_REC | libc::MS_PRIVATE, "")?;
    // The whole tree read-only, submounts included (mount_setattr, Linux 5.12).
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: a valid path and a valid, correctly sized struct.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c"/".as_ptr(),
            libc::AT_RECURSIVE as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r != 0 {
        return Err(os_err("cannot make the action's file tree read-only"));
    }
    let tmpfs = format!("size={}m,mode=1777", s.tmp_mb.max(1));
    let nosuid = libc::MS_NOSUID | libc::MS_NODEV;
    mount("tmpfs", "/tmp", "tmpfs", nosuid, &tmpfs)?;
    if std::path::Path::new("/dev/shm").is_dir() {
        mount("tmpfs", "/dev/shm", "tmpfs", nosuid, &tmpfs)?;
    }
    // The PID namespace's own /proc: the action sees its container's processes only.
    mount("proc", "/proc", "proc", nosuid | libc::MS_NOEXEC, "")?;
    Ok(())
}

const MOUNT_ATTR_RDONLY: u64 = 0x0000_0001;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// A new network namespace has loopback down: bring it up.
fn loopback_up() -> Result<(), String> {
    // SAFETY: a datagram socket and SIOC[GS]IFFLAGS ioctls on a zeroed ifreq naming `lo`.
    unsafe {
        let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if sock == -1 {
            return Err(os_err("cannot open a socket to bring up loopback"));
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let ok = libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req) == 0 && {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            libc::ioctl(sock, libc::SIOCSIFFLAGS, &req) == 0
        };
        let err = os_err("cannot bring up loopback");
        libc::close(sock);
        if !ok {
            return Err(err);
        }
    }
    Ok(())
}

/// Become the sandbox user with no capabilities at all.
fn drop_privileges(s: &Sandbox) -> Result<(), String> {
    // SAFETY: prctl and set*id calls only change this process's credentials.
    unsafe {
        // Empty the bounding set so nothing (not even a file capability) brings one back.
        for cap in 0..64 {
            if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) == -1
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL)
            {
                break;
            }
        }
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
        if libc::setgroups(0, std::ptr::null()) == -1 {
            return Err(os_err("cannot drop supplementary groups"));
        }
        if libc::setresgid(s.gid, s.gid, s.gid) == -1 {
            return Err(os_err(&format!("cannot switch to group {}", s.gid)));
        }
        if libc::setresuid(s.uid, s.uid, s.uid) == -1 {
            return Err(os_err(&format!("cannot switch to user {}", s.uid)));
        }
        // A credential change clears the parent-death signal: arm it again.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if s.uid != 0 && libc::setuid(0) != -1 {
            return Err("the action could regain root after dropping it".into());
        }
    }
    Ok(())
}

fn no_new_privs() -> Result<(), String> {
    // SAFETY: prctl only affects this process.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } == -1 {
        return Err(os_err("cannot set no-new-privs"));
    }
    Ok(())
}

/// The environment an action starts with: nothing of the platform's but `PATH` (and the
/// locale and time zone), plus what the wrapper and the kind add.
pub fn base_env() -> Vec<(String, String)> {
    let mut env = vec![
        ("HOME".to_string(), "/tmp".to_string()),
        ("TMPDIR".to_string(), "/tmp".to_string()),
    ];
    for key in ["PATH", "LANG", "LC_ALL", "TZ"] {
        if let Ok(v) = std::env::var(key) {
            env.push((key.to_string(), v));
        }
    }
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()));
    }
    env
}

/// The first `PATH` entry holding `program` that this process (as the user it now is) may
/// execute; `program` itself when it contains a `/`.
pub fn find_program(program: &std::ffi::OsStr, path: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    if program.as_bytes().contains(&b'/') {
        return Some(program.into());
    }
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| std::path::Path::new(d).join(program))
        .find(|p| {
            CString::new(p.as_os_str().as_bytes())
                // SAFETY: access on a valid NUL-terminated path.
                .is_ok_and(|c| unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0)
        })
}
