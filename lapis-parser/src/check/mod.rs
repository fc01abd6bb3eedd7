//! The checker: syntax tree in, resolved [`Spec`] plus diagnostics out.
//!
//! It runs in passes over the whole file so that nothing depends on
//! declaration order: names are collected first, then C types are lowered,
//! then constants, utilities, callbacks and functions are resolved, and last
//! the whole-spec rules (`deallocate` without `allocate`, unused
//! declarations) run. Every pass reports and goes on; a broken item yields a
//! placeholder, and errors caused only by earlier errors are not repeated.

pub mod api;
mod exprs;
mod functions;
mod release;
mod types;
mod values;

use std::collections::{HashMap, HashSet};

use crate::ast::{self, ItemKind, SourceFile};
use crate::diagnostic::{self, Code, Diagnostic};
use crate::ir::{self, Spec, Type};
use crate::span::Span;

/// The result of checking: the model (complete even when there are errors,
/// with placeholders where items were broken) and every diagnostic.
#[derive(Debug)]
pub struct Checked {
    pub spec: Spec,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks a parsed spec.
pub fn check(file: &SourceFile) -> Checked {
    let mut checker = Checker::default();
    checker.run(file);
    let mut diagnostics = std::mem::take(&mut checker.diagnostics);
    dedupe(&mut diagnostics);
    Checked { spec: checker.spec, diagnostics }
}

/// Parses and checks, returning the syntax tree too (for `dump` and the LSP).
pub fn check_source(source: &str) -> (SourceFile, Checked) {
    let (file, mut diagnostics) = crate::parse(source);
    let mut checked = check(&file);
    diagnostics.append(&mut checked.diagnostics);
    dedupe(&mut diagnostics);
    checked.diagnostics = diagnostics;
    (file, checked)
}

/// Sorts by position and drops exact repeats, which arise when a value is
/// resolved once per branch of an `if`.
fn dedupe(diagnostics: &mut Vec<Diagnostic>) {
    diagnostic::sort(diagnostics);
    let mut seen = HashSet::new();
    diagnostics.retain(|d| seen.insert((d.code, d.primary.span, d.message.clone())));
}

/// Where a name was declared, for "defined more than once" and go-to-definition.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Declared<T> {
    pub id: T,
    pub span: Span,
}

/// Something an expression name can stand for at top level.
#[derive(Clone, Copy, Debug)]
pub(crate) enum GlobalValue {
    Constant(ir::ConstantId),
}

/// A callback whose registration is its own rather than shared by the
/// process (`once`, `coupled`): where its lifetime is written, the value's
/// name, whether it is an argument itself, and the lifetime. Checked with
/// its function (see `functions.rs`), which knows the other arguments and
/// the return value.
pub(crate) struct OwnSite {
    pub span: Span,
    pub name: String,
    pub is_argument: bool,
    pub lifetime: ir::Lifetime,
}

#[derive(Default)]
pub(crate) struct Checker {
    pub spec: Spec,
    pub diagnostics: Vec<Diagnostic>,
    /// Typedef names and tag names (`struct T` is stored as "struct T").
    pub type_names: HashMap<String, Declared<ir::TypeId>>,
    pub globals: HashMap<String, Declared<GlobalValue>>,
    pub function_names: HashMap<String, Declared<ir::FunctionId>>,
    pub callback_names: HashMap<String, Declared<ir::CallbackId>>,
    pub utility_names: HashMap<String, Declared<ir::UtilityId>>,
    pub resource_names: HashMap<String, Declared<ir::ResourceId>>,
    pub registry_names: HashMap<String, Declared<ir::RegistryId>>,
    /// `type(T) { ... }` blocks, keyed by the lowered `T`.
    pub type_scopes: Vec<(Type, ast::Block)>,
    /// `default(category) { ... }` blocks.
    pub category_scopes: Vec<(types::Category, ast::Block)>,
    /// `userdata` descriptors of the function being resolved, with the
    /// callback argument they name, if any.
    pub userdata_sites: Vec<(Span, Option<usize>)>,
    /// Each callback of the function being checked whose registration is
    /// its own (`lifetime(once)`, `lifetime(coupled(...))`).
    pub own_sites: Vec<OwnSite>,
    /// Bodies of `type(T)` and `default(C)` scopes: errors inside them are
    /// reported when the scope is checked on its own, not again at every use.
    pub scope_blocks: Vec<Span>,
    pub checking_scopes_alone: bool,
    pub suppressed_errors: usize,
    /// Errors reported so far (kept as a count: it is read for every value).
    pub errors: usize,
    pub reported_no_metadata: bool,
    pub reported_recursion: bool,
    /// Evaluation state of each constant, indexed like `spec.constants`.
    pub const_states: Vec<types::ConstState>,
    /// Tracking for whole-spec rules.
    pub usage: Usage,
    /// `variant_of` descriptors, resolved after all functions.
    pub variants: Vec<functions::PendingVariant>,
    /// Functions with `release_at_exit`, and where it is written.
    pub releases: Vec<(ir::FunctionId, Span)>,
    /// The `api` block's `resolver`, checked after all functions.
    pub resolver: Option<crate::span::Spanned<String>>,
    /// Where the statements of the function being checked name `return_value`.
    pub return_value_uses: Vec<Span>,
}

