//! The message loop: the handshake, then each request and notification
//! handed to its handler, until `shutdown` and `exit`.
//!
//! Diagnostics are published when no message is waiting, so that a burst
//! of keystrokes is checked once (`analysis.rs` explains why each check is
//! of the whole file). Every request is answered: with its result, `null`
//! for a document the editor never opened, `MethodNotFound` for a method
//! the server does not know, `InvalidParams` for parameters that do not
//! parse, and `InternalError` if a handler panics, after which the server
//! goes on. No text can stop it.

use std::collections::{BTreeSet, HashMap};
use std::panic::{self, AssertUnwindSafe};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument, LogMessage, Notification as _,
    PublishDiagnostics, ShowMessage,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest, Request as _, Shutdown,
};
use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionProviderCapability, CompletionOptions, CompletionResponse, DocumentSymbolResponse,
    HoverProviderCapability, InitializeResult, MessageType, OneOf, PositionEncodingKind, PublishDiagnosticsParams, SaveOptions,
    ServerCapabilities, ServerInfo, TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions, TextDocumentSyncSaveOptions,
    Uri,
};

use crate::document::Document;
use crate::formatting::Formatted;
use crate::{code_actions, completion, definition, diagnostics, formatting, hover, symbols, Error};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for `initialize`.
    Uninitialized,
    Running,
    /// `shutdown` answered: only `exit` is expected.
    ShuttingDown,
}

pub struct Server {
    connection: Connection,
    state: State,
    documents: HashMap<Uri, Document>,
    /// Documents changed, opened or saved since their diagnostics were last published.
    unpublished: BTreeSet<Uri>,
}

impl Server {
    pub fn new(connection: Connection) -> Server {
        Server { connection, state: State::Uninitialized, documents: HashMap::new(), unpublished: BTreeSet::new() }
    }

    pub fn run(mut self) -> Result<(), Error> {
        let mut waiting: Option<Message> = None;
        loop {
            let message = match waiting.take() {
                Some(message) => message,
                None => {
                    self.publish()?;
                    match self.connection.receiver.recv() {
                        Ok(message) => message,
                        Err(_) => return Err(Error::Disconnected),
                    }
                }
            };
            match message {
                Message::Request(request) => {
                    let response = self.request(request);
                    self.send(response.into())?;
                }
                Message::Notification(n) if n.method == "exit" => {
                    return if self.state == State::ShuttingDown { Ok(()) } else { Err(Error::ExitWithoutShutdown) };
                }
                // before `initialize` and after `shutdown`, notifications are dropped
                Message::Notification(n) if self.state == State::Running => self.notification(n)?,
                Message::Notification(_) => {}
                // the server sends no requests, so expects no responses
                Message::Response(_) => {}
            }
            waiting = self.connection.receiver.try_recv().ok();
        }
    }

    fn send(&self, message: Message) -> Result<(), Error> {
        self.connection.sender.send(message).map_err(|_| Error::Disconnected)
    }

    fn notify<N: lsp_types::notification::Notification>(&self, params: N::Params) -> Result<(), Error> {
        self.send(Notification::new(N::METHOD.to_string(), params).into())
    }

    /// A line in the editor's log for the server (not a pop-up).
    fn log(&self, message: String) -> Result<(), Error> {
        self.notify::<LogMessage>(lsp_types::LogMessageParams { typ: MessageType::WARNING, message })
    }

    fn request(&mut self, request: Request) -> Response {
        match self.state {
            State::Uninitialized if request.method == "initialize" => {
                self.state = State::Running;
                Response::new_ok(request.id, initialize_result())
            }
            State::Uninitialized => error(request, ErrorCode::ServerNotInitialized, "the server has not been initialized"),
            State::ShuttingDown => error(request, ErrorCode::InvalidRequest, "the server is shutting down"),
            State::Running if request.method == "initialize" => {
                error(request, ErrorCode::InvalidRequest, "the server is already initialized")
            }
            State::Running if request.method == Shutdown::METHOD => {
                self.state = State::ShuttingDown;
                Response::new_ok(request.id, ())
            }
            State::Running => {
                let (id, method) = (request.id.clone(), request.method.clone());
                match panic::catch_unwind(AssertUnwindSafe(|| self.answer(request))) {
                    Ok(response) => response,
                    Err(_) => {
                        Response::new_err(id, ErrorCode::InternalError as i32, format!("cava lsp failed to answer `{method}`; it goes on"))
                    }
                }
            }
        }
    }

