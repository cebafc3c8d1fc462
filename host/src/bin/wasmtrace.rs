//! `wasmtrace`: run a traced WebAssembly plugin from the command line.

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use opentelemetry::Context;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TraceContextExt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use wasmtrace::telemetry::{PluginMetrics, Telemetry, TracesExporter};
use wasmtrace::view::{Terminal, TextFormat, TreeOptions, WASMTRACE_CONSOLE};
use wasmtrace::{
    CompileCache, InvocationError, Limits, Plugin, Runtime, RuntimeConfig, TracingStats,
};

/// How long shutdown may take to deliver what is still queued.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Parser)]
#[command(
    name = "wasmtrace",
    version,
    about = "Run sandboxed WebAssembly plugins and trace them with OpenTelemetry"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load a component, call its handler (or `wasi:cli/run`) inside an
    /// invocation span, print the result and export the trace.
    ///
    /// Export follows the standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT,
    /// _PROTOCOL, _HEADERS, _COMPRESSION=gzip, _TIMEOUT, _CERTIFICATE for a
    /// private CA, _CLIENT_CERTIFICATE and _CLIENT_KEY for mTLS, each also
    /// per signal); with no OTLP endpoint set, each finished trace is
    /// printed on stderr as a waterfall (or a tree: --console tree).
    Run(RunArgs),
    /// Serve HTTP/1.1 and HTTP/2 (h2c, prior knowledge) with a plugin that
    /// exports `wasi:http/incoming-handler` (the `wasi:http/proxy` world): a
    /// fresh instance per request, each request traced as a server span
    /// continuing the incoming W3C trace context. Prints `listening on http://ADDR` on stderr once bound; stops
    /// on ctrl-c (SIGINT) or SIGTERM, letting requests in flight finish and
    /// flushing the spans.
    Serve(ServeArgs),
    /// Draw the traces of an OTLP/JSON file (what --export-json and the
    /// OpenTelemetry Collector's file exporter write) as a waterfall or a
    /// tree, or write them as an HTML page. A line that cannot be read is
    /// reported with its number and skipped (exit status 1); the rest is
    /// drawn.
    View(ViewArgs),
    /// Compile a component ahead of time for deployment: `run` and `serve`
    /// load the artifact without compiling when given --allow-precompiled.
    /// It is tied to this wasmtrace build, this machine's CPU features and
    /// whether --fuel and --timeout-ms are given (they are compiled in; an
    /// artifact compiled otherwise is refused with an error, never run).
    /// --max-memory is a run-time limit: any value works with any artifact.
    Compile(CompileArgs),
    /// Set a component's plugin identity (the `wasmtrace-plugin` custom
    /// section: name and version, as the Rust SDK's `plugin!` writes it),
    /// for components built by other toolchains.
    Stamp(StampArgs),
}

#[derive(clap::Args)]
struct CompileArgs {
    /// The component (`.wasm`).
    plugin: PathBuf,
    /// Where to write the artifact.
    #[arg(long, short, value_name = "OUT")]
    output: PathBuf,
    /// Compile for runs with --fuel (fuel metering is compiled in).
    #[arg(long)]
    fuel: Option<u64>,
    /// Compile for runs with --timeout-ms (epoch checks are compiled in).
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
}

#[derive(clap::Args)]
struct StampArgs {
    /// The component (`.wasm`).
    plugin: PathBuf,
    /// The plugin's name (its `invoke NAME` span and instrumentation scope).
    #[arg(long)]
    name: String,
    /// The plugin's version.
    #[arg(long = "plugin-version", visible_alias = "set-version")]
    version: String,
    /// Where to write the stamped component (default: in place).
    #[arg(long, short, value_name = "OUT")]
    output: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ViewArgs {
    /// The OTLP/JSON file, one export request per line (`-`: standard
    /// input).
    file: PathBuf,
    /// `waterfall` (a bar per span on the trace's time axis) or `tree`.
    #[arg(
        long,
        value_enum,
        env = WASMTRACE_CONSOLE,
        default_value = "waterfall"
    )]
    format: ConsoleFormat,
    /// Print the tree with span ids, dropped counts and the runtime's own
    /// wasmtrace.* attributes (implies --format tree).
    #[arg(long, short)]
    verbose: bool,
    /// Write the traces to OUT as a self-contained HTML page instead.
    #[arg(long, value_name = "OUT")]
    html: Option<PathBuf>,
}