#[derive(Default)]
pub(crate) struct Usage {
    pub resources: HashSet<ir::ResourceId>,
    pub registries: HashSet<ir::RegistryId>,
    pub callbacks: HashSet<ir::CallbackId>,
    pub utilities: HashSet<ir::UtilityId>,
    /// Resolved handle types some value `allocate`s.
    pub allocated_handles: HashSet<Type>,
    /// `deallocate` on handles, checked once all functions are known.
    /// (resolved type, the type as the spec wrote it, where).
    pub deallocated_handles: Vec<(Type, String, Span)>,
    pub manual_buffers: bool,
    pub deallocated_buffers: Vec<Span>,
}

impl Default for Spec {
    fn default() -> Spec {
        Spec {
            api: api::placeholder(),
            types: Vec::new(),
            functions: Vec::new(),
            callbacks: Vec::new(),
            resources: Vec::new(),
            registries: Vec::new(),
            utilities: Vec::new(),
            constants: Vec::new(),
            metadata: None,
            policies: Vec::new(),
        }
    }
}

impl Checker {
    /// Checks every `type(T)` and `default(C)` scope once on its own, as if
    /// describing one value of that type, so that mistakes in a scope are
    /// reported once (and even when nothing uses it). Missing descriptions
    /// are not reported here: an argument scope may still give them.
    fn check_scopes_alone(&mut self, file: &SourceFile) {
        use crate::ir::BuiltinType;
        let void_ptr = |pointee_const| Type::Pointer { pointee: Box::new(Type::Builtin(BuiltinType::Void)), pointee_const };
        let mut subjects: Vec<(Type, String, Span)> = Vec::new();
        for item in &file.items {
            if let ItemKind::TypeScope { ty, .. } = &item.kind {
                if let Some(lowered) = self.lower_type(ty) {
                    let root = format!("every `{}`", self.type_name(&lowered));
                    subjects.push((lowered, root, ty.span));
                }
            }
            let ItemKind::Default { category, .. } = &item.kind else { continue };
            let representative = match types::Category::parse(&category.node) {
                Some(types::Category::Integer) => Type::Builtin(BuiltinType::Int),
                Some(types::Category::Float) => Type::Builtin(BuiltinType::Double),
                Some(types::Category::Pointer) => void_ptr(false),
                Some(types::Category::ConstPointer) => void_ptr(true),
                Some(types::Category::String) => Type::Pointer { pointee: Box::new(Type::Builtin(BuiltinType::Char)), pointee_const: true },
                Some(types::Category::FunctionPointer) => Type::Pointer {
                    pointee: Box::new(Type::Function(Box::new(ir::Signature {
                        ret: Type::Builtin(BuiltinType::Void),
                        params: Vec::new(),
                        variadic: false,
                    }))),
                    pointee_const: false,
                },
                // a struct needs fields to describe; its scopes are checked where structs are used
                Some(types::Category::Struct) | None => continue,
            };
            subjects.push((representative, format!("every {} value", category.node), category.span));
        }
        self.checking_scopes_alone = true;
        for (ty, root, span) in subjects {
            let mut subject = values::Subject::new(span, root, "this");
            subject.lenient = true;
            let env = exprs::Env { runtime: true, hides_arguments: true, ..exprs::Env::default() };
            self.resolve_value(&ty, Vec::new(), &env, &subject, 0);
        }
        self.checking_scopes_alone = false;
        self.userdata_sites.clear();
        self.own_sites.clear();
    }

