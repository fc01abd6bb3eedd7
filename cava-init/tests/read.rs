//! `read_header` on small headers written for these tests
//! (`tests/headers/read/`), and on real ones when installed.

use cava_init::model::{CType, Field, Function, Header, Param, RecordKind, Signature};
use cava_init::read::{read_header, ReadError, ReadOptions};
use std::path::{Path, PathBuf};

fn headers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/headers/read")
}

fn read(name: &str) -> Header {
    read_header(&headers().join(name), &ReadOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn function<'h>(header: &'h Header, name: &str) -> &'h Function {
    header.functions.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no function {name}"))
}

fn typedef<'h>(header: &'h Header, name: &str) -> &'h cava_init::model::Typedef {
    header.typedefs.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no typedef {name}"))
}

fn builtin(name: &str) -> CType {
    CType::Builtin(name.to_string())
}

fn named(name: &str) -> CType {
    CType::Typedef(name.to_string())
}

fn ptr(pointee: CType, pointee_const: bool) -> CType {
    CType::Pointer { pointee: Box::new(pointee), pointee_const }
}

fn param(name: &str, ty: CType) -> Param {
    Param { name: Some(name.to_string()), ty }
}

fn field(name: &str, ty: CType) -> Field {
    Field { name: name.to_string(), ty }
}

#[test]
fn functions_in_order_once_without_static_helpers() {
    let h = read("objects.h");
    let names: Vec<&str> = h.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "objCreateContext",
            "objRelease",
            "objEnqueue",
            "objSetCallback",
            "objPrintf",
            "objUnnamed",
            "objMatrix",
            "objCounts",
            "objGetInfo"
        ]
    );
    let release = function(&h, "objRelease");
    assert!(release.in_main_file);
    assert!(release.location.file.ends_with("objects.h"), "{:?}", release.location);
    assert_eq!(release.location.line, 45);
}

#[test]
fn parameters_keep_typedef_names_and_pointee_const() {
    let h = read("objects.h");
    let create = &function(&h, "objCreateContext").signature;
    assert_eq!(
        *create,
        Signature {
            ret: named("obj_context"),
            params: vec![
                param("properties", ptr(named("obj_props"), true)),
                param("notify", named("obj_notify_fn")),
                param("user_data", ptr(CType::Void, false)),
                param("errcode_ret", ptr(named("obj_status"), false)),
            ],
            variadic: false,
        }
    );
    // `const void *const data`: the top-level const is dropped.
    let enqueue = &function(&h, "objEnqueue").signature;
    assert_eq!(enqueue.params[1], param("data", ptr(CType::Void, true)));
    assert_eq!(enqueue.params[2], param("size", named("size_t")));
    assert_eq!(enqueue.params[3], param("num_events", named("uint32_t")));
    assert_eq!(enqueue.params[4], param("events", ptr(named("obj_event"), true)));
}

#[test]
fn builtins_in_canonical_spelling() {
    let h = read("objects.h");
    let counts = &function(&h, "objCounts").signature;
    assert_eq!(counts.ret, builtin("unsigned long long"));
    let types: Vec<&CType> = counts.params.iter().map(|p| &p.ty).collect();
    assert_eq!(types, [&builtin("signed char"), &builtin("unsigned short"), &builtin("_Bool"), &builtin("long double")]);
}

#[test]
fn function_pointers_variadics_unnamed_and_array_parameters() {
    let h = read("objects.h");
    let callback = &function(&h, "objSetCallback").signature.params[1];
    let expected = CType::Function(Box::new(Signature {
        ret: CType::Void,
        params: vec![param("queue", named("obj_queue")), param("status", builtin("int")), param("user_data", ptr(CType::Void, false))],
        variadic: false,
    }));
    assert_eq!(*callback, param("pfn_notify", ptr(expected, false)));

    let printf = &function(&h, "objPrintf").signature;
    assert!(printf.variadic);
    assert_eq!(printf.params, [param("format", ptr(builtin("char"), true))]);

    let unnamed = &function(&h, "objUnnamed").signature.params;
    assert_eq!(unnamed[0], Param { name: None, ty: builtin("int") });
    let desc = CType::Record { kind: RecordKind::Struct, name: Some("obj_image_desc".into()), fields: None };
    assert_eq!(unnamed[1], Param { name: None, ty: ptr(desc, true) });

    // Array parameters come as written (C adjusts them to pointers).
    let matrix = &function(&h, "objMatrix").signature.params;
    let row = CType::Array { element: Box::new(builtin("float")), len: Some(4) };
    assert_eq!(matrix[0].ty, CType::Array { element: Box::new(row), len: Some(4) });
    assert_eq!(matrix[1].ty, CType::Array { element: Box::new(builtin("int")), len: None });

    let info = &function(&h, "objGetInfo").signature.params[1];
    assert_eq!(info.ty, CType::Enum { name: Some("obj_flags".into()), variants: None });
}

