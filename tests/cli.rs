//! The `caldb` binary seen from outside: options, exit statuses, error
//! formats and output modes, run over a pipe. Tests that print query
//! results need the engine; the rest only the shell.

#[path = "support/bin.rs"]
mod bin;

use bin::{status, stderr, stdout};
use std::process::Output;

/// Runs caldb with `args`, `stdin` piped in.
fn caldb(args: &[&str], stdin: &str) -> Output {
    bin::run(args, None, stdin.as_bytes())
}

const TWO_SERVERS: &str = "CREATE SERVER ls1;\nCREATE SERVER ls2 PRODUCT WS2022;\n";

#[test]
fn version_prints_name_and_version() {
    for flag in ["-version", "--version"] {
        let out = caldb(&[flag], "");
        assert_eq!(status(&out), 0);
        assert_eq!(stdout(&out), format!("caldb {}\n", env!("CARGO_PKG_VERSION")));
    }
}

#[test]
fn help_lists_the_options() {
    let out = caldb(&["--help"], "");
    assert_eq!(status(&out), 0);
    let text = stdout(&out);
    for option in ["-bail", "-csv", "-json", "-cmd", "-readonly", "-noheader"] {
        assert!(text.contains(option), "help lacks {option}: {text}");
    }
}

#[test]
fn unknown_option_is_bad_usage_with_status_2() {
    let out = caldb(&["-bogus"], "");
    assert_eq!(status(&out), 2);
    assert!(stderr(&out).contains("'-bogus'"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

#[test]
fn cmd_without_its_text_is_bad_usage() {
    let out = caldb(&["-cmd"], "");
    assert_eq!(status(&out), 2);
    assert!(stderr(&out).contains("-cmd"));
}

#[test]
fn empty_script_succeeds_silently() {
    let out = caldb(&[], "-- nothing but a comment\n\n");
    assert_eq!(status(&out), 0);
    assert!(stdout(&out).is_empty() && stderr(&out).is_empty());
}

#[test]
fn exit_with_a_code_sets_the_status_and_stops() {
    let out = caldb(&[], ".exit 3\n.bogus\n");
    assert_eq!(status(&out), 3);
    assert!(stderr(&out).is_empty(), "ran past .exit: {}", stderr(&out));
}

#[test]
fn bad_mode_is_an_error_naming_it_and_status_1() {
    let out = caldb(&[], ".mode bogus\n.mode json\n");
    assert_eq!(status(&out), 1);
    assert_eq!(
        stderr(&out),
        "error: line 1: unknown mode 'bogus' (expected table, box, markdown, column, list, tabs, csv, quote, html, insert, json, line)\n"
    );
}

#[test]
fn unknown_dot_command_is_an_error_naming_it() {
    let out = caldb(&[], "\n.frobnicate\n");
    assert_eq!(status(&out), 1);
    assert!(stderr(&out).starts_with("error: line 2: "), "{}", stderr(&out));
    assert!(stderr(&out).contains("'.frobnicate'"));
}

#[test]
fn script_errors_name_the_line_and_the_script_goes_on() {
    let script = ".mode csv\n-- two good lines above\nCREATE SERVER;\n";
    let out = caldb(&[], &format!("{script}.mode bogus\n"));
    assert_eq!(status(&out), 1);
    let errors = stderr(&out);
    assert!(errors.starts_with("error: line 3: "), "{errors}");
    assert!(errors.contains("'bogus'"), "the script stopped early: {errors}");
}

#[test]
fn parse_error_on_line_3_is_reported_on_line_3() {
    let out = caldb(&[], ".headers on\n\nSELEKT name FROM servers;\n");
    assert_eq!(status(&out), 1);
    let errors = stderr(&out);
    assert!(errors.starts_with("error: line 3: "), "{errors}");
    assert_eq!(errors.lines().count(), 1);
}

#[test]
fn bail_stops_at_the_first_error() {
    for (args, script) in
        [(&["-bail"][..], ".mode bogus\n.mode bogus2\n"), (&[][..], ".bail on\n.mode bogus\n.mode bogus2\n")]
    {
        let out = caldb(args, script);
        assert_eq!(status(&out), 1);
        assert!(stderr(&out).contains("'bogus'"));
        assert!(!stderr(&out).contains("bogus2"), "went on after the error");
    }
}

#[test]
fn statement_arguments_run_and_stdin_is_not_read() {
    let out = caldb(&["--json", ":memory:", ".show"], ".mode bogus\n");
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("mode: json"));
    assert!(stdout(&out).contains("database: :memory:"));
}

#[test]
fn cmd_runs_before_the_script() {
    let out = caldb(&["-cmd", ".mode line", "-cmd", ".headers on"], ".show\n");
    assert_eq!(status(&out), 0);
    assert!(stdout(&out).contains("mode: line"));
    assert!(stdout(&out).contains("headers: on"));
}

#[test]
fn once_sends_only_the_next_command_to_the_file() {
    let dir = std::env::temp_dir().join(format!("caldb-cli-once-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("show.txt");
    let script = format!(".once '{}'\n.show\n.show\n", file.display());
    let out = caldb(&[], &script);
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    let written = std::fs::read_to_string(&file).expect("the .once file");
    assert!(written.contains("mode: csv"));
    assert_eq!(stdout(&out).matches("mode: csv").count(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn open_without_a_file_is_an_error() {
    let out = caldb(&[], ".open\n");
    assert_eq!(status(&out), 1);
    assert!(stderr(&out).starts_with("error: line 1: .open"));
}

// The tests below need the engine (CREATE SERVER, SELECT).

#[test]
fn csv_is_the_default_without_a_header() {
    let out = caldb(&[], &format!("{TWO_SERVERS}SELECT name, product FROM servers;\n"));
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "ls1,WS2025\nls2,WS2022\n");
}

#[test]
fn csv_with_header() {
    let out = caldb(&["-csv", "-header"], "CREATE SERVER ls1;\nSELECT COUNT(*) FROM servers;\n");
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[1], "1");
}

#[test]
fn json_is_one_array_of_objects() {
    let out = caldb(&["-json"], &format!("{TWO_SERVERS}SELECT name, product FROM servers;\n"));
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "[{\"name\":\"ls1\",\"product\":\"WS2025\"},\n{\"name\":\"ls2\",\"product\":\"WS2022\"}]\n"
    );
}

#[test]
fn line_mode_prints_column_equals_value() {
    let out = caldb(&["--line"], &format!("{TWO_SERVERS}SELECT name, product FROM servers;\n"));
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "   name = ls1\nproduct = WS2025\n\n   name = ls2\nproduct = WS2022\n");
}

#[test]
fn table_mode_draws_a_box() {
    let out = caldb(&["-table"], "CREATE SERVER ls1;\nSELECT name, product FROM servers;\n");
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "+------+---------+\n| name | product |\n+------+---------+\n| ls1  | WS2025  |\n+------+---------+\n"
    );
}

#[test]
fn statement_arguments_may_hold_several_statements() {
    let args = ["-csv", ":memory:", "CREATE SERVER ls1; CREATE SERVER ls2;", "SELECT COUNT(*) FROM servers;"];
    let out = caldb(&args, "");
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "2\n");
}

#[test]
fn a_failing_statement_gives_status_1_and_the_rest_still_runs() {
    let out = caldb(&[], "CREATE SERVER ls1;\nCREATE SERVER ls1;\nSELECT COUNT(*) FROM servers;\n");
    assert_eq!(status(&out), 1);
    assert!(stderr(&out).starts_with("error: line 2: "), "{}", stderr(&out));
    assert_eq!(stdout(&out), "1\n");
}

#[test]
fn a_database_that_cannot_be_opened_gives_status_2() {
    let out = caldb(&["/nonexistent-caldb-dir/sub/x.redb", "SELECT COUNT(*) FROM servers;"], "");
    assert_eq!(status(&out), 2);
    assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
}

#[test]
fn readonly_refuses_changes() {
    let dir = std::env::temp_dir().join(format!("caldb-cli-ro-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("ro.redb");
    let file = file.to_str().expect("utf-8 temp path");
    let out = caldb(&[file, "CREATE SERVER ls1;"], "");
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    let out = caldb(&["-readonly", file, "CREATE SERVER ls2;", "SELECT COUNT(*) FROM servers;"], "");
    assert_eq!(status(&out), 1);
    assert_eq!(stdout(&out), "1\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn echo_prints_each_script_line_with_its_comments_above_its_results() {
    let script = "-- a narrating comment\nCREATE SERVER ls1;\nSELECT name\n  FROM servers;\n-- the end\n";
    let out = caldb(&["-echo", "-header"], script);
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "-- a narrating comment\nCREATE SERVER ls1;\nSELECT name\n  FROM servers;\nname\nls1\n-- the end\n"
    );
    let quiet = caldb(&["-header"], script);
    assert_eq!(stdout(&quiet), "name\nls1\n", "without -echo only results are printed");
}

#[test]
fn a_script_may_start_with_a_byte_order_mark_and_hold_block_comments() {
    let script = "\u{feff}/* a header;\n   over two lines; */\nCREATE SERVER ls1; /* ; */ SELECT name FROM servers;\n";
    let out = caldb(&[], script);
    assert_eq!((status(&out), stderr(&out)), (0, String::new()));
    assert_eq!(stdout(&out), "ls1\n");
    let out = caldb(&[], "SELECT name FROM servers; /* never closed;\n");
    assert_eq!(status(&out), 1, "an unterminated comment is an error");
}

#[test]
fn revoke_licenses_where_matching_nothing_exits_0() {
    let out = caldb(&[], "CREATE SERVER ls1;\nREVOKE LICENSES WHERE computer = 'nobody';\n");
    assert_eq!((status(&out), stdout(&out), stderr(&out)), (0, String::new(), String::new()));
}

#[test]
fn batch_and_interactive_choose_the_front_end() {
    // -interactive on a pipe: the banner and prompts of the terminal front end.
    let out = caldb(&["-interactive"], "SELECT COUNT(*) FROM servers;\n");
    assert_eq!(status(&out), 0);
    assert!(stdout(&out).contains("Enter \".help\" for usage hints."), "{}", stdout(&out));
    assert!(stdout(&out).contains("| count(*) |"), "table mode: {}", stdout(&out));
    // -batch: a script, csv, whatever the input is.
    let out = caldb(&["-batch"], "SELECT COUNT(*) FROM servers;\n");
    assert_eq!(stdout(&out), "0\n");
}

#[test]
fn a_missing_init_file_is_bad_usage() {
    let out = caldb(&["-init", "/nonexistent/init.sql"], "");
    assert_eq!(status(&out), 2);
    assert!(stderr(&out).contains("cannot read the -init file '/nonexistent/init.sql'"), "{}", stderr(&out));
}

/// 9,000 devices d0000 ... d8999 (three chunks of a streamed SELECT), in a
/// script for an in-memory database, then `tail`.
fn many_devices_then(tail: &str) -> String {
    let mut script = String::from("BEGIN;\n");
    for i in 0..9000 {
        script.push_str(&format!("CREATE DEVICE d{i:04};\n"));
    }
    script + "COMMIT;\n" + tail
}

#[test]
fn a_long_result_printed_as_it_streams_names_its_columns_once_and_keeps_every_row() {
    let names: Vec<String> = (0..9000).rev().map(|i| format!("d{i:04}")).collect();
    let query = "SELECT name FROM devices ORDER BY name DESC;\n";
    let out = caldb(&["-csv", "-header"], &many_devices_then(query));
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("name\n{}\n", names.join("\n")));
    let out = caldb(&["-line"], &many_devices_then(query));
    let blocks: Vec<String> = names.iter().map(|n| format!("name = {n}\n")).collect();
    assert_eq!(stdout(&out), blocks.join("\n"));
}
