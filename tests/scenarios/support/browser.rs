//! A real headless Chromium (Debian's `chromium`): [`render`] loads a page, lets its scripts run
//! and returns the DOM, or writes a screenshot.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::prometheus::on_path;

fn chromium() -> PathBuf {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| on_path(name))
        .unwrap_or_else(|| {
            panic!("this test needs a real browser and none is on PATH; install it with: sudo apt-get install -y chromium (CI's .ci/run does)")
        })
}

/// Loads `url` in headless Chromium, lets the page's scripts run, returns the DOM (or, with
/// `screenshot`, writes a PNG there).
pub fn render(url: &str, screenshot: Option<&Path>) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=3000",
        "--window-size=1280,1100",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()));
    match screenshot {
        Some(path) => cmd.arg(format!("--screenshot={}", path.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd.arg(url).output().expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// [`render`] off the runtime's threads.
pub async fn render_async(url: String, screenshot: Option<PathBuf>) -> String {
    tokio::task::spawn_blocking(move || render(&url, screenshot.as_deref()))
        .await
        .unwrap()
}
