//! `cava lsp`: the LAPIS language server.
//!
//! This is the only crate that knows about the Language Server Protocol.
//! It reads specs as the editor has them (never from disk), runs the pure
//! front end (`lapis-parser`) on them, and answers with the same
//! diagnostics `cava check` prints, plus hover, go-to-definition,
//! completion, document symbols, formatting and quick fixes.
//!
//! [`run_stdio`] serves an editor over standard input and output;
//! [`serve`] runs the same loop over any [`lsp_server::Connection`], such
//! as `Connection::memory()` in tests.

#![forbid(unsafe_code)]

mod analysis;
mod code_actions;
mod completion;
mod context;
mod definition;
mod diagnostics;
mod document;
mod formatting;
mod hover;
mod index;
mod keywords;
mod locals;
mod position;
mod recover;
mod resolve;
mod server;
mod symbols;

use lsp_server::Connection;

/// Why the server stopped other than by a `shutdown` request and `exit`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the editor closed the connection without `shutdown` and `exit`")]
    Disconnected,
    #[error("the editor sent `exit` before `shutdown`")]
    ExitWithoutShutdown,
    #[error("reading or writing the LSP messages failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the language server on standard input and output until the editor
/// shuts it down.
pub fn run_stdio() -> Result<(), Error> {
    let (connection, io_threads) = Connection::stdio();
    // on an error the reader may still be blocked on standard input: return
    // without joining, the process is about to exit anyway
    serve(connection)?;
    // the connection is dropped, so the writer drains and ends; the reader ended at `exit`
    io_threads.join()?;
    Ok(())
}

/// Serves one editor over `connection`: the initialize handshake, then
/// requests and notifications until `shutdown` and `exit`.
pub fn serve(connection: Connection) -> Result<(), Error> {
    server::Server::new(connection).run()
}
