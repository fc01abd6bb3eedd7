// The generated spec shared by the benchmark and `examples/gen_spec.rs`.

/// A spec with `n` functions, cycling through the common shapes.
pub fn generated_spec(n: usize) -> String {
    let mut s = String::from(
        "api gen {\n    version = \"1\";\n    headers = [\"gen.h\"];\n    soname = \"libgen.so.1\";\n    library = \"libgen.so.1\";\n    \
         error_type = gen_status;\n    success = GEN_SUCCESS;\n    failure = GEN_FAILURE;\n}\n\
         typedef int gen_status;\nenum gen_codes { GEN_SUCCESS = 0, GEN_FAILURE = -1 };\n\
         typedef struct gen_ctx_st *gen_ctx;\ntypedef struct gen_mem_st *gen_mem;\ntypedef unsigned int gen_uint;\n\
         struct gen_info { size_t size; const char *name; };\n\
         continuous_rc memory;\ninstantaneous_rc launches;\n\
         default(string) { in; buffer(strlen(this) + 1); }\ndefault(const_pointer) { in; buffer(1); }\n",
    );
    for i in 0..n {
        let f = match i % 6 {
            0 => format!(
                "gen_mem genCreate{i}(gen_ctx ctx, size_t size, const void *host, gen_status *err) {{\n    allocates_rc(memory, size);\n    \
                 return_value {{ allocate; }}\n    argument(host) {{ in; buffer(host == 0 ? 0 : size); }}\n    argument(err) {{ out; buffer(1); }}\n}}\n"
            ),
            1 => format!("gen_status genRelease{i}(gen_mem mem) {{\n    argument(mem) {{ deallocate; }}\n}}\n"),
            2 => format!(
                "gen_status genQuery{i}(gen_ctx ctx, gen_uint param, size_t size, void *value, size_t *size_ret) {{\n    \
                 argument(value) {{ out; buffer(size); }}\n    argument(size_ret) {{ out; buffer(1); }}\n}}\n"
            ),
            3 => format!(
                "gen_status genWrite{i}(gen_ctx ctx, gen_mem mem, size_t offset, size_t size, const void *data) {{\n    async;\n    \
                 consumes_rc(launches, 1);\n    argument(data) {{ in; buffer(size); }}\n}}\n"
            ),
            4 => format!(
                "gen_status genList{i}(gen_ctx ctx, gen_uint count, gen_mem *mems, const struct gen_info *info, const char *label) {{\n    \
                 if (count > 0) {{\n        argument(mems) {{ out; buffer(count); element {{ allocate; }} }}\n    }} else {{\n        \
                 argument(mems) {{ opaque; }}\n    }}\n}}\n"
            ),
            _ => format!("gen_status genFlush{i}(gen_ctx ctx);\n"),
        };
        s.push_str(&f);
    }
    s
}
