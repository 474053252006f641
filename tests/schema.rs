//! The code's on-disk schema must equal `schema/caldb.schema`, the golden
//! contract. `UPDATE_GOLDEN=1 cargo test --test schema` rewrites the file
//! for review in git diff (a format change also bumps FORMAT_VERSION).

#[test]
fn code_schema_equals_the_schema_directory() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/caldb.schema");
    let code = caldb::store::schema::describe().expect("describe the schema");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &code).expect("write schema/caldb.schema");
    }
    let file = std::fs::read_to_string(&path).expect("read schema/caldb.schema");
    assert_eq!(code, file, "the code's schema differs from schema/caldb.schema: a format change must be deliberate");
}

#[test]
fn schema_names_every_table_of_the_language() {
    let file = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/caldb.schema"))
        .expect("read schema/caldb.schema");
    for t in caldb::Database::table_names() {
        assert!(file.contains(&format!("table {t}:")), "schema/caldb.schema lacks table {t}");
    }
}
