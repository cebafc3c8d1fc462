//! What the text renderers need to know about where they print: how wide it
//! is and whether colour is wanted.

use std::io::IsTerminal;

/// Columns assumed when the output is not a terminal and `COLUMNS` is not
/// set (a log file, a CI job).
pub const DEFAULT_WIDTH: usize = 100;

/// The width and colour of an output stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Terminal {
    /// Columns: `COLUMNS` when set, else the terminal's width, else
    /// [`DEFAULT_WIDTH`].
    pub width: usize,
    /// Whether to colour: only on a terminal, and not when `NO_COLOR` is set
    /// to anything (<https://no-color.org>) or `TERM` is `dumb`.
    pub color: bool,
}

impl Terminal {
    /// Standard error (where the console sink prints).
    pub fn stderr() -> Self {
        let stderr = std::io::stderr();
        Self::detect(stderr.is_terminal(), || window_width(&stderr))
    }

    /// Standard output (where `wasmtrace view` prints).
    pub fn stdout() -> Self {
        let stdout = std::io::stdout();
        Self::detect(stdout.is_terminal(), || window_width(&stdout))
    }

    fn detect(is_terminal: bool, window_width: impl FnOnce() -> Option<usize>) -> Self {
        let columns = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|&c| c > 0);
        let width = columns
            .or_else(|| is_terminal.then(window_width).flatten())
            .unwrap_or(DEFAULT_WIDTH);
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        Self {
            width,
            color: is_terminal && !no_color && !dumb,
        }
    }
}

#[cfg(unix)]
fn window_width(fd: &impl std::os::fd::AsFd) -> Option<usize> {
    rustix::termios::tcgetwinsize(fd)
        .ok()
        .map(|size| usize::from(size.ws_col))
        .filter(|&c| c > 0)
}

#[cfg(not(unix))]
fn window_width<T>(_: &T) -> Option<usize> {
    None
}