/// How the embedded default (and `view`) draws each trace.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ConsoleFormat {
    /// A bar per span on the trace's time axis.
    Waterfall,
    /// Spans indented under their parents, with attributes and events.
    Tree,
}

impl From<ConsoleFormat> for TextFormat {
    fn from(format: ConsoleFormat) -> Self {
        match format {
            ConsoleFormat::Waterfall => Self::Waterfall,
            ConsoleFormat::Tree => Self::Tree,
        }
    }
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The plugin: a WebAssembly component exporting
    /// `wasi:http/incoming-handler`.
    plugin: PathBuf,
    /// Address to listen on; port 0 picks a free port (the
    /// `listening on` line gives it).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: String,
    #[command(flatten)]
    options: PluginOptions,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The plugin: a WebAssembly component (`.wasm`).
    plugin: PathBuf,
    /// Input passed to the plugin's handler.
    #[arg(long, default_value = "")]
    input: String,
    /// Continue an existing trace: a W3C `traceparent` header value.
    #[arg(long)]
    traceparent: Option<String>,
    /// With --traceparent: the W3C `tracestate` header value.
    #[arg(long, requires = "traceparent")]
    tracestate: Option<String>,
    #[command(flatten)]
    options: PluginOptions,
}

/// What `run` and `serve` share: export, sandbox limits, capabilities and
/// the other plugins.
#[derive(clap::Args)]
struct PluginOptions {
    /// Also write every span to FILE as OTLP/JSON.
    #[arg(long, value_name = "FILE")]
    export_json: Option<PathBuf>,
    /// Also write every trace to FILE as a self-contained HTML page (a
    /// waterfall with search and a detail pane; no network needed).
    #[arg(long, value_name = "FILE")]
    export_html: Option<PathBuf>,
    /// How the embedded default prints each trace on stderr.
    #[arg(
        long,
        value_enum,
        env = WASMTRACE_CONSOLE,
        default_value = "waterfall"
    )]
    console: ConsoleFormat,
    /// Fuel for each invocation (roughly, wasm instructions).
    #[arg(long)]
    fuel: Option<u64>,
    /// Wall-clock deadline for each invocation, in milliseconds.
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
    /// Maximum linear memory of each instance, in bytes.
    #[arg(long, value_name = "BYTES")]
    max_memory: Option<usize>,
    /// Let the plugin send HTTP requests (wasi:http) to HOST (on the
    /// scheme's default port) or HOST:PORT; repeatable. Without it every
    /// request is denied. Each request is traced as a client span.
    #[arg(long = "allow-http", value_name = "HOST[:PORT]")]
    allow_http: Vec<String>,
    /// Another plugin this one may call by name
    /// (`wasmtrace_sdk::plugins::call`); repeatable. Its spans join the
    /// caller's trace.
    #[arg(long = "plugin", value_name = "FILE")]
    plugins: Vec<PathBuf>,
    /// A sampler for one plugin, by its name: `NAME=SAMPLER[:RATIO]` with
    /// OTEL_TRACES_SAMPLER's names, e.g.
    /// `--sampler request-handler=parentbased_traceidratio:0.1`; repeatable.
    /// Other plugins use OTEL_TRACES_SAMPLER.
    #[arg(long = "sampler", value_name = "NAME=SAMPLER")]
    samplers: Vec<String>,
    /// Tracing limits from a JSON file, e.g. `{"max_spans": 1000}` (see
    /// `wasmtrace::Limits` for the fields).
    #[arg(long, value_name = "FILE")]
    limits: Option<PathBuf>,
    /// One tracing limit, overriding the file: `--limit max_spans=1000`.
    #[arg(long = "limit", value_name = "NAME=VALUE")]
    limit: Vec<String>,
    /// Compile every component anew instead of reusing the compile cache
    /// (kept in WASMTRACE_CACHE_DIR, or the platform's cache directory;
    /// WASMTRACE_CACHE_DIR=off also turns it off).
    #[arg(long)]
    no_compile_cache: bool,
    /// Accept components precompiled by `wasmtrace compile`. Their machine
    /// code runs as it is, unchecked: only load artifacts you built.
    #[arg(long)]
    allow_precompiled: bool,
}

