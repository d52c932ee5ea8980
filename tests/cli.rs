//! The command line as an operator uses it: `check-config` catches mistakes with clear
//! messages, `send` produces requests the running gateway accepts, and `migrate` prepares
//! a store.

mod common;

use common::*;
use std::process::Command;

fn hookgate(args: &[&str], config: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_committed_example_config_is_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["check-config", "--config", "examples/hookgate.toml"])
        .current_dir(root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("config ok: 3 source(s) [github, orders, stripe]"),
        "{stdout}"
    );
}

#[test]
fn check_config_lists_every_problem_and_never_prints_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        r#"
[store]
dedupe_window = "2h"
[sources.stripe]
provider = "stripe"
secrets = ["whsec_supersecretliteral"]
[sources.acme]
provider = "acme-pay"
secrets = ["env:HOOKGATE_TEST_DEFINITELY_UNSET"]
"#,
    )
    .unwrap();
    let (code, stdout, stderr) = hookgate(&["check-config"], &cfg);
    assert_ne!(code, 0);
    let all = format!("{stdout}{stderr}");
    assert!(all.contains("dedupe_window"), "{all}");
    assert!(all.contains("unknown provider `acme-pay`"), "{all}");
    assert!(all.contains("must be references"), "{all}");
    assert!(!all.contains("supersecretliteral"), "secret leaked: {all}");
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let (code, _, stderr) = hookgate(
        &["check-config"],
        std::path::Path::new("/nonexistent/hookgate.toml"),
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("does not exist"), "{stderr}");
}

#[tokio::test]
async fn send_is_accepted_then_duplicate_and_tamper_is_rejected() {
    let app = spawn_app().await;
    let cfg = app.dir.path().join("hookgate.toml");
    std::fs::write(
        &cfg,
        base_config(app.dir.path(), &sqlite_url(app.dir.path()), "", ""),
    )
    .unwrap();
    let cfg2 = cfg.clone();
    let base = app.base.clone();
    let run = move |extra: &'static [&'static str]| {
        let cfg = cfg2.clone();
        let base = base.clone();
        tokio::task::spawn_blocking(move || {
            let mut args = vec![
                "send",
                "stripe",
                "--to",
                base.as_str(),
                "--event-id",
                "evt_cli",
            ];
            args.extend_from_slice(extra);
            hookgate(&args, &cfg)
        })
    };
    let (code, out, _) = run(&[]).await.unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("200 OK") && out.contains("\"status\":\"accepted\""),
        "{out}"
    );
    let (code, out, _) = run(&[]).await.unwrap();
    assert_eq!(code, 0);
    assert!(out.contains("\"status\":\"duplicate\""), "{out}");
    let (code, out, _) = run(&["--tamper"]).await.unwrap();
    assert_eq!(code, 1);
    assert!(
        out.contains("401") && out.contains("invalid_signature"),
        "{out}"
    );
    let (code, out, _) = run(&["--age", "1h"]).await.unwrap();
    assert_eq!(code, 1);
    assert!(out.contains("stale_timestamp"), "{out}");
}

#[test]
fn migrate_creates_the_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    let db = dir.path().join("sub/dir/h.db");
    std::fs::write(
        &cfg,
        format!("[store]\nurl = \"sqlite://{}\"\n", db.display()),
    )
    .unwrap();
    let (code, stdout, stderr) = hookgate(&["migrate"], &cfg);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(db.exists());
}

#[test]
fn environment_variables_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[store]\nurl = \"sqlite://from-file.db\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["check-config", "--config"])
        .arg(&cfg)
        .env(
            "HOOKGATE_STORE__URL",
            "postgres://user:hunter2@db.example/hookgate",
        )
        .env("HOOKGATE_STORE__DEDUPE_WINDOW", "2h")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "the 2h window from the environment must be refused: {all}"
    );
    assert!(all.contains("dedupe_window is 2h"), "{all}");

    let out = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["check-config", "--config"])
        .arg(&cfg)
        .env(
            "HOOKGATE_STORE__URL",
            "postgres://user:hunter2@db.example/hookgate",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("postgres://user:***@db.example/hookgate"),
        "the env URL wins, password redacted: {stdout}"
    );
    assert!(!stdout.contains("hunter2"));
}
