//! The vendor library's symbol versions (`clGetPlatformIDs@@OPENCL_1.0`),
//! which the guest library must carry too: a program linked against the
//! vendor library asks the dynamic loader for those versions, and without
//! them it prints "no version information available" (or, with a required
//! version, does not load).
//!
//! Read with binutils' `readelf` (part of `build-essential`), whose output
//! for these two tables has been stable for decades.

use std::path::{Path, PathBuf};
use std::process::Command;

use cava_codegen::VersionNode;

/// Where the dynamic loader would find `name` (a soname such as
/// `libOpenCL.so.1`, or a path).
pub fn locate_library(name: &str) -> Option<PathBuf> {
    let path = Path::new(name);
    if path.components().count() > 1 {
        return path.is_file().then(|| path.to_path_buf());
    }
    [
        "/usr/local/lib",
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib/aarch64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/lib64",
        "/usr/lib64",
        "/lib",
        "/usr/lib",
    ]
    .iter()
    .map(|dir| Path::new(dir).join(name))
    .find(|p| p.is_file())
}

/// The version nodes of `library`, oldest first, with the functions each
/// defines by default (`@@`). Empty when the library has none.
pub fn read(library: &Path) -> Result<Vec<VersionNode>, String> {
    let run = |args: &[&str]| -> Result<String, String> {
        let out = Command::new("readelf")
            .args(args)
            .arg(library)
            .output()
            .map_err(|e| format!("cannot run readelf (binutils) to read the symbol versions of {}: {e}", library.display()))?;
        if !out.status.success() {
            return Err(format!("readelf cannot read {}: {}", library.display(), String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let definitions = parse_definitions(&run(&["-W", "-V"])?);
    let mut nodes: Vec<VersionNode> = definitions.into_iter().map(|name| VersionNode { name, symbols: Vec::new() }).collect();
    for (symbol, version) in parse_default_versions(&run(&["-W", "--dyn-syms"])?) {
        if let Some(node) = nodes.iter_mut().find(|n| n.name == version) {
            node.symbols.push(symbol);
        }
    }
    Ok(nodes)
}

/// Version names from `readelf -V`'s definition section, in order, without
/// the base entry (the library's own name).
fn parse_definitions(text: &str) -> Vec<String> {
    let Some(start) = text.find("Version definition section") else { return Vec::new() };
    let section = &text[start..];
    let section = section.split("\n\n").next().unwrap_or(section);
    section
        .lines()
        .filter(|l| l.contains("Flags:") && !l.contains("BASE"))
        .filter_map(|l| l.split("Name:").nth(1))
        .map(|name| name.trim().to_string())
        .collect()
}

/// `(symbol, version)` for every defined symbol with a default version
/// (`name@@VERSION`) in `readelf --dyn-syms` output.
fn parse_default_versions(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // Num: Value Size Type Bind Vis Ndx Name
            if fields.len() < 8 || fields[6] == "UND" {
                return None;
            }
            let (symbol, version) = fields[7].split_once("@@")?;
            Some((symbol.to_string(), version.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readelf_output_is_parsed() {
        let versions = "\
Version symbols section '.gnu.version' contains 3 entries:
 Addr: 0x0
  000:   0 (*local*)       2 (OPENCL_1.0)

Version definition section '.gnu.version_d' contains 3 entries:
 Addr: 0x00000000000025b8  Offset: 0x000025b8  Link: 4 (.dynstr)
  000000: Rev: 1  Flags: BASE  Index: 1  Cnt: 1  Name: libOpenCL.so.1
  0x001c: Rev: 1  Flags: none  Index: 2  Cnt: 1  Name: OPENCL_1.0
  0x0038: Rev: 1  Flags: none  Index: 3  Cnt: 2  Name: OPENCL_1.1
  0x0054: Parent 1: OPENCL_1.0

Version needs section '.gnu.version_r' contains 1 entry:
  000000: Version: 1  File: libc.so.6  Cnt: 1
  0x0010:   Name: GLIBC_2.2.5  Flags: none  Version: 9
";
        assert_eq!(parse_definitions(versions), ["OPENCL_1.0", "OPENCL_1.1"]);
        let symbols = "\
    13: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND closedir@GLIBC_2.2.5 (9)
    33: 0000000000009e90    81 FUNC    GLOBAL DEFAULT   13 clEnqueueNDRangeKernel@@OPENCL_1.0
    34: 000000000000af80    44 FUNC    GLOBAL DEFAULT   13 clSetEventCallback@@OPENCL_1.1
    35: 000000000000af80    44 FUNC    GLOBAL DEFAULT   13 clOld@OPENCL_1.0
";
        assert_eq!(
            parse_default_versions(symbols),
            [("clEnqueueNDRangeKernel".to_string(), "OPENCL_1.0".to_string()), ("clSetEventCallback".into(), "OPENCL_1.1".into())]
        );
        assert!(parse_definitions("no versions here").is_empty());
    }
}