#[test]
fn typedefs_to_pointers_to_incomplete_structs() {
    let h = read("objects.h");
    let context = typedef(&h, "obj_context");
    let record = CType::Record { kind: RecordKind::Struct, name: Some("_obj_context".into()), fields: None };
    assert_eq!(context.target, ptr(record, false));
    assert!(!context.in_system_header);
    for name in ["_obj_context", "_obj_queue", "_obj_event"] {
        let record = h.records.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no record {name}"));
        assert_eq!(record.fields, None, "{name} is never defined");
    }
    assert_eq!(h.records.iter().filter(|r| r.name == "_obj_queue").count(), 1);

    let notify = typedef(&h, "obj_notify_fn");
    let CType::Pointer { pointee, .. } = &notify.target else { panic!("{notify:?}") };
    let CType::Function(signature) = pointee.as_ref() else { panic!("{notify:?}") };
    let names: Vec<_> = signature.params.iter().map(|p| p.name.as_deref()).collect();
    assert_eq!(names, [Some("context"), Some("message"), Some("user_data")]);
}

#[test]
fn included_headers_and_system_typedefs() {
    let h = read("objects.h");
    // From "objects_types.h": the API's own, though not the main file.
    let props = typedef(&h, "obj_props");
    assert_eq!(props.target, named("int64_t"));
    assert!(!props.in_system_header);
    assert!(props.location.file.ends_with("objects_types.h"));
    // From <stddef.h> and <stdint.h>.
    assert!(typedef(&h, "size_t").in_system_header);
    assert!(typedef(&h, "uint32_t").in_system_header);
    let names: Vec<&str> = h.typedefs.iter().map(|t| t.name.as_str()).collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(names.len(), unique.len(), "typedefs are listed once");
}

#[test]
fn records_with_arrays_and_anonymous_members() {
    let h = read("objects.h");
    let desc = h.records.iter().find(|r| r.name == "obj_image_desc").expect("obj_image_desc");
    assert_eq!(desc.kind, RecordKind::Struct);
    let fields = desc.fields.as_ref().expect("defined");
    let union = CType::Record {
        kind: RecordKind::Union,
        name: None,
        fields: Some(vec![field("as_u32", named("uint32_t")), field("as_f32", builtin("float"))]),
    };
    let origin =
        CType::Record { kind: RecordKind::Struct, name: None, fields: Some(vec![field("x", builtin("int")), field("y", builtin("int"))]) };
    assert_eq!(
        *fields,
        [
            field("width", named("size_t")),
            field("dims", CType::Array { element: Box::new(named("size_t")), len: Some(3) }),
            field("mode", named("obj_mode")),
            field("", union),
            field("origin", origin),
            field("bytes", CType::Array { element: Box::new(builtin("unsigned char")), len: None }),
        ]
    );

    // `typedef struct { ... union value { ... } value; } obj_variant;`
    let variant = typedef(&h, "obj_variant");
    let value = CType::Record { kind: RecordKind::Union, name: Some("value".into()), fields: None };
    let expected =
        CType::Record { kind: RecordKind::Struct, name: None, fields: Some(vec![field("kind", builtin("int")), field("value", value)]) };
    assert_eq!(variant.target, expected);
    let value = h.records.iter().find(|r| r.name == "value").expect("named nested union");
    assert_eq!(value.kind, RecordKind::Union);
    assert_eq!(value.fields.as_ref().map(Vec::len), Some(2));
}

#[test]
fn enums_with_explicit_and_implicit_values() {
    let h = read("objects.h");
    let status = h.enums.iter().find(|e| e.name == "obj_status").expect("obj_status");
    let expected = [("OBJ_OK", 0), ("OBJ_FAILED", -5), ("OBJ_NEXT", -4), ("OBJ_BIG", 0x7fff_ffff)];
    assert_eq!(status.variants, expected.map(|(n, v)| (n.to_string(), v)));
    let flags = h.enums.iter().find(|e| e.name == "obj_flags").expect("obj_flags");
    assert_eq!(flags.variants.last(), Some(&("OBJ_FLAG_ALL".to_string(), 0xFFFF_FFFF)), "unsigned, not -1");
    assert_eq!(typedef(&h, "obj_status").target, CType::Enum { name: Some("obj_status".into()), variants: None });
    let mode = [("OBJ_MODE_X", 0), ("OBJ_MODE_Y", 7), ("OBJ_MODE_Z", 8)].map(|(n, v)| (n.to_string(), v)).to_vec();
    assert_eq!(typedef(&h, "obj_mode").target, CType::Enum { name: None, variants: Some(mode) });
}

