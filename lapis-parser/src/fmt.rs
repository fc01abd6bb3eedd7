//! `cava fmt`: prints a spec in canonical form.
//!
//! The output is printed from the syntax tree, so it is canonical by
//! construction. The source text is consulted only for what the tree does not
//! keep: comments and their positions, and blank lines the author left between
//! items or statements (at most one is kept).
//!
//! Comments are placed by position. Every printed line knows the source offset
//! where the code it prints ends. Before the line is written, every comment not
//! yet printed that starts before that offset goes on a line of its own (so a
//! comment inside a declaration moves in front of it); after the line, the
//! comments that follow on the same source line are appended to it. Both take
//! comments strictly in source order, which is what guarantees that each
//! comment is printed exactly once and in order.

use crate::ast::{
    ApiBlock, ApiValue, BinaryOp, Block, Declaration, Descriptor, DescriptorArg, Expr, ExprKind, Function, Item, ItemKind, ReplaceSide,
    ResourceKind, SourceFile, Stmt, StmtKind, TagBody, TagKind, TypeExpr, TypeExprKind, UnaryOp,
};
use crate::descriptors;
use crate::lexer::Comment;
use crate::Diagnostic;

const INDENT: &str = "    ";

/// Prototypes longer than this put one parameter per line.
const MAX_WIDTH: usize = 100;

/// Words after which the parser reads `sizeof(...)` as a type (mirrors its lookahead).
const TYPE_WORDS: &[&str] =
    &["void", "char", "short", "int", "long", "float", "double", "signed", "unsigned", "_Bool", "bool", "struct", "union", "enum", "const"];

/// Formats a spec in canonical form. Refuses (returns the parse diagnostics)
/// when the source has syntax errors, so formatting never loses text.
pub fn format_source(source: &str) -> Result<String, Vec<Diagnostic>> {
    let (file, diagnostics) = crate::parse(source);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(diagnostics);
    }
    Ok(format_file(&file, source))
}

/// Formats an already-parsed, error-free file. Comments come from
/// `file.comments`; `source` decides blank lines between items and whether a
/// comment trails a line.
pub fn format_file(file: &SourceFile, source: &str) -> String {
    let mut comments: Vec<&Comment> = file.comments.iter().collect();
    comments.sort_by_key(|c| c.span.start);
    let mut printer =
        Printer { src: source, comments, next: 0, out: String::new(), depth: 0, last: 0, after_open: false, force_blank: false };
    printer.items(&file.items);
    printer.out
}

/// Consecutive one-line items of the same group are not separated by a blank
/// line unless the source had one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Group {
    Typedef,
    Resource,
    BufRegistry,
    Constant,
    Prototype,
    CallbackPrototype,
}

// Binding strength of expressions, for minimal parentheses. Binary operators
// sit between TERNARY and UNARY at `BinaryOp::precedence() + 1`.
const ASSIGN: u8 = 0;
const TERNARY: u8 = 1;
const UNARY: u8 = 20;
const POSTFIX: u8 = 30;

struct Printer<'a> {
    src: &'a str,
    comments: Vec<&'a Comment>,
    /// The first comment not printed yet.
    next: usize,
    out: String,
    depth: usize,
    /// Source offset of the end of what was printed last, to find blank lines.
    last: usize,
    /// The last line opened a block: no blank line may follow it.
    after_open: bool,
    /// The next line (or comment) must be preceded by a blank line.
    force_blank: bool,
}

impl<'a> Printer<'a> {
    // ----- lines and comments -----