    fn run(&mut self, file: &SourceFile) {
        self.collect_types(file);
        self.lower_type_definitions(file);
        self.collect_values(file);
        let api = file.items.iter().find_map(|item| match &item.kind {
            ItemKind::Api(block) => Some(block),
            _ => None,
        });
        self.check_api(api, file);
        self.collect_scopes(file);
        self.resolve_utilities(file);
        self.resolve_callbacks(file);
        self.check_scopes_alone(file);
        self.resolve_functions(file);
        self.check_resolver();
        self.whole_spec_rules();
    }

    pub(crate) fn report(&mut self, diagnostic: Diagnostic) {
        let at = diagnostic.primary.span;
        let in_scope_block = self.scope_blocks.iter().any(|b| b.start <= at.start && at.end <= b.end);
        if in_scope_block && !self.checking_scopes_alone {
            // still counted, so that the value it was about is not called undescribed
            self.suppressed_errors += usize::from(diagnostic.is_error());
            return;
        }
        self.errors += usize::from(diagnostic.is_error());
        self.diagnostics.push(diagnostic);
    }

    /// Errors so far, including those not shown again (see `report`).
    pub(crate) fn error_count(&self) -> usize {
        self.errors + self.suppressed_errors
    }

    /// Reports a second definition of `name`.
    pub(crate) fn duplicate(&mut self, what: &str, name: &str, span: Span, first: Span) {
        self.report(
            Diagnostic::error(Code::DuplicateDefinition, format!("{what} `{name}` is defined more than once"))
                .with_primary(span, "defined again here")
                .with_secondary(first, "first defined here"),
        );
    }

    /// Values, resources, registries and other non-type names.
    fn collect_values(&mut self, file: &SourceFile) {
        for item in &file.items {
            match &item.kind {
                ItemKind::Resource { kind, name } => {
                    let id = ir::ResourceId(self.spec.resources.len() as u32);
                    if let Some(first) = self.resource_names.get(&name.node) {
                        let first = first.span;
                        self.duplicate("resource", &name.node, name.span, first);
                        continue;
                    }
                    self.resource_names.insert(name.node.clone(), Declared { id, span: name.span });
                    self.spec.resources.push(ir::Resource { name: name.node.clone(), kind: *kind });
                }
                ItemKind::BufRegistry(name) => {
                    let id = ir::RegistryId(self.spec.registries.len() as u32);
                    if let Some(first) = self.registry_names.get(&name.node) {
                        let first = first.span;
                        self.duplicate("buffer registry", &name.node, name.span, first);
                        continue;
                    }
                    self.registry_names.insert(name.node.clone(), Declared { id, span: name.span });
                    self.spec.registries.push(ir::Registry { name: name.node.clone() });
                }
                ItemKind::Policy(file) => self.spec.policies.push(file.node.clone()),
                ItemKind::DeclareMetadata(ty) => {
                    if self.spec.metadata.is_some() {
                        self.report(
                            Diagnostic::error(Code::DuplicateDefinition, "the metadata type is declared more than once")
                                .with_primary(item.span, "declared again here")
                                .with_help("a spec has one metadata type; put everything in one struct"),
                        );
                        continue;
                    }
                    self.spec.metadata = self.lower_type(ty);
                }
                _ => {}
            }
        }
        self.resolve_constants(file);
    }

    fn collect_scopes(&mut self, file: &SourceFile) {
        for item in &file.items {
            match &item.kind {
                ItemKind::TypeScope { ty, body } => {
                    if let Some(lowered) = self.lower_type(ty) {
                        self.scope_blocks.push(body.span);
                        self.type_scopes.push((lowered, body.clone()));
                    }
                }
                ItemKind::Default { category, body } => match types::Category::parse(&category.node) {
                    Some(cat) => {
                        self.scope_blocks.push(body.span);
                        self.category_scopes.push((cat, body.clone()));
                    }
                    None => {
                        let names = crate::descriptors::CATEGORIES.iter().map(|(n, _)| *n);
                        let mut d = Diagnostic::error(Code::UnknownCategory, format!("unknown type category `{}`", category.node))
                            .with_primary(category.span, "not a category");
                        if let Some(best) = diagnostic::suggest(&category.node, names) {
                            d = d.with_help(format!("did you mean `{best}`?")).with_fix(category.span, best, format!("use `{best}`"));
                        } else {
                            d = d.with_help("categories: pointer, const_pointer, string, function_pointer, integer, float, struct");
                        }
                        self.report(d);
                    }
                },
                _ => {}
            }
        }
    }
}