impl PluginOptions {
    /// Telemetry from the OTEL_* variables and these options, with the
    /// limits it was built for.
    fn telemetry(&self) -> anyhow::Result<(Telemetry, Limits)> {
        let limits = limits(&self.limits, &self.limit)?;
        let mut telemetry = Telemetry::builder("wasmtrace", env!("CARGO_PKG_VERSION"))
            .with_span_limits(limits.sdk_span_limits())
            .with_console_format(self.console.into());
        if let Some(path) = &self.export_json {
            telemetry = telemetry.with_json_file(path);
        }
        if let Some(path) = &self.export_html {
            telemetry = telemetry.with_html_file(path);
        }
        let telemetry = telemetry.build()?;
        set_samplers(&telemetry, &self.samplers)?;
        Ok((telemetry, limits))
    }

    /// A runtime with `main` and every `--plugin` loaded, registered for
    /// plugin-to-plugin calls and counted in the overhead metrics.
    fn load(
        &self,
        main: &Path,
        telemetry: &Telemetry,
        limits: Limits,
    ) -> anyhow::Result<(Runtime, Plugin)> {
        let config = RuntimeConfig {
            fuel: self.fuel,
            deadline: self.timeout_ms.map(Duration::from_millis),
            max_memory: self.max_memory,
            inherit_stdio: true,
            limits,
            cache: Default::default(),
            allowed_http_hosts: self.allow_http.clone(),
            delivery: Some(telemetry.delivery_handle()),
            compile_cache: if self.no_compile_cache {
                CompileCache::disabled()
            } else {
                CompileCache::from_env()
            },
            allow_precompiled: self.allow_precompiled,
            ..RuntimeConfig::default()
        };
        let runtime = Runtime::new(telemetry.providers(), config)?;
        let metrics = PluginMetrics::new(&telemetry.meter_provider().meter("wasmtrace"));
        let plugin = runtime.load_file(main)?;
        metrics.track(&plugin);
        runtime.register(&plugin)?;
        for path in &self.plugins {
            let callee = runtime.load_file(path)?;
            metrics.track(&callee);
            runtime.register(&callee)?;
        }
        Ok((runtime, plugin))
    }
}

/// The limits from `--limits FILE` and `--limit NAME=VALUE`, checked by the
/// same deserializer, so that a misspelt name is an error.
fn limits(file: &Option<PathBuf>, items: &[String]) -> anyhow::Result<Limits> {
    let mut fields = match file {
        Some(path) => serde_json::to_value(Limits::from_json_file(path)?)?,
        None => serde_json::json!({}),
    };
    for item in items {
        let (name, value) = item
            .split_once('=')
            .with_context(|| format!("--limit {item:?}: expected NAME=VALUE"))?;
        let value: u64 = value
            .trim()
            .parse()
            .with_context(|| format!("--limit {item:?}: {value:?} is not a whole number"))?;
        fields[name.trim()] = value.into();
    }
    let limits: Limits = serde_json::from_value(fields).context("invalid --limit")?;
    limits.validate().context("invalid --limit")?;
    Ok(limits)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Serve(args) => serve(args).map(|()| ExitCode::SUCCESS),
        Command::Compile(args) => compile(&args).map(|()| ExitCode::SUCCESS),
        Command::Stamp(args) => stamp(&args).map(|()| ExitCode::SUCCESS),
        Command::View(args) => view(&args),
    };
    result.unwrap_or_else(|err| {
        eprintln!("error: {err:#}");
        ExitCode::FAILURE
    })
}

/// `wasmtrace compile`: the component compiled ahead of time, for
/// `--allow-precompiled`.
fn compile(args: &CompileArgs) -> anyhow::Result<()> {
    let bytes = read(&args.plugin)?;
    let config = RuntimeConfig {
        fuel: args.fuel,
        deadline: args.timeout_ms.map(Duration::from_millis),
        ..RuntimeConfig::default()
    };
    // Compiling needs no telemetry: a provider without processors.
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let runtime = Runtime::new(&provider, config)?;
    let artifact = runtime.precompile(&bytes, &file_stem(&args.plugin))?;
    write_atomically(&args.output, &artifact)?;
    eprintln!(
        "{}: {} bytes, load it with --allow-precompiled",
        args.output.display(),
        artifact.len()
    );
    Ok(())
}