    fn pending(&self) -> Option<&'a Comment> {
        self.comments.get(self.next).copied()
    }

    /// Whether a not-yet-printed comment starts strictly between `open` and `close`.
    fn has_comment_in(&self, open: usize, close: usize) -> bool {
        self.comments[self.next..].iter().map(|c| c.span.start as usize).take_while(|&start| start < close).any(|start| start > open)
    }

    /// Whether the source between two offsets contains an empty line.
    fn blank_between(&self, from: usize, to: usize) -> bool {
        let Some(gap) = self.src.get(from..to) else {
            return false;
        };
        let mut seen_newline = false;
        let mut only_space = true;
        for ch in gap.chars() {
            if ch == '\n' {
                if seen_newline && only_space {
                    return true;
                }
                seen_newline = true;
                only_space = true;
            } else if !ch.is_whitespace() {
                only_space = false;
            }
        }
        false
    }

    /// Leaves a blank line before what starts at `start` when one is forced
    /// or the source had one there (never right after a `{`).
    fn separate(&mut self, start: usize) {
        let blank = self.force_blank || (!self.after_open && self.blank_between(self.last, start));
        self.force_blank = false;
        if blank && !self.out.is_empty() {
            self.out.push('\n');
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str(INDENT);
        }
    }

    /// Prints every pending comment that starts before `end`, each on its own line.
    fn leading(&mut self, end: usize) {
        while let Some(comment) = self.pending().filter(|c| (c.span.start as usize) < end) {
            self.next += 1;
            self.separate(comment.span.start as usize);
            self.indent();
            self.out.push_str(&comment_text(comment));
            self.out.push('\n');
            self.last = comment.span.end as usize;
            self.after_open = false;
        }
    }

    /// Appends the comments that follow `end` on the same source line.
    fn trailing(&mut self, end: usize) {
        let mut pos = end;
        while let Some(comment) = self.pending() {
            let start = comment.span.start as usize;
            let same_line =
                start >= pos && self.src.get(pos..start).is_some_and(|gap| gap.chars().all(|ch| ch != '\n' && ch.is_whitespace()));
            if !same_line {
                break;
            }
            self.next += 1;
            self.out.push(' ');
            self.out.push_str(&comment_text(comment));
            pos = comment.span.end as usize;
            self.last = pos;
        }
    }

    /// Writes `text` (lines after the first re-indented when `reindent`), then
    /// the comments trailing `end`, the source offset where the printed code ends.
    fn write(&mut self, text: &str, end: usize, reindent: bool) {
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                self.out.push('\n');
            }
            if (i == 0 || reindent) && !line.is_empty() {
                self.indent();
            }
            self.out.push_str(line);
        }
        self.last = self.last.max(end);
        self.trailing(end);
        self.out.push('\n');
        self.after_open = text.ends_with('{');
    }

    /// A line of code starting at source offset `start` and ending at `end`.
    fn line(&mut self, start: usize, text: &str, end: usize) {
        self.leading(end);
        self.separate(start);
        self.write(text, end, true);
    }

    /// A line starting with the `}` of the current block: the comments before
    /// it stay inside the block.
    fn close(&mut self, text: &str, end: usize) {
        self.leading(end);
        self.depth -= 1;
        self.write(text, end, true);
    }

    /// Source text printed as it is, for what the parser could not read (only
    /// reachable when formatting a file with errors through `format_file`).
    fn verbatim(&mut self, start: usize, end: usize) {
        self.leading(start);
        self.separate(start);
        while self.pending().is_some_and(|c| (c.span.start as usize) < end) {
            // these are part of the verbatim text already
            self.next += 1;
        }
        let text = self.src.get(start..end).unwrap_or_default();
        self.write(text, end, false);
    }

    /// Offset just after `ch` if it is the next token after `pos`.
    fn after(&self, pos: usize, ch: u8) -> Option<usize> {
        let bytes = self.src.as_bytes();
        let mut pos = pos;
        loop {
            while bytes.get(pos).is_some_and(u8::is_ascii_whitespace) {
                pos += 1;
            }
            match self.comments.binary_search_by_key(&pos, |c| c.span.start as usize) {
                Ok(i) => pos = self.comments[i].span.end as usize,
                Err(_) => break,
            }
        }
        (bytes.get(pos) == Some(&ch)).then_some(pos + 1)
    }

    /// Offset just after the first `ch` at or after `pos` outside comments.
    fn find(&self, pos: usize, ch: u8) -> Option<usize> {
        let bytes = self.src.as_bytes();
        let mut pos = pos;
        while let Some(&byte) = bytes.get(pos) {
            if let Ok(i) = self.comments.binary_search_by_key(&pos, |c| c.span.start as usize) {
                pos = self.comments[i].span.end as usize;
            } else if byte == ch {
                return Some(pos + 1);
            } else {
                pos += 1;
            }
        }
        None
    }

    // ----- items -----

    fn items(&mut self, items: &[Item]) {
        let mut previous: Option<Option<Group>> = None;
        for item in items {
            let group = self.group(item);
            if let Some(previous) = previous {
                self.force_blank = previous.is_none() || previous != group;
            }
            self.item(item);
            previous = Some(group);
        }
        self.leading(usize::MAX);
    }

    fn group(&self, item: &Item) -> Option<Group> {
        match &item.kind {
            ItemKind::Typedef(decl) if inline_body(self.split_declaration(decl).0).is_none() => Some(Group::Typedef),
            ItemKind::Resource { .. } => Some(Group::Resource),
            ItemKind::TagDeclaration { .. } => Some(Group::Typedef),
            ItemKind::BufRegistry(_) => Some(Group::BufRegistry),
            ItemKind::Constant(_) => Some(Group::Constant),
            ItemKind::Function(Function { decl, body: None }) if !self.prototype("", decl, ";").contains('\n') => Some(Group::Prototype),
            ItemKind::Callback(Function { decl, body: None }) if !self.prototype("callback ", decl, ";").contains('\n') => {
                Some(Group::CallbackPrototype)
            }
            _ => None,
        }
    }

    fn item(&mut self, item: &Item) {
        let start = item.span.start as usize;
        let end = item.span.end as usize;
        match &item.kind {
            ItemKind::Api(api) => self.api(start, api, end),
            ItemKind::Typedef(decl) => self.declaration_line(start, "typedef ", decl, ";", end),
            ItemKind::TagDefinition(def) => {
                let name_end = def.name.span.end as usize;
                let open = self.after(name_end, b'{').unwrap_or(name_end);
                let head = format!("{} {}", def.kind.keyword(), def.name.node);
                self.tag_body(start, &head, open, &def.body, ";", end);
            }
            ItemKind::Function(function) => self.function(start, "", function, end),
            ItemKind::Callback(function) => self.function(start, "callback ", function, end),
            ItemKind::Utility(utility) => {
                let decl_end = utility.decl.span.end as usize;
                let open = self.after(decl_end, b'{').unwrap_or(decl_end);
                let header = self.prototype("utility ", &utility.decl, " {");
                self.line(start, &format!("{header} {{"), open);
                self.depth += 1;
                let body_end = utility.body.span.end as usize;
                let semi = self.after(body_end, b';').unwrap_or(body_end);
                let text = format!("return {};", self.expr_at(&utility.body, TERNARY));
                if INDENT.len() * self.depth + text.len() <= MAX_WIDTH || !matches!(utility.body.kind, ExprKind::Ternary(..)) {
                    self.line(utility.body.span.start as usize, &text, semi);
                } else {
                    self.ternary_chain(&utility.body, semi);
                }
                self.close("}", end);
            }
            ItemKind::Constant(constant) => {
                let text = format!("{} = {};", self.declaration(&constant.decl), self.expr_at(&constant.value, TERNARY));
                self.line(start, &text, end);
            }
            ItemKind::TypeScope { ty, body } => {
                let header = format!("type({})", self.type_name(ty));
                self.chain(start, &[(header, body)], end);
            }
            ItemKind::Default { category, body } => {
                self.chain(start, &[(format!("default({})", category.node), body)], end);
            }
            ItemKind::Resource { kind, name } => {
                let keyword = match kind {
                    ResourceKind::Continuous => "continuous_rc",
                    ResourceKind::Instantaneous => "instantaneous_rc",
                };
                self.line(start, &format!("{keyword} {};", name.node), end);
            }
            ItemKind::Policy(file) => self.line(start, &format!("policy({});", string_literal(&file.node)), end),
            ItemKind::DeclareMetadata(ty) => {
                let text = format!("declare_metadata({});", self.type_name(ty));
                self.line(start, &text, end);
            }
            ItemKind::BufRegistry(name) => self.line(start, &format!("buf_registry {};", name.node), end),
            ItemKind::TagDeclaration { kind, name } => self.line(start, &format!("{} {};", kind.keyword(), name.node), end),
            ItemKind::Error => self.verbatim(start, end),
        }
    }

    fn api(&mut self, start: usize, api: &ApiBlock, end: usize) {
        let name_end = api.name.span.end as usize;
        let open = self.after(name_end, b'{').unwrap_or(name_end);
        let head = format!("api {}", api.name.node);
        if api.entries.is_empty() && !self.has_comment_in(open.saturating_sub(1), end) {
            self.line(start, &format!("{head} {{}}"), end);
            return;
        }
        self.line(start, &format!("{head} {{"), open);
        self.depth += 1;
        for entry in &api.entries {
            let value = match &entry.value {
                ApiValue::Expr(expr) => {
                    let text = self.expr_at(expr, TERNARY);
                    // `todo(...)` right after `=` is read as the placeholder, not a call
                    if matches!(&expr.kind, ExprKind::Call(name, _) if name.node == "todo") {
                        format!("({text})")
                    } else {
                        text
                    }
                }
                ApiValue::List(items) => {
                    let items: Vec<String> = items.iter().map(|e| self.expr_at(e, TERNARY)).collect();
                    format!("[{}]", items.join(", "))
                }
                ApiValue::Todo(reason) => format!("todo({})", string_literal(&reason.node)),
            };
            let text = format!("{} = {value};", entry.key.node);
            self.line(entry.span.start as usize, &text, entry.span.end as usize);
        }
        self.close("}", end);
    }

    fn function(&mut self, start: usize, prefix: &str, function: &Function, end: usize) {
        match &function.body {
            None => {
                let text = format!("{};", self.prototype(prefix, &function.decl, ";"));
                self.line(start, &text, end);
            }
            Some(body) => {
                let header = self.prototype(prefix, &function.decl, " {");
                self.chain(start, &[(header, body)], end);
            }
        }
    }

    /// `prefix` and the prototype, with one parameter per line when the line
    /// (ending in `suffix`) would be longer than [`MAX_WIDTH`].
    fn prototype(&self, prefix: &str, decl: &Declaration, suffix: &str) -> String {
        let one_line = format!("{prefix}{}", self.declaration(decl));
        let width = self.depth * INDENT.len() + one_line.chars().count() + suffix.len();
        if width <= MAX_WIDTH {
            return one_line;
        }
        let (TypeExprKind::Function { ret, params, variadic }, Some(name)) = (&decl.ty.kind, &decl.name) else {
            return one_line;
        };
        // Only when the parameter list ends the declarator (the return type
        // adds nothing but stars) can it be broken over lines.
        let mut base = ret.as_ref();
        while let TypeExprKind::Pointer(inner) | TypeExprKind::Const(inner) = &base.kind {
            base = inner;
        }
        if params.is_empty() || matches!(base.kind, TypeExprKind::Array { .. } | TypeExprKind::Function { .. }) {
            return one_line;
        }
        let (spec, head) = self.split(ret, Some(&format!("{}(", name.node)));
        let mut params = self.params(params, *variadic);
        for param in &mut params {
            param.insert_str(0, INDENT);
        }
        format!("{prefix}{}\n{}\n)", join(&self.specifiers(spec), &head), params.join(",\n"))
    }

    /// A declaration on its own line (a typedef or a field): an inline
    /// `struct`/`union`/`enum` body is laid out one member per line.
    fn declaration_line(&mut self, start: usize, prefix: &str, decl: &Declaration, suffix: &str, end: usize) {
        let (spec, declarator) = self.split_declaration(decl);
        let Some((is_const, kind, name, body)) = inline_body(spec) else {
            let text = format!("{prefix}{}{suffix}", self.declaration(decl));
            self.line(start, &text, end);
            return;
        };
        let spec_start = spec.span.start as usize;
        let open = self.find(spec_start, b'{').unwrap_or(spec_start);
        let mut head = format!("{prefix}{}{}", if is_const { "const " } else { "" }, kind.keyword());
        if let Some(name) = name {
            head.push(' ');
            head.push_str(name);
        }
        let tail = if declarator.is_empty() { suffix.to_string() } else { format!(" {declarator}{suffix}") };
        self.tag_body(start, &head, open, body, &tail, end);
    }

    /// `head {` members `}tail`, or `head {}tail` when there are none.
    fn tag_body(&mut self, start: usize, head: &str, open: usize, body: &TagBody, tail: &str, end: usize) {
        let empty = match body {
            TagBody::Fields(fields) => fields.is_empty(),
            TagBody::Enumerators(enumerators) => enumerators.is_empty(),
        };
        if empty && !self.has_comment_in(open.saturating_sub(1), end) {
            self.line(start, &format!("{head} {{}}{tail}"), end);
            return;
        }
        self.line(start, &format!("{head} {{"), open);
        self.depth += 1;
        match body {
            TagBody::Fields(fields) => {
                for field in fields {
                    let decl_end = field.span.end as usize;
                    let semi = self.after(decl_end, b';').unwrap_or(decl_end);
                    self.declaration_line(field.span.start as usize, "", field, ";", semi);
                }
            }
            TagBody::Enumerators(enumerators) => {
                for enumerator in enumerators {
                    let mut text = enumerator.name.node.clone();
                    let mut last = enumerator.name.span.end as usize;
                    if let Some(value) = &enumerator.value {
                        text = format!("{text} = {}", self.expr_at(value, TERNARY));
                        last = value.span.end as usize;
                    }
                    text.push(',');
                    let comma = self.after(last, b',').unwrap_or(last);
                    self.line(enumerator.name.span.start as usize, &text, comma);
                }
            }
        }
        self.close(&format!("}}{tail}"), end);
    }

    // ----- descriptor blocks -----

    fn is_empty_block(&self, block: &Block) -> bool {
        block.stmts.is_empty() && !self.has_comment_in(block.span.start as usize, block.span.end as usize)
    }

    /// Blocks that share lines: `header {` ... `} header {` ... `}`. An empty
    /// block prints `{}` and the next header follows it on the same line.
    fn chain(&mut self, start: usize, segments: &[(String, &Block)], end: usize) {
        let mut line = String::new();
        // whether `line` starts with the `}` of a block still open
        let mut closing = false;
        for (i, (header, block)) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(header);
            if self.is_empty_block(block) {
                line.push_str(" {}");
                if !last {
                    continue;
                }
                if closing {
                    self.close(&line, end);
                } else {
                    self.line(start, &line, end);
                }
            } else {
                line.push_str(" {");
                let open = block.span.start as usize + 1;
                if closing {
                    self.close(&line, open);
                } else {
                    self.line(start, &line, open);
                }
                self.depth += 1;
                for stmt in &block.stmts {
                    self.stmt(stmt);
                }
                line = "}".to_string();
                closing = true;
                if last {
                    self.close(&line, end);
                }
            }
        }
    }

    fn stmt(&mut self, stmt: &Stmt) {
        let start = stmt.span.start as usize;
        let end = stmt.span.end as usize;
        match &stmt.kind {
            StmtKind::Descriptor(descriptor) => {
                let text = format!("{};", self.descriptor(descriptor));
                self.line(start, &text, end);
            }
            StmtKind::Argument { name, body } => self.chain(start, &[(format!("argument({})", name.node), body)], end),
            StmtKind::Element(body) => self.chain(start, &[("element".to_string(), body)], end),
            StmtKind::ReturnValue(body) => self.chain(start, &[("return_value".to_string(), body)], end),
            StmtKind::Field { name, body } => self.chain(start, &[(format!("field({})", name.node), body)], end),
            StmtKind::If { cond, then, otherwise } => {
                let mut segments = vec![(format!("if ({})", self.expr_at(cond, TERNARY)), then)];
                let mut otherwise = otherwise.as_ref();
                while let Some(block) = otherwise {
                    if let [Stmt { kind: StmtKind::If { cond, then, otherwise: next }, .. }] = block.stmts.as_slice() {
                        segments.push((format!("else if ({})", self.expr_at(cond, TERNARY)), then));
                        otherwise = next.as_ref();
                    } else {
                        segments.push(("else".to_string(), block));
                        otherwise = None;
                    }
                }
                self.chain(start, &segments, end);
            }
            StmtKind::ContextualArgument { decl, value } => {
                let text = format!("contextual_argument {} = {};", self.declaration(decl), self.expr_at(value, TERNARY));
                self.line(start, &text, end);
            }
            StmtKind::Replace { side, code } => {
                let keyword = match side {
                    ReplaceSide::Guest => "replace_guest",
                    ReplaceSide::Server => "replace_server",
                };
                // The block is Rust, kept byte for byte: re-indenting it would
                // change the code the tree holds.
                self.leading(end);
                self.separate(start);
                self.write(&format!("{keyword} {{{}}}", code.node), end, false);
            }
            StmtKind::Expr(expr) => {
                let text = format!("{};", self.expr_stmt(expr));
                self.line(start, &text, end);
            }
            StmtKind::Error => self.verbatim(start, end),
        }
    }

    fn descriptor(&self, descriptor: &Descriptor) -> String {
        let Some(args) = &descriptor.args else {
            return descriptor.name.node.clone();
        };
        let args: Vec<String> = args
            .iter()
            .map(|arg| match arg {
                DescriptorArg::Expr(expr) => self.expr_at(expr, TERNARY),
                DescriptorArg::Type(ty) => self.type_name(ty),
            })
            .collect();
        format!("{}({})", descriptor.name.node, args.join(", "))
    }

    /// An expression statement, parenthesized where the parser would otherwise
    /// read it as a descriptor or a scope.
    fn expr_stmt(&self, expr: &Expr) -> String {
        let (target, value) = match &expr.kind {
            ExprKind::Assign(target, value) => (target.as_ref(), Some(value.as_ref())),
            _ => (expr, None),
        };
        let mut target_text = self.expr_at(target, TERNARY);
        let rest = match value {
            Some(value) => format!(" = {}", self.expr_at(value, TERNARY)),
            None => String::new(),
        };
        if !reads_as_expression(&format!("{target_text}{rest};")) {
            target_text = format!("({target_text})");
        }
        target_text + &rest
    }

    // ----- C declarations -----

    /// Splits a type into its specifiers and the declarator around `name`,
    /// e.g. `void (*cb)(int)` into `void` and `(*cb)(int)`.
    fn split<'t>(&self, ty: &'t TypeExpr, name: Option<&str>) -> (&'t TypeExpr, String) {
        let mut ty = ty;
        let mut declarator = name.unwrap_or_default().to_string();
        // a declarator starting with `*` needs parentheses before a suffix
        let mut starred = false;
        loop {
            match &ty.kind {
                TypeExprKind::Pointer(inner) => {
                    declarator.insert(0, '*');
                    starred = true;
                    ty = inner;
                }
                TypeExprKind::Const(inner) => {
                    // a const base type (`const char`) belongs to the specifiers
                    let TypeExprKind::Pointer(pointee) = &inner.kind else {
                        return (ty, declarator);
                    };
                    declarator = if declarator.is_empty() { "* const".to_string() } else { format!("* const {declarator}") };
                    starred = true;
                    ty = pointee;
                }
                TypeExprKind::Array { element, len } => {
                    if starred {
                        declarator = format!("({declarator})");
                        starred = false;
                    }
                    let len = len.as_ref().map(|len| self.expr_at(len, TERNARY)).unwrap_or_default();
                    declarator = format!("{declarator}[{len}]");
                    ty = element;
                }
                TypeExprKind::Function { ret, params, variadic } => {
                    if starred {
                        declarator = format!("({declarator})");
                        starred = false;
                    }
                    declarator = format!("{declarator}({})", self.params(params, *variadic).join(", "));
                    ty = ret;
                }
                _ => return (ty, declarator),
            }
        }
    }

    fn split_declaration<'t>(&self, decl: &'t Declaration) -> (&'t TypeExpr, String) {
        self.split(&decl.ty, decl.name.as_ref().map(|n| n.node.as_str()))
    }

    fn params(&self, params: &[Declaration], variadic: bool) -> Vec<String> {
        let mut out: Vec<String> = params.iter().map(|p| self.declaration(p)).collect();
        if variadic {
            out.push("...".to_string());
        } else if out.is_empty() {
            out.push("void".to_string());
        }
        out
    }

    fn declaration(&self, decl: &Declaration) -> String {
        let (spec, declarator) = self.split_declaration(decl);
        join(&self.specifiers(spec), &declarator)
    }

    /// A type without a name, as in `sizeof(T)` or `type(T)`.
    fn type_name(&self, ty: &TypeExpr) -> String {
        let (spec, declarator) = self.split(ty, None);
        join(&self.specifiers(spec), &declarator)
    }

    /// The specifiers; an inline body is printed on one line here.
    fn specifiers(&self, ty: &TypeExpr) -> String {
        match &ty.kind {
            TypeExprKind::Builtin(builtin) => builtin.c_name().to_string(),
            TypeExprKind::Named(name) => name.clone(),
            TypeExprKind::Const(inner) => format!("const {}", self.specifiers(inner)),
            TypeExprKind::Tag { kind, name, body } => {
                let mut text = kind.keyword().to_string();
                if let Some(name) = name {
                    text.push(' ');
                    text.push_str(name);
                }
                if let Some(body) = body {
                    let members: Vec<String> = match body.as_ref() {
                        TagBody::Fields(fields) => fields.iter().map(|f| format!("{};", self.declaration(f))).collect(),
                        TagBody::Enumerators(enumerators) => enumerators
                            .iter()
                            .map(|e| match &e.value {
                                Some(value) => {
                                    format!("{} = {}", e.name.node, self.expr_at(value, TERNARY))
                                }
                                None => e.name.node.clone(),
                            })
                            .collect(),
                    };
                    let separator = if *kind == TagKind::Enum { ", " } else { " " };
                    if members.is_empty() {
                        text.push_str(" {}");
                    } else {
                        text = format!("{text} {{ {} }}", members.join(separator));
                    }
                }
                text
            }
            // only a malformed tree puts a derived type here
            _ => self.type_name(ty),
        }
    }

    // ----- expressions -----

    /// `expr` printed where an expression of at least `min` binding strength
    /// is expected, parenthesized if it binds more loosely.
    fn expr_at(&self, expr: &Expr, min: u8) -> String {
        let text = self.expr_text(expr);
        if strength(expr) < min {
            format!("({text})")
        } else {
            text
        }
    }

    /// A long `return a ? x : b ? y : z;` with one alternative per line:
    ///
    /// ```text
    /// return a ? x
    ///     : b ? y
    ///     : z;
    /// ```
    fn ternary_chain(&mut self, body: &Expr, semi: usize) {
        let mut arms = Vec::new();
        let mut rest = body;
        while let ExprKind::Ternary(cond, then, otherwise) = &rest.kind {
            arms.push((cond.span.start as usize, format!("{} ? {}", self.expr_at(cond, TERNARY + 1), self.expr_at(then, TERNARY))));
            rest = otherwise;
        }
        arms.push((rest.span.start as usize, self.expr_at(rest, TERNARY)));
        let last = arms.len() - 1;
        for (i, (start, text)) in arms.into_iter().enumerate() {
            let end = if i == last { semi } else { start };
            match i {
                0 => self.line(start, &format!("return {text}"), end),
                _ if i == last => self.line(start, &format!(": {text};"), end),
                _ => self.line(start, &format!(": {text}"), end),
            }
            if i == 0 {
                self.depth += 1;
            }
        }
        self.depth -= 1;
    }

    /// A hexadecimal literal as the author spelled it: a magic number or a
    /// mask (`0xBA55ED50`, `0xFFFF`) reads best in hex. Other literals are
    /// printed from their value.
    fn int_as_written(&self, expr: &Expr) -> Option<String> {
        let text = self.src.get(expr.span.start as usize..expr.span.end as usize)?;
        let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))?;
        let hex = !digits.is_empty() && digits.chars().all(|c| c.is_ascii_alphanumeric());
        hex.then(|| text.to_string())
    }

    fn expr_text(&self, expr: &Expr) -> String {
        match &expr.kind {
            ExprKind::Int(value) => self.int_as_written(expr).unwrap_or_else(|| value.to_string()),
            ExprKind::Float(value) => float_literal(*value),
            ExprKind::Str(value) => string_literal(value),
            ExprKind::Char(value) => char_literal(*value),
            ExprKind::Name(name) => name.clone(),
            ExprKind::Unary(op, operand) => {
                let operand = self.expr_at(operand, UNARY);
                // `& &x`: written together they would lex as `&&`
                let space = if *op == UnaryOp::AddrOf && operand.starts_with('&') { " " } else { "" };
                format!("{}{space}{operand}", op.as_str())
            }
            ExprKind::Binary(op, lhs, rhs) => {
                let strength = binary_strength(*op);
                format!("{} {} {}", self.expr_at(lhs, strength), op.as_str(), self.expr_at(rhs, strength + 1))
            }
            ExprKind::Assign(target, value) => {
                format!("{} = {}", self.expr_at(target, TERNARY), self.expr_at(value, TERNARY))
            }
            ExprKind::Ternary(cond, then, otherwise) => {
                format!("{} ? {} : {}", self.expr_at(cond, TERNARY + 1), self.expr_at(then, TERNARY), self.expr_at(otherwise, TERNARY))
            }
            ExprKind::Call(name, args) => {
                let args: Vec<String> = args.iter().map(|a| self.expr_at(a, TERNARY)).collect();
                let args = args.join(", ");
                // `sizeof(x)` with a lone name or `sizeof(a * b)` would be read as a type
                if name.node == "sizeof" && reads_as_type(&args) {
                    format!("sizeof(({args}))")
                } else {
                    format!("{}({args})", name.node)
                }
            }
            ExprKind::SizeofType(ty) => format!("sizeof({})", self.type_name(ty)),
            ExprKind::Member { base, field, arrow } => {
                format!("{}{}{}", self.postfix_base(base), if *arrow { "->" } else { "." }, field.node)
            }
            ExprKind::Index(base, index) => format!("{}[{}]", self.postfix_base(base), self.expr_at(index, TERNARY)),
            ExprKind::Error => self.src.get(expr.span.range()).unwrap_or_default().to_string(),
        }
    }

    fn postfix_base(&self, base: &Expr) -> String {
        // `1.x` would lex as the number `1.`
        if matches!(base.kind, ExprKind::Int(_) | ExprKind::Float(_)) {
            return format!("({})", self.expr_text(base));
        }
        self.expr_at(base, POSTFIX)
    }
}