    fn answer(&mut self, request: Request) -> Response {
        match request.method.as_str() {
            HoverRequest::METHOD => handle::<HoverRequest>(request, |p| {
                let at = p.text_document_position_params;
                let doc = self.documents.get_mut(&at.text_document.uri)?.snapshot();
                hover::hover(doc, doc.offset(at.position))
            }),
            GotoDefinition::METHOD => handle::<GotoDefinition>(request, |p| {
                let at = p.text_document_position_params;
                let doc = self.documents.get_mut(&at.text_document.uri)?.snapshot();
                definition::definition(doc, &at.text_document.uri, doc.offset(at.position))
            }),
            Completion::METHOD => handle::<Completion>(request, |p| {
                let at = p.text_document_position;
                let doc = self.documents.get_mut(&at.text_document.uri)?.snapshot();
                Some(CompletionResponse::Array(completion::completion(doc, doc.offset(at.position))))
            }),
            DocumentSymbolRequest::METHOD => handle::<DocumentSymbolRequest>(request, |p| {
                let doc = self.documents.get_mut(&p.text_document.uri)?.snapshot();
                Some(DocumentSymbolResponse::Nested(symbols::document_symbols(doc)))
            }),
            CodeActionRequest::METHOD => handle::<CodeActionRequest>(request, |p| {
                let doc = self.documents.get_mut(&p.text_document.uri)?.snapshot();
                Some(code_actions::code_actions(doc, &p.text_document.uri, p.range, &p.context))
            }),
            Formatting::METHOD => {
                let mut refused = None;
                let response = handle::<Formatting>(request, |p| {
                    let doc = self.documents.get_mut(&p.text_document.uri)?.snapshot();
                    match formatting::format(doc) {
                        Formatted::Edits(edits) => Some(edits),
                        Formatted::Refused(message) => {
                            refused = Some(message);
                            None
                        }
                    }
                });
                if let Some(message) = refused {
                    // a response already explains nothing, so say why in the editor
                    let _ = self.notify::<ShowMessage>(lsp_types::ShowMessageParams { typ: MessageType::WARNING, message });
                }
                response
            }
            _ => {
                let method = request.method.clone();
                error(request, ErrorCode::MethodNotFound, &format!("cava lsp does not handle `{method}`"))
            }
        }
    }

    fn notification(&mut self, n: Notification) -> Result<(), Error> {
        let method = n.method.clone();
        let parsed = match method.as_str() {
            DidOpenTextDocument::METHOD => n.extract::<lsp_types::DidOpenTextDocumentParams>(&method).map(|p| {
                let doc = p.text_document;
                self.documents.insert(doc.uri.clone(), Document::new(doc.text, doc.version));
                self.unpublished.insert(doc.uri);
            }),
            DidChangeTextDocument::METHOD => n.extract::<lsp_types::DidChangeTextDocumentParams>(&method).map(|p| {
                let uri = p.text_document.uri;
                if let Some(doc) = self.documents.get_mut(&uri) {
                    for change in p.content_changes {
                        doc.apply_change(change);
                    }
                    doc.version = p.text_document.version;
                    self.unpublished.insert(uri);
                }
            }),
            DidSaveTextDocument::METHOD => n.extract::<lsp_types::DidSaveTextDocumentParams>(&method).map(|p| {
                if self.documents.contains_key(&p.text_document.uri) {
                    self.unpublished.insert(p.text_document.uri);
                }
            }),
            DidCloseTextDocument::METHOD => match n.extract::<lsp_types::DidCloseTextDocumentParams>(&method) {
                Ok(p) => {
                    let uri = p.text_document.uri;
                    self.documents.remove(&uri);
                    self.unpublished.remove(&uri);
                    // a closed file's problems leave the editor's problem list
                    return self.notify::<PublishDiagnostics>(PublishDiagnosticsParams { uri, diagnostics: Vec::new(), version: None });
                }
                Err(e) => Err(e),
            },
            // `initialized`, `$/cancelRequest` (every request is answered at
            // once), settings and anything else need nothing
            _ => Ok(()),
        };
        match parsed {
            Ok(()) => Ok(()),
            Err(e) => self.log(format!("cava lsp ignored a `{method}` notification: {e}")),
        }
    }

    /// Publishes the diagnostics of every document changed since last time.
    fn publish(&mut self) -> Result<(), Error> {
        for uri in std::mem::take(&mut self.unpublished) {
            let Some(doc) = self.documents.get_mut(&uri) else { continue };
            let version = doc.version;
            let converted = panic::catch_unwind(AssertUnwindSafe(|| {
                let snap = doc.snapshot();
                snap.analysis.diagnostics.iter().map(|d| diagnostics::to_lsp(d, snap.text, snap.lines, &uri)).collect::<Vec<_>>()
            }));
            match converted {
                Ok(diagnostics) => {
                    self.notify::<PublishDiagnostics>(PublishDiagnosticsParams { uri, diagnostics, version: Some(version) })?
                }
                Err(_) => self.log(format!("cava lsp could not check {}", uri.as_str()))?,
            }
        }
        Ok(())
    }
}

/// Parses a request's parameters and answers with `f`'s result.
fn handle<R: lsp_types::request::Request>(request: Request, f: impl FnOnce(R::Params) -> R::Result) -> Response {
    match serde_json::from_value::<R::Params>(request.params) {
        Ok(params) => Response::new_ok(request.id, f(params)),
        Err(e) => Response::new_err(request.id, ErrorCode::InvalidParams as i32, format!("invalid parameters for `{}`: {e}", R::METHOD)),
    }
}

fn error(request: Request, code: ErrorCode, message: &str) -> Response {
    Response::new_err(request.id, code as i32, message.to_string())
}

fn initialize_result() -> InitializeResult {
    let capabilities = ServerCapabilities {
        position_encoding: Some(PositionEncodingKind::UTF16),
        text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(TextDocumentSyncKind::INCREMENTAL),
            save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions { include_text: Some(false) })),
            ..TextDocumentSyncOptions::default()
        })),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(["(", ".", ">"].map(String::from).to_vec()),
            ..CompletionOptions::default()
        }),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        ..ServerCapabilities::default()
    };
    InitializeResult {
        capabilities,
        server_info: Some(ServerInfo { name: "cava-lsp".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
    }
}