fn stamp(args: &StampArgs) -> anyhow::Result<()> {
    let bytes = read(&args.plugin)?;
    let stamped = wasmtrace::stamp(&bytes, &args.name, &args.version)
        .with_context(|| format!("stamping {}", args.plugin.display()))?;
    let out = args.output.as_ref().unwrap_or(&args.plugin);
    write_atomically(out, &stamped)?;
    eprintln!("{}: {}@{}", out.display(), args.name, args.version);
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "plugin".into(), |s| s.to_string_lossy().into_owned())
}

/// Writes `bytes` to `path` through a temporary file renamed into place, so
/// that a failed write leaves the old file (e.g. the component being
/// stamped in place) whole.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

/// `wasmtrace view`: everything readable is drawn; each line that is not is
/// reported, and then the exit status is 1.
fn view(args: &ViewArgs) -> anyhow::Result<ExitCode> {
    let name = args.file.display().to_string();
    let reading = if args.file.as_os_str() == "-" {
        wasmtrace::view::read_otlp_json(std::io::stdin().lock())
    } else {
        let file =
            std::fs::File::open(&args.file).with_context(|| format!("cannot read {name}"))?;
        wasmtrace::view::read_otlp_json(std::io::BufReader::new(file))
    }
    .with_context(|| format!("reading {name}"))?;
    for problem in &reading.problems {
        eprintln!("warning: {name}: {problem}");
    }
    if reading.metrics_lines > 0 {
        eprintln!(
            "note: {name}: {} line(s) of metrics not drawn",
            reading.metrics_lines
        );
    }
    let set = &reading.traces;
    if let Some(out) = &args.html {
        std::fs::write(out, wasmtrace::view::html::page(set))
            .with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!(
            "wrote {} trace(s), {} span(s) to {}",
            set.traces.len(),
            set.span_count(),
            out.display()
        );
    } else if set.traces.is_empty() && set.logs.is_empty() {
        eprintln!("{name}: no spans");
    } else {
        let text = if args.verbose {
            wasmtrace::view::render_tree(set, &TreeOptions { verbose: true })
        } else {
            TextFormat::from(args.format).render(set, &Terminal::stdout())
        };
        let mut stdout = std::io::stdout().lock();
        match stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => return Err(e).context("writing the view"),
        }
    }
    let skipped = reading.problems.iter().filter(|p| p.skipped_line).count();
    if reading.problems.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        let left_out = reading.problems.len() - skipped;
        eprintln!(
            "error: {name}: {skipped} of {} line(s) skipped and {left_out} span(s) or record(s) \
             left out (see above); the rest is shown",
            reading.lines
        );
        Ok(ExitCode::FAILURE)
    }
}

/// `--sampler NAME=SAMPLER[:RATIO]`, each.
fn set_samplers(telemetry: &Telemetry, specs: &[String]) -> anyhow::Result<()> {
    for spec in specs {
        let (plugin, sampler) = spec
            .split_once('=')
            .with_context(|| format!("--sampler {spec:?}: expected NAME=SAMPLER"))?;
        let sampler =
            wasmtrace::parse_sampler(sampler).with_context(|| format!("--sampler {spec:?}"))?;
        telemetry.plugin_sampler().set(plugin.trim(), sampler);
    }
    Ok(())
}

