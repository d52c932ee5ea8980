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

fn hookgate_no_config(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(args)
        .env_remove("HOOKGATE_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn providers_lists_the_built_ins_and_prints_snippets_without_a_config() {
    let (code, out, err) = hookgate_no_config(&["providers"]);
    assert_eq!(code, 0, "{err}");
    let count = hookgate_providers::known_providers().len();
    assert!(
        out.contains(&format!("{count} built-in providers")),
        "{out}"
    );
    assert!(
        out.contains("twitch") && out.contains("dedupe window >= 7d"),
        "{out}"
    );

    let (code, out, _) = hookgate_no_config(&["providers", "meta"]);
    assert_eq!(code, 0);
    assert!(out.contains("[sources.meta]\nprovider = \"meta\""), "{out}");
    assert!(
        out.contains("verify_token = \"env:META_VERIFY_TOKEN\""),
        "{out}"
    );

    let (code, _, err) = hookgate_no_config(&["providers", "nope"]);
    assert_ne!(code, 0);
    assert!(err.contains("no built-in provider `nope`"), "{err}");

    let (code, out, _) = hookgate_no_config(&["providers", "--markdown"]);
    assert_eq!(code, 0);
    assert_eq!(out, hookgate_providers::catalogue::markdown_table());
}

#[tokio::test]
async fn send_signs_events_and_performs_handshakes_for_presets() {
    let dir_extra = tempfile::tempdir().unwrap();
    let secret = |name: &str, value: &str| {
        let path = dir_extra.path().join(name);
        std::fs::write(&path, value).unwrap();
        format!("file:{}", path.display())
    };
    let mut extra = String::new();
    for source in [
        "meta",
        "twitch",
        "trello",
        "dropbox",
        "x",
        "box",
        "razorpay",
        "line",
        "smartsheet",
        "woocommerce",
        "zendesk",
        "slack",
        "openai",
    ] {
        let value = if source == "openai" {
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        } else {
            "cli-secret-value"
        };
        extra.push_str(&format!(
            "\n[sources.{source}]\nprovider = \"{source}\"\nsecrets = [\"{}\"]\n",
            secret(source, value)
        ));
        if source == "meta" {
            let token = secret("token", "cli-verify-token");
            extra.push_str(&format!("verify_token = \"{token}\"\n"));
        }
    }
    let app = spawn_app_with("", &extra).await;
    let cfg = app.dir.path().join("hookgate.toml");
    std::fs::write(
        &cfg,
        base_config(app.dir.path(), &sqlite_url(app.dir.path()), "", &extra),
    )
    .unwrap();
    let base = app.base.clone();
    let run = |args: Vec<String>| {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            hookgate(&args, &cfg)
        })
    };
    for source in [
        "meta",
        "twitch",
        "trello",
        "dropbox",
        "x",
        "line",
        "smartsheet",
        "woocommerce",
        "slack",
    ] {
        let args = vec![
            "send".to_string(),
            source.to_string(),
            "--to".into(),
            base.clone(),
            "--handshake".into(),
        ];
        let (code, out, err) = run(args).await.unwrap();
        assert_eq!(code, 0, "{source}: {out}{err}");
        assert!(out.contains("handshake answered as"), "{source}: {out}");
    }
    for source in ["twitch", "box", "razorpay", "zendesk", "openai", "meta"] {
        let args = vec![
            "send".to_string(),
            source.to_string(),
            "--to".into(),
            base.clone(),
            "--event-id".into(),
            format!("evt_cli_{source}"),
        ];
        let (code, out, err) = run(args.clone()).await.unwrap();
        assert_eq!(code, 0, "{source}: {out}{err}");
        assert!(out.contains("\"status\":\"accepted\""), "{source}: {out}");
        let mut tampered = args;
        tampered.push("--tamper".into());
        let (code, out, _) = run(tampered).await.unwrap();
        assert_eq!(code, 1, "{source}: {out}");
        assert!(out.contains("invalid_signature"), "{source}: {out}");
    }
    // Handshakes stored nothing: only the six events above are in the inbox.
    assert_eq!(app.server.store().count_events().await.unwrap(), 6);
    let (code, out, _) = run(vec![
        "send".into(),
        "razorpay".into(),
        "--to".into(),
        base.clone(),
        "--handshake".into(),
    ])
    .await
    .unwrap();
    assert_ne!(code, 0, "{out}");
}

#[test]
fn check_config_warns_when_a_presets_retry_horizon_exceeds_the_dedupe_window() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("docusign");
    std::fs::write(&secret, "docusign-key").unwrap();
    let meta = dir.path().join("meta");
    std::fs::write(&meta, "meta-app-secret").unwrap();
    let cfg = dir.path().join("hookgate.toml");
    std::fs::write(
        &cfg,
        format!(
            "[store]\nurl = \"sqlite://{}\"\ndedupe_window = \"7d\"\n\n[sources.docusign]\nprovider = \"docusign\"\nsecrets = [\"file:{}\"]\n\n[sources.meta]\nprovider = \"meta\"\nsecrets = [\"file:{}\"]\n",
            dir.path().join("db").display(),
            secret.display(),
            meta.display()
        ),
    )
    .unwrap();
    let (code, out, err) = hookgate(&["check-config"], &cfg);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("sources.docusign: store.dedupe_window (7days) is shorter than docusign's retry horizon (16days)"),
        "{out}"
    );
    assert!(
        out.contains("sources.meta: meta subscribes with a hub.verify_token, but no verify_token is configured"),
        "{out}"
    );
    // WhatsApp redelivers for up to 7 days: Meta's horizon (8 d with margin) exceeds the default.
    assert!(
        out.contains("shorter than meta's retry horizon (8days)"),
        "{out}"
    );
}

