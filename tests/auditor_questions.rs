//! README's "Questions an auditor asks" are the statements that
//! `tests/shell/auditor_questions_are_each_one_select.txt` runs (the golden
//! test checks their answers), and each of them answers with rows there.

use std::path::Path;

fn readme_questions() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let section = readme.split("### Questions an auditor asks").nth(1).expect("the section");
    let section = section.split("\n### ").next().unwrap_or(section);
    section.lines().map(str::trim).filter(|l| l.starts_with("SELECT ")).map(String::from).collect()
}

#[test]
fn each_of_the_ten_readme_questions_is_one_select_answered_in_the_transcript() {
    let questions = readme_questions();
    assert_eq!(questions.len(), 10, "{questions:#?}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let transcript = std::fs::read_to_string(root.join("tests/shell/auditor_questions_are_each_one_select.txt"))
        .expect("transcript");
    let lines: Vec<&str> = transcript.lines().collect();
    for q in &questions {
        assert_eq!(caldb::query::split_statements(q).len(), 1, "not one statement: {q}");
        let at = lines.iter().position(|l| l.strip_prefix("> ") == Some(q.as_str()));
        let at = at.unwrap_or_else(|| panic!("not in the transcript: {q}"));
        let answer: Vec<&&str> = lines[at + 1..].iter().take_while(|l| !l.is_empty() && !l.starts_with("> ")).collect();
        assert!(answer.len() >= 2, "no rows for {q}: {answer:?}");
        assert!(!answer[0].starts_with("error:"), "{q}: {}", answer[0]);
    }
}