/// The one-line warning for spans the collector did not get, if any.
fn warn_undelivered(delivery: &wasmtrace::telemetry::DeliveryStats) {
    if delivery.undelivered() > 0 {
        // With the cause, such as a certificate the CA does not vouch for.
        let reason = delivery
            .reason()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        eprintln!(
            "warning: {} of {} spans could not be delivered to the collector{reason}",
            delivery.undelivered(),
            delivery.ended()
        );
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let (telemetry, limits) = args.options.telemetry()?;
    let served = serve_until_stopped(&args, &telemetry, limits);
    let delivery = telemetry.delivery_handle();
    let flushed = telemetry.shutdown(FLUSH_TIMEOUT);
    warn_undelivered(&delivery);
    served?;
    if let Err(err) = flushed {
        eprintln!("warning: {err:#}");
    }
    Ok(())
}

fn serve_until_stopped(
    args: &ServeArgs,
    telemetry: &Telemetry,
    limits: Limits,
) -> anyhow::Result<()> {
    let (runtime, plugin) = args.options.load(&args.plugin, telemetry, limits)?;
    let server = Arc::new(wasmtrace::http::HttpServer::new(&runtime, &plugin)?);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the HTTP server's runtime")?;
    let served = tokio.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        eprintln!("listening on http://{}", listener.local_addr()?);
        server.serve(listener, stop_signal()).await?;
        eprintln!("stopped");
        anyhow::Ok(())
    });
    // Handlers still running past the grace period are abandoned.
    tokio.shutdown_timeout(wasmtrace::http::SHUTDOWN_GRACE);
    served
}

/// Completes on ctrl-c (SIGINT) or, on Unix, SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    eprintln!("shutting down");
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let (telemetry, limits) = args.options.telemetry()?;
    let mut stats = None;
    let result = invoke(&args, &telemetry, limits, &mut stats);
    let console = matches!(telemetry.exporter(), TracesExporter::Console);
    // Flush before reporting, so that the error is the last thing printed
    // and nothing recorded is lost on the error path.
    let delivery = telemetry.delivery_handle();
    let flushed = telemetry.shutdown(FLUSH_TIMEOUT);
    // The embedded default's overhead summary (over OTLP, the same numbers
    // are metrics).
    if let Some(stats) = stats.filter(|_| console) {
        eprintln!("tracing: {}", stats.summary());
    }
    warn_undelivered(&delivery);
    let code = match result {
        Ok(output) => {
            // A reader that went away (`| head`) is not an error of ours.
            let mut stdout = std::io::stdout().lock();
            match writeln!(stdout, "{output}").and_then(|()| stdout.flush()) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => eprintln!("warning: writing the output: {e}"),
            }
            ExitCode::SUCCESS
        }
        Err(RunError::Invocation(InvocationError::Exit(code))) => {
            eprintln!("error: plugin exited with status {code}");
            ExitCode::from(u8::try_from(code).unwrap_or(1).max(1))
        }
        Err(RunError::Invocation(err)) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
        Err(RunError::Setup(err)) => return Err(err),
    };
    if let Err(err) = flushed {
        eprintln!("warning: {err:#}");
    }
    Ok(code)
}

enum RunError {
    Setup(anyhow::Error),
    Invocation(InvocationError),
}

impl From<anyhow::Error> for RunError {
    fn from(err: anyhow::Error) -> Self {
        Self::Setup(err)
    }
}

fn invoke(
    args: &RunArgs,
    telemetry: &Telemetry,
    limits: Limits,
    stats_out: &mut Option<Arc<TracingStats>>,
) -> Result<String, RunError> {
    let parent = parent_context(args)?;
    let (runtime, plugin) = args.options.load(&args.plugin, telemetry, limits)?;
    *stats_out = Some(plugin.stats_handle());
    let result = runtime.invoke(&plugin, &args.input, &parent);
    let stats = plugin.stats();
    if stats.anything_dropped() && !matches!(telemetry.exporter(), TracesExporter::Console) {
        eprintln!(
            "warning: limits dropped some telemetry: {}",
            stats.summary()
        );
    }
    result.map_err(RunError::Invocation)
}

/// The invocation's parent: the trace given with --traceparent, else none.
fn parent_context(args: &RunArgs) -> anyhow::Result<Context> {
    let Some(traceparent) = &args.traceparent else {
        return Ok(Context::new());
    };
    let mut carrier = vec![("traceparent".to_owned(), traceparent.clone())];
    if let Some(ts) = &args.tracestate {
        carrier.push(("tracestate".to_owned(), ts.clone()));
    }
    let cx = wasmtrace::Propagators::parse("tracecontext").extract(&carrier);
    if !cx.span().span_context().is_valid() {
        bail!(
            "--traceparent {traceparent:?} is not a valid W3C traceparent (expected 00-<32 hex>-<16 hex>-<2 hex>)"
        );
    }
    Ok(cx)
}
