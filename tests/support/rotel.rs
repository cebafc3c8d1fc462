//! A real external OpenTelemetry collector, [rotel], run as a child process.
//!
//! `rotel-agent` ships inside the `rotel` Python package (`pip install
//! rotel`), in the package directory rather than on `PATH`.
//!
//! [rotel]: https://github.com/streamfold/rotel

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::receiver::OtlpReceiver;

/// Environment variable that, when set, names the `rotel-agent` binary to use.
pub const ROTEL_AGENT_ENV: &str = "WASMTRACE_ROTEL_AGENT";

/// Protocol rotel's OTLP exporter uses to forward what it receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardProtocol {
    /// OTLP/gRPC (`--otlp-exporter-protocol grpc`).
    Grpc,
    /// OTLP/HTTP protobuf (`--otlp-exporter-protocol http`).
    Http,
}

/// Where rotel sends what it receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RotelExporter {
    /// Forward with rotel's OTLP exporter to `endpoint` (`http://host:port`).
    Otlp {
        /// Base endpoint of the next hop.
        endpoint: String,
        /// Protocol of the next hop.
        protocol: ForwardProtocol,
        /// Whether rotel gzip-compresses what it forwards (its default).
        gzip: bool,
    },
    /// Drop everything, logging received traces (`--exporter blackhole
    /// --debug-log traces`); see [`Rotel::logs`].
    Blackhole,
}

/// How to start rotel.
#[derive(Clone, Debug)]
pub struct RotelConfig {
    /// The exporter.
    pub exporter: RotelExporter,
    /// Batch timeout, e.g. `"50ms"` (rotel's default is 200ms).
    pub batch_timeout: String,
    /// Extra command-line arguments appended after the generated ones.
    pub extra_args: Vec<String>,
    /// How long to wait for both receiver ports to accept connections.
    pub startup_timeout: Duration,
}

impl RotelConfig {
    /// Forward over gRPC (gzip-compressed, rotel's default) to `receiver`.
    pub fn forwarding_to(receiver: &OtlpReceiver) -> Self {
        RotelConfig {
            exporter: RotelExporter::Otlp {
                endpoint: receiver.grpc_endpoint(),
                protocol: ForwardProtocol::Grpc,
                gzip: true,
            },
            batch_timeout: "50ms".to_string(),
            extra_args: Vec::new(),
            startup_timeout: Duration::from_secs(20),
        }
    }
}

/// A running `rotel-agent` in the foreground, receiving OTLP/gRPC and
/// OTLP/HTTP on ephemeral loopback ports. Killed when dropped.
#[derive(Debug)]
pub struct Rotel {
    child: Child,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    dir: PathBuf,
    command_line: String,
}

static INSTANCE: AtomicUsize = AtomicUsize::new(0);