fn strength(expr: &Expr) -> u8 {
    match &expr.kind {
        ExprKind::Assign(..) => ASSIGN,
        ExprKind::Ternary(..) => TERNARY,
        ExprKind::Binary(op, ..) => binary_strength(*op),
        ExprKind::Unary(..) => UNARY,
        _ => POSTFIX,
    }
}

fn binary_strength(op: BinaryOp) -> u8 {
    op.precedence() + TERNARY
}

/// The specifiers of a declaration when they hold an inline body:
/// `(const, kind, name, body)`.
fn inline_body(spec: &TypeExpr) -> Option<(bool, TagKind, Option<&str>, &TagBody)> {
    let (is_const, spec) = match &spec.kind {
        TypeExprKind::Const(inner) => (true, inner.as_ref()),
        _ => (false, spec),
    };
    match &spec.kind {
        TypeExprKind::Tag { kind, name, body: Some(body) } => Some((is_const, *kind, name.as_deref(), body)),
        _ => None,
    }
}

fn join(specifiers: &str, declarator: &str) -> String {
    if declarator.is_empty() {
        specifiers.to_string()
    } else if declarator.starts_with('[') {
        format!("{specifiers}{declarator}")
    } else {
        format!("{specifiers} {declarator}")
    }
}

/// The leading identifier of `text` and what follows it.
fn leading_word(text: &str) -> Option<(&str, &str)> {
    let len = text.find(|c: char| !(c == '_' || c.is_ascii_alphanumeric())).unwrap_or(text.len());
    let word = &text[..len];
    let starts_like_ident = word.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic());
    starts_like_ident.then(|| (word, text[len..].trim_start()))
}