#[tokio::test]
async fn send_performs_the_new_handshakes_and_handshake_secret_resets_asana() {
    let dir_extra = tempfile::tempdir().unwrap();
    let secret = |name: &str, value: &str| {
        let path = dir_extra.path().join(name);
        std::fs::write(&path, value).unwrap();
        format!("file:{}", path.display())
    };
    let mut extra = String::new();
    for (source, value) in [
        ("asana", "cli-asana-secret"),
        ("okta", "cli-okta-secret"),
        ("msgraph", "cli-graph-state"),
        ("azure-eventgrid", "cli-grid-key"),
        ("strava", "120475"),
    ] {
        extra.push_str(&format!(
            "\n[sources.{}]\nprovider = \"{source}\"\nsecrets = [\"{}\"]\n",
            source.replace('-', "_"),
            secret(source, value)
        ));
        if source == "strava" {
            let token = secret("strava_token", "cli-strava-token");
            extra.push_str(&format!("verify_token = \"{token}\"\n"));
        }
    }
    let app = spawn_app_with("", &extra).await;
    let cfg = app.dir.path().join("hookgate.toml");
    std::fs::write(
        &cfg,
        base_config(app.dir.path(), &sqlite_url(app.dir.path()), "", &extra),
    )
    .unwrap();
    let base = app.base.clone();
    let run = |args: Vec<String>| {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            hookgate(&args, &cfg)
        })
    };
    let send = |source: &str, more: &[&str]| {
        let mut args = vec![
            "send".to_string(),
            source.to_string(),
            "--to".into(),
            base.clone(),
        ];
        args.extend(more.iter().map(|s| s.to_string()));
        args
    };
    for source in ["asana", "okta", "msgraph", "azure_eventgrid", "strava"] {
        let (code, out, err) = run(send(source, &["--handshake"])).await.unwrap();
        assert_eq!(code, 0, "{source}: {out}{err}");
        assert!(out.contains("handshake answered as"), "{source}: {out}");
    }
    assert_eq!(
        app.server.store().count_events().await.unwrap(),
        0,
        "handshakes store nothing"
    );
    for source in ["asana", "okta", "msgraph", "azure_eventgrid", "strava"] {
        let (code, out, err) = run(send(source, &["--event-id", "evt_cli_1"]))
            .await
            .unwrap();
        assert_eq!(code, 0, "{source}: {out}{err}");
        assert!(out.contains("\"status\":\"accepted\""), "{source}: {out}");
    }
    // Asana's body is covered by its MAC: a flipped byte is refused.
    let (code, out, _) = run(send("asana", &["--event-id", "evt_cli_2", "--tamper"]))
        .await
        .unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("invalid_signature"), "{out}");

    // The handed-over secret is in the store; show never prints it, reset forgets it.
    let (code, out, err) = run(vec![
        "handshake-secret".into(),
        "show".into(),
        "asana".into(),
    ])
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("a handed-over secret is stored"), "{out}");
    assert!(!out.contains("cli-asana-secret"), "{out}");
    let (code, out, _) = run(vec![
        "handshake-secret".into(),
        "reset".into(),
        "asana".into(),
    ])
    .await
    .unwrap();
    assert_eq!(code, 0);
    assert!(out.contains("forgotten"), "{out}");
    assert_eq!(
        app.server
            .store()
            .handed_over_secret("asana")
            .await
            .unwrap(),
        None
    );
    let (code, _, err) = run(vec![
        "handshake-secret".into(),
        "reset".into(),
        "okta".into(),
    ])
    .await
    .unwrap();
    assert_ne!(code, 0, "okta hands nothing over: {err}");
}

#[path = "common/receiver.rs"]
mod receiver;