impl Rotel {
    /// Finds `rotel-agent`: `$WASMTRACE_ROTEL_AGENT`, then `PATH`, then the
    /// `rotel` Python package directory, then Python's scripts and user-base
    /// `bin` directories. Fails with an install hint if none has it.
    pub fn binary() -> anyhow::Result<PathBuf> {
        if let Some(p) = std::env::var_os(ROTEL_AGENT_ENV) {
            let p = PathBuf::from(p);
            if is_executable(&p) {
                return Ok(p);
            }
            bail!(
                "{ROTEL_AGENT_ENV}={} is not an executable file",
                p.display()
            );
        }
        let mut looked = Vec::new();
        if let Some(path) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&path) {
                let candidate = dir.join("rotel-agent");
                if is_executable(&candidate) {
                    return Ok(candidate);
                }
            }
            looked.push("PATH".to_string());
        }
        for snippet in [
            "import rotel, os; print(os.path.dirname(rotel.__file__))",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
            "import site; print(site.USER_BASE + '/bin')",
        ] {
            let Some(dir) = python_print(snippet) else {
                continue;
            };
            let candidate = Path::new(&dir).join("rotel-agent");
            if is_executable(&candidate) {
                return Ok(candidate);
            }
            looked.push(dir);
        }
        bail!(
            "rotel-agent not found (looked in {}); install it with `pip install rotel` \
             or set {ROTEL_AGENT_ENV} to its path",
            looked.join(", ")
        )
    }

    /// Starts rotel forwarding over gRPC to `receiver`, and waits until it
    /// accepts connections.
    pub fn start_forwarding_to(receiver: &OtlpReceiver) -> anyhow::Result<Self> {
        Self::start(RotelConfig::forwarding_to(receiver))
    }

    /// Starts rotel with `config` and waits until both of its receiver ports
    /// accept connections. Retries a few times if it dies at startup (an
    /// ephemeral port may have been taken in between).
    pub fn start(config: RotelConfig) -> anyhow::Result<Self> {
        let binary = Self::binary()?;
        let mut last_err = None;
        for _ in 0..3 {
            match Self::start_once(&binary, &config) {
                Ok(rotel) => return Ok(rotel),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("rotel did not start")))
    }

    fn start_once(binary: &Path, config: &RotelConfig) -> anyhow::Result<Self> {
        let grpc_addr = free_port()?;
        let http_addr = free_port()?;
        let dir = std::env::temp_dir().join(format!(
            "wasmtrace-rotel-{}-{}",
            std::process::id(),
            INSTANCE.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;

        let mut args: Vec<String> = vec![
            "start".into(),
            "--otlp-grpc-endpoint".into(),
            grpc_addr.to_string(),
            "--otlp-http-endpoint".into(),
            http_addr.to_string(),
            "--pid-file".into(),
            dir.join("rotel.pid").display().to_string(),
            "--log-file".into(),
            dir.join("rotel.log").display().to_string(),
            "--batch-timeout".into(),
            config.batch_timeout.clone(),
        ];
        match &config.exporter {
            RotelExporter::Otlp {
                endpoint,
                protocol,
                gzip,
            } => {
                let protocol = match protocol {
                    ForwardProtocol::Grpc => "grpc",
                    ForwardProtocol::Http => "http",
                };
                let compression = if *gzip { "gzip" } else { "none" };
                args.extend(
                    [
                        "--exporter",
                        "otlp",
                        "--otlp-exporter-endpoint",
                        endpoint,
                        "--otlp-exporter-protocol",
                        protocol,
                        "--otlp-exporter-compression",
                        compression,
                        // Fail fast and retry soon rather than after rotel's
                        // 5s default backoff.
                        "--otlp-exporter-retry-initial-backoff",
                        "100ms",
                        "--otlp-exporter-retry-max-backoff",
                        "500ms",
                    ]
                    .map(String::from),
                );
            }
            RotelExporter::Blackhole => args.extend(
                [
                    "--exporter",
                    "blackhole",
                    "--debug-log",
                    "traces",
                    "--debug-log-verbosity",
                    "detailed",
                ]
                .map(String::from),
            ),
        }
        args.extend(config.extra_args.iter().cloned());

        let command_line = std::iter::once(binary.display().to_string())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        let spawned = (|| {
            let stdout = fs::File::create(dir.join("stdout.log"))?;
            let stderr = fs::File::create(dir.join("stderr.log"))?;
            Command::new(binary)
                .args(&args)
                // Stay in the foreground so that we own the process.
                .env_remove("ROTEL_DAEMON")
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(stderr)
                .spawn()
        })();
        let child = match spawned {
            Ok(child) => child,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(anyhow::Error::new(e).context(format!("spawning {command_line}")));
            }
        };
        let mut rotel = Rotel {
            child,
            grpc_addr,
            http_addr,
            dir,
            command_line,
        };

        let deadline = Instant::now() + config.startup_timeout;
        loop {
            if let Some(status) = rotel.child.try_wait()? {
                bail!(
                    "rotel-agent exited at startup ({status})\ncommand: {}\n{}",
                    rotel.command_line,
                    rotel.logs()
                );
            }
            let up = |addr| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
            if up(grpc_addr) && up(http_addr) {
                return Ok(rotel);
            }
            if Instant::now() >= deadline {
                bail!(
                    "rotel-agent did not listen on {grpc_addr} and {http_addr} within {:?}\n\
                     command: {}\n{}",
                    config.startup_timeout,
                    rotel.command_line,
                    rotel.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Rotel's OTLP/gRPC receiver, `http://127.0.0.1:PORT`.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// Rotel's OTLP/HTTP receiver base endpoint, `http://127.0.0.1:PORT`.
    pub fn http_endpoint(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// The command line rotel was started with.
    pub fn command_line(&self) -> &str {
        &self.command_line
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Rotel's stdout, stderr and log file so far, labelled.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for name in ["stdout.log", "stderr.log", "rotel.log"] {
            if let Ok(text) = fs::read_to_string(self.dir.join(name))
                && !text.trim().is_empty()
            {
                out.push_str(&format!("--- rotel {name} ---\n{text}"));
                if !text.ends_with('\n') {
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Waits until [`logs`](Self::logs) contains `needle` (with the
    /// blackhole exporter, received spans are printed there) and returns them.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let logs = self.logs();
            if logs.contains(needle) {
                return Ok(logs);
            }
            if Instant::now() >= deadline {
                bail!("rotel did not log {needle:?} within {timeout:?}\n{logs}");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn python_print(snippet: &str) -> Option<String> {
    let output = Command::new("python3")
        .args(["-c", snippet])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}
