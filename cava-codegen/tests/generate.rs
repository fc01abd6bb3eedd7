//! Every spec in the repository generates, and its generated code is
//! snapshotted (formatted with prettyplease). That the generated crates
//! compile and run is tested by `cava-cli/tests/build.rs`.

mod common;

use cava_codegen::Content;
use cava_runtime::plan::binary::DecodeError;
use cava_runtime::plan::Plan;
use common::specs;
use std::path::Path;

fn options() -> cava_codegen::Options {
    cava_codegen::Options { runtime: cava_codegen::Runtime::Version("0.1.0".into()), missing: Vec::new(), symbol_versions: Vec::new() }
}

#[test]
fn every_spec_generates_and_matches_its_snapshot() {
    let specs = specs();
    assert!(specs.len() >= 3, "{specs:?}");
    for path in specs {
        let source = std::fs::read_to_string(&path).unwrap();
        let (_, checked) = lapis_parser::check_source(&source);
        assert!(!checked.has_errors(), "{}: {:?}", path.display(), checked.diagnostics);
        let files = cava_codegen::generate(&checked.spec, &options()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        // both crates carry the same expression code: reviewed once
        assert_eq!(files.get("server/src/expressions.rs"), files.get("guest/src/expressions.rs"), "{}", path.display());
        for (file, content) in files.files.iter().filter(|(file, _)| file != "server/src/expressions.rs") {
            let snapshot = format!("{name}__{}", file.replace('/', "_"));
            match content {
                Content::Text(content) => insta::assert_snapshot!(snapshot, content),
                Content::Bytes(bytes) => {
                    // the embedded plan: reviewed as plan.json, which must be the same plan
                    assert_eq!(file, "plan.bin");
                    let plan = Plan::from_bytes(bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    assert_eq!(Some(serde_json::to_string_pretty(&plan).unwrap() + "\n").as_deref(), files.get("plan.json"));
                }
            }
        }
    }
}

#[test]
fn both_halves_embed_the_same_contract_and_it_follows_the_spec() {
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/testlib/testlib.lapis")).unwrap();
    let (_, checked) = lapis_parser::check_source(&source);
    let files = cava_codegen::generate(&checked.spec, &options()).unwrap();
    let contract = format!("{}u128", cava_codegen::contract::contract_hash(&checked.spec));
    assert!(files.get("guest/src/lib.rs").unwrap().contains(&contract));
    assert!(files.get("server/src/main.rs").unwrap().contains(&contract));
    let changed = source.replacen("tl_status tl_mem_release(tl_mem mem)", "tl_status tl_mem_release(tl_mem mem, int extra)", 1);
    assert_ne!(changed, source);
    let (_, checked2) = lapis_parser::check_source(&changed);
    assert_ne!(cava_codegen::contract::contract_hash(&checked2.spec), cava_codegen::contract::contract_hash(&checked.spec));
}

#[test]
fn struct_layouts_follow_the_c_rules() {
    let source = "api a { version = \"1\"; headers = [\"a.h\"]; soname = \"liba.so.1\"; library = \"liba.so.1\"; \
                  error_type = int; success = 0; failure = -1; }\n\
                  struct s { char c; double d; short h; int a[3]; };\n\
                  union u { char c; long l; };\n\
                  struct outer { char c; struct s inner; union u x; };\n\
                  int f(const struct outer *o) { argument(o) { in; buffer(1); } }\n";
    let (_, checked) = lapis_parser::check_source(source);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let plan = cava_codegen::lower::lower(&checked.spec).unwrap().plan;
    let record = |name: &str| plan.records.iter().find(|r| r.name.ends_with(name)).unwrap();
    let s = record(" s");
    assert_eq!((s.size, s.align), (32, 8));
    assert_eq!(s.fields.iter().map(|f| f.offset).collect::<Vec<_>>(), vec![0, 8, 16, 20]);
    let u = record(" u");
    assert_eq!((u.size, u.align), (8, 8));
    let outer = record("outer");
    assert_eq!(outer.fields.iter().map(|f| f.offset).collect::<Vec<_>>(), vec![0, 8, 40]);
    assert_eq!(outer.size, 48);
}

#[test]
fn header_functions_missing_from_the_spec_are_exported_failing() {
    use cava_codegen::{AbiType, MissingFunction};
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/testlib/testlib.lapis")).unwrap();
    let (_, checked) = lapis_parser::check_source(&source);
    let int = AbiType::Int { size: 4, signed: true };
    let with_missing = cava_codegen::Options {
        missing: vec![
            MissingFunction { name: "tl_not_in_spec".into(), params: vec![int], ret: int, returns_error: true },
            MissingFunction {
                name: "tl_new_ptr".into(),
                params: vec![AbiType::Pointer, AbiType::Float { size: 8 }],
                ret: AbiType::Pointer,
                returns_error: false,
            },
            // described by the spec: exported once, forwarded
            MissingFunction { name: "tl_mem_release".into(), params: vec![AbiType::Pointer], ret: int, returns_error: true },
        ],
        ..options()
    };
    let files = cava_codegen::generate(&checked.spec, &with_missing).unwrap();
    let guest = files.get("guest/src/lib.rs").unwrap();
    let start = guest.find("/// `tl_not_in_spec`").expect("tl_not_in_spec is exported");
    insta::assert_snapshot!("missing_functions", &guest[start..]);
    assert_eq!(guest.matches("fn tl_mem_release(").count(), 1);
    let without = cava_codegen::generate(&checked.spec, &options()).unwrap();
    for plan in ["plan.json", "plan.bin"] {
        assert_eq!(files.content(plan), without.content(plan), "the plan is the spec's alone");
    }
}

#[test]
fn the_guest_carries_the_vendor_symbol_versions() {
    use cava_codegen::{AbiType, MissingFunction, VersionNode};
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/testlib/testlib.lapis")).unwrap();
    let (_, checked) = lapis_parser::check_source(&source);
    let int = AbiType::Int { size: 4, signed: true };
    let node = |name: &str, symbols: &[&str]| VersionNode { name: name.into(), symbols: symbols.iter().map(|s| s.to_string()).collect() };
    let versioned = cava_codegen::Options {
        missing: vec![MissingFunction { name: "tl_not_in_spec".into(), params: vec![int], ret: int, returns_error: true }],
        // tl_vendor_only: the vendor's, not the guest's, so not named
        symbol_versions: vec![node("TL_1.0", &["tl_get_devices", "tl_vendor_only"]), node("TL_1.1", &["tl_checksum", "tl_not_in_spec"])],
        ..options()
    };
    let files = cava_codegen::generate(&checked.spec, &versioned).unwrap();
    let script = files.get("guest/versions.map").unwrap();
    assert!(!script.contains("tl_vendor_only"));
    let at = |s: &str| script.find(s).unwrap_or_else(|| panic!("{s} missing:\n{script}"));
    assert!(at("TL_1.0 {") < at("tl_get_devices;") && at("tl_get_devices;") < at("local:") && at("local:") < at("TL_1.1 {"));
    assert!(at("TL_1.1 {") < at("tl_checksum;") && at("tl_not_in_spec;") > at("TL_1.1 {"));
    assert!(script.contains("} TL_1.0;"), "1.1 inherits 1.0:\n{script}");
    // every other export of the guest is in the oldest version
    assert!(at("tl_mem_create;") < at("TL_1.1 {"));
    assert!(files.get("guest/Cargo.toml").unwrap().contains("\"staticlib\""));
    assert!(cava_codegen::generate(&checked.spec, &options()).unwrap().get("guest/versions.map").is_none());
}

#[test]
fn a_variant_is_not_exported_and_is_served_by_the_function_it_describes() {
    use cava_codegen::{AbiType, MissingFunction, VersionNode};
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/specs/every_descriptor.lapis")).unwrap();
    let (_, checked) = lapis_parser::check_source(&source);
    assert!(!checked.has_errors());
    let int = AbiType::Int { size: 4, signed: true };
    let options = cava_codegen::Options {
        // a header function that happens to have the variant's name keeps its failing stub
        missing: vec![MissingFunction { name: "accReadNow".into(), params: vec![int], ret: int, returns_error: true }],
        symbol_versions: vec![VersionNode { name: "ACC_1.0".into(), symbols: vec!["accReadAsync".into(), "accReadNow".into()] }],
        ..options()
    };
    let files = cava_codegen::generate(&checked.spec, &options).unwrap();
    let guest = files.get("guest/src/lib.rs").unwrap();
    assert!(guest.contains("pub const accReadNow: u32"), "the variant has its function id");
    assert_eq!(guest.matches("pub unsafe extern \"C\" fn accReadNow(").count(), 1, "only the header's stub is exported");
    assert!(guest.contains("in the API's header, not in the spec"), "and that is the stub");
    assert!(guest.contains("pub const pending_reads: u32 = 0u32;"), "registries have ids");
    let plan: serde_json::Value = serde_json::from_str(files.get("plan.json").unwrap()).unwrap();
    let variant = plan["functions"].as_array().unwrap().iter().find(|f| f["name"] == "accReadNow").unwrap();
    assert_eq!(variant["variant_of"], "accReadAsync");
    assert_eq!(variant["mode"], "Sync");
    let script = files.get("guest/versions.map").unwrap();
    assert!(script.contains("accReadAsync;") && script.contains("accReadNow;"), "{script}");
    // without that header function, the variant's name is no export at all
    let files = cava_codegen::generate(&checked.spec, &cava_codegen::Options { missing: Vec::new(), ..options }).unwrap();
    assert!(!files.get("guest/src/lib.rs").unwrap().contains("extern \"C\" fn accReadNow("));
    let script = files.get("guest/versions.map").unwrap();
    assert!(script.contains("accReadAsync;") && !script.contains("accReadNow"), "{script}");
}

#[test]
fn every_plan_round_trips_through_its_binary_form() {
    for path in specs() {
        let source = std::fs::read_to_string(&path).unwrap();
        let (_, checked) = lapis_parser::check_source(&source);
        let plan = cava_codegen::lower::lower(&checked.spec).unwrap().plan;
        let json = serde_json::to_string(&plan).unwrap();
        let bytes = plan.to_bytes();
        let decoded = cava_runtime::plan::binary::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(decoded, plan, "{}", path.display());
        assert_eq!(serde_json::to_string(&decoded).unwrap(), json, "{}", path.display());
        // loaded, compiled, as generated code does: the same plan as from its JSON form
        let (from_bytes, from_json) = (Plan::from_bytes(&bytes).unwrap(), Plan::from_json(&json).unwrap());
        assert_eq!(from_bytes, from_json, "{}", path.display());
        assert_eq!(serde_json::to_string(&from_bytes).unwrap(), json, "{}", path.display());
    }
}

#[test]
fn a_truncated_or_corrupted_plan_is_an_error() {
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/opencl.lapis")).unwrap();
    let (_, checked) = lapis_parser::check_source(&source);
    let bytes = cava_codegen::lower::lower(&checked.spec).unwrap().plan.to_bytes();
    // every truncation is refused (a sample of them: the whole plan is large)
    for end in (0..bytes.len()).step_by(997).chain([bytes.len() - 1]) {
        let error = Plan::from_bytes(&bytes[..end]).unwrap_err();
        assert!(matches!(error, DecodeError::NotAPlan | DecodeError::Corrupt { .. }), "{end}: {error}");
    }
    // a flipped byte gives an error or another plan, never a panic
    for at in (16..bytes.len()).step_by(101) {
        let mut corrupt = bytes.clone();
        corrupt[at] ^= 0xa5;
        let _ = cava_runtime::plan::binary::decode(&corrupt);
    }
    let mut other_layout = bytes.clone();
    other_layout[12] ^= 1;
    let error = Plan::from_bytes(&other_layout).unwrap_err().to_string();
    assert!(error.contains("regenerate it with the `cava` of this runtime"), "{error}");
}

/// The plan of a spec of the repository (`spec` relative to its root).
fn plan_of(spec: &str) -> cava_runtime::plan::Plan {
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(spec)).unwrap();
    let (_, checked) = lapis_parser::check_source(&source);
    cava_codegen::lower::lower(&checked.spec).unwrap().plan
}

/// The call the API server makes to bring back a departed process's
/// pending reads, per registry (`Plan::drainers`): the one-handle call that
/// brings the registry's buffers back and frees them, never a release (it
/// would release the object a second time at departure) nor a call with
/// arguments the server would have to make up.
#[test]
fn each_registry_is_brought_back_by_its_one_handle_call() {
    let drainers = |spec: &str| {
        let plan = plan_of(spec);
        plan.drainers().iter().map(|d| d.map(|f| plan.functions[f as usize].name.clone())).collect::<Vec<_>>()
    };
    // pending_reads by clFinish; event_reads by no call of one handle
    // (cava_clWaitForEventReads takes a list), its buffers are pending_reads' too
    assert_eq!(drainers("specs/opencl.lapis"), [Some("clFinish".to_string()), None]);
    // not tl_release_queue (it deallocates the queue), nor
    // tl_queue_collect_reads (two arguments)
    assert_eq!(drainers("tests/testlib/testlib.lapis"), [Some("tl_queue_finish".to_string())]);
    assert_eq!(drainers("specs/cuda_figure_4_4.lapis"), [Some("cuStreamSynchronize".to_string())]);
    assert_eq!(drainers("tests/specs/every_descriptor.lapis"), [Some("accStreamSynchronize".to_string())]);
    assert_eq!(drainers("specs/cuda.lapis"), Vec::<Option<String>>::new());
}

/// The functions the API server calls on a departed process's objects
/// before it brings back its pending reads (`abandon_at_exit`).
#[test]
fn what_a_departed_process_left_waiting_is_settled_by_the_spec_s_abandon_calls() {
    let abandoners = |spec: &str| {
        let plan = plan_of(spec);
        plan.functions.iter().filter(|f| f.abandon_at_exit.is_some()).map(|f| (f.name.clone(), f.abandon_at_exit)).collect::<Vec<_>>()
    };
    // OpenCL's user events, set to an error status; the event is argument 0
    assert_eq!(abandoners("specs/opencl.lapis"), [("cava_clSetUserEventStatus_abandon".to_string(), Some(0))]);
    assert_eq!(abandoners("tests/specs/every_descriptor.lapis"), [("accStreamCancel".to_string(), Some(0))]);
    assert_eq!(abandoners("tests/testlib/testlib.lapis"), []);
}

/// The functions whose calls the API server serves on its lean path
/// (`cava_runtime::marshal::server::lean_calls`): scalars, handles and in
/// buffers sent inline, nothing kept, issued or recorded. A change to this
/// list changes what the call-intensive benchmark measures.
#[test]
fn the_lean_path_serves_the_plain_calls() {
    let lean = |spec: &str| {
        let plan = plan_of(spec);
        let lean = cava_runtime::marshal::server::lean_calls(&plan).unwrap();
        plan.functions.iter().zip(lean).filter(|(_, lean)| *lean).map(|(f, _)| f.name.clone()).collect::<Vec<_>>().join("\n")
    };
    insta::assert_snapshot!("lean_calls_opencl", lean("specs/opencl.lapis"));
    insta::assert_snapshot!("lean_calls_testlib", lean("tests/testlib/testlib.lapis"));
}

/// The functions that end a handle, and what a call of each does when
/// another call of the process has the object in hand
/// (`cava_runtime::marshal::server::in_use`): it waits (the vendor call is
/// made when the last such call ends), or it is refused. A release that
/// cannot wait fails where the application raced it with a use.
#[test]
fn releases_of_objects_in_hand_wait_for_them() {
    let releases = |spec: &str| {
        let plan = plan_of(spec);
        let releases = cava_runtime::marshal::server::waiting_releases(&plan).unwrap();
        releases
            .into_iter()
            .map(|(id, waits)| format!("{}: {}", plan.functions[id].name, if waits { "waits" } else { "refused" }))
            .collect::<Vec<_>>()
            .join("\n")
    };
    insta::assert_snapshot!("waiting_releases_opencl", releases("specs/opencl.lapis"));
    insta::assert_snapshot!("waiting_releases_testlib", releases("tests/testlib/testlib.lapis"));
}

/// The functions whose calls take a step on an object, one call on it at a
/// time from its conditions to its statements
/// (`cava_runtime::marshal::object_steps`), with the arguments naming the
/// objects: the releases that decide a handle's end by a condition and the
/// calls whose statements count in an argument's metadata, found from the
/// plan. A release missing here can leave a handle naming freed memory.
#[test]
fn retains_and_releases_take_a_step_on_their_object() {
    let stepped = |spec: &str| {
        let plan = plan_of(spec);
        plan.functions
            .iter()
            .filter_map(|f| {
                let args = cava_runtime::marshal::object_steps::stepped_arguments(f);
                (!args.is_empty()).then(|| {
                    let names: Vec<&str> = args.iter().map(|&a| f.params[a as usize].name.as_str()).collect();
                    format!("{}: {}", f.name, names.join(", "))
                })
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    insta::assert_snapshot!("stepped_calls_opencl", stepped("specs/opencl.lapis"));
    insta::assert_snapshot!("stepped_calls_testlib", stepped("tests/testlib/testlib.lapis"));
}