/// `hookgate deliveries` against a running gateway: a dead letter is listed, shown with its
/// attempt, retried by id once the handler recovers, and dead ones are retried by filter.
#[tokio::test]
async fn deliveries_are_listed_shown_and_retried_through_the_admin_api() {
    let sink = receiver::Receiver::start().await;
    sink.set_default(500);
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("admin_token");
    std::fs::write(&token, "cli-admin-token-xyz").unwrap();
    let mut extra = format!(
        "{}\n[admin]\ntoken = \"file:{}\"\n",
        receiver::FAST_DISPATCH,
        token.display()
    );
    extra.push_str(&receiver::handler_section(
        dir.path(),
        "flaky",
        &sink.url(),
        "[\"stripe\"]",
        "max_attempts = 1",
    ));
    let url = sqlite_url(dir.path());
    let cfg = dir.path().join("hookgate.toml");
    std::fs::write(&cfg, base_config(dir.path(), &url, "", &extra)).unwrap();
    let app = spawn_app_on(dir, &url, "", &extra).await;
    for id in ["evt_cli_d1", "evt_cli_d2"] {
        let body = format!(r#"{{"id":"{id}","object":"event","type":"invoice.paid"}}"#);
        json_with_status(app.post_stripe(&body).await, 200).await;
    }
    let base = app.base.clone();
    let run = |args: Vec<String>| {
        let cfg = cfg.clone();
        let base = base.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut all: Vec<&str> = vec!["deliveries"];
                all.extend(args.iter().map(String::as_str));
                all.extend(["--url", base.as_str()]);
                hookgate(&all, &cfg)
            })
            .await
            .unwrap()
        }
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    // Both go dead (one attempt each).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let listed = loop {
        let (code, out, err) = run(args(&["list", "--state", "dead", "--json"])).await;
        assert_eq!(code, 0, "{out}{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        if v["deliveries"].as_array().unwrap().len() == 2 {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "{out}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let d1 = listed["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["event_id"] == "evt_cli_d1")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The table a person reads.
    let (code, out, err) = run(args(&["list", "--handler", "flaky"])).await;
    assert_eq!(code, 0, "{err}");
    let header = out.lines().next().unwrap();
    for col in [
        "ID", "HANDLER", "STATE", "ATTEMPTS", "SOURCE", "EVENT ID", "LAST",
    ] {
        assert!(header.contains(col), "{out}");
    }
    let row = out.lines().find(|l| l.contains("evt_cli_d1")).expect(&out);
    assert!(
        row.contains(&d1) && row.contains("dead") && row.contains("500"),
        "{out}"
    );
    assert!(out.contains("2 shown"), "{out}");
    let (_, out, _) = run(args(&["show", &d1])).await;
    assert!(out.contains("state         dead"), "{out}");
    let attempt = out
        .lines()
        .skip_while(|l| !l.starts_with("ATTEMPT"))
        .nth(1)
        .expect(&out);
    assert!(attempt.contains("500") && attempt.contains("dead"), "{out}");
    assert!(!out.contains("cli-admin-token-xyz"));

    // The handler recovers: retry one by id, then the rest by filter.
    sink.set_default(200);
    let (code, out, err) = run(args(&["retry", &d1])).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("delivery {d1} queued for retry")),
        "{out}"
    );
    let got = sink.wait_for(3, std::time::Duration::from_secs(5)).await;
    assert_eq!(got[2].key, "stripe:evt_cli_d1");
    let (code, out, err) = run(args(&["retry", "--dead", "--handler", "flaky"])).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "1 dead deliveries queued for retry");
    let got = sink.wait_for(4, std::time::Duration::from_secs(5)).await;
    assert_eq!(got[3].key, "stripe:evt_cli_d2");

    // Errors carry the API's code; the token never shows.
    let (code, _, err) = run(args(&["show", "0190a7b4-0000-7000-8000-000000000000"])).await;
    assert_ne!(code, 0);
    assert!(err.contains("404 not_found"), "{err}");
    let (code, _, err) = run(args(&["list", "--handler", "nope"])).await;
    assert_ne!(code, 0);
    assert!(err.contains("404 unknown_handler"), "{err}");
    let (code, _, err) = run(args(&["list", "--limit", "501"])).await;
    assert_ne!(code, 0);
    assert!(err.contains("400 bad_request"), "{err}");
    assert!(!err.contains("cli-admin-token-xyz"));
    let (code, _, err) = run(args(&["list", "--token", "wrong"])).await;
    assert_ne!(code, 0);
    assert!(err.contains("401 unauthorized"), "{err}");
}

/// The binary applies its allocator settings (docs/performance-history.md: without them peak RSS
/// roughly doubles), and an operator's own value wins. mimalloc prints its options at start
/// when `MIMALLOC_VERBOSE` is set; the first start (before the binary re-runs itself with the
/// settings) prints the defaults, the second the values in force.
#[test]
fn the_allocator_settings_are_applied_and_an_operators_own_win() {
    let run = |extra: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookgate"));
        cmd.arg("--version")
            .env("MIMALLOC_VERBOSE", "1")
            .env_remove("MIMALLOC_PURGE_DELAY")
            .env_remove("MIMALLOC_ARENA_EAGER_COMMIT")
            .env_remove("HOOKGATE_ALLOCATOR_ENV");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("hookgate "));
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        let last = |name: &str| {
            err.lines()
                .rfind(|l| l.contains(&format!("option '{name}':")))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        };
        (last("purge_delay"), last("arena_eager_commit"))
    };
    assert_eq!(run(&[]), (Some("50".into()), Some("0".into())));
    assert_eq!(
        run(&[("MIMALLOC_PURGE_DELAY", "250")]),
        (Some("250".into()), Some("0".into()))
    );
}
