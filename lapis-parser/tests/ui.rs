//! UI tests: every `tests/ui/*.lapis` file is checked and its rendered
//! diagnostics are snapshotted together with its source. A file named
//! `L0301_something.lapis` must report `L0301`; together the files cover
//! every diagnostic code.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use lapis_parser::codes::Code;

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/ui")
}

fn ui_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(ui_dir())
        .expect("tests/ui exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "lapis"))
        .collect();
    files.sort();
    files
}

#[test]
fn ui() {
    let mut covered = BTreeSet::new();
    for path in ui_files() {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(&path).unwrap();
        let (_, checked) = lapis_parser::check_source(&source);
        let display = format!("tests/ui/{name}.lapis");
        let rendered = lapis_parser::render::render_text(&display, &source, &checked.diagnostics, false);
        let codes: BTreeSet<&str> = checked.diagnostics.iter().map(|d| d.code.as_str()).collect();
        if let Some(expected) = name.split('_').next().filter(|c| c.starts_with('L')) {
            assert!(codes.contains(expected), "{display} should report {expected}, reported {codes:?}\n{rendered}");
        }
        covered.extend(codes.iter().map(|c| c.to_string()));
        insta::with_settings!({
            snapshot_path => ui_dir().join("snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, format!("{source}\n----- diagnostics -----\n{rendered}"));
        });
    }
    let missing: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).filter(|c| !covered.contains(*c)).collect();
    assert!(missing.is_empty(), "no UI test reports {missing:?}; add tests/ui/CODE_name.lapis");
}

#[test]
fn json_output_has_positions_and_codes() {
    let source = "api x { version = \"1\"; }\nint f(void) { asynch; }\n";
    let (_, checked) = lapis_parser::check_source(source);
    let json = lapis_parser::render::render_json("x.lapis", source, &checked.diagnostics);
    let lines: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), checked.diagnostics.len());
    let unknown = lines.iter().find(|l| l["code"] == "L0301").expect("unknown descriptor reported");
    assert_eq!(unknown["primary"]["begin"]["line"], 2);
    assert_eq!(unknown["primary"]["begin"]["column"], 15);
    assert_eq!(unknown["help"], "did you mean `async`?");
    assert_eq!(unknown["fix"]["replacement"], "async");
}