/// Whether the parser reads `sizeof(text)` as `sizeof` of a type.
fn reads_as_type(text: &str) -> bool {
    leading_word(text).is_some_and(|(word, rest)| TYPE_WORDS.contains(&word) || rest.is_empty() || rest.starts_with('*'))
}

/// Whether the parser reads the statement `text` as an expression statement
/// (and not as a descriptor, a scope or an error).
fn reads_as_expression(text: &str) -> bool {
    if text.starts_with(['(', '*']) {
        return true;
    }
    let Some((word, rest)) = leading_word(text) else {
        return false;
    };
    if matches!(word, "if" | "contextual_argument" | "replace_guest" | "replace_server") {
        return false;
    }
    if matches!(word, "argument" | "field") && rest.starts_with('(') {
        return false;
    }
    descriptors::is_stdlib_function(word) || !rest.starts_with(['(', ';'])
}

fn float_literal(value: f64) -> String {
    if value.is_infinite() {
        // the lexer reads an overflowing literal as infinity
        return "1e999".to_string();
    }
    // `{:?}` always shows a `.` or an exponent, so the text lexes as a float again
    format!("{value:?}")
}

fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for ch in value.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            other => push_escaped(&mut out, other),
        }
    }
    out.push('"');
    out
}

fn char_literal(value: u32) -> String {
    let Some(ch) = char::from_u32(value) else {
        // not produced by the lexer, which only reads characters
        return value.to_string();
    };
    let mut out = String::from("'");
    match ch {
        '\'' => out.push_str("\\'"),
        other => push_escaped(&mut out, other),
    }
    out.push('\'');
    out
}

/// The escapes the lexer knows, shared by strings and characters.
fn push_escaped(out: &mut String, ch: char) {
    match ch {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\0' => out.push_str("\\0"),
        '\\' => out.push_str("\\\\"),
        other => out.push(other),
    }
}

/// A comment as printed: without trailing whitespace on any of its lines (a
/// line comment read from a CRLF file ends in `\r`).
fn comment_text(comment: &Comment) -> String {
    comment.text.lines().map(str::trim_end).collect::<Vec<_>>().join("\n")
}
