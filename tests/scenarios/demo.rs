//! User story: "I try `shadowmesh demo`": one command, the whole seed story, exit 0.

use crate::support::binary;

#[test]
fn the_demo_runs_the_seed_story_end_to_end() {
    let child = binary::command()
        .args(["demo", "--duration", "4"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let config_dir = std::env::temp_dir().join(format!("shadowmesh-demo-{}", child.id()));
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in 1..=6 {
        assert!(
            stdout.contains(&format!("[{step}/6]")),
            "step {step} missing:\n{stdout}"
        );
    }
    let line = |needle: &str| {
        stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?}:\n{stdout}"))
    };
    let mirrored = line("mirrored copies");
    let counts: Vec<u64> = mirrored
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(counts[0], 0, "v3 answered no user: {mirrored}");
    assert!(counts[2] > 0, "v3 received mirrored copies: {mirrored}");
    assert!(
        line("verdict").contains("REJECT") || line("verdict").contains("HOLD"),
        "{stdout}"
    );
    assert!(line("after the reset").contains("v3 received 0 requests after the reset"));
    assert!(stdout.contains("ok: v3 receives nothing more"));
    assert!(
        stdout.contains("shadowmesh.io/compare-ignore"),
        "the YAML is shown"
    );
    assert!(
        !config_dir.exists(),
        "the demo leaves nothing behind: {} still exists",
        config_dir.display()
    );
    assert!(stdout.contains("removed"), "{stdout}");
}