#[test]
fn integer_macros() {
    let h = read("macros.h");
    let got: Vec<(&str, i64)> = h.macros.iter().map(|m| (m.name.as_str(), m.value)).collect();
    assert_eq!(
        got,
        [
            ("CL_SUCCESS", 0),
            ("CL_INVALID_VALUE", -30),
            ("SHIFTED", 8),
            ("HEX_UNSIGNED", 16),
            ("CAST_TYPEDEF", -5),
            ("CAST_BUILTIN", 0xFFFF_FFFF),
            ("CAST_NARROW", 0xFF),
            ("CAST_POINTER_TYPEDEF", 7),
            ("ALL_BITS", 0xFFFF_FFFF),
            ("NOT_ZERO_U", 0xFFFF_FFFF),
            ("COMBINED", 24),
            ("LATER_USE", 42),
            ("DEFINED_LATER", 41),
            ("LONG_LONG", 1_234_567_890_123),
            ("TOP_BIT", i64::MIN),
            ("OCTAL", 0o755),
            ("CHAR_CONST", 65),
            ("INT_MIN_FORM", i64::from(i32::MIN)),
            ("ENUM_REF", 20),
        ]
    );
    assert_eq!(h.macros[1].location.line, 9);
}

#[test]
fn include_dirs_and_defines() {
    let options = ReadOptions { include_dirs: vec![headers().join("include")], defines: vec![("EXTRA_BASE".into(), Some("40".into()))] };
    let h = read_header(&headers().join("with_include_dir.h"), &options).expect("reads");
    let names: Vec<(&str, bool)> = h.functions.iter().map(|f| (f.name.as_str(), f.in_main_file)).collect();
    assert_eq!(names, [("extraCall", false), ("mainCall", true)]);
    assert!(!typedef(&h, "extra_t").in_system_header);
    let got: Vec<(&str, i64)> = h.macros.iter().map(|m| (m.name.as_str(), m.value)).collect();
    assert_eq!(got, [("EXTRA_VALUE", 42)], "uses the -D value, but -D macros are not the header's");

    // Without them: the include is missing.
    let error = read_header(&headers().join("with_include_dir.h"), &ReadOptions::default()).unwrap_err();
    assert!(matches!(error, ReadError::MissingInclude { ref name, .. } if name == "extra.h"), "{error}");
    // With the folder but without the define: the header's own #error.
    let options = ReadOptions { include_dirs: vec![headers().join("include")], defines: vec![] };
    let error = read_header(&headers().join("with_include_dir.h"), &options).unwrap_err().to_string();
    assert!(error.contains("with_include_dir.h:3: EXTRA_BASE must be defined with -D"), "{error}");
}

#[test]
fn missing_include_says_which_and_where() {
    let error = read_header(&headers().join("missing_include.h"), &ReadOptions::default()).unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with("`CL/does_not_exist.h` not found (included from "), "{message}");
    assert!(message.ends_with("missing_include.h:4): pass its folder with -I"), "{message}");
}

#[test]
fn syntax_errors_are_listed_with_lines() {
    let error = read_header(&headers().join("syntax_error.h"), &ReadOptions::default()).unwrap_err();
    let ReadError::Parse { errors, .. } = &error else { panic!("{error:?}") };
    assert!(errors[0].contains("syntax_error.h:4: "), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("syntax_error.h:6: unknown type name 'unknown_t'")), "{errors:?}");
    assert!(error.to_string().contains("does not parse as C"), "{error}");
}

#[test]
fn missing_and_unreadable_files() {
    let error = read_header(&headers().join("nope.h"), &ReadOptions::default()).unwrap_err();
    assert!(matches!(error, ReadError::NotFound { .. }));
    assert!(error.to_string().starts_with("header not found: ") && error.to_string().ends_with("nope.h"), "{error}");
    let error = read_header(&headers().join("include"), &ReadOptions::default()).unwrap_err();
    assert!(matches!(error, ReadError::Unreadable { .. }), "{error}");
}

/// Deep types and macro chains are cut off, not a stack overflow.
#[test]
fn pathological_nesting() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("read-pathological");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let mut src = format!("typedef int {}deep_ptr;\n", "*".repeat(300));
    let mut nested = "int x;".to_string();
    for _ in 0..200 {
        nested = format!("struct {{ {nested} }} a;");
    }
    src += &format!("typedef struct {{ {nested} }} nested_t;\n");
    // Written backwards, so that evaluating REV_0 needs all 300 at once.
    for i in 0..300 {
        src += &format!("#define REV_{i} (REV_{} + 1)\n", i + 1);
    }
    src += "#define REV_300 0\n";
    src += "int f(deep_ptr p, nested_t n);\n";
    let path = dir.join("deep.h");
    std::fs::write(&path, src).expect("write");
    let h = read_header(&path, &ReadOptions::default()).expect("reads");
    assert_eq!(h.functions.len(), 1);
    let value = |name: &str| h.macros.iter().find(|m| m.name == name).map(|m| m.value);
    assert_eq!(value("REV_0"), None, "too deep");
    assert_eq!(value("REV_250"), Some(50), "not spoiled by the failures before it");
    let CType::Record { fields: Some(fields), .. } = &typedef(&h, "nested_t").target else { panic!("nested_t") };
    assert_eq!(fields.len(), 1);
}

/// Skips (with a note) when the file is not installed.
fn installed(path: &str) -> Option<PathBuf> {
    let path = PathBuf::from(path);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipped: {} is not installed", path.display());
        None
    }
}

#[test]
fn real_opencl_header() {
    let Some(path) = installed("/usr/include/CL/cl.h") else { return };
    let start = std::time::Instant::now();
    let h = read_header(&path, &ReadOptions::default()).expect("cl.h reads");
    eprintln!("cl.h read in {:?}", start.elapsed());
    let own: Vec<&Function> = h.functions.iter().filter(|f| f.in_main_file && f.name.starts_with("cl")).collect();
    // 114 entry points, one of them (clSetCommandQueueProperty) only with
    // CL_USE_DEPRECATED_OPENCL_1_0_APIS.
    assert!((110..=120).contains(&own.len()), "{} functions", own.len());
    let value = |name: &str| h.macros.iter().find(|m| m.name == name).map(|m| m.value);
    assert_eq!(value("CL_SUCCESS"), Some(0));
    assert_eq!(value("CL_INVALID_VALUE"), Some(-30));
    assert_eq!(value("CL_DEVICE_TYPE_ALL"), Some(0xFFFF_FFFF));
    let mem = CType::Record { kind: RecordKind::Struct, name: Some("_cl_mem".into()), fields: None };
    assert_eq!(typedef(&h, "cl_mem").target, ptr(mem, false));
    assert_eq!(h.records.iter().find(|r| r.name == "_cl_mem").map(|r| r.fields.is_none()), Some(true));
    // cl_platform.h is part of the API even though it sits in /usr/include.
    assert!(!typedef(&h, "cl_int").in_system_header);
    assert!(typedef(&h, "size_t").in_system_header);

    let start = std::time::Instant::now();
    let options = ReadOptions { defines: vec![("CL_USE_DEPRECATED_OPENCL_1_0_APIS".into(), None)], ..ReadOptions::default() };
    let deprecated = read_header(&path, &options).expect("cl.h reads");
    eprintln!("cl.h read again in {:?}", start.elapsed());
    let with_deprecated = deprecated.functions.iter().filter(|f| f.in_main_file && f.name.starts_with("cl")).count();
    assert_eq!(with_deprecated, own.len() + 1);
}

#[test]
fn real_zlib_header() {
    let Some(path) = installed("/usr/include/zlib.h") else { return };
    let h = read_header(&path, &ReadOptions::default()).expect("zlib.h reads");
    for name in ["deflate", "inflate", "compress2"] {
        assert!(function(&h, name).in_main_file, "{name}");
    }
    let z_stream = typedef(&h, "z_stream");
    assert_eq!(z_stream.target, CType::Record { kind: RecordKind::Struct, name: Some("z_stream_s".into()), fields: None });
    let record = h.records.iter().find(|r| r.name == "z_stream_s").expect("z_stream_s");
    let fields = record.fields.as_ref().expect("z_stream is complete");
    assert!(fields.iter().any(|f| f.name == "next_in"), "{fields:?}");
    // zconf.h ("zconf.h", next to zlib.h) is zlib's own; <limits.h> is not.
    assert!(!typedef(&h, "uLong").in_system_header);
    assert_eq!(h.macros.iter().find(|m| m.name == "Z_OK").map(|m| m.value), Some(0));
}
